//! CPU, memory and listening sockets, read the way `docker stats` and `ss -lnt` would: the
//! container's cgroup files (v1 or v2), the host's /proc/stat and the container's
//! /proc/net/tcp, either inside the container (one `cat`) or from this host when the engine
//! runs here, else the engine's own one-shot stats. The parsers are pure and fuzzed
//! (`fuzz/fuzz_targets/docker_parsers.rs`); the readers only fetch text for them.

use super::{Listener, StatsFacts};
use bollard::Docker;
use bollard::query_parameters::StatsOptionsBuilder;
use futures_util::StreamExt;
use std::time::Duration;

pub(in crate::probe) async fn one_shot(docker: &Docker, id: &str) -> Option<bollard::models::ContainerStatsResponse> {
    let opts = StatsOptionsBuilder::default().stream(false).one_shot(true).build();
    docker.stats(id, Some(opts)).next().await.and_then(Result::ok)
}

/// CPU counters read inside the container: (container CPU time, host CPU time), nanoseconds.
pub type CpuReading = (u64, u64);

/// CPU and memory the way `docker stats` computes them: memory from the API's sample, CPU from
/// the change between the API's counters and a later reading of the same counters.
pub fn stats_from(sample: &bollard::models::ContainerStatsResponse, later: Option<CpuReading>) -> StatsFacts {
    let c = sample.cpu_stats.clone().unwrap_or_default();
    let total = c.cpu_usage.as_ref().and_then(|u| u.total_usage).unwrap_or(0);
    let online = c
        .online_cpus
        .filter(|n| *n > 0)
        .map(u64::from)
        .or_else(|| c.cpu_usage.as_ref().and_then(|u| u.percpu_usage.as_ref()).map(|p| p.len() as u64))
        .unwrap_or(1);
    let system = c.system_cpu_usage.unwrap_or(0);
    let cpu_percent = later.and_then(|(t2, s2)| {
        let (dt, ds) = (t2.checked_sub(total)?, s2.checked_sub(system)?);
        (ds > 0).then(|| dt as f64 / ds as f64 * online as f64 * 100.0)
    });
    let mem = sample.memory_stats.clone().unwrap_or_default();
    let usage = mem.usage.unwrap_or(0);
    let stats = mem.stats.unwrap_or_default();
    let inactive = stats.get("total_inactive_file").or_else(|| stats.get("inactive_file")).copied().unwrap_or(0);
    StatsFacts {
        cpu_percent,
        mem_used: if inactive < usage { usage - inactive } else { usage },
        mem_limit: mem.limit.unwrap_or(0),
        interval_ms: 0,
    }
}

/// The container's CPU time (cgroup v1 `cpuacct.usage` in ns, or v2 `cpu.stat` usage_usec) and
/// the host's (the `cpu` line of /proc/stat, in clock ticks of 10 ms, as Docker counts it).
pub fn parse_cpu_reading(text: &str) -> Option<CpuReading> {
    let mut container = None;
    let mut host = None;
    for line in text.lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        match t.as_slice() {
            // The first bare number is the CPU counter (memory figures follow it).
            [n] if container.is_none() && n.bytes().all(|b| b.is_ascii_digit()) => container = n.parse::<u64>().ok(),
            // A counter too large to convert to nanoseconds is no reading (not a wrapped one).
            ["usage_usec", n] => container = n.parse::<u64>().ok().and_then(|u| u.checked_mul(1000)),
            ["cpu", rest @ ..] if rest.len() >= 7 => {
                let ticks = rest[..7].iter().try_fold(0u64, |sum, x| sum.checked_add(x.parse::<u64>().ok()?));
                host = ticks.and_then(|t| t.checked_mul(10_000_000));
            }
            _ => {}
        }
    }
    Some((container?, host?))
}

/// First look inside: listening sockets, CPU counters, memory (cgroup v1 then v2 paths; only
/// one set exists on a machine, and `cat` prints what exists in this order).
pub(super) const FIRST_LOOK: &[&str] = &[
    "/proc/net/tcp",
    "/proc/net/tcp6",
    "/sys/fs/cgroup/cpuacct/cpuacct.usage",
    "/sys/fs/cgroup/cpu.stat",
    "/sys/fs/cgroup/memory/memory.usage_in_bytes",
    "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    "/sys/fs/cgroup/memory/memory.stat",
    "/sys/fs/cgroup/memory.current",
    "/sys/fs/cgroup/memory.max",
    "/sys/fs/cgroup/memory.stat",
    "/proc/stat",
];
pub(super) const CPU_FILES: &[&str] =
    &["/sys/fs/cgroup/cpuacct/cpuacct.usage", "/sys/fs/cgroup/cpu.stat", "/proc/stat"];

/// Host CPUs, from the `cpuN` lines of /proc/stat.
pub(super) fn cpu_count(proc_stat: &str) -> usize {
    proc_stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count()
        .max(1)
}

/// Percent of one CPU between two readings, as `docker stats` shows it.
pub(super) fn cpu_share((c1, s1): CpuReading, (c2, s2): CpuReading, cpus: usize) -> Option<f64> {
    let (dc, ds) = (c2.checked_sub(c1)?, s2.checked_sub(s1)?);
    (ds > 0).then(|| dc as f64 / ds as f64 * cpus as f64 * 100.0)
}

/// The CPU window when the counters are read on this host (no exec, timed by this clock).
pub(super) const HOST_CPU_WINDOW: Duration = Duration::from_millis(100);

/// What `FIRST_LOOK` reads inside the container, read from this host instead: the container's
/// network namespace through `/proc/PID/net`, its cgroup's files (v1 with the cgroupfs or
/// systemd driver, or v2), and /proc/stat, in `FIRST_LOOK`'s order. `None` when any part is
/// missing (another cgroup layout, no permission), so the exec is used.
pub(super) fn host_look(id: &str, pid: i64) -> Option<String> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let tcp = read(&format!("/proc/{pid}/net/tcp"))?;
    let tcp6 = read(&format!("/proc/{pid}/net/tcp6")).unwrap_or_default();
    let v1_dirs = [format!("docker/{id}"), format!("system.slice/docker-{id}.scope")];
    let v1 = v1_dirs.iter().find_map(|d| {
        let cpu = read(&format!("/sys/fs/cgroup/cpuacct/{d}/cpuacct.usage"))
            .or_else(|| read(&format!("/sys/fs/cgroup/cpu,cpuacct/{d}/cpuacct.usage")))?;
        let m = |f: &str| read(&format!("/sys/fs/cgroup/memory/{d}/{f}"));
        Some(format!("{cpu}{}{}{}", m("memory.usage_in_bytes")?, m("memory.limit_in_bytes")?, m("memory.stat")?))
    });
    let cgroup = match v1 {
        Some(t) => t,
        None => {
            let d = [format!("/sys/fs/cgroup/system.slice/docker-{id}.scope"), format!("/sys/fs/cgroup/docker/{id}")]
                .into_iter()
                .find(|d| std::path::Path::new(d).is_dir())?;
            let f = |n: &str| read(&format!("{d}/{n}"));
            format!("{}{}{}{}", f("cpu.stat")?, f("memory.current")?, f("memory.max")?, f("memory.stat")?)
        }
    };
    let stat = read("/proc/stat")?;
    Some(format!("{tcp}{tcp6}{cgroup}{stat}"))
}

/// The container's CPU counter read from this host's cgroup filesystem (cgroup v1 with the
/// cgroupfs or systemd driver, or v2), with the host's /proc/stat; `None` when not found.
pub(super) fn host_cpu_reading(id: &str) -> Option<CpuReading> {
    let candidates = [
        format!("/sys/fs/cgroup/cpuacct/docker/{id}/cpuacct.usage"),
        format!("/sys/fs/cgroup/cpu,cpuacct/docker/{id}/cpuacct.usage"),
        format!("/sys/fs/cgroup/cpuacct/system.slice/docker-{id}.scope/cpuacct.usage"),
        format!("/sys/fs/cgroup/system.slice/docker-{id}.scope/cpu.stat"),
        format!("/sys/fs/cgroup/docker/{id}/cpu.stat"),
    ];
    let counter = candidates.iter().find_map(|p| std::fs::read_to_string(p).ok())?;
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    parse_cpu_reading(&format!("{counter}\n{stat}"))
}

/// CPU share and memory from the first look and a later CPU reading, as `docker stats`
/// computes them (memory used = usage − inactive file cache).
pub fn parse_inside_stats(first: &str, later: Option<CpuReading>, interval_ms: u64) -> Option<StatsFacts> {
    let start = parse_cpu_reading(first);
    let v2 = first.lines().any(|l| l.starts_with("usage_usec "));
    let singles: Vec<&str> =
        first.lines().map(str::trim).filter(|l| !l.is_empty() && !l.contains(char::is_whitespace)).collect();
    // v1: cpuacct.usage, memory usage, memory limit; v2: memory.current, memory.max.
    let (usage, limit) = if v2 { (singles.first(), singles.get(1)) } else { (singles.get(1), singles.get(2)) };
    let usage: u64 = usage?.parse().ok()?;
    let limit: u64 = limit.and_then(|l| l.parse().ok()).filter(|l| *l < 1 << 60).unwrap_or(0);
    let stat = |key: &str| {
        first.lines().find_map(|l| {
            l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')).and_then(|n| n.trim().parse::<u64>().ok())
        })
    };
    let inactive = stat("total_inactive_file").or_else(|| stat("inactive_file")).unwrap_or(0);
    let cpu_percent = match (start, later) {
        (Some(a), Some(b)) => cpu_share(a, b, cpu_count(first)),
        _ => None,
    };
    Some(StatsFacts { cpu_percent, mem_used: usage.saturating_sub(inactive.min(usage)), mem_limit: limit, interval_ms })
}

/// Listening sockets from `/proc/net/tcp` and `/proc/net/tcp6` text (state 0A).
pub fn parse_proc_net_tcp(text: &str) -> Vec<Listener> {
    let mut v = Vec::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 4 || cols[3] != "0A" {
            continue;
        }
        let Some((addr_hex, port_hex)) = cols[1].split_once(':') else { continue };
        let Ok(port) = u16::from_str_radix(port_hex, 16) else { continue };
        let addr = match addr_hex.len() {
            8 => match u32::from_str_radix(addr_hex, 16) {
                Ok(n) => std::net::Ipv4Addr::from(n.swap_bytes()).to_string(),
                Err(_) => continue,
            },
            32 => {
                let mut bytes = [0u8; 16];
                let mut ok = true;
                for (i, chunk) in addr_hex.as_bytes().chunks(8).enumerate() {
                    match std::str::from_utf8(chunk).ok().and_then(|c| u32::from_str_radix(c, 16).ok()) {
                        Some(word) => bytes[i * 4..i * 4 + 4].copy_from_slice(&word.swap_bytes().to_be_bytes()),
                        None => ok = false,
                    }
                }
                if !ok {
                    continue;
                }
                std::net::Ipv6Addr::from(bytes).to_string()
            }
            _ => continue,
        };
        if !v.iter().any(|l: &Listener| l.addr == addr && l.port == port) {
            v.push(Listener { addr, port });
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_from_inside_v1_and_v2() {
        let v1 = "  sl  local_address\n1000000000\n52428800\n9223372036854771712\ncache 1\ntotal_inactive_file 2428800\ncpu  100 0 100 800 0 0 0 0\ncpu0 1\ncpu1 1\n";
        let s = parse_inside_stats(v1, Some((2_000_000_000, 10_000_000_000 + 200 * 10_000_000)), 150).unwrap();
        assert_eq!((s.mem_used, s.mem_limit), (50_000_000, 0));
        let cpu = s.cpu_percent.unwrap();
        assert!((cpu - 100.0).abs() < 1e-6, "{cpu}");
        let v2 = "usage_usec 1000\n2000000\nmax\ninactive_file 1000000\ncpu  1 1 1 1 1 1 1\n";
        let s = parse_inside_stats(v2, None, 150).unwrap();
        assert_eq!((s.mem_used, s.mem_limit, s.cpu_percent), (1_000_000, 0, None));
        assert!(parse_inside_stats("garbage", None, 0).is_none());
    }

    #[test]
    fn cpu_readings() {
        assert_eq!(
            parse_cpu_reading("1177333793\ncpu  501268 0 133042 496851 6886 0 1630 6661 0 0\ncpu0 1 2 3 4 5 6 7\n"),
            Some((1_177_333_793, 11_396_770_000_000))
        );
        assert_eq!(parse_cpu_reading("usage_usec 5\ncpu  1 1 1 1 1 1 1 1\n"), Some((5000, 70_000_000)));
        assert_eq!(parse_cpu_reading("cpu 1 2"), None);
        assert_eq!(parse_cpu_reading(""), None);
    }

    #[test]
    fn proc_net_tcp_listeners() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 1 1 0 100 0 0 10 0
   1: 0100007F:1F42 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
   2: 0100007F:1F42 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0
  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:18EB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000
   1: 00000000000000000000000001000000:1538 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000
garbage line
   9: ZZZZ:1538 00000000:0000 0A";
        let l = parse_proc_net_tcp(text);
        let got: Vec<(String, u16)> = l.into_iter().map(|x| (x.addr, x.port)).collect();
        assert_eq!(
            got,
            vec![("0.0.0.0".into(), 5432), ("127.0.0.1".into(), 8002), ("::".into(), 6379), ("::1".into(), 5432)]
        );
    }
}
