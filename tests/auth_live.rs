//! Live auth-service scenarios against the HTTP fixture: each misbehaviour of the runbook's
//! AU001/AU002 reproduced for real (a rotated key, an expired or foreign-signed token, a broken
//! or weak JWKS, a hanging service, wrong and inactive logins) and the verdict asserted.

mod support;

use support::report::{check, evidence, verdict};

use serde_json::Value;
use std::time::{Duration, Instant};
use support::fixture::Fixture;
use support::{Output, doctor, run, run_with_stdin};

fn auth(fx: &Fixture, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> (Value, Output) {
    let (mut cmd, _d) = doctor();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(["auth", "--no-docker", "--format", "json", "--url", &fx.url()]).args(args);
    let out = match stdin {
        Some(s) => run_with_stdin(&mut cmd, s),
        None => run(&mut cmd),
    };
    let v = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    (v, out)
}

const EXPECT: &[(&str, &str)] = &[("JWT_ISSUER", "auth-service"), ("JWT_AUDIENCE", "ai-micro-service")];

#[test]
fn a_healthy_service_and_a_good_token_are_ok() {
    let fx = Fixture::start(&[]);
    let token = fx.token("exp=600");
    // AU003 needs authdb and Redis, which this test does not start (see stores_live.rs); a
    // login that works is AU001's evidence that logins work.
    let login = [EXPECT, &[("DOCTOR_LOGIN_USERNAME", "testuser"), ("DOCTOR_LOGIN_PASSWORD", "testpass")]].concat();
    let (v, out) = auth(&fx, &["--token", "-", "--only", "AU001,AU002"], Some(&token), &login);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(check(&v, "AU001")["summary"].as_str().unwrap().contains("logged in"), "{}", out.stdout);
    for id in [
        "signature-mismatch",
        "token-expired",
        "issuer-mismatch",
        "audience-mismatch",
        "keys-missing",
        "jwks-unreachable",
    ] {
        assert_eq!(verdict(&v, "AU002", id), "ruled-out", "{id}");
    }
    assert!(!out.combined().contains(&token), "the token was printed");
    let sig = token.rsplit('.').next().unwrap();
    assert!(!out.combined().contains(sig), "the signature was printed");
    assert_eq!(check(&v, "AU002")["evidence"]["token"]["kid"], "key-current");
}

/// The review's false ok: auth-service's /health answers ok while PostgreSQL and Redis are
/// down, and no login was tried. AU001 says it could not tell, naming what it could not try.
#[test]
fn a_healthy_answer_while_the_stores_are_down_is_not_ok_without_a_login() {
    let fx = Fixture::start(&[]);
    let dead = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (pg, rd) =
        (format!("postgresql://postgres:pw@127.0.0.1:{}/authdb", dead()), format!("redis://127.0.0.1:{}", dead()));
    for lang in ["en", "ja"] {
        let env = [("DATABASE_URL", pg.as_str()), ("REDIS_URL", rd.as_str()), ("DOCTOR_LANG", lang)];
        let (v, out) = auth(&fx, &["--only", "AU001"], None, &env);
        assert_eq!(check(&v, "AU001")["status"], "unknown", "{}", out.stdout);
        assert_eq!(out.code, 3, "{}", out.stdout);
        let summary = check(&v, "AU001")["summary"].as_str().unwrap().to_string();
        let says = if lang == "en" { "no login was tried" } else { "ログインも試行していない" };
        assert!(summary.contains("PostgreSQL (PG001), Redis (RD001)") && summary.contains(says), "{summary}");
        assert_eq!(verdict(&v, "AU001", "database-error"), "suspected");
        assert_eq!(verdict(&v, "AU001", "redis-error"), "suspected");
    }
    // A login that works settles it, whatever doctor's own connections say.
    let env = [("DATABASE_URL", pg.as_str()), ("REDIS_URL", rd.as_str())];
    let (v, out) = auth(&fx, &["--login-stdin", "--only", "AU001"], Some("testuser\ntestpass\n"), &env);
    assert_eq!(check(&v, "AU001")["status"], "ok", "{}", out.stdout);
}

#[test]
fn an_expired_token_says_since_when_and_what_to_do() {
    let fx = Fixture::start(&[]);
    let (v, out) = auth(&fx, &["--token", "-"], Some(&fx.token("exp=-7200")), EXPECT);
    assert_eq!(out.code, 2);
    assert_eq!(verdict(&v, "AU002", "token-expired"), "confirmed");
    let ev = evidence(&v, "AU002", "token-expired");
    assert!(ev.contains("expired 2h ago") || ev.contains("expired 120m ago"), "{ev}");
    let (mut cmd, _d) = doctor();
    let table =
        run_with_stdin(cmd.args(["auth", "--no-docker", "--url", &fx.url(), "--token", "-"]), &fx.token("exp=-7200"));
    assert!(
        table.stdout.contains("Fix (token-expired)") && table.stdout.contains("JWT: alg RS256"),
        "{}",
        table.stdout
    );
}

#[test]
fn a_token_signed_by_a_rotated_key_names_the_missing_kid() {
    let fx = Fixture::start(&["jwks=rotated"]);
    let (v, _) = auth(&fx, &["--token", &fx.token("exp=600")], None, EXPECT);
    assert_eq!(verdict(&v, "AU002", "signature-mismatch"), "confirmed");
    let ev = evidence(&v, "AU002", "signature-mismatch");
    assert!(ev.contains("\"key-current\" is not in the JWKS") && ev.contains("key-rotated"), "{ev}");
}

#[test]
fn a_foreign_signed_token_is_a_bad_signature() {
    let fx = Fixture::start(&[]);
    let (v, _) = auth(&fx, &["--token", &fx.token("exp=600&key=rotated&kid=key-current")], None, EXPECT);
    assert_eq!(verdict(&v, "AU002", "signature-mismatch"), "confirmed");
    assert!(evidence(&v, "AU002", "signature-mismatch").contains("does not verify"));
}

#[test]
fn wrong_issuer_audience_and_not_yet_valid_are_told_apart() {
    let fx = Fixture::start(&[]);
    let (v, _) = auth(&fx, &["--token", &fx.token("exp=600&iss=http://localhost:8002")], None, EXPECT);
    assert_eq!(verdict(&v, "AU002", "issuer-mismatch"), "confirmed");
    assert_eq!(verdict(&v, "AU002", "audience-mismatch"), "ruled-out");
    let (v, _) = auth(&fx, &["--token", &fx.token("exp=600&aud=other-api")], None, EXPECT);
    assert_eq!(verdict(&v, "AU002", "audience-mismatch"), "confirmed");
    let (v, _) = auth(&fx, &["--token", &fx.token("exp=3600&nbf=1800")], None, EXPECT);
    assert_eq!(verdict(&v, "AU002", "token-expired"), "confirmed");
    assert!(evidence(&v, "AU002", "token-expired").contains("not valid before"));
}

#[test]
fn not_a_jwt_and_alg_none_are_plain_findings() {
    let fx = Fixture::start(&[]);
    let (v, out) = auth(&fx, &["--token", "definitely-not-a-token"], None, &[]);
    assert_eq!(out.code, 2);
    assert!(check(&v, "AU002")["summary"].as_str().unwrap().contains("not a JWT"));
    let (v, _) = auth(&fx, &["--token", &fx.token("alg=none")], None, &[]);
    assert!(check(&v, "AU002")["summary"].as_str().unwrap().contains("alg \"none\""));
    assert_eq!(verdict(&v, "AU002", "signature-mismatch"), "confirmed");
}

#[test]
fn broken_empty_and_weak_key_sets_are_reported() {
    let fx = Fixture::start(&["jwks=broken"]);
    let (v, _) = auth(&fx, &[], None, &[]);
    assert_eq!(verdict(&v, "AU002", "jwks-unreachable"), "confirmed");
    assert!(evidence(&v, "AU002", "jwks-unreachable").contains("not valid JSON"));
    let fx = Fixture::start(&["jwks=empty"]);
    let (v, _) = auth(&fx, &[], None, &[]);
    assert_eq!(verdict(&v, "AU002", "keys-missing"), "confirmed");
    let fx = Fixture::start(&["jwks=weak"]);
    let (v, _) = auth(&fx, &[], None, &[]);
    assert_eq!(check(&v, "AU002")["status"], "warning");
    assert!(check(&v, "AU002")["summary"].as_str().unwrap().contains("only 1024 bits"));
    let fx = Fixture::start(&["jwks=500"]);
    let (v, _) = auth(&fx, &[], None, &[]);
    assert_eq!(verdict(&v, "AU002", "jwks-unreachable"), "confirmed");
}

#[test]
fn a_hanging_auth_service_costs_no_more_than_the_timeout() {
    let fx = Fixture::start(&["health=hang", "jwks=hang"]);
    let started = Instant::now();
    let (v, out) = auth(&fx, &["--timeout", "1s"], None, &[]);
    let took = started.elapsed();
    assert_eq!(out.code, 2);
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    assert_eq!(verdict(&v, "AU002", "jwks-unreachable"), "confirmed");
    assert!(check(&v, "AU001")["summary"].as_str().unwrap().contains("no answer in time"), "{:#}", check(&v, "AU001"));
}

#[test]
fn logins_from_the_environment_or_stdin_tell_the_causes_apart() {
    let fx = Fixture::start(&[]);
    fn creds<'a>(u: &'a str, p: &'a str) -> Vec<(&'static str, &'a str)> {
        vec![("DOCTOR_LOGIN_USERNAME", u), ("DOCTOR_LOGIN_PASSWORD", p)]
    }
    let ok = creds("testuser", "testpass");
    let (v, out) = auth(&fx, &[], None, &ok);
    assert_eq!(check(&v, "AU001")["status"], "ok", "{:#}", check(&v, "AU001"));
    assert!(!out.combined().contains("testpass"));
    let bad = creds("testuser", "Wrong-Pass-9");
    let (v, out) = auth(&fx, &[], None, &bad);
    assert_eq!(verdict(&v, "AU001", "wrong-password"), "confirmed");
    assert!(!out.combined().contains("Wrong-Pass-9"));
    let (v, _) = auth(&fx, &["--login-stdin"], Some("inactive\ntestpass\n"), &[]);
    assert_eq!(verdict(&v, "AU001", "user-inactive"), "confirmed");
    let fx = Fixture::start(&["login=500"]);
    let (v, _) = auth(&fx, &[], None, &ok);
    assert_eq!(verdict(&v, "AU001", "database-error"), "confirmed");
    let fx = Fixture::start(&["login=redis-error"]);
    let (v, _) = auth(&fx, &[], None, &ok);
    assert_eq!(verdict(&v, "AU001", "redis-error"), "confirmed");
}

// ---------------------------------------------------------------------------------------------
// auth-service as its specification has it (the fixture's `spec` mode)

const SPEC_EXPECT: &[(&str, &str)] = &[("JWT_ISS", "https://auth.example.com"), ("JWT_AUD", "fastapi-api")];
const SPEC_LOGIN: &[(&str, &str)] =
    &[("DOCTOR_LOGIN_USERNAME", "test@example.com"), ("DOCTOR_LOGIN_PASSWORD", "testpass")];

#[test]
fn the_spec_login_is_found_at_auth_login_with_email_and_tried_no_further() {
    let fx = Fixture::start(&["spec", "role=auth"]);
    let (v, out) = auth(&fx, &["--only", "AU001"], None, SPEC_LOGIN);
    let au001 = check(&v, "AU001");
    assert_eq!(au001["status"], "ok", "{au001:#}");
    assert!(
        au001["summary"].as_str().unwrap().contains("test@example.com logged in (HTTP 200) at /auth/login"),
        "{au001:#}"
    );
    assert_eq!(au001["evidence"]["login_path"], "/auth/login");
    assert_eq!(au001["evidence"]["health_body"]["components"]["redis"], "ok");
    assert!(!out.combined().contains("testpass"));
    let posts: Vec<String> = fx.requests().into_iter().filter(|(m, _)| m == "POST").map(|(_, p)| p).collect();
    assert_eq!(posts, ["/auth/login"], "one login attempt, no more");

    // The runbook's auth-service: the spec's paths are 404s, then its own answers; three attempts.
    let runbook = Fixture::start(&[]);
    let (v, _) = auth(
        &runbook,
        &["--only", "AU001"],
        None,
        &[("DOCTOR_LOGIN_USERNAME", "testuser"), ("DOCTOR_LOGIN_PASSWORD", "testpass")],
    );
    assert_eq!(check(&v, "AU001")["evidence"]["login_path"], "/api/auth/login", "{:#}", check(&v, "AU001"));
    let posts: Vec<String> = runbook.requests().into_iter().filter(|(m, _)| m == "POST").map(|(_, p)| p).collect();
    assert_eq!(posts, ["/auth/login", "/api/v1/auth/login", "/api/auth/login"]);

    // The versioned path, the wrapped answer, an inactive account.
    let v1 = Fixture::start(&["spec", "role=auth", "login-path=/api/v1/auth/login", "login-body=wrapped"]);
    let (v, _) = auth(&v1, &["--only", "AU001"], None, SPEC_LOGIN);
    let au001 = check(&v, "AU001");
    assert_eq!(au001["status"], "ok", "{au001:#}");
    assert_eq!(au001["evidence"]["login_path"], "/api/v1/auth/login");
    assert_eq!(au001["evidence"]["login_token_field"], "data.access_token");
    // The tokens of that answer are in no output, not in -v, not in --dump-facts.
    let dir = tempfile::tempdir().unwrap();
    let facts = dir.path().join("facts.json");
    let (_, out) = auth(&v1, &["-v", "--dump-facts", facts.to_str().unwrap()], None, SPEC_LOGIN);
    let dumped = std::fs::read_to_string(&facts).expect("--dump-facts wrote the file");
    for text in [out.combined(), dumped] {
        assert!(!text.contains("eyJ"), "a JWT came out: {text}");
        assert!(!text.contains("testpass"));
    }
    let (v, _) = auth(&fx, &["--login-stdin", "--only", "AU001"], Some("inactive@example.com\ntestpass\n"), &[]);
    assert_eq!(verdict(&v, "AU001", "user-inactive"), "confirmed", "{:#}", check(&v, "AU001"));
    assert!(evidence(&v, "AU001", "user-inactive").contains("Account inactive"));
}

#[test]
fn an_unhealthy_spec_health_fails_auth_even_with_http_200() {
    let fx = Fixture::start(&["spec", "role=auth", "health=unhealthy"]);
    let (v, out) = auth(&fx, &["--only", "AU001"], None, &[]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let au001 = check(&v, "AU001");
    assert!(au001["summary"].as_str().unwrap().contains("→ HTTP 200, but the body says unhealthy"), "{au001:#}");
    assert_eq!(verdict(&v, "AU001", "database-error"), "suspected");
    assert!(evidence(&v, "AU001", "database-error").contains("/health reports database: error: connection refused"));
    assert_eq!(verdict(&v, "AU001", "redis-error"), "ruled-out");
    let fx = Fixture::start(&["spec", "role=auth", "health=503:redis"]);
    let (v, _) = auth(&fx, &["--only", "AU001"], None, SPEC_LOGIN);
    assert_eq!(check(&v, "AU001")["status"], "critical");
    assert_eq!(verdict(&v, "AU001", "redis-error"), "suspected", "the login itself worked");

    // No health endpoint at all: never ok.
    let none = Fixture::start(&["spec", "role=bff"]);
    let (v, out) = auth(&none, &["--only", "AU001"], None, &[]);
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(check(&v, "AU001")["summary"].as_str().unwrap().starts_with("no health endpoint at /health, /healthz"));
}

#[test]
fn spec_tokens_are_judged_with_the_services_leeway_and_their_type() {
    let fx = Fixture::start(&["spec", "role=auth"]);
    let (v, out) = auth(&fx, &["--token", "-", "--only", "AU002"], Some(&fx.token("exp=600")), SPEC_EXPECT);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(verdict(&v, "AU002", "issuer-mismatch"), "ruled-out");
    assert!(evidence(&v, "AU002", "issuer-mismatch").contains("(JWT_ISS (environment))"), "{:#}", check(&v, "AU002"));
    assert_eq!(verdict(&v, "AU002", "wrong-token-type"), "ruled-out");
    assert_eq!(check(&v, "AU002")["evidence"]["token"]["kid"], "key-1");

    // 45 s past exp: the services still accept it; 90 s: expired.
    let (v, out) = auth(&fx, &["--token", "-", "--only", "AU002"], Some(&fx.token("exp=-45")), SPEC_EXPECT);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(verdict(&v, "AU002", "token-expired"), "ruled-out");
    assert!(evidence(&v, "AU002", "token-expired").contains("within the 60s of clock skew the services allow"));
    let (v, out) = auth(&fx, &["--token", "-", "--only", "AU002"], Some(&fx.token("exp=-90")), SPEC_EXPECT);
    assert_eq!(out.code, 2);
    assert_eq!(verdict(&v, "AU002", "token-expired"), "confirmed");

    // The refresh token of a real login, given where an access token is expected.
    let (status, body) = fx.post_json("/auth/login", r#"{"email":"test@example.com","password":"testpass"}"#);
    assert_eq!(status, 200, "{body}");
    let refresh = serde_json::from_str::<Value>(&body).unwrap()["refresh_token"].as_str().unwrap().to_string();
    let (v, out) = auth(&fx, &["--token", "-", "--only", "AU002"], Some(&refresh), SPEC_EXPECT);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert_eq!(verdict(&v, "AU002", "wrong-token-type"), "confirmed");
    let said = check(&v, "AU002")["summary"].as_str().unwrap().to_string();
    assert!(said.contains("this is a refresh token (token_type \"refresh\"), not an access token"), "{said}");
    assert!(said.contains("Invalid token type"), "{said}");
    assert_eq!(verdict(&v, "AU002", "signature-mismatch"), "ruled-out", "it verifies: only its type is wrong");
    assert!(!out.combined().contains(&refresh), "the refresh token was printed");
}

#[test]
fn admin_apis_jwt_issuer_against_auths_jwt_iss_is_an_issuer_mismatch() {
    let Some(lab) = support::lab::Lab::new() else { return };
    use support::lab::{ContainerSpec, Image, image};
    let fixture = |name: &str, modes: &str, env: &[(&str, &str)]| {
        let mut env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        env.push(("FIXTURE_MODES".into(), modes.into()));
        env.push(("FIXTURE_LISTEN".into(), "0.0.0.0:8000".into()));
        lab.run(ContainerSpec {
            name: name.into(),
            image: image(Image::Fixture),
            env,
            networks: vec![(name.into(), vec![])],
            publish: vec!["127.0.0.1:0:8000".into()],
            ..Default::default()
        });
    };
    fixture("auth-service", "spec,role=auth", &[("JWT_ISS", "https://auth.example.com"), ("JWT_AUD", "fastapi-api")]);
    fixture("user-api", "spec,role=user-api", &[("JWT_ISS", "https://auth.example.com"), ("JWT_AUD", "fastapi-api")]);
    let admin = [("JWT_ISSUER", "https://auth.example.org"), ("JWT_AUDIENCE", "fastapi-api")];
    fixture("admin-api", "spec,role=admin-api", &admin);
    lab.wait_log("auth-service", "listening on");
    let port = lab.published_port("auth-service", 8000);

    let (mut cmd, dir) = doctor();
    let toml: String = ["auth-service", "user-api", "admin-api"]
        .iter()
        .map(|s| format!("[services.{s}]\ncontainer = \"{}\"\n", lab.name(s)))
        .collect();
    std::fs::write(dir.path().join("doctor.toml"), toml).unwrap();
    let out = run(cmd
        .args(["auth", "--only", "AU002", "--format", "json", "--timeout", "3s", "--url"])
        .arg(format!("http://127.0.0.1:{port}")));
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    assert_eq!(verdict(&v, "AU002", "issuer-mismatch"), "confirmed", "{:#}", check(&v, "AU002"));
    let ev = evidence(&v, "AU002", "issuer-mismatch");
    assert!(
        ev.contains("admin-api expects JWT_ISSUER=\"https://auth.example.org\"")
            && ev.contains("issues \"https://auth.example.com\" (JWT_ISS)"),
        "{ev}"
    );
    assert!(!ev.contains("user-api expects"), "user-api agrees with auth-service: {ev}");
    assert_eq!(verdict(&v, "AU002", "audience-mismatch"), "unchecked", "{:#}", check(&v, "AU002"));
}

#[test]
fn a_locked_account_and_the_rate_limit_are_their_own_causes() {
    // The spec's lockout, made for real: four wrong passwords are 401s, the fifth locks.
    let fx = Fixture::start(&["spec", "role=auth", "lockout"]);
    let wrong = r#"{"email":"test@example.com","password":"Wrong-Pass-9"}"#;
    for _ in 0..4 {
        assert_eq!(fx.post_json("/auth/login", wrong).0, 401);
    }
    let (status, body) = fx.post_json("/auth/login", wrong);
    assert_eq!((status, body.contains("Account locked due to too many failed login attempts")), (403, true), "{body}");
    // Now even the right password is refused until locked_until.
    let (v, out) = auth(&fx, &["--only", "AU001"], None, SPEC_LOGIN);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert_eq!(verdict(&v, "AU001", "account-locked"), "confirmed", "{:#}", check(&v, "AU001"));
    assert!(evidence(&v, "AU001", "account-locked").contains("Account locked until "), "{:#}", check(&v, "AU001"));
    assert_eq!(verdict(&v, "AU001", "user-inactive"), "ruled-out");
    assert_eq!(verdict(&v, "AU001", "rate-limited"), "ruled-out");
    assert_eq!(verdict(&v, "AU001", "wrong-password"), "unchecked", "the lock is checked before the password");
    assert!(!out.combined().contains("testpass"));
    // An inactive account is still told apart from a locked one.
    let (v, _) = auth(&fx, &["--login-stdin", "--only", "AU001"], Some("inactive@example.com\ntestpass\n"), &[]);
    assert_eq!(verdict(&v, "AU001", "user-inactive"), "confirmed");
    assert_eq!(verdict(&v, "AU001", "account-locked"), "ruled-out");

    // The rate limit, made for real: three attempts allowed a minute, doctor's is the fourth.
    let fx = Fixture::start(&["spec", "role=auth", "rate-limit=3"]);
    for _ in 0..3 {
        assert_eq!(fx.post_json("/auth/login", wrong).0, 401);
    }
    let (v, out) = auth(&fx, &["--only", "AU001"], None, SPEC_LOGIN);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert_eq!(verdict(&v, "AU001", "rate-limited"), "confirmed", "{:#}", check(&v, "AU001"));
    assert!(evidence(&v, "AU001", "rate-limited").contains("Too many login attempts"));
    assert_eq!(verdict(&v, "AU001", "account-locked"), "ruled-out");
    assert_eq!(verdict(&v, "AU001", "user-inactive"), "ruled-out");
    assert_eq!(verdict(&v, "AU001", "wrong-password"), "unchecked");
    // A fresh window: the same login works.
    let fx = Fixture::start(&["spec", "role=auth", "rate-limit=3", "lockout"]);
    let (v, _) = auth(&fx, &["--only", "AU001"], None, SPEC_LOGIN);
    assert_eq!(check(&v, "AU001")["status"], "ok", "{:#}", check(&v, "AU001"));
    assert_eq!(verdict(&v, "AU001", "rate-limited"), "ruled-out");
}
