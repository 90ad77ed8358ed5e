//! RabbitMQ's vhost and user limits on the AMQP side: `max-connections` of a vhost and of a
//! user (checked at `connection.open`), `max-channels` of a user (at `channel.open`, counting
//! the user's channels on all their connections). `max-queues` of a vhost is checked by the
//! core when a queue is created (`VHost::declare_queue`). The texts and codes are RabbitMQ
//! 3.10's (530 `NOT_ALLOWED`, closing the connection).
//!
//! The limits are read only when a connection or channel opens; counting walks the registry
//! of open connections, and only when the vhost or user has a limit.

use std::sync::atomic::Ordering;

use warren_core::{AmqpError, Broker, ConnectionId};

/// May `user` open one more connection on `vhost`?
pub fn check_connection(broker: &Broker, vhost: &str, user: &str) -> Result<(), AmqpError> {
    if let Some(max) = broker.vhost_max_connections(vhost) {
        let open = broker
            .connections
            .list()
            .iter()
            .filter(|c| c.vhost == vhost)
            .count() as u64;
        if open >= max {
            return Err(AmqpError::not_allowed(format!(
                "access to vhost '{vhost}' refused for user '{user}': connection limit ({max}) is reached"
            )));
        }
    }
    if let Some(max) = broker.auth().user_limit(user, "max-connections") {
        let open = broker
            .connections
            .list()
            .iter()
            .filter(|c| c.user == user)
            .count() as u64;
        if open >= max {
            return Err(AmqpError::not_allowed(format!(
                "connection refused for user '{user}': user connection limit ({max}) is reached"
            )));
        }
    }
    Ok(())
}

/// May `user`, who has `own` channels open on connection `conn`, open one more?
pub fn check_channel(
    broker: &Broker,
    user: &str,
    conn: ConnectionId,
    own: usize,
) -> Result<(), AmqpError> {
    let Some(max) = broker.auth().user_limit(user, "max-channels") else {
        return Ok(());
    };
    let others: u64 = broker
        .connections
        .list()
        .iter()
        .filter(|c| c.user == user && c.id != conn)
        .map(|c| c.channels.load(Ordering::Relaxed))
        .sum();
    if own as u64 + others >= max {
        return Err(AmqpError::not_allowed(format!(
            "number of channels opened for user '{user}' has reached the maximum allowed user limit of ({max})"
        )));
    }
    Ok(())
}
