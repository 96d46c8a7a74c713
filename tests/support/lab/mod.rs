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
//! Images are made here, with no registry, from the host's own binaries: see [`image`] (in
//! `image.rs`) for what each holds and how its tag is computed.
//!
//! **Cleanup.** Each [`Lab`] has a unique prefix `dl-<6 hex>`; every container and network it
//! makes is named `<prefix>-<short name>` and labelled `doctor.lab=1`,
//! `doctor.lab.run=<prefix>` and `doctor.lab.owner=<pid>:<start time>`. Dropping the lab
//! removes them (`docker rm -f -v`, `docker network rm`). If the test process dies without
//! dropping it, a reaper (`sh` waiting for EOF on a pipe, like the servers' reapers in
//! `support/mod.rs`) removes them; and the first `Lab::new` of a process sweeps lab objects
//! whose owner process is gone (objects of a concurrently running test process are left alone).
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
//!
//! Split by job: this file is the lab itself (the docker CLI with its limits, one test's
//! containers and networks and their cleanup, the host-side clients); `image.rs` makes the
//! images the lab runs, and the shell entrypoints of those images are real files beside it
//! (`postgres-entrypoint.sh`, `redis-entrypoint.sh`) that shellcheck can read.

mod image;

use image::busybox_path;

// Each test crate uses its own part of the lab; the rest is unused there.
#[allow(unused_imports)]
pub use image::{Image, find_or_build_image, image};

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::pg::pg_bins;
use super::redis::redis_bins;
use super::{Output, process_alive, random_hex, require_or_skip, run_helper, which};

/// Limit for one ordinary docker CLI call (create, exec, inspect, rm ...).
const DOCKER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the `wait_*` methods wait before panicking.
const WAIT_TIMEOUT: Duration = Duration::from_secs(60);
/// Poll interval of the `wait_*` methods (each poll is one docker CLI call, ~30-100 ms of CPU).
const WAIT_POLL: Duration = Duration::from_millis(150);

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

unsafe extern "C" {
    fn flock(fd: i32, operation: i32) -> i32;
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
    // Volumes have a name, not an ID.
    let list = |what: &[&str]| -> Vec<String> {
        let mut args = what.to_vec();
        let id = if what[0] == "volume" { "{{.Name}}" } else { "{{.ID}}" };
        let format = format!("{id}\t{{{{.Label \"doctor.lab.owner\"}}}}");
        args.extend(["--filter", "label=doctor.lab=1", "--format", &format]);
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
    let volumes = list(&["volume", "ls"]);
    if !volumes.is_empty() {
        eprintln!("lab: removing {} leftover volume(s)", volumes.len());
        let mut args = vec!["volume".to_owned(), "rm".into(), "-f".into()];
        args.extend(volumes);
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
    /// `-v` values, e.g. `"/lib64:/lib64:ro"` (host files a container of the test's own needs).
    pub volumes: Vec<String>,
    /// `--log-driver` (e.g. `json-file`) and its `--log-opt` values (`max-size=10m`).
    pub log_driver: Option<String>,
    pub log_opts: Vec<String>,
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
    volumes: Mutex<Vec<String>>,
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
            volumes: Mutex::default(),
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

    /// Creates the named volume `<prefix>-<short>` with the lab's labels and `docker volume
    /// create` options (`--driver local --opt type=tmpfs ...`); removed with the lab, after its
    /// containers.
    pub fn volume(&self, short: &str, opts: &[&str]) -> String {
        let full = self.name(short);
        let mut args = vec!["volume".to_owned(), "create".into()];
        args.extend(self.label_args());
        args.extend(opts.iter().map(|o| o.to_string()));
        args.push(full.clone());
        self.volumes.lock().unwrap_or_else(PoisonError::into_inner).push(full.clone());
        docker_ok(&args);
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
        for v in &spec.volumes {
            args.extend(["-v".into(), v.clone()]);
        }
        for t in &spec.tmpfs {
            args.extend(["--tmpfs".into(), t.clone()]);
        }
        if let Some(d) = &spec.log_driver {
            args.extend(["--log-driver".into(), d.clone()]);
        }
        for o in &spec.log_opts {
            args.extend(["--log-opt".into(), o.clone()]);
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
        let volumes = std::mem::take(&mut *self.volumes.lock().unwrap_or_else(PoisonError::into_inner));
        if !volumes.is_empty() {
            let mut args = vec!["volume".to_owned(), "rm".into(), "-f".into()];
            args.extend(volumes);
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
vols=$(timeout 60 "$docker" volume ls -q --filter "label=doctor.lab.run=$run")
[ -n "$vols" ] && timeout 60 "$docker" volume rm -f $vols
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
