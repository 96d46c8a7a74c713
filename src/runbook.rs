//! The runbook data model: one problem per file under `runbooks/`, every text in English and
//! Japanese. Runbook text lives in data, not code, so that a remedy changed in one language
//! shows its twin in the same diff, and so that `explain`, `list`, log triage and the check
//! reports all read the same words.

use crate::lang::Lang;
use serde::Deserialize;

/// A text in both languages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub en: String,
    pub ja: String,
}

impl Text {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Ja => &self.ja,
        }
    }
}

/// What a person sees: an error text exactly as some program prints it (the same in every
/// language, matched by `explain` and log triage), or a sign described in words.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Symptom {
    Literal {
        text: String,
        #[serde(default)]
        source: Option<String>,
        /// Words a log line must contain, besides most of the text's, to be this symptom: the
        /// part that varies in wording but not in meaning is matched loosely, and this part is
        /// what tells it from a harmless line (`profiles` in `relation "profiles" does not
        /// exist`; word matching leaves quoted names and numbers out).
        #[serde(default)]
        require: Vec<String>,
        /// The cause this line shows, when the line alone tells (`Token has expired` is
        /// AU002's `token-expired`); triage reports it beside the problem.
        #[serde(default)]
        cause: Option<String>,
        /// A threshold (`slow_query`) that the duration the line logs (`duration: 1234.567
        /// ms`) must reach: below it the same line is a normal one (log_min_duration_statement).
        #[serde(default)]
        at_least: Option<String>,
        /// A line that only says something while the check fails (`the database system is
        /// starting up`: every start logs it once while clients retry); on a check that passes
        /// now it is no evidence of a problem.
        #[serde(default)]
        transient: bool,
    },
    Described {
        en: String,
        ja: String,
    },
}

impl Symptom {
    /// Whether this is a transient line of its problem (see `transient`).
    pub fn is_transient(&self) -> bool {
        matches!(self, Symptom::Literal { transient: true, .. })
    }

    pub fn text(&self, lang: Lang) -> &str {
        match self {
            Symptom::Literal { text, .. } => text,
            Symptom::Described { en, ja } => match lang {
                Lang::En => en,
                Lang::Ja => ja,
            },
        }
    }

    /// Every wording of the symptom, for matching whatever language the input is in.
    pub fn wordings(&self) -> Vec<&str> {
        match self {
            Symptom::Literal { text, .. } => vec![text],
            Symptom::Described { en, ja } => vec![en, ja],
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cause {
    pub id: String,
    pub cause: Text,
    pub remedy: Text,
    /// How doctor decides this cause (what it reads), and when it stays `unchecked` and why.
    #[serde(default)]
    pub judged: Option<Text>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Problem {
    pub code: String,
    pub area: String,
    pub title: Text,
    /// The title phrased by outcome, for a check that passed (`Docker engine reachable`), so
    /// that an OK line never reads as the failure.
    pub ok_title: Text,
    /// Services whose container being down fails this check (DK002 then explains it).
    #[serde(default)]
    pub fails_with: Vec<String>,
    /// Failing checks this one may explain, when it fails (root-cause ordering).
    #[serde(default)]
    pub explains: Vec<String>,
    pub symptoms: Vec<Symptom>,
    /// The commands a person would type to check this by hand.
    pub by_hand: Text,
    pub causes: Vec<Cause>,
    /// The sentences its diagnosis says (`t!("PG002/<key>", ...)`), with `{name}` placeholders.
    #[serde(default)]
    pub messages: std::collections::BTreeMap<String, Text>,
}

/// Sentences several problems say (`t!("shared/<key>", ...)`): `runbooks/messages.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shared {
    pub messages: std::collections::BTreeMap<String, Text>,
}

impl Problem {
    pub fn parse(source_name: &str, toml_text: &str) -> Result<Problem, String> {
        toml::from_str(toml_text).map_err(|e| {
            let line = e.span().map(|s| toml_text[..s.start.min(toml_text.len())].lines().count().max(1));
            match line {
                Some(l) => format!("{source_name}:{l}: {}", e.message()),
                None => format!("{source_name}: {}", e.message()),
            }
        })
    }

    pub fn cause(&self, id: &str) -> Option<&Cause> {
        self.causes.iter().find(|c| c.id == id)
    }
}
