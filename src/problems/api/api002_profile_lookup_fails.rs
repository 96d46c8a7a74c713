//! API002: a profile lookup fails. With `--user-id` the runbook's two reads are made: the row in
//! apidb's `profiles` and the cache entry in Redis (`cache:profile:<id>`, the spec's key, else
//! the runbook's `profile:<id>`), compared field by field through per-run fingerprints (no value
//! is printed). user-api's `GET /profile` creates an empty profile when there is none (spec
//! `02-user-api/02`), so a missing row alone fails nothing: it confirms `profile-missing` only
//! with user-api's own "Profile not found" (a `PUT /profile`, or a route that does not create),
//! is suspected when user-api's database fails (the creation cannot happen), and is ruled out
//! when user-api answers healthy. A cached copy that differs from the row, or outlives it,
//! confirms `stale-cache`; apidb that cannot be read (down, or no `profiles` table)
//! `database-error`. Without a user id only user-api's logs speak.

use crate::catalogue::Area;
use crate::facts::of::pg_app::{PgAppFacts, ProfileRow};
use crate::facts::of::redis::RedisFacts;
use crate::facts::of::redis_app::CachedProfile;
use crate::facts::of::web::ApiFacts;
use crate::problems::engine::DockerView;
use crate::problems::health::{self, Reading};
use crate::problems::registry::{Inputs, Problem};
use crate::problems::{logs, secs};
use crate::report::{Finding, Status, Verdict::*};
use crate::text::{Sep, Text};

crate::causes! {
    ProfileMissing = "profile-missing",
    StaleCache = "stale-cache",
    DatabaseError = "database-error",
}

pub static PROBLEM: Problem = Problem {
    code: "API002",
    areas: &[Area::Api],
    runbook: crate::runbook!("api/API002-profile-lookup-fails.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    let f = i.facts;
    let app = f.postgres.as_ref().and_then(|p| p.app_data.as_ref());
    let user_api = f.web.as_ref().and_then(|w| w.apis.iter().find(|a| a.service == "user-api"));
    let mut out = diagnose(f.user_id.as_deref(), app, f.redis.as_ref(), &UserApi::of(user_api), &i.docker);
    with_health(&mut out, user_api);
    vec![i.timed(out, f.postgres_ms.max(f.redis_ms))]
}

/// What user-api's health answer says about whether its next `GET /profile` can create a
/// missing profile.
#[derive(Debug, Clone, PartialEq)]
pub enum UserApi {
    /// Its health was not asked (or the answer is no health answer).
    NotRead(Text),
    /// It answers healthy: the next read creates the profile.
    Healthy(Text),
    /// It says its database is failing: the creation cannot happen.
    DatabaseFailing(Text),
    /// It does not answer, or answers in error.
    Down(Text),
}

impl UserApi {
    pub fn of(a: Option<&ApiFacts>) -> UserApi {
        let Some(a) = a else { return UserApi::NotRead(crate::t!("API002/user-api-not-asked")) };
        let (h, hc) = (&a.health, &a.health_check);
        if let Some((true, evidence)) = health::component(h, hc, "database") {
            return UserApi::DatabaseFailing(evidence);
        }
        let path = health::path(h, hc);
        match health::read(Some(h), hc) {
            Reading::Healthy(code) => UserApi::Healthy(crate::t!("API002/user-api-healthy", path = path, code = code)),
            Reading::NotProbed => UserApi::NotRead(crate::t!("API002/user-api-not-asked")),
            Reading::NoEndpoint => UserApi::NotRead(health::no_endpoint(h, hc)),
            Reading::Failed(e) => UserApi::Down(crate::t!("API002/user-api-no-answer", kind = e.kind.text())),
            Reading::Status(code) | Reading::Unhealthy(code) => {
                UserApi::Down(crate::t!("API002/user-api-answers", path = path, code = code))
            }
        }
    }
}

pub fn diagnose(
    user_id: Option<&str>,
    pg: Option<&PgAppFacts>,
    redis: Option<&RedisFacts>,
    user_api: &UserApi,
    docker: &DockerView,
) -> Finding {
    let mut out = Finding::new("API002", "user-api");
    let mut status = Status::Ok;
    let mut notes: Vec<Text> = Vec::new();
    let logged = logs::service_hits(docker, "user-api", &["API002"]);
    let db_logs = logs::hits_like(&logged, &["database", "does not exist"]);
    let missing_logs = logs::hits_like(&logged, &["not found", "404"]);

    let Some(id) = user_id else {
        let why = crate::t!("API002/give-user-id");
        if missing_logs.is_empty() {
            out.cause(Cause::ProfileMissing, Unchecked, why.clone());
        } else {
            out.cause(Cause::ProfileMissing, Suspected, Text::join(missing_logs.clone(), Sep::Clauses));
            status = Status::Warning;
        }
        out.cause(Cause::StaleCache, Unchecked, why.clone());
        match (&logged, db_logs.is_empty()) {
            (Some(_), false) => {
                out.cause(Cause::DatabaseError, Confirmed, Text::join(db_logs.clone(), Sep::Clauses));
                status = Status::Critical;
                notes.push(crate::t!("API002/logged-database-errors"));
            }
            (Some(_), true) => out.cause(Cause::DatabaseError, RuledOut, crate::t!("API002/no-database-error-logged")),
            (None, _) => out.cause(Cause::DatabaseError, Unchecked, why),
        }
        // Nothing read at all (no user id, no logs): nothing to say ok about.
        if logged.is_none() && status == Status::Ok {
            return out.status(Status::Skipped, crate::t!("API002/nothing-read"));
        }
        let summary = if notes.is_empty() { crate::t!("API002/logs-only") } else { Text::join(notes, Sep::Clauses) };
        return out.status(status, summary);
    };
    out.fact("user_id", id);

    // The row.
    let row: Result<Option<&ProfileRow>, Text> = match pg.and_then(|p| p.profile.as_ref()) {
        Some(Ok(r)) => Ok(r.as_ref()),
        Some(Err(e)) => Err(e.into()),
        None => Err(crate::t!("API002/apidb-not-read")),
    };
    match (&row, user_api) {
        // GET /profile would have created it: the 404 came from PUT /profile, or from a route
        // that does not create.
        (Ok(None), _) if !missing_logs.is_empty() => {
            let msg = crate::t!("API002/no-row-not-found-logged", id = id);
            let mut evidence = vec![msg.clone()];
            evidence.extend(missing_logs.iter().cloned());
            out.cause(Cause::ProfileMissing, Confirmed, Text::join(evidence, Sep::Clauses));
            status = Status::Critical;
            notes.push(msg);
        }
        (Ok(None), UserApi::DatabaseFailing(why)) => {
            let msg = crate::t!("API002/no-row-creation-blocked", id = id, why = why.clone());
            out.cause(Cause::ProfileMissing, Suspected, msg.clone());
            status = status.max(Status::Warning);
            notes.push(msg);
        }
        (Ok(None), _) if !db_logs.is_empty() => {
            let why = Text::join(db_logs.clone(), Sep::Clauses);
            let msg = crate::t!("API002/no-row-creation-blocked", id = id, why = why);
            out.cause(Cause::ProfileMissing, Suspected, msg.clone());
            status = status.max(Status::Warning);
            notes.push(msg);
        }
        (Ok(None), UserApi::Healthy(how)) => {
            out.cause(Cause::ProfileMissing, RuledOut, crate::t!("API002/no-row-yet", id = id, how = how.clone()))
        }
        (Ok(None), UserApi::Down(why) | UserApi::NotRead(why)) => out.cause(
            Cause::ProfileMissing,
            Unchecked,
            crate::t!("API002/no-row-user-api-unknown", id = id, why = why.clone()),
        ),
        (Ok(Some(r)), _) => {
            out.cause(Cause::ProfileMissing, RuledOut, crate::t!("API002/has-row", columns = r.fields.len()))
        }
        (Err(why), _) => out.cause(Cause::ProfileMissing, Unchecked, why.clone()),
    }
    match (&row, db_logs.is_empty()) {
        (Err(why), _) if pg.and_then(|p| p.profile.as_ref()).is_some() => {
            let msg = crate::t!("API002/apidb-unreadable", why = why.clone());
            let mut evidence = vec![msg.clone()];
            evidence.extend(db_logs.iter().map(Text::from));
            out.cause(Cause::DatabaseError, Confirmed, Text::join(evidence, Sep::Clauses));
            status = Status::Critical;
            notes.push(msg);
        }
        (_, false) => {
            out.cause(Cause::DatabaseError, Confirmed, Text::join(db_logs.clone(), Sep::Clauses));
            status = Status::Critical;
            notes.push(crate::t!("API002/logged-database-errors"));
        }
        (Ok(_), true) => out.cause(Cause::DatabaseError, RuledOut, crate::t!("API002/apidb-answered")),
        (Err(why), true) => out.cause(Cause::DatabaseError, Unchecked, why.clone()),
    }

    // The cache.
    let redis_down = redis.is_none_or(|r| !r.connected());
    let cached: Result<Option<&CachedProfile>, Text> =
        match redis.and_then(|r| r.app.as_ref()).and_then(|a| a.profile.as_ref()) {
            Some(Ok(c)) => Ok(c.as_ref()),
            Some(Err(e)) => Err(e.into()),
            None if redis_down => Err(crate::t!("API002/redis-unreachable")),
            None => Err(crate::t!("API002/redis-not-read")),
        };
    let ttl = |c: &CachedProfile| match c.ttl_s {
        Some(t) => crate::t!("API002/expires-in", time = secs(t as f64)),
        None => crate::t!("API002/no-ttl"),
    };
    match (&cached, &row) {
        (Ok(None), _) => out.cause(Cause::StaleCache, RuledOut, crate::t!("API002/not-cached", id = id)),
        (Ok(Some(c)), Ok(None)) => {
            let msg = crate::t!("API002/outlived", key = &c.key, ttl = ttl(c));
            out.cause(Cause::StaleCache, Confirmed, msg.clone());
            status = status.max(Status::Warning);
            notes.push(msg);
        }
        (Ok(Some(c)), Ok(Some(r))) => {
            let common: Vec<&String> = c.fields.keys().filter(|k| r.fields.contains_key(*k)).collect();
            let differ: Vec<&str> =
                common.iter().filter(|k| c.fields[**k] != r.fields[**k]).map(|k| k.as_str()).collect();
            if common.is_empty() {
                out.cause(
                    Cause::StaleCache,
                    Unchecked,
                    crate::t!("API002/no-common-field", key = &c.key, kind = &c.kind),
                );
            } else if !differ.is_empty() {
                let msg = crate::t!(
                    "API002/cache-differs",
                    key = &c.key,
                    fields = Text::join(differ.iter().map(|f| Text::from(*f)), Sep::List),
                    ttl = ttl(c),
                );
                out.cause(Cause::StaleCache, Confirmed, msg.clone());
                status = status.max(Status::Warning);
                notes.push(msg);
            } else {
                out.cause(
                    Cause::StaleCache,
                    RuledOut,
                    crate::t!("API002/cache-matches", key = &c.key, count = common.len(), ttl = ttl(c)),
                );
            }
        }
        (Ok(Some(c)), Err(_)) => out.cause(
            Cause::StaleCache,
            Unchecked,
            crate::t!("API002/cached-row-unreadable", key = &c.key, ttl = ttl(c)),
        ),
        (Err(why), _) => out.cause(Cause::StaleCache, Unchecked, why.clone()),
    }
    if notes.is_empty() && row.is_err() && cached.is_err() {
        let why = row.as_ref().err().cloned().unwrap_or_default();
        return out.status(Status::Unknown, crate::t!("API002/nothing-readable", why = why));
    }
    let summary = if !notes.is_empty() {
        Text::join(notes, Sep::Clauses)
    } else if matches!(row, Ok(None)) {
        crate::t!("API002/no-profile-yet", id = id)
    } else if cached.is_err() {
        crate::t!("API002/cache-not-checked", id = id)
    } else {
        crate::t!("API002/cache-agrees", id = id)
    };
    out.status(status, summary)
}

/// user-api's own health answer, when it says its database is in error
/// (`{"status":"unhealthy","database":"error"}`): `database-error` confirmed, whatever the
/// profile lookup saw (every profile read goes through that database).
pub fn with_health(out: &mut Finding, user_api: Option<&crate::facts::of::web::ApiFacts>) {
    let Some(a) = user_api else { return };
    if let Some((true, evidence)) = crate::problems::health::component(&a.health, &a.health_check, "database") {
        out.raise(Cause::DatabaseError, Confirmed, evidence.clone());
        if out.status < Status::Critical {
            out.status = Status::Critical;
            out.summary = crate::t!("API002/user-api-database-failing", evidence = evidence);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::of::docker::DockerFacts;
    use crate::facts::of::redis::RedisConn;
    use crate::facts::of::redis_app::RedisAppFacts;
    use crate::problems::fixtures::*;
    use std::collections::BTreeMap;

    fn fields(f: &[(&str, &str)]) -> BTreeMap<String, String> {
        f.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The row of user 42 in apidb.profiles, its values as fingerprints.
    fn row() -> Option<ProfileRow> {
        Some(ProfileRow { fields: fields(&[("first_name", "fp-1"), ("last_name", "fp-2")]), updated_age_s: Some(60.0) })
    }

    fn pg(row: Option<ProfileRow>) -> PgAppFacts {
        PgAppFacts { profile: Some(Ok(row)), ..Default::default() }
    }

    fn cached(f: &[(&str, &str)]) -> Option<CachedProfile> {
        Some(CachedProfile {
            key: "cache:profile:42".into(),
            ttl_s: Some(300),
            fields: fields(f),
            kind: "string".into(),
        })
    }

    fn redis(profile: Result<Option<CachedProfile>, String>) -> RedisFacts {
        RedisFacts {
            conn: Some(RedisConn { address: "127.0.0.1:6379".into(), latency_ms: 1, result: Ok(()) }),
            app: Some(RedisAppFacts { profile: Some(profile), ..Default::default() }),
            ..Default::default()
        }
    }

    fn user_api_logs(hits: &[(&str, &str)]) -> DockerFacts {
        engine(vec![with_logs(running("user-api"), hits)])
    }

    fn healthy() -> UserApi {
        UserApi::Healthy("user-api answers /healthz healthy (HTTP 200)".into())
    }

    fn run(user: Option<&str>, pg: Option<&PgAppFacts>, redis: Option<&RedisFacts>, docker: &DockerView) -> Finding {
        diagnose(user, pg, redis, &healthy(), docker)
    }

    #[test]
    fn a_profile_in_apidb_that_its_cache_agrees_with_rules_everything_out() {
        let same = redis(Ok(cached(&[("first_name", "fp-1"), ("last_name", "fp-2"), ("bio", "fp-3")])));
        let f = run(Some("42"), Some(&pg(row())), Some(&same), &DockerView::none());
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_eq!(f.summary.en(), "the profile of 42 is in apidb and its cache agrees");
        assert!(verdicts(&f).iter().all(|(_, v)| *v == RuledOut), "{:?}", f.causes);
        assert_cause(&f, "profile-missing", RuledOut, "apidb.profiles has the row (2 columns)");
        assert_cause(
            &f,
            "stale-cache",
            RuledOut,
            "cache:profile:42 matches the row in its 2 common fields (expires in 5m)",
        );
        assert_cause(&f, "database-error", RuledOut, "apidb answered the profile query");

        let f = run(Some("42"), Some(&pg(row())), Some(&redis(Ok(None))), &DockerView::none());
        assert_eq!(f.status, Status::Ok);
        assert_cause(
            &f,
            "stale-cache",
            RuledOut,
            "no cache:profile:42 (nor profile:42) in Redis: the next read comes from apidb",
        );
    }

    #[test]
    fn each_cause_is_confirmed_from_its_own_evidence() {
        let none = DockerView::none();
        // No row, and user-api said "Profile not found": a PUT /profile, not the GET that creates.
        let not_found = user_api_logs(&[("API002", "Profile not found")]);
        let f = run(Some("42"), Some(&pg(None)), Some(&redis(Ok(None))), &view(&not_found));
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "profile-missing",
            Confirmed,
            "no row in apidb.profiles for user_id 42, and user-api answered",
        );
        assert_cause(&f, "profile-missing", Confirmed, "PUT /profile");
        assert_cause(&f, "stale-cache", RuledOut, "no cache:profile:42");
        // No row, but still cached.
        let mut forever = cached(&[("first_name", "fp-1")]);
        if let Some(c) = forever.as_mut() {
            c.ttl_s = None;
        }
        let f = run(Some("42"), Some(&pg(None)), Some(&redis(Ok(forever))), &none);
        assert_eq!(f.status, Status::Warning);
        assert_cause(
            &f,
            "stale-cache",
            Confirmed,
            "cache:profile:42 is still cached (no TTL: it never expires by itself) although apidb has no row",
        );
        // A cached field that differs from the row.
        let stale = redis(Ok(cached(&[("first_name", "fp-1"), ("last_name", "fp-old")])));
        let f = run(Some("42"), Some(&pg(row())), Some(&stale), &none);
        assert_eq!(f.status, Status::Warning);
        assert_cause(
            &f,
            "stale-cache",
            Confirmed,
            "cache:profile:42 differs from the row in apidb in last_name (expires in 5m; values not shown)",
        );
        assert_cause(&f, "profile-missing", RuledOut, "has the row");
        // apidb cannot be read.
        let broken =
            PgAppFacts { profile: Some(Err("relation \"profiles\" does not exist".into())), ..Default::default() };
        let f = run(Some("42"), Some(&broken), Some(&stale), &none);
        assert_eq!(f.status, Status::Critical);
        assert_cause(&f, "database-error", Confirmed, "apidb cannot be read: relation \"profiles\" does not exist");
        assert_cause(&f, "profile-missing", Unchecked, "relation \"profiles\" does not exist");
        assert_cause(
            &f,
            "stale-cache",
            Unchecked,
            "cache:profile:42 is cached (expires in 5m), but the row could not be read to compare",
        );
        // user-api logged database errors although doctor's own query worked.
        let docker = user_api_logs(&[("API002", "Database connection error")]);
        let f = run(Some("42"), Some(&pg(row())), Some(&redis(Ok(None))), &view(&docker));
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "database-error",
            Confirmed,
            "user-api logged \"Database connection error\" 3 times in the last 10m",
        );
    }

    #[test]
    fn a_missing_row_is_created_by_the_next_read_unless_user_api_cannot() {
        let none = DockerView::none();
        let no_row = pg(None);
        let empty = redis(Ok(None));
        let judge = |api: &UserApi, docker: &DockerView| diagnose(Some("42"), Some(&no_row), Some(&empty), api, docker);

        // user-api healthy: its GET /profile creates the empty profile; nothing fails.
        let f = judge(&healthy(), &none);
        assert_eq!(f.status, Status::Ok, "{}", f.summary.en());
        assert_eq!(f.summary.en(), "no profile of 42 in apidb yet: user-api's next GET /profile creates it");
        assert_cause(
            &f,
            "profile-missing",
            RuledOut,
            "no row in apidb.profiles for user_id 42 yet, which fails nothing",
        );
        assert_cause(&f, "profile-missing", RuledOut, "user-api answers /healthz healthy (HTTP 200)");

        // Its database fails: the creation cannot happen.
        let failing = UserApi::DatabaseFailing("/healthz reports database: error".into());
        let f = judge(&failing, &none);
        assert_eq!(f.status, Status::Warning);
        assert_cause(
            &f,
            "profile-missing",
            Suspected,
            "but cannot while its database fails (/healthz reports database: error)",
        );
        let logged = user_api_logs(&[("API002", "Database connection error")]);
        let f = judge(&healthy(), &view(&logged));
        assert_eq!(f.status, Status::Critical);
        assert_cause(
            &f,
            "profile-missing",
            Suspected,
            "cannot while its database fails (user-api logged \"Database connection error\"",
        );
        assert_cause(&f, "database-error", Confirmed, "Database connection error");

        // user-api down, or not asked: whether the read would create it is not known.
        let down = UserApi::Down("user-api does not answer its health check (connection refused; see API001)".into());
        let f = judge(&down, &none);
        assert_eq!(f.status, Status::Ok);
        assert_cause(
            &f,
            "profile-missing",
            Unchecked,
            "would create one, but user-api does not answer its health check",
        );
        let f = judge(&UserApi::of(None), &none);
        assert_cause(&f, "profile-missing", Unchecked, "would create one, but user-api's health was not read");
    }

    #[test]
    fn user_api_health_is_read_from_its_answer() {
        use crate::facts::of::health::HealthFacts;
        use crate::facts::of::http::{HttpError, HttpErrorKind, HttpFacts};
        let api = |status: Option<u16>, body: &str, error: Option<HttpError>| ApiFacts {
            service: "user-api".into(),
            base_url: "http://localhost:8001".into(),
            health: HttpFacts {
                url: "http://localhost:8001/healthz".into(),
                status,
                body: Some(body.into()),
                error,
                ..Default::default()
            },
            health_check: HealthFacts { path: Some("/healthz".into()), ..Default::default() },
            metrics_http: HttpFacts::default(),
            metrics: None,
        };
        let ok = api(Some(200), r#"{"status":"healthy","database":"ok","redis":"ok"}"#, None);
        let UserApi::Healthy(how) = UserApi::of(Some(&ok)) else { panic!("{:?}", UserApi::of(Some(&ok))) };
        assert_eq!(how.en(), "user-api answers /healthz healthy (HTTP 200)");
        let db = api(Some(503), r#"{"status":"unhealthy","database":"error","redis":"ok"}"#, None);
        assert!(matches!(UserApi::of(Some(&db)), UserApi::DatabaseFailing(_)), "{:?}", UserApi::of(Some(&db)));
        let refused = api(None, "", Some(HttpError { kind: HttpErrorKind::Refused, message: "refused".into() }));
        let UserApi::Down(why) = UserApi::of(Some(&refused)) else { panic!() };
        assert!(why.en().contains("does not answer its health check"), "{}", why.en());
    }

    #[test]
    fn without_a_user_id_only_the_logs_speak() {
        let f = run(None, None, None, &DockerView::none());
        // No user id and no logs either: nothing was read, so it is skipped, never ok.
        assert_eq!(f.status, Status::Skipped);
        assert_eq!(f.summary.en(), "not checked: no user id given (--user-id) and user-api's logs could not be read");
        for id in ["profile-missing", "stale-cache", "database-error"] {
            assert_cause(&f, id, Unchecked, "give --user-id ID");
        }

        let clean = user_api_logs(&[]);
        let f = run(None, None, None, &view(&clean));
        assert_eq!(f.status, Status::Ok);
        assert_cause(&f, "database-error", RuledOut, "user-api logged no database error recently");
        assert_cause(&f, "profile-missing", Unchecked, "give --user-id ID");

        let not_found = user_api_logs(&[("API002", "Profile not found")]);
        let f = run(None, None, None, &view(&not_found));
        assert_eq!(f.status, Status::Warning);
        assert_cause(&f, "profile-missing", Suspected, "user-api logged \"Profile not found\"");
        let not_found = user_api_logs(&[("API002", "\"GET /api/users/profile HTTP/1.1\" 404 Not Found")]);
        let f = run(None, None, None, &view(&not_found));
        assert_cause(&f, "profile-missing", Suspected, "404 Not Found");

        let no_table = user_api_logs(&[("API002", "ERROR:  relation \"profiles\" does not exist")]);
        let f = run(None, None, None, &view(&no_table));
        assert_eq!(f.status, Status::Critical);
        assert_eq!(f.summary.en(), "user-api logged database errors");
        assert_cause(&f, "database-error", Confirmed, "relation \\\"profiles\\\" does not exist");
        assert_cause(&f, "stale-cache", Unchecked, "give --user-id ID");
    }

    #[test]
    fn what_cannot_be_read_stays_unchecked() {
        let none = DockerView::none();
        let f = run(Some("42"), None, None, &none);
        assert_cause(&f, "profile-missing", Unchecked, "apidb was not read");
        assert_cause(&f, "database-error", Unchecked, "apidb was not read");
        assert_cause(&f, "stale-cache", Unchecked, "Redis is unreachable (see RD001)");

        let mut not_read = redis(Ok(None));
        not_read.app = None;
        let f = run(Some("42"), Some(&pg(row())), Some(&not_read), &none);
        assert_cause(&f, "stale-cache", Unchecked, "Redis was not read");
        let f = run(Some("42"), Some(&pg(row())), Some(&redis(Err("WRONGTYPE".into()))), &none);
        assert_cause(&f, "stale-cache", Unchecked, "WRONGTYPE");

        let marker = redis(Ok(Some(CachedProfile {
            key: "profile:42".into(), // the runbook's key, found when the spec's is absent
            ttl_s: Some(60),
            fields: BTreeMap::new(),
            kind: "string".into(),
        })));
        let f = run(Some("42"), Some(&pg(row())), Some(&marker), &none);
        assert_eq!(f.status, Status::Ok);
        assert_cause(
            &f,
            "stale-cache",
            Unchecked,
            "profile:42 is cached as a string with no field in common with the row: cannot compare",
        );
    }
}
