//! Running checks: decide what to probe from the settings, gather every area's facts at once
//! under one deadline, then diagnose. The `Facts` of a run are one serializable value, so a run
//! can be dumped and replayed.

use crate::config::{DEFAULT_STACK, Settings};
use crate::probe::auth::{self as auth_probe, AuthFacts, AuthProbeConfig};
use crate::probe::docker::{self, DockerFacts, DockerProbeConfig};
use crate::probe::memory_sample;
use crate::probe::pg_app::PgAppRequest;
use crate::probe::postgres::{self, PgFacts, PgProbeConfig};
use crate::probe::redis::{self, BigKeysLimits, RedisFacts, RedisProbeConfig};
use crate::probe::redis_app::RedisAppRequest;
use crate::probe::web::{self, WebFacts, WebProbeConfig};
use crate::problems::engine::DockerView;
use crate::problems::{self, Ctx};
use crate::redact;
use crate::report::Finding;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    Docker,
    Postgres,
    Redis,
    Auth,
    Api,
    Frontend,
    Network,
    Perf,
}

/// What one invocation asked for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub areas: Vec<Area>,
    pub pg_url: Option<String>,
    pub pg_admin_url: Option<String>,
    pub redis_url: Option<String>,
    pub bigkeys: Option<BigKeysLimits>,
    pub auth_url: Option<String>,
    /// A token to inspect (`--token`), kept in memory only.
    pub token: Option<String>,
    /// `--refresh-token`: the refresh token a failing refresh sent, looked up in authdb and
    /// Redis; kept in memory only.
    pub refresh_token: Option<String>,
    /// Login credentials from stdin (`--login-stdin`); else DOCTOR_LOGIN_* variables.
    pub login: Option<(String, String)>,
    /// `--user-id`: whose profile row and cache entry the API checks read.
    pub user_id: Option<String>,
    /// `perf --sample`: sample container memory for this long.
    pub sample: Option<Duration>,
}

/// The stack's own rows and keys the auth and API checks read, by area.
pub fn app_requests(s: &Settings, req: &Request) -> (PgAppRequest, RedisAppRequest) {
    let auth = req.areas.contains(&Area::Auth);
    let api = req.areas.contains(&Area::Api);
    let login_user = auth_config(s, req).login.map(|(u, _)| u).filter(|_| auth);
    let profile_user = req.user_id.clone().filter(|_| api);
    let refresh_token = req
        .refresh_token
        .clone()
        .or_else(|| s.var("DOCTOR_REFRESH_TOKEN").map(|t| t.trim().to_string()).filter(|t| !t.is_empty()))
        .filter(|_| auth);
    if let Some(t) = &refresh_token {
        redact::register_secret(t);
    }
    (
        PgAppRequest {
            login_user,
            refresh_tokens: auth,
            refresh_token: refresh_token.clone(),
            profile_user: profile_user.clone(),
            documents: api,
            key_index_dbs: Vec::new(),
        },
        RedisAppRequest { refresh_tokens: auth, refresh_token, profile_user },
    )
}

/// Everything a run gathered.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Facts {
    /// `doctor.facts/v1`, so that a replay knows what it reads.
    #[serde(default)]
    pub schema: String,
    /// What was run, so that a replay diagnoses the same areas.
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub areas: Vec<Area>,
    #[serde(default)]
    pub gathered_at: String,
    pub postgres: Option<PgFacts>,
    pub postgres_ms: u64,
    pub redis: Option<RedisFacts>,
    pub redis_ms: u64,
    /// `None` with `--no-docker` (see `docker_disabled`) or when no area needed the engine.
    pub docker: Option<DockerFacts>,
    pub docker_ms: u64,
    pub docker_disabled: bool,
    pub auth: Option<AuthFacts>,
    pub auth_ms: u64,
    pub web: Option<WebFacts>,
    pub web_ms: u64,
    /// `--user-id`, so that a replay reads the same profile evidence.
    #[serde(default)]
    pub user_id: Option<String>,
}

pub fn web_config(s: &Settings, req: &Request) -> WebProbeConfig {
    let api = |name: &str| web::WebTarget::api(name, &s.service(name).url);
    let front = |name: &str| web::WebTarget::frontend(name, &s.service(name).url);
    WebProbeConfig {
        apis: vec![api("user-api"), api("admin-api")],
        frontends: if req.areas.contains(&Area::Frontend) {
            vec![front("user-frontend"), front("admin-frontend")]
        } else {
            vec![]
        },
        user_api_url: s.service("user-api").url,
        user_api_profile_paths: crate::probe::routes::owned(web::API_PROFILE_PATHS),
        bff_profile_paths: crate::probe::routes::owned(web::BFF_PROFILE_PATHS),
        timeout: s.timeout,
        login: auth_config(s, req).login,
        origin: s.service("user-frontend").url,
        prometheus: req.areas.contains(&Area::Perf).then(|| s.service("prometheus").url),
    }
}

pub fn auth_config(s: &Settings, req: &Request) -> AuthProbeConfig {
    let login = req
        .login
        .clone()
        .or_else(|| Some((s.var("DOCTOR_LOGIN_USERNAME")?.to_string(), s.var("DOCTOR_LOGIN_PASSWORD")?.to_string())));
    AuthProbeConfig {
        base_url: req.auth_url.clone().unwrap_or_else(|| s.service("auth-service").url),
        health_paths: crate::probe::routes::owned(auth_probe::AUTH_HEALTH_PATHS),
        login_paths: crate::probe::routes::owned(auth_probe::LOGIN_PATHS),
        timeout: s.timeout,
        token: req.token.clone(),
        login,
        leeway_s: auth_probe::SERVICES_LEEWAY_S,
    }
}

pub const FACTS_SCHEMA: &str = "doctor.facts/v1";

pub fn docker_config(s: &Settings) -> DockerProbeConfig {
    DockerProbeConfig {
        host: s.var("DOCKER_HOST").map(str::to_string),
        services: DEFAULT_STACK.iter().map(|(name, _, _)| (name.to_string(), s.service(name).container)).collect(),
        compose_project: s.compose_project.clone(),
        timeout: s.timeout,
        logs_since: s.logs_since,
        logs_tail: s.logs_tail,
        tls_cert_path: s.var("DOCKER_TLS_VERIFY").filter(|v| !v.is_empty() && *v != "0").map(|_| {
            s.var("DOCKER_CERT_PATH")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| std::path::PathBuf::from(s.var("HOME").unwrap_or("/root")).join(".docker"))
        }),
    }
}

pub fn pg_config(s: &Settings, url_flag: Option<&str>, admin_flag: Option<&str>) -> PgProbeConfig {
    let service = s.service("postgres");
    let (url, url_source) = if let Some(u) = url_flag {
        (u.to_string(), "--url".to_string())
    } else if let Some(u) = s.var("DATABASE_URL") {
        (u.to_string(), format!("DATABASE_URL ({})", s.var_origin("DATABASE_URL")))
    } else if service.url_configured {
        // A configured URL without a password for the superuser takes POSTGRES_PASSWORD.
        let pw = s.var("POSTGRES_PASSWORD").filter(|_| service.url.contains("://postgres@"));
        (with_password(&service.url, pw, true), "doctor.toml".to_string())
    } else {
        (with_password(&service.url, s.var("POSTGRES_PASSWORD"), true), "default (POSTGRES_PASSWORD)".to_string())
    };
    let (admin_url, admin_source) = if let Some(a) = admin_flag {
        (Some(a.to_string()), "--admin-url".to_string())
    } else if let Some(a) = s.var("DOCTOR_ADMIN_URL") {
        (Some(a.to_string()), "DOCTOR_ADMIN_URL".to_string())
    } else if let Some(a) = &s.pg_admin_url {
        (Some(a.clone()), "doctor.toml".to_string())
    } else {
        (default_admin_url(&url, s.var("POSTGRES_PASSWORD")), "default (postgres, POSTGRES_PASSWORD)".to_string())
    };
    crate::config::register_url_password(&url);
    if let Some(a) = &admin_url {
        crate::config::register_url_password(a);
    }
    PgProbeConfig {
        url,
        url_source,
        admin_url,
        admin_source,
        timeout: s.timeout,
        app: PgAppRequest::default(),
        app_only: false,
    }
}

/// The superuser connection when none is configured: user `postgres` on the application's
/// server, database `postgres`, with `POSTGRES_PASSWORD` (or the application's own password
/// when it already connects as `postgres`). `None` when no password is known: a guess would
/// only leave an authentication failure in the server's log.
fn default_admin_url(app_url: &str, pg_password: Option<&str>) -> Option<String> {
    let u = crate::urls::parse_postgres(app_url).ok()?;
    let password = match pg_password {
        Some(p) => p.to_string(),
        None if u.user == "postgres" => u.password.clone()?,
        None => return None,
    };
    let q = match u.sslmode {
        crate::urls::SslMode::Require => "?sslmode=require",
        crate::urls::SslMode::Disable => "?sslmode=disable",
        crate::urls::SslMode::Prefer => "",
    };
    Some(format!("postgresql://postgres:{}@{}:{}/postgres{q}", redact::percent_encode(&password), u.host, u.port))
}

/// Puts a password into a URL that has none (`postgresql://postgres@h` → `postgresql://postgres:pw@h`).
fn with_password(url: &str, password: Option<&str>, has_user: bool) -> String {
    let Some(pw) = password else {
        return url.to_string();
    };
    let Some(i) = url.find("://") else {
        return url.to_string();
    };
    let (scheme, rest) = url.split_at(i + 3);
    let enc = redact::percent_encode(pw);
    match rest.split_once('@') {
        Some((user, host)) if has_user && !user.contains(':') => {
            format!("{scheme}{user}:{enc}@{host}")
        }
        Some(_) => url.to_string(),
        None => format!("{scheme}:{enc}@{rest}"),
    }
}

pub fn redis_config(s: &Settings, url_flag: Option<&str>, bigkeys: Option<BigKeysLimits>) -> RedisProbeConfig {
    let service = s.service("redis");
    let (url, url_source) = if let Some(u) = url_flag {
        (u.to_string(), "--url".to_string())
    } else if let Some(u) = s.var("REDIS_URL") {
        (u.to_string(), format!("REDIS_URL ({})", s.var_origin("REDIS_URL")))
    } else if service.url_configured {
        // Where Redis is comes from doctor.toml; a password it lacks comes from REDIS_PASSWORD.
        (with_password(&service.url, s.var("REDIS_PASSWORD"), false), "doctor.toml".to_string())
    } else {
        (with_password(&service.url, s.var("REDIS_PASSWORD"), false), "default (REDIS_PASSWORD)".to_string())
    };
    crate::config::register_url_password(&url);
    RedisProbeConfig { url, url_source, timeout: s.timeout, bigkeys, app: RedisAppRequest::default() }
}

/// The areas whose probes are still running (for the spinner).
static RUNNING: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

/// What is still being waited for, in a stable order.
pub fn running() -> Vec<&'static str> {
    RUNNING.lock().map(|v| v.clone()).unwrap_or_default()
}

/// Marks an area as running until dropped.
struct Running(&'static str);

impl Running {
    fn enter(name: &'static str) -> Running {
        if let Ok(mut v) = RUNNING.lock() {
            v.push(name);
        }
        Running(name)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut v) = RUNNING.lock() {
            v.retain(|n| *n != self.0);
        }
    }
}

/// Gathers every requested area at once. Each probe has its own deadline at `--timeout`; this
/// adds a guard a little later so that even a probe that misbehaves cannot hold the run.
pub async fn gather(s: &Settings, req: &Request) -> Facts {
    let guard = s.timeout + Duration::from_millis(250);
    let (pg_app, redis_app) = app_requests(s, req);
    let pg = async {
        if !req.areas.contains(&Area::Postgres) && !pg_app.any() {
            return (None, 0);
        }
        let mut cfg = pg_config(s, req.pg_url.as_deref(), req.pg_admin_url.as_deref());
        cfg.app_only = !req.areas.contains(&Area::Postgres);
        cfg.app = pg_app.clone();
        let _running = Running::enter("postgres");
        let t = Instant::now();
        let facts = match tokio::time::timeout(guard, postgres::gather(&cfg)).await {
            Ok(f) => f,
            Err(_) => PgFacts {
                target: "postgres".into(),
                url: redact::url(&cfg.url),
                url_source: cfg.url_source.clone(),
                query_errors: vec!["the PostgreSQL probe overran its deadline".into()],
                ..Default::default()
            },
        };
        (Some(facts), crate::probe::ms(t.elapsed()))
    };
    let rd = async {
        if !req.areas.contains(&Area::Redis) && !redis_app.any() {
            return (None, 0);
        }
        let mut cfg = redis_config(s, req.redis_url.as_deref(), req.bigkeys);
        cfg.app = redis_app.clone();
        let _running = Running::enter("redis");
        let extra = req.bigkeys.map_or(Duration::ZERO, |b| b.time);
        let t = Instant::now();
        let facts = match tokio::time::timeout(guard + extra, redis::gather(&cfg)).await {
            Ok(f) => f,
            Err(_) => RedisFacts {
                target: "redis".into(),
                url: redact::url(&cfg.url),
                url_source: cfg.url_source.clone(),
                errors: vec!["the Redis probe overran its deadline".into()],
                ..Default::default()
            },
        };
        (Some(facts), crate::probe::ms(t.elapsed()))
    };
    let dk = async {
        if s.no_docker || req.areas.is_empty() {
            return (None, 0);
        }
        let cfg = docker_config(s);
        let _running = Running::enter("docker");
        let t = Instant::now();
        let sample = req.sample.unwrap_or_default();
        let gather_and_sample = async {
            let mut f = docker::gather(&cfg).await;
            if req.sample.is_some() && f.reachable() {
                f.memory_samples = Some(memory_sample::sample(&cfg, &f, sample).await);
            }
            f
        };
        // Sampling adds its duration and one more probe timeout for its last reading.
        let extra = if req.sample.is_some() { sample + s.timeout } else { Duration::ZERO };
        let facts = match tokio::time::timeout(guard + extra, gather_and_sample).await {
            Ok(f) => f,
            Err(_) => DockerFacts {
                host: redact::url(cfg.host.as_deref().unwrap_or(docker::DEFAULT_HOST)),
                host_from_env: cfg.host.is_some(),
                engine: Err(docker::DockerError {
                    kind: docker::DockerErrorKind::Timeout,
                    message: "the Docker probe overran its deadline".into(),
                }),
                containers: Vec::new(),
                timings: Vec::new(),
                memory_samples: None,
            },
        };
        (Some(facts), crate::probe::ms(t.elapsed()))
    };
    let au = async {
        if !req.areas.contains(&Area::Auth) {
            return (None, 0);
        }
        let cfg = auth_config(s, req);
        let _running = Running::enter("auth-service");
        let t = Instant::now();
        let facts = tokio::time::timeout(guard, auth_probe::gather(&cfg))
            .await
            .unwrap_or_else(|_| AuthFacts { base_url: redact::url(&cfg.base_url), ..Default::default() });
        (Some(facts), crate::probe::ms(t.elapsed()))
    };
    let wb = async {
        if ![Area::Api, Area::Frontend, Area::Perf].iter().any(|a| req.areas.contains(a)) {
            return (None, 0);
        }
        let cfg = web_config(s, req);
        let _running = Running::enter("APIs/frontends");
        let t = Instant::now();
        let facts = tokio::time::timeout(guard, web::gather(&cfg)).await.unwrap_or_default();
        (Some(facts), crate::probe::ms(t.elapsed()))
    };
    let ((postgres, postgres_ms), (redis, redis_ms), (docker, docker_ms), (auth, auth_ms), (web, web_ms)) =
        tokio::join!(pg, rd, dk, au, wb);
    Facts {
        schema: FACTS_SCHEMA.into(),
        command: String::new(),
        areas: req.areas.clone(),
        gathered_at: rfc3339(SystemTime::now()),
        postgres,
        postgres_ms,
        redis,
        redis_ms,
        docker,
        docker_ms,
        docker_disabled: s.no_docker,
        auth,
        auth_ms,
        web,
        web_ms,
        user_id: req.user_id.clone(),
    }
}

pub fn diagnose(facts: &Facts, areas: &[Area], settings: &Settings, ctx: &Ctx) -> Vec<Finding> {
    let view = DockerView { facts: facts.docker.as_ref(), disabled: facts.docker_disabled };
    let mut out = Vec::new();
    let timed = |mut f: Finding, ms: u64| {
        f.duration_ms = ms;
        f
    };
    if areas.contains(&Area::Docker) {
        out.push(timed(problems::docker::dk001_engine_unreachable::diagnose(&view, ctx), facts.docker_ms));
        out.push(timed(problems::docker::dk002_container_not_running::diagnose(&view, ctx), facts.docker_ms));
    }
    if let Some(pg) = facts.postgres.as_ref().filter(|_| areas.contains(&Area::Postgres)) {
        out.extend(problems::postgres::diagnose(pg, &view, ctx).into_iter().map(|f| timed(f, facts.postgres_ms)));
    }
    if let Some(rd) = facts.redis.as_ref().filter(|_| areas.contains(&Area::Redis)) {
        out.extend(problems::redis::diagnose(rd, &view, ctx).into_iter().map(|f| timed(f, facts.redis_ms)));
    }
    if let Some(a) = &facts.auth {
        let vars =
            |name: &str| settings.var(name).map(|v| (v.to_string(), format!("{name} ({})", settings.var_origin(name))));
        let expected = problems::auth::Expected::from(&vars, &view, ctx);
        let app = facts.postgres.as_ref().and_then(|p| p.app_data.as_ref());
        out.push(timed(problems::auth::au001_login_fails::diagnose(a, app, &view, ctx), facts.auth_ms));
        out.push(timed(
            problems::auth::au002_jwt_verification_fails::diagnose(a, &expected, &view, ctx),
            facts.auth_ms,
        ));
        out.push(timed(
            problems::auth::au003_refresh_fails::diagnose(app, facts.redis.as_ref(), &view, ctx),
            facts.postgres_ms.max(facts.redis_ms),
        ));
    }
    let related = problems::related::Related::from(&out);
    if let Some(w) = &facts.web
        && areas.contains(&Area::Api)
    {
        for a in &w.apis {
            out.push(timed(problems::api::api001_timeout::diagnose(a, &view, &related, ctx), facts.web_ms));
        }
    }
    if areas.contains(&Area::Api) {
        let app = facts.postgres.as_ref().and_then(|p| p.app_data.as_ref());
        let stores_ms = facts.postgres_ms.max(facts.redis_ms);
        out.push(timed(
            problems::api::api002_profile_lookup_fails::diagnose(
                facts.user_id.as_deref(),
                app,
                facts.redis.as_ref(),
                &view,
                ctx,
            ),
            stores_ms,
        ));
        let max_file_size = settings
            .var("MAX_FILE_SIZE")
            .map(|v| (v.to_string(), format!("MAX_FILE_SIZE ({})", settings.var_origin("MAX_FILE_SIZE"))));
        out.push(timed(
            problems::api::api003_upload_fails::diagnose(&view, app, max_file_size, ctx),
            stores_ms.max(facts.docker_ms),
        ));
    }
    if let Some(w) = &facts.web {
        if areas.contains(&Area::Frontend) {
            for f in &w.frontends {
                out.push(timed(problems::frontend::fe001_page_does_not_load::diagnose(f, &view, ctx), facts.web_ms));
                out.push(timed(problems::frontend::fe002_no_redirect_after_login::diagnose(f, ctx), facts.web_ms));
                out.push(timed(problems::frontend::fe003_api_unauthorized::diagnose(f, ctx), facts.web_ms));
            }
        }
        if areas.contains(&Area::Perf) {
            out.push(timed(problems::perf::perf001_slow_responses::diagnose(w, &view, &related, ctx), facts.web_ms));
        }
    }
    if areas.contains(&Area::Network) {
        out.push(timed(
            problems::network::net001_services_cannot_reach_each_other::diagnose(&view, ctx),
            facts.docker_ms,
        ));
        out.push(timed(problems::network::net002_host_cannot_reach_container::diagnose(&view, ctx), facts.docker_ms));
    }
    if areas.contains(&Area::Perf) || areas.contains(&Area::Docker) {
        out.push(timed(problems::perf::perf002_memory_growth::diagnose(&view, ctx), facts.docker_ms));
    }
    // The engine's failure is the root cause of every unchecked container cause: show it.
    let engine_down = facts.docker.as_ref().is_some_and(|d| !d.reachable());
    if engine_down && !areas.contains(&Area::Docker) {
        out.insert(0, timed(problems::docker::dk001_engine_unreachable::diagnose(&view, ctx), facts.docker_ms));
    }
    if let Some(d) = &facts.docker {
        for f in &mut out {
            problems::logs::attach(f, d, ctx);
        }
    }
    out
}

/// `2026-11-28T12:00:00Z` for a time.
pub fn rfc3339(t: SystemTime) -> String {
    crate::clock::rfc3339(t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;
    use std::collections::BTreeMap;

    fn settings(env: &[(&str, &str)]) -> Settings {
        let dir = tempfile::tempdir().unwrap();
        let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::load(&Overrides::default(), &env, dir.path()).unwrap()
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_867_200)), "2026-11-28T12:00:00Z");
    }

    #[test]
    fn postgres_url_precedence_and_default_admin() {
        let s = settings(&[("POSTGRES_PASSWORD", "pg pw")]);
        let c = pg_config(&s, None, None);
        assert_eq!(c.url, "postgresql://postgres:pg%20pw@localhost:5432/authdb");
        assert_eq!(c.admin_url.as_deref(), Some("postgresql://postgres:pg%20pw@localhost:5432/postgres"));
        let s = settings(&[("DATABASE_URL", "postgresql://app:x@db:5432/apidb")]);
        let c = pg_config(&s, None, None);
        assert_eq!(
            (c.url.as_str(), c.url_source.as_str()),
            ("postgresql://app:x@db:5432/apidb", "DATABASE_URL (environment)")
        );
        assert_eq!(c.admin_url, None, "no superuser password known: no guess");
        let c = pg_config(&s, Some("postgresql://u@h/d"), Some("postgresql://postgres:a@h/postgres"));
        assert_eq!((c.url_source.as_str(), c.admin_source.as_str()), ("--url", "--admin-url"));
    }

    #[test]
    fn redis_default_uses_redis_password() {
        let s = settings(&[("REDIS_PASSWORD", "r/pw")]);
        assert_eq!(redis_config(&s, None, None).url, "redis://:r%2Fpw@localhost:6379");
        let s = settings(&[]);
        assert_eq!(redis_config(&s, None, None).url, "redis://localhost:6379");
    }
}
