//! DK001: the Docker engine cannot be reached. Reads how connecting to `DOCKER_HOST` (or the
//! default socket) failed and tells the causes apart: no socket (daemon down), permission
//! denied on the socket, a `DOCKER_HOST` that points nowhere, an API version the two sides do
//! not share. When it is reached, the check is ok and names the engine and its API version.

use crate::catalogue::Area;
use crate::facts::of::docker::{DockerErrorKind, DockerFacts};
use crate::problems::engine::DockerView;
use crate::problems::registry::{Inputs, Problem};
use crate::report::{Finding, Status, Verdict::*};
use crate::t;
use crate::text::Text;

crate::causes! {
    DaemonDown = "daemon-down",
    SocketPermission = "socket-permission",
    WrongDockerHost = "wrong-docker-host",
    ApiVersion = "api-version",
}

pub static PROBLEM: Problem = Problem {
    code: "DK001",
    areas: &[Area::Docker],
    runbook: crate::runbook!("docker/DK001-engine-unreachable.toml"),
    causes: Cause::IDS,
    run,
    by_target: false,
};

fn run(i: &Inputs) -> Vec<Finding> {
    vec![i.timed(diagnose(&i.docker), i.facts.docker_ms)]
}

pub fn diagnose(view: &DockerView) -> Finding {
    let host = view.facts.map(|f| f.host.clone()).unwrap_or_else(|| crate::facts::of::docker::DEFAULT_HOST.into());
    let mut out = Finding::new("DK001", format!("docker@{host}"));
    let Some(f) = view.facts.filter(|_| !view.disabled) else {
        let why = t!("DK001/no-docker");
        out.causes_all(
            &[Cause::DaemonDown, Cause::SocketPermission, Cause::WrongDockerHost, Cause::ApiVersion],
            Unchecked,
            why.clone(),
        );
        return out.status(Status::Skipped, why);
    };
    diagnose_facts(f, out)
}

fn diagnose_facts(f: &DockerFacts, mut out: Finding) -> Finding {
    out.fact("host", &f.host);
    out.fact("host_from_docker_host", f.host_from_env);
    out.fact("engine_source", f.source.id());
    if let Some(c) = &f.context {
        out.fact("context", c);
    }
    let (set_by, via) = where_from(f);
    match &f.engine {
        Ok(e) => {
            out.fact("engine_version", &e.version);
            out.fact("api_version", &e.api_version);
            let optional = |role: &str| crate::stack::roles::role(role).is_some_and(|r| r.optional);
            // The stack's containers: the required roles, and optional ones that are there.
            let expected = f.containers.iter().filter(|c| c.container.is_some() || !optional(&c.service)).count();
            let found = f.containers.iter().filter(|c| c.container.is_some()).count();
            out.cause(Cause::DaemonDown, RuledOut, t!("DK001/docker-answered", version = &e.version));
            out.cause(Cause::SocketPermission, RuledOut, t!("DK001/requests-accepted"));
            out.cause(Cause::WrongDockerHost, RuledOut, set_by);
            out.cause(
                Cause::ApiVersion,
                RuledOut,
                t!("DK001/api-version", api = &e.api_version, minimum = &e.min_api_version),
            );
            let summary = t!(
                "DK001/reached",
                version = &e.version,
                api = &e.api_version,
                host = &f.host,
                via = via,
                found = found,
                expected = expected
            );
            out.status(Status::Ok, summary)
        }
        Err(e) => {
            out.fact("error", &e.kind);
            out.fact("message", &e.message);
            let na = t!("DK001/not-the-failure-seen");
            let not_reached = t!("DK001/not-reached");
            let error = Text::from(&e.message);
            let (down, perm, host, api) = match e.kind {
                DockerErrorKind::NoSocket if !f.host_from_env => (
                    (Confirmed, t!("DK001/daemon-not-running", error = error.clone())),
                    (RuledOut, na.clone()),
                    (RuledOut, set_by.clone()),
                    (Unchecked, not_reached),
                ),
                DockerErrorKind::NoSocket | DockerErrorKind::NameNotResolved | DockerErrorKind::BadScheme => (
                    (Suspected, t!("DK001/or-daemon-not-running")),
                    (RuledOut, na.clone()),
                    (Confirmed, t!("DK001/host-failed", set_by = set_by.clone(), error = error.clone())),
                    (Unchecked, not_reached),
                ),
                DockerErrorKind::Refused => (
                    (Confirmed, t!("DK001/refused", host = &f.host, error = error.clone())),
                    (RuledOut, na.clone()),
                    if f.host_from_env {
                        (Suspected, t!("DK001/is-that-where-it-listens", set_by = set_by.clone()))
                    } else {
                        (RuledOut, set_by.clone())
                    },
                    (Unchecked, not_reached),
                ),
                DockerErrorKind::PermissionDenied => (
                    (RuledOut, t!("DK001/socket-exists")),
                    (Confirmed, t!("DK001/permission-denied", host = &f.host)),
                    (RuledOut, set_by.clone()),
                    (Unchecked, not_reached),
                ),
                DockerErrorKind::ApiVersion => (
                    (RuledOut, t!("DK001/engine-answered")),
                    (RuledOut, na.clone()),
                    (RuledOut, set_by.clone()),
                    (Confirmed, error.clone()),
                ),
                DockerErrorKind::Timeout => (
                    (Suspected, t!("DK001/timeout")),
                    (RuledOut, na.clone()),
                    (if f.host_from_env { Suspected } else { RuledOut }, set_by.clone()),
                    (Unchecked, not_reached),
                ),
                // A TCP engine that resets or refuses the handshake usually wants TLS (or other certificates).
                DockerErrorKind::Other
                    if f.host.starts_with("tcp://")
                        && ["reset", "tls", "certificate", "handshake", "unknownissuer"]
                            .iter()
                            .any(|w| e.message.to_ascii_lowercase().contains(w)) =>
                {
                    (
                        (Suspected, error.clone()),
                        (Unchecked, t!("DK001/not-a-socket")),
                        (Suspected, t!("DK001/tcp-needs-tls", set_by = set_by.clone())),
                        (Unchecked, error.clone()),
                    )
                }
                DockerErrorKind::Other => (
                    (Suspected, error.clone()),
                    (Unchecked, error.clone()),
                    (Unchecked, set_by.clone()),
                    (Unchecked, error.clone()),
                ),
            };
            out.cause(Cause::DaemonDown, down.0, down.1);
            out.cause(Cause::SocketPermission, perm.0, perm.1);
            out.cause(Cause::WrongDockerHost, host.0, host.1);
            out.cause(Cause::ApiVersion, api.0, api.1);
            out.status(Status::Critical, t!("DK001/unreachable", host = &f.host, error = error))
        }
    }
}

/// How the engine's address was chosen: the evidence line, and the words of the summary.
fn where_from(f: &DockerFacts) -> (Text, Text) {
    use crate::facts::of::docker::EngineSource as S;
    let (host, context) = (&f.host, f.context.as_deref().unwrap_or("?"));
    match f.source {
        S::Flag => (t!("DK001/host-flag", host = host), t!("DK001/via-flag")),
        S::DockerContext => (
            t!("DK001/host-context", context = context, host = host),
            t!("DK001/via-docker-context", context = context),
        ),
        S::CurrentContext => (
            t!("DK001/host-current-context", context = context, host = host),
            t!("DK001/via-current-context", context = context),
        ),
        // Facts from before the source was kept: DOCKER_HOST when an address was set.
        S::DockerHost | S::Default if f.host_from_env => {
            (t!("DK001/host-set", host = host), t!("DK001/via-docker-host"))
        }
        S::DockerHost | S::Default => (t!("DK001/host-default", host = host), t!("DK001/via-default")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::of::docker::{DockerError, Engine};

    fn facts(engine: Result<Engine, DockerError>, from_env: bool) -> DockerFacts {
        DockerFacts {
            host: "unix:///var/run/docker.sock".into(),
            host_from_env: from_env,
            source: Default::default(),
            context: None,
            engine,
            containers: vec![],
            timings: vec![],
            events: None,
            disk: None,
            memory_samples: None,
        }
    }

    fn err(kind: DockerErrorKind) -> Result<Engine, DockerError> {
        Err(DockerError { kind, message: "x".into() })
    }

    fn run(f: &DockerFacts) -> Finding {
        diagnose(&DockerView { facts: Some(f), disabled: false })
    }

    #[test]
    fn reachable_engine_is_ok() {
        let f = facts(
            Ok(Engine {
                version: "20.10.24".into(),
                api_version: "1.41".into(),
                min_api_version: "1.12".into(),
                os: "linux".into(),
                ..Default::default()
            }),
            false,
        );
        let d = run(&f);
        assert_eq!(d.status, Status::Ok);
        assert!(d.causes.iter().all(|c| c.verdict == RuledOut));
    }

    #[test]
    fn each_failure_confirms_its_cause() {
        let cases = [
            (DockerErrorKind::NoSocket, false, "daemon-down"),
            (DockerErrorKind::PermissionDenied, false, "socket-permission"),
            (DockerErrorKind::NoSocket, true, "wrong-docker-host"),
            (DockerErrorKind::NameNotResolved, true, "wrong-docker-host"),
            (DockerErrorKind::BadScheme, true, "wrong-docker-host"),
            (DockerErrorKind::ApiVersion, false, "api-version"),
            (DockerErrorKind::Refused, false, "daemon-down"),
        ];
        for (kind, env, cause) in cases {
            let d = run(&facts(err(kind.clone()), env));
            assert_eq!(d.status, Status::Critical);
            assert_eq!(
                d.causes.iter().find(|c| c.id == cause).map(|c| c.verdict),
                Some(Confirmed),
                "{kind:?} env={env}"
            );
        }
    }

    #[test]
    fn no_docker_skips() {
        let d = diagnose(&DockerView { facts: None, disabled: true });
        assert_eq!(d.status, Status::Skipped);
    }
}
