//! The HTTP fixture (tests/fixture, binary doctor-fixture) does what the tests that use it rely
//! on: real processes, real sockets, a minimal HTTP client of our own.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind as JwtErrorKind};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// the fixture process

/// One doctor-fixture process, killed on drop. Its log goes to this test's stderr when
/// FIXTURE_LOG is set.
struct Fixture {
    child: Child,
    addr: SocketAddr,
}

/// The variables the fixture reads in spec mode (cleared so that the test's own environment
/// never leaks in).
const SPEC_ENV: &[&str] =
    &["JWT_ISS", "JWT_AUD", "JWT_ISSUER", "JWT_AUDIENCE", "AUTH_SERVER_URL", "API_SERVER_URL", "NODE_ENV"];

impl Fixture {
    fn start(modes: &[&str]) -> Fixture {
        Fixture::start_with_env(modes, &[])
    }

    /// Started with `env` set as the service's own environment.
    fn start_with_env(modes: &[&str], env: &[(&str, &str)]) -> Fixture {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_doctor-fixture"));
        cmd.args(["--listen", "127.0.0.1:0"]);
        for mode in modes {
            cmd.args(["--mode", mode]);
        }
        cmd.env_remove("FIXTURE_MODES").env_remove("FIXTURE_LISTEN");
        for name in SPEC_ENV {
            cmd.env_remove(name);
        }
        cmd.envs(env.iter().copied());
        cmd.stdin(Stdio::null()).stdout(Stdio::piped());
        cmd.stderr(if std::env::var_os("FIXTURE_LOG").is_some() { Stdio::inherit() } else { Stdio::null() });
        let mut child = cmd.spawn().expect("start doctor-fixture");
        let stdout = child.stdout.take().expect("fixture stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the fixture's first line");
        let addr = match line.trim().strip_prefix("listening on ").and_then(|a| a.parse().ok()) {
            Some(addr) => addr,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("unexpected first line from doctor-fixture {modes:?}: {line:?}");
            }
        };
        Fixture { child, addr }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn get(&self, path: &str) -> Resp {
        request(self.addr, "GET", path, &[], b"").unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    fn post_json(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> Resp {
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        request(self.addr, "POST", path, &all, body.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    fn login(&self) -> Resp {
        self.post_json("/api/auth/login", &serde_json::json!({"username": "testuser", "password": "testpass"}), &[])
    }

    /// A token minted by `/__fixture/token?QUERY`.
    fn token(&self, query: &str) -> String {
        self.get(&format!("/__fixture/token?{query}")).text().trim().to_string()
    }

    fn jwks(&self) -> Value {
        let resp = self.get("/.well-known/jwks.json");
        assert_eq!(resp.status, 200);
        resp.json()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// a minimal HTTP/1.1 client

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: fixture-selftest\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    Ok(stream)
}

fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Resp, String> {
    let mut stream = send(addr, method, path, headers, body).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    parse(&raw)
}

fn parse(raw: &[u8]) -> Result<Resp, String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| format!("no response head in {raw:?}"))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status =
        status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or(format!("status line {status_line:?}"))?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect();
    let mut body = raw[end + 4..].to_vec();
    if let Some(len) = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")) {
        let len: usize = len.1.parse().map_err(|_| "bad Content-Length")?;
        if body.len() != len {
            return Err(format!("Content-Length {len} but {} bytes of body", body.len()));
        }
        body.truncate(len);
    }
    Ok(Resp { status, headers, body })
}

/// base64url without padding, decoded (for token headers).
fn b64url_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (mut acc, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64url character") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn token_header(token: &str) -> Value {
    serde_json::from_slice(&b64url_decode(token.split('.').next().unwrap())).expect("JSON token header")
}

fn validation() -> Validation {
    let mut v = Validation::new(Algorithm::RS256);
    v.leeway = 0;
    v.set_audience(&["ai-micro-service"]);
    v.set_issuer(&["auth-service"]);
    v
}

fn jwk_key(jwk: &Value) -> DecodingKey {
    DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap()).expect("JWK n/e")
}

// ---------------------------------------------------------------------------------------------
// health

#[test]
fn health_is_ok_by_default() {
    let fx = Fixture::start(&[]);
    let resp = fx.get("/health");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json(), serde_json::json!({"status": "ok"}));
    assert_eq!(resp.header("Connection"), Some("close"));
}

#[test]
fn health_modes_500_and_html() {
    let fx = Fixture::start(&["health=500"]);
    let resp = fx.get("/health");
    assert_eq!((resp.status, resp.json()["detail"].as_str()), (500, Some("Database connection error")));
    let fx = Fixture::start(&["health=html"]);
    let resp = fx.get("/health");
    assert_eq!(resp.status, 200);
    assert!(resp.header("Content-Type").unwrap().starts_with("text/html"));
    assert!(resp.text().contains("502 Bad Gateway"));
}

#[test]
fn health_hang_does_not_answer_within_a_second() {
    let fx = Fixture::start(&["health=hang"]);
    let mut stream = send(fx.addr, "GET", "/health", &[], b"").unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("expected a read timeout, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(900));
    // the other endpoints still answer
    assert_eq!(fx.get("/.well-known/jwks.json").status, 200);
}

#[test]
fn health_slow_answers_late() {
    let fx = Fixture::start(&["health=slow:400"]);
    let started = Instant::now();
    assert_eq!(fx.get("/health").status, 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
}

// ---------------------------------------------------------------------------------------------
// auth-service: login, JWKS, tokens

#[test]
fn login_token_verifies_against_the_served_jwks() {
    let fx = Fixture::start(&[]);
    let resp = fx.login();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = resp.json();
    assert_eq!(body["token_type"], "bearer");
    let refresh = body["refresh_token"].as_str().unwrap();
    assert!(refresh.len() >= 32 && refresh.bytes().all(|b| b.is_ascii_hexdigit()), "{refresh}");
    let token = body["access_token"].as_str().unwrap();
    let header = token_header(token);
    assert_eq!((header["alg"].as_str(), header["kid"].as_str()), (Some("RS256"), Some("key-current")));

    let jwks = fx.jwks();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let jwk = &keys[0];
    assert_eq!(
        (jwk["kty"].as_str(), jwk["kid"].as_str(), jwk["alg"].as_str()),
        (Some("RSA"), Some("key-current"), Some("RS256"))
    );
    assert_eq!(jwk["e"], "AQAB");
    let n = jwk["n"].as_str().unwrap();
    assert!(!n.contains('=') && !n.contains('+') && !n.contains('/'), "n must be base64url without padding");
    assert_eq!(b64url_decode(n).len(), 256, "2048-bit modulus without a leading zero");

    let data =
        jsonwebtoken::decode::<Value>(token, &jwk_key(jwk), &validation()).expect("token verifies with the JWKS key");
    let claims = data.claims;
    assert_eq!(claims["sub"], "1");
    assert_eq!(claims["iss"], "auth-service");
    assert_eq!(claims["aud"], "ai-micro-service");
    let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, 900);
    assert!(claims["jti"].is_string() && claims["nbf"].is_i64());

    // and user-api accepts it
    let auth = format!("Bearer {token}");
    let profile = request(fx.addr, "GET", "/api/users/profile", &[("Authorization", &auth)], b"").unwrap();
    assert_eq!(profile.status, 200);
    assert_eq!(profile.json(), serde_json::json!({"user_id": "1", "first_name": "Test", "last_name": "User"}));
    let missing = fx.get("/api/users/profile");
    assert_eq!((missing.status, missing.json()["detail"].as_str()), (401, Some("JWT token is missing or invalid")));

    // the refresh token is exchanged once
    let refreshed = fx.post_json("/api/auth/refresh", &serde_json::json!({"refresh_token": refresh}), &[]);
    assert_eq!(refreshed.status, 200);
    let again = fx.post_json("/api/auth/refresh", &serde_json::json!({"refresh_token": refresh}), &[]);
    assert_eq!((again.status, again.json()["detail"].as_str()), (401, Some("Refresh token is invalid or expired")));
}

#[test]
fn login_failures() {
    let fx = Fixture::start(&[]);
    let wrong = fx.post_json("/api/auth/login", &serde_json::json!({"username": "testuser", "password": "nope"}), &[]);
    assert_eq!((wrong.status, wrong.json()["detail"].as_str()), (401, Some("Invalid credentials")));
    let inactive =
        fx.post_json("/api/auth/login", &serde_json::json!({"username": "inactive", "password": "testpass"}), &[]);
    assert_eq!((inactive.status, inactive.json()["detail"].as_str()), (403, Some("User is inactive")));
    let fx = Fixture::start(&["login=redis-error"]);
    let resp = fx.login();
    assert_eq!((resp.status, resp.json()["detail"].as_str()), (500, Some("Redis connection error")));
}

#[test]
fn jwks_rotated_serves_a_kid_the_token_does_not_have() {
    let fx = Fixture::start(&["jwks=rotated"]);
    let token = fx.login().json()["access_token"].as_str().unwrap().to_string();
    let token_kid = token_header(&token)["kid"].as_str().unwrap().to_string();
    let jwks = fx.jwks();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["key-rotated"]);
    assert_eq!(token_kid, "key-current");
    let err = jsonwebtoken::decode::<Value>(&token, &jwk_key(&jwks["keys"][0]), &validation()).unwrap_err();
    assert!(matches!(err.kind(), JwtErrorKind::InvalidSignature), "{err:?}");
}

#[test]
fn jwks_variants() {
    let empty = Fixture::start(&["jwks=empty"]);
    assert_eq!(empty.jwks(), serde_json::json!({"keys": []}));
    let broken = Fixture::start(&["jwks=broken"]);
    let resp = broken.get("/.well-known/jwks.json");
    assert_eq!(resp.status, 200);
    assert!(serde_json::from_slice::<Value>(&resp.body).is_err());
    let weak = Fixture::start(&["jwks=weak"]);
    let jwk = &weak.jwks()["keys"][0];
    assert_eq!(jwk["kid"], "key-weak");
    assert_eq!(b64url_decode(jwk["n"].as_str().unwrap()).len(), 128, "1024-bit modulus");
    let dup = Fixture::start(&["jwks=dup-kid"]);
    let jwks = dup.jwks();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["kid"], keys[1]["kid"]);
    assert_ne!(keys[0]["n"], keys[1]["n"]);
}

#[test]
fn negative_token_ttl_issues_expired_tokens() {
    let fx = Fixture::start(&["token-ttl=-60"]);
    let token = fx.login().json()["access_token"].as_str().unwrap().to_string();
    let jwks = fx.jwks();
    let err = jsonwebtoken::decode::<Value>(&token, &jwk_key(&jwks["keys"][0]), &validation()).unwrap_err();
    assert!(matches!(err.kind(), JwtErrorKind::ExpiredSignature), "{err:?}");
    let auth = format!("Bearer {token}");
    let profile = request(fx.addr, "GET", "/api/users/profile", &[("Authorization", &auth)], b"").unwrap();
    assert_eq!(profile.status, 401);
}

#[test]
fn minted_tokens() {
    let fx = Fixture::start(&[]);
    let resp = fx.get("/__fixture/token?alg=none&exp=-30");
    assert_eq!(resp.status, 200);
    let token = resp.text();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert!(parts[2].is_empty(), "unsigned token has an empty signature: {token}");
    assert_eq!(token_header(&token)["alg"], "none");
    let payload: Value = serde_json::from_slice(&b64url_decode(parts[1])).unwrap();
    assert!(payload["exp"].as_i64().unwrap() < payload["iat"].as_i64().unwrap());

    let rotated = fx.get("/__fixture/token?key=rotated&iss=http://localhost:8002&aud=other").text();
    assert_eq!(token_header(&rotated)["kid"], "key-rotated");
    let mut v = validation();
    v.set_issuer(&["http://localhost:8002"]);
    v.set_audience(&["other"]);
    let rotated_jwk = Fixture::start(&["jwks=rotated"]).jwks()["keys"][0].clone();
    jsonwebtoken::decode::<Value>(&rotated, &jwk_key(&rotated_jwk), &v).expect("minted with the rotated key");

    let no_kid = fx.get("/__fixture/token?kid=").text();
    assert!(token_header(&no_kid).get("kid").is_none());
    assert_eq!(fx.get("/__fixture/token?key=nope").status, 400);
}

// ---------------------------------------------------------------------------------------------
// BFF

fn set_cookie<'a>(resp: &'a Resp, name: &str) -> &'a str {
    resp.all("Set-Cookie")
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no Set-Cookie {name} in {:?}", resp.headers))
}

fn attributes(cookie: &str) -> Vec<String> {
    cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect()
}

#[test]
fn bff_login_sets_cookies_per_mode() {
    let fx = Fixture::start(&["role=bff"]);
    let resp = fx.login();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json(), serde_json::json!({"ok": true}));
    let access = set_cookie(&resp, "access_token");
    let refresh = set_cookie(&resp, "refresh_token");
    for attr in ["httponly", "samesite=lax", "path=/", "max-age=900"] {
        assert!(attributes(access).contains(&attr.to_string()), "{attr} in {access}");
    }
    assert!(attributes(refresh).contains(&"path=/api/auth".to_string()));
    assert!(attributes(refresh).contains(&"httponly".to_string()));
    assert!(!attributes(access).contains(&"secure".to_string()));

    let fx = Fixture::start(&["role=bff", "cookie=no-httponly"]);
    let resp = fx.login();
    assert!(!attributes(set_cookie(&resp, "access_token")).contains(&"httponly".to_string()));
    assert!(!attributes(set_cookie(&resp, "refresh_token")).contains(&"httponly".to_string()));

    let fx = Fixture::start(&["role=bff", "cookie=secure", "cookie=samesite-none"]);
    let attrs = attributes(set_cookie(&fx.login(), "access_token"));
    assert!(attrs.contains(&"secure".to_string()) && attrs.contains(&"samesite=none".to_string()), "{attrs:?}");

    let fx = Fixture::start(&["role=bff", "cookie=none"]);
    let resp = fx.login();
    assert_eq!(resp.status, 200);
    assert!(resp.all("Set-Cookie").is_empty());
}

#[test]
fn cors_echoes_the_origin_or_sends_a_wildcard() {
    let origin = ("Origin", "http://localhost:3002");
    let creds = serde_json::json!({"username": "testuser", "password": "testpass"});
    let fx = Fixture::start(&["role=bff"]);
    let resp = fx.post_json("/api/auth/login", &creds, &[origin]);
    assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("http://localhost:3002"));
    assert_eq!(resp.header("Access-Control-Allow-Credentials"), Some("true"));
    assert_eq!(fx.login().header("Access-Control-Allow-Origin"), None, "no Origin, no CORS headers");

    let fx = Fixture::start(&["role=bff", "cors=wildcard"]);
    let resp = fx.post_json("/api/auth/login", &creds, &[origin]);
    assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(resp.header("Access-Control-Allow-Credentials"), Some("true"));
    let preflight =
        request(fx.addr, "OPTIONS", "/api/auth/login", &[origin, ("Access-Control-Request-Method", "POST")], b"")
            .unwrap();
    assert_eq!(preflight.header("Access-Control-Allow-Origin"), Some("*"));
}

#[test]
fn bff_forwards_the_token_to_the_user_api_unless_told_not_to() {
    let user_api = Fixture::start(&[]);
    let upstream = format!("upstream={}", user_api.url());
    let bff = Fixture::start(&["role=bff", &upstream]);
    let dropping = Fixture::start(&["role=bff", &upstream, "bff=no-forward"]);

    let login = bff.login();
    let access = set_cookie(&login, "access_token").split(';').next().unwrap().to_string();
    let cookie = [("Cookie", access.as_str())];

    let ok = request(bff.addr, "GET", "/api/users/profile", &cookie, b"").unwrap();
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["user_id"], "1");
    let dropped = request(dropping.addr, "GET", "/api/users/profile", &cookie, b"").unwrap();
    assert_eq!((dropped.status, dropped.json()["detail"].as_str()), (401, Some("JWT token is missing or invalid")));
    let no_cookie = bff.get("/api/users/profile");
    assert_eq!(no_cookie.status, 401);

    let seen = user_api.get("/__fixture/requests").json();
    let profile_calls: Vec<(&str, bool)> = seen
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["path"].as_str().unwrap(), r["has_authorization"].as_bool().unwrap()))
        .collect();
    assert_eq!(profile_calls, [("/api/users/profile", true), ("/api/users/profile", false)]);
    assert!(!seen.to_string().contains("Bearer"), "never the header's value");
}

// ---------------------------------------------------------------------------------------------
// metrics, pages, uploads

#[test]
fn metrics_are_prometheus_text() {
    let fx = Fixture::start(&["in-progress=7", "latency=2"]);
    let resp = fx.get("/metrics");
    assert_eq!(resp.status, 200);
    let text = resp.text();
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(comment.starts_with("HELP ") || comment.starts_with("TYPE "), "{line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value: {line}"));
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                assert!(labels.ends_with('}'), "{line}");
                for pair in labels.trim_end_matches('}').split(',') {
                    let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("label {pair} in {line}"));
                    assert!(!k.is_empty() && v.starts_with('"') && v.ends_with('"'), "{line}");
                }
                name
            }
            None => series,
        };
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
            "{line}"
        );
        samples.push((series.to_string(), value));
    }
    let value = |series: &str| samples.iter().find(|(s, _)| s == series).map(|(_, v)| *v);
    assert_eq!(value(r#"http_requests_in_progress{method="GET",handler="/api/users/profile"}"#), Some(7.0));
    assert!(value("process_resident_memory_bytes").is_some());
    for handler in ["/api/users/profile", "/health"] {
        for le in ["0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "+Inf"] {
            let series =
                format!(r#"http_request_duration_seconds_bucket{{handler="{handler}",method="GET",le="{le}"}}"#);
            assert!(value(&series).is_some(), "{series}");
        }
    }
    // histogram_quantile(0.95) over the profile buckets comes out at the latency asked for
    let bounds = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
    let les = ["0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0"];
    let bucket = |le: &str| {
        value(&format!(
            r#"http_request_duration_seconds_bucket{{handler="/api/users/profile",method="GET",le="{le}"}}"#
        ))
        .unwrap()
    };
    let total = bucket("+Inf");
    let rank = 0.95 * total;
    let (mut lo, mut below) = (0.0, 0.0);
    let mut p95 = f64::NAN;
    for (bound, le) in bounds.iter().zip(les) {
        let count = bucket(le);
        if count >= rank {
            p95 = lo + (bound - lo) * (rank - below) / (count - below);
            break;
        }
        (lo, below) = (*bound, count);
    }
    assert!((p95 - 2.0).abs() < 0.05, "p95 {p95}");

    let garbage = Fixture::start(&["metrics=garbage"]).get("/metrics");
    assert!(
        garbage
            .text()
            .lines()
            .any(|l| !l.starts_with('#') && l.rsplit_once(' ').is_none_or(|(_, v)| v.parse::<f64>().is_err()))
    );
}

#[test]
fn pages_and_uploads() {
    let fx = Fixture::start(&[]);
    let page = fx.get("/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<title>ai-micro-service</title>"));
    let err = Fixture::start(&["page=nextjs-error"]).get("/");
    assert_eq!(err.status, 500);
    assert!(err.text().contains("Application error: a server-side exception has occurred"));
    assert!(err.text().contains("__next_error__"));

    let small = request(fx.addr, "POST", "/api/documents/upload", &[], &[7u8; 1000]).unwrap();
    assert_eq!(small.json(), serde_json::json!({"id": 1, "status": "uploaded"}));
    let fx = Fixture::start(&["max-upload=100"]);
    let big = request(fx.addr, "POST", "/api/documents/upload", &[], &[7u8; 1000]).unwrap();
    assert_eq!((big.status, big.json()["detail"].as_str()), (413, Some("File too large")));
}

// ---------------------------------------------------------------------------------------------
// hostile modes

#[test]
fn drip_sends_one_byte_at_a_time() {
    let fx = Fixture::start(&["drip=10"]);
    let started = Instant::now();
    let mut stream = send(fx.addr, "GET", "/health", &[], b"").unwrap();
    let mut first = [0u8; 64];
    let n = stream.read(&mut first).unwrap();
    assert!(n < 20, "the first read brings a few bytes, not {n}");
    let mut raw = first[..n].to_vec();
    stream.read_to_end(&mut raw).unwrap();
    let elapsed = started.elapsed();
    let resp = parse(&raw).unwrap();
    assert_eq!(resp.status, 200);
    assert!(elapsed >= Duration::from_millis(raw.len() as u64 * 10 * 8 / 10), "{} bytes in {elapsed:?}", raw.len());
    // the fixture's own control endpoints are not affected
    let control_started = Instant::now();
    assert_eq!(fx.get("/__fixture/requests").status, 200);
    assert!(control_started.elapsed() < Duration::from_millis(500));
}

#[test]
fn endless_body_keeps_sending() {
    let fx = Fixture::start(&["endless-body"]);
    let mut stream = send(fx.addr, "GET", "/.well-known/jwks.json", &[], b"").unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    let (mut head, mut total) = (Vec::new(), 0usize);
    let mut buf = vec![0u8; 64 * 1024];
    while Instant::now() < deadline {
        let n = stream.read(&mut buf).expect("still sending");
        assert!(n > 0, "the body ended after {total} bytes");
        if head.len() < 512 {
            head.extend_from_slice(&buf[..n.min(512)]);
        }
        total += n;
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200") && head.contains("transfer-encoding: chunked"), "{head}");
    assert!(total > 1_000_000, "only {total} bytes in a second");
}

#[test]
fn reset_garbage_and_redirect_loop() {
    let fx = Fixture::start(&["reset"]);
    match request(fx.addr, "GET", "/health", &[], b"") {
        Err(e) => assert!(e.contains("reset") || e.contains("os error 104"), "{e}"),
        Ok(resp) => panic!("answered {}", resp.status),
    }
    let fx = Fixture::start(&["garbage"]);
    let mut stream = send(fx.addr, "GET", "/health", &[], b"").unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    assert!(!raw.is_empty() && !raw.starts_with(b"HTTP/"));
    let fx = Fixture::start(&["redirect-loop"]);
    let resp = fx.get("/health?x=1");
    assert_eq!((resp.status, resp.header("Location")), (302, Some("/health?x=1")));
}

// ---------------------------------------------------------------------------------------------
// spec mode: the services as the specification implements them

fn spec_login(fx: &Fixture, email: &str, password: &str) -> Resp {
    fx.post_json("/auth/login", &serde_json::json!({"email": email, "password": password}), &[])
}

/// The claims of a token, unverified.
fn token_claims(token: &str) -> Value {
    serde_json::from_slice(&b64url_decode(token.split('.').nth(1).unwrap())).expect("JSON claims")
}

fn spec_validation(iss: &str, aud: &str) -> Validation {
    let mut v = Validation::new(Algorithm::RS256);
    v.leeway = 0;
    v.set_audience(&[aud]);
    v.set_issuer(&[iss]);
    v
}

#[test]
fn spec_auth_service_health_login_and_tokens() {
    let fx = Fixture::start(&["spec", "role=auth"]);
    let health = fx.get("/health");
    assert_eq!(health.status, 200);
    let body = health.json();
    assert_eq!((body["status"].as_str(), body["checks"]["database"].as_str()), (Some("healthy"), Some("ok")));
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(fx.get("/healthz").status, 404);
    assert_eq!(fx.get("/ready").json()["status"], "ready");

    // The runbook's route and body are not the spec's.
    let runbook =
        fx.post_json("/api/auth/login", &serde_json::json!({"username": "testuser", "password": "testpass"}), &[]);
    assert_eq!(runbook.status, 404);
    let no_email =
        fx.post_json("/auth/login", &serde_json::json!({"username": "testuser", "password": "testpass"}), &[]);
    assert_eq!(no_email.status, 422);
    assert_eq!(spec_login(&fx, "test@example.com", "wrong").status, 401);
    let inactive = spec_login(&fx, "inactive@example.com", "testpass");
    assert_eq!((inactive.status, inactive.json()["detail"].as_str()), (403, Some("Account inactive")));

    let ok = spec_login(&fx, "test@example.com", "testpass");
    assert_eq!(ok.status, 200, "{}", ok.text());
    let body = ok.json();
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();
    assert_eq!(token_header(access)["kid"], "key-1");
    let jwks = fx.jwks();
    assert_eq!(jwks["keys"][0]["kid"], "key-1");
    let key = jwk_key(&jwks["keys"][0]);
    let claims =
        jsonwebtoken::decode::<Value>(access, &key, &spec_validation("https://auth.example.com", "fastapi-api"))
            .expect("the access token verifies")
            .claims;
    assert_eq!(claims["token_type"], "access");
    assert_eq!(claims["sub"].as_str().unwrap().len(), 36, "a UUID");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
    assert!(claims.get("jti").is_some() && claims.get("nbf").is_none());
    let refresh_claims = token_claims(refresh);
    assert_eq!(refresh_claims["token_type"], "refresh");
    assert_eq!(refresh_claims["exp"].as_i64().unwrap() - refresh_claims["iat"].as_i64().unwrap(), 7 * 24 * 3600);
}

#[test]
fn spec_login_wrapped_moved_and_from_the_environment() {
    let wrapped = Fixture::start(&["spec", "role=auth", "login-body=wrapped"]);
    let body = spec_login(&wrapped, "test@example.com", "testpass").json();
    assert_eq!(body["status"], "success");
    assert!(body.get("access_token").is_none());
    assert!(body["data"]["access_token"].as_str().is_some() && body["data"]["refresh_token"].as_str().is_some());

    let v1 = Fixture::start(&["spec", "role=auth", "login-path=/api/v1/auth/login"]);
    assert_eq!(spec_login(&v1, "test@example.com", "testpass").status, 404);
    let moved = v1.post_json(
        "/api/v1/auth/login",
        &serde_json::json!({"email": "test@example.com", "password": "testpass"}),
        &[],
    );
    assert_eq!(moved.status, 200);

    let env = [("JWT_ISS", "https://auth.example.net"), ("JWT_AUD", "other-api"), ("JWT_ISSUER", "ignored")];
    let fx = Fixture::start_with_env(&["spec", "role=auth"], &env);
    let claims = token_claims(spec_login(&fx, "test@example.com", "testpass").json()["access_token"].as_str().unwrap());
    assert_eq!((claims["iss"].as_str(), claims["aud"].as_str()), (Some("https://auth.example.net"), Some("other-api")));

    // The default mode reads no such variable.
    let fx = Fixture::start_with_env(&[], &env);
    let claims = token_claims(fx.login().json()["access_token"].as_str().unwrap());
    assert_eq!(claims["iss"], "auth-service");
}

#[test]
fn spec_apis_health_profile_and_metrics() {
    let auth = Fixture::start(&["spec", "role=auth"]);
    let user_api = Fixture::start(&["spec", "role=user-api"]);
    let healthz = user_api.get("/healthz");
    assert_eq!(healthz.status, 200);
    assert_eq!(healthz.json(), serde_json::json!({"status": "healthy", "database": "ok", "redis": "ok"}));
    assert_eq!(user_api.get("/health").status, 404);
    assert_eq!(user_api.get("/api/users/profile").status, 404);

    let access = spec_login(&auth, "test@example.com", "testpass").json()["access_token"].as_str().unwrap().to_string();
    let profile = |fx: &Fixture, token: &str| {
        let header = format!("Bearer {token}");
        request(fx.addr, "GET", "/profile", &[("Authorization", header.as_str())], b"").unwrap()
    };
    let ok = profile(&user_api, &access);
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["user_id"].as_str().unwrap().len(), 36);
    assert_eq!(user_api.get("/profile").status, 403, "no Authorization header");

    // 60 s of leeway: 45 s past exp is accepted, 90 s past is not.
    let late = profile(&user_api, &user_api.token("exp=-45"));
    assert_eq!(late.status, 200, "{}", late.text());
    let expired = profile(&user_api, &user_api.token("exp=-90"));
    assert_eq!((expired.status, expired.json()["detail"].as_str()), (401, Some("Token has expired")));
    // A refresh token is not an access token.
    let wrong_type = profile(&user_api, &user_api.token("exp=600&token_type=refresh"));
    assert_eq!((wrong_type.status, wrong_type.json()["detail"].as_str()), (401, Some("Invalid token type")));

    // admin-api reads JWT_ISSUER: a different value refuses auth-service's tokens.
    let admin = Fixture::start_with_env(
        &["spec", "role=admin-api"],
        &[("JWT_ISSUER", "https://auth.example.org"), ("JWT_ISS", "https://auth.example.com")],
    );
    let refused = profile(&admin, &access);
    assert_eq!(refused.status, 401);
    assert!(refused.json()["detail"].as_str().unwrap().starts_with("Invalid token claims"), "{}", refused.text());
    let agreeing = Fixture::start_with_env(&["spec", "role=admin-api"], &[("JWT_ISSUER", "https://auth.example.com")]);
    assert_eq!(profile(&agreeing, &access).status, 200);

    let metrics = user_api.get("/metrics").text();
    assert!(
        metrics.contains("http_request_duration_seconds_bucket{endpoint=\"/profile\",method=\"GET\",le=\"0.05\"}"),
        "{metrics}"
    );
    assert!(!metrics.contains("handler="), "{metrics}");
}

#[test]
fn spec_health_misbehaviour_in_each_shape() {
    let api = Fixture::start(&["spec", "role=user-api", "health=unhealthy"]);
    let r = api.get("/healthz");
    assert_eq!(r.status, 200, "HTTP 200 with an unhealthy body");
    assert_eq!(r.json(), serde_json::json!({"status": "unhealthy", "database": "error", "redis": "ok"}));
    let api = Fixture::start(&["spec", "role=admin-api", "health=503:redis"]);
    let r = api.get("/healthz");
    assert_eq!(r.status, 503);
    assert_eq!(r.json(), serde_json::json!({"status": "unhealthy", "database": "ok", "redis": "error"}));

    let auth = Fixture::start(&["spec", "role=auth", "health=unhealthy"]);
    let body = auth.get("/health").json();
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["checks"]["database"], "error: connection refused");
    assert_eq!(body["checks"]["redis"], "ok");

    let bff = Fixture::start(&["spec", "role=bff", "health=503"]);
    let r = bff.get("/api/health");
    assert_eq!((r.status, r.json()["status"].as_str()), (503, Some("unhealthy")));

    // The runbook's /health takes the same modes.
    let runbook = Fixture::start(&["health=unhealthy"]);
    let r = runbook.get("/health");
    assert_eq!((r.status, r.json()["database"].as_str()), (200, Some("error")));
    assert_eq!(Fixture::start(&["health=503"]).get("/health").status, 503);
    assert_eq!(Fixture::start(&[]).get("/healthz").status, 404, "the default mode has no /healthz");
}

#[test]
fn spec_bff_forwards_login_and_profile() {
    let auth = Fixture::start(&["spec", "role=auth"]);
    let api = Fixture::start(&["spec", "role=user-api"]);
    let (auth_url, api_url) = (auth.url(), api.url());
    let env = [("AUTH_SERVER_URL", auth_url.as_str()), ("API_SERVER_URL", api_url.as_str())];
    let bff = Fixture::start_with_env(&["spec", "role=bff"], &env);
    let health = bff.get("/api/health").json();
    assert_eq!((health["status"].as_str(), health["service"].as_str()), (Some("healthy"), Some("User Frontend BFF")));
    assert_eq!(bff.get("/").status, 200);

    let body = serde_json::json!({"email": "test@example.com", "password": "testpass"});
    let login = bff.post_json("/api/auth/login", &body, &[]);
    assert_eq!(login.status, 200, "{}", login.text());
    let access = set_cookie(&login, "access_token");
    assert_eq!(attributes(access), ["httponly", "samesite=strict", "path=/", "max-age=900"]);
    assert_eq!(
        attributes(set_cookie(&login, "refresh_token")),
        ["httponly", "samesite=strict", "path=/", "max-age=604800"]
    );
    let cookie = access.split(';').next().unwrap().to_string();
    let profile = request(bff.addr, "GET", "/api/profile", &[("Cookie", cookie.as_str())], b"").unwrap();
    assert_eq!(profile.status, 200, "{}", profile.text());
    assert_eq!(bff.get("/api/users/profile").status, 404);

    let auth_seen = auth.get("/__fixture/requests").json();
    assert!(
        auth_seen.as_array().unwrap().iter().any(|r| r["method"] == "POST" && r["path"] == "/auth/login"),
        "{auth_seen}"
    );
    let api_seen = api.get("/__fixture/requests").json();
    let calls: Vec<(&str, bool)> = api_seen
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["path"].as_str().unwrap(), r["has_authorization"].as_bool().unwrap()))
        .collect();
    assert_eq!(calls, [("/profile", true)]);

    // auth-service's refusal is passed on; NODE_ENV=production makes the cookies Secure.
    let refused = bff.post_json(
        "/api/auth/login",
        &serde_json::json!({"email": "inactive@example.com", "password": "testpass"}),
        &[],
    );
    assert_eq!((refused.status, refused.json()["detail"].as_str()), (403, Some("Account inactive")));
    let wrapped = Fixture::start(&["spec", "role=auth", "login-body=wrapped"]);
    let wrapped_url = wrapped.url();
    let production = Fixture::start_with_env(
        &["spec", "role=bff"],
        &[("AUTH_SERVER_URL", wrapped_url.as_str()), ("NODE_ENV", "production")],
    );
    let login = production.post_json("/api/auth/login", &body, &[]);
    assert_eq!(login.status, 200, "the wrapped answer is read: {}", login.text());
    assert!(attributes(set_cookie(&login, "access_token")).contains(&"secure".to_string()));

    // Without AUTH_SERVER_URL the BFF checks the login itself.
    let local = Fixture::start(&["spec", "role=bff"]);
    assert_eq!(local.post_json("/api/auth/login", &body, &[]).status, 200);
}
