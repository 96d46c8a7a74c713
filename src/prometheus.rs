//! The Prometheus text format, read without trusting it: samples (`name{labels} value`),
//! histograms turned into quantiles per label set. A malformed line is skipped, never an error.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

pub fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines().take(200_000) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(s) = parse_line(line) {
            out.push(s);
        }
    }
    out
}

fn parse_line(line: &str) -> Option<Sample> {
    let (name, rest) = match line.find(['{', ' ', '\t']) {
        Some(i) => (&line[..i], &line[i..]),
        None => return None,
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        return None;
    }
    let mut labels = BTreeMap::new();
    let rest = if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        let mut end = None;
        loop {
            // label name
            while chars.peek().is_some_and(|(_, c)| *c == ',' || c.is_whitespace()) {
                chars.next();
            }
            match chars.peek() {
                Some((i, '}')) => {
                    end = Some(*i);
                    break;
                }
                None => break,
                _ => {}
            }
            let start = chars.peek()?.0;
            let mut key_end = start;
            while let Some((i, c)) = chars.peek().copied() {
                if c == '=' {
                    key_end = i;
                    break;
                }
                chars.next();
            }
            let key = body.get(start..key_end)?.trim().to_string();
            chars.next(); // '='
            if chars.next().map(|(_, c)| c) != Some('"') {
                return None;
            }
            let mut value = String::new();
            loop {
                match chars.next()? {
                    (_, '\\') => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        c => value.push(c),
                    },
                    (_, '"') => break,
                    (_, c) => value.push(c),
                }
            }
            labels.insert(key, value);
        }
        &body[end? + 1..]
    } else {
        rest
    };
    let value_text = rest.split_whitespace().next()?;
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse::<f64>().ok()?,
    };
    Some(Sample { name: name.to_string(), labels, value })
}

/// Sum of a metric over all its label sets.
pub fn total(samples: &[Sample], name: &str) -> Option<f64> {
    let v: Vec<f64> = samples.iter().filter(|s| s.name == name && s.value.is_finite()).map(|s| s.value).collect();
    (!v.is_empty()).then(|| v.iter().sum())
}

/// Quantile `q` of a histogram `base` (its `_bucket` series), per value of label `by`,
/// interpolated linearly inside the bucket as Prometheus' `histogram_quantile` does.
pub fn quantiles(samples: &[Sample], base: &str, by: &str, q: f64) -> BTreeMap<String, f64> {
    let bucket = format!("{base}_bucket");
    let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.name == bucket) {
        // A bucket bound that is not a number (`le="NaN"`) bounds nothing: the bucket is skipped.
        let Some(le) = s
            .labels
            .get("le")
            .and_then(|l| if l == "+Inf" { Some(f64::INFINITY) } else { l.parse::<f64>().ok() })
            .filter(|le| !le.is_nan())
        else {
            continue;
        };
        let key = s.labels.get(by).cloned().unwrap_or_default();
        groups.entry(key).or_default().push((le, s.value));
    }
    let mut out = BTreeMap::new();
    for (k, mut buckets) in groups {
        // Several label sets (methods, statuses) per group: add their counts per bound.
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut merged: Vec<(f64, f64)> = Vec::new();
        for (le, c) in buckets {
            match merged.last_mut() {
                Some(last) if last.0 == le => last.1 += c,
                _ => merged.push((le, c)),
            }
        }
        let Some(&(_, count)) = merged.last() else { continue };
        if count <= 0.0 {
            continue;
        }
        let rank = q * count;
        let mut prev = (0.0, 0.0);
        for &(le, c) in &merged {
            if c >= rank {
                let v = if le.is_infinite() {
                    prev.0
                } else if c > prev.1 {
                    prev.0 + (le - prev.0) * (rank - prev.1) / (c - prev.1)
                } else {
                    le
                };
                out.insert(k.clone(), v);
                break;
            }
            prev = (le, c);
        }
    }
    out
}

/// The p95 request latency per job, as PERF001 asks a Prometheus server for it.
pub const P95_QUERY: &str =
    "histogram_quantile(0.95, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m])))";

/// An instant-query answer of the Prometheus HTTP API (`/api/v1/query`) reduced to
/// `label value → number`; `NaN` and unparsable values are left out.
pub fn query_vector(text: &str, label: &str) -> Result<BTreeMap<String, f64>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("status").and_then(|s| s.as_str()) != Some("success") {
        let why = v.get("error").and_then(|e| e.as_str()).unwrap_or("no \"status\": \"success\"");
        return Err(why.chars().take(200).collect());
    }
    let result = v.pointer("/data/result").and_then(|r| r.as_array()).ok_or("no data.result array")?;
    let mut out = BTreeMap::new();
    for r in result {
        let name = r.pointer(&format!("/metric/{label}")).and_then(|n| n.as_str()).unwrap_or("(all)");
        let value = r.pointer("/value/1").and_then(|n| n.as_str()).and_then(|n| n.parse::<f64>().ok());
        if let Some(x) = value.filter(|x| x.is_finite()) {
            out.insert(name.to_string(), x);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP http_requests_in_progress In progress
# TYPE http_requests_in_progress gauge
http_requests_in_progress{method="GET",handler="/api/users/profile"} 3
http_requests_in_progress{method="POST",handler="/api/auth/login"} 1
http_request_duration_seconds_bucket{handler="/p",method="GET",le="0.1"} 50
http_request_duration_seconds_bucket{handler="/p",method="GET",le="0.5"} 90
http_request_duration_seconds_bucket{handler="/p",method="GET",le="1"} 100
http_request_duration_seconds_bucket{handler="/p",method="GET",le="+Inf"} 100
http_request_duration_seconds_count{handler="/p",method="GET"} 100
weird{a="x\"y",b="1"} 2.5e3
broken{a="x" 1
no_value
process_resident_memory_bytes 1.2e8
"#;

    #[test]
    fn samples_and_quantiles() {
        let s = parse(TEXT);
        assert_eq!(total(&s, "http_requests_in_progress"), Some(4.0));
        assert_eq!(total(&s, "process_resident_memory_bytes"), Some(1.2e8));
        let w = s.iter().find(|x| x.name == "weird").unwrap();
        assert_eq!((w.labels["a"].as_str(), w.value), ("x\"y", 2500.0));
        assert!(!s.iter().any(|x| x.name == "broken" || x.name == "no_value"));
        let p50 = quantiles(&s, "http_request_duration_seconds", "handler", 0.5)["/p"];
        let p95 = quantiles(&s, "http_request_duration_seconds", "handler", 0.95)["/p"];
        assert!((p50 - 0.1).abs() < 1e-9, "{p50}");
        assert!((p95 - 0.75).abs() < 1e-9, "{p95}");
    }

    #[test]
    fn garbage_is_survived() {
        for t in ["", "{{{{", "a{b=\"", "x{=\"1\"} 2", "\u{0}\u{1}", "a{b=\"c\"}", "le{le=\"+Inf\"} +Inf"] {
            let _ = quantiles(&parse(t), "a", "b", 0.95);
        }
    }

    #[test]
    fn query_api_answers() {
        let ok = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"job":"user-api"},"value":[1,"1.5"]},{"metric":{"job":"x"},"value":[1,"NaN"]}]}}"#;
        let m = query_vector(ok, "job").unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m["user-api"], 1.5);
        assert!(query_vector(r#"{"status":"error","error":"bad query"}"#, "job").unwrap_err().contains("bad query"));
        assert!(query_vector("<html>", "job").is_err());
        assert!(query_vector(r#"{"status":"success"}"#, "job").is_err());
    }
}
