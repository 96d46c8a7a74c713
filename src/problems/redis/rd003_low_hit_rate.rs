//! RD003: low cache hit rate. The rate is the **cache's**, not the keyspace's: every
//! authenticated request of the stack runs `EXISTS blacklist:access:<jti>`, a keyspace miss by
//! design, so INFO's global `keyspace_hits`/`misses` sits far below 80% on a busy healthy stack
//! while the profile cache hits every time. So the rate is read, in this order, from the profile
//! cache's own counters (user-api's `/metrics` `profile_cache_hits_total`/`misses_total`, then
//! its `metrics:cache:hits`/`misses` in Redis), else from the keyspace without the existence
//! checks and key inspections that `INFO commandstats` counts. With too few lookups in every
//! source the check is skipped: it had nothing to judge.
//!
//! Then, when the rate is low: `evictions` may be confirmed; `ttl-too-short` and `no-warmup`
//! are suspected from expirations and a recent start; `poor-key-design` has no direct evidence
//! and is suspected only when nothing else explains the misses and they are known to be reads.

use super::skipped;
use crate::catalogue::Area;
use crate::facts::of::redis::{RedisFacts, RedisInfo};
use crate::facts::of::web::MetricsFacts;
use crate::problems::registry::{Inputs, Problem};
use crate::problems::{Ctx, percent, secs};
use crate::report::{Finding, Status, Verdict::*};
use crate::t;
use crate::text::Text;

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
    let metrics = i
        .facts
        .web
        .as_ref()
        .and_then(|w| w.apis.iter().find(|a| a.service == "user-api"))
        .and_then(|a| a.metrics.as_ref());
    vec![i.timed(diagnose(rd, metrics, i.ctx), i.facts.redis_ms)]
}

/// Below this many lookups a hit rate says nothing.
const MIN_LOOKUPS: u64 = 100;
const WARMUP_S: u64 = 3600;
const SHORT_TTL_MS: u64 = 60_000;

/// Commands that look a key up only to know whether it exists: a miss is their normal answer.
const EXISTENCE_CHECKS: &[&str] = &["exists"];
/// Commands that look a key up to describe it, not to read a cached value (doctor's own scan,
/// `redis-cli --bigkeys`): nearly always hits.
const INSPECTIONS: &[&str] =
    &["ttl", "pttl", "type", "memory|usage", "object|encoding", "object|freq", "object|idletime"];

/// Where the judged rate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    UserApiMetrics,
    RedisCounters,
    /// The keyspace without the existence checks and inspections `INFO commandstats` counted.
    KeyspaceWithoutChecks,
    /// The keyspace as a whole: `INFO commandstats` said nothing, so misses may be existence checks.
    Keyspace,
}

impl Source {
    fn id(self) -> &'static str {
        match self {
            Source::UserApiMetrics => "user-api-metrics",
            Source::RedisCounters => "redis-counters",
            Source::KeyspaceWithoutChecks => "keyspace-without-existence-checks",
            Source::Keyspace => "keyspace",
        }
    }
}

#[derive(Debug, Clone)]
struct Rate {
    hits: u64,
    misses: u64,
    source: Source,
    /// How the source is named in the report.
    from: Text,
}

impl Rate {
    fn lookups(&self) -> u64 {
        self.hits.saturating_add(self.misses)
    }
    fn rate(&self) -> f64 {
        self.hits as f64 / self.lookups().max(1) as f64
    }
}

fn count(v: Option<f64>) -> Option<u64> {
    v.filter(|x| x.is_finite() && *x >= 0.0).map(|x| x as u64)
}

fn calls(info: &RedisInfo, names: &[&str]) -> u64 {
    names.iter().filter_map(|n| info.commands.get(*n)).fold(0, |a, c| a.saturating_add(*c))
}

/// What the keyspace's figures say once existence checks (taken from the misses first) and
/// inspections (from the hits first) are set aside; `None` when `INFO commandstats` said nothing.
fn keyspace_without_checks(info: &RedisInfo) -> Option<(Rate, u64, u64)> {
    if info.commands.is_empty() {
        return None;
    }
    let (exists, inspections) = (calls(info, EXISTENCE_CHECKS), calls(info, INSPECTIONS));
    let (mut hits, mut misses) = (info.keyspace_hits, info.keyspace_misses);
    let from_misses = exists.min(misses);
    misses -= from_misses;
    hits = hits.saturating_sub(exists - from_misses);
    let from_hits = inspections.min(hits);
    hits -= from_hits;
    misses = misses.saturating_sub(inspections - from_hits);
    let from = t!("RD003/source-keyspace-without-checks", exists = exists, inspections = inspections);
    Some((Rate { hits, misses, source: Source::KeyspaceWithoutChecks, from }, exists, inspections))
}

pub fn diagnose(f: &RedisFacts, metrics: Option<&MetricsFacts>, ctx: &Ctx) -> Finding {
    let Some(info) = &f.info else {
        return skipped("RD003", f, Cause::ALL);
    };
    let mut out = Finding::new("RD003", f.target.clone());
    let lookups = info.keyspace_hits.saturating_add(info.keyspace_misses);
    out.fact("keyspace_hits", info.keyspace_hits);
    out.fact("keyspace_misses", info.keyspace_misses);
    out.fact("evicted_keys", info.evicted_keys);
    out.fact("expired_keys", info.expired_keys);
    if lookups > 0 {
        out.fact("keyspace_hit_rate", round3(info.keyspace_hits as f64 / lookups as f64));
    }

    let mut candidates: Vec<Rate> = Vec::new();
    if let Some(m) = metrics {
        let (h, ms) = (count(m.profile_cache_hits), count(m.profile_cache_misses));
        if h.is_some() || ms.is_some() {
            candidates.push(Rate {
                hits: h.unwrap_or(0),
                misses: ms.unwrap_or(0),
                source: Source::UserApiMetrics,
                from: t!("RD003/source-user-api"),
            });
        }
    }
    let counters = f.app.as_ref().and_then(|a| a.families.as_ref()).and_then(|r| r.as_ref().ok());
    if let Some(c) = counters.and_then(|fam| fam.cache_counters) {
        candidates.push(Rate {
            hits: c.hits,
            misses: c.misses,
            source: Source::RedisCounters,
            from: t!("RD003/source-redis-counters"),
        });
    }
    let discounted = keyspace_without_checks(info);
    if let Some((_, exists, inspections)) = &discounted {
        out.fact("existence_checks", exists);
        out.fact("key_inspections", inspections);
    }
    match &discounted {
        Some((r, _, _)) => candidates.push(r.clone()),
        None => candidates.push(Rate {
            hits: info.keyspace_hits,
            misses: info.keyspace_misses,
            source: Source::Keyspace,
            from: t!("RD003/source-keyspace"),
        }),
    }

    let Some(judged) = candidates.iter().find(|r| r.lookups() >= MIN_LOOKUPS).cloned() else {
        // Nothing to judge: say what each source held.
        let why = match &discounted {
            Some((r, exists, _)) if lookups >= MIN_LOOKUPS && *exists > 0 => t!(
                "RD003/only-existence-checks",
                global = percent(info.keyspace_hits as f64 / lookups as f64),
                lookups = lookups,
                exists = *exists,
                left = r.lookups()
            ),
            _ => t!("RD003/too-few-lookups", lookups = candidates.iter().map(Rate::lookups).max().unwrap_or(0)),
        };
        out.causes_all(Cause::ALL, Unchecked, why.clone());
        return out.status(Status::Skipped, why);
    };
    let rate = judged.rate();
    out.fact("hit_rate", round3(rate));
    out.fact("hit_rate_source", judged.source.id());
    out.fact("hit_rate_lookups", judged.lookups());
    let summary = t!(
        "RD003/hit-rate",
        rate = percent(rate),
        hits = judged.hits,
        misses = judged.misses,
        source = judged.from.clone()
    );
    if rate >= ctx.thresholds.redis_hit_rate_warn {
        let fine =
            t!("RD003/hit-rate-fine", rate = percent(rate), threshold = percent(ctx.thresholds.redis_hit_rate_warn));
        out.causes_all(Cause::ALL, RuledOut, fine);
        return out.status(Status::Ok, summary);
    }

    let misses = judged.misses;
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
    if info.expired_keys > 0 && (short || info.expired_keys.saturating_mul(2) >= misses) {
        explained = true;
        let ttl_text = avg_ttl.map(|t| secs(t as f64 / 1000.0)).unwrap_or_else(|| "-".into());
        out.cause(
            Cause::TtlTooShort,
            Suspected,
            t!("RD003/expired-short-ttl", expired = info.expired_keys, misses = misses, ttl = ttl_text),
        );
    } else {
        out.cause(
            Cause::TtlTooShort,
            RuledOut,
            t!("RD003/expiry-does-not-explain", expired = info.expired_keys, misses = misses),
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
    } else if judged.source == Source::Keyspace {
        // The misses may all be the blacklist's existence checks: no reason to blame the keys.
        out.cause(Cause::PoorKeyDesign, Unchecked, t!("RD003/misses-may-be-existence-checks"));
    } else {
        out.cause(Cause::PoorKeyDesign, Suspected, t!("RD003/unexplained-misses"));
    }
    let status = if rate < ctx.thresholds.redis_hit_rate_crit { Status::Critical } else { Status::Warning };
    out.status(status, summary)
}

fn round3(r: f64) -> f64 {
    (r * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Thresholds;
    use crate::facts::of::redis_app::{CacheCounters, Families, RedisAppFacts};

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

    fn with_counters(mut f: RedisFacts, hits: u64, misses: u64) -> RedisFacts {
        let fam = Families { cache_counters: Some(CacheCounters { hits, misses }), ..Default::default() };
        f.app = Some(RedisAppFacts { families: Some(Ok(fam)), ..Default::default() });
        f
    }

    fn metrics(hits: f64, misses: f64) -> MetricsFacts {
        MetricsFacts { profile_cache_hits: Some(hits), profile_cache_misses: Some(misses), ..Default::default() }
    }

    /// A busy day: 9000 blacklist checks that miss, 1000 profile reads that hit.
    fn busy_day() -> RedisFacts {
        let mut f = low(1000, 9000);
        f.info.as_mut().unwrap().commands = [("exists".to_string(), 9000), ("get".to_string(), 1000)].into();
        f
    }

    #[test]
    fn healthy_is_ok() {
        let f = diagnose(&healthy(), None, &ctx());
        assert_eq!(f.status, Status::Ok);
        assert!(f.causes.iter().all(|c| c.verdict == RuledOut));
    }

    #[test]
    fn the_caches_own_counters_are_judged_before_the_keyspace() {
        let f = with_counters(busy_day(), 990, 10);
        let d = diagnose(&f, None, &ctx());
        assert_eq!(d.status, Status::Ok, "{}", d.summary.en());
        assert_eq!(d.evidence["hit_rate_source"], "redis-counters");
        assert!(d.summary.en().contains("hit rate 99%") && d.summary.en().contains("metrics:cache:hits"));
        // user-api's /metrics comes first, and says otherwise here.
        let d = diagnose(&f, Some(&metrics(100.0, 400.0)), &ctx());
        assert_eq!((d.status, d.evidence["hit_rate_source"].as_str()), (Status::Critical, Some("user-api-metrics")));
        assert!(d.summary.en().contains("profile_cache_hits_total"), "{}", d.summary.en());
    }

    #[test]
    fn existence_checks_are_set_aside() {
        let d = diagnose(&busy_day(), None, &ctx());
        assert_eq!(d.status, Status::Ok, "{}", d.summary.en());
        assert_eq!(d.evidence["hit_rate_source"], "keyspace-without-existence-checks");
        assert_eq!(d.evidence["keyspace_hit_rate"], 0.1);
        assert!(d.summary.en().starts_with("hit rate 100% (1000 hits, 0 misses)"), "{}", d.summary.en());
        assert!(d.summary.en().contains("9000 existence checks"), "{}", d.summary.en());
    }

    #[test]
    fn a_keyspace_of_existence_checks_only_has_nothing_to_judge() {
        let mut f = low(0, 5000);
        f.info.as_mut().unwrap().commands = [("exists".to_string(), 5000)].into();
        let d = diagnose(&f, None, &ctx());
        assert_eq!(d.status, Status::Skipped);
        assert!(d.summary.en().contains("5000 existence checks"), "{}", d.summary.en());
        assert!(d.causes.iter().all(|c| c.verdict == Unchecked));
    }

    #[test]
    fn low_counters_fall_through_to_the_next_source() {
        let f = with_counters(busy_day(), 3, 1);
        let d = diagnose(&f, Some(&metrics(0.0, 0.0)), &ctx());
        assert_eq!(d.evidence["hit_rate_source"], "keyspace-without-existence-checks");
    }

    #[test]
    fn evictions_are_confirmed() {
        let mut f = low(100, 500);
        f.info.as_mut().unwrap().evicted_keys = 500;
        let d = diagnose(&f, None, &ctx());
        // 17% is below the critical 60%.
        assert_eq!((d.status, d.verdict_of(Cause::Evictions)), (Status::Critical, Some(Confirmed)));
        assert!(d.summary.en().starts_with("hit rate 17%"), "{}", d.summary.en());
    }

    #[test]
    fn between_the_thresholds_is_a_warning() {
        let d = diagnose(&with_counters(healthy(), 700, 300), None, &ctx());
        assert_eq!(d.status, Status::Warning);
    }

    #[test]
    fn short_ttls_are_suspected() {
        let mut f = low(100, 500);
        let i = f.info.as_mut().unwrap();
        i.expired_keys = 400;
        i.keyspace.get_mut("db0").unwrap().avg_ttl_ms = 5000;
        assert_eq!(diagnose(&f, None, &ctx()).verdict_of(Cause::TtlTooShort), Some(Suspected));
    }

    #[test]
    fn a_fresh_start_suspects_no_warmup() {
        let mut f = low(100, 500);
        f.info.as_mut().unwrap().uptime_s = 120;
        assert_eq!(diagnose(&f, None, &ctx()).verdict_of(Cause::NoWarmup), Some(Suspected));
    }

    #[test]
    fn unexplained_misses_suspect_key_design_only_when_they_are_reads() {
        let mut f = low(100, 500);
        f.info.as_mut().unwrap().commands = [("get".to_string(), 600)].into();
        assert_eq!(diagnose(&f, None, &ctx()).verdict_of(Cause::PoorKeyDesign), Some(Suspected));
        // Without commandstats the misses may be the blacklist's EXISTS: not the keys' fault.
        let d = diagnose(&low(100, 500), None, &ctx());
        assert_eq!(d.verdict_of(Cause::PoorKeyDesign), Some(Unchecked));
        assert_eq!(d.status, Status::Critical);
    }

    #[test]
    fn too_few_lookups_have_nothing_to_judge() {
        let d = diagnose(&low(1, 5), None, &ctx());
        assert_eq!(d.status, Status::Skipped);
        assert!(d.summary.en().contains("nothing to judge"), "{}", d.summary.en());
        assert!(d.causes.iter().all(|c| c.verdict == Unchecked));
    }
}
