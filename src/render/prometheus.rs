//! `--format prometheus`: the report as Prometheus text exposition (format 0.0.4), shaped
//! for node_exporter's textfile collector (`doctor all --format prometheus > doctor.prom.$$ &&
//! mv doctor.prom.$$ /var/lib/node_exporter/textfile/doctor.prom`, from a timer).
//!
//! One scheme for every status gauge, the plugin exit codes' order, so that
//! `doctor_check_status > 0` is "something to look at":
//! `0` ok, `1` warning, `2` critical, `3` unknown, `-1` skipped.
//!
//! Families: `doctor_build_info`, `doctor_run_status`, `doctor_run_exit_code` (after
//! `--fail-on`), `doctor_run_duration_seconds`, `doctor_run_timestamp_seconds` (when the run
//! started), `doctor_checks{status}` (all five statuses, zeros included), and per check
//! `doctor_check_status` and `doctor_check_duration_seconds` (`code`, `area`, `target`),
//! `doctor_cause{code,target,cause,verdict}` = 1 for each confirmed or suspected cause, and
//! `doctor_check_evidence{code,target,name}` for every evidence figure that is a number.
//!
//! No sample carries a timestamp (the textfile collector refuses them); every family is one
//! block with its HELP and TYPE; a label set appears once (a second check with the same code
//! and target is dropped: node_exporter rejects the whole file for a duplicate). Label values
//! are escaped as the format says: backslash, double quote, line feed.

use crate::report::{Report, Status, Verdict};
use serde_json::Value;
use std::collections::HashSet;

/// The one numeric scheme of every status gauge (see the module doc).
pub fn status_value(s: Status) -> i32 {
    match s {
        Status::Ok => 0,
        Status::Warning => 1,
        Status::Critical => 2,
        Status::Unknown => 3,
        Status::Skipped => -1,
    }
}

/// A label value as the exposition format escapes it.
fn esc(v: &str) -> String {
    let mut o = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o
}

/// Numbers as Prometheus reads them: integers as such, non-finite values by name.
fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// One metric family being written: HELP, TYPE, then its samples, each label set once.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
    seen: HashSet<String>,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &'static str, help: &str) -> Family<'a> {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        Family { out, name, seen: HashSet::new() }
    }

    fn sample(&mut self, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", esc(v))).collect();
        let set = if labels.is_empty() { String::new() } else { format!("{{{}}}", labels.join(",")) };
        if self.seen.insert(set.clone()) {
            self.out.push_str(&format!("{}{set} {}\n", self.name, num(value)));
        }
    }
}

pub fn report(r: &Report) -> String {
    let mut o = String::new();
    // `all`, `postgres`, ...: a replay's "(replayed from ...)" is no part of the command.
    let command = r.command.split_whitespace().next().unwrap_or("");
    let run = [("command", command)];

    Family::new(&mut o, "doctor_build_info", "The doctor that wrote this file (always 1).")
        .sample(&[("version", env!("CARGO_PKG_VERSION"))], 1.0);
    Family::new(
        &mut o,
        "doctor_run_status",
        "The worst check of the run: 0 ok, 1 warning, 2 critical, 3 unknown, -1 skipped.",
    )
    .sample(&run, status_value(r.status).into());
    Family::new(&mut o, "doctor_run_exit_code", "doctor's exit code for the run (after --fail-on).")
        .sample(&run, r.exit_code.into());
    Family::new(&mut o, "doctor_run_duration_seconds", "How long the run took.")
        .sample(&run, r.duration_ms as f64 / 1000.0);
    if let Some(t) = crate::clock::parse_rfc3339(&r.started_at) {
        Family::new(&mut o, "doctor_run_timestamp_seconds", "When the run started, in seconds since the epoch.")
            .sample(&run, t);
    }
    let mut f = Family::new(&mut o, "doctor_checks", "Checks of the run by status.");
    for s in [Status::Ok, Status::Warning, Status::Critical, Status::Unknown, Status::Skipped] {
        f.sample(&[("command", command), ("status", s.name())], r.count(s) as f64);
    }

    let mut f = Family::new(
        &mut o,
        "doctor_check_status",
        "One check's status: 0 ok, 1 warning, 2 critical, 3 unknown, -1 skipped.",
    );
    for c in &r.checks {
        f.sample(&[("code", &c.code), ("area", &c.area), ("target", &c.target)], status_value(c.status).into());
    }
    let mut f = Family::new(&mut o, "doctor_check_duration_seconds", "How long one check's probes took.");
    for c in &r.checks {
        f.sample(&[("code", &c.code), ("area", &c.area), ("target", &c.target)], c.duration_ms as f64 / 1000.0);
    }
    let mut f = Family::new(
        &mut o,
        "doctor_cause",
        "A cause of the runbook that the evidence confirms or suggests for a check (always 1).",
    );
    for c in &r.checks {
        for k in c.causes.iter().filter(|k| matches!(k.verdict, Verdict::Confirmed | Verdict::Suspected)) {
            f.sample(&[("code", &c.code), ("target", &c.target), ("cause", &k.id), ("verdict", k.verdict.name())], 1.0);
        }
    }
    let mut f = Family::new(
        &mut o,
        "doctor_check_evidence",
        "A figure of a check's evidence, named as in the JSON report (latency_ms, connections, ...).",
    );
    for c in &r.checks {
        for (name, v) in &c.evidence {
            if let Value::Number(n) = v
                && let Some(x) = n.as_f64()
            {
                f.sample(&[("code", &c.code), ("target", &c.target), ("name", name)], x);
            }
        }
    }
    o
}

/// A strict reader of the exposition format, for tests: see its file.
#[cfg(test)]
#[path = "prometheus_parse.rs"]
pub(crate) mod parse;

#[cfg(test)]
mod tests {
    use super::parse::{Sample, parse};
    use super::*;
    use crate::lang::Lang;
    use crate::report::Finding;

    fn find<'a>(s: &'a [Sample], name: &str, label: (&str, &str)) -> Option<&'a Sample> {
        s.iter().find(|x| x.name == name && x.labels.get(label.0).map(String::as_str) == Some(label.1))
    }

    #[test]
    fn every_check_is_one_gauge_in_the_documented_scheme() {
        let mut pg = Finding::new("PG001", "postgres@127.0.0.1:5432/authdb").status(Status::Critical, "refused");
        pg.fact("latency_ms", 7);
        pg.fact("url", "postgresql://x");
        pg.fact("ratio", 0.25);
        pg.cause(
            crate::problems::postgres::pg001_cannot_connect::Cause::ContainerStopped,
            Verdict::Confirmed,
            "stopped",
        );
        let ok = Finding::new("RD001", "redis@127.0.0.1:6379/0").status(Status::Ok, "fine");
        let skipped = Finding::new("RD002", "redis@127.0.0.1:6379/0").status(Status::Skipped, "n/a");
        let mut r = Report::build("all", vec![pg, ok, skipped], Lang::En, "2026-11-28T12:00:00Z".into(), 1500);
        r.recompute(Status::Warning);
        let text = report(&r);
        let s = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let status = |code| find(&s, "doctor_check_status", ("code", code)).unwrap().value;
        assert_eq!((status("PG001"), status("RD001"), status("RD002")), (2.0, 0.0, -1.0));
        assert_eq!(find(&s, "doctor_checks", ("status", "critical")).unwrap().value, 1.0);
        assert_eq!(find(&s, "doctor_checks", ("status", "unknown")).unwrap().value, 0.0, "zeros are written");
        assert_eq!(find(&s, "doctor_run_status", ("command", "all")).unwrap().value, 2.0);
        assert_eq!(find(&s, "doctor_run_exit_code", ("command", "all")).unwrap().value, 2.0);
        assert_eq!(find(&s, "doctor_run_duration_seconds", ("command", "all")).unwrap().value, 1.5);
        assert_eq!(find(&s, "doctor_run_timestamp_seconds", ("command", "all")).unwrap().value, 1_795_867_200.0);
        let cause = find(&s, "doctor_cause", ("cause", "container-stopped")).unwrap();
        assert_eq!((cause.labels["verdict"].as_str(), cause.value), ("confirmed", 1.0));
        assert_eq!(s.iter().filter(|x| x.name == "doctor_cause").count(), 1, "ruled-out and unchecked are not written");
        let figures: Vec<(&str, f64)> = s
            .iter()
            .filter(|x| x.name == "doctor_check_evidence")
            .map(|x| (x.labels["name"].as_str(), x.value))
            .collect();
        assert_eq!(figures, vec![("latency_ms", 7.0), ("ratio", 0.25)], "numbers only");
        assert!(text.contains("doctor_run_timestamp_seconds{command=\"all\"} 1795867200\n"), "{text}");
    }

    #[test]
    fn label_values_are_escaped_and_read_back() {
        let nasty = "a\\b \"quoted\"\nnext";
        let f = Finding::new("PG001", nasty).status(Status::Warning, "x");
        let twin = Finding::new("PG001", nasty).status(Status::Critical, "a duplicate series");
        let r = Report::build("postgres (replayed from facts gathered x)", vec![f, twin], Lang::En, "bad".into(), 0);
        let text = report(&r);
        assert!(text.contains(r#"target="a\\b \"quoted\"\nnext""#), "{text}");
        let s = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let c = find(&s, "doctor_check_status", ("code", "PG001")).unwrap();
        assert_eq!(c.labels["target"], nasty);
        assert_eq!(s.iter().filter(|x| x.name == "doctor_check_status").count(), 1, "one series per label set");
        assert!(find(&s, "doctor_run_status", ("command", "postgres")).is_some());
        assert!(!text.contains("doctor_run_timestamp_seconds"), "no timestamp from an unreadable start");
    }

    /// The test reader refuses what node_exporter refuses, so that it can fail.
    #[test]
    fn the_reader_is_strict() {
        let ok = "# HELP a x\n# TYPE a gauge\na{l=\"v\"} 1\n";
        assert!(parse(ok).is_ok());
        for bad in [
            "a 1\n",
            "# TYPE a gauge\na{l=\"v\"} 1 1700000000\n",
            "# TYPE a gauge\na{l=\"v\\t\"} 1\n",
            "# TYPE a gauge\na{l=\"v\"} 1\na{l=\"v\"} 2\n",
            "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na 2\n",
            "# TYPE a gauge\na{l=\"v} 1\n",
            "# TYPE a gauge\na{__x=\"v\"} 1\n",
            "# TYPE a gauge\na one\n",
            "# TYPE a gauge\na 1",
            "# TYPE a gauge\n# TYPE a gauge\na 1\n",
            "# TYPE 1a gauge\n1a 1\n",
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn numbers_as_prometheus_reads_them() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(0.262), "0.262");
        assert_eq!(num(-1.0), "-1");
        assert_eq!(num(f64::INFINITY), "+Inf");
        assert_eq!(num(f64::NAN), "NaN");
    }
}
