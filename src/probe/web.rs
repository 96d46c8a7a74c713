//! The user-facing services over HTTP: user-api and admin-api (`/health` and `/metrics`) and the
//! Next.js frontends (the page itself; with credentials, a login through the BFF whose cookies
//! and CORS headers are checked, then an API call through the BFF with those cookies, and the
//! same token sent straight to user-api to tell "not forwarded" from "invalid"). Cookie values
//! and tokens stay in memory; facts keep attributes and outcomes only.

use super::http::{self, CookieFacts, HttpFacts, Request};
use super::{Timing, ms};
use crate::prometheus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct WebProbeConfig {
    /// (service, base URL) of the APIs.
    pub apis: Vec<(String, String)>,
    /// (service, base URL) of the frontends.
    pub frontends: Vec<(String, String)>,
    pub user_api_url: String,
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
    pub samples: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiFacts {
    pub service: String,
    pub base_url: String,
    pub health: HttpFacts,
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
    pub bff_login: Option<HttpFacts>,
    pub cookies: Vec<CookieFacts>,
    /// The BFF's `/api/users/profile` called with the login's cookies.
    pub bff_api: Option<HttpFacts>,
    /// The access token from the cookie sent straight to user-api as a Bearer token.
    pub direct_api: Option<HttpFacts>,
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
    let apis = cfg.apis.iter().map(|(service, base)| api(&client, service, base, deadline));
    let fronts = cfg.frontends.iter().map(|(service, base)| frontend(&client, cfg, service, base, deadline));
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

async fn api(client: &reqwest::Client, service: &str, base: &str, deadline: Instant) -> ApiFacts {
    let base = base.trim_end_matches('/');
    let (health_url, metrics_url) = (format!("{base}/health"), format!("{base}/metrics"));
    let (health, metrics) = tokio::join!(
        http::send(client, Request { method: "GET", url: &health_url, json: None, headers: vec![] }, deadline),
        http::send(client, Request { method: "GET", url: &metrics_url, json: None, headers: vec![] }, deadline),
    );
    let parsed = metrics.raw_body.as_deref().filter(|_| metrics.facts.ok()).map(|text| {
        let s = prometheus::parse(text);
        MetricsFacts {
            in_progress: prometheus::total(&s, "http_requests_in_progress"),
            p50: prometheus::quantiles(&s, "http_request_duration_seconds", "handler", 0.5),
            p95: prometheus::quantiles(&s, "http_request_duration_seconds", "handler", 0.95),
            resident_memory: prometheus::total(&s, "process_resident_memory_bytes"),
            samples: s.len(),
        }
    });
    ApiFacts {
        service: service.into(),
        base_url: crate::redact::url(base),
        health: health.facts,
        metrics_http: HttpFacts { body: None, ..metrics.facts },
        metrics: parsed.filter(|m| m.samples > 0),
    }
}

async fn frontend(
    client: &reqwest::Client,
    cfg: &WebProbeConfig,
    service: &str,
    base: &str,
    deadline: Instant,
) -> FrontendFacts {
    let base = base.trim_end_matches('/');
    let page_url = format!("{base}/");
    let page =
        http::send(client, Request { method: "GET", url: &page_url, json: None, headers: vec![] }, deadline).await;
    let body = page.raw_body.as_deref().unwrap_or("");
    let mut out = FrontendFacts {
        service: service.into(),
        base_url: crate::redact::url(base),
        nextjs_error: body.contains("__next_error__") || body.contains("Application error: a server-side exception"),
        blank: body.contains("<div id=\"__next\"></div>"),
        page: HttpFacts { body: None, ..page.facts },
        ..Default::default()
    };
    let Some((user, password)) = &cfg.login else { return out };
    let login_url = format!("{base}/api/auth/login");
    let body = serde_json::json!({"username": user, "password": password});
    let login = http::send(
        client,
        Request { method: "POST", url: &login_url, json: Some(&body), headers: vec![("origin", cfg.origin.clone())] },
        deadline,
    )
    .await;
    out.cookies = login.facts.cookies.clone();
    out.bff_login =
        Some(HttpFacts { body: login.facts.body.as_ref().map(|b| b.chars().take(300).collect()), ..login.facts });
    for (_, v) in &login.cookie_pairs {
        crate::redact::register_secret(v);
    }
    let cookie_header: String =
        login.cookie_pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let api_url = format!("{base}/api/users/profile");
    let bff = http::send(
        client,
        Request { method: "GET", url: &api_url, json: None, headers: vec![("cookie", cookie_header)] },
        deadline,
    )
    .await;
    out.bff_api = Some(HttpFacts { body: bff.facts.body.as_ref().map(|b| b.chars().take(300).collect()), ..bff.facts });
    if let Some((_, token)) = login.cookie_pairs.iter().find(|(k, _)| k.contains("access")) {
        let direct_url = format!("{}/api/users/profile", cfg.user_api_url.trim_end_matches('/'));
        let direct = http::send(
            client,
            Request {
                method: "GET",
                url: &direct_url,
                json: None,
                headers: vec![("authorization", format!("Bearer {token}"))],
            },
            deadline,
        )
        .await;
        out.direct_api = Some(HttpFacts { body: None, ..direct.facts });
    }
    out
}
