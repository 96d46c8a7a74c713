//! AU002's look inside auth-service: are `private_key.pem` and `public_key.pem` in
//! `/app/keys/`, readable by the user the service runs as, the private key closed to others,
//! and is the public key on disk the one the JWKS serves? Only names, modes, owners and the
//! public key's fingerprint are read (see `probe::inside`); a private key's content never is.

use super::au002_jwt_verification_fails::Cause;
use crate::facts::of::inside::{FileEntry, InsideFacts, KEYS_DIR};
use crate::jwt::JwksFacts;
use crate::problems::engine::{DockerView, Seen};
use crate::report::{Finding, Status, Verdict::*};
use crate::text::{Sep, Text};

pub const PRIVATE: &str = "private_key.pem";
pub const PUBLIC: &str = "public_key.pem";

fn readable_by(f: &FileEntry, uid: u32, gids: &[u32]) -> bool {
    let bit = |i: usize| f.mode.as_bytes().get(i).is_some_and(|c| *c == b'r');
    uid == 0
        || (f.uid == uid && bit(1))
        || (f.uid != uid && gids.contains(&f.gid) && bit(4))
        || (f.uid != uid && bit(7))
}

/// Adds the key files' evidence to AU002; returns the status it calls for and a note.
pub fn judge(out: &mut Finding, docker: &DockerView, jwks: Option<&JwksFacts>) -> (Status, Option<Text>) {
    let c = match docker.seen("auth-service") {
        Seen::Found(c) => c,
        Seen::Missing(name) => {
            out.raise(
                Cause::KeysMissing,
                Unchecked,
                crate::t!("AU002/keys-dir-no-container", dir = KEYS_DIR, name = name),
            );
            return (Status::Ok, None);
        }
        Seen::Unknown(why) => {
            if !why.is_empty() {
                out.raise(
                    Cause::KeysMissing,
                    Unchecked,
                    crate::t!("AU002/keys-dir-not-looked-at", dir = KEYS_DIR, why = why),
                );
            }
            return (Status::Ok, None);
        }
    };
    let Some(inside) = &c.inside else {
        let why = if c.running { crate::t!("AU002/no-way-inside") } else { crate::t!("AU002/container-not-running") };
        out.raise(
            Cause::KeysMissing,
            Unchecked,
            crate::t!("AU002/keys-dir-in", dir = KEYS_DIR, container = &c.name, why = why),
        );
        return (Status::Ok, None);
    };
    judge_inside(out, &c.name, inside, jwks)
}

pub fn judge_inside(
    out: &mut Finding,
    container: &str,
    inside: &InsideFacts,
    jwks: Option<&JwksFacts>,
) -> (Status, Option<Text>) {
    if let Some(e) = &inside.error {
        out.raise(
            Cause::KeysMissing,
            Unchecked,
            crate::t!("AU002/cannot-look-inside", container = container, error = e),
        );
        return (Status::Ok, None);
    }
    let files = match &inside.keys {
        Some(Ok(files)) => files,
        Some(Err(e)) => {
            let msg = crate::t!("AU002/keys-dir-missing", dir = KEYS_DIR, container = container, error = e);
            out.raise(Cause::KeysMissing, Confirmed, msg.clone());
            return (Status::Critical, Some(msg));
        }
        None => return (Status::Ok, None),
    };
    out.fact(
        "key_files",
        files
            .iter()
            .filter(|f| f.name != ".")
            .map(|f| format!("{} {} {}:{} {} B", f.mode, f.name, f.uid, f.gid, f.size))
            .collect::<Vec<_>>(),
    );
    let (uid, gids) = (inside.uid.unwrap_or(u32::MAX), inside.gids.as_slice());
    let mut status = Status::Ok;
    let mut notes = Vec::new();
    let find = |name: &str| files.iter().find(|f| f.name == name);
    let missing: Vec<&str> = [PRIVATE, PUBLIC].into_iter().filter(|n| find(n).is_none_or(|f| f.size == 0)).collect();
    let unreadable: Vec<&str> = [PRIVATE, PUBLIC]
        .into_iter()
        .filter(|n| find(n).is_some_and(|f| f.size > 0 && inside.uid.is_some() && !readable_by(f, uid, gids)))
        .collect();
    let list = |names: &[&str]| Text::join(names.iter().map(|n| Text::from(*n)), Sep::List);
    if !missing.is_empty() {
        let msg = crate::t!("AU002/key-files-missing", files = list(&missing), dir = KEYS_DIR, container = container);
        out.raise(Cause::KeysMissing, Confirmed, msg.clone());
        status = Status::Critical;
        notes.push(msg);
    } else if !unreadable.is_empty() {
        let msg = crate::t!(
            "AU002/key-files-unreadable",
            files = list(&unreadable),
            dir = KEYS_DIR,
            uid = uid,
            container = container,
        );
        out.raise(Cause::KeysMissing, Confirmed, msg.clone());
        status = Status::Critical;
        notes.push(msg);
    } else {
        out.raise(
            Cause::KeysMissing,
            RuledOut,
            crate::t!("AU002/key-files-readable", private = PRIVATE, public = PUBLIC, dir = KEYS_DIR, uid = uid),
        );
    }
    if let Some(p) = find(PRIVATE).filter(|p| p.readable_by_others()) {
        let msg = crate::t!("AU002/private-key-open", private = PRIVATE, mode = &p.mode);
        status = status.max(Status::Warning);
        notes.push(msg);
    }
    // The public key on disk against the JWKS.
    match (&inside.public_key, jwks) {
        (Some(Ok((fp, bits))), Some(set)) if !set.keys.is_empty() => {
            out.fact("public_key_pem", format!("{bits} bits, modulus {fp}"));
            if set.keys.iter().any(|k| k.modulus_fingerprint.as_deref() == Some(fp.as_str())) {
                out.raise(
                    Cause::SignatureMismatch,
                    RuledOut,
                    crate::t!("AU002/public-key-served", public = PUBLIC, fingerprint = fp),
                );
            } else {
                let served: Vec<&str> = set.keys.iter().filter_map(|k| k.modulus_fingerprint.as_deref()).collect();
                let msg = crate::t!(
                    "AU002/public-key-not-served",
                    public = PUBLIC,
                    fingerprint = fp,
                    served = served.join(", "),
                );
                out.raise(Cause::SignatureMismatch, Confirmed, msg.clone());
                status = Status::Critical;
                notes.push(msg);
            }
        }
        (Some(Err(e)), _) if missing.is_empty() => {
            let msg = crate::t!("AU002/public-key-unusable", public = PUBLIC, error = e);
            out.raise(Cause::KeysMissing, Confirmed, msg.clone());
            status = Status::Critical;
            notes.push(msg);
        }
        _ => {}
    }
    (status, (!notes.is_empty()).then(|| Text::join(notes, Sep::Clauses)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::KeyFacts;

    fn entry(name: &str, mode: &str, uid: u32, size: u64) -> FileEntry {
        FileEntry { name: name.into(), mode: mode.into(), uid, gid: uid, size }
    }
    fn jwks(fp: &str) -> JwksFacts {
        JwksFacts {
            keys: vec![KeyFacts {
                kid: Some("k".into()),
                kty: "RSA".into(),
                alg: None,
                use_: None,
                bits: Some(2048),
                modulus_fingerprint: Some(fp.into()),
            }],
            problems: vec![],
        }
    }
    fn inside(files: Vec<FileEntry>, public: Option<(&str, usize)>) -> InsideFacts {
        InsideFacts {
            uid: Some(1000),
            gids: vec![1000],
            keys: Some(Ok(files)),
            public_key: public.map(|(f, b)| Ok((f.to_string(), b))),
            ..Default::default()
        }
    }
    fn verdict(f: &Finding, id: &str) -> crate::report::Verdict {
        f.causes.iter().find(|c| c.id == id).unwrap().verdict
    }

    #[test]
    fn sound_keys_rule_out_both() {
        let mut f = Finding::new("AU002", "t");
        let i = inside(
            vec![entry(PRIVATE, "-rw-------", 1000, 1704), entry(PUBLIC, "-rw-r--r--", 1000, 451)],
            Some(("ab", 2048)),
        );
        assert_eq!(judge_inside(&mut f, "auth-service", &i, Some(&jwks("ab"))), (Status::Ok, None));
        assert_eq!(verdict(&f, "keys-missing"), RuledOut);
        assert_eq!(verdict(&f, "signature-mismatch"), RuledOut);
    }

    #[test]
    fn missing_unreadable_open_and_replaced_keys() {
        let mut f = Finding::new("AU002", "t");
        let i = inside(vec![entry(PUBLIC, "-rw-r--r--", 1000, 451)], None);
        assert_eq!(judge_inside(&mut f, "auth-service", &i, None).0, Status::Critical);
        assert_eq!(verdict(&f, "keys-missing"), Confirmed);

        let mut f = Finding::new("AU002", "t");
        let i = inside(vec![entry(PRIVATE, "-rw-------", 0, 1704), entry(PUBLIC, "-rw-r--r--", 0, 451)], None);
        let (s, note) = judge_inside(&mut f, "auth-service", &i, None);
        assert_eq!(s, Status::Critical);
        assert!(note.unwrap().en().contains("cannot be read by uid 1000"));

        let mut f = Finding::new("AU002", "t");
        let i = inside(
            vec![entry(PRIVATE, "-rw-r--r--", 1000, 1704), entry(PUBLIC, "-rw-r--r--", 1000, 451)],
            Some(("aa", 2048)),
        );
        let (s, note) = judge_inside(&mut f, "auth-service", &i, Some(&jwks("bb")));
        assert_eq!(s, Status::Critical);
        let note = note.unwrap().en();
        assert!(note.contains("chmod 600") && note.contains("not a key the JWKS serves"), "{note}");
        assert_eq!(verdict(&f, "signature-mismatch"), Confirmed);

        let mut f = Finding::new("AU002", "t");
        let i =
            InsideFacts { keys: Some(Err("ls: /app/keys/: No such file or directory".into())), ..Default::default() };
        assert_eq!(judge_inside(&mut f, "auth-service", &i, None).0, Status::Critical);
        assert_eq!(verdict(&f, "keys-missing"), Confirmed);

        let mut f = Finding::new("AU002", "t");
        let i = InsideFacts { error: Some("exec: \"sh\": executable file not found".into()), ..Default::default() };
        assert_eq!(judge_inside(&mut f, "auth-service", &i, None).0, Status::Ok);
        assert_eq!(verdict(&f, "keys-missing"), Unchecked);
    }
}
