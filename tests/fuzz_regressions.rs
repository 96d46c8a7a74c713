//! Inputs that crashed a fuzz target (fuzz/, FUZZING.md), replayed as ordinary tests through
//! the same public functions, so that the fixes stay fixed without a nightly toolchain. Each
//! test holds the crashing bytes as the fuzzer saved them, a minimal form, and the sensible
//! result now expected.

use doctor::probe::docker::{parse_cpu_reading, parse_inside_stats};
use doctor::{redact, urls};

/// `fuzz/artifacts/redact/crash-35dc09e10061b10caaac8024ebdf1938a0cae211`: invalid UTF-8 (read
/// as U+FFFD, three bytes) right before `redis://`. `redact::scrub` looked for the start of the
/// scheme one byte past the last non-scheme character, inside that character: a panic on
/// slicing `str` (src/redact.rs, `url_passwords`).
#[test]
fn scrub_survives_a_multibyte_character_before_a_url_scheme() {
    let mut crash = vec![0xffu8; 63];
    crash.extend_from_slice(b"redis://secre\x7f\x00\x00\x00dis:6379 set-cookie: sid=1; Path=/; HttpOnly");
    let text = String::from_utf8_lossy(&crash);
    let out = redact::scrub(&text);
    assert!(out.contains("set-cookie: sid=***"), "{out}");

    // Minimal forms: any non-ASCII character just before "scheme://".
    assert_eq!(redact::scrub("é://x"), "é://x");
    assert_eq!(redact::url("日本postgresql://app:hunter22@db/authdb"), "日本postgresql://app:***@db/authdb");
    // The scheme is still found after it, so a lone Redis user-info is still masked.
    assert_eq!(redact::scrub("ürediss://hunter22@cache:6380"), "ürediss://***@cache:6380");
    assert_eq!(redact::scrub("→redis://:hunter22@h"), "→redis://:***@h");
}

/// `fuzz/artifacts/urls/crash-7d00ce1fb2826a4522099df86b246dc115f543b7`: the same panic reached
/// through `redact::url` on a would-be connection URL (a 0x95 byte before the second `://`).
#[test]
fn url_masking_survives_the_urls_crash() {
    let crash: &[u8] = b"ride{://is:63\x0e\x0079?paSsword\x00\x00\x00p=ab\x95://\rredispass@redis:";
    let text = String::from_utf8_lossy(crash);
    let masked = redact::url(&text);
    assert!(masked.starts_with("ride{://is:63"), "{masked:?}");
    // The parsers themselves refuse it with a reason, as they did before.
    assert!(urls::parse_postgres(&text).is_err());
    assert!(urls::parse_redis(&text).is_err());
}

/// `fuzz/artifacts/docker_parsers/crash-d217a3bfad54dce82a153fc9ce0cd121be0b11e6`: a `/proc/stat`
/// `cpu` line whose ticks, times 10 000 000 ns, overflow u64 (a panic with overflow checks, a
/// wrapped and wrong CPU share without); likewise `usage_usec` times 1000 and the sum of the
/// seven tick columns (src/probe/docker.rs, `parse_cpu_reading`). Such a counter is no reading.
#[test]
fn cpu_counters_that_overflow_are_no_reading() {
    // The crashing line, as the fuzzer left it, with the cgroup counter before it.
    let first = "1177333793\n52428800\n9223372036854771712\ncpu  502268 0 133042 496851 6800000000000000 0 0\n";
    assert_eq!(parse_cpu_reading(first), None);
    let stats = parse_inside_stats(first, Some((2_000_000_000, 20_000_000_000)), 150).expect("memory is still read");
    assert_eq!(stats.cpu_percent, None);
    assert_eq!(stats.mem_used, 52_428_800);

    let max = u64::MAX;
    assert_eq!(parse_cpu_reading(&format!("usage_usec {max}\ncpu  1 1 1 1 1 1 1\n")), None);
    assert_eq!(parse_cpu_reading(&format!("5\ncpu  {max} 1 0 0 0 0 0\n")), None);
    assert_eq!(parse_cpu_reading(&format!("5\ncpu  {} 0 0 0 0 0 0\n", max / 10_000_000 + 1)), None);

    // Readings in range are unchanged.
    assert_eq!(parse_cpu_reading("usage_usec 5\ncpu  1 1 1 1 1 1 1 1\n"), Some((5000, 70_000_000)));
    let top = max / 10_000_000;
    assert_eq!(parse_cpu_reading(&format!("5\ncpu  {top} 0 0 0 0 0 0\n")), Some((5, top * 10_000_000)));
}
