//! RD002's view of Redis from outside Redis: whether `maxmemory` fits inside the redis
//! container's memory limit (when it does not, the kernel OOM-kills Redis before it ever
//! evicts: the spec runs `maxmemory 512mb` in a 512M container), what a kill would lose given
//! how Redis persists (the spec: RDB only, so everything since the last snapshot, sessions and
//! blacklist entries among it), and whether the last background save failed (then Redis
//! refuses writes). Apart from `rd002_out_of_memory.rs` so that its INFO arithmetic stays
//! readable on its own.
//!
//! Design risks (no AOF, a limit that leaves no room) are verdicts and evidence only; the
//! check's status moves only for what is happening: an OOM kill, a container near its limit,
//! a failed save.

use crate::facts::of::docker::ContainerFacts;
use crate::facts::of::redis::RedisInfo;
use crate::facts::of::redis_app::{Families, Persistence, PersistenceInfo, RedisAppFacts};
use crate::problems::engine::{self, DockerView, Seen};
use crate::problems::{Ctx, bytes, percent, secs};
use crate::report::{Status, Verdict};
use crate::t;
use crate::text::{Sep, Text};

/// The share of the container's limit `maxmemory` may take: the rest is for fragmentation,
/// client buffers and the copy-on-write pages of a background save's fork.
pub const MAX_SHARE: f64 = 0.75;

/// The `maxmemory-over-container-limit` verdict, and what it adds to the check's status.
#[derive(Debug, Clone)]
pub struct Limit {
    pub verdict: Verdict,
    pub evidence: Text,
    /// Ok unless something is happening (a kill, a container near its limit).
    pub status: Status,
    /// What the summary says when the status moved.
    pub summary: Option<Text>,
    /// The container's limit, for the facts.
    pub limit: Option<u64>,
}

pub fn judge(info: &RedisInfo, app: Option<&RedisAppFacts>, docker: &DockerView, ctx: &Ctx) -> Limit {
    let c = match docker.seen("redis") {
        Seen::Found(c) => c,
        Seen::Unknown(why) => return unchecked(why, app),
        Seen::Missing(name) => return unchecked(t!("RD002/no-redis-container", name = name), app),
    };
    let killed = engine::oom_kills(c);
    let Some(limit) = c.memory_limit.filter(|l| *l > 0) else {
        let evidence = t!("RD002/limit-none", container = &c.name);
        let (status, summary) = kill_status(c, killed.as_ref());
        return Limit { verdict: Verdict::RuledOut, evidence, status, summary, limit: None };
    };
    let max = info.maxmemory;
    let share = max as f64 / limit as f64;
    let (mut verdict, fit) = if max == 0 {
        (Verdict::Confirmed, t!("RD002/limit-unbounded", limit = bytes(limit)))
    } else if max >= limit {
        (Verdict::Confirmed, t!("RD002/limit-not-below", maxmemory = bytes(max), limit = bytes(limit)))
    } else if share > MAX_SHARE {
        let frag = format!("{:.2}", info.fragmentation_ratio);
        (
            Verdict::Suspected,
            t!("RD002/limit-tight", maxmemory = bytes(max), share = percent(share), limit = bytes(limit), frag = frag),
        )
    } else {
        (
            Verdict::RuledOut,
            t!("RD002/limit-fits", maxmemory = bytes(max), share = percent(share), limit = bytes(limit)),
        )
    };
    let mut parts = vec![fit];
    if let Some(k) = &killed {
        verdict = Verdict::Confirmed;
        parts.insert(0, t!("RD002/limit-killed", kills = k.clone()));
    }
    let (mut status, mut summary) = kill_status(c, killed.as_ref());
    // Memory close to the limit while nothing below it stops Redis: the kill is coming.
    let used = c.stats.as_ref().map(|s| s.mem_used).filter(|u| *u > 0);
    if let Some(used) = used.filter(|_| verdict != Verdict::RuledOut) {
        let near = used as f64 / limit as f64;
        if near >= ctx.thresholds.container_memory_warn && status < Status::Warning {
            let text = t!("RD002/limit-near", used = bytes(used), limit = bytes(limit), share = percent(near));
            parts.push(text.clone());
            status = Status::Warning;
            summary = Some(text);
        }
    }
    if verdict != Verdict::RuledOut {
        parts.extend(loss(app));
    }
    Limit { verdict, evidence: Text::join(parts, Sep::Clauses), status, summary, limit: Some(limit) }
}

fn unchecked(why: Text, app: Option<&RedisAppFacts>) -> Limit {
    let evidence = Text::join(std::iter::once(why).chain(loss(app)), Sep::Clauses);
    Limit { verdict: Verdict::Unchecked, evidence, status: Status::Ok, summary: None, limit: None }
}

/// An OOM kill is the live symptom: critical when it ended Redis (it restarted without the
/// keys held only in memory, or is down), a warning when a process inside was killed and Redis
/// survived (a background save's fork).
fn kill_status(c: &ContainerFacts, killed: Option<&Text>) -> (Status, Option<Text>) {
    match killed {
        Some(k) if c.ended_by_oom() => (Status::Critical, Some(t!("RD002/redis-oom-killed", kills = k.clone()))),
        Some(k) => (Status::Warning, Some(t!("RD002/redis-oom-killed", kills = k.clone()))),
        None => (Status::Ok, None),
    }
}

fn families(app: Option<&RedisAppFacts>) -> Option<&Families> {
    app?.families.as_ref()?.as_ref().ok()
}

/// How Redis persists, as `persistence`/`persistence_info` say (each may be missing).
fn persisted(app: Option<&RedisAppFacts>) -> (Option<&Persistence>, Option<&PersistenceInfo>) {
    let Some(app) = app else { return (None, None) };
    (
        app.persistence.as_ref().and_then(|r| r.as_ref().ok()),
        app.persistence_info.as_ref().and_then(|r| r.as_ref().ok()),
    )
}

/// The longest wait of a `save` schedule (`900 1 300 10 60 10000` → 900 s): how old the newest
/// snapshot may be when few keys change.
pub fn save_window_s(save: &str) -> Option<u64> {
    let n: Vec<u64> = save.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    n.chunks(2).filter(|p| p.len() == 2).map(|p| p[0]).max()
}

/// What an OOM kill (or any crash) would lose, from the persistence settings and the families.
pub fn loss(app: Option<&RedisAppFacts>) -> Vec<Text> {
    let (config, state) = persisted(app);
    let aof = state.map(|s| s.aof_enabled).or(config.map(|c| c.appendonly == "yes"));
    let mut out = Vec::new();
    match (aof, config) {
        (Some(true), _) => {
            out.push(t!("RD002/loss-aof"));
            return out;
        }
        (_, Some(c)) if c.off() => out.push(t!("RD002/loss-none")),
        (_, Some(c)) => {
            let age = state.and_then(|s| s.last_save_age_s).map(|a| secs(a as f64)).unwrap_or_else(|| "?".into());
            let changes = state.map(|s| s.changes_since_last_save).unwrap_or(0);
            let window = save_window_s(&c.save).map(|w| secs(w as f64)).unwrap_or_else(|| "?".into());
            out.push(t!("RD002/loss-rdb", age = age, changes = changes, save = &c.save, window = window));
        }
        _ => return out,
    }
    if let Some(f) = families(app) {
        let blacklist =
            ["blacklist:access:*", "blacklist:refresh:*", "blacklist:*"].iter().map(|p| f.count(p)).sum::<u64>();
        out.push(t!("RD002/loss-what", sessions = f.count("session:*"), blacklist = blacklist));
        let newest = f.get("blacklist:access:*").and_then(|b| b.ttl_max_s).filter(|t| *t > 0);
        let age = state.and_then(|s| s.last_save_age_s);
        if let (Some(ttl), Some(age)) = (newest, age)
            && age > ttl as u64
        {
            out.push(t!("RD002/snapshot-older-than-blacklist", age = secs(age as f64), ttl = secs(ttl as f64)));
        }
    }
    out
}

/// A failed background save: the status it sets and what the summary says. With
/// `stop-writes-on-bgsave-error yes` (the default, the spec's) and a save schedule, Redis then
/// refuses every write (`-MISCONF`) until a save succeeds.
pub fn bgsave(info: &RedisInfo, app: Option<&RedisAppFacts>) -> Option<(Status, Text)> {
    let (config, state) = persisted(app);
    let state = state.filter(|s| s.rdb_last_bgsave_status == "err")?;
    let stops = config.is_none_or(|c| c.stop_writes_on_bgsave_error != "no" && !c.save.trim().is_empty());
    if stops || info.misconf_errors > 0 {
        return Some((Status::Critical, t!("RD002/bgsave-failed-stops-writes", refused = info.misconf_errors)));
    }
    let age = state.last_save_age_s.map(|a| secs(a as f64)).unwrap_or_else(|| "?".into());
    Some((Status::Warning, t!("RD002/bgsave-failed", age = age)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_wait_of_a_save_schedule() {
        assert_eq!(save_window_s("900 1 300 10 60 10000"), Some(900));
        assert_eq!(save_window_s("3600 1"), Some(3600));
        assert_eq!(save_window_s(""), None);
        assert_eq!(save_window_s("garbage"), None);
    }
}
