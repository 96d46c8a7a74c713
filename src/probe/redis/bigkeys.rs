//! `--bigkeys`: a `SCAN` of the keyspace in bounded batches, each batch's `MEMORY USAGE` and
//! `TYPE` (and `TTL` only when some key has an expiry) run and counted inside the server by one
//! small read-only `EVAL_RO` script (one round trip per batch: the scan is bound by the server's
//! own work, not by protocol), or, where scripts are refused, pipelined alternating with `SCAN`,
//! with the same results. Apart from the probe because it is the largest part of it and runs
//! only on request; it reads nothing but the keyspace and fills [`BigKeys`].

use super::{BigKeys, BigKeysLimits, KeySize, TypeTotal, classify, parse_info};
use crate::probe::{ms, until};
use crate::redact;
use std::time::Duration;
use tokio::time::Instant;

const TOP: usize = 10;

/// Batches whose probe pipelines may be outstanding at once, the one just sent included. With
/// room for another, the `SCAN` for the next batch goes out ahead of a batch's pipeline, so the
/// server has the next pipeline queued before it runs out of work.
///
/// 1 (strictly one request at a time): measured on the benchmark's 2-core VM with a background
/// job, doctor and Redis share one CPU, so overlapping them gains no time, while a concurrent
/// client's p99 rose by about 5 ms with 4 in flight against about 2 ms with 1 (BENCHMARKS.md).
/// With the two pinned to different CPUs, 4 was about 20 % faster.
const BATCHES_IN_FLIGHT: usize = 1;

/// A request future, polled once so that its command is queued on the connection now: requests
/// go out in the order they are made, not in the order the select loop happens to poll them.
type Started<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

fn started<T: Send + 'static>(fut: impl std::future::Future<Output = T> + Send + 'static) -> Started<T> {
    let mut fut: Started<T> = Box::pin(fut);
    match futures_util::FutureExt::now_or_never(&mut fut) {
        Some(done) => Box::pin(std::future::ready(done)),
        None => fut,
    }
}

/// Ranks keys by `MEMORY USAGE` and totals them by type, in batches of `SCAN ... COUNT batch`.
///
/// Every key gets `MEMORY USAGE key` (the server's default of 5 samples per aggregate, so a huge
/// hash costs no more than a small one), `TYPE key` and `TTL key`, so `by_type` and `without_ttl`
/// are exact counts over the scanned keys, not estimates. `TTL` is left out when `INFO keyspace`,
/// read just before the scan, shows no key with an expiry in any database: every key then has
/// none, and `without_ttl` is `scanned` (a key given an expiry during the scan is missed, as are
/// keys added behind the cursor).
///
/// Two ways to ask, with the same answers (`tests/redis_live.rs` proves it on one server):
/// first [`scan_by_script`], one read-only `EVAL_RO` per batch that runs the `SCAN` and the
/// per-key commands inside the server; where the server refuses it (Redis < 7, a renamed
/// command, an ACL without scripting, any error reply) the scan goes on from the same cursor
/// with [`scan_by_pipeline`], `SCAN` alternating with one pipeline of the per-key commands.
pub(super) async fn scan_bigkeys(
    con: &mut redis::aio::MultiplexedConnection,
    limits: BigKeysLimits,
    step_timeout: Duration,
) -> BigKeys {
    let started_at = Instant::now();
    let deadline = started_at + limits.time;
    let mut out = BigKeys::default();
    let info: Option<redis::RedisResult<String>> =
        until(deadline.min(started_at + step_timeout), redis::cmd("INFO").arg("keyspace").query_async(con)).await;
    let with_ttl = match info {
        Some(Ok(text)) => parse_info(&text).total_expires() > 0,
        _ => true,
    };
    let scan = Scan { limits, with_ttl, step_timeout, deadline };
    let mut sent: u64 = 0;
    let finished = match scan_by_script(con, &scan, &mut out, &mut sent).await {
        ScriptEnd::Done { finished } => finished,
        ScriptEnd::Refused { cursor } => scan_by_pipeline(con, &scan, &mut out, cursor, sent).await,
    };
    if out.stopped.is_none() {
        if finished {
            out.complete = true;
        } else {
            out.stopped = Some(format!("stopped after {} keys (the limit)", out.scanned));
        }
    }
    out.elapsed_ms = ms(started_at.elapsed());
    out
}

/// What both ways of scanning share.
struct Scan {
    limits: BigKeysLimits,
    with_ttl: bool,
    step_timeout: Duration,
    deadline: Instant,
}

/// Keys per `EVAL_RO` call at most, whatever `--scan-count` asks: the server runs the whole
/// batch without serving anyone else, about 2.1 µs a key on the benchmark's VM (`SCAN` 0.8 µs,
/// `MEMORY USAGE` 0.4 µs, the script's own calls and tables the rest), so 256 keys block other
/// clients for about 0.55 ms (`INFO commandstats`, BENCHMARKS.md). 512 was no faster.
const SCRIPT_BATCH: u32 = 256;

/// One batch inside the server: `SCAN cursor COUNT n`, then for each key `MEMORY USAGE` (a key
/// without one counts 0 bytes), `TYPE` and, when `ARGV[4]` is `1`, `TTL` (below 0: no expiry).
/// The counting is done here too, so that the reply stays small: `{cursor, keys scanned, keys
/// without TTL, types, keys per type, bytes per type, candidates}`, the candidates being the keys
/// larger than `ARGV[3]` (the smallest of doctor's top list once it is full, else -1), flat as
/// name, bytes, type, TTL, in scan order.
///
/// Read-only by construction: run with `EVAL_RO`, the server rejects any write it would attempt,
/// and a script without a shebang runs on replicas and under `maxmemory` alike. Lua numbers are
/// doubles: byte totals of one batch stay far below 2^53.
const SCAN_SCRIPT: &str = "\
local r = redis.call('SCAN', ARGV[1], 'COUNT', ARGV[2])
local keys, floor, with_ttl = r[2], tonumber(ARGV[3]), ARGV[4] == '1'
local kinds, index, counts, bytes, big, no_ttl = {}, {}, {}, {}, {}, 0
for i = 1, #keys do
  local k = keys[i]
  local size = redis.call('MEMORY', 'USAGE', k) or 0
  if size < 0 then size = 0 end
  local kind = redis.call('TYPE', k)['ok']
  local ttl = -1
  if with_ttl then ttl = redis.call('TTL', k) end
  if ttl < 0 then no_ttl = no_ttl + 1 end
  local j = index[kind]
  if j == nil then
    j = #kinds + 1
    index[kind], kinds[j], counts[j], bytes[j] = j, kind, 0, 0
  end
  counts[j], bytes[j] = counts[j] + 1, bytes[j] + size
  if size > floor then
    local n = #big
    big[n + 1], big[n + 2], big[n + 3], big[n + 4] = k, size, kind, ttl
  end
end
return {r[1], #keys, no_ttl, kinds, counts, bytes, big}
";

/// How [`scan_by_script`] ended.
enum ScriptEnd {
    /// Finished (`finished`: the server answered cursor 0), or stopped for a reason recorded in
    /// `stopped`, or at the key limit.
    Done { finished: bool },
    /// The server answered the script with an error or an unexpected reply: nothing of the batch
    /// starting at `cursor` was counted, so the pipelined scan takes over from there.
    Refused { cursor: u64 },
}

/// The scan as one `EVAL_RO` of [`SCAN_SCRIPT`] per batch: one round trip per batch, no per-key
/// protocol on either side. Batches are necessarily one at a time (each needs the previous
/// cursor); the next one is sent before the current one is counted, so the server is not kept
/// waiting for doctor's side.
async fn scan_by_script(
    con: &mut redis::aio::MultiplexedConnection,
    scan: &Scan,
    out: &mut BigKeys,
    sent: &mut u64,
) -> ScriptEnd {
    let count = scan.limits.batch.clamp(1, SCRIPT_BATCH);
    let step = |cursor: u64, out: &BigKeys| {
        // Keys not larger than the smallest of a full top list cannot enter it.
        let floor = if out.top.len() < TOP { -1 } else { out.top.last().map_or(-1, |l| l.bytes as i64) };
        started(script_step(con.clone(), cursor, count, floor, scan.with_ttl, scan.step_timeout))
    };
    let mut cursor = 0;
    let mut pending = step(cursor, out);
    loop {
        let reply = tokio::select! {
            biased;
            r = &mut pending => r,
            () = tokio::time::sleep_until(scan.deadline) => {
                stop(out, "the scan's time budget ran out".into());
                return ScriptEnd::Done { finished: false };
            }
        };
        let batch = match reply {
            None => {
                stop(out, "a batch's SCAN/MEMORY USAGE/TYPE/TTL script got no answer before the timeout".into());
                return ScriptEnd::Done { finished: false };
            }
            // An error reply: the server is up but will not run the script here.
            Some(Err(e)) if e.code().is_some() => return ScriptEnd::Refused { cursor },
            Some(Err(e)) => {
                stop(out, format!("SCAN failed: {}", classify(&e).message));
                return ScriptEnd::Done { finished: false };
            }
            Some(Ok(value)) => match ScriptBatch::parse(value) {
                Some(b) => b,
                None => return ScriptEnd::Refused { cursor },
            },
        };
        // The counts come from the server: saturate rather than trust them not to overflow.
        *sent = sent.saturating_add(batch.scanned);
        let more = batch.cursor != 0 && *sent < scan.limits.max_keys;
        if more {
            pending = step(batch.cursor, out);
            // Let the connection's task write it before counting this batch.
            tokio::task::yield_now().await;
        }
        out.scanned = out.scanned.saturating_add(batch.scanned);
        out.without_ttl = out.without_ttl.saturating_add(batch.without_ttl);
        for (kind, keys, bytes) in batch.by_type {
            let t = out.by_type.entry(kind).or_default();
            t.keys = t.keys.saturating_add(keys);
            t.bytes = t.bytes.saturating_add(bytes);
        }
        for (key, bytes, kind, ttl) in &batch.big {
            rank(out, key, kind, *bytes, *ttl);
        }
        if !more {
            return ScriptEnd::Done { finished: batch.cursor == 0 };
        }
        cursor = batch.cursor;
    }
}

/// `EVAL_RO` of [`SCAN_SCRIPT`] for the batch at `cursor`.
async fn script_step(
    mut con: redis::aio::MultiplexedConnection,
    cursor: u64,
    count: u32,
    floor: i64,
    with_ttl: bool,
    step_timeout: Duration,
) -> Option<redis::RedisResult<redis::Value>> {
    let mut eval = redis::cmd("EVAL_RO");
    eval.arg(SCAN_SCRIPT).arg(0).arg(cursor).arg(count).arg(floor).arg(if with_ttl { "1" } else { "0" });
    until(Instant::now() + step_timeout, eval.query_async(&mut con)).await
}

/// A reply of [`SCAN_SCRIPT`], checked.
struct ScriptBatch {
    cursor: u64,
    scanned: u64,
    without_ttl: u64,
    by_type: Vec<(String, u64, u64)>,
    /// Name, bytes, type, TTL (`None`: no expiry).
    big: Vec<(Vec<u8>, u64, String, Option<i64>)>,
}

impl ScriptBatch {
    fn parse(value: redis::Value) -> Option<ScriptBatch> {
        use redis::Value::{Array, BulkString, Int, SimpleString};
        let text = |v: redis::Value| match v {
            BulkString(b) => String::from_utf8(b).ok(),
            SimpleString(s) => Some(s),
            _ => None,
        };
        let count = |v: &redis::Value| match v {
            Int(n) => u64::try_from(*n).ok(),
            _ => None,
        };
        let array = |v: redis::Value| match v {
            Array(a) => Some(a),
            _ => None,
        };
        let parts: [redis::Value; 7] = array(value)?.try_into().ok()?;
        let [cursor, scanned, without_ttl, kinds, counts, bytes, big] = parts;
        let cursor = match cursor {
            Int(n) => u64::try_from(n).ok()?,
            v => text(v)?.parse().ok()?,
        };
        let (kinds, counts, bytes) = (array(kinds)?, array(counts)?, array(bytes)?);
        if counts.len() != kinds.len() || bytes.len() != kinds.len() {
            return None;
        }
        let mut by_type = Vec::with_capacity(kinds.len());
        for ((kind, keys), b) in kinds.into_iter().zip(&counts).zip(&bytes) {
            by_type.push((text(kind)?, count(keys)?, count(b)?));
        }
        let big = array(big)?;
        if big.len() % 4 != 0 {
            return None;
        }
        let mut candidates = Vec::with_capacity(big.len() / 4);
        let mut it = big.into_iter();
        while let Some(key) = it.next() {
            let (BulkString(key), Some(b), Some(kind), Some(Int(ttl))) = (key, it.next(), it.next(), it.next()) else {
                return None;
            };
            candidates.push((key, count(&b)?, text(kind)?, (ttl >= 0).then_some(ttl)));
        }
        Some(ScriptBatch {
            cursor,
            scanned: count(&scanned)?,
            without_ttl: count(&without_ttl)?,
            by_type,
            big: candidates,
        })
    }
}

/// The scan as `SCAN` alternating with one pipeline per batch (see [`probe_batch`]), from
/// `cursor` on, `sent` keys already asked about; true when the server answered cursor 0.
///
/// `SCAN` and the batch pipelines alternate on the one connection, up to [`BATCHES_IN_FLIGHT`]
/// pipelines outstanding; the time budget is checked while waiting for any of them and each
/// request has `step_timeout`. Redis serves other clients between the commands of a pipeline
/// (it reads at most 16 KB of one client's commands per event-loop turn).
async fn scan_by_pipeline(
    con: &mut redis::aio::MultiplexedConnection,
    scan: &Scan,
    out: &mut BigKeys,
    cursor: u64,
    mut sent: u64,
) -> bool {
    use futures_util::StreamExt;
    let (limits, with_ttl, step_timeout) = (scan.limits, scan.with_ttl, scan.step_timeout);
    // The cursor of the next SCAN to send: `None` while a SCAN is on its way and after the
    // server answered cursor 0.
    let mut next_cursor: Option<u64> = Some(cursor);
    let mut finished = false;
    let mut scan_req: Option<Started<_>> = None;
    // Keys from the last SCAN whose pipeline is still to be sent.
    let mut unsent: Option<Vec<Vec<u8>>> = None;
    let mut probes = futures_util::stream::FuturesOrdered::new();
    loop {
        let outstanding = probes.len() + usize::from(unsent.is_some());
        if scan_req.is_none()
            && out.stopped.is_none()
            && outstanding < BATCHES_IN_FLIGHT
            && sent < limits.max_keys
            && let Some(cursor) = next_cursor.take()
        {
            scan_req = Some(started(scan_step(con.clone(), cursor, limits.batch, step_timeout)));
        }
        if let Some(keys) = unsent.take() {
            probes.push_back(started(probe_batch(con.clone(), keys, with_ttl, step_timeout)));
        }
        if scan_req.is_none() && probes.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            r = async { scan_req.as_mut().expect("guarded by is_some").await }, if scan_req.is_some() => {
                scan_req = None;
                match r {
                    Some(Ok((cursor, keys))) => {
                        if cursor == 0 {
                            finished = true;
                        } else {
                            next_cursor = Some(cursor);
                        }
                        sent += keys.len() as u64;
                        unsent = Some(keys);
                    }
                    Some(Err(e)) => stop(out, format!("SCAN failed: {}", classify(&e).message)),
                    None => stop(out, "SCAN got no answer before the timeout".into()),
                }
            }
            Some((keys, replies)) = probes.next() => match replies {
                Some(Ok(replies)) => tally(out, &keys, &replies, with_ttl),
                Some(Err(e)) => stop(out, format!("pipeline failed: {}", classify(&e).message)),
                None => stop(out, "a batch's MEMORY USAGE/TYPE/TTL got no answer before the timeout".into()),
            },
            () = tokio::time::sleep_until(scan.deadline) => {
                // Replies still on their way are dropped with their futures.
                stop(out, "the scan's time budget ran out".into());
                break;
            }
        }
    }
    finished
}

/// Records the first reason the scan stopped; later ones are consequences of it.
fn stop(out: &mut BigKeys, why: String) {
    out.stopped.get_or_insert(why);
}

/// `SCAN cursor COUNT count`: the next cursor and a batch of key names.
async fn scan_step(
    mut con: redis::aio::MultiplexedConnection,
    cursor: u64,
    count: u32,
    step_timeout: Duration,
) -> Option<redis::RedisResult<(u64, Vec<Vec<u8>>)>> {
    let mut scan = redis::cmd("SCAN");
    scan.arg(cursor).arg("COUNT").arg(count);
    until(Instant::now() + step_timeout, scan.query_async(&mut con)).await
}

/// One pipeline of `MEMORY USAGE`, `TYPE` and, `with_ttl`, `TTL` for each key of a batch, in that
/// order: `MEMORY USAGE` takes the cache misses that `TYPE` and `TTL` then no longer pay.
async fn probe_batch(
    mut con: redis::aio::MultiplexedConnection,
    keys: Vec<Vec<u8>>,
    with_ttl: bool,
    step_timeout: Duration,
) -> (Vec<Vec<u8>>, Option<redis::RedisResult<Vec<redis::Value>>>) {
    if keys.is_empty() {
        return (keys, Some(Ok(Vec::new())));
    }
    let mut pipe = redis::pipe();
    for k in &keys {
        pipe.cmd("MEMORY").arg("USAGE").arg(k);
        pipe.cmd("TYPE").arg(k);
        if with_ttl {
            pipe.cmd("TTL").arg(k);
        }
    }
    let replies = until(Instant::now() + step_timeout, pipe.ignore_errors().query_async(&mut con)).await;
    (keys, replies)
}

/// Adds a batch's pipelined replies (see [`probe_batch`]) to the totals and the top list.
fn tally(out: &mut BigKeys, keys: &[Vec<u8>], replies: &[redis::Value], with_ttl: bool) {
    let per_key = if with_ttl { 3 } else { 2 };
    for (k, r) in keys.iter().zip(replies.chunks_exact(per_key)) {
        tally_key(out, k, &r[1], &r[0], r.get(2));
    }
}

/// Adds one key to the totals and the top list from the answers to `TYPE`, `MEMORY USAGE` and
/// `TTL` (`None` when not asked).
fn tally_key(out: &mut BigKeys, key: &[u8], kind: &redis::Value, bytes: &redis::Value, ttl: Option<&redis::Value>) {
    let kind = match kind {
        redis::Value::SimpleString(s) => std::borrow::Cow::Borrowed(s.as_str()),
        redis::Value::BulkString(b) => String::from_utf8_lossy(b),
        _ => return,
    };
    if kind == "none" {
        return; // vanished between SCAN and TYPE
    }
    let bytes = match bytes {
        redis::Value::Int(n) if *n >= 0 => *n as u64,
        _ => 0,
    };
    let ttl = match ttl {
        Some(redis::Value::Int(n)) if *n >= 0 => Some(*n),
        _ => None,
    };
    out.scanned += 1;
    if ttl.is_none() {
        out.without_ttl += 1;
    }
    if let Some(t) = out.by_type.get_mut(kind.as_ref()) {
        t.keys += 1;
        t.bytes = t.bytes.saturating_add(bytes);
    } else {
        out.by_type.insert(kind.to_string(), TypeTotal { keys: 1, bytes });
    }
    rank(out, key, &kind, bytes, ttl);
}

/// Puts a key into the top list if it is larger than the smallest there (or the list is not
/// full). Ties keep the key seen first: both ways of scanning see the keys in the same order.
fn rank(out: &mut BigKeys, key: &[u8], kind: &str, bytes: u64, ttl: Option<i64>) {
    if out.top.len() < TOP || out.top.last().is_some_and(|l| bytes > l.bytes) {
        let name = String::from_utf8_lossy(key);
        let mut name = redact::scrub(&name);
        if name.chars().count() > 120 {
            name = name.chars().take(119).collect::<String>() + "…";
        }
        out.top.push(KeySize { key: name, kind: kind.to_owned(), bytes, ttl_s: ttl });
        out.top.sort_by_key(|k| std::cmp::Reverse(k.bytes));
        out.top.truncate(TOP);
    }
}
