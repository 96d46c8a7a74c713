//! Triage and explain on the stack's real log formats (`11-operations/04-logging.md`,
//! `02-user-api/01`, `03-admin-api/01`, `06-database/02`, `08-integration/04`,
//! `10-security/02`; ../shared/notes/real-stack.md §1.10 and §2.10): each symptom line the spec
//! prints maps to its runbook row (problem, and cause where the runbook says), a healthy day in
//! those formats matches nothing, and what a line at its threshold's edge is.

use doctor::triage::{self, Limits};
use doctor::{catalogue, explain};
use std::time::Duration;

/// Lines as the stack writes them, and the row each is a symptom of: (line, code, cause).
const SYMPTOMS: &[(&str, &str, Option<&str>)] = &[
    // auth-service, python-json-logger (11-operations/04).
    (
        r#"{"timestamp":"2025-09-30T12:34:56.789Z","level":"WARNING","service":"auth-service","environment":"production","request_id":"req-456","method":"POST","path":"/api/auth/login","message":"Login failed: invalid credentials","action":"login_failure","email":"a@example.com"}"#,
        "AU001",
        Some("wrong-password"),
    ),
    (
        r#"{"timestamp":"2025-09-30T12:35:00.001Z","level":"ERROR","service":"auth-service","request_id":"req-457","message":"Login error","exc_info":"Traceback (most recent call last):\n  File \"/app/app/routers/auth.py\", line 88, in login\nsqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at \"postgres\" (172.18.0.2), port 5432 failed: FATAL:  password authentication failed for user \"postgres\""}"#,
        "PG001",
        Some("wrong-password"),
    ),
    // HTTPException bodies (08-integration/04, 07-redis/03, 07-redis/07, 06-database/04, 10-security/02).
    (r#"{"detail":"Token has expired"}"#, "AU002", Some("token-expired")),
    (
        r#"{"timestamp":"2025-09-30T12:36:00.000Z","level":"WARNING","service":"user-api","message":"Token has expired","path":"/profile"}"#,
        "AU002",
        Some("token-expired"),
    ),
    (r#"{"detail":"Token has been revoked"}"#, "AU003", Some("refresh-revoked")),
    (
        r#"{"status":"error","error":{"code":"TOKEN_BLACKLISTED","message":"Token has been revoked","details":{}}}"#,
        "AU003",
        Some("refresh-revoked"),
    ),
    (r#"{"detail":"Session not found"}"#, "AU003", None),
    (r#"{"detail":"Session not found or expired"}"#, "AU003", None),
    (r#"{"detail":"Account inactive"}"#, "AU001", Some("user-inactive")),
    (r#"{"detail":"Account locked until 2026-11-30T09:30:00+00:00"}"#, "AU001", None),
    (r#"{"detail":"Account locked due to too many failed login attempts"}"#, "AU001", None),
    (r#"{"detail":"Account locked. Try again in 25 minutes"}"#, "AU001", None),
    (r#"{"detail":"Too many failed attempts. Account locked for 30 minutes."}"#, "AU001", None),
    (r#"{"detail":"Too many login attempts. Please try again later."}"#, "AU001", None),
    ("Failed to fetch JWKS from auth service", "AU002", Some("jwks-unreachable")),
    (
        "2026-11-30 09:00:02,100 - app.core.security - ERROR - Failed to fetch JWKS: [Errno 111] Connection refused",
        "AU002",
        Some("jwks-unreachable"),
    ),
    (r#"{"detail":"Authentication service unavailable"}"#, "AU002", Some("jwks-unreachable")),
    (r#"{"status":"unhealthy","database":"error","redis":"ok"}"#, "API002", Some("database-error")),
    (r#"{"status":"unhealthy","redis":"ok","database":"error"}"#, "API002", Some("database-error")),
    (r#"{"status":"unhealthy","database":"ok","redis":"error"}"#, "RD001", None),
    (r#"{"detail":"File too large"}"#, "API003", Some("file-too-large")),
    // admin-api's memory guard (03-admin-api/03): the document it was processing fails (API003).
    ("MemoryError: Memory usage too high: 12288.0MB", "API003", Some("admin-api-oom")),
    (
        "Unhandled exception - request_id: 5d0e4a52-4c1e-4a40-9f43-0f7b3c6a1d11, error: Memory usage too high: 10240.5MB, traceback: Traceback (most recent call last): ...",
        "API003",
        Some("admin-api-oom"),
    ),
    ("2026-11-30 09:14:00,000 - app.ocr - WARNING - High memory usage: 4100.0MB", "PERF002", None),
    // user-api's plain request lines (02-user-api/01): a PostgreSQL refusal is PG001, not Redis.
    (
        "Unhandled exception - request_id: 9b2f8a9e-3c55-4bd8-a7f7-0e2c1f6e9a10, error: (psycopg2.OperationalError) could not connect to server: Connection refused",
        "PG001",
        None,
    ),
    (
        "2026-11-30 09:15:00,000 - app.main - ERROR - Unhandled exception - request_id: 9b2f8a9e-3c55-4bd8-a7f7-0e2c1f6e9a10, error: (psycopg2.OperationalError) could not connect to server: Connection refused\n\tIs the server running on host \"postgres\" (172.18.0.2) and accepting",
        "PG001",
        None,
    ),
    // PostgreSQL under the spec's log_line_prefix (06-database/02).
    (
        "2025-09-30 10:15:23 JST [1234]: [1-1] user=app,db=apidb,app=asyncpg,client=172.18.0.6 LOG:  duration: 1234.567 ms  statement: SELECT * FROM profiles WHERE user_id = $1",
        "PG003",
        None,
    ),
    (
        "2025-09-30 10:15:24 JST [1235]: [3-1] user=app,db=authdb,app=asyncpg,client=172.18.0.5 LOG:  duration: 1000.000 ms  execute __asyncpg_stmt_2__: SELECT id FROM users WHERE email = $1",
        "PG003",
        None,
    ),
    (
        "2025-09-30 10:15:25 JST [1236]: [1-1] user=app,db=authdb,app=[unknown],client=172.18.0.5 FATAL:  sorry, too many clients already",
        "PG002",
        None,
    ),
    (
        "2025-09-30 10:15:26 JST [1237]: [1-1] user=app,db=authdb,app=[unknown],client=172.18.0.5 FATAL:  password authentication failed for user \"app\"",
        "PG001",
        Some("wrong-password"),
    ),
    // Lines the table of §2.10 found right already: still right.
    ("redis.exceptions.AuthenticationError: invalid username-password pair or user is disabled.", "RD001", None),
    ("Login proxy error: TypeError: fetch failed", "FE001", None),
    (
        "Error response from daemon: driver failed programming external connectivity on endpoint auth-service: Bind for 0.0.0.0:8002 failed: port is already allocated",
        "NET002",
        None,
    ),
];

#[test]
fn each_spec_symptom_line_maps_to_its_row() {
    let m = triage::matcher().expect("the catalogue loads");
    let limits = Limits::default();
    let mut wrong = Vec::new();
    for (line, code, cause) in SYMPTOMS {
        let got = m.hit(line, &limits).map(|h| (h.code.to_string(), h.cause.map(str::to_string)));
        let want = Some((code.to_string(), cause.map(str::to_string)));
        if got != want {
            wrong.push(format!("{line}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn explain_puts_the_row_first_for_each_spec_line() {
    let all = catalogue::all().unwrap();
    for (line, code, _) in SYMPTOMS {
        let found = explain::search(all, line);
        let codes: Vec<&str> = found.iter().map(|m| m.problem.code.as_str()).collect();
        // `doctor explain` puts triage's row first (src/cli/explain.rs); the wording search
        // alone must at least list it.
        assert!(codes.contains(code), "{line}: {codes:?}");
    }
    let first = |q: &str| explain::search(all, q).first().map(|m| m.problem.code.clone());
    assert_eq!(first("Failed to fetch JWKS from auth service").as_deref(), Some("AU002"));
    assert_eq!(first(r#"{"detail":"Token has expired"}"#).as_deref(), Some("AU002"));
    assert_eq!(first(r#"{"detail":"Account inactive"}"#).as_deref(), Some("AU001"));
    assert_eq!(first(r#"{"status":"unhealthy","database":"error","redis":"ok"}"#).as_deref(), Some("API002"));
}

#[test]
fn request_completed_at_error_for_a_401_is_no_symptom() {
    let m = triage::matcher().unwrap();
    for line in [
        r#"{"timestamp":"2025-09-30T12:34:56.789Z","level":"ERROR","service":"user-api","request_id":"req-9","method":"GET","path":"/profile","status_code":401,"duration_ms":3,"message":"Request completed"}"#,
        r#"{"level":"ERROR","timestamp":"2025-09-30T12:34:56.789Z","service":"frontend","msg":"Request completed","status":401}"#,
        "Request completed - request_id: 0f, user_id: None, endpoint: /profile, status: 401, process_time: 0.0021s",
        // The same words at INFO: the application's own verdict is that all is well.
        r#"{"level":"INFO","message":"Token has expired; refreshing","service":"user-frontend"}"#,
        r#"{"level":30,"msg":"Failed to fetch JWKS, retrying with the cached keys"}"#,
    ] {
        assert_eq!(m.hit(line, &Limits::default()), None, "{line}");
    }
}

#[test]
fn a_logged_duration_is_slow_only_from_the_slow_query_threshold() {
    let m = triage::matcher().unwrap();
    let line = |ms: &str| {
        format!(
            "2025-09-30 10:15:23 JST [1234]: [1-1] user=app,db=apidb,app=asyncpg,client=172.18.0.6 LOG:  duration: {ms} ms  statement: SELECT * FROM profiles WHERE user_id = $1"
        )
    };
    let code = |l: &str, limits: &Limits| m.hit(l, limits).map(|h| h.code.to_string());
    let one_s = Limits::default();
    assert_eq!(code(&line("999.999"), &one_s), None);
    assert_eq!(code(&line("1000.000"), &one_s).as_deref(), Some("PG003"));
    assert_eq!(code(&line("12.345"), &one_s), None);
    // The runbook's own example statement, fast, is no symptom either.
    assert_eq!(
        code("LOG:  duration: 0.512 ms  statement: SELECT id, username, is_active FROM users WHERE email = $1", &one_s),
        None
    );
    // --threshold slow_query=10ms: the same 12 ms line is slow.
    let ten_ms = Limits { slow_query: Duration::from_millis(10), own_logins: Vec::new() };
    assert_eq!(code(&line("12.345"), &ten_ms).as_deref(), Some("PG003"));
    let hits = triage::scan_with([line("12.345").as_str(), line("3.0").as_str()], &ten_ms);
    assert_eq!(hits.iter().map(|h| (h.code.as_str(), h.count)).collect::<Vec<_>>(), [("PG003", 1)]);
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixture/logs/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn a_healthy_day_in_the_spec_formats_matches_nothing() {
    for name in ["healthy-spec.log", "healthy.log"] {
        let text = fixture(name);
        let m = triage::matcher().unwrap();
        let matched: Vec<String> = text
            .lines()
            .filter_map(|l| m.hit(l, &Limits::default()).map(|h| format!("{} ({}) <- {l}", h.code, h.signature)))
            .collect();
        assert!(matched.is_empty(), "{name}:\n{}", matched.join("\n"));
        // With Docker's timestamps in front, as `doctor triage --container` reads them.
        let stamped: Vec<String> = text
            .lines()
            .enumerate()
            .map(|(i, l)| format!("2026-11-30T09:{:02}:{:02}.000000001Z {l}", i / 60 % 60, i % 60))
            .collect();
        assert!(triage::scan(stamped.iter().map(String::as_str)).is_empty(), "{name}");
    }
    // The corpus is a day of the real formats, not a handful of lines.
    let text = fixture("healthy-spec.log");
    let n = text.lines().count();
    let json = text.lines().filter(|l| l.starts_with('{')).count();
    let pg = text.lines().filter(|l| l.contains("]: [") && l.contains(" user=")).count();
    let plain = text.lines().filter(|l| l.contains(" - request_id: ")).count();
    assert!(
        n >= 300 && json >= 100 && pg >= 50 && plain >= 30,
        "{n} lines, {json} JSON, {pg} PostgreSQL, {plain} request lines"
    );
}

#[test]
fn the_newest_line_its_time_and_the_count_per_symptom() {
    let log = [
        r#"{"timestamp":"2026-11-30T09:00:01.000Z","level":"WARNING","service":"auth-service","message":"Login failed: invalid credentials","email":"a@example.com"}"#,
        r#"{"timestamp":"2026-11-30T09:00:05.000Z","level":"INFO","service":"auth-service","message":"Login successful"}"#,
        r#"{"timestamp":"2026-11-30T09:00:09.000Z","level":"WARNING","service":"auth-service","message":"Login failed: invalid credentials","email":"b@example.com"}"#,
        "2026-11-30 09:00:10 JST [77]: [1-1] user=app,db=authdb,app=[unknown],client=172.18.0.5 FATAL:  sorry, too many clients already",
    ];
    let hits = triage::scan(log);
    let au = hits.iter().find(|h| h.code == "AU001").expect("AU001");
    assert_eq!(au.count, 2);
    assert_eq!(au.cause.as_deref(), Some("wrong-password"));
    assert_eq!(au.first_at.as_deref(), Some("2026-11-30T09:00:01.000Z"));
    assert_eq!(au.last_at.as_deref(), Some("2026-11-30T09:00:09.000Z"));
    // The newest line, as its words (not 300 characters of JSON fields).
    assert_eq!(au.sample, "WARNING Login failed: invalid credentials");
    let pg = hits.iter().find(|h| h.code == "PG002").expect("PG002");
    assert_eq!(pg.last_at.as_deref(), Some("2026-11-30 09:00:10 JST"));
    assert!(pg.sample.contains("user=app,db=authdb"), "{}", pg.sample);
}
