//! Dead-lettering: messages a queue rejects, expires or drops for length go to the queue's
//! `x-dead-letter-exchange`, with RabbitMQ's `x-death` history in their headers.
//!
//! The republished message carries `x-death`: one table per (queue, reason), most recent
//! first, with `count`, `reason`, `queue`, `time`, `exchange`, `routing-keys` (and
//! `original-expiration` when a per-message TTL was removed), plus `x-first-death-*` (set once)
//! and `x-last-death-*` (set every time). `routing-keys` are the message's routing key and its
//! `CC` keys (`BCC` was removed on publish). The dead letter goes to the dead-letter routing key
//! if the queue has one (its `CC` header is then dropped), else to those same keys.
//!
//! Cycles (RabbitMQ's `rabbit_dead_letter:detect_cycles`): a message dead-lettered for any
//! reason but `rejected` is not delivered to a queue it already died in if every death since
//! that queue's last entry (that entry included) was automatic (no `rejected`): such a cycle
//! would never end. A rejection on the way means a consumer is in the loop, so it goes on.

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
    // The key it was published with, then its CC keys (RabbitMQ's header_routes).
    let routing_keys: Vec<FieldValue> = std::iter::once(message.routing_key())
        .chain(crate::vhost::header_routes(&headers))
        .map(s)
        .collect();
    entry.insert(key("routing-keys"), FieldValue::Array(routing_keys));
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
    // A dead-letter routing key replaces all the keys: the CC header goes.
    if args.dead_letter_routing_key.is_some() {
        headers.remove("CC");
    }
    props.headers = Some(headers);
    // A new message, made off the hot path: its route is a small new buffer.
    let route = match &args.dead_letter_routing_key {
        Some(key) => Route::from_short(dlx, key),
        None => Route::from_short(dlx, &message.route.routing_key_short()),
    };
    let dead = Message::new(route, props.encode(), message.body.clone());
    let cycle = |target: &Queue| {
        let cycle = reason != Reason::Rejected && is_cycle(&target.name, &deaths);
        if cycle {
            tracing::debug!(
                "a message dead-lettered from {} is dropped: {} is in a dead-letter cycle \
                 without reason 'rejected'",
                queue.describe(),
                target.describe()
            );
        }
        cycle
    };
    vhost.publish_internal(&exchange, dead, cycle);
}

/// Would dead-lettering into `queue` close a fully automatic cycle? `deaths` is the new
/// `x-death` history, most recent first: it is one if it names `queue` and none of the deaths
/// up to (and including) the most recent one in `queue` was a rejection. An entry that is
/// not a table was put there by a client, so the cycle is not "fully automatic" either.
fn is_cycle(queue: &str, deaths: &[FieldValue]) -> bool {
    let field = |d: &FieldValue, k: &str| -> Option<String> {
        d.as_table()
            .and_then(|t| t.get(k))
            .and_then(FieldValue::as_str)
            .map(str::to_owned)
    };
    let Some(last) = deaths
        .iter()
        .position(|d| field(d, "queue").as_deref() == Some(queue))
    else {
        return false;
    };
    deaths[..=last]
        .iter()
        .all(|d| d.as_table().is_some() && field(d, "reason").as_deref() != Some("rejected"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn death(queue: &str, reason: &str) -> FieldValue {
        let mut t = FieldTable::new();
        t.insert(key("queue"), s(queue));
        t.insert(key("reason"), s(reason));
        FieldValue::Table(t)
    }

    #[test]
    fn only_deaths_since_the_queue_s_last_entry_count() {
        // rejected from q0 into q10, which expired it back to itself
        let deaths = [death("q10", "expired"), death("q0", "rejected")];
        assert!(is_cycle("q10", &deaths));
        assert!(!is_cycle("q0", &deaths));
        assert!(!is_cycle("elsewhere", &deaths));
        // a rejection since the last visit keeps the loop going
        let deaths = [
            death("a", "expired"),
            death("b", "rejected"),
            death("a", "expired"),
        ];
        assert!(!is_cycle("b", &deaths));
        assert!(is_cycle("a", &deaths));
        let deaths = [
            death("b", "expired"),
            death("c", "rejected"),
            death("a", "expired"),
        ];
        assert!(!is_cycle("a", &deaths));
        assert!(is_cycle("b", &deaths));
        // something a client put there
        let deaths = [FieldValue::I32(1), death("a", "expired")];
        assert!(!is_cycle("a", &deaths));
    }
}
