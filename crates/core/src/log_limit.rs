//! Repeated log lines, rate-limited: a full disk fails every write and the fd limit every
//! accept, and a line per failure (1,673 a second were seen) buries everything else in the log.
//! A [`LogLimit`] lets one line through per interval and counts those it held back, so the
//! next line says how many there were.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One kind of repeated line (a `static` beside the log call).
#[derive(Debug)]
pub struct LogLimit {
    every: Duration,
    last: Mutex<Option<Instant>>,
    held_back: AtomicU64,
}

impl LogLimit {
    pub const fn new(every: Duration) -> LogLimit {
        LogLimit {
            every,
            last: Mutex::new(None),
            held_back: AtomicU64::new(0),
        }
    }

    /// Should this line be written? `Some(n)`: yes, and `n` like it were held back since the
    /// last one written; `None`: no (it is counted).
    pub fn allow(&self) -> Option<u64> {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match *last {
            Some(t) if now.saturating_duration_since(t) < self.every => {
                self.held_back.fetch_add(1, Ordering::Relaxed);
                None
            }
            _ => {
                *last = Some(now);
                Some(self.held_back.swap(0, Ordering::Relaxed))
            }
        }
    }
}

/// `tracing::error!` / `warn!` at most once per interval of `$limit` (a `static LogLimit`),
/// with `held_back = n` when lines like it were left out.
#[macro_export]
macro_rules! limited {
    ($level:ident, $limit:expr, $($arg:tt)+) => {
        if let Some(held_back) = $limit.allow() {
            if held_back > 0 {
                tracing::$level!(held_back, $($arg)+);
            } else {
                tracing::$level!($($arg)+);
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_and_the_count_of_the_rest() {
        let l = LogLimit::new(Duration::from_secs(5));
        let t0 = Instant::now();
        assert_eq!(l.allow_at(t0), Some(0));
        for i in 1..=100 {
            assert_eq!(l.allow_at(t0 + Duration::from_millis(i * 10)), None);
        }
        assert_eq!(l.allow_at(t0 + Duration::from_secs(5)), Some(100));
        assert_eq!(l.allow_at(t0 + Duration::from_secs(6)), None);
        assert_eq!(l.allow_at(t0 + Duration::from_secs(11)), Some(1));
    }
}
