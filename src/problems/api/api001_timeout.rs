//! API001: the API does not answer (timeout). Reads `/health` (status and latency, a hang told
//! apart from a refusal), `/metrics` (requests in progress, p50/p95 per handler), the
//! container's CPU and memory, and what the database checks of the same run found. May confirm
//! `cpu-saturated` and `memory-pressure`; `slow-database` is suspected from PG002/PG003;
//! `slow-external-call` has no evidence visible from outside the service.

use crate::probe::http::HttpErrorKind;
use crate::probe::web::ApiFacts;
use crate::problems::engine::{DockerView, Seen};
use crate::problems::related::Related;
use crate::problems::{Ctx, bytes, percent, secs};
use crate::report::{Finding, Status, Verdict::*};

pub fn diagnose(a: &ApiFacts, docker: &DockerView, related: &Related, ctx: &Ctx) -> Finding {
    let mut out = Finding::new("API001", format!("{} {}", a.service, a.base_url));
    let warn = ctx.thresholds.response_time_warn.as_secs_f64();
    let h = &a.health;
    out.fact("health_status", h.status);
    out.fact("health_latency_ms", h.latency_ms);
    let mut status = Status::Ok;
    let mut notes = Vec::new();
    match (&h.error, h.status) {
        (Some(e), _) if e.kind == HttpErrorKind::Timeout => {
            status = Status::Critical;
            notes.push(ctx.tr(
                format!(
                    "{} did not answer /health within {}: it hangs (requests pile up) rather than being down",
                    a.service,
                    secs(h.latency_ms as f64 / 1000.0)
                ),
                format!(
                    "{} は {} 以内に /health に応答しない: 停止ではなくハングしている（リクエストが滞留）",
                    a.service,
                    secs(h.latency_ms as f64 / 1000.0)
                ),
            ));
        }
        (Some(e), _) => {
            status = Status::Critical;
            notes.push(ctx.tr(
                format!(
                    "{} refuses or breaks the connection ({}): it is not running there (see DK002, NET002)",
                    a.service,
                    e.kind.text(ctx.lang)
                ),
                format!(
                    "{} が接続を拒否・切断した（{}）: そこで動いていない（DK002、NET002 を参照）",
                    a.service,
                    e.kind.text(ctx.lang)
                ),
            ));
        }
        (None, Some(code)) if code >= 500 => {
            status = Status::Critical;
            notes.push(ctx.tr(format!("/health answers HTTP {code}"), format!("/health が HTTP {code} を返した")));
        }
        (None, Some(_)) if h.latency_ms as f64 / 1000.0 >= warn => {
            status = Status::Warning;
            notes.push(ctx.tr(
                format!("/health took {} ms (threshold {})", h.latency_ms, secs(warn)),
                format!("/health に {} ms（基準 {}）", h.latency_ms, secs(warn)),
            ));
        }
        _ => {}
    }
    if let Some(m) = &a.metrics {
        out.fact("requests_in_progress", m.in_progress);
        out.fact("p95_seconds", &m.p95);
        let slow: Vec<String> =
            m.p95.iter().filter(|(_, v)| **v >= warn).map(|(k, v)| format!("{k} p95 {:.2}s", v)).collect();
        if !slow.is_empty() {
            status = status.max(Status::Warning);
            notes.push(
                ctx.tr(format!("slow handlers: {}", slow.join(", ")), format!("遅いハンドラ: {}", slow.join(", "))),
            );
        }
        if m.in_progress.is_some_and(|n| n >= 10.0) {
            status = status.max(Status::Warning);
            notes.push(ctx.tr(
                format!("{} requests in progress", m.in_progress.unwrap_or(0.0)),
                format!("処理中のリクエスト {}", m.in_progress.unwrap_or(0.0)),
            ));
        }
    }
    let problem = status != Status::Ok;
    match &related.database {
        Some(d) if problem => out.cause("slow-database", Suspected, d.clone()),
        Some(d) => out.cause(
            "slow-database",
            RuledOut,
            ctx.tr(format!("the API answers in time although {d}"), format!("{d} だが API は時間内に応答している")),
        ),
        None if related.database_checked => out.cause(
            "slow-database",
            if problem { Unchecked } else { RuledOut },
            ctx.tr("the database checks of this run found nothing", "この実行のデータベースチェックでは問題なし"),
        ),
        None => out.cause(
            "slow-database",
            Unchecked,
            ctx.tr(
                "the database checks did not run (doctor all includes them)",
                "データベースのチェックは未実施（doctor all で含める）",
            ),
        ),
    }
    out.cause(
        "slow-external-call",
        Unchecked,
        ctx.tr(
            "calls to outside services are not visible from outside the API (see its traces)",
            "外部サービス呼び出しは API の外からは見えない（トレースを確認）",
        ),
    );
    match docker.seen(&a.service, ctx) {
        Seen::Found(c) => match &c.stats {
            Some(s) => {
                match s.cpu_percent {
                    Some(cpu) => out.cause(
                        "cpu-saturated",
                        if cpu >= 90.0 { Confirmed } else { RuledOut },
                        ctx.tr(format!("{} uses {cpu:.0}% CPU", c.name), format!("{} の CPU 使用率 {cpu:.0}%", c.name)),
                    ),
                    None => out.cause(
                        "cpu-saturated",
                        Unchecked,
                        ctx.tr(
                            format!("no CPU figure for {}", c.name),
                            format!("{} の CPU 使用率を取得できない", c.name),
                        ),
                    ),
                }
                match c.memory_limit {
                    Some(limit) => {
                        let share = s.mem_used as f64 / limit as f64;
                        out.cause(
                            "memory-pressure",
                            if share >= 0.9 { Confirmed } else { RuledOut },
                            ctx.tr(
                                format!("{} of {} ({})", bytes(s.mem_used), bytes(limit), percent(share)),
                                format!("{} / {}（{}）", bytes(s.mem_used), bytes(limit), percent(share)),
                            ),
                        );
                    }
                    None => out.cause(
                        "memory-pressure",
                        RuledOut,
                        ctx.tr(
                            format!("{} used, no memory limit", bytes(s.mem_used)),
                            format!("使用量 {}、メモリ制限なし", bytes(s.mem_used)),
                        ),
                    ),
                }
            }
            None => {
                let why = ctx
                    .tr(format!("{} is not running, no figures", c.name), format!("{} は停止中で数値がない", c.name));
                out.cause("cpu-saturated", Unchecked, why.clone());
                out.cause("memory-pressure", Unchecked, why);
            }
        },
        Seen::Missing(n) => {
            let why = ctx.tr(format!("no container {n}"), format!("コンテナ {n} が存在しない"));
            out.cause("cpu-saturated", Unchecked, why.clone());
            out.cause("memory-pressure", Unchecked, why);
        }
        Seen::Unknown(why) => {
            out.cause("cpu-saturated", Unchecked, why.clone());
            out.cause("memory-pressure", Unchecked, why);
        }
    }
    if out.causes.iter().any(|c| c.verdict == Confirmed) {
        status = status.max(Status::Warning);
    }
    let summary = if notes.is_empty() {
        ctx.tr(format!("/health answered in {} ms", h.latency_ms), format!("/health は {} ms で応答", h.latency_ms))
    } else {
        notes.join("; ")
    };
    out.status(status, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::docker::{ContainerFacts, DockerFacts};
    use crate::probe::http::HttpFacts;
    use crate::probe::web::MetricsFacts;
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
        assert_eq!(f.status, Status::Ok, "{}", f.summary);
        assert_eq!(f.summary, "/health answered in 12 ms");
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
        let mut crowded = fast();
        crowded.metrics = Some(metrics(12.0, &[]));
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
            (api(slow_health), Status::Warning, "/health took 1500 ms (threshold 1s)"),
            (slow_handler, Status::Warning, "slow handlers: /api/users/profile p95 2.50s"),
            (crowded, Status::Warning, "12 requests in progress"),
        ];
        for (a, status, says) in cases {
            let f = run(&a, &DockerView::none(), &Related::default());
            assert_eq!(f.status, status, "{says}");
            assert!(f.summary.contains(says), "{}", f.summary);
            assert_cause(&f, "slow-database", Unchecked, "the database checks did not run");
            assert_cause(&f, "slow-external-call", Unchecked, "not visible");
        }
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
