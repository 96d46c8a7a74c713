//! AU001: login fails. Reads auth-service's `/health` and, when credentials are given through
//! the environment (`DOCTOR_LOGIN_USERNAME`, `DOCTOR_LOGIN_PASSWORD`) or stdin, the answer of
//! `POST /api/auth/login`: 401 confirms `wrong-password`, 403 "inactive" `user-inactive`, a 5xx
//! naming the database or Redis their cause. Without credentials only the service's health is
//! judged and the credential causes stay `unchecked`. With them, authdb tells whether the user
//! exists and `is_active`; auth-service's recent logs tell database and Redis errors apart.

use super::au002_jwt_verification_fails::http_failure;
use crate::probe::auth::AuthFacts;
use crate::probe::pg_app::PgAppFacts;
use crate::problems::engine::DockerView;
use crate::problems::{Ctx, logs};
use crate::report::{Finding, Status, Verdict::*};

pub fn diagnose(f: &AuthFacts, app: Option<&PgAppFacts>, docker: &DockerView, ctx: &Ctx) -> Finding {
    let mut out = Finding::new("AU001", f.base_url.clone());
    let mut status = Status::Ok;
    let mut notes = Vec::new();
    let body_says = |body: Option<&str>, word: &str| body.is_some_and(|b| b.to_ascii_lowercase().contains(word));
    if let Some(h) = &f.health {
        out.fact("health_status", h.status);
        out.fact("health_latency_ms", h.latency_ms);
        if let Some(why) = http_failure(h, ctx) {
            status = Status::Critical;
            notes.push(
                ctx.tr(format!("auth-service is not healthy: {why}"), format!("auth-service が正常でない: {why}")),
            );
        }
    }
    let health_body = f.health.as_ref().and_then(|h| h.body.as_deref());
    match &f.login {
        None => {
            let why = ctx.tr(
                "no login tried: set DOCTOR_LOGIN_USERNAME and DOCTOR_LOGIN_PASSWORD (or use --login-stdin) to try one",
                "ログインは未試行: DOCTOR_LOGIN_USERNAME と DOCTOR_LOGIN_PASSWORD を設定（または --login-stdin）すると試行する",
            );
            out.cause("wrong-password", Unchecked, why.clone());
            out.cause("user-inactive", Unchecked, why.clone());
            for (id, word) in [("database-error", "database"), ("redis-error", "redis")] {
                if body_says(health_body, word) && status == Status::Critical {
                    out.cause(
                        id,
                        Suspected,
                        ctx.tr(
                            format!("/health answers: {}", health_body.unwrap_or("")),
                            format!("/health の応答: {}", health_body.unwrap_or("")),
                        ),
                    );
                } else {
                    out.cause(
                        id,
                        if status == Status::Ok { RuledOut } else { Unchecked },
                        if status == Status::Ok {
                            ctx.tr("/health answers ok", "/health は正常")
                        } else {
                            why.clone()
                        },
                    );
                }
            }
        }
        Some(l) => {
            let r = &l.response;
            let body = r.body.as_deref();
            out.fact("login_status", r.status);
            out.fact("login_user", &l.username);
            let said = body.unwrap_or("").chars().take(200).collect::<String>();
            match (r.status, &r.error) {
                (_, Some(e)) => {
                    let why = ctx.tr(
                        format!("POST /api/auth/login failed: {}: {}", e.kind.text(ctx.lang), e.message),
                        format!("POST /api/auth/login が失敗: {}: {}", e.kind.text(ctx.lang), e.message),
                    );
                    out.causes_all(
                        &["wrong-password", "user-inactive", "database-error", "redis-error"],
                        Unchecked,
                        &why,
                    );
                    status = Status::Critical;
                    notes.push(why);
                }
                (Some(200..=299), None) => {
                    let ok = ctx.tr(
                        format!("{} logged in (HTTP {})", l.username, r.status.unwrap_or(0)),
                        format!("{} でログインできた（HTTP {}）", l.username, r.status.unwrap_or(0)),
                    );
                    out.causes_all(
                        &["wrong-password", "user-inactive", "database-error", "redis-error"],
                        RuledOut,
                        &ok,
                    );
                    notes.push(ok);
                }
                (Some(code), None) => {
                    status = Status::Critical;
                    let answer = format!("HTTP {code}: {said}");
                    let inactive = code == 403 || body_says(body, "inactive") || body_says(body, "disabled");
                    out.cause(
                        "wrong-password",
                        if code == 401 && !inactive { Confirmed } else { RuledOut },
                        ctx.tr(
                            format!("the login of {} was answered {answer}", l.username),
                            format!("{} のログインへの応答: {answer}", l.username),
                        ),
                    );
                    out.cause(
                        "user-inactive",
                        if inactive { Confirmed } else { RuledOut },
                        if inactive {
                            ctx.tr(
                                format!("{} is inactive: {answer}", l.username),
                                format!("{} は無効化されている: {answer}", l.username),
                            )
                        } else {
                            ctx.tr(
                                format!("the answer does not say inactive: {answer}"),
                                format!("応答は無効化を示していない: {answer}"),
                            )
                        },
                    );
                    let server_side = code >= 500;
                    for (id, word) in [("database-error", "database"), ("redis-error", "redis")] {
                        let v = if server_side && body_says(body, word) {
                            Confirmed
                        } else if server_side {
                            Suspected
                        } else {
                            RuledOut
                        };
                        out.cause(id, v, answer.clone());
                    }
                    notes.push(ctx.tr(
                        format!("login of {} failed: {answer}", l.username),
                        format!("{} のログインが失敗: {answer}", l.username),
                    ));
                }
                (None, None) => {
                    out.causes_all(
                        &["wrong-password", "user-inactive", "database-error", "redis-error"],
                        Unchecked,
                        &ctx.tr("no answer", "応答なし"),
                    );
                }
            }
        }
    }
    status = status.max(stores(&mut out, f, app, docker, ctx, &mut notes));
    let summary =
        if notes.is_empty() { ctx.tr("auth-service is healthy", "auth-service は正常") } else { notes.join("; ") };
    out.status(status, summary)
}

/// What authdb says about the login's user, and what auth-service logged about its database
/// and Redis: evidence added to the verdicts the login's answer gave.
fn stores(
    out: &mut Finding,
    f: &AuthFacts,
    app: Option<&PgAppFacts>,
    docker: &DockerView,
    ctx: &Ctx,
    notes: &mut Vec<String>,
) -> Status {
    let mut status = Status::Ok;
    let failed = f.login.as_ref().is_some_and(|l| !l.response.ok());
    if let (Some(l), Some(user)) = (&f.login, app.and_then(|a| a.user.as_ref())) {
        match user {
            Ok(Some(Some(false))) => {
                let msg = ctx.tr(
                    format!("users.is_active is false for {} in authdb", l.username),
                    format!("authdb の users で {} の is_active が false", l.username),
                );
                out.raise("user-inactive", if failed { Confirmed } else { Suspected }, msg.clone());
                if failed {
                    status = Status::Critical;
                    notes.push(msg);
                    // A 401 is also what many services answer an inactive user: not proof of a wrong password.
                    if let Some(c) = out.causes.iter_mut().find(|c| c.id == "wrong-password" && c.verdict == Confirmed)
                    {
                        c.verdict = Suspected;
                        c.evidence = ctx.tr(
                            format!(
                                "{}; but the user is inactive, which some services also answer with 401",
                                c.evidence
                            ),
                            format!(
                                "{}。ただしユーザーが無効化されており、これも 401 で応答されることがある",
                                c.evidence
                            ),
                        );
                    }
                }
            }
            Ok(Some(Some(true))) => out.raise(
                "user-inactive",
                RuledOut,
                ctx.tr(format!("{} is active in authdb", l.username), format!("authdb で {} は有効", l.username)),
            ),
            Ok(Some(None)) => out.raise(
                "user-inactive",
                Unchecked,
                ctx.tr(
                    format!("{} exists in authdb, but users has no is_active value for it", l.username),
                    format!("authdb に {} はあるが、users に is_active の値がない", l.username),
                ),
            ),
            Ok(None) => {
                let msg = ctx.tr(
                    format!(
                        "no user named {} in authdb.users: the name is wrong, or the user was never created",
                        l.username
                    ),
                    format!("authdb.users に {} というユーザーがない: 名前の誤り、または未作成", l.username),
                );
                out.raise("wrong-password", if failed { Confirmed } else { Suspected }, msg.clone());
                if failed {
                    notes.push(msg);
                }
            }
            Err(e) => out.raise(
                "database-error",
                Suspected,
                ctx.tr(
                    format!("doctor could not read authdb either: {e}"),
                    format!("doctor も authdb を読めない: {e}"),
                ),
            ),
        }
    }
    // auth-service's own log lines about PostgreSQL and Redis.
    for (id, codes) in [("database-error", &["PG001", "PG002", "PG004"][..]), ("redis-error", &["RD001", "RD002"][..])]
    {
        match logs::service_hits(docker, "auth-service", codes, ctx) {
            Some(hits) if !hits.is_empty() => {
                let lines: Vec<String> = hits.into_iter().map(|(_, line)| line).collect();
                out.raise(id, if failed { Confirmed } else { Suspected }, lines.join("; "));
                status = status.max(Status::Warning);
            }
            Some(_) => {
                let window = logs::window(docker, "auth-service", ctx).unwrap_or_default();
                out.raise(
                    id,
                    RuledOut,
                    ctx.tr(
                        format!("auth-service logged no such error in the last {window}"),
                        format!("auth-service は直近 {window} にこのエラーを記録していない"),
                    ),
                );
            }
            None => {}
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::auth::LoginFacts;
    use crate::probe::http::HttpErrorKind;
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
        AuthFacts { login: Some(LoginFacts { username: "alice".into(), response, token: None }), ..healthy() }
    }

    fn user(row: Result<Option<Option<bool>>, String>) -> PgAppFacts {
        PgAppFacts { user: Some(row), ..Default::default() }
    }

    fn auth_logs(hits: &[(&str, &str)]) -> crate::probe::docker::DockerFacts {
        engine(vec![with_logs(running("auth-service"), hits)])
    }

    fn run(f: &AuthFacts, app: Option<&PgAppFacts>, docker: &DockerView) -> Finding {
        diagnose(f, app, docker, &ctx())
    }

    #[test]
    fn healthy_service_without_credentials_rules_out_only_the_stores() {
        let f = run(&healthy(), None, &DockerView::none());
        assert_eq!(f.status, Status::Ok, "{}", f.summary);
        assert_eq!(f.summary, "auth-service is healthy");
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
        assert_eq!(f.status, Status::Ok, "{}", f.summary);
        assert!(f.summary.contains("alice logged in (HTTP 200)"), "{}", f.summary);
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
            assert!(f.summary.contains(&format!("login of alice failed: HTTP {code}")), "{}", f.summary);
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
        assert!(f.summary.contains("auth-service is not healthy: GET http://localhost:8002/health → HTTP 503"));
        assert_cause(&f, "database-error", Suspected, r#"/health answers: {"database":"down"}"#);
        assert_cause(&f, "redis-error", Unchecked, "no login tried");
        assert_cause(&f, "wrong-password", Unchecked, "no login tried");

        facts.health = Some(failure("GET", "http://localhost:8002/health", HttpErrorKind::Refused, "tcp connect"));
        let f = run(&facts, None, &DockerView::none());
        assert_eq!(f.status, Status::Critical);
        assert!(f.summary.contains("connection refused"), "{}", f.summary);
        assert_cause(&f, "database-error", Unchecked, "no login tried");
        assert_cause(&f, "redis-error", Unchecked, "no login tried");
    }

    #[test]
    fn a_login_that_got_no_answer_leaves_every_cause_unchecked() {
        let mut facts = healthy();
        facts.login = Some(LoginFacts {
            username: "alice".into(),
            response: failure("POST", LOGIN, HttpErrorKind::Timeout, "operation timed out"),
            token: None,
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
        assert!(f.summary.contains("no user named alice"), "{}", f.summary);
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
        assert_eq!(f.status, Status::Warning, "{}", f.summary);
        assert_cause(&f, "redis-error", Suspected, "OOM command not allowed");
        assert_cause(&f, "database-error", RuledOut, "auth-service logged no such error in the last 10m");
        let f = run(&login(200, "{}"), None, &view(&docker));
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "redis-error", Suspected, "OOM command not allowed");
        assert_cause(&f, "wrong-password", RuledOut, "alice logged in");
    }
}
