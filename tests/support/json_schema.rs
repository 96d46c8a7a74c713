//! A tiny JSON Schema validator for the subset `docs/report.schema.json` uses: `type` (one or a
//! list), `enum`, `required`, `properties`, `additionalProperties` (a boolean or a schema),
//! `items`, `minimum`, and `$ref` to `#/$defs/NAME`; `$schema`, `$id`, `title`, `description`
//! and `$defs` are annotations. Any other keyword is an error, so that the schema cannot use
//! something this validator would silently ignore. Shared by the library's render tests (via
//! `#[path]`) and the integration tests (`support::json_schema`), with serde_json only.

use serde_json::Value;

const ANNOTATIONS: &[&str] = &["$schema", "$id", "title", "description", "$defs"];
const KEYWORDS: &[&str] =
    &["type", "enum", "required", "properties", "additionalProperties", "items", "minimum", "$ref"];

/// Every way `value` breaks `schema` (empty when it validates), each with its JSON pointer.
pub fn validate(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, schema, value, "", &mut errors);
    errors
}

fn type_ok(t: &str, v: &Value) -> Result<bool, String> {
    Ok(match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        // JSON Schema: 1.0 is an integer too.
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        other => return Err(format!("unknown type {other:?}")),
    })
}

fn check(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(s) = schema.as_object() else {
        match schema {
            Value::Bool(true) => {}
            Value::Bool(false) => errors.push(format!("{at}: nothing is allowed here")),
            _ => errors.push(format!("{at}: schema is not an object")),
        }
        return;
    };
    for k in s.keys() {
        if !ANNOTATIONS.contains(&k.as_str()) && !KEYWORDS.contains(&k.as_str()) {
            errors.push(format!("{at}: the validator does not know keyword {k:?}"));
        }
    }
    if let Some(r) = s.get("$ref") {
        let target = r
            .as_str()
            .and_then(|r| r.strip_prefix("#/$defs/"))
            .and_then(|name| root.get("$defs").and_then(|d| d.get(name)));
        match target {
            Some(t) => check(root, t, v, at, errors),
            None => errors.push(format!("{at}: unresolvable $ref {r}")),
        }
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let mut matched = false;
        for ty in &types {
            match type_ok(ty, v) {
                Ok(ok) => matched |= ok,
                Err(e) => errors.push(format!("{at}: {e}")),
            }
        }
        if !matched {
            errors.push(format!("{at}: {} is not of type {t}", short(v)));
            return;
        }
    }
    if let Some(e) = s.get("enum")
        && !e.as_array().is_some_and(|e| e.contains(v))
    {
        errors.push(format!("{at}: {} is not one of {e}", short(v)));
    }
    if let (Some(min), Some(x)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64())
        && x < min
    {
        errors.push(format!("{at}: {x} is below the minimum {min}"));
    }
    if let Some(obj) = v.as_object() {
        for r in s.get("required").and_then(Value::as_array).into_iter().flatten() {
            if let Some(name) = r.as_str()
                && !obj.contains_key(name)
            {
                errors.push(format!("{at}: required {name:?} is missing"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, x) in obj {
            let path = format!("{at}/{k}");
            match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                (Some(p), _) => check(root, p, x, &path, errors),
                (None, Some(extra)) => check(root, extra, x, &path, errors),
                (None, None) => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            check(root, items, x, &format!("{at}/{i}"), errors);
        }
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 { format!("{}…", s.chars().take(60).collect::<String>()) } else { s }
}

/// The repository's report schema, read once at compile time.
pub fn report_schema() -> Value {
    serde_json::from_str(include_str!("../../docs/report.schema.json")).expect("docs/report.schema.json is JSON")
}

/// Panics with every violation when `v` is not a valid `doctor.report/v1`.
pub fn assert_report(v: &Value) {
    let errors = validate(&report_schema(), v);
    assert!(errors.is_empty(), "the report breaks docs/report.schema.json:\n{}", errors.join("\n"));
}
