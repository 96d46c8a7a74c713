//! Secrets planted in every place doctor reads configuration from (flags, environment, `.env`,
//! `doctor.toml`) never come out, in any format, in `-v` logs, or in error messages: with
//! servers that accept them and with servers that reject them.

mod support;

use support::report::{json, status, verdict};
use support::{PgOptions, PgServer, RedisServer, doctor, run};

#[test]
fn planted_secrets_never_appear_in_any_output() {
    let Some(pg) = PgServer::start(PgOptions::default()) else { return };
    let app_pw = "Planted-App-Pw-3b7e";
    pg.psql("postgres", &format!("CREATE ROLE app LOGIN PASSWORD '{app_pw}'"));
    let redis_pw = "Planted-Redis-Pw-91aa";
    let Some(r) = RedisServer::start(&["--requirepass", redis_pw]) else { return };
    let unrelated = "Planted-Jwt-Secret-0c4d";

    // (DATABASE_URL in doctor.toml / env, REDIS_PASSWORD in .env, superuser from the environment)
    let scenarios = [
        ("right", app_pw.to_string(), redis_pw.to_string()),
        ("wrong", "Planted-Wrong-Pw-77f1".to_string(), "Planted-Wrong-Redis-5e2b".to_string()),
    ];
    for (name, pg_pw, rd_pw) in &scenarios {
        for format in ["table", "json", "junit", "markdown"] {
            let (mut cmd, dir) = doctor();
            std::fs::write(
                dir.path().join("doctor.toml"),
                format!(
                    "[services.postgres]\nurl = \"postgresql://app:{pg_pw}@127.0.0.1:{}/authdb\"\n\
                     [services.redis]\nurl = \"redis://127.0.0.1:{}\"\n",
                    pg.port, r.port
                ),
            )
            .unwrap();
            std::fs::write(dir.path().join(".env"), format!("REDIS_PASSWORD={rd_pw}\nJWT_SECRET={unrelated}\n"))
                .unwrap();
            cmd.env("POSTGRES_PASSWORD", &pg.superuser_password).args(["all", "-v", "--format", format]);
            let out = run(&mut cmd);
            assert!((0..=2).contains(&out.code), "{name}/{format}: exit {} {}", out.code, out.stderr);
            for secret in [pg_pw.as_str(), rd_pw.as_str(), unrelated, &pg.superuser_password] {
                assert!(!out.combined().contains(secret), "{name}/{format}: {secret} leaked:\n{}", out.combined());
            }
            if *name == "wrong" {
                assert_eq!(out.code, 2, "{name}/{format}");
            }
        }
    }

    // The same secrets given as flags, with a server that rejects them.
    let (mut cmd, _dir) = doctor();
    let url = format!("postgresql://app:Planted-Flag-Pw-a1@127.0.0.1:{}/authdb", pg.port);
    let admin = format!("postgresql://postgres:Planted-Flag-Admin-b2@127.0.0.1:{}/postgres", pg.port);
    let out = run(cmd.args(["postgres", "-v", "--url", &url, "--admin-url", &admin]));
    assert_eq!(out.code, 2);
    assert!(!out.combined().contains("Planted-Flag"), "{}", out.combined());
    let (mut cmd, _dir) = doctor();
    let out = run(cmd.args(["redis", "-v", "--url", &format!("redis://:Planted-Flag-Redis-c3@127.0.0.1:{}", r.port)]));
    assert_eq!(out.code, 2);
    assert!(!out.combined().contains("Planted-Flag"), "{}", out.combined());
}

/// The real stack's `.env`: the application password reaches `DATABASE_URL` through
/// `${POSTGRES_APP_PASSWORD}` (interpolated as Compose does, so the login succeeds), and the
/// settings whose names only look secret (`ACCESS_TOKEN_COOKIE_NAME=access_token`,
/// `REFRESH_TOKEN_TTL_SEC=2592000`, ...) leave the report's own words readable, while the real
/// secrets beside them still never come out.
#[test]
fn stack_settings_stay_readable_and_interpolated_secrets_stay_hidden() {
    let Some(pg) = PgServer::start(PgOptions::default()) else { return };
    let app_pw = "Planted-Interp-Pw-5d2c";
    pg.psql("postgres", &format!("CREATE ROLE app LOGIN PASSWORD '{app_pw}'"));
    let Some(r) = RedisServer::start(&[]) else { return };
    let jwt_key = "Planted-Jwt-Key-8e1f";
    let nextauth = "Planted-Nextauth-77c0";
    let dotenv = format!(
        "POSTGRES_APP_PASSWORD={app_pw}\n\
         DATABASE_URL=postgresql://app:${{POSTGRES_APP_PASSWORD}}@127.0.0.1:{}/authdb\n\
         REDIS_URL=redis://127.0.0.1:{}\n\
         ACCESS_TOKEN_COOKIE_NAME=access_token\n\
         REFRESH_TOKEN_COOKIE_NAME=refresh_token\n\
         REFRESH_TOKEN_TTL_SEC=2592000\n\
         ACCESS_TOKEN_TTL_SEC=900\n\
         REFRESH_TOKEN_TTL=604800\n\
         JWT_ALGORITHM=RS256\n\
         JWT_PRIVATE_KEY_PATH=/app/keys/private.pem\n\
         JWT_SECRET_KEY={jwt_key}\n\
         NEXTAUTH_SECRET=\"{nextauth}\"\n",
        pg.port, r.port
    );
    for format in ["table", "json", "markdown"] {
        let (mut cmd, dir) = doctor();
        std::fs::write(dir.path().join(".env"), &dotenv).unwrap();
        cmd.env("POSTGRES_PASSWORD", &pg.superuser_password).args(["all", "-v", "--format", format]);
        let out = run(&mut cmd);
        assert!((0..=2).contains(&out.code), "{format}: exit {} {}", out.code, out.stderr);
        let all = out.combined();
        for secret in [app_pw, jwt_key, nextauth, &pg.superuser_password] {
            assert!(!all.contains(secret), "{format}: {secret} leaked:\n{all}");
        }
        assert!(
            all.contains("redis session:*, blacklist:refresh:*; authdb.refresh_tokens"),
            "{format}: AU003's target shredded:\n{all}"
        );
        assert!(!all.contains("authdb.***s"), "{format}:\n{all}");
        if format == "json" {
            let v = json(&out);
            // (a warning at most: this server has authdb only, not apidb and admindb)
            assert_ne!(status(&v, "PG001"), "critical", "the interpolated password logs in:\n{all}");
            assert_eq!(verdict(&v, "PG001", "wrong-password"), "ruled-out");
        }
    }
}
