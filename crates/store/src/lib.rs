//! Warren's durable message store: where persistent messages on durable queues live.
//!
//! # Layout
//!
//! ```text
//! <dir>/segments/NNNNNNNN.seg   message bodies, append-only, rolled over at `segment_size`
//! <dir>/journal/NNNNNNNN.jnl    the index: small records, replayed in file-number order
//! <dir>/journal/NNNNNNNN.jnl.tmp  a compaction in progress (deleted at open)
//! <dir>/damage-report.txt       what opens found damaged (only if something was; see below)
//! ```
//!
//! # Record framing (both kinds of file)
//!
//! ```text
//! [u32 len][u32 crc32(payload)][payload: len bytes]      all integers little-endian
//! ```
//!
//! A segment record's payload is the opaque message the broker hands to [`Store::append`]
//! (written once however many queues it reaches). A [`Location`] points at the record's header:
//! `offset` is where the header starts, `len` the payload length.
//!
//! A journal record's payload starts with a type byte:
//!
//! | type | record | body |
//! |---|---|---|
//! | 1 | `QueueName` | `u32 queue, u32 n, n bytes UTF-8 name` (before the id's first use in a file generation) |
//! | 2 | `Publish` | `u64 msg, u32 segment, u64 offset, u32 len, u32 n, n × u32 queue` |
//! | 3 | `Ack` | `u32 queue, u32 n, n × u64 msg` |
//! | 4 | `QueueDeleted` | `u32 queue` (all its messages are gone; its name may be forgotten) |
//! | 5 | `Purge` | `u32 queue` (its current messages are gone) |
//! | 6 | `Checkpoint` | `u64 next_msg, u32 next_segment` (first record of a compacted file) |
//! | 7 | `PublishMeta` | `u64 msg, u32 segment, u64 offset, u32 len, u8 priority, u64 expires_at, u32 n, n × u32 queue` |
//! | 8 | `Clock` | `u64 msg, u64 ms`: messages from id `msg` on were appended at `ms` or up to [`CLOCK_TICK_MS`] later |
//! | 9 | `Synced` | `u32 segment, u64 len`: an fsync made the first `len` bytes of the segment durable |
//! | 10 | `Move` | `u64 msg, u32 segment, u64 offset, u32 len`: segment compaction copied the live message's record there |
//!
//! `PublishMeta` is a `Publish` that carries the message's [`Meta`] (priority, own expiry); a
//! message without either is written as a plain `Publish`, so journals written before these
//! two records existed read as messages without meta and without a clock (their publish time
//! is unknown). A journal with records 7 or 8 is not readable by a build older than them (it
//! would skip those records as damage): the format changed before any release.
//!
//! `Checkpoint` is an addition to the original design: a compacted journal file is a snapshot of
//! the whole live state, so replay resets its message state when it meets one. That makes a crash
//! between "new journal renamed in place" and "old journals deleted" harmless, and it carries the
//! id counters forward so message ids and segment numbers are never reused.
//!
//! # Invariants
//!
//! - Message ids grow strictly in append order (across restarts too), so "publish order" is id
//!   order, and a `Purge`/`QueueDeleted` covers exactly the ids below the next id at that time.
//! - [`Store::sync`] writes out and fsyncs the segment data *before* the journal, so a synced
//!   `Publish` never points at bytes that are not on disk. Nothing the broker confirms is unsynced.
//! - Unsynced bytes may reach the disk in any order; recovery therefore checks every `Publish`
//!   against its segment's length (cheap: one `stat` per segment) and drops those pointing past
//!   the end (they were never confirmed). Recovery never reads message bodies.
//! - Every segment holds a count of live (queue, message) references. When it drops to 0 and the
//!   segment is not the one being written, the file is deleted after the next sync, the one that
//!   makes the acks that freed it durable.
//! - After each sync a `Synced` mark per segment it covered goes into the journal (with the next
//!   write; compacted journals repeat them). So recovery tells damage from a crash: a `Publish`
//!   whose body is missing (segment file gone, or cut short) although a mark says it was on
//!   disk is a confirmed message lost to damage; past the marks it was never confirmed
//!   (dropped, `lost_bodies`). A confirmed body lost to damage before the next write of marks
//!   (within one sync of its confirm) is taken for unconfirmed.
//! - Damage is reported and kept, never repaired away: each finding is a WARN and a dated line
//!   in `damage-report.txt`; messages whose bodies are missing stay in the index and in every
//!   compacted journal (never given to the broker) until an open finds their segment back (a
//!   restored backup) or their queue is purged or deleted. While `damage-report.txt` exists,
//!   no open deletes a segment file that nothing references (after a damaged or lost journal,
//!   they may hold all that is left); the operator removes the report once done with it.
//!   Damage is: skipped journal records, missing journal files (every journal generation
//!   starts with a compacted file, numbered without gaps after it), missing or cut segments.
//! - Otherwise, segment files that no live message references at open are deleted (orphans).
//! - Segment compaction ([`Store::compact_segments`], run by the broker's syncer between
//!   batches): once the segment files hold more garbage (records of dead messages) than live
//!   data plus a segment, the closed segments with the least live data (under half) have their
//!   live records copied to the segment being written, a `Move` each, and then are deleted
//!   (after the sync). Disk use stays under twice the live data plus two segments. A `Move`
//!   whose copy did not reach the disk at a crash leaves the message where it was.
//! - A segment record never starts at or past offset `u32::MAX` (the writer rolls over first,
//!   whatever [`StoreOptions::segment_size`] says): the in-memory index keeps offsets as `u32`
//!   (larger ones found in old journals go to a side table).
//! - The in-memory index costs about 16 bytes per live message: a chunked deque of 16-byte slots
//!   addressed by `id - base` (ids grow in append order), with side tables for messages held by
//!   several queues and for old stragglers below a mostly acked front (see `index.rs`). A
//!   message with a [`Meta`] costs 8 bytes more (a chunk of slots gets its array of meta words
//!   only once one of its messages has one).
//! - Publish times are kept per tick, not per message: a `Clock` record goes before the first
//!   append of every [`CLOCK_TICK_MS`] (and whenever the wall clock went back), so memory and
//!   journal grow with the time spent publishing, not with the message count. A recovered
//!   message's [`Recovered::published_at`] is at most one tick earlier than the truth (never
//!   later), which is what a queue's `x-message-ttl` counts from after a restart.
//! - Damage is reported, never fatal: a damaged journal record followed by valid ones is skipped
//!   and counted (`warn`, with file and offset, and reported as above); damage at the end of a
//!   file is a torn tail (a crash during a write) and is truncated (`warn`). A damaged segment record makes [`Store::read`] return
//!   [`StoreError::Corrupt`] for that message only.
//! - A failed write (e.g. a full disk) leaves nothing half-done: the file is cut back to its last
//!   complete length and the buffered records stay pending (a later [`Store::sync`] retries them);
//!   an `append`/`ack`/... that returns an error changed nothing. An *fsync* failure poisons the
//!   store ([`StoreError::Poisoned`]): after a failed fsync the kernel may have dropped the dirty
//!   pages, so the only safe continuation is to restart and recover from what is on disk.
//! - Journal compaction (at [`Store::sync`] when the journal files exceed
//!   [`StoreOptions::journal_compact_bytes`], and at every open) writes `QueueName`s and one
//!   `Publish` per live message into `N.jnl.tmp`, fsyncs it, renames it to `N.jnl`, fsyncs the
//!   directory, then deletes the older journal files.
//!
//! # Threads
//!
//! One store thread does the writes and batches them (group commit): apply every pending
//! request, call [`Store::sync`] once, then confirm the batch. [`Store::read`] may be called from
//! any thread at the same time; it uses positional reads on cached read-only handles and only
//! takes the writer lock when the record is still in the write buffer.

mod codec;
mod index;
mod store;

use std::collections::HashMap;
use std::path::PathBuf;

pub use store::{SegmentCompaction, SegmentScan, Store};

/// A store-local queue id, from [`Store::queue_id`].
pub type QueueId = u32;
/// A message id; grows with every append, never reused.
pub type MsgId = u64;

/// Where a message's record is: segment file number, offset of its header, payload length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Location {
    pub segment: u32,
    pub offset: u64,
    pub len: u32,
}

/// A publish time is known to this precision (see [`Recovered::published_at`]).
pub const CLOCK_TICK_MS: u64 = 100;

/// What the broker keeps of a stored message besides its location, so that recovery restores
/// it without reading its body: its priority and its own absolute expiry. Packed in 8 bytes:
/// the priority in the top 8 bits, the expiry (ms since the Unix epoch, 0 for none, capped at
/// 2^56 - 1, some two million years) in the low 56.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Meta(u64);

impl Meta {
    /// No priority, no expiry.
    pub const NONE: Meta = Meta(0);
    const EXPIRY_MASK: u64 = (1 << 56) - 1;

    /// `expires_at` in ms since the Unix epoch, 0 for none.
    pub fn new(priority: u8, expires_at: u64) -> Meta {
        Meta((u64::from(priority) << 56) | expires_at.min(Self::EXPIRY_MASK))
    }

    pub fn priority(self) -> u8 {
        (self.0 >> 56) as u8
    }

    /// ms since the Unix epoch, 0 for none.
    pub fn expires_at(self) -> u64 {
        self.0 & Self::EXPIRY_MASK
    }

    pub(crate) fn from_bits(bits: u64) -> Meta {
        Meta(bits)
    }

    pub(crate) fn bits(self) -> u64 {
        self.0
    }
}

/// One recovered message of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveredMsg {
    pub id: MsgId,
    pub loc: Location,
    pub meta: Meta,
}

/// Tuning knobs.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// A segment rolls over once its size would pass this (a larger record gets its own segment).
    pub segment_size: u64,
    /// Compact the journal once its files together exceed this many bytes.
    pub journal_compact_bytes: u64,
    /// fsync at [`Store::sync`]; `false` only for benchmarks and tests.
    pub fsync: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            segment_size: 64 << 20,
            journal_compact_bytes: 64 << 20,
            fsync: true,
        }
    }
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("corrupt record in {file} at offset {offset}: {reason}")]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// An fsync failed earlier; nothing more is written until the store is reopened.
    #[error("store is unusable after an fsync failure; restart to recover")]
    Poisoned,
    /// `append` was given an id that [`Store::queue_id`] never returned.
    #[error("unknown queue id {0}")]
    UnknownQueue(QueueId),
    /// `append` was given no queue at all.
    #[error("a message must go to at least one queue")]
    NoQueues,
    /// The payload does not fit a record (`u32` length).
    #[error("message of {0} bytes is too large for the store")]
    TooLarge(u64),
    /// [`Store::read_msg`] was given an id that is not live (never stored, or acked/purged).
    #[error("unknown message id {0}")]
    UnknownMessage(MsgId),
}

/// What [`Store::open`] found on disk.
#[derive(Debug, Default, Clone)]
pub struct Recovered {
    /// Per queue name, its live messages in publish order (queues without messages are absent).
    pub queues: HashMap<String, Vec<RecoveredMsg>>,
    /// Publish times: `(first id, ms)` in id order (see [`Recovered::published_at`]).
    pub clock: Vec<(MsgId, u64)>,
    /// Distinct live messages (a message in two queues counts once).
    pub messages: usize,
    /// Payload bytes of the live messages (each counted once).
    pub bytes: u64,
    /// Segment files holding live messages.
    pub segments: usize,
    /// Damaged journal regions skipped in the middle of a file.
    pub skipped_corrupt: usize,
    /// Bytes cut from torn journal tails.
    pub truncated_tail_bytes: u64,
    /// Confirmed messages whose segment file is missing (damage: a segment is deleted only
    /// after the sync covering its acks). Kept in the index, not in `queues`.
    pub missing_segment_records: usize,
    /// Confirmed messages past the end of their (truncated) segment file (damage). Kept in
    /// the index, not in `queues`.
    pub truncated_bodies: usize,
    /// Messages whose bodies had not reached the disk when the crash came (never confirmed:
    /// past the segment's last `Synced` mark): dropped.
    pub lost_bodies: usize,
    /// Segment files no message references, kept because of damage (see [`Recovered::damage`]):
    /// [`Store::scan_segment`] reads what they hold.
    pub kept_segments: Vec<u32>,
    /// What this open found damaged, one sentence each (also logged as WARN and appended to
    /// `damage-report.txt` in the store's directory). Empty when nothing was.
    pub damage: Vec<String>,
}

impl Recovered {
    /// When message `id` was appended, in ms since the Unix epoch: at most [`CLOCK_TICK_MS`]
    /// earlier than the truth, never later. `None` for messages of a journal written before the
    /// store kept publish times.
    pub fn published_at(&self, id: MsgId) -> Option<u64> {
        let k = self.clock.partition_point(|&(first, _)| first <= id);
        k.checked_sub(1).map(|k| self.clock[k].1)
    }
}

#[cfg(test)]
mod tests;
