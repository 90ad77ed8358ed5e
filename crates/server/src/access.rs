//! Permission checks for channel methods, the way RabbitMQ's channel makes them:
//!
//! | method | checks |
//! |---|---|
//! | exchange.declare (not passive) | configure on the exchange; with `alternate-exchange`: write on the AE, read on the exchange |
//! | exchange.delete | (not the default or an `amq.*` exchange, checked first) configure on the exchange |
//! | exchange.bind / unbind | write on the destination, (neither end the default exchange), read on the source (+ topic read of the key) |
//! | queue.declare (not passive) | configure on the queue; with `x-dead-letter-exchange`: write on the DLX, read on the queue |
//! | queue.delete | configure on the queue |
//! | queue.purge | read on the queue |
//! | queue.bind / unbind | write on the queue, (not the default exchange), read on the exchange (+ topic read of the key) |
//! | basic.publish | write on the exchange (+ topic write of the key); `user_id` must be the user's |
//! | basic.consume / basic.get | read on the queue |
//!
//! Refusals are 403 ACCESS_REFUSED with RabbitMQ's text (a channel error).

use warren_amqp::{FieldTable, ShortStr};
use warren_auth::{Access, ResourceKind};
use warren_core::vhost::check_not_default_exchange;
use warren_core::{AmqpError, Exchange, ExchangeKind, Result};

use crate::channel::Ctx;

/// The pseudo-queue of direct reply-to: no permission applies to it (as in RabbitMQ).
const REPLY_TO: &str = "amq.rabbitmq.reply-to";

pub fn check(ctx: &Ctx<'_>, access: Access, kind: ResourceKind, name: &str) -> Result<()> {
    ctx.identity
        .check(ctx.vhost.name.as_str(), access, kind, name)
        .map_err(AmqpError::access_refused)
}

pub fn queue(ctx: &Ctx<'_>, access: Access, name: &str) -> Result<()> {
    if name == REPLY_TO {
        return Ok(());
    }
    check(ctx, access, ResourceKind::Queue, name)
}

pub fn exchange(ctx: &Ctx<'_>, access: Access, name: &str) -> Result<()> {
    check(ctx, access, ResourceKind::Exchange, name)
}

/// Topic permissions apply to topic exchanges only.
pub fn topic(ctx: &Ctx<'_>, access: Access, x: &Exchange, routing_key: &str) -> Result<()> {
    if x.kind != ExchangeKind::Topic {
        return Ok(());
    }
    ctx.identity
        .check_topic(
            ctx.vhost.name.as_str(),
            access,
            x.name.as_str(),
            routing_key,
        )
        .map_err(AmqpError::access_refused)
}

fn str_arg<'a>(args: &'a FieldTable, key: &str) -> Option<&'a str> {
    args.get(key).and_then(|v| v.as_str())
}

/// exchange.declare (not passive).
pub fn declare_exchange(ctx: &Ctx<'_>, name: &str, args: &FieldTable) -> Result<()> {
    exchange(ctx, Access::Configure, name)?;
    if let Some(ae) = str_arg(args, "alternate-exchange") {
        exchange(ctx, Access::Write, ae)?;
        exchange(ctx, Access::Read, name)?;
    }
    Ok(())
}

/// queue.declare (not passive).
pub fn declare_queue(ctx: &Ctx<'_>, name: &str, args: &FieldTable) -> Result<()> {
    queue(ctx, Access::Configure, name)?;
    if let Some(dlx) = str_arg(args, "x-dead-letter-exchange") {
        exchange(ctx, Access::Write, dlx)?;
        queue(ctx, Access::Read, name)?;
    }
    Ok(())
}

/// queue.bind / unbind and exchange.bind / unbind, in the order of RabbitMQ's
/// `binding_action`: write on the destination, neither end the default exchange (403), read on
/// the source, topic read of the key if the source exists. All before anything is looked up.
pub fn binding(
    ctx: &Ctx<'_>,
    destination: (ResourceKind, &str),
    source: &ShortStr,
    routing_key: &str,
) -> Result<()> {
    let (kind, name) = destination;
    if !(kind == ResourceKind::Queue && name == REPLY_TO) {
        check(ctx, Access::Write, kind, name)?;
    }
    if kind == ResourceKind::Exchange {
        check_not_default_exchange(name)?;
    }
    check_not_default_exchange(source)?;
    exchange(ctx, Access::Read, source)?;
    if let Ok(x) = ctx.vhost.exchange(source) {
        topic(ctx, Access::Read, &x, routing_key)?;
    }
    Ok(())
}

/// The publisher's `user_id` property must name the connection's user (unless the user has
/// the `impersonator` tag): 406, as in RabbitMQ.
pub fn publisher_user_id(ctx: &Ctx<'_>, user_id: Option<ShortStr>) -> Result<()> {
    match user_id {
        Some(claimed) => ctx
            .identity
            .check_user_id(claimed.as_str())
            .map_err(AmqpError::precondition_failed),
        None => Ok(()),
    }
}
