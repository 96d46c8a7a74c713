//! The stack's own `.env` files, one per repository (`ai-micro-api-auth/.env`, the frontends'
//! `.env.local`), read as the variables of the role they belong to: when doctor runs from the
//! directory above the repositories, and from each found container's compose directory (its
//! `working_dir` label) when that directory is on this machine. Read-only and bounded; a file
//! that cannot be read is a note, never a reason to stop (it belongs to another repository).

use super::roles::{self, ROLES};
use crate::envfile::{self, Vars};
use std::path::{Path, PathBuf};

/// Files larger than this are not read (a `.env` is a few hundred bytes).
const MAX_BYTES: u64 = 256 * 1024;
/// In the order they count: `.env.local` overrides `.env`, as Next.js reads them.
const NAMES: &[&str] = &[".env", ".env.local"];

#[derive(Debug, Clone)]
pub struct RoleEnv {
    pub role: &'static str,
    pub path: PathBuf,
    pub vars: Vars,
}

#[derive(Debug, Clone, Default)]
pub struct RepoEnv {
    pub files: Vec<RoleEnv>,
    pub notes: Vec<String>,
}

impl RepoEnv {
    /// A variable of `role` from its repository's files (the last file that sets it wins).
    pub fn get(&self, role: &str, name: &str) -> Option<(&str, &Path)> {
        self.files
            .iter()
            .rev()
            .filter(|f| f.role == role)
            .find_map(|f| f.vars.get(name).filter(|v| !v.is_empty()).map(|v| (v.as_str(), f.path.as_path())))
    }

    pub fn paths(&self) -> Vec<String> {
        self.files.iter().map(|f| f.path.display().to_string()).collect()
    }
}

/// The role a repository directory belongs to, by its name (`ai-micro-api-auth`, `user-api`).
pub fn role_of_dir(dir_name: &str) -> Option<&'static str> {
    ROLES.iter().find(|r| r.projects.contains(&dir_name) || r.has_name(dir_name)).map(|r| r.key)
}

/// Reads the repositories' files: `cwd/<repository>/.env*` for every subdirectory named after a
/// role, then `<working_dir>/.env*` for each found container (role, directory) not read yet.
/// `lookup` expands `${VAR}` references that a file does not define itself.
pub fn read(cwd: &Path, working_dirs: &[(&'static str, String)], lookup: &dyn Fn(&str) -> Option<String>) -> RepoEnv {
    let mut out = RepoEnv::default();
    let mut dirs: Vec<(&'static str, PathBuf)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(cwd) {
        let mut found: Vec<(&'static str, PathBuf)> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| Some((role_of_dir(e.file_name().to_str()?)?, e.path())))
            .collect();
        found.sort_by(|a, b| a.1.cmp(&b.1));
        dirs.extend(found);
    }
    for (role, wd) in working_dirs {
        let p = PathBuf::from(wd);
        if p.is_dir() && p != cwd && !dirs.iter().any(|(_, d)| same_dir(d, &p)) {
            dirs.push((role, p));
        }
    }
    for (role, dir) in dirs {
        for name in NAMES {
            let path = dir.join(name);
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            if !meta.is_file() {
                continue;
            }
            if meta.len() > MAX_BYTES {
                out.notes.push(format!("{}: larger than {} KiB, not read", path.display(), MAX_BYTES / 1024));
                continue;
            }
            match std::fs::read_to_string(&path) {
                Err(e) => out.notes.push(format!("{}: {e}", path.display())),
                Ok(text) => match envfile::parse_expanded(&path.display().to_string(), &text, lookup) {
                    Ok((vars, notes)) => {
                        out.notes.extend(notes);
                        out.files.push(RoleEnv { role, path, vars });
                    }
                    Err(e) => out.notes.push(e),
                },
            }
        }
    }
    out
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Whether the role exists (for callers holding a role name from outside).
pub fn known_role(role: &str) -> bool {
    roles::role(role).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_repository_as_its_role() {
        let dir = tempfile::tempdir().unwrap();
        let w = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        w("ai-micro-postgres/.env", "POSTGRES_USER=postgres\nPOSTGRES_PASSWORD=pw-from-repo\n");
        w(
            "ai-micro-api-auth/.env",
            "DATABASE_URL=postgresql://postgres:${POSTGRES_PASSWORD}@host.docker.internal:5432/authdb\nJWT_ISS=https://auth.example.com\n",
        );
        w("ai-micro-front-user/.env.local", "ACCESS_TOKEN_COOKIE_NAME=access_token\n");
        w(
            "ai-micro-front-user/.env",
            "ACCESS_TOKEN_COOKIE_NAME=from-dotenv\nAUTH_SERVER_URL=http://host.docker.internal:8002\n",
        );
        w("unrelated/.env", "POSTGRES_PASSWORD=not-ours\n");
        w("ai-micro-redis/.env", "this is not a line\n");
        let env = read(dir.path(), &[], &|k| (k == "POSTGRES_PASSWORD").then(|| "from-shell".to_string()));
        assert_eq!(env.get("postgres", "POSTGRES_PASSWORD").map(|(v, _)| v), Some("pw-from-repo"));
        // Expanded as compose does: the file itself, then the process environment.
        assert_eq!(
            env.get("auth-service", "DATABASE_URL").map(|(v, _)| v),
            Some("postgresql://postgres:from-shell@host.docker.internal:5432/authdb")
        );
        assert_eq!(env.get("user-frontend", "ACCESS_TOKEN_COOKIE_NAME").map(|(v, _)| v), Some("access_token"));
        assert_eq!(
            env.get("user-frontend", "AUTH_SERVER_URL").map(|(v, _)| v),
            Some("http://host.docker.internal:8002")
        );
        assert!(env.files.iter().all(|f| !f.path.starts_with(dir.path().join("unrelated"))));
        assert!(env.notes.iter().any(|n| n.contains("ai-micro-redis/.env:1")), "{:?}", env.notes);
        assert!(!env.notes.iter().any(|n| n.contains("pw-from-repo")));
        assert!(known_role("mcp") && !known_role("frontend"));
    }
}
