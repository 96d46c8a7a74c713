//! API003's look at admin-api's processing, after the upload itself: documents waiting in
//! `uploaded` or `processing` against the OCR queue and the `job:status:*` records in Redis, an
//! OOM kill of admin-api, and its Docling/EasyOCR model caches. Each judgment returns a verdict
//! and its evidence; `api003_upload_fails` ties them to its causes. Kept apart because these
//! read admindb, Redis and the engine together, while the upload checks read one source each.

use crate::facts::of::docker::ContainerFacts;
use crate::facts::of::inside::{InsideFacts, ModelCache};
use crate::facts::of::pg_app::PendingDoc;
use crate::facts::of::redis_app::{DOCUMENT_QUEUE, Families};
use crate::problems::{bytes, engine, secs};
use crate::report::{Verdict, Verdict::*};
use crate::t;
use crate::text::{Sep, Text};

/// A document still `uploaded` after this long has not been picked up.
pub const UPLOADED_STUCK_S: f64 = 600.0;
/// A document in `processing` with no page count is overdue after this long: the spec's
/// slowest band (51+ pages, "7 min or more") with room for a few hundred pages.
pub const UNKNOWN_PAGES_S: f64 = 1800.0;
/// Below this memory limit admin-api cannot hold what Docling uses while processing (4–8 GB,
/// spec `03-admin-api/03`).
pub const DOCLING_MEMORY: u64 = 4 << 30;

/// How long the spec says a document of `pages` pages takes (`03-admin-api/01`: 1–5 pages up to
/// 60 s, 6–20 up to 3 min, 21–50 up to 7 min, beyond that about as long again per 50 pages).
pub fn expected_s(pages: u32) -> f64 {
    match pages {
        0..=5 => 60.0,
        6..=20 => 180.0,
        21..=50 => 420.0,
        n => 420.0 * f64::from(n) / 50.0,
    }
}

/// Twice what its pages explain: a document that slow is stuck, not slow.
pub fn overdue(d: &PendingDoc) -> bool {
    match (d.age_s, d.pages) {
        (Some(a), Some(p)) => a > 2.0 * expected_s(p),
        (Some(a), None) => a > UNKNOWN_PAGES_S,
        _ => false,
    }
}

/// Failed work seen elsewhere (documents, job records), as evidence for the causes that fit it.
pub fn failures(failed_docs: u64, families: &Result<&Families, Text>) -> Vec<Text> {
    let mut out = Vec::new();
    if failed_docs > 0 {
        out.push(t!("API003/failed-documents-short", count = failed_docs));
    }
    if let Ok(f) = families {
        let failed: u64 = f.job_statuses.iter().filter(|(s, _)| failed_status(s)).map(|(_, n)| n).sum();
        if failed > 0 {
            out.push(t!("API003/failed-jobs", count = failed));
        }
    }
    out
}

pub fn failed_status(s: &str) -> bool {
    let s = s.to_ascii_lowercase();
    s.contains("fail") || s.contains("error")
}

/// `processing-stalled`: documents in `uploaded` nobody picks up (compared with the queue and
/// the job records), or in `processing` longer than their pages explain.
pub fn stalled(
    pending: Option<&Result<Vec<PendingDoc>, String>>,
    families: &Result<&Families, Text>,
) -> (Verdict, Text) {
    let docs = match pending {
        Some(Ok(d)) => d,
        Some(Err(e)) => return (Unchecked, t!("API003/admindb-unreadable", error = e)),
        None => return (Unchecked, t!("API003/pending-not-read")),
    };
    let oldest = |v: &[&PendingDoc]| secs(v.iter().filter_map(|d| d.age_s).fold(0.0, f64::max));
    let mut found: Vec<(Verdict, Text)> = Vec::new();

    let late: Vec<&PendingDoc> = docs.iter().filter(|d| d.status == "processing" && overdue(d)).collect();
    let counted: Vec<&&PendingDoc> = late.iter().filter(|d| d.pages.is_some()).collect();
    if let Some(d) = counted.iter().max_by(|a, b| a.age_s.partial_cmp(&b.age_s).unwrap_or(std::cmp::Ordering::Equal)) {
        let pages = d.pages.unwrap_or(0);
        found.push((
            Confirmed,
            t!(
                "API003/processing-overdue",
                count = counted.len(),
                age = secs(d.age_s.unwrap_or(0.0)),
                pages = pages,
                expected = secs(expected_s(pages)),
            ),
        ));
    }
    let uncounted: Vec<&PendingDoc> = late.iter().copied().filter(|d| d.pages.is_none()).collect();
    if !uncounted.is_empty() {
        found.push((
            Suspected,
            t!(
                "API003/processing-long",
                count = uncounted.len(),
                age = oldest(&uncounted),
                limit = secs(UNKNOWN_PAGES_S)
            ),
        ));
    }

    let waiting: Vec<&PendingDoc> =
        docs.iter().filter(|d| d.status == "uploaded" && d.age_s.is_some_and(|a| a > UPLOADED_STUCK_S)).collect();
    let processing_docs = docs.iter().filter(|d| d.status == "processing" && !overdue(d)).count() as u64;
    if !waiting.is_empty() {
        let (n, age) = (waiting.len(), oldest(&waiting));
        found.push(match families {
            Ok(f) => {
                let queued = f.document_queue.unwrap_or(0);
                let job = |s: &str| f.job_statuses.get(s).copied().unwrap_or(0);
                let busy = job("processing").max(processing_docs);
                if queued > 0 && busy == 0 {
                    (
                        Confirmed,
                        t!("API003/queue-not-consumed", count = n, age = age, queued = queued, queue = DOCUMENT_QUEUE),
                    )
                } else if queued == 0 && job("pending") == 0 && busy == 0 {
                    (Confirmed, t!("API003/never-queued", count = n, age = age, queue = DOCUMENT_QUEUE))
                } else {
                    (Suspected, t!("API003/backlog", count = n, age = age, queued = queued, busy = busy))
                }
            }
            Err(why) => (Suspected, t!("API003/uploaded-waiting", count = n, age = age, why = why.clone())),
        });
    }
    if found.is_empty() {
        let queue = match families {
            Ok(f) => t!("API003/queue-length", queue = DOCUMENT_QUEUE, queued = f.document_queue.unwrap_or(0)),
            Err(why) => why.clone(),
        };
        return (RuledOut, t!("API003/nothing-waiting", limit = secs(UPLOADED_STUCK_S), queue = queue));
    }
    let verdict = if found.iter().any(|(v, _)| *v == Confirmed) { Confirmed } else { Suspected };
    (verdict, Text::join(found.into_iter().map(|(_, t)| t), Sep::Clauses))
}

/// `admin-api-oom`: the engine saw admin-api OOM-killed; tied to failed or stalled work it is
/// confirmed, alone suspected. A memory limit below what Docling needs, with failures, is
/// suspected too.
pub fn oom(c: &ContainerFacts, memory_logs: &[Text], failures: &[Text], stalled: bool) -> (Verdict, Text) {
    let trouble = !failures.is_empty() || stalled;
    let low_limit = c.memory_limit.filter(|l| *l < DOCLING_MEMORY);
    let limit_note = low_limit.map(|l| t!("API003/memory-limit-low", limit = bytes(l), need = bytes(DOCLING_MEMORY)));
    let with = |first: Text| {
        let mut v = vec![first];
        v.extend(memory_logs.iter().cloned());
        v.extend(failures.iter().cloned());
        v.extend(limit_note.clone());
        Text::join(v, Sep::Clauses)
    };
    if let Some(kill) = engine::oom_kills(c) {
        let kill = t!("API003/oom-killed", kill = kill);
        return (if trouble || !memory_logs.is_empty() { Confirmed } else { Suspected }, with(kill));
    }
    let exits_137 = c.exits.as_ref().map_or(0, |e| e.last_codes.iter().filter(|c| **c == 137).count());
    if !memory_logs.is_empty() {
        return (Confirmed, with(t!("API003/memory-logged", container = &c.name)));
    }
    if exits_137 > 0 && trouble {
        return (Suspected, with(t!("API003/killed-137", container = &c.name, count = exits_137)));
    }
    if low_limit.is_some() && trouble {
        return (Suspected, with(t!("API003/limit-with-failures", container = &c.name)));
    }
    if c.oom_events.is_none() {
        return (Unchecked, t!("API003/events-not-read", container = &c.name));
    }
    let limit = match c.memory_limit {
        Some(l) => t!("API003/memory-limit", limit = bytes(l)),
        None => t!("API003/no-memory-limit"),
    };
    (RuledOut, t!("API003/no-oom", container = &c.name, limit = limit))
}

/// What is wrong with one model cache, if anything: `Err` is a fault, `Ok(Some)` a note.
fn cache_state(c: &ContainerFacts, i: &InsideFacts, m: &ModelCache) -> Result<Option<Text>, Text> {
    let uid = i.uid.unwrap_or(u32::MAX);
    let size = if m.engine == "docling" { "500 MB" } else { "300 MB" };
    let mount = c.mount_of(&m.path);
    match &m.dir {
        Ok(d) if !d.writable_by(uid, &i.gids) => {
            Err(t!("API003/cache-not-writable", path = &m.path, mode = &d.mode, uid = d.uid, gid = d.gid, user = uid,))
        }
        Ok(_) if mount.is_some_and(|m| !m.rw) => Err(t!("API003/cache-read-only", path = &m.path)),
        Err(_) if m.parent.as_ref().is_some_and(|p| !p.writable_by(uid, &i.gids)) => {
            Err(t!("API003/cache-cannot-be-created", path = &m.path, user = uid))
        }
        Err(_) => Ok(Some(t!("API003/cache-not-created", path = &m.path, size = size))),
        Ok(_) if mount.is_none_or(|m| m.kind == "tmpfs") => {
            Ok(Some(t!("API003/cache-not-persisted", path = &m.path, size = size)))
        }
        Ok(_) => Ok(None),
    }
}

/// `model-cache`: Docling's and EasyOCR's model directories, as seen inside admin-api.
pub fn model_cache(c: &ContainerFacts, i: &InsideFacts, logged: &[Text], failures: &[Text]) -> (Verdict, Text) {
    if !logged.is_empty() {
        return (Confirmed, Text::join(logged.to_vec(), Sep::Clauses));
    }
    if i.model_caches.is_empty() {
        return (Unchecked, t!("API003/caches-not-listed"));
    }
    if i.uid.is_none() {
        return (Unchecked, t!("API003/ls-id-unusable"));
    }
    let (mut faults, mut notes, mut fine) = (Vec::new(), Vec::new(), Vec::new());
    for m in &i.model_caches {
        match cache_state(c, i, m) {
            Err(t) => faults.push(t),
            Ok(Some(t)) => notes.push(t),
            Ok(None) => fine.push(t!("API003/cache-fine", path = &m.path)),
        }
    }
    if !faults.is_empty() {
        return (Confirmed, Text::join(faults, Sep::Clauses));
    }
    if !notes.is_empty() && !failures.is_empty() {
        let mut v = notes;
        v.push(t!("API003/first-download-may-fail"));
        v.extend(failures.iter().cloned());
        return (Suspected, Text::join(v, Sep::Clauses));
    }
    fine.extend(notes);
    (RuledOut, Text::join(fine, Sep::Clauses))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_processing_times_bound_a_document() {
        assert_eq!(expected_s(3), 60.0);
        assert_eq!(expected_s(20), 180.0);
        assert_eq!(expected_s(50), 420.0);
        assert_eq!(expected_s(100), 840.0);
        let doc = |age: f64, pages: Option<u32>| PendingDoc {
            status: "processing".into(),
            age_s: Some(age),
            since: "updated_at".into(),
            pages,
        };
        assert!(!overdue(&doc(100.0, Some(3))), "under twice 60 s");
        assert!(overdue(&doc(130.0, Some(3))));
        assert!(!overdue(&doc(1500.0, Some(100))), "a 100-page document may take 28m");
        assert!(overdue(&doc(1700.0, Some(100))));
        assert!(!overdue(&doc(1700.0, None)), "no page count: only beyond 30m");
        assert!(overdue(&doc(1900.0, None)));
    }
}
