//! The whole stack in the lab, healthy: PostgreSQL and Redis containers with the stack's
//! databases, tables and keys, and the HTTP fixture as a container for auth-service, user-api,
//! admin-api, both frontends (as BFFs) and Prometheus, all on one network with their compose
//! names as aliases, each service's environment pointing at the others the way the compose file
//! does. `doctor all` with a login must find nothing wrong: a doctor that raises false alarms on
//! a healthy stack is not trusted at 3 a.m. Every check that is not ok is listed on failure.

mod support;

use serde_json::Value;
use support::lab::{ContainerSpec, Image, Lab, host_psql, image};
use support::{doctor, run};

const PG_PASSWORD: &str = "Stack-Pg-Secret-8e2f";
const REDIS_PASSWORD: &str = "Stack-Redis-Secret-5a1c";

/// One fixture container: service name, port inside, fixture modes, environment.
type HttpService = (&'static str, u16, Vec<String>, Vec<(String, String)>);

fn http_services() -> Vec<HttpService> {
    let pg = |db: &str| format!("postgresql://postgres:{PG_PASSWORD}@postgres:5432/{db}");
    let redis = format!("redis://:{REDIS_PASSWORD}@redis:6379/0");
    let jwks = "http://auth-service:8002/.well-known/jwks.json".to_string();
    let env = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    vec![
        (
            "auth-service",
            8002,
            vec![],
            env(&[("DATABASE_URL", &pg("authdb")), ("REDIS_URL", &redis), ("JWT_ALGORITHM", "RS256")]),
        ),
        (
            "user-api",
            8001,
            vec![],
            env(&[
                ("DATABASE_URL", &pg("apidb")),
                ("REDIS_URL", &redis),
                ("JWKS_URL", &jwks),
                ("JWT_ALGORITHM", "RS256"),
            ]),
        ),
        (
            "admin-api",
            8003,
            vec![],
            env(&[
                ("DATABASE_URL", &pg("admindb")),
                ("REDIS_URL", &redis),
                ("JWKS_URL", &jwks),
                ("JWT_ALGORITHM", "RS256"),
                ("MAX_FILE_SIZE", "10485760"),
            ]),
        ),
        (
            "user-frontend",
            3002,
            vec!["role=bff".into(), "upstream=http://user-api:8001".into()],
            env(&[("AUTH_SERVICE_URL", "http://auth-service:8002"), ("API_URL", "http://user-api:8001")]),
        ),
        (
            "admin-frontend",
            3003,
            vec!["role=bff".into(), "upstream=http://admin-api:8003".into()],
            env(&[("AUTH_SERVICE_URL", "http://auth-service:8002"), ("API_URL", "http://admin-api:8003")]),
        ),
        ("prometheus", 9090, vec![], vec![]),
    ]
}

#[test]
fn doctor_all_on_a_healthy_stack_finds_nothing_wrong() {
    let Some(lab) = Lab::new() else { return };
    let net = |name: &str| vec![("stack".to_string(), vec![name.to_string()])];

    lab.run(ContainerSpec {
        name: "postgres".into(),
        image: image(Image::Postgres),
        env: vec![("POSTGRES_PASSWORD".into(), PG_PASSWORD.into()), ("POSTGRES_DB".into(), "authdb".into())],
        networks: net("postgres"),
        publish: vec!["127.0.0.1:0:5432".into()],
        ..Default::default()
    });
    lab.run(ContainerSpec {
        name: "redis".into(),
        image: image(Image::Redis),
        env: vec![("REDIS_PASSWORD".into(), REDIS_PASSWORD.into())],
        networks: net("redis"),
        publish: vec!["127.0.0.1:0:6379".into()],
        cmd: ["--appendonly", "yes", "--maxmemory", "256mb", "--maxmemory-policy", "volatile-lru"]
            .map(String::from)
            .to_vec(),
        ..Default::default()
    });
    for (service, port, modes, env) in http_services() {
        let mut env = env;
        env.push(("FIXTURE_LISTEN".into(), format!("0.0.0.0:{port}")));
        if !modes.is_empty() {
            env.push(("FIXTURE_MODES".into(), modes.join(",")));
        }
        lab.run(ContainerSpec {
            name: service.into(),
            image: image(Image::Fixture),
            env,
            networks: net(service),
            publish: vec![format!("127.0.0.1:0:{port}")],
            ..Default::default()
        });
    }

    // The stack's data, as its migrations would leave it.
    lab.wait_pg_ready("postgres");
    let pg_port = lab.published_port("postgres", 5432);
    let psql = |db: &str, sql: &str| {
        host_psql(pg_port, "postgres", PG_PASSWORD, db, sql).unwrap_or_else(|e| panic!("psql {db}: {e}"))
    };
    psql("authdb", "CREATE DATABASE apidb");
    psql("authdb", "CREATE DATABASE admindb");
    psql(
        "authdb",
        "CREATE TABLE users (id serial PRIMARY KEY, username text UNIQUE, email text UNIQUE, is_active boolean); \
         INSERT INTO users (username, email, is_active) VALUES ('testuser', 'test@example.com', true); \
         CREATE TABLE refresh_tokens (id serial PRIMARY KEY, user_id int, token text UNIQUE, \
         expires_at timestamptz, revoked boolean NOT NULL DEFAULT false); \
         INSERT INTO refresh_tokens (user_id, token, expires_at) VALUES (1, 'stack-rt-1', now() + interval '7 days');",
    );
    psql(
        "apidb",
        "CREATE TABLE profiles (id serial PRIMARY KEY, user_id text UNIQUE, first_name text, updated_at timestamptz); \
         INSERT INTO profiles (user_id, first_name, updated_at) VALUES ('1', 'Test', now());",
    );
    psql(
        "admindb",
        "CREATE TABLE documents (id serial PRIMARY KEY, filename text, status text, created_at timestamptz DEFAULT now()); \
         INSERT INTO documents (filename, status) VALUES ('a.pdf', 'completed');",
    );
    lab.wait_redis_ready("redis");
    let redis_port = lab.published_port("redis", 6379);
    let cli = |args: &[&str]| {
        support::lab::host_redis_cli(redis_port, Some(REDIS_PASSWORD), args)
            .unwrap_or_else(|e| panic!("redis-cli: {e}"))
    };
    cli(&["SET", "refresh_token:1", "stack-rt-1", "EX", "604800"]);
    cli(&["SET", "profile:1", r#"{"user_id": "1", "first_name": "Test"}"#, "EX", "300"]);
    // A day's cache traffic, so that RD003 has lookups to judge (with none it is skipped), busy
    // enough that the few lookups of doctor's own runs (its reads count in INFO too) stay noise.
    cli(&["-r", "3000", "GET", "profile:1"]);
    cli(&["-r", "100", "GET", "profile:2"]);

    let mut toml = String::new();
    for (service, port, _, _) in http_services() {
        let host_port = lab.published_port(service, port);
        toml.push_str(&format!(
            "[services.{service}]\ncontainer = \"{}\"\nurl = \"http://127.0.0.1:{host_port}\"\n\n",
            lab.name(service)
        ));
    }
    for service in ["postgres", "redis"] {
        toml.push_str(&format!("[services.{service}]\ncontainer = \"{}\"\n\n", lab.name(service)));
    }
    let doctor_all = |args: &[&str]| {
        let (mut cmd, dir) = doctor();
        std::fs::write(dir.path().join("doctor.toml"), &toml).unwrap();
        cmd.env("DATABASE_URL", format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{pg_port}/authdb"))
            .env("REDIS_URL", format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{redis_port}/0"))
            .env("DOCTOR_LOGIN_USERNAME", "testuser")
            .env("DOCTOR_LOGIN_PASSWORD", "testpass")
            .args(["all", "--timeout", "5s"])
            .args(args);
        run(&mut cmd)
    };
    // Twice: the second run reads the logs the first one caused (its requests in the services'
    // access logs, its queries in PostgreSQL's), and must not take its own traces for symptoms.
    let _first = doctor_all(&["--format", "json"]);
    let out = doctor_all(&["--format", "json"]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", out.combined()));
    let not_ok: Vec<String> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "ok")
        .map(|c| {
            let causes: Vec<String> = c["causes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|k| k["verdict"] == "confirmed" || k["verdict"] == "suspected")
                .map(|k| format!("    {} {}: {}", k["verdict"], k["id"], k["evidence"]))
                .collect();
            format!(
                "{} {} {} {}\n{}\n    logs: {}",
                c["code"],
                c["status"],
                c["target"],
                c["summary"],
                causes.join("\n"),
                c["evidence"]["logs"]
            )
        })
        .collect();
    let line = |c: &Value| format!("{} {} {}", c["code"], c["status"], c["summary"]);
    eprintln!("{}", v["checks"].as_array().unwrap().iter().map(line).collect::<Vec<_>>().join("\n"));
    assert!(not_ok.is_empty(), "a healthy stack, yet:\n{}", not_ok.join("\n"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let secrets = [PG_PASSWORD, REDIS_PASSWORD, "testpass", "stack-rt-1"];
    for secret in secrets {
        assert!(!out.combined().contains(secret), "{secret} was printed");
    }
    // doctor's queries leave no ERROR in the server's log (each would alarm whoever watches it).
    let errors: Vec<String> =
        lab.logs("postgres").lines().filter(|l| l.contains("ERROR:")).map(str::to_string).collect();
    assert!(errors.is_empty(), "doctor's queries failed on the server:\n{}", errors.join("\n"));
    // The one-user and one-token lookups on the same healthy data: nothing wrong either.
    for args in [&["api", "--user-id", "1"][..], &["auth", "--refresh-token", "stack-rt-1"][..]] {
        let (mut cmd, dir) = doctor();
        std::fs::write(dir.path().join("doctor.toml"), &toml).unwrap();
        cmd.env("DATABASE_URL", format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{pg_port}/authdb"))
            .env("REDIS_URL", format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{redis_port}/0"))
            .args(args)
            .args(["--format", "json", "--timeout", "5s"]);
        let out = run(&mut cmd);
        let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", out.combined()));
        let bad: Vec<String> = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] != "ok" && c["status"] != "skipped")
            .map(|c| format!("{} {} {}", c["code"], c["status"], c["summary"]))
            .collect();
        assert!(bad.is_empty(), "{args:?} on a healthy stack:\n{}", bad.join("\n"));
        let summary = |code: &str| {
            v["checks"].as_array().unwrap().iter().find(|c| c["code"] == code).map(|c| c["summary"].to_string())
        };
        match args[0] {
            "api" => assert!(!summary("API002").unwrap().contains("no user id"), "{:?}", summary("API002")),
            _ => assert!(summary("AU003").unwrap().contains("this token is valid"), "{:?}", summary("AU003")),
        }
        assert!(!out.combined().contains("stack-rt-1"), "the refresh token was printed");
    }
    // The same run as people and CI read it, in both languages: all ok, nothing secret.
    for format in ["table", "markdown", "junit"] {
        for lang in ["en", "ja"] {
            let out = doctor_all(&["--format", format, "--lang", lang, "-v"]);
            assert_eq!(out.code, 0, "{format} {lang}: {}", out.combined());
            for secret in secrets {
                assert!(!out.combined().contains(secret), "{format} {lang}: {secret} was printed");
            }
        }
    }

    // 3 a.m.: Redis stops. The root cause comes first, and what depends on Redis says so
    // instead of adding alarms of its own.
    lab.stop("redis");
    let out = doctor_all(&["--format", "json"]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", out.combined()));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(v["root_causes"][0]["code"], "DK002", "{:#}", v["root_causes"]);
    let explains = v["root_causes"][0]["explains"].as_array().unwrap();
    assert!(explains.iter().any(|c| c == "RD001"), "{:#}", v["root_causes"]);
    let check = |code: &str| v["checks"].as_array().unwrap().iter().find(|c| c["code"] == code).unwrap().clone();
    for code in ["RD002", "RD003"] {
        assert_eq!(check(code)["status"], "skipped", "{:#}", check(code));
    }
    let rd001 = check("RD001");
    let stopped = rd001["causes"].as_array().unwrap().iter().find(|c| c["id"] == "container-stopped").unwrap();
    assert_eq!(stopped["verdict"], "confirmed", "{rd001:#}");
    assert!(
        check("NET001")["summary"].as_str().unwrap().contains("not running, so not listening"),
        "{:#}",
        check("NET001")
    );
    // Refreshes fail while Redis is down: a warning that points at RD001.
    assert_eq!(check("AU003")["status"], "warning", "{:#}", check("AU003"));
}
