//! Live API, frontend and performance scenarios against the HTTP fixture: a hanging or slow
//! API, Next.js's error page, BFF cookies without HttpOnly or Secure over plain HTTP, a
//! wildcard CORS origin with credentials, a BFF that does not forward the token, a token the
//! API refuses, no cookie at all.

mod support;

use support::report::{evidence, verdict};

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
    // The stack's alerts: p95 above 500 ms warns, above 1 s is critical.
    let slow = Fixture::start(&["latency=0.75"]);
    let v = doctor_web("api", &slow.url(), "http://127.0.0.1:1", false, &[]);
    assert_eq!(first(&v, "API001")["status"], "warning", "{:#}", first(&v, "API001"));
    let v = doctor_web("perf", &slow.url(), "http://127.0.0.1:1", false, &[]);
    assert_eq!(first(&v, "PERF001")["status"], "warning");
    let slower = Fixture::start(&["latency=2.5"]);
    let v = doctor_web("api", &slower.url(), "http://127.0.0.1:1", false, &[]);
    assert_eq!(first(&v, "API001")["status"], "critical");
    assert!(first(&v, "API001")["summary"].as_str().unwrap().contains("p95 2.50s"), "{:#}", first(&v, "API001"));
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
    assert_eq!(p["status"], "critical", "1.8 s is above the critical 1 s: {p:#}");
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

// ---------------------------------------------------------------------------------------------
// The stack as its specification has it (the fixture's `spec` mode)

/// Runs `doctor CMD` with each `(service, url)` named in doctor.toml, the spec's test user's
/// credentials when `login`, and the report as JSON.
fn doctor_spec(cmd_name: &str, services: &[(&str, &str)], login: bool, extra: &[&str]) -> Value {
    let (mut cmd, dir) = doctor();
    let toml: String = services.iter().map(|(s, url)| format!("[services.{s}]\nurl = \"{url}\"\n")).collect();
    std::fs::write(dir.path().join("doctor.toml"), toml).unwrap();
    if login {
        cmd.env("DOCTOR_LOGIN_USERNAME", "test@example.com").env("DOCTOR_LOGIN_PASSWORD", "testpass");
    }
    let out = run(cmd.args([cmd_name, "--no-docker", "--format", "json"]).args(extra));
    assert!(!out.combined().contains("testpass"), "a password was printed");
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

/// Every check of `code` (one per target).
fn all_of<'a>(v: &'a Value, code: &str) -> Vec<&'a Value> {
    v["checks"].as_array().unwrap().iter().filter(|c| c["code"] == code).collect()
}

/// The spec's auth-service, user-api and admin-api, and a BFF forwarding to them.
struct SpecStack {
    auth: Fixture,
    user_api: Fixture,
    admin_api: Fixture,
    bff: Fixture,
}

impl SpecStack {
    fn start(api_modes: &[&str]) -> SpecStack {
        let auth = Fixture::start(&["spec", "role=auth"]);
        let mut user_modes = vec!["spec", "role=user-api"];
        user_modes.extend(api_modes);
        let user_api = Fixture::start(&user_modes);
        let mut admin_modes = vec!["spec", "role=admin-api"];
        admin_modes.extend(api_modes);
        let admin_api = Fixture::start(&admin_modes);
        let (auth_url, api_url) = (auth.url(), user_api.url());
        let bff = Fixture::start_with_env(
            &["spec", "role=bff"],
            &[("AUTH_SERVER_URL", &auth_url), ("API_SERVER_URL", &api_url), ("NODE_ENV", "development")],
        );
        SpecStack { auth, user_api, admin_api, bff }
    }

    fn urls(&self) -> Vec<(&'static str, String)> {
        vec![
            ("auth-service", self.auth.url()),
            ("user-api", self.user_api.url()),
            ("admin-api", self.admin_api.url()),
            ("user-frontend", self.bff.url()),
            ("admin-frontend", self.bff.url()),
        ]
    }

    fn doctor(&self, cmd: &str, login: bool) -> Value {
        let urls = self.urls();
        let services: Vec<(&str, &str)> = urls.iter().map(|(s, u)| (*s, u.as_str())).collect();
        doctor_spec(cmd, &services, login, &[])
    }
}

#[test]
fn a_healthy_spec_stack_is_ok_through_its_own_routes() {
    let stack = SpecStack::start(&[]);
    let v = stack.doctor("api", false);
    for api in all_of(&v, "API001") {
        assert_eq!(api["status"], "ok", "{api:#}");
        assert!(api["summary"].as_str().unwrap().starts_with("/healthz answered in"), "{api:#}");
        assert_eq!(api["evidence"]["health_path"], "/healthz");
        assert_eq!(api["evidence"]["health_body"]["components"]["database"], "ok");
    }

    let v = stack.doctor("frontend", true);
    for code in ["FE001", "FE002", "FE003"] {
        for c in all_of(&v, code) {
            assert_eq!(c["status"], "ok", "{code}: {c:#}");
        }
    }
    let fe001 = first(&v, "FE001");
    assert!(fe001["summary"].as_str().unwrap().contains("/api/health answered in"), "{fe001:#}");
    let fe003 = first(&v, "FE003");
    assert_eq!(fe003["evidence"]["bff_path"], "/api/profile", "{fe003:#}");
    assert!(fe003["summary"].as_str().unwrap().contains("at /api/profile"), "{fe003:#}");
    let fe002 = first(&v, "FE002");
    assert!(
        evidence(&v, "FE002", "cookie-attributes")
            .contains("access_token; HttpOnly; SameSite=Strict; Path=/; Max-Age=900"),
        "{fe002:#}"
    );

    // The BFF forwarded the login to auth-service's /auth/login, and its profile call to user-api's /profile.
    assert!(stack.auth.requests().contains(&("POST".into(), "/auth/login".into())), "{:?}", stack.auth.requests());
    assert!(stack.user_api.requests().contains(&("GET".into(), "/profile".into())), "{:?}", stack.user_api.requests());
    // Neither runbook-only route was needed.
    assert!(!stack.bff.requests().iter().any(|(_, p)| p == "/api/users/profile"), "{:?}", stack.bff.requests());
}

#[test]
fn an_unhealthy_body_and_a_503_are_failures_that_name_the_component() {
    // HTTP 200 with {"status":"unhealthy","database":"error"}.
    let stack = SpecStack::start(&["health=unhealthy"]);
    let v = stack.doctor("api", false);
    for api in all_of(&v, "API001") {
        assert_eq!(api["status"], "critical", "{api:#}");
        let s = api["summary"].as_str().unwrap();
        assert!(
            s.contains("/healthz answers HTTP 200 but says the service is unhealthy") && s.contains("database: error"),
            "{s}"
        );
        let slow_db = api["causes"].as_array().unwrap().iter().find(|c| c["id"] == "slow-database").unwrap();
        assert_eq!(slow_db["verdict"], "confirmed", "{api:#}");
    }

    // HTTP 503 with Redis in error.
    let stack = SpecStack::start(&["health=503:redis"]);
    let v = stack.doctor("api", false);
    for api in all_of(&v, "API001") {
        assert_eq!(api["status"], "critical", "{api:#}");
        assert!(
            api["summary"]
                .as_str()
                .unwrap()
                .contains("/healthz answers HTTP 503; it reports status unhealthy, database: ok, redis: error"),
            "{api:#}"
        );
    }

    // The BFF's /api/health answering 503 beside a page that renders: a warning.
    let sick_bff = Fixture::start(&["spec", "role=bff", "health=503"]);
    let v =
        doctor_spec("frontend", &[("user-frontend", &sick_bff.url()), ("admin-frontend", &sick_bff.url())], false, &[]);
    assert_eq!(first(&v, "FE001")["status"], "warning", "{:#}", first(&v, "FE001"));
    assert_eq!(verdict(&v, "FE001", "backend-unreachable"), "suspected");
}

#[test]
fn no_health_endpoint_at_any_path_is_never_ok() {
    // A service that has neither /healthz nor /health (here the spec's BFF).
    let none = Fixture::start(&["spec", "role=bff"]);
    let v = doctor_spec("api", &[("user-api", &none.url()), ("admin-api", &none.url())], false, &[]);
    let api = first(&v, "API001");
    assert_eq!(api["status"], "unknown", "{api:#}");
    assert!(
        api["summary"].as_str().unwrap().starts_with("no health endpoint at /healthz, /health (HTTP 404)"),
        "{api:#}"
    );
    assert_eq!(api["evidence"]["health_tried"][0]["status"], 404);
}

#[test]
fn the_runbooks_routes_are_still_found_after_the_specs() {
    // The runbook's picture: /healthz is a 404, /health answers; the BFF's /api/profile is a
    // 404, /api/users/profile answers; user-api's /profile too.
    let api = Fixture::start(&[]);
    let bff = Fixture::start(&["role=bff", &format!("upstream={}", api.url())]);
    let v = doctor_web("frontend", &api.url(), &bff.url(), true, &[]);
    let fe003 = first(&v, "FE003");
    assert_eq!(fe003["status"], "ok", "{fe003:#}");
    assert_eq!(fe003["evidence"]["bff_path"], "/api/users/profile");
    let v = doctor_web("api", &api.url(), "http://127.0.0.1:1", false, &[]);
    assert_eq!(first(&v, "API001")["evidence"]["health_path"], "/health");
}
