//! RD002: Redis out of memory. Reads `used_memory` against `maxmemory`, the eviction policy,
//! the count of `-OOM` replies already sent (`errorstat_OOM`: proof without writing anything),
//! keys without TTL from the keyspace, and with `--bigkeys` the largest keys. May confirm
//! every cause; `big-keys` stays `unchecked` without `--bigkeys`.

use super::skipped;
use crate::catalogue::Area;
use crate::facts::of::redis::RedisFacts;
use crate::problems::registry::{Inputs, Problem};
use crate::problems::{Ctx, bytes, percent};
use crate::report::{Finding, Status, Verdict::*};
use crate::t;
use crate::text::{Sep, Text};

crate::causes! {
    MaxmemoryTooLow = "maxmemory-too-low",
    NoEvictionPolicy = "no-eviction-policy",
    BigKeys = "big-keys",
    KeysWithoutTtl = "keys-without-ttl",
}

pub static PROBLEM: Problem = Problem {
    code: "RD002",
    areas: &[Area::Redis],
    runbook: crate::runbook!("redis/RD002-out-of-memory.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let Some(rd) = &i.facts.redis else { return vec![] };
    vec![i.timed(diagnose(rd, i.ctx), i.facts.redis_ms)]
}

/// A key is "big" from 10% of used memory or 10 MB, whichever is smaller (and at least 1 MB).
const BIG_KEY_SHARE: f64 = 0.1;
const BIG_KEY_BYTES: u64 = 10 << 20;

pub fn diagnose(f: &RedisFacts, ctx: &Ctx) -> Finding {
    let Some(info) = &f.info else {
        return skipped("RD002", f, Cause::ALL);
    };
    let mut out = Finding::new("RD002", f.target.clone());
    out.fact("used_memory", info.used_memory);
    out.fact("maxmemory", info.maxmemory);
    out.fact("maxmemory_policy", &info.maxmemory_policy);
    out.fact("mem_fragmentation_ratio", info.fragmentation_ratio);
    out.fact("oom_errors", info.oom_errors);
    let usage = if info.maxmemory > 0 { Some(info.used_memory as f64 / info.maxmemory as f64) } else { None };
    let warn = ctx.thresholds.redis_memory_warn;
    let full = usage.is_some_and(|u| u >= 1.0);
    // At the critical share a Redis that cannot evict is about to refuse writes; one that
    // evicts is doing its job, so it stays a warning.
    let over_crit = usage.is_some_and(|u| u >= ctx.thresholds.redis_memory_crit);
    let near = usage.is_some_and(|u| u >= warn);
    let noeviction = info.maxmemory_policy == "noeviction";
    let volatile = info.maxmemory_policy.starts_with("volatile");
    let keys = info.total_keys();
    let no_ttl = keys.saturating_sub(info.total_expires());
    // Under a volatile-* policy only keys with a TTL can go; without any, it is noeviction.
    let cannot_evict = noeviction || (volatile && info.total_expires() == 0);

    let status = if info.oom_errors > 0 && (near || cannot_evict) || ((full || over_crit) && cannot_evict) {
        Status::Critical
    } else if near || info.oom_errors > 0 {
        Status::Warning
    } else {
        Status::Ok
    };
    let mem = match usage {
        Some(u) => t!(
            "RD002/memory-used",
            used = bytes(info.used_memory),
            maxmemory = bytes(info.maxmemory),
            share = percent(u)
        ),
        None => t!("RD002/memory-used-no-limit", used = bytes(info.used_memory)),
    };
    let mut summary = t!("RD002/memory-and-policy", memory = mem.clone(), policy = &info.maxmemory_policy);
    if info.oom_errors > 0 {
        summary = t!("RD002/also-oom-refusals", summary = summary, count = info.oom_errors);
    }

    // maxmemory-too-low
    match usage {
        Some(u) if u >= warn => out.cause(Cause::MaxmemoryTooLow, Confirmed, mem.clone()),
        Some(_) => out.cause(Cause::MaxmemoryTooLow, RuledOut, mem.clone()),
        None => out.cause(Cause::MaxmemoryTooLow, RuledOut, t!("RD002/no-maxmemory")),
    }

    // no-eviction-policy
    let policy_text = if volatile && info.total_expires() == 0 {
        t!("RD002/volatile-without-ttls", policy = &info.maxmemory_policy)
    } else {
        t!("RD002/writes-fail-at-limit", policy = &info.maxmemory_policy)
    };
    if cannot_evict && (near || info.oom_errors > 0) {
        out.cause(Cause::NoEvictionPolicy, Confirmed, policy_text);
    } else if cannot_evict {
        out.cause(
            Cause::NoEvictionPolicy,
            RuledOut,
            t!("RD002/policy-not-near-limit", policy = &info.maxmemory_policy),
        );
    } else {
        out.cause(Cause::NoEvictionPolicy, RuledOut, t!("RD002/policy-evicts", policy = &info.maxmemory_policy));
    }

    // big-keys
    match &f.bigkeys {
        Some(b) => {
            out.fact("bigkeys", b);
            let floor = ((info.used_memory as f64 * BIG_KEY_SHARE) as u64).clamp(1 << 20, BIG_KEY_BYTES);
            let scope = if b.complete {
                t!("RD002/all-keys-scanned", scanned = b.scanned)
            } else {
                let why = b.stopped.as_ref().map_or_else(|| t!("RD002/stopped-early"), Text::from);
                t!("RD002/keys-scanned", scanned = b.scanned, why = why)
            };
            let big: Vec<String> = b
                .top
                .iter()
                .filter(|k| k.bytes >= floor)
                .take(3)
                .map(|k| format!("{} ({}, {})", k.key, k.kind, bytes(k.bytes)))
                .collect();
            if !big.is_empty() {
                out.cause(Cause::BigKeys, Confirmed, Text::join([big.join(", ").into(), scope], Sep::Clauses));
            } else {
                let largest = b
                    .top
                    .first()
                    .map(|k| format!("{} ({}, {})", k.key, k.kind, bytes(k.bytes)))
                    .unwrap_or_else(|| "-".into());
                out.cause(
                    Cause::BigKeys,
                    if b.complete { RuledOut } else { Unchecked },
                    t!("RD002/largest-key", largest = largest, scope = scope),
                );
            }
        }
        None => out.cause(Cause::BigKeys, Unchecked, t!("RD002/run-bigkeys")),
    }

    // keys-without-ttl
    if keys == 0 {
        out.cause(Cause::KeysWithoutTtl, RuledOut, t!("RD002/keyspace-empty"));
    } else {
        let share = no_ttl as f64 / keys as f64;
        let text = t!("RD002/keys-without-ttl", no_ttl = no_ttl, keys = keys, share = percent(share));
        out.fact("keys", keys);
        out.fact("keys_without_ttl", no_ttl);
        let verdict = if status != Status::Ok && share >= 0.5 { Confirmed } else { RuledOut };
        out.cause(Cause::KeysWithoutTtl, verdict, text);
    }
    out.status(status, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Thresholds;

    use crate::facts::of::redis::{BigKeys, KeySize, Keyspace, RedisErrorKind};
    use crate::problems::redis::fixtures::{failed, healthy};

    fn ctx() -> Ctx {
        Ctx { thresholds: Thresholds::default() }
    }

    #[test]
    fn healthy_is_ok() {
        let f = diagnose(&healthy(), &ctx());
        assert_eq!(f.status, Status::Ok);
        assert_eq!(f.verdict_of(Cause::BigKeys), Some(Unchecked));
        assert!(f.causes.iter().filter(|c| c.id != "big-keys").all(|c| c.verdict == RuledOut));
    }

    #[test]
    fn full_under_noeviction_confirms_policy_and_limit() {
        let mut facts = healthy();
        let i = facts.info.as_mut().unwrap();
        i.maxmemory = 2 << 20;
        i.used_memory = (2 << 20) + 4096;
        i.maxmemory_policy = "noeviction".into();
        i.oom_errors = 12;
        i.keyspace.insert("db0".into(), Keyspace { keys: 400, expires: 0, avg_ttl_ms: 0 });
        let f = diagnose(&facts, &ctx());
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.verdict_of(Cause::NoEvictionPolicy), Some(Confirmed));
        assert_eq!(f.verdict_of(Cause::MaxmemoryTooLow), Some(Confirmed));
        assert_eq!(f.verdict_of(Cause::KeysWithoutTtl), Some(Confirmed));
        assert!(f.summary.en().contains("12 writes already refused"), "{}", f.summary.en());
    }

    #[test]
    fn volatile_policy_without_ttls_is_as_bad_as_noeviction() {
        let mut facts = healthy();
        let i = facts.info.as_mut().unwrap();
        i.maxmemory = 100;
        i.used_memory = 99;
        i.maxmemory_policy = "volatile-lru".into();
        i.keyspace.insert("db0".into(), Keyspace { keys: 10, expires: 0, avg_ttl_ms: 0 });
        let f = diagnose(&facts, &ctx());
        assert_eq!(f.verdict_of(Cause::NoEvictionPolicy), Some(Confirmed));
    }

    #[test]
    fn big_keys_are_confirmed_from_the_scan() {
        let mut facts = healthy();
        facts.bigkeys = Some(BigKeys {
            scanned: 1000,
            complete: true,
            top: vec![KeySize { key: "cache:all".into(), kind: "hash".into(), bytes: 5 << 20, ttl_s: None }],
            ..Default::default()
        });
        let f = diagnose(&facts, &ctx());
        assert_eq!(f.verdict_of(Cause::BigKeys), Some(Confirmed));
        assert!(f.causes.iter().any(|c| c.evidence.en().contains("cache:all (hash, 5.0 MB)")));
    }

    #[test]
    fn no_connection_skips() {
        let f = diagnose(&failed(RedisErrorKind::Refused, "r"), &ctx());
        assert_eq!(f.status, Status::Skipped);
    }
}
