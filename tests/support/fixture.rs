//! Starting the HTTP fixture (`doctor-fixture`, tests/fixture/) as a process for live tests:
//! one process per service it plays, with its misbehaviour chosen by `--mode` flags.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Fixture {
    pub port: u16,
    child: Child,
}

/// The variables the fixture reads as a service's own environment (in `spec` mode): cleared so
/// that the test's environment never leaks in.
const SERVICE_ENV: &[&str] =
    &["JWT_ISS", "JWT_AUD", "JWT_ISSUER", "JWT_AUDIENCE", "AUTH_SERVER_URL", "API_SERVER_URL", "NODE_ENV"];

impl Fixture {
    /// Starts a fixture on a free port with `modes` (e.g. `["jwks=rotated", "role=bff"]`).
    pub fn start(modes: &[&str]) -> Fixture {
        Fixture::start_with_env(modes, &[])
    }

    /// Starts a fixture with `env` as the service's own environment (`JWT_ISS`,
    /// `AUTH_SERVER_URL`... which `spec` mode reads).
    pub fn start_with_env(modes: &[&str], env: &[(&str, &str)]) -> Fixture {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_doctor-fixture"));
        cmd.args(["--listen", "127.0.0.1:0"]);
        for m in modes {
            cmd.args(["--mode", m]);
        }
        cmd.env_remove("FIXTURE_MODES").env_remove("FIXTURE_LISTEN");
        for name in SERVICE_ENV {
            cmd.env_remove(name);
        }
        cmd.envs(env.iter().copied());
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start doctor-fixture");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the fixture's first line");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from doctor-fixture: {line:?}"));
        Fixture { port, child }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A plain HTTP GET to the fixture (for minting tokens with `/__fixture/token`).
    pub fn get(&self, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect to fixture");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").expect("write");
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read");
        resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
    }

    /// A JSON POST to the fixture: (status, body).
    pub fn post_json(&self, path: &str, body: &str) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect to fixture");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("write");
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read");
        let status = resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        (status, resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
    }

    /// What the fixture was asked (`/__fixture/requests`): (method, path) in order.
    pub fn requests(&self) -> Vec<(String, String)> {
        let v: serde_json::Value = serde_json::from_str(&self.get("/__fixture/requests")).unwrap_or_default();
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        (r["method"].as_str().unwrap_or("").to_string(), r["path"].as_str().unwrap_or("").to_string())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A token minted by the fixture (`/__fixture/token?QUERY`).
    pub fn token(&self, query: &str) -> String {
        self.get(&format!("/__fixture/token?{query}")).trim().to_string()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
