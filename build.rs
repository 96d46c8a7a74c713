//! Stamps `--version` with the commit (`git rev-parse --short HEAD`, "unknown" outside a
//! checkout) and the build's UTC date, with no crate: a bug report then says which runbooks
//! were embedded. Re-runs only when HEAD moves, so ordinary builds stay incremental.

use std::process::Command;

// The crate's own calendar code (std only), not a second copy of it.
#[allow(dead_code)]
#[path = "src/clock.rs"]
mod clock;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

fn main() {
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let secs = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.parse::<i64>().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    });
    let date = clock::rfc3339(secs);
    println!("cargo:rustc-env=DOCTOR_COMMIT={commit}");
    println!("cargo:rustc-env=DOCTOR_BUILD_DATE={}", &date[..10]);
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/clock.rs");
    // HEAD, and the branch it points at (in a worktree both live in the common git dir).
    for p in [
        git(&["rev-parse", "--git-path", "HEAD"]),
        git(&["rev-parse", "--symbolic-full-name", "HEAD"]).and_then(|r| git(&["rev-parse", "--git-path", &r])),
        git(&["rev-parse", "--git-path", "packed-refs"]),
    ]
    .into_iter()
    .flatten()
    {
        if std::path::Path::new(&p).exists() {
            println!("cargo:rerun-if-changed={p}");
        }
    }
}
