//! A queue: its ready messages, its consumers, and the dispatch loop that feeds them.
//!
//! Invariants:
//! - One owner: all state sits behind one short-held mutex; every operation (publish, dispatch,
//!   requeue, consume, cancel, get) takes it once.
//! - Order is kept: messages are delivered in the order they were enqueued; requeued messages go
//!   back to the head, in their original order, flagged `redelivered`.
//! - A message leaves `ready` only into a consumer that took credit for it, into `basic.get`, or
//!   by purge/delete. If a connection is gone before it takes a delivery, the message comes back.
//! - Consumers are served round-robin among those with credit.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use warren_amqp::{FieldTable, ShortStr};

use crate::consumer::{ConnEvent, ConnectionId, Consumer, Delivery, NoCredit};
use crate::error::{AmqpError, Result};
use crate::message::Message;

#[derive(Debug)]
pub struct Queue {
    pub name: ShortStr,
    pub vhost: ShortStr,
    pub durable: bool,
    /// The connection that declared an exclusive queue; no one else may use it.
    pub exclusive_owner: Option<ConnectionId>,
    pub auto_delete: bool,
    pub arguments: FieldTable,
    state: Mutex<QueueState>,
}

#[derive(Debug, Default)]
struct QueueState {
    ready: VecDeque<Ready>,
    consumers: Vec<Arc<Consumer>>,
    /// Round-robin cursor into `consumers`.
    next: usize,
    /// Deliveries (to consumers or basic.get) not yet settled.
    unacked: usize,
    deleted: bool,
    /// An auto-delete queue is deleted when its last consumer goes, once it has had one.
    had_consumer: bool,
}

#[derive(Debug)]
struct Ready {
    message: Arc<Message>,
    redelivered: bool,
}

/// What `basic.get` takes from a queue.
#[derive(Debug)]
pub struct Got {
    pub message: Arc<Message>,
    pub redelivered: bool,
    /// Messages left ready after this one.
    pub remaining: u32,
}

impl Queue {
    pub fn new(
        name: ShortStr,
        vhost: ShortStr,
        durable: bool,
        exclusive_owner: Option<ConnectionId>,
        auto_delete: bool,
        arguments: FieldTable,
    ) -> Queue {
        Queue {
            name,
            vhost,
            durable,
            exclusive_owner,
            auto_delete,
            arguments,
            state: Mutex::new(QueueState::default()),
        }
    }

    /// "queue 'q' in vhost '/'", the way RabbitMQ names a queue in its messages.
    pub fn describe(&self) -> String {
        format!("queue '{}' in vhost '{}'", self.name, self.vhost)
    }

    /// Exclusive queues may only be used by the connection that declared them (405).
    pub fn check_access(&self, conn: ConnectionId) -> Result<()> {
        match self.exclusive_owner {
            Some(owner) if owner != conn => Err(AmqpError::resource_locked(format!(
                "cannot obtain exclusive access to locked {}. It could be originally declared on \
                 another connection or the exclusive property value does not match that of the \
                 original declaration.",
                self.describe()
            ))),
            _ => Ok(()),
        }
    }

    pub fn message_count(&self) -> u32 {
        self.state.lock().ready.len() as u32
    }

    pub fn consumer_count(&self) -> u32 {
        self.state.lock().consumers.len() as u32
    }

    pub fn unacked_count(&self) -> u32 {
        self.state.lock().unacked as u32
    }

    /// (ready, consumers) in one lock.
    pub fn counts(&self) -> (u32, u32) {
        let st = self.state.lock();
        (st.ready.len() as u32, st.consumers.len() as u32)
    }

    pub fn is_deleted(&self) -> bool {
        self.state.lock().deleted
    }

    /// Enqueues a message and delivers what consumers have credit for.
    pub fn publish(self: &Arc<Self>, message: Arc<Message>) {
        let mut st = self.state.lock();
        if st.deleted {
            return;
        }
        st.ready.push_back(Ready {
            message,
            redelivered: false,
        });
        self.dispatch_locked(&mut st);
    }

    /// Delivers ready messages to consumers with credit; call after credit came back.
    pub fn dispatch(self: &Arc<Self>) {
        let mut st = self.state.lock();
        self.dispatch_locked(&mut st);
    }

    fn dispatch_locked(self: &Arc<Self>, st: &mut QueueState) {
        while !st.ready.is_empty() && !st.consumers.is_empty() {
            let n = st.consumers.len();
            let mut chosen = None;
            for i in 0..n {
                let idx = (st.next + i) % n;
                match st.consumers[idx].try_take_credit() {
                    Ok(()) => {
                        chosen = Some(idx);
                        break;
                    }
                    Err(NoCredit::Congested) => st.consumers[idx].outbox.mark_starved(),
                    Err(NoCredit::Window) => {}
                }
            }
            let Some(idx) = chosen else { break };
            st.next = (idx + 1) % n;
            let Some(ready) = st.ready.pop_front() else {
                break;
            };
            let consumer = st.consumers[idx].clone();
            let no_ack = consumer.no_ack;
            let delivery = Delivery {
                consumer,
                queue: self.clone(),
                message: ready.message,
                redelivered: ready.redelivered,
            };
            match st.consumers[idx].outbox.send(ConnEvent::Deliver(delivery)) {
                Ok(()) => {
                    if !no_ack {
                        st.unacked += 1;
                    }
                }
                Err(ConnEvent::Deliver(d)) => {
                    // The connection is gone: keep the message, drop the consumer.
                    d.consumer.release_credit(1);
                    st.ready.push_front(Ready {
                        message: d.message,
                        redelivered: d.redelivered,
                    });
                    st.consumers.remove(idx);
                    st.next = 0;
                }
                Err(_) => unreachable!("send gives back the event it was given"),
            }
        }
    }

    /// Adds a consumer. Refuses if an exclusive consumer holds the queue, or if `consumer` wants
    /// exclusivity and others are there (403, as RabbitMQ).
    pub fn consume(self: &Arc<Self>, consumer: Arc<Consumer>) -> Result<()> {
        let mut st = self.state.lock();
        if st.deleted {
            return Err(AmqpError::not_found(format!(
                "no queue '{}' in vhost '{}'",
                self.name, self.vhost
            )));
        }
        let exclusive_taken = st.consumers.iter().any(|c| c.exclusive);
        if exclusive_taken || (consumer.exclusive && !st.consumers.is_empty()) {
            return Err(AmqpError::access_refused(format!(
                "{} in exclusive use",
                self.describe()
            )));
        }
        st.consumers.push(consumer);
        st.had_consumer = true;
        self.dispatch_locked(&mut st);
        Ok(())
    }

    /// Removes a consumer. Returns true if the queue is auto-delete and just lost its last
    /// consumer: the caller (the vhost) then deletes it.
    pub fn cancel(&self, consumer: &Arc<Consumer>) -> bool {
        let mut st = self.state.lock();
        let before = st.consumers.len();
        st.consumers.retain(|c| !Arc::ptr_eq(c, consumer));
        if st.consumers.len() != before {
            st.next = 0;
        }
        self.auto_delete && st.had_consumer && st.consumers.is_empty() && !st.deleted
    }

    /// `basic.get`: takes the head message, if any. With `no_ack` it is settled at once.
    pub fn get(&self, no_ack: bool) -> Option<Got> {
        let mut st = self.state.lock();
        let ready = st.ready.pop_front()?;
        if !no_ack {
            st.unacked += 1;
        }
        Some(Got {
            message: ready.message,
            redelivered: ready.redelivered,
            remaining: st.ready.len() as u32,
        })
    }

    /// `n` deliveries were acknowledged (or rejected without requeue); their consumers' credit
    /// is back, so deliver what it allows.
    pub fn settle(self: &Arc<Self>, n: usize) {
        let mut st = self.state.lock();
        st.unacked = st.unacked.saturating_sub(n);
        self.dispatch_locked(&mut st);
    }

    /// Puts unacknowledged messages back at the head, in the order given (oldest first), marked
    /// redelivered, and delivers again.
    pub fn requeue<I>(self: &Arc<Self>, messages: I)
    where
        I: IntoIterator<Item = Arc<Message>>,
        I::IntoIter: DoubleEndedIterator,
    {
        let mut st = self.state.lock();
        let mut n = 0;
        for message in messages.into_iter().rev() {
            n += 1;
            if !st.deleted {
                st.ready.push_front(Ready {
                    message,
                    redelivered: true,
                });
            }
        }
        st.unacked = st.unacked.saturating_sub(n);
        self.dispatch_locked(&mut st);
    }

    /// Puts back deliveries that never reached the client (still in a closed connection's
    /// mailbox): their redelivered flag stays as it was.
    pub fn return_undelivered(
        self: &Arc<Self>,
        message: Arc<Message>,
        redelivered: bool,
        counted: bool,
    ) {
        let mut st = self.state.lock();
        if counted {
            st.unacked = st.unacked.saturating_sub(1);
        }
        if !st.deleted {
            st.ready.push_front(Ready {
                message,
                redelivered,
            });
        }
        self.dispatch_locked(&mut st);
    }

    /// Drops all ready messages; returns how many.
    pub fn purge(&self) -> u32 {
        let mut st = self.state.lock();
        let n = st.ready.len() as u32;
        st.ready.clear();
        n
    }

    /// Checks delete preconditions and marks the queue deleted; consumers are told their
    /// subscription is gone. Returns the number of ready messages dropped.
    pub fn delete(&self, if_unused: bool, if_empty: bool) -> Result<u32> {
        let mut st = self.state.lock();
        if if_unused && !st.consumers.is_empty() {
            return Err(AmqpError::precondition_failed(format!(
                "{} in use",
                self.describe()
            )));
        }
        if if_empty && !st.ready.is_empty() {
            return Err(AmqpError::precondition_failed(format!(
                "{} not empty",
                self.describe()
            )));
        }
        st.deleted = true;
        let n = st.ready.len() as u32;
        st.ready.clear();
        for c in st.consumers.drain(..) {
            let _ = c.outbox.send(ConnEvent::ConsumerCancelled {
                channel: c.channel,
                consumer_tag: c.tag.clone(),
            });
        }
        Ok(n)
    }
}
