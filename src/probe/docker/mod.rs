//! Docker evidence through the engine's API (bollard): the engine itself (or why it cannot be
//! reached), and for every container of the stack its state, health, restarts, environment
//! (redacted; passwords kept only as per-run fingerprints), networks, published ports, memory
//! limit, CPU and memory figures, the sockets it listens on (a read-only `cat /proc/net/tcp`
//! exec) and the catalogue's symptom lines in its recent logs. Containers are looked at all at
//! once; everything ends at one deadline. Read-only: no start, stop, restart or write.
//!
//! bollard never sends the API version, so the engine answers in its own; every field is
//! treated as optional.
//!
//! One file per job, so that each can be read alone: this one holds what the probe returns (the
//! fact types, serialized by `--dump-facts`), its entry ([`gather`]) and the way to the engine
//! (`connect`, [`classify`]); `container.rs` turns an inspect into facts and examines each
//! container, `stats.rs` reads and parses the CPU, memory and socket counters, `logs.rs` reads
//! container logs, `exec.rs` runs the fixed read-only commands inside. Everything the rest of the
//! crate uses is re-exported here, so its path stays `probe::docker::X`.

mod container;
mod disk;
mod endpoint;
mod exec;
mod logs;
pub mod ssh;
mod stats;

pub use container::{container_facts, examine};
pub use disk::{
    DiskUsage, EngineDisk, LOCAL_DEFAULT_MAX_FILE, LOCAL_DEFAULT_MAX_SIZE, LogVolume, Space, VolumeDisk, parse_size,
    usage_of,
};
pub use endpoint::{Endpoint, EngineSource, Unusable, resolve as resolve_endpoint};
pub use logs::log_text;
pub(super) use stats::one_shot;
pub use stats::{CpuReading, parse_cpu_reading, parse_inside_stats, parse_proc_net_tcp, stats_from};

use super::docker_events::{ExitEvents, OomEvents};
use super::inside::InsideFacts;
use super::{Timing, error_chain};
use crate::redact;
use crate::stack::discover::Scope;
use crate::triage::LogHit;
use bollard::Docker;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

#[derive(Debug, Clone)]
pub struct DockerProbeConfig {
    /// The engine's address (`--host`, `DOCKER_HOST` or a context's), `None`: the default socket.
    pub host: Option<String>,
    /// Where `host` came from, and the docker context when one named it.
    pub source: EngineSource,
    pub context: Option<String>,
    /// Containers doctor.toml names, by role: looked up by that name only.
    pub pins: BTreeMap<String, String>,
    /// The compose projects that are the stack's (`compose_project`); empty: any.
    pub scope: Scope,
    pub timeout: Duration,
    pub logs_since: Duration,
    pub logs_tail: u32,
    /// How far back the engine's events are read (the timeline's window).
    pub events_since: Duration,
    /// What the log scan needs of the thresholds (`slow_query` for a logged duration).
    pub log_limits: crate::triage::Limits,
    /// With `DOCKER_TLS_VERIFY`: the directory of `ca.pem`, `cert.pem` and `key.pem`
    /// (`DOCKER_CERT_PATH`, else `~/.docker`), as the docker CLI reads them.
    pub tls_cert_path: Option<std::path::PathBuf>,
    /// When doctor is not on the engine's host: the host its published ports are tried on
    /// (a port published on that host's loopback is then not tried at all).
    pub service_host: Option<String>,
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

/// One mount of a container, from its inspect: where it is inside, what backs it (`volume`,
/// `bind`, `tmpfs`) and whether it may be written. The host path of a bind is not kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MountFacts {
    pub destination: String,
    pub kind: String,
    /// The volume's name, for a `volume` mount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    pub rw: bool,
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
    /// For a container that is not running or restarts: its last non-empty log lines, however
    /// old, scrubbed and cut ([`logs::LAST_LINES`] of them): the line that says why it ended
    /// (`initdb: error: directory "…" exists but is not empty`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_lines: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerFacts {
    pub name: String,
    pub id: String,
    pub image: String,
    /// The id of the image it was created from (`sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// Seconds since it was created (`docker compose up` recreates it on a change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_age_s: Option<f64>,
    /// `com.docker.compose.config-hash`: changes with the service's configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_hash: Option<String>,
    /// How it differs from the container of the same name doctor saw last, when that was
    /// another container (see [`super::seen_containers`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<super::seen_containers::Previous>,
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
    /// Its mounts (volumes, binds, tmpfs), sorted by destination.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<MountFacts>,
    /// Its log driver, the driver's limits and how much its log files take (DK003).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_volume: Option<LogVolume>,
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
    /// The mount that holds `path` inside the container: the one with the longest destination
    /// that is `path` or one of its parents (`/` mounts are never listed by the engine).
    pub fn mount_of(&self, path: &str) -> Option<&MountFacts> {
        let path = path.trim_end_matches('/');
        self.mounts
            .iter()
            .filter(|m| {
                let d = m.destination.trim_end_matches('/');
                path == d || path.strip_prefix(d).is_some_and(|rest| rest.starts_with('/'))
            })
            .max_by_key(|m| m.destination.len())
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
    /// Where the address came from (`flag`, `docker-host`, `docker-context`,
    /// `current-context`, `default`) and the docker context that named it.
    #[serde(default)]
    pub source: EngineSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    pub engine: Result<Engine, DockerError>,
    pub containers: Vec<ContainerLookup>,
    pub timings: Vec<Timing>,
    /// The engine's container events of the stack over `--since` (the timeline's source);
    /// `Err` says why they could not be read, `None`: not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Result<super::docker_events::EventLog, String>>,
    /// The engine's own disk: its data root, `docker system df`, the stack's volumes (DK003);
    /// `None`: not asked (or facts from a doctor before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<EngineDisk>,
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
    let d = if host.starts_with("ssh://") {
        // The API over `ssh … docker system dial-stdio`, bridged to a private unix socket.
        let sock = ssh::socket(host, timeout)
            .map_err(|e| DockerError { kind: DockerErrorKind::BadScheme, message: redact::scrub(&e) })?;
        Docker::connect_with_unix(&format!("unix://{}", sock.display()), secs, bollard::API_DEFAULT_VERSION)
    } else if host.starts_with("unix://") {
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
    let mut message = redact::scrub(&error_chain(e));
    // Over ssh the socket only closes; what ssh said is the reason.
    if let Some(said) = host.starts_with("ssh://").then(|| ssh::last_error(host)).flatten() {
        let lower = said.to_ascii_lowercase();
        // A refused or denied ssh login says nothing of the engine's socket: left as Other.
        let kind = if lower.contains("could not resolve hostname") {
            DockerErrorKind::NameNotResolved
        } else if lower.contains("timed out") {
            DockerErrorKind::Timeout
        } else {
            DockerErrorKind::Other
        };
        message = format!("ssh: {said}");
        return DockerError { kind, message };
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_on_the_deepest_mount_that_holds_it() {
        let m = |d: &str, rw: bool| MountFacts { destination: d.into(), kind: "volume".into(), volume: None, rw };
        let c = ContainerFacts { mounts: vec![m("/tmp", false), m("/tmp/.docling_cache", true)], ..Default::default() };
        assert_eq!(c.mount_of("/tmp/.docling_cache").map(|m| m.rw), Some(true));
        assert_eq!(c.mount_of("/tmp/.docling_cache/models/x").map(|m| m.rw), Some(true));
        assert_eq!(c.mount_of("/tmp/.easyocr_models").map(|m| m.rw), Some(false));
        assert_eq!(c.mount_of("/tmpfoo"), None, "a prefix of the name is not a parent");
        assert_eq!(c.mount_of("/app/uploads"), None);
    }
}
