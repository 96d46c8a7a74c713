//! doctor's own place, read from this machine's files only: whether it runs in a container
//! (`/.dockerenv`, or a container runtime in `/proc/1/cgroup`), whether that container shares
//! the host's network (the host's bridges `docker0`/`br-*` or `veth*` pairs are visible in
//! `/proc/net/dev` only then), and its default gateway (`/proc/net/route`), which is the engine
//! host as seen from a container on a bridge. No network traffic; [`crate::stack::position`]
//! decides what follows.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// What shows doctor runs in a container (`/.dockerenv`, `/proc/1/cgroup`), if it does.
    pub in_container: Option<String>,
    /// The host's network interfaces are visible (`--network host`).
    pub host_network: bool,
    /// The default route's gateway.
    pub gateway: Option<String>,
    /// The local engine's socket is here (mounted in): without it, no engine says where the
    /// stack is, and doctor stays aimed at this host.
    pub engine_socket: bool,
}

/// `engine` is the engine's address (its socket is looked for when it is `unix://`).
pub fn look(engine: &str) -> Place {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cgroup = read("/proc/1/cgroup");
    let in_container = if std::path::Path::new("/.dockerenv").exists() {
        Some("/.dockerenv".to_string())
    } else if ["docker", "containerd", "kubepods", "libpod"].iter().any(|w| cgroup.contains(w)) {
        Some("/proc/1/cgroup".to_string())
    } else {
        None
    };
    Place {
        in_container,
        host_network: host_interfaces(&read("/proc/net/dev")),
        gateway: gateway(&read("/proc/net/route")),
        engine_socket: engine.strip_prefix("unix://").is_some_and(|p| std::path::Path::new(p).exists()),
    }
}

/// Interfaces only the engine's host has: its bridges and the host ends of veth pairs.
pub fn host_interfaces(dev: &str) -> bool {
    dev.lines()
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .any(|i| i == "docker0" || i.starts_with("br-") || i.starts_with("veth"))
}

/// The default route's gateway in `/proc/net/route` (little-endian hex).
pub fn gateway(route: &str) -> Option<String> {
    route.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.get(1) != Some(&"00000000") {
            return None;
        }
        let g = u32::from_str_radix(f.get(2)?, 16).ok()?;
        (g != 0).then(|| std::net::Ipv4Addr::from(g.to_le_bytes()).to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_and_interfaces_from_proc() {
        let route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n\
                     eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\n\
                     eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\n";
        assert_eq!(gateway(route).as_deref(), Some("172.17.0.1"));
        let bridge = "Inter-|   Receive\n face |bytes\n    lo: 0 0\n  eth0: 1 2\n";
        assert!(!host_interfaces(bridge));
        assert!(host_interfaces(&format!("{bridge}docker0: 5 6\n")));
    }
}
