//! Words for people as data: diagnosis says *which* sentence applies and with which values
//! (`t!("PG002/slots-in-use", used = 5, usable = 5)`), the runbooks hold the sentence in both
//! languages (a `[messages]` table in each problem's file, shared sentences in
//! `runbooks/messages.toml`), and only rendering picks the language. So a report re-renders
//! in either language, the JSON carries a stable key and named arguments beside the prose, and
//! a translator reads TOML, not Rust. The catalogue tests hold every template to both
//! languages, the same placeholders in each, and Japanese in `ja`.

use crate::lang::Lang;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// How a list of texts is joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sep {
    /// Items of one list: `a, b` / `a、b`.
    List,
    /// Separate statements: `a; b` in both languages.
    Clauses,
    /// Side by side, nothing between.
    Concat,
}

/// A text to show a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Text {
    /// A message of the catalogue with its named arguments.
    Msg {
        key: String,
        args: Vec<(String, Text)>,
    },
    /// Words from outside or already in the chosen language: a name, a number, an error
    /// message from a server. Shown as they are.
    Raw(String),
    Join {
        items: Vec<Text>,
        sep: Sep,
    },
}

impl Default for Text {
    fn default() -> Text {
        Text::Raw(String::new())
    }
}

impl Text {
    pub fn msg(key: &str, args: Vec<(&str, Text)>) -> Text {
        Text::Msg { key: key.to_string(), args: args.into_iter().map(|(k, v)| (k.to_string(), v)).collect() }
    }

    pub fn join(items: impl IntoIterator<Item = Text>, sep: Sep) -> Text {
        let items: Vec<Text> = items.into_iter().filter(|t| !t.is_empty()).collect();
        match items.len() {
            1 => items.into_iter().next().unwrap_or_default(),
            _ => Text::Join { items, sep },
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Text::Raw(s) => s.is_empty(),
            Text::Join { items, .. } => items.iter().all(Text::is_empty),
            Text::Msg { .. } => false,
        }
    }

    /// The text in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        match self {
            Text::Raw(s) => s.clone(),
            Text::Join { items, sep } => {
                let sep = match (sep, lang) {
                    (Sep::List, Lang::En) => ", ",
                    (Sep::List, Lang::Ja) => "、",
                    (Sep::Clauses, _) => "; ",
                    (Sep::Concat, _) => "",
                };
                items.iter().map(|t| t.render(lang)).collect::<Vec<_>>().join(sep)
            }
            Text::Msg { key, args } => match template(key, lang) {
                Some(tpl) => fill(&tpl, args, lang),
                None => format!("[{key}]"),
            },
        }
    }

    /// English, for tests and logs.
    pub fn en(&self) -> String {
        self.render(Lang::En)
    }

    /// The key of a message (`None` for words from outside and lists).
    pub fn key(&self) -> Option<&str> {
        match self {
            Text::Msg { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The arguments as scripts read them: words as strings, messages as `{key, args}`,
    /// lists as arrays.
    pub fn args_json(&self) -> Option<Value> {
        match self {
            Text::Msg { args, .. } => Some(Value::Object(args.iter().map(|(k, v)| (k.clone(), v.json())).collect())),
            _ => None,
        }
    }

    fn json(&self) -> Value {
        match self {
            Text::Raw(s) => Value::String(s.clone()),
            Text::Join { items, .. } => Value::Array(items.iter().map(Text::json).collect()),
            Text::Msg { key, args } => {
                let a: Map<String, Value> = args.iter().map(|(k, v)| (k.clone(), v.json())).collect();
                json!({ "key": key, "args": a })
            }
        }
    }
}

/// Fills `{name}` placeholders; `{{` and `}}` are literal braces. An argument the template
/// lacks is ignored; a placeholder with no argument shows as `{name?}` (the tests catch both).
fn fill(tpl: &str, args: &[(String, Text)], lang: Lang) -> String {
    let mut out = String::with_capacity(tpl.len() + 16);
    let mut rest = tpl;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let c = rest.as_bytes()[i];
        if rest[i + 1..].starts_with(c as char) {
            out.push(c as char);
            rest = &rest[i + 2..];
            continue;
        }
        if c == b'}' {
            out.push('}');
            rest = &rest[i + 1..];
            continue;
        }
        match rest[i + 1..].find('}') {
            Some(j) => {
                let name = &rest[i + 1..i + 1 + j];
                match args.iter().find(|(k, _)| k == name) {
                    Some((_, v)) => out.push_str(&v.render(lang)),
                    None => out.push_str(&format!("{{{name}?}}")),
                }
                rest = &rest[i + 2 + j..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The placeholders of a template, for the catalogue tests.
pub fn placeholders(tpl: &str) -> Vec<String> {
    let mut v = Vec::new();
    let mut rest = tpl;
    while let Some(i) = rest.find('{') {
        if rest[i + 1..].starts_with('{') {
            rest = &rest[i + 2..];
            continue;
        }
        match rest[i + 1..].find('}') {
            Some(j) => {
                v.push(rest[i + 1..i + 1 + j].to_string());
                rest = &rest[i + 2 + j..];
            }
            None => break,
        }
    }
    v.sort();
    v.dedup();
    v
}

fn template(key: &str, lang: Lang) -> Option<String> {
    crate::catalogue::message(key).map(|t| t.get(lang).to_string())
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::Raw(s)
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Text {
        Text::Raw(s.clone())
    }
}

impl From<&Text> for Text {
    fn from(t: &Text) -> Text {
        t.clone()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::Raw(s.to_string())
    }
}

macro_rules! raw_from {
    ($($t:ty),*) => {
        $(impl From<$t> for Text {
            fn from(v: $t) -> Text {
                Text::Raw(v.to_string())
            }
        })*
    };
}
raw_from!(u16, u32, u64, usize, i32, i64, char);

/// `t!("PG002/slots-in-use", used = n, usable = m)`: a message of the catalogue with named
/// arguments (anything `Into<Text>`: words, numbers, other texts).
#[macro_export]
macro_rules! t {
    ($key:literal $(, $name:ident = $value:expr)* $(,)?) => {
        $crate::text::Text::msg($key, vec![$((stringify!($name), $crate::text::Text::from($value))),*])
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_named_placeholders_and_braces() {
        let args = vec![("n".to_string(), Text::from(3u64)), ("who".to_string(), Text::from("app"))];
        assert_eq!(fill("{n} idle from {who}", &args, Lang::En), "3 idle from app");
        assert_eq!(fill("{{literal}} {n}", &args, Lang::En), "{literal} 3");
        assert_eq!(fill("{missing}", &args, Lang::En), "{missing?}");
        assert_eq!(placeholders("{b} and {a} and {b} {{x}}"), vec!["a", "b"]);
        let list = Text::join(["a".into(), "b".into()], Sep::List);
        assert_eq!((list.render(Lang::En), list.render(Lang::Ja)), ("a, b".into(), "a、b".into()));
        assert_eq!(Text::join([Text::from("only"), Text::from("")], Sep::Clauses), Text::from("only"));
    }

    #[test]
    fn scripts_get_the_key_and_the_arguments() {
        let t = Text::msg("shared/example", vec![("n", 3u64.into()), ("inner", Text::msg("shared/other", vec![]))]);
        assert_eq!(t.key(), Some("shared/example"));
        assert_eq!(t.args_json().unwrap(), json!({"n": "3", "inner": {"key": "shared/other", "args": {}}}));
        assert_eq!(Text::msg("no/such-key", vec![]).en(), "[no/such-key]");
    }
}
