//! NET002: this host cannot reach a container. For every running service of the stack, the
//! host port doctor reaches it on (the stack model's address: the published port it found, or
//! the one configured): is that port published, and on which address; does a TCP connect from
//! here succeed; does the process inside listen on the binding's container port (8000 behind
//! 8002 in the spec's layout), and only on its own loopback? May confirm `port-not-published`
//! and `bound-to-container-loopback`; `firewall` is suspected when the port is published and
//! listened on, yet the connect from here fails. Away from the engine's host, a port published
//! on that host's loopback only is not tried, and said so (problems/away.rs).

use super::{Listening, listening_on};
use crate::catalogue::Area;
use crate::problems::engine::{DockerView, Seen};
use crate::problems::registry::{Inputs, Problem};
use crate::report::{Finding, Status, Verdict::*};
use crate::stack::Stack;
use crate::stack::roles::ROLES;
use crate::t;
use crate::text::{Sep, Text};

crate::causes! {
    PortNotPublished = "port-not-published",
    BoundToContainerLoopback = "bound-to-container-loopback",
    Firewall = "firewall",
}

pub static PROBLEM: Problem = Problem {
    code: "NET002",
    areas: &[Area::Network],
    runbook: crate::runbook!("network/NET002-host-cannot-reach-container.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    vec![i.timed(diagnose(&i.docker, i.facts.stack.as_ref()), i.facts.docker_ms)]
}

/// The host port doctor reaches a role on: its address in the stack model (the routed one for
/// a URL written for the containers), else the specification's port.
fn host_port(stack: Option<&Stack>, role: &str) -> Option<u16> {
    let m = stack.and_then(|s| s.member(role));
    let from_model = m.and_then(|m| m.host_url.as_deref()).and_then(|u| match u.rsplit_once("(via ") {
        Some((_, via)) => via.trim_end_matches(')').rsplit_once(':').and_then(|(_, p)| p.parse().ok()),
        None => crate::urls::parse_endpoint(u).map(|e| e.port),
    });
    from_model.or_else(|| crate::stack::roles::role(role).map(|r| r.host_port))
}

pub fn diagnose(view: &DockerView, stack: Option<&Stack>) -> Finding {
    let mut out = Finding::new("NET002", "host");
    if let Some(why) = view.unavailable() {
        out.causes_all(
            &[Cause::PortNotPublished, Cause::BoundToContainerLoopback, Cause::Firewall],
            Unchecked,
            why.clone(),
        );
        return out.status(Status::Skipped, why);
    }
    let (mut unpublished, mut loopback, mut blocked): (Vec<Text>, Vec<Text>, Vec<Text>) = (vec![], vec![], vec![]);
    let (mut fine, mut unknown): (Vec<String>, Vec<String>) = (vec![], vec![]);
    // Away from the engine's host, a port on that host's loopback cannot be tried from here.
    let away = stack.and_then(|s| s.away.as_ref());
    let mut unseen: Vec<Text> = Vec::new();
    for role in ROLES {
        let Some(port) = host_port(stack, role.key) else { continue };
        let Seen::Found(c) = view.seen(role.key) else { continue };
        if !c.running {
            continue;
        }
        if let Some(why) = away.and_then(|a| crate::problems::away::unseen(a, role.key)) {
            unseen.push(why);
            continue;
        }
        let bindings: Vec<_> = c.ports.iter().filter(|p| p.host_port == Some(port) && p.proto == "tcp").collect();
        if bindings.is_empty() {
            let others: Vec<String> =
                c.ports.iter().filter_map(|p| Some(format!("{}->{}", p.host_port?, p.container_port))).collect();
            unpublished.push(if others.is_empty() {
                t!("NET002/publishes-no-port", container = &c.name, port = port)
            } else {
                t!("NET002/port-not-published", container = &c.name, port = port, published = others.join(", "))
            });
            continue;
        }
        // The process listens on the binding's container port (8000 behind 8002, 3000 behind 3002).
        let inner = bindings[0].container_port;
        let listen = listening_on(c, inner);
        let shown: Vec<String> = bindings
            .iter()
            .map(|b| {
                format!(
                    "{}:{}->{}",
                    b.host_ip.as_deref().unwrap_or("0.0.0.0"),
                    b.host_port.unwrap_or(0),
                    b.container_port
                )
            })
            .collect();
        if listen == Listening::LoopbackOnly {
            loopback.push(t!(
                "NET002/listens-on-loopback-only",
                container = &c.name,
                bindings = shown.join(", "),
                port = inner
            ));
            continue;
        }
        if listen == Listening::Unknown {
            unknown.push(c.name.clone());
        }
        match bindings.iter().find_map(|b| b.from_host.clone()) {
            Some(Ok(ms)) => fine.push(format!("{} {} ({ms} ms)", c.name, shown.join(", "))),
            Some(Err(e)) if listen == Listening::Everywhere => blocked.push(t!(
                "NET002/listening-but-connect-failed",
                container = &c.name,
                bindings = shown.join(", "),
                error = e
            )),
            Some(Err(e)) => {
                blocked.push(t!("NET002/connect-failed", container = &c.name, bindings = shown.join(", "), error = e))
            }
            None => {}
        }
    }
    out.fact("reachable", &fine);
    let looked_at = fine.len() + unpublished.len() + loopback.len() + blocked.len();
    if fine.is_empty() && looked_at == 0 {
        // No running service, or none whose connect was tried: no evidence either way.
        let why = if !unseen.is_empty() {
            Text::join(unseen, Sep::Clauses)
        } else if view.found().iter().any(|c| c.running) {
            t!("NET002/nothing-to-look-at")
        } else {
            t!("shared/no-running-container")
        };
        let ids = [Cause::PortNotPublished, Cause::BoundToContainerLoopback, Cause::Firewall];
        out.causes_all(&ids, Unchecked, why.clone());
        return out.status(Status::Skipped, why);
    }
    let ok = t!("NET002/reachable", services = fine.join(", "));
    let pick = |v: &Vec<Text>, yes| {
        if !v.is_empty() {
            (yes, Text::join(v.clone(), Sep::Clauses))
        } else if fine.is_empty() {
            // Only failing services were seen: nothing shows this cause absent.
            (Unchecked, t!("NET002/none-reachable"))
        } else {
            (RuledOut, ok.clone())
        }
    };
    let (v, e) = pick(&unpublished, Confirmed);
    out.cause(Cause::PortNotPublished, v, e);
    if loopback.is_empty() && !unknown.is_empty() {
        out.cause(
            Cause::BoundToContainerLoopback,
            Unchecked,
            t!("NET002/sockets-unreadable", containers = unknown.join(", ")),
        );
    } else {
        let (v, e) = pick(&loopback, Confirmed);
        out.cause(Cause::BoundToContainerLoopback, v, e);
    }
    let (v, e) = pick(&blocked, Suspected);
    out.cause(Cause::Firewall, v, e);
    let problems: Vec<Text> = unpublished.iter().chain(&loopback).chain(&blocked).cloned().collect();
    if problems.is_empty() {
        out.status(Status::Ok, ok)
    } else if unpublished.is_empty() && loopback.is_empty() {
        out.status(Status::Warning, Text::join(problems, Sep::Clauses))
    } else {
        out.status(Status::Critical, Text::join(problems, Sep::Clauses))
    }
}
