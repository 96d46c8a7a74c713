//! DK001: the Docker engine cannot be reached. Reads how connecting to `DOCKER_HOST` (or the
//! default socket) failed and tells the causes apart: no socket (daemon down), permission
//! denied on the socket, a `DOCKER_HOST` that points nowhere, an API version the two sides do
//! not share. When it is reached, the check is ok and names the engine and its API version.

use crate::catalogue::Area;
use crate::probe::docker::{DockerErrorKind, DockerFacts};
use crate::problems::Ctx;
use crate::problems::engine::DockerView;
use crate::problems::registry::{Inputs, Problem};
use crate::report::{Finding, Status, Verdict::*};

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
    vec![i.timed(diagnose(&i.docker, i.ctx), i.facts.docker_ms)]
}

pub fn diagnose(view: &DockerView, ctx: &Ctx) -> Finding {
    let host = view.facts.map(|f| f.host.clone()).unwrap_or_else(|| crate::probe::docker::DEFAULT_HOST.into());
    let mut out = Finding::new("DK001", format!("docker@{host}"));
    let Some(f) = view.facts.filter(|_| !view.disabled) else {
        let why = ctx.tr("not checked: --no-docker", "未確認: --no-docker 指定");
        out.causes_all(
            &[Cause::DaemonDown, Cause::SocketPermission, Cause::WrongDockerHost, Cause::ApiVersion],
            Unchecked,
            &why,
        );
        return out.status(Status::Skipped, why);
    };
    diagnose_facts(f, out, ctx)
}

fn diagnose_facts(f: &DockerFacts, mut out: Finding, ctx: &Ctx) -> Finding {
    out.fact("host", &f.host);
    out.fact("host_from_docker_host", f.host_from_env);
    let set_by = if f.host_from_env {
        ctx.tr(format!("DOCKER_HOST={}", f.host), format!("DOCKER_HOST={}", f.host))
    } else {
        ctx.tr(
            format!("DOCKER_HOST is not set; the default {} was used", f.host),
            format!("DOCKER_HOST は未設定。既定の {} を使用", f.host),
        )
    };
    match &f.engine {
        Ok(e) => {
            out.fact("engine_version", &e.version);
            out.fact("api_version", &e.api_version);
            let optional = |role: &str| crate::stack::roles::role(role).is_some_and(|r| r.optional);
            // The stack's containers: the required roles, and optional ones that are there.
            let expected = f.containers.iter().filter(|c| c.container.is_some() || !optional(&c.service)).count();
            let found = f.containers.iter().filter(|c| c.container.is_some()).count();
            out.cause(
                Cause::DaemonDown,
                RuledOut,
                ctx.tr(format!("Docker {} answered", e.version), format!("Docker {} が応答した", e.version)),
            );
            out.cause(
                Cause::SocketPermission,
                RuledOut,
                ctx.tr("the engine accepted this user's requests", "このユーザーのリクエストが受け付けられた"),
            );
            out.cause(Cause::WrongDockerHost, RuledOut, set_by);
            out.cause(
                Cause::ApiVersion,
                RuledOut,
                ctx.tr(
                    format!("API {} (minimum {})", e.api_version, e.min_api_version),
                    format!("API {}（最小 {}）", e.api_version, e.min_api_version),
                ),
            );
            let summary = ctx.tr(
                format!(
                    "Docker {} (API {}) at {}; {found} of {} containers found",
                    e.version, e.api_version, f.host, expected
                ),
                format!(
                    "{} の Docker {}（API {}）。コンテナ {} 中 {found} を検出",
                    f.host, e.version, e.api_version, expected
                ),
            );
            out.status(Status::Ok, summary)
        }
        Err(e) => {
            out.fact("error", &e.kind);
            out.fact("message", &e.message);
            let na = ctx.tr("not the failure seen", "今回の失敗とは異なる");
            let (down, perm, host, api) = match e.kind {
                DockerErrorKind::NoSocket if !f.host_from_env => (
                    (
                        Confirmed,
                        ctx.tr(
                            format!("{}: the daemon is not running (or listens elsewhere)", e.message),
                            format!("{}: デーモンが起動していない（または別の場所で待ち受けている）", e.message),
                        ),
                    ),
                    (RuledOut, na.clone()),
                    (RuledOut, set_by.clone()),
                    (Unchecked, ctx.tr("not reached", "未到達")),
                ),
                DockerErrorKind::NoSocket | DockerErrorKind::NameNotResolved | DockerErrorKind::BadScheme => (
                    (Suspected, ctx.tr("or the daemon is not running", "またはデーモンが起動していない")),
                    (RuledOut, na.clone()),
                    (Confirmed, ctx.tr(format!("{set_by}: {}", e.message), format!("{set_by}: {}", e.message))),
                    (Unchecked, ctx.tr("not reached", "未到達")),
                ),
                DockerErrorKind::Refused => (
                    (
                        Confirmed,
                        ctx.tr(
                            format!("nothing accepts connections at {}: {}", f.host, e.message),
                            format!("{} で接続を受け付けていない: {}", f.host, e.message),
                        ),
                    ),
                    (RuledOut, na.clone()),
                    if f.host_from_env {
                        (
                            Suspected,
                            ctx.tr(
                                format!("{set_by}: is that where the engine listens?"),
                                format!("{set_by}: エンジンの待ち受け先は正しいか"),
                            ),
                        )
                    } else {
                        (RuledOut, set_by.clone())
                    },
                    (Unchecked, ctx.tr("not reached", "未到達")),
                ),
                DockerErrorKind::PermissionDenied => (
                    (RuledOut, ctx.tr("the socket exists", "ソケットは存在する")),
                    (
                        Confirmed,
                        ctx.tr(
                            format!("permission denied on {}: this user is not in the docker group", f.host),
                            format!(
                                "{} へのアクセスが拒否された: このユーザーは docker グループに属していない",
                                f.host
                            ),
                        ),
                    ),
                    (RuledOut, set_by.clone()),
                    (Unchecked, ctx.tr("not reached", "未到達")),
                ),
                DockerErrorKind::ApiVersion => (
                    (RuledOut, ctx.tr("the engine answered", "エンジンは応答した")),
                    (RuledOut, na.clone()),
                    (RuledOut, set_by.clone()),
                    (Confirmed, e.message.clone()),
                ),
                DockerErrorKind::Timeout => (
                    (
                        Suspected,
                        ctx.tr(
                            "the engine did not answer in time: hung or overloaded",
                            "エンジンが時間内に応答しない: ハングまたは過負荷",
                        ),
                    ),
                    (RuledOut, na.clone()),
                    (if f.host_from_env { Suspected } else { RuledOut }, set_by.clone()),
                    (Unchecked, ctx.tr("not reached", "未到達")),
                ),
                // A TCP engine that resets or refuses the handshake usually wants TLS (or other certificates).
                DockerErrorKind::Other
                    if f.host.starts_with("tcp://")
                        && ["reset", "tls", "certificate", "handshake", "unknownissuer"]
                            .iter()
                            .any(|w| e.message.to_ascii_lowercase().contains(w)) =>
                {
                    (
                        (Suspected, e.message.clone()),
                        (Unchecked, ctx.tr("not a socket", "ソケットではない")),
                        (
                            Suspected,
                            ctx.tr(
                                format!("{set_by}: an engine on TCP usually requires TLS; set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the directory of ca.pem, cert.pem and key.pem signed for this engine"),
                                format!("{set_by}: TCP のエンジンは通常 TLS が必要。DOCKER_TLS_VERIFY=1 と、このエンジン用の ca.pem・cert.pem・key.pem のあるディレクトリを DOCKER_CERT_PATH に設定する"),
                            ),
                        ),
                        (Unchecked, e.message.clone()),
                    )
                }
                DockerErrorKind::Other => (
                    (Suspected, e.message.clone()),
                    (Unchecked, e.message.clone()),
                    (Unchecked, set_by.clone()),
                    (Unchecked, e.message.clone()),
                ),
            };
            out.cause(Cause::DaemonDown, down.0, down.1);
            out.cause(Cause::SocketPermission, perm.0, perm.1);
            out.cause(Cause::WrongDockerHost, host.0, host.1);
            out.cause(Cause::ApiVersion, api.0, api.1);
            let summary = ctx.tr(
                format!("cannot reach the Docker engine at {}: {}; container evidence is unchecked, service checks still ran", f.host, e.message),
                format!("{} の Docker エンジンに接続できない: {}。コンテナの情報は未確認、サービスのチェックは実施済み", f.host, e.message),
            );
            out.status(Status::Critical, summary)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Thresholds;
    use crate::lang::Lang;
    use crate::probe::docker::{DockerError, Engine};

    fn ctx() -> Ctx {
        Ctx { lang: Lang::En, thresholds: Thresholds::default() }
    }

    fn facts(engine: Result<Engine, DockerError>, from_env: bool) -> DockerFacts {
        DockerFacts {
            host: "unix:///var/run/docker.sock".into(),
            host_from_env: from_env,
            engine,
            containers: vec![],
            timings: vec![],
            memory_samples: None,
        }
    }

    fn err(kind: DockerErrorKind) -> Result<Engine, DockerError> {
        Err(DockerError { kind, message: "x".into() })
    }

    fn run(f: &DockerFacts) -> Finding {
        diagnose(&DockerView { facts: Some(f), disabled: false }, &ctx())
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
        let d = diagnose(&DockerView { facts: None, disabled: true }, &ctx());
        assert_eq!(d.status, Status::Skipped);
    }
}
