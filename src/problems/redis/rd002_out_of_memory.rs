//! RD002: Redis out of memory. Reads `used_memory` against `maxmemory`, the eviction policy,
//! the count of `-OOM` replies already sent (`errorstat_OOM`: proof without writing anything),
//! keys without TTL from the keyspace, and with `--bigkeys` the largest keys. May confirm
//! every cause; `big-keys` stays `unchecked` without `--bigkeys`.

use super::skipped;
use crate::catalogue::Area;
use crate::probe::redis::RedisFacts;
use crate::problems::registry::{Inputs, Problem};
use crate::problems::{Ctx, bytes, percent};
use crate::report::{Finding, Status, Verdict::*};

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
        return skipped("RD002", f, ctx, Cause::ALL);
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
    let near = usage.is_some_and(|u| u >= warn);
    let noeviction = info.maxmemory_policy == "noeviction";
    let volatile = info.maxmemory_policy.starts_with("volatile");
    let keys = info.total_keys();
    let no_ttl = keys.saturating_sub(info.total_expires());
    // Under a volatile-* policy only keys with a TTL can go; without any, it is noeviction.
    let cannot_evict = noeviction || (volatile && info.total_expires() == 0);

    let status = if info.oom_errors > 0 && (near || cannot_evict) || (full && cannot_evict) {
        Status::Critical
    } else if near || info.oom_errors > 0 {
        Status::Warning
    } else {
        Status::Ok
    };
    let mem = match usage {
        Some(u) => ctx.tr(
            format!("{} used of maxmemory {} ({})", bytes(info.used_memory), bytes(info.maxmemory), percent(u)),
            format!("maxmemory {} のうち {} を使用（{}）", bytes(info.maxmemory), bytes(info.used_memory), percent(u)),
        ),
        None => ctx.tr(
            format!("{} used; no maxmemory set", bytes(info.used_memory)),
            format!("使用量 {}。maxmemory は未設定", bytes(info.used_memory)),
        ),
    };
    let mut summary = ctx
        .tr(format!("{mem}; policy {}", info.maxmemory_policy), format!("{mem}。ポリシー {}", info.maxmemory_policy));
    if info.oom_errors > 0 {
        summary = ctx.tr(
            format!("{summary}; {} writes already refused with OOM", info.oom_errors),
            format!("{summary}。OOM で拒否された書き込みが既に {} 件", info.oom_errors),
        );
    }

    // maxmemory-too-low
    match usage {
        Some(u) if u >= warn => out.cause(Cause::MaxmemoryTooLow, Confirmed, mem.clone()),
        Some(_) => out.cause(Cause::MaxmemoryTooLow, RuledOut, mem.clone()),
        None => out.cause(
            Cause::MaxmemoryTooLow,
            RuledOut,
            ctx.tr(
                "no maxmemory: Redis is bounded only by the container's memory limit",
                "maxmemory 未設定: 上限はコンテナのメモリ制限のみ",
            ),
        ),
    }

    // no-eviction-policy
    let policy_text = if volatile && info.total_expires() == 0 {
        ctx.tr(
            format!("maxmemory-policy {} evicts only keys with a TTL, and no key has one", info.maxmemory_policy),
            format!(
                "maxmemory-policy {} は TTL 付きのキーしか削除しないが、TTL 付きのキーがない",
                info.maxmemory_policy
            ),
        )
    } else {
        ctx.tr(
            format!(
                "maxmemory-policy is {}: at the limit, writes fail with OOM instead of evicting",
                info.maxmemory_policy
            ),
            format!(
                "maxmemory-policy が {}: 上限到達時はキーを削除せず書き込みが OOM で失敗する",
                info.maxmemory_policy
            ),
        )
    };
    if cannot_evict && (near || info.oom_errors > 0) {
        out.cause(Cause::NoEvictionPolicy, Confirmed, policy_text);
    } else if cannot_evict {
        out.cause(
            Cause::NoEvictionPolicy,
            RuledOut,
            ctx.tr(
                format!("policy {}, but memory is not near the limit yet", info.maxmemory_policy),
                format!("ポリシーは {} だが、まだ上限に近くない", info.maxmemory_policy),
            ),
        );
    } else {
        out.cause(
            Cause::NoEvictionPolicy,
            RuledOut,
            ctx.tr(
                format!("policy {} evicts keys at the limit", info.maxmemory_policy),
                format!("ポリシー {} は上限到達時にキーを削除する", info.maxmemory_policy),
            ),
        );
    }

    // big-keys
    match &f.bigkeys {
        Some(b) => {
            out.fact("bigkeys", b);
            let floor = ((info.used_memory as f64 * BIG_KEY_SHARE) as u64).clamp(1 << 20, BIG_KEY_BYTES);
            let scope = if b.complete {
                ctx.tr(format!("all {} keys scanned", b.scanned), format!("全 {} キーを走査", b.scanned))
            } else {
                ctx.tr(
                    format!("{} keys scanned ({})", b.scanned, b.stopped.as_deref().unwrap_or("stopped early")),
                    format!("{} キーを走査（{}）", b.scanned, b.stopped.as_deref().unwrap_or("途中で終了")),
                )
            };
            let big: Vec<String> = b
                .top
                .iter()
                .filter(|k| k.bytes >= floor)
                .take(3)
                .map(|k| format!("{} ({}, {})", k.key, k.kind, bytes(k.bytes)))
                .collect();
            if !big.is_empty() {
                out.cause(Cause::BigKeys, Confirmed, format!("{}; {scope}", big.join(", ")));
            } else {
                let largest = b
                    .top
                    .first()
                    .map(|k| format!("{} ({}, {})", k.key, k.kind, bytes(k.bytes)))
                    .unwrap_or_else(|| "-".into());
                out.cause(
                    Cause::BigKeys,
                    if b.complete { RuledOut } else { Unchecked },
                    ctx.tr(format!("largest key {largest}; {scope}"), format!("最大のキー {largest}。{scope}")),
                );
            }
        }
        None => out.cause(
            Cause::BigKeys,
            Unchecked,
            ctx.tr(
                "run `doctor redis --bigkeys` to rank keys by memory",
                "`doctor redis --bigkeys` でメモリ使用量の大きいキーを確認",
            ),
        ),
    }

    // keys-without-ttl
    if keys == 0 {
        out.cause(Cause::KeysWithoutTtl, RuledOut, ctx.tr("the keyspace is empty", "キーが存在しない"));
    } else {
        let share = no_ttl as f64 / keys as f64;
        let text = ctx.tr(
            format!("{no_ttl} of {keys} keys ({}) never expire", percent(share)),
            format!("{keys} キー中 {no_ttl}（{}）に有効期限がない", percent(share)),
        );
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
    use crate::lang::Lang;
    use crate::probe::redis::{BigKeys, KeySize, Keyspace, RedisErrorKind};
    use crate::problems::redis::fixtures::{failed, healthy};

    fn ctx() -> Ctx {
        Ctx { lang: Lang::En, thresholds: Thresholds::default() }
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
