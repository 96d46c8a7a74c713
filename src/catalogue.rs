//! The runbooks of every problem of the registry (`problems::registry::ALL`), parsed once.
//! The tests below fail when the registry and `runbooks/` disagree, when a text lacks a
//! language, when a problem's typed causes differ from its runbook's, or when codes and cause
//! ids drift from the contract.

use crate::runbook::Problem;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// (file under `runbooks/`, its text) of every problem, in report order: the registry's.
fn sources() -> impl Iterator<Item = (&'static str, &'static str)> {
    crate::problems::registry::ALL.iter().map(|p| p.runbook)
}

/// The whole catalogue, parsed once. The files are compiled in and tested, so a parse failure
/// here is a build defect; it is still reported, never a panic.
pub fn all() -> Result<&'static [Problem], String> {
    static CATALOGUE: OnceLock<Result<Vec<Problem>, String>> = OnceLock::new();
    CATALOGUE
        .get_or_init(|| sources().map(|(name, text)| Problem::parse(name, text)).collect())
        .as_ref()
        .map(|v| v.as_slice())
        .map_err(|e| format!("the built-in runbook is broken: {e}"))
}

/// The shared sentences (`runbooks/messages.toml`), parsed once.
pub fn shared() -> Option<&'static crate::runbook::Shared> {
    static SHARED: OnceLock<Option<crate::runbook::Shared>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            toml::from_str(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/runbooks/messages.toml"))).ok()
        })
        .as_ref()
}

/// A message template by its key: `PG002/<name>` from PG002's runbook, `shared/<name>` from
/// the shared file.
pub fn message(key: &str) -> Option<&'static crate::runbook::Text> {
    let (scope, name) = key.split_once('/')?;
    if scope == "shared" {
        return shared()?.messages.get(name);
    }
    get(scope)?.messages.get(name)
}

pub fn get(code: &str) -> Option<&'static Problem> {
    all().ok()?.iter().find(|p| p.code.eq_ignore_ascii_case(code))
}

/// A part of the stack, in report order (a problem's `area` is one of these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    Docker,
    Postgres,
    Redis,
    Auth,
    Api,
    Frontend,
    Network,
    Perf,
}

impl Area {
    pub const ALL: &'static [Area] =
        &[Area::Docker, Area::Postgres, Area::Redis, Area::Auth, Area::Api, Area::Frontend, Area::Network, Area::Perf];

    pub fn as_str(self) -> &'static str {
        match self {
            Area::Docker => "docker",
            Area::Postgres => "postgres",
            Area::Redis => "redis",
            Area::Auth => "auth",
            Area::Api => "api",
            Area::Frontend => "frontend",
            Area::Network => "network",
            Area::Perf => "perf",
        }
    }
}

/// Areas in report order, as the runbooks name them.
pub const AREAS: &[&str] = &["docker", "postgres", "redis", "auth", "api", "frontend", "network", "perf"];

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::runbook::Symptom;

    /// The contract's table of codes and cause ids (CONTRACT.md), copied on purpose: this is
    /// what scripts rely on, so the catalogue must never drift from it.
    pub(crate) const CONTRACT: &[(&str, &str, &[&str])] = &[
        ("DK001", "docker", &["daemon-down", "socket-permission", "wrong-docker-host", "api-version"]),
        (
            "PG001",
            "postgres",
            &["container-stopped", "wrong-password", "bad-database-url", "network-isolated", "database-missing"],
        ),
        ("PG002", "postgres", &["connection-leak", "max-connections-low", "idle-connections"]),
        ("PG003", "postgres", &["long-running-queries", "missing-index", "stale-statistics"]),
        ("PG004", "postgres", &["oom-killed", "idle-in-transaction-timeout", "network-unstable", "server-restarted"]),
        ("RD001", "redis", &["container-stopped", "wrong-password", "bad-redis-url", "network-isolated"]),
        ("RD002", "redis", &["maxmemory-too-low", "no-eviction-policy", "big-keys", "keys-without-ttl"]),
        ("RD003", "redis", &["ttl-too-short", "no-warmup", "poor-key-design", "evictions"]),
        ("AU001", "auth", &["wrong-password", "user-inactive", "database-error", "redis-error"]),
        (
            "AU002",
            "auth",
            &[
                "keys-missing",
                "jwks-unreachable",
                "token-expired",
                "issuer-mismatch",
                "audience-mismatch",
                "signature-mismatch",
            ],
        ),
        ("AU003", "auth", &["refresh-expired", "refresh-missing", "refresh-revoked"]),
        ("API001", "api", &["slow-database", "slow-external-call", "memory-pressure", "cpu-saturated"]),
        ("API002", "api", &["profile-missing", "stale-cache", "database-error"]),
        ("API003", "api", &["disk-full", "uploads-permission", "file-too-large", "ocr-dependency"]),
        ("FE001", "frontend", &["frontend-down", "backend-unreachable", "stale-build-cache"]),
        ("FE002", "frontend", &["cors-credentials", "cookie-attributes", "secure-cookie-on-http"]),
        ("FE003", "frontend", &["cookie-missing", "token-not-forwarded", "token-invalid"]),
        ("NET001", "network", &["no-shared-network", "name-not-resolvable", "port-not-listening"]),
        ("NET002", "network", &["port-not-published", "bound-to-container-loopback", "firewall"]),
        ("PERF001", "perf", &["slow-database", "cache-misses", "cpu-saturated", "slow-external-call"]),
        ("PERF002", "perf", &["memory-growth", "near-memory-limit", "oom-killed"]),
    ];

    #[test]
    fn root_cause_relations_name_real_codes_and_roles() {
        for p in all().unwrap() {
            for c in &p.explains {
                assert!(get(c).is_some() && *c != p.code, "{}: explains unknown or itself: {c}", p.code);
            }
            for r in &p.fails_with {
                assert!(crate::stack::roles::role(r).is_some(), "{}: fails_with unknown role {r}", p.code);
            }
        }
    }

    #[test]
    fn symptom_causes_and_thresholds_name_real_ones() {
        for p in all().unwrap() {
            for s in &p.symptoms {
                if let crate::runbook::Symptom::Literal { text, cause, at_least, .. } = s {
                    if let Some(c) = cause {
                        assert!(p.cause(c).is_some(), "{}: symptom {text:?} names unknown cause {c}", p.code);
                    }
                    if let Some(t) = at_least {
                        assert!(
                            crate::triage::Limits::default().get(t).is_some(),
                            "{}: {text:?}: unknown threshold {t}",
                            p.code
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_runbook_parses() {
        if let Err(e) = all() {
            panic!("{e}");
        }
    }

    /// Codes doctor adds beyond the contract (allowed: "new ones may be added").
    const EXTENSIONS: &[&str] = &["DK002", "DK003"];

    /// Cause ids doctor adds to a contract problem, after the contract's own (allowed: "a new
    /// cause id where no row fits"); each is to join the contract's table of extensions.
    const CAUSE_EXTENSIONS: &[(&str, &[&str])] = &[
        ("AU001", &["account-locked", "rate-limited"]),
        ("AU002", &["wrong-token-type"]),
        ("AU003", &["session-expired"]),
        ("PG001", &["doctor-credential-stale"]),
        ("PG002", &["pool-oversubscribed"]),
        ("RD002", &["maxmemory-over-container-limit"]),
        ("API003", &["processing-stalled", "admin-api-oom", "model-cache"]),
    ];

    #[test]
    fn catalogue_matches_the_contract_exactly() {
        let problems = all().unwrap();
        let contract: Vec<_> = problems.iter().filter(|p| !EXTENSIONS.contains(&p.code.as_str())).collect();
        assert_eq!(contract.len(), CONTRACT.len());
        assert_eq!(problems.len(), CONTRACT.len() + EXTENSIONS.len());
        for (p, (code, area, causes)) in contract.iter().zip(CONTRACT) {
            assert_eq!(&p.code, code);
            assert_eq!(&p.area, area, "{code}");
            let ids: Vec<&str> = p.causes.iter().map(|c| c.id.as_str()).collect();
            let added = CAUSE_EXTENSIONS.iter().find(|(c, _)| c == code).map_or(&[][..], |(_, ids)| *ids);
            let want: Vec<&str> = causes.iter().chain(added).copied().collect();
            assert_eq!(ids, want, "{code}: cause ids differ from the contract and its extensions");
        }
    }

    #[test]
    fn file_names_carry_their_code_and_area() {
        for ((path, _), p) in sources().zip(all().unwrap()) {
            assert!(path.starts_with(&format!("{}/{}-", p.area, p.code)), "{path}");
        }
    }

    #[test]
    fn every_file_under_runbooks_is_listed() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/runbooks");
        for area in std::fs::read_dir(dir).unwrap() {
            let area = area.unwrap().path();
            if area.is_file() {
                assert_eq!(area.file_name().unwrap(), "messages.toml", "a file outside the areas: {}", area.display());
                continue;
            }
            for f in std::fs::read_dir(&area).unwrap() {
                let f = f.unwrap().path();
                let rel = f.strip_prefix(dir).unwrap().to_string_lossy().to_string();
                assert!(sources().any(|(p, _)| p == rel), "{rel} is in no problem of the registry");
            }
        }
    }

    /// Every message template: both languages, the same placeholders in each, Japanese in `ja`;
    /// and every key the code says (`t!("KEY", ...)` in `src/`) has its template.
    #[test]
    fn every_message_has_both_languages_and_every_key_said_exists() {
        let is_ja = crate::testing::is_japanese;
        let mut all_messages: Vec<(String, &crate::runbook::Text)> = Vec::new();
        for p in all().unwrap() {
            all_messages.extend(p.messages.iter().map(|(k, t)| (format!("{}/{k}", p.code), t)));
        }
        all_messages.extend(
            shared().expect("runbooks/messages.toml parses").messages.iter().map(|(k, t)| (format!("shared/{k}"), t)),
        );
        for (key, t) in &all_messages {
            assert!(!t.en.trim().is_empty() && !is_ja(&t.en), "{key}: en is empty or not English");
            assert!(is_ja(&t.ja), "{key}: ja is not Japanese: {}", t.ja);
            assert_ne!(t.en, t.ja, "{key}: the same text in both languages");
            assert_eq!(
                crate::text::placeholders(&t.en),
                crate::text::placeholders(&t.ja),
                "{key}: placeholders differ"
            );
        }
        // Every key the code says exists (a source scan: the keys are literals by design).
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut said = 0;
        for p in crate::testing::source_files(std::path::Path::new(src)) {
            // text.rs documents the macro with an example key.
            if p.extension().is_none_or(|x| x != "rs") || p.ends_with("text.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for part in text.split("t!(\"").skip(1) {
                let Some(key) = part.split('"').next() else { continue };
                let well_formed = key.split_once('/').is_some_and(|(scope, name)| {
                    !scope.is_empty()
                        && scope.chars().all(|c| c.is_ascii_alphanumeric())
                        && !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                });
                if !well_formed {
                    continue;
                }
                said += 1;
                assert!(message(key).is_some(), "{}: t!(\"{key}\") has no template", p.display());
            }
        }
        assert!(said > 0);
    }

    #[test]
    fn every_text_has_both_languages_and_japanese_is_japanese() {
        let is_ja = crate::testing::is_japanese;
        for p in all().unwrap() {
            assert!(!p.title.en.trim().is_empty() && is_ja(&p.title.ja), "{} title", p.code);
            assert!(!p.ok_title.en.trim().is_empty() && is_ja(&p.ok_title.ja), "{} ok_title", p.code);
            assert_ne!(p.ok_title.en, p.title.en, "{}: the ok title must say the outcome", p.code);
            assert!(!p.by_hand.en.trim().is_empty() && is_ja(&p.by_hand.ja), "{} by_hand", p.code);
            assert!(!p.symptoms.is_empty(), "{} has no symptom", p.code);
            for s in &p.symptoms {
                if let Symptom::Described { en, ja } = s {
                    assert!(!en.trim().is_empty() && is_ja(ja), "{}: symptom {en:?}", p.code);
                }
            }
            for c in &p.causes {
                for t in [&c.cause, &c.remedy] {
                    assert!(!t.en.trim().is_empty() && is_ja(&t.ja), "{} {}", p.code, c.id);
                    assert!(!is_ja(&t.en), "{} {}: English text contains Japanese", p.code, c.id);
                }
            }
        }
    }

    #[test]
    fn every_cause_says_how_doctor_decides_it() {
        for p in all().unwrap() {
            for c in &p.causes {
                let Some(j) = &c.judged else { panic!("{} {}: no `judged` text", p.code, c.id) };
                assert!(!j.en.trim().is_empty(), "{} {}: judged.en is empty", p.code, c.id);
                assert!(!j.ja.trim().is_empty(), "{} {}: judged.ja is empty", p.code, c.id);
                assert!(!j.ja.is_ascii(), "{} {}: judged.ja is not Japanese", p.code, c.id);
            }
        }
    }

    #[test]
    fn english_titles_are_the_contract_titles() {
        let titles = [
            ("DK001", "Docker engine unreachable"),
            ("PG001", "PostgreSQL: cannot connect"),
            ("PG002", "PostgreSQL: too many clients"),
            ("RD002", "Redis: out of memory"),
            ("AU002", "auth: JWT verification fails"),
            ("PERF002", "memory keeps growing"),
        ];
        for (code, title) in titles {
            assert_eq!(get(code).unwrap().title.en, title);
        }
    }

    #[test]
    fn by_hand_never_uses_keys() {
        for p in all().unwrap() {
            for line in p.by_hand.en.lines().chain(p.by_hand.ja.lines()) {
                let l = line.trim_start();
                if l.starts_with('#') {
                    continue;
                }
                assert!(!line.contains(" KEYS "), "{}: by_hand uses KEYS: {line}", p.code);
            }
        }
    }
}
