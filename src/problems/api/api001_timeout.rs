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
        None => out.cause(
            "slow-database",
            if problem { Unchecked } else { RuledOut },
            ctx.tr(
                "the database checks of this run found nothing (run doctor all to include them)",
                "この実行のデータベースチェックでは問題なし（doctor all で含める）",
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
                let cpu = s.cpu_percent.unwrap_or(0.0);
                out.cause(
                    "cpu-saturated",
                    if cpu >= 90.0 { Confirmed } else { RuledOut },
                    ctx.tr(format!("{} uses {cpu:.0}% CPU", c.name), format!("{} の CPU 使用率 {cpu:.0}%", c.name)),
                );
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
