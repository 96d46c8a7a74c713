//! The user-facing services over HTTP: user-api and admin-api (their health paths, `/healthz`
//! then `/health`, asked at once, and `/metrics`) and the Next.js frontends (the page itself and
//! the BFF's `/api/health`; with credentials, a login through the BFF whose cookies and CORS
//! headers are checked, then the BFF's profile route with those cookies, and the same token sent
//! straight to user-api's profile route to tell "not forwarded" from "invalid"; each route's
//! spellings tried in order, the first that is not a 404 answering). Cookie values and tokens
//! stay in memory; facts keep attributes and outcomes only.

use super::health::{self, HealthFacts};
use super::http::{self, CookieFacts, HttpFacts, Request};
use super::routes::{self, Attempt, RouteFacts};
use super::{Timing, ms};
use crate::prometheus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// user-api's and admin-api's health paths: the spec's `/healthz`, then the runbook's `/health`.
pub const API_HEALTH_PATHS: &[&str] = &["/healthz", "/health"];
/// The frontends' BFF health route.
pub const BFF_HEALTH_PATHS: &[&str] = &["/api/health"];
/// The BFF's profile route (the spec's), then the runbook's.
pub const BFF_PROFILE_PATHS: &[&str] = &["/api/profile", "/api/users/profile"];
/// user-api's own profile route (the spec's), then the runbook's.
pub const API_PROFILE_PATHS: &[&str] = &["/profile", "/api/users/profile"];
/// The BFF's login route (the same in the spec and the runbook).
pub const BFF_LOGIN_PATH: &str = "/api/auth/login";

/// One API or frontend to probe.
#[derive(Debug, Clone)]
pub struct WebTarget {
    pub service: String,
    pub base_url: String,
    /// Health paths, asked at once; the first answer in this order that is not a 404 counts.
    pub health_paths: Vec<String>,
}

impl WebTarget {
    /// An API with the default health paths ([`API_HEALTH_PATHS`]).
    pub fn api(service: &str, base_url: &str) -> WebTarget {
        WebTarget { service: service.into(), base_url: base_url.into(), health_paths: routes::owned(API_HEALTH_PATHS) }
    }

    /// A frontend with the default BFF health paths ([`BFF_HEALTH_PATHS`]).
    pub fn frontend(service: &str, base_url: &str) -> WebTarget {
        WebTarget { service: service.into(), base_url: base_url.into(), health_paths: routes::owned(BFF_HEALTH_PATHS) }
    }
}

#[derive(Debug, Clone)]
pub struct WebProbeConfig {
    pub apis: Vec<WebTarget>,
    pub frontends: Vec<WebTarget>,
    pub user_api_url: String,
    /// user-api's profile routes for the direct call, in order (default [`API_PROFILE_PATHS`]).
    pub user_api_profile_paths: Vec<String>,
    /// The BFF's profile routes, in order (default [`BFF_PROFILE_PATHS`]).
    pub bff_profile_paths: Vec<String>,
    pub timeout: Duration,
    pub login: Option<(String, String)>,
    /// Origin sent with the BFF login, to see the CORS answer.
    pub origin: String,
    /// Prometheus's base URL, asked for request latency when the perf checks run.
    pub prometheus: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PrometheusFacts {
    pub base_url: String,
    pub http: HttpFacts,
    /// p95 request latency in seconds per job, or why it could not be read.
    pub p95: Option<Result<BTreeMap<String, f64>, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsFacts {
    pub in_progress: Option<f64>,
    /// Seconds, per handler.
    pub p50: BTreeMap<String, f64>,
    pub p95: BTreeMap<String, f64>,
    pub resident_memory: Option<f64>,
    /// user-api's own profile cache counters (`profile_cache_hits_total` /
    /// `profile_cache_misses_total`, spec `11-operations/03`), when it exports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_cache_hits: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_cache_misses: Option<f64>,
    pub samples: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiFacts {
    pub service: String,
    pub base_url: String,
    /// The health answer: that of the first health path that did not answer 404 (the first
    /// path's 404 when all did).
    pub health: HttpFacts,
    /// Which health path answered, what each answered, and the body parsed.
    #[serde(default)]
    pub health_check: HealthFacts,
    pub metrics_http: HttpFacts,
    pub metrics: Option<MetricsFacts>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FrontendFacts {
    pub service: String,
    pub base_url: String,
    pub page: HttpFacts,
    /// The page is Next.js's own error page ("Application error", `__next_error__`).
    pub nextjs_error: bool,
    /// The page rendered an empty application root.
    pub blank: bool,
    /// The BFF's health answer (`/api/health`); `None` when no health path is configured.
    #[serde(default)]
    pub health: Option<HttpFacts>,
    #[serde(default)]
    pub health_check: HealthFacts,
    pub bff_login: Option<HttpFacts>,
    pub cookies: Vec<CookieFacts>,
    /// The BFF's profile route (`/api/profile`, else `/api/users/profile`) called with the
    /// login's cookies: the answer of the route that answered (the last 404 when none did).
    pub bff_api: Option<HttpFacts>,
    #[serde(default)]
    pub bff_api_route: RouteFacts,
    /// The access token from the cookie sent straight to user-api's profile route (`/profile`,
    /// else `/api/users/profile`) as a Bearer token.
    pub direct_api: Option<HttpFacts>,
    #[serde(default)]
    pub direct_api_route: RouteFacts,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WebFacts {
    pub apis: Vec<ApiFacts>,
    pub frontends: Vec<FrontendFacts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusFacts>,
    pub timings: Vec<Timing>,
}

pub async fn gather(cfg: &WebProbeConfig) -> WebFacts {
    let deadline = Instant::now() + cfg.timeout;
    let mut facts = WebFacts::default();
    let Some(client) = http::client() else { return facts };
    let t = Instant::now();
    let apis = cfg.apis.iter().map(|t| api(&client, t, deadline));
    let fronts = cfg.frontends.iter().map(|t| frontend(&client, cfg, t, deadline));
    let prom = async {
        let base = cfg.prometheus.as_deref()?.trim_end_matches('/').to_string();
        let url = format!("{base}/api/v1/query?query={}", crate::redact::percent_encode(prometheus::P95_QUERY));
        let r = http::send(&client, Request { method: "GET", url: &url, json: None, headers: vec![] }, deadline).await;
        let p95 = r.raw_body.as_deref().filter(|_| r.facts.ok()).map(|t| prometheus::query_vector(t, "job"));
        Some(PrometheusFacts { base_url: crate::redact::url(&base), http: HttpFacts { body: None, ..r.facts }, p95 })
    };
    let (apis, fronts, prom) =
        tokio::join!(futures_util::future::join_all(apis), futures_util::future::join_all(fronts), prom);
    facts.apis = apis;
    facts.frontends = fronts;
    facts.prometheus = prom;
    facts.timings.push(Timing { step: "APIs and frontends".into(), ms: ms(t.elapsed()), ok: true });
    facts
}

/// The label a histogram's series are told apart by: the spec's `endpoint`, else the
/// instrumentator's `handler`.
fn histogram_label(samples: &[prometheus::Sample], base: &str) -> &'static str {
    let bucket = format!("{base}_bucket");
    let spec = samples.iter().any(|s| s.name == bucket && s.labels.contains_key("endpoint"));
    if spec { "endpoint" } else { "handler" }
}

fn metrics_facts(text: &str) -> MetricsFacts {
    let s = prometheus::parse(text);
    let by = histogram_label(&s, "http_request_duration_seconds");
    MetricsFacts {
        in_progress: prometheus::total(&s, "http_requests_in_progress"),
        p50: prometheus::quantiles(&s, "http_request_duration_seconds", by, 0.5),
        p95: prometheus::quantiles(&s, "http_request_duration_seconds", by, 0.95),
        resident_memory: prometheus::total(&s, "process_resident_memory_bytes"),
        profile_cache_hits: prometheus::total(&s, "profile_cache_hits_total"),
        profile_cache_misses: prometheus::total(&s, "profile_cache_misses_total"),
        samples: s.len(),
    }
}

async fn api(client: &reqwest::Client, t: &WebTarget, deadline: Instant) -> ApiFacts {
    let base = t.base_url.trim_end_matches('/');
    let metrics_url = routes::join(base, "/metrics");
    let ((health, health_check), metrics) = tokio::join!(
        health::probe(client, base, &t.health_paths, deadline),
        http::send(client, Request { method: "GET", url: &metrics_url, json: None, headers: vec![] }, deadline),
    );
    let parsed = metrics.raw_body.as_deref().filter(|_| metrics.facts.ok()).map(metrics_facts);
    ApiFacts {
        service: t.service.clone(),
        base_url: crate::redact::url(base),
        health: health.map(|h| h.facts).unwrap_or_default(),
        health_check,
        metrics_http: HttpFacts { body: None, ..metrics.facts },
        metrics: parsed.filter(|m| m.samples > 0),
    }
}

/// An answer's facts with its body cut to 300 characters.
fn short(facts: HttpFacts) -> HttpFacts {
    HttpFacts { body: facts.body.as_ref().map(|b| b.chars().take(300).collect()), ..facts }
}

async fn frontend(client: &reqwest::Client, cfg: &WebProbeConfig, t: &WebTarget, deadline: Instant) -> FrontendFacts {
    let base = t.base_url.trim_end_matches('/');
    let page_url = format!("{base}/");
    let (page, (health, health_check)) = tokio::join!(
        http::send(client, Request { method: "GET", url: &page_url, json: None, headers: vec![] }, deadline),
        health::probe(client, base, &t.health_paths, deadline),
    );
    let body = page.raw_body.as_deref().unwrap_or("");
    let mut out = FrontendFacts {
        service: t.service.clone(),
        base_url: crate::redact::url(base),
        nextjs_error: body.contains("__next_error__") || body.contains("Application error: a server-side exception"),
        blank: body.contains("<div id=\"__next\"></div>"),
        page: HttpFacts { body: None, ..page.facts },
        health: health.map(|h| short(h.facts)),
        health_check,
        ..Default::default()
    };
    let Some((user, password)) = &cfg.login else { return out };
    let login_url = routes::join(base, BFF_LOGIN_PATH);
    let body = login_body(user, password);
    let login = http::send(
        client,
        Request { method: "POST", url: &login_url, json: Some(&body), headers: vec![("origin", cfg.origin.clone())] },
        deadline,
    )
    .await;
    out.cookies = login.facts.cookies.clone();
    out.bff_login = Some(short(login.facts));
    for (_, v) in &login.cookie_pairs {
        crate::redact::register_secret(v);
    }
    let cookie_header: String =
        login.cookie_pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let through_bff = Attempt { method: "GET", json: None, headers: vec![("cookie", cookie_header)], not_here: &[404] };
    let (bff, route) = routes::first_answer(client, base, &cfg.bff_profile_paths, &through_bff, deadline).await;
    out.bff_api = bff.map(|r| short(r.facts));
    out.bff_api_route = route;
    if let Some((_, token)) = login.cookie_pairs.iter().find(|(k, _)| k.contains("access")) {
        let bearer = vec![("authorization", format!("Bearer {token}"))];
        let direct_call = Attempt { method: "GET", json: None, headers: bearer, not_here: &[404] };
        let (direct, route) =
            routes::first_answer(client, &cfg.user_api_url, &cfg.user_api_profile_paths, &direct_call, deadline).await;
        out.direct_api = direct.map(|r| HttpFacts { body: None, ..r.facts });
        out.direct_api_route = route;
    }
    out
}

/// The login body both spellings of the stack accept: the spec's `email` and the runbook's
/// `username` (FastAPI ignores the field it does not declare).
pub fn login_body(user: &str, password: &str) -> serde_json::Value {
    serde_json::json!({"email": user, "username": user, "password": password})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_cache_counters_are_kept_when_exported() {
        let text = "# TYPE profile_cache_hits_total counter\nprofile_cache_hits_total 990\n\
                    profile_cache_misses_total 10\nhttp_requests_in_progress 2\n";
        let m = metrics_facts(text);
        assert_eq!((m.profile_cache_hits, m.profile_cache_misses), (Some(990.0), Some(10.0)));
        let m = metrics_facts("http_requests_in_progress 2\n");
        assert_eq!((m.profile_cache_hits, m.profile_cache_misses), (None, None));
    }
}
