//! Connection URLs from the environment, `.env`, `doctor.toml` and containers' `*_URL`
//! variables: `urls::parse_postgres`, `urls::parse_redis`, `urls::parse_endpoint`,
//! `urls::bare_host`, `config::percent_decode` and `redact::url` on the same text.
#![no_main]

use doctor::{config, redact, urls};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);

    if let Ok(u) = urls::parse_postgres(&s) {
        // What the parser promises for an accepted URL.
        assert!(u.port >= 1);
        assert!(!u.user.is_empty());
        assert!(!u.host.is_empty());
        assert!(!u.dbname.is_empty());
        let _ = urls::bare_host(&u.host);
    }
    if let Ok(r) = urls::parse_redis(&s) {
        assert!(r.port >= 1);
        assert!((0..=10_000).contains(&r.db));
        assert!(!r.host.is_empty());
        let _ = urls::bare_host(&r.host);
    }
    if let Some(e) = urls::parse_endpoint(&s) {
        assert!(!e.host.is_empty());
        assert_eq!(e.scheme, e.scheme.to_ascii_lowercase());
    }
    let _ = urls::bare_host(&s);
    let _ = config::percent_decode(&s);
    let _ = redact::url(&s);
});
