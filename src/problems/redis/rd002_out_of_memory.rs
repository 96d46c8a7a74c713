//! RD002: Redis out of memory. Reads `used_memory` against `maxmemory`, the eviction policy,
//! the count of `-OOM` replies already sent (`errorstat_OOM`: proof without writing anything),
//! keys without TTL from the keyspace, and with `--bigkeys` the largest keys. May confirm
//! every cause; `big-keys` stays `unchecked` without `--bigkeys`. From the engine and the
//! stack's keys (`memory_limit.rs`): `maxmemory` against the redis container's memory limit, an
//! OOM kill, what a kill loses as Redis persists, and a failed background save.

use super::memory_limit;
use super::skipped;
use crate::catalogue::Area;
use crate::facts::of::redis::RedisFacts;
use crate::facts::of::redis_app::RedisAppFacts;
use crate::problems::engine::DockerView;
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
    MaxmemoryOverContainerLimit = "maxmemory-over-container-limit",
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
    vec![i.timed(diagnose(rd, &i.docker, i.ctx), i.facts.redis_ms)]
}

/// A key is "big" from 10% of used memory or 10 MB, whichever is smaller (and at least 1 MB).
const BIG_KEY_SHARE: f64 = 0.1;
const BIG_KEY_BYTES: u64 = 10 << 20;

pub fn diagnose(f: &RedisFacts, docker: &DockerView, ctx: &Ctx) -> Finding {
    let Some(info) = &f.info else {
        return skipped("RD002", f, Cause::ALL);
    };
    let app = f.app.as_ref();
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

    let mut status = if info.oom_errors > 0 && (near || cannot_evict) || ((full || over_crit) && cannot_evict) {
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
        let mut text = t!("RD002/policy-evicts", policy = &info.maxmemory_policy);
        if info.maxmemory_policy.starts_with("allkeys") {
            text = Text::join([text, allkeys_evicts(&info.maxmemory_policy, app)], Sep::Clauses);
        }
        out.cause(Cause::NoEvictionPolicy, RuledOut, text);
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

    // maxmemory-over-container-limit, and what happens outside Redis: a kill, a failed save.
    let limit = memory_limit::judge(info, app, docker, ctx);
    if let Some(l) = limit.limit {
        out.fact("container_memory_limit", l);
    }
    let mut evidence = limit.evidence;
    let bgsave = memory_limit::bgsave(info, app);
    if bgsave.is_some() && matches!(limit.verdict, Confirmed | Suspected) {
        evidence = Text::join([evidence, t!("RD002/fork-needs-room")], Sep::Clauses);
    }
    out.cause(Cause::MaxmemoryOverContainerLimit, limit.verdict, evidence);
    persistence_facts(&mut out, app);
    out.fact("misconf_errors", info.misconf_errors);
    for (s, text) in limit.summary.map(|t| (limit.status, t)).into_iter().chain(bgsave) {
        status = status.max(s);
        summary = Text::join([summary, text], Sep::Clauses);
    }
    out.status(status, summary)
}

/// What an `allkeys-*` policy would evict here: the stack's sessions and blacklist entries
/// have TTLs and are no cache; `volatile-ttl` (the spec's policy) picks the soonest to expire.
fn allkeys_evicts(policy: &str, app: Option<&RedisAppFacts>) -> Text {
    match app.and_then(|a| a.families.as_ref()).and_then(|r| r.as_ref().ok()) {
        Some(f) => {
            let blacklist =
                ["blacklist:access:*", "blacklist:refresh:*", "blacklist:*"].iter().map(|p| f.count(p)).sum::<u64>();
            t!("RD002/allkeys-evicts", policy = policy, sessions = f.count("session:*"), blacklist = blacklist)
        }
        None => t!("RD002/allkeys-evicts-uncounted", policy = policy),
    }
}

/// How Redis persists, for scripts: `aof`, `rdb` or `none`, the last save's status and age.
fn persistence_facts(out: &mut Finding, app: Option<&RedisAppFacts>) {
    let Some(app) = app else { return };
    if let Some(Ok(p)) = &app.persistence {
        let mode = if p.appendonly == "yes" {
            "aof"
        } else if p.off() {
            "none"
        } else {
            "rdb"
        };
        out.fact("persistence", mode);
    }
    if let Some(Ok(i)) = &app.persistence_info {
        if !i.rdb_last_bgsave_status.is_empty() {
            out.fact("rdb_last_bgsave_status", &i.rdb_last_bgsave_status);
        }
        if let Some(a) = i.last_save_age_s {
            out.fact("last_save_age_s", a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Thresholds;

    use crate::facts::of::docker::ContainerFacts;
    use crate::facts::of::redis::{BigKeys, KeySize, Keyspace, RedisErrorKind};
    use crate::facts::of::redis_app::{Families, KeyFamily, Persistence, PersistenceInfo};
    use crate::problems::fixtures::{engine, running, stats, view};
    use crate::problems::redis::fixtures::{failed, healthy};

    fn ctx() -> Ctx {
        Ctx { thresholds: Thresholds::default() }
    }

    #[test]
    fn healthy_is_ok() {
        let f = diagnose(&healthy(), &DockerView::none(), &ctx());
        assert_eq!(f.status, Status::Ok);
        assert_eq!(f.verdict_of(Cause::BigKeys), Some(Unchecked));
        assert_eq!(f.verdict_of(Cause::MaxmemoryOverContainerLimit), Some(Unchecked));
        assert!(
            f.causes
                .iter()
                .filter(|c| !["big-keys", "maxmemory-over-container-limit"].contains(&c.id))
                .all(|c| c.verdict == RuledOut)
        );
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
        let f = diagnose(&facts, &DockerView::none(), &ctx());
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
        let f = diagnose(&facts, &DockerView::none(), &ctx());
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
        let f = diagnose(&facts, &DockerView::none(), &ctx());
        assert_eq!(f.verdict_of(Cause::BigKeys), Some(Confirmed));
        assert!(f.causes.iter().any(|c| c.evidence.en().contains("cache:all (hash, 5.0 MB)")));
    }

    const MB: u64 = 1 << 20;

    /// The spec's Redis: maxmemory 512mb, volatile-ttl, RDB only, 40 sessions and 25 blacklist
    /// entries, last snapshot 10 minutes ago.
    fn spec_redis() -> RedisFacts {
        let mut f = healthy();
        let i = f.info.as_mut().unwrap();
        i.maxmemory = 512 * MB;
        i.maxmemory_policy = "volatile-ttl".into();
        let fam = |pattern: &str, count: u64, ttl: i64| KeyFamily {
            pattern: pattern.into(),
            count,
            ttl_max_s: Some(ttl),
            complete: true,
            ..Default::default()
        };
        let families = Families {
            families: vec![
                fam("session:*", 40, 3600),
                fam("blacklist:access:*", 25, 890),
                fam("blacklist:refresh:*", 0, 0),
            ],
            complete: true,
            ..Default::default()
        };
        f.app = Some(RedisAppFacts {
            families: Some(Ok(families)),
            persistence: Some(Ok(Persistence {
                appendonly: "no".into(),
                save: "900 1 300 10 60 10000".into(),
                stop_writes_on_bgsave_error: "yes".into(),
            })),
            persistence_info: Some(Ok(PersistenceInfo {
                aof_enabled: false,
                rdb_last_bgsave_status: "ok".into(),
                last_save_age_s: Some(600),
                changes_since_last_save: 45,
            })),
            ..Default::default()
        });
        f
    }

    fn redis_container(limit: Option<u64>) -> ContainerFacts {
        ContainerFacts { memory_limit: limit, stats: Some(stats(1.0, 20 * MB)), ..running("redis") }
    }

    fn with_engine(f: &RedisFacts, c: ContainerFacts) -> Finding {
        let d = engine(vec![c]);
        diagnose(f, &view(&d), &ctx())
    }

    fn evidence(f: &Finding, id: Cause) -> String {
        let id: crate::report::CauseId = id.into();
        f.causes.iter().find(|c| c.id == id.as_str()).unwrap().evidence.en()
    }

    #[test]
    fn the_specs_maxmemory_equal_to_its_container_limit_is_confirmed_without_an_alarm() {
        let f = with_engine(&spec_redis(), redis_container(Some(512 * MB)));
        assert_eq!(f.verdict_of(Cause::MaxmemoryOverContainerLimit), Some(Confirmed));
        // A design risk: nothing is happening yet, so the check stays ok.
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        let e = evidence(&f, Cause::MaxmemoryOverContainerLimit);
        assert!(e.contains("maxmemory 512 MB is not below the redis container's memory limit 512 MB"), "{e}");
        assert!(e.contains("since the last snapshot (10m ago, 45 changes since") && e.contains("up to 15m"), "{e}");
        assert!(e.contains("40 sessions and 25 blacklist entries"), "{e}");
        assert_eq!(f.evidence["persistence"], "rdb");
        assert_eq!(f.evidence["container_memory_limit"], 512 * MB);
        // The Japanese says the same.
        let ja = f
            .causes
            .iter()
            .find(|c| c.id == "maxmemory-over-container-limit")
            .unwrap()
            .evidence
            .render(crate::lang::Lang::Ja);
        assert!(ja.contains("セッション 40 件とブラックリスト 25 件"), "{ja}");
    }

    #[test]
    fn the_limit_rule_confirms_suspects_and_rules_out() {
        let at = |max: u64| {
            let mut f = spec_redis();
            f.info.as_mut().unwrap().maxmemory = max;
            with_engine(&f, redis_container(Some(512 * MB)))
        };
        assert_eq!(at(0).verdict_of(Cause::MaxmemoryOverContainerLimit), Some(Confirmed));
        assert!(evidence(&at(0), Cause::MaxmemoryOverContainerLimit).starts_with("no maxmemory"));
        assert_eq!(at(600 * MB).verdict_of(Cause::MaxmemoryOverContainerLimit), Some(Confirmed));
        assert_eq!(at(450 * MB).verdict_of(Cause::MaxmemoryOverContainerLimit), Some(Suspected));
        let fits = at(384 * MB);
        assert_eq!(fits.verdict_of(Cause::MaxmemoryOverContainerLimit), Some(RuledOut));
        assert!(
            !evidence(&fits, Cause::MaxmemoryOverContainerLimit).contains("snapshot"),
            "no loss words when it fits"
        );
        let unlimited = with_engine(&spec_redis(), redis_container(None));
        assert_eq!(unlimited.verdict_of(Cause::MaxmemoryOverContainerLimit), Some(RuledOut));
        assert!(evidence(&unlimited, Cause::MaxmemoryOverContainerLimit).contains("has no memory limit"));
    }

    #[test]
    fn an_oom_kill_of_redis_confirms_it_and_is_critical() {
        let killed = ContainerFacts { oom_killed: true, restart_count: 1, ..redis_container(Some(512 * MB)) };
        let mut facts = spec_redis();
        facts.info.as_mut().unwrap().maxmemory = 384 * MB;
        let f = with_engine(&facts, killed);
        assert_eq!(f.verdict_of(Cause::MaxmemoryOverContainerLimit), Some(Confirmed));
        assert_eq!(f.status, Status::Critical);
        assert!(f.summary.en().contains("OOM-killed: redis"), "{}", f.summary.en());
        assert!(evidence(&f, Cause::MaxmemoryOverContainerLimit).contains("40 sessions"));
    }

    #[test]
    fn a_container_near_its_limit_with_no_room_is_a_warning() {
        let near = ContainerFacts { stats: Some(stats(1.0, 470 * MB)), ..redis_container(Some(512 * MB)) };
        let f = with_engine(&spec_redis(), near);
        assert_eq!(f.status, Status::Warning);
        assert!(f.summary.en().contains("uses 470 MB of its 512 MB limit (92%)"), "{}", f.summary.en());
    }

    #[test]
    fn without_the_engine_it_is_unchecked_and_says_what_a_kill_would_lose() {
        let f = diagnose(&spec_redis(), &DockerView { facts: None, disabled: true }, &ctx());
        assert_eq!(f.verdict_of(Cause::MaxmemoryOverContainerLimit), Some(Unchecked));
        assert_eq!(f.status, Status::Ok);
        let e = evidence(&f, Cause::MaxmemoryOverContainerLimit);
        assert!(e.contains("--no-docker") && e.contains("up to 15m"), "{e}");
        let gone = engine(vec![]);
        let f = diagnose(&spec_redis(), &view(&gone), &ctx());
        assert_eq!(f.verdict_of(Cause::MaxmemoryOverContainerLimit), Some(Unchecked));
    }

    #[test]
    fn a_failed_background_save_is_critical_while_writes_stop() {
        let mut facts = spec_redis();
        let set = |f: &mut RedisFacts, stop: &str| {
            let app = f.app.as_mut().unwrap();
            if let Some(Ok(i)) = app.persistence_info.as_mut() {
                i.rdb_last_bgsave_status = "err".into();
            }
            if let Some(Ok(p)) = app.persistence.as_mut() {
                p.stop_writes_on_bgsave_error = stop.into();
            }
        };
        set(&mut facts, "yes");
        facts.info.as_mut().unwrap().misconf_errors = 3;
        let f = diagnose(&facts, &DockerView::none(), &ctx());
        assert_eq!(f.status, Status::Critical);
        assert!(f.summary.en().contains("refuses every write with MISCONF until a save succeeds (3 refused so far)"));
        let mut facts = spec_redis();
        set(&mut facts, "no");
        let f = diagnose(&facts, &DockerView::none(), &ctx());
        assert_eq!(f.status, Status::Warning, "{}", f.summary.en());
        assert!(f.summary.en().contains("nothing newer than the last good snapshot (10m ago)"), "{}", f.summary.en());
    }

    #[test]
    fn allkeys_policies_say_what_they_would_evict_here() {
        let mut facts = spec_redis();
        facts.info.as_mut().unwrap().maxmemory_policy = "allkeys-lru".into();
        let f = diagnose(&facts, &DockerView::none(), &ctx());
        assert_eq!(f.verdict_of(Cause::NoEvictionPolicy), Some(RuledOut));
        let e = evidence(&f, Cause::NoEvictionPolicy);
        assert!(e.contains("40 sessions and 25 blacklist entries") && e.contains("volatile-ttl"), "{e}");
        let f = diagnose(&spec_redis(), &DockerView::none(), &ctx());
        assert!(!evidence(&f, Cause::NoEvictionPolicy).contains("sessions"));
    }

    #[test]
    fn no_connection_skips() {
        let f = diagnose(&failed(RedisErrorKind::Refused, "r"), &DockerView::none(), &ctx());
        assert_eq!(f.status, Status::Skipped);
    }
}
