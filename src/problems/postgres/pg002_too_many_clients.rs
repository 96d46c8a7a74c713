//! PG002: too many clients. Reads `max_connections`, the reserved slots and every client
//! session (who, from where, in which state, for how long); a 53300 refusal of the
//! application connection is itself proof. May confirm `idle-connections` and
//! `max-connections-low`; `connection-leak` can only be suspected from one snapshot.

use super::no_connection;
use crate::catalogue::Area;
use crate::facts::of::postgres::{PgErrorKind, PgFacts, Session};
use crate::problems::registry::{Inputs, Problem};
use crate::problems::{Ctx, depends_on, percent, secs};
use crate::report::{Finding, Status, Verdict::*};
use crate::t;
use serde::Serialize;
use std::collections::BTreeMap;

crate::causes! {
    ConnectionLeak = "connection-leak",
    MaxConnectionsLow = "max-connections-low",
    IdleConnections = "idle-connections",
}

pub static PROBLEM: Problem = Problem {
    code: "PG002",
    areas: &[Area::Postgres],
    runbook: crate::runbook!("postgres/PG002-too-many-clients.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let Some(pg) = &i.facts.postgres else { return vec![] };
    vec![i.timed(diagnose(pg, i.ctx), i.facts.postgres_ms)]
}

/// Sessions of one (database, user, application, client address).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Group {
    pub database: String,
    pub user: String,
    pub application: String,
    pub client: String,
    pub total: usize,
    pub idle: usize,
    pub idle_long: usize,
    pub active: usize,
    pub idle_in_transaction: usize,
}

impl Group {
    pub fn who(&self) -> String {
        let app = if self.application.is_empty() { String::new() } else { format!(" ({})", self.application) };
        format!("{}@{} from {}{app}", self.user, self.database, self.client)
    }
}

pub fn groups(sessions: &[Session], idle_limit_s: f64) -> Vec<Group> {
    let mut map: BTreeMap<(String, String, String, String), Group> = BTreeMap::new();
    for s in sessions {
        let key = (
            s.datname.clone().unwrap_or_else(|| "?".into()),
            s.usename.clone().unwrap_or_else(|| "?".into()),
            s.application_name.clone().unwrap_or_default(),
            s.client_addr.clone().unwrap_or_else(|| "local".into()),
        );
        let g = map.entry(key.clone()).or_insert_with(|| Group {
            database: key.0,
            user: key.1,
            application: key.2,
            client: key.3,
            total: 0,
            idle: 0,
            idle_long: 0,
            active: 0,
            idle_in_transaction: 0,
        });
        g.total += 1;
        match s.state.as_deref() {
            Some("idle") => {
                g.idle += 1;
                if s.state_age_s.unwrap_or(0.0) >= idle_limit_s {
                    g.idle_long += 1;
                }
            }
            Some("active") => g.active += 1,
            Some(st) if st.starts_with("idle in transaction") => g.idle_in_transaction += 1,
            _ => {}
        }
    }
    let mut v: Vec<Group> = map.into_values().collect();
    v.sort_by(|a, b| b.total.cmp(&a.total).then(b.idle_long.cmp(&a.idle_long)));
    v
}

pub fn diagnose(f: &PgFacts, ctx: &Ctx) -> Finding {
    let mut out = Finding::new("PG002", f.target.clone());
    let refused = f.app_error().is_some_and(|e| e.kind == PgErrorKind::TooManyClients);
    let need_admin = t!("PG002/need-admin");
    let (Some(server), Some(sessions)) = (&f.server, &f.sessions) else {
        if refused {
            let msg = f.app_error().map(|e| e.message.clone()).unwrap_or_default();
            out.fact("refused", &msg);
            out.cause(Cause::ConnectionLeak, Unchecked, need_admin.clone());
            out.cause(Cause::MaxConnectionsLow, Unchecked, need_admin.clone());
            out.cause(Cause::IdleConnections, Unchecked, need_admin.clone());
            return out.status(Status::Critical, t!("PG002/application-refused", message = msg));
        }
        let why = if no_connection(f) {
            depends_on("PG001", t!("shared/no-server-connection"))
        } else {
            t!("PG002/unreadable", errors = f.query_errors.join("; "))
        };
        out.causes_all(
            &[Cause::ConnectionLeak, Cause::MaxConnectionsLow, Cause::IdleConnections],
            Unchecked,
            why.clone(),
        );
        let status = if no_connection(f) { Status::Skipped } else { Status::Unknown };
        return out.status(status, why);
    };

    let reserved = server.superuser_reserved_connections + server.reserved_connections;
    let usable = (server.max_connections - reserved).max(1);
    let used = sessions.len() as i64;
    let share = used as f64 / usable as f64;
    let idle_limit = ctx.thresholds.idle_connection.as_secs_f64();
    let idle_limit_text = secs(idle_limit);
    let gs = groups(sessions, idle_limit);
    let idle_long: usize = gs.iter().map(|g| g.idle_long).sum();
    let active: usize = gs.iter().map(|g| g.active).sum();
    let hidden = sessions.iter().filter(|s| s.state.is_none()).count();
    out.fact("connections", used);
    out.fact("usable_slots", usable);
    out.fact("max_connections", server.max_connections);
    out.fact("reserved_slots", reserved);
    out.fact("idle_over_threshold", idle_long);
    out.fact("active", active);
    out.fact("groups", gs.iter().take(10).collect::<Vec<_>>());
    if refused {
        out.fact("application_refused", true);
    }

    let status = if refused || used >= usable || share >= ctx.thresholds.connections_crit {
        Status::Critical
    } else if share >= ctx.thresholds.connections_warn {
        Status::Warning
    } else {
        Status::Ok
    };
    let mut summary =
        t!("PG002/slots-in-use", used = used, usable = usable, max = server.max_connections, reserved = reserved);
    if idle_long > 0 {
        summary = t!("PG002/also-idle", summary = summary, idle = idle_long, limit = &idle_limit_text);
    }
    if refused {
        summary = t!("PG002/also-refused", summary = summary);
    }
    if hidden > 0 {
        out.fact("sessions_with_hidden_state", hidden);
    }

    let top_idle: Vec<String> =
        gs.iter().filter(|g| g.idle_long > 0).take(3).map(|g| format!("{} ×{}", g.who(), g.idle_long)).collect();

    if status == Status::Ok {
        let calm = t!("PG002/share-in-use", share = percent(share));
        out.cause(Cause::ConnectionLeak, RuledOut, calm.clone());
        out.cause(Cause::MaxConnectionsLow, RuledOut, calm.clone());
        out.cause(
            Cause::IdleConnections,
            RuledOut,
            if idle_long > 0 {
                t!("PG002/idle-but-not-short", idle = idle_long, limit = &idle_limit_text, who = top_idle.join(", "))
            } else {
                calm
            },
        );
        return out.status(status, summary);
    }

    // idle-connections
    if idle_long > 0 {
        out.cause(
            Cause::IdleConnections,
            Confirmed,
            t!("PG002/idle-over", idle = idle_long, limit = &idle_limit_text, who = top_idle.join(", ")),
        );
    } else if hidden > 0 && f.sessions_seen_by.as_deref() == Some("app") {
        out.cause(Cause::IdleConnections, Unchecked, need_admin.clone());
    } else {
        out.cause(Cause::IdleConnections, RuledOut, t!("PG002/none-idle-over", limit = &idle_limit_text));
    }

    // connection-leak: one client holding most slots, mostly idle.
    match gs.first() {
        Some(g)
            if g.total >= 3 && g.total as f64 >= 0.5 * used as f64 && g.idle + g.idle_in_transaction > g.total / 2 =>
        {
            out.cause(
                Cause::ConnectionLeak,
                Suspected,
                t!(
                    "PG002/leak-suspected",
                    who = g.who(),
                    held = g.total,
                    used = used,
                    idle = g.idle + g.idle_in_transaction
                ),
            );
        }
        Some(g) => out.cause(
            Cause::ConnectionLeak,
            RuledOut,
            t!("PG002/no-dominant-client", who = g.who(), held = g.total, used = used),
        ),
        None => out.cause(Cause::ConnectionLeak, Unchecked, need_admin.clone()),
    }

    // max-connections-low: the slots are really in use, or the limit is tiny.
    if active as f64 >= ctx.thresholds.connections_warn * usable as f64 {
        out.cause(Cause::MaxConnectionsLow, Confirmed, t!("PG002/load-needs-more", active = active, usable = usable));
    } else if server.max_connections < 50 {
        out.cause(Cause::MaxConnectionsLow, Suspected, t!("PG002/max-connections-small", max = server.max_connections));
    } else {
        out.cause(Cause::MaxConnectionsLow, RuledOut, t!("PG002/few-active", active = active, used = used));
    }
    out.status(status, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Thresholds;

    use crate::facts::of::postgres::ServerFacts;
    use crate::problems::postgres::fixtures::{failed, healthy, session};

    fn ctx() -> Ctx {
        Ctx { thresholds: Thresholds::default() }
    }

    fn full_of(sessions: Vec<Session>, max: i64) -> PgFacts {
        let mut f = healthy();
        f.server = Some(ServerFacts { max_connections: max, superuser_reserved_connections: 3, ..Default::default() });
        f.sessions = Some(sessions);
        f
    }

    #[test]
    fn healthy_is_ok() {
        let f = diagnose(&healthy(), &ctx());
        assert_eq!(f.status, Status::Ok);
        assert!(f.causes.iter().all(|c| c.verdict == RuledOut));
    }

    #[test]
    fn idle_sessions_filling_the_slots_are_confirmed_with_who_holds_them() {
        let f = diagnose(&full_of((0..5).map(|i| session(i, "app", "idle", 900.0)).collect(), 8), &ctx());
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.verdict_of(Cause::IdleConnections), Some(Confirmed));
        let ev = &f.causes.iter().find(|c| c.id == "idle-connections").unwrap().evidence.en();
        assert!(ev.contains("app@authdb from 172.18.0.5 (user-api) ×5"), "{ev}");
        assert_eq!(f.verdict_of(Cause::ConnectionLeak), Some(Suspected));
        assert_eq!(f.verdict_of(Cause::MaxConnectionsLow), Some(Suspected));
        assert!(f.summary.en().starts_with("5 of 5 usable slots in use"), "{}", f.summary.en());
    }

    #[test]
    fn a_busy_server_confirms_max_connections_low() {
        let mut s: Vec<Session> = (0..97).map(|i| session(i, "app", "active", 0.5)).collect();
        for (i, x) in s.iter_mut().enumerate() {
            x.client_addr = Some(format!("10.0.0.{i}"));
        }
        let f = diagnose(&full_of(s, 100), &ctx());
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.verdict_of(Cause::MaxConnectionsLow), Some(Confirmed));
        assert_eq!(f.verdict_of(Cause::IdleConnections), Some(RuledOut));
        assert_eq!(f.verdict_of(Cause::ConnectionLeak), Some(RuledOut));
    }

    #[test]
    fn warning_at_the_threshold_share() {
        let s: Vec<Session> = (0..80).map(|i| session(i, "app", "active", 0.5)).collect();
        let f = diagnose(&full_of(s, 103), &ctx());
        assert_eq!(f.status, Status::Warning, "{}", f.summary.en());
    }

    #[test]
    fn refusal_without_admin_is_critical_and_asks_for_a_superuser() {
        let f = diagnose(
            &failed(PgErrorKind::TooManyClients, Some("53300"), "FATAL: sorry, too many clients already"),
            &ctx(),
        );
        assert_eq!(f.status, Status::Critical);
        assert!(f.causes.iter().all(|c| c.verdict == Unchecked && c.evidence.en().contains("--admin-url")));
    }

    #[test]
    fn no_connection_skips() {
        let f = diagnose(&failed(PgErrorKind::Refused, None, "refused"), &ctx());
        assert_eq!(f.status, Status::Skipped);
        assert!(f.summary.en().contains("PG001"));
    }
}
