//! The stack's own data in Redis, read the way the runbook does but safely: the refresh tokens
//! (`refresh_token:*`, counted with `SCAN ... MATCH`, never `KEYS`, their TTLs summarised),
//! whether Redis persists them (`CONFIG GET appendonly` / `save`, read-only), and one user's
//! cached profile (`cache:profile:<user_id>`, else `profile:<user_id>`: present, TTL, and its
//! fields as per-run fingerprints, so that it can be compared with the database row without any
//! value leaving memory), and
//! the login limits of the login's user: the keys the spec names after the login itself
//! (`rate_limit:login:<email>`, `login:attempts:<email>`, `account:locked:<email>`), read with
//! one pipeline of `GET`/`TTL` on those names only (the per-address `rate:login:<ip>:<hour>`
//! is not read: doctor cannot know the address auth-service sees it from).
//! With `--refresh-token` as a JWT, the blacklist entry and the session auth-service checks
//! before it accepts a refresh (`redis/refresh_session.rs`).
//! Runs on the Redis probe's own connection: one connection per target.

use super::redis::families::{self, Families};
use super::redis::refresh_session::{self, RefreshSession};
use super::until;
use crate::jwt::RefreshIds;
use crate::redact;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokio::time::Instant;

pub const REFRESH_PATTERN: &str = "refresh_token:*";

/// What the auth and API checks want from Redis.
#[derive(Debug, Clone, Default)]
pub struct RedisAppRequest {
    /// Count the stack's key families (one bounded SCAN) and read its persistence.
    pub families: bool,
    pub refresh_tokens: bool,
    /// `--refresh-token`: find the `refresh_token:*` key holding this token (by value or name)
    /// during the same SCAN (one `GET` per key then). Never printed.
    pub refresh_token: Option<String>,
    /// `--refresh-token` as a JWT: its `jti`, `sub` and session id, for the blacklist entry and
    /// the session auth-service checks (`refresh_session`). In memory only.
    pub refresh_jwt: Option<RefreshIds>,
    pub profile_user: Option<String>,
    /// The login probe's user: its login-limit keys.
    pub login_user: Option<String>,
}

impl RedisAppRequest {
    pub fn any(&self) -> bool {
        self.families
            || self.refresh_tokens
            || self.refresh_jwt.is_some()
            || self.profile_user.is_some()
            || self.login_user.is_some()
    }
}

/// The login-limit keys the spec names after the login (`{}` is the login): the counter of
/// `10-security/02` (5 a minute), and the stricter variant's failure counter and lock of
/// `07-redis/03` (5 an hour, then locked 30 minutes).
pub const LOGIN_LIMIT_KEYS: &[(&str, LimitKind)] = &[
    ("rate_limit:login:{}", LimitKind::RateLimit),
    ("login:attempts:{}", LimitKind::Attempts),
    ("account:locked:{}", LimitKind::Lock),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LimitKind {
    RateLimit,
    Attempts,
    Lock,
}

/// One login-limit key that exists. Only a counter's number is kept, never another value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitKey {
    /// The key's pattern (`rate_limit:login:<login>`): the login is the one the report names.
    pub pattern: String,
    pub kind: LimitKind,
    /// The counter, when the value is a number.
    pub count: Option<i64>,
    /// Seconds to live; None without a TTL.
    pub ttl_s: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyFamily {
    pub pattern: String,
    pub count: u64,
    pub without_ttl: u64,
    /// Sum of `MEMORY USAGE` over the family's keys (0 where the server refused `MEMORY`).
    #[serde(default)]
    pub bytes: u64,
    pub ttl_min_s: Option<i64>,
    pub ttl_max_s: Option<i64>,
    /// False when the scan stopped at its deadline or key limit: `count` is then a lower bound.
    pub complete: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Persistence {
    /// `yes` / `no`.
    pub appendonly: String,
    /// The RDB snapshot schedule; empty when snapshots are off.
    pub save: String,
    /// `yes` (the default, and the spec's): a failed background save makes Redis refuse writes.
    #[serde(default)]
    pub stop_writes_on_bgsave_error: String,
}

impl Persistence {
    pub fn off(&self) -> bool {
        self.appendonly != "yes" && self.save.trim().is_empty()
    }
}

/// What `INFO persistence` says of the snapshots and the append-only file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PersistenceInfo {
    pub aof_enabled: bool,
    /// `ok` / `err`; empty when no background save ran yet.
    pub rdb_last_bgsave_status: String,
    /// Seconds since the last successful snapshot, by the server's clock.
    pub last_save_age_s: Option<u64>,
    pub changes_since_last_save: u64,
}

impl PersistenceInfo {
    pub fn parse(info: &str, server_now: Option<u64>) -> Self {
        let field = |name: &str| {
            info.lines().find_map(|l| l.trim().strip_prefix(name).and_then(|r| r.strip_prefix(':')).map(str::trim))
        };
        let num = |name: &str| field(name).and_then(|v| v.parse::<u64>().ok());
        PersistenceInfo {
            aof_enabled: field("aof_enabled") == Some("1"),
            rdb_last_bgsave_status: field("rdb_last_bgsave_status").unwrap_or_default().to_string(),
            last_save_age_s: num("rdb_last_save_time")
                .filter(|t| *t > 0)
                .and_then(|t| server_now.map(|now| now.saturating_sub(t))),
            changes_since_last_save: num("rdb_changes_since_last_save").unwrap_or(0),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CachedProfile {
    pub key: String,
    pub ttl_s: Option<i64>,
    /// Field name → per-run fingerprint of its value (JSON object caches); empty otherwise.
    pub fields: BTreeMap<String, String>,
    /// `string`, `hash`...
    pub kind: String,
}

/// Where the `--refresh-token` token was looked for among the `refresh_token:*` keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenKeySearch {
    /// The key holding it, when found.
    pub found: Option<TokenKey>,
    /// Keys looked at; `complete` false when the scan stopped at its budget before the end.
    pub scanned: u64,
    pub complete: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenKey {
    /// The key's name (the token itself shown as `<token>` when the name carries it).
    pub key: String,
    pub ttl_s: Option<i64>,
    /// `value` (the key's string value is or contains the token) or `name`.
    pub matched_by: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RedisAppFacts {
    pub refresh_keys: Option<Result<KeyFamily, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_key: Option<Result<TokenKeySearch, String>>,
    pub persistence: Option<Result<Persistence, String>>,
    /// `INFO persistence`: how the snapshots are going.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence_info: Option<Result<PersistenceInfo, String>>,
    /// The stack's key families, from one SCAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub families: Option<Result<Families, String>>,
    /// `Ok(None)`: no such key.
    pub profile: Option<Result<Option<CachedProfile>, String>>,
    /// The login-limit keys of the login's user that exist (empty: none does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_limits: Option<Result<Vec<LimitKey>, String>>,
    /// `--refresh-token` as a JWT: its blacklist entry and its session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_session: Option<Result<RefreshSession, String>>,
}

pub async fn read(
    con: &mut redis::aio::MultiplexedConnection,
    req: &RedisAppRequest,
    deadline: Instant,
) -> RedisAppFacts {
    let mut out = RedisAppFacts::default();
    let (mut c1, mut c2, mut c3, mut c4, mut c5) = (con.clone(), con.clone(), con.clone(), con.clone(), con.clone());
    let token = req.refresh_token.as_deref();
    let scan = async {
        if req.families || req.refresh_tokens { Some(families::scan(&mut c1, token, deadline).await) } else { None }
    };
    let persist = async {
        if req.families || req.refresh_tokens {
            Some(tokio::join!(persistence(&mut c2, deadline), persistence_info(&mut c3, deadline)))
        } else {
            None
        }
    };
    let profile = async {
        match &req.profile_user {
            Some(user) => Some(cached_profile(&mut c4, user, deadline).await),
            None => None,
        }
    };
    let session = async {
        match &req.refresh_jwt {
            Some(ids) => Some(refresh_session::read(&mut c5, ids, token, deadline).await),
            None => None,
        }
    };
    let (scan, persist, profile, session) = tokio::join!(scan, persist, profile, session);
    out.refresh_session = session;
    if let Some(scan) = scan {
        if token.is_some() {
            out.refresh_token_key = Some(
                scan.as_ref()
                    .map(|(fams, found)| TokenKeySearch {
                        found: found.clone(),
                        scanned: fams.count(families::REFRESH),
                        complete: fams.complete,
                    })
                    .map_err(Clone::clone),
            );
        }
        if req.refresh_tokens {
            out.refresh_keys = Some(
                scan.as_ref().map(|(f, _)| f.get(families::REFRESH).cloned().unwrap_or_default()).map_err(Clone::clone),
            );
        }
        out.families = Some(scan.map(|(f, _)| f));
    }
    if let Some((p, info)) = persist {
        out.persistence = Some(p);
        out.persistence_info = Some(info);
    }
    out.profile = profile;
    if let Some(user) = &req.login_user {
        out.login_limits = Some(login_limits(con, user, deadline).await);
    }
    out
}

/// user-api's profile cache: `cache:profile:<id>` (the spec), then `profile:<id>` (the runbook).
async fn cached_profile(
    con: &mut redis::aio::MultiplexedConnection,
    user: &str,
    deadline: Instant,
) -> Result<Option<CachedProfile>, String> {
    for key in [format!("cache:profile:{user}"), format!("profile:{user}")] {
        if let Some(p) = profile(con, &key, deadline).await? {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// `GET` and `TTL` of each login-limit key of `user`, in one pipeline.
async fn login_limits(
    con: &mut redis::aio::MultiplexedConnection,
    user: &str,
    deadline: Instant,
) -> Result<Vec<LimitKey>, String> {
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    for (pattern, _) in LOGIN_LIMIT_KEYS {
        let key = pattern.replace("{}", user);
        pipe.cmd("GET").arg(&key).cmd("TTL").arg(&key);
    }
    let replies: Vec<redis::RedisResult<redis::Value>> = match until(deadline, pipe.query_async(con)).await {
        None => return Err("no answer before the timeout".into()),
        Some(Err(e)) => return Err(format!("GET/TTL failed: {}", err(&e))),
        Some(Ok(r)) => r,
    };
    let mut out = Vec::new();
    for ((pattern, kind), pair) in LOGIN_LIMIT_KEYS.iter().zip(replies.chunks(2)) {
        let ttl = match pair.get(1) {
            Some(Ok(redis::Value::Int(t))) => *t,
            Some(Err(e)) => return Err(format!("TTL failed: {}", err(e))),
            _ => -2,
        };
        if ttl == -2 {
            continue; // no such key
        }
        let count = match pair.first() {
            Some(Ok(redis::Value::BulkString(b))) => std::str::from_utf8(b).ok().and_then(|v| v.trim().parse().ok()),
            Some(Ok(redis::Value::Int(n))) => Some(*n),
            _ => None,
        };
        out.push(LimitKey {
            pattern: pattern.replace("{}", "<login>"),
            kind: *kind,
            count,
            ttl_s: (ttl >= 0).then_some(ttl),
        });
    }
    Ok(out)
}

pub(crate) fn err(e: &redis::RedisError) -> String {
    redact::scrub(&super::redis::classify(e).message)
}

async fn persistence(con: &mut redis::aio::MultiplexedConnection, deadline: Instant) -> Result<Persistence, String> {
    let mut pipe = redis::pipe();
    for name in ["appendonly", "save", "stop-writes-on-bgsave-error"] {
        pipe.cmd("CONFIG").arg("GET").arg(name);
    }
    let r: redis::RedisResult<(Vec<String>, Vec<String>, Vec<String>)> =
        until(deadline, pipe.query_async(con)).await.ok_or("no answer before the timeout")?;
    let (a, s, w) = r.map_err(|e| format!("CONFIG GET is not allowed here ({})", err(&e)))?;
    let second = |v: Vec<String>| v.get(1).cloned().unwrap_or_default();
    Ok(Persistence { appendonly: second(a), save: second(s), stop_writes_on_bgsave_error: second(w) })
}

/// `INFO persistence`, always allowed (unlike `CONFIG`), and the server's clock (`TIME`) so
/// that the age of the last snapshot is the server's own arithmetic, not this host's.
async fn persistence_info(
    con: &mut redis::aio::MultiplexedConnection,
    deadline: Instant,
) -> Result<PersistenceInfo, String> {
    let mut pipe = redis::pipe();
    pipe.cmd("INFO").arg("persistence").cmd("TIME");
    let r: redis::RedisResult<(String, (String, String))> =
        until(deadline, pipe.query_async(con)).await.ok_or("no answer before the timeout")?;
    let (info, (now, _)) = r.map_err(|e| err(&e))?;
    Ok(PersistenceInfo::parse(&info, now.parse().ok()))
}

/// The `TokenKey` for `key` when its name or string value carries `token`.
pub(crate) fn token_key(key: &[u8], value: Option<&[u8]>, ttl: i64, token: &str) -> Option<TokenKey> {
    let name = String::from_utf8_lossy(key);
    let by = if name.contains(token) {
        "name"
    } else if value.is_some_and(|v| carries(v, token.as_bytes())) {
        "value"
    } else {
        return None;
    };
    Some(TokenKey {
        key: redact::scrub(&name.replace(token, "<token>")),
        ttl_s: (ttl >= 0).then_some(ttl),
        matched_by: by.into(),
    })
}

/// Values longer than this are compared whole only, not searched: a refresh-token record is a
/// few hundred bytes, and searching a huge value would hold the run for nothing.
const MAX_SEARCHED_VALUE: usize = 64 * 1024;

/// Whether a stored value is the token or contains it (a JSON record holding it).
fn carries(value: &[u8], token: &[u8]) -> bool {
    !token.is_empty()
        && (value == token || (value.len() <= MAX_SEARCHED_VALUE && value.windows(token.len()).any(|w| w == token)))
}

async fn profile(
    con: &mut redis::aio::MultiplexedConnection,
    key: &str,
    deadline: Instant,
) -> Result<Option<CachedProfile>, String> {
    let mut pipe = redis::pipe();
    pipe.cmd("TYPE").arg(key).cmd("TTL").arg(key);
    let (kind, ttl): (String, i64) =
        until(deadline, pipe.query_async(con)).await.ok_or("no answer before the timeout")?.map_err(|e| err(&e))?;
    if kind == "none" {
        return Ok(None);
    }
    let fields: BTreeMap<String, String> = match kind.as_str() {
        "string" => {
            let v: Option<String> = until(deadline, redis::cmd("GET").arg(key).query_async(con))
                .await
                .ok_or("no answer before the timeout")?
                .map_err(|e| err(&e))?;
            v.as_deref().map(json_fields).unwrap_or_default()
        }
        "hash" => {
            let v: BTreeMap<String, String> = until(deadline, redis::cmd("HGETALL").arg(key).query_async(con))
                .await
                .ok_or("no answer before the timeout")?
                .map_err(|e| err(&e))?;
            v.into_iter().map(|(k, v)| (k, redact::fingerprint(&v))).collect()
        }
        _ => BTreeMap::new(),
    };
    Ok(Some(CachedProfile { key: redact::scrub(key), ttl_s: (ttl >= 0).then_some(ttl), fields, kind }))
}

/// A JSON object's fields as fingerprints of their values (strings unquoted, others as JSON),
/// the same way the database row is fingerprinted, so that both compare field by field.
pub fn json_fields(text: &str) -> BTreeMap<String, String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), fingerprint_value(v))).collect(),
        _ => BTreeMap::new(),
    }
}

pub fn fingerprint_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => redact::fingerprint(s),
        other => redact::fingerprint(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fields_fingerprint_values_alike() {
        let a = json_fields(r#"{"first_name":"Taro","age":3,"x":null}"#);
        let b = json_fields(r#"{"first_name":"Taro","age":3}"#);
        assert_eq!(a["first_name"], b["first_name"]);
        assert_eq!(a["age"], b["age"]);
        assert_ne!(a["first_name"], redact::fingerprint("Jiro"));
        assert!(!a["first_name"].contains("Taro"));
        assert!(json_fields("not json").is_empty());
        assert!(json_fields("[1,2]").is_empty());
    }

    #[test]
    fn persistence_off_only_when_both_are_off() {
        let p = |a: &str, s: &str| Persistence { appendonly: a.into(), save: s.into(), ..Default::default() };
        assert!(p("no", "").off());
        assert!(!p("yes", "").off());
        assert!(!p("no", "3600 1 300 100").off());
    }

    #[test]
    fn a_value_carries_the_token_whole_or_inside_a_record() {
        assert!(carries(b"rt-1", b"rt-1"));
        assert!(carries(br#"{"token": "rt-1", "user_id": 1}"#, b"rt-1"));
        assert!(!carries(b"rt-2", b"rt-1"));
        assert!(!carries(b"rt-1", b""));
        let mut huge = vec![b'x'; MAX_SEARCHED_VALUE + 1];
        huge.extend_from_slice(b"rt-1");
        assert!(!carries(&huge, b"rt-1"), "a huge value is not searched");
    }
}
