//! A strict reader of the text exposition format, for tests (promtool is not installed here):
//! the line grammar, escapes, one block and one TYPE per family before its samples, no
//! duplicate series, no timestamps.
//! Its own file so that the integration tests read exactly this code (`#[path]`).

use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

fn name_ok(s: &str, colon: bool) -> bool {
    let mut cs = s.chars();
    let first = cs.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'));
    first && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

fn value(s: &str) -> Result<f64, String> {
    match s {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => s.parse::<f64>().map_err(|_| format!("bad value {s:?}")),
    }
}

/// `{a="x",b="y"}` (the braces included) and what follows it.
fn labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut out = BTreeMap::new();
    let mut rest = &s[1..];
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((out, r));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = &rest[..eq];
        if !name_ok(name, false) || name.starts_with("__") {
            return Err(format!("bad label name {name:?}"));
        }
        rest = rest[eq + 1..].strip_prefix('"').ok_or("label value not quoted")?;
        let mut v = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => v.push('\\'),
                    Some((_, '"')) => v.push('"'),
                    Some((_, 'n')) => v.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, c)) => v.push(c),
            }
        };
        if out.insert(name.to_string(), v).is_some() {
            return Err(format!("label {name} twice"));
        }
        rest = &rest[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the last line has no line feed".into());
    }
    let mut samples = Vec::new();
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut helped: HashSet<String> = HashSet::new();
    let mut done: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut series: HashSet<String> = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        let mut enter = |family: &str, current: &mut Option<String>| -> Result<(), String> {
            if current.as_deref() != Some(family) {
                if done.contains(family) {
                    return Err(format!("family {family} is split in two blocks"));
                }
                if let Some(c) = current.take() {
                    done.insert(c);
                }
                *current = Some(family.to_string());
            }
            Ok(())
        };
        if line.trim().is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            let mut parts = c.trim_start().splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), help) => {
                    if !name_ok(name, true) || !helped.insert(name.to_string()) {
                        return Err(at("bad or second HELP".into()));
                    }
                    let help = help.unwrap_or("");
                    if help.replace("\\\\", "").replace("\\n", "").contains('\\') {
                        return Err(at("bad escape in HELP".into()));
                    }
                    enter(name, &mut current).map_err(at)?;
                }
                (Some("TYPE"), Some(name), Some(t)) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&t) {
                        return Err(at(format!("bad type {t}")));
                    }
                    if !name_ok(name, true) || typed.insert(name.to_string(), t.to_string()).is_some() {
                        return Err(at("second TYPE".into()));
                    }
                    if samples.iter().any(|s: &Sample| s.name == name) {
                        return Err(at("TYPE after samples".into()));
                    }
                    enter(name, &mut current).map_err(at)?;
                }
                _ => {}
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        if !name_ok(name, true) {
            return Err(at(format!("bad metric name {name:?}")));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            labels(&line[name_end..]).map_err(at)?
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        match fields.as_slice() {
            [v] => {
                let value = value(v).map_err(at)?;
                if !typed.contains_key(name) {
                    return Err(at("sample without TYPE".into()));
                }
                enter(name, &mut current).map_err(at)?;
                if !series.insert(format!("{name}{labels:?}")) {
                    return Err(at("duplicate series".into()));
                }
                samples.push(Sample { name: name.to_string(), labels, value });
            }
            [_, _] => return Err(at("timestamps are refused by the textfile collector".into())),
            _ => return Err(at("expected one value".into())),
        }
    }
    Ok(samples)
}
