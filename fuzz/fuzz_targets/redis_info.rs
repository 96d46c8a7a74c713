//! Redis `INFO` text as a server (or something pretending to be one) sends it:
//! `probe::redis::parse_info` and the totals the diagnosis computes from it.
#![no_main]

use doctor::probe::redis::parse_info;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let info = parse_info(&s);
    // Malformed figures are skipped, never kept as NaN or infinity.
    assert!(info.fragmentation_ratio.is_finite());
    for name in info.keyspace.keys() {
        let n = name.strip_prefix("db").expect("keyspace entries are dbN");
        assert!(!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    }
    // Totals over every database, as RD002 reads them.
    let _ = info.total_keys();
    let _ = info.total_expires();
});
