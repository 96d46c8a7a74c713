//! Redis problems RD001–RD003, each diagnosed from one `RedisFacts`.

mod memory_limit;
pub mod rd001_cannot_connect;
pub mod rd002_out_of_memory;
pub mod rd003_low_hit_rate;

use super::depends_on;
use super::engine::{self, DockerView, Seen};
use crate::facts::of::redis::{RedisErrorKind, RedisFacts};
use crate::report::{Finding, Status, Verdict};
use rd001_cannot_connect::Cause as Rd001;

/// RD001 with the engine's evidence: the container's state, the services' network links to it,
/// and the password in their `REDIS_URL` against the container's `requirepass`.
fn with_engine_rd001(out: &mut Finding, f: &RedisFacts, docker: &DockerView) {
    engine::explain_unavailable(out, docker, &[Rd001::ContainerStopped, Rd001::NetworkIsolated]);
    if f.url_problem.is_some() {
        return;
    }
    let answered = f.connected()
        || f.error().is_some_and(|e| {
            matches!(e.kind, RedisErrorKind::WrongPassword | RedisErrorKind::NoAuth | RedisErrorKind::Loading)
        });
    engine::apply(out, Rd001::ContainerStopped, engine::container_stopped(docker, "redis", answered));
    engine::apply(out, Rd001::NetworkIsolated, engine::network_isolated(docker, "redis"));
    if let Seen::Found(c) = docker.seen("redis") {
        match c.requirepass_fingerprint.as_deref() {
            Some(fp) => {
                engine::apply(out, Rd001::WrongPassword, engine::password_mismatch(docker, "redis", Some(fp), None))
            }
            None => {
                // No password on the server: clients that send one are refused by Redis 6+.
                let senders: Vec<String> = engine::links_to(docker, "redis")
                    .iter()
                    .filter(|l| l.var.password_fingerprint.is_some())
                    .map(|l| format!("{} {}", l.client.name, l.var.name))
                    .collect();
                if !senders.is_empty() {
                    engine::apply(
                        out,
                        Rd001::WrongPassword,
                        Some((
                            Verdict::Confirmed,
                            crate::t!(
                                "RD001/password-sent-none-set",
                                senders = senders.join(", "),
                                container = &c.name
                            ),
                        )),
                    );
                }
            }
        }
    }
    super::postgres::escalate(out, [Rd001::ContainerStopped, Rd001::NetworkIsolated, Rd001::WrongPassword]);
}

/// RD002/RD003 without a connection: skipped, every cause unchecked, pointing at RD001.
pub(crate) fn skipped<C: Into<crate::report::CauseId> + Copy>(
    code: &'static str,
    f: &RedisFacts,
    ids: &[C],
) -> Finding {
    let why = depends_on("RD001", crate::t!("shared/no-redis-connection"));
    let mut out = Finding::new(code, f.target.clone());
    out.causes_all(ids, Verdict::Unchecked, why.clone());
    out.status(Status::Skipped, why)
}

#[cfg(test)]
pub(crate) mod fixtures {
    use crate::facts::of::redis::*;
    use std::collections::BTreeMap;

    pub fn healthy() -> RedisFacts {
        let mut keyspace = BTreeMap::new();
        keyspace.insert("db0".to_string(), Keyspace { keys: 1000, expires: 900, avg_ttl_ms: 900_000 });
        RedisFacts {
            target: "redis@127.0.0.1:6379/0".into(),
            url: "redis://:***@127.0.0.1:6379".into(),
            url_source: "REDIS_URL".into(),
            conn: Some(RedisConn { address: "127.0.0.1:6379".into(), latency_ms: 1, result: Ok(()) }),
            info: Some(RedisInfo {
                version: "7.0.15".into(),
                uptime_s: 86_400,
                used_memory: 10 << 20,
                maxmemory: 256 << 20,
                maxmemory_policy: "allkeys-lru".into(),
                fragmentation_ratio: 1.1,
                keyspace_hits: 9000,
                keyspace_misses: 1000,
                keyspace,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    pub fn failed(kind: RedisErrorKind, message: &str) -> RedisFacts {
        let mut f = healthy();
        f.info = None;
        if let Some(c) = f.conn.as_mut() {
            c.result = Err(RedisError { kind, message: message.into() });
        }
        f
    }
}
