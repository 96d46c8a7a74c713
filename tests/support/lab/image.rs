//! The lab's images.
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
//! A file of its own because making an image (the recipe of each kind, its hash, the root
//! filesystem, the import and the bake) is a job apart from running containers; the two
//! entrypoints are `.sh` files beside this one, pulled in with `include_str!`.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, UNIX_EPOCH};

use super::super::{random_hex, run_helper, run_with_timeout, which};
use super::{DOCKER_TIMEOUT, docker, docker_cmd, flock, owner_tag};

/// Limit for `docker import` of an image tarball.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(300);
/// Serializes image builds across threads and processes.
const IMAGE_LOCK: &str = "/tmp/doctor-lab-images.lock";
const BASE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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

pub(super) fn busybox_path() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .map(PathBuf::from)
        .into_iter()
        .find(|p| p.is_file())
        .or_else(|| which("busybox"))
}

/// Exclusive flock on [`IMAGE_LOCK`] while alive.
struct ImageLock(#[allow(dead_code)] fs::File);

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

/// The postgres image's `/entrypoint.sh`; a shell file of its own so that shellcheck can read
/// it. Part of the recipe's hash: an unchanged text keeps the cached image.
const POSTGRES_ENTRYPOINT: &str = include_str!("postgres-entrypoint.sh");

/// The redis image's `/entrypoint.sh` (see [`POSTGRES_ENTRYPOINT`]).
const REDIS_ENTRYPOINT: &str = include_str!("redis-entrypoint.sh");

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
        let out = run_with_timeout(
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
