//! `doctor explain` and `doctor list`: the runbook offline. Exit 0 when something is printed,
//! 3 when nothing matches.

use super::{err, out, out_json};
use crate::catalogue;
use crate::config::{Format, Settings};
use crate::explain::search;
use crate::lang::tr;
use crate::render::catalogue as view;

pub fn explain(query: &str, s: &Settings) -> i32 {
    let all = match catalogue::all() {
        Ok(a) => a,
        Err(e) => {
            err(&e);
            return 3;
        }
    };
    let mut matches = search(all, query);
    // A pasted log line that is a symptom of the runbook (the strict matcher `triage` uses)
    // puts that problem first; one that is none is still answered by wording, but says so.
    let exact = matches.first().is_some_and(|m| m.score >= 1.0);
    let symptom = crate::triage::matcher().and_then(|m| m.match_line(query)).map(|(code, _, _)| code.to_string());
    if let Some(code) = &symptom
        && let Some(i) = matches.iter().position(|m| &m.problem.code == code)
    {
        let m = matches.remove(i);
        matches.insert(0, m);
    }
    // A few words ("redis out of memory") are a question, not a log line: no note for those.
    let log_line = query.split_whitespace().count() >= 6 || query.contains([':', '"', '[', '=']);
    if !matches.is_empty() && !exact && symptom.is_none() && log_line && s.format != Format::Json {
        err(&tr(
            s.lang,
            "no symptom line of the runbook matches this text; the problems below are the closest by wording",
            "このテキストに一致する症状はランブックにありません。以下は表現が最も近い問題です",
        ));
    }
    if matches.is_empty() {
        if s.format == Format::Json {
            out_json(view::explain_json(&[], s.lang));
        }
        err(&tr(
            s.lang,
            format!("nothing in the runbook matches {query:?}; `doctor list` shows every problem"),
            format!("{query:?} に一致する項目はランブックにありません。`doctor list` で一覧を表示できます"),
        ));
        return 3;
    }
    match s.format {
        Format::Json => out_json(view::explain_json(&matches, s.lang)),
        _ => out(&view::explain_text(&matches, s.lang)),
    }
    0
}

pub fn list(area: Option<&str>, s: &Settings) -> i32 {
    let all = match catalogue::all() {
        Ok(a) => a,
        Err(e) => {
            err(&e);
            return 3;
        }
    };
    let chosen: Vec<_> = all.iter().filter(|p| area.is_none_or(|a| p.area.eq_ignore_ascii_case(a))).collect();
    if chosen.is_empty() {
        err(&format!("no problems in area {:?}; areas are {}", area.unwrap_or_default(), catalogue::AREAS.join(", ")));
        return 3;
    }
    match s.format {
        Format::Json => out_json(view::list_json(&chosen, s.lang)),
        _ => out(&view::list_text(&chosen, s.lang)),
    }
    0
}
