//! The metric groups, named and shaped as RabbitMQ's `rabbitmq_prometheus` core collector
//! (`prometheus_rabbitmq_core_metrics_collector.erl`): each group is a RabbitMQ "family" that
//! `/metrics/detailed?family=` selects; the queue groups have one series per queue
//! (`{vhost,queue}`) where the view is per object and one summed series otherwise. Channel and
//! connection groups are always summed (RabbitMQ labels them with Erlang process ids).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use warren_core::stats::{PublishStats, MESSAGE_SIZE_BOUNDS};
use warren_core::{ConnectionEntry, MessageStats};

use super::text::{esc, Out};
use super::View;
use crate::AppState;

/// The groups Warren has, in RabbitMQ's order (its `METRICS_RAW`).
pub const GROUPS: &[&str] = &[
    "connection_churn_metrics",
    "node_coarse_metrics",
    "node_metrics",
    "queue_coarse_metrics",
    "queue_consumer_count",
    "queue_metrics",
    "channel_exchange_metrics",
    "channel_queue_metrics",
    "connection_coarse_metrics",
    "connection_metrics",
    "channel_queue_exchange_metrics",
    "queue_delivery_metrics",
];

/// The `le` labels of the message size buckets, written as Prometheus 3 normalises them (and
/// as the RabbitMQ-Overview dashboard queries them), so they match on Prometheus 2 and 3.
const SIZE_LE: [&str; 9] = [
    "100.0", "1000.0", "10000.0", "100000.0", "1e+06", "1e+07", "5e+07", "1e+08", "+Inf",
];

struct QueueRow {
    labels: String,
    ready: u64,
    unacked: u64,
    bytes_ready: u64,
    consumers: u64,
    st: MessageStats,
}

/// What one scrape reads, once.
struct Snap<'a> {
    s: &'a AppState,
    per_object: bool,
    queues: Vec<QueueRow>,
    /// Counts of the deleted queues of the vhosts shown (summed series never go down).
    retired: MessageStats,
    conns: Vec<Arc<ConnectionEntry>>,
    /// Channel-side counts (publish, confirm, unroutable, get_empty) with the queue-side
    /// ones (deliveries, acks), over open and closed connections.
    totals: MessageStats,
}

impl Snap<'_> {
    fn take<'a>(s: &'a AppState, per_object: bool, vhosts: Option<&[String]>) -> Snap<'a> {
        let mut queues = Vec::new();
        let mut retired = MessageStats::default();
        for v in s.broker.vhosts() {
            if vhosts.is_some_and(|l| !l.iter().any(|n| n == v.name.as_str())) {
                continue;
            }
            retired.add(&v.retired.snapshot());
            for q in v.queues() {
                let i = q.info();
                queues.push(QueueRow {
                    labels: format!("vhost=\"{}\",queue=\"{}\"", esc(&v.name), esc(&q.name)),
                    ready: i.messages_ready,
                    unacked: i.messages_unacknowledged,
                    bytes_ready: i.message_bytes_ready,
                    consumers: i.consumers.len() as u64,
                    st: q.counters.snapshot(),
                });
            }
        }
        queues.sort_by(|a, b| a.labels.cmp(&b.labels));
        Snap {
            s,
            per_object,
            queues,
            retired,
            conns: s.broker.connections.list(),
            totals: crate::rates::totals(&s.broker),
        }
    }

    /// Messages enqueued (each queue a message reaches counts it), deleted queues' included.
    fn enqueued(&self) -> u64 {
        self.queues.iter().map(|q| q.st.publish).sum::<u64>() + self.retired.publish
    }

    fn consumers(&self) -> u64 {
        self.queues.iter().map(|q| q.consumers).sum()
    }
}

/// A queue gauge: one series per queue, or their sum.
fn queue_family(
    o: &mut Out,
    snap: &Snap,
    name: &str,
    kind: &str,
    help: &str,
    pick: fn(&QueueRow) -> u64,
) {
    o.family(name, kind, help);
    if snap.per_object {
        for q in &snap.queues {
            o.sample(name, &q.labels, pick(q));
        }
    } else {
        o.sample(name, "", snap.queues.iter().map(pick).sum::<u64>());
    }
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

/// The soft limit on open files (0 where /proc has none).
fn max_fds() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|x| x.starts_with("Max open files"))?
                .split_whitespace()
                .nth(3)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// One group, with the names of RabbitMQ's `METRICS_RAW`, each prefixed with `p`.
fn group(o: &mut Out, p: &str, g: &str, snap: &Snap) {
    let s = snap.s;
    let t = &snap.totals;
    let n = |name: &str| format!("{p}{name}");
    let churn = &s.broker.churn;
    match g {
        "connection_churn_metrics" => {
            let (opened, closed) = s.broker.connections.churn();
            for (name, help, v) in [
                (
                    "connections_opened_total",
                    "Total number of connections opened",
                    opened,
                ),
                (
                    "connections_closed_total",
                    "Total number of connections closed or terminated",
                    closed,
                ),
                (
                    "channels_opened_total",
                    "Total number of channels opened",
                    churn.channels_opened.load(Relaxed),
                ),
                (
                    "channels_closed_total",
                    "Total number of channels closed",
                    churn.channels_closed.load(Relaxed),
                ),
                (
                    "queues_declared_total",
                    "Total number of queues declared",
                    churn.queues_declared.load(Relaxed),
                ),
                (
                    "queues_created_total",
                    "Total number of queues created",
                    churn.queues_created.load(Relaxed),
                ),
                (
                    "queues_deleted_total",
                    "Total number of queues deleted",
                    churn.queues_deleted.load(Relaxed),
                ),
            ] {
                o.one(&n(name), "counter", help, "", v);
            }
        }
        "node_coarse_metrics" => {
            o.one(
                &n("process_open_fds"),
                "gauge",
                "Open file descriptors",
                "",
                open_fds(),
            );
            o.one(
                &n("process_resident_memory_bytes"),
                "gauge",
                "Memory used in bytes",
                "",
                crate::api::rss_bytes(),
            );
            let disk = s.node.disk_free.as_ref().and_then(|f| f()).unwrap_or(0);
            o.one(
                &n("disk_space_available_bytes"),
                "gauge",
                "Disk space available in bytes",
                "",
                disk,
            );
        }
        "node_metrics" => {
            o.one(
                &n("process_max_fds"),
                "gauge",
                "Open file descriptors limit",
                "",
                max_fds(),
            );
            o.one(
                &n("resident_memory_limit_bytes"),
                "gauge",
                "Memory high watermark in bytes",
                "",
                s.node.mem_limit,
            );
            o.one(
                &n("disk_space_available_limit_bytes"),
                "gauge",
                "Free disk space low watermark in bytes",
                "",
                s.node.disk_free_limit,
            );
            o.one(
                &n("erlang_uptime_seconds"),
                "gauge",
                "Node uptime",
                "",
                s.started_at.elapsed().as_secs_f64(),
            );
        }
        "queue_coarse_metrics" => {
            queue_family(
                o,
                snap,
                &n("queue_messages_ready"),
                "gauge",
                "Messages ready to be delivered to consumers",
                |q| q.ready,
            );
            queue_family(
                o,
                snap,
                &n("queue_messages_unacked"),
                "gauge",
                "Messages delivered to consumers but not yet acknowledged",
                |q| q.unacked,
            );
            queue_family(
                o,
                snap,
                &n("queue_messages"),
                "gauge",
                "Sum of ready and unacknowledged messages - total queue depth",
                |q| q.ready + q.unacked,
            );
        }
        "queue_consumer_count" => queue_family(
            o,
            snap,
            &n("queue_consumers"),
            "gauge",
            "Consumers on a queue",
            |q| q.consumers,
        ),
        "queue_metrics" => {
            queue_family(
                o,
                snap,
                &n("queue_consumers"),
                "gauge",
                "Consumers on a queue",
                |q| q.consumers,
            );
            queue_family(
                o,
                snap,
                &n("queue_messages_ready_bytes"),
                "gauge",
                "Size in bytes of ready messages",
                |q| q.bytes_ready,
            );
        }
        "channel_exchange_metrics" => {
            for (name, help, v) in [
                ("channel_messages_published_total", "Total number of messages published into an exchange on a channel", t.publish),
                ("channel_messages_confirmed_total", "Total number of messages published into an exchange and confirmed on the channel", t.confirm),
                ("channel_messages_unroutable_returned_total", "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable", t.return_unroutable),
                ("channel_messages_unroutable_dropped_total", "Total number of messages published as non-mandatory into an exchange and dropped as unroutable", t.drop_unroutable),
            ] {
                o.one(&n(name), "counter", help, "", v);
            }
        }
        "channel_queue_metrics" => {
            for (name, help, v) in [
                ("channel_get_ack_total", "Total number of messages fetched with basic.get in manual acknowledgement mode", t.get),
                ("channel_get_total", "Total number of messages fetched with basic.get in automatic acknowledgement mode", t.get_no_ack),
                ("channel_messages_delivered_ack_total", "Total number of messages delivered to consumers in manual acknowledgement mode", t.deliver),
                ("channel_messages_delivered_total", "Total number of messages delivered to consumers in automatic acknowledgement mode", t.deliver_no_ack),
                ("channel_messages_redelivered_total", "Total number of messages redelivered to consumers", t.redeliver),
                ("channel_messages_acked_total", "Total number of messages acknowledged by consumers", t.ack),
                ("channel_get_empty_total", "Total number of times basic.get operations fetched no message", t.get_empty),
            ] {
                o.one(&n(name), "counter", help, "", v);
            }
        }
        "connection_coarse_metrics" => {
            let r = |f: fn(&ConnectionEntry) -> u64| snap.conns.iter().map(|c| f(c)).sum::<u64>();
            o.one(
                &n("connection_incoming_bytes_total"),
                "counter",
                "Total number of bytes received on a connection",
                "",
                r(|c| c.recv_oct.load(Relaxed)),
            );
            o.one(
                &n("connection_outgoing_bytes_total"),
                "counter",
                "Total number of bytes sent on a connection",
                "",
                r(|c| c.send_oct.load(Relaxed)),
            );
        }
        "connection_metrics" => {
            let channels: u64 = snap.conns.iter().map(|c| c.channels.load(Relaxed)).sum();
            o.one(
                &n("connection_channels"),
                "gauge",
                "Channels on a connection",
                "",
                channels,
            );
        }
        "channel_queue_exchange_metrics" => o.one(
            &n("queue_messages_published_total"),
            "counter",
            "Total number of messages published into a queue through an exchange on a channel",
            "",
            snap.enqueued(),
        ),
        "queue_delivery_metrics" => {
            type Pick = (&'static str, &'static str, fn(&MessageStats) -> u64);
            let fams: [Pick; 6] = [
                ("queue_get_ack_total", "Total number of messages fetched from a queue with basic.get in manual acknowledgement mode", |m| m.get),
                ("queue_get_total", "Total number of messages fetched from a queue with basic.get in automatic acknowledgement mode", |m| m.get_no_ack),
                ("queue_messages_delivered_ack_total", "Total number of messages delivered from a queue to consumers in manual acknowledgement mode", |m| m.deliver),
                ("queue_messages_delivered_total", "Total number of messages delivered from a queue to consumers in automatic acknowledgement mode", |m| m.deliver_no_ack),
                ("queue_messages_redelivered_total", "Total number of messages redelivered from a queue to consumers", |m| m.redeliver),
                ("queue_messages_acked_total", "Total number of messages acknowledged by consumers on a queue", |m| m.ack),
            ];
            for (name, help, pick) in fams {
                let name = n(name);
                o.family(&name, "counter", help);
                if snap.per_object {
                    for q in &snap.queues {
                        o.sample(&name, &q.labels, pick(&q.st));
                    }
                } else {
                    let sum: u64 =
                        snap.queues.iter().map(|q| pick(&q.st)).sum::<u64>() + pick(&snap.retired);
                    o.sample(&name, "", sum);
                }
            }
        }
        _ => {}
    }
}

/// RabbitMQ's global counters (`rabbit_global_counters`, protocol `amqp091`; Warren's queues
/// are all classic) and gauges, and the message size histogram of RabbitMQ 4.
fn global(o: &mut Out, snap: &Snap, publishes: &PublishStats) {
    let t = &snap.totals;
    let proto = "protocol=\"amqp091\"";
    let classic = "protocol=\"amqp091\",queue_type=\"rabbit_classic_queue\"";
    let routed = snap.enqueued();
    let rows: [(&str, &str, &str, u64); 15] = [
        ("consumers", "gauge", "Current number of consumers", snap.consumers()),
        ("messages_acknowledged_total", "counter", "Total number of messages acknowledged by consumers", t.ack),
        ("messages_confirmed_total", "counter", "Total number of messages confirmed to publishers", t.confirm),
        ("messages_delivered_consume_auto_ack_total", "counter", "Total number of messages delivered to consumers using basic.consume with automatic acknowledgment", t.deliver_no_ack),
        ("messages_delivered_consume_manual_ack_total", "counter", "Total number of messages delivered to consumers using basic.consume with manual acknowledgment", t.deliver),
        ("messages_delivered_get_auto_ack_total", "counter", "Total number of messages delivered to consumers using basic.get with automatic acknowledgment", t.get_no_ack),
        ("messages_delivered_get_manual_ack_total", "counter", "Total number of messages delivered to consumers using basic.get with manual acknowledgment", t.get),
        ("messages_delivered_total", "counter", "Total number of messages delivered to consumers", t.deliver_get()),
        ("messages_get_empty_total", "counter", "Total number of times basic.get operations fetched no message", t.get_empty),
        ("messages_received_confirm_total", "counter", "Total number of messages received from publishers expecting confirmations", publishes.confirm_mode),
        ("messages_received_total", "counter", "Total number of messages received from publishers", t.publish),
        ("messages_redelivered_total", "counter", "Total number of messages redelivered to consumers", t.redeliver),
        ("messages_routed_total", "counter", "Total number of messages routed to queues or streams", routed),
        ("messages_unroutable_dropped_total", "counter", "Total number of messages published as non-mandatory into an exchange and dropped as unroutable", t.drop_unroutable),
        ("messages_unroutable_returned_total", "counter", "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable", t.return_unroutable),
    ];
    for (name, kind, help, v) in rows {
        // RabbitMQ labels the delivery-side counters with the queue type too.
        let labels = match name {
            "messages_acknowledged_total"
            | "messages_get_empty_total"
            | "messages_redelivered_total" => classic,
            _ if name.starts_with("messages_delivered") => classic,
            _ => proto,
        };
        o.one(&format!("rabbitmq_global_{name}"), kind, help, labels, v);
    }
    o.one(
        "rabbitmq_global_publishers",
        "gauge",
        "Current number of publishers",
        proto,
        snap.s.broker.churn.publishers.load(Relaxed),
    );
    let name = "rabbitmq_message_size_bytes";
    o.family(
        name,
        "histogram",
        "Size of messages received from publishers",
    );
    let mut cumulative = 0;
    for (le, n) in SIZE_LE.iter().zip(publishes.sizes) {
        cumulative += n;
        o.sample(
            &format!("{name}_bucket"),
            &format!("{proto},le=\"{le}\""),
            cumulative,
        );
    }
    debug_assert_eq!(SIZE_LE.len(), MESSAGE_SIZE_BOUNDS.len() + 1);
    o.sample(&format!("{name}_sum"), proto, publishes.size_sum);
    o.sample(&format!("{name}_count"), proto, cumulative);
}

/// The objects totals RabbitMQ's `/metrics` and `/metrics/per-object` end with.
fn totals(o: &mut Out, snap: &Snap) {
    let channels: u64 = snap.conns.iter().map(|c| c.channels.load(Relaxed)).sum();
    o.one(
        "rabbitmq_connections",
        "gauge",
        "Connections currently open",
        "",
        snap.conns.len(),
    );
    o.one(
        "rabbitmq_channels",
        "gauge",
        "Channels currently open",
        "",
        channels,
    );
    o.one(
        "rabbitmq_consumers",
        "gauge",
        "Consumers currently connected",
        "",
        snap.consumers(),
    );
    o.one(
        "rabbitmq_queues",
        "gauge",
        "Queues available",
        "",
        snap.queues.len(),
    );
}

fn alarms(o: &mut Out, s: &AppState) {
    let alarm = s.broker.current_alarm();
    let on = |what: &str| u8::from(alarm.as_deref().is_some_and(|a| a.contains(what)));
    o.one(
        "rabbitmq_alarms_free_disk_space_watermark",
        "untyped",
        "is 1 if free disk space watermark alarm is in effect",
        "",
        on("disk"),
    );
    o.one(
        "rabbitmq_alarms_memory_used_watermark",
        "untyped",
        "is 1 if VM memory watermark alarm is in effect",
        "",
        on("memory"),
    );
}

/// `rabbitmq_build_info` and `rabbitmq_identity_info`, which every panel of RabbitMQ's
/// dashboards joins on; `endpoint` is RabbitMQ's `rabbitmq_endpoint` label.
fn identity(o: &mut Out, s: &AppState, endpoint: &str) {
    // The one `/api/cluster-name` reports (RabbitMQ's default: the node's name).
    let cluster = s
        .broker
        .cluster_name()
        .unwrap_or_else(crate::api::node_name);
    // RabbitMQ types both `untyped` (3.10.8 and its main branch).
    o.one(
        "rabbitmq_build_info",
        "untyped",
        "RabbitMQ & Erlang/OTP version info",
        &format!(
            "rabbitmq_version=\"{v}\",prometheus_plugin_version=\"{v}\",erlang_version=\"n/a\",product=\"Warren\",product_version=\"{v}\"",
            v = env!("CARGO_PKG_VERSION")
        ),
        1,
    );
    o.one(
        "rabbitmq_identity_info",
        "untyped",
        "RabbitMQ node & cluster identity info",
        &format!(
            "rabbitmq_node=\"{}\",rabbitmq_cluster=\"{}\",rabbitmq_endpoint=\"{endpoint}\"",
            esc(&crate::api::node_name()),
            esc(&cluster)
        ),
        1,
    );
}

/// The page of one view.
pub(super) fn render(s: &AppState, view: &View) -> String {
    let mut o = Out(String::with_capacity(16 * 1024));
    match view {
        View::Aggregated | View::PerObject => {
            let per_object = matches!(view, View::PerObject);
            let snap = Snap::take(s, per_object, None);
            // RabbitMQ's per-object page has no alarms.
            if !per_object {
                alarms(&mut o, s);
            }
            for g in GROUPS {
                // queue_metrics has the consumers of queue_consumer_count (RabbitMQ leaves it
                // out then).
                if *g != "queue_consumer_count" {
                    group(&mut o, "rabbitmq_", g, &snap);
                }
            }
            totals(&mut o, &snap);
            global(&mut o, &snap, &s.broker.connections.publish_totals());
            identity(
                &mut o,
                s,
                if per_object {
                    "per-object"
                } else {
                    "aggregated"
                },
            );
        }
        View::Detailed { groups, vhosts } => {
            let snap = Snap::take(s, true, vhosts.as_deref());
            let asked = |g: &str| groups.iter().any(|x| x == g);
            for g in GROUPS {
                if asked(g) && !(*g == "queue_consumer_count" && asked("queue_metrics")) {
                    group(&mut o, "rabbitmq_detailed_", g, &snap);
                }
            }
            identity(&mut o, s, "detailed");
        }
    }
    o.0
}
