//! The scrubber never rewrites the runbook: `doctor explain CODE`, for every code, in both
//! languages, as text and as JSON, prints each of the runbook's texts exactly as the TOML holds
//! them, even with secrets registered that the runbook's own examples happen to contain
//! (`testpass`), while the same secrets from outside are still removed.

mod support;

use serde_json::Value;
use support::{doctor, run};

/// Every runbook file, parsed as plain TOML (not through doctor's own model).
fn runbooks() -> Vec<toml::Value> {
    let mut out = Vec::new();
    for area in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/runbooks")).unwrap() {
        let area = area.unwrap().path();
        if !area.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&area).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "toml") {
                out.push(toml::from_str::<toml::Value>(&std::fs::read_to_string(&f).unwrap()).unwrap());
            }
        }
    }
    assert!(out.len() >= 21, "only {} runbooks found", out.len());
    out
}

fn text<'a>(v: &'a toml::Value, key: &str, lang: &str) -> Option<&'a str> {
    v.get(key)?.get(lang)?.as_str()
}

/// A cwd whose `.env` registers secrets, one of them a word of a runbook example.
fn explain(code: &str, lang: &str, format: &str) -> String {
    let (mut cmd, dir) = doctor();
    std::fs::write(
        dir.path().join(".env"),
        "POSTGRES_PASSWORD=testpass\nREDIS_PASSWORD=Zq5-explain-redis\nDOCTOR_LOGIN_PASSWORD=testpass\n",
    )
    .unwrap();
    let out = run(cmd.args(["explain", code, "--lang", lang, "--format", format]));
    assert_eq!(out.code, 0, "explain {code} --lang {lang} --format {format}: {}", out.stderr);
    out.stdout
}

#[test]
fn explain_reproduces_every_runbook_text_in_json() {
    for rb in runbooks() {
        let code = rb["code"].as_str().unwrap();
        for lang in ["en", "ja"] {
            let j: Value = serde_json::from_str(&explain(code, lang, "json")).unwrap();
            let p = &j["problems"][0];
            assert_eq!(p["code"], code);
            assert_eq!(p["title"].as_str(), text(&rb, "title", lang), "{code} {lang} title");
            assert_eq!(p["by_hand"].as_str().map(str::trim), text(&rb, "by_hand", lang).map(str::trim));
            let causes = rb["causes"].as_array().unwrap();
            assert_eq!(p["causes"].as_array().unwrap().len(), causes.len());
            for (shown, c) in p["causes"].as_array().unwrap().iter().zip(causes) {
                for key in ["cause", "remedy", "judged"] {
                    assert_eq!(
                        shown[key].as_str().map(str::trim),
                        text(c, key, lang).map(str::trim),
                        "{code} {lang} {} {key}",
                        c["id"]
                    );
                }
            }
        }
    }
}

#[test]
fn explain_reproduces_every_runbook_line_as_text() {
    for rb in runbooks() {
        let code = rb["code"].as_str().unwrap();
        for lang in ["en", "ja"] {
            let out = explain(code, lang, "table");
            let printed: Vec<&str> = out.lines().map(str::trim).collect();
            let mut expected: Vec<&str> = text(&rb, "by_hand", lang).unwrap().trim().lines().collect();
            for c in rb["causes"].as_array().unwrap() {
                expected.extend(text(c, "remedy", lang).unwrap().trim().lines());
                let cause = text(c, "cause", lang).unwrap().trim();
                assert!(out.contains(cause), "{code} {lang}: cause changed:\n{cause}\n---\n{out}");
                if let Some(j) = text(c, "judged", lang) {
                    assert!(out.contains(j.trim()), "{code} {lang}: judged changed:\n{j}");
                }
            }
            for line in expected.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
                assert!(printed.contains(&line), "{code} {lang}: this line was changed or lost:\n{line}\n---\n{out}");
            }
            assert!(!out.contains("Zq5-explain-redis"));
        }
    }
}

/// The runbook's examples that once came out masked stay as written, and a planted secret
/// beside them from outside (the same query echoed back by `explain "TEXT"`) still goes.
#[test]
fn the_runbooks_own_examples_survive_and_outside_secrets_do_not() {
    let out = explain("FE003", "en", "table");
    for s in ["Bearer $TOKEN", "`Bearer undefined`", "Bearer ${accessToken}"] {
        assert!(out.contains(s), "{s} lost:\n{out}");
    }
    let out = explain("FE002", "en", "table");
    assert!(out.contains("credentials: 'include'") && out.contains(r#""password":"testpass""#), "{out}");
    let (mut cmd, _dir) = doctor();
    let out = run(cmd.args([
        "explain",
        "--format",
        "json",
        r#"401 Unauthorized Authorization: Bearer Zq5planted.outside.token password=Zq5-planted-pw"#,
    ]));
    assert!(!out.combined().contains("Zq5planted") && !out.combined().contains("Zq5-planted-pw"), "{}", out.stdout);
}
