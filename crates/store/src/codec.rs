//! Record framing (`[u32 len][u32 crc32][payload]`) and the journal record codec.
//!
//! Encoding writes straight into the caller's reusable buffer (no allocation); decoding borrows
//! from the input (no allocation either), so the decoder doubles as a cheap plausibility check
//! when re-synchronising after a corrupt record.

use crate::{Location, Meta, MsgId, QueueId};

/// Size of the `[u32 len][u32 crc]` header in front of every record.
pub(crate) const HEADER: usize = 8;

pub(crate) const T_QUEUE_NAME: u8 = 1;
pub(crate) const T_PUBLISH: u8 = 2;
pub(crate) const T_ACK: u8 = 3;
pub(crate) const T_QUEUE_DELETED: u8 = 4;
pub(crate) const T_PURGE: u8 = 5;
pub(crate) const T_CHECKPOINT: u8 = 6;
pub(crate) const T_PUBLISH_META: u8 = 7;
pub(crate) const T_CLOCK: u8 = 8;
pub(crate) const T_SYNCED: u8 = 9;
pub(crate) const T_MOVE: u8 = 10;

/// Reserves a record header at the end of `buf`; returns where the record starts.
#[inline]
pub(crate) fn begin(buf: &mut Vec<u8>) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; HEADER]);
    start
}

/// Fills in the header of the record begun at `start` (length and CRC of what follows it).
#[inline]
pub(crate) fn finish(buf: &mut [u8], start: usize) {
    let payload = &buf[start + HEADER..];
    let len = payload.len() as u32;
    let crc = crc32fast::hash(payload);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Appends one framed record whose payload is the concatenation of `parts`.
#[inline]
pub(crate) fn put_gathered(buf: &mut Vec<u8>, parts: &[&[u8]], len: u32) {
    let mut h = crc32fast::Hasher::new();
    for p in parts {
        h.update(p);
    }
    buf.reserve(HEADER + len as usize);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&h.finalize().to_le_bytes());
    for p in parts {
        buf.extend_from_slice(p);
    }
}

/// Checks the header `h` against `payload`; `Err(reason)` if they disagree.
pub(crate) fn check(header: &[u8], payload: &[u8]) -> Result<(), &'static str> {
    let len = le_u32(&header[0..4]);
    if len as usize != payload.len() {
        return Err("record length does not match the index");
    }
    if le_u32(&header[4..8]) != crc32fast::hash(payload) {
        return Err("CRC mismatch");
    }
    Ok(())
}

#[inline]
fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

#[inline]
fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

pub(crate) fn put_queue_name(buf: &mut Vec<u8>, queue: QueueId, name: &str) {
    let s = begin(buf);
    buf.push(T_QUEUE_NAME);
    buf.extend_from_slice(&queue.to_le_bytes());
    buf.extend_from_slice(&(name.len() as u32).to_le_bytes());
    buf.extend_from_slice(name.as_bytes());
    finish(buf, s);
}

/// A `Publish`, or a `PublishMeta` when `meta` says something.
pub(crate) fn put_publish(
    buf: &mut Vec<u8>,
    msg: MsgId,
    loc: Location,
    meta: Meta,
    queues: &[QueueId],
) {
    let s = begin(buf);
    buf.push(if meta == Meta::NONE {
        T_PUBLISH
    } else {
        T_PUBLISH_META
    });
    buf.extend_from_slice(&msg.to_le_bytes());
    buf.extend_from_slice(&loc.segment.to_le_bytes());
    buf.extend_from_slice(&loc.offset.to_le_bytes());
    buf.extend_from_slice(&loc.len.to_le_bytes());
    if meta != Meta::NONE {
        buf.push(meta.priority());
        buf.extend_from_slice(&meta.expires_at().to_le_bytes());
    }
    buf.extend_from_slice(&(queues.len() as u32).to_le_bytes());
    for q in queues {
        buf.extend_from_slice(&q.to_le_bytes());
    }
    finish(buf, s);
}

/// Starts an Ack record; push ids with [`ack_push`], then [`ack_finish`].
pub(crate) fn ack_begin(buf: &mut Vec<u8>, queue: QueueId) -> usize {
    let s = begin(buf);
    buf.push(T_ACK);
    buf.extend_from_slice(&queue.to_le_bytes());
    buf.extend_from_slice(&0u32.to_le_bytes());
    s
}

#[inline]
pub(crate) fn ack_push(buf: &mut Vec<u8>, msg: MsgId) {
    buf.extend_from_slice(&msg.to_le_bytes());
}

/// Completes the Ack record begun at `s` holding `n` ids (or removes it when `n == 0`).
pub(crate) fn ack_finish(buf: &mut Vec<u8>, s: usize, n: u32) {
    if n == 0 {
        buf.truncate(s);
        return;
    }
    let at = s + HEADER + 1 + 4;
    buf[at..at + 4].copy_from_slice(&n.to_le_bytes());
    finish(buf, s);
}

pub(crate) fn put_queue_op(buf: &mut Vec<u8>, ty: u8, queue: QueueId) {
    let s = begin(buf);
    buf.push(ty);
    buf.extend_from_slice(&queue.to_le_bytes());
    finish(buf, s);
}

pub(crate) fn put_checkpoint(buf: &mut Vec<u8>, next_msg: MsgId, next_segment: u32) {
    let s = begin(buf);
    buf.push(T_CHECKPOINT);
    buf.extend_from_slice(&next_msg.to_le_bytes());
    buf.extend_from_slice(&next_segment.to_le_bytes());
    finish(buf, s);
}

pub(crate) fn put_clock(buf: &mut Vec<u8>, msg: MsgId, ms: u64) {
    let s = begin(buf);
    buf.push(T_CLOCK);
    buf.extend_from_slice(&msg.to_le_bytes());
    buf.extend_from_slice(&ms.to_le_bytes());
    finish(buf, s);
}

/// A `Synced` mark: segments below `segment` are complete on disk, `segment` has at least `len`.
pub(crate) fn put_synced(buf: &mut Vec<u8>, segment: u32, len: u64) {
    let s = begin(buf);
    buf.push(T_SYNCED);
    buf.extend_from_slice(&segment.to_le_bytes());
    buf.extend_from_slice(&len.to_le_bytes());
    finish(buf, s);
}

/// A `Move`: live message `msg`'s record now (also) sits at `loc` (segment compaction).
pub(crate) fn put_move(buf: &mut Vec<u8>, msg: MsgId, loc: Location) {
    let s = begin(buf);
    buf.push(T_MOVE);
    buf.extend_from_slice(&msg.to_le_bytes());
    buf.extend_from_slice(&loc.segment.to_le_bytes());
    buf.extend_from_slice(&loc.offset.to_le_bytes());
    buf.extend_from_slice(&loc.len.to_le_bytes());
    finish(buf, s);
}

/// A decoded journal record, borrowing from the file contents.
#[derive(Debug)]
pub(crate) enum Rec<'a> {
    QueueName {
        queue: QueueId,
        name: &'a str,
    },
    /// `Publish` and `PublishMeta` (whose meta is [`Meta::NONE`] for the former).
    Publish {
        msg: MsgId,
        loc: Location,
        meta: Meta,
        queues: Ids<'a, 4>,
    },
    Ack {
        queue: QueueId,
        msgs: Ids<'a, 8>,
    },
    QueueDeleted {
        queue: QueueId,
    },
    Purge {
        queue: QueueId,
    },
    Checkpoint {
        next_msg: MsgId,
        next_segment: u32,
    },
    Clock {
        msg: MsgId,
        ms: u64,
    },
    Synced {
        segment: u32,
        len: u64,
    },
    Move {
        msg: MsgId,
        loc: Location,
    },
}

/// A little-endian array of `N`-byte ids (N = 4: queue ids, N = 8: message ids).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ids<'a, const N: usize>(&'a [u8]);

impl<'a> Ids<'a, 4> {
    pub(crate) fn iter(self) -> impl Iterator<Item = QueueId> + 'a {
        self.0.chunks_exact(4).map(le_u32)
    }
}

impl<'a> Ids<'a, 8> {
    pub(crate) fn iter(self) -> impl Iterator<Item = MsgId> + 'a {
        self.0.chunks_exact(8).map(le_u64)
    }
}

impl<const N: usize> Ids<'_, N> {
    pub(crate) fn len(&self) -> usize {
        self.0.len() / N
    }
}

/// Decodes a journal payload; `Err(reason)` when it is not a well-formed record.
pub(crate) fn decode(p: &[u8]) -> Result<Rec<'_>, &'static str> {
    let (&ty, rest) = p.split_first().ok_or("empty record")?;
    let need = |n: usize| {
        if rest.len() == n {
            Ok(())
        } else {
            Err("bad record length")
        }
    };
    match ty {
        T_QUEUE_NAME => {
            if rest.len() < 8 {
                return Err("bad record length");
            }
            let queue = le_u32(&rest[0..]);
            let n = le_u32(&rest[4..]) as usize;
            need(8usize.checked_add(n).ok_or("bad record length")?)?;
            let name = std::str::from_utf8(&rest[8..]).map_err(|_| "queue name is not UTF-8")?;
            Ok(Rec::QueueName { queue, name })
        }
        T_PUBLISH | T_PUBLISH_META => {
            // The meta fields (u8 priority, u64 expiry) sit between the location and the queues.
            let extra = if ty == T_PUBLISH_META { 9 } else { 0 };
            let fixed = 28 + extra;
            if rest.len() < fixed {
                return Err("bad record length");
            }
            let msg = le_u64(&rest[0..]);
            let loc = Location {
                segment: le_u32(&rest[8..]),
                offset: le_u64(&rest[12..]),
                len: le_u32(&rest[20..]),
            };
            let meta = if ty == T_PUBLISH_META {
                Meta::new(rest[24], le_u64(&rest[25..]))
            } else {
                Meta::NONE
            };
            let n = le_u32(&rest[24 + extra..]) as usize;
            need(
                n.checked_mul(4)
                    .and_then(|b| b.checked_add(fixed))
                    .ok_or("bad record length")?,
            )?;
            Ok(Rec::Publish {
                msg,
                loc,
                meta,
                queues: Ids(&rest[fixed..]),
            })
        }
        T_ACK => {
            if rest.len() < 8 {
                return Err("bad record length");
            }
            let queue = le_u32(&rest[0..]);
            let n = le_u32(&rest[4..]) as usize;
            need(
                n.checked_mul(8)
                    .and_then(|b| b.checked_add(8))
                    .ok_or("bad record length")?,
            )?;
            Ok(Rec::Ack {
                queue,
                msgs: Ids(&rest[8..]),
            })
        }
        T_QUEUE_DELETED | T_PURGE => {
            need(4)?;
            let queue = le_u32(rest);
            Ok(if ty == T_PURGE {
                Rec::Purge { queue }
            } else {
                Rec::QueueDeleted { queue }
            })
        }
        T_CHECKPOINT => {
            need(12)?;
            Ok(Rec::Checkpoint {
                next_msg: le_u64(rest),
                next_segment: le_u32(&rest[8..]),
            })
        }
        T_CLOCK => {
            need(16)?;
            Ok(Rec::Clock {
                msg: le_u64(rest),
                ms: le_u64(&rest[8..]),
            })
        }
        T_SYNCED => {
            need(12)?;
            Ok(Rec::Synced {
                segment: le_u32(rest),
                len: le_u64(&rest[4..]),
            })
        }
        T_MOVE => {
            need(24)?;
            Ok(Rec::Move {
                msg: le_u64(rest),
                loc: Location {
                    segment: le_u32(&rest[8..]),
                    offset: le_u64(&rest[12..]),
                    len: le_u32(&rest[20..]),
                },
            })
        }
        _ => Err("unknown record type"),
    }
}

/// What [`scan`] found in one journal file.
#[derive(Debug, Default)]
pub(crate) struct ScanReport {
    /// Where the valid data ends (the file should be truncated here).
    pub valid_end: u64,
    /// Damaged regions skipped in the middle: (offset, bytes, reason).
    pub skipped: Vec<(u64, u64, &'static str)>,
}

/// Is there a complete, well-formed, CRC-valid record at `pos`?
fn valid_at(data: &[u8], pos: usize) -> Result<usize, &'static str> {
    let rest = &data[pos..];
    if rest.len() < HEADER {
        return Err("truncated header");
    }
    let len = le_u32(rest) as usize;
    if len == 0 {
        return Err("zero-length record");
    }
    if len > rest.len() - HEADER {
        return Err("truncated record");
    }
    let payload = &rest[HEADER..HEADER + len];
    // Structure first: it is cheaper than the CRC and rejects almost all garbage.
    decode(payload)?;
    if le_u32(&rest[4..]) != crc32fast::hash(payload) {
        return Err("CRC mismatch");
    }
    Ok(pos + HEADER + len)
}

/// Walks the records of a journal file, calling `f(offset, payload)` for each valid one.
///
/// A damaged record followed by a valid one is skipped (reported in `skipped`); damage with no
/// valid record after it is a torn tail and ends the scan at `valid_end`.
pub(crate) fn scan(data: &[u8], mut f: impl FnMut(u64, &[u8])) -> ScanReport {
    let mut rep = ScanReport::default();
    let mut pos = 0usize;
    while pos < data.len() {
        match valid_at(data, pos) {
            Ok(end) => {
                f(pos as u64, &data[pos + HEADER..end]);
                pos = end;
            }
            Err(reason) => {
                // Fast path: the length field is intact and the next record starts after it.
                let declared = if data.len() - pos >= HEADER {
                    pos.checked_add(HEADER + le_u32(&data[pos..]) as usize)
                } else {
                    None
                };
                let next = declared
                    .filter(|&n| n > pos + HEADER && n < data.len() && valid_at(data, n).is_ok())
                    .or_else(|| (pos + 1..data.len()).find(|&p| valid_at(data, p).is_ok()));
                match next {
                    Some(n) => {
                        rep.skipped.push((pos as u64, (n - pos) as u64, reason));
                        pos = n;
                    }
                    None => break,
                }
            }
        }
    }
    rep.valid_end = pos as u64;
    rep
}
