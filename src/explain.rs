//! `doctor explain`: from a problem code, a cause id or any error text a person pasted, find
//! the runbook entries that match, best first. Matching is by weighted words, not by exact
//! text, so it is tolerant of case, spacing, quoting, client prefixes
//! (`sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) ...`) and variable parts
//! (user names, hosts, addresses, numbers): quoted names and numbers are dropped on both sides,
//! and rare words weigh more than common ones. Japanese is matched by character pairs. A log
//! line in one of the stack's formats (`logline`) is read for its words first, so a JSON record
//! is its message, not its field names.

use crate::runbook::Problem;
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone)]
pub struct Match<'a> {
    pub problem: &'a Problem,
    pub score: f64,
    /// The symptom (or title/cause) text that matched best.
    pub matched: String,
}

/// Words that carry no meaning for matching.
const STOP: &[&str] = &[
    "a",
    "an",
    "the",
    "to",
    "of",
    "in",
    "on",
    "at",
    "for",
    "is",
    "are",
    "was",
    "be",
    "and",
    "or",
    "not",
    "no",
    "by",
    "with",
    "from",
    "this",
    "that",
    "it",
    "as",
    "error",
    "exception",
    "err",
    "info",
    "log",
    "warn",
    "warning",
    "fatal",
    "utc",
];

/// Splits a text into matchable tokens: lowercase words with quoted parts, numbers, addresses
/// and hex ids removed; CJK runs as overlapping character pairs.
pub fn tokens(text: &str) -> Vec<String> {
    let unquoted = strip_quoted(text);
    let mut out = Vec::new();
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    let flush_word = |w: &mut String, out: &mut Vec<String>| {
        if !w.is_empty() {
            let lw = w.to_lowercase();
            // Numbers, also with a unit (`12288.0MB` leaves `0mb`, `30s`), and hex ids.
            let variable = lw.starts_with(|c: char| c.is_ascii_digit())
                || lw.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ':')
                || (lw.len() >= 8 && lw.chars().all(|c| c.is_ascii_hexdigit()))
                || lw.chars().filter(|c| c.is_ascii_digit()).count() * 2 > lw.len();
            if !variable && !STOP.contains(&lw.as_str()) && lw.chars().count() > 1 {
                out.push(lw);
            }
            w.clear();
        }
    };
    let flush_cjk = |c: &mut Vec<char>, out: &mut Vec<String>| {
        if c.len() == 1 {
            out.push(c[0].to_string());
        }
        for pair in c.windows(2) {
            out.push(pair.iter().collect());
        }
        c.clear();
    };
    for ch in unquoted.chars() {
        if is_cjk(ch) {
            flush_word(&mut word, &mut out);
            cjk.push(ch);
        } else if ch.is_alphanumeric() || ch == '_' {
            flush_cjk(&mut cjk, &mut out);
            word.push(ch);
        } else {
            flush_word(&mut word, &mut out);
            flush_cjk(&mut cjk, &mut out);
        }
    }
    flush_word(&mut word, &mut out);
    flush_cjk(&mut cjk, &mut out);
    out
}

fn is_cjk(c: char) -> bool {
    ('\u{3040}'..='\u{30ff}').contains(&c)
        || ('\u{4e00}'..='\u{9fff}').contains(&c)
        || ('\u{ff66}'..='\u{ff9f}').contains(&c)
}

/// Removes "double-quoted" names: in error texts they are the variable parts (user "app",
/// database "authdb", host "postgres"). A quoted phrase with spaces (`"POST /api/auth/login
/// HTTP/1.1"`) is kept: it is the text itself. Single quotes are kept: `'maxmemory'` is a keyword.
fn strip_quoted(text: &str) -> String {
    let is_quote = |c: char| matches!(c, '"' | '“' | '”');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(is_quote) {
        out.push_str(&rest[..open]);
        let after = &rest[open + rest[open..].chars().next().map_or(1, char::len_utf8)..];
        match after.find(is_quote) {
            Some(close) => {
                let inner = &after[..close];
                if inner.contains(char::is_whitespace) {
                    out.push(' ');
                    out.push_str(inner);
                }
                out.push(' ');
                rest = &after[close + after[close..].chars().next().map_or(1, char::len_utf8)..];
            }
            None => {
                // An unbalanced quote: keep the text rather than lose its tail.
                out.push(' ');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

struct Doc<'a> {
    problem: &'a Problem,
    text: String,
    tokens: BTreeSet<String>,
    /// Symptoms count fully; titles and cause texts are weaker evidence.
    weight: f64,
}

fn docs(catalogue: &[Problem]) -> Vec<Doc<'_>> {
    let mut v = Vec::new();
    for p in catalogue {
        for s in &p.symptoms {
            for w in s.wordings() {
                let words = crate::logline::read(w).text;
                v.push(Doc {
                    problem: p,
                    text: w.to_string(),
                    tokens: tokens(&words).into_iter().collect(),
                    weight: 1.0,
                });
            }
        }
        for t in [&p.title.en, &p.title.ja] {
            v.push(Doc { problem: p, text: t.clone(), tokens: tokens(t).into_iter().collect(), weight: 0.8 });
        }
        for c in &p.causes {
            for t in [&c.cause.en, &c.cause.ja] {
                v.push(Doc { problem: p, text: t.clone(), tokens: tokens(t).into_iter().collect(), weight: 0.6 });
            }
        }
    }
    v
}

/// Problems matching `query`, best first. A code (`PG002`) or a cause id (`idle-connections`)
/// matches exactly; anything else is matched as an error text.
pub fn search<'a>(catalogue: &'a [Problem], query: &str) -> Vec<Match<'a>> {
    let q = query.trim();
    if q.is_empty() {
        return Vec::new();
    }
    if let Some(p) = catalogue.iter().find(|p| p.code.eq_ignore_ascii_case(q)) {
        return vec![Match { problem: p, score: 1.0, matched: p.code.clone() }];
    }
    let by_cause: Vec<Match> = catalogue
        .iter()
        .filter(|p| p.causes.iter().any(|c| c.id.eq_ignore_ascii_case(q)))
        .map(|p| Match { problem: p, score: 1.0, matched: q.to_ascii_lowercase() })
        .collect();
    if !by_cause.is_empty() {
        return by_cause;
    }

    // A pasted log line is read in its format first: a JSON record or body by its message,
    // detail and error, a PostgreSQL line past its prefix (as triage reads it).
    let read = crate::logline::read(q);
    let qt: BTreeSet<String> = tokens(&read.text).into_iter().collect();
    if qt.is_empty() {
        return Vec::new();
    }
    let docs = docs(catalogue);
    let mut df: HashMap<&str, usize> = HashMap::new();
    for d in &docs {
        for t in &d.tokens {
            *df.entry(t.as_str()).or_default() += 1;
        }
    }
    let n = docs.len() as f64;
    let idf = |t: &str| -> f64 { (1.0 + n / (1.0 + *df.get(t).unwrap_or(&0) as f64)).ln() };
    let q_weight: f64 = qt.iter().map(|t| idf(t)).sum();

    let mut best: HashMap<&str, Match> = HashMap::new();
    for d in &docs {
        if d.tokens.is_empty() {
            continue;
        }
        let common: f64 = d.tokens.intersection(&qt).map(|t| idf(t)).sum();
        if common == 0.0 {
            continue;
        }
        let d_weight: f64 = d.tokens.iter().map(|t| idf(t)).sum();
        // How much of the symptom the query contains, and how much of the query it explains.
        let doc_cover = common / d_weight;
        let query_cover = common / q_weight;
        let score = d.weight * (0.6 * doc_cover + 0.4 * query_cover);
        let matched_tokens = d.tokens.intersection(&qt).count();
        if score < 0.35 || matched_tokens < 2.min(d.tokens.len()) {
            continue;
        }
        let entry = best.entry(d.problem.code.as_str()).or_insert(Match {
            problem: d.problem,
            score: 0.0,
            matched: String::new(),
        });
        if score > entry.score {
            entry.score = score;
            entry.matched = d.text.clone();
        }
    }
    let mut v: Vec<Match> = best.into_values().collect();
    v.sort_by(|a, b| {
        b.score.partial_cmp(&a.score).unwrap_or(std::cmp::Ordering::Equal).then(a.problem.code.cmp(&b.problem.code))
    });
    // Keep the clear winners: anything far below the best is noise.
    if let Some(top) = v.first().map(|m| m.score) {
        v.retain(|m| m.score >= top * 0.6);
    }
    v.truncate(5);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;

    fn codes(q: &str) -> Vec<String> {
        search(catalogue::all().unwrap(), q).iter().map(|m| m.problem.code.clone()).collect()
    }

    fn first(q: &str) -> String {
        codes(q).first().cloned().unwrap_or_else(|| format!("nothing for {q:?}"))
    }

    #[test]
    fn codes_and_cause_ids_match_exactly() {
        assert_eq!(codes("pg002"), ["PG002"]);
        assert_eq!(codes("idle-connections"), ["PG002"]);
        let w = codes("wrong-password");
        assert!(
            w.contains(&"PG001".to_string()) && w.contains(&"RD001".to_string()) && w.contains(&"AU001".to_string())
        );
    }

    #[test]
    fn error_texts_find_their_problem_whatever_the_dressing() {
        let cases = [
            ("FATAL: sorry, too many clients already", "PG002"),
            ("fatal:   SORRY,   too many clients already", "PG002"),
            ("2026-11-28 12:00:01.123 UTC [4711] FATAL:  sorry, too many clients already", "PG002"),
            (
                "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at \"db\" (10.1.2.3), port 5432 failed: FATAL:  password authentication failed for user \"svc\"",
                "PG001",
            ),
            ("OOM command not allowed when used memory > 'maxmemory'.", "RD002"),
            ("redis.exceptions.ResponseError: OOM command not allowed when used memory > 'maxmemory'", "RD002"),
            ("FATAL: remaining connection slots are reserved for non-replication superuser connections", "PG002"),
            ("server closed the connection unexpectedly", "PG004"),
            (
                "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
                "DK001",
            ),
            ("Token expired", "AU002"),
            ("Refresh token is invalid or expired", "AU003"),
            ("504 Gateway Timeout", "API001"),
            ("Profile not found", "API002"),
        ];
        for (q, code) in cases {
            assert_eq!(first(q), code, "{q}");
        }
    }

    #[test]
    fn ambiguous_texts_list_every_candidate() {
        let c = codes("Connection refused");
        assert!(c.len() >= 2, "{c:?}");
    }

    #[test]
    fn japanese_descriptions_match() {
        assert_eq!(first("キャッシュヒット率が低い"), "RD003");
    }

    #[test]
    fn nonsense_matches_nothing() {
        assert!(codes("the quick brown fox jumps").is_empty());
        assert!(codes("").is_empty());
        assert!(codes("12345 6789").is_empty());
    }

    #[test]
    fn variable_parts_are_dropped() {
        assert_eq!(tokens("user \"alice\" at 10.0.0.7:5432 pid 4711"), ["user", "pid"]);
        assert_eq!(tokens("接続できない"), ["接続", "続で", "でき", "きな", "ない"]);
    }
}
