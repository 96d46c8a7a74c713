//! Hand-built facts for the diagnosis tests of the auth, api, frontend and perf problems: an
//! engine that answered, containers carrying only the fields a test sets, HTTP answers, log
//! hits, and assertions on a finding's verdicts. Each test changes the few facts its cause reads.

use crate::config::Thresholds;
use crate::facts::of::docker::{
    ContainerFacts, ContainerLookup, DockerError, DockerErrorKind, DockerFacts, Engine, EnvVar, LogFacts, NetFacts,
    StatsFacts, UrlVar,
};
use crate::facts::of::http::{HttpError, HttpErrorKind, HttpFacts};
use crate::problems::Ctx;
use crate::problems::engine::DockerView;
use crate::report::{Finding, Verdict};
use crate::triage::LogHit;

pub fn ctx() -> Ctx {
    Ctx { thresholds: Thresholds::default() }
}

/// An engine that answered, each container found under its compose service name.
pub fn engine(containers: Vec<ContainerFacts>) -> DockerFacts {
    let found = |c: ContainerFacts| ContainerLookup {
        service: c.compose_service.clone().unwrap_or_else(|| c.name.clone()),
        wanted: c.name.clone(),
        found_by: Some("name".into()),
        container: Some(c),
        error: None,
    };
    DockerFacts {
        host: "unix:///var/run/docker.sock".into(),
        host_from_env: false,
        source: Default::default(),
        context: None,
        engine: Ok(Engine {
            version: "27.0.3".into(),
            api_version: "1.46".into(),
            min_api_version: "1.24".into(),
            os: "linux".into(),
            ..Default::default()
        }),
        containers: containers.into_iter().map(found).collect(),
        timings: vec![],
        events: None,
        disk: None,
        memory_samples: None,
    }
}

/// The engine answered, but has no container for `service` by name or compose label.
pub fn missing(service: &str) -> ContainerLookup {
    ContainerLookup { service: service.into(), wanted: service.into(), found_by: None, container: None, error: None }
}

/// The engine did not answer (DK001).
pub fn engine_down() -> DockerFacts {
    DockerFacts {
        engine: Err(DockerError { kind: DockerErrorKind::NoSocket, message: "no such file or directory".into() }),
        ..engine(vec![])
    }
}

pub fn view(d: &DockerFacts) -> DockerView<'_> {
    DockerView { facts: Some(d), disabled: false }
}

/// A running container named after its compose service.
pub fn running(service: &str) -> ContainerFacts {
    ContainerFacts {
        name: service.into(),
        compose_service: Some(service.into()),
        status: "running".into(),
        running: true,
        started_age_s: Some(3600.0),
        ..Default::default()
    }
}

pub fn exited(service: &str, exit_code: i64) -> ContainerFacts {
    ContainerFacts {
        status: "exited".into(),
        running: false,
        exit_code: Some(exit_code),
        finished_age_s: Some(120.0),
        ..running(service)
    }
}

/// The container's logs of the last 10m were read; `hits` are (problem code, signature).
pub fn with_logs(c: ContainerFacts, hits: &[(&str, &str)]) -> ContainerFacts {
    let hits = hits
        .iter()
        .map(|(code, signature)| LogHit {
            code: code.to_string(),
            signature: signature.to_string(),
            count: 3,
            sample: format!("ERROR {signature}"),
            first_at: None,
            last_at: None,
            cause: None,
        })
        .collect();
    ContainerFacts { logs: Some(LogFacts { since_s: 600, lines: 200, hits, error: None, last_lines: vec![] }), ..c }
}

pub fn env(name: &str, value: &str) -> EnvVar {
    EnvVar { name: name.into(), value: value.into(), fingerprint: None }
}

/// A `*_URL` variable pointing at `host:port` over http.
pub fn url_var(name: &str, host: &str, port: u16) -> UrlVar {
    UrlVar { name: name.into(), scheme: "http".into(), host: host.into(), port, user: None, password_fingerprint: None }
}

pub fn net(name: &str) -> NetFacts {
    NetFacts { name: name.into(), aliases: vec![], ip: None }
}

/// `docker stats`: CPU in percent of one core, memory used in bytes.
pub fn stats(cpu_percent: f64, mem_used: u64) -> StatsFacts {
    StatsFacts { cpu_percent: Some(cpu_percent), mem_used, mem_limit: 0, interval_ms: 150 }
}

/// An HTTP answer with a status and a body.
pub fn answer(method: &str, url: &str, status: u16, body: &str) -> HttpFacts {
    HttpFacts {
        method: method.into(),
        url: url.into(),
        status: Some(status),
        latency_ms: 12,
        body: Some(body.into()),
        ..Default::default()
    }
}

/// A request that got no HTTP answer.
pub fn failure(method: &str, url: &str, kind: HttpErrorKind, message: &str) -> HttpFacts {
    HttpFacts {
        method: method.into(),
        url: url.into(),
        latency_ms: 5,
        error: Some(HttpError { kind, message: message.into() }),
        ..Default::default()
    }
}

/// The verdict of cause `id`, whose evidence must contain `says`.
#[track_caller]
pub fn assert_cause(f: &Finding, id: &str, verdict: Verdict, says: &str) {
    let c = f.causes.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("{}: no verdict on {id}", f.code));
    assert_eq!(c.verdict, verdict, "{} {id}: {}", f.code, c.evidence.en());
    assert!(c.evidence.en().contains(says), "{} {id}: {:?} does not say {says:?}", f.code, c.evidence);
}

/// Every cause of the problem's runbook judged exactly once, in the finding's own order.
#[track_caller]
pub fn verdicts(f: &Finding) -> Vec<(&'static str, Verdict)> {
    let problem = crate::catalogue::get(f.code).unwrap_or_else(|| panic!("{} is not in the catalogue", f.code));
    for c in &problem.causes {
        let n = f.causes.iter().filter(|x| x.id == c.id).count();
        assert_eq!(n, 1, "{}: {} judged {n} times: {:?}", f.code, c.id, f.causes);
    }
    assert_eq!(f.causes.len(), problem.causes.len(), "{}: causes outside the runbook: {:?}", f.code, f.causes);
    f.causes.iter().map(|c| (c.id, c.verdict)).collect()
}
