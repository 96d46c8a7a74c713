//! RD001: cannot connect to Redis. Reads the URL's shape and how the connection or its first
//! command failed (refused, timeout, name, WRONGPASS, NOAUTH, LOADING, not Redis at all); may
//! confirm `wrong-password` and `bad-redis-url`. `container-stopped` and `network-isolated`
//! are suspected here and confirmed by the Docker layer.

use crate::catalogue::Area;
use crate::lang::Lang;
use crate::probe::redis::{RedisErrorKind, RedisFacts};
use crate::problems::Ctx;
use crate::problems::registry::{Inputs, Problem};
use crate::report::{Finding, Status, Verdict::*};

crate::causes! {
    ContainerStopped = "container-stopped",
    WrongPassword = "wrong-password",
    BadRedisUrl = "bad-redis-url",
    NetworkIsolated = "network-isolated",
}

pub static PROBLEM: Problem = Problem {
    code: "RD001",
    areas: &[Area::Redis],
    runbook: crate::runbook!("redis/RD001-cannot-connect.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let Some(rd) = &i.facts.redis else { return vec![] };
    let mut f = diagnose(rd, i.ctx);
    super::with_engine_rd001(&mut f, rd, &i.docker, i.ctx);
    vec![i.timed(f, i.facts.redis_ms)]
}

pub fn diagnose(f: &RedisFacts, ctx: &Ctx) -> Finding {
    let mut out = Finding::new("RD001", f.target.clone());
    out.fact("url", &f.url);
    out.fact("url_source", &f.url_source);
    let pick = |p: &crate::urls::UrlProblem| {
        if ctx.lang == Lang::Ja { p.ja.clone() } else { p.en.clone() }
    };
    if let Some(p) = &f.url_problem {
        let what = pick(p);
        out.cause(Cause::BadRedisUrl, Confirmed, what.clone());
        let not_tried = ctx.tr("not tried: the URL is unusable", "URL が使えないため未確認");
        out.causes_all(&[Cause::ContainerStopped, Cause::WrongPassword, Cause::NetworkIsolated], Unchecked, &not_tried);
        return out.status(
            Status::Critical,
            ctx.tr(
                format!("the URL ({}) cannot be used: {what}", f.url_source),
                format!("URL（{}）が使えません: {what}", f.url_source),
            ),
        );
    }
    let notes: Vec<String> = f.url_notes.iter().map(pick).collect();
    let Some(conn) = &f.conn else {
        return out.status(Status::Unknown, ctx.tr("no connection was attempted", "接続を試行していません"));
    };
    let addr = &conn.address;
    out.fact("address", addr);
    out.fact("latency_ms", conn.latency_ms);
    if let Some(v) = &f.reached_via {
        out.fact("reached_via", v);
    }
    let docker_note = ctx.tr(
        "needs the Docker engine (container state and networks)",
        "Docker エンジンの情報（コンテナ状態とネットワーク）が必要",
    );
    let answered = ctx.tr("the server answered", "サーバーは応答した");
    let shape_ok = if notes.is_empty() {
        ctx.tr(format!("the URL has the expected shape ({})", f.url), format!("URL の形式は正しい（{}）", f.url))
    } else {
        notes.join("; ")
    };
    let url_verdict = if notes.is_empty() { RuledOut } else { Suspected };
    let (status, summary) = match &conn.result {
        Ok(()) => {
            let version = f.info.as_ref().map(|i| i.version.clone()).unwrap_or_default();
            out.cause(Cause::ContainerStopped, RuledOut, answered.clone());
            out.cause(Cause::WrongPassword, RuledOut, ctx.tr("commands are accepted", "コマンドが受け付けられた"));
            out.cause(Cause::BadRedisUrl, url_verdict, shape_ok);
            out.cause(
                Cause::NetworkIsolated,
                if f.reached_via.is_some() { Unchecked } else { RuledOut },
                match &f.reached_via {
                    Some(v) => ctx.tr(
                        format!("the URL's host does not resolve on this machine (a compose network name), so {v} was used"),
                        format!("URL のホスト名はこのマシンでは解決できない（compose ネットワーク内の名前）ため {v} に接続した"),
                    ),
                    None => ctx.tr(format!("reached from this host at {addr}"), format!("このホストから {addr} に到達できた")),
                },
            );
            (
                Status::Ok,
                ctx.tr(
                    format!("connected in {} ms (Redis {version})", conn.latency_ms),
                    format!("{} ms で接続（Redis {version}）", conn.latency_ms),
                ),
            )
        }
        Err(e) => {
            out.fact("error", &e.kind);
            out.fact("message", &e.message);
            match e.kind {
                RedisErrorKind::Refused => {
                    out.cause(Cause::ContainerStopped, Suspected, ctx.tr(
                        format!("connection refused at {addr}: nothing listens there (stopped container, or port not published)"),
                        format!("{addr} で接続拒否: 待ち受けがない（コンテナ停止、またはポート未公開）"),
                    ));
                    out.cause(
                        Cause::WrongPassword,
                        Unchecked,
                        ctx.tr("never got that far", "認証の段階まで進んでいない"),
                    );
                    out.cause(
                        Cause::BadRedisUrl,
                        if addr.ends_with(":6379") { url_verdict } else { Suspected },
                        if addr.ends_with(":6379") {
                            shape_ok
                        } else {
                            ctx.tr(
                                format!("the URL names {addr}; the stack's Redis listens on 6379"),
                                format!("URL は {addr} を指している。スタックの Redis は 6379 で待ち受ける"),
                            )
                        },
                    );
                    out.cause(Cause::NetworkIsolated, Unchecked, docker_note);
                    (
                        Status::Critical,
                        ctx.tr(format!("connection refused at {addr}"), format!("{addr} への接続が拒否された")),
                    )
                }
                RedisErrorKind::Timeout => {
                    out.cause(
                        Cause::ContainerStopped,
                        Suspected,
                        ctx.tr("no answer: a paused or hung server", "応答がない: サーバーの一時停止またはハング"),
                    );
                    out.cause(
                        Cause::WrongPassword,
                        Unchecked,
                        ctx.tr("never got that far", "認証の段階まで進んでいない"),
                    );
                    out.cause(Cause::BadRedisUrl, url_verdict, shape_ok);
                    out.cause(
                        Cause::NetworkIsolated,
                        Suspected,
                        ctx.tr(
                            format!("{addr} did not answer in time: packets dropped on the way?"),
                            format!("{addr} が時間内に応答しない: 途中でパケットが破棄されている可能性"),
                        ),
                    );
                    (
                        Status::Critical,
                        ctx.tr(
                            format!("no answer from {addr} before the timeout"),
                            format!("{addr} からタイムアウトまでに応答がない"),
                        ),
                    )
                }
                RedisErrorKind::NameNotResolved => {
                    out.cause(Cause::ContainerStopped, Unchecked, docker_note);
                    out.cause(
                        Cause::WrongPassword,
                        Unchecked,
                        ctx.tr("never got that far", "認証の段階まで進んでいない"),
                    );
                    out.cause(
                        Cause::BadRedisUrl,
                        Suspected,
                        ctx.tr(
                            format!("the host of {} does not resolve: is it spelled right?", f.url),
                            format!("{} のホスト名が解決できない。綴りは正しいか", f.url),
                        ),
                    );
                    out.cause(
                        Cause::NetworkIsolated,
                        Suspected,
                        ctx.tr(
                            "the host name is not known on this machine's network",
                            "このマシンのネットワークでは解決できないホスト名",
                        ),
                    );
                    (Status::Critical, ctx.tr("the host name does not resolve", "ホスト名を名前解決できない"))
                }
                RedisErrorKind::WrongPassword => {
                    out.cause(Cause::ContainerStopped, RuledOut, answered.clone());
                    out.cause(Cause::WrongPassword, Confirmed, ctx.tr(
                        "the server rejected the password (WRONGPASS): compare REDIS_URL with REDIS_PASSWORD / requirepass",
                        "パスワードが拒否された（WRONGPASS）: REDIS_URL と REDIS_PASSWORD / requirepass を照合",
                    ));
                    out.cause(Cause::BadRedisUrl, url_verdict, shape_ok);
                    out.cause(Cause::NetworkIsolated, RuledOut, answered);
                    (Status::Critical, ctx.tr("Redis rejected the password", "Redis がパスワードを拒否した"))
                }
                RedisErrorKind::NoAuth => {
                    out.cause(Cause::ContainerStopped, RuledOut, answered.clone());
                    out.cause(
                        Cause::WrongPassword,
                        Confirmed,
                        ctx.tr(
                            "the server requires a password and none was sent (NOAUTH)",
                            "サーバーはパスワードを要求しているが送られていない（NOAUTH）",
                        ),
                    );
                    out.cause(
                        Cause::BadRedisUrl,
                        Suspected,
                        if notes.is_empty() {
                            ctx.tr(
                                "the URL carries no password: use redis://:PASSWORD@host:6379",
                                "URL にパスワードがない: redis://:PASSWORD@host:6379 の形式にする",
                            )
                        } else {
                            notes.join("; ")
                        },
                    );
                    out.cause(Cause::NetworkIsolated, RuledOut, answered);
                    (
                        Status::Critical,
                        ctx.tr("Redis requires a password (NOAUTH)", "Redis がパスワードを要求している（NOAUTH）"),
                    )
                }
                RedisErrorKind::Loading => {
                    out.cause(
                        Cause::ContainerStopped,
                        Suspected,
                        ctx.tr(
                            "Redis is loading its data set after a (re)start (LOADING)",
                            "Redis が（再）起動後にデータをロード中（LOADING）",
                        ),
                    );
                    out.cause(Cause::WrongPassword, Unchecked, ctx.tr("not known while loading", "ロード中のため不明"));
                    out.cause(Cause::BadRedisUrl, url_verdict, shape_ok);
                    out.cause(Cause::NetworkIsolated, RuledOut, answered);
                    (Status::Critical, ctx.tr("Redis is still loading its data set", "Redis がデータセットをロード中"))
                }
                RedisErrorKind::Protocol | RedisErrorKind::Other => {
                    out.cause(Cause::ContainerStopped, Unchecked, docker_note.clone());
                    out.cause(Cause::WrongPassword, Unchecked, ctx.tr("not known", "不明"));
                    out.cause(
                        Cause::BadRedisUrl,
                        Suspected,
                        ctx.tr(
                            format!(
                                "what answers at {addr} does not behave like Redis: is it the right port? ({})",
                                e.message
                            ),
                            format!("{addr} の応答が Redis のものではない。ポートは正しいか（{}）", e.message),
                        ),
                    );
                    out.cause(Cause::NetworkIsolated, Unchecked, docker_note);
                    (
                        Status::Critical,
                        ctx.tr(
                            format!("Redis at {addr} failed: {}", e.message),
                            format!("{addr} の Redis でエラー: {}", e.message),
                        ),
                    )
                }
            }
        }
    };
    out.status(status, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Thresholds;
    use crate::problems::redis::fixtures::{failed, healthy};
    use crate::urls::UrlProblem;

    fn ctx() -> Ctx {
        Ctx { lang: Lang::En, thresholds: Thresholds::default() }
    }

    #[test]
    fn healthy_is_ok() {
        let f = diagnose(&healthy(), &ctx());
        assert_eq!(f.status, Status::Ok);
        assert!(f.causes.iter().all(|c| c.verdict == RuledOut));
    }

    #[test]
    fn wrong_password_and_noauth_confirm_wrong_password() {
        for k in [RedisErrorKind::WrongPassword, RedisErrorKind::NoAuth] {
            let f = diagnose(&failed(k, "x"), &ctx());
            assert_eq!((f.status, f.verdict_of(Cause::WrongPassword)), (Status::Critical, Some(Confirmed)));
        }
    }

    #[test]
    fn refused_suspects_a_stopped_container() {
        let f = diagnose(&failed(RedisErrorKind::Refused, "Connection refused"), &ctx());
        assert_eq!(f.verdict_of(Cause::ContainerStopped), Some(Suspected));
    }

    #[test]
    fn bad_url_is_confirmed() {
        let mut facts = healthy();
        facts.url_problem = Some(UrlProblem { en: "the scheme \"http\" is not Redis's".into(), ja: "x".into() });
        facts.conn = None;
        let f = diagnose(&facts, &ctx());
        assert_eq!((f.status, f.verdict_of(Cause::BadRedisUrl)), (Status::Critical, Some(Confirmed)));
    }

    #[test]
    fn timeout_and_names_suspect_the_network() {
        for k in [RedisErrorKind::Timeout, RedisErrorKind::NameNotResolved] {
            assert_eq!(diagnose(&failed(k, "x"), &ctx()).verdict_of(Cause::NetworkIsolated), Some(Suspected));
        }
    }
}
