//! NET001: services cannot reach each other. For every `*_URL` variable of every container that
//! points at another service of the stack: do the two share a network, is the host a name or
//! alias of the target there, and does the target listen on the port (read from
//! `/proc/net/tcp` inside it)? May confirm every cause; without the engine it is skipped.

use super::{Listening, listening_on};
use crate::catalogue::Area;
use crate::problems::engine::{self, DockerView, LinkProblem};
use crate::problems::registry::{Inputs, Problem};
use crate::report::{Finding, Status, Verdict::*};
use crate::t;
use crate::text::{Sep, Text};

crate::causes! {
    NoSharedNetwork = "no-shared-network",
    NameNotResolvable = "name-not-resolvable",
    PortNotListening = "port-not-listening",
}

pub static PROBLEM: Problem = Problem {
    code: "NET001",
    areas: &[Area::Network],
    runbook: crate::runbook!("network/NET001-services-cannot-reach-each-other.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    vec![i.timed(diagnose(&i.docker), i.facts.docker_ms)]
}

pub fn diagnose(view: &DockerView) -> Finding {
    let mut out = Finding::new("NET001", "containers");
    if let Some(why) = view.unavailable() {
        out.causes_all(
            &[Cause::NoSharedNetwork, Cause::NameNotResolvable, Cause::PortNotListening],
            Unchecked,
            why.clone(),
        );
        return out.status(Status::Skipped, why);
    }
    // Container to container only: a browser-side `NEXT_PUBLIC_*` link is FE001's.
    let links: Vec<_> =
        crate::stack::roles::keys().flat_map(|s| engine::links_to(view, s)).filter(|l| !l.browser).collect();
    if links.is_empty() {
        // Nothing to look at is no evidence that the links work: not applicable, said why.
        let running = view.found().iter().filter(|c| c.running).count();
        let why = if running == 0 { t!("shared/no-running-container") } else { t!("NET001/no-links", count = running) };
        out.causes_all(
            &[Cause::NoSharedNetwork, Cause::NameNotResolvable, Cause::PortNotListening],
            Unchecked,
            why.clone(),
        );
        return out.status(Status::Skipped, why);
    }
    // A fact, in the run's language as every fact is.
    out.fact_texts("links", links.iter().map(engine::describe_link));
    let no_net: Vec<Text> = links
        .iter()
        .filter(|l| matches!(l.problem, Some(LinkProblem::NoSharedNetwork { .. })))
        .map(engine::describe_link)
        .collect();
    let no_name: Vec<Text> = links
        .iter()
        .filter(|l| {
            matches!(
                l.problem,
                Some(
                    LinkProblem::NameNotResolvable { .. }
                        | LinkProblem::Localhost
                        | LinkProblem::TargetMissing
                        | LinkProblem::NoHostGateway
                )
            )
        })
        .map(engine::describe_link)
        .collect();
    // Through the Docker host, a port that is not published where the gateway reaches it is
    // a port nothing listens on, as the client sees it.
    let mut not_listening: Vec<Text> = links
        .iter()
        .filter(|l| {
            matches!(l.problem, Some(LinkProblem::NotPublishedOnHost | LinkProblem::PublishedOnLoopback { .. }))
        })
        .map(engine::describe_link)
        .collect();
    let mut unknown_listening = Vec::new();
    // A stopped target listens on nothing: that is DK002's finding, not a network one.
    let mut not_running: Vec<String> = Vec::new();
    for l in links.iter().filter(|l| l.problem.is_none()) {
        let Some(t) = l.target else { continue };
        if !t.running {
            if !not_running.contains(&t.name) {
                not_running.push(t.name.clone());
            }
            continue;
        }
        let port = l.inner_port;
        match listening_on(t, port) {
            Listening::Everywhere => {}
            Listening::No => not_listening.push(t!(
                "NET001/listens-on-no-port",
                client = &l.client.name,
                var = &l.var.name,
                url_port = l.var.port,
                target = &t.name,
                port = port
            )),
            Listening::LoopbackOnly => {
                not_listening.push(t!("NET001/loopback-only", target = &t.name, port = port, client = &l.client.name))
            }
            Listening::Unknown => unknown_listening.push(t.name.clone()),
        }
    }
    let fine = t!("NET001/all-checked", count = links.len());
    let verdict = |v: &Vec<Text>| {
        if v.is_empty() { (RuledOut, fine.clone()) } else { (Confirmed, Text::join(v.clone(), Sep::Clauses)) }
    };
    let (v, e) = verdict(&no_net);
    out.cause(Cause::NoSharedNetwork, v, e);
    let (v, e) = verdict(&no_name);
    out.cause(Cause::NameNotResolvable, v, e);
    if not_listening.is_empty() && !unknown_listening.is_empty() {
        unknown_listening.dedup();
        out.cause(
            Cause::PortNotListening,
            Unchecked,
            t!("NET001/sockets-unreadable", containers = unknown_listening.join(", ")),
        );
    } else {
        let (v, e) = verdict(&not_listening);
        out.cause(Cause::PortNotListening, v, e);
    }
    if !not_running.is_empty() && out.verdict_of(Cause::PortNotListening) == Some(RuledOut) {
        out.overrule(
            Cause::PortNotListening,
            RuledOut,
            t!("NET001/targets-not-running", containers = not_running.join(", ")),
        );
    }
    let problems = no_net.len() + no_name.len() + not_listening.len();
    if problems == 0 && !not_running.is_empty() {
        out.fact("targets_not_running", &not_running);
        out.status(
            Status::Ok,
            t!("NET001/resolve-but-not-running", count = links.len(), containers = not_running.join(", ")),
        )
    } else if problems == 0 {
        out.status(Status::Ok, t!("NET001/all-resolve-and-listen", count = links.len()))
    } else {
        let mut all: Vec<Text> = no_net.into_iter().chain(no_name).chain(not_listening).collect();
        all.truncate(3);
        out.status(Status::Critical, Text::join(all, Sep::Clauses))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::of::docker::ContainerFacts;
    use crate::problems::fixtures::*;

    #[test]
    fn browser_side_links_are_not_container_links() {
        let frontend = |var: &str| ContainerFacts {
            urls: vec![url_var(var, "localhost", 8001)],
            networks: vec![net("app")],
            ..running("user-frontend")
        };
        let api = ContainerFacts { networks: vec![net("app")], ..running("user-api") };
        // The browser's localhost is the user's machine: not NET001's business.
        let d = engine(vec![frontend("NEXT_PUBLIC_API_URL"), api.clone()]);
        let f = diagnose(&view(&d));
        assert_eq!(f.status, Status::Skipped, "{}", f.summary.en());
        assert_cause(&f, "name-not-resolvable", Unchecked, "none of the 2 running containers has a *_URL variable");
        // A stopped target listens on nothing: said, and left to DK002.
        let stopped = ContainerFacts { networks: vec![net("app")], ..exited("user-api", 0) };
        let d = engine(vec![
            ContainerFacts { urls: vec![url_var("API_URL", "user-api", 8001)], ..frontend("AUTH_URL") },
            stopped,
        ]);
        let f = diagnose(&view(&d));
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert!(f.summary.en().contains("user-api not running, so not listening (see DK002)"), "{}", f.summary.en());
        assert_cause(&f, "port-not-listening", RuledOut, "user-api not running (see DK002)");
        // The container's own localhost is the container itself.
        let d = engine(vec![frontend("API_URL"), api]);
        let f = diagnose(&view(&d));
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "name-not-resolvable", Confirmed, "API_URL=localhost:8001: inside a container, localhost is");
    }
}
