//! The one list of problems, and the one shape of a problem: its code, the areas whose run
//! judges it, its runbook file, its causes (the typed `Cause` of its file) and its `run`. The
//! run of every check, the catalogue, `doctor list` and the tests all read [`ALL`]; a problem
//! left out of it is in no report, and the catalogue tests say so.

use super::Ctx;
use super::engine::DockerView;
use crate::catalogue::Area;
use crate::facts::Facts;
use crate::report::Finding;

/// A problem of the catalogue, as its file declares it (`pub static PROBLEM: Problem`).
pub struct Problem {
    pub code: &'static str,
    /// The areas whose run judges it (`doctor postgres` runs the postgres area).
    pub areas: &'static [Area],
    /// Its runbook: the path under `runbooks/` and the text compiled in.
    pub runbook: (&'static str, &'static str),
    /// Its cause ids, in the runbook's order (`Cause::IDS` of its file).
    pub causes: &'static [&'static str],
    /// Judges it from the facts: one finding per target (one per API, per frontend), or none
    /// when the facts it needs were not gathered.
    pub run: fn(&Inputs) -> Vec<Finding>,
    /// Its findings are reported grouped by target (a frontend's FE001–FE003 together).
    pub by_target: bool,
}

/// What every problem's `run` reads.
pub struct Inputs<'a> {
    pub facts: &'a Facts,
    pub docker: DockerView<'a>,
    /// The findings of the problems before it in [`ALL`] (an API's timeout reads PG003's).
    pub earlier: &'a [Finding],
    pub ctx: &'a Ctx,
}

impl Inputs<'_> {
    /// A finding with its probe's time.
    pub fn timed(&self, mut f: Finding, ms: u64) -> Finding {
        f.duration_ms = ms;
        f
    }
}

/// A runbook file under `runbooks/`, compiled in.
#[macro_export]
macro_rules! runbook {
    ($path:literal) => {
        ($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/runbooks/", $path)))
    };
}

use super::{api, auth, docker, frontend, network, perf, postgres, redis};

/// Every problem, in report order. Adding a problem is one line here.
pub static ALL: &[&Problem] = &[
    &docker::dk001_engine_unreachable::PROBLEM,
    &docker::dk002_container_not_running::PROBLEM,
    &postgres::pg001_cannot_connect::PROBLEM,
    &postgres::pg002_too_many_clients::PROBLEM,
    &postgres::pg003_slow_queries::PROBLEM,
    &postgres::pg004_connections_drop::PROBLEM,
    &redis::rd001_cannot_connect::PROBLEM,
    &redis::rd002_out_of_memory::PROBLEM,
    &redis::rd003_low_hit_rate::PROBLEM,
    &auth::au001_login_fails::PROBLEM,
    &auth::au002_jwt_verification_fails::PROBLEM,
    &auth::au003_refresh_fails::PROBLEM,
    &api::api001_timeout::PROBLEM,
    &api::api002_profile_lookup_fails::PROBLEM,
    &api::api003_upload_fails::PROBLEM,
    &frontend::fe001_page_does_not_load::PROBLEM,
    &frontend::fe002_no_redirect_after_login::PROBLEM,
    &frontend::fe003_api_unauthorized::PROBLEM,
    &network::net001_services_cannot_reach_each_other::PROBLEM,
    &network::net002_host_cannot_reach_container::PROBLEM,
    &perf::perf001_slow_responses::PROBLEM,
    &perf::perf002_memory_growth::PROBLEM,
];

pub fn get(code: &str) -> Option<&'static Problem> {
    ALL.iter().copied().find(|p| p.code.eq_ignore_ascii_case(code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Facts;
    use crate::problems::fixtures::{ctx, engine, engine_down, running};
    use crate::report::Finding;

    #[test]
    fn every_problem_is_its_runbooks_and_its_causes_are_the_runbooks() {
        let catalogue = crate::catalogue::all().unwrap();
        assert_eq!(ALL.len(), catalogue.len());
        for (p, rb) in ALL.iter().zip(catalogue) {
            assert_eq!(p.code, rb.code, "{}: the registry and its runbook file disagree", p.runbook.0);
            let ids: Vec<&str> = rb.causes.iter().map(|c| c.id.as_str()).collect();
            assert_eq!(p.causes, ids.as_slice(), "{}: the typed causes are not the runbook's", p.code);
            assert!(p.areas.iter().any(|a| a.as_str() == rb.area), "{}: not run in its own area {}", p.code, rb.area);
        }
        let mut codes: Vec<&str> = ALL.iter().map(|p| p.code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len(), "a problem is listed twice");
    }

    /// Diagnosis is pure: nothing in `src/problems/` names a probe (their facts come through
    /// `crate::facts::of`), reads the environment, the clock or a file, or prints.
    #[test]
    fn problems_import_no_probe_and_do_no_io() {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src/problems"));
        let mut stack = vec![dir.to_path_buf()];
        let mut files = 0;
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                files += 1;
                let mut text = std::fs::read_to_string(&p).unwrap();
                if p.ends_with("registry.rs") {
                    // This scan itself names what it looks for.
                    text.truncate(text.find("mod tests").unwrap_or(text.len()));
                }
                for (n, line) in text.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or("");
                    for banned in [
                        "probe::",
                        "std::env::",
                        "std::fs::",
                        "SystemTime::now",
                        "Instant::now",
                        "println!",
                        "eprintln!",
                    ] {
                        assert!(!code.contains(banned), "{}:{}: diagnosis must not use {banned}", p.display(), n + 1);
                    }
                }
            }
        }
        assert!(files > 20);
    }

    /// Fact sets every problem must cope with: nothing gathered, an engine that did not
    /// answer, and the healthy stack of the fixtures.
    fn fact_sets() -> Vec<(&'static str, Facts)> {
        let roles = ["postgres", "redis", "auth-service", "user-api", "admin-api", "user-frontend", "admin-frontend"];
        let web = crate::facts::of::web::WebFacts {
            apis: vec![crate::facts::of::web::ApiFacts { service: "user-api".into(), ..Default::default() }],
            frontends: vec![crate::facts::of::web::FrontendFacts {
                service: "user-frontend".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let healthy = Facts {
            postgres: Some(crate::problems::postgres::fixtures::healthy()),
            redis: Some(crate::problems::redis::fixtures::healthy()),
            docker: Some(engine(roles.iter().map(|r| running(r)).collect())),
            auth: Some(Default::default()),
            web: Some(web.clone()),
            ..Default::default()
        };
        vec![
            ("nothing gathered", Facts { docker_disabled: true, ..Default::default() }),
            (
                "engine down",
                Facts {
                    docker: Some(engine_down()),
                    auth: Some(Default::default()),
                    web: Some(web),
                    ..Default::default()
                },
            ),
            ("healthy", healthy),
        ]
    }

    /// The catalogue-wide rule: whatever the facts, every finding judges every cause of its
    /// runbook exactly once (a cause never judged would be a silent `unchecked`; one judged
    /// twice, two rows that disagree).
    #[test]
    fn every_finding_judges_every_runbook_cause_exactly_once() {
        let ctx = ctx();
        for (name, facts) in fact_sets() {
            let docker = DockerView { facts: facts.docker.as_ref(), disabled: facts.docker_disabled };
            let mut earlier: Vec<Finding> = Vec::new();
            for p in ALL {
                let found = (p.run)(&Inputs { facts: &facts, docker, earlier: &earlier, ctx: &ctx });
                if name == "healthy" {
                    assert!(!found.is_empty(), "{}: no finding on the healthy stack", p.code);
                }
                for f in &found {
                    assert_eq!(f.code, p.code);
                    let mut ids: Vec<&str> = f.causes.iter().map(|c| c.id).collect();
                    ids.sort();
                    let mut want = p.causes.to_vec();
                    want.sort();
                    assert_eq!(ids, want, "{} ({name}): causes judged {:?}", p.code, f.causes);
                }
                earlier.extend(found);
            }
        }
    }
}
