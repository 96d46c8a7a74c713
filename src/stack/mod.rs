//! What runs, before anything is judged: which container plays each role of the stack, how it
//! was found, where it is from this host and from the other containers, and where its
//! credentials come from. Probes are aimed by this model, diagnosis reads it, `doctor stack`
//! prints it. The specification's three layouts are data ([`roles`]); the choice of a container
//! is a pure function ([`discover`]); aiming the probes with the configuration, the `.env`
//! files and the containers' own variables is [`targets`]. Nothing here prints a secret: the
//! model carries the sources of credentials, never their values.

pub mod commands;
pub mod config_file;
pub mod discover;
pub mod env_files;
pub mod position;
pub mod roles;
pub mod targets;

use crate::probe::docker::ContainerFacts;
use roles::Layout;
use serde::{Deserialize, Serialize};

pub const STACK_SCHEMA: &str = "doctor.stack/v1";

/// The stack as found: printed by `doctor stack`, kept in the facts of every run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stack {
    pub schema: String,
    /// The engine asked and what it is (`unix:///var/run/docker.sock (Docker 20.10.24)`), or
    /// why none was.
    pub engine: String,
    /// Where the engine's address came from: `flag`, `docker-host`, `docker-context`,
    /// `current-context` (config.json) or `default`; and the docker context that named it.
    #[serde(default)]
    pub engine_source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The doctor.toml read, if any (`--config`, `DOCTOR_CONFIG`, or found upwards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_file: Option<String>,
    /// `compose-working-dir` when that doctor.toml was found beside the stack's compose files
    /// (the last place looked), else absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_via: Option<String>,
    /// Set when doctor is not on the engine's host: where the services were aimed instead and
    /// why, and the roles it cannot see from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub away: Option<position::Away>,
    /// `A`, `B`, `C`, `custom` (pinned by configuration or found by image or port only), or
    /// `none` (no container found, or no engine).
    pub layout: String,
    pub services: Vec<Member>,
    /// The `.env` files read, in the order they count (paths only).
    #[serde(default)]
    pub env_files: Vec<String>,
    /// Things worth knowing about how the model was made (an unresolved `${VAR}`, a `.env`
    /// line that could not be read). Names only, never values.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One role of the stack.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub role: String,
    /// The container that plays it; `None` when none was found (see `why`).
    pub container: Option<String>,
    /// `config`, `compose-service`, `name`, `image`, `port`.
    pub found_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose_project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose_service: Option<String>,
    /// The directory of its compose file (`com.docker.compose.project.working_dir`), where
    /// `docker compose` commands for it are run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<bool>,
    /// How doctor reaches it from this host (password masked).
    pub host_url: Option<String>,
    /// Why that address: `published port 0.0.0.0:8002->8000`, `doctor.toml`, `default`, ...
    #[serde(default)]
    pub host_url_from: String,
    /// How the other containers of the stack reach it (from their own variables when they
    /// name it, else as its layout wires it).
    pub container_url: Option<String>,
    /// `container-env`, `.env`, `config`, `environment`, `flag` or `none`.
    pub credentials_from: String,
    /// Which variable of which source, in words (never the value).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credentials_detail: String,
    /// Why no container was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Other containers that matched as strongly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    pub optional: bool,
}

impl Stack {
    pub fn member(&self, role: &str) -> Option<&Member> {
        self.services.iter().find(|m| m.role == role)
    }

    /// The container playing `role`, when one was found.
    pub fn container(&self, role: &str) -> Option<&str> {
        self.member(role).and_then(|m| m.container.as_deref())
    }
}

/// The name a role's container has in a layout (for "missing" messages before anything was
/// found): layout A's container name, or the runbook's.
pub fn expected_name(role: &str, layout: Option<Layout>) -> String {
    let Some(r) = roles::role(role) else { return role.to_string() };
    let want = layout.unwrap_or(Layout::C);
    r.names.iter().find(|(_, l)| *l == want).map(|(n, _)| n.to_string()).unwrap_or_else(|| r.key.to_string())
}

/// Host names that, inside a container, mean "the Docker host": `host.docker.internal`
/// (Docker Desktop, or `--add-host host.docker.internal:host-gateway` on Linux) and the
/// default bridge's gateway address.
pub fn is_docker_host_alias(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    matches!(h.as_str(), "host.docker.internal" | "gateway.docker.internal" | "docker.for.mac.localhost")
        || h == "172.17.0.1"
}

/// Where a URL written for the containers (`host:port` as a service's variable has it) is
/// from this host, and why. `None` when the URL is not written for the containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub host: String,
    pub port: u16,
    /// In words: `host.docker.internal:5432 is port 5432 of this host`.
    pub why: String,
}

/// The host-side address of `host:port` as written inside a container of the stack:
/// `host.docker.internal:P` is this host's port P; a container's name, alias, compose service
/// or address with its container port is that container's published port.
pub fn route_from_host(host: &str, port: u16, containers: &[&ContainerFacts]) -> Option<Route> {
    if is_docker_host_alias(host) {
        return Some(Route {
            host: "127.0.0.1".into(),
            port,
            why: format!("{host}:{port} is port {port} of the Docker host, this machine"),
        });
    }
    let h = host.to_ascii_lowercase();
    let target = containers.iter().find(|c| {
        c.name.eq_ignore_ascii_case(&h)
            || c.compose_service.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(&h))
            || c.networks
                .iter()
                .any(|n| n.ip.as_deref() == Some(h.as_str()) || n.aliases.iter().any(|a| a.eq_ignore_ascii_case(&h)))
    })?;
    let binding =
        target.ports.iter().find(|p| p.container_port == port && p.host_port.is_some() && p.proto == "tcp")?;
    let ip = match binding.host_ip.as_deref() {
        None | Some("0.0.0.0") | Some("") => "127.0.0.1".to_string(),
        Some("::") => "::1".to_string(),
        Some(ip) => ip.to_string(),
    };
    let host_port = binding.host_port?;
    Some(Route {
        why: format!("{host}:{port} is {}'s port {port}, published on this host as {ip}:{host_port}", target.name),
        host: ip,
        port: host_port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::docker::{NetFacts, PortFacts};

    #[test]
    fn routes_from_this_host() {
        let pg = ContainerFacts {
            name: "ai-micro-service-postgres-1".into(),
            compose_service: Some("postgres".into()),
            networks: vec![NetFacts { name: "n".into(), aliases: vec!["db".into()], ip: Some("172.20.0.5".into()) }],
            ports: vec![PortFacts {
                container_port: 5432,
                proto: "tcp".into(),
                host_ip: Some("0.0.0.0".into()),
                host_port: Some(15432),
                from_host: None,
            }],
            ..Default::default()
        };
        let all = [&pg];
        let r = route_from_host("host.docker.internal", 5432, &all).unwrap();
        assert_eq!((r.host.as_str(), r.port), ("127.0.0.1", 5432));
        for name in ["postgres", "db", "172.20.0.5", "ai-micro-service-postgres-1"] {
            let r = route_from_host(name, 5432, &all).unwrap();
            assert_eq!((r.host.as_str(), r.port), ("127.0.0.1", 15432), "{name}");
        }
        assert_eq!(route_from_host("postgres", 6543, &all), None, "no binding for that container port");
        assert_eq!(route_from_host("db.example.com", 5432, &all), None);
        assert_eq!(expected_name("auth-service", Some(Layout::A)), "ai-micro-api-auth");
        assert_eq!(expected_name("user-api", Some(Layout::B)), "user-service");
        assert_eq!(expected_name("user-api", None), "user-api");
    }
}
