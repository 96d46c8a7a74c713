//! An OpenSSH server of the test's own on a free loopback port: its own host key, one
//! authorized key made for this run, no PAM and no passwords, all in a temp dir. The matching
//! client side is a `bin/ssh` wrapper that adds `-F` with that key and a known_hosts file of
//! the run, so that a program which runs plain `ssh` (doctor for `ssh://` engines) uses them
//! without touching `~/.ssh`. Needs root (sshd switches to the logged-in user) and the packages
//! openssh-server and openssh-client (scripts/test installs them).

use super::{free_port, require_or_skip};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub struct Sshd {
    pub port: u16,
    child: Child,
    dir: TempDir,
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("ssh-keygen");
    assert!(st.success(), "ssh-keygen failed");
}

impl Sshd {
    /// Starts sshd, or skips (None) when it cannot be had.
    pub fn start() -> Option<Sshd> {
        let have = Path::new("/usr/sbin/sshd").is_file() && which("ssh").is_some() && which("ssh-keygen").is_some();
        if !require_or_skip("openssh-server and openssh-client (sshd on loopback)", have) {
            return None;
        }
        if !require_or_skip("root (sshd on loopback logs in as the current user)", is_root()) {
            return None;
        }
        // The privilege-separation directory sshd insists on.
        let _ = std::fs::create_dir_all("/run/sshd");
        let dir = tempfile::Builder::new().prefix("doctor-sshd-").tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let port = free_port();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
                 PermitRootLogin prohibit-password\nPidFile {d}/sshd.pid\nMaxStartups 50\nMaxSessions 50\n\
                 LogLevel ERROR\n",
                d = d.display()
            ),
        )
        .unwrap();
        std::fs::write(
            d.join("ssh_config"),
            format!(
                "Host *\n  IdentityFile {d}/client_key\n  IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  \
                 StrictHostKeyChecking accept-new\n  LogLevel ERROR\n",
                d = d.display()
            ),
        )
        .unwrap();
        let bin = d.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let real = which("ssh").unwrap();
        write_exec(
            &bin.join("ssh"),
            &format!("#!/bin/sh\nexec {} -F {}/ssh_config \"$@\"\n", real.display(), d.display()),
        );
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
            .spawn()
            .expect("start sshd");
        let s = Sshd { port, child, dir };
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "sshd did not listen: {}", s.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(s)
    }

    /// A PATH whose `ssh` uses this server's key and known_hosts, then the usual PATH.
    pub fn client_path(&self) -> String {
        format!("{}:{}", self.dir.path().join("bin").display(), std::env::var("PATH").unwrap_or_default())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// The directory for files a test wants next to the server's.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_exec(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

pub fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
