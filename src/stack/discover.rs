//! Which container plays each role: a pure function of the engine's container list (what
//! `docker ps -a` shows) and what the operator pinned. Every layout of the specification is
//! recognised by the names in [`super::roles`]; a container the configuration names is the
//! strongest evidence, then compose labels (layout A's own project first), the container's
//! name, its image, and last a published port. A container plays at most one role.

use super::roles::{self, Layout, ROLES, Role};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One container as the engine's list shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub image: String,
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
    /// `com.docker.compose.project.working_dir`: where its compose file (and `.env`) lives.
    pub working_dir: Option<String>,
    pub running: bool,
    /// Unix seconds.
    pub created: i64,
    /// Published host ports (TCP).
    pub host_ports: Vec<u16>,
}

/// How a container was found for its role, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FoundBy {
    /// `[services.<role>] container = ...` in doctor.toml.
    Config,
    /// Compose labels: the service's name (in layout A, within its repository's project).
    ComposeService,
    /// The container's name.
    Name,
    Image,
    /// It publishes the role's well-known host port.
    Port,
}

impl FoundBy {
    pub fn as_str(self) -> &'static str {
        match self {
            FoundBy::Config => "config",
            FoundBy::ComposeService => "compose-service",
            FoundBy::Name => "name",
            FoundBy::Image => "image",
            FoundBy::Port => "port",
        }
    }
}

/// Which compose projects are the stack's (`compose_project` in doctor.toml): names, or
/// prefixes ending in `-`. Empty: every container may be the stack's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope(pub Vec<String>);

impl Scope {
    pub fn admits(&self, project: Option<&str>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(p) = project else { return false };
        self.0.iter().any(|s| if s.ends_with('-') { p.starts_with(s.as_str()) } else { p == s })
    }
}

/// The outcome for one role.
#[derive(Debug, Clone, PartialEq)]
pub struct Assigned {
    pub role: &'static str,
    /// Index into the listed containers.
    pub pick: Option<(usize, FoundBy)>,
    /// The layout the evidence points at (None when found by image, port or config).
    pub layout: Option<Layout>,
    /// Other containers that matched as strongly (stopped or older ones), by name.
    pub also: Vec<String>,
    /// The container name pinned in doctor.toml, if any.
    pub pinned: Option<String>,
}

/// A possible (role, container) pair and how strong it is (lower is stronger).
struct Candidate {
    role: usize,
    container: usize,
    found_by: FoundBy,
    rank: u8,
    layout: Option<Layout>,
}

fn candidates_for(r: &Role, c: &Listed) -> Option<(FoundBy, u8, Option<Layout>)> {
    if let Some(svc) = c.compose_service.as_deref()
        && r.has_name(svc)
    {
        let own_project = c.compose_project.as_deref().is_some_and(|p| r.projects.contains(&p));
        // Outside layout A's own projects, a compose service is the one compose file's (B).
        let layout = match (own_project, r.layout_of(svc)) {
            (true, _) | (false, Some(Layout::A)) => Some(Layout::A),
            _ => Some(Layout::B),
        };
        return Some((FoundBy::ComposeService, if own_project { 0 } else { 1 }, layout));
    }
    if c.compose_project.as_deref().is_some_and(|p| r.projects.contains(&p)) {
        // Layout A's repository project, whatever the service is called inside it.
        return Some((FoundBy::ComposeService, 2, Some(Layout::A)));
    }
    if r.has_name(&c.name) {
        return Some((FoundBy::Name, 3, r.layout_of(&c.name)));
    }
    if r.image_matches(&c.image) {
        return Some((FoundBy::Image, 4, None));
    }
    if c.host_ports.contains(&r.host_port) {
        return Some((FoundBy::Port, 5, None));
    }
    None
}

/// Assigns a container to every role. `pins` maps a role to the container doctor.toml names,
/// looked up by name or id: what the operator pinned is not second-guessed, except that a
/// pinned name that does not exist falls back to the compose projects doctor.toml scopes the
/// stack to (`compose_project`), and only there.
pub fn assign(listed: &[Listed], pins: &BTreeMap<String, String>, scope: &Scope) -> Vec<Assigned> {
    let mut out: Vec<Assigned> = ROLES
        .iter()
        .map(|r| Assigned { role: r.key, pick: None, layout: None, also: Vec::new(), pinned: pins.get(r.key).cloned() })
        .collect();
    let mut taken = vec![false; listed.len()];
    for (ri, r) in ROLES.iter().enumerate() {
        let Some(want) = pins.get(r.key) else { continue };
        let found =
            listed.iter().position(|c| c.name == *want || (want.len() >= 12 && c.id.starts_with(want.as_str())));
        if let Some(ci) = found {
            out[ri].pick = Some((ci, FoundBy::Config));
            taken[ci] = true;
        }
    }
    let mut cands: Vec<Candidate> = Vec::new();
    for (ri, r) in ROLES.iter().enumerate() {
        if pins.contains_key(r.key) && (out[ri].pick.is_some() || scope.0.is_empty()) {
            continue;
        }
        for (ci, c) in listed.iter().enumerate() {
            if taken[ci] || !scope.admits(c.compose_project.as_deref()) {
                continue;
            }
            if let Some((found_by, rank, layout)) = candidates_for(r, c) {
                cands.push(Candidate { role: ri, container: ci, found_by, rank, layout });
            }
        }
    }
    // Strongest evidence first; among equals a running container, then the newest.
    cands.sort_by(|a, b| {
        (a.rank, !listed[a.container].running, -listed[a.container].created, a.role).cmp(&(
            b.rank,
            !listed[b.container].running,
            -listed[b.container].created,
            b.role,
        ))
    });
    for c in &cands {
        let slot = &mut out[c.role];
        if taken[c.container] {
            continue;
        }
        match slot.pick {
            None => {
                slot.pick = Some((c.container, c.found_by));
                slot.layout = c.layout;
                taken[c.container] = true;
            }
            Some((_, by)) if by == c.found_by && c.rank <= 1 => slot.also.push(listed[c.container].name.clone()),
            Some(_) => {}
        }
    }
    out
}

/// The layout most found roles point at; `None` when nothing tells.
pub fn layout_of(assigned: &[Assigned]) -> Option<Layout> {
    let mut counts = [0usize; 3];
    for a in assigned {
        if let Some(l) = a.layout {
            counts[l as usize] += 1;
        }
    }
    let best = (0..3).max_by_key(|i| (counts[*i], std::cmp::Reverse(*i)))?;
    (counts[best] > 0).then_some([Layout::A, Layout::B, Layout::C][best])
}

/// The role a container name or compose service name belongs to, if any.
pub fn role_named(name: &str) -> Option<&'static Role> {
    roles::ROLES.iter().find(|r| r.has_name(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, project: Option<&str>, service: Option<&str>, image: &str) -> Listed {
        Listed {
            id: format!("{:0>12}", name.len()),
            name: name.into(),
            image: image.into(),
            compose_project: project.map(str::to_string),
            compose_service: service.map(str::to_string),
            running: true,
            ..Default::default()
        }
    }

    fn picked(listed: &[Listed], a: &[Assigned]) -> BTreeMap<&'static str, (String, FoundBy)> {
        a.iter().filter_map(|x| x.pick.map(|(i, by)| (x.role, (listed[i].name.clone(), by)))).collect()
    }

    /// Layout A as the component specs describe it: seven projects named after their
    /// repositories, container names set with `container_name:`.
    pub fn layout_a() -> Vec<Listed> {
        vec![
            c("ai-micro-postgres", Some("ai-micro-postgres"), Some("postgres"), "ai-micro-postgres:pgvector-15"),
            c("ai-micro-redis", Some("ai-micro-redis"), Some("redis"), "ai-micro-redis:7"),
            c(
                "ai-micro-api-auth",
                Some("ai-micro-api-auth"),
                Some("ai-micro-api-auth"),
                "ai-micro-api-auth-ai-micro-api-auth",
            ),
            c("ai-micro-api-user", Some("ai-micro-api-user"), Some("ai-micro-api-user"), "python:3.11-slim"),
            c("ai-micro-api-admin", Some("ai-micro-api-admin"), Some("ai-micro-admin-api"), "python:3.11-slim"),
            c("ai-micro-front-user", Some("ai-micro-front-user"), Some("ai-micro-front-user"), "node:20-alpine"),
            c("ai-micro-front-admin", Some("ai-micro-front-admin"), Some("ai-micro-front-admin"), "node:20-alpine"),
        ]
    }

    #[test]
    fn layout_a_is_found_by_its_compose_projects() {
        let listed = layout_a();
        let a = assign(&listed, &BTreeMap::new(), &Scope::default());
        let p = picked(&listed, &a);
        assert_eq!(p.len(), 7, "{p:?}");
        assert_eq!(p["admin-api"], ("ai-micro-api-admin".into(), FoundBy::ComposeService));
        assert_eq!(p["postgres"], ("ai-micro-postgres".into(), FoundBy::ComposeService));
        assert!(!p.contains_key("prometheus") && !p.contains_key("mcp"));
        assert_eq!(layout_of(&a), Some(Layout::A));
    }

    #[test]
    fn layout_b_and_c_by_their_names() {
        let b: Vec<Listed> = [
            ("postgres", "postgres:15-alpine"),
            ("redis", "redis:7-alpine"),
            ("auth-service", "ai-micro-service-auth-service"),
            ("user-service", "ai-micro-service-user-service"),
            ("admin-service", "ai-micro-service-admin-service"),
            ("user-frontend", "node:20"),
            ("admin-frontend", "node:20"),
        ]
        .iter()
        .map(|(s, img)| c(&format!("ai-micro-service-{s}-1"), Some("ai-micro-service"), Some(s), img))
        .collect();
        let a = assign(&b, &BTreeMap::new(), &Scope::default());
        let p = picked(&b, &a);
        assert_eq!(p["user-api"].0, "ai-micro-service-user-service-1");
        assert_eq!(p.len(), 7);
        assert_eq!(layout_of(&a), Some(Layout::B));

        let cc: Vec<Listed> = [
            "postgres",
            "redis",
            "auth-service",
            "user-api",
            "admin-api",
            "user-frontend",
            "admin-frontend",
            "prometheus",
        ]
        .iter()
        .map(|n| c(n, None, None, "busybox"))
        .collect();
        let a = assign(&cc, &BTreeMap::new(), &Scope::default());
        assert_eq!(picked(&cc, &a).len(), 8);
        assert!(a.iter().filter_map(|x| x.pick).all(|(_, by)| by == FoundBy::Name));
        assert_eq!(layout_of(&a), Some(Layout::C));
    }

    #[test]
    fn pins_win_and_are_never_second_guessed() {
        let listed = layout_a();
        let pins: BTreeMap<String, String> =
            [("postgres".to_string(), "db-elsewhere".to_string()), ("redis".into(), "ai-micro-redis".into())].into();
        let a = assign(&listed, &pins, &Scope::default());
        let p = picked(&listed, &a);
        assert!(!p.contains_key("postgres"), "a pinned name that does not exist is missing, not guessed");
        assert_eq!(p["redis"], ("ai-micro-redis".into(), FoundBy::Config));
        // ... unless doctor.toml scopes the stack to compose projects: then it is looked for there.
        let a = assign(&listed, &pins, &Scope(vec!["ai-micro-postgres".into()]));
        assert_eq!(picked(&listed, &a)["postgres"], ("ai-micro-postgres".into(), FoundBy::ComposeService));
    }

    #[test]
    fn a_scope_keeps_other_projects_out_and_running_beats_stopped() {
        let mut listed = layout_a();
        let mut old = c("old-postgres", Some("legacy"), Some("postgres"), "postgres:13");
        old.running = false;
        listed.push(old);
        let a = assign(&listed, &BTreeMap::new(), &Scope(vec!["ai-micro-".into()]));
        let p = picked(&listed, &a);
        assert_eq!(p["postgres"].0, "ai-micro-postgres");
        assert!(Scope(vec!["ai-micro-".into()]).admits(Some("ai-micro-redis")));
        assert!(!Scope(vec!["ai-micro".into()]).admits(Some("ai-micro-redis")));

        // Two compose projects of the single-file layout: the running one plays the role.
        let mut stopped = c("b-postgres-1", Some("b"), Some("postgres"), "postgres:15");
        stopped.running = false;
        let running = c("a-postgres-1", Some("a"), Some("postgres"), "postgres:15");
        let listed = vec![stopped, running];
        let a = assign(&listed, &BTreeMap::new(), &Scope::default());
        assert_eq!(picked(&listed, &a)["postgres"].0, "a-postgres-1");
        assert_eq!(a[0].also, vec!["b-postgres-1".to_string()]);
    }

    #[test]
    fn image_and_port_are_the_last_resorts() {
        let mut by_port = c("mystery", None, None, "python:3.11");
        by_port.host_ports = vec![8002];
        let listed =
            vec![c("db", None, None, "postgres:15"), by_port, c("postgres-exporter", None, None, "postgres-exporter")];
        let a = assign(&listed, &BTreeMap::new(), &Scope::default());
        let p = picked(&listed, &a);
        assert_eq!(p["postgres"], ("db".into(), FoundBy::Image));
        assert_eq!(p["auth-service"], ("mystery".into(), FoundBy::Port));
        assert_eq!(p.len(), 2);
    }
}
