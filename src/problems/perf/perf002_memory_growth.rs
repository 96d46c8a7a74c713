//! PERF002: memory keeps growing. Reads every container's memory use against its limit, the
//! `OOMKilled` flag of its last exit and the engine's `oom` events (kills inside a container
//! that survived them). May confirm `oom-killed` and `near-memory-limit`;
//! `memory-growth` needs samples over time (`doctor perf --sample DURATION`): the growth rate
//! of each container by least squares, and the time to its limit at that rate, judged only
//! from three readings over 30s or more and only beyond noise (the constants below, which the
//! runbook's judged-by text states), with where to look picked by the container's runtime.
//! Without samples it stays `unchecked`; with no container at all the check is skipped.

use crate::catalogue::Area;
use crate::problems::engine::{self, DockerView};
use crate::problems::registry::{Inputs, Problem};
use crate::problems::{bytes, percent, secs};
use crate::report::{Finding, Status, Verdict::*};
use crate::t;
use crate::text::{Sep, Text};

crate::causes! {
    MemoryGrowth = "memory-growth",
    NearMemoryLimit = "near-memory-limit",
    OomKilled = "oom-killed",
}

pub static PROBLEM: Problem = Problem {
    code: "PERF002",
    areas: &[Area::Perf, Area::Docker],
    runbook: crate::runbook!("perf/PERF002-memory-growth.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    vec![i.timed(diagnose(&i.docker, i.ctx), i.facts.docker_ms)]
}

pub fn diagnose(view: &DockerView, ctx: &crate::problems::Ctx) -> Finding {
    let near_share = ctx.thresholds.container_memory_warn;
    let mut out = Finding::new("PERF002", "containers");
    if let Some(why) = view.unavailable() {
        out.causes_all(&[Cause::MemoryGrowth, Cause::NearMemoryLimit, Cause::OomKilled], Unchecked, why.clone());
        return out.status(Status::Skipped, why);
    }
    let containers = view.found();
    if containers.is_empty() {
        // No container to read: nothing is known of memory, either way.
        let why = t!("shared/no-container-found");
        out.causes_all(&[Cause::MemoryGrowth, Cause::NearMemoryLimit, Cause::OomKilled], Unchecked, why.clone());
        return out.status(Status::Skipped, why);
    }
    let growth = growth(view);
    let growth_status = growth.status;
    out.cause(Cause::MemoryGrowth, growth.verdict, growth.evidence.clone());
    if !growth.series.is_empty() {
        // A fact, in the run's language as every fact is.
        out.fact_texts("memory_growth", growth.series.iter().cloned());
    }
    let killed: Vec<Text> = containers.iter().filter_map(|c| engine::oom_kills(c)).collect();
    if killed.is_empty() && !containers.iter().any(|c| c.running) {
        // Stopped containers use no memory: nothing to judge but that none was OOM-killed.
        let why = t!("shared/no-running-container");
        out.forget(Cause::MemoryGrowth);
        out.causes_all(&[Cause::MemoryGrowth, Cause::NearMemoryLimit], Unchecked, why.clone());
        out.cause(Cause::OomKilled, RuledOut, t!("PERF002/no-oom-kill", count = containers.len()));
        return out.status(Status::Skipped, why);
    }
    let mut near: Vec<Text> = Vec::new();
    let mut usage = Vec::new();
    let mut unread = Vec::new();
    for c in &containers {
        let Some(limit) = c.memory_limit else { continue };
        let Some(s) = &c.stats else {
            if c.running {
                unread.push(c.name.clone());
            }
            continue;
        };
        let share = s.mem_used as f64 / limit as f64;
        usage.push(format!("{} {}", c.name, percent(share)));
        if share >= near_share {
            near.push(t!(
                "PERF002/near-limit",
                container = &c.name,
                used = bytes(s.mem_used),
                limit = bytes(limit),
                share = percent(share)
            ));
        }
    }
    out.fact("memory_share_of_limit", &usage);
    if killed.is_empty() {
        out.cause(Cause::OomKilled, RuledOut, t!("PERF002/no-oom-kill", count = containers.len()));
    } else {
        out.cause(Cause::OomKilled, Confirmed, Text::join(killed.clone(), Sep::Clauses));
    }
    if !near.is_empty() {
        out.cause(Cause::NearMemoryLimit, Confirmed, Text::join(near.clone(), Sep::Clauses));
    } else if !unread.is_empty() {
        out.cause(Cause::NearMemoryLimit, Unchecked, t!("PERF002/usage-unread", containers = unread.join(", ")));
    } else if usage.is_empty() {
        out.cause(Cause::NearMemoryLimit, RuledOut, t!("PERF002/no-memory-limit", count = containers.len()));
    } else {
        out.cause(
            Cause::NearMemoryLimit,
            RuledOut,
            t!("PERF002/below-limit", share = percent(near_share), usage = usage.join(", ")),
        );
    }
    let dead = containers.iter().any(|c| c.ended_by_oom() && !c.running);
    let status = if dead {
        Status::Critical
    } else if !killed.is_empty() || !near.is_empty() {
        Status::Warning
    } else {
        Status::Ok
    }
    .max(growth_status);
    let growing = (growth.verdict == Confirmed).then_some(growth.evidence.clone());
    let summary = match status {
        Status::Ok => {
            let seen = t!("PERF002/nothing-near-or-killed", count = containers.len());
            // A sample was asked for but could not judge: the summary says so, not only the row.
            match growth.not_judged {
                Some(why) => Text::join([seen, why], Sep::Clauses),
                None => seen,
            }
        }
        _ => Text::join(killed.into_iter().chain(near).chain(growing), Sep::Clauses),
    };
    out.status(status, summary)
}

/// Growth at or above this many bytes a minute is reported (the runbook's "keeps growing").
const GROWTH_PER_MIN: f64 = 1024.0 * 1024.0;
/// Time to the limit below which growth is critical.
const CRITICAL_TO_LIMIT_S: f64 = 3600.0;
/// Growth is judged only from a sample at least this long...
pub const MIN_SPAN_S: f64 = 30.0;
/// The sampler's readings land a little after their slot, never before: a `--sample 30s` may
/// span a hair under 30s from its first reading to its last, and still counts.
const SPAN_SLACK_S: f64 = 0.5;
/// ...with at least this many readings.
pub const MIN_POINTS: usize = 3;
/// Noise: a fitted growth over the whole sample below this many bytes...
const NOISE_BYTES: f64 = 2.0 * 1024.0 * 1024.0;
/// ...or below this share of what the container used at the sample's start (allocators and
/// caches breathe by a few percent).
const NOISE_SHARE: f64 = 0.05;
/// A container started less than this long before the sample is still filling its caches.
const WARM_UP_S: f64 = 60.0;

struct Growth {
    verdict: crate::report::Verdict,
    evidence: Text,
    status: Status,
    series: Vec<Text>,
    /// Samples were taken but too few or too short to judge: why, for the summary.
    not_judged: Option<Text>,
}

/// What a container runs, as its role (else its image) tells: where to look for the memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Redis,
    Postgres,
    Python,
    Node,
    Unknown,
}

/// The runtime of a stack container: by its role (the APIs are FastAPI, the frontends
/// Next.js in the specification), else by words of its image.
pub fn runtime(role: Option<&str>, image: &str) -> Runtime {
    match role {
        Some("redis") => return Runtime::Redis,
        Some("postgres") => return Runtime::Postgres,
        Some("auth-service" | "user-api" | "admin-api" | "mcp") => return Runtime::Python,
        Some("user-frontend" | "admin-frontend") => return Runtime::Node,
        _ => {}
    }
    let image = image.to_ascii_lowercase();
    let has = |w: &str| image.contains(w);
    if has("redis") {
        Runtime::Redis
    } else if has("postgres") || has("pgvector") {
        Runtime::Postgres
    } else if has("python") || has("uvicorn") || has("fastapi") {
        Runtime::Python
    } else if has("node") || has("next") {
        Runtime::Node
    } else {
        Runtime::Unknown
    }
}

/// Where to look first for what holds the memory of `container`, for its runtime.
fn advice(rt: Runtime, container: &str) -> Text {
    match rt {
        Runtime::Redis => t!("PERF002/advice-redis", container = container),
        Runtime::Postgres => t!("PERF002/advice-postgres", container = container),
        Runtime::Python => t!("PERF002/advice-python", container = container),
        Runtime::Node => t!("PERF002/advice-node", container = container),
        Runtime::Unknown => t!("PERF002/advice-other", container = container),
    }
}

/// The role and the container facts of a sampled container, by its name.
fn container_of<'a>(
    view: &DockerView<'a>,
    name: &str,
) -> (Option<&'a str>, Option<&'a crate::facts::of::docker::ContainerFacts>) {
    let Some(f) = view.facts else { return (None, None) };
    f.containers
        .iter()
        .find_map(|l| l.container.as_ref().filter(|c| c.name == name).map(|c| (Some(l.service.as_str()), Some(c))))
        .unwrap_or((None, None))
}

/// From `perf --sample`: each container's growth rate and the time to its limit at that rate,
/// judged only from a sample long enough, and only beyond noise.
fn growth(view: &DockerView) -> Growth {
    let Some(samples) = view.facts.and_then(|f| f.memory_samples.as_ref()) else {
        return Growth {
            verdict: Unchecked,
            evidence: t!("PERF002/one-snapshot"),
            status: Status::Ok,
            series: Vec::new(),
            not_judged: None,
        };
    };
    let mut series = Vec::new();
    let mut growing = Vec::new();
    let mut warming = Vec::new();
    let mut short = Vec::new();
    let mut status = Status::Ok;
    for s in samples {
        let span = s.span_s();
        let slope = s.slope().filter(|_| s.points.len() >= MIN_POINTS && span + SPAN_SLACK_S >= MIN_SPAN_S);
        let Some(slope) = slope else {
            if !s.points.is_empty() {
                short.push(t!("PERF002/sampled", container = &s.container, count = s.points.len(), span = secs(span)));
            }
            continue;
        };
        let per_min = slope * 60.0;
        let first = s.points.first().map_or(0, |p| p.1);
        let last = s.points.last().map_or(0, |p| p.1);
        let grown = slope * span;
        let to_limit = s.limit.filter(|l| *l > last && slope > 0.0).map(|l| (l - last) as f64 / slope);
        let rate = if per_min >= 0.0 {
            format!("+{}/min", bytes(per_min as u64))
        } else {
            format!("-{}/min", bytes((-per_min) as u64))
        };
        let line = match to_limit {
            Some(eta) => t!(
                "PERF002/growth-to-limit",
                container = &s.container,
                rate = rate,
                span = secs(span),
                now = bytes(last),
                limit = bytes(s.limit.unwrap_or(0)),
                eta = secs(eta)
            ),
            None => t!("PERF002/growth", container = &s.container, rate = rate, span = secs(span), now = bytes(last)),
        };
        let noise = grown < NOISE_BYTES || grown < NOISE_SHARE * first as f64;
        let (role, facts) = container_of(view, &s.container);
        let young = facts.and_then(|c| c.started_age_s).is_some_and(|age| age < WARM_UP_S);
        if per_min < GROWTH_PER_MIN {
            series.push(line);
        } else if noise {
            series.push(t!("PERF002/within-noise", growth = line, grown = bytes(grown.max(0.0) as u64)));
        } else if young {
            let age = facts.and_then(|c| c.started_age_s).unwrap_or(0.0);
            let line = t!("PERF002/warming-up", growth = line, age = secs(age));
            warming.push(line.clone());
            series.push(line);
        } else {
            let rt = runtime(role, facts.map_or("", |c| c.image.as_str()));
            growing.push(Text::join([line.clone(), advice(rt, &s.container)], Sep::Clauses));
            series.push(line);
            status = status.max(if to_limit.is_some_and(|t| t < CRITICAL_TO_LIMIT_S) {
                Status::Critical
            } else {
                Status::Warning
            });
        }
    }
    if series.is_empty() {
        let why = t!(
            "PERF002/sample-too-short",
            seen = Text::join(short, Sep::Clauses),
            span = secs(MIN_SPAN_S),
            count = MIN_POINTS
        );
        return Growth { verdict: Unchecked, evidence: why.clone(), status: Status::Ok, series, not_judged: Some(why) };
    }
    if !growing.is_empty() {
        Growth { verdict: Confirmed, evidence: Text::join(growing, Sep::Clauses), status, series, not_judged: None }
    } else if !warming.is_empty() {
        Growth { verdict: Suspected, evidence: Text::join(warming, Sep::Clauses), status, series, not_judged: None }
    } else {
        Growth {
            verdict: RuledOut,
            evidence: t!(
                "PERF002/no-growth",
                rate = bytes(GROWTH_PER_MIN as u64),
                series = Text::join(series.clone(), Sep::Clauses)
            ),
            status,
            series,
            not_judged: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::of::docker::{ContainerFacts, DockerFacts};
    use crate::facts::of::docker_events::OomEvents;
    use crate::facts::of::memory_sample::MemorySeries;
    use crate::problems::fixtures::*;

    const MB: u64 = 1 << 20;

    /// A running container using `used` bytes of an optional `limit`.
    fn using(service: &str, used: u64, limit: Option<u64>) -> ContainerFacts {
        ContainerFacts { stats: Some(stats(5.0, used)), memory_limit: limit, ..running(service) }
    }

    fn healthy() -> DockerFacts {
        engine(vec![using("user-api", 100 * MB, Some(1024 * MB)), using("postgres", 300 * MB, None)])
    }

    /// Samples 10s apart, growing by `step` bytes each.
    fn series(container: &str, start: u64, step: u64, n: u64, limit: Option<u64>) -> MemorySeries {
        MemorySeries {
            container: container.into(),
            limit,
            points: (0..n).map(|i| (i as f64 * 10.0, start + i * step)).collect(),
        }
    }

    fn run(d: &DockerFacts) -> Finding {
        diagnose(&view(d), &ctx())
    }

    #[test]
    fn healthy_containers_rule_out_what_one_snapshot_shows() {
        let f = run(&healthy());
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_eq!(f.summary.en(), "no container near its memory limit or OOM-killed (containers looked at: 2)");
        assert_cause(&f, "memory-growth", Unchecked, "one snapshot cannot show growth: run `doctor perf --sample 60s`");
        assert_cause(&f, "near-memory-limit", RuledOut, "below 80% of the limit: user-api 10%");
        assert_cause(&f, "oom-killed", RuledOut, "no container of the stack was OOM-killed (containers looked at: 2)");
        verdicts(&f);

        let f = run(&engine(vec![using("postgres", 300 * MB, None)]));
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "near-memory-limit", RuledOut, "no container has a memory limit (containers looked at: 1)");

        let mut flat = healthy();
        flat.memory_samples = Some(vec![series("user-api", 100 * MB, 1024, 10, Some(1024 * MB))]);
        let f = run(&flat);
        assert_eq!(f.status, Status::Ok);
        assert_cause(
            &f,
            "memory-growth",
            RuledOut,
            "no container grew by 1.0 MB/min or more: user-api +6.0 KB/min over 90s",
        );
    }

    #[test]
    fn each_cause_is_confirmed_from_its_own_evidence() {
        let near = engine(vec![using("user-api", 950 * MB, Some(1000 * MB))]);
        let f = run(&near);
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "near-memory-limit", Confirmed, "user-api uses 950 MB of its 1000 MB limit (95%)");

        // OOM-killed and restarted: a warning; OOM-killed and still down: critical.
        let restarted = ContainerFacts { oom_killed: true, restart_count: 2, ..using("user-api", 100 * MB, None) };
        let f = run(&engine(vec![restarted]));
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "oom-killed", Confirmed, "user-api (running for 60m, after 2 restarts)");
        let dead = ContainerFacts { oom_killed: true, ..exited("admin-api", 137) };
        let f = run(&engine(vec![dead]));
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "oom-killed", Confirmed, "admin-api (exited with exit code 137, OOM-killed 2m ago)");
        assert!(f.summary.en().contains("OOM-killed"), "{}", f.summary.en());

        // Only the engine's events know of a process killed inside a container that lived on.
        let events = |episodes, last_age_s| Some(OomEvents { episodes, last_age_s });
        let survived = ContainerFacts { oom_events: events(2, 300.0), ..using("postgres", 60 * MB, Some(64 * MB)) };
        let f = run(&engine(vec![survived]));
        assert_eq!(f.status, Status::Warning);
        assert_cause(
            &f,
            "oom-killed",
            Confirmed,
            "the engine logged 2 OOM kill(s) inside postgres, the last 5m ago; the container itself is running for 60m",
        );
        // Killed too fast for the OOMKilled flag: exit 137 with an event at the exit is an OOM kill.
        let quick = ContainerFacts { oom_events: events(1, 121.0), ..exited("admin-api", 137) };
        let f = run(&engine(vec![quick]));
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "oom-killed",
            Confirmed,
            "admin-api (exited with exit code 137, OOM-killed 2m ago); the engine logged the OOM kill though the container's OOMKilled flag is false",
        );
        // Exit 137 alone is any SIGKILL (docker kill, a stop timeout): not an OOM kill.
        for oom_events in [None, events(0, 0.0), events(1, 7200.0)] {
            let killed = ContainerFacts { oom_events: oom_events.clone(), ..exited("admin-api", 137) };
            let f = run(&engine(vec![killed]));
            let expected = if oom_events.is_some_and(|e| e.episodes > 0) { Confirmed } else { RuledOut };
            assert_eq!(f.verdict_of(Cause::OomKilled), Some(expected), "{f:#?}");
            let evidence = &f.causes.iter().find(|c| c.id == "oom-killed").unwrap().evidence.en();
            assert!(!evidence.contains("exit code 137, OOM-killed"), "{evidence}");
        }

        // Growing 12 MB/min: far from its limit a warning, within the hour critical.
        let mut growing = healthy();
        growing.memory_samples = Some(vec![
            series("user-api", 100 * MB, 2 * MB, 4, Some(10 * 1024 * MB)),
            series("postgres", 300 * MB, 0, 4, None),
        ]);
        let f = run(&growing);
        assert_eq!(f.status, Status::Warning);
        assert_cause(
            &f,
            "memory-growth",
            Confirmed,
            "user-api +12 MB/min over 30s, 106 MB now; its 10 GB limit in about",
        );
        assert!(f.summary.en().contains("user-api +12 MB/min"), "{}", f.summary.en());
        growing.memory_samples = Some(vec![series("user-api", 100 * MB, 2 * MB, 4, Some(110 * MB))]);
        let f = run(&growing);
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "memory-growth", Confirmed, "its 110 MB limit in about 20s at that rate");
    }

    #[test]
    fn without_the_engine_or_enough_samples_causes_stay_unchecked() {
        let f = diagnose(&DockerView::none(), &ctx());
        assert_eq!(f.status, Status::Skipped);
        for (id, _) in verdicts(&f) {
            assert_cause(&f, id, Unchecked, "needs the Docker engine");
        }
        let f = run(&engine_down());
        assert_eq!(f.status, Status::Skipped);
        assert_cause(&f, "oom-killed", Unchecked, "the Docker engine is unreachable (see DK001)");
        let f = diagnose(&DockerView { facts: None, disabled: true }, &ctx());
        assert_cause(&f, "near-memory-limit", Unchecked, "not checked: --no-docker");

        let mut short = healthy();
        short.memory_samples = Some(vec![series("user-api", 100 * MB, 2 * MB, 2, None)]);
        let f = run(&short);
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "memory-growth", Unchecked, "too short to judge growth (user-api: 2 readings over 10s");
    }

    /// Readings `every` seconds apart, at these sizes.
    fn readings(container: &str, every: f64, sizes: &[u64], limit: Option<u64>) -> MemorySeries {
        MemorySeries {
            container: container.into(),
            limit,
            points: sizes.iter().enumerate().map(|(i, b)| (i as f64 * every, *b)).collect(),
        }
    }

    /// The review's `perf --sample 5s`: redis from 3.4 to 3.7 MB in 4.1s reads as +2.9 MB/min,
    /// which is neither long enough nor beyond noise to call a leak.
    #[test]
    fn a_short_or_small_sample_confirms_no_growth() {
        let kb = 1024;
        let redis = || ContainerFacts { image: "redis:7-alpine".into(), ..using("redis", 3500 * kb, None) };
        let steps: Vec<u64> = (0..5).map(|i| 3480 * kb + i * 50 * kb).collect();
        let mut d = engine(vec![redis()]);
        d.memory_samples = Some(vec![readings("redis", 1.025, &steps, None)]);
        let f = run(&d);
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_cause(
            &f,
            "memory-growth",
            Unchecked,
            "the memory sample was too short to judge growth (redis: 5 readings over 4.1s; at least 3 readings over 30s are needed): run `doctor perf --sample 60s`",
        );
        assert!(f.summary.en().contains("too short to judge growth"), "{}", f.summary.en());
        assert!(
            f.summary.render(crate::lang::Lang::Ja).contains("短すぎて"),
            "{}",
            f.summary.render(crate::lang::Lang::Ja)
        );

        // Long enough, and over 1 MB/min, but 1.2 MB over the minute: noise, not a leak.
        let steps: Vec<u64> = (0..7).map(|i| 3480 * kb + i * 200 * kb).collect();
        d.memory_samples = Some(vec![readings("redis", 10.0, &steps, None)]);
        let f = run(&d);
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_cause(
            &f,
            "memory-growth",
            RuledOut,
            "redis +1.2 MB/min over 60s, 4.6 MB now: 1.2 MB over the sample, within noise",
        );

        // 40 MB in a minute is a lot, but in a 2 GB process it is under 5%: noise.
        let big = ContainerFacts { ..using("admin-api", 2048 * MB, None) };
        let mut d = engine(vec![big]);
        let steps: Vec<u64> = (0..7).map(|i| 2048 * MB + i * 7 * MB).collect();
        d.memory_samples = Some(vec![readings("admin-api", 10.0, &steps, None)]);
        assert_eq!(run(&d).verdict_of(Cause::MemoryGrowth), Some(RuledOut));
        // Beyond noise in a container started 20s ago: only suspected.
        let young = ContainerFacts { started_age_s: Some(20.0), ..using("user-api", 100 * MB, None) };
        let mut d = engine(vec![young]);
        d.memory_samples = Some(vec![series("user-api", 100 * MB, 2 * MB, 4, None)]);
        let f = run(&d);
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_cause(&f, "memory-growth", Suspected, "but it started only 20s ago");
    }

    /// Where to look is the container's runtime's: never `tracemalloc` for Redis.
    #[test]
    fn the_advice_fits_the_runtime_of_the_growing_container() {
        let cases = [
            ("redis", "redis:7", "redis-cli MEMORY STATS", "tracemalloc"),
            ("postgres", "postgres:15", "SHOW work_mem", "tracemalloc"),
            ("user-api", "ai-micro-api-user:latest", "tracemalloc", "MEMORY STATS"),
            ("admin-frontend", "ai-micro-front-admin", "--inspect", "tracemalloc"),
        ];
        for (service, image, says, never) in cases {
            let c = ContainerFacts { image: image.into(), ..using(service, 100 * MB, None) };
            let mut d = engine(vec![c]);
            d.memory_samples = Some(vec![series(service, 100 * MB, 2 * MB, 4, None)]);
            let f = run(&d);
            assert_eq!(f.status, Status::Warning, "{service}: {}", f.summary.en());
            assert_cause(&f, "memory-growth", Confirmed, says);
            let e = f.causes.iter().find(|c| c.id == "memory-growth").unwrap().evidence.clone();
            assert!(!e.en().contains(never), "{service}: {}", e.en());
            assert!(
                !e.render(crate::lang::Lang::Ja).is_empty() && e.render(crate::lang::Lang::Ja) != e.en(),
                "{service}: {}",
                e.render(crate::lang::Lang::Ja)
            );
        }
        // By image, when the container plays no role of the stack.
        assert_eq!(runtime(None, "docker.io/library/redis:7.2"), Runtime::Redis);
        assert_eq!(runtime(None, "node:20-alpine"), Runtime::Node);
        assert_eq!(runtime(None, "busybox"), Runtime::Unknown);
    }

    /// No container at all, or none running, is no evidence: skipped, saying so.
    #[test]
    fn no_container_is_skipped_not_ok() {
        let d = engine(vec![]);
        let f = run(&d);
        assert_eq!(f.status, Status::Skipped, "{}", f.summary.en());
        assert!(f.summary.en().contains("no container of the stack exists"), "{}", f.summary.en());
        for (id, v) in verdicts(&f) {
            assert_eq!(v, Unchecked, "{id}");
        }
        let f = run(&engine(vec![exited("redis", 0), exited("user-api", 0)]));
        assert_eq!(f.status, Status::Skipped, "{}", f.summary.en());
        assert!(f.summary.en().contains("no container of the stack is running"), "{}", f.summary.en());
        assert_cause(&f, "oom-killed", RuledOut, "containers looked at: 2");
        verdicts(&f);
        // An OOM-killed container that stays down is the finding itself.
        let dead = ContainerFacts { oom_killed: true, ..exited("admin-api", 137) };
        assert_eq!(run(&engine(vec![dead])).status, Status::Critical);
    }
}
