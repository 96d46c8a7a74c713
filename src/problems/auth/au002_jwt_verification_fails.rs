//! AU002: JWT verification fails. Reads the JWKS auth-service serves (reachable? valid JSON?
//! RSA keys of 2048 bits or more, unique `kid`s, sensible `alg`/`use`), the `JWT_*` settings of
//! auth-service against those of the services that verify its tokens (issuer and audience under
//! either spelling, `JWT_ISS`/`JWT_AUD` or `JWT_ISSUER`/`JWT_AUDIENCE`), and with `--token` the
//! token's header and claims verified against that JWKS with the services' leeway. Each failure
//! is its own cause: unknown `kid` or bad signature (`signature-mismatch`), expired or not yet
//! valid (`token-expired`), wrong issuer or audience, a refresh token where an access token is
//! expected (`wrong-token-type`).

use super::{AUDIENCE_VARS, Expected, ISSUER_VARS, spelled};
use crate::catalogue::Area;
use crate::clock::rfc3339;
use crate::facts::of::auth::AuthFacts;
use crate::facts::of::http::HttpFacts;
use crate::jwt::{TokenError, TokenView, Verification};
use crate::problems::engine::DockerView;
use crate::problems::registry::{Inputs, Problem};
use crate::problems::secs;
use crate::report::{Finding, Status, Verdict::*};
use crate::text::{Sep, Text};

crate::causes! {
    KeysMissing = "keys-missing",
    JwksUnreachable = "jwks-unreachable",
    TokenExpired = "token-expired",
    IssuerMismatch = "issuer-mismatch",
    AudienceMismatch = "audience-mismatch",
    SignatureMismatch = "signature-mismatch",
    WrongTokenType = "wrong-token-type",
}

pub static PROBLEM: Problem = Problem {
    code: "AU002",
    areas: &[Area::Auth],
    runbook: crate::runbook!("auth/AU002-jwt-verification-fails.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let Some(a) = &i.facts.auth else { return vec![] };
    let expected = super::Expected::from(&|name: &str| i.facts.setting(name), &i.docker);
    vec![i.timed(diagnose(a, &expected, &i.docker), i.facts.auth_ms)]
}

/// "in 12m" / "3h ago", from the check's own clock.
fn relative(t: i64, now: i64) -> Text {
    if t >= now {
        crate::t!("AU002/in-time", time = secs(t.saturating_sub(now) as f64))
    } else {
        crate::t!("AU002/time-ago", time = secs(now.saturating_sub(t) as f64))
    }
}

/// Why a request failed (`GET http://… → HTTP 503`, `…: connection refused: …`), or None when
/// it answered 2xx.
pub fn request_failure(h: &HttpFacts) -> Option<Text> {
    if let Some(e) = &h.error {
        return Some(Text::join(
            [format!("{} {}: ", h.method, h.url).into(), e.kind.text(), format!(": {}", e.message).into()],
            Sep::Concat,
        ));
    }
    match h.status {
        Some(s) if (200..300).contains(&s) => None,
        Some(s) => Some(format!("{} {} → HTTP {s}", h.method, h.url).into()),
        None => Some(crate::t!("AU002/no-answer", method = &h.method, url = &h.url)),
    }
}

pub fn diagnose(f: &AuthFacts, expected: &Expected, docker: &DockerView) -> Finding {
    let mut out = Finding::new("AU002", f.base_url.clone());
    let mut status = Status::Ok;
    let mut notes: Vec<Text> = Vec::new();

    // The JWKS itself.
    let jwks_fail = f.jwks.as_ref().and_then(request_failure);
    match (&jwks_fail, &f.jwks_analysis) {
        (Some(why), _) => {
            out.cause(Cause::JwksUnreachable, Confirmed, why.clone());
            out.cause(Cause::KeysMissing, Unchecked, crate::t!("AU002/jwks-unreadable"));
            status = Status::Critical;
            notes.push(crate::t!("AU002/jwks-unreachable", why = why.clone()));
        }
        (None, Some(Err(why))) => {
            out.cause(Cause::JwksUnreachable, Confirmed, crate::t!("AU002/jwks-unusable", why = why));
            out.cause(Cause::KeysMissing, Suspected, crate::t!("AU002/no-usable-key"));
            status = Status::Critical;
            notes.push(crate::t!("AU002/jwks-broken", why = why));
        }
        (None, Some(Ok(set))) => {
            let kids: Vec<String> = set
                .keys
                .iter()
                .map(|k| format!("{} ({} bits)", k.kid.as_deref().unwrap_or("-"), k.bits.unwrap_or(0)))
                .collect();
            out.fact("jwks_keys", &set.keys);
            out.cause(Cause::JwksUnreachable, RuledOut, crate::t!("AU002/jwks-answered", count = set.keys.len()));
            if set.keys.is_empty() {
                out.cause(Cause::KeysMissing, Confirmed, crate::t!("AU002/jwks-no-key"));
                status = Status::Critical;
                notes.push(crate::t!("AU002/no-key-published"));
            } else {
                out.cause(Cause::KeysMissing, RuledOut, kids.join(", "));
            }
            if !set.problems.is_empty() {
                out.fact("jwks_problems", &set.problems);
                status = status.max(Status::Warning);
                notes.push(set.problems.join("; ").into());
            }
        }
        (None, None) => {
            let why = crate::t!("AU002/jwks-not-fetched");
            out.cause(Cause::JwksUnreachable, Unchecked, why.clone());
            out.cause(Cause::KeysMissing, Unchecked, why);
        }
    }

    // JWT settings of the services that verify tokens, against auth-service's.
    let settings = settings_disagreements(docker, expected);

    // The token, when given.
    match &f.token {
        None => {
            let why = crate::t!("AU002/give-token");
            out.cause(Cause::TokenExpired, Unchecked, why.clone());
            out.cause(Cause::WrongTokenType, Unchecked, why.clone());
            match &settings.0 {
                Some(e) => out.cause(Cause::IssuerMismatch, Confirmed, e.clone()),
                None => out.cause(Cause::IssuerMismatch, Unchecked, why.clone()),
            }
            match &settings.1 {
                Some(e) => out.cause(Cause::AudienceMismatch, Confirmed, e.clone()),
                None => out.cause(Cause::AudienceMismatch, Unchecked, why.clone()),
            }
            if let Some(Ok(set)) = &f.jwks_analysis {
                let dup = set.problems.iter().find(|p| p.contains("more than once"));
                match dup {
                    Some(d) => out.cause(Cause::SignatureMismatch, Suspected, d.clone()),
                    None => out.cause(Cause::SignatureMismatch, Unchecked, why),
                }
            } else {
                out.cause(Cause::SignatureMismatch, Unchecked, why);
            }
        }
        Some(t) => {
            let now = t.checked_at;
            match &t.view {
                Err(TokenError::NotAJwt { why }) => {
                    let msg = crate::t!("AU002/not-a-jwt", why = why);
                    out.cause(Cause::SignatureMismatch, Confirmed, msg.clone());
                    out.causes_all(
                        &[Cause::TokenExpired, Cause::IssuerMismatch, Cause::AudienceMismatch, Cause::WrongTokenType],
                        Unchecked,
                        msg.clone(),
                    );
                    return out.status(Status::Critical, msg);
                }
                Err(TokenError::AlgNone) => {
                    let msg = crate::t!("AU002/alg-none");
                    out.cause(Cause::SignatureMismatch, Confirmed, msg.clone());
                    out.causes_all(
                        &[Cause::TokenExpired, Cause::IssuerMismatch, Cause::AudienceMismatch, Cause::WrongTokenType],
                        Unchecked,
                        msg.clone(),
                    );
                    return out.status(Status::Critical, msg);
                }
                Ok(view) => {
                    out.fact("token", token_json(view, now));
                    token_causes(
                        &mut out,
                        view,
                        t.verification.as_ref(),
                        expected,
                        &settings,
                        (now, t.leeway_s),
                        &mut status,
                        &mut notes,
                    );
                    token_type_cause(&mut out, view, &mut status, &mut notes);
                }
            }
        }
    }
    if settings.0.is_some() || settings.1.is_some() {
        status = Status::Critical;
        notes.extend(settings.0.iter().chain(settings.1.iter()).cloned());
    }
    // The key files inside auth-service, after every cause has its first verdict.
    let served = f.jwks_analysis.as_ref().and_then(|a| a.as_ref().ok());
    let (key_status, key_note) = super::key_files::judge(&mut out, docker, served);
    status = status.max(key_status);
    notes.extend(key_note);
    let (verifier_status, verifier_notes) = super::verifier_settings::judge(&mut out, docker);
    status = status.max(verifier_status);
    notes.extend(verifier_notes);
    if status == Status::Ok && out.causes.iter().all(|c| c.verdict == Unchecked) {
        // Nothing was fetched nor given: no ok from no evidence.
        return out.status(Status::Unknown, crate::t!("AU002/nothing-seen"));
    }
    let summary = match (&f.token, &f.jwks_analysis, notes.is_empty()) {
        (_, _, false) => Text::join(notes, Sep::Clauses),
        (None, Some(Ok(set)), true) => crate::t!("AU002/jwks-sound-no-token", count = set.keys.len()),
        _ => crate::t!("AU002/all-sound"),
    };
    out.status(status, summary)
}

fn token_json(v: &TokenView, now: i64) -> serde_json::Value {
    let time =
        |t: Option<i64>| t.map(|t| serde_json::json!({"at": rfc3339(t), "seconds_from_now": t.saturating_sub(now)}));
    serde_json::json!({
        "alg": v.alg, "kid": v.kid, "typ": v.typ, "iss": v.iss, "aud": v.aud, "sub": v.sub,
        "exp": time(v.exp), "nbf": time(v.nbf), "iat": time(v.iat), "other_claims": v.other_claims,
    })
}

#[allow(clippy::too_many_arguments)]
fn token_causes(
    out: &mut Finding,
    view: &TokenView,
    verification: Option<&Verification>,
    expected: &Expected,
    settings: &(Option<Text>, Option<Text>),
    (now, leeway): (i64, i64),
    status: &mut Status,
    notes: &mut Vec<Text>,
) {
    // Signature.
    match verification {
        Some(Verification::UnknownKid { kid, available }) => {
            let msg = crate::t!(
                "AU002/unknown-kid",
                kid = format!("{:?}", kid.as_deref().unwrap_or("none")),
                available = available.join(", "),
            );
            out.cause(Cause::SignatureMismatch, Confirmed, msg.clone());
            notes.push(msg);
            *status = Status::Critical;
        }
        Some(Verification::BadSignature) => {
            let msg = crate::t!("AU002/bad-signature");
            out.cause(Cause::SignatureMismatch, Confirmed, msg.clone());
            notes.push(msg);
            *status = Status::Critical;
        }
        Some(Verification::UnsupportedAlgorithm { alg }) => {
            let msg = crate::t!("AU002/unsupported-algorithm", alg = alg);
            out.cause(Cause::SignatureMismatch, Confirmed, msg.clone());
            notes.push(msg);
            *status = Status::Critical;
        }
        Some(Verification::Unusable { why }) => out.cause(Cause::SignatureMismatch, Unchecked, why.clone()),
        None => out.cause(Cause::SignatureMismatch, Unchecked, crate::t!("AU002/no-jwks-to-verify")),
        Some(_) => out.cause(
            Cause::SignatureMismatch,
            RuledOut,
            crate::t!("AU002/signature-verified", kid = view.kid.as_deref().unwrap_or("-")),
        ),
    }
    // Time: "2025-06-15T14:40:00Z (in 12m)", the same punctuation in both languages.
    let when = |t: i64| Text::join([Text::from(rfc3339(t)), " (".into(), relative(t, now), ")".into()], Sep::Concat);
    match (view.exp, view.nbf) {
        (Some(exp), _) if exp.saturating_add(leeway) < now => {
            let msg = crate::t!("AU002/expired", ago = secs(now.saturating_sub(exp) as f64), at = rfc3339(exp));
            out.cause(Cause::TokenExpired, Confirmed, msg.clone());
            notes.push(msg);
            *status = Status::Critical;
        }
        (Some(exp), _) if exp < now => out.cause(
            Cause::TokenExpired,
            RuledOut,
            crate::t!(
                "AU002/within-leeway",
                ago = secs(now.saturating_sub(exp) as f64),
                at = rfc3339(exp),
                leeway = secs(leeway as f64),
                left = secs(exp.saturating_add(leeway).saturating_sub(now) as f64),
            ),
        ),
        (_, Some(nbf)) if nbf > now.saturating_add(leeway) => {
            let msg = crate::t!("AU002/not-yet-valid", when = when(nbf));
            out.cause(Cause::TokenExpired, Confirmed, msg.clone());
            notes.push(msg);
            *status = Status::Critical;
        }
        (Some(exp), _) => out.cause(Cause::TokenExpired, RuledOut, crate::t!("AU002/valid-until", when = when(exp))),
        (None, _) => {
            out.cause(Cause::TokenExpired, Suspected, crate::t!("AU002/no-exp"));
            *status = (*status).max(Status::Warning);
        }
    }
    // Issuer and audience, against what the services expect.
    let judge = |got: String,
                 want: &Option<(String, String)>,
                 setting: &Option<Text>,
                 (what, names): (&str, [&str; 2])|
     -> (crate::report::Verdict, Text) {
        match (want, setting) {
            (_, Some(s)) => (Confirmed, s.clone()),
            (Some((w, src)), _) if !got.split(", ").any(|g| g == w) => (
                Confirmed,
                crate::t!(
                    "AU002/claim-unexpected",
                    what = what,
                    got = format!("{got:?}"),
                    want = format!("{w:?}"),
                    source = src,
                ),
            ),
            (Some((w, src)), _) => {
                (RuledOut, crate::t!("AU002/claim-as-expected", what = what, want = format!("{w:?}"), source = src))
            }
            (None, _) => {
                (Unchecked, crate::t!("AU002/no-expected-claim", what = what, name = names[0], other = names[1]))
            }
        }
    };
    let (v, e) = judge(view.iss.clone().unwrap_or_default(), &expected.issuer, &settings.0, ("issuer", ISSUER_VARS));
    if v == Confirmed {
        *status = Status::Critical;
        notes.push(e.clone());
    }
    out.cause(Cause::IssuerMismatch, v, e);
    let (v, e) = judge(view.aud.join(", "), &expected.audience, &settings.1, ("audience", AUDIENCE_VARS));
    if v == Confirmed {
        *status = Status::Critical;
        notes.push(e.clone());
    }
    out.cause(Cause::AudienceMismatch, v, e);
}

/// The expected issuer and audience of the services that verify tokens, against auth-service's,
/// under either spelling (admin-api's `JWT_ISSUER` against auth-service's `JWT_ISS`).
fn jwt_settings_disagreements(docker: &DockerView) -> (Option<Text>, Option<Text>) {
    use crate::problems::engine::Seen;
    let Seen::Found(auth) = docker.seen("auth-service") else { return (None, None) };
    let mut found = (Vec::new(), Vec::new());
    for service in ["user-api", "admin-api"] {
        let Seen::Found(c) = docker.seen(service) else { continue };
        for (names, slot) in [(ISSUER_VARS, &mut found.0), (AUDIENCE_VARS, &mut found.1)] {
            if let (Some((an, av)), Some((bn, bv))) = (spelled(auth, &names), spelled(c, &names))
                && av != bv
            {
                slot.push(crate::t!(
                    "AU002/verifier-expects",
                    verifier = &c.name,
                    var = bn,
                    expects = format!("{bv:?}"),
                    signer = &auth.name,
                    issues = format!("{av:?}"),
                    signer_var = an,
                ));
            }
        }
    }
    let join = |v: Vec<Text>| (!v.is_empty()).then(|| Text::join(v, Sep::Clauses));
    (join(found.0), join(found.1))
}

/// The verifiers' disagreements, and those between the two spellings of the expectation.
fn settings_disagreements(docker: &DockerView, expected: &Expected) -> (Option<Text>, Option<Text>) {
    let (iss, aud) = jwt_settings_disagreements(docker);
    let both = |a: Option<Text>, b: &Option<Text>| match (a, b) {
        (Some(a), Some(b)) => Some(Text::join([a, b.clone()], Sep::Clauses)),
        (a, b) => a.or_else(|| b.clone()),
    };
    (both(iss, &expected.issuer_conflict), both(aud, &expected.audience_conflict))
}

/// `wrong-token-type`: a refresh token given where an access token is expected.
fn token_type_cause(out: &mut Finding, view: &TokenView, status: &mut Status, notes: &mut Vec<Text>) {
    match view.type_claim() {
        Some(claim) if view.is_refresh() => {
            let msg = crate::t!("AU002/refresh-token-given", claim = claim);
            out.cause(Cause::WrongTokenType, Confirmed, msg.clone());
            *status = Status::Critical;
            notes.push(msg);
        }
        Some(claim) => out.cause(Cause::WrongTokenType, RuledOut, crate::t!("AU002/not-refresh", claim = claim)),
        None => out.cause(Cause::WrongTokenType, RuledOut, crate::t!("AU002/no-refresh-mark")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::of::auth::TokenFacts;
    use crate::facts::of::docker::{ContainerFacts, DockerFacts};
    use crate::facts::of::http::HttpErrorKind;
    use crate::facts::of::inside::{FileEntry, InsideFacts};
    use crate::jwt::{JwksFacts, KeyFacts};
    use crate::problems::fixtures::*;
    use crate::report::Verdict;

    const NOW: i64 = 1_750_000_000;
    const JWKS: &str = "http://localhost:8002/.well-known/jwks.json";
    const ISSUER: &str = "http://auth-service:8002";

    fn key(kid: &str, fingerprint: &str) -> KeyFacts {
        KeyFacts {
            kid: Some(kid.into()),
            kty: "RSA".into(),
            alg: Some("RS256".into()),
            use_: Some("sig".into()),
            bits: Some(2048),
            modulus_fingerprint: Some(fingerprint.into()),
        }
    }

    /// auth-service serving `keys`, and no token given.
    fn served(keys: Vec<KeyFacts>) -> AuthFacts {
        AuthFacts {
            base_url: "http://localhost:8002".into(),
            jwks: Some(answer("GET", JWKS, 200, "")),
            jwks_analysis: Some(Ok(JwksFacts { keys, problems: vec![] })),
            ..Default::default()
        }
    }

    fn claims() -> TokenView {
        TokenView {
            alg: "RS256".into(),
            kid: Some("k1".into()),
            typ: Some("JWT".into()),
            iss: Some(ISSUER.into()),
            aud: vec!["user-api".into()],
            sub: Some("42".into()),
            exp: Some(NOW + 600),
            iat: Some(NOW - 300),
            ..Default::default()
        }
    }

    fn with_token(view: Result<TokenView, TokenError>, verification: Option<Verification>) -> AuthFacts {
        AuthFacts {
            token: Some(TokenFacts { view, verification, checked_at: NOW, leeway_s: 60 }),
            ..served(vec![key("k1", "ab12")])
        }
    }

    fn expected() -> Expected {
        Expected {
            issuer: Some((ISSUER.into(), "JWT_ISSUER (.env)".into())),
            audience: Some(("user-api".into(), "JWT_AUDIENCE (.env)".into())),
            ..Default::default()
        }
    }

    /// auth-service with both key files readable by its uid, the public one of modulus `fingerprint`.
    fn auth_service(fingerprint: &str) -> ContainerFacts {
        let file = |name: &str, mode: &str| FileEntry {
            name: name.into(),
            mode: mode.into(),
            uid: 1000,
            gid: 1000,
            size: 1700,
        };
        let inside = InsideFacts {
            uid: Some(1000),
            gids: vec![1000],
            keys: Some(Ok(vec![file("private_key.pem", "-rw-------"), file("public_key.pem", "-rw-r--r--")])),
            public_key: Some(Ok((fingerprint.into(), 2048))),
            ..Default::default()
        };
        ContainerFacts { inside: Some(inside), ..running("auth-service") }
    }

    fn with_env(c: ContainerFacts, vars: &[(&str, &str)]) -> ContainerFacts {
        ContainerFacts { env: vars.iter().map(|(k, v)| env(k, v)).collect(), ..c }
    }

    fn run(f: &AuthFacts, expected: &Expected, docker: &DockerView) -> Finding {
        diagnose(f, expected, docker)
    }

    #[test]
    fn sound_jwks_key_files_and_token_rule_everything_out() {
        let docker = engine(vec![auth_service("ab12"), running("user-api")]);
        let facts = with_token(Ok(claims()), Some(Verification::Valid));
        for view in [view(&docker), DockerView::none()] {
            let f = run(&facts, &expected(), &view);
            assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
            assert!(f.summary.en().contains("no token problem found"), "{}", f.summary.en());
            assert!(verdicts(&f).iter().all(|(_, v)| *v == RuledOut), "{:?}", f.causes);
            assert_cause(&f, "jwks-unreachable", RuledOut, "the JWKS answered with 1 key(s)");
            assert_cause(&f, "keys-missing", RuledOut, "k1 (2048 bits)");
            assert_cause(&f, "signature-mismatch", RuledOut, "signature verified with key k1");
            assert_cause(&f, "token-expired", RuledOut, "valid until");
            assert_cause(&f, "issuer-mismatch", RuledOut, "issuer \"http://auth-service:8002\" as expected");
            assert_cause(&f, "audience-mismatch", RuledOut, "audience \"user-api\" as expected");
        }
        let f = run(&facts, &expected(), &view(&docker));
        assert_cause(&f, "keys-missing", RuledOut, "private_key.pem and public_key.pem present in /app/keys/");
        assert_cause(&f, "signature-mismatch", RuledOut, "public_key.pem on disk is the key the JWKS serves");
    }

    #[test]
    fn the_jwks_answer_decides_jwks_unreachable_and_keys_missing() {
        let none = DockerView::none();
        let mut facts = served(vec![]);
        facts.jwks = Some(failure("GET", JWKS, HttpErrorKind::Refused, "tcp connect error"));
        facts.jwks_analysis = None;
        let f = run(&facts, &expected(), &none);
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "jwks-unreachable", Confirmed, "connection refused: tcp connect error");
        assert_cause(&f, "keys-missing", Unchecked, "the JWKS could not be read");

        facts.jwks = Some(answer("GET", JWKS, 404, "Not Found"));
        let f = run(&facts, &expected(), &none);
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "jwks-unreachable", Confirmed, "→ HTTP 404");

        facts.jwks = Some(answer("GET", JWKS, 200, ""));
        facts.jwks_analysis = Some(Err("not valid JSON: expected value at line 1 column 1".into()));
        let f = run(&facts, &expected(), &none);
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "jwks-unreachable", Confirmed, "the JWKS answered, but is unusable: not valid JSON");
        assert_cause(&f, "keys-missing", Suspected, "no usable key is published");

        let f = run(&served(vec![]), &expected(), &none);
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "jwks-unreachable", RuledOut, "the JWKS answered with 0 key(s)");
        assert_cause(&f, "keys-missing", Confirmed, "the JWKS publishes no key");

        // Nothing fetched, nothing given: no ok from no evidence.
        let f = run(&AuthFacts::default(), &expected(), &none);
        assert_eq!(f.status, Status::Unknown, "{}", f.summary.en());
        assert_eq!(f.summary.en(), "neither the JWKS was fetched nor a token given: nothing to judge");
        assert_cause(&f, "jwks-unreachable", Unchecked, "the JWKS was not fetched");
        assert_cause(&f, "keys-missing", Unchecked, "the JWKS was not fetched");
    }

    #[test]
    fn without_a_token_only_the_jwks_and_the_settings_speak() {
        let f = run(&served(vec![key("k1", "ab12")]), &expected(), &DockerView::none());
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_eq!(f.summary.en(), "the JWKS serves 1 sound key(s); no token given, so none was checked");
        for id in ["token-expired", "issuer-mismatch", "audience-mismatch", "signature-mismatch"] {
            assert_cause(&f, id, Unchecked, "give a token with --token JWT");
        }

        // The same kid published twice.
        let mut facts = served(vec![key("k1", "ab12"), key("k1", "cd34")]);
        facts.jwks_analysis = Some(Ok(JwksFacts {
            keys: vec![key("k1", "ab12"), key("k1", "cd34")],
            problems: vec!["kid \"k1\" appears more than once".into()],
        }));
        let f = run(&facts, &expected(), &DockerView::none());
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "signature-mismatch", Suspected, "kid \"k1\" appears more than once");

        // A verifier expecting another issuer and audience than auth-service issues.
        let docker = engine(vec![
            with_env(running("auth-service"), &[("JWT_ISSUER", ISSUER), ("JWT_AUDIENCE", "user-api")]),
            with_env(running("user-api"), &[("JWT_ISSUER", "auth-service"), ("JWT_AUDIENCE", "api")]),
        ]);
        let f = run(&served(vec![key("k1", "ab12")]), &expected(), &view(&docker));
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "issuer-mismatch",
            Confirmed,
            "user-api expects JWT_ISSUER=\"auth-service\", but auth-service issues \"http://auth-service:8002\"",
        );
        assert_cause(&f, "audience-mismatch", Confirmed, "user-api expects JWT_AUDIENCE=\"api\"");
        assert!(f.summary.en().contains("user-api expects JWT_ISSUER"), "{}", f.summary.en());
        // ... which a token given too does not overrule.
        let facts = AuthFacts { token: with_token(Ok(claims()), Some(Verification::Valid)).token, ..served(vec![]) };
        let f = run(&facts, &expected(), &view(&docker));
        assert_cause(&f, "issuer-mismatch", Confirmed, "user-api expects JWT_ISSUER");
        assert_cause(&f, "audience-mismatch", Confirmed, "user-api expects JWT_AUDIENCE");
    }

    #[test]
    fn each_token_failure_confirms_its_own_cause() {
        type Change = fn(&mut TokenView, &mut Option<Verification>);
        let cases: [(Change, &str, &str); 8] = [
            (
                |_, v| *v = Some(Verification::UnknownKid { kid: Some("old".into()), available: vec!["k1".into()] }),
                "signature-mismatch",
                "the token's kid \"old\" is not in the JWKS (it has: k1)",
            ),
            (|_, v| *v = Some(Verification::BadSignature), "signature-mismatch", "the signature does not verify"),
            (
                |_, v| *v = Some(Verification::UnsupportedAlgorithm { alg: "HS256".into() }),
                "signature-mismatch",
                "the token uses HS256",
            ),
            (
                |t, v| {
                    t.exp = Some(NOW - 3 * 3600);
                    *v = Some(Verification::Expired { exp: NOW - 3 * 3600 });
                },
                "token-expired",
                "expired 3h ago",
            ),
            (
                |t, v| {
                    t.nbf = Some(NOW + 600);
                    *v = Some(Verification::NotYetValid { nbf: NOW + 600 });
                },
                "token-expired",
                "not valid before",
            ),
            (
                |t, _| t.iss = Some("http://localhost:8002".into()),
                "issuer-mismatch",
                "the token's issuer is \"http://localhost:8002\", but \"http://auth-service:8002\" is expected (JWT_ISSUER (.env))",
            ),
            (
                |t, _| t.aud = vec!["admin-api".into(), "web".into()],
                "audience-mismatch",
                "the token's audience is \"admin-api, web\", but \"user-api\" is expected",
            ),
            (|t, _| t.iss = None, "issuer-mismatch", "the token's issuer is \"\""),
        ];
        for (change, id, says) in cases {
            let (mut view, mut verification) = (claims(), Some(Verification::Valid));
            change(&mut view, &mut verification);
            let f = run(&with_token(Ok(view), verification), &expected(), &DockerView::none());
            assert_eq!(f.status, Status::Critical, "{id}: {}", f.summary.en());
            assert_cause(&f, id, Confirmed, says);
            assert!(f.summary.en().contains(says), "{}", f.summary.en());
            let others: Vec<(&str, Verdict)> = verdicts(&f).into_iter().filter(|(c, _)| *c != id).collect();
            assert!(others.iter().all(|(_, v)| *v == RuledOut), "{id}: {others:?}");
        }
    }

    #[test]
    fn tokens_doctor_cannot_fully_judge() {
        let none = DockerView::none();
        for (error, says) in [
            (TokenError::NotAJwt { why: "a JWT has three parts separated by dots; this has 1".into() }, "not a JWT"),
            (TokenError::AlgNone, "the token says alg \"none\""),
        ] {
            let f = run(&with_token(Err(error), None), &expected(), &none);
            assert_eq!(f.status, Status::Critical);
            assert!(f.summary.en().contains(says), "{}", f.summary.en());
            assert_cause(&f, "signature-mismatch", Confirmed, says);
            for id in ["token-expired", "issuer-mismatch", "audience-mismatch"] {
                assert_cause(&f, id, Unchecked, says);
            }
            assert_cause(&f, "jwks-unreachable", RuledOut, "1 key(s)");
        }

        let mut view = claims();
        view.exp = None;
        let f = run(&with_token(Ok(view), Some(Verification::Valid)), &expected(), &none);
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "token-expired", Suspected, "the token has no exp claim");

        let unusable = Verification::Unusable { why: "the JWKS has no key usable for RS256".into() };
        let f = run(&with_token(Ok(claims()), Some(unusable)), &expected(), &none);
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "signature-mismatch", Unchecked, "the JWKS has no key usable for RS256");
        let f = run(&with_token(Ok(claims()), None), &expected(), &none);
        assert_cause(&f, "signature-mismatch", Unchecked, "no JWKS to verify against");

        let f = run(&with_token(Ok(claims()), Some(Verification::Valid)), &Expected::default(), &none);
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "issuer-mismatch", Unchecked, "no expected issuer: set JWT_ISS (or JWT_ISSUER)");
        assert_cause(&f, "audience-mismatch", Unchecked, "no expected audience: set JWT_AUD (or JWT_AUDIENCE)");
    }

    #[test]
    fn auth_service_key_files_and_the_verifiers_settings_add_evidence() {
        let facts = served(vec![key("k1", "ab12")]);
        let run_with = |containers: Vec<ContainerFacts>| -> Finding {
            let docker: DockerFacts = engine(containers);
            run(&facts, &expected(), &view(&docker))
        };

        // No key directory although the JWKS serves a key.
        let mut c = auth_service("ab12");
        c.inside.as_mut().unwrap().keys = Some(Err("ls: cannot access '/app/keys/': No such file or directory".into()));
        let f = run_with(vec![c]);
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "keys-missing", Confirmed, "/app/keys/ is missing in auth-service");

        // A public key on disk that is not the served one.
        let f = run_with(vec![auth_service("ffff")]);
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "signature-mismatch",
            Confirmed,
            "public_key.pem on disk (modulus ffff) is not a key the JWKS serves (ab12)",
        );

        // A verifier expecting another algorithm.
        let f = run_with(vec![running("auth-service"), with_env(running("user-api"), &[("JWT_ALGORITHM", "HS256")])]);
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "signature-mismatch",
            Confirmed,
            "user-api verifies with JWT_ALGORITHM=HS256 but auth-service signs with RS256",
        );

        // A verifier fetching the JWKS from another path; the right path says nothing.
        let f = run_with(vec![
            running("auth-service"),
            with_env(running("user-api"), &[("JWKS_URL", "http://auth-service:8002/.well-known/jwks.json")]),
            with_env(running("admin-api"), &[("JWT_JWKS_URL", "http://auth-service:8002/jwks")]),
        ]);
        assert_eq!(f.status, Status::Warning, "{}", f.summary.en());
        assert_cause(
            &f,
            "jwks-unreachable",
            Suspected,
            "admin-api fetches the JWKS from JWT_JWKS_URL=http://auth-service:8002/jwks",
        );
        assert!(!f.summary.en().contains("user-api fetches"), "{}", f.summary.en());

        // No auth-service container: the key files stay unlooked at.
        let mut docker = engine(vec![]);
        docker.containers.push(missing("auth-service"));
        let f = run(&AuthFacts::default(), &expected(), &view(&docker));
        assert_cause(&f, "keys-missing", Unchecked, "/app/keys not looked at: no container auth-service");
        let docker = engine(vec![exited("auth-service", 1)]);
        let f = run(&AuthFacts::default(), &expected(), &view(&docker));
        assert_cause(&f, "keys-missing", Unchecked, "/app/keys in auth-service: the container is not running");
    }

    #[test]
    fn the_services_leeway_is_allowed_and_said() {
        let none = DockerView::none();
        // 45 s past exp: still accepted by the services (60 s leeway).
        let mut view = claims();
        view.exp = Some(NOW - 45);
        let f = run(&with_token(Ok(view.clone()), Some(Verification::Valid)), &expected(), &none);
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_cause(
            &f,
            "token-expired",
            RuledOut,
            "exp passed 45s ago, at 2025-06-15T15:05:55Z, but within the 60s of clock skew the services allow: still accepted for 15s",
        );
        // 90 s past: expired.
        view.exp = Some(NOW - 90);
        let f = run(&with_token(Ok(view), Some(Verification::Expired { exp: NOW - 90 })), &expected(), &none);
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "token-expired", Confirmed, "expired 90s ago");
        // nbf 45 s ahead: within the leeway; 90 s ahead: not yet valid.
        let mut view = claims();
        view.nbf = Some(NOW + 45);
        let f = run(&with_token(Ok(view.clone()), Some(Verification::Valid)), &expected(), &none);
        assert_cause(&f, "token-expired", RuledOut, "valid until");
        view.nbf = Some(NOW + 90);
        let f = run(&with_token(Ok(view), Some(Verification::NotYetValid { nbf: NOW + 90 })), &expected(), &none);
        assert_cause(&f, "token-expired", Confirmed, "not valid before");
    }

    #[test]
    fn a_refresh_token_given_for_an_access_token_is_said_as_such() {
        let none = DockerView::none();
        for (token_type, scope, claim) in
            [(Some("refresh"), None, "token_type \"refresh\""), (None, Some("refresh"), "scope \"refresh\"")]
        {
            let view =
                TokenView { token_type: token_type.map(str::to_string), scope: scope.map(str::to_string), ..claims() };
            let f = run(&with_token(Ok(view), Some(Verification::Valid)), &expected(), &none);
            assert_eq!(f.status, Status::Critical, "{}", f.summary.en());
            let says = format!(
                "this is a refresh token ({claim}), not an access token: the APIs answer it with \"Invalid token type\""
            );
            assert_cause(&f, "wrong-token-type", Confirmed, &says);
            assert!(f.summary.en().contains(&says), "{}", f.summary.en());
            assert_cause(&f, "signature-mismatch", RuledOut, "signature verified");
            verdicts(&f);
        }
        let view = TokenView { token_type: Some("access".into()), ..claims() };
        let f = run(&with_token(Ok(view), Some(Verification::Valid)), &expected(), &none);
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "wrong-token-type", RuledOut, "token_type \"access\": not a refresh token");
        let f = run(&served(vec![key("k1", "ab12")]), &expected(), &none);
        assert_cause(&f, "wrong-token-type", Unchecked, "give a token with --token JWT");
    }

    #[test]
    fn issuer_and_audience_are_compared_across_spellings() {
        // The spec's stack: auth-service and user-api read JWT_ISS/JWT_AUD, admin-api JWT_ISSUER/JWT_AUDIENCE.
        let stack = |admin_issuer: &str| {
            engine(vec![
                with_env(
                    running("auth-service"),
                    &[("JWT_ISS", "https://auth.example.com"), ("JWT_AUD", "fastapi-api")],
                ),
                with_env(running("user-api"), &[("JWT_ISS", "https://auth.example.com"), ("JWT_AUD", "fastapi-api")]),
                with_env(running("admin-api"), &[("JWT_ISSUER", admin_issuer), ("JWT_AUDIENCE", "fastapi-api")]),
            ])
        };
        let agreed = stack("https://auth.example.com");
        let f = run(&served(vec![key("k1", "ab12")]), &Expected::default(), &view(&agreed));
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_cause(&f, "issuer-mismatch", Unchecked, "give a token");

        let apart = stack("https://auth.example.org");
        let f = run(&served(vec![key("k1", "ab12")]), &Expected::default(), &view(&apart));
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "issuer-mismatch",
            Confirmed,
            "admin-api expects JWT_ISSUER=\"https://auth.example.org\", but auth-service issues \"https://auth.example.com\" (JWT_ISS)",
        );
        assert_cause(&f, "audience-mismatch", Unchecked, "give a token");

        // The two spellings disagreeing in the environment or .env.
        let conflicting = Expected {
            issuer_conflict: Some("JWT_ISS (.env) is \"a\" but JWT_ISSUER (.env) is \"b\"".into()),
            ..expected()
        };
        let f = run(&served(vec![key("k1", "ab12")]), &conflicting, &DockerView::none());
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "issuer-mismatch", Confirmed, "JWT_ISS (.env) is \"a\" but JWT_ISSUER (.env) is \"b\"");
    }

    #[test]
    fn times_at_the_ends_of_the_range_do_not_overflow() {
        // Expired since the beginning of time, and valid until its end: no panic, sensible verdicts.
        for (exp, nbf, expired) in [(i64::MIN, i64::MAX, Confirmed), (i64::MAX, i64::MIN, RuledOut)] {
            let view =
                TokenView { alg: "RS256".into(), exp: Some(exp), nbf: Some(nbf), iat: Some(exp), ..Default::default() };
            let f = diagnose(&with_token(Ok(view), None), &Expected::default(), &DockerView::none());
            assert_eq!(f.verdict_of(Cause::TokenExpired), Some(expired), "{}", f.summary.en());
        }
        assert!(matches!(
            crate::jwt::verify("a.b.c", "{}", None, None, i64::MAX, i64::MAX),
            Verification::Unusable { .. } | Verification::UnknownKid { .. }
        ));
    }
}
