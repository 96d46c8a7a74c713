//! Finding the stack on the engine, before anything else is probed: one container list (what
//! `docker ps -a` shows: names, images, compose labels, published ports), the pure choice of a
//! container per role (`stack::discover`), then one inspect of each chosen container. What the
//! inspects hold (the services' own URLs and passwords) aims the other probes, so this runs
//! first, under a short deadline of its own; the raw environment never leaves memory.

use super::docker::{self, ContainerFacts, DockerError, DockerErrorKind, DockerFacts, DockerProbeConfig, Engine};
use super::{Timing, error_chain, ms, until};
use crate::clock;
use crate::redact;
use crate::stack::discover::{self, Assigned, Listed};
use bollard::Docker;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{InspectContainerOptions, ListContainersOptionsBuilder};
use std::collections::BTreeMap;
use tokio::time::Instant;

/// A chosen container as inspected, with what only credentials need (kept in memory only).
pub struct Inspected {
    pub raw: ContainerInspectResponse,
    pub facts: ContainerFacts,
    /// Its environment as the engine holds it, secrets included.
    pub env: BTreeMap<String, String>,
    /// Entrypoint arguments and command (`redis-server --requirepass X`).
    pub args: Vec<String>,
}

pub struct Discovered {
    pub docker: Docker,
    /// The engine and the timings so far; `containers` is filled by [`docker::examine`].
    pub base: DockerFacts,
    pub listed: Vec<Listed>,
    pub assigned: Vec<Assigned>,
    /// Per role (the order of `assigned`): the inspected container, or why it could not be.
    pub inspected: Vec<Option<Result<Inspected, String>>>,
}

impl Discovered {
    pub fn inspected(&self, role: &str) -> Option<&Inspected> {
        let i = self.assigned.iter().position(|a| a.role == role)?;
        self.inspected.get(i)?.as_ref()?.as_ref().ok()
    }
}

/// Connects, lists and inspects; `Err` carries the facts of an engine that could not be used.
pub async fn discover(cfg: &DockerProbeConfig, deadline: Instant) -> Result<Discovered, DockerFacts> {
    let host = engine_host(cfg);
    let mut base = DockerFacts {
        host: redact::url(&host),
        host_from_env: cfg.host.as_deref().is_some_and(|h| !h.is_empty()),
        source: cfg.source,
        context: cfg.context.clone(),
        engine: Err(DockerError { kind: DockerErrorKind::Other, message: "not tried".into() }),
        containers: Vec::new(),
        timings: Vec::new(),
        events: None,
        disk: None,
        memory_samples: None,
    };
    let t = Instant::now();
    let docker = match docker::connect(&host, cfg.timeout, cfg.tls_cert_path.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            base.engine = Err(e);
            return Err(base);
        }
    };
    let before = take_listed_before(&host);
    let listing = async {
        match before {
            Some(l) => Some(Ok(l)),
            None => until(deadline, list(&docker)).await,
        }
    };
    let (version, list) = tokio::join!(until(deadline, docker.version()), listing);
    base.engine = match version {
        None => {
            Err(DockerError { kind: DockerErrorKind::Timeout, message: "the engine did not answer in time".into() })
        }
        Some(Err(e)) => Err(docker::classify(&e, &host)),
        Some(Ok(v)) => Ok(Engine {
            version: v.version.unwrap_or_default(),
            api_version: v.api_version.unwrap_or_default(),
            min_api_version: v.min_api_version.unwrap_or_default(),
            os: v.os.unwrap_or_default(),
            platform: v.platform.map(|p| p.name).unwrap_or_default(),
            kernel: v.kernel_version.unwrap_or_default(),
        }),
    };
    base.timings.push(Timing { step: "engine version".into(), ms: ms(t.elapsed()), ok: base.engine.is_ok() });
    if base.engine.is_err() {
        return Err(base);
    }
    let listed = match list {
        Some(Ok(l)) => l,
        Some(Err(e)) => {
            base.engine = Err(docker::classify(&e, &host));
            return Err(base);
        }
        None => {
            base.engine = Err(DockerError {
                kind: DockerErrorKind::Timeout,
                message: "the engine did not list its containers in time".into(),
            });
            return Err(base);
        }
    };
    base.timings.push(Timing { step: "container list".into(), ms: ms(t.elapsed()), ok: true });
    let assigned = discover::assign(&listed, &cfg.pins, &cfg.scope);
    let t = Instant::now();
    let now = clock::now_unix();
    let inspects = assigned.iter().map(|a| {
        let id = a.pick.map(|(i, _)| listed[i].id.clone());
        let docker = &docker;
        async move {
            let id = id?;
            Some(match until(deadline, docker.inspect_container(&id, None::<InspectContainerOptions>)).await {
                None => Err("timed out".to_string()),
                // Listed, then gone before it could be inspected.
                Some(Err(e)) => Err(redact::scrub(&error_chain(&e))),
                Some(Ok(raw)) => Ok(inspected(raw, now)),
            })
        }
    });
    let inspected = futures_util::future::join_all(inspects).await;
    base.timings.push(Timing { step: "inspect the stack's containers".into(), ms: ms(t.elapsed()), ok: true });
    Ok(Discovered { docker, base, listed, assigned, inspected })
}

fn inspected(raw: ContainerInspectResponse, now: f64) -> Inspected {
    let config = raw.config.clone().unwrap_or_default();
    let env = config
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv, String::new()),
        })
        .collect();
    let args = raw.args.clone().unwrap_or_default().into_iter().chain(config.cmd.clone().unwrap_or_default()).collect();
    let facts = docker::container_facts(&raw, now);
    Inspected { raw, facts, env, args }
}

/// The container list [`working_dirs`] fetched just before the run, handed to the run's
/// discovery of the same engine once: one list per run, not two (a `--wait` round lists anew).
static LISTED_BEFORE: std::sync::Mutex<Option<(String, Vec<Listed>)>> = std::sync::Mutex::new(None);

/// The engine's address as the probes dial it (the default socket when none was named).
fn engine_host(cfg: &DockerProbeConfig) -> String {
    cfg.host.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| docker::DEFAULT_HOST.to_string())
}

fn take_listed_before(host: &str) -> Option<Vec<Listed>> {
    let mut slot = LISTED_BEFORE.lock().ok()?;
    match slot.take() {
        Some((h, l)) if h == host => Some(l),
        _ => None,
    }
}

/// The compose working directories of the containers that would be the stack's (one container
/// list, no inspect), in role order and once each: where doctor.toml is looked for last.
pub async fn working_dirs(cfg: &DockerProbeConfig, deadline: Instant) -> Vec<String> {
    let host = engine_host(cfg);
    let Ok(docker) = docker::connect(&host, cfg.timeout, cfg.tls_cert_path.as_deref()) else { return Vec::new() };
    let Some(Ok(listed)) = until(deadline, list(&docker)).await else { return Vec::new() };
    let mut dirs: Vec<String> = Vec::new();
    for a in discover::assign(&listed, &cfg.pins, &cfg.scope) {
        if let Some(wd) = a.pick.and_then(|(i, _)| listed[i].working_dir.clone())
            && !dirs.contains(&wd)
        {
            dirs.push(wd);
        }
    }
    if let Ok(mut slot) = LISTED_BEFORE.lock() {
        *slot = Some((host, listed));
    }
    dirs
}

/// Every container of the engine, running or not, as the pure discovery reads it.
async fn list(docker: &Docker) -> Result<Vec<Listed>, bollard::errors::Error> {
    let opts = ListContainersOptionsBuilder::default().all(true).build();
    let summaries = docker.list_containers(Some(opts)).await?;
    Ok(summaries
        .into_iter()
        .map(|s| {
            let labels = s.labels.unwrap_or_default();
            let label = |k: &str| labels.get(k).filter(|v| !v.is_empty()).cloned();
            let mut host_ports: Vec<u16> = s.ports.unwrap_or_default().iter().filter_map(|p| p.public_port).collect();
            host_ports.sort_unstable();
            host_ports.dedup();
            Listed {
                id: s.id.unwrap_or_default(),
                name: s
                    .names
                    .unwrap_or_default()
                    .first()
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                image: s.image.unwrap_or_default(),
                compose_project: label("com.docker.compose.project"),
                compose_service: label("com.docker.compose.service"),
                working_dir: label("com.docker.compose.project.working_dir"),
                running: s.state.is_some_and(|st| st.to_string() == "running"),
                created: s.created.unwrap_or(0),
                host_ports,
            }
        })
        .collect())
}
