//! `--format junit`: one test suite per area, one test case per check. A check fails exactly
//! when it makes the exit code non-zero (`Report::fails`: critical and unknown always, warnings
//! unless `--fail-on critical`), skipped ones are skipped, passing warnings keep their summary
//! in `system-out`: a CI gate and the exit code never disagree.

use crate::report::{Report, Status, Verdict};

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // XML 1.0 forbids most control characters even when escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

pub fn report(r: &Report) -> String {
    let secs = |ms: u64| format!("{:.3}", ms as f64 / 1000.0);
    let failing = |s: Status| r.fails(s);
    let mut areas: Vec<&str> = Vec::new();
    for c in &r.checks {
        if !areas.contains(&c.area.as_str()) {
            areas.push(&c.area);
        }
    }
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"doctor\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\">\n",
        r.checks.len(),
        r.checks.iter().filter(|c| failing(c.status)).count(),
        r.count(Status::Skipped),
        secs(r.duration_ms),
        esc(&r.started_at)
    ));
    for area in areas {
        let checks: Vec<_> = r.checks.iter().filter(|c| c.area == area).collect();
        x.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{}\">\n",
            esc(area),
            checks.len(),
            checks.iter().filter(|c| failing(c.status)).count(),
            checks.iter().filter(|c| c.status == Status::Skipped).count(),
            secs(checks.iter().map(|c| c.duration_ms).max().unwrap_or(0))
        ));
        for c in checks {
            x.push_str(&format!(
                "    <testcase classname=\"doctor.{}\" name=\"{} {} ({})\" time=\"{}\"",
                esc(area),
                esc(&c.code),
                esc(c.heading()),
                esc(&c.target),
                secs(c.duration_ms)
            ));
            let causes: Vec<String> = c
                .causes
                .iter()
                .filter(|k| matches!(k.verdict, Verdict::Confirmed | Verdict::Suspected))
                .map(|k| {
                    format!(
                        "{} [{}]: {}\n  remedy: {}",
                        k.id,
                        k.verdict.name(),
                        k.evidence,
                        k.remedy.replace('\n', "\n  ")
                    )
                })
                .collect();
            let body = esc(&format!("{}\n{}", c.summary, causes.join("\n")));
            match c.status {
                s if r.fails(s) => x.push_str(&format!(
                    ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                    c.status.name(),
                    esc(&c.summary),
                    body
                )),
                Status::Skipped => {
                    x.push_str(&format!(">\n      <skipped message=\"{}\"/>\n    </testcase>\n", esc(&c.summary)))
                }
                Status::Warning | Status::Critical | Status::Unknown => {
                    x.push_str(&format!(">\n      <system-out>warning: {body}</system-out>\n    </testcase>\n"))
                }
                Status::Ok => x.push_str("/>\n"),
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}
