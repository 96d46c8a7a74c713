//! Log triage: which lines of a log are symptoms of which problem. Every error text of the
//! catalogue (`text` symptoms) is a signature; a log line matches a signature when it contains
//! most of the signature's weighted words, whatever surrounds them (timestamps, PIDs, user and
//! host names, client prefixes). What tells a symptom from a harmless line of the same shape is
//! required outright: the status of an access-log signature, the words a symptom lists in
//! `require`, and a short signature's whole text as a phrase (a healthy stack's own logs, read
//! twice over in `tests/stack_lab.rs`, must match nothing). Pure and fast: an inverted index keeps the work per line
//! proportional to the words it shares with signatures, so thousands of lines cost milliseconds.
//!
//! A line is first read in its format (`logline`): a JSON record by its message, detail and
//! error, a request line by its title and error, a PostgreSQL line from its severity on; the
//! signatures are read the same way, so `{"detail":"Token has expired"}` in a runbook is the
//! words `Token has expired`. A JSON record its application logged below WARNING is no symptom
//! (the spec's loggers say INFO for normal work), and a `duration: N ms` signature holds only
//! from the threshold it names (`at_least = "slow_query"`).

use crate::catalogue;
use crate::explain::tokens;
use crate::logline::{self, Level};
pub use crate::probe::own_logins::OwnLogin;
use crate::redact;
use crate::runbook::{Problem, Symptom};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;
use std::time::Duration;

/// Share of a signature's weighted words a line must contain.
const MIN_COVER: f64 = 0.75;

/// What a scan needs besides the lines: the thresholds a signature may name in `at_least` (the
/// contract's, `--threshold`), and doctor's own logins, whose refusals are no symptom.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub slow_query: Duration,
    pub own_logins: Vec<OwnLogin>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from(&crate::config::Thresholds::default())
    }
}

impl From<&crate::config::Thresholds> for Limits {
    fn from(t: &crate::config::Thresholds) -> Self {
        Limits { slow_query: t.slow_query, own_logins: Vec::new() }
    }
}

impl Limits {
    /// The threshold `name`, in milliseconds (the unit PostgreSQL logs durations in).
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "slow_query" => Some(self.slow_query.as_secs_f64() * 1000.0),
            _ => None,
        }
    }
}

/// A line's verdict: which problem's symptom it is, by which text, showing which cause.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<'a> {
    pub code: &'a str,
    pub signature: &'a str,
    pub cause: Option<&'a str>,
    pub score: f64,
}

struct Signature {
    code: String,
    text: String,
    cause: Option<String>,
    /// A threshold the line's `duration: N ms` must reach.
    at_least: Option<String>,
    tokens: Vec<String>,
    weight: f64,
    /// Whole words the line must contain (lower case): the symptom's `require`, and the HTTP
    /// status of an access-log or status-line signature (`"GET /x HTTP/1.1" 404 Not Found`
    /// must not match the same request answered 200).
    required: Vec<String>,
    /// For a short signature (three words or fewer), the whole text as a phrase the line must
    /// contain ([`phrase`] of both): two common words anywhere in a line prove nothing
    /// ("Database connection error" is not "connection authorized: ... database=authdb").
    phrase: Option<String>,
}

/// A text's words in order, lower case, without those holding a digit (numbers, addresses,
/// ports, ids), space-separated with a space at each end. A short signature must appear in a
/// line as this run of words: "Database connection error" is not "Database connection pool
/// started", and `connect ECONNREFUSED 127.0.0.1:5432` is in `Error: connect ECONNREFUSED
/// 172.18.0.2:5432`. Unlike [`tokens`], common words such as "error" count here.
fn phrase(text: &str) -> String {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty() && !w.chars().any(|c| c.is_ascii_digit()))
        .map(str::to_lowercase)
        .collect();
    format!(" {} ", words.join(" "))
}

/// Words at or under which a signature must be found as a phrase.
const SHORT: usize = 3;

/// The status code of a signature that is an HTTP access-log line (`"GET /x HTTP/1.1" 404 Not
/// Found`) or a status line (`504 Gateway Timeout`), when it is one.
fn http_status(text: &str) -> Option<String> {
    let rest = match text.find("HTTP/") {
        Some(i) => text[i..].split_once("\" ").map_or("", |(_, r)| r),
        None => text,
    };
    let code: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let reason =
        rest.get(3..).is_some_and(|r| r.starts_with(' ') && r[1..].starts_with(|c: char| c.is_ascii_uppercase()));
    (code.len() == 3 && matches!(code.as_bytes()[0], b'1'..=b'5') && reason).then_some(code)
}

/// The line's words, lower case (split at anything but letters, digits and `_`), for
/// [`Signature::required`].
fn words(line: &str) -> HashSet<String> {
    line.split(|c: char| !c.is_alphanumeric() && c != '_').filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

pub struct Matcher {
    sigs: Vec<Signature>,
    index: HashMap<String, Vec<usize>>,
    idf: HashMap<String, f64>,
}

/// Lines of one kind, counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogHit {
    pub code: String,
    /// The catalogue's error text that matched.
    pub signature: String,
    pub count: u64,
    /// The most recent matching line, redacted and cut to 300 characters.
    pub sample: String,
    /// Timestamp of the first and last match, when the lines carry one (Docker's do).
    pub first_at: Option<String>,
    pub last_at: Option<String>,
    /// The cause the signature shows, when the runbook says one (`cause` of the symptom).
    #[serde(default)]
    pub cause: Option<String>,
}

impl Matcher {
    pub fn new(problems: &[Problem]) -> Matcher {
        let mut sigs = Vec::new();
        for p in problems {
            for s in &p.symptoms {
                if let Symptom::Literal { text, require, cause, at_least, .. } = s {
                    // Read as a log line is: a JSON body by its detail, a prefix taken off.
                    let words = logline::read(text).text;
                    let toks: Vec<String> = tokens(&words).into_iter().collect::<HashSet<_>>().into_iter().collect();
                    let mut required: Vec<String> = require.iter().map(|w| w.to_lowercase()).collect();
                    required.extend(http_status(&words));
                    if toks.len() >= 2 {
                        let phrase = (toks.len() <= SHORT).then(|| phrase(&words));
                        sigs.push(Signature {
                            code: p.code.clone(),
                            text: text.clone(),
                            cause: cause.clone(),
                            at_least: at_least.clone(),
                            tokens: toks,
                            weight: 0.0,
                            required,
                            phrase,
                        });
                    }
                }
            }
        }
        let mut df: HashMap<String, usize> = HashMap::new();
        for s in &sigs {
            for t in &s.tokens {
                *df.entry(t.clone()).or_default() += 1;
            }
        }
        let n = sigs.len() as f64;
        let idf: HashMap<String, f64> =
            df.iter().map(|(t, d)| (t.clone(), (1.0 + n / (1.0 + *d as f64)).ln())).collect();
        let mut index: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, s) in sigs.iter_mut().enumerate() {
            s.weight = s.tokens.iter().map(|t| idf[t]).sum();
            for t in &s.tokens {
                index.entry(t.clone()).or_default().push(i);
            }
        }
        Matcher { sigs, index, idf }
    }

    /// The problem code and signature a line is a symptom of, with the score; `None` if none
    /// (the default thresholds).
    pub fn match_line(&self, line: &str) -> Option<(&str, &str, f64)> {
        self.hit(line, &Limits::default()).map(|h| (h.code, h.signature, h.score))
    }

    /// What a line (without Docker's timestamp) is a symptom of, read in its format.
    pub fn hit(&self, line: &str, limits: &Limits) -> Option<Hit<'_>> {
        self.hit_read(&logline::read(line), limits)
    }

    fn hit_read(&self, l: &logline::LogLine, limits: &Limits) -> Option<Hit<'_>> {
        if l.structured && l.level.is_some_and(|v| v < Level::Warning) {
            return None;
        }
        let (i, score) = self.best(&l.text, limits)?;
        let s = &self.sigs[i];
        Some(Hit { code: &s.code, signature: &s.text, cause: s.cause.as_deref(), score })
    }

    fn best(&self, line: &str, limits: &Limits) -> Option<(usize, f64)> {
        let line_tokens: HashSet<String> = tokens(line).into_iter().collect();
        let mut covered: HashMap<usize, f64> = HashMap::new();
        for t in &line_tokens {
            if let Some(ids) = self.index.get(t) {
                for &i in ids {
                    *covered.entry(i).or_default() += self.idf[t];
                }
            }
        }
        let mut best: Option<(usize, f64)> = None;
        let mut line_words: Option<HashSet<String>> = None;
        let mut line_phrase: Option<String> = None;
        for (i, w) in covered {
            if let Some(p) = &self.sigs[i].phrase
                && !line_phrase.get_or_insert_with(|| phrase(line)).contains(p.as_str())
            {
                continue;
            }
            if let Some(t) = &self.sigs[i].at_least
                && !logline::duration_ms(line).zip(limits.get(t)).is_some_and(|(d, min)| d >= min)
            {
                continue;
            }
            if !self.sigs[i].required.is_empty() {
                let have = line_words.get_or_insert_with(|| words(line));
                if !self.sigs[i].required.iter().all(|r| have.contains(r)) {
                    continue;
                }
            }
            let cover = w / self.sigs[i].weight;
            // Prefer the fuller match, then the more specific (heavier) signature.
            let better = match best {
                None => true,
                Some((b, bc)) => {
                    let (w, bw) = (self.sigs[i].weight, self.sigs[b].weight);
                    cover > bc + 1e-9
                        || ((cover - bc).abs() < 1e-9 && (w > bw + 1e-9 || ((w - bw).abs() < 1e-9 && i < b)))
                }
            };
            if cover >= MIN_COVER && better {
                best = Some((i, cover));
            }
        }
        best
    }
}

pub fn matcher() -> Option<&'static Matcher> {
    static M: OnceLock<Option<Matcher>> = OnceLock::new();
    M.get_or_init(|| catalogue::all().ok().map(Matcher::new)).as_ref()
}

/// Splits Docker's `--timestamps` prefix (`2026-11-28T12:00:00.123456789Z message`) off a line.
pub fn split_timestamp(line: &str) -> (Option<&str>, &str) {
    match line.split_once(' ') {
        Some((ts, rest)) if crate::clock::parse_rfc3339(ts).is_some() => (Some(ts), rest),
        _ => (None, line),
    }
}

/// Counts the symptom lines of a log, most frequent first (the default thresholds).
pub fn scan<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<LogHit> {
    scan_with(lines, &Limits::default())
}

/// Counts the symptom lines of a log per signature, most frequent first: each with its newest
/// line and the time of its first and newest (Docker's timestamp, else the line's own).
pub fn scan_with<'a>(lines: impl IntoIterator<Item = &'a str>, limits: &Limits) -> Vec<LogHit> {
    let Some(m) = matcher() else { return Vec::new() };
    let mut hits: BTreeMap<(String, String), LogHit> = BTreeMap::new();
    let mut own_used = vec![false; limits.own_logins.len()];
    for raw in lines {
        let (ts, line) = split_timestamp(raw.trim_end());
        if line.trim().is_empty() {
            continue;
        }
        // Very long lines are cut: a signature is in the first few hundred characters (a JSON
        // record is read whole first: its message may come after long fields).
        let read = logline::read(line);
        // What doctor's own sessions caused (its refused logins among them) is no symptom.
        if read.app.as_deref() == Some(crate::probe::postgres::APPLICATION_NAME) {
            continue;
        }
        // Before authentication PostgreSQL knows no application name: a refused login is doctor's
        // when doctor tried that user at that moment.
        if own_refusal(&read.text, ts.or(read.time.as_deref()), &limits.own_logins, &mut own_used) {
            continue;
        }
        let mut read_cut = read.clone();
        read_cut.text = read.text.chars().take(2000).collect();
        if let Some(hit) = m.hit_read(&read_cut, limits) {
            let at = ts.map(str::to_string).or_else(|| read.time.clone());
            let h = hits.entry((hit.code.to_string(), hit.signature.to_string())).or_insert_with(|| LogHit {
                code: hit.code.to_string(),
                signature: hit.signature.to_string(),
                count: 0,
                sample: String::new(),
                first_at: at.clone(),
                last_at: None,
                cause: hit.cause.map(str::to_string),
            });
            h.count += 1;
            h.last_at = at;
            h.sample = cut(&redact::scrub(&sample(line, &read)), 300);
        }
    }
    let mut v: Vec<LogHit> = hits.into_values().collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
    v
}

/// How long after doctor sent a login its refusal may be logged, and how far the log's clock may
/// run behind doctor's: a line cannot come before the login that caused it.
const OWN_LOGIN_AFTER_S: f64 = 2.0;
const OWN_LOGIN_SKEW_S: f64 = 0.05;

/// Whether `text` is PostgreSQL refusing a password for a user doctor tried just before `at`;
/// each of doctor's logins accounts for one line at most.
fn own_refusal(text: &str, at: Option<&str>, own: &[OwnLogin], used: &mut [bool]) -> bool {
    const REFUSED: &str = "password authentication failed for user \"";
    let Some(rest) = text.find(REFUSED).map(|i| &text[i + REFUSED.len()..]) else { return false };
    let Some(user) = rest.split('"').next() else { return false };
    let Some(at) = at.and_then(parse_log_time) else { return false };
    let closest = own
        .iter()
        .enumerate()
        .filter(|(i, l)| !used[*i] && l.user == user && at >= l.at - OWN_LOGIN_SKEW_S && at <= l.at + OWN_LOGIN_AFTER_S)
        .min_by(|(_, a), (_, b)| (a.at - at).abs().total_cmp(&(b.at - at).abs()))
        .map(|(i, _)| i);
    match closest {
        Some(i) => {
            used[i] = true;
            true
        }
        None => false,
    }
}

/// Docker's RFC 3339 time, or PostgreSQL's `2026-12-02 06:53:46.123 UTC` (`%m`) in UTC.
fn parse_log_time(at: &str) -> Option<f64> {
    if let Some(t) = crate::clock::parse_rfc3339(at) {
        return Some(t);
    }
    let (stamp, zone) = at.rsplit_once(' ')?;
    if zone != "UTC" && zone != "GMT" {
        return None;
    }
    crate::clock::parse_rfc3339(&format!("{}Z", stamp.replacen(' ', "T", 1)))
}

/// What a hit shows of its line: a JSON record as its level and words (its message may sit
/// after 300 characters of fields), any other line as it is.
fn sample(line: &str, read: &logline::LogLine) -> String {
    let line = line.trim();
    if !line.starts_with('{') || read.text == line {
        return line.to_string();
    }
    match read.level {
        Some(l) => format!("{} {}", format!("{l:?}").to_uppercase(), read.text),
        None => read.text.clone(),
    }
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() > n { s.chars().take(n - 1).collect::<String>() + "…" } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of doctor's own sessions (`app=doctor` in the spec's prefix) are no symptom; the
    /// same line from a service is.
    #[test]
    fn doctors_own_lines_are_no_symptom() {
        let line = |app: &str| {
            format!(
                "2026-12-02 16:00:55 UTC [18661]: [1-1] user=postgres,db=authdb,app={app},client=172.18.0.1 \
                 FATAL:  sorry, too many clients already"
            )
        };
        let (ours, theirs) = (line("doctor"), line("auth-service"));
        assert!(scan_with([ours.as_str()], &Limits::default()).is_empty());
        let hits = scan_with([ours.as_str(), theirs.as_str()], &Limits::default());
        assert_eq!(hits.len(), 1);
        assert_eq!((hits[0].code.as_str(), hits[0].count), ("PG002", 1));
    }

    #[test]
    fn real_log_lines_map_to_their_problem() {
        let log = "\
2026-11-28T12:00:01.000000001Z 2026-11-28 12:00:01.123 UTC [77] FATAL:  sorry, too many clients already
2026-11-28T12:00:02.000000001Z 2026-11-28 12:00:02.456 UTC [78] FATAL:  sorry, too many clients already
2026-11-28T12:00:03.000000001Z 2026-11-28 12:00:03.000 UTC [79] FATAL:  password authentication failed for user \"svc\"
2026-11-28T12:00:04.000000001Z 2026-11-28 12:00:04.000 UTC [1] LOG:  database system is ready to accept connections
2026-11-28T12:00:05.000000001Z 1:M 28 Nov 2026 12:00:05.000 # WARNING overcommit_memory is set to 0!
2026-11-28T12:00:06.000000001Z redis.exceptions.ResponseError: OOM command not allowed when used memory > 'maxmemory'.";
        let hits = scan(log.lines());
        let got: Vec<(&str, u64)> = hits.iter().map(|h| (h.code.as_str(), h.count)).collect();
        assert_eq!(got, vec![("PG002", 2), ("PG001", 1), ("RD002", 1)], "{hits:#?}");
        assert_eq!(hits[0].first_at.as_deref(), Some("2026-11-28T12:00:01.000000001Z"));
        assert_eq!(hits[0].last_at.as_deref(), Some("2026-11-28T12:00:02.000000001Z"));
        assert!(hits[0].sample.contains("[78]"));
    }

    #[test]
    fn ordinary_lines_match_nothing() {
        for line in [
            "LOG:  checkpoint starting: time",
            "INFO:     172.18.0.1:51234 - \"GET /health HTTP/1.1\" 200 OK",
            "Ready to accept connections tcp",
            "",
            "error",
            // The same requests as the runbook's error lines, answered well: their status decides.
            "INFO:     172.18.0.5:40000 - \"GET /api/users/profile HTTP/1.1\" 200 OK",
            "INFO:     172.18.0.5:40000 - \"POST /api/auth/login HTTP/1.1\" 200 OK",
            // log_connections, and a healthy stack's usual chatter.
            "2026-11-29 23:00:00.000 UTC [60] LOG:  connection authorized: user=app database=authdb application_name=asyncpg",
            "1:M 29 Nov 2026 23:00:00.000 * Background saving terminated with success",
            " GET /api/users/profile 200 in 35ms",
            "INFO:     172.18.0.7:51234 - \"POST /api/documents/upload HTTP/1.1\" 201 Created",
            // Another relation than the one the symptom names (doctor's own probe, once).
            "2026-11-29 23:00:40.678 UTC [53] ERROR:  relation \"pg_stat_statements\" does not exist at character 71",
        ] {
            assert!(matcher().unwrap().match_line(line).is_none(), "{line}");
        }
    }

    #[test]
    fn short_signatures_match_as_phrases_whatever_the_addresses() {
        let m = matcher().unwrap();
        for (line, code) in [
            ("Error: connect ECONNREFUSED 172.18.0.2:5432", "PG001"),
            ("ChunkLoadError: Loading chunk 123 failed.", "FE001"),
            ("[2026-11-29] ERROR auth: JWT verification failed: Signature has expired", "AU002"),
            ("httpx.ReadTimeout: Request timeout after 30s", "API001"),
        ] {
            assert_eq!(m.match_line(line).map(|h| h.0), Some(code), "{line}");
        }
        for line in [
            "2026-11-29 23:00:05,600 - app.db - INFO - Database connection pool started (size 10)",
            "2026-11-29 23:00:05,500 - app.documents - INFO - OCR processing completed for document 42",
        ] {
            assert_eq!(m.match_line(line), None, "{line}");
        }
        assert_eq!(phrase("Error: connect ECONNREFUSED 127.0.0.1:5432"), " error connect econnrefused ");
    }

    #[test]
    fn the_status_and_the_named_relation_decide() {
        let m = matcher().unwrap();
        let code = |line: &str| m.match_line(line).map(|(c, s, _)| (c.to_string(), s.to_string()));
        assert_eq!(
            code("INFO: 10.0.0.1:1 - \"GET /api/users/profile HTTP/1.1\" 404 Not Found"),
            Some(("API002".into(), "\"GET /api/users/profile HTTP/1.1\" 404 Not Found".into()))
        );
        assert_eq!(
            code("INFO: 10.0.0.1:1 - \"POST /api/auth/login HTTP/1.1\" 503 Service Unavailable").map(|c| c.1),
            Some("\"POST /api/auth/login HTTP/1.1\" 503 Service Unavailable".into())
        );
        assert_eq!(
            code("ERROR:  relation \"profiles\" does not exist at character 15").map(|c| c.0),
            Some("API002".into())
        );
        // A short signature is found as a phrase, whatever surrounds it.
        assert_eq!(code("app.db: ERROR Database connection error: timeout").map(|c| c.0), Some("API002".into()));
        assert_eq!(http_status("\"GET /x HTTP/1.1\" 404 Not Found").as_deref(), Some("404"));
        assert_eq!(http_status("504 Gateway Timeout").as_deref(), Some("504"));
        assert_eq!(http_status("LOG:  server process (PID 123) was terminated by signal 9: Killed"), None);
        assert_eq!(http_status("Exited (137)"), None);
    }

    #[test]
    fn secrets_in_quoted_lines_are_removed() {
        let hits =
            scan(["FATAL:  password authentication failed for user \"app\" postgresql://app:hunter2x@db/authdb"]);
        assert!(!hits[0].sample.contains("hunter2x"), "{}", hits[0].sample);
    }

    #[test]
    fn every_problem_with_error_texts_is_reachable_by_its_own_texts() {
        let m = matcher().unwrap();
        for p in catalogue::all().unwrap() {
            let literal: Vec<&str> = p
                .symptoms
                .iter()
                .filter_map(|s| match s {
                    Symptom::Literal { text, .. } => Some(text.as_str()),
                    _ => None,
                })
                .collect();
            if literal.is_empty() {
                continue;
            }
            let own = literal.iter().filter(|t| m.match_line(t).is_some_and(|(c, _, _)| c == p.code)).count();
            assert!(own * 2 >= literal.len(), "{}: only {own} of {} texts triage to it", p.code, literal.len());
        }
    }
}

#[cfg(test)]
mod own_login_tests {
    use super::*;

    fn limits(own: &[(&str, f64)]) -> Limits {
        Limits {
            own_logins: own.iter().map(|(u, at)| OwnLogin { user: u.to_string(), at: *at }).collect(),
            ..Limits::default()
        }
    }

    const T0: f64 = 1_764_658_426.0; // 2025-12-02T06:53:46Z

    fn docker_line(at: &str, user: &str) -> String {
        format!("{at} 2025-12-02 06:53:46.100 UTC [61] FATAL:  password authentication failed for user \"{user}\"")
    }

    #[test]
    fn doctors_own_refused_login_is_left_out_by_user_and_time() {
        let line = docker_line("2025-12-02T06:53:46.120000000Z", "postgres");
        // doctor tried `postgres` just before: its own line.
        assert!(scan_with([line.as_str()], &limits(&[("postgres", T0 + 0.02)])).is_empty());
        // Nobody tried, another user, another moment, or a login after the line: a symptom.
        for own in [vec![], vec![("app", T0)], vec![("postgres", T0 - 30.0)], vec![("postgres", T0 + 1.5)]] {
            let hits = scan_with([line.as_str()], &limits(&own));
            assert_eq!(hits.len(), 1, "{own:?}");
            assert_eq!(hits[0].code, "PG001");
        }
    }

    #[test]
    fn each_own_login_accounts_for_one_line_only() {
        // A service failing with the same user in the same second still shows, once.
        let a = docker_line("2025-12-02T06:53:46.120000000Z", "postgres");
        let b = docker_line("2025-12-02T06:53:46.900000000Z", "postgres");
        let hits = scan_with([a.as_str(), b.as_str()], &limits(&[("postgres", T0)]));
        assert_eq!(hits.iter().map(|h| h.count).sum::<u64>(), 1, "{hits:?}");
    }

    #[test]
    fn a_line_without_docker_time_is_matched_by_its_postgres_prefix() {
        let line = "2025-12-02 06:53:46.100 UTC [61] FATAL:  password authentication failed for user \"postgres\"";
        assert!(scan_with([line], &limits(&[("postgres", T0)])).is_empty());
        assert_eq!(scan_with([line], &limits(&[("postgres", T0 + 10.0)])).len(), 1);
    }
}
