//! The Docker engine misbehaving, with engines of our own on a Unix socket or through a TCP
//! proxy: an API version the two sides do not share, an engine that answers 500, a container
//! that disappears between listing and inspecting, and `DOCKER_HOST=tcp://` to a real engine,
//! plain and with TLS (`DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`; a socat relay that demands a
//! client certificate); the engine found as the docker CLI finds it (`DOCKER_CONTEXT`, the
//! current context of `config.json`) and addresses doctor cannot use (exit 3, one line: ssh://
//! without an ssh client, a path in an ssh URL, an unknown scheme). ssh:// itself: ssh_engine.rs.

mod support;

use support::report::{check, verdict};

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::thread;
use support::{doctor, run};

/// Serves HTTP on a Unix socket: every request is answered by `answer(method, path)`.
fn fake_engine(path: &Path, answer: fn(&str, &str) -> (u16, String)) {
    let listener = UnixListener::bind(path).unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { break };
            thread::spawn(move || {
                let mut reader = BufReader::new(s.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let (method, target) =
                        (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
                    let mut len = 0;
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; len];
                    let _ = reader.read_exact(&mut body);
                    let path = target.split('?').next().unwrap_or("").to_string();
                    let (status, body) = answer(&method, &path);
                    let resp = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if s.write_all(resp.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
}

fn doctor_docker(host: &str, args: &[&str]) -> Value {
    let (mut cmd, _d) = doctor();
    let out = run(cmd.env("DOCKER_HOST", host).args(args).args(["--format", "json", "--timeout", "2s"]));
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

#[test]
fn an_engine_that_speaks_another_api_version_is_api_version() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("engine.sock");
    fake_engine(&sock, |_, _| {
        (400, r#"{"message":"client version 1.53 is too new. Maximum supported API version is 1.24"}"#.into())
    });
    let v = doctor_docker(&format!("unix://{}", sock.display()), &["docker"]);
    assert_eq!(check(&v, "DK001")["status"], "critical");
    assert_eq!(verdict(&v, "DK001", "api-version"), "confirmed", "{:#}", check(&v, "DK001"));
    assert!(check(&v, "DK001")["summary"].as_str().unwrap().contains("too new"));
}

#[test]
fn an_engine_that_answers_500_is_a_finding_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("engine.sock");
    fake_engine(&sock, |_, _| (500, r#"{"message":"internal server error: storage driver failed"}"#.into()));
    let v = doctor_docker(&format!("unix://{}", sock.display()), &["docker"]);
    assert_eq!(check(&v, "DK001")["status"], "critical");
    assert!(check(&v, "DK001")["summary"].as_str().unwrap().contains("storage driver failed"));
    assert_eq!(v["exit_code"], 2);
}

#[test]
fn a_container_that_vanishes_between_listing_and_inspecting_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("engine.sock");
    fake_engine(&sock, |_, path| match path {
        "/version" => (200, r#"{"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12","Os":"linux"}"#.into()),
        "/containers/json" => (
            200,
            r#"[{"Id":"0123456789abcdef","Names":["/gone-1"],"Labels":{"com.docker.compose.service":"postgres"}}]"#
                .into(),
        ),
        _ => (404, r#"{"message":"No such container: 0123456789abcdef"}"#.into()),
    });
    let v = doctor_docker(&format!("unix://{}", sock.display()), &["docker"]);
    assert_eq!(check(&v, "DK001")["status"], "ok");
    let dk002 = check(&v, "DK002");
    assert_eq!(dk002["status"], "critical", "{dk002:#}");
    assert!(dk002.to_string().contains("No such container"), "{dk002:#}");
}

#[test]
fn docker_host_over_tcp_reaches_a_real_engine() {
    let Some(_lab) = support::lab::Lab::new() else { return };
    // A TCP-to-socket relay stands in for an engine listening on tcp://.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { break };
            let Ok(unix) = UnixStream::connect("/var/run/docker.sock") else { break };
            let (mut t1, mut u1) = (tcp.try_clone().unwrap(), unix.try_clone().unwrap());
            let (mut t2, mut u2) = (tcp, unix);
            thread::spawn(move || {
                let _ = std::io::copy(&mut t1, &mut u1);
                let _ = u1.shutdown(std::net::Shutdown::Write);
            });
            thread::spawn(move || {
                let _ = std::io::copy(&mut u2, &mut t2);
                let _ = t2.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    let v = doctor_docker(&format!("tcp://127.0.0.1:{port}"), &["docker"]);
    assert_eq!(check(&v, "DK001")["status"], "ok", "{:#}", check(&v, "DK001"));
    assert_eq!(check(&v, "DK001")["evidence"]["host"], format!("tcp://127.0.0.1:{port}"));
}

/// A CA, a server certificate for `localhost` and a client certificate, in `dir` as the docker
/// CLI expects them (`ca.pem`, `cert.pem`, `key.pem`; the server's as `server-*.pem`).
fn make_certs(dir: &Path, cn: &str) {
    let sh = |script: &str| {
        let out = std::process::Command::new("sh").arg("-c").arg(script).current_dir(dir).output().unwrap();
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    };
    sh(&format!(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj /CN={cn}-ca 2>/dev/null"
    ));
    sh(
        "openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj /CN=localhost 2>/dev/null && \
        printf 'subjectAltName=DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > server.ext && \
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server-cert.pem -days 2 -extfile server.ext 2>/dev/null",
    );
    sh("openssl req -newkey rsa:2048 -nodes -keyout key.pem -out client.csr -subj /CN=client 2>/dev/null && \
        printf 'extendedKeyUsage=clientAuth\\n' > client.ext && \
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem -days 2 -extfile client.ext 2>/dev/null");
}

#[test]
fn docker_host_over_tcp_with_tls_verify_reaches_a_real_engine() {
    let Some(_lab) = support::lab::Lab::new() else { return };
    let socat = ["/usr/bin/socat", "/bin/socat"].into_iter().find(|p| Path::new(p).exists());
    if !support::require_or_skip("socat (TLS relay to the engine)", socat.is_some()) {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path(), "doctor-test");
    // A TLS endpoint that demands a client certificate of our CA, relaying to the engine.
    let port = support::free_port();
    let d = certs.path().display();
    let mut relay = std::process::Command::new(socat.unwrap())
        .arg(format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={d}/server-cert.pem,key={d}/server-key.pem,cafile={d}/ca.pem,verify=1"
        ))
        .arg("UNIX-CONNECT:/var/run/docker.sock")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        thread::sleep(std::time::Duration::from_millis(50));
    }
    let host = format!("tcp://localhost:{port}");
    let docker = |env: &[(&str, &str)]| {
        let (mut cmd, _d) = doctor();
        cmd.env("DOCKER_HOST", &host);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = run(cmd.args(["docker", "--format", "json", "--timeout", "3s"]));
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        let v: Value =
            serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
        v
    };
    let path = certs.path().to_str().unwrap();
    let v = docker(&[("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", path)]);
    assert_eq!(check(&v, "DK001")["status"], "ok", "{:#}", check(&v, "DK001"));

    // The same settings from .env work too (bollard itself only reads the process environment).
    let (mut cmd, dir) = doctor();
    std::fs::write(
        dir.path().join(".env"),
        format!("DOCKER_HOST={host}\nDOCKER_TLS_VERIFY=1\nDOCKER_CERT_PATH={path}\n"),
    )
    .unwrap();
    let out = run(cmd.args(["docker", "--format", "json", "--timeout", "3s"]));
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(check(&v, "DK001")["status"], "ok", "{:#}", check(&v, "DK001"));

    // Plain HTTP to a TLS port, and certificates of another CA: DK001, never a panic.
    let v = docker(&[]);
    assert_eq!(check(&v, "DK001")["status"], "critical", "{:#}", check(&v, "DK001"));
    assert_eq!(verdict(&v, "DK001", "wrong-docker-host"), "suspected", "{:#}", check(&v, "DK001"));
    assert!(support::report::evidence(&v, "DK001", "wrong-docker-host").contains("DOCKER_TLS_VERIFY=1"));
    let other = tempfile::tempdir().unwrap();
    make_certs(other.path(), "someone-else");
    let v = docker(&[("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", other.path().to_str().unwrap())]);
    assert_eq!(check(&v, "DK001")["status"], "critical", "{:#}", check(&v, "DK001"));
    let v = docker(&[("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", "/nonexistent")]);
    assert_eq!(verdict(&v, "DK001", "wrong-docker-host"), "confirmed", "{:#}", check(&v, "DK001"));
    let _ = relay.kill();
    let _ = relay.wait();
}

/// A HOME whose docker CLI config holds the context `name` pointing at `host` (and, when
/// `current`, makes it the current one, as `docker context use` does).
fn home_with_context(name: &str, host: &str, current: bool) -> tempfile::TempDir {
    use sha2::{Digest, Sha256};
    let home = tempfile::tempdir().unwrap();
    let id: String = Sha256::digest(name.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let meta = home.path().join(".docker/contexts/meta").join(id);
    std::fs::create_dir_all(&meta).unwrap();
    let json = serde_json::json!({"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": false}}});
    std::fs::write(meta.join("meta.json"), json.to_string()).unwrap();
    if current {
        std::fs::write(home.path().join(".docker/config.json"), format!(r#"{{"currentContext":"{name}"}}"#)).unwrap();
    }
    home
}

fn doctor_with_home(home: &Path, env: &[(&str, &str)], args: &[&str]) -> support::Output {
    let (mut cmd, _d) = doctor();
    cmd.env("HOME", home).envs(env.iter().copied()).args(args).args(["--timeout", "3s"]);
    let out = run(&mut cmd);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out
}

#[test]
fn docker_context_and_current_context_reach_the_engine_they_name() {
    let Some(_lab) = support::lab::Lab::new() else { return };
    // The real engine under another path: only the context knows it.
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("elsewhere.sock");
    std::os::unix::fs::symlink("/var/run/docker.sock", &sock).unwrap();
    let host = format!("unix://{}", sock.display());
    for (current, env, source, said) in [
        (false, vec![("DOCKER_CONTEXT", "lab-ctx")], "docker-context", "context lab-ctx from DOCKER_CONTEXT"),
        (true, vec![], "current-context", "context lab-ctx, the docker CLI's current context"),
    ] {
        let home = home_with_context("lab-ctx", &host, current);
        let out = doctor_with_home(home.path(), &env, &["docker", "--format", "json"]);
        let v: Value =
            serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
        let dk = check(&v, "DK001");
        assert_eq!(dk["status"], "ok", "{source}: {dk:#}");
        assert_eq!(dk["evidence"]["host"], host.as_str(), "{dk:#}");
        assert_eq!(dk["evidence"]["engine_source"], source, "{dk:#}");
        assert_eq!(dk["evidence"]["context"], "lab-ctx", "{dk:#}");
        assert!(dk["summary"].as_str().unwrap().contains(said), "{dk:#}");

        let out = doctor_with_home(home.path(), &env, &["stack", "--format", "json"]);
        let st: Value =
            serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
        assert_eq!((st["engine_source"].as_str(), st["context"].as_str()), (Some(source), Some("lab-ctx")), "{st:#}");
        assert!(st["engine"].as_str().unwrap().starts_with(&host), "{st:#}");
        let out = doctor_with_home(home.path(), &env, &["stack"]);
        assert!(out.stdout.contains("engine chosen by: docker context lab-ctx"), "{}", out.stdout);
    }
    // The context, not the default socket, is what is asked: one pointing nowhere fails.
    let home = home_with_context("gone", &format!("unix://{}/nothing.sock", dir.path().display()), true);
    let out = doctor_with_home(home.path(), &[], &["docker", "--format", "json"]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(check(&v, "DK001")["status"], "critical", "{:#}", check(&v, "DK001"));
    assert!(check(&v, "DK001").to_string().contains("docker context gone"), "{:#}", check(&v, "DK001"));
}

#[test]
fn an_engine_address_doctor_cannot_use_exits_3_with_one_line() {
    let home = home_with_context("prod", "ssh://deploy@prod", false);
    for (env, args, needle) in [
        (
            vec![("DOCKER_HOST", "ssh://deploy@production-server"), ("PATH", "/nonexistent")],
            vec!["docker"],
            "ssh://deploy@production-server (ssh:// needs the ssh client)",
        ),
        (vec![], vec!["all", "--host", "ftp://engine:21"], "ftp://engine:21 (an unknown scheme"),
        (vec![("DOCKER_CONTEXT", "nope")], vec!["stack"], "context nope (no such docker context"),
        (vec![("DOCKER_CONTEXT", "prod"), ("PATH", "/nonexistent")], vec!["docker"], "ssh://deploy@prod (ssh:// needs"),
        (vec![("DOCKER_HOST", "ssh://deploy@prod/var/run/docker.sock")], vec!["docker"], "only [user@]host[:port]"),
    ] {
        let out = doctor_with_home(home.path(), &env, &args);
        assert_eq!(out.code, 3, "{env:?} {args:?}: {}{}", out.stdout, out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert!(out.stderr.starts_with("doctor cannot use this engine address: "), "{}", out.stderr);
        assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
        assert!(!out.combined().contains("wrong-docker-host"), "{}", out.combined());
    }
    // What does not ask the engine still runs.
    let out = doctor_with_home(home.path(), &[("DOCKER_HOST", "ssh://x")], &["list"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = doctor_with_home(home.path(), &[("DOCKER_HOST", "ssh://x")], &["docker", "--no-docker"]);
    assert!(!out.stderr.contains("cannot use this engine address"), "{}", out.stderr);
}

/// An engine whose one container says its compose project lives in `working_dir`.
fn engine_with_working_dir(sock: &Path, working_dir: &Path) {
    static WD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    WD.set(working_dir.display().to_string()).unwrap();
    fake_engine(sock, |_, path| match path {
        "/version" => (200, r#"{"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12","Os":"linux"}"#.into()),
        "/containers/json" => (
            200,
            format!(
                r#"[{{"Id":"0123456789abcdef","Names":["/stack-redis-1"],"State":"running","Labels":{{"com.docker.compose.project":"stack","com.docker.compose.service":"redis","com.docker.compose.project.working_dir":"{}"}}}}]"#,
                WD.get().unwrap()
            ),
        ),
        _ => (404, r#"{"message":"No such container: 0123456789abcdef"}"#.into()),
    });
}

#[test]
fn doctor_toml_beside_the_stack_s_compose_files_is_read_when_none_is_found_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("engine.sock");
    // The compose file's directory is below the project root that holds doctor.toml.
    let project = dir.path().join("ai-micro");
    let compose_dir = project.join("deploy");
    std::fs::create_dir_all(&compose_dir).unwrap();
    std::fs::write(project.join("doctor.toml"), "[ignore]\nRD001 = \"judged by the beside-compose config\"\n").unwrap();
    engine_with_working_dir(&sock, &compose_dir);
    let host = format!("unix://{}", sock.display());
    let rd001 = |v: &Value| check(v, "RD001").clone();

    let v = doctor_docker(&host, &["redis"]);
    assert_eq!(rd001(&v)["status"], "skipped", "{:#}", rd001(&v));
    assert!(rd001(&v).to_string().contains("judged by the beside-compose config"), "{:#}", rd001(&v));

    let (mut cmd, _d) = doctor();
    let out = run(cmd.env("DOCKER_HOST", &host).args(["stack", "--timeout", "2s"]));
    let expected =
        format!("configuration: {} (beside the stack's compose files)", project.join("doctor.toml").display());
    assert!(out.stdout.contains(&expected), "{}\n{}", out.stdout, out.stderr);

    // One found from the current directory comes first; the compose directory is the last place.
    let (mut cmd, cwd) = doctor();
    std::fs::write(cwd.path().join("doctor.toml"), "# nothing ignored\n").unwrap();
    let out = run(cmd.env("DOCKER_HOST", &host).args(["redis", "--format", "json", "--timeout", "2s"]));
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    assert_ne!(rd001(&v)["status"], "skipped", "{:#}", rd001(&v));
    // --no-docker asks no engine, so nothing beside the compose files is read.
    let v = doctor_docker(&host, &["redis", "--no-docker"]);
    assert_ne!(rd001(&v)["status"], "skipped", "{:#}", rd001(&v));
}
