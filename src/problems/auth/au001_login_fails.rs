//! AU001: login fails. Reads auth-service's health answer (`/health`, else `/healthz`: an
//! `unhealthy` body fails even with HTTP 200, and the component it names in error is evidence
//! for `database-error` or `redis-error`; no health endpoint at all is no answer, never "ok")
//! and, when credentials are given through the environment (`DOCTOR_LOGIN_USERNAME`,
//! `DOCTOR_LOGIN_PASSWORD`) or stdin, the answer of the login route that exists (`/auth/login`,
//! `/api/v1/auth/login` or the runbook's `/api/auth/login`): 401 confirms `wrong-password`, 403
//! "inactive" `user-inactive`, a 5xx naming the database or Redis their cause. Without
//! credentials only the service's health is judged and the credential causes stay
//! `unchecked`. With them, authdb tells whether the user exists and `is_active`; auth-service's
//! recent logs tell database and Redis errors apart.

use super::au002_jwt_verification_fails::request_failure;
use crate::catalogue::Area;
use crate::facts::of::auth::{AuthFacts, LoginFacts};
use crate::facts::of::pg_app::PgAppFacts;
use crate::problems::engine::DockerView;
use crate::problems::health::{self, Reading};
use crate::problems::logs;
use crate::problems::registry::{Inputs, Problem};
use crate::report::{Finding, Status, Verdict::*};
use crate::text::{Sep, Text};

crate::causes! {
    WrongPassword = "wrong-password",
    UserInactive = "user-inactive",
    DatabaseError = "database-error",
    RedisError = "redis-error",
}

pub static PROBLEM: Problem = Problem {
    code: "AU001",
    areas: &[Area::Auth],
    runbook: crate::runbook!("auth/AU001-login-fails.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let Some(a) = &i.facts.auth else { return vec![] };
    let app = i.facts.postgres.as_ref().and_then(|p| p.app_data.as_ref());
    vec![i.timed(diagnose(a, app, &i.docker), i.facts.auth_ms)]
}

const CAUSES: [Cause; 4] = [Cause::WrongPassword, Cause::UserInactive, Cause::DatabaseError, Cause::RedisError];
const STORES: [(Cause, &str); 2] = [(Cause::DatabaseError, "database"), (Cause::RedisError, "redis")];

fn body_says(body: Option<&str>, word: &str) -> bool {
    body.is_some_and(|b| b.to_ascii_lowercase().contains(word))
}

/// What auth-service's health answer says.
enum Health {
    Healthy,
    /// Not healthy, with why.
    Failing(Text),
    /// Every health path answered 404, with that said.
    NoEndpoint(Text),
    NotProbed,
}

fn judge_health(f: &AuthFacts) -> Health {
    let Some(h) = &f.health else { return Health::NotProbed };
    let hc = &f.health_check;
    let not_healthy = |why: Text| {
        let why = match health::reports(h, hc) {
            Some(r) => Text::join([why, r], Sep::Clauses),
            None => why,
        };
        Health::Failing(crate::t!("AU001/not-healthy", why = why))
    };
    match health::read(Some(h), hc) {
        Reading::NotProbed => Health::NotProbed,
        Reading::Healthy(_) => Health::Healthy,
        Reading::NoEndpoint => Health::NoEndpoint(health::no_endpoint(h, hc)),
        Reading::Unhealthy(code) => {
            not_healthy(crate::t!("AU001/unhealthy-body", method = &h.method, url = &h.url, code = code))
        }
        Reading::Failed(_) | Reading::Status(_) => not_healthy(request_failure(h).unwrap_or_default()),
    }
}

pub fn diagnose(f: &AuthFacts, app: Option<&PgAppFacts>, docker: &DockerView) -> Finding {
    let mut out = Finding::new("AU001", f.base_url.clone());
    let mut status = Status::Ok;
    let mut notes = Vec::new();
    if let Some(h) = &f.health {
        out.fact("health_status", h.status);
        out.fact("health_latency_ms", h.latency_ms);
        out.fact("health_path", &f.health_check.path);
        if !f.health_check.tried.is_empty() {
            out.fact("health_tried", &f.health_check.tried);
        }
        if let Some(b) = health::body(h, &f.health_check) {
            out.fact("health_body", b);
        }
    }
    let health = judge_health(f);
    match &health {
        Health::Failing(why) => {
            status = Status::Critical;
            notes.push(why.clone());
        }
        Health::NoEndpoint(why) => notes.push(why.into()),
        Health::Healthy | Health::NotProbed => {}
    }
    match &f.login {
        None => {
            no_login_causes(&mut out, f, &health);
            if matches!(health, Health::NoEndpoint(_)) {
                status = Status::Unknown;
            }
        }
        Some(l) => {
            status = status.max(login_causes(&mut out, l, &mut notes));
            health_components(&mut out, f, !l.response.ok() && !no_route(l));
        }
    }
    status = status.max(stores(&mut out, f, app, docker, &mut notes));
    let summary = if notes.is_empty() { crate::t!("AU001/healthy") } else { Text::join(notes, Sep::Clauses) };
    out.status(status, summary)
}

/// Without a login only the health answer speaks about the stores, and the credential causes
/// stay unchecked.
fn no_login_causes(out: &mut Finding, f: &AuthFacts, health: &Health) {
    let why = crate::t!("AU001/no-login-tried");
    out.cause(Cause::WrongPassword, Unchecked, why.clone());
    out.cause(Cause::UserInactive, Unchecked, why.clone());
    let Some(h) = &f.health else {
        out.causes_all(&[Cause::DatabaseError, Cause::RedisError], Unchecked, why);
        return;
    };
    let hc = &f.health_check;
    let p = health::path(h, hc);
    for (id, word) in STORES {
        let (verdict, evidence): (_, Text) = match (health::component(h, hc, word), health) {
            (Some((true, said)), _) => (Suspected, said),
            (Some((false, said)), _) => (RuledOut, said),
            (None, Health::Failing(_)) if body_says(h.body.as_deref(), word) => {
                (Suspected, crate::t!("AU001/health-answers", path = &p, body = h.body.as_deref().unwrap_or("")))
            }
            (None, Health::Healthy) => (RuledOut, crate::t!("AU001/health-ok", path = &p)),
            (None, Health::NoEndpoint(no)) => (Unchecked, no.into()),
            (None, _) => (Unchecked, why.clone()),
        };
        out.cause(id, verdict, evidence);
    }
}

/// Every login path was tried and none exists there (404 or 405).
fn no_route(l: &LoginFacts) -> bool {
    l.route.path.is_none() && !l.route.tried.is_empty()
}

/// The path the login answered at: the one that exists, else the last one tried.
fn login_path(l: &LoginFacts) -> String {
    if let Some(p) = l.route.path.clone().or_else(|| l.route.tried.last().map(|t| t.path.clone())) {
        return p;
    }
    let rest = l.response.url.split_once("://").map_or(l.response.url.as_str(), |(_, r)| r);
    rest.find('/').map_or_else(|| "/".to_string(), |i| rest[i..].to_string())
}

/// Verdicts from the login's answer; returns the status it calls for.
fn login_causes(out: &mut Finding, l: &LoginFacts, notes: &mut Vec<Text>) -> Status {
    let r = &l.response;
    let body = r.body.as_deref();
    let path = login_path(l);
    out.fact("login_status", r.status);
    out.fact("login_user", &l.username);
    out.fact("login_path", &l.route.path);
    if !l.route.tried.is_empty() {
        out.fact("login_tried", &l.route.tried);
    }
    if let Some(field) = &l.token_field {
        out.fact("login_token_field", field);
    }
    let said = body.unwrap_or("").chars().take(200).collect::<String>();
    match (r.status, &r.error) {
        (_, Some(e)) => {
            let why =
                crate::t!("AU001/login-request-failed", path = &path, kind = e.kind.text(), message = &e.message,);
            out.causes_all(&CAUSES, Unchecked, why.clone());
            notes.push(why);
            Status::Critical
        }
        (Some(code), None) if no_route(l) => {
            let why = crate::t!("AU001/no-login-route", paths = l.route.paths_text(), code = code);
            out.causes_all(&CAUSES, Unchecked, why.clone());
            notes.push(why);
            Status::Unknown
        }
        (Some(200..=299), None) => {
            let ok = crate::t!("AU001/logged-in", user = &l.username, code = r.status.unwrap_or(0), path = &path);
            out.causes_all(&CAUSES, RuledOut, ok.clone());
            notes.push(ok);
            Status::Ok
        }
        (Some(code), None) => {
            let answer = format!("HTTP {code}: {said}");
            failed_login_causes(out, &l.username, code, body, &answer);
            notes.push(crate::t!("AU001/login-failed", user = &l.username, path = &path, answer = &answer));
            Status::Critical
        }
        (None, None) => {
            out.causes_all(&CAUSES, Unchecked, crate::t!("AU001/no-answer"));
            Status::Ok
        }
    }
}

/// A login answered with an error status: which cause the status and body name.
fn failed_login_causes(out: &mut Finding, user: &str, code: u16, body: Option<&str>, answer: &str) {
    let inactive = code == 403 || body_says(body, "inactive") || body_says(body, "disabled");
    out.cause(
        Cause::WrongPassword,
        if code == 401 && !inactive { Confirmed } else { RuledOut },
        crate::t!("AU001/login-answered", user = user, answer = answer),
    );
    out.cause(
        Cause::UserInactive,
        if inactive { Confirmed } else { RuledOut },
        if inactive {
            crate::t!("AU001/user-inactive", user = user, answer = answer)
        } else {
            crate::t!("AU001/not-inactive", answer = answer)
        },
    );
    let server_side = code >= 500;
    for (id, word) in STORES {
        let v = if server_side && body_says(body, word) {
            Confirmed
        } else if server_side {
            Suspected
        } else {
            RuledOut
        };
        out.cause(id, v, answer.to_string());
    }
}

/// A component the health body reports in error, added to its cause: confirmed when the login
/// failed, suspected when it worked.
fn health_components(out: &mut Finding, f: &AuthFacts, failed: bool) {
    let Some(h) = &f.health else { return };
    for (id, word) in STORES {
        if let Some((true, said)) = health::component(h, &f.health_check, word) {
            out.raise(id, if failed { Confirmed } else { Suspected }, said);
        }
    }
}

/// What authdb says about the login's user, and what auth-service logged about its database
/// and Redis: evidence added to the verdicts the login's answer gave.
fn stores(
    out: &mut Finding,
    f: &AuthFacts,
    app: Option<&PgAppFacts>,
    docker: &DockerView,
    notes: &mut Vec<Text>,
) -> Status {
    let mut status = Status::Ok;
    let failed = f.login.as_ref().is_some_and(|l| !l.response.ok() && !no_route(l));
    if let (Some(l), Some(user)) = (&f.login, app.and_then(|a| a.user.as_ref())) {
        match user {
            Ok(Some(Some(false))) => {
                let msg = crate::t!("AU001/is-active-false", user = &l.username);
                out.raise(Cause::UserInactive, if failed { Confirmed } else { Suspected }, msg.clone());
                if failed {
                    status = Status::Critical;
                    notes.push(msg);
                    // A 401 is also what many services answer an inactive user: not proof of a wrong password.
                    if let Some(c) =
                        out.causes.iter_mut().find(|c| c.id == Cause::WrongPassword.id() && c.verdict == Confirmed)
                    {
                        c.verdict = Suspected;
                        let before = std::mem::take(&mut c.evidence);
                        c.evidence = crate::t!("AU001/inactive-also-401", before = before);
                    }
                }
            }
            Ok(Some(Some(true))) => {
                out.raise(Cause::UserInactive, RuledOut, crate::t!("AU001/user-active", user = &l.username))
            }
            Ok(Some(None)) => {
                out.raise(Cause::UserInactive, Unchecked, crate::t!("AU001/no-is-active", user = &l.username))
            }
            Ok(None) => {
                let msg = crate::t!("AU001/no-such-user", user = &l.username);
                out.raise(Cause::WrongPassword, if failed { Confirmed } else { Suspected }, msg.clone());
                if failed {
                    notes.push(msg);
                }
            }
            Err(e) => out.raise(Cause::DatabaseError, Suspected, crate::t!("AU001/authdb-unreadable", error = e)),
        }
    }
    // auth-service's own log lines about PostgreSQL and Redis.
    for (id, codes) in
        [(Cause::DatabaseError, &["PG001", "PG002", "PG004"][..]), (Cause::RedisError, &["RD001", "RD002"][..])]
    {
        match logs::service_hits(docker, "auth-service", codes) {
            Some(hits) if !hits.is_empty() => {
                let lines: Vec<Text> = hits.into_iter().map(|(_, line)| line).collect();
                out.raise(id, if failed { Confirmed } else { Suspected }, Text::join(lines, Sep::Clauses));
                status = status.max(Status::Warning);
            }
            Some(_) => {
                let window = logs::window(docker, "auth-service").unwrap_or_default();
                out.raise(id, RuledOut, crate::t!("AU001/no-error-logged", window = window));
            }
            None => {}
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::of::auth::LoginFacts;
    use crate::facts::of::http::HttpErrorKind;
    use crate::problems::fixtures::*;
    use crate::report::Verdict;

    const LOGIN: &str = "http://localhost:8002/api/auth/login";

    fn healthy() -> AuthFacts {
        AuthFacts {
            base_url: "http://localhost:8002".into(),
            health: Some(answer("GET", "http://localhost:8002/health", 200, r#"{"status":"ok"}"#)),
            ..Default::default()
        }
    }

    fn login(status: u16, body: &str) -> AuthFacts {
        let response = answer("POST", LOGIN, status, body);
        AuthFacts { login: Some(LoginFacts { username: "alice".into(), response, ..Default::default() }), ..healthy() }
    }

    fn user(row: Result<Option<Option<bool>>, String>) -> PgAppFacts {
        PgAppFacts { user: Some(row), ..Default::default() }
    }

    fn auth_logs(hits: &[(&str, &str)]) -> crate::facts::of::docker::DockerFacts {
        engine(vec![with_logs(running("auth-service"), hits)])
    }

    fn run(f: &AuthFacts, app: Option<&PgAppFacts>, docker: &DockerView) -> Finding {
        diagnose(f, app, docker)
    }

    #[test]
    fn healthy_service_without_credentials_rules_out_only_the_stores() {
        let f = run(&healthy(), None, &DockerView::none());
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_eq!(f.summary.en(), "auth-service is healthy");
        assert_cause(&f, "wrong-password", Unchecked, "no login tried: set DOCTOR_LOGIN_USERNAME");
        assert_cause(&f, "user-inactive", Unchecked, "no login tried: set DOCTOR_LOGIN_USERNAME");
        assert_cause(&f, "database-error", RuledOut, "/health answers ok");
        assert_cause(&f, "redis-error", RuledOut, "/health answers ok");
        verdicts(&f);
    }

    #[test]
    fn a_successful_login_with_clean_logs_rules_everything_out() {
        let docker = auth_logs(&[]);
        let f = run(&login(200, r#"{"token_type":"bearer"}"#), Some(&user(Ok(Some(Some(true))))), &view(&docker));
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert!(f.summary.en().contains("alice logged in (HTTP 200) at /api/auth/login"), "{}", f.summary.en());
        assert!(verdicts(&f).iter().all(|(_, v)| *v == RuledOut), "{:?}", f.causes);
        assert_cause(&f, "user-inactive", RuledOut, "alice is active in authdb");
        assert_cause(&f, "database-error", RuledOut, "auth-service logged no such error in the last 10m");
        assert_cause(&f, "redis-error", RuledOut, "auth-service logged no such error in the last 10m");
    }

    #[test]
    fn each_answer_to_the_login_confirms_its_own_cause() {
        use Verdict::*;
        // (status, body) → wrong-password, user-inactive, database-error, redis-error
        let cases: [(u16, &str, [Verdict; 4]); 6] = [
            (401, r#"{"detail":"Invalid credentials"}"#, [Confirmed, RuledOut, RuledOut, RuledOut]),
            (403, r#"{"detail":"Forbidden"}"#, [RuledOut, Confirmed, RuledOut, RuledOut]),
            (401, r#"{"detail":"User account is disabled"}"#, [RuledOut, Confirmed, RuledOut, RuledOut]),
            (500, r#"{"detail":"Database connection failed"}"#, [RuledOut, RuledOut, Confirmed, Suspected]),
            (503, r#"{"detail":"Redis unavailable"}"#, [RuledOut, RuledOut, Suspected, Confirmed]),
            (502, "Bad Gateway", [RuledOut, RuledOut, Suspected, Suspected]),
        ];
        for (code, body, want) in cases {
            let f = run(&login(code, body), None, &DockerView::none());
            assert_eq!(f.status, Status::Critical, "{code} {body}");
            assert!(
                f.summary.en().contains(&format!("login of alice failed (POST /api/auth/login): HTTP {code}")),
                "{}",
                f.summary.en()
            );
            let got: Vec<Verdict> = verdicts(&f).into_iter().map(|(_, v)| v).collect();
            assert_eq!(got, want, "{code} {body}: {:?}", f.causes);
        }
        let f = run(&login(403, "{}"), None, &DockerView::none());
        assert_cause(&f, "user-inactive", Confirmed, "alice is inactive: HTTP 403");
        let f = run(&login(401, "{}"), None, &DockerView::none());
        assert_cause(&f, "user-inactive", RuledOut, "the answer does not say inactive: HTTP 401");
    }

    #[test]
    fn an_unhealthy_service_without_credentials_suspects_the_store_its_health_names() {
        let mut facts = healthy();
        facts.health = Some(answer("GET", "http://localhost:8002/health", 503, r#"{"database":"down"}"#));
        let f = run(&facts, None, &DockerView::none());
        assert_eq!(f.status, Status::Critical);
        assert!(f.summary.en().contains("auth-service is not healthy: GET http://localhost:8002/health → HTTP 503"));
        assert_cause(&f, "database-error", Suspected, "/health reports database: down");
        assert_cause(&f, "redis-error", Unchecked, "no login tried");
        assert_cause(&f, "wrong-password", Unchecked, "no login tried");

        facts.health = Some(failure("GET", "http://localhost:8002/health", HttpErrorKind::Refused, "tcp connect"));
        let f = run(&facts, None, &DockerView::none());
        assert_eq!(f.status, Status::Critical);
        assert!(f.summary.en().contains("connection refused"), "{}", f.summary.en());
        assert_cause(&f, "database-error", Unchecked, "no login tried");
        assert_cause(&f, "redis-error", Unchecked, "no login tried");
    }

    #[test]
    fn a_login_that_got_no_answer_leaves_every_cause_unchecked() {
        let mut facts = healthy();
        facts.login = Some(LoginFacts {
            username: "alice".into(),
            response: failure("POST", LOGIN, HttpErrorKind::Timeout, "operation timed out"),
            ..Default::default()
        });
        let f = run(&facts, None, &DockerView::none());
        assert_eq!(f.status, Status::Critical);
        for id in ["wrong-password", "user-inactive", "database-error", "redis-error"] {
            assert_cause(&f, id, Unchecked, "POST /api/auth/login failed: no answer in time: operation timed out");
        }
    }

    #[test]
    fn authdb_refines_what_the_login_answered() {
        let none = DockerView::none();
        // A 401 for a user authdb shows inactive: inactive confirmed, the password only suspected.
        let f = run(&login(401, "{}"), Some(&user(Ok(Some(Some(false))))), &none);
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "user-inactive", Confirmed, "users.is_active is false for alice in authdb");
        assert_cause(&f, "wrong-password", Suspected, "some services also answer with 401");
        // Inactive in authdb although the login worked: suspected only.
        let f = run(&login(200, "{}"), Some(&user(Ok(Some(Some(false))))), &none);
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "user-inactive", Suspected, "users.is_active is false for alice");
        // No such user.
        let f = run(&login(401, "{}"), Some(&user(Ok(None))), &none);
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "wrong-password", Confirmed, "no user named alice in authdb.users");
        assert!(f.summary.en().contains("no user named alice"), "{}", f.summary.en());
        let f = run(&login(200, "{}"), Some(&user(Ok(None))), &none);
        assert_cause(&f, "wrong-password", Suspected, "no user named alice in authdb.users");
        // Active.
        let f = run(&login(401, "{}"), Some(&user(Ok(Some(Some(true))))), &none);
        assert_cause(&f, "user-inactive", RuledOut, "alice is active in authdb");
        // authdb unreadable by doctor too.
        let f = run(&login(401, "{}"), Some(&user(Err("connection refused".into()))), &none);
        assert_cause(&f, "database-error", Suspected, "doctor could not read authdb either: connection refused");
        // Without a login, authdb is not asked about anyone.
        let f = run(&healthy(), Some(&user(Ok(Some(Some(false))))), &none);
        assert_cause(&f, "user-inactive", Unchecked, "no login tried");
    }

    use crate::facts::of::health::{HealthBody, HealthFacts};
    use crate::facts::of::routes::{PathStatus, RouteFacts};

    fn status_of(path: &str, status: u16) -> PathStatus {
        PathStatus { path: path.into(), status: Some(status), error: None }
    }

    /// auth-service whose `/health` answered `code` with `body` (the generic FastAPI shape).
    fn spec_health(code: u16, body: &str) -> AuthFacts {
        AuthFacts {
            health: Some(answer("GET", "http://localhost:8002/health", code, body)),
            health_check: HealthFacts {
                path: Some("/health".into()),
                tried: vec![status_of("/health", code), status_of("/healthz", 404)],
                body: HealthBody::parse(body),
            },
            ..healthy()
        }
    }

    const SICK_REDIS: &str = r#"{"status":"healthy","timestamp":"2025-09-30T12:00:00Z","checks":{"database":"ok","redis":"error: connection refused"}}"#;

    #[test]
    fn an_unhealthy_body_fails_even_with_http_200_and_names_its_component() {
        let f = run(&spec_health(200, SICK_REDIS), None, &DockerView::none());
        assert_eq!(f.status, Status::Critical, "{}", f.summary.en());
        assert!(f.summary.en().contains("→ HTTP 200, but the body says unhealthy"), "{}", f.summary.en());
        assert!(f.summary.en().contains("redis: error: connection refused"), "{}", f.summary.en());
        assert_cause(&f, "redis-error", Suspected, "/health reports redis: error: connection refused");
        assert_cause(&f, "database-error", RuledOut, "/health reports database: ok");
        verdicts(&f);

        let sick_db =
            r#"{"status":"unhealthy","timestamp":"x","checks":{"database":"error: connection refused","redis":"ok"}}"#;
        let f = run(&spec_health(200, sick_db), None, &DockerView::none());
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "database-error", Suspected, "/health reports database: error: connection refused");

        // The login failing as well confirms it; a login that works leaves it suspected.
        let mut facts = spec_health(200, sick_db);
        facts.login = login(500, "Internal Server Error").login;
        let f = run(&facts, None, &DockerView::none());
        assert_cause(&f, "database-error", Confirmed, "/health reports database: error: connection refused");
        facts.login = login(200, "{}").login;
        let f = run(&facts, None, &DockerView::none());
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "database-error", Suspected, "/health reports database: error");
        assert_cause(&f, "wrong-password", RuledOut, "alice logged in");
    }

    #[test]
    fn no_health_endpoint_is_no_answer_not_ok() {
        let mut facts = healthy();
        facts.health = Some(answer("GET", "http://localhost:8002/health", 404, r#"{"detail":"Not Found"}"#));
        facts.health_check =
            HealthFacts { path: None, tried: vec![status_of("/health", 404), status_of("/healthz", 404)], body: None };
        let f = run(&facts, None, &DockerView::none());
        assert_eq!(f.status, Status::Unknown, "{}", f.summary.en());
        assert!(f.summary.en().starts_with("no health endpoint at /health, /healthz (HTTP 404)"), "{}", f.summary.en());
        assert_cause(&f, "database-error", Unchecked, "no health endpoint at /health, /healthz");
        verdicts(&f);
        // With a login, the login decides; the missing endpoint is still said.
        facts.login = login(200, "{}").login;
        let f = run(&facts, None, &DockerView::none());
        assert_eq!(f.status, Status::Ok);
        assert!(f.summary.en().contains("no health endpoint at /health, /healthz"), "{}", f.summary.en());
    }

    #[test]
    fn the_login_route_that_answered_is_said_and_none_at_all_is_no_verdict() {
        let route = |answered: Option<&str>, tried: &[(&str, u16)]| RouteFacts {
            path: answered.map(str::to_string),
            tried: tried.iter().map(|(p, s)| status_of(p, *s)).collect(),
        };
        let mut facts = login(200, r#"{"status":"success","data":{"access_token":"x"}}"#);
        let l = facts.login.as_mut().unwrap();
        l.route = route(Some("/auth/login"), &[("/auth/login", 200)]);
        l.token_field = Some("data.access_token".into());
        let f = run(&facts, None, &DockerView::none());
        assert_eq!(f.status, Status::Ok);
        assert!(f.summary.en().contains("alice logged in (HTTP 200) at /auth/login"), "{}", f.summary.en());
        assert_eq!(f.evidence["login_path"], "/auth/login");
        assert_eq!(f.evidence["login_token_field"], "data.access_token");

        let mut facts = login(403, r#"{"detail":"Account inactive"}"#);
        facts.login.as_mut().unwrap().route =
            route(Some("/api/v1/auth/login"), &[("/auth/login", 404), ("/api/v1/auth/login", 403)]);
        let f = run(&facts, None, &DockerView::none());
        assert_cause(&f, "user-inactive", Confirmed, "alice is inactive: HTTP 403: {\"detail\":\"Account inactive\"}");
        assert!(f.summary.en().contains("login of alice failed (POST /api/v1/auth/login)"), "{}", f.summary.en());

        let mut facts = login(404, r#"{"detail":"Not Found"}"#);
        facts.login.as_mut().unwrap().route =
            route(None, &[("/auth/login", 404), ("/api/v1/auth/login", 404), ("/api/auth/login", 405)]);
        let f = run(&facts, None, &DockerView::none());
        assert_eq!(f.status, Status::Unknown, "{}", f.summary.en());
        for id in CAUSES {
            assert_cause(
                &f,
                id.id(),
                Unchecked,
                "no login route at /auth/login, /api/v1/auth/login, /api/auth/login (HTTP 404)",
            );
        }
        // ... and authdb is not asked to explain a login that never reached a route.
        let f = run(&facts, Some(&user(Ok(Some(Some(false))))), &DockerView::none());
        assert_cause(&f, "user-inactive", Suspected, "users.is_active is false for alice");
    }

    #[test]
    fn auth_service_logs_name_the_store_that_fails() {
        let docker = auth_logs(&[
            ("PG001", "could not connect to server"),
            ("RD001", "Error 111 connecting to redis:6379"),
            ("AU003", "Refresh token is invalid or expired"),
        ]);
        let f = run(&login(500, "Internal Server Error"), None, &view(&docker));
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "database-error",
            Confirmed,
            "auth-service logged \"could not connect to server\" 3 times in the last 10m",
        );
        assert_cause(&f, "redis-error", Confirmed, "Error 111 connecting to redis:6379");

        // A login that worked, or none at all: the same lines are only suspected, and warn.
        let docker = auth_logs(&[("RD002", "OOM command not allowed")]);
        let f = run(&healthy(), None, &view(&docker));
        assert_eq!(f.status, Status::Warning, "{}", f.summary.en());
        assert_cause(&f, "redis-error", Suspected, "OOM command not allowed");
        assert_cause(&f, "database-error", RuledOut, "auth-service logged no such error in the last 10m");
        let f = run(&login(200, "{}"), None, &view(&docker));
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "redis-error", Suspected, "OOM command not allowed");
        assert_cause(&f, "wrong-password", RuledOut, "alice logged in");
    }
}
