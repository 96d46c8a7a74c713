//! Which failing checks to look at first. One broken part fails many checks: a stopped
//! PostgreSQL container fails PG001, and through it the logins (AU001), the refreshes (AU003),
//! the profile lookups (API002). The stack's layers say what can explain what (the engine and
//! the containers under the network, the network under the stores, the stores under the
//! services, the services under the frontends and the performance checks); a failing check is
//! a root cause when no failing check below it explains it. The relations are runbook data
//! (`fails_with`, `explains` in each file); this is only the algorithm. Pure, over the report's
//! checks, so a replayed report finds the same roots.

use crate::report::{Check, Report, RootCause, Status};

/// Whether a failing `by` may explain the failing `other`, by the runbooks' relations: DK002
/// explains the checks that fail with the services it found down (`fails_with`), any other
/// check the codes its runbook `explains`.
fn explains_check(by: &Check, other: &Check) -> bool {
    let Some(other_problem) = crate::catalogue::get(&other.code) else { return false };
    // `other` fails with one of the services `by` names under `key`.
    let fails_with =
        |key: &str| by.services_in(key).into_iter().any(|s| other_problem.fails_with.iter().any(|f| f == s));
    if by.code == "DK002" {
        return fails_with("not_running");
    }
    let listed = crate::catalogue::get(&by.code).is_some_and(|p| p.explains.contains(&other.code));
    if by.code == "DK003" {
        // A disk only nearly full explains nothing; a full data root, what its runbook lists; a
        // full volume, only the failures of the services writing to it.
        if by.status != Status::Critical || !listed {
            return false;
        }
        if by.evidence.get("data_root_full").and_then(|v| v.as_bool()) == Some(true) {
            return true;
        }
        return fails_with("full_for");
    }
    listed
}

/// Finds the report's root causes and puts their checks first (run after `--only`/`--skip`).
pub fn rank(r: &mut Report) {
    r.root_causes = find(&r.checks);
    order(&mut r.checks, &r.root_causes);
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

/// The failing checks (of any failing status) that `root` may explain: in the short view they
/// fold into it as one line each, with no table and no remedy of their own.
pub fn dependents<'a>(checks: &'a [Check], root: &Check) -> Vec<&'a Check> {
    checks
        .iter()
        .filter(|c| !(c.code == root.code && c.target == root.target))
        .filter(|c| matches!(c.status, Status::Critical | Status::Warning | Status::Unknown))
        .filter(|c| explains_check(root, c))
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
            ok_title: String::new(),
            status,
            summary: format!("{code} failed"),
            duration_ms: 0,
            evidence: Default::default(),
            causes: vec![],
            advice: vec![],
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
    fn a_full_disk_explains_what_writes_to_it_and_a_nearly_full_one_nothing() {
        let mut dk = check("DK003", Status::Critical);
        dk.evidence.insert("full_for".into(), serde_json::json!(["postgres"]));
        let roots = find(&[dk.clone(), check("PG001", Status::Critical), check("AU001", Status::Critical)]);
        let pg = roots.iter().find(|r| r.code == "DK003").unwrap();
        assert_eq!(pg.explains, ["PG001"], "a full postgres volume does not explain a login failure");
        dk.evidence.insert("data_root_full".into(), serde_json::json!(true));
        let roots = find(&[dk, check("PG001", Status::Critical), check("AU001", Status::Critical)]);
        assert_eq!(roots.len(), 1);
        assert_eq!(roots[0].explains, ["PG001", "AU001"]);
        let mut near = check("DK003", Status::Warning);
        near.evidence.insert("data_root_full".into(), serde_json::json!(true));
        assert_eq!(find(&[near, check("PG003", Status::Warning)]).len(), 2);
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
