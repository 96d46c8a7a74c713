//! PostgreSQL problems PG001–PG004, each diagnosed from one `PgFacts`.

pub mod pg001_cannot_connect;
pub mod pg002_too_many_clients;
pub mod pg003_slow_queries;
pub mod pg004_connections_drop;

use crate::probe::postgres::PgFacts;
use crate::report::Finding;

use super::Ctx;

pub fn diagnose(facts: &PgFacts, ctx: &Ctx) -> Vec<Finding> {
    vec![
        pg001_cannot_connect::diagnose(facts, ctx),
        pg002_too_many_clients::diagnose(facts, ctx),
        pg003_slow_queries::diagnose(facts, ctx),
        pg004_connections_drop::diagnose(facts, ctx),
    ]
}

/// Why PG002–PG004 cannot be looked at: no connection of any kind was had.
pub(crate) fn no_connection(facts: &PgFacts) -> bool {
    !facts.app_connected() && !facts.admin_connected()
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Facts as the probe returns them for a healthy server; tests change one thing each.
    use crate::probe::postgres::*;

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
            key_indexes: Some(vec![KeyIndex { table: "users".into(), column: "email".into(), indexed: true }]),
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
