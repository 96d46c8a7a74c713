//! PG002: too many clients. Reads `max_connections`, the reserved slots and every client
//! session (who, from where, in which state, for how long); a 53300 refusal of the
//! application connection is itself proof. May confirm `idle-connections` and
//! `max-connections-low`; `connection-leak` can only be suspected from one snapshot.
//! `pool-oversubscribed` weighs the services' pools against the usable slots (see `pools`);
//! idle sessions that fit their database's pools are the pools' normal state, never a leak.

use super::no_connection;
use super::pools::{self, Pools};
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
    PoolOversubscribed = "pool-oversubscribed",
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
    let sessions = pg.sessions.as_deref().unwrap_or_default();
    let pools = pools::of_stack(&i.facts.pools, &i.docker, sessions);
    vec![i.timed(diagnose(pg, &pools, i.ctx), i.facts.postgres_ms)]
}

const ALL: [Cause; 4] =
    [Cause::ConnectionLeak, Cause::MaxConnectionsLow, Cause::IdleConnections, Cause::PoolOversubscribed];

/// `auth-service 20+10 (POOL_SIZE of … ), user-api 15+5 (the spec's)`.
fn pools_text(pools: &Pools) -> String {
    pools
        .0
        .iter()
        .map(|p| {
            let from = p.set_by.clone().unwrap_or_else(|| "the spec's".into());
            format!("{} {}+{} on {} ({from})", p.role, p.size, p.overflow, p.database)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `pool-oversubscribed`: the pools' capacity against the usable slots.
fn oversubscribed(pools: &Pools, usable: i64, max: i64) -> (crate::report::Verdict, crate::text::Text) {
    if pools.0.is_empty() {
        return (Unchecked, t!("PG002/no-pools-seen"));
    }
    let capacity = i64::from(pools.capacity());
    let list = pools_text(pools);
    if capacity <= usable {
        return (RuledOut, t!("PG002/pools-fit", capacity = capacity, usable = usable, pools = &list));
    }
    let mut why = t!("PG002/pools-exceed", capacity = capacity, usable = usable, max = max, pools = &list);
    if capacity >= max {
        why = t!("PG002/pools-take-reserved", before = why);
    }
    if pools.all_known() { (Confirmed, why) } else { (Suspected, t!("PG002/pools-inferred", before = why)) }
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

/// `pools`: the services' pools as far as they are known (see [`pools::of_stack`]).
pub fn diagnose(f: &PgFacts, pools: &Pools, ctx: &Ctx) -> Finding {
    let mut out = Finding::new("PG002", f.target.clone());
    let refused = f.app_error().is_some_and(|e| e.kind == PgErrorKind::TooManyClients);
    let need_admin = t!("PG002/need-admin");
    let (Some(server), Some(sessions)) = (&f.server, &f.sessions) else {
        if refused {
            let msg = f.app_error().map(|e| e.message.clone()).unwrap_or_default();
            out.fact("refused", &msg);
            out.causes_all(&ALL, Unchecked, need_admin.clone());
            return out.status(Status::Critical, t!("PG002/application-refused", message = msg));
        }
        let why = if no_connection(f) {
            depends_on("PG001", t!("shared/no-server-connection"))
        } else {
            t!("PG002/unreadable", errors = f.query_errors.join("; "))
        };
        out.causes_all(&ALL, Unchecked, why.clone());
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
    // A database whose sessions all fit its pools: those idle are the pools' own.
    let on_db = |db: &str| sessions.iter().filter(|s| s.datname.as_deref() == Some(db)).count();
    let pooled = |g: &Group| pools.capacity_of(&g.database).is_some_and(|c| on_db(&g.database) <= c as usize);
    let idle_long_pooled: usize = gs.iter().filter(|g| pooled(g)).map(|g| g.idle_long).sum();
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
    if !pools.0.is_empty() {
        out.fact("pool_capacity", pools.capacity());
        let list: Vec<serde_json::Value> = pools
            .0
            .iter()
            .map(|p| {
                serde_json::json!({"service": p.role, "database": p.database, "pool_size": p.size,
                    "max_overflow": p.overflow, "from": p.set_by.as_deref().unwrap_or("spec default")})
            })
            .collect();
        out.fact("pools", list);
    }
    let (pool_verdict, pool_why) = oversubscribed(pools, usable, server.max_connections);

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
    let top_unpooled: Vec<String> = gs
        .iter()
        .filter(|g| g.idle_long > 0 && !pooled(g))
        .take(3)
        .map(|g| format!("{} ×{}", g.who(), g.idle_long))
        .collect();
    // A latent fault: the pools may open more than the server allows at the next peak.
    let status = if pool_verdict == Confirmed { status.max(Status::Warning) } else { status };
    if pool_verdict == Confirmed {
        summary = t!("PG002/also-pools", summary = summary, capacity = pools.capacity(), usable = usable);
    }

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
        out.cause(Cause::PoolOversubscribed, pool_verdict, pool_why);
        return out.status(status, summary);
    }

    // idle-connections: those beyond their pools confirm it; within them they are the pools'.
    let unpooled = idle_long - idle_long_pooled;
    if unpooled > 0 {
        out.cause(
            Cause::IdleConnections,
            Confirmed,
            t!("PG002/idle-over", idle = unpooled, limit = &idle_limit_text, who = top_unpooled.join(", ")),
        );
    } else if idle_long_pooled > 0 {
        let why = t!("PG002/idle-pooled", idle = idle_long_pooled, limit = &idle_limit_text, who = top_idle.join(", "));
        if pools.all_known() {
            out.cause(Cause::IdleConnections, RuledOut, why);
        } else {
            out.cause(Cause::IdleConnections, Suspected, t!("PG002/idle-pooled-inferred", before = why));
        }
    } else if hidden > 0 && f.sessions_seen_by.as_deref() == Some("app") {
        out.cause(Cause::IdleConnections, Unchecked, need_admin.clone());
    } else {
        out.cause(Cause::IdleConnections, RuledOut, t!("PG002/none-idle-over", limit = &idle_limit_text));
    }

    // connection-leak: one client holding most slots, mostly idle.
    match gs.first() {
        Some(g) if pooled(g) => out.cause(
            Cause::ConnectionLeak,
            RuledOut,
            t!(
                "PG002/within-pool",
                who = g.who(),
                held = g.total,
                database = &g.database,
                capacity = pools.capacity_of(&g.database).unwrap_or(0)
            ),
        ),
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
    out.cause(Cause::PoolOversubscribed, pool_verdict, pool_why);
    out.status(status, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Thresholds;
    use crate::problems::engine::DockerView;
    use crate::problems::fixtures::{assert_cause, engine, running, view};

    use crate::facts::of::postgres::ServerFacts;
    use crate::problems::postgres::fixtures::{failed, healthy, session};

    fn ctx() -> Ctx {
        Ctx { thresholds: Thresholds::default() }
    }

    /// As `run` does without the engine or pool variables.
    fn judge(f: &PgFacts) -> Finding {
        let pools = pools::of_stack(&BTreeMap::new(), &DockerView::none(), f.sessions.as_deref().unwrap_or_default());
        diagnose(f, &pools, &ctx())
    }

    fn full_of(sessions: Vec<Session>, max: i64) -> PgFacts {
        let mut f = healthy();
        f.server = Some(ServerFacts { max_connections: max, superuser_reserved_connections: 3, ..Default::default() });
        f.sessions = Some(sessions);
        f
    }

    #[test]
    fn healthy_is_ok() {
        let f = judge(&healthy());
        assert_eq!(f.status, Status::Ok);
        assert!(f.causes.iter().all(|c| c.verdict == RuledOut));
    }

    #[test]
    fn idle_sessions_beyond_their_pool_are_confirmed_with_who_holds_them() {
        // On a database of no service the spec pools: as before, confirmed and a leak suspected.
        let mut s: Vec<Session> = (0..5).map(|i| session(i, "app", "idle", 900.0)).collect();
        for x in &mut s {
            x.datname = Some("shop".into());
        }
        let f = judge(&full_of(s, 8));
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.verdict_of(Cause::IdleConnections), Some(Confirmed));
        let ev = &f.causes.iter().find(|c| c.id == "idle-connections").unwrap().evidence.en();
        assert!(ev.contains("app@shop from 172.18.0.5 (user-api) ×5"), "{ev}");
        assert_eq!(f.verdict_of(Cause::ConnectionLeak), Some(Suspected));
        assert_eq!(f.verdict_of(Cause::MaxConnectionsLow), Some(Suspected));
        assert_eq!(f.verdict_of(Cause::PoolOversubscribed), Some(Unchecked));
        assert!(f.summary.en().starts_with("5 of 5 usable slots in use"), "{}", f.summary.en());

        // 35 idle on authdb: more than auth-service's pool of 30 can hold.
        let f = judge(&full_of((0..35).map(|i| session(i, "app", "idle", 900.0)).collect(), 40));
        assert_eq!(f.verdict_of(Cause::IdleConnections), Some(Confirmed));
        assert_eq!(f.verdict_of(Cause::ConnectionLeak), Some(Suspected));
    }

    #[test]
    fn idle_sessions_within_their_pool_are_the_pools_own() {
        // Inferred from the sessions only: idle-connections suspected at most, no leak.
        let f = judge(&full_of((0..5).map(|i| session(i, "app", "idle", 900.0)).collect(), 8));
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.verdict_of(Cause::IdleConnections), Some(Suspected));
        assert_cause(&f, "idle-connections", Suspected, "all within their services' pools");
        assert_cause(&f, "connection-leak", RuledOut, "authdb's sessions fit its pools (30)");
        assert_cause(
            &f,
            "pool-oversubscribed",
            Suspected,
            "the pools may open 30 connections together, more than the 5",
        );
        assert_cause(&f, "pool-oversubscribed", Suspected, "doctor's own admin connection would then be refused");
        assert_cause(&f, "pool-oversubscribed", Suspected, "inferred from the databases in use");

        // Known through the engine: the pooled idle sessions rule it out, and the pools are confirmed.
        let docker = engine(vec![running("auth-service")]);
        let facts = full_of((0..5).map(|i| session(i, "app", "idle", 900.0)).collect(), 8);
        let pools = pools::of_stack(&BTreeMap::new(), &view(&docker), facts.sessions.as_deref().unwrap());
        let f = diagnose(&facts, &pools, &ctx());
        assert_cause(&f, "idle-connections", RuledOut, "pooled connections wait idle by design");
        assert_cause(&f, "pool-oversubscribed", Confirmed, "auth-service 20+10 on authdb (the spec's)");
    }

    #[test]
    fn pools_against_the_slots_of_the_specs_stack() {
        use crate::facts::PoolSetting;
        let all = |mcp: bool| {
            let mut c = vec![running("auth-service"), running("user-api"), running("admin-api")];
            if mcp {
                c.push(running("mcp"));
            }
            engine(c)
        };
        let calm: Vec<Session> = (0..10).map(|i| session(i, "postgres", "idle", 30.0)).collect();
        // 90 within 97: ruled out, and the check stays ok.
        let docker = all(false);
        let pools = pools::of_stack(&BTreeMap::new(), &view(&docker), &calm);
        let f = diagnose(&full_of(calm.clone(), 100), &pools, &ctx());
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_cause(&f, "pool-oversubscribed", RuledOut, "90 connections together, within the 97 usable slots");
        assert_eq!(f.evidence["pool_capacity"], 90);
        // 140 with the MCP server: confirmed, and a warning although the slots are not short yet.
        let docker = all(true);
        let pools = pools::of_stack(&BTreeMap::new(), &view(&docker), &calm);
        let f = diagnose(&full_of(calm.clone(), 100), &pools, &ctx());
        assert_eq!(f.status, Status::Warning, "{}", f.summary.en());
        assert!(f.summary.en().contains("the pools may open 140 connections, more than the 97 usable slots"));
        assert_cause(&f, "pool-oversubscribed", Confirmed, "mcp 20+30 on admindb");
        assert_cause(&f, "pool-oversubscribed", Confirmed, "they can take the reserved slots too");
        // The services' own variables win over the spec's numbers.
        let small = PoolSetting { pool_size: Some(5), max_overflow: Some(5), source: "POOL_SIZE (.env)".into() };
        let settings: BTreeMap<String, PoolSetting> =
            ["auth-service", "user-api", "admin-api", "mcp"].map(|r| (r.to_string(), small.clone())).into();
        let pools = pools::of_stack(&settings, &view(&docker), &calm);
        let f = diagnose(&full_of(calm, 100), &pools, &ctx());
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "pool-oversubscribed", RuledOut, "40 connections together");
        assert_cause(&f, "pool-oversubscribed", RuledOut, "auth-service 5+5 on authdb (POOL_SIZE (.env))");
    }

    #[test]
    fn a_busy_server_confirms_max_connections_low() {
        let mut s: Vec<Session> = (0..97).map(|i| session(i, "app", "active", 0.5)).collect();
        for (i, x) in s.iter_mut().enumerate() {
            x.client_addr = Some(format!("10.0.0.{i}"));
        }
        let f = judge(&full_of(s, 100));
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.verdict_of(Cause::MaxConnectionsLow), Some(Confirmed));
        assert_eq!(f.verdict_of(Cause::IdleConnections), Some(RuledOut));
        assert_eq!(f.verdict_of(Cause::ConnectionLeak), Some(RuledOut));
    }

    #[test]
    fn warning_at_the_threshold_share() {
        let s: Vec<Session> = (0..80).map(|i| session(i, "app", "active", 0.5)).collect();
        let f = judge(&full_of(s, 103));
        assert_eq!(f.status, Status::Warning, "{}", f.summary.en());
    }

    #[test]
    fn refusal_without_admin_is_critical_and_asks_for_a_superuser() {
        let f = judge(&failed(PgErrorKind::TooManyClients, Some("53300"), "FATAL: sorry, too many clients already"));
        assert_eq!(f.status, Status::Critical);
        assert!(f.causes.iter().all(|c| c.verdict == Unchecked && c.evidence.en().contains("--admin-url")));
    }

    #[test]
    fn no_connection_skips() {
        let f = judge(&failed(PgErrorKind::Refused, None, "refused"));
        assert_eq!(f.status, Status::Skipped);
        assert!(f.summary.en().contains("PG001"));
    }
}
