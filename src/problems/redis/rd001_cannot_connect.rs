//! RD001: cannot connect to Redis. Reads the URL's shape and how the connection or its first
//! command failed (refused, timeout, name, WRONGPASS, NOAUTH, LOADING, not Redis at all); may
//! confirm `wrong-password` and `bad-redis-url`. `container-stopped` and `network-isolated`
//! are suspected here and confirmed by the Docker layer.

use crate::catalogue::Area;
use crate::facts::of::redis::{RedisErrorKind, RedisFacts};
use crate::problems::registry::{Inputs, Problem};
use crate::report::{Finding, Status, Verdict::*};
use crate::t;
use crate::text::{Sep, Text};

crate::causes! {
    ContainerStopped = "container-stopped",
    WrongPassword = "wrong-password",
    BadRedisUrl = "bad-redis-url",
    NetworkIsolated = "network-isolated",
}

pub static PROBLEM: Problem = Problem {
    code: "RD001",
    areas: &[Area::Redis],
    runbook: crate::runbook!("redis/RD001-cannot-connect.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let Some(rd) = &i.facts.redis else { return vec![] };
    let mut f = diagnose(rd);
    super::with_engine_rd001(&mut f, rd, &i.docker);
    with_clients(&mut f, rd, i.ctx);
    vec![i.timed(f, i.facts.redis_ms)]
}

/// The stack's alert on connected clients (100 warn, 200 critical by default): a server that
/// answers but holds that many clients is on its way to refusing them.
pub fn with_clients(out: &mut Finding, f: &RedisFacts, ctx: &crate::problems::Ctx) {
    let (Some(info), true) = (&f.info, f.connected()) else { return };
    let n = info.connected_clients;
    out.fact("connected_clients", n);
    let t = &ctx.thresholds;
    if n < t.redis_clients_warn {
        return;
    }
    out.status = out.status.max(if n >= t.redis_clients_crit { Status::Critical } else { Status::Warning });
    let summary = std::mem::take(&mut out.summary);
    out.summary = t!(
        "RD001/many-clients",
        summary = summary,
        clients = n,
        warn = t.redis_clients_warn,
        crit = t.redis_clients_crit
    );
}

pub fn diagnose(f: &RedisFacts) -> Finding {
    let mut out = Finding::new("RD001", f.target.clone());
    out.fact("url", &f.url);
    out.fact("url_source", &f.url_source);
    if let Some(p) = &f.url_problem {
        let what = p.text.clone();
        out.cause(Cause::BadRedisUrl, Confirmed, what.clone());
        out.causes_all(
            &[Cause::ContainerStopped, Cause::WrongPassword, Cause::NetworkIsolated],
            Unchecked,
            t!("RD001/not-tried-url-unusable"),
        );
        return out.status(Status::Critical, t!("RD001/url-unusable", source = &f.url_source, what = what));
    }
    let notes: Vec<Text> = f.url_notes.iter().map(|n| n.text.clone()).collect();
    let Some(conn) = &f.conn else {
        return out.status(Status::Unknown, t!("RD001/no-attempt"));
    };
    let addr = &conn.address;
    out.fact("address", addr);
    out.fact("latency_ms", conn.latency_ms);
    if let Some(v) = &f.reached_via {
        out.fact("reached_via", v);
    }
    let docker_note = t!("RD001/needs-engine");
    let answered = t!("RD001/server-answered");
    let shape_ok =
        if notes.is_empty() { t!("RD001/url-shape-ok", url = &f.url) } else { Text::join(notes.clone(), Sep::Clauses) };
    let url_verdict = if notes.is_empty() { RuledOut } else { Suspected };
    let (status, summary) = match &conn.result {
        Ok(()) => {
            let version = f.info.as_ref().map(|i| i.version.clone()).unwrap_or_default();
            out.cause(Cause::ContainerStopped, RuledOut, answered.clone());
            out.cause(Cause::WrongPassword, RuledOut, t!("RD001/commands-accepted"));
            out.cause(Cause::BadRedisUrl, url_verdict, shape_ok);
            out.cause(
                Cause::NetworkIsolated,
                if f.reached_via.is_some() { Unchecked } else { RuledOut },
                match &f.reached_via {
                    Some(v) => t!("RD001/reached-via", address = v),
                    None => t!("RD001/reached-from-host", address = addr),
                },
            );
            (Status::Ok, t!("RD001/connected", ms = conn.latency_ms, version = version))
        }
        Err(e) => {
            out.fact("error", &e.kind);
            out.fact("message", &e.message);
            match e.kind {
                RedisErrorKind::Refused => {
                    out.cause(Cause::ContainerStopped, Suspected, t!("RD001/refused-no-listener", address = addr));
                    out.cause(Cause::WrongPassword, Unchecked, t!("RD001/not-that-far"));
                    out.cause(
                        Cause::BadRedisUrl,
                        if addr.ends_with(":6379") { url_verdict } else { Suspected },
                        if addr.ends_with(":6379") { shape_ok } else { t!("RD001/other-port", address = addr) },
                    );
                    out.cause(Cause::NetworkIsolated, Unchecked, docker_note);
                    (Status::Critical, t!("RD001/refused", address = addr))
                }
                RedisErrorKind::Timeout => {
                    out.cause(Cause::ContainerStopped, Suspected, t!("RD001/no-answer-hung"));
                    out.cause(Cause::WrongPassword, Unchecked, t!("RD001/not-that-far"));
                    out.cause(Cause::BadRedisUrl, url_verdict, shape_ok);
                    out.cause(Cause::NetworkIsolated, Suspected, t!("RD001/no-answer-in-time", address = addr));
                    (Status::Critical, t!("RD001/timeout", address = addr))
                }
                RedisErrorKind::NameNotResolved => {
                    out.cause(Cause::ContainerStopped, Unchecked, docker_note);
                    out.cause(Cause::WrongPassword, Unchecked, t!("RD001/not-that-far"));
                    out.cause(Cause::BadRedisUrl, Suspected, t!("RD001/host-misspelled", url = &f.url));
                    out.cause(Cause::NetworkIsolated, Suspected, t!("RD001/host-unknown-here"));
                    (Status::Critical, t!("RD001/host-unresolvable"))
                }
                RedisErrorKind::WrongPassword => {
                    out.cause(Cause::ContainerStopped, RuledOut, answered.clone());
                    out.cause(Cause::WrongPassword, Confirmed, t!("RD001/password-rejected"));
                    out.cause(Cause::BadRedisUrl, url_verdict, shape_ok);
                    out.cause(Cause::NetworkIsolated, RuledOut, answered);
                    (Status::Critical, t!("RD001/password-failed"))
                }
                RedisErrorKind::NoAuth => {
                    out.cause(Cause::ContainerStopped, RuledOut, answered.clone());
                    out.cause(Cause::WrongPassword, Confirmed, t!("RD001/password-required-none-sent"));
                    out.cause(
                        Cause::BadRedisUrl,
                        Suspected,
                        if notes.is_empty() {
                            t!("RD001/url-lacks-password")
                        } else {
                            Text::join(notes.clone(), Sep::Clauses)
                        },
                    );
                    out.cause(Cause::NetworkIsolated, RuledOut, answered);
                    (Status::Critical, t!("RD001/password-required"))
                }
                RedisErrorKind::Loading => {
                    out.cause(Cause::ContainerStopped, Suspected, t!("RD001/loading-after-start"));
                    out.cause(Cause::WrongPassword, Unchecked, t!("RD001/unknown-while-loading"));
                    out.cause(Cause::BadRedisUrl, url_verdict, shape_ok);
                    out.cause(Cause::NetworkIsolated, RuledOut, answered);
                    (Status::Critical, t!("RD001/loading"))
                }
                RedisErrorKind::Protocol | RedisErrorKind::Other => {
                    out.cause(Cause::ContainerStopped, Unchecked, docker_note.clone());
                    out.cause(Cause::WrongPassword, Unchecked, t!("RD001/unknown"));
                    out.cause(
                        Cause::BadRedisUrl,
                        Suspected,
                        t!("RD001/not-redis-port", address = addr, message = &e.message),
                    );
                    out.cause(Cause::NetworkIsolated, Unchecked, docker_note);
                    (Status::Critical, t!("RD001/failed", address = addr, message = &e.message))
                }
            }
        }
    };
    out.status(status, summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_connected_clients_warn_then_go_critical() {
        for (clients, status) in [(50, Status::Ok), (150, Status::Warning), (250, Status::Critical)] {
            let mut facts = crate::problems::redis::fixtures::healthy();
            facts.info.as_mut().unwrap().connected_clients = clients;
            let mut f = diagnose(&facts);
            with_clients(&mut f, &facts, &crate::problems::fixtures::ctx());
            assert_eq!(f.status, status, "{clients}: {}", f.summary.en());
            if clients > 100 {
                assert!(f.summary.en().contains(&format!("{clients} clients connected")), "{}", f.summary.en());
            }
        }
    }
    use crate::problems::redis::fixtures::{failed, healthy};
    use crate::urls::UrlProblem;

    #[test]
    fn healthy_is_ok() {
        let f = diagnose(&healthy());
        assert_eq!(f.status, Status::Ok);
        assert!(f.causes.iter().all(|c| c.verdict == RuledOut));
    }

    #[test]
    fn wrong_password_and_noauth_confirm_wrong_password() {
        for k in [RedisErrorKind::WrongPassword, RedisErrorKind::NoAuth] {
            let f = diagnose(&failed(k, "x"));
            assert_eq!((f.status, f.verdict_of(Cause::WrongPassword)), (Status::Critical, Some(Confirmed)));
        }
    }

    #[test]
    fn refused_suspects_a_stopped_container() {
        let f = diagnose(&failed(RedisErrorKind::Refused, "Connection refused"));
        assert_eq!(f.verdict_of(Cause::ContainerStopped), Some(Suspected));
    }

    #[test]
    fn bad_url_is_confirmed() {
        let mut facts = healthy();
        facts.url_problem = Some(UrlProblem { text: "the scheme \"http\" is not Redis's".into() });
        facts.conn = None;
        let f = diagnose(&facts);
        assert_eq!((f.status, f.verdict_of(Cause::BadRedisUrl)), (Status::Critical, Some(Confirmed)));
    }

    #[test]
    fn timeout_and_names_suspect_the_network() {
        for k in [RedisErrorKind::Timeout, RedisErrorKind::NameNotResolved] {
            assert_eq!(diagnose(&failed(k, "x")).verdict_of(Cause::NetworkIsolated), Some(Suspected));
        }
    }
}
