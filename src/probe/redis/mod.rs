//! Redis evidence: one connection, `INFO` (memory, stats, keyspace, error counters), the stack's
//! own keys (`redis_app`), and with `--bigkeys` a `SCAN` of the keyspace in bounded batches
//! (`bigkeys.rs`). Never `KEYS`, never a write, never `CONFIG SET`, never
//! `EVAL`/`SCRIPT LOAD`/`FUNCTION`.
//!
//! Two files, one job each: this one connects, reads `INFO` and defines every fact the probe
//! returns (the scan's too, so that `probe::redis::X` names them all); `bigkeys.rs` is the
//! scanner alone, a program of its own (two ways to scan, a Lua script, a pipeline) that only
//! `--bigkeys` runs.

mod bigkeys;
pub mod families;
pub mod refresh_session;

use bigkeys::scan_bigkeys;

use super::redis_app::{RedisAppFacts, RedisAppRequest};
use super::{Resolution, Timing, ms, until};
use crate::redact;
use crate::urls::{self, RedisUrl, UrlProblem};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct RedisProbeConfig {
    pub url: String,
    pub url_source: String,
    /// Where the URL's host is from this host, when it was written for the containers.
    pub route: Option<crate::stack::Route>,
    pub timeout: Duration,
    /// `Some` with `--bigkeys`.
    pub bigkeys: Option<BigKeysLimits>,
    /// The stack's own keys the auth and API checks read (refresh tokens, a cached profile).
    pub app: RedisAppRequest,
}

#[derive(Debug, Clone, Copy)]
pub struct BigKeysLimits {
    pub max_keys: u64,
    pub batch: u32,
    pub time: Duration,
}

impl Default for BigKeysLimits {
    fn default() -> Self {
        BigKeysLimits { max_keys: 2_000_000, batch: 1000, time: Duration::from_secs(60) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedisErrorKind {
    Refused,
    Timeout,
    NameNotResolved,
    WrongPassword,
    NoAuth,
    Loading,
    Protocol,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedisError {
    pub kind: RedisErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedisConn {
    pub address: String,
    pub latency_ms: u64,
    pub result: Result<(), RedisError>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Keyspace {
    pub keys: u64,
    pub expires: u64,
    pub avg_ttl_ms: u64,
}

/// The parts of `INFO` the diagnosis reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RedisInfo {
    pub version: String,
    pub uptime_s: u64,
    pub used_memory: u64,
    pub used_memory_rss: u64,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub fragmentation_ratio: f64,
    pub evicted_keys: u64,
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub connected_clients: u64,
    pub rejected_connections: u64,
    /// Replies of `-OOM` sent to clients since the start or the last `CONFIG RESETSTAT`.
    pub oom_errors: u64,
    /// Replies of `-MISCONF`: writes refused because the last background save failed.
    #[serde(default)]
    pub misconf_errors: u64,
    pub keyspace: BTreeMap<String, Keyspace>,
    /// Calls per command since the start or `CONFIG RESETSTAT` (`INFO commandstats`: `exists`,
    /// `get`, `memory|usage`...), so that the hit rate can tell existence checks from cache reads.
    /// Empty when the server did not say.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub commands: BTreeMap<String, u64>,
}

impl RedisInfo {
    // Saturating: the figures come from the server's text, which may say anything.
    pub fn total_keys(&self) -> u64 {
        self.keyspace.values().fold(0, |a, k| a.saturating_add(k.keys))
    }
    pub fn total_expires(&self) -> u64 {
        self.keyspace.values().fold(0, |a, k| a.saturating_add(k.expires))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeySize {
    /// Key name, redacted and cut to 120 characters.
    pub key: String,
    pub kind: String,
    pub bytes: u64,
    /// Seconds to live; `None` without expiry.
    pub ttl_s: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TypeTotal {
    pub keys: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BigKeys {
    pub scanned: u64,
    pub complete: bool,
    /// Why the scan stopped early, when it did.
    pub stopped: Option<String>,
    pub without_ttl: u64,
    pub top: Vec<KeySize>,
    pub by_type: BTreeMap<String, TypeTotal>,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RedisFacts {
    pub target: String,
    pub url: String,
    pub url_source: String,
    pub url_problem: Option<UrlProblem>,
    pub url_notes: Vec<UrlProblem>,
    pub resolution: Option<Resolution>,
    pub reached_via: Option<String>,
    pub conn: Option<RedisConn>,
    pub info: Option<RedisInfo>,
    pub bigkeys: Option<BigKeys>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<RedisAppFacts>,
    pub errors: Vec<String>,
    pub timings: Vec<Timing>,
}

impl RedisFacts {
    pub fn connected(&self) -> bool {
        matches!(&self.conn, Some(RedisConn { result: Ok(()), .. }))
    }
    pub fn error(&self) -> Option<&RedisError> {
        self.conn.as_ref().and_then(|c| c.result.as_ref().err())
    }
}

pub async fn gather(cfg: &RedisProbeConfig) -> RedisFacts {
    let deadline = Instant::now() + cfg.timeout;
    let mut facts = RedisFacts {
        url: redact::url(&cfg.url),
        url_source: cfg.url_source.clone(),
        target: "redis".into(),
        ..Default::default()
    };
    let u = match urls::parse_redis(&cfg.url) {
        Ok(u) => u,
        Err(p) => {
            facts.url_problem = Some(p);
            return facts;
        }
    };
    facts.url_notes = u.notes.clone();
    facts.target = format!("redis@{}:{}/{}", u.host, u.port, u.db);
    if u.tls {
        facts.conn = Some(RedisConn {
            address: format!("{}:{}", u.host, u.port),
            latency_ms: 0,
            result: Err(RedisError {
                kind: RedisErrorKind::Other,
                message: "rediss:// (TLS) is not supported by this build of doctor".into(),
            }),
        });
        return facts;
    }
    let mut u = u;
    let mut host = u.host.clone();
    if let Some(r) = &cfg.route {
        host = r.host.clone();
        u.port = r.port;
        facts.reached_via = Some(format!("{}:{} ({})", r.host, r.port, r.why));
    } else {
        let (resolution, local) = super::resolve_or_local(&u.host, u.port, deadline, &mut facts.timings).await;
        if local {
            host = "127.0.0.1".into();
            facts.reached_via = Some(format!("127.0.0.1:{}", u.port));
        }
        facts.resolution = Some(resolution);
    }

    let address = format!("{host}:{}", u.port);
    let started = Instant::now();
    let connected = connect(&u, &host, deadline).await;
    let latency_ms = ms(started.elapsed());
    facts.timings.push(Timing { step: "connect".into(), ms: latency_ms, ok: connected.is_ok() });
    let mut con = match connected {
        Ok(c) => c,
        Err(e) => {
            facts.conn = Some(RedisConn { address, latency_ms, result: Err(e) });
            return facts;
        }
    };
    let t = Instant::now();
    let info: Option<redis::RedisResult<String>> = until(deadline, redis::cmd("INFO").query_async(&mut con)).await;
    facts.timings.push(Timing { step: "INFO".into(), ms: ms(t.elapsed()), ok: matches!(info, Some(Ok(_))) });
    match info {
        Some(Ok(text)) => {
            let mut info = parse_info(&text);
            // Not in the default `INFO` sections; read right after them so that both describe
            // the same moment (before this run's own reads of the stack's keys).
            let stats: Option<redis::RedisResult<String>> =
                until(deadline, redis::cmd("INFO").arg("commandstats").query_async(&mut con)).await;
            if let Some(Ok(stats)) = stats {
                info.commands = command_calls(&stats);
            }
            facts.info = Some(info);
            facts.conn = Some(RedisConn { address, latency_ms, result: Ok(()) });
        }
        // NOAUTH and friends arrive with the first command, not at connect time.
        Some(Err(e)) => {
            facts.conn = Some(RedisConn { address, latency_ms, result: Err(classify(&e)) });
            return facts;
        }
        None => {
            facts.conn = Some(RedisConn {
                address,
                latency_ms,
                result: Err(RedisError {
                    kind: RedisErrorKind::Timeout,
                    message: "INFO got no answer before the timeout".into(),
                }),
            });
            return facts;
        }
    }
    if cfg.app.any() {
        let t = Instant::now();
        facts.app = Some(super::redis_app::read(&mut con, &cfg.app, deadline).await);
        facts.timings.push(Timing { step: "refresh tokens, profile cache".into(), ms: ms(t.elapsed()), ok: true });
    }
    if let Some(limits) = cfg.bigkeys {
        let t = Instant::now();
        facts.bigkeys = Some(scan_bigkeys(&mut con, limits, cfg.timeout).await);
        facts.timings.push(Timing { step: "bigkeys scan".into(), ms: ms(t.elapsed()), ok: true });
    }
    facts
}

async fn connect(u: &RedisUrl, host: &str, deadline: Instant) -> Result<redis::aio::MultiplexedConnection, RedisError> {
    let mut url = String::from("redis://");
    if u.username.is_some() || u.password.is_some() {
        url.push_str(&redact::percent_encode(u.username.as_deref().unwrap_or("")));
        if let Some(p) = &u.password {
            url.push(':');
            url.push_str(&redact::percent_encode(p));
        }
        url.push('@');
    }
    url.push_str(&format!("{}:{}/{}", host, u.port, u.db));
    let client = redis::Client::open(url.as_str()).map_err(|e| classify(&e))?;
    let remaining = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    let cfg = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(remaining))
        .set_response_timeout(Some(remaining));
    match until(deadline, client.get_multiplexed_async_connection_with_config(&cfg)).await {
        None => Err(RedisError { kind: RedisErrorKind::Timeout, message: "no answer before the timeout".into() }),
        Some(Err(e)) => Err(classify(&e)),
        Some(Ok(c)) => Ok(c),
    }
}

pub fn classify(e: &redis::RedisError) -> RedisError {
    let message = redact::scrub(&e.to_string());
    let lower = message.to_ascii_lowercase();
    let kind = if e.is_connection_refusal() {
        RedisErrorKind::Refused
    } else if e.is_timeout() {
        RedisErrorKind::Timeout
    } else if e.kind() == redis::ErrorKind::AuthenticationFailed || e.code() == Some("WRONGPASS") {
        RedisErrorKind::WrongPassword
    } else if e.code() == Some("NOAUTH") {
        RedisErrorKind::NoAuth
    } else if e.code() == Some("LOADING") {
        RedisErrorKind::Loading
    } else if lower.contains("lookup address") || lower.contains("name or service not known") {
        RedisErrorKind::NameNotResolved
    } else if e.kind() == redis::ErrorKind::Parse || lower.contains("parse") || lower.contains("protocol") {
        RedisErrorKind::Protocol
    } else if lower.contains("refused") {
        RedisErrorKind::Refused
    } else if lower.contains("timed out") {
        RedisErrorKind::Timeout
    } else {
        RedisErrorKind::Other
    };
    RedisError { kind, message }
}

/// Parses `INFO` text. Unknown or malformed lines are skipped: a server of another version, or a
/// hostile one, yields fewer facts, never an error.
pub fn parse_info(text: &str) -> RedisInfo {
    let mut map: BTreeMap<&str, &str> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            map.insert(k, v);
        }
    }
    let num = |k: &str| map.get(k).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0);
    let mut info = RedisInfo {
        version: map.get("redis_version").map(|s| s.to_string()).unwrap_or_default(),
        uptime_s: num("uptime_in_seconds"),
        used_memory: num("used_memory"),
        used_memory_rss: num("used_memory_rss"),
        maxmemory: num("maxmemory"),
        maxmemory_policy: map.get("maxmemory_policy").map(|s| s.to_string()).unwrap_or_default(),
        fragmentation_ratio: map
            .get("mem_fragmentation_ratio")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|f| f.is_finite())
            .unwrap_or(0.0),
        evicted_keys: num("evicted_keys"),
        expired_keys: num("expired_keys"),
        keyspace_hits: num("keyspace_hits"),
        keyspace_misses: num("keyspace_misses"),
        connected_clients: num("connected_clients"),
        rejected_connections: num("rejected_connections"),
        oom_errors: 0,
        misconf_errors: 0,
        keyspace: BTreeMap::new(),
        commands: command_calls(text),
    };
    let count = |k: &str| map.get(k).and_then(|v| fields(v).get("count").and_then(|c| c.parse().ok())).unwrap_or(0);
    info.oom_errors = count("errorstat_OOM");
    info.misconf_errors = count("errorstat_MISCONF");
    for (k, v) in &map {
        if let Some(n) = k.strip_prefix("db").filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())) {
            let f = fields(v);
            let get = |name: &str| f.get(name).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
            info.keyspace.insert(
                format!("db{n}"),
                Keyspace { keys: get("keys"), expires: get("expires"), avg_ttl_ms: get("avg_ttl") },
            );
        }
    }
    info
}

/// `cmdstat_<name>:calls=N,...` lines (`INFO commandstats`) as name → calls; names are kept
/// only when they look like a command (letters, digits, `|`, `_`, `-`), so a hostile server
/// cannot put words in the report.
pub fn command_calls(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("cmdstat_"))
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| {
            name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '|' | '_' | '-'))
        })
        .filter_map(|(name, v)| Some((name.to_ascii_lowercase(), fields(v).get("calls")?.parse::<u64>().ok()?)))
        .collect()
}

fn fields(v: &str) -> BTreeMap<&str, &str> {
    v.split(',').filter_map(|kv| kv.split_once('=')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_is_parsed_and_garbage_ignored() {
        let text = "# Memory\r\nused_memory:1048576\r\nmaxmemory:2097152\r\nmaxmemory_policy:noeviction\r\n\
                    mem_fragmentation_ratio:1.50\r\n# Stats\r\nkeyspace_hits:80\r\nkeyspace_misses:20\r\nevicted_keys:3\r\n\
                    # Errorstats\r\nerrorstat_OOM:count=7\r\nerrorstat_ERR:count=1\r\n\
                    # Keyspace\r\ndb0:keys=300,expires=75,avg_ttl=1200\r\ndb2:keys=10,expires=0,avg_ttl=0\r\n\
                    garbage line\r\nused_memory_rss:notanumber\r\n";
        let i = parse_info(text);
        assert_eq!((i.used_memory, i.maxmemory, i.maxmemory_policy.as_str()), (1_048_576, 2_097_152, "noeviction"));
        assert_eq!((i.keyspace_hits, i.keyspace_misses, i.evicted_keys, i.oom_errors), (80, 20, 3, 7));
        assert_eq!(i.fragmentation_ratio, 1.5);
        assert_eq!((i.total_keys(), i.total_expires()), (310, 75));
        assert_eq!(i.keyspace["db0"].avg_ttl_ms, 1200);
        assert_eq!(i.used_memory_rss, 0);
        assert!(i.commands.is_empty());
    }

    #[test]
    fn commandstats_and_misconf_are_read() {
        let text = "# Commandstats\r\ncmdstat_exists:calls=5000,usec=900,usec_per_call=0.18,rejected_calls=0,failed_calls=0\r\n\
                    cmdstat_memory|usage:calls=12,usec=40\r\ncmdstat_get:calls=notanumber\r\ncmdstat_<b>:calls=3\r\n\
                    errorstat_MISCONF:count=4\r\n";
        let i = parse_info(text);
        assert_eq!(i.commands.get("exists"), Some(&5000));
        assert_eq!(i.commands.get("memory|usage"), Some(&12));
        assert_eq!(i.commands.len(), 2, "{:?}", i.commands);
        assert_eq!(i.misconf_errors, 4);
    }
}
