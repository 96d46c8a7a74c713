//! The first screen at 3 a.m., as lab tests check it (issue 13): one scenario's run in every
//! form a person or a CI gate reads, held to the same story, and its compact view stored as a
//! plain-text snapshot under `tests/snapshots/`.
//!
//! - [`normalise`]: what changes from run to run (host ports, ages and durations, timestamps,
//!   lab prefixes, container ids, temp paths, project directories) becomes a fixed word, so that a
//!   snapshot shows only what doctor decided.
//! - [`assert_snapshot`]: `UPDATE_SNAPSHOTS=1` rewrites; a missing file is written, except in
//!   CI (`CI` set), where it fails. A line break that moved only because a value changed
//!   length (an age of `9 ms` or `1.2 s` wraps elsewhere) is not a difference: the comparison
//!   falls back to the text without its line breaks and spaces, so any other change still fails.
//! - [`check`]: one scenario, checked as JSON, JUnit and the compact view in both languages at
//!   80 and 120 columns: exit code, JUnit failures and the last line agree; at most 25 lines
//!   per root cause; its fix is a command with real names; no line is wider than the screen.
//!
//! One run of doctor is a closure (`args`, extra environment) → [`Output`], so each lab keeps
//! its own way of running doctor (its configuration, directory, variables).

use super::Output;
use serde_json::Value;
use std::path::PathBuf;

/// The most lines one root cause's block may take (the compact view's own limit).
pub const MAX_ROOT_LINES: usize = 25;

// ---------------------------------------------------------------------------------------------
// Normalising
// ---------------------------------------------------------------------------------------------

/// `text` with its run-to-run values replaced: each `(literal, word)` first (a stack's root
/// directory, a lab's prefix), then the generic rules of [`normalise_generic`].
pub fn normalise(text: &str, literals: &[(&str, &str)]) -> String {
    let mut s = text.to_string();
    let mut lits: Vec<&(&str, &str)> = literals.iter().filter(|(l, _)| !l.is_empty()).collect();
    // Longest first: a root directory before the prefix it contains.
    lits.sort_by_key(|(l, _)| std::cmp::Reverse(l.len()));
    for (lit, word) in lits {
        s = s.replace(lit, word);
    }
    fold_timeline(&sort_log_tails(&normalise_generic(&s)))
}

/// The timeline's lines under the root causes become one `<timeline>`: they show what the
/// engine still remembers of earlier tests on the same engine (other labs' containers of the
/// same names), which no snapshot can fix. That a timeline is shown stays in the snapshot
/// (a healthy stack has none); what it says is asserted by tests/timeline_lab.rs.
fn fold_timeline(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut inside = false;
    for l in text.split('\n') {
        if l.starts_with("Since <time> UTC, on the engine") || l.starts_with("<time> UTC 以降のエンジンの記録")
        {
            out.push("<timeline>");
            inside = true;
            continue;
        }
        if inside && l.starts_with("  • ") {
            continue;
        }
        inside = false;
        out.push(l);
    }
    out.join("\n")
}

/// A container's last log lines (`│ …`): only those that say why (`error`, `FATAL`, `PANIC`),
/// sorted. The engine interleaves a container's stdout and stderr as they arrived, so the order
/// and the ordinary lines around the reason differ from run to run; the reason does not.
fn sort_log_tails(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for l in text.split('\n') {
        if l.trim_start().starts_with("│ ") {
            if ["error", "FATAL", "PANIC"].iter().any(|w| l.contains(w)) {
                run.push(l);
            }
            continue;
        }
        run.sort();
        out.append(&mut run);
        out.push(l);
    }
    run.sort();
    out.append(&mut run);
    out.join("\n")
}

/// The rules every lab shares:
/// - `/tmp/<name>` → `/tmp/<tmp>` (tempfile directories);
/// - `dl-<6 hex>` → `dl-<lab>` (the Docker lab's prefix);
/// - a word of 12 or 64 hex digits → `<id>` (container ids), 8 after `fingerprint` → `<fp>`;
/// - `2026-12-02T18:50:56.123Z`, `2026-12-02 18:50:56`, `18:50:56`, `18:50` → `<time>`;
/// - a port of five digits after `:` or `port ` (published ports; the stack's own are four) →
///   `<port>`;
/// - a figure with a unit of time (`547ms`, `1.2 s`, `3m12s`, `2h`) → `<t>`;
/// - a figure with a unit of size or a percentage (`3.7 MB`, `12%`) → `<n>`.
pub fn normalise_generic(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let rest = &chars[i..];
        let prev = if i == 0 { ' ' } else { chars[i - 1] };
        let at_word_start = !prev.is_ascii_alphanumeric() && prev != '_' && prev != '.';
        if starts_with(rest, "/tmp/") {
            out.push_str("/tmp/<tmp>");
            i += 5;
            while i < chars.len() && !ends_path_part(chars[i]) {
                i += 1;
            }
            continue;
        }
        if at_word_start && starts_with(rest, "dl-") && rest.len() >= 9 && rest[3..9].iter().all(|c| is_hex(*c)) {
            out.push_str("dl-<lab>");
            i += 9;
            continue;
        }
        // A figure cut short by the screen's width (`host:328…`, `in 313…`).
        if (prev == ':' || at_word_start) && rest[0].is_ascii_digit() {
            let n = rest.iter().take_while(|c| c.is_ascii_digit() || **c == '.').count();
            if rest.get(n) == Some(&'…') {
                out.push_str("<n>");
                i += n;
                continue;
            }
        }
        // A fingerprint (8 hex digits after the word): per-run secrets give new ones each run.
        if at_word_start
            && (out.ends_with("fingerprint ") || out.ends_with("リント "))
            && rest.len() >= 8
            && rest[..8].iter().all(|c| is_hex(*c))
            && rest.get(8).is_none_or(|c| !c.is_ascii_alphanumeric())
        {
            out.push_str("<fp>");
            i += 8;
            continue;
        }
        if at_word_start && rest[0].is_ascii_hexdigit() {
            let n = rest.iter().take_while(|c| is_hex(**c)).count();
            let next = rest.get(n).copied().unwrap_or(' ');
            if (n == 12 || n == 64)
                && !next.is_ascii_alphanumeric()
                && rest[..n].iter().any(|c| c.is_ascii_alphabetic())
            {
                out.push_str("<id>");
                i += n;
                continue;
            }
        }
        if at_word_start && rest[0].is_ascii_digit() {
            if let Some(n) = timestamp_len(rest) {
                out.push_str("<time>");
                i += n;
                continue;
            }
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            let after_port = prev == ':' || out.ends_with("port ");
            if after_port && digits == 5 && !rest.get(5).is_some_and(|c| c.is_ascii_alphanumeric()) {
                out.push_str("<port>");
                i += 5;
                continue;
            }
            if let Some((n, word)) = figure_with_unit(rest) {
                out.push_str(word);
                i += n;
                continue;
            }
        }
        out.push(rest[0]);
        i += 1;
    }
    out
}

fn is_hex(c: char) -> bool {
    c.is_ascii_digit() || ('a'..='f').contains(&c)
}

fn starts_with(chars: &[char], s: &str) -> bool {
    let mut it = chars.iter();
    s.chars().all(|c| it.next() == Some(&c))
}

fn ends_path_part(c: char) -> bool {
    c == '/' || c.is_whitespace() || matches!(c, '\'' | '"' | '`' | ')' | '(' | ',' | ';' | ':' | '）' | '、' | '。')
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|±HH:MM]` or `HH:MM:SS[.frac]`: its length.
fn timestamp_len(c: &[char]) -> Option<usize> {
    let digit = |i: usize| c.get(i).is_some_and(|c| c.is_ascii_digit());
    let is = |i: usize, ch: char| c.get(i) == Some(&ch);
    let time_at = |s: usize| {
        digit(s)
            && digit(s + 1)
            && is(s + 2, ':')
            && digit(s + 3)
            && digit(s + 4)
            && is(s + 5, ':')
            && digit(s + 6)
            && digit(s + 7)
    };
    let frac = |mut n: usize| {
        if is(n, '.') && digit(n + 1) {
            n += 1;
            while digit(n) {
                n += 1;
            }
        }
        n
    };
    let date = (0..4).all(digit) && is(4, '-') && digit(5) && digit(6) && is(7, '-') && digit(8) && digit(9);
    if date {
        if (is(10, 'T') || is(10, ' ')) && time_at(11) {
            let mut n = frac(19);
            if is(n, 'Z') {
                n += 1;
            } else if (is(n, '+') || is(n, '-')) && digit(n + 1) && digit(n + 2) && is(n + 3, ':') {
                n += 6;
            }
            return Some(n);
        }
        return Some(10);
    }
    if time_at(0) && !digit(8) {
        return Some(frac(8));
    }
    // `07:01` (the timeline's clock times): an hour and a minute, nothing more after them.
    let hm = |i: usize| c.get(i).and_then(|c| c.to_digit(10));
    if let (Some(h1), Some(h2), true, Some(m1), Some(_)) = (hm(0), hm(1), is(2, ':'), hm(3), hm(4))
        && h1 * 10 + h2 < 24
        && m1 < 6
        && !digit(5)
        && !is(5, ':')
    {
        return Some(5);
    }
    None
}

/// A figure followed by a unit: `(length, replacement)`. Durations may chain (`3m12s`,
/// `1h 2m`); a space between figure and unit is allowed.
fn figure_with_unit(c: &[char]) -> Option<(usize, &'static str)> {
    const TIME: &[&str] = &["ms", "µs", "us", "ns", "min", "s", "m", "h", "d", "秒", "分", "時間", "日"];
    const SIZE: &[&str] = &["MiB", "GiB", "KiB", "kB", "KB", "MB", "GB", "B", "%"];
    let number = |at: usize| {
        let mut n = at;
        while c.get(n).is_some_and(|c| c.is_ascii_digit()) {
            n += 1;
        }
        if n > at && c.get(n) == Some(&'.') && c.get(n + 1).is_some_and(|c| c.is_ascii_digit()) {
            n += 1;
            while c.get(n).is_some_and(|c| c.is_ascii_digit()) {
                n += 1;
            }
        }
        (n > at).then_some(n)
    };
    let unit = |at: usize, units: &[&str]| -> Option<usize> {
        let at = if c.get(at) == Some(&' ') { at + 1 } else { at };
        let u = units.iter().filter(|u| starts_with(&c[at.min(c.len())..], u)).max_by_key(|u| u.chars().count())?;
        let end = at + u.chars().count();
        // A unit ends its word (`5 s` but not `5 seconds`, `3m` but not `3 more`).
        let next = c.get(end).copied().unwrap_or(' ');
        (!next.is_ascii_alphabetic() || u.chars().all(|ch| !ch.is_ascii())).then_some(end)
    };
    let n = number(0)?;
    if let Some(mut end) = unit(n, TIME) {
        // `3m12s`, `1h 2m`: the rest of a chained duration.
        while let Some(m) = number(end).or_else(|| (c.get(end) == Some(&' ')).then(|| number(end + 1)).flatten()) {
            match unit(m, TIME) {
                Some(e) => end = e,
                None => break,
            }
        }
        return Some((end, "<t>"));
    }
    unit(n, SIZE).map(|end| (end, "<n>"))
}

// ---------------------------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------------------------

fn snapshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(format!("{name}.txt"))
}

fn flag(var: &str) -> bool {
    std::env::var(var).map(|v| !matches!(v.trim(), "" | "0" | "false")).unwrap_or(false)
}

/// The text without line breaks, spaces and the ` \` that continues a wrapped command: what
/// stays when only the wrapping moved.
fn unwrapped(s: &str) -> String {
    s.replace(" \\\n", " ").chars().filter(|c| !c.is_whitespace()).collect()
}

/// Compares `text` (already normalised) with `tests/snapshots/<name>.txt`.
pub fn assert_snapshot(name: &str, text: &str) {
    let path = snapshot_path(name);
    if flag("UPDATE_SNAPSHOTS") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let Ok(stored) = std::fs::read_to_string(&path) else {
        assert!(
            !flag("CI"),
            "snapshot {} is missing (run with UPDATE_SNAPSHOTS=1 and commit it):\n{text}",
            path.display()
        );
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        eprintln!("snapshot {} written", path.display());
        return;
    };
    if stored == text || unwrapped(&stored) == unwrapped(text) {
        return;
    }
    let diff: Vec<String> = stored
        .lines()
        .zip(text.lines())
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .take(8)
        .map(|(i, (a, b))| format!("line {}:\n  stored: {a}\n  now:    {b}", i + 1))
        .collect();
    panic!(
        "snapshot {} differs (UPDATE_SNAPSHOTS=1 rewrites it):\n{}\n--- now ---\n{text}",
        path.display(),
        diff.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// One scenario, every form
// ---------------------------------------------------------------------------------------------

/// The words of a status in the compact view's last line (`render::status_label`).
fn status_word(status: &str, lang: &str) -> &'static str {
    match (status, lang) {
        ("ok", "en") => "OK",
        ("warning", "en") => "WARNING",
        ("critical", "en") => "CRITICAL",
        ("unknown", "en") => "UNKNOWN",
        ("skipped", "en") => "SKIPPED",
        ("ok", _) => "正常",
        ("skipped", _) => "スキップ",
        ("warning", _) => "警告",
        ("critical", _) => "重大",
        _ => "不明",
    }
}

/// The contract's exit code of a run whose worst status is `status` (skipped counts as ok).
fn exit_of(status: &str) -> i32 {
    match status {
        "warning" => 1,
        "critical" => 2,
        "unknown" => 3,
        _ => 0,
    }
}

/// `<…>` placeholders left in a text (`<service>`, `<compose project dir>`).
pub fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('<') {
        let tail = &rest[at + 1..];
        match tail.find('>') {
            Some(end)
                if end > 0 && !tail[..end].contains(['<', '\n', '=']) && !tail[..end].starts_with([' ', '/', '-']) =>
            {
                out.push(format!("<{}>", &tail[..end]));
                rest = &tail[end + 1..];
            }
            _ => rest = tail,
        }
    }
    out
}

/// Commands a fix line may start with (as `render::wrap` knows them).
const COMMANDS: &[&str] = &["docker", "cd", "doctor", "sudo", "systemctl", "psql", "redis-cli", "unset", "export"];

/// The blocks of the compact view, split at blank lines.
fn blocks(text: &str) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = vec![Vec::new()];
    for l in text.lines() {
        if l.trim().is_empty() {
            out.push(Vec::new());
        } else {
            out.last_mut().unwrap().push(l);
        }
    }
    out.retain(|b| !b.is_empty());
    out
}

/// One run of doctor: its arguments and extra environment.
pub type RunDoctor<'a> = dyn Fn(&[&str], &[(&str, &str)]) -> Output + 'a;

/// What [`check`] saw, for a scenario's own assertions.
pub struct Screens {
    /// The JSON report.
    pub json: Value,
    pub exit_code: i32,
    /// The compact views: (lang, width, raw text).
    pub tables: Vec<(&'static str, usize, String)>,
    pub junit: String,
}

impl Screens {
    /// The compact view in `lang` at `width`.
    pub fn table(&self, lang: &str, width: usize) -> &str {
        &self.tables.iter().find(|(l, w, _)| *l == lang && *w == width).expect("a table of that size").2
    }
}

/// Runs one scenario (`args`, e.g. `["all"]`) through `run` as JSON, JUnit and the compact view
/// in English and Japanese at 80 and 120 columns, asserts that they tell one story, and stores
/// the normalised compact views as `tests/snapshots/<name>-<lang>-<width>.txt`.
pub fn check(name: &str, args: &[&str], run: &RunDoctor, literals: &[(&str, &str)]) -> Screens {
    let with = |extra: &[&str]| -> Vec<String> { args.iter().chain(extra).map(|s| s.to_string()).collect() };
    let call = |a: &[String], env: &[(&str, &str)]| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run(&a, env)
    };

    // JSON: the exit code it states is the process's, and follows its status.
    let out = call(&with(&["--format", "json"]), &[]);
    let json = super::report::json(&out);
    let code = out.code;
    let status = json["status"].as_str().unwrap_or_default().to_string();
    assert_eq!(json["exit_code"], code, "{name}: the JSON's exit_code and the process's\n{}", out.stderr);
    assert_eq!(code, exit_of(&status), "{name}: exit {code} for status {status}\n{}", out.stderr);
    let checks = json["checks"].as_array().expect("checks").clone();
    let failing: Vec<String> = checks
        .iter()
        .filter(|c| matches!(c["status"].as_str(), Some("warning" | "critical" | "unknown")))
        .map(|c| format!("{} ({})", c["code"].as_str().unwrap(), c["target"].as_str().unwrap()))
        .collect();
    assert_eq!(code == 0, failing.is_empty(), "{name}: exit {code}, failing checks {failing:?}");

    // JUnit: as many failures as checks that make the run fail, and the same ones.
    let out = call(&with(&["--format", "junit"]), &[]);
    assert_eq!(out.code, code, "{name}: JUnit run exit code\n{}", out.stderr);
    let junit = out.stdout.clone();
    let head = junit.lines().find(|l| l.starts_with("<testsuites")).expect("<testsuites");
    assert!(head.contains(&format!("failures=\"{}\"", failing.len())), "{name}: {head}\nfailing: {failing:?}");
    let mut junit_failing: Vec<String> = Vec::new();
    let mut case = String::new();
    for l in junit.lines().map(str::trim) {
        if let Some(rest) = l.strip_prefix("<testcase ") {
            case = rest.split(" name=\"").nth(1).and_then(|n| n.split('"').next()).unwrap_or_default().to_string();
        }
        if l.starts_with("<failure ") {
            junit_failing.push(case.clone());
        }
    }
    assert_eq!(junit_failing.len(), failing.len(), "{name}: JUnit failing {junit_failing:?}, JSON {failing:?}");
    for f in &failing {
        let (code_, target) = f.split_once(' ').unwrap();
        assert!(
            junit_failing.iter().any(|j| j.starts_with(code_) && j.ends_with(target)),
            "{name}: {f} fails in JSON but not in JUnit: {junit_failing:?}"
        );
    }

    let roots: Vec<String> = json["root_causes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["code"].as_str().unwrap_or_default().to_string())
        .collect();
    // The roots with a confirmed or suspected cause that has a remedy: their fix must show.
    let fixes: Vec<String> = roots
        .iter()
        .filter(|code| {
            checks.iter().filter(|c| c["code"] == code.as_str()).take(1).any(|c| {
                c["causes"].as_array().into_iter().flatten().any(|k| {
                    matches!(k["verdict"].as_str(), Some("confirmed" | "suspected"))
                        && !k["remedy"].as_str().unwrap_or("").trim().is_empty()
                })
            })
        })
        .cloned()
        .collect();
    let mut tables = Vec::new();
    for lang in ["en", "ja"] {
        for width in [80usize, 120] {
            let cols = width.to_string();
            let out = call(&with(&["--lang", lang]), &[("COLUMNS", cols.as_str())]);
            let what = format!("{name} {lang} {width}");
            assert_eq!(out.code, code, "{what}: exit code\n{}", out.stderr);
            let text = out.stdout.clone();
            screen(&what, &text, lang, width, &status, &roots, &fixes);
            assert_snapshot(&format!("{name}-{lang}-{width}"), &normalise(&text, literals));
            tables.push((lang, width, text));
        }
    }
    Screens { json, exit_code: code, tables, junit }
}

/// One compact view: the last line says the run's status (and names the first root cause), no
/// line is wider than `width`, each root cause takes at most [`MAX_ROOT_LINES`] lines and, when
/// it has a fix, the fix holds a command with no `<placeholder>`.
fn screen(what: &str, text: &str, lang: &str, width: usize, status: &str, roots: &[String], fixes: &[String]) {
    for l in text.lines() {
        let w = unicode_width::UnicodeWidthStr::width(l);
        assert!(w <= width, "{what}: a line of {w} columns:\n{l}\n--- screen ---\n{text}");
    }
    let bs = blocks(text);
    let last = bs.last().expect("a last line").join(" ");
    let word = status_word(status, lang);
    assert!(last.starts_with(&format!("{word}:")), "{what}: the last line is not {word}: {last}\n{text}");
    if let Some(first) = roots.first() {
        assert!(last.contains(first.as_str()), "{what}: the last line does not name {first}: {last}");
    }
    assert!(!roots.is_empty() || status == "ok" || status == "unknown", "{what}: {status} with no root cause");
    for root in roots {
        let block = bs
            .iter()
            .find(|b| b[0].split_whitespace().nth(2) == Some(root.as_str()))
            .unwrap_or_else(|| panic!("{what}: no block for root cause {root}:\n{text}"));
        assert!(block.len() <= MAX_ROOT_LINES, "{what}: {} lines for {root}:\n{}", block.len(), block.join("\n"));
        let fix_at =
            block.iter().position(|l| l.trim_start().starts_with("Fix (") || l.trim_start().starts_with("対処（"));
        assert!(
            fix_at.is_some() || !fixes.contains(root),
            "{what}: {root} has a remedy, but no fix on screen:\n{text}"
        );
        if let Some(at) = fix_at {
            let fix = &block[at..];
            let commands: Vec<&&str> =
                fix.iter().filter(|l| COMMANDS.contains(&l.split_whitespace().next().unwrap_or(""))).collect();
            let refers = fix[0].contains("the same command") || fix[0].contains("と同じコマンド");
            assert!(refers || !commands.is_empty(), "{what}: {root}'s fix holds no command:\n{}", fix.join("\n"));
            // The commands, with their ` \` continuations: what is pasted into the shell.
            let mut pasted = String::new();
            let mut in_command = false;
            let mut continues = false;
            for l in fix {
                let first = l.split_whitespace().next().unwrap_or("");
                in_command = COMMANDS.contains(&first) || (in_command && continues);
                continues = l.trim_end().ends_with('\\');
                if in_command {
                    pasted.push_str(l.trim_end());
                    pasted.push('\n');
                }
            }
            let left = placeholders(&pasted);
            assert!(left.is_empty(), "{what}: {root}'s fix keeps {left:?}:\n{}", fix.join("\n"));
        }
    }
}
