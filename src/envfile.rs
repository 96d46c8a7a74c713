//! A `.env` reader that knows what Docker Compose's `.env` files look like (`KEY=value`,
//! `export KEY=value`, quotes, comments) and reports a malformed line by file and line number.
//! Our own rather than dotenvy because the error must name the line, and the values must never
//! be echoed in that error.

use std::collections::BTreeMap;

pub type Vars = BTreeMap<String, String>;

pub fn parse(name: &str, text: &str) -> Result<Vars, String> {
    let mut vars = Vars::new();
    let mut lines = text.lines().enumerate();
    while let Some((idx, raw)) = lines.next() {
        let lineno = idx + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("{name}:{lineno}: expected NAME=value"));
        };
        let key = key.trim();
        if key.is_empty()
            || key.starts_with(|c: char| c.is_ascii_digit())
            || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            return Err(format!("{name}:{lineno}: {key:?} is not a variable name"));
        }
        let value = value.trim_start();
        let parsed = if let Some(q) = value.chars().next().filter(|c| *c == '"' || *c == '\'') {
            // A quoted value may span lines until its closing quote.
            let mut body = value[1..].to_string();
            loop {
                if let Some(end) = closing_quote(&body, q) {
                    let rest = body[end + 1..].trim();
                    if !(rest.is_empty() || rest.starts_with('#')) {
                        return Err(format!("{name}:{lineno}: unexpected text after the closing quote"));
                    }
                    body.truncate(end);
                    break;
                }
                match lines.next() {
                    Some((_, more)) => {
                        body.push('\n');
                        body.push_str(more);
                    }
                    None => {
                        return Err(format!("{name}:{lineno}: the quote opened here is never closed"));
                    }
                }
            }
            if q == '"' { unescape(&body) } else { body }
        } else {
            // Unquoted: an inline comment starts at " #".
            let v = match value.find(" #") {
                Some(i) => &value[..i],
                None => value,
            };
            v.trim_end().to_string()
        };
        vars.insert(key.to_string(), parsed);
    }
    Ok(vars)
}

/// `parse`, then `${VAR}` references expanded from the file's own variables, then `lookup`.
/// (Interim: plain `${VAR}` only; Compose's full rules replace it.)
pub fn parse_expanded(
    name: &str,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vars, Vec<String>), String> {
    let raw = parse(name, text)?;
    let mut out = Vars::new();
    let mut notes = Vec::new();
    for (k, v) in &raw {
        let mut value = String::new();
        let mut rest = v.as_str();
        while let Some(i) = rest.find("${") {
            value.push_str(&rest[..i]);
            match rest[i + 2..].find('}') {
                Some(j) => {
                    let var = &rest[i + 2..i + 2 + j];
                    match out.get(var).cloned().or_else(|| lookup(var)) {
                        Some(x) => value.push_str(&x),
                        None => notes.push(format!("{name}: {k} refers to ${{{var}}}, which is not set")),
                    }
                    rest = &rest[i + 3 + j..];
                }
                None => {
                    value.push_str(&rest[i..]);
                    rest = "";
                }
            }
        }
        value.push_str(rest);
        out.insert(k.clone(), value);
    }
    Ok((out, notes))
}

fn closing_quote(s: &str, q: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if q == '"' && c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        if c == q && !escaped {
            return Some(i);
        }
        escaped = false;
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_style_env() {
        let v = parse(
            ".env",
            "# comment\nPOSTGRES_PASSWORD=pa ss # trailing\nexport REDIS_URL='redis://:x@redis:6379'\nA=\"q\\\"uote\"\nEMPTY=\nML=\"a\nb\"\n",
        )
        .unwrap();
        assert_eq!(v["POSTGRES_PASSWORD"], "pa ss");
        assert_eq!(v["REDIS_URL"], "redis://:x@redis:6379");
        assert_eq!(v["A"], "q\"uote");
        assert_eq!(v["EMPTY"], "");
        assert_eq!(v["ML"], "a\nb");
    }

    #[test]
    fn errors_name_the_line_and_not_the_value() {
        let e = parse(".env", "A=1\nthis is wrong\n").unwrap_err();
        assert_eq!(e, ".env:2: expected NAME=value");
        let e = parse(".env", "A=1\nB=\"secretvalue\n").unwrap_err();
        assert!(e.starts_with(".env:2:") && !e.contains("secretvalue"), "{e}");
        assert!(parse(".env", "1A=x").is_err());
        assert!(parse(".env", "A=\"x\" junk").is_err());
    }
}
