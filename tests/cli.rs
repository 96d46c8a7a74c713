//! The command line as scripts and people meet it: help, exit codes, bad input of every kind,
//! `explain` and `list`, options before or after the command. No server is needed.

mod support;

use serde_json::Value;
use support::{doctor, run};

fn doc(args: &[&str]) -> support::Output {
    let (mut cmd, _dir) = doctor();
    cmd.args(args);
    run(&mut cmd)
}

#[test]
fn help_teaches_and_exits_0() {
    let out = doc(&["--help"]);
    assert_eq!(out.code, 0);
    for needle in
        ["Examples:", "doctor explain", "Exit codes", "--threshold", "postgres", "redis", "nagios", "prometheus"]
    {
        assert!(out.stdout.contains(needle), "--help lacks {needle}");
    }
    let v = doc(&["--version"]);
    assert_eq!(v.code, 0);
    // `doctor 0.1.0 (commit <short hash or unknown>, built YYYY-MM-DD)`, the hash HEAD's.
    let line = v.stdout.trim();
    let rest = line
        .strip_prefix(concat!("doctor ", env!("CARGO_PKG_VERSION"), " (commit "))
        .unwrap_or_else(|| panic!("{line}"));
    let (commit, date) =
        rest.strip_suffix(')').and_then(|r| r.split_once(", built ")).unwrap_or_else(|| panic!("{line}"));
    let head = std::process::Command::new("git").args(["rev-parse", "--short", "HEAD"]).output().ok();
    match head.filter(|o| o.status.success()) {
        Some(o) => assert_eq!(commit, String::from_utf8_lossy(&o.stdout).trim(), "{line}"),
        None => assert_eq!(commit, "unknown", "{line}"),
    }
    let d: Vec<&str> = date.split('-').collect();
    assert!(d.len() == 3 && d[0].len() == 4 && d[1].len() == 2 && d[2].len() == 2, "{line}");
    assert!(d.iter().all(|p| p.chars().all(|c| c.is_ascii_digit())) && d[0] >= "2025", "{line}");
    assert_eq!(doc(&["postgres", "--help"]).code, 0);
}

#[test]
fn usage_errors_exit_3_with_one_clear_message() {
    for (args, needle) in [
        (vec!["frobnicate"], "frobnicate"),
        (vec!["explain", "PG002", "--format", "yaml"], "unknown format \"yaml\""),
        (vec!["explain", "PG002", "--format", "xml"], "JUnit XML is --format junit"),
        (vec!["explain", "PG002", "--format", "openmetrics"], "--format prometheus"),
        (vec!["explain", "PG002", "--lang", "fr"], "unknown language \"fr\""),
        (vec!["postgres", "--timeout", "soon"], "not a duration"),
        (vec!["postgres", "--threshold", "nope=1"], "unknown threshold \"nope\""),
        (vec!["postgres", "--threshold", "long_query=fast"], "long_query"),
        (vec!["redis", "--wait", "later"], "--wait"),
        (vec![], "Usage"),
    ] {
        let out = doc(&args);
        assert_eq!(out.code, 3, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked") && !out.stderr.contains("RUST_BACKTRACE"), "{}", out.stderr);
    }
}

#[test]
fn malformed_config_files_name_file_and_line() {
    let (mut cmd, dir) = doctor();
    std::fs::write(dir.path().join("doctor.toml"), "[thresholds]\nlong_query = \"30s\"\n[services.postgres\n").unwrap();
    let out = run(cmd.args(["postgres"]));
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("doctor.toml:3:"), "{}", out.stderr);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);

    let (mut cmd, dir) = doctor();
    std::fs::write(dir.path().join(".env"), "POSTGRES_PASSWORD=Planted-Env-Secret\nthis line is wrong\n").unwrap();
    let out = run(cmd.args(["redis"]));
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains(".env:2: expected NAME=value"), "{}", out.stderr);
    assert!(!out.combined().contains("Planted-Env-Secret"));

    let (mut cmd, _dir) = doctor();
    let out = run(cmd.args(["redis", "--env-file", "/nonexistent/.env"]));
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("/nonexistent/.env"), "{}", out.stderr);
}

#[test]
fn explain_finds_the_problem_from_an_error_text() {
    let out = doc(&["explain", "FATAL: sorry, too many clients already"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with("PG002"), "{}", out.stdout);
    assert!(out.stdout.contains("idle-connections") && out.stdout.contains("pg_terminate_backend"));

    // Options after the command, words unquoted, client prefixes and variable parts.
    let out = doc(&[
        "explain",
        "sqlalchemy.exc.OperationalError:",
        "(psycopg2.OperationalError)",
        "FATAL:",
        "password authentication failed for user \"svc_x\"",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["schema"], "doctor.catalogue/v1");
    assert_eq!(v["problems"][0]["code"], "PG001");
    for key in ["code", "area", "title", "symptoms", "causes"] {
        assert!(v["problems"][0].get(key).is_some(), "{key}");
    }
    assert!(v["problems"][0]["causes"][0].get("remedy").is_some());
}

#[test]
fn explain_says_when_a_pasted_line_is_no_symptom_of_the_runbook() {
    // A harmless PostgreSQL line: answered by wording, with a note that it is no known symptom.
    let out = doc(&["explain", "LOG:  connection authorized: user=app database=authdb"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("no symptom line of the runbook matches this text"), "{}", out.stderr);
    // A real symptom line: no note, and its problem first.
    let out = doc(&["explain", "INFO: 10.0.0.1:1 - \"GET /api/users/profile HTTP/1.1\" 404 Not Found"]);
    assert!(!out.stderr.contains("no symptom line"), "{}", out.stderr);
    let first = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with(|c: char| c.is_ascii_uppercase()) && !l.starts_with("Best"));
    assert!(first.is_some_and(|l| l.trim_start().starts_with("API002")), "{}", out.stdout);
}

#[test]
fn explain_with_no_match_exits_3() {
    let out = doc(&["explain", "the quick brown fox"]);
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("doctor list"), "{}", out.stderr);
    let out = doc(&["--format", "json", "explain", "zzz qqq"]);
    assert_eq!(out.code, 3);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
}

#[test]
fn list_covers_the_whole_catalogue_in_both_languages() {
    let out = doc(&["list", "--format", "json"]);
    assert_eq!(out.code, 0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    // Every problem of the registry, as `--help` lists them per area.
    let help = doc(&["--help"]).stdout;
    let problems = v["problems"].as_array().unwrap();
    assert!(problems.len() >= 22, "the 21 of the contract and DK002");
    for p in problems {
        assert!(help.contains(p["code"].as_str().unwrap()), "--help lacks {}", p["code"]);
    }
    let ja = doc(&["list", "--lang", "ja"]);
    assert!(ja.stdout.contains("接続数が上限に達している"), "{}", ja.stdout);
    let (mut cmd, _dir) = doctor();
    let out = run(cmd.env("DOCTOR_LANG", "").env("LANG", "ja_JP.UTF-8").args(["explain", "RD002"]));
    assert!(out.stdout.contains("原因と対処"), "{}", out.stdout);
    let redis = v["problems"].as_array().unwrap().iter().filter(|p| p["area"] == "redis").count();
    assert_eq!(doc(&["list", "redis"]).stdout.matches("RD00").count(), redis);
    assert_eq!(doc(&["list", "nosuch"]).code, 3);
}

#[test]
fn color_never_reaches_a_pipe() {
    let out = doc(&["postgres", "--url", "postgresql://u:p@127.0.0.1:1/db"]);
    assert!(!out.stdout.contains('\u{1b}'), "ANSI escape in piped output");
}

#[test]
fn triage_maps_a_file_and_stdin_to_problems() {
    let (mut cmd, dir) = doctor();
    let log = dir.path().join("app.log");
    std::fs::write(
        &log,
        "2026-11-28 12:00:00 UTC [1] FATAL:  sorry, too many clients already\n\
         INFO ordinary line\n\
         redis.exceptions.ConnectionError: Error 111 connecting to redis:6379. Connection refused.\n\
         2026-11-28 12:00:01 UTC [2] FATAL:  sorry, too many clients already\n",
    )
    .unwrap();
    let out = run(cmd.args(["triage", log.to_str().unwrap(), "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let hits = v["sources"][0]["hits"].as_array().unwrap();
    assert_eq!(hits[0]["code"], "PG002");
    assert_eq!(hits[0]["count"], 2);
    assert!(hits.iter().any(|h| h["code"] == "RD001"), "{hits:?}");

    let (mut cmd, _dir) = doctor();
    let out = support::run_with_stdin(cmd.args(["triage", "-"]), "Token expired\nnothing here\n");
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("AU002"), "{}", out.stdout);

    let (mut cmd, _dir) = doctor();
    let out = run(cmd.args(["triage", "/nonexistent.log"]));
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("/nonexistent.log"));
}

/// A healthy stack's logs (PostgreSQL with log_connections and log_statement, Redis, uvicorn
/// access and application logs, Next.js, nginx, Prometheus) are no symptom of anything: each
/// line that matched once was a false alarm (a 200 read as a 404, a connection log read as a
/// database error, a logged statement read as a slow one).
#[test]
fn a_healthy_stacks_logs_match_nothing() {
    let log = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixture/logs/healthy.log");
    let (mut cmd, _dir) = doctor();
    let out = run(cmd.args(["triage", log, "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(v["sources"][0]["lines"].as_u64().unwrap() > 50, "{v:#}");
    assert_eq!(v["sources"][0]["hits"], serde_json::json!([]), "{v:#}");
}

fn unreachable_env(cmd: &mut std::process::Command) -> &mut std::process::Command {
    cmd.env("DATABASE_URL", "postgresql://app:Replay-Secret-1@127.0.0.1:1/authdb")
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
}

fn checks_without_timing(v: &Value) -> Vec<Value> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.as_object_mut().unwrap().remove("duration_ms");
            if let Some(e) = c["evidence"].as_object_mut() {
                e.remove("latency_ms");
            }
            c
        })
        .collect()
}

#[test]
fn dumped_facts_replay_to_the_same_report_without_secrets() {
    let (mut cmd, dir) = doctor();
    let dump = dir.path().join("facts.json");
    // Settings diagnosis reads from variables travel in the facts: the replaying machine has none.
    let live = run(unreachable_env(&mut cmd)
        .env("MAX_FILE_SIZE", "10485760")
        .env("JWT_ISS", "https://auth.example.com")
        .args(["all", "--timeout", "1s", "--format", "json", "--dump-facts", dump.to_str().unwrap()]));
    assert_eq!(live.code, 2, "{}", live.stderr);
    let text = std::fs::read_to_string(&dump).unwrap();
    assert!(text.contains("doctor.facts/v1") && !text.contains("Replay-Secret-1"), "facts leak or lack a schema");

    let (mut cmd, _d) = doctor();
    let replay = run(cmd.args(["all", "--format", "json", "--facts", dump.to_str().unwrap()]));
    assert_eq!(replay.code, live.code);
    let (a, b): (Value, Value) =
        (serde_json::from_str(&live.stdout).unwrap(), serde_json::from_str(&replay.stdout).unwrap());
    assert_eq!(checks_without_timing(&a), checks_without_timing(&b));
    let api003 = b["checks"].as_array().unwrap().iter().find(|c| c["code"] == "API003").unwrap();
    assert!(api003["evidence"]["max_file_size"].as_str().unwrap().contains("10 MB"), "{api003:#}");

    let (mut cmd, d2) = doctor();
    std::fs::write(d2.path().join("bad.json"), "{\"schema\": \"other\"}").unwrap();
    let out = run(cmd.args(["all", "--facts", "bad.json"]));
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("schema"), "{}", out.stderr);
}

#[test]
fn only_skip_ignore_and_fail_on_choose_what_runs_and_fails() {
    let (mut cmd, _d) = doctor();
    let out =
        run(unreachable_env(&mut cmd).args(["all", "--timeout", "1s", "--format", "json", "--only", "PG001,RD001"]));
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let codes: Vec<&str> = v["checks"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["PG001", "RD001"]);

    let (mut cmd, dir) = doctor();
    std::fs::write(dir.path().join("doctor.toml"), "[ignore]\nPG001 = \"the database is down for maintenance\"\n")
        .unwrap();
    let out =
        run(unreachable_env(&mut cmd).args(["postgres", "--timeout", "1s", "--format", "json", "--skip", "PG003"]));
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let pg001 = v["checks"].as_array().unwrap().iter().find(|c| c["code"] == "PG001").unwrap();
    assert_eq!(pg001["status"], "skipped");
    assert!(pg001["summary"].as_str().unwrap().contains("maintenance"));
    let pg003 = v["checks"].as_array().unwrap().iter().find(|c| c["code"] == "PG003").unwrap();
    assert_eq!(pg003["summary"], "skipped by --skip");

    let (mut cmd, _d) = doctor();
    let out = run(unreachable_env(&mut cmd).args(["postgres", "--only", "NOPE1"]));
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("unknown problem code"));
    let (mut cmd, _d) = doctor();
    assert_eq!(run(cmd.args(["postgres", "--fail-on", "sometimes"])).code, 3);
}

#[test]
fn fail_on_critical_lets_warnings_pass() {
    // Facts of a Redis at 95% of maxmemory (a warning), replayed: no server needed.
    let (mut cmd, dir) = doctor();
    let facts = serde_json::json!({
        "schema": "doctor.facts/v1", "command": "redis", "areas": ["redis"], "gathered_at": "2026-11-28T12:00:00Z",
        "redis": {
            "target": "redis@127.0.0.1:6379/0", "url": "redis://127.0.0.1:6379", "url_source": "test",
            "url_problem": null, "url_notes": [], "resolution": null, "reached_via": null,
            "conn": {"address": "127.0.0.1:6379", "latency_ms": 1, "result": {"Ok": null}},
            "info": {"version": "7.0.15", "uptime_s": 86400, "used_memory": 95, "used_memory_rss": 0, "maxmemory": 100,
                     "maxmemory_policy": "allkeys-lru", "fragmentation_ratio": 1.0, "evicted_keys": 0, "expired_keys": 0,
                     "keyspace_hits": 0, "keyspace_misses": 0, "connected_clients": 1, "rejected_connections": 0,
                     "oom_errors": 0, "keyspace": {}},
            "bigkeys": null, "errors": [], "timings": []
        },
        "redis_ms": 1, "postgres_ms": 0, "docker_ms": 0, "docker_disabled": true, "auth_ms": 0, "web_ms": 0
    });
    std::fs::write(dir.path().join("f.json"), facts.to_string()).unwrap();
    let out = run(cmd.args(["redis", "--facts", "f.json", "--format", "json"]));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let (mut cmd2, _d2) = doctor();
    let out = run(cmd2.current_dir(dir.path()).args(["redis", "--facts", "f.json", "--fail-on", "critical"]));
    assert_eq!(out.code, 0, "{}", out.stdout);
    // A Nagios plugin's status follows the worst check, --fail-on aside: WARNING, exit 1.
    let (mut cmd3, _d3) = doctor();
    let args = ["redis", "--facts", "f.json", "--fail-on", "critical", "--format", "nagios"];
    let out = run(cmd3.current_dir(dir.path()).args(args));
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.starts_with("DOCTOR WARNING - 1 warning: RD002 "), "{}", out.stdout);
    assert!(out.stdout.lines().next().unwrap().contains(" | critical=0;;;0 "), "{}", out.stdout);
}

/// A live run against nothing (every service unreachable): its JSON report validates against
/// docs/report.schema.json, its Nagios line says CRITICAL and exits 2, and its Prometheus
/// text has one status gauge per check of the JSON report, in the documented scheme.
#[test]
fn monitoring_formats_of_a_live_run_agree_with_the_report() {
    let (mut cmd, _d) = doctor();
    let out = run(unreachable_env(&mut cmd).args(["all", "--timeout", "1s", "--format", "json"]));
    let v = support::report::json(&out); // validates against the schema
    support::json_schema::assert_report(&v);
    assert_eq!(out.code, 2);
    let checks = v["checks"].as_array().unwrap();

    let (mut cmd, _d) = doctor();
    let out = run(unreachable_env(&mut cmd).args(["all", "--timeout", "1s", "--format", "nagios"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    let first = out.stdout.lines().next().unwrap();
    assert!(first.starts_with("DOCTOR CRITICAL - ") && first.contains(" | critical="), "{first}");
    assert!(first.contains("PG001 "), "{first}");
    assert!(!out.stdout.contains("Replay-Secret-1"), "no secret in the plugin output");

    let (mut cmd, _d) = doctor();
    let out = run(unreachable_env(&mut cmd).args(["all", "--timeout", "1s", "--format", "prometheus"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(!out.stdout.contains("Replay-Secret-1"), "no secret in the metrics");
    let gauges: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("doctor_check_status{")).collect();
    assert_eq!(gauges.len(), checks.len(), "{}", out.stdout);
    let pg001 = gauges.iter().find(|l| l.starts_with("doctor_check_status{code=\"PG001\"")).unwrap();
    assert!(pg001.ends_with(" 2"), "PG001 is critical: {pg001}");
    assert!(out.stdout.contains("doctor_run_status{command=\"all\"} 2\n"), "{}", out.stdout);

    let (mut cmd, _d) = doctor();
    let out = run(cmd.args(["stack", "--no-docker", "--format", "prometheus"]));
    assert_eq!(out.code, 3, "stack has no metrics: {}", out.stderr);
}

#[test]
fn completions_and_man_page_come_from_the_same_definitions() {
    for shell in ["bash", "zsh", "fish"] {
        let out = doc(&["completions", shell]);
        assert_eq!(out.code, 0);
        assert!(out.stdout.contains("postgres") && out.stdout.contains("threshold"), "{shell}");
    }
    let man = doc(&["completions", "man"]);
    assert!(man.stdout.contains(".TH doctor") && man.stdout.contains("explain"));
    assert_eq!(doc(&["completions", "tcsh"]).code, 3);
}

/// `doctor stack --no-docker --format json` run in `cwd` with this HOME and environment.
fn stack_in(cwd: &std::path::Path, home: &std::path::Path, env: &[(&str, &str)]) -> support::Output {
    let (mut cmd, _d) = doctor();
    run(cmd.current_dir(cwd).env("HOME", home).envs(env.iter().copied()).args([
        "stack",
        "--no-docker",
        "--format",
        "json",
    ]))
}

#[test]
fn configuration_is_found_upwards_or_from_doctor_config() {
    let root = tempfile::tempdir().unwrap();
    let (top, deep) = (root.path().join("stack"), root.path().join("stack/services/auth"));
    std::fs::create_dir_all(&deep).unwrap();
    let home = root.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    // A pin that shows in the model proves the file was read, not only named.
    std::fs::write(top.join("doctor.toml"), "[services.redis]\nurl = \"redis://cache.internal:6380/0\"\n").unwrap();
    let out = stack_in(&deep, &home, &[]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", out.stdout, out.stderr));
    assert_eq!(v["config_file"], top.join("doctor.toml").display().to_string(), "{v:#}");
    assert!(v.to_string().contains("cache.internal:6380"), "{v:#}");

    // DOCTOR_CONFIG wins over the one found upwards.
    let other = root.path().join("elsewhere.toml");
    std::fs::write(&other, "[services.redis]\nurl = \"redis://other.internal:6381/0\"\n").unwrap();
    let out = stack_in(&deep, &home, &[("DOCTOR_CONFIG", other.to_str().unwrap())]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["config_file"], other.display().to_string());
    assert!(v.to_string().contains("other.internal:6381") && !v.to_string().contains("cache.internal"), "{v:#}");

    // The walk stops at $HOME: a doctor.toml above it is not the user's stack.
    let below_home = home.join("work");
    std::fs::create_dir_all(&below_home).unwrap();
    std::fs::write(root.path().join("doctor.toml"), "[services.redis]\nurl = \"redis://above.home:1/0\"\n").unwrap();
    let v: Value = serde_json::from_str(&stack_in(&below_home, &home, &[]).stdout).unwrap();
    assert!(v.get("config_file").is_none() && !v.to_string().contains("above.home"), "{v:#}");

    // A DOCTOR_CONFIG that names no file is an error naming it.
    let missing = root.path().join("nope.toml");
    let out = stack_in(&deep, &home, &[("DOCTOR_CONFIG", missing.to_str().unwrap())]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains(&format!("DOCTOR_CONFIG={}", missing.display())), "{}", out.stderr);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
}
