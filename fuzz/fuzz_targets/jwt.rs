//! Tokens pasted by a person or read from a cookie, and key sets served by auth-service:
//! `jwt::inspect`, `jwt::analyze_jwks`, `jwt::modulus_fingerprint` and `jwt::verify`.
//! The input is `TOKEN\nJWKS`: each half is also tried alone, and the token is verified both
//! against the fuzzed key set and against a real one (the fixture's `current` key).
#![no_main]

use doctor::jwt::{self, Verification};
use libfuzzer_sys::fuzz_target;

/// The JWKS of tests/fixture/keys/current.public.pem (kid "current").
const REAL_JWKS: &str = r#"{"keys":[{"kty":"RSA","kid":"current","use":"sig","alg":"RS256","n":"3m-pzsk5Kricwly7rXSFMESd40p7nABXlVCpGxkf6K7rENDq6Jg1_5REcIHZD_l1a8Qy5J6XVxflppfeg4TmGsq1Wdkh9IsFeZdBMr38_nmF7yc7J5rhRpNo6mlu1BGPGIaa8ARrP5QYHTGACOB832qpvjGVtuz_gQm1sVsXjQ8cugjFkP4GHOtcgb6PCAAUa8LMKFhKEcTJq_YqKB-0b6Fa3GQbMacT4LUPq_u_fos7GQbeTObPD6OlL_M9wrh0O33TpruwZOfRzktF9iE_WmW93-iCDI9nG_Ex0OEzQlQqVhK13z2ugEmEteDWYUqsOABSyLiZKK3E2CuJAuIfCw","e":"AQAB"}]}"#;
const NOW: i64 = 1_764_374_400; // 2025-11-29T00:00:00Z

fn check_inspect(t: &str) {
    if let Ok(v) = jwt::inspect(t) {
        assert!(!v.alg.eq_ignore_ascii_case("none"), "alg none must be refused");
    }
}

fn check_jwks(text: &str) {
    if let Ok(f) = jwt::analyze_jwks(text) {
        if f.keys.is_empty() {
            assert!(f.problems.iter().any(|p| p == "the key set is empty"));
        }
        for k in &f.keys {
            if let Some(fp) = &k.modulus_fingerprint {
                assert_eq!(fp.len(), 12);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    assert_eq!(jwt::modulus_fingerprint(data).len(), 12);
    let s = String::from_utf8_lossy(data);
    let (token, jwks) = s.split_once('\n').unwrap_or((&s, ""));
    check_inspect(&s);
    check_inspect(token);
    check_jwks(&s);
    check_jwks(jwks);
    for set in [jwks, REAL_JWKS] {
        let v = jwt::verify(token, set, Some("auth-service"), Some("ai-micro-service"), NOW, 60);
        if v == Verification::Valid {
            // Only a token whose header says RS256 can get this far.
            assert_eq!(jwt::inspect(token).map(|t| t.alg).as_deref(), Ok("RS256"));
        }
    }
});
