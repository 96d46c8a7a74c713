//! auth-service evidence: `/health` (status and latency), the JWKS (fetched and checked), a
//! token given with `--token` (decoded and verified against the live JWKS; the token itself is
//! never kept), and a login when credentials come from the environment or stdin (never from
//! the command line). Every request under the run's deadline.

use super::http::{self, HttpFacts, Request};
use super::{Timing, ms};
use crate::jwt::{self, JwksFacts, TokenError, TokenView, Verification};
use crate::redact;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct AuthProbeConfig {
    pub base_url: String,
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginFacts {
    pub username: String,
    pub response: HttpFacts,
    /// Whether the answer carried an access token (its claims, never the token).
    pub token: Option<TokenView>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthFacts {
    pub base_url: String,
    pub health: Option<HttpFacts>,
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
    let health_url = format!("{base}/health");
    let jwks_url = format!("{base}/.well-known/jwks.json");
    let login_body = cfg.login.as_ref().map(|(u, p)| serde_json::json!({"username": u, "password": p}));
    let login_url = format!("{base}/api/auth/login");
    let t = Instant::now();
    let (health, jwks, login) = tokio::join!(
        http::send(&client, Request { method: "GET", url: &health_url, json: None, headers: vec![] }, deadline),
        http::send(&client, Request { method: "GET", url: &jwks_url, json: None, headers: vec![] }, deadline),
        async {
            match &login_body {
                Some(b) => Some(
                    http::send(
                        &client,
                        Request { method: "POST", url: &login_url, json: Some(b), headers: vec![] },
                        deadline,
                    )
                    .await,
                ),
                None => None,
            }
        }
    );
    facts.timings.push(Timing { step: "health, JWKS, login".into(), ms: ms(t.elapsed()), ok: health.facts.ok() });
    let jwks_text = jwks.raw_body.clone().filter(|_| jwks.facts.status == Some(200));
    facts.jwks_analysis = jwks_text.as_deref().map(jwt::analyze_jwks);
    facts.health = Some(health.facts);
    facts.jwks = Some(HttpFacts { body: None, ..jwks.facts });
    if let (Some(r), Some((user, _))) = (login, &cfg.login) {
        let token = r
            .raw_body
            .as_deref()
            .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
            .and_then(|v| v.get("access_token").and_then(|t| t.as_str()).map(str::to_string));
        if let Some(t) = &token {
            redact::register_secret(t);
        }
        facts.login = Some(LoginFacts {
            username: user.clone(),
            response: r.facts,
            token: token.as_deref().and_then(|t| jwt::inspect(t).ok()),
        });
    }
    if let Some(token) = &cfg.token {
        let now = crate::clock::now_unix() as i64;
        let view = jwt::inspect(token);
        let verification = match (&view, jwks_text.as_deref()) {
            (Ok(_), Some(text)) => Some(jwt::verify(token, text, None, None, now, cfg.leeway_s)),
            _ => None,
        };
        facts.token = Some(TokenFacts { view, verification, checked_at: now });
    }
    facts
}
