//! The README's commands, run as a newcomer would type them (a debug build standing in for
//! `--release`): if `cargo run -- all` stops choosing doctor, or the README's CI step stops
//! parsing, this fails instead of the first person who tries it. The CI step itself runs
//! against a healthy stack in `tests/spec_lab.rs`.

mod support;

use std::path::Path;
use std::process::Command;

/// Every `cargo run ...` line of the README's code blocks, as written.
fn cargo_run_lines() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut in_code = false;
    let mut lines = Vec::new();
    for line in readme.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        let l = line.trim();
        if in_code && l.starts_with("cargo run") {
            lines.push(l.to_string());
        }
    }
    lines
}

/// A `cargo run` line as the test runs it: words split as a shell would (no quotes in these
/// lines), `--release` dropped, and everything from a redirection on cut.
pub fn as_debug_args(line: &str) -> Vec<String> {
    line.split_whitespace()
        .skip(1)
        .take_while(|w| !w.starts_with('>') && *w != "|")
        .filter(|w| *w != "--release")
        .map(str::to_string)
        .collect()
}

/// The README's CI commands: every `doctor all ... --format junit` line of its CI section
/// (a YAML `run:` key or list dash in front taken off), GitHub's first, then GitLab's.
pub fn ci_step_lines() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    readme[readme.find("## In CI").expect("the README's CI section")..]
        .lines()
        .map(|l| l.trim().trim_start_matches("- ").trim_start_matches("run: ").trim())
        .filter(|l| l.starts_with("doctor all") && l.contains("--format junit"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_readme_shows_how_to_run_doctor_and_in_ci() {
    let lines = cargo_run_lines();
    assert!(lines.iter().any(|l| l == "cargo run --release -- all"), "{lines:#?}");
    let ci = ci_step_lines();
    assert_eq!(ci.len(), 2, "the GitHub Actions and GitLab steps: {ci:#?}");
    // GitLab's job reaches the stack through the dind service's host name.
    assert!(ci[1].contains("--service-host docker"), "{ci:#?}");
    // Neither builds doctor: both install an artifact.
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let ci_section = &readme[readme.find("## In CI").unwrap()..];
    let ci_section = &ci_section[..ci_section[3..].find("\n## ").map_or(ci_section.len(), |i| i + 3)];
    assert!(!ci_section.contains("cargo "), "a CI recipe builds doctor:\n{ci_section}");
    assert!(ci_section.contains("scripts/install") && ci_section.contains("/doctor@v"), "{ci_section}");
}

/// The GitHub Actions step as written, with the binary the composite action installs (here the
/// one under test) and no stack: it must parse, run every check and write a JUnit report.
#[test]
fn the_readme_ci_step_runs_and_writes_junit() {
    let step = ci_step_lines().into_iter().next().expect("the README's GitHub Actions step");
    let args: Vec<&str> = step.split_whitespace().skip(1).take_while(|w| !w.starts_with('>')).collect();
    let (mut cmd, _dir) = support::doctor();
    // Nothing of the stack here, and a short wait: not ready, and it says so.
    let args: Vec<String> = args.iter().map(|a| if *a == "2m" { "1s".to_string() } else { a.to_string() }).collect();
    cmd.args(&args).env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let out = support::run_with_timeout(&mut cmd, std::time::Duration::from_secs(120));
    assert!((2..=3).contains(&out.code), "`{step}` exited {}:\n{}", out.code, out.combined());
    assert!(out.stdout.contains("<testsuites") && out.stdout.contains("DK001"), "{}", out.combined());
}

#[test]
fn the_readme_run_command_runs_doctor() {
    let first = cargo_run_lines().into_iter().next().expect("a cargo run line in the README");
    let mut cmd = Command::new(env!("CARGO"));
    // The environment a person's shell has, not the test's: cargo sets CARGO_* variables for
    // tests, and build scripts that see them differ rebuild their crates for nothing.
    cmd.env_clear();
    for key in ["PATH", "HOME", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    cmd.args(as_debug_args(&first))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env("DOCTOR_LANG", "en")
        // Nothing of the stack here: doctor must run and say so, not cargo refuse to choose.
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let out = support::run_with_timeout(&mut cmd, std::time::Duration::from_secs(600));
    assert!((0..=3).contains(&out.code), "`{first}` exited {}:\n{}", out.code, out.combined());
    assert!(!out.stderr.contains("could not determine which binary to run"), "{}", out.stderr);
    assert!(out.stdout.contains("DK001") && out.stdout.contains("PG001"), "{}", out.combined());
}
