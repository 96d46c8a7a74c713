//! API001: the API does not answer (timeout). Reads the API's health answer (`/healthz`, else
//! `/health`: status, latency and body, a hang told apart from a refusal, an `unhealthy` body
//! failing even with HTTP 200, no health endpoint at all never taken for healthy), `/metrics`
//! (requests in progress, p50/p95 per endpoint), the container's CPU and memory, and what the
//! database checks of the same run found. May confirm `cpu-saturated` and `memory-pressure`,
//! and `slow-database` when the health body reports the database in error; `slow-database` is
//! suspected from PG002/PG003; `slow-external-call` has no evidence visible from outside.

use crate::catalogue::Area;
use crate::facts::of::http::HttpErrorKind;
use crate::facts::of::web::ApiFacts;
use crate::problems::engine::{DockerView, Seen};
use crate::problems::health::{self, Reading};
use crate::problems::registry::{Inputs, Problem};
use crate::problems::related::Related;
use crate::problems::{Ctx, bytes, percent, secs};
use crate::report::{Finding, Status, Verdict::*};
use crate::text::{Sep, Text};

crate::causes! {
    SlowDatabase = "slow-database",
    SlowExternalCall = "slow-external-call",
    MemoryPressure = "memory-pressure",
    CpuSaturated = "cpu-saturated",
}

pub static PROBLEM: Problem = Problem {
    code: "API001",
    areas: &[Area::Api],
    runbook: crate::runbook!("api/API001-timeout.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let Some(w) = &i.facts.web else { return vec![] };
    let related = crate::problems::related::Related::from(i.earlier);
    w.apis.iter().map(|a| i.timed(diagnose(a, &i.docker, &related, i.ctx), i.facts.web_ms)).collect()
}

/// What the health answer says: the status it calls for and the note for the summary.
fn judge_health(a: &ApiFacts, ctx: &Ctx) -> (Status, Option<Text>) {
    let (h, hc) = (&a.health, &a.health_check);
    let p = health::path(h, hc);
    let took = secs(h.latency_ms as f64 / 1000.0);
    let says = |code: u16| {
        let base = crate::t!("API001/answers-http", path = &p, code = code);
        match health::reports(h, hc) {
            Some(r) => Text::join([base, r], Sep::Clauses),
            None => base,
        }
    };
    match health::read(Some(h), hc) {
        Reading::Failed(e) if e.kind == HttpErrorKind::Timeout => {
            (Status::Critical, Some(crate::t!("API001/hangs", service = &a.service, path = &p, took = &took)))
        }
        Reading::Failed(e) => {
            (Status::Critical, Some(crate::t!("API001/refused", service = &a.service, kind = e.kind.text())))
        }
        Reading::NoEndpoint => (Status::Unknown, Some(health::no_endpoint(h, hc))),
        Reading::Status(code) if code >= 500 => (Status::Critical, Some(says(code))),
        Reading::Status(code) => {
            (Status::Warning, Some(crate::t!("API001/not-a-health-answer", path = &p, code = code)))
        }
        Reading::Unhealthy(code) => (
            Status::Critical,
            Some(crate::t!("API001/says-unhealthy", path = &p, code = code, parts = unhealthy_parts(a))),
        ),
        // No request was made: nothing was seen, so no ok.
        Reading::NotProbed => (Status::Unknown, Some(crate::t!("API001/health-not-asked", service = &a.service))),
        Reading::Healthy(_) if h.latency_ms as f64 / 1000.0 >= warn_s(ctx) => (
            Status::Warning,
            Some(crate::t!("API001/health-slow", path = &p, ms = h.latency_ms, threshold = secs(warn_s(ctx)))),
        ),
        Reading::Healthy(_) => (Status::Ok, None),
    }
}

fn warn_s(ctx: &Ctx) -> f64 {
    ctx.thresholds.response_time_warn.as_secs_f64()
}

/// `status unhealthy, database: error` from the health body.
fn unhealthy_parts(a: &ApiFacts) -> String {
    let Some(b) = health::body(&a.health, &a.health_check) else { return String::new() };
    let mut parts: Vec<String> = b.status.iter().map(|s| format!("status {s}")).collect();
    parts.extend(b.failing().iter().map(|(k, v)| format!("{k}: {v}")));
    parts.join(", ")
}

pub fn diagnose(a: &ApiFacts, docker: &DockerView, related: &Related, ctx: &Ctx) -> Finding {
    let mut out = Finding::new("API001", format!("{} {}", a.service, a.base_url));
    let warn = warn_s(ctx);
    let h = &a.health;
    out.fact("health_status", h.status);
    out.fact("health_latency_ms", h.latency_ms);
    out.fact("health_path", &a.health_check.path);
    if !a.health_check.tried.is_empty() {
        out.fact("health_tried", &a.health_check.tried);
    }
    if let Some(b) = health::body(h, &a.health_check) {
        out.fact("health_body", b);
    }
    let (mut status, note) = judge_health(a, ctx);
    let mut notes: Vec<Text> = note.into_iter().collect();
    if let Some(m) = &a.metrics {
        out.fact("requests_in_progress", m.in_progress);
        out.fact("p95_seconds", &m.p95);
        let slow: Vec<String> =
            m.p95.iter().filter(|(_, v)| **v >= warn).map(|(k, v)| format!("{k} p95 {:.2}s", v)).collect();
        if !slow.is_empty() {
            let crit = ctx.thresholds.response_time_crit.as_secs_f64();
            let over_crit = m.p95.values().any(|v| *v >= crit);
            status = status.max(if over_crit { Status::Critical } else { Status::Warning });
            notes.push(crate::t!("API001/slow-handlers", handlers = slow.join(", ")));
        }
        let t = &ctx.thresholds;
        if let Some(n) = m.in_progress.filter(|n| *n >= t.in_progress_warn as f64) {
            status = status.max(if n >= t.in_progress_crit as f64 { Status::Critical } else { Status::Warning });
            notes.push(crate::t!("API001/in-progress", count = format!("{n}")));
        }
    }
    let problem = status != Status::Ok;
    let db_health = health::component(h, &a.health_check, "database");
    match &related.database {
        Some(d) if problem => out.cause(Cause::SlowDatabase, Suspected, d.clone()),
        Some(d) => out.cause(Cause::SlowDatabase, RuledOut, crate::t!("API001/answers-although", database = d)),
        None if related.database_checked => out.cause(
            Cause::SlowDatabase,
            if problem { Unchecked } else { RuledOut },
            crate::t!("API001/database-checks-clean"),
        ),
        None => out.cause(Cause::SlowDatabase, Unchecked, crate::t!("API001/database-checks-not-run")),
    }
    match &db_health {
        Some((true, said)) => out.raise(
            Cause::SlowDatabase,
            Confirmed,
            crate::t!("API001/cannot-use-database", said = said, service = &a.service),
        ),
        Some((false, said)) if !problem => out.raise(Cause::SlowDatabase, RuledOut, said.clone()),
        _ => {}
    }
    out.cause(Cause::SlowExternalCall, Unchecked, crate::t!("API001/external-calls-invisible"));
    match docker.seen(&a.service) {
        Seen::Found(c) => match &c.stats {
            Some(s) => {
                match s.cpu_percent {
                    Some(cpu) => out.cause(
                        Cause::CpuSaturated,
                        if cpu >= ctx.thresholds.container_cpu_warn * 100.0 { Confirmed } else { RuledOut },
                        crate::t!("API001/cpu", container = &c.name, cpu = format!("{cpu:.0}")),
                    ),
                    None => out.cause(Cause::CpuSaturated, Unchecked, crate::t!("API001/no-cpu", container = &c.name)),
                }
                match c.memory_limit {
                    Some(limit) => {
                        let share = s.mem_used as f64 / limit as f64;
                        out.cause(
                            Cause::MemoryPressure,
                            if share >= ctx.thresholds.container_memory_warn { Confirmed } else { RuledOut },
                            crate::t!(
                                "API001/memory-of-limit",
                                used = bytes(s.mem_used),
                                limit = bytes(limit),
                                share = percent(share),
                            ),
                        );
                    }
                    None => out.cause(
                        Cause::MemoryPressure,
                        RuledOut,
                        crate::t!("API001/memory-no-limit", used = bytes(s.mem_used)),
                    ),
                }
            }
            None => {
                let why = crate::t!("API001/not-running", container = &c.name);
                out.cause(Cause::CpuSaturated, Unchecked, why.clone());
                out.cause(Cause::MemoryPressure, Unchecked, why);
            }
        },
        Seen::Missing(n) => {
            let why = crate::t!("API001/no-container", name = n);
            out.cause(Cause::CpuSaturated, Unchecked, why.clone());
            out.cause(Cause::MemoryPressure, Unchecked, why);
        }
        Seen::Unknown(why) => {
            out.cause(Cause::CpuSaturated, Unchecked, why.clone());
            out.cause(Cause::MemoryPressure, Unchecked, why);
        }
    }
    if out.causes.iter().any(|c| c.verdict == Confirmed) {
        status = status.max(Status::Warning);
    }
    let p = health::path(h, &a.health_check);
    let summary = if notes.is_empty() {
        crate::t!("API001/answered-in", path = &p, ms = h.latency_ms)
    } else {
        Text::join(notes, Sep::Clauses)
    };
    out.status(status, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::of::docker::{ContainerFacts, DockerFacts};
    use crate::facts::of::http::HttpFacts;
    use crate::facts::of::web::MetricsFacts;
    use crate::problems::fixtures::*;

    const HEALTH: &str = "http://localhost:8001/health";
    const MB: u64 = 1 << 20;

    fn api(health: HttpFacts) -> ApiFacts {
        ApiFacts { service: "user-api".into(), base_url: "http://localhost:8001".into(), health, ..Default::default() }
    }

    fn fast() -> ApiFacts {
        api(answer("GET", HEALTH, 200, r#"{"status":"ok"}"#))
    }

    fn metrics(in_progress: f64, p95: &[(&str, f64)]) -> MetricsFacts {
        MetricsFacts {
            in_progress: Some(in_progress),
            p95: p95.iter().map(|(h, v)| (h.to_string(), *v)).collect(),
            samples: 40,
            ..Default::default()
        }
    }

    /// user-api at `cpu`% of a core, using `used` bytes of an optional limit.
    fn user_api(cpu: f64, used: u64, limit: Option<u64>) -> DockerFacts {
        engine(vec![ContainerFacts { stats: Some(stats(cpu, used)), memory_limit: limit, ..running("user-api") }])
    }

    fn related(database: &str) -> Related {
        Related { database: Some(database.into()), database_checked: true, ..Default::default() }
    }

    fn run(a: &ApiFacts, docker: &DockerView, related: &Related) -> Finding {
        diagnose(a, docker, related, &ctx())
    }

    #[test]
    fn a_fast_api_rules_out_what_can_be_measured() {
        let mut a = fast();
        a.metrics = Some(metrics(2.0, &[("/api/users/profile", 0.08)]));
        let docker = user_api(12.0, 200 * MB, Some(1024 * MB));
        let checked = Related { database_checked: true, ..Default::default() };
        let f = run(&a, &view(&docker), &checked);
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_eq!(f.summary.en(), "/health answered in 12 ms");
        assert_cause(&f, "slow-database", RuledOut, "the database checks of this run found nothing");
        let f = run(&a, &view(&docker), &Related::default());
        assert_cause(&f, "slow-database", Unchecked, "the database checks did not run");
        assert_cause(
            &f,
            "slow-external-call",
            Unchecked,
            "calls to outside services are not visible from outside the API",
        );
        assert_cause(&f, "memory-pressure", RuledOut, "200 MB of 1.0 GB (20%)");
        assert_cause(&f, "cpu-saturated", RuledOut, "user-api uses 12% CPU");
        verdicts(&f);

        // What the database checks found does not explain an API that answers in time.
        let f = run(&a, &view(&docker), &related("PG003: 2 queries running longer than 60s"));
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "slow-database", RuledOut, "the API answers in time although PG003: 2 queries running");
    }

    #[test]
    fn each_cause_is_confirmed_or_suspected_from_its_own_evidence() {
        let busy = user_api(97.0, 200 * MB, Some(1024 * MB));
        let f = run(&fast(), &view(&busy), &Related::default());
        assert_eq!(f.status, Status::Warning, "a confirmed cause warns although /health is fast");
        assert_cause(&f, "cpu-saturated", Confirmed, "user-api uses 97% CPU");
        assert_cause(&f, "memory-pressure", RuledOut, "(20%)");

        let full = user_api(10.0, 950 * MB, Some(1000 * MB));
        let f = run(&fast(), &view(&full), &Related::default());
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "memory-pressure", Confirmed, "950 MB of 1000 MB (95%)");
        let unlimited = user_api(10.0, 950 * MB, None);
        let f = run(&fast(), &view(&unlimited), &Related::default());
        assert_cause(&f, "memory-pressure", RuledOut, "950 MB used, no memory limit");

        let hung = api(failure("GET", HEALTH, HttpErrorKind::Timeout, "operation timed out"));
        let f = run(&hung, &DockerView::none(), &related("PG002: 97 of 100 connections in use"));
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "slow-database", Suspected, "PG002: 97 of 100 connections in use");
    }

    #[test]
    fn slowness_is_told_from_health_and_metrics() {
        let slow_health = HttpFacts { latency_ms: 1500, ..answer("GET", HEALTH, 200, "ok") };
        let mut slow_handler = fast();
        slow_handler.metrics = Some(metrics(1.0, &[("/api/users/profile", 2.5), ("/health", 0.01)]));
        // The stack's alerts: 100 requests in progress warn, 500 are critical.
        let mut crowded = fast();
        crowded.metrics = Some(metrics(150.0, &[]));
        let mut quiet = fast();
        quiet.metrics = Some(metrics(12.0, &[]));
        assert_eq!(run(&quiet, &DockerView::none(), &Related::default()).status, Status::Ok);
        let mut swamped = fast();
        swamped.metrics = Some(metrics(600.0, &[]));
        let cases = [
            (
                api(failure("GET", HEALTH, HttpErrorKind::Timeout, "operation timed out")),
                Status::Critical,
                "user-api did not answer /health within",
            ),
            (
                api(failure("GET", HEALTH, HttpErrorKind::Refused, "tcp connect error")),
                Status::Critical,
                "user-api refuses or breaks the connection (connection refused)",
            ),
            (api(answer("GET", HEALTH, 503, "")), Status::Critical, "/health answers HTTP 503"),
            (api(slow_health), Status::Warning, "/health took 1500 ms (threshold 500ms)"),
            (slow_handler, Status::Critical, "slow handlers: /api/users/profile p95 2.50s"),
            (crowded, Status::Warning, "150 requests in progress"),
            (swamped, Status::Critical, "600 requests in progress"),
        ];
        for (a, status, says) in cases {
            let f = run(&a, &DockerView::none(), &Related::default());
            assert_eq!(f.status, status, "{says}");
            assert!(f.summary.en().contains(says), "{}", f.summary.en());
            assert_cause(&f, "slow-database", Unchecked, "the database checks did not run");
            assert_cause(&f, "slow-external-call", Unchecked, "not visible");
        }
    }

    /// An API whose health answered at `/healthz` (the spec's path) with `code` and `body`.
    fn spec(code: u16, body: &str) -> ApiFacts {
        use crate::facts::of::health::HealthFacts;
        use crate::facts::of::routes::PathStatus;
        let mut a = api(answer("GET", "http://localhost:8001/healthz", code, body));
        a.health_check = HealthFacts {
            path: Some("/healthz".into()),
            tried: vec![
                PathStatus { path: "/healthz".into(), status: Some(code), error: None },
                PathStatus { path: "/health".into(), status: Some(404), error: None },
            ],
            body: crate::facts::of::health::HealthBody::parse(body),
        };
        a
    }

    #[test]
    fn the_spec_health_body_is_judged_by_what_it_says() {
        let f = run(
            &spec(200, r#"{"status":"healthy","database":"ok","redis":"ok"}"#),
            &DockerView::none(),
            &Related::default(),
        );
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_eq!(f.summary.en(), "/healthz answered in 12 ms");
        assert_cause(&f, "slow-database", RuledOut, "/healthz reports database: ok");
        assert_eq!(f.evidence["health_path"], "/healthz");
        verdicts(&f);

        // HTTP 200 with an unhealthy body is a failure, and names the database.
        let f = run(
            &spec(200, r#"{"status":"unhealthy","database":"error","redis":"ok"}"#),
            &DockerView::none(),
            &Related::default(),
        );
        assert_eq!(f.status, Status::Critical, "{}", f.summary.en());
        assert!(
            f.summary.en().contains(
                "/healthz answers HTTP 200 but says the service is unhealthy: status unhealthy, database: error"
            ),
            "{}",
            f.summary.en()
        );
        assert_cause(
            &f,
            "slow-database",
            Confirmed,
            "/healthz reports database: error: user-api cannot use its database",
        );
        verdicts(&f);

        // A 503 with the body: critical, the component in error named.
        let f = run(
            &spec(503, r#"{"status":"unhealthy","database":"ok","redis":"error"}"#),
            &DockerView::none(),
            &Related::default(),
        );
        assert_eq!(f.status, Status::Critical);
        assert!(
            f.summary
                .en()
                .contains("/healthz answers HTTP 503; it reports status unhealthy, database: ok, redis: error"),
            "{}",
            f.summary.en()
        );
        assert_cause(&f, "slow-database", Unchecked, "the database checks did not run");
    }

    #[test]
    fn no_health_endpoint_is_never_ok() {
        let mut a = spec(404, r#"{"detail":"Not Found"}"#);
        a.health_check.path = None;
        a.health_check.body = None;
        a.health_check.tried[0].status = Some(404);
        let f = run(&a, &DockerView::none(), &Related::default());
        assert_eq!(f.status, Status::Unknown, "{}", f.summary.en());
        assert!(f.summary.en().starts_with("no health endpoint at /healthz, /health (HTTP 404)"), "{}", f.summary.en());
        verdicts(&f);
        // Facts recorded without the paths tried: the same.
        let f = run(&api(answer("GET", HEALTH, 404, "")), &DockerView::none(), &Related::default());
        assert_eq!(f.status, Status::Unknown);
        assert!(f.summary.en().starts_with("no health endpoint at /health "), "{}", f.summary.en());
        // Another 4xx is no health answer either.
        let f = run(&spec(401, r#"{"detail":"Not authenticated"}"#), &DockerView::none(), &Related::default());
        assert_eq!(f.status, Status::Warning);
        assert!(f.summary.en().contains("/healthz answers HTTP 401, which is no health answer"), "{}", f.summary.en());
    }

    #[test]
    fn container_figures_need_a_running_container() {
        let unchecked = |docker: &DockerView, says: &str| {
            let f = run(&fast(), docker, &Related::default());
            assert_eq!(f.status, Status::Ok);
            assert_cause(&f, "cpu-saturated", Unchecked, says);
            assert_cause(&f, "memory-pressure", Unchecked, says);
        };
        unchecked(&DockerView::none(), "needs the Docker engine");
        unchecked(&DockerView { facts: None, disabled: true }, "not checked: --no-docker");
        let down = engine_down();
        unchecked(&view(&down), "the Docker engine is unreachable (see DK001)");
        let mut gone = engine(vec![]);
        gone.containers.push(missing("user-api"));
        unchecked(&view(&gone), "no container user-api");
        let stopped = engine(vec![exited("user-api", 137)]);
        unchecked(&view(&stopped), "user-api is not running, no figures");
    }
}
