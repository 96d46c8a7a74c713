//! DK002 (beyond the contract's list): a container of the stack is missing, stopped, restarting
//! in a loop, or running but unhealthy: what `docker ps -a` shows, judged for every expected
//! service at once. Prometheus and the MCP server are optional and never counted as missing.

use crate::catalogue::Area;
use crate::problems::engine::{DockerView, Seen, describe_state};
use crate::problems::registry::{Inputs, Problem};
use crate::report::{Finding, Status, Verdict::*};
use crate::t;
use crate::text::{Sep, Text};

crate::causes! {
    ContainerMissing = "container-missing",
    ContainerExited = "container-exited",
    RestartLoop = "restart-loop",
    Unhealthy = "unhealthy",
}

pub static PROBLEM: Problem = Problem {
    code: "DK002",
    areas: &[Area::Docker],
    runbook: crate::runbook!("docker/DK002-container-not-running.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    vec![i.timed(diagnose(&i.docker), i.facts.docker_ms)]
}

/// Roles a healthy stack may lack.
fn optional(role: &str) -> bool {
    crate::stack::roles::role(role).is_some_and(|r| r.optional)
}
/// "postgres: exited with exit code 1 3m ago".
fn labelled(name: &str, what: Text) -> Text {
    Text::join([name.into(), ": ".into(), what], Sep::Concat)
}

/// Restarts within this time of the last start make a loop.
const LOOP_WINDOW_S: f64 = 600.0;

pub fn diagnose(view: &DockerView) -> Finding {
    let mut out = Finding::new("DK002", "containers");
    let ids = [Cause::ContainerMissing, Cause::ContainerExited, Cause::RestartLoop, Cause::Unhealthy];
    if let Some(why) = view.unavailable() {
        out.causes_all(&ids, Unchecked, why.clone());
        return out.status(Status::Skipped, why);
    }
    let Some(f) = view.facts else { return out.status(Status::Skipped, String::new()) };
    let (mut missing, mut fine): (Vec<String>, Vec<String>) = (vec![], vec![]);
    let (mut exited, mut looping, mut unhealthy, mut starting): (Vec<Text>, Vec<Text>, Vec<Text>, Vec<Text>) =
        (vec![], vec![], vec![], vec![]);
    let mut down: Vec<String> = Vec::new();
    // What the ended and looping containers last wrote: the line that says why.
    let mut last_lines: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for l in &f.containers {
        let seen = view.seen(&l.service);
        let counted = match &seen {
            Seen::Missing(_) => !optional(&l.service),
            Seen::Found(c) => {
                c.status == "restarting"
                    || !c.running
                    || c.status == "paused"
                    || c.health.as_ref().is_some_and(|h| h.status == "unhealthy")
            }
            Seen::Unknown(_) => true,
        };
        if counted {
            down.push(l.service.clone());
        }
        match seen {
            Seen::Unknown(why) => exited.push(labelled(&l.service, why)),
            Seen::Missing(name) => {
                if !optional(&l.service) {
                    missing.push(name);
                }
            }
            Seen::Found(c) => {
                let state = describe_state(c);
                let recent = c.started_age_s.is_some_and(|a| a < LOOP_WINDOW_S);
                let ended = c.status == "restarting" || (c.restart_count >= 3 && recent) || !c.running;
                if let Some(lines) = c.logs.as_ref().map(|l| &l.last_lines).filter(|l| ended && !l.is_empty()) {
                    last_lines.insert(c.name.clone(), lines.clone());
                }
                if c.status == "restarting" || (c.restart_count >= 3 && recent) {
                    looping.push(labelled(&c.name, state));
                } else if !c.running || c.status == "paused" {
                    exited.push(labelled(&c.name, state));
                } else if let Some(h) = c.health.as_ref().filter(|h| h.status == "unhealthy") {
                    let probe = h.last_output.as_deref().map(|o| format!(" — {o}")).unwrap_or_default();
                    unhealthy.push(t!(
                        "DK002/healthcheck-failing",
                        container = &c.name,
                        streak = h.failing_streak,
                        probe = probe
                    ));
                } else if c.health.as_ref().is_some_and(|h| h.status == "starting") {
                    starting.push(labelled(&c.name, state));
                } else {
                    fine.push(c.name.clone());
                }
            }
        }
    }
    out.fact("running", &fine);
    // Which services are down, so that the report can say which other failures this explains.
    out.fact("not_running", &down);
    if !last_lines.is_empty() {
        out.fact("last_log_lines", &last_lines);
    }
    let ok = t!("DK002/running", names = fine.join(", "));
    let verdict = |v: &Vec<Text>| {
        if v.is_empty() { (RuledOut, ok.clone()) } else { (Confirmed, Text::join(v.clone(), Sep::Clauses)) }
    };
    if missing.is_empty() {
        out.cause(Cause::ContainerMissing, RuledOut, ok.clone());
    } else {
        out.cause(Cause::ContainerMissing, Confirmed, t!("DK002/no-container-for", names = missing.join("; ")));
    }
    let (v, e) = verdict(&exited);
    out.cause(Cause::ContainerExited, v, e);
    let (v, e) = verdict(&looping);
    out.cause(Cause::RestartLoop, v, e);
    if unhealthy.is_empty() && !starting.is_empty() {
        out.cause(
            Cause::Unhealthy,
            Suspected,
            t!("DK002/healthcheck-starting", containers = Text::join(starting.clone(), Sep::Clauses)),
        );
    } else {
        let (v, e) = verdict(&unhealthy);
        out.cause(Cause::Unhealthy, v, e);
    }
    let expected = f.containers.iter().filter(|l| !optional(&l.service)).count();
    let problems: Vec<Text> = missing
        .iter()
        .map(|m| t!("DK002/missing", container = m))
        .chain(exited.iter().cloned())
        .chain(looping.iter().cloned())
        .chain(unhealthy.iter().cloned())
        .collect();
    if missing.len() == expected && expected > 0 {
        return out.status(Status::Critical, t!("DK002/none-exists", expected = expected, host = &f.host));
    }
    if !problems.is_empty() {
        out.status(Status::Critical, Text::join(problems, Sep::Clauses))
    } else if !starting.is_empty() {
        out.status(Status::Warning, Text::join(starting, Sep::Clauses))
    } else {
        out.status(Status::Ok, t!("DK002/all-running", count = fine.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::of::docker::LogFacts;
    use crate::problems::fixtures::{engine, exited, running, view};

    fn with_last(
        mut c: crate::facts::of::docker::ContainerFacts,
        lines: &[&str],
    ) -> crate::facts::of::docker::ContainerFacts {
        c.logs = Some(LogFacts { last_lines: lines.iter().map(|l| l.to_string()).collect(), ..Default::default() });
        c
    }

    /// The line that explains a crash at start goes with the finding; a running container's
    /// last lines say nothing about why anything ended and are left out.
    #[test]
    fn an_ended_containers_last_lines_are_evidence() {
        let initdb = "initdb: error: directory \"/var/lib/postgresql/data\" exists but is not empty";
        let d = engine(vec![
            with_last(exited("postgres", 1), &["fixing permissions", initdb]),
            with_last(running("redis"), &["Ready"]),
        ]);
        let f = diagnose(&view(&d));
        assert_eq!(f.status, Status::Critical);
        let last = &f.evidence["last_log_lines"];
        assert_eq!(last["postgres"][1], initdb, "{last}");
        assert!(last.get("redis").is_none(), "{last}");
        let d = engine(vec![with_last(running("postgres"), &["ready"])]);
        assert!(diagnose(&view(&d)).evidence.get("last_log_lines").is_none());
    }
}
