//! `doctor stack --write-config FILE`: a commented `doctor.toml` that pins the containers as
//! found, for a person to read and edit. Addresses are written as comments (doctor finds them
//! again from the published ports); no secret is ever written: doctor reads those from the
//! services' own variables.

use super::Stack;

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The file's text.
pub fn text(s: &Stack, written_at: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# doctor.toml, written by `doctor stack --write-config` at {written_at} from the stack as found\n\
         # on {} (layout {}). Each [services.ROLE] pins the container that plays the role; delete a\n\
         # section to let doctor find that role again. No password is written here: doctor reads\n\
         # them from the services' own variables (or set POSTGRES_PASSWORD, REDIS_PASSWORD).\n\n",
        s.engine, s.layout
    ));
    let mut projects: Vec<&str> = s.services.iter().filter_map(|m| m.compose_project.as_deref()).collect();
    projects.sort();
    projects.dedup();
    if !projects.is_empty() {
        out.push_str(
            "# Only containers of these compose projects are the stack's (a name, a list, or a prefix ending in -):\n",
        );
        let list: Vec<String> = projects.iter().map(|p| quote(p)).collect();
        out.push_str(&format!("# compose_project = [{}]\n\n", list.join(", ")));
    }
    for m in &s.services {
        match &m.container {
            Some(c) => {
                out.push_str(&format!("[services.{}]\n", m.role));
                out.push_str(&format!(
                    "container = {}   # found by {}\n",
                    quote(c),
                    m.found_by.as_deref().unwrap_or("?")
                ));
            }
            None => {
                out.push_str(&format!("# [services.{}]   # not found: {}\n", m.role, m.why.as_deref().unwrap_or("")));
                out.push_str("# container = \"...\"\n");
            }
        }
        if let Some(u) = m.host_url.as_deref().filter(|u| !u.contains("***")) {
            let bare = u.split(" (via ").next().unwrap_or(u);
            out.push_str(&format!(
                "# url = {}   # from this host: {}\n",
                quote(bare),
                m.host_url_from.replace('\n', " ")
            ));
        }
        out.push('\n');
    }
    out.push_str("[thresholds]   # the team's alerting defaults; uncomment to change one\n# long_query = \"60s\"\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::Member;

    #[test]
    fn pins_what_was_found_and_parses_back() {
        let s = Stack {
            engine: "e".into(),
            layout: "A".into(),
            services: vec![
                Member {
                    role: "postgres".into(),
                    container: Some("ai-micro-postgres".into()),
                    found_by: Some("compose-service".into()),
                    compose_project: Some("ai-micro-postgres".into()),
                    host_url: Some(
                        "postgresql://postgres:***@host.docker.internal:5432/authdb (via 127.0.0.1:5432)".into(),
                    ),
                    ..Default::default()
                },
                Member {
                    role: "auth-service".into(),
                    container: Some("ai-micro-api-auth".into()),
                    found_by: Some("name".into()),
                    host_url: Some("http://127.0.0.1:8002".into()),
                    host_url_from: "published port 0.0.0.0:8002->8000".into(),
                    ..Default::default()
                },
                Member { role: "user-api".into(), why: Some("no container \"x\"".into()), ..Default::default() },
            ],
            ..Default::default()
        };
        let t = text(&s, "now");
        assert!(!t.contains("***"), "{t}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("doctor.toml"), &t).unwrap();
        let settings = crate::config::Settings::load(&Default::default(), &Default::default(), dir.path())
            .unwrap_or_else(|e| panic!("{e}\n{t}"));
        assert_eq!(settings.service("postgres").container.as_deref(), Some("ai-micro-postgres"));
        assert_eq!(settings.service("auth-service").container.as_deref(), Some("ai-micro-api-auth"));
        assert_eq!(settings.service("user-api").container, None);
        assert!(t.contains("# url = \"http://127.0.0.1:8002\""), "{t}");
    }
}
