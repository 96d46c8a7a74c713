//! `--format nagios`: a plugin's output as the Nagios plugin guidelines shape it, so that
//! Nagios, Icinga, Naemon or check_mk can run doctor as a check as it is:
//!
//! ```text
//! DOCTOR CRITICAL - 2 critical, 1 warning: PG001 PostgreSQL: cannot connect; ... | critical=2;;;0 ...
//! CRITICAL: PG001 PostgreSQL: cannot connect (postgres@...) - connection refused [container-stopped confirmed]
//! ```
//!
//! The first line is `SERVICE STATUS - text | perfdata`; one long-output line follows per
//! failing check. The status word and the exit code follow the **worst check** (0 OK,
//! 1 WARNING, 2 CRITICAL, 3 UNKNOWN; skipped checks count as OK), and `--fail-on` does not
//! apply: what a WARNING should wake someone for is Nagios's own decision (its notification
//! options), and a plugin that said OK about a warning would hide it from the dashboard.
//! Perfdata carries the same labels on every run (graphs need stable series): one count per
//! status and the run's duration in seconds. No `|` or line break can reach the text, where
//! Nagios would read them as the start of perfdata or of long output.

use super::status_label;
use crate::lang::Lang;
use crate::report::{Report, Status, Verdict, exit_code};

/// Checks named on the first line; the rest are counted (and listed in long output).
const NAMED: usize = 3;
/// Nagios 3 truncates plugin output at 4 KB (Nagios 4 at 8 KB): one long-output line stays short.
const LINE_MAX: usize = 240;

/// The plugin's exit code: the worst check's, whatever `--fail-on` says (see the module doc).
pub fn exit(r: &Report) -> i32 {
    exit_code(r.status)
}

/// The status word of a plugin exit code.
fn word(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "WARNING",
        2 => "CRITICAL",
        _ => "UNKNOWN",
    }
}

/// Failing statuses, worst first (the order of the counts and of the long output).
const FAILING: [Status; 3] = [Status::Critical, Status::Unknown, Status::Warning];

pub fn report(r: &Report) -> String {
    let failing: Vec<_> =
        FAILING.iter().flat_map(|s| r.checks.iter().filter(move |c| c.status == *s)).collect::<Vec<_>>();
    let mut counts: Vec<String> = FAILING.iter().filter(|s| r.count(**s) > 0).map(|s| count(r, *s)).collect();
    if failing.is_empty() {
        counts = [Status::Ok, Status::Skipped].iter().filter(|s| r.count(**s) > 0).map(|s| count(r, *s)).collect();
    }
    let mut text = if counts.is_empty() {
        match r.lang {
            Lang::En => "no checks".to_string(),
            Lang::Ja => "チェックなし".to_string(),
        }
    } else {
        counts.join(", ")
    };
    if !failing.is_empty() {
        let mut named: Vec<String> =
            failing.iter().take(NAMED).map(|c| format!("{} {}", c.code, c.heading())).collect();
        if failing.len() > NAMED {
            let more = failing.len() - NAMED;
            named.push(match r.lang {
                Lang::En => format!("{more} more"),
                Lang::Ja => format!("他 {more} 件"),
            });
        }
        text.push_str(": ");
        text.push_str(&named.join("; "));
    }
    let mut out = format!("DOCTOR {} - {} | {}\n", word(exit(r)), one_line(&text), perfdata(r));
    for c in failing {
        let mut line =
            format!("{}: {} {} ({}) - {}", word(exit_code(c.status)), c.code, c.heading(), c.target, c.summary);
        let causes: Vec<String> = c
            .causes
            .iter()
            .filter(|k| matches!(k.verdict, Verdict::Confirmed | Verdict::Suspected))
            .map(|k| format!("{} {}", k.id, k.verdict.name()))
            .collect();
        if !causes.is_empty() {
            line.push_str(&format!(" [{}]", causes.join(", ")));
        }
        out.push_str(&shorten(&one_line(&line), LINE_MAX));
        out.push('\n');
    }
    out
}

fn count(r: &Report, s: Status) -> String {
    match r.lang {
        Lang::En => format!("{} {}", r.count(s), s.name()),
        Lang::Ja => format!("{} {}", status_label(s, Lang::Ja), r.count(s)),
    }
}

/// `label=value[UOM];warn;crit;min;max`, the same labels on every run.
fn perfdata(r: &Report) -> String {
    let mut p: Vec<String> = [Status::Critical, Status::Unknown, Status::Warning, Status::Ok, Status::Skipped]
        .iter()
        .map(|s| format!("{}={};;;0", label(s.name()), r.count(*s)))
        .collect();
    p.push(format!("{}={:.3}s;;;0", label("duration"), r.duration_ms as f64 / 1000.0));
    p.join(" ")
}

/// A perfdata label: quoted when it holds a space, `=` and `'` kept out (the guidelines
/// allow `''` for a quote, which many parsers mishandle; doctor's labels need neither).
fn label(name: &str) -> String {
    let clean: String = name.chars().filter(|c| *c != '=' && *c != '\'').collect();
    if clean.contains(' ') { format!("'{clean}'") } else { clean }
}

/// Text Nagios reads as text: no `|` (perfdata starts there), no line breaks or control
/// characters (long output starts there), runs of spaces folded.
fn one_line(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c == '|' {
                '/'
            } else if c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Finding;

    fn report(statuses: &[(&'static str, Status, &str)], fail_on: Status) -> Report {
        let findings = statuses
            .iter()
            .map(|(code, s, summary)| Finding::new(code, "t | x").status(*s, summary.to_string()))
            .collect();
        let mut r = Report::build("all", findings, Lang::En, "2026-11-28T12:00:00Z".into(), 262);
        r.recompute(fail_on);
        r
    }

    /// The guidelines' grammar of a perfdata item: `'label'=value[UOM];[warn];[crit];[min];[max]`.
    fn perf_item_ok(item: &str) -> bool {
        let Some((label, rest)) = item.rsplit_once('=') else { return false };
        let label_ok = if let Some(q) = label.strip_prefix('\'') {
            q.strip_suffix('\'').is_some_and(|l| !l.is_empty() && !l.contains('\'') && !l.contains('='))
        } else {
            !label.is_empty() && !label.contains(' ') && !label.contains('\'') && !label.contains('=')
        };
        let fields: Vec<&str> = rest.split(';').collect();
        let value = fields[0];
        let num_end = value.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')).unwrap_or(value.len());
        let (num, uom) = value.split_at(num_end);
        let uom_ok = ["", "s", "ms", "us", "%", "B", "KB", "MB", "TB", "c"].contains(&uom);
        let thresholds_ok = fields[1..].iter().all(|f| f.is_empty() || f.parse::<f64>().is_ok());
        label_ok && num.parse::<f64>().is_ok() && uom_ok && fields.len() <= 5 && thresholds_ok
    }

    fn check_shape(out: &str) -> (String, Vec<String>) {
        let mut lines = out.lines();
        let first = lines.next().unwrap();
        let (text, perf) = first.split_once(" | ").expect("perfdata after ' | '");
        assert!(!text.contains('|') && !perf.contains('|'), "{first}");
        for item in perf.split(' ') {
            assert!(perf_item_ok(item), "bad perfdata item {item:?} in {first}");
        }
        (text.to_string(), lines.map(str::to_string).collect())
    }

    #[test]
    fn a_critical_run_names_its_failures_with_perfdata() {
        let r = report(
            &[
                ("PG001", Status::Critical, "connection refused"),
                ("RD002", Status::Warning, "95% of maxmemory"),
                ("PG002", Status::Ok, "fine"),
            ],
            Status::Warning,
        );
        let out = super::report(&r);
        let (text, long) = check_shape(&out);
        assert!(text.starts_with("DOCTOR CRITICAL - 1 critical, 1 warning: PG001 "), "{text}");
        assert!(text.contains("; RD002 "), "{text}");
        assert!(
            out.lines()
                .next()
                .unwrap()
                .ends_with("| critical=1;;;0 unknown=0;;;0 warning=1;;;0 ok=1;;;0 skipped=0;;;0 duration=0.262s;;;0")
        );
        assert_eq!(long.len(), 2, "{out}");
        assert!(long[0].starts_with("CRITICAL: PG001 ") && long[0].contains("(t / x) - connection refused"), "{out}");
        assert!(long[1].starts_with("WARNING: RD002 "), "{out}");
        assert_eq!(exit(&r), 2);
    }

    /// Under `--fail-on critical` doctor exits 0 for a warning, but the plugin still says
    /// WARNING and exits 1: the status word and the exit code follow the worst check.
    #[test]
    fn a_warning_stays_warning_under_fail_on_critical() {
        let r = report(&[("RD002", Status::Warning, "95%"), ("PG002", Status::Ok, "")], Status::Critical);
        assert_eq!(r.exit_code, 0);
        assert_eq!(exit(&r), 1);
        assert!(super::report(&r).starts_with("DOCTOR WARNING - 1 warning: RD002 "));
    }

    #[test]
    fn ok_unknown_and_skipped_runs() {
        let ok = report(&[("PG002", Status::Ok, ""), ("PG003", Status::Skipped, "")], Status::Warning);
        let out = super::report(&ok);
        let (text, long) = check_shape(&out);
        assert_eq!(text, "DOCTOR OK - 1 ok, 1 skipped");
        assert!(long.is_empty());
        assert_eq!(exit(&ok), 0);
        let unknown =
            report(&[("PG002", Status::Unknown, "timed out"), ("PG003", Status::Warning, "")], Status::Warning);
        assert!(super::report(&unknown).starts_with("DOCTOR UNKNOWN - 1 unknown, 1 warning: PG002 "));
        assert_eq!(exit(&unknown), 3);
        let none = report(&[], Status::Warning);
        assert!(super::report(&none).starts_with("DOCTOR OK - no checks | critical=0;;;0"));
    }

    #[test]
    fn text_cannot_open_perfdata_or_long_output() {
        let r = report(&[("PG001", Status::Critical, "a | b\nc\r\td")], Status::Warning);
        let out = super::report(&r);
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(out.lines().nth(1).unwrap().ends_with("- a / b c d"), "{out}");
        let many: Vec<_> = ["PG001", "PG002", "PG003", "PG004", "PG005"].map(|c| (c, Status::Critical, "x")).into();
        let out = super::report(&report(&many, Status::Warning));
        assert!(out.lines().next().unwrap().contains("; 2 more |"), "{out}");
        assert_eq!(out.lines().count(), 6);
        let long = "y".repeat(1000);
        let out = super::report(&report(&[("PG001", Status::Critical, &long)], Status::Warning));
        assert!(out.lines().all(|l| l.chars().count() <= LINE_MAX), "{out}");
    }

    #[test]
    fn labels_follow_the_guidelines() {
        assert_eq!(label("ok"), "ok");
        assert_eq!(label("run time"), "'run time'");
        assert_eq!(label("a='b"), "ab");
        assert!(perf_item_ok("'run time'=0.5s;1;2;0;"));
        assert!(!perf_item_ok("run time=0.5s"));
        assert!(!perf_item_ok("x=1parsecs"));
    }

    #[test]
    fn japanese_keeps_the_status_word() {
        let mut r = report(&[("PG001", Status::Critical, "x")], Status::Warning);
        r.lang = Lang::Ja;
        let out = super::report(&r);
        assert!(out.starts_with("DOCTOR CRITICAL - 重大 1: PG001 "), "{out}");
    }
}
