//! Where doctor stands against the engine's host, and what follows for the probes' aim. When
//! doctor is not on the engine's host (the engine is `tcp://`/`ssh://` to another host, or
//! doctor runs in a container without the host's network), the stack's published ports are on
//! that host, not on this one's loopback: the service probes are aimed at the engine's host
//! (the testcontainers rule), or at `--service-host`, and a port published only on that host's
//! own loopback (`127.0.0.1:6379:6379`) cannot be seen from here, which the checks then say
//! instead of blaming a URL or a firewall. Pure: what doctor found of its own place comes in as
//! [`crate::probe::position::Place`].

use super::Route;
use super::targets::Targets;
use crate::probe::docker::ContainerFacts;
use crate::probe::position::Place;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// doctor is not on the engine's host: where the services are aimed instead, and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Away {
    /// The host the service probes are aimed at.
    pub service_host: String,
    /// `service-host` (`--service-host`, `DOCTOR_SERVICE_HOST`, doctor.toml), `remote-engine`
    /// or `in-container`.
    pub why: String,
    /// What shows it: the setting that named the host, the engine's URL, or `/.dockerenv`.
    pub detail: String,
    /// Roles whose port is published only on the engine host's loopback, with that binding
    /// (`127.0.0.1:6379`): not reachable from here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unseen: BTreeMap<String, String>,
}

pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    h == "localhost" || h.starts_with("127.") || h == "::1" || h.ends_with(".localhost")
}

/// The host of an engine URL doctor talks to over the network (`tcp://`, `https://`,
/// `ssh://`), when it has one.
fn engine_host(engine: &str) -> Option<String> {
    let (scheme, _) = engine.split_once("://")?;
    if !matches!(scheme, "tcp" | "http" | "https" | "ssh") {
        return None;
    }
    let u = url::Url::parse(&engine.replacen("tcp://", "http://", 1)).ok()?;
    u.host_str().map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
}

/// Decides. `explicit` is `--service-host` (or its variable or key) with where it came from;
/// `engine` the engine's address.
pub fn decide(explicit: Option<(&str, &str)>, engine: &str, place: &Place) -> Option<Away> {
    if let Some((host, from)) = explicit.filter(|(h, _)| !h.trim().is_empty()) {
        return Some(Away {
            service_host: host.trim().to_string(),
            why: "service-host".into(),
            detail: from.to_string(),
            unseen: BTreeMap::new(),
        })
        .filter(|a| !is_loopback(&a.service_host));
    }
    if let Some(h) = engine_host(engine) {
        return (!is_loopback(&h)).then(|| Away {
            service_host: h,
            why: "remote-engine".into(),
            detail: crate::redact::url(engine),
            unseen: BTreeMap::new(),
        });
    }
    // A local engine (its socket mounted in): away only in a network of the container's own.
    if place.in_container.is_some() && !place.host_network && place.engine_socket {
        return Some(Away {
            service_host: place.gateway.clone().unwrap_or_else(|| "host.docker.internal".into()),
            why: "in-container".into(),
            detail: place.in_container.clone().unwrap_or_default(),
            unseen: BTreeMap::new(),
        });
    }
    None
}

fn swap_host(url: &str, to: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else { return url.to_string() };
    if u.host_str().is_none_or(|h| !is_loopback(h)) {
        return url.to_string();
    }
    if u.set_host(Some(to)).is_err() {
        return url.to_string();
    }
    u.to_string().trim_end_matches('/').to_string() + if url.ends_with('/') { "/" } else { "" }
}

/// The binding on the engine host's loopback a container publishes `port` on, if that is all.
fn loopback_only(c: &ContainerFacts, port: u16) -> Option<String> {
    let b: Vec<_> = c.ports.iter().filter(|p| p.host_port == Some(port) && p.proto == "tcp").collect();
    let ip = b.first()?.host_ip.clone().unwrap_or_default();
    b.iter().all(|p| p.host_ip.as_deref().is_some_and(is_loopback)).then(|| format!("{ip}:{port}"))
}

/// Aims every loopback address of `t` at the service host, and records the roles whose port
/// is published on the engine host's loopback only.
pub fn aim(t: &mut Targets, away: &mut Away, found: &[(&str, &ContainerFacts)]) {
    let to = away.service_host.clone();
    // An address given on the command line is taken as it is written.
    let flag = |source: &str| source == "--url" || source == "--admin-url";
    for role in crate::stack::roles::ROLES {
        if !matches!(role.kind, crate::stack::roles::Kind::Http { .. }) {
            continue;
        }
        let url = t.http_url(role.key);
        let e = t
            .http
            .entry(role.key.to_string())
            .or_insert(super::targets::HttpTarget { url: url.clone(), source: "default".into() });
        if !flag(&e.source) {
            e.url = swap_host(&e.url, &to);
        }
    }
    if !flag(&t.postgres.url_source) {
        t.postgres.url = swap_host(&t.postgres.url, &to);
        t.postgres.route.iter_mut().for_each(|r| aim_route(r, &to));
    }
    if !flag(&t.postgres.admin_source) {
        t.postgres.admin_url = t.postgres.admin_url.as_deref().map(|u| swap_host(u, &to));
    }
    if !flag(&t.redis.url_source) {
        t.redis.url = swap_host(&t.redis.url, &to);
        t.redis.route.iter_mut().for_each(|r| aim_route(r, &to));
    }
    for m in &mut t.stack.services {
        if let Some(u) = &m.host_url {
            m.host_url = Some(swap_in_text(u, &to));
        }
    }
    let port_of = |u: &str| crate::urls::parse_endpoint(u).map(|e| e.port);
    for (role, c) in found {
        let url = match *role {
            "postgres" => Some(t.postgres.route.as_ref().map(|r| r.port).or(port_of(&t.postgres.url))),
            "redis" => Some(t.redis.route.as_ref().map(|r| r.port).or(port_of(&t.redis.url))),
            r => t.http.get(r).map(|h| port_of(&h.url)),
        };
        if let Some(binding) = url.flatten().and_then(|p| loopback_only(c, p)) {
            away.unseen.insert(role.to_string(), binding);
        }
    }
    t.stack.away = Some(away.clone());
}

fn aim_route(r: &mut Route, to: &str) {
    if is_loopback(&r.host) {
        r.host = to.to_string();
    }
}

/// `redis://127.0.0.1:6379 (via 127.0.0.1:6379)`: every loopback URL in a shown address.
fn swap_in_text(text: &str, to: &str) -> String {
    text.split(' ')
        .map(|w| {
            if w.contains("://") {
                swap_host(w, to)
            } else if let Some(rest) = w.strip_prefix("127.0.0.1:") {
                format!("{to}:{rest}")
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(in_container: bool, host_network: bool) -> Place {
        Place {
            in_container: in_container.then(|| "/.dockerenv".to_string()),
            host_network,
            gateway: Some("172.17.0.1".into()),
            engine_socket: true,
        }
    }

    #[test]
    fn away_from_a_remote_engine_a_container_or_by_the_setting() {
        let here = place(false, false);
        assert_eq!(decide(None, "unix:///var/run/docker.sock", &here), None);
        assert_eq!(decide(None, "tcp://127.0.0.1:2375", &here), None, "a loopback engine is this host's");
        let a = decide(None, "tcp://10.0.0.9:2376", &here).unwrap();
        assert_eq!((a.service_host.as_str(), a.why.as_str()), ("10.0.0.9", "remote-engine"));
        let a = decide(None, "ssh://deploy@prod.example:2222", &here).unwrap();
        assert_eq!(a.service_host, "prod.example");
        let a = decide(None, "unix:///var/run/docker.sock", &place(true, false)).unwrap();
        assert_eq!((a.service_host.as_str(), a.why.as_str()), ("172.17.0.1", "in-container"));
        assert_eq!(decide(None, "unix:///var/run/docker.sock", &place(true, true)), None, "--network host");
        let no_socket = Place { engine_socket: false, ..place(true, false) };
        assert_eq!(decide(None, "unix:///var/run/docker.sock", &no_socket), None, "no engine, no other host");
        let a = decide(Some(("docker", "DOCTOR_SERVICE_HOST")), "tcp://docker:2376", &here).unwrap();
        assert_eq!((a.service_host.as_str(), a.detail.as_str()), ("docker", "DOCTOR_SERVICE_HOST"));
        assert_eq!(decide(Some(("localhost", "--service-host")), "tcp://10.0.0.9:2376", &here), None);
    }

    #[test]
    fn loopback_hosts_are_swapped_and_others_kept() {
        assert_eq!(swap_host("redis://:pw@127.0.0.1:16379", "10.0.0.9"), "redis://:pw@10.0.0.9:16379");
        assert_eq!(swap_host("http://localhost:8002", "docker"), "http://docker:8002");
        assert_eq!(swap_host("http://localhost:8002/", "docker"), "http://docker:8002/");
        assert_eq!(
            swap_host("postgresql://u@db.example:5432/authdb", "10.0.0.9"),
            "postgresql://u@db.example:5432/authdb"
        );
        assert_eq!(swap_in_text("redis://127.0.0.1:6379 (via 127.0.0.1:6379)", "h"), "redis://h:6379 (via h:6379)");
    }
}
