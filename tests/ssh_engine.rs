//! `DOCKER_HOST=ssh://…` for real: an sshd of the test's own on loopback (tests/support/sshd.rs),
//! whose `docker` is this machine's client talking to the lab's engine, so doctor reaches the
//! engine through `ssh … docker system dial-stdio` as the docker CLI does. Also: a port where no
//! sshd listens is an engine doctor could not reach, with ssh's reason, and nothing doctor
//! started (ssh sessions, its private socket directory) outlives it.

mod support;

use serde_json::Value;
use support::report::check;
use support::sshd::Sshd;
use support::{doctor, run};

fn doctor_over(path: &str, tmp: &std::path::Path, host: &str, args: &[&str]) -> support::Output {
    let (mut cmd, _d) = doctor();
    cmd.env("PATH", path).env("TMPDIR", tmp).env("DOCKER_HOST", host).args(args).args(["--timeout", "8s"]);
    let out = run(&mut cmd);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out
}

/// What doctor left in its temp dir, and the processes still naming it.
fn leftovers(tmp: &std::path::Path) -> (Vec<String>, Vec<String>) {
    std::thread::sleep(std::time::Duration::from_millis(300));
    let files =
        std::fs::read_dir(tmp).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    let ps = std::process::Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let needle = tmp.display().to_string();
    let procs =
        String::from_utf8_lossy(&ps.stdout).lines().filter(|l| l.contains(&needle)).map(str::to_string).collect();
    (files, procs)
}

#[test]
fn docker_host_over_ssh_reaches_the_engine_and_leaves_nothing_behind() {
    let Some(_lab) = support::lab::Lab::new() else { return };
    let Some(sshd) = Sshd::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let host = format!("ssh://root@127.0.0.1:{}", sshd.port);
    let out = doctor_over(&sshd.client_path(), tmp.path(), &host, &["docker", "--format", "json"]);
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}\nsshd: {}", out.stdout, out.stderr, sshd.log()));
    let dk = check(&v, "DK001");
    assert_eq!(dk["status"], "ok", "{dk:#}\nsshd: {}", sshd.log());
    assert_eq!(dk["evidence"]["host"], host.as_str(), "{dk:#}");
    assert_eq!(dk["evidence"]["engine_source"], "docker-host", "{dk:#}");
    assert!(dk["summary"].as_str().unwrap().contains(&host), "{dk:#}");
    let (files, procs) = leftovers(tmp.path());
    assert!(files.is_empty(), "doctor's private directory outlived it: {files:?}");
    assert!(procs.is_empty(), "ssh sessions outlived doctor: {procs:?}");

    // The table says so too, in one run's words.
    let out = doctor_over(&sshd.client_path(), tmp.path(), &host, &["docker"]);
    assert!(out.stdout.contains(&host), "{}", out.stdout);
}

#[test]
fn an_ssh_engine_nobody_answers_is_unreachable_with_ssh_s_reason() {
    let Some(sshd) = Sshd::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // A port nothing listens on: ssh says the connection was refused.
    let host = format!("ssh://root@127.0.0.1:{}", support::free_port());
    let out = doctor_over(&sshd.client_path(), tmp.path(), &host, &["docker", "--format", "json"]);
    assert_ne!(out.code, 3, "a usable address that fails is a finding, not a setting doctor lacks: {}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    let dk = check(&v, "DK001");
    assert_eq!(dk["status"], "critical", "{dk:#}");
    let msg = dk["evidence"]["message"].as_str().unwrap_or_default();
    assert!(msg.starts_with("ssh: ") && msg.to_lowercase().contains("connection refused"), "{dk:#}");
    let (files, procs) = leftovers(tmp.path());
    assert!(files.is_empty() && procs.is_empty(), "{files:?} {procs:?}");
}
