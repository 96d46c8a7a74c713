//! A throwaway `redis-server` for the live tests ([`RedisServer`]), non-persistent, with
//! redis-cli helpers and the list of commands a `--bigkeys` run may make it execute. Built on
//! the runner in `mod.rs`, which re-exports it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{
    POLL, RUN_TIMEOUT, Reaper, STARTUP_TIMEOUT, env_path, free_port, percent_encode, process_alive, require_or_skip,
    run_helper, wait_guarded, which,
};

pub(super) struct RedisBins {
    server: PathBuf,
    pub(super) cli: PathBuf,
}

pub(super) fn redis_bins() -> Option<&'static RedisBins> {
    static BINS: OnceLock<Option<RedisBins>> = OnceLock::new();
    BINS.get_or_init(|| Some(RedisBins { server: which("redis-server")?, cli: which("redis-cli")? })).as_ref()
}

/// A throwaway `redis-server` on 127.0.0.1:`port`, no persistence. Shut down and deleted on
/// drop.
pub struct RedisServer {
    pub port: u16,
    /// From `--requirepass X` in the start args.
    pub password: Option<String>,
    bins: &'static RedisBins,
    reaper: Option<Reaper>,
    dir: TempDir,
}

impl RedisServer {
    /// Starts a server with `args` appended to the defaults (e.g. `["--maxmemory", "2mb"]`),
    /// waits until it answers PING. `None` (via [`require_or_skip`]) if Redis is not installed;
    /// panics if it is but does not come up.
    pub fn start(args: &[&str]) -> Option<RedisServer> {
        let bins = redis_bins();
        if !require_or_skip("redis-server and redis-cli", bins.is_some()) {
            return None;
        }
        let bins = bins.expect("checked");
        let password = args
            .iter()
            .position(|a| *a == "--requirepass")
            .and_then(|i| args.get(i + 1))
            .map(|s| s.to_string())
            .or_else(|| args.iter().find_map(|a| a.strip_prefix("--requirepass ").map(|s| s.trim().to_owned())));
        let mut last_err = String::new();
        for _attempt in 0..3 {
            let dir =
                tempfile::Builder::new().prefix("doctor-redis-").tempdir_in("/tmp").expect("create Redis temp dir");
            let pidfile = dir.path().join("pid");
            let killer = r#"[ -f "$0" ] && kill -9 "$(cat "$0")""#;
            let reaper =
                Reaper::spawn(dir.path(), &["/bin/sh".as_ref(), "-c".as_ref(), killer.as_ref(), pidfile.as_os_str()]);
            let port = free_port();
            let server = RedisServer { port, password: password.clone(), bins, reaper: Some(reaper), dir };
            let started = run_helper(
                Command::new(&bins.server)
                    .current_dir(server.dir.path())
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
                    .args(["--appendonly", "no", "--daemonize", "yes"])
                    .arg("--pidfile")
                    .arg(&pidfile)
                    .arg("--dir")
                    .arg(server.dir.path())
                    .arg("--logfile")
                    .arg(server.dir.path().join("log"))
                    .args(args),
                Duration::from_secs(30),
            );
            if let Err(e) = started {
                panic!("redis-server failed to start:\n{e}\n--- log ---\n{}", server.log());
            }
            let deadline = Instant::now() + STARTUP_TIMEOUT;
            loop {
                let pong = run_helper(server.cli_command().arg("PING"), Duration::from_secs(10));
                if pong.as_deref().map(str::trim) == Ok("PONG") {
                    return Some(server);
                }
                let log = server.log();
                if log.contains("Address already in use") {
                    last_err = log;
                    break; // port taken in between: retry with a new one
                }
                if Instant::now() > deadline {
                    panic!("redis-server on port {port} does not answer PING: {pong:?}\n--- log ---\n{log}");
                }
                thread::sleep(POLL);
            }
        }
        panic!("redis-server failed to start after 3 attempts:\n{last_err}");
    }

    /// The server log so far.
    pub fn log(&self) -> String {
        fs::read(self.dir.path().join("log")).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `redis://:pw@127.0.0.1:PORT` or `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(pw) => format!("redis://:{}@127.0.0.1:{}", percent_encode(pw), self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    fn cli_command(&self) -> Command {
        let mut c = Command::new(&self.bins.cli);
        c.env_clear().env("PATH", env_path()).args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(pw) = &self.password {
            c.args(["--no-auth-warning", "-a", pw]);
        }
        c
    }

    /// `redis-cli ARGS...` (authenticated); returns stdout without the trailing newline.
    /// Panics if redis-cli exits non-zero (it exits 0 on error *replies*: check the text).
    /// The commands the server has executed since its start or `CONFIG RESETSTAT`, from
    /// `INFO commandstats` (`get`, `memory|usage`...).
    pub fn commands_used(&self) -> Vec<String> {
        self.cli(&["INFO", "commandstats"])
            .lines()
            .filter_map(|l| l.strip_prefix("cmdstat_"))
            .map(|l| l.split(':').next().unwrap_or_default().to_string())
            .collect()
    }

    /// What a `redis --bigkeys` run may make the server execute: all read-only (`eval_ro` is the
    /// scan's read-only script), plus the connection's own handshake and the test's
    /// `CONFIG RESETSTAT`. Checks that read the stack's keys add their own commands to it.
    pub const SCAN_COMMANDS: &'static [&'static str] = &[
        "info",
        "scan",
        "type",
        "memory|usage",
        "ttl",
        "eval_ro",
        "hello",
        "client|setinfo",
        "ping",
        "auth",
        "select",
        "config|resetstat",
    ];

    /// What `doctor redis` adds to read the stack's key families and persistence (one SCAN with
    /// `TTL`/`MEMORY USAGE` per key, `GET` of job records, the queue's length, the cache
    /// counters, `INFO persistence` with the server's `TIME`, `CONFIG GET` of the save policy).
    pub const FAMILY_COMMANDS: &'static [&'static str] = &["get", "mget", "exists", "llen", "time", "config|get"];

    /// The read-only commands of a plain `doctor redis` run.
    pub fn read_only_commands() -> Vec<&'static str> {
        [Self::SCAN_COMMANDS, Self::FAMILY_COMMANDS].concat()
    }

    /// Asserts that every command the server executed is in `allowed`; returns them all.
    pub fn assert_only_commands(&self, allowed: &[&str]) -> Vec<String> {
        let used = self.commands_used();
        for c in &used {
            assert!(allowed.contains(&c.as_str()), "doctor issued {c}: {used:?}");
        }
        used
    }

    pub fn cli(&self, args: &[&str]) -> String {
        run_helper(self.cli_command().args(args), RUN_TIMEOUT)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
            .unwrap_or_else(|e| panic!("redis-cli failed:\n{e}"))
    }

    /// Feeds `commands` (one command per line, redis-cli syntax, quotes allowed) to redis-cli's
    /// stdin, for bulk loading. Returns redis-cli's stdout: one reply per command, error replies
    /// included as text (e.g. "OOM command not allowed ..."). Panics if redis-cli exits non-zero.
    pub fn pipe(&self, commands: &str) -> String {
        let mut cmd = self.cli_command();
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot spawn redis-cli: {e}"));
        let f = wait_guarded(child, Some(commands.as_bytes().to_vec()), RUN_TIMEOUT);
        match f.status {
            Some(st) if st.success() => f.stdout,
            _ => panic!("redis-cli (stdin) failed: {:?}\n--- stderr ---\n{}", f.status, f.stderr),
        }
    }

    fn pid(&self) -> Option<u32> {
        fs::read_to_string(self.dir.path().join("pid")).ok()?.trim().parse().ok()
    }

    /// Shuts the server down (`SHUTDOWN NOSAVE`, then SIGKILL if it is still alive), for tests
    /// that need a dead server.
    pub fn stop(&self) {
        let pid = self.pid();
        let _ = run_helper(self.cli_command().args(["SHUTDOWN", "NOSAVE"]), Duration::from_secs(10));
        if let Some(pid) = pid {
            let deadline = Instant::now() + Duration::from_secs(3);
            while process_alive(pid) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
            if process_alive(pid) {
                let _ = run_helper(Command::new("kill").args(["-9", &pid.to_string()]), Duration::from_secs(5));
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(self.dir.path());
        drop(self.reaper.take());
    }
}
