//! `doctor serve` for real: a server started on a free loopback port, asked by many clients at
//! once. The checks run at most once per `--interval` however many requests come (the
//! `doctor_runs_total` counter of `/metrics` against the time elapsed), every `/metrics` body
//! reads as strict exposition text (the same reader as the format's unit tests), and `/healthz`
//! follows the run's exit code: 200 for a healthy live Redis, 503 when a check fails.

mod support;

#[path = "../src/render/prometheus_parse.rs"]
#[allow(dead_code)]
mod prometheus_parse;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::RedisServer;

struct Serve {
    child: Child,
    port: u16,
    _cwd: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(env: &[(&str, &str)], args: &[&str]) -> Serve {
    let (mut cmd, cwd) = support::doctor();
    let port = support::free_port();
    let listen = format!("127.0.0.1:{port}");
    cmd.envs(env.iter().copied())
        .args(["serve", "--listen", &listen, "--no-docker", "--timeout", "3s"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("start doctor serve");
    let s = Serve { child, port, _cwd: cwd };
    let until = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "doctor serve did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    s
}

/// One HTTP/1.1 GET: (status code, body).
fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head: {text:?}"));
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let len: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .expect("Content-Length");
    assert_eq!(body.len(), len, "{head}");
    (code, body.to_string())
}

fn runs_total(metrics: &str) -> f64 {
    let samples = prometheus_parse::parse(metrics).unwrap_or_else(|e| panic!("{e}\n{metrics}"));
    samples.iter().find(|s| s.name == "doctor_runs_total").map(|s| s.value).expect("doctor_runs_total")
}

#[test]
fn under_load_the_checks_run_no_more_often_than_the_interval() {
    let Some(r) = RedisServer::start(&[]) else { return };
    let url = r.url();
    let s = serve(&[("REDIS_URL", &url)], &["--interval", "1s", "--only", "RD001,RD002"]);
    let started = Instant::now();
    // 200 requests from 20 clients over about three seconds, both endpoints.
    let clients: Vec<_> = (0..20)
        .map(|i| {
            let port = s.port;
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                for j in 0..10 {
                    let path = if (i + j) % 3 == 0 { "/healthz" } else { "/metrics" };
                    seen.push((path, get(port, path)));
                    std::thread::sleep(Duration::from_millis(300));
                }
                seen
            })
        })
        .collect();
    let answers: Vec<_> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    let (code, last) = get(s.port, "/metrics");
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(answers.len(), 200);
    for (path, (code, body)) in &answers {
        if *path == "/metrics" {
            assert_eq!(*code, 200, "{body}");
            runs_total(body);
        } else {
            assert_eq!(*code, 200, "a healthy Redis, RD001 and RD002 only: {body}");
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
            assert_eq!((v["status"].as_str(), v["exit_code"].as_i64()), (Some("ok"), Some(0)), "{v}");
        }
    }
    assert_eq!(code, 200);
    let runs = runs_total(&last);
    assert!(runs >= 2.0, "the cache is refreshed once older than the interval: {runs} runs in {elapsed:.1}s");
    assert!(runs <= (elapsed / 1.0).floor() + 1.0, "{runs} runs in {elapsed:.1}s with --interval 1s");
    let samples = prometheus_parse::parse(&last).unwrap();
    let rd001 = samples
        .iter()
        .find(|x| x.name == "doctor_check_status" && x.labels.get("code").map(String::as_str) == Some("RD001"));
    assert_eq!(rd001.map(|x| x.value), Some(0.0), "{last}");
    // Serving is reading: only read-only commands reached Redis.
    r.assert_only_commands(&RedisServer::read_only_commands());
}

#[test]
fn healthz_is_503_when_a_check_fails_and_unknown_paths_are_404() {
    // Nothing listens where REDIS_URL points: RD001 is critical.
    let url = format!("redis://127.0.0.1:{}", support::free_port());
    let s = serve(&[("REDIS_URL", &url)], &["--interval", "1h", "--only", "RD001"]);
    let (code, body) = get(s.port, "/healthz");
    assert_eq!(code, 503, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "critical", "{v}");
    assert_ne!(v["exit_code"], 0, "{v}");
    assert_eq!(get(s.port, "/nothing").0, 404);
    let (code, m) = get(s.port, "/metrics");
    assert_eq!((code, runs_total(&m)), (200, 1.0), "one run serves both endpoints within the interval");
}

#[test]
fn a_listen_address_doctor_cannot_use_is_a_usage_error() {
    let (mut cmd, _d) = support::doctor();
    cmd.args(["serve", "--listen", "localhost:80", "--no-docker"]);
    let out = support::run(&mut cmd);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("--listen"), "{}", out.stderr);
}
