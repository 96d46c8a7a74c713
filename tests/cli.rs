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
    for needle in ["Examples:", "doctor explain", "Exit codes", "--threshold", "postgres", "redis"] {
        assert!(out.stdout.contains(needle), "--help lacks {needle}");
    }
    assert_eq!(doc(&["--version"]).code, 0);
    assert_eq!(doc(&["postgres", "--help"]).code, 0);
}

#[test]
fn usage_errors_exit_3_with_one_clear_message() {
    for (args, needle) in [
        (vec!["frobnicate"], "frobnicate"),
        (vec!["explain", "PG002", "--format", "yaml"], "unknown format \"yaml\""),
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
    assert_eq!(v["problems"].as_array().unwrap().len(), 22, "the 21 of the contract and DK002");
    let ja = doc(&["list", "--lang", "ja"]);
    assert!(ja.stdout.contains("接続数が上限に達している"), "{}", ja.stdout);
    let (mut cmd, _dir) = doctor();
    let out = run(cmd.env("DOCTOR_LANG", "").env("LANG", "ja_JP.UTF-8").args(["explain", "RD002"]));
    assert!(out.stdout.contains("原因と対処"), "{}", out.stdout);
    assert_eq!(doc(&["list", "redis"]).stdout.matches("RD00").count(), 3);
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
