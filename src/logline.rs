//! One log line read for what it says, in the stack's own formats
//! (`11-operations/04-logging.md`, `02-user-api/01`, `03-admin-api/01`, `06-database/02`):
//!
//! - JSON lines: FastAPI's python-json-logger (`message`, `level`) and Next.js's pino (`msg`,
//!   upper-case or numeric `level`), and response bodies (`{"detail": ...}`, `{"error":
//!   {"code", "message"}}`, a `/health` answer): their words are the message with its
//!   `detail`, `error` and the last line of any exception, never the field names and ids;
//! - user-api/admin-api's plain request lines (`Request completed - request_id: …, status: 200`,
//!   `Unhandled exception - request_id: …, error: …`): the title, and the error when there is one;
//! - PostgreSQL lines under the spec's `log_line_prefix` (`%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h `)
//!   or the default one: from the severity on, so that `user=`, `db=` and the client do not
//!   count as words of the message.
//!
//! Anything else is its own text. Pure, and total: every input gives a [`LogLine`], whatever
//! its bytes (the triage fuzz target reaches this through `triage::scan`).

use serde_json::{Map, Value};

/// A line's severity, as far as its format says one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    fn parse(s: &str) -> Option<Level> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "TRACE" | "DEBUG" | "DEBUG1" | "DEBUG2" | "DEBUG3" | "DEBUG4" | "DEBUG5" => Level::Debug,
            "INFO" | "NOTICE" | "LOG" => Level::Info,
            "WARN" | "WARNING" => Level::Warning,
            "ERROR" | "ERR" => Level::Error,
            "CRITICAL" | "FATAL" | "PANIC" => Level::Critical,
            _ => return None,
        })
    }

    /// pino's numbers: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal.
    fn pino(n: f64) -> Option<Level> {
        Some(match n {
            n if (0.0..30.0).contains(&n) => Level::Debug,
            n if (30.0..40.0).contains(&n) => Level::Info,
            n if (40.0..50.0).contains(&n) => Level::Warning,
            n if (50.0..60.0).contains(&n) => Level::Error,
            n if (60.0..=100.0).contains(&n) => Level::Critical,
            _ => return None,
        })
    }
}

/// What a line says, once its format is taken off.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// The words to match: the message of a JSON line (with its detail, error and exception),
    /// a request line's title and error, a PostgreSQL line from its severity on; otherwise the
    /// line itself.
    pub text: String,
    pub level: Option<Level>,
    /// The line's own time, when its format carries one (`timestamp` of a JSON line, `%t` of a
    /// PostgreSQL prefix, the `asctime` a Python line starts with), as written.
    pub time: Option<String>,
    /// A JSON log record: its level is the application's own judgement of the line.
    pub structured: bool,
    /// The client's application_name, when the line carries one (`app=%a` in a PostgreSQL
    /// prefix): `doctor` marks the lines doctor's own connections caused.
    pub app: Option<String>,
}

/// JSON lines longer than this are read as plain text (a log record is a few hundred bytes).
const JSON_MAX: usize = 256 << 10;

/// Reads one line (without Docker's timestamp).
pub fn read(line: &str) -> LogLine {
    let t = line.trim();
    if t.starts_with('{')
        && t.ends_with('}')
        && t.len() <= JSON_MAX
        && let Ok(Value::Object(o)) = serde_json::from_str::<Value>(t)
        && let Some(l) = json_line(&o)
    {
        return l;
    }
    if let Some(l) = postgres_line(t) {
        return l;
    }
    if let Some(l) = request_line(t) {
        return l;
    }
    LogLine { text: t.to_string(), level: python_level(t), time: leading_time(t), structured: false, app: None }
}

/// The milliseconds of a PostgreSQL `duration: 1234.567 ms` (log_min_duration_statement).
pub fn duration_ms(text: &str) -> Option<f64> {
    let i = text.find("duration: ")?;
    let rest = &text[i + "duration: ".len()..];
    let (num, unit) = rest.split_once(' ')?;
    if !unit.starts_with("ms") || num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    num.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn string<'a>(o: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| o.get(*k).and_then(Value::as_str)).map(str::trim).filter(|s| !s.is_empty())
}

/// The last non-empty line of a traceback: the exception and its message.
fn last_line(s: &str) -> Option<&str> {
    s.lines().map(str::trim).rfind(|l| !l.is_empty())
}

/// `{"code": "TOKEN_BLACKLISTED", "message": "..."}`, pino's `{"type", "message", "stack"}`, a
/// FastAPI validation list (`[{"msg": ...}]`), or a plain string.
fn error_words(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Object(o) => {
            let kind = string(o, &["code", "type", "name"]);
            let msg = string(o, &["message", "msg", "detail"]);
            match (kind, msg) {
                (Some(k), Some(m)) => Some(format!("{k}: {m}")),
                (k, m) => k.or(m).map(str::to_string),
            }
        }
        Value::Array(a) => {
            let v: Vec<String> = a.iter().take(8).filter_map(error_words).collect();
            (!v.is_empty()).then(|| v.join("; "))
        }
        _ => None,
    }
}

/// Component values of a `/health` answer that say it is down.
fn failing(v: &Value) -> bool {
    let bad = |s: &str| {
        matches!(
            s.to_ascii_lowercase().as_str(),
            "error" | "unhealthy" | "down" | "fail" | "failed" | "failure" | "disconnected" | "unavailable"
        )
    };
    match v {
        Value::String(s) => bad(s),
        Value::Object(o) => o.get("status").and_then(Value::as_str).is_some_and(bad),
        _ => false,
    }
}

fn json_line(o: &Map<String, Value>) -> Option<LogLine> {
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = string(o, &["message", "msg", "event"]) {
        parts.push(m.to_string());
    }
    for key in ["detail", "error", "err"] {
        if let Some(w) = o.get(key).and_then(error_words)
            && !parts.contains(&w)
        {
            parts.push(w);
        }
    }
    if let Some(exc) = string(o, &["exc_info", "exception", "stack_trace", "traceback", "stack"]).and_then(last_line)
        && !parts.iter().any(|p| p.contains(exc))
    {
        parts.push(exc.to_string());
    }
    if parts.is_empty() {
        // A /health answer: its status and the components that are down, in the order written
        // nowhere (JSON objects have none): sorted by name.
        let status = o.get("status").and_then(Value::as_str)?;
        if !failing(&Value::String(status.to_string())) && !status.eq_ignore_ascii_case("degraded") {
            return None;
        }
        parts.push(format!("status: {status}"));
        let checks = o.get("checks").and_then(Value::as_object).unwrap_or(o);
        for (k, v) in checks {
            if k != "status" && failing(v) {
                parts.push(format!("{k}: error"));
            }
        }
    }
    let level = match o.get("level").or_else(|| o.get("levelname")).or_else(|| o.get("severity")) {
        Some(Value::String(s)) => Level::parse(s),
        Some(Value::Number(n)) => n.as_f64().and_then(Level::pino),
        _ => None,
    };
    let time = match o.get("timestamp").or_else(|| o.get("time")).or_else(|| o.get("asctime")) {
        Some(Value::String(s)) => Some(s.clone()),
        // pino's epoch milliseconds, within years 2001..5000.
        Some(Value::Number(n)) => {
            n.as_f64().filter(|ms| (1e12..1e14).contains(ms)).map(|ms| crate::clock::rfc3339((ms / 1000.0) as i64))
        }
        _ => None,
    };
    Some(LogLine { text: parts.join(": "), level, time, structured: level.is_some(), app: None })
}

/// PostgreSQL's severities, as they follow the prefix (two spaces after the colon).
const PG_SEVERITIES: &[&str] = &[
    "LOG:  ",
    "ERROR:  ",
    "FATAL:  ",
    "PANIC:  ",
    "WARNING:  ",
    "NOTICE:  ",
    "DETAIL:  ",
    "HINT:  ",
    "STATEMENT:  ",
    "CONTEXT:  ",
    "INFO:  ",
    "DEBUG:  ",
    "DEBUG1:  ",
    "DEBUG2:  ",
];

/// `2025-09-30 10:15:23 JST [1234]: [1-1] user=postgres,db=authdb,app=psql,client=172.17.0.1 LOG:  …`
/// or the default `2026-11-29 23:00:00.000 UTC [60] FATAL:  …`: the prefix is a date, a time,
/// a zone, `[pid]`, and anything without a space-separated severity before the first severity.
fn postgres_line(t: &str) -> Option<LogLine> {
    let (at, sev) = PG_SEVERITIES.iter().filter_map(|s| t.find(s).map(|i| (i, *s))).min_by_key(|(i, _)| *i)?;
    let prefix = &t[..at];
    // The prefix starts with a date and holds `[pid]` right after the time.
    let b = prefix.as_bytes();
    let dated = b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && b[10] == b' ' && b[13] == b':' && b[16] == b':';
    let open = prefix.find(" [")?;
    let pid = prefix[open + 2..].split(']').next().filter(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
    if !dated || pid.is_none() || prefix.len() > 400 {
        return None;
    }
    let time = prefix[..open].trim().to_string();
    let level = Level::parse(sev.trim_end().trim_end_matches(':'));
    let app = prefix
        .split([',', ' '])
        .find_map(|f| f.strip_prefix("app="))
        .filter(|a| !a.is_empty() && *a != "[unknown]")
        .map(str::to_string);
    Some(LogLine { text: t[at..].to_string(), level, time: Some(time), structured: false, app })
}

/// `Request completed - request_id: {uuid}, user_id: …, status: 200, process_time: 0.1s` and
/// `Unhandled exception - request_id: {uuid}, error: {message}[, traceback: …]`, after any
/// logging prefix: the fields are ids and numbers, so only the title and the error are words.
fn request_line(t: &str) -> Option<LogLine> {
    let i = t.find(" - request_id: ")?;
    let title = &t[..i];
    let fields = &t[i + " - request_id: ".len()..];
    let error = fields.find(", error: ").map(|e| {
        let e = &fields[e + ", error: ".len()..];
        e.find(", traceback: ").map_or(e, |j| &e[..j]).trim()
    });
    let text = match error {
        Some(e) if !e.is_empty() => format!("{title}: {e}"),
        _ => title.to_string(),
    };
    let level = python_level(title).or_else(|| error.map(|_| Level::Error));
    Some(LogLine { text, level, time: leading_time(t), structured: false, app: None })
}

/// The level of a Python logging line: `… - ERROR - …` (asctime format) or `ERROR:name:…`
/// (the default format; uvicorn's `INFO:     …`).
fn python_level(t: &str) -> Option<Level> {
    if let Some(l) = t.split(" - ").skip(1).take(3).find_map(Level::parse) {
        return Some(l);
    }
    let head = t.split(':').next()?;
    (head.len() <= 8).then(|| Level::parse(head)).flatten()
}

/// `2026-11-29 23:00:05,600` or `2026-11-29T23:00:05.600Z` at the start of a line.
fn leading_time(t: &str) -> Option<String> {
    let b = t.as_bytes();
    let dated = b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b' ' || b[10] == b'T')
        && b[13] == b':'
        && b[16] == b':';
    if !dated || !t.is_char_boundary(19) || !t[..4].bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let end = t[19..]
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, ',' | '.' | 'Z' | '+' | ':')))
        .map_or(t.len(), |j| 19 + j);
    // A time ends at a space: `2026-11-28T12:01:04+09ڃ0` is no time, not `…+09`.
    t[end..].chars().next().is_none_or(char::is_whitespace).then(|| t[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_records_are_read_for_their_message_and_level() {
        let l = read(
            r#"{"timestamp":"2025-09-30T12:34:56.789Z","level":"WARNING","service":"auth-service","request_id":"req-456","message":"Login failed: invalid credentials","action":"login_failure"}"#,
        );
        assert_eq!(l.text, "Login failed: invalid credentials");
        assert_eq!(
            (l.level, l.time.as_deref(), l.structured),
            (Some(Level::Warning), Some("2025-09-30T12:34:56.789Z"), true)
        );

        let pino = read(
            r#"{"level":50,"time":1727699696789,"pid":1,"hostname":"h","msg":"Login proxy error","err":{"type":"TypeError","message":"fetch failed","stack":"TypeError: fetch failed\n    at x"}}"#,
        );
        assert_eq!(pino.text, "Login proxy error: TypeError: fetch failed");
        assert_eq!(pino.level, Some(Level::Error));
        assert_eq!(pino.time.as_deref(), Some("2024-09-30T12:34:56Z"));

        let exc = read(
            r#"{"level":"ERROR","message":"Login error","exc_info":"Traceback (most recent call last):\n  File \"/app/x.py\", line 3\npsycopg2.OperationalError: FATAL:  password authentication failed for user \"postgres\"\n"}"#,
        );
        assert_eq!(
            exc.text,
            "Login error: psycopg2.OperationalError: FATAL:  password authentication failed for user \"postgres\""
        );
    }

    #[test]
    fn response_bodies_say_their_detail_error_or_failing_components() {
        assert_eq!(read(r#"{"detail":"Token has expired"}"#).text, "Token has expired");
        assert_eq!(
            read(r#"{"status":"error","error":{"code":"TOKEN_BLACKLISTED","message":"Token has been revoked","details":{}}}"#).text,
            "TOKEN_BLACKLISTED: Token has been revoked"
        );
        assert_eq!(
            read(r#"{"status":"unhealthy","redis":"ok","database":"error"}"#).text,
            "status: unhealthy: database: error"
        );
        assert_eq!(read(r#"{"detail":[{"loc":["body","email"],"msg":"field required"}]}"#).text, "field required");
        // A healthy answer, and JSON that is no log record, stay as they are.
        let ok = r#"{"status":"healthy","database":"ok","redis":"ok"}"#;
        assert_eq!(read(ok).text, ok);
        assert_eq!(read("[1,2]").text, "[1,2]");
    }

    #[test]
    fn request_lines_keep_the_title_and_the_error() {
        let l = read(
            "Request completed - request_id: 0b6f, user_id: 9a1c, endpoint: /profile, status: 200, process_time: 0.1234s",
        );
        assert_eq!(l.text, "Request completed");
        let e = read(
            "2026-11-29 23:00:05,600 - app.main - ERROR - Unhandled exception - request_id: 0b6f, error: (psycopg2.OperationalError) could not connect to server: Connection refused, traceback: Traceback ...",
        );
        assert_eq!(
            e.text,
            "2026-11-29 23:00:05,600 - app.main - ERROR - Unhandled exception: (psycopg2.OperationalError) could not connect to server: Connection refused"
        );
        assert_eq!((e.level, e.time.as_deref()), (Some(Level::Error), Some("2026-11-29 23:00:05,600")));
    }

    #[test]
    fn postgres_prefixes_are_taken_off() {
        let l = read(
            "2025-09-30 10:15:23 JST [1234]: [1-1] user=postgres,db=authdb,app=psql,client=172.17.0.1 LOG:  duration: 1234.567 ms  statement: SELECT 1",
        );
        assert_eq!(l.text, "LOG:  duration: 1234.567 ms  statement: SELECT 1");
        assert_eq!((l.level, l.time.as_deref()), (Some(Level::Info), Some("2025-09-30 10:15:23 JST")));
        assert_eq!(duration_ms(&l.text), Some(1234.567));
        let d = read("2026-11-29 23:00:00.000 UTC [60] FATAL:  sorry, too many clients already");
        assert_eq!((d.text.as_str(), d.level), ("FATAL:  sorry, too many clients already", Some(Level::Critical)));
        // Not a prefix: the severity word inside a message of another format.
        assert_eq!(read("app: saw ERROR:  x").text, "app: saw ERROR:  x");
        assert_eq!(duration_ms("LOG:  duration: 0.412 ms"), Some(0.412));
        assert_eq!(duration_ms("duration: 12s"), None);
    }

    #[test]
    fn any_bytes_give_a_line() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let alphabet: Vec<char> =
            "{}[]\":, -_=.0123456789aZé日\u{FFFD}LOGERROR:  request_id error: duration ms statusunhealthy"
                .chars()
                .collect();
        for _ in 0..4000 {
            let mut s = String::new();
            for _ in 0..(seed % 80) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let l = read(&s);
            let _ = duration_ms(&l.text);
        }
        for s in [
            "{",
            "{}",
            r#"{"level":1e308,"time":1e300,"message":""}"#,
            r#"{"time":-5,"status":"unhealthy","checks":{"db":{"status":"down"}}}"#,
            "2026-11-29 23:00:00.000 UTC [é] LOG:  x",
            "2026-11-29é23:00:00 x",
            "2026-11-28T12:01:04+09ڃ0 x",
            "2026-11-29 23:00:0é [1] LOG:  x",
            " - request_id: , error: ",
            "duration: 1e999 ms",
        ] {
            let _ = duration_ms(&read(s).text);
        }
        assert_eq!(
            read(r#"{"time":-5,"status":"unhealthy","checks":{"db":{"status":"down"}}}"#).text,
            "status: unhealthy: db: error"
        );
    }
}
