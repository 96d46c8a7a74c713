//! PostgreSQL problems PG001–PG004, each diagnosed from one `PgFacts`.

pub mod pg001_cannot_connect;
pub mod pg002_too_many_clients;
pub mod pg003_slow_queries;
pub mod pg004_connections_drop;
pub mod pools;

use super::engine::{self, DockerView, Seen};
use crate::facts::of::postgres::{PgErrorKind, PgFacts};
use crate::report::{Finding, Status, Verdict};
use crate::text::{Sep, Text};
use pg001_cannot_connect::Cause as Pg001;
use pg004_connections_drop::Cause as Pg004;

/// Whether the server itself answered the application connection (even with a refusal).
fn server_answered(f: &PgFacts) -> bool {
    match f.app_error() {
        None => f.app_connected(),
        Some(e) => !matches!(
            e.kind,
            PgErrorKind::Refused
                | PgErrorKind::Timeout
                | PgErrorKind::NameNotResolved
                | PgErrorKind::Reset
                | PgErrorKind::Other
        ),
    }
}

/// PG001 with the engine's evidence: the container's state, the services' network links to it,
/// and their passwords against the container's `POSTGRES_PASSWORD`.
fn with_engine_pg001(out: &mut Finding, f: &PgFacts, docker: &DockerView) {
    engine::explain_unavailable(out, docker, &[Pg001::ContainerStopped, Pg001::NetworkIsolated]);
    if f.url_problem.is_some() {
        return;
    }
    engine::apply(out, Pg001::ContainerStopped, engine::container_stopped(docker, "postgres", server_answered(f)));
    engine::apply(out, Pg001::NetworkIsolated, engine::network_isolated(docker, "postgres"));
    if let Seen::Found(c) = docker.seen("postgres") {
        let user = c.env("POSTGRES_USER").map(|e| e.value.clone()).unwrap_or_else(|| "postgres".into());
        let server_fp = c.env("POSTGRES_PASSWORD").and_then(|e| e.fingerprint.clone());
        let judged = engine::password_mismatch(docker, "postgres", server_fp.as_deref(), Some(&user));
        let rejected = out.verdict_of(Pg001::WrongPassword) == Some(Verdict::Confirmed);
        let stack_ok = f.stack_login.as_ref().is_some_and(|l| l.conn.result.is_ok());
        let ours = f.password_fingerprint.as_deref();
        match judged {
            // The services' own login worked: only a service whose password differs matters.
            Some((Verdict::Confirmed, ev)) if stack_ok => {
                engine::apply(out, Pg001::WrongPassword, Some((Verdict::Confirmed, ev)))
            }
            _ if stack_ok => {}
            // doctor sent the server's own POSTGRES_PASSWORD and was refused: the data
            // directory was initialised with another one.
            Some((Verdict::RuledOut, ev)) if rejected && ours.is_some() && ours == server_fp.as_deref() => {
                let old = out
                    .causes
                    .iter()
                    .find(|c| c.id == Pg001::WrongPassword.id())
                    .map(|c| c.evidence.clone())
                    .unwrap_or_default();
                engine::apply(
                    out,
                    Pg001::WrongPassword,
                    Some((Verdict::Confirmed, crate::t!("PG001/stored-password-differs", before = old, compared = ev))),
                );
            }
            // doctor's own password is another one than the stack's: its refusal says nothing
            // about theirs, and the credential doctor read is the likelier culprit.
            Some((Verdict::RuledOut, ev)) if rejected => {
                let differs = crate::t!(
                    "PG001/own-password-differs",
                    fingerprint = ours.unwrap_or("-"),
                    source = &f.url_source,
                    compared = ev
                );
                engine::apply(out, Pg001::WrongPassword, Some((Verdict::Suspected, differs.clone())));
                if out.verdict_of(Pg001::DoctorCredentialStale) == Some(Verdict::Unchecked) {
                    engine::apply(out, Pg001::DoctorCredentialStale, Some((Verdict::Suspected, differs)));
                }
            }
            other => engine::apply(out, Pg001::WrongPassword, other),
        }
        // doctor sent exactly what the services send: a stale copy is ruled out.
        if out.verdict_of(Pg001::DoctorCredentialStale) == Some(Verdict::Unchecked)
            && let Some(fp) = ours
        {
            let same: Vec<String> = engine::links_to(docker, "postgres")
                .iter()
                .filter(|l| l.var.password_fingerprint.as_deref() == Some(fp))
                .map(|l| format!("{} {}", l.client.name, l.var.name))
                .collect();
            if !same.is_empty() {
                engine::apply(
                    out,
                    Pg001::DoctorCredentialStale,
                    Some((Verdict::RuledOut, crate::t!("PG001/same-as-services", names = same.join(", ")))),
                );
            }
        }
    }
    escalate(out, [Pg001::ContainerStopped, Pg001::NetworkIsolated, Pg001::WrongPassword]);
}

/// A cause the engine confirms makes the check critical even when doctor's own connection,
/// from the host, worked: the services inside the stack are the ones that fail.
pub(crate) fn escalate<C: Into<crate::report::CauseId> + Copy, const N: usize>(out: &mut Finding, ids: [C; N]) {
    let confirmed: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| out.verdict_of(*id) == Some(Verdict::Confirmed))
        .map(|id| id.into().as_str())
        .collect();
    if !confirmed.is_empty() && out.status < Status::Critical {
        out.status = Status::Critical;
        let summary = std::mem::take(&mut out.summary);
        out.summary = crate::t!("shared/but-inside-the-stack", summary = summary, causes = confirmed.join(", "));
    }
}

/// PG004 with the engine's evidence: OOM kills and restarts of the container.
fn with_engine_pg004(out: &mut Finding, docker: &DockerView) {
    engine::explain_unavailable(out, docker, &[Pg004::OomKilled]);
    let Seen::Found(c) = docker.seen("postgres") else { return };
    let limit =
        c.memory_limit.map(|b| Text::from(super::bytes(b))).unwrap_or_else(|| crate::t!("PG004/no-memory-limit"));
    if let Some(kills) = engine::oom_kills(c) {
        engine::apply(out, Pg004::OomKilled, Some((Verdict::Confirmed, Text::join([kills, limit], Sep::Clauses))));
        out.status = out.status.max(Status::Warning);
        let summary = std::mem::take(&mut out.summary);
        out.summary = crate::t!("PG004/also-oom-killed", summary = summary, container = &c.name);
    } else if out.verdict_of(Pg004::OomKilled) == Some(Verdict::Unchecked) {
        engine::apply(
            out,
            Pg004::OomKilled,
            Some((
                Verdict::RuledOut,
                if c.oom_events.is_some() {
                    crate::t!("PG004/not-oom-killed-nor-inside", container = &c.name, limit = limit)
                } else {
                    crate::t!("PG004/not-oom-killed", container = &c.name, limit = limit)
                },
            )),
        );
    }
    if c.restart_count > 0 {
        engine::apply(
            out,
            Pg004::ServerRestarted,
            Some((
                Verdict::Confirmed,
                crate::t!(
                    "PG004/docker-restarted",
                    container = &c.name,
                    count = c.restart_count,
                    state = engine::describe_state(c)
                ),
            )),
        );
        out.status = out.status.max(Status::Warning);
        let summary = std::mem::take(&mut out.summary);
        out.summary =
            crate::t!("PG004/also-restarted", summary = summary, container = &c.name, count = c.restart_count);
    }
    // Exits of a container that runs now are restarts, including those RestartCount leaves out
    // (docker restart, compose restart, a stop and start by hand).
    if let Some(e) = c.exits.as_ref().filter(|e| e.count > 0 && c.running) {
        let codes = e.last_codes.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        out.raise(
            Pg004::ServerRestarted,
            Verdict::Confirmed,
            crate::t!(
                "PG004/engine-logged-exits",
                count = e.count,
                container = &c.name,
                ago = super::secs(e.last_age_s),
                codes = codes
            ),
        );
        // A restart within the hour explains drops seen now; an older one is history.
        if e.last_age_s < 3600.0 {
            out.status = out.status.max(Status::Warning);
        }
    }
}

/// PG004 from the server's own log: a backend killed by signal 9 (what the OOM killer sends)
/// and the crash recovery after it, which ends every session. Without the engine's `oom` event
/// a kill -9 is only suspected to be the OOM killer's.
fn with_logs_pg004(out: &mut Finding, docker: &DockerView) {
    let hits = super::logs::service_hits(docker, "postgres", &["PG004"]);
    let killed = super::logs::hits_like(&hits, &["signal 9"]);
    if !killed.is_empty() {
        out.raise(Pg004::OomKilled, Verdict::Suspected, Text::join(killed, Sep::Clauses));
    }
    let crashed = super::logs::hits_like(
        &hits,
        &["terminated by signal", "crash of another server process", "all server processes terminated"],
    );
    if !crashed.is_empty() {
        out.raise(
            Pg004::ServerRestarted,
            Verdict::Confirmed,
            crate::t!("PG004/crash-recovery", lines = Text::join(crashed, Sep::Clauses)),
        );
        out.status = out.status.max(Status::Warning);
        let summary = std::mem::take(&mut out.summary);
        out.summary = crate::t!("PG004/also-crash-recovery", summary = summary);
    }
}

/// Why PG002–PG004 cannot be looked at: no connection of any kind was had.
pub(crate) fn no_connection(facts: &PgFacts) -> bool {
    !facts.app_connected() && !facts.admin_connected()
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Facts as the probe returns them for a healthy server; tests change one thing each.
    use crate::facts::of::postgres::*;

    pub fn healthy() -> PgFacts {
        let ok = |user: &str, db: &str, superuser| Conn {
            user: user.into(),
            db: db.into(),
            address: "127.0.0.1:5432".into(),
            latency_ms: 3,
            result: Ok(Connected { superuser, server_version: "15.18".into() }),
        };
        PgFacts {
            target: "postgres@127.0.0.1:5432/authdb".into(),
            url: "postgresql://app:***@127.0.0.1:5432/authdb".into(),
            url_source: "DATABASE_URL".into(),
            app: Some(ok("app", "authdb", false)),
            admin: Some(ok("postgres", "postgres", true)),
            server: Some(ServerFacts {
                max_connections: 100,
                superuser_reserved_connections: 3,
                uptime_s: 86_400.0 * 3.0,
                version: "15.18".into(),
                ..Default::default()
            }),
            sessions: Some(vec![session(101, "app", "active", 0.2), session(102, "app", "idle", 12.0)]),
            sessions_seen_by: Some("admin".into()),
            databases: Some(vec!["admindb".into(), "apidb".into(), "authdb".into(), "postgres".into()]),
            db_stats: Some(vec![DbStat { datname: "authdb".into(), ..Default::default() }]),
            tables: Some(vec![TableStat {
                name: "public.users".into(),
                live_rows: 5000,
                modified_since_analyze: 10,
                seq_scan: 3,
                seq_tup_read: 15_000,
                idx_scan: 9000,
                analyzed_age_s: Some(3600.0),
                size_bytes: 1 << 20,
            }]),
            key_indexes: Some(vec![KeyIndex {
                db: Some("authdb".into()),
                table: "users".into(),
                column: "email".into(),
                indexed: true,
            }]),
            statements: Some(Statements::NotInstalled),
            ..Default::default()
        }
    }

    pub fn session(pid: i32, user: &str, state: &str, state_age_s: f64) -> Session {
        Session {
            pid,
            datname: Some("authdb".into()),
            usename: Some(user.into()),
            application_name: Some("user-api".into()),
            client_addr: Some("172.18.0.5".into()),
            state: Some(state.into()),
            backend_age_s: Some(state_age_s + 1.0),
            state_age_s: Some(state_age_s),
            query_age_s: Some(state_age_s),
            query: Some("SELECT 1".into()),
            ..Default::default()
        }
    }

    pub fn failed(kind: PgErrorKind, sqlstate: Option<&str>, message: &str) -> PgFacts {
        let mut f = healthy();
        if let Some(app) = f.app.as_mut() {
            app.result = Err(PgError { kind, sqlstate: sqlstate.map(str::to_string), message: message.into() });
        }
        f.admin = None;
        f.server = None;
        f.sessions = None;
        f.sessions_seen_by = None;
        f.databases = None;
        f.db_stats = None;
        f.tables = None;
        f.key_indexes = None;
        f.statements = None;
        f
    }
}

#[cfg(test)]
mod engine_tests {
    use super::*;
    use crate::facts::of::docker::ContainerFacts;
    use crate::facts::of::docker_events::OomEvents;
    use crate::problems::fixtures::{assert_cause, ctx, engine, running, view};
    use crate::report::Verdict::*;

    fn pg004(postgres: ContainerFacts) -> Finding {
        let docker = engine(vec![postgres]);
        let facts = crate::facts::Facts { postgres: Some(fixtures::healthy()), ..Default::default() };
        let i = crate::problems::registry::Inputs { facts: &facts, docker: view(&docker), earlier: &[], ctx: &ctx() };
        (pg004_connections_drop::PROBLEM.run)(&i).pop().unwrap()
    }

    #[test]
    fn pg004_oom_killed_from_the_flag_or_from_the_engines_events() {
        let limited = ContainerFacts { memory_limit: Some(256 << 20), ..running("postgres") };
        let f = pg004(limited.clone());
        assert_cause(&f, "oom-killed", RuledOut, "postgres was not OOM-killed (256 MB)");
        let quiet = ContainerFacts { oom_events: Some(OomEvents::default()), ..limited.clone() };
        let f = pg004(quiet);
        assert_cause(&f, "oom-killed", RuledOut, "nor any process in it in the last 24h (256 MB)");
        // A backend killed inside: the postmaster survives, so only the engine's event shows it.
        let backend = ContainerFacts { oom_events: Some(OomEvents { episodes: 1, last_age_s: 90.0 }), ..limited };
        let f = pg004(backend);
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "oom-killed", Confirmed, "the engine logged 1 OOM kill(s) inside postgres, the last 90s ago");
        assert!(f.summary.en().contains("postgres was OOM-killed"), "{}", f.summary.en());
    }

    #[test]
    fn pg004_restarts_by_hand_from_the_engines_exits() {
        use crate::facts::of::docker_events::ExitEvents;
        let exits = |count, last_age_s| Some(ExitEvents { count, last_age_s, last_codes: vec![0] });
        let recent = ContainerFacts { exits: exits(1, 120.0), ..running("postgres") };
        let f = pg004(recent);
        assert_cause(
            &f,
            "server-restarted",
            Confirmed,
            "the engine logged 1 exit(s) of postgres in the last 24h, the last 2m ago (exit codes 0)",
        );
        assert_eq!(f.status, Status::Warning);
        // Hours ago: confirmed as history, not a warning now.
        let old = ContainerFacts { exits: exits(2, 5.0 * 3600.0), ..running("postgres") };
        let f = pg004(old);
        assert_eq!(f.verdict_of(Pg004::ServerRestarted), Some(Confirmed));
        assert_eq!(f.status, Status::Ok);
        // None logged: the uptime decides, as before.
        let f = pg004(ContainerFacts { exits: exits(0, 0.0), ..running("postgres") });
        assert_eq!(f.verdict_of(Pg004::ServerRestarted), Some(RuledOut));
    }
}
