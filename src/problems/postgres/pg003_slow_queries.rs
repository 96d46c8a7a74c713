//! PG003: slow queries. Reads active sessions (with their redacted text), `pg_stat_statements`
//! when installed, which of the runbook's key columns lack an index, and table statistics
//! (sequential scans on large tables, rows changed since the last ANALYZE). May confirm
//! `long-running-queries`, `missing-index`, `stale-statistics`.

use super::no_connection;
use crate::catalogue::Area;
use crate::facts::of::postgres::{PgFacts, Session, Statements};
use crate::problems::registry::{Inputs, Problem};
use crate::problems::{Ctx, depends_on, secs};
use crate::report::{Finding, Status, Verdict::*};
use crate::t;
use crate::text::{Sep, Text};

crate::causes! {
    LongRunningQueries = "long-running-queries",
    MissingIndex = "missing-index",
    StaleStatistics = "stale-statistics",
}

pub static PROBLEM: Problem = Problem {
    code: "PG003",
    areas: &[Area::Postgres],
    runbook: crate::runbook!("postgres/PG003-slow-queries.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let Some(pg) = &i.facts.postgres else { return vec![] };
    vec![i.timed(diagnose(pg, i.ctx), i.facts.postgres_ms)]
}

/// A table is "large" for sequential-scan purposes from this many rows.
const LARGE_TABLE_ROWS: i64 = 10_000;
/// Statistics are stale when more rows changed than this share of the table (plus a floor).
const STALE_SHARE: f64 = 0.2;
const STALE_FLOOR: i64 = 1000;

pub fn diagnose(f: &PgFacts, ctx: &Ctx) -> Finding {
    let mut out = Finding::new("PG003", f.target.clone());
    if no_connection(f) {
        let why = depends_on("PG001", t!("shared/no-server-connection"));
        out.causes_all(
            &[Cause::LongRunningQueries, Cause::MissingIndex, Cause::StaleStatistics],
            Unchecked,
            why.clone(),
        );
        return out.status(Status::Skipped, why);
    }
    let limit = ctx.thresholds.long_query.as_secs_f64();
    let mut findings: Vec<Text> = Vec::new();

    // long-running-queries
    match &f.sessions {
        Some(sessions) => {
            let mut long: Vec<_> = sessions
                .iter()
                .filter(|s| s.state.as_deref() == Some("active") && s.query_age_s.unwrap_or(0.0) >= limit)
                .collect();
            long.sort_by(|a, b| b.query_age_s.partial_cmp(&a.query_age_s).unwrap_or(std::cmp::Ordering::Equal));
            out.fact(
                "long_queries",
                long.iter()
                    .take(5)
                    .map(|s| {
                        serde_json::json!({
                            "pid": s.pid, "user": s.usename, "database": s.datname,
                            "seconds": s.query_age_s.map(|x| x.round()), "query": s.query,
                        })
                    })
                    .collect::<Vec<_>>(),
            );
            // Who waits on whom, described once: the fact lists them all, the long queries below
            // carry their own.
            let waits: std::collections::HashMap<i32, Text> =
                sessions.iter().filter_map(|s| blockers(s, sessions).map(|b| (s.pid, b))).collect();
            if !waits.is_empty() {
                let mut listed: Vec<(&i32, &Text)> = waits.iter().collect();
                listed.sort_by_key(|(pid, _)| **pid);
                // Rendered in the report's language when the report is built.
                out.fact_texts(
                    "lock_waits",
                    listed
                        .iter()
                        .map(|(pid, b)| Text::join([Text::from(format!("pid {pid}: ")), (*b).clone()], Sep::Concat)),
                );
            }
            if long.is_empty() {
                out.cause(Cause::LongRunningQueries, RuledOut, t!("PG003/none-long", limit = secs(limit)));
            } else {
                let list: Vec<Text> = long
                    .iter()
                    .take(3)
                    .map(|s| {
                        let line = format!(
                            "pid {} {} {}: {}",
                            s.pid,
                            s.usename.as_deref().unwrap_or("?"),
                            secs(s.query_age_s.unwrap_or(0.0)),
                            s.query.as_deref().unwrap_or("?")
                        );
                        match waits.get(&s.pid) {
                            // "<line> (<what it waits on>)", the same brackets in both languages.
                            Some(b) => Text::join([line.into(), " (".into(), b.clone(), ")".into()], Sep::Concat),
                            None => line.into(),
                        }
                    })
                    .collect();
                out.cause(
                    Cause::LongRunningQueries,
                    Confirmed,
                    t!(
                        "PG003/long-queries",
                        count = long.len(),
                        limit = secs(limit),
                        queries = Text::join(list, Sep::Clauses)
                    ),
                );
                findings.push(t!("PG003/long-queries-found", count = long.len(), limit = secs(limit)));
                let blocked = long.iter().filter(|s| !s.blocked_by.is_empty()).count();
                if blocked > 0 {
                    findings.push(t!("PG003/waiting-on-locks", blocked = blocked));
                }
            }
        }
        None => out.cause(Cause::LongRunningQueries, Unchecked, t!("PG003/activity-unreadable")),
    }
    if let Some(Statements::Top { rows }) = &f.statements {
        out.fact("slowest_statements", rows);
        // Slow on average: the stack's alert (mean execution time above 1 s by default).
        let slow_ms = ctx.thresholds.slow_query.as_secs_f64() * 1000.0;
        if let Some(worst) = rows.first().filter(|r| r.mean_ms >= slow_ms)
            && out.verdict_of(Cause::LongRunningQueries) == Some(RuledOut)
        {
            out.causes.retain(|c| c.id != Cause::LongRunningQueries.id());
            out.cause(
                Cause::LongRunningQueries,
                Suspected,
                t!("PG003/slow-on-average", ms = format!("{:.0}", worst.mean_ms), query = &worst.query),
            );
        }
    }
    // Transactions open longer than the alert's limit hold their locks and snapshots.
    let xact_limit = ctx.thresholds.long_transaction.as_secs_f64();
    let long_xacts: Vec<String> = f
        .sessions
        .iter()
        .flatten()
        .filter(|s| s.xact_age_s.is_some_and(|a| a >= xact_limit))
        .map(|s| format!("pid {} ({})", s.pid, secs(s.xact_age_s.unwrap_or(0.0))))
        .collect();
    if !long_xacts.is_empty() {
        out.fact("long_transactions", &long_xacts);
        if out.verdict_of(Cause::LongRunningQueries) == Some(RuledOut) {
            out.overrule(
                Cause::LongRunningQueries,
                Suspected,
                t!("PG003/long-transactions", limit = secs(xact_limit), sessions = long_xacts.join(", ")),
            );
        }
    }
    out.fact(
        "pg_stat_statements",
        match &f.statements {
            Some(Statements::Top { .. }) => "installed",
            Some(Statements::NotInstalled) => "not installed",
            Some(Statements::NotLoaded) => "not in shared_preload_libraries",
            None => "unknown",
        },
    );

    // missing-index
    // "apidb.profiles(user_id)": the index belongs in that database.
    let name = |k: &crate::facts::of::postgres::KeyIndex| match &k.db {
        Some(db) => format!("{db}.{}({})", k.table, k.column),
        None => format!("{}({})", k.table, k.column),
    };
    let unindexed: Vec<String> = f.key_indexes.iter().flatten().filter(|k| !k.indexed).map(name).collect();
    let seq_heavy: Vec<Text> = f
        .tables
        .iter()
        .flatten()
        .filter(|t| t.live_rows >= LARGE_TABLE_ROWS && t.seq_scan > 10 && t.seq_scan > t.idx_scan)
        .take(3)
        .map(|t| t!("PG003/seq-scans", table = &t.name, rows = t.live_rows, seq = t.seq_scan, idx = t.idx_scan))
        .collect();
    if !unindexed.is_empty() {
        out.fact("unindexed_columns", &unindexed);
        out.cause(Cause::MissingIndex, Confirmed, t!("PG003/no-index", columns = unindexed.join(", ")));
        findings.push(t!("PG003/not-indexed", columns = unindexed.join(", ")));
    } else if !seq_heavy.is_empty() {
        out.cause(Cause::MissingIndex, Suspected, Text::join(seq_heavy, Sep::Clauses));
        findings.push(t!("PG003/seq-scanned"));
    } else if f.tables.is_some() {
        let checked: Vec<String> = f.key_indexes.iter().flatten().map(name).collect();
        out.cause(
            Cause::MissingIndex,
            RuledOut,
            if checked.is_empty() {
                t!("PG003/no-seq-heavy")
            } else {
                t!("PG003/indexed", columns = checked.join(", "))
            },
        );
    } else {
        out.cause(Cause::MissingIndex, Unchecked, t!("PG003/tables-unreadable"));
    }

    // stale-statistics
    match &f.tables {
        Some(tables) => {
            let stale: Vec<Text> = tables
                .iter()
                .filter(|t| {
                    t.modified_since_analyze >= STALE_FLOOR
                        && t.modified_since_analyze as f64 > STALE_SHARE * t.live_rows.max(1) as f64
                })
                .take(3)
                .map(|t| {
                    let when = match t.analyzed_age_s {
                        Some(a) => t!("PG003/analysed-ago", ago = secs(a)),
                        None => t!("PG003/never-analysed"),
                    };
                    t!(
                        "PG003/rows-changed",
                        table = &t.name,
                        changed = t.modified_since_analyze,
                        rows = t.live_rows,
                        when = when
                    )
                })
                .collect();
            if stale.is_empty() {
                out.cause(Cause::StaleStatistics, RuledOut, t!("PG003/statistics-recent"));
            } else {
                out.cause(Cause::StaleStatistics, Confirmed, Text::join(stale, Sep::Clauses));
                findings.push(t!("PG003/stale-statistics"));
            }
        }
        None => out.cause(Cause::StaleStatistics, Unchecked, t!("PG003/tables-unreadable")),
    }

    if findings.is_empty() && out.causes.iter().all(|c| c.verdict == Unchecked) {
        // Connected, but no view could be read: nothing was seen, so no ok.
        return out.status(Status::Unknown, t!("PG003/nothing-read"));
    }
    if findings.is_empty() {
        let summary = if f.app_connected() { t!("PG003/nothing-found") } else { t!("PG003/cluster-views-only") };
        out.status(Status::Ok, summary)
    } else {
        out.status(Status::Warning, Text::join(findings, Sep::Clauses))
    }
}

/// "waiting on a lock held by pid 99 (app, idle in transaction for 10m: UPDATE ...)" for a
/// session that waits on a lock; None when it waits on none. The holder is the one to end (or
/// whose transaction to finish), not the query that waits.
fn blockers(s: &Session, sessions: &[Session]) -> Option<Text> {
    if s.blocked_by.is_empty() {
        return None;
    }
    let held: Vec<Text> = s
        .blocked_by
        .iter()
        .map(|pid| match sessions.iter().find(|o| o.pid == *pid) {
            Some(o) => Text::from(format!(
                "pid {pid} ({}, {} for {}: {})",
                o.usename.as_deref().unwrap_or("?"),
                o.state.as_deref().unwrap_or("?"),
                secs(o.state_age_s.unwrap_or(0.0)),
                o.query.as_deref().unwrap_or("?")
            )),
            None => Text::from(format!("pid {pid}")),
        })
        .collect();
    Some(t!("PG003/waiting-on-lock", holders = Text::join(held, Sep::List)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Thresholds;

    use crate::facts::of::postgres::{KeyIndex, PgErrorKind, TableStat};
    use crate::problems::postgres::fixtures::{failed, healthy, session};

    fn ctx() -> Ctx {
        Ctx { thresholds: Thresholds::default() }
    }

    #[test]
    fn a_lock_wait_names_its_holders_even_unseen_ones() {
        let holder = Session {
            state_age_s: Some(600.0),
            query: Some("UPDATE t SET x = ?".into()),
            ..session(7, "app", "idle in transaction", 0.0)
        };
        let waiter = Session { blocked_by: vec![7, 99], ..session(8, "app", "active", 90.0) };
        let all = vec![holder.clone(), waiter.clone()];
        assert_eq!(
            blockers(&waiter, &all).map(|t| t.en()).as_deref(),
            Some("waiting on a lock held by pid 7 (app, idle in transaction for 10m: UPDATE t SET x = ?), pid 99")
        );
        assert_eq!(blockers(&holder, &all), None);
    }

    #[test]
    fn healthy_is_ok() {
        let f = diagnose(&healthy(), &ctx());
        assert_eq!(f.status, Status::Ok);
        assert!(f.causes.iter().all(|c| c.verdict == RuledOut), "{:?}", f.causes);
    }

    #[test]
    fn long_query_is_confirmed_with_its_text() {
        let mut facts = healthy();
        let mut s = session(7, "app", "active", 120.0);
        s.query = Some("SELECT pg_sleep(600)".into());
        facts.sessions.as_mut().unwrap().push(s);
        let f = diagnose(&facts, &ctx());
        assert_eq!(f.status, Status::Warning);
        assert_eq!(f.verdict_of(Cause::LongRunningQueries), Some(Confirmed));
        assert!(f.causes.iter().any(|c| c.evidence.en().contains("pg_sleep(600)")));
    }

    #[test]
    fn missing_key_index_is_confirmed() {
        let mut facts = healthy();
        facts.key_indexes =
            Some(vec![KeyIndex { db: None, table: "users".into(), column: "email".into(), indexed: false }]);
        let f = diagnose(&facts, &ctx());
        assert_eq!(f.verdict_of(Cause::MissingIndex), Some(Confirmed));
    }

    #[test]
    fn seq_scans_on_a_large_table_are_suspected() {
        let mut facts = healthy();
        facts.tables.as_mut().unwrap()[0] = TableStat {
            name: "public.profiles".into(),
            live_rows: 200_000,
            seq_scan: 4000,
            idx_scan: 3,
            ..Default::default()
        };
        let f = diagnose(&facts, &ctx());
        assert_eq!(f.verdict_of(Cause::MissingIndex), Some(Suspected));
    }

    #[test]
    fn stale_statistics_are_confirmed() {
        let mut facts = healthy();
        facts.tables.as_mut().unwrap()[0] = TableStat {
            name: "public.users".into(),
            live_rows: 5000,
            modified_since_analyze: 5000,
            ..Default::default()
        };
        let f = diagnose(&facts, &ctx());
        assert_eq!(f.verdict_of(Cause::StaleStatistics), Some(Confirmed));
        assert!(f.causes.iter().any(|c| c.evidence.en().contains("never analysed")));
    }

    #[test]
    fn no_connection_skips() {
        assert_eq!(diagnose(&failed(PgErrorKind::Timeout, None, "t"), &ctx()).status, Status::Skipped);
    }
}
