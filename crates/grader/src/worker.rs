//! `grader worker`: takes jobs from [`JOBS_QUEUE`], grades them, reports on [`RESULTS_QUEUE`].
//!
//! The reliability rules a worker follows (the reason to use a broker for this at all):
//!
//! * **Prefetch window = concurrency.** `basic.qos(N)` lets the broker push at most N
//!   unacknowledged jobs to this worker; each is graded in its own task, so at most N
//!   programs run at once and the other jobs stay in the queue for other workers.
//! * **Manual ack, after the result is safe.** A job is acked only once the broker has
//!   confirmed the result message. A worker that dies at any point before that (crash,
//!   SIGKILL, lost network) leaves the job unacked, and the broker redelivers it to another
//!   worker when the connection goes away. The worst case is grading twice, never losing it.
//! * **Bounded work per job.** The simulator runs with a step limit and a memory limit, so a
//!   program that loops forever costs one step limit, not a worker. A job also has a
//!   wall-clock limit (`job_timeout`, for the sum of its cases): past it the job is graded
//!   with the error "time limit exceeded" and acked, so its prefetch slot goes to the next
//!   job; the blocking run stops at the end of its current case (bounded by the step limit).
//!   Grading is CPU-bound and synchronous, so it runs on the blocking thread pool, never on
//!   the async runtime.
//! * **Poison messages are dropped, not retried forever.** A body that is not a valid job is
//!   rejected without requeue (with a dead-letter exchange on the queue it would go there).

use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    BasicRejectOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, Consumer};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};

use crate::amqp::{self, AmqpError, Publisher};
use crate::grade::{grade_until, time_limit_result, TIME_LIMIT_EXCEEDED};
use crate::protocol::{Job, ResultEvent, JOBS_QUEUE, RESULTS_QUEUE};

/// How a worker is set up.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `amqp://user:pass@host:port/vhost`
    pub amqp_url: String,
    /// Jobs graded at the same time (and the prefetch window).
    pub concurrency: u16,
    /// Step and memory limits of every run.
    pub limits: mips::Limits,
    /// Wall-clock limit of one job (all its cases).
    pub job_timeout: Duration,
}

impl WorkerConfig {
    /// Default wall-clock limit of a job.
    pub const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(10);
}

/// A running worker (see [`Worker::start`]).
pub struct Worker {
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Connects, declares the queues and starts consuming; returns once the worker is
    /// registered as a consumer. If the connection is lost later the worker reconnects.
    pub async fn start(config: WorkerConfig) -> Result<Worker, AmqpError> {
        let session = Session::open(&config).await?;
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(run_sessions(config, Some(session), rx));
        Ok(Worker { shutdown: tx, task })
    }

    /// Stops taking jobs, lets the jobs in progress finish (bounded wait) and disconnects.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// Runs a worker until `shutdown` turns true, reconnecting whenever the connection is lost.
pub async fn run(config: WorkerConfig, shutdown: watch::Receiver<bool>) {
    run_sessions(config, None, shutdown).await
}

async fn run_sessions(
    config: WorkerConfig,
    mut first: Option<Session>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(200);
    while !*shutdown.borrow() {
        let session = match first.take() {
            Some(s) => s,
            None => match Session::open(&config).await {
                Ok(s) => {
                    backoff = Duration::from_millis(200);
                    s
                }
                Err(e) => {
                    warn!(
                        "worker cannot connect to {}: {e}; retrying in {backoff:?}",
                        config.amqp_url
                    );
                    tokio::select! {
                        _ = shutdown.changed() => {}
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            },
        };
        match session.consume(&config, &mut shutdown).await {
            Ok(()) => break,
            Err(e) => warn!("worker lost its connection: {e}; reconnecting"),
        }
    }
}

/// One connection's worth of work.
struct Session {
    connection: Connection,
    consumer: Consumer,
    /// Publishes results (confirm mode) on the channel that consumes jobs.
    publisher: Publisher,
}

impl Session {
    async fn open(config: &WorkerConfig) -> Result<Session, AmqpError> {
        let connection = amqp::connect(&config.amqp_url, "grader worker").await?;
        let channel = connection.create_channel().await?;
        amqp::declare_queues(&channel).await?;
        // The receiver window: at most `concurrency` unacked jobs on this channel.
        channel
            .basic_qos(config.concurrency.max(1), BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                JOBS_QUEUE,
                "",                             // let the broker name the consumer
                BasicConsumeOptions::default(), // no_ack: false, we ack by hand
                FieldTable::default(),
            )
            .await?;
        let publisher = Publisher::new(channel).await?;
        info!(
            "worker consuming {JOBS_QUEUE} with prefetch {}",
            config.concurrency
        );
        Ok(Session {
            connection,
            consumer,
            publisher,
        })
    }

    /// Consumes until shutdown (Ok) or until the connection fails (Err).
    async fn consume(
        mut self,
        config: &WorkerConfig,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), AmqpError> {
        let mut in_flight = JoinSet::new();
        let outcome = loop {
            tokio::select! {
                _ = shutdown.changed() => break Ok(()),
                // Reap finished jobs so the set does not grow.
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                next = self.consumer.next() => match next {
                    Some(Ok(delivery)) => {
                        in_flight.spawn(handle_job(
                            delivery,
                            self.publisher.clone(),
                            config.limits,
                            config.job_timeout,
                        ));
                    }
                    Some(Err(e)) => break Err(e.into()),
                    None => break Err(lapin::Error::InvalidChannelState(
                        lapin::ChannelState::Closed,
                    ).into()),
                },
            }
        };
        if outcome.is_ok() {
            // Graceful stop: take no new jobs, finish the ones we hold (their results are
            // worth keeping), then disconnect. Unfinished ones are redelivered elsewhere.
            let _ = self
                .publisher
                .channel()
                .basic_cancel(self.consumer.tag().as_str(), BasicCancelOptions::default())
                .await;
            let _ = tokio::time::timeout(Duration::from_secs(10), async {
                while in_flight.join_next().await.is_some() {}
            })
            .await;
        }
        let _ = self.connection.close(200, "worker stopping").await;
        outcome
    }
}

/// Grades one delivery and acks it once its result is confirmed.
async fn handle_job(
    delivery: Delivery,
    publisher: Publisher,
    limits: mips::Limits,
    job_timeout: Duration,
) {
    let job: Job = match serde_json::from_slice(&delivery.data) {
        Ok(job) => job,
        Err(e) => {
            error!("dropping a malformed job: {e}");
            let _ = delivery
                .acker
                .reject(BasicRejectOptions { requeue: false })
                .await;
            return;
        }
    };
    let id = job.submission_id;
    let message_id = id.to_string();
    debug!(
        "grading submission {id} ({} cases, redelivered: {})",
        job.cases.len(),
        delivery.redelivered
    );
    // Progress event: lets the service show "running". If even this fails the connection
    // is gone; the job is unacked and will be redelivered.
    let running = ResultEvent::Running { submission_id: id };
    if let Err(e) = publisher
        .publish(RESULTS_QUEUE, &running, &message_id)
        .await
    {
        warn!("submission {id}: cannot report progress: {e}");
        return;
    }
    let deadline = (Instant::now() + job_timeout, job_timeout);
    let over_time = time_limit_result(&job, job_timeout);
    let grading = tokio::task::spawn_blocking(move || grade_until(&job, limits, Some(deadline)));
    let result = match tokio::time::timeout(job_timeout, grading).await {
        Ok(Ok(result)) => result,
        Err(_elapsed) => {
            // The run goes on in its blocking thread until its current case ends (then it
            // sees the deadline); its result will be dropped. The slot is free now.
            warn!("submission {id}: {TIME_LIMIT_EXCEEDED} ({job_timeout:?})");
            over_time
        }
        Ok(Err(e)) => {
            // `grade` does not panic; if it ever did, do not retry the job forever.
            error!("submission {id}: grading task failed: {e}");
            let _ = delivery
                .acker
                .nack(BasicNackOptions {
                    requeue: false,
                    ..BasicNackOptions::default()
                })
                .await;
            return;
        }
    };
    let graded = ResultEvent::Graded {
        submission_id: id,
        result,
    };
    match publisher.publish(RESULTS_QUEUE, &graded, &message_id).await {
        // The result is safe in the broker: now, and only now, the job is done.
        Ok(()) => {
            if let Err(e) = delivery.acker.ack(BasicAckOptions::default()).await {
                warn!("submission {id}: ack failed ({e}); it will be graded again");
            }
        }
        Err(e) => warn!("submission {id}: cannot publish the result ({e}); left unacked"),
    }
}
