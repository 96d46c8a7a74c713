//! Log lines as evidence: a symptom line of the catalogue found in a container's recent logs
//! becomes evidence on the check of its problem ("postgres logged 'FATAL: sorry, too many
//! clients already' 37 times in the last 10m"). A check that looks fine now but whose symptom
//! was logged recently is raised to a warning: the problem comes and goes.

use super::{Ctx, secs};
use crate::probe::docker::DockerFacts;
use crate::report::{Finding, Status};

pub fn attach(f: &mut Finding, docker: &DockerFacts, ctx: &Ctx) {
    let mut lines = Vec::new();
    let mut total = 0;
    for c in docker.containers.iter().filter_map(|l| l.container.as_ref()) {
        let Some(logs) = &c.logs else { continue };
        for h in logs.hits.iter().filter(|h| h.code == f.code) {
            total += h.count;
            let window = secs(logs.since_s as f64);
            lines.push(ctx.tr(
                format!(
                    "{} logged {:?} {} times in the last {window} (latest: {})",
                    c.name, h.signature, h.count, h.sample
                ),
                format!("{} は直近 {window} に {:?} を {} 回記録（最新: {}）", c.name, h.signature, h.count, h.sample),
            ));
        }
    }
    if lines.is_empty() {
        return;
    }
    f.fact("logs", &lines);
    if f.status == Status::Ok {
        f.status = Status::Warning;
        f.summary = ctx.tr(
            format!("{}; but {total} matching error lines were logged recently", f.summary),
            format!("{}。ただし直近のログに該当するエラーが {total} 行ある", f.summary),
        );
    }
}
