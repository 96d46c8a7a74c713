//! `--format json`: the report exactly as the contract shapes it (`doctor.report/v1`), as a
//! value: `cli` scrubs its strings one by one, so removing a secret can never break the JSON.

use crate::report::Report;
use serde_json::Value;

pub fn report(r: &Report) -> Value {
    serde_json::to_value(r).unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }))
}
