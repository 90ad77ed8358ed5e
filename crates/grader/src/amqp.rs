//! Talking to Warren over AMQP 0-9-1 with lapin: the pieces both processes use.
//!
//! Nothing here is Warren-specific: point `--amqp` at RabbitMQ and it works the same.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::publisher_confirm::Confirmation;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde::Serialize;

use crate::protocol::{JOBS_QUEUE, RESULTS_QUEUE};

/// Errors talking to the broker.
#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    #[error("AMQP error: {0}")]
    Lapin(#[from] lapin::Error),
    #[error("the broker refused the message (basic.nack)")]
    Nacked,
    #[error("cannot encode message: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Opens a connection. `name` shows up in the broker's connection list (client properties).
pub async fn connect(url: &str, name: &str) -> Result<Connection, AmqpError> {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    Ok(Connection::connect(url, props).await?)
}

/// Declares the two durable queues. Both sides declare them (idempotent), so they can start
/// in any order and a job published before any worker exists waits in the queue.
pub async fn declare_queues(channel: &Channel) -> Result<(), AmqpError> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    for queue in [JOBS_QUEUE, RESULTS_QUEUE] {
        channel
            .queue_declare(queue, durable, FieldTable::default())
            .await?;
    }
    Ok(())
}

/// A channel in confirm mode. [`publish`](Publisher::publish) returns only once the broker
/// has taken responsibility for the message (basic.ack): for a persistent message on a
/// durable queue that means it is on disk. Cheap to clone; concurrent publishes are fine
/// (lapin matches each confirm to its publish).
#[derive(Clone)]
pub struct Publisher {
    channel: Channel,
}

impl Publisher {
    pub async fn new(channel: Channel) -> Result<Publisher, AmqpError> {
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Publisher { channel })
    }

    /// Publishes `body` as persistent JSON to `queue` (through the default exchange) and
    /// waits for the broker's confirm.
    pub async fn publish<T: Serialize>(
        &self,
        queue: &str,
        body: &T,
        message_id: &str,
    ) -> Result<(), AmqpError> {
        let payload = serde_json::to_vec(body)?;
        let properties = BasicProperties::default()
            .with_delivery_mode(2) // persistent
            .with_content_type("application/json".into())
            .with_message_id(message_id.into());
        let confirm = self
            .channel
            .basic_publish(
                "",
                queue,
                // mandatory: if the queue does not exist the broker returns the message
                // instead of dropping it silently.
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &payload,
                properties,
            )
            .await?
            .await?;
        match confirm {
            Confirmation::Ack(None) => Ok(()),
            // Ack with a returned message: unroutable.
            Confirmation::Ack(Some(_)) | Confirmation::Nack(_) => Err(AmqpError::Nacked),
            Confirmation::NotRequested => Ok(()),
        }
    }

    pub fn channel(&self) -> &Channel {
        &self.channel
    }
}
