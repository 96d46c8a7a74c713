//! The roles of the stack and every name the specification gives each of them, as data: the
//! three layouts of `CONTRACT.md` (A: one compose project per repository, B: one compose file,
//! C: the runbook's short names) are rows of this table, not branches in the checks. A role's
//! `key` is the runbook's name (layout C); every check and fact names a service by it.

use serde::{Deserialize, Serialize};

/// Which of the specification's deployment descriptions a name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Layout {
    /// One compose project per repository (`ai-micro-postgres`, `ai-micro-api-auth`, ...),
    /// services reaching each other through `host.docker.internal` and the published ports.
    A,
    /// One compose file (`13-deployment/02`): `auth-service`, `user-service`, `admin-service`.
    B,
    /// The runbook's names: `postgres`, `auth-service`, `user-api`, ...
    C,
}

/// How doctor talks to a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    Redis,
    /// An HTTP service; the health paths to try, in order.
    Http {
        health: &'static [&'static str],
    },
}

#[derive(Debug)]
pub struct Role {
    /// The role's name in every fact and check (the runbook's container name).
    pub key: &'static str,
    pub kind: Kind,
    /// Prometheus and the MCP server may be absent from a healthy stack.
    pub optional: bool,
    /// The port the specification publishes it on (the same in every layout).
    pub host_port: u16,
    /// Ports the process may listen on inside its container: layout A's first.
    pub container_ports: &'static [u16],
    /// Container names and compose service names, each with the layout it comes from.
    pub names: &'static [(&'static str, Layout)],
    /// Layout A's compose project (the repository's directory).
    pub projects: &'static [&'static str],
    /// Words an image name of this role contains (only where they say it: a Python image
    /// says nothing about which API it runs).
    pub images: &'static [&'static str],
    /// Where doctor reaches it with no configuration and no engine.
    pub default_url: &'static str,
}

pub const API_HEALTH: &[&str] = &["/healthz", "/health"];
pub const AUTH_HEALTH: &[&str] = &["/health", "/healthz"];
pub const BFF_HEALTH: &[&str] = &["/api/health"];

use Layout::*;

pub const ROLES: &[Role] = &[
    Role {
        key: "postgres",
        kind: Kind::Postgres,
        optional: false,
        host_port: 5432,
        container_ports: &[5432],
        names: &[("ai-micro-postgres", A), ("postgres", B), ("postgres", C)],
        projects: &["ai-micro-postgres"],
        images: &["postgres", "pgvector"],
        default_url: "postgresql://postgres@localhost:5432/authdb",
    },
    Role {
        key: "redis",
        kind: Kind::Redis,
        optional: false,
        host_port: 6379,
        container_ports: &[6379],
        names: &[("ai-micro-redis", A), ("redis", B), ("redis", C)],
        projects: &["ai-micro-redis"],
        images: &["redis"],
        default_url: "redis://localhost:6379",
    },
    Role {
        key: "auth-service",
        kind: Kind::Http { health: AUTH_HEALTH },
        optional: false,
        host_port: 8002,
        container_ports: &[8000, 8002],
        names: &[("ai-micro-api-auth", A), ("auth-service", B), ("auth-service", C)],
        projects: &["ai-micro-api-auth"],
        images: &["ai-micro-api-auth", "auth-service"],
        default_url: "http://localhost:8002",
    },
    Role {
        key: "user-api",
        kind: Kind::Http { health: API_HEALTH },
        optional: false,
        host_port: 8001,
        container_ports: &[8000, 8001],
        names: &[("ai-micro-api-user", A), ("user-service", B), ("user-api", C)],
        projects: &["ai-micro-api-user"],
        images: &["ai-micro-api-user", "user-api", "user-service"],
        default_url: "http://localhost:8001",
    },
    Role {
        key: "admin-api",
        kind: Kind::Http { health: API_HEALTH },
        optional: false,
        host_port: 8003,
        container_ports: &[8000, 8003],
        names: &[("ai-micro-api-admin", A), ("ai-micro-admin-api", A), ("admin-service", B), ("admin-api", C)],
        projects: &["ai-micro-api-admin"],
        images: &["ai-micro-api-admin", "ai-micro-admin-api", "admin-api", "admin-service"],
        default_url: "http://localhost:8003",
    },
    Role {
        key: "user-frontend",
        kind: Kind::Http { health: BFF_HEALTH },
        optional: false,
        host_port: 3002,
        container_ports: &[3000, 3002],
        names: &[("ai-micro-front-user", A), ("user-frontend", B), ("user-frontend", C)],
        projects: &["ai-micro-front-user"],
        images: &["ai-micro-front-user", "user-frontend"],
        default_url: "http://localhost:3002",
    },
    Role {
        key: "admin-frontend",
        kind: Kind::Http { health: BFF_HEALTH },
        optional: false,
        host_port: 3003,
        container_ports: &[3000, 3003],
        names: &[("ai-micro-front-admin", A), ("admin-frontend", B), ("admin-frontend", C)],
        projects: &["ai-micro-front-admin"],
        images: &["ai-micro-front-admin", "admin-frontend"],
        default_url: "http://localhost:3003",
    },
    Role {
        key: "prometheus",
        kind: Kind::Http { health: &["/-/healthy"] },
        optional: true,
        host_port: 9090,
        container_ports: &[9090],
        names: &[("prometheus", A), ("prometheus", B), ("prometheus", C)],
        projects: &[],
        images: &["prometheus"],
        default_url: "http://localhost:9090",
    },
    Role {
        key: "mcp",
        kind: Kind::Http { health: &["/health"] },
        optional: true,
        host_port: 8004,
        container_ports: &[8004, 8000],
        names: &[("ai-micro-mcp-admin", A)],
        projects: &["ai-micro-mcp-admin"],
        images: &["ai-micro-mcp-admin"],
        default_url: "http://localhost:8004",
    },
];

pub fn role(key: &str) -> Option<&'static Role> {
    ROLES.iter().find(|r| r.key == key)
}

/// Every role's key, in the table's order (the order of every list doctor prints).
pub fn keys() -> impl Iterator<Item = &'static str> {
    ROLES.iter().map(|r| r.key)
}

impl Role {
    pub fn is_http(&self) -> bool {
        matches!(self.kind, Kind::Http { .. })
    }

    /// Whether `name` (a container name, or a compose service name) is one of this role's.
    pub fn has_name(&self, name: &str) -> bool {
        self.names.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The layout a name of this role belongs to, when it tells one (layout A's names are its
    /// own; `postgres` is both B's and C's, so it says C).
    pub fn layout_of(&self, name: &str) -> Option<Layout> {
        let mut hits = self.names.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, l)| *l);
        let first = hits.next()?;
        Some(hits.fold(first, |a, b| a.max(b)))
    }

    /// Whether an image reference (`registry/ns/name:tag@digest`) says it is this role.
    pub fn image_matches(&self, image: &str) -> bool {
        let no_digest = image.split('@').next().unwrap_or(image);
        let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
        let name = last.split(':').next().unwrap_or(last).to_ascii_lowercase();
        // Exporters carry the name of what they export (redis_exporter, postgres-exporter).
        if name.contains("exporter") {
            return false;
        }
        self.images.iter().any(|w| name.contains(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_is_listed_once_and_carries_the_contracts_names() {
        let keys: Vec<&str> = keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), keys.len());
        // The contract's table: layout A's container and B's names.
        for (key, a, b) in [
            ("postgres", "ai-micro-postgres", "postgres"),
            ("redis", "ai-micro-redis", "redis"),
            ("auth-service", "ai-micro-api-auth", "auth-service"),
            ("user-api", "ai-micro-api-user", "user-service"),
            ("admin-api", "ai-micro-api-admin", "admin-service"),
            ("user-frontend", "ai-micro-front-user", "user-frontend"),
            ("admin-frontend", "ai-micro-front-admin", "admin-frontend"),
        ] {
            let r = role(key).unwrap();
            assert!(r.has_name(a) && r.has_name(b) && r.has_name(key), "{key}");
            assert_eq!(r.layout_of(a), Some(Layout::A), "{key}");
        }
        assert!(role("admin-api").unwrap().has_name("ai-micro-admin-api"));
        assert!(role("mcp").unwrap().optional && role("prometheus").unwrap().optional);
    }

    #[test]
    fn images_say_a_role_only_where_they_can() {
        let pg = role("postgres").unwrap();
        assert!(pg.image_matches("postgres:15-alpine"));
        assert!(pg.image_matches("ai-micro-postgres:pgvector-15"));
        assert!(pg.image_matches("docker.io/pgvector/pgvector:pg15@sha256:abc"));
        assert!(!pg.image_matches("quay.io/prometheuscommunity/postgres-exporter:v0.15"));
        let rd = role("redis").unwrap();
        assert!(rd.image_matches("redis:7") && !rd.image_matches("oliver006/redis_exporter"));
        assert!(!role("user-api").unwrap().image_matches("python:3.11-slim"));
    }
}
