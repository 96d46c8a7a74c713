//! Container logs: the recent lines of each examined container scanned for the catalogue's
//! symptom lines ([`read_logs`]), and one container's raw log text for `doctor triage
//! --container` ([`log_text`]). Both bounded in time, size and lines.

use super::{DEFAULT_HOST, DockerError, DockerErrorKind, DockerProbeConfig, LogFacts, classify, connect};
use crate::clock;
use crate::probe::{error_chain, until};
use crate::redact;
use crate::triage;
use bollard::Docker;
use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::time::Instant;

const LOG_BYTES_CAP: usize = 4 << 20;

/// How many of an ended container's last lines are kept.
pub const LAST_LINES: usize = 5;
/// Lines asked of the engine for them (blank ones are dropped), and the size they may take.
const LAST_TAIL: usize = 40;
const LAST_BYTES_CAP: usize = 256 << 10;

/// The last [`LAST_LINES`] non-empty log lines of a container, whenever they were written (an
/// exited container's reason may be hours old), without Docker's timestamps, scrubbed, each
/// cut to 300 characters. Empty when nothing could be read in time.
pub(super) async fn last_lines(docker: &Docker, id: &str, deadline: Instant) -> Vec<String> {
    let opts = LogsOptionsBuilder::default().stdout(true).stderr(true).tail(&LAST_TAIL.to_string()).build();
    let mut stream = docker.logs(id, Some(opts));
    let mut text = String::new();
    loop {
        match until(deadline, stream.next()).await {
            Some(Some(Ok(chunk))) => {
                text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                if text.len() > LAST_BYTES_CAP {
                    break;
                }
            }
            // The end of the tail: its last lines are the ones that say why.
            Some(None) => break,
            // Cut short (the deadline, an error): what was read is the start of the tail, not
            // its end, and would show the wrong lines as the last ones.
            None | Some(Some(Err(_))) => return Vec::new(),
        }
    }
    tail_lines(&text)
}

/// Words that mark the line saying why a process ended.
fn says_why(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    ["error", "fatal", "panic", "exception", "traceback", "denied", "cannot", "failed"].iter().any(|w| l.contains(w))
}

/// The last non-empty lines of a log text, scrubbed and cut. When the last line that says why
/// (an error, a fatal, a panic) is not among them it comes first: a process's stdout is often
/// block-buffered and flushed at exit, after its stderr, so the reason (initdb's "directory
/// exists but is not empty") can sit above lines written earlier.
fn tail_lines(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(LAST_LINES);
    let mut picked: Vec<&str> = lines[start..].to_vec();
    if !picked.iter().any(|l| says_why(l))
        && let Some(why) = lines[..start].iter().rev().find(|l| says_why(l))
    {
        picked.remove(0);
        picked.insert(0, why);
    }
    picked
        .iter()
        .map(|l| {
            let l = redact::scrub(l);
            if l.chars().count() > 300 { l.chars().take(299).collect::<String>() + "…" } else { l }
        })
        .collect()
}

pub(super) async fn read_logs(docker: &Docker, id: &str, cfg: &DockerProbeConfig, deadline: Instant) -> LogFacts {
    let since = (clock::now_unix() as i64 - cfg.logs_since.as_secs() as i64).max(0);
    let opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .timestamps(true)
        .since(i32::try_from(since).unwrap_or(i32::MAX))
        .tail(&cfg.logs_tail.to_string())
        .build();
    let mut stream = docker.logs(id, Some(opts));
    let mut text = String::new();
    let mut error = None;
    loop {
        match until(deadline, stream.next()).await {
            None => {
                error = Some("stopped at the deadline".to_string());
                break;
            }
            Some(None) => break,
            Some(Some(Ok(chunk))) => {
                text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                if text.len() > LOG_BYTES_CAP {
                    error = Some("cut at 4 MB".to_string());
                    break;
                }
            }
            Some(Some(Err(e))) => {
                error = Some(redact::scrub(&error_chain(&e)));
                break;
            }
        }
    }
    // doctor's own logins are looked up now, not before: this run's may have been sent meanwhile.
    let limits = triage::Limits { own_logins: super::super::own_logins::known(), ..cfg.log_limits.clone() };
    let hits = triage::scan_with(text.lines(), &limits);
    LogFacts { since_s: cfg.logs_since.as_secs(), lines: text.lines().count() as u64, hits, error, last_lines: vec![] }
}

/// The recent log text of one container (for `doctor triage --container`), bounded in time and
/// size; lines carry Docker's timestamps.
pub async fn log_text(
    host: Option<&str>,
    tls: Option<&std::path::Path>,
    name: &str,
    since: Duration,
    tail: u32,
    timeout: Duration,
) -> Result<String, DockerError> {
    let deadline = Instant::now() + timeout;
    let host = host.filter(|h| !h.is_empty()).unwrap_or(DEFAULT_HOST);
    let docker = connect(host, timeout, tls)?;
    let since_unix = (clock::now_unix() as i64 - since.as_secs() as i64).max(0);
    let opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .timestamps(true)
        .since(i32::try_from(since_unix).unwrap_or(i32::MAX))
        .tail(&tail.to_string())
        .build();
    let mut stream = docker.logs(name, Some(opts));
    let mut text = String::new();
    loop {
        match until(deadline, stream.next()).await {
            None => break,
            Some(None) => break,
            Some(Some(Ok(chunk))) => {
                text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                if text.len() > LOG_BYTES_CAP {
                    break;
                }
            }
            Some(Some(Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }))) => {
                return Err(DockerError {
                    kind: DockerErrorKind::Other,
                    message: format!("no container named {name:?}"),
                });
            }
            Some(Some(Err(e))) => return Err(classify(&e, host)),
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_last_non_empty_lines_are_kept_scrubbed() {
        let text = "one\n\ntwo\nthree\n  \nfour\nPOSTGRES_PASSWORD=Zq3-last-line\ninitdb: error: directory \"/var/lib/postgresql/data\" exists but is not empty\n\n";
        let got = super::tail_lines(text);
        assert_eq!(got.len(), super::LAST_LINES);
        assert_eq!(got[0], "two");
        assert_eq!(got[3], "POSTGRES_PASSWORD=***");
        assert!(got[4].starts_with("initdb: error: directory"), "{got:?}");
        // The reason above later stdout lines is kept, first.
        let log = "initdb: error: directory \"/x\" exists but is not empty\nhint\na\nb\nc\nd\ne\n";
        let got = super::tail_lines(log);
        assert_eq!(got.len(), super::LAST_LINES);
        assert!(got[0].starts_with("initdb: error:"), "{got:?}");
        assert_eq!(got[1..], ["b", "c", "d", "e"]);
    }
}
