//! Since when, and what changed: the runbook's first two questions, answered from the engine's
//! events, each container's inspect, and the first and latest matching log line of each failing
//! check.
//!
//! Pure: [`build`] reads facts that the Docker probe gathered (`DockerFacts.events`, each
//! container's `previous`, its log hits) and a clock value, and returns entries in the report's
//! language. The engine logs many events for one thing a person did (`docker restart` is `kill`,
//! `die`, `stop`, `start`, `restart`; `docker compose up` replacing a container is `create` under
//! a temporary name, then the old one's `kill`, `die`, `stop`, `destroy`, then `start`), so the
//! events of a container are grouped into bursts and each burst says one thing. An entry is a
//! `change` when somebody or something changed the stack (a recreation, a restart or a stop by
//! hand, a removal), and a `fault` when the stack failed (a non-zero exit, an OOM kill, a failing
//! health check, the first error line): a healthy stack that was just started has neither.
//! [`what_changed`] turns the latest change of a failing check's services into the first line
//! of its evidence.

use crate::facts::of::docker::{ContainerFacts, DockerFacts};
use crate::facts::of::docker_events::EngineEvent;
use crate::lang::{Lang, tr};
use crate::problems::secs;
use serde::Serialize;

/// Events of one container closer together than this are one thing that happened.
const BURST_GAP_S: f64 = 20.0;
/// A removal and a creation of one name this close together are one recreation.
const RECREATE_GAP_S: f64 = 120.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Created,
    Recreated,
    Started,
    Restarted,
    Stopped,
    Removed,
    Killed,
    Exited,
    OomKilled,
    Unhealthy,
    Healthy,
    Paused,
    Unpaused,
    FirstError,
    LatestError,
    /// A disk under the engine found nearly full by this run (DK003): a state, not an event,
    /// put at the run's time.
    DiskNearlyFull,
}

/// One thing that happened, at one time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// RFC 3339, UTC.
    pub at: String,
    #[serde(skip)]
    pub at_unix: f64,
    /// The stack's role (`user-api`), else the compose service, else the container's name.
    pub service: String,
    pub container: String,
    pub kind: Kind,
    /// What happened, in the report's language; variable names at most, never a value.
    pub summary: String,
    /// Somebody or something changed the stack here.
    pub change: bool,
    /// The stack failed here.
    pub fault: bool,
    /// A recreation with something new (image, configuration, variables): it may explain any
    /// finding about its service, not only one of a container's lifecycle.
    #[serde(skip)]
    pub brought_new: bool,
    /// The failing check whose error line this is (first-error, latest-error).
    #[serde(skip)]
    pub check: Option<String>,
}

/// The stack's timeline over the last `since_s` seconds, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timeline {
    pub since_s: u64,
    pub entries: Vec<Entry>,
    /// Why there is no timeline from the engine (`None`: the events were read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    /// The engine gave more events than were read, or the read was cut short.
    pub truncated: bool,
}

impl Timeline {
    /// The entries worth a line on the first screen: changes and faults (the latest error
    /// line is left to the check's own evidence).
    pub fn notable(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| (e.change || e.fault) && e.kind != Kind::LatestError)
    }
}

/// `abc123def456_ai-micro-api-user` (compose's temporary name while it recreates) is
/// `ai-micro-api-user`.
pub fn plain_name(name: &str) -> &str {
    match name.split_once('_') {
        Some((pre, rest)) if pre.len() == 12 && pre.bytes().all(|b| b.is_ascii_hexdigit()) && !rest.is_empty() => rest,
        _ => name,
    }
}

fn hhmm(unix: f64) -> String {
    let t = crate::clock::rfc3339(unix as i64);
    t.get(11..16).unwrap_or(&t).to_string()
}

fn short_id(image: &str) -> String {
    let id = image.strip_prefix("sha256:").unwrap_or(image);
    id.chars().take(12).collect()
}

/// The role of the container called `name`, else its compose service, else the name.
fn service_of(f: &DockerFacts, name: &str, ev: Option<&EngineEvent>) -> String {
    f.containers
        .iter()
        .find(|l| l.wanted == name || l.container.as_ref().is_some_and(|c| c.name == name))
        .map(|l| l.service.clone())
        .or_else(|| ev.and_then(|e| e.service.clone()))
        .unwrap_or_else(|| name.to_string())
}

/// Events of one container id close together.
struct Burst<'a> {
    name: String,
    events: Vec<&'a EngineEvent>,
}

impl Burst<'_> {
    fn has(&self, action: &str) -> bool {
        self.events.iter().any(|e| e.action == action)
    }
    fn first(&self, action: &str) -> Option<&EngineEvent> {
        self.events.iter().find(|e| e.action == action).copied()
    }
    fn start(&self) -> f64 {
        self.events.first().map_or(0.0, |e| e.at)
    }
    fn end(&self) -> f64 {
        self.events.last().map_or(0.0, |e| e.at)
    }
    fn exit_code(&self) -> Option<i64> {
        self.first("die").and_then(|e| e.exit_code)
    }
}

fn bursts(events: &[EngineEvent]) -> Vec<Burst<'_>> {
    let mut by_id: Vec<(String, Vec<&EngineEvent>)> = Vec::new();
    for e in events {
        match by_id.iter_mut().find(|(id, _)| *id == e.id) {
            Some((_, v)) => v.push(e),
            None => by_id.push((e.id.clone(), vec![e])),
        }
    }
    let mut out = Vec::new();
    for (_, mut evs) in by_id {
        evs.sort_by(|a, b| a.at.total_cmp(&b.at));
        // Named as it is known at its latest event (compose renames a recreated container).
        let name = plain_name(&evs.last().map(|e| e.name.clone()).unwrap_or_default()).to_string();
        let mut cur: Vec<&EngineEvent> = Vec::new();
        for e in evs {
            // A burst ends with a pause, and with a start unless the `restart` that `docker
            // restart` logs after its start follows (or the health it then reports).
            let ends = cur.last().is_some_and(|l| {
                e.at - l.at > BURST_GAP_S
                    || (l.action == "start" && !matches!(e.action.as_str(), "restart" | "health_status"))
            });
            if ends {
                out.push(Burst { name: name.clone(), events: std::mem::take(&mut cur) });
            }
            cur.push(e);
        }
        if !cur.is_empty() {
            out.push(Burst { name, events: cur });
        }
    }
    out.sort_by(|a, b| a.start().total_cmp(&b.start()));
    out
}

/// "with exit code 0", "killed by signal 9 (exit code 137)".
fn exit_words(lang: Lang, code: Option<i64>) -> String {
    match code {
        Some(c) => tr(lang, format!("exit code {c}"), format!("終了コード {c}")),
        None => tr(lang, "exit code unknown", "終了コード不明"),
    }
}

/// How a recreated container differs from the one it replaced, in words: from the engine's
/// labels (image id, config hash) and doctor's own record of the earlier one's variables.
fn recreation_words(
    lang: Lang,
    old: Option<&EngineEvent>,
    new: &EngineEvent,
    current: Option<&ContainerFacts>,
) -> Vec<String> {
    let mut said = Vec::new();
    let prev = current.and_then(|c| c.previous.as_ref()).filter(|p| old.is_none_or(|o| p.id.starts_with(&o.id)));
    let old_image = old.and_then(|o| o.image_id.clone()).or_else(|| prev.and_then(|p| p.image_id.clone()));
    let new_image = new.image_id.clone().or_else(|| current.and_then(|c| c.image_id.clone()));
    let image_changed = match (&old_image, &new_image) {
        (Some(a), Some(b)) => a != b,
        _ => {
            old.and_then(|o| o.image.as_ref()).zip(new.image.as_ref()).is_some_and(|(a, b)| a != b)
                || prev.is_some_and(|p| p.image_changed())
        }
    };
    if image_changed {
        let ids = match (&old_image, &new_image) {
            (Some(a), Some(b)) if a != b => format!(" ({} → {})", short_id(a), short_id(b)),
            _ => String::new(),
        };
        said.push(tr(lang, format!("a new image{ids}"), format!("新しいイメージ{ids}")));
    }
    let hash_changed = old.and_then(|o| o.config_hash.as_ref()).zip(new.config_hash.as_ref()).map(|(a, b)| a != b);
    let config_changed = hash_changed.unwrap_or(false) || prev.is_some_and(|p| p.config_changed);
    if let Some(p) = prev.filter(|p| p.vars_differ()) {
        let mut parts = Vec::new();
        if !p.vars_removed.is_empty() && !p.vars_added.is_empty() {
            parts.push(tr(
                lang,
                format!("variables {} → {}", p.vars_removed.join(", "), p.vars_added.join(", ")),
                format!("変数 {} → {}", p.vars_removed.join(", "), p.vars_added.join(", ")),
            ));
        } else if !p.vars_removed.is_empty() {
            parts.push(tr(
                lang,
                format!("variables removed: {}", p.vars_removed.join(", ")),
                format!("削除された変数: {}", p.vars_removed.join(", ")),
            ));
        } else if !p.vars_added.is_empty() {
            parts.push(tr(
                lang,
                format!("variables added: {}", p.vars_added.join(", ")),
                format!("追加された変数: {}", p.vars_added.join(", ")),
            ));
        }
        if !p.vars_changed.is_empty() {
            parts.push(tr(
                lang,
                format!("values changed: {}", p.vars_changed.join(", ")),
                format!("値が変わった変数: {}", p.vars_changed.join(", ")),
            ));
        }
        said.push(tr(
            lang,
            format!("new settings ({})", parts.join("; ")),
            format!("設定変更（{}）", parts.join("; ")),
        ));
    } else if config_changed {
        said.push(tr(lang, "a new configuration", "新しい構成"));
    }
    said
}

/// The stack's timeline: the engine's events of its containers over `--since`, grouped into
/// what happened, with the first and latest log line of each failing check in `failing`.
pub fn build(f: &DockerFacts, failing: &[&str], lang: Lang) -> Timeline {
    let log = match &f.events {
        None => {
            return Timeline {
                unavailable: Some(tr(lang, "the engine's events were not read", "エンジンのイベントは未取得")),
                ..Default::default()
            };
        }
        Some(Err(e)) => {
            return Timeline {
                unavailable: Some(tr(
                    lang,
                    format!("the engine's events could not be read: {e}"),
                    format!("エンジンのイベントを読めなかった: {e}"),
                )),
                ..Default::default()
            };
        }
        Some(Ok(log)) => log,
    };
    let mut entries = Vec::new();
    let all = bursts(&log.events);
    // Bursts that a recreation (or another entry) already accounts for.
    let mut absorbed = vec![false; all.len()];
    // The container each creation replaced: another id of the same name, removed around that
    // time (before it, or after it as compose does); the nearest removal not yet paired, as a
    // name recreated many times has one removal per recreation.
    let mut replaced_by: Vec<Option<usize>> = vec![None; all.len()];
    for (i, b) in all.iter().enumerate() {
        let Some(create) = b.first("create") else { continue };
        let old = all
            .iter()
            .enumerate()
            .filter(|(j, o)| {
                *j != i
                    && !absorbed[*j]
                    && o.name == b.name
                    && o.events.first().map(|e| &e.id) != Some(&create.id)
                    && o.has("destroy")
                    && (o.end() - create.at).abs() < RECREATE_GAP_S
            })
            .min_by(|(_, x), (_, y)| (x.end() - create.at).abs().total_cmp(&(y.end() - create.at).abs()))
            .map(|(j, _)| j);
        if let Some(j) = old {
            absorbed[j] = true;
        }
        replaced_by[i] = old;
    }
    // Times of recreations that brought nothing new.
    let mut nothing_new: Vec<f64> = Vec::new();
    for (i, b) in all.iter().enumerate() {
        if absorbed[i] {
            continue;
        }
        let service = service_of(f, &b.name, b.events.first().copied());
        let current = f.containers.iter().filter_map(|l| l.container.as_ref()).find(|c| {
            b.events.first().is_some_and(|e| c.id.starts_with(&e.id) || e.id.starts_with(&c.id)) && !c.id.is_empty()
        });
        let mut push = |at: f64, kind: Kind, summary: String, change: bool, fault: bool| {
            entries.push(Entry {
                at: crate::clock::rfc3339(at as i64),
                at_unix: at,
                service: service.clone(),
                container: b.name.clone(),
                kind,
                summary,
                change,
                fault,
                brought_new: false,
                check: None,
            })
        };
        if let Some(create) = b.first("create") {
            let old = replaced_by[i].map(|j| (j, &all[j]));
            let known_before = all.iter().any(|o| {
                o.name == b.name && o.start() < create.at && o.first("create").is_none_or(|c| c.id != create.id)
            });
            let replaced = old.is_some() || current.and_then(|c| c.previous.as_ref()).is_some_and(|_| known_before);
            if replaced {
                let old_create = old.and_then(|(_, o)| {
                    // The replaced container's own labels: from any event of it.
                    o.events
                        .iter()
                        .rev()
                        .find(|e| e.config_hash.is_some() || e.image_id.is_some())
                        .copied()
                        .or(o.events.first().copied())
                });
                let words = recreation_words(lang, old_create, create, current);
                // Said the same only as far as it was compared: without compose's config hash
                // (a container not made by compose), ports and mounts were not.
                let hashes = old_create.and_then(|o| o.config_hash.as_ref()).is_some() && create.config_hash.is_some();
                let summary = if words.is_empty() {
                    // A change, but nothing new: one of the container's lifecycle, as a restart.
                    nothing_new.push(create.at);
                    if hashes {
                        tr(lang, "recreated (same image and configuration)", "再作成（イメージ・構成は同じ）")
                    } else {
                        tr(lang, "recreated (same image and variables)", "再作成（イメージ・変数は同じ）")
                    }
                } else {
                    tr(lang, format!("recreated with {}", words.join(", ")), format!("{}で再作成", words.join("、")))
                };
                push(create.at, Kind::Recreated, summary, true, false);
            } else {
                push(create.at, Kind::Created, tr(lang, "created", "作成"), false, false);
            }
            // Its first start, and a first `healthy`, are part of coming up.
            self_faults(b, lang, &mut push, true);
            continue;
        }
        if b.has("restart") {
            let code = b.exit_code();
            push(
                b.start(),
                Kind::Restarted,
                tr(
                    lang,
                    format!("restarted by hand (docker restart or compose restart; {})", exit_words(lang, code)),
                    format!("手動で再起動（docker restart または compose restart、{}）", exit_words(lang, code)),
                ),
                true,
                false,
            );
            self_faults(b, lang, &mut push, false);
            continue;
        }
        if b.has("destroy") {
            push(
                b.end(),
                Kind::Removed,
                tr(
                    lang,
                    format!("removed (docker compose down or docker rm; {})", exit_words(lang, b.exit_code())),
                    format!("削除（docker compose down または docker rm、{}）", exit_words(lang, b.exit_code())),
                ),
                true,
                false,
            );
            continue;
        }
        if b.has("stop") {
            let again = b.events.iter().skip_while(|e| e.action != "stop").any(|e| e.action == "start");
            let code = exit_words(lang, b.exit_code());
            let (kind, en, ja) = if again {
                (
                    Kind::Restarted,
                    format!("stopped and started again by hand ({code})"),
                    format!("手動で停止・再起動（{code}）"),
                )
            } else {
                (
                    Kind::Stopped,
                    format!("stopped (docker stop or compose stop; {code})"),
                    format!("停止（docker stop または compose stop、{code}）"),
                )
            };
            push(b.start(), kind, tr(lang, en, ja), true, false);
            self_faults(b, lang, &mut push, false);
            continue;
        }
        if let Some(k) = b.first("kill").filter(|_| !b.has("oom")) {
            let sig = k.signal.clone().unwrap_or_else(|| "?".into());
            push(
                k.at,
                Kind::Killed,
                tr(
                    lang,
                    format!("killed with signal {sig} (docker kill); {}", exit_words(lang, b.exit_code())),
                    format!("シグナル {sig} で強制終了（docker kill）、{}", exit_words(lang, b.exit_code())),
                ),
                true,
                false,
            );
            continue;
        }
        self_faults(b, lang, &mut push, false);
    }
    // The first and latest matching log line of each failing check, by container.
    for code in failing {
        for c in f.containers.iter().filter_map(|l| l.container.as_ref()) {
            let Some(logs) = &c.logs else { continue };
            let service = service_of(f, &c.name, None);
            let hits: Vec<_> = logs.hits.iter().filter(|h| h.code == *code).collect();
            let first = hits
                .iter()
                .filter_map(|h| h.first_at.as_deref().and_then(crate::clock::parse_rfc3339))
                .reduce(f64::min);
            let last = hits
                .iter()
                .filter_map(|h| h.last_at.as_deref().and_then(crate::clock::parse_rfc3339).map(|t| (t, h)))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            let mut push = |at: f64, kind: Kind, summary: String| {
                entries.push(Entry {
                    at: crate::clock::rfc3339(at as i64),
                    at_unix: at,
                    service: service.clone(),
                    container: c.name.clone(),
                    kind,
                    summary,
                    change: false,
                    fault: true,
                    brought_new: false,
                    check: Some(code.to_string()),
                })
            };
            if let Some(t) = first {
                push(
                    t,
                    Kind::FirstError,
                    tr(
                        lang,
                        format!("first {} error line in the last {} of its logs", *code, secs(logs.since_s as f64)),
                        format!("直近 {} のログで最初の {} エラー行", secs(logs.since_s as f64), *code),
                    ),
                );
            }
            if let Some((t, h)) = last.filter(|(t, _)| first.is_none_or(|f| *t > f)) {
                push(
                    t,
                    Kind::LatestError,
                    tr(
                        lang,
                        format!("latest {} error line: {}", *code, h.sample),
                        format!("最新の {} エラー行: {}", *code, h.sample),
                    ),
                );
            }
        }
    }
    for e in entries.iter_mut().filter(|e| e.kind == Kind::Recreated) {
        e.brought_new = !nothing_new.contains(&e.at_unix);
    }
    entries.sort_by(|a, b| a.at_unix.total_cmp(&b.at_unix));
    Timeline { since_s: log.since_s, entries, unavailable: None, truncated: log.truncated }
}

/// What a burst says beyond a person's action: an exit (and a restart by policy), OOM kills,
/// health turning bad or good again. `coming_up`: the burst began with its creation, so a
/// first start and a first `healthy` say nothing more.
fn self_faults(b: &Burst, lang: Lang, push: &mut impl FnMut(f64, Kind, String, bool, bool), coming_up: bool) {
    let by_hand = b.has("stop") || b.has("restart") || b.has("kill") || b.has("destroy");
    if let Some(o) = b.first("oom") {
        let n = b.events.iter().filter(|e| e.action == "oom").count();
        push(
            o.at,
            Kind::OomKilled,
            tr(lang, format!("OOM kill ({n} events)"), format!("OOM Kill（イベント {n} 件）")),
            false,
            true,
        );
    }
    if !by_hand && let Some(d) = b.first("die") {
        let restarted = b.events.iter().any(|e| e.action == "start" && e.at > d.at);
        let code = exit_words(lang, d.exit_code);
        let (en, ja) = if restarted {
            (
                format!("exited ({code}) and was restarted by its restart policy"),
                format!("終了（{code}）、再起動ポリシーで再起動"),
            )
        } else {
            (format!("exited ({code})"), format!("終了（{code}）"))
        };
        push(d.at, Kind::Exited, tr(lang, en, ja), false, d.exit_code != Some(0) || !restarted);
    } else if !coming_up
        && !by_hand
        && let Some(s) = b.first("start")
    {
        push(
            s.at,
            Kind::Started,
            tr(lang, "started (docker start or compose up)", "起動（docker start または compose up）"),
            false,
            false,
        );
    }
    if b.has("pause") {
        push(b.start(), Kind::Paused, tr(lang, "paused (docker pause)", "一時停止（docker pause）"), true, false);
    }
    if b.has("unpause") {
        push(b.end(), Kind::Unpaused, tr(lang, "unpaused", "一時停止を解除"), false, false);
    }
    // Health: each turn to unhealthy, and healthy again after it.
    let mut was_unhealthy = false;
    for e in b.events.iter().filter(|e| e.action == "health_status") {
        match e.health.as_deref() {
            Some("unhealthy") if !was_unhealthy => {
                was_unhealthy = true;
                push(
                    e.at,
                    Kind::Unhealthy,
                    tr(lang, "health check failing (unhealthy)", "ヘルスチェック失敗（unhealthy）"),
                    false,
                    true,
                );
            }
            Some("healthy") if was_unhealthy => {
                was_unhealthy = false;
                push(e.at, Kind::Healthy, tr(lang, "healthy again", "ヘルスチェック回復（healthy）"), false, false);
            }
            _ => {}
        }
    }
}

/// The change that may explain a failing check about `roles`: the latest change of one of
/// them before its first error line (any change, when no error line has a time), in words.
pub fn what_changed<'a>(
    t: &'a Timeline,
    roles: &[String],
    code: &str,
    lang: Lang,
    now: f64,
) -> Option<(String, &'a Entry)> {
    let first_error = t
        .entries
        .iter()
        .filter(|e| e.kind == Kind::FirstError && e.check.as_deref() == Some(code))
        .map(|e| e.at_unix)
        .reduce(f64::min);
    let change = t
        .entries
        .iter()
        .filter(|e| e.change && roles.contains(&e.service))
        .filter(|e| first_error.is_none_or(|f| e.at_unix <= f + 1.0))
        .max_by(|a, b| a.at_unix.total_cmp(&b.at_unix))?;
    let ago = secs((now - change.at_unix).max(0.0));
    let before = first_error.map(|f| secs((f - change.at_unix).max(0.0)));
    let said = match (lang, before) {
        (Lang::En, Some(b)) => format!(
            "what changed: {} {} at {} UTC ({ago} ago), {b} before the first {code} error line",
            change.service,
            change.summary,
            hhmm(change.at_unix)
        ),
        (Lang::En, None) => {
            format!("what changed: {} {} at {} UTC ({ago} ago)", change.service, change.summary, hhmm(change.at_unix))
        }
        (Lang::Ja, Some(b)) => format!(
            "直近の変更: {} {}（{} UTC、{ago} 前。最初の {code} エラー行の {b} 前）",
            change.service,
            change.summary,
            hhmm(change.at_unix)
        ),
        (Lang::Ja, None) => {
            format!("直近の変更: {} {}（{} UTC、{ago} 前）", change.service, change.summary, hhmm(change.at_unix))
        }
    };
    Some((said, change))
}

/// Causes a container's lifecycle explains (it stopped, restarted, was removed): a restart by
/// hand says something of these, not of a missing database or a slow query.
const LIFECYCLE_CAUSES: &[&str] = &[
    "container-stopped",
    "container-missing",
    "container-exited",
    "restart-loop",
    "server-restarted",
    "frontend-down",
    "refresh-missing",
];

/// Whether `change` may explain the cause `id`: a recreation that brought something new may
/// explain anything about its service; any other change only its lifecycle's causes.
pub fn explains(change: &Entry, id: &str) -> bool {
    change.brought_new || LIFECYCLE_CAUSES.contains(&id)
}

/// The notable entries as short clauses for the first screen ("02:10 user-api recreated with a
/// new image"), the newest `max`, oldest first.
pub fn short_lines(t: &Timeline, max: usize) -> Vec<String> {
    let notable: Vec<&Entry> = t.notable().collect();
    let skip = notable.len().saturating_sub(max);
    notable[skip..].iter().map(|e| format!("{} {} {}", hhmm(e.at_unix), e.service, e.summary)).collect()
}

/// `HH:MM` (UTC) of the oldest notable entry.
pub fn since(t: &Timeline) -> Option<String> {
    t.notable().next().map(|e| hhmm(e.at_unix))
}

#[cfg(test)]
mod tests;

/// Builds the report's timeline from the run's Docker facts and puts "what changed" first in
/// the evidence of each failing check whose services changed before its errors began.
pub fn attach(report: &mut crate::report::Report, docker: &DockerFacts, stack: Option<&crate::stack::Stack>) {
    use crate::report::{Status, Verdict};
    let lang = report.lang;
    let mut failing: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !matches!(c.status, Status::Ok | Status::Skipped))
        .map(|c| c.code.as_str())
        .collect();
    failing.sort_unstable();
    failing.dedup();
    let mut t = build(docker, &failing, lang);
    let now = crate::clock::parse_rfc3339(&report.started_at).unwrap_or_else(crate::clock::now_unix);
    if let Some(stack) = stack {
        for c in report.checks.iter_mut().filter(|c| !matches!(c.status, Status::Ok | Status::Skipped)) {
            let roles = crate::stack::commands::check_roles(c, stack);
            let Some((said, change)) = what_changed(&t, &roles, &c.code, lang, now) else { continue };
            let confirmed = c.causes.iter().any(|k| k.verdict == Verdict::Confirmed);
            let want = if confirmed { Verdict::Confirmed } else { Verdict::Suspected };
            let mut told = false;
            for k in c.causes.iter_mut().filter(|k| k.verdict == want && explains(change, &k.id)) {
                let sep = if lang == Lang::Ja { "。" } else { "; " };
                k.evidence = if k.evidence.is_empty() { said.clone() } else { format!("{said}{sep}{}", k.evidence) };
                told = true;
            }
            if told {
                c.evidence.insert("what_changed".into(), serde_json::Value::String(said));
            }
        }
    }
    // A disk that fills has no event of its own: DK003's measure joins the timeline as of now.
    for c in
        report.checks.iter().filter(|c| c.code == "DK003" && matches!(c.status, Status::Warning | Status::Critical))
    {
        t.entries.push(Entry {
            at: crate::clock::rfc3339(now as i64),
            at_unix: now,
            service: tr(lang, "engine", "エンジン"),
            container: String::new(),
            kind: Kind::DiskNearlyFull,
            summary: tr(lang, format!("measured now: {}", c.summary), format!("今回の測定: {}", c.summary)),
            change: false,
            fault: true,
            brought_new: false,
            check: None,
        });
    }
    report.timeline = Some(t);
}
