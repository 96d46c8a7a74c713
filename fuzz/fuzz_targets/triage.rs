//! Log lines read from containers (`doctor triage`, the logs step of every run), matched
//! against the built-in catalogue's error texts: `triage::scan`, `triage::split_timestamp`,
//! `Matcher::match_line`, `logline::read`, `explain::tokens` and `clock::parse_rfc3339` (Docker's timestamp
//! prefix). `explain::search` has its own target (`explain`): it rebuilds its index on every
//! call, some 30 ms under the sanitizer, and would starve this one.
#![no_main]

use doctor::{catalogue, clock, explain, logline, triage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);

    // The whole text as a log.
    let lines = s.lines().count() as u64;
    let hits = triage::scan(s.lines());
    assert!(hits.iter().map(|h| h.count).sum::<u64>() <= lines);
    for h in &hits {
        assert!(catalogue::get(&h.code).is_some(), "a hit names a known problem");
        assert!(h.sample.chars().count() <= 300);
    }

    // Line by line, as the matcher and the timestamp splitter see it.
    let m = triage::matcher().expect("the matcher builds");
    for line in s.lines().take(64) {
        let (ts, message) = triage::split_timestamp(line);
        if let Some(ts) = ts {
            assert!(clock::parse_rfc3339(ts).is_some());
        }
        let _ = clock::parse_rfc3339(line);
        // The line read in its format (JSON record, request line, PostgreSQL prefix).
        let read = logline::read(message);
        let _ = logline::duration_ms(&read.text);
        if let Some((code, _sig, score)) = m.match_line(line) {
            assert!(catalogue::get(code).is_some());
            assert!(score.is_finite() && score > 0.0);
        }
    }
    let _ = explain::tokens(&s);
});
