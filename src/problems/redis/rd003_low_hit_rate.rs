//! RD003: low cache hit rate. Reads `keyspace_hits`/`keyspace_misses`, evictions, expirations,
//! the average TTL and the uptime. May confirm `evictions`; `ttl-too-short` and `no-warmup` are
//! suspected from expirations and a recent start; `poor-key-design` has no direct evidence and
//! is suspected only when nothing else explains the misses.

use super::skipped;
use crate::catalogue::Area;
use crate::probe::redis::RedisFacts;
use crate::problems::registry::{Inputs, Problem};
use crate::problems::{Ctx, percent, secs};
use crate::report::{Finding, Status, Verdict::*};

crate::causes! {
    TtlTooShort = "ttl-too-short",
    NoWarmup = "no-warmup",
    PoorKeyDesign = "poor-key-design",
    Evictions = "evictions",
}

pub static PROBLEM: Problem = Problem {
    code: "RD003",
    areas: &[Area::Redis],
    runbook: crate::runbook!("redis/RD003-low-hit-rate.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let Some(rd) = &i.facts.redis else { return vec![] };
    vec![i.timed(diagnose(rd, i.ctx), i.facts.redis_ms)]
}

/// Below this many lookups a hit rate says nothing.
const MIN_LOOKUPS: u64 = 100;
const WARMUP_S: u64 = 3600;
const SHORT_TTL_MS: u64 = 60_000;

pub fn diagnose(f: &RedisFacts, ctx: &Ctx) -> Finding {
    let Some(info) = &f.info else {
        return skipped("RD003", f, ctx, Cause::ALL);
    };
    let mut out = Finding::new("RD003", f.target.clone());
    let lookups = info.keyspace_hits + info.keyspace_misses;
    out.fact("keyspace_hits", info.keyspace_hits);
    out.fact("keyspace_misses", info.keyspace_misses);
    out.fact("evicted_keys", info.evicted_keys);
    out.fact("expired_keys", info.expired_keys);
    if lookups < MIN_LOOKUPS {
        let why = ctx.tr(
            format!("only {lookups} lookups since the start: too few to judge a hit rate"),
            format!("起動以降の参照は {lookups} 回のみ: ヒット率を判断するには少なすぎる"),
        );
        out.causes_all(Cause::ALL, Unchecked, &why);
        return out.status(Status::Ok, why);
    }
    let rate = info.keyspace_hits as f64 / lookups as f64;
    out.fact("hit_rate", (rate * 1000.0).round() / 1000.0);
    let low = rate < ctx.thresholds.redis_hit_rate_warn;
    let summary = ctx.tr(
        format!("hit rate {} ({} hits, {} misses)", percent(rate), info.keyspace_hits, info.keyspace_misses),
        format!("ヒット率 {}（ヒット {}、ミス {}）", percent(rate), info.keyspace_hits, info.keyspace_misses),
    );
    if !low {
        let fine = ctx.tr(
            format!("hit rate {} is above {}", percent(rate), percent(ctx.thresholds.redis_hit_rate_warn)),
            format!("ヒット率 {} は基準 {} 以上", percent(rate), percent(ctx.thresholds.redis_hit_rate_warn)),
        );
        out.causes_all(Cause::ALL, RuledOut, &fine);
        return out.status(Status::Ok, summary);
    }

    let mut explained = false;
    if info.evicted_keys > 0 {
        explained = true;
        out.cause(
            Cause::Evictions,
            Confirmed,
            ctx.tr(
                format!("{} keys evicted for lack of memory (policy {})", info.evicted_keys, info.maxmemory_policy),
                format!("メモリ不足で {} キーが削除された（ポリシー {}）", info.evicted_keys, info.maxmemory_policy),
            ),
        );
    } else {
        out.cause(Cause::Evictions, RuledOut, ctx.tr("no key was evicted", "削除（eviction）されたキーはない"));
    }

    let avg_ttl = info.keyspace.values().map(|k| k.avg_ttl_ms).filter(|t| *t > 0).min();
    let short = avg_ttl.is_some_and(|t| t < SHORT_TTL_MS);
    if info.expired_keys > 0 && (short || info.expired_keys * 2 >= info.keyspace_misses) {
        explained = true;
        let ttl_text = avg_ttl.map(|t| secs(t as f64 / 1000.0)).unwrap_or_else(|| "-".into());
        out.cause(
            Cause::TtlTooShort,
            Suspected,
            ctx.tr(
                format!(
                    "{} keys expired against {} misses; average remaining TTL {ttl_text}",
                    info.expired_keys, info.keyspace_misses
                ),
                format!(
                    "期限切れ {} キーに対しミス {}。残り TTL の平均 {ttl_text}",
                    info.expired_keys, info.keyspace_misses
                ),
            ),
        );
    } else {
        out.cause(
            Cause::TtlTooShort,
            RuledOut,
            ctx.tr(
                format!(
                    "{} keys expired against {} misses: expiry does not explain them",
                    info.expired_keys, info.keyspace_misses
                ),
                format!(
                    "期限切れ {} キーに対しミス {}: 期限切れでは説明できない",
                    info.expired_keys, info.keyspace_misses
                ),
            ),
        );
    }

    if info.uptime_s < WARMUP_S {
        explained = true;
        out.cause(
            Cause::NoWarmup,
            Suspected,
            ctx.tr(
                format!("Redis started {} ago: the cache is still filling", secs(info.uptime_s as f64)),
                format!("Redis は {} 前に起動: キャッシュがまだ温まっていない", secs(info.uptime_s as f64)),
            ),
        );
    } else {
        out.cause(
            Cause::NoWarmup,
            RuledOut,
            ctx.tr(
                format!("up for {}", secs(info.uptime_s as f64)),
                format!("稼働時間 {}", secs(info.uptime_s as f64)),
            ),
        );
    }

    if explained {
        out.cause(
            Cause::PoorKeyDesign,
            Unchecked,
            ctx.tr(
                "no direct evidence; other causes explain the misses",
                "直接の証拠はない。他の原因でミスを説明できる",
            ),
        );
    } else {
        out.cause(
            Cause::PoorKeyDesign,
            Suspected,
            ctx.tr(
                "misses are not explained by evictions, expiry or a recent start: keys may be looked up under names that are never written",
                "削除・期限切れ・再起動ではミスを説明できない: 書き込まれないキー名で参照している可能性",
            ),
        );
    }
    out.status(Status::Warning, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Thresholds;
    use crate::lang::Lang;
    use crate::problems::redis::fixtures::healthy;

    fn ctx() -> Ctx {
        Ctx { lang: Lang::En, thresholds: Thresholds::default() }
    }

    fn low(hits: u64, misses: u64) -> RedisFacts {
        let mut f = healthy();
        let i = f.info.as_mut().unwrap();
        i.keyspace_hits = hits;
        i.keyspace_misses = misses;
        f
    }

    #[test]
    fn healthy_is_ok() {
        let f = diagnose(&healthy(), &ctx());
        assert_eq!(f.status, Status::Ok);
        assert!(f.causes.iter().all(|c| c.verdict == RuledOut));
    }

    #[test]
    fn evictions_are_confirmed() {
        let mut f = low(100, 500);
        f.info.as_mut().unwrap().evicted_keys = 500;
        let d = diagnose(&f, &ctx());
        assert_eq!((d.status, d.verdict_of(Cause::Evictions)), (Status::Warning, Some(Confirmed)));
        assert!(d.summary.en().starts_with("hit rate 17%"), "{}", d.summary.en());
    }

    #[test]
    fn short_ttls_are_suspected() {
        let mut f = low(100, 500);
        let i = f.info.as_mut().unwrap();
        i.expired_keys = 400;
        i.keyspace.get_mut("db0").unwrap().avg_ttl_ms = 5000;
        assert_eq!(diagnose(&f, &ctx()).verdict_of(Cause::TtlTooShort), Some(Suspected));
    }

    #[test]
    fn a_fresh_start_suspects_no_warmup() {
        let mut f = low(100, 500);
        f.info.as_mut().unwrap().uptime_s = 120;
        assert_eq!(diagnose(&f, &ctx()).verdict_of(Cause::NoWarmup), Some(Suspected));
    }

    #[test]
    fn unexplained_misses_suspect_key_design() {
        let d = diagnose(&low(100, 500), &ctx());
        assert_eq!(d.verdict_of(Cause::PoorKeyDesign), Some(Suspected));
    }

    #[test]
    fn too_few_lookups_say_so() {
        let d = diagnose(&low(1, 5), &ctx());
        assert_eq!(d.status, Status::Ok);
        assert!(d.causes.iter().all(|c| c.verdict == Unchecked));
    }
}
