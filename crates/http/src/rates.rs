//! Rates: one task samples the broker's counters every interval and keeps the differences, so
//! `*_details.rate` fields and the dashboard's charts cost a request nothing to compute.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use serde::Serialize;
use warren_core::{Broker, MessageStats};

/// How long the sampler waits for the busy connections to describe their channels.
pub const CHANNEL_INSPECT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1000);

/// Samples kept for the overview charts.
pub const HISTORY: usize = 120;

/// RabbitMQ's `churn_rates` counters (overview, node), in this order: connections, channels
/// opened and closed, queues declared (every non-passive declare), created and deleted.
pub const CHURN: [&str; 7] = [
    "connection_created",
    "connection_closed",
    "channel_created",
    "channel_closed",
    "queue_declared",
    "queue_created",
    "queue_deleted",
];

/// The counts of [`CHURN`] since start.
pub fn churn(broker: &Broker) -> [u64; 7] {
    let r = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    let (opened, closed) = broker.connections.churn();
    let c = &broker.churn;
    [
        opened,
        closed,
        r(&c.channels_opened),
        r(&c.channels_closed),
        r(&c.queues_declared),
        r(&c.queues_created),
        r(&c.queues_deleted),
    ]
}

/// The node's gauges that have `_details.rate` in `/api/nodes`, in this order.
pub const NODE_GAUGES: [&str; 5] = [
    "mem_used",
    "fd_used",
    "sockets_used",
    "proc_used",
    "disk_free",
];

/// Erlang's default process limit, which RabbitMQ reports as `proc_total`. Warren's
/// counterpart of an Erlang process is a tokio task (each connection runs as tasks), and
/// tokio sets no limit on them: `proc_total` reports this nominal ceiling so that tools'
/// `proc_used / proc_total` reads as it does on RabbitMQ.
pub const PROC_TOTAL: u64 = 1_048_576;

/// Tasks alive in the runtime serving the caller (`proc_used`), 0 outside one.
pub fn proc_used() -> u64 {
    tokio::runtime::Handle::try_current().map_or(0, |h| h.metrics().num_alive_tasks() as u64)
}

/// Tasks waiting in the runtime's global queue (`run_queue`, as the Erlang run queue).
pub fn run_queue() -> u64 {
    tokio::runtime::Handle::try_current().map_or(0, |h| h.metrics().global_queue_depth() as u64)
}

/// The free disk space of the data directory, when the binary tells (see `NodeResources`).
pub type DiskFree = Arc<dyn Fn() -> Option<u64> + Send + Sync>;

/// The values of [`NODE_GAUGES`] now.
pub fn node_gauges(broker: &Broker, disk_free: Option<&DiskFree>) -> [u64; 5] {
    [
        crate::api::rss_bytes(),
        std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64),
        broker.connections.len() as u64,
        proc_used(),
        disk_free.and_then(|f| f()).unwrap_or(0),
    ]
}

/// Broker-wide message counts: what channels count (publish, confirm, unroutable, get-empty)
/// from the connections; deliveries, gets and acks from the queues (API gets included).
pub fn totals(broker: &Broker) -> MessageStats {
    let mut t = MessageStats::default();
    for v in broker.vhosts() {
        t.add(&v.retired.snapshot());
        for q in v.queues() {
            t.add(&q.counters.snapshot());
        }
    }
    channel_counts(&mut t, &broker.connections.totals());
    t
}

/// Takes the channel-side counts from `conns` (queues never count these).
fn channel_counts(t: &mut MessageStats, conns: &MessageStats) {
    t.publish = conns.publish;
    t.confirm = conns.confirm;
    t.return_unroutable = conns.return_unroutable;
    t.drop_unroutable = conns.drop_unroutable;
    t.get_empty = conns.get_empty;
}

/// Per-second rates of a [`MessageStats`], plus up to three gauges' rates of change.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Rates {
    pub publish: f64,
    pub deliver: f64,
    pub deliver_no_ack: f64,
    pub get: f64,
    pub get_no_ack: f64,
    pub ack: f64,
    pub redeliver: f64,
    pub deliver_get: f64,
    pub confirm: f64,
    pub return_unroutable: f64,
    pub drop_unroutable: f64,
    pub get_empty: f64,
    /// Rates of change of the gauges sampled with the counters (messages, ready, unacked for
    /// queues; recv_oct, send_oct for connections; publish_in, publish_out for exchanges).
    pub gauges: [f64; 3],
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    stats: MessageStats,
    gauges: [u64; 3],
}

fn rate(now: u64, then: u64, secs: f64) -> f64 {
    if secs <= 0.0 {
        return 0.0;
    }
    let r = (now as f64 - then as f64) / secs;
    (r * 10.0).round() / 10.0
}

fn rates(prev: &Sample, cur: &Sample) -> Rates {
    let s = cur.at.duration_since(prev.at).as_secs_f64();
    let (a, b) = (&cur.stats, &prev.stats);
    Rates {
        publish: rate(a.publish, b.publish, s),
        deliver: rate(a.deliver, b.deliver, s),
        deliver_no_ack: rate(a.deliver_no_ack, b.deliver_no_ack, s),
        get: rate(a.get, b.get, s),
        get_no_ack: rate(a.get_no_ack, b.get_no_ack, s),
        ack: rate(a.ack, b.ack, s),
        redeliver: rate(a.redeliver, b.redeliver, s),
        deliver_get: rate(a.deliver_get(), b.deliver_get(), s),
        confirm: rate(a.confirm, b.confirm, s),
        return_unroutable: rate(a.return_unroutable, b.return_unroutable, s),
        drop_unroutable: rate(a.drop_unroutable, b.drop_unroutable, s),
        get_empty: rate(a.get_empty, b.get_empty, s),
        gauges: [0, 1, 2].map(|i| rate(cur.gauges[i], prev.gauges[i], s)),
    }
}

/// One point of the overview's history (for the dashboard's charts).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Point {
    /// ms since the Unix epoch.
    pub timestamp: u64,
    pub messages_ready: u64,
    pub messages_unacknowledged: u64,
    pub rates: Rates,
}

/// Keyed latest samples and rates.
#[derive(Debug, Default)]
struct Keyed<K> {
    last: HashMap<K, (Sample, Rates)>,
}

impl<K: std::hash::Hash + Eq + Clone> Keyed<K> {
    fn record(&mut self, seen: &mut Vec<K>, key: K, cur: Sample) {
        let r = match self.last.get(&key) {
            Some((prev, _)) => rates(prev, &cur),
            None => Rates::default(),
        };
        self.last.insert(key.clone(), (cur, r));
        seen.push(key);
    }

    fn retain(&mut self, seen: Vec<K>) {
        let seen: std::collections::HashSet<K> = seen.into_iter().collect();
        self.last.retain(|k, _| seen.contains(k));
    }
}

/// The last sample of `N` counters or gauges, and their rates.
type Last<const N: usize> = Option<(Instant, [u64; N], [f64; N])>;

fn step<const N: usize>(last: &mut Last<N>, at: Instant, cur: [u64; N]) {
    let r = match last {
        Some((then, prev, _)) => {
            let s = at.duration_since(*then).as_secs_f64();
            std::array::from_fn(|i| rate(cur[i], prev[i], s))
        }
        None => [0.0; N],
    };
    *last = Some((at, cur, r));
}

#[derive(Debug, Default)]
struct Inner {
    overview: Option<(Sample, Rates)>,
    churn: Last<7>,
    node: Last<5>,
    history: VecDeque<Point>,
    queues: Keyed<(String, String)>,
    exchanges: Keyed<(String, String)>,
    vhosts: Keyed<String>,
    connections: Keyed<u64>,
    /// Channels by connection and number (see [`Sampler::sample_channels`]).
    channels: Keyed<(u64, u16)>,
    /// Connections whose counts moved at the last sample (or that are new): their channels
    /// are asked for theirs.
    busy: Vec<u64>,
}

/// The sampler's findings.
#[derive(Default)]
pub struct Sampler {
    inner: RwLock<Inner>,
    disk_free: Option<DiskFree>,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("inner", &self.inner)
            .finish()
    }
}

impl Sampler {
    /// A sampler that also samples the node's free disk with `disk_free`.
    pub fn new(disk_free: Option<DiskFree>) -> Sampler {
        Sampler {
            inner: RwLock::default(),
            disk_free,
        }
    }

    /// Rates of the [`CHURN`] counters.
    pub fn churn(&self) -> [f64; 7] {
        self.inner.read().churn.map_or([0.0; 7], |c| c.2)
    }

    /// Rates of the [`NODE_GAUGES`].
    pub fn node(&self) -> [f64; 5] {
        self.inner.read().node.map_or([0.0; 5], |c| c.2)
    }

    pub fn overview(&self) -> Rates {
        self.inner.read().overview.map(|o| o.1).unwrap_or_default()
    }

    pub fn history(&self) -> Vec<Point> {
        self.inner.read().history.iter().copied().collect()
    }

    pub fn queue(&self, vhost: &str, name: &str) -> Rates {
        self.inner
            .read()
            .queues
            .last
            .get(&(vhost.to_string(), name.to_string()))
            .map(|x| x.1)
            .unwrap_or_default()
    }

    /// An exchange's rates: `gauges[0]` is publish_in's, `gauges[1]` publish_out's.
    pub fn exchange(&self, vhost: &str, name: &str) -> Rates {
        self.inner
            .read()
            .exchanges
            .last
            .get(&(vhost.to_string(), name.to_string()))
            .map(|x| x.1)
            .unwrap_or_default()
    }

    pub fn vhost(&self, vhost: &str) -> Rates {
        self.inner
            .read()
            .vhosts
            .last
            .get(vhost)
            .map(|x| x.1)
            .unwrap_or_default()
    }

    /// A channel's rates (its connection's id, its number).
    pub fn channel(&self, conn: u64, number: u16) -> Rates {
        self.inner
            .read()
            .channels
            .last
            .get(&(conn, number))
            .map(|x| x.1)
            .unwrap_or_default()
    }

    /// Samples the channels of the connections whose counts moved since the last sample:
    /// each is asked for its channels (`ConnEvent::Inspect`, answered between two batches of
    /// its work, at most [`CHANNEL_INSPECT_TIMEOUT`] for all). An idle connection is not
    /// asked: its channels' counts did not move, so their rates are 0.
    pub async fn sample_channels(&self, broker: &Broker) {
        let busy: Vec<u64> = std::mem::take(&mut self.inner.write().busy);
        let pending: Vec<_> = busy
            .iter()
            .filter_map(|id| broker.connections.get(*id))
            .filter_map(|c| Some((c.id, c.inspect()?)))
            .collect();
        let deadline = tokio::time::Instant::now() + CHANNEL_INSPECT_TIMEOUT;
        let mut answers = Vec::with_capacity(pending.len());
        for (id, rx) in pending {
            if let Ok(Ok(chans)) = tokio::time::timeout_at(deadline, rx).await {
                answers.push((id, chans));
            }
        }
        let at = Instant::now();
        let alive: std::collections::HashSet<u64> =
            broker.connections.list().iter().map(|c| c.id).collect();
        let answered: std::collections::HashSet<u64> = answers.iter().map(|a| a.0).collect();
        let mut inner = self.inner.write();
        let channels = &mut inner.channels.last;
        // The answered connections' channels are replaced (closed ones go); their samples
        // are the previous ones of the new.
        let mut prev = HashMap::new();
        channels.retain(|key, (sample, _)| {
            if answered.contains(&key.0) {
                prev.insert(*key, *sample);
                return false;
            }
            alive.contains(&key.0)
        });
        for (_, (sample, rates)) in channels.iter_mut() {
            // Idle since the last sample: the same counts, now.
            sample.at = at;
            *rates = Rates::default();
        }
        for (id, chans) in answers {
            for ch in chans {
                let cur = Sample {
                    at,
                    stats: ch.counts,
                    gauges: [0; 3],
                };
                let key = (id, ch.number);
                let r = match prev.get(&key) {
                    Some(prev) => rates(prev, &cur),
                    None => Rates::default(),
                };
                inner.channels.last.insert(key, (cur, r));
            }
        }
    }

    pub fn connection(&self, id: u64) -> Rates {
        self.inner
            .read()
            .connections
            .last
            .get(&id)
            .map(|x| x.1)
            .unwrap_or_default()
    }

    /// Takes one sample of everything.
    pub fn sample(&self, broker: &Broker) {
        let at = Instant::now();
        let mut queues = Vec::new();
        let mut exchanges = Vec::new();
        let mut vhost_samples = Vec::new();
        let (mut ready, mut unacked) = (0u64, 0u64);
        let mut totals = MessageStats::default();
        for v in broker.vhosts() {
            let mut vs = v.retired.snapshot();
            let (mut vr, mut vu) = (0, 0);
            for q in v.queues() {
                let info = q.info();
                let stats = q.counters.snapshot();
                vs.add(&stats);
                vr += info.messages_ready;
                vu += info.messages_unacknowledged;
                let gauges = [
                    info.messages_ready + info.messages_unacknowledged,
                    info.messages_ready,
                    info.messages_unacknowledged,
                ];
                queues.push((
                    (v.name.to_string(), q.name.to_string()),
                    Sample { at, stats, gauges },
                ));
            }
            for x in v.exchanges() {
                let (publish_in, publish_out) = x.counters.snapshot();
                exchanges.push((
                    (v.name.to_string(), x.name.to_string()),
                    Sample {
                        at,
                        stats: MessageStats::default(),
                        gauges: [publish_in, publish_out, 0],
                    },
                ));
            }
            ready += vr;
            unacked += vu;
            totals.add(&vs);
            vhost_samples.push((
                v.name.to_string(),
                Sample {
                    at,
                    stats: vs,
                    gauges: [vr + vu, vr, vu],
                },
            ));
        }
        let conns: Vec<(u64, Sample)> = broker
            .connections
            .list()
            .iter()
            .map(|c| {
                let r =
                    |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
                (
                    c.id,
                    Sample {
                        at,
                        stats: c.counters.snapshot(),
                        gauges: [r(&c.recv_oct), r(&c.send_oct), 0],
                    },
                )
            })
            .collect();
        channel_counts(&mut totals, &broker.connections.totals());
        let churn = churn(broker);
        let node = node_gauges(broker, self.disk_free.as_ref());
        let cur = Sample {
            at,
            stats: totals,
            gauges: [ready + unacked, ready, unacked],
        };
        let mut inner = self.inner.write();
        step(&mut inner.churn, at, churn);
        step(&mut inner.node, at, node);
        let r = inner
            .overview
            .as_ref()
            .map(|(prev, _)| rates(prev, &cur))
            .unwrap_or_default();
        inner.overview = Some((cur, r));
        inner.history.push_back(Point {
            timestamp: warren_core::queue::now_ms(),
            messages_ready: ready,
            messages_unacknowledged: unacked,
            rates: r,
        });
        while inner.history.len() > HISTORY {
            inner.history.pop_front();
        }
        let mut seen = Vec::new();
        for (k, s) in queues {
            inner.queues.record(&mut seen, k, s);
        }
        inner.queues.retain(seen);
        let mut seen = Vec::new();
        for (k, s) in exchanges {
            inner.exchanges.record(&mut seen, k, s);
        }
        inner.exchanges.retain(seen);
        let mut seen = Vec::new();
        for (k, s) in vhost_samples {
            inner.vhosts.record(&mut seen, k, s);
        }
        inner.vhosts.retain(seen);
        let mut seen = Vec::new();
        let mut busy = Vec::new();
        for (k, s) in conns {
            let moved = inner
                .connections
                .last
                .get(&k)
                .is_none_or(|(prev, _)| prev.stats != s.stats);
            if moved {
                busy.push(k);
            }
            inner.connections.record(&mut seen, k, s);
        }
        inner.busy = busy;
        inner.connections.retain(seen);
    }
}

/// Samples every `every` until aborted.
pub async fn run(sampler: Arc<Sampler>, broker: Arc<Broker>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        sampler.sample(&broker);
        sampler.sample_channels(&broker).await;
    }
}
