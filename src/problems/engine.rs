//! What the Docker engine adds to any problem: whether a container exists and runs, how it
//! ended, and whether the services that point at it (their `*_URL` variables) can reach it by
//! name on a network they share. Shared by the PostgreSQL, Redis, network and perf problems so
//! that "container stopped" or "network isolated" is judged the same way everywhere.

use super::{bytes, secs};
use crate::facts::of::docker::{ContainerFacts, DockerFacts, UrlVar};
use crate::report::{CauseId, Finding, Verdict};
use crate::t;
use crate::text::{Sep, Text};

/// The engine's evidence as diagnosis sees it.
#[derive(Debug, Clone, Copy)]
pub struct DockerView<'a> {
    pub facts: Option<&'a DockerFacts>,
    /// `--no-docker`: the engine was deliberately not asked.
    pub disabled: bool,
}

/// A container of the stack, as far as the engine could tell.
#[derive(Debug, Clone)]
pub enum Seen<'a> {
    /// Nothing is known, and why.
    Unknown(Text),
    /// The engine answered: no container by that name or compose service label.
    Missing(String),
    Found(&'a ContainerFacts),
}

impl<'a> DockerView<'a> {
    pub fn none() -> DockerView<'static> {
        DockerView { facts: None, disabled: false }
    }

    /// Why container evidence is missing, or `None` when the engine answered.
    pub fn unavailable(&self) -> Option<Text> {
        if self.disabled {
            return Some(t!("shared/docker-disabled"));
        }
        match self.facts {
            None => Some(t!("shared/docker-not-asked")),
            Some(f) if !f.reachable() => Some(t!("shared/docker-unreachable")),
            Some(_) => None,
        }
    }

    pub fn seen(&self, service: &str) -> Seen<'a> {
        if let Some(why) = self.unavailable() {
            return Seen::Unknown(why);
        }
        let Some(f) = self.facts else { return Seen::Unknown(Text::default()) };
        match f.lookup(service) {
            None => Seen::Unknown(t!("shared/container-not-looked-at", service = service)),
            Some(l) => match (&l.container, &l.error) {
                (Some(c), _) => Seen::Found(c),
                (None, Some(e)) => {
                    Seen::Unknown(t!("shared/container-inspect-failed", container = &l.wanted, error = e))
                }
                (None, None) => Seen::Missing(l.wanted.clone()),
            },
        }
    }

    pub fn found(&self) -> Vec<&'a ContainerFacts> {
        self.facts.map(|f| f.containers.iter().filter_map(|c| c.container.as_ref()).collect()).unwrap_or_default()
    }
}

/// "exited with code 137 (OOM-killed) 3m ago", "running for 2h", "restarting (5 restarts)".
pub fn describe_state(c: &ContainerFacts) -> Text {
    let ago = |a: Option<f64>| a.map(secs).unwrap_or_else(|| "?".into());
    if c.running && c.status != "restarting" {
        let age = ago(c.started_age_s);
        let s = if c.restart_count > 0 {
            t!("shared/state-running-after-restarts", age = age, restarts = c.restart_count)
        } else {
            t!("shared/state-running", age = age)
        };
        return match &c.health {
            Some(h) => Text::join([s, ", ".into(), h.status.as_str().into()], Sep::Concat),
            None => s,
        };
    }
    let code = c.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "?".into());
    let oom = c.ended_by_oom();
    match c.status.as_str() {
        "restarting" if oom => t!("shared/state-restarting-oom", restarts = c.restart_count, code = code),
        "restarting" => t!("shared/state-restarting", restarts = c.restart_count, code = code),
        "paused" => t!("shared/state-paused"),
        "created" => t!("shared/state-created"),
        status if oom => t!("shared/state-ended-oom", status = status, code = code, ago = ago(c.finished_age_s)),
        status => t!("shared/state-ended", status = status, code = code, ago = ago(c.finished_age_s)),
    }
}

/// The OOM kills known for a container, as evidence: the kill that ended it (its `OOMKilled`
/// flag, or exit 137 with the engine's `oom` event when the flag missed it), or kills of a
/// process inside that the container survived (only the engine's events show those). None when
/// neither source shows one.
pub fn oom_kills(c: &ContainerFacts) -> Option<Text> {
    let episodes = c.oom_episodes();
    let last = c.oom_events.as_ref().map_or(0.0, |e| e.last_age_s);
    if c.ended_by_oom() {
        let state = describe_state(c);
        return Some(if c.oom_killed {
            Text::join([c.name.as_str().into(), " (".into(), state, ")".into()], Sep::Concat)
        } else {
            t!("shared/oom-flag-missed", container = &c.name, state = state)
        });
    }
    (episodes > 0).then(|| {
        t!(
            "shared/oom-kills-inside",
            episodes = episodes,
            container = &c.name,
            ago = secs(last),
            state = describe_state(c)
        )
    })
}

/// The `container-stopped` verdict from the engine, given whether the service itself answered.
pub fn container_stopped(view: &DockerView, service: &str, service_answered: bool) -> Option<(Verdict, Text)> {
    match view.seen(service) {
        Seen::Unknown(_) => None,
        Seen::Missing(name) => Some(if service_answered {
            (Verdict::Unchecked, t!("shared/no-container-answered-elsewhere", name = format!("{name:?}")))
        } else {
            (Verdict::Confirmed, t!("shared/no-container", name = format!("{name:?}")))
        }),
        Seen::Found(c) => {
            let state = describe_state(c);
            let up = c.running && c.status != "restarting" && c.status != "paused";
            Some(match (up, service_answered) {
                (true, _) => (Verdict::RuledOut, t!("shared/container-is", container = &c.name, state = state)),
                (false, false) => (Verdict::Confirmed, t!("shared/container-is", container = &c.name, state = state)),
                (false, true) => {
                    (Verdict::RuledOut, t!("shared/answered-although", container = &c.name, state = state))
                }
            })
        }
    }
}

/// Which role of the stack a URL variable points at: by scheme, by the container it names, by
/// the published host port that `host.docker.internal:P` reaches, else by well-known port.
pub fn service_for(u: &UrlVar, view: &DockerView) -> Option<&'static str> {
    let found: Vec<(&str, &ContainerFacts)> = view
        .facts
        .map(|f| f.containers.iter().filter_map(|l| Some((l.service.as_str(), l.container.as_ref()?))).collect())
        .unwrap_or_default();
    crate::stack::targets::role_of_url(&u.scheme, &u.host, u.port, &found)
}

/// One service's variable pointing at another service of the stack.
#[derive(Debug, Clone)]
pub struct Link<'a> {
    pub client: &'a ContainerFacts,
    pub var: &'a UrlVar,
    pub target: Option<&'a ContainerFacts>,
    pub problem: Option<LinkProblem>,
    /// The user-defined network on which the name resolves, when it does; for a browser-side
    /// link, the published port the browser goes through.
    pub via: Option<String>,
    /// A `NEXT_PUBLIC_*` variable: built into the page and used by the browser on the user's
    /// machine, not by the container, so Docker's names and networks do not apply to it.
    pub browser: bool,
    /// The port the target must listen on inside: the URL's, or, through the Docker host, the
    /// container port its published port leads to (8000 behind 8002).
    pub inner_port: u16,
}

/// Whether a variable is used by the browser rather than the container (Next.js inlines
/// `NEXT_PUBLIC_*` into the page).
pub fn browser_side(var_name: &str) -> bool {
    var_name.starts_with("NEXT_PUBLIC_")
}

fn loopback(host: &str) -> bool {
    host == "localhost" || host.starts_with("127.") || host == "::1" || host == "[::1]"
}

#[derive(Debug, Clone, PartialEq)]
pub enum LinkProblem {
    /// `localhost` inside a container is the container itself.
    Localhost,
    TargetMissing,
    NoSharedNetwork {
        client: Vec<String>,
        target: Vec<String>,
    },
    /// They share a network, but the host is no name or alias of the target there.
    NameNotResolvable {
        networks: Vec<String>,
    },
    /// Browser-side: `localhost:PORT`, but the target publishes no such port on the host.
    NotPublished,
    /// Browser-side: a Docker name, which only containers on the same network resolve.
    DockerNameInBrowser,
    /// `host.docker.internal` on a Linux engine, in a container started without
    /// `--add-host host.docker.internal:host-gateway` (`extra_hosts` in compose).
    NoHostGateway,
    /// Through the Docker host, but the target publishes no such host port.
    NotPublishedOnHost,
    /// Through the Docker host, but the target publishes the port on this host's loopback
    /// only, which the containers' gateway does not reach.
    PublishedOnLoopback {
        binding: String,
    },
}

/// Every link from a container of the stack to `target_service`.
pub fn links_to<'a>(view: &DockerView<'a>, target_service: &str) -> Vec<Link<'a>> {
    let containers = view.found();
    let target = view.facts.and_then(|f| f.container(target_service));
    let mut links = Vec::new();
    for client in &containers {
        if Some(client.name.as_str()) == target.map(|t| t.name.as_str()) {
            continue;
        }
        for var in &client.urls {
            if service_for(var, view) != Some(target_service) {
                continue;
            }
            links.push(judge_link(view, client, var, target));
        }
    }
    links
}

fn judge_link<'a>(
    view: &DockerView,
    client: &'a ContainerFacts,
    var: &'a UrlVar,
    target: Option<&'a ContainerFacts>,
) -> Link<'a> {
    if browser_side(&var.name) {
        return judge_browser_link(client, var, target);
    }
    let mut link = Link { client, var, target, problem: None, via: None, browser: false, inner_port: var.port };
    let host = var.host.to_ascii_lowercase();
    if loopback(&host) {
        link.problem = Some(LinkProblem::Localhost);
        return link;
    }
    let Some(t) = target else {
        link.problem = Some(LinkProblem::TargetMissing);
        return link;
    };
    if crate::stack::is_docker_host_alias(&host) {
        return judge_host_gateway_link(view, link, t);
    }
    let usable = |n: &str| !matches!(n, "host" | "none");
    let shared: Vec<&str> = client
        .networks
        .iter()
        .map(|n| n.name.as_str())
        .filter(|n| usable(n) && t.networks.iter().any(|m| m.name == *n))
        .collect();
    if shared.is_empty() {
        link.problem = Some(LinkProblem::NoSharedNetwork {
            client: client.networks.iter().map(|n| n.name.clone()).collect(),
            target: t.networks.iter().map(|n| n.name.clone()).collect(),
        });
        return link;
    }
    for n in &shared {
        let by_ip = t.networks.iter().any(|m| m.name == *n && m.ip.as_deref() == Some(host.as_str()));
        // Names resolve only on user-defined networks; the default bridge has no DNS.
        let by_name = *n != "bridge" && t.names_on(n).iter().any(|a| a.eq_ignore_ascii_case(&host));
        if by_ip || by_name {
            link.via = Some(n.to_string());
            return link;
        }
    }
    link.problem = Some(LinkProblem::NameNotResolvable { networks: shared.iter().map(|s| s.to_string()).collect() });
    link
}

/// A link through the Docker host (`host.docker.internal:P`, layout A's wiring): the client must
/// resolve the name (Docker Desktop does; a Linux engine only with `host-gateway`), the target
/// must publish host port P on an address the containers' gateway reaches, and listen on the
/// container port behind it.
fn judge_host_gateway_link<'a>(view: &DockerView, mut link: Link<'a>, t: &'a ContainerFacts) -> Link<'a> {
    let host = link.var.host.to_ascii_lowercase();
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    let desktop = view.facts.and_then(|f| f.engine.as_ref().ok()).is_some_and(|e| e.provides_host_docker_internal());
    let mapped = link
        .client
        .extra_hosts
        .iter()
        .any(|e| e.split_once([':', '=']).is_some_and(|(name, _)| name.eq_ignore_ascii_case(&host)));
    if !is_ip && !desktop && !mapped {
        link.problem = Some(LinkProblem::NoHostGateway);
        return link;
    }
    let bindings: Vec<_> = t.ports.iter().filter(|p| p.host_port == Some(link.var.port) && p.proto == "tcp").collect();
    let reachable = bindings.iter().find(|b| {
        let ip = b.host_ip.as_deref().unwrap_or("");
        !(ip.starts_with("127.") || ip == "::1")
    });
    match (reachable, bindings.first()) {
        (Some(b), _) => {
            link.inner_port = b.container_port;
            link.via = Some(format!(
                "{}:{}->{}",
                b.host_ip.as_deref().filter(|ip| !ip.is_empty()).unwrap_or("0.0.0.0"),
                link.var.port,
                b.container_port
            ));
        }
        (None, Some(b)) => {
            link.problem = Some(LinkProblem::PublishedOnLoopback {
                binding: format!("{}:{}->{}", b.host_ip.as_deref().unwrap_or(""), link.var.port, b.container_port),
            })
        }
        (None, None) => link.problem = Some(LinkProblem::NotPublishedOnHost),
    }
    link
}

/// A browser-side link: the browser runs on the user's machine, so `localhost:PORT` is right
/// when the target publishes that port, and a Docker name never resolves there. Any other host
/// (a domain, a proxy) is the browser's own business and is not judged.
fn judge_browser_link<'a>(client: &'a ContainerFacts, var: &'a UrlVar, target: Option<&'a ContainerFacts>) -> Link<'a> {
    let mut link = Link { client, var, target, problem: None, via: None, browser: true, inner_port: var.port };
    let host = var.host.to_ascii_lowercase();
    let Some(t) = target else {
        if loopback(&host) {
            link.problem = Some(LinkProblem::TargetMissing);
        }
        return link;
    };
    if loopback(&host) {
        match t.ports.iter().find(|p| p.host_port == Some(var.port)) {
            Some(p) => {
                link.via = Some(format!(
                    "{}:{}->{}",
                    p.host_ip.as_deref().filter(|ip| !ip.is_empty()).unwrap_or("0.0.0.0"),
                    var.port,
                    p.container_port
                ))
            }
            None => link.problem = Some(LinkProblem::NotPublished),
        }
    } else if t.networks.iter().any(|n| t.names_on(&n.name).iter().any(|a| a.eq_ignore_ascii_case(&host)))
        || t.name.eq_ignore_ascii_case(&host)
    {
        link.problem = Some(LinkProblem::DockerNameInBrowser);
    }
    link
}

pub fn describe_link(l: &Link) -> Text {
    let from = format!("{} {}={}:{}", l.client.name, l.var.name, l.var.host, l.var.port);
    let target = l.target.map(|t| t.name.clone()).unwrap_or_else(|| "?".into());
    let via = l.via.as_deref().unwrap_or("?");
    let host = &l.var.host;
    let port = l.var.port;
    match &l.problem {
        None if l.browser => match &l.via {
            Some(via) => t!("shared/link-browser-via", from = from, target = target, via = via),
            None => t!("shared/link-browser", from = from, host = host),
        },
        None if crate::stack::is_docker_host_alias(host) => {
            t!("shared/link-via-host", from = from, target = target, via = via)
        }
        None => t!("shared/link-via-network", from = from, target = target, network = via),
        Some(LinkProblem::NoHostGateway) => {
            t!("shared/link-no-host-gateway", from = from, host = host, client = &l.client.name)
        }
        Some(LinkProblem::NotPublishedOnHost) => {
            t!("shared/link-not-published-on-host", from = from, target = target, port = port)
        }
        Some(LinkProblem::PublishedOnLoopback { binding }) => {
            t!("shared/link-published-on-loopback", from = from, target = target, binding = binding)
        }
        Some(LinkProblem::Localhost) => t!("shared/link-localhost", from = from, host = host, target = target),
        Some(LinkProblem::TargetMissing) => t!("shared/link-target-missing", from = from),
        Some(LinkProblem::NoSharedNetwork { client, target: tn }) => t!(
            "shared/link-no-shared-network",
            from = from,
            client = &l.client.name,
            client_networks = client.join(", "),
            target = target,
            target_networks = tn.join(", ")
        ),
        Some(LinkProblem::NotPublished) => t!("shared/link-not-published", from = from, port = port, target = target),
        Some(LinkProblem::DockerNameInBrowser) => {
            t!("shared/link-docker-name-in-browser", from = from, host = format!("{host:?}"), port = port)
        }
        Some(LinkProblem::NameNotResolvable { networks }) => t!(
            "shared/link-name-not-resolvable",
            from = from,
            host = format!("{host:?}"),
            target = target,
            networks = networks.join(", ")
        ),
    }
}

/// The `network-isolated` verdict for a service from the links that point at it.
pub fn network_isolated(view: &DockerView, target_service: &str) -> Option<(Verdict, Text)> {
    view.unavailable().is_none().then_some(())?;
    let links = links_to(view, target_service);
    if links.is_empty() {
        return None;
    }
    let bad: Vec<Text> = links.iter().filter(|l| l.problem.is_some()).map(describe_link).collect();
    if bad.is_empty() {
        let ok: Vec<Text> = links.iter().map(describe_link).collect();
        Some((Verdict::RuledOut, Text::join(ok, Sep::Clauses)))
    } else {
        Some((Verdict::Confirmed, Text::join(bad, Sep::Clauses)))
    }
}

/// Password consistency between the services' URLs and the server's own setting, compared by
/// fingerprint. `server_fp` is the server's password fingerprint; `user` limits the comparison
/// to URLs that log in as that user (`None`: any).
pub fn password_mismatch(
    view: &DockerView,
    target_service: &str,
    server_fp: Option<&str>,
    user: Option<&str>,
) -> Option<(Verdict, Text)> {
    let server_fp = server_fp?;
    let links = links_to(view, target_service);
    let compared: Vec<&Link> = links
        .iter()
        .filter(|l| l.var.password_fingerprint.is_some())
        .filter(|l| user.is_none_or(|u| l.var.user.as_deref().unwrap_or(u) == u))
        .collect();
    if compared.is_empty() {
        return None;
    }
    let differing: Vec<Text> = compared
        .iter()
        .filter(|l| l.var.password_fingerprint.as_deref() != Some(server_fp))
        .map(|l| {
            t!(
                "shared/password-differs",
                client = &l.client.name,
                var = &l.var.name,
                fingerprint = l.var.password_fingerprint.as_deref().unwrap_or("?"),
                expected = server_fp
            )
        })
        .collect();
    if differing.is_empty() {
        let names: Vec<String> = compared.iter().map(|l| format!("{} {}", l.client.name, l.var.name)).collect();
        Some((Verdict::RuledOut, t!("shared/passwords-match", names = names.join(", "), expected = server_fp)))
    } else {
        Some((Verdict::Confirmed, t!("shared/passwords-differ", differing = Text::join(differing, Sep::Clauses))))
    }
}

/// Replaces a cause's verdict when the engine has something to say about it.
pub fn apply<T: Into<crate::text::Text>>(out: &mut Finding, id: impl Into<CauseId>, judged: Option<(Verdict, T)>) {
    let id = id.into();
    if let Some((v, ev)) = judged {
        out.forget(id);
        out.cause(id, v, ev);
    }
}

/// Replaces the evidence of causes that said "needs the Docker engine" by the precise reason.
pub fn explain_unavailable<C: Into<CauseId> + Copy>(out: &mut Finding, view: &DockerView, ids: &[C]) {
    let ids: Vec<&str> = ids.iter().map(|c| (*c).into().as_str()).collect();
    if let Some(why) = view.unavailable() {
        for c in out.causes.iter_mut().filter(|c| ids.contains(&c.id) && c.verdict == Verdict::Unchecked) {
            c.evidence = why.clone();
        }
    }
}

pub fn memory_text(c: &ContainerFacts) -> Option<String> {
    let s = c.stats.as_ref()?;
    Some(if s.mem_limit > 0 && c.memory_limit.is_some() {
        format!("{} / {}", bytes(s.mem_used), bytes(s.mem_limit))
    } else {
        bytes(s.mem_used)
    })
}
