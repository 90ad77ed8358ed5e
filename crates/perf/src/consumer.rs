//! The consuming side: big reads, deliveries scanned in place (no
//! per-message allocation), acks batched into one write per read.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use bytes::{Buf, BytesMut};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;
use warren_amqp::{encode_ack_frame, BasicConsume, BasicQos, FieldTable, Method, FRAME_END};

use crate::conn::{other_method, short, Conn, CHANNEL};
use crate::report::new_histogram;
use crate::{now_ns, Shared};

/// Bytes asked of each read.
const READ_CHUNK: usize = 512 * 1024;
/// Timestamps older than this (or in the future) are not ours: no latency.
const MAX_LATENCY_NS: u64 = 3_600 * 1_000_000_000;

#[derive(Clone, Debug)]
pub(crate) struct ConsumerCfg {
    pub queue: String,
    pub tag: String,
    pub autoack: bool,
    pub prefetch: u16,
    /// Ack every N deliveries with multiple=true (1 = one ack per delivery).
    pub multi_ack: u64,
    /// Deliveries to consume (0 = unlimited).
    pub limit: u64,
    /// Stop after this long without a delivery once the producers are done
    /// (only when the run has no duration).
    pub idle_timeout: Option<Duration>,
}

#[derive(Debug)]
pub(crate) struct ConsumerOut {
    pub received: u64,
    pub hist: Histogram<u64>,
    pub last_msg: Option<Instant>,
}

/// The state of the scan across reads (a message may span reads).
#[derive(Debug)]
pub(crate) struct Scanner {
    autoack: bool,
    multi_ack: u64,
    limit: u64,
    /// Delivery tag of the message whose content is being received.
    tag: u64,
    /// Body bytes still expected for that message.
    remaining: u64,
    /// The next body frame is the first of the message.
    first_body: bool,
    ts: u64,
    /// Deliveries counted since the last multiple ack, and the last tag.
    since_ack: u64,
    last_tag: u64,
    pub count: u64,
    pub done: bool,
    pub cancelled: bool,
    pub hist: Histogram<u64>,
    /// Acks to write after this read.
    pub acks: BytesMut,
}

impl Scanner {
    pub fn new(autoack: bool, multi_ack: u64, limit: u64) -> Self {
        Scanner {
            autoack,
            multi_ack: multi_ack.max(1),
            limit,
            tag: 0,
            remaining: 0,
            first_body: false,
            ts: 0,
            since_ack: 0,
            last_tag: 0,
            count: 0,
            done: false,
            cancelled: false,
            hist: new_histogram(),
            acks: BytesMut::with_capacity(64 * 1024),
        }
    }

    #[inline]
    fn complete(&mut self, now: u64) {
        self.count += 1;
        if self.ts != 0 && now >= self.ts && now - self.ts < MAX_LATENCY_NS {
            self.hist.saturating_record((now - self.ts) / 1000);
        }
        if !self.autoack {
            self.last_tag = self.tag;
            if self.multi_ack <= 1 {
                encode_ack_frame(&mut self.acks, CHANNEL, self.tag, false);
            } else {
                self.since_ack += 1;
                if self.since_ack >= self.multi_ack {
                    encode_ack_frame(&mut self.acks, CHANNEL, self.tag, true);
                    self.since_ack = 0;
                }
            }
        }
        if self.limit > 0 && self.count >= self.limit {
            self.done = true;
        }
    }

    /// The ack covering deliveries counted but not yet acked (multi-ack).
    pub fn final_ack(&mut self) {
        if !self.autoack && self.since_ack > 0 {
            encode_ack_frame(&mut self.acks, CHANNEL, self.last_tag, true);
            self.since_ack = 0;
        }
    }

    /// Scans whole frames at the front of `buf`; returns the bytes consumed.
    /// Stops early once `limit` deliveries were counted.
    pub fn scan(&mut self, buf: &[u8], now: u64) -> Result<usize> {
        let mut pos = 0;
        while !self.done && buf.len() - pos >= 7 {
            let f = &buf[pos..];
            let size = u32::from_be_bytes([f[3], f[4], f[5], f[6]]) as usize;
            let total = size + 8;
            if f.len() < total {
                break;
            }
            if f[total - 1] != FRAME_END {
                bail!("bad frame end from the broker");
            }
            match f[0] {
                // basic.deliver: consumer tag, delivery tag, ...
                1 if size >= 5 && f[7..11] == [0, 60, 0, 60] => {
                    let at = 12 + f[11] as usize;
                    if at + 8 > total - 1 {
                        bail!("truncated basic.deliver");
                    }
                    self.tag = u64::from_be_bytes(f[at..at + 8].try_into().unwrap_or_default());
                    self.ts = 0;
                }
                1 => {
                    let cancelled = other_method(&f[7..total - 1])?;
                    self.cancelled |= cancelled;
                    self.done |= cancelled;
                }
                // Content header: class, weight, body size.
                2 if size >= 12 => {
                    self.remaining = u64::from_be_bytes(f[11..19].try_into().unwrap_or_default());
                    self.first_body = true;
                    if self.remaining == 0 {
                        self.complete(now);
                    }
                }
                2 => bail!("truncated content header"),
                3 => {
                    if self.first_body {
                        self.first_body = false;
                        if size >= 8 {
                            self.ts = u64::from_le_bytes(f[7..15].try_into().unwrap_or_default());
                        }
                    }
                    self.remaining = self.remaining.saturating_sub(size as u64);
                    if self.remaining == 0 {
                        self.complete(now);
                    }
                }
                _ => {} // heartbeat
            }
            pos += total;
        }
        Ok(pos)
    }
}

/// Setup before the clock starts: qos, consume.
pub(crate) async fn setup(conn: &mut Conn, cfg: &ConsumerCfg) -> Result<()> {
    if cfg.prefetch > 0 {
        match conn
            .rpc(Method::BasicQos(BasicQos {
                prefetch_size: 0,
                prefetch_count: cfg.prefetch,
                global: false,
            }))
            .await?
        {
            Method::BasicQosOk => {}
            m => bail!("expected basic.qos-ok, got {}", m.name()),
        }
    }
    let consume = BasicConsume {
        queue: short(&cfg.queue)?,
        consumer_tag: short(&cfg.tag)?,
        no_local: false,
        no_ack: cfg.autoack,
        exclusive: false,
        no_wait: false,
        arguments: FieldTable::new(),
    };
    match conn.rpc(Method::BasicConsume(consume)).await? {
        Method::BasicConsumeOk(_) => Ok(()),
        m => bail!("expected basic.consume-ok, got {}", m.name()),
    }
}

pub(crate) async fn run(
    mut conn: Conn,
    cfg: ConsumerCfg,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Result<ConsumerOut> {
    let mut sc = Scanner::new(cfg.autoack, cfg.multi_ack, cfg.limit);
    let mut last_msg: Option<Instant> = None;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    {
        let stop_fut = stop.changed();
        tokio::pin!(stop_fut);
        let (mut rd, mut wr) = conn.stream.split();
        let rbuf = &mut conn.rbuf;
        // Deliveries that arrived with consume-ok are already buffered.
        let mut fresh = !rbuf.is_empty();
        loop {
            if fresh {
                fresh = false;
                let before = sc.count;
                let used = sc.scan(rbuf, now_ns())?;
                rbuf.advance(used);
                if !sc.acks.is_empty() {
                    wr.write_all(&sc.acks).await?;
                    sc.acks.clear();
                }
                let n = sc.count - before;
                if n > 0 {
                    last_msg = Some(Instant::now());
                    shared.received.fetch_add(n, Ordering::Relaxed);
                }
                if sc.done || shared.all_received() {
                    break;
                }
            }
            rbuf.reserve(READ_CHUNK);
            tokio::select! {
                biased;
                _ = &mut stop_fut => break,
                r = rd.read_buf(rbuf) => {
                    if r? == 0 {
                        bail!("connection closed by the broker");
                    }
                    fresh = true;
                }
                _ = tick.tick() => {
                    if shared.all_received() {
                        break;
                    }
                    if let Some(idle) = cfg.idle_timeout {
                        let since = last_msg.unwrap_or(started).max(shared.publishing_ended());
                        if shared.producers_running.load(Ordering::SeqCst) == 0
                            && since.elapsed() > idle
                        {
                            break;
                        }
                    }
                }
            }
        }
        sc.final_ack();
        if !sc.acks.is_empty() {
            wr.write_all(&sc.acks).await?;
        }
    }
    conn.close(Duration::from_secs(2)).await;
    Ok(ConsumerOut {
        received: sc.count,
        hist: sc.hist,
        last_msg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use warren_amqp::{
        encode_body_frames, encode_deliver_frame, encode_header_frame, RawProperties,
    };

    fn delivery(buf: &mut BytesMut, tag: u64, body: &[u8], frame_max: u32) {
        encode_deliver_frame(buf, 1, "ctag", tag, false, "", "q");
        encode_header_frame(buf, 1, 60, body.len() as u64, &RawProperties::default());
        encode_body_frames(buf, 1, body, frame_max);
    }

    #[test]
    fn scans_deliveries_across_reads_and_acks_each() {
        let mut wire = BytesMut::new();
        let mut body = vec![0u8; 16];
        body[..8].copy_from_slice(&1_000_000u64.to_le_bytes());
        for tag in 1..=3 {
            delivery(&mut wire, tag, &body, 4096);
        }
        delivery(&mut wire, 4, b"", 4096); // empty body: header completes it
        let mut big = vec![7u8; 10_000];
        big[..8].copy_from_slice(&2_000_000u64.to_le_bytes());
        delivery(&mut wire, 5, &big, 4096); // three body frames
        let mut sc = Scanner::new(false, 1, 0);
        // Feed in odd-sized pieces, as reads would.
        let mut buf = BytesMut::new();
        for piece in wire.chunks(37) {
            buf.extend_from_slice(piece);
            let used = sc.scan(&buf, 5_000_000).unwrap();
            buf.advance(used);
        }
        assert!(buf.is_empty());
        assert_eq!(sc.count, 5);
        // Latency from the 4 timestamped messages: 4000 us x3, 3000 us x1.
        assert_eq!(sc.hist.len(), 4);
        assert!(sc.hist.equivalent(sc.hist.max(), 4000));
        assert!(sc.hist.equivalent(sc.hist.min(), 3000));
        // One basic.ack (multiple=false) per delivery, in order.
        assert_eq!(sc.acks.len(), 5 * 21);
        let mut acks = sc.acks.clone();
        for tag in 1..=5u64 {
            let Some(warren_amqp::Frame::Method {
                method: Method::BasicAck(a),
                ..
            }) = warren_amqp::decode_frame(&mut acks, 0).unwrap()
            else {
                panic!()
            };
            assert_eq!((a.delivery_tag, a.multiple), (tag, false));
        }
    }

    #[test]
    fn multi_ack_limit_autoack_and_cancel() {
        let mut wire = BytesMut::new();
        for tag in 1..=10 {
            delivery(&mut wire, tag, &[0u8; 16], 4096);
        }
        // Multi-ack every 4, limit 7: acks for 4 and (final) 7.
        let mut sc = Scanner::new(false, 4, 7);
        let used = sc.scan(&wire, 0).unwrap();
        assert!(sc.done);
        assert_eq!(sc.count, 7);
        assert!(used < wire.len(), "stops at the limit");
        sc.final_ack();
        let mut acks = sc.acks.clone();
        let mut got = vec![];
        while let Some(warren_amqp::Frame::Method {
            method: Method::BasicAck(a),
            ..
        }) = warren_amqp::decode_frame(&mut acks, 0).unwrap()
        {
            got.push((a.delivery_tag, a.multiple));
        }
        assert_eq!(got, vec![(4, true), (7, true)]);
        // Timestamp 0 (not ours): no latency recorded.
        assert!(sc.hist.is_empty());

        let mut sc = Scanner::new(true, 1, 0);
        sc.scan(&wire, 0).unwrap();
        assert_eq!(sc.count, 10);
        assert!(sc.acks.is_empty());

        let mut cancel = BytesMut::new();
        warren_amqp::encode_method_frame(
            &mut cancel,
            1,
            &Method::BasicCancel(warren_amqp::BasicCancel {
                consumer_tag: warren_amqp::ShortStr::from_static("ctag"),
                no_wait: true,
            }),
        );
        let mut sc = Scanner::new(true, 1, 0);
        sc.scan(&cancel, 0).unwrap();
        assert!(sc.cancelled && sc.done);

        let mut bad = BytesMut::new();
        delivery(&mut bad, 1, &[0u8; 16], 4096);
        let last = bad.len() - 1;
        bad[last] = 0;
        assert!(Scanner::new(true, 1, 0).scan(&bad, 0).is_err());
    }
}
