//! PG004: connections drop. Reads the server's uptime, `idle_in_transaction_session_timeout`
//! with the sessions idle in a transaction, and (PostgreSQL 14+) the counters of sessions that
//! ended abandoned, fatally or killed. A recent start is only suspected here (a freshly started
//! stack must not warn); `oom-killed` needs the Docker engine and is left `unchecked` here.

use super::no_connection;
use crate::catalogue::Area;
use crate::facts::of::postgres::PgFacts;
use crate::problems::registry::{Inputs, Problem};
use crate::problems::{depends_on, secs};
use crate::report::{Finding, Status, Verdict::*};
use crate::t;
use crate::text::{Sep, Text};

crate::causes! {
    OomKilled = "oom-killed",
    IdleInTransactionTimeout = "idle-in-transaction-timeout",
    NetworkUnstable = "network-unstable",
    ServerRestarted = "server-restarted",
}

pub static PROBLEM: Problem = Problem {
    code: "PG004",
    areas: &[Area::Postgres],
    runbook: crate::runbook!("postgres/PG004-connections-drop.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let Some(pg) = &i.facts.postgres else { return vec![] };
    let mut f = diagnose(pg);
    super::with_engine_pg004(&mut f, &i.docker);
    super::with_logs_pg004(&mut f, &i.docker);
    // Connected, but neither settings nor counters read: the server said nothing of drops.
    let server_causes = [Cause::IdleInTransactionTimeout, Cause::NetworkUnstable, Cause::ServerRestarted];
    if f.status == Status::Ok && server_causes.iter().all(|c| f.verdict_of(*c) == Some(Unchecked)) {
        f.status = Status::Unknown;
        f.summary = t!("PG004/nothing-read");
    }
    vec![i.timed(f, i.facts.postgres_ms)]
}

/// A server up for less than this restarted "recently".
const RECENT_RESTART_S: f64 = 3600.0;

pub fn diagnose(f: &PgFacts) -> Finding {
    let mut out = Finding::new("PG004", f.target.clone());
    if no_connection(f) {
        let why = depends_on("PG001", t!("shared/no-server-connection"));
        out.causes_all(
            &[Cause::OomKilled, Cause::IdleInTransactionTimeout, Cause::NetworkUnstable, Cause::ServerRestarted],
            Unchecked,
            why.clone(),
        );
        return out.status(Status::Skipped, why);
    }
    out.cause(Cause::OomKilled, Unchecked, t!("PG004/needs-engine"));
    let mut status = Status::Ok;
    let mut notes: Vec<Text> = Vec::new();

    match &f.server {
        Some(server) => {
            out.fact("uptime_s", server.uptime_s.round());
            if server.uptime_s > 0.0 && server.uptime_s < RECENT_RESTART_S {
                // A recent start is evidence, not a fault: a stack just brought up by
                // `docker compose up` must not warn. The Docker layer confirms restarts.
                out.cause(
                    Cause::ServerRestarted,
                    Suspected,
                    t!("PG004/started-connections-cut", ago = secs(server.uptime_s)),
                );
                notes.push(t!("PG004/started", ago = secs(server.uptime_s)));
            } else {
                out.cause(Cause::ServerRestarted, RuledOut, t!("PG004/up-for", uptime = secs(server.uptime_s)));
            }

            let timeout_ms = server.idle_in_transaction_session_timeout_ms;
            out.fact("idle_in_transaction_session_timeout_ms", timeout_ms);
            let in_xact: Vec<_> = f
                .sessions
                .iter()
                .flatten()
                .filter(|s| s.state.as_deref().is_some_and(|st| st.starts_with("idle in transaction")))
                .collect();
            let longest = in_xact.iter().filter_map(|s| s.state_age_s).fold(0.0_f64, f64::max);
            out.fact("idle_in_transaction", in_xact.len());
            if timeout_ms > 0 {
                let t = secs(timeout_ms as f64 / 1000.0);
                let fatal: i64 = f.db_stats.iter().flatten().fold(0, |a, d| a.saturating_add(d.sessions_fatal));
                if !in_xact.is_empty() || fatal > 0 {
                    out.cause(
                        Cause::IdleInTransactionTimeout,
                        Suspected,
                        t!(
                            "PG004/sessions-at-risk",
                            timeout = &t,
                            idle = in_xact.len(),
                            longest = secs(longest),
                            fatal = fatal
                        ),
                    );
                    status = status.max(Status::Warning);
                    notes.push(t!("PG004/timeout-with-sessions-at-risk", timeout = &t));
                } else {
                    out.cause(
                        Cause::IdleInTransactionTimeout,
                        RuledOut,
                        t!("PG004/timeout-but-none-idle", timeout = &t),
                    );
                }
            } else {
                out.cause(
                    Cause::IdleInTransactionTimeout,
                    RuledOut,
                    if in_xact.is_empty() {
                        t!("PG004/timeout-off")
                    } else {
                        t!("PG004/timeout-off-but-idle", idle = in_xact.len(), longest = secs(longest))
                    },
                );
            }
        }
        None => {
            let why = t!("PG004/settings-unreadable");
            out.cause(Cause::ServerRestarted, Unchecked, why.clone());
            out.cause(Cause::IdleInTransactionTimeout, Unchecked, why);
        }
    }

    match &f.db_stats {
        Some(stats) => {
            let abandoned: i64 = stats.iter().fold(0, |a, d| a.saturating_add(d.sessions_abandoned));
            out.fact("sessions_abandoned", abandoned);
            if abandoned > 0 {
                let worst =
                    stats.iter().max_by_key(|d| d.sessions_abandoned).map(|d| d.datname.clone()).unwrap_or_default();
                // The counters never go down: say over which window they were counted.
                let window = match stats.iter().filter_map(|d| d.stats_reset_age_s).reduce(f64::min) {
                    Some(age) => t!("PG004/since-reset", ago = secs(age)),
                    None => t!("PG004/since-never-reset"),
                };
                out.cause(
                    Cause::NetworkUnstable,
                    Suspected,
                    t!("PG004/sessions-abandoned", abandoned = abandoned, worst = worst, window = window),
                );
            } else {
                out.cause(Cause::NetworkUnstable, RuledOut, t!("PG004/none-abandoned"));
            }
        }
        None => out.cause(Cause::NetworkUnstable, Unchecked, t!("PG004/counters-need-14")),
    }

    let summary = match (status, notes.is_empty()) {
        (_, true) => t!("PG004/no-sign"),
        // Only the recent start leaves the status ok, so there is one note here.
        (Status::Ok, false) => t!("PG004/no-sign-now", notes = Text::join(notes, Sep::Clauses)),
        _ => Text::join(notes, Sep::Clauses),
    };
    out.status(status, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::of::postgres::{DbStat, PgErrorKind};
    use crate::problems::fixtures::assert_cause;
    use crate::problems::postgres::fixtures::{failed, healthy, session};

    #[test]
    fn healthy_is_ok() {
        let f = diagnose(&healthy());
        assert_eq!(f.status, Status::Ok);
        assert_eq!(f.verdict_of(Cause::ServerRestarted), Some(RuledOut));
        assert_eq!(f.verdict_of(Cause::OomKilled), Some(Unchecked));
    }

    #[test]
    fn recent_restart_is_suspected_but_does_not_warn() {
        let mut facts = healthy();
        facts.server.as_mut().unwrap().uptime_s = 120.0;
        let f = diagnose(&facts);
        assert_eq!((f.status, f.verdict_of(Cause::ServerRestarted)), (Status::Ok, Some(Suspected)));
        assert!(f.summary.en().contains("2m") || f.summary.en().contains("120s"), "{}", f.summary.en());
    }

    #[test]
    fn idle_in_transaction_under_a_timeout_is_suspected() {
        let mut facts = healthy();
        facts.server.as_mut().unwrap().idle_in_transaction_session_timeout_ms = 10_000;
        facts.sessions.as_mut().unwrap().push(session(9, "app", "idle in transaction", 8.0));
        let f = diagnose(&facts);
        assert_eq!(f.verdict_of(Cause::IdleInTransactionTimeout), Some(Suspected));
        assert_eq!(f.status, Status::Warning);
    }

    #[test]
    fn abandoned_sessions_suspect_the_network() {
        let mut facts = healthy();
        facts.db_stats = Some(vec![DbStat { datname: "authdb".into(), sessions_abandoned: 4, ..Default::default() }]);
        let f = diagnose(&facts);
        assert_cause(&f, "network-unstable", Suspected, "4 sessions ended because the client vanished");
        assert_cause(&f, "network-unstable", Suspected, "since the statistics began (never reset");
        // The counters' window, when they were reset.
        facts.db_stats.as_mut().unwrap()[0].stats_reset_age_s = Some(3.0 * 86_400.0);
        let f = diagnose(&facts);
        assert_cause(&f, "network-unstable", Suspected, "(most on authdb), since the statistics were reset 3d ago");
    }

    #[test]
    fn no_connection_skips() {
        assert_eq!(diagnose(&failed(PgErrorKind::Refused, None, "r")).status, Status::Skipped);
    }
}
