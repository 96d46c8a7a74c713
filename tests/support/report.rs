//! Reading doctor's JSON report in tests: a check by code, a cause's verdict and evidence.

use super::Output;
use serde_json::Value;

/// stdout as JSON; a report (`doctor.report/v1`) must also validate against
/// `docs/report.schema.json`, so every live test that reads one checks the schema too.
pub fn json(out: &Output) -> Value {
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\n{}", out.stdout, out.stderr));
    if v["schema"] == "doctor.report/v1" {
        super::json_schema::assert_report(&v);
    }
    v
}

pub fn check<'a>(v: &'a Value, code: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {v:#}"))
}

pub fn status(v: &Value, code: &str) -> String {
    check(v, code)["status"].as_str().unwrap_or_default().to_string()
}

pub fn cause<'a>(v: &'a Value, code: &str, id: &str) -> &'a Value {
    check(v, code)["causes"]
        .as_array()
        .expect("causes")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no cause {id} in {code}"))
}

pub fn verdict(v: &Value, code: &str, id: &str) -> String {
    cause(v, code, id)["verdict"].as_str().unwrap_or_default().to_string()
}

pub fn evidence(v: &Value, code: &str, id: &str) -> String {
    cause(v, code, id)["evidence"].as_str().unwrap_or_default().to_string()
}
