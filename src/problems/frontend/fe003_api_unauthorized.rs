//! FE003: API calls through the BFF are unauthorized. With credentials, calls the BFF's profile
//! route (`/api/profile`, else the runbook's `/api/users/profile`) with the login's cookies, and
//! sends the same access token straight to user-api's (`/profile`, else `/api/users/profile`):
//! a 401 through the BFF while the direct call works confirms `token-not-forwarded`; both
//! refusing confirms `token-invalid`; no cookie at all confirms `cookie-missing`. A 404 on every
//! route is a route not found, which says nothing about the token.

use crate::catalogue::Area;
use crate::facts::of::web::FrontendFacts;
use crate::problems::registry::{Inputs, Problem};
use crate::report::{Finding, Status, Verdict::*};
use crate::t;
use crate::text::Text;

crate::causes! {
    CookieMissing = "cookie-missing",
    TokenNotForwarded = "token-not-forwarded",
    TokenInvalid = "token-invalid",
}

pub static PROBLEM: Problem = Problem {
    code: "FE003",
    areas: &[Area::Frontend],
    runbook: crate::runbook!("frontend/FE003-api-unauthorized.toml"),
    causes: Cause::IDS,
    run,
    by_target: true,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let Some(w) = &i.facts.web else { return vec![] };
    w.frontends.iter().map(|f| i.timed(diagnose(f), i.facts.web_ms)).collect()
}

pub fn diagnose(f: &FrontendFacts) -> Finding {
    let mut out = Finding::new("FE003", format!("{} {}", f.service, f.base_url));
    let (Some(login), Some(bff)) = (&f.bff_login, &f.bff_api) else {
        let why = t!("FE003/no-login-tried");
        out.causes_all(&[Cause::CookieMissing, Cause::TokenNotForwarded, Cause::TokenInvalid], Unchecked, why.clone());
        return out.status(Status::Skipped, why);
    };
    if !login.ok() {
        let why = t!("FE003/login-failed");
        out.causes_all(&[Cause::CookieMissing, Cause::TokenNotForwarded, Cause::TokenInvalid], Unchecked, why.clone());
        return out.status(Status::Skipped, why);
    }
    out.fact("bff_status", bff.status);
    out.fact("direct_status", f.direct_api.as_ref().and_then(|d| d.status));
    out.fact("bff_path", &f.bff_api_route.path);
    out.fact("direct_path", &f.direct_api_route.path);
    let has_access = f.cookies.iter().any(|c| c.name.contains("access"));
    if f.bff_api_route.not_found() {
        return no_bff_route(out, f, has_access);
    }
    if bff.ok() {
        let status = bff.status.unwrap_or(0);
        let ok = match &f.bff_api_route.path {
            Some(p) => t!("FE003/bff-call-answered-at", status = status, path = p),
            None => t!("FE003/bff-call-answered", status = status),
        };
        out.causes_all(&[Cause::CookieMissing, Cause::TokenNotForwarded, Cause::TokenInvalid], RuledOut, ok.clone());
        return out.status(Status::Ok, ok);
    }
    // How a call answered: its HTTP status, or that it did not.
    let answered = |h: &crate::facts::of::http::HttpFacts| {
        h.status.map(|s| Text::from(format!("HTTP {s}"))).unwrap_or_else(|| t!("FE003/no-answer"))
    };
    let code = answered(bff);
    if !has_access {
        out.cause(Cause::CookieMissing, Confirmed, t!("FE003/no-access-token-cookie", code = code.clone()));
        out.cause(Cause::TokenNotForwarded, Unchecked, t!("FE003/no-token-to-forward"));
        out.cause(Cause::TokenInvalid, Unchecked, t!("FE003/no-token-to-check"));
        return out.status(Status::Critical, t!("FE003/no-access-token-cookie-summary", code = code));
    }
    out.cause(Cause::CookieMissing, RuledOut, t!("FE003/cookie-sent-back"));
    match f.direct_api.as_ref() {
        Some(d) if d.ok() => {
            out.cause(
                Cause::TokenNotForwarded,
                Confirmed,
                t!("FE003/not-forwarded", direct = d.status.unwrap_or(0), code = code.clone()),
            );
            out.cause(Cause::TokenInvalid, RuledOut, t!("FE003/user-api-accepts"));
        }
        // A route user-api does not have says nothing about the token either.
        Some(_) if f.direct_api_route.not_found() => {
            let why = t!("FE003/no-direct-route", paths = f.direct_api_route.paths_text());
            out.cause(Cause::TokenNotForwarded, Unchecked, why.clone());
            out.cause(Cause::TokenInvalid, Unchecked, why);
        }
        // Only a refusal says something about the token; a 5xx, a 404 or no answer is user-api's
        // own trouble (API001) and leaves both causes open.
        Some(d) if !matches!(d.status, Some(401 | 403)) => {
            let why = t!("FE003/direct-failed-otherwise", direct = answered(d));
            out.cause(Cause::TokenNotForwarded, Unchecked, why.clone());
            out.cause(Cause::TokenInvalid, Unchecked, why);
        }
        Some(d) => {
            let dc = answered(d);
            out.cause(Cause::TokenNotForwarded, RuledOut, t!("FE003/refused-directly-too", direct = dc.clone()));
            out.cause(Cause::TokenInvalid, Confirmed, t!("FE003/refuses-the-token", direct = dc));
        }
        None => {
            out.cause(Cause::TokenNotForwarded, Unchecked, t!("FE003/not-called-directly"));
            out.cause(Cause::TokenInvalid, Unchecked, t!("FE003/not-called-directly"));
        }
    }
    out.status(Status::Critical, t!("FE003/calls-answer", code = code))
}

/// Every BFF profile route answered 404: the route is not there, which is no verdict on cookies
/// or tokens.
fn no_bff_route(mut out: Finding, f: &FrontendFacts, has_access: bool) -> Finding {
    let why = t!("FE003/no-bff-route", paths = f.bff_api_route.paths_text());
    if has_access {
        out.cause(Cause::CookieMissing, RuledOut, t!("FE003/login-set-the-cookie"));
    } else {
        out.cause(Cause::CookieMissing, Suspected, t!("FE003/login-set-no-cookie"));
    }
    out.cause(Cause::TokenNotForwarded, Unchecked, why.clone());
    out.cause(Cause::TokenInvalid, Unchecked, why.clone());
    out.status(Status::Unknown, why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::of::http::{CookieFacts, HttpErrorKind, HttpFacts};
    use crate::facts::of::routes::{PathStatus, RouteFacts};
    use crate::problems::fixtures::*;

    const BFF: &str = "http://localhost:3002/api/users/profile";
    const DIRECT: &str = "http://localhost:8001/api/users/profile";

    fn cookie(name: &str) -> CookieFacts {
        CookieFacts { name: name.into(), http_only: true, ..Default::default() }
    }

    /// Logged in through the BFF with `cookies`; the BFF call answered `bff`, the direct one `direct`.
    fn called(cookies: &[&str], bff: HttpFacts, direct: Option<HttpFacts>) -> FrontendFacts {
        FrontendFacts {
            service: "user-frontend".into(),
            base_url: "http://localhost:3002".into(),
            bff_login: Some(answer("POST", "http://localhost:3002/api/auth/login", 200, "{}")),
            cookies: cookies.iter().map(|n| cookie(n)).collect(),
            bff_api: Some(bff),
            direct_api: direct,
            ..Default::default()
        }
    }

    fn get(url: &str, status: u16) -> HttpFacts {
        answer("GET", url, status, "")
    }

    #[test]
    fn a_bff_call_that_works_rules_everything_out() {
        let f = diagnose(&called(&["access_token", "refresh_token"], get(BFF, 200), None));
        assert_eq!(f.status, Status::Ok);
        assert_eq!(f.summary.en(), "the BFF call answered HTTP 200");
        for (id, v) in verdicts(&f) {
            assert_eq!(v, RuledOut, "{id}");
            assert_cause(&f, id, RuledOut, "the BFF call answered HTTP 200");
        }
    }

    #[test]
    fn each_cause_is_confirmed_from_its_own_evidence() {
        // No access-token cookie to send.
        let f = diagnose(&called(&["refresh_token"], get(BFF, 401), None));
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.summary.en(), "no access-token cookie; BFF call HTTP 401");
        assert_cause(
            &f,
            "cookie-missing",
            Confirmed,
            "the login set no access-token cookie, and the BFF call answered HTTP 401",
        );
        assert_cause(&f, "token-not-forwarded", Unchecked, "no token to forward");
        assert_cause(&f, "token-invalid", Unchecked, "no token to check");

        // The token works directly but not through the BFF.
        let f = diagnose(&called(&["access_token"], get(BFF, 401), Some(get(DIRECT, 200))));
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.summary.en(), "API calls through the BFF answer HTTP 401");
        assert_cause(&f, "cookie-missing", RuledOut, "the access-token cookie was set and sent back");
        assert_cause(
            &f,
            "token-not-forwarded",
            Confirmed,
            "the same token sent straight to user-api works (HTTP 200), but through the BFF it gets HTTP 401",
        );
        assert_cause(&f, "token-invalid", RuledOut, "user-api accepts the token");

        // user-api refuses the token itself.
        for (direct, says) in [
            (get(DIRECT, 401), "user-api refuses the token itself (HTTP 401)"),
            (get(DIRECT, 403), "user-api refuses the token itself (HTTP 403)"),
        ] {
            let f = diagnose(&called(&["access_token"], get(BFF, 401), Some(direct)));
            assert_eq!(f.status, Status::Critical);
            assert_cause(&f, "token-invalid", Confirmed, says);
            assert_cause(&f, "token-not-forwarded", RuledOut, "user-api refuses the token directly too");
            assert_cause(&f, "cookie-missing", RuledOut, "was set and sent back");
        }
    }

    #[test]
    fn a_direct_call_that_fails_for_another_reason_says_nothing_about_the_token() {
        for (direct, says) in [
            (failure("GET", DIRECT, HttpErrorKind::Refused, "tcp connect error"), "(no answer; see API001)"),
            (get(DIRECT, 500), "(HTTP 500; see API001)"),
            (get(DIRECT, 404), "(HTTP 404; see API001)"),
        ] {
            let f = diagnose(&called(&["access_token"], get(BFF, 401), Some(direct)));
            assert_eq!(f.status, Status::Critical);
            assert_cause(&f, "token-invalid", Unchecked, says);
            assert_cause(&f, "token-not-forwarded", Unchecked, "says nothing about the token");
        }
    }

    fn tried(paths: &[(&str, u16)], answered: Option<&str>) -> RouteFacts {
        RouteFacts {
            path: answered.map(str::to_string),
            tried: paths
                .iter()
                .map(|(p, s)| PathStatus { path: p.to_string(), status: Some(*s), error: None })
                .collect(),
        }
    }

    #[test]
    fn the_route_that_answered_is_judged_and_a_404_everywhere_is_route_not_found() {
        // The spec's /api/profile answered.
        let mut facts = called(&["access_token"], get("http://localhost:3002/api/profile", 200), None);
        facts.bff_api_route = tried(&[("/api/profile", 200)], Some("/api/profile"));
        let f = diagnose(&facts);
        assert_eq!(f.status, Status::Ok);
        assert_eq!(f.summary.en(), "the BFF call answered HTTP 200 at /api/profile");
        assert_eq!(f.evidence["bff_path"], "/api/profile");

        // The runbook's route answered after a 404 on the spec's: judged on it.
        let mut facts = called(&["access_token"], get(BFF, 401), Some(get("http://localhost:8001/profile", 200)));
        facts.bff_api_route = tried(&[("/api/profile", 404), ("/api/users/profile", 401)], Some("/api/users/profile"));
        facts.direct_api_route = tried(&[("/profile", 200)], Some("/profile"));
        let f = diagnose(&facts);
        assert_cause(&f, "token-not-forwarded", Confirmed, "works (HTTP 200), but through the BFF it gets HTTP 401");

        // No route at all on the BFF: not a token problem.
        let mut facts = called(&["access_token"], get(BFF, 404), Some(get(DIRECT, 401)));
        facts.bff_api_route = tried(&[("/api/profile", 404), ("/api/users/profile", 404)], None);
        let f = diagnose(&facts);
        assert_eq!(f.status, Status::Unknown, "{}", f.summary.en());
        assert!(
            f.summary.en().starts_with("the BFF has no profile route at /api/profile, /api/users/profile (HTTP 404)")
        );
        assert_cause(&f, "token-invalid", Unchecked, "says nothing about the token");
        assert_cause(&f, "token-not-forwarded", Unchecked, "the route was not found");
        assert_cause(&f, "cookie-missing", RuledOut, "the login set the access-token cookie");
        verdicts(&f);

        // No route on user-api for the direct call: both token causes stay open.
        let mut facts = called(&["access_token"], get(BFF, 401), Some(get(DIRECT, 404)));
        facts.direct_api_route = tried(&[("/profile", 404), ("/api/users/profile", 404)], None);
        let f = diagnose(&facts);
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "token-invalid",
            Unchecked,
            "user-api has no profile route at /profile, /api/users/profile (HTTP 404)",
        );
        verdicts(&f);
    }

    #[test]
    fn what_doctor_could_not_try_stays_unchecked() {
        let f = diagnose(&called(&["access_token"], get(BFF, 500), None));
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "cookie-missing", RuledOut, "was set and sent back");
        assert_cause(&f, "token-not-forwarded", Unchecked, "user-api was not called directly");
        assert_cause(&f, "token-invalid", Unchecked, "user-api was not called directly");

        let mut facts = called(&["access_token"], get(BFF, 401), None);
        facts.bff_login = Some(get("http://localhost:3002/api/auth/login", 401));
        let f = diagnose(&facts);
        assert_eq!(f.status, Status::Skipped);
        for (id, _) in verdicts(&f) {
            assert_cause(&f, id, Unchecked, "the BFF login failed (see FE002, AU001)");
        }

        facts.bff_login = None;
        let f = diagnose(&facts);
        assert_eq!(f.status, Status::Skipped);
        for (id, _) in verdicts(&f) {
            assert_cause(&f, id, Unchecked, "no BFF login tried (set DOCTOR_LOGIN_USERNAME and DOCTOR_LOGIN_PASSWORD)");
        }
    }
}
