//! Message counters for the management API and Prometheus, read at scrape time.
//!
//! Each counter is a relaxed atomic owned by one object (a queue, a connection), so counting a
//! message costs one uncontended `fetch_add` and never a lock; readers take a [`MessageStats`]
//! snapshot whenever they are asked.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one object (queue, connection, vhost totals of deleted queues...).
#[derive(Debug, Default)]
pub struct MessageCounters {
    pub publish: AtomicU64,
    pub deliver: AtomicU64,
    pub deliver_no_ack: AtomicU64,
    pub get: AtomicU64,
    pub get_no_ack: AtomicU64,
    pub ack: AtomicU64,
    pub redeliver: AtomicU64,
    pub confirm: AtomicU64,
    pub return_unroutable: AtomicU64,
    pub drop_unroutable: AtomicU64,
    pub get_empty: AtomicU64,
}

/// A snapshot of [`MessageCounters`], in RabbitMQ's `message_stats` names.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MessageStats {
    pub publish: u64,
    pub deliver: u64,
    pub deliver_no_ack: u64,
    pub get: u64,
    pub get_no_ack: u64,
    pub ack: u64,
    pub redeliver: u64,
    pub confirm: u64,
    pub return_unroutable: u64,
    pub drop_unroutable: u64,
    pub get_empty: u64,
}

/// Adds `n` to a counter (relaxed: counters order nothing). Adding 0 touches nothing.
#[inline]
pub fn bump(c: &AtomicU64, n: u64) {
    if n != 0 {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

impl MessageCounters {
    pub fn snapshot(&self) -> MessageStats {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MessageStats {
            publish: r(&self.publish),
            deliver: r(&self.deliver),
            deliver_no_ack: r(&self.deliver_no_ack),
            get: r(&self.get),
            get_no_ack: r(&self.get_no_ack),
            ack: r(&self.ack),
            redeliver: r(&self.redeliver),
            confirm: r(&self.confirm),
            return_unroutable: r(&self.return_unroutable),
            drop_unroutable: r(&self.drop_unroutable),
            get_empty: r(&self.get_empty),
        }
    }

    /// Adds a snapshot (a deleted queue's or closed connection's counts, kept in totals).
    pub fn add(&self, s: &MessageStats) {
        bump(&self.publish, s.publish);
        bump(&self.deliver, s.deliver);
        bump(&self.deliver_no_ack, s.deliver_no_ack);
        bump(&self.get, s.get);
        bump(&self.get_no_ack, s.get_no_ack);
        bump(&self.ack, s.ack);
        bump(&self.redeliver, s.redeliver);
        bump(&self.confirm, s.confirm);
        bump(&self.return_unroutable, s.return_unroutable);
        bump(&self.drop_unroutable, s.drop_unroutable);
        bump(&self.get_empty, s.get_empty);
    }
}

impl MessageStats {
    pub fn add(&mut self, s: &MessageStats) {
        self.publish += s.publish;
        self.deliver += s.deliver;
        self.deliver_no_ack += s.deliver_no_ack;
        self.get += s.get;
        self.get_no_ack += s.get_no_ack;
        self.ack += s.ack;
        self.redeliver += s.redeliver;
        self.confirm += s.confirm;
        self.return_unroutable += s.return_unroutable;
        self.drop_unroutable += s.drop_unroutable;
        self.get_empty += s.get_empty;
    }

    /// What was counted since `before` (counts only grow).
    pub fn since(&self, before: &MessageStats) -> MessageStats {
        MessageStats {
            publish: self.publish - before.publish,
            deliver: self.deliver - before.deliver,
            deliver_no_ack: self.deliver_no_ack - before.deliver_no_ack,
            get: self.get - before.get,
            get_no_ack: self.get_no_ack - before.get_no_ack,
            ack: self.ack - before.ack,
            redeliver: self.redeliver - before.redeliver,
            confirm: self.confirm - before.confirm,
            return_unroutable: self.return_unroutable - before.return_unroutable,
            drop_unroutable: self.drop_unroutable - before.drop_unroutable,
            get_empty: self.get_empty - before.get_empty,
        }
    }

    /// deliver + deliver_no_ack + get + get_no_ack (RabbitMQ's `deliver_get`).
    pub fn deliver_get(&self) -> u64 {
        self.deliver + self.deliver_no_ack + self.get + self.get_no_ack
    }
}

/// Channel and queue churn since start (RabbitMQ's `rabbitmq_channels_opened_total`,
/// `rabbitmq_queues_declared_total`...) and the publishing channels, shared by the broker and
/// its vhosts. Each is bumped once per channel or queue event, never per message.
#[derive(Debug, Default)]
pub struct Churn {
    pub channels_opened: AtomicU64,
    pub channels_closed: AtomicU64,
    /// Every non-passive queue.declare, new queue or not (RabbitMQ counts it before the
    /// equivalence check).
    pub queues_declared: AtomicU64,
    pub queues_created: AtomicU64,
    pub queues_deleted: AtomicU64,
    /// Open channels that have published (RabbitMQ's `rabbitmq_global_publishers`, a gauge):
    /// up at a channel's first publish, down when it closes.
    pub publishers: AtomicU64,
}

/// Upper bounds of RabbitMQ's message size histogram (`rabbitmq_message_size_bytes`, bytes of
/// body); a last bucket takes the larger ones (`+Inf`).
pub const MESSAGE_SIZE_BOUNDS: [u64; 8] = [
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    50_000_000,
    100_000_000,
];

/// What a channel counts of its publishes besides [`MessageStats`]: publishes on a confirm or
/// transactional channel (RabbitMQ's `messages_received_confirm`) and body sizes. Plain numbers
/// owned by the channel; its connection drains them into [`PublishCounters`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PublishStats {
    pub confirm_mode: u64,
    /// Publishes per size bucket ([`MESSAGE_SIZE_BOUNDS`], then the larger ones).
    pub sizes: [u64; 9],
    pub size_sum: u64,
}

impl PublishStats {
    /// Counts one publish of a `size`-byte body.
    #[inline]
    pub fn observe(&mut self, size: u64, confirm_mode: bool) {
        let bucket = MESSAGE_SIZE_BOUNDS.partition_point(|&b| b < size);
        self.sizes[bucket] += 1;
        self.size_sum += size;
        self.confirm_mode += u64::from(confirm_mode);
    }

    pub fn add(&mut self, o: &PublishStats) {
        self.confirm_mode += o.confirm_mode;
        for (a, b) in self.sizes.iter_mut().zip(o.sizes) {
            *a += b;
        }
        self.size_sum += o.size_sum;
    }
}

/// [`PublishStats`] of a connection (or of the closed ones), read at scrape time.
#[derive(Debug, Default)]
pub struct PublishCounters {
    confirm_mode: AtomicU64,
    sizes: [AtomicU64; 9],
    size_sum: AtomicU64,
}

impl PublishCounters {
    /// Adds what `s` counted (each nonzero number one uncontended `fetch_add`).
    pub fn add(&self, s: &PublishStats) {
        bump(&self.confirm_mode, s.confirm_mode);
        for (c, n) in self.sizes.iter().zip(s.sizes) {
            bump(c, n);
        }
        bump(&self.size_sum, s.size_sum);
    }

    /// Adds what `s` counted and zeroes it.
    pub fn drain(&self, s: &mut PublishStats) {
        self.add(s);
        *s = PublishStats::default();
    }

    pub fn snapshot(&self) -> PublishStats {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PublishStats {
            confirm_mode: r(&self.confirm_mode),
            sizes: std::array::from_fn(|i| r(&self.sizes[i])),
            size_sum: r(&self.size_sum),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_fall_in_rabbitmqs_buckets() {
        let mut s = PublishStats::default();
        for size in [0, 100, 101, 1_000, 100_000_000, 100_000_001] {
            s.observe(size, false);
        }
        assert_eq!(s.sizes, [2, 2, 0, 0, 0, 0, 0, 1, 1]);
        assert_eq!(s.size_sum, 200_001_202);
        assert_eq!(s.confirm_mode, 0);
    }
}
