//! Hostile servers of our own on loopback: garbage and resets on the PostgreSQL and Redis
//! ports, a Redis that answers every command with an error, a PostgreSQL that demands TLS, HTTP
//! that drips, never ends its body, loops redirects or answers 200 with an HTML error page.
//! Each run ends within the timeout plus a small margin, exits 1, 2 or 3, and says what it met;
//! never a panic.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};
use support::fixture::Fixture;
use support::{Output, PgOptions, PgServer, doctor, run};

/// A TCP server that answers every connection with `behaviour`.
fn server(behaviour: fn(std::net::TcpStream)) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for s in l.incoming().flatten() {
            thread::spawn(move || behaviour(s));
        }
    });
    port
}

fn random_bytes(mut s: std::net::TcpStream) {
    let mut buf = [0u8; 512];
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = s.read(&mut buf);
    let junk: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let _ = s.write_all(&junk);
}

fn reset_after_read(mut s: std::net::TcpStream) {
    let mut buf = [0u8; 64];
    let _ = s.read(&mut buf);
    drop(s);
}

fn error_to_everything(mut s: std::net::TcpStream) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 || s.write_all(b"-ERR this server refuses everything\r\n").is_err() {
            break;
        }
    }
}

fn bounded(args: &[&str]) -> (Output, Duration) {
    let (mut cmd, _d) = doctor();
    let t = Instant::now();
    let out = run(cmd.args(args).args(["--no-docker", "--timeout", "1s"]));
    let took = t.elapsed();
    assert!(matches!(out.code, 1..=3), "{args:?}: exit {}: {}", out.code, out.stderr);
    assert!(!out.stderr.contains("panicked"), "{args:?}: {}", out.stderr);
    assert!(took < Duration::from_millis(2500), "{args:?} took {took:?}");
    (out, took)
}

#[test]
fn garbage_and_resets_on_the_postgres_port() {
    for (behaviour, needle) in [(random_bytes as fn(_), ""), (reset_after_read, "")] {
        let port = server(behaviour);
        let (out, _) = bounded(&["postgres", "--url", &format!("postgresql://u:p@127.0.0.1:{port}/db")]);
        assert_eq!(out.code, 2);
        assert!(out.stdout.contains("PG001") && out.stdout.contains(needle));
    }
}

#[test]
fn garbage_and_errors_on_the_redis_port() {
    for behaviour in [random_bytes as fn(_), reset_after_read, error_to_everything] {
        let port = server(behaviour);
        let (out, _) = bounded(&["redis", "--url", &format!("redis://127.0.0.1:{port}")]);
        assert_eq!(out.code, 2, "{}", out.stdout);
        assert!(out.stdout.contains("RD001"), "{}", out.stdout);
    }
}

#[test]
fn http_that_drips_never_ends_or_loops_costs_only_the_timeout() {
    for mode in ["drip=1000", "endless-body", "redirect-loop", "garbage", "reset"] {
        let fx = Fixture::start(&[mode]);
        let (out, took) = bounded(&["auth", "--url", &fx.url()]);
        assert_eq!(out.code, 2, "{mode}: {}", out.stdout);
        assert!(took < Duration::from_millis(2500), "{mode}");
    }
    let fx = Fixture::start(&["redirect-loop"]);
    let (out, _) = bounded(&["auth", "--url", &fx.url(), "--format", "json"]);
    assert!(out.stdout.contains("redirects in a loop"), "{}", out.stdout);
}

#[test]
fn a_200_with_an_html_error_page_is_not_health() {
    let fx = Fixture::start(&["health=html", "jwks=broken"]);
    let (out, _) = bounded(&["auth", "--url", &fx.url()]);
    assert!(out.stdout.contains("JWKS broken"), "{}", out.stdout);
}

#[test]
fn a_postgres_that_demands_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    if !support::require_or_skip("openssl (to make a TLS certificate)", made.is_ok_and(|o| o.status.success())) {
        return;
    }
    let Some(pg) = PgServer::start(PgOptions::default()) else { return };
    // Files the server reads must belong to its user.
    let pgdir = pg.dir().to_path_buf();
    for f in [&cert, &key] {
        let to = pgdir.join(f.file_name().unwrap());
        std::fs::copy(f, &to).unwrap();
        let _ = std::process::Command::new("chown").arg("postgres").arg(&to).status();
        let _ = std::process::Command::new("chmod").arg("600").arg(&to).status();
    }
    let hba = pgdir.join("hba_tls_only.conf");
    std::fs::write(
        &hba,
        "local all all trust\nhostnossl all all 0.0.0.0/0 reject\nhostssl all all 0.0.0.0/0 scram-sha-256\n",
    )
    .unwrap();
    let _ = std::process::Command::new("chown").arg("postgres").arg(&hba).status();
    pg.psql(
        "postgres",
        &format!(
            "ALTER SYSTEM SET ssl = on; ALTER SYSTEM SET ssl_cert_file = '{}'; ALTER SYSTEM SET ssl_key_file = '{}'; \
             ALTER SYSTEM SET hba_file = '{}';",
            pgdir.join("server.crt").display(),
            pgdir.join("server.key").display(),
            hba.display()
        ),
    );
    pg.stop();
    pg.start_again();
    // Without TLS: refused by pg_hba, and doctor says the URL must ask for TLS.
    let plain = format!("{}?sslmode=disable", pg.admin_url("postgres"));
    let (out, _) = bounded(&["postgres", "--url", &plain, "--format", "json"]);
    assert!(out.stdout.contains("accepts only TLS"), "{}", out.stdout);
    // With TLS (prefer, as libpq): doctor connects through rustls, certificate not verified.
    let (mut cmd, _d) = doctor();
    let out = run(cmd.args(["postgres", "--no-docker", "--format", "json", "--url", &pg.admin_url("postgres")]));
    assert!(out.stdout.contains("\"status\": \"ok\""), "{}", out.stdout);
    assert!(!out.combined().contains(&pg.superuser_password));
}
