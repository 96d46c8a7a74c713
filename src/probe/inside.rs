//! What the runbook reads inside a container with `docker exec`: the key files of auth-service
//! (`ls -la /app/keys/`) and the upload directory of admin-api (`df -h`, `ls -la /app/uploads/`),
//! with the user the process runs as. One fixed, read-only shell script per service, run as one
//! exec; its sections are parsed here, purely, so that every parse is unit-tested. A private
//! key is never read: only `ls` sees it (name, mode, owner, size). The public key is read, as
//! it is public, to compare it with the key auth-service serves in its JWKS.

use serde::{Deserialize, Serialize};

pub const KEYS_DIR: &str = "/app/keys";
pub const UPLOADS_DIR: &str = "/app/uploads";

/// The script for auth-service: who the process is, the key directory, the public key.
pub const KEYS_SCRIPT: &str = "echo @uid; id -u; echo @gids; id -G; echo @ls; ls -lna /app/keys/ 2>&1; \
echo @pub; head -c 16384 /app/keys/public_key.pem 2>&1; echo; echo @end";

/// The script for admin-api: who the process is, the upload directory and its filesystem, and
/// its two model caches (Docling's and EasyOCR's, where its own variables put them, else the
/// spec's `/tmp` paths): each one's path, then `ls -lnd` of it and of its parent.
pub const UPLOADS_SCRIPT: &str = "echo @uid; id -u; echo @gids; id -G; echo @dir; ls -lnd /app/uploads 2>&1; \
echo @df; df -P /app/uploads 2>&1; \
d=\"${DOCLING_CACHE_DIR:-/tmp/.docling_cache}\"; echo @docling; echo \"$d\"; ls -lnd \"$d\" \"${d%/*}/\" 2>&1; \
d=\"${EASYOCR_MODULE_PATH:-/tmp/.easyocr_models}\"; echo @easyocr; echo \"$d\"; ls -lnd \"$d\" \"${d%/*}/\" 2>&1; \
echo @end";

/// Docling's model cache when `DOCLING_CACHE_DIR` is not set (spec `03-admin-api/03`).
pub const DOCLING_CACHE: &str = "/tmp/.docling_cache";
/// EasyOCR's model directory when `EASYOCR_MODULE_PATH` is not set (spec `03-admin-api/04`).
pub const EASYOCR_MODELS: &str = "/tmp/.easyocr_models";

/// One entry of `ls -ln`: never a file's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    /// As `ls` prints it: `-rw-------`, `drwxr-xr-x`.
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
}

impl FileEntry {
    fn bit(&self, i: usize) -> bool {
        self.mode.as_bytes().get(i).is_some_and(|c| !matches!(c, b'-' | b'S' | b'T'))
    }
    /// Whether a process with `uid` and groups `gids` may write here (root may write anywhere).
    pub fn writable_by(&self, uid: u32, gids: &[u32]) -> bool {
        uid == 0
            || (self.uid == uid && self.bit(2))
            || (self.uid != uid && gids.contains(&self.gid) && self.bit(5))
            || (self.uid != uid && !gids.contains(&self.gid) && self.bit(8))
    }
    /// Whether anyone but the owner may read it.
    pub fn readable_by_others(&self) -> bool {
        self.bit(4) || self.bit(7)
    }
    pub fn is_dir(&self) -> bool {
        self.mode.starts_with('d')
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskFacts {
    pub mount: String,
    pub size_kb: u64,
    pub used_kb: u64,
    pub avail_kb: u64,
}

impl DiskFacts {
    /// Used share as `df` computes it (used / (used + available)).
    pub fn used_ratio(&self) -> f64 {
        let total = self.used_kb + self.avail_kb;
        if total == 0 { 0.0 } else { self.used_kb as f64 / total as f64 }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InsideFacts {
    /// Why nothing could be read (no `sh` in the image, exec refused, timed out).
    pub error: Option<String>,
    pub uid: Option<u32>,
    pub gids: Vec<u32>,
    /// `/app/keys/` listing; `Err` says why not (no such directory).
    pub keys: Option<Result<Vec<FileEntry>, String>>,
    /// The public key file: the fingerprint of its RSA modulus and its size in bits.
    pub public_key: Option<Result<(String, usize), String>>,
    /// `/app/uploads` itself; `Err` says why not.
    pub uploads: Option<Result<FileEntry, String>>,
    pub uploads_disk: Option<Result<DiskFacts, String>>,
    /// admin-api's model caches (`docling`, `easyocr`), as `ls -lnd` saw them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_caches: Vec<ModelCache>,
}

/// One model cache directory of admin-api: where it is, the directory itself (`Err`: why not,
/// usually that it does not exist yet) and its parent (where it would be created).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCache {
    /// `docling` or `easyocr`.
    pub engine: String,
    pub path: String,
    pub dir: Result<FileEntry, String>,
    pub parent: Option<FileEntry>,
}

/// The script to run inside a service's container, if the runbook looks inside it.
pub fn script_for(service: &str) -> Option<&'static str> {
    match service {
        "auth-service" => Some(KEYS_SCRIPT),
        "admin-api" => Some(UPLOADS_SCRIPT),
        _ => None,
    }
}

fn sections(text: &str) -> Vec<(&str, Vec<&str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(name) = line.strip_prefix('@').filter(|n| n.chars().all(|c| c.is_ascii_lowercase())) {
            out.push((name, Vec::new()));
        } else if let Some((_, lines)) = out.last_mut() {
            lines.push(line);
        }
    }
    out
}

/// Parses what a script printed.
pub fn parse(text: &str) -> InsideFacts {
    let mut f = InsideFacts::default();
    let secs = sections(text);
    if !secs.iter().any(|(n, _)| *n == "end") {
        f.error = Some(first_line(text).unwrap_or_else(|| "the script printed nothing".into()));
    }
    for (name, lines) in secs {
        let joined = || lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
        match name {
            "uid" => f.uid = joined().parse().ok(),
            "gids" => f.gids = joined().split_whitespace().filter_map(|g| g.parse().ok()).collect(),
            "ls" => f.keys = Some(parse_listing(&lines)),
            "pub" => {
                let text = lines.join("\n");
                f.public_key = Some(if text.contains("-----BEGIN") {
                    crate::jwt::pem_modulus(&text)
                } else {
                    Err(first_line(&text).unwrap_or_else(|| "empty".into()))
                })
            }
            "dir" => {
                f.uploads = Some(match parse_listing(&lines) {
                    Ok(mut v) if !v.is_empty() => Ok(v.remove(0)),
                    Ok(_) => Err(joined()),
                    Err(e) => Err(e),
                })
            }
            "df" => f.uploads_disk = Some(parse_df(&lines)),
            "docling" | "easyocr" => {
                if let Some(c) = parse_cache(name, &lines) {
                    f.model_caches.push(c);
                }
            }
            _ => {}
        }
    }
    f
}

/// A cache section: its path, then `ls -lnd` of it and of its parent (printed as `PARENT/`, so
/// the one listing ending in `/` is the parent); an error line about the path itself says why
/// the directory is not there.
fn parse_cache(engine: &str, lines: &[&str]) -> Option<ModelCache> {
    let path = lines.first()?.trim().to_string();
    if !path.starts_with('/') {
        return None;
    }
    let mut dir: Result<FileEntry, String> = Err("ls printed nothing".into());
    let mut parent = None;
    for l in &lines[1..] {
        match parse_listing(&[l]) {
            Ok(mut v) if !v.is_empty() => {
                let entry = v.remove(0);
                if l.trim_end().ends_with('/') {
                    parent = Some(entry);
                } else {
                    dir = Ok(entry);
                }
            }
            Err(e) if e.contains(&format!("{path}'")) || e.contains(&format!("{path}:")) => dir = Err(e),
            _ => {}
        }
    }
    Some(ModelCache { engine: engine.into(), path, dir, parent })
}

fn first_line(text: &str) -> Option<String> {
    text.lines().map(str::trim).find(|l| !l.is_empty()).map(|l| l.chars().take(200).collect())
}

/// `ls -ln` lines; an error line (`No such file or directory`) is the `Err`.
fn parse_listing(lines: &[&str]) -> Result<Vec<FileEntry>, String> {
    let mut out = Vec::new();
    let mut error = None;
    for l in lines {
        let parts: Vec<&str> = l.split_whitespace().collect();
        if l.starts_with("total ") || parts.is_empty() {
            continue;
        }
        // A character test, not a byte slice: the first word may start with any character.
        let mode_like = parts[0].len() >= 10 && parts[0].starts_with(['-', 'd', 'l', 'c', 'b', 'p', 's']);
        if !mode_like || parts.len() < 6 {
            error.get_or_insert_with(|| l.trim().chars().take(200).collect::<String>());
            continue;
        }
        // mode links uid gid size <date: 3 fields> name; busybox and GNU agree on the first five.
        let name = if parts.len() >= 9 { parts[8..].join(" ") } else { parts[parts.len() - 1].to_string() };
        let name = name.rsplit('/').next().unwrap_or(&name).to_string();
        if name == ".." {
            continue;
        }
        out.push(FileEntry {
            name,
            mode: parts[0].trim_end_matches(['.', '+']).to_string(),
            uid: parts[2].parse().unwrap_or(u32::MAX),
            gid: parts[3].parse().unwrap_or(u32::MAX),
            size: parts[4].parse().unwrap_or(0),
        });
    }
    match (out.is_empty(), error) {
        (true, Some(e)) => Err(e),
        _ => Ok(out),
    }
}

/// `df -P DIR`: a header, then `filesystem 1024-blocks used available capacity mount`.
fn parse_df(lines: &[&str]) -> Result<DiskFacts, String> {
    for l in lines {
        let p: Vec<&str> = l.split_whitespace().collect();
        if p.len() >= 6
            && let (Ok(size), Ok(used), Ok(avail)) = (p[1].parse(), p[2].parse(), p[3].parse())
        {
            return Ok(DiskFacts { mount: p[5..].join(" "), size_kb: size, used_kb: used, avail_kb: avail });
        }
    }
    Err(lines
        .iter()
        .map(|l| l.trim())
        .find(|l| !l.is_empty() && !l.starts_with("Filesystem"))
        .unwrap_or("no df output")
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_listing_and_identity() {
        let out = "@uid\n1000\n@gids\n1000 27\n@ls\ntotal 12\ndrwxr-xr-x    2 1000     1000          4096 Nov 29 10:00 .\n\
drwxr-xr-x    1 0        0             4096 Nov 29 10:00 ..\n-rw-------    1 1000     1000          1704 Nov 29 10:00 private_key.pem\n\
-rw-r--r--    1 1000     1000           451 Nov 29 10:00 public_key.pem\n@pub\nnot a key\n@end\n";
        let f = parse(out);
        assert_eq!((f.uid, f.gids.clone(), f.error.clone()), (Some(1000), vec![1000, 27], None));
        let keys = f.keys.unwrap().unwrap();
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, [".", "private_key.pem", "public_key.pem"]);
        assert_eq!(keys[1].mode, "-rw-------");
        assert!(!keys[1].readable_by_others());
        assert!(keys[2].readable_by_others());
        assert!(f.public_key.unwrap().is_err());
    }

    #[test]
    fn missing_directory_and_no_shell() {
        let f = parse(
            "@uid\n0\n@gids\n0\n@ls\nls: /app/keys/: No such file or directory\n@pub\nhead: /app/keys/public_key.pem: No such file or directory\n\n@end\n",
        );
        assert_eq!(f.keys, Some(Err("ls: /app/keys/: No such file or directory".into())));
        assert!(f.public_key.unwrap().unwrap_err().contains("No such file"));
        let f = parse("OCI runtime exec failed: exec: \"sh\": executable file not found in $PATH");
        assert!(f.error.unwrap().contains("executable file not found"));
    }

    #[test]
    fn model_caches_with_their_parents() {
        let f = parse(
            "@uid\n1000\n@gids\n1000\n@docling\n/tmp/.docling_cache\n\
drwxr-xr-x    2 0        0             4096 Nov 29 10:00 /tmp/.docling_cache\n\
drwxrwxrwt    1 0        0             4096 Nov 29 10:00 /tmp/\n\
@easyocr\n/models/easyocr\nls: cannot access '/models/easyocr': No such file or directory\n\
dr-xr-xr-x    2 0        0             4096 Nov 29 10:00 /models/\n@end\n",
        );
        assert_eq!(f.model_caches.len(), 2);
        let d = &f.model_caches[0];
        assert_eq!((d.engine.as_str(), d.path.as_str()), ("docling", "/tmp/.docling_cache"));
        let dir = d.dir.as_ref().unwrap();
        assert_eq!((dir.mode.as_str(), dir.uid), ("drwxr-xr-x", 0));
        assert!(!dir.writable_by(1000, &[1000]));
        assert!(d.parent.as_ref().unwrap().writable_by(1000, &[1000]), "/tmp is writable by all");
        let e = &f.model_caches[1];
        assert_eq!(e.path, "/models/easyocr");
        assert!(e.dir.as_ref().unwrap_err().contains("No such file"), "{:?}", e.dir);
        assert!(!e.parent.as_ref().unwrap().writable_by(1000, &[1000]));
        // Busybox words its error differently; a section without a path is dropped.
        let f = parse("@docling\n/c\nls: /c: No such file or directory\n@easyocr\n\n@end\n");
        assert_eq!(f.model_caches.len(), 1);
        assert_eq!(f.model_caches[0].dir, Err("ls: /c: No such file or directory".into()));
        assert_eq!(f.model_caches[0].parent, None);
    }

    #[test]
    fn uploads_dir_and_df() {
        let f = parse(
            "@uid\n1000\n@gids\n1000\n@dir\ndrwxr-xr-x    2 0        0             4096 Nov 29 10:00 /app/uploads\n@df\n\
Filesystem           1024-blocks    Used Available Capacity Mounted on\noverlay               1000000    990000     10000  99% /\n@end\n",
        );
        let dir = f.uploads.unwrap().unwrap();
        assert_eq!((dir.name.as_str(), dir.uid, dir.is_dir()), ("uploads", 0, true));
        assert!(!dir.writable_by(1000, &[1000]), "root-owned 755: the app user may not write");
        assert!(dir.writable_by(0, &[0]));
        let disk = f.uploads_disk.unwrap().unwrap();
        assert_eq!(disk.mount, "/");
        assert!(disk.used_ratio() > 0.98);
        let f = parse(
            "@uid\n1000\n@gids\n1000\n@dir\nls: /app/uploads: No such file or directory\n@df\ndf: /app/uploads: No such file or directory\n@end\n",
        );
        assert!(f.uploads.unwrap().is_err());
        assert!(f.uploads_disk.unwrap().unwrap_err().contains("No such file"));
    }

    #[test]
    fn write_permission_by_group_and_others() {
        let e = |mode: &str, uid, gid| FileEntry { name: "d".into(), mode: mode.into(), uid, gid, size: 0 };
        assert!(e("drwxrwxr-x", 0, 50).writable_by(1000, &[50]));
        assert!(!e("drwxr-xr-x", 0, 50).writable_by(1000, &[50]));
        assert!(e("drwxrwxrwx", 0, 0).writable_by(1000, &[1000]));
        assert!(!e("dr-xr-xr-x", 1000, 1000).writable_by(1000, &[1000]));
    }
}
