//! The stack's own rows in PostgreSQL, read the way the runbook's `psql` lines do, read-only
//! (the session is `default_transaction_read_only`): a login user's `is_active` (and its
//! lockout columns `login_attempts`/`locked_until`, when the table has them) and the
//! `refresh_tokens` summary in `authdb`, one user's row in `profiles` in `apidb`, and the status
//! of `documents` in `admindb`. One connection per database: the application's connection when
//! it is already on that database, else the superuser's (or the application's) credentials with
//! the database name changed. Values that could be personal data never leave memory: a
//! profile's fields are kept as per-run fingerprints, to compare with the cached copy in Redis.

use super::postgres::{Conn, connect};
use super::{Timing, until};
use crate::probe::redis_app::fingerprint_value;
use crate::redact;
use crate::urls::PgUrl;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokio::time::Instant;
use tokio_postgres::Client;

pub const AUTH_DB: &str = "authdb";
pub const API_DB: &str = "apidb";
pub const ADMIN_DB: &str = "admindb";

/// What the auth and API checks want from the databases.
#[derive(Debug, Clone, Default)]
pub struct PgAppRequest {
    /// `users.is_active` of the login probe's user.
    pub login_user: Option<String>,
    pub refresh_tokens: bool,
    /// `--refresh-token`: the row of this one token in `refresh_tokens` (never printed).
    pub refresh_token: Option<String>,
    /// `--user-id`: the row in `profiles`.
    pub profile_user: Option<String>,
    pub documents: bool,
    /// Databases (besides the URL's) whose key columns' indexes PG003 checks.
    pub key_index_dbs: Vec<&'static str>,
}

impl PgAppRequest {
    pub fn any(&self) -> bool {
        self.login_user.is_some()
            || self.refresh_tokens
            || self.refresh_token.is_some()
            || self.profile_user.is_some()
            || self.documents
            || !self.key_index_dbs.is_empty()
    }
    fn databases(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.login_user.is_some() || self.refresh_tokens || self.refresh_token.is_some() {
            v.push(AUTH_DB);
        }
        if self.profile_user.is_some() {
            v.push(API_DB);
        }
        if self.documents {
            v.push(ADMIN_DB);
        }
        for db in &self.key_index_dbs {
            if !v.contains(db) {
                v.push(db);
            }
        }
        v
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RefreshRows {
    pub total: u64,
    pub expired: u64,
    /// Rows marked revoked, when the table has such a column (`revoked`, `is_revoked`, `revoked_at`).
    pub revoked: Option<u64>,
    pub revoked_column: Option<String>,
    /// How long ago the most recently expired token expired.
    pub last_expired_age_s: Option<f64>,
    /// How soon the next valid token expires.
    pub next_expiry_in_s: Option<f64>,
}

/// The row of one refresh token (`--refresh-token`), found by the token itself or its SHA-256.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenRow {
    /// The row's `id` (the `<token_id>` of the runbook's `refresh_token:<token_id>` key).
    pub id: Option<String>,
    /// Seconds until `expires_at`; negative when it has passed.
    pub expires_in_s: Option<f64>,
    /// Marked revoked, when the table records revocation.
    pub revoked: Option<bool>,
    /// The column it was found by: `token` or `token_hash` (SHA-256, hex).
    pub matched_by: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileRow {
    /// Column → per-run fingerprint of its value.
    pub fields: BTreeMap<String, String>,
    pub updated_age_s: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DocStatus {
    pub status: String,
    pub count: u64,
    pub oldest_age_s: Option<f64>,
    pub newest_age_s: Option<f64>,
}

/// The lockout columns of the login's user (`10-security/02`: `login_attempts >= 5` sets
/// `locked_until` 30 minutes ahead), when the users table has them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserLock {
    /// `login_attempts` (or `failed_login_attempts`, another spelling of the spec).
    pub login_attempts: Option<i64>,
    /// `locked_until` as stored (ISO 8601).
    pub locked_until: Option<String>,
    /// Seconds from the server's `now()` to `locked_until` (negative once it has passed; a
    /// value without a zone is taken as UTC, as auth-service writes it).
    pub locked_for_s: Option<f64>,
}

/// A document admin-api has not finished with (`uploaded` or `processing`): how long it has
/// been in that status and, when the row records it, its page count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PendingDoc {
    pub status: String,
    /// Seconds since `updated_at` (the status change), else since `created_at`.
    pub age_s: Option<f64>,
    /// `updated_at` or `created_at`: which column the age is from.
    pub since: String,
    /// `total_pages` from `processing_metadata` or `original_metadata`, or a `page_count` column.
    pub pages: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PgAppFacts {
    /// Connections opened for these reads (one per database not already connected).
    pub connections: Vec<Conn>,
    /// `Ok(None)`: no such user.
    pub user: Option<Result<Option<Option<bool>>, String>>,
    /// The same user's lockout columns; None when not read, the user is missing or the table
    /// has neither column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_lock: Option<UserLock>,
    pub refresh_rows: Option<Result<RefreshRows, String>>,
    /// `--refresh-token`: `Ok(None)` when no row holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_row: Option<Result<Option<TokenRow>, String>>,
    /// `Ok(None)`: no row for that user id.
    pub profile: Option<Result<Option<ProfileRow>, String>>,
    pub documents: Option<Result<Vec<DocStatus>, String>>,
    /// The oldest documents still `uploaded` or `processing` (at most 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_documents: Option<Result<Vec<PendingDoc>, String>>,
    /// Key-column indexes read in the databases of `key_index_dbs` (moved into
    /// `PgFacts.key_indexes` by the probe).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_indexes: Vec<(String, Result<Vec<super::postgres::KeyIndex>, String>)>,
    pub timings: Vec<Timing>,
}

/// Reads what `req` asks for. `app` is the application's URL and client when connected;
/// `base` the credentials for other databases (the superuser's when known).
pub async fn read(
    req: &PgAppRequest,
    app_url: &PgUrl,
    app_client: Option<&Client>,
    base: Option<&PgUrl>,
    host_override: Option<&str>,
    deadline: Instant,
) -> PgAppFacts {
    let mut facts = PgAppFacts::default();
    let dbs = req.databases();
    // One client per database: the application's own, or a new connection.
    let opened = futures_util::future::join_all(dbs.iter().map(|db| async move {
        if app_url.dbname == *db {
            if let Some(c) = app_client {
                return (*db, None, Ok(Some(c)), Vec::new());
            }
            // The same credentials just failed on this database: a second try would only add a
            // second failure to the server's log.
            if base.is_none_or(|b| b.user == app_url.user && b.password == app_url.password) {
                let why = format!("the application's connection to {db} failed (see PG001)");
                return (*db, None, Err(why), Vec::new());
            }
        }
        let Some(b) = base else {
            return (
                *db,
                None,
                Err("no credentials to read it with (set --admin-url or DOCTOR_ADMIN_URL)".into()),
                vec![],
            );
        };
        // Asked first on a connection already open: connecting to a database that does not exist
        // would only add a FATAL line to the server's log (PG001 names the missing database).
        if let Some(c) = app_client {
            let sql = "SELECT 1 FROM pg_database WHERE datname = $1";
            if let Ok(r) = rows(c, sql, &[db], deadline).await
                && r.is_empty()
            {
                return (*db, None, Err(format!("database {db} does not exist (see PG001)")), Vec::new());
            }
        }
        let mut u = b.clone();
        u.dbname = db.to_string();
        let mut timings = Vec::new();
        let (conn, client) = connect(&u, host_override, deadline, &mut timings, db).await;
        let why = conn.result.as_ref().err().map(|e| format!("connecting to {db} as {}: {}", u.user, e.message));
        (*db, Some((conn, client)), why.map_or(Ok(None), Err), timings)
    }))
    .await;
    let mut clients: BTreeMap<&str, Result<Client, String>> = BTreeMap::new();
    let mut borrowed: BTreeMap<&str, &Client> = BTreeMap::new();
    for (db, new, status, timings) in opened {
        facts.timings.extend(timings);
        match (new, status) {
            (_, Ok(Some(c))) => {
                borrowed.insert(db, c);
            }
            (Some((conn, Some(client))), Ok(None)) => {
                facts.connections.push(conn);
                clients.insert(db, Ok(client));
            }
            (Some((conn, None)), Err(e)) => {
                facts.connections.push(conn);
                clients.insert(db, Err(e));
            }
            (_, Err(e)) => {
                clients.insert(db, Err(e));
            }
            _ => {}
        }
    }
    let client = |db: &str| -> Result<&Client, String> {
        if let Some(c) = borrowed.get(db) {
            return Ok(*c);
        }
        match clients.get(db) {
            Some(Ok(c)) => Ok(c),
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!("{db} was not connected")),
        }
    };
    let user = async {
        let name = req.login_user.as_deref()?;
        Some(match client(AUTH_DB) {
            Ok(c) => read_user(c, name, deadline).await,
            Err(e) => Err(e),
        })
    };
    // The table summary and the one token's row share one look at refresh_tokens' columns.
    let refresh = async {
        let wanted = (req.refresh_tokens, req.refresh_token.as_deref());
        if wanted == (false, None) {
            return (None, None);
        }
        let cols = match client(AUTH_DB) {
            Ok(c) => refresh_columns(c, deadline).await.map(|cols| (c, cols)),
            Err(e) => Err(e),
        };
        let summary = async {
            wanted.0.then_some(())?;
            Some(match &cols {
                Ok((c, cols)) => read_refresh(c, cols, deadline).await,
                Err(e) => Err(e.clone()),
            })
        };
        let token_row = async {
            let token = wanted.1?;
            Some(match &cols {
                Ok((c, cols)) => read_token_row(c, cols, token, deadline).await,
                Err(e) => Err(e.clone()),
            })
        };
        tokio::join!(summary, token_row)
    };
    let profile = async {
        let id = req.profile_user.as_deref()?;
        Some(match client(API_DB) {
            Ok(c) => read_profile(c, id, deadline).await,
            Err(e) => Err(e),
        })
    };
    let documents = async {
        if !req.documents {
            return None;
        }
        Some(match client(ADMIN_DB) {
            Ok(c) => match read_documents(c, deadline).await {
                Ok(d) => {
                    let pending = read_pending(c, deadline).await;
                    (Ok(d), Some(pending))
                }
                Err(e) => (Err(e), None),
            },
            Err(e) => (Err(e), None),
        })
    };
    let keys = futures_util::future::join_all(req.key_index_dbs.iter().map(|db| async move {
        let read = match client(db) {
            Ok(c) => rows(c, super::postgres::KEY_INDEXES, &[], deadline)
                .await
                .map(|r| super::postgres::key_indexes_from(&r, db)),
            Err(e) => Err(e),
        };
        (db.to_string(), read)
    }));
    let (u, (r, t), p, d, k) = tokio::join!(user, refresh, profile, documents, keys);
    facts.key_indexes = k;
    facts.user_lock = u.as_ref().and_then(|r| r.as_ref().ok()).and_then(|(_, lock)| lock.clone());
    facts.user = u.map(|r| r.map(|(active, _)| active));
    facts.refresh_rows = r;
    facts.refresh_token_row = t;
    facts.profile = p;
    if let Some((d, pending)) = d {
        facts.documents = Some(d);
        facts.pending_documents = pending;
    }
    facts
}

fn query_error(e: &tokio_postgres::Error) -> String {
    redact::scrub(&super::postgres::classify(e).message)
}

async fn rows(
    c: &Client,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    deadline: Instant,
) -> Result<Vec<tokio_postgres::Row>, String> {
    match until(deadline, c.query(sql, params)).await {
        None => Err("no answer before the timeout".into()),
        Some(Err(e)) => Err(query_error(&e)),
        Some(Ok(r)) => Ok(r),
    }
}

/// Fails as PostgreSQL would ("relation \"profiles\" does not exist") when `table` is not on
/// the search path, without asking: a query on a missing table is an ERROR line in the server's
/// log, on every run, which the next run would read back as a symptom.
async fn require_table(c: &Client, table: &str, deadline: Instant) -> Result<(), String> {
    let sql = "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE c.relname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
               AND n.nspname = ANY (current_schemas(false))";
    if rows(c, sql, &[&table], deadline).await?.is_empty() {
        return Err(format!("relation \"{table}\" does not exist"));
    }
    Ok(())
}

/// The user's `is_active` (`Ok(None)`: no such user) and lockout columns.
type UserRow = (Option<Option<bool>>, Option<UserLock>);

async fn read_user(c: &Client, name: &str, deadline: Instant) -> Result<UserRow, String> {
    require_table(c, "users", deadline).await?;
    // Only these columns leave the server: never the row (it holds the password hash). Read
    // through to_jsonb so that a table without a column answers NULL rather than an error.
    let sql = "WITH u AS (SELECT to_jsonb(u) AS j FROM users u \
               WHERE to_jsonb(u) ->> 'username' = $1 OR to_jsonb(u) ->> 'email' = $1 LIMIT 1), \
               l AS (SELECT j, j ->> 'locked_until' AS lu FROM u) \
               SELECT (j -> 'is_active')::text, \
               COALESCE(j ->> 'login_attempts', j ->> 'failed_login_attempts'), lu, \
               CASE WHEN lu IS NULL THEN NULL \
               WHEN lu ~ '([+-][0-9]{2}(:?[0-9]{2})?|Z)$' THEN extract(epoch FROM lu::timestamptz - now())::float8 \
               ELSE extract(epoch FROM (lu || '+00')::timestamptz - now())::float8 END \
               FROM l";
    let r = rows(c, sql, &[&name], deadline).await?;
    let Some(row) = r.first() else { return Ok((None, None)) };
    let text = |i: usize| row.try_get::<_, Option<String>>(i).ok().flatten();
    let active = match text(0).as_deref() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    };
    let login_attempts = text(1).and_then(|v| v.trim().parse::<i64>().ok());
    let locked_until = text(2);
    let locked_for_s = row.try_get::<_, Option<f64>>(3).ok().flatten();
    let lock = (login_attempts.is_some() || locked_until.is_some()).then_some(UserLock {
        login_attempts,
        locked_until,
        locked_for_s,
    });
    Ok((Some(active), lock))
}

/// The columns of `refresh_tokens` doctor reads by name, once the table is known to exist:
/// the token (or its hash), its expiry and how revocation is recorded.
struct RefreshColumns(Vec<String>);

impl RefreshColumns {
    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|c| c == name)
    }
    /// The revocation column, by preference when a table has more than one.
    fn revoked(&self) -> Option<&'static str> {
        ["revoked_at", "revoked", "is_revoked"].into_iter().find(|c| self.has(c))
    }
}

async fn refresh_columns(c: &Client, deadline: Instant) -> Result<RefreshColumns, String> {
    require_table(c, "refresh_tokens", deadline).await?;
    let cols = rows(
        c,
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'refresh_tokens' \
         AND column_name IN ('token', 'token_hash', 'revoked', 'is_revoked', 'revoked_at', 'expires_at')",
        &[],
        deadline,
    )
    .await?;
    Ok(RefreshColumns(cols.iter().filter_map(|r| r.try_get(0).ok()).collect()))
}

async fn read_refresh(c: &Client, cols: &RefreshColumns, deadline: Instant) -> Result<RefreshRows, String> {
    let revoked_column = cols.revoked();
    // The column name comes from the fixed list above, never from outside.
    let revoked_expr = match revoked_column {
        Some("revoked_at") => "count(*) FILTER (WHERE revoked_at IS NOT NULL)",
        Some("revoked") => "count(*) FILTER (WHERE revoked)",
        Some("is_revoked") => "count(*) FILTER (WHERE is_revoked)",
        _ => "NULL::int8",
    };
    let sql = format!(
        "SELECT count(*), count(*) FILTER (WHERE expires_at < now()), {revoked_expr}, \
         extract(epoch FROM now() - max(expires_at) FILTER (WHERE expires_at < now()))::float8, \
         extract(epoch FROM min(expires_at) FILTER (WHERE expires_at >= now()) - now())::float8 \
         FROM refresh_tokens"
    );
    let r = rows(c, &sql, &[], deadline).await?;
    let row = r.first().ok_or("no result")?;
    let n = |i: usize| row.try_get::<_, Option<i64>>(i).ok().flatten();
    let f = |i: usize| row.try_get::<_, Option<f64>>(i).ok().flatten();
    Ok(RefreshRows {
        total: n(0).unwrap_or(0) as u64,
        expired: n(1).unwrap_or(0) as u64,
        revoked: n(2).map(|v| v as u64),
        revoked_column: revoked_column.map(str::to_string),
        last_expired_age_s: f(3),
        next_expiry_in_s: f(4),
    })
}

async fn read_token_row(
    c: &Client,
    cols: &RefreshColumns,
    token: &str,
    deadline: Instant,
) -> Result<Option<TokenRow>, String> {
    let has = |name: &str| cols.has(name);
    // Column names come from the fixed list above, never from outside; the token is a parameter.
    let (filter, matched_by) = if has("token") {
        ("t.token::text = $1", "token")
    } else if has("token_hash") {
        ("t.token_hash::text = encode(sha256(convert_to($1, 'UTF8')), 'hex')", "token_hash")
    } else {
        return Err("refresh_tokens has neither a token nor a token_hash column to find the token by".into());
    };
    let revoked = match cols.revoked() {
        Some("revoked_at") => "(t.revoked_at IS NOT NULL)",
        Some("revoked") => "t.revoked",
        Some("is_revoked") => "t.is_revoked",
        _ => "NULL::bool",
    };
    let expires = if has("expires_at") { "extract(epoch FROM t.expires_at - now())::float8" } else { "NULL::float8" };
    let sql = format!(
        "SELECT to_jsonb(t) ->> 'id', {expires}, {revoked} FROM refresh_tokens t WHERE {filter} \
         ORDER BY {} LIMIT 1",
        if has("expires_at") { "t.expires_at DESC" } else { "1" }
    );
    let r = rows(c, &sql, &[&token], deadline).await?;
    Ok(r.first().map(|row| TokenRow {
        id: row.try_get::<_, Option<String>>(0).ok().flatten(),
        expires_in_s: row.try_get::<_, Option<f64>>(1).ok().flatten(),
        revoked: row.try_get::<_, Option<bool>>(2).ok().flatten(),
        matched_by: matched_by.into(),
    }))
}

async fn read_profile(c: &Client, user_id: &str, deadline: Instant) -> Result<Option<ProfileRow>, String> {
    require_table(c, "profiles", deadline).await?;
    let sql = "SELECT to_jsonb(p)::text, \
               extract(epoch FROM now() - (to_jsonb(p) ->> 'updated_at')::timestamptz)::float8 \
               FROM profiles p WHERE p.user_id::text = $1 LIMIT 1";
    let r = rows(c, sql, &[&user_id], deadline).await?;
    let Some(row) = r.first() else { return Ok(None) };
    let text: String = row.try_get(0).map_err(|e| query_error(&e))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let obj = v.as_object().cloned().unwrap_or_default();
    let updated_age_s = row.try_get::<_, Option<f64>>(1).ok().flatten();
    Ok(Some(ProfileRow { fields: obj.iter().map(|(k, v)| (k.clone(), fingerprint_value(v))).collect(), updated_age_s }))
}

async fn read_documents(c: &Client, deadline: Instant) -> Result<Vec<DocStatus>, String> {
    require_table(c, "documents", deadline).await?;
    let sql = "SELECT coalesce(status::text, '(null)'), count(*), \
               extract(epoch FROM now() - min(created_at))::float8, \
               extract(epoch FROM now() - max(created_at))::float8 \
               FROM documents GROUP BY 1 ORDER BY 2 DESC LIMIT 50";
    let r = rows(c, sql, &[], deadline).await?;
    Ok(r.iter()
        .map(|row| DocStatus {
            status: row.try_get::<_, String>(0).unwrap_or_default(),
            count: row.try_get::<_, i64>(1).unwrap_or(0) as u64,
            oldest_age_s: row.try_get::<_, Option<f64>>(2).ok().flatten(),
            newest_age_s: row.try_get::<_, Option<f64>>(3).ok().flatten(),
        })
        .collect())
}

/// The spec's columns the pending-documents query may use, when the table has them.
const PENDING_COLUMNS: &[&str] =
    &["updated_at", "created_at", "processing_metadata", "original_metadata", "page_count"];

/// The oldest documents still `uploaded` or `processing`. Column names come from the fixed
/// list above (asked of the catalogue first), never from outside; no value but the status,
/// two timestamps and a page count leaves the server.
async fn read_pending(c: &Client, deadline: Instant) -> Result<Vec<PendingDoc>, String> {
    let cols = rows(
        c,
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_name = 'documents' AND table_schema = ANY (current_schemas(false)) AND column_name = ANY ($1)",
        &[&PENDING_COLUMNS],
        deadline,
    )
    .await?;
    let has: Vec<String> = cols.iter().filter_map(|r| r.try_get(0).ok()).collect();
    let has = |c: &str| has.iter().any(|h| h == c);
    let since = ["updated_at", "created_at"].into_iter().find(|c| has(c));
    let age = match since {
        Some(col) => format!("extract(epoch FROM now() - d.{col}::timestamptz)::float8"),
        None => "NULL::float8".into(),
    };
    let mut pages: Vec<&str> = Vec::new();
    if has("processing_metadata") {
        pages.push("d.processing_metadata::jsonb ->> 'total_pages'");
    }
    if has("original_metadata") {
        pages.push("d.original_metadata::jsonb ->> 'total_pages'");
    }
    if has("page_count") {
        pages.push("d.page_count::text");
    }
    let pages = if pages.is_empty() {
        "NULL::text".to_string()
    } else {
        format!("substring(coalesce({}) FROM '^[0-9]{{1,6}}$')", pages.join(", "))
    };
    let sql = format!(
        "SELECT d.status::text, {age}, {pages} FROM documents d \
         WHERE d.status::text IN ('uploaded', 'processing') ORDER BY 2 DESC NULLS LAST LIMIT 50"
    );
    let r = rows(c, &sql, &[], deadline).await?;
    Ok(r.iter()
        .map(|row| PendingDoc {
            status: row.try_get::<_, String>(0).unwrap_or_default(),
            age_s: row.try_get::<_, Option<f64>>(1).ok().flatten(),
            since: since.unwrap_or("").to_string(),
            pages: row.try_get::<_, Option<String>>(2).ok().flatten().and_then(|p| p.parse().ok()),
        })
        .collect())
}
