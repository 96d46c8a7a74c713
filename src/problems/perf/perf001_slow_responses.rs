//! PERF001: slow responses. Reads request latency from Prometheus (p95 per job of
//! `http_request_duration_seconds`) when it answers, else per handler from the APIs' `/metrics`
//! (p95), else the doctor's own `/health` timings, and links what the database, cache and container
//! checks of the same run found. Confirms `cpu-saturated` from the containers' figures;
//! `slow-database` and `cache-misses` are suspected from PG002/PG003 and RD003.

use crate::catalogue::Area;
use crate::facts::of::web::WebFacts;
use crate::problems::engine::DockerView;
use crate::problems::registry::{Inputs, Problem};
use crate::problems::related::Related;
use crate::problems::{Ctx, secs};
use crate::report::{Finding, Status, Verdict::*};
use crate::t;
use crate::text::Text;

crate::causes! {
    SlowDatabase = "slow-database",
    CacheMisses = "cache-misses",
    CpuSaturated = "cpu-saturated",
    SlowExternalCall = "slow-external-call",
}

pub static PROBLEM: Problem = Problem {
    code: "PERF001",
    areas: &[Area::Perf],
    runbook: crate::runbook!("perf/PERF001-slow-responses.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let Some(w) = &i.facts.web else { return vec![] };
    let related = crate::problems::related::Related::from(i.earlier);
    vec![i.timed(diagnose(w, &i.docker, &related, i.ctx), i.facts.web_ms)]
}

pub fn diagnose(w: &WebFacts, docker: &DockerView, related: &Related, ctx: &Ctx) -> Finding {
    let mut out = Finding::new("PERF001", "services");
    let warn = ctx.thresholds.response_time_warn.as_secs_f64();
    let mut slow = Vec::new();
    let mut seen = Vec::new();
    // The slowest latency seen, against the critical threshold.
    let mut worst: f64 = 0.0;
    // Prometheus first (the runbook's own source), else each API's /metrics, else /health.
    let from_prometheus = match w.prometheus.as_ref().map(|p| (p, &p.p95)) {
        Some((_, Some(Ok(jobs)))) if !jobs.is_empty() => {
            for (job, v) in jobs {
                seen.push(format!("{job} p95 {v:.2}s (Prometheus)"));
                worst = worst.max(*v);
                if *v >= warn {
                    slow.push(format!("{job} p95 {v:.2}s (Prometheus)"));
                }
            }
            out.fact("latency_source", "prometheus");
            true
        }
        Some((p, answer)) => {
            let why = match answer {
                Some(Ok(_)) => t!("PERF001/no-series"),
                Some(Err(e)) => Text::from(e),
                None => crate::problems::auth::au002_jwt_verification_fails::request_failure(&p.http)
                    .unwrap_or_else(|| t!("PERF001/no-answer")),
            };
            // A fact in words, rendered in the report's language.
            out.fact_text("prometheus", t!("PERF001/prometheus-not-used", url = &p.base_url, why = why));
            false
        }
        None => false,
    };
    for a in w.apis.iter().filter(|_| !from_prometheus) {
        match &a.metrics {
            Some(m) if !m.p95.is_empty() => {
                for (h, v) in &m.p95 {
                    seen.push(format!("{} {h} p95 {:.2}s", a.service, v));
                    worst = worst.max(*v);
                    if *v >= warn {
                        slow.push(format!("{} {h} p95 {:.2}s", a.service, v));
                    }
                }
            }
            _ if a.health.status.is_some() => {
                let s = a.health.latency_ms as f64 / 1000.0;
                let path = crate::problems::health::path(&a.health, &a.health_check);
                seen.push(format!("{} {path} {}", a.service, secs(s)));
                worst = worst.max(s);
                if s >= warn {
                    slow.push(format!("{} {path} {}", a.service, secs(s)));
                }
            }
            _ => {}
        }
    }
    out.fact("latencies", &seen);
    let status = if seen.is_empty() {
        Status::Unknown
    } else if slow.is_empty() {
        Status::Ok
    } else if worst >= ctx.thresholds.response_time_crit.as_secs_f64() {
        Status::Critical
    } else {
        Status::Warning
    };
    let problem = status != Status::Ok;
    let link = |v: &Option<Text>, checked: bool| match (v, problem) {
        (Some(f), true) => (Suspected, f.clone()),
        (Some(f), false) => (RuledOut, t!("PERF001/fast-although", found = f.clone())),
        (None, _) if checked => (RuledOut, t!("PERF001/nothing-found")),
        (None, _) => (Unchecked, t!("PERF001/checks-did-not-run")),
    };
    let (v, e) = link(&related.database, related.database_checked);
    out.cause(Cause::SlowDatabase, v, e);
    let (v, e) = link(&related.cache, related.cache_checked);
    out.cause(Cause::CacheMisses, v, e);
    // Only the running containers whose CPU was read are evidence against saturation.
    let read = docker
        .found()
        .iter()
        .filter(|c| c.running && c.stats.as_ref().is_some_and(|s| s.cpu_percent.is_some()))
        .count();
    let busy: Vec<String> = docker
        .found()
        .iter()
        .filter_map(|c| {
            c.stats
                .as_ref()
                .and_then(|s| s.cpu_percent)
                .filter(|p| *p >= ctx.thresholds.container_cpu_warn * 100.0)
                .map(|p| format!("{} {p:.0}% CPU", c.name))
        })
        .collect();
    match docker.unavailable() {
        Some(why) => out.cause(Cause::CpuSaturated, Unchecked, why),
        None if read == 0 => out.cause(Cause::CpuSaturated, Unchecked, t!("PERF001/no-cpu-read")),
        None if busy.is_empty() => out.cause(
            Cause::CpuSaturated,
            RuledOut,
            t!(
                "PERF001/no-container-above",
                threshold = crate::problems::percent(ctx.thresholds.container_cpu_warn),
                count = read
            ),
        ),
        None => out.cause(Cause::CpuSaturated, Confirmed, busy.join(", ")),
    }
    out.cause(Cause::SlowExternalCall, Unchecked, t!("PERF001/external-calls-not-visible"));
    let summary = if seen.is_empty() {
        t!("PERF001/no-latency")
    } else if slow.is_empty() {
        t!("PERF001/within", limit = secs(warn), latencies = seen.join(", "))
    } else {
        t!("PERF001/slower-than", limit = secs(warn), latencies = slow.join(", "))
    };
    out.status(status, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::of::docker::{ContainerFacts, DockerFacts};
    use crate::facts::of::http::{HttpErrorKind, HttpFacts};
    use crate::facts::of::web::{ApiFacts, MetricsFacts, PrometheusFacts};
    use crate::problems::fixtures::*;
    use std::collections::BTreeMap;

    /// An API whose /health took `health_ms`, with per-handler p95 from /metrics when given.
    fn api(service: &str, health_ms: u64, p95: &[(&str, f64)]) -> ApiFacts {
        let health = HttpFacts { latency_ms: health_ms, ..answer("GET", "http://localhost:8001/health", 200, "ok") };
        let metrics = (!p95.is_empty()).then(|| MetricsFacts {
            p95: p95.iter().map(|(h, v)| (h.to_string(), *v)).collect(),
            samples: 40,
            ..Default::default()
        });
        ApiFacts {
            service: service.into(),
            base_url: "http://localhost:8001".into(),
            health,
            metrics,
            ..Default::default()
        }
    }

    fn web(apis: Vec<ApiFacts>) -> WebFacts {
        WebFacts { apis, ..Default::default() }
    }

    fn fast() -> WebFacts {
        web(vec![api("user-api", 15, &[("/api/users/profile", 0.12)]), api("admin-api", 20, &[])])
    }

    fn slow() -> WebFacts {
        web(vec![api("user-api", 15, &[("/api/users/profile", 2.4)])])
    }

    fn prometheus(p95: Option<Result<&[(&str, f64)], &str>>) -> PrometheusFacts {
        let p95 = p95.map(|r| {
            r.map(|jobs| jobs.iter().map(|(j, v)| (j.to_string(), *v)).collect::<BTreeMap<_, _>>())
                .map_err(str::to_string)
        });
        PrometheusFacts {
            base_url: "http://localhost:9090".into(),
            http: answer("GET", "http://localhost:9090/api/v1/query", 200, ""),
            p95,
        }
    }

    /// Containers of the stack at these CPU figures (percent of one core).
    fn busy(cpus: &[(&str, f64)]) -> DockerFacts {
        engine(cpus.iter().map(|(s, cpu)| ContainerFacts { stats: Some(stats(*cpu, 1 << 28)), ..running(s) }).collect())
    }

    fn both() -> Related {
        Related {
            database: Some("PG003: 2 queries running longer than 60s".into()),
            cache: Some("RD003: hit rate 41% (threshold 80%)".into()),
            database_checked: true,
            cache_checked: true,
        }
    }

    fn run(w: &WebFacts, docker: &DockerFacts, related: &Related) -> Finding {
        diagnose(w, &view(docker), related, &ctx())
    }

    #[test]
    fn fast_responses_rule_out_what_can_be_measured() {
        let docker = busy(&[("user-api", 12.0), ("postgres", 30.0)]);
        let checked = Related { database_checked: true, cache_checked: true, ..Default::default() };
        let f = run(&fast(), &docker, &checked);
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_eq!(f.summary.en(), "within 500ms: user-api /api/users/profile p95 0.12s, admin-api /health 20ms");
        assert_cause(&f, "slow-database", RuledOut, "nothing found by the checks of this run");
        assert_cause(&f, "cache-misses", RuledOut, "nothing found by the checks of this run");
        assert_cause(&f, "cpu-saturated", RuledOut, "no container above 80% CPU (running containers read: 2)");
        assert_cause(&f, "slow-external-call", Unchecked, "calls to outside services are not visible from outside");
        verdicts(&f);
        // No container whose CPU was read is no evidence that none is busy.
        for d in [engine(vec![]), engine(vec![exited("user-api", 0)]), engine(vec![running("user-api")])] {
            let f = run(&fast(), &d, &checked);
            assert_cause(&f, "cpu-saturated", Unchecked, "no running container of the stack whose CPU could be read");
        }

        let f = run(&fast(), &docker, &both());
        assert_eq!(f.status, Status::Ok);
        assert_cause(
            &f,
            "slow-database",
            RuledOut,
            "responses are fast although PG003: 2 queries running longer than 60s",
        );
        assert_cause(&f, "cache-misses", RuledOut, "responses are fast although RD003: hit rate 41%");
    }

    #[test]
    fn slow_responses_link_what_the_other_checks_found() {
        let docker = busy(&[("user-api", 96.0), ("postgres", 30.0)]);
        let f = run(&slow(), &docker, &both());
        assert_eq!(f.status, Status::Critical, "p95 above the critical 1s");
        assert_eq!(f.summary.en(), "slower than 500ms: user-api /api/users/profile p95 2.40s");
        assert_cause(&f, "slow-database", Suspected, "PG003: 2 queries running longer than 60s");
        assert_cause(&f, "cache-misses", Suspected, "RD003: hit rate 41% (threshold 80%)");
        assert_cause(&f, "cpu-saturated", Confirmed, "user-api 96% CPU");
        assert_cause(&f, "slow-external-call", Unchecked, "not visible");

        // Slow, but the other checks found nothing, or did not run.
        let checked = Related { database_checked: true, cache_checked: true, ..Default::default() };
        let f = run(&slow(), &busy(&[("user-api", 20.0)]), &checked);
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "slow-database", RuledOut, "nothing found by the checks of this run");
        assert_cause(&f, "cache-misses", RuledOut, "nothing found by the checks of this run");
        let f = run(&slow(), &busy(&[("user-api", 20.0)]), &Related::default());
        assert_cause(&f, "slow-database", Unchecked, "did not run");
        assert_cause(&f, "cache-misses", Unchecked, "did not run");

        // Nothing could be measured: the database is still a suspect.
        let down = ApiFacts {
            health: failure("GET", "http://localhost:8001/health", HttpErrorKind::Refused, "tcp connect error"),
            ..api("user-api", 0, &[])
        };
        let f = run(&web(vec![down]), &busy(&[]), &both());
        assert_eq!(f.status, Status::Unknown);
        assert_eq!(f.summary.en(), "no latency could be measured (APIs unreachable)");
        assert_cause(&f, "slow-database", Suspected, "PG003");
    }

    #[test]
    fn latency_comes_from_prometheus_else_metrics_else_health() {
        let docker = busy(&[]);
        let mut w = fast();
        w.prometheus = Some(prometheus(Some(Ok(&[("user-api", 1.5), ("admin-api", 0.2)]))));
        let f = run(&w, &docker, &Related::default());
        assert_eq!(f.status, Status::Critical, "Prometheus overrules the fast /metrics");
        assert_eq!(f.summary.en(), "slower than 500ms: user-api p95 1.50s (Prometheus)");

        // Prometheus without the series, failing, or not answering: the APIs' own figures.
        for p in [
            prometheus(Some(Ok(&[]))),
            prometheus(Some(Err("bad_data: parse error"))),
            PrometheusFacts {
                http: failure("GET", "http://localhost:9090/api/v1/query", HttpErrorKind::Refused, "tcp"),
                ..prometheus(None)
            },
        ] {
            let mut w = slow();
            w.prometheus = Some(p);
            let f = run(&w, &docker, &Related::default());
            assert_eq!(f.status, Status::Critical);
            assert_eq!(f.summary.en(), "slower than 500ms: user-api /api/users/profile p95 2.40s");
        }

        let f = run(&web(vec![api("user-api", 1500, &[])]), &docker, &Related::default());
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.summary.en(), "slower than 500ms: user-api /health 1.5s");
        // Between the warning (500ms) and the critical (1s) latency: a warning.
        let f = run(&web(vec![api("user-api", 700, &[])]), &docker, &Related::default());
        assert_eq!(f.status, Status::Warning);
    }

    #[test]
    fn cpu_unchecked_without_the_engine() {
        let f = diagnose(&fast(), &DockerView::none(), &Related::default(), &ctx());
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "cpu-saturated", Unchecked, "needs the Docker engine");
        let f = run(&fast(), &engine_down(), &Related::default());
        assert_cause(&f, "cpu-saturated", Unchecked, "the Docker engine is unreachable (see DK001)");
        let f = diagnose(&fast(), &DockerView { facts: None, disabled: true }, &Related::default(), &ctx());
        assert_cause(&f, "cpu-saturated", Unchecked, "--no-docker");
    }
}
