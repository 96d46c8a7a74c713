//! `ssh://` engines the way the docker CLI reaches them: `ssh … host -- docker system
//! dial-stdio` carries the engine's API over the ssh session's stdin/stdout. bollard speaks to a
//! unix socket, so each engine gets a private socket in a 0700 directory of its own, and every
//! connection bollard opens on it is bridged to one `ssh` process. Those processes share one
//! ssh connection through a ControlMaster whose control socket sits in the same private
//! directory (no ControlPersist: the master ends with the last session, so nothing outlives
//! doctor). Plain threads do the copying, so the bridge does not depend on the runtime of the
//! caller that started it. `ssh` runs with `BatchMode=yes` (never a prompt) and a connect
//! timeout of the probe's own; what it says on a failed session is kept so that the engine's
//! error reads as ssh's reason, not as a closed socket.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where an `ssh://` URL points: `ssh://[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// Reads `ssh://[user@]host[:port]`; a path, query or password is refused, as by the docker CLI.
pub fn parse(url: &str) -> Result<SshTarget, String> {
    let u = url::Url::parse(url).map_err(|e| format!("not an ssh URL: {e}"))?;
    if u.scheme() != "ssh" {
        return Err("not an ssh URL".into());
    }
    if u.password().is_some() {
        return Err("a password in an ssh URL is not allowed; use a key".into());
    }
    if !matches!(u.path(), "" | "/") || u.query().is_some() {
        return Err("an ssh URL names only [user@]host[:port]".into());
    }
    let host = u.host_str().filter(|h| !h.is_empty()).ok_or("an ssh URL needs a host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let user = Some(u.username()).filter(|s| !s.is_empty()).map(str::to_string);
    Ok(SshTarget { user, host, port: u.port() })
}

/// The `ssh` client on `path` (a `PATH` value), when there is one.
pub fn client_on(path: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path)
        .map(|d| d.join("ssh"))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The arguments of one bridged session (without the program).
pub fn args(t: &SshTarget, connect_timeout: Duration, control: &Path) -> Vec<String> {
    let mut a = Vec::new();
    if let Some(p) = t.port {
        a.extend(["-p".to_string(), p.to_string()]);
    }
    if let Some(u) = &t.user {
        a.extend(["-l".to_string(), u.clone()]);
    }
    let secs = connect_timeout.as_secs().max(1);
    for o in [
        "BatchMode=yes".to_string(),
        format!("ConnectTimeout={secs}"),
        "ControlMaster=auto".to_string(),
        format!("ControlPath={}", control.display()),
    ] {
        a.extend(["-o".to_string(), o]);
    }
    a.extend(["-T".to_string(), t.host.clone(), "--".into(), "docker".into(), "system".into(), "dial-stdio".into()]);
    a
}

/// One engine's bridge: its private directory, socket, and what its sessions left.
struct Bridge {
    dir: PathBuf,
    socket: PathBuf,
    /// What the last failed ssh session wrote on stderr (scrubbed, cut short).
    last_error: Arc<Mutex<Option<String>>>,
    children: Arc<Mutex<Vec<Arc<Mutex<Child>>>>>,
}

static BRIDGES: Mutex<BTreeMap<String, Bridge>> = Mutex::new(BTreeMap::new());

/// The unix socket that reaches the engine of `url` (started at first use, then shared).
pub fn socket(url: &str, connect_timeout: Duration) -> Result<PathBuf, String> {
    let target = parse(url)?;
    let mut all = BRIDGES.lock().map_err(|_| "the ssh bridge is unusable".to_string())?;
    if let Some(b) = all.get(url) {
        return Ok(b.socket.clone());
    }
    let program = client_on(&std::env::var("PATH").unwrap_or_default()).ok_or("ssh:// needs the ssh client")?;
    let dir = private_dir()?;
    let socket = dir.join("docker.sock");
    let listener = UnixListener::bind(&socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    let bridge = Bridge {
        dir: dir.clone(),
        socket: socket.clone(),
        last_error: Arc::new(Mutex::new(None)),
        children: Arc::new(Mutex::new(Vec::new())),
    };
    let argv = args(&target, connect_timeout, &dir.join("cm"));
    let (last_error, children) = (bridge.last_error.clone(), bridge.children.clone());
    std::thread::Builder::new()
        .name("doctor-ssh-bridge".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { break };
                session(conn, &program, &argv, &last_error, &children);
            }
        })
        .map_err(|e| format!("cannot start the ssh bridge: {e}"))?;
    all.insert(url.to_string(), bridge);
    Ok(socket)
}

/// What the last failed ssh session to `url` said, if one failed.
pub fn last_error(url: &str) -> Option<String> {
    let all = BRIDGES.lock().ok()?;
    all.get(url)?.last_error.lock().ok()?.clone()
}

/// Ends every bridge: its ssh sessions killed, its directory removed. Called once doctor is done.
pub fn shutdown() {
    let Ok(mut all) = BRIDGES.lock() else { return };
    for (_, b) in std::mem::take(&mut *all) {
        for c in b.children.lock().map(|v| v.clone()).unwrap_or_default() {
            if let Ok(mut c) = c.lock() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&b.dir);
    }
}

fn private_dir() -> Result<PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    for n in 0..100u32 {
        let dir = base.join(format!("doctor-ssh-{}-{nanos:x}-{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        }
    }
    Err(format!("no private directory could be made in {}", base.display()))
}

/// Bridges one connection to one `ssh … docker system dial-stdio`. The connection is closed only
/// after a failed session's stderr is kept, so the caller's error can say why.
fn session(
    conn: UnixStream,
    program: &Path,
    argv: &[String],
    last_error: &Arc<Mutex<Option<String>>>,
    children: &Arc<Mutex<Vec<Arc<Mutex<Child>>>>>,
) {
    let spawned =
        Command::new(program).args(argv).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            if let Ok(mut l) = last_error.lock() {
                *l = Some(format!("{}: {e}", program.display()));
            }
            return;
        }
    };
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        return;
    };
    let child = Arc::new(Mutex::new(child));
    if let Ok(mut v) = children.lock() {
        v.retain(|c| c.lock().is_ok_and(|mut c| matches!(c.try_wait(), Ok(None))));
        v.push(child.clone());
    }
    let (Ok(mut from_conn), Ok(mut to_conn)) = (conn.try_clone(), conn.try_clone()) else { return };
    // bollard → engine: the request bytes; at its end, ssh's stdin is closed.
    std::thread::spawn(move || {
        let _ = copy_flushing(&mut from_conn, &mut stdin);
        drop(stdin);
    });
    let last_error = last_error.clone();
    std::thread::spawn(move || {
        let _ = copy_flushing(&mut stdout, &mut to_conn);
        // A session that failed ends at once; a master still serving other sessions does not,
        // and is not waited for.
        let mut status = None;
        for _ in 0..100 {
            status = child.lock().ok().and_then(|mut c| c.try_wait().ok().flatten());
            if status.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut said = String::new();
        if status.is_some_and(|s| !s.success()) {
            let _ = stderr.read_to_string(&mut said);
        }
        if !said.trim().is_empty() {
            let line = said.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
            let line: String = crate::redact::scrub(&line).chars().take(300).collect();
            if let Ok(mut l) = last_error.lock() {
                *l = Some(line);
            }
        }
        let _ = conn.shutdown(std::net::Shutdown::Both);
    });
}

fn copy_flushing(from: &mut impl Read, to: &mut impl Write) -> std::io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])?;
        to.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_user_host_and_port() {
        let t = parse("ssh://deploy@prod.example:2222").unwrap();
        assert_eq!(t, SshTarget { user: Some("deploy".into()), host: "prod.example".into(), port: Some(2222) });
        assert_eq!(parse("ssh://prod").unwrap(), SshTarget { user: None, host: "prod".into(), port: None });
        assert_eq!(parse("ssh://root@[::1]:22").unwrap().host, "::1");
        assert!(parse("ssh://u:pw@prod").unwrap_err().contains("password"));
        assert!(parse("ssh://prod/var/run/docker.sock").is_err());
    }

    #[test]
    fn a_session_is_batch_mode_with_the_port_and_user_as_options() {
        let t = parse("ssh://root@127.0.0.1:2201").unwrap();
        let a = args(&t, Duration::from_millis(2500), Path::new("/tmp/x/cm")).join(" ");
        assert_eq!(
            a,
            "-p 2201 -l root -o BatchMode=yes -o ConnectTimeout=2 -o ControlMaster=auto -o ControlPath=/tmp/x/cm \
             -T 127.0.0.1 -- docker system dial-stdio"
        );
    }

    #[test]
    fn the_client_is_looked_for_on_path() {
        let d = std::env::temp_dir().join(format!("doctor-ssh-path-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        assert_eq!(client_on(d.to_str().unwrap()), None);
        let ssh = d.join("ssh");
        std::fs::write(&ssh, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(client_on(&format!("/nonexistent:{}", d.display())), Some(ssh));
        let _ = std::fs::remove_dir_all(&d);
    }
}
