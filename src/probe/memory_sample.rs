//! `doctor perf --sample DURATION`: every running container's memory, sampled several times over
//! the duration (as `docker stats --no-stream` repeated by hand), so that PERF002 can say how
//! fast it grows and when it would reach its limit at that rate. The engine's one-shot stats are
//! used: at one sample per second or slower, its once-a-second collector costs nothing extra.

use super::docker::{self, DockerFacts, DockerProbeConfig, stats_from};
use super::until;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemorySeries {
    pub container: String,
    pub limit: Option<u64>,
    /// (seconds since the first sample, bytes used as `docker stats` counts them).
    pub points: Vec<(f64, u64)>,
}

impl MemorySeries {
    /// Least-squares growth in bytes per second; `None` with fewer than three points.
    pub fn slope(&self) -> Option<f64> {
        if self.points.len() < 3 {
            return None;
        }
        let n = self.points.len() as f64;
        let mx = self.points.iter().map(|p| p.0).sum::<f64>() / n;
        let my = self.points.iter().map(|p| p.1 as f64).sum::<f64>() / n;
        let sxx: f64 = self.points.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = self.points.iter().map(|p| (p.0 - mx) * (p.1 as f64 - my)).sum();
        (sxx > 0.0).then(|| sxy / sxx)
    }
    pub fn span_s(&self) -> f64 {
        match (self.points.first(), self.points.last()) {
            (Some(a), Some(b)) => b.0 - a.0,
            _ => 0.0,
        }
    }
}

/// This many readings over a long duration; one a second over a short one.
const SAMPLES: u32 = 10;

pub async fn sample(cfg: &DockerProbeConfig, facts: &DockerFacts, duration: Duration) -> Vec<MemorySeries> {
    let host = cfg.host.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| docker::DEFAULT_HOST.to_string());
    let Ok(engine) = docker::connect(&host, cfg.timeout, cfg.tls_cert_path.as_deref()) else { return Vec::new() };
    let running: Vec<(String, String, Option<u64>)> = facts
        .containers
        .iter()
        .filter_map(|l| l.container.as_ref())
        .filter(|c| c.running)
        .map(|c| (c.id.clone(), c.name.clone(), c.memory_limit))
        .collect();
    let mut series: Vec<MemorySeries> = running
        .iter()
        .map(|(_, name, limit)| MemorySeries { container: name.clone(), limit: *limit, points: Vec::new() })
        .collect();
    // Readings on fixed slots from the start to the end of the duration (the last one at its
    // end), so that the series spans what was asked: `--sample 30s` spans 30s.
    let interval = (duration / (SAMPLES - 1)).max(Duration::from_secs(1));
    let slots = if interval > duration / (SAMPLES - 1) { duration.as_secs() as u32 + 1 } else { SAMPLES };
    let start = Instant::now();
    for k in 0..slots {
        tokio::time::sleep_until(start + interval * k).await;
        let at = Instant::now();
        let readings = futures_util::future::join_all(
            running.iter().map(|(id, _, _)| until(at + cfg.timeout, docker::one_shot(&engine, id))),
        )
        .await;
        let t = at.duration_since(start).as_secs_f64();
        for (s, r) in series.iter_mut().zip(readings) {
            if let Some(Some(stats)) = r {
                s.points.push((t, stats_from(&stats, None).mem_used));
            }
        }
    }
    series
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn slope_of_a_steady_growth() {
        let s = MemorySeries { container: "c".into(), limit: None, points: vec![(0.0, 100), (1.0, 300), (2.0, 500)] };
        assert_eq!(s.slope(), Some(200.0));
        assert_eq!(s.span_s(), 2.0);
        let flat = MemorySeries { points: vec![(0.0, 5), (1.0, 5), (2.0, 5)], ..Default::default() };
        assert_eq!(flat.slope(), Some(0.0));
        assert_eq!(MemorySeries::default().slope(), None);
    }
}
