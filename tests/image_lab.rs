//! The container image (Dockerfile) built in the lab from local files only, and its documented
//! command run as written against the lab's engine:
//!
//! `docker run --rm --network host -v /var/run/docker.sock:/var/run/docker.sock:ro -v "$PWD:/work" <image> all`
//!
//! `$PWD` is a directory holding the `.env` of a stack whose Redis is a lab container published
//! on 127.0.0.1, so the run shows the three things the command promises: doctor finds the
//! engine through the mounted socket (DK001 ok), reads its configuration from /work, and
//! reaches the stack's published port on the host's network (RD001 ok). The image's root
//! filesystem comes from `scripts/image-rootfs` (what `scripts/release` runs), with the
//! portable binary of dist/ when `scripts/release` made one, else the binary under test: the
//! Dockerfile and the rootfs recipe are what is tested, the binary's glibc floor is
//! tests/release.rs's job.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::lab::{ContainerSpec, Image, Lab, image};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// An image tag removed on drop.
struct BuiltImage(String);

impl Drop for BuiltImage {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

/// The README's `docker run ... all` line for the image.
fn documented_command() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let line = readme.lines().map(str::trim).find(|l| l.starts_with("docker run") && l.ends_with(" all"));
    let line = line.expect("the README's docker run line").to_string();
    assert!(line.contains("--network host") && line.contains("/var/run/docker.sock:ro"), "{line}");
    line
}

fn binary() -> PathBuf {
    let portable = root().join("target/x86_64-unknown-linux-gnu/release/doctor");
    let archive = root().join(format!("dist/doctor-{}-x86_64-linux.tar.gz", env!("CARGO_PKG_VERSION")));
    if portable.exists() && archive.exists() {
        eprintln!("image_lab: the portable binary {}", portable.display());
        portable
    } else {
        eprintln!("image_lab: no dist/ (scripts/release not run): the binary under test");
        PathBuf::from(env!("CARGO_BIN_EXE_doctor"))
    }
}

fn build_image(tag: &str) -> BuiltImage {
    let ctx = tempfile::Builder::new().prefix("doctor-image-").tempdir().unwrap();
    std::fs::copy(root().join("Dockerfile"), ctx.path().join("Dockerfile")).unwrap();
    std::fs::copy(root().join(".dockerignore"), ctx.path().join(".dockerignore")).unwrap();
    let rootfs = support::run_with_timeout(
        Command::new(root().join("scripts/image-rootfs")).arg(binary()).arg(ctx.path().join("dist/image")),
        Duration::from_secs(60),
    );
    assert_eq!(rootfs.code, 0, "{}", rootfs.combined());
    let built = BuiltImage(tag.to_string());
    let out = support::run_with_timeout(
        Command::new("docker").args(["build", "-q", "--label", "doctor.lab=1", "-t", tag]).arg(ctx.path()),
        Duration::from_secs(300),
    );
    assert_eq!(out.code, 0, "docker build:\n{}", out.combined());
    built
}

#[test]
fn the_images_documented_command_finds_the_engine_and_the_stack() {
    let Some(lab) = Lab::new() else { return };
    let tag = format!("doctor-lab/doctor:{}", lab.prefix());
    let _image = build_image(&tag);

    let password = "Image-Lab-Redis-7c";
    lab.run(ContainerSpec {
        name: "redis".into(),
        image: image(Image::Redis),
        env: vec![("REDIS_PASSWORD".into(), password.into())],
        publish: vec!["127.0.0.1:0:6379".into()],
        ..Default::default()
    });
    lab.wait_redis_ready("redis");
    let port = lab.published_port("redis", 6379);

    // The stack's directory: its .env names the Redis doctor is to check.
    let pwd = tempfile::Builder::new().prefix("doctor-image-pwd-").tempdir().unwrap();
    std::fs::write(pwd.path().join(".env"), format!("REDIS_URL=redis://:{password}@127.0.0.1:{port}/0\n")).unwrap();

    // The README's command, word for word: `$PWD` is the stack's directory, the image's name
    // is this lab's tag, and two -e pin language and colour for the assertions.
    let documented = documented_command();
    let run = |extra: &[&str]| {
        let words: Vec<String> = documented
            .split_whitespace()
            .map(|w| w.replace("\"$PWD:/work\"", &format!("{}:/work", pwd.path().display())))
            .collect();
        assert_eq!(words[words.len() - 1], "all", "{documented}");
        let image_at = words.len() - 2;
        let mut cmd = Command::new(&words[0]);
        cmd.args(&words[1..image_at]).args(["-e", "NO_COLOR=1", "-e", "DOCTOR_LANG=en", &tag, "all"]).args(extra);
        support::run_with_timeout(&mut cmd, Duration::from_secs(120))
    };

    // As documented.
    let table = run(&[]);
    assert!((0..=3).contains(&table.code), "exit {}:\n{}", table.code, table.combined());
    assert!(table.stdout.contains("DK001") && table.stdout.contains("RD001"), "{}", table.combined());
    assert!(!table.combined().contains(password), "the password was printed:\n{}", table.combined());

    // The same run as JSON, for exact verdicts.
    let out = run(&["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", out.combined()));
    let status = |code: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == code)
            .map(|c| c["status"].clone())
            .unwrap_or_default()
    };
    assert_eq!(status("DK001"), "ok", "the engine through the mounted socket: {:#}", v["checks"][0]);
    assert_eq!(status("RD001"), "ok", "Redis from /work/.env on the host's network:\n{}", out.stdout);
    let code = v["exit_code"].as_i64().unwrap_or(out.code as i64);
    assert_eq!(out.code as i64, code, "{}", out.stderr);
}
