//! The publishing side: pre-encoded publish frames written in big batches,
//! with an optional publisher-confirm window and rate limit.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use bytes::{Buf, BytesMut};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;
use warren_amqp::{
    encode_body_frames, encode_header_frame, encode_method_frame, BasicProperties, BasicPublish,
    ConfirmSelect, Method, Route, FRAME_END,
};

use crate::conn::{other_method, short, Conn, CHANNEL};
use crate::report::new_histogram;
use crate::{now_ns, Shared};

/// Bytes of publishes encoded per write syscall (at most).
const BATCH_BYTES: usize = 256 * 1024;
/// Messages per write (at most), so that timestamps stay fresh.
const BATCH_MSGS: usize = 4096;

#[derive(Clone, Debug)]
pub(crate) struct ProducerCfg {
    pub exchange: String,
    pub routing_key: String,
    pub size: usize,
    pub persistent: bool,
    /// Outstanding confirms allowed (0 = confirms off).
    pub confirm: usize,
    /// msg/s (0 = unlimited).
    pub rate: f64,
    /// Messages to publish (0 = unlimited).
    pub limit: u64,
    /// Pause while (sent - received / fanout) > max_lag (0 = off).
    pub max_lag: u64,
}

#[derive(Debug)]
pub(crate) struct ProducerOut {
    pub sent: u64,
    pub elapsed: f64,
    pub acked: u64,
    pub nacked: u64,
    pub confirm_hist: Histogram<u64>,
}

/// One message's frames (publish method, content header, body frames) and
/// where its 8 timestamp bytes go (`None` for bodies under 8 bytes).
pub(crate) fn message_template(
    exchange: &str,
    routing_key: &str,
    size: usize,
    persistent: bool,
    frame_max: u32,
) -> Result<(Vec<u8>, Option<usize>)> {
    let mut b = BytesMut::new();
    let publish = BasicPublish {
        route: Route::from_short(&short(exchange)?, &short(routing_key)?),
        mandatory: false,
        immediate: false,
    };
    encode_method_frame(&mut b, CHANNEL, &Method::BasicPublish(publish));
    let props = BasicProperties {
        delivery_mode: Some(if persistent { 2 } else { 1 }),
        ..Default::default()
    };
    encode_header_frame(&mut b, CHANNEL, 60, size as u64, &props.encode());
    let ts_offset = (size >= 8).then_some(b.len() + 7);
    encode_body_frames(&mut b, CHANNEL, &vec![0u8; size], frame_max);
    Ok((b.to_vec(), ts_offset))
}

/// Publish times of the unconfirmed messages, by delivery tag.
#[derive(Debug)]
pub(crate) struct ConfirmTracker {
    /// Delivery tag of `pending[0]`.
    base: u64,
    /// Publish time (ns) per message; 0 = already settled (out of order).
    pending: VecDeque<u64>,
    pub unsettled: usize,
    pub acked: u64,
    pub nacked: u64,
    pub hist: Histogram<u64>,
}

impl ConfirmTracker {
    pub fn new(window: usize) -> Self {
        ConfirmTracker {
            base: 1,
            pending: VecDeque::with_capacity(window),
            unsettled: 0,
            acked: 0,
            nacked: 0,
            hist: new_histogram(),
        }
    }

    pub fn published(&mut self, n: u64, ts_ns: u64) {
        let ts = ts_ns.max(1);
        self.pending.extend((0..n).map(|_| ts));
        self.unsettled += n as usize;
    }

    fn settle_one(&mut self, ts: u64, nack: bool, now_ns: u64) {
        if nack {
            self.nacked += 1;
        } else {
            self.acked += 1;
        }
        self.unsettled -= 1;
        self.hist
            .saturating_record(now_ns.saturating_sub(ts) / 1000);
    }

    /// A basic.ack / basic.nack from the broker.
    pub fn settle(&mut self, tag: u64, multiple: bool, nack: bool, now_ns: u64) {
        if multiple {
            while self.base <= tag {
                let Some(ts) = self.pending.pop_front() else {
                    break;
                };
                self.base += 1;
                if ts != 0 {
                    self.settle_one(ts, nack, now_ns);
                }
            }
        } else if tag >= self.base {
            let i = (tag - self.base) as usize;
            if let Some(&ts) = self.pending.get(i) {
                if ts != 0 {
                    self.pending[i] = 0;
                    self.settle_one(ts, nack, now_ns);
                }
            }
            while self.pending.front() == Some(&0) {
                self.pending.pop_front();
                self.base += 1;
            }
        }
    }
}

/// Parses what the broker sent a producer: acks/nacks (fast path), closes.
fn process_input(rbuf: &mut BytesMut, tracker: &mut Option<ConfirmTracker>) -> Result<()> {
    let now = now_ns();
    let b = &rbuf[..];
    let mut pos = 0;
    while b.len() - pos >= 7 {
        let f = &b[pos..];
        let size = u32::from_be_bytes([f[3], f[4], f[5], f[6]]) as usize;
        let total = size + 8;
        if f.len() < total {
            break;
        }
        if f[total - 1] != FRAME_END {
            bail!("bad frame end from the broker");
        }
        if f[0] == 1 {
            let ids = &f[7..11.min(total - 1)];
            let is_ack = ids == [0, 60, 0, 80];
            let is_nack = ids == [0, 60, 0, 120];
            if (is_ack || is_nack) && size == 13 {
                let tag = u64::from_be_bytes(f[11..19].try_into().unwrap_or_default());
                let multiple = f[19] & 1 != 0;
                if let Some(t) = tracker.as_mut() {
                    t.settle(tag, multiple, is_nack, now);
                }
            } else {
                other_method(&f[7..total - 1])?;
            }
        }
        pos += total;
    }
    rbuf.advance(pos);
    Ok(())
}

/// Setup before the clock starts: confirm.select.
pub(crate) async fn setup(conn: &mut Conn, cfg: &ProducerCfg) -> Result<()> {
    if cfg.confirm > 0 {
        match conn
            .rpc(Method::ConfirmSelect(ConfirmSelect { no_wait: false }))
            .await?
        {
            Method::ConfirmSelectOk => {}
            m => bail!("expected confirm.select-ok, got {}", m.name()),
        }
    }
    Ok(())
}

pub(crate) async fn run(
    mut conn: Conn,
    cfg: ProducerCfg,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Result<ProducerOut> {
    match run_inner(&mut conn, &cfg, &shared, &mut stop).await {
        Ok((out, graceful)) => {
            if graceful {
                conn.close(Duration::from_secs(2)).await;
            }
            Ok(out)
        }
        Err(e) => Err(e),
    }
}

async fn run_inner(
    conn: &mut Conn,
    cfg: &ProducerCfg,
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
) -> Result<(ProducerOut, bool)> {
    let (template, ts_offset) = message_template(
        &cfg.exchange,
        &cfg.routing_key,
        cfg.size,
        cfg.persistent,
        conn.frame_max,
    )?;
    let msg_len = template.len();
    let mut batch_max = (BATCH_BYTES / msg_len).clamp(1, BATCH_MSGS);
    if cfg.confirm > 0 {
        batch_max = batch_max.min(cfg.confirm);
    }
    // The batch buffer holds `batch_max` copies of the message; only the
    // timestamps change from one batch to the next.
    let mut batch = Vec::with_capacity(batch_max * msg_len);
    for _ in 0..batch_max {
        batch.extend_from_slice(&template);
    }
    let mut tracker = (cfg.confirm > 0).then(|| ConfirmTracker::new(cfg.confirm));

    let mut running = Running(shared, false);
    let start = Instant::now();
    let mut sent: u64 = 0;
    let (mut wpos, mut wlen, mut inflight) = (0usize, 0usize, 0u64);
    let mut stopping = *stop.borrow();
    let mut stop_grace: Option<Instant> = None;
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    let mut timer_armed = false;
    let stop_fut = stop.changed();
    tokio::pin!(stop_fut);
    let (mut rd, mut wr) = conn.stream.split();
    let rbuf = &mut conn.rbuf;
    let fanout = shared.fanout.max(1);

    loop {
        if wpos == wlen {
            if inflight > 0 {
                sent += inflight;
                shared.sent.fetch_add(inflight, Ordering::Relaxed);
                inflight = 0;
            }
            if stopping || (cfg.limit > 0 && sent >= cfg.limit) {
                break;
            }
            let mut n = batch_max as u64;
            let mut wake = None;
            if cfg.limit > 0 {
                n = n.min(cfg.limit - sent);
            }
            if let Some(t) = &tracker {
                n = n.min(cfg.confirm.saturating_sub(t.unsettled) as u64);
            }
            if cfg.rate > 0.0 {
                let due = (start.elapsed().as_secs_f64() * cfg.rate) as u64 + 1;
                let allowed = due.saturating_sub(sent);
                if allowed == 0 {
                    wake = Some(start + Duration::from_secs_f64(sent as f64 / cfg.rate));
                }
                n = n.min(allowed);
            }
            if cfg.max_lag > 0 && shared.consumers > 0 {
                let lag = shared
                    .sent
                    .load(Ordering::Relaxed)
                    .saturating_sub(shared.received.load(Ordering::Relaxed) / fanout);
                if lag >= cfg.max_lag {
                    n = 0;
                    wake = Some(Instant::now() + Duration::from_millis(1));
                } else {
                    n = n.min(cfg.max_lag - lag);
                }
            }
            if n > 0 {
                let ts = now_ns();
                if let Some(off) = ts_offset {
                    let bytes = ts.to_le_bytes();
                    for i in 0..n as usize {
                        let at = i * msg_len + off;
                        batch[at..at + 8].copy_from_slice(&bytes);
                    }
                }
                wpos = 0;
                wlen = n as usize * msg_len;
                inflight = n;
                if let Some(t) = tracker.as_mut() {
                    t.published(n, ts);
                }
            } else if let Some(w) = wake {
                timer.as_mut().reset(w);
                timer_armed = true;
            }
            // else: the confirm window is full; wait for acks.
        }
        rbuf.reserve(64 * 1024);
        tokio::select! {
            biased;
            _ = &mut stop_fut, if !stopping => {
                stopping = true;
                // Finish the batch being written (frames must be whole), but
                // not forever if the broker stopped reading.
                let grace = Instant::now() + Duration::from_secs(5);
                stop_grace = Some(grace);
                timer.as_mut().reset(grace);
                timer_armed = true;
            }
            r = rd.read_buf(rbuf) => {
                if r? == 0 {
                    bail!("connection closed by the broker");
                }
                process_input(rbuf, &mut tracker)?;
            }
            r = wr.write(&batch[wpos..wlen]), if wpos < wlen => {
                wpos += r?;
            }
            _ = &mut timer, if timer_armed => {
                timer_armed = false;
                if stop_grace.is_some_and(|g| Instant::now() >= g) {
                    // Gave up on a partial batch: no graceful close possible.
                    return Ok((out(sent, start, tracker), false));
                }
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    running.done();
    // Wait (bounded) for the outstanding confirms.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tracker.as_ref().is_some_and(|t| t.unsettled > 0) {
        rbuf.reserve(64 * 1024);
        match tokio::time::timeout_at(deadline, rd.read_buf(rbuf)).await {
            Err(_) => break,
            Ok(r) => {
                if r? == 0 {
                    bail!("connection closed by the broker");
                }
            }
        }
        process_input(rbuf, &mut tracker)?;
    }
    let mut o = out(sent, start, tracker);
    o.elapsed = elapsed;
    Ok((o, true))
}

/// Counts this producer out of `producers_running` once (when it stops
/// publishing, or on any error).
struct Running<'a>(&'a Shared, bool);

impl Running<'_> {
    fn done(&mut self) {
        if !self.1 {
            self.1 = true;
            self.0.producer_done();
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.done();
    }
}

fn out(sent: u64, start: Instant, tracker: Option<ConfirmTracker>) -> ProducerOut {
    let elapsed = start.elapsed().as_secs_f64();
    match tracker {
        Some(t) => ProducerOut {
            sent,
            elapsed,
            acked: t.acked,
            nacked: t.nacked,
            confirm_hist: t.hist,
        },
        None => ProducerOut {
            sent,
            elapsed,
            acked: 0,
            nacked: 0,
            confirm_hist: new_histogram(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warren_amqp::{decode_frame, Frame};

    #[test]
    fn template_decodes_and_carries_the_timestamp() {
        let (mut t, off) = message_template("", "q", 16, true, 131_072).unwrap();
        let off = off.unwrap();
        t[off..off + 8].copy_from_slice(&42u64.to_le_bytes());
        let mut b = BytesMut::from(&t[..]);
        let Some(Frame::Method {
            method: Method::BasicPublish(p),
            ..
        }) = decode_frame(&mut b, 0).unwrap()
        else {
            panic!()
        };
        assert_eq!(p.routing_key(), "q");
        let Some(Frame::Header { header, .. }) = decode_frame(&mut b, 0).unwrap() else {
            panic!()
        };
        assert_eq!(header.body_size, 16);
        assert_eq!(header.properties.delivery_mode(), Some(2));
        let Some(Frame::Body { payload, .. }) = decode_frame(&mut b, 0).unwrap() else {
            panic!()
        };
        assert_eq!(payload.len(), 16);
        assert_eq!(u64::from_le_bytes(payload[..8].try_into().unwrap()), 42);
        assert!(b.is_empty());
        // Big bodies are split at frame_max; tiny ones carry no timestamp.
        let (t, _) = message_template("ex", "k", 10_000, false, 4096).unwrap();
        let mut b = BytesMut::from(&t[..]);
        let mut bodies = 0;
        while let Some(f) = decode_frame(&mut b, 4096).unwrap() {
            bodies += usize::from(matches!(f, Frame::Body { .. }));
        }
        assert_eq!(bodies, 3);
        assert_eq!(message_template("", "q", 7, false, 4096).unwrap().1, None);
    }

    #[test]
    fn confirm_tracker_multiple_single_and_nack() {
        let mut t = ConfirmTracker::new(10);
        t.published(5, 1_000_000); // tags 1..=5
        t.settle(2, true, false, 3_000_000); // 1, 2
        assert_eq!((t.acked, t.unsettled), (2, 3));
        t.settle(4, false, true, 3_000_000); // 4 alone, nacked
        assert_eq!((t.nacked, t.unsettled), (1, 2));
        t.settle(4, false, false, 3_000_000); // duplicate: ignored
        assert_eq!((t.acked, t.nacked), (2, 1));
        t.settle(5, true, false, 3_000_000); // 3 and 5 (4 already settled)
        assert_eq!((t.acked, t.nacked, t.unsettled), (4, 1, 0));
        assert_eq!(t.hist.len(), 5);
        assert!(t.hist.equivalent(t.hist.max(), 2000));
        t.published(1, 1); // tag 6
        t.settle(6, false, false, 2_000);
        assert_eq!((t.unsettled, t.pending.len(), t.base), (0, 0, 7));
    }

    #[test]
    fn process_input_reads_acks_and_closes() {
        let mut b = BytesMut::new();
        warren_amqp::encode_ack_frame(&mut b, 1, 3, true);
        warren_amqp::encode_nack_frame(&mut b, 1, 4, false, false);
        let partial = b.len();
        warren_amqp::encode_ack_frame(&mut b, 1, 5, false);
        b.truncate(partial + 10);
        let mut t = Some(ConfirmTracker::new(10));
        t.as_mut().unwrap().published(5, 1);
        process_input(&mut b, &mut t).unwrap();
        let t = t.unwrap();
        assert_eq!((t.acked, t.nacked, t.unsettled), (3, 1, 1));
        assert_eq!(b.len(), 10, "partial frame kept");

        let mut b = BytesMut::new();
        encode_method_frame(
            &mut b,
            1,
            &Method::ChannelClose(warren_amqp::ChannelClose {
                reply_code: 404,
                reply_text: warren_amqp::ShortStr::from_static("NOT_FOUND - no exchange 'x'"),
                class_id: 60,
                method_id: 40,
            }),
        );
        let err = process_input(&mut b, &mut None).unwrap_err().to_string();
        assert!(
            err.contains("404") && err.contains("basic.publish"),
            "{err}"
        );
    }
}
