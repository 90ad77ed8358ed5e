//! Latency histograms and the end-of-run report: human text, the harness's
//! `RESULT key=value ...` line, and one JSON object.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency recorded exactly (1 hour in microseconds); larger values saturate.
const MAX_US: u64 = 3_600_000_000;

/// A latency histogram in microseconds (3 significant digits).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("static histogram bounds are valid")
}

/// Percentiles of one latency distribution, in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LatencyStats {
    pub count: u64,
    pub min_us: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p75_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl LatencyStats {
    /// `None` for an empty histogram.
    pub fn from_histogram(h: &Histogram<u64>) -> Option<LatencyStats> {
        if h.is_empty() {
            return None;
        }
        Some(LatencyStats {
            count: h.len(),
            min_us: h.min(),
            mean_us: h.mean(),
            p50_us: h.value_at_quantile(0.50),
            p75_us: h.value_at_quantile(0.75),
            p95_us: h.value_at_quantile(0.95),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        })
    }
}

/// Everything a run measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub label: String,
    pub producers: usize,
    pub consumers: usize,
    pub size: usize,
    /// Messages handed to the socket (whole publishes).
    pub sent: u64,
    /// `sent / sent_secs`; `None` without producers.
    pub sent_rate: Option<f64>,
    /// The run duration (`-z`), or the time the producers took.
    pub sent_secs: f64,
    /// Publisher confirms: acked and nacked publishes.
    pub confirmed: u64,
    pub nacked: u64,
    /// Deliveries counted by the consumers.
    pub received: u64,
    /// `received / recv_secs`; `None` without consumers.
    pub recv_rate: Option<f64>,
    /// The run duration (`-z`), or the time from the start to the last delivery.
    pub recv_secs: f64,
    /// With `--wait-enqueued`: messages / time until the queues held them all.
    pub enq_rate: Option<f64>,
    /// End-to-end latency: consumer receive time - publish timestamp in the body.
    pub latency: Option<LatencyStats>,
    /// Publish -> covering basic.ack from the broker.
    pub confirm_latency: Option<LatencyStats>,
}

/// A rate, or `None` when there is nothing to divide.
pub fn rate(count: u64, secs: f64) -> Option<f64> {
    (secs > 0.0 && secs.is_finite()).then(|| count as f64 / secs)
}

fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.0}"),
        _ => "NaN".into(),
    }
}

fn int(v: Option<u64>) -> String {
    v.map_or_else(|| "NaN".into(), |v| v.to_string())
}

impl Report {
    /// The `RESULT key=value ...` line, with the fields and spelling of the
    /// bench harness's `amqp-load` (`NaN` for what was not measured).
    pub fn result_line(&self) -> String {
        let lat = self.latency.as_ref();
        let clat = self.confirm_latency.as_ref();
        format!(
            "RESULT label={} sent={} sent_rate={} confirmed={} nacked={} received={} recv_rate={} \
             recv_secs={:.3} enq_rate={} lat_p50_us={} lat_p99_us={} lat_p999_us={} lat_max_us={} \
             confirm_p50_us={} confirm_p99_us={}",
            if self.label.is_empty() {
                "-"
            } else {
                &self.label
            },
            self.sent,
            num(self.sent_rate),
            self.confirmed,
            self.nacked,
            self.received,
            num(self.recv_rate),
            self.recv_secs,
            num(self.enq_rate),
            int(lat.map(|l| l.p50_us)),
            int(lat.map(|l| l.p99_us)),
            int(lat.map(|l| l.p999_us)),
            int(lat.map(|l| l.max_us)),
            int(clat.map(|l| l.p50_us)),
            int(clat.map(|l| l.p99_us)),
        )
    }

    /// One JSON object on one line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report always serializes")
    }

    /// The human-readable summary.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "warren perf: {} producer(s), {} consumer(s), {} B messages{}",
            self.producers,
            self.consumers,
            self.size,
            if self.label.is_empty() {
                String::new()
            } else {
                format!(" [{}]", self.label)
            }
        );
        if self.producers > 0 {
            let _ = writeln!(
                s,
                "  published  {:>12} msgs in {:.3} s = {:>12} msg/s",
                self.sent,
                self.sent_secs,
                num(self.sent_rate)
            );
        }
        if self.confirmed > 0 || self.nacked > 0 || self.confirm_latency.is_some() {
            let _ = writeln!(
                s,
                "  confirmed  {:>12} acked, {} nacked",
                self.confirmed, self.nacked
            );
        }
        if let Some(r) = self.enq_rate {
            let _ = writeln!(s, "  enqueued   {:>12} msg/s", num(Some(r)));
        }
        if self.consumers > 0 {
            let _ = writeln!(
                s,
                "  consumed   {:>12} msgs in {:.3} s = {:>12} msg/s",
                self.received,
                self.recv_secs,
                num(self.recv_rate)
            );
        }
        for (name, l) in [
            ("latency", &self.latency),
            ("confirm latency", &self.confirm_latency),
        ] {
            if let Some(l) = l {
                let _ = writeln!(
                    s,
                    "  {name} (us): p50 {} p75 {} p95 {} p99 {} p99.9 {} max {} (min {}, mean {:.1}, n={})",
                    l.p50_us, l.p75_us, l.p95_us, l.p99_us, l.p999_us, l.max_us, l.min_us, l.mean_us, l.count
                );
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_uniform_distribution() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v).unwrap();
        }
        let l = LatencyStats::from_histogram(&h).unwrap();
        assert_eq!(l.count, 1000);
        assert_eq!((l.min_us, l.max_us), (1, 1000));
        assert_eq!(l.p50_us, 500);
        assert_eq!(l.p75_us, 750);
        assert_eq!(l.p95_us, 950);
        assert_eq!(l.p99_us, 990);
        assert_eq!(l.p999_us, 999);
        assert!((l.mean_us - 500.5).abs() < 0.01);
    }

    #[test]
    fn percentiles_of_a_skewed_distribution_and_merge() {
        // 99% at 50 us, 0.9% at 2 ms, 0.1% at 1 s: p99 is still 50, p99.9 = 2000.
        let mut a = new_histogram();
        a.record_n(50, 9_900).unwrap();
        let mut b = new_histogram();
        b.record_n(2_000, 90).unwrap();
        b.record_n(1_000_000, 10).unwrap();
        a.add(&b).unwrap();
        let l = LatencyStats::from_histogram(&a).unwrap();
        assert_eq!(l.count, 10_000);
        assert_eq!(l.p50_us, 50);
        assert_eq!(l.p99_us, 50);
        assert_eq!(l.p999_us, 2_000);
        // 3 significant digits: within 0.1%.
        assert!(l.max_us.abs_diff(1_000_000) <= 1_000, "{}", l.max_us);
        // Values past an hour saturate instead of failing.
        a.saturating_record(u64::MAX);
        assert!(a.max() >= MAX_US);
    }

    #[test]
    fn empty_histogram_and_rates() {
        assert_eq!(LatencyStats::from_histogram(&new_histogram()), None);
        assert_eq!(rate(1000, 2.0), Some(500.0));
        assert_eq!(rate(1000, 0.0), None);
        assert_eq!(rate(1000, f64::NAN), None);
    }

    #[test]
    fn result_line_and_json() {
        let mut h = new_histogram();
        h.record_n(120, 10).unwrap();
        let r = Report {
            label: String::new(),
            producers: 1,
            consumers: 1,
            size: 16,
            sent: 1000,
            sent_rate: rate(1000, 0.5),
            sent_secs: 0.5,
            confirmed: 1000,
            nacked: 0,
            received: 1000,
            recv_rate: rate(1000, 0.25),
            recv_secs: 0.25,
            enq_rate: None,
            latency: LatencyStats::from_histogram(&h),
            confirm_latency: None,
        };
        assert_eq!(
            r.result_line(),
            "RESULT label=- sent=1000 sent_rate=2000 confirmed=1000 nacked=0 received=1000 \
             recv_rate=4000 recv_secs=0.250 enq_rate=NaN lat_p50_us=120 lat_p99_us=120 \
             lat_p999_us=120 lat_max_us=120 confirm_p50_us=NaN confirm_p99_us=NaN"
        );
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["sent"], 1000);
        assert_eq!(v["recv_rate"], 4000.0);
        assert_eq!(v["latency"]["p99_us"], 120);
        assert!(v["confirm_latency"].is_null());
        assert!(v["enq_rate"].is_null());
        let text = r.text();
        assert!(text.contains("published"), "{text}");
        assert!(text.contains("p99.9 120"), "{text}");
    }
}
