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
