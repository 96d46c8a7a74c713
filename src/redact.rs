//! The one place that decides what is secret. Every text doctor prints (any format, `-v` logs,
//! error messages, dumped facts) passes through [`scrub`] on its way out, and data that quotes
//! the outside world (query texts, log lines, key names, environments) is scrubbed when it is
//! gathered too, so that a secret is removed twice before anyone can read it.
//!
//! Two mechanisms: shapes that are always secret wherever they appear (a URL's password, a
//! JWT, a PEM block, the value after a secret-looking name, a bearer token), and the exact
//! secrets doctor was given (passwords from flags, environment, `.env`, `doctor.toml`), which
//! are registered once and replaced wherever they turn up. Hand-written scanners rather than
//! regexes: they are small, fuzzed, and cannot blow up on hostile input.

use sha2::{Digest, Sha256};
use std::sync::{OnceLock, RwLock};

pub const MASK: &str = "***";

fn registry() -> &'static RwLock<Vec<String>> {
    static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

fn is_placeholder(s: &str) -> bool {
    s.len() > 2 && s.starts_with('<') && s.ends_with('>') && !s[1..s.len() - 1].contains(['<', '>'])
}

/// Values too common to be replaced wherever they appear (`postgres` is also a user, a
/// database and half of every sentence here). They are still masked where they stand as a
/// password (in a URL, after `PASSWORD=`), and the operator is told to choose a real one.
const COMMON_WORDS: &[&str] = &[
    "postgres",
    "postgresql",
    "password",
    "redis",
    "admin",
    "secret",
    "changeme",
    "root",
    "user",
    "test",
    "example",
    "default",
    "guest",
    "app",
    "authdb",
    "apidb",
    "admindb",
    "localhost",
];

fn weak() -> &'static RwLock<Vec<String>> {
    static WEAK: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    WEAK.get_or_init(|| RwLock::new(Vec::new()))
}

/// Names of the variables whose secret was too common a word to be removed everywhere.
pub fn weak_secret_names() -> Vec<String> {
    weak().read().map(|v| v.clone()).unwrap_or_default()
}

/// Like [`register_secret`], remembering `name` when the value is too ordinary to register (a
/// common word, a word of the stack or the report, a short number): such a secret is weak, and
/// the operator is told to choose a real one.
pub fn register_named_secret(name: &str, secret: &str) {
    let s = secret.trim();
    if !s.is_empty() && ordinary_value(s) {
        if let Ok(mut v) = weak().write()
            && !v.iter().any(|n| n == name)
        {
            v.push(name.to_string());
        }
        return;
    }
    register_secret(s);
}

/// Remembers an exact secret so that every later output has it replaced. Very short values
/// (under 4 characters) and ordinary values ([`ordinary_value`]) are not registered: replacing
/// them everywhere would shred the report; the shape rules still catch them where they stand in
/// a URL or after a secret name.
pub fn register_secret(secret: &str) {
    let s = secret.trim();
    if s.chars().count() < 4 || ordinary_value(s) {
        return;
    }
    if let Ok(mut v) = registry().write() {
        let variants = [s.to_string(), percent_encode(s), json_escape(s)];
        for var in variants {
            if !v.contains(&var) {
                v.push(var);
            }
        }
        // Longest first, so a secret that contains another is replaced whole.
        v.sort_by_key(|x| std::cmp::Reverse(x.len()));
    }
}

/// Words the stack and its reports use for themselves, which a variable may hold but which are
/// never secret wherever else they appear: cookie and key names (`access_token`, the Redis
/// `refresh_token:*`), token kinds and schemes, flags, environments and log levels.
const STACK_WORDS: &[&str] = &[
    "access_token",
    "refresh_token",
    "access",
    "refresh",
    "token",
    "session",
    "bearer",
    "jwt",
    "jwks",
    "true",
    "false",
    "yes",
    "none",
    "null",
    "enabled",
    "disabled",
    "production",
    "development",
    "staging",
    "debug",
    "info",
    "warn",
    "error",
    "strict",
    "lax",
];

/// Whether a value is too ordinary to be replaced wherever it appears, whatever name it stood
/// under: a weak password ([`COMMON_WORDS`]), a word of the stack ([`STACK_WORDS`]), a JOSE
/// algorithm name (`RS256`), a word of the report ([`report_word`]), or a short number (all
/// digits, at most one decimal point, under 12 characters: a TTL such as `2592000` or a port;
/// a PIN that short is no secret worth shredding every count and duration of the report for).
fn ordinary_value(s: &str) -> bool {
    let in_list = |list: &[&str]| list.iter().any(|w| w.eq_ignore_ascii_case(s));
    in_list(COMMON_WORDS) || in_list(STACK_WORDS) || jose_algorithm(s) || short_number(s) || report_word(s)
}

/// `HS256` … `PS512`, `ES256K`, `EdDSA`: the names a JWT's `alg` and `JWT_ALGORITHM` hold.
fn jose_algorithm(s: &str) -> bool {
    let s = s.to_ascii_uppercase();
    if s == "EDDSA" || s == "ES256K" {
        return true;
    }
    s.len() == 5 && ["HS", "RS", "ES", "PS"].contains(&&s[..2]) && ["256", "384", "512"].contains(&&s[2..])
}

fn short_number(s: &str) -> bool {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    digits > 0 && s.len() < 12 && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') && s.len() - digits <= 1
}

/// Whether a value is one of the report's own words (a part of a cause id, a status, a
/// verdict): a password like `wrong` would otherwise turn `wrong-password` into `***-password`
/// everywhere. Such a value is still removed where it stands in a URL or after a secret name.
fn report_word(s: &str) -> bool {
    const STATUS_WORDS: &[&str] =
        &["ok", "skipped", "warning", "unknown", "critical", "confirmed", "suspected", "ruled", "out", "unchecked"];
    let s = s.to_ascii_lowercase();
    if STATUS_WORDS.contains(&s.as_str()) {
        return true;
    }
    let Ok(problems) = crate::catalogue::all() else { return false };
    problems.iter().any(|p| {
        p.code.eq_ignore_ascii_case(&s) || p.causes.iter().any(|c| c.id == s || c.id.split('-').any(|w| w == s))
    })
}

/// Last segments that name the kind of value a variable holds when that kind is a setting about
/// a secret rather than the secret itself: a name, a duration, a location, a size or count, a
/// flag, an algorithm or type.
const SETTING_KINDS: &[&str] = &[
    // names and labels: ACCESS_TOKEN_COOKIE_NAME=access_token, API_KEY_HEADER=X-Api-Key
    "name",
    "names",
    "header",
    "prefix",
    "type",
    "kind",
    "format",
    "mode",
    "scheme",
    "alg",
    "algorithm",
    "algorithms",
    "version",
    // durations: REFRESH_TOKEN_TTL_SEC, JWT_ACCESS_TOKEN_EXPIRE_MINUTES, SESSION_TOKEN_LIFETIME
    "ttl",
    "sec",
    "secs",
    "second",
    "seconds",
    "ms",
    "millis",
    "min",
    "mins",
    "minute",
    "minutes",
    "hour",
    "hours",
    "day",
    "days",
    "week",
    "weeks",
    "lifetime",
    "timeout",
    "age",
    "interval",
    "window",
    // locations: JWT_PRIVATE_KEY_PATH, POSTGRES_PASSWORD_FILE, JWKS_URL (URL passwords have their own rule)
    "path",
    "file",
    "dir",
    "directory",
    "url",
    "uri",
    // sizes, counts, flags: SECRET_LENGTH, TOKEN_LIMIT, REFRESH_TOKEN_ENABLED
    "length",
    "len",
    "size",
    "bits",
    "count",
    "limit",
    "enabled",
    "disabled",
    "required",
];

/// Well-known variables whose secret-looking name holds a location, by their own documentation
/// (`GOOGLE_APPLICATION_CREDENTIALS=/app/keys/gcp-credentials.json`).
const LOCATION_NAMES: &[&str] = &["google_application_credentials"];

/// Whether a variable or field name says its value is secret.
///
/// A name is secret when it contains a secret word (`password`, `passwd`, `secret`, `token` but
/// not `tokenizer`, `credential`, `private`, `apikey`, `api_key`) or has a segment `key`, `pass`
/// or `pwd` — unless its last segment names the kind of a setting ([`SETTING_KINDS`]: `NAME`,
/// `TTL`, `SEC`, `MINUTES`, `PATH`, `FILE`, `URL`, `ALGORITHM`, `TYPE`, `LENGTH`, `ENABLED`,
/// `LIMIT`, …, or a segment beginning with `EXPIR`), in which case the name describes a setting
/// about a secret and its value is shown. Segments are split at `_`, `-`, `.` and where
/// camelCase turns to upper case; a trailing `IN`, `AT` or `AFTER` is skipped
/// (`TOKEN_EXPIRES_IN`). So `ACCESS_TOKEN_COOKIE_NAME`, `REFRESH_TOKEN_TTL_SEC`,
/// `JWT_ALGORITHM`, `JWT_PRIVATE_KEY_PATH`, `token_type` are settings, while `ACCESS_TOKEN`,
/// `SECRET_KEY`, `JWT_SECRET_KEY`, `AWS_SECRET_ACCESS_KEY`, `AWS_ACCESS_KEY_ID` (its last
/// segment `ID` names no setting), `PRIVATE_KEY` and `DOCTOR_REFRESH_TOKEN` stay secret.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    // The runbook's cause ids name causes, not settings (`wrong-password: the server refused…`).
    if is_cause_id(name) {
        return false;
    }
    let segs = segments(name);
    let secret_word =
        ["password", "passwd", "secret", "credential", "private", "apikey", "api_key"].iter().any(|w| n.contains(w))
            || n.match_indices("token").any(|(i, _)| !n[i + 5..].starts_with("iz") && !n[i + 5..].starts_with("is"));
    let secret_segment = segs.iter().any(|seg| seg == "key" || seg == "pass" || (seg == "pwd" && n != "pwd"));
    if !(secret_word || secret_segment) {
        return false;
    }
    !(names_a_setting(&segs) || LOCATION_NAMES.contains(&n.as_str()))
}

fn is_cause_id(name: &str) -> bool {
    static IDS: OnceLock<Vec<String>> = OnceLock::new();
    IDS.get_or_init(|| {
        crate::catalogue::all()
            .map(|all| all.iter().flat_map(|p| p.causes.iter().map(|c| c.id.to_string())).collect())
            .unwrap_or_default()
    })
    .iter()
    .any(|id| id == name)
}

/// A name's segments, lower case: `refreshTokenTTL_sec` → `refresh`, `token`, `ttl`, `sec`.
fn segments(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if matches!(c, '_' | '-' | '.') {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether a name's last segment (before a trailing `in`, `at`, `after`) names a setting.
fn names_a_setting(segs: &[String]) -> bool {
    let mut last = segs.len();
    if last >= 2 && matches!(segs[last - 1].as_str(), "in" | "at" | "after") {
        last -= 1;
    }
    // A lone `TTL` or `PATH` holds no secret word anyway; `SECRET` or `KEY` alone is the secret.
    if last < 2 {
        return false;
    }
    let kind = segs[last - 1].as_str();
    SETTING_KINDS.contains(&kind) || kind.starts_with("expir")
}

/// A short keyed fingerprint of a secret, to show that two secrets are (or are not) the same
/// without showing either. The key is random per run: fingerprints compare within one report
/// and cannot be used to test guesses offline.
pub fn fingerprint(secret: &str) -> String {
    static KEY: OnceLock<[u8; 16]> = OnceLock::new();
    let key = KEY.get_or_init(random_key);
    let mut h = Sha256::new();
    h.update(key);
    h.update(secret.as_bytes());
    let d = h.finalize();
    d.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

fn random_key() -> [u8; 16] {
    use std::io::Read;
    let mut k = [0u8; 16];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut k)).is_err() {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0),
        );
        k[..8].copy_from_slice(&h.finish().to_le_bytes());
    }
    k
}

/// Removes every secret from a text meant for output.
pub fn scrub(text: &str) -> String {
    let mut s = pem_blocks(text);
    s = url_passwords(&s);
    s = jwts(&s);
    s = bearer_tokens(&s);
    s = named_values(&s);
    if let Ok(v) = registry().read() {
        for secret in v.iter() {
            if s.contains(secret.as_str()) {
                s = replace_unprotected(&s, secret);
            }
        }
    }
    s
}

/// `secret` replaced by [`MASK`] wherever it stands outside a line of the runbook.
fn replace_unprotected(s: &str, secret: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for (i, _) in s.match_indices(secret) {
        if i < last {
            continue;
        }
        out.push_str(&s[last..i]);
        if runbook_text(s, i, i + secret.len()) {
            out.push_str(secret);
        } else {
            out.push_str(MASK);
        }
        last = i + secret.len();
    }
    out.push_str(&s[last..]);
    out
}

/// The runbook's own lines, both languages: titles, symptoms, commands, causes, remedies, how
/// each is judged, and every message cut at its `{placeholders}` (what fills those comes from
/// outside and is never protected). Trimmed, at least [`MIN_PROTECTED`] characters long.
fn runbook_lines() -> &'static [String] {
    static LINES: OnceLock<Vec<String>> = OnceLock::new();
    LINES.get_or_init(|| {
        let mut texts: Vec<&crate::runbook::Text> = Vec::new();
        let mut literal: Vec<&str> = Vec::new();
        if let Ok(all) = crate::catalogue::all() {
            for p in all {
                texts.extend([&p.title, &p.ok_title, &p.by_hand]);
                for c in &p.causes {
                    texts.extend([&c.cause, &c.remedy]);
                    texts.extend(c.judged.as_ref());
                }
                texts.extend(p.messages.values());
                for sym in &p.symptoms {
                    literal.extend(sym.wordings());
                }
            }
        }
        if let Some(shared) = crate::catalogue::shared() {
            texts.extend(shared.messages.values());
        }
        literal.extend(texts.iter().flat_map(|t| [t.en.as_str(), t.ja.as_str()]));
        let mut lines: Vec<String> = literal
            .iter()
            .flat_map(|t| t.lines())
            .flat_map(split_at_placeholders)
            .map(str::trim)
            .filter(|l| l.chars().count() >= MIN_PROTECTED)
            .map(str::to_string)
            .collect();
        lines.sort();
        lines.dedup();
        lines
    })
}

/// Shorter pieces of the runbook are not worth protecting (and could be anything).
const MIN_PROTECTED: usize = 12;

/// A template line cut at its `{name}` placeholders (other braces are text: `{ credentials:
/// 'include' }`, `{{json .State}}`).
fn split_at_placeholders(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut seg, mut at) = (0, 0);
    while let Some(open) = line[at..].find('{').map(|i| at + i) {
        let tail = &line[open + 1..];
        match tail.find('}') {
            Some(close) if close > 0 && tail[..close].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
                out.push(&line[seg..open]);
                seg = open + 1 + close + 1;
                at = seg;
            }
            _ => at = open + 1,
        }
    }
    out.push(&line[seg..]);
    out
}

/// Whether `text[start..end]` lies inside a whole line of the runbook as it stands in `text`:
/// those characters are the runbook's, public and the same whoever runs doctor, so they are
/// printed as written, even where a pattern would take them for a secret (`Bearer $TOKEN`,
/// `"password":"testpass"`, `credentials: 'include'`). Nothing from outside can hide behind
/// this: only characters equal to a runbook line, in place, are kept.
fn runbook_text(text: &str, start: usize, end: usize) -> bool {
    let Some(m) = text.get(start..end).filter(|m| !m.is_empty()) else { return false };
    runbook_lines().iter().any(|line| {
        line.match_indices(m)
            .any(|(o, _)| start >= o && text.get(start - o..start - o + line.len()).is_some_and(|t| t == line.as_str()))
    })
}

/// Box-drawing characters: the borders of doctor's own tables, never part of a value.
fn is_border(c: char) -> bool {
    ('\u{2500}'..='\u{257F}').contains(&c)
}

/// Scrubs every string of a JSON value (keys too), so JSON stays valid whatever was removed.
pub fn scrub_json(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => *s = scrub(s),
        Value::Array(a) => a.iter_mut().for_each(scrub_json),
        Value::Object(o) => {
            let entries: Vec<(String, Value)> = std::mem::take(o).into_iter().collect();
            for (k, mut val) in entries {
                scrub_json(&mut val);
                o.insert(scrub(&k), val);
            }
        }
        _ => {}
    }
}

/// A URL with its password masked (`postgresql://app:***@db:5432/authdb`).
pub fn url(u: &str) -> String {
    url_passwords(u)
}

/// SQL text with its string literals blanked, so a query quoted as evidence never carries a
/// value (`WHERE token = '…'`).
pub fn sql_literals(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            out.push_str("'…'");
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
        } else if c == '$' {
            // dollar quoting: $tag$ ... $tag$
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            if j < chars.len() && chars[j] == '$' && !chars[i + 1..j].first().is_some_and(|c| c.is_ascii_digit()) {
                let tag: String = chars[i..=j].iter().collect();
                let rest: String = chars[j + 1..].iter().collect();
                match rest.find(&tag) {
                    Some(end) => {
                        out.push_str(&tag);
                        out.push('…');
                        out.push_str(&tag);
                        i = j + 1 + rest[..end].chars().count() + tag.chars().count();
                    }
                    None => {
                        out.push_str(&tag);
                        out.push('…');
                        i = chars.len();
                    }
                }
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn pem_blocks(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("-----BEGIN ") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        match after.find("-----END ") {
            Some(end_at) => {
                let tail = &after[end_at + 9..];
                let close = tail.find("-----").map_or(tail.len(), |i| i + 5);
                out.push_str("[PEM block redacted]");
                rest = &tail[close..];
            }
            None => {
                out.push_str("[PEM block redacted]");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn url_passwords(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        // Just past the last character that cannot be part of a scheme (it may be multi-byte).
        let scheme_start = rest[..i]
            .char_indices()
            .rfind(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '+' || *c == '-' || *c == '.'))
            .map_or(0, |(p, c)| p + c.len_utf8());
        let scheme = rest[scheme_start..i].to_ascii_lowercase();
        out.push_str(&rest[..i + 3]);
        let after = &rest[i + 3..];
        let end = after
            .find(|c: char| {
                c == '/'
                    || c == '?'
                    || c == '#'
                    || c.is_whitespace()
                    || c == '"'
                    || c == '\''
                    || c == '<'
                    || c == '>'
                    || c == '`'
                    || is_border(c)
            })
            .unwrap_or(after.len());
        let authority = &after[..end];
        let from = rest.as_ptr() as usize - s.as_ptr() as usize + scheme_start;
        let to = after.as_ptr() as usize - s.as_ptr() as usize + end;
        match authority.rfind('@') {
            // The runbook's own example (`redis://:password@redis:6379`) is printed as written.
            Some(_) if runbook_text(s, from, to) => out.push_str(authority),
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    // A placeholder in our own texts (`user:<password>@host`) is kept.
                    Some(colon) if is_placeholder(&userinfo[colon + 1..]) => out.push_str(userinfo),
                    Some(colon) => {
                        out.push_str(&userinfo[..colon + 1]);
                        out.push_str(MASK);
                    }
                    // `redis://secret@host`: a password put where the user name goes.
                    None if scheme.starts_with("redis") && !userinfo.is_empty() => out.push_str(MASK),
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn is_b64url(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn jwts(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("eyJ") {
        let preceded_by_word = rest[..i].chars().next_back().is_some_and(is_b64url);
        let cand = &rest[i..];
        let seg1 = cand.find(|c: char| !is_b64url(c)).unwrap_or(cand.len());
        let is_jwt = !preceded_by_word && cand[seg1..].starts_with('.') && {
            let c2 = &cand[seg1 + 1..];
            let seg2 = c2.find(|c: char| !is_b64url(c)).unwrap_or(c2.len());
            seg2 > 0 && c2[seg2..].starts_with('.')
        };
        out.push_str(&rest[..i]);
        if is_jwt {
            let len = cand.find(|c: char| !(is_b64url(c) || c == '.')).unwrap_or(cand.len());
            let from = cand.as_ptr() as usize - s.as_ptr() as usize;
            if runbook_text(s, from, from + len) {
                out.push_str(&cand[..len]);
            } else {
                out.push_str("[JWT redacted]");
            }
            rest = &cand[len..];
        } else {
            out.push_str("eyJ");
            rest = &cand[3..];
        }
    }
    out.push_str(rest);
    out
}

fn bearer_tokens(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let lower = rest.to_ascii_lowercase();
        let Some(i) = lower.find("bearer ") else {
            break;
        };
        out.push_str(&rest[..i + 7]);
        let after = &rest[i + 7..];
        let len = after
            .find(|c: char| {
                c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | '`' | ')' | '、' | '。') || is_border(c)
            })
            .unwrap_or(after.len());
        let from = rest.as_ptr() as usize - s.as_ptr() as usize + i;
        let to = after.as_ptr() as usize - s.as_ptr() as usize + len;
        if len > 0 && !no_token(&after[..len]) && !runbook_text(s, from, to) {
            out.push_str(MASK);
        } else {
            out.push_str(&after[..len]);
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// What follows `Bearer ` when no token was sent: an unset variable (`Bearer undefined`,
/// `Bearer null`, which *is* the diagnosis), a shell or template variable (`$TOKEN`,
/// `${accessToken}`), a placeholder, or a mask already in place.
fn no_token(v: &str) -> bool {
    ["undefined", "null", "none", "nil", "nan", MASK].iter().any(|w| v.eq_ignore_ascii_case(w))
        || v.starts_with(['$', '<', '{', '['])
}

/// `PASSWORD=x`, `password: x`, `"token": "x"`, `Cookie: a=b`: the value after a secret name.
/// `Access-Control-Allow-Credentials: true`, fetch's `credentials: 'include'`: a mode, not a
/// credential (and the very words the runbook's CORS rows are about).
fn credentials_mode(name: &str, value: &str) -> bool {
    name.to_ascii_lowercase().ends_with("credentials")
        && ["true", "false", "include", "omit", "same-origin"].iter().any(|v| v.eq_ignore_ascii_case(value))
}

fn named_values(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    // Byte offset of each character (and of the end), to ask whether a match is the runbook's.
    let bytes: Vec<usize> = s.char_indices().map(|(b, _)| b).chain(std::iter::once(s.len())).collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '-' || chars[i] == '.')
            {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            out.push_str(&name);
            // optional closing quote of a JSON key, spaces, then = or :
            let mut j = i;
            if j < chars.len() && chars[j] == '"' {
                j += 1;
            }
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            let is_cookie = name.eq_ignore_ascii_case("cookie") || name.eq_ignore_ascii_case("set-cookie");
            let quoted_name = start > 0 && chars[start - 1] == '"';
            // `name=value` always; `name: value` only with a space or a quoted name, so that
            // key names such as `refresh_token:42` or `key:7` stay readable.
            let separator = j < chars.len()
                && (chars[j] == '='
                    || (chars[j] == ':' && (quoted_name || chars.get(j + 1).is_some_and(|c| *c == ' '))));
            if separator && (is_secret_name(&name) || is_cookie) {
                let sep_end = j + 1;
                let mut k = sep_end;
                while k < chars.len() && chars[k] == ' ' {
                    k += 1;
                }
                let quoted = k < chars.len() && (chars[k] == '"' || chars[k] == '\'');
                let vstart = if quoted { k + 1 } else { k };
                let mut vend = vstart;
                if quoted {
                    let q = chars[k];
                    while vend < chars.len() && chars[vend] != q {
                        vend += 1;
                    }
                } else if is_cookie {
                    while vend < chars.len() && chars[vend] != '\n' && !is_border(chars[vend]) {
                        vend += 1;
                    }
                } else {
                    while vend < chars.len()
                        && !(chars[vend].is_whitespace()
                            || matches!(chars[vend], ',' | ';' | '&' | '"' | '\'' | ')' | '}')
                            || is_border(chars[vend]))
                    {
                        vend += 1;
                    }
                }
                let value: String = chars[vstart..vend].iter().collect();
                // Placeholders in our own texts (`<token_id>`, `${REDIS_PASSWORD}`) are not secrets.
                let keep = value.is_empty()
                    || value.starts_with('<')
                    || value.starts_with('$')
                    || value == "*"
                    || value == MASK
                    || value.starts_with("[JWT")
                    || value.starts_with("[PEM")
                    || credentials_mode(&name, &value)
                    || runbook_text(s, bytes[start], bytes[(vend + usize::from(quoted)).min(chars.len())]);
                out.extend(&chars[i..vstart]);
                if keep {
                    out.push_str(&value);
                } else if is_cookie {
                    out.push_str(&cookie_mask(&value));
                } else {
                    out.push_str(MASK);
                }
                i = vend;
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// A cookie header with each value masked but names and attributes kept.
fn cookie_mask(v: &str) -> String {
    v.split(';')
        .map(|part| match part.split_once('=') {
            Some((k, _))
                if !matches!(
                    k.trim().to_ascii_lowercase().as_str(),
                    "path" | "samesite" | "domain" | "expires" | "max-age"
                ) =>
            {
                format!("{k}={MASK}")
            }
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

pub fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn json_escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted.trim_matches('"').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_id_before_its_evidence_is_no_secret_name() {
        for line in
            ["doctor-credential-stale: the server refused doctor's password", "wrong-password: the server said no"]
        {
            assert_eq!(scrub(line), line);
        }
        assert_eq!(scrub("db_password: hunter2hunter2"), "db_password: ***");
    }

    #[test]
    fn credentials_modes_stay_readable() {
        assert_eq!(scrub("Access-Control-Allow-Credentials: true"), "Access-Control-Allow-Credentials: true");
        assert_eq!(scrub("fetch(url, { credentials: 'include' })"), "fetch(url, { credentials: 'include' })");
        assert_eq!(scrub("GOOGLE_CREDENTIALS=s3cr3t-value"), "GOOGLE_CREDENTIALS=***");
    }

    #[test]
    fn the_runbooks_own_lines_are_printed_as_written() {
        for line in [
            "curl -si http://localhost:8001/api/users/profile -H \"Authorization: Bearer $TOKEN\" | head -1",
            "  -d '{\"username\":\"testuser\",\"password\":\"testpass\"}' 2>&1 | grep -i '^< set-cookie'",
            "Check the Redis connection from auth-service: REDIS_URL (redis://:password@redis:6379), the server's \
             answer to `redis-cli ping`, and whether writes are refused with OOM. Follow RD001 (cannot connect) or \
             RD002 (out of memory).",
        ] {
            assert_eq!(scrub(line), line);
            // Indented or inside a longer text, as the renderers print it.
            let framed = format!("    {line}\n  next");
            assert_eq!(scrub(&framed), framed);
        }
        // The same shapes with values from outside are still removed.
        assert_eq!(
            scrub("-H \"Authorization: Bearer Zq4tok\" | head -1"),
            "-H \"Authorization: Bearer ***\" | head -1"
        );
        assert_eq!(
            scrub(r#"-d '{"username":"testuser","password":"Zq4pw"}'"#),
            r#"-d '{"username":"testuser","password":"***"}'"#
        );
        assert_eq!(scrub("REDIS_URL (redis://:Zq4pw@redis:6379)"), "REDIS_URL (redis://:***@redis:6379)");
    }

    #[test]
    fn a_registered_secret_is_kept_only_where_it_is_the_runbooks_own_word() {
        register_secret("testpass");
        let runbook = r#"  -d '{"username":"testuser","password":"testpass"}' 2>&1 | grep -i '^< set-cookie'"#;
        assert_eq!(scrub(runbook), runbook);
        assert_eq!(scrub("login testuser/testpass failed"), "login testuser/*** failed");
    }

    #[test]
    fn no_token_after_bearer_is_shown_as_the_diagnosis() {
        for s in ["Authorization: Bearer undefined", "Bearer null", "Bearer ${accessToken}", "Bearer <token>"] {
            assert_eq!(scrub(s), s);
        }
        assert_eq!(scrub("Bearer abc.def, next"), "Bearer ***, next");
    }

    #[test]
    fn table_borders_are_never_taken_for_a_value() {
        for s in [
            "│ confirmed ┆ sent as Authorization: Bearer │",
            "│ x ┆ (token: │",
            "│ cookie: ┆ Set-Cookie: │",
            "│ see redis://a@b│",
        ] {
            let out = scrub(s);
            assert_eq!(out.matches(['│', '┆']).count(), s.matches(['│', '┆']).count(), "{s} -> {out}");
        }
        assert_eq!(scrub("│ PASSWORD=Zq4pw│"), "│ PASSWORD=***│");
    }

    #[test]
    fn url_password_is_masked_user_kept() {
        assert_eq!(url("postgresql://app:s3cr%40t@db:5432/authdb"), "postgresql://app:***@db:5432/authdb");
        assert_eq!(url("redis://:pw@redis:6379/0"), "redis://:***@redis:6379/0");
        assert_eq!(url("redis://pw@redis:6379"), "redis://***@redis:6379");
        assert_eq!(url("http://localhost:8002/health"), "http://localhost:8002/health");
        assert_eq!(
            scrub("DATABASE_URL=postgresql://u:p@h/db and more"),
            "DATABASE_URL=postgresql://u:***@h/db and more"
        );
    }

    #[test]
    fn password_with_at_sign_is_masked_whole() {
        assert_eq!(url("postgresql://u:p@ss@h:5432/db"), "postgresql://u:***@h:5432/db");
    }

    #[test]
    fn jwts_pem_and_bearer_are_removed() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        assert_eq!(scrub(&format!("token {jwt} end")), "token [JWT redacted] end");
        assert_eq!(scrub("Authorization: Bearer abc.def"), "Authorization: Bearer ***");
        let pem = "x -----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY----- y";
        assert_eq!(scrub(pem), "x [PEM block redacted] y");
        assert_eq!(scrub("-----BEGIN RSA PRIVATE KEY-----\nMII"), "[PEM block redacted]");
    }

    #[test]
    fn values_after_secret_names_are_masked() {
        assert_eq!(scrub("POSTGRES_PASSWORD=hunter22"), "POSTGRES_PASSWORD=***");
        assert_eq!(scrub("host=db password=hunter22 user=app"), "host=db password=*** user=app");
        assert_eq!(scrub(r#"{"access_token": "abc", "x": 1}"#), r#"{"access_token": "***", "x": 1}"#);
        assert_eq!(scrub("JWT_SECRET_KEY: abc"), "JWT_SECRET_KEY: ***");
        assert_eq!(scrub("Set-Cookie: session=abc; Path=/; HttpOnly"), "Set-Cookie: session=***; Path=/; HttpOnly");
    }

    #[test]
    fn ordinary_evidence_is_left_alone() {
        for s in [
            "db0:keys=300,expires=75,avg_ttl=0",
            "keyspace_hits=10 keyspace_misses=3",
            "SCAN 0 MATCH refresh_token:* COUNT 1000",
            "largest key key:42 (string, 10 KB); refresh_token:17 has a TTL",
            "5 of 5 usable slots in use; 3 idle for more than 5m",
            "max_connections: 100",
        ] {
            assert_eq!(scrub(s), s);
        }
    }

    #[test]
    fn registered_secrets_are_replaced_in_all_their_forms() {
        register_secret("Zq9-planted/secret\"x");
        let s = scrub("a Zq9-planted/secret\"x b Zq9-planted%2Fsecret%22x c Zq9-planted/secret\\\"x");
        assert!(!s.contains("planted"), "{s}");
    }

    #[test]
    fn placeholders_in_runbook_texts_survive() {
        for s in [
            "use redis://:<password>@host:6379",
            "postgresql://user:<password>@host:5432/db",
            "GET \"refresh_token:<token_id>\"",
            "redis-cli -a \"${REDIS_PASSWORD}\" ping",
            "POSTGRES_PASSWORD=$POSTGRES_PASSWORD",
        ] {
            assert_eq!(scrub(s), s);
        }
    }

    #[test]
    fn common_words_are_not_registered_but_named() {
        register_named_secret("POSTGRES_PASSWORD", "postgres");
        assert_eq!(scrub("postgres@127.0.0.1:5432/authdb"), "postgres@127.0.0.1:5432/authdb");
        assert_eq!(scrub("postgresql://postgres:postgres@h/db"), "postgresql://postgres:***@h/db");
        assert!(weak_secret_names().contains(&"POSTGRES_PASSWORD".to_string()));
    }

    #[test]
    fn a_secret_that_is_a_word_of_the_report_is_not_registered() {
        register_secret("wrong");
        register_secret("Critical");
        assert_eq!(scrub("wrong-password is critical"), "wrong-password is critical");
        assert_eq!(scrub("redis://:wrong@h:6379"), "redis://:***@h:6379");
    }

    #[test]
    fn json_stays_valid_whatever_is_removed() {
        let mut v = serde_json::json!({"a": "GET \"token: \\x\"", "password=x": ["postgresql://u:p@h/d"], "n": 1});
        scrub_json(&mut v);
        let text = serde_json::to_string(&v).unwrap();
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
        assert!(text.contains("u:***@h") && text.contains("password=***"), "{text}");
    }

    #[test]
    fn sql_literals_are_blanked() {
        assert_eq!(
            sql_literals("SELECT * FROM t WHERE pw = 'it''s' AND n = 1"),
            "SELECT * FROM t WHERE pw = '…' AND n = 1"
        );
        assert_eq!(sql_literals("SELECT $$secret$$, $1"), "SELECT $$…$$, $1");
        assert_eq!(sql_literals("SELECT 'unterminated"), "SELECT '…'");
    }

    #[test]
    fn fingerprints_compare_without_revealing() {
        assert_eq!(fingerprint("a"), fingerprint("a"));
        assert_ne!(fingerprint("a"), fingerprint("b"));
        assert_eq!(fingerprint("a").len(), 8);
    }

    #[test]
    fn secret_names() {
        for n in ["POSTGRES_PASSWORD", "JWT_SECRET", "API_KEY", "REDIS_PASS", "access_token", "PRIVATE_KEY"] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in ["keys", "keyspace_hits", "DATABASE_URL", "PWD", "HOME", "monkey"] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    /// The stack's real secrets, and the names every secret convention uses.
    #[test]
    fn names_that_hold_a_secret_stay_secret() {
        for n in [
            "SECRET_KEY",
            "JWT_SECRET",
            "JWT_SECRET_KEY",
            "NEXTAUTH_SECRET",
            "POSTGRES_PASSWORD",
            "REDIS_PASSWORD",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
            "API_KEY",
            "x-api-key",
            "apiKey",
            "PRIVATE_KEY",
            "JWT_PRIVATE_KEY",
            "ACCESS_TOKEN",
            "REFRESH_TOKEN",
            "GITHUB_TOKEN",
            "HF_TOKEN",
            "DOCTOR_LOGIN_PASSWORD",
            "DOCTOR_REFRESH_TOKEN",
            "PGPASSWORD",
            "accessToken",
            "refresh_token",
            "client_secret",
            "SECRET_KEY_BASE",
            "DB_PWD",
            "SESSION_TOKEN",
            "TOKEN",
            "TOKEN_IN",
            "secret",
        ] {
            assert!(is_secret_name(n), "{n} should be secret");
        }
    }

    /// Names whose last segment names the kind of a setting, one or more of each family.
    #[test]
    fn names_that_describe_a_setting_are_not_secret() {
        for n in [
            // names and labels
            "ACCESS_TOKEN_COOKIE_NAME",
            "REFRESH_TOKEN_COOKIE_NAME",
            "accessTokenCookieName",
            "API_KEY_HEADER",
            "token_type",
            "SECRET_NAME",
            "REDIS_KEY_PREFIX",
            // durations
            "REFRESH_TOKEN_TTL_SEC",
            "ACCESS_TOKEN_TTL_SEC",
            "ACCESS_TOKEN_TTL",
            "REFRESH_TOKEN_TTL",
            "refreshTokenTTL",
            "JWT_ACCESS_TOKEN_EXPIRE_MINUTES",
            "JWT_REFRESH_TOKEN_EXPIRE_DAYS",
            "TOKEN_EXPIRE_HOURS",
            "SESSION_TOKEN_SECONDS",
            "TOKEN_EXPIRES",
            "TOKEN_EXPIRES_IN",
            "refreshTokenExpiresIn",
            "PASSWORD_EXPIRY",
            "TOKEN_LIFETIME",
            "PASSWORD_RESET_TOKEN_TIMEOUT",
            "REFRESH_TOKEN_MAX_AGE",
            // locations
            "JWT_PRIVATE_KEY_PATH",
            "PRIVATE_KEY_PATH",
            "JWT_PUBLIC_KEY_FILE",
            "POSTGRES_PASSWORD_FILE",
            "SECRETS_DIR",
            "TOKEN_URL",
            "AUTH_TOKEN_URI",
            "GOOGLE_APPLICATION_CREDENTIALS",
            // algorithms and types
            "JWT_ALGORITHM",
            "TOKEN_ALG",
            "KEY_TYPE",
            // sizes, counts, flags
            "PASSWORD_MIN_LENGTH",
            "SECRET_KEY_BITS",
            "TOKEN_LIMIT",
            "REFRESH_TOKEN_COUNT",
            "REFRESH_TOKEN_ENABLED",
            "PASSWORD_REQUIRED",
            // words that only look like a secret word
            "TOKENIZERS_PARALLELISM",
            "EASYOCR_MODULE_PATH",
            "JWT_ISS",
            "JWKS_URL",
        ] {
            assert!(!is_secret_name(n), "{n} should not be secret");
        }
    }

    #[test]
    fn segments_split_at_separators_and_camel_case() {
        assert_eq!(segments("refreshTokenTTL_sec"), ["refresh", "token", "ttl", "sec"]);
        assert_eq!(segments("JWT_SECRET-KEY.x"), ["jwt", "secret", "key", "x"]);
        assert_eq!(segments("__"), Vec::<String>::new());
        assert_eq!(segments("éKey"), ["é", "key"]);
    }

    #[test]
    fn ordinary_values_are_never_registered() {
        for v in [
            "access_token",
            "refresh_token",
            "Bearer",
            "true",
            "FALSE",
            "RS256",
            "HS512",
            "EdDSA",
            "2592000",
            "604800",
            "900",
            "12345678901",
            "0.85",
            "production",
        ] {
            assert!(ordinary_value(v), "{v}");
            register_secret(v);
            assert!(!registry().read().unwrap().iter().any(|s| s == v), "{v} was registered");
        }
        // Long numbers, numbers with other characters, and almost-algorithms are secrets.
        for v in ["123456789012", "1.2.3", "RS257", "2592000x", "access_token_2", "-1"] {
            assert!(!ordinary_value(v), "{v}");
        }
        // Still masked where they stand as a value after a secret name or as a URL password.
        assert_eq!(scrub("ACCESS_TOKEN=access_token"), "ACCESS_TOKEN=***");
        assert_eq!(scrub("redis://:2592000@h:6379"), "redis://:***@h:6379");
    }

    #[test]
    fn a_secret_name_with_an_ordinary_value_is_weak() {
        register_named_secret("ZZ_WEAK_JWT_SECRET", "2592000");
        register_named_secret("ZZ_WEAK_API_KEY", "true");
        let weak = weak_secret_names();
        assert!(weak.contains(&"ZZ_WEAK_JWT_SECRET".to_string()) && weak.contains(&"ZZ_WEAK_API_KEY".to_string()));
        assert_eq!(scrub("2592000 true"), "2592000 true");
    }

    /// The real stack's variables, registered through the two paths that register them (the
    /// configuration's variables, a container's environment): the report's words survive, the
    /// secrets do not.
    #[test]
    fn the_stack_variables_leave_the_report_readable() {
        let vars = [
            ("ACCESS_TOKEN_COOKIE_NAME", "access_token"),
            ("REFRESH_TOKEN_COOKIE_NAME", "refresh_token"),
            ("REFRESH_TOKEN_TTL_SEC", "2592000"),
            ("ACCESS_TOKEN_TTL_SEC", "900"),
            ("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "15"),
            ("JWT_REFRESH_TOKEN_EXPIRE_DAYS", "7"),
            ("ACCESS_TOKEN_TTL", "900"),
            ("REFRESH_TOKEN_TTL", "604800"),
            ("JWT_ALGORITHM", "RS256"),
            ("TOKEN_TYPE", "bearer"),
            ("EASYOCR_MODULE_PATH", "/tmp/.easyocr_models"),
            ("GOOGLE_APPLICATION_CREDENTIALS", "/app/keys/gcp-credentials.json"),
            ("JWT_PRIVATE_KEY_PATH", "/app/keys/private.pem"),
            ("POOL_PRE_PING", "true"),
            ("JWT_SECRET_KEY", "Zq7-stack-jwt-secret-key"),
            ("NEXTAUTH_SECRET", "Zq7-stack-nextauth"),
            ("AWS_ACCESS_KEY_ID", "AKIAZQ7STACKEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "Zq7/stack+aws/secret"),
            ("REDIS_PASSWORD", "Zq7-stack-redis"),
            ("DATABASE_URL", "postgresql://postgres:Zq7-stack-pg@host.docker.internal:5432/authdb"),
        ];
        let secrets = [
            "Zq7-stack-jwt-secret-key",
            "Zq7-stack-nextauth",
            "AKIAZQ7STACKEXAMPLE",
            "Zq7/stack+aws/secret",
            "Zq7-stack-redis",
            "Zq7-stack-pg",
        ];

        // As `config::Settings::register_secrets` registers them: from the environment and a .env.
        let dir = tempfile::tempdir().unwrap();
        let dotenv: String = vars[10..].iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(dir.path().join(".env"), dotenv).unwrap();
        let env: std::collections::BTreeMap<String, String> =
            vars[..10].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        crate::config::Settings::load(&crate::config::Overrides::default(), &env, dir.path()).unwrap();

        // As `probe::docker::container_facts` registers a container's environment.
        let env: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let inspect: bollard::models::ContainerInspectResponse =
            serde_json::from_value(serde_json::json!({ "Config": { "Env": env } })).unwrap();
        let facts = crate::probe::docker::container_facts(&inspect, 0.0);
        let shown = |name: &str| facts.env.iter().find(|e| e.name == name).map(|e| e.value.clone());
        assert_eq!(shown("ACCESS_TOKEN_COOKIE_NAME").as_deref(), Some("access_token"));
        assert_eq!(shown("REFRESH_TOKEN_TTL_SEC").as_deref(), Some("2592000"));
        assert_eq!(shown("JWT_PRIVATE_KEY_PATH").as_deref(), Some("/app/keys/private.pem"));
        assert_eq!(shown("GOOGLE_APPLICATION_CREDENTIALS").as_deref(), Some("/app/keys/gcp-credentials.json"));
        assert_eq!(shown("JWT_SECRET_KEY").as_deref(), Some(MASK));
        assert_eq!(shown("AWS_ACCESS_KEY_ID").as_deref(), Some(MASK));

        let report = "AU003 target authdb.refresh_tokens, redis refresh_token:*; FE002 cookies access_token, \
                      refresh_token (Max-Age 2592000, 604800 s, 900 s); alg RS256, type bearer, true; \
                      key /app/keys/private.pem";
        assert_eq!(scrub(report), report);
        let leaked = format!("{report} {}", secrets.join(" | "));
        let out = scrub(&leaked);
        assert!(out.starts_with(report), "{out}");
        for s in secrets {
            assert!(!out.contains(s), "{s} leaked: {out}");
        }
    }
}
