//! PostgreSQL evidence: one application connection (the URL the services use) and, when a
//! superuser is configured, one admin connection to the `postgres` database, which still gets
//! in through the reserved slots when normal ones are full. Both are opened at once; queries on
//! each connection are pipelined; everything ends at one deadline. Only `SELECT`s are sent, and
//! each session is marked read-only before anything else.

use super::pg_app::{self, PgAppFacts, PgAppRequest};
use super::{Resolution, Timing, ms, until};
use crate::redact;
use crate::urls::{self, PgUrl, SslMode, UrlProblem};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;
use tokio_postgres::Client;

/// What the probe needs: where to connect and how long it may take.
#[derive(Debug, Clone)]
pub struct PgProbeConfig {
    pub url: String,
    pub url_source: String,
    pub admin_url: Option<String>,
    pub admin_source: String,
    /// Where the URL's host is from this host, when the URL was written for the containers
    /// (`host.docker.internal`, a compose service): connect there instead, and say so.
    pub route: Option<crate::stack::Route>,
    pub timeout: Duration,
    /// Rows of the stack's own tables that the auth and API checks read.
    pub app: PgAppRequest,
    /// Only `app` is wanted (no PostgreSQL check runs): skip the server-wide reads.
    pub app_only: bool,
    /// The services' own credential (a running container's `DATABASE_URL`, else the postgres
    /// container's `POSTGRES_USER`/`POSTGRES_PASSWORD`), tried only when the server refuses
    /// doctor's own password: it tells a stale `.env` of the operator from a server that
    /// refuses the stack.
    pub stack_credential: Option<StackCredential>,
}

/// A user and password the stack's services use, and where doctor read them.
#[derive(Clone, PartialEq)]
pub struct StackCredential {
    pub user: String,
    pub password: String,
    pub source: String,
}

impl std::fmt::Debug for StackCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StackCredential {{ user: {:?}, password: {:?}, source: {:?} }}",
            self.user,
            redact::MASK,
            self.source
        )
    }
}

/// The second login, with the services' own credential, after doctor's own was refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackLogin {
    /// Where the credential is from (`DATABASE_URL of auth-service (container environment)`).
    pub source: String,
    pub password_fingerprint: String,
    pub conn: Conn,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PgErrorKind {
    Refused,
    Timeout,
    NameNotResolved,
    Reset,
    TlsUnsupported,
    TlsFailed,
    WrongPassword,
    PasswordMissing,
    HbaRejected,
    DatabaseMissing,
    TooManyClients,
    NotAcceptingConnections,
    Protocol,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PgError {
    pub kind: PgErrorKind,
    pub sqlstate: Option<String>,
    /// The server's or the client library's message, redacted.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conn {
    pub user: String,
    pub db: String,
    pub address: String,
    pub latency_ms: u64,
    pub result: Result<Connected, PgError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connected {
    pub superuser: bool,
    pub server_version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerFacts {
    pub max_connections: i64,
    pub superuser_reserved_connections: i64,
    /// `reserved_connections` (PostgreSQL 16+); 0 before.
    pub reserved_connections: i64,
    pub idle_in_transaction_session_timeout_ms: i64,
    pub idle_session_timeout_ms: Option<i64>,
    pub statement_timeout_ms: i64,
    pub uptime_s: f64,
    pub version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub pid: i32,
    pub datname: Option<String>,
    pub usename: Option<String>,
    pub application_name: Option<String>,
    pub client_addr: Option<String>,
    /// `None` when the doctor's role may not see other users' sessions in detail.
    pub state: Option<String>,
    pub superuser: bool,
    pub backend_age_s: Option<f64>,
    pub state_age_s: Option<f64>,
    pub query_age_s: Option<f64>,
    pub xact_age_s: Option<f64>,
    pub wait_event: Option<String>,
    /// Query text with literals blanked and secrets removed, cut to 300 characters.
    pub query: Option<String>,
    /// While it waits on a lock: the sessions holding it (`pg_blocking_pids`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DbStat {
    pub datname: String,
    pub sessions_abandoned: i64,
    pub sessions_fatal: i64,
    pub sessions_killed: i64,
    /// Seconds since `pg_stat_database.stats_reset`: the window the counters cover. None when
    /// they were never reset (they then run since the database's statistics began).
    #[serde(default)]
    pub stats_reset_age_s: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableStat {
    pub name: String,
    pub live_rows: i64,
    pub modified_since_analyze: i64,
    pub seq_scan: i64,
    pub seq_tup_read: i64,
    pub idx_scan: i64,
    /// Seconds since the last manual or automatic ANALYZE; `None` when never analysed.
    pub analyzed_age_s: Option<f64>,
    pub size_bytes: i64,
}

/// Whether a column the runbook names (`users.email`, `profiles.user_id`) leads an index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyIndex {
    /// The database it was read in (older facts files lack it).
    #[serde(default)]
    pub db: Option<String>,
    pub table: String,
    pub column: String,
    pub indexed: bool,
}

/// [`KEY_INDEXES`]'s rows, tagged with the database they come from.
pub(super) fn key_indexes_from(rows: &[tokio_postgres::Row], db: &str) -> Vec<KeyIndex> {
    rows.iter()
        .map(|r| KeyIndex {
            db: Some(db.to_string()),
            table: r.try_get(0).unwrap_or_default(),
            column: r.try_get(1).unwrap_or_default(),
            indexed: r.try_get(2).unwrap_or(false),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum Statements {
    NotInstalled,
    NotLoaded,
    Top { rows: Vec<Statement> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub query: String,
    pub calls: i64,
    pub mean_ms: f64,
    pub total_ms: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PgFacts {
    pub target: String,
    /// The application URL, password masked, and where it came from.
    pub url: String,
    pub url_source: String,
    pub url_problem: Option<UrlProblem>,
    pub url_notes: Vec<UrlProblem>,
    pub resolution: Option<Resolution>,
    /// Set when the URL's host is a container name that does not resolve here and the
    /// published port on this host was used instead.
    pub reached_via: Option<String>,
    pub app: Option<Conn>,
    /// `None` when no superuser connection is configured.
    pub admin: Option<Conn>,
    pub server: Option<ServerFacts>,
    pub sessions: Option<Vec<Session>>,
    /// Which connection read `pg_stat_activity`: "admin" or "app".
    pub sessions_seen_by: Option<String>,
    pub databases: Option<Vec<String>>,
    pub db_stats: Option<Vec<DbStat>>,
    pub tables: Option<Vec<TableStat>>,
    pub key_indexes: Option<Vec<KeyIndex>>,
    pub statements: Option<Statements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_data: Option<PgAppFacts>,
    /// The fingerprint of the password doctor sent on the application connection (none sent:
    /// `None`), to compare with the services' own by fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_fingerprint: Option<String>,
    /// Set when doctor's own password was refused and the services' own credential was tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_login: Option<StackLogin>,
    /// Queries that failed, with why (redacted).
    pub query_errors: Vec<String>,
    pub timings: Vec<Timing>,
}

impl PgFacts {
    pub fn app_connected(&self) -> bool {
        matches!(&self.app, Some(Conn { result: Ok(_), .. }))
    }
    pub fn admin_connected(&self) -> bool {
        matches!(&self.admin, Some(Conn { result: Ok(_), .. }))
    }
    pub fn app_error(&self) -> Option<&PgError> {
        self.app.as_ref().and_then(|c| c.result.as_ref().err())
    }
}

/// The application-name doctor connects with; its own sessions are left out of every count.
pub const APPLICATION_NAME: &str = "doctor";

pub async fn gather(cfg: &PgProbeConfig) -> PgFacts {
    let deadline = Instant::now() + cfg.timeout;
    let mut facts = PgFacts {
        url: redact::url(&cfg.url),
        url_source: cfg.url_source.clone(),
        target: "postgres".into(),
        ..Default::default()
    };
    let app_url = match urls::parse_postgres(&cfg.url) {
        Ok(u) => Some(u),
        Err(p) => {
            facts.url_problem = Some(p);
            None
        }
    };
    let mut admin_url = match &cfg.admin_url {
        Some(a) => match urls::parse_postgres(a) {
            Ok(u) => Some(u),
            Err(p) => {
                // The probe's error log is in English, as the servers' own messages are.
                let why = p.text.render(crate::lang::Lang::En);
                facts.query_errors.push(format!("admin URL ({}): {why}", cfg.admin_source));
                None
            }
        },
        None => None,
    };
    let Some(app_url) = app_url else {
        // Without a usable application URL only an explicitly given admin URL is tried.
        if let Some(a) = admin_url {
            facts.target = format!("postgres@{}:{}", a.host, a.port);
            let (conn, client) = connect(&a, None, deadline, &mut facts.timings, "admin").await;
            facts.admin = Some(conn);
            if let Some(c) = client {
                read_cluster(&c, &mut facts, deadline, "admin").await;
            }
        }
        return facts;
    };
    facts.url_notes = app_url.notes.clone();
    facts.target = format!("postgres@{}:{}/{}", app_url.host, app_url.port, app_url.dbname);
    facts.password_fingerprint = app_url.password.as_deref().map(redact::fingerprint);

    let mut app_url = app_url;
    let mut host_override = None;
    if let Some(r) = &cfg.route {
        // Written for the containers: reach it through where it is published on this host.
        let (host, port) = (app_url.host.clone(), app_url.port);
        if let Some(a) = admin_url.as_mut().filter(|a| a.host == host && a.port == port) {
            a.host = r.host.clone();
            a.port = r.port;
        }
        app_url.host = r.host.clone();
        app_url.port = r.port;
        facts.reached_via = Some(format!("{}:{} ({})", r.host, r.port, r.why));
    } else {
        // A container name that does not resolve here: try the port published on this host.
        let (resolution, local) =
            super::resolve_or_local(&app_url.host, app_url.port, deadline, &mut facts.timings).await;
        if local {
            host_override = Some("127.0.0.1".to_string());
            facts.reached_via = Some(format!("127.0.0.1:{}", app_url.port));
            if let Some(a) = admin_url.as_mut().filter(|a| a.host == app_url.host) {
                a.host = "127.0.0.1".into();
            }
        }
        facts.resolution = Some(resolution);
    }

    let ((app_conn, app_client), (admin_conn, admin_client)) = {
        let mut t1 = Vec::new();
        let mut t2 = Vec::new();
        let app_fut = connect(&app_url, host_override.as_deref(), deadline, &mut t1, "app");
        let admin_fut = async {
            match admin_url.as_ref().filter(|_| !cfg.app_only) {
                Some(a) => {
                    let (c, cl) = connect(a, None, deadline, &mut t2, "admin").await;
                    (Some(c), cl)
                }
                None => (None, None),
            }
        };
        let r = tokio::join!(app_fut, admin_fut);
        facts.timings.extend(t1);
        facts.timings.extend(t2);
        r
    };
    facts.app = Some(app_conn);
    facts.admin = admin_conn;
    if let Some(login) = stack_login(cfg, &app_url, &facts, host_override.as_deref(), deadline).await {
        facts.timings.push(Timing {
            step: "connect stack".into(),
            ms: login.conn.latency_ms,
            ok: login.conn.result.is_ok(),
        });
        facts.stack_login = Some(login);
    }

    // Cluster-wide views from the admin connection when there is one; per-database views
    // from the application connection (they describe the database the services use).
    let cluster_client = admin_client.as_ref().or(app_client.as_ref());
    let seen_by = if admin_client.is_some() { "admin" } else { "app" };
    let mut cluster = PgFacts::default();
    let mut per_db = PgFacts::default();
    let cluster_fut = async {
        if let Some(c) = cluster_client.filter(|_| !cfg.app_only) {
            read_cluster(c, &mut cluster, deadline, seen_by).await;
        }
    };
    let db_fut = async {
        if let Some(c) = app_client.as_ref().filter(|_| !cfg.app_only) {
            read_database(c, &app_url.dbname, &mut per_db, deadline).await;
        }
    };
    // The runbook's key columns live in authdb (users.email) and apidb (profiles.user_id): the
    // URL's own database is read above, the other one through the per-database connections.
    let mut app_req = cfg.app.clone();
    if !cfg.app_only {
        app_req.key_index_dbs =
            [pg_app::AUTH_DB, pg_app::API_DB].into_iter().filter(|db| *db != app_url.dbname).collect();
    }
    let app_fut = async {
        if !app_req.any() {
            return None;
        }
        let base = admin_url.as_ref().or(Some(&app_url));
        Some(pg_app::read(&app_req, &app_url, app_client.as_ref(), base, host_override.as_deref(), deadline).await)
    };
    let (_, _, app_data) = tokio::join!(cluster_fut, db_fut, app_fut);
    if let Some(a) = &app_data {
        facts.timings.extend(a.timings.iter().cloned());
    }
    facts.app_data = app_data;
    facts.server = cluster.server;
    facts.sessions = cluster.sessions;
    facts.sessions_seen_by = cluster.sessions_seen_by;
    facts.databases = cluster.databases;
    facts.db_stats = cluster.db_stats;
    facts.tables = per_db.tables;
    facts.key_indexes = per_db.key_indexes;
    if let Some(a) = facts.app_data.as_mut() {
        for (db, keys) in std::mem::take(&mut a.key_indexes) {
            match keys {
                Ok(k) => facts.key_indexes.get_or_insert_with(Vec::new).extend(k),
                Err(e) => facts.query_errors.push(format!("index check in {db}: {e}")),
            }
        }
    }
    facts.statements = per_db.statements;
    facts.query_errors.extend(cluster.query_errors);
    facts.query_errors.extend(per_db.query_errors);
    facts.timings.extend(cluster.timings);
    facts.timings.extend(per_db.timings);
    facts
}

/// When the server refused doctor's own password: one login, at the same address and database,
/// with the services' own credential when it is another password. Connected and closed at once.
async fn stack_login(
    cfg: &PgProbeConfig,
    app_url: &PgUrl,
    facts: &PgFacts,
    host_override: Option<&str>,
    deadline: Instant,
) -> Option<StackLogin> {
    let refused = matches!(facts.app_error()?.kind, PgErrorKind::WrongPassword | PgErrorKind::PasswordMissing);
    let cred = cfg.stack_credential.as_ref().filter(|_| refused)?;
    let fp = redact::fingerprint(&cred.password);
    if facts.password_fingerprint.as_deref() == Some(fp.as_str()) && app_url.user == cred.user {
        return None;
    }
    let mut u = app_url.clone();
    u.user = cred.user.clone();
    u.password = Some(cred.password.clone());
    let mut timings = Vec::new();
    let (conn, client) = connect(&u, host_override, deadline, &mut timings, "stack").await;
    drop(client);
    Some(StackLogin { source: cred.source.clone(), password_fingerprint: fp, conn })
}

pub(super) async fn connect(
    u: &PgUrl,
    host_override: Option<&str>,
    deadline: Instant,
    timings: &mut Vec<Timing>,
    role: &str,
) -> (Conn, Option<Client>) {
    let host = host_override.unwrap_or(&u.host);
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(urls::bare_host(host))
        .port(u.port)
        .user(&u.user)
        .dbname(&u.dbname)
        .application_name(APPLICATION_NAME)
        .ssl_mode(match u.sslmode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require => tokio_postgres::config::SslMode::Require,
        })
        .options("-c default_transaction_read_only=on");
    if let Some(p) = &u.password {
        cfg.password(p);
    }
    let remaining = deadline.saturating_duration_since(Instant::now());
    cfg.connect_timeout(remaining.max(Duration::from_millis(1)));
    let tls = super::pg_tls::MakeRustls::new(super::tls::unverified_client_config());
    let started = Instant::now();
    let own = super::own_logins::attempting(&u.user);
    let outcome = until(deadline, cfg.connect(tls)).await;
    let latency_ms = ms(started.elapsed());
    let address = format!("{}:{}", host, u.port);
    let base =
        |result| Conn { user: u.user.clone(), db: u.dbname.clone(), address: address.clone(), latency_ms, result };
    let (conn, client) = match outcome {
        None => (
            base(Err(PgError {
                kind: PgErrorKind::Timeout,
                sqlstate: None,
                message: "no answer before the timeout".into(),
            })),
            None,
        ),
        Some(Err(e)) => {
            let error = classify(&e);
            super::own_logins::finished(&own, error.kind == PgErrorKind::WrongPassword);
            (base(Err(error)), None)
        }
        Some(Ok((client, connection))) => {
            super::own_logins::finished(&own, false);
            tokio::spawn(async move {
                let _ = connection.await;
            });
            let q = "SELECT current_setting('server_version'), \
                     coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)";
            let info = until(deadline, client.query_one(q, &[])).await;
            let connected = match info {
                Some(Ok(row)) => Connected {
                    server_version: row.try_get::<_, String>(0).unwrap_or_default(),
                    superuser: row.try_get::<_, bool>(1).unwrap_or(false),
                },
                _ => Connected { server_version: String::new(), superuser: false },
            };
            (base(Ok(connected)), Some(client))
        }
    };
    timings.push(Timing { step: format!("connect {role}"), ms: latency_ms, ok: client.is_some() });
    (conn, client)
}

/// Puts a client-side failure in the runbook's terms.
pub fn classify(e: &tokio_postgres::Error) -> PgError {
    use tokio_postgres::error::SqlState;
    let message = redact::scrub(&full_message(e));
    if let Some(code) = e.code() {
        let kind = match code {
            c if *c == SqlState::INVALID_PASSWORD => PgErrorKind::WrongPassword,
            c if *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => PgErrorKind::HbaRejected,
            c if *c == SqlState::INVALID_CATALOG_NAME => PgErrorKind::DatabaseMissing,
            c if *c == SqlState::TOO_MANY_CONNECTIONS => PgErrorKind::TooManyClients,
            c if *c == SqlState::CANNOT_CONNECT_NOW => PgErrorKind::NotAcceptingConnections,
            _ => PgErrorKind::Other,
        };
        return PgError { kind, sqlstate: Some(code.code().to_string()), message };
    }
    let lower = message.to_ascii_lowercase();
    let io_kind = std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>()).map(|io| io.kind());
    let kind = match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => PgErrorKind::Refused,
        Some(std::io::ErrorKind::TimedOut) => PgErrorKind::Timeout,
        Some(
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::BrokenPipe,
        ) => PgErrorKind::Reset,
        _ if lower.contains("password missing") => PgErrorKind::PasswordMissing,
        _ if lower.contains("server does not support tls") => PgErrorKind::TlsUnsupported,
        _ if lower.contains("tls") => PgErrorKind::TlsFailed,
        _ if lower.contains("lookup address") || lower.contains("name or service not known") => {
            PgErrorKind::NameNotResolved
        }
        _ if lower.contains("refused") => PgErrorKind::Refused,
        _ if lower.contains("timed out") => PgErrorKind::Timeout,
        _ if lower.contains("unexpected message")
            || lower.contains("error parsing")
            || lower.contains("invalid message") =>
        {
            PgErrorKind::Protocol
        }
        _ if lower.contains("connection closed") || lower.contains("communicating with the server") => {
            PgErrorKind::Reset
        }
        _ => PgErrorKind::Other,
    };
    PgError { kind, sqlstate: None, message }
}

fn full_message(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    super::error_chain(e)
}

fn settings_query() -> &'static str {
    "SELECT name, setting FROM pg_settings WHERE name IN ('max_connections', \
     'superuser_reserved_connections', 'reserved_connections', \
     'idle_in_transaction_session_timeout', 'idle_session_timeout', 'statement_timeout', 'server_version')"
}

const ACTIVITY: &str = "SELECT a.pid, a.datname::text, a.usename::text, a.application_name, host(a.client_addr), a.state, \
     coalesce(r.rolsuper, false), \
     extract(epoch FROM now() - a.backend_start)::float8, extract(epoch FROM now() - a.state_change)::float8, \
     extract(epoch FROM now() - a.query_start)::float8, extract(epoch FROM now() - a.xact_start)::float8, \
     a.wait_event_type || ':' || a.wait_event, left(a.query, 2000), \
     CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) END \
     FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.rolname = a.usename \
     WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() \
     AND coalesce(a.application_name, '') <> 'doctor'";

async fn read_cluster(c: &Client, f: &mut PgFacts, deadline: Instant, seen_by: &str) {
    let t = Instant::now();
    let (settings, uptime, activity, dbs, dbstats) = tokio::join!(
        until(deadline, c.query(settings_query(), &[])),
        until(deadline, c.query_one("SELECT extract(epoch FROM now() - pg_postmaster_start_time())::float8", &[])),
        until(deadline, c.query(ACTIVITY, &[])),
        until(deadline, c.query("SELECT datname::text FROM pg_database WHERE NOT datistemplate ORDER BY 1", &[])),
        until(
            deadline,
            c.query(
                // Through to_jsonb: the session counters exist from PostgreSQL 14 on, and naming
                // a missing column would be an ERROR line in the server's log on every run.
                "SELECT datname::text, (to_jsonb(d) ->> 'sessions_abandoned')::int8, \
                 (to_jsonb(d) ->> 'sessions_fatal')::int8, (to_jsonb(d) ->> 'sessions_killed')::int8, \
                 extract(epoch FROM now() - stats_reset)::float8 \
                 FROM pg_stat_database d WHERE datname IS NOT NULL",
                &[]
            )
        ),
    );
    f.timings.push(Timing { step: "read cluster views".into(), ms: ms(t.elapsed()), ok: true });
    let mut errors = Vec::new();
    if let Some(rows) = take(&mut errors, "pg_settings", settings) {
        let get = |name: &str| -> Option<String> {
            rows.iter()
                .find(|r| r.try_get::<_, String>(0).ok().as_deref() == Some(name))
                .and_then(|r| r.try_get::<_, String>(1).ok())
        };
        let num = |name: &str| get(name).and_then(|v| v.parse::<i64>().ok());
        f.server = Some(ServerFacts {
            max_connections: num("max_connections").unwrap_or(0),
            superuser_reserved_connections: num("superuser_reserved_connections").unwrap_or(0),
            reserved_connections: num("reserved_connections").unwrap_or(0),
            idle_in_transaction_session_timeout_ms: num("idle_in_transaction_session_timeout").unwrap_or(0),
            idle_session_timeout_ms: num("idle_session_timeout"),
            statement_timeout_ms: num("statement_timeout").unwrap_or(0),
            uptime_s: 0.0,
            version: get("server_version").unwrap_or_default(),
        });
    }
    if let (Some(row), Some(server)) = (take(&mut errors, "pg_postmaster_start_time", uptime), f.server.as_mut()) {
        server.uptime_s = row.try_get::<_, f64>(0).unwrap_or(0.0);
    }
    if let Some(rows) = take(&mut errors, "pg_stat_activity", activity) {
        f.sessions = Some(
            rows.iter()
                .map(|r| Session {
                    pid: r.try_get(0).unwrap_or(0),
                    datname: r.try_get(1).ok().flatten(),
                    usename: r.try_get(2).ok().flatten(),
                    application_name: r.try_get::<_, Option<String>>(3).ok().flatten().map(|s| redact::scrub(&s)),
                    client_addr: r.try_get(4).ok().flatten(),
                    state: r.try_get(5).ok().flatten(),
                    superuser: r.try_get(6).unwrap_or(false),
                    backend_age_s: r.try_get(7).ok().flatten(),
                    state_age_s: r.try_get(8).ok().flatten(),
                    query_age_s: r.try_get(9).ok().flatten(),
                    xact_age_s: r.try_get(10).ok().flatten(),
                    wait_event: r.try_get(11).ok().flatten(),
                    query: r
                        .try_get::<_, Option<String>>(12)
                        .ok()
                        .flatten()
                        .filter(|q| !q.is_empty() && q != "<insufficient privilege>")
                        .map(|q| clean_query(&q)),
                    blocked_by: r.try_get::<_, Option<Vec<i32>>>(13).ok().flatten().unwrap_or_default(),
                })
                .collect(),
        );
        f.sessions_seen_by = Some(seen_by.to_string());
    }
    if let Some(rows) = take(&mut errors, "pg_database", dbs) {
        f.databases = Some(rows.iter().filter_map(|r| r.try_get::<_, String>(0).ok()).collect());
    }
    // pg_stat_database's session counters exist from PostgreSQL 14 on; older servers lack them.
    // Before PostgreSQL 14 the counters are absent (NULL): no figures rather than zeros.
    if let Some(Ok(rows)) = dbstats.filter(|r| {
        r.as_ref().is_ok_and(|rows| rows.iter().any(|r| r.try_get::<_, Option<i64>>(1).ok().flatten().is_some()))
    }) {
        let n = |r: &tokio_postgres::Row, i: usize| r.try_get::<_, Option<i64>>(i).ok().flatten().unwrap_or(0);
        f.db_stats = Some(
            rows.iter()
                .map(|r| DbStat {
                    datname: r.try_get(0).unwrap_or_default(),
                    sessions_abandoned: n(r, 1),
                    sessions_fatal: n(r, 2),
                    sessions_killed: n(r, 3),
                    stats_reset_age_s: r.try_get::<_, Option<f64>>(4).ok().flatten(),
                })
                .collect(),
        );
    }
    f.query_errors.extend(errors);
}

fn take<T>(errors: &mut Vec<String>, what: &str, r: Option<Result<T, tokio_postgres::Error>>) -> Option<T> {
    match r {
        None => {
            errors.push(format!("{what}: timed out"));
            None
        }
        Some(Err(e)) => {
            errors.push(format!("{what}: {}", redact::scrub(&full_message(&e))));
            None
        }
        Some(Ok(v)) => Some(v),
    }
}

/// A query quoted as evidence: literals blanked, secrets removed, whitespace folded, cut short.
pub fn clean_query(q: &str) -> String {
    let folded: String = redact::scrub(&redact::sql_literals(q)).split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() > 300 {
        let mut s: String = folded.chars().take(299).collect();
        s.push('…');
        s
    } else {
        folded
    }
}

const TABLES: &str = "SELECT schemaname || '.' || relname, n_live_tup, n_mod_since_analyze, seq_scan, seq_tup_read, \
     coalesce(idx_scan, 0), \
     extract(epoch FROM now() - greatest(last_analyze, last_autoanalyze))::float8, \
     pg_total_relation_size(relid) \
     FROM pg_stat_user_tables ORDER BY seq_tup_read DESC LIMIT 200";

/// The columns the runbook's remedies index (`users(email)`, `profiles(user_id)`): does an index
/// lead with them? Only tables that exist come back.
pub(super) const KEY_INDEXES: &str = "SELECT t.relname::text, a.attname::text, \
     EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = t.oid AND i.indkey[0] = a.attnum) \
     FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace \
     JOIN pg_attribute a ON a.attrelid = t.oid AND NOT a.attisdropped \
     WHERE t.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND ((t.relname = 'users' AND a.attname = 'email') OR (t.relname = 'profiles' AND a.attname = 'user_id')) \
     ORDER BY 1";

const STATEMENTS: &str = "SELECT left(query, 2000), calls, mean_exec_time, total_exec_time \
     FROM pg_stat_statements ORDER BY mean_exec_time DESC LIMIT 5";

async fn read_database(c: &Client, db: &str, f: &mut PgFacts, deadline: Instant) {
    let t = Instant::now();
    let (tables, keys, stmts) = tokio::join!(
        until(deadline, c.query(TABLES, &[])),
        until(deadline, c.query(KEY_INDEXES, &[])),
        statements(c, deadline),
    );
    f.timings.push(Timing { step: "read database views".into(), ms: ms(t.elapsed()), ok: true });
    match tables {
        Some(Ok(rows)) => {
            f.tables = Some(
                rows.iter()
                    .map(|r| TableStat {
                        name: r.try_get(0).unwrap_or_default(),
                        live_rows: r.try_get(1).unwrap_or(0),
                        modified_since_analyze: r.try_get(2).unwrap_or(0),
                        seq_scan: r.try_get(3).unwrap_or(0),
                        seq_tup_read: r.try_get(4).unwrap_or(0),
                        idx_scan: r.try_get(5).unwrap_or(0),
                        analyzed_age_s: r.try_get(6).ok().flatten(),
                        size_bytes: r.try_get(7).unwrap_or(0),
                    })
                    .collect(),
            )
        }
        Some(Err(e)) => f.query_errors.push(format!("pg_stat_user_tables: {}", redact::scrub(&full_message(&e)))),
        None => f.query_errors.push("pg_stat_user_tables: timed out".into()),
    }
    match keys {
        Some(Ok(rows)) => f.key_indexes = Some(key_indexes_from(&rows, db)),
        Some(Err(e)) => f.query_errors.push(format!("index check: {}", redact::scrub(&full_message(&e)))),
        None => f.query_errors.push("index check: timed out".into()),
    }
    f.statements = stmts;
}

/// The slowest statements, asked only when pg_stat_statements is there and loaded: asking
/// otherwise fails, and every failed query is an ERROR line in the server's log (on every run,
/// in production, and the next run would read it as a symptom). `Err` says why it is absent.
async fn statements(c: &Client, deadline: Instant) -> Option<Statements> {
    let present = "SELECT to_regclass('pg_stat_statements') IS NOT NULL, \
                   coalesce(current_setting('shared_preload_libraries', true), '') LIKE '%pg_stat_statements%'";
    let row = until(deadline, c.query_one(present, &[])).await?.ok()?;
    match (row.try_get::<_, bool>(0).unwrap_or(false), row.try_get::<_, bool>(1).unwrap_or(false)) {
        (false, _) => return Some(Statements::NotInstalled),
        (true, false) => return Some(Statements::NotLoaded),
        (true, true) => {}
    }
    match until(deadline, c.query(STATEMENTS, &[])).await? {
        Ok(rows) => Some(Statements::Top {
            rows: rows
                .iter()
                .map(|r| Statement {
                    query: clean_query(&r.try_get::<_, String>(0).unwrap_or_default()),
                    calls: r.try_get(1).unwrap_or(0),
                    mean_ms: r.try_get(2).unwrap_or(0.0),
                    total_ms: r.try_get(3).unwrap_or(0.0),
                })
                .collect(),
        }),
        // Present a moment ago; gone or unloaded since.
        Err(e) => match e.code().map(|c| c.code()) {
            Some("42P01") => Some(Statements::NotInstalled),
            Some("55000") => Some(Statements::NotLoaded),
            _ => None,
        },
    }
}
