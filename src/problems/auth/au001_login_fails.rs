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
            Ok(Some(_)) => out.raise(
                "user-inactive",
                RuledOut,
                ctx.tr(format!("{} is active in authdb", l.username), format!("authdb で {} は有効", l.username)),
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
