//! Live Redis scenarios: each test starts its own throwaway redis-server, reproduces one fault of
//! the runbook for real, runs the `doctor` binary and asserts the verdict.

mod support;

use support::report::{cause, check, json, status, verdict};

use support::{Output, RedisServer, doctor, run};

const PASSWORD: &str = "redis-Pw-51d0c3";

fn doctor_redis(args: &[&str]) -> Output {
    let (mut cmd, _dir) = doctor();
    cmd.args(["redis", "--no-docker", "--format", "json"]).args(args);
    run(&mut cmd)
}

fn fill(r: &RedisServer, n: usize, size: usize) -> String {
    let value = "x".repeat(size);
    r.pipe(&(0..n).map(|i| format!("SET cache:{i} {value}\n")).collect::<String>())
}

#[test]
fn healthy_redis_with_a_password_is_ok() {
    let Some(r) = RedisServer::start(&["--requirepass", PASSWORD]) else { return };
    let out = doctor_redis(&["--url", &r.url()]);
    let v = json(&out);
    assert_eq!(out.code, 0, "{}", out.stdout);
    for code in ["RD001", "RD002", "RD003"] {
        assert_eq!(status(&v, code), "ok", "{code}");
    }
    assert!(!out.combined().contains(PASSWORD));
}

#[test]
fn wrong_password_is_confirmed() {
    let Some(r) = RedisServer::start(&["--requirepass", PASSWORD]) else { return };
    let out = doctor_redis(&["--url", &format!("redis://:Wrong-Planted-1@127.0.0.1:{}", r.port)]);
    let v = json(&out);
    assert_eq!(out.code, 2);
    assert_eq!(verdict(&v, "RD001", "wrong-password"), "confirmed");
    assert_eq!(check(&v, "RD001")["evidence"]["error"], "wrong-password");
    assert_eq!(status(&v, "RD002"), "skipped");
    assert!(!out.combined().contains("Wrong-Planted-1"));
}

#[test]
fn no_password_against_requirepass_is_noauth() {
    let Some(r) = RedisServer::start(&["--requirepass", PASSWORD]) else { return };
    let v = json(&doctor_redis(&["--url", &format!("redis://127.0.0.1:{}", r.port)]));
    assert_eq!(check(&v, "RD001")["evidence"]["error"], "no-auth");
    assert_eq!(verdict(&v, "RD001", "wrong-password"), "confirmed");
}

#[test]
fn the_password_in_the_user_name_slot_is_pointed_out() {
    let Some(r) = RedisServer::start(&["--requirepass", PASSWORD]) else { return };
    let out = doctor_redis(&["--url", &format!("redis://{PASSWORD}@127.0.0.1:{}", r.port)]);
    let v = json(&out);
    assert_eq!(out.code, 2);
    assert_eq!(verdict(&v, "RD001", "bad-redis-url"), "suspected", "{:#}", check(&v, "RD001"));
    assert!(
        cause(&v, "RD001", "bad-redis-url")["evidence"].as_str().unwrap().contains("redis://:<password>@host:6379")
    );
    assert!(!out.combined().contains(PASSWORD));
}

#[test]
fn the_password_from_redis_password_is_used_by_default_and_never_shown() {
    let Some(r) = RedisServer::start(&["--requirepass", PASSWORD]) else { return };
    let (mut cmd, dir) = doctor();
    std::fs::write(dir.path().join(".env"), format!("REDIS_PASSWORD={PASSWORD}\n")).unwrap();
    std::fs::write(
        dir.path().join("doctor.toml"),
        format!("[services.redis]\nurl = \"redis://127.0.0.1:{}\"\n", r.port),
    )
    .unwrap();
    cmd.args(["redis", "-v", "--no-docker"]);
    let out = run(&mut cmd);
    // doctor.toml names where Redis is; REDIS_PASSWORD (from .env) supplies the password.
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("url from doctor.toml"), "{}", out.stderr);
    assert!(!out.combined().contains(PASSWORD));
}

#[test]
fn nothing_listening_suspects_a_stopped_container() {
    let port = support::free_port();
    let v = json(&doctor_redis(&["--url", &format!("redis://127.0.0.1:{port}")]));
    assert_eq!(check(&v, "RD001")["evidence"]["error"], "refused");
    assert_eq!(verdict(&v, "RD001", "container-stopped"), "suspected");
}

#[test]
fn a_malformed_url_is_rd001_bad_redis_url() {
    for (url, needle) in [
        ("http://127.0.0.1:6379", "scheme"),
        ("redis://127.0.0.1:70000", "out of range"),
        ("redis://:pw@127.0.0.1:6379/notanumber", "not a number"),
    ] {
        let out = doctor_redis(&["--url", url]);
        let v = json(&out);
        assert_eq!(out.code, 2, "{url}");
        assert_eq!(verdict(&v, "RD001", "bad-redis-url"), "confirmed");
        assert!(check(&v, "RD001")["summary"].as_str().unwrap().contains(needle), "{url}");
    }
}

#[test]
fn full_under_noeviction_confirms_the_policy() {
    let Some(r) = RedisServer::start(&["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"]) else { return };
    let replies = fill(&r, 400, 10_000);
    assert!(replies.contains("OOM"), "the fault was not reproduced");
    let out = doctor_redis(&["--url", &r.url()]);
    let v = json(&out);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert_eq!(status(&v, "RD002"), "critical");
    assert_eq!(verdict(&v, "RD002", "no-eviction-policy"), "confirmed");
    assert_eq!(verdict(&v, "RD002", "maxmemory-too-low"), "confirmed");
    assert!(check(&v, "RD002")["evidence"]["oom_errors"].as_u64().unwrap() > 0);
}

#[test]
fn evictions_under_allkeys_lru_lower_the_hit_rate() {
    let Some(r) = RedisServer::start(&["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"]) else { return };
    fill(&r, 600, 10_000);
    r.pipe(&(0..600).map(|i| format!("GET cache:{i}\n")).collect::<String>());
    let out = doctor_redis(&["--url", &r.url()]);
    let v = json(&out);
    assert_eq!(status(&v, "RD003"), "warning", "{:#}", check(&v, "RD003"));
    assert_eq!(verdict(&v, "RD003", "evictions"), "confirmed");
    assert_eq!(verdict(&v, "RD003", "no-warmup"), "suspected", "a server started seconds ago");
    assert_eq!(status(&v, "RD002"), "warning");
    assert_eq!(verdict(&v, "RD002", "no-eviction-policy"), "ruled-out");
}

#[test]
fn bigkeys_names_the_big_key_and_only_reads() {
    let Some(r) = RedisServer::start(&[]) else { return };
    let mut load = String::new();
    for i in 0..3000 {
        load.push_str(&format!("SET small:{i} v EX 3600\n"));
    }
    for i in 0..20_000 {
        load.push_str(&format!("HSET huge:hash f{i} {}\n", "y".repeat(64)));
    }
    r.pipe(&load);
    r.cli(&["CONFIG", "RESETSTAT"]);
    let out = doctor_redis(&["--url", &r.url(), "--bigkeys", "--scan-count", "100"]);
    let v = json(&out);
    assert_eq!(verdict(&v, "RD002", "big-keys"), "confirmed", "{:#}", check(&v, "RD002"));
    let ev = cause(&v, "RD002", "big-keys")["evidence"].as_str().unwrap();
    assert!(ev.contains("huge:hash (hash"), "{ev}");
    assert_eq!(check(&v, "RD002")["evidence"]["bigkeys"]["scanned"], 3001);
    assert_eq!(check(&v, "RD002")["evidence"]["bigkeys"]["complete"], true);

    let read_only = [
        "info",
        "scan",
        "type",
        "memory|usage",
        "ttl",
        "hello",
        "client|setinfo",
        "ping",
        "auth",
        "select",
        "config|resetstat",
    ];
    let used = r.assert_only_commands(&read_only);
    assert!(used.iter().any(|c| c == "scan") && !used.iter().any(|c| c == "keys"));
}
