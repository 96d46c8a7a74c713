//! Log lines as evidence: a symptom line of the catalogue found in a container's recent logs
//! becomes evidence on the check of its problem ("postgres logged 'FATAL: sorry, too many
//! clients already' 37 times in the last 10m"). A check that looks fine now but whose symptom
//! was logged recently is raised to a warning: the problem comes and goes.

use super::secs;
use crate::facts::of::docker::{ContainerFacts, DockerFacts};
use crate::report::{Finding, Status};
use crate::t;
use crate::text::Text;
use crate::triage::LogHit;

/// "postgres logged "FATAL: ..." 37 times in the last 10m, the last at 2026-12-02 06:53:46 UTC
/// (latest: ...)".
fn logged(c: &ContainerFacts, h: &LogHit, window: &str) -> Text {
    let signature = format!("{:?}", h.signature);
    match h.last_at.as_deref().map(short_time) {
        Some(at) => t!(
            "shared/logged-at",
            container = &c.name,
            signature = signature,
            count = h.count,
            window = window,
            at = at,
            sample = &h.sample
        ),
        None => t!(
            "shared/logged",
            container = &c.name,
            signature = signature,
            count = h.count,
            window = window,
            sample = &h.sample
        ),
    }
}

/// Docker's `2026-12-02T06:53:46.123456789Z` as `2026-12-02 06:53:46 UTC`; any other time as
/// written.
fn short_time(at: &str) -> String {
    let b = at.as_bytes();
    if b.len() >= 20 && b[10] == b'T' && at.ends_with('Z') && at.is_char_boundary(19) {
        return format!("{} {} UTC", &at[..10], &at[11..19]);
    }
    at.to_string()
}

pub fn attach(f: &mut Finding, docker: &DockerFacts) {
    let mut lines = Vec::new();
    let mut total = 0;
    // The newest matching line of all: (its time, container, sample).
    let mut newest: Option<(&str, &str, &str)> = None;
    // Lines that only mean something while the check fails (a start-up's "starting up").
    let transient = |signature: &str| {
        f.status == Status::Ok
            && crate::catalogue::get(f.code)
                .is_some_and(|p| p.symptoms.iter().any(|s| s.is_transient() && s.wordings().contains(&signature)))
    };
    for c in docker.containers.iter().filter_map(|l| l.container.as_ref()) {
        let Some(logs) = &c.logs else { continue };
        for h in logs.hits.iter().filter(|h| h.code == f.code && !transient(&h.signature)) {
            total += h.count;
            let window = secs(logs.since_s as f64);
            lines.push(logged(c, h, &window));
            let at = h.last_at.as_deref().unwrap_or("");
            if newest.is_none_or(|(t, _, _)| at > t) {
                newest = Some((at, &c.name, &h.sample));
            }
        }
    }
    if lines.is_empty() {
        return;
    }
    // A fact, in the run's language as every fact is.
    f.fact_texts("logs", lines.iter().cloned());
    if f.status == Status::Ok {
        f.status = Status::Warning;
        let summary = std::mem::take(&mut f.summary);
        f.summary = match newest {
            Some((at, container, sample)) if !at.is_empty() => crate::t!(
                "shared/but-logged-newest",
                summary = summary,
                total = total,
                container = container,
                at = short_time(at),
                sample = sample
            ),
            _ => crate::t!("shared/but-logged", summary = summary, total = total),
        };
    }
}

/// A service's recent log lines that are symptoms of `codes`, as one sentence each; `None`
/// when its logs were not read (no container, no engine), `Some(empty)` when read and clean.
pub fn service_hits(docker: &super::engine::DockerView, service: &str, codes: &[&str]) -> Option<Vec<(String, Text)>> {
    let super::engine::Seen::Found(c) = docker.seen(service) else { return None };
    let logs = c.logs.as_ref().filter(|l| l.error.is_none())?;
    let window = secs(logs.since_s as f64);
    Some(
        logs.hits
            .iter()
            .filter(|h| codes.contains(&h.code.as_str()))
            .map(|h| (h.signature.clone(), logged(c, h, &window)))
            .collect(),
    )
}

/// The sentences of `service_hits` whose signature contains any of `words` (lower-case).
pub fn hits_like(hits: &Option<Vec<(String, Text)>>, words: &[&str]) -> Vec<Text> {
    hits.iter()
        .flatten()
        .filter(|(sig, _)| {
            let sig = sig.to_ascii_lowercase();
            words.iter().any(|w| sig.contains(w))
        })
        .map(|(_, line)| line.clone())
        .collect()
}

/// The window a service's logs were read over ("10m"), for "nothing in the last 10m".
pub fn window(docker: &super::engine::DockerView, service: &str) -> Option<String> {
    match docker.seen(service) {
        super::engine::Seen::Found(c) => c.logs.as_ref().map(|l| secs(l.since_s as f64)),
        _ => None,
    }
}
