//! Prometheus text exposition as scraped from a service's `/metrics`: `prometheus::parse`,
//! then `total` and `quantiles` over what was parsed (histograms from hostile buckets); and the
//! same bytes as an answer of a Prometheus server's query API (`prometheus::query_vector`).
#![no_main]

use doctor::prometheus;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let samples = prometheus::parse(&s);
    for x in &samples {
        assert!(!x.name.is_empty());
        assert!(x.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'));
    }
    // The names doctor asks for, plus whatever histograms the text brought.
    let _ = prometheus::total(&samples, "process_resident_memory_bytes");
    let _ = prometheus::quantiles(&samples, "http_request_duration_seconds", "handler", 0.95);
    let mut bases: Vec<&str> = samples.iter().filter_map(|x| x.name.strip_suffix("_bucket")).collect();
    bases.sort_unstable();
    bases.dedup();
    for base in bases.into_iter().take(4) {
        let _ = prometheus::total(&samples, base);
        for q in [0.0, 0.5, 0.99, 1.0] {
            for by in ["handler", "le", "method"] {
                let _ = prometheus::quantiles(&samples, base, by, q);
            }
        }
    }
    for label in ["job", "handler"] {
        if let Ok(v) = prometheus::query_vector(&s, label) {
            assert!(v.values().all(|x| x.is_finite()), "NaN and infinities are left out");
        }
    }
});
