//! Starting the HTTP fixture (`doctor-fixture`, tests/fixture/) as a process for live tests:
//! one process per service it plays, with its misbehaviour chosen by `--mode` flags.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Fixture {
    pub port: u16,
    child: Child,
}

impl Fixture {
    /// Starts a fixture on a free port with `modes` (e.g. `["jwks=rotated", "role=bff"]`).
    pub fn start(modes: &[&str]) -> Fixture {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_doctor-fixture"));
        cmd.args(["--listen", "127.0.0.1:0"]);
        for m in modes {
            cmd.args(["--mode", m]);
        }
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
