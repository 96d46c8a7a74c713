//! AU003: token refresh fails. The refresh tokens live twice: rows in authdb's `refresh_tokens`
//! and `refresh_token:<id>` keys in Redis. Comparing the two tells an expired token (the rows
//! say so) from one Redis lost (valid rows, no keys: a restart without persistence, a flush,
//! an `allkeys-*` eviction), and Redis's own settings say whether it can lose them again.
//! A revoked token is visible only when `refresh_tokens` records revocation in a column;
//! otherwise nothing outside auth-service's memory shows it, and the cause stays `unchecked`.

use crate::catalogue::Area;
use crate::facts::of::pg_app::{PgAppFacts, RefreshRows};
use crate::facts::of::redis::RedisFacts;
use crate::facts::of::redis_app::{KeyFamily, Persistence, TokenKeySearch};
use crate::problems::engine::DockerView;
use crate::problems::registry::{Inputs, Problem};
use crate::problems::{logs, secs};
use crate::report::{Finding, Status, Verdict::*};
use crate::text::{Sep, Text};

crate::causes! {
    RefreshExpired = "refresh-expired",
    RefreshMissing = "refresh-missing",
    RefreshRevoked = "refresh-revoked",
}

pub static PROBLEM: Problem = Problem {
    code: "AU003",
    areas: &[Area::Auth],
    runbook: crate::runbook!("auth/AU003-refresh-fails.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    if i.facts.auth.is_none() {
        return vec![];
    }
    let app = i.facts.postgres.as_ref().and_then(|p| p.app_data.as_ref());
    let f = diagnose(app, i.facts.redis.as_ref(), &i.docker);
    vec![i.timed(f, i.facts.postgres_ms.max(i.facts.redis_ms))]
}

pub fn diagnose(pg: Option<&PgAppFacts>, redis: Option<&RedisFacts>, docker: &DockerView) -> Finding {
    let target = "authdb.refresh_tokens, redis refresh_token:*";
    let mut out = Finding::new("AU003", target);
    let mut status = Status::Ok;
    let mut notes: Vec<Text> = Vec::new();

    let rows: Result<&RefreshRows, Text> = match pg.and_then(|p| p.refresh_rows.as_ref()) {
        Some(Ok(r)) => Ok(r),
        Some(Err(e)) => Err(crate::t!("AU003/authdb-unreadable", error = e)),
        None => Err(crate::t!("AU003/authdb-not-read")),
    };
    let redis_down = redis.is_none_or(|r| !r.connected());
    let app = redis.and_then(|r| r.app.as_ref());
    let keys: Result<&KeyFamily, Text> = match app.and_then(|a| a.refresh_keys.as_ref()) {
        Some(Ok(k)) => Ok(k),
        Some(Err(e)) => Err(e.into()),
        None if redis_down => Err(crate::t!("AU003/redis-unreachable")),
        None => Err(crate::t!("AU003/redis-not-read")),
    };
    let persistence: Option<&Persistence> = app.and_then(|a| a.persistence.as_ref()).and_then(|p| p.as_ref().ok());
    if let Ok(r) = rows {
        out.fact("refresh_rows", r);
    }
    if let Ok(k) = keys {
        out.fact("refresh_keys", k);
    }
    if let Some(p) = persistence {
        out.fact("redis_persistence", p);
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
    let mut missing: Vec<(crate::report::Verdict, Text)> = Vec::new();
    if let (Ok(r), Ok(k)) = (&rows, &keys) {
        let valid = r.total - r.expired - r.revoked.unwrap_or(0).min(r.total - r.expired);
        if valid > 0 && k.complete && k.count == 0 {
            missing.push((Confirmed, crate::t!("AU003/redis-lost-all", valid = valid)));
        } else if k.complete && k.count < valid {
            missing.push((Suspected, crate::t!("AU003/redis-holds-fewer", valid = valid, count = k.count)));
        }
    }
    if let Some(info) = redis.and_then(|r| r.info.as_ref()) {
        if info.maxmemory_policy.starts_with("allkeys-") {
            let (v, said) = if info.evicted_keys > 0 {
                (Suspected, crate::t!("AU003/evicted-since-start", count = info.evicted_keys))
            } else {
                (Suspected, Text::default())
            };
            missing.push((v, crate::t!("AU003/evicts-like-cache", policy = &info.maxmemory_policy, evicted = said)));
        }
        if persistence.is_some_and(Persistence::off) {
            missing.push((Suspected, crate::t!("AU003/persists-nothing", ago = secs(info.uptime_s as f64))));
        }
    }
    for line in logs::hits_like(&logged, &["not found"]) {
        missing.push((Suspected, line));
    }
    // Redis asked but down: auth-service finds no refresh token there either, whatever it held.
    if redis.is_some() && redis_down {
        missing.push((Suspected, crate::t!("AU003/redis-down-no-token")));
    }
    // When Redis lost them: the redis container's exits the engine logged (a restart drops
    // whatever was not persisted).
    if !missing.is_empty()
        && let crate::problems::engine::Seen::Found(c) = docker.seen("redis")
        && let Some(e) = c.exits.as_ref().filter(|e| e.count > 0)
    {
        missing.push((Suspected, crate::t!("AU003/redis-exited", count = e.count, ago = secs(e.last_age_s))));
    }
    match missing.iter().map(|(v, _)| *v).max_by_key(|v| matches!(v, Confirmed)) {
        Some(v) => {
            let text = Text::join(missing.iter().map(|(_, t)| t.clone()), Sep::Clauses);
            out.cause(Cause::RefreshMissing, v, text.clone());
            status = status.max(if v == Confirmed { Status::Critical } else { Status::Warning });
            notes.push(text);
        }
        None => match (&keys, persistence, redis.and_then(|r| r.info.as_ref())) {
            (Ok(k), Some(p), Some(info)) => out.cause(
                Cause::RefreshMissing,
                RuledOut,
                crate::t!(
                    "AU003/redis-holds-keys",
                    at_least = if k.complete { Text::default() } else { crate::t!("AU003/at-least") },
                    count = k.count,
                    appendonly = &p.appendonly,
                    save = format!("{:?}", p.save),
                    policy = &info.maxmemory_policy,
                ),
            ),
            (Err(why), _, _) => out.cause(Cause::RefreshMissing, Unchecked, why.clone()),
            _ => out.cause(Cause::RefreshMissing, Unchecked, crate::t!("AU003/persistence-unreadable")),
        },
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
        Err(why) => out.cause(Cause::RefreshRevoked, Unchecked, why.clone()),
    }

    if rows.is_err() && keys.is_err() {
        status = status.max(Status::Unknown);
    }
    if let Some((token_status, token_notes)) = the_token(&mut out, pg, redis) {
        status = status.max(token_status);
        notes.splice(0..0, token_notes);
    }
    let summary = if notes.is_empty() {
        match (&rows, &keys) {
            (Ok(r), Ok(k)) => crate::t!("AU003/counts", total = r.total, expired = r.expired, count = k.count),
            (Err(why), _) | (_, Err(why)) => crate::t!("AU003/not-fully-checked", why = why.clone()),
        }
    } else {
        Text::join(notes, Sep::Clauses)
    };
    out.status(status, summary)
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
                refresh_keys: Some(Ok(family)),
                persistence: Some(Ok(persistence)),
                profile: None,
                refresh_token_key: None,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn auth_logs(hits: &[(&str, &str)]) -> DockerFacts {
        engine(vec![with_logs(running("auth-service"), hits)])
    }

    fn run(pg: Option<&PgAppFacts>, redis: Option<&RedisFacts>, docker: &DockerFacts) -> Finding {
        diagnose(pg, redis, &view(docker))
    }

    #[test]
    fn healthy_facts_rule_everything_out() {
        let f = run(Some(&pg(rows(10, 2))), Some(&redis(8)), &auth_logs(&[]));
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_eq!(f.summary.en(), "10 refresh tokens in authdb (2 expired), 8 in Redis");
        assert!(verdicts(&f).iter().all(|(_, v)| *v == RuledOut), "{:?}", f.causes);
        assert_cause(&f, "refresh-expired", RuledOut, "8 of 10 refresh tokens in authdb are still valid");
        assert_cause(&f, "refresh-missing", RuledOut, "Redis holds 8 refresh_token:* keys, persists (appendonly yes");
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
        assert_cause(&f, "refresh-missing", RuledOut, "Redis holds 0 refresh_token:* keys");
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
            "maxmemory-policy is allkeys-lru: Redis may evict refresh tokens like any cache key and has evicted 120 keys",
        );
        let mut volatile = redis(8);
        if let Some(Ok(p)) = volatile.app.as_mut().and_then(|a| a.persistence.as_mut()) {
            *p = Persistence { appendonly: "no".into(), save: String::new(), ..Default::default() };
        }
        let f = run(Some(&pg(rows(10, 2))), Some(&volatile), &clean);
        assert_eq!(f.status, Status::Warning);
        assert_cause(
            &f,
            "refresh-missing",
            Suspected,
            "Redis persists nothing (appendonly no, save \"\"): a restart drops every refresh token (it last started 24h ago)",
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
        let f = diagnose(Some(&pg(rows(10, 2))), Some(&redis(8)), &DockerView::none());
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
            a.refresh_keys = Some(Err("NOPERM this user has no permissions to run the 'scan' command".into()));
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
}
