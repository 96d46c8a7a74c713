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
    // AU003 needs authdb and Redis, which this test does not start (see stores_live.rs).
    let (v, out) = auth(&fx, &["--token", "-", "--only", "AU001,AU002"], Some(&token), EXPECT);
    assert_eq!(out.code, 0, "{}", out.stdout);
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
    assert!(table.stdout.contains("What to do") && table.stdout.contains("JWT: alg RS256"), "{}", table.stdout);
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
