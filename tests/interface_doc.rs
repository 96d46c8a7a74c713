//! `docs/interface.md` is the interface users have (they do not have the contract the team
//! wrote it from), so it must not drift from the binary: every command, option, format,
//! threshold, exit code, problem code and cause id the binary knows is on the page, and every
//! format the page lists is one the binary accepts. Read from the binary itself (`--help`,
//! `list --format json`), not from a copy in this test.

mod support;

use serde_json::Value;
use support::{doctor, run};

fn page() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/interface.md")).unwrap()
}

fn doc(args: &[&str]) -> support::Output {
    let (mut cmd, _dir) = doctor();
    cmd.args(args);
    run(&mut cmd)
}

/// The long options (`--name`) a help text lists.
fn long_options(help: &str) -> Vec<String> {
    help.lines()
        // An option's own line is indented a little; a wrapped description, far more.
        .filter(|l| l.len() - l.trim_start().len() < 10)
        .map(str::trim_start)
        .filter(|l| l.starts_with("--") || (l.starts_with('-') && l.get(2..5) == Some(", -")))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("--")))
        .map(|w| w.trim_end_matches(',').to_string())
        .filter(|w| w != "--help" && w != "--version")
        .collect()
}

/// Whether the page names this option as a whole word (`--since`, not only `--since-x`).
fn mentions(page: &str, opt: &str) -> bool {
    page.match_indices(opt).any(|(i, _)| {
        let after = page[i + opt.len()..].chars().next();
        !matches!(after, Some(c) if c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

/// The subcommands `doctor --help` lists under `Commands:`.
fn commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("    "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_command_and_option_of_the_binary_is_documented() {
    let page = page();
    let top = doc(&["--help"]);
    assert_eq!(top.code, 0);
    let cmds = commands(&top.stdout);
    assert!(cmds.len() >= 14, "{cmds:?}");
    for cmd in &cmds {
        assert!(page.contains(&format!("| `{cmd}")), "docs/interface.md has no row for the command {cmd}");
        let help = doc(&[cmd, "--help"]);
        assert_eq!(help.code, 0, "{cmd} --help");
        for opt in long_options(&help.stdout) {
            assert!(mentions(&page, &opt), "docs/interface.md does not document `{cmd} {opt}`");
        }
    }
}

#[test]
fn every_threshold_and_exit_code_is_documented() {
    let page = page();
    let help = doc(&["--help"]).stdout;
    let thresholds: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Thresholds"))
        .skip(2)
        .take_while(|l| l.starts_with("  "))
        .flat_map(|l| l.split_whitespace())
        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
        .collect();
    assert!(thresholds.len() >= 19, "{thresholds:?}");
    for name in thresholds {
        assert!(page.contains(&format!("`{name}`")), "docs/interface.md lacks the threshold {name}");
    }
    for code in 0..=3 {
        assert!(page.contains(&format!("\n| {code} |")), "docs/interface.md lacks exit code {code}");
    }
}

#[test]
fn every_code_and_cause_id_is_documented_on_its_row() {
    let page = page();
    let out = doc(&["list", "--format", "json"]);
    assert_eq!(out.code, 0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let problems = v["problems"].as_array().unwrap();
    assert!(problems.len() >= 22);
    for p in problems {
        let code = p["code"].as_str().unwrap();
        let row = page
            .lines()
            .find(|l| l.starts_with(&format!("| {code} ")))
            .unwrap_or_else(|| panic!("docs/interface.md has no row for {code}"));
        for cause in p["causes"].as_array().unwrap() {
            let id = cause["id"].as_str().unwrap();
            assert!(row.contains(&format!("`{id}`")), "the {code} row of docs/interface.md lacks `{id}`");
        }
    }
}

#[test]
fn every_documented_format_is_accepted_and_others_are_refused() {
    let page = page();
    let formats: Vec<&str> = page
        .lines()
        .skip_while(|l| !l.starts_with("## Formats"))
        .skip_while(|l| !l.starts_with("|---"))
        .skip(1)
        .take_while(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('`').nth(1))
        .collect();
    assert_eq!(formats, ["table", "json", "junit", "markdown", "nagios", "prometheus"]);
    for format in formats {
        let out = doc(&["all", "--no-docker", "--only", "DK001", "--format", format]);
        assert!(out.code <= 3 && !out.stdout.is_empty(), "{format}: {}", out.combined());
        assert!(!out.stderr.contains("invalid value"), "{format}: {}", out.stderr);
    }
    let out = doc(&["all", "--no-docker", "--only", "DK001", "--format", "xml"]);
    assert_eq!(out.code, 3, "{}", out.combined());
}

#[test]
fn the_readme_points_at_the_page_users_have() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(readme.contains("docs/interface.md"));
    assert!(!readme.contains("../shared/"), "README.md points at a file its users do not have");
}
