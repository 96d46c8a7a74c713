//! What a run gathered, as one serializable value: the input of every diagnosis, what
//! `--dump-facts` writes and `--facts` replays. Probes fill it; nothing in it is a secret.

use crate::catalogue::Area;
use crate::probe::auth::AuthFacts;
use crate::probe::docker::DockerFacts;
use crate::probe::postgres::PgFacts;
use crate::probe::redis::RedisFacts;
use crate::probe::web::WebFacts;
use crate::stack::Stack;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const FACTS_SCHEMA: &str = "doctor.facts/v1";

/// The fact types of each probe, as diagnosis sees them: problems import these, never
/// `crate::probe` (a test holds that), so that a diagnosis cannot reach a probe's I/O.
/// The types are defined beside the probe that fills them, and only re-exported here.
pub mod of {
    pub mod auth {
        pub use crate::probe::auth::{
            AUTH_HEALTH_PATHS, AuthFacts, LOGIN_PATHS, LoginFacts, SERVICES_LEEWAY_S, TokenFacts,
        };
    }
    pub mod docker {
        pub use crate::probe::docker::{
            ContainerFacts, ContainerLookup, DEFAULT_HOST, DockerError, DockerErrorKind, DockerFacts, Engine,
            EngineSource, EnvVar, HealthFacts, Listener, LogFacts, MountFacts, NetFacts, PortFacts, StatsFacts, UrlVar,
        };
        pub use crate::probe::docker::{
            DiskUsage, EngineDisk, LOCAL_DEFAULT_MAX_FILE, LOCAL_DEFAULT_MAX_SIZE, LogVolume, Space, VolumeDisk,
        };
    }
    pub mod docker_events {
        pub use crate::probe::docker_events::{
            ACTIONS, EngineEvent, EventLog, ExitEvents, LOOKBACK_S, Logged, OomEvents, keep_stack,
        };
    }
    pub mod seen_containers {
        pub use crate::probe::seen_containers::Previous;
    }
    pub mod health {
        pub use crate::probe::health::{HealthBody, HealthFacts};
    }
    pub mod http {
        pub use crate::probe::http::{BODY_CAP, CookieFacts, HttpError, HttpErrorKind, HttpFacts};
    }
    pub mod inside {
        pub use crate::probe::inside::{
            DOCLING_CACHE, DiskFacts, EASYOCR_MODELS, FileEntry, InsideFacts, KEYS_DIR, ModelCache, UPLOADS_DIR,
        };
    }
    pub mod memory_sample {
        pub use crate::probe::memory_sample::MemorySeries;
    }
    pub mod pg_app {
        pub use crate::probe::pg_app::{
            ADMIN_DB, API_DB, AUTH_DB, DocStatus, PendingDoc, PgAppFacts, ProfileRow, RefreshRows, TokenRow, UserLock,
        };
    }
    pub mod postgres {
        pub use crate::probe::postgres::{
            APPLICATION_NAME, Conn, Connected, DbStat, KeyIndex, PgError, PgErrorKind, PgFacts, ServerFacts, Session,
            Statement, Statements, TableStat,
        };
    }
    pub mod redis {
        pub use crate::probe::redis::{
            BigKeys, KeySize, Keyspace, RedisConn, RedisError, RedisErrorKind, RedisFacts, RedisInfo, TypeTotal,
        };
    }
    pub mod redis_app {
        pub use crate::probe::redis::families::{
            CacheCounters, DOCUMENT_QUEUE, FAMILIES, Families, JOB_STATUS, REFRESH, family_of,
        };
        pub use crate::probe::redis::refresh_session::{KeyState, RefreshSession};
        pub use crate::probe::redis_app::{
            CachedProfile, KeyFamily, LOGIN_LIMIT_KEYS, LimitKey, LimitKind, Persistence, PersistenceInfo,
            REFRESH_PATTERN, RedisAppFacts, TokenKey, TokenKeySearch,
        };
    }
    pub mod routes {
        pub use crate::probe::routes::{PathStatus, RouteFacts};
    }
    pub mod web {
        pub use crate::probe::web::{
            API_HEALTH_PATHS, API_PROFILE_PATHS, ApiFacts, BFF_HEALTH_PATHS, BFF_LOGIN_PATH, BFF_PROFILE_PATHS,
            FrontendFacts, MetricsFacts, PrometheusFacts, WebFacts,
        };
    }
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
    /// `--refresh-token`, decoded here (never the token: its times, type and identifiers as
    /// fingerprints), so that a replay judges its expiry as the run did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<crate::jwt::RefreshTokenFacts>,
    /// The run's `--timeout` in milliseconds, so that silence under a too-short one is judged
    /// as such in a replay too (0: not recorded).
    #[serde(default)]
    pub timeout_ms: u64,
    /// `--user-id`, so that a replay reads the same profile evidence.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The stack's settings diagnosis reads from variables (the expected token issuer and
    /// audience, an upload limit), with where each came from, so that a replay judges them as
    /// the run did. Never a secret: only the names in [`SETTING_VARS`] are kept.
    #[serde(default)]
    pub settings: BTreeMap<String, Setting>,
    /// Each API's SQLAlchemy pool as its own variables set it ([`POOL_VARS`]: its running
    /// container's environment, else its repository's `.env`), by role; only roles that set
    /// one. Pool numbers are not secrets; no other value of those sources is kept.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pools: BTreeMap<String, PoolSetting>,
}

/// The pool variables of the spec (`06-database/02`: `POOL_SIZE=20`, `MAX_OVERFLOW=10`).
pub const POOL_VARS: [&str; 2] = ["POOL_SIZE", "MAX_OVERFLOW"];

/// One service's pool as its variables say; a variable unset (or not a number) is None.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolSetting {
    pub pool_size: Option<u32>,
    pub max_overflow: Option<u32>,
    /// Where they came from (`POOL_SIZE of ai-micro-api-auth (container environment)`).
    pub source: String,
}

/// A variable's value and where it came from (`JWT_ISS (environment)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    pub value: String,
    pub source: String,
}

/// The variables whose values diagnosis reads (none of them a secret).
pub const SETTING_VARS: &[&str] = &["JWT_ISS", "JWT_ISSUER", "JWT_AUD", "JWT_AUDIENCE", "MAX_FILE_SIZE"];

impl Facts {
    /// A setting as the `vars` lookups of diagnosis take it: (value, source).
    pub fn setting(&self, name: &str) -> Option<(String, String)> {
        self.settings.get(name).map(|s| (s.value.clone(), s.source.clone()))
    }
}
