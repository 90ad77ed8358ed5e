//! Every "missing object" case of the delete, unbind, purge, bind and passive-declare methods,
//! as RabbitMQ 3.10.8 answers them: deletes and unbinds of things that are not there succeed
//! (clients' cleanup code relies on it), purges, binds and passive declares get 404, and the
//! refusals that come before the lookup (403 on the default exchange, on `amq.*` exchanges and
//! for missing permissions; 405 on another connection's exclusive queue) keep RabbitMQ's order
//! and text, word for word.
//!
//! Table-driven; runs against RabbitMQ too: `COMPARE_AMQP_URL=amqp://guest:guest@HOST:PORT/%2f`.
//! The rows run as a restricted user need that user on the compared broker:
//! `rabbitmqctl add_user u p && rabbitmqctl set_permissions -p / u '^u-' '^u-' '^u-'`.

mod common;

use common::{amqp_url, start, within};
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

/// One method, with the names it uses.
#[derive(Debug, Clone)]
enum Op {
    QueueDelete {
        queue: String,
        if_unused: bool,
        if_empty: bool,
    },
    ExchangeDelete {
        exchange: String,
        if_unused: bool,
    },
    QueueUnbind {
        queue: String,
        exchange: String,
        key: &'static str,
    },
    ExchangeUnbind {
        destination: String,
        source: String,
        key: &'static str,
    },
    QueuePurge(String),
    QueueBind {
        queue: String,
        exchange: String,
    },
    ExchangeBind {
        destination: String,
        source: String,
    },
    QueuePassive(String),
    ExchangePassive(String),
}

/// What the broker answered: the method's ok, or a channel.close with code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ok,
    Closed(u16, String),
}

fn closed(code: u16, text: impl Into<String>) -> Outcome {
    Outcome::Closed(code, text.into())
}

async fn run(ch: &Channel, op: &Op) -> Outcome {
    let r = match op.clone() {
        Op::QueueDelete {
            queue,
            if_unused,
            if_empty,
        } => ch
            .queue_delete(
                &queue,
                QueueDeleteOptions {
                    if_unused,
                    if_empty,
                    nowait: false,
                },
            )
            .await
            .map(drop),
        Op::ExchangeDelete {
            exchange,
            if_unused,
        } => {
            ch.exchange_delete(
                &exchange,
                ExchangeDeleteOptions {
                    if_unused,
                    nowait: false,
                },
            )
            .await
        }
        Op::QueueUnbind {
            queue,
            exchange,
            key,
        } => {
            ch.queue_unbind(&queue, &exchange, key, FieldTable::default())
                .await
        }
        Op::ExchangeUnbind {
            destination,
            source,
            key,
        } => {
            ch.exchange_unbind(
                &destination,
                &source,
                key,
                ExchangeUnbindOptions::default(),
                FieldTable::default(),
            )
            .await
        }
        Op::QueuePurge(queue) => ch
            .queue_purge(&queue, QueuePurgeOptions::default())
            .await
            .map(drop),
        Op::QueueBind { queue, exchange } => {
            ch.queue_bind(
                &queue,
                &exchange,
                "k",
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
        }
        Op::ExchangeBind {
            destination,
            source,
        } => {
            ch.exchange_bind(
                &destination,
                &source,
                "k",
                ExchangeBindOptions::default(),
                FieldTable::default(),
            )
            .await
        }
        Op::QueuePassive(queue) => ch
            .queue_declare(
                &queue,
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map(drop),
        Op::ExchangePassive(exchange) => {
            ch.exchange_declare(
                &exchange,
                ExchangeKind::Direct,
                ExchangeDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
        }
    };
    match r {
        Ok(()) => Outcome::Ok,
        Err(lapin::Error::ProtocolError(e)) => closed(e.get_id(), e.get_message().as_str()),
        Err(e) => panic!("{op:?}: expected an answer or a channel error, got {e:?}"),
    }
}

/// The names of this run's objects (tests may share one external broker).
struct Names {
    p: String,
}

impl Names {
    fn new() -> Names {
        Names {
            p: format!("mo-{}", std::process::id()),
        }
    }
    /// A queue and an exchange that exist (see [`fixtures`]).
    fn q(&self) -> String {
        format!("{}-q", self.p)
    }
    fn x(&self) -> String {
        format!("{}-x", self.p)
    }
    fn x2(&self) -> String {
        format!("{}-x2", self.p)
    }
    /// An exclusive queue of another connection, bound to `x` with key "bound".
    fn excl(&self) -> String {
        format!("{}-excl", self.p)
    }
    /// A name nothing has.
    fn missing(&self) -> String {
        format!("{}-missing", self.p)
    }
}

/// Before every row: queue `q` and exchanges `x`, `x2`, with `q` and `x2` bound to `x` by key
/// "bound" (idempotent, so a row that deleted or unbound something does not affect the next).
async fn fixtures(conn: &Connection, n: &Names) {
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.queue_declare(
        &n.q(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    for x in [n.x(), n.x2()] {
        within(ch.exchange_declare(
            &x,
            ExchangeKind::Direct,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    within(ch.queue_bind(
        &n.q(),
        &n.x(),
        "bound",
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.exchange_bind(
        &n.x2(),
        &n.x(),
        "bound",
        ExchangeBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.close(200, "fixtures")).await.unwrap();
}

async fn cleanup(conn: &Connection, n: &Names) {
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.queue_delete(&n.q(), QueueDeleteOptions::default()))
        .await
        .unwrap();
    for x in [n.x(), n.x2()] {
        within(ch.exchange_delete(&x, ExchangeDeleteOptions::default()))
            .await
            .unwrap();
    }
}

fn qd(queue: String) -> Op {
    Op::QueueDelete {
        queue,
        if_unused: false,
        if_empty: false,
    }
}

fn xd(exchange: impl Into<String>) -> Op {
    Op::ExchangeDelete {
        exchange: exchange.into(),
        if_unused: false,
    }
}

fn qu(queue: impl Into<String>, exchange: impl Into<String>, key: &'static str) -> Op {
    Op::QueueUnbind {
        queue: queue.into(),
        exchange: exchange.into(),
        key,
    }
}

fn xu(destination: impl Into<String>, source: impl Into<String>, key: &'static str) -> Op {
    Op::ExchangeUnbind {
        destination: destination.into(),
        source: source.into(),
        key,
    }
}

const REPLY_TO: &str = "amq.rabbitmq.reply-to";

const DEFAULT_X: &str = "ACCESS_REFUSED - operation not permitted on the default exchange";

fn system_x(name: &str) -> Outcome {
    closed(
        403,
        format!("ACCESS_REFUSED - deletion of system exchange '{name}' in vhost '/' not allowed"),
    )
}

fn no_queue(name: &str) -> Outcome {
    closed(404, format!("NOT_FOUND - no queue '{name}' in vhost '/'"))
}

fn no_exchange(name: &str) -> Outcome {
    closed(
        404,
        format!("NOT_FOUND - no exchange '{name}' in vhost '/'"),
    )
}

fn locked(name: &str) -> Outcome {
    closed(
        405,
        format!(
            "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{name}' in vhost \
             '/'. It could be originally declared on another connection or the exclusive \
             property value does not match that of the original declaration."
        ),
    )
}

/// A permission refusal. Warren words these as RabbitMQ 3.11 and later do, naming the
/// permission ("configure access to queue ..."); 3.10.8 leaves the permission out. That one
/// known difference is allowed for when comparing; what is refused, and in which order, is not.
fn refused(access: &str, kind: &str, name: &str) -> Outcome {
    let access = if std::env::var_os("COMPARE_AMQP_URL").is_some() {
        String::new()
    } else {
        format!("{access} ")
    };
    closed(
        403,
        format!(
            "ACCESS_REFUSED - {access}access to {kind} '{name}' in vhost '/' refused for user 'u'"
        ),
    )
}

/// The rows for guest (administrator).
fn guest_rows(n: &Names) -> Vec<(Op, Outcome)> {
    let (q, x, x2, excl, missing) = (n.q(), n.x(), n.x2(), n.excl(), n.missing());
    let no_previous = closed(404, "NOT_FOUND - no previously declared queue");
    vec![
        // queue.delete: a missing queue is deleted with a count of 0, whatever the flags.
        (qd(missing.clone()), Outcome::Ok),
        (
            Op::QueueDelete {
                queue: missing.clone(),
                if_unused: true,
                if_empty: false,
            },
            Outcome::Ok,
        ),
        (
            Op::QueueDelete {
                queue: missing.clone(),
                if_unused: false,
                if_empty: true,
            },
            Outcome::Ok,
        ),
        (qd(String::new()), no_previous.clone()),
        (qd(excl.clone()), locked(&excl)),
        (qd(q.clone()), Outcome::Ok),
        // exchange.delete: a missing exchange too; the default and amq.* ones are refused
        // before the lookup, even when missing.
        (xd(missing.clone()), Outcome::Ok),
        (
            Op::ExchangeDelete {
                exchange: missing.clone(),
                if_unused: true,
            },
            Outcome::Ok,
        ),
        (xd(""), closed(403, DEFAULT_X)),
        (xd("amq.direct"), system_x("amq.direct")),
        (xd("amq.default"), system_x("amq.default")),
        (xd("amq.no-such"), system_x("amq.no-such")),
        (
            Op::ExchangeDelete {
                exchange: x.clone(),
                if_unused: true,
            },
            closed(
                406,
                format!("PRECONDITION_FAILED - exchange '{x}' in vhost '/' in use"),
            ),
        ),
        // queue.unbind: missing queue, exchange, both or binding: unbind-ok.
        (qu(&missing, &x, "bound"), Outcome::Ok),
        (qu(&q, &missing, "bound"), Outcome::Ok),
        (qu(&missing, &missing, "bound"), Outcome::Ok),
        (qu(&q, &x, "no-such-key"), Outcome::Ok),
        (qu(&q, "amq.direct", "bound"), Outcome::Ok),
        (qu(&q, "amq.no-such", "bound"), Outcome::Ok),
        (qu(&q, &x, "bound"), Outcome::Ok),
        (qu(&q, "", "bound"), closed(403, DEFAULT_X)),
        (qu(&missing, "", "bound"), closed(403, DEFAULT_X)),
        (qu("", &x, "bound"), no_previous.clone()),
        // Another connection's exclusive queue is locked only where the binding exists.
        (qu(&excl, &x, "no-such-key"), Outcome::Ok),
        (qu(&excl, &missing, "bound"), Outcome::Ok),
        (qu(&excl, &x, "bound"), locked(&excl)),
        // exchange.unbind: missing source, destination, both or binding: unbind-ok.
        (xu(&missing, &x, "bound"), Outcome::Ok),
        (xu(&x2, &missing, "bound"), Outcome::Ok),
        (xu(&missing, &missing, "bound"), Outcome::Ok),
        (xu(&x2, &x, "no-such-key"), Outcome::Ok),
        (xu(&x2, "amq.direct", "bound"), Outcome::Ok),
        (xu(&x2, &x, "bound"), Outcome::Ok),
        (xu("", &x, "bound"), closed(403, DEFAULT_X)),
        (xu(&x2, "", "bound"), closed(403, DEFAULT_X)),
        (xu(&missing, "", "bound"), closed(403, DEFAULT_X)),
        // queue.purge, binds and passive declares need the object.
        (Op::QueuePurge(missing.clone()), no_queue(&missing)),
        (Op::QueuePurge(String::new()), no_previous.clone()),
        (Op::QueuePurge(excl.clone()), locked(&excl)),
        (
            Op::QueueBind {
                queue: missing.clone(),
                exchange: x.clone(),
            },
            no_queue(&missing),
        ),
        (
            Op::QueueBind {
                queue: q.clone(),
                exchange: missing.clone(),
            },
            no_exchange(&missing),
        ),
        (
            Op::ExchangeBind {
                destination: missing.clone(),
                source: x.clone(),
            },
            no_exchange(&missing),
        ),
        (
            Op::ExchangeBind {
                destination: x2.clone(),
                source: missing.clone(),
            },
            no_exchange(&missing),
        ),
        (Op::QueuePassive(missing.clone()), no_queue(&missing)),
        (Op::ExchangePassive(missing.clone()), no_exchange(&missing)),
        (Op::ExchangePassive(String::new()), closed(403, DEFAULT_X)),
        // if-unused counts the bindings an exchange is the source of: x2 is only a destination.
        (
            Op::ExchangeDelete {
                exchange: x2.clone(),
                if_unused: true,
            },
            Outcome::Ok,
        ),
        // The direct reply-to pseudo-queue, with no reply consumer on the channel.
        (qd(REPLY_TO.into()), Outcome::Ok),
        (Op::QueuePurge(REPLY_TO.into()), no_queue(REPLY_TO)),
        (qu(REPLY_TO, &x, "bound"), Outcome::Ok),
        (
            Op::QueueBind {
                queue: REPLY_TO.into(),
                exchange: x.clone(),
            },
            no_queue(REPLY_TO),
        ),
    ]
}

/// The rows for user `u`, who may configure, write and read only `u-*`: each permission is
/// checked before the object is looked up, and after the default / system exchange checks
/// where RabbitMQ makes those first.
fn restricted_rows(n: &Names) -> Vec<(Op, Outcome)> {
    let (x, missing) = (n.x(), n.missing());
    vec![
        (qd(missing.clone()), refused("configure", "queue", &missing)),
        (
            xd(missing.clone()),
            refused("configure", "exchange", &missing),
        ),
        (xd(""), closed(403, DEFAULT_X)),
        (xd("amq.direct"), system_x("amq.direct")),
        (
            qu(&missing, "u-x", "k"),
            refused("write", "queue", &missing),
        ),
        (
            qu("u-q", &missing, "k"),
            refused("read", "exchange", &missing),
        ),
        (qu("u-q", "", "k"), closed(403, DEFAULT_X)),
        (
            qu("u-q", "amq.direct", "k"),
            refused("read", "exchange", "amq.direct"),
        ),
        (
            xu(&missing, "u-x", "k"),
            refused("write", "exchange", &missing),
        ),
        (xu("u-x", &x, "k"), refused("read", "exchange", &x)),
        (xu("u-x", "", "k"), closed(403, DEFAULT_X)),
        (
            xu("", "u-x", "k"),
            refused("write", "exchange", "amq.default"),
        ),
        (
            Op::QueuePurge(missing.clone()),
            refused("read", "queue", &missing),
        ),
        // Binds make the same checks in the same order.
        (
            Op::QueueBind {
                queue: "u-q".into(),
                exchange: String::new(),
            },
            closed(403, DEFAULT_X),
        ),
        (
            Op::ExchangeBind {
                destination: "u-x".into(),
                source: String::new(),
            },
            closed(403, DEFAULT_X),
        ),
        (
            Op::ExchangeBind {
                destination: String::new(),
                source: "u-x".into(),
            },
            refused("write", "exchange", "amq.default"),
        ),
    ]
}

/// Runs every row on a channel of its own; returns the rows whose outcome differed.
async fn mismatches(
    conn: &Connection,
    setup: &Connection,
    n: &Names,
    rows: Vec<(Op, Outcome)>,
) -> Vec<String> {
    let mut bad = Vec::new();
    for (op, want) in rows {
        fixtures(setup, n).await;
        let ch = within(conn.create_channel()).await.unwrap();
        let got = within(run(&ch, &op)).await;
        if got != want {
            bad.push(format!("{op:?}\n    want {want:?}\n    got  {got:?}"));
        }
        if got == Outcome::Ok {
            let _ = within(ch.close(200, "row done")).await;
        }
    }
    bad
}

async fn connect(url: &str) -> Connection {
    within(Connection::connect(url, ConnectionProperties::default()))
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

#[tokio::test]
async fn deletes_unbinds_and_lookups_of_missing_objects_answer_as_rabbitmq() {
    let server = start().await;
    let db = server.broker.auth();
    db.add_user("u", "p", &[]).unwrap();
    db.set_permissions("u", "/", "^u-", "^u-", "^u-").unwrap();
    let url = amqp_url(&server);
    let n = Names::new();
    let guest = connect(&url).await;
    // The exclusive queue's owner.
    let owner = connect(&url).await;
    let och = within(owner.create_channel()).await.unwrap();
    fixtures(&guest, &n).await;
    within(och.queue_declare(
        &n.excl(),
        QueueDeclareOptions {
            exclusive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(och.queue_bind(
        &n.excl(),
        &n.x(),
        "bound",
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();

    let mut bad = mismatches(&guest, &guest, &n, guest_rows(&n)).await;
    let user_url = url.replacen("guest:guest@", "u:p@", 1);
    let user = connect(&user_url).await;
    bad.extend(mismatches(&user, &guest, &n, restricted_rows(&n)).await);

    // The exclusive queue's binding survived the refused unbind.
    within(och.queue_unbind(&n.excl(), &n.x(), "bound", FieldTable::default()))
        .await
        .expect("the owner unbinds its queue");
    cleanup(&guest, &n).await;
    assert!(
        bad.is_empty(),
        "{} rows differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
