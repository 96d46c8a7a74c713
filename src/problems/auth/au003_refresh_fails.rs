//! AU003: token refresh fails. On the stack's own design (spec `07-redis/03`, `07`,
//! `10-security/02`) a refresh token is a JWT: auth-service accepts it while it is unexpired,
//! its `jti` is absent from `blacklist:refresh:<jti>` and the session `session:<sub>:<sid>`
//! still exists. That session lives 3600 s while the token lives 7 or 30 days, so an hour after
//! login the refresh fails with 「Session not found」 (`session-expired`); a session gone sooner
//! was lost by Redis (a restart without AOF, a flush, an eviction: `refresh-missing`).
//! With `--refresh-token` the token's own claims and keys decide; without one, Redis's session
//! count, persistence, restarts and evictions say whether everyone was logged out at once.
//! Stacks that do keep a `refresh_tokens` table or `refresh_token:*` keys (the runbook's
//! layout) are still compared row against key (`legacy`); a stack without them does not use
//! them, which is never evidence either way.

use crate::catalogue::Area;
use crate::facts::of::pg_app::{PgAppFacts, RefreshRows};
use crate::facts::of::redis::RedisFacts;
use crate::facts::of::redis_app::{Families, KeyFamily, Persistence, PersistenceInfo, TokenKeySearch};
use crate::jwt::RefreshTokenFacts;
use crate::problems::engine::DockerView;
use crate::problems::registry::{Inputs, Problem};
use crate::problems::{logs, secs};
use crate::report::{Finding, Status, Verdict, Verdict::*};
use crate::text::{Sep, Text};

crate::causes! {
    RefreshExpired = "refresh-expired",
    RefreshMissing = "refresh-missing",
    RefreshRevoked = "refresh-revoked",
    SessionExpired = "session-expired",
}

pub static PROBLEM: Problem = Problem {
    code: "AU003",
    areas: &[Area::Auth],
    runbook: crate::runbook!("auth/AU003-refresh-fails.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

/// The session TTL auth-service sets (`07-redis/02`, `03`, `07`); `10-security/02` says 30
/// days instead, which the TTLs of the sessions Redis holds reveal (a longer one overrides).
pub const SESSION_TTL_S: i64 = 3600;
const SESSIONS: &str = "session:*";
const BLACKLIST_REFRESH: &str = "blacklist:refresh:*";

fn run(i: &Inputs) -> Vec<Finding> {
    if i.facts.auth.is_none() {
        return vec![];
    }
    let app = i.facts.postgres.as_ref().and_then(|p| p.app_data.as_ref());
    let f = diagnose(app, i.facts.redis.as_ref(), i.facts.refresh_token.as_ref(), &i.docker);
    vec![i.timed(f, i.facts.postgres_ms.max(i.facts.redis_ms))]
}

/// What authdb says of a `refresh_tokens` table.
enum Table<'a> {
    Rows(&'a RefreshRows),
    /// No such table: the stack keeps no refresh token in authdb (the spec's own schema).
    Absent,
    Unread(Text),
}

/// What Redis says, as AU003 reads it.
struct RedisView<'a> {
    info: Option<&'a crate::facts::of::redis::RedisInfo>,
    persistence: Option<&'a Persistence>,
    persistence_info: Option<&'a PersistenceInfo>,
    families: Result<&'a Families, Text>,
}

impl RedisView<'_> {
    fn family(&self, pattern: &str) -> Option<&KeyFamily> {
        self.families.as_ref().ok().and_then(|f| f.get(pattern))
    }
    fn aof(&self) -> bool {
        self.persistence.is_some_and(|p| p.appendonly == "yes") || self.persistence_info.is_some_and(|p| p.aof_enabled)
    }
    /// RDB snapshots on, AOF off (the spec's configuration): a restart loses what was written
    /// since the last snapshot.
    fn rdb_only(&self) -> bool {
        !self.aof() && self.persistence.is_some_and(|p| !p.save.trim().is_empty())
    }
}

pub fn diagnose(
    pg: Option<&PgAppFacts>,
    redis: Option<&RedisFacts>,
    token: Option<&RefreshTokenFacts>,
    docker: &DockerView,
) -> Finding {
    let target = "redis session:*, blacklist:refresh:*; authdb.refresh_tokens";
    let mut out = Finding::new("AU003", target);
    let mut status = Status::Ok;
    let mut notes: Vec<Text> = Vec::new();

    let table = match pg.and_then(|p| p.refresh_rows.as_ref()) {
        Some(Ok(r)) => Table::Rows(r),
        Some(Err(e)) if e.contains("does not exist") => Table::Absent,
        Some(Err(e)) => Table::Unread(crate::t!("AU003/authdb-unreadable", error = e)),
        None => Table::Unread(crate::t!("AU003/authdb-not-read")),
    };
    let redis_down = redis.is_none_or(|r| !r.connected());
    let app = redis.and_then(|r| r.app.as_ref());
    let unread = || if redis_down { crate::t!("AU003/redis-unreachable") } else { crate::t!("AU003/redis-not-read") };
    let keys: Result<&KeyFamily, Text> = match app.and_then(|a| a.refresh_keys.as_ref()) {
        Some(Ok(k)) => Ok(k),
        Some(Err(e)) => Err(e.into()),
        None => Err(unread()),
    };
    let rv = RedisView {
        info: redis.and_then(|r| r.info.as_ref()),
        persistence: app.and_then(|a| a.persistence.as_ref()).and_then(|p| p.as_ref().ok()),
        persistence_info: app.and_then(|a| a.persistence_info.as_ref()).and_then(|p| p.as_ref().ok()),
        families: match app.and_then(|a| a.families.as_ref()) {
            Some(Ok(f)) => Ok(f),
            Some(Err(e)) => Err(e.into()),
            None => Err(unread()),
        },
    };
    // The runbook's layout: refresh tokens kept as rows and keys. Without the table and the
    // keys the stack does not use them: nothing to compare, and nothing ruled out by it.
    let legacy = matches!(table, Table::Rows(_)) || keys.as_ref().is_ok_and(|k| k.count > 0);
    let rows: Result<&RefreshRows, Text> = match &table {
        Table::Rows(r) => Ok(r),
        Table::Absent => Err(crate::t!("AU003/no-table")),
        Table::Unread(t) => Err(t.clone()),
    };
    if let Ok(r) = rows {
        out.fact("refresh_rows", r);
    }
    if let Ok(k) = keys {
        out.fact("refresh_keys", k);
    }
    if let Some(p) = rv.persistence {
        out.fact("redis_persistence", p);
    }
    for pattern in [SESSIONS, BLACKLIST_REFRESH] {
        if let Some(f) = rv.family(pattern) {
            out.fact(if pattern == SESSIONS { "sessions" } else { "blacklisted_refresh" }, f);
        }
    }
    let logged = logs::service_hits(docker, "auth-service", &["AU003"]);

    // Expired.
    let expired_logs = logs::hits_like(&logged, &["expired"]);
    match &rows {
        Ok(r) if r.total > 0 && r.expired == r.total => {
            let msg = crate::t!(
                "AU003/all-expired",
                total = r.total,
                ago = r.last_expired_age_s.map(secs).unwrap_or_else(|| "?".into()),
            );
            out.cause(Cause::RefreshExpired, Confirmed, msg.clone());
            status = status.max(Status::Warning);
            notes.push(msg);
        }
        _ if !expired_logs.is_empty() => {
            out.cause(Cause::RefreshExpired, Confirmed, Text::join(expired_logs.clone(), Sep::Clauses));
            status = status.max(Status::Warning);
            notes.push(crate::t!("AU003/rejected-expired"));
        }
        Ok(r) => {
            let valid = r.total - r.expired;
            let msg = crate::t!(
                "AU003/still-valid",
                valid = valid,
                total = r.total,
                next = r.next_expiry_in_s.map(|s| crate::t!("AU003/next-expiry", time = secs(s))).unwrap_or_default(),
            );
            let verdict = if logged.is_some() { RuledOut } else { Unchecked };
            out.cause(Cause::RefreshExpired, verdict, msg);
        }
        Err(why) => out.cause(Cause::RefreshExpired, Unchecked, why.clone()),
    }

    // Missing from Redis.
    // (verdict, evidence, live): a design risk alone is advice, not a warning.
    let mut missing: Vec<(Verdict, Text, bool)> = Vec::new();
    if let (Ok(r), Ok(k)) = (&rows, &keys) {
        let valid = r.total - r.expired - r.revoked.unwrap_or(0).min(r.total - r.expired);
        if valid > 0 && k.complete && k.count == 0 {
            missing.push((Confirmed, crate::t!("AU003/redis-lost-all", valid = valid), true));
        } else if k.complete && k.count < valid {
            missing.push((Suspected, crate::t!("AU003/redis-holds-fewer", valid = valid, count = k.count), true));
        }
    }
    missing.extend(losses(&rv));
    for line in logs::hits_like(&logged, &["not found"]) {
        missing.push((Suspected, line, true));
    }
    // Redis asked but down: auth-service finds no session in it either, whatever it held.
    if redis.is_some() && redis_down {
        missing.push((Suspected, crate::t!("AU003/redis-down-no-token"), true));
    }
    // The redis container's exits the engine logged: when Redis lost data, or alone when it
    // keeps no AOF and exited within the session TTL.
    if let crate::problems::engine::Seen::Found(c) = docker.seen("redis")
        && let Some(e) = c.exits.as_ref().filter(|e| e.count > 0)
    {
        let text = crate::t!("AU003/redis-exited", count = e.count, ago = secs(e.last_age_s));
        let ttl = rv.family(SESSIONS).map_or(SESSION_TTL_S, session_ttl);
        if !missing.is_empty() {
            missing.push((Suspected, text, true));
        } else if rv.persistence.is_some() && !rv.aof() && (e.last_age_s as i64) < ttl {
            missing.push((Suspected, Text::join([crate::t!("AU003/exited-without-aof"), text], Sep::Clauses), true));
        }
    }
    let live = missing.iter().any(|(_, _, live)| *live);
    match missing.iter().map(|(v, _, _)| *v).max_by_key(|v| matches!(v, Confirmed)) {
        Some(v) if live => {
            let text = Text::join(missing.iter().map(|(_, t, _)| t.clone()), Sep::Clauses);
            out.cause(Cause::RefreshMissing, v, text.clone());
            status = status.max(if v == Confirmed { Status::Critical } else { Status::Warning });
            notes.push(text);
        }
        // Only design risks: the verdict says them, the status does not move.
        Some(v) => {
            let text = Text::join(missing.iter().map(|(_, t, _)| t.clone()), Sep::Clauses);
            out.cause(Cause::RefreshMissing, v, text.clone());
            out.advise(text);
        }
        None => kept(&mut out, &rv, &keys, legacy),
    }

    // Revoked. Some revoked rows are normal (every logout makes one): only all of the valid
    // ones revoked at once points at revocation as such; otherwise the failing token decides.
    match &rows {
        Ok(RefreshRows { revoked: Some(n), revoked_column: Some(col), total, expired, .. })
            if *n > 0 && *n >= total - expired =>
        {
            out.cause(Cause::RefreshRevoked, Suspected, crate::t!("AU003/mass-revocation", count = *n, column = col))
        }
        Ok(RefreshRows { revoked: Some(n), revoked_column: Some(col), .. }) if *n > 0 => {
            out.cause(Cause::RefreshRevoked, Unchecked, crate::t!("AU003/some-revoked", count = *n, column = col))
        }
        Ok(RefreshRows { revoked: Some(_), revoked_column: Some(col), .. }) => {
            out.cause(Cause::RefreshRevoked, RuledOut, crate::t!("AU003/none-revoked", column = col))
        }
        Ok(_) => out.cause(Cause::RefreshRevoked, Unchecked, crate::t!("AU003/revocation-unobservable")),
        Err(table_why) => match (rv.family(BLACKLIST_REFRESH), &rv.families) {
            (Some(b), _) => {
                let text = crate::t!("AU003/blacklisted-count", count = b.count, at_least = at_least(b));
                let text = if matches!(table, Table::Unread(_)) {
                    Text::join([table_why.clone(), text], Sep::Clauses)
                } else {
                    text
                };
                out.cause(Cause::RefreshRevoked, Unchecked, text)
            }
            // The blacklist could not be counted: a table that could not be read says why first.
            (None, Err(why)) => {
                let why = if matches!(table, Table::Unread(_)) { table_why.clone() } else { why.clone() };
                out.cause(Cause::RefreshRevoked, Unchecked, why)
            }
            (None, Ok(_)) => out.cause(Cause::RefreshRevoked, Unchecked, crate::t!("AU003/give-token")),
        },
    }

    // The session ended before the token.
    let session_logs = logs::hits_like(&logged, &["session not found"]);
    if !session_logs.is_empty() {
        out.cause(Cause::SessionExpired, Suspected, Text::join(session_logs, Sep::Clauses));
        status = status.max(Status::Warning);
    } else {
        match (rv.family(SESSIONS), &rv.families) {
            (Some(f), _) if f.count > 0 => out.cause(
                Cause::SessionExpired,
                Unchecked,
                crate::t!("AU003/sessions-live", ttl = secs(session_ttl(f) as f64),),
            ),
            (_, Err(why)) => out.cause(Cause::SessionExpired, Unchecked, why.clone()),
            _ => out.cause(Cause::SessionExpired, Unchecked, crate::t!("AU003/give-token")),
        }
    }

    let families_unread = rv.families.is_err();
    if !legacy && families_unread || legacy && rows.is_err() && keys.is_err() {
        status = status.max(Status::Unknown);
    }
    if let Some((token_status, token_notes)) = the_jwt(&mut out, token, redis, &rv, legacy) {
        status = status.max(token_status);
        notes.splice(0..0, token_notes);
    } else if legacy && let Some((token_status, token_notes)) = the_token(&mut out, pg, redis) {
        status = status.max(token_status);
        notes.splice(0..0, token_notes);
    }
    let summary = if !notes.is_empty() {
        Text::join(notes, Sep::Clauses)
    } else if legacy {
        match (&rows, &keys) {
            (Ok(r), Ok(k)) => crate::t!("AU003/counts", total = r.total, expired = r.expired, count = k.count),
            (Err(why), _) | (_, Err(why)) => crate::t!("AU003/not-fully-checked", why = why.clone()),
        }
    } else {
        match (&rv.families, rv.family(SESSIONS)) {
            (Ok(_), Some(f)) => crate::t!(
                "AU003/session-counts",
                sessions = f.count,
                blacklisted = rv.family(BLACKLIST_REFRESH).map_or(0, |b| b.count),
                trace = if token.is_none() { crate::t!("AU003/trace-hint") } else { Text::default() },
            ),
            (Err(why), _) => crate::t!("AU003/not-fully-checked", why = why.clone()),
            (Ok(_), None) => crate::t!("AU003/not-fully-checked", why = unread()),
        }
    };
    out.status(status, summary)
}

fn at_least(f: &KeyFamily) -> Text {
    if f.complete { Text::default() } else { crate::t!("AU003/at-least") }
}

/// The session TTL: the spec's, or longer when a session Redis holds has more time left.
fn session_ttl(sessions: &KeyFamily) -> i64 {
    sessions.ttl_max_s.unwrap_or(0).max(SESSION_TTL_S)
}

/// What in Redis's settings and history drops sessions and blacklist entries before their
/// time: a restart it cannot recover from, snapshots failing, evictions.
/// What Redis's settings and history say of lost sessions, each with whether it is a live
/// symptom (a restart, failing snapshots, evictions that happened) or only a design risk (no
/// persistence on a Redis that has not restarted, a policy that would evict): the latter is
/// advice and leaves the status alone.
fn losses(rv: &RedisView) -> Vec<(Verdict, Text, bool)> {
    let mut out = Vec::new();
    let Some(info) = rv.info else { return out };
    let sessions = rv.family(SESSIONS);
    let ttl = sessions.map_or(SESSION_TTL_S, session_ttl);
    let recent = (info.uptime_s as i64) < ttl;
    let up = secs(info.uptime_s as f64);
    if rv.persistence.is_some_and(Persistence::off) {
        let text = if recent {
            crate::t!("AU003/restarted-persisting-nothing", ago = up)
        } else {
            crate::t!("AU003/persists-nothing", ago = up)
        };
        out.push((Suspected, text, recent));
    } else if recent && rv.rdb_only() && sessions.is_some_and(|f| f.complete && f.count == 0) {
        out.push((Suspected, crate::t!("AU003/restarted-rdb-no-session", ago = up), true));
    }
    if let Some(p) = rv.persistence_info.filter(|p| p.rdb_last_bgsave_status == "err") {
        let since = p.last_save_age_s.map(|s| secs(s as f64)).unwrap_or_else(|| "?".into());
        out.push((Suspected, crate::t!("AU003/snapshots-failing", ago = since), true));
    }
    if info.maxmemory_policy.starts_with("allkeys-") {
        let said = if info.evicted_keys > 0 {
            crate::t!("AU003/evicted-since-start", count = info.evicted_keys)
        } else {
            Text::default()
        };
        let text = crate::t!("AU003/evicts-like-cache", policy = &info.maxmemory_policy, evicted = said);
        out.push((Suspected, text, info.evicted_keys > 0));
    } else if info.maxmemory_policy.starts_with("volatile-") && info.evicted_keys > 0 {
        out.push((
            Suspected,
            crate::t!("AU003/evicts-expiring", policy = &info.maxmemory_policy, count = info.evicted_keys),
            true,
        ));
    }
    out
}

/// refresh-missing when nothing points at a loss: ruled out when Redis visibly keeps what
/// auth-service needs, unchecked when it cannot be seen.
fn kept(out: &mut Finding, rv: &RedisView, keys: &Result<&KeyFamily, Text>, legacy: bool) {
    let (Some(p), Some(info)) = (rv.persistence, rv.info) else {
        let why = match (keys, &rv.families) {
            (Err(why), _) if legacy => why.clone(),
            (_, Err(why)) => why.clone(),
            _ => crate::t!("AU003/persistence-unreadable"),
        };
        return out.cause(Cause::RefreshMissing, Unchecked, why);
    };
    let settings = crate::t!(
        "AU003/redis-settings",
        appendonly = &p.appendonly,
        save = format!("{:?}", p.save),
        policy = &info.maxmemory_policy,
        up = secs(info.uptime_s as f64),
    );
    match (keys, rv.family(SESSIONS), &rv.families) {
        (Ok(k), _, _) if legacy && k.count > 0 => out.cause(
            Cause::RefreshMissing,
            RuledOut,
            crate::t!("AU003/redis-holds-keys", at_least = at_least(k), count = k.count, settings = settings),
        ),
        (_, Some(f), _) if f.count > 0 => out.cause(
            Cause::RefreshMissing,
            RuledOut,
            crate::t!(
                "AU003/redis-holds-sessions",
                at_least = at_least(f),
                count = f.count,
                ttl = f.ttl_max_s.map(|t| secs(t as f64)).unwrap_or_else(|| "-".into()),
                settings = settings,
            ),
        ),
        (_, Some(_), _) => {
            out.cause(Cause::RefreshMissing, Unchecked, crate::t!("AU003/no-session", settings = settings))
        }
        (_, None, Err(why)) => out.cause(Cause::RefreshMissing, Unchecked, why.clone()),
        (_, None, Ok(_)) => {
            out.cause(Cause::RefreshMissing, Unchecked, crate::t!("AU003/no-session", settings = settings))
        }
    }
}

/// With `--refresh-token` as a JWT: its own `exp`, its blacklist entry and its session judge
/// the causes again, ahead of the stack-wide evidence. None without such a token.
fn the_jwt(
    out: &mut Finding,
    token: Option<&RefreshTokenFacts>,
    redis: Option<&RedisFacts>,
    rv: &RedisView,
    legacy: bool,
) -> Option<(Status, Vec<Text>)> {
    let t = token?;
    let view = t.view.as_ref().ok()?;
    // Where no table or refresh_token:* key exists, the stack-wide texts of these causes only
    // ask for the token: the token's own evidence replaces them.
    if !legacy {
        for c in [Cause::RefreshExpired, Cause::RefreshRevoked, Cause::SessionExpired] {
            if out.verdict_of(c) == Some(Unchecked) {
                out.forget(c);
            }
        }
    }
    let mut status = Status::Ok;
    let mut notes = Vec::new();
    fn note(status: &mut Status, notes: &mut Vec<Text>, s: Status, text: Text) {
        *status = (*status).max(s);
        notes.push(text);
    }
    out.fact("refresh_token", view);
    let expired = t.expired_for_s();
    let left = view.exp.map(|e| e - t.checked_at);
    match (expired, left) {
        (Some(ago), _) => {
            let text = crate::t!("AU003/jwt-expired", ago = secs(ago as f64));
            out.overrule(Cause::RefreshExpired, Confirmed, text.clone());
            note(&mut status, &mut notes, Status::Warning, text);
        }
        (None, Some(l)) => {
            out.overrule(Cause::RefreshExpired, RuledOut, crate::t!("AU003/jwt-valid", time = secs(l.max(0) as f64)))
        }
        (None, None) => out.raise(Cause::RefreshExpired, Unchecked, crate::t!("AU003/jwt-no-exp")),
    }
    let looked = redis.and_then(|r| r.app.as_ref()).and_then(|a| a.refresh_session.as_ref());
    let rs = match looked {
        Some(Ok(rs)) => rs,
        Some(Err(e)) => {
            let why = crate::t!("AU003/jwt-keys-unreadable", error = e);
            for c in [Cause::RefreshRevoked, Cause::SessionExpired, Cause::RefreshMissing] {
                out.raise(c, Unchecked, why.clone());
            }
            return Some((status, notes));
        }
        None => {
            let why = crate::t!("AU003/jwt-keys-not-read");
            for c in [Cause::RefreshRevoked, Cause::SessionExpired, Cause::RefreshMissing] {
                out.raise(c, Unchecked, why.clone());
            }
            return Some((status, notes));
        }
    };
    out.fact("refresh_session", rs);
    let ttl_text = |ttl: Option<i64>| {
        ttl.map(|t| crate::t!("AU003/key-expires-in", time = secs(t as f64)))
            .unwrap_or_else(|| crate::t!("AU003/key-no-ttl"))
    };
    let blacklisted = rs.blacklist.as_ref().is_some_and(|b| b.exists);
    match &rs.blacklist {
        Some(b) if b.exists => {
            let text = crate::t!("AU003/jwt-blacklisted", key = &b.key, ttl = ttl_text(b.ttl_s));
            out.overrule(Cause::RefreshRevoked, Confirmed, text.clone());
            note(&mut status, &mut notes, Status::Warning, text);
        }
        Some(b) => out.overrule(Cause::RefreshRevoked, RuledOut, crate::t!("AU003/jwt-not-blacklisted", key = &b.key)),
        None => out.raise(Cause::RefreshRevoked, Unchecked, crate::t!("AU003/jwt-no-jti")),
    }
    let mut session_ok = true;
    match &rs.session {
        None => {
            out.overrule(Cause::SessionExpired, RuledOut, crate::t!("AU003/jwt-no-session-claim"));
        }
        Some(k) if k.exists => {
            let text = crate::t!("AU003/jwt-session-exists", key = &k.key, ttl = ttl_text(k.ttl_s));
            out.overrule(Cause::SessionExpired, RuledOut, text.clone());
            out.overrule(Cause::RefreshMissing, RuledOut, text);
            if let (Some(ttl), Some(l)) = (k.ttl_s, left.filter(|_| expired.is_none()))
                && ttl < l
            {
                notes.push(crate::t!(
                    "AU003/jwt-session-ends-first",
                    session = secs(ttl as f64),
                    token = secs(l as f64)
                ));
            }
            if rs.session_holds_token == Some(false) && !blacklisted {
                let text = crate::t!("AU003/jwt-replaced", key = &k.key);
                out.overrule(Cause::RefreshRevoked, Suspected, text.clone());
                note(&mut status, &mut notes, Status::Warning, text);
                session_ok = false;
            }
        }
        Some(k) if expired.is_some() || blacklisted => {
            session_ok = false;
            out.raise(Cause::SessionExpired, Unchecked, crate::t!("AU003/jwt-session-gone-as-expected", key = &k.key));
        }
        Some(k) => {
            session_ok = false;
            let (s_status, s_notes) = session_gone(out, t, &k.key, rv);
            status = status.max(s_status);
            notes.extend(s_notes);
        }
    }
    if expired.is_none() && !blacklisted && session_ok {
        notes.push(crate::t!("AU003/jwt-fails-elsewhere"));
    }
    Some((status, notes))
}

/// A valid, unrevoked token whose session is gone: ended by its TTL (the token outlives it),
/// or lost by Redis within it. The token's age against the session TTL tells which.
fn session_gone(out: &mut Finding, t: &RefreshTokenFacts, key: &str, rv: &RedisView) -> (Status, Vec<Text>) {
    let sessions = rv.family(SESSIONS);
    let longest = sessions.and_then(|f| f.ttl_max_s);
    let age = t.view.as_ref().ok().and_then(|v| v.iat).map(|iat| t.checked_at - iat);
    let restart = rv.info.map(|i| i.uptime_s as i64);
    let restarted_since = match (age, restart) {
        (Some(a), Some(up)) if up < a => crate::t!("AU003/jwt-restarted-since", up = secs(up as f64)),
        _ => Text::default(),
    };
    match age {
        Some(a) if longest.is_some_and(|m| m > a) || a < SESSION_TTL_S => {
            let ttl = longest.unwrap_or(0).max(SESSION_TTL_S);
            let text = crate::t!(
                "AU003/jwt-session-lost",
                key = key,
                age = secs(a as f64),
                ttl = secs(ttl as f64),
                restarted = restarted_since,
            );
            out.overrule(Cause::RefreshMissing, Confirmed, text.clone());
            out.overrule(
                Cause::SessionExpired,
                RuledOut,
                crate::t!("AU003/jwt-within-ttl", age = secs(a as f64), ttl = secs(ttl as f64)),
            );
            (Status::Critical, vec![text])
        }
        Some(a) => {
            // Sessions Redis holds all shorter-lived than the spec's TTL: that TTL is this stack's.
            let known = longest.is_some_and(|m| m <= SESSION_TTL_S);
            let text = crate::t!(
                "AU003/jwt-session-expired",
                key = key,
                age = secs(a as f64),
                ttl = secs(SESSION_TTL_S as f64)
            );
            out.overrule(Cause::SessionExpired, if known { Confirmed } else { Suspected }, text.clone());
            if restart.is_some_and(|up| up < a) && !rv.aof() {
                out.raise(Cause::RefreshMissing, Suspected, restarted_since);
            }
            (Status::Warning, vec![text])
        }
        None => {
            let text = crate::t!("AU003/jwt-session-gone", key = key);
            out.overrule(Cause::SessionExpired, Suspected, text.clone());
            out.raise(Cause::RefreshMissing, Suspected, text.clone());
            (Status::Warning, vec![text])
        }
    }
}

/// With `--refresh-token`: the failing token's own row and key judge the causes again; the
/// table-wide figures stay after them as context. None without a token.
fn the_token(out: &mut Finding, pg: Option<&PgAppFacts>, redis: Option<&RedisFacts>) -> Option<(Status, Vec<Text>)> {
    let row = pg.and_then(|p| p.refresh_token_row.as_ref());
    let key = redis.and_then(|r| r.app.as_ref()).and_then(|a| a.refresh_token_key.as_ref());
    if row.is_none() && key.is_none() {
        return None;
    }
    let mut status = Status::Ok;
    let mut notes = Vec::new();
    let mut note = |status: &mut Status, s: Status, text: Text| {
        *status = (*status).max(s);
        notes.push(text);
    };
    let mut row_valid = false;
    match row {
        Some(Ok(Some(r))) => {
            let id = r.id.as_deref().unwrap_or("?");
            match r.expires_in_s {
                Some(t) if t < 0.0 => {
                    let text = crate::t!("AU003/token-expired", ago = secs(-t), id = id);
                    out.overrule(Cause::RefreshExpired, Confirmed, text.clone());
                    note(&mut status, Status::Warning, text);
                }
                Some(t) => out.overrule(
                    Cause::RefreshExpired,
                    RuledOut,
                    crate::t!("AU003/token-valid", time = secs(t), id = id),
                ),
                None => {}
            }
            match r.revoked {
                Some(true) => {
                    let text = crate::t!("AU003/token-revoked", id = id);
                    out.overrule(Cause::RefreshRevoked, Confirmed, text.clone());
                    note(&mut status, Status::Warning, text);
                }
                Some(false) => {
                    out.overrule(Cause::RefreshRevoked, RuledOut, crate::t!("AU003/token-not-revoked", id = id))
                }
                None => {}
            }
            row_valid = r.expires_in_s.is_none_or(|t| t >= 0.0) && r.revoked != Some(true);
        }
        Some(Ok(None)) => {
            let text = crate::t!("AU003/token-no-row");
            out.overrule(Cause::RefreshExpired, Suspected, text.clone());
            note(&mut status, Status::Warning, text);
        }
        Some(Err(e)) => out.raise(Cause::RefreshExpired, Unchecked, crate::t!("AU003/token-row-unreadable", error = e)),
        None => {}
    }
    match key {
        Some(Ok(k)) => match &k.found {
            Some(f) => out.overrule(
                Cause::RefreshMissing,
                RuledOut,
                crate::t!(
                    "AU003/token-in-redis",
                    key = &f.key,
                    ttl = f
                        .ttl_s
                        .map(|t| crate::t!("AU003/key-expires-in", time = secs(t as f64)))
                        .unwrap_or_else(|| crate::t!("AU003/key-no-ttl")),
                ),
            ),
            None if k.complete && row_valid => {
                let text = crate::t!("AU003/token-lost", scanned = k.scanned);
                out.overrule(Cause::RefreshMissing, Confirmed, text.clone());
                note(&mut status, Status::Critical, text);
            }
            None if k.complete => {
                out.raise(Cause::RefreshMissing, Unchecked, crate::t!("AU003/token-not-in-redis", scanned = k.scanned))
            }
            None => {
                out.raise(Cause::RefreshMissing, Unchecked, crate::t!("AU003/token-scan-stopped", scanned = k.scanned))
            }
        },
        Some(Err(e)) => out.raise(Cause::RefreshMissing, Unchecked, crate::t!("AU003/token-not-looked-for", error = e)),
        None => {}
    }
    if row_valid && matches!(key, Some(Ok(TokenKeySearch { found: Some(_), .. }))) {
        notes.push(crate::t!("AU003/fails-elsewhere"));
    }
    Some((status, notes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::of::docker::{ContainerFacts, DockerFacts};
    use crate::facts::of::pg_app::TokenRow;
    use crate::facts::of::redis::{RedisConn, RedisError, RedisErrorKind, RedisInfo};
    use crate::facts::of::redis_app::{RedisAppFacts, TokenKey};
    use crate::problems::fixtures::*;

    /// `total` rows in authdb.refresh_tokens, `expired` of them expired, none revoked.
    fn rows(total: u64, expired: u64) -> RefreshRows {
        RefreshRows {
            total,
            expired,
            revoked: Some(0),
            revoked_column: Some("revoked".into()),
            last_expired_age_s: Some(7200.0),
            next_expiry_in_s: Some(86_400.0),
        }
    }

    fn pg(r: RefreshRows) -> PgAppFacts {
        PgAppFacts { refresh_rows: Some(Ok(r)), ..Default::default() }
    }

    /// Redis with `keys` refresh_token:* keys, persisting, evicting only keys with a TTL.
    fn redis(keys: u64) -> RedisFacts {
        let family = KeyFamily { pattern: "refresh_token:*".into(), count: keys, complete: true, ..Default::default() };
        let persistence = Persistence { appendonly: "yes".into(), save: "3600 1 300 100".into(), ..Default::default() };
        RedisFacts {
            conn: Some(RedisConn { address: "127.0.0.1:6379".into(), latency_ms: 1, result: Ok(()) }),
            info: Some(RedisInfo { uptime_s: 86_400, maxmemory_policy: "volatile-lru".into(), ..Default::default() }),
            app: Some(RedisAppFacts {
                families: Some(Ok(families(&[(FAMILY_REFRESH, keys, None)]))),
                refresh_keys: Some(Ok(family)),
                persistence: Some(Ok(persistence)),
                profile: None,
                refresh_token_key: None,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    const FAMILY_REFRESH: &str = "refresh_token:*";

    /// One complete scan: `(pattern, count, longest TTL)`; every other family empty.
    fn families(counts: &[(&str, u64, Option<i64>)]) -> Families {
        let families = crate::facts::of::redis_app::FAMILIES
            .iter()
            .map(|p| {
                let (count, ttl) = counts.iter().find(|(q, ..)| q == p).map_or((0, None), |(_, c, t)| (*c, *t));
                let ttl = ttl.filter(|_| count > 0);
                KeyFamily {
                    pattern: (*p).into(),
                    count,
                    ttl_max_s: ttl,
                    ttl_min_s: ttl,
                    complete: true,
                    ..Default::default()
                }
            })
            .collect();
        Families { families, complete: true, ..Default::default() }
    }

    /// The spec's Redis (`07-redis/08`): RDB snapshots, no AOF, volatile-ttl, up for a day,
    /// holding `sessions` sessions (the longest with 50 minutes left) and 2 refresh blacklist
    /// entries; no refresh_token:* key (the stack has none).
    fn spec_redis(sessions: u64) -> RedisFacts {
        let fams = families(&[(SESSIONS, sessions, Some(3000)), (BLACKLIST_REFRESH, 2, Some(500_000))]);
        RedisFacts {
            conn: Some(RedisConn { address: "127.0.0.1:6379".into(), latency_ms: 1, result: Ok(()) }),
            info: Some(RedisInfo { uptime_s: 86_400, maxmemory_policy: "volatile-ttl".into(), ..Default::default() }),
            app: Some(RedisAppFacts {
                refresh_keys: Some(Ok(fams.get(FAMILY_REFRESH).cloned().unwrap())),
                families: Some(Ok(fams)),
                persistence: Some(Ok(Persistence {
                    appendonly: "no".into(),
                    save: "900 1 300 10 60 10000".into(),
                    ..Default::default()
                })),
                persistence_info: Some(Ok(PersistenceInfo {
                    rdb_last_bgsave_status: "ok".into(),
                    last_save_age_s: Some(60),
                    ..Default::default()
                })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// authdb as the spec has it: `users` only.
    fn spec_authdb() -> PgAppFacts {
        PgAppFacts {
            refresh_rows: Some(Err("relation \"refresh_tokens\" does not exist".into())),
            ..Default::default()
        }
    }

    fn with_uptime(mut r: RedisFacts, uptime_s: u64) -> RedisFacts {
        r.info.as_mut().unwrap().uptime_s = uptime_s;
        r
    }

    fn auth_logs(hits: &[(&str, &str)]) -> DockerFacts {
        engine(vec![with_logs(running("auth-service"), hits)])
    }

    fn run(pg: Option<&PgAppFacts>, redis: Option<&RedisFacts>, docker: &DockerFacts) -> Finding {
        diagnose(pg, redis, None, &view(docker))
    }

    #[test]
    fn healthy_facts_rule_everything_out() {
        let f = run(Some(&pg(rows(10, 2))), Some(&redis(8)), &auth_logs(&[]));
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_eq!(f.summary.en(), "10 refresh tokens in authdb (2 expired), 8 in Redis");
        assert!(
            verdicts(&f).iter().filter(|(id, _)| *id != "session-expired").all(|(_, v)| *v == RuledOut),
            "{:?}",
            f.causes
        );
        assert_cause(&f, "refresh-expired", RuledOut, "8 of 10 refresh tokens in authdb are still valid");
        assert_cause(
            &f,
            "refresh-missing",
            RuledOut,
            "Redis holds 8 refresh_token:* keys; it persists (appendonly yes",
        );
        assert_cause(&f, "refresh-revoked", RuledOut, "no refresh token is revoked (revoked)");
    }

    #[test]
    fn each_cause_is_confirmed_or_suspected_from_its_own_evidence() {
        let clean = auth_logs(&[]);
        // Every row expired.
        let f = run(Some(&pg(rows(5, 5))), Some(&redis(0)), &clean);
        assert_eq!(f.status, Status::Warning);
        assert_cause(
            &f,
            "refresh-expired",
            Confirmed,
            "every refresh token in authdb has expired (5 rows, the last 2h ago)",
        );
        // No refresh_token:* key rules nothing out: sessions decide, and there are none.
        assert_cause(&f, "refresh-missing", Unchecked, "Redis holds no session:* key");
        // auth-service refused an expired token although valid rows remain.
        let logged = auth_logs(&[("AU003", "Refresh token is invalid or expired")]);
        let f = run(Some(&pg(rows(10, 2))), Some(&redis(8)), &logged);
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "refresh-expired", Confirmed, "auth-service logged \"Refresh token is invalid or expired\"");

        // Valid rows, no key at all: Redis lost them.
        let f = run(Some(&pg(rows(10, 2))), Some(&redis(0)), &clean);
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "refresh-missing",
            Confirmed,
            "authdb holds 8 valid refresh tokens but Redis holds no refresh_token:* key",
        );
        // ... and when: the redis container's exits, as the engine logged them.
        let restarted = ContainerFacts {
            exits: Some(crate::facts::of::docker_events::ExitEvents {
                count: 1,
                last_age_s: 7200.0,
                last_codes: vec![0],
            }),
            ..running("redis")
        };
        let f = run(Some(&pg(rows(10, 2))), Some(&redis(0)), &engine(vec![running("auth-service"), restarted]));
        assert_cause(
            &f,
            "refresh-missing",
            Confirmed,
            "the redis container exited 1 time(s) in the last 24h, the last 2h ago",
        );
        // Fewer keys than valid rows (revoked rows do not count as valid).
        let f = run(Some(&pg(rows(10, 2))), Some(&redis(3)), &clean);
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "refresh-missing", Suspected, "authdb holds 8 valid refresh tokens, Redis only 3");
        let f = run(Some(&pg(RefreshRows { revoked: Some(5), ..rows(10, 2) })), Some(&redis(3)), &clean);
        assert_cause(&f, "refresh-missing", RuledOut, "Redis holds 3 refresh_token:* keys");
        // Settings that lose keys.
        let mut evicting = redis(8);
        if let Some(i) = evicting.info.as_mut() {
            i.maxmemory_policy = "allkeys-lru".into();
            i.evicted_keys = 120;
        }
        let f = run(Some(&pg(rows(10, 2))), Some(&evicting), &clean);
        assert_eq!(f.status, Status::Warning);
        assert_cause(
            &f,
            "refresh-missing",
            Suspected,
            "maxmemory-policy is allkeys-lru: Redis may evict sessions, blacklist entries and refresh tokens like any cache key and has evicted 120 keys",
        );
        let mut volatile = redis(8);
        if let Some(Ok(p)) = volatile.app.as_mut().and_then(|a| a.persistence.as_mut()) {
            *p = Persistence { appendonly: "no".into(), save: String::new(), ..Default::default() };
        }
        let f = run(Some(&pg(rows(10, 2))), Some(&volatile), &clean);
        // A design risk with no live symptom (no restart since): advice, the status stays ok.
        assert_eq!(f.status, Status::Ok);
        assert_eq!(f.advice.len(), 1);
        assert_cause(
            &f,
            "refresh-missing",
            Suspected,
            "Redis persists nothing (appendonly no, save \"\"): a restart drops every session and blacklist entry (it last started 24h ago)",
        );
        let logged = auth_logs(&[("AU003", "Refresh token not found in database")]);
        let f = run(Some(&pg(rows(10, 2))), Some(&redis(8)), &logged);
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "refresh-missing", Suspected, "Refresh token not found in database");
        assert_cause(&f, "refresh-expired", RuledOut, "still valid");

        // Some revoked rows are normal (a logout leaves one): the failing token must say.
        let f = run(Some(&pg(RefreshRows { revoked: Some(3), ..rows(10, 2) })), Some(&redis(8)), &clean);
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "refresh-revoked", Unchecked, "3 refresh tokens are revoked (revoked), as logouts leave them");
        assert_cause(&f, "refresh-revoked", Unchecked, "--refresh-token");
        // Every unexpired one revoked at once is suspected.
        let f = run(Some(&pg(RefreshRows { revoked: Some(8), ..rows(10, 2) })), Some(&redis(8)), &clean);
        assert_cause(&f, "refresh-revoked", Suspected, "every unexpired refresh token is revoked (8, revoked)");
    }

    /// authdb with `rows` and the failing token's own row.
    fn pg_with(r: RefreshRows, token_row: Option<TokenRow>) -> PgAppFacts {
        PgAppFacts { refresh_token_row: Some(Ok(token_row)), ..pg(r) }
    }

    /// Redis with `keys` keys, where the search for the token found `found`.
    fn redis_with(keys: u64, found: Option<TokenKey>, complete: bool) -> RedisFacts {
        let mut r = redis(keys);
        let app = r.app.as_mut().unwrap();
        app.refresh_token_key = Some(Ok(TokenKeySearch { found, scanned: keys, complete }));
        r
    }

    fn token_row(expires_in_s: f64, revoked: bool) -> Option<TokenRow> {
        Some(TokenRow {
            id: Some("42".into()),
            expires_in_s: Some(expires_in_s),
            revoked: Some(revoked),
            matched_by: "token".into(),
        })
    }

    fn in_redis() -> Option<TokenKey> {
        Some(TokenKey { key: "refresh_token:42".into(), ttl_s: Some(3600), matched_by: "value".into() })
    }

    #[test]
    fn the_failing_token_is_judged_by_its_own_row_and_key() {
        let clean = auth_logs(&[]);
        let revoked_3 = RefreshRows { revoked: Some(3), ..rows(10, 2) };
        // Valid, not revoked, in Redis: every cause ruled out for this token.
        let f = run(
            Some(&pg_with(revoked_3.clone(), token_row(86_400.0, false))),
            Some(&redis_with(8, in_redis(), true)),
            &clean,
        );
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert!(f.summary.en().starts_with("this token is valid, not revoked and held in Redis"), "{}", f.summary.en());
        assert_cause(&f, "refresh-expired", RuledOut, "this token is valid in authdb for 24h more (id 42)");
        assert_cause(
            &f,
            "refresh-revoked",
            RuledOut,
            "this token's row is not revoked (id 42); 3 refresh tokens are revoked",
        );
        assert_cause(&f, "refresh-missing", RuledOut, "Redis holds this token in refresh_token:42 (expires in 60m)");
        // Expired.
        let f =
            run(Some(&pg_with(revoked_3.clone(), token_row(-7200.0, false))), Some(&redis_with(8, None, true)), &clean);
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "refresh-expired", Confirmed, "this token expired 2h ago (authdb refresh_tokens id 42)");
        assert!(f.summary.en().starts_with("this token expired 2h ago"), "{}", f.summary.en());
        assert_cause(
            &f,
            "refresh-missing",
            RuledOut,
            "none of Redis's 8 refresh_token:* keys holds this token, as expected",
        );
        // Revoked.
        let f =
            run(Some(&pg_with(revoked_3.clone(), token_row(86_400.0, true))), Some(&redis_with(8, None, true)), &clean);
        assert_cause(&f, "refresh-revoked", Confirmed, "this token's row is marked revoked (id 42)");
        assert_eq!(f.status, Status::Warning);
        // Valid in authdb, gone from Redis: Redis lost it.
        let f = run(
            Some(&pg_with(revoked_3.clone(), token_row(86_400.0, false))),
            Some(&redis_with(8, None, true)),
            &clean,
        );
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "refresh-missing",
            Confirmed,
            "this token is valid in authdb, but none of Redis's 8 refresh_token:* keys holds it",
        );
        // The scan ran out of time: not found is not proof.
        let f = run(
            Some(&pg_with(revoked_3.clone(), token_row(86_400.0, false))),
            Some(&redis_with(8, None, false)),
            &clean,
        );
        assert_ne!(f.verdict_of(Cause::RefreshMissing), Some(Confirmed));
        assert!(f.causes.iter().any(|c| c.evidence.en().contains("the scan stopped at its time budget")));
        // Unknown to authdb.
        let f = run(Some(&pg_with(revoked_3, None)), Some(&redis_with(8, None, true)), &clean);
        assert_cause(&f, "refresh-expired", Suspected, "no row of authdb's refresh_tokens holds this token");
        assert_eq!(f.status, Status::Warning);
    }

    #[test]
    fn what_cannot_be_read_stays_unchecked() {
        let clean = auth_logs(&[]);
        // No revocation column: nothing outside auth-service shows a revoked token.
        let f =
            run(Some(&pg(RefreshRows { revoked: None, revoked_column: None, ..rows(10, 2) })), Some(&redis(8)), &clean);
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "refresh-revoked", Unchecked, "no revoked/is_revoked/revoked_at column");

        // Valid rows but auth-service's logs not read: one user's token may still have expired.
        let f = diagnose(Some(&pg(rows(10, 2))), Some(&redis(8)), None, &DockerView::none());
        assert_eq!(f.status, Status::Ok);
        assert_cause(
            &f,
            "refresh-expired",
            Unchecked,
            "8 of 10 refresh tokens in authdb are still valid (the next expires in 24h)",
        );

        // Neither store read.
        let f = run(None, None, &clean);
        assert_eq!(f.status, Status::Unknown);
        assert!(f.summary.en().contains("not fully checked"), "{}", f.summary.en());
        assert_cause(&f, "refresh-expired", Unchecked, "authdb was not read");
        assert_cause(&f, "refresh-missing", Unchecked, "Redis is unreachable (see RD001)");
        assert_cause(&f, "refresh-revoked", Unchecked, "authdb was not read");

        let unreadable = PgAppFacts {
            refresh_rows: Some(Err("permission denied for table refresh_tokens".into())),
            ..Default::default()
        };
        let f = run(Some(&unreadable), Some(&redis(8)), &clean);
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "refresh-expired", Unchecked, "authdb could not be read: permission denied");
        assert_cause(&f, "refresh-revoked", Unchecked, "authdb could not be read: permission denied");

        let mut down = redis(8);
        down.conn = Some(RedisConn {
            address: "127.0.0.1:6379".into(),
            latency_ms: 1,
            result: Err(RedisError { kind: RedisErrorKind::Refused, message: "Connection refused".into() }),
        });
        down.info = None;
        down.app = None;
        // Redis down: no refresh token can be found in it, so refreshes fail (RD001 explains it).
        let f = run(Some(&pg(rows(10, 2))), Some(&down), &clean);
        assert_cause(&f, "refresh-missing", Suspected, "Redis is unreachable (see RD001): while it is down");
        assert_eq!(f.status, Status::Warning);

        let mut not_read = redis(8);
        not_read.app = None;
        let f = run(Some(&pg(rows(10, 2))), Some(&not_read), &clean);
        assert_cause(&f, "refresh-missing", Unchecked, "Redis was not read");

        let mut refused = redis(8);
        if let Some(a) = refused.app.as_mut() {
            let e = "NOPERM this user has no permissions to run the 'scan' command";
            a.refresh_keys = Some(Err(e.into()));
            a.families = Some(Err(e.into()));
        }
        let f = run(Some(&pg(rows(10, 2))), Some(&refused), &clean);
        assert_cause(&f, "refresh-missing", Unchecked, "NOPERM");

        let mut no_config = redis(8);
        if let Some(a) = no_config.app.as_mut() {
            a.persistence = Some(Err("ERR unknown command 'CONFIG'".into()));
        }
        let f = run(Some(&pg(rows(10, 2))), Some(&no_config), &clean);
        assert_cause(&f, "refresh-missing", Unchecked, "Redis's persistence settings could not be read");
    }

    #[test]
    fn the_specs_stack_is_judged_by_its_sessions_not_by_keys_it_does_not_have() {
        let clean = auth_logs(&[]);
        // Healthy: sessions held, Redis up for a day, snapshots fine, no eviction.
        let f = run(Some(&spec_authdb()), Some(&spec_redis(5)), &clean);
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert!(f.summary.en().starts_with("5 sessions in Redis, 2 refresh tokens blacklisted"), "{}", f.summary.en());
        assert_cause(&f, "refresh-missing", RuledOut, "Redis holds 5 session:* keys (TTL up to 50m)");
        assert!(!f.causes.iter().any(|c| c.evidence.en().contains("refresh_token:*")), "{:?}", f.causes);
        assert_cause(&f, "refresh-expired", Unchecked, "authdb has no refresh_tokens table");
        assert_cause(&f, "refresh-revoked", Unchecked, "Redis holds 2 blacklist:refresh:* entries");
        assert_cause(&f, "session-expired", Unchecked, "sessions live 60m here");

        // Restarted two minutes ago, RDB only, no session left: everyone was logged out.
        let f = run(Some(&spec_authdb()), Some(&with_uptime(spec_redis(0), 120)), &clean);
        assert_eq!(f.status, Status::Warning, "{}", f.summary.en());
        assert_cause(
            &f,
            "refresh-missing",
            Suspected,
            "Redis started 2m ago with RDB snapshots only (no AOF) and holds no session:* key",
        );
        // The same restart with sessions back (people logged in again): RDB kept them.
        let f = run(Some(&spec_authdb()), Some(&with_uptime(spec_redis(3), 120)), &clean);
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        // Nothing persisted and a recent start: every older session is gone, whatever is left.
        let mut off = with_uptime(spec_redis(3), 120);
        if let Some(Ok(p)) = off.app.as_mut().and_then(|a| a.persistence.as_mut()) {
            p.save = String::new();
        }
        let f = run(Some(&spec_authdb()), Some(&off), &clean);
        assert_cause(
            &f,
            "refresh-missing",
            Suspected,
            "Redis started 2m ago, within the session TTL, and persists nothing",
        );
        // No session on a Redis up for a day: maybe nobody logged in; not a loss, not ok either.
        let f = run(Some(&spec_authdb()), Some(&spec_redis(0)), &clean);
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "refresh-missing", Unchecked, "Redis holds no session:* key");
        // Evictions under volatile-ttl: sessions carry TTLs, so they go too.
        let mut evicting = spec_redis(5);
        evicting.info.as_mut().unwrap().evicted_keys = 40;
        let f = run(Some(&spec_authdb()), Some(&evicting), &clean);
        assert_cause(
            &f,
            "refresh-missing",
            Suspected,
            "maxmemory-policy is volatile-ttl and Redis has evicted 40 keys",
        );
        // Snapshots failing.
        let mut failing = spec_redis(5);
        if let Some(Ok(p)) = failing.app.as_mut().and_then(|a| a.persistence_info.as_mut()) {
            p.rdb_last_bgsave_status = "err".into();
            p.last_save_age_s = Some(7200);
        }
        let f = run(Some(&spec_authdb()), Some(&failing), &clean);
        assert_cause(&f, "refresh-missing", Suspected, "Redis's last RDB snapshot failed");
        // The redis container exited 20 minutes ago, and Redis keeps no AOF.
        let restarted = ContainerFacts {
            exits: Some(crate::facts::of::docker_events::ExitEvents {
                count: 1,
                last_age_s: 1200.0,
                last_codes: vec![137],
            }),
            ..running("redis")
        };
        let f = run(Some(&spec_authdb()), Some(&spec_redis(5)), &engine(vec![running("auth-service"), restarted]));
        assert_cause(
            &f,
            "refresh-missing",
            Suspected,
            "Redis keeps no AOF, so a restart within the session TTL loses sessions",
        );
        // auth-service said "Session not found".
        let f = run(Some(&spec_authdb()), Some(&spec_redis(5)), &auth_logs(&[("AU003", "Session not found")]));
        assert_cause(&f, "session-expired", Suspected, "Session not found");
        assert_eq!(f.status, Status::Warning);
    }

    const NOW: i64 = 1_800_000_000;

    /// A refresh JWT issued `age` seconds ago, valid `left` seconds more.
    fn jwt(age: i64, left: i64) -> RefreshTokenFacts {
        RefreshTokenFacts {
            view: Ok(crate::jwt::RefreshView {
                alg: "RS256".into(),
                sub: Some("u-1".into()),
                exp: Some(NOW + left),
                iat: Some(NOW - age),
                token_type: Some("refresh".into()),
                jti: Some("a1b2c3d4".into()),
                session_claim: Some("sid".into()),
                session_id: Some("e5f6a7b8".into()),
            }),
            checked_at: NOW,
            leeway_s: 60,
        }
    }

    use crate::facts::of::redis_app::{KeyState, RefreshSession};

    /// What the reads found: blacklisted or not, the session with its TTL or gone.
    fn looked(r: RedisFacts, blacklisted: bool, session: Option<i64>) -> RedisFacts {
        let mut r = r;
        r.app.as_mut().unwrap().refresh_session = Some(Ok(RefreshSession {
            blacklist: Some(KeyState {
                key: "blacklist:refresh:<jti a1b2c3d4>".into(),
                exists: blacklisted,
                ttl_s: blacklisted.then_some(500_000),
            }),
            session: Some(KeyState {
                key: "session:u-1:<sid e5f6a7b8>".into(),
                exists: session.is_some(),
                ttl_s: session,
            }),
            session_holds_token: None,
        }));
        r
    }

    fn with_token(redis: &RedisFacts, token: &RefreshTokenFacts) -> Finding {
        diagnose(Some(&spec_authdb()), Some(redis), Some(token), &view(&auth_logs(&[])))
    }

    #[test]
    fn a_refresh_jwt_is_judged_by_its_exp_its_blacklist_entry_and_its_session() {
        // Valid: unexpired, not blacklisted, session there.
        let f = with_token(&looked(spec_redis(5), false, Some(1800)), &jwt(1800, 600_000));
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_cause(&f, "refresh-expired", RuledOut, "this token is valid for 6d");
        assert_cause(&f, "refresh-revoked", RuledOut, "blacklist:refresh:<jti a1b2c3d4> does not exist");
        assert_cause(&f, "session-expired", RuledOut, "its session session:u-1:<sid e5f6a7b8> exists (expires in 30m)");
        assert_cause(&f, "refresh-missing", RuledOut, "its session session:u-1:<sid e5f6a7b8> exists");
        assert!(f.summary.en().contains("its session ends in 30m, the token only in 6d"), "{}", f.summary.en());
        assert!(f.summary.en().contains("the refresh fails elsewhere"), "{}", f.summary.en());
        // Expired (past exp by more than the leeway).
        let f = with_token(&looked(spec_redis(5), false, None), &jwt(700_000, -7200));
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "refresh-expired", Confirmed, "this token expired 2h ago (its exp)");
        assert_ne!(f.verdict_of(Cause::SessionExpired), Some(Confirmed), "the session is gone as expected");
        assert_ne!(f.verdict_of(Cause::RefreshMissing), Some(Confirmed));
        // Within the leeway: still valid.
        let f = with_token(&looked(spec_redis(5), false, Some(100)), &jwt(700_000, -30));
        assert_eq!(f.verdict_of(Cause::RefreshExpired), Some(RuledOut));
        // Blacklisted: logged out.
        let f = with_token(&looked(spec_redis(5), true, None), &jwt(1800, 600_000));
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "refresh-revoked", Confirmed, "blacklist:refresh:<jti a1b2c3d4> exists (expires in");
        assert!(f.summary.en().starts_with("blacklist:refresh:<jti a1b2c3d4> exists"), "{}", f.summary.en());
        // Session gone two hours after login: the session TTL ended it.
        let f = with_token(&looked(spec_redis(5), false, None), &jwt(7200, 600_000));
        assert_eq!(f.status, Status::Warning);
        assert_cause(
            &f,
            "session-expired",
            Confirmed,
            "the token was issued 2h ago, longer than the session TTL (60m)",
        );
        assert!(f.summary.en().contains("Session not found"), "{}", f.summary.en());
        // The same with no session to learn the TTL from: suspected only.
        let f = with_token(&looked(spec_redis(0), false, None), &jwt(7200, 600_000));
        assert_eq!(f.verdict_of(Cause::SessionExpired), Some(Suspected));
        // Session gone ten minutes after login: Redis lost it, and it restarted since.
        let f = with_token(&looked(with_uptime(spec_redis(0), 120), false, None), &jwt(600, 600_000));
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "refresh-missing",
            Confirmed,
            "although the token was issued only 10m ago, within the session TTL (60m)",
        );
        assert_cause(&f, "refresh-missing", Confirmed, "Redis (re)started 2m ago, after this token was issued");
        assert_cause(&f, "session-expired", RuledOut, "its session should still exist");
        // Sessions living 30 days (10-security/02): a day-old token's session should be there.
        let long = {
            let mut r = spec_redis(5);
            if let Some(Ok(f)) = r.app.as_mut().and_then(|a| a.families.as_mut()) {
                f.families.iter_mut().find(|x| x.pattern == SESSIONS).unwrap().ttl_max_s = Some(2_500_000);
            }
            r
        };
        let f = with_token(&looked(long, false, None), &jwt(86_400, 600_000));
        assert_eq!(f.verdict_of(Cause::RefreshMissing), Some(Confirmed));
        assert_eq!(f.verdict_of(Cause::SessionExpired), Some(RuledOut));
    }

    #[test]
    fn a_refresh_jwt_without_its_reads_or_claims_leaves_them_unchecked() {
        // Replaced by a later refresh: the session names another token.
        let mut r = looked(spec_redis(5), false, Some(1800));
        if let Some(Ok(rs)) = r.app.as_mut().and_then(|a| a.refresh_session.as_mut()) {
            rs.session_holds_token = Some(false);
        }
        let f = with_token(&r, &jwt(1800, 600_000));
        assert_cause(
            &f,
            "refresh-revoked",
            Suspected,
            "names another refresh token, so a later refresh replaced this one",
        );
        assert_eq!(f.status, Status::Warning);
        // No session id claim: auth-service checks no session.
        let mut r = looked(spec_redis(5), false, None);
        if let Some(Ok(rs)) = r.app.as_mut().and_then(|a| a.refresh_session.as_mut()) {
            rs.session = None;
        }
        let f = with_token(&r, &jwt(7200, 600_000));
        assert_cause(&f, "session-expired", RuledOut, "carries no session id");
        assert_eq!(f.status, Status::Ok);
        // Redis down: only the exp can be judged.
        let mut down = spec_redis(5);
        down.conn = Some(RedisConn {
            address: "127.0.0.1:6379".into(),
            latency_ms: 1,
            result: Err(RedisError { kind: RedisErrorKind::Refused, message: "Connection refused".into() }),
        });
        down.info = None;
        down.app = None;
        let f = with_token(&down, &jwt(7200, 600_000));
        assert_eq!(f.verdict_of(Cause::RefreshExpired), Some(RuledOut));
        assert_cause(&f, "refresh-revoked", Unchecked, "were not read");
        assert_cause(&f, "session-expired", Unchecked, "were not read");
        // An opaque token: only the table and refresh_token:* keys could say anything of it.
        let opaque = RefreshTokenFacts {
            view: Err(crate::jwt::TokenError::NotAJwt { why: "one part".into() }),
            checked_at: NOW,
            leeway_s: 60,
        };
        let f = with_token(&spec_redis(5), &opaque);
        assert_eq!(f.status, Status::Ok);
        assert_eq!(f.verdict_of(Cause::RefreshExpired), Some(Unchecked));
    }

    /// Texts about tokens run the risk of reading as `token: <secret>` to the output filter,
    /// which would print `***` in the middle of a sentence: every AU003 text must pass it whole.
    #[test]
    fn no_runbook_text_of_au003_is_mangled_by_the_secret_filter() {
        let p = crate::catalogue::get("AU003").unwrap();
        let mut texts: Vec<&crate::runbook::Text> = p.messages.values().collect();
        for c in &p.causes {
            texts.extend([&c.cause, &c.remedy]);
            texts.extend(c.judged.as_ref());
        }
        let mangled: Vec<String> = texts
            .iter()
            .flat_map(|t| [&t.en, &t.ja])
            .filter(|s| crate::redact::scrub(s) != **s)
            .map(|s| crate::redact::scrub(s))
            .collect();
        assert!(mangled.is_empty(), "the output filter changes these texts:\n{}", mangled.join("\n"));
    }
}
