//! The engine's own disk (issue 15, DK003): the filesystem under its data root
//! (`DockerRootDir`), what `docker system df` counts (images, containers, volumes, build cache,
//! and how much of it a prune would free), the filesystems of the stack's volumes, and how much
//! each container's log files take. Read-only; nothing is pruned, written or removed.
//!
//! Shaped by what can be seen from where doctor stands: a filesystem is measured with
//! `statvfs` only when the engine listens on a unix socket of this host, and only after the
//! data root is shown to hold the stack's containers (doctor in a container with the socket
//! mounted sees another filesystem under that path); a remote engine's disk is said to be
//! unseen, never guessed. `/system/df` changed shape in API 1.52 (bollard's model is the new
//! one, and bollard sends no API version): over a local socket the answer is read raw and both
//! shapes are understood; elsewhere bollard's model is used. `df` walks every volume and can be
//! slow, so it runs beside the rest of the look and ends at the run's deadline like every call.

use super::DockerFacts;
use crate::probe::{error_chain, until};
use crate::redact;
use bollard::Docker;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// A filesystem's size as `statvfs` gives it, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Space {
    pub total: u64,
    /// Free blocks, those reserved for root included.
    pub free: u64,
    /// Free to an unprivileged writer (PostgreSQL, the APIs).
    pub avail: u64,
}

impl Space {
    /// The share used, as `df` shows it: used over what an unprivileged writer could ever use.
    pub fn used_ratio(&self) -> f64 {
        let used = self.total.saturating_sub(self.free);
        let usable = used + self.avail;
        if usable == 0 { 0.0 } else { used as f64 / usable as f64 }
    }
}

/// What `docker system df` shows, in bytes; a figure the engine did not give is `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskUsage {
    pub images: Option<u64>,
    /// Images no container uses: what `docker image prune -a` (and `system prune -a`) frees.
    pub images_reclaimable: Option<u64>,
    /// The containers' writable layers.
    pub containers: Option<u64>,
    /// Those of stopped containers: what `docker container prune` frees.
    pub containers_reclaimable: Option<u64>,
    pub volumes: Option<u64>,
    /// Volumes no container uses (`docker volume prune` deletes their data).
    pub volumes_reclaimable: Option<u64>,
    pub build_cache: Option<u64>,
    /// Build cache not in use: what `docker builder prune` frees.
    pub build_cache_reclaimable: Option<u64>,
}

/// A volume mounted by the stack's containers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VolumeDisk {
    pub name: String,
    pub driver: Option<String>,
    /// The stack's containers that mount it.
    pub used_by: Vec<String>,
    /// The filesystem under its mountpoint; `Err` says why it was not measured.
    pub space: Option<Result<Space, String>>,
    /// Its mountpoint is on the data root's filesystem (judged with the data root, then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_data_root: Option<bool>,
}

/// The engine's disk as doctor saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineDisk {
    /// The engine listens on a unix socket of this host: its filesystems can be measured here.
    pub local: bool,
    /// `DockerRootDir` from the engine's info; `Err`: why it is not known.
    pub root_dir: Result<String, String>,
    /// The filesystem under the data root; `None` when the engine is on another host.
    pub root_space: Option<Result<Space, String>>,
    /// `docker system df`; `Err`: why it is not known.
    pub usage: Result<DiskUsage, String>,
    pub volumes: Vec<VolumeDisk>,
}

/// A container's logs against its driver's limits (`HostConfig.LogConfig`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogVolume {
    pub driver: String,
    /// `max-size` in bytes; `None`: none set (for json-file, no limit at all).
    pub max_size: Option<u64>,
    pub max_file: Option<u32>,
    /// The log files' size on disk (`LogPath` and its rotated files), when they could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// The `local` driver's limits when none is set (docker's documentation: 20m × 5).
pub const LOCAL_DEFAULT_MAX_SIZE: u64 = 20 << 20;
pub const LOCAL_DEFAULT_MAX_FILE: u32 = 5;

impl LogVolume {
    /// The driver writes files under the data root with no size limit: json-file without
    /// `max-size` (or `max-size=-1`). `local` has a default limit; other drivers send their logs
    /// elsewhere.
    pub fn unbounded(&self) -> bool {
        self.driver == "json-file" && self.max_size.is_none()
    }
    /// The most its files may take on disk, when bounded.
    pub fn cap(&self) -> Option<u64> {
        match self.driver.as_str() {
            "json-file" => self.max_size.map(|s| s * u64::from(self.max_file.unwrap_or(1).max(1))),
            "local" => Some(
                self.max_size.unwrap_or(LOCAL_DEFAULT_MAX_SIZE)
                    * u64::from(self.max_file.unwrap_or(LOCAL_DEFAULT_MAX_FILE).max(1)),
            ),
            _ => None,
        }
    }
}

/// The log configuration of an inspect (`HostConfig.LogConfig`); the size comes later.
pub fn log_config(c: &bollard::models::ContainerInspectResponse) -> Option<LogVolume> {
    let lc = c.host_config.as_ref()?.log_config.as_ref()?;
    let driver = lc.typ.clone().filter(|t| !t.is_empty())?;
    let opts = lc.config.clone().unwrap_or_default();
    Some(LogVolume {
        driver,
        max_size: opts.get("max-size").and_then(|s| parse_size(s)),
        max_file: opts.get("max-file").and_then(|s| s.trim().parse().ok()).filter(|n| *n > 0),
        bytes: None,
    })
}

/// A size as docker's log drivers read `max-size` (`units.RAMInBytes`): `10m`, `1g`, `100k`,
/// `512`, `1.5GiB`; binary multiples. `-1` (no limit) and anything unreadable are `None`.
pub fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let t = t.strip_suffix('i').unwrap_or(t);
    let (num, mult) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1u64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        'g' => (&t[..t.len() - 1], 1 << 30),
        't' => (&t[..t.len() - 1], 1 << 40),
        'p' => (&t[..t.len() - 1], 1 << 50),
        _ => (t, 1),
    };
    let n: f64 = num.trim().parse().ok()?;
    (n.is_finite() && n > 0.0).then_some((n * mult as f64) as u64)
}

/// The size of a container's log files: `LogPath`, then `LogPath.1`… and `LogPath.N.gz`.
/// `None` when the first cannot be read (another host, no permission, another driver).
pub fn log_bytes(log_path: &str, max_file: Option<u32>) -> Option<u64> {
    if log_path.is_empty() {
        return None;
    }
    let mut total = std::fs::metadata(log_path).ok()?.len();
    for i in 1..max_file.unwrap_or(1).clamp(1, 100) {
        for name in [format!("{log_path}.{i}"), format!("{log_path}.{i}.gz")] {
            total += std::fs::metadata(name).map(|m| m.len()).unwrap_or(0);
        }
    }
    Some(total)
}

/// `statvfs` of a path, through libc (already in the tree; std has no safe wrapper).
// The casts are no-ops on 64-bit Linux, not on every target (`c_ulong`, `fsblkcnt_t`).
#[allow(clippy::unnecessary_cast)]
pub fn statvfs(path: &str) -> Result<Space, String> {
    let c = std::ffi::CString::new(path).map_err(|_| format!("{path}: not a path"))?;
    let mut s = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a NUL-terminated path and `s` a buffer of the size statvfs writes; it is
    // read only when the call says it filled it.
    let rc = unsafe { libc::statvfs(c.as_ptr(), s.as_mut_ptr()) };
    if rc != 0 {
        return Err(format!("{path}: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: statvfs returned 0, so it wrote the whole struct.
    let s = unsafe { s.assume_init() };
    let unit = if s.f_frsize > 0 { s.f_frsize as u64 } else { s.f_bsize as u64 };
    Ok(Space {
        total: (s.f_blocks as u64).saturating_mul(unit),
        free: (s.f_bfree as u64).saturating_mul(unit),
        avail: (s.f_bavail as u64).saturating_mul(unit),
    })
}

/// [`statvfs`] off the runtime's threads and under the deadline: a volume's filesystem may be
/// a network mount that does not answer.
async fn statvfs_until(path: &str, deadline: Instant) -> Result<Space, String> {
    let p = path.to_string();
    match until(deadline, tokio::task::spawn_blocking(move || statvfs(&p))).await {
        None => Err(format!("{path}: statvfs did not answer in time")),
        Some(Err(e)) => Err(format!("{path}: {e}")),
        Some(Ok(r)) => r,
    }
}

fn device(path: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.dev())
}

/// What the stack's containers tell the disk look: each one's full id (to show the data root
/// is the engine's) and name, and the volumes it mounts.
pub struct Mounted {
    pub id: String,
    pub name: String,
    pub volumes: Vec<String>,
}

/// The engine's disk: its info, `df` and every stack volume's inspect at once, each under the
/// deadline; `socket` is the engine's unix socket when it is on this host.
pub async fn gather(docker: &Docker, socket: Option<&str>, mounted: &[Mounted], deadline: Instant) -> EngineDisk {
    let info = async {
        match until(deadline, docker.info()).await {
            None => Err("the engine did not answer /info in time".to_string()),
            Some(Err(e)) => Err(redact::scrub(&error_chain(&e))),
            Some(Ok(i)) => i
                .docker_root_dir
                .filter(|d| !d.is_empty())
                .ok_or_else(|| "the engine's /info names no DockerRootDir".to_string()),
        }
    };
    let df = async {
        match socket {
            Some(sock) => match until(deadline, raw_get(sock, "/system/df")).await {
                None => Err("`docker system df` did not answer in time".to_string()),
                Some(Err(e)) => Err(e),
                Some(Ok(body)) => {
                    serde_json::from_slice::<Value>(&body).map(|v| usage_of(&v)).map_err(|e| format!("/system/df: {e}"))
                }
            },
            None => match until(deadline, docker.df(None)).await {
                None => Err("`docker system df` did not answer in time".to_string()),
                Some(Err(e)) => Err(redact::scrub(&error_chain(&e))),
                Some(Ok(r)) => {
                    let v = serde_json::to_value(&r).unwrap_or_default();
                    let u = usage_of(&v);
                    if u == DiskUsage::default() {
                        Err("the engine answers /system/df in the form of API 1.51 or older, which doctor reads only over a local socket".to_string())
                    } else {
                        Ok(u)
                    }
                }
            },
        }
    };
    let mut names: Vec<String> = mounted.iter().flat_map(|m| m.volumes.iter().cloned()).collect();
    names.sort();
    names.dedup();
    let inspects = futures_util::future::join_all(
        names.iter().map(|n| async move { (n.clone(), until(deadline, docker.inspect_volume(n)).await) }),
    );
    let (root_dir, usage, inspected) = tokio::join!(info, df, inspects);
    let local = socket.is_some();
    let root_space = match (&root_dir, local) {
        (_, false) => None,
        (Err(e), true) => Some(Err(e.clone())),
        (Ok(root), true) => Some(root_space(root, mounted, deadline).await),
    };
    let root_dev = root_dir.as_ref().ok().filter(|_| local).and_then(|r| device(r));
    let seen_root = matches!(root_space, Some(Ok(_)));
    let volumes = futures_util::future::join_all(inspected.into_iter().map(|(name, ins)| async move {
        let used_by = mounted.iter().filter(|m| m.volumes.contains(&name)).map(|m| m.name.clone()).collect::<Vec<_>>();
        let mut v = VolumeDisk { name: name.clone(), used_by, ..Default::default() };
        match ins {
            None => v.space = Some(Err("the engine did not answer the volume's inspect in time".into())),
            Some(Err(e)) => v.space = Some(Err(redact::scrub(&error_chain(&e)))),
            Some(Ok(vol)) => {
                v.driver = Some(vol.driver.clone()).filter(|d| !d.is_empty());
                if local && vol.driver == "local" && seen_root {
                    v.space = Some(statvfs_until(&vol.mountpoint, deadline).await);
                    v.on_data_root = match (root_dev, device(&vol.mountpoint)) {
                        (Some(a), Some(b)) => Some(a == b),
                        _ => None,
                    };
                } else if local && vol.driver == "local" {
                    v.space = Some(Err("the data root was not seen from here".into()));
                } else if local {
                    v.space = Some(Err(format!("volume driver {:?} keeps its data elsewhere", vol.driver)));
                }
            }
        }
        v
    }))
    .await;
    EngineDisk { local, root_dir, root_space, usage, volumes }
}

/// The data root's filesystem, once the path is shown to be the engine's: it holds the
/// directory of one of the stack's containers, or is closed to this user as dockerd makes it
/// (mode 710 root; a member of the docker group may not look in). Doctor in a container with
/// the socket mounted sees no such directory, or another one.
async fn root_space(root: &str, mounted: &[Mounted], deadline: Instant) -> Result<Space, String> {
    if !Path::new(root).is_dir() {
        return Err(format!("{root} is not a directory here: doctor is not on the engine's filesystem"));
    }
    let ids: Vec<&str> = mounted.iter().map(|m| m.id.as_str()).filter(|i| !i.is_empty()).collect();
    let looks: Vec<std::io::Result<std::fs::Metadata>> =
        ids.iter().map(|i| std::fs::metadata(Path::new(root).join("containers").join(i))).collect();
    let holds = looks.iter().any(|l| l.as_ref().is_ok_and(|m| m.is_dir()));
    let closed = looks.iter().any(|l| l.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied));
    if !ids.is_empty() && !holds && !closed {
        return Err(format!(
            "{root} here holds none of the stack's containers: doctor is not on the engine's filesystem"
        ));
    }
    statvfs_until(root, deadline).await
}

/// `docker system df` in either of its shapes: API 1.52's `ImageUsage`/`ContainerUsage`/
/// `VolumeUsage`/`BuildCacheUsage` totals, or the older lists (`LayersSize`, `Images`,
/// `Containers`, `Volumes`, `BuildCache`), summed as the docker CLI sums them.
pub fn usage_of(v: &Value) -> DiskUsage {
    let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64).filter(|x| *x >= 0).map(|x| x as u64);
    let mut u = DiskUsage::default();
    let newer = |key: &str| v.get(key).filter(|x| x.is_object());
    if let Some(i) = newer("ImageUsage") {
        (u.images, u.images_reclaimable) = (n(i, "TotalSize"), n(i, "Reclaimable"));
    }
    if let Some(c) = newer("ContainerUsage") {
        (u.containers, u.containers_reclaimable) = (n(c, "TotalSize"), n(c, "Reclaimable"));
    }
    if let Some(vo) = newer("VolumeUsage") {
        (u.volumes, u.volumes_reclaimable) = (n(vo, "TotalSize"), n(vo, "Reclaimable"));
    }
    if let Some(b) = newer("BuildCacheUsage") {
        (u.build_cache, u.build_cache_reclaimable) = (n(b, "TotalSize"), n(b, "Reclaimable"));
    }
    let list = |key: &str| v.get(key).and_then(Value::as_array);
    if u.images.is_none()
        && let Some(layers) = n(v, "LayersSize")
    {
        // The CLI: what images in use hold (less what they share) is not reclaimable.
        let used: u64 = list("Images")
            .into_iter()
            .flatten()
            .filter(|i| i.get("Containers").and_then(Value::as_i64).unwrap_or(0) > 0)
            .map(|i| n(i, "Size").unwrap_or(0).saturating_sub(n(i, "SharedSize").unwrap_or(0)))
            .sum();
        u.images = Some(layers);
        u.images_reclaimable = Some(layers.saturating_sub(used));
    }
    if u.containers.is_none()
        && let Some(cs) = list("Containers")
    {
        let rw = |c: &Value| n(c, "SizeRw").unwrap_or(0);
        u.containers = Some(cs.iter().map(rw).sum());
        u.containers_reclaimable =
            Some(cs.iter().filter(|c| c.get("State").and_then(Value::as_str) != Some("running")).map(rw).sum());
    }
    if u.volumes.is_none()
        && let Some(vs) = list("Volumes")
    {
        let size = |x: &Value| x.get("UsageData").and_then(|d| n(d, "Size")).unwrap_or(0);
        let unused = |x: &Value| x.get("UsageData").and_then(|d| d.get("RefCount")).and_then(Value::as_i64) == Some(0);
        u.volumes = Some(vs.iter().map(size).sum());
        u.volumes_reclaimable = Some(vs.iter().filter(|x| unused(x)).map(size).sum());
    }
    if u.build_cache.is_none()
        && let Some(bs) = list("BuildCache")
    {
        let flag = |b: &Value, k: &str| b.get(k).and_then(Value::as_bool).unwrap_or(false);
        let size = |b: &Value| n(b, "Size").unwrap_or(0);
        u.build_cache = Some(bs.iter().filter(|b| !flag(b, "Shared")).map(size).sum());
        u.build_cache_reclaimable = Some(bs.iter().filter(|b| !flag(b, "Shared") && !flag(b, "InUse")).map(size).sum());
    }
    u
}

/// The most of an answer read (a `df` of a large engine lists every image and container).
const BODY_CAP: usize = 64 << 20;

/// One GET over the engine's unix socket, HTTP/1.0 so that the answer is plain and ends with
/// the connection; the body when the status is 200.
async fn raw_get(socket: &str, path: &str) -> Result<Vec<u8>, String> {
    let mut s = tokio::net::UnixStream::connect(socket).await.map_err(|e| format!("{socket}: {e}"))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n").as_bytes())
        .await
        .map_err(|e| format!("{socket}: {e}"))?;
    let mut buf = Vec::new();
    (&mut s).take(BODY_CAP as u64).read_to_end(&mut buf).await.map_err(|e| format!("{socket}: {e}"))?;
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| format!("{path}: no HTTP answer"))?;
    let head = String::from_utf8_lossy(&buf[..end]);
    let status = head.lines().next().unwrap_or("");
    if status.split_whitespace().nth(1) != Some("200") {
        let body = String::from_utf8_lossy(&buf[end + 4..]);
        return Err(redact::scrub(&format!("{path}: {status}: {}", body.trim())));
    }
    Ok(buf[end + 4..].to_vec())
}

/// Each container's log size, from the `LogPath` of its inspect (`(name, path)`); only for an
/// engine on this host.
pub fn apply_log_sizes(facts: &mut DockerFacts, log_paths: &[(String, String)]) {
    for c in facts.containers.iter_mut().filter_map(|l| l.container.as_mut()) {
        let Some(lv) = c.log_volume.as_mut() else { continue };
        if let Some((_, path)) = log_paths.iter().find(|(name, _)| *name == c.name) {
            lv.bytes = log_bytes(path, lv.max_file);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_docker_reads_max_size() {
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("100k"), Some(100 << 10));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("1.5GiB"), Some(3 << 29));
        assert_eq!(parse_size("20MB"), Some(20 << 20));
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("lots"), None);
    }

    #[test]
    fn only_json_file_without_max_size_is_unbounded() {
        let lv = |d: &str, s: Option<u64>, f: Option<u32>| LogVolume {
            driver: d.into(),
            max_size: s,
            max_file: f,
            bytes: None,
        };
        assert!(lv("json-file", None, None).unbounded());
        assert!(!lv("json-file", Some(10 << 20), Some(3)).unbounded());
        assert_eq!(lv("json-file", Some(10 << 20), Some(3)).cap(), Some(30 << 20));
        assert!(!lv("local", None, None).unbounded());
        assert_eq!(lv("local", None, None).cap(), Some(100 << 20));
        assert!(!lv("journald", None, None).unbounded());
    }

    #[test]
    fn both_shapes_of_system_df_are_read() {
        let newer = serde_json::json!({
            "ImageUsage": {"TotalSize": 1000, "Reclaimable": 600},
            "ContainerUsage": {"TotalSize": 50, "Reclaimable": 10},
            "VolumeUsage": {"TotalSize": 300, "Reclaimable": 0},
            "BuildCacheUsage": {"TotalSize": 200, "Reclaimable": 150}
        });
        let u = usage_of(&newer);
        assert_eq!((u.images, u.images_reclaimable, u.build_cache_reclaimable), (Some(1000), Some(600), Some(150)));
        let older = serde_json::json!({
            "LayersSize": 1000,
            "Images": [{"Size": 700, "SharedSize": 100, "Containers": 1}, {"Size": 400, "SharedSize": -1, "Containers": 0}],
            "Containers": [{"SizeRw": 30, "State": "running"}, {"SizeRw": 20, "State": "exited"}],
            "Volumes": [{"UsageData": {"Size": 300, "RefCount": 1}}, {"UsageData": {"Size": -1, "RefCount": 0}}],
            "BuildCache": [{"Size": 100, "InUse": false, "Shared": false}, {"Size": 50, "InUse": true, "Shared": false}]
        });
        let u = usage_of(&older);
        assert_eq!((u.images, u.images_reclaimable), (Some(1000), Some(400)));
        assert_eq!((u.containers, u.containers_reclaimable), (Some(50), Some(20)));
        assert_eq!((u.volumes, u.volumes_reclaimable), (Some(300), Some(0)));
        assert_eq!((u.build_cache, u.build_cache_reclaimable), (Some(150), Some(100)));
        assert_eq!(usage_of(&serde_json::json!({"odd": true})), DiskUsage::default());
    }

    #[test]
    fn used_share_is_what_df_shows() {
        let s = Space { total: 100, free: 10, avail: 5 };
        assert!((s.used_ratio() - 90.0 / 95.0).abs() < 1e-9);
        assert_eq!(Space::default().used_ratio(), 0.0);
        assert!(statvfs("/").is_ok());
        assert!(statvfs("/no/such/dir").is_err());
    }
}
