//! Inputs that crashed a fuzz target (fuzz/, FUZZING.md), replayed as ordinary tests through
//! the same public functions, so that the fixes stay fixed without a nightly toolchain. Each
//! test holds the crashing bytes as the fuzzer saved them, a minimal form, and the sensible
//! result now expected.

use doctor::probe::docker::{parse_cpu_reading, parse_inside_stats};
use doctor::probe::inside;
use doctor::{clock, prometheus, redact, triage, urls};

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
/// seven tick columns (src/probe/docker/stats.rs, `parse_cpu_reading`). Such a counter is no reading.
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

/// `fuzz/artifacts/prometheus/crash-aaca10684d4f1e91227362e2bd6f4bd2ee4c6677` (1721 bytes, here
/// minimised to 24 lines): histogram buckets with `le="NaN"` among real bounds. `quantiles`
/// sorted the bounds with `partial_cmp(..).unwrap_or(Equal)`, which is no total order once a
/// NaN is in: the standard library's sort detects that and panics, in release builds too
/// (src/prometheus.rs, `quantiles`). Any service's `/metrics` could stop doctor this way.
#[test]
fn histogram_buckets_bounded_by_nan_are_skipped() {
    let les = [
        "0.25", "2.5", "NaN", "+Inf", "0.5", "+Inf", "2.5", "1", "+Inf", "0.1", "0.1", "1", "1", "NaN", "1", "0.25",
        "0.1", "2.5", "0.1", "0.1", "NaN", "NaN", "2.5", "+Inf",
    ];
    let text: String = les.iter().enumerate().map(|(i, le)| format!("h_bucket{{le=\"{le}\"}} {i}\n")).collect();
    let samples = prometheus::parse(&text);
    assert_eq!(samples.len(), 24);
    let q = prometheus::quantiles(&samples, "h", "handler", 0.5);
    // The NaN buckets are left out; the rest still makes a quantile, within the bounds given.
    let v = q[""];
    assert!((0.0..=2.5).contains(&v), "{v}");

    // A histogram whose only bound is NaN has no quantile.
    let only_nan = prometheus::parse("h_bucket{le=\"NaN\"} 5\n");
    assert!(prometheus::quantiles(&only_nan, "h", "handler", 0.5).is_empty());
}

/// `fuzz/artifacts/triage/crash-70ae8c7e8b4a9154f416c5b8f996ca60d57041da`: a Docker log line
/// whose timestamp ends in `+09ڃ0`, six bytes like `+09:00` but with a two-byte character where
/// the `:` goes. `parse_rfc3339` sliced `o[3..4]` inside that character: a panic on every log
/// line shaped so, through `triage::scan` (src/clock.rs, `parse_rfc3339`).
#[test]
fn a_timestamp_offset_with_a_multibyte_character_is_no_timestamp() {
    let line = "2026-11-28T12:01:04+09ڃ0 2026-11-28 12:01:04.000 UTC [347] FATAL:  sorry, too many clients already";
    assert_eq!(clock::parse_rfc3339("2026-11-28T12:01:04+09ڃ0"), None);
    assert_eq!(triage::split_timestamp(line), (None, line));
    let hits = triage::scan([line]);
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].code.as_str(), hits[0].count, hits[0].first_at.as_deref()), ("PG002", 1, None));

    // Offsets written correctly still parse, and mean what they say.
    assert_eq!(clock::parse_rfc3339("2026-11-28T12:00:00+09:00"), clock::parse_rfc3339("2026-11-28T03:00:00Z"));
    assert!(clock::parse_rfc3339("2026-11-28T12:00:00+0é:0").is_none());
}

/// `fuzz/artifacts/inside/crash-f45d1f9af96327e839da640c2a23e98377e34a05`: in the `ls -lna`
/// section of what auth-service's read-only script printed, a line whose first word starts with
/// a multi-byte character. `parse_listing` sliced that word's first *byte* to compare it with the
/// file-type letters: a panic (src/probe/inside.rs, `parse_listing`).
#[test]
fn a_listing_line_starting_with_a_multibyte_character_is_not_a_file() {
    let text = "@uid\n1000\n@ls\né---------- 1 0 0 5 Nov 28 12:00 x\n\
                -rw-r--r-- 1 1000 1000 451 Nov 28 12:00 public_key.pem\n@end\n";
    let f = inside::parse(text);
    let keys = f.keys.expect("an ls section").expect("the real entry is read");
    assert_eq!(keys.len(), 1);
    assert_eq!((keys[0].name.as_str(), keys[0].uid, keys[0].size), ("public_key.pem", 1000, 451));

    // Only such lines: the listing is an error that quotes the first of them.
    let f = inside::parse("@ls\n\u{FFFD}rw-r--r-- 1 0 0 5 Nov 28 12:00 k\n@end\n");
    assert_eq!(f.keys, Some(Err("\u{FFFD}rw-r--r-- 1 0 0 5 Nov 28 12:00 k".to_string())));
}

/// Two databases whose key counts add up past u64: the totals saturate instead of overflowing.
#[test]
fn keyspace_totals_past_u64_saturate() {
    let info = doctor::probe::redis::parse_info(
        "# Keyspace\r\ndb0:keys=18446744073709551615,expires=18446744073709551615,avg_ttl=0\r\n\
         db1:keys=5,expires=5,avg_ttl=0\r\n",
    );
    assert_eq!(info.total_keys(), u64::MAX);
    assert_eq!(info.total_expires(), u64::MAX);
}
