//! PG001: cannot connect to PostgreSQL. Reads the URL's shape and how the application
//! connection failed (refused, timeout, name, 28P01, 28000, 3D000, TLS...); may confirm
//! `wrong-password`, `bad-database-url`, `database-missing`. `container-stopped` and
//! `network-isolated` can only be suspected from here: the Docker layer confirms them.

use crate::catalogue::Area;
use crate::lang::Lang;
use crate::probe::postgres::{PgErrorKind, PgFacts};
use crate::problems::registry::{Inputs, Problem};
use crate::problems::{Ctx, secs};
use crate::report::{Finding, Status, Verdict::*};

crate::causes! {
    ContainerStopped = "container-stopped",
    WrongPassword = "wrong-password",
    BadDatabaseUrl = "bad-database-url",
    NetworkIsolated = "network-isolated",
    DatabaseMissing = "database-missing",
}

pub static PROBLEM: Problem = Problem {
    code: "PG001",
    areas: &[Area::Postgres],
    runbook: crate::runbook!("postgres/PG001-cannot-connect.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let Some(pg) = &i.facts.postgres else { return vec![] };
    let mut f = diagnose(pg, i.ctx);
    super::with_engine_pg001(&mut f, pg, &i.docker, i.ctx);
    vec![i.timed(f, i.facts.postgres_ms)]
}

/// Databases the stack's services use; a missing one is reported even when ours connects.
pub const STACK_DATABASES: &[&str] = &["authdb", "apidb", "admindb"];

pub fn diagnose(f: &PgFacts, ctx: &Ctx) -> Finding {
    let mut out = Finding::new("PG001", f.target.clone());
    out.fact("url", &f.url);
    out.fact("url_source", &f.url_source);
    let docker_note = ctx.tr(
        "needs the Docker engine (container state); the Docker check fills this in",
        "Docker エンジンの情報（コンテナの状態）が必要です",
    );
    if let Some(p) = &f.url_problem {
        let what = if ctx.lang == Lang::Ja { &p.ja } else { &p.en };
        out = out.status(
            Status::Critical,
            ctx.tr(
                format!("the URL ({}) cannot be used: {what}", f.url_source),
                format!("URL（{}）が使えません: {what}", f.url_source),
            ),
        );
        out.cause(Cause::BadDatabaseUrl, Confirmed, what.clone());
        let not_tried = ctx.tr("not tried: the URL is unusable", "URL が使えないため未確認");
        out.causes_all(
            &[Cause::ContainerStopped, Cause::WrongPassword, Cause::NetworkIsolated, Cause::DatabaseMissing],
            Unchecked,
            &not_tried,
        );
        return out;
    }
    let notes: Vec<String> =
        f.url_notes.iter().map(|n| if ctx.lang == Lang::Ja { n.ja.clone() } else { n.en.clone() }).collect();
    let Some(app) = &f.app else {
        return out.status(Status::Unknown, ctx.tr("no connection was attempted", "接続を試行していません"));
    };
    out.fact("address", &app.address);
    out.fact("latency_ms", app.latency_ms);
    let via = f.reached_via.as_ref().map(|v| {
        ctx.tr(
            format!(
                "the URL's host does not resolve on this machine (a name inside the compose network), so {v} was used"
            ),
            format!(
                "URL のホスト名はこのマシンでは名前解決できない（compose ネットワーク内の名前）ため、{v} に接続しました"
            ),
        )
    });
    if via.is_some() {
        out.fact("reached_via", f.reached_via.as_deref());
    }
    let shape_ok =
        ctx.tr(format!("the URL has the expected shape ({})", f.url), format!("URL の形式は正しい（{}）", f.url));
    match &app.result {
        Ok(c) => {
            let mut summary = ctx.tr(
                format!(
                    "connected as {} to {} in {} ms (PostgreSQL {})",
                    app.user, app.db, app.latency_ms, c.server_version
                ),
                format!(
                    "{} として {} に {} ms で接続（PostgreSQL {}）",
                    app.user, app.db, app.latency_ms, c.server_version
                ),
            );
            out.cause(Cause::ContainerStopped, RuledOut, ctx.tr("the server answered", "サーバーが応答した"));
            out.cause(Cause::WrongPassword, RuledOut, ctx.tr("the server accepted the credentials", "認証に成功した"));
            let mut url_evidence = shape_ok;
            if !notes.is_empty() {
                url_evidence = format!("{url_evidence}; {}", notes.join("; "));
            }
            out.cause(Cause::BadDatabaseUrl, RuledOut, url_evidence);
            match &via {
                Some(v) => out.cause(Cause::NetworkIsolated, Unchecked, v.clone()),
                None => out.cause(
                    Cause::NetworkIsolated,
                    RuledOut,
                    ctx.tr(
                        format!("reached from this host at {}", app.address),
                        format!("このホストから {} に到達できた", app.address),
                    ),
                ),
            }
            let missing: Vec<&str> = match &f.databases {
                Some(dbs) => STACK_DATABASES.iter().copied().filter(|d| !dbs.iter().any(|x| x == d)).collect(),
                None => Vec::new(),
            };
            if missing.is_empty() {
                out.cause(
                    Cause::DatabaseMissing,
                    RuledOut,
                    match &f.databases {
                        Some(_) => ctx.tr(
                            format!("{} all exist", STACK_DATABASES.join(", ")),
                            format!("{} はすべて存在する", STACK_DATABASES.join(", ")),
                        ),
                        None => ctx.tr(format!("{} exists", app.db), format!("{} は存在する", app.db)),
                    },
                );
                out = out.status(Status::Ok, summary);
            } else {
                out.fact("missing_databases", &missing);
                let list = missing.join(", ");
                out.cause(
                    Cause::DatabaseMissing,
                    Confirmed,
                    ctx.tr(
                        format!("the stack's database(s) {list} do not exist on this server"),
                        format!("スタックが使うデータベース {list} がこのサーバーに存在しない"),
                    ),
                );
                summary =
                    ctx.tr(format!("{summary}; but {list} missing"), format!("{summary}。ただし {list} が存在しない"));
                out = out.status(Status::Warning, summary);
            }
            out
        }
        Err(e) => {
            out.fact("error", &e.kind);
            out.fact("sqlstate", &e.sqlstate);
            out.fact("message", &e.message);
            let addr = &app.address;
            let server_answered = ctx.tr("the server answered", "サーバーは応答した");
            let not_asked =
                ctx.tr("the server never got to checking the password", "パスワード確認の段階まで進んでいない");
            let db_unknown = ctx.tr("not known until the login succeeds", "ログインが成功するまで判別できない");
            let url_port_note = |port_suspect: bool| {
                if port_suspect {
                    (
                        Suspected,
                        ctx.tr(
                            format!("nothing answers at {addr}: check that the URL names the right host and port"),
                            format!("{addr} で応答がない。URL のホスト名とポートが正しいか確認"),
                        ),
                    )
                } else {
                    (RuledOut, shape_ok.clone())
                }
            };
            let (status, summary) = match e.kind {
                PgErrorKind::Refused => {
                    out.cause(Cause::ContainerStopped, Suspected, ctx.tr(
                        format!("connection refused at {addr}: no server listens there (stopped container, or port not published)"),
                        format!("{addr} で接続拒否: サーバーが待ち受けていない（コンテナ停止、またはポート未公開）"),
                    ));
                    out.cause(Cause::WrongPassword, Unchecked, not_asked.clone());
                    let (v, ev) = url_port_note(!addr.ends_with(":5432"));
                    out.cause(Cause::BadDatabaseUrl, v, ev);
                    out.cause(Cause::NetworkIsolated, Unchecked, docker_note.clone());
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (
                        Status::Critical,
                        ctx.tr(format!("connection refused at {addr}"), format!("{addr} への接続が拒否された")),
                    )
                }
                PgErrorKind::Timeout => {
                    out.cause(
                        Cause::ContainerStopped,
                        Suspected,
                        ctx.tr(
                            "no answer at all: a paused or hung server, or packets dropped on the way",
                            "まったく応答がない: サーバーの一時停止・ハング、または途中でパケットが破棄されている",
                        ),
                    );
                    out.cause(Cause::WrongPassword, Unchecked, not_asked.clone());
                    out.cause(Cause::BadDatabaseUrl, Unchecked, shape_ok.clone());
                    out.cause(
                        Cause::NetworkIsolated,
                        Suspected,
                        ctx.tr(
                            format!("{addr} did not answer within {}", secs(app.latency_ms as f64 / 1000.0)),
                            format!("{addr} が {} 以内に応答しなかった", secs(app.latency_ms as f64 / 1000.0)),
                        ),
                    );
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (
                        Status::Critical,
                        ctx.tr(
                            format!("no answer from {addr} before the timeout"),
                            format!("{addr} からタイムアウトまでに応答がない"),
                        ),
                    )
                }
                PgErrorKind::NameNotResolved => {
                    let host = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h);
                    out.cause(Cause::ContainerStopped, Unchecked, docker_note.clone());
                    out.cause(Cause::WrongPassword, Unchecked, not_asked.clone());
                    out.cause(
                        Cause::BadDatabaseUrl,
                        Suspected,
                        ctx.tr(
                            format!("the host name {host:?} does not resolve: is it spelled right?"),
                            format!("ホスト名 {host:?} が名前解決できない。綴りは正しいか"),
                        ),
                    );
                    out.cause(
                        Cause::NetworkIsolated,
                        Suspected,
                        ctx.tr(
                            format!("{host:?} is not a name known on this machine's network"),
                            format!("{host:?} はこのマシンのネットワークで解決できる名前ではない"),
                        ),
                    );
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (
                        Status::Critical,
                        ctx.tr(
                            format!("the host name {host:?} does not resolve"),
                            format!("ホスト名 {host:?} を名前解決できない"),
                        ),
                    )
                }
                PgErrorKind::WrongPassword => {
                    out.cause(Cause::ContainerStopped, RuledOut, server_answered.clone());
                    out.cause(
                        Cause::WrongPassword,
                        Confirmed,
                        ctx.tr(
                            format!("the server rejected the password for user {:?} (SQLSTATE 28P01)", app.user),
                            format!("ユーザー {:?} のパスワードが拒否された（SQLSTATE 28P01）", app.user),
                        ),
                    );
                    out.cause(Cause::BadDatabaseUrl, RuledOut, shape_ok.clone());
                    out.cause(Cause::NetworkIsolated, RuledOut, server_answered.clone());
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (
                        Status::Critical,
                        ctx.tr(
                            format!("password authentication failed for user {:?}", app.user),
                            format!("ユーザー {:?} のパスワード認証に失敗", app.user),
                        ),
                    )
                }
                PgErrorKind::PasswordMissing => {
                    out.cause(Cause::ContainerStopped, RuledOut, server_answered.clone());
                    out.cause(
                        Cause::WrongPassword,
                        Confirmed,
                        ctx.tr(
                            "the server asks for a password and the URL carries none",
                            "サーバーはパスワードを要求しているが、URL にパスワードがない",
                        ),
                    );
                    out.cause(
                        Cause::BadDatabaseUrl,
                        Suspected,
                        ctx.tr(
                            "the URL has no password: postgresql://user:<password>@host:5432/db",
                            "URL にパスワードがない: postgresql://user:<password>@host:5432/db",
                        ),
                    );
                    out.cause(Cause::NetworkIsolated, RuledOut, server_answered.clone());
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (
                        Status::Critical,
                        ctx.tr(
                            "the server requires a password and none was given",
                            "サーバーはパスワードを要求しているが指定されていない",
                        ),
                    )
                }
                PgErrorKind::HbaRejected => {
                    let tls_needed = e.message.contains("no encryption");
                    out.cause(Cause::ContainerStopped, RuledOut, server_answered.clone());
                    out.cause(Cause::WrongPassword, Unchecked, not_asked.clone());
                    if tls_needed {
                        out.cause(
                            Cause::BadDatabaseUrl,
                            Confirmed,
                            ctx.tr(
                                "the server accepts only TLS connections from here: add ?sslmode=require to the URL",
                                "サーバーはこの接続元から TLS 接続のみ受け付ける: URL に ?sslmode=require を追加",
                            ),
                        );
                    } else {
                        out.cause(
                            Cause::BadDatabaseUrl,
                            Suspected,
                            ctx.tr(
                                format!(
                                    "pg_hba.conf has no rule for user {:?}, database {:?} from this address",
                                    app.user, app.db
                                ),
                                format!(
                                    "pg_hba.conf にこの接続元・ユーザー {:?}・データベース {:?} の規則がない",
                                    app.user, app.db
                                ),
                            ),
                        );
                    }
                    out.cause(
                        Cause::NetworkIsolated,
                        Suspected,
                        ctx.tr(
                            format!("the server refuses clients from this address: {}", e.message),
                            format!("サーバーがこの接続元を拒否した: {}", e.message),
                        ),
                    );
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (
                        Status::Critical,
                        ctx.tr(
                            "the server's pg_hba.conf rejects this connection (SQLSTATE 28000)",
                            "サーバーの pg_hba.conf がこの接続を拒否（SQLSTATE 28000）",
                        ),
                    )
                }
                PgErrorKind::DatabaseMissing => {
                    out.cause(Cause::ContainerStopped, RuledOut, server_answered.clone());
                    out.cause(
                        Cause::WrongPassword,
                        RuledOut,
                        ctx.tr("the login got past authentication", "認証は通過した"),
                    );
                    out.cause(
                        Cause::BadDatabaseUrl,
                        Suspected,
                        ctx.tr(
                            format!("is {:?} the right database name?", app.db),
                            format!("データベース名 {:?} は正しいか", app.db),
                        ),
                    );
                    out.cause(Cause::NetworkIsolated, RuledOut, server_answered.clone());
                    out.cause(
                        Cause::DatabaseMissing,
                        Confirmed,
                        ctx.tr(
                            format!("database {:?} does not exist (SQLSTATE 3D000)", app.db),
                            format!("データベース {:?} が存在しない（SQLSTATE 3D000）", app.db),
                        ),
                    );
                    (
                        Status::Critical,
                        ctx.tr(
                            format!("database {:?} does not exist", app.db),
                            format!("データベース {:?} が存在しない", app.db),
                        ),
                    )
                }
                PgErrorKind::TooManyClients => {
                    out.cause(Cause::ContainerStopped, RuledOut, server_answered.clone());
                    out.cause(
                        Cause::WrongPassword,
                        Unchecked,
                        ctx.tr("the server refused before checking the password", "パスワード確認の前に拒否された"),
                    );
                    out.cause(Cause::BadDatabaseUrl, RuledOut, shape_ok.clone());
                    out.cause(Cause::NetworkIsolated, RuledOut, server_answered.clone());
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (
                        Status::Skipped,
                        ctx.tr(
                            "the server answers but refuses new connections: every slot is taken (see PG002)",
                            "サーバーは応答するが新規接続を拒否している: 接続枠がすべて使用中（PG002 を参照）",
                        ),
                    )
                }
                PgErrorKind::NotAcceptingConnections => {
                    out.cause(
                        Cause::ContainerStopped,
                        Suspected,
                        ctx.tr(
                            format!("the server is starting up, shutting down or recovering: {}", e.message),
                            format!("サーバーが起動中・停止中・リカバリ中: {}", e.message),
                        ),
                    );
                    out.cause(Cause::WrongPassword, Unchecked, not_asked.clone());
                    out.cause(Cause::BadDatabaseUrl, RuledOut, shape_ok.clone());
                    out.cause(Cause::NetworkIsolated, RuledOut, server_answered.clone());
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (
                        Status::Critical,
                        ctx.tr(
                            "the server does not accept connections right now (SQLSTATE 57P03)",
                            "サーバーが現在接続を受け付けていない（SQLSTATE 57P03）",
                        ),
                    )
                }
                PgErrorKind::TlsUnsupported => {
                    out.cause(Cause::ContainerStopped, RuledOut, server_answered.clone());
                    out.cause(Cause::WrongPassword, Unchecked, not_asked.clone());
                    out.cause(
                        Cause::BadDatabaseUrl,
                        Confirmed,
                        ctx.tr(
                            "the URL demands TLS (sslmode=require) but the server does not speak it",
                            "URL が TLS（sslmode=require）を要求しているが、サーバーは TLS に対応していない",
                        ),
                    );
                    out.cause(Cause::NetworkIsolated, RuledOut, server_answered.clone());
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (
                        Status::Critical,
                        ctx.tr(
                            "TLS required by the URL, not offered by the server",
                            "URL は TLS を要求しているがサーバーが TLS を提供していない",
                        ),
                    )
                }
                PgErrorKind::Protocol | PgErrorKind::TlsFailed => {
                    out.cause(
                        Cause::ContainerStopped,
                        RuledOut,
                        ctx.tr(format!("something answers at {addr}"), format!("{addr} で何かが応答している")),
                    );
                    out.cause(Cause::WrongPassword, Unchecked, not_asked.clone());
                    out.cause(Cause::BadDatabaseUrl, Suspected, ctx.tr(
                        format!("what answers at {addr} does not speak PostgreSQL's protocol: is it the right port? ({})", e.message),
                        format!("{addr} で応答しているのは PostgreSQL ではない。ポートは正しいか（{}）", e.message),
                    ));
                    out.cause(Cause::NetworkIsolated, Unchecked, docker_note.clone());
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (
                        Status::Critical,
                        ctx.tr(
                            format!("{addr} does not answer like PostgreSQL"),
                            format!("{addr} の応答が PostgreSQL のものではない"),
                        ),
                    )
                }
                PgErrorKind::Reset | PgErrorKind::Other => {
                    out.cause(
                        Cause::ContainerStopped,
                        Suspected,
                        ctx.tr(
                            format!("the connection broke off: {}", e.message),
                            format!("接続が途中で切断された: {}", e.message),
                        ),
                    );
                    out.cause(Cause::WrongPassword, Unchecked, not_asked.clone());
                    out.cause(Cause::BadDatabaseUrl, Unchecked, shape_ok.clone());
                    out.cause(Cause::NetworkIsolated, Unchecked, docker_note.clone());
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (
                        Status::Critical,
                        ctx.tr(
                            format!("connection to {addr} failed: {}", e.message),
                            format!("{addr} への接続に失敗: {}", e.message),
                        ),
                    )
                }
            };
            let summary = match &via {
                Some(v) => format!("{summary} ({v})"),
                None => summary,
            };
            out.status(status, summary)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Thresholds;
    use crate::problems::postgres::fixtures::{failed, healthy};
    use crate::urls::UrlProblem;

    fn ctx() -> Ctx {
        Ctx { lang: Lang::En, thresholds: Thresholds::default() }
    }

    #[test]
    fn healthy_is_ok_with_every_cause_ruled_out() {
        let f = diagnose(&healthy(), &ctx());
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_eq!(f.causes.len(), 5);
        assert!(f.causes.iter().all(|c| c.verdict == RuledOut), "{:?}", f.causes);
    }

    #[test]
    fn wrong_password_is_confirmed() {
        let f = diagnose(
            &failed(PgErrorKind::WrongPassword, Some("28P01"), "FATAL: password authentication failed"),
            &ctx(),
        );
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.verdict_of(Cause::WrongPassword), Some(Confirmed));
        assert_eq!(f.verdict_of(Cause::ContainerStopped), Some(RuledOut));
    }

    #[test]
    fn bad_url_is_confirmed_naming_what_is_wrong() {
        let mut facts = healthy();
        facts.url_problem =
            Some(UrlProblem { en: "port 99999 is out of range (1-65535)".into(), ja: "ポート".into() });
        facts.app = None;
        let f = diagnose(&facts, &ctx());
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.verdict_of(Cause::BadDatabaseUrl), Some(Confirmed));
        assert!(f.summary.en().contains("out of range"));
    }

    #[test]
    fn refused_suspects_a_stopped_container() {
        let f = diagnose(&failed(PgErrorKind::Refused, None, "Connection refused"), &ctx());
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.verdict_of(Cause::ContainerStopped), Some(Suspected));
    }

    #[test]
    fn unresolvable_host_suspects_network_isolation() {
        let f = diagnose(&failed(PgErrorKind::NameNotResolved, None, "failed to lookup address"), &ctx());
        assert_eq!(f.verdict_of(Cause::NetworkIsolated), Some(Suspected));
    }

    #[test]
    fn missing_database_is_confirmed() {
        let f = diagnose(
            &failed(PgErrorKind::DatabaseMissing, Some("3D000"), "database \"authdb\" does not exist"),
            &ctx(),
        );
        assert_eq!(f.verdict_of(Cause::DatabaseMissing), Some(Confirmed));
        let mut facts = healthy();
        facts.databases = Some(vec!["authdb".into(), "postgres".into()]);
        let f = diagnose(&facts, &ctx());
        assert_eq!((f.status, f.verdict_of(Cause::DatabaseMissing)), (Status::Warning, Some(Confirmed)));
        assert!(f.summary.en().contains("apidb, admindb"), "{}", f.summary.en());
    }

    #[test]
    fn too_many_clients_defers_to_pg002() {
        let f =
            diagnose(&failed(PgErrorKind::TooManyClients, Some("53300"), "sorry, too many clients already"), &ctx());
        assert_eq!(f.status, Status::Skipped);
        assert!(f.summary.en().contains("PG002"));
    }

    #[test]
    fn tls_mismatch_points_at_the_url() {
        let f = diagnose(&failed(PgErrorKind::TlsUnsupported, None, "server does not support TLS"), &ctx());
        assert_eq!(f.verdict_of(Cause::BadDatabaseUrl), Some(Confirmed));
        let f = diagnose(
            &failed(
                PgErrorKind::HbaRejected,
                Some("28000"),
                "no pg_hba.conf entry for host \"1.2.3.4\", no encryption",
            ),
            &ctx(),
        );
        assert_eq!(f.verdict_of(Cause::BadDatabaseUrl), Some(Confirmed));
    }

    #[test]
    fn japanese_texts() {
        let f = diagnose(
            &failed(PgErrorKind::WrongPassword, Some("28P01"), "x"),
            &Ctx { lang: Lang::Ja, thresholds: Thresholds::default() },
        );
        assert!(f.summary.en().contains("パスワード認証に失敗"), "{}", f.summary.en());
    }
}
