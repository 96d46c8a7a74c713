//! `redact::scrub`, which every printed text passes through, on arbitrary text; also
//! `redact::sql_literals`, `redact::percent_encode`, `redact::is_secret_name` and
//! `redact::scrub_json` (when the input is JSON). Invariants, true by design: a registered
//! secret never survives `scrub`; neither does the password of a well-formed URL or a JWT
//! planted between spaces anywhere in the text; scrubbed JSON stays JSON.
#![no_main]

use doctor::redact;
use libfuzzer_sys::fuzz_target;
use std::sync::Once;

const REGISTERED: &str = "Fz9RegisteredSecretQx";
const URL_PASSWORD: &str = "Fz9UrlPasswordQx";
const JWT_SIGNATURE: &str = "Fz9JwtSignatureQx";

fuzz_target!(|data: &[u8]| {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| redact::register_secret(REGISTERED));

    let s = String::from_utf8_lossy(data);
    let out = redact::scrub(&s);
    assert!(!out.contains(REGISTERED), "a registered secret survived scrub");

    // Plant a URL password and a JWT in the middle of the text.
    let cut = s.char_indices().map(|(i, _)| i).nth(s.chars().count() / 2).unwrap_or(s.len());
    let (head, tail) = s.split_at(cut);
    let planted = format!(
        "{head} postgresql://app:{URL_PASSWORD}@db:5432/authdb \
         eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.{JWT_SIGNATURE} {REGISTERED} {tail}"
    );
    let out = redact::scrub(&planted);
    assert!(!out.contains(REGISTERED));
    if !s.contains(URL_PASSWORD) {
        assert!(!out.contains(URL_PASSWORD), "a URL password survived scrub: {out:?}");
    }
    if !s.contains(JWT_SIGNATURE) {
        assert!(!out.contains(JWT_SIGNATURE), "a JWT survived scrub: {out:?}");
    }

    let _ = redact::url(&s);
    let _ = redact::sql_literals(&s);
    let enc = redact::percent_encode(&s);
    assert!(enc.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
    let _ = redact::is_secret_name(&s);

    if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&s) {
        redact::scrub_json(&mut v);
        let text = serde_json::to_string(&v).expect("scrubbed JSON serialises");
        assert!(!text.contains(REGISTERED));
        let _: serde_json::Value = serde_json::from_str(&text).expect("scrubbed JSON parses");
    }
});
