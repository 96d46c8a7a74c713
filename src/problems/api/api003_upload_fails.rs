//! API003: a document upload fails. Looks inside admin-api (read-only: `df -P` and `ls -lnd` of
//! `/app/uploads` and of its model caches, the process's uid and groups), the status of
//! admindb's `documents`, the OCR queue and job records in Redis, the engine's OOM events, and
//! admin-api's recent log lines. A full disk, an unwritable directory or model cache are seen
//! directly; a file too large (admin-api's limit is 50 MB in its code) and a broken OCR
//! dependency only through what admin-api logged (and failed work), since doctor never uploads
//! anything. What happens after the upload is judged in `admin_work`.

use crate::catalogue::Area;
use crate::facts::of::inside::{InsideFacts, UPLOADS_DIR};
use crate::facts::of::pg_app::PgAppFacts;
use crate::facts::of::redis::RedisFacts;
use crate::facts::of::redis_app::Families;
use crate::problems::api::admin_work;
use crate::problems::engine::{DockerView, Seen};
use crate::problems::registry::{Inputs, Problem};
use crate::problems::{bytes, logs, percent, secs};
use crate::report::{Finding, Status, Verdict, Verdict::*};
use crate::text::{Sep, Text};

crate::causes! {
    DiskFull = "disk-full",
    UploadsPermission = "uploads-permission",
    FileTooLarge = "file-too-large",
    OcrDependency = "ocr-dependency",
    ProcessingStalled = "processing-stalled",
    AdminApiOom = "admin-api-oom",
    ModelCache = "model-cache",
}

pub static PROBLEM: Problem = Problem {
    code: "API003",
    areas: &[Area::Api],
    runbook: crate::runbook!("api/API003-upload-fails.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let f = i.facts;
    let app = f.postgres.as_ref().and_then(|p| p.app_data.as_ref());
    let out = diagnose(&i.docker, app, families(f.redis.as_ref()), f.setting("MAX_FILE_SIZE"), i.ctx);
    vec![i.timed(out, f.postgres_ms.max(f.redis_ms).max(f.docker_ms))]
}

/// Redis's key families (the OCR queue, the job records), or why they are not known.
pub fn families(redis: Option<&RedisFacts>) -> Result<&Families, Text> {
    let Some(r) = redis else { return Err(crate::t!("API003/redis-not-read")) };
    if !r.connected() {
        return Err(crate::t!("API003/redis-unreachable"));
    }
    match r.app.as_ref().and_then(|a| a.families.as_ref()) {
        Some(Ok(f)) => Ok(f),
        Some(Err(e)) => Err(e.into()),
        None => Err(crate::t!("API003/redis-not-read")),
    }
}

/// Share of the disk used from which a full disk is confirmed, and suspected.
const DISK_FULL: f64 = 0.95;
/// admin-api's upload limit: in its code (`if file.size > 50 * 1024 * 1024: raise
/// HTTPException(413, "File too large")`, spec `03-admin-api/diagrams/document-processing-flow.md`).
pub const UPLOAD_LIMIT: u64 = 50 * 1024 * 1024;
/// Log signatures about the model caches: not the upload directory's permission.
const CACHE_WORDS: &[&str] = &[".docling_cache", ".easyocr_models"];

/// `10485760`, `10MB`, `10M`, `10 MiB` → bytes.
pub fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((n * mult) as u64)
}

pub fn diagnose(
    docker: &DockerView,
    pg: Option<&PgAppFacts>,
    families: Result<&Families, Text>,
    max_file_size: Option<(String, String)>,
    ctx: &crate::problems::Ctx,
) -> Finding {
    let mut out = Finding::new("API003", "admin-api");
    let mut status = Status::Ok;
    let mut notes: Vec<Text> = Vec::new();
    let mut judge = |out: &mut Finding, id: Cause, v: Verdict, msg: Text| {
        match v {
            Confirmed => {
                status = status.max(Status::Critical);
                notes.push(msg.clone());
            }
            Suspected => {
                status = status.max(Status::Warning);
                notes.push(msg.clone());
            }
            _ => {}
        }
        out.cause(id, v, msg);
    };
    let logged = logs::service_hits(docker, "admin-api", &["API003"]);
    let window = logs::window(docker, "admin-api").unwrap_or_default();

    // Inside the container.
    let inside: Result<&InsideFacts, Text> = match docker.seen("admin-api") {
        Seen::Found(c) => match &c.inside {
            Some(i) if i.error.is_none() => Ok(i),
            Some(i) => Err(crate::t!(
                "API003/cannot-look-inside",
                container = &c.name,
                error = i.error.clone().unwrap_or_default(),
            )),
            None if !c.running => Err(crate::t!("API003/not-running", container = &c.name)),
            None => Err(crate::t!("API003/no-way-inside")),
        },
        Seen::Missing(name) => Err(crate::t!("API003/no-container", name = name)),
        Seen::Unknown(why) => Err(why),
    };

    // Disk.
    let disk_logs = logs::hits_like(&logged, &["errno 28", "no space"]);
    match inside.as_ref().map(|i| i.uploads_disk.as_ref()) {
        Ok(Some(Ok(d))) => {
            out.fact("uploads_disk", d);
            let used = d.used_ratio();
            let said = crate::t!(
                "API003/disk",
                dir = UPLOADS_DIR,
                mount = &d.mount,
                free = bytes(d.avail_kb * 1024),
                size = bytes(d.size_kb * 1024),
                used = percent(used),
            );
            let v = if used >= DISK_FULL || !disk_logs.is_empty() {
                Confirmed
            } else if used >= ctx.thresholds.disk_warn {
                Suspected
            } else {
                RuledOut
            };
            let mut text = vec![said];
            text.extend(disk_logs.iter().map(Text::from));
            judge(&mut out, Cause::DiskFull, v, Text::join(text, Sep::Clauses));
        }
        _ if !disk_logs.is_empty() => {
            judge(&mut out, Cause::DiskFull, Confirmed, Text::join(disk_logs.clone(), Sep::Clauses))
        }
        Ok(Some(Err(e))) => judge(&mut out, Cause::DiskFull, Unchecked, format!("df {UPLOADS_DIR}: {e}").into()),
        Ok(None) => judge(&mut out, Cause::DiskFull, Unchecked, crate::t!("API003/df-empty")),
        Err(why) => judge(&mut out, Cause::DiskFull, Unchecked, why.clone()),
    }

    // Permission.
    let cache_logs = logs::hits_like(&logged, CACHE_WORDS);
    let upload_hits = logged.as_ref().map(|h| {
        h.iter()
            .filter(|(sig, _)| !CACHE_WORDS.iter().any(|w| sig.to_ascii_lowercase().contains(w)))
            .cloned()
            .collect::<Vec<_>>()
    });
    let perm_logs = logs::hits_like(&upload_hits, &["errno 13", "permission denied"]);
    match inside.as_ref().map(|i| (i.uploads.as_ref(), i.uid, i.gids.clone())) {
        Ok((Some(Ok(dir)), Some(uid), gids)) => {
            out.fact("uploads_dir", format!("{} {}:{} {UPLOADS_DIR}", dir.mode, dir.uid, dir.gid));
            let writable = dir.is_dir() && dir.writable_by(uid, &gids);
            let said = if writable {
                crate::t!(
                    "API003/dir-writable",
                    dir = UPLOADS_DIR,
                    mode = &dir.mode,
                    uid = dir.uid,
                    gid = dir.gid,
                    user = uid
                )
            } else {
                crate::t!(
                    "API003/dir-not-writable",
                    dir = UPLOADS_DIR,
                    mode = &dir.mode,
                    uid = dir.uid,
                    gid = dir.gid,
                    user = uid,
                )
            };
            let v = if !writable || !perm_logs.is_empty() { Confirmed } else { RuledOut };
            let mut text = vec![said];
            text.extend(perm_logs.iter().map(Text::from));
            judge(&mut out, Cause::UploadsPermission, v, Text::join(text, Sep::Clauses));
        }
        Ok((Some(Err(e)), _, _)) => judge(
            &mut out,
            Cause::UploadsPermission,
            Confirmed,
            crate::t!("API003/dir-missing", dir = UPLOADS_DIR, error = e),
        ),
        _ if !perm_logs.is_empty() => {
            judge(&mut out, Cause::UploadsPermission, Confirmed, Text::join(perm_logs.clone(), Sep::Clauses))
        }
        Ok(_) => judge(&mut out, Cause::UploadsPermission, Unchecked, crate::t!("API003/ls-id-unusable")),
        Err(why) => judge(&mut out, Cause::UploadsPermission, Unchecked, why.clone()),
    }

    // Size limit.
    let size_logs = logs::hits_like(&logged, &["413", "too large"]);
    let container_limit = match docker.seen("admin-api") {
        Seen::Found(c) => c.env("MAX_FILE_SIZE").map(|e| (e.value.clone(), format!("{} environment", c.name))),
        _ => None,
    };
    let limit = container_limit.or(max_file_size);
    let code_limit = crate::t!("API003/code-limit", size = bytes(UPLOAD_LIMIT));
    let limit_text = match &limit {
        Some((v, src)) => {
            let set = match parse_size(v) {
                Some(b) => crate::t!("API003/max-size", size = bytes(b), source = src),
                None => crate::t!("API003/max-size-bad", value = format!("{v:?}"), source = src),
            };
            Text::join([code_limit, set], Sep::Clauses)
        }
        None => code_limit,
    };
    // A fact in words, rendered in the report's language.
    out.fact_text("max_file_size", limit_text.clone());
    if !size_logs.is_empty() {
        let text = Text::join([limit_text, Text::join(size_logs.clone(), Sep::Clauses)], Sep::Clauses);
        judge(&mut out, Cause::FileTooLarge, Confirmed, text);
    } else if logged.is_some() {
        judge(
            &mut out,
            Cause::FileTooLarge,
            RuledOut,
            crate::t!("API003/none-refused", limit = limit_text, window = &window),
        );
    } else {
        judge(&mut out, Cause::FileTooLarge, Unchecked, crate::t!("API003/size-logs-not-read", limit = limit_text));
    }

    // OCR, and the documents table.
    let ocr_logs = logs::hits_like(
        &upload_hits,
        &["ocr", "tesseract", "poppler", "pdfinfo", "libgl", "language", "docling", "easyocr"],
    );
    let docs = pg.and_then(|p| p.documents.as_ref());
    let mut failed_docs = 0;
    let mut doc_notes = Vec::new();
    match docs {
        Some(Ok(statuses)) => {
            out.fact("documents", statuses.iter().map(|d| format!("{}: {}", d.status, d.count)).collect::<Vec<_>>());
            for d in statuses.iter().filter(|d| admin_work::failed_status(&d.status)) {
                failed_docs += d.count;
                doc_notes.push(crate::t!(
                    "API003/failed-documents",
                    count = d.count,
                    status = format!("{:?}", d.status),
                    ago = d.newest_age_s.map(secs).unwrap_or_default(),
                ));
            }
        }
        Some(Err(e)) => out.fact_text("documents", crate::t!("API003/admindb-unreadable", error = e)),
        None => {}
    }
    if let Ok(f) = &families {
        if !f.job_statuses.is_empty() {
            out.fact("job_statuses", &f.job_statuses);
        }
        out.fact("document_queue", f.document_queue.unwrap_or(0));
    }
    let failures = admin_work::failures(failed_docs, &families);
    let failed_jobs: Vec<Text> = failures.iter().skip(usize::from(failed_docs > 0)).cloned().collect();
    doc_notes.extend(failed_jobs);
    if !ocr_logs.is_empty() {
        let mut text: Vec<Text> = ocr_logs.iter().map(Text::from).collect();
        text.extend(doc_notes.iter().cloned());
        judge(&mut out, Cause::OcrDependency, Confirmed, Text::join(text, Sep::Clauses));
    } else if !doc_notes.is_empty() {
        judge(&mut out, Cause::OcrDependency, Suspected, Text::join(doc_notes, Sep::Clauses));
    } else if logged.is_some() {
        judge(&mut out, Cause::OcrDependency, RuledOut, crate::t!("API003/no-ocr-error", window = &window));
    } else {
        judge(&mut out, Cause::OcrDependency, Unchecked, crate::t!("API003/ocr-logs-not-read"));
    }

    // After the upload: the queue and the worker, its memory, its model caches.
    let pending = pg.and_then(|p| p.pending_documents.as_ref());
    let pending = match docs {
        Some(Err(e)) => Some(Err(e.clone())),
        _ => pending.cloned(),
    };
    let (v, text) = admin_work::stalled(pending.as_ref(), &families);
    let stalled = matches!(v, Confirmed | Suspected);
    judge(&mut out, Cause::ProcessingStalled, v, text);
    let memory_logs = logs::hits_like(&upload_hits, &["memory usage too high", "memoryerror", "out of memory"]);
    let (v, text) = match docker.seen("admin-api") {
        Seen::Found(c) => admin_work::oom(c, &memory_logs, &failures, stalled),
        _ if !memory_logs.is_empty() => (Confirmed, Text::join(memory_logs.clone(), Sep::Clauses)),
        Seen::Missing(name) => (Unchecked, crate::t!("API003/no-container", name = name)),
        Seen::Unknown(why) => (Unchecked, why),
    };
    judge(&mut out, Cause::AdminApiOom, v, text);
    let (v, text) = match (docker.seen("admin-api"), &inside) {
        (Seen::Found(c), Ok(i)) => admin_work::model_cache(c, i, &cache_logs, &failures),
        _ if !cache_logs.is_empty() => (Confirmed, Text::join(cache_logs.clone(), Sep::Clauses)),
        (_, Err(why)) => (Unchecked, why.clone()),
        (_, Ok(_)) => (Unchecked, crate::t!("API003/no-way-inside")),
    };
    judge(&mut out, Cause::ModelCache, v, text);
    if notes.is_empty() && out.causes.iter().all(|c| c.verdict == Unchecked) {
        // Nothing was seen at all (no engine, no logs, no admindb): say so instead of "fine".
        let why = match &inside {
            Err(why) => why.clone(),
            Ok(_) => crate::t!("API003/nothing-readable"),
        };
        return out.status(Status::Skipped, crate::t!("API003/not-checked", why = why));
    }
    let summary = if notes.is_empty() { crate::t!("API003/all-fine") } else { Text::join(notes, Sep::Clauses) };
    out.status(status, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn sizes() {
        assert_eq!(parse_size("10485760"), Some(10 * 1024 * 1024));
        assert_eq!(parse_size("10MB"), Some(10 * 1024 * 1024));
        assert_eq!(parse_size(" 2 GiB"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("ten"), None);
        assert_eq!(parse_size("10 parsecs"), None);
    }

    use crate::facts::of::docker::{ContainerFacts, DockerFacts, MountFacts};
    use crate::facts::of::docker_events::OomEvents;
    use crate::facts::of::inside::{DOCLING_CACHE, DiskFacts, EASYOCR_MODELS, FileEntry, ModelCache};
    use crate::facts::of::pg_app::{DocStatus, PendingDoc};
    use crate::problems::fixtures::*;

    /// admin-api running as uid 1000, /app/uploads of `mode` owned by `owner`, its disk `used_pct` full.
    fn inside(used_pct: u64, mode: &str, owner: u32) -> InsideFacts {
        let dir = FileEntry { name: UPLOADS_DIR.into(), mode: mode.into(), uid: owner, gid: owner, size: 4096 };
        let disk = DiskFacts {
            mount: "/".into(),
            size_kb: 100_000,
            used_kb: used_pct * 1000,
            avail_kb: (100 - used_pct) * 1000,
        };
        InsideFacts {
            uid: Some(1000),
            gids: vec![1000],
            uploads: Some(Ok(dir)),
            uploads_disk: Some(Ok(disk)),
            model_caches: vec![
                cache("docling", DOCLING_CACHE, "drwxr-xr-x", 1000),
                cache("easyocr", EASYOCR_MODELS, "drwxr-xr-x", 1000),
            ],
            ..Default::default()
        }
    }

    /// A model cache directory of `mode` owned by `owner`, in a /tmp anyone may write.
    fn cache(engine: &str, path: &str, mode: &str, owner: u32) -> ModelCache {
        let entry = |name: &str, mode: &str, uid: u32| FileEntry {
            name: name.into(),
            mode: mode.into(),
            uid,
            gid: uid,
            size: 4096,
        };
        ModelCache {
            engine: engine.into(),
            path: path.into(),
            dir: Ok(entry(path, mode, owner)),
            parent: Some(entry("", "drwxrwxrwt", 0)),
        }
    }

    /// Named volumes on admin-api's uploads and both model caches, as the spec mounts them.
    fn volumes() -> Vec<MountFacts> {
        [UPLOADS_DIR, DOCLING_CACHE, EASYOCR_MODELS]
            .iter()
            .map(|d| MountFacts {
                destination: d.to_string(),
                kind: "volume".into(),
                volume: Some("v".into()),
                rw: true,
            })
            .collect()
    }

    fn sound() -> InsideFacts {
        inside(40, "drwxr-xr-x", 1000)
    }

    /// admin-api looked into, its logs of the last 10m read with `hits`.
    /// The engine's events were read and show no OOM kill; the spec's volumes are mounted.
    fn admin_api(inside: InsideFacts, hits: &[(&str, &str)]) -> DockerFacts {
        admin_api_as(ContainerFacts { inside: Some(inside), ..running("admin-api") }, hits)
    }

    fn admin_api_as(c: ContainerFacts, hits: &[(&str, &str)]) -> DockerFacts {
        let c = ContainerFacts {
            oom_events: c.oom_events.clone().or(Some(OomEvents::default())),
            mounts: if c.mounts.is_empty() { volumes() } else { c.mounts.clone() },
            ..c
        };
        engine(vec![with_logs(c, hits)])
    }

    fn documents(d: &[(&str, u64, f64)]) -> PgAppFacts {
        let d = d
            .iter()
            .map(|(status, count, oldest)| DocStatus {
                status: status.to_string(),
                count: *count,
                oldest_age_s: Some(*oldest),
                newest_age_s: Some(60.0),
            })
            .collect();
        PgAppFacts { documents: Some(Ok(d)), pending_documents: Some(Ok(vec![])), ..Default::default() }
    }

    /// admindb's waiting documents: (status, age, pages).
    fn pending(d: &[(&str, f64, Option<u32>)]) -> PgAppFacts {
        let waiting = d
            .iter()
            .map(|(status, age, pages)| PendingDoc {
                status: status.to_string(),
                age_s: Some(*age),
                since: "updated_at".into(),
                pages: *pages,
            })
            .collect();
        let mut counts: Vec<(&str, u64, f64)> = Vec::new();
        for (status, age, _) in d {
            match counts.iter_mut().find(|(s, _, _)| s == status) {
                Some(c) => c.1 += 1,
                None => counts.push((status, 1, *age)),
            }
        }
        PgAppFacts { pending_documents: Some(Ok(waiting)), ..documents(&counts) }
    }

    /// Redis's families: `queued` jobs in the OCR queue, job records by status.
    fn redis(queued: Option<u64>, jobs: &[(&str, u64)]) -> Families {
        Families {
            document_queue: queued,
            job_statuses: jobs.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
            complete: true,
            ..Default::default()
        }
    }

    fn run(docker: &DockerFacts, pg: Option<&PgAppFacts>) -> Finding {
        let quiet = redis(None, &[("completed", 4)]);
        diagnose(&view(docker), pg, Ok(&quiet), None, &ctx())
    }

    fn run_with(docker: &DockerFacts, pg: &PgAppFacts, families: &Families) -> Finding {
        diagnose(&view(docker), Some(pg), Ok(families), None, &ctx())
    }

    #[test]
    fn healthy_facts_rule_everything_out() {
        let f = run(&admin_api(sound(), &[]), Some(&documents(&[("completed", 12, 86_400.0)])));
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert!(verdicts(&f).iter().all(|(_, v)| *v == RuledOut), "{:?}", f.causes);
        assert_cause(&f, "disk-full", RuledOut, "/app/uploads is on / with 59 MB free of 98 MB (40% used)");
        assert_cause(
            &f,
            "uploads-permission",
            RuledOut,
            "/app/uploads (drwxr-xr-x owner 1000:1000) is writable by uid 1000",
        );
        assert_cause(
            &f,
            "file-too-large",
            RuledOut,
            "admin-api refuses files over 50 MB in its own code (413 \"File too large\"), not through a setting; \
             no upload was refused as too large in the last 10m",
        );
        assert_cause(
            &f,
            "ocr-dependency",
            RuledOut,
            "no OCR error in admin-api's logs of the last 10m, and no failed document or job",
        );
        assert_cause(
            &f,
            "processing-stalled",
            RuledOut,
            "no document waits in uploaded for over 10m or in processing beyond what its pages explain; \
             queue:document:processing holds 0 jobs",
        );
        assert_cause(
            &f,
            "admin-api-oom",
            RuledOut,
            "the engine's events show no OOM kill of admin-api (no memory limit)",
        );
        assert_cause(
            &f,
            "model-cache",
            RuledOut,
            "/tmp/.docling_cache is writable and on a volume; /tmp/.easyocr_models is writable and on a volume",
        );
    }

    #[test]
    fn each_cause_is_confirmed_or_suspected_from_its_own_evidence() {
        let cases: [(DockerFacts, &str, Verdict, &str, Status); 9] = [
            (admin_api(inside(96, "drwxr-xr-x", 1000), &[]), "disk-full", Confirmed, "(96% used)", Status::Critical),
            (admin_api(inside(88, "drwxr-xr-x", 1000), &[]), "disk-full", Suspected, "(88% used)", Status::Warning),
            (
                admin_api(sound(), &[("API003", "OSError: [Errno 28] No space left on device")]),
                "disk-full",
                Confirmed,
                "(40% used); admin-api logged \"OSError: [Errno 28] No space left on device\"",
                Status::Critical,
            ),
            (
                admin_api(inside(40, "drwxr-xr-x", 0), &[]),
                "uploads-permission",
                Confirmed,
                "/app/uploads (drwxr-xr-x owner 0:0) is not writable by uid 1000",
                Status::Critical,
            ),
            (
                admin_api(
                    InsideFacts {
                        uploads: Some(Err("ls: cannot access '/app/uploads': No such file or directory".into())),
                        ..sound()
                    },
                    &[],
                ),
                "uploads-permission",
                Confirmed,
                "/app/uploads does not exist in admin-api: ls: cannot access",
                Status::Critical,
            ),
            (
                admin_api(sound(), &[("API003", "PermissionError: [Errno 13] Permission denied: '/app/uploads/")]),
                "uploads-permission",
                Confirmed,
                "is writable by uid 1000, the user admin-api runs as; admin-api logged \"PermissionError: [Errno 13]",
                Status::Critical,
            ),
            (
                admin_api(sound(), &[("API003", "413 Request Entity Too Large")]),
                "file-too-large",
                Confirmed,
                "admin-api refuses files over 50 MB in its own code (413 \"File too large\"), not through a setting; admin-api logged \"413 Request Entity Too Large\"",
                Status::Critical,
            ),
            (
                admin_api(sound(), &[("API003", "client intended to send too large body:")]),
                "file-too-large",
                Confirmed,
                "too large body",
                Status::Critical,
            ),
            (
                admin_api(
                    sound(),
                    &[(
                        "API003",
                        "pytesseract.pytesseract.TesseractNotFoundError: tesseract is not installed or it's not in your PATH.",
                    )],
                ),
                "ocr-dependency",
                Confirmed,
                "TesseractNotFoundError",
                Status::Critical,
            ),
        ];
        for (docker, id, verdict, says, status) in cases {
            let f = run(&docker, None);
            assert_eq!(f.status, status, "{id}: {}", f.summary.en());
            assert_cause(&f, id, verdict, says);
            assert!(f.summary.en().contains(says), "{}", f.summary.en());
        }

        // OCR: failed or stuck documents are suspected, with or without the logs.
        let clean = admin_api(sound(), &[]);
        let f = run(&clean, Some(&documents(&[("failed", 2, 600.0), ("completed", 12, 86_400.0)])));
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "ocr-dependency", Suspected, "2 documents in status \"failed\" (the latest 60s ago)");
        // Failed job records in Redis, with no failed document.
        let jobs = redis(None, &[("failed", 2), ("completed", 9)]);
        let f = run_with(&clean, &documents(&[("completed", 12, 86_400.0)]), &jobs);
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "ocr-dependency", Suspected, "2 job:status records say failed");
        let f = run(&clean, Some(&pending(&[("processing", 120.0, None)])));
        assert_cause(&f, "ocr-dependency", RuledOut, "no failed document or job");
        // An OCR log line, with the failed documents as more evidence.
        let logged = admin_api(sound(), &[("API003", "Failed loading language 'jpn'")]);
        let f = run(&logged, Some(&documents(&[("error", 1, 300.0)])));
        assert_cause(&f, "ocr-dependency", Confirmed, "Failed loading language 'jpn'");
        assert_cause(&f, "ocr-dependency", Confirmed, "1 documents in status \"error\"");

        // The size limit shown comes from the container before .env.
        let mut limited = admin_api(sound(), &[("API003", "413 Request Entity Too Large")]);
        limited.containers[0].container.as_mut().unwrap().env = vec![env("MAX_FILE_SIZE", "10MB")];
        let q = redis(None, &[]);
        let f = diagnose(&view(&limited), None, Ok(&q), Some(("20M".into(), "MAX_FILE_SIZE (.env)".into())), &ctx());
        assert_cause(
            &f,
            "file-too-large",
            Confirmed,
            "not through a setting; MAX_FILE_SIZE is 10 MB (admin-api environment), read only if your admin-api added it",
        );
    }

    #[test]
    fn documents_that_wait_are_compared_with_the_queue_and_the_jobs() {
        let clean = admin_api(sound(), &[]);
        let uploaded = pending(&[("uploaded", 1500.0, None), ("uploaded", 900.0, None)]);
        // Jobs wait in the queue, nothing is processing: the worker does not consume it.
        let f = run_with(&clean, &uploaded, &redis(Some(2), &[("pending", 2)]));
        assert_eq!(f.status, Status::Critical, "{}", f.summary.en());
        assert_cause(
            &f,
            "processing-stalled",
            Confirmed,
            "2 documents uploaded up to 25m ago are not processed while 2 jobs wait in queue:document:processing \
             and none is processing: nothing consumes the queue",
        );
        // An empty queue and no pending job: the jobs never got there, or were lost.
        let f = run_with(&clean, &uploaded, &redis(None, &[("completed", 3)]));
        assert_cause(
            &f,
            "processing-stalled",
            Confirmed,
            "yet queue:document:processing is empty and no job is pending",
        );
        // Work in progress ahead of them: a backlog.
        let f = run_with(&clean, &uploaded, &redis(Some(1), &[("processing", 1), ("pending", 1)]));
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "processing-stalled", Suspected, "wait behind 1 queued jobs while 1 are processing");
        // Redis not read: the documents alone.
        let f = diagnose(&view(&clean), Some(&uploaded), Err("Redis is unreachable (see RD001)".into()), None, &ctx());
        assert_cause(&f, "processing-stalled", Suspected, "the queue could not be compared: Redis is unreachable");
        // Recently uploaded: not stuck.
        let f = run_with(&clean, &pending(&[("uploaded", 120.0, None)]), &redis(Some(1), &[("pending", 1)]));
        assert_cause(&f, "processing-stalled", RuledOut, "queue:document:processing holds 1 jobs");

        // processing: against what the page count explains.
        let f = run(&clean, Some(&pending(&[("processing", 600.0, Some(3))])));
        assert_cause(
            &f,
            "processing-stalled",
            Confirmed,
            "1 documents in processing longer than their pages explain: the oldest for 10m with 3 pages, where the \
             spec expects up to 60s",
        );
        let f = run(&clean, Some(&pending(&[("processing", 1200.0, Some(120))])));
        assert_cause(&f, "processing-stalled", RuledOut, "no document waits");
        let f = run(&clean, Some(&pending(&[("processing", 1200.0, None)])));
        assert_cause(&f, "processing-stalled", RuledOut, "no document waits");
        let f = run(&clean, Some(&pending(&[("processing", 2400.0, None)])));
        assert_cause(&f, "processing-stalled", Suspected, "for over 30m (the oldest 40m), with no page count recorded");
        // admindb not read.
        let f = run(&clean, None);
        assert_cause(&f, "processing-stalled", Unchecked, "admindb's waiting documents were not read");
    }

    #[test]
    fn an_oom_kill_of_admin_api_is_tied_to_the_failed_work() {
        let killed = || ContainerFacts {
            inside: Some(sound()),
            oom_events: Some(OomEvents { episodes: 1, last_age_s: 300.0 }),
            restart_count: 1,
            ..running("admin-api")
        };
        let failed = documents(&[("failed", 1, 300.0), ("completed", 5, 9000.0)]);
        let f = run(&admin_api_as(killed(), &[]), Some(&failed));
        assert_eq!(f.status, Status::Critical, "{}", f.summary.en());
        assert_cause(&f, "admin-api-oom", Confirmed, "the engine saw an OOM kill:");
        assert_cause(&f, "admin-api-oom", Confirmed, "1 failed documents");
        // A kill with no failed work is suspected only.
        let f = run(&admin_api_as(killed(), &[]), Some(&documents(&[("completed", 5, 9000.0)])));
        assert_cause(&f, "admin-api-oom", Suspected, "the engine saw an OOM kill:");
        // Docling's own memory guard in the logs.
        let f = run(&admin_api(sound(), &[("API003", "Memory usage too high")]), None);
        assert_cause(&f, "admin-api-oom", Confirmed, "admin-api logged that its memory ran out");
        assert_cause(&f, "admin-api-oom", Confirmed, "\"Memory usage too high\"");
        // A 1 GB limit while work fails.
        let small = ContainerFacts { inside: Some(sound()), memory_limit: Some(1 << 30), ..running("admin-api") };
        let f = run(&admin_api_as(small.clone(), &[]), Some(&failed));
        assert_cause(&f, "admin-api-oom", Suspected, "its memory limit is 1.0 GB, below the 4.0 GB Docling uses");
        let f = run(&admin_api_as(small, &[]), Some(&documents(&[("completed", 5, 9000.0)])));
        assert_cause(&f, "admin-api-oom", RuledOut, "no OOM kill of admin-api (memory limit 1.0 GB)");
        // The engine's events not read.
        let mut unread = admin_api(sound(), &[]);
        unread.containers[0].container.as_mut().unwrap().oom_events = None;
        let f = run(&unread, None);
        assert_cause(&f, "admin-api-oom", Unchecked, "OOM events for admin-api could not be read");
        let f = diagnose(&DockerView::none(), None, Err("Redis was not read".into()), None, &ctx());
        assert_cause(&f, "admin-api-oom", Unchecked, "needs the Docker engine");
    }

    #[test]
    fn the_model_caches_must_be_writable_and_kept_on_a_volume() {
        let with_caches = |caches: Vec<ModelCache>| InsideFacts { model_caches: caches, ..sound() };
        let fine = cache("easyocr", EASYOCR_MODELS, "drwxr-xr-x", 1000);
        // Owned by root, mode 755: uid 1000 cannot store the models.
        let root = with_caches(vec![cache("docling", DOCLING_CACHE, "drwxr-xr-x", 0), fine.clone()]);
        let f = run(&admin_api(root, &[]), None);
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "model-cache",
            Confirmed,
            "/tmp/.docling_cache (drwxr-xr-x owner 0:0) is not writable by uid 1000, the user admin-api runs as",
        );
        assert_cause(&f, "uploads-permission", RuledOut, "is writable by uid 1000");
        // Missing, and its parent not writable: it cannot be created.
        let mut missing = cache("docling", "/models/docling", "drwxr-xr-x", 1000);
        missing.dir = Err("ls: cannot access '/models/docling': No such file or directory".into());
        missing.parent = Some(FileEntry { name: "".into(), mode: "dr-xr-xr-x".into(), uid: 0, gid: 0, size: 0 });
        let f = run(&admin_api(with_caches(vec![missing.clone(), fine.clone()]), &[]), None);
        assert_cause(
            &f,
            "model-cache",
            Confirmed,
            "/models/docling does not exist and its parent is not writable by uid 1000",
        );
        // On a read-only mount.
        let ro = ContainerFacts {
            inside: Some(sound()),
            mounts: vec![MountFacts { destination: "/tmp".into(), kind: "bind".into(), volume: None, rw: false }],
            ..running("admin-api")
        };
        let f = run(&admin_api_as(ro, &[]), None);
        assert_cause(&f, "model-cache", Confirmed, "/tmp/.docling_cache is on a read-only mount");
        // Not on a volume: a note while nothing fails, suspected when documents fail.
        let bare = || ContainerFacts {
            inside: Some(sound()),
            mounts: vec![MountFacts { destination: UPLOADS_DIR.into(), kind: "volume".into(), volume: None, rw: true }],
            ..running("admin-api")
        };
        let f = run(&admin_api_as(bare(), &[]), Some(&documents(&[("completed", 5, 9000.0)])));
        assert_cause(
            &f,
            "model-cache",
            RuledOut,
            "/tmp/.docling_cache is not on a volume: its models (about 500 MB) are downloaded again after every recreate",
        );
        let f = run(&admin_api_as(bare(), &[]), Some(&documents(&[("failed", 2, 600.0)])));
        assert_cause(&f, "model-cache", Suspected, "a first-run model download that failed would explain the failures");
        // A permission error on a cache, logged: model-cache, not the uploads directory.
        let logged = admin_api(sound(), &[("API003", "Permission denied: '/tmp/.docling_cache")]);
        let f = run(&logged, None);
        assert_cause(&f, "model-cache", Confirmed, "Permission denied: '/tmp/.docling_cache");
        assert_cause(&f, "uploads-permission", RuledOut, "is writable by uid 1000");
        // No uid: nothing to judge the modes by.
        let f = run(&admin_api(InsideFacts { uid: None, ..sound() }, &[]), None);
        assert_cause(&f, "model-cache", Unchecked, "ls or id printed nothing usable");
        let f = run(&admin_api(InsideFacts { model_caches: vec![], ..sound() }, &[]), None);
        assert_cause(&f, "model-cache", Unchecked, "the model caches were not listed");
    }

    #[test]
    fn without_a_look_inside_or_the_logs_causes_stay_unchecked() {
        let f = diagnose(
            &DockerView::none(),
            None,
            Err("Redis was not read".into()),
            Some(("20M".into(), "MAX_FILE_SIZE (.env)".into())),
            &ctx(),
        );
        assert_cause(&f, "disk-full", Unchecked, "needs the Docker engine");
        assert_cause(&f, "uploads-permission", Unchecked, "needs the Docker engine");
        assert_cause(
            &f,
            "file-too-large",
            Unchecked,
            "MAX_FILE_SIZE is 20 MB (MAX_FILE_SIZE (.env)), read only if your admin-api added it; admin-api's logs were not read, and doctor uploads nothing",
        );
        assert_cause(
            &f,
            "ocr-dependency",
            Unchecked,
            "admin-api's logs were not read: an OCR failure shows only there",
        );

        let inside_unchecked = |docker: &DockerFacts, says: &str| {
            let f = run(docker, None);
            assert_cause(&f, "disk-full", Unchecked, says);
            assert_cause(&f, "uploads-permission", Unchecked, says);
        };
        inside_unchecked(&engine(vec![exited("admin-api", 1)]), "admin-api is not running (see DK002)");
        inside_unchecked(&engine(vec![running("admin-api")]), "the engine gave no way to look inside");
        let no_sh = InsideFacts {
            error: Some("exec: \"sh\": executable file not found in $PATH".into()),
            ..Default::default()
        };
        inside_unchecked(
            &admin_api(no_sh, &[]),
            "could not look inside admin-api (`sh`, `ls`, `df` and `id` are needed)",
        );
        let mut gone = engine(vec![]);
        gone.containers.push(missing("admin-api"));
        inside_unchecked(&gone, "no container admin-api");

        // What df or id printed could not be used; the logs are still read.
        let f = run(
            &admin_api(
                InsideFacts {
                    uploads_disk: Some(Err("df: /app/uploads: No such file or directory".into())),
                    ..sound()
                },
                &[],
            ),
            None,
        );
        assert_cause(&f, "disk-full", Unchecked, "df /app/uploads: df: /app/uploads: No such file or directory");
        let f = run(&admin_api(InsideFacts { uploads_disk: None, uid: None, ..sound() }, &[]), None);
        assert_cause(&f, "disk-full", Unchecked, "df printed nothing");
        assert_cause(&f, "uploads-permission", Unchecked, "ls or id printed nothing usable");
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "file-too-large", RuledOut, "no upload was refused");
        assert_cause(&f, "ocr-dependency", RuledOut, "no OCR error");
    }
}
