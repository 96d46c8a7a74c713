//! Diagnosis: pure functions from facts to findings, one file per problem. No I/O, no clock,
//! no printing: everything a verdict depends on is in the facts and the thresholds, so every
//! cause is unit-tested from a fixture and a report can be replayed offline.

pub mod api;
pub mod auth;
pub mod away;
pub mod docker;
pub mod engine;
#[cfg(test)]
pub mod fixtures;
pub mod frontend;
pub mod health;
pub mod logs;
pub mod network;
pub mod perf;
pub mod postgres;
pub mod redis;
pub mod registry;
pub mod related;
pub mod timeouts;

use crate::config::{Thresholds, format_duration};
use crate::text::Text;
use std::time::Duration;

/// What every diagnosis may read besides the facts: the thresholds. No language: diagnosis
/// says which sentence applies (`text::Text`), the report is rendered in a language later.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub thresholds: Thresholds,
}

pub fn secs(s: f64) -> String {
    format_duration(Duration::from_secs_f64(s.max(0.0)))
}

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else if v < 10.0 {
        format!("{v:.1} {}", UNITS[u])
    } else {
        format!("{v:.0} {}", UNITS[u])
    }
}

pub fn percent(r: f64) -> String {
    format!("{:.0}%", r * 100.0)
}

/// The sentence for a check that could not run because the one it depends on failed.
pub fn depends_on(code: &str, why: Text) -> Text {
    crate::t!("shared/depends-on", why = why, code = code)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn human_numbers() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(2 * 1024 * 1024), "2.0 MB");
        assert_eq!(bytes(300 * 1024), "300 KB");
        assert_eq!(secs(90.0), "90s");
        assert_eq!(secs(600.0), "10m");
        assert_eq!(percent(0.834), "83%");
    }
}
