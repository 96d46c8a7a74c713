//! The two languages doctor speaks, and how the one in force is chosen.
//!
//! Every text a person reads exists in English and Japanese; this module only decides which
//! one is wanted (`--lang` > `DOCTOR_LANG` > `LC_ALL`/`LANG` > English) and offers `tr`, the
//! small helper diagnosis code uses to write a sentence in both.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Ja,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" | "english" => Some(Lang::En),
            "ja" | "jp" | "japanese" | "日本語" => Some(Lang::Ja),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// The language from the environment when no `--lang` was given.
    /// `get` reads a variable (the process environment in production, a map in tests).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Lang, String> {
        if let Some(v) = get("DOCTOR_LANG").filter(|v| !v.is_empty()) {
            return Lang::parse(&v)
                .ok_or_else(|| format!("DOCTOR_LANG={v:?} is not a language doctor speaks (en, ja)"));
        }
        let locale = get("LC_ALL").filter(|v| !v.is_empty()).or_else(|| get("LANG").filter(|v| !v.is_empty()));
        Ok(match locale {
            Some(l) if l.to_ascii_lowercase().starts_with("ja") => Lang::Ja,
            _ => Lang::En,
        })
    }
}

/// Picks the sentence for `lang`. Diagnosis writes both so a report reads whole in either.
pub fn tr(lang: Lang, en: impl Into<String>, ja: impl Into<String>) -> String {
    match lang {
        Lang::En => en.into(),
        Lang::Ja => ja.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn doctor_lang_wins_over_locale() {
        assert_eq!(Lang::from_env(env(&[("DOCTOR_LANG", "en"), ("LANG", "ja_JP.UTF-8")])), Ok(Lang::En));
        assert_eq!(Lang::from_env(env(&[("DOCTOR_LANG", "ja")])), Ok(Lang::Ja));
    }

    #[test]
    fn locale_decides_otherwise_and_lc_all_beats_lang() {
        assert_eq!(Lang::from_env(env(&[("LANG", "ja_JP.UTF-8")])), Ok(Lang::Ja));
        assert_eq!(Lang::from_env(env(&[("LC_ALL", "C.UTF-8"), ("LANG", "ja_JP.UTF-8")])), Ok(Lang::En));
        assert_eq!(Lang::from_env(env(&[])), Ok(Lang::En));
    }

    #[test]
    fn unknown_doctor_lang_is_an_error() {
        assert!(Lang::from_env(env(&[("DOCTOR_LANG", "fr")])).is_err());
    }
}
