//! A throwaway PostgreSQL server for the live tests ([`PgServer`]), cloned from a per-process
//! `initdb` template, and psql sessions held open against it ([`IdleSessions`]). The largest
//! part of the harness, so a file of its own; it builds on the runner in `mod.rs`, which
//! re-exports it.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{
    POLL, RUN_TIMEOUT, Reaper, STARTUP_TIMEOUT, env_path, free_port, is_root, percent_encode, process_alive,
    random_hex, require_or_skip, run_helper, shell_quote, wait_guarded, which,
};

/// (uid, gid) of the `postgres` OS user, from /etc/passwd.
fn postgres_ids() -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("postgres:"))?;
    let mut f = line.split(':').skip(2);
    Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
}

pub(super) struct PgBins {
    initdb: PathBuf,
    pg_ctl: PathBuf,
    pub(super) psql: PathBuf,
}

/// Finds initdb/pg_ctl (newest /usr/lib/postgresql/N/bin, else PATH) and psql.
pub(super) fn pg_bins() -> Option<&'static PgBins> {
    static BINS: OnceLock<Option<PgBins>> = OnceLock::new();
    BINS.get_or_init(|| {
        let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let v = e.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((v, bin))
            })
            .collect();
        versions.sort();
        let (initdb, pg_ctl, bin_dir) = match versions.pop() {
            Some((_, bin)) => (bin.join("initdb"), bin.join("pg_ctl"), Some(bin)),
            None => (which("initdb")?, which("pg_ctl")?, None),
        };
        let psql = bin_dir.map(|b| b.join("psql")).filter(|p| p.is_file()).or_else(|| which("psql"))?;
        Some(PgBins { initdb, pg_ctl, psql })
    })
    .as_ref()
}

/// `program` run as the `postgres` OS user when we are root (initdb/postgres refuse root).
fn as_pg_user(program: &Path) -> Command {
    let mut c = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    c.env("LC_ALL", "C").env_remove("PGDATA").env_remove("PGPORT").env_remove("PGHOST");
    c
}

/// Hands `path` to the postgres OS user (no-op when not root).
fn chown_to_pg(path: &Path) {
    if is_root() {
        let (uid, gid) = postgres_ids().expect("postgres OS user");
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .unwrap_or_else(|e| panic!("chown {} to postgres: {e}", path.display()));
    }
}

/// A pristine initdb'd data dir, made once per process and copied for each server.
struct PgTemplate {
    data: PathBuf,
    password: String,
    _reaper: Reaper,
}

fn pg_template(bins: &PgBins) -> &'static PgTemplate {
    static TEMPLATE: OnceLock<Result<PgTemplate, String>> = OnceLock::new();
    let t = TEMPLATE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("doctor-pgtpl-")
            .tempdir_in("/tmp")
            .map_err(|e| format!("create template dir: {e}"))?
            .keep();
        // Removed when this process exits, however it exits.
        let reaper = Reaper::spawn(&dir, &["true".as_ref()]);
        chown_to_pg(&dir);
        let password = random_hex(8);
        let pwfile = dir.join("pwfile");
        fs::write(&pwfile, format!("{password}\n")).map_err(|e| format!("write pwfile: {e}"))?;
        chown_to_pg(&pwfile);
        let data = dir.join("data");
        run_helper(
            as_pg_user(&bins.initdb)
                .current_dir(&dir)
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "--auth=scram-sha-256", "--no-sync", "--no-locale"])
                // 1 MB WAL segments: 15 MB less to copy for every server.
                .args(["-E", "UTF8", "--no-instructions", "--wal-segsize=1"])
                .arg(format!("--pwfile={}", pwfile.display())),
            Duration::from_secs(120),
        )?;
        let _ = fs::remove_file(&pwfile);
        Ok(PgTemplate { data, password, _reaper: reaper })
    });
    match t {
        Ok(t) => t,
        Err(e) => panic!("initdb of the PostgreSQL template failed:\n{e}"),
    }
}

/// Options for [`PgServer::start`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    pub max_connections: u32,
    pub superuser_reserved_connections: u32,
    /// Extra `-c name=value` server settings.
    pub settings: Vec<(String, String)>,
    /// Databases created after start (owned by `postgres`).
    pub databases: Vec<String>,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 100,
            superuser_reserved_connections: 3,
            settings: Vec::new(),
            databases: vec!["authdb".to_owned()],
        }
    }
}

/// A throwaway PostgreSQL server on 127.0.0.1:`port`. The superuser is `postgres` with the
/// random `superuser_password` (32 hex chars). Stopped (immediate) and deleted on drop.
pub struct PgServer {
    pub port: u16,
    pub superuser_password: String,
    /// How long `start` took (copy + pg_ctl start + password/databases).
    pub startup_time: Duration,
    server_opts: String,
    /// psql processes of live [`IdleSessions`] (each holds one backend).
    live_sessions: Arc<AtomicUsize>,
    bins: &'static PgBins,
    reaper: Option<Reaper>,
    dir: TempDir,
}

impl PgServer {
    /// Starts a server, or `None` (via [`require_or_skip`]) if PostgreSQL is not installed.
    /// Panics if it is installed but the server does not come up.
    pub fn start(opts: PgOptions) -> Option<PgServer> {
        let bins = pg_bins();
        if !require_or_skip("PostgreSQL server binaries (initdb, pg_ctl, psql)", bins.is_some()) {
            return None;
        }
        if is_root()
            && !require_or_skip(
                "the `postgres` OS user and runuser (PostgreSQL refuses to run as root)",
                postgres_ids().is_some() && which("runuser").is_some(),
            )
        {
            return None;
        }
        let bins = bins.expect("checked");
        let template = pg_template(bins);
        let t0 = Instant::now();
        let mut last_err = String::new();
        for _attempt in 0..3 {
            let dir =
                tempfile::Builder::new().prefix("doctor-pg-").tempdir_in("/tmp").expect("create PostgreSQL temp dir");
            chown_to_pg(dir.path());
            let data = dir.path().join("data");
            let stop: Vec<OsString> = {
                let mut v: Vec<OsString> = Vec::new();
                if is_root() {
                    v.extend(["runuser", "-u", "postgres", "--"].map(OsString::from));
                }
                v.push(bins.pg_ctl.clone().into());
                v.push("-D".into());
                v.push(data.clone().into());
                v.extend(["stop", "-m", "immediate", "-w"].map(OsString::from));
                v
            };
            let stop_refs: Vec<&std::ffi::OsStr> = stop.iter().map(|s| s.as_os_str()).collect();
            let reaper = Reaper::spawn(dir.path(), &stop_refs);
            run_helper(Command::new("cp").arg("-a").arg(&template.data).arg(&data), Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("copy PostgreSQL template: {e}"));

            let port = free_port();
            let mut o = String::new();
            let mut set = |k: &str, v: &str| {
                o.push_str(" -c ");
                o.push_str(&shell_quote(&format!("{k}={v}")));
            };
            set("listen_addresses", "127.0.0.1");
            set("port", &port.to_string());
            set("unix_socket_directories", &dir.path().display().to_string());
            set("max_connections", &opts.max_connections.to_string());
            set("superuser_reserved_connections", &opts.superuser_reserved_connections.to_string());
            set("fsync", "off");
            for (k, v) in &opts.settings {
                set(k, v);
            }
            let server = PgServer {
                port,
                superuser_password: random_hex(16),
                startup_time: Duration::ZERO,
                server_opts: o.trim_start().to_owned(),
                live_sessions: Arc::new(AtomicUsize::new(0)),
                bins,
                reaper: Some(reaper),
                dir,
            };
            if let Err(e) = server.pg_ctl_start() {
                let log = server.log();
                last_err = format!("{e}\n--- server log ---\n{log}");
                if log.contains("Address already in use") {
                    continue; // someone took the port in between: new dir, new port
                }
                panic!("PostgreSQL failed to start:\n{last_err}");
            }
            // Give this server its own superuser password, then create the databases.
            // log_statement is forced off so the password never reaches the server log.
            let mut script = format!(
                "SET log_statement = 'none';\nSET log_min_error_statement = 'panic';\n\
                 ALTER ROLE postgres PASSWORD '{}';\n",
                server.superuser_password
            );
            for db in &opts.databases {
                script.push_str(&format!("CREATE DATABASE \"{}\";\n", db.replace('"', "\"\"")));
            }
            if let Err(e) = server.psql_as("postgres", &template.password, "postgres", &script) {
                panic!("PostgreSQL setup after start failed:\n{e}\n--- server log ---\n{}", server.log());
            }
            let mut server = server;
            server.startup_time = t0.elapsed();
            return Some(server);
        }
        panic!("PostgreSQL failed to start after 3 attempts:\n{last_err}");
    }

    fn pg_ctl_start(&self) -> Result<String, String> {
        run_helper(
            as_pg_user(&self.bins.pg_ctl)
                .current_dir(self.dir.path())
                .arg("-D")
                .arg(self.data_dir())
                .arg("-o")
                .arg(&self.server_opts)
                .arg("-l")
                .arg(self.log_path())
                .args(["-w", "-t", "60", "start"]),
            Duration::from_secs(90),
        )
    }

    /// The server's own directory (data dir, log, unix socket).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    /// `postgresql://user:password@127.0.0.1:PORT/db` (user and password percent-encoded).
    pub fn url(&self, user: &str, password: &str, db: &str) -> String {
        format!(
            "postgresql://{}:{}@127.0.0.1:{}/{}",
            percent_encode(user),
            percent_encode(password),
            self.port,
            percent_encode(db)
        )
    }

    /// URL of the `postgres` superuser with its password.
    pub fn admin_url(&self, db: &str) -> String {
        self.url("postgres", &self.superuser_password, db)
    }

    /// Runs `sql` (any number of statements, each autocommitted unless in BEGIN..COMMIT) as the
    /// superuser over TCP; panics with psql's stderr on failure; returns stdout trimmed
    /// (unaligned, tuples only, no command tags: `SELECT 1` gives "1").
    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.psql_as("postgres", &self.superuser_password, db, sql)
            .unwrap_or_else(|e| panic!("psql on {db} failed:\n{e}\n--- sql ---\n{sql}"))
    }

    /// Like [`psql`](Self::psql) for any user; `Err(stderr)` instead of a panic, for tests that
    /// expect a connection or statement to fail.
    pub fn psql_as(&self, user: &str, password: &str, db: &str, sql: &str) -> Result<String, String> {
        let child = self
            .psql_command(user, password, db, "psql")
            .args(["-q", "-v", "ON_ERROR_STOP=1", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn psql: {e}"));
        let f = wait_guarded(child, Some(sql.as_bytes().to_vec()), RUN_TIMEOUT);
        self.settle(); // its backend is gone (or at least not holding a slot for long)
        match f.status {
            Some(st) if st.success() => Ok(f.stdout.trim().to_owned()),
            Some(_) => Err(f.stderr.trim().to_owned()),
            None => panic!("psql timed out after {RUN_TIMEOUT:?}\n--- sql ---\n{sql}\n--- stderr ---\n{}", f.stderr),
        }
    }

    /// psql with connection parameters in the environment (nothing else inherited).
    fn psql_command(&self, user: &str, password: &str, db: &str, app: &str) -> Command {
        let mut c = Command::new(&self.bins.psql);
        c.env_clear()
            .env("PATH", env_path())
            .env("LC_ALL", "C")
            .env("PGPASSWORD", password)
            .env("PGAPPNAME", app)
            .env("PGCONNECT_TIMEOUT", "10")
            .env("PGSSLMODE", "disable")
            .args(["-X", "-A", "-t", "-h", "127.0.0.1"])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-U")
            .arg(user)
            .arg("-d")
            .arg(db);
        c
    }

    /// Polls `sql` (as superuser on `db`) until it returns `expected`; panics after 30 s.
    pub fn wait_for(&self, db: &str, sql: &str, expected: &str) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let got = self.psql(db, sql);
            if got == expected {
                return;
            }
            if Instant::now() > deadline {
                panic!("wait_for: `{sql}` returned {got:?}, expected {expected:?} after {STARTUP_TIMEOUT:?}");
            }
            thread::sleep(POLL);
        }
    }

    /// Pid of the running postmaster, from `postmaster.pid`.
    fn postmaster_pid(&self) -> Option<u32> {
        let pid: u32 =
            fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?.lines().next()?.trim().parse().ok()?;
        process_alive(pid).then_some(pid)
    }

    /// Number of client backend processes of this server right now (including ones still
    /// authenticating or exiting), counted from /proc without opening a connection: children of
    /// the postmaster whose process title shows a TCP client ("... 127.0.0.1(port) ...").
    pub fn client_backends(&self) -> usize {
        let Some(postmaster) = self.postmaster_pid() else { return 0 };
        let Ok(entries) = fs::read_dir("/proc") else { return 0 };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                let ppid = fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|s| {
                    let (_, rest) = s.rsplit_once(')')?;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                });
                ppid == Some(postmaster)
                    && fs::read(format!("/proc/{pid}/cmdline"))
                        .map(|c| String::from_utf8_lossy(&c).contains("127.0.0.1("))
                        .unwrap_or(false)
            })
            .count()
    }

    /// Waits (at most 3 s, then goes on) until no client backends exist beyond the harness's
    /// live sessions. A backend outlives its psql by a few ms; without this, a harness query
    /// that just finished could still hold a slot when a test opens the connection that is
    /// meant to find the server exactly full.
    fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.client_backends() > self.live_sessions.load(Ordering::SeqCst) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// `n` sessions of `user` on `db`, each having run `SELECT 1;` and now idle (psql reading
    /// from a pipe kept open; `pg_stat_activity.query` is `SELECT 1;`). Returns once every
    /// session has printed its results, i.e. is connected and idle; no extra connection is
    /// opened meanwhile, so sessions can fill a server up to its very last slot. Panics if a
    /// session fails to connect. The sessions are killed when the value is dropped.
    pub fn spawn_idle_sessions(&self, user: &str, password: &str, db: &str, n: usize) -> IdleSessions {
        self.settle();
        let mut sessions = self.new_sessions();
        for _ in 0..n {
            self.spawn_session(&mut sessions, user, password, db, "SELECT pg_backend_pid();\nSELECT 1;\n");
        }
        sessions.backend_pids = sessions.wait_lines(2);
        sessions
    }

    /// One session of `user` on `db` that runs `sql` and then stays open: e.g.
    /// `SELECT pg_sleep(600)` (an active long query) or `BEGIN; SELECT 1;` (idle in
    /// transaction). Returns once the backend has run the last statement of `sql` (or is still
    /// running it) and its state stayed unchanged across two polls. Killed on drop.
    ///
    /// The session first runs `SELECT pg_backend_pid()` (to know it is connected before the
    /// superuser polls); `pg_stat_activity.query` shows the last statement of `sql`. If the
    /// server is so full that even the superuser cannot get in, it returns after 300 ms.
    pub fn spawn_sql_session(&self, user: &str, password: &str, db: &str, sql: &str) -> IdleSessions {
        self.settle();
        let mut input = sql.trim_end().to_owned();
        if !input.ends_with(';') {
            input.push(';');
        }
        input.push('\n');
        // The last statement psql will send (naive split; fine for test SQL).
        let last = input.split(';').map(str::trim).rfind(|s| !s.is_empty()).unwrap_or("").to_owned();
        let mut sessions = self.new_sessions();
        self.spawn_session(&mut sessions, user, password, db, &format!("SELECT pg_backend_pid();\n{input}"));
        sessions.backend_pids = sessions.wait_lines(1);
        let pid = sessions.backend_pids[0];

        let tag = format!("q{}", random_hex(4));
        let matches = if last.is_empty() || last.contains('\\') {
            "query NOT LIKE '%pg_backend_pid()%'".to_owned()
        } else {
            format!(
                "regexp_replace(query, '[[:space:];]+', '', 'g') = \
                 regexp_replace(${tag}${last}${tag}$, '[[:space:];]+', '', 'g')"
            )
        };
        let probe = format!(
            "SELECT pid || '|' || coalesce(state, '') || '|' || coalesce(state_change::text, '') \
             FROM pg_stat_activity WHERE pid = {pid} AND {matches}"
        );
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut previous = String::new();
        loop {
            sessions.check_alive();
            let got = match self.psql_as("postgres", &self.superuser_password, "postgres", &probe) {
                Ok(got) => got,
                Err(e) if e.contains("too many clients") => {
                    thread::sleep(Duration::from_millis(300));
                    return sessions;
                }
                Err(e) => panic!("spawn_sql_session: polling pg_stat_activity failed:\n{e}"),
            };
            if !got.is_empty() && got == previous {
                return sessions;
            }
            if Instant::now() > deadline {
                panic!(
                    "spawn_sql_session: session running {sql:?} not settled after {STARTUP_TIMEOUT:?}\n\
                     --- pg_stat_activity ---\n{}",
                    self.activity()
                );
            }
            previous = got;
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn new_sessions(&self) -> IdleSessions {
        IdleSessions {
            sessions: Vec::new(),
            application_name: format!("doctor-test-{}", random_hex(4)),
            backend_pids: Vec::new(),
            live: Arc::clone(&self.live_sessions),
        }
    }

    fn spawn_session(&self, sessions: &mut IdleSessions, user: &str, password: &str, db: &str, input: &str) {
        let mut child = self
            .psql_command(user, password, db, &sessions.application_name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn psql session: {e}"));
        self.live_sessions.fetch_add(1, Ordering::SeqCst);
        let stdin = child.stdin.as_mut().expect("piped stdin");
        // If psql already died (e.g. connection refused) the write fails; check_alive reports it.
        let _ = stdin.write_all(input.as_bytes()).and_then(|_| stdin.flush());
        // Forward stdout lines so readiness can be seen; the thread ends when psql is killed.
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        sessions.sessions.push(Session { child, stdout: rx });
    }

    /// pg_stat_activity client backends, for panic messages.
    fn activity(&self) -> String {
        self.psql_as(
            "postgres",
            &self.superuser_password,
            "postgres",
            "SELECT pid, usename, datname, application_name, state, query FROM pg_stat_activity \
             WHERE backend_type = 'client backend'",
        )
        .unwrap_or_else(|e| e)
    }

    /// The server log so far.
    pub fn log(&self) -> String {
        fs::read(self.log_path()).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`), for tests that need a dead
    /// server. The port stays reserved; [`start_again`](Self::start_again) brings it back.
    pub fn stop(&self) {
        let res = run_helper(
            as_pg_user(&self.bins.pg_ctl).current_dir(self.dir.path()).arg("-D").arg(self.data_dir()).args([
                "stop",
                "-m",
                "immediate",
                "-w",
                "-t",
                "60",
            ]),
            Duration::from_secs(90),
        );
        if let Err(e) = res
            && self.data_dir().join("postmaster.pid").exists()
        {
            panic!("pg_ctl stop failed:\n{e}");
        }
    }

    /// Starts a stopped server again, same port and settings.
    pub fn start_again(&self) {
        if let Err(e) = self.pg_ctl_start() {
            panic!("PostgreSQL failed to start again:\n{e}\n--- server log ---\n{}", self.log());
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = run_helper(
            as_pg_user(&self.bins.pg_ctl).current_dir("/").arg("-D").arg(self.data_dir()).args([
                "stop",
                "-m",
                "immediate",
                "-w",
                "-t",
                "30",
            ]),
            Duration::from_secs(40),
        );
        let _ = fs::remove_dir_all(self.dir.path());
        drop(self.reaper.take()); // nothing left for it to do; it exits at once
    }
}

/// psql sessions kept open by [`PgServer::spawn_idle_sessions`] /
/// [`PgServer::spawn_sql_session`]. Dropping kills them (their backends then exit within ms).
pub struct IdleSessions {
    sessions: Vec<Session>,
    /// The `application_name` all these sessions use.
    pub application_name: String,
    /// Their backend pids as seen in pg_stat_activity.
    pub backend_pids: Vec<i32>,
    live: Arc<AtomicUsize>,
}

struct Session {
    child: Child,
    stdout: mpsc::Receiver<String>,
}

impl IdleSessions {
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Waits until every session printed `k` lines (it is connected and ran its first `k`
    /// statements); returns the first line of each, parsed as a backend pid. Panics if a
    /// session exits or the timeout passes.
    fn wait_lines(&mut self, k: usize) -> Vec<i32> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut lines: Vec<Vec<String>> = vec![Vec::new(); self.sessions.len()];
        while lines.iter().any(|l| l.len() < k) {
            for (i, s) in self.sessions.iter().enumerate() {
                while let Ok(line) = s.stdout.try_recv() {
                    lines[i].push(line);
                }
            }
            if lines.iter().all(|l| l.len() >= k) {
                break;
            }
            self.check_alive();
            if Instant::now() > deadline {
                let n = lines.iter().filter(|l| l.len() >= k).count();
                self.kill_all();
                panic!("psql sessions: only {n} of {} connected and ready after {STARTUP_TIMEOUT:?}", lines.len());
            }
            thread::sleep(Duration::from_millis(5));
        }
        lines.iter().map(|l| l[0].trim().parse().unwrap_or(-1)).collect()
    }

    /// Panics (after killing the rest) if any session's psql has exited.
    fn check_alive(&mut self) {
        let exited = self.sessions.iter_mut().position(|s| matches!(s.child.try_wait(), Ok(Some(_))));
        if let Some(i) = exited {
            let mut s = self.sessions.remove(i);
            self.live.fetch_sub(1, Ordering::SeqCst);
            let status = s.child.wait().ok();
            let mut stderr = String::new();
            if let Some(mut e) = s.child.stderr.take() {
                let _ = e.read_to_string(&mut stderr);
            }
            self.kill_all();
            panic!("psql session exited early ({status:?}):\n{stderr}");
        }
    }

    fn kill_all(&mut self) {
        for s in &mut self.sessions {
            let _ = s.child.kill();
        }
        for s in &mut self.sessions {
            let _ = s.child.wait();
        }
        self.live.fetch_sub(self.sessions.len(), Ordering::SeqCst);
        self.sessions.clear();
    }
}

impl Drop for IdleSessions {
    fn drop(&mut self) {
        self.kill_all();
    }
}
