//! The Docker lab: real containers on a real engine, built from local images, each test
//! reproducing one fault of the runbook that lives in the engine (a stopped or OOM-killed
//! container, a restart loop, an unhealthy healthcheck, networks that do not meet, a host name
//! that resolves nowhere, a port not published, a service bound to its own loopback, a
//! password mismatch between containers, an unreachable engine) and asserting doctor's verdict.

mod support;

use support::report::{check, evidence, json, verdict};

use serde_json::Value;
use support::lab::{ContainerSpec, Image, Lab, image};
use support::{Output, doctor, first_screen, run};

const SERVICES: &[&str] =
    &["postgres", "redis", "auth-service", "user-api", "admin-api", "user-frontend", "admin-frontend", "prometheus"];
const PG_PASSWORD: &str = "Lab-Pg-Secret-4d1c";

/// Runs doctor with a doctor.toml that names the lab's containers for every service.
fn doctor_in(lab: &Lab, extra_toml: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    doctor_as(lab, extra_toml, &args, env)
}

/// [`doctor_in`] in the format `args` ask for (the table by default).
fn doctor_as(lab: &Lab, extra_toml: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let (mut cmd, dir) = doctor();
    // Top-level keys first: TOML puts everything after a [table] header into that table.
    let mut toml = format!("{extra_toml}\n");
    for s in SERVICES {
        toml.push_str(&format!("[services.{s}]\ncontainer = \"{}\"\n\n", lab.name(s)));
    }
    std::fs::write(dir.path().join("doctor.toml"), toml).unwrap();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args);
    if !args.contains(&"--timeout") {
        cmd.args(["--timeout", "3s"]);
    }
    run(&mut cmd)
}

fn postgres(lab: &Lab, networks: Vec<(String, Vec<String>)>) -> u16 {
    postgres_with(lab, ContainerSpec { networks, ..Default::default() })
}

/// The lab's postgres container (authdb, PG_PASSWORD, 5432 published on loopback) with `extra`'s
/// networks, memory limit and restart policy; ready, and its host port.
fn postgres_with(lab: &Lab, extra: ContainerSpec) -> u16 {
    lab.run(ContainerSpec {
        name: "postgres".into(),
        image: image(Image::Postgres),
        env: vec![("POSTGRES_PASSWORD".into(), PG_PASSWORD.into()), ("POSTGRES_DB".into(), "authdb".into())],
        publish: vec!["127.0.0.1:0:5432".into()],
        ..extra
    });
    lab.wait_pg_ready("postgres");
    lab.published_port("postgres", 5432)
}

/// A busybox container that only sleeps, with an environment (a stand-in for a service).
fn sleeper(lab: &Lab, name: &str, env: Vec<(String, String)>, networks: Vec<(String, Vec<String>)>) {
    lab.run(ContainerSpec {
        name: name.into(),
        image: image(Image::Busybox),
        env,
        networks,
        cmd: vec!["sleep".into(), "3600".into()],
        ..Default::default()
    });
}

#[test]
fn a_stopped_database_container_is_confirmed_with_exit_code_and_when() {
    let Some(lab) = Lab::new() else { return };
    let port = postgres(&lab, vec![]);
    lab.stop("postgres");
    let out = doctor_in(
        &lab,
        "",
        &["postgres", "--url", &format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/authdb")],
        &[],
    );
    let v = json(&out);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert_eq!(verdict(&v, "PG001", "container-stopped"), "confirmed", "{:#}", check(&v, "PG001"));
    let ev = evidence(&v, "PG001", "container-stopped");
    assert!(ev.contains("exited with exit code 0") && ev.contains("ago"), "{ev}");
    assert!(!out.combined().contains(PG_PASSWORD));
}

#[test]
fn a_running_database_rules_out_a_stopped_container_and_docker_shows_the_stack() {
    let Some(lab) = Lab::new() else { return };
    let port = postgres(&lab, vec![]);
    let url = format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/authdb");
    let v = json(&doctor_in(&lab, "", &["postgres", "--url", &url], &[]));
    assert_eq!(verdict(&v, "PG001", "container-stopped"), "ruled-out");
    assert!(evidence(&v, "PG001", "container-stopped").contains("running for"));

    let out = doctor_in(&lab, "", &["docker"], &[]);
    let v = json(&out);
    let rows = v["containers"].as_array().expect("doctor docker lists containers");
    // Every role but the optional ones that are not there (Prometheus, the MCP server).
    assert_eq!(rows.len(), SERVICES.len() - 1);
    let pg = rows.iter().find(|r| r["service"] == "postgres").unwrap();
    assert_eq!(pg["state"], "running");
    assert!(pg["mem_used"].as_u64().unwrap() > 0 && pg["cpu_percent"].is_number(), "{pg:#}");
    assert!(pg["ports"][0].as_str().unwrap().ends_with("->5432/tcp"));
    assert_eq!(rows.iter().find(|r| r["service"] == "redis").unwrap()["state"], "missing");
    assert_eq!(verdict(&v, "DK002", "container-missing"), "confirmed");
    assert!(evidence(&v, "DK002", "container-missing").contains(&lab.name("redis")));
}

#[test]
fn containers_are_found_by_compose_label_when_the_name_differs() {
    let Some(lab) = Lab::new() else { return };
    lab.run(ContainerSpec {
        name: "db-1".into(),
        image: image(Image::Busybox),
        cmd: vec!["sleep".into(), "3600".into()],
        labels: vec![
            ("com.docker.compose.service".into(), "postgres".into()),
            ("com.docker.compose.project".into(), lab.prefix().into()),
        ],
        ..Default::default()
    });
    let out = doctor_in(&lab, &format!("compose_project = \"{}\"\n", lab.prefix()), &["docker"], &[]);
    let v = json(&out);
    let pg = v["containers"].as_array().unwrap().iter().find(|r| r["service"] == "postgres").unwrap().clone();
    assert_eq!(pg["container"], lab.name("db-1"), "{pg:#}");
}

#[test]
fn an_oom_killed_container_is_confirmed() {
    let Some(lab) = Lab::new() else { return };
    lab.run(ContainerSpec {
        name: "user-api".into(),
        image: image(Image::Busybox),
        memory: Some("20m".into()),
        cmd: vec!["sh".into(), "-c".into(), "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done".into()],
        ..Default::default()
    });
    // Not the OOMKilled flag: the engine can leave it false for so quick a kill; doctor reads
    // its oom event too.
    lab.wait_until("user-api", "exited", |i| i["State"]["Status"] == "exited");
    lab.wait_oom_event("user-api");
    let v = json(&doctor_in(&lab, "", &["docker"], &[]));
    assert_eq!(verdict(&v, "PERF002", "oom-killed"), "confirmed", "{:#}", check(&v, "PERF002"));
    assert!(evidence(&v, "PERF002", "oom-killed").contains("OOM-killed"));
    assert_eq!(check(&v, "PERF002")["status"], "critical");
    assert_eq!(verdict(&v, "DK002", "container-exited"), "confirmed");
    assert!(evidence(&v, "DK002", "container-exited").contains("137"));
}

#[test]
fn a_postgres_backend_killed_by_the_oom_killer_is_confirmed_though_the_container_lives_on() {
    let Some(lab) = Lab::new() else { return };
    let port = postgres_with(&lab, ContainerSpec { memory: Some("128m".into()), ..Default::default() });
    // A sort held in memory (work_mem 2GB) of 1 GB: the kernel kills that backend, the
    // postmaster survives, drops every session and recovers.
    let sort = "SET work_mem = '2GB'; SELECT count(*) FROM (SELECT repeat('x', 1000) || g AS s FROM generate_series(1, 1000000) g ORDER BY 1) t";
    let err =
        support::lab::host_psql(port, "postgres", PG_PASSWORD, "authdb", sort).expect_err("the sort was not killed");
    assert!(err.contains("terminated abnormally") || err.contains("connection"), "{err}");
    lab.wait_log("postgres", "terminated by signal 9");
    lab.wait_pg_ready("postgres");
    let state = &lab.inspect("postgres")["State"];
    // What `docker inspect` shows: running; Docker 20.10 leaves OOMKilled false for a process
    // killed inside (newer engines may set it), so doctor reads the engine's oom event too.
    assert_eq!(state["Running"], Value::Bool(true), "{state}");
    eprintln!("OOMKilled after a backend's OOM kill: {}", state["OOMKilled"]);

    let url = format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/authdb");
    let out = doctor_in(&lab, "", &["postgres", "--url", &url], &[]);
    let v = json(&out);
    assert_eq!(verdict(&v, "PG004", "oom-killed"), "confirmed", "{:#}", check(&v, "PG004"));
    let ev = evidence(&v, "PG004", "oom-killed");
    assert!(ev.contains("OOM") && ev.contains("terminated by signal 9"), "{ev}");
    if state["OOMKilled"] == false {
        assert!(ev.contains("OOM kill(s) inside"), "{ev}");
    }
    assert_eq!(verdict(&v, "PG004", "server-restarted"), "confirmed");
    assert!(evidence(&v, "PG004", "server-restarted").contains("crash recovery"));
    assert!(check(&v, "PG004")["summary"].as_str().unwrap().contains("crash recovery ended every session"));
    assert_eq!(check(&v, "PG004")["status"], "warning");
    assert!(!out.combined().contains(PG_PASSWORD));
    // The same evidence in PERF002 and at a glance.
    let v = json(&doctor_in(&lab, "", &["docker"], &[]));
    assert_eq!(verdict(&v, "PERF002", "oom-killed"), "confirmed", "{:#}", check(&v, "PERF002"));
    assert_eq!(check(&v, "PERF002")["status"], "warning", "alive, so not critical");
    let row = v["containers"].as_array().unwrap().iter().find(|r| r["service"] == "postgres").unwrap().clone();
    assert_eq!((row["state"].as_str(), row["oom_killed"].as_bool()), (Some("running"), Some(true)), "{row:#}");
}

#[test]
fn a_restart_loop_is_confirmed() {
    let Some(lab) = Lab::new() else { return };
    lab.run(ContainerSpec {
        name: "admin-api".into(),
        image: image(Image::Busybox),
        cmd: vec!["sh".into(), "-c".into(), "echo starting; exit 3".into()],
        restart: Some("always".into()),
        ..Default::default()
    });
    lab.wait_until("admin-api", "3 restarts", |i| i["RestartCount"].as_i64().unwrap_or(0) >= 3);
    let v = json(&doctor_in(&lab, "", &["docker"], &[]));
    assert_eq!(verdict(&v, "DK002", "restart-loop"), "confirmed", "{:#}", check(&v, "DK002"));
    assert_eq!(check(&v, "DK002")["status"], "critical");
}

#[test]
fn an_unhealthy_healthcheck_is_confirmed_with_its_output() {
    let Some(lab) = Lab::new() else { return };
    lab.run(ContainerSpec {
        name: "auth-service".into(),
        image: image(Image::Busybox),
        cmd: vec!["sleep".into(), "3600".into()],
        health_cmd: Some("echo keys missing >&2; exit 1".into()),
        health_interval: Some("1s".into()),
        health_retries: Some(1),
        ..Default::default()
    });
    lab.wait_until("auth-service", "unhealthy", |i| i["State"]["Health"]["Status"] == "unhealthy");
    let v = json(&doctor_in(&lab, "", &["docker"], &[]));
    assert_eq!(verdict(&v, "DK002", "unhealthy"), "confirmed");
    assert!(evidence(&v, "DK002", "unhealthy").contains("keys missing"));
}

#[test]
fn services_on_networks_that_do_not_meet_are_isolated() {
    let Some(lab) = Lab::new() else { return };
    let port = postgres(&lab, vec![("back".into(), vec!["postgres".into()])]);
    sleeper(
        &lab,
        "user-api",
        vec![("DATABASE_URL".into(), format!("postgresql://postgres:{PG_PASSWORD}@postgres:5432/apidb"))],
        vec![("front".into(), vec![])],
    );
    let url = format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/authdb");
    let out = doctor_in(&lab, "", &["postgres", "--url", &url], &[]);
    let v = json(&out);
    assert_eq!(verdict(&v, "PG001", "network-isolated"), "confirmed", "{:#}", check(&v, "PG001"));
    assert!(evidence(&v, "PG001", "network-isolated").contains("no network in common"));
    assert_eq!(check(&v, "PG001")["status"], "critical", "doctor's own connection works, user-api's cannot");

    let v = json(&doctor_in(&lab, "", &["network"], &[]));
    assert_eq!(verdict(&v, "NET001", "no-shared-network"), "confirmed", "{:#}", check(&v, "NET001"));
    assert!(!out.combined().contains(PG_PASSWORD));
}

#[test]
fn a_host_name_that_resolves_nowhere_is_confirmed() {
    let Some(lab) = Lab::new() else { return };
    let port = postgres(&lab, vec![("net".into(), vec!["postgres".into()])]);
    sleeper(
        &lab,
        "user-api",
        vec![("DATABASE_URL".into(), format!("postgresql://postgres:{PG_PASSWORD}@db-typo:5432/apidb"))],
        vec![("net".into(), vec![])],
    );
    sleeper(
        &lab,
        "admin-api",
        vec![("DATABASE_URL".into(), format!("postgresql://postgres:{PG_PASSWORD}@localhost:5432/admindb"))],
        vec![("net".into(), vec![])],
    );
    let v = json(&doctor_in(&lab, "", &["network"], &[]));
    assert_eq!(verdict(&v, "NET001", "name-not-resolvable"), "confirmed");
    let ev = evidence(&v, "NET001", "name-not-resolvable");
    assert!(ev.contains("\"db-typo\" is no name or alias"), "{ev}");
    assert!(ev.contains("localhost is the container itself"), "{ev}");
    let url = format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/authdb");
    let v = json(&doctor_in(&lab, "", &["postgres", "--url", &url], &[]));
    assert_eq!(verdict(&v, "PG001", "network-isolated"), "confirmed");
}

#[test]
fn a_service_that_is_reachable_by_its_alias_is_ruled_out() {
    let Some(lab) = Lab::new() else { return };
    let port = postgres(&lab, vec![("net".into(), vec!["postgres".into()])]);
    sleeper(
        &lab,
        "user-api",
        vec![("DATABASE_URL".into(), format!("postgresql://postgres:{PG_PASSWORD}@postgres:5432/authdb"))],
        vec![("net".into(), vec![])],
    );
    let url = format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/authdb");
    let v = json(&doctor_in(&lab, "", &["postgres", "--url", &url], &[]));
    assert_eq!(verdict(&v, "PG001", "network-isolated"), "ruled-out", "{:#}", check(&v, "PG001"));
    assert_eq!(verdict(&v, "PG001", "wrong-password"), "ruled-out");
    let v = json(&doctor_in(&lab, "", &["network"], &[]));
    assert_eq!(check(&v, "NET001")["status"], "ok", "{:#}", check(&v, "NET001"));
    assert_eq!(verdict(&v, "NET001", "port-not-listening"), "ruled-out");
}

#[test]
fn a_password_mismatch_between_containers_is_confirmed_without_showing_either() {
    let Some(lab) = Lab::new() else { return };
    let port = postgres(&lab, vec![("net".into(), vec!["postgres".into()])]);
    let wrong = "Lab-Other-Secret-77ab";
    sleeper(
        &lab,
        "user-api",
        vec![("DATABASE_URL".into(), format!("postgresql://postgres:{wrong}@postgres:5432/apidb"))],
        vec![("net".into(), vec![])],
    );
    let url = format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/authdb");
    for format in ["json", "table", "markdown", "junit"] {
        let (mut cmd, dir) = doctor();
        let mut toml = String::new();
        for s in SERVICES {
            toml.push_str(&format!("[services.{s}]\ncontainer = \"{}\"\n", lab.name(s)));
        }
        std::fs::write(dir.path().join("doctor.toml"), toml).unwrap();
        let out = run(cmd.args(["all", "-v", "--format", format]));
        for s in [PG_PASSWORD, wrong] {
            assert!(!out.combined().contains(s), "{format}: {s} leaked");
        }
    }
    let v = json(&doctor_in(&lab, "", &["postgres", "--url", &url], &[]));
    assert_eq!(verdict(&v, "PG001", "wrong-password"), "confirmed", "{:#}", check(&v, "PG001"));
    let ev = evidence(&v, "PG001", "wrong-password");
    assert!(ev.contains("user-api") && ev.contains("fingerprint"), "{ev}");
}

#[test]
fn a_port_not_published_is_confirmed() {
    let Some(lab) = Lab::new() else { return };
    lab.run(ContainerSpec {
        name: "auth-service".into(),
        image: image(Image::Busybox),
        cmd: vec!["httpd".into(), "-f".into(), "-p".into(), "8002".into()],
        ..Default::default()
    });
    let v = json(&doctor_in(&lab, "", &["network"], &[]));
    assert_eq!(verdict(&v, "NET002", "port-not-published"), "confirmed", "{:#}", check(&v, "NET002"));
    assert!(evidence(&v, "NET002", "port-not-published").contains("8002"));
}

#[test]
fn a_service_listening_only_on_its_own_loopback_is_confirmed() {
    let Some(lab) = Lab::new() else { return };
    lab.run(ContainerSpec {
        name: "auth-service".into(),
        image: image(Image::Busybox),
        publish: vec!["127.0.0.1:0:8002".into()],
        cmd: vec!["httpd".into(), "-f".into(), "-p".into(), "127.0.0.1:8002".into()],
        ..Default::default()
    });
    lab.run(ContainerSpec {
        name: "user-api".into(),
        image: image(Image::Busybox),
        publish: vec!["127.0.0.1:0:8001".into()],
        cmd: vec!["httpd".into(), "-f".into(), "-p".into(), "8001".into()],
        ..Default::default()
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let v = json(&doctor_in(&lab, "", &["network"], &[]));
    assert_eq!(verdict(&v, "NET002", "bound-to-container-loopback"), "confirmed", "{:#}", check(&v, "NET002"));
    assert!(evidence(&v, "NET002", "bound-to-container-loopback").contains(&lab.name("auth-service")));
    assert!(check(&v, "NET002")["evidence"]["reachable"].to_string().contains(&lab.name("user-api")));
}

#[test]
fn an_unreachable_engine_is_dk001_and_service_checks_still_run() {
    let Some(_lab) = Lab::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    // A socket file nobody listens on: a daemon that died and left its socket behind.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    for (host, cause) in [
        (format!("unix://{}", dir.path().join("absent.sock").display()), "wrong-docker-host"),
        (format!("unix://{}", stale.display()), "daemon-down"),
        // (an address doctor cannot use at all, `ftp://`, exits 3 before any check:
        // docker_engine_faults::an_engine_address_doctor_cannot_use_exits_3_with_one_line)
    ] {
        let (mut cmd, _d) = doctor();
        let out = run(cmd.env("DOCKER_HOST", &host).args([
            "postgres",
            "--format",
            "json",
            "--timeout",
            "2s",
            "--url",
            "postgresql://u:p@127.0.0.1:1/db",
        ]));
        let v = json(&out);
        assert_eq!(check(&v, "DK001")["status"], "critical", "{host}");
        assert_eq!(verdict(&v, "DK001", cause), "confirmed", "{host}: {:#}", check(&v, "DK001"));
        assert_eq!(check(&v, "PG001")["status"], "critical", "the service check still ran");
        assert!(evidence(&v, "PG001", "network-isolated").contains("DK001"));
    }
}

#[test]
fn permission_denied_on_the_socket_is_socket_permission() {
    let Some(_lab) = Lab::new() else { return };
    if !std::path::Path::new("/var/run/docker.sock").exists() || !std::path::Path::new("/usr/sbin/runuser").exists() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_doctor");
    let out = std::process::Command::new("/usr/sbin/runuser")
        .args(["-u", "nobody", "--", bin, "docker", "--format", "json"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .current_dir("/tmp")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(verdict(&v, "DK001", "socket-permission"), "confirmed", "{:#}", check(&v, "DK001"));
}

/// PostgreSQL logs a refused password before it knows the session is doctor's (`app=[unknown]`):
/// doctor remembers its own refused logins (user and time, under `XDG_STATE_HOME`) and leaves
/// those lines out on the next runs, so fixing a stale `.env` does not leave a PG001 warning
/// behind for the length of the log window.
#[test]
fn doctors_own_refused_logins_are_not_read_back_as_symptoms() {
    let Some(lab) = Lab::new() else { return };
    let port = postgres(&lab, vec![]);
    let state = tempfile::tempdir().unwrap();
    let state_env = [("XDG_STATE_HOME", state.path().to_str().unwrap())];
    let stale = format!("postgresql://postgres:Stale-Copy-9e2a@127.0.0.1:{port}/authdb");
    let v = json(&doctor_in(&lab, "", &["postgres", "--url", &stale], &state_env));
    assert_eq!(verdict(&v, "PG001", "doctor-credential-stale"), "confirmed", "{:#}", check(&v, "PG001"));
    lab.wait_log("postgres", "password authentication failed");
    let record = std::fs::read_to_string(state.path().join("doctor/refused-logins.jsonl")).unwrap();
    assert!(record.contains("\"postgres\"") && !record.contains("Stale-Copy"), "{record}");

    let url = format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/authdb");
    // (A login of the next run under way while its logs are read may hide a line logged at that
    // very moment, not one from a second before.)
    std::thread::sleep(std::time::Duration::from_secs(1));
    // Without the record (another machine, say) the line reads as a client's failure...
    // (The lab's server has authdb only, so PG001 warns of apidb and admindb either way: the
    // log evidence is what differs.)
    let logs = |v: &Value| check(v, "PG001")["evidence"]["logs"].as_array().cloned().unwrap_or_default();
    let v = json(&doctor_in(&lab, "", &["postgres", "--url", &url], &[]));
    assert!(
        format!("{:?}", logs(&v)).contains("password authentication failed"),
        "{:#}\n{}",
        check(&v, "PG001"),
        lab.logs("postgres")
    );
    // ...with it, the line is doctor's own. (The lab's readiness probe may have left a
    // "the database system is starting up" line at the server's start: another symptom, not
    // this one.)
    let v = json(&doctor_in(&lab, "", &["postgres", "--url", &url], &state_env));
    assert!(!format!("{:?}", logs(&v)).contains("password authentication failed"), "{:#}", check(&v, "PG001"));
    assert!(
        !check(&v, "PG001")["summary"].as_str().unwrap().contains("password authentication failed"),
        "{:#}",
        check(&v, "PG001")
    );
    // A client's own refused login after that is a symptom again.
    let _ = support::lab::host_psql(port, "postgres", "Wrong-Attempt-2", "authdb", "SELECT 1");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while lab.logs("postgres").matches("password authentication failed").count() < 2 {
        assert!(std::time::Instant::now() < deadline, "{}", lab.logs("postgres"));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let v = json(&doctor_in(&lab, "", &["postgres", "--url", &url], &state_env));
    assert!(format!("{:?}", logs(&v)).contains(" 1 time"), "{:#}", check(&v, "PG001"));
}

#[test]
fn logged_symptoms_become_evidence_and_triage_maps_them() {
    let Some(lab) = Lab::new() else { return };
    let port = postgres(&lab, vec![]);
    for _ in 0..3 {
        let _ = support::lab::host_psql(port, "postgres", "Wrong-Attempt-1", "authdb", "SELECT 1");
    }
    lab.wait_log("postgres", "password authentication failed");
    let url = format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/authdb");
    let v = json(&doctor_in(&lab, "", &["postgres", "--url", &url], &[]));
    let pg001 = check(&v, "PG001");
    assert_eq!(pg001["status"], "warning", "fine now, but clients failed recently: {pg001:#}");
    let logs = pg001["evidence"]["logs"][0].as_str().unwrap();
    assert!(logs.contains("password authentication failed") && logs.contains("3 times"), "{logs}");

    let (mut cmd, _d) = doctor();
    let out = run(cmd.args(["triage", "--container", &lab.name("postgres")]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("PG001") && out.stdout.contains("×3"), "{}", out.stdout);
}

#[test]
fn a_redis_password_mismatch_and_a_port_nobody_listens_on_are_confirmed() {
    let Some(lab) = Lab::new() else { return };
    lab.run(ContainerSpec {
        name: "redis".into(),
        image: image(Image::Redis),
        env: vec![("REDIS_PASSWORD".into(), "Lab-Redis-Secret-1f".into())],
        networks: vec![("net".into(), vec!["redis".into()])],
        publish: vec!["127.0.0.1:0:6379".into()],
        ..Default::default()
    });
    lab.wait_redis_ready("redis");
    let port = lab.published_port("redis", 6379);
    sleeper(
        &lab,
        "auth-service",
        vec![("REDIS_URL".into(), "redis://:Lab-Other-Redis-2e@redis:6379/0".into())],
        vec![("net".into(), vec![])],
    );
    // user-api points at a "postgres" that runs nothing on 5432.
    sleeper(&lab, "postgres", vec![], vec![("net".into(), vec!["postgres".into()])]);
    sleeper(
        &lab,
        "user-api",
        vec![("DATABASE_URL".into(), "postgresql://app:x@postgres:5432/apidb".into())],
        vec![("net".into(), vec![])],
    );
    let out = doctor_in(&lab, "", &["redis", "--url", &format!("redis://:Lab-Redis-Secret-1f@127.0.0.1:{port}")], &[]);
    let v = json(&out);
    assert_eq!(verdict(&v, "RD001", "wrong-password"), "confirmed", "{:#}", check(&v, "RD001"));
    assert!(evidence(&v, "RD001", "wrong-password").contains(&lab.name("auth-service")));
    assert!(!out.combined().contains("Lab-Redis-Secret-1f") && !out.combined().contains("Lab-Other-Redis-2e"));

    let v = json(&doctor_in(&lab, "", &["network"], &[]));
    assert_eq!(verdict(&v, "NET001", "port-not-listening"), "confirmed", "{:#}", check(&v, "NET001"));
    assert!(evidence(&v, "NET001", "port-not-listening").contains("5432"));
}

#[test]
fn restarts_by_docker_confirm_a_server_restart() {
    let Some(lab) = Lab::new() else { return };
    postgres_with(&lab, ContainerSpec { restart: Some("always".into()), ..Default::default() });
    // The server stops by itself; the restart policy brings it back.
    // SIGINT to PID 1 (postgres itself) is a fast shutdown; it exits cleanly and is restarted.
    let _ = lab.exec("postgres", &["kill", "-INT", "1"]);
    lab.wait_until("postgres", "a restart by policy", |i| i["RestartCount"].as_i64().unwrap_or(0) >= 1);
    lab.wait_pg_ready("postgres");
    let port = lab.published_port("postgres", 5432);
    let url = format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/authdb");
    let v = json(&doctor_in(&lab, "", &["postgres", "--url", &url], &[]));
    assert_eq!(verdict(&v, "PG004", "server-restarted"), "confirmed", "{:#}", check(&v, "PG004"));
    assert_eq!(check(&v, "PG004")["status"], "warning");
    assert_eq!(verdict(&v, "PG004", "oom-killed"), "ruled-out");
}

#[test]
fn a_restart_by_hand_is_confirmed_though_restart_count_stays_zero() {
    let Some(lab) = Lab::new() else { return };
    postgres(&lab, vec![]);
    // `docker restart` (as `docker compose restart` does): RestartCount counts only restarts by
    // policy, so only the engine's die event tells.
    lab.stop("postgres");
    lab.start("postgres");
    lab.wait_pg_ready("postgres");
    assert_eq!(lab.inspect("postgres")["RestartCount"], 0);
    let port = lab.published_port("postgres", 5432);
    let url = format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/authdb");
    let v = json(&doctor_in(&lab, "", &["postgres", "--url", &url], &[]));
    assert_eq!(verdict(&v, "PG004", "server-restarted"), "confirmed", "{:#}", check(&v, "PG004"));
    let ev = evidence(&v, "PG004", "server-restarted");
    assert!(ev.contains("the engine logged 1 exit(s) of") && ev.contains("exit codes 0"), "{ev}");
    assert_eq!(check(&v, "PG004")["status"], "warning");
    // At a glance too: 0 restarts by policy, 1 exit in the last 24 h.
    let v = json(&doctor_in(&lab, "", &["docker"], &[]));
    let row = v["containers"].as_array().unwrap().iter().find(|r| r["service"] == "postgres").unwrap().clone();
    assert_eq!((row["restarts"].as_i64(), row["exits_24h"].as_u64()), (Some(0), Some(1)), "{row:#}");
}

#[test]
fn key_files_inside_auth_service_are_checked_without_reading_the_private_key() {
    let Some(lab) = Lab::new() else { return };
    let fx = support::fixture::Fixture::start(&[]);
    sleeper(&lab, "auth-service", vec![], vec![]);
    let auth = |lab: &Lab| {
        let out = doctor_in(lab, "", &["auth", "--url", &fx.url()], &[]);
        assert!(!out.combined().contains("LAB-PRIVATE-MARKER"), "a private key's content was printed");
        json(&out)
    };
    // No /app/keys at all.
    let v = auth(&lab);
    assert_eq!(verdict(&v, "AU002", "keys-missing"), "confirmed", "{:#}", check(&v, "AU002"));
    assert!(evidence(&v, "AU002", "keys-missing").contains("/app/keys/ is missing"));
    assert_eq!(check(&v, "AU002")["status"], "critical");

    // The pair the fixture serves, the private key closed to others: ruled out.
    let public = include_str!("fixture/keys/current.public.pem");
    let write = |file: &str, content: &str, mode: &str| {
        let script = format!(
            "mkdir -p /app/keys && printf '%s' '{content}' > /app/keys/{file} && chmod {mode} /app/keys/{file}"
        );
        assert_eq!(lab.exec("auth-service", &["sh", "-c", &script]).code, 0);
    };
    write("private_key.pem", "-----BEGIN PRIVATE KEY-----\nLAB-PRIVATE-MARKER\n-----END PRIVATE KEY-----\n", "600");
    write("public_key.pem", public, "644");
    let v = auth(&lab);
    assert_eq!(verdict(&v, "AU002", "keys-missing"), "ruled-out", "{:#}", check(&v, "AU002"));
    assert_eq!(verdict(&v, "AU002", "signature-mismatch"), "ruled-out", "{:#}", check(&v, "AU002"));
    assert_eq!(check(&v, "AU002")["status"], "ok", "{:#}", check(&v, "AU002"));

    // A new pair on disk that auth-service never loaded, and a private key others can read.
    write("public_key.pem", include_str!("fixture/keys/rotated.public.pem"), "644");
    write("private_key.pem", "-----BEGIN PRIVATE KEY-----\nLAB-PRIVATE-MARKER\n-----END PRIVATE KEY-----\n", "644");
    let v = auth(&lab);
    assert_eq!(verdict(&v, "AU002", "signature-mismatch"), "confirmed", "{:#}", check(&v, "AU002"));
    assert!(evidence(&v, "AU002", "signature-mismatch").contains("not a key the JWKS serves"));
    assert!(check(&v, "AU002")["summary"].as_str().unwrap().contains("chmod 600"));

    // Only the private key left.
    assert_eq!(lab.exec("auth-service", &["rm", "/app/keys/public_key.pem"]).code, 0);
    let v = auth(&lab);
    assert_eq!(verdict(&v, "AU002", "keys-missing"), "confirmed");
    assert!(evidence(&v, "AU002", "keys-missing").contains("public_key.pem missing"));
}

#[test]
fn uploads_inside_admin_api_show_permission_disk_and_ocr_faults() {
    let Some(lab) = Lab::new() else { return };
    // admin-api runs as uid 1000; /app/uploads is a root-owned 755 tmpfs; it logged an OCR error.
    let ocr = "pytesseract.pytesseract.TesseractNotFoundError: tesseract is not installed or it's not in your PATH.";
    lab.run(ContainerSpec {
        name: "admin-api".into(),
        image: image(Image::Busybox),
        env: vec![("MAX_FILE_SIZE".into(), "10485760".into()), ("OCR_LINE".into(), ocr.into())],
        user: Some("1000:1000".into()),
        // Docling's model cache root-owned 755 too; EasyOCR's not created yet.
        tmpfs: vec!["/app/uploads:size=64k,mode=755".into(), "/tmp/.docling_cache:size=64k,mode=755".into()],
        cmd: vec!["sh".into(), "-c".into(), "echo \"$OCR_LINE\"; exec sleep 3600".into()],
        ..Default::default()
    });
    lab.wait_log("admin-api", "TesseractNotFoundError");
    let api = |lab: &Lab| json(&doctor_in(lab, "", &["api", "--only", "API003"], &[]));
    let v = api(&lab);
    assert_eq!(verdict(&v, "API003", "uploads-permission"), "confirmed", "{:#}", check(&v, "API003"));
    assert!(evidence(&v, "API003", "uploads-permission").contains("not writable by uid 1000"));
    assert_eq!(verdict(&v, "API003", "disk-full"), "ruled-out", "{:#}", check(&v, "API003"));
    assert_eq!(verdict(&v, "API003", "ocr-dependency"), "confirmed");
    assert!(evidence(&v, "API003", "ocr-dependency").contains("TesseractNotFoundError"));
    assert_eq!(verdict(&v, "API003", "file-too-large"), "ruled-out");
    assert!(evidence(&v, "API003", "file-too-large").contains("10 MB"));
    assert_eq!(verdict(&v, "API003", "model-cache"), "confirmed", "{:#}", check(&v, "API003"));
    let ev = evidence(&v, "API003", "model-cache");
    assert!(ev.contains("/tmp/.docling_cache (drwxr-xr-x owner 0:0) is not writable by uid 1000"), "{ev}");
    // The engine's events were read: no OOM kill of this admin-api.
    assert_eq!(verdict(&v, "API003", "admin-api-oom"), "ruled-out", "{:#}", check(&v, "API003"));
    assert_eq!(check(&v, "API003")["status"], "critical");

    // A writable but full upload directory.
    lab.run(ContainerSpec {
        name: "admin-api-full".into(),
        image: image(Image::Busybox),
        user: Some("1000:1000".into()),
        tmpfs: vec!["/app/uploads:size=64k,mode=777".into()],
        cmd: vec![
            "sh".into(),
            "-c".into(),
            "head -c 1000000 /dev/zero > /app/uploads/big; echo filled; exec sleep 3600".into(),
        ],
        ..Default::default()
    });
    lab.wait_log("admin-api-full", "filled");
    let (mut cmd, dir) = doctor();
    let toml = format!("[services.admin-api]\ncontainer = \"{}\"\n", lab.name("admin-api-full"));
    std::fs::write(dir.path().join("doctor.toml"), toml).unwrap();
    let v = json(&run(cmd.args(["api", "--only", "API003", "--format", "json", "--timeout", "3s"])));
    assert_eq!(verdict(&v, "API003", "disk-full"), "confirmed", "{:#}", check(&v, "API003"));
    assert!(evidence(&v, "API003", "disk-full").contains("100% used"), "{:#}", check(&v, "API003"));
    assert_eq!(verdict(&v, "API003", "uploads-permission"), "ruled-out", "{:#}", check(&v, "API003"));
}

#[test]
fn perf_sample_measures_memory_growth_and_the_time_to_the_limit() {
    let Some(lab) = Lab::new() else { return };
    // A leak of about 1 MB a second under a 200 MB limit, beside a container that stays flat.
    let leak = "mkdir -p /dev/shm/leak; i=0; while true; do i=$((i+1)); \
                head -c 1048576 /dev/zero > /dev/shm/leak/$i; sleep 1; done";
    lab.run(ContainerSpec {
        name: "user-api".into(),
        image: image(Image::Busybox),
        memory: Some("200m".into()),
        tmpfs: vec!["/dev/shm/leak:size=190m".into()],
        cmd: vec!["sh".into(), "-c".into(), leak.into()],
        ..Default::default()
    });
    let started = std::time::Instant::now();
    sleeper(&lab, "admin-api", vec![], vec![]);
    // The review's `perf --sample 5s`: a few seconds judge no leak, and the summary says so.
    let v = json(&doctor_in(&lab, "", &["perf", "--sample", "4s", "--only", "PERF002"], &[]));
    assert_eq!(verdict(&v, "PERF002", "memory-growth"), "unchecked", "{:#}", check(&v, "PERF002"));
    assert!(
        evidence(&v, "PERF002", "memory-growth").contains("too short to judge growth"),
        "{:#}",
        check(&v, "PERF002")
    );
    assert!(
        check(&v, "PERF002")["summary"].as_str().unwrap().contains("too short to judge"),
        "{:#}",
        check(&v, "PERF002")
    );
    // Long enough, on a container past its first minute: confirmed, with where to look for the
    // runtime of its role (user-api: Python).
    std::thread::sleep(std::time::Duration::from_secs(62).saturating_sub(started.elapsed()));
    let v = json(&doctor_in(&lab, "", &["perf", "--sample", "32s", "--only", "PERF002"], &[]));
    assert_eq!(verdict(&v, "PERF002", "memory-growth"), "confirmed", "{:#}", check(&v, "PERF002"));
    let ev = evidence(&v, "PERF002", "memory-growth");
    assert!(ev.contains(&lab.name("user-api")) && ev.contains("/min") && ev.contains("limit in about"), "{ev}");
    assert!(ev.contains("tracemalloc") && !ev.contains("MEMORY STATS"), "{ev}");
    assert!(!ev.contains(&lab.name("admin-api")), "the flat container is not growing: {ev}");

    let v = json(&doctor_in(&lab, "", &["perf", "--only", "PERF002"], &[]));
    assert_eq!(verdict(&v, "PERF002", "memory-growth"), "unchecked");
    assert!(evidence(&v, "PERF002", "memory-growth").contains("--sample"));

    let (mut cmd, _d) = doctor();
    let out = run(cmd.args(["perf", "--sample", "1ms"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
}

/// `doctor frontend --only FE001` for the lab's user-frontend (its page played by `page`):
/// user-frontend's check and its `backend-unreachable` cause.
fn fe001_backend_unreachable(lab: &Lab, page: &support::fixture::Fixture) -> (Value, Value) {
    let (mut cmd, dir) = doctor();
    let toml = format!(
        "[services.user-frontend]\ncontainer = \"{}\"\nurl = \"{}\"\n\n[services.user-api]\ncontainer = \"{}\"\n",
        lab.name("user-frontend"),
        page.url(),
        lab.name("user-api")
    );
    std::fs::write(dir.path().join("doctor.toml"), toml).unwrap();
    let v = json(&run(cmd.args(["frontend", "--only", "FE001", "--format", "json", "--timeout", "3s"])));
    let fe = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["target"].as_str().unwrap_or("").starts_with("user-frontend"))
        .unwrap()
        .clone();
    let cause = fe["causes"].as_array().unwrap().iter().find(|c| c["id"] == "backend-unreachable").unwrap().clone();
    (fe, cause)
}

#[test]
fn a_frontend_on_a_network_without_the_api_is_backend_unreachable() {
    let Some(lab) = Lab::new() else { return };
    let page = support::fixture::Fixture::start(&[]);
    sleeper(&lab, "user-api", vec![], vec![("back".into(), vec!["user-api".into()])]);
    sleeper(
        &lab,
        "user-frontend",
        vec![("API_URL".into(), "http://user-api:8001".into())],
        vec![("front".into(), vec![])],
    );
    let (fe, cause) = fe001_backend_unreachable(&lab, &page);
    assert_eq!(cause["verdict"], "confirmed", "{fe:#}");
    assert!(cause["evidence"].as_str().unwrap().contains("no network in common"), "{fe:#}");
}

#[test]
fn a_docker_name_in_a_browser_side_url_is_backend_unreachable() {
    let Some(lab) = Lab::new() else { return };
    let page = support::fixture::Fixture::start(&[]);
    sleeper(&lab, "user-api", vec![], vec![("app".into(), vec!["user-api".into()])]);
    // Server-side API_URL by the compose name is right; the same name in NEXT_PUBLIC_* is built
    // into the page and the browser cannot resolve it.
    sleeper(
        &lab,
        "user-frontend",
        vec![
            ("API_URL".into(), "http://user-api:8001".into()),
            ("NEXT_PUBLIC_API_URL".into(), "http://user-api:8001".into()),
        ],
        vec![("app".into(), vec![])],
    );
    let (fe, cause) = fe001_backend_unreachable(&lab, &page);
    assert_eq!(cause["verdict"], "confirmed", "{fe:#}");
    let ev = cause["evidence"].as_str().unwrap();
    assert!(ev.contains("NEXT_PUBLIC_API_URL=user-api:8001") && ev.contains("cannot resolve the Docker name"), "{ev}");
    // The server-side variable is not among the broken links.
    assert!(!ev.contains(&format!("{} API_URL=", lab.name("user-frontend"))), "{ev}");
}

#[test]
fn verifiers_that_expect_another_algorithm_or_jwks_path_are_named() {
    let Some(lab) = Lab::new() else { return };
    let fx = support::fixture::Fixture::start(&[]);
    sleeper(&lab, "auth-service", vec![("JWT_ALGORITHM".into(), "RS256".into())], vec![]);
    sleeper(
        &lab,
        "user-api",
        vec![("JWT_ALGORITHM".into(), "HS256".into()), ("JWKS_URL".into(), "http://auth-service:8002/jwks".into())],
        vec![],
    );
    let v = json(&doctor_in(&lab, "", &["auth", "--url", &fx.url(), "--only", "AU002"], &[]));
    assert_eq!(verdict(&v, "AU002", "signature-mismatch"), "confirmed", "{:#}", check(&v, "AU002"));
    assert!(evidence(&v, "AU002", "signature-mismatch").contains("JWT_ALGORITHM=HS256"));
    assert_eq!(verdict(&v, "AU002", "jwks-unreachable"), "suspected");
    assert!(evidence(&v, "AU002", "jwks-unreachable").contains("JWKS_URL=http://auth-service:8002/jwks"));
}

#[test]
fn doctor_all_on_a_broken_stack_puts_the_root_cause_first_and_skips_its_dependents() {
    let Some(lab) = Lab::new() else { return };
    let port = postgres(&lab, vec![]);
    lab.stop("postgres");
    let url = format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/authdb");
    let out = doctor_in(&lab, "", &["all"], &[("DATABASE_URL", url.as_str())]);
    let v = json(&out);
    assert_eq!(out.code, 2);
    assert_eq!(v["root_causes"][0]["code"], "DK002", "{:#}", v["root_causes"]);
    assert!(v["root_causes"][0]["explains"].as_array().unwrap().iter().any(|c| c == "PG001"), "{:#}", v["root_causes"]);
    assert_eq!(v["checks"][0]["code"], "DK002", "the root cause comes first");
    assert_eq!(verdict(&v, "PG001", "container-stopped"), "confirmed");
    for code in ["PG002", "PG003", "PG004"] {
        assert_eq!(check(&v, code)["status"], "skipped", "{:#}", check(&v, code));
        assert!(check(&v, code)["summary"].as_str().unwrap().contains("PG001"), "{:#}", check(&v, code));
    }
    assert!(!out.combined().contains(PG_PASSWORD));
}

#[test]
fn secrets_from_containers_tokens_cookies_and_logs_never_come_out() {
    let Some(lab) = Lab::new() else { return };
    let api = support::fixture::Fixture::start(&[]);
    let bff = support::fixture::Fixture::start(&["role=bff", &format!("upstream={}", api.url())]);
    let token = api.token("exp=600");
    let log_url = "postgresql://app:Lab-Log-Secret-3c@postgres:5432/apidb";
    sleeper(
        &lab,
        "auth-service",
        vec![
            ("JWT_SECRET_KEY".into(), "Lab-Env-Secret-1a".into()),
            ("REDIS_URL".into(), "redis://:Lab-Redis-Url-Secret-4d@redis:6379/0".into()),
        ],
        vec![("net".into(), vec![])],
    );
    lab.run(ContainerSpec {
        name: "user-api".into(),
        image: image(Image::Busybox),
        env: vec![
            ("DATABASE_URL".into(), "postgresql://app:Lab-Url-Secret-2b@postgres:5432/apidb".into()),
            ("API_KEY".into(), "Lab-Api-Key-Secret-5e".into()),
            (
                "LOG_LINE".into(),
                format!("connection to {log_url} failed: FATAL:  password authentication failed for user \"app\""),
            ),
            ("BEARER_LINE".into(), format!("GET /api/users/profile Authorization: Bearer {token}")),
        ],
        networks: vec![("net".into(), vec![])],
        cmd: vec!["sh".into(), "-c".into(), "echo \"$LOG_LINE\"; echo \"$BEARER_LINE\"; exec sleep 3600".into()],
        ..Default::default()
    });
    lab.wait_log("user-api", "password authentication failed");
    let secrets = [
        "Lab-Env-Secret-1a",
        "Lab-Redis-Url-Secret-4d",
        "Lab-Url-Secret-2b",
        "Lab-Api-Key-Secret-5e",
        "Lab-Log-Secret-3c",
        "testpass",
        token.as_str(),
        token.rsplit('.').next().unwrap(),
    ];
    let mut toml = format!(
        "[services.auth-service]\nurl = \"{0}\"\ncontainer = \"{1}\"\n[services.user-api]\nurl = \"{0}\"\ncontainer = \"{2}\"\n\
         [services.user-frontend]\nurl = \"{3}\"\n[services.admin-frontend]\nurl = \"{3}\"\n",
        api.url(),
        lab.name("auth-service"),
        lab.name("user-api"),
        bff.url()
    );
    toml.push_str(&format!("[services.postgres]\ncontainer = \"{}\"\n", lab.name("postgres")));
    for format in ["table", "json", "junit", "markdown"] {
        let (mut cmd, dir) = doctor();
        std::fs::write(dir.path().join("doctor.toml"), &toml).unwrap();
        let facts = dir.path().join("facts.json");
        cmd.env("DOCTOR_LOGIN_USERNAME", "testuser").env("DOCTOR_LOGIN_PASSWORD", "testpass");
        cmd.args(["all", "-v", "--timeout", "3s", "--format", format, "--dump-facts"]).arg(&facts);
        let out = run(&mut cmd);
        let dumped = std::fs::read_to_string(&facts).unwrap_or_default();
        assert!(dumped.contains("password authentication failed"), "the log line is evidence: {format}");
        for secret in secrets {
            assert!(!out.combined().contains(secret), "{format}: {secret} leaked:\n{}", out.combined());
            assert!(!dumped.contains(secret), "{format}: {secret} leaked into --dump-facts");
        }
    }
    // A token on stdin, and triage of the container's log.
    let (mut cmd, dir) = doctor();
    std::fs::write(dir.path().join("doctor.toml"), &toml).unwrap();
    let out = support::run_with_stdin(cmd.args(["auth", "--token", "-", "-v"]), &token);
    for secret in secrets {
        assert!(!out.combined().contains(secret), "auth --token: {secret} leaked:\n{}", out.combined());
    }
    let (mut cmd, _d) = doctor();
    let out = run(cmd.args(["triage", "--container", &lab.name("user-api")]));
    assert!(out.stdout.contains("PG001"), "{}", out.stdout);
    for secret in secrets {
        assert!(!out.combined().contains(secret), "triage: {secret} leaked:\n{}", out.combined());
    }
}

/// The spec's Redis in miniature: `maxmemory` equal to the container's limit (64mb in 64m).
/// Before anything happens the verdict is confirmed but the check stays ok; filling it, the
/// kernel kills Redis before Redis can refuse or evict, and the kill confirms it as an alarm.
#[test]
fn maxmemory_equal_to_the_container_limit_is_confirmed_and_the_kernel_kills_redis_first() {
    let Some(lab) = Lab::new() else { return };
    lab.run(ContainerSpec {
        name: "redis".into(),
        image: image(Image::Redis),
        memory: Some("64m".into()),
        restart: Some("always".into()),
        publish: vec!["127.0.0.1:0:6379".into()],
        cmd: ["--maxmemory", "64mb", "--maxmemory-policy", "volatile-ttl"].map(String::from).to_vec(),
        ..Default::default()
    });
    lab.wait_redis_ready("redis");
    let url = || format!("redis://127.0.0.1:{}", lab.published_port("redis", 6379));
    let v = json(&doctor_in(&lab, "", &["redis", "--url", &url()], &[]));
    let rd002 = check(&v, "RD002");
    assert_eq!(verdict(&v, "RD002", "maxmemory-over-container-limit"), "confirmed", "{rd002:#}");
    assert!(evidence(&v, "RD002", "maxmemory-over-container-limit").contains("is not below the redis container's"));
    assert_eq!(rd002["status"], "ok", "a design risk alone raises no alarm: {rd002:#}");

    // 120 MB of keys without a TTL: volatile-ttl could evict none of them, but the kernel does
    // not wait for Redis to refuse. The set-up writes through redis-cli; doctor never does.
    let fill = "for i=1,120 do redis.call('set','big:'..i, string.rep('x',1048576)) end";
    let _ = lab.exec("redis", &["redis-cli", "eval", fill, "0"]);
    lab.wait_oom_event("redis");
    lab.wait_redis_ready("redis");
    let v = json(&doctor_in(&lab, "", &["redis", "--url", &url()], &[]));
    let rd002 = check(&v, "RD002");
    assert_eq!(verdict(&v, "RD002", "maxmemory-over-container-limit"), "confirmed", "{rd002:#}");
    assert!(evidence(&v, "RD002", "maxmemory-over-container-limit").contains("OOM-killed Redis"), "{rd002:#}");
    assert_ne!(rd002["status"], "ok", "{rd002:#}");
}

/// Issue 13, a crash at start: postgres whose data directory is not empty (and holds no
/// cluster) exits at once with initdb's reason in its log. DK002 carries the last log lines,
/// and the first screen (the compact table) and the Markdown report show the initdb line.
#[test]
fn a_crash_at_start_shows_the_line_that_explains_it() {
    let Some(lab) = Lab::new() else { return };
    let script = "mkdir -p /var/lib/pgx && echo stray > /var/lib/pgx/leftover && PGDATA=/var/lib/pgx exec /entrypoint.sh postgres";
    lab.run(ContainerSpec {
        name: "postgres".into(),
        image: image(Image::Postgres),
        env: vec![("POSTGRES_PASSWORD".into(), PG_PASSWORD.into())],
        entrypoint: Some("sh".into()),
        cmd: vec!["-c".into(), script.into()],
        ..Default::default()
    });
    lab.wait_until("postgres", "exited", |i| i["State"]["Status"] == "exited");
    // A generous timeout: on a busy machine the tail may take a while, and a tail cut short is
    // (rightly) not shown at all.
    let v = json(&doctor_in(&lab, "", &["docker", "--timeout", "15s"], &[]));
    let last = &check(&v, "DK002")["evidence"]["last_log_lines"];
    let lines: Vec<&str> =
        last[lab.name("postgres")].as_array().into_iter().flatten().filter_map(|l| l.as_str()).collect();
    assert!(
        lines.iter().any(|l| l.contains("initdb: error:") && l.contains("not empty")),
        "{last:#}\n{}",
        lab.logs("postgres")
    );
    // The first screen of `doctor all`: the crash is the root cause, with initdb's line under it.
    let doctor_all = |args: &[&str], env: &[(&str, &str)]| doctor_as(&lab, "", args, env);
    let screens =
        first_screen::check("crash-at-start", &["all", "--timeout", "15s"], &doctor_all, &[(lab.prefix(), "dl-<lab>")]);
    assert_eq!(screens.exit_code, 2);
    assert_eq!(screens.json["root_causes"][0]["code"], "DK002", "{:#}", screens.json["root_causes"]);
    for (lang, width, text) in &screens.tables {
        assert!(text.contains("initdb: error:"), "{lang} {width}:\n{text}");
    }
    for format in ["table", "markdown"] {
        let (mut cmd, dir) = doctor();
        let mut toml = String::new();
        for s in SERVICES {
            toml.push_str(&format!("[services.{s}]\ncontainer = \"{}\"\n\n", lab.name(s)));
        }
        std::fs::write(dir.path().join("doctor.toml"), toml).unwrap();
        let out = run(cmd.args(["docker", "--format", format, "--timeout", "15s"]).env("COLUMNS", "120"));
        assert!(
            out.stdout.contains("initdb: error: directory \"/var/lib/pgx\" exists but is not empty"),
            "{format}:\n{}",
            out.stdout
        );
        assert!(!out.combined().contains(PG_PASSWORD));
    }
}

/// Issue 13, nothing running: the engine answers, no container of the stack exists. One root
/// cause (DK002) with one fix that creates them; everything that cannot run without them folds
/// under it or is skipped, and the whole screen stays short.
#[test]
fn nothing_running_is_one_root_cause_on_a_short_first_screen() {
    let Some(lab) = Lab::new() else { return };
    let run = |args: &[&str], env: &[(&str, &str)]| doctor_as(&lab, "", args, env);
    let screens = first_screen::check("nothing-running", &["all"], &run, &[(lab.prefix(), "dl-<lab>")]);
    assert_eq!(screens.exit_code, 2);
    let roots = screens.json["root_causes"].as_array().unwrap();
    assert_eq!(roots.len(), 1, "{roots:#?}");
    assert_eq!(roots[0]["code"], "DK002");
    assert_eq!(verdict(&screens.json, "DK002", "container-missing"), "confirmed");
    for (lang, width, text) in &screens.tables {
        assert!(text.lines().count() <= 40, "{lang} {width}: {} lines:\n{text}", text.lines().count());
        // Nothing is done inside a container that does not exist.
        assert!(!text.contains("docker exec") && !text.contains("CONFIG SET"), "{lang} {width}:\n{text}");
    }
}

/// A busybox sleeper standing in for a service, with mounts and log options of its own.
fn sleeper_with(lab: &Lab, name: &str, extra: ContainerSpec) {
    lab.run(ContainerSpec {
        name: name.into(),
        image: image(Image::Busybox),
        cmd: vec!["sleep".into(), "3600".into()],
        ..extra
    });
}

fn capped_logs() -> ContainerSpec {
    ContainerSpec {
        log_driver: Some("json-file".into()),
        log_opts: vec!["max-size=10m".into(), "max-file=3".into()],
        ..Default::default()
    }
}

#[test]
fn a_volume_of_the_stack_filled_past_95_percent_is_dk003_volume_nearly_full() {
    let Some(lab) = Lab::new() else { return };
    // A small filesystem of its own: an 8 MB tmpfs volume, mounted by the stack's postgres.
    let vol = lab
        .volume("pgdata", &["--driver", "local", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=8m"]);
    sleeper_with(&lab, "postgres", ContainerSpec { volumes: vec![format!("{vol}:/data")], ..capped_logs() });
    let dk003 = |lab: &Lab| json(&doctor_in(lab, "", &["docker", "--only", "DK003"], &[]));
    let v = dk003(&lab);
    assert_eq!(verdict(&v, "DK003", "volume-nearly-full"), "ruled-out", "{:#}", check(&v, "DK003"));
    let ev = evidence(&v, "DK003", "volume-nearly-full");
    assert!(ev.contains(&format!("volume {vol} ")) && ev.contains(&lab.name("postgres")), "{ev}");
    assert_eq!(verdict(&v, "DK003", "container-logs-unbounded"), "ruled-out", "{:#}", check(&v, "DK003"));
    assert_eq!(check(&v, "DK003")["status"], "ok", "{:#}", check(&v, "DK003"));

    let fill = "dd if=/dev/zero of=/data/fill bs=1024 count=9000 2>/dev/null || head -c 9000000 /dev/zero > /data/fill; df /data";
    lab.exec("postgres", &["sh", "-c", fill]);
    let v = dk003(&lab);
    assert_eq!(verdict(&v, "DK003", "volume-nearly-full"), "confirmed", "{:#}", check(&v, "DK003"));
    let ev = evidence(&v, "DK003", "volume-nearly-full");
    assert!(ev.contains(&format!("volume {vol} 100% used")), "{ev}");
    assert!(ev.contains(&format!("used by {}", lab.name("postgres"))), "{ev}");
    assert_eq!(check(&v, "DK003")["status"], "critical");
    // In the timeline too, as of this run (a disk that fills logs no event).
    let full: Vec<&Value> =
        v["timeline"]["entries"].as_array().unwrap().iter().filter(|e| e["kind"] == "disk-nearly-full").collect();
    assert_eq!(full.len(), 1, "{:#}", v["timeline"]);
    assert!(full[0]["summary"].as_str().unwrap().contains(&vol), "{:#}", full[0]);
    assert_eq!(full[0]["fault"], true);
    // The engine's data root is another filesystem, measured for itself.
    assert_ne!(verdict(&v, "DK003", "data-root-nearly-full"), "unchecked", "{:#}", check(&v, "DK003"));
}

#[test]
fn json_file_logs_without_max_size_are_dk003_container_logs_unbounded() {
    let Some(lab) = Lab::new() else { return };
    sleeper_with(&lab, "redis", capped_logs());
    let dk003 = |lab: &Lab| json(&doctor_in(lab, "", &["docker", "--only", "DK003"], &[]));
    let v = dk003(&lab);
    assert_eq!(verdict(&v, "DK003", "container-logs-unbounded"), "ruled-out", "{:#}", check(&v, "DK003"));
    assert!(evidence(&v, "DK003", "container-logs-unbounded").contains("10m×3"), "{:#}", check(&v, "DK003"));

    sleeper_with(&lab, "postgres", ContainerSpec { log_driver: Some("json-file".into()), ..Default::default() });
    let v = dk003(&lab);
    assert_eq!(verdict(&v, "DK003", "container-logs-unbounded"), "confirmed", "{:#}", check(&v, "DK003"));
    let ev = evidence(&v, "DK003", "container-logs-unbounded");
    assert!(ev.contains(&lab.name("postgres")) && !ev.contains(&lab.name("redis")), "{ev}");
    // A design risk while the disk has room: said as advice, the status stays ok.
    let c = check(&v, "DK003");
    if verdict(&v, "DK003", "data-root-nearly-full") == "ruled-out" {
        assert_eq!(c["status"], "ok", "{c:#}");
        assert!(c["advice"][0].as_str().unwrap_or("").contains("without max-size"), "{c:#}");
    }
}
