//! Warren's broker core: virtual hosts, exchanges, bindings, routing, queues and consumers.
//!
//! No sockets and no frames here: the server crate turns AMQP methods into calls on these types,
//! and queues hand deliveries back to connections through each connection's [`Outbox`].
//!
//! Invariants worth naming:
//! - A message body is stored once whatever the number of queues it is routed to: a
//!   [`Message`] is three `Bytes` (route, properties, body) over the publisher's frames, and
//!   each queue, delivery and unacked entry holds a clone (reference counts, no allocation).
//! - Every error is an [`AmqpError`] with RabbitMQ's reply code and text; the code decides whether
//!   it closes the channel or the connection.
//! - Lock order: vhost maps, then an exchange's bindings, then a queue. A queue's lock is never
//!   held while taking any other lock but the message stores' (leaves: a store takes none).

pub mod arguments;
pub mod broker;
pub mod consumer;
pub mod deadletter;
pub mod definitions;
pub mod definitions_file;
pub mod durable;
pub mod error;
pub mod exchange;
pub mod headers;
pub mod log_limit;
pub mod message;
pub mod paging;
pub mod parameters;
pub mod policy;
pub mod queue;
pub mod registry;
pub mod stats;
pub mod topic;
pub mod vhost;
pub mod vhost_meta;

pub use broker::{Broker, Limits};
pub use consumer::{ChannelLimit, ConnEvent, ConnectionId, Consumer, Delivery, Mailbox, Outbox};
pub use definitions::{Definitions, DefinitionsError, RABBITMQ_VERSION};
pub use definitions_file::Gone;
pub use durable::{ConfirmTicket, Durability};
pub use error::{AmqpError, Result};
pub use exchange::{Binding, Destination, Exchange, ExchangeKind};
pub use log_limit::LogLimit;
pub use message::Message;
pub use paging::Pager;
pub use queue::{ConsumerInfo, Got, Queue, QueueInfo, Returned};
pub use registry::{ChannelInfo, ConnectionEntry, ConnectionRegistry};
pub use stats::{MessageCounters, MessageStats};
pub use vhost::{generate_consumer_tag, generate_queue_name, Declared, VHost};
pub use vhost_meta::VHostMetadata;
