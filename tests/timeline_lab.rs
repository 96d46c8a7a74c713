//! Since when, and what changed, on a real engine: a service recreated with a new image before
//! its errors begin, a container restarted by hand, a variable renamed between two
//! recreations, each in the report's timeline and, where it explains a finding, first in its
//! evidence; a stack that was just started shows no change; no variable value ever comes out.

mod support;

use serde_json::Value;
use support::lab::{ContainerSpec, Image, Lab, host_psql, image};
use support::report::{check, evidence, json, verdict};
use support::{Output, doctor, run};

const PG_PASSWORD: &str = "Lab-Pg-Secret-4d1c";
const SERVICES: &[&str] =
    &["postgres", "redis", "auth-service", "user-api", "admin-api", "user-frontend", "admin-frontend"];

/// doctor with the lab's containers pinned, and a state directory shared between the runs of
/// one test (doctor remembers there what it saw of each container).
fn doctor_at(lab: &Lab, state: &std::path::Path, args: &[&str]) -> Output {
    let (mut cmd, dir) = doctor();
    let mut toml = String::new();
    for s in SERVICES {
        toml.push_str(&format!("[services.{s}]\ncontainer = \"{}\"\n\n", lab.name(s)));
    }
    std::fs::write(dir.path().join("doctor.toml"), toml).unwrap();
    cmd.env("XDG_STATE_HOME", state).args(args).args(["--timeout", "3s"]);
    run(&mut cmd)
}

fn docker(args: &[&str]) -> String {
    let out = run(std::process::Command::new("docker").args(args));
    assert_eq!(out.code, 0, "docker {args:?}: {}", out.stderr);
    out.stdout.trim().to_string()
}

/// An image like `base` with another id (a rebuild), removed when dropped.
struct Rebuilt(String);
impl Rebuilt {
    fn of(base: &str, lab: &Lab) -> Rebuilt {
        let tag = format!("doctor-lab/rebuilt:{}", lab.prefix());
        let dockerfile = format!("FROM {base}\nLABEL doctor.lab.rebuilt={}\n", lab.prefix());
        let mut cmd = std::process::Command::new("docker");
        cmd.args(["build", "-q", "-t", &tag, "-"]);
        let out = support::run_with_stdin(&mut cmd, &dockerfile);
        assert_eq!(out.code, 0, "docker build: {}", out.stderr);
        Rebuilt(tag)
    }
}
impl Drop for Rebuilt {
    fn drop(&mut self) {
        let _ = run(std::process::Command::new("docker").args(["rmi", "-f", &self.0]));
    }
}

fn postgres_from(lab: &Lab, img: &str, password: &str) -> u16 {
    lab.run(ContainerSpec {
        name: "postgres".into(),
        image: img.into(),
        env: vec![("POSTGRES_PASSWORD".into(), password.into()), ("POSTGRES_DB".into(), "authdb".into())],
        publish: vec!["127.0.0.1:0:5432".into()],
        ..Default::default()
    });
    lab.wait_pg_ready("postgres");
    lab.published_port("postgres", 5432)
}

fn entries(v: &Value) -> Vec<Value> {
    v["timeline"]["entries"].as_array().unwrap_or_else(|| panic!("no timeline in {v:#}")).clone()
}
fn of_kind(v: &Value, kind: &str) -> Vec<Value> {
    entries(v).into_iter().filter(|e| e["kind"] == kind).collect()
}

#[test]
fn a_service_recreated_with_a_new_image_before_its_errors_is_what_changed() {
    let Some(lab) = Lab::new() else { return };
    let state = tempfile::tempdir().unwrap();
    let first = image(Image::Postgres);
    let port = postgres_from(&lab, &first, PG_PASSWORD);
    let url = |port: u16| format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/authdb");
    // A healthy first look: doctor remembers the container and its image.
    let v = json(&doctor_at(&lab, state.path(), &["postgres", "--url", &url(port), "--format", "json"]));
    assert_eq!(verdict(&v, "PG001", "wrong-password"), "ruled-out", "{:#}", check(&v, "PG001"));
    assert!(of_kind(&v, "recreated").is_empty(), "{:#}", v["timeline"]);

    // A new image, and with it a new password: the old one fails from then on (doctor's --url
    // still carries it, so PG001 finds the server fine and doctor's credential stale).
    let rebuilt = Rebuilt::of(&first, &lab);
    lab.remove("postgres");
    let port = postgres_from(&lab, &rebuilt.0, "Another-Pg-Secret-77");
    assert!(host_psql(port, "postgres", PG_PASSWORD, "authdb", "select 1").is_err(), "the old password must fail");
    let v = json(&doctor_at(&lab, state.path(), &["postgres", "--url", &url(port), "--format", "json"]));
    assert_eq!(verdict(&v, "PG001", "doctor-credential-stale"), "confirmed", "{:#}", check(&v, "PG001"));
    let recreated = of_kind(&v, "recreated");
    assert_eq!(recreated.len(), 1, "{:#}", v["timeline"]);
    let r = &recreated[0];
    assert_eq!((r["service"].as_str(), r["change"].as_bool()), (Some("postgres"), Some(true)), "{r:#}");
    assert!(r["summary"].as_str().unwrap().contains("recreated with a new image"), "{r:#}");
    // The errors came after it, and the finding says so first.
    let first_error = of_kind(&v, "first-error");
    assert!(
        first_error.iter().any(|e| e["summary"].as_str().unwrap().contains("PG001")
            && e["at"].as_str().unwrap() >= r["at"].as_str().unwrap()),
        "{:#}",
        v["timeline"]
    );
    let ev = evidence(&v, "PG001", "doctor-credential-stale");
    assert!(ev.starts_with("what changed: postgres recreated with a new image"), "{ev}");
    assert!(!v.to_string().contains("Another-Pg-Secret-77") && !v.to_string().contains(PG_PASSWORD));

    // The first screen puts it under the root cause.
    let out = doctor_at(&lab, state.path(), &["postgres", "--url", &url(port)]);
    assert!(
        out.stdout.contains("on the engine:") && out.stdout.contains("postgres recreated with a new image"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_container_restarted_by_hand_is_a_change_that_explains_the_restart() {
    let Some(lab) = Lab::new() else { return };
    let state = tempfile::tempdir().unwrap();
    postgres_from(&lab, &image(Image::Postgres), PG_PASSWORD);
    docker(&["restart", "-t", "10", &lab.name("postgres")]);
    lab.wait_pg_ready("postgres");
    let port = lab.published_port("postgres", 5432);
    let url = format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/authdb");
    let v = json(&doctor_at(&lab, state.path(), &["postgres", "--url", &url, "--format", "json"]));
    let restarted = of_kind(&v, "restarted");
    assert_eq!(restarted.len(), 1, "{:#}", v["timeline"]);
    assert!(restarted[0]["summary"].as_str().unwrap().contains("restarted by hand"), "{:#}", restarted[0]);
    assert_eq!(restarted[0]["change"], true);
    assert_eq!(verdict(&v, "PG004", "server-restarted"), "confirmed", "{:#}", check(&v, "PG004"));
    let ev = evidence(&v, "PG004", "server-restarted");
    assert!(ev.starts_with("what changed: postgres restarted by hand"), "{ev}");
    // The whole timeline with -v, and in the incident report.
    let out = doctor_at(&lab, state.path(), &["postgres", "--url", &url, "-v"]);
    assert!(
        out.stdout.contains("Timeline (the engine's events") && out.stdout.contains("restarted by hand"),
        "{}",
        out.stdout
    );
    let out = doctor_at(&lab, state.path(), &["postgres", "--url", &url, "--format", "markdown"]);
    assert!(out.stdout.contains("## Timeline") && out.stdout.contains("**restarted by hand"), "{}", out.stdout);
    assert!(out.stdout.contains("## Impact") && out.stdout.contains("Failing services: postgres"), "{}", out.stdout);
    assert!(out.stdout.contains("- [x] Review logs and metrics"), "{}", out.stdout);
}

#[test]
fn a_variable_renamed_between_two_recreations_is_named_and_its_value_never_shown() {
    let Some(lab) = Lab::new() else { return };
    let state = tempfile::tempdir().unwrap();
    let secret = "Jwt-Value-Never-Printed-93af";
    let user_api = |var: &str, hash: &str| ContainerSpec {
        name: "user-api".into(),
        image: image(Image::Busybox),
        env: vec![(var.into(), secret.into()), ("LOG_LEVEL".into(), "info".into())],
        labels: vec![
            ("com.docker.compose.service".into(), "user-api".into()),
            ("com.docker.compose.project".into(), lab.prefix().into()),
            ("com.docker.compose.config-hash".into(), hash.into()),
        ],
        cmd: vec!["sleep".into(), "3600".into()],
        ..Default::default()
    };
    lab.run(user_api("JWT_SECRET_KEY", "hash-one"));
    let first = doctor_at(&lab, state.path(), &["docker", "--format", "json"]);
    assert!(of_kind(&json(&first), "recreated").is_empty());
    lab.remove("user-api");
    lab.run(user_api("JWT_SECRET", "hash-two"));
    let v = json(&doctor_at(&lab, state.path(), &["docker", "--format", "json"]));
    let recreated = of_kind(&v, "recreated");
    assert_eq!(recreated.len(), 1, "{:#}", v["timeline"]);
    let said = recreated[0]["summary"].as_str().unwrap();
    assert!(said.contains("variables JWT_SECRET_KEY → JWT_SECRET"), "{said}");
    assert_eq!(recreated[0]["service"], "user-api");
    // Never the value: not in JSON, the -v table, the incident report, nor doctor's own record.
    for format in [&["--format", "json"][..], &["-v"][..], &["--format", "markdown"][..], &["--lang", "ja", "-v"][..]] {
        let mut args = vec!["docker"];
        args.extend_from_slice(format);
        let out = doctor_at(&lab, state.path(), &args);
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret), "{format:?}: {}", out.stdout);
    }
    let record = std::fs::read_to_string(state.path().join("doctor/containers.json")).unwrap();
    assert!(record.contains("JWT_SECRET") && !record.contains(secret), "{record}");
}

#[test]
fn a_stack_just_started_has_a_timeline_without_change_or_fault() {
    let Some(lab) = Lab::new() else { return };
    let state = tempfile::tempdir().unwrap();
    let port = postgres_from(&lab, &image(Image::Postgres), PG_PASSWORD);
    // The stack's other databases, so that PG001 passes: doctor's own look at a missing one
    // would log an error line, which the timeline rightly shows.
    for db in ["apidb", "admindb"] {
        host_psql(port, "postgres", PG_PASSWORD, "authdb", &format!("CREATE DATABASE {db}")).unwrap();
    }
    let url = format!("postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/authdb");
    let v = json(&doctor_at(&lab, state.path(), &["postgres", "--url", &url, "--format", "json"]));
    assert_eq!(check(&v, "PG001")["status"], "ok", "{:#}", check(&v, "PG001"));
    let all = entries(&v);
    assert!(all.iter().any(|e| e["kind"] == "created" && e["service"] == "postgres"), "{:#}", v["timeline"]);
    let notable: Vec<&Value> = all.iter().filter(|e| e["change"] == true || e["fault"] == true).collect();
    assert!(notable.is_empty(), "a fresh stack shows a change or fault: {notable:#?}");
    assert!(v["checks"].as_array().unwrap().iter().all(|c| c["evidence"].get("what_changed").is_none()), "{v:#}");
    let out = doctor_at(&lab, state.path(), &["postgres", "--url", &url]);
    assert!(!out.stdout.contains("on the engine:"), "{}", out.stdout);
}

#[test]
fn a_compose_recreation_with_a_new_image_is_named_from_its_labels_on_a_first_run() {
    // No earlier doctor run: the on-call's first look after the incident. Compose's own labels
    // (its image id and config hash, on every event of the container) tell the story.
    let Some(lab) = Lab::new() else { return };
    let state = tempfile::tempdir().unwrap();
    let first = image(Image::Busybox);
    let rebuilt = Rebuilt::of(&first, &lab);
    let id_of = |img: &str| docker(&["image", "inspect", "-f", "{{.Id}}", img]);
    let user_api = |img: &str, hash: &str| ContainerSpec {
        name: "user-api".into(),
        image: img.into(),
        labels: vec![
            ("com.docker.compose.service".into(), "user-api".into()),
            ("com.docker.compose.project".into(), lab.prefix().into()),
            ("com.docker.compose.config-hash".into(), hash.into()),
            ("com.docker.compose.image".into(), id_of(img)),
        ],
        cmd: vec!["sleep".into(), "3600".into()],
        ..Default::default()
    };
    lab.run(user_api(&first, "hash-one"));
    lab.remove("user-api");
    lab.run(user_api(&rebuilt.0, "hash-two"));
    let v = json(&doctor_at(&lab, state.path(), &["docker", "--format", "json"]));
    let recreated = of_kind(&v, "recreated");
    assert_eq!(recreated.len(), 1, "{:#}", v["timeline"]);
    let said = recreated[0]["summary"].as_str().unwrap();
    let short = |img: &str| id_of(img).trim_start_matches("sha256:").chars().take(12).collect::<String>();
    assert!(said.contains(&format!("a new image ({} → {})", short(&first), short(&rebuilt.0))), "{said}");
    assert!(said.contains("a new configuration"), "{said}");
}
