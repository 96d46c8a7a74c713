//! The stack's key families (spec `07-redis/02`), counted in **one** bounded `SCAN` of the
//! whole keyspace: sessions, both blacklists, the profile cache, job statuses, rate limits,
//! the old `refresh_token:*` records. Per family: how many keys, how many without a TTL, the
//! TTL spread and the bytes (`MEMORY USAGE`). Values are never kept, with two exceptions that
//! hold no secret: the `status` field of `job:status:*` records (tallied) and the integer
//! counters `metrics:cache:hits` / `metrics:cache:misses`. `--refresh-token` rides on the same
//! scan: the `refresh_token:*` key carrying it is found by name or value.
//!
//! One scan rather than one `SCAN MATCH` per family: `MATCH` filters after the walk, so every
//! family would walk the whole keyspace again. The walk stops at its budget or key limit and
//! then says it is incomplete (counts become lower bounds).

use super::super::redis_app::{KeyFamily, TokenKey};
use super::super::until;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokio::time::Instant;

/// The families, in the order a key is tried against them (the first prefix that fits wins,
/// so `blacklist:access:` comes before `blacklist:`).
pub const FAMILIES: &[&str] = &[
    "session:*",
    "blacklist:access:*",
    "blacklist:refresh:*",
    "blacklist:*",
    "cache:profile:*",
    "profile:*",
    "cache:*",
    "job:status:*",
    "queue:*",
    "rate:*",
    "rate_limit:*",
    "refresh_token:*",
    "password_reset:*",
    "metrics:*",
];

pub const JOB_STATUS: &str = "job:status:*";
pub const REFRESH: &str = "refresh_token:*";
/// admin-api's OCR queue (a list): its length says whether uploads are being consumed.
pub const DOCUMENT_QUEUE: &str = "queue:document:processing";
const CACHE_HITS: &str = "metrics:cache:hits";
const CACHE_MISSES: &str = "metrics:cache:misses";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Families {
    /// Every family of `FAMILIES`, seen or not (a count of 0 is evidence too).
    pub families: Vec<KeyFamily>,
    /// Keys that belong to no family.
    pub other: u64,
    pub scanned: u64,
    /// False when the walk stopped at its budget or key limit.
    pub complete: bool,
    /// `job:status:*` records by their `status` field (`pending`, `processing`, `failed`...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub job_statuses: BTreeMap<String, u64>,
    /// `LLEN queue:document:processing`; None when the key does not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_queue: Option<u64>,
    /// user-api's own cache counters (`metrics:cache:hits` / `misses`), when it keeps them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_counters: Option<CacheCounters>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheCounters {
    pub hits: u64,
    pub misses: u64,
}

impl Families {
    pub fn get(&self, pattern: &str) -> Option<&KeyFamily> {
        self.families.iter().find(|f| f.pattern == pattern)
    }
    /// Keys of a family (0 when unseen).
    pub fn count(&self, pattern: &str) -> u64 {
        self.get(pattern).map_or(0, |f| f.count)
    }
}

/// Which family a key belongs to (an index into `FAMILIES`).
pub fn family_of(key: &[u8]) -> Option<usize> {
    FAMILIES.iter().position(|p| key.starts_with(p.trim_end_matches('*').as_bytes()))
}

const MAX_KEYS: u64 = 200_000;
/// Job records read for their status: enough to see a pattern, bounded on a busy day.
const MAX_JOB_READS: u64 = 2_000;
/// Time the walk may take: a large keyspace must not hold the whole run.
const BUDGET: std::time::Duration = std::time::Duration::from_millis(1500);

/// The walk, plus the `refresh_token:*` key carrying `look_for` when one is given.
pub async fn scan(
    con: &mut redis::aio::MultiplexedConnection,
    look_for: Option<&str>,
    deadline: Instant,
) -> Result<(Families, Option<TokenKey>), String> {
    let mut out = Families {
        families: FAMILIES.iter().map(|p| KeyFamily { pattern: (*p).into(), ..Default::default() }).collect(),
        ..Default::default()
    };
    let deadline = deadline.min(Instant::now() + BUDGET);
    let (mut c2, mut c3) = (con.clone(), con.clone());
    let (walk, queue, counters) = tokio::join!(
        walk(con, &mut out, look_for, deadline),
        queue_len(&mut c2, deadline),
        counters(&mut c3, deadline)
    );
    let found = walk?;
    out.document_queue = queue;
    out.cache_counters = counters;
    for f in &mut out.families {
        f.complete = out.complete;
    }
    Ok((out, found))
}

async fn walk(
    con: &mut redis::aio::MultiplexedConnection,
    out: &mut Families,
    look_for: Option<&str>,
    deadline: Instant,
) -> Result<Option<TokenKey>, String> {
    let mut found = None;
    let mut cursor: u64 = 0;
    let mut job_reads = 0u64;
    loop {
        let r: Option<redis::RedisResult<(u64, Vec<Vec<u8>>)>> =
            until(deadline, redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(2000).query_async(con)).await;
        let (next, keys) = match r {
            Some(Ok(x)) => x,
            Some(Err(e)) => return Err(format!("SCAN failed: {}", super::super::redis_app::err(&e))),
            None => return Ok(found),
        };
        if !keys.is_empty() {
            match batch(con, &keys, look_for, &mut job_reads, deadline).await {
                Some(Ok(b)) => {
                    found = found.or(b.hit);
                    for (k, r) in keys.iter().zip(b.replies) {
                        tally(out, k, r);
                    }
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(found),
            }
        }
        cursor = next;
        if cursor == 0 {
            out.complete = true;
            return Ok(found);
        }
        if out.scanned >= MAX_KEYS {
            return Ok(found);
        }
    }
}

/// What one key's replies said.
#[derive(Debug, Default)]
struct KeyReply {
    ttl: i64,
    bytes: Option<u64>,
    job_status: Option<String>,
}

struct Batch {
    replies: Vec<KeyReply>,
    hit: Option<TokenKey>,
}

/// `TTL` and `MEMORY USAGE` for every key of a batch, `GET` for the job records (bounded) and,
/// with a token to find, for the `refresh_token:*` keys. Errors are kept per command: an ACL
/// may forbid `MEMORY`, and a key that is no string answers `GET` with WRONGTYPE.
async fn batch(
    con: &mut redis::aio::MultiplexedConnection,
    keys: &[Vec<u8>],
    look_for: Option<&str>,
    job_reads: &mut u64,
    deadline: Instant,
) -> Option<Result<Batch, String>> {
    let fams: Vec<Option<usize>> = keys.iter().map(|k| family_of(k)).collect();
    let job = FAMILIES.iter().position(|p| *p == JOB_STATUS);
    let refresh = FAMILIES.iter().position(|p| *p == REFRESH);
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    let mut gets = Vec::with_capacity(keys.len());
    for (k, fam) in keys.iter().zip(&fams) {
        pipe.cmd("TTL").arg(k).cmd("MEMORY").arg("USAGE").arg(k).arg("SAMPLES").arg(0);
        let get = (*fam == job && job.is_some() && *job_reads < MAX_JOB_READS)
            || (*fam == refresh && refresh.is_some() && look_for.is_some());
        if get {
            if *fam == job {
                *job_reads += 1;
            }
            pipe.cmd("GET").arg(k);
        }
        gets.push(get);
    }
    let replies: Vec<redis::RedisResult<redis::Value>> = match until(deadline, pipe.query_async(con)).await? {
        Ok(r) => r,
        Err(e) => return Some(Err(format!("TTL failed: {}", super::super::redis_app::err(&e)))),
    };
    let mut it = replies.into_iter();
    let mut out = Batch { replies: Vec::with_capacity(keys.len()), hit: None };
    for ((k, fam), get) in keys.iter().zip(&fams).zip(gets) {
        let ttl = match it.next() {
            Some(Ok(redis::Value::Int(t))) => t,
            Some(Err(e)) => return Some(Err(format!("TTL failed: {}", super::super::redis_app::err(&e)))),
            _ => -2,
        };
        let bytes = match it.next() {
            Some(Ok(redis::Value::Int(b))) => u64::try_from(b).ok(),
            _ => None,
        };
        let value = if get {
            match it.next() {
                Some(Ok(redis::Value::BulkString(v))) => Some(v),
                _ => None,
            }
        } else {
            None
        };
        let mut reply = KeyReply { ttl, bytes, job_status: None };
        if let Some(v) = value {
            if *fam == job {
                reply.job_status = Some(job_status(&v));
            } else if let Some(token) = look_for.filter(|_| out.hit.is_none() && ttl != -2) {
                out.hit = super::super::redis_app::token_key(k, Some(v.as_slice()), ttl, token);
            }
        } else if let Some(token) = look_for.filter(|_| *fam == refresh && out.hit.is_none() && ttl != -2) {
            out.hit = super::super::redis_app::token_key(k, None, ttl, token);
        }
        out.replies.push(reply);
    }
    Some(Ok(out))
}

/// A job record's `status` (a short word from the admin-api's own set, kept as a label);
/// `unreadable` when the record is no JSON object with one.
fn job_status(v: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(v)
        .ok()
        .and_then(|j| j.get("status").and_then(|s| s.as_str()).map(str::to_string))
        .filter(|s| s.len() <= 32 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or_else(|| "unreadable".into())
}

fn tally(out: &mut Families, key: &[u8], r: KeyReply) {
    if r.ttl == -2 {
        return; // expired between SCAN and TTL
    }
    out.scanned += 1;
    let Some(i) = family_of(key) else {
        out.other += 1;
        return;
    };
    let fam = &mut out.families[i];
    fam.count += 1;
    fam.bytes = fam.bytes.saturating_add(r.bytes.unwrap_or(0));
    match r.ttl {
        -1 => fam.without_ttl += 1,
        t => {
            fam.ttl_min_s = Some(fam.ttl_min_s.map_or(t, |m| m.min(t)));
            fam.ttl_max_s = Some(fam.ttl_max_s.map_or(t, |m| m.max(t)));
        }
    }
    if let Some(s) = r.job_status {
        *out.job_statuses.entry(s).or_default() += 1;
    }
}

async fn queue_len(con: &mut redis::aio::MultiplexedConnection, deadline: Instant) -> Option<u64> {
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    pipe.cmd("EXISTS").arg(DOCUMENT_QUEUE).cmd("LLEN").arg(DOCUMENT_QUEUE);
    let r: Vec<redis::RedisResult<redis::Value>> = until(deadline, pipe.query_async(con)).await?.ok()?;
    match (r.first(), r.get(1)) {
        (Some(Ok(redis::Value::Int(1))), Some(Ok(redis::Value::Int(n)))) => u64::try_from(*n).ok(),
        _ => None,
    }
}

async fn counters(con: &mut redis::aio::MultiplexedConnection, deadline: Instant) -> Option<CacheCounters> {
    let r: (Option<String>, Option<String>) =
        until(deadline, redis::cmd("MGET").arg(CACHE_HITS).arg(CACHE_MISSES).query_async(con)).await?.ok()?;
    let num = |v: Option<String>| v.and_then(|s| s.trim().parse::<u64>().ok());
    match (num(r.0), num(r.1)) {
        (None, None) => None,
        (h, m) => Some(CacheCounters { hits: h.unwrap_or(0), misses: m.unwrap_or(0) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_goes_to_its_most_specific_family() {
        let fam = |k: &str| family_of(k.as_bytes()).map(|i| FAMILIES[i]);
        assert_eq!(fam("session:42:abc"), Some("session:*"));
        assert_eq!(fam("blacklist:access:j1"), Some("blacklist:access:*"));
        assert_eq!(fam("blacklist:refresh:j1"), Some("blacklist:refresh:*"));
        assert_eq!(fam("blacklist:j1"), Some("blacklist:*"));
        assert_eq!(fam("cache:profile:42"), Some("cache:profile:*"));
        assert_eq!(fam("cache:settings:42"), Some("cache:*"));
        assert_eq!(fam("profile:42"), Some("profile:*"));
        assert_eq!(fam("job:status:9"), Some("job:status:*"));
        assert_eq!(fam("queue:document:processing"), Some("queue:*"));
        assert_eq!(fam("metrics:cache:hits"), Some("metrics:*"));
        assert_eq!(fam("unrelated"), None);
        assert_eq!(fam("sessionx"), None);
    }

    #[test]
    fn a_job_status_is_a_short_label_or_unreadable() {
        assert_eq!(job_status(br#"{"status":"failed","error":"boom"}"#), "failed");
        assert_eq!(job_status(b"not json"), "unreadable");
        assert_eq!(job_status(br#"{"status":"a very long status that could be anything at all"}"#), "unreadable");
        assert_eq!(job_status(br#"{"status":"<script>"}"#), "unreadable");
    }
}
