//! auth-service evidence: its health paths (`/health`, then `/healthz`, asked at once: status,
//! latency and the parsed body), the JWKS (fetched and checked), a token given with `--token`
//! (decoded and verified against the live JWKS with the services' leeway; the token itself is
//! never kept), and a login when credentials come from the environment or stdin (never from
//! the command line): `POST /auth/login`, else `/api/v1/auth/login`, else the runbook's
//! `/api/auth/login`, one after the other and only until one exists, since every attempt
//! counts against the service's rate limit. Every request under the run's deadline.

use super::health::{self, HealthFacts};
use super::http::{self, HttpFacts, Request};
use super::routes::{self, Attempt, RouteFacts};
use super::{Timing, ms};
use crate::jwt::{self, JwksFacts, TokenError, TokenView, Verification};
use crate::redact;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;

/// auth-service's health paths: `/health` (its compose healthcheck), then `/healthz`.
pub const AUTH_HEALTH_PATHS: &[&str] = &["/health", "/healthz"];
/// auth-service's login route: the spec's `/auth/login`, its versioned `/api/v1/auth/login`,
/// then the runbook's `/api/auth/login`.
pub const LOGIN_PATHS: &[&str] = &["/auth/login", "/api/v1/auth/login", "/api/auth/login"];
/// The services verify `exp` and `nbf` with this much clock skew allowed (seconds).
pub const SERVICES_LEEWAY_S: i64 = 60;

#[derive(Debug, Clone)]
pub struct AuthProbeConfig {
    pub base_url: String,
    /// Health paths, asked at once (default [`AUTH_HEALTH_PATHS`]).
    pub health_paths: Vec<String>,
    /// Login paths, tried one after the other until one is neither 404 nor 405 (default [`LOGIN_PATHS`]).
    pub login_paths: Vec<String>,
    pub timeout: Duration,
    /// A token to inspect (`--token`).
    pub token: Option<String>,
    /// (username, password) for a login probe.
    pub login: Option<(String, String)>,
    /// Clock skew allowed when checking `exp`/`nbf`.
    pub leeway_s: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenFacts {
    pub view: Result<TokenView, TokenError>,
    /// Signature and times against the live JWKS; `None` when the JWKS could not be had.
    pub verification: Option<Verification>,
    /// When it was checked (Unix seconds), for "expired 3 h ago".
    pub checked_at: i64,
    /// The clock skew (seconds) the check allowed, as the services do.
    #[serde(default = "services_leeway")]
    pub leeway_s: i64,
}

fn services_leeway() -> i64 {
    SERVICES_LEEWAY_S
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoginFacts {
    pub username: String,
    /// The answer of the login path that answered (the last one tried when none exists).
    pub response: HttpFacts,
    /// Which login path answered, and what each path tried answered.
    #[serde(default)]
    pub route: RouteFacts,
    /// Whether the answer carried an access token (its claims, never the token).
    pub token: Option<TokenView>,
    /// Where the access token was: `access_token` (top level) or `data.access_token`.
    #[serde(default)]
    pub token_field: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthFacts {
    pub base_url: String,
    /// The health answer: that of the first health path that did not answer 404.
    pub health: Option<HttpFacts>,
    /// Which health path answered, what each answered, and the body parsed.
    #[serde(default)]
    pub health_check: HealthFacts,
    pub jwks: Option<HttpFacts>,
    pub jwks_analysis: Option<Result<JwksFacts, String>>,
    pub token: Option<TokenFacts>,
    pub login: Option<LoginFacts>,
    pub timings: Vec<Timing>,
}

pub async fn gather(cfg: &AuthProbeConfig) -> AuthFacts {
    let deadline = Instant::now() + cfg.timeout;
    let base = cfg.base_url.trim_end_matches('/').to_string();
    let mut facts = AuthFacts { base_url: redact::url(&base), ..Default::default() };
    let Some(client) = http::client() else { return facts };
    if let Some(t) = &cfg.token {
        redact::register_secret(t);
    }
    if let Some((_, p)) = &cfg.login {
        redact::register_secret(p);
    }
    let jwks_url = routes::join(&base, "/.well-known/jwks.json");
    let login_body = cfg.login.as_ref().map(|(u, p)| super::web::login_body(u, p));
    let t = Instant::now();
    let ((health, health_check), jwks, login) = tokio::join!(
        health::probe(&client, &base, &cfg.health_paths, deadline),
        http::send(&client, Request { method: "GET", url: &jwks_url, json: None, headers: vec![] }, deadline),
        async {
            let body = login_body.as_ref()?;
            let attempt = Attempt { method: "POST", json: Some(body), headers: vec![], not_here: &[404, 405] };
            Some(routes::first_answer(&client, &base, &cfg.login_paths, &attempt, deadline).await)
        }
    );
    let healthy = health.as_ref().is_some_and(|h| h.facts.ok());
    facts.timings.push(Timing { step: "health, JWKS, login".into(), ms: ms(t.elapsed()), ok: healthy });
    let jwks_text = jwks.raw_body.clone().filter(|_| jwks.facts.status == Some(200));
    facts.jwks_analysis = jwks_text.as_deref().map(jwt::analyze_jwks);
    facts.health = health.map(|h| h.facts);
    facts.health_check = health_check;
    facts.jwks = Some(HttpFacts { body: None, ..jwks.facts });
    if let (Some((Some(r), route)), Some((user, _))) = (login, &cfg.login) {
        facts.login = Some(login_facts(user, r, route));
    }
    if let Some(token) = &cfg.token {
        let now = crate::clock::now_unix() as i64;
        let view = jwt::inspect(token);
        let verification = match (&view, jwks_text.as_deref()) {
            (Ok(_), Some(text)) => Some(jwt::verify(token, text, None, None, now, cfg.leeway_s)),
            _ => None,
        };
        facts.token = Some(TokenFacts { view, verification, checked_at: now, leeway_s: cfg.leeway_s });
    }
    facts
}

/// A token named `name` in a login answer: at the top level, or under `data` (the wrapped
/// `{"status":"success","data":{…}}`); with where it was found.
fn token_in(v: &serde_json::Value, name: &str) -> Option<(String, String)> {
    if let Some(t) = v.get(name).and_then(|t| t.as_str()) {
        return Some((t.to_string(), name.to_string()));
    }
    let t = v.get("data")?.get(name)?.as_str()?;
    Some((t.to_string(), format!("data.{name}")))
}

/// What the login answered: the tokens are registered as secrets and only the access token's
/// claims are kept.
fn login_facts(user: &str, r: http::Response, route: RouteFacts) -> LoginFacts {
    let body = r.raw_body.as_deref().and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok());
    let access = body.as_ref().and_then(|v| token_in(v, "access_token"));
    let refresh = body.as_ref().and_then(|v| token_in(v, "refresh_token"));
    for (t, _) in access.iter().chain(refresh.iter()) {
        redact::register_secret(t);
    }
    LoginFacts {
        username: user.to_string(),
        response: r.facts,
        route,
        token: access.as_ref().and_then(|(t, _)| jwt::inspect(t).ok()),
        token_field: access.map(|(_, field)| field),
    }
}
