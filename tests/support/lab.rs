//! The Docker lab: throwaway containers on the machine's real Docker engine, for tests of the
//! checks that look at a Docker Compose stack (`docker ps`, `docker logs`, `docker exec` ...).
//!
//! ```ignore
//! let Some(lab) = Lab::new() else { return };        // skips (or, with CI set, fails) without an engine
//! let pg = lab.run(ContainerSpec {
//!     name: "postgres".into(),                        // the container is `<prefix>-postgres`
//!     image: image(Image::Postgres),                  // built once per machine, then reused
//!     env: vec![("POSTGRES_PASSWORD".into(), "pw".into())],
//!     networks: vec![("backend".into(), vec!["postgres".into()])],  // DNS alias `postgres`
//!     publish: vec!["127.0.0.1:0:5432".into()],       // host port chosen by Docker
//!     labels: vec![("com.docker.compose.service".into(), "postgres".into())],
//!     cmd: vec!["-c".into(), "max_connections=8".into()],  // appended to postgres's command line
//!     ..Default::default()
//! });
//! lab.wait_pg_ready("postgres");
//! let port = lab.published_port("postgres", 5432);
//! assert_eq!(host_psql(port, "postgres", "pw", "postgres", "SELECT 1").unwrap(), "1");
//! ```
//!
//! **No registry is reachable**, so images are made here with `docker import` from a tarball of
//! the host's own binaries plus the shared libraries they load ([`image`]):
//! - [`Image::Busybox`]: busybox (every applet linked in /bin). Default command: idle until
//!   stopped (`docker stop` is instant); pass `cmd` to run something else.
//! - [`Image::Postgres`]: the host's PostgreSQL (newest /usr/lib/postgresql/N). Its
//!   `/entrypoint.sh` mimics the official image: `POSTGRES_PASSWORD` (required on first start,
//!   same error text as the official image), `POSTGRES_USER` (default `postgres`),
//!   `POSTGRES_DB` (default = user). It starts as root, fixes ownership of
//!   `$PGDATA=/var/lib/postgresql/data`, and re-execs itself as the `postgres` user (uid 999)
//!   with busybox `su`, so `postgres` ends up as PID 1. The cluster is `initdb`ed once, when
//!   the image is built (`-U postgres`, scram-sha-256 for TCP and trust for the local socket
//!   like the official image, `host all all all scram-sha-256` in pg_hba.conf) and baked into
//!   the image with `docker commit`; a container's first start then only renames the superuser
//!   to `POSTGRES_USER`, sets its password and creates `POSTGRES_DB`, in single-user mode
//!   (~0.5 s instead of a 3-4 s initdb; an empty data dir, e.g. a bind mount, still gets a
//!   full initdb). It prints `PostgreSQL init process complete; ready for start up.` like the
//!   official image. Then `exec postgres
//!   -D $PGDATA -c listen_addresses=* -c unix_socket_directories=/var/run/postgresql,/tmp`
//!   plus the container's arguments (so `cmd: ["-c", "max_connections=8"]` works). Logs go to
//!   stderr (`docker logs`). psql, pg_isready, pg_ctl, createdb, createuser and pg_dump are in
//!   PATH, so `docker exec <c> psql -U postgres -c '...'` works as in the runbook. `run`
//!   gives these containers `--stop-signal SIGINT` (the official image's STOPSIGNAL, which
//!   `docker import` cannot set): `docker stop` is a fast shutdown.
//! - [`Image::Redis`]: `redis-server --bind 0.0.0.0 --protected-mode no --save '' --appendonly
//!   no`, plus `--requirepass $REDIS_PASSWORD` when that is set, plus the container's
//!   arguments. redis-cli is in PATH. Runs as root.
//!
//! Every image has busybox (`sh`, `cat /proc/net/tcp`, `nc`, `wget`, `ping`, `nslookup` ...),
//! /etc/passwd and /etc/group (root, postgres 999, nobody) and /tmp with mode 1777. A tag is
//! `doctor-lab/<kind>:<hash>`, the hash covering every input file's path, size and mtime and the
//! recipe text: an upgraded package or an edited recipe makes a new image, older tags of that kind
//! are then removed. Builds are serialized across processes with flock on
//! `/tmp/doctor-lab-images.lock`.
//!
//! **Cleanup.** Each [`Lab`] has a unique prefix `dl-<6 hex>`; every container and network it
//! makes is named `<prefix>-<short name>` and labelled `doctor.lab=1`,
//! `doctor.lab.run=<prefix>` and `doctor.lab.owner=<pid>:<start time>`. Dropping the lab
//! removes them (`docker rm -f -v`, `docker network rm`). If the test process dies without
//! dropping it, a reaper (`sh` waiting for EOF on a pipe, like the servers' reapers in
//! `mod.rs`) removes them; and the first `Lab::new` of a process sweeps lab objects whose owner
//! process is gone (objects of a concurrently running test process are left alone).
//!
//! **Tips.** Tests run in parallel threads, so give a stack its own compose project:
//! `com.docker.compose.project=<lab.prefix()>` plus `com.docker.compose.service=<service>`
//! finds exactly this lab's containers. Docker's default address pools allow about 30 bridge
//! networks at once on a machine: use one or two per lab. Timings on the 2-core dev machine:
//! first build of all three images ~7.5 s (postgres ~6.5 s, of which ~4 s is the baked initdb),
//! then ~0.3 s per process to recompute the hashes; `run` ~0.3-1 s; postgres ready ~1-3 s after
//! `run`, redis ~0.7-1 s.
//!
//! Every docker CLI call runs with a wall-clock limit; waits panic after 60 s naming what they
//! waited for. Std + tempfile + serde_json only.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde_json::Value;

use super::pg::pg_bins;
use super::redis::redis_bins;
use super::{Output, process_alive, random_hex, require_or_skip, run_helper, which};

/// Limit for one ordinary docker CLI call (create, exec, inspect, rm ...).
const DOCKER_TIMEOUT: Duration = Duration::from_secs(60);
/// Limit for `docker import` of an image tarball.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the `wait_*` methods wait before panicking.
const WAIT_TIMEOUT: Duration = Duration::from_secs(60);
/// Poll interval of the `wait_*` methods (each poll is one docker CLI call, ~30-100 ms of CPU).
const WAIT_POLL: Duration = Duration::from_millis(150);
/// Serializes image builds across threads and processes.
const IMAGE_LOCK: &str = "/tmp/doctor-lab-images.lock";
const BASE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// ---------------------------------------------------------------------------------------------
// The docker CLI
// ---------------------------------------------------------------------------------------------

fn docker_bin() -> Option<&'static Path> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| which("docker")).as_deref()
}

fn docker_cmd<S: AsRef<OsStr>>(args: &[S]) -> Command {
    let mut c = Command::new(docker_bin().expect("docker CLI not found (install docker.io)"));
    c.args(args);
    c
}

/// `docker ARGS...` with the default limit; `Ok(stdout)` or `Err(description with output)`.
fn docker<S: AsRef<OsStr>>(args: &[S]) -> Result<String, String> {
    run_helper(&mut docker_cmd(args), DOCKER_TIMEOUT)
}

/// [`docker`], panicking on failure.
fn docker_ok<S: AsRef<OsStr>>(args: &[S]) -> String {
    docker(args).unwrap_or_else(|e| panic!("lab: docker failed:\n{e}"))
}

/// Holds the engine for a test that uses global names (exact container names, compose projects
/// that discovery with no configuration would find): one such test at a time in this process
/// and across processes (flock), and leftovers of a dead holder are swept first.
pub struct Exclusive {
    _thread: std::sync::MutexGuard<'static, ()>,
    _file: fs::File,
}

pub fn exclusive() -> Exclusive {
    static ONE: Mutex<()> = Mutex::new(());
    let guard = ONE.lock().unwrap_or_else(PoisonError::into_inner);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/tmp/doctor-lab-exclusive.lock")
        .unwrap_or_else(|e| panic!("lab: open the exclusive lock: {e}"));
    const LOCK_EX: i32 = 2;
    // SAFETY: flock on a descriptor this File owns; no memory is involved.
    if unsafe { flock(file.as_raw_fd(), LOCK_EX) } != 0 {
        panic!("lab: flock /tmp/doctor-lab-exclusive.lock failed");
    }
    sweep_leftovers();
    Exclusive { _thread: guard, _file: file }
}

/// Whether `docker info` answers (checked once per process, 20 s limit).
pub fn engine_answers() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        docker_bin().is_some()
            && run_helper(&mut docker_cmd(&["info", "--format", "{{.ServerVersion}}"]), Duration::from_secs(20))
                .is_ok_and(|v| !v.trim().is_empty())
    })
}

/// Start time (field 22 of /proc/PID/stat) of `pid`, to tell a live owner from a reused pid.
fn proc_start_time(pid: u32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(19).map(str::to_owned)
}

/// `<pid>:<start time>` of this process: the `doctor.lab.owner` label.
fn owner_tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let pid = std::process::id();
        format!("{pid}:{}", proc_start_time(pid).unwrap_or_default())
    })
}

fn owner_alive(tag: &str) -> bool {
    let Some((pid, start)) = tag.split_once(':') else { return false };
    let Ok(pid) = pid.parse::<u32>() else { return false };
    process_alive(pid) && proc_start_time(pid).as_deref() == Some(start)
}

/// Removes every container and network labelled `doctor.lab=1` whose owner process (label
/// `doctor.lab.owner`) is gone: leftovers of test runs that were killed. Objects of live test
/// processes are left alone. Runs automatically once per process (first [`Lab::new`]).
pub fn sweep_leftovers() {
    let list = |what: &[&str]| -> Vec<String> {
        let mut args = what.to_vec();
        args.extend(["--filter", "label=doctor.lab=1", "--format", "{{.ID}}\t{{.Label \"doctor.lab.owner\"}}"]);
        docker(&args)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let (id, owner) = l.split_once('\t').unwrap_or((l, ""));
                (!id.trim().is_empty() && !owner_alive(owner.trim())).then(|| id.trim().to_owned())
            })
            .collect()
    };
    let containers = list(&["ps", "-a"]);
    if !containers.is_empty() {
        eprintln!("lab: removing {} leftover container(s)", containers.len());
        let mut args = vec!["rm".to_owned(), "-f".into(), "-v".into()];
        args.extend(containers);
        let _ = docker(&args);
    }
    let networks = list(&["network", "ls"]);
    if !networks.is_empty() {
        eprintln!("lab: removing {} leftover network(s)", networks.len());
        let mut args = vec!["network".to_owned(), "rm".into()];
        args.extend(networks);
        let _ = docker(&args);
    }
}

// ---------------------------------------------------------------------------------------------
// The lab
// ---------------------------------------------------------------------------------------------

/// What [`Lab::run`] starts. `Default` gives a container on the default bridge, no env, no
/// ports, the image's own entrypoint and command.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    /// Short name; the container is named `<lab prefix>-<name>` (see [`Lab::name`]).
    pub name: String,
    /// Image reference, usually from [`image`].
    pub image: String,
    /// `-e KEY=VALUE`.
    pub env: Vec<(String, String)>,
    /// Lab networks by short name (created on first use, see [`Lab::network`]) with the DNS
    /// aliases the container gets on each (`--network-alias`). None: the default bridge.
    pub networks: Vec<(String, Vec<String>)>,
    /// `-p` values, e.g. `"127.0.0.1:0:5432"` (Docker picks the host port; read it with
    /// [`Lab::published_port`]).
    pub publish: Vec<String>,
    /// `-m` value, e.g. `"20m"`; `--memory-swap` is set to the same value (no swap), so a
    /// memory hog is OOM-killed at this limit. Docker 20.10 (cgroup v1) reports
    /// `State.OOMKilled = true` only when the kill ends the container: make the hog PID 1 or
    /// let PID 1 exit with it (`sh -c 'head -c 100m /dev/zero | tail'`); a killed child under a
    /// surviving PID 1 leaves it `false`. Even then the flag is racy: a container killed within
    /// a fraction of a second can exit 137 with `OOMKilled: false` (seen in CI) when the engine
    /// handles the exit before the OOM notice. The engine's `oom` event is logged either way
    /// ([`Lab::oom_events`]).
    pub memory: Option<String>,
    /// Arguments after the image (the command, or extra arguments for the postgres/redis
    /// entrypoints).
    pub cmd: Vec<String>,
    /// Extra labels, e.g. `com.docker.compose.service` / `com.docker.compose.project`.
    pub labels: Vec<(String, String)>,
    /// `--health-cmd` (run by `/bin/sh -c` inside the container).
    pub health_cmd: Option<String>,
    /// `--health-interval`, e.g. `"1s"` (Docker's default is 30s).
    pub health_interval: Option<String>,
    /// `--health-retries` (Docker's default is 3).
    pub health_retries: Option<u32>,
    /// `--restart`, e.g. `"on-failure:3"`.
    pub restart: Option<String>,
    /// `--entrypoint`.
    pub entrypoint: Option<String>,
    /// `--user`, e.g. `"1000:1000"`.
    pub user: Option<String>,
    /// `--tmpfs` values, e.g. `"/app/uploads:size=64k,mode=755"`.
    pub tmpfs: Vec<String>,
    /// `--add-host` values, e.g. `"host.docker.internal:host-gateway"` (compose's `extra_hosts`).
    pub add_hosts: Vec<String>,
    /// The container's name exactly as given instead of `<prefix>-<name>` (the spec's
    /// `container_name: ai-micro-postgres`). Names are global on the engine: only tests that
    /// hold [`exclusive`] may use it. `name` stays the short name the lab's methods take.
    pub exact_name: bool,
}

/// A set of containers and networks removed on drop. See the module docs. Methods take
/// `&self`: a lab can be shared between threads.
pub struct Lab {
    prefix: String,
    /// Containers named exactly as given (see `ContainerSpec::exact_name`).
    exact: Mutex<Vec<String>>,
    containers: Mutex<Vec<String>>,
    networks: Mutex<Vec<String>>,
    reaper: Mutex<Option<Child>>,
}

impl Lab {
    /// A new, empty lab, or `None` (via [`require_or_skip`]: a panic when `CI` is set) when
    /// no Docker engine answers or busybox is missing. The first call in a process sweeps
    /// leftovers of dead test processes ([`sweep_leftovers`]).
    pub fn new() -> Option<Lab> {
        if !require_or_skip(
            "a Docker engine (`docker info` must answer; scripts/test installs docker.io and starts dockerd)",
            engine_answers(),
        ) {
            return None;
        }
        if !require_or_skip("busybox (package busybox-static), needed by every lab image", busybox_path().is_some()) {
            return None;
        }
        static SWEPT: OnceLock<()> = OnceLock::new();
        SWEPT.get_or_init(sweep_leftovers);
        let prefix = format!("dl-{}", random_hex(3));
        let reaper = spawn_reaper(&prefix);
        Some(Lab {
            prefix,
            exact: Mutex::default(),
            containers: Mutex::default(),
            networks: Mutex::default(),
            reaper: Mutex::new(reaper),
        })
    }

    /// This lab's unique prefix, `dl-<6 hex>` (also its `doctor.lab.run` label).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Full name of the lab object with short name `short`: `<prefix>-<short>`, or `short`
    /// itself for a container started with `exact_name`.
    pub fn name(&self, short: &str) -> String {
        if self.exact.lock().unwrap_or_else(PoisonError::into_inner).iter().any(|n| n == short) {
            return short.to_string();
        }
        format!("{}-{short}", self.prefix)
    }

    fn label_args(&self) -> Vec<String> {
        [
            "doctor.lab=1".to_owned(),
            format!("doctor.lab.run={}", self.prefix),
            format!("doctor.lab.owner={}", owner_tag()),
        ]
        .into_iter()
        .flat_map(|l| ["--label".to_owned(), l])
        .collect()
    }

    /// Creates the bridge network `<prefix>-<short>` (once; later calls just return its name).
    pub fn network(&self, short: &str) -> String {
        let full = self.name(short);
        let mut nets = self.networks.lock().unwrap_or_else(PoisonError::into_inner);
        if !nets.contains(&full) {
            let mut args = vec!["network".to_owned(), "create".into()];
            args.extend(self.label_args());
            args.push(full.clone());
            docker_ok(&args);
            nets.push(full.clone());
        }
        full
    }

    /// Starts a container (detached) and returns its full name. One network or none:
    /// `docker run -d`; more: `docker create`, `docker network connect` for the others,
    /// `docker start`. Panics with Docker's message if it cannot be started.
    pub fn run(&self, spec: ContainerSpec) -> String {
        let full = if spec.exact_name { spec.name.clone() } else { self.name(&spec.name) };
        if spec.exact_name {
            self.exact.lock().unwrap_or_else(PoisonError::into_inner).push(spec.name.clone());
        }
        let networks: Vec<(String, &Vec<String>)> = spec.networks.iter().map(|(n, a)| (self.network(n), a)).collect();
        let one_step = networks.len() <= 1;
        let mut args: Vec<String> = if one_step { vec!["run".into(), "-d".into()] } else { vec!["create".into()] };
        args.extend(["--name".into(), full.clone()]);
        args.extend(self.label_args());
        for (k, v) in &spec.labels {
            args.extend(["--label".into(), format!("{k}={v}")]);
        }
        for (k, v) in &spec.env {
            args.extend(["-e".into(), format!("{k}={v}")]);
        }
        if let Some((net, aliases)) = networks.first() {
            args.extend(["--network".into(), net.clone()]);
            for a in aliases.iter() {
                args.extend(["--network-alias".into(), a.clone()]);
            }
        }
        for p in &spec.publish {
            args.extend(["-p".into(), p.clone()]);
        }
        if let Some(m) = &spec.memory {
            args.extend(["-m".into(), m.clone(), "--memory-swap".into(), m.clone()]);
        }
        if let Some(h) = &spec.health_cmd {
            args.extend(["--health-cmd".into(), h.clone()]);
        }
        if let Some(i) = &spec.health_interval {
            args.extend(["--health-interval".into(), i.clone()]);
        }
        if let Some(r) = spec.health_retries {
            args.extend(["--health-retries".into(), r.to_string()]);
        }
        if let Some(r) = &spec.restart {
            args.extend(["--restart".into(), r.clone()]);
        }
        if let Some(e) = &spec.entrypoint {
            args.extend(["--entrypoint".into(), e.clone()]);
        }
        if let Some(u) = &spec.user {
            args.extend(["--user".into(), u.clone()]);
        }
        for t in &spec.tmpfs {
            args.extend(["--tmpfs".into(), t.clone()]);
        }
        for h in &spec.add_hosts {
            args.extend(["--add-host".into(), h.clone()]);
        }
        if spec.image.starts_with("doctor-lab/postgres:") {
            args.extend(["--stop-signal".into(), "SIGINT".into()]);
        }
        args.push(spec.image.clone());
        args.extend(spec.cmd.iter().cloned());

        self.containers.lock().unwrap_or_else(PoisonError::into_inner).push(full.clone());
        docker(&args).unwrap_or_else(|e| panic!("lab: cannot start container {full}:\n{e}"));
        if !one_step {
            for (net, aliases) in &networks[1..] {
                let mut c = vec!["network".to_owned(), "connect".into()];
                for a in aliases.iter() {
                    c.extend(["--alias".into(), a.clone()]);
                }
                c.extend([net.clone(), full.clone()]);
                docker_ok(&c);
            }
            docker(&["start", &full]).unwrap_or_else(|e| panic!("lab: cannot start container {full}:\n{e}"));
        }
        full
    }

    /// `docker stop -t 10` (the image's stop signal, SIGKILL after 10 s).
    pub fn stop(&self, short: &str) {
        docker_ok(&["stop", "-t", "10", &self.name(short)]);
    }

    /// `docker rm -f -v` (to start it again differently with [`Lab::run`]).
    pub fn remove(&self, short: &str) {
        docker_ok(&["rm", "-f", "-v", &self.name(short)]);
    }

    /// `docker start` of a stopped container.
    pub fn start(&self, short: &str) {
        docker_ok(&["start", &self.name(short)]);
    }

    /// `docker kill` (SIGKILL).
    pub fn kill(&self, short: &str) {
        docker_ok(&["kill", &self.name(short)]);
    }

    /// `docker exec <c> CMD...` (as the image's user, root): exit code and output. Panics only
    /// if the docker CLI hangs past [`super::RUN_TIMEOUT`].
    pub fn exec(&self, short: &str, cmd: &[&str]) -> Output {
        let mut args = vec!["exec".to_owned(), self.name(short)];
        args.extend(cmd.iter().map(|s| s.to_string()));
        super::run(&mut docker_cmd(&args))
    }

    /// Everything the container wrote so far, stdout and stderr interleaved as Docker stored
    /// them (`docker logs <c> 2>&1`).
    pub fn logs(&self, short: &str) -> String {
        let name = self.name(short);
        let docker = docker_bin().expect("docker CLI");
        run_helper(
            Command::new("/bin/sh").args(["-c", r#""$0" logs "$1" 2>&1"#]).arg(docker).arg(&name),
            DOCKER_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("lab: docker logs {name} failed:\n{e}"))
    }

    fn try_inspect(&self, short: &str) -> Result<Value, String> {
        let out = docker(&["inspect", &self.name(short)])?;
        let v: Value = serde_json::from_str(&out).map_err(|e| format!("docker inspect: bad JSON: {e}"))?;
        Ok(v.get(0).cloned().unwrap_or(Value::Null))
    }

    /// `docker inspect <c>` (the object, not the one-element array).
    pub fn inspect(&self, short: &str) -> Value {
        self.try_inspect(short).unwrap_or_else(|e| panic!("lab: {e}"))
    }

    /// How many `oom` events the engine logged for the container in the last hour
    /// (`docker events --filter event=oom`, bounded by `--until` so it returns at once).
    pub fn oom_events(&self, short: &str) -> usize {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let out = docker_ok(&[
            "events",
            "--since",
            &(now - 3600).to_string(),
            "--until",
            &now.to_string(),
            "--filter",
            "event=oom",
            "--filter",
            &format!("container={}", self.name(short)),
            "--format",
            "{{.ID}}",
        ]);
        out.lines().filter(|l| !l.trim().is_empty()).count()
    }

    /// Polls until the engine logged an `oom` event for the container (it may come a moment
    /// after the exit); panics after 10 s.
    pub fn wait_oom_event(&self, short: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.oom_events(short) == 0 {
            assert!(Instant::now() < deadline, "lab: no oom event for {} within 10s", self.name(short));
            thread::sleep(WAIT_POLL);
        }
    }

    /// The host port Docker published `container_port`/tcp on (first binding of `docker port`).
    pub fn published_port(&self, short: &str, container_port: u16) -> u16 {
        let name = self.name(short);
        let out = docker_ok(&["port", &name, &format!("{container_port}/tcp")]);
        out.lines()
            .find_map(|l| l.trim().rsplit_once(':')?.1.parse().ok())
            .unwrap_or_else(|| panic!("lab: {name} does not publish {container_port}/tcp: {out:?}"))
    }

    /// [`Lab::published_port`], or `None` when the container publishes no such port.
    pub fn try_published_port(&self, short: &str, container_port: u16) -> Option<u16> {
        let out = docker(&["port", &self.name(short), &format!("{container_port}/tcp")]).ok()?;
        out.lines().find_map(|l| l.trim().rsplit_once(':')?.1.parse().ok())
    }

    /// The container's IP address on the lab network `network` (short name).
    pub fn ip(&self, short: &str, network: &str) -> String {
        let v = self.inspect(short);
        v["NetworkSettings"]["Networks"][self.name(network)]["IPAddress"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| panic!("lab: {} has no address on {}", self.name(short), self.name(network)))
            .to_owned()
    }

    /// Polls `docker inspect` until `f` accepts it; panics after 60 s naming `what`, with the
    /// container's state and the tail of its log.
    pub fn wait_until(&self, short: &str, what: &str, f: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            let v = self.try_inspect(short);
            if v.as_ref().is_ok_and(&f) {
                return;
            }
            if Instant::now() > deadline {
                let state = match &v {
                    Ok(v) => v["State"].to_string(),
                    Err(e) => e.clone(),
                };
                panic!(
                    "lab: {} did not become {what} within {WAIT_TIMEOUT:?}\nState: {state}\n--- log tail ---\n{}",
                    self.name(short),
                    tail(&self.logs(short), 30)
                );
            }
            thread::sleep(WAIT_POLL);
        }
    }

    /// Polls the container's log until it contains `needle`; panics after 60 s, or as soon as
    /// the container has stopped (and is not restarting) without having logged it.
    pub fn wait_log(&self, short: &str, needle: &str) {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            if self.logs(short).contains(needle) {
                return;
            }
            let state = self.try_inspect(short).map(|v| v["State"].clone()).unwrap_or(Value::Null);
            let gone = state["Running"] == false && state["Restarting"] == false && state["Status"] != "created";
            if gone || Instant::now() > deadline {
                let log = self.logs(short);
                if log.contains(needle) {
                    return;
                }
                panic!(
                    "lab: {} never logged {needle:?} ({})\nState: {state}\n--- log tail ---\n{}",
                    self.name(short),
                    if gone { "it stopped" } else { "timeout" },
                    tail(&log, 30)
                );
            }
            thread::sleep(WAIT_POLL);
        }
    }

    /// Polls until `check` (a `docker exec` in the container) succeeds; panics after 60 s or
    /// as soon as the container is not running.
    fn wait_exec(&self, short: &str, what: &str, cmd: &[&str]) {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            let state = self.try_inspect(short).map(|v| v["State"].clone()).unwrap_or(Value::Null);
            let running = state["Running"] == true;
            if running && self.exec(short, cmd).code == 0 {
                return;
            }
            let dead = !running && state["Restarting"] == false && state["Status"] != "created";
            if dead || Instant::now() > deadline {
                panic!(
                    "lab: {} is not {what} ({})\nState: {state}\n--- log tail ---\n{}",
                    self.name(short),
                    if dead { "it stopped" } else { "timeout" },
                    tail(&self.logs(short), 30)
                );
            }
            thread::sleep(WAIT_POLL);
        }
    }

    /// Waits until PostgreSQL in the container accepts TCP connections on its port 5432
    /// (`pg_isready -h 127.0.0.1` through `docker exec`).
    pub fn wait_pg_ready(&self, short: &str) {
        self.wait_exec(
            short,
            "accepting PostgreSQL connections",
            &["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"],
        );
    }

    /// Waits until Redis in the container answers on 6379 (PONG or NOAUTH both mean it is up).
    pub fn wait_redis_ready(&self, short: &str) {
        self.wait_exec(
            short,
            "answering Redis commands",
            &[
                "sh",
                "-c",
                "r=$(redis-cli -h 127.0.0.1 -p 6379 ping 2>&1); case $r in PONG*|NOAUTH*) exit 0;; esac; exit 1",
            ],
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let containers = std::mem::take(&mut *self.containers.lock().unwrap_or_else(PoisonError::into_inner));
        let networks = std::mem::take(&mut *self.networks.lock().unwrap_or_else(PoisonError::into_inner));
        let mut clean = true;
        if !containers.is_empty() {
            let mut args = vec!["rm".to_owned(), "-f".into(), "-v".into()];
            args.extend(containers);
            if docker(&args).is_err() {
                // Some name may never have been created; what matters is that none is left.
                let left = docker(&["ps", "-aq", "--filter", &format!("label=doctor.lab.run={}", self.prefix)]);
                clean = left.is_ok_and(|l| l.trim().is_empty());
            }
        }
        if !networks.is_empty() {
            let mut args = vec!["network".to_owned(), "rm".into()];
            args.extend(networks);
            clean &= docker(&args).is_ok();
        }
        if let Some(mut reaper) = self.reaper.lock().unwrap_or_else(PoisonError::into_inner).take() {
            if let Some(mut stdin) = reaper.stdin.take()
                && clean
            {
                let _ = stdin.write_all(b"done\n");
            } // EOF without "done": the reaper retries the cleanup
            let _ = reaper.wait();
        }
    }
}

/// A `sh` that removes the lab's objects when its stdin reaches EOF without a `done` line (this
/// process died without dropping the lab). Ignores INT/HUP/TERM so Ctrl-C does not kill it first.
fn spawn_reaper(prefix: &str) -> Option<Child> {
    let script = r#"docker=$1 run=$2
trap '' INT HUP TERM
line=
read -r line
[ "$line" = done ] && exit 0
ids=$(timeout 60 "$docker" ps -aq --filter "label=doctor.lab.run=$run")
[ -n "$ids" ] && timeout 60 "$docker" rm -f -v $ids
nets=$(timeout 60 "$docker" network ls -q --filter "label=doctor.lab.run=$run")
[ -n "$nets" ] && timeout 60 "$docker" network rm $nets
exit 0"#;
    Command::new("/bin/sh")
        .args(["-c", script, "doctor-lab-reaper"])
        .arg(docker_bin()?)
        .arg(prefix)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// Host-side clients
// ---------------------------------------------------------------------------------------------

/// Runs `sql` with the host's psql against 127.0.0.1:`port` (unaligned, tuples only, so
/// `SELECT 1` gives "1"). `Err` carries psql's stderr (e.g. `password authentication failed`).
pub fn host_psql(port: u16, user: &str, password: &str, db: &str, sql: &str) -> Result<String, String> {
    let bins = pg_bins().expect("psql on the host (package postgresql-client)");
    let mut cmd = Command::new(&bins.psql);
    cmd.env_clear()
        .env("PATH", super::env_path())
        .env("LC_ALL", "C")
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PGSSLMODE", "disable")
        .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-U", user, "-d", db, "-c", sql]);
    let out = super::run(&mut cmd);
    if out.code == 0 { Ok(out.stdout.trim().to_owned()) } else { Err(out.stderr.trim().to_owned()) }
}

/// Runs the host's `redis-cli -h 127.0.0.1 -p PORT [-a PASSWORD] ARGS...`; returns stdout
/// trimmed (error replies such as `NOAUTH ...` are text on stdout, not an `Err`). `Err` only
/// when redis-cli itself fails (e.g. connection refused).
pub fn host_redis_cli(port: u16, password: Option<&str>, args: &[&str]) -> Result<String, String> {
    let bins = redis_bins().expect("redis-cli on the host (package redis-tools)");
    let mut cmd = Command::new(&bins.cli);
    cmd.env_clear().env("PATH", super::env_path()).args(["-h", "127.0.0.1", "-p", &port.to_string()]);
    if let Some(pw) = password {
        cmd.args(["--no-auth-warning", "-a", pw]);
    }
    cmd.args(args);
    let out = super::run(&mut cmd);
    if out.code == 0 { Ok(out.stdout.trim().to_owned()) } else { Err(format!("{}{}", out.stdout, out.stderr)) }
}

// ---------------------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------------------

/// The lab's images (see the module docs for what each contains).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Image {
    Busybox,
    Postgres,
    Redis,
    /// The HTTP fixture (`doctor-fixture`) playing one service of the stack, with what those
    /// services hold on disk: `/app/keys/` (the pair the fixture signs with; private key 0600)
    /// and a writable `/app/uploads`. Configure it with `FIXTURE_LISTEN` and `FIXTURE_MODES`.
    Fixture,
}

impl Image {
    fn kind(self) -> &'static str {
        match self {
            Image::Busybox => "busybox",
            Image::Postgres => "postgres",
            Image::Redis => "redis",
            Image::Fixture => "fixture",
        }
    }
}

/// The tag of the `kind` image (`doctor-lab/<kind>:<hash>`), built on first use on this machine
/// and reused afterwards; resolved once per process. Call after [`Lab::new`] (which checks that
/// there is an engine). Panics if the image cannot be built (e.g. PostgreSQL not installed).
pub fn image(kind: Image) -> String {
    static TAGS: [OnceLock<String>; 4] = [const { OnceLock::new() }; 4];
    TAGS[kind as usize].get_or_init(|| find_or_build_image(kind)).clone()
}

/// What [`image`] does once per process: computes the recipe and its hash, returns the tag if
/// the engine has it, builds it otherwise (under the cross-process lock).
pub fn find_or_build_image(kind: Image) -> String {
    let recipe = Recipe::for_image(kind);
    let tag = format!("doctor-lab/{}:{}", kind.kind(), recipe.hash());
    if image_exists(&tag) {
        return tag;
    }
    let _lock = ImageLock::acquire();
    if image_exists(&tag) {
        return tag; // built by another thread or process while we waited
    }
    let t0 = Instant::now();
    recipe.build(&tag);
    eprintln!("lab: built image {tag} in {:.1?}", t0.elapsed());
    // Older versions of this kind are dead weight now (ignore failures: maybe in use).
    if let Ok(list) =
        docker(&["images", "--format", "{{.Repository}}:{{.Tag}}", &format!("doctor-lab/{}", kind.kind())])
    {
        for old in list.lines().map(str::trim).filter(|t| !t.is_empty() && *t != tag) {
            let _ = docker(&["rmi", old]);
        }
    }
    tag
}

fn image_exists(tag: &str) -> bool {
    docker(&["image", "inspect", "--format", "{{.Id}}", tag]).is_ok()
}

fn busybox_path() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .map(PathBuf::from)
        .into_iter()
        .find(|p| p.is_file())
        .or_else(|| which("busybox"))
}

/// Exclusive flock on [`IMAGE_LOCK`] while alive.
struct ImageLock(#[allow(dead_code)] fs::File);

unsafe extern "C" {
    fn flock(fd: i32, operation: i32) -> i32;
}

impl ImageLock {
    fn acquire() -> ImageLock {
        const LOCK_EX: i32 = 2;
        const LOCK_NB: i32 = 4;
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(IMAGE_LOCK)
            .unwrap_or_else(|e| panic!("lab: open {IMAGE_LOCK}: {e}"));
        let deadline = Instant::now() + IMPORT_TIMEOUT + Duration::from_secs(120);
        loop {
            // SAFETY: flock on a descriptor this File owns; no memory is involved.
            if unsafe { flock(file.as_raw_fd(), LOCK_EX | LOCK_NB) } == 0 {
                return ImageLock(file);
            }
            if Instant::now() > deadline {
                panic!("lab: {IMAGE_LOCK} still locked after waiting for another image build");
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// 64-bit FNV-1a: stable across processes and toolchains (the tag must be).
struct Fnv(u64);

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Everything that goes into an image's root filesystem, keyed by path inside the image.
#[derive(Default)]
struct Recipe {
    /// Copied from the host path (following symlinks).
    files: BTreeMap<PathBuf, PathBuf>,
    symlinks: BTreeMap<PathBuf, PathBuf>,
    /// Generated files: content and mode.
    written: BTreeMap<PathBuf, (String, u32)>,
    dirs: BTreeMap<PathBuf, u32>,
    /// `docker import --change` lines.
    changes: Vec<String>,
    /// After the import: run the image once with this argument and `docker commit` the result
    /// (the postgres image's pre-built cluster).
    bake: Option<&'static str>,
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh
postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
";
const GROUP: &str = "root:x:0:\npostgres:x:999:\nnogroup:x:65534:\n";
const NSSWITCH: &str = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n";

/// Default command of the busybox image: idle, exit at once on `docker stop`.
const BUSYBOX_IDLE: &str = r#"CMD ["sh", "-c", "trap 'exit 0' TERM INT; sleep 2147483647 & wait"]"#;

const POSTGRES_ENTRYPOINT: &str = r#"#!/bin/sh
# doctor lab: the parts of the official postgres image's docker-entrypoint.sh the tests need.
# The image holds a pristine cluster made at build time (`lab-make-template`, initdb -U postgres)
# in $PGDATA, marked by $MARK: a first start only renames the superuser, sets its password and
# creates the database, in single-user mode (a full initdb costs ~3 s per container).
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
MARK=$PGDATA/.doctor-lab-template
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi
case $1 in
  postgres | lab-make-template) ;;
  *) exec "$@" ;;
esac
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chmod 3777 /var/run/postgresql
  # `--`: busybox su would otherwise take a later `-c` (e.g. `-c max_connections=8`) as its own.
  exec su -s /bin/sh -c 'exec /entrypoint.sh "$@"' -- postgres entrypoint "$@"
fi
mode=$1
shift

ident() { printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"; }
literal() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }
# Runs the statements on stdin (each ends with ";" and a blank line) in single-user mode.
single() {
  err=$(postgres --single -j -D "$PGDATA" -c listen_addresses= -c fsync=off -c log_checkpoints=off postgres \
    2>&1 >/dev/null) || { printf '%s\n' "$err" >&2; exit 1; }
  case $err in *ERROR* | *FATAL* | *PANIC*) printf '%s\n' "$err" >&2; exit 1 ;; esac
}
initdb_as() { # user password
  pwfile=$(mktemp)
  printf '%s\n' "$2" >"$pwfile"
  initdb -D "$PGDATA" --username="$1" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C --no-sync --no-instructions
  rm -f "$pwfile"
  printf '\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
}

if [ "$mode" = lab-make-template ]; then
  initdb_as postgres "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  : >"$MARK"
  exit 0
fi

if [ ! -s "$PGDATA/PG_VERSION" ] || [ -e "$MARK" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    cat >&2 <<'EOF'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
EOF
    exit 1
  fi
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  if [ -e "$MARK" ]; then
    echo "initialising the database from the image's pre-built cluster (superuser \"$user\")"
    {
      if [ "$user" != postgres ]; then
        # The bootstrap superuser cannot rename itself: do it as a temporary superuser.
        printf 'CREATE ROLE doctor_lab_tmp SUPERUSER;\n\nSET SESSION AUTHORIZATION doctor_lab_tmp;\n\n'
        printf 'ALTER ROLE postgres RENAME TO %s;\n\nSET SESSION AUTHORIZATION %s;\n\n' "$(ident "$user")" "$(ident "$user")"
        printf 'DROP ROLE doctor_lab_tmp;\n\n'
      fi
      printf 'ALTER ROLE %s PASSWORD %s;\n\n' "$(ident "$user")" "$(literal "$POSTGRES_PASSWORD")"
      if [ "$db" != postgres ]; then
        printf 'CREATE DATABASE %s;\n\n' "$(ident "$db")"
      fi
    } | single
    rm -f "$MARK"
  else
    initdb_as "$user" "$POSTGRES_PASSWORD"
    if [ "$db" != postgres ]; then
      printf 'CREATE DATABASE %s;\n\n' "$(ident "$db")" | single
    fi
  fi
  echo
  echo 'PostgreSQL init process complete; ready for start up.'
  echo
fi
exec postgres -D "$PGDATA" -c 'listen_addresses=*' -c 'unix_socket_directories=/var/run/postgresql,/tmp' "$@"
"#;

const REDIS_ENTRYPOINT: &str = r#"#!/bin/sh
# doctor lab: redis-server with test defaults; REDIS_PASSWORD -> --requirepass.
set -eu
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" != redis-server ]; then
  exec "$@"
fi
shift
if [ -n "${REDIS_PASSWORD:-}" ]; then
  set -- --requirepass "$REDIS_PASSWORD" "$@"
fi
exec redis-server --bind 0.0.0.0 --protected-mode no --save '' --appendonly no "$@"
"#;

impl Recipe {
    fn for_image(kind: Image) -> Recipe {
        let mut r = Recipe::default();
        let busybox = busybox_path().expect("busybox (install busybox-static)");
        r.add_binaries(&[(PathBuf::from("/bin/busybox"), busybox.clone())]);
        let applets = run_helper(Command::new(&busybox).arg("--list"), DOCKER_TIMEOUT)
            .unwrap_or_else(|e| panic!("lab: busybox --list: {e}"));
        for applet in applets.lines().map(str::trim).filter(|a| !a.is_empty() && *a != "busybox") {
            r.symlinks.insert(Path::new("/bin").join(applet), "busybox".into());
        }
        r.symlinks.insert("/usr/bin/env".into(), "/bin/busybox".into());
        r.written.insert("/etc/passwd".into(), (PASSWD.into(), 0o644));
        r.written.insert("/etc/group".into(), (GROUP.into(), 0o644));
        r.written.insert("/etc/nsswitch.conf".into(), (NSSWITCH.into(), 0o644));
        for (d, mode) in [("/tmp", 0o1777), ("/var/tmp", 0o1777), ("/root", 0o700), ("/usr/local/bin", 0o755)] {
            r.dirs.insert(d.into(), mode);
        }
        match kind {
            Image::Busybox => {
                r.changes.push(format!("ENV PATH={BASE_PATH}"));
                r.changes.push(BUSYBOX_IDLE.into());
            }
            Image::Postgres => {
                let (major, root) = postgres_root().expect("PostgreSQL under /usr/lib/postgresql (install postgresql)");
                let bin = root.join("bin");
                let bins: Vec<(PathBuf, PathBuf)> =
                    ["postgres", "initdb", "pg_ctl", "pg_isready", "psql", "createdb", "createuser", "pg_dump"]
                        .iter()
                        .map(|b| bin.join(b))
                        .filter(|p| p.is_file())
                        .map(|p| (p.clone(), p))
                        .collect();
                // Server modules (plpgsql, dict_snowball, pg_stat_statements ...), without the LLVM JIT.
                let mut modules: Vec<(PathBuf, PathBuf)> = fs::read_dir(root.join("lib"))
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.extension() == Some(OsStr::new("so"))
                            && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("llvmjit"))
                    })
                    .map(|p| (p.clone(), p))
                    .collect();
                modules.sort();
                r.add_binaries(&[bins, modules].concat());
                let share = PathBuf::from(format!("/usr/share/postgresql/{major}"));
                r.add_tree(&share, &|p| p.starts_with(share.join("man")));
                r.add_tree(Path::new("/usr/share/zoneinfo"), &|_| false);
                r.written.insert("/entrypoint.sh".into(), (POSTGRES_ENTRYPOINT.into(), 0o755));
                // initdb runs `locale -a` to import collations; there are no locales but C.
                r.written.insert("/usr/bin/locale".into(), ("#!/bin/sh\necho C\necho POSIX\n".into(), 0o755));
                r.dirs.insert("/var/lib/postgresql".into(), 0o755);
                r.dirs.insert("/var/run/postgresql".into(), 0o3777);
                r.changes.push(format!("ENV PATH={}:{BASE_PATH}", bin.display()));
                r.changes.push(format!("ENV PG_MAJOR={major}"));
                r.changes.push("ENV PGDATA=/var/lib/postgresql/data".into());
                r.changes.push("EXPOSE 5432".into());
                r.changes.push(r#"ENTRYPOINT ["/entrypoint.sh"]"#.into());
                r.changes.push(r#"CMD ["postgres"]"#.into());
                r.bake = Some("lab-make-template");
            }
            Image::Redis => {
                let server = which("redis-server").expect("redis-server (install redis-server)");
                let cli = which("redis-cli").expect("redis-cli (install redis-tools)");
                // redis-server is a symlink to redis-check-rdb; the copy is named redis-server,
                // which is what selects server mode.
                r.add_binaries(&[("/usr/bin/redis-server".into(), server), ("/usr/bin/redis-cli".into(), cli)]);
                r.written.insert("/entrypoint.sh".into(), (REDIS_ENTRYPOINT.into(), 0o755));
                r.dirs.insert("/data".into(), 0o755);
                r.changes.push(format!("ENV PATH={BASE_PATH}"));
                r.changes.push("WORKDIR /data".into());
                r.changes.push("EXPOSE 6379".into());
                r.changes.push(r#"ENTRYPOINT ["/entrypoint.sh"]"#.into());
                r.changes.push(r#"CMD ["redis-server"]"#.into());
            }
            Image::Fixture => {
                let bin = PathBuf::from(env!("CARGO_BIN_EXE_doctor-fixture"));
                r.add_binaries(&[("/usr/local/bin/doctor-fixture".into(), bin)]);
                let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture/keys");
                let key = |name: &str| {
                    fs::read_to_string(keys.join(name)).unwrap_or_else(|e| panic!("lab: fixture key {name}: {e}"))
                };
                r.written.insert("/app/keys/private_key.pem".into(), (key("current.private.pem"), 0o600));
                r.written.insert("/app/keys/public_key.pem".into(), (key("current.public.pem"), 0o644));
                r.dirs.insert("/app".into(), 0o755);
                r.dirs.insert("/app/keys".into(), 0o700);
                r.dirs.insert("/app/uploads".into(), 0o755);
                r.changes.push(format!("ENV PATH={BASE_PATH}"));
                r.changes.push("ENV FIXTURE_LISTEN=0.0.0.0:8000".into());
                r.changes.push("WORKDIR /app".into());
                r.changes.push(r#"ENTRYPOINT ["/usr/local/bin/doctor-fixture"]"#.into());
            }
        }
        r
    }

    /// Adds `(path in image, host path)` files plus every shared library they load, at the
    /// library's own path. Asks the dynamic loader (`ld.so --list`, what `ldd` runs, without
    /// ldd's per-file overhead) from one `sh` for all of them; static files are skipped.
    fn add_binaries(&mut self, files: &[(PathBuf, PathBuf)]) {
        let mut dynamic = Vec::new();
        let mut loader = None;
        for (dest, src) in files {
            self.files.insert(dest.clone(), src.clone());
            if let Some(interp) = elf_dynamic(src) {
                dynamic.push(src.clone());
                loader = loader.or(interp);
            }
        }
        if dynamic.is_empty() {
            return;
        }
        let loader = loader.or_else(|| {
            ["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"]
                .map(PathBuf::from)
                .into_iter()
                .find(|p| p.is_file())
        });
        let Some(loader) = loader else { panic!("lab: no dynamic loader found for {dynamic:?}") };
        let out = super::run_with_timeout(
            Command::new("/bin/sh")
                .args(["-c", r#"ld=$1; shift; for f; do "$ld" --list "$f"; done"#, "sh"])
                .arg(&loader)
                .args(&dynamic),
            DOCKER_TIMEOUT,
        );
        // A library that is "not found" (a module's optional dependency) only makes the exit
        // status non-zero; what matters is that the loader listed something.
        assert!(out.stdout.contains("=>"), "lab: {} --list failed:\n{}", loader.display(), out.stderr);
        for line in out.stdout.lines() {
            let line = line.trim();
            let path = match line.split_once("=> ") {
                Some((_, rest)) => rest.split(" (").next().unwrap_or(""),
                None => line.split(" (").next().unwrap_or(""),
            };
            if path.starts_with('/') && Path::new(path).is_file() {
                self.files.insert(path.into(), path.into());
            }
        }
    }

    /// Adds a host directory tree at the same path, symlinks kept as symlinks.
    fn add_tree(&mut self, dir: &Path, skip: &dyn Fn(&Path) -> bool) {
        let mut entries: Vec<PathBuf> = fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if skip(&p) {
                continue;
            }
            let Ok(meta) = fs::symlink_metadata(&p) else { continue };
            if meta.file_type().is_symlink() {
                if let Ok(target) = fs::read_link(&p) {
                    self.symlinks.insert(p, target);
                }
            } else if meta.is_dir() {
                self.add_tree(&p, skip);
            } else if meta.is_file() {
                self.files.insert(p.clone(), p);
            }
        }
    }

    /// Hash of everything that determines the image: 16 hex chars.
    fn hash(&self) -> String {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        h.write(b"doctor-lab recipe v1");
        for (dest, src) in &self.files {
            h.write(dest.as_os_str().as_encoded_bytes());
            let meta = fs::metadata(src).unwrap_or_else(|e| panic!("lab: {}: {e}", src.display()));
            let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).unwrap_or_default();
            h.write(format!("{} {} {}", meta.len(), mtime.as_secs(), mtime.subsec_nanos()).as_bytes());
        }
        for (dest, target) in &self.symlinks {
            h.write(dest.as_os_str().as_encoded_bytes());
            h.write(target.as_os_str().as_encoded_bytes());
        }
        for (dest, (content, mode)) in &self.written {
            h.write(dest.as_os_str().as_encoded_bytes());
            h.write(content.as_bytes());
            h.write(&mode.to_le_bytes());
        }
        for (dest, mode) in &self.dirs {
            h.write(dest.as_os_str().as_encoded_bytes());
            h.write(&mode.to_le_bytes());
        }
        for c in &self.changes {
            h.write(c.as_bytes());
        }
        h.write(self.bake.unwrap_or("").as_bytes());
        format!("{:016x}", h.0)
    }

    /// Lays the root filesystem out in a temp dir, tars it and `docker import`s it as `tag`.
    fn build(&self, tag: &str) {
        let tmp = tempfile::Builder::new().prefix("doctor-lab-image-").tempdir().expect("temp dir for an image");
        let root = tmp.path().join("rootfs");
        let at = |p: &Path| root.join(p.strip_prefix("/").unwrap_or(p));
        let mkparent = |p: &Path| {
            if let Some(parent) = p.parent() {
                fs::create_dir_all(parent).unwrap_or_else(|e| panic!("lab: mkdir {}: {e}", parent.display()));
            }
        };
        for (dest, src) in &self.files {
            let d = at(dest);
            mkparent(&d);
            fs::copy(src, &d).unwrap_or_else(|e| panic!("lab: copy {} to {}: {e}", src.display(), d.display()));
        }
        for (dest, target) in &self.symlinks {
            let d = at(dest);
            mkparent(&d);
            if !d.exists() {
                symlink(target, &d).unwrap_or_else(|e| panic!("lab: symlink {}: {e}", d.display()));
            }
        }
        for (dest, (content, mode)) in &self.written {
            let d = at(dest);
            mkparent(&d);
            fs::write(&d, content).unwrap_or_else(|e| panic!("lab: write {}: {e}", d.display()));
            fs::set_permissions(&d, fs::Permissions::from_mode(*mode)).expect("chmod");
        }
        for (dest, mode) in &self.dirs {
            let d = at(dest);
            fs::create_dir_all(&d).unwrap_or_else(|e| panic!("lab: mkdir {}: {e}", d.display()));
            fs::set_permissions(&d, fs::Permissions::from_mode(*mode)).expect("chmod");
        }
        let tarball = tmp.path().join("rootfs.tar");
        run_helper(
            Command::new("tar")
                .arg("-C")
                .arg(&root)
                .args(["--numeric-owner", "--owner=0", "--group=0", "-cf"])
                .arg(&tarball)
                .arg("."),
            IMPORT_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("lab: tar of the image root failed:\n{e}"));
        let mut args: Vec<String> = vec!["import".into()];
        for c in &self.changes {
            args.extend(["--change".into(), c.clone()]);
        }
        let Some(bake) = self.bake else {
            args.extend([tarball.display().to_string(), tag.to_owned()]);
            run_helper(&mut docker_cmd(&args), IMPORT_TIMEOUT)
                .unwrap_or_else(|e| panic!("lab: docker import of {tag} failed:\n{e}"));
            return;
        };
        let base = format!("{tag}-base");
        args.extend([tarball.display().to_string(), base.clone()]);
        run_helper(&mut docker_cmd(&args), IMPORT_TIMEOUT)
            .unwrap_or_else(|e| panic!("lab: docker import of {base} failed:\n{e}"));
        // Labelled like lab objects, so a sweep removes it if this process dies meanwhile.
        let builder = format!("dl-build-{}", random_hex(4));
        let owner = format!("doctor.lab.owner={}", owner_tag());
        let ran = run_helper(
            &mut docker_cmd(&["run", "--name", &builder, "--label", "doctor.lab=1", "--label", &owner, &base, bake]),
            IMPORT_TIMEOUT,
        );
        let committed = ran.and_then(|_| {
            let mut commit: Vec<String> = vec!["commit".into()];
            for c in &self.changes {
                commit.extend(["--change".into(), c.clone()]);
            }
            commit.extend([builder.clone(), tag.to_owned()]);
            run_helper(&mut docker_cmd(&commit), IMPORT_TIMEOUT)
        });
        let _ = docker(&["rm", "-f", &builder]);
        let _ = docker(&["rmi", &base]); // only the tag: the layer is the committed image's parent
        if let Err(e) = committed {
            panic!("lab: baking {tag} (`{bake}` in {base}, then docker commit) failed:\n{e}");
        }
    }
}

/// `None` unless `path` is a dynamically linked 64-bit little-endian ELF file (an executable
/// with an interpreter, or a shared library); `Some(interpreter)` (`None` for a library) if so.
fn elf_dynamic(path: &Path) -> Option<Option<PathBuf>> {
    use std::io::{Read, Seek, SeekFrom};
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    let mut f = fs::File::open(path).ok()?;
    let mut hdr = [0u8; 64];
    f.read_exact(&mut hdr).ok()?;
    if &hdr[..4] != b"\x7fELF" || hdr[4] != 2 || hdr[5] != 1 {
        return None;
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
    let (phoff, phentsize, phnum) = (u64_at(&hdr, 32), u16_at(&hdr, 54), u16_at(&hdr, 56));
    if phentsize < 56 {
        return None;
    }
    let mut ph = vec![0u8; phentsize * phnum];
    f.seek(SeekFrom::Start(phoff)).ok()?;
    f.read_exact(&mut ph).ok()?;
    let mut dynamic = false;
    let mut interp = None;
    for e in ph.chunks_exact(phentsize) {
        match u32::from_le_bytes(e[..4].try_into().expect("4 bytes")) {
            PT_DYNAMIC => dynamic = true,
            PT_INTERP => {
                let (off, size) = (u64_at(e, 8), u64_at(e, 32));
                let mut buf = vec![0u8; size.min(4096) as usize];
                f.seek(SeekFrom::Start(off)).ok()?;
                f.read_exact(&mut buf).ok()?;
                let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
                interp = Some(PathBuf::from(String::from_utf8_lossy(&buf[..end]).into_owned()));
            }
            _ => {}
        }
    }
    dynamic.then_some(interp)
}

/// Newest PostgreSQL under /usr/lib/postgresql: (major, /usr/lib/postgresql/<major>).
fn postgres_root() -> Option<(u32, PathBuf)> {
    fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            e.path().join("bin/postgres").is_file().then(|| (v, e.path()))
        })
        .max()
}
