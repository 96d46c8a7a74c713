//! A `.env` reader that knows what Docker Compose's `.env` files look like (`KEY=value`,
//! `export KEY=value`, quotes, comments, `${VAR}` interpolation) and reports a malformed line by
//! file and line number. Our own rather than dotenvy because the error must name the line, and
//! the values must never be echoed in that error or in any note.
//!
//! Interpolation follows Docker Compose, so that doctor sees the values the containers get
//! (`DATABASE_URL=postgresql://postgres:${POSTGRES_PASSWORD}@…`):
//!
//! - `$VAR` and `${VAR}` (a name is `[A-Za-z_][A-Za-z0-9_]*`); `$$` is a literal `$`;
//! - `${VAR:-default}`: the default when `VAR` is unset or empty; `${VAR-default}`: when unset;
//! - `${VAR:+other}`: `other` when `VAR` is set and not empty, else empty; `${VAR+other}`: when set;
//! - `${VAR:?message}` (unset or empty) and `${VAR?message}` (unset) stop Compose with an error;
//!   here the reference is read as an empty string and a note says so;
//! - a default (or `other`) may itself hold references, `${A:-${B:-x}}`; it is expanded only when
//!   it is used;
//! - unquoted and double-quoted values are expanded (in double quotes `\$` is a literal `$`),
//!   single-quoted values are taken literally;
//! - a name is looked up, as Compose does, first with the caller's lookup (the process
//!   environment, which also wins over the file's own values in doctor's configuration), then
//!   among the variables defined on earlier lines of the same file; a later line is not seen;
//! - a reference that resolves to nothing expands to the empty string, with a note (Compose
//!   prints a warning), and so does a required one; text Compose would refuse (a lone `$`, an
//!   unterminated `${`, `${1X}`) is kept as written, with a note.
//!
//! Notes name the file, the line and the variable, never a value. The work is bounded: defaults
//! nest at most [`MAX_DEPTH`] deep, a value grows by references to at most [`MAX_VALUE`] bytes
//! and a whole file to at most [`MAX_FILE_EXPANSION`], and at most [`MAX_NOTES`] notes are kept.

use std::collections::BTreeMap;

pub type Vars = BTreeMap<String, String>;

/// How deep `${A:-${B:-…}}` defaults may nest before the rest is kept as written.
pub const MAX_DEPTH: usize = 16;
/// How many bytes references may add to one value.
pub const MAX_VALUE: usize = 64 * 1024;
/// How many bytes references may add to all the values of one file.
pub const MAX_FILE_EXPANSION: usize = 1024 * 1024;
/// How many notes one file keeps (the last says that more were left out).
pub const MAX_NOTES: usize = 64;

/// Reads a `.env` text, expanding references with the file's own earlier variables only (an
/// unresolved one expands to the empty string). [`parse_expanded`] also looks names up outside
/// the file and returns the notes.
pub fn parse(name: &str, text: &str) -> Result<Vars, String> {
    parse_expanded(name, text, &|_| None).map(|(vars, _)| vars)
}

/// Reads a `.env` text as Docker Compose does, expanding `${VAR}` references with `lookup` (the
/// process environment, usually) and then the variables defined on earlier lines. Returns the
/// variables and the notes about references that did not resolve or were kept as written, each
/// `file:line: …`, naming a variable but never a value. The error, for a line that is no
/// `NAME=value`, names the line and never echoes a value either.
pub fn parse_expanded(
    name: &str,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vars, Vec<String>), String> {
    let mut vars = Vars::new();
    let mut ex = Expander { file: name, line: 0, lookup, notes: Vec::new(), file_budget: MAX_FILE_EXPANSION };
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
        ex.line = lineno;
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
            if q == '"' { ex.expand(&body, &vars, true) } else { body }
        } else {
            // Unquoted: an inline comment starts at " #".
            let v = match value.find(" #") {
                Some(i) => &value[..i],
                None => value,
            };
            ex.expand(v.trim_end(), &vars, false)
        };
        vars.insert(key.to_string(), parsed);
    }
    Ok((vars, ex.notes))
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

/// The length of the variable name at the start of `s` (0 when there is none).
fn name_len(s: &str) -> usize {
    match s.bytes().next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
            s.bytes().position(|b| !(b.is_ascii_alphanumeric() || b == b'_')).unwrap_or(s.len())
        }
        _ => 0,
    }
}

/// Where the `}` that closes the `{` at the start of `s` is, counting nested `${`.
fn closing_brace(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 2;
                continue;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

struct Expander<'a> {
    file: &'a str,
    line: usize,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    notes: Vec<String>,
    /// Bytes references may still add to this file's values.
    file_budget: usize,
}

impl Expander<'_> {
    /// A note about the current line; repeated notes are kept once, and at most [`MAX_NOTES`].
    fn note(&mut self, what: &str) {
        let note = format!("{}:{}: {what}", self.file, self.line);
        if self.notes.len() < MAX_NOTES {
            if !self.notes.contains(&note) {
                self.notes.push(note);
            }
        } else if self.notes.len() == MAX_NOTES {
            self.notes.push(format!("{}: more notes about ${{…}} references were left out", self.file));
        }
    }

    /// A name's value: the caller's lookup first (as Compose does), then the earlier lines.
    fn get(&self, name: &str, defined: &Vars) -> Option<String> {
        (self.lookup)(name).or_else(|| defined.get(name).cloned())
    }

    /// Appends what a reference stands for, within the value's and the file's bounds.
    fn append(&mut self, out: &mut String, v: &str, grown: &mut usize) {
        if *grown + v.len() > MAX_VALUE || v.len() > self.file_budget {
            self.note(&format!("references would make the value longer than {} KiB; it is cut", MAX_VALUE / 1024));
            return;
        }
        *grown += v.len();
        self.file_budget -= v.len();
        out.push_str(v);
    }

    fn expand(&mut self, s: &str, defined: &Vars, escapes: bool) -> String {
        let mut grown = 0;
        self.expand_at(s, defined, escapes, 0, &mut grown)
    }

    /// `s` with its references expanded; `grown` counts the bytes references added to the value.
    fn expand_at(&mut self, s: &str, defined: &Vars, escapes: bool, depth: usize, grown: &mut usize) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            let after = &rest[c.len_utf8()..];
            if escapes && c == '\\' {
                // Double quotes: \n, \t, and any other escaped character as itself (\$ too).
                let mut it = after.chars();
                match it.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(o) => out.push(o),
                    None => out.push('\\'),
                }
                rest = it.as_str();
                continue;
            }
            if c != '$' {
                out.push(c);
                rest = after;
                continue;
            }
            if let Some(more) = after.strip_prefix('$') {
                out.push('$');
                rest = more;
                continue;
            }
            if after.starts_with('{') {
                let Some(end) = closing_brace(after) else {
                    self.note(
                        "a \"${\" is never closed; the rest of the value is kept as written (Compose refuses it)",
                    );
                    out.push_str(rest);
                    break;
                };
                if !self.braced(&after[1..end], defined, escapes, depth, grown, &mut out) {
                    out.push_str(&rest[..end + 2]);
                }
                rest = &after[end + 1..];
                continue;
            }
            let n = name_len(after);
            if n > 0 {
                let name = &after[..n];
                match self.get(name, defined) {
                    Some(v) => self.append(&mut out, &v, grown),
                    None => self.note(&format!("{name} is not set, so ${name} expands to an empty string")),
                }
                rest = &after[n..];
                continue;
            }
            self.note(
                "a \"$\" without a name after it is kept as written (Compose refuses it; \"$$\" is a literal \"$\")",
            );
            out.push('$');
            rest = after;
        }
        out
    }

    /// Appends what `${inner}` stands for to `out`; false when it is to be kept as written.
    fn braced(
        &mut self,
        inner: &str,
        defined: &Vars,
        escapes: bool,
        depth: usize,
        grown: &mut usize,
        out: &mut String,
    ) -> bool {
        let n = name_len(inner);
        if n == 0 {
            self.note("a \"${…}\" without a variable name is kept as written (Compose refuses it)");
            return false;
        }
        let (name, op) = inner.split_at(n);
        let (colon, after_colon) = match op.strip_prefix(':') {
            Some(o) => (true, o),
            None => (false, op),
        };
        let kind = match (colon, after_colon.chars().next()) {
            (false, None) => "",
            (false, Some('-')) => "-",
            (false, Some('?')) => "?",
            (false, Some('+')) => "+",
            (true, Some('-')) => ":-",
            (true, Some('?')) => ":?",
            (true, Some('+')) => ":+",
            _ => {
                self.note(&format!("${{{name}…}} is no reference Compose knows; it is kept as written"));
                return false;
            }
        };
        let arg = after_colon.get(1..).unwrap_or("");
        let value = self.get(name, defined);
        let set = value.is_some();
        let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
        let use_arg = match kind {
            ":-" => !non_empty,
            "-" => !set,
            ":+" => non_empty,
            "+" => set,
            _ => false,
        };
        if use_arg {
            if depth >= MAX_DEPTH {
                self.note(&format!("defaults nested more than {MAX_DEPTH} deep are kept as written"));
                return false;
            }
            // The default's own text is bounded by the file; its references count as they expand.
            let d = self.expand_at(arg, defined, escapes, depth + 1, grown);
            out.push_str(&d);
            return true;
        }
        match (kind, value) {
            (":+" | "+", _) => {}
            (":?", _) if !non_empty => {
                self.note(&format!("{name} is required (${{{name}:?…}}) but is not set or empty; read as empty"))
            }
            ("?", None) => self.note(&format!("{name} is required (${{{name}?…}}) but is not set; read as empty")),
            (_, None) => self.note(&format!("{name} is not set, so ${{{name}}} expands to an empty string")),
            (_, Some(v)) => self.append(out, &v, grown),
        }
        true
    }
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

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: Vars = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k: &str| m.get(k).cloned()
    }

    fn expanded(text: &str, outside: &[(&str, &str)]) -> (Vars, Vec<String>) {
        parse_expanded(".env", text, &env(outside)).unwrap()
    }

    #[test]
    fn the_stack_database_url_takes_the_password_of_the_file() {
        let (v, notes) = expanded(
            "POSTGRES_PASSWORD=Pw-1\nDATABASE_URL=postgresql://postgres:${POSTGRES_PASSWORD}@host.docker.internal:5432/authdb\n",
            &[],
        );
        assert_eq!(v["DATABASE_URL"], "postgresql://postgres:Pw-1@host.docker.internal:5432/authdb");
        assert!(notes.is_empty(), "{notes:?}");
        // The old entry point expands with the file's own variables too.
        let v = parse(".env", "A=x\nB=${A}-$A\n").unwrap();
        assert_eq!(v["B"], "x-x");
    }

    #[test]
    fn plain_and_braced_references() {
        let (v, notes) = expanded("A=1\nB=$A.${A}_$A_x\nC=${A}${A}\nD=pre$A post\n", &[]);
        assert_eq!(v["B"], "1.1_"); // `$A_x` names A_x, which is not set
        assert_eq!(v["C"], "11");
        assert_eq!(v["D"], "pre1 post");
        assert_eq!(notes, [".env:2: A_x is not set, so $A_x expands to an empty string"]);
    }

    #[test]
    fn the_environment_is_looked_up_first_then_earlier_lines() {
        let (v, _) = expanded("PW=file\nURL=redis://:${PW}@h\nOTHER=${HOME}\n", &[("PW", "env"), ("HOME", "/root")]);
        assert_eq!(v["URL"], "redis://:env@h");
        assert_eq!(v["OTHER"], "/root");
        assert_eq!(v["PW"], "file"); // the file's own value is returned; the caller merges
    }

    #[test]
    fn a_later_line_is_not_seen() {
        let (v, notes) = expanded("URL=x:${PW}@h\nPW=later\n", &[]);
        assert_eq!(v["URL"], "x:@h");
        assert_eq!(v["PW"], "later");
        assert_eq!(notes, [".env:1: PW is not set, so ${PW} expands to an empty string"]);
        let (v, notes) = expanded("URL=x:${PW}@h\nPW=later\n", &[("PW", "outside")]);
        assert_eq!(v["URL"], "x:outside@h");
        assert!(notes.is_empty());
    }

    #[test]
    fn defaults_when_unset_or_empty() {
        let text = "EMPTY=\nSET=v\n\
                    A=${UNSET:-d}|${EMPTY:-d}|${SET:-d}\n\
                    B=${UNSET-d}|${EMPTY-d}|${SET-d}\n\
                    C=${UNSET:+r}|${EMPTY:+r}|${SET:+r}\n\
                    D=${UNSET+r}|${EMPTY+r}|${SET+r}\n\
                    E=${UNSET:-}|${UNSET:-a b  c}|${UNSET:-x-y:z}\n";
        let (v, notes) = expanded(text, &[]);
        assert_eq!(v["A"], "d|d|v");
        assert_eq!(v["B"], "d||v");
        assert_eq!(v["C"], "||r");
        assert_eq!(v["D"], "|r|r");
        assert_eq!(v["E"], "|a b  c|x-y:z");
        assert!(notes.is_empty(), "a used default is no missing variable: {notes:?}");
    }

    #[test]
    fn nested_defaults() {
        let (v, notes) = expanded("B=b\nX=${A:-${B:-no}}\nY=${A:-${C:-${D:-deep}-tail}}\nZ=${A:-${C}}\n", &[]);
        assert_eq!(v["X"], "b");
        assert_eq!(v["Y"], "deep-tail");
        assert_eq!(v["Z"], "");
        assert_eq!(notes, [".env:4: C is not set, so ${C} expands to an empty string"]);
        // A default not used is not expanded (and leaves no note).
        let (v, notes) = expanded("A=a\nX=${A:-${NOPE}}\n", &[]);
        assert_eq!(v["X"], "a");
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn required_references_read_as_empty_with_a_note() {
        let (v, notes) = expanded(
            "EMPTY=\nA=${PW:?set the password}\nB=${EMPTY:?x}|${EMPTY?x}\nC=${HOST?needed}\n",
            &[("HOST", "h")],
        );
        assert_eq!(v["A"], "");
        assert_eq!(v["B"], "|");
        assert_eq!(v["C"], "h");
        assert_eq!(
            notes,
            [
                ".env:2: PW is required (${PW:?…}) but is not set or empty; read as empty",
                ".env:3: EMPTY is required (${EMPTY:?…}) but is not set or empty; read as empty",
            ]
        );
        assert!(!notes.iter().any(|n| n.contains("set the password")), "the message is not echoed");
    }

    #[test]
    fn dollar_dollar_is_a_literal_dollar() {
        let (v, notes) = expanded("A=1\nB=p$$w$$$A\nC=\"$${A}\"\nD=$$\n", &[]);
        assert_eq!(v["B"], "p$w$1");
        assert_eq!(v["C"], "${A}");
        assert_eq!(v["D"], "$");
        assert!(notes.is_empty());
    }

    #[test]
    fn quotes_decide() {
        let (v, _) =
            expanded("A=1\nS='${A} $A $$'\nD=\"${A} $A $$ \\$A\"\nU=${A} $A # comment $A\nM=\"x\n${A}\"\n", &[]);
        assert_eq!(v["S"], "${A} $A $$");
        assert_eq!(v["D"], "1 1 $ $A");
        assert_eq!(v["U"], "1 1");
        assert_eq!(v["M"], "x\n1");
    }

    #[test]
    fn unknown_variables_expand_to_empty_and_are_noted_once_per_line() {
        let (v, notes) = expanded("A=${NOPE}${NOPE}$NOPE\nB=${NOPE}\n", &[]);
        assert_eq!((v["A"].as_str(), v["B"].as_str()), ("", ""));
        assert_eq!(
            notes,
            [
                ".env:1: NOPE is not set, so ${NOPE} expands to an empty string",
                ".env:1: NOPE is not set, so $NOPE expands to an empty string",
                ".env:2: NOPE is not set, so ${NOPE} expands to an empty string",
            ]
        );
    }

    #[test]
    fn what_compose_refuses_is_kept_as_written() {
        let (v, notes) = expanded("A=p$\nB=a$ b$-\nC=x${1A}y\nD=x${A:x}y\nE=x${A\nF=${}\n", &[]);
        assert_eq!(v["A"], "p$");
        assert_eq!(v["B"], "a$ b$-");
        assert_eq!(v["C"], "x${1A}y");
        assert_eq!(v["D"], "x${A:x}y");
        assert_eq!(v["E"], "x${A");
        assert_eq!(v["F"], "${}");
        assert_eq!(notes.len(), 6, "{notes:?}"); // B's two lone `$` make one note
        assert!(notes.iter().all(|n| n.starts_with(".env:")), "{notes:?}");
    }

    #[test]
    fn notes_and_errors_never_hold_a_value() {
        let text =
            "PW=Sekrit-Value-1\nA=${PW}${MISSING}\nB=Sekrit-Value-2$\nC=${PW:?Sekrit-Value-3}${X:?Sekrit-Value-4}\n";
        let (_, notes) = expanded(text, &[("OUT", "Sekrit-Value-5")]);
        assert!(!notes.is_empty());
        for n in &notes {
            assert!(!n.contains("Sekrit"), "{n}");
        }
        let e = parse_expanded(".env", "A=${B}\n\"Sekrit\n", &env(&[])).unwrap_err();
        assert!(e.starts_with(".env:2:") && !e.contains("Sekrit"), "{e}");
    }

    #[test]
    fn expansion_is_bounded() {
        // Each line doubles the last: without a bound, 2^40 bytes.
        let mut text = String::from("A0=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
        for i in 1..40 {
            text.push_str(&format!("A{i}=${{A{}}}${{A{}}}\n", i - 1, i - 1));
        }
        let (v, notes) = expanded(&text, &[]);
        assert!(v.values().all(|x| x.len() <= MAX_VALUE + 64), "a value past the bound");
        assert!(v.values().map(String::len).sum::<usize>() <= MAX_FILE_EXPANSION + text.len());
        assert!(notes.iter().any(|n| n.contains("cut")), "{notes:?}");
        assert!(notes.len() <= MAX_NOTES + 1);

        // Defaults nested past the bound are kept as written, without deep recursion.
        let deep = format!("A={}x{}\n", "${U:-".repeat(10_000), "}".repeat(10_000));
        let (v, notes) = expanded(&deep, &[]);
        assert!(v["A"].ends_with('}'));
        assert!(notes.iter().any(|n| n.contains("nested")), "{notes:?}");

        // Many unresolved references: the notes stop at the bound.
        let many: String = (0..500).map(|i| format!("V{i}=${{N{i}}}\n")).collect();
        let (_, notes) = expanded(&many, &[]);
        assert_eq!(notes.len(), MAX_NOTES + 1);
        assert!(notes.last().unwrap().contains("left out"));
    }

    #[test]
    fn odd_input_does_not_panic() {
        for t in
            ["A=$", "A=${", "A=${A:", "A=${A:-", "A=\"\\", "A=$é", "A=${é}", "A=${A:é}", "A=${A-é}", "A=$${", "A=}}}"]
        {
            let _ = parse_expanded(".env", t, &env(&[]));
        }
    }
}
