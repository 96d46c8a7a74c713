//! DK003 (beyond the contract's list): the disk under the Docker engine is nearly full. One
//! full filesystem is behind many of the runbook's symptoms at once (PostgreSQL cannot write,
//! uploads fail, logs stop), so it is judged once here from the engine's own figures: the data
//! root's filesystem, each stack volume on a filesystem of its own, and the containers whose
//! logs have no cap. What cannot be measured from here (a remote engine, no permission) stays
//! unchecked with the reason; a `docker system prune` is said with what it would free, never run.
//!
//! A log without a cap is a design risk, not a failure: its row is confirmed, but it only moves
//! the status when the disk is already filling or the log is big; otherwise it is advice.

use crate::catalogue::Area;
use crate::facts::of::docker::{DockerFacts, EngineDisk, LogVolume, Space};
use crate::problems::engine::DockerView;
use crate::problems::registry::{Inputs, Problem};
use crate::problems::{Ctx, bytes, percent};
use crate::report::{Finding, Status, Verdict, Verdict::*};
use crate::t;
use crate::text::{Sep, Text};

crate::causes! {
    DataRootNearlyFull = "data-root-nearly-full",
    VolumeNearlyFull = "volume-nearly-full",
    ContainerLogsUnbounded = "container-logs-unbounded",
}

pub static PROBLEM: Problem = Problem {
    code: "DK003",
    areas: &[Area::Docker],
    runbook: crate::runbook!("docker/DK003-engine-disk-full.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let ms =
        i.facts.docker.as_ref().and_then(|d| d.timings.iter().find(|t| t.step == "engine disk")).map_or(0, |t| t.ms);
    vec![i.timed(diagnose(&i.docker, i.ctx), ms)]
}

/// An unbounded log this big makes the check a warning even while the disk has room.
const BIG_LOG: u64 = 1 << 30;

/// The verdict and status of a filesystem's used share against the thresholds.
fn level(used: f64, ctx: &Ctx) -> (Verdict, Status) {
    if used >= ctx.thresholds.engine_disk_crit {
        (Confirmed, Status::Critical)
    } else if used >= ctx.thresholds.engine_disk_warn {
        (Suspected, Status::Warning)
    } else {
        (RuledOut, Status::Ok)
    }
}

fn space_args(s: &Space) -> (String, String, String) {
    (percent(s.used_ratio()), bytes(s.avail), bytes(s.total))
}

pub fn diagnose(view: &DockerView, ctx: &Ctx) -> Finding {
    let mut out = Finding::new("DK003", "engine disk");
    if let Some(why) = view.unavailable() {
        out.causes_all(Cause::ALL, Unchecked, why.clone());
        return out.status(Status::Skipped, why);
    }
    let Some(f) = view.facts else { return out.status(Status::Skipped, String::new()) };
    let Some(disk) = f.disk.as_ref() else {
        let why = t!("DK003/no-disk-facts");
        out.causes_all(Cause::ALL, Unchecked, why.clone());
        return out.status(Status::Skipped, why);
    };
    let mut status = Status::Ok;
    let mut notes: Vec<Text> = Vec::new();
    let dir = disk.root_dir.as_ref().map(String::as_str).unwrap_or("?");

    // The data root.
    let prune = prune_text(disk, &mut out);
    let root_used = match &disk.root_space {
        _ if !disk.local => {
            let mut text = vec![t!("DK003/remote", host = &f.host)];
            text.extend(prune.clone());
            out.cause(Cause::DataRootNearlyFull, Unchecked, Text::join(text, Sep::Clauses));
            None
        }
        Some(Ok(s)) => {
            out.fact("data_root", serde_json::json!({ "dir": dir, "total": s.total, "avail": s.avail }));
            let (used, free, size) = space_args(s);
            let said = t!("DK003/root", dir = dir, used = used, free = free, size = size);
            let (v, st) = level(s.used_ratio(), ctx);
            let mut text = vec![said.clone()];
            if v == Confirmed {
                // Which failing checks this may explain (`root_cause`): all its runbook names.
                out.fact("data_root_full", true);
            }
            if v != RuledOut {
                text.extend(prune.clone());
                text.extend(api003_sees(f, ctx));
                notes.push(said.clone());
            }
            status = status.max(st);
            out.cause(Cause::DataRootNearlyFull, v, Text::join(text, Sep::Clauses));
            Some((s.used_ratio(), said))
        }
        Some(Err(why)) => {
            let text = match &disk.root_dir {
                Ok(d) => t!("DK003/root-unseen", dir = d, why = why),
                Err(e) => t!("DK003/root-dir-unknown", why = e),
            };
            out.cause(Cause::DataRootNearlyFull, Unchecked, text);
            None
        }
        None => {
            let why = disk.root_dir.as_ref().err().cloned().unwrap_or_default();
            out.cause(Cause::DataRootNearlyFull, Unchecked, t!("DK003/root-dir-unknown", why = why));
            None
        }
    };

    // The stack's volumes on filesystems of their own.
    let vols = volumes(disk, f, ctx, &mut out);
    status = status.max(vols.status);
    notes.extend(vols.notes.iter().cloned());

    // Logs without a cap.
    let logs = logs(view, ctx, root_used.as_ref().map(|(u, _)| *u), &mut out);
    status = status.max(logs.status);
    notes.extend(logs.notes.iter().cloned());

    if status == Status::Ok {
        // Ok only from what was seen: a data root measured here, or volumes measured (a remote
        // engine's logs configuration alone says nothing of its disks). Nothing measurable from
        // here (another host, a data root closed to this user) is skipped with the reason: not
        // unknown, which would fail every run from a remote or unprivileged seat.
        let Some((_, root)) = root_used.or_else(|| vols.ok.clone().map(|v| (0.0, v))) else {
            let why =
                out.causes.iter().find(|c| c.verdict == Unchecked).map(|c| c.evidence.clone()).unwrap_or_default();
            return out.status(Status::Skipped, why);
        };
        let volumes = vols.ok.unwrap_or_else(|| t!("DK003/no-volumes"));
        return out
            .status(Status::Ok, t!("DK003/ok", root = root, volumes = volumes, logs = logs.ok.unwrap_or_default()));
    }
    out.status(status, Text::join(notes, Sep::Clauses))
}

/// What `docker system prune -a` would free, from `df`; also kept as a fact.
fn prune_text(disk: &EngineDisk, out: &mut Finding) -> Option<Text> {
    match &disk.usage {
        Ok(u) => {
            out.fact("system_df", u);
            let b = |x: Option<u64>| x.map(bytes).unwrap_or_else(|| "?".into());
            Some(t!(
                "DK003/prune",
                images = b(u.images_reclaimable),
                cache = b(u.build_cache_reclaimable.or(Some(0).filter(|_| u.build_cache.is_none()))),
                containers = b(u.containers_reclaimable)
            ))
        }
        Err(e) => Some(t!("DK003/df-failed", error = e)),
    }
}

/// When API003 reads the uploads disk from inside admin-api as full too, the same disk is
/// meant: said so here rather than reported twice as two problems.
fn api003_sees(f: &DockerFacts, ctx: &Ctx) -> Option<Text> {
    let c = f.container("admin-api")?;
    let d = c.inside.as_ref()?.uploads_disk.as_ref()?.as_ref().ok()?;
    (d.used_ratio() >= ctx.thresholds.engine_disk_warn).then(|| {
        t!(
            "DK003/api003-sees-it",
            dir = crate::facts::of::inside::UPLOADS_DIR,
            mount = &d.mount,
            used = percent(d.used_ratio())
        )
    })
}

struct Judged {
    status: Status,
    notes: Vec<Text>,
    /// What the ok summary says of it, when it passed from evidence.
    ok: Option<Text>,
}

fn volumes(disk: &EngineDisk, f: &DockerFacts, ctx: &Ctx, out: &mut Finding) -> Judged {
    let mut j = Judged { status: Status::Ok, notes: vec![], ok: None };
    if !disk.local {
        out.cause(Cause::VolumeNearlyFull, Unchecked, t!("DK003/remote", host = &f.host));
        return j;
    }
    if disk.volumes.is_empty() {
        let text = t!("DK003/no-volumes");
        out.cause(Cause::VolumeNearlyFull, RuledOut, text.clone());
        j.ok = Some(text);
        return j;
    }
    let (mut full, mut near, mut fine, mut unseen, mut on_root) = (vec![], vec![], vec![], vec![], vec![]);
    let mut facts = Vec::new();
    let mut full_for: Vec<String> = Vec::new();
    for v in &disk.volumes {
        match &v.space {
            Some(Ok(_)) if v.on_data_root == Some(true) => on_root.push(v.name.clone()),
            Some(Ok(s)) => {
                facts.push(
                    serde_json::json!({ "name": v.name, "total": s.total, "avail": s.avail, "used_by": v.used_by }),
                );
                let (used, free, size) = space_args(s);
                let said = t!(
                    "DK003/volume",
                    name = &v.name,
                    used = used,
                    free = free,
                    size = size,
                    containers = v.used_by.join(", ")
                );
                match level(s.used_ratio(), ctx).0 {
                    Confirmed => {
                        // The roles writing to it: the failing checks of those services it may explain.
                        let roles = f
                            .containers
                            .iter()
                            .filter(|l| l.container.as_ref().is_some_and(|c| v.used_by.contains(&c.name)));
                        full_for.extend(roles.map(|l| l.service.clone()));
                        full.push(said)
                    }
                    Suspected => near.push(said),
                    _ => fine.push(said),
                }
            }
            Some(Err(why)) => unseen.push(t!("DK003/volume-unseen", name = &v.name, why = why)),
            None => unseen.push(t!("DK003/volume-unseen", name = &v.name, why = "?")),
        }
    }
    if !facts.is_empty() {
        out.fact("volumes", facts);
    }
    if !full_for.is_empty() {
        full_for.sort();
        full_for.dedup();
        out.fact("full_for", full_for);
    }
    let root_note = (!on_root.is_empty()).then(|| t!("DK003/volumes-on-root", names = on_root.join(", ")));
    let all = |lists: &[&Vec<Text>]| {
        let mut v: Vec<Text> = lists.iter().flat_map(|l| l.iter().cloned()).collect();
        v.extend(root_note.clone());
        Text::join(v, Sep::Clauses)
    };
    if !full.is_empty() {
        j.status = Status::Critical;
        j.notes.extend(full.iter().cloned());
        j.notes.extend(near.iter().cloned());
        out.cause(Cause::VolumeNearlyFull, Confirmed, all(&[&full, &near, &unseen]));
    } else if !near.is_empty() {
        j.status = Status::Warning;
        j.notes.extend(near.iter().cloned());
        out.cause(Cause::VolumeNearlyFull, Suspected, all(&[&near, &unseen]));
    } else if !unseen.is_empty() {
        out.cause(Cause::VolumeNearlyFull, Unchecked, all(&[&unseen, &fine]));
    } else {
        let count = fine.len() + on_root.len();
        let text = all(&[&fine]);
        out.cause(Cause::VolumeNearlyFull, RuledOut, text);
        j.ok = Some(t!("DK003/volumes-below", count = count, limit = percent(ctx.thresholds.engine_disk_warn)));
    }
    j
}

/// `10m×3` for a capped log.
fn cap(l: &LogVolume) -> String {
    let size = |n: u64| {
        if n.is_multiple_of(1 << 30) {
            format!("{}g", n >> 30)
        } else if n.is_multiple_of(1 << 20) {
            format!("{}m", n >> 20)
        } else if n.is_multiple_of(1 << 10) {
            format!("{}k", n >> 10)
        } else {
            n.to_string()
        }
    };
    match (l.driver.as_str(), l.max_size, l.max_file) {
        ("local", s, n) => format!(
            "local {}×{}",
            size(s.unwrap_or(crate::facts::of::docker::LOCAL_DEFAULT_MAX_SIZE)),
            n.unwrap_or(crate::facts::of::docker::LOCAL_DEFAULT_MAX_FILE)
        ),
        (_, Some(s), n) => format!("{}×{}", size(s), n.unwrap_or(1)),
        (d, None, _) => d.to_string(),
    }
}

fn logs(view: &DockerView, ctx: &Ctx, root_used: Option<f64>, out: &mut Finding) -> Judged {
    let mut j = Judged { status: Status::Ok, notes: vec![], ok: None };
    let (mut unbounded, mut caps, mut elsewhere) = (vec![], vec![], vec![]);
    let mut big = false;
    let mut sizes = serde_json::Map::new();
    for c in view.found() {
        let Some(l) = &c.log_volume else { continue };
        if let Some(b) = l.bytes {
            sizes.insert(c.name.clone(), b.into());
        }
        if l.unbounded() {
            big |= l.bytes.is_some_and(|b| b >= BIG_LOG);
            unbounded.push(match l.bytes {
                Some(b) => t!("DK003/log-size", container = &c.name, bytes = bytes(b)),
                None => c.name.as_str().into(),
            });
        } else if l.cap().is_some() {
            caps.push(cap(l));
        } else {
            elsewhere.push(t!("DK003/elsewhere", container = &c.name, driver = &l.driver));
        }
    }
    if !sizes.is_empty() {
        out.fact("log_bytes", sizes);
    }
    caps.sort();
    caps.dedup();
    let capped = (!caps.is_empty()).then(|| t!("DK003/capped", caps = caps.join(", ")));
    if !unbounded.is_empty() {
        let count = unbounded.len();
        let text = t!("DK003/unbounded", containers = Text::join(unbounded, Sep::List));
        out.cause(Cause::ContainerLogsUnbounded, Confirmed, text.clone());
        let filling = root_used.is_some_and(|u| u >= ctx.thresholds.engine_disk_warn);
        if big || filling {
            j.status = Status::Warning;
            j.notes.push(text.clone());
        } else {
            out.advise(text);
        }
        j.ok = Some(t!("DK003/unbounded-count", count = count));
    } else if capped.is_none() && elsewhere.is_empty() {
        let why = t!("DK003/no-log-config");
        out.cause(Cause::ContainerLogsUnbounded, Unchecked, why.clone());
        j.ok = Some(why);
    } else {
        let text = Text::join(capped.into_iter().chain(elsewhere), Sep::Clauses);
        out.cause(Cause::ContainerLogsUnbounded, RuledOut, text.clone());
        j.ok = Some(text);
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::of::docker::{DiskUsage, VolumeDisk};
    use crate::problems::fixtures::{ctx, engine, running, view};

    const GB: u64 = 1 << 30;

    fn space(used_pct: u64) -> Space {
        Space { total: 100 * GB, free: (100 - used_pct) * GB, avail: (100 - used_pct) * GB }
    }
    fn disk(root_used: u64) -> EngineDisk {
        EngineDisk {
            local: true,
            root_dir: Ok("/var/lib/docker".into()),
            root_space: Some(Ok(space(root_used))),
            usage: Ok(DiskUsage {
                images: Some(3 * GB),
                images_reclaimable: Some(GB + GB / 5),
                containers: Some(GB / 10),
                containers_reclaimable: Some(20 << 20),
                build_cache: Some(GB / 2),
                build_cache_reclaimable: Some(300 << 20),
                ..Default::default()
            }),
            volumes: vec![],
        }
    }
    fn volume(name: &str, used: u64, on_root: bool) -> VolumeDisk {
        VolumeDisk {
            name: name.into(),
            driver: Some("local".into()),
            used_by: vec!["postgres".into()],
            space: Some(Ok(space(used))),
            on_data_root: Some(on_root),
        }
    }
    fn logs(driver: &str, max_size: Option<u64>, max_file: Option<u32>, bytes: Option<u64>) -> Option<LogVolume> {
        Some(LogVolume { driver: driver.into(), max_size, max_file, bytes })
    }
    fn stack(d: EngineDisk, log: Option<LogVolume>) -> DockerFacts {
        let mut pg = running("postgres");
        pg.log_volume = log.clone();
        let mut rd = running("redis");
        rd.log_volume = log;
        let mut f = engine(vec![pg, rd]);
        f.disk = Some(d);
        f
    }
    fn capped() -> Option<LogVolume> {
        logs("json-file", Some(10 << 20), Some(3), Some(4 << 20))
    }
    fn verdict(f: &Finding, c: Cause) -> (Verdict, String) {
        let c = f.causes.iter().find(|x| x.id == c.id()).unwrap();
        (c.verdict, c.evidence.en())
    }

    #[test]
    fn a_roomy_engine_is_ok_and_says_what_it_saw() {
        let mut d = disk(41);
        d.volumes = vec![volume("pgdata", 41, true), volume("uploads", 30, false)];
        let f = diagnose(&view(&stack(d, capped())), &ctx());
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        let s = f.summary.en();
        assert!(s.contains("data root /var/lib/docker 41% used"), "{s}");
        assert!(s.contains("2 volumes below 85%"), "{s}");
        assert!(s.contains("logs capped: 10m×3"), "{s}");
        for c in Cause::ALL {
            assert_eq!(verdict(&f, *c).0, RuledOut, "{c:?}");
        }
    }

    #[test]
    fn a_full_data_root_is_critical_and_says_what_a_prune_would_free() {
        let f = diagnose(&view(&stack(disk(97), capped())), &ctx());
        assert_eq!(f.status, Status::Critical);
        let (v, e) = verdict(&f, Cause::DataRootNearlyFull);
        assert_eq!(v, Confirmed);
        assert!(e.contains("97% used"), "{e}");
        assert!(e.contains("about 1.2 GB of images no container uses, 300 MB of build cache"), "{e}");
        assert!(!e.contains("--volumes"), "{e}");
        assert_eq!(f.evidence["data_root_full"], true);
        let f = diagnose(&view(&stack(disk(88), capped())), &ctx());
        assert_eq!((f.status, verdict(&f, Cause::DataRootNearlyFull).0), (Status::Warning, Suspected));
    }

    #[test]
    fn a_full_volume_of_its_own_is_named_with_its_containers() {
        let mut d = disk(30);
        d.volumes = vec![volume("pgdata", 99, false), volume("other", 99, true)];
        let f = diagnose(&view(&stack(d, capped())), &ctx());
        assert_eq!(f.status, Status::Critical);
        let (v, e) = verdict(&f, Cause::VolumeNearlyFull);
        assert_eq!(v, Confirmed);
        assert!(e.contains("volume pgdata 99% used") && e.contains("used by postgres"), "{e}");
        assert!(e.contains("judged with it: other"), "{e}");
        assert_eq!(f.evidence["full_for"], serde_json::json!(["postgres"]), "what root_cause reads");
        assert!(f.evidence.get("data_root_full").is_none());
        assert_eq!(verdict(&f, Cause::DataRootNearlyFull).0, RuledOut);
        // A volume that could not be measured is unchecked, never ruled out.
        let mut d = disk(30);
        d.volumes = vec![VolumeDisk { space: Some(Err("permission denied".into())), ..volume("pgdata", 0, false) }];
        let f = diagnose(&view(&stack(d, capped())), &ctx());
        assert_eq!(verdict(&f, Cause::VolumeNearlyFull).0, Unchecked);
    }

    #[test]
    fn unbounded_logs_are_confirmed_as_advice_until_the_disk_fills() {
        let f = diagnose(&view(&stack(disk(40), logs("json-file", None, None, Some(5 << 20)))), &ctx());
        let (v, e) = verdict(&f, Cause::ContainerLogsUnbounded);
        assert_eq!(v, Confirmed);
        assert!(e.contains("json-file logs without max-size: postgres (5.0 MB so far), redis"), "{e}");
        assert_eq!(f.status, Status::Ok, "a design risk: advice");
        assert_eq!(f.advice.len(), 1);
        let f = diagnose(&view(&stack(disk(90), logs("json-file", None, None, None))), &ctx());
        assert_eq!(f.status, Status::Warning);
        let f = diagnose(&view(&stack(disk(40), logs("json-file", None, None, Some(2 * GB)))), &ctx());
        assert_eq!(f.status, Status::Warning);
        // The local driver has a default cap; journald keeps logs elsewhere.
        let f = diagnose(&view(&stack(disk(40), logs("local", None, None, None))), &ctx());
        assert_eq!(verdict(&f, Cause::ContainerLogsUnbounded).0, RuledOut);
        let f = diagnose(&view(&stack(disk(40), logs("journald", None, None, None))), &ctx());
        let (v, e) = verdict(&f, Cause::ContainerLogsUnbounded);
        assert_eq!(v, RuledOut);
        assert!(e.contains("postgres logs to journald"), "{e}");
        let f = diagnose(&view(&stack(disk(40), None)), &ctx());
        assert_eq!(verdict(&f, Cause::ContainerLogsUnbounded).0, Unchecked);
    }

    #[test]
    fn a_remote_engine_leaves_the_disks_unchecked_never_ok() {
        let d = EngineDisk { local: false, root_space: None, ..disk(0) };
        let mut facts = stack(d, capped());
        facts.host = "tcp://10.0.0.5:2375".into();
        let f = diagnose(&view(&facts), &ctx());
        let (v, e) = verdict(&f, Cause::DataRootNearlyFull);
        assert_eq!(v, Unchecked);
        assert!(e.contains("another host (tcp://10.0.0.5:2375)"), "{e}");
        assert!(e.contains("would free about"), "df still answers over the API: {e}");
        assert_eq!(verdict(&f, Cause::VolumeNearlyFull).0, Unchecked);
        assert_eq!(f.status, Status::Skipped, "nothing measurable from here: {}", f.summary.en());
        // No permission on the data root: unchecked with the reason.
        let d = EngineDisk { root_space: Some(Err("/var/lib/docker/containers: Permission denied".into())), ..disk(0) };
        let f = diagnose(&view(&stack(d, capped())), &ctx());
        let (v, e) = verdict(&f, Cause::DataRootNearlyFull);
        assert_eq!(v, Unchecked);
        assert!(e.contains("Permission denied"), "{e}");
        // Facts from a doctor before DK003: skipped.
        let f = diagnose(&view(&engine(vec![running("postgres")])), &ctx());
        assert_eq!(f.status, Status::Skipped);
        assert!(f.causes.iter().all(|c| c.verdict == Unchecked));
    }

    #[test]
    fn a_full_data_root_points_at_api003_when_it_sees_the_same() {
        use crate::facts::of::inside::{DiskFacts, InsideFacts};
        let mut facts = stack(disk(97), capped());
        let mut api = running("admin-api");
        api.inside = Some(InsideFacts {
            uploads_disk: Some(Ok(DiskFacts { mount: "/".into(), size_kb: 100, used_kb: 97, avail_kb: 3 })),
            ..Default::default()
        });
        facts.containers.push(crate::facts::of::docker::ContainerLookup {
            service: "admin-api".into(),
            wanted: "admin-api".into(),
            found_by: None,
            container: Some(api),
            error: None,
        });
        let f = diagnose(&view(&facts), &ctx());
        let (_, e) = verdict(&f, Cause::DataRootNearlyFull);
        assert!(e.contains("API003 sees it from inside admin-api too"), "{e}");
    }
}
