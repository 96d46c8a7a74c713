//! Renderers turn a finished report (or catalogue entries) into text: one module per format.
//! They return strings; only `cli` prints, after `redact::scrub` has read every byte.

pub mod catalogue;
pub mod compact;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod nagios;
pub mod prometheus;
pub mod stack;
pub mod table;
pub mod wrap;

#[cfg(test)]
#[path = "../../tests/support/json_schema.rs"]
mod json_schema;
#[cfg(test)]
mod snapshots;

use crate::lang::Lang;
use crate::report::{Status, Verdict};

/// How the human formats should look.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    pub width: usize,
    pub verbose: bool,
    pub quiet: bool,
}

impl Style {
    pub fn plain() -> Style {
        Style { color: false, width: 100, verbose: false, quiet: false }
    }
}

pub fn status_label(s: Status, lang: Lang) -> &'static str {
    match (s, lang) {
        (Status::Ok, Lang::En) => "OK",
        (Status::Skipped, Lang::En) => "SKIPPED",
        (Status::Warning, Lang::En) => "WARNING",
        (Status::Unknown, Lang::En) => "UNKNOWN",
        (Status::Critical, Lang::En) => "CRITICAL",
        (Status::Ok, Lang::Ja) => "正常",
        (Status::Skipped, Lang::Ja) => "スキップ",
        (Status::Warning, Lang::Ja) => "警告",
        (Status::Unknown, Lang::Ja) => "不明",
        (Status::Critical, Lang::Ja) => "重大",
    }
}

pub fn verdict_label(v: Verdict, lang: Lang) -> &'static str {
    match (v, lang) {
        (Verdict::Confirmed, Lang::En) => "confirmed",
        (Verdict::Suspected, Lang::En) => "suspected",
        (Verdict::RuledOut, Lang::En) => "ruled out",
        (Verdict::Unchecked, Lang::En) => "unchecked",
        (Verdict::Confirmed, Lang::Ja) => "確定",
        (Verdict::Suspected, Lang::Ja) => "疑い",
        (Verdict::RuledOut, Lang::Ja) => "該当なし",
        (Verdict::Unchecked, Lang::Ja) => "未確認",
    }
}

pub fn status_icon(s: Status) -> &'static str {
    match s {
        Status::Ok => "✔",
        Status::Skipped => "–",
        Status::Warning => "!",
        Status::Unknown => "?",
        Status::Critical => "✖",
    }
}

/// ANSI colour for a status, when colour is on.
pub fn paint(text: &str, s: Status, on: bool) -> String {
    if !on {
        return text.to_string();
    }
    let code = match s {
        Status::Ok => "32",
        Status::Skipped => "2",
        Status::Warning => "33",
        Status::Unknown => "35",
        Status::Critical => "1;31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// "2 critical, 1 warning, 4 ok" in the report's language, worst first.
pub fn counts(r: &crate::report::Report) -> String {
    let order = [Status::Critical, Status::Unknown, Status::Warning, Status::Ok, Status::Skipped];
    let parts: Vec<String> = order
        .iter()
        .filter(|s| r.count(**s) > 0)
        .map(|s| match r.lang {
            Lang::En => format!("{} {}", r.count(*s), s.name()),
            Lang::Ja => format!("{} {}", status_label(*s, Lang::Ja), r.count(*s)),
        })
        .collect();
    if parts.is_empty() {
        match r.lang {
            Lang::En => "no checks".into(),
            Lang::Ja => "チェックなし".into(),
        }
    } else {
        parts.join(", ")
    }
}
