use super::*;
use crate::facts::of::docker::{ContainerLookup, LogFacts};
use crate::facts::of::docker_events::EventLog;
use crate::facts::of::seen_containers::Previous;
use crate::triage::LogHit;

fn ev(at: f64, id: &str, name: &str, action: &str) -> EngineEvent {
    EngineEvent {
        at,
        id: id.into(),
        name: name.into(),
        action: action.into(),
        service: Some("user-api".into()),
        project: Some("ai-micro".into()),
        ..Default::default()
    }
}
fn die(at: f64, id: &str, name: &str, code: i64) -> EngineEvent {
    EngineEvent { exit_code: Some(code), ..ev(at, id, name, "die") }
}
fn labelled(mut e: EngineEvent, image_id: &str, hash: &str) -> EngineEvent {
    e.image_id = Some(image_id.into());
    e.config_hash = Some(hash.into());
    e
}

fn facts(events: Vec<EngineEvent>, current: Option<ContainerFacts>) -> DockerFacts {
    let mut f = crate::problems::fixtures::engine(vec![]);
    f.containers = vec![ContainerLookup {
        service: "user-api".into(),
        wanted: "ai-micro-api-user".into(),
        found_by: Some("name".into()),
        container: current,
        error: None,
    }];
    f.events = Some(Ok(EventLog { since_s: 86_400, events, truncated: false }));
    f
}
fn container(id: &str) -> ContainerFacts {
    ContainerFacts { name: "ai-micro-api-user".into(), id: id.into(), running: true, ..Default::default() }
}
fn kinds(t: &Timeline) -> Vec<Kind> {
    t.entries.iter().map(|e| e.kind).collect()
}

#[test]
fn a_stack_just_started_has_no_change_and_no_fault() {
    let n = "ai-micro-api-user";
    let mut healthy = ev(1010.0, "aaaa", n, "health_status");
    healthy.health = Some("healthy".into());
    let mut starting = ev(1001.0, "aaaa", n, "health_status");
    starting.health = Some("starting".into());
    let t = build(
        &facts(
            vec![ev(1000.0, "aaaa", n, "create"), ev(1000.5, "aaaa", n, "start"), starting, healthy],
            Some(container("aaaa")),
        ),
        &[],
        Lang::En,
    );
    assert_eq!(kinds(&t), vec![Kind::Created]);
    assert_eq!(t.notable().count(), 0, "{t:?}");
    assert!(short_lines(&t, 3).is_empty());
}

#[test]
fn a_compose_recreation_is_one_entry_with_its_new_image_and_configuration() {
    let n = "ai-micro-api-user";
    let events = vec![
        labelled(ev(100.0, "old0", n, "create"), "sha256:111111111111aaaa", "h1"),
        labelled(ev(100.5, "old0", n, "start"), "sha256:111111111111aaaa", "h1"),
        labelled(ev(5000.0, "new1", &format!("0123456789ab_{n}"), "create"), "sha256:222222222222bbbb", "h2"),
        labelled(ev(5000.2, "old0", n, "kill"), "sha256:111111111111aaaa", "h1"),
        labelled(die(5000.4, "old0", n, 0), "sha256:111111111111aaaa", "h1"),
        labelled(ev(5000.5, "old0", n, "stop"), "sha256:111111111111aaaa", "h1"),
        labelled(ev(5000.6, "old0", n, "destroy"), "sha256:111111111111aaaa", "h1"),
        labelled(ev(5001.0, "new1", n, "start"), "sha256:222222222222bbbb", "h2"),
    ];
    let t = build(&facts(events, Some(container("new1"))), &[], Lang::En);
    assert_eq!(kinds(&t), vec![Kind::Created, Kind::Recreated], "{t:#?}");
    let r = &t.entries[1];
    assert!(r.change && !r.fault);
    assert_eq!(r.service, "user-api");
    assert_eq!(r.container, n, "compose's temporary name is not the container's");
    assert!(r.summary.contains("with a new image (111111111111 → 222222222222)"), "{}", r.summary);
    assert!(r.summary.contains("a new configuration"), "{}", r.summary);
    let lines = short_lines(&t, 3);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with("01:23 user-api recreated"), "{lines:?}");
}

#[test]
fn a_recreation_with_nothing_new_says_so() {
    let n = "ai-micro-api-user";
    let events = vec![
        labelled(ev(5000.0, "new1", n, "create"), "sha256:1", "h1"),
        labelled(die(5000.4, "old0", n, 0), "sha256:1", "h1"),
        labelled(ev(5000.6, "old0", n, "destroy"), "sha256:1", "h1"),
        labelled(ev(5001.0, "new1", n, "start"), "sha256:1", "h1"),
    ];
    let t = build(&facts(events, Some(container("new1"))), &[], Lang::En);
    assert_eq!(kinds(&t), vec![Kind::Recreated]);
    assert!(t.entries[0].summary.contains("same image and configuration"), "{}", t.entries[0].summary);
}

#[test]
fn renamed_variables_are_named_from_doctors_record_never_their_values() {
    let n = "ai-micro-api-user";
    let mut c = container("new1");
    c.previous = Some(Previous {
        id: "old0".into(),
        seen_at: 10.0,
        config_changed: true,
        vars_added: vec!["JWT_SECRET".into()],
        vars_removed: vec!["JWT_SECRET_KEY".into()],
        ..Default::default()
    });
    let events = vec![
        ev(5000.0, "new1", n, "create"),
        die(5000.4, "old0", n, 0),
        ev(5000.6, "old0", n, "destroy"),
        ev(5001.0, "new1", n, "start"),
    ];
    let t = build(&facts(events, Some(c)), &[], Lang::Ja);
    assert_eq!(kinds(&t), vec![Kind::Recreated]);
    assert!(
        t.entries[0].summary.contains("設定変更（変数 JWT_SECRET_KEY → JWT_SECRET）で再作成"),
        "{}",
        t.entries[0].summary
    );
}

#[test]
fn restart_stop_removal_and_kill_by_hand_are_changes() {
    let n = "ai-micro-api-user";
    let mut kill = ev(100.0, "aaaa", n, "kill");
    kill.signal = Some("15".into());
    let restart = vec![
        kill.clone(),
        die(100.2, "aaaa", n, 0),
        ev(100.3, "aaaa", n, "stop"),
        ev(100.5, "aaaa", n, "start"),
        ev(100.6, "aaaa", n, "restart"),
    ];
    let t = build(&facts(restart, Some(container("aaaa"))), &[], Lang::En);
    assert_eq!(kinds(&t), vec![Kind::Restarted]);
    assert!(t.entries[0].change && t.entries[0].summary.contains("restarted by hand"), "{:?}", t.entries[0]);

    let down =
        vec![kill.clone(), die(100.2, "aaaa", n, 0), ev(100.3, "aaaa", n, "stop"), ev(100.4, "aaaa", n, "destroy")];
    let t = build(&facts(down, None), &[], Lang::En);
    assert_eq!(kinds(&t), vec![Kind::Removed]);
    assert!(t.entries[0].summary.contains("exit code 0"));

    let stop = vec![kill.clone(), die(100.2, "aaaa", n, 0), ev(100.3, "aaaa", n, "stop")];
    assert_eq!(kinds(&build(&facts(stop, Some(container("aaaa"))), &[], Lang::En)), vec![Kind::Stopped]);

    let mut k9 = kill;
    k9.signal = Some("9".into());
    let t = build(&facts(vec![k9, die(100.2, "aaaa", n, 137)], Some(container("aaaa"))), &[], Lang::En);
    assert_eq!(kinds(&t), vec![Kind::Killed]);
    assert!(t.entries[0].summary.contains("signal 9"), "{}", t.entries[0].summary);
}

#[test]
fn crashes_oom_kills_and_health_are_faults() {
    let n = "ai-micro-api-user";
    let mut unhealthy = ev(300.0, "aaaa", n, "health_status");
    unhealthy.health = Some("unhealthy".into());
    let events = vec![
        die(100.0, "aaaa", n, 1),
        ev(100.5, "aaaa", n, "start"),
        ev(200.0, "aaaa", n, "oom"),
        ev(200.1, "aaaa", n, "oom"),
        die(200.2, "aaaa", n, 137),
        unhealthy,
    ];
    let t = build(&facts(events, Some(container("aaaa"))), &[], Lang::En);
    assert_eq!(kinds(&t), vec![Kind::Exited, Kind::OomKilled, Kind::Exited, Kind::Unhealthy], "{t:#?}");
    assert!(t.entries.iter().all(|e| e.fault && !e.change));
    assert!(t.entries[0].summary.contains("restarted by its restart policy"));
    assert!(t.entries[1].summary.contains("2 events"));
}

#[test]
fn the_change_before_the_first_error_line_is_what_changed() {
    let n = "ai-micro-api-user";
    let events = vec![
        labelled(ev(5000.0, "new1", n, "create"), "sha256:2", "h2"),
        labelled(ev(5000.6, "old0", n, "destroy"), "sha256:1", "h1"),
        labelled(ev(5001.0, "new1", n, "start"), "sha256:2", "h2"),
    ];
    let mut c = container("new1");
    c.logs = Some(LogFacts {
        since_s: 600,
        lines: 10,
        hits: vec![LogHit {
            code: "API001".into(),
            signature: "x".into(),
            count: 4,
            sample: "ERROR boom".into(),
            first_at: Some(crate::clock::rfc3339(5100)),
            last_at: Some(crate::clock::rfc3339(5200)),
            cause: None,
        }],
        ..Default::default()
    });
    let t = build(&facts(events, Some(c)), &["API001"], Lang::En);
    assert_eq!(kinds(&t), vec![Kind::Recreated, Kind::FirstError, Kind::LatestError], "{t:#?}");
    let (said, change) = what_changed(&t, &["user-api".to_string()], "API001", Lang::En, 5400.0).unwrap();
    assert!(explains(change, "any-cause"), "a new image may explain anything");
    assert!(said.starts_with("what changed: user-api recreated with a new image"), "{said}");
    // Changed at 5000, first error at 5100, run at 5400.
    let (before, ago) = (crate::problems::secs(100.0), crate::problems::secs(400.0));
    assert!(said.contains(&format!("({ago} ago), {before} before the first API001 error line")), "{said}");
    assert_eq!(what_changed(&t, &["postgres".to_string()], "API001", Lang::En, 5400.0), None);
}

#[test]
fn no_events_is_said_not_taken_for_a_quiet_stack() {
    let mut f = facts(vec![], None);
    f.events = Some(Err("connection reset".into()));
    let t = build(&f, &[], Lang::En);
    assert!(t.unavailable.as_deref().unwrap().contains("connection reset"));
    f.events = None;
    assert!(build(&f, &[], Lang::En).unavailable.is_some());
}

#[test]
fn compose_temporary_names_are_plain_names() {
    assert_eq!(plain_name("0123456789ab_ai-micro-api-user"), "ai-micro-api-user");
    assert_eq!(plain_name("my_service"), "my_service");
    assert_eq!(plain_name("0123456789ab_"), "0123456789ab_");
}

#[test]
fn a_restart_by_hand_explains_a_restart_not_a_missing_database() {
    let n = "ai-micro-api-user";
    let events = vec![die(100.2, "aaaa", n, 0), ev(100.5, "aaaa", n, "start"), ev(100.6, "aaaa", n, "restart")];
    let t = build(&facts(events, Some(container("aaaa"))), &[], Lang::En);
    let (_, change) = what_changed(&t, &["user-api".to_string()], "PG004", Lang::En, 200.0).unwrap();
    assert!(explains(change, "server-restarted"));
    assert!(!explains(change, "database-missing"));
}

#[test]
fn a_name_recreated_twice_pairs_each_removal_with_its_creation() {
    let n = "ai-micro-api-admin";
    let events = vec![
        die(100.0, "aaaa", n, 137),
        ev(100.1, "aaaa", n, "destroy"),
        ev(101.0, "bbbb", n, "create"),
        ev(101.2, "bbbb", n, "start"),
        die(130.0, "bbbb", n, 137),
        ev(130.1, "bbbb", n, "destroy"),
        ev(131.0, "cccc", n, "create"),
        ev(131.2, "cccc", n, "start"),
    ];
    let t = build(&facts(events, Some(container("cccc"))), &[], Lang::En);
    assert_eq!(kinds(&t), vec![Kind::Recreated, Kind::Recreated], "{t:#?}");
    // No compose config hash to compare: only the image and the variables are said the same.
    assert!(t.entries[1].summary.contains("same image and variables"), "{}", t.entries[1].summary);
}
