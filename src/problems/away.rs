//! doctor away from the engine's host ([`crate::stack::position`]): a service whose port is
//! published only on that host's loopback cannot be reached from here, so a failed connect to
//! it says nothing of its URL, its password or a firewall. Its connect check (PG001, RD001,
//! AU001, API001, FE001) becomes skipped with the reason, and every cause unchecked. Applied
//! once after every problem ran, like [`super::timeouts`], so no problem needs to know where
//! doctor stands; a check that did connect keeps its verdict.

use crate::facts::Facts;
use crate::report::{Finding, Status, Verdict};
use crate::stack::position::Away;
use crate::t;
use crate::text::Text;

/// The checks that stand or fall with reaching one service from here.
const CONNECT_CHECKS: &[&str] = &["PG001", "RD001", "AU001", "API001", "FE001"];

/// Why doctor is away, in words.
pub fn why(a: &Away) -> Text {
    match a.why.as_str() {
        "service-host" => t!("shared/away-service-host", host = &a.service_host, from = &a.detail),
        "remote-engine" => t!("shared/away-remote-engine", detail = &a.detail, host = &a.service_host),
        _ => t!("shared/away-in-container", detail = &a.detail, host = &a.service_host),
    }
}

/// The reason a role cannot be seen from here, when it cannot.
pub fn unseen(a: &Away, role: &str) -> Option<Text> {
    let binding = a.unseen.get(role)?;
    Some(t!("shared/not-on-engine-host", why = why(a), bindings = format!("{role} {binding}")))
}

pub fn apply(facts: &Facts, findings: &mut [Finding]) {
    let Some(away) = facts.stack.as_ref().and_then(|s| s.away.as_ref()) else { return };
    for f in findings.iter_mut() {
        if !CONNECT_CHECKS.contains(&f.code) || matches!(f.status, Status::Ok | Status::Skipped) {
            continue;
        }
        let role = f.target.split([' ', '@']).next().unwrap_or("");
        let Some(reason) = unseen(away, role) else { continue };
        for c in &mut f.causes {
            c.verdict = Verdict::Unchecked;
            c.evidence = reason.clone();
        }
        f.status = Status::Skipped;
        f.summary = reason;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::Lang;

    fn facts(unseen: &[(&str, &str)]) -> Facts {
        let away = Away {
            service_host: "10.0.0.9".into(),
            why: "remote-engine".into(),
            detail: "tcp://10.0.0.9:2376".into(),
            unseen: unseen.iter().map(|(r, b)| (r.to_string(), b.to_string())).collect(),
        };
        Facts { stack: Some(crate::stack::Stack { away: Some(away), ..Default::default() }), ..Default::default() }
    }

    fn failing(code: &'static str, target: &str) -> Finding {
        let mut f = Finding::new(code, target);
        f.cause(
            crate::problems::redis::rd001_cannot_connect::Cause::BadRedisUrl,
            Verdict::Suspected,
            "the URL names 127.0.0.1:16379",
        );
        f.status(Status::Critical, "connection refused")
    }

    #[test]
    fn a_service_unseen_from_here_is_skipped_not_blamed() {
        let mut out = vec![failing("RD001", "redis@10.0.0.9:16379/0"), failing("PG001", "postgres@10.0.0.9:5432")];
        apply(&facts(&[("redis", "127.0.0.1:16379")]), &mut out);
        assert_eq!(out[0].status, Status::Skipped);
        assert!(out[0].causes.iter().all(|c| c.verdict == Verdict::Unchecked));
        let said = out[0].summary.render(Lang::En);
        assert!(
            said.starts_with("not checked: doctor is not on the engine's host (the engine is tcp://10.0.0.9:2376"),
            "{said}"
        );
        assert!(said.contains("redis 127.0.0.1:16379 is published on that host's loopback only"), "{said}");
        assert!(!out[0].summary.render(Lang::Ja).is_empty());
        assert_eq!(out[1].status, Status::Critical, "postgres is published where it can be reached: judged as usual");
        // Not away: nothing changes.
        let mut out = vec![failing("RD001", "redis@127.0.0.1:16379/0")];
        apply(&Facts::default(), &mut out);
        assert_eq!(out[0].status, Status::Critical);
    }
}
