//! AU001: login fails. Reads auth-service's health answer (`/health`, else `/healthz`: an
//! `unhealthy` body fails even with HTTP 200, and the component it names in error is evidence
//! for `database-error` or `redis-error`; no health endpoint at all is no answer, never "ok")
//! and, when credentials are given through the environment (`DOCTOR_LOGIN_USERNAME`,
//! `DOCTOR_LOGIN_PASSWORD`) or stdin, the answer of the login route that exists (`/auth/login`,
//! `/api/v1/auth/login` or the runbook's `/api/auth/login`): 401 confirms `wrong-password`, 403
//! "inactive" `user-inactive`, 403 "locked" `account-locked`, 429 `rate-limited`, a 5xx naming
//! the database or Redis their cause. Without credentials only the service's health is judged
//! and the credential causes stay `unchecked`. With them, authdb tells whether the user exists,
//! `is_active` and its lockout columns, Redis its login-limit keys (see `login_limits`);
//! auth-service's recent logs tell database and Redis errors apart.

use super::au002_jwt_verification_fails::request_failure;
use super::login_limits::{self, Refusal};
use crate::catalogue::Area;
use crate::facts::of::auth::{AuthFacts, LoginFacts};
use crate::facts::of::pg_app::PgAppFacts;
use crate::facts::of::redis_app::RedisAppFacts;
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
    AccountLocked = "account-locked",
    RateLimited = "rate-limited",
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
    let rd = i.facts.redis.as_ref().and_then(|r| r.app.as_ref());
    let mut f = diagnose(a, app, rd, &i.docker);
    stores_unreached(&mut f, a, i.facts);
    vec![i.timed(f, i.facts.auth_ms)]
}

/// Why doctor's own connection to PostgreSQL or Redis says the server is down (refused, no
/// answer, no such host), as opposed to refusing doctor's credentials.
fn store_down(facts: &crate::facts::Facts) -> [(Cause, &'static str, &'static str, bool); 2] {
    use crate::facts::of::postgres::PgErrorKind as P;
    use crate::facts::of::redis::RedisErrorKind as R;
    let pg = facts.postgres.as_ref().and_then(|p| p.app.as_ref()).and_then(|c| c.result.as_ref().err());
    let pg_down = pg.is_some_and(|e| {
        matches!(e.kind, P::Refused | P::Timeout | P::NameNotResolved | P::Reset | P::NotAcceptingConnections)
    });
    let rd = facts.redis.as_ref().and_then(|r| r.conn.as_ref()).and_then(|c| c.result.as_ref().err());
    let rd_down = rd.is_some_and(|e| matches!(e.kind, R::Refused | R::Timeout | R::NameNotResolved | R::Loading));
    [(Cause::DatabaseError, "PostgreSQL", "PG001", pg_down), (Cause::RedisError, "Redis", "RD001", rd_down)]
}

/// Without a login, a health answer is all AU001 saw. When doctor itself finds PostgreSQL or
/// Redis down, "healthy" would be an ok that nothing tried: the store is suspected and the
/// check says it could not tell whether logins work.
fn stores_unreached(out: &mut Finding, a: &AuthFacts, facts: &crate::facts::Facts) {
    if a.login.is_some() || out.status != Status::Ok {
        return;
    }
    let path = a.health.as_ref().map(|h| health::path(h, &a.health_check)).unwrap_or_default();
    let mut down = Vec::new();
    for (id, store, code, is_down) in store_down(facts) {
        if !is_down || matches!(out.verdict_of(id), Some(Confirmed | Suspected)) {
            continue;
        }
        out.overrule(id, Suspected, crate::t!("AU001/store-unreached", store = store, code = code, path = &path));
        down.push(format!("{store} ({code})"));
    }
    if !down.is_empty() {
        let summary = crate::t!("AU001/health-only-stores-down", path = &path, stores = down.join(", "));
        out.status = Status::Unknown;
        out.summary = summary;
    }
}

const CAUSES: [Cause; 6] = [
    Cause::WrongPassword,
    Cause::UserInactive,
    Cause::DatabaseError,
    Cause::RedisError,
    Cause::AccountLocked,
    Cause::RateLimited,
];
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

/// `app`: what authdb says of the login's user; `rd`: its login-limit keys in Redis.
pub fn diagnose(f: &AuthFacts, app: Option<&PgAppFacts>, rd: Option<&RedisAppFacts>, docker: &DockerView) -> Finding {
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
    status = status.max(stores(&mut out, f, app, rd, docker, &mut notes));
    let summary = match (&health, notes.is_empty()) {
        (_, false) => Text::join(notes, Sep::Clauses),
        // Without a login the health answer is all that was seen: the ok says so.
        (Health::Healthy, true) if f.login.is_none() => {
            let path = f.health.as_ref().map(|h| health::path(h, &f.health_check)).unwrap_or_default();
            crate::t!("AU001/health-only", path = path)
        }
        _ => crate::t!("AU001/healthy"),
    };
    if matches!(health, Health::NotProbed) && f.login.is_none() {
        // Nothing was asked of auth-service: no ok from no answer.
        return out.status(Status::Unknown, crate::t!("AU001/nothing-asked"));
    }
    out.status(status, summary)
}

/// Without a login only the health answer speaks about the stores, and the credential causes
/// stay unchecked.
fn no_login_causes(out: &mut Finding, f: &AuthFacts, health: &Health) {
    let why = crate::t!("AU001/no-login-tried");
    out.cause(Cause::WrongPassword, Unchecked, why.clone());
    out.cause(Cause::UserInactive, Unchecked, why.clone());
    out.cause(Cause::AccountLocked, Unchecked, why.clone());
    out.cause(Cause::RateLimited, Unchecked, why.clone());
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
    let refusal = login_limits::refusal(code, body);
    let inactive = refusal == Refusal::Inactive;
    let said = crate::t!("AU001/login-answered", user = user, answer = answer);
    match refusal {
        // The spec checks the lock and the rate limit before the password.
        Refusal::Locked | Refusal::RateLimited => {
            out.cause(Cause::WrongPassword, Unchecked, crate::t!("AU001/password-not-checked", answered = said))
        }
        _ => out.cause(Cause::WrongPassword, if code == 401 && !inactive { Confirmed } else { RuledOut }, said),
    }
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
    login_limits::from_answer(out, user, refusal, answer);
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
    rd: Option<&RedisAppFacts>,
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
    if let (Some(l), Some(lock)) = (&f.login, app.and_then(|a| a.user_lock.as_ref())) {
        let inactive = matches!(app.and_then(|a| a.user.as_ref()), Some(Ok(Some(Some(false)))));
        status = status.max(login_limits::from_authdb(out, &l.username, lock, inactive, failed, notes));
    }
    if let (Some(l), Some(rd)) = (&f.login, rd) {
        login_limits::from_redis(out, &l.username, rd, failed);
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
        diagnose(f, app, None, docker)
    }

    #[test]
    fn healthy_service_without_credentials_rules_out_only_the_stores() {
        let f = run(&healthy(), None, &DockerView::none());
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_eq!(f.summary.en(), "/health answers ok; only the health answer was seen: no login tried");
        assert_cause(&f, "wrong-password", Unchecked, "no login tried: set DOCTOR_LOGIN_USERNAME");
        assert_cause(&f, "user-inactive", Unchecked, "no login tried: set DOCTOR_LOGIN_USERNAME");
        assert_cause(&f, "database-error", RuledOut, "/health answers ok");
        assert_cause(&f, "redis-error", RuledOut, "/health answers ok");
        verdicts(&f);
    }

    /// The review's false ok: PostgreSQL or Redis down, no login tried, and "auth-service is
    /// healthy". The health answer alone cannot say logins work while doctor finds a store down.
    #[test]
    fn a_healthy_answer_while_a_store_is_down_is_no_ok_without_a_login() {
        use crate::facts::Facts;
        use crate::facts::of::postgres::PgErrorKind;
        use crate::facts::of::redis::RedisErrorKind;
        use crate::problems::registry::Inputs;
        let judge = |facts: &Facts| {
            let docker = DockerView::none();
            (PROBLEM.run)(&Inputs { facts, docker, earlier: &[], ctx: &ctx() }).remove(0)
        };
        let pg_down = crate::problems::postgres::fixtures::failed(PgErrorKind::Refused, None, "connection refused");
        let rd_down = crate::problems::redis::fixtures::failed(RedisErrorKind::Timeout, "no answer");
        let facts = Facts { auth: Some(healthy()), postgres: Some(pg_down.clone()), ..Default::default() };
        let f = judge(&facts);
        assert_eq!(f.status, Status::Unknown, "{}", f.summary.en());
        assert_eq!(
            f.summary.en(),
            "/health answers ok, but doctor gets no answer from PostgreSQL (PG001) and no login was tried: whether logins work is not known"
        );
        assert_cause(
            &f,
            "database-error",
            Suspected,
            "PostgreSQL does not answer doctor (see PG001), yet /health answers ok",
        );
        assert_cause(&f, "redis-error", RuledOut, "/health answers ok");
        verdicts(&f);
        let both = Facts { redis: Some(rd_down), ..facts };
        let f = judge(&both);
        assert_eq!(f.status, Status::Unknown);
        assert!(f.summary.en().contains("PostgreSQL (PG001), Redis (RD001)"), "{}", f.summary.en());
        assert!(f.summary.render(crate::lang::Lang::Ja).contains("ログインできるかどうかは不明"));
        // Refusing doctor's password is not the server down: the health answer stands, as what it is.
        let wrong = crate::problems::postgres::fixtures::failed(PgErrorKind::WrongPassword, Some("28P01"), "password");
        let f = judge(&Facts { auth: Some(healthy()), postgres: Some(wrong), ..Default::default() });
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert!(f.summary.en().contains("only the health answer was seen"), "{}", f.summary.en());
        // A login that worked is evidence of its own, whatever doctor's connections say.
        let f = judge(&Facts { auth: Some(login(200, "{}")), postgres: Some(pg_down), ..Default::default() });
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        // Nothing asked of auth-service is nothing seen.
        let f = judge(&Facts { auth: Some(AuthFacts::default()), ..Default::default() });
        assert_eq!(f.status, Status::Unknown, "{}", f.summary.en());
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
        // (status, body) → wrong-password, user-inactive, database-error, redis-error,
        // account-locked, rate-limited
        const R: Verdict = RuledOut;
        const C: Verdict = Confirmed;
        const S: Verdict = Suspected;
        const U: Verdict = Unchecked;
        let cases: [(u16, &str, [Verdict; 6]); 9] = [
            (401, r#"{"detail":"Invalid credentials"}"#, [C, R, R, R, R, R]),
            (403, r#"{"detail":"Forbidden"}"#, [R, C, R, R, R, R]),
            (401, r#"{"detail":"User account is disabled"}"#, [R, C, R, R, R, R]),
            (500, r#"{"detail":"Database connection failed"}"#, [R, R, C, S, R, R]),
            (503, r#"{"detail":"Redis unavailable"}"#, [R, R, S, C, R, R]),
            (502, "Bad Gateway", [R, R, S, S, R, R]),
            (403, r#"{"detail":"Account locked until 2026-12-02T15:34:00+00:00"}"#, [U, R, R, R, C, R]),
            (403, r#"{"detail":"Account locked due to too many failed login attempts"}"#, [U, R, R, R, C, R]),
            (429, r#"{"detail":"Too many login attempts. Please try again later."}"#, [U, R, R, R, R, C]),
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
        for id in CAUSES {
            assert_cause(&f, id.id(), Unchecked, "POST /api/auth/login failed: no answer in time: operation timed out");
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

    fn locked(attempts: i64, left_s: f64) -> PgAppFacts {
        PgAppFacts {
            user: Some(Ok(Some(Some(true)))),
            user_lock: Some(crate::facts::of::pg_app::UserLock {
                login_attempts: Some(attempts),
                locked_until: Some("2026-12-02T15:34:00".into()),
                locked_for_s: Some(left_s),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn authdb_tells_a_locked_account_from_an_inactive_one() {
        let none = DockerView::none();
        let f = run(&login(403, r#"{"detail":"Account locked"}"#), Some(&locked(5, 1500.0)), &none);
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "account-locked",
            Confirmed,
            "alice is locked in authdb until 2026-12-02T15:34:00 (another 25m",
        );
        assert_cause(&f, "account-locked", Confirmed, "login_attempts 5");
        assert_cause(
            &f,
            "account-locked",
            Confirmed,
            "UPDATE users SET login_attempts = 0, locked_until = NULL WHERE email = 'alice'",
        );
        assert_cause(&f, "user-inactive", RuledOut, "alice is active in authdb");
        assert_cause(&f, "wrong-password", Unchecked, "refused before the password was checked");
        assert_eq!(f.evidence["login_attempts"], 5);

        // A service that answers a locked account with a bare 403 or its generic 401.
        let f = run(&login(403, "{}"), Some(&locked(5, 600.0)), &none);
        assert_cause(&f, "account-locked", Confirmed, "locked in authdb");
        assert_cause(&f, "user-inactive", Suspected, "but the account is locked");
        let f = run(&login(401, r#"{"detail":"Invalid credentials"}"#), Some(&locked(6, 600.0)), &none);
        assert_cause(&f, "account-locked", Confirmed, "locked in authdb");
        assert_cause(&f, "wrong-password", Suspected, "but the account is locked");

        // The lock has passed: ruled out, with how close the next failure is to locking again.
        let f = run(&login(401, r#"{"detail":"Invalid credentials"}"#), Some(&locked(4, -60.0)), &none);
        assert_cause(&f, "account-locked", RuledOut, "login_attempts is 4: failure number 5 locks it");
        assert_cause(&f, "wrong-password", Confirmed, "Invalid credentials");
        let f = run(&login(401, "{}"), Some(&locked(1, -60.0)), &none);
        assert_cause(&f, "account-locked", RuledOut, "alice is not locked in authdb (login_attempts 1)");
        // Locked although this login worked: only suspected, the check stays ok.
        let f = run(&login(200, "{}"), Some(&locked(5, 600.0)), &none);
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "account-locked", Suspected, "locked in authdb");
    }

    fn limits(keys: Vec<crate::facts::of::redis_app::LimitKey>) -> RedisAppFacts {
        RedisAppFacts { login_limits: Some(Ok(keys)), ..Default::default() }
    }

    fn key(kind: crate::facts::of::redis_app::LimitKind, count: Option<i64>) -> crate::facts::of::redis_app::LimitKey {
        use crate::facts::of::redis_app::LOGIN_LIMIT_KEYS;
        let pattern = LOGIN_LIMIT_KEYS.iter().find(|(_, k)| *k == kind).unwrap().0.replace("{}", "<login>");
        crate::facts::of::redis_app::LimitKey { pattern, kind, count, ttl_s: Some(42) }
    }

    #[test]
    fn the_login_limit_keys_in_redis_back_the_answer() {
        use crate::facts::of::redis_app::LimitKind::*;
        let none = DockerView::none();
        let too_many = login(429, r#"{"detail":"Too many login attempts. Please try again later."}"#);
        let f = diagnose(&too_many, None, Some(&limits(vec![key(RateLimit, Some(6))])), &none);
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "rate-limited", Confirmed, "Too many login attempts");
        assert_cause(
            &f,
            "rate-limited",
            Confirmed,
            "rate_limit:login:alice in Redis counts 6 (the limit is 5), 42s left",
        );
        assert_cause(&f, "user-inactive", RuledOut, "does not say inactive");
        // A 401 while the counter is at its limit (a service that says so with 401).
        let f = diagnose(&login(401, "{}"), None, Some(&limits(vec![key(RateLimit, Some(5))])), &none);
        assert_cause(&f, "rate-limited", Confirmed, "counts 5");
        // Below the limit, or no key: ruled out.
        let f = diagnose(&login(401, "{}"), None, Some(&limits(vec![key(RateLimit, Some(2))])), &none);
        assert_cause(&f, "rate-limited", RuledOut, "counts 2 (the limit is 5)");
        let f = diagnose(&login(401, "{}"), None, Some(&limits(vec![])), &none);
        assert_cause(&f, "rate-limited", RuledOut, "no rate_limit:login:alice in Redis");
        // The stricter variant's lock key and failure counter speak for account-locked.
        let f = diagnose(&login(401, "{}"), None, Some(&limits(vec![key(Lock, None)])), &none);
        assert_cause(&f, "account-locked", Confirmed, "account:locked:alice is set in Redis, 42s left");
        let f = diagnose(&login(200, "{}"), None, Some(&limits(vec![key(Attempts, Some(5))])), &none);
        assert_cause(&f, "account-locked", Suspected, "login:attempts:alice in Redis counts 5");
        // Without a login nothing is looked up.
        let f = diagnose(&healthy(), None, Some(&limits(vec![key(RateLimit, Some(9))])), &none);
        assert_cause(&f, "rate-limited", Unchecked, "no login tried");
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
