//! Which failing checks to look at first. One broken part fails many checks: a stopped
//! PostgreSQL container fails PG001, and through it the logins (AU001), the refreshes (AU003),
//! the profile lookups (API002). The stack's layers say what can explain what (the engine and
//! the containers under the network, the network under the stores, the stores under the
//! services, the services under the frontends and the performance checks); a failing check is
//! a root cause when no failing check below it explains it. Pure, over the report's checks, so
//! a replayed report finds the same roots.

use crate::report::{Check, Status};
use serde::Serialize;

/// The checks a service that is down fails first (the rest follow through `explains`).
fn checks_of(service: &str) -> &'static [&'static str] {
    match service {
        "postgres" => &["PG001", "PG002", "PG003", "PG004", "NET001", "NET002"],
        "redis" => &["RD001", "RD002", "RD003", "NET001", "NET002"],
        "auth-service" => &["AU001", "AU002", "AU003", "FE002", "FE003", "NET001", "NET002"],
        "user-api" | "admin-api" => &["API001", "API002", "API003", "FE001", "FE003", "PERF001", "NET001", "NET002"],
        "user-frontend" | "admin-frontend" => &["FE001", "FE002", "FE003", "NET002"],
        _ => &[],
    }
}

/// Whether a failing `by` may explain the failing `other`.
fn explains_check(by: &Check, other: &Check) -> bool {
    if by.code == "DK002" {
        // Only the checks of the services that are down.
        let down = by.evidence.get("not_running").and_then(|v| v.as_array());
        return down
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str())
            .any(|s| checks_of(s).contains(&other.code.as_str()));
    }
    explains(&by.code).contains(&other.code.as_str())
}

/// Codes a failing `code` may explain, besides checks of its own area that depend on it.
fn explains(code: &str) -> &'static [&'static str] {
    match code {
        "NET001" => &["PG001", "RD001", "AU001", "AU002", "AU003", "API001", "API002", "API003", "FE001", "FE003"],
        "NET002" => &["PG001", "RD001", "AU001", "AU002", "API001", "FE001"],
        "PG001" => &["PG002", "PG003", "PG004", "AU001", "AU003", "API001", "API002", "API003", "PERF001"],
        "PG002" => &["AU001", "AU003", "API001", "API002", "PERF001", "PG004"],
        "RD001" => &["RD002", "RD003", "AU001", "AU003", "API002"],
        "RD002" => &["AU001", "AU003", "API002"],
        "AU001" | "AU002" => &["FE002", "FE003"],
        "API001" => &["FE001", "FE003", "PERF001"],
        "PERF002" => &["API001", "PERF001"],
        _ => &[],
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RootCause {
    pub code: String,
    pub target: String,
    pub summary: String,
    /// Failing checks this one may explain, to be looked at after it.
    pub explains: Vec<String>,
}

/// The root causes among the worst failing checks (critical, else warning), in report order.
pub fn find(checks: &[Check]) -> Vec<RootCause> {
    let worst = checks.iter().map(|c| c.status).filter(|s| matches!(s, Status::Critical | Status::Warning)).max();
    let Some(worst) = worst else { return Vec::new() };
    let failing: Vec<&Check> = checks.iter().filter(|c| c.status == worst).collect();
    let explained_by = |c: &Check| failing.iter().any(|o| o.code != c.code && explains_check(o, c));
    failing
        .iter()
        .filter(|c| !explained_by(c))
        .map(|c| {
            let mut explains: Vec<String> =
                failing.iter().filter(|o| o.code != c.code && explains_check(c, o)).map(|o| o.code.clone()).collect();
            explains.dedup();
            RootCause { code: c.code.clone(), target: c.target.clone(), summary: c.summary.clone(), explains }
        })
        .collect()
}

/// Puts the root causes' checks first when they explain others, keeping the fixed area order
/// for the rest (independent failures stay where their area puts them).
pub fn order(checks: &mut [Check], roots: &[RootCause]) {
    if roots.iter().all(|r| r.explains.is_empty()) {
        return;
    }
    let is_root = |c: &Check| roots.iter().any(|r| r.code == c.code && r.target == c.target);
    checks.sort_by_key(|c| !is_root(c));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(code: &str, status: Status) -> Check {
        Check {
            code: code.into(),
            area: String::new(),
            target: "t".into(),
            title: String::new(),
            status,
            summary: format!("{code} failed"),
            duration_ms: 0,
            evidence: Default::default(),
            causes: vec![],
        }
    }

    #[test]
    fn a_stopped_container_explains_the_checks_above_it() {
        let mut dk = check("DK002", Status::Critical);
        dk.evidence.insert("not_running".into(), serde_json::json!(["postgres"]));
        let checks = vec![
            dk,
            check("PG001", Status::Critical),
            check("AU003", Status::Critical),
            check("RD003", Status::Warning),
        ];
        let roots = find(&checks);
        assert_eq!(roots.len(), 1);
        assert_eq!(roots[0].code, "DK002");
        assert_eq!(roots[0].explains, ["PG001"]);
        // A frontend container that is down explains no database failure.
        let mut dk = check("DK002", Status::Critical);
        dk.evidence.insert("not_running".into(), serde_json::json!(["user-frontend"]));
        let roots = find(&[dk, check("PG001", Status::Critical)]);
        assert_eq!(roots.len(), 2);
    }

    #[test]
    fn unrelated_failures_are_each_a_root_and_come_first() {
        let mut checks = vec![
            check("AU002", Status::Ok),
            check("PG001", Status::Critical),
            check("API002", Status::Critical),
            check("FE001", Status::Critical),
        ];
        let roots = find(&checks);
        let codes: Vec<&str> = roots.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["PG001", "FE001"]);
        order(&mut checks, &roots);
        let sorted: Vec<&str> = checks.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(sorted, ["PG001", "FE001", "AU002", "API002"]);
        // Independent failures keep the area order.
        let mut checks = vec![check("PG002", Status::Warning), check("RD002", Status::Warning)];
        let roots = find(&checks);
        assert_eq!(roots.len(), 2);
        order(&mut checks, &roots);
        assert_eq!(checks[0].code, "PG002");
        assert!(find(&[check("PG001", Status::Ok)]).is_empty());
    }
}
