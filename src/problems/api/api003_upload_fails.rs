//! API003: a document upload fails. Looks inside admin-api (read-only: `df -P` and `ls -lnd` of
//! `/app/uploads`, the process's uid and groups), reads `MAX_FILE_SIZE`, the status of admindb's
//! `documents`, and admin-api's recent log lines. A full disk and an unwritable directory are
//! seen directly; a file too large and a broken OCR dependency only through what admin-api
//! logged (and failed documents), since doctor never uploads anything.

use crate::catalogue::Area;
use crate::facts::of::inside::{InsideFacts, UPLOADS_DIR};
use crate::facts::of::pg_app::PgAppFacts;
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
    let out = diagnose(&i.docker, app, f.setting("MAX_FILE_SIZE"), i.ctx);
    vec![i.timed(out, f.postgres_ms.max(f.redis_ms).max(f.docker_ms))]
}

/// Share of the disk used from which a full disk is confirmed, and suspected.
const DISK_FULL: f64 = 0.95;
/// Documents still in a working status after this long are stuck.
const STUCK_S: f64 = 600.0;

fn failed_status(s: &str) -> bool {
    let s = s.to_ascii_lowercase();
    s.contains("fail") || s.contains("error")
}

fn working_status(s: &str) -> bool {
    let s = s.to_ascii_lowercase();
    ["pending", "processing", "queued", "uploading", "running", "in_progress"].iter().any(|w| s.contains(w))
}

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
    let perm_logs = logs::hits_like(&logged, &["errno 13", "permission denied"]);
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
    let limit_text = match &limit {
        Some((v, src)) => match parse_size(v) {
            Some(b) => crate::t!("API003/max-size", size = bytes(b), source = src),
            None => crate::t!("API003/max-size-bad", value = format!("{v:?}"), source = src),
        },
        None => crate::t!("API003/max-size-unset"),
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
    let ocr_logs = logs::hits_like(&logged, &["ocr", "tesseract", "poppler", "pdfinfo", "libgl", "language"]);
    let docs = pg.and_then(|p| p.documents.as_ref());
    let mut doc_notes = Vec::new();
    match docs {
        Some(Ok(statuses)) => {
            out.fact("documents", statuses.iter().map(|d| format!("{}: {}", d.status, d.count)).collect::<Vec<_>>());
            for d in statuses {
                if failed_status(&d.status) {
                    doc_notes.push(crate::t!(
                        "API003/failed-documents",
                        count = d.count,
                        status = format!("{:?}", d.status),
                        ago = d.newest_age_s.map(secs).unwrap_or_default(),
                    ));
                } else if working_status(&d.status) && d.oldest_age_s.is_some_and(|a| a > STUCK_S) {
                    doc_notes.push(crate::t!(
                        "API003/stuck-documents",
                        count = d.count,
                        status = format!("{:?}", d.status),
                        age = d.oldest_age_s.map(secs).unwrap_or_default(),
                    ));
                }
            }
        }
        Some(Err(e)) => out.fact_text("documents", crate::t!("API003/admindb-unreadable", error = e)),
        None => {}
    }
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

    use crate::facts::of::docker::{ContainerFacts, DockerFacts};
    use crate::facts::of::inside::{DiskFacts, FileEntry};
    use crate::facts::of::pg_app::DocStatus;
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
            ..Default::default()
        }
    }

    fn sound() -> InsideFacts {
        inside(40, "drwxr-xr-x", 1000)
    }

    /// admin-api looked into, its logs of the last 10m read with `hits`.
    fn admin_api(inside: InsideFacts, hits: &[(&str, &str)]) -> DockerFacts {
        engine(vec![with_logs(ContainerFacts { inside: Some(inside), ..running("admin-api") }, hits)])
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
        PgAppFacts { documents: Some(Ok(d)), ..Default::default() }
    }

    fn run(docker: &DockerFacts, pg: Option<&PgAppFacts>) -> Finding {
        diagnose(&view(docker), pg, None, &ctx())
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
            "MAX_FILE_SIZE is not set (admin-api's default applies); no upload was refused as too large in the last 10m",
        );
        assert_cause(
            &f,
            "ocr-dependency",
            RuledOut,
            "no OCR error in admin-api's logs of the last 10m, and no failed or stuck document",
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
                "MAX_FILE_SIZE is not set (admin-api's default applies); admin-api logged \"413 Request Entity Too Large\"",
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
        let f = diagnose(&DockerView::none(), Some(&documents(&[("processing", 3, 3600.0)])), None, &ctx());
        assert_eq!(f.status, Status::Warning);
        assert_cause(
            &f,
            "ocr-dependency",
            Suspected,
            "3 documents in status \"processing\", the oldest for 60m: processing is stuck",
        );
        let f = run(&clean, Some(&documents(&[("processing", 3, 120.0)])));
        assert_cause(&f, "ocr-dependency", RuledOut, "no failed or stuck document");
        // An OCR log line, with the failed documents as more evidence.
        let logged = admin_api(sound(), &[("API003", "Failed loading language 'jpn'")]);
        let f = run(&logged, Some(&documents(&[("error", 1, 300.0)])));
        assert_cause(&f, "ocr-dependency", Confirmed, "Failed loading language 'jpn'");
        assert_cause(&f, "ocr-dependency", Confirmed, "1 documents in status \"error\"");

        // The size limit shown comes from the container before .env.
        let mut limited = admin_api(sound(), &[("API003", "413 Request Entity Too Large")]);
        limited.containers[0].container.as_mut().unwrap().env = vec![env("MAX_FILE_SIZE", "10MB")];
        let f = diagnose(&view(&limited), None, Some(("20M".into(), "MAX_FILE_SIZE (.env)".into())), &ctx());
        assert_cause(&f, "file-too-large", Confirmed, "MAX_FILE_SIZE is 10 MB (admin-api environment)");
    }

    #[test]
    fn without_a_look_inside_or_the_logs_causes_stay_unchecked() {
        let f = diagnose(&DockerView::none(), None, Some(("20M".into(), "MAX_FILE_SIZE (.env)".into())), &ctx());
        assert_cause(&f, "disk-full", Unchecked, "needs the Docker engine");
        assert_cause(&f, "uploads-permission", Unchecked, "needs the Docker engine");
        assert_cause(
            &f,
            "file-too-large",
            Unchecked,
            "MAX_FILE_SIZE is 20 MB (MAX_FILE_SIZE (.env)); admin-api's logs were not read, and doctor uploads nothing",
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
