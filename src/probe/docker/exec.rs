//! The only way doctor runs anything inside a container: a fixed, read-only command through
//! the engine's exec API (`cat` of counters, the runbook's short `sh` scripts), its output
//! bounded in size and time. Kept apart so that what may run inside is in one place.

use crate::probe::{error_chain, until};
use crate::redact;
use bollard::Docker;
use futures_util::StreamExt;
use tokio::time::Instant;

/// Runs `cat FILES...` in the container (read-only) and returns what it printed; missing files
/// are skipped by `cat` itself.
pub(super) async fn read_inside(
    docker: &Docker,
    id: &str,
    files: &[&str],
    deadline: Instant,
) -> Result<String, String> {
    let mut cmd = vec!["cat"];
    cmd.extend_from_slice(files);
    exec_read(docker, id, cmd, false, deadline).await
}

/// Runs a fixed read-only command in the container and returns its stdout and stderr (at most
/// 1 MB); `Err` when the exec could not be made (no such binary is an error of the exec).
pub(super) async fn exec_read(
    docker: &Docker,
    id: &str,
    cmd: Vec<&str>,
    with_stderr: bool,
    deadline: Instant,
) -> Result<String, String> {
    use bollard::exec::{CreateExecOptions, StartExecResults};
    let create = CreateExecOptions {
        cmd: Some(cmd),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let exec = match until(deadline, docker.create_exec(id, create)).await {
        None => return Err("timed out".into()),
        Some(Err(e)) => return Err(redact::scrub(&error_chain(&e))),
        Some(Ok(x)) => x,
    };
    let started = match until(deadline, docker.start_exec(&exec.id, None)).await {
        None => return Err("timed out".into()),
        Some(Err(e)) => return Err(redact::scrub(&error_chain(&e))),
        Some(Ok(s)) => s,
    };
    let mut out = String::new();
    if let StartExecResults::Attached { mut output, .. } = started {
        loop {
            match until(deadline, output.next()).await {
                Some(Some(Ok(bollard::container::LogOutput::StdOut { message }))) => {
                    out.push_str(&String::from_utf8_lossy(&message));
                    if out.len() > 1 << 20 {
                        break;
                    }
                }
                Some(Some(Ok(bollard::container::LogOutput::StdErr { message }))) if with_stderr => {
                    out.push_str(&String::from_utf8_lossy(&message));
                    if out.len() > 1 << 20 {
                        break;
                    }
                }
                Some(Some(Ok(_))) => {}
                Some(Some(Err(e))) => return Err(redact::scrub(&error_chain(&e))),
                Some(None) => break,
                None => return Err("timed out".into()),
            }
        }
    }
    Ok(out)
}
