//! A `--timeout` too short to judge anything. A probe that ran out of time at a sane timeout is
//! evidence (a server that hangs); at a few milliseconds it is only the timeout speaking. Below
//! [`TOO_SHORT_MS`], a failing check whose own probe timed out becomes `unknown`, says so and
//! suggests a longer timeout; its causes drawn from that silence go back to `unchecked`. The
//! probes already tell a timeout from a refusal, so a refused connection stays critical at any
//! timeout. Applied once, after every problem ran, so no problem needs to know the setting.

use crate::facts::Facts;
use crate::facts::of::docker::DockerErrorKind;
use crate::facts::of::http::{HttpErrorKind, HttpFacts};
use crate::facts::of::postgres::PgErrorKind;
use crate::facts::of::redis::RedisErrorKind;
use crate::report::{Finding, Status, Verdict};
use crate::t;
use crate::text::{Sep, Text};

/// Below this a loopback server under load may not have answered yet: no verdict from silence.
pub const TOO_SHORT_MS: u64 = 500;

/// The run's timeout, when it is too short to judge from.
pub fn too_short(facts: &Facts) -> Option<u64> {
    (facts.timeout_ms > 0 && facts.timeout_ms < TOO_SHORT_MS).then_some(facts.timeout_ms)
}

fn timed_out(h: Option<&HttpFacts>) -> bool {
    h.and_then(|h| h.error.as_ref()).is_some_and(|e| e.kind == HttpErrorKind::Timeout)
}

/// Whether the probe a finding rests on ran out of time.
fn ran_out(facts: &Facts, f: &Finding) -> bool {
    let service = f.target.split(' ').next().unwrap_or("");
    match f.code {
        "DK001" => facts
            .docker
            .as_ref()
            .is_some_and(|d| d.engine.as_ref().err().is_some_and(|e| e.kind == DockerErrorKind::Timeout)),
        "PG001" => facts.postgres.as_ref().is_some_and(|p| {
            [&p.app, &p.admin]
                .into_iter()
                .flatten()
                .any(|c| c.result.as_ref().err().is_some_and(|e| e.kind == PgErrorKind::Timeout))
        }),
        "RD001" => facts
            .redis
            .as_ref()
            .and_then(|r| r.conn.as_ref())
            .is_some_and(|c| c.result.as_ref().err().is_some_and(|e| e.kind == RedisErrorKind::Timeout)),
        "AU001" => facts
            .auth
            .as_ref()
            .is_some_and(|a| timed_out(a.health.as_ref()) || timed_out(a.login.as_ref().map(|l| &l.response))),
        "AU002" => facts.auth.as_ref().is_some_and(|a| timed_out(a.jwks.as_ref())),
        "API001" => facts
            .web
            .as_ref()
            .is_some_and(|w| w.apis.iter().any(|a| a.service == service && timed_out(Some(&a.health)))),
        "FE001" => facts.web.as_ref().is_some_and(|w| {
            w.frontends
                .iter()
                .any(|x| x.service == service && (timed_out(Some(&x.page)) || timed_out(x.health.as_ref())))
        }),
        _ => false,
    }
}

/// With a too-short timeout, the failing checks whose probe got no answer in time are unknown.
pub fn apply(facts: &Facts, findings: &mut [Finding]) {
    let Some(ms) = too_short(facts) else { return };
    let timeout = crate::config::format_duration(std::time::Duration::from_millis(ms));
    let why = t!("shared/timeout-too-short", timeout = &timeout);
    for f in findings.iter_mut() {
        if !matches!(f.status, Status::Critical | Status::Warning) || !ran_out(facts, f) {
            continue;
        }
        for c in &mut f.causes {
            if matches!(c.verdict, Verdict::Confirmed | Verdict::Suspected) {
                c.verdict = Verdict::Unchecked;
                c.evidence = Text::join([why.clone(), std::mem::take(&mut c.evidence)], Sep::Clauses);
            }
        }
        f.status = Status::Unknown;
        f.summary = Text::join([why.clone(), std::mem::take(&mut f.summary)], Sep::Clauses);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problems::fixtures::{ctx, failure};
    use crate::problems::postgres::fixtures::failed;

    fn facts(timeout_ms: u64, kind: PgErrorKind) -> Facts {
        Facts { postgres: Some(failed(kind, None, "no answer")), timeout_ms, ..Default::default() }
    }

    fn pg001(f: &Facts) -> Finding {
        let all = crate::run::diagnose(f, &[crate::catalogue::Area::Postgres], &ctx());
        all.into_iter().find(|x| x.code == "PG001").unwrap()
    }

    #[test]
    fn silence_under_a_too_short_timeout_is_unknown_not_critical() {
        let f = pg001(&facts(1, PgErrorKind::Timeout));
        assert_eq!(f.status, Status::Unknown, "{}", f.summary.en());
        assert!(
            f.summary.en().starts_with("no answer within the 1ms timeout, too short to judge: try --timeout 5s"),
            "{}",
            f.summary.en()
        );
        assert!(f.summary.render(crate::lang::Lang::Ja).contains("タイムアウト 1ms"), "{:?}", f.summary);
        assert!(f.causes.iter().all(|c| !matches!(c.verdict, Verdict::Confirmed | Verdict::Suspected)));
        // A sane timeout: a server that does not answer is the finding.
        assert_eq!(pg001(&facts(5000, PgErrorKind::Timeout)).status, Status::Critical);
        // A refusal is an answer, whatever the timeout.
        assert_eq!(pg001(&facts(1, PgErrorKind::Refused)).status, Status::Critical);
        // Facts replayed from before the setting was recorded: judged as they were.
        assert_eq!(pg001(&facts(0, PgErrorKind::Timeout)).status, Status::Critical);
    }

    #[test]
    fn each_probe_that_can_time_out_is_tied_to_its_check() {
        use crate::facts::of::web::{ApiFacts, WebFacts};
        let hang = |url: &str| failure("GET", url, HttpErrorKind::Timeout, "operation timed out");
        let web = WebFacts {
            apis: vec![ApiFacts {
                service: "user-api".into(),
                health: hang("http://localhost:8001/healthz"),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut a = Finding::new("API001", "user-api http://localhost:8001").status(Status::Critical, "hangs");
        let mut b = Finding::new("API001", "admin-api http://localhost:8003").status(Status::Critical, "refused");
        let facts = Facts { web: Some(web), timeout_ms: 20, ..Default::default() };
        let mut both = [a.clone(), b.clone()];
        apply(&facts, &mut both);
        assert_eq!(both[0].status, Status::Unknown);
        // admin-api's probe did not time out: its verdict stands.
        assert_eq!(both[1].status, Status::Critical);
        a.status = Status::Ok;
        b.code = "PG002";
        let mut untouched = [a, b];
        apply(&facts, &mut untouched);
        assert_eq!(untouched[0].status, Status::Ok);
        assert_eq!(untouched[1].status, Status::Critical);
    }
}
