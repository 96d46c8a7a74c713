//! doctor's own PostgreSQL logins, so that its refused ones are not read back as symptoms.
//! PostgreSQL logs `password authentication failed for user "…"` before it knows the session's
//! `application_name` (`app=[unknown]`), so a line cannot say it was doctor's: only its time and
//! user can. Every attempt of this run is kept in memory from before it is sent (the line may be
//! logged while the logs are being read), and a refused one is appended to a small record under
//! the user's state directory (`$XDG_STATE_HOME/doctor/`, else `~/.local/state/doctor/`) so that
//! the next runs, for as long as their log window reaches back, leave it out too. The record holds
//! a time and a user name per line, never a password; it is on the machine doctor runs on, not on
//! anything diagnosed, and any error writing or reading it is ignored (a read-only home loses only
//! this).

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// How long a refused login is remembered (longer than any sensible `--since`).
const KEEP_S: f64 = 24.0 * 3600.0;
/// The record is rewritten without its old lines once it grows past this.
const MAX_BYTES: u64 = 64 * 1024;

/// One login doctor tried: its user and when (seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwnLogin {
    pub user: String,
    pub at: f64,
}

/// This run's logins and whether each was refused (`None` while it is under way).
static THIS_RUN: Mutex<Vec<(OwnLogin, Option<bool>)>> = Mutex::new(Vec::new());

/// doctor's own state directory: `$XDG_STATE_HOME/doctor/`, else `~/.local/state/doctor/`
/// (also where [`super::seen_containers`] keeps its record).
pub fn state_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".local/state"),
    };
    Some(base.join("doctor"))
}

fn record_path() -> Option<PathBuf> {
    Some(state_dir()?.join("refused-logins.jsonl"))
}

/// Called just before a login is sent.
pub fn attempting(user: &str) -> OwnLogin {
    let login = OwnLogin { user: user.to_string(), at: crate::clock::now_unix() };
    if let Ok(mut v) = THIS_RUN.lock() {
        // A long-lived process (`doctor serve`) forgets what no log window reaches.
        v.retain(|(l, _)| login.at - l.at < KEEP_S);
        v.push((login.clone(), None));
    }
    login
}

/// Called when a login's outcome is known: a refused one is remembered for the next runs; one
/// that was not refused can have caused no such line.
pub fn finished(login: &OwnLogin, was_refused: bool) {
    if let Ok(mut v) = THIS_RUN.lock()
        && let Some(entry) = v.iter_mut().find(|(l, done)| l == login && done.is_none())
    {
        entry.1 = Some(was_refused);
    }
    if was_refused {
        remember(login);
    }
}

fn remember(login: &OwnLogin) {
    let Some(path) = record_path() else { return };
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_BYTES) {
        let keep: String =
            read_record(&path).iter().filter_map(|l| serde_json::to_string(l).ok()).map(|l| l + "\n").collect();
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, keep).is_err() || std::fs::rename(&tmp, &path).is_err() {
            return;
        }
    }
    // One short line per append: concurrent runs do not interleave inside a line.
    if let (Ok(mut f), Ok(line)) =
        (std::fs::OpenOptions::new().create(true).append(true).open(&path), serde_json::to_string(login))
    {
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}

fn read_record(path: &std::path::Path) -> Vec<OwnLogin> {
    let now = crate::clock::now_unix();
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<OwnLogin>(l).ok())
        .filter(|l| now - l.at < KEEP_S)
        .collect()
}

/// Every login of doctor's that a refused-password line may show: this run's refused ones and
/// those still under way, and the refused ones of earlier runs.
pub fn known() -> Vec<OwnLogin> {
    // The record is read once per process (every container's log scan asks); what this run adds
    // to it is in THIS_RUN already.
    static EARLIER: std::sync::OnceLock<Vec<OwnLogin>> = std::sync::OnceLock::new();
    let mut v = EARLIER.get_or_init(|| record_path().map(|p| read_record(&p)).unwrap_or_default()).clone();
    if let Ok(this) = THIS_RUN.lock() {
        v.extend(this.iter().filter(|(_, refused)| *refused != Some(false)).map(|(l, _)| l.clone()));
    }
    v.dedup();
    v
}
