//! Configuration files an operator writes: `doctor.toml` through `config::Settings::load` (the
//! file written to a temporary directory, as the CLI reads it) and `.env` through
//! `envfile::parse` and `envfile::parse_expanded` (`${VAR}` interpolation, with a lookup that
//! answers a planted secret for some names); plus the value parsers they use (`parse_duration`,
//! `Format::parse`, `Thresholds::set`). The input is `DOCTOR_TOML\0DOTENV`. Invariants: errors
//! and notes name the file; a looked-up value never appears in a note; the variables found do
//! not depend on the lookup; expansion stays within its bounds.
#![no_main]

use doctor::config::{self, Format, Overrides, Settings, Thresholds};
use doctor::envfile;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const LOOKED_UP: &str = "Fz9LookedUpSecretQx";

fn dir() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory")).path()
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let (toml_text, env_text) = s.split_once('\0').unwrap_or((&s, ""));

    // .env
    let plain = envfile::parse("fuzz.env", env_text);
    match &plain {
        Ok(vars) => {
            for k in vars.keys() {
                assert!(!k.is_empty());
            }
        }
        Err(e) => assert!(e.starts_with("fuzz.env:"), "{e}"),
    }
    // The same text interpolated with an outside lookup: names starting with S hold a secret.
    let lookup = |k: &str| k.starts_with('S').then(|| LOOKED_UP.to_string());
    match (envfile::parse_expanded("fuzz.env", env_text, &lookup), &plain) {
        (Ok((vars, notes)), Ok(plain)) => {
            assert!(vars.keys().eq(plain.keys()), "the lookup changed which variables there are");
            assert!(notes.len() <= envfile::MAX_NOTES + 1);
            for n in &notes {
                assert!(n.starts_with("fuzz.env:"), "{n}");
                if !env_text.contains(LOOKED_UP) {
                    assert!(!n.contains(LOOKED_UP), "a note holds a value: {n}");
                }
            }
            let grown: usize = vars.values().map(String::len).sum::<usize>().saturating_sub(env_text.len());
            assert!(grown <= envfile::MAX_FILE_EXPANSION, "expansion past its bound");
        }
        (Err(e), Err(p)) => assert_eq!(&e, p),
        (a, b) => panic!("parse and parse_expanded disagree: {:?} / {:?}", a.is_ok(), b.is_ok()),
    }

    // doctor.toml, loaded as the CLI loads it (no .env beside it, an empty environment).
    let path = dir().join("doctor.toml");
    std::fs::write(&path, toml_text.as_bytes()).expect("write doctor.toml");
    let o = Overrides { config: Some(path), ..Default::default() };
    if let Ok(settings) = Settings::load(&o, &BTreeMap::new(), dir()) {
        assert!(!settings.timeout.is_zero());
        let t = &settings.thresholds;
        for r in [t.connections_warn, t.redis_memory_warn, t.redis_hit_rate_warn] {
            assert!((0.0..=1.0).contains(&r));
        }
        let _ = config::format_duration(t.long_query);
        let _ = config::format_duration(t.response_time_warn);
    }

    // The same text through the small value parsers, line by line.
    for line in s.lines().take(16) {
        let _ = config::parse_duration(line);
        let _ = Format::parse(line);
        let (name, value) = line.split_once('=').unwrap_or(("long_query", line));
        let mut t = Thresholds::default();
        let _ = t.set(name, value);
        let _ = t.set("connections_warn", value);
        if let Ok(d) = config::parse_duration(line) {
            let _ = config::format_duration(d);
        }
    }
});
