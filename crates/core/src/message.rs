//! A published message as the broker keeps it: routing info, raw properties and a shared body.

use bytes::Bytes;
use warren_amqp::{RawProperties, Route};

/// A message once its publish method, content header and body frames are assembled.
///
/// Invariant: immutable once built, and a plain value: three [`Bytes`] (96 bytes), each a
/// slice of a reference-counted buffer (the connection's read buffer for a client's publish),
/// so a clone costs three reference-count increments and no allocation. Every queue it was
/// routed to, every delivery and every unacked entry holds its own clone; the body is never
/// copied after assembly, and the properties are the exact bytes the publisher sent,
/// forwarded verbatim on delivery. The exchange and routing key stay one buffer ([`Route`]),
/// as they lie in the publish frame.
#[derive(Debug, Clone, Default)]
pub struct Message {
    pub route: Route,
    pub properties: RawProperties,
    pub body: Bytes,
}

const _: () = assert!(std::mem::size_of::<Message>() == 96);

impl Message {
    pub fn new(route: Route, properties: RawProperties, body: Bytes) -> Message {
        Message {
            route,
            properties,
            body,
        }
    }

    /// The exchange it was published to.
    #[inline]
    pub fn exchange(&self) -> &str {
        self.route.exchange()
    }

    /// The routing key it was published with.
    #[inline]
    pub fn routing_key(&self) -> &str {
        self.route.routing_key()
    }

    /// delivery-mode 2 marks a message the publisher wants on disk (on a durable queue).
    pub fn is_persistent(&self) -> bool {
        self.properties.delivery_mode() == Some(2)
    }

    /// Bytes this message holds in memory, for accounting and queue length limits.
    pub fn size(&self) -> usize {
        self.body.len()
    }
}
