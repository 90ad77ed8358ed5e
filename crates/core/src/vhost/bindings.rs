//! Binding and unbinding, as RabbitMQ's `rabbit_binding` does them: a bind needs both ends, an
//! unbind of a binding, queue or exchange that is not there succeeds (clients unbind in their
//! cleanup code, often after the queue is gone), and neither end may be the default exchange.

use std::sync::Arc;

use warren_amqp::{FieldTable, ShortStr};

use super::VHost;
use crate::consumer::ConnectionId;
use crate::error::{AmqpError, Result};
use crate::exchange::{Binding, Destination, Exchange, ExchangeKind};
use crate::queue::Queue;

/// Binds and unbinds name the default exchange on neither side (403, RabbitMQ's text).
pub fn check_not_default_exchange(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(AmqpError::access_refused(
            "operation not permitted on the default exchange",
        ));
    }
    Ok(())
}

impl VHost {
    /// Binds exchange `destination` to `source`; returns whether the binding is new.
    pub fn bind_exchange(
        &self,
        destination: &ShortStr,
        source: &ShortStr,
        key: &ShortStr,
        args: &FieldTable,
    ) -> Result<bool> {
        check_not_default_exchange(destination)?;
        check_not_default_exchange(source)?;
        let src = self.exchange(source)?;
        let dst = self.exchange(destination)?;
        self.check_binding_args(&src, args)?;
        Ok(src.bind(Binding {
            destination: Destination::Exchange(dst.name.clone()),
            routing_key: key.detached(),
            arguments: args.detached(),
        }))
    }

    /// Takes back a binding just made (its change could not be saved): unlike an unbind,
    /// an auto-delete source exchange stays, as it was before the bind.
    pub fn undo_bind(
        &self,
        source: &str,
        destination: Destination,
        key: &ShortStr,
        args: &FieldTable,
    ) {
        if let Ok(x) = self.exchange(source) {
            x.unbind(&Binding {
                destination,
                routing_key: key.clone(),
                arguments: args.clone(),
            });
        }
    }

    /// Removes the binding if both exchanges and the binding exist; Ok either way.
    pub fn unbind_exchange(
        &self,
        destination: &ShortStr,
        source: &ShortStr,
        key: &ShortStr,
        args: &FieldTable,
    ) -> Result<()> {
        check_not_default_exchange(destination)?;
        check_not_default_exchange(source)?;
        let (Ok(src), Ok(dst)) = (self.exchange(source), self.exchange(destination)) else {
            return Ok(());
        };
        let binding = Binding {
            destination: Destination::Exchange(dst.name.clone()),
            routing_key: key.clone(),
            arguments: args.clone(),
        };
        if src.unbind(&binding) {
            self.maybe_auto_delete(&src);
        }
        Ok(())
    }

    fn bind_source(&self, source: &str) -> Result<Arc<Exchange>> {
        check_not_default_exchange(source)?;
        self.exchange(source)
    }

    fn check_binding_args(&self, x: &Exchange, args: &FieldTable) -> Result<()> {
        if x.kind == ExchangeKind::Headers {
            crate::headers::XMatch::from_arguments(args)?;
        }
        Ok(())
    }

    /// Binds `queue` to `exchange`; returns whether the binding is new.
    pub fn bind_queue(
        &self,
        queue: &Arc<Queue>,
        exchange: &str,
        key: &ShortStr,
        args: &FieldTable,
    ) -> Result<bool> {
        let x = self.bind_source(exchange)?;
        self.check_binding_args(&x, args)?;
        let new = x.bind(Binding {
            destination: Destination::Queue(queue.clone()),
            routing_key: key.detached(),
            arguments: args.detached(),
        });
        // A queue deleted while we bound it must not stay reachable.
        if queue.is_deleted() {
            x.unbind_destination(&Destination::Queue(queue.clone()));
        }
        Ok(new)
    }

    /// Removes this queue's binding from `exchange` (which must exist).
    pub fn unbind_queue(
        &self,
        queue: &Arc<Queue>,
        exchange: &str,
        key: &ShortStr,
        args: &FieldTable,
    ) -> Result<()> {
        let x = self.bind_source(exchange)?;
        if x.unbind(&Binding {
            destination: Destination::Queue(queue.clone()),
            routing_key: key.clone(),
            arguments: args.clone(),
        }) {
            self.maybe_auto_delete(&x);
        }
        Ok(())
    }

    /// `queue.unbind`: removes the binding of queue `name` if the queue, the exchange and the
    /// binding exist, and returns the queue it was removed from; Ok(None) if any is missing.
    /// Only an existing binding of another connection's exclusive queue is refused (405).
    pub fn unbind_queue_named(
        &self,
        name: &str,
        conn: ConnectionId,
        exchange: &str,
        key: &ShortStr,
        args: &FieldTable,
    ) -> Result<Option<Arc<Queue>>> {
        check_not_default_exchange(exchange)?;
        let Some(q) = self.queues.read().get(name).cloned() else {
            return Ok(None);
        };
        let Ok(x) = self.exchange(exchange) else {
            return Ok(None);
        };
        let binding = Binding {
            destination: Destination::Queue(q.clone()),
            routing_key: key.clone(),
            arguments: args.clone(),
        };
        if !x.has_binding(&binding) {
            return Ok(None);
        }
        q.check_access(conn)?;
        if !x.unbind(&binding) {
            return Ok(None);
        }
        self.maybe_auto_delete(&x);
        Ok(Some(q))
    }
}
