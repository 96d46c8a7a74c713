//! What doctor saw of each container last time, so that a recreation can say what changed.
//!
//! The engine forgets a container's configuration when `docker compose up` replaces it: its
//! events say that a container was destroyed and another created, with the compose config hash
//! that tells *that* the configuration changed, but not *which* variables. So each run keeps, in
//! the user's state directory (`$XDG_STATE_HOME/doctor/containers.json`, else
//! `~/.local/state/doctor/`, mode 0600), per engine and container name: the container's id,
//! image, config hash and variable names. A non-secret variable also keeps a short hash of its
//! (already scrubbed) value, so that "value changed" can be said without keeping the value; a
//! secret variable keeps its name only. When the container of a name has another id than the
//! one recorded, [`Previous`] says how the two differ, and stays said until the next recreation.
//!
//! Best effort and never in the way: an unreadable or unwritable record is no record.

use super::docker::{ContainerFacts, DockerFacts};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How the container of a name differs from the one of that name doctor saw before it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Previous {
    /// The earlier container's id (12 characters).
    pub id: String,
    /// When doctor saw it last (Unix seconds).
    pub seen_at: f64,
    /// Its image id, when that differs from the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// Its image name, when that differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    pub config_changed: bool,
    /// Variable names the current container has and the earlier one had not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vars_added: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vars_removed: Vec<String>,
    /// Non-secret variables whose value changed (names only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vars_changed: Vec<String>,
}

impl Previous {
    pub fn image_changed(&self) -> bool {
        self.image_id.is_some() || self.image.is_some()
    }
    pub fn vars_differ(&self) -> bool {
        !(self.vars_added.is_empty() && self.vars_removed.is_empty() && self.vars_changed.is_empty())
    }
}

/// One container as recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Seen {
    id: String,
    seen_at: f64,
    image: String,
    #[serde(default)]
    image_id: Option<String>,
    #[serde(default)]
    config_hash: Option<String>,
    /// Variable name → short hash of its value; empty for a secret.
    vars: BTreeMap<String, String>,
}

/// A name's current container, and the one before it (kept until the next recreation).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Entry {
    current: Seen,
    #[serde(default)]
    before: Option<Seen>,
}

/// Engine address → container name → entry.
type Record = BTreeMap<String, BTreeMap<String, Entry>>;

fn record_path() -> Option<PathBuf> {
    Some(super::own_logins::state_dir()?.join("containers.json"))
}

fn value_hash(value: &str) -> String {
    let d = Sha256::digest(value.as_bytes());
    d.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn seen_of(c: &ContainerFacts, now: f64) -> Seen {
    let vars = c
        .env
        .iter()
        .map(|e| {
            let secret = e.fingerprint.is_some() || crate::redact::is_secret_name(&e.name);
            (e.name.clone(), if secret { String::new() } else { value_hash(&e.value) })
        })
        .collect();
    Seen {
        id: c.id.chars().take(12).collect(),
        seen_at: now,
        image: c.image.clone(),
        image_id: c.image_id.clone(),
        config_hash: c.config_hash.clone(),
        vars,
    }
}

/// How `now` differs from `before` (both of one container name).
fn difference(before: &Seen, now: &Seen) -> Previous {
    let names = |s: &Seen| s.vars.keys().cloned().collect::<std::collections::BTreeSet<_>>();
    let (a, b) = (names(before), names(now));
    Previous {
        id: before.id.clone(),
        seen_at: before.seen_at,
        image_id: before.image_id.clone().filter(|i| now.image_id.as_ref().is_some_and(|n| n != i)),
        image: Some(before.image.clone()).filter(|i| *i != now.image),
        config_changed: before.config_hash.is_some()
            && now.config_hash.is_some()
            && before.config_hash != now.config_hash,
        vars_added: b.difference(&a).cloned().collect(),
        vars_removed: a.difference(&b).cloned().collect(),
        vars_changed: a
            .intersection(&b)
            .filter(|n| {
                let (x, y) = (&before.vars[*n], &now.vars[*n]);
                !x.is_empty() && !y.is_empty() && x != y
            })
            .cloned()
            .collect(),
    }
}

/// Fills each found container's [`Previous`] from `record` and updates it; pure, for tests.
fn compare(record: &mut Record, facts: &mut DockerFacts, now: f64) {
    let engine = record.entry(facts.host.clone()).or_default();
    for c in facts.containers.iter_mut().filter_map(|l| l.container.as_mut()) {
        let seen = seen_of(c, now);
        let entry = engine.entry(c.name.clone()).or_insert_with(|| Entry { current: seen.clone(), before: None });
        if entry.current.id != seen.id {
            entry.before = Some(std::mem::replace(&mut entry.current, seen.clone()));
        } else {
            entry.current = seen.clone();
        }
        c.previous = entry.before.as_ref().map(|b| difference(b, &seen));
    }
}

/// Reads the record, fills each found container's [`Previous`], and writes the record back.
pub fn compare_and_remember(facts: &mut DockerFacts) {
    let Some(path) = record_path() else { return };
    let mut record: Record =
        std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    compare(&mut record, facts, crate::clock::now_unix());
    let Ok(text) = serde_json::to_vec(&record) else { return };
    if let Some(dir) = path.parent()
        && std::fs::create_dir_all(dir).is_ok()
    {
        let tmp = path.with_extension("json.tmp");
        let written = {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .and_then(|mut f| f.write_all(&text))
        };
        if written.is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::docker::{ContainerLookup, EnvVar};

    fn container(id: &str, image_id: &str, hash: &str, env: &[(&str, &str)]) -> DockerFacts {
        let env = env
            .iter()
            .map(|(k, v)| {
                let secret = crate::redact::is_secret_name(k);
                EnvVar {
                    name: k.to_string(),
                    value: if secret { "***".into() } else { v.to_string() },
                    fingerprint: secret.then(|| format!("fp-{v}")),
                }
            })
            .collect();
        let c = ContainerFacts {
            name: "user-api".into(),
            id: id.into(),
            image: "user-api:latest".into(),
            image_id: Some(image_id.into()),
            config_hash: Some(hash.into()),
            env,
            ..Default::default()
        };
        DockerFacts {
            host: "unix:///var/run/docker.sock".into(),
            host_from_env: false,
            source: Default::default(),
            context: None,
            engine: Ok(Default::default()),
            containers: vec![ContainerLookup {
                service: "user-api".into(),
                wanted: "user-api".into(),
                found_by: None,
                container: Some(c),
                error: None,
            }],
            timings: vec![],
            events: None,
            disk: None,
            memory_samples: None,
        }
    }
    fn previous(f: &DockerFacts) -> Option<Previous> {
        f.containers[0].container.as_ref().unwrap().previous.clone()
    }

    #[test]
    fn the_same_container_again_has_no_previous() {
        let mut record = Record::new();
        let mut f = container("aaaa", "sha256:1", "h1", &[("LOG_LEVEL", "info")]);
        compare(&mut record, &mut f, 10.0);
        assert_eq!(previous(&f), None);
        compare(&mut record, &mut f, 20.0);
        assert_eq!(previous(&f), None);
    }

    #[test]
    fn a_recreation_names_renamed_and_changed_variables_never_their_values() {
        let mut record = Record::new();
        let mut first = container("aaaa", "sha256:1", "h1", &[("JWT_SECRET_KEY", "s3cret"), ("LOG_LEVEL", "info")]);
        compare(&mut record, &mut first, 10.0);
        let mut second = container("bbbb", "sha256:2", "h2", &[("JWT_SECRET", "s3cret"), ("LOG_LEVEL", "debug")]);
        compare(&mut record, &mut second, 20.0);
        let p = previous(&second).unwrap();
        assert_eq!(p.id, "aaaa");
        assert_eq!(p.image_id.as_deref(), Some("sha256:1"));
        assert!(p.config_changed && p.image_changed() && p.vars_differ());
        assert_eq!(
            (p.vars_added, p.vars_removed, p.vars_changed),
            (vec!["JWT_SECRET".to_string()], vec!["JWT_SECRET_KEY".to_string()], vec!["LOG_LEVEL".to_string()])
        );
        let text = serde_json::to_string(&record).unwrap();
        assert!(!text.contains("s3cret") && !text.contains("debug"), "{text}");
        // Said again on the next run of the same container, until it is recreated.
        compare(&mut record, &mut second, 30.0);
        assert_eq!(previous(&second).map(|p| p.id), Some("aaaa".into()));
    }

    #[test]
    fn a_recreation_with_the_same_configuration_says_nothing_changed() {
        let mut record = Record::new();
        let mut first = container("aaaa", "sha256:1", "h1", &[("LOG_LEVEL", "info")]);
        compare(&mut record, &mut first, 10.0);
        let mut second = container("bbbb", "sha256:1", "h1", &[("LOG_LEVEL", "info")]);
        compare(&mut record, &mut second, 20.0);
        let p = previous(&second).unwrap();
        assert!(!p.config_changed && !p.image_changed() && !p.vars_differ(), "{p:?}");
    }
}
