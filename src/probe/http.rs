//! HTTP evidence: one bounded request at a time, under the run's deadline, with the body read
//! up to a cap (a server that drips or never ends its body costs no more than the timeout and
//! no more memory than the cap). Failures are facts (refused, timeout, name, TLS, reset, too
//! many redirects); cookies are kept as their attributes only, never their values.

use super::{ms, until};
use crate::redact;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokio::time::Instant;

/// Bodies are read up to this many bytes.
pub const BODY_CAP: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpErrorKind {
    Refused,
    Timeout,
    NameNotResolved,
    Tls,
    Reset,
    TooManyRedirects,
    BadUrl,
    Protocol,
    Other,
}

impl HttpErrorKind {
    /// What happened, in words, for summaries and evidence.
    pub fn text(&self) -> crate::text::Text {
        use crate::t;
        match self {
            HttpErrorKind::Refused => t!("shared/http-refused"),
            HttpErrorKind::Timeout => t!("shared/http-timeout"),
            HttpErrorKind::NameNotResolved => t!("shared/http-name-not-resolved"),
            HttpErrorKind::Tls => t!("shared/http-tls"),
            HttpErrorKind::Reset => t!("shared/http-reset"),
            HttpErrorKind::TooManyRedirects => t!("shared/http-too-many-redirects"),
            HttpErrorKind::BadUrl => t!("shared/http-bad-url"),
            HttpErrorKind::Protocol => t!("shared/http-protocol"),
            HttpErrorKind::Other => t!("shared/http-other"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpError {
    pub kind: HttpErrorKind,
    pub message: String,
}

/// A `Set-Cookie` header reduced to its attributes; the value itself is never kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CookieFacts {
    pub name: String,
    pub http_only: bool,
    pub secure: bool,
    pub same_site: Option<String>,
    pub path: Option<String>,
    pub domain: Option<String>,
    pub max_age: Option<i64>,
    pub expires: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpFacts {
    pub method: String,
    /// The URL asked, with any password masked.
    pub url: String,
    pub status: Option<u16>,
    pub latency_ms: u64,
    pub content_type: Option<String>,
    /// The body as text (lossy), cut at the cap; redacted.
    pub body: Option<String>,
    pub body_truncated: bool,
    /// Response headers that diagnosis reads (CORS, location, server).
    pub headers: BTreeMap<String, String>,
    pub cookies: Vec<CookieFacts>,
    pub error: Option<HttpError>,
}

impl HttpFacts {
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.body.as_deref()?).ok()
    }
}

/// A request as a probe wants it sent.
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub json: Option<&'a serde_json::Value>,
    pub headers: Vec<(&'a str, String)>,
}

/// What came back, plus the secrets diagnosis must not keep but a later request may need
/// (a token in the body, the cookies' values): `raw_body` and `cookie_pairs` stay in memory.
pub struct Response {
    pub facts: HttpFacts,
    pub raw_body: Option<String>,
    pub cookie_pairs: Vec<(String, String)>,
}

pub fn client() -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!("doctor/", env!("CARGO_PKG_VERSION")))
        .tls_danger_accept_invalid_certs(true)
        .build()
        .ok()
}

pub async fn send(client: &reqwest::Client, req: Request<'_>, deadline: Instant) -> Response {
    let started = Instant::now();
    let mut facts = HttpFacts { method: req.method.to_string(), url: redact::url(req.url), ..Default::default() };
    let mut out = Response { facts: HttpFacts::default(), raw_body: None, cookie_pairs: Vec::new() };
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut builder = client.request(method, req.url).timeout(deadline.saturating_duration_since(Instant::now()));
    for (k, v) in &req.headers {
        builder = builder.header(*k, v);
    }
    if let Some(j) = req.json {
        builder = builder.header("content-type", "application/json").body(j.to_string());
    }
    let resp = match until(deadline, builder.send()).await {
        None => {
            facts.error =
                Some(HttpError { kind: HttpErrorKind::Timeout, message: "no answer before the timeout".into() });
            facts.latency_ms = ms(started.elapsed());
            out.facts = facts;
            return out;
        }
        Some(Err(e)) => {
            facts.error = Some(classify(&e));
            facts.latency_ms = ms(started.elapsed());
            out.facts = facts;
            return out;
        }
        Some(Ok(r)) => r,
    };
    facts.status = Some(resp.status().as_u16());
    facts.latency_ms = ms(started.elapsed());
    for (k, v) in resp.headers() {
        let name = k.as_str().to_ascii_lowercase();
        let Ok(value) = v.to_str() else { continue };
        if name == "set-cookie" {
            let (facts_c, pair) = parse_set_cookie(value);
            facts.cookies.push(facts_c);
            out.cookie_pairs.push(pair);
        } else if name == "content-type" {
            facts.content_type = Some(value.to_string());
        } else if name.starts_with("access-control-") || matches!(name.as_str(), "location" | "server" | "x-powered-by")
        {
            facts.headers.insert(name, redact::scrub(value));
        }
    }
    let mut resp = resp;
    let mut body: Vec<u8> = Vec::new();
    loop {
        match until(deadline, resp.chunk()).await {
            None => {
                facts.error = Some(HttpError {
                    kind: HttpErrorKind::Timeout,
                    message: "the body did not finish before the timeout".into(),
                });
                break;
            }
            Some(Ok(Some(c))) => {
                body.extend_from_slice(&c);
                if body.len() > BODY_CAP {
                    body.truncate(BODY_CAP);
                    facts.body_truncated = true;
                    break;
                }
            }
            Some(Ok(None)) => break,
            Some(Err(e)) => {
                facts.error = Some(classify(&e));
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    facts.body = Some(redact::scrub(&text));
    out.raw_body = Some(text);
    out.facts = facts;
    out
}

fn classify(e: &reqwest::Error) -> HttpError {
    let message = redact::scrub(&super::error_chain(e));
    let lower = message.to_ascii_lowercase();
    let kind = if e.is_timeout() {
        HttpErrorKind::Timeout
    } else if e.is_redirect() {
        HttpErrorKind::TooManyRedirects
    } else if e.is_builder() {
        HttpErrorKind::BadUrl
    } else if lower.contains("dns error")
        || lower.contains("failed to lookup")
        || lower.contains("name or service not known")
    {
        HttpErrorKind::NameNotResolved
    } else if lower.contains("connection refused") {
        HttpErrorKind::Refused
    } else if lower.contains("tls") || lower.contains("certificate") || lower.contains("handshake") {
        HttpErrorKind::Tls
    } else if lower.contains("reset")
        || lower.contains("connection closed")
        || lower.contains("broken pipe")
        || lower.contains("incomplete")
    {
        HttpErrorKind::Reset
    } else if lower.contains("invalid") || lower.contains("parse") || lower.contains("http/") {
        HttpErrorKind::Protocol
    } else if e.is_connect() {
        HttpErrorKind::Refused
    } else {
        HttpErrorKind::Other
    };
    HttpError { kind, message }
}

/// Splits a `Set-Cookie` value into its attributes (kept) and its name=value (for a follow-up
/// request only).
pub fn parse_set_cookie(v: &str) -> (CookieFacts, (String, String)) {
    let mut parts = v.split(';');
    let first = parts.next().unwrap_or("");
    let (name, value) = first.split_once('=').unwrap_or((first, ""));
    let mut c = CookieFacts { name: name.trim().to_string(), ..Default::default() };
    for attr in parts {
        let (k, val) = attr.split_once('=').map(|(k, v)| (k.trim(), Some(v.trim()))).unwrap_or((attr.trim(), None));
        match k.to_ascii_lowercase().as_str() {
            "httponly" => c.http_only = true,
            "secure" => c.secure = true,
            "samesite" => c.same_site = val.map(str::to_string),
            "path" => c.path = val.map(str::to_string),
            "domain" => c.domain = val.map(str::to_string),
            "max-age" => c.max_age = val.and_then(|v| v.parse().ok()),
            "expires" => c.expires = val.map(str::to_string),
            _ => {}
        }
    }
    (c, (name.trim().to_string(), value.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_attributes() {
        let (c, (n, v)) = parse_set_cookie("access_token=eyJ.x.y; Path=/; HttpOnly; SameSite=Lax; Max-Age=900");
        assert_eq!((n.as_str(), v.as_str()), ("access_token", "eyJ.x.y"));
        assert!(c.http_only && !c.secure);
        assert_eq!((c.same_site.as_deref(), c.path.as_deref(), c.max_age), (Some("Lax"), Some("/"), Some(900)));
        let (c, _) = parse_set_cookie("a=b; secure; samesite=None");
        assert!(c.secure && !c.http_only && c.same_site.as_deref() == Some("None"));
        let (c, _) = parse_set_cookie("");
        assert_eq!(c.name, "");
    }
}
