//! Running checks: decide what to probe from the settings, gather every area's facts at once
//! under one deadline, then diagnose. The `Facts` of a run are one serializable value, so a run
//! can be dumped and replayed.

use crate::config::Settings;
use crate::probe::auth::{self as auth_probe, AuthFacts, AuthProbeConfig};
use crate::probe::docker::{self, DockerFacts, DockerProbeConfig};
use crate::probe::docker_discover::{self, Discovered};
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
use crate::stack::discover::Scope;
use crate::stack::targets::{self, EngineView, Flags, Targets};
use crate::stack::{Stack, env_files};
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
    let login_user = login(s, req).map(|(u, _)| u).filter(|_| auth);
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
    /// The stack as found (which container plays each role, and how it is reached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<Stack>,
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

pub fn web_config(s: &Settings, req: &Request, t: &Targets) -> WebProbeConfig {
    let api = |name: &str| web::WebTarget::api(name, &t.http_url(name));
    let front = |name: &str| web::WebTarget::frontend(name, &t.http_url(name));
    WebProbeConfig {
        apis: vec![api("user-api"), api("admin-api")],
        frontends: if req.areas.contains(&Area::Frontend) {
            vec![front("user-frontend"), front("admin-frontend")]
        } else {
            vec![]
        },
        user_api_url: t.http_url("user-api"),
        user_api_profile_paths: crate::probe::routes::owned(web::API_PROFILE_PATHS),
        bff_profile_paths: crate::probe::routes::owned(web::BFF_PROFILE_PATHS),
        timeout: s.timeout,
        login: login(s, req),
        origin: t.http_url("user-frontend"),
        prometheus: req.areas.contains(&Area::Perf).then(|| t.http_url("prometheus")),
    }
}

/// Login credentials: `--login-stdin`, else the DOCTOR_LOGIN_* variables (never a flag).
fn login(s: &Settings, req: &Request) -> Option<(String, String)> {
    req.login
        .clone()
        .or_else(|| Some((s.var("DOCTOR_LOGIN_USERNAME")?.to_string(), s.var("DOCTOR_LOGIN_PASSWORD")?.to_string())))
}

pub fn auth_config(s: &Settings, req: &Request, t: &Targets) -> AuthProbeConfig {
    AuthProbeConfig {
        base_url: t.http_url("auth-service"),
        health_paths: crate::probe::routes::owned(auth_probe::AUTH_HEALTH_PATHS),
        login_paths: crate::probe::routes::owned(auth_probe::LOGIN_PATHS),
        timeout: s.timeout,
        token: req.token.clone(),
        login: login(s, req),
        leeway_s: auth_probe::SERVICES_LEEWAY_S,
    }
}

pub const FACTS_SCHEMA: &str = "doctor.facts/v1";

pub fn docker_config(s: &Settings) -> DockerProbeConfig {
    DockerProbeConfig {
        host: s.var("DOCKER_HOST").map(str::to_string),
        pins: s.services.iter().filter_map(|(role, p)| Some((role.clone(), p.container.clone()?))).collect(),
        scope: Scope(s.compose_project.clone()),
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

pub fn pg_config(s: &Settings, t: &Targets) -> PgProbeConfig {
    let p = &t.postgres;
    PgProbeConfig {
        url: p.url.clone(),
        url_source: p.url_source.clone(),
        admin_url: p.admin_url.clone(),
        admin_source: p.admin_source.clone(),
        route: p.route.clone(),
        timeout: s.timeout,
        app: PgAppRequest::default(),
        app_only: false,
    }
}

pub fn redis_config(s: &Settings, t: &Targets, bigkeys: Option<BigKeysLimits>) -> RedisProbeConfig {
    RedisProbeConfig {
        url: t.redis.url.clone(),
        url_source: t.redis.url_source.clone(),
        route: t.redis.route.clone(),
        timeout: s.timeout,
        bigkeys,
        app: RedisAppRequest::default(),
    }
}

/// How long finding the stack may take before the probes it aims must start anyway.
fn discovery_budget(timeout: Duration) -> Duration {
    (timeout / 2).min(Duration::from_secs(2))
}

/// The engine's view of the stack, the repositories' `.env` files, and the targets they give.
pub struct Found {
    pub discovered: Option<Result<Discovered, DockerFacts>>,
    pub targets: Targets,
}

/// Finds the stack (the engine's containers, their variables, the `.env` files of the
/// repositories) and aims every probe with it. Needs no area: `doctor stack` is this alone.
pub async fn find_stack(s: &Settings, req: &Request, use_engine: bool) -> Found {
    let cfg = docker_config(s);
    let discovered = if use_engine {
        let _running = Running::enter("docker");
        let deadline = Instant::now() + discovery_budget(s.timeout);
        let guard = discovery_budget(s.timeout) + Duration::from_millis(250);
        Some(match tokio::time::timeout(guard, docker_discover::discover(&cfg, deadline)).await {
            Ok(d) => d,
            Err(_) => Err(DockerFacts {
                host: redact::url(cfg.host.as_deref().unwrap_or(docker::DEFAULT_HOST)),
                host_from_env: cfg.host.is_some(),
                engine: Err(docker::DockerError {
                    kind: docker::DockerErrorKind::Timeout,
                    message: "the Docker probe overran its deadline".into(),
                }),
                containers: Vec::new(),
                timings: Vec::new(),
                memory_samples: None,
            }),
        })
    } else {
        None
    };
    let targets = aim(s, req, discovered.as_ref());
    Found { discovered, targets }
}

fn aim(s: &Settings, req: &Request, discovered: Option<&Result<Discovered, DockerFacts>>) -> Targets {
    let mut working_dirs: Vec<(&'static str, String)> = Vec::new();
    let view = match discovered {
        None if s.no_docker => EngineView::NotAsked("not asked (--no-docker)".into()),
        None => EngineView::NotAsked("not asked".into()),
        Some(Err(f)) => EngineView::Unreachable(match &f.engine {
            Err(e) => format!("{} did not answer: {}", f.host, e.message),
            Ok(_) => format!("{} could not list its containers", f.host),
        }),
        Some(Ok(d)) => {
            let mut found = Vec::new();
            for (a, ins) in d.assigned.iter().zip(&d.inspected) {
                let (Some((_, by)), Some(Ok(i))) = (a.pick, ins) else { continue };
                if let Some(wd) = &i.facts.working_dir {
                    working_dirs.push((a.role, wd.clone()));
                }
                found.push(targets::Found {
                    role: a.role,
                    facts: &i.facts,
                    env: &i.env,
                    args: &i.args,
                    found_by: by,
                    also: &a.also,
                });
            }
            let engine = match &d.base.engine {
                Ok(e) => format!("{} (Docker {})", d.base.host, e.version),
                Err(_) => d.base.host.clone(),
            };
            let layout = crate::stack::discover::layout_of(&d.assigned);
            let repo = env_files::read(&s.cwd, &working_dirs, &s.lookup());
            let view = EngineView::Answered { description: engine, found, layout };
            return targets::build(s, &flags(req), &view, &repo);
        }
    };
    let repo = env_files::read(&s.cwd, &working_dirs, &s.lookup());
    targets::build(s, &flags(req), &view, &repo)
}

fn flags(req: &Request) -> Flags<'_> {
    Flags {
        pg_url: req.pg_url.as_deref(),
        pg_admin_url: req.pg_admin_url.as_deref(),
        redis_url: req.redis_url.as_deref(),
        auth_url: req.auth_url.as_deref(),
    }
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

/// Finds the stack, then gathers every requested area at once. Each probe has its own
/// deadline at `--timeout` (less what finding the stack took, but never under half of it); a
/// guard a little later ensures that even a probe that misbehaves cannot hold the run.
pub async fn gather(s: &Settings, req: &Request) -> Facts {
    let started = Instant::now();
    let use_engine = !s.no_docker && !req.areas.is_empty();
    let Found { discovered, targets } = find_stack(s, req, use_engine).await;
    let mut s = s.clone();
    s.timeout = s.timeout.saturating_sub(started.elapsed()).max(s.timeout / 2);
    let s = &s;
    let guard = s.timeout + Duration::from_millis(250);
    let (pg_app, redis_app) = app_requests(s, req);
    let pg = async {
        if !req.areas.contains(&Area::Postgres) && !pg_app.any() {
            return (None, 0);
        }
        let mut cfg = pg_config(s, &targets);
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
        let mut cfg = redis_config(s, &targets, req.bigkeys);
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
        let discovered = discovered?;
        let cfg = docker_config(s);
        let _running = Running::enter("docker");
        let sample = req.sample.unwrap_or_default();
        let deadline = Instant::now() + s.timeout;
        let examine_and_sample = async {
            let mut f = match discovered {
                Ok(d) => docker::examine(d, &cfg, deadline).await,
                Err(f) => f,
            };
            if req.sample.is_some() && f.reachable() {
                f.memory_samples = Some(memory_sample::sample(&cfg, &f, sample).await);
            }
            f
        };
        // Sampling adds its duration and one more probe timeout for its last reading.
        let extra = if req.sample.is_some() { sample + s.timeout } else { Duration::ZERO };
        let facts = match tokio::time::timeout(guard + extra, examine_and_sample).await {
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
        // Finding the stack is part of the engine's time.
        Some((facts, crate::probe::ms(started.elapsed())))
    };
    let au = async {
        if !req.areas.contains(&Area::Auth) {
            return (None, 0);
        }
        let cfg = auth_config(s, req, &targets);
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
        let cfg = web_config(s, req, &targets);
        let _running = Running::enter("APIs/frontends");
        let t = Instant::now();
        let facts = tokio::time::timeout(guard, web::gather(&cfg)).await.unwrap_or_default();
        (Some(facts), crate::probe::ms(t.elapsed()))
    };
    let ((postgres, postgres_ms), (redis, redis_ms), docker, (auth, auth_ms), (web, web_ms)) =
        tokio::join!(pg, rd, dk, au, wb);
    let (docker, docker_ms) = match docker {
        Some((f, ms)) => (Some(f), ms),
        None => (None, 0),
    };
    Facts {
        schema: FACTS_SCHEMA.into(),
        command: String::new(),
        areas: req.areas.clone(),
        gathered_at: rfc3339(SystemTime::now()),
        stack: Some(targets.stack.clone()),
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
        let mut api002 = problems::api::api002_profile_lookup_fails::diagnose(
            facts.user_id.as_deref(),
            app,
            facts.redis.as_ref(),
            &view,
            ctx,
        );
        let user_api = facts.web.as_ref().and_then(|w| w.apis.iter().find(|a| a.service == "user-api"));
        problems::api::api002_profile_lookup_fails::with_health(&mut api002, user_api, ctx);
        out.push(timed(api002, stores_ms));
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
        out.push(timed(
            problems::network::net002_host_cannot_reach_container::diagnose(&view, facts.stack.as_ref(), ctx),
            facts.docker_ms,
        ));
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

    #[test]
    fn dates() {
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_867_200)), "2026-11-28T12:00:00Z");
    }
}
