//! Who is affected: the runbook's emergency checklist asks for the impact first ("all users?
//! one feature?"). From a report's failing checks, the stack's services that fail, and the
//! user flows of the spec that need one of them. Pure; the flows are the stack's, written
//! once here: each names the services it passes through.

use crate::lang::{Lang, tr};
use crate::report::{Check, Report, Status};

/// A user flow of the stack and the services it needs.
struct Flow {
    en: &'static str,
    ja: &'static str,
    needs: &'static [&'static str],
}

const FLOWS: &[Flow] = &[
    Flow {
        en: "signing in (user and admin front ends, their BFF, auth-service)",
        ja: "ログイン（ユーザー・管理画面、BFF、auth-service）",
        needs: &["auth-service", "postgres", "redis", "user-frontend", "admin-frontend"],
    },
    Flow {
        en: "token refresh and sessions (auth-service, Redis)",
        ja: "トークン更新・セッション（auth-service、Redis）",
        needs: &["auth-service", "redis"],
    },
    Flow {
        en: "the user's profile pages (user front end, user-api)",
        ja: "ユーザーのプロフィール画面（ユーザー画面、user-api）",
        needs: &["user-frontend", "user-api", "postgres", "redis", "auth-service"],
    },
    Flow {
        en: "administration and document upload (admin front end, admin-api)",
        ja: "管理操作・ドキュメントのアップロード（管理画面、admin-api）",
        needs: &["admin-frontend", "admin-api", "postgres", "redis", "auth-service"],
    },
];

/// The failing services and the flows that need them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Impact {
    pub services: Vec<String>,
    pub flows: Vec<String>,
    /// No service could be named (only the engine, or the host, fails).
    pub unknown: bool,
}

/// The services a failing check is about: the containers it names as down or writing to a full
/// disk, else its area's
/// service, else the role its target starts with.
fn services_of(c: &Check) -> Vec<String> {
    // DK002's containers down, DK003's services writing to a full volume.
    for key in ["not_running", "full_for"] {
        let named = c.services_in(key);
        if !named.is_empty() {
            return named.into_iter().map(str::to_string).collect();
        }
    }
    match c.area.as_str() {
        "postgres" => return vec!["postgres".into()],
        "redis" => return vec!["redis".into()],
        "auth" => return vec!["auth-service".into()],
        _ => {}
    }
    let first = c.target.split([' ', '@', '/']).next().unwrap_or("");
    if crate::stack::roles::role(first).is_some() { vec![first.to_string()] } else { Vec::new() }
}

pub fn of(r: &Report) -> Impact {
    let mut services: Vec<String> = Vec::new();
    let failing: Vec<&Check> =
        r.checks.iter().filter(|c| matches!(c.status, Status::Critical | Status::Warning | Status::Unknown)).collect();
    for c in &failing {
        for s in services_of(c) {
            if !services.contains(&s) {
                services.push(s);
            }
        }
    }
    let flows = FLOWS
        .iter()
        .filter(|f| f.needs.iter().any(|n| services.iter().any(|s| s == n)))
        .map(|f| tr(r.lang, f.en, f.ja))
        .collect();
    Impact { unknown: services.is_empty() && !failing.is_empty(), services, flows }
}

/// The impact in a sentence or two, for the incident report.
pub fn words(i: &Impact, lang: Lang) -> Vec<String> {
    if i.services.is_empty() {
        return vec![if i.unknown {
            tr(
                lang,
                "No service of the stack can be named (see the findings).",
                "影響するサービスは特定できない（検出事項を参照）。",
            )
        } else {
            tr(lang, "No service of the stack fails.", "失敗しているサービスはない。")
        }];
    }
    let mut out = vec![tr(
        lang,
        format!("Failing services: {}", i.services.join(", ")),
        format!("失敗しているサービス: {}", i.services.join("、")),
    )];
    if !i.flows.is_empty() {
        out.push(tr(
            lang,
            format!("User flows that need them: {}", i.flows.join("; ")),
            format!("影響するユーザー操作: {}", i.flows.join("、")),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Finding;

    fn report(findings: Vec<Finding>) -> Report {
        Report::build("all", findings, Lang::En, "2026-12-03T00:00:00Z".into(), 1)
    }

    #[test]
    fn redis_down_touches_every_flow_and_the_admin_api_only_its_own() {
        let r = report(vec![Finding::new("RD001", "redis://localhost:6379").status(Status::Critical, "refused")]);
        let i = of(&r);
        assert_eq!(i.services, vec!["redis"]);
        assert_eq!(i.flows.len(), 4, "{:?}", i.flows);
        let r = report(vec![Finding::new("API003", "admin-api").status(Status::Critical, "disk full")]);
        let i = of(&r);
        assert_eq!(i.services, vec!["admin-api"]);
        assert_eq!(i.flows, vec!["administration and document upload (admin front end, admin-api)"]);
    }

    #[test]
    fn a_healthy_report_has_no_impact() {
        let r = report(vec![Finding::new("RD001", "redis://localhost:6379")]);
        let i = of(&r);
        assert!(i.services.is_empty() && i.flows.is_empty() && !i.unknown);
        assert_eq!(words(&i, Lang::En), vec!["No service of the stack fails."]);
    }
}
