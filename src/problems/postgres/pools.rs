//! The stack's connection pools as PG002 weighs them. Every API holds a SQLAlchemy pool of
//! `pool_size + max_overflow` connections to its own database, all as the superuser
//! `postgres` (`06-database/02`: auth 20+10, user-api 15+5, admin-api 25+15; the MCP server
//! 20+30 on admindb, `04-mcp-server`): 90 together, 140 with MCP, against the default
//! `max_connections = 100`. Which services count comes from the best source at hand: the
//! engine (their containers running) or their own pool variables, else the databases that
//! have client sessions (the services are then only inferred). The numbers are each service's
//! `POOL_SIZE`/`MAX_OVERFLOW` where set, else the spec's. Apart from PG002 so that the slots'
//! arithmetic and the idle sessions that are only a pool's normal state are decided in one
//! place.

use crate::facts::PoolSetting;
use crate::facts::of::postgres::Session;
use crate::problems::engine::{DockerView, Seen};
use std::collections::BTreeMap;

/// The spec's pools: (role, database, pool_size, max_overflow).
pub const SPEC_POOLS: [(&str, &str, u32, u32); 4] = [
    ("auth-service", "authdb", 20, 10),
    ("user-api", "apidb", 15, 5),
    ("admin-api", "admindb", 25, 15),
    ("mcp", "admindb", 20, 30),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub role: &'static str,
    pub database: &'static str,
    pub size: u32,
    pub overflow: u32,
    /// Where the numbers come from: the variables' source, or None for the spec's.
    pub set_by: Option<String>,
    /// Whether the service is known to be there (running container, own variables), not only
    /// inferred from sessions on its database.
    pub known: bool,
}

impl Pool {
    pub fn capacity(&self) -> u32 {
        self.size + self.overflow
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pools(pub Vec<Pool>);

impl Pools {
    pub fn capacity(&self) -> u32 {
        self.0.iter().map(Pool::capacity).sum()
    }

    /// The connections the pools on `database` may hold together.
    pub fn capacity_of(&self, database: &str) -> Option<u32> {
        let on: Vec<&Pool> = self.0.iter().filter(|p| p.database == database).collect();
        (!on.is_empty()).then(|| on.iter().map(|p| p.capacity()).sum())
    }

    /// Every service counted is known to be there (not only inferred from sessions).
    pub fn all_known(&self) -> bool {
        self.0.iter().all(|p| p.known)
    }
}

fn pool(role: &'static str, setting: Option<&PoolSetting>, known: bool) -> Option<Pool> {
    let (_, database, size, overflow) = SPEC_POOLS.iter().copied().find(|(r, ..)| *r == role)?;
    Some(Pool {
        role,
        database,
        size: setting.and_then(|s| s.pool_size).unwrap_or(size),
        overflow: setting.and_then(|s| s.max_overflow).unwrap_or(overflow),
        set_by: setting.map(|s| s.source.clone()),
        known,
    })
}

/// The pools of the services that are there: running per the engine, or with pool variables
/// of their own; else, with neither, one per database of the spec that has client sessions.
pub fn of_stack(settings: &BTreeMap<String, PoolSetting>, docker: &DockerView, sessions: &[Session]) -> Pools {
    let mut out = Vec::new();
    for (role, ..) in SPEC_POOLS {
        let running = matches!(docker.seen(role), Seen::Found(c) if c.running);
        let setting = settings.get(role);
        if running || setting.is_some() {
            out.extend(pool(role, setting, true));
        }
    }
    if !out.is_empty() {
        return Pools(out);
    }
    // Only the sessions say which services are connected; admindb's is taken for admin-api.
    for (role, database, ..) in SPEC_POOLS.iter().take(3) {
        if sessions.iter().any(|s| s.datname.as_deref() == Some(database)) {
            out.extend(pool(role, None, false));
        }
    }
    Pools(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problems::fixtures::{engine, running, view};

    fn on(db: &str) -> Session {
        Session { datname: Some(db.into()), ..Default::default() }
    }

    #[test]
    fn the_running_services_count_with_their_own_numbers_else_the_specs() {
        let docker = engine(vec![running("auth-service"), running("user-api"), running("admin-api")]);
        let settings: BTreeMap<String, PoolSetting> = [(
            "admin-api".to_string(),
            PoolSetting { pool_size: Some(5), max_overflow: None, source: "POOL_SIZE (.env)".into() },
        )]
        .into();
        let p = of_stack(&settings, &view(&docker), &[]);
        assert_eq!(p.capacity(), 30 + 20 + 5 + 15);
        assert!(p.all_known());
        assert_eq!(p.capacity_of("admindb"), Some(20));
        assert_eq!(p.0[2].set_by.as_deref(), Some("POOL_SIZE (.env)"));
        // The spec's stack: 90, and 140 with the MCP server.
        let docker = engine(vec![running("auth-service"), running("user-api"), running("admin-api"), running("mcp")]);
        assert_eq!(of_stack(&BTreeMap::new(), &view(&docker), &[]).capacity(), 140);
    }

    #[test]
    fn without_the_engine_the_databases_in_use_say_which_services_are_connected() {
        let p = of_stack(&BTreeMap::new(), &DockerView::none(), &[on("authdb"), on("authdb"), on("admindb"), on("x")]);
        assert_eq!(p.0.iter().map(|p| p.role).collect::<Vec<_>>(), ["auth-service", "admin-api"]);
        assert_eq!(p.capacity(), 70);
        assert!(!p.all_known());
        assert_eq!(of_stack(&BTreeMap::new(), &DockerView::none(), &[on("x")]), Pools::default());
    }
}
