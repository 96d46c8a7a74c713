//! Aiming the probes: for each role, the address doctor uses from this host and the
//! credentials it uses, each with where it came from, strongest first: flags, the process
//! environment and `./.env` (or `--env-file`), `doctor.toml`, the repositories' own `.env`
//! files, the containers' own environment, the container's published port, the built-in
//! stack. A URL written for the containers (`host.docker.internal`, a compose service, a
//! container's address) is reached through the port it is published on, and says so. Pure:
//! the engine's view and the files come in as data. Produces the printable [`Stack`] too.

use super::discover::FoundBy;
use super::env_files::RepoEnv;
use super::roles::{self, Kind, Layout, ROLES};
use super::{Member, Route, STACK_SCHEMA, Stack, route_from_host};
use crate::config::Settings;
use crate::probe::docker::ContainerFacts;
use crate::redact;
use std::collections::BTreeMap;
use std::path::Path;

/// A found container with what credentials need (its raw environment stays in memory).
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    pub role: &'static str,
    pub facts: &'a ContainerFacts,
    pub env: &'a BTreeMap<String, String>,
    pub args: &'a [String],
    pub found_by: FoundBy,
    pub also: &'a [String],
}

/// What the engine said, as this layer needs it.
#[derive(Debug, Clone)]
pub enum EngineView<'a> {
    /// `--no-docker`, or no area needed it.
    NotAsked(String),
    Unreachable(String),
    Answered {
        /// `unix:///var/run/docker.sock (Docker 20.10.24)`.
        description: String,
        found: Vec<Found<'a>>,
        layout: Option<Layout>,
    },
}

/// The command line's own addresses, strongest of all.
#[derive(Debug, Clone, Default)]
pub struct Flags<'a> {
    pub pg_url: Option<&'a str>,
    pub pg_admin_url: Option<&'a str>,
    pub redis_url: Option<&'a str>,
    pub auth_url: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PgTarget {
    pub url: String,
    pub url_source: String,
    pub admin_url: Option<String>,
    pub admin_source: String,
    /// Where the URL's host is from this host, when it was written for the containers.
    pub route: Option<Route>,
    /// The services' own credential, from a running container, to try when doctor's is refused.
    pub stack_credential: Option<crate::probe::postgres::StackCredential>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RedisTarget {
    pub url: String,
    pub url_source: String,
    pub route: Option<Route>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpTarget {
    pub url: String,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Targets {
    pub postgres: PgTarget,
    pub redis: RedisTarget,
    /// Base URL of every HTTP role, by role.
    pub http: BTreeMap<String, HttpTarget>,
    pub stack: Stack,
    /// The pool variables of the roles that connect to PostgreSQL with a pool, where set.
    pub pools: BTreeMap<String, crate::facts::PoolSetting>,
}

impl Targets {
    pub fn http_url(&self, role: &str) -> String {
        self.http
            .get(role)
            .map(|t| t.url.clone())
            .unwrap_or_else(|| roles::role(role).map(|r| r.default_url.to_string()).unwrap_or_default())
    }
}

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Origin<'a> {
    Flag,
    Environment,
    DotEnv,
    Config,
    Repo(&'a Path),
    Container(&'a str),
    Default,
}

impl Origin<'_> {
    /// The contract's `credentials_from` word.
    fn kind(&self) -> &'static str {
        match self {
            Origin::Flag => "flag",
            Origin::Environment => "environment",
            Origin::DotEnv | Origin::Repo(_) => ".env",
            Origin::Config => "config",
            Origin::Container(_) => "container-env",
            Origin::Default => "none",
        }
    }

    fn describe(&self, var: &str) -> String {
        match self {
            Origin::Flag => var.to_string(),
            Origin::Environment => format!("{var} (environment)"),
            Origin::DotEnv => format!("{var} (.env)"),
            Origin::Config => "doctor.toml".to_string(),
            Origin::Repo(p) => format!("{var} in {}", p.display()),
            Origin::Container(c) => format!("{var} of {c} (container environment)"),
            Origin::Default => "default".to_string(),
        }
    }
}

struct Sources<'a> {
    s: &'a Settings,
    repo: &'a RepoEnv,
    found: &'a [Found<'a>],
}

impl<'a> Sources<'a> {
    fn global(&self, name: &str) -> Option<(String, Origin<'a>)> {
        let v = self.s.var(name)?;
        let origin = if self.s.env_names.contains(name) { Origin::Environment } else { Origin::DotEnv };
        Some((v.to_string(), origin))
    }

    fn found(&self, role: &str) -> Option<&Found<'a>> {
        self.found.iter().find(|f| f.role == role)
    }

    /// A variable of one role: its running container's environment (what the service really
    /// uses), else its repository's `.env` files (what it would be created with).
    fn of_role(&self, role: &str, name: &str) -> Option<(String, Origin<'a>)> {
        if let Some(f) = self.found(role)
            && let Some(v) = f.env.get(name).filter(|v| !v.is_empty())
        {
            return Some((v.clone(), Origin::Container(f.facts.name.as_str())));
        }
        let (v, p) = self.repo.get(role, name)?;
        Some((v.to_string(), Origin::Repo(p)))
    }

    /// The first of `roles` that has the variable.
    fn of_roles(&self, roles: &[&str], name: &str) -> Option<(String, Origin<'a>)> {
        roles.iter().find_map(|r| self.of_role(r, name))
    }

    fn containers(&self) -> Vec<&'a ContainerFacts> {
        self.found.iter().map(|f| f.facts).collect()
    }

    /// The published host address of a found role: (ip, host port, `published port ...`).
    fn published(&self, role: &str) -> Option<(String, u16, String)> {
        let f = self.found(role)?;
        let r = roles::role(role)?;
        let bindings: Vec<_> = f.facts.ports.iter().filter(|p| p.proto == "tcp" && p.host_port.is_some()).collect();
        let b = bindings
            .iter()
            .find(|p| p.host_port == Some(r.host_port))
            .or_else(|| bindings.iter().find(|p| r.container_ports.contains(&p.container_port)))
            .or_else(|| bindings.first())?;
        let shown_ip = b.host_ip.as_deref().filter(|ip| !ip.is_empty()).unwrap_or("0.0.0.0");
        let ip = match shown_ip {
            "0.0.0.0" => "127.0.0.1".to_string(),
            "::" => "[::1]".to_string(),
            ip if ip.contains(':') => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        let host_port = b.host_port?;
        Some((ip, host_port, format!("published port {shown_ip}:{host_port}->{}", b.container_port)))
    }
}

/// Roles whose containers hold the services' own connection variables, in the order they are
/// asked (auth-service's database is the runbook's `authdb`).
const CLIENTS: &[&str] = &["auth-service", "user-api", "admin-api", "mcp"];

/// Puts a password into a URL that has none (`postgresql://postgres@h` → `postgresql://postgres:pw@h`).
pub fn with_password(url: &str, password: Option<&str>, has_user: bool) -> String {
    let Some(pw) = password else {
        return url.to_string();
    };
    let Some(i) = url.find("://") else {
        return url.to_string();
    };
    let (scheme, rest) = url.split_at(i + 3);
    let enc = redact::percent_encode(pw);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((user, _)) if has_user && !user.contains(':') => {
            format!("{scheme}{user}:{enc}@{}", &rest[user.len() + 1..])
        }
        Some(_) => url.to_string(),
        None => format!("{scheme}:{enc}@{rest}"),
    }
}

fn url_password(url: &str) -> Option<String> {
    crate::urls::parse_endpoint(url)?.password.filter(|p| !p.is_empty())
}

fn url_user(url: &str) -> Option<String> {
    crate::urls::parse_endpoint(url)?.user
}

fn route_for(url: &str, containers: &[&ContainerFacts]) -> Option<Route> {
    let e = crate::urls::parse_endpoint(url)?;
    route_from_host(&e.host, e.port, containers)
}

/// Redis's password as the server knows it: `--requirepass X`, else its `REDIS_PASSWORD`.
fn server_redis_password<'a>(src: &Sources<'a>) -> Option<(String, Origin<'a>)> {
    if let Some(f) = src.found("redis")
        && let Some(i) = f.args.iter().position(|a| a == "--requirepass")
        && let Some(p) = f.args.get(i + 1).filter(|p| !p.is_empty() && !p.starts_with('$'))
    {
        return Some((p.clone(), Origin::Container(f.facts.name.as_str())));
    }
    src.global("REDIS_PASSWORD").or_else(|| src.of_role("redis", "REDIS_PASSWORD"))
}

fn postgres<'a>(src: &Sources<'a>, flags: &Flags) -> (PgTarget, Origin<'a>, String) {
    let s = src.s;
    let pin = s.services.get("postgres");
    let server_user = src.global("POSTGRES_USER").or_else(|| src.of_role("postgres", "POSTGRES_USER"));
    let server_pw = src.global("POSTGRES_PASSWORD").or_else(|| src.of_role("postgres", "POSTGRES_PASSWORD"));
    let (url, url_source, origin) = if let Some(u) = flags.pg_url {
        (u.to_string(), "--url".to_string(), Origin::Flag)
    } else if let Some((u, o)) = src.global("DATABASE_URL") {
        (u, o.describe("DATABASE_URL"), o)
    } else if let Some(u) = pin.and_then(|p| p.url.clone()) {
        // A configured URL without a password for the superuser takes POSTGRES_PASSWORD.
        let pw = server_pw.as_ref().map(|(p, _)| p.as_str()).filter(|_| u.contains("://postgres@"));
        (with_password(&u, pw, true), "doctor.toml".to_string(), Origin::Config)
    } else if let Some((u, o)) = src.of_roles(CLIENTS, "DATABASE_URL") {
        (u, o.describe("DATABASE_URL"), o)
    } else if let Some((ip, port, how)) = src.published("postgres") {
        let user = server_user.as_ref().map(|(u, _)| u.clone()).unwrap_or_else(|| "postgres".into());
        let base = format!("postgresql://{}@{ip}:{port}/authdb", redact::percent_encode(&user));
        let origin = server_pw.as_ref().map(|(_, o)| *o).unwrap_or(Origin::Default);
        let source = match &server_pw {
            Some((_, o)) => format!("{how}, {}", o.describe("POSTGRES_PASSWORD")),
            None => format!("{how}, no password known"),
        };
        (with_password(&base, server_pw.as_ref().map(|(p, _)| p.as_str()), true), source, origin)
    } else {
        let o = server_pw.as_ref().map(|(_, o)| *o).unwrap_or(Origin::Default);
        let base = roles::role("postgres").map(|r| r.default_url).unwrap_or_default();
        (
            with_password(base, server_pw.as_ref().map(|(p, _)| p.as_str()), true),
            "default (POSTGRES_PASSWORD)".to_string(),
            o,
        )
    };
    let route = route_for(&url, &src.containers());
    let (admin_url, admin_source) = if let Some(a) = flags.pg_admin_url {
        (Some(a.to_string()), "--admin-url".to_string())
    } else if let Some((a, _)) = src.global("DOCTOR_ADMIN_URL") {
        (Some(a), "DOCTOR_ADMIN_URL".to_string())
    } else if let Some(a) = &s.pg_admin_url {
        (Some(a.clone()), "doctor.toml".to_string())
    } else {
        let user = server_user.as_ref().map(|(u, _)| u.clone()).unwrap_or_else(|| "postgres".into());
        let from_app = url_password(&url).filter(|_| url_user(&url).as_deref() == Some(user.as_str()));
        match (&server_pw, from_app) {
            (Some((pw, o)), _) => {
                (default_admin_url(&url, &user, pw), format!("default ({user}, {})", o.describe("POSTGRES_PASSWORD")))
            }
            (None, Some(pw)) => {
                (default_admin_url(&url, &user, &pw), format!("default ({user}, the application's own password)"))
            }
            // No password known: a guess would only leave an authentication failure in the log.
            (None, None) => (None, format!("default ({user}), no password known")),
        }
    };
    let (cred_origin, detail) = match &server_pw {
        Some((_, o)) => (*o, o.describe("POSTGRES_PASSWORD")),
        None => (origin, if origin == Origin::Default { String::new() } else { url_source.clone() }),
    };
    crate::config::register_url_password(&url);
    if let Some(a) = &admin_url {
        crate::config::register_url_password(a);
    }
    let stack_credential = stack_credential(src);
    (PgTarget { url, url_source, admin_url, admin_source, route, stack_credential }, cred_origin, detail)
}

/// The credential the running stack logs in to PostgreSQL with: a client container's
/// `DATABASE_URL` (the one agreeing with the postgres container's `POSTGRES_PASSWORD` when
/// they differ), else the postgres container's own `POSTGRES_USER`/`POSTGRES_PASSWORD`. Only
/// what runs counts here: the repositories' `.env` files are what the operator may have copied.
fn stack_credential(src: &Sources) -> Option<crate::probe::postgres::StackCredential> {
    use crate::probe::postgres::StackCredential;
    let server = src.found("postgres");
    let server_pw = server.and_then(|f| f.env.get("POSTGRES_PASSWORD")).filter(|p| !p.is_empty());
    let mut clients = Vec::new();
    for role in CLIENTS {
        let Some(f) = src.found(role) else { continue };
        let Some(v) = f.env.get("DATABASE_URL") else { continue };
        let Ok(u) = crate::urls::parse_postgres(v) else { continue };
        let Some(password) = u.password.filter(|p| !p.is_empty()) else { continue };
        let source = Origin::Container(f.facts.name.as_str()).describe("DATABASE_URL");
        clients.push(StackCredential { user: u.user, password, source });
    }
    let agreeing = clients.iter().position(|c| Some(&c.password) == server_pw);
    if let Some(i) = agreeing.or((!clients.is_empty()).then_some(0)) {
        return Some(clients.swap_remove(i));
    }
    let f = server?;
    Some(StackCredential {
        user: f.env.get("POSTGRES_USER").filter(|u| !u.is_empty()).cloned().unwrap_or_else(|| "postgres".into()),
        password: server_pw?.clone(),
        source: Origin::Container(f.facts.name.as_str()).describe("POSTGRES_PASSWORD"),
    })
}

/// The superuser connection on the application's server, database `postgres`.
fn default_admin_url(app_url: &str, user: &str, password: &str) -> Option<String> {
    let u = crate::urls::parse_postgres(app_url).ok()?;
    let q = match u.sslmode {
        crate::urls::SslMode::Require => "?sslmode=require",
        crate::urls::SslMode::Disable => "?sslmode=disable",
        crate::urls::SslMode::Prefer => "",
    };
    let host = if u.host.contains(':') { format!("[{}]", u.host) } else { u.host.clone() };
    Some(format!(
        "postgresql://{}:{}@{host}:{}/postgres{q}",
        redact::percent_encode(user),
        redact::percent_encode(password),
        u.port
    ))
}

fn redis<'a>(src: &Sources<'a>, flags: &Flags) -> (RedisTarget, Origin<'a>, String) {
    let pin = src.s.services.get("redis");
    let server_pw = server_redis_password(src);
    let pw = server_pw.as_ref().map(|(p, _)| p.as_str());
    let (url, url_source, origin) = if let Some(u) = flags.redis_url {
        (u.to_string(), "--url".to_string(), Origin::Flag)
    } else if let Some((u, o)) = src.global("REDIS_URL") {
        (u, o.describe("REDIS_URL"), o)
    } else if let Some(u) = pin.and_then(|p| p.url.clone()) {
        // Where Redis is comes from doctor.toml; a password it lacks comes from REDIS_PASSWORD.
        let pw = src.global("REDIS_PASSWORD").map(|(p, _)| p);
        (with_password(&u, pw.as_deref(), false), "doctor.toml".to_string(), Origin::Config)
    } else if let Some((u, o)) = src.of_roles(CLIENTS, "REDIS_URL") {
        // The services' URL may leave the password to REDIS_PASSWORD (the spec's REDIS_HOST form).
        let u = if url_password(&u).is_none() { with_password(&u, pw, false) } else { u };
        (u, o.describe("REDIS_URL"), o)
    } else if let Some((ip, port, how)) = src.published("redis") {
        let source = match &server_pw {
            Some((_, o)) => format!("{how}, {}", o.describe("its password")),
            None => how,
        };
        let o = server_pw.as_ref().map(|(_, o)| *o).unwrap_or(Origin::Default);
        (with_password(&format!("redis://{ip}:{port}"), pw, false), source, o)
    } else {
        let base = roles::role("redis").map(|r| r.default_url).unwrap_or_default();
        let o = server_pw.as_ref().map(|(_, o)| *o).unwrap_or(Origin::Default);
        (with_password(base, pw, false), "default (REDIS_PASSWORD)".to_string(), o)
    };
    let route = route_for(&url, &src.containers());
    let (cred_origin, detail) = match (&server_pw, url_password(&url)) {
        (Some((_, o)), _) => (*o, o.describe("its password")),
        (None, Some(_)) => (origin, url_source.clone()),
        (None, None) => (Origin::Default, String::new()),
    };
    crate::config::register_url_password(&url);
    (RedisTarget { url, url_source, route }, cred_origin, detail)
}

fn http(src: &Sources, role: &roles::Role, flags: &Flags) -> HttpTarget {
    if role.key == "auth-service"
        && let Some(u) = flags.auth_url
    {
        return HttpTarget { url: u.to_string(), source: "--url".into() };
    }
    if let Some(u) = src.s.services.get(role.key).and_then(|p| p.url.clone()) {
        return HttpTarget { url: u, source: "doctor.toml".into() };
    }
    if let Some((ip, port, how)) = src.published(role.key) {
        return HttpTarget { url: format!("http://{ip}:{port}"), source: how };
    }
    let source = match src.found(role.key) {
        Some(f) => format!("default: {} publishes no port", f.facts.name),
        None => "default".to_string(),
    };
    HttpTarget { url: role.default_url.to_string(), source }
}

/// The role a service's URL variable points at: by scheme, by the container it names, by the
/// published host port `host.docker.internal:P` goes to, else by the stack's well-known ports.
pub fn role_of_url(scheme: &str, host: &str, port: u16, found: &[(&str, &ContainerFacts)]) -> Option<&'static str> {
    let key = |k: &str| roles::role(k).map(|r| r.key);
    if scheme.starts_with("postgres") {
        return key("postgres");
    }
    if scheme.starts_with("redis") {
        return key("redis");
    }
    let h = host.to_ascii_lowercase();
    let named = found.iter().find(|(_, c)| {
        c.name.eq_ignore_ascii_case(&h)
            || c.compose_service.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(&h))
            || c.networks
                .iter()
                .any(|n| n.ip.as_deref() == Some(h.as_str()) || n.aliases.iter().any(|a| a.eq_ignore_ascii_case(&h)))
    });
    if let Some((role, _)) = named {
        return key(role);
    }
    if let Some(r) = super::discover::role_named(&h) {
        return Some(r.key);
    }
    if (super::is_docker_host_alias(&h) || h == "localhost" || h.starts_with("127."))
        && let Some((role, _)) = found.iter().find(|(_, c)| c.ports.iter().any(|p| p.host_port == Some(port)))
    {
        return key(role);
    }
    ROLES.iter().find(|r| r.host_port == port && r.is_http()).map(|r| r.key)
}

/// Builds the targets and the printable model.
pub fn build(s: &Settings, flags: &Flags, engine: &EngineView, repo: &RepoEnv) -> Targets {
    let empty: Vec<Found> = Vec::new();
    let found: &[Found] = match engine {
        EngineView::Answered { found, .. } => found,
        _ => &empty,
    };
    let src = Sources { s, repo, found };
    let (pg, pg_origin, pg_detail) = postgres(&src, flags);
    let (rd, rd_origin, rd_detail) = redis(&src, flags);
    let mut http_targets = BTreeMap::new();
    for r in ROLES.iter().filter(|r| r.is_http()) {
        http_targets.insert(r.key.to_string(), http(&src, r, flags));
    }
    let pairs: Vec<(&str, &ContainerFacts)> = found.iter().map(|f| (f.role, f.facts)).collect();
    let layout = match engine {
        EngineView::Answered { layout, .. } => *layout,
        _ => None,
    };
    let mut members = Vec::new();
    for r in ROLES {
        let f = src.found(r.key);
        let (host_url, host_url_from, credentials_from, detail) = match r.kind {
            Kind::Postgres => (
                Some(routed(&pg.url, pg.route.as_ref())),
                from_text(&pg.url_source, pg.route.as_ref()),
                pg_origin,
                pg_detail.clone(),
            ),
            Kind::Redis => (
                Some(routed(&rd.url, rd.route.as_ref())),
                from_text(&rd.url_source, rd.route.as_ref()),
                rd_origin,
                rd_detail.clone(),
            ),
            Kind::Http { .. } => {
                let t = &http_targets[r.key];
                let login = (r.key == "auth-service" && s.var("DOCTOR_LOGIN_PASSWORD").is_some())
                    .then(|| src.global("DOCTOR_LOGIN_PASSWORD"))
                    .flatten();
                let (o, d) = match login {
                    Some((_, o)) => (o, o.describe("DOCTOR_LOGIN_USERNAME/PASSWORD")),
                    None => (Origin::Default, String::new()),
                };
                (Some(redact::url(&t.url)), t.source.clone(), o, d)
            }
        };
        let why = match (f, s.services.get(r.key).and_then(|p| p.container.as_ref()), engine) {
            (Some(_), _, _) => None,
            (None, _, EngineView::NotAsked(w)) | (None, _, EngineView::Unreachable(w)) => Some(w.clone()),
            (None, Some(pinned), _) => Some(format!("doctor.toml names {pinned:?}, and no container has that name")),
            (None, None, _) => Some(missing_why(r)),
        };
        members.push(Member {
            role: r.key.to_string(),
            container: f.map(|f| f.facts.name.clone()),
            found_by: f.map(|f| f.found_by.as_str().to_string()),
            compose_project: f.and_then(|f| f.facts.compose_project.clone()),
            compose_service: f.and_then(|f| f.facts.compose_service.clone()),
            working_dir: f.and_then(|f| f.facts.working_dir.clone()),
            running: f.map(|f| f.facts.running),
            host_url,
            host_url_from,
            container_url: container_url(r, f.map(|f| f.facts), &pairs, layout),
            credentials_from: credentials_from.kind().to_string(),
            credentials_detail: detail,
            why,
            also: f.map(|f| f.also.to_vec()).unwrap_or_default(),
            optional: r.optional,
        });
    }
    let pinned = found.iter().any(|f| f.found_by == FoundBy::Config);
    let weak = found.iter().any(|f| matches!(f.found_by, FoundBy::Image | FoundBy::Port));
    let layout_name = match (layout, found.is_empty()) {
        (_, true) => "none".to_string(),
        (Some(l), false) if !pinned && !weak => format!("{l:?}"),
        _ => "custom".to_string(),
    };
    let mut notes = repo.notes.clone();
    notes.extend(disagreements(&src));
    let mut env_files: Vec<String> =
        s.sources.iter().filter_map(|x| x.strip_prefix("variables from ").map(str::to_string)).collect();
    env_files.extend(repo.paths());
    let stack = Stack {
        schema: STACK_SCHEMA.into(),
        engine: match engine {
            EngineView::NotAsked(w) | EngineView::Unreachable(w) => w.clone(),
            EngineView::Answered { description, .. } => description.clone(),
        },
        engine_source: match &s.engine {
            Ok(e) => e.source.id().to_string(),
            Err(_) => "unusable".to_string(),
        },
        context: s.engine.as_ref().ok().and_then(|e| e.context.clone()),
        config_file: s.config_file.as_ref().map(|p| p.display().to_string()),
        config_via: s.config_via.map(str::to_string),
        away: None,
        layout: layout_name,
        services: members,
        env_files,
        notes,
    };
    let pools = pools(&src);
    Targets { postgres: pg, redis: rd, http: http_targets, stack, pools }
}

/// The roles whose SQLAlchemy pools share PostgreSQL (`06-database/02`, `04-mcp-server`).
pub const POOL_ROLES: [&str; 4] = ["auth-service", "user-api", "admin-api", "mcp"];

/// `POOL_SIZE`/`MAX_OVERFLOW` of each pooled role, from its container, else its `.env`.
fn pools(src: &Sources) -> BTreeMap<String, crate::facts::PoolSetting> {
    let mut out = BTreeMap::new();
    for role in POOL_ROLES {
        let [size, overflow] = crate::facts::POOL_VARS.map(|v| src.of_role(role, v).map(|(value, o)| (value, o, v)));
        if size.is_none() && overflow.is_none() {
            continue;
        }
        let source =
            [&size, &overflow].iter().filter_map(|x| x.as_ref()).map(|(_, o, v)| o.describe(v)).collect::<Vec<_>>();
        let number = |x: &Option<(String, Origin, &str)>| x.as_ref().and_then(|(v, _, _)| v.trim().parse().ok());
        out.insert(
            role.to_string(),
            crate::facts::PoolSetting {
                pool_size: number(&size),
                max_overflow: number(&overflow),
                source: source.join(", "),
            },
        );
    }
    out
}

/// Where a repository's `.env` and its running container disagree on a credential: the
/// container was created from other values (a stale file, or a container not recreated since).
fn disagreements(src: &Sources) -> Vec<String> {
    const VARS: &[&str] = &["DATABASE_URL", "REDIS_URL", "POSTGRES_PASSWORD", "POSTGRES_USER", "REDIS_PASSWORD"];
    let mut out = Vec::new();
    for f in src.found {
        for var in VARS {
            let (Some(live), Some((file, path))) = (f.env.get(*var), src.repo.get(f.role, var)) else { continue };
            if live != file {
                out.push(format!(
                    "{} differs between {} and the running container {} (fingerprints {} / {}): doctor uses the container's; `docker compose up -d` would recreate it with the file's",
                    var,
                    path.display(),
                    f.facts.name,
                    redact::fingerprint(file),
                    redact::fingerprint(live)
                ));
            }
        }
    }
    out
}

fn routed(url: &str, route: Option<&Route>) -> String {
    let shown = redact::url(url);
    match route {
        Some(r) => format!("{shown} (via {}:{})", r.host, r.port),
        None => shown,
    }
}

fn from_text(source: &str, route: Option<&Route>) -> String {
    match route {
        Some(r) => format!("{source}; {}", r.why),
        None => source.to_string(),
    }
}

fn missing_why(r: &roles::Role) -> String {
    let mut names: Vec<&str> = r.names.iter().map(|(n, _)| *n).collect();
    names.dedup();
    format!(
        "looked for {} (name or compose service{}) and port {}",
        names.join(", "),
        if r.projects.is_empty() { String::new() } else { format!(", project {}", r.projects.join(", ")) },
        r.host_port
    )
}

/// How the other containers reach a role: the first of their own variables that points at it,
/// else as its layout wires it.
fn container_url(
    r: &roles::Role,
    target: Option<&ContainerFacts>,
    found: &[(&str, &ContainerFacts)],
    layout: Option<Layout>,
) -> Option<String> {
    for (role, c) in found {
        if *role == r.key {
            continue;
        }
        for u in &c.urls {
            if role_of_url(&u.scheme, &u.host, u.port, found) == Some(r.key)
                && !crate::problems::engine::browser_side(&u.name)
            {
                return Some(format!("{}://{}:{}", u.scheme, u.host, u.port));
            }
        }
    }
    let t = target?;
    let scheme = match r.kind {
        Kind::Postgres => "postgresql",
        Kind::Redis => "redis",
        Kind::Http { .. } => "http",
    };
    if layout == Some(Layout::A) {
        return Some(format!("{scheme}://host.docker.internal:{}", r.host_port));
    }
    let port = t.ports.first().map(|p| p.container_port).unwrap_or(r.container_ports[r.container_ports.len() - 1]);
    let name = t.compose_service.clone().unwrap_or_else(|| t.name.clone());
    Some(format!("{scheme}://{name}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;
    use crate::probe::docker::{NetFacts, PortFacts, UrlVar};

    fn settings(env: &[(&str, &str)]) -> Settings {
        let dir = tempfile::tempdir().unwrap();
        let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::load(&Overrides::default(), &env, dir.path()).unwrap()
    }

    fn port(container: u16, host: u16) -> PortFacts {
        PortFacts {
            container_port: container,
            proto: "tcp".into(),
            host_ip: Some("0.0.0.0".into()),
            host_port: Some(host),
            from_host: None,
        }
    }

    fn container(name: &str, project: &str, service: &str, ports: Vec<PortFacts>) -> ContainerFacts {
        ContainerFacts {
            name: name.into(),
            compose_project: Some(project.into()),
            compose_service: Some(service.into()),
            networks: vec![NetFacts { name: format!("{project}_default"), aliases: vec![service.into()], ip: None }],
            ports,
            running: true,
            ..Default::default()
        }
    }

    /// The spec's layout A: each service's variables point at host.docker.internal.
    #[test]
    fn layout_a_with_no_configuration_takes_the_services_own_credentials() {
        let pg = container("ai-micro-postgres", "ai-micro-postgres", "postgres", vec![port(5432, 5432)]);
        let rd = container("ai-micro-redis", "ai-micro-redis", "redis", vec![port(6379, 6379)]);
        let mut auth = container("ai-micro-api-auth", "ai-micro-api-auth", "ai-micro-api-auth", vec![port(8000, 8002)]);
        auth.urls = vec![UrlVar {
            name: "DATABASE_URL".into(),
            scheme: "postgresql".into(),
            host: "host.docker.internal".into(),
            port: 5432,
            user: Some("postgres".into()),
            password_fingerprint: None,
        }];
        let fe = container("ai-micro-front-user", "ai-micro-front-user", "ai-micro-front-user", vec![port(3000, 3002)]);
        let pg_env: BTreeMap<String, String> = [("POSTGRES_PASSWORD".to_string(), "Server-Pw-1".to_string())].into();
        let auth_env: BTreeMap<String, String> = [
            (
                "DATABASE_URL".to_string(),
                "postgresql://postgres:Server-Pw-1@host.docker.internal:5432/authdb".to_string(),
            ),
            ("REDIS_URL".to_string(), "redis://host.docker.internal:6379".to_string()),
        ]
        .into();
        let no_env = BTreeMap::new();
        let args = vec!["redis-server".to_string(), "--requirepass".to_string(), "Redis-Pw-2".to_string()];
        let f = |role, facts, env, args: &'static [String]| Found {
            role,
            facts,
            env,
            args,
            found_by: FoundBy::ComposeService,
            also: &[],
        };
        let static_args: &'static [String] = Box::leak(args.into_boxed_slice());
        let found = vec![
            f("postgres", &pg, &pg_env, &[]),
            f("redis", &rd, &no_env, static_args),
            f("auth-service", &auth, &auth_env, &[]),
            f("user-frontend", &fe, &no_env, &[]),
        ];
        let engine = EngineView::Answered { description: "test engine".into(), found, layout: Some(Layout::A) };
        let t = build(&settings(&[]), &Flags::default(), &engine, &RepoEnv::default());
        assert_eq!(t.postgres.url, "postgresql://postgres:Server-Pw-1@host.docker.internal:5432/authdb");
        assert!(t.postgres.url_source.contains("ai-micro-api-auth"), "{}", t.postgres.url_source);
        let route = t.postgres.route.clone().unwrap();
        assert_eq!((route.host.as_str(), route.port), ("127.0.0.1", 5432));
        assert_eq!(
            t.postgres.admin_url.as_deref(),
            Some("postgresql://postgres:Server-Pw-1@host.docker.internal:5432/postgres")
        );
        assert_eq!(t.redis.url, "redis://:Redis-Pw-2@host.docker.internal:6379", "the password from --requirepass");
        assert_eq!(t.http_url("auth-service"), "http://127.0.0.1:8002");
        assert_eq!(t.http_url("user-frontend"), "http://127.0.0.1:3002");
        assert_eq!(t.http_url("user-api"), "http://localhost:8001", "not found: the default");
        let m = t.stack.member("postgres").unwrap();
        assert_eq!(m.credentials_from, "container-env");
        assert_eq!(m.container_url.as_deref(), Some("postgresql://host.docker.internal:5432"));
        assert_eq!(t.stack.member("auth-service").unwrap().host_url_from, "published port 0.0.0.0:8002->8000");
        assert_eq!(t.stack.layout, "A");
        let text = serde_json::to_string(&t.stack).unwrap();
        assert!(!text.contains("Server-Pw-1") && !text.contains("Redis-Pw-2"), "{text}");
        assert!(t.stack.member("user-api").unwrap().why.as_deref().unwrap().contains("ai-micro-api-user"));
    }

    #[test]
    fn flags_and_environment_stay_strongest() {
        let s = settings(&[("DATABASE_URL", "postgresql://app:x@db.example:5432/apidb"), ("REDIS_PASSWORD", "r/pw")]);
        let t = build(&s, &Flags::default(), &EngineView::NotAsked("--no-docker".into()), &RepoEnv::default());
        assert_eq!(t.postgres.url, "postgresql://app:x@db.example:5432/apidb");
        assert_eq!(t.postgres.url_source, "DATABASE_URL (environment)");
        assert_eq!(t.postgres.admin_url, None, "no superuser password known: no guess");
        assert_eq!(t.redis.url, "redis://:r%2Fpw@localhost:6379");
        assert_eq!(t.stack.layout, "none");
        let flags = Flags {
            pg_url: Some("postgresql://u@h/d"),
            pg_admin_url: Some("postgresql://postgres:a@h/postgres"),
            ..Default::default()
        };
        let t = build(&s, &flags, &EngineView::NotAsked("x".into()), &RepoEnv::default());
        assert_eq!((t.postgres.url_source.as_str(), t.postgres.admin_source.as_str()), ("--url", "--admin-url"));
        let s = settings(&[("POSTGRES_PASSWORD", "pg pw")]);
        let t = build(&s, &Flags::default(), &EngineView::NotAsked("x".into()), &RepoEnv::default());
        assert_eq!(t.postgres.url, "postgresql://postgres:pg%20pw@localhost:5432/authdb");
        assert_eq!(t.postgres.admin_url.as_deref(), Some("postgresql://postgres:pg%20pw@localhost:5432/postgres"));
    }

    #[test]
    fn urls_point_at_their_roles() {
        let auth = container("ai-micro-api-auth", "ai-micro-api-auth", "ai-micro-api-auth", vec![port(8000, 8002)]);
        let found = [("auth-service", &auth)];
        assert_eq!(role_of_url("http", "host.docker.internal", 8002, &found), Some("auth-service"));
        assert_eq!(role_of_url("http", "ai-micro-api-auth", 8000, &found), Some("auth-service"));
        assert_eq!(role_of_url("http", "user-service", 8001, &found), Some("user-api"));
        assert_eq!(role_of_url("postgresql", "anything", 1, &found), Some("postgres"));
        assert_eq!(role_of_url("http", "host.docker.internal", 11434, &found), None);
        assert_eq!(with_password("redis://h:1", Some("p w"), false), "redis://:p%20w@h:1");
        assert_eq!(with_password("postgresql://postgres@h/db", Some("x"), true), "postgresql://postgres:x@h/db");
        assert_eq!(with_password("postgresql://a:b@h/db", Some("x"), true), "postgresql://a:b@h/db");
    }
}
