//! Docker evidence through the engine's API (bollard): the engine itself (or why it cannot be
//! reached), and for every container of the stack its state, health, restarts, environment
//! (redacted; passwords kept only as per-run fingerprints), networks, published ports, memory
//! limit, CPU and memory figures, the sockets it listens on (a read-only `cat /proc/net/tcp`
//! exec) and the catalogue's symptom lines in its recent logs. Containers are looked at all at
//! once; everything ends at one deadline. Read-only: no start, stop, restart or write.
//!
//! bollard never sends the API version, so the engine answers in its own; every field is
//! treated as optional.

use super::docker_discover::Discovered;
use super::docker_events::{self, ExitEvents, OomEvents};
use super::inside::{self, InsideFacts};
use super::{Timing, error_chain, ms, until};
use crate::clock;
use crate::redact;
use crate::stack::discover::Scope;
use crate::triage::{self, LogHit};
use crate::urls;
use bollard::Docker;
use bollard::query_parameters::{LogsOptionsBuilder, StatsOptionsBuilder};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

#[derive(Debug, Clone)]
pub struct DockerProbeConfig {
    /// `DOCKER_HOST` when set.
    pub host: Option<String>,
    /// Containers doctor.toml names, by role: looked up by that name only.
    pub pins: BTreeMap<String, String>,
    /// The compose projects that are the stack's (`compose_project`); empty: any.
    pub scope: Scope,
    pub timeout: Duration,
    pub logs_since: Duration,
    pub logs_tail: u32,
    /// With `DOCKER_TLS_VERIFY`: the directory of `ca.pem`, `cert.pem` and `key.pem`
    /// (`DOCKER_CERT_PATH`, else `~/.docker`), as the docker CLI reads them.
    pub tls_cert_path: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DockerErrorKind {
    /// No socket where the engine should listen: the daemon is not running.
    NoSocket,
    /// The socket exists but this user may not use it.
    PermissionDenied,
    /// Something refused the connection (a stale socket, or nothing on DOCKER_HOST's port).
    Refused,
    NameNotResolved,
    /// DOCKER_HOST has a scheme doctor cannot use.
    BadScheme,
    /// The engine and doctor do not speak a common API version.
    ApiVersion,
    Timeout,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DockerError {
    pub kind: DockerErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Engine {
    pub version: String,
    pub api_version: String,
    pub min_api_version: String,
    pub os: String,
    /// `Docker Desktop 4.x` on Docker Desktop (where `host.docker.internal` always resolves).
    #[serde(default)]
    pub platform: String,
    #[serde(default)]
    pub kernel: String,
}

impl Engine {
    /// Docker Desktop (macOS, Windows, WSL) answers `host.docker.internal` in every container;
    /// a Linux engine only where `--add-host host.docker.internal:host-gateway` asks for it.
    pub fn provides_host_docker_internal(&self) -> bool {
        let k = self.kernel.to_ascii_lowercase();
        self.platform.contains("Desktop") || k.contains("linuxkit") || k.contains("microsoft") || self.os != "linux"
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthFacts {
    pub status: String,
    pub failing_streak: i64,
    /// The last probe's output, redacted and cut short.
    pub last_output: Option<String>,
    pub last_exit_code: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvVar {
    pub name: String,
    /// The value, or `***` when the name says it is secret; URLs have their password masked.
    pub value: String,
    /// For secret values: a fingerprint that compares within this run.
    pub fingerprint: Option<String>,
}

/// A `*_URL` variable of the container, reduced to where it points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UrlVar {
    pub name: String,
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password_fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetFacts {
    pub name: String,
    pub aliases: Vec<String>,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortFacts {
    pub container_port: u16,
    pub proto: String,
    /// `None` when the port is exposed but not published.
    pub host_ip: Option<String>,
    pub host_port: Option<u16>,
    /// A TCP connect from this host to the published address: `Ok(ms)` or why it failed.
    pub from_host: Option<Result<u64, String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsFacts {
    /// Percent of one CPU (100 = one core busy), as `docker stats` shows it.
    pub cpu_percent: Option<f64>,
    pub mem_used: u64,
    pub mem_limit: u64,
    pub interval_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listener {
    pub addr: String,
    pub port: u16,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogFacts {
    pub since_s: u64,
    pub lines: u64,
    pub hits: Vec<LogHit>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerFacts {
    pub name: String,
    pub id: String,
    pub image: String,
    pub compose_service: Option<String>,
    pub compose_project: Option<String>,
    /// `com.docker.compose.project.working_dir`: the directory of its compose file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// `--add-host` entries (`host.docker.internal:host-gateway`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    pub status: String,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    /// `oom` events the engine logged for this container lately (see [`super::docker_events`]);
    /// None when the event log could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_events: Option<OomEvents>,
    /// Exits (`die` events) the engine logged lately, restarts by hand included; None when the
    /// event log could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exits: Option<ExitEvents>,
    pub error: Option<String>,
    pub restart_count: i64,
    pub restart_policy: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub started_age_s: Option<f64>,
    pub finished_age_s: Option<f64>,
    pub health: Option<HealthFacts>,
    pub env: Vec<EnvVar>,
    pub urls: Vec<UrlVar>,
    /// Redis's password as the container knows it (`--requirepass` or `REDIS_PASSWORD`).
    pub requirepass_fingerprint: Option<String>,
    pub networks: Vec<NetFacts>,
    pub ports: Vec<PortFacts>,
    pub memory_limit: Option<u64>,
    pub stats: Option<StatsFacts>,
    /// Sockets listening inside the container; `Err` says why they could not be read.
    pub listening: Option<Result<Vec<Listener>, String>>,
    pub logs: Option<LogFacts>,
    /// What the runbook reads inside this container with `docker exec` (key files, uploads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inside: Option<InsideFacts>,
}

impl ContainerFacts {
    /// An OOM kill ended the container: its `OOMKilled` flag, or (when the engine handled the
    /// exit before the OOM notice and left the flag false) exit code 137 with an `oom` event
    /// logged within a minute of the exit.
    pub fn ended_by_oom(&self) -> bool {
        if self.oom_killed {
            return true;
        }
        let (Some(ev), Some(finished)) = (&self.oom_events, self.finished_age_s) else { return false };
        !self.running && self.exit_code == Some(137) && ev.episodes > 0 && (ev.last_age_s - finished).abs() < 60.0
    }
    /// OOM episodes the engine logged for this container (0 when none, or not read).
    pub fn oom_episodes(&self) -> u32 {
        self.oom_events.as_ref().map_or(0, |e| e.episodes)
    }
    pub fn env(&self, name: &str) -> Option<&EnvVar> {
        self.env.iter().find(|e| e.name == name)
    }
    pub fn names_on(&self, network: &str) -> Vec<String> {
        let mut v = vec![self.name.clone()];
        if let Some(s) = &self.compose_service {
            v.push(s.clone());
        }
        if let Some(n) = self.networks.iter().find(|n| n.name == network) {
            v.extend(n.aliases.iter().cloned());
        }
        v
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerLookup {
    /// The role (the runbook's name for it: `postgres`, `auth-service`, ...).
    pub service: String,
    /// The container name doctor looked for (pinned, or the found layout's name).
    pub wanted: String,
    /// How it was found (`config`, `compose-service`, `name`, `image`, `port`).
    pub found_by: Option<String>,
    pub container: Option<ContainerFacts>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DockerFacts {
    pub host: String,
    pub host_from_env: bool,
    pub engine: Result<Engine, DockerError>,
    pub containers: Vec<ContainerLookup>,
    pub timings: Vec<Timing>,
    /// `perf --sample`: memory of every running container over time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_samples: Option<Vec<super::memory_sample::MemorySeries>>,
}

impl DockerFacts {
    pub fn container(&self, service: &str) -> Option<&ContainerFacts> {
        self.containers.iter().find(|c| c.service == service).and_then(|c| c.container.as_ref())
    }
    pub fn lookup(&self, service: &str) -> Option<&ContainerLookup> {
        self.containers.iter().find(|c| c.service == service)
    }
    pub fn reachable(&self) -> bool {
        self.engine.is_ok()
    }
}

/// Finds the stack and looks at it: [`super::docker_discover::discover`], then [`examine`].
pub async fn gather(cfg: &DockerProbeConfig) -> DockerFacts {
    let deadline = Instant::now() + cfg.timeout;
    match super::docker_discover::discover(cfg, deadline).await {
        Ok(d) => examine(d, cfg, deadline).await,
        Err(facts) => facts,
    }
}

/// Everything about the chosen containers that the checks read (state, logs, sockets, CPU and
/// memory, the engine's OOM and exit events, what the runbook reads inside), all at once.
pub async fn examine(d: Discovered, cfg: &DockerProbeConfig, deadline: Instant) -> DockerFacts {
    let Discovered { docker, base, listed, assigned, inspected } = d;
    let mut facts = base;
    let layout = crate::stack::discover::layout_of(&assigned);
    let t = Instant::now();
    let lookups = assigned.iter().zip(inspected).map(|(a, ins)| {
        let wanted = a.pinned.clone().unwrap_or_else(|| match a.pick {
            Some((i, _)) => listed[i].name.clone(),
            None => crate::stack::expected_name(a.role, layout),
        });
        let found_by = a.pick.map(|(_, by)| by);
        let docker = &docker;
        async move {
            let mut out = ContainerLookup {
                service: a.role.to_string(),
                wanted,
                found_by: found_by.map(|b| b.as_str().to_string()),
                container: None,
                error: None,
            };
            match ins {
                None => {}
                Some(Err(e)) => out.error = Some(e),
                Some(Ok(i)) => out.container = Some(look_inside(docker, a.role, &i.raw, i.facts, cfg, deadline).await),
            }
            out
        }
    });
    let now = clock::now_unix();
    let events = async {
        let t = Instant::now();
        let read = docker_events::read(&docker, now, deadline).await;
        (read, t.elapsed())
    };
    let (containers, (events, events_took)) = tokio::join!(futures_util::future::join_all(lookups), events);
    facts.containers = containers;
    facts.timings.push(Timing { step: "containers".into(), ms: ms(t.elapsed()), ok: true });
    facts.timings.push(Timing { step: "oom/exit events".into(), ms: ms(events_took), ok: events.is_ok() });
    if let Ok(events) = &events {
        for c in facts.containers.iter_mut().filter_map(|l| l.container.as_mut()) {
            c.oom_events = Some(docker_events::for_container(events, &c.id, now));
            c.exits = Some(docker_events::exits_of(events, &c.id, now));
        }
    }
    facts
}

pub(super) fn connect(host: &str, timeout: Duration, tls: Option<&std::path::Path>) -> Result<Docker, DockerError> {
    if let Some(path) = host.strip_prefix("unix://") {
        let p = std::path::Path::new(path);
        match std::fs::metadata(p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DockerError { kind: DockerErrorKind::NoSocket, message: format!("{path} does not exist") });
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(DockerError { kind: DockerErrorKind::PermissionDenied, message: format!("{path}: {e}") });
            }
            _ => {}
        }
    }
    let secs = timeout.as_secs().max(1);
    let d = if host.starts_with("unix://") {
        Docker::connect_with_unix(host, secs, bollard::API_DEFAULT_VERSION)
    } else if let Some(dir) = tls.filter(|_| host.starts_with("tcp://") || host.starts_with("https://")) {
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            if !dir.join(f).is_file() {
                return Err(DockerError {
                    kind: DockerErrorKind::BadScheme,
                    message: format!("DOCKER_TLS_VERIFY is set but {} has no {f}", dir.display()),
                });
            }
        }
        let (ca, cert, key) = (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"));
        Docker::connect_with_ssl(host, &key, &cert, &ca, secs, bollard::API_DEFAULT_VERSION)
    } else if let Some(rest) = host.strip_prefix("tcp://") {
        // Plain HTTP; bollard would otherwise look at this process's DOCKER_TLS_VERIFY itself.
        Docker::connect_with_http(&format!("tcp://{rest}"), secs, bollard::API_DEFAULT_VERSION)
    } else {
        Docker::connect_with_host(host)
    };
    d.map(|d| d.with_timeout(timeout)).map_err(|e| classify(&e, host))
}

/// Puts an engine failure in the runbook's terms by walking the error's causes.
pub fn classify(e: &bollard::errors::Error, host: &str) -> DockerError {
    use bollard::errors::Error as E;
    let message = redact::scrub(&error_chain(e));
    let kind = match e {
        E::SocketNotFoundError(_) => DockerErrorKind::NoSocket,
        E::UnsupportedURISchemeError { .. } | E::URLParseError { .. } | E::InvalidURIError { .. } => {
            DockerErrorKind::BadScheme
        }
        E::RequestTimeoutError => DockerErrorKind::Timeout,
        E::DockerResponseServerError { status_code, message: m } => {
            let lower = m.to_ascii_lowercase();
            if *status_code == 400 && (lower.contains("client version") || lower.contains("api version")) {
                DockerErrorKind::ApiVersion
            } else {
                DockerErrorKind::Other
            }
        }
        _ => {
            let lower = message.to_ascii_lowercase();
            match io_kind(e) {
                Some(std::io::ErrorKind::NotFound) if host.starts_with("unix://") => DockerErrorKind::NoSocket,
                Some(std::io::ErrorKind::PermissionDenied) => DockerErrorKind::PermissionDenied,
                Some(std::io::ErrorKind::ConnectionRefused) => DockerErrorKind::Refused,
                Some(std::io::ErrorKind::TimedOut) => DockerErrorKind::Timeout,
                _ if lower.contains("permission denied") => DockerErrorKind::PermissionDenied,
                _ if lower.contains("connection refused") => DockerErrorKind::Refused,
                _ if lower.contains("dns error")
                    || lower.contains("failed to lookup")
                    || lower.contains("name or service") =>
                {
                    DockerErrorKind::NameNotResolved
                }
                _ if lower.contains("no such file") => DockerErrorKind::NoSocket,
                _ if lower.contains("timed out") || lower.contains("timeout") => DockerErrorKind::Timeout,
                _ if lower.contains("client version") => DockerErrorKind::ApiVersion,
                _ => DockerErrorKind::Other,
            }
        }
    };
    DockerError { kind, message }
}

fn io_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = c.source();
    }
    None
}

async fn look_inside(
    docker: &Docker,
    service: &str,
    c: &bollard::models::ContainerInspectResponse,
    mut f: ContainerFacts,
    cfg: &DockerProbeConfig,
    deadline: Instant,
) -> ContainerFacts {
    // A Unix socket means the engine runs on this host, so its cgroups are readable here.
    let local = cfg.host.as_deref().is_none_or(|h| h.is_empty() || h.starts_with("unix://"));
    if f.running {
        let id = c.id.clone().unwrap_or_default();
        // CPU and memory without `docker stats`: the engine serves stats from a collector that
        // ticks once a second, so asking it costs up to a second. The same counters `docker
        // stats` reads (the container's cgroup, the host's /proc/stat) are read instead with two
        // read-only `cat` execs 150 ms apart. Images without `cat` fall back to the engine.
        let sampled = Instant::now();
        // On the engine's own host the container's cgroup is readable directly, with no exec
        // (whose own start would be counted as the container's CPU): both CPU readings come
        // from there when it can be found. Elsewhere the second reading is a second exec.
        let local = local && host_cpu_reading(&id).is_some();
        // Better still, everything the exec would read is on this host: the cgroup files and the
        // container's own /proc/PID/net/tcp. Then nothing runs in the container at all, and the
        // CPU window is timed by this clock, exact over a short window.
        let pid = c.state.as_ref().and_then(|st| st.pid).filter(|p| *p > 0);
        let host_text = if local { pid.and_then(|p| host_look(&id, p)) } else { None };
        let from_host = host_text.is_some();
        let look_then_cpu = async {
            if let Some(text) = host_text {
                let t0 = std::time::Instant::now();
                let a = host_cpu_reading(&id);
                let wait = HOST_CPU_WINDOW;
                if Instant::now() + wait < deadline {
                    tokio::time::sleep(wait).await;
                }
                let b = host_cpu_reading(&id);
                let wall_ns = t0.elapsed().as_nanos() as u64;
                // The second reading's "system" field carries the wall time instead of /proc/stat.
                (Ok(text), a.map(|(c, _)| (c, 0)), b.map(|(c, _)| (c, wall_ns)))
            } else if local {
                // The exec first, then a window with nothing of ours running in the container.
                let first = read_inside(docker, &id, FIRST_LOOK, deadline).await;
                let a = host_cpu_reading(&id);
                let wait = Duration::from_millis(150);
                if Instant::now() + wait < deadline {
                    tokio::time::sleep(wait).await;
                }
                (first, a, host_cpu_reading(&id))
            } else {
                let later = async {
                    let wait = Duration::from_millis(150).saturating_sub(sampled.elapsed());
                    if Instant::now() + wait < deadline {
                        tokio::time::sleep(wait).await;
                    }
                    read_inside(docker, &id, CPU_FILES, deadline).await.ok().and_then(|t| parse_cpu_reading(&t))
                };
                let (first, second) = tokio::join!(read_inside(docker, &id, FIRST_LOOK, deadline), later);
                (first, None, second)
            }
        };
        let look_inside = async {
            let script = inside::script_for(service)?;
            if from_host {
                // After the CPU window: an exec's own start would count as the container's CPU.
                tokio::time::sleep(HOST_CPU_WINDOW + Duration::from_millis(5)).await;
            }
            Some(match exec_read(docker, &id, vec!["sh", "-c", script], true, deadline).await {
                Ok(text) => inside::parse(&text),
                Err(e) => InsideFacts { error: Some(e), ..Default::default() },
            })
        };
        let (logs, (first, host_first, second), reach, inside) = tokio::join!(
            read_logs(docker, &id, cfg, deadline),
            look_then_cpu,
            reach_published(&f.ports, deadline),
            look_inside
        );
        f.inside = inside;
        for (p, r) in f.ports.iter_mut().zip(reach) {
            p.from_host = r;
        }
        let (listening, stats) = match first {
            Ok(text) if text.contains("local_address") => {
                let mut stats = parse_inside_stats(&text, second, ms(sampled.elapsed()));
                if let (Some(st), Some((c1, _)), Some((c2, wall_ns))) =
                    (stats.as_mut(), host_first, second.filter(|_| from_host))
                {
                    // Percent of one CPU, as `docker stats` shows it: container CPU time over wall time.
                    st.cpu_percent = (wall_ns > 0).then(|| c2.saturating_sub(c1) as f64 / wall_ns as f64 * 100.0);
                } else if let (Some(st), Some((c1, s1)), Some((c2, s2))) =
                    (stats.as_mut(), host_first, second.filter(|_| local))
                {
                    st.cpu_percent = cpu_share((c1, s1), (c2, s2), cpu_count(&text));
                }
                (Ok(parse_proc_net_tcp(&text)), stats)
            }
            other => {
                let why = match other {
                    Err(e) => e,
                    Ok(_) => "the container has no `cat`, or /proc/net/tcp could not be read".into(),
                };
                let api = until(deadline, one_shot(docker, &id)).await.flatten();
                (Err(why), api.as_ref().map(|s| stats_from(s, None)))
            }
        };
        f.stats = stats;
        f.logs = Some(logs);
        f.listening = Some(listening);
    } else {
        let id = c.id.clone().unwrap_or_default();
        f.logs = Some(read_logs(docker, &id, cfg, deadline).await);
    }
    f
}

/// Facts from an inspect response; `now` (Unix seconds) turns times into ages.
pub fn container_facts(c: &bollard::models::ContainerInspectResponse, now: f64) -> ContainerFacts {
    let state = c.state.clone().unwrap_or_default();
    let config = c.config.clone().unwrap_or_default();
    let labels = config.labels.clone().unwrap_or_default();
    let age = |t: &Option<String>| t.as_deref().and_then(clock::parse_rfc3339).map(|x| (now - x).max(0.0));
    let health = state.health.as_ref().map(|h| {
        let last = h.log.as_ref().and_then(|l| l.last());
        HealthFacts {
            status: h.status.map(|s| s.to_string()).unwrap_or_default(),
            failing_streak: h.failing_streak.unwrap_or(0),
            last_output: last.and_then(|l| l.output.as_deref()).map(|o| cut(&redact::scrub(o.trim()), 300)),
            last_exit_code: last.and_then(|l| l.exit_code),
        }
    });
    let mut env = Vec::new();
    let mut url_vars = Vec::new();
    let mut requirepass: Option<String> = None;
    for kv in config.env.clone().unwrap_or_default() {
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        let secret = redact::is_secret_name(k);
        if secret && !v.is_empty() {
            redact::register_secret(v);
        }
        crate::config::register_url_password(v);
        if k == "REDIS_PASSWORD" && !v.is_empty() {
            requirepass = Some(redact::fingerprint(v));
        }
        if (k.ends_with("_URL") || k.ends_with("_URI") || k.ends_with("_DSN"))
            && let Some(e) = urls::parse_endpoint(v)
        {
            url_vars.push(UrlVar {
                name: k.to_string(),
                scheme: e.scheme,
                host: e.host,
                port: e.port,
                user: e.user,
                password_fingerprint: e.password.as_deref().map(redact::fingerprint),
            });
        }
        env.push(EnvVar {
            name: k.to_string(),
            value: if secret && !v.is_empty() { redact::MASK.to_string() } else { redact::scrub(v) },
            fingerprint: (secret && !v.is_empty()).then(|| redact::fingerprint(v)),
        });
    }
    // redis-server --requirepass X, in the command or entrypoint arguments.
    let args: Vec<String> =
        c.args.clone().unwrap_or_default().into_iter().chain(config.cmd.clone().unwrap_or_default()).collect();
    if let Some(i) = args.iter().position(|a| a == "--requirepass")
        && let Some(p) = args.get(i + 1)
    {
        redact::register_secret(p);
        requirepass = Some(redact::fingerprint(p));
    }
    let ns = c.network_settings.clone().unwrap_or_default();
    let mut networks: Vec<NetFacts> = ns
        .networks
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(name, ep)| {
            let mut aliases: Vec<String> = ep.aliases.unwrap_or_default();
            aliases.extend(ep.dns_names.unwrap_or_default());
            aliases.sort();
            aliases.dedup();
            NetFacts { name, aliases, ip: ep.ip_address.filter(|i| !i.is_empty()) }
        })
        .collect();
    networks.sort_by(|a, b| a.name.cmp(&b.name));
    let mut ports = Vec::new();
    for (key, bindings) in ns.ports.clone().unwrap_or_default() {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(container_port) = port.parse::<u16>() else { continue };
        match bindings {
            Some(list) if !list.is_empty() => {
                for b in list {
                    ports.push(PortFacts {
                        container_port,
                        proto: proto.into(),
                        host_ip: b.host_ip.filter(|h| !h.is_empty()),
                        host_port: b.host_port.and_then(|p| p.parse().ok()),
                        from_host: None,
                    });
                }
            }
            _ => ports.push(PortFacts {
                container_port,
                proto: proto.into(),
                host_ip: None,
                host_port: None,
                from_host: None,
            }),
        }
    }
    ports.sort_by(|a, b| (a.container_port, &a.host_ip).cmp(&(b.container_port, &b.host_ip)));
    let host_config = c.host_config.clone().unwrap_or_default();
    ContainerFacts {
        name: c.name.clone().unwrap_or_default().trim_start_matches('/').to_string(),
        id: c.id.clone().unwrap_or_default().chars().take(12).collect(),
        image: config.image.clone().unwrap_or_default(),
        compose_service: labels.get("com.docker.compose.service").cloned(),
        compose_project: labels.get("com.docker.compose.project").cloned(),
        working_dir: labels.get("com.docker.compose.project.working_dir").cloned().filter(|w| !w.is_empty()),
        extra_hosts: host_config.extra_hosts.clone().unwrap_or_default(),
        status: state.status.map(|s| s.to_string()).unwrap_or_default(),
        running: state.running.unwrap_or(false),
        exit_code: state.exit_code,
        oom_killed: state.oom_killed.unwrap_or(false),
        oom_events: None,
        exits: None,
        error: state.error.filter(|e| !e.is_empty()).map(|e| redact::scrub(&e)),
        restart_count: c.restart_count.unwrap_or(0),
        restart_policy: host_config
            .restart_policy
            .and_then(|p| p.name)
            .map(|n| n.to_string())
            .filter(|n| !n.is_empty()),
        started_age_s: age(&state.started_at),
        finished_age_s: age(&state.finished_at),
        started_at: state.started_at.filter(|t| clock::parse_rfc3339(t).is_some()),
        finished_at: state.finished_at.filter(|t| clock::parse_rfc3339(t).is_some()),
        health,
        env,
        urls: url_vars,
        requirepass_fingerprint: requirepass,
        networks,
        ports,
        memory_limit: host_config.memory.filter(|m| *m > 0).map(|m| m as u64),
        stats: None,
        listening: None,
        logs: None,
        inside: None,
    }
}

pub(super) async fn one_shot(docker: &Docker, id: &str) -> Option<bollard::models::ContainerStatsResponse> {
    let opts = StatsOptionsBuilder::default().stream(false).one_shot(true).build();
    docker.stats(id, Some(opts)).next().await.and_then(Result::ok)
}

/// CPU counters read inside the container: (container CPU time, host CPU time), nanoseconds.
pub type CpuReading = (u64, u64);

/// CPU and memory the way `docker stats` computes them: memory from the API's sample, CPU from
/// the change between the API's counters and a later reading of the same counters.
pub fn stats_from(sample: &bollard::models::ContainerStatsResponse, later: Option<CpuReading>) -> StatsFacts {
    let c = sample.cpu_stats.clone().unwrap_or_default();
    let total = c.cpu_usage.as_ref().and_then(|u| u.total_usage).unwrap_or(0);
    let online = c
        .online_cpus
        .filter(|n| *n > 0)
        .map(u64::from)
        .or_else(|| c.cpu_usage.as_ref().and_then(|u| u.percpu_usage.as_ref()).map(|p| p.len() as u64))
        .unwrap_or(1);
    let system = c.system_cpu_usage.unwrap_or(0);
    let cpu_percent = later.and_then(|(t2, s2)| {
        let (dt, ds) = (t2.checked_sub(total)?, s2.checked_sub(system)?);
        (ds > 0).then(|| dt as f64 / ds as f64 * online as f64 * 100.0)
    });
    let mem = sample.memory_stats.clone().unwrap_or_default();
    let usage = mem.usage.unwrap_or(0);
    let stats = mem.stats.unwrap_or_default();
    let inactive = stats.get("total_inactive_file").or_else(|| stats.get("inactive_file")).copied().unwrap_or(0);
    StatsFacts {
        cpu_percent,
        mem_used: if inactive < usage { usage - inactive } else { usage },
        mem_limit: mem.limit.unwrap_or(0),
        interval_ms: 0,
    }
}

/// The container's CPU time (cgroup v1 `cpuacct.usage` in ns, or v2 `cpu.stat` usage_usec) and
/// the host's (the `cpu` line of /proc/stat, in clock ticks of 10 ms, as Docker counts it).
pub fn parse_cpu_reading(text: &str) -> Option<CpuReading> {
    let mut container = None;
    let mut host = None;
    for line in text.lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        match t.as_slice() {
            // The first bare number is the CPU counter (memory figures follow it).
            [n] if container.is_none() && n.bytes().all(|b| b.is_ascii_digit()) => container = n.parse::<u64>().ok(),
            // A counter too large to convert to nanoseconds is no reading (not a wrapped one).
            ["usage_usec", n] => container = n.parse::<u64>().ok().and_then(|u| u.checked_mul(1000)),
            ["cpu", rest @ ..] if rest.len() >= 7 => {
                let ticks = rest[..7].iter().try_fold(0u64, |sum, x| sum.checked_add(x.parse::<u64>().ok()?));
                host = ticks.and_then(|t| t.checked_mul(10_000_000));
            }
            _ => {}
        }
    }
    Some((container?, host?))
}

const LOG_BYTES_CAP: usize = 4 << 20;

async fn read_logs(docker: &Docker, id: &str, cfg: &DockerProbeConfig, deadline: Instant) -> LogFacts {
    let since = (clock::now_unix() as i64 - cfg.logs_since.as_secs() as i64).max(0);
    let opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .timestamps(true)
        .since(i32::try_from(since).unwrap_or(i32::MAX))
        .tail(&cfg.logs_tail.to_string())
        .build();
    let mut stream = docker.logs(id, Some(opts));
    let mut text = String::new();
    let mut error = None;
    loop {
        match until(deadline, stream.next()).await {
            None => {
                error = Some("stopped at the deadline".to_string());
                break;
            }
            Some(None) => break,
            Some(Some(Ok(chunk))) => {
                text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                if text.len() > LOG_BYTES_CAP {
                    error = Some("cut at 4 MB".to_string());
                    break;
                }
            }
            Some(Some(Err(e))) => {
                error = Some(redact::scrub(&error_chain(&e)));
                break;
            }
        }
    }
    let hits = triage::scan(text.lines());
    LogFacts { since_s: cfg.logs_since.as_secs(), lines: text.lines().count() as u64, hits, error }
}

/// Connects from this host to every published TCP port (0.0.0.0 means this host's loopback).
async fn reach_published(ports: &[PortFacts], deadline: Instant) -> Vec<Option<Result<u64, String>>> {
    let tries = ports.iter().map(|p| async move {
        let port = p.host_port.filter(|_| p.proto == "tcp")?;
        let ip = match p.host_ip.as_deref() {
            None | Some("0.0.0.0") | Some("") => "127.0.0.1".to_string(),
            Some("::") => "::1".to_string(),
            Some(ip) => ip.to_string(),
        };
        let t = Instant::now();
        let addr = if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") };
        Some(match until(deadline, tokio::net::TcpStream::connect(addr)).await {
            Some(Ok(_)) => Ok(ms(t.elapsed())),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("timed out".to_string()),
        })
    });
    futures_util::future::join_all(tries).await
}

/// First look inside: listening sockets, CPU counters, memory (cgroup v1 then v2 paths; only
/// one set exists on a machine, and `cat` prints what exists in this order).
const FIRST_LOOK: &[&str] = &[
    "/proc/net/tcp",
    "/proc/net/tcp6",
    "/sys/fs/cgroup/cpuacct/cpuacct.usage",
    "/sys/fs/cgroup/cpu.stat",
    "/sys/fs/cgroup/memory/memory.usage_in_bytes",
    "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    "/sys/fs/cgroup/memory/memory.stat",
    "/sys/fs/cgroup/memory.current",
    "/sys/fs/cgroup/memory.max",
    "/sys/fs/cgroup/memory.stat",
    "/proc/stat",
];
const CPU_FILES: &[&str] = &["/sys/fs/cgroup/cpuacct/cpuacct.usage", "/sys/fs/cgroup/cpu.stat", "/proc/stat"];

/// Runs `cat FILES...` in the container (read-only) and returns what it printed; missing files
/// are skipped by `cat` itself.
async fn read_inside(docker: &Docker, id: &str, files: &[&str], deadline: Instant) -> Result<String, String> {
    let mut cmd = vec!["cat"];
    cmd.extend_from_slice(files);
    exec_read(docker, id, cmd, false, deadline).await
}

/// Runs a fixed read-only command in the container and returns its stdout and stderr (at most
/// 1 MB); `Err` when the exec could not be made (no such binary is an error of the exec).
async fn exec_read(
    docker: &Docker,
    id: &str,
    cmd: Vec<&str>,
    with_stderr: bool,
    deadline: Instant,
) -> Result<String, String> {
    use bollard::exec::{CreateExecOptions, StartExecResults};
    let create = CreateExecOptions {
        cmd: Some(cmd),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let exec = match until(deadline, docker.create_exec(id, create)).await {
        None => return Err("timed out".into()),
        Some(Err(e)) => return Err(redact::scrub(&error_chain(&e))),
        Some(Ok(x)) => x,
    };
    let started = match until(deadline, docker.start_exec(&exec.id, None)).await {
        None => return Err("timed out".into()),
        Some(Err(e)) => return Err(redact::scrub(&error_chain(&e))),
        Some(Ok(s)) => s,
    };
    let mut out = String::new();
    if let StartExecResults::Attached { mut output, .. } = started {
        loop {
            match until(deadline, output.next()).await {
                Some(Some(Ok(bollard::container::LogOutput::StdOut { message }))) => {
                    out.push_str(&String::from_utf8_lossy(&message));
                    if out.len() > 1 << 20 {
                        break;
                    }
                }
                Some(Some(Ok(bollard::container::LogOutput::StdErr { message }))) if with_stderr => {
                    out.push_str(&String::from_utf8_lossy(&message));
                    if out.len() > 1 << 20 {
                        break;
                    }
                }
                Some(Some(Ok(_))) => {}
                Some(Some(Err(e))) => return Err(redact::scrub(&error_chain(&e))),
                Some(None) => break,
                None => return Err("timed out".into()),
            }
        }
    }
    Ok(out)
}

/// Host CPUs, from the `cpuN` lines of /proc/stat.
fn cpu_count(proc_stat: &str) -> usize {
    proc_stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count()
        .max(1)
}

/// Percent of one CPU between two readings, as `docker stats` shows it.
fn cpu_share((c1, s1): CpuReading, (c2, s2): CpuReading, cpus: usize) -> Option<f64> {
    let (dc, ds) = (c2.checked_sub(c1)?, s2.checked_sub(s1)?);
    (ds > 0).then(|| dc as f64 / ds as f64 * cpus as f64 * 100.0)
}

/// The CPU window when the counters are read on this host (no exec, timed by this clock).
const HOST_CPU_WINDOW: Duration = Duration::from_millis(100);

/// What `FIRST_LOOK` reads inside the container, read from this host instead: the container's
/// network namespace through `/proc/PID/net`, its cgroup's files (v1 with the cgroupfs or
/// systemd driver, or v2), and /proc/stat, in `FIRST_LOOK`'s order. `None` when any part is
/// missing (another cgroup layout, no permission), so the exec is used.
fn host_look(id: &str, pid: i64) -> Option<String> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let tcp = read(&format!("/proc/{pid}/net/tcp"))?;
    let tcp6 = read(&format!("/proc/{pid}/net/tcp6")).unwrap_or_default();
    let v1_dirs = [format!("docker/{id}"), format!("system.slice/docker-{id}.scope")];
    let v1 = v1_dirs.iter().find_map(|d| {
        let cpu = read(&format!("/sys/fs/cgroup/cpuacct/{d}/cpuacct.usage"))
            .or_else(|| read(&format!("/sys/fs/cgroup/cpu,cpuacct/{d}/cpuacct.usage")))?;
        let m = |f: &str| read(&format!("/sys/fs/cgroup/memory/{d}/{f}"));
        Some(format!("{cpu}{}{}{}", m("memory.usage_in_bytes")?, m("memory.limit_in_bytes")?, m("memory.stat")?))
    });
    let cgroup = match v1 {
        Some(t) => t,
        None => {
            let d = [format!("/sys/fs/cgroup/system.slice/docker-{id}.scope"), format!("/sys/fs/cgroup/docker/{id}")]
                .into_iter()
                .find(|d| std::path::Path::new(d).is_dir())?;
            let f = |n: &str| read(&format!("{d}/{n}"));
            format!("{}{}{}{}", f("cpu.stat")?, f("memory.current")?, f("memory.max")?, f("memory.stat")?)
        }
    };
    let stat = read("/proc/stat")?;
    Some(format!("{tcp}{tcp6}{cgroup}{stat}"))
}

/// The container's CPU counter read from this host's cgroup filesystem (cgroup v1 with the
/// cgroupfs or systemd driver, or v2), with the host's /proc/stat; `None` when not found.
fn host_cpu_reading(id: &str) -> Option<CpuReading> {
    let candidates = [
        format!("/sys/fs/cgroup/cpuacct/docker/{id}/cpuacct.usage"),
        format!("/sys/fs/cgroup/cpu,cpuacct/docker/{id}/cpuacct.usage"),
        format!("/sys/fs/cgroup/cpuacct/system.slice/docker-{id}.scope/cpuacct.usage"),
        format!("/sys/fs/cgroup/system.slice/docker-{id}.scope/cpu.stat"),
        format!("/sys/fs/cgroup/docker/{id}/cpu.stat"),
    ];
    let counter = candidates.iter().find_map(|p| std::fs::read_to_string(p).ok())?;
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    parse_cpu_reading(&format!("{counter}\n{stat}"))
}

/// CPU share and memory from the first look and a later CPU reading, as `docker stats`
/// computes them (memory used = usage − inactive file cache).
pub fn parse_inside_stats(first: &str, later: Option<CpuReading>, interval_ms: u64) -> Option<StatsFacts> {
    let start = parse_cpu_reading(first);
    let v2 = first.lines().any(|l| l.starts_with("usage_usec "));
    let singles: Vec<&str> =
        first.lines().map(str::trim).filter(|l| !l.is_empty() && !l.contains(char::is_whitespace)).collect();
    // v1: cpuacct.usage, memory usage, memory limit; v2: memory.current, memory.max.
    let (usage, limit) = if v2 { (singles.first(), singles.get(1)) } else { (singles.get(1), singles.get(2)) };
    let usage: u64 = usage?.parse().ok()?;
    let limit: u64 = limit.and_then(|l| l.parse().ok()).filter(|l| *l < 1 << 60).unwrap_or(0);
    let stat = |key: &str| {
        first.lines().find_map(|l| {
            l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')).and_then(|n| n.trim().parse::<u64>().ok())
        })
    };
    let inactive = stat("total_inactive_file").or_else(|| stat("inactive_file")).unwrap_or(0);
    let cpu_percent = match (start, later) {
        (Some(a), Some(b)) => cpu_share(a, b, cpu_count(first)),
        _ => None,
    };
    Some(StatsFacts { cpu_percent, mem_used: usage.saturating_sub(inactive.min(usage)), mem_limit: limit, interval_ms })
}

/// Listening sockets from `/proc/net/tcp` and `/proc/net/tcp6` text (state 0A).
pub fn parse_proc_net_tcp(text: &str) -> Vec<Listener> {
    let mut v = Vec::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 4 || cols[3] != "0A" {
            continue;
        }
        let Some((addr_hex, port_hex)) = cols[1].split_once(':') else { continue };
        let Ok(port) = u16::from_str_radix(port_hex, 16) else { continue };
        let addr = match addr_hex.len() {
            8 => match u32::from_str_radix(addr_hex, 16) {
                Ok(n) => std::net::Ipv4Addr::from(n.swap_bytes()).to_string(),
                Err(_) => continue,
            },
            32 => {
                let mut bytes = [0u8; 16];
                let mut ok = true;
                for (i, chunk) in addr_hex.as_bytes().chunks(8).enumerate() {
                    match std::str::from_utf8(chunk).ok().and_then(|c| u32::from_str_radix(c, 16).ok()) {
                        Some(word) => bytes[i * 4..i * 4 + 4].copy_from_slice(&word.swap_bytes().to_be_bytes()),
                        None => ok = false,
                    }
                }
                if !ok {
                    continue;
                }
                std::net::Ipv6Addr::from(bytes).to_string()
            }
            _ => continue,
        };
        if !v.iter().any(|l: &Listener| l.addr == addr && l.port == port) {
            v.push(Listener { addr, port });
        }
    }
    v
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() > n { s.chars().take(n - 1).collect::<String>() + "…" } else { s.to_string() }
}

/// The recent log text of one container (for `doctor triage --container`), bounded in time and
/// size; lines carry Docker's timestamps.
pub async fn log_text(
    host: Option<&str>,
    tls: Option<&std::path::Path>,
    name: &str,
    since: Duration,
    tail: u32,
    timeout: Duration,
) -> Result<String, DockerError> {
    let deadline = Instant::now() + timeout;
    let host = host.filter(|h| !h.is_empty()).unwrap_or(DEFAULT_HOST);
    let docker = connect(host, timeout, tls)?;
    let since_unix = (clock::now_unix() as i64 - since.as_secs() as i64).max(0);
    let opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .timestamps(true)
        .since(i32::try_from(since_unix).unwrap_or(i32::MAX))
        .tail(&tail.to_string())
        .build();
    let mut stream = docker.logs(name, Some(opts));
    let mut text = String::new();
    loop {
        match until(deadline, stream.next()).await {
            None => break,
            Some(None) => break,
            Some(Some(Ok(chunk))) => {
                text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                if text.len() > LOG_BYTES_CAP {
                    break;
                }
            }
            Some(Some(Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }))) => {
                return Err(DockerError {
                    kind: DockerErrorKind::Other,
                    message: format!("no container named {name:?}"),
                });
            }
            Some(Some(Err(e))) => return Err(classify(&e, host)),
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_from_inside_v1_and_v2() {
        let v1 = "  sl  local_address\n1000000000\n52428800\n9223372036854771712\ncache 1\ntotal_inactive_file 2428800\ncpu  100 0 100 800 0 0 0 0\ncpu0 1\ncpu1 1\n";
        let s = parse_inside_stats(v1, Some((2_000_000_000, 10_000_000_000 + 200 * 10_000_000)), 150).unwrap();
        assert_eq!((s.mem_used, s.mem_limit), (50_000_000, 0));
        let cpu = s.cpu_percent.unwrap();
        assert!((cpu - 100.0).abs() < 1e-6, "{cpu}");
        let v2 = "usage_usec 1000\n2000000\nmax\ninactive_file 1000000\ncpu  1 1 1 1 1 1 1\n";
        let s = parse_inside_stats(v2, None, 150).unwrap();
        assert_eq!((s.mem_used, s.mem_limit, s.cpu_percent), (1_000_000, 0, None));
        assert!(parse_inside_stats("garbage", None, 0).is_none());
    }

    #[test]
    fn cpu_readings() {
        assert_eq!(
            parse_cpu_reading("1177333793\ncpu  501268 0 133042 496851 6886 0 1630 6661 0 0\ncpu0 1 2 3 4 5 6 7\n"),
            Some((1_177_333_793, 11_396_770_000_000))
        );
        assert_eq!(parse_cpu_reading("usage_usec 5\ncpu  1 1 1 1 1 1 1 1\n"), Some((5000, 70_000_000)));
        assert_eq!(parse_cpu_reading("cpu 1 2"), None);
        assert_eq!(parse_cpu_reading(""), None);
    }

    #[test]
    fn proc_net_tcp_listeners() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 1 1 0 100 0 0 10 0
   1: 0100007F:1F42 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
   2: 0100007F:1F42 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0
  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:18EB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000
   1: 00000000000000000000000001000000:1538 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000
garbage line
   9: ZZZZ:1538 00000000:0000 0A";
        let l = parse_proc_net_tcp(text);
        let got: Vec<(String, u16)> = l.into_iter().map(|x| (x.addr, x.port)).collect();
        assert_eq!(
            got,
            vec![("0.0.0.0".into(), 5432), ("127.0.0.1".into(), 8002), ("::".into(), 6379), ("::1".into(), 5432)]
        );
    }
}
