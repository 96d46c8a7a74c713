//! Test harness shared by the integration tests (`mod support;`).
//!
//! Throwaway **real** servers, each on its own free port and in its own directory under /tmp:
//! - [`PgServer`]: a PostgreSQL cluster (scram-sha-256 auth, random superuser password),
//!   cloned from a per-process `initdb` template so a start costs a copy plus `pg_ctl start`;
//! - [`RedisServer`]: a non-persistent `redis-server`.
//!
//! Plus [`doctor`] / [`run`] to run the binary under test in a clean environment with a
//! wall-clock guard, and [`require_or_skip`]: a missing server binary skips the test locally
//! but fails it loudly when `CI` is set.
//!
//! Every server also gets a tiny "reaper" (`sh` waiting for EOF on a pipe only this process
//! holds): if the test process dies without running `Drop` (killed, Ctrl-C, timeout), the
//! reaper stops the server and removes its directory.
//!
//! Std only (plus `tempfile`), plain blocking `std::process`.
//!
//! Split by job: this file is the process runner (guarded runs of the binary and of helper
//! commands, the reaper, small utilities) that the servers and the Docker lab build on;
//! `pg.rs` and `redis.rs` hold one server each and are re-exported here, so that every test
//! keeps `use support::{PgServer, RedisServer, ...}`.
#![allow(dead_code)]

pub mod first_screen;
pub mod fixture;
pub mod json_schema;
pub mod lab;
pub mod report;
pub mod spec_stack;
pub mod sshd;

mod pg;
mod redis;

// Each test crate uses its own part of the harness; the rest is unused there.
#[allow(unused_imports)]
pub use self::pg::{IdleSessions, PgOptions, PgServer};
#[allow(unused_imports)]
pub use self::redis::RedisServer;

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Hard limit for one run of the binary under test (see [`run`]).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server or a session may take to come up before the harness panics.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Poll interval while waiting for servers and sessions.
const POLL: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------------------------

/// A TCP port on 127.0.0.1 that was free a moment ago and that no earlier call in this process
/// returned.
///
/// Ports are drawn below the kernel's ephemeral range (where client sockets of psql/redis-cli
/// take their source ports, so a port freed here is not grabbed by an outgoing connection before
/// the server binds it); if that fails, it falls back to binding 127.0.0.1:0.
pub fn free_port() -> u16 {
    static USED: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let used = USED.get_or_init(Default::default);
    let claim = |port: u16| -> bool {
        port != 0
            && TcpListener::bind(("127.0.0.1", port)).is_ok()
            && used.lock().unwrap_or_else(PoisonError::into_inner).insert(port)
    };
    let ephemeral_low = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    if ephemeral_low > 20_000 {
        let span = (ephemeral_low - 15_000).min(u16::MAX as u32 - 15_000);
        for _ in 0..200 {
            let r = u32::from_str_radix(&random_hex(4), 16).unwrap_or(0);
            let port = (15_000 + r % span) as u16;
            if claim(port) {
                return port;
            }
        }
    }
    for _ in 0..1000 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        drop(listener);
        if used.lock().unwrap_or_else(PoisonError::into_inner).insert(port) {
            return port;
        }
    }
    panic!("free_port: could not find a port not handed out before");
}

/// `n_bytes` random bytes from /dev/urandom as lowercase hex (`2 * n_bytes` characters).
pub fn random_hex(n_bytes: usize) -> String {
    let mut buf = vec![0u8; n_bytes];
    fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf)).expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// `true` if `available`. Otherwise: with `CI` set (and not "", "0" or "false") this panics
/// loudly naming what is missing; without it, prints `SKIPPED: ...` to stderr and returns false.
pub fn require_or_skip(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    let ci = std::env::var("CI").map(|v| !matches!(v.trim(), "" | "0" | "false")).unwrap_or(false);
    if ci {
        panic!(
            "\n\n************************************************************\n\
             REQUIRED TEST DEPENDENCY MISSING: {what}\n\
             CI is set, so this test may not be skipped. scripts/test installs it.\n\
             ************************************************************\n"
        );
    }
    eprintln!("SKIPPED: {what} not available (install it or run scripts/test)");
    false
}

/// Quote `s` for a POSIX shell (single quotes).
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Percent-encode everything but RFC 3986 unreserved characters (for URL userinfo/path parts).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Looks `name` up in PATH (and a few standard dirs, since the test env may be minimal).
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    // Effective uid is the second field of the "Uid:" line.
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Uid:"))?.to_owned();
            line.split_whitespace().nth(2).map(|e| e == "0")
        })
        .unwrap_or(false)
}

/// Whether `pid` exists and is not a zombie.
fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // state is the first field after the ")" closing the command name
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

fn env_path() -> OsString {
    std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into())
}

/// Result of a guarded child run.
struct Finished {
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
}

/// Waits for `child` (whose stdout/stderr, when piped, are drained in threads) for at most
/// `timeout`; on expiry kills it and returns `status: None` with whatever output there was.
fn wait_guarded(mut child: Child, input: Option<Vec<u8>>, timeout: Duration) -> Finished {
    fn drain<R: Read + Send + 'static>(r: Option<R>) -> mpsc::Receiver<Vec<u8>> {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            let _ = tx.send(buf);
        });
        rx
    }
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.unwrap_or_default();
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
            // dropping stdin closes it
        });
    }
    let out_rx = drain(child.stdout.take());
    let err_rx = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    // A grandchild may still hold the pipes open; don't wait for it forever.
    let grace = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(2));
    let text =
        |rx: mpsc::Receiver<Vec<u8>>| String::from_utf8_lossy(&rx.recv_timeout(grace).unwrap_or_default()).into_owned();
    Finished { status, stdout: text(out_rx), stderr: text(err_rx) }
}

fn exit_code(st: ExitStatus) -> i32 {
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// Runs a helper command (pg_ctl, initdb, ...) to completion with piped output; `Err` carries a
/// description with the output on failure or timeout.
fn run_helper(cmd: &mut Command, timeout: Duration) -> Result<String, String> {
    let desc = format!("{cmd:?}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot spawn {desc}: {e}"))?;
    let f = wait_guarded(child, None, timeout);
    match f.status {
        Some(st) if st.success() => Ok(f.stdout),
        Some(st) => Err(format!("{desc} failed ({st})\n--- stdout ---\n{}\n--- stderr ---\n{}", f.stdout, f.stderr)),
        None => Err(format!(
            "{desc} timed out after {timeout:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            f.stdout, f.stderr
        )),
    }
}

/// A `sh` process that, once its stdin reaches EOF (this process closed it or died), runs a
/// stop command and removes a directory. Ignores INT/HUP/TERM so Ctrl-C on the test run does not
/// kill it before it has cleaned up. Rust creates its pipes close-on-exec, so only this process
/// holds the write end.
struct Reaper {
    child: Option<Child>,
}

impl Reaper {
    fn spawn(dir: &Path, stop: &[&std::ffi::OsStr]) -> Reaper {
        let script = r#"dir=$1; shift
trap '' INT HUP TERM
cat >/dev/null
if [ -d "$dir" ]; then "$@" >/dev/null 2>&1; rm -rf -- "$dir"; fi"#;
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .arg("doctor-test-reaper")
            .arg(dir)
            .args(stop)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
        Reaper { child }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            drop(c.stdin.take());
            let _ = c.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running the binary under test
// ---------------------------------------------------------------------------------------------

/// What a run of a command produced. `code` is the exit code, or 128 + signal number when the
/// process was killed by a signal.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// stdout followed by stderr, for "appears nowhere in the output" assertions.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// A `Command` for the `doctor` binary with a clean environment: only PATH and HOME are kept,
/// `NO_COLOR=1`, `DOCTOR_LANG=en` and a private `XDG_STATE_HOME` are set, and the current dir is a fresh empty temp dir (so
/// no stray `.env` / `doctor.toml` is read). Keep the `TempDir` alive while the command runs;
/// tests may write config files into it.
pub fn doctor() -> (Command, TempDir) {
    let dir = tempfile::Builder::new().prefix("doctor-cwd-").tempdir().expect("create temp dir for doctor's cwd");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_doctor"));
    cmd.env_clear();
    for key in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    // doctor's record of its own refused logins stays with this one run (a test that needs it
    // across runs sets its own): parallel tests must not discount each other's log lines.
    cmd.env("NO_COLOR", "1")
        .env("DOCTOR_LANG", "en")
        .env("XDG_STATE_HOME", dir.path().join(".state"))
        .current_dir(dir.path());
    (cmd, dir)
}

/// Runs `cmd` (stdin: /dev/null) and collects its output; kills it and panics after
/// [`RUN_TIMEOUT`] so a hung binary never hangs the suite.
pub fn run(cmd: &mut Command) -> Output {
    run_full(cmd, None, RUN_TIMEOUT)
}

/// [`run`] with `input` fed to stdin.
pub fn run_with_stdin(cmd: &mut Command, input: &str) -> Output {
    run_full(cmd, Some(input.as_bytes().to_vec()), RUN_TIMEOUT)
}

/// [`run`] with another wall-clock limit.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    run_full(cmd, None, timeout)
}

fn run_full(cmd: &mut Command, input: Option<Vec<u8>>, timeout: Duration) -> Output {
    let desc = format!("{cmd:?}");
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot spawn {desc}: {e}"));
    let f = wait_guarded(child, input, timeout);
    match f.status {
        Some(st) => Output { code: exit_code(st), stdout: f.stdout, stderr: f.stderr },
        None => panic!(
            "TIMEOUT: killed after {timeout:?}: {desc}\n--- stdout so far ---\n{}\n--- stderr so far ---\n{}",
            f.stdout, f.stderr
        ),
    }
}
