//! The stack as its specification lays it out (`tests/support/spec_stack.rs`): seven compose
//! projects talking through `host.docker.internal` (layout A), and one compose file (layout B).
//! doctor runs with no configuration from the directory above the repositories, as an operator
//! would, and must find every container and find nothing wrong on a healthy stack; then each
//! fault a user can have there is made for real and named by its runbook row.

mod support;

use serde_json::Value;
use support::first_screen;
use support::report::{cause, check, evidence, verdict};
use support::spec_stack::{LOGIN_EMAIL, LOGIN_PASSWORD, Layout, SpecStack};

fn json(out: &support::Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", out.combined()))
}

/// Every check that is not ok, with its confirmed and suspected causes, for a failure message.
fn not_ok(v: &Value) -> Vec<String> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "ok")
        .map(|c| {
            let causes: Vec<String> = c["causes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|k| k["verdict"] == "confirmed" || k["verdict"] == "suspected")
                .map(|k| format!("    {} {}: {}", k["verdict"], k["id"], k["evidence"]))
                .collect();
            format!("{} {} {} {}\n{}", c["code"], c["status"], c["target"], c["summary"], causes.join("\n"))
        })
        .collect()
}

fn assert_no_secret(stack: &SpecStack, out: &support::Output, what: &str) {
    let _ = stack;
    for secret in SpecStack::secrets() {
        assert!(!out.combined().contains(secret), "{what}: {secret} was printed");
    }
}

/// The README's GitHub Actions step (the first `doctor all` line with `--format junit` of its
/// CI section, run once the composite action has put doctor on the PATH).
fn readme_ci_step() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    readme[readme.find("## In CI").expect("the README's CI section")..]
        .lines()
        .map(|l| l.trim().trim_start_matches("- ").trim_start_matches("run: ").trim())
        .find(|l| l.starts_with("doctor all") && l.contains("--format junit"))
        .expect("the README's CI step")
        .to_string()
}

fn login_env() -> [(&'static str, &'static str); 2] {
    [("DOCTOR_LOGIN_USERNAME", LOGIN_EMAIL), ("DOCTOR_LOGIN_PASSWORD", LOGIN_PASSWORD)]
}

/// `doctor stack` names each container, how it was found, and how it is reached.
fn assert_stack_found(stack: &SpecStack, layout: &str, found_by: &str, pg_credentials: &str) {
    let out = stack.doctor(&["stack", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.combined());
    let v = json(&out);
    assert_eq!(v["schema"], "doctor.stack/v1");
    assert_eq!(v["layout"], layout, "{v:#}");
    for role in ["postgres", "redis", "auth-service", "user-api", "admin-api", "user-frontend", "admin-frontend"] {
        let m = v["services"].as_array().unwrap().iter().find(|m| m["role"] == role).unwrap();
        assert_eq!(m["container"], stack.container(role), "{m:#}");
        assert_eq!(m["found_by"], found_by, "{m:#}");
        assert!(
            m["host_url"].as_str().unwrap().contains(&stack.host_port(role).to_string())
                || role == "postgres"
                || role == "redis",
            "{m:#}"
        );
    }
    let pg = v["services"].as_array().unwrap().iter().find(|m| m["role"] == "postgres").unwrap();
    assert_eq!(pg["credentials_from"], pg_credentials, "{pg:#}");
    assert_no_secret(stack, &out, "doctor stack");
    let table = stack.doctor_env(&["stack"], &[("COLUMNS", "200")]);
    assert!(table.stdout.contains(&stack.container("admin-api")), "{}", table.stdout);
}

#[test]
fn layout_a_healthy_with_no_configuration_then_each_fault_by_its_row() {
    let Some(stack) = SpecStack::start(Layout::A) else { return };
    // Layout A: the services' own variables, read from their containers.
    assert_stack_found(&stack, "A", "compose-service", "container-env");

    // Twice: the second run reads the logs the first one caused.
    for round in 0..2 {
        let out = stack.doctor_env(&["all", "--format", "json", "--timeout", "5s"], &login_env());
        let v = json(&out);
        let bad = not_ok(&v);
        assert!(bad.is_empty(), "round {round}: a healthy spec-layout stack, yet:\n{}", bad.join("\n"));
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_no_secret(&stack, &out, "doctor all");
        // Ordinary words of the stack stay readable: the BFF's cookie names are in FE002's evidence.
        assert!(!out.stdout.contains("***_token"), "{}", out.stdout);
        assert!(check(&v, "FE002").to_string().contains("access_token"), "{:#}", check(&v, "FE002"));
    }
    for format in ["table", "markdown", "junit"] {
        for lang in ["en", "ja"] {
            let out = stack.doctor_env(&["all", "--format", format, "--lang", lang, "-v"], &login_env());
            assert_eq!(out.code, 0, "{format} {lang}: {}", out.combined());
            assert_no_secret(&stack, &out, &format!("{format} {lang}"));
        }
    }

    // The first screens (issue 13), on the runbook-named stack: healthy, then a stale `.env`.
    let root = stack.root().display().to_string();
    let literals = [(root.as_str(), "<root>")];
    let doctor_login = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = login_env().to_vec();
        all.extend_from_slice(env);
        stack.doctor_env(args, &all)
    };
    let screens = first_screen::check("healthy", &["all", "--timeout", "5s"], &doctor_login, &literals);
    assert_eq!(screens.exit_code, 0);

    // doctor's own copy of `.env` holds an old PostgreSQL password; the stack is fine. PG001
    // says that only doctor's credential is stale, and no remedy on screen changes the stack.
    let stale = format!(
        "DATABASE_URL=postgresql://postgres:Stale-Copy-Pw-0000@127.0.0.1:{}/authdb\n",
        stack.host_port("postgres")
    );
    std::fs::write(stack.root().join(".env"), stale).unwrap();
    let screens = first_screen::check("stale-env", &["all", "--timeout", "5s"], &doctor_login, &literals);
    std::fs::remove_file(stack.root().join(".env")).unwrap();
    let v = &screens.json;
    assert_eq!(verdict(v, "PG001", "doctor-credential-stale"), "confirmed", "{:#}", check(v, "PG001"));
    assert_eq!(verdict(v, "PG001", "wrong-password"), "ruled-out", "{:#}", check(v, "PG001"));
    assert_eq!(check(v, "PG001")["status"], "warning", "{:#}", check(v, "PG001"));
    for (lang, width, text) in &screens.tables {
        for changes in ["ALTER USER", "docker compose", "docker restart", "docker start", "CONFIG SET"] {
            assert!(!text.contains(changes), "{lang} {width}: a remedy that changes a healthy stack:\n{text}");
        }
        let pasted = text.replace(" \\\n", " ").split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(pasted.contains("doctor postgres --env-file"), "{lang} {width}:\n{text}");
        assert!(!text.contains("Stale-Copy-Pw-0000"), "{lang} {width}: the stale password was printed");
        for secret in SpecStack::secrets() {
            assert!(!text.contains(secret), "{lang} {width}: {secret} was printed");
        }
    }

    // A client container without host-gateway: host.docker.internal resolves nowhere in it.
    stack.recreate("admin-frontend", |spec| spec.add_hosts.clear());
    let v = json(&stack.doctor(&["network", "--format", "json"]));
    assert_eq!(verdict(&v, "NET001", "name-not-resolvable"), "confirmed", "{:#}", check(&v, "NET001"));
    assert!(evidence(&v, "NET001", "name-not-resolvable").contains("host-gateway"), "{:#}", check(&v, "NET001"));
    assert!(evidence(&v, "NET001", "name-not-resolvable").contains(&stack.container("admin-frontend")));
    stack.recreate("admin-frontend", |spec| spec.add_hosts = vec!["host.docker.internal:host-gateway".into()]);

    // A target published on this host's loopback only: the containers' gateway cannot reach it.
    let port = stack.host_port("admin-api");
    stack.recreate("admin-api", |spec| spec.publish = vec![format!("127.0.0.1:{port}:8000")]);
    let v = json(&stack.doctor(&["network", "--format", "json"]));
    assert_eq!(verdict(&v, "NET001", "port-not-listening"), "confirmed", "{:#}", check(&v, "NET001"));
    assert!(evidence(&v, "NET001", "port-not-listening").contains("loopback"), "{:#}", check(&v, "NET001"));
    stack.recreate("admin-api", |spec| spec.publish = vec![format!("0.0.0.0:{port}:8000")]);

    // A frontend that publishes no port: nothing reaches it from this host.
    stack.recreate("admin-frontend", |spec| spec.publish.clear());
    let v = json(&stack.doctor(&["network", "--format", "json"]));
    assert_eq!(verdict(&v, "NET002", "port-not-published"), "confirmed", "{:#}", check(&v, "NET002"));
    assert!(evidence(&v, "NET002", "port-not-published").contains(&stack.container("admin-frontend")));
    stack.recreate("admin-frontend", |spec| spec.publish = vec!["0.0.0.0:0:3000".into()]);

    // user-api's health: 200 with an unhealthy body, then 503.
    for mode in ["unhealthy", "503"] {
        stack.recreate("user-api", |spec| {
            for (k, v) in spec.env.iter_mut() {
                if k == "FIXTURE_MODES" {
                    *v = format!("spec,role=user-api,health={mode}");
                }
            }
        });
        let v = json(&stack.doctor(&["api", "--format", "json"]));
        let api001 = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == "API001" && c["target"].as_str().unwrap_or("").contains("user-api"))
            .cloned()
            .unwrap_or_else(|| panic!("no API001 for user-api: {v:#}"));
        assert_ne!(api001["status"], "ok", "health={mode}: {api001:#}");
        assert!(api001.to_string().contains("database"), "health={mode}: {api001:#}");
        // The same answer is evidence for the profile lookups, which all go through apidb.
        assert_eq!(verdict(&v, "API002", "database-error"), "confirmed", "health={mode}: {:#}", check(&v, "API002"));
    }
    stack.recreate("user-api", |spec| {
        for (k, v) in spec.env.iter_mut() {
            if k == "FIXTURE_MODES" {
                *v = "spec,role=user-api".into();
            }
        }
    });

    // One service holding a stale PostgreSQL password.
    stack.recreate("admin-api", |spec| {
        for (k, v) in spec.env.iter_mut() {
            if k == "DATABASE_URL" {
                *v = v.replace(support::spec_stack::PG_PASSWORD, "Stale-Password-0000");
            }
        }
    });
    let out = stack.doctor(&["postgres", "--format", "json"]);
    let v = json(&out);
    assert_eq!(verdict(&v, "PG001", "wrong-password"), "confirmed", "{:#}", check(&v, "PG001"));
    assert!(
        evidence(&v, "PG001", "wrong-password").contains(&stack.container("admin-api")),
        "{:#}",
        check(&v, "PG001")
    );
    assert!(!out.combined().contains("Stale-Password-0000"));
    assert_no_secret(&stack, &out, "stale password");

    stack.recreate("admin-api", |spec| {
        for (k, v) in spec.env.iter_mut() {
            if k == "DATABASE_URL" {
                *v = v.replace("Stale-Password-0000", support::spec_stack::PG_PASSWORD);
            }
        }
    });

    // The README's GitHub Actions step, as written (the binary under test standing in for the
    // one the composite action installs), from the stack's directory: the stack is healthy
    // again, so it passes.
    let step = readme_ci_step();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_doctor"));
    cmd.env_clear();
    for key in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    let args: Vec<String> =
        step.split_whitespace().skip(1).take_while(|w| !w.starts_with('>')).map(str::to_string).collect();
    cmd.args(&args).current_dir(stack.root()).env("NO_COLOR", "1");
    let out = support::run_with_timeout(&mut cmd, std::time::Duration::from_secs(600));
    assert_eq!(out.code, 0, "`{step}`:\n{}", out.combined());
    assert!(out.stdout.contains("<testsuites") && out.stdout.contains("failures=\"0\""), "{}", out.stdout);

    // Redis stopped: DK002 first, RD001 container-stopped.
    stack.lab.stop(&stack.container("redis"));
    let out = stack.doctor(&["all", "--format", "json"]);
    let v = json(&out);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(v["root_causes"][0]["code"], "DK002", "{:#}", v["root_causes"]);
    assert_eq!(verdict(&v, "RD001", "container-stopped"), "confirmed", "{:#}", check(&v, "RD001"));
    assert!(evidence(&v, "RD001", "container-stopped").contains(&stack.container("redis")));
    // The remedies name the stack's own container, and none execs into the stopped one (it
    // cannot work until it runs again): its logs are what can be read.
    let rd001 = check(&v, "RD001");
    assert!(!rd001.to_string().contains("docker exec redis "), "{rd001:#}");
    assert!(!rd001.to_string().contains("docker exec ai-micro-redis "), "{rd001:#}");
    assert!(rd001.to_string().contains("ai-micro-redis"), "{rd001:#}");
    // DK002's fix is a command to paste: the stopped role filled in, its compose directory.
    let fix = cause(&v, "DK002", "container-exited")["remedy"].as_str().unwrap().to_string();
    assert!(!fix.contains("<service>"), "{fix}");
    assert!(fix.contains("docker logs ai-micro-redis --tail 100"), "{fix}");
    assert!(fix.contains("&& docker compose up -d redis"), "{fix}");
    // The first screen shows it under the root cause, within 25 lines for it.
    let table = stack.doctor(&["all"]);
    // (a long command continues with ` \` on the next line: joined, it is the one to paste)
    let pasted = table.stdout.replace(" \\\n", " ").split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(pasted.contains("&& docker compose up -d redis"), "{}", table.stdout);
    let root: Vec<&str> =
        table.stdout.lines().skip_while(|l| !l.contains("DK002")).take_while(|l| !l.is_empty()).collect();
    assert!(!root.is_empty() && root.len() <= 25, "{} lines for DK002:\n{}", root.len(), table.stdout);
    assert!(root.iter().any(|l| l.contains("↳") && l.contains("RD001")), "RD001 folds under DK002:\n{}", table.stdout);
    assert!(table.stdout.lines().count() < 45, "{}", table.stdout);
    let screens = first_screen::check("redis-stopped", &["all", "--timeout", "5s"], &doctor_login, &literals);
    assert_eq!(screens.json["root_causes"][0]["code"], "DK002", "{:#}", screens.json["root_causes"]);
}

#[test]
fn layout_b_one_compose_file_healthy_with_no_configuration() {
    let Some(stack) = SpecStack::start(Layout::B) else { return };
    // Layout B: the one .env beside the compose file, in the directory doctor runs from.
    assert_stack_found(&stack, "B", "compose-service", ".env");
    for round in 0..2 {
        let out = stack.doctor_env(&["all", "--format", "json", "--timeout", "5s"], &login_env());
        let v = json(&out);
        let bad = not_ok(&v);
        assert!(bad.is_empty(), "round {round}: a healthy single-compose stack, yet:\n{}", bad.join("\n"));
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_no_secret(&stack, &out, "doctor all");
    }
    // What `doctor stack --write-config` pins gives the same stack back.
    let pinned = stack.root().join("doctor.toml");
    let out = stack.doctor(&["stack", "--write-config", pinned.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.combined());
    let text = std::fs::read_to_string(&pinned).unwrap();
    assert!(text.contains(&format!("container = \"{}\"", stack.container("user-api"))), "{text}");
    assert_stack_found(&stack, "custom", "config", ".env");
    let out = stack.doctor(&["stack", "--write-config", pinned.to_str().unwrap()]);
    assert_eq!(out.code, 3, "an existing file is never overwritten: {}", out.combined());
}

/// For a person: starts layout A and keeps it until `$DOCTOR_SPEC_HOLD` (a file this creates)
/// is deleted, or 30 minutes. `cargo test --test spec_lab -- --ignored --nocapture hold`, then
/// `cd` into the printed directory and run doctor there.
#[test]
#[ignore]
fn hold_a_spec_stack_for_a_person() {
    let Some(stack) = SpecStack::start(Layout::A) else { return };
    let flag = std::env::var("DOCTOR_SPEC_HOLD").unwrap_or_else(|_| "/tmp/doctor-spec-hold".into());
    std::fs::write(&flag, "delete me to stop the stack\n").unwrap();
    eprintln!("layout A is up; the repositories are in {}; delete {flag} to stop it", stack.root().display());
    let until = std::time::Instant::now() + std::time::Duration::from_secs(1800);
    while std::path::Path::new(&flag).exists() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}
