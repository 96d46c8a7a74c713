//! Routes that have several spellings (user-api's `/profile`, then the runbook's
//! `/api/users/profile`): tried one after the other under the run's deadline, stopping at the
//! first answer whose status does not mean "no such route here" (404; 405 too for logins).
//! What is kept: which path answered and what each path answered (status only).

use super::http::{self, HttpErrorKind, Request, Response};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// What one path answered: its status, or how the request failed (never the body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PathStatus {
    pub path: String,
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<HttpErrorKind>,
}

impl PathStatus {
    pub fn of(path: &str, r: &Response) -> PathStatus {
        PathStatus {
            path: path.to_string(),
            status: r.facts.status,
            error: r.facts.error.as_ref().map(|e| e.kind.clone()),
        }
    }
}

/// Which of a route's paths answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteFacts {
    /// The path that answered; `None` when every path tried said "no such route", or none was tried.
    pub path: Option<String>,
    /// Every path tried, in order.
    pub tried: Vec<PathStatus>,
}

impl RouteFacts {
    /// Every path was tried and none exists (all answered 404).
    pub fn not_found(&self) -> bool {
        self.path.is_none() && !self.tried.is_empty() && self.tried.iter().all(|t| t.status == Some(404))
    }

    /// `/profile, /api/users/profile`
    pub fn paths_text(&self) -> String {
        self.tried.iter().map(|t| t.path.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// `base` + `path`, with exactly one slash between them.
pub fn join(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// `["/a", "/b"]` as owned strings, for configurations whose defaults are constants.
pub fn owned(paths: &[&str]) -> Vec<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

/// One request as [`first_answer`] sends it to each path.
pub struct Attempt<'a> {
    pub method: &'a str,
    pub json: Option<&'a serde_json::Value>,
    pub headers: Vec<(&'a str, String)>,
    /// Statuses that mean "not here, try the next path".
    pub not_here: &'a [u16],
}

/// Sends `attempt` to each path in turn until one answers with a status not in `not_here` (or
/// fails: a refusal or a timeout is an answer too); never more requests than that. Returns the
/// last answer (`None` only when `paths` is empty) and which path it was.
pub async fn first_answer(
    client: &reqwest::Client,
    base: &str,
    paths: &[String],
    attempt: &Attempt<'_>,
    deadline: Instant,
) -> (Option<Response>, RouteFacts) {
    let mut facts = RouteFacts::default();
    let mut last = None;
    for path in paths {
        let url = join(base, path);
        let r = http::send(
            client,
            Request { method: attempt.method, url: &url, json: attempt.json, headers: attempt.headers.clone() },
            deadline,
        )
        .await;
        facts.tried.push(PathStatus::of(path, &r));
        let not_here = r.facts.status.is_some_and(|s| attempt.not_here.contains(&s));
        last = Some(r);
        if !not_here {
            facts.path = Some(path.clone());
            break;
        }
    }
    (last, facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_only_when_every_path_answered_404() {
        let route = |s: &[Option<u16>]| RouteFacts {
            path: None,
            tried: s.iter().map(|s| PathStatus { path: "/x".into(), status: *s, error: None }).collect(),
        };
        assert!(route(&[Some(404), Some(404)]).not_found());
        assert!(!route(&[Some(404), Some(405)]).not_found());
        assert!(!RouteFacts::default().not_found());
        assert_eq!(join("http://h:1/", "/profile"), "http://h:1/profile");
        assert_eq!(join("http://h:1", "profile"), "http://h:1/profile");
    }
}
