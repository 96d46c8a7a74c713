//! `--format json`: the report exactly as the contract shapes it (`doctor.report/v1`).

use crate::report::Report;

pub fn report(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
