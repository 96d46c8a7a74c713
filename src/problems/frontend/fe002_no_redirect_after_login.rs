//! FE002: no redirect after login. With credentials, logs in through the BFF and reads its
//! `Set-Cookie` headers (HttpOnly, Secure, SameSite, path, expiry) and CORS headers. May confirm
//! `cookie-attributes` (no HttpOnly, SameSite=None without Secure, no cookie at all),
//! `secure-cookie-on-http` (Secure over plain HTTP: the browser drops it) and
//! `cors-credentials` (`Access-Control-Allow-Origin: *` with credentials).

use crate::catalogue::Area;
use crate::facts::of::web::FrontendFacts;
use crate::problems::registry::{Inputs, Problem};
use crate::report::{Finding, Status, Verdict::*};
use crate::t;
use crate::text::{Sep, Text};

crate::causes! {
    CorsCredentials = "cors-credentials",
    CookieAttributes = "cookie-attributes",
    SecureCookieOnHttp = "secure-cookie-on-http",
}

pub static PROBLEM: Problem = Problem {
    code: "FE002",
    areas: &[Area::Frontend],
    runbook: crate::runbook!("frontend/FE002-no-redirect-after-login.toml"),
    causes: Cause::IDS,
    run,
    by_target: true,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let Some(w) = &i.facts.web else { return vec![] };
    w.frontends.iter().map(|f| i.timed(diagnose(f), i.facts.web_ms)).collect()
}

pub fn diagnose(f: &FrontendFacts) -> Finding {
    let mut out = Finding::new("FE002", format!("{} {}", f.service, f.base_url));
    let Some(login) = &f.bff_login else {
        let why = t!("FE002/no-login-tried");
        out.causes_all(
            &[Cause::CorsCredentials, Cause::CookieAttributes, Cause::SecureCookieOnHttp],
            Unchecked,
            why.clone(),
        );
        return out.status(Status::Skipped, why);
    };
    out.fact("login_status", login.status);
    out.fact("cookies", &f.cookies);
    out.fact("cors", &login.headers);
    if !login.ok() {
        let answer = login.status.map(|s| Text::from(format!("HTTP {s}"))).unwrap_or_else(|| t!("FE002/nothing"));
        let why = t!("FE002/login-answered", answer = answer);
        out.causes_all(
            &[Cause::CorsCredentials, Cause::CookieAttributes, Cause::SecureCookieOnHttp],
            Unchecked,
            why.clone(),
        );
        return out.status(Status::Critical, why);
    }
    let plain_http = f.base_url.starts_with("http://");
    let host = f.base_url.split("://").nth(1).unwrap_or("").split(['/', '?']).next().unwrap_or("");
    let host =
        host.rsplit_once(':').map_or(host, |(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { host });
    let host = host.trim_matches(['[', ']']);
    let loopback = plain_http && (host == "localhost" || host == "::1" || host.starts_with("127."));
    let mut problems: Vec<Text> = Vec::new();
    let mut warnings: Vec<Text> = Vec::new();
    let acao = login.headers.get("access-control-allow-origin").map(String::as_str);
    let acac = login.headers.get("access-control-allow-credentials").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if acao == Some("*") && acac {
        let m = t!("FE002/cors-wildcard-with-credentials");
        out.cause(Cause::CorsCredentials, Confirmed, m.clone());
        problems.push(m);
    } else {
        out.cause(
            Cause::CorsCredentials,
            RuledOut,
            match acao {
                Some(o) => Text::from(format!("Access-Control-Allow-Origin: {o}; Allow-Credentials: {acac}")),
                None => t!("FE002/no-cors-headers"),
            },
        );
    }
    let mut attr: Vec<Text> = Vec::new();
    let mut secure_http: Vec<Text> = Vec::new();
    if f.cookies.is_empty() {
        attr.push(t!("FE002/no-cookie"));
    }
    for c in &f.cookies {
        let name = c.name.to_ascii_lowercase();
        if !c.http_only && ["token", "session", "sid", "auth", "jwt"].iter().any(|w| name.contains(w)) {
            attr.push(t!("FE002/lacks-httponly", cookie = &c.name));
        }
        if c.same_site.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("none")) && !c.secure {
            attr.push(t!("FE002/samesite-none-without-secure", cookie = &c.name));
        }
        if c.secure && plain_http {
            secure_http.push(t!("FE002/secure-over-http", cookie = &c.name));
        }
    }
    let shown: Vec<String> = f
        .cookies
        .iter()
        .map(|c| {
            let mut a = vec![c.name.clone()];
            if c.http_only {
                a.push("HttpOnly".into());
            }
            if c.secure {
                a.push("Secure".into());
            }
            if let Some(s) = &c.same_site {
                a.push(format!("SameSite={s}"));
            }
            if let Some(p) = &c.path {
                a.push(format!("Path={p}"));
            }
            if let Some(m) = c.max_age {
                a.push(format!("Max-Age={m}"));
            }
            a.join("; ")
        })
        .collect();
    if attr.is_empty() {
        out.cause(Cause::CookieAttributes, RuledOut, shown.join(" | "));
    } else {
        out.cause(Cause::CookieAttributes, Confirmed, Text::join(attr.clone(), Sep::Clauses));
        problems.extend(attr);
    }
    if secure_http.is_empty() {
        out.cause(
            Cause::SecureCookieOnHttp,
            RuledOut,
            if plain_http { t!("FE002/no-secure-cookie-on-http") } else { t!("FE002/served-over-https") },
        );
    } else if loopback {
        // Chrome and Firefox treat http://localhost as a secure context and keep Secure cookies
        // there; any other plain-HTTP address (a LAN IP, a compose name) loses them.
        let m = t!("FE002/kept-on-localhost-only", cookies = Text::join(secure_http, Sep::Clauses));
        out.cause(Cause::SecureCookieOnHttp, Suspected, m.clone());
        warnings.push(m);
    } else {
        out.cause(Cause::SecureCookieOnHttp, Confirmed, Text::join(secure_http.clone(), Sep::Clauses));
        problems.extend(secure_http);
    }
    if problems.is_empty() && !warnings.is_empty() {
        return out.status(Status::Warning, Text::join(warnings, Sep::Clauses));
    }
    if problems.is_empty() {
        out.status(Status::Ok, t!("FE002/login-sets", cookies = shown.join(" | ")))
    } else {
        out.status(Status::Critical, Text::join(problems, Sep::Clauses))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::of::http::{CookieFacts, HttpErrorKind};
    use crate::problems::fixtures::*;

    fn cookie(name: &str, http_only: bool, secure: bool, same_site: Option<&str>) -> CookieFacts {
        CookieFacts {
            name: name.into(),
            http_only,
            secure,
            same_site: same_site.map(str::to_string),
            path: Some("/".into()),
            ..Default::default()
        }
    }

    fn sound_cookies() -> Vec<CookieFacts> {
        vec![cookie("access_token", true, false, Some("Lax")), cookie("refresh_token", true, false, Some("Strict"))]
    }

    /// A BFF login at `base_url` answered 200 with `cookies` and CORS `headers`.
    fn logged_in(base_url: &str, cookies: Vec<CookieFacts>, headers: &[(&str, &str)]) -> FrontendFacts {
        let mut login = answer("POST", &format!("{base_url}/api/auth/login"), 200, "{}");
        login.headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        login.cookies = cookies.clone();
        FrontendFacts {
            service: "user-frontend".into(),
            base_url: base_url.into(),
            bff_login: Some(login),
            cookies,
            ..Default::default()
        }
    }

    const SAME_ORIGIN: [(&str, &str); 2] =
        [("access-control-allow-origin", "http://localhost:3002"), ("access-control-allow-credentials", "true")];

    #[test]
    fn sound_cookies_and_cors_rule_everything_out() {
        let f = diagnose(&logged_in("http://localhost:3002", sound_cookies(), &SAME_ORIGIN));
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert!(verdicts(&f).iter().all(|(_, v)| *v == RuledOut), "{:?}", f.causes);
        assert_cause(
            &f,
            "cors-credentials",
            RuledOut,
            "Access-Control-Allow-Origin: http://localhost:3002; Allow-Credentials: true",
        );
        assert_cause(
            &f,
            "cookie-attributes",
            RuledOut,
            "access_token; HttpOnly; SameSite=Lax; Path=/ | refresh_token; HttpOnly",
        );
        assert_cause(&f, "secure-cookie-on-http", RuledOut, "no cookie is marked Secure on this plain-HTTP site");
        assert!(f.summary.en().contains("the BFF login sets access_token; HttpOnly"), "{}", f.summary.en());

        let secure = vec![cookie("access_token", true, true, Some("None"))];
        let f = diagnose(&logged_in("https://app.example.com", secure, &[]));
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_cause(&f, "cors-credentials", RuledOut, "no CORS headers: same-origin only");
        assert_cause(&f, "cookie-attributes", RuledOut, "access_token; HttpOnly; Secure; SameSite=None");
        assert_cause(&f, "secure-cookie-on-http", RuledOut, "the site is served over HTTPS");
    }

    #[test]
    fn each_cause_is_confirmed_from_its_own_evidence() {
        let http = "http://localhost:3002";
        let wildcard = [("access-control-allow-origin", "*"), ("access-control-allow-credentials", "true")];
        let cases = [
            (
                logged_in(http, sound_cookies(), &wildcard),
                "cors-credentials",
                "Access-Control-Allow-Origin: * with Access-Control-Allow-Credentials: true",
            ),
            (logged_in(http, vec![], &SAME_ORIGIN), "cookie-attributes", "the login set no cookie at all"),
            (
                logged_in(http, vec![cookie("session_id", false, false, Some("Lax"))], &SAME_ORIGIN),
                "cookie-attributes",
                "session_id lacks HttpOnly: scripts can read the token",
            ),
            (
                logged_in("https://app.example.com", vec![cookie("access_token", true, false, Some("None"))], &[]),
                "cookie-attributes",
                "access_token has SameSite=None without Secure: browsers reject it",
            ),
            (
                logged_in(
                    "http://192.168.1.20:3002",
                    vec![cookie("access_token", true, true, Some("Lax"))],
                    &SAME_ORIGIN,
                ),
                "secure-cookie-on-http",
                "access_token is Secure but the site is served over plain HTTP: the browser drops it",
            ),
        ];
        for (facts, id, says) in cases {
            let f = diagnose(&facts);
            assert_eq!(f.status, Status::Critical, "{id}");
            assert_cause(&f, id, Confirmed, says);
            assert!(f.summary.en().contains(says), "{}", f.summary.en());
            let others: Vec<_> = verdicts(&f).into_iter().filter(|(c, _)| *c != id).collect();
            assert!(others.iter().all(|(_, v)| *v == RuledOut), "{id}: {others:?}");
        }
        // On http://localhost, browsers that treat it as a secure context keep Secure cookies.
        let f = diagnose(&logged_in(http, vec![cookie("access_token", true, true, Some("Lax"))], &SAME_ORIGIN));
        assert_eq!(f.status, Status::Warning, "{}", f.summary.en());
        assert_cause(&f, "secure-cookie-on-http", Suspected, "any other plain-HTTP address");
        // Names are matched whatever their case.
        let f = diagnose(&logged_in(http, vec![cookie("AccessToken", false, false, Some("Lax"))], &SAME_ORIGIN));
        assert_cause(&f, "cookie-attributes", Confirmed, "AccessToken lacks HttpOnly");
        // A cookie that is neither a token nor a session may lack HttpOnly.
        let theme = vec![cookie("theme", false, false, None), cookie("access_token", true, false, Some("Lax"))];
        let f = diagnose(&logged_in(http, theme, &SAME_ORIGIN));
        assert_cause(&f, "cookie-attributes", RuledOut, "theme; Path=/ | access_token; HttpOnly");
    }

    #[test]
    fn without_a_successful_bff_login_nothing_is_judged() {
        let f = diagnose(&FrontendFacts { bff_login: None, ..logged_in("http://localhost:3002", vec![], &[]) });
        assert_eq!(f.status, Status::Skipped);
        for (id, _) in verdicts(&f) {
            assert_cause(&f, id, Unchecked, "no BFF login tried: set DOCTOR_LOGIN_USERNAME and DOCTOR_LOGIN_PASSWORD");
        }

        let mut refused = logged_in("http://localhost:3002", vec![], &[]);
        refused.bff_login = Some(answer("POST", "http://localhost:3002/api/auth/login", 401, "{}"));
        let f = diagnose(&refused);
        assert_eq!(f.status, Status::Critical);
        for (id, _) in verdicts(&f) {
            assert_cause(&f, id, Unchecked, "the BFF login answered HTTP 401: see AU001");
        }
        refused.bff_login =
            Some(failure("POST", "http://localhost:3002/api/auth/login", HttpErrorKind::Timeout, "timed out"));
        let f = diagnose(&refused);
        assert_cause(&f, "cookie-attributes", Unchecked, "the BFF login answered nothing: see AU001");
    }
}
