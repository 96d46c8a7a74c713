//! The stack definition and thresholds, from every source an operator might use, in one
//! order: flags > process environment > `.env` > `doctor.toml` > the embedded default (the
//! stack of the contract on this host). The stack's own variables (`DATABASE_URL`,
//! `POSTGRES_PASSWORD`, `REDIS_URL`, ...) are honoured as they are. Every secret met while
//! loading is registered with `redact` before anything can be printed.

use crate::envfile::{self, Vars};
use crate::lang::Lang;
use crate::redact;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Junit,
    Markdown,
    /// A Nagios plugin's status line with perfdata (`src/render/nagios.rs`).
    Nagios,
    /// node_exporter's textfile collector (`src/render/prometheus.rs`).
    Prometheus,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "table" | "text" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "junit" => Ok(Format::Junit),
            "xml" => Err("unknown format \"xml\": JUnit XML is --format junit".into()),
            "markdown" | "md" => Ok(Format::Markdown),
            "nagios" => Ok(Format::Nagios),
            "prometheus" | "prom" => Ok(Format::Prometheus),
            "openmetrics" => {
                Err("unknown format \"openmetrics\": the Prometheus text format is --format prometheus".into())
            }
            _ => Err(format!("unknown format {s:?}: use table, json, junit, markdown, nagios or prometheus")),
        }
    }
}

/// A duration as people write them: `5s`, `500ms`, `2m`, `1h30m`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>()
        && secs.is_finite()
        && (0.0..1e9).contains(&secs)
    {
        return Ok(Duration::from_secs_f64(secs));
    }
    humantime::parse_duration(t).map_err(|_| format!("{s:?} is not a duration (try 5s, 500ms, 2m, 1h)"))
}

pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if s < 120 {
        let f = d.as_secs_f64();
        if (f - f.round()).abs() < 0.05 { format!("{}s", f.round() as u64) } else { format!("{f:.1}s") }
    } else if s < 7200 {
        format!("{}m", s / 60)
    } else if s < 172_800 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// The limits the checks judge by. The defaults are the stack's own alerting
/// (`11-operations/05-alerting.md`, `03-monitoring.md`; the contract's thresholds table).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// PG003: a statement's mean execution time (pg_stat_statements) above it is slow.
    pub slow_query: Duration,
    /// PG003: an active statement running longer is reported.
    pub long_query: Duration,
    /// PG002/PG003/PG004: a transaction open longer (also idle in one).
    pub long_transaction: Duration,
    /// PG002: an idle connection older than this is reported.
    pub idle_connection: Duration,
    /// PG002: share of the usable slots in use.
    pub connections_warn: f64,
    pub connections_crit: f64,
    /// RD002: share of `maxmemory`.
    pub redis_memory_warn: f64,
    pub redis_memory_crit: f64,
    /// RD003: keyspace hit rate.
    pub redis_hit_rate_warn: f64,
    pub redis_hit_rate_crit: f64,
    /// RD001: connected clients.
    pub redis_clients_warn: u64,
    pub redis_clients_crit: u64,
    /// API001, PERF001: p95 latency.
    pub response_time_warn: Duration,
    pub response_time_crit: Duration,
    /// API001: requests in progress.
    pub in_progress_warn: u64,
    pub in_progress_crit: u64,
    /// API001, PERF001: a container's CPU, as a share of one core.
    pub container_cpu_warn: f64,
    /// API001, PERF002: a container's memory, as a share of its limit.
    pub container_memory_warn: f64,
    /// API003 and any disk doctor reads: share used.
    pub disk_warn: f64,
    /// DK003: share used of the engine's data root and of the stack's volumes.
    pub engine_disk_warn: f64,
    pub engine_disk_crit: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            slow_query: Duration::from_secs(1),
            long_query: Duration::from_secs(60),
            long_transaction: Duration::from_secs(300),
            idle_connection: Duration::from_secs(300),
            connections_warn: 0.8,
            connections_crit: 0.95,
            redis_memory_warn: 0.8,
            redis_memory_crit: 0.9,
            redis_hit_rate_warn: 0.8,
            redis_hit_rate_crit: 0.6,
            redis_clients_warn: 100,
            redis_clients_crit: 200,
            response_time_warn: Duration::from_millis(500),
            response_time_crit: Duration::from_secs(1),
            in_progress_warn: 100,
            in_progress_crit: 500,
            container_cpu_warn: 0.8,
            container_memory_warn: 0.8,
            disk_warn: 0.8,
            engine_disk_warn: 0.85,
            engine_disk_crit: 0.95,
        }
    }
}

pub const THRESHOLD_NAMES: &[&str] = &[
    "slow_query",
    "long_query",
    "long_transaction",
    "idle_connection",
    "connections_warn",
    "connections_crit",
    "redis_memory_warn",
    "redis_memory_crit",
    "redis_hit_rate_warn",
    "redis_hit_rate_crit",
    "redis_clients_warn",
    "redis_clients_crit",
    "response_time_warn",
    "response_time_crit",
    "in_progress_warn",
    "in_progress_crit",
    "container_cpu_warn",
    "container_memory_warn",
    "disk_warn",
    "engine_disk_warn",
    "engine_disk_crit",
];

impl Thresholds {
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let ratio = |v: &str| -> Result<f64, String> {
            let t = v.trim();
            let r = match t.strip_suffix('%') {
                Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
                None => t.parse::<f64>(),
            }
            .map_err(|_| format!("{name}={v:?}: expected a share such as 0.8 or 80%"))?;
            if (0.0..=1.0).contains(&r) { Ok(r) } else { Err(format!("{name}={v:?}: a share must be between 0 and 1")) }
        };
        let dur = |v: &str| parse_duration(v).map_err(|e| format!("{name}: {e}"));
        let count = |v: &str| v.trim().parse::<u64>().map_err(|_| format!("{name}={v:?}: expected a whole number"));
        match name.trim() {
            "slow_query" => self.slow_query = dur(value)?,
            "long_query" => self.long_query = dur(value)?,
            "long_transaction" => self.long_transaction = dur(value)?,
            "idle_connection" => self.idle_connection = dur(value)?,
            "connections_warn" => self.connections_warn = ratio(value)?,
            "connections_crit" => self.connections_crit = ratio(value)?,
            "redis_memory_warn" => self.redis_memory_warn = ratio(value)?,
            "redis_memory_crit" => self.redis_memory_crit = ratio(value)?,
            "redis_hit_rate_warn" => self.redis_hit_rate_warn = ratio(value)?,
            "redis_hit_rate_crit" => self.redis_hit_rate_crit = ratio(value)?,
            "redis_clients_warn" => self.redis_clients_warn = count(value)?,
            "redis_clients_crit" => self.redis_clients_crit = count(value)?,
            "response_time_warn" => self.response_time_warn = dur(value)?,
            "response_time_crit" => self.response_time_crit = dur(value)?,
            "in_progress_warn" => self.in_progress_warn = count(value)?,
            "in_progress_crit" => self.in_progress_crit = count(value)?,
            "container_cpu_warn" => self.container_cpu_warn = ratio(value)?,
            "container_memory_warn" => self.container_memory_warn = ratio(value)?,
            "disk_warn" => self.disk_warn = ratio(value)?,
            "engine_disk_warn" => self.engine_disk_warn = ratio(value)?,
            "engine_disk_crit" => self.engine_disk_crit = ratio(value)?,
            other => {
                return Err(format!("unknown threshold {other:?}: known are {}", THRESHOLD_NAMES.join(", ")));
            }
        }
        Ok(())
    }
}

/// What doctor.toml pins for one role of the stack; anything left out is found on the engine
/// or taken from the services' own variables (`crate::stack`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Service {
    pub container: Option<String>,
    pub url: Option<String>,
}

/// `compose_project = "ai-micro"`, a list, or prefixes ending in `-` (`"ai-micro-"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Projects {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    services: BTreeMap<String, FileService>,
    #[serde(default)]
    thresholds: BTreeMap<String, toml::Value>,
    #[serde(default)]
    compose_project: Option<Projects>,
    /// `CODE = "reason"`: checks reported as skipped with that reason instead of run.
    #[serde(default)]
    ignore: BTreeMap<String, String>,
    /// Where the stack's published ports are, when not on this host (`docker` under dind).
    service_host: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileService {
    container: Option<String>,
    url: Option<String>,
    admin_url: Option<String>,
}

/// What the command line says, before anything is merged.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub lang: Option<String>,
    pub format: Option<String>,
    pub timeout: Option<String>,
    pub no_docker: bool,
    /// `--env-file`, repeatable; a later file overrides an earlier one.
    pub env_file: Vec<PathBuf>,
    pub config: Option<PathBuf>,
    /// `--host`: the engine's address, over DOCKER_HOST and the docker contexts.
    pub docker_host: Option<String>,
    pub thresholds: Vec<String>,
    pub verbose: bool,
    pub quiet: bool,
    pub since: Option<String>,
    pub tail: Option<u32>,
    pub only: Vec<String>,
    pub skip: Vec<String>,
    pub fail_on: Option<String>,
    /// `--service-host`: the host of the stack's published ports.
    pub service_host: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub lang: Lang,
    pub format: Format,
    pub timeout: Duration,
    pub no_docker: bool,
    pub verbose: bool,
    pub quiet: bool,
    pub thresholds: Thresholds,
    /// Variables of the stack: the process environment over `.env`.
    pub vars: Vars,
    /// Names of the variables that came from the process environment (the rest from `.env`).
    pub env_names: std::collections::BTreeSet<String>,
    /// What doctor.toml pins, by role.
    pub services: BTreeMap<String, Service>,
    pub pg_admin_url: Option<String>,
    /// The stack's compose projects (names, or prefixes ending in `-`); empty: any.
    pub compose_project: Vec<String>,
    /// The host of the stack's published ports and where that was set (`--service-host`,
    /// `DOCTOR_SERVICE_HOST`, `doctor.toml`), when it was.
    pub service_host: Option<(String, &'static str)>,
    /// Checks to run (`--only`); empty: all.
    pub only: Vec<String>,
    /// Checks not to run, with why (`--skip`, `[ignore]` in doctor.toml).
    pub skip: BTreeMap<String, String>,
    /// The lowest status that makes the exit code non-zero.
    pub fail_on: crate::report::Status,
    /// How far back container logs are read for symptoms, and at most how many lines.
    pub logs_since: Duration,
    pub logs_tail: u32,
    /// How far back the engine's events are read for the timeline (`--since`, else 24 h).
    pub events_since: Duration,
    /// Where each configured value came from, for `-v` and for error messages.
    pub sources: Vec<String>,
    /// The directory doctor runs in: the repositories' `.env` files are looked for below it.
    pub cwd: PathBuf,
    /// The doctor.toml read (`--config`, `DOCTOR_CONFIG`, or found upwards from `cwd`).
    pub config_file: Option<PathBuf>,
    /// How `config_file` was found when not by `--config`, `DOCTOR_CONFIG` or upwards from
    /// here: `compose-working-dir` (beside the stack's compose files).
    pub config_via: Option<&'static str>,
    /// The engine to ask, as the docker CLI would find it, or why doctor cannot use it.
    pub engine: Result<crate::probe::docker::Endpoint, crate::probe::docker::Unusable>,
}

impl Settings {
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Where a variable came from, for messages: "environment" or the `.env` file.
    pub fn var_origin(&self, name: &str) -> &'static str {
        if self.env_names.contains(name) { "environment" } else { ".env" }
    }

    pub fn service(&self, name: &str) -> Service {
        self.services.get(name).cloned().unwrap_or_default()
    }

    /// The variables of the process environment and `./.env` (for `${VAR}` in other files).
    pub fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |k| self.vars.get(k).cloned()
    }

    /// Loads everything. `env` is the process environment (a map in tests).
    pub fn load(o: &Overrides, env: &BTreeMap<String, String>, cwd: &Path) -> Result<Settings, String> {
        let mut sources = Vec::new();
        let lang = match &o.lang {
            Some(l) => Lang::parse(l).ok_or_else(|| format!("unknown language {l:?}: use en or ja"))?,
            None => Lang::from_env(|k| env.get(k).cloned())?,
        };
        let format = Format::parse(o.format.as_deref().unwrap_or("table"))?;
        let timeout = match &o.timeout {
            Some(t) => parse_duration(t).map_err(|e| format!("--timeout: {e}"))?,
            None => Duration::from_secs(5),
        };
        if timeout.is_zero() {
            return Err("--timeout must be more than zero".into());
        }

        // .env: every --env-file must exist, a later one overriding an earlier one; ./.env is
        // read when present and none is given. `${VAR}` is expanded as compose does.
        let env_paths: Vec<PathBuf> = if o.env_file.is_empty() {
            Some(cwd.join(".env")).filter(|p| p.is_file()).into_iter().collect()
        } else {
            o.env_file.clone()
        };
        let mut vars = Vars::new();
        let lookup = |k: &str| env.get(k).cloned();
        for p in &env_paths {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            sources.push(format!("variables from {}", p.display()));
            let (file_vars, notes) = envfile::parse_expanded(&p.display().to_string(), &text, &|k| {
                lookup(k).or_else(|| vars.get(k).cloned())
            })?;
            sources.extend(notes);
            vars.extend(file_vars);
        }
        for (k, v) in env {
            vars.insert(k.clone(), v.clone());
        }

        let home = env.get("HOME").map(PathBuf::from);
        let cfg_path =
            config_path(o.config.as_deref(), env.get("DOCTOR_CONFIG").map(String::as_str), cwd, home.as_deref())?;
        let file: FileConfig = match &cfg_path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                sources.push(format!("configuration from {}", p.display()));
                toml::from_str(&text).map_err(|e| {
                    let line = e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1));
                    let msg = e.message().trim().to_string();
                    match line {
                        Some(l) => format!("{}:{l}: {msg}", p.display()),
                        None => format!("{}: {msg}", p.display()),
                    }
                })?
            }
            None => FileConfig::default(),
        };

        let mut thresholds = Thresholds::default();
        for (name, value) in &file.thresholds {
            let v = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                other => other.to_string(),
            };
            thresholds.set(name, &v).map_err(|e| match &cfg_path {
                Some(p) => format!("{}: [thresholds] {e}", p.display()),
                None => e,
            })?;
        }
        for t in &o.thresholds {
            let (name, value) = t
                .split_once('=')
                .ok_or_else(|| format!("--threshold {t:?}: expected NAME=VALUE, e.g. long_query=30s"))?;
            thresholds.set(name, value).map_err(|e| format!("--threshold: {e}"))?;
        }

        for name in file.services.keys() {
            if crate::stack::roles::role(name).is_none() {
                let known: Vec<&str> = crate::stack::roles::keys().collect();
                return Err(format!(
                    "{}: unknown service [services.{name}]: known are {}",
                    cfg_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                    known.join(", ")
                ));
            }
        }
        let services: BTreeMap<String, Service> = file
            .services
            .iter()
            .map(|(name, f)| (name.clone(), Service { container: f.container.clone(), url: f.url.clone() }))
            .collect();
        let pg_admin_url = file.services.get("postgres").and_then(|f| f.admin_url.clone());

        let known = |code: &str| -> Result<String, String> {
            let c = code.trim().to_ascii_uppercase();
            if crate::catalogue::get(&c).is_some() {
                Ok(c)
            } else {
                Err(format!("unknown problem code {code:?}: `doctor list` shows them"))
            }
        };
        let only = o
            .only
            .iter()
            .flat_map(|x| x.split(','))
            .filter(|x| !x.trim().is_empty())
            .map(known)
            .collect::<Result<Vec<_>, _>>()?;
        let mut skip = BTreeMap::new();
        for (code, reason) in &file.ignore {
            let c = known(code).map_err(|e| {
                format!("{}: [ignore] {e}", cfg_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default())
            })?;
            skip.insert(c, format!("ignored in doctor.toml: {reason}"));
        }
        for code in o.skip.iter().flat_map(|x| x.split(',')).filter(|x| !x.trim().is_empty()) {
            skip.insert(known(code)?, "skipped by --skip".to_string());
        }
        let fail_on = match o.fail_on.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("warning") => crate::report::Status::Warning,
            Some("critical") => crate::report::Status::Critical,
            Some(other) => return Err(format!("--fail-on {other:?}: use warning or critical")),
        };
        let settings = Settings {
            lang,
            format,
            timeout,
            no_docker: o.no_docker,
            verbose: o.verbose,
            quiet: o.quiet,
            thresholds,
            env_names: env.keys().cloned().collect(),
            services,
            pg_admin_url,
            service_host: match (&o.service_host, vars.get("DOCTOR_SERVICE_HOST"), &file.service_host) {
                (Some(h), _, _) => Some((h.clone(), "--service-host")),
                (None, Some(h), _) if !h.is_empty() => Some((h.clone(), "DOCTOR_SERVICE_HOST")),
                (None, _, Some(h)) => Some((h.clone(), "doctor.toml service_host")),
                _ => None,
            },
            compose_project: match file.compose_project {
                None => Vec::new(),
                Some(Projects::One(p)) => vec![p],
                Some(Projects::Many(v)) => v,
            },
            only,
            skip,
            fail_on,
            logs_since: match &o.since {
                Some(d) => parse_duration(d).map_err(|e| format!("--since: {e}"))?,
                None => Duration::from_secs(600),
            },
            events_since: match &o.since {
                Some(d) => parse_duration(d).map_err(|e| format!("--since: {e}"))?,
                None => Duration::from_secs(crate::probe::docker_events::LOOKBACK_S as u64),
            },
            logs_tail: o.tail.unwrap_or(1000),
            sources,
            cwd: cwd.to_path_buf(),
            engine: crate::probe::docker::resolve_endpoint(
                o.docker_host.as_deref(),
                &|k| vars.get(k).cloned(),
                home.as_deref().unwrap_or(Path::new("/root")),
            ),
            config_file: cfg_path,
            config_via: None,
            vars,
        };
        settings.register_secrets();
        Ok(settings)
    }

    /// Every secret the configuration holds is known to `redact` before anything is printed.
    fn register_secrets(&self) {
        for (k, v) in &self.vars {
            if redact::is_secret_name(k) {
                redact::register_named_secret(k, v);
            }
            register_url_password(v);
        }
        for s in self.services.values() {
            if let Some(u) = &s.url {
                register_url_password(u);
            }
        }
        if let Some(u) = &self.pg_admin_url {
            register_url_password(u);
        }
    }
}

/// Registers the password (or the lone user-info of a `redis://secret@host` URL) of a URL.
/// Which doctor.toml to read: `--config`, else `DOCTOR_CONFIG` (both must exist), else the
/// first `doctor.toml` in `cwd` or a parent directory, stopping at `$HOME` or the root, the
/// way compose finds its project from anywhere below it.
pub fn config_path(
    flag: Option<&Path>,
    var: Option<&str>,
    cwd: &Path,
    home: Option<&Path>,
) -> Result<Option<PathBuf>, String> {
    if let Some(p) = flag {
        return Ok(Some(p.to_path_buf()));
    }
    if let Some(v) = var.filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        return if p.is_file() { Ok(Some(p)) } else { Err(format!("DOCTOR_CONFIG={v}: no such file")) };
    }
    Ok(upwards(cwd, home))
}

/// The first `doctor.toml` in `dir` or a parent, stopping at `home` or the root.
pub fn upwards(dir: &Path, home: Option<&Path>) -> Option<PathBuf> {
    for dir in dir.ancestors() {
        let p = dir.join("doctor.toml");
        if p.is_file() {
            return Some(p);
        }
        if home.is_some_and(|h| h == dir) {
            break;
        }
    }
    None
}

/// The last place looked, once nothing else named a configuration: the compose working
/// directories of the stack's containers (`com.docker.compose.project.working_dir`), each with
/// its parents up to `home`, in the order given.
pub fn in_working_dirs(dirs: &[String], home: Option<&Path>) -> Option<PathBuf> {
    dirs.iter().filter(|d| Path::new(d).is_absolute()).find_map(|d| upwards(Path::new(d), home))
}

pub fn register_url_password(text: &str) {
    let Some(i) = text.find("://") else { return };
    let after = &text[i + 3..];
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let authority = &after[..end];
    let is_redis =
        text[..i].to_ascii_lowercase().ends_with("redis") || text[..i].to_ascii_lowercase().ends_with("rediss");
    if let Some(at) = authority.rfind('@') {
        let userinfo = &authority[..at];
        // A lone user-info is a user name, except in `redis://secret@host`.
        let secret = match userinfo.split_once(':') {
            Some((_, p)) => p,
            None if is_redis => userinfo,
            None => return,
        };
        redact::register_secret(secret);
        if let Some(decoded) = percent_decode(secret) {
            redact::register_secret(&decoded);
        }
    }
}

pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let h = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {

    #[test]
    fn beside_the_compose_files_means_the_working_dir_or_a_parent_up_to_home() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home/ops");
        let deploy = home.join("ai-micro/deploy");
        std::fs::create_dir_all(&deploy).unwrap();
        let wd = |p: &Path| vec!["relative/dir".to_string(), p.display().to_string()];
        assert_eq!(in_working_dirs(&wd(&deploy), Some(&home)), None);
        std::fs::write(root.path().join("home/doctor.toml"), "").unwrap();
        assert_eq!(in_working_dirs(&wd(&deploy), Some(&home)), None, "above $HOME is not looked at");
        std::fs::write(home.join("ai-micro/doctor.toml"), "").unwrap();
        assert_eq!(in_working_dirs(&wd(&deploy), Some(&home)), Some(home.join("ai-micro/doctor.toml")));
    }
    use super::*;

    fn load(o: Overrides, env: &[(&str, &str)], files: &[(&str, &str)]) -> Result<Settings, String> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::load(&o, &env, dir.path())
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1").is_err());
        assert_eq!(format_duration(Duration::from_secs(300)), "5m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn thresholds_from_file_then_flags() {
        let s = load(
            Overrides { thresholds: vec!["long_query=30s".into()], ..Default::default() },
            &[],
            &[(
                "doctor.toml",
                "[thresholds]\nlong_query = \"10s\"\nconnections_warn = 0.5\nidle_connection = \"1m\"\n",
            )],
        )
        .unwrap();
        assert_eq!(s.thresholds.long_query, Duration::from_secs(30));
        assert_eq!(s.thresholds.connections_warn, 0.5);
        assert_eq!(s.thresholds.idle_connection, Duration::from_secs(60));
    }

    /// The help's list of defaults is the defaults (a threshold added or changed must be
    /// said in `--help`).
    #[test]
    fn every_threshold_is_settable_and_its_default_is_in_the_help() {
        let help = crate::cli::command().render_long_help().to_string();
        let defaults = Thresholds::default();
        for name in THRESHOLD_NAMES {
            assert!(help.contains(&format!("{name}=")), "--help lacks {name}");
            let mut t = defaults.clone();
            let v = if name.starts_with("redis_clients") || name.starts_with("in_progress") {
                "7"
            } else if name.starts_with("response_time") || !(name.ends_with("_warn") || name.ends_with("_crit")) {
                "7s"
            } else {
                "0.5"
            };
            t.set(name, v).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_ne!(t, defaults, "{name} set nothing");
        }
    }

    #[test]
    fn bad_thresholds_are_clear() {
        let e = load(Overrides { thresholds: vec!["nope=1".into()], ..Default::default() }, &[], &[]).unwrap_err();
        assert!(e.contains("unknown threshold \"nope\"") && e.contains("long_query"), "{e}");
        let e = load(Overrides { thresholds: vec!["connections_warn=2".into()], ..Default::default() }, &[], &[])
            .unwrap_err();
        assert!(e.contains("between 0 and 1"), "{e}");
        let e = load(Overrides { thresholds: vec!["long_query".into()], ..Default::default() }, &[], &[]).unwrap_err();
        assert!(e.contains("NAME=VALUE"), "{e}");
    }

    #[test]
    fn process_env_beats_dotenv() {
        let s = load(
            Overrides::default(),
            &[("REDIS_PASSWORD", "fromenv")],
            &[(".env", "REDIS_PASSWORD=fromfile\nPOSTGRES_PASSWORD=pgfile\n")],
        )
        .unwrap();
        assert_eq!(s.var("REDIS_PASSWORD"), Some("fromenv"));
        assert_eq!(s.var("POSTGRES_PASSWORD"), Some("pgfile"));
    }

    #[test]
    fn malformed_files_name_file_and_line() {
        let e = load(Overrides::default(), &[], &[("doctor.toml", "[services.postgres]\nurl = \n")]).unwrap_err();
        assert!(e.contains("doctor.toml:2:"), "{e}");
        let e = load(Overrides::default(), &[], &[(".env", "OK=1\nnot a line\n")]).unwrap_err();
        assert!(e.ends_with(".env:2: expected NAME=value"), "{e}");
        let e = load(Overrides::default(), &[], &[("doctor.toml", "[services.postgress]\nurl = \"x\"\n")]).unwrap_err();
        assert!(e.contains("unknown service [services.postgress]"), "{e}");
    }

    #[test]
    fn toml_names_services() {
        let s = load(
            Overrides::default(),
            &[],
            &[("doctor.toml", "[services.postgres]\ncontainer = \"db\"\nurl = \"postgresql://app@db:5432/apidb\"\n")],
        )
        .unwrap();
        assert_eq!(s.service("postgres").container.as_deref(), Some("db"));
        assert_eq!(s.service("redis").url, None);
    }

    #[test]
    fn compose_project_is_a_name_a_list_or_a_prefix() {
        let one = load(Overrides::default(), &[], &[("doctor.toml", "compose_project = \"ai-micro\"\n")]).unwrap();
        assert_eq!(one.compose_project, vec!["ai-micro".to_string()]);
        let many = load(
            Overrides::default(),
            &[],
            &[(
                "doctor.toml",
                "compose_project = [\"ai-micro-postgres\", \"ai-micro-api-\"]\n[services.mcp]\ncontainer = \"m\"\n",
            )],
        )
        .unwrap();
        assert_eq!(many.compose_project, vec!["ai-micro-postgres".to_string(), "ai-micro-api-".to_string()]);
        assert_eq!(many.service("mcp").container.as_deref(), Some("m"));
    }

    #[test]
    fn language_and_format_choices() {
        let s = load(Overrides::default(), &[("LANG", "ja_JP.UTF-8")], &[]).unwrap();
        assert_eq!(s.lang, Lang::Ja);
        assert!(load(Overrides { lang: Some("fr".into()), ..Default::default() }, &[], &[]).is_err());
        assert!(load(Overrides { format: Some("yaml".into()), ..Default::default() }, &[], &[]).is_err());
    }
}
