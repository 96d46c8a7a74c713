//! What auth-service reads in Redis to accept a refresh JWT (spec `07-redis/03`, `07`): the
//! blacklist entry `blacklist:refresh:<jti>` (present = revoked by a logout or a rotation) and
//! the session `session:<sub>:<sid>` (absent = 「Session not found」), with their TTLs. A handful
//! of targeted reads (`EXISTS`, `TTL`, `TYPE`, `STRLEN`, then one `GET` or `HMGET` of the
//! session), not a scan, so they cost nothing on a large keyspace. The session record is read
//! only to tell whether it names this very token (its `refresh_jti` / `refresh_token` field):
//! compared in memory, never kept. The identifiers appear in facts as fingerprints.

use super::super::redis_app::err;
use super::super::until;
use crate::jwt::RefreshIds;
use crate::redact;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// One key as found: its name as shown (identifiers fingerprinted), whether it exists and its TTL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyState {
    pub key: String,
    pub exists: bool,
    /// Seconds left; None when absent or without a TTL.
    pub ttl_s: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RefreshSession {
    /// `blacklist:refresh:<jti>`; None when the token carries no `jti`.
    pub blacklist: Option<KeyState>,
    /// `session:<sub>:<sid>`; None when the token carries no `sub` or no session id.
    pub session: Option<KeyState>,
    /// Whether the session record names this token (its `refresh_jti` or `refresh_token`
    /// field): `Some(false)` means a later refresh replaced it. None when it names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_holds_token: Option<bool>,
}

/// A session record is a few hundred bytes; a bigger value is not read.
const MAX_SESSION_BYTES: i64 = 64 * 1024;

/// How a key is shown: the identifier replaced by its fingerprint.
fn shown(prefix: &str, id: &str, what: &str) -> String {
    format!("{prefix}<{what} {}>", redact::fingerprint(id))
}

pub async fn read(
    con: &mut redis::aio::MultiplexedConnection,
    ids: &RefreshIds,
    token: Option<&str>,
    deadline: Instant,
) -> Result<RefreshSession, String> {
    let black = ids.jti.as_deref().map(|j| (format!("blacklist:refresh:{j}"), shown("blacklist:refresh:", j, "jti")));
    let sess = match (&ids.sub, &ids.sid) {
        (Some(u), Some(s)) => Some((format!("session:{u}:{s}"), shown(&format!("session:{u}:"), s, "sid"))),
        _ => None,
    };
    let mut pipe = redis::pipe();
    for (key, _) in black.iter().chain(&sess) {
        pipe.cmd("EXISTS").arg(key).cmd("TTL").arg(key);
    }
    if let Some((key, _)) = &sess {
        pipe.cmd("TYPE").arg(key).cmd("STRLEN").arg(key);
    }
    pipe.ignore_errors();
    let mut out = RefreshSession::default();
    if black.is_none() && sess.is_none() {
        return Ok(out);
    }
    let replies: Vec<redis::RedisResult<redis::Value>> =
        until(deadline, pipe.query_async(con)).await.ok_or("no answer before the timeout")?.map_err(|e| err(&e))?;
    let mut it = replies.into_iter();
    if let Some((_, s)) = &black {
        out.blacklist = Some(state(s, &mut it)?);
    }
    if let Some((key, s)) = &sess {
        let st = state(s, &mut it)?;
        let kind = match it.next() {
            Some(Ok(redis::Value::SimpleString(t))) => t,
            Some(Ok(redis::Value::BulkString(b))) => String::from_utf8_lossy(&b).into_owned(),
            _ => String::new(),
        };
        // STRLEN answers WRONGTYPE on a hash: that error is expected, not a failure.
        let len = match it.next() {
            Some(Ok(redis::Value::Int(n))) => n,
            _ => 0,
        };
        if st.exists {
            out.session_holds_token = names_token(con, key, &kind, len, ids, token, deadline).await;
        }
        out.session = Some(st);
    }
    Ok(out)
}

type Replies = std::vec::IntoIter<redis::RedisResult<redis::Value>>;

/// The `EXISTS` and `TTL` replies of one key.
fn state(shown: &str, it: &mut Replies) -> Result<KeyState, String> {
    let mut int = || match it.next() {
        Some(Ok(redis::Value::Int(n))) => Ok(n),
        Some(Ok(_)) => Ok(-2),
        Some(Err(e)) => Err(err(&e)),
        None => Err("fewer replies than commands".to_string()),
    };
    let exists = int()? > 0;
    let ttl = int()?;
    Ok(KeyState { key: redact::scrub(shown), exists, ttl_s: (exists && ttl >= 0).then_some(ttl) })
}

/// Reads the session's `refresh_jti` / `refresh_token` fields and compares them with the token.
async fn names_token(
    con: &mut redis::aio::MultiplexedConnection,
    key: &str,
    kind: &str,
    len: i64,
    ids: &RefreshIds,
    token: Option<&str>,
    deadline: Instant,
) -> Option<bool> {
    let (jti, tok): (Option<String>, Option<String>) = match kind {
        "string" if len <= MAX_SESSION_BYTES => {
            let v: Option<String> = until(deadline, redis::cmd("GET").arg(key).query_async(con)).await?.ok()?;
            let j: serde_json::Value = serde_json::from_str(&v?).ok()?;
            let field = |f: &str| j.get(f).and_then(|x| x.as_str()).map(str::to_string);
            (field("refresh_jti"), field("refresh_token"))
        }
        "hash" => {
            until(deadline, redis::cmd("HMGET").arg(key).arg("refresh_jti").arg("refresh_token").query_async(con))
                .await?
                .ok()?
        }
        _ => return None,
    };
    same(jti.as_deref(), ids.jti.as_deref()).or_else(|| same(tok.as_deref(), token))
}

/// Whether a stored identifier is the token's: None when either side is missing.
fn same(stored: Option<&str>, ours: Option<&str>) -> Option<bool> {
    match (stored.filter(|s| !s.is_empty()), ours) {
        (Some(s), Some(o)) => Some(s == o.trim()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_shown_with_its_identifier_fingerprinted() {
        let k = shown("session:u-1:", "sess-7f3d9a1b", "sid");
        assert!(k.starts_with("session:u-1:<sid ") && !k.contains("7f3d9a1b"), "{k}");
        assert_eq!(k, shown("session:u-1:", "sess-7f3d9a1b", "sid"), "stable within a run");
    }

    #[test]
    fn a_stored_identifier_matches_only_when_both_sides_have_one() {
        assert_eq!(same(Some("j1"), Some("j1")), Some(true));
        assert_eq!(same(Some("j2"), Some("j1")), Some(false));
        assert_eq!(same(Some(""), Some("j1")), None);
        assert_eq!(same(None, Some("j1")), None);
        assert_eq!(same(Some("j1"), None), None);
    }
}
