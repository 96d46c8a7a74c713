//! From the engine's inspect of a container to its facts ([`container_facts`]), and the look at
//! each chosen container that fills in the rest ([`examine`], `look_inside`): logs, sockets,
//! CPU and memory, published ports reached from this host, what the runbook reads inside, all
//! at once under the run's deadline. The readers it runs live beside it (`stats`, `logs`,
//! `exec`); this file only decides what runs when.

use super::disk::{self, Mounted};
use super::exec::{exec_read, read_inside};
use super::logs::{last_lines, read_logs};
use super::stats::{
    CPU_FILES, FIRST_LOOK, HOST_CPU_WINDOW, cpu_count, cpu_share, host_cpu_reading, host_look, one_shot,
    parse_cpu_reading, parse_inside_stats, parse_proc_net_tcp, stats_from,
};
use super::{
    ContainerFacts, ContainerLookup, DockerFacts, DockerProbeConfig, EnvVar, HealthFacts, MountFacts, NetFacts,
    PortFacts, UrlVar,
};
use crate::clock;
use crate::probe::docker_discover::Discovered;
use crate::probe::docker_events;
use crate::probe::inside::{self, InsideFacts};
use crate::probe::{Timing, ms, until};
use crate::redact;
use crate::urls;
use bollard::Docker;
use std::time::Duration;
use tokio::time::Instant;

/// Everything about the chosen containers that the checks read (state, logs, sockets, CPU and
/// memory, the engine's OOM and exit events, what the runbook reads inside), all at once.
pub async fn examine(d: Discovered, cfg: &DockerProbeConfig, deadline: Instant) -> DockerFacts {
    let Discovered { docker, base, listed, assigned, inspected } = d;
    let mut facts = base;
    // What the disk look needs of the inspects, before they are handed to each container's look.
    let socket = local_socket(cfg);
    let ok = || inspected.iter().filter_map(|i| i.as_ref().and_then(|r| r.as_ref().ok()));
    let mounted: Vec<Mounted> = ok()
        .map(|i| Mounted {
            id: i.raw.id.clone().unwrap_or_default(),
            name: i.facts.name.clone(),
            volumes: i.facts.mounts.iter().filter(|m| m.kind == "volume").filter_map(|m| m.volume.clone()).collect(),
        })
        .collect();
    let log_paths: Vec<(String, String)> =
        ok().filter_map(|i| Some((i.facts.name.clone(), i.raw.log_path.clone().filter(|p| !p.is_empty())?))).collect();
    let layout = crate::stack::discover::layout_of(&assigned);
    let t = Instant::now();
    let lookups = assigned.iter().zip(inspected).map(|(a, ins)| {
        let wanted = a.pinned.clone().unwrap_or_else(|| match a.pick {
            Some((i, _)) => listed[i].name.clone(),
            None => crate::stack::expected_name(a.role, layout),
        });
        let found_by = a.pick.map(|(_, by)| by);
        let docker = &docker;
        async move {
            let mut out = ContainerLookup {
                service: a.role.to_string(),
                wanted,
                found_by: found_by.map(|b| b.as_str().to_string()),
                container: None,
                error: None,
            };
            match ins {
                None => {}
                Some(Err(e)) => out.error = Some(e),
                Some(Ok(i)) => out.container = Some(look_inside(docker, a.role, &i.raw, i.facts, cfg, deadline).await),
            }
            out
        }
    });
    let now = clock::now_unix();
    let lookback_s = cfg.events_since.as_secs().max(1) as i64;
    let events = async {
        let t = Instant::now();
        let read = docker_events::read(&docker, now, lookback_s, deadline).await;
        (read, t.elapsed())
    };
    let disk = async {
        let t = Instant::now();
        let d = disk::gather(&docker, socket.as_deref(), &mounted, deadline).await;
        (d, t.elapsed())
    };
    let (containers, (events, events_took), (disk, disk_took)) =
        tokio::join!(futures_util::future::join_all(lookups), events, disk);
    facts.containers = containers;
    facts.timings.push(Timing { step: "containers".into(), ms: ms(t.elapsed()), ok: true });
    facts.timings.push(Timing { step: "engine events".into(), ms: ms(events_took), ok: events.is_ok() });
    facts.timings.push(Timing { step: "engine disk".into(), ms: ms(disk_took), ok: disk.usage.is_ok() });
    if disk.local && matches!(disk.root_space, Some(Ok(_))) {
        disk::apply_log_sizes(&mut facts, &log_paths);
    }
    facts.disk = Some(disk);
    crate::probe::seen_containers::compare_and_remember(&mut facts);
    facts.events = Some(match events {
        Ok(read) => {
            for c in facts.containers.iter_mut().filter_map(|l| l.container.as_mut()) {
                c.oom_events = Some(docker_events::for_container(&read.logged, &c.id, now));
                c.exits = Some(docker_events::exits_of(&read.logged, &c.id, now));
            }
            // The stack's containers by every name they had, and their compose projects.
            let mut names: Vec<String> = facts.containers.iter().map(|l| l.wanted.clone()).collect();
            let mut projects = Vec::new();
            for c in facts.containers.iter().filter_map(|l| l.container.as_ref()) {
                names.push(c.name.clone());
                projects.extend(c.compose_project.clone());
            }
            let events = docker_events::keep_stack(read.events, &names, &projects);
            Ok(docker_events::EventLog { since_s: lookback_s as u64, events, truncated: read.truncated })
        }
        Err(e) => Err(e),
    });
    facts
}

/// The engine's unix socket when it is on this host (`unix://`, or the default socket).
fn local_socket(cfg: &DockerProbeConfig) -> Option<String> {
    let host = cfg.host.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| super::DEFAULT_HOST.to_string());
    host.strip_prefix("unix://").map(str::to_string)
}

async fn look_inside(
    docker: &Docker,
    service: &str,
    c: &bollard::models::ContainerInspectResponse,
    mut f: ContainerFacts,
    cfg: &DockerProbeConfig,
    deadline: Instant,
) -> ContainerFacts {
    // A Unix socket means the engine runs on this host, so its cgroups are readable here.
    let local = cfg.host.as_deref().is_none_or(|h| h.is_empty() || h.starts_with("unix://"));
    if f.running {
        let id = c.id.clone().unwrap_or_default();
        // CPU and memory without `docker stats`: the engine serves stats from a collector that
        // ticks once a second, so asking it costs up to a second. The same counters `docker
        // stats` reads (the container's cgroup, the host's /proc/stat) are read instead with two
        // read-only `cat` execs 150 ms apart. Images without `cat` fall back to the engine.
        let sampled = Instant::now();
        // On the engine's own host the container's cgroup is readable directly, with no exec
        // (whose own start would be counted as the container's CPU): both CPU readings come
        // from there when it can be found. Elsewhere the second reading is a second exec.
        let local = local && host_cpu_reading(&id).is_some();
        // Better still, everything the exec would read is on this host: the cgroup files and the
        // container's own /proc/PID/net/tcp. Then nothing runs in the container at all, and the
        // CPU window is timed by this clock, exact over a short window.
        let pid = c.state.as_ref().and_then(|st| st.pid).filter(|p| *p > 0);
        let host_text = if local { pid.and_then(|p| host_look(&id, p)) } else { None };
        let from_host = host_text.is_some();
        let look_then_cpu = async {
            if let Some(text) = host_text {
                let t0 = std::time::Instant::now();
                let a = host_cpu_reading(&id);
                let wait = HOST_CPU_WINDOW;
                if Instant::now() + wait < deadline {
                    tokio::time::sleep(wait).await;
                }
                let b = host_cpu_reading(&id);
                let wall_ns = t0.elapsed().as_nanos() as u64;
                // The second reading's "system" field carries the wall time instead of /proc/stat.
                (Ok(text), a.map(|(c, _)| (c, 0)), b.map(|(c, _)| (c, wall_ns)))
            } else if local {
                // The exec first, then a window with nothing of ours running in the container.
                let first = read_inside(docker, &id, FIRST_LOOK, deadline).await;
                let a = host_cpu_reading(&id);
                let wait = Duration::from_millis(150);
                if Instant::now() + wait < deadline {
                    tokio::time::sleep(wait).await;
                }
                (first, a, host_cpu_reading(&id))
            } else {
                let later = async {
                    let wait = Duration::from_millis(150).saturating_sub(sampled.elapsed());
                    if Instant::now() + wait < deadline {
                        tokio::time::sleep(wait).await;
                    }
                    read_inside(docker, &id, CPU_FILES, deadline).await.ok().and_then(|t| parse_cpu_reading(&t))
                };
                let (first, second) = tokio::join!(read_inside(docker, &id, FIRST_LOOK, deadline), later);
                (first, None, second)
            }
        };
        let look_inside = async {
            let script = inside::script_for(service)?;
            if from_host {
                // After the CPU window: an exec's own start would count as the container's CPU.
                tokio::time::sleep(HOST_CPU_WINDOW + Duration::from_millis(5)).await;
            }
            Some(match exec_read(docker, &id, vec!["sh", "-c", script], true, deadline).await {
                Ok(text) => inside::parse(&text),
                Err(e) => InsideFacts { error: Some(e), ..Default::default() },
            })
        };
        let (logs, (first, host_first, second), reach, inside) = tokio::join!(
            read_logs(docker, &id, cfg, deadline),
            look_then_cpu,
            reach_published(&f.ports, cfg.service_host.as_deref(), deadline),
            look_inside
        );
        f.inside = inside;
        for (p, r) in f.ports.iter_mut().zip(reach) {
            p.from_host = r;
        }
        let (listening, stats) = match first {
            Ok(text) if text.contains("local_address") => {
                let mut stats = parse_inside_stats(&text, second, ms(sampled.elapsed()));
                if let (Some(st), Some((c1, _)), Some((c2, wall_ns))) =
                    (stats.as_mut(), host_first, second.filter(|_| from_host))
                {
                    // Percent of one CPU, as `docker stats` shows it: container CPU time over wall time.
                    st.cpu_percent = (wall_ns > 0).then(|| c2.saturating_sub(c1) as f64 / wall_ns as f64 * 100.0);
                } else if let (Some(st), Some((c1, s1)), Some((c2, s2))) =
                    (stats.as_mut(), host_first, second.filter(|_| local))
                {
                    st.cpu_percent = cpu_share((c1, s1), (c2, s2), cpu_count(&text));
                }
                (Ok(parse_proc_net_tcp(&text)), stats)
            }
            other => {
                let why = match other {
                    Err(e) => e,
                    Ok(_) => "the container has no `cat`, or /proc/net/tcp could not be read".into(),
                };
                let api = until(deadline, one_shot(docker, &id)).await.flatten();
                (Err(why), api.as_ref().map(|s| stats_from(s, None)))
            }
        };
        f.stats = stats;
        let mut logs = logs;
        if f.status == "restarting" {
            logs.last_lines = last_lines(docker, &id, deadline).await;
        }
        f.logs = Some(logs);
        f.listening = Some(listening);
    } else {
        let id = c.id.clone().unwrap_or_default();
        let (mut logs, last) = tokio::join!(read_logs(docker, &id, cfg, deadline), last_lines(docker, &id, deadline));
        logs.last_lines = last;
        f.logs = Some(logs);
    }
    f
}

/// Facts from an inspect response; `now` (Unix seconds) turns times into ages.
pub fn container_facts(c: &bollard::models::ContainerInspectResponse, now: f64) -> ContainerFacts {
    let state = c.state.clone().unwrap_or_default();
    let config = c.config.clone().unwrap_or_default();
    let labels = config.labels.clone().unwrap_or_default();
    let age = |t: &Option<String>| t.as_deref().and_then(clock::parse_rfc3339).map(|x| (now - x).max(0.0));
    let health = state.health.as_ref().map(|h| {
        let last = h.log.as_ref().and_then(|l| l.last());
        HealthFacts {
            status: h.status.map(|s| s.to_string()).unwrap_or_default(),
            failing_streak: h.failing_streak.unwrap_or(0),
            last_output: last.and_then(|l| l.output.as_deref()).map(|o| cut(&redact::scrub(o.trim()), 300)),
            last_exit_code: last.and_then(|l| l.exit_code),
        }
    });
    let mut env = Vec::new();
    let mut url_vars = Vec::new();
    let mut requirepass: Option<String> = None;
    for kv in config.env.clone().unwrap_or_default() {
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        let secret = redact::is_secret_name(k);
        if secret && !v.is_empty() {
            redact::register_secret(v);
        }
        crate::config::register_url_password(v);
        if k == "REDIS_PASSWORD" && !v.is_empty() {
            requirepass = Some(redact::fingerprint(v));
        }
        if (k.ends_with("_URL") || k.ends_with("_URI") || k.ends_with("_DSN"))
            && let Some(e) = urls::parse_endpoint(v)
        {
            url_vars.push(UrlVar {
                name: k.to_string(),
                scheme: e.scheme,
                host: e.host,
                port: e.port,
                user: e.user,
                password_fingerprint: e.password.as_deref().map(redact::fingerprint),
            });
        }
        env.push(EnvVar {
            name: k.to_string(),
            value: if secret && !v.is_empty() { redact::MASK.to_string() } else { redact::scrub(v) },
            fingerprint: (secret && !v.is_empty()).then(|| redact::fingerprint(v)),
        });
    }
    // redis-server --requirepass X, in the command or entrypoint arguments.
    let args: Vec<String> =
        c.args.clone().unwrap_or_default().into_iter().chain(config.cmd.clone().unwrap_or_default()).collect();
    if let Some(i) = args.iter().position(|a| a == "--requirepass")
        && let Some(p) = args.get(i + 1)
    {
        redact::register_secret(p);
        requirepass = Some(redact::fingerprint(p));
    }
    let ns = c.network_settings.clone().unwrap_or_default();
    let mut networks: Vec<NetFacts> = ns
        .networks
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(name, ep)| {
            let mut aliases: Vec<String> = ep.aliases.unwrap_or_default();
            aliases.extend(ep.dns_names.unwrap_or_default());
            aliases.sort();
            aliases.dedup();
            NetFacts { name, aliases, ip: ep.ip_address.filter(|i| !i.is_empty()) }
        })
        .collect();
    networks.sort_by(|a, b| a.name.cmp(&b.name));
    let mut ports = Vec::new();
    for (key, bindings) in ns.ports.clone().unwrap_or_default() {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(container_port) = port.parse::<u16>() else { continue };
        match bindings {
            Some(list) if !list.is_empty() => {
                for b in list {
                    ports.push(PortFacts {
                        container_port,
                        proto: proto.into(),
                        host_ip: b.host_ip.filter(|h| !h.is_empty()),
                        host_port: b.host_port.and_then(|p| p.parse().ok()),
                        from_host: None,
                    });
                }
            }
            _ => ports.push(PortFacts {
                container_port,
                proto: proto.into(),
                host_ip: None,
                host_port: None,
                from_host: None,
            }),
        }
    }
    ports.sort_by(|a, b| (a.container_port, &a.host_ip).cmp(&(b.container_port, &b.host_ip)));
    let host_config = c.host_config.clone().unwrap_or_default();
    let mut mounts: Vec<MountFacts> = c
        .mounts
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| {
            Some(MountFacts {
                destination: m.destination.filter(|d| !d.is_empty())?,
                kind: m.typ.unwrap_or_default(),
                volume: m.name.filter(|n| !n.is_empty()),
                rw: m.rw.unwrap_or(true),
            })
        })
        .collect();
    mounts.sort_by(|a, b| a.destination.cmp(&b.destination));
    ContainerFacts {
        name: c.name.clone().unwrap_or_default().trim_start_matches('/').to_string(),
        id: c.id.clone().unwrap_or_default().chars().take(12).collect(),
        image: config.image.clone().unwrap_or_default(),
        image_id: c.image.clone().filter(|i| !i.is_empty()),
        created_age_s: age(&c.created),
        config_hash: labels.get("com.docker.compose.config-hash").cloned().filter(|h| !h.is_empty()),
        previous: None,
        compose_service: labels.get("com.docker.compose.service").cloned(),
        compose_project: labels.get("com.docker.compose.project").cloned(),
        working_dir: labels.get("com.docker.compose.project.working_dir").cloned().filter(|w| !w.is_empty()),
        extra_hosts: host_config.extra_hosts.clone().unwrap_or_default(),
        status: state.status.map(|s| s.to_string()).unwrap_or_default(),
        running: state.running.unwrap_or(false),
        exit_code: state.exit_code,
        oom_killed: state.oom_killed.unwrap_or(false),
        oom_events: None,
        exits: None,
        error: state.error.filter(|e| !e.is_empty()).map(|e| redact::scrub(&e)),
        restart_count: c.restart_count.unwrap_or(0),
        restart_policy: host_config
            .restart_policy
            .and_then(|p| p.name)
            .map(|n| n.to_string())
            .filter(|n| !n.is_empty()),
        started_age_s: age(&state.started_at),
        finished_age_s: age(&state.finished_at),
        started_at: state.started_at.filter(|t| clock::parse_rfc3339(t).is_some()),
        finished_at: state.finished_at.filter(|t| clock::parse_rfc3339(t).is_some()),
        health,
        env,
        urls: url_vars,
        requirepass_fingerprint: requirepass,
        networks,
        ports,
        memory_limit: host_config.memory.filter(|m| *m > 0).map(|m| m as u64),
        mounts,
        log_volume: super::disk::log_config(c),
        stats: None,
        listening: None,
        logs: None,
        inside: None,
    }
}

/// Connects from this host to every published TCP port (0.0.0.0 means this host's loopback).
/// Away from the engine's host, on `away` instead; a port on that host's loopback is not tried.
async fn reach_published(
    ports: &[PortFacts],
    away: Option<&str>,
    deadline: Instant,
) -> Vec<Option<Result<u64, String>>> {
    let tries = ports.iter().map(|p| async move {
        let port = p.host_port.filter(|_| p.proto == "tcp")?;
        let ip = match (p.host_ip.as_deref(), away) {
            (Some(ip), Some(_)) if crate::stack::position::is_loopback(ip) => return None,
            (None | Some("0.0.0.0" | "::" | ""), Some(h)) => h.to_string(),
            (None | Some("0.0.0.0" | ""), None) => "127.0.0.1".to_string(),
            (Some("::"), None) => "::1".to_string(),
            (Some(ip), _) => ip.to_string(),
        };
        let t = Instant::now();
        let addr = if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") };
        Some(match until(deadline, tokio::net::TcpStream::connect(addr)).await {
            Some(Ok(_)) => Ok(ms(t.elapsed())),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("timed out".to_string()),
        })
    });
    futures_util::future::join_all(tries).await
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() > n { s.chars().take(n - 1).collect::<String>() + "…" } else { s.to_string() }
}
