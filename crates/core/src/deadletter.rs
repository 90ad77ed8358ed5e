//! Dead-lettering: messages a queue rejects, expires or drops for length go to the queue's
//! `x-dead-letter-exchange`, with RabbitMQ's `x-death` history in their headers.
//!
//! The republished message carries `x-death`: one table per (queue, reason), most recent
//! first, with `count`, `reason`, `queue`, `time`, `exchange`, `routing-keys` (and
//! `original-expiration` when a per-message TTL was removed), plus `x-first-death-*` (set once)
//! and `x-last-death-*` (set every time). A message whose history already has an entry for the
//! queue it would reach, with no rejection on the way, is dropped there (a dead-letter cycle
//! that only expiry drives would otherwise never end).

use bytes::Bytes;
use warren_amqp::{FieldTable, FieldValue, Route, ShortStr};

use crate::message::Message;
use crate::queue::Queue;
use crate::vhost::VHost;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Rejected,
    Expired,
    MaxLen,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Rejected => "rejected",
            Reason::Expired => "expired",
            Reason::MaxLen => "maxlen",
        }
    }
}

fn s(v: &str) -> FieldValue {
    FieldValue::LongStr(Bytes::copy_from_slice(v.as_bytes()))
}

fn key(k: &'static str) -> ShortStr {
    ShortStr::from_static(k)
}

/// Dead-letters `message` from `queue` for `reason`, if the queue has a dead-letter exchange.
pub fn dead_letter(vhost: &VHost, queue: &Queue, message: &Message, reason: Reason) {
    let args = queue.effective_args();
    let Some(dlx) = args.dead_letter_exchange.as_ref() else {
        return;
    };
    // A missing exchange drops the message, as in RabbitMQ.
    let Ok(exchange) = vhost.exchange(dlx) else {
        return;
    };
    let Ok(mut props) = message.properties.decode() else {
        return;
    };
    let mut headers = props.headers.take().unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut deaths: Vec<FieldValue> = headers
        .remove("x-death")
        .and_then(|v| v.as_array().map(<[FieldValue]>::to_vec))
        .unwrap_or_default();
    let same = |d: &FieldValue| {
        d.as_table().is_some_and(|t| {
            t.get("queue").and_then(FieldValue::as_str) == Some(queue.name.as_str())
                && t.get("reason").and_then(FieldValue::as_str) == Some(reason.as_str())
        })
    };
    let mut entry = match deaths.iter().position(same) {
        Some(i) => match deaths.remove(i) {
            FieldValue::Table(t) => t,
            _ => FieldTable::new(),
        },
        None => FieldTable::new(),
    };
    let count = entry.get("count").and_then(FieldValue::as_i64).unwrap_or(0) + 1;
    entry.insert(key("count"), FieldValue::I64(count));
    entry.insert(key("reason"), s(reason.as_str()));
    entry.insert(key("queue"), s(&queue.name));
    entry.insert(key("time"), FieldValue::Timestamp(now));
    entry.insert(key("exchange"), s(message.exchange()));
    entry.insert(
        key("routing-keys"),
        FieldValue::Array(vec![s(message.routing_key())]),
    );
    if let Some(exp) = props.expiration.take() {
        // The per-message TTL is removed so the dead letter does not expire again.
        entry.insert(key("original-expiration"), s(&exp));
    }
    deaths.insert(0, FieldValue::Table(entry));
    headers.insert(key("x-death"), FieldValue::Array(deaths.clone()));
    if headers.get("x-first-death-reason").is_none() {
        headers.insert(key("x-first-death-reason"), s(reason.as_str()));
        headers.insert(key("x-first-death-queue"), s(&queue.name));
        headers.insert(key("x-first-death-exchange"), s(message.exchange()));
    }
    headers.insert(key("x-last-death-reason"), s(reason.as_str()));
    headers.insert(key("x-last-death-queue"), s(&queue.name));
    headers.insert(key("x-last-death-exchange"), s(message.exchange()));
    props.headers = Some(headers);
    // A new message, made off the hot path: its route is a small new buffer.
    let route = match &args.dead_letter_routing_key {
        Some(key) => Route::from_short(dlx, key),
        None => Route::from_short(dlx, &message.route.routing_key_short()),
    };
    let dead = Message::new(route, props.encode(), message.body.clone());
    let rejected_on_the_way = deaths.iter().any(|d| {
        d.as_table()
            .and_then(|t| t.get("reason"))
            .and_then(FieldValue::as_str)
            == Some("rejected")
    });
    let cycle = |target: &Queue| {
        !rejected_on_the_way
            && deaths.iter().any(|d| {
                d.as_table()
                    .and_then(|t| t.get("queue"))
                    .and_then(FieldValue::as_str)
                    == Some(target.name.as_str())
            })
    };
    vhost.publish_internal(&exchange, dead, cycle);
}
