//! What other checks of the same run say about the database and the cache, for the problems
//! whose causes point at them (an API that times out because PostgreSQL is slow).

use crate::report::{Finding, Status};
use crate::text::{Sep, Text};

#[derive(Debug, Clone, Default)]
pub struct Related {
    /// PG002/PG003 when they found something: "PG003: 2 queries running longer than 60s".
    pub database: Option<Text>,
    /// RD003 when the hit rate is low.
    pub cache: Option<Text>,
    /// Whether the database (PG002/PG003) and cache (RD003) checks ran at all in this run: when
    /// they did not, "nothing found" is no evidence.
    pub database_checked: bool,
    pub cache_checked: bool,
}

impl Related {
    pub fn from(findings: &[Finding]) -> Related {
        let pick = |codes: &[&str]| {
            let v: Vec<Text> = findings
                .iter()
                .filter(|f| codes.contains(&f.code) && matches!(f.status, Status::Warning | Status::Critical))
                .map(|f| Text::join([f.code.into(), ": ".into(), f.summary.clone()], Sep::Concat))
                .collect();
            (!v.is_empty()).then(|| Text::join(v, Sep::Clauses))
        };
        let ran = |codes: &[&str]| findings.iter().any(|f| codes.contains(&f.code) && f.status != Status::Skipped);
        Related {
            database: pick(&["PG001", "PG002", "PG003"]),
            cache: pick(&["RD003"]),
            database_checked: ran(&["PG002", "PG003"]),
            cache_checked: ran(&["RD003"]),
        }
    }
}
