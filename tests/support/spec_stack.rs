//! The stack as its specification lays it out, in the Docker lab: layout A (one compose project
//! per repository, the container named as the project, one default network each, services
//! reaching each other through `host.docker.internal` and the published ports, APIs on 8000
//! behind their host ports, frontends on 3000) or layout B (one compose file, one network,
//! services by name), with the spec's variables, schemas and keys, and one `.env` per
//! repository in a directory standing for `ai-micro-service/`. The HTTP services are the
//! fixture in `spec` mode. Container names and compose projects are global on the engine, so
//! a [`SpecStack`] holds the lab exclusively ([`super::lab::exclusive`]).
//!
//! ```ignore
//! let Some(stack) = SpecStack::start(Layout::A) else { return };
//! let out = stack.doctor(&["all", "--format", "json"]);   // from the directory above the repositories
//! stack.recreate("user-api", |spec| spec.add_hosts.clear());  // a fault, the same host port
//! ```

use super::lab::{ContainerSpec, Exclusive, Image, Lab, exclusive, host_psql, host_redis_cli, image};
use super::{Output, doctor, run};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tempfile::TempDir;

pub const PG_PASSWORD: &str = "Spec-Pg-Secret-3f9a";
pub const REDIS_PASSWORD: &str = "Spec-Redis-Secret-71c2";
pub const LOGIN_EMAIL: &str = "test@example.com";
pub const LOGIN_PASSWORD: &str = "testpass";
pub const USER_ID: &str = "7f3a1c9d-2b4e-4f6a-9c8d-1e2f3a4b5c6d";
pub const ISSUER: &str = "https://auth.example.com";
pub const AUDIENCE: &str = "fastapi-api";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    A,
    B,
}

/// One service of the stack as the lab runs it.
struct Role {
    /// doctor's role name.
    role: &'static str,
    container: String,
    project: String,
    service: String,
    /// The repository directory under the root (layout A), or the root (B).
    dir: PathBuf,
    inner_port: u16,
}

pub struct SpecStack {
    pub lab: Lab,
    pub layout: Layout,
    /// The directory above the repositories (`ai-micro-service/`).
    pub root: TempDir,
    roles: Vec<Role>,
    specs: Mutex<BTreeMap<&'static str, ContainerSpec>>,
    _hold: Exclusive,
}

/// (role, layout A container = project, A compose service, B service, port inside in A, in B)
const ROLES: &[(&str, &str, &str, &str, u16, u16)] = &[
    ("postgres", "ai-micro-postgres", "postgres", "postgres", 5432, 5432),
    ("redis", "ai-micro-redis", "redis", "redis", 6379, 6379),
    ("auth-service", "ai-micro-api-auth", "ai-micro-api-auth", "auth-service", 8000, 8002),
    ("user-api", "ai-micro-api-user", "ai-micro-api-user", "user-service", 8000, 8001),
    ("admin-api", "ai-micro-api-admin", "ai-micro-admin-api", "admin-service", 8000, 8003),
    ("user-frontend", "ai-micro-front-user", "ai-micro-front-user", "user-frontend", 3000, 3000),
    ("admin-frontend", "ai-micro-front-admin", "ai-micro-front-admin", "admin-frontend", 3000, 3000),
];

impl SpecStack {
    /// Starts the whole stack healthy (about 10 s), or `None` without an engine (a panic in CI).
    pub fn start(layout: Layout) -> Option<SpecStack> {
        let hold = exclusive();
        let lab = Lab::new()?;
        let root = tempfile::Builder::new().prefix("ai-micro-service-").tempdir().unwrap();
        let roles: Vec<Role> = ROLES
            .iter()
            .map(|(role, a_name, a_service, b_service, a_port, b_port)| match layout {
                Layout::A => Role {
                    role,
                    container: a_name.to_string(),
                    project: a_name.to_string(),
                    service: a_service.to_string(),
                    dir: root.path().join(a_name),
                    inner_port: *a_port,
                },
                Layout::B => Role {
                    role,
                    container: format!("ai-micro-service-{b_service}-1"),
                    project: "ai-micro-service".into(),
                    service: b_service.to_string(),
                    dir: root.path().to_path_buf(),
                    inner_port: *b_port,
                },
            })
            .collect();
        let stack = SpecStack { lab, layout, root, roles, specs: Mutex::new(BTreeMap::new()), _hold: hold };
        stack.start_stores();
        stack.start_services();
        Some(stack)
    }

    fn role(&self, role: &str) -> &Role {
        self.roles.iter().find(|r| r.role == role).unwrap_or_else(|| panic!("no role {role}"))
    }

    /// The container's name (`ai-micro-api-auth`, `ai-micro-service-auth-service-1`).
    pub fn container(&self, role: &str) -> String {
        self.role(role).container.clone()
    }

    /// The host port a role is published on.
    pub fn host_port(&self, role: &str) -> u16 {
        let r = self.role(role);
        self.lab.published_port(&r.container, r.inner_port)
    }

    /// How the other containers reach a role, as the layout wires it.
    fn url(&self, role: &str, scheme: &str) -> String {
        let r = self.role(role);
        match self.layout {
            Layout::A => format!("{scheme}://host.docker.internal:{}", self.host_port(role)),
            Layout::B => format!("{scheme}://{}:{}", r.service, r.inner_port),
        }
    }

    fn base_spec(&self, role: &str, image_kind: Image) -> ContainerSpec {
        let r = self.role(role);
        let network = match self.layout {
            Layout::A => format!("{}_default", r.project),
            Layout::B => "ai-micro-service_default".into(),
        };
        ContainerSpec {
            name: r.container.clone(),
            exact_name: true,
            image: image(image_kind),
            networks: vec![(network, vec![r.service.clone()])],
            publish: vec![format!("0.0.0.0:0:{}", r.inner_port)],
            labels: vec![
                ("com.docker.compose.project".into(), r.project.clone()),
                ("com.docker.compose.service".into(), r.service.clone()),
                ("com.docker.compose.project.working_dir".into(), r.dir.display().to_string()),
            ],
            add_hosts: match self.layout {
                Layout::A => vec!["host.docker.internal:host-gateway".into()],
                Layout::B => vec![],
            },
            // The spec's compose files cap every service's logs (11-operations/04-logging.md).
            log_driver: Some("json-file".into()),
            log_opts: vec!["max-size=10m".into(), "max-file=3".into()],
            ..Default::default()
        }
    }

    fn run_role(&self, role: &'static str, spec: ContainerSpec) {
        self.lab.run(spec.clone());
        self.specs.lock().unwrap().insert(role, spec);
    }

    /// A repository's `.env` (layout A), or the root's (B, merged).
    fn write_env(&self, role: &str, file: &str, vars: &[(&str, String)]) {
        let r = self.role(role);
        std::fs::create_dir_all(&r.dir).unwrap();
        let path = r.dir.join(file);
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        for (k, v) in vars {
            if !text.lines().any(|l| l.starts_with(&format!("{k}="))) {
                text.push_str(&format!("{k}={v}\n"));
            }
        }
        std::fs::write(path, text).unwrap();
    }

    fn start_stores(&self) {
        let mut pg = self.base_spec("postgres", Image::Postgres);
        pg.env = vec![
            ("POSTGRES_USER".into(), "postgres".into()),
            ("POSTGRES_PASSWORD".into(), PG_PASSWORD.into()),
            ("POSTGRES_DB".into(), "authdb".into()),
        ];
        self.run_role("postgres", pg);
        self.write_env(
            "postgres",
            ".env",
            &[("POSTGRES_USER", "postgres".into()), ("POSTGRES_PASSWORD", PG_PASSWORD.into())],
        );
        let mut rd = self.base_spec("redis", Image::Redis);
        rd.env = vec![("REDIS_PASSWORD".into(), REDIS_PASSWORD.into())];
        rd.cmd = [
            "--maxmemory",
            "512mb",
            "--maxmemory-policy",
            "volatile-ttl",
            "--save",
            "900 1 300 10 60 10000",
            "--appendonly",
            "no",
        ]
        .map(String::from)
        .to_vec();
        self.run_role("redis", rd);
        self.write_env("redis", ".env", &[("REDIS_PASSWORD", REDIS_PASSWORD.into())]);

        let pg_name = self.container("postgres");
        self.lab.wait_pg_ready(&pg_name);
        let port = self.host_port("postgres");
        let psql = |db: &str, sql: &str| {
            host_psql(port, "postgres", PG_PASSWORD, db, sql).unwrap_or_else(|e| panic!("psql {db}: {e}"))
        };
        psql("authdb", "CREATE DATABASE apidb");
        psql("authdb", "CREATE DATABASE admindb");
        // The implemented schemas (06-database/04, 05, 06; alembic 001): no refresh_tokens table.
        psql(
            "authdb",
            &format!(
                "CREATE TABLE users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text UNIQUE NOT NULL, \
                 password_hash text NOT NULL, roles text[] DEFAULT ARRAY['user'], created_at timestamptz DEFAULT now(), \
                 updated_at timestamptz DEFAULT now(), is_active boolean DEFAULT true, login_attempts int DEFAULT 0, \
                 last_login_at timestamptz, locked_until timestamptz); \
                 CREATE INDEX idx_users_email ON users (email); \
                 INSERT INTO users (id, email, password_hash) VALUES ('{USER_ID}', '{LOGIN_EMAIL}', '$2b$12$x'), \
                 (gen_random_uuid(), 'inactive@example.com', '$2b$12$y'); \
                 UPDATE users SET is_active = false WHERE email = 'inactive@example.com'; ANALYZE users;"
            ),
        );
        psql(
            "apidb",
            &format!(
                "CREATE TABLE profiles (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id uuid UNIQUE NOT NULL, \
                 name text, first_name text, last_name text, address text, phone text, \
                 created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now()); \
                 CREATE INDEX idx_profiles_user_id ON profiles (user_id); \
                 INSERT INTO profiles (user_id, first_name, last_name) VALUES ('{USER_ID}', 'Test', 'User'); ANALYZE profiles;"
            ),
        );
        psql(
            "admindb",
            "CREATE TABLE documents (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), knowledge_base_id uuid, \
             filename text, original_filename text, file_path text, mime_type text, file_size bigint, \
             status varchar(20) NOT NULL DEFAULT 'uploaded', user_id uuid, created_at timestamptz DEFAULT now(), \
             updated_at timestamptz DEFAULT now()); \
             INSERT INTO documents (filename, status) VALUES ('a.pdf', 'completed'), ('b.pdf', 'completed'); ANALYZE documents;",
        );

        self.lab.wait_redis_ready(&self.container("redis"));
        let rport = self.host_port("redis");
        let cli = |args: &[&str]| {
            host_redis_cli(rport, Some(REDIS_PASSWORD), args).unwrap_or_else(|e| panic!("redis-cli: {e}"))
        };
        // The spec's key families (07-redis/02), every one with its TTL.
        let session =
            format!(r#"{{"user_id":"{USER_ID}","session_id":"sess-7f3d9a1b","created_at":"2025-09-30T12:00:00Z"}}"#);
        cli(&["SET", &format!("session:{USER_ID}:sess-7f3d9a1b"), &session, "EX", "3600"]);
        cli(&["SET", "blacklist:access:0f1e2d3c", "true", "EX", "900"]);
        let cache = format!(
            r#"{{"user_id":"{USER_ID}","first_name":"Test","last_name":"User","cached_at":"2025-09-30T12:00:00Z"}}"#
        );
        cli(&["SET", &format!("cache:profile:{USER_ID}"), &cache, "EX", "300"]);
        cli(&["SET", "rate:login:172.17.0.1:2025093012", "1", "EX", "3600"]);
        cli(&["SET", "job:status:doc-ocr-1", r#"{"status":"completed","progress":100}"#, "EX", "86400"]);
        // A busy day's traffic: every authenticated request asks the access blacklist (a miss
        // by design), the profile cache mostly hits. The global hit rate is far below 80 %, the
        // cache's is not.
        cli(&["-r", "4000", "EXISTS", "blacklist:access:not-revoked-jti"]);
        cli(&["-r", "3000", "GET", &format!("cache:profile:{USER_ID}")]);
        cli(&["-r", "100", "GET", "cache:profile:00000000-0000-0000-0000-000000000000"]);
    }

    fn pg_url(&self, db: &str) -> String {
        format!("postgresql://postgres:{PG_PASSWORD}@{}/{db}", self.url("postgres", "x").trim_start_matches("x://"))
    }

    fn redis_url(&self) -> String {
        format!("redis://:{REDIS_PASSWORD}@{}", self.url("redis", "x").trim_start_matches("x://"))
    }

    fn fixture(&self, role: &'static str, modes: &str, env: Vec<(&str, String)>) -> ContainerSpec {
        let r = self.role(role);
        let mut spec = self.base_spec(role, Image::Fixture);
        spec.env = vec![
            ("FIXTURE_LISTEN".into(), format!("0.0.0.0:{}", r.inner_port)),
            ("FIXTURE_MODES".into(), modes.into()),
            ("PORT".into(), r.inner_port.to_string()),
            ("LOG_LEVEL".into(), "INFO".into()),
        ];
        spec.env.extend(env.into_iter().map(|(k, v)| (k.to_string(), v)));
        spec
    }

    fn start_services(&self) {
        let tokens = [
            ("ACCESS_TOKEN_TTL_SEC", "900".to_string()),
            ("REFRESH_TOKEN_TTL_SEC", "2592000".to_string()),
            ("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "15".to_string()),
            ("JWT_REFRESH_TOKEN_EXPIRE_DAYS", "7".to_string()),
        ];
        let mut auth_env = vec![
            ("DATABASE_URL", self.pg_url("authdb")),
            ("REDIS_URL", self.redis_url()),
            ("JWT_ISS", ISSUER.to_string()),
            ("JWT_AUD", AUDIENCE.to_string()),
            ("JWT_ALGORITHM", "RS256".to_string()),
        ];
        auth_env.extend(tokens.iter().cloned());
        self.write_env("auth-service", ".env", &auth_env);
        self.run_role("auth-service", self.fixture("auth-service", "spec,role=auth", auth_env));
        let jwks = format!("{}/.well-known/jwks.json", self.url("auth-service", "http"));
        let user_env = vec![
            ("DATABASE_URL", self.pg_url("apidb")),
            ("REDIS_URL", self.redis_url()),
            ("JWKS_URL", jwks.clone()),
            ("AUTH_SERVICE_URL", self.url("auth-service", "http")),
            ("JWT_ISS", ISSUER.to_string()),
            ("JWT_AUD", AUDIENCE.to_string()),
            ("PROFILE_CACHE_TTL_SEC", "300".to_string()),
        ];
        self.write_env("user-api", ".env", &user_env);
        self.run_role("user-api", self.fixture("user-api", "spec,role=user-api", user_env));
        let admin_env = vec![
            ("DATABASE_URL", self.pg_url("admindb")),
            ("REDIS_URL", self.redis_url()),
            ("JWKS_URL", jwks),
            ("AUTH_SERVICE_URL", self.url("auth-service", "http")),
            ("API_SERVICE_URL", self.url("user-api", "http")),
            ("JWT_ISSUER", ISSUER.to_string()),
            ("JWT_AUDIENCE", AUDIENCE.to_string()),
            ("EASYOCR_MODULE_PATH", "/tmp/.easyocr_models".to_string()),
            ("DOCLING_CACHE_DIR", "/tmp/.docling_cache".to_string()),
        ];
        self.write_env("admin-api", ".env", &admin_env);
        self.run_role("admin-api", self.fixture("admin-api", "spec,role=admin-api", admin_env));
        for (role, api) in [("user-frontend", "user-api"), ("admin-frontend", "admin-api")] {
            let self_port = if role == "user-frontend" { 3002 } else { 3003 };
            let env = vec![
                ("AUTH_SERVER_URL", self.url("auth-service", "http")),
                // The admin frontend's API_SERVER_URL points at user-api too (05-admin-frontend/01).
                ("API_SERVER_URL", self.url("user-api", "http")),
                ("ADMIN_API_URL", self.url(api, "http")),
                ("ACCESS_TOKEN_COOKIE_NAME", "access_token".to_string()),
                ("REFRESH_TOKEN_COOKIE_NAME", "refresh_token".to_string()),
                ("ACCESS_TOKEN_TTL_SEC", "900".to_string()),
                ("NEXTAUTH_URL", format!("http://localhost:{self_port}")),
                ("NODE_ENV", "development".to_string()),
            ];
            self.write_env(role, ".env.local", &env);
            self.run_role(role, self.fixture(role, "spec,role=bff", env));
        }
        for r in &self.roles[2..] {
            self.lab.wait_log(&r.container, "listening on");
        }
    }

    /// Removes a role's container and starts it again with `tweak` applied to how it was
    /// started, on the same host port (unless `tweak` changes `publish`).
    pub fn recreate(&self, role: &str, tweak: impl FnOnce(&mut ContainerSpec)) {
        let r = self.role(role);
        let port = self.lab.try_published_port(&r.container, r.inner_port).unwrap_or(0);
        let mut spec = self.specs.lock().unwrap().get(role).cloned().unwrap_or_else(|| panic!("{role} not started"));
        spec.publish = vec![format!("0.0.0.0:{port}:{}", r.inner_port)];
        tweak(&mut spec);
        self.lab.remove(&r.container);
        self.lab.run(spec.clone());
        if r.inner_port != 5432 && r.inner_port != 6379 {
            self.lab.wait_log(&r.container, "listening on");
        }
        if let Some(slot) = self.specs.lock().unwrap().get_mut(role) {
            *slot = spec;
        }
    }

    /// doctor with no configuration and no variables, run from the directory above the
    /// repositories.
    pub fn doctor(&self, args: &[&str]) -> Output {
        self.doctor_env(args, &[])
    }

    pub fn doctor_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let (mut cmd, _dir) = doctor();
        cmd.current_dir(self.root.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(cmd.args(args))
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The secrets of this stack, none of which may appear in any output.
    pub fn secrets() -> [&'static str; 3] {
        [PG_PASSWORD, REDIS_PASSWORD, LOGIN_PASSWORD]
    }
}
