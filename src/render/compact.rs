//! The first screen at 3 a.m.: what is wrong, why, and what to type, in a screenful.
//!
//! The root cause first, with only its confirmed and suspected rows, their evidence and one
//! fix per confirmed fact (else the first suspicion's); the checks it explains fold under it
//! as one line each, with no table and no remedy of their own; one line for every other check
//! that is not ok; all the OKs on one line; the verdict again as the last line. At most
//! [`MAX_ROOT_LINES`] lines per root cause. `-v` gives the full tables (`table.rs`), Markdown
//! the full incident report: this view leaves nothing out that those do not hold.

use super::wrap::{display_width, truncate, wrap, wrap_prose};
use super::{Style, counts, paint, status_icon, status_label, verdict_label};
use crate::lang::Lang;
use crate::report::{Check, Report, Status, Verdict};

/// A root cause's block never takes more than this many lines.
pub const MAX_ROOT_LINES: usize = 25;

pub fn report(r: &Report, style: Style) -> String {
    let width = style.width.max(40);
    let mut out: Vec<String> = Vec::new();
    let status = paint(status_label(r.status, r.lang), r.status, style.color);
    let head = format!("doctor {} · {} · {} · {} ms", r.command, status, counts(r), r.duration_ms);
    if display_width(&head) <= width + color_extra(style, r.status) {
        out.push(head);
    } else {
        // Too wide with every count: the counts on a line of their own, never cut.
        out.push(format!("doctor {} · {} · {} ms", r.command, status, r.duration_ms));
        out.extend(wrap(&counts(r), width, "  "));
    }
    if style.quiet {
        return out.join("\n") + "\n";
    }
    let mut shown: Vec<(&str, &str)> = Vec::new();
    let roots: Vec<&Check> = r
        .root_causes
        .iter()
        .filter_map(|rc| r.checks.iter().find(|c| c.code == rc.code && c.target == rc.target))
        .collect();
    for root in &roots {
        shown.push((&root.code, &root.target));
    }
    // One fix per fact: a command already printed (by an earlier root, or a cause before) is
    // not printed again; it remembers which cause printed it first.
    let mut printed: Vec<(String, String)> = Vec::new();
    for root in &roots {
        out.push(String::new());
        let (mut block, fix, keep) = root_block(root, r.lang, style, width, &mut printed);
        let deps: Vec<&Check> = crate::root_cause::dependents(&r.checks, root)
            .into_iter()
            .filter(|d| !shown.contains(&(d.code.as_str(), d.target.as_str())))
            .collect();
        let mut dep_lines = Vec::new();
        if !deps.is_empty() {
            dep_lines.push(match r.lang {
                Lang::En => "    It also explains:".to_string(),
                Lang::Ja => "    これが原因で失敗しているチェック:".to_string(),
            });
            for d in &deps {
                shown.push((&d.code, &d.target));
                dep_lines.push(truncate(
                    &format!("      ↳ {} {} {} · {}", status_icon(d.status), d.code, d.heading(), d.summary),
                    width,
                ));
            }
        }
        // Past the limit the fix stays whole, the dependents give way to at most a third of
        // the block (the rest counted on one line), and the details to both.
        // (fewer still when the root's own lines and its fix need the room)
        let fix_len = fix.len().min(MAX_ROOT_LINES / 2);
        let dep_room = (MAX_ROOT_LINES / 3).min(MAX_ROOT_LINES.saturating_sub(fix_len + keep + 1)).max(3);
        if dep_lines.len() > dep_room {
            let more = dep_lines.len() - (dep_room - 1);
            dep_lines.truncate(dep_room - 1);
            dep_lines.push(match r.lang {
                Lang::En => format!("      ↳ … and {more} more (-v)"),
                Lang::Ja => format!("      ↳ …ほか {more} 件（-v）"),
            });
        }
        // The root's own line, and one more, always stay above it.
        let fix: Vec<String> = fix.into_iter().take(MAX_ROOT_LINES.saturating_sub(2 + dep_lines.len())).collect();
        let room = MAX_ROOT_LINES.saturating_sub(fix.len() + dep_lines.len());
        if block.len() > room {
            block.truncate(room.saturating_sub(1).max(2));
            block.push(match r.lang {
                Lang::En => "    … more with -v".to_string(),
                Lang::Ja => "    …続きは -v で".to_string(),
            });
        }
        block.extend(fix);
        block.extend(dep_lines);
        out.extend(block);
    }
    if !roots.is_empty() {
        out.extend(timeline_lines(r, width));
    }
    let others: Vec<&Check> = r
        .checks
        .iter()
        .filter(|c| !matches!(c.status, Status::Ok | Status::Skipped))
        .filter(|c| !shown.contains(&(c.code.as_str(), c.target.as_str())))
        .collect();
    if !others.is_empty() {
        out.push(String::new());
        for c in others {
            out.push(truncate(&one_line(c, r.lang, style), width + color_extra(style, c.status)));
        }
    }
    let advice: Vec<(&str, &str)> =
        r.checks.iter().flat_map(|c| c.advice.iter().map(move |a| (c.code.as_str(), a.as_str()))).collect();
    if !advice.is_empty() {
        out.push(String::new());
        out.push(match r.lang {
            Lang::En => "Advice (no live symptom; the exit code is unchanged):".to_string(),
            Lang::Ja => "助言（現在の症状はなく、終了コードには影響しない）:".to_string(),
        });
        for (code, a) in advice {
            out.extend(wrap_prose(&format!("  • {code}: {a}"), width, "", "    ").into_iter().take(3));
        }
    }
    let oks: Vec<&str> = codes(r, Status::Ok);
    let skipped: Vec<&Check> = r.checks.iter().filter(|c| c.status == Status::Skipped).collect();
    if !oks.is_empty() || !skipped.is_empty() {
        out.push(String::new());
    }
    if !oks.is_empty() {
        let head = match r.lang {
            Lang::En => format!("{} {} ok: ", status_icon(Status::Ok), oks.len()),
            Lang::Ja => format!("{} 正常 {} 件: ", status_icon(Status::Ok), oks.len()),
        };
        out.extend(wrap_prose(&format!("{head}{}", oks.join(" ")), width, "", "    "));
    }
    if !skipped.is_empty() {
        let head = match r.lang {
            Lang::En => format!("{} {} skipped: ", status_icon(Status::Skipped), skipped.len()),
            Lang::Ja => format!("{} スキップ {} 件: ", status_icon(Status::Skipped), skipped.len()),
        };
        // Grouped by reason: "PG002 PG003 PG004 (no connection to the server (see PG001))".
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for c in &skipped {
            match groups.iter_mut().find(|(why, _)| *why == c.summary) {
                Some((_, codes)) if codes.contains(&c.code.as_str()) => {}
                Some((_, codes)) => codes.push(&c.code),
                None => groups.push((&c.summary, vec![&c.code])),
            }
        }
        let list: Vec<String> = groups.iter().map(|(why, codes)| format!("{} ({why})", codes.join(" "))).collect();
        out.extend(wrap_prose(&format!("{head}{}", list.join("; ")), width, "", "    ").into_iter().take(3));
    }
    out.push(String::new());
    out.extend(wrap_prose(&last_line(r, &roots, style), width + color_extra(style, r.status), "", ""));
    out.join("\n") + "\n"
}

/// Most timeline lines under the root causes.
const TIMELINE_LINES: usize = 3;

/// Since when, and what changed: the latest changes and faults the engine logged, a few lines
/// under the root causes (none when nothing changed or failed).
fn timeline_lines(r: &Report, width: usize) -> Vec<String> {
    let Some(t) = &r.timeline else { return Vec::new() };
    let lines = crate::timeline::short_lines(t, TIMELINE_LINES);
    let Some(since) = crate::timeline::since(t) else { return Vec::new() };
    let more = t.notable().count() > lines.len();
    let mut out = vec![
        String::new(),
        match (r.lang, more) {
            (Lang::En, false) => format!("Since {since} UTC, on the engine:"),
            (Lang::En, true) => format!("Since {since} UTC, on the engine (latest {}; -v for all):", lines.len()),
            (Lang::Ja, false) => format!("{since} UTC 以降のエンジンの記録:"),
            (Lang::Ja, true) => format!("{since} UTC 以降のエンジンの記録（直近 {} 件、全件は -v）:", lines.len()),
        },
    ];
    out.extend(lines.iter().map(|l| truncate(&format!("  • {l}"), width)));
    out
}

/// The root cause: its line, its summary, its confirmed and suspected rows, its fix.
/// Its details, and its fix apart (the fix is kept whole when the details are cut).
fn root_block(
    c: &Check,
    lang: Lang,
    style: Style,
    width: usize,
    printed: &mut Vec<(String, String)>,
) -> (Vec<String>, Vec<String>, usize) {
    let mut out = vec![truncate(&one_line_head(c, lang, style), width + color_extra(style, c.status))];
    out.extend(wrap(&c.summary, width, "    "));
    if let Some(t) = c.evidence.get("token") {
        out.extend(wrap_prose(&super::table::token_line(t, lang), width, "    ", "      "));
    }
    out.extend(last_log_lines(c, lang, width));
    // What it is and the line that explains it stay; the cause rows give way first.
    let keep = out.len();
    let mut applying: Vec<_> =
        c.causes.iter().filter(|k| matches!(k.verdict, Verdict::Confirmed | Verdict::Suspected)).collect();
    applying.sort_by_key(|k| k.verdict != Verdict::Confirmed);
    for k in &applying {
        let label = verdict_label(k.verdict, lang);
        let head = format!("    {label} · {}: ", k.id);
        let text = if k.evidence.is_empty() { k.cause.clone() } else { k.evidence.clone() };
        let pad = " ".repeat(6);
        out.extend(wrap_prose(&format!("{head}{text}"), width, "", &pad).into_iter().take(4));
    }
    // One fix per fact: every confirmed cause's, else the first suspicion's.
    let mut fix = Vec::new();
    let confirmed: Vec<_> = applying.iter().filter(|k| k.verdict == Verdict::Confirmed).collect();
    let fixes: Vec<_> = if confirmed.is_empty() { applying.iter().take(1).collect() } else { confirmed };
    for k in fixes {
        if k.remedy.trim().is_empty() {
            continue;
        }
        let owner = format!("{} {}", c.code, k.id);
        match new_lines(&k.remedy, &owner, printed) {
            None => {
                let first = printed.iter().find(|(cmd, _)| remedy_commands(&k.remedy).any(|l| l == cmd));
                let first = first.map(|(_, o)| o.as_str()).unwrap_or_default();
                fix.extend(wrap_prose(
                    &match lang {
                        Lang::En => format!("    Fix ({}): the same command as for {first}, above.", k.id),
                        Lang::Ja => format!("    対処（{}）: 上の {first} と同じコマンド。", k.id),
                    },
                    width,
                    "",
                    "      ",
                ));
            }
            Some(text) => {
                fix.push(match lang {
                    Lang::En => format!("    Fix ({}):", k.id),
                    Lang::Ja => format!("    対処（{}）:", k.id),
                });
                fix.extend(wrap(&text, width, "      "));
            }
        }
    }
    (out, fix, keep)
}

/// The command lines of a remedy, trimmed.
fn remedy_commands(remedy: &str) -> impl Iterator<Item = &str> {
    remedy.lines().map(str::trim).filter(|l| super::wrap::is_command(l))
}

/// A remedy without the commands already printed, and its own commands remembered as
/// `owner`'s; `None` when it has commands and every one of them was printed before (the fix is
/// the same fact's: it is referred to, not repeated).
fn new_lines(remedy: &str, owner: &str, printed: &mut Vec<(String, String)>) -> Option<String> {
    let seen = |l: &str, printed: &[(String, String)]| printed.iter().any(|(cmd, _)| cmd == l);
    let commands: Vec<&str> = remedy_commands(remedy).collect();
    if !commands.is_empty() && commands.iter().all(|l| seen(l, printed)) {
        return None;
    }
    let mut kept = Vec::new();
    let mut dropping = false; // an indented line continues the command before it
    for line in remedy.lines() {
        let t = line.trim();
        if dropping && line.starts_with([' ', '\t']) {
            continue;
        }
        dropping = false;
        if super::wrap::is_command(t) {
            if seen(t, printed) {
                dropping = true;
                continue;
            }
            printed.push((t.to_string(), owner.to_string()));
        }
        kept.push(line);
    }
    Some(kept.join("\n"))
}

/// The most containers whose last log lines the root block shows.
const LOG_CONTAINERS: usize = 2;

/// What an ended container last wrote (`last_log_lines`: container → lines), one line each,
/// cut to the width: at most [`LOG_CONTAINERS`] × (1 + 5) lines of the root block's 25.
pub(super) fn last_log_lines(c: &Check, lang: Lang, width: usize) -> Vec<String> {
    let Some(serde_json::Value::Object(by)) = c.evidence.get("last_log_lines") else { return vec![] };
    let mut out = Vec::new();
    for (name, lines) in by.iter().take(LOG_CONTAINERS) {
        out.push(match lang {
            Lang::En => format!("    last log lines of {name}:"),
            Lang::Ja => format!("    {name} の最後のログ:"),
        });
        for l in lines.as_array().into_iter().flatten().filter_map(|l| l.as_str()) {
            out.push(truncate(&format!("      │ {l}"), width));
        }
    }
    out
}

/// `✖ CRITICAL PG001  PostgreSQL: cannot connect · target`
fn one_line_head(c: &Check, lang: Lang, style: Style) -> String {
    let label = status_label(c.status, lang);
    let badge = format!("{} {label}{}", status_icon(c.status), " ".repeat(8usize.saturating_sub(display_width(label))));
    format!("{} {}  {} · {}", paint(&badge, c.status, style.color), c.code, c.heading(), c.target)
}

/// A check that is not the root cause: one line, with its summary.
fn one_line(c: &Check, lang: Lang, style: Style) -> String {
    format!("{} — {}", one_line_head(c, lang, style), c.summary)
}

/// The bytes the colour codes add to a painted line (they take no column).
fn color_extra(style: Style, s: Status) -> usize {
    if style.color { paint("", s, true).len() } else { 0 }
}

fn codes(r: &Report, s: Status) -> Vec<&str> {
    let mut v: Vec<&str> = Vec::new();
    for c in r.checks.iter().filter(|c| c.status == s) {
        if !v.contains(&c.code.as_str()) {
            v.push(&c.code);
        }
    }
    v
}

/// The verdict again, last, where the eye lands when the screen stops scrolling.
fn last_line(r: &Report, roots: &[&Check], style: Style) -> String {
    let status = paint(status_label(r.status, r.lang), r.status, style.color);
    match (roots.first(), r.lang) {
        (None, Lang::En) => format!("{status}: {}.", counts(r)),
        (None, Lang::Ja) => format!("{status}: {}。", counts(r)),
        (Some(root), Lang::En) => {
            let more =
                if roots.len() > 1 { format!(" (and {} more root causes)", roots.len() - 1) } else { String::new() };
            format!("{status}: start with {} ({}){more}; every row with -v.", root.code, root.title)
        }
        (Some(root), Lang::Ja) => {
            let more = if roots.len() > 1 {
                format!("（ほか根本原因 {} 件）", roots.len() - 1)
            } else {
                String::new()
            };
            format!("{status}: まず {}（{}）から{more}。全行は -v で。", root.code, root.title)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Finding;
    use crate::report::{CauseReport, RootCause};

    fn cause(id: &str, verdict: Verdict, remedy: &str) -> CauseReport {
        CauseReport {
            id: id.into(),
            verdict,
            cause: format!("cause {id}"),
            remedy: remedy.into(),
            evidence: format!("evidence of {id}"),
            key: None,
            args: None,
        }
    }

    /// Two root causes (DK002 and PG001, neither explaining the other) whose confirmed and
    /// suspected causes give the same command: it is printed once, under the first (confirmed)
    /// cause; a later fix with nothing new refers to it; a fix with one new command prints
    /// only that one.
    fn report() -> Report {
        let findings = vec![
            Finding::new("DK002", "containers").status(Status::Critical, "redis: exited"),
            Finding::new("PG001", "postgres@localhost:5432/authdb").status(Status::Critical, "refused"),
        ];
        let mut r = Report::build("all", findings, Lang::En, String::new(), 5);
        let start = "Read why it ended, then start it again:\ndocker logs ai-micro-redis --tail 100\n\
                     cd /srv/redis && docker compose up -d redis";
        r.checks[0].causes = vec![
            cause("container-exited", Verdict::Confirmed, start),
            cause("restart-loop", Verdict::Confirmed, "Its log says why:\ndocker logs ai-micro-redis --tail 100"),
        ];
        r.checks[1].causes = vec![
            cause("server-down", Verdict::Confirmed, start),
            cause(
                "container-stopped",
                Verdict::Confirmed,
                "Start it:\ncd /srv/redis && docker compose up -d redis\ndocker start ai-micro-postgres",
            ),
        ];
        r.root_causes = ["DK002", "PG001"]
            .iter()
            .zip(&r.checks)
            .map(|(code, c)| RootCause {
                code: code.to_string(),
                target: c.target.clone(),
                summary: c.summary.clone(),
                explains: vec![],
            })
            .collect();
        r
    }

    #[test]
    fn one_fix_per_fact_the_same_command_is_printed_once() {
        for lang in [Lang::En, Lang::Ja] {
            let mut r = report();
            r.lang = lang;
            let text = super::report(&r, Style { width: 100, ..Style::plain() });
            assert_eq!(text.matches("docker logs ai-micro-redis --tail 100").count(), 1, "{text}");
            assert_eq!(text.matches("docker compose up -d redis").count(), 1, "{text}");
            // The confirmed cause that came first printed it; the others refer to it.
            let first = text.find("container-exited").unwrap();
            assert!(text.find("docker logs ai-micro-redis").unwrap() > first, "{text}");
            let same = match lang {
                Lang::En => "the same command as for DK002 container-exited",
                Lang::Ja => "上の DK002 container-exited と同じコマンド",
            };
            assert_eq!(text.matches(same).count(), 2, "restart-loop and server-down refer to it:\n{text}");
            // A fix with one command of its own keeps it, without the repeated one.
            assert_eq!(text.matches("docker start ai-micro-postgres").count(), 1, "{text}");
        }
    }

    #[test]
    fn distinct_commands_are_all_printed() {
        let mut r = report();
        r.checks[1].causes[0].remedy = "docker logs ai-micro-postgres --tail 100".into();
        let text = super::report(&r, Style { width: 100, ..Style::plain() });
        assert_eq!(text.matches("docker logs ai-micro-postgres --tail 100").count(), 1, "{text}");
        assert_eq!(text.matches("docker logs ai-micro-redis --tail 100").count(), 1, "{text}");
        assert_eq!(text.matches("the same command").count(), 1, "only restart-loop repeats:\n{text}");
    }
}
