//! AU002's look inside auth-service: are `private_key.pem` and `public_key.pem` in
//! `/app/keys/`, readable by the user the service runs as, the private key closed to others,
//! and is the public key on disk the one the JWKS serves? Only names, modes, owners and the
//! public key's fingerprint are read (see `probe::inside`); a private key's content never is.

use super::au002_jwt_verification_fails::Cause;
use crate::jwt::JwksFacts;
use crate::probe::inside::{FileEntry, InsideFacts, KEYS_DIR};
use crate::problems::Ctx;
use crate::problems::engine::{DockerView, Seen};
use crate::report::{Finding, Status, Verdict::*};

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
pub fn judge(out: &mut Finding, docker: &DockerView, jwks: Option<&JwksFacts>, ctx: &Ctx) -> (Status, Option<String>) {
    let c = match docker.seen("auth-service") {
        Seen::Found(c) => c,
        Seen::Missing(name) => {
            out.raise(
                Cause::KeysMissing,
                Unchecked,
                ctx.tr(
                    format!("{KEYS_DIR} not looked at: no container {name}"),
                    format!("{KEYS_DIR} は未確認: コンテナ {name} がない"),
                ),
            );
            return (Status::Ok, None);
        }
        Seen::Unknown(why) => {
            let why = why.render(ctx.lang);
            if !why.is_empty() {
                out.raise(
                    Cause::KeysMissing,
                    Unchecked,
                    ctx.tr(format!("{KEYS_DIR} not looked at: {why}"), format!("{KEYS_DIR} は未確認: {why}")),
                );
            }
            return (Status::Ok, None);
        }
    };
    let Some(inside) = &c.inside else {
        let why = if c.running {
            ctx.tr("the engine gave no way to look inside", "コンテナ内を確認できなかった")
        } else {
            ctx.tr("the container is not running", "コンテナが稼働していない")
        };
        out.raise(
            Cause::KeysMissing,
            Unchecked,
            ctx.tr(format!("{KEYS_DIR} in {}: {why}", c.name), format!("{} の {KEYS_DIR}: {why}", c.name)),
        );
        return (Status::Ok, None);
    };
    judge_inside(out, &c.name, inside, jwks, ctx)
}

pub fn judge_inside(
    out: &mut Finding,
    container: &str,
    inside: &InsideFacts,
    jwks: Option<&JwksFacts>,
    ctx: &Ctx,
) -> (Status, Option<String>) {
    if let Some(e) = &inside.error {
        out.raise(
            Cause::KeysMissing,
            Unchecked,
            ctx.tr(
                format!("could not look inside {container} (`sh`, `ls` and `id` are needed): {e}"),
                format!("{container} の中を確認できない（`sh`・`ls`・`id` が必要）: {e}"),
            ),
        );
        return (Status::Ok, None);
    }
    let files = match &inside.keys {
        Some(Ok(files)) => files,
        Some(Err(e)) => {
            let msg = ctx.tr(
                format!("{KEYS_DIR}/ is missing in {container}: {e}"),
                format!("{container} に {KEYS_DIR}/ がない: {e}"),
            );
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
    if !missing.is_empty() {
        let msg = ctx.tr(
            format!("{} missing or empty in {KEYS_DIR}/ of {container}", missing.join(", ")),
            format!("{container} の {KEYS_DIR}/ に {} がない、または空", missing.join("、")),
        );
        out.raise(Cause::KeysMissing, Confirmed, msg.clone());
        status = Status::Critical;
        notes.push(msg);
    } else if !unreadable.is_empty() {
        let msg = ctx.tr(
            format!(
                "{} in {KEYS_DIR}/ cannot be read by uid {uid}, the user {container} runs as",
                unreadable.join(", ")
            ),
            format!("{KEYS_DIR}/ の {} を {container} の実行ユーザー（uid {uid}）が読めない", unreadable.join("、")),
        );
        out.raise(Cause::KeysMissing, Confirmed, msg.clone());
        status = Status::Critical;
        notes.push(msg);
    } else {
        out.raise(
            Cause::KeysMissing,
            RuledOut,
            ctx.tr(
                format!("{PRIVATE} and {PUBLIC} present in {KEYS_DIR}/ and readable by uid {uid}"),
                format!("{KEYS_DIR}/ に {PRIVATE} と {PUBLIC} があり、uid {uid} が読める"),
            ),
        );
    }
    if let Some(p) = find(PRIVATE).filter(|p| p.readable_by_others()) {
        let msg = ctx.tr(
            format!("{PRIVATE} is readable by other users (mode {}): chmod 600 it", p.mode),
            format!("{PRIVATE} が他ユーザーから読める（{}）: chmod 600 にする", p.mode),
        );
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
                    ctx.tr(
                        format!("{PUBLIC} on disk is the key the JWKS serves (modulus {fp})"),
                        format!("ディスク上の {PUBLIC} は JWKS が公開する鍵と同じ（modulus {fp}）"),
                    ),
                );
            } else {
                let served: Vec<&str> = set.keys.iter().filter_map(|k| k.modulus_fingerprint.as_deref()).collect();
                let msg = ctx.tr(
                    format!(
                        "{PUBLIC} on disk (modulus {fp}) is not a key the JWKS serves ({}): the key pair was replaced without restarting auth-service, or services read another copy",
                        served.join(", ")
                    ),
                    format!(
                        "ディスク上の {PUBLIC}（modulus {fp}）は JWKS の鍵（{}）と違う: auth-service を再起動せずに鍵ペアを入れ替えた、または別のコピーを読んでいる",
                        served.join(", ")
                    ),
                );
                out.raise(Cause::SignatureMismatch, Confirmed, msg.clone());
                status = Status::Critical;
                notes.push(msg);
            }
        }
        (Some(Err(e)), _) if missing.is_empty() => {
            let msg = ctx.tr(
                format!("{PUBLIC} is not a usable RSA public key: {e}"),
                format!("{PUBLIC} が RSA 公開鍵として読めない: {e}"),
            );
            out.raise(Cause::KeysMissing, Confirmed, msg.clone());
            status = Status::Critical;
            notes.push(msg);
        }
        _ => {}
    }
    (status, (!notes.is_empty()).then(|| notes.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::KeyFacts;
    use crate::lang::Lang;

    fn ctx() -> Ctx {
        Ctx { lang: Lang::En, thresholds: Default::default() }
    }
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
        assert_eq!(judge_inside(&mut f, "auth-service", &i, Some(&jwks("ab")), &ctx()), (Status::Ok, None));
        assert_eq!(verdict(&f, "keys-missing"), RuledOut);
        assert_eq!(verdict(&f, "signature-mismatch"), RuledOut);
    }

    #[test]
    fn missing_unreadable_open_and_replaced_keys() {
        let ctx = ctx();
        let mut f = Finding::new("AU002", "t");
        let i = inside(vec![entry(PUBLIC, "-rw-r--r--", 1000, 451)], None);
        assert_eq!(judge_inside(&mut f, "auth-service", &i, None, &ctx).0, Status::Critical);
        assert_eq!(verdict(&f, "keys-missing"), Confirmed);

        let mut f = Finding::new("AU002", "t");
        let i = inside(vec![entry(PRIVATE, "-rw-------", 0, 1704), entry(PUBLIC, "-rw-r--r--", 0, 451)], None);
        let (s, note) = judge_inside(&mut f, "auth-service", &i, None, &ctx);
        assert_eq!(s, Status::Critical);
        assert!(note.unwrap().contains("cannot be read by uid 1000"));

        let mut f = Finding::new("AU002", "t");
        let i = inside(
            vec![entry(PRIVATE, "-rw-r--r--", 1000, 1704), entry(PUBLIC, "-rw-r--r--", 1000, 451)],
            Some(("aa", 2048)),
        );
        let (s, note) = judge_inside(&mut f, "auth-service", &i, Some(&jwks("bb")), &ctx);
        assert_eq!(s, Status::Critical);
        let note = note.unwrap();
        assert!(note.contains("chmod 600") && note.contains("not a key the JWKS serves"), "{note}");
        assert_eq!(verdict(&f, "signature-mismatch"), Confirmed);

        let mut f = Finding::new("AU002", "t");
        let i =
            InsideFacts { keys: Some(Err("ls: /app/keys/: No such file or directory".into())), ..Default::default() };
        assert_eq!(judge_inside(&mut f, "auth-service", &i, None, &ctx).0, Status::Critical);
        assert_eq!(verdict(&f, "keys-missing"), Confirmed);

        let mut f = Finding::new("AU002", "t");
        let i = InsideFacts { error: Some("exec: \"sh\": executable file not found".into()), ..Default::default() };
        assert_eq!(judge_inside(&mut f, "auth-service", &i, None, &ctx).0, Status::Ok);
        assert_eq!(verdict(&f, "keys-missing"), Unchecked);
    }
}
