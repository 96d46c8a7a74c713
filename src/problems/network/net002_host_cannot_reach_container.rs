//! NET002: this host cannot reach a container. For every running service of the stack and its
//! well-known port: is the port published, and on which address; does a TCP connect from here
//! succeed; does the process inside listen only on the container's loopback? May confirm
//! `port-not-published` and `bound-to-container-loopback`; `firewall` is suspected when the
//! port is published and listened on, yet the connect from here fails.

use super::{Listening, listening_on};
use crate::config::DEFAULT_STACK;
use crate::problems::Ctx;
use crate::problems::engine::{DockerView, Seen};
use crate::report::{Finding, Status, Verdict::*};

pub fn diagnose(view: &DockerView, ctx: &Ctx) -> Finding {
    let mut out = Finding::new("NET002", "host");
    if let Some(why) = view.unavailable(ctx) {
        out.causes_all(&["port-not-published", "bound-to-container-loopback", "firewall"], Unchecked, &why);
        return out.status(Status::Skipped, why);
    }
    let (mut unpublished, mut loopback, mut blocked, mut fine, mut unknown) = (vec![], vec![], vec![], vec![], vec![]);
    for (service, _, url) in DEFAULT_STACK {
        let Some(port) = crate::urls::parse_endpoint(url).map(|e| e.port) else { continue };
        let Seen::Found(c) = view.seen(service, ctx) else { continue };
        if !c.running {
            continue;
        }
        let bindings: Vec<_> = c.ports.iter().filter(|p| p.container_port == port && p.host_port.is_some()).collect();
        let listen = listening_on(c, port);
        if bindings.is_empty() {
            unpublished.push(ctx.tr(
                format!("{}: port {port} is not published", c.name),
                format!("{}: ポート {port} が公開されていない", c.name),
            ));
            continue;
        }
        let shown: Vec<String> = bindings
            .iter()
            .map(|b| format!("{}:{}", b.host_ip.as_deref().unwrap_or("0.0.0.0"), b.host_port.unwrap_or(0)))
            .collect();
        if listen == Listening::LoopbackOnly {
            loopback.push(ctx.tr(
                format!(
                    "{}: published on {}, but inside it listens on port {port} only on 127.0.0.1",
                    c.name,
                    shown.join(", ")
                ),
                format!(
                    "{}: {} で公開されているが、コンテナ内ではポート {port} を 127.0.0.1 のみで待ち受けている",
                    c.name,
                    shown.join(", ")
                ),
            ));
            continue;
        }
        if listen == Listening::Unknown {
            unknown.push(c.name.clone());
        }
        match bindings.iter().find_map(|b| b.from_host.clone()) {
            Some(Ok(ms)) => fine.push(format!("{} {} ({ms} ms)", c.name, shown.join(", "))),
            Some(Err(e)) if listen == Listening::Everywhere => blocked.push(ctx.tr(
                format!(
                    "{}: published on {} and listening, but a connect from here failed: {e}",
                    c.name,
                    shown.join(", ")
                ),
                format!("{}: {} で公開・待ち受けしているが、ここからの接続に失敗: {e}", c.name, shown.join(", ")),
            )),
            Some(Err(e)) => blocked.push(ctx.tr(
                format!("{}: connect to {} failed: {e}", c.name, shown.join(", ")),
                format!("{}: {} への接続に失敗: {e}", c.name, shown.join(", ")),
            )),
            None => {}
        }
    }
    out.fact("reachable", &fine);
    let ok = if fine.is_empty() {
        ctx.tr("no running service of the stack to look at", "確認対象の稼働中サービスがない")
    } else {
        ctx.tr(
            format!("reachable from here: {}", fine.join(", ")),
            format!("このホストから到達可能: {}", fine.join(", ")),
        )
    };
    let pick = |v: &Vec<String>, yes| if v.is_empty() { (RuledOut, ok.clone()) } else { (yes, v.join("; ")) };
    let (v, e) = pick(&unpublished, Confirmed);
    out.cause("port-not-published", v, e);
    if loopback.is_empty() && !unknown.is_empty() {
        out.cause(
            "bound-to-container-loopback",
            Unchecked,
            ctx.tr(
                format!("the listening sockets of {} could not be read", unknown.join(", ")),
                format!("{} の待ち受けソケットを読み取れなかった", unknown.join(", ")),
            ),
        );
    } else {
        let (v, e) = pick(&loopback, Confirmed);
        out.cause("bound-to-container-loopback", v, e);
    }
    let (v, e) = pick(&blocked, Suspected);
    out.cause("firewall", v, e);
    let problems: Vec<String> = unpublished.iter().chain(&loopback).chain(&blocked).cloned().collect();
    if problems.is_empty() {
        out.status(Status::Ok, ok)
    } else if unpublished.is_empty() && loopback.is_empty() {
        out.status(Status::Warning, problems.join("; "))
    } else {
        out.status(Status::Critical, problems.join("; "))
    }
}
