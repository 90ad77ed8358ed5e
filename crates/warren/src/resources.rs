//! The resource monitor: the broker's memory against the high watermark and the data
//! directory's free disk space against its limit. Past either, the broker's alarm is raised
//! and publishing connections are blocked (connection.blocked, and their sockets are not read)
//! until the use is back under the limit.
//!
//! Memory is what the allocator (jemalloc) has handed out and not got back: message bodies,
//! queue indexes, socket buffers, everything. It falls as soon as consumers drain the queues,
//! so blocked publishers resume then; the RSS lags behind it (pages go back to the OS by
//! jemalloc's decay), which is why it is not the figure the alarm uses (RabbitMQ's
//! `vm_memory_calculation_strategy = allocated` is the same idea).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

/// How often memory and disk are sampled.
const INTERVAL: Duration = Duration::from_millis(250);

/// `memory_high_watermark`: a fraction of the machine's RAM, or a size.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Watermark {
    Fraction(f64),
    Size(String),
}

/// Parses sizes as RabbitMQ's config does: "50MB", "128MiB", "1GB", "4096" (bytes).
pub fn parse_size(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let digits = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(digits);
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size '{s}'"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "kib" => 1024.0,
        "mb" | "m" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "gb" | "g" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => anyhow::bail!("unknown size unit '{other}' in '{s}'"),
    };
    Ok((n * mult) as u64)
}

/// The resolved limits, in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceLimits {
    pub memory: u64,
    /// Past this much memory, message bodies are paged out to disk (u64::MAX: never).
    pub paging: u64,
    pub disk_free: u64,
}

impl ResourceLimits {
    /// Defaults as RabbitMQ: 40% of RAM, paging past half of it, 50 MB of free disk.
    pub fn resolve(
        watermark: Option<&Watermark>,
        paging_ratio: Option<f64>,
        disk_free: Option<&str>,
    ) -> anyhow::Result<ResourceLimits> {
        let total = total_memory().unwrap_or(8 << 30);
        let memory = match watermark.unwrap_or(&Watermark::Fraction(0.4)) {
            Watermark::Fraction(f) => {
                anyhow::ensure!(*f > 0.0, "memory_high_watermark must be above 0");
                (total as f64 * f) as u64
            }
            Watermark::Size(s) => parse_size(s)?,
        };
        let ratio = paging_ratio.unwrap_or(0.5);
        anyhow::ensure!(
            ratio >= 0.0 && ratio.is_finite(),
            "memory_high_watermark_paging_ratio must be 0 or more"
        );
        // As in RabbitMQ, a ratio above 1 never pages: the alarm comes first.
        let paging = if ratio > 1.0 {
            u64::MAX
        } else {
            (memory as f64 * ratio) as u64
        };
        let disk_free = match disk_free {
            Some(s) => parse_size(s)?,
            None => 50_000_000,
        };
        Ok(ResourceLimits {
            memory,
            paging,
            disk_free,
        })
    }

    /// The alarm a reading gives, if any: RabbitMQ's `connection.blocked` reason, which stays
    /// the same for as long as the same resources are short (a reason that changed with every
    /// sample would log and wake every connection four times a second during an alarm).
    pub fn check(&self, used: u64, disk_available: Option<u64>) -> Option<&'static str> {
        let memory = used > self.memory;
        let disk = disk_available.is_some_and(|free| free < self.disk_free);
        match (memory, disk) {
            (true, true) => Some("low on disk & memory"),
            (true, false) => Some("low on memory"),
            (false, true) => Some("low on disk"),
            (false, false) => None,
        }
    }

    /// The figures behind an alarm, for the log.
    pub fn describe(&self, used: u64, disk_available: Option<u64>) -> String {
        format!(
            "memory {} MiB used, high watermark {} MiB; disk {} free, limit {} MB",
            used >> 20,
            self.memory >> 20,
            disk_available.map_or("unknown".to_string(), |f| format!("{} MB", f / 1_000_000)),
            self.disk_free / 1_000_000
        )
    }
}

fn total_memory() -> Option<u64> {
    meminfo_kb("/proc/meminfo", "MemTotal:").map(|kb| kb * 1024)
}

/// Bytes allocated and not freed (jemalloc's count); the RSS if jemalloc cannot say.
pub fn memory_used() -> Option<u64> {
    use tikv_jemalloc_ctl::{epoch, stats};
    // jemalloc's statistics are a snapshot refreshed by advancing the epoch.
    let allocated = epoch::advance()
        .ok()
        .and_then(|_| stats::allocated::read().ok());
    allocated.map(|b| b as u64).or_else(rss)
}

/// The process's resident set size.
pub fn rss() -> Option<u64> {
    meminfo_kb("/proc/self/status", "VmRSS:").map(|kb| kb * 1024)
}

fn meminfo_kb(file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Samples memory and disk and raises or clears the broker's alarm; past the paging
/// threshold, has the queues page their bodies out to the transient store (see
/// `warren_core::paging`).
pub async fn monitor(broker: Arc<warren_core::Broker>, limits: ResourceLimits, data_dir: PathBuf) {
    // Without it jemalloc purges freed pages only when the process allocates again: an idle
    // broker would keep the RSS of its last burst.
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!("jemalloc background thread not started: {e}");
    }
    let mut tick = tokio::time::interval(INTERVAL);
    // A long page-out round delays the next sample rather than bunching them up.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = None;
    loop {
        // Every tick, and at once when connections have read a lot (a flood).
        tokio::select! {
            _ = tick.tick() => {}
            _ = broker.memory_grown() => {}
        }
        let disk = available(&data_dir);
        let used = memory_used().unwrap_or(0);
        tracing::trace!(used, rss = rss().unwrap_or(0), "memory");
        let alarm = limits.check(used, disk);
        if alarm.is_some() && alarm != last {
            tracing::warn!(
                "{}: {}",
                alarm.unwrap_or_default(),
                limits.describe(used, disk)
            );
        }
        last = alarm;
        broker.set_alarm(alarm.map(str::to_owned));
        if let Some(pager) = broker.pager() {
            pager.set_pressure(used > limits.paging);
            // Disk writes: off the runtime's workers, and one round at a time.
            let b = broker.clone();
            let _ = tokio::task::spawn_blocking(move || {
                b.page_out();
                if let Some(p) = b.pager() {
                    p.flush();
                }
            })
            .await;
        }
    }
}

fn available(dir: &Path) -> Option<u64> {
    fs4::available_space(dir).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_rabbitmq() {
        assert_eq!(parse_size("50MB").unwrap(), 50_000_000);
        assert_eq!(parse_size("128MiB").unwrap(), 128 << 20);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5XB").is_err());
    }

    #[test]
    fn limits_and_alarms() {
        let l = ResourceLimits::resolve(Some(&Watermark::Size("100MiB".into())), None, Some("1GB"))
            .unwrap();
        assert_eq!((l.memory, l.paging), (100 << 20, 50 << 20));
        assert_eq!(l.check(50 << 20, Some(2_000_000_000)), None);
        // RabbitMQ's connection.blocked reasons, the same whatever the figures
        assert_eq!(
            l.check(200 << 20, Some(2_000_000_000)),
            Some("low on memory")
        );
        assert_eq!(
            l.check(300 << 20, Some(2_000_000_000)),
            Some("low on memory")
        );
        assert_eq!(l.check(50 << 20, Some(1_000)), Some("low on disk"));
        assert_eq!(
            l.check(200 << 20, Some(1_000)),
            Some("low on disk & memory")
        );
        let f = ResourceLimits::resolve(Some(&Watermark::Fraction(0.4)), None, None).unwrap();
        assert!(f.memory > 0);
        assert_eq!(f.disk_free, 50_000_000);
        assert!(ResourceLimits::resolve(Some(&Watermark::Fraction(0.0)), None, None).is_err());
        let size = Watermark::Size("100MiB".into());
        let never = ResourceLimits::resolve(Some(&size), Some(1.5), None).unwrap();
        assert_eq!(never.paging, u64::MAX);
        let always = ResourceLimits::resolve(Some(&size), Some(0.0), None).unwrap();
        assert_eq!(always.paging, 0);
        assert!(ResourceLimits::resolve(Some(&size), Some(-1.0), None).is_err());
    }
}
