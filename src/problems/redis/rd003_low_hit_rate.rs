//! RD003: low cache hit rate. Reads `keyspace_hits`/`keyspace_misses`, evictions, expirations,
//! the average TTL and the uptime. May confirm `evictions`; `ttl-too-short` and `no-warmup` are
//! suspected from expirations and a recent start; `poor-key-design` has no direct evidence and
//! is suspected only when nothing else explains the misses.

use super::skipped;
use crate::catalogue::Area;
use crate::facts::of::redis::RedisFacts;
use crate::problems::registry::{Inputs, Problem};
use crate::problems::{Ctx, percent, secs};
use crate::report::{Finding, Status, Verdict::*};
use crate::t;

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
        return skipped("RD003", f, Cause::ALL);
    };
    let mut out = Finding::new("RD003", f.target.clone());
    let lookups = info.keyspace_hits + info.keyspace_misses;
    out.fact("keyspace_hits", info.keyspace_hits);
    out.fact("keyspace_misses", info.keyspace_misses);
    out.fact("evicted_keys", info.evicted_keys);
    out.fact("expired_keys", info.expired_keys);
    if lookups < MIN_LOOKUPS {
        let why = t!("RD003/too-few-lookups", lookups = lookups);
        out.causes_all(Cause::ALL, Unchecked, why.clone());
        return out.status(Status::Ok, why);
    }
    let rate = info.keyspace_hits as f64 / lookups as f64;
    out.fact("hit_rate", (rate * 1000.0).round() / 1000.0);
    let low = rate < ctx.thresholds.redis_hit_rate_warn;
    let summary = t!("RD003/hit-rate", rate = percent(rate), hits = info.keyspace_hits, misses = info.keyspace_misses);
    if !low {
        let fine =
            t!("RD003/hit-rate-fine", rate = percent(rate), threshold = percent(ctx.thresholds.redis_hit_rate_warn));
        out.causes_all(Cause::ALL, RuledOut, fine);
        return out.status(Status::Ok, summary);
    }

    let mut explained = false;
    if info.evicted_keys > 0 {
        explained = true;
        out.cause(
            Cause::Evictions,
            Confirmed,
            t!("RD003/evicted", evicted = info.evicted_keys, policy = &info.maxmemory_policy),
        );
    } else {
        out.cause(Cause::Evictions, RuledOut, t!("RD003/none-evicted"));
    }

    let avg_ttl = info.keyspace.values().map(|k| k.avg_ttl_ms).filter(|t| *t > 0).min();
    let short = avg_ttl.is_some_and(|t| t < SHORT_TTL_MS);
    if info.expired_keys > 0 && (short || info.expired_keys * 2 >= info.keyspace_misses) {
        explained = true;
        let ttl_text = avg_ttl.map(|t| secs(t as f64 / 1000.0)).unwrap_or_else(|| "-".into());
        out.cause(
            Cause::TtlTooShort,
            Suspected,
            t!("RD003/expired-short-ttl", expired = info.expired_keys, misses = info.keyspace_misses, ttl = ttl_text),
        );
    } else {
        out.cause(
            Cause::TtlTooShort,
            RuledOut,
            t!("RD003/expiry-does-not-explain", expired = info.expired_keys, misses = info.keyspace_misses),
        );
    }

    if info.uptime_s < WARMUP_S {
        explained = true;
        out.cause(Cause::NoWarmup, Suspected, t!("RD003/started-recently", ago = secs(info.uptime_s as f64)));
    } else {
        out.cause(Cause::NoWarmup, RuledOut, t!("RD003/up-for", uptime = secs(info.uptime_s as f64)));
    }

    if explained {
        out.cause(Cause::PoorKeyDesign, Unchecked, t!("RD003/explained-otherwise"));
    } else {
        out.cause(Cause::PoorKeyDesign, Suspected, t!("RD003/unexplained-misses"));
    }
    let status = if rate < ctx.thresholds.redis_hit_rate_crit { Status::Critical } else { Status::Warning };
    out.status(status, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Thresholds;

    use crate::problems::redis::fixtures::healthy;

    fn ctx() -> Ctx {
        Ctx { thresholds: Thresholds::default() }
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
        // 17% is below the critical 60%.
        assert_eq!((d.status, d.verdict_of(Cause::Evictions)), (Status::Critical, Some(Confirmed)));
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
