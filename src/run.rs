//! Running checks: decide what to probe from the settings, gather every area's facts at once
//! under one deadline, then diagnose. The `Facts` of a run are one serializable value, so a run
//! can be dumped and replayed.

use crate::config::Settings;
pub use crate::facts::{FACTS_SCHEMA, Facts, Setting};
use crate::probe::auth::{self as auth_probe, AuthFacts, AuthProbeConfig};
use crate::probe::docker::{self, DockerFacts, DockerProbeConfig};
use crate::probe::docker_discover::{self, Discovered};
use crate::probe::memory_sample;
use crate::probe::pg_app::PgAppRequest;
use crate::probe::postgres::{self, PgFacts, PgProbeConfig};
use crate::probe::redis::{self, BigKeysLimits, RedisFacts, RedisProbeConfig};
use crate::probe::redis_app::RedisAppRequest;
use crate::probe::web::{self, WebProbeConfig};
use crate::problems::engine::DockerView;
use crate::problems::registry::{self, Inputs};
use crate::problems::{self, Ctx};
use crate::redact;
use crate::report::Finding;
use crate::stack::discover::Scope;
use crate::stack::env_files;
use crate::stack::targets::{self, EngineView, Flags, Targets};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

pub use crate::catalogue::Area;

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
    // A refresh JWT names the blacklist entry and the session auth-service checks; its jti and
    // session id are handles on a session, kept out of every output like the token itself.
    let refresh_jwt = refresh_token.as_deref().and_then(|t| crate::jwt::refresh_claims(t).ok()).map(|(_, ids)| ids);
    for id in refresh_jwt.iter().flat_map(|ids| [&ids.jti, &ids.sid]).flatten() {
        redact::register_secret(id);
    }
    (
        PgAppRequest {
            login_user: login_user.clone(),
            refresh_tokens: auth,
            refresh_token: refresh_token.clone(),
            profile_user: profile_user.clone(),
            documents: api,
            key_index_dbs: Vec::new(),
        },
        RedisAppRequest {
            families: auth || api || req.areas.contains(&Area::Redis),
            refresh_tokens: auth,
            refresh_token,
            refresh_jwt,
            profile_user,
            login_user,
        },
    )
}

/// `--refresh-token` decoded now, for diagnosis (no token, only its claims' facts).
fn refresh_token_facts(token: &str) -> crate::jwt::RefreshTokenFacts {
    crate::jwt::RefreshTokenFacts {
        view: crate::jwt::refresh_claims(token).map(|(view, _)| view),
        checked_at: crate::clock::now_unix() as i64,
        leeway_s: auth_probe::SERVICES_LEEWAY_S,
    }
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

/// Whether doctor is away from the engine's host, and where the services are then
/// ([`crate::stack::position`]).
pub fn away(s: &Settings) -> Option<crate::stack::position::Away> {
    let engine = match &s.engine {
        Ok(e) => e.host.clone(),
        Err(u) => u.address.clone(),
    };
    let explicit = s.service_host.as_ref().map(|(h, from)| (h.as_str(), *from));
    crate::stack::position::decide(explicit, &engine, &crate::probe::position::look(&engine))
}

pub fn docker_config(s: &Settings) -> DockerProbeConfig {
    use crate::probe::docker::EngineSource;
    let (host, source, context, context_tls) = match &s.engine {
        Ok(e) if e.source == EngineSource::Default => (None, e.source, None, None),
        Ok(e) => (Some(e.host.clone()), e.source, e.context.clone(), e.tls_dir.clone()),
        // Stopped before any probe by the command line; kept as given so nothing is hidden.
        Err(u) => (Some(u.address.clone()), EngineSource::DockerHost, None, None),
    };
    // DOCKER_TLS_VERIFY and DOCKER_CERT_PATH go with an address given directly, as for the CLI.
    let direct = matches!(source, EngineSource::Flag | EngineSource::DockerHost);
    let env_tls = s.var("DOCKER_TLS_VERIFY").filter(|v| direct && !v.is_empty() && *v != "0").map(|_| {
        s.var("DOCKER_CERT_PATH")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::PathBuf::from(s.var("HOME").unwrap_or("/root")).join(".docker"))
    });
    DockerProbeConfig {
        host,
        source,
        context,
        pins: s.services.iter().filter_map(|(role, p)| Some((role.clone(), p.container.clone()?))).collect(),
        scope: Scope(s.compose_project.clone()),
        timeout: s.timeout,
        logs_since: s.logs_since,
        logs_tail: s.logs_tail,
        events_since: s.events_since,
        log_limits: crate::triage::Limits::from(&s.thresholds),
        tls_cert_path: context_tls.or(env_tls),
        service_host: away(s).map(|a| a.service_host),
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
        stack_credential: p.stack_credential.clone(),
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
                source: cfg.source,
                context: cfg.context.clone(),
                engine: Err(docker::DockerError {
                    kind: docker::DockerErrorKind::Timeout,
                    message: "the Docker probe overran its deadline".into(),
                }),
                containers: Vec::new(),
                timings: Vec::new(),
                events: None,
                disk: None,
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
            let pairs: Vec<(&str, &crate::probe::docker::ContainerFacts)> =
                found.iter().map(|f| (f.role, f.facts)).collect();
            let view = EngineView::Answered { description: engine, found, layout };
            let mut t = targets::build(s, &flags(req), &view, &repo);
            if let Some(mut a) = away(s) {
                crate::stack::position::aim(&mut t, &mut a, &pairs);
            }
            return t;
        }
    };
    let repo = env_files::read(&s.cwd, &working_dirs, &s.lookup());
    let mut t = targets::build(s, &flags(req), &view, &repo);
    if let Some(mut a) = away(s) {
        crate::stack::position::aim(&mut t, &mut a, &[]);
    }
    t
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
    let timeout_ms = crate::probe::ms(s.timeout);
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
                source: cfg.source,
                context: cfg.context.clone(),
                engine: Err(docker::DockerError {
                    kind: docker::DockerErrorKind::Timeout,
                    message: "the Docker probe overran its deadline".into(),
                }),
                containers: Vec::new(),
                timings: Vec::new(),
                events: None,
                disk: None,
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
        refresh_token: redis_app.refresh_token.as_deref().map(refresh_token_facts),
        timeout_ms,
        user_id: req.user_id.clone(),
        pools: targets.pools.clone(),
        settings: crate::facts::SETTING_VARS
            .iter()
            .filter_map(|name| {
                let value = s.var(name)?.to_string();
                Some((name.to_string(), Setting { value, source: format!("{name} ({})", s.var_origin(name)) }))
            })
            .collect(),
    }
}

/// Every problem of [`registry::ALL`] whose area was asked, in order, each reading the facts
/// and the findings before it. Pure: a replay of the facts gives the same findings.
pub fn diagnose(facts: &Facts, areas: &[Area], ctx: &Ctx) -> Vec<Finding> {
    let docker = DockerView { facts: facts.docker.as_ref(), disabled: facts.docker_disabled };
    let mut out: Vec<Finding> = Vec::new();
    for p in registry::ALL {
        if !p.areas.iter().any(|a| areas.contains(a)) {
            continue;
        }
        let found = (p.run)(&Inputs { facts, docker, earlier: &out, ctx });
        out.extend(found);
    }
    group_by_target(&mut out);
    // The engine's failure is the root cause of every unchecked container cause: show it.
    let engine_down = facts.docker.as_ref().is_some_and(|d| !d.reachable());
    if engine_down && !areas.contains(&Area::Docker) {
        let dk001 = problems::docker::dk001_engine_unreachable::PROBLEM.run;
        out.splice(0..0, dk001(&Inputs { facts, docker, earlier: &[], ctx }));
    }
    if let Some(d) = &facts.docker {
        for f in &mut out {
            problems::logs::attach(f, d);
        }
    }
    problems::timeouts::apply(facts, &mut out);
    problems::away::apply(facts, &mut out);
    out
}

/// The findings of problems reported by target (a frontend's FE001–FE003 together), in the
/// places those problems' findings took, ordered by target first and problem second.
fn group_by_target(out: &mut [Finding]) {
    let grouped = |f: &Finding| registry::get(f.code).is_some_and(|p| p.by_target);
    let slots: Vec<usize> = (0..out.len()).filter(|i| grouped(&out[*i])).collect();
    let mut targets: Vec<String> = Vec::new();
    for i in &slots {
        if !targets.contains(&out[*i].target) {
            targets.push(out[*i].target.clone());
        }
    }
    let mut items: Vec<Finding> = slots.iter().map(|i| out[*i].clone()).collect();
    items.sort_by_key(|f| targets.iter().position(|t| *t == f.target));
    for (slot, f) in slots.into_iter().zip(items) {
        out[slot] = f;
    }
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
