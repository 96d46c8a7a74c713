//! What doctor reads inside containers and from their HTTP answers: `/proc/net/tcp(6)` through
//! `probe::docker::parse_proc_net_tcp`, cgroup and `/proc/stat` text through
//! `parse_cpu_reading` and `parse_inside_stats`, and `Set-Cookie` values through
//! `probe::http::parse_set_cookie`. The input is `FIRST_LOOK\0LATER_CPU_READING`.
#![no_main]

use doctor::probe::docker::{parse_cpu_reading, parse_inside_stats, parse_proc_net_tcp};
use doctor::probe::http::parse_set_cookie;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let (first, later_text) = s.split_once('\0').unwrap_or((&s, ""));

    let listeners = parse_proc_net_tcp(first);
    for (i, a) in listeners.iter().enumerate() {
        assert!(a.addr.parse::<std::net::IpAddr>().is_ok(), "{:?}", a.addr);
        assert!(!listeners[..i].iter().any(|b| b.addr == a.addr && b.port == a.port), "listed twice");
    }

    let later = parse_cpu_reading(later_text);
    let _ = parse_cpu_reading(first);
    if let Some(st) = parse_inside_stats(first, later, 150) {
        assert_eq!(st.interval_ms, 150);
        if let Some(p) = st.cpu_percent {
            assert!(p.is_finite() && p >= 0.0);
        }
    }
    let _ = parse_inside_stats(first, None, 0);

    for line in s.lines().take(32) {
        let (c, (name, _value)) = parse_set_cookie(line);
        assert_eq!(c.name, name);
    }
});
