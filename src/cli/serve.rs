//! `doctor serve --listen ADDR [--interval 30s]`: `/metrics` (the `--format prometheus` text
//! plus `doctor_runs_total`) and `/healthz` (200 when the run's exit code is 0, else 503, with a
//! short JSON body), both from one cached run of `doctor all`. A request that finds the cache
//! older than the interval runs the checks while holding the cache's lock, so concurrent
//! requests wait for that one run and share it: the checks never run more often than the
//! interval allows, however many requests come. Minimal HTTP/1.1 on tokio (GET and HEAD, one
//! request per connection, bounded reads): nothing of a full server is needed to answer a
//! scraper, and no dependency is added for it. Read-only like every run; binds to 127.0.0.1
//! unless told otherwise.

use super::{check, err};
use crate::config::{Settings, parse_duration};
use crate::lang::tr;
use crate::problems::Ctx;
use crate::render;
use crate::run::{self, Area};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::time::Instant;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9797";

/// One run, rendered for both endpoints.
struct Cached {
    at: Instant,
    metrics: String,
    health_ok: bool,
    health: String,
}

struct State {
    settings: Settings,
    interval: Duration,
    cache: Mutex<Option<Arc<Cached>>>,
    runs: AtomicU64,
}

/// `ADDR` as `HOST:PORT`, `:PORT` or `PORT`; a bare port binds to 127.0.0.1.
pub fn listen_addr(text: &str) -> Result<SocketAddr, String> {
    let t = text.trim();
    let full = if let Some(p) = t.strip_prefix(':') {
        format!("127.0.0.1:{p}")
    } else if t.parse::<u16>().is_ok() {
        format!("127.0.0.1:{t}")
    } else {
        t.to_string()
    };
    full.parse().map_err(|_| format!("--listen {text:?}: write HOST:PORT (an IP address), :PORT or PORT"))
}

pub fn run(s: &Settings, listen: &str, interval: &str) -> i32 {
    let (addr, interval) = match (listen_addr(listen), parse_duration(interval)) {
        (Ok(a), Ok(i)) if !i.is_zero() => (a, i),
        (Err(e), _) => return usage(&e),
        (_, Err(e)) => return usage(&format!("--interval: {e}")),
        (_, Ok(_)) => return usage("--interval must be more than 0s"),
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return usage(&format!("cannot start the async runtime: {e}")),
    };
    rt.block_on(async {
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => return usage(&format!("--listen {addr}: {e}")),
        };
        let bound = listener.local_addr().unwrap_or(addr);
        let every = crate::config::format_duration(interval);
        err(&tr(
            s.lang,
            format!("doctor serves http://{bound}/metrics and /healthz; the checks run at most every {every}"),
            format!("doctor は http://{bound}/metrics と /healthz を提供する。チェックの実行は最短でも {every} 間隔"),
        ));
        let state = Arc::new(State { settings: s.clone(), interval, cache: Mutex::new(None), runs: AtomicU64::new(0) });
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let state = state.clone();
            tokio::spawn(async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(5) + state.settings.timeout * 3, answer(stream, &state))
                        .await;
            });
        }
    })
}

fn usage(e: &str) -> i32 {
    err(e);
    3
}

/// The cached run, or a new one when the cache is older than the interval.
async fn current(state: &State) -> Arc<Cached> {
    let mut cache = state.cache.lock().await;
    if let Some(c) = cache.as_ref().filter(|c| c.at.elapsed() < state.interval) {
        return c.clone();
    }
    let fresh = Arc::new(run_once(state).await);
    *cache = Some(fresh.clone());
    fresh
}

async fn run_once(state: &State) -> Cached {
    let s = &state.settings;
    let (command, req) = check::request(&check::Target::All).unwrap_or_else(|_| ("all".into(), Default::default()));
    let started_at = run::rfc3339(SystemTime::now());
    let t = Instant::now();
    let mut facts = run::gather(s, &req).await;
    facts.command = command.clone();
    let areas: Vec<Area> = req.areas.clone();
    let ctx = Ctx { thresholds: s.thresholds.clone() };
    let report = check::finish(s, &ctx, &facts, &areas, &command, started_at, crate::probe::ms(t.elapsed()));
    let runs = state.runs.fetch_add(1, Ordering::SeqCst) + 1;
    let mut metrics = render::prometheus::report(&report);
    metrics.push_str(&format!(
        "# HELP doctor_runs_total Runs of the checks since doctor serve started.\n\
         # TYPE doctor_runs_total counter\ndoctor_runs_total {runs}\n"
    ));
    let health = serde_json::json!({
        "status": report.status.name(),
        "exit_code": report.exit_code,
        "checked_at": report.started_at,
        "runs": runs,
    })
    .to_string();
    Cached { at: Instant::now(), metrics, health_ok: report.exit_code == 0, health: health + "\n" }
}

/// Reads one request (its head only, at most 8 KiB, within 5 s) and answers it.
async fn answer(mut stream: TcpStream, state: &State) {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    };
    if !matches!(tokio::time::timeout(Duration::from_secs(5), read).await, Ok(true)) {
        return;
    }
    let line = String::from_utf8_lossy(&head);
    let mut parts = line.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, kind, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let c = current(state).await;
            ("200 OK", "text/plain; version=0.0.4; charset=utf-8", c.metrics.clone())
        }
        ("GET" | "HEAD", "/healthz") => {
            let c = current(state).await;
            let status = if c.health_ok { "200 OK" } else { "503 Service Unavailable" };
            (status, "application/json", c.health.clone())
        }
        ("GET" | "HEAD", _) => ("404 Not Found", "text/plain; charset=utf-8", "/metrics or /healthz\n".to_string()),
        _ => ("405 Method Not Allowed", "text/plain; charset=utf-8", "GET or HEAD only\n".to_string()),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        out.extend_from_slice(body.as_bytes());
    }
    let _ = stream.write_all(&out).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_port_binds_to_loopback() {
        assert_eq!(listen_addr("9797").unwrap().to_string(), "127.0.0.1:9797");
        assert_eq!(listen_addr(":9100").unwrap().to_string(), "127.0.0.1:9100");
        assert_eq!(listen_addr("0.0.0.0:9797").unwrap().to_string(), "0.0.0.0:9797");
        assert_eq!(listen_addr("[::1]:80").unwrap().to_string(), "[::1]:80");
        assert!(listen_addr("localhost:80").is_err());
    }
}
