//! A published message as the broker keeps it: routing info, raw properties and a shared body.

use bytes::Bytes;
use warren_amqp::{RawProperties, ShortStr};

/// A message once its publish method, content header and body frames are assembled.
///
/// Invariant: immutable once built. It is shared (`Arc<Message>`) by every queue it was routed
/// to and by every delivery of it; the body is never copied after assembly, and the properties
/// are the exact bytes the publisher sent, forwarded verbatim on delivery.
#[derive(Debug, Clone)]
pub struct Message {
    pub exchange: ShortStr,
    pub routing_key: ShortStr,
    pub properties: RawProperties,
    pub body: Bytes,
}

impl Message {
    /// delivery-mode 2 marks a message the publisher wants on disk (on a durable queue).
    pub fn is_persistent(&self) -> bool {
        self.properties.delivery_mode() == Some(2)
    }

    /// Bytes this message holds in memory, for accounting and queue length limits.
    pub fn size(&self) -> usize {
        self.body.len()
    }
}
