//! Which engine to ask, found the way the docker CLI finds it: `--host`, then `DOCKER_HOST`,
//! then `DOCKER_CONTEXT`, then `currentContext` of `$DOCKER_CONFIG/config.json` (default
//! `~/.docker`), else the default socket. A context's endpoint is in
//! `contexts/meta/<sha256 of its name>/meta.json` and its TLS material in
//! `contexts/tls/<sha256>/docker/`. Kept apart from connecting so that an address doctor cannot
//! use (ssh:// without an ssh client, an unknown scheme, a context without meta) is told before anything runs, as the
//! user's setting doctor lacks, never as a cause the runbook confirms.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Where the engine's address came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineSource {
    /// `--host`/`-H`.
    Flag,
    /// `DOCKER_HOST`.
    DockerHost,
    /// `DOCKER_CONTEXT`.
    DockerContext,
    /// `currentContext` of the docker CLI's config.json (`docker context use`).
    CurrentContext,
    /// Nothing set: the default socket.
    #[default]
    Default,
}

impl EngineSource {
    pub fn id(self) -> &'static str {
        match self {
            EngineSource::Flag => "flag",
            EngineSource::DockerHost => "docker-host",
            EngineSource::DockerContext => "docker-context",
            EngineSource::CurrentContext => "current-context",
            EngineSource::Default => "default",
        }
    }
}

/// The engine to ask and why that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub source: EngineSource,
    /// The docker context named (`None` for a flag, DOCKER_HOST or the default socket).
    pub context: Option<String>,
    /// The context's `ca.pem`/`cert.pem`/`key.pem` directory, when it has one.
    pub tls_dir: Option<PathBuf>,
}

/// An address doctor cannot use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    pub address: String,
    pub why: String,
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "doctor cannot use this engine address: {} ({})", self.address, self.why)
    }
}

#[derive(Deserialize)]
struct CliConfig {
    #[serde(rename = "currentContext", default)]
    current_context: Option<String>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "Endpoints", default)]
    endpoints: std::collections::BTreeMap<String, MetaEndpoint>,
}

#[derive(Deserialize)]
struct MetaEndpoint {
    #[serde(rename = "Host", default)]
    host: Option<String>,
    #[serde(rename = "SkipTLSVerify", default)]
    skip_tls_verify: bool,
}

/// Resolves the engine. `var` reads the environment; `home` is `$HOME`.
pub fn resolve(flag: Option<&str>, var: &dyn Fn(&str) -> Option<String>, home: &Path) -> Result<Endpoint, Unusable> {
    let set = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let path = var("PATH").unwrap_or_default();
    let plain =
        |host: String, source| usable(&host, &path).map(|_| Endpoint { host, source, context: None, tls_dir: None });
    if let Some(h) = set(flag.map(str::to_string)) {
        return plain(h, EngineSource::Flag);
    }
    if let Some(h) = set(var("DOCKER_HOST")) {
        return plain(h, EngineSource::DockerHost);
    }
    let config_dir = set(var("DOCKER_CONFIG")).map(PathBuf::from).unwrap_or_else(|| home.join(".docker"));
    let (name, source) = match set(var("DOCKER_CONTEXT")) {
        Some(n) => (n, EngineSource::DockerContext),
        None => match current_context(&config_dir)? {
            Some(n) => (n, EngineSource::CurrentContext),
            None => return plain(super::DEFAULT_HOST.to_string(), EngineSource::Default),
        },
    };
    if name == "default" {
        return Ok(Endpoint { host: super::DEFAULT_HOST.into(), source, context: Some(name), tls_dir: None });
    }
    context(&config_dir, &name, source, &path)
}

fn current_context(dir: &Path) -> Result<Option<String>, Unusable> {
    let path = dir.join("config.json");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
    let c: CliConfig = serde_json::from_str(&text).map_err(|e| Unusable {
        address: path.display().to_string(),
        why: format!("not readable as the docker CLI's config: {e}"),
    })?;
    Ok(c.current_context.filter(|n| !n.is_empty()))
}

fn context(dir: &Path, name: &str, source: EngineSource, path: &str) -> Result<Endpoint, Unusable> {
    let id = hex(&Sha256::digest(name.as_bytes()));
    let meta_path = dir.join("contexts/meta").join(&id).join("meta.json");
    let address = format!("context {name}");
    let text = std::fs::read_to_string(&meta_path).map_err(|e| Unusable {
        address: address.clone(),
        why: format!("no such docker context: {}: {e}", meta_path.display()),
    })?;
    let meta: Meta = serde_json::from_str(&text)
        .map_err(|e| Unusable { address: address.clone(), why: format!("{}: {e}", meta_path.display()) })?;
    let Some(ep) = meta.endpoints.get("docker") else {
        return Err(Unusable { address, why: format!("{} names no docker endpoint", meta_path.display()) });
    };
    let host = ep.host.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| super::DEFAULT_HOST.into());
    usable(&host, path)?;
    let tls = dir.join("contexts/tls").join(&id).join("docker");
    let tls_dir = tls.join("ca.pem").is_file().then_some(tls);
    if tls_dir.is_some() && ep.skip_tls_verify {
        return Err(Unusable {
            address: host,
            why: "the context skips TLS verification, which doctor does not do".into(),
        });
    }
    Ok(Endpoint { host, source, context: Some(name.to_string()), tls_dir })
}

/// The schemes doctor connects with: bollard's http, ssl and unix, and ssh through the `ssh`
/// client on `path` (see [`super::ssh`]).
fn usable(host: &str, path: &str) -> Result<(), Unusable> {
    let why = match host.split_once("://").map(|(s, _)| s) {
        Some("unix" | "tcp" | "http" | "https") => return Ok(()),
        Some("ssh") => match super::ssh::parse(host) {
            Err(e) => e,
            Ok(_) if super::ssh::client_on(path).is_none() => "ssh:// needs the ssh client".into(),
            Ok(_) => return Ok(()),
        },
        Some("npipe") => "named pipes exist only on Windows".into(),
        Some(_) => "an unknown scheme: use unix://, tcp://, https:// or ssh://".into(),
        None => "no scheme: write unix:///path, tcp://host:port or ssh://user@host".into(),
    };
    Err(Unusable { address: crate::redact::url(host), why })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: std::collections::BTreeMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    fn home_with_context(name: &str, host: &str, current: Option<&str>) -> tempfile::TempDir {
        let home = tempfile::tempdir().unwrap();
        let id = hex(&Sha256::digest(name.as_bytes()));
        let meta = home.path().join(".docker/contexts/meta").join(id);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            format!(r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#),
        )
        .unwrap();
        if let Some(c) = current {
            std::fs::write(home.path().join(".docker/config.json"), format!(r#"{{"currentContext":"{c}"}}"#)).unwrap();
        }
        home
    }

    #[test]
    fn order_is_flag_host_context_current_default() {
        let home = home_with_context("prod", "tcp://10.0.0.9:2375", Some("prod"));
        let h = home.path();
        let r = |flag, e: &[(&str, &str)]| resolve(flag, &env(e), h).unwrap();
        assert_eq!(r(Some("unix:///a"), &[("DOCKER_HOST", "unix:///b")]).source, EngineSource::Flag);
        assert_eq!(r(None, &[("DOCKER_HOST", "unix:///b"), ("DOCKER_CONTEXT", "prod")]).host, "unix:///b");
        let c = r(None, &[("DOCKER_CONTEXT", "prod")]);
        assert_eq!(
            (c.host.as_str(), c.source, c.context.as_deref()),
            ("tcp://10.0.0.9:2375", EngineSource::DockerContext, Some("prod"))
        );
        let c = r(None, &[]);
        assert_eq!((c.source, c.context.as_deref()), (EngineSource::CurrentContext, Some("prod")));
        let d = r(None, &[("DOCKER_CONTEXT", "default")]);
        assert_eq!(d.host, super::super::DEFAULT_HOST);
        let bare = tempfile::tempdir().unwrap();
        assert_eq!(resolve(None, &env(&[]), bare.path()).unwrap().source, EngineSource::Default);
    }

    #[test]
    fn unusable_addresses_say_why() {
        let bare = tempfile::tempdir().unwrap();
        let e = resolve(None, &env(&[("DOCKER_HOST", "ssh://deploy@prod"), ("PATH", "/nonexistent")]), bare.path())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "doctor cannot use this engine address: ssh://deploy@prod (ssh:// needs the ssh client)"
        );
        let e = resolve(None, &env(&[("DOCKER_HOST", "ssh://deploy@prod/x")]), bare.path()).unwrap_err();
        assert!(e.why.contains("only [user@]host[:port]"), "{e}");
        let e = resolve(Some("ftp://x"), &env(&[]), bare.path()).unwrap_err();
        assert!(e.why.contains("unknown scheme"), "{e}");
        let e = resolve(None, &env(&[("DOCKER_CONTEXT", "nope")]), bare.path()).unwrap_err();
        assert!(e.to_string().contains("context nope (no such docker context"), "{e}");
    }
}
