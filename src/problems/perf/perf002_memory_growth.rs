//! PERF002: memory keeps growing. Reads every container's memory use against its limit, the
//! `OOMKilled` flag of its last exit and the engine's `oom` events (kills inside a container
//! that survived them). May confirm `oom-killed` and `near-memory-limit`;
//! `memory-growth` needs samples over time (`doctor perf --sample DURATION`): the growth rate
//! of each container by least squares, and the time to its limit at that rate. Without samples
//! it stays `unchecked`.

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
    let growth = growth(view);
    let growth_status = growth.status;
    out.cause(Cause::MemoryGrowth, growth.verdict, growth.evidence.clone());
    if !growth.series.is_empty() {
        // A fact, in the run's language as every fact is.
        out.fact_texts("memory_growth", growth.series.iter().cloned());
    }
    let containers = view.found();
    let killed: Vec<Text> = containers.iter().filter_map(|c| engine::oom_kills(c)).collect();
    let mut near: Vec<Text> = Vec::new();
    let mut usage = Vec::new();
    for c in &containers {
        let (Some(s), Some(limit)) = (&c.stats, c.memory_limit) else { continue };
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
        out.cause(Cause::OomKilled, RuledOut, t!("PERF002/no-oom-kill"));
    } else {
        out.cause(Cause::OomKilled, Confirmed, Text::join(killed.clone(), Sep::Clauses));
    }
    if near.is_empty() {
        out.cause(
            Cause::NearMemoryLimit,
            RuledOut,
            if usage.is_empty() {
                t!("PERF002/no-memory-limit")
            } else {
                t!("PERF002/below-limit", share = percent(near_share), usage = usage.join(", "))
            },
        );
    } else {
        out.cause(Cause::NearMemoryLimit, Confirmed, Text::join(near.clone(), Sep::Clauses));
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
    let growing = (growth.verdict == Confirmed).then_some(growth.evidence);
    let summary = match status {
        Status::Ok => t!("PERF002/nothing-near-or-killed"),
        _ => Text::join(killed.into_iter().chain(near).chain(growing), Sep::Clauses),
    };
    out.status(status, summary)
}

/// Growth at or above this many bytes a minute is reported (the runbook's "keeps growing").
const GROWTH_PER_MIN: f64 = 1024.0 * 1024.0;
/// Time to the limit below which growth is critical.
const CRITICAL_TO_LIMIT_S: f64 = 3600.0;

struct Growth {
    verdict: crate::report::Verdict,
    evidence: Text,
    status: Status,
    series: Vec<Text>,
}

/// From `perf --sample`: each container's growth rate and the time to its limit at that rate.
fn growth(view: &DockerView) -> Growth {
    let Some(samples) = view.facts.and_then(|f| f.memory_samples.as_ref()) else {
        return Growth {
            verdict: Unchecked,
            evidence: t!("PERF002/one-snapshot"),
            status: Status::Ok,
            series: Vec::new(),
        };
    };
    let mut series = Vec::new();
    let mut growing = Vec::new();
    let mut status = Status::Ok;
    for s in samples {
        let Some(slope) = s.slope() else { continue };
        let per_min = slope * 60.0;
        let last = s.points.last().map_or(0, |p| p.1);
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
                span = secs(s.span_s()),
                now = bytes(last),
                limit = bytes(s.limit.unwrap_or(0)),
                eta = secs(eta)
            ),
            None => {
                t!("PERF002/growth", container = &s.container, rate = rate, span = secs(s.span_s()), now = bytes(last))
            }
        };
        if per_min >= GROWTH_PER_MIN {
            growing.push(line.clone());
            status = status.max(if to_limit.is_some_and(|t| t < CRITICAL_TO_LIMIT_S) {
                Status::Critical
            } else {
                Status::Warning
            });
        }
        series.push(line);
    }
    if series.is_empty() {
        return Growth { verdict: Unchecked, evidence: t!("PERF002/too-few-samples"), status: Status::Ok, series };
    }
    if growing.is_empty() {
        Growth {
            verdict: RuledOut,
            evidence: t!(
                "PERF002/no-growth",
                rate = bytes(GROWTH_PER_MIN as u64),
                series = Text::join(series.clone(), Sep::Clauses)
            ),
            status,
            series,
        }
    } else {
        Growth { verdict: Confirmed, evidence: Text::join(growing, Sep::Clauses), status, series }
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
        assert_eq!(f.summary.en(), "no container near its memory limit or OOM-killed");
        assert_cause(&f, "memory-growth", Unchecked, "one snapshot cannot show growth: run `doctor perf --sample 60s`");
        assert_cause(&f, "near-memory-limit", RuledOut, "below 80% of the limit: user-api 10%");
        assert_cause(&f, "oom-killed", RuledOut, "no container of the stack was OOM-killed");
        verdicts(&f);

        let f = run(&engine(vec![using("postgres", 300 * MB, None)]));
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "near-memory-limit", RuledOut, "no container has a memory limit");

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
        assert_cause(&f, "memory-growth", Unchecked, "too few memory samples (three are needed)");
    }
}
