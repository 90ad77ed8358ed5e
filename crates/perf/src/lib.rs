//! `warren perf`: a load generator for AMQP 0-9-1 brokers, in the spirit of
//! RabbitMQ's PerfTest and LavinMQ's lavinmqperf, written on Warren's own
//! codec ([`warren_amqp`]) rather than a client library, so that it is not the
//! bottleneck of what it measures.
//!
//! * One connection + one channel per producer and per consumer, TCP_NODELAY,
//!   heartbeats off; the client handshake (PLAIN) is in [`conn`].
//! * Producers pre-encode a batch of publishes (method + header + body frames)
//!   once and, per batch, only patch the 8-byte publish timestamp at the start
//!   of each body, then write the batch with one syscall.
//! * Consumers read big chunks and scan deliveries in place (no allocation per
//!   message); acks for one read go out in one write.
//! * Latency = consumer receive time − the publish time (CLOCK_REALTIME ns,
//!   little endian) in the first 8 bytes of the body: same host only.
//!
//! The option letters and the final `RESULT key=value ...` line are those of
//! the bench harness's `amqp-load`, so its tooling reads our output.
//!
//! Entry points: [`main`] (builds its own tokio runtime: call it outside one)
//! and [`run`] (async, returns the [`Report`]).

#![forbid(unsafe_code)]

pub mod conn;
mod consumer;
mod producer;
pub mod report;
pub mod uri;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::Args;
use tokio::sync::watch;
use tokio::time::Instant;
use warren_amqp::{
    ExchangeDeclare, ExchangeDelete, FieldTable, Method, QueueBind, QueueDeclare, QueueDelete,
    QueuePurge,
};

use crate::conn::{short, Conn};
pub use crate::report::{LatencyStats, Report};
pub use crate::uri::{parse_uri, AmqpUri};

/// Options of `warren perf` (the letters of PerfTest / amqp-load).
#[derive(Args, Clone, Debug)]
pub struct PerfArgs {
    /// AMQP URI: amqp://user:pass@host:port/vhost (vhost percent-encoded: %2f = "/")
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    pub uri: String,
    /// Number of producers (one connection + channel each)
    #[arg(short = 'x', long, default_value_t = 1)]
    pub producers: usize,
    /// Number of consumers (one connection + channel each)
    #[arg(short = 'y', long, default_value_t = 1)]
    pub consumers: usize,
    /// Message body size in bytes (>= 8 carries the publish timestamp for latency)
    #[arg(short = 's', long, default_value_t = 16)]
    pub size: usize,
    /// Publish persistent messages (delivery_mode 2)
    #[arg(long)]
    pub persistent: bool,
    /// Publisher confirms with at most N unconfirmed messages per producer (0 = off)
    #[arg(short = 'c', long, default_value_t = 0)]
    pub confirm: usize,
    /// Consume with auto-ack (no_ack); the default is manual acks
    #[arg(short = 'a', long)]
    pub autoack: bool,
    /// basic.qos prefetch count per consumer (0 = unlimited)
    #[arg(short = 'q', long, default_value_t = 0)]
    pub qos: u16,
    /// Ack every N deliveries with multiple=true (1 = one basic.ack per delivery)
    #[arg(long, default_value_t = 1)]
    pub multi_ack: u64,
    /// Publish rate per producer in msg/s (0 = unlimited)
    #[arg(short = 'r', long, default_value_t = 0.0)]
    pub rate: f64,
    /// Run duration in seconds (0 = until the message counts are reached)
    #[arg(short = 'z', long, default_value_t = 0.0)]
    pub duration: f64,
    /// Messages to publish per producer (0 = unlimited)
    #[arg(short = 'C', long, default_value_t = 0)]
    pub pmessages: u64,
    /// Messages to consume per consumer (0 = unlimited)
    #[arg(short = 'D', long, default_value_t = 0)]
    pub cmessages: u64,
    /// Queue name (with --queues K > 1: NAME-0 .. NAME-(K-1))
    #[arg(short = 'u', long, default_value = "warren-perf")]
    pub queue: String,
    /// Number of queues (consumer i uses queue i % K; so does producer i with
    /// the default exchange)
    #[arg(long, default_value_t = 1)]
    pub queues: usize,
    /// Publish to this exchange ("" = the default exchange, routing key = queue name);
    /// every queue is bound to it with the routing key
    #[arg(short = 'e', long, default_value = "")]
    pub exchange: String,
    /// Exchange type (direct, fanout, topic, headers)
    #[arg(short = 't', long, default_value = "direct")]
    pub exchange_type: String,
    /// Routing key used with --exchange (publish and bindings)
    #[arg(short = 'k', long, default_value = "warren-perf")]
    pub routing_key: String,
    /// Declare the queues (and exchange) durable
    #[arg(long)]
    pub durable: bool,
    /// Purge the queues before starting
    #[arg(long)]
    pub purge: bool,
    /// Keep the queues and exchange at the end (default: delete them)
    #[arg(long)]
    pub keep: bool,
    /// Declare nothing (the queues must exist); nothing is deleted
    #[arg(long)]
    pub predeclared: bool,
    /// Without consumers: after publishing, poll the queue depth until every
    /// message is enqueued (reports enq_rate)
    #[arg(long)]
    pub wait_enqueued: bool,
    /// Without --duration: consumers stop after this many seconds without a
    /// delivery once the producers are done
    #[arg(long, default_value_t = 5.0)]
    pub idle_timeout: f64,
    /// A producer pauses while it is more than N messages ahead of the
    /// consumers (sent - received / fan-out); 0 = off
    #[arg(long, default_value_t = 0)]
    pub max_lag: u64,
    /// Label echoed in the report and the RESULT line
    #[arg(long, default_value = "")]
    pub label: String,
    /// No per-second progress lines on stderr
    #[arg(long)]
    pub quiet: bool,
    /// Print the report as one JSON object on stdout (the text report and
    /// the RESULT line then go to stderr)
    #[arg(long)]
    pub json: bool,
    /// Tokio worker threads (default: 1 for a single producer or consumer, else 2)
    #[arg(long)]
    pub threads: Option<usize>,
}

impl Default for PerfArgs {
    fn default() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct P {
            #[command(flatten)]
            a: PerfArgs,
        }
        P::parse_from(["perf"]).a
    }
}

/// CLOCK_REALTIME in nanoseconds.
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Counters shared by every task of a run.
#[derive(Debug)]
pub(crate) struct Shared {
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub producers_running: AtomicUsize,
    pub consumers: usize,
    /// Deliveries per publish (number of queues behind an exchange, else 1).
    pub fanout: u64,
    /// The queues started empty and we know the routing: consumers may stop
    /// as soon as every publish was delivered.
    pub count_stop: bool,
    t0: Instant,
    /// When the last producer stopped publishing (ns after t0; 0 = not yet).
    ended_ns: AtomicU64,
}

impl Shared {
    pub fn producer_done(&self) {
        if self.producers_running.fetch_sub(1, Ordering::SeqCst) == 1 {
            let ns = self.t0.elapsed().as_nanos().max(1) as u64;
            self.ended_ns.store(ns, Ordering::SeqCst);
        }
    }

    /// When publishing ended (t0 if it has not, or there are no producers).
    pub fn publishing_ended(&self) -> Instant {
        self.t0 + Duration::from_nanos(self.ended_ns.load(Ordering::SeqCst))
    }

    /// Every publish was delivered (only known with `count_stop`).
    pub fn all_received(&self) -> bool {
        self.count_stop
            && self.producers_running.load(Ordering::SeqCst) == 0
            && self.received.load(Ordering::Relaxed)
                >= self.sent.load(Ordering::Relaxed) * self.fanout
    }
}

fn queue_names(a: &PerfArgs) -> Vec<String> {
    if a.queues <= 1 {
        vec![a.queue.clone()]
    } else {
        (0..a.queues)
            .map(|i| format!("{}-{}", a.queue, i))
            .collect()
    }
}

/// Exchanges we neither declare nor delete: the default one and `amq.*`.
fn builtin_exchange(name: &str) -> bool {
    name.is_empty() || name.starts_with("amq.")
}

fn validate(a: &PerfArgs) -> Result<()> {
    if a.producers == 0 && a.consumers == 0 {
        bail!("nothing to do: no producers (-x) and no consumers (-y)");
    }
    if !a.autoack && a.qos > 0 && a.multi_ack > u64::from(a.qos) {
        bail!("--multi-ack must be <= the prefetch (-q), or the consumer stalls");
    }
    if !(a.rate >= 0.0 && a.rate.is_finite()) {
        bail!("bad --rate {}", a.rate);
    }
    if !(a.duration >= 0.0 && a.duration.is_finite()) {
        bail!("bad --duration {}", a.duration);
    }
    if a.duration == 0.0 && a.producers > 0 && a.pmessages == 0 {
        bail!("an unlimited run needs a duration (-z SECS) or a message count (-C N)");
    }
    Ok(())
}

async fn declare_ok(conn: &mut Conn, m: Method) -> Result<Method> {
    let name = m.name();
    conn.rpc(m).await.with_context(|| format!("{name} failed"))
}

/// Runs the load and returns its report (progress lines go to stderr unless
/// `quiet`). Ctrl-C ends the run early, with a report.
pub async fn run(a: PerfArgs) -> Result<Report> {
    validate(&a)?;
    let uri = parse_uri(&a.uri)?;
    let qs = queue_names(&a);
    let mut setup = Conn::open(&uri, "warren-perf-setup").await?;

    // Declarations. Consumers may stop on counts only if every queue starts
    // empty and we made the bindings (so each publish reaches `fanout` queues).
    let mut all_empty = true;
    if !a.predeclared && !builtin_exchange(&a.exchange) {
        declare_ok(
            &mut setup,
            Method::ExchangeDeclare(ExchangeDeclare {
                exchange: short(&a.exchange)?,
                kind: short(&a.exchange_type)?,
                durable: a.durable,
                ..Default::default()
            }),
        )
        .await?;
    }
    for q in &qs {
        let m = declare_ok(
            &mut setup,
            Method::QueueDeclare(QueueDeclare {
                queue: short(q)?,
                passive: a.predeclared,
                durable: a.durable,
                arguments: FieldTable::new(),
                ..Default::default()
            }),
        )
        .await?;
        if let Method::QueueDeclareOk(ok) = m {
            all_empty &= ok.message_count == 0 || a.purge;
        }
        if !a.predeclared && !a.exchange.is_empty() {
            declare_ok(
                &mut setup,
                Method::QueueBind(QueueBind {
                    queue: short(q)?,
                    exchange: short(&a.exchange)?,
                    routing_key: short(&a.routing_key)?,
                    no_wait: false,
                    arguments: FieldTable::new(),
                }),
            )
            .await?;
        }
        if a.purge {
            declare_ok(
                &mut setup,
                Method::QueuePurge(QueuePurge {
                    queue: short(q)?,
                    no_wait: false,
                }),
            )
            .await?;
        }
    }
    let fanout = if a.exchange.is_empty() {
        1
    } else {
        qs.len() as u64
    };
    // Consumers first, so that they are attached before publishing starts.
    let mut consumers = Vec::with_capacity(a.consumers);
    for i in 0..a.consumers {
        let cfg = consumer::ConsumerCfg {
            queue: qs[i % qs.len()].clone(),
            tag: format!("warren-perf-{i}"),
            autoack: a.autoack,
            prefetch: a.qos,
            multi_ack: a.multi_ack.max(1),
            limit: a.cmessages,
            idle_timeout: (a.duration == 0.0)
                .then(|| Duration::from_secs_f64(a.idle_timeout.max(0.01))),
        };
        let mut conn = Conn::open(&uri, &format!("warren-perf-consumer-{i}")).await?;
        consumer::setup(&mut conn, &cfg)
            .await
            .with_context(|| format!("consumer {i} on queue {:?}", cfg.queue))?;
        consumers.push((conn, cfg));
    }
    let mut producers = Vec::with_capacity(a.producers);
    for i in 0..a.producers {
        let (exchange, routing_key) = if a.exchange.is_empty() {
            (String::new(), qs[i % qs.len()].clone())
        } else {
            (a.exchange.clone(), a.routing_key.clone())
        };
        let cfg = producer::ProducerCfg {
            exchange,
            routing_key,
            size: a.size,
            persistent: a.persistent,
            confirm: a.confirm,
            rate: a.rate,
            limit: a.pmessages,
            max_lag: a.max_lag,
        };
        let mut conn = Conn::open(&uri, &format!("warren-perf-producer-{i}")).await?;
        producer::setup(&mut conn, &cfg)
            .await
            .with_context(|| format!("producer {i}"))?;
        producers.push((conn, cfg));
    }

    // Go.
    let (stop_tx, stop_rx) = watch::channel(false);
    let t0 = Instant::now();
    let shared = Arc::new(Shared {
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        producers_running: AtomicUsize::new(a.producers),
        consumers: a.consumers,
        fanout,
        count_stop: a.producers > 0
            && all_empty
            && (a.exchange.is_empty() || !a.predeclared)
            && a.cmessages == 0,
        t0,
        ended_ns: AtomicU64::new(0),
    });
    let cons: Vec<_> = consumers
        .into_iter()
        .map(|(conn, cfg)| tokio::spawn(consumer::run(conn, cfg, shared.clone(), stop_rx.clone())))
        .collect();
    let prods: Vec<_> = producers
        .into_iter()
        .map(|(conn, cfg)| tokio::spawn(producer::run(conn, cfg, shared.clone(), stop_rx.clone())))
        .collect();
    let progress = (!a.quiet).then(|| tokio::spawn(progress(shared.clone())));
    // Seconds after t0 of a Ctrl-C (0 = none).
    let interrupted = Arc::new(AtomicU64::new(0));
    let stopper = {
        let stop_tx = stop_tx.clone();
        let duration = a.duration;
        let interrupted = interrupted.clone();
        tokio::spawn(async move {
            let deadline = async {
                if duration > 0.0 {
                    tokio::time::sleep(Duration::from_secs_f64(duration)).await
                } else {
                    std::future::pending().await
                }
            };
            tokio::select! {
                _ = deadline => {}
                r = tokio::signal::ctrl_c() => {
                    if r.is_err() {
                        std::future::pending::<()>().await;
                    }
                    eprintln!("interrupted: stopping");
                    interrupted.store(t0.elapsed().as_nanos().max(1) as u64, Ordering::SeqCst);
                }
            }
            let _ = stop_tx.send(true);
        })
    };

    let mut first_err: Option<anyhow::Error> = None;
    let fail = |e: anyhow::Error, first_err: &mut Option<anyhow::Error>| {
        let _ = stop_tx.send(true);
        first_err.get_or_insert(e);
    };
    let (mut sent, mut prod_elapsed, mut confirmed, mut nacked) = (0u64, 0f64, 0u64, 0u64);
    let mut clat = report::new_histogram();
    for (i, p) in prods.into_iter().enumerate() {
        match p.await.context("producer task")? {
            Ok(o) => {
                sent += o.sent;
                prod_elapsed = prod_elapsed.max(o.elapsed);
                confirmed += o.acked;
                nacked += o.nacked;
                let _ = clat.add(&o.confirm_hist);
            }
            Err(e) => fail(e.context(format!("producer {i}")), &mut first_err),
        }
    }
    let mut enq_rate = None;
    if a.wait_enqueued && a.consumers == 0 && a.producers > 0 && first_err.is_none() {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let mut depth = 0u64;
            for q in &qs {
                if let Method::QueueDeclareOk(ok) = declare_ok(
                    &mut setup,
                    Method::QueueDeclare(QueueDeclare {
                        queue: short(q)?,
                        passive: true,
                        ..Default::default()
                    }),
                )
                .await?
                {
                    depth += u64::from(ok.message_count);
                }
            }
            if depth >= sent * fanout || Instant::now() > deadline {
                enq_rate = report::rate(depth, t0.elapsed().as_secs_f64());
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let (mut received, mut last_msg) = (0u64, None::<Instant>);
    let mut lat = report::new_histogram();
    for (i, c) in cons.into_iter().enumerate() {
        match c.await.context("consumer task")? {
            Ok(o) => {
                received += o.received;
                let _ = lat.add(&o.hist);
                last_msg = last_msg.max(o.last_msg);
            }
            Err(e) => fail(e.context(format!("consumer {i}")), &mut first_err),
        }
    }
    stopper.abort();
    if let Some(p) = progress {
        p.abort();
    }
    if !a.keep && !a.predeclared {
        for q in &qs {
            let del = Method::QueueDelete(QueueDelete {
                queue: short(q)?,
                if_unused: false,
                if_empty: false,
                no_wait: false,
            });
            match tokio::time::timeout(Duration::from_secs(60), setup.rpc(del)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => eprintln!("deleting queue {q}: {e:#}"),
                Err(_) => eprintln!("deleting queue {q}: timed out"),
            }
        }
        if !builtin_exchange(&a.exchange) {
            let del = Method::ExchangeDelete(ExchangeDelete {
                exchange: short(&a.exchange)?,
                if_unused: false,
                no_wait: false,
            });
            if let Err(e) = setup.rpc(del).await {
                eprintln!("deleting exchange {}: {e:#}", a.exchange);
            }
        }
    }
    setup.close(Duration::from_secs(2)).await;
    if let Some(e) = first_err {
        return Err(e);
    }

    // A timed run lasts its duration, or until Ctrl-C.
    let run_secs = match interrupted.load(Ordering::SeqCst) {
        0 => a.duration,
        ns => (ns as f64 / 1e9).min(a.duration),
    };
    let sent_secs = if a.duration > 0.0 {
        run_secs
    } else {
        prod_elapsed
    };
    let recv_secs = if a.duration > 0.0 {
        run_secs
    } else {
        last_msg.map_or(f64::NAN, |t| (t - t0).as_secs_f64())
    };
    Ok(Report {
        label: a.label.clone(),
        producers: a.producers,
        consumers: a.consumers,
        size: a.size,
        sent,
        sent_rate: if a.producers > 0 {
            report::rate(sent, sent_secs)
        } else {
            None
        },
        sent_secs,
        confirmed,
        nacked,
        received,
        recv_rate: if a.consumers > 0 {
            report::rate(received, recv_secs)
        } else {
            None
        },
        recv_secs,
        enq_rate,
        latency: LatencyStats::from_histogram(&lat),
        confirm_latency: LatencyStats::from_histogram(&clat),
    })
}

async fn progress(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let (mut last_s, mut last_r, mut sec) = (0u64, 0u64, 0u64);
    loop {
        tick.tick().await;
        sec += 1;
        let s = shared.sent.load(Ordering::Relaxed);
        let r = shared.received.load(Ordering::Relaxed);
        eprintln!("t={sec}s sent={}/s received={}/s", s - last_s, r - last_r);
        (last_s, last_r) = (s, r);
    }
}

/// `warren perf`: runs the load on a tokio runtime of its own and prints the
/// report: text + the `RESULT ...` line on stdout, or with `--json` one JSON
/// object on stdout (and the text on stderr).
pub fn main(args: PerfArgs) -> Result<()> {
    let threads = args
        .threads
        .unwrap_or(if args.producers + args.consumers > 1 {
            2
        } else {
            1
        })
        .max(1);
    let json = args.json;
    let go = move || -> Result<Report> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?;
        rt.block_on(run(args))
    };
    let report = if tokio::runtime::Handle::try_current().is_ok() {
        // Called from inside a runtime: a runtime may be neither blocked on
        // nor dropped there, so ours lives on a thread of its own.
        std::thread::spawn(go)
            .join()
            .map_err(|_| anyhow::anyhow!("the perf thread panicked"))??
    } else {
        go()?
    };
    if json {
        eprint!("{}", report.text());
        eprintln!("{}", report.result_line());
        println!("{}", report.to_json());
    } else {
        print!("{}", report.text());
        println!("{}", report.result_line());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let a = PerfArgs::default();
        assert_eq!((a.producers, a.consumers, a.size), (1, 1, 16));
        assert_eq!(a.multi_ack, 1);
        assert!(validate(&a).is_err(), "unlimited without a duration");
        let ok = PerfArgs {
            duration: 1.0,
            ..a.clone()
        };
        validate(&ok).unwrap();
        let bad = PerfArgs {
            qos: 10,
            multi_ack: 20,
            ..ok.clone()
        };
        assert!(validate(&bad).is_err());
        let none = PerfArgs {
            producers: 0,
            consumers: 0,
            ..ok
        };
        assert!(validate(&none).is_err());
        assert_eq!(
            queue_names(&PerfArgs {
                queues: 3,
                queue: "q".into(),
                ..PerfArgs::default()
            }),
            ["q-0", "q-1", "q-2"]
        );
    }
}
