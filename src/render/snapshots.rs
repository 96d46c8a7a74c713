//! Renderer snapshots: one sample report (a full PostgreSQL server, a Redis under noeviction)
//! in every format, so that a change to what people and scripts read shows up in review.

use super::{Style, json, json_schema, junit, markdown, nagios, prometheus, table};
use crate::config::Thresholds;
use crate::lang::Lang;
use crate::probe::postgres::ServerFacts;
use crate::problems::Ctx;
use crate::problems::postgres::fixtures as pg;
use crate::problems::redis::fixtures as rd;
use crate::report::Report;

fn sample(lang: Lang) -> Report {
    let ctx = Ctx { thresholds: Thresholds::default() };
    let mut p = pg::healthy();
    p.server = Some(ServerFacts {
        max_connections: 8,
        superuser_reserved_connections: 3,
        uptime_s: 90_000.0,
        ..Default::default()
    });
    p.sessions = Some((0..5).map(|i| pg::session(100 + i, "app", "idle", 900.0)).collect());
    let mut r = rd::healthy();
    if let Some(i) = r.info.as_mut() {
        i.maxmemory = 2 << 20;
        i.used_memory = (2 << 20) + 100;
        i.maxmemory_policy = "noeviction".into();
        i.oom_errors = 3;
    }
    let facts = crate::facts::Facts { postgres: Some(p), redis: Some(r), ..Default::default() };
    let mut findings =
        crate::run::diagnose(&facts, &[crate::catalogue::Area::Postgres, crate::catalogue::Area::Redis], &ctx);
    for f in &mut findings {
        f.duration_ms = 12;
    }
    let mut r = Report::build("all", findings, lang, "2026-11-28T12:00:00Z".into(), 184);
    crate::root_cause::rank(&mut r);
    crate::timeline::attach(&mut r, &engine_events(), None);
    r
}

/// The engine's events of a Redis recreated with a new configuration at 11:50, and a crash of
/// the user-api at 11:55.
fn engine_events() -> crate::facts::of::docker::DockerFacts {
    use crate::facts::of::docker_events::{EngineEvent, EventLog};
    let at = crate::clock::parse_rfc3339("2026-11-28T11:50:00Z").unwrap();
    let ev = |dt: f64, id: &str, name: &str, action: &str, hash: &str| EngineEvent {
        at: at + dt,
        id: id.into(),
        name: name.into(),
        action: action.into(),
        config_hash: Some(hash.into()),
        exit_code: (action == "die").then_some(if name.contains("user") { 1 } else { 0 }),
        ..Default::default()
    };
    let mut f = crate::problems::fixtures::engine(vec![]);
    f.events = Some(Ok(EventLog {
        since_s: 86_400,
        events: vec![
            ev(0.0, "bbbbbbbbbbbb", "0123456789ab_ai-micro-redis", "create", "h2"),
            ev(0.3, "aaaaaaaaaaaa", "ai-micro-redis", "die", "h1"),
            ev(0.4, "aaaaaaaaaaaa", "ai-micro-redis", "destroy", "h1"),
            ev(0.8, "bbbbbbbbbbbb", "ai-micro-redis", "start", "h2"),
            ev(300.0, "cccccccccccc", "ai-micro-api-user", "die", "u1"),
        ],
        truncated: false,
    }));
    f
}

#[test]
fn table_en() {
    insta::assert_snapshot!(table::report(&sample(Lang::En), Style::plain()));
}

#[test]
fn table_ja() {
    insta::assert_snapshot!(table::report(&sample(Lang::Ja), Style::plain()));
}

#[test]
fn table_quiet() {
    insta::assert_snapshot!(table::report(&sample(Lang::En), Style { quiet: true, ..Style::plain() }));
}

#[test]
fn json_en() {
    insta::assert_snapshot!(serde_json::to_string_pretty(&json::report(&sample(Lang::En))).unwrap());
}

#[test]
fn junit_en() {
    insta::assert_snapshot!(junit::report(&sample(Lang::En)));
}

#[test]
fn markdown_ja() {
    insta::assert_snapshot!(markdown::report(&sample(Lang::Ja)));
}

#[test]
fn json_keeps_the_contract_shape() {
    let v = json::report(&sample(Lang::Ja));
    assert_eq!(v["schema"], "doctor.report/v1");
    assert_eq!(v["exit_code"], 2);
    let c = &v["checks"][1];
    for key in ["code", "area", "target", "title", "status", "summary", "duration_ms", "evidence", "causes"] {
        assert!(c.get(key).is_some(), "check lacks {key}");
    }
    for key in ["id", "verdict", "cause", "remedy", "evidence"] {
        assert!(c["causes"][0].get(key).is_some(), "cause lacks {key}");
    }
    assert_eq!(c["status"], "critical");
    // Five idle sessions on authdb fit auth-service's pool (as the spec sizes it): not a
    // confirmed idle-connections, but a pool of 30 cannot fit in 5 usable slots.
    assert_eq!(c["causes"][2]["verdict"], "suspected");
    assert_eq!(c["causes"][3]["id"], "pool-oversubscribed");
    assert_eq!(c["causes"][3]["verdict"], "suspected");
}

#[test]
fn junit_is_well_formed_enough_for_ci() {
    let x = junit::report(&sample(Lang::En));
    assert_eq!(x.matches("<testcase ").count(), 7);
    assert_eq!(x.matches("<failure ").count(), 2, "PG002 and RD002 are critical");
    assert!(!x.contains("&&") && !x.contains("<service>"), "text is escaped");
}

/// JUnit's failures are the checks that make the exit code non-zero, under either `--fail-on`.
#[test]
fn junit_failures_agree_with_the_exit_code() {
    use crate::report::Status;
    let count = |x: &str| x.matches("<failure ").count();
    let mut r = sample(Lang::En);
    assert!(r.checks.len() >= 3);
    for (i, c) in r.checks.iter_mut().enumerate() {
        c.status = if i == 0 { Status::Warning } else { Status::Ok };
    }
    // The worst check is a warning: exit 1 and one JUnit failure; with --fail-on critical,
    // exit 0 and none.
    r.recompute(Status::Warning);
    assert_eq!((r.exit_code, count(&junit::report(&r))), (1, 1));
    r.recompute(Status::Critical);
    assert_eq!((r.exit_code, count(&junit::report(&r))), (0, 0));
    // A critical check fails both ways.
    r.checks[1].status = Status::Critical;
    r.recompute(Status::Critical);
    assert_eq!((r.exit_code, count(&junit::report(&r))), (2, 1));
    r.recompute(Status::Warning);
    assert_eq!((r.exit_code, count(&junit::report(&r))), (2, 2));
}

#[test]
fn compact_en_80() {
    insta::assert_snapshot!(super::compact::report(&sample(Lang::En), Style { width: 80, ..Style::plain() }));
}

#[test]
fn compact_ja_120() {
    insta::assert_snapshot!(super::compact::report(&sample(Lang::Ja), Style { width: 120, ..Style::plain() }));
}

#[test]
fn nagios_en() {
    insta::assert_snapshot!(nagios::report(&sample(Lang::En)));
}

#[test]
fn prometheus_en() {
    let text = prometheus::report(&sample(Lang::En));
    prometheus::parse::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    insta::assert_snapshot!(text);
}

/// The sample in both languages, and with every optional part present (advice, containers),
/// validates against `docs/report.schema.json`.
#[test]
fn reports_validate_against_the_published_schema() {
    use crate::report::ContainerRow;
    for lang in [Lang::En, Lang::Ja] {
        json_schema::assert_report(&json::report(&sample(lang)));
    }
    let mut r = sample(Lang::En);
    assert!(!r.root_causes.is_empty(), "the sample has root causes to validate");
    r.checks[0].advice.push("Redis persists nothing".into());
    let row = |state: &str, container: Option<&str>| ContainerRow {
        service: "postgres".into(),
        container: container.map(str::to_string),
        state: state.into(),
        health: None,
        restarts: 2,
        exits_24h: Some(1),
        exit_code: Some(137),
        oom_killed: true,
        uptime_s: Some(60),
        cpu_percent: Some(12.5),
        mem_used: Some(1 << 20),
        mem_limit: None,
        ports: vec!["5432/tcp".into()],
    };
    r.containers =
        Some(vec![row("running", Some("postgres")), ContainerRow { exits_24h: None, ..row("missing", None) }]);
    let v = json::report(&r);
    assert!(v["containers"][1]["container"].is_null() && v["checks"][0]["advice"].is_array());
    json_schema::assert_report(&v);
}

/// The validator and the schema can fail: each broken report is refused for its reason.
#[test]
fn the_schema_refuses_reports_that_break_the_contract() {
    let schema = json_schema::report_schema();
    let good = json::report(&sample(Lang::En));
    let broken = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        f(&mut v);
        json_schema::validate(&schema, &v).join("\n")
    };
    type Break<'a> = &'a dyn Fn(&mut serde_json::Value);
    let cases: [(Break, &str); 7] = [
        (&|v| v["checks"][0]["status"] = "fine".into(), "/checks/0/status"),
        (&|v| v["checks"][1]["causes"][0]["verdict"] = "maybe".into(), "/checks/1/causes/0/verdict"),
        (&|v| v["checks"][0].as_object_mut().unwrap().remove("ok_title").map(drop).unwrap(), "\"ok_title\" is missing"),
        (&|v| v["surprise"] = 1.into(), "/surprise"),
        (&|v| v["exit_code"] = 4.into(), "/exit_code"),
        (&|v| v["duration_ms"] = (-1).into(), "/duration_ms"),
        (&|v| v["root_causes"][0]["explains"] = "PG001".into(), "/root_causes/0/explains"),
    ];
    for (f, needle) in cases {
        let e = broken(f);
        assert!(e.contains(needle), "expected an error at {needle}, got {e:?}");
    }
    // A keyword the validator does not implement is an error, not ignored.
    let e = json_schema::validate(&serde_json::json!({"type": "object", "maxProperties": 1}), &good);
    assert!(e.iter().any(|e| e.contains("maxProperties")), "{e:?}");
}

/// The schema's enums are the program's: areas, statuses and verdicts.
#[test]
fn the_schema_enums_are_the_programs() {
    use crate::report::{Status, Verdict};
    let schema = json_schema::report_schema();
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["enum"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(&schema["$defs"]["check"]["properties"]["area"]), crate::catalogue::AREAS);
    let statuses = [Status::Ok, Status::Skipped, Status::Warning, Status::Unknown, Status::Critical];
    assert_eq!(names(&schema["$defs"]["status"]), statuses.map(|s| s.name()));
    let verdicts = [Verdict::Confirmed, Verdict::Suspected, Verdict::RuledOut, Verdict::Unchecked];
    assert_eq!(names(&schema["$defs"]["verdict"]), verdicts.map(|v| v.name()));
}
