//! PERF001: slow responses. Reads request latency from Prometheus (p95 per job of
//! `http_request_duration_seconds`) when it answers, else per handler from the APIs' `/metrics`
//! (p95), else the doctor's own `/health` timings, and links what the database, cache and container
//! checks of the same run found. Confirms `cpu-saturated` from the containers' figures;
//! `slow-database` and `cache-misses` are suspected from PG002/PG003 and RD003.

use crate::probe::web::WebFacts;
use crate::problems::engine::DockerView;
use crate::problems::related::Related;
use crate::problems::{Ctx, secs};
use crate::report::{Finding, Status, Verdict::*};

pub fn diagnose(w: &WebFacts, docker: &DockerView, related: &Related, ctx: &Ctx) -> Finding {
    let mut out = Finding::new("PERF001", "services");
    let warn = ctx.thresholds.response_time_warn.as_secs_f64();
    let mut slow = Vec::new();
    let mut seen = Vec::new();
    // Prometheus first (the runbook's own source), else each API's /metrics, else /health.
    let from_prometheus = match w.prometheus.as_ref().map(|p| (p, &p.p95)) {
        Some((_, Some(Ok(jobs)))) if !jobs.is_empty() => {
            for (job, v) in jobs {
                seen.push(format!("{job} p95 {v:.2}s (Prometheus)"));
                if *v >= warn {
                    slow.push(format!("{job} p95 {v:.2}s (Prometheus)"));
                }
            }
            out.fact("latency_source", "prometheus");
            true
        }
        Some((p, answer)) => {
            let why = match answer {
                Some(Ok(_)) => {
                    ctx.tr("no http_request_duration_seconds series", "http_request_duration_seconds の系列がない")
                }
                Some(Err(e)) => e.clone(),
                None => crate::problems::auth::au002_jwt_verification_fails::http_failure(&p.http, ctx)
                    .unwrap_or_else(|| ctx.tr("no answer", "応答なし")),
            };
            out.fact(
                "prometheus",
                ctx.tr(format!("{} not used: {why}", p.base_url), format!("{} は使えない: {why}", p.base_url)),
            );
            false
        }
        None => false,
    };
    for a in w.apis.iter().filter(|_| !from_prometheus) {
        match &a.metrics {
            Some(m) if !m.p95.is_empty() => {
                for (h, v) in &m.p95 {
                    seen.push(format!("{} {h} p95 {:.2}s", a.service, v));
                    if *v >= warn {
                        slow.push(format!("{} {h} p95 {:.2}s", a.service, v));
                    }
                }
            }
            _ if a.health.status.is_some() => {
                let s = a.health.latency_ms as f64 / 1000.0;
                seen.push(format!("{} /health {}", a.service, secs(s)));
                if s >= warn {
                    slow.push(format!("{} /health {}", a.service, secs(s)));
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
    } else {
        Status::Warning
    };
    let problem = status != Status::Ok;
    let link = |v: &Option<String>| match (v, problem) {
        (Some(t), true) => (Suspected, t.clone()),
        (Some(t), false) => {
            (RuledOut, ctx.tr(format!("responses are fast although {t}"), format!("{t} だが応答は速い")))
        }
        (None, _) => (RuledOut, ctx.tr("nothing found by the checks of this run", "この実行のチェックでは問題なし")),
    };
    let (v, e) = link(&related.database);
    out.cause("slow-database", v, e);
    let (v, e) = link(&related.cache);
    out.cause("cache-misses", v, e);
    let busy: Vec<String> = docker
        .found()
        .iter()
        .filter_map(|c| {
            c.stats
                .as_ref()
                .and_then(|s| s.cpu_percent)
                .filter(|p| *p >= 90.0)
                .map(|p| format!("{} {p:.0}% CPU", c.name))
        })
        .collect();
    match docker.unavailable(ctx) {
        Some(why) => out.cause("cpu-saturated", Unchecked, why),
        None if busy.is_empty() => out.cause(
            "cpu-saturated",
            RuledOut,
            ctx.tr("no container above 90% CPU", "CPU 使用率 90% を超えるコンテナはない"),
        ),
        None => out.cause("cpu-saturated", Confirmed, busy.join(", ")),
    }
    out.cause(
        "slow-external-call",
        Unchecked,
        ctx.tr(
            "calls to outside services are not visible from outside (see traces)",
            "外部サービス呼び出しは外からは見えない（トレースを確認）",
        ),
    );
    let summary = if seen.is_empty() {
        ctx.tr("no latency could be measured (APIs unreachable)", "レイテンシを測定できなかった（API に到達できない）")
    } else if slow.is_empty() {
        ctx.tr(
            format!("within {}: {}", secs(warn), seen.join(", ")),
            format!("{} 以内: {}", secs(warn), seen.join(", ")),
        )
    } else {
        ctx.tr(
            format!("slower than {}: {}", secs(warn), slow.join(", ")),
            format!("{} より遅い: {}", secs(warn), slow.join(", ")),
        )
    };
    out.status(status, summary)
}
