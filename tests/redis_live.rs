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
    for code in ["RD001", "RD002"] {
        assert_eq!(status(&v, code), "ok", "{code}");
    }
    // A server nobody has asked anything yet: no hit rate to judge, and RD003 says so.
    assert_eq!(status(&v, "RD003"), "skipped", "{:#}", check(&v, "RD003"));
    assert!(
        check(&v, "RD003")["summary"].as_str().unwrap().starts_with("nothing to judge"),
        "{:#}",
        check(&v, "RD003")
    );
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
    // Around 17%: below the stack's critical 60%.
    assert_eq!(status(&v, "RD003"), "critical", "{:#}", check(&v, "RD003"));
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

    let used = r.assert_only_commands(&RedisServer::read_only_commands());
    assert!(used.iter().any(|c| c == "scan") && !used.iter().any(|c| c == "keys"));
}

/// `redis --bigkeys` as JSON, `evidence.bigkeys` of RD002 without its timing, TTLs to the
/// minute (two runs a second apart see a TTL of 86400 and 86399).
fn bigkeys_of(url: &str) -> serde_json::Value {
    let out = doctor_redis(&["--url", url, "--bigkeys"]);
    let v = json(&out);
    let mut b = check(&v, "RD002")["evidence"]["bigkeys"].clone();
    assert!(b.is_object(), "{:#}", check(&v, "RD002"));
    b.as_object_mut().unwrap().remove("elapsed_ms");
    for k in b["top"].as_array_mut().unwrap() {
        if let Some(t) = k["ttl_s"].as_i64() {
            k["ttl_s"] = ((t + 30) / 60).into();
        }
    }
    b
}

/// `calls=` of one command in `INFO commandstats` (0 when absent).
fn calls(r: &RedisServer, command: &str) -> u64 {
    let stats = r.cli(&["INFO", "commandstats"]);
    let prefix = format!("cmdstat_{command}:calls=");
    stats
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|l| l.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The one-script-per-batch scan and the pipelined fallback give the same answer on the same
/// server (same keys, same scan order): one user may run scripts, the other is denied them by
/// ACL and falls back from the first batch on. Both stay read-only.
#[test]
fn bigkeys_script_and_pipelined_fallback_agree() {
    let Some(r) = RedisServer::start(&[]) else { return };
    let mut load = String::new();
    for i in 0..3000 {
        load.push_str(&format!("SET small:{i} {}\n", "v".repeat(1 + i % 40)));
    }
    for i in 0..2000 {
        load.push_str(&format!("HSET big:hash f{i} {}\n", "h".repeat(50)));
        load.push_str(&format!("RPUSH big:list {}\n", "l".repeat(1 + i % 70)));
        load.push_str(&format!("SADD big:set m{i}\n"));
        load.push_str(&format!("ZADD big:zset {i} m{i}\n"));
    }
    for i in 0..300 {
        load.push_str(&format!("XADD big:stream * f {i}\n"));
        load.push_str(&format!("HSET hash:{i} a 1 b 2\n"));
    }
    load.push_str(&format!("SET big:string {}\n", "s".repeat(400_000)));
    load.push_str("ACL SETUSER noscript on >noscript-pw ~* &* +@all -@scripting\n");
    r.pipe(&load);
    let script_url = r.url();
    let fallback_url = format!("redis://noscript:noscript-pw@127.0.0.1:{}", r.port);
    let read_only = &RedisServer::read_only_commands();
    // Without any expiry (no TTL asked), then with some keys expiring (TTL asked for every key).
    for round in ["no expiry", "with expiries"] {
        if round == "with expiries" {
            r.pipe(&(0..500).map(|i| format!("EXPIRE small:{i} 86400\n")).collect::<String>());
            r.cli(&["EXPIRE", "big:hash", "86400"]);
        }
        r.cli(&["CONFIG", "RESETSTAT"]);
        let by_script = bigkeys_of(&script_url);
        assert!(calls(&r, "eval_ro") > 0, "{round}: the script was not used");
        let scan_calls = calls(&r, "scan");
        r.assert_only_commands(read_only);

        r.cli(&["CONFIG", "RESETSTAT"]);
        let by_pipeline = bigkeys_of(&fallback_url);
        assert_eq!(calls(&r, "eval_ro"), 0, "{round}: the ACL should have refused the script");
        assert!(calls(&r, "scan") > 0 && calls(&r, "type") >= 3000, "{round}: no pipelined scan");
        r.assert_only_commands(read_only);

        assert_eq!(by_script, by_pipeline, "{round}: the two ways disagree");
        assert_eq!(by_script["complete"], true, "{round}");
        assert_eq!(by_script["scanned"], 3000 + 5 + 300 + 1, "{round}");
        assert_eq!(by_script["top"][0]["key"], "big:string", "{round}");
        assert_eq!(by_script["by_type"]["hash"]["keys"], 301, "{round}");
        let without_ttl = if round == "no expiry" { 3306 } else { 3306 - 501 };
        assert_eq!(by_script["without_ttl"], without_ttl, "{round}");
        assert!(scan_calls >= 13, "{round}: {scan_calls} SCANs: script batches are capped at 256 keys");
    }
}

/// A server without `EVAL_RO` (renamed away here, as on Redis < 7 where it is unknown): doctor
/// falls back at the first batch, without an error, and still scans everything.
#[test]
fn bigkeys_without_eval_ro_falls_back_to_the_pipeline() {
    let Some(r) = RedisServer::start(&["--rename-command", "EVAL_RO", ""]) else { return };
    let mut load = String::new();
    for i in 0..2500 {
        load.push_str(&format!("SET k:{i} v EX 3600\n"));
    }
    for i in 0..5000 {
        load.push_str(&format!("HSET huge:hash f{i} {}\n", "y".repeat(64)));
    }
    r.pipe(&load);
    r.cli(&["CONFIG", "RESETSTAT"]);
    let b = bigkeys_of(&r.url());
    assert_eq!(b["complete"], true, "{b:#}");
    assert_eq!(b["stopped"], serde_json::Value::Null, "{b:#}");
    assert_eq!(b["scanned"], 2501);
    assert_eq!(b["without_ttl"], 1);
    assert_eq!(b["top"][0]["key"], "huge:hash");
    assert_eq!(b["by_type"]["string"]["keys"], 2500);
    assert_eq!(calls(&r, "eval_ro"), 0);
    assert!(calls(&r, "type") >= 2501);
}

/// `doctor redis` counts the stack's key families in one SCAN (07-redis/02): sessions, both
/// blacklists, the profile cache, job records by status, the OCR queue's length, the cache's
/// own counters; values are never printed (a session holds tokens). INFO persistence gives the
/// age of the last snapshot by the server's clock.
#[test]
fn the_stacks_key_families_are_counted_in_one_scan_and_no_value_is_shown() {
    let Some(r) = RedisServer::start(&["--save", "900 1"]) else { return };
    let secret = "sess-secret-access-token-4f1e";
    let mut load = String::new();
    for i in 0..40 {
        load.push_str(&format!("SET session:{i}:s{i} '{{\"access_token\":\"{secret}\"}}' EX 3600\n"));
    }
    for i in 0..25 {
        load.push_str(&format!("SET blacklist:access:j{i} 1 EX 900\n"));
    }
    for i in 0..3 {
        load.push_str(&format!("SET blacklist:refresh:r{i} 1 EX 604800\n"));
    }
    for i in 0..10 {
        load.push_str(&format!("SET cache:profile:{i} '{{\"first_name\":\"Taro\"}}' EX 300\n"));
    }
    load.push_str("SET job:status:a '{\"status\":\"failed\",\"error\":\"MemoryError\"}' EX 86400\n");
    load.push_str("SET job:status:b '{\"status\":\"failed\"}' EX 86400\n");
    load.push_str("SET job:status:c '{\"status\":\"completed\"}' EX 86400\n");
    load.push_str("RPUSH queue:document:processing d1 d2 d3\n");
    load.push_str("SET metrics:cache:hits 90\nSET metrics:cache:misses 10\n");
    load.push_str("SET unrelated 1\n");
    r.pipe(&load);
    r.cli(&["SAVE"]);
    r.cli(&["CONFIG", "RESETSTAT"]);
    let facts = tempfile::NamedTempFile::new().unwrap();
    let out = doctor_redis(&["--url", &r.url(), "--dump-facts", facts.path().to_str().unwrap()]);
    assert!(!out.combined().contains(secret) && !out.combined().contains("Taro"));
    let dumped = std::fs::read_to_string(facts.path()).unwrap();
    assert!(!dumped.contains(secret) && !dumped.contains("Taro"), "a value reached the facts");
    let f: serde_json::Value = serde_json::from_str(&dumped).unwrap();
    let app = &f["redis"]["app"];
    let fams = &app["families"]["Ok"];
    assert_eq!(fams["complete"], true, "{fams:#}");
    let fam = |p: &str| fams["families"].as_array().unwrap().iter().find(|x| x["pattern"] == p).cloned().unwrap();
    assert_eq!(fam("session:*")["count"], 40);
    assert_eq!(fam("session:*")["without_ttl"], 0);
    assert!(fam("session:*")["ttl_max_s"].as_i64().unwrap() <= 3600);
    assert!(fam("session:*")["bytes"].as_u64().unwrap() > 40 * 30, "{:#}", fam("session:*"));
    assert_eq!(fam("blacklist:access:*")["count"], 25);
    assert_eq!(fam("blacklist:refresh:*")["count"], 3);
    assert_eq!(fam("cache:profile:*")["count"], 10);
    assert_eq!(fam("job:status:*")["count"], 3);
    assert_eq!(fam("refresh_token:*")["count"], 0);
    assert_eq!(fams["job_statuses"]["failed"], 2);
    assert_eq!(fams["job_statuses"]["completed"], 1);
    assert_eq!(fams["document_queue"], 3);
    assert_eq!(fams["cache_counters"]["hits"], 90);
    assert_eq!(fams["other"], 1);
    assert_eq!(fams["scanned"], 40 + 25 + 3 + 10 + 3 + 1 + 2 + 1);
    let info = &app["persistence_info"]["Ok"];
    assert_eq!(info["rdb_last_bgsave_status"], "ok", "{app:#}");
    assert_eq!(info["aof_enabled"], false);
    assert!(info["last_save_age_s"].as_u64().unwrap() < 120, "{info:#}");
    r.assert_only_commands(&RedisServer::read_only_commands());
}

/// A busy day on the stack: every authenticated request checks `blacklist:access:<jti>` (an
/// `EXISTS` that misses), and user-api serves the profile from `cache:profile:<id>`. `hits`
/// profile reads hit, `misses` read profiles never cached; `checks` blacklist lookups.
fn busy_day(r: &RedisServer, checks: usize, hits: usize, misses: usize) {
    let mut load = String::new();
    for i in 0..50 {
        load.push_str(&format!("SET cache:profile:{i} '{{\"user_id\":{i}}}' EX 300\n"));
    }
    for i in 0..5 {
        load.push_str(&format!("SET blacklist:access:revoked{i} true EX 900\n"));
    }
    for i in 0..checks {
        load.push_str(&format!("EXISTS blacklist:access:jti-{i}\n"));
    }
    for i in 0..hits {
        load.push_str(&format!("GET cache:profile:{}\n", i % 50));
    }
    for i in 0..misses {
        load.push_str(&format!("GET cache:profile:{}\n", 1000 + i));
    }
    r.pipe(&load);
}

#[test]
fn a_busy_healthy_day_is_judged_by_the_caches_own_counters() {
    let Some(r) = RedisServer::start(&[]) else { return };
    busy_day(&r, 4000, 500, 5);
    r.pipe("SET metrics:cache:hits 500\nSET metrics:cache:misses 5\n");
    let v = json(&doctor_redis(&["--url", &r.url()]));
    let rd003 = check(&v, "RD003");
    // The keyspace as a whole: about 11%, far below the critical 60%.
    assert!(rd003["evidence"]["keyspace_hit_rate"].as_f64().unwrap() < 0.2, "{rd003:#}");
    assert_eq!(status(&v, "RD003"), "ok", "{rd003:#}");
    assert_eq!(rd003["evidence"]["hit_rate_source"], "redis-counters");
    let summary = rd003["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("hit rate 99% (500 hits, 5 misses)") && summary.contains("metrics:cache:hits"),
        "{summary}"
    );
    assert!(rd003["causes"].as_array().unwrap().iter().all(|c| c["verdict"] == "ruled-out"), "{rd003:#}");
}

#[test]
fn without_counters_the_existence_checks_are_set_aside() {
    let Some(r) = RedisServer::start(&[]) else { return };
    busy_day(&r, 4000, 500, 5);
    let v = json(&doctor_redis(&["--url", &r.url()]));
    let rd003 = check(&v, "RD003");
    assert_eq!(status(&v, "RD003"), "ok", "{rd003:#}");
    assert_eq!(rd003["evidence"]["hit_rate_source"], "keyspace-without-existence-checks");
    assert_eq!(rd003["evidence"]["existence_checks"], 4000);
    assert!(rd003["summary"].as_str().unwrap().contains("4000 existence checks"), "{rd003:#}");
    assert_eq!(verdict(&v, "RD003", "poor-key-design"), "ruled-out");
}

#[test]
fn a_real_low_cache_hit_rate_is_critical_whatever_the_blacklist_does() {
    let Some(r) = RedisServer::start(&[]) else { return };
    // 50 reads hit, 450 ask for profiles nobody cached: 10%, below the critical 60%.
    busy_day(&r, 2000, 50, 450);
    let v = json(&doctor_redis(&["--url", &r.url()]));
    let rd003 = check(&v, "RD003");
    assert_eq!(status(&v, "RD003"), "critical", "{rd003:#}");
    assert_eq!(rd003["evidence"]["hit_rate_source"], "keyspace-without-existence-checks");
    assert_eq!(rd003["evidence"]["hit_rate"], 0.1, "{rd003:#}");
    // A server started seconds ago: the fresh start explains it before the keys do.
    assert_eq!(verdict(&v, "RD003", "no-warmup"), "suspected");
    // user-api's own counters say the same, between the thresholds: a warning.
    r.pipe("SET metrics:cache:hits 700\nSET metrics:cache:misses 300\n");
    let v = json(&doctor_redis(&["--url", &r.url()]));
    assert_eq!(status(&v, "RD003"), "warning", "{:#}", check(&v, "RD003"));
    assert_eq!(check(&v, "RD003")["evidence"]["hit_rate_source"], "redis-counters");
}

#[test]
fn blacklist_checks_alone_leave_nothing_to_judge() {
    let Some(r) = RedisServer::start(&[]) else { return };
    busy_day(&r, 3000, 0, 0);
    let out = doctor_redis(&["--url", &r.url()]);
    let v = json(&out);
    let rd003 = check(&v, "RD003");
    assert_eq!(status(&v, "RD003"), "skipped", "{rd003:#}");
    assert!(rd003["summary"].as_str().unwrap().contains("3000 existence checks"), "{rd003:#}");
    assert_eq!(out.code, 0, "{}", out.stdout);
}

/// A snapshot that cannot be written (the test points `dir` at /proc; doctor itself never
/// writes): Redis refuses every write with MISCONF, and RD002 is critical and says why.
#[test]
fn a_failed_background_save_is_critical_while_redis_refuses_writes() {
    let Some(r) = RedisServer::start(&["--save", "900 1", "--dir", "/proc"]) else { return };
    r.cli(&["SET", "session:1:s1", "{}", "EX", "3600"]);
    r.cli(&["BGSAVE"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !r.cli(&["INFO", "persistence"]).contains("rdb_last_bgsave_status:err") {
        assert!(std::time::Instant::now() < deadline, "the save did not fail: {}", r.log());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(r.cli(&["SET", "session:2:s2", "{}"]).contains("MISCONF"), "the fault was not reproduced");
    let out = doctor_redis(&["--url", &r.url()]);
    let v = json(&out);
    let rd002 = check(&v, "RD002");
    assert_eq!(status(&v, "RD002"), "critical", "{rd002:#}");
    assert_eq!(rd002["evidence"]["rdb_last_bgsave_status"], "err");
    assert_eq!(rd002["evidence"]["misconf_errors"], 1);
    assert!(rd002["summary"].as_str().unwrap().contains("refuses every write with MISCONF"), "{rd002:#}");
    r.assert_only_commands(&[RedisServer::read_only_commands(), vec!["set", "bgsave"]].concat());
}

/// The spec's Redis (maxmemory 512mb, volatile-ttl, RDB only) holding sessions and blacklist
/// entries, without the engine: nothing is wrong now, so RD002 stays ok; the container limit is
/// unchecked, and its evidence says what a crash would lose.
#[test]
fn the_specs_rdb_only_redis_is_ok_and_says_what_a_crash_loses() {
    let args = ["--maxmemory", "512mb", "--maxmemory-policy", "volatile-ttl", "--save", "900 1 300 10 60 10000"];
    let Some(r) = RedisServer::start(&args) else { return };
    let mut load = String::new();
    for i in 0..12 {
        load.push_str(&format!("SET session:{i}:s{i} '{{}}' EX 3600\n"));
    }
    for i in 0..7 {
        load.push_str(&format!("SET blacklist:access:j{i} true EX 900\n"));
    }
    r.pipe(&load);
    let v = json(&doctor_redis(&["--url", &r.url()]));
    let rd002 = check(&v, "RD002");
    assert_eq!(status(&v, "RD002"), "ok", "{rd002:#}");
    assert_eq!(rd002["evidence"]["persistence"], "rdb");
    assert_eq!(verdict(&v, "RD002", "maxmemory-over-container-limit"), "unchecked");
    let e = cause(&v, "RD002", "maxmemory-over-container-limit")["evidence"].as_str().unwrap().to_string();
    assert!(e.contains("up to 15m by that schedule") && e.contains("12 sessions and 7 blacklist entries"), "{e}");
    assert_eq!(verdict(&v, "RD002", "no-eviction-policy"), "ruled-out");
}
