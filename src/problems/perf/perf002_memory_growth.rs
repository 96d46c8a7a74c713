//! PERF002: memory keeps growing. Reads every container's memory use against its limit and the
//! `OOMKilled` flag of its last exit. May confirm `oom-killed` and `near-memory-limit`;
//! `memory-growth` needs samples over time and stays `unchecked` in a single snapshot.

use crate::problems::engine::{self, DockerView};
use crate::problems::{Ctx, bytes, percent};
use crate::report::{Finding, Status, Verdict::*};

const NEAR: f64 = 0.9;

pub fn diagnose(view: &DockerView, ctx: &Ctx) -> Finding {
    let mut out = Finding::new("PERF002", "containers");
    if let Some(why) = view.unavailable(ctx) {
        out.causes_all(&["memory-growth", "near-memory-limit", "oom-killed"], Unchecked, &why);
        return out.status(Status::Skipped, why);
    }
    out.cause(
        "memory-growth",
        Unchecked,
        ctx.tr(
            "one snapshot cannot show growth: compare `docker stats --no-stream` over time",
            "1 回の測定では増加傾向は分からない: 時間をおいて `docker stats --no-stream` を比較",
        ),
    );
    let containers = view.found();
    let killed: Vec<String> = containers
        .iter()
        .filter(|c| c.oom_killed)
        .map(|c| format!("{} ({})", c.name, engine::describe_state(c, ctx)))
        .collect();
    let mut near = Vec::new();
    let mut usage = Vec::new();
    for c in &containers {
        let (Some(s), Some(limit)) = (&c.stats, c.memory_limit) else { continue };
        let share = s.mem_used as f64 / limit as f64;
        usage.push(format!("{} {}", c.name, percent(share)));
        if share >= NEAR {
            near.push(ctx.tr(
                format!("{} uses {} of its {} limit ({})", c.name, bytes(s.mem_used), bytes(limit), percent(share)),
                format!(
                    "{} はメモリ制限 {} のうち {} を使用（{}）",
                    c.name,
                    bytes(limit),
                    bytes(s.mem_used),
                    percent(share)
                ),
            ));
        }
    }
    out.fact("memory_share_of_limit", &usage);
    if killed.is_empty() {
        out.cause(
            "oom-killed",
            RuledOut,
            ctx.tr("no container of the stack was OOM-killed", "OOM Kill されたコンテナはない"),
        );
    } else {
        out.cause("oom-killed", Confirmed, killed.join("; "));
    }
    if near.is_empty() {
        out.cause(
            "near-memory-limit",
            RuledOut,
            if usage.is_empty() {
                ctx.tr("no container has a memory limit", "メモリ制限のあるコンテナはない")
            } else {
                ctx.tr(
                    format!("below {} of the limit: {}", percent(NEAR), usage.join(", ")),
                    format!("いずれも制限の {} 未満: {}", percent(NEAR), usage.join(", ")),
                )
            },
        );
    } else {
        out.cause("near-memory-limit", Confirmed, near.join("; "));
    }
    let dead = containers.iter().any(|c| c.oom_killed && !c.running);
    let status = if dead {
        Status::Critical
    } else if !killed.is_empty() || !near.is_empty() {
        Status::Warning
    } else {
        Status::Ok
    };
    let summary = match status {
        Status::Ok => ctx.tr(
            "no container near its memory limit or OOM-killed",
            "メモリ制限に近いコンテナ・OOM Kill されたコンテナはない",
        ),
        _ => killed.into_iter().chain(near).collect::<Vec<_>>().join("; "),
    };
    out.status(status, summary)
}
