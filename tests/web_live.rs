//! Live API, frontend and performance scenarios against the HTTP fixture: a hanging or slow
//! API, Next.js's error page, BFF cookies without HttpOnly or Secure over plain HTTP, a
//! wildcard CORS origin with credentials, a BFF that does not forward the token, a token the
//! API refuses, no cookie at all.

mod support;

use support::report::verdict;

use serde_json::Value;
use std::time::{Duration, Instant};
use support::fixture::Fixture;
use support::{doctor, run};

/// Runs `doctor CMD` with user-api/admin-api/frontends pointed at the given fixtures.
fn doctor_web(cmd_name: &str, api: &str, front: &str, login: bool, extra: &[&str]) -> Value {
    let (mut cmd, dir) = doctor();
    let toml = format!(
        "[services.user-api]\nurl = \"{api}\"\n[services.admin-api]\nurl = \"{api}\"\n\
         [services.user-frontend]\nurl = \"{front}\"\n[services.admin-frontend]\nurl = \"{front}\"\n"
    );
    std::fs::write(dir.path().join("doctor.toml"), toml).unwrap();
    if login {
        cmd.env("DOCTOR_LOGIN_USERNAME", "testuser").env("DOCTOR_LOGIN_PASSWORD", "testpass");
    }
    let out = run(cmd.args([cmd_name, "--no-docker", "--format", "json"]).args(extra));
    assert!(!out.combined().contains("testpass"), "a password was printed");
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

fn first<'a>(v: &'a Value, code: &str) -> &'a Value {
    v["checks"].as_array().unwrap().iter().find(|c| c["code"] == code).unwrap_or_else(|| panic!("no {code}: {v:#}"))
}

#[test]
fn a_healthy_api_is_ok_and_a_slow_one_warns() {
    let api = Fixture::start(&[]);
    let v = doctor_web("api", &api.url(), "http://127.0.0.1:1", false, &[]);
    assert_eq!(first(&v, "API001")["status"], "ok", "{:#}", first(&v, "API001"));
    let slow = Fixture::start(&["latency=2.5"]);
    let v = doctor_web("api", &slow.url(), "http://127.0.0.1:1", false, &[]);
    assert_eq!(first(&v, "API001")["status"], "warning");
    assert!(first(&v, "API001")["summary"].as_str().unwrap().contains("p95 2.50s"), "{:#}", first(&v, "API001"));
    let v = doctor_web("perf", &slow.url(), "http://127.0.0.1:1", false, &[]);
    assert_eq!(first(&v, "PERF001")["status"], "warning");
}

#[test]
fn a_hang_is_told_apart_from_a_refusal_within_the_timeout() {
    let hang = Fixture::start(&["health=hang"]);
    let t = Instant::now();
    let v = doctor_web("api", &hang.url(), "http://127.0.0.1:1", false, &["--timeout", "1s"]);
    assert!(t.elapsed() < Duration::from_millis(2500), "took {:?}", t.elapsed());
    let s = first(&v, "API001")["summary"].as_str().unwrap().to_string();
    assert!(s.contains("hangs"), "{s}");
    let port = support::free_port();
    let v = doctor_web("api", &format!("http://127.0.0.1:{port}"), "http://127.0.0.1:1", false, &[]);
    let s = first(&v, "API001")["summary"].as_str().unwrap().to_string();
    assert!(s.contains("refuses"), "{s}");
    let err = Fixture::start(&["health=500"]);
    let v = doctor_web("api", &err.url(), "http://127.0.0.1:1", false, &[]);
    assert_eq!(first(&v, "API001")["status"], "critical");
}

#[test]
fn nextjs_error_page_is_not_a_healthy_page() {
    let api = Fixture::start(&[]);
    let front = Fixture::start(&["page=nextjs-error"]);
    let v = doctor_web("frontend", &api.url(), &front.url(), false, &[]);
    assert_eq!(first(&v, "FE001")["status"], "critical");
    assert_eq!(verdict(&v, "FE001", "frontend-down"), "ruled-out");
    assert_eq!(verdict(&v, "FE001", "stale-build-cache"), "suspected");
    let down = format!("http://127.0.0.1:{}", support::free_port());
    let v = doctor_web("frontend", &api.url(), &down, false, &[]);
    assert_eq!(verdict(&v, "FE001", "frontend-down"), "confirmed");
}

#[test]
fn bff_cookies_and_cors_are_checked() {
    let api = Fixture::start(&[]);
    let good = Fixture::start(&["role=bff", &format!("upstream={}", api.url())]);
    let v = doctor_web("frontend", &api.url(), &good.url(), true, &[]);
    for code in ["FE001", "FE002", "FE003"] {
        assert_eq!(first(&v, code)["status"], "ok", "{code}: {:#}", first(&v, code));
    }
    // A Secure cookie over plain HTTP is only suspected on a loopback address (where Chrome and
    // Firefox keep it); the unit tests confirm it on any other address.
    let cases: [(&[&str], &str, &str); 4] = [
        (&["cookie=no-httponly"], "cookie-attributes", "confirmed"),
        (&["cookie=samesite-none"], "cookie-attributes", "confirmed"),
        (&["cookie=secure"], "secure-cookie-on-http", "suspected"),
        (&["cors=wildcard"], "cors-credentials", "confirmed"),
    ];
    for (modes, cause, expected) in cases {
        let mut m = vec!["role=bff".to_string(), format!("upstream={}", api.url())];
        m.extend(modes.iter().map(|s| s.to_string()));
        let bff = Fixture::start(&m.iter().map(String::as_str).collect::<Vec<_>>());
        let v = doctor_web("frontend", &api.url(), &bff.url(), true, &[]);
        assert_eq!(verdict(&v, "FE002", cause), expected, "{modes:?}: {:#}", first(&v, "FE002"));
    }
}

#[test]
fn a_401_through_the_bff_is_told_apart_by_cause() {
    let api = Fixture::start(&[]);
    let no_forward = Fixture::start(&["role=bff", &format!("upstream={}", api.url()), "bff=no-forward"]);
    let v = doctor_web("frontend", &api.url(), &no_forward.url(), true, &[]);
    assert_eq!(verdict(&v, "FE003", "token-not-forwarded"), "confirmed", "{:#}", first(&v, "FE003"));

    let foreign = Fixture::start(&["role=bff", &format!("upstream={}", api.url()), "issuer=someone-else"]);
    let v = doctor_web("frontend", &api.url(), &foreign.url(), true, &[]);
    assert_eq!(verdict(&v, "FE003", "token-invalid"), "confirmed", "{:#}", first(&v, "FE003"));

    let no_cookie = Fixture::start(&["role=bff", &format!("upstream={}", api.url()), "cookie=none"]);
    let v = doctor_web("frontend", &api.url(), &no_cookie.url(), true, &[]);
    assert_eq!(verdict(&v, "FE003", "cookie-missing"), "confirmed", "{:#}", first(&v, "FE003"));
    assert_eq!(verdict(&v, "FE002", "cookie-attributes"), "confirmed");
}

#[test]
fn perf_reads_p95_latency_from_prometheus_when_it_answers() {
    let api = Fixture::start(&[]);
    let prom = Fixture::start(&["prom-p95=user-api:1.8,admin-api:0.12"]);
    let extra = format!("[services.prometheus]\nurl = \"{}\"\n", prom.url());
    let (mut cmd, dir) = doctor();
    let toml = format!("[services.user-api]\nurl = \"{0}\"\n[services.admin-api]\nurl = \"{0}\"\n{extra}", api.url());
    std::fs::write(dir.path().join("doctor.toml"), toml).unwrap();
    let out = run(cmd.args(["perf", "--no-docker", "--format", "json", "--only", "PERF001"]));
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let p = first(&v, "PERF001");
    assert_eq!(p["status"], "warning", "{p:#}");
    assert_eq!(p["evidence"]["latency_source"], "prometheus");
    assert!(p["summary"].as_str().unwrap().contains("user-api p95 1.80s (Prometheus)"), "{p:#}");

    // No Prometheus: the APIs' own /metrics, and a note on why Prometheus was not used.
    let port = support::free_port();
    let (mut cmd, dir) = doctor();
    let toml = format!(
        "[services.user-api]\nurl = \"{0}\"\n[services.admin-api]\nurl = \"{0}\"\n[services.prometheus]\nurl = \"http://127.0.0.1:{port}\"\n",
        api.url()
    );
    std::fs::write(dir.path().join("doctor.toml"), toml).unwrap();
    let out = run(cmd.args(["perf", "--no-docker", "--format", "json", "--only", "PERF001"]));
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let p = first(&v, "PERF001");
    assert_eq!(p["status"], "ok", "{p:#}");
    assert!(p["evidence"]["prometheus"].as_str().unwrap().contains("not used"), "{p:#}");
}

#[test]
fn a_spinner_shows_what_is_pending_on_a_terminal_and_never_in_a_pipe_or_json() {
    let hang = Fixture::start(&["health=hang"]);
    let (mut cmd, dir) = doctor();
    std::fs::write(
        dir.path().join("doctor.toml"),
        format!("[services.user-api]\nurl = \"{0}\"\n[services.admin-api]\nurl = \"{0}\"\n", hang.url()),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_doctor");
    // `script` gives doctor a terminal; what it prints there comes back on script's stdout.
    let on_tty = |format: &str| {
        let mut c = doctor_with_cwd(dir.path());
        c.args(["-qfec", &format!("{bin} api --no-docker --timeout 1s --format {format}"), "/dev/null"]);
        run(&mut c).stdout
    };
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let tty = on_tty("table");
    assert!(tty.contains("waiting for APIs/frontends"), "{tty}");
    assert!(tty.contains("\r\x1b[K"), "the spinner erases its line");
    let tty_json = on_tty("json");
    assert!(!tty_json.contains("waiting for APIs"), "{tty_json}");
    let piped = run(cmd.args(["api", "--no-docker", "--timeout", "1s"]));
    assert!(!piped.combined().contains("waiting for APIs"), "{}", piped.stderr);
}

/// A `script` command with doctor's clean environment, run from `cwd`.
fn doctor_with_cwd(cwd: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new("script");
    c.env_clear();
    for key in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(key) {
            c.env(key, v);
        }
    }
    c.env("NO_COLOR", "1").env("DOCTOR_LANG", "en").env("TERM", "dumb").current_dir(cwd);
    c
}
