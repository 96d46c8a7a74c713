//! Proves the test harness in `tests/support` works against real servers.

mod support;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{PgOptions, PgServer, RedisServer, free_port, run, run_with_timeout};

#[test]
fn free_ports_are_unique_within_the_process() {
    let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
    let unique: HashSet<u16> = ports.iter().copied().collect();
    assert_eq!(unique.len(), ports.len(), "{ports:?}");
}

#[test]
fn pg_starts_and_answers_select_1() {
    let t0 = Instant::now();
    let Some(pg) = PgServer::start(PgOptions::default()) else { return };
    eprintln!("PG start took {:?} (incl. template: {:?})", pg.startup_time, t0.elapsed());
    assert_eq!(pg.psql("postgres", "SELECT 1"), "1");
    assert_eq!(pg.psql("authdb", "SELECT current_database()"), "authdb");
    assert_eq!(pg.superuser_password.len(), 32);
    assert_eq!(
        pg.admin_url("authdb"),
        format!("postgresql://postgres:{}@127.0.0.1:{}/authdb", pg.superuser_password, pg.port)
    );
    // scram-sha-256 is enforced: a wrong password is refused (SQLSTATE 28P01).
    let err = pg.psql_as("postgres", "wrong", "postgres", "SELECT 1").unwrap_err();
    assert!(err.contains("password authentication failed"), "{err}");
    // The per-server password is not in the server log.
    assert!(!pg.log().contains(&pg.superuser_password));
}

#[test]
fn pg_too_many_clients_but_superuser_gets_in() {
    let opts = PgOptions { max_connections: 8, superuser_reserved_connections: 3, ..Default::default() };
    let Some(pg) = PgServer::start(opts) else { return };
    pg.psql("authdb", "CREATE ROLE app LOGIN PASSWORD 'app-pw'; GRANT CONNECT ON DATABASE authdb TO app;");
    let sessions = pg.spawn_idle_sessions("app", "app-pw", "authdb", 5);
    assert_eq!(sessions.len(), 5);
    assert_eq!(sessions.backend_pids.len(), 5);

    // PostgreSQL 15 refuses the 6th normal connection with SQLSTATE 53300: the 6th takes a
    // slot, then finds fewer free slots than are reserved, so the message is the "reserved"
    // one; "sorry, too many clients already" needs every slot taken (see the next test).
    let err = pg.psql_as("app", "app-pw", "authdb", "SELECT 1").unwrap_err();
    assert!(err.contains("remaining connection slots are reserved") || err.contains("too many clients"), "{err}");

    // The superuser still gets in through a reserved slot and sees the idle sessions.
    let idle = pg.psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND state = 'idle'");
    assert_eq!(idle, "5");

    drop(sessions);
    pg.wait_for("postgres", "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'", "0");
    assert_eq!(pg.psql_as("app", "app-pw", "authdb", "SELECT 1").unwrap(), "1");
}

#[test]
fn pg_completely_full_says_sorry_too_many_clients() {
    let opts = PgOptions { max_connections: 8, superuser_reserved_connections: 3, ..Default::default() };
    let Some(pg) = PgServer::start(opts) else { return };
    pg.psql("authdb", "CREATE ROLE app LOGIN PASSWORD 'app-pw';");
    let _apps = pg.spawn_idle_sessions("app", "app-pw", "authdb", 5);
    let _admins = pg.spawn_idle_sessions("postgres", &pg.superuser_password, "authdb", 3);
    assert_eq!(pg.client_backends(), 8);
    let err = pg.psql_as("postgres", &pg.superuser_password, "authdb", "SELECT 1").unwrap_err();
    assert!(err.contains("sorry, too many clients already"), "{err}");
}

#[test]
fn pg_long_query_and_idle_in_transaction_sessions() {
    let Some(pg) = PgServer::start(PgOptions::default()) else { return };
    let active = pg.spawn_sql_session("postgres", &pg.superuser_password, "authdb", "SELECT pg_sleep(600)");
    let idle_tx = pg.spawn_sql_session("postgres", &pg.superuser_password, "authdb", "BEGIN; SELECT 1;");
    let state = |pid: i32| pg.psql("postgres", &format!("SELECT state FROM pg_stat_activity WHERE pid = {pid}"));
    assert_eq!(state(active.backend_pids[0]), "active");
    assert_eq!(state(idle_tx.backend_pids[0]), "idle in transaction");
}

#[test]
fn pg_stop_makes_a_dead_server_and_start_again_revives_it() {
    let Some(pg) = PgServer::start(PgOptions { databases: vec![], ..Default::default() }) else { return };
    pg.stop();
    assert!(pg.psql_as("postgres", &pg.superuser_password, "postgres", "SELECT 1").is_err());
    assert!(TcpStream::connect(("127.0.0.1", pg.port)).is_err());
    pg.start_again();
    assert_eq!(pg.psql("postgres", "SELECT 1"), "1");
}

#[test]
fn pg_settings_are_applied() {
    let opts = PgOptions {
        settings: vec![("log_min_duration_statement".into(), "250ms".into())],
        databases: vec!["one".into(), "two".into()],
        ..Default::default()
    };
    let Some(pg) = PgServer::start(opts) else { return };
    assert_eq!(pg.psql("one", "SHOW log_min_duration_statement"), "250ms");
    assert_eq!(pg.psql("two", "SHOW max_connections"), "100");
}

#[test]
fn redis_with_requirepass_answers_ping_with_auth() {
    let Some(redis) = RedisServer::start(&["--requirepass", "s3cret-pw"]) else { return };
    assert_eq!(redis.password.as_deref(), Some("s3cret-pw"));
    assert_eq!(redis.url(), format!("redis://:s3cret-pw@127.0.0.1:{}", redis.port));
    assert_eq!(redis.cli(&["PING"]), "PONG");
    // Without AUTH the server refuses.
    let mut s = TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).unwrap();
    let reply = String::from_utf8_lossy(&buf[..n]);
    assert!(reply.starts_with("-NOAUTH"), "{reply}");
}

#[test]
fn redis_without_password() {
    let Some(redis) = RedisServer::start(&[]) else { return };
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}", redis.port));
    assert_eq!(redis.cli(&["SET", "k", "v"]), "OK");
    assert_eq!(redis.cli(&["GET", "k"]), "v");
    redis.stop();
    assert!(TcpStream::connect(("127.0.0.1", redis.port)).is_err());
}

#[test]
fn redis_noeviction_maxmemory_gives_oom() {
    let Some(redis) = RedisServer::start(&["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"]) else {
        return;
    };
    let value = "x".repeat(10 * 1024);
    let commands: String = (0..400).map(|i| format!("SET key:{i} {value}\n")).collect();
    let out = redis.pipe(&commands);
    assert!(out.contains("OOM command not allowed when used memory > 'maxmemory'"), "{}", &out[..out.len().min(500)]);
    let keys: usize = redis.cli(&["DBSIZE"]).parse().unwrap();
    assert!(keys > 0 && keys < 400, "{keys}");
}

#[test]
fn run_reports_exit_code_and_output() {
    let out = run(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]));
    assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (3, "out\n", "err\n"));
}

#[test]
#[should_panic(expected = "TIMEOUT")]
fn run_kills_a_hung_command() {
    run_with_timeout(Command::new("sleep").arg("30"), Duration::from_millis(300));
}

#[test]
fn doctor_runs_in_a_clean_empty_dir() {
    let (mut cmd, dir) = support::doctor();
    let out = run(cmd.arg("--help"));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.is_empty());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// The first-screen normaliser: every value that changes between lab runs becomes one word,
/// and what doctor decided stays as it was.
#[test]
fn the_first_screen_normaliser_keeps_decisions_and_drops_run_values() {
    use support::first_screen::{normalise, normalise_generic, placeholders};
    let n = normalise_generic;
    // Ages, durations, timing figures.
    assert_eq!(n("redis: exited with exit code 0 547ms ago"), "redis: exited with exit code 0 <t> ago");
    assert_eq!(n("doctor all · CRITICAL · 2 critical · 212 ms"), "doctor all · CRITICAL · 2 critical · <t>");
    assert_eq!(n("running for 3m12s, up 1h 2m"), "running for <t>, up <t>");
    assert_eq!(n("（終了コード 0、14.1s 前）"), "（終了コード 0、<t> 前）");
    assert_eq!(n("3 more root causes; 5 seconds"), "3 more root causes; 5 seconds");
    // Sizes and percentages.
    assert_eq!(n("redis +2.9 MB/min, 3.7 MB now, 12% CPU"), "redis +<n>/min, <n> now, <n> CPU");
    // Timestamps.
    assert_eq!(n("at 2026-12-02T18:50:56.123Z, last 06:53:46"), "at <time>, last <time>");
    assert_eq!(n("2026-12-02 18:50:56.001 UTC [1] LOG"), "<time> UTC [1] LOG");
    assert_eq!(n("Since 07:01 UTC, on the engine:"), "Since <time> UTC, on the engine:");
    assert_eq!(n("  • 23:59 redis exited"), "  • <time> redis exited");
    assert_eq!(n("localhost:5432 and 24:00"), "localhost:5432 and 24:00");
    let screen = "root\n\nSince 07:01 UTC, on the engine:\n  • 07:01 redis stopped\n  • 07:02 x\n\n✔ 1 ok";
    assert_eq!(support::first_screen::normalise(screen, &[]), "root\n\n<timeline>\n\n✔ 1 ok");
    // Published host ports (five digits), not the stack's own ports.
    assert_eq!(n("127.0.0.1:49153->5432/tcp, localhost:6379"), "127.0.0.1:<port>->5432/tcp, localhost:6379");
    assert_eq!(n("host.docker.internal:32768 and port 40001"), "host.docker.internal:<port> and port <port>");
    // Lab prefixes, container ids, temp paths.
    assert_eq!(n("docker logs dl-3fa9c1-postgres --tail 100"), "docker logs dl-<lab>-postgres --tail 100");
    assert_eq!(n("id 4f2a9c1b7e3d ok"), "id <id> ok");
    assert_eq!(n("exit code 137, 123456789012"), "exit code 137, 123456789012", "digits only: not an id");
    assert_eq!(n("cd /tmp/ai-micro-service-Xy12Ab/ai-micro-redis && x"), "cd /tmp/<tmp>/ai-micro-redis && x");
    // The words of the stack stay.
    let plain = "✖ CRITICAL DK002  Docker: a container of the stack is not running · containers";
    assert_eq!(n(plain), plain);
    assert_eq!(n("PG001 ×7 … code 28P01, max_connections 100"), "PG001 ×7 … code 28P01, max_connections 100");
    // Literals first, longest first (a stack's root before the prefix inside it).
    assert_eq!(
        normalise("cd /srv/run-1/ai-micro-redis (run-1)", &[("run-1", "<run>"), ("/srv/run-1", "<root>")]),
        "cd <root>/ai-micro-redis (<run>)"
    );
    // A container's last log lines: which, not in which order the engine interleaved them.
    assert_eq!(normalise("a\n  │ ok\n  │ b: error: x\n  │ FATAL: y\nz", &[]), "a\n  │ FATAL: y\n  │ b: error: x\nz");
    // Placeholders a fix must not keep.
    assert_eq!(placeholders("docker compose up -d <service> && a <= b"), vec!["<service>".to_string()]);
    assert_eq!(placeholders("--env-file <compose project dir>/.env"), vec!["<compose project dir>".to_string()]);
    assert!(placeholders("cd /srv/x && docker compose up -d redis").is_empty());
}
