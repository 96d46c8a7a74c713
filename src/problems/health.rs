//! Reading a service's health answer the same way in every check (API001, AU001, FE001): no
//! answer, no health endpoint at any path (every path answered 404: never "ok"), an error
//! status, a 2xx whose body says `unhealthy` or names a component in error, or healthy; the
//! path that answered, and which component the body says is in error.

use crate::facts::of::health::{HealthBody, HealthFacts};
use crate::facts::of::http::{HttpError, HttpFacts};
use crate::t;
use crate::text::Text;

/// What a health answer says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading<'a> {
    /// No health request was made.
    NotProbed,
    /// No HTTP answer: refused, timed out, reset...
    Failed(&'a HttpError),
    /// Every health path answered 404.
    NoEndpoint,
    /// A status that is neither 2xx nor 404 (5xx, 401...).
    Status(u16),
    /// A 2xx whose body says the service or one of its components is not healthy.
    Unhealthy(u16),
    /// A 2xx with nothing unhealthy in its body.
    Healthy(u16),
}

/// The body of the health answer: as the probe parsed it, else parsed from the answer itself
/// (facts recorded before the probe parsed bodies).
pub fn body(h: &HttpFacts, hc: &HealthFacts) -> Option<HealthBody> {
    if hc.body.is_some() {
        return hc.body.clone();
    }
    h.body.as_deref().filter(|_| h.status != Some(404)).and_then(HealthBody::parse)
}

pub fn read<'a>(h: Option<&'a HttpFacts>, hc: &HealthFacts) -> Reading<'a> {
    let Some(h) = h else { return Reading::NotProbed };
    if let Some(e) = &h.error {
        return Reading::Failed(e);
    }
    match h.status {
        None => Reading::NotProbed,
        Some(404) if hc.path.is_none() => Reading::NoEndpoint,
        Some(code) if !(200..300).contains(&code) => Reading::Status(code),
        Some(code) if body(h, hc).is_some_and(|b| b.unhealthy()) => Reading::Unhealthy(code),
        Some(code) => Reading::Healthy(code),
    }
}

/// The path that answered (`/healthz`), else the one the answer came from.
pub fn path(h: &HttpFacts, hc: &HealthFacts) -> String {
    if let Some(p) = &hc.path {
        return p.clone();
    }
    let rest = h.url.split_once("://").map_or(h.url.as_str(), |(_, r)| r);
    rest.find('/').map_or("/".to_string(), |i| rest[i..].split(['?', '#']).next().unwrap_or("/").to_string())
}

/// "no health endpoint at /healthz, /health"
pub fn no_endpoint(h: &HttpFacts, hc: &HealthFacts) -> Text {
    let paths = if hc.tried.is_empty() { path(h, hc) } else { hc.paths_text() };
    t!("shared/no-health-endpoint", paths = paths)
}

/// "it reports status unhealthy, database: error, redis: ok", when the body says anything.
pub fn reports(h: &HttpFacts, hc: &HealthFacts) -> Option<Text> {
    let b = body(h, hc)?;
    let mut parts = Vec::new();
    if let Some(s) = &b.status {
        parts.push(format!("status {s}"));
    }
    if !b.components.is_empty() {
        parts.push(b.components_text());
    }
    (!parts.is_empty()).then(|| t!("shared/health-reports", parts = parts.join(", ")))
}

/// What the body says about a component named after `word` (`database`, `redis`): whether it
/// is failing, and the evidence; `None` when the body does not mention it.
pub fn component(h: &HttpFacts, hc: &HealthFacts, word: &str) -> Option<(bool, Text)> {
    let b = body(h, hc)?;
    let p = path(h, hc);
    let (name, state) = b.components.iter().find(|(k, _)| names(k, word))?;
    let failing = b.names_failing(word);
    Some((failing, t!("shared/health-component", path = p, component = name, state = state)))
}

fn names(key: &str, word: &str) -> bool {
    let k = key.to_ascii_lowercase();
    match word {
        "database" => ["database", "db", "postgres"].iter().any(|a| k.contains(a)),
        w => k.contains(w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::of::http::HttpErrorKind;
    use crate::facts::of::routes::PathStatus;
    use crate::problems::fixtures::*;

    fn tried(paths: &[(&str, u16)], answered: Option<&str>) -> HealthFacts {
        HealthFacts {
            path: answered.map(str::to_string),
            tried: paths
                .iter()
                .map(|(p, s)| PathStatus { path: p.to_string(), status: Some(*s), error: None })
                .collect(),
            body: None,
        }
    }

    #[test]
    fn each_answer_reads_as_what_it_says() {
        let hc = tried(&[("/healthz", 200)], Some("/healthz"));
        let ok = answer("GET", "http://h/healthz", 200, r#"{"status":"healthy","database":"ok","redis":"ok"}"#);
        assert_eq!(read(Some(&ok), &hc), Reading::Healthy(200));
        let sick = answer("GET", "http://h/healthz", 200, r#"{"status":"unhealthy","database":"error","redis":"ok"}"#);
        assert_eq!(read(Some(&sick), &hc), Reading::Unhealthy(200));
        let said = |c: Option<(bool, Text)>| c.map(|(failing, t)| (failing, t.en()));
        assert_eq!(said(component(&sick, &hc, "database")), Some((true, "/healthz reports database: error".into())));
        assert_eq!(said(component(&sick, &hc, "redis")), Some((false, "/healthz reports redis: ok".into())));
        assert_eq!(
            reports(&sick, &hc).map(|t| t.en()).as_deref(),
            Some("it reports status unhealthy, database: error, redis: ok")
        );
        let busy = answer("GET", "http://h/healthz", 503, r#"{"status":"unhealthy","database":"error"}"#);
        assert_eq!(read(Some(&busy), &hc), Reading::Status(503));

        let none = tried(&[("/healthz", 404), ("/health", 404)], None);
        let missing = answer("GET", "http://h/healthz", 404, r#"{"detail":"Not Found"}"#);
        assert_eq!(read(Some(&missing), &none), Reading::NoEndpoint);
        assert!(no_endpoint(&missing, &none).en().starts_with("no health endpoint at /healthz, /health"));
        assert_eq!(component(&missing, &none, "database"), None);

        let refused = failure("GET", "http://h/healthz", HttpErrorKind::Refused, "tcp connect error");
        assert!(matches!(read(Some(&refused), &hc), Reading::Failed(_)));
        assert_eq!(read(None, &hc), Reading::NotProbed);
    }

    #[test]
    fn facts_without_the_paths_tried_still_read() {
        let hc = HealthFacts::default();
        let h = answer("GET", "http://localhost:8001/health?x=1", 200, r#"{"status":"ok"}"#);
        assert_eq!(path(&h, &hc), "/health");
        assert_eq!(read(Some(&h), &hc), Reading::Healthy(200));
        let h = answer("GET", "http://localhost:8001/health", 404, "");
        assert_eq!(read(Some(&h), &hc), Reading::NoEndpoint);
        assert!(no_endpoint(&h, &hc).en().starts_with("no health endpoint at /health "));
    }
}
