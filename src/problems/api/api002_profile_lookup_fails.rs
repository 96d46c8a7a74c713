//! API002: a profile lookup fails. With `--user-id` the runbook's two reads are made: the row in
//! apidb's `profiles` and the `profile:<id>` cache entry in Redis, compared field by field
//! through per-run fingerprints (no value is printed). A missing row confirms
//! `profile-missing`; a cached copy that differs from the row, or outlives it, `stale-cache`;
//! apidb that cannot be read (down, or no `profiles` table) `database-error`. Without a user id
//! only user-api's logs speak, and the per-user causes stay `unchecked`.

use crate::probe::pg_app::{PgAppFacts, ProfileRow};
use crate::probe::redis::RedisFacts;
use crate::probe::redis_app::CachedProfile;
use crate::problems::engine::DockerView;
use crate::problems::{Ctx, logs, secs};
use crate::report::{Finding, Status, Verdict::*};

pub fn diagnose(
    user_id: Option<&str>,
    pg: Option<&PgAppFacts>,
    redis: Option<&RedisFacts>,
    docker: &DockerView,
    ctx: &Ctx,
) -> Finding {
    let mut out = Finding::new("API002", "user-api");
    let mut status = Status::Ok;
    let mut notes: Vec<String> = Vec::new();
    let logged = logs::service_hits(docker, "user-api", &["API002"], ctx);
    let logged_like = |words: &[&str]| -> Vec<String> {
        logged
            .iter()
            .flatten()
            .filter(|(sig, _)| words.iter().any(|w| sig.to_ascii_lowercase().contains(w)))
            .map(|(_, line)| line.clone())
            .collect()
    };
    let db_logs = logged_like(&["database", "does not exist"]);
    let missing_logs = logged_like(&["not found", "404"]);

    let Some(id) = user_id else {
        let why = ctx.tr(
            "give --user-id ID to read that user's row in apidb.profiles and its profile:<ID> cache entry",
            "--user-id ID を指定すると apidb.profiles の行と profile:<ID> キャッシュを確認する",
        );
        if missing_logs.is_empty() {
            out.cause("profile-missing", Unchecked, why.clone());
        } else {
            out.cause("profile-missing", Suspected, missing_logs.join("; "));
            status = Status::Warning;
        }
        out.cause("stale-cache", Unchecked, why.clone());
        match (&logged, db_logs.is_empty()) {
            (Some(_), false) => {
                out.cause("database-error", Confirmed, db_logs.join("; "));
                status = Status::Critical;
                notes.push(ctx.tr("user-api logged database errors", "user-api がデータベースエラーを記録した"));
            }
            (Some(_), true) => out.cause(
                "database-error",
                RuledOut,
                ctx.tr(
                    "user-api logged no database error recently",
                    "user-api は直近にデータベースエラーを記録していない",
                ),
            ),
            (None, _) => out.cause("database-error", Unchecked, why),
        }
        let summary = if notes.is_empty() {
            ctx.tr("no user id given: only user-api's logs were read", "ユーザー ID 未指定: user-api のログのみ確認")
        } else {
            notes.join("; ")
        };
        return out.status(status, summary);
    };
    out.fact("user_id", id);

    // The row.
    let row: Result<Option<&ProfileRow>, String> = match pg.and_then(|p| p.profile.as_ref()) {
        Some(Ok(r)) => Ok(r.as_ref()),
        Some(Err(e)) => Err(e.clone()),
        None => Err(ctx.tr("apidb was not read", "apidb は未確認")),
    };
    match &row {
        Ok(None) => {
            let msg = ctx.tr(
                format!("no row in apidb.profiles for user_id {id}: the profile was never created"),
                format!("apidb.profiles に user_id {id} の行がない: プロフィールが作成されていない"),
            );
            out.cause("profile-missing", Confirmed, msg.clone());
            status = Status::Critical;
            notes.push(msg);
        }
        Ok(Some(r)) => out.cause(
            "profile-missing",
            RuledOut,
            ctx.tr(
                format!("apidb.profiles has the row ({} columns)", r.fields.len()),
                format!("apidb.profiles に行がある（{} 列）", r.fields.len()),
            ),
        ),
        Err(why) => out.cause("profile-missing", Unchecked, why.clone()),
    }
    match (&row, db_logs.is_empty()) {
        (Err(why), _) if pg.and_then(|p| p.profile.as_ref()).is_some() => {
            let msg = ctx.tr(format!("apidb cannot be read: {why}"), format!("apidb を読めない: {why}"));
            let mut evidence = vec![msg.clone()];
            evidence.extend(db_logs.iter().cloned());
            out.cause("database-error", Confirmed, evidence.join("; "));
            status = Status::Critical;
            notes.push(msg);
        }
        (_, false) => {
            out.cause("database-error", Confirmed, db_logs.join("; "));
            status = Status::Critical;
            notes.push(ctx.tr("user-api logged database errors", "user-api がデータベースエラーを記録した"));
        }
        (Ok(_), true) => out.cause(
            "database-error",
            RuledOut,
            ctx.tr("apidb answered the profile query", "apidb はプロフィールの問い合わせに応答した"),
        ),
        (Err(why), true) => out.cause("database-error", Unchecked, why.clone()),
    }

    // The cache.
    let redis_down = redis.is_none_or(|r| !r.connected());
    let cached: Result<Option<&CachedProfile>, String> = match redis
        .and_then(|r| r.app.as_ref())
        .and_then(|a| a.profile.as_ref())
    {
        Some(Ok(c)) => Ok(c.as_ref()),
        Some(Err(e)) => Err(e.clone()),
        None if redis_down => Err(ctx.tr("Redis is unreachable (see RD001)", "Redis に接続できない（RD001 を参照）")),
        None => Err(ctx.tr("Redis was not read", "Redis は未確認")),
    };
    let ttl = |c: &CachedProfile| match c.ttl_s {
        Some(t) => ctx.tr(format!("expires in {}", secs(t as f64)), format!("{} 後に失効", secs(t as f64))),
        None => ctx.tr("no TTL: it never expires by itself", "TTL なし: 自然には失効しない"),
    };
    match (&cached, &row) {
        (Ok(None), _) => out.cause(
            "stale-cache",
            RuledOut,
            ctx.tr(
                format!("no profile:{id} in Redis: the next read comes from apidb"),
                format!("Redis に profile:{id} はない: 次の読み取りは apidb から"),
            ),
        ),
        (Ok(Some(c)), Ok(None)) => {
            let msg = ctx.tr(
                format!(
                    "profile:{id} is still cached ({}) although apidb has no row: the cache outlived the profile",
                    ttl(c)
                ),
                format!("apidb に行がないのに profile:{id} がキャッシュに残っている（{}）", ttl(c)),
            );
            out.cause("stale-cache", Confirmed, msg.clone());
            status = status.max(Status::Warning);
            notes.push(msg);
        }
        (Ok(Some(c)), Ok(Some(r))) => {
            let common: Vec<&String> = c.fields.keys().filter(|k| r.fields.contains_key(*k)).collect();
            let differ: Vec<&str> =
                common.iter().filter(|k| c.fields[**k] != r.fields[**k]).map(|k| k.as_str()).collect();
            if common.is_empty() {
                out.cause(
                    "stale-cache",
                    Unchecked,
                    ctx.tr(
                        format!(
                            "profile:{id} is cached as a {} with no field in common with the row: cannot compare",
                            c.kind
                        ),
                        format!(
                            "profile:{id} は {} としてキャッシュされ、行と共通のフィールドがない: 比較できない",
                            c.kind
                        ),
                    ),
                );
            } else if !differ.is_empty() {
                let msg = ctx.tr(
                    format!(
                        "profile:{id} differs from the row in apidb in {} ({}; values not shown): the cache was not invalidated after an update",
                        differ.join(", "),
                        ttl(c)
                    ),
                    format!(
                        "profile:{id} が apidb の行と {} で異なる（{}、値は表示しない）: 更新後にキャッシュが破棄されていない",
                        differ.join("、"),
                        ttl(c)
                    ),
                );
                out.cause("stale-cache", Confirmed, msg.clone());
                status = status.max(Status::Warning);
                notes.push(msg);
            } else {
                out.cause(
                    "stale-cache",
                    RuledOut,
                    ctx.tr(
                        format!("profile:{id} matches the row in its {} common fields ({})", common.len(), ttl(c)),
                        format!("profile:{id} は共通の {} フィールドで行と一致（{}）", common.len(), ttl(c)),
                    ),
                );
            }
        }
        (Ok(Some(c)), Err(_)) => out.cause(
            "stale-cache",
            Unchecked,
            ctx.tr(
                format!("profile:{id} is cached ({}), but the row could not be read to compare", ttl(c)),
                format!("profile:{id} はキャッシュにある（{}）が、比較する行を読めない", ttl(c)),
            ),
        ),
        (Err(why), _) => out.cause("stale-cache", Unchecked, why.clone()),
    }
    let summary = if notes.is_empty() {
        ctx.tr(
            format!("the profile of {id} is in apidb and its cache agrees"),
            format!("{id} のプロフィールは apidb にあり、キャッシュとも一致"),
        )
    } else {
        notes.join("; ")
    };
    out.status(status, summary)
}
