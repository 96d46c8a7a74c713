//! What a run produces, as data: checks with a status, evidence, and a verdict on every cause
//! of the runbook. Diagnosis fills `Finding`s (no texts of the runbook, no clock);
//! `Report::build` joins them with the runbook's words in the chosen language. Which failing
//! check explains which is a step of its own (`root_cause::rank`). Renderers only read a
//! `Report`.

use crate::catalogue;
use crate::lang::Lang;
use crate::text::{Sep, Text};
use serde::Serialize;
use serde_json::Value;

/// Ordered by how bad it is: the worst status of a run decides its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Skipped,
    Warning,
    Unknown,
    Critical,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Skipped => "skipped",
            Status::Warning => "warning",
            Status::Unknown => "unknown",
            Status::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Confirmed,
    Suspected,
    RuledOut,
    Unchecked,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Confirmed => "confirmed",
            Verdict::Suspected => "suspected",
            Verdict::RuledOut => "ruled-out",
            Verdict::Unchecked => "unchecked",
        }
    }
}

/// A cause id as the runbook spells it. Made only from a problem's typed `Cause` (see
/// [`causes!`](crate::causes)), never from a string: a misspelt cause does not compile, and a
/// catalogue test holds every problem's `Cause` equal to its runbook's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CauseId(&'static str);

impl CauseId {
    /// For `causes!` only.
    #[doc(hidden)]
    pub const fn new_unchecked(id: &'static str) -> CauseId {
        CauseId(id)
    }
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// Declares a problem's causes, in its runbook's order: `causes! { IdleConnections =
/// "idle-connections", ... }` gives `enum Cause` with `Cause::ALL`, `Cause::IDS` and
/// `Into<CauseId>`.
#[macro_export]
macro_rules! causes {
    ($($variant:ident = $id:literal),* $(,)?) => {
        /// This problem's causes, in its runbook's order (a catalogue test holds them equal).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Cause {
            $($variant),*
        }

        impl Cause {
            pub const ALL: &'static [Cause] = &[$(Cause::$variant),*];
            pub const IDS: &'static [&'static str] = &[$($id),*];
            pub const fn id(self) -> &'static str {
                match self {
                    $(Cause::$variant => $id),*
                }
            }
        }

        impl From<Cause> for $crate::report::CauseId {
            fn from(c: Cause) -> $crate::report::CauseId {
                $crate::report::CauseId::new_unchecked(c.id())
            }
        }
    };
}

/// One cause's verdict, as diagnosis decides it.
#[derive(Debug, Clone)]
pub struct CauseFinding {
    pub id: &'static str,
    pub verdict: Verdict,
    pub evidence: Text,
}

/// What a problem's `diagnose` returns for one target.
#[derive(Debug, Clone)]
pub struct Finding {
    pub code: &'static str,
    pub target: String,
    pub status: Status,
    pub summary: Text,
    pub evidence: serde_json::Map<String, Value>,
    /// Facts that are words (log lines, links described): rendered into `evidence` in the
    /// report's language when the report is built.
    pub text_facts: Vec<(String, TextFact)>,
    pub causes: Vec<CauseFinding>,
    /// Design risks with no live symptom (no persistence, a policy that would evict sessions):
    /// said, but they leave the status and the exit code alone.
    pub advice: Vec<Text>,
    pub duration_ms: u64,
}

/// A fact in words: one text or a list.
#[derive(Debug, Clone)]
pub enum TextFact {
    One(Text),
    Many(Vec<Text>),
}

impl Finding {
    pub fn new(code: &'static str, target: impl Into<String>) -> Finding {
        Finding {
            code,
            target: target.into(),
            status: Status::Ok,
            summary: Text::default(),
            evidence: serde_json::Map::new(),
            text_facts: Vec::new(),
            causes: Vec::new(),
            advice: Vec::new(),
            duration_ms: 0,
        }
    }

    /// A design risk to mention without changing the status (see `advice`).
    pub fn advise(&mut self, text: impl Into<Text>) {
        self.advice.push(text.into());
    }

    pub fn status(mut self, status: Status, summary: impl Into<Text>) -> Self {
        self.status = status;
        self.summary = summary.into();
        self
    }

    pub fn cause(&mut self, id: impl Into<CauseId>, verdict: Verdict, evidence: impl Into<Text>) {
        self.causes.push(CauseFinding { id: id.into().0, verdict, evidence: evidence.into() });
    }

    /// Adds evidence from a second source to a cause already judged: the stronger verdict wins
    /// (confirmed, suspected, ruled out, unchecked, in that order) and its evidence comes first.
    pub fn raise(&mut self, id: impl Into<CauseId>, verdict: Verdict, evidence: impl Into<Text>) {
        let id = id.into().0;
        let strength = |v: Verdict| match v {
            Verdict::Confirmed => 3,
            Verdict::Suspected => 2,
            Verdict::RuledOut => 1,
            Verdict::Unchecked => 0,
        };
        let evidence = evidence.into();
        match self.causes.iter_mut().find(|c| c.id == id) {
            None => self.causes.push(CauseFinding { id, verdict, evidence }),
            Some(c) if strength(verdict) > strength(c.verdict) => {
                let old = std::mem::take(&mut c.evidence);
                c.verdict = verdict;
                c.evidence = Text::join([evidence, old], Sep::Clauses);
            }
            Some(c) => c.evidence = Text::join([std::mem::take(&mut c.evidence), evidence], Sep::Clauses),
        }
    }

    /// Judges a cause again from more specific evidence (one token rather than the whole
    /// table): its verdict replaces the earlier one, whose evidence stays after it as context.
    pub fn overrule(&mut self, id: impl Into<CauseId>, verdict: Verdict, evidence: impl Into<Text>) {
        let id = id.into().0;
        let evidence = evidence.into();
        match self.causes.iter_mut().find(|c| c.id == id) {
            None => self.causes.push(CauseFinding { id, verdict, evidence }),
            Some(c) => {
                let old = std::mem::take(&mut c.evidence);
                c.verdict = verdict;
                c.evidence = Text::join([evidence, old], Sep::Clauses);
            }
        }
    }

    /// The same verdict and evidence for several causes (all unchecked for one reason, say).
    pub fn causes_all<C: Into<CauseId> + Copy>(&mut self, ids: &[C], verdict: Verdict, evidence: impl Into<Text>) {
        let evidence = evidence.into();
        for id in ids {
            self.cause(*id, verdict, evidence.clone());
        }
    }

    pub fn fact(&mut self, key: &str, value: impl Serialize) {
        if let Ok(v) = serde_json::to_value(value) {
            self.evidence.insert(key.to_string(), v);
        }
    }

    /// A fact in words, rendered into the evidence in the report's language.
    pub fn fact_text(&mut self, key: &str, value: impl Into<Text>) {
        self.text_facts.push((key.to_string(), TextFact::One(value.into())));
    }

    /// A list of facts in words.
    pub fn fact_texts(&mut self, key: &str, values: impl IntoIterator<Item = Text>) {
        self.text_facts.push((key.to_string(), TextFact::Many(values.into_iter().collect())));
    }

    pub fn verdict_of(&self, id: impl Into<CauseId>) -> Option<Verdict> {
        let id = id.into().0;
        self.causes.iter().find(|c| c.id == id).map(|c| c.verdict)
    }

    /// Takes a cause's verdict out (for a helper that judges it again).
    pub fn forget(&mut self, id: impl Into<CauseId>) {
        let id = id.into().0;
        self.causes.retain(|c| c.id != id);
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CauseReport {
    pub id: String,
    pub verdict: Verdict,
    pub cause: String,
    pub remedy: String,
    pub evidence: String,
    /// The evidence's message key and named arguments, for scripts (when it is a message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub code: String,
    pub area: String,
    pub target: String,
    pub title: String,
    /// The title phrased by outcome when the check passed (`PostgreSQL: connects`).
    pub ok_title: String,
    pub status: Status,
    pub summary: String,
    pub duration_ms: u64,
    pub evidence: serde_json::Map<String, Value>,
    pub causes: Vec<CauseReport>,
    /// Design risks with no live symptom: advice, which leaves the exit code alone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub advice: Vec<String>,
}

impl Check {
    /// The roles a check names under `key` of its evidence (DK002's `not_running`, DK003's
    /// `full_for`); empty when it names none.
    pub fn services_in(&self, key: &str) -> Vec<&str> {
        self.evidence.get(key).and_then(|v| v.as_array()).into_iter().flatten().filter_map(|s| s.as_str()).collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub status: Status,
    pub exit_code: i32,
    pub started_at: String,
    pub duration_ms: u64,
    pub lang: Lang,
    /// What was run (`postgres`, `all` ...), for headers of the human formats.
    #[serde(skip)]
    pub command: String,
    pub checks: Vec<Check>,
    /// The failing checks to look at first (their checks come first in `checks`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub root_causes: Vec<RootCause>,
    /// `doctor docker`: every expected container at a glance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<ContainerRow>>,
    /// Since when, and what changed: the stack's containers' events over `--since`, and the
    /// first and latest error line of each failing check (`None`: the engine was not asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<crate::timeline::Timeline>,
    /// `--fail-on`: the least status that fails the run (warning unless told critical).
    #[serde(skip)]
    pub fail_on: Status,
}

/// A failing check to look at first, and the failing checks it may explain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RootCause {
    pub code: String,
    pub target: String,
    pub summary: String,
    /// Failing checks this one may explain, to be looked at after it.
    pub explains: Vec<String>,
}

/// One expected container of the stack at a glance (`doctor docker`), found or missing.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ContainerRow {
    pub service: String,
    pub container: Option<String>,
    /// running, exited, restarting, paused, created, dead; `missing` when no container exists.
    pub state: String,
    pub health: Option<String>,
    pub restarts: i64,
    /// Exits the engine logged in the last 24 h (restarts by hand included, which `restarts`
    /// does not count); None when its event log was not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exits_24h: Option<u32>,
    pub exit_code: Option<i64>,
    /// An OOM kill ended the container, or the engine logged one inside it lately.
    pub oom_killed: bool,
    pub uptime_s: Option<u64>,
    pub cpu_percent: Option<f64>,
    pub mem_used: Option<u64>,
    pub mem_limit: Option<u64>,
    pub ports: Vec<String>,
}

impl Check {
    /// The title that says what this check found: the problem's for a failure, the outcome's
    /// (`Docker engine reachable`) for an ok. Skipped checks keep the problem's: nothing was
    /// found either way.
    pub fn heading(&self) -> &str {
        if self.status == Status::Ok { &self.ok_title } else { &self.title }
    }
}

impl Report {
    /// Joins findings with the runbook's texts. Causes come in the runbook's order; a cause
    /// diagnosis did not speak of is reported `unchecked` rather than silently dropped.
    /// Root causes are found by a step of their own (`root_cause::rank`), after selection.
    pub fn build(command: &str, findings: Vec<Finding>, lang: Lang, started_at: String, duration_ms: u64) -> Report {
        let checks: Vec<Check> = findings.into_iter().map(|f| check_from(f, lang)).collect();
        let mut r = Report {
            schema: "doctor.report/v1",
            status: Status::Ok,
            exit_code: 0,
            started_at,
            duration_ms,
            lang,
            command: command.to_string(),
            checks,
            root_causes: Vec::new(),
            containers: None,
            timeline: None,
            fail_on: Status::Warning,
        };
        r.recompute(Status::Warning);
        r
    }

    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}

fn area_rank(area: &str) -> usize {
    catalogue::AREAS.iter().position(|a| *a == area).unwrap_or(usize::MAX)
}

fn check_from(mut f: Finding, lang: Lang) -> Check {
    for (key, fact) in std::mem::take(&mut f.text_facts) {
        let v = match fact {
            TextFact::One(t) => Value::String(t.render(lang)),
            TextFact::Many(ts) => Value::Array(ts.iter().map(|t| Value::String(t.render(lang))).collect()),
        };
        f.evidence.insert(key, v);
    }
    let problem = catalogue::get(f.code);
    let mut causes: Vec<CauseReport> = Vec::new();
    if let Some(p) = problem {
        // Typed causes make this impossible; should it happen, the row is shown, not dropped.
        for x in f.causes.iter().filter(|x| p.cause(x.id).is_none()) {
            debug_assert!(false, "{}: {} is no cause of its runbook", f.code, x.id);
            causes.push(CauseReport {
                id: x.id.to_string(),
                verdict: x.verdict,
                cause: String::new(),
                remedy: String::new(),
                evidence: x.evidence.render(lang),
                key: x.evidence.key().map(str::to_string),
                args: x.evidence.args_json(),
            });
        }
        for c in &p.causes {
            let found = f.causes.iter().find(|x| x.id == c.id);
            causes.push(CauseReport {
                id: c.id.clone(),
                verdict: found.map_or(Verdict::Unchecked, |x| x.verdict),
                cause: c.cause.get(lang).trim().to_string(),
                remedy: c.remedy.get(lang).trim().to_string(),
                evidence: found.map_or_else(String::new, |x| x.evidence.render(lang)),
                key: found.and_then(|x| x.evidence.key().map(str::to_string)),
                args: found.and_then(|x| x.evidence.args_json()),
            });
        }
    }
    Check {
        code: f.code.to_string(),
        area: problem.map_or_else(String::new, |p| p.area.clone()),
        target: f.target,
        title: problem.map_or_else(|| f.code.to_string(), |p| p.title.get(lang).to_string()),
        ok_title: problem.map_or_else(|| f.code.to_string(), |p| p.ok_title.get(lang).to_string()),
        status: f.status,
        summary: f.summary.render(lang),
        duration_ms: f.duration_ms,
        evidence: f.evidence,
        causes,
        advice: f.advice.iter().map(|a| a.render(lang)).collect(),
    }
}

impl Report {
    /// `--only`, `--skip` and `[ignore]`: checks left out, or reported skipped with the reason.
    pub fn select(&mut self, only: &[String], skip: &std::collections::BTreeMap<String, String>) {
        if !only.is_empty() {
            self.checks.retain(|c| only.contains(&c.code));
        }
        for c in &mut self.checks {
            if let Some(reason) = skip.get(&c.code) {
                c.status = Status::Skipped;
                c.summary = reason.clone();
                for k in &mut c.causes {
                    k.verdict = Verdict::Unchecked;
                    k.evidence = reason.clone();
                }
            }
        }
        self.recompute(Status::Warning);
    }

    /// Status and exit code from the checks; `fail_on` critical lets warnings pass (exit 0).
    pub fn recompute(&mut self, fail_on: Status) {
        self.checks.sort_by_key(|c| area_rank(&c.area));
        // Skipped checks say nothing about the stack: the run is as good as the rest.
        self.status = self
            .checks
            .iter()
            .map(|c| c.status)
            .filter(|s| *s != Status::Skipped)
            .max()
            .unwrap_or(if self.checks.is_empty() { Status::Ok } else { Status::Skipped });
        self.fail_on = fail_on;
        self.exit_code = match exit_code(self.status) {
            1 if fail_on == Status::Critical => 0,
            e => e,
        };
    }

    /// Whether a check of this status makes the run fail (a non-zero exit): what JUnit counts
    /// as a failure, so that a CI gate and the exit code always agree.
    pub fn fails(&self, status: Status) -> bool {
        match status {
            Status::Ok | Status::Skipped => false,
            Status::Warning => self.fail_on != Status::Critical,
            Status::Critical | Status::Unknown => true,
        }
    }
}

/// The contract's exit codes: 0 ok/skipped, 1 warning, 2 critical, 3 unknown.
pub fn exit_code(worst: Status) -> i32 {
    match worst {
        Status::Ok | Status::Skipped => 0,
        Status::Warning => 1,
        Status::Critical => 2,
        Status::Unknown => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_is_reported_but_leaves_the_exit_code_alone() {
        let mut f = Finding::new("AU003", "auth-service").status(Status::Ok, "fine");
        f.advise("Redis persists nothing");
        let r = Report::build("all", vec![f], Lang::En, String::new(), 0);
        assert_eq!(r.exit_code, 0);
        assert_eq!(r.checks[0].advice, vec!["Redis persists nothing".to_string()]);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["checks"][0]["advice"][0], "Redis persists nothing");
        let text = crate::render::compact::report(&r, crate::render::Style::plain());
        assert!(text.contains("AU003: Redis persists nothing"), "{text}");
        assert!(crate::render::markdown::report(&r).contains("## Advice"));
    }

    #[test]
    fn exit_code_follows_the_worst_status() {
        let f = |s| Finding::new("PG002", "t").status(s, "");
        let r = |v: Vec<Finding>| Report::build("x", v, Lang::En, String::new(), 0).exit_code;
        assert_eq!(r(vec![f(Status::Ok), f(Status::Skipped)]), 0);
        assert_eq!(r(vec![f(Status::Ok), f(Status::Warning)]), 1);
        assert_eq!(r(vec![f(Status::Unknown), f(Status::Warning)]), 3);
        assert_eq!(r(vec![f(Status::Unknown), f(Status::Critical)]), 2);
        assert_eq!(r(vec![]), 0);
    }

    #[test]
    fn unmentioned_causes_are_unchecked_and_in_runbook_order() {
        let mut f = Finding::new("PG002", "t").status(Status::Critical, "s");
        f.cause(
            crate::problems::postgres::pg002_too_many_clients::Cause::IdleConnections,
            Verdict::Confirmed,
            "3 idle",
        );
        let r = Report::build("x", vec![f], Lang::En, String::new(), 0);
        let ids: Vec<_> = r.checks[0].causes.iter().map(|c| (c.id.as_str(), c.verdict)).collect();
        assert_eq!(
            ids,
            vec![
                ("connection-leak", Verdict::Unchecked),
                ("max-connections-low", Verdict::Unchecked),
                ("idle-connections", Verdict::Confirmed),
                ("pool-oversubscribed", Verdict::Unchecked)
            ]
        );
    }
}
