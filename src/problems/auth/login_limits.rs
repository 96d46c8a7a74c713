//! AU001's two refusals that are not about the password: a locked account (`users.login_attempts
//! >= 5` sets `locked_until` 30 minutes ahead; 403 「Account locked」 / "Account locked until
//! <iso>") and the login rate limit (429 「Too many login attempts」, counted in Redis). Apart
//! from the login's answer so that the three sources that tell them (the answer, authdb's
//! lockout columns, the login-limit keys in Redis) are read in one place, and the answer-only
//! verdicts of `au001_login_fails` stay short.

use super::au001_login_fails::Cause;
use crate::facts::of::pg_app::UserLock;
use crate::facts::of::redis_app::{LimitKey, LimitKind, RedisAppFacts};
use crate::problems::secs;
use crate::report::{Finding, Status, Verdict::*};
use crate::t;
use crate::text::Text;

/// Failures the spec counts before it refuses (5 a minute or an hour; the 5th failure locks).
pub const LIMIT: i64 = 5;

/// What a failed login's answer says about why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 403 (or 423) whose body says locked.
    Locked,
    /// 429.
    RateLimited,
    /// 403 not saying locked, or a body saying inactive or disabled.
    Inactive,
    Other,
}

pub fn refusal(code: u16, body: Option<&str>) -> Refusal {
    let says = |w: &str| body.is_some_and(|b| b.to_ascii_lowercase().contains(w));
    if code == 429 {
        Refusal::RateLimited
    } else if matches!(code, 403 | 423) && says("locked") {
        Refusal::Locked
    } else if code == 403 || says("inactive") || says("disabled") {
        Refusal::Inactive
    } else {
        Refusal::Other
    }
}

/// The two causes from the answer alone.
pub fn from_answer(out: &mut Finding, user: &str, r: Refusal, answer: &str) {
    if r == Refusal::Locked {
        out.cause(Cause::AccountLocked, Confirmed, t!("AU001/locked-answer", user = user, answer = answer));
    } else {
        out.cause(Cause::AccountLocked, RuledOut, t!("AU001/not-locked-answer", answer = answer));
    }
    if r == Refusal::RateLimited {
        out.cause(Cause::RateLimited, Confirmed, t!("AU001/limited-answer", answer = answer));
    } else {
        out.cause(Cause::RateLimited, RuledOut, t!("AU001/not-limited-answer", answer = answer));
    }
}

/// The SQL an operator runs to unlock now (doctor never writes), with the login quoted.
fn unlock_sql(user: &str) -> String {
    let quoted = user.replace('\'', "''");
    format!("UPDATE users SET login_attempts = 0, locked_until = NULL WHERE email = '{quoted}'")
}

/// authdb's lockout columns of the login's user (`inactive`: its `is_active` is false);
/// returns the status they call for.
pub fn from_authdb(
    out: &mut Finding,
    user: &str,
    lock: &UserLock,
    inactive: bool,
    failed: bool,
    notes: &mut Vec<Text>,
) -> Status {
    if let Some(n) = lock.login_attempts {
        out.fact("login_attempts", n);
    }
    if let Some(u) = &lock.locked_until {
        out.fact("locked_until", u);
    }
    let attempts = lock.login_attempts.map_or_else(|| "?".to_string(), |n| n.to_string());
    match (lock.locked_for_s, &lock.locked_until) {
        (Some(left), Some(until)) if left > 0.0 => {
            let msg = t!(
                "AU001/locked-in-authdb",
                user = user,
                until = until,
                left = secs(left),
                attempts = &attempts,
                sql = unlock_sql(user),
            );
            out.raise(Cause::AccountLocked, if failed { Confirmed } else { Suspected }, msg.clone());
            if !failed {
                return Status::Ok;
            }
            notes.push(msg);
            // Some services answer a locked account with their generic 401 or 403.
            let generic =
                if inactive { &[Cause::WrongPassword][..] } else { &[Cause::WrongPassword, Cause::UserInactive] };
            for id in generic {
                if let Some(c) = out.causes.iter_mut().find(|c| c.id == id.id() && c.verdict == Confirmed) {
                    c.verdict = Suspected;
                    let before = std::mem::take(&mut c.evidence);
                    c.evidence = t!("AU001/locked-also", before = before);
                }
            }
            Status::Critical
        }
        _ => {
            let near = lock.login_attempts.is_some_and(|n| n >= LIMIT - 1);
            let msg = if near {
                t!("AU001/not-locked-near", user = user, attempts = &attempts, limit = LIMIT)
            } else {
                t!("AU001/not-locked-in-authdb", user = user, attempts = &attempts)
            };
            out.raise(Cause::AccountLocked, RuledOut, msg);
            Status::Ok
        }
    }
}

fn describe(k: &LimitKey, user: &str) -> Text {
    let key = k.pattern.replace("<login>", user);
    let ttl = k.ttl_s.map_or_else(|| t!("AU001/no-ttl"), |s| t!("AU001/ttl-left", left = secs(s as f64)));
    match k.count {
        Some(n) => t!("AU001/limit-key-counts", key = key, count = n, limit = LIMIT, ttl = ttl),
        None => t!("AU001/limit-key-set", key = key, ttl = ttl),
    }
}

/// The login-limit keys of the user in Redis: a counter at the limit confirms `rate-limited`
/// (after a failed login) or suspects it, `account:locked:` or a failure counter at the limit
/// does the same for `account-locked`; no key rules `rate-limited` out.
pub fn from_redis(out: &mut Finding, user: &str, rd: &RedisAppFacts, failed: bool) {
    let Some(Ok(keys)) = &rd.login_limits else { return };
    if !keys.is_empty() {
        out.fact("login_limit_keys", keys);
    }
    let at_limit = |k: &LimitKey| k.count.is_some_and(|n| n >= LIMIT);
    let strong = if failed { Confirmed } else { Suspected };
    for k in keys {
        let (id, verdict) = match k.kind {
            LimitKind::RateLimit if at_limit(k) => (Cause::RateLimited, strong),
            LimitKind::RateLimit => (Cause::RateLimited, RuledOut),
            LimitKind::Attempts if at_limit(k) => (Cause::AccountLocked, strong),
            LimitKind::Attempts => (Cause::AccountLocked, RuledOut),
            LimitKind::Lock => (Cause::AccountLocked, strong),
        };
        out.raise(id, verdict, describe(k, user));
    }
    if !keys.iter().any(|k| k.kind == LimitKind::RateLimit) {
        out.raise(Cause::RateLimited, RuledOut, t!("AU001/no-limit-key", key = format!("rate_limit:login:{user}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answers_of_the_spec_are_told_apart() {
        let r = |code, body: &str| refusal(code, Some(body));
        assert_eq!(r(403, r#"{"detail":"Account locked until 2026-12-02T15:34:00+00:00"}"#), Refusal::Locked);
        assert_eq!(
            r(403, r#"{"detail":"Account is temporarily locked due to multiple failed login attempts."}"#),
            Refusal::Locked
        );
        assert_eq!(r(403, r#"{"detail":"Too many failed attempts. Account locked for 30 minutes."}"#), Refusal::Locked);
        assert_eq!(r(423, "Locked"), Refusal::Locked);
        assert_eq!(r(429, r#"{"detail":"Too many login attempts. Please try again later."}"#), Refusal::RateLimited);
        assert_eq!(r(403, r#"{"detail":"Account inactive"}"#), Refusal::Inactive);
        assert_eq!(r(403, ""), Refusal::Inactive);
        assert_eq!(r(401, r#"{"detail":"Invalid credentials. 3 attempts remaining."}"#), Refusal::Other);
    }

    #[test]
    fn the_unlock_command_quotes_the_login() {
        assert_eq!(
            unlock_sql("o'neil@example.com"),
            "UPDATE users SET login_attempts = 0, locked_until = NULL WHERE email = 'o''neil@example.com'"
        );
    }
}
