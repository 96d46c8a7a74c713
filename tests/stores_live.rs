//! The stack's own data as evidence, on real servers: refresh tokens in authdb and Redis
//! (AU003), a login user's `is_active` (AU001), a profile row and its cache entry (API002), and
//! the documents table (API003). Each fault of the runbook is made for real (a flushed Redis,
//! persistence off, an eviction policy that can drop tokens, expired or revoked rows, a stale or
//! orphaned cache entry, a missing table) and the verdict asserted. No value of a row or a
//! cache entry may appear in the output.

mod support;

use serde_json::Value;
use support::fixture::Fixture;
use support::report::{check, evidence, status, verdict};
use support::{Output, PgOptions, PgServer, RedisServer, doctor, run};

struct Stack {
    pg: PgServer,
    redis: RedisServer,
}

impl Stack {
    fn start() -> Option<Stack> {
        Stack::start_with(vec![])
    }

    fn start_with(settings: Vec<(String, String)>) -> Option<Stack> {
        let pg = PgServer::start(PgOptions {
            databases: vec!["authdb".into(), "apidb".into(), "admindb".into()],
            settings,
            ..Default::default()
        })?;
        let redis = RedisServer::start(&[])?;
        Some(Stack { pg, redis })
    }

    fn doctor(&self, args: &[&str], env: &[(&str, &str)]) -> (Value, Output) {
        self.doctor_with(args, env, None)
    }

    /// With a `doctor.toml` in doctor's working directory (where user-api is, say).
    fn doctor_with(&self, args: &[&str], env: &[(&str, &str)], toml: Option<&str>) -> (Value, Output) {
        let (mut cmd, dir) = doctor();
        if let Some(t) = toml {
            std::fs::write(dir.path().join("doctor.toml"), t).unwrap();
        }
        cmd.env("DATABASE_URL", self.pg.url("postgres", &self.pg.superuser_password, "authdb"));
        cmd.env("REDIS_URL", self.redis.url());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args(["--no-docker", "--format", "json", "--timeout", "3s"]).args(args);
        let out = run(&mut cmd);
        let v = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
        (v, out)
    }
}

#[test]
fn the_failing_refresh_token_is_looked_up_by_itself_in_authdb_and_redis() {
    let Some(s) = Stack::start() else { return };
    let fx = Fixture::start(&[]);
    s.pg.psql(
        "authdb",
        "CREATE TABLE refresh_tokens (id serial PRIMARY KEY, user_id int, token text, \
         expires_at timestamptz, revoked_at timestamptz); \
         INSERT INTO refresh_tokens (user_id, token, expires_at) \
         SELECT i, 'rt-secret-' || i, now() + interval '7 days' FROM generate_series(1, 3) i;",
    );
    // The runbook's layout: refresh_token:<token_id> holding the token.
    for i in 1..=3 {
        s.redis.cli(&["SET", &format!("refresh_token:{i}"), &format!("rt-secret-{i}"), "EX", "604800"]);
    }
    s.redis.cli(&["CONFIG", "SET", "appendonly", "yes"]);
    let auth = |how: &str| {
        let (mut cmd, _dir) = doctor();
        cmd.env("DATABASE_URL", s.pg.url("postgres", &s.pg.superuser_password, "authdb"));
        cmd.env("REDIS_URL", s.redis.url());
        cmd.args(["--no-docker", "--format", "json", "--timeout", "3s", "auth", "--url", &fx.url()]);
        let out = match how {
            "stdin" => support::run_with_stdin(cmd.args(["--refresh-token", "-"]), "rt-secret-2\n"),
            "env" => run(cmd.env("DOCTOR_REFRESH_TOKEN", "rt-secret-2")),
            token => run(cmd.args(["--refresh-token", token])),
        };
        assert!(!out.combined().contains("rt-secret-"), "a token value was printed:\n{}", out.combined());
        let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.combined()));
        v
    };

    // Valid, not revoked, in Redis: nothing wrong with this token, whichever way it is given.
    for how in ["stdin", "env", "rt-secret-2"] {
        let v = auth(how);
        assert_eq!(verdict(&v, "AU003", "refresh-expired"), "ruled-out", "{how}: {:#}", check(&v, "AU003"));
        assert!(evidence(&v, "AU003", "refresh-expired").contains("this token is valid in authdb for"));
        assert_eq!(verdict(&v, "AU003", "refresh-revoked"), "ruled-out");
        assert_eq!(verdict(&v, "AU003", "refresh-missing"), "ruled-out");
        assert!(evidence(&v, "AU003", "refresh-missing").contains("Redis holds this token in refresh_token:2"));
        assert_eq!(status(&v, "AU003"), "ok");
    }
    // Redis lost this one key while its row is valid.
    s.redis.cli(&["DEL", "refresh_token:2"]);
    let v = auth("rt-secret-2");
    assert_eq!(verdict(&v, "AU003", "refresh-missing"), "confirmed", "{:#}", check(&v, "AU003"));
    assert!(evidence(&v, "AU003", "refresh-missing").contains("none of Redis's 2 refresh_token:* keys holds it"));
    assert_eq!(status(&v, "AU003"), "critical");
    // Logged out (revoked) and expired.
    s.pg.psql("authdb", "UPDATE refresh_tokens SET revoked_at = now() WHERE id = 2;");
    let v = auth("rt-secret-2");
    assert_eq!(verdict(&v, "AU003", "refresh-revoked"), "confirmed", "{:#}", check(&v, "AU003"));
    assert_ne!(verdict(&v, "AU003", "refresh-missing"), "confirmed", "a revoked token is expected gone");
    s.pg.psql(
        "authdb",
        "UPDATE refresh_tokens SET revoked_at = NULL, expires_at = now() - interval '3 hours' WHERE id = 2;",
    );
    let v = auth("rt-secret-2");
    assert_eq!(verdict(&v, "AU003", "refresh-expired"), "confirmed");
    assert!(
        evidence(&v, "AU003", "refresh-expired").contains("this token expired 3h ago (authdb refresh_tokens id 2)")
    );
    // Unknown to authdb.
    let v = auth("rt-secret-unknown");
    assert_eq!(verdict(&v, "AU003", "refresh-expired"), "suspected");
    assert!(evidence(&v, "AU003", "refresh-expired").contains("no row of authdb's refresh_tokens holds this token"));

    // Another layout: a hashed token in authdb, the key named after the token.
    s.pg.psql(
        "authdb",
        "DROP TABLE refresh_tokens; \
         CREATE TABLE refresh_tokens (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), token_hash text, \
         expires_at timestamptz, revoked boolean DEFAULT false); \
         INSERT INTO refresh_tokens (token_hash, expires_at) \
         VALUES (encode(sha256('rt-secret-9'::bytea), 'hex'), now() + interval '1 day');",
    );
    s.redis.cli(&["SET", "refresh_token:rt-secret-9", "{\"user_id\": 9}", "EX", "86400"]);
    let v = auth("rt-secret-9");
    assert_eq!(verdict(&v, "AU003", "refresh-expired"), "ruled-out", "{:#}", check(&v, "AU003"));
    assert_eq!(verdict(&v, "AU003", "refresh-missing"), "ruled-out");
    assert!(evidence(&v, "AU003", "refresh-missing").contains("refresh_token:<token>"));

    // The token in no format, not in -v, not in the facts file.
    let (mut cmd, dir) = doctor();
    let facts = dir.path().join("facts.json");
    cmd.env("DATABASE_URL", s.pg.url("postgres", &s.pg.superuser_password, "authdb"))
        .env("REDIS_URL", s.redis.url())
        .args(["--no-docker", "-v", "--timeout", "3s", "--format", "markdown", "--dump-facts"])
        .arg(&facts)
        .args(["auth", "--url", &fx.url(), "--refresh-token", "rt-secret-9"]);
    let out = run(&mut cmd);
    let dumped = std::fs::read_to_string(&facts).expect("--dump-facts wrote the file");
    assert!(dumped.contains("refresh_token_row") && dumped.contains("refresh_token_key"), "{dumped}");
    for text in [&out.stdout, &out.stderr, &dumped] {
        assert!(!text.contains("rt-secret-9"), "the refresh token came out:\n{text}");
    }

    // Bad input: an empty token, two readers of stdin.
    let (mut cmd, _dir) = doctor();
    let out = run(cmd.args(["auth", "--refresh-token", " "]));
    assert_eq!(out.code, 3, "{}", out.combined());
    let (mut cmd, _dir) = doctor();
    let out = run(cmd.args(["auth", "--refresh-token", "-", "--token", "-"]));
    assert_eq!(out.code, 3, "{}", out.combined());
    assert!(out.stderr.contains("standard input"), "{}", out.stderr);
}

#[test]
fn refresh_tokens_in_authdb_and_redis_tell_expired_lost_and_revoked_apart() {
    let Some(s) = Stack::start() else { return };
    let fx = Fixture::start(&[]);
    s.pg.psql(
        "authdb",
        "CREATE TABLE refresh_tokens (id serial PRIMARY KEY, user_id int, token text, \
         expires_at timestamptz, revoked boolean NOT NULL DEFAULT false); \
         INSERT INTO refresh_tokens (user_id, token, expires_at) \
         SELECT i, 'rt-secret-' || i, now() + interval '7 days' FROM generate_series(1, 3) i;",
    );
    for i in 1..=3 {
        s.redis.cli(&["SET", &format!("refresh_token:{i}"), &format!("rt-secret-{i}"), "EX", "604800"]);
    }
    s.redis.cli(&["CONFIG", "SET", "appendonly", "yes"]);
    let auth = || {
        let (v, out) = s.doctor(&["auth", "--url", &fx.url()], &[]);
        assert!(!out.combined().contains("rt-secret-"), "a token value was printed");
        v
    };

    let v = auth();
    assert_eq!(verdict(&v, "AU003", "refresh-missing"), "ruled-out", "{:#}", check(&v, "AU003"));
    assert!(evidence(&v, "AU003", "refresh-missing").contains("3 refresh_token:* keys"));
    assert_eq!(verdict(&v, "AU003", "refresh-revoked"), "ruled-out");
    assert_eq!(verdict(&v, "AU003", "refresh-expired"), "unchecked", "no logs with --no-docker");
    assert!(evidence(&v, "AU003", "refresh-expired").contains("3 of 3 refresh tokens in authdb are still valid"));
    assert_eq!(status(&v, "AU003"), "ok");

    // Persistence off: a restart would drop them.
    s.redis.cli(&["CONFIG", "SET", "appendonly", "no"]);
    let v = auth();
    assert_eq!(verdict(&v, "AU003", "refresh-missing"), "suspected", "{:#}", check(&v, "AU003"));
    assert!(evidence(&v, "AU003", "refresh-missing").contains("persists nothing"));
    assert_eq!(status(&v, "AU003"), "warning");

    // An eviction policy that may drop them.
    s.redis.cli(&["CONFIG", "SET", "appendonly", "yes"]);
    s.redis.cli(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    let v = auth();
    assert_eq!(verdict(&v, "AU003", "refresh-missing"), "suspected");
    assert!(evidence(&v, "AU003", "refresh-missing").contains("allkeys-lru"));
    s.redis.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);

    // Redis lost them (what a restart without persistence leaves).
    s.redis.cli(&["FLUSHALL"]);
    let v = auth();
    assert_eq!(verdict(&v, "AU003", "refresh-missing"), "confirmed", "{:#}", check(&v, "AU003"));
    assert!(evidence(&v, "AU003", "refresh-missing").contains("holds 3 valid refresh tokens but Redis holds no"));
    assert_eq!(status(&v, "AU003"), "critical");

    // Revoked rows: one is what a logout leaves; all of them at once is suspected.
    s.pg.psql("authdb", "UPDATE refresh_tokens SET revoked = true WHERE id = 1;");
    let v = auth();
    assert_eq!(verdict(&v, "AU003", "refresh-revoked"), "unchecked");
    assert!(evidence(&v, "AU003", "refresh-revoked").contains("1 refresh tokens are revoked"));
    s.pg.psql("authdb", "UPDATE refresh_tokens SET revoked = true;");
    let v = auth();
    assert_eq!(verdict(&v, "AU003", "refresh-revoked"), "suspected");
    assert!(evidence(&v, "AU003", "refresh-revoked").contains("every unexpired refresh token is revoked (3"));

    // Every row expired.
    s.pg.psql("authdb", "UPDATE refresh_tokens SET expires_at = now() - interval '2 hours', revoked = false;");
    let v = auth();
    assert_eq!(verdict(&v, "AU003", "refresh-expired"), "confirmed", "{:#}", check(&v, "AU003"));
    assert!(evidence(&v, "AU003", "refresh-expired").contains("every refresh token in authdb has expired (3 rows"));

    // No revocation column: nothing observable.
    s.pg.psql("authdb", "ALTER TABLE refresh_tokens DROP COLUMN revoked;");
    let v = auth();
    assert_eq!(verdict(&v, "AU003", "refresh-revoked"), "unchecked");
    assert!(evidence(&v, "AU003", "refresh-revoked").contains("nothing observable"));

    // Neither store reachable: unknown, not ok.
    s.redis.stop();
    s.pg.stop();
    let v = auth();
    assert_eq!(status(&v, "AU003"), "unknown", "{:#}", check(&v, "AU003"));
}

#[test]
fn a_failed_login_reads_is_active_and_existence_from_authdb() {
    let Some(s) = Stack::start() else { return };
    // This auth-service answers an inactive user with the same 401 as a wrong password.
    let fx = Fixture::start(&["login=opaque"]);
    s.pg.psql(
        "authdb",
        "CREATE TABLE users (id serial PRIMARY KEY, username text UNIQUE, hashed_password text, is_active boolean); \
         INSERT INTO users (username, hashed_password, is_active) VALUES \
         ('testuser', 'HASH-SECRET-1', true), ('inactive', 'HASH-SECRET-2', false);",
    );
    let login = |user: &str, password: &str| {
        let env = [("DOCTOR_LOGIN_USERNAME", user), ("DOCTOR_LOGIN_PASSWORD", password)];
        let (v, out) = s.doctor(&["auth", "--url", &fx.url(), "--only", "AU001"], &env);
        assert!(!out.combined().contains("HASH-SECRET"), "a password hash was printed");
        v
    };
    let v = login("inactive", "testpass");
    assert_eq!(verdict(&v, "AU001", "user-inactive"), "confirmed", "{:#}", check(&v, "AU001"));
    assert!(evidence(&v, "AU001", "user-inactive").contains("is_active is false for inactive"));
    assert_eq!(verdict(&v, "AU001", "wrong-password"), "suspected", "a 401 alone no longer proves it");

    let v = login("ghost", "whatever");
    assert_eq!(verdict(&v, "AU001", "wrong-password"), "confirmed", "{:#}", check(&v, "AU001"));
    assert!(evidence(&v, "AU001", "wrong-password").contains("no user named ghost"));

    let v = login("testuser", "wrong");
    assert_eq!(verdict(&v, "AU001", "wrong-password"), "confirmed");
    assert_eq!(verdict(&v, "AU001", "user-inactive"), "ruled-out");
    assert!(evidence(&v, "AU001", "user-inactive").contains("testuser is active in authdb"));
}

/// A `doctor.toml` that puts user-api at `url`.
fn user_api_at(url: &str) -> String {
    format!("[services.user-api]\nurl = \"{url}\"\n")
}

/// A local port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The spec's apidb.profiles (`06-database/05`): `user_id uuid UNIQUE NOT NULL`, no email.
const PROFILES: &str = "CREATE TABLE profiles (id uuid PRIMARY KEY, user_id uuid UNIQUE NOT NULL, name varchar, \
     first_name varchar, last_name varchar, address text, phone varchar, \
     created_at timestamp NOT NULL DEFAULT now(), updated_at timestamp NOT NULL DEFAULT now());";

#[test]
fn a_profile_row_and_its_cache_entry_are_compared_without_printing_them() {
    let Some(s) = Stack::start() else { return };
    let taro = "7f3a1c9d-5b2e-4a6f-8d1e-9c7b4a5f3e2d";
    let jiro = "550e8400-e29b-41d4-a716-446655440000";
    s.pg.psql(
        "apidb",
        &format!(
            "{PROFILES} INSERT INTO profiles (id, user_id, first_name, last_name) \
             VALUES ('11111111-2222-3333-4444-555555555555', '{taro}', 'Taro-Private', 'Yamada-Private');"
        ),
    );
    // user-api as the spec has it, healthy (`GET /healthz`), and one that does not answer.
    let user_api = Fixture::start(&["spec", "role=user-api"]);
    let healthy = user_api_at(&user_api.url());
    let gone = user_api_at(&format!("http://127.0.0.1:{}", closed_port()));
    let api_at = |id: &str, toml: &str| {
        let (v, out) = s.doctor_with(&["api", "--user-id", id, "--only", "API002"], &[], Some(toml));
        assert!(!out.combined().contains("-Private"), "a profile value was printed");
        v
    };
    let api = |id: &str| api_at(id, &healthy);
    let v = api(taro);
    assert_eq!(verdict(&v, "API002", "profile-missing"), "ruled-out", "{:#}", check(&v, "API002"));
    assert_eq!(verdict(&v, "API002", "stale-cache"), "ruled-out");
    assert!(evidence(&v, "API002", "stale-cache").contains(&format!("no cache:profile:{taro} (nor profile:{taro})")));
    assert_eq!(verdict(&v, "API002", "database-error"), "ruled-out");
    assert_eq!(status(&v, "API002"), "ok");

    // user-api's cache entry, as it writes it: with email and cached_at, which the row lacks.
    let cache_key = format!("cache:profile:{taro}");
    let entry = format!(
        r#"{{"user_id":"{taro}","first_name":"Taro-Private","last_name":"Yamada-Private","email":"t-Private@example.com","phone":null,"address":null,"cached_at":"2026-01-01T00:00:00"}}"#
    );
    s.redis.cli(&["SET", &cache_key, &entry, "EX", "300"]);
    let v = api(taro);
    assert_eq!(verdict(&v, "API002", "stale-cache"), "ruled-out", "{:#}", check(&v, "API002"));
    let ev = evidence(&v, "API002", "stale-cache");
    assert!(ev.contains(&format!("{cache_key} matches the row in its 5 common fields")), "{ev}");

    // Updated in the database, not in the cache.
    s.pg.psql("apidb", &format!("UPDATE profiles SET first_name = 'Jiro-Private' WHERE user_id = '{taro}';"));
    let v = api(taro);
    assert_eq!(verdict(&v, "API002", "stale-cache"), "confirmed", "{:#}", check(&v, "API002"));
    let ev = evidence(&v, "API002", "stale-cache");
    assert!(ev.contains(&cache_key) && ev.contains("in first_name"), "{ev}");
    assert_eq!(status(&v, "API002"), "warning");
    // The runbook's older key is read when the spec's is absent.
    s.redis.cli(&["RENAME", &cache_key, &format!("profile:{taro}")]);
    let v = api(taro);
    assert!(
        evidence(&v, "API002", "stale-cache").contains(&format!("profile:{taro} differs")),
        "{:#}",
        check(&v, "API002")
    );

    // No row: GET /profile creates it, so with user-api healthy nothing fails.
    let v = api(jiro);
    assert_eq!(verdict(&v, "API002", "profile-missing"), "ruled-out", "{:#}", check(&v, "API002"));
    assert!(evidence(&v, "API002", "profile-missing").contains("healthy (HTTP 200)"));
    assert_eq!(status(&v, "API002"), "ok");
    assert!(check(&v, "API002")["summary"].as_str().unwrap().contains("next GET /profile creates it"));
    // With user-api not answering, whether the read would create it is not known.
    let v = api_at(jiro, &gone);
    assert_eq!(verdict(&v, "API002", "profile-missing"), "unchecked", "{:#}", check(&v, "API002"));
    // With user-api's database failing, the creation cannot happen.
    let failing = Fixture::start(&["spec", "role=user-api", "health=503:database"]);
    let v = api_at(jiro, &user_api_at(&failing.url()));
    assert_eq!(verdict(&v, "API002", "profile-missing"), "suspected", "{:#}", check(&v, "API002"));
    assert_eq!(verdict(&v, "API002", "database-error"), "confirmed");
    assert_eq!(status(&v, "API002"), "critical");
    // A cache entry that outlived its row, never expiring.
    s.redis.cli(&[
        "SET",
        &format!("cache:profile:{jiro}"),
        &format!(r#"{{"user_id":"{jiro}","first_name":"Gone-Private"}}"#),
    ]);
    let v = api(jiro);
    assert_eq!(verdict(&v, "API002", "stale-cache"), "confirmed");
    assert!(evidence(&v, "API002", "stale-cache").contains("no TTL"));

    // No profiles table: the database error the runbook names.
    s.pg.psql("apidb", "DROP TABLE profiles;");
    let v = api(taro);
    assert_eq!(verdict(&v, "API002", "database-error"), "confirmed", "{:#}", check(&v, "API002"));
    assert!(evidence(&v, "API002", "database-error").contains("profiles"));

    // A user id that is not an id.
    let (mut cmd, _d) = doctor();
    let out = run(cmd.args(["api", "--user-id", "4 2*", "--no-docker"]));
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("--user-id"), "{}", out.stderr);
}

/// The spec's admindb.documents (`06-database/06`), the columns doctor may read.
const DOCUMENTS: &str = "CREATE TABLE documents (id serial PRIMARY KEY, filename varchar NOT NULL, \
     file_path varchar NOT NULL DEFAULT '', mime_type varchar NOT NULL DEFAULT 'application/pdf', \
     file_size bigint NOT NULL DEFAULT 0, status varchar NOT NULL DEFAULT 'uploaded', processing_metadata json, \
     text_content text, original_metadata jsonb, created_at timestamp NOT NULL DEFAULT now(), \
     updated_at timestamp NOT NULL DEFAULT now());";

#[test]
fn documents_left_in_uploaded_are_compared_with_the_queue_and_the_job_records() {
    let Some(s) = Stack::start() else { return };
    s.pg.psql(
        "admindb",
        &format!(
            "{DOCUMENTS} INSERT INTO documents (filename, status, created_at, updated_at) VALUES \
             ('a.pdf', 'completed', now() - interval '1 day', now() - interval '1 day'), ('b.pdf', 'completed', now(), now());"
        ),
    );
    let api = || s.doctor(&["api", "--only", "API003"], &[]).0;
    let (v, _) = s.doctor(&["api", "--only", "API003"], &[("MAX_FILE_SIZE", "5MB")]);
    assert_eq!(verdict(&v, "API003", "ocr-dependency"), "unchecked", "{:#}", check(&v, "API003"));
    assert_eq!(verdict(&v, "API003", "processing-stalled"), "ruled-out", "{:#}", check(&v, "API003"));
    let limit = check(&v, "API003")["evidence"]["max_file_size"].as_str().unwrap().to_string();
    assert!(limit.contains("over 50 MB in its own code") && limit.contains("MAX_FILE_SIZE is 5.0 MB"), "{limit}");

    // Two uploads nobody picked up for 20 minutes, an empty queue, and a failed job record.
    s.pg.psql(
        "admindb",
        "INSERT INTO documents (filename, status, created_at, updated_at) VALUES \
         ('c.pdf', 'uploaded', now() - interval '20 minutes', now() - interval '20 minutes'), \
         ('d.pdf', 'uploaded', now() - interval '15 minutes', now() - interval '15 minutes');",
    );
    s.redis.cli(&[
        "SET",
        "job:status:doc-ocr-1",
        r#"{"job_id":"doc-ocr-1","status":"failed","error":"x"}"#,
        "EX",
        "86400",
    ]);
    s.redis.cli(&["SET", "job:status:doc-ocr-2", r#"{"job_id":"doc-ocr-2","status":"completed"}"#, "EX", "86400"]);
    let v = api();
    assert_eq!(verdict(&v, "API003", "processing-stalled"), "confirmed", "{:#}", check(&v, "API003"));
    let ev = evidence(&v, "API003", "processing-stalled");
    assert!(ev.contains("2 documents uploaded up to 20m ago") && ev.contains("no job is pending"), "{ev}");
    assert_eq!(verdict(&v, "API003", "ocr-dependency"), "suspected");
    assert!(evidence(&v, "API003", "ocr-dependency").contains("1 job:status records say failed"));
    assert_eq!(status(&v, "API003"), "critical");

    // Their jobs are queued and pending, and nothing processes: the worker does not consume.
    s.redis.cli(&["RPUSH", "queue:document:processing", "doc-ocr-3", "doc-ocr-4"]);
    for j in ["doc-ocr-3", "doc-ocr-4"] {
        s.redis.cli(&[
            "SET",
            &format!("job:status:{j}"),
            &format!(r#"{{"job_id":"{j}","status":"pending"}}"#),
            "EX",
            "86400",
        ]);
    }
    let v = api();
    let ev = evidence(&v, "API003", "processing-stalled");
    assert!(ev.contains("while 2 jobs wait in queue:document:processing and none is processing"), "{ev}");
    assert_eq!(check(&v, "API003")["evidence"]["document_queue"], 2);

    // A 3-page document in processing for 15 minutes: far beyond the spec's minute.
    s.pg.psql(
        "admindb",
        "INSERT INTO documents (filename, status, processing_metadata, created_at, updated_at) VALUES \
         ('e.pdf', 'processing', '{\"total_pages\": 3}', now() - interval '16 minutes', now() - interval '15 minutes'), \
         ('f.pdf', 'failed', NULL, now() - interval '5 minutes', now() - interval '5 minutes');",
    );
    let v = api();
    let ev = evidence(&v, "API003", "processing-stalled");
    assert!(ev.contains("the oldest for 15m with 3 pages, where the spec expects up to 60s"), "{ev}");
    assert!(ev.contains("nothing consumes the queue"), "an overdue document is no worker at work: {ev}");
    let ev = evidence(&v, "API003", "ocr-dependency");
    assert!(ev.contains("1 documents in status \"failed\"") && ev.contains("1 job:status records say failed"), "{ev}");
    // Without the engine, what only it shows stays unchecked.
    assert_eq!(verdict(&v, "API003", "admin-api-oom"), "unchecked");
    assert_eq!(verdict(&v, "API003", "model-cache"), "unchecked");
}

/// Connections doctor opened per database during the run whose log lines are `log`.
fn doctor_connections(log: &str) -> std::collections::BTreeMap<String, usize> {
    let mut per_db = std::collections::BTreeMap::new();
    for line in log.lines().filter(|l| l.contains("connection authorized") && l.contains("application_name=doctor")) {
        let db = line.split("database=").nth(1).and_then(|r| r.split_whitespace().next()).unwrap_or("?");
        *per_db.entry(db.to_string()).or_insert(0) += 1;
    }
    per_db
}

#[test]
fn a_full_run_writes_nothing_and_holds_one_connection_per_database() {
    let settings = vec![("autovacuum".into(), "off".into()), ("log_connections".into(), "on".into())];
    let Some(s) = Stack::start_with(settings) else { return };
    let fx = Fixture::start(&[]);
    s.pg.psql(
        "authdb",
        "CREATE TABLE users (id serial PRIMARY KEY, username text, is_active boolean); \
         INSERT INTO users (username, is_active) VALUES ('testuser', true); \
         CREATE TABLE refresh_tokens (id serial, user_id int, token text, expires_at timestamptz); \
         INSERT INTO refresh_tokens (user_id, token, expires_at) VALUES (1, 'x', now() + interval '1 day');",
    );
    s.pg.psql("apidb", "CREATE TABLE profiles (id serial, user_id text, first_name text); INSERT INTO profiles (user_id, first_name) VALUES ('1', 'a');");
    s.pg.psql("admindb", "CREATE TABLE documents (id serial, filename text, status text, created_at timestamptz DEFAULT now()); INSERT INTO documents (filename, status) VALUES ('a', 'done');");
    s.redis
        .pipe(&(0..500).map(|i| format!("SET refresh_token:{i} v EX 600\nSET profile:{i} {{}}\n")).collect::<String>());
    s.redis.cli(&["CONFIG", "RESETSTAT"]);
    let writes = "SELECT sum(tup_inserted + tup_updated + tup_deleted) FROM pg_stat_database";
    let before = s.pg.psql("postgres", &format!("SELECT pg_stat_force_next_flush(); {writes}"));
    let toml = format!(
        "[services.auth-service]\nurl = \"{0}\"\n[services.user-api]\nurl = \"{0}\"\n[services.admin-api]\nurl = \"{0}\"\n\
         [services.user-frontend]\nurl = \"{0}\"\n[services.admin-frontend]\nurl = \"{0}\"\n",
        fx.url()
    );
    let login = [("DOCTOR_LOGIN_USERNAME", "testuser"), ("DOCTOR_LOGIN_PASSWORD", "testpass")];
    let runs: [&[&str]; 3] = [&["all"], &["api", "--user-id", "1"], &["redis", "--bigkeys"]];
    for args in runs {
        let log_before = s.pg.log().len();
        let conns_before = redis_connections(&s.redis);
        let (mut cmd, dir) = doctor();
        std::fs::write(dir.path().join("doctor.toml"), &toml).unwrap();
        cmd.env("DATABASE_URL", s.pg.url("postgres", &s.pg.superuser_password, "authdb"));
        cmd.env("REDIS_URL", s.redis.url());
        for (k, v) in login {
            cmd.env(k, v);
        }
        let out = run(cmd.args(["--no-docker", "--format", "json", "--timeout", "3s"]).args(args));
        assert!((0..=3).contains(&out.code), "{args:?}: {}", out.stderr);
        std::thread::sleep(std::time::Duration::from_millis(100));
        let per_db = doctor_connections(&s.pg.log()[log_before..]);
        assert!(!per_db.is_empty() || args[0] == "redis", "{args:?}: no connection seen in the log");
        for (db, n) in &per_db {
            assert_eq!(*n, 1, "{args:?}: doctor opened {n} connections to {db}: {per_db:?}");
        }
        // One for doctor, one for the redis-cli that reads the counter afterwards.
        let opened = redis_connections(&s.redis) - conns_before;
        assert!(opened <= 2, "{args:?}: doctor opened {} Redis connections", opened - 1);
    }
    std::thread::sleep(std::time::Duration::from_millis(600));
    let after = s.pg.psql("postgres", &format!("SELECT pg_stat_force_next_flush(); {writes}"));
    assert_eq!(before, after, "tuples were written while doctor ran");

    let read_only = [
        RedisServer::SCAN_COMMANDS,
        RedisServer::FAMILY_COMMANDS,
        &[
            "get",
            "hgetall",
            "config|get",
            "object|encoding",
            "strlen",
            "hlen",
            "llen",
            "scard",
            "zcard",
            "xlen",
            "pttl",
            "exists",
            "dbsize",
        ],
    ]
    .concat();
    let used = s.redis.assert_only_commands(&read_only);
    assert!(!used.iter().any(|c| c == "keys" || c == "config|set"));
}

fn redis_connections(r: &RedisServer) -> i64 {
    r.cli(&["INFO", "stats"])
        .lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// authdb's users table as the spec has it (`06-database/04`, `10-security/02`).
const SPEC_USERS: &str = "CREATE TABLE users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text UNIQUE NOT NULL, \
     password_hash text NOT NULL, is_active boolean DEFAULT true, login_attempts integer DEFAULT 0, \
     last_login_at timestamp, locked_until timestamp); \
     INSERT INTO users (email, password_hash) VALUES ('test@example.com', 'HASH-SECRET-1'), \
     ('inactive@example.com', 'HASH-SECRET-2'); \
     UPDATE users SET is_active = false WHERE email = 'inactive@example.com';";

#[test]
fn a_locked_account_is_read_from_authdb_and_the_rate_limit_from_redis() {
    let Some(s) = Stack::start() else { return };
    s.pg.psql("authdb", SPEC_USERS);
    let fx = Fixture::start(&["spec", "role=auth", "lockout"]);
    let wrong = r#"{"email":"test@example.com","password":"Wrong-Pass-9"}"#;
    // Five failures lock the account; auth-service records it as the spec does (the fixture
    // keeps no database, so the test writes what auth-service would have: naive UTC).
    for _ in 0..5 {
        fx.post_json("/auth/login", wrong);
    }
    s.pg.psql(
        "authdb",
        "UPDATE users SET login_attempts = 5, locked_until = (now() AT TIME ZONE 'UTC') + interval '30 minutes' \
         WHERE email = 'test@example.com';",
    );
    let login = |fx: &Fixture, user: &str, password: &str| {
        let env = [("DOCTOR_LOGIN_USERNAME", user), ("DOCTOR_LOGIN_PASSWORD", password)];
        let (v, out) = s.doctor(&["auth", "--url", &fx.url(), "--only", "AU001"], &env);
        assert!(!out.combined().contains("HASH-SECRET"), "a password hash was printed");
        assert!(!out.combined().contains(password), "the password was printed");
        v
    };
    let v = login(&fx, "test@example.com", "testpass");
    assert_eq!(verdict(&v, "AU001", "account-locked"), "confirmed", "{:#}", check(&v, "AU001"));
    let ev = evidence(&v, "AU001", "account-locked");
    assert!(ev.contains("test@example.com is locked in authdb until "), "{ev}");
    assert!(ev.contains("login_attempts 5"), "{ev}");
    assert!(ev.contains("(another 29m") || ev.contains("(another 30m"), "{ev}");
    assert!(ev.contains("UPDATE users SET login_attempts = 0, locked_until = NULL WHERE email = 'test@example.com'"));
    assert_eq!(verdict(&v, "AU001", "user-inactive"), "ruled-out", "{:#}", check(&v, "AU001"));
    assert!(evidence(&v, "AU001", "user-inactive").contains("test@example.com is active in authdb"));
    assert_eq!(check(&v, "AU001")["evidence"]["login_attempts"], 5);

    // The lock has passed, one failure short of the next: a wrong password, not a lock.
    s.pg.psql(
        "authdb",
        "UPDATE users SET login_attempts = 4, locked_until = (now() AT TIME ZONE 'UTC') - interval '1 minute';",
    );
    let plain = Fixture::start(&["spec", "role=auth"]);
    let v = login(&plain, "test@example.com", "Wrong-Pass-9");
    assert_eq!(verdict(&v, "AU001", "wrong-password"), "confirmed", "{:#}", check(&v, "AU001"));
    assert_eq!(verdict(&v, "AU001", "account-locked"), "ruled-out");
    assert!(evidence(&v, "AU001", "account-locked").contains("login_attempts is 4: failure number 5 locks it"));
    assert_eq!(verdict(&v, "AU001", "rate-limited"), "ruled-out");
    assert!(evidence(&v, "AU001", "rate-limited").contains("no rate_limit:login:test@example.com in Redis"));

    // The rate limit: its counter in Redis (as auth-service INCRs it) and the 429 for real.
    s.redis.cli(&["SET", "rate_limit:login:test@example.com", "6", "EX", "60"]);
    s.redis.cli(&["CONFIG", "RESETSTAT"]);
    let limited = Fixture::start(&["spec", "role=auth", "rate-limit=5"]);
    for _ in 0..5 {
        limited.post_json("/auth/login", wrong);
    }
    let v = login(&limited, "test@example.com", "testpass");
    assert_eq!(verdict(&v, "AU001", "rate-limited"), "confirmed", "{:#}", check(&v, "AU001"));
    let ev = evidence(&v, "AU001", "rate-limited");
    assert!(ev.contains("Too many login attempts"), "{ev}");
    assert!(ev.contains("rate_limit:login:test@example.com in Redis counts 6 (the limit is 5)"), "{ev}");
    assert_eq!(verdict(&v, "AU001", "user-inactive"), "ruled-out");
    // Only reads reached Redis.
    let used = s.redis.assert_only_commands(&[RedisServer::read_only_commands(), vec!["type"]].concat());
    assert!(used.contains(&"get".to_string()), "{used:?}");
}

/// A refresh JWT as the spec's auth-service issues it (`07-redis/07`: `sub`, `jti`, `sid`,
/// RS256), signed with the fixture's key, issued `age` seconds ago and valid `left` more.
fn refresh_jwt(jti: &str, sid: &str, age: i64, left: i64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = serde_json::json!({
        "sub": "550e8400-e29b-41d4-a716-446655440000", "iss": "https://auth.example.com", "aud": "fastapi-api",
        "iat": now - age, "exp": now + left, "jti": jti, "sid": sid, "token_type": "refresh",
    });
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(include_bytes!("fixture/keys/current.private.pem")).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("auth-service-key-1".into());
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

const USER: &str = "550e8400-e29b-41d4-a716-446655440000";

/// The spec's stack: authdb has `users` only, Redis holds `session:<user_id>:<sid>` (TTL 3600)
/// and `blacklist:refresh:<jti>` keys, and no `refresh_token:*` key at all.
#[test]
fn a_refresh_jwt_is_traced_through_its_blacklist_entry_and_its_session() {
    let Some(s) = Stack::start() else { return };
    let fx = Fixture::start(&[]);
    s.pg.psql("authdb", "CREATE TABLE users (id uuid PRIMARY KEY, email text, is_active boolean);");
    // Everything kept across a restart: only the token's own keys decide.
    s.redis.cli(&["CONFIG", "SET", "appendonly", "yes"]);
    let session = |sid: &str, ttl: &str, refresh_jti: &str| {
        let value = format!(r#"{{"user_id":"{USER}","session_id":"{sid}","refresh_jti":"{refresh_jti}"}}"#);
        s.redis.cli(&["SET", &format!("session:{USER}:{sid}"), &value, "EX", ttl]);
    };
    session("sess-0ther0001", "3600", "jti-other-0001");
    let trace = |token: &str| {
        s.redis.cli(&["CONFIG", "RESETSTAT"]);
        let (mut cmd, _dir) = doctor();
        cmd.env("DATABASE_URL", s.pg.url("postgres", &s.pg.superuser_password, "authdb"))
            .env("REDIS_URL", s.redis.url())
            .args(["--no-docker", "--format", "json", "--timeout", "3s", "auth", "--url", &fx.url()])
            .args(["--refresh-token", "-"]);
        let out = support::run_with_stdin(&mut cmd, &format!("{token}\n"));
        let v: Value =
            serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
        let said = out.combined();
        for secret in [token, token.rsplit('.').next().unwrap(), "jti-valid-0001", "sess-valid0001"] {
            assert!(!said.contains(secret), "{secret} was printed:\n{said}");
        }
        let mut read_only = RedisServer::read_only_commands();
        read_only.extend(["strlen", "hmget", "config|resetstat"]);
        s.redis.assert_only_commands(&read_only);
        v
    };

    // Valid: unexpired, not blacklisted, its session there.
    session("sess-valid0001", "3000", "jti-valid-0001");
    let valid = refresh_jwt("jti-valid-0001", "sess-valid0001", 600, 7 * 86_400 - 600);
    let v = trace(&valid);
    assert_eq!(status(&v, "AU003"), "ok", "{:#}", check(&v, "AU003"));
    for id in ["refresh-expired", "refresh-revoked", "session-expired", "refresh-missing"] {
        assert_eq!(verdict(&v, "AU003", id), "ruled-out", "{id}: {:#}", check(&v, "AU003"));
    }
    assert!(evidence(&v, "AU003", "refresh-revoked").contains("blacklist:refresh:<jti "), "{:#}", check(&v, "AU003"));
    assert!(evidence(&v, "AU003", "session-expired").contains(&format!("its session session:{USER}:<sid ")));
    assert!(check(&v, "AU003")["summary"].as_str().unwrap().contains("the refresh fails elsewhere"));

    // Expired by its exp.
    let v = trace(&refresh_jwt("jti-old-00001", "sess-old00001", 8 * 86_400, -7200));
    assert_eq!(verdict(&v, "AU003", "refresh-expired"), "confirmed", "{:#}", check(&v, "AU003"));
    assert!(evidence(&v, "AU003", "refresh-expired").contains("this token expired 2h ago (its exp)"));
    assert_eq!(status(&v, "AU003"), "warning");

    // Blacklisted: the user logged out.
    s.redis.cli(&["SET", "blacklist:refresh:jti-valid-0001", "true", "EX", "600000"]);
    let v = trace(&valid);
    assert_eq!(verdict(&v, "AU003", "refresh-revoked"), "confirmed", "{:#}", check(&v, "AU003"));
    assert!(evidence(&v, "AU003", "refresh-revoked").contains("exists (expires in"));
    s.redis.cli(&["DEL", "blacklist:refresh:jti-valid-0001"]);

    // Replaced by a later refresh: the session names another refresh token.
    session("sess-valid0001", "3000", "jti-newer-0001");
    let v = trace(&valid);
    assert_eq!(verdict(&v, "AU003", "refresh-revoked"), "suspected", "{:#}", check(&v, "AU003"));

    // Its session expired for real (TTL run out) two hours after login: "Session not found".
    session("sess-late00001", "1", "jti-late-00001");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let late = refresh_jwt("jti-late-00001", "sess-late00001", 7200, 7 * 86_400 - 7200);
    let v = trace(&late);
    assert_eq!(verdict(&v, "AU003", "session-expired"), "confirmed", "{:#}", check(&v, "AU003"));
    assert!(evidence(&v, "AU003", "session-expired").contains("longer than the session TTL (60m)"));
    assert_eq!(verdict(&v, "AU003", "refresh-expired"), "ruled-out");
    assert_eq!(status(&v, "AU003"), "warning");

    // Its session gone ten minutes after login: Redis lost it (and started since).
    let lost = refresh_jwt("jti-lost-00001", "sess-lost00001", 600, 7 * 86_400 - 600);
    let v = trace(&lost);
    assert_eq!(verdict(&v, "AU003", "refresh-missing"), "confirmed", "{:#}", check(&v, "AU003"));
    let ev = evidence(&v, "AU003", "refresh-missing");
    assert!(ev.contains("within the session TTL (60m): Redis lost it"), "{ev}");
    assert!(ev.contains("after this token was issued"), "{ev}");
    assert_eq!(verdict(&v, "AU003", "session-expired"), "ruled-out");
    assert_eq!(status(&v, "AU003"), "critical");
}

/// Without a token: whether everyone was logged out, from the sessions Redis holds, its
/// persistence and its uptime. No refresh_tokens table and no refresh_token:* key rule nothing out.
#[test]
fn without_a_token_a_fresh_redis_with_no_session_is_suspected_of_losing_them() {
    let Some(s) = Stack::start() else { return };
    let fx = Fixture::start(&[]);
    s.pg.psql("authdb", "CREATE TABLE users (id uuid PRIMARY KEY, email text, is_active boolean);");
    let auth = || s.doctor(&["auth", "--url", &fx.url()], &[]).0;

    // Just started, persisting nothing, no session: everyone was logged out.
    let v = auth();
    assert_eq!(verdict(&v, "AU003", "refresh-missing"), "suspected", "{:#}", check(&v, "AU003"));
    assert!(evidence(&v, "AU003", "refresh-missing").contains("within the session TTL, and persists nothing"));
    assert_eq!(status(&v, "AU003"), "warning");
    assert!(!evidence(&v, "AU003", "refresh-missing").contains("refresh_token:*"));

    // The spec's persistence (RDB only), still no session after the restart.
    s.redis.cli(&["CONFIG", "SET", "save", "900 1 300 10 60 10000"]);
    let v = auth();
    assert_eq!(verdict(&v, "AU003", "refresh-missing"), "suspected", "{:#}", check(&v, "AU003"));
    assert!(
        evidence(&v, "AU003", "refresh-missing")
            .contains("with RDB snapshots only (no AOF) and holds no session:* key")
    );

    // Healthy: AOF on, sessions held.
    s.redis.cli(&["CONFIG", "SET", "appendonly", "yes"]);
    for i in 1..=2 {
        s.redis.cli(&["SET", &format!("session:{USER}:sess-{i}"), "{}", "EX", "3600"]);
    }
    s.redis.cli(&["SET", "blacklist:refresh:jti-gone", "true", "EX", "600000"]);
    let v = auth();
    assert_eq!(status(&v, "AU003"), "ok", "{:#}", check(&v, "AU003"));
    assert_eq!(verdict(&v, "AU003", "refresh-missing"), "ruled-out");
    assert!(evidence(&v, "AU003", "refresh-missing").contains("Redis holds 2 session:* keys"));
    assert!(evidence(&v, "AU003", "refresh-revoked").contains("1 blacklist:refresh:* entries"));
    let summary = check(&v, "AU003")["summary"].as_str().unwrap().to_string();
    assert!(summary.starts_with("2 sessions in Redis, 1 refresh tokens blacklisted"), "{summary}");
}
