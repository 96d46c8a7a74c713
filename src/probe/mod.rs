//! Probes do I/O and nothing else: they ask a service for evidence, within one deadline, and
//! return typed, serializable facts. A failed probe is itself a fact (refused, timeout, wrong
//! password, too many clients...), because "cannot connect" is a diagnosis, not an error.

pub mod auth;
pub mod docker;
pub mod docker_discover;
pub mod docker_events;
pub mod health;
pub mod http;
pub mod inside;
pub mod memory_sample;
pub mod own_logins;
pub mod pg_app;
pub mod pg_tls;
pub mod position;
pub mod postgres;
pub mod redis;
pub mod redis_app;
pub mod routes;
pub mod seen_containers;
pub mod tls;
pub mod web;

use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;

/// One probe step and how long it took, for `-v`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub step: String,
    pub ms: u64,
    pub ok: bool,
}

/// An error with its causes, each said once (`error connecting to server: Connection refused`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let m = inner.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = inner.source();
    }
    s
}

/// Runs `fut` until `deadline`; `None` when the deadline came first.
pub async fn until<T>(deadline: Instant, fut: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::time::timeout_at(deadline, fut).await.ok()
}

pub fn ms(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

/// How a host name resolved, told apart from a refusal or a timeout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Resolution {
    Resolved { addrs: Vec<String> },
    NotFound { message: String },
    TimedOut,
}

pub async fn resolve(host: &str, port: u16, deadline: Instant) -> Resolution {
    let host = crate::urls::bare_host(host).to_string();
    match until(deadline, tokio::net::lookup_host((host.as_str(), port))).await {
        None => Resolution::TimedOut,
        Some(Ok(it)) => {
            let mut addrs: Vec<String> = it.map(|a| a.ip().to_string()).collect();
            addrs.dedup();
            if addrs.is_empty() {
                Resolution::NotFound { message: "no address".into() }
            } else {
                Resolution::Resolved { addrs }
            }
        }
        Some(Err(e)) => Resolution::NotFound { message: e.to_string() },
    }
}

/// Whether a host name that did not resolve here is one of the stack's container names, which
/// resolve only inside the compose network: then the published port on this host is tried.
/// Resolves `host` as a probe does, with its timing recorded, and says whether to fall back to
/// this host's published port: a container-style name that does not resolve here (`postgres`,
/// `redis`) is reached through `127.0.0.1` and the same port.
pub async fn resolve_or_local(
    host: &str,
    port: u16,
    deadline: Instant,
    timings: &mut Vec<Timing>,
) -> (Resolution, bool) {
    let t = Instant::now();
    let resolution = resolve(host, port, deadline).await;
    timings.push(Timing {
        step: "resolve".into(),
        ms: ms(t.elapsed()),
        ok: matches!(resolution, Resolution::Resolved { .. }),
    });
    let local = matches!(resolution, Resolution::NotFound { .. }) && is_container_style_name(host);
    (resolution, local)
}

pub fn is_container_style_name(host: &str) -> bool {
    !host.is_empty() && !host.contains('.') && !host.contains(':') && host != "localhost"
}
