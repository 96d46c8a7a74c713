//! Remedies that work as printed. The runbook writes its commands with its own container names
//! (`docker exec redis redis-cli ...`, `docker compose restart user-frontend`); on a stack laid
//! out otherwise they fail at 3 a.m. (`No such container: redis`). This rewrites the container
//! of every `docker <verb>` and the services of every `docker compose <verb>` to the ones the
//! stack model found, and puts `cd <compose directory> &&` in front of a compose command when
//! the directory is known. Text that is not such a command is left exactly as it is.

use super::Stack;

/// Characters that end a command word inside prose (`` ` ``, quotes, punctuation of both
/// languages).
fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '`' | '\'' | '"' | ')' | '(' | ';' | '|' | ',' | '）' | '、' | '。' | '」' | '&')
}

/// `docker` verbs whose first non-option word is a container.
const CONTAINER_VERBS: &[&str] = &["exec", "logs", "inspect", "restart", "stop", "start", "top", "port", "kill", "cp"];
/// Options of those verbs that take a value (`docker exec -u postgres ...`).
const VALUE_OPTIONS: &[&str] =
    &["-u", "--user", "-e", "--env", "-w", "--workdir", "-f", "--format", "--tail", "--since", "-n", "--until", "-t"];
/// `docker compose` verbs followed by service names.
const COMPOSE_VERBS: &[&str] =
    &["up", "restart", "stop", "start", "logs", "build", "rm", "ps", "pull", "create", "kill"];

/// The container a runbook name stands for, when the stack names it otherwise.
fn container_for<'a>(stack: &'a Stack, word: &str) -> Option<&'a str> {
    let m = stack.member(word)?;
    m.container.as_deref().filter(|c| *c != word)
}

/// Splits `text` into (word start, word) pairs, words ending at [`ends_word`].
fn words(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        if ends_word(c) {
            if let Some(s) = start.take() {
                out.push((s, &text[s..i]));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out
}

/// The runbook's text with the stack's own names in its commands.
/// The roles a check is about, for the runbook's `<service>` placeholder: the containers DK002
/// found down, else the role its target starts with (`user-api http://…`).
pub fn check_roles(check: &crate::report::Check, stack: &Stack) -> Vec<String> {
    if check.evidence.get("not_running").is_some_and(|v| v.is_array()) {
        return check.services_in("not_running").into_iter().map(str::to_string).collect();
    }
    let first = check.target.split([' ', '@', '/']).next().unwrap_or("");
    match stack.member(first) {
        Some(m) => vec![m.role.clone()],
        None => Vec::new(),
    }
}

/// Fills the runbook's `<service>` with the roles the check is about, so that the command can
/// be pasted: one role everywhere; several only where a command takes several
/// (`docker compose up -d a b`), other lines keep the placeholder. `personalize` then turns the
/// roles into this stack's containers and compose services.
pub fn fill_service(text: &str, roles: &[String]) -> String {
    const PH: &str = "<service>";
    if !text.contains(PH) || roles.is_empty() {
        return text.to_string();
    }
    if roles.len() == 1 {
        return text.replace(PH, &roles[0]);
    }
    let all = roles.join(" ");
    text.lines()
        .map(|l| {
            if l.contains("docker compose up -d <service>") {
                l.replace("docker compose up -d <service>", &format!("docker compose up -d {all}"))
            } else if l.trim_start().starts_with("docker ") && l.contains(PH) {
                // A command for one container: once per role (`drop_inapplicable` then drops
                // those aimed at containers that do not exist).
                roles.iter().map(|r| l.replace(PH, r)).collect::<Vec<_>>().join("\n")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Fills the runbook's `<compose project dir>` with the compose directory
/// (`com.docker.compose.project.working_dir`) of the first of the check's roles that has one,
/// so that `doctor postgres --env-file <compose project dir>/.env` is a command to paste.
/// Without a known directory the placeholder stays: doctor cannot fill it.
pub fn fill_project_dir(text: &str, roles: &[String], stack: &Stack) -> String {
    const PH: &str = "<compose project dir>";
    if !text.contains(PH) {
        return text.to_string();
    }
    let dir = roles.iter().find_map(|r| stack.member(r).and_then(|m| m.working_dir.as_deref()));
    match dir {
        Some(d) => text.replace(PH, &shell_word(d)),
        None => text.to_string(),
    }
}

/// Drops the remedy lines that cannot work on this stack as the engine sees it: a container
/// verb aimed at a role with no container (`docker exec redis ...` when no Redis exists), or
/// `docker exec` into one that is not running. `docker compose up` stays: it creates them.
/// Only to be used when the engine was asked (without it every role looks absent).
pub fn drop_inapplicable(text: &str, stack: &Stack) -> String {
    let absent = |name: &str| {
        stack
            .services
            .iter()
            .find(|m| m.role == name || m.container.as_deref() == Some(name))
            .map(|m| if m.container.is_none() { (true, true) } else { (false, m.running == Some(false)) })
    };
    let keep = |line: &str| {
        let w: Vec<&str> = words(line).into_iter().map(|(_, w)| w).collect();
        for (i, word) in w.iter().enumerate() {
            if *word != "docker" {
                continue;
            }
            let verb = w.get(i + 1).copied().unwrap_or("");
            if !CONTAINER_VERBS.contains(&verb) {
                continue;
            }
            let mut j = i + 2;
            while let Some(x) = w.get(j) {
                if x.starts_with('-') {
                    j += if VALUE_OPTIONS.contains(x) { 2 } else { 1 };
                    continue;
                }
                break;
            }
            if let Some((missing, stopped)) = w.get(j).and_then(|t| absent(t))
                && (missing || (stopped && verb == "exec"))
            {
                return false;
            }
        }
        true
    };
    let kept: Vec<&str> = text.lines().filter(|l| keep(l)).collect();
    if kept.len() == text.lines().count() { text.to_string() } else { kept.join("\n") }
}

pub fn personalize(text: &str, stack: &Stack) -> String {
    if !text.contains("docker ") {
        return text.to_string();
    }
    let w = words(text);
    // (byte range, replacement), applied back to front.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut i = 0;
    while i < w.len() {
        if w[i].1 != "docker" {
            i += 1;
            continue;
        }
        let verb = w.get(i + 1).map(|x| x.1).unwrap_or("");
        if verb == "compose" {
            let sub = w.get(i + 2).map(|x| x.1).unwrap_or("");
            if !COMPOSE_VERBS.contains(&sub) {
                i += 2;
                continue;
            }
            let mut j = i + 3;
            let mut dirs: Vec<&str> = Vec::new();
            while let Some((start, word)) = w.get(j).copied() {
                if word.starts_with('-') {
                    j += 1;
                    continue;
                }
                let Some(m) = stack.member(word).filter(|m| m.container.is_some()) else { break };
                if let Some(svc) = m.compose_service.as_deref().filter(|s| *s != word) {
                    edits.push((start, start + word.len(), svc.to_string()));
                }
                if let Some(d) = m.working_dir.as_deref() {
                    dirs.push(d);
                }
                j += 1;
            }
            dirs.dedup();
            let already_cd = i >= 2 && w[i - 2].1 == "cd";
            if dirs.len() == 1 && !already_cd {
                let at = w[i].0;
                edits.push((at, at, format!("cd {} && ", shell_word(dirs[0]))));
            }
            i = j;
            continue;
        }
        if verb == "stats" {
            let mut j = i + 2;
            while let Some((start, word)) = w.get(j).copied() {
                if word.starts_with('-') {
                    j += 1;
                    continue;
                }
                match container_for(stack, word) {
                    Some(c) => edits.push((start, start + word.len(), c.to_string())),
                    None if stack.member(word).is_some() => {}
                    None => break,
                }
                j += 1;
            }
            i = j;
            continue;
        }
        if CONTAINER_VERBS.contains(&verb) {
            let mut j = i + 2;
            while let Some((_, word)) = w.get(j).copied() {
                if VALUE_OPTIONS.contains(&word) {
                    j += 2;
                } else if word.starts_with('-') {
                    j += 1;
                } else {
                    break;
                }
            }
            if let Some((start, word)) = w.get(j).copied() {
                // `docker cp auth-service:/app/keys ./keys`
                let name = word.split(':').next().unwrap_or(word);
                if let Some(c) = container_for(stack, name) {
                    edits.push((start, start + name.len(), c.to_string()));
                }
            }
            i = j + 1;
            continue;
        }
        i += 1;
    }
    if edits.is_empty() {
        return text.to_string();
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (a, b, with) in edits {
        out.replace_range(a..b, &with);
    }
    out
}

/// A directory as a shell word: quoted when it holds anything but plain path characters.
fn shell_word(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_into_absent_or_stopped_containers_are_dropped() {
        let member = |role: &str, container: Option<&str>, running: Option<bool>| super::super::Member {
            role: role.into(),
            container: container.map(str::to_string),
            running,
            ..Default::default()
        };
        let stack = Stack {
            services: vec![
                member("redis", None, None),
                member("postgres", Some("ai-micro-postgres"), Some(false)),
                member("user-api", Some("ai-micro-api-user"), Some(true)),
            ],
            ..Default::default()
        };
        let text = "Raise it:\ndocker exec redis redis-cli CONFIG SET maxmemory 2gb\ndocker exec -u postgres postgres psql\ndocker logs postgres --tail 50\ndocker exec user-api env\ndocker compose up -d redis";
        assert_eq!(
            drop_inapplicable(text, &stack),
            "Raise it:\ndocker logs postgres --tail 50\ndocker exec user-api env\ndocker compose up -d redis"
        );
        assert_eq!(drop_inapplicable("no command here", &stack), "no command here");
    }

    #[test]
    fn the_service_placeholder_is_filled_with_the_checks_roles() {
        let one = fill_service("docker logs <service> --tail 100\ndocker compose up -d <service>", &["redis".into()]);
        assert_eq!(one, "docker logs redis --tail 100\ndocker compose up -d redis");
        let two = fill_service(
            "docker logs <service> --tail 100\ndocker compose up -d <service>",
            &["redis".into(), "postgres".into()],
        );
        assert_eq!(
            two,
            "docker logs redis --tail 100\ndocker logs postgres --tail 100\ndocker compose up -d redis postgres"
        );
        assert_eq!(fill_service("no placeholder", &["x".into()]), "no placeholder");
        assert_eq!(fill_service("docker compose up -d <service>", &[]), "docker compose up -d <service>");
    }
    #[test]
    fn the_compose_project_dir_placeholder_is_filled_from_the_roles_label() {
        let stack = layout_a();
        let text = "Run it from there:\ndoctor postgres --env-file <compose project dir>/.env";
        assert_eq!(
            fill_project_dir(text, &["postgres".into()], &stack),
            "Run it from there:\ndoctor postgres --env-file /srv/ai-micro-service/ai-micro-postgres/.env"
        );
        // A directory with a space is quoted; a role with no directory known keeps the placeholder.
        assert!(
            fill_project_dir(text, &["auth-service".into()], &stack).contains("'/srv/ai micro/ai-micro-api-auth'/.env")
        );
        assert_eq!(fill_project_dir(text, &["nobody".into()], &stack), text);
        assert_eq!(fill_project_dir(text, &[], &stack), text);
    }
    use crate::stack::Member;

    fn layout_a() -> Stack {
        let m = |role: &str, container: &str, service: &str, dir: &str| Member {
            role: role.into(),
            container: Some(container.into()),
            compose_service: Some(service.into()),
            working_dir: Some(dir.into()),
            ..Default::default()
        };
        Stack {
            services: vec![
                m("redis", "ai-micro-redis", "redis", "/srv/ai-micro-service/ai-micro-redis"),
                m("postgres", "ai-micro-postgres", "postgres", "/srv/ai-micro-service/ai-micro-postgres"),
                m("auth-service", "ai-micro-api-auth", "ai-micro-api-auth", "/srv/ai micro/ai-micro-api-auth"),
                m(
                    "user-frontend",
                    "ai-micro-front-user",
                    "ai-micro-front-user",
                    "/srv/ai-micro-service/ai-micro-front-user",
                ),
                Member { role: "user-api".into(), ..Default::default() },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn commands_name_the_stacks_own_containers_and_directories() {
        let s = layout_a();
        let cases = [
            (
                "Run `docker exec redis redis-cli -a \"$REDIS_PASSWORD\" INFO memory`.",
                "Run `docker exec ai-micro-redis redis-cli -a \"$REDIS_PASSWORD\" INFO memory`.",
            ),
            (
                "docker exec -it postgres psql -U postgres -d authdb -c 'SELECT 1'",
                "docker exec -it ai-micro-postgres psql -U postgres -d authdb -c 'SELECT 1'",
            ),
            ("docker logs postgres --tail 50", "docker logs ai-micro-postgres --tail 50"),
            ("docker stats --no-stream postgres redis", "docker stats --no-stream ai-micro-postgres ai-micro-redis"),
            ("docker cp auth-service:/app/keys ./keys", "docker cp ai-micro-api-auth:/app/keys ./keys"),
            (
                "`docker compose restart user-frontend`",
                "`cd /srv/ai-micro-service/ai-micro-front-user && docker compose restart ai-micro-front-user`",
            ),
            (
                "（`docker compose up -d auth-service`）",
                "（`cd '/srv/ai micro/ai-micro-api-auth' && docker compose up -d ai-micro-api-auth`）",
            ),
            (
                "docker compose up -d postgres",
                "cd /srv/ai-micro-service/ai-micro-postgres && docker compose up -d postgres",
            ),
            // Not found, or not a container: left as written.
            ("docker logs user-api --tail 100", "docker logs user-api --tail 100"),
            ("docker compose up -d <service>", "docker compose up -d <service>"),
            ("the redis container, and docker ps", "the redis container, and docker ps"),
            ("docker exec redis-cli", "docker exec redis-cli"),
        ];
        for (text, want) in cases {
            assert_eq!(personalize(text, &s), want, "{text}");
        }
        // The runbook's own names: nothing changes.
        assert_eq!(personalize("docker exec redis x", &Stack::default()), "docker exec redis x");
    }
}
