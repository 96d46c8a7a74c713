//! Secrets planted in every place doctor reads configuration from (flags, environment, `.env`,
//! `doctor.toml`) never come out, in any format, in `-v` logs, or in error messages: with
//! servers that accept them and with servers that reject them.

mod support;

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
