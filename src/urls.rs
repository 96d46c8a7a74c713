//! Connection URLs of the services under diagnosis, checked for the shape the runbook gives
//! (`postgresql://user:<password>@host:5432/db`, `redis://:<password>@host:6379`). A malformed URL is
//! not a usage error: it is the runbook's own cause (`bad-database-url`, `bad-redis-url`), so
//! the problem is returned as data, a message key with its arguments (`shared/url-*` in
//! `runbooks/messages.toml`), naming what is wrong. Pure functions, fuzzed: outside input of any
//! shape must come back as `Ok` or `Err`, never a panic.

use crate::config::percent_decode;
use crate::t;
use crate::text::Text;
use serde::{Deserialize, Serialize};

/// What is wrong in a URL, as a message of the catalogue (it goes into evidence as is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UrlProblem {
    pub text: Text,
}

fn problem(text: Text) -> UrlProblem {
    UrlProblem { text }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PgUrl {
    pub user: String,
    pub password: Option<String>,
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub sslmode: SslMode,
    /// Things worth saying that do not stop the connection (`+psycopg2` dropped, ...).
    pub notes: Vec<UrlProblem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RedisUrl {
    pub tls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub host: String,
    pub port: u16,
    pub db: i64,
    pub notes: Vec<UrlProblem>,
}

const PG_SHAPE: &str = "postgresql://user:<password>@host:5432/db";
const REDIS_SHAPE: &str = "redis://:<password>@host:6379";

/// Splits `scheme://authority/path?query#fragment` by hand, so that every way it can be wrong
/// can be named (the `url` crate would only say "invalid").
struct Parts<'a> {
    scheme: &'a str,
    userinfo: Option<&'a str>,
    host: &'a str,
    port: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

fn split<'a>(url: &'a str, shape: &str) -> Result<Parts<'a>, UrlProblem> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(problem(t!("shared/url-not-a-url", shape = shape)));
    };
    let (rest, fragment) = match rest.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (rest, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    // The authority ends at the first '/' after the last '@' (a password may hold '/').
    let at = rest.rfind('@');
    let slash = match at {
        Some(a) => rest[a..].find('/').map(|i| a + i),
        None => rest.find('/'),
    };
    let (authority, path) = match slash {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        match v6.find(']') {
            Some(end) => {
                let after = &v6[end + 1..];
                let port = match after.strip_prefix(':') {
                    Some(p) => Some(p),
                    None if after.is_empty() => None,
                    None => {
                        return Err(problem(t!("shared/url-after-ipv6", after = format!("{after:?}"))));
                    }
                };
                (&hostport[..end + 2], port)
            }
            None => {
                return Err(problem(t!("shared/url-ipv6-not-closed")));
            }
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    Ok(Parts { scheme, userinfo, host, port, path, query, fragment })
}

fn check_host(host: &str, shape: &str) -> Result<(), UrlProblem> {
    if host.is_empty() {
        return Err(problem(t!("shared/url-no-host", shape = shape)));
    }
    if host.starts_with('[') {
        let inner = &host[1..host.len() - 1];
        if inner.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(problem(t!("shared/url-not-ipv6", host = host)));
        }
        return Ok(());
    }
    if let Some(bad) = host.chars().find(|c| !(c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '%'))) {
        return Err(problem(t!("shared/url-bad-host-character", host = format!("{host:?}"), bad = format!("{bad:?}"))));
    }
    Ok(())
}

fn check_port(port: Option<&str>, default: u16) -> Result<u16, UrlProblem> {
    match port {
        None | Some("") => Ok(default),
        Some(p) => match p.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
            Ok(n) => Err(problem(t!("shared/url-port-out-of-range", port = n))),
            Err(_) => Err(problem(t!("shared/url-port-not-a-number", port = format!("{p:?}")))),
        },
    }
}

/// Which part of a URL is being decoded, for the problem's words.
#[derive(Clone, Copy)]
enum Part {
    UserName,
    Password,
    DatabaseName,
}

fn decode(part: &str, what: Part) -> Result<String, UrlProblem> {
    percent_decode(part).ok_or_else(|| {
        let what = match what {
            Part::UserName => t!("shared/url-part-user-name"),
            Part::Password => t!("shared/url-part-password"),
            Part::DatabaseName => t!("shared/url-part-database-name"),
        };
        problem(t!("shared/url-broken-percent-encoding", part = what))
    })
}

fn fragment_problem(fragment: Option<&str>) -> Result<(), UrlProblem> {
    if fragment.is_some() {
        return Err(problem(t!("shared/url-has-hash")));
    }
    Ok(())
}

pub fn parse_postgres(url: &str) -> Result<PgUrl, UrlProblem> {
    let url = url.trim();
    if url.is_empty() {
        return Err(problem(t!("shared/url-empty")));
    }
    let p = split(url, PG_SHAPE)?;
    let mut notes = Vec::new();
    let (base, driver) = match p.scheme.split_once('+') {
        Some((b, d)) => (b, Some(d)),
        None => (p.scheme, None),
    };
    if !matches!(base.to_ascii_lowercase().as_str(), "postgresql" | "postgres") {
        return Err(problem(t!(
            "shared/url-not-postgres-scheme",
            scheme = format!("{:?}", p.scheme),
            shape = PG_SHAPE
        )));
    }
    if let Some(d) = driver {
        notes.push(problem(t!("shared/url-driver-ignored", driver = d)));
    }
    fragment_problem(p.fragment)?;
    check_host(p.host, PG_SHAPE)?;
    let port = check_port(p.port, 5432)?;
    let (user, password) = match p.userinfo {
        None => (String::new(), None),
        Some(ui) => match ui.split_once(':') {
            Some((u, pw)) => (decode(u, Part::UserName)?, Some(decode(pw, Part::Password)?)),
            None => (decode(ui, Part::UserName)?, None),
        },
    };
    if user.is_empty() {
        return Err(problem(t!("shared/url-no-user", shape = PG_SHAPE)));
    }
    let db = p.path.trim_start_matches('/');
    if db.contains('/') {
        return Err(problem(t!("shared/url-database-has-slash", database = format!("{db:?}"))));
    }
    let mut dbname = decode(db, Part::DatabaseName)?;
    if dbname.is_empty() {
        notes.push(problem(t!("shared/url-no-database", user = format!("{user:?}"))));
        dbname = user.clone();
    }
    let mut sslmode = SslMode::Prefer;
    for pair in p.query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "sslmode" {
            sslmode = match v {
                "disable" | "allow" => SslMode::Disable,
                "prefer" => SslMode::Prefer,
                "require" | "verify-ca" | "verify-full" => {
                    if v != "require" {
                        notes.push(problem(t!("shared/url-certificate-not-verified", mode = v)));
                    }
                    SslMode::Require
                }
                other => {
                    return Err(problem(t!("shared/url-bad-sslmode", mode = format!("{other:?}"))));
                }
            };
        }
    }
    Ok(PgUrl { user, password, host: p.host.to_string(), port, dbname, sslmode, notes })
}

pub fn parse_redis(url: &str) -> Result<RedisUrl, UrlProblem> {
    let url = url.trim();
    if url.is_empty() {
        return Err(problem(t!("shared/url-empty")));
    }
    let p = split(url, REDIS_SHAPE)?;
    let tls = match p.scheme.to_ascii_lowercase().as_str() {
        "redis" => false,
        "rediss" => true,
        other => {
            return Err(problem(t!("shared/url-not-redis-scheme", scheme = format!("{other:?}"), shape = REDIS_SHAPE)));
        }
    };
    fragment_problem(p.fragment)?;
    check_host(p.host, REDIS_SHAPE)?;
    let port = check_port(p.port, 6379)?;
    let mut notes = Vec::new();
    let (username, password) = match p.userinfo {
        None => (None, None),
        Some(ui) => match ui.split_once(':') {
            Some((u, pw)) => {
                let u = decode(u, Part::UserName)?;
                (Some(u).filter(|u| !u.is_empty()), Some(decode(pw, Part::Password)?).filter(|p| !p.is_empty()))
            }
            None => {
                notes.push(problem(t!("shared/url-user-info-without-colon", shape = REDIS_SHAPE)));
                (Some(decode(ui, Part::UserName)?), None)
            }
        },
    };
    let db_text = p.path.trim_start_matches('/');
    let db = if db_text.is_empty() {
        0
    } else {
        match db_text.parse::<i64>() {
            Ok(n) if (0..=10_000).contains(&n) => n,
            _ => {
                return Err(problem(t!("shared/url-redis-database-not-a-number", database = format!("{db_text:?}"))));
            }
        }
    };
    for pair in p.query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
        if let Some(("password", v)) = pair.split_once('=')
            && password.is_none()
        {
            return Ok(RedisUrl {
                tls,
                username,
                password: Some(decode(v, Part::Password)?),
                host: p.host.to_string(),
                port,
                db,
                notes,
            });
        }
    }
    Ok(RedisUrl { tls, username, password, host: p.host.to_string(), port, db, notes })
}

/// The host without IPv6 brackets, as a resolver wants it.
pub fn bare_host(host: &str) -> &str {
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_postgres_urls() {
        let u = parse_postgres("postgresql://app:p%40ss@db:6543/authdb?sslmode=require").unwrap();
        assert_eq!(
            (u.user.as_str(), u.password.as_deref(), u.host.as_str(), u.port, u.dbname.as_str()),
            ("app", Some("p@ss"), "db", 6543, "authdb")
        );
        assert_eq!(u.sslmode, SslMode::Require);
        let u = parse_postgres("postgresql+asyncpg://app@[::1]/x").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.notes.len()), ("[::1]", 5432, 1));
        let u = parse_postgres("postgres://u:p@ss@h/db").unwrap();
        assert_eq!(u.password.as_deref(), Some("p@ss"));
        assert_eq!(parse_postgres("postgresql://postgres@localhost").unwrap().dbname, "postgres");
    }

    #[test]
    fn bad_postgres_urls_say_what_is_wrong() {
        let cases = [
            ("mysql://u:p@h/db", "scheme"),
            ("postgresql://u:p@h:99999/db", "out of range"),
            ("postgresql://u:p@[::1:5432/db", "IPv6"),
            ("postgresql://u:p@:5432/db", "no host"),
            ("postgresql://u:p@h:54a2/db", "not a number"),
            ("postgresql://u:p#ss@h/db", "'#'"),
            ("localhost:5432", "not a URL"),
            ("", "empty"),
            ("postgresql://:pw@h/db", "no user name"),
            ("postgresql://u@h/db?sslmode=maybe", "sslmode"),
            ("postgresql://u:p%zz@h/db", "percent"),
        ];
        for (url, needle) in cases {
            let e = parse_postgres(url).expect_err(url);
            assert!(e.text.en().contains(needle), "{url}: {}", e.text.en());
            assert!(e.text.key().is_some_and(|k| crate::catalogue::message(k).is_some()), "{url}: {:?}", e.text);
        }
    }

    #[test]
    fn redis_urls() {
        let u = parse_redis("redis://:secret@redis:6379/1").unwrap();
        assert_eq!((u.password.as_deref(), u.host.as_str(), u.db, u.username), (Some("secret"), "redis", 1, None));
        let u = parse_redis("redis://secret@redis:6379").unwrap();
        assert_eq!(u.notes.len(), 1, "a password in the user name slot is pointed out");
        assert!(parse_redis("http://redis:6379").unwrap_err().text.en().contains("scheme"));
        assert!(parse_redis("redis://redis:6379/x").unwrap_err().text.en().contains("not a number"));
        assert!(parse_redis("redis://redis:0").unwrap_err().text.en().contains("out of range"));
        assert_eq!(parse_redis("rediss://h").unwrap().port, 6379);
    }
}

/// Any service URL found in a container's environment (`*_URL`), reduced to what consistency
/// checks compare: where it points and with which credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
}

/// Parses `scheme://[user[:password]@]host[:port][/...]`; `None` when it is no such URL.
pub fn parse_endpoint(url: &str) -> Option<Endpoint> {
    let p = split(url.trim(), "scheme://host:port").ok()?;
    let scheme = p.scheme.to_ascii_lowercase();
    let base = scheme.split('+').next().unwrap_or(&scheme).to_string();
    let default = match base.as_str() {
        "postgresql" | "postgres" => 5432,
        "redis" | "rediss" => 6379,
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        "amqp" => 5672,
        "mongodb" => 27017,
        "mysql" => 3306,
        _ => 0,
    };
    if p.host.is_empty() || check_host(p.host, "").is_err() {
        return None;
    }
    let port = check_port(p.port, default).ok()?;
    let (user, password) = match p.userinfo {
        None => (None, None),
        Some(ui) => match ui.split_once(':') {
            Some((u, pw)) => (Some(percent_decode(u)?).filter(|u| !u.is_empty()), Some(percent_decode(pw)?)),
            // `redis://secret@host`: a lone user-info is the password for Redis clients that take it so.
            None if base.starts_with("redis") => (None, Some(percent_decode(ui)?)),
            None => (Some(percent_decode(ui)?), None),
        },
    };
    Some(Endpoint { scheme: base, host: bare_host(p.host).to_string(), port, user, password })
}

#[cfg(test)]
mod endpoint_tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = parse_endpoint("postgresql+asyncpg://app:p%40w@postgres:5432/authdb").unwrap();
        assert_eq!(
            (e.scheme.as_str(), e.host.as_str(), e.port, e.user.as_deref(), e.password.as_deref()),
            ("postgresql", "postgres", 5432, Some("app"), Some("p@w"))
        );
        assert_eq!(parse_endpoint("http://auth-service:8002/.well-known/jwks.json").unwrap().port, 8002);
        assert_eq!(parse_endpoint("redis://:pw@redis").unwrap().port, 6379);
        assert_eq!(parse_endpoint("https://example.com").unwrap().port, 443);
        assert!(parse_endpoint("not a url").is_none());
        assert!(parse_endpoint("http://:80").is_none());
    }
}
