//! `doctor docker`: the stack at a glance, one row per expected container (found or missing)
//! with state, health, restarts (and exits the engine logged in the last 24 h), uptime, CPU,
//! memory against its limit and published ports.

use crate::facts::of::docker::DockerFacts;
use crate::report::ContainerRow;

pub fn rows(f: &DockerFacts) -> Vec<ContainerRow> {
    f.containers
        .iter()
        // An optional role (Prometheus, the MCP server) that is not there is no row of the stack.
        .filter(|l| {
            l.container.is_some()
                || l.error.is_some()
                || !crate::stack::roles::role(&l.service).is_some_and(|r| r.optional)
        })
        .map(|l| match &l.container {
            None => ContainerRow {
                service: l.service.clone(),
                container: None,
                state: if l.error.is_some() { "unknown".into() } else { "missing".into() },
                health: None,
                restarts: 0,
                exits_24h: None,
                exit_code: None,
                oom_killed: false,
                uptime_s: None,
                cpu_percent: None,
                mem_used: None,
                mem_limit: None,
                ports: Vec::new(),
            },
            Some(c) => ContainerRow {
                service: l.service.clone(),
                container: Some(c.name.clone()),
                state: c.status.clone(),
                health: c.health.as_ref().map(|h| h.status.clone()),
                restarts: c.restart_count,
                exits_24h: c.exits.as_ref().map(|e| e.count),
                exit_code: (!c.running).then_some(c.exit_code).flatten(),
                oom_killed: c.ended_by_oom() || c.oom_episodes() > 0,
                uptime_s: c.started_age_s.filter(|_| c.running).map(|a| a as u64),
                cpu_percent: c.stats.as_ref().and_then(|s| s.cpu_percent).map(|p| (p * 10.0).round() / 10.0),
                mem_used: c.stats.as_ref().map(|s| s.mem_used),
                mem_limit: c.memory_limit,
                ports: c
                    .ports
                    .iter()
                    .filter_map(|p| {
                        p.host_port.map(|hp| {
                            format!(
                                "{}:{hp}->{}/{}",
                                p.host_ip.as_deref().unwrap_or("0.0.0.0"),
                                p.container_port,
                                p.proto
                            )
                        })
                    })
                    .collect(),
            },
        })
        .collect()
}
