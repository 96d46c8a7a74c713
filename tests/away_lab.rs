//! doctor away from the engine's host, for real in the Docker lab. The engine is reached over
//! `tcp://` on the default bridge's gateway address (a socat relay to the engine's socket:
//! not loopback, so it stands for another host), as a remote engine or GitLab's dind would be.
//! The stack's Redis publishes its port on the engine host's loopback only, and user-api on
//! every address. doctor must aim the services at the engine's host, reach user-api there, and
//! say that Redis cannot be seen from here, instead of blaming the Redis URL (RD001) or a
//! firewall (NET002). Then the same from inside a container on the default bridge (doctor's
//! binary and the host's libraries mounted in), with that engine and with the engine's socket
//! mounted (a local engine, but no host network).

mod support;

use serde_json::Value;
use support::lab::{ContainerSpec, Image, Lab, image};
use support::report::check;
use support::{doctor, run};

struct Relay(std::process::Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bridge_gateway() -> String {
    let out = std::process::Command::new("docker")
        .args(["network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Gateway}}"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The engine's socket on `gateway:port` over plain TCP.
fn relay(gateway: &str, port: u16) -> Option<Relay> {
    let listen = format!("TCP-LISTEN:{port},bind={gateway},fork,reuseaddr");
    let child = std::process::Command::new("socat")
        .args([listen.as_str(), "UNIX-CONNECT:/var/run/docker.sock"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let r = Relay(child);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::net::TcpStream::connect((gateway, port)).is_err() {
        assert!(std::time::Instant::now() < until, "the relay did not listen on {gateway}:{port}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Some(r)
}

/// The lab's engine relayed over tcp on the default bridge's gateway (standing for another host),
/// a Redis published on that host's loopback only and a user-api published on all its
/// addresses: the lab, the relay (alive while it is held) and the engine's address.
fn away_stack(redis_password: &str) -> Option<(Lab, Relay, String)> {
    let lab = Lab::new()?;
    if !support::require_or_skip(
        "socat (the engine relayed on the bridge's gateway)",
        support::sshd::which("socat").is_some(),
    ) {
        return None;
    }
    let gateway = bridge_gateway();
    let port = support::free_port();
    let relay = relay(&gateway, port)?;
    lab.run(ContainerSpec {
        name: "redis".into(),
        image: image(Image::Redis),
        env: vec![("REDIS_PASSWORD".into(), redis_password.into())],
        publish: vec!["127.0.0.1:0:6379".into()],
        ..Default::default()
    });
    lab.run(ContainerSpec {
        name: "user-api".into(),
        image: image(Image::Busybox),
        publish: vec!["0:8000".into()],
        cmd: vec!["httpd".into(), "-f".into(), "-p".into(), "8000".into()],
        ..Default::default()
    });
    Some((lab, relay, format!("tcp://{gateway}:{port}")))
}

/// The doctor.toml that pins the away stack's two containers.
fn pins(lab: &Lab) -> String {
    format!(
        "[services.redis]\ncontainer = \"{}\"\n\n[services.user-api]\ncontainer = \"{}\"\n",
        lab.name("redis"),
        lab.name("user-api")
    )
}

fn json(out: &support::Output) -> Value {
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

fn blamed(v: &Value, code: &str) -> Vec<String> {
    check(v, code)["causes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| matches!(c["verdict"].as_str(), Some("confirmed" | "suspected")))
        .map(|c| c["id"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_remote_engine_aims_the_services_at_its_host_and_blames_no_url_or_firewall() {
    let Some((lab, _relay, engine)) = away_stack("Lab-Away-Redis-7c") else { return };
    let gateway = bridge_gateway();
    lab.wait_redis_ready("redis");
    let (cmd, dir) = doctor();
    std::fs::write(dir.path().join("doctor.toml"), pins(&lab)).unwrap();
    let doctor_at = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_doctor"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", "/nonexistent")
            .env("NO_COLOR", "1")
            .env("DOCTOR_LANG", "en")
            .env("DOCKER_HOST", &engine)
            .current_dir(dir.path())
            .args(args)
            .args(["--timeout", "4s"]);
        run(&mut cmd)
    };
    drop(cmd);

    let v = json(&doctor_at(&["redis", "--format", "json"]));
    let rd001 = check(&v, "RD001");
    assert_eq!(rd001["status"], "skipped", "{rd001:#}");
    assert!(rd001["summary"].as_str().unwrap().contains("not on the engine's host"), "{rd001:#}");
    assert!(rd001["summary"].as_str().unwrap().contains(&format!("the engine is {engine}")), "{rd001:#}");
    assert!(blamed(&v, "RD001").is_empty(), "{rd001:#}");
    assert!(!doctor_at(&["redis"]).combined().contains("Lab-Away-Redis-7c"));

    let v = json(&doctor_at(&["network", "--format", "json"]));
    let net002 = check(&v, "NET002");
    assert!(blamed(&v, "NET002").is_empty(), "{net002:#}");
    let reachable = net002["evidence"]["reachable"].to_string();
    assert!(reachable.contains(&lab.name("user-api")), "user-api reached on the engine's host: {net002:#}");

    let out = doctor_at(&["stack"]);
    assert!(
        out.stdout.contains(&format!("not on the engine's host: the engine is {engine}, on another host")),
        "{}",
        out.stdout
    );
    let st = json(&doctor_at(&["stack", "--format", "json"]));
    let api = st["services"].as_array().unwrap().iter().find(|m| m["role"] == "user-api").unwrap();
    assert!(api["host_url"].as_str().unwrap().starts_with(&format!("http://{gateway}:")), "{api:#}");
    assert_eq!(st["away"]["unseen"]["redis"].as_str().map(|b| b.starts_with("127.0.0.1:")), Some(true), "{st:#}");
}

/// doctor inside a busybox container on the default bridge: `args` run in `/work`.
fn in_container(lab: &Lab, env: &[(&str, &str)], args: &[&str]) -> support::Output {
    let mut cmd: Vec<String> =
        vec!["env".into(), "HOME=/nonexistent".into(), "NO_COLOR=1".into(), "DOCTOR_LANG=en".into()];
    cmd.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
    cmd.extend(["sh".into(), "-c".into()]);
    let line: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    cmd.push(format!("cd /work && /usr/local/bin/doctor {} --timeout 4s", line.join(" ")));
    let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
    lab.exec("doctor", &refs)
}

#[test]
fn doctor_in_a_container_on_the_default_bridge_blames_no_url_or_firewall_for_its_place() {
    let Some((lab, _relay, engine)) = away_stack("Lab-Away-Redis-8d") else { return };
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("doctor.toml"), pins(&lab)).unwrap();
    lab.run(ContainerSpec {
        name: "doctor".into(),
        image: image(Image::Busybox),
        volumes: vec![
            format!("{}:/usr/local/bin/doctor:ro", env!("CARGO_BIN_EXE_doctor")),
            "/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu:ro".into(),
            "/lib64:/lib64:ro".into(),
            "/var/run/docker.sock:/var/run/docker.sock".into(),
            format!("{}:/work:ro", work.path().display()),
        ],
        cmd: vec!["sleep".into(), "3600".into()],
        ..Default::default()
    });
    lab.wait_redis_ready("redis");
    for (env, why) in [
        (vec![("DOCKER_HOST", engine.as_str())], format!("the engine is {engine}, on another host")),
        (vec![], "doctor runs in a container without the host's network (/.dockerenv)".to_string()),
    ] {
        let out = in_container(&lab, &env, &["all", "--format", "json"]);
        let v = json(&out);
        for code in ["RD001", "NET002", "PG001", "API001"] {
            assert!(
                blamed(&v, code).iter().all(|c| !c.starts_with("bad-") && c != "firewall"),
                "{why}: {:#}",
                check(&v, code)
            );
        }
        let rd001 = check(&v, "RD001");
        assert_eq!(rd001["status"], "skipped", "{why}: {rd001:#}");
        assert!(rd001["summary"].as_str().unwrap().contains(&why), "{rd001:#}");
        let net002 = check(&v, "NET002");
        assert!(net002["evidence"]["reachable"].to_string().contains(&lab.name("user-api")), "{why}: {net002:#}");
        assert!(!out.combined().contains("Lab-Away-Redis-8d"));
    }
}
