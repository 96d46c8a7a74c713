//! PG001: cannot connect to PostgreSQL. Reads the URL's shape and how the application
//! connection failed (refused, timeout, name, 28P01, 28000, 3D000, TLS...); may confirm
//! `wrong-password`, `bad-database-url`, `database-missing`. `container-stopped` and
//! `network-isolated` can only be suspected from here: the Docker layer confirms them.

use crate::catalogue::Area;
use crate::facts::of::postgres::{PgErrorKind, PgFacts};
use crate::problems::registry::{Inputs, Problem};
use crate::problems::secs;
use crate::report::{Finding, Status, Verdict::*};
use crate::t;
use crate::text::{Sep, Text};

crate::causes! {
    ContainerStopped = "container-stopped",
    WrongPassword = "wrong-password",
    BadDatabaseUrl = "bad-database-url",
    NetworkIsolated = "network-isolated",
    DatabaseMissing = "database-missing",
    DoctorCredentialStale = "doctor-credential-stale",
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
    let mut f = diagnose(pg);
    super::with_engine_pg001(&mut f, pg, &i.docker);
    vec![i.timed(f, i.facts.postgres_ms)]
}

/// Databases the stack's services use; a missing one is reported even when ours connects.
pub const STACK_DATABASES: &[&str] = &["authdb", "apidb", "admindb"];

pub fn diagnose(f: &PgFacts) -> Finding {
    let mut out = Finding::new("PG001", f.target.clone());
    out.fact("url", &f.url);
    out.fact("url_source", &f.url_source);
    let docker_note = t!("PG001/needs-engine");
    if let Some(p) = &f.url_problem {
        let what = &p.text;
        out = out.status(Status::Critical, t!("PG001/url-unusable", source = &f.url_source, what = what.clone()));
        out.cause(Cause::BadDatabaseUrl, Confirmed, what.clone());
        out.causes_all(
            &[
                Cause::ContainerStopped,
                Cause::WrongPassword,
                Cause::NetworkIsolated,
                Cause::DatabaseMissing,
                Cause::DoctorCredentialStale,
            ],
            Unchecked,
            t!("PG001/not-tried-url-unusable"),
        );
        return out;
    }
    let notes: Vec<Text> = f.url_notes.iter().map(|n| n.text.clone()).collect();
    let Some(app) = &f.app else {
        out.cause(Cause::DoctorCredentialStale, Unchecked, t!("PG001/no-attempt"));
        return out.status(Status::Unknown, t!("PG001/no-attempt"));
    };
    out.fact("address", &app.address);
    out.fact("latency_ms", app.latency_ms);
    let via = f.reached_via.as_ref().map(|v| t!("PG001/reached-via", address = v));
    if via.is_some() {
        out.fact("reached_via", f.reached_via.as_deref());
    }
    let shape_ok = t!("PG001/url-shape-ok", url = &f.url);
    match &app.result {
        Ok(c) => {
            let mut summary =
                t!("PG001/connected", user = &app.user, db = &app.db, ms = app.latency_ms, version = &c.server_version);
            out.cause(Cause::ContainerStopped, RuledOut, t!("PG001/server-answered-ok"));
            out.cause(Cause::WrongPassword, RuledOut, t!("PG001/credentials-accepted"));
            out.cause(Cause::DoctorCredentialStale, RuledOut, t!("PG001/credentials-accepted"));
            let mut url_evidence = shape_ok;
            if !notes.is_empty() {
                url_evidence = Text::join(std::iter::once(url_evidence).chain(notes.iter().cloned()), Sep::Clauses);
            }
            out.cause(Cause::BadDatabaseUrl, RuledOut, url_evidence);
            match &via {
                Some(v) => out.cause(Cause::NetworkIsolated, Unchecked, v.clone()),
                None => {
                    out.cause(Cause::NetworkIsolated, RuledOut, t!("PG001/reached-from-host", address = &app.address))
                }
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
                        Some(_) => t!("PG001/stack-databases-exist", databases = STACK_DATABASES.join(", ")),
                        None => t!("PG001/database-exists", db = &app.db),
                    },
                );
                out = out.status(Status::Ok, summary);
            } else {
                out.fact("missing_databases", &missing);
                let list = missing.join(", ");
                out.cause(Cause::DatabaseMissing, Confirmed, t!("PG001/stack-databases-missing", databases = &list));
                summary = t!("PG001/but-missing", summary = summary, databases = &list);
                out = out.status(Status::Warning, summary);
            }
            out
        }
        Err(e) => {
            out.fact("error", &e.kind);
            out.fact("sqlstate", &e.sqlstate);
            out.fact("message", &e.message);
            let addr = &app.address;
            let server_answered = t!("PG001/server-answered");
            let not_asked = t!("PG001/password-not-asked");
            let db_unknown = t!("PG001/database-unknown");
            let url_port_note = |port_suspect: bool| {
                if port_suspect {
                    (Suspected, t!("PG001/nothing-answers", address = addr))
                } else {
                    (RuledOut, shape_ok.clone())
                }
            };
            let (status, summary) = match e.kind {
                PgErrorKind::Refused => {
                    out.cause(Cause::ContainerStopped, Suspected, t!("PG001/refused-no-listener", address = addr));
                    out.cause(Cause::WrongPassword, Unchecked, not_asked.clone());
                    let (v, ev) = url_port_note(!addr.ends_with(":5432"));
                    out.cause(Cause::BadDatabaseUrl, v, ev);
                    out.cause(Cause::NetworkIsolated, Unchecked, docker_note.clone());
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (Status::Critical, t!("PG001/refused", address = addr))
                }
                PgErrorKind::Timeout => {
                    out.cause(Cause::ContainerStopped, Suspected, t!("PG001/no-answer-at-all"));
                    out.cause(Cause::WrongPassword, Unchecked, not_asked.clone());
                    out.cause(Cause::BadDatabaseUrl, Unchecked, shape_ok.clone());
                    out.cause(
                        Cause::NetworkIsolated,
                        Suspected,
                        t!("PG001/no-answer-within", address = addr, timeout = secs(app.latency_ms as f64 / 1000.0)),
                    );
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (Status::Critical, t!("PG001/timeout", address = addr))
                }
                PgErrorKind::NameNotResolved => {
                    let host = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h);
                    let host = format!("{host:?}");
                    out.cause(Cause::ContainerStopped, Unchecked, docker_note.clone());
                    out.cause(Cause::WrongPassword, Unchecked, not_asked.clone());
                    out.cause(Cause::BadDatabaseUrl, Suspected, t!("PG001/host-misspelled", host = &host));
                    out.cause(Cause::NetworkIsolated, Suspected, t!("PG001/host-unknown-here", host = &host));
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (Status::Critical, t!("PG001/host-unresolvable", host = &host))
                }
                PgErrorKind::WrongPassword => {
                    let user = format!("{:?}", app.user);
                    out.cause(Cause::ContainerStopped, RuledOut, server_answered.clone());
                    out.cause(Cause::WrongPassword, Confirmed, t!("PG001/password-rejected", user = &user));
                    out.cause(Cause::BadDatabaseUrl, RuledOut, shape_ok.clone());
                    out.cause(Cause::NetworkIsolated, RuledOut, server_answered.clone());
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (Status::Critical, t!("PG001/password-failed", user = &user))
                }
                PgErrorKind::PasswordMissing => {
                    out.cause(Cause::ContainerStopped, RuledOut, server_answered.clone());
                    out.cause(Cause::WrongPassword, Confirmed, t!("PG001/password-asked-none-sent"));
                    out.cause(Cause::BadDatabaseUrl, Suspected, t!("PG001/url-lacks-password"));
                    out.cause(Cause::NetworkIsolated, RuledOut, server_answered.clone());
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (Status::Critical, t!("PG001/password-required"))
                }
                PgErrorKind::HbaRejected => {
                    let tls_needed = e.message.contains("no encryption");
                    out.cause(Cause::ContainerStopped, RuledOut, server_answered.clone());
                    out.cause(Cause::WrongPassword, Unchecked, not_asked.clone());
                    if tls_needed {
                        out.cause(Cause::BadDatabaseUrl, Confirmed, t!("PG001/tls-only"));
                    } else {
                        out.cause(
                            Cause::BadDatabaseUrl,
                            Suspected,
                            t!("PG001/no-hba-rule", user = format!("{:?}", app.user), db = format!("{:?}", app.db)),
                        );
                    }
                    out.cause(Cause::NetworkIsolated, Suspected, t!("PG001/address-refused", message = &e.message));
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (Status::Critical, t!("PG001/hba-rejects"))
                }
                PgErrorKind::DatabaseMissing => {
                    let db = format!("{:?}", app.db);
                    out.cause(Cause::ContainerStopped, RuledOut, server_answered.clone());
                    out.cause(Cause::WrongPassword, RuledOut, t!("PG001/past-authentication"));
                    out.cause(Cause::BadDatabaseUrl, Suspected, t!("PG001/database-name-right", db = &db));
                    out.cause(Cause::NetworkIsolated, RuledOut, server_answered.clone());
                    out.cause(Cause::DatabaseMissing, Confirmed, t!("PG001/database-missing-3d000", db = &db));
                    (Status::Critical, t!("PG001/database-missing", db = &db))
                }
                PgErrorKind::TooManyClients => {
                    out.cause(Cause::ContainerStopped, RuledOut, server_answered.clone());
                    out.cause(Cause::WrongPassword, Unchecked, t!("PG001/refused-before-password"));
                    out.cause(Cause::BadDatabaseUrl, RuledOut, shape_ok.clone());
                    out.cause(Cause::NetworkIsolated, RuledOut, server_answered.clone());
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (Status::Skipped, t!("PG001/slots-taken"))
                }
                PgErrorKind::NotAcceptingConnections => {
                    out.cause(
                        Cause::ContainerStopped,
                        Suspected,
                        t!("PG001/starting-or-stopping", message = &e.message),
                    );
                    out.cause(Cause::WrongPassword, Unchecked, not_asked.clone());
                    out.cause(Cause::BadDatabaseUrl, RuledOut, shape_ok.clone());
                    out.cause(Cause::NetworkIsolated, RuledOut, server_answered.clone());
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (Status::Critical, t!("PG001/not-accepting"))
                }
                PgErrorKind::TlsUnsupported => {
                    out.cause(Cause::ContainerStopped, RuledOut, server_answered.clone());
                    out.cause(Cause::WrongPassword, Unchecked, not_asked.clone());
                    out.cause(Cause::BadDatabaseUrl, Confirmed, t!("PG001/tls-demanded"));
                    out.cause(Cause::NetworkIsolated, RuledOut, server_answered.clone());
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (Status::Critical, t!("PG001/tls-not-offered"))
                }
                PgErrorKind::Protocol | PgErrorKind::TlsFailed => {
                    out.cause(Cause::ContainerStopped, RuledOut, t!("PG001/something-answers", address = addr));
                    out.cause(Cause::WrongPassword, Unchecked, not_asked.clone());
                    out.cause(
                        Cause::BadDatabaseUrl,
                        Suspected,
                        t!("PG001/not-postgres-port", address = addr, message = &e.message),
                    );
                    out.cause(Cause::NetworkIsolated, Unchecked, docker_note.clone());
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (Status::Critical, t!("PG001/not-postgres", address = addr))
                }
                PgErrorKind::Reset | PgErrorKind::Other => {
                    out.cause(Cause::ContainerStopped, Suspected, t!("PG001/broke-off", message = &e.message));
                    out.cause(Cause::WrongPassword, Unchecked, not_asked.clone());
                    out.cause(Cause::BadDatabaseUrl, Unchecked, shape_ok.clone());
                    out.cause(Cause::NetworkIsolated, Unchecked, docker_note.clone());
                    out.cause(Cause::DatabaseMissing, Unchecked, db_unknown.clone());
                    (Status::Critical, t!("PG001/connection-failed", address = addr, message = &e.message))
                }
            };
            let (status, summary) = own_credential(&mut out, f, status, summary);
            // "<summary> (<how the host was reached>)": the same brackets in both languages.
            let summary = match via {
                Some(v) => Text::join([summary, " (".into(), v, ")".into()], Sep::Concat),
                None => summary,
            };
            out.status(status, summary)
        }
    }
}

/// `doctor-credential-stale`: whether the password refused was only doctor's. After a refusal
/// the probe logs in once with the services' own credential (`stack_login`): accepted, the
/// stack is fine and the credential doctor read is stale (its own finding, a warning, and
/// `wrong-password` is ruled out); refused too, the stack's password is wrong. Before the
/// password was checked, or with no credential of the services, nothing is known yet (the
/// engine's fingerprints may still tell, see `with_engine_pg001`).
fn own_credential(out: &mut Finding, f: &PgFacts, status: Status, summary: Text) -> (Status, Text) {
    let refused =
        matches!(f.app_error().map(|e| &e.kind), Some(PgErrorKind::WrongPassword | PgErrorKind::PasswordMissing));
    if !refused {
        out.cause(Cause::DoctorCredentialStale, Unchecked, t!("PG001/password-not-asked"));
        return (status, summary);
    }
    let ours = f.password_fingerprint.as_deref().unwrap_or("-");
    let Some(login) = &f.stack_login else {
        out.cause(Cause::DoctorCredentialStale, Unchecked, t!("PG001/no-stack-credential"));
        return (status, summary);
    };
    out.fact("stack_login_source", &login.source);
    let theirs = &login.password_fingerprint;
    match &login.conn.result {
        Ok(_) => {
            let evidence = t!(
                "PG001/own-credential-stale",
                source = &f.url_source,
                fingerprint = ours,
                stack_source = &login.source,
                stack_fingerprint = theirs,
                user = &login.conn.user
            );
            out.cause(Cause::DoctorCredentialStale, Confirmed, evidence);
            out.forget(Cause::WrongPassword);
            out.cause(
                Cause::WrongPassword,
                RuledOut,
                t!("PG001/stack-credential-accepted", stack_source = &login.source),
            );
            (Status::Warning, t!("PG001/only-doctor-refused", source = &f.url_source))
        }
        Err(e) if matches!(e.kind, PgErrorKind::WrongPassword | PgErrorKind::PasswordMissing) => {
            out.cause(
                Cause::DoctorCredentialStale,
                RuledOut,
                t!("PG001/stack-credential-refused-too", stack_source = &login.source, user = &login.conn.user),
            );
            (status, summary)
        }
        Err(e) => {
            out.cause(
                Cause::DoctorCredentialStale,
                Suspected,
                t!(
                    "PG001/stack-login-failed",
                    fingerprint = ours,
                    stack_source = &login.source,
                    stack_fingerprint = theirs,
                    message = &e.message
                ),
            );
            (status, summary)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::Lang;
    use crate::problems::postgres::fixtures::{failed, healthy};
    use crate::urls::UrlProblem;

    #[test]
    fn healthy_is_ok_with_every_cause_ruled_out() {
        let f = diagnose(&healthy());
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_eq!(f.causes.len(), 6);
        assert!(f.causes.iter().all(|c| c.verdict == RuledOut), "{:?}", f.causes);
    }

    #[test]
    fn wrong_password_is_confirmed() {
        let f = diagnose(&failed(PgErrorKind::WrongPassword, Some("28P01"), "FATAL: password authentication failed"));
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.verdict_of(Cause::WrongPassword), Some(Confirmed));
        assert_eq!(f.verdict_of(Cause::ContainerStopped), Some(RuledOut));
    }

    #[test]
    fn bad_url_is_confirmed_naming_what_is_wrong() {
        let mut facts = healthy();
        facts.url_problem = Some(UrlProblem { text: "port 99999 is out of range (1-65535)".into() });
        facts.app = None;
        let f = diagnose(&facts);
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.verdict_of(Cause::BadDatabaseUrl), Some(Confirmed));
        assert!(f.summary.en().contains("out of range"));
    }

    #[test]
    fn refused_suspects_a_stopped_container() {
        let f = diagnose(&failed(PgErrorKind::Refused, None, "Connection refused"));
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.verdict_of(Cause::ContainerStopped), Some(Suspected));
    }

    #[test]
    fn unresolvable_host_suspects_network_isolation() {
        let f = diagnose(&failed(PgErrorKind::NameNotResolved, None, "failed to lookup address"));
        assert_eq!(f.verdict_of(Cause::NetworkIsolated), Some(Suspected));
    }

    #[test]
    fn missing_database_is_confirmed() {
        let f = diagnose(&failed(PgErrorKind::DatabaseMissing, Some("3D000"), "database \"authdb\" does not exist"));
        assert_eq!(f.verdict_of(Cause::DatabaseMissing), Some(Confirmed));
        let mut facts = healthy();
        facts.databases = Some(vec!["authdb".into(), "postgres".into()]);
        let f = diagnose(&facts);
        assert_eq!((f.status, f.verdict_of(Cause::DatabaseMissing)), (Status::Warning, Some(Confirmed)));
        assert!(f.summary.en().contains("apidb, admindb"), "{}", f.summary.en());
    }

    #[test]
    fn too_many_clients_defers_to_pg002() {
        let f = diagnose(&failed(PgErrorKind::TooManyClients, Some("53300"), "sorry, too many clients already"));
        assert_eq!(f.status, Status::Skipped);
        assert!(f.summary.en().contains("PG002"));
    }

    #[test]
    fn tls_mismatch_points_at_the_url() {
        let f = diagnose(&failed(PgErrorKind::TlsUnsupported, None, "server does not support TLS"));
        assert_eq!(f.verdict_of(Cause::BadDatabaseUrl), Some(Confirmed));
        let f = diagnose(&failed(
            PgErrorKind::HbaRejected,
            Some("28000"),
            "no pg_hba.conf entry for host \"1.2.3.4\", no encryption",
        ));
        assert_eq!(f.verdict_of(Cause::BadDatabaseUrl), Some(Confirmed));
    }

    #[test]
    fn japanese_texts() {
        let f = diagnose(&failed(PgErrorKind::WrongPassword, Some("28P01"), "x"));
        let ja = f.summary.render(Lang::Ja);
        assert!(ja.contains("パスワード認証に失敗"), "{ja}");
    }
}
