//! OOM kills and exits as the engine recorded them (`docker events --filter event=oom
//! --filter event=die`), two things a container's inspect data misses:
//!
//! - `OOMKilled` covers only the kill that ended the container, and races with its exit: a
//!   process killed inside a container that lives on (a PostgreSQL backend: the postmaster
//!   survives and drops every connection) never sets it, and a container killed within a
//!   fraction of a second can exit 137 with it false (seen in CI). The `oom` event is logged
//!   either way.
//! - `RestartCount` counts only restarts by policy; `docker restart`, `docker compose restart`
//!   or a stop and start by hand leave it at 0. Each exit is a `die` event, with its code.
//!
//! One query for all containers, bounded by `since`/`until` (to the nanosecond) so that the
//! stream ends by itself; also cut at the run's deadline and after [`MAX_WAIT`] (an engine whose
//! clock runs behind ours would otherwise hold it open until our `until`), keeping what arrived.
//! The engine keeps only its last few hundred events in memory, so older ones may be gone: an
//! empty answer says "none recorded", not "none happened".
//!
//! The same read keeps every container event the incident timeline shows ([`ACTIONS`]: creations,
//! removals, starts, stops, kills, exits, OOM kills, health changes), as [`EngineEvent`]s with the
//! compose labels that tell a recreation from a first start (service, project, config hash,
//! image id). `exec_*` events are left out: doctor's own execs would otherwise fill the log.

use super::until;
use bollard::Docker;
use bollard::query_parameters::EventsOptions;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// How far back the engine is asked for events.
pub const LOOKBACK_S: i64 = 24 * 3600;
/// Longest wait for the stream to end by itself.
const MAX_WAIT: Duration = Duration::from_millis(800);
/// Most events read (one OOM kill can log dozens: one per allocation refused at the limit).
const MAX_EVENTS: usize = 20_000;
/// Events closer together than this are one OOM episode.
const EPISODE_GAP_S: f64 = 2.0;

/// A container's OOM history in the engine's event log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OomEvents {
    /// OOM episodes: bursts of `oom` events less than two seconds apart.
    pub episodes: u32,
    /// Age of the latest `oom` event, in seconds.
    pub last_age_s: f64,
}

/// A container's exits (`die` events) in the engine's event log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExitEvents {
    pub count: u32,
    /// Age of the latest exit, in seconds.
    pub last_age_s: f64,
    /// Exit codes of the latest exits, newest first (at most 5).
    pub last_codes: Vec<i64>,
}

/// The container actions read: what the timeline shows, `oom` and `die` among them.
pub const ACTIONS: &[&str] =
    &["create", "destroy", "start", "restart", "stop", "kill", "die", "oom", "pause", "unpause", "health_status"];

/// One container event as the engine logged it; labels reduced to the compose ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineEvent {
    /// Unix seconds, to the nanosecond where the engine says.
    pub at: f64,
    /// The container's id, cut to 12 characters as `docker ps` shows it.
    pub id: String,
    pub name: String,
    /// `create`, `die`, ...; `health_status` with [`health`](Self::health) set.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// The signal of a `kill` (`15`, `SIGKILL`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// `healthy`, `unhealthy`, `starting` for a `health_status` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// The image as the container was created from it (a name, or an id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `com.docker.compose.image`: the image id compose created it from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// `com.docker.compose.config-hash`: changes with the service's configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// The engine's container events of the stack over the last `since_s` seconds, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventLog {
    pub since_s: u64,
    pub events: Vec<EngineEvent>,
    /// More events than were read ([`MAX_EVENTS`]), or the read was cut by the deadline.
    #[serde(default)]
    pub truncated: bool,
}

/// What one read of the event log gives: per container id its OOM and exit history, and
/// every event of [`ACTIONS`].
#[derive(Debug, Clone, Default)]
pub struct Read {
    pub logged: HashMap<String, Logged>,
    pub events: Vec<EngineEvent>,
    pub truncated: bool,
}

/// What the engine logged for one container: OOM event times, and exits (time, exit code).
#[derive(Debug, Clone, Default)]
pub struct Logged {
    pub oom: Vec<f64>,
    pub die: Vec<(f64, Option<i64>)>,
}

/// The container events of [`ACTIONS`] since `now - lookback_s`: `oom` and `die` per full
/// container id, and every event as an [`EngineEvent`].
pub async fn read(docker: &Docker, now: f64, lookback_s: i64, deadline: Instant) -> Result<Read, String> {
    let now_s = now as i64;
    // `until` to the nanosecond (the API's `seconds.nanoseconds` form): cut to the second, it
    // would leave out what happened in the last fraction of a second (a restart just now).
    let until_at = format!("{now_s}.{:09}", ((now - now_s as f64) * 1e9).clamp(0.0, 999_999_999.0) as u64);
    let mut filters = HashMap::new();
    filters.insert("type".to_string(), vec!["container".to_string()]);
    // `health_status` matches `health_status: healthy` and the others (the engine's fuzzy match).
    filters.insert("event".to_string(), ACTIONS.iter().map(|a| a.to_string()).collect());
    let opts = EventsOptions {
        since: Some((now_s - lookback_s.max(1)).to_string()),
        until: Some(until_at),
        filters: Some(filters),
    };
    let mut stream = docker.events(Some(opts));
    let stop = deadline.min(Instant::now() + MAX_WAIT);
    let mut out = Read::default();
    let mut count = 0;
    loop {
        match until(stop, stream.next()).await {
            // The stream ended (`until` reached): all was read.
            Some(None) => break,
            // Our own bound: keep what arrived.
            None => {
                out.truncated = true;
                break;
            }
            Some(Some(Err(e))) => {
                if count == 0 {
                    return Err(super::error_chain(&e));
                }
                break;
            }
            Some(Some(Ok(ev))) => {
                count += 1;
                if count > MAX_EVENTS {
                    out.truncated = true;
                    break;
                }
                let (id, attributes) = ev.actor.map(|a| (a.id.unwrap_or_default(), a.attributes)).unwrap_or_default();
                let at = ev.time_nano.map(|n| n as f64 / 1e9).or(ev.time.map(|t| t as f64));
                let (false, Some(at)) = (id.is_empty(), at) else { continue };
                let attributes = attributes.unwrap_or_default();
                let action = ev.action.unwrap_or_default();
                let event = event_from(&id, at, &action, &attributes);
                let logged = out.logged.entry(id).or_default();
                match event.action.as_str() {
                    "oom" => logged.oom.push(at),
                    "die" => logged.die.push((at, event.exit_code)),
                    _ => {}
                }
                out.events.push(event);
            }
        }
    }
    out.events.sort_by(|a, b| a.at.total_cmp(&b.at));
    Ok(out)
}

/// An event from its actor's attributes (the container's labels, `name`, `image`, `exitCode`,
/// `signal`); `health_status: healthy` becomes action `health_status` with health `healthy`.
pub fn event_from(id: &str, at: f64, action: &str, attributes: &HashMap<String, String>) -> EngineEvent {
    let get = |k: &str| attributes.get(k).filter(|v| !v.is_empty()).cloned();
    let (action, health) = match action.split_once(':') {
        Some((a, h)) => (a.trim().to_string(), Some(h.trim().to_string()).filter(|h| !h.is_empty())),
        None => (action.to_string(), None),
    };
    EngineEvent {
        at,
        id: id.chars().take(12).collect(),
        name: get("name").unwrap_or_default(),
        action,
        exit_code: get("exitCode").and_then(|c| c.parse().ok()),
        signal: get("signal"),
        health,
        image: get("image"),
        image_id: get("com.docker.compose.image"),
        config_hash: get("com.docker.compose.config-hash"),
        service: get("com.docker.compose.service"),
        project: get("com.docker.compose.project"),
    }
}

/// The events of the stack: of a container named as one of `names`, or of a compose project in
/// `projects`.
pub fn keep_stack(events: Vec<EngineEvent>, names: &[String], projects: &[String]) -> Vec<EngineEvent> {
    events
        .into_iter()
        .filter(|e| names.contains(&e.name) || e.project.as_ref().is_some_and(|p| projects.contains(p)))
        .collect()
}

/// What the engine logged for the container whose (possibly short) id is `id`.
fn of<'a>(events: &'a HashMap<String, Logged>, id: &'a str) -> impl Iterator<Item = &'a Logged> {
    events.iter().filter(move |(full, _)| !id.is_empty() && full.starts_with(id)).map(|(_, l)| l)
}

/// The OOM history of the container whose (possibly short) id is `id`.
pub fn for_container(events: &HashMap<String, Logged>, id: &str, now: f64) -> OomEvents {
    let mut times: Vec<f64> = of(events, id).flat_map(|l| l.oom.iter().copied()).collect();
    summarise(&mut times, now)
}

/// The exits of the container whose (possibly short) id is `id`.
pub fn exits_of(events: &HashMap<String, Logged>, id: &str, now: f64) -> ExitEvents {
    let mut exits: Vec<(f64, Option<i64>)> = of(events, id).flat_map(|l| l.die.iter().copied()).collect();
    exits.sort_by(|a, b| b.0.total_cmp(&a.0));
    ExitEvents {
        count: exits.len() as u32,
        last_age_s: exits.first().map_or(0.0, |e| (now - e.0).max(0.0)),
        last_codes: exits.iter().take(5).filter_map(|e| e.1).collect(),
    }
}

/// Episodes and the latest age from event times (any order).
pub fn summarise(times: &mut [f64], now: f64) -> OomEvents {
    times.sort_by(f64::total_cmp);
    let Some(last) = times.last().copied() else { return OomEvents::default() };
    let episodes = 1 + times.windows(2).filter(|w| w[1] - w[0] >= EPISODE_GAP_S).count() as u32;
    OomEvents { episodes, last_age_s: (now - last).max(0.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_are_one_episode() {
        let mut t = vec![100.0, 100.01, 100.5, 101.0, 200.0, 200.5, 50.0];
        let s = summarise(&mut t, 260.0);
        assert_eq!(s, OomEvents { episodes: 3, last_age_s: 59.5 });
        assert_eq!(summarise(&mut [], 10.0), OomEvents::default());
        // A clock that runs ahead of ours gives age zero, not a negative age.
        assert_eq!(summarise(&mut [20.0], 10.0).last_age_s, 0.0);
    }

    #[test]
    fn events_keep_compose_labels_and_split_health() {
        let attrs: HashMap<String, String> = [
            ("name", "ai-micro-api-user"),
            ("image", "ai-micro-api-user:latest"),
            ("com.docker.compose.service", "user-api"),
            ("com.docker.compose.project", "ai-micro"),
            ("com.docker.compose.config-hash", "abc"),
            ("com.docker.compose.image", "sha256:1234"),
            ("exitCode", "137"),
            ("SECRET_LABEL", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let e = event_from("0123456789abcdef", 5.0, "die", &attrs);
        assert_eq!((e.id.as_str(), e.name.as_str(), e.exit_code), ("0123456789ab", "ai-micro-api-user", Some(137)));
        assert_eq!((e.service.as_deref(), e.project.as_deref()), (Some("user-api"), Some("ai-micro")));
        assert_eq!((e.config_hash.as_deref(), e.image_id.as_deref()), (Some("abc"), Some("sha256:1234")));
        let h = event_from("ff", 6.0, "health_status: unhealthy", &HashMap::new());
        assert_eq!((h.action.as_str(), h.health.as_deref()), ("health_status", Some("unhealthy")));
        let kept = keep_stack(vec![e.clone(), h], &["other".into()], &["ai-micro".into()]);
        assert_eq!(kept, vec![e]);
    }

    #[test]
    fn short_ids_match_full_ones() {
        let mut events = HashMap::new();
        let logged = |oom: Vec<f64>, die: Vec<(f64, Option<i64>)>| Logged { oom, die };
        events.insert("abcdef1234567890".to_string(), logged(vec![10.0], vec![(5.0, Some(0)), (12.0, Some(137))]));
        events.insert("ffff".to_string(), logged(vec![11.0], vec![]));
        assert_eq!(for_container(&events, "abcdef123456", 20.0).episodes, 1);
        assert_eq!(for_container(&events, "012345", 20.0).episodes, 0);
        assert_eq!(for_container(&events, "", 20.0).episodes, 0);
        assert_eq!(
            exits_of(&events, "abcdef123456", 20.0),
            ExitEvents { count: 2, last_age_s: 8.0, last_codes: vec![137, 0] }
        );
        assert_eq!(exits_of(&events, "ffff", 20.0), ExitEvents::default());
    }
}
