//! JSON Web Tokens and key sets, judged without trusting them: a token is decoded to show its
//! header and claims (never its signature), a JWKS is checked for what auth-service should
//! serve (RSA keys of 2048 bits or more, unique `kid`s, sensible `alg`/`use`), and a token is
//! verified against a JWKS with the signature checked by jsonwebtoken and every time, issuer
//! and audience rule checked here against an explicit `now`, so that each failure is told
//! apart (unknown `kid`, bad signature, expired, not yet valid, wrong issuer or audience).

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a token says about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenView {
    pub alg: String,
    pub kid: Option<String>,
    pub typ: Option<String>,
    pub iss: Option<String>,
    pub aud: Vec<String>,
    pub sub: Option<String>,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
    /// What the token says it is for: `token_type` (`access`/`refresh`), or `scope` (the
    /// spec's other spelling). Short words, not personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Names of the other claims (values are not shown: they may be personal data).
    pub other_claims: Vec<String>,
}

impl TokenView {
    /// The token is a refresh token by its `token_type` or `scope` claim: services that want an
    /// access token answer it with "Invalid token type".
    pub fn is_refresh(&self) -> bool {
        [&self.token_type, &self.scope].iter().any(|c| c.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("refresh")))
    }

    /// `token_type "refresh"` / `scope "refresh"`: the claim that says what the token is for.
    pub fn type_claim(&self) -> Option<String> {
        match (&self.token_type, &self.scope) {
            (Some(t), _) => Some(format!("token_type {t:?}")),
            (None, Some(s)) => Some(format!("scope {s:?}")),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "problem")]
pub enum TokenError {
    /// Not three base64url parts, or parts that are not JSON.
    NotAJwt { why: String },
    /// `alg: none`: an unsigned token, which no verifier should accept.
    AlgNone,
}

fn b64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => continue,
            _ => return None,
        } as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A token's header and claims as JSON, unverified; `alg: none` refused.
fn decode(token: &str) -> Result<(Value, Value, String), TokenError> {
    let t = token.trim().trim_start_matches("Bearer ").trim();
    let parts: Vec<&str> = t.split('.').collect();
    if parts.len() != 3 {
        return Err(TokenError::NotAJwt {
            why: format!("a JWT has three parts separated by dots; this has {}", parts.len()),
        });
    }
    let json = |i: usize, what: &str| -> Result<Value, TokenError> {
        let bytes =
            b64url(parts[i]).ok_or_else(|| TokenError::NotAJwt { why: format!("the {what} is not base64url") })?;
        serde_json::from_slice(&bytes).map_err(|_| TokenError::NotAJwt { why: format!("the {what} is not JSON") })
    };
    let header = json(0, "header")?;
    let claims = json(1, "payload")?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("").to_string();
    if alg.eq_ignore_ascii_case("none") {
        return Err(TokenError::AlgNone);
    }
    Ok((header, claims, alg))
}

/// Decodes a token's header and claims without verifying anything.
pub fn inspect(token: &str) -> Result<TokenView, TokenError> {
    let (header, claims, alg) = decode(token)?;
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let n = |k: &str| claims.get(k).and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)));
    let aud = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    };
    let known = ["iss", "aud", "sub", "exp", "nbf", "iat", "token_type", "scope"];
    // Only short words are kept: a long value is not a type but something else.
    let word = |k: &str| s(&claims, k).filter(|v| v.len() <= 64);
    let other_claims = claims
        .as_object()
        .map(|o| o.keys().filter(|k| !known.contains(&k.as_str())).cloned().collect())
        .unwrap_or_default();
    Ok(TokenView {
        alg,
        kid: s(&header, "kid"),
        typ: s(&header, "typ"),
        iss: s(&claims, "iss"),
        aud,
        sub: s(&claims, "sub"),
        exp: n("exp"),
        nbf: n("nbf"),
        iat: n("iat"),
        token_type: word("token_type"),
        scope: word("scope"),
        other_claims,
    })
}

/// The claims that decide a refresh (spec `07-redis/07`, `10-security/02`): `jti` (looked up
/// in `blacklist:refresh:<jti>`), `sub` and the session id (`sid`, or `session_id`: the key
/// `session:<sub>:<sid>`). Held in memory only, to look the keys up; never a fact.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshIds {
    pub jti: Option<String>,
    pub sub: Option<String>,
    pub sid: Option<String>,
}

/// The session id claims, in the order they are tried.
pub const SESSION_CLAIMS: &[&str] = &["sid", "session_id"];

/// What a refresh JWT says of itself, as a fact: times and type in clear, the identifiers as
/// per-run fingerprints (a `jti` or session id is a handle on someone's session).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RefreshView {
    pub alg: String,
    pub sub: Option<String>,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    /// `token_type` or `scope`, as [`TokenView`] reads them.
    pub token_type: Option<String>,
    /// Fingerprint of the `jti`.
    pub jti: Option<String>,
    /// `sid` or `session_id`: which claim carries the session id.
    pub session_claim: Option<String>,
    /// Fingerprint of the session id.
    pub session_id: Option<String>,
}

/// A refresh token decoded locally (never verified here: the signature is auth-service's to
/// check, and the identifiers are what the Redis reads need).
pub fn refresh_claims(token: &str) -> Result<(RefreshView, RefreshIds), TokenError> {
    let (_, claims, alg) = decode(token)?;
    // Identifiers are short strings (UUIDs, `sess-7f3d9a1b`) or numbers (a serial user id).
    let id = |k: &str| match claims.get(k) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let view = inspect(token)?;
    let (session_claim, sid) =
        SESSION_CLAIMS.iter().find_map(|c| id(c).map(|v| (Some(c.to_string()), Some(v)))).unwrap_or_default();
    let ids = RefreshIds { jti: id("jti"), sub: id("sub"), sid };
    let fp = |v: &Option<String>| v.as_deref().map(crate::redact::fingerprint);
    let out = RefreshView {
        alg,
        sub: ids.sub.clone(),
        exp: view.exp,
        iat: view.iat,
        token_type: view.token_type.or(view.scope),
        jti: fp(&ids.jti),
        session_claim,
        session_id: fp(&ids.sid),
    };
    Ok((out, ids))
}

/// The `--refresh-token` token as decoded when the run gathered its facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshTokenFacts {
    /// `Err` for an opaque token (no JWT): only the `refresh_tokens` table and `refresh_token:*`
    /// keys can say anything of it then.
    pub view: Result<RefreshView, TokenError>,
    /// When it was decoded (Unix seconds).
    pub checked_at: i64,
    /// The clock skew allowed on `exp`, as the services allow it.
    pub leeway_s: i64,
}

impl RefreshTokenFacts {
    /// Seconds since `exp` when the token is past it by more than the leeway.
    pub fn expired_for_s(&self) -> Option<i64> {
        let exp = self.view.as_ref().ok()?.exp?;
        (self.checked_at > exp.saturating_add(self.leeway_s)).then(|| self.checked_at - exp)
    }
}

/// One key of a JWKS, as checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyFacts {
    pub kid: Option<String>,
    pub kty: String,
    pub alg: Option<String>,
    #[serde(rename = "use")]
    pub use_: Option<String>,
    /// RSA modulus size in bits.
    pub bits: Option<usize>,
    /// The modulus, as a short hash: compares with `public_key.pem` without showing either.
    pub modulus_fingerprint: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JwksFacts {
    pub keys: Vec<KeyFacts>,
    /// What is wrong with the set (empty when nothing is).
    pub problems: Vec<String>,
}

/// Short stable hash of a modulus (the same in every run: a public key is not a secret).
pub fn modulus_fingerprint(n: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let trimmed: &[u8] = {
        let first = n.iter().position(|b| *b != 0).unwrap_or(n.len());
        &n[first..]
    };
    Sha256::digest(trimmed).iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// The fingerprint (as [`modulus_fingerprint`]) and size in bits of the RSA public key in a PEM
/// file: `PUBLIC KEY` (SubjectPublicKeyInfo) or `RSA PUBLIC KEY` (PKCS#1). A small DER walk:
/// only the two nested sequences and the first integer are read.
pub fn pem_modulus(pem: &str) -> Result<(String, usize), String> {
    let begin = pem.find("-----BEGIN ").ok_or("no PEM header")?;
    let rest = &pem[begin + 11..];
    let label_end = rest.find("-----").ok_or("broken PEM header")?;
    let label = &rest[..label_end];
    if label.contains("PRIVATE") {
        return Err("a private key, not a public key".into());
    }
    let body_start = label_end + 5;
    let body_end = rest[body_start..].find("-----END").ok_or("no PEM footer")? + body_start;
    let b64: String = rest[body_start..body_end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = b64url(&b64).ok_or("the PEM body is not base64")?;
    let modulus = match label {
        "RSA PUBLIC KEY" => der_rsa_modulus(&der),
        "PUBLIC KEY" => {
            // SEQUENCE { SEQUENCE { algorithm }, BIT STRING { 0x00, RSAPublicKey } }
            let (outer, _) = der_take(&der, 0x30).ok_or("not a DER sequence")?;
            let (_, after_alg) = der_take(outer, 0x30).ok_or("no algorithm identifier")?;
            let (bits, _) = der_take(after_alg, 0x03).ok_or("no key bit string")?;
            bits.split_first().and_then(|(_, k)| der_rsa_modulus(k))
        }
        other => return Err(format!("a {other:?} PEM, not a public key")),
    }
    .ok_or("not an RSA key")?;
    let first = modulus.iter().position(|b| *b != 0).unwrap_or(modulus.len());
    let n = &modulus[first..];
    let bits = n.first().map_or(0, |b| (n.len() - 1) * 8 + (8 - b.leading_zeros() as usize));
    Ok((modulus_fingerprint(n), bits))
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` → the modulus.
fn der_rsa_modulus(der: &[u8]) -> Option<Vec<u8>> {
    let (seq, _) = der_take(der, 0x30)?;
    let (n, _) = der_take(seq, 0x02)?;
    Some(n.to_vec())
}

/// One DER element of `tag` at the start of `data`: (its content, what follows it).
fn der_take(data: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = data.split_first()?;
    if t != tag {
        return None;
    }
    let (&l, mut rest) = rest.split_first()?;
    let len = if l < 0x80 {
        l as usize
    } else {
        let count = (l & 0x7f) as usize;
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
        rest = &rest[count..];
        len
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

pub fn analyze_jwks(text: &str) -> Result<JwksFacts, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let keys = v.get("keys").and_then(Value::as_array).ok_or("no \"keys\" array")?;
    let mut out = JwksFacts::default();
    for k in keys {
        let s = |name: &str| k.get(name).and_then(Value::as_str).map(str::to_string);
        let n = s("n").and_then(|n| b64url(&n));
        out.keys.push(KeyFacts {
            kid: s("kid"),
            kty: s("kty").unwrap_or_default(),
            alg: s("alg"),
            use_: s("use"),
            bits: n.as_ref().map(|n| {
                let first = n.iter().position(|b| *b != 0).unwrap_or(n.len());
                let rest = &n[first..];
                rest.first().map_or(0, |b| (rest.len() - 1) * 8 + (8 - b.leading_zeros() as usize))
            }),
            modulus_fingerprint: n.as_deref().map(modulus_fingerprint),
        });
    }
    if out.keys.is_empty() {
        out.problems.push("the key set is empty".into());
    }
    for k in &out.keys {
        let name = k.kid.clone().unwrap_or_else(|| "(no kid)".into());
        if k.kty != "RSA" {
            out.problems.push(format!("key {name} is {:?}, not RSA", k.kty));
        }
        if let Some(b) = k.bits.filter(|b| *b < 2048) {
            out.problems.push(format!("key {name} is only {b} bits (at least 2048 expected)"));
        }
        if k.alg.as_deref().is_some_and(|a| a != "RS256") {
            out.problems.push(format!("key {name} declares alg {:?} (RS256 expected)", k.alg.as_deref().unwrap_or("")));
        }
        if k.use_.as_deref().is_some_and(|u| u != "sig") {
            out.problems.push(format!("key {name} declares use {:?} (sig expected)", k.use_.as_deref().unwrap_or("")));
        }
        if k.kid.is_none() && out.keys.len() > 1 {
            out.problems.push("a key has no kid although the set has several".into());
        }
    }
    let mut kids: Vec<&str> = out.keys.iter().filter_map(|k| k.kid.as_deref()).collect();
    kids.sort();
    for w in kids.windows(2) {
        if w[0] == w[1] {
            out.problems.push(format!("kid {:?} appears more than once", w[0]));
        }
    }
    out.problems.dedup();
    Ok(out)
}

/// Why a token does not verify (or that it does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Verification {
    Valid,
    UnknownKid { kid: Option<String>, available: Vec<String> },
    BadSignature,
    UnsupportedAlgorithm { alg: String },
    Expired { exp: i64 },
    NotYetValid { nbf: i64 },
    WrongIssuer { got: Option<String>, expected: String },
    WrongAudience { got: Vec<String>, expected: String },
    Unusable { why: String },
}

/// Verifies `token` against `jwks_text` at time `now` (Unix seconds), with `leeway` seconds of
/// clock skew allowed. Signature first, then time, then issuer and audience.
pub fn verify(
    token: &str,
    jwks_text: &str,
    expected_iss: Option<&str>,
    expected_aud: Option<&str>,
    now: i64,
    leeway: i64,
) -> Verification {
    let view = match inspect(token) {
        Ok(v) => v,
        Err(e) => return Verification::Unusable { why: format!("{e:?}") },
    };
    if view.alg != "RS256" {
        return Verification::UnsupportedAlgorithm { alg: view.alg };
    }
    let set: JwkSet = match serde_json::from_str(jwks_text) {
        Ok(s) => s,
        Err(e) => return Verification::Unusable { why: format!("the JWKS cannot be used: {e}") },
    };
    let available: Vec<String> = set.keys.iter().filter_map(|k| k.common.key_id.clone()).collect();
    let candidates: Vec<_> = match &view.kid {
        Some(kid) => set.keys.iter().filter(|k| k.common.key_id.as_deref() == Some(kid.as_str())).collect(),
        None => set.keys.iter().collect(),
    };
    if candidates.is_empty() {
        return Verification::UnknownKid { kid: view.kid, available };
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let token = token.trim().trim_start_matches("Bearer ").trim();
    let verified = candidates.iter().any(|k| {
        matches!(k.algorithm, AlgorithmParameters::RSA(_))
            && DecodingKey::from_jwk(k).is_ok_and(|key| jsonwebtoken::decode::<Value>(token, &key, &validation).is_ok())
    });
    if !verified {
        return Verification::BadSignature;
    }
    if let Some(exp) = view.exp.filter(|exp| now > exp.saturating_add(leeway)) {
        return Verification::Expired { exp };
    }
    if let Some(nbf) = view.nbf.filter(|nbf| now.saturating_add(leeway) < *nbf) {
        return Verification::NotYetValid { nbf };
    }
    if let Some(want) = expected_iss.filter(|w| view.iss.as_deref() != Some(*w)) {
        return Verification::WrongIssuer { got: view.iss, expected: want.to_string() };
    }
    if let Some(want) = expected_aud.filter(|w| !view.aud.iter().any(|a| a == w)) {
        return Verification::WrongAudience { got: view.aud, expected: want.to_string() };
    }
    Verification::Valid
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(data: &[u8]) -> String {
        const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut s = String::new();
        for chunk in data.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        s
    }

    #[test]
    fn inspect_reads_header_and_claims() {
        let t = format!(
            "{}.{}.sig",
            b64(br#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#),
            b64(br#"{"iss":"auth","aud":["a","b"],"sub":"1","exp":100,"email":"x@y"}"#)
        );
        let v = inspect(&t).unwrap();
        assert_eq!(
            (v.alg.as_str(), v.kid.as_deref(), v.iss.as_deref(), v.exp),
            ("RS256", Some("k1"), Some("auth"), Some(100))
        );
        assert_eq!(v.aud, ["a", "b"]);
        assert_eq!(v.other_claims, ["email"]);
        assert!(!v.is_refresh() && v.type_claim().is_none());
    }

    #[test]
    fn a_refresh_token_gives_its_identifiers_to_memory_and_fingerprints_to_facts() {
        let token = |claims: &str| format!("{}.{}.sig", b64(br#"{"alg":"RS256"}"#), b64(claims.as_bytes()));
        let (v, ids) = refresh_claims(&token(
            r#"{"sub":"u-1","jti":"jti-secret","sid":"sess-7f3d9a1b","exp":200,"iat":100,"token_type":"refresh"}"#,
        ))
        .unwrap();
        assert_eq!(
            ids,
            RefreshIds { jti: Some("jti-secret".into()), sub: Some("u-1".into()), sid: Some("sess-7f3d9a1b".into()) }
        );
        assert_eq!(
            (v.exp, v.iat, v.sub.as_deref(), v.token_type.as_deref()),
            (Some(200), Some(100), Some("u-1"), Some("refresh"))
        );
        assert_eq!(v.session_claim.as_deref(), Some("sid"));
        assert_eq!(v.jti.as_deref(), Some(crate::redact::fingerprint("jti-secret").as_str()));
        let shown = serde_json::to_string(&v).unwrap();
        assert!(!shown.contains("jti-secret") && !shown.contains("sess-7f3d9a1b"), "{shown}");
        // The other spelling (10-security/02), a numeric user id, no jti.
        let (v, ids) = refresh_claims(&token(r#"{"sub":7,"session_id":"s-2","scope":"refresh"}"#)).unwrap();
        assert_eq!(ids, RefreshIds { jti: None, sub: Some("7".into()), sid: Some("s-2".into()) });
        assert_eq!((v.session_claim.as_deref(), v.token_type.as_deref()), (Some("session_id"), Some("refresh")));
        assert!(refresh_claims("opaque-refresh-token").is_err());
        // Expiry with the leeway.
        let at = |checked_at| RefreshTokenFacts {
            view: Ok(RefreshView { exp: Some(1000), ..Default::default() }),
            checked_at,
            leeway_s: 60,
        };
        assert_eq!(at(1059).expired_for_s(), None);
        assert_eq!(at(1061).expired_for_s(), Some(61));
    }

    #[test]
    fn what_a_token_is_for_is_read_under_both_spellings() {
        let token = |claims: &str| inspect(&format!("{}.{}.sig", b64(br#"{"alg":"RS256"}"#), b64(claims.as_bytes())));
        let v = token(r#"{"sub":"1","token_type":"refresh","jti":"j"}"#).unwrap();
        assert!(v.is_refresh());
        assert_eq!(v.type_claim().as_deref(), Some("token_type \"refresh\""));
        assert_eq!(v.other_claims, ["jti"]);
        let v = token(r#"{"scope":"Refresh"}"#).unwrap();
        assert!(v.is_refresh());
        assert_eq!(v.type_claim().as_deref(), Some("scope \"Refresh\""));
        let v = token(r#"{"token_type":"access","scope":"read write"}"#).unwrap();
        assert!(!v.is_refresh());
        let long = format!(r#"{{"token_type":"{}"}}"#, "x".repeat(100));
        assert_eq!(token(&long).unwrap().token_type, None);
    }

    #[test]
    fn not_a_jwt_and_alg_none_are_told_apart() {
        assert!(matches!(inspect("hello"), Err(TokenError::NotAJwt { .. })));
        assert!(matches!(inspect("a.b.c"), Err(TokenError::NotAJwt { .. })));
        let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(br#"{"sub":"1"}"#));
        assert_eq!(inspect(&none), Err(TokenError::AlgNone));
    }

    #[test]
    fn jwks_problems_are_named() {
        let j = r#"{"keys":[{"kty":"RSA","kid":"a","alg":"RS256","use":"sig","n":"AQAB","e":"AQAB"},{"kty":"RSA","kid":"a","alg":"HS256","use":"enc","n":"AQAB","e":"AQAB"}]}"#;
        let f = analyze_jwks(j).unwrap();
        let all = f.problems.join("|");
        assert!(
            all.contains("only 17 bits")
                && all.contains("more than once")
                && all.contains("HS256")
                && all.contains("enc"),
            "{all}"
        );
        assert!(analyze_jwks("{\"keys\": [").is_err());
        assert!(analyze_jwks("{}").is_err());
        assert_eq!(analyze_jwks(r#"{"keys":[]}"#).unwrap().problems, ["the key set is empty"]);
    }

    fn signed(key: &str, kid: &str, claims: Value) -> String {
        let k = jsonwebtoken::EncodingKey::from_rsa_pem(key.as_bytes()).unwrap();
        let mut h = jsonwebtoken::Header::new(Algorithm::RS256);
        h.kid = Some(kid.into());
        jsonwebtoken::encode(&h, &claims, &k).unwrap()
    }

    fn jwks(key: &str, kid: &str) -> String {
        let k = jsonwebtoken::EncodingKey::from_rsa_pem(key.as_bytes()).unwrap();
        let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&k, Algorithm::RS256).unwrap();
        jwk.common.key_id = Some(kid.into());
        serde_json::json!({ "keys": [jwk] }).to_string()
    }

    const CURRENT: &str = include_str!("../tests/fixture/keys/current.private.pem");
    const ROTATED: &str = include_str!("../tests/fixture/keys/rotated.private.pem");

    #[test]
    fn each_verification_failure_is_told_apart() {
        let now = 1_795_867_200;
        let set = jwks(CURRENT, "key-current");
        let claims = |exp: i64| serde_json::json!({"iss": "auth-service", "aud": "ai-micro-service", "sub": "1", "exp": exp, "nbf": now - 10});
        let good = signed(CURRENT, "key-current", claims(now + 600));
        assert_eq!(verify(&good, &set, Some("auth-service"), Some("ai-micro-service"), now, 30), Verification::Valid);
        let analyzed = analyze_jwks(&set).unwrap();
        assert_eq!(analyzed.keys[0].bits, Some(2048));
        assert!(analyzed.problems.is_empty(), "{:?}", analyzed.problems);

        let rotated = signed(ROTATED, "key-rotated", claims(now + 600));
        assert!(matches!(verify(&rotated, &set, None, None, now, 30), Verification::UnknownKid { .. }));
        let forged = signed(ROTATED, "key-current", claims(now + 600));
        assert_eq!(verify(&forged, &set, None, None, now, 30), Verification::BadSignature);
        let expired = signed(CURRENT, "key-current", claims(now - 3600));
        assert_eq!(verify(&expired, &set, None, None, now, 30), Verification::Expired { exp: now - 3600 });
        let early = signed(CURRENT, "key-current", serde_json::json!({"exp": now + 600, "nbf": now + 300}));
        assert_eq!(verify(&early, &set, None, None, now, 30), Verification::NotYetValid { nbf: now + 300 });
        assert!(matches!(verify(&good, &set, Some("other"), None, now, 30), Verification::WrongIssuer { .. }));
        assert!(matches!(verify(&good, &set, None, Some("other"), now, 30), Verification::WrongAudience { .. }));
        assert!(matches!(verify(&good, "{\"keys\": [", None, None, now, 30), Verification::Unusable { .. }));
    }

    #[test]
    fn base64url_decoding() {
        assert_eq!(b64url("aGVsbG8").unwrap(), b"hello");
        assert_eq!(b64url("aGVsbG8=").unwrap(), b"hello");
        assert!(b64url("a*b").is_none());
    }

    #[test]
    fn public_key_pem_matches_its_jwks_entry() {
        let fp = |jwks: &str| analyze_jwks(jwks).unwrap().keys[0].modulus_fingerprint.clone().unwrap();
        let current = pem_modulus(include_str!("../tests/fixture/keys/current.public.pem")).unwrap();
        let rotated = pem_modulus(include_str!("../tests/fixture/keys/rotated.public.pem")).unwrap();
        assert_eq!(current, (fp(&jwks(CURRENT, "k")), 2048));
        assert_ne!(rotated.0, current.0);
        assert_eq!(pem_modulus(include_str!("../tests/fixture/keys/weak.public.pem")).unwrap().1, 1024);
        assert!(pem_modulus(CURRENT).unwrap_err().contains("private"));
        assert!(pem_modulus("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----").is_err());
        assert!(pem_modulus("-----BEGIN PUBLIC KEY-----\nMAMCAQA=\n-----END PUBLIC KEY-----").is_err());
    }
}
