//! Prometheus metrics on `/metrics`, in the text exposition format, with the names RabbitMQ's
//! `rabbitmq_prometheus` plugin uses (aggregated, as its default endpoint; per-queue series
//! on `/metrics/per-object`). Everything is read at scrape time from the broker's counters.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use warren_core::MessageStats;

use crate::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/metrics", get(aggregated))
        .route("/metrics/per-object", get(per_object))
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
        let _ = writeln!(self.0, "# HELP {name} {help}");
    }

    fn sample(&mut self, name: &str, labels: &str, v: impl std::fmt::Display) {
        if labels.is_empty() {
            let _ = writeln!(self.0, "{name} {v}");
        } else {
            let _ = writeln!(self.0, "{name}{{{labels}}} {v}");
        }
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, v: impl std::fmt::Display) {
        self.family(name, kind, help);
        self.sample(name, "", v);
    }
}

/// Escapes a label value (backslash, quote, newline).
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Totals {
    ready: u64,
    unacked: u64,
    queues: u64,
    consumers: u64,
    /// Messages enqueued into queues (each queue a message reaches counts it once), deleted
    /// queues' included so the counter never goes down.
    queue_published: u64,
    stats: MessageStats,
}

fn totals(s: &AppState) -> Totals {
    let mut t = Totals {
        ready: 0,
        unacked: 0,
        queues: 0,
        consumers: 0,
        queue_published: 0,
        stats: MessageStats::default(),
    };
    for v in s.broker.vhosts() {
        t.queue_published += v.retired.snapshot().publish;
        for q in v.queues() {
            t.queue_published += q
                .counters
                .publish
                .load(std::sync::atomic::Ordering::Relaxed);
            let i = q.info();
            t.ready += i.messages_ready;
            t.unacked += i.messages_unacknowledged;
            t.queues += 1;
            t.consumers += i.consumers.len() as u64;
        }
    }
    t.stats = crate::rates::totals(&s.broker);
    t
}

fn render(s: &AppState, per_object: bool) -> String {
    let mut o = Out(String::with_capacity(8192));
    let t = totals(s);
    let conns = s.broker.connections.list();
    let channels: u64 = conns
        .iter()
        .map(|c| c.channels.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    let (opened, closed) = s.broker.connections.churn();
    let r = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    let (recv, send) = conns
        .iter()
        .fold((0, 0), |(a, b), c| (a + r(&c.recv_oct), b + r(&c.send_oct)));
    let alarm = s.broker.current_alarm();
    o.one(
        "rabbitmq_build_info",
        "untracked",
        "Warren version (RabbitMQ's build info metric)",
        "1",
    );
    o.0 = o.0.replace(
        "rabbitmq_build_info 1\n",
        &format!(
            "rabbitmq_build_info{{product=\"Warren\",rabbitmq_version=\"{}\",prometheus_plugin_version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION"),
            env!("CARGO_PKG_VERSION")
        ),
    );
    o.one(
        "rabbitmq_connections",
        "gauge",
        "Connections currently open",
        conns.len(),
    );
    o.one(
        "rabbitmq_connections_opened_total",
        "counter",
        "Total number of connections opened",
        opened,
    );
    o.one(
        "rabbitmq_connections_closed_total",
        "counter",
        "Total number of connections closed or terminated",
        closed,
    );
    o.one(
        "rabbitmq_channels",
        "gauge",
        "Channels currently open",
        channels,
    );
    o.one("rabbitmq_queues", "gauge", "Queues available", t.queues);
    o.one(
        "rabbitmq_consumers",
        "gauge",
        "Consumers currently connected",
        t.consumers,
    );
    o.one(
        "rabbitmq_queue_messages_ready",
        "gauge",
        "Messages ready to be delivered to consumers",
        t.ready,
    );
    o.one(
        "rabbitmq_queue_messages_unacked",
        "gauge",
        "Messages delivered to consumers but not yet acknowledged",
        t.unacked,
    );
    o.one(
        "rabbitmq_queue_messages",
        "gauge",
        "Sum of ready and unacknowledged messages - total queue depth",
        t.ready + t.unacked,
    );
    o.one(
        "rabbitmq_channel_messages_published_total",
        "counter",
        "Total number of messages published into an exchange on a channel",
        t.stats.publish,
    );
    o.one(
        "rabbitmq_channel_messages_confirmed_total",
        "counter",
        "Total number of messages published into an exchange and confirmed on the channel",
        t.stats.confirm,
    );
    o.one(
        "rabbitmq_channel_messages_unroutable_returned_total",
        "counter",
        "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable",
        t.stats.return_unroutable,
    );
    o.one(
        "rabbitmq_channel_messages_unroutable_dropped_total",
        "counter",
        "Total number of messages published as non-mandatory into an exchange and dropped as unroutable",
        t.stats.drop_unroutable,
    );
    o.one(
        "rabbitmq_channel_get_empty_total",
        "counter",
        "Total number of times basic.get operations fetched no message",
        t.stats.get_empty,
    );
    o.one(
        "rabbitmq_channel_messages_delivered_ack_total",
        "counter",
        "Total number of messages delivered to consumers in manual acknowledgement mode",
        t.stats.deliver,
    );
    o.one(
        "rabbitmq_channel_messages_delivered_total",
        "counter",
        "Total number of messages delivered to consumers in automatic acknowledgement mode",
        t.stats.deliver_no_ack,
    );
    o.one(
        "rabbitmq_channel_get_ack_total",
        "counter",
        "Total number of messages fetched with basic.get in manual acknowledgement mode",
        t.stats.get,
    );
    o.one(
        "rabbitmq_channel_get_total",
        "counter",
        "Total number of messages fetched with basic.get in automatic acknowledgement mode",
        t.stats.get_no_ack,
    );
    o.one(
        "rabbitmq_channel_messages_acked_total",
        "counter",
        "Total number of messages acknowledged by consumers",
        t.stats.ack,
    );
    o.one(
        "rabbitmq_channel_messages_redelivered_total",
        "counter",
        "Total number of messages redelivered to consumers",
        t.stats.redeliver,
    );
    o.one(
        "rabbitmq_queue_messages_published_total",
        "counter",
        "Total number of messages published to queues",
        t.queue_published,
    );
    o.one(
        "rabbitmq_connection_incoming_bytes_total",
        "counter",
        "Total number of bytes received on open connections",
        recv,
    );
    o.one(
        "rabbitmq_connection_outgoing_bytes_total",
        "counter",
        "Total number of bytes sent on open connections",
        send,
    );
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|x| x.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |p| p * 4096);
    o.one(
        "rabbitmq_process_resident_memory_bytes",
        "gauge",
        "Memory used in bytes",
        rss,
    );
    o.one(
        "rabbitmq_alarms_memory_used_watermark",
        "gauge",
        "is set to 1 when the memory alarm is in effect",
        u8::from(alarm.as_deref().is_some_and(|a| a.contains("memory"))),
    );
    o.one(
        "rabbitmq_alarms_free_disk_space_watermark",
        "gauge",
        "is set to 1 when the free disk space alarm is in effect",
        u8::from(alarm.as_deref().is_some_and(|a| a.contains("disk"))),
    );
    if per_object {
        let mut rows = Vec::new();
        for v in s.broker.vhosts() {
            for q in v.queues() {
                let i = q.info();
                let labels = format!("vhost=\"{}\",queue=\"{}\"", esc(&v.name), esc(&q.name));
                rows.push((labels, i, q.counters.snapshot()));
            }
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        type Pick = fn(&warren_core::QueueInfo, &MessageStats) -> u64;
        let families: [(&str, &str, &str, Pick); 6] = [
            (
                "rabbitmq_detailed_queue_messages_ready",
                "gauge",
                "Messages ready to be delivered to consumers",
                |i, _| i.messages_ready,
            ),
            (
                "rabbitmq_detailed_queue_messages_unacked",
                "gauge",
                "Messages delivered to consumers but not yet acknowledged",
                |i, _| i.messages_unacknowledged,
            ),
            (
                "rabbitmq_detailed_queue_messages",
                "gauge",
                "Sum of ready and unacknowledged messages - total queue depth",
                |i, _| i.messages_ready + i.messages_unacknowledged,
            ),
            (
                "rabbitmq_detailed_queue_consumers",
                "gauge",
                "Consumers on a queue",
                |i, _| i.consumers.len() as u64,
            ),
            (
                "rabbitmq_detailed_queue_messages_published_total",
                "counter",
                "Total number of messages published to queues",
                |_, st| st.publish,
            ),
            (
                "rabbitmq_detailed_queue_messages_acked_total",
                "counter",
                "Total number of messages acknowledged",
                |_, st| st.ack,
            ),
        ];
        for (name, kind, help, pick) in families {
            o.family(name, kind, help);
            for (labels, i, st) in &rows {
                o.sample(name, labels, pick(i, st));
            }
        }
    }
    o.0
}

async fn aggregated(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&s, false),
    )
}

async fn per_object(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&s, true),
    )
}
