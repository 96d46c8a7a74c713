//! No ok without evidence, for real: doctor run against nothing at all (dead ports, with and
//! without the engine, containers that do not exist), against sockets that accept and never
//! answer under a too-short `--timeout`, and `--wait` ending both ways against a real Redis.

mod support;

use std::net::TcpListener;
use std::time::Duration;
use support::report::{json, status};
use support::{RedisServer, doctor, run};

/// A port nothing listens on (bound once, then released).
fn dead_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A port that accepts connections and never says a word.
fn silent_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

/// A doctor.toml naming every role with a container that does not exist and an address
/// where nothing answers.
fn nothing_there() -> String {
    let mut toml = String::new();
    for (role, scheme) in [
        ("postgres", "postgresql://postgres@"),
        ("redis", "redis://"),
        ("auth-service", "http://"),
        ("user-api", "http://"),
        ("admin-api", "http://"),
        ("user-frontend", "http://"),
        ("admin-frontend", "http://"),
    ] {
        let path = if role == "postgres" { "/authdb" } else { "" };
        toml.push_str(&format!(
            "[services.{role}]\ncontainer = \"doctor-absent-{}-{role}\"\nurl = \"{scheme}127.0.0.1:{}{path}\"\n\n",
            std::process::id(),
            dead_port()
        ));
    }
    toml
}

/// Checks another change is reworking (they still pass on nothing): reported, not asserted.
const BEING_REWORKED: &[&str] = &[];

fn oks(v: &serde_json::Value) -> Vec<String> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "ok")
        .map(|c| format!("{} ({})", c["code"].as_str().unwrap(), c["summary"].as_str().unwrap()))
        .collect()
}

fn engine_answers() -> bool {
    std::os::unix::net::UnixStream::connect("/var/run/docker.sock").is_ok()
}

#[test]
fn nothing_running_and_no_engine_gives_no_ok() {
    let (mut cmd, dir) = doctor();
    std::fs::write(dir.path().join("doctor.toml"), nothing_there()).unwrap();
    let out = run(cmd.args(["all", "--no-docker", "--timeout", "2s", "--format", "json"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    let v = json(&out);
    let wrong: Vec<String> = oks(&v).into_iter().filter(|o| !BEING_REWORKED.iter().any(|c| o.starts_with(c))).collect();
    assert!(wrong.is_empty(), "ok with nothing running and no engine: {wrong:?}");
    for code in ["NET001", "NET002", "PERF002", "DK001", "DK002"] {
        assert_eq!(status(&v, code), "skipped", "{code}");
    }
}

#[test]
fn an_engine_with_none_of_the_containers_gives_no_ok_but_its_own() {
    if !engine_answers() {
        eprintln!("skipped: no Docker engine at /var/run/docker.sock");
        return;
    }
    for lang in ["en", "ja"] {
        let (mut cmd, dir) = doctor();
        std::fs::write(dir.path().join("doctor.toml"), nothing_there()).unwrap();
        let out = run(cmd.env("DOCTOR_LANG", lang).args(["all", "--timeout", "3s", "--format", "json"]));
        assert_eq!(out.code, 2, "{}", out.stderr);
        let v = json(&out);
        // The engine itself answered: DK001 saw it, and says what it found. DK003 reads the
        // engine's own disk, which needs no container of the stack (a full disk may be why none
        // starts): it may pass, naming the data root it measured.
        assert_eq!(status(&v, "DK001"), "ok");
        if status(&v, "DK003") == "ok" {
            let summary = support::report::check(&v, "DK003")["summary"].as_str().unwrap().to_string();
            assert!(
                summary.contains(if lang == "en" { "data root" } else { "データルート" }),
                "{lang} DK003: {summary}"
            );
        }
        let wrong: Vec<String> = oks(&v)
            .into_iter()
            .filter(|o| {
                !o.starts_with("DK001") && !o.starts_with("DK003") && !BEING_REWORKED.iter().any(|c| o.starts_with(c))
            })
            .collect();
        assert!(wrong.is_empty(), "{lang}: ok with no container of the stack: {wrong:?}");
        for code in ["NET001", "NET002", "PERF002"] {
            assert_eq!(status(&v, code), "skipped", "{lang} {code}");
            let summary = support::report::check(&v, code)["summary"].as_str().unwrap().to_string();
            let says =
                if lang == "en" { "no container of the stack" } else { "スタックのコンテナが 1 つも" };
            assert!(summary.contains(says), "{lang} {code}: {summary}");
        }
    }
}

/// Sockets that accept and never answer: at 100ms that silence is the timeout's, and doctor
/// says so; at 1s it is a server that hangs, a critical.
#[test]
fn silence_under_a_too_short_timeout_is_unknown_not_critical() {
    let (pg, rd) = (silent_port(), silent_port());
    let args = |t: &'static str| {
        let (mut cmd, dir) = doctor();
        cmd.env("DATABASE_URL", format!("postgresql://postgres:pw@127.0.0.1:{pg}/authdb"))
            .env("REDIS_URL", format!("redis://127.0.0.1:{rd}"))
            .args(["all", "--only", "PG001,RD001", "--no-docker", "--format", "json", "--timeout", t]);
        (cmd, dir)
    };
    let (mut short, _d) = args("100ms");
    let out = run(&mut short);
    let v = json(&out);
    for code in ["PG001", "RD001"] {
        assert_eq!(status(&v, code), "unknown", "{code}: {}", out.stdout);
        let summary = support::report::check(&v, code)["summary"].as_str().unwrap().to_string();
        assert!(
            summary.contains("no answer within the 100ms timeout, too short to judge: try --timeout 5s"),
            "{summary}"
        );
    }
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("--timeout 100ms is too short to judge"), "{}", out.stderr);
    let (mut sane, _d) = args("1s");
    let out = run(&mut sane);
    let v = json(&out);
    assert_eq!(status(&v, "PG001"), "critical", "{}", out.stdout);
    assert_eq!(status(&v, "RD001"), "critical", "{}", out.stdout);
    assert!(!out.stderr.contains("too short"), "{}", out.stderr);
}

/// `--wait` says how it ended, on stderr, last: ready against a live Redis, gave up against a
/// dead port, naming what it still waits for.
#[test]
fn wait_ends_with_ready_or_gave_up() {
    let Some(r) = RedisServer::start(&[]) else { return };
    for (lang, ready, gave_up) in [("en", "ready after", "gave up after"), ("ja", "後に準備完了", "待って打ち切り")]
    {
        let (mut cmd, _d) = doctor();
        let out = run(cmd.env("DOCTOR_LANG", lang).args(["redis", "--no-docker", "--url", &r.url(), "--wait", "5s"]));
        let last = out.stderr.trim_end().lines().last().unwrap_or_default().to_string();
        assert!(last.contains(ready), "{lang}: {}", out.stderr);
        assert!(last.contains(if lang == "en" { "(1 run)" } else { "実行 1 回" }), "{lang}: {last}");

        let (mut cmd, _d) = doctor();
        let url = format!("redis://127.0.0.1:{}", dead_port());
        let out = support::run_with_timeout(
            cmd.env("DOCTOR_LANG", lang).args(["redis", "--no-docker", "--url", &url, "--wait", "3s"]),
            Duration::from_secs(30),
        );
        assert_eq!(out.code, 2, "{}", out.stderr);
        let last = out.stderr.trim_end().lines().last().unwrap_or_default().to_string();
        assert!(last.contains(gave_up) && last.contains("RD001 ("), "{lang}: {}", out.stderr);
    }
}

/// A wait that ends on checks that could not tell is not "ready".
#[test]
fn a_wait_that_ends_on_unknown_checks_is_not_ready() {
    let url = format!("redis://127.0.0.1:{}", silent_port());
    let (mut cmd, _d) = doctor();
    let out = run(cmd.args(["redis", "--no-docker", "--url", &url, "--timeout", "100ms", "--wait", "3s"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    let last = out.stderr.trim_end().lines().last().unwrap_or_default().to_string();
    assert!(last.contains("stopped waiting after") && last.contains("could not tell RD001 ("), "{}", out.stderr);
    assert!(!last.contains("ready"), "{last}");
}
