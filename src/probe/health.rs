//! Health endpoints: a service's health paths are asked at once and the first answer, in the
//! order of the paths, that is not a 404 is the health answer (so `/healthz` wins over `/health`
//! without a second round trip). Its body is parsed into a status and the components it names:
//! the APIs' `{"status":"healthy","database":"ok","redis":"ok"}`, auth-service's generic
//! `{"status":…,"checks":{"database":"ok","redis":"error: …"}}`, the BFF's
//! `{"status":"healthy","service":…}` and the runbook's `{"status":"ok"}`.

use super::http::{self, Request, Response};
use super::routes::{PathStatus, join};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokio::time::Instant;

/// A health body as the service said it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthBody {
    /// `status` as answered: `healthy`, `unhealthy`, `ok`...
    pub status: Option<String>,
    /// `service`, when the body names itself (the BFF's "User Frontend BFF").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Each component the body reports on (`database`, `redis`, ...) and what it said about it
    /// (`ok`, `error`, `error: connection refused`), top level or under `checks`.
    pub components: BTreeMap<String, String>,
}

/// Which health path answered and how.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthFacts {
    /// The path whose answer is the health answer: the first tried that did not answer 404.
    /// `None` when every path answered 404 (no health endpoint), or none was tried.
    pub path: Option<String>,
    /// Every path tried, in order, with what it answered.
    pub tried: Vec<PathStatus>,
    /// The health answer's body, when it is a JSON object.
    pub body: Option<HealthBody>,
}

/// Names of top-level keys that carry no component state.
const METADATA: &[&str] =
    &["status", "service", "timestamp", "time", "version", "message", "detail", "uptime", "environment", "checks"];
/// Top-level keys that name a dependency even when their value is not a health word.
const DEPENDENCIES: &[&str] = &["database", "db", "postgres", "postgresql", "redis", "cache"];
const GOOD: &[&str] = &["ok", "healthy", "up", "pass", "connected", "alive", "ready", "available", "true"];
const BAD: &[&str] = &[
    "error",
    "unhealthy",
    "down",
    "fail",
    "unavailable",
    "disconnected",
    "unreachable",
    "timeout",
    "degraded",
    "critical",
    "false",
];

fn starts_with_any(value: &str, words: &[&str]) -> bool {
    let v = value.trim().to_ascii_lowercase();
    words.iter().any(|w| v.starts_with(w))
}

/// A JSON value as the text a component's state is judged on (`true` → "true", `{"status":"up"}` → "up").
fn state_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.chars().take(200).collect()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Object(o) => o.get("status").and_then(state_text),
        _ => None,
    }
}

impl HealthBody {
    /// The body's status and components; `None` when it is not a JSON object.
    pub fn parse(text: &str) -> Option<HealthBody> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let o = v.as_object()?;
        let s = |k: &str| o.get(k).and_then(|x| x.as_str()).map(|x| x.chars().take(200).collect::<String>());
        let mut components = BTreeMap::new();
        for (k, v) in o.iter().filter(|(k, _)| !METADATA.contains(&k.as_str())) {
            let Some(state) = state_text(v) else { continue };
            let known = DEPENDENCIES.contains(&k.to_ascii_lowercase().as_str());
            if known || starts_with_any(&state, GOOD) || starts_with_any(&state, BAD) {
                components.insert(k.chars().take(64).collect(), state);
            }
        }
        if let Some(checks) = o.get("checks").and_then(|c| c.as_object()) {
            for (k, v) in checks {
                if let Some(state) = state_text(v) {
                    components.insert(k.chars().take(64).collect(), state);
                }
            }
        }
        Some(HealthBody { status: s("status"), service: s("service"), components })
    }

    /// Whether `status` itself says the service is not healthy.
    pub fn status_says_unhealthy(&self) -> bool {
        self.status.as_deref().is_some_and(|s| starts_with_any(s, BAD))
    }

    /// The components reported as not ok, with what was said about them.
    pub fn failing(&self) -> Vec<(&str, &str)> {
        self.components
            .iter()
            .filter(|(_, v)| !starts_with_any(v, GOOD))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// The body says the service is not healthy: its status, or a component in error.
    pub fn unhealthy(&self) -> bool {
        self.status_says_unhealthy() || !self.failing().is_empty()
    }

    /// Whether a component named after `word` (`database`, also `db`/`postgres`; `redis`) is failing.
    pub fn names_failing(&self, word: &str) -> bool {
        let aliases: &[&str] =
            if word == "database" { &["database", "db", "postgres"] } else { std::slice::from_ref(&word) };
        self.failing().iter().any(|(k, _)| {
            let k = k.to_ascii_lowercase();
            aliases.iter().any(|a| k.contains(a))
        })
    }

    /// `database: error, redis: ok`, for evidence.
    pub fn components_text(&self) -> String {
        self.components.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
    }
}

impl HealthFacts {
    /// Every path was tried and answered 404: the service has no health endpoint at these paths.
    pub fn no_endpoint(&self) -> bool {
        self.path.is_none() && !self.tried.is_empty() && self.tried.iter().all(|t| t.status == Some(404))
    }

    /// `/healthz, /health`
    pub fn paths_text(&self) -> String {
        self.tried.iter().map(|t| t.path.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// Index of the health answer among answers in the order of their paths: the first that is not
/// a 404, else the first.
pub fn pick(statuses: &[Option<u16>]) -> Option<usize> {
    if statuses.is_empty() {
        return None;
    }
    Some(statuses.iter().position(|s| *s != Some(404)).unwrap_or(0))
}

/// GETs every path at once under `deadline`; returns the health answer (see [`pick`]) and what
/// was found. `None` only when `paths` is empty.
pub async fn probe(
    client: &reqwest::Client,
    base: &str,
    paths: &[String],
    deadline: Instant,
) -> (Option<Response>, HealthFacts) {
    let urls: Vec<String> = paths.iter().map(|p| join(base, p)).collect();
    let sends = urls
        .iter()
        .map(|url| http::send(client, Request { method: "GET", url, json: None, headers: vec![] }, deadline));
    let mut answers = futures_util::future::join_all(sends).await;
    let tried: Vec<PathStatus> = paths.iter().zip(&answers).map(|(p, r)| PathStatus::of(p, r)).collect();
    let Some(i) = pick(&tried.iter().map(|t| t.status).collect::<Vec<_>>()) else {
        return (None, HealthFacts::default());
    };
    let chosen = answers.swap_remove(i);
    let found = chosen.facts.status != Some(404);
    let body = chosen.raw_body.as_deref().filter(|_| found).and_then(HealthBody::parse);
    let facts = HealthFacts { path: found.then(|| paths[i].clone()), tried, body };
    (Some(chosen), facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_answer_that_is_not_a_404_is_the_health_answer() {
        assert_eq!(pick(&[]), None);
        assert_eq!(pick(&[Some(200), Some(200)]), Some(0));
        assert_eq!(pick(&[Some(404), Some(200)]), Some(1));
        assert_eq!(pick(&[Some(503), Some(200)]), Some(0), "a 503 at /healthz is the answer");
        assert_eq!(pick(&[None, Some(200)]), Some(0), "a hang or refusal is an answer too");
        assert_eq!(pick(&[Some(404), Some(404)]), Some(0));
    }

    #[test]
    fn the_bodies_of_every_variant_are_read() {
        let api = HealthBody::parse(r#"{"status":"healthy","database":"ok","redis":"ok"}"#).unwrap();
        assert_eq!(api.status.as_deref(), Some("healthy"));
        assert_eq!(api.components_text(), "database: ok, redis: ok");
        assert!(!api.unhealthy());

        let down = HealthBody::parse(r#"{"status":"unhealthy","database":"error","redis":"ok"}"#).unwrap();
        assert!(down.unhealthy() && down.status_says_unhealthy());
        assert_eq!(down.failing(), vec![("database", "error")]);
        assert!(down.names_failing("database") && !down.names_failing("redis"));

        let generic = HealthBody::parse(
            r#"{"status":"healthy","timestamp":"2025-09-30T12:00:00Z","checks":{"database":"ok","redis":"error: connection refused"}}"#,
        )
        .unwrap();
        assert!(generic.unhealthy(), "a component in error although the status says healthy");
        assert!(!generic.status_says_unhealthy());
        assert_eq!(generic.failing(), vec![("redis", "error: connection refused")]);
        assert!(generic.names_failing("redis"));

        let bff = HealthBody::parse(r#"{"status":"healthy","service":"User Frontend BFF","timestamp":"x"}"#).unwrap();
        assert_eq!(bff.service.as_deref(), Some("User Frontend BFF"));
        assert!(bff.components.is_empty() && !bff.unhealthy());

        let runbook = HealthBody::parse(r#"{"status":"ok"}"#).unwrap();
        assert!(!runbook.unhealthy());

        // Metadata and unknown words are not components; nested states and booleans are.
        let other = HealthBody::parse(
            r#"{"status":"ok","hostname":"abc","version":"1.2","db":{"status":"down"},"cache":true}"#,
        )
        .unwrap();
        assert_eq!(other.components_text(), "cache: true, db: down");
        assert!(other.names_failing("database"));
        assert_eq!(HealthBody::parse("ok"), None);
        assert_eq!(HealthBody::parse("[1]"), None);
    }

    #[test]
    fn no_endpoint_only_when_every_path_answered_404() {
        let tried = |s: &[Option<u16>]| HealthFacts {
            path: None,
            tried: s.iter().map(|s| PathStatus { path: "/x".into(), status: *s, error: None }).collect(),
            body: None,
        };
        assert!(tried(&[Some(404), Some(404)]).no_endpoint());
        assert!(!tried(&[Some(404), None]).no_endpoint());
        assert!(!HealthFacts::default().no_endpoint());
    }
}
