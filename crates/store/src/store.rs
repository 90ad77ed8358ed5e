//! The store itself: write path (buffers, roll-over, group commit), read path, recovery,
//! journal compaction and segment reclamation. See the crate docs for formats and invariants.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::codec::{self, Rec, HEADER};
use crate::index::{MsgIndex, Unref, FAR};
use crate::{
    Location, Meta, MsgId, QueueId, Recovered, RecoveredMsg, StoreError, StoreOptions,
    CLOCK_TICK_MS,
};

/// Segment bytes are buffered up to this much before they go to the OS.
const SEG_BUF: usize = 1 << 20;
/// Journal bytes are buffered up to this much before they go to the OS.
const JNL_BUF: usize = 256 << 10;

/// Multiplicative hasher for integer ids (SipHash is needlessly slow for them).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(K);
    }
}

pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;
pub(crate) type IdSet<K> = std::collections::HashSet<K, BuildHasherDefault<IdHasher>>;

/// Segment compaction plans at most this many bytes of moves per index scan.
const PLAN_MAX: u64 = 256 << 20;

#[derive(Debug)]
struct QueueInfo {
    name: String,
    /// Deleted (and not used since): its name is left out of compacted journals.
    deleted: bool,
    /// Its `QueueName` record is in the current journal generation.
    in_journal: bool,
}

/// An append-only file with our own write buffer and positional writes.
struct LogFile {
    file: File,
    /// Bytes handed to the OS (the file's length as far as we know).
    written: u64,
    buf: Vec<u8>,
    /// Written since the last fsync.
    dirty: bool,
    /// A failed write could not be undone: the file's tail is unknown.
    broken: bool,
}

impl LogFile {
    fn new(file: File, written: u64, buf: Vec<u8>) -> LogFile {
        LogFile {
            file,
            written,
            buf,
            dirty: false,
            broken: false,
        }
    }

    fn len(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    /// Hands the buffer to the OS. On failure the file is cut back to its previous length and
    /// the buffer is kept, so a retry writes the same bytes at the same place.
    fn write_out(&mut self, cap: usize) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.file.write_all_at(&self.buf, self.written) {
            if let Err(e2) = self.file.set_len(self.written) {
                tracing::error!(error = %e2, "store: cannot undo a failed write");
                self.broken = true;
            }
            return Err(e);
        }
        self.written += self.buf.len() as u64;
        self.buf.clear();
        if self.buf.capacity() > 4 * cap {
            self.buf.shrink_to(cap);
        }
        self.dirty = true;
        Ok(())
    }
}

fn seg_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("{n:08}.seg"))
}

fn jnl_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("{n:08}.jnl"))
}

/// Parses `NNNNNNNN<ext>`.
fn file_number(name: &str, ext: &str) -> Option<u32> {
    let digits = name.strip_suffix(ext)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Drops the clock entries no live message needs: those followed by one at or below the
/// first live id (at least one entry is kept, for the messages to come).
fn prune_clock(clock: &mut VecDeque<(MsgId, u64)>, first_live: MsgId) {
    while clock.len() > 1 && clock[1].0 <= first_live {
        clock.pop_front();
    }
}

/// The file (in the store's directory) listing the damage opens found; while it exists,
/// segments nothing references are kept.
pub(crate) const DAMAGE_REPORT: &str = "damage-report.txt";

/// Appends one dated entry per finding to the damage report (created if need be), fsynced.
fn append_damage_report(path: &Path, damage: &[String]) -> io::Result<()> {
    use std::io::Write;
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let mut text = String::new();
    for d in damage {
        text.push_str(&format!("{now} {d}\n"));
    }
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What one sync must fsync, taken under the lock and done outside it.
#[derive(Default)]
struct SyncPlan {
    segments: Vec<File>,
    dirs: Vec<PathBuf>,
    journal: Option<File>,
    /// `(segment, length)` that will be on disk once the plan ran (the `Synced` marks).
    marks: Vec<(u32, u64)>,
    /// Segments nothing referenced when the plan was made: deleted once the journal holding
    /// their last acks is synced.
    delete: Vec<u32>,
}

impl SyncPlan {
    fn run(&self) -> Result<(), (&'static str, io::Error)> {
        for f in &self.segments {
            f.sync_data().map_err(|e| ("fsync of a segment", e))?;
        }
        for d in &self.dirs {
            fsync_dir(d).map_err(|e| ("fsync of a directory", e))?;
        }
        if let Some(j) = &self.journal {
            j.sync_data().map_err(|e| ("fsync of the journal", e))?;
        }
        Ok(())
    }
}

/// What the reader side shares with the writer.
struct Shared {
    seg_dir: PathBuf,
    /// The segment being written, and how much of it has reached the OS. Updated in the order
    /// `flushed = 0` then `cur_seg = new` on roll-over, so a reader can never pair a new segment
    /// with the old one's length (it may pair them the other way round, which only sends it to
    /// the slow path).
    cur_seg: AtomicU32,
    flushed: AtomicU64,
    /// Read-only handles, opened lazily. Opening and deleting happen under the write lock, so a
    /// deleted segment's handle can never be cached (it would keep the disk space).
    readers: RwLock<IdMap<u32, Arc<File>>>,
}

impl Shared {
    fn reader(&self, seg: u32) -> Result<Arc<File>, StoreError> {
        if let Some(f) = self.readers.read().get(&seg) {
            return Ok(f.clone());
        }
        let mut map = self.readers.write();
        if let Some(f) = map.get(&seg) {
            return Ok(f.clone());
        }
        let f = Arc::new(File::open(seg_path(&self.seg_dir, seg))?);
        map.insert(seg, f.clone());
        Ok(f)
    }
}

struct Inner {
    shared: Arc<Shared>,
    jnl_dir: PathBuf,
    opts: StoreOptions,

    seg: LogFile,
    seg_no: u32,
    /// Closed segments written since the last sync, with their final length (fsynced at the
    /// next one).
    unsynced: Vec<(u32, u64, File)>,
    /// Files were created since the last sync: fsync the directories.
    dir_dirty: bool,

    jnl: LogFile,
    jnl_no: u32,
    /// Bytes in journal files older than the current one.
    jnl_old_bytes: u64,
    /// Compact once the journal files reach this size.
    compact_at: u64,

    next_msg: MsgId,
    next_queue: QueueId,
    names: HashMap<String, QueueId>,
    queues: IdMap<QueueId, QueueInfo>,
    messages: MsgIndex,
    /// Publish times, `(first id, ms)` in id order: one entry per [`CLOCK_TICK_MS`] of
    /// appending (see the crate docs), pruned to those live messages need.
    clock: VecDeque<(MsgId, u64)>,
    /// Live (queue, message) references per segment.
    seg_refs: IdMap<u32, u64>,
    /// Sizes of closed segments still on disk.
    seg_sizes: IdMap<u32, u64>,
    /// Sum of `seg_sizes`.
    closed_bytes: u64,
    /// Record bytes (header included) of the live messages per segment, each message once.
    seg_live: IdMap<u32, u64>,
    /// Sum of `seg_live`.
    live_bytes: u64,
    /// Closed segments nothing references any more: deleted after the next sync, which makes
    /// the acks that freed them durable (so a missing segment with live references is damage).
    dead: Vec<u32>,
    /// Per segment, the length known to be on disk (the last `Synced` mark written for it).
    synced_len: IdMap<u32, u64>,
    /// Live messages whose bodies were found missing at open (damage): kept in the index and
    /// in every compacted journal, never given to the broker, until a restart finds their
    /// segment back or their queue is purged or deleted.
    damaged: IdSet<MsgId>,
    /// Segments whose records could not be read for compaction: left where they are.
    no_compact: IdSet<u32>,
    /// Segment compaction: live records still to move, in (segment, offset) order.
    work: VecDeque<(MsgId, Location)>,
    /// Garbage level below which compaction is not planned again (it found nothing to do).
    compact_skip_until: u64,

    poisoned: bool,
    scratch: Vec<QueueId>,
}

impl Inner {
    fn check(&self) -> Result<(), StoreError> {
        if self.poisoned {
            Err(StoreError::Poisoned)
        } else {
            Ok(())
        }
    }

    fn poison(&mut self, what: &str, e: io::Error) -> StoreError {
        tracing::error!(error = %e, "store: {what} failed; the store refuses writes until restarted");
        self.poisoned = true;
        StoreError::Io(e)
    }

    fn seg_write_out(&mut self) -> Result<(), StoreError> {
        match self.seg.write_out(SEG_BUF) {
            Ok(()) => {
                self.shared
                    .flushed
                    .store(self.seg.written, Ordering::SeqCst);
                Ok(())
            }
            Err(e) => {
                if self.seg.broken {
                    return Err(self.poison("undoing a segment write", e));
                }
                Err(e.into())
            }
        }
    }

    fn jnl_write_out(&mut self) -> Result<(), StoreError> {
        match self.jnl.write_out(JNL_BUF) {
            Ok(()) => Ok(()),
            Err(e) => {
                if self.jnl.broken {
                    return Err(self.poison("undoing a journal write", e));
                }
                Err(e.into())
            }
        }
    }

    fn queue_id(&mut self, name: &str) -> QueueId {
        if let Some(&id) = self.names.get(name) {
            return id;
        }
        let id = self.next_queue;
        self.next_queue += 1;
        self.names.insert(name.to_owned(), id);
        self.queues.insert(
            id,
            QueueInfo {
                name: name.to_owned(),
                deleted: false,
                in_journal: true,
            },
        );
        codec::put_queue_name(&mut self.jnl.buf, id, name);
        id
    }

    fn append(
        &mut self,
        payload: &[&[u8]],
        len: u32,
        queues: &[QueueId],
        meta: Meta,
        now: u64,
    ) -> Result<(MsgId, Location), StoreError> {
        if let Some(&q) = queues.iter().find(|q| !self.queues.contains_key(q)) {
            return Err(StoreError::UnknownQueue(q));
        }
        // Everything that can fail comes first: an error leaves no trace.
        let rec = HEADER as u64 + u64::from(len);
        // A record never starts at or past `u32::MAX` within a segment (the index keeps
        // offsets as `u32`): roll over first, whatever `segment_size` says.
        if self.seg.len() > 0
            && (self.seg.len() + rec > self.opts.segment_size || self.seg.len() >= u64::from(FAR))
        {
            self.roll()?;
        }
        if !self.seg.buf.is_empty() && self.seg.buf.len() as u64 + rec > SEG_BUF as u64 {
            self.seg_write_out()?;
        }
        if self.jnl.buf.len() >= JNL_BUF {
            self.jnl_write_out()?;
        }

        self.scratch.clear();
        self.scratch.extend_from_slice(queues);
        if self.scratch.len() > 1 {
            self.scratch.sort_unstable();
            self.scratch.dedup();
        }
        for q in &self.scratch {
            if let Some(info) = self.queues.get_mut(q) {
                info.deleted = false;
                if !info.in_journal {
                    codec::put_queue_name(&mut self.jnl.buf, *q, &info.name);
                    info.in_journal = true;
                }
            }
        }
        let loc = Location {
            segment: self.seg_no,
            offset: self.seg.len(),
            len,
        };
        codec::put_gathered(&mut self.seg.buf, payload, len);
        let msg = self.next_msg;
        self.next_msg += 1;
        let tick = match self.clock.back() {
            Some(&(_, t)) => now < t || now >= t.saturating_add(CLOCK_TICK_MS),
            None => true,
        };
        if tick {
            codec::put_clock(&mut self.jnl.buf, msg, now);
            self.clock.push_back((msg, now));
            let first = self.messages.first_id().unwrap_or(msg);
            prune_clock(&mut self.clock, first);
        }
        codec::put_publish(&mut self.jnl.buf, msg, loc, meta, &self.scratch);
        *self.seg_refs.entry(self.seg_no).or_insert(0) += self.scratch.len() as u64;
        *self.seg_live.entry(self.seg_no).or_insert(0) += rec;
        self.live_bytes += rec;
        self.messages.insert(msg, loc, meta, &self.scratch);
        Ok((msg, loc))
    }

    /// Closes the current segment and starts the next one.
    fn roll(&mut self) -> Result<(), StoreError> {
        self.seg_write_out()?;
        let n = self.seg_no + 1;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(seg_path(&self.shared.seg_dir, n))?;
        let buf = std::mem::take(&mut self.seg.buf);
        let old = std::mem::replace(&mut self.seg, LogFile::new(file, 0, buf));
        let old_no = self.seg_no;
        self.seg_sizes.insert(old_no, old.written);
        self.closed_bytes += old.written;
        if old.dirty {
            self.unsynced.push((old_no, old.written, old.file));
        }
        self.dir_dirty = true;
        self.shared.flushed.store(0, Ordering::SeqCst);
        self.shared.cur_seg.store(n, Ordering::SeqCst);
        self.seg_no = n;
        if self.seg_refs.get(&old_no).copied().unwrap_or(0) == 0 {
            self.dead.push(old_no);
        }
        Ok(())
    }

    /// Drops `refs` references to segment `seg` and `bytes` of its live records; a closed
    /// segment left without references is deleted after the next sync.
    fn release(&mut self, seg: u32, refs: u64, bytes: u64) {
        if let Some(l) = self.seg_live.get_mut(&seg) {
            let b = bytes.min(*l);
            *l -= b;
            self.live_bytes -= b;
        }
        let Some(r) = self.seg_refs.get_mut(&seg) else {
            return;
        };
        if *r == 0 {
            return;
        }
        *r = r.saturating_sub(refs);
        if *r == 0 && seg != self.seg_no {
            self.dead.push(seg);
        }
    }

    /// [`Inner::release`] of what removing one reference released.
    fn unref(&mut self, id: MsgId, u: Unref) {
        let bytes = if u.gone {
            if !self.damaged.is_empty() {
                self.damaged.remove(&id);
            }
            HEADER as u64 + u64::from(u.len)
        } else {
            0
        };
        self.release(u.segment, 1, bytes);
    }

    fn delete_segment(&mut self, seg: u32) {
        self.seg_refs.remove(&seg);
        if let Some(size) = self.seg_sizes.remove(&seg) {
            self.closed_bytes -= size;
        }
        if let Some(l) = self.seg_live.remove(&seg) {
            self.live_bytes -= l;
        }
        self.synced_len.remove(&seg);
        self.no_compact.remove(&seg);
        let mut readers = self.shared.readers.write();
        readers.remove(&seg);
        match fs::remove_file(seg_path(&self.shared.seg_dir, seg)) {
            Ok(()) => tracing::debug!(segment = seg, "store: deleted a segment nothing references"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(segment = seg, error = %e, "store: cannot delete segment"),
        }
    }

    fn ack(&mut self, queue: QueueId, msgs: &[MsgId]) -> Result<(), StoreError> {
        if self.jnl.buf.len() >= JNL_BUF {
            self.jnl_write_out()?;
        }
        let start = codec::ack_begin(&mut self.jnl.buf, queue);
        let mut n = 0u32;
        for &m in msgs {
            let Some(u) = self.messages.remove_ref(m, queue) else {
                continue;
            };
            codec::ack_push(&mut self.jnl.buf, m);
            n += 1;
            self.unref(m, u);
        }
        codec::ack_finish(&mut self.jnl.buf, start, n);
        Ok(())
    }

    fn drop_queue(&mut self, queue: QueueId, deleted: bool) -> Result<(), StoreError> {
        if self.jnl.buf.len() >= JNL_BUF {
            self.jnl_write_out()?;
        }
        // O(live messages): purges and deletions are rare next to publishes and acks.
        let mut released: IdMap<u32, (u64, u64)> = IdMap::default();
        let damaged = &mut self.damaged;
        self.messages.retain(|id, loc, qs| {
            if let Some(i) = qs.iter().position(|&q| q == queue) {
                qs.swap_remove(i);
                let r = released.entry(loc.segment).or_insert((0, 0));
                r.0 += 1;
                if qs.is_empty() {
                    r.1 += HEADER as u64 + u64::from(loc.len);
                    damaged.remove(&id);
                }
            }
            true
        });
        for (seg, (refs, bytes)) in released {
            self.release(seg, refs, bytes);
        }
        let ty = if deleted {
            codec::T_QUEUE_DELETED
        } else {
            codec::T_PURGE
        };
        codec::put_queue_op(&mut self.jnl.buf, ty, queue);
        if deleted {
            if let Some(info) = self.queues.get_mut(&queue) {
                info.deleted = true;
            }
        }
        Ok(())
    }

    /// [`Store::sync`] under one lock (at close).
    fn sync(&mut self) -> Result<(), StoreError> {
        let plan = self.begin_sync()?;
        if let Err((what, e)) = plan.run() {
            return Err(self.poison(what, e));
        }
        self.finish_sync(plan);
        Ok(())
    }

    /// First half of [`Store::sync`], under the lock: hands every buffered byte to the OS and
    /// takes what must be fsynced. The fsyncs themselves run without the lock, so appends and
    /// acks from other threads never wait for the disk.
    fn begin_sync(&mut self) -> Result<SyncPlan, StoreError> {
        self.seg_write_out()?;
        self.jnl_write_out()?;
        let mut plan = SyncPlan {
            delete: std::mem::take(&mut self.dead),
            ..SyncPlan::default()
        };
        for (n, len, _) in &self.unsynced {
            plan.marks.push((*n, *len));
        }
        if self.synced_len.get(&self.seg_no).copied().unwrap_or(0) < self.seg.written {
            plan.marks.push((self.seg_no, self.seg.written));
        }
        if self.opts.fsync {
            plan.segments = self.unsynced.drain(..).map(|(_, _, f)| f).collect();
            if self.seg.dirty {
                match self.seg.file.try_clone() {
                    Ok(f) => plan.segments.push(f),
                    Err(e) => return Err(self.poison("duplicating a segment handle", e)),
                }
            }
            if self.dir_dirty {
                plan.dirs = vec![self.shared.seg_dir.clone(), self.jnl_dir.clone()];
            }
            if self.jnl.dirty {
                match self.jnl.file.try_clone() {
                    Ok(f) => plan.journal = Some(f),
                    Err(e) => return Err(self.poison("duplicating the journal handle", e)),
                }
            }
        }
        self.unsynced.clear();
        self.seg.dirty = false;
        self.dir_dirty = false;
        self.jnl.dirty = false;
        Ok(plan)
    }

    /// Last part of [`Store::sync`], under the lock again, once `plan` ran: deletes the
    /// segments whose last acks it made durable, notes what is now on disk (`Synced` marks, in
    /// the journal with the next write), compacts the journal when it grew.
    fn finish_sync(&mut self, plan: SyncPlan) {
        for seg in plan.delete {
            if seg != self.seg_no && self.seg_refs.get(&seg).copied().unwrap_or(0) == 0 {
                self.delete_segment(seg);
            }
        }
        for (seg, len) in plan.marks {
            if !self.seg_refs.contains_key(&seg) && seg != self.seg_no {
                continue;
            }
            let known = self.synced_len.entry(seg).or_insert(0);
            if *known < len {
                *known = len;
                codec::put_synced(&mut self.jnl.buf, seg, len);
            }
        }
        let total = self.jnl_old_bytes + self.jnl.len();
        if total > self.compact_at {
            // The batch is durable already; a failed compaction only postpones the next one.
            if let Err(e) = self.compact() {
                tracing::warn!(error = %e, "store: journal compaction failed");
                self.compact_at = total + self.opts.journal_compact_bytes;
            }
        }
    }

    /// Writes the live state into a fresh journal file and deletes the older ones.
    fn compact(&mut self) -> Result<(), StoreError> {
        // The current journal must be on disk (or at least with the OS) before it is replaced.
        self.jnl_write_out()?;
        let new_no = self.jnl_no + 1;
        let tmp = self.jnl_dir.join(format!("{new_no:08}.jnl.tmp"));
        let (file, size) = match self.write_snapshot(&tmp) {
            Ok(r) => r,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let path = jnl_path(&self.jnl_dir, new_no);
        if let Err(e) = fs::rename(&tmp, &path) {
            let _ = fs::remove_file(&tmp);
            return Err(e.into());
        }
        // From here on the new file may or may not be what a restart sees: if we cannot make
        // sure, appending to either file could lose records, so stop writing.
        if self.opts.fsync {
            if let Err(e) = fsync_dir(&self.jnl_dir) {
                return Err(self.poison("fsync of the journal directory", e));
            }
        }
        for entry in fs::read_dir(&self.jnl_dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(n) = name.to_str().and_then(|s| file_number(s, ".jnl")) else {
                continue;
            };
            if n < new_no {
                if let Err(e) = fs::remove_file(entry.path()) {
                    tracing::warn!(file = %entry.path().display(), error = %e, "store: cannot delete old journal");
                }
            }
        }
        for info in self.queues.values_mut() {
            info.in_journal = !info.deleted;
        }
        let buf = std::mem::take(&mut self.jnl.buf);
        self.jnl = LogFile::new(file, size, buf);
        self.jnl_no = new_no;
        self.jnl_old_bytes = 0;
        self.compact_at = self.opts.journal_compact_bytes.max(2 * size);
        tracing::debug!(
            file = %path.display(),
            bytes = size,
            messages = self.messages.len(),
            "store: journal compacted"
        );
        Ok(())
    }

    fn write_snapshot(&mut self, tmp: &Path) -> Result<(File, u64), StoreError> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(tmp)?;
        let mut buf = Vec::with_capacity(JNL_BUF + 4096);
        let mut off = 0u64;
        codec::put_checkpoint(&mut buf, self.next_msg, self.seg_no + 1);
        let mut qs: Vec<(&QueueId, &QueueInfo)> =
            self.queues.iter().filter(|(_, i)| !i.deleted).collect();
        qs.sort_unstable_by_key(|(id, _)| **id);
        for (id, info) in qs {
            codec::put_queue_name(&mut buf, *id, &info.name);
        }
        // What is known to be on disk, for the segments still in use: recovery tells a
        // confirmed message whose body is gone (damage) from an unsynced one by these.
        let mut marks: Vec<(u32, u64)> = self
            .synced_len
            .iter()
            .filter(|(seg, _)| self.seg_refs.contains_key(seg) || **seg == self.seg_no)
            .map(|(&seg, &len)| (seg, len))
            .collect();
        marks.sort_unstable();
        for (seg, len) in marks {
            codec::put_synced(&mut buf, seg, len);
        }
        // Each message's clock entry goes before it (entries and messages are both in id order).
        let first = self.messages.first_id().unwrap_or(self.next_msg);
        prune_clock(&mut self.clock, first);
        let mut clock = self.clock.iter().peekable();
        for (id, loc, meta, qs) in self.messages.iter() {
            let mut entry = None;
            while let Some(&&(from, ms)) = clock.peek() {
                if from > id {
                    break;
                }
                entry = Some((from, ms));
                clock.next();
            }
            if let Some((from, ms)) = entry {
                codec::put_clock(&mut buf, from, ms);
            }
            codec::put_publish(&mut buf, id, loc, meta, qs);
            if buf.len() >= JNL_BUF {
                file.write_all_at(&buf, off)?;
                off += buf.len() as u64;
                buf.clear();
            }
        }
        // The latest entry always (unless a live message needed it above): it also covers the
        // messages appended after the snapshot within its tick, which get no entry of their own.
        if clock.peek().is_some() {
            if let Some(&(from, ms)) = self.clock.back() {
                codec::put_clock(&mut buf, from, ms);
            }
        }
        file.write_all_at(&buf, off)?;
        off += buf.len() as u64;
        if self.opts.fsync {
            file.sync_data()?;
        }
        Ok((file, off))
    }

    /// Hands the write buffer to the OS if it still holds (part of) the record at `loc`.
    fn flush_for(&mut self, loc: Location) -> Result<(), StoreError> {
        let end = loc.offset + (HEADER + loc.len as usize) as u64;
        if self.seg_no == loc.segment && end > self.seg.written {
            self.seg_write_out()?;
        }
        Ok(())
    }

    fn wants_compaction(&self) -> bool {
        if !self.work.is_empty() {
            return true;
        }
        let total = self.closed_bytes + self.seg.len();
        let garbage = total.saturating_sub(self.live_bytes);
        garbage > self.live_bytes + self.opts.segment_size && garbage >= self.compact_skip_until
    }

    /// Chooses the closed segments with the most garbage (over half of each) until moving
    /// their live records would bring the garbage under half the live bytes, and lists those
    /// records (one scan of the index per plan, at most [`PLAN_MAX`] bytes of moves).
    fn plan_compaction(&mut self) {
        if !self.wants_compaction() {
            return;
        }
        let mut candidates: Vec<(u32, u64, u64)> = self
            .seg_sizes
            .iter()
            .filter(|(seg, size)| {
                **seg != self.seg_no && **size > 0 && !self.no_compact.contains(seg)
            })
            .filter_map(|(&seg, &size)| {
                let refs = self.seg_refs.get(&seg).copied().unwrap_or(0);
                let live = self.seg_live.get(&seg).copied().unwrap_or(0);
                (refs > 0 && live * 2 < size).then_some((seg, size, live))
            })
            .collect();
        // Least live data first: the most disk back for the least copying.
        candidates.sort_unstable_by(|a, b| {
            let (l, r) = (
                u128::from(a.2) * u128::from(b.1),
                u128::from(b.2) * u128::from(a.1),
            );
            l.cmp(&r).then(a.0.cmp(&b.0))
        });
        let total = self.closed_bytes + self.seg.len();
        let mut garbage = total.saturating_sub(self.live_bytes);
        let target = self.live_bytes / 2;
        let mut chosen = IdSet::default();
        let mut planned = 0u64;
        for (seg, size, live) in candidates {
            if garbage <= target || planned >= PLAN_MAX {
                break;
            }
            chosen.insert(seg);
            garbage = garbage.saturating_sub(size - live);
            planned += live;
        }
        if chosen.is_empty() {
            self.compact_skip_until = garbage + self.opts.segment_size;
            return;
        }
        self.compact_skip_until = 0;
        let damaged = &self.damaged;
        let mut work: Vec<(MsgId, Location)> = self
            .messages
            .iter()
            .filter(|(id, loc, _, _)| chosen.contains(&loc.segment) && !damaged.contains(id))
            .map(|(id, loc, _, _)| (id, loc))
            .collect();
        work.sort_unstable_by_key(|(_, loc)| (loc.segment, loc.offset));
        self.work = work.into();
    }

    /// The next moves of at most about `budget` bytes (at least one), planning when none are
    /// left; moves whose message died or moved meanwhile are dropped.
    fn next_moves(&mut self, budget: u64) -> Vec<(MsgId, Location)> {
        if self.work.is_empty() {
            self.plan_compaction();
        }
        let mut out = Vec::new();
        let mut bytes = 0u64;
        while let Some(&(id, loc)) = self.work.front() {
            let rec = HEADER as u64 + u64::from(loc.len);
            if !out.is_empty() && bytes + rec > budget {
                break;
            }
            self.work.pop_front();
            if self.messages.location(id) == Some(loc) {
                out.push((id, loc));
                bytes += rec;
            }
        }
        out
    }

    /// Copies each record (read as `raw`, header included) to the segment being written,
    /// if its message is still live where it was read; a `Move` record per message goes to
    /// the journal. Each move is complete or not done at all, also when one fails.
    fn apply_moves(
        &mut self,
        records: Vec<(MsgId, Location, Vec<u8>)>,
    ) -> Result<SegmentCompaction, StoreError> {
        let mut done = SegmentCompaction::default();
        for (id, old, raw) in records {
            let Some((_, _, queues)) = self.messages.entry(id).filter(|(loc, _, _)| *loc == old)
            else {
                continue;
            };
            let refs = queues.len() as u64;
            let rec = raw.len() as u64;
            if self.seg.len() > 0
                && (self.seg.len() + rec > self.opts.segment_size
                    || self.seg.len() >= u64::from(FAR))
            {
                self.roll()?;
            }
            if !self.seg.buf.is_empty() && self.seg.buf.len() as u64 + rec > SEG_BUF as u64 {
                self.seg_write_out()?;
            }
            if self.jnl.buf.len() >= JNL_BUF {
                self.jnl_write_out()?;
            }
            let new = Location {
                segment: self.seg_no,
                offset: self.seg.len(),
                len: old.len,
            };
            self.seg.buf.extend_from_slice(&raw);
            codec::put_move(&mut self.jnl.buf, id, new);
            self.messages.relocate(id, new);
            *self.seg_refs.entry(self.seg_no).or_insert(0) += refs;
            *self.seg_live.entry(self.seg_no).or_insert(0) += rec;
            self.live_bytes += rec;
            self.release(old.segment, refs, rec);
            done.moved += 1;
            done.moved_bytes += rec;
        }
        Ok(done)
    }

    fn disk_usage(&self) -> u64 {
        self.closed_bytes + self.seg.len() + self.jnl_old_bytes + self.jnl.len()
    }
}

/// The durable message store. Share it as `Arc<Store>`: one thread writes (and calls
/// [`Store::sync`] once per batch), any thread may [`Store::read`].
pub struct Store {
    inner: Mutex<Inner>,
    shared: Arc<Shared>,
    /// One segment compaction step at a time.
    compactor: Mutex<()>,
}

/// What [`Store::scan_segment`] found.
#[derive(Debug, Default, Clone)]
pub struct SegmentScan {
    /// Each intact record: where it is and its payload (the broker's message).
    pub records: Vec<(Location, Bytes)>,
    /// Bytes skipped as damaged.
    pub damaged_bytes: u64,
}

/// What one [`Store::compact_segments`] step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SegmentCompaction {
    /// Live messages whose records were copied to the current segment.
    pub moved: usize,
    /// Record bytes copied.
    pub moved_bytes: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("segments", &self.shared.seg_dir)
            .finish_non_exhaustive()
    }
}

/// Journal replay state.
#[derive(Default)]
struct Replay {
    names: IdMap<QueueId, (String, bool)>,
    messages: MsgIndex,
    clock: VecDeque<(MsgId, u64)>,
    scratch: Vec<QueueId>,
    /// A Purge/QueueDeleted removed the queue from every message with a smaller id.
    purged_below: IdMap<QueueId, MsgId>,
    next_msg: MsgId,
    next_segment: u32,
    next_queue: QueueId,
    /// Per segment, the greatest length a `Synced` mark says is on disk.
    marks: IdMap<u32, u64>,
    /// Where moved messages were before their last `Move` (used if the move was not synced).
    moved_from: IdMap<MsgId, Location>,
    /// The current file held a `Checkpoint`.
    checkpoint: bool,
}

impl Replay {
    fn apply(&mut self, rec: Rec<'_>) {
        match rec {
            Rec::QueueName { queue, name } => {
                self.names.insert(queue, (name.to_owned(), false));
                self.next_queue = self.next_queue.max(queue.saturating_add(1));
            }
            Rec::Publish {
                msg,
                loc,
                meta,
                queues,
            } => {
                self.scratch.clear();
                self.scratch.reserve(queues.len());
                self.scratch.extend(queues.iter());
                if self.scratch.len() > 1 {
                    self.scratch.sort_unstable();
                    self.scratch.dedup();
                }
                self.messages.insert(msg, loc, meta, &self.scratch);
                self.next_msg = self.next_msg.max(msg.saturating_add(1));
                self.next_segment = self.next_segment.max(loc.segment.saturating_add(1));
            }
            Rec::Ack { queue, msgs } => {
                for m in msgs.iter() {
                    self.messages.remove_ref(m, queue);
                }
            }
            Rec::Purge { queue } => {
                self.purged_below.insert(queue, self.next_msg);
            }
            Rec::QueueDeleted { queue } => {
                self.purged_below.insert(queue, self.next_msg);
                if let Some(n) = self.names.get_mut(&queue) {
                    n.1 = true;
                }
            }
            Rec::Checkpoint {
                next_msg,
                next_segment,
            } => {
                self.messages.clear();
                self.clock.clear();
                self.purged_below.clear();
                self.moved_from.clear();
                self.checkpoint = true;
                self.next_msg = self.next_msg.max(next_msg);
                self.next_segment = self.next_segment.max(next_segment);
            }
            Rec::Clock { msg, ms } => {
                // In id order unless damage says otherwise: then the later record wins.
                while self.clock.back().is_some_and(|&(from, _)| from >= msg) {
                    self.clock.pop_back();
                }
                self.clock.push_back((msg, ms));
            }
            Rec::Synced { segment, len } => {
                let m = self.marks.entry(segment).or_insert(0);
                *m = (*m).max(len);
            }
            Rec::Move { msg, loc } => {
                if let Some(old) = self.messages.location(msg) {
                    self.moved_from.insert(msg, old);
                    self.messages.relocate(msg, loc);
                    self.next_segment = self.next_segment.max(loc.segment.saturating_add(1));
                }
            }
        }
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`, recovering its live messages from the journal.
    ///
    /// Damage is logged and counted in [`Recovered`], never an error; errors are I/O failures
    /// (e.g. the directory cannot be created or read).
    pub fn open(dir: &Path, opts: StoreOptions) -> Result<(Store, Recovered), StoreError> {
        let seg_dir = dir.join("segments");
        let jnl_dir = dir.join("journal");
        fs::create_dir_all(&seg_dir)?;
        fs::create_dir_all(&jnl_dir)?;
        let mut rec = Recovered::default();

        // 1. Replay the journal files in order.
        let mut jnls: Vec<u32> = Vec::new();
        for entry in fs::read_dir(&jnl_dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".jnl.tmp") {
                tracing::info!(file = %entry.path().display(), "store: removing unfinished journal compaction");
                let _ = fs::remove_file(entry.path());
            } else if let Some(n) = file_number(name, ".jnl") {
                jnls.push(n);
            }
        }
        jnls.sort_unstable();
        let mut st = Replay::default();
        // Per journal file (in order): whether it held a checkpoint.
        let mut checkpoints = Vec::with_capacity(jnls.len());
        for &n in &jnls {
            st.checkpoint = false;
            let path = jnl_path(&jnl_dir, n);
            let data = fs::read(&path)?;
            let report = codec::scan(&data, |offset, payload| match codec::decode(payload) {
                Ok(r) => st.apply(r),
                // `scan` only yields records that decode; keep the match total anyway.
                Err(reason) => {
                    tracing::warn!(file = %path.display(), offset, reason, "store: bad journal record");
                }
            });
            for &(offset, bytes, reason) in &report.skipped {
                tracing::warn!(
                    file = %path.display(),
                    offset,
                    bytes,
                    reason,
                    "store: skipped a corrupt journal record"
                );
            }
            rec.skipped_corrupt += report.skipped.len();
            let tail = data.len() as u64 - report.valid_end;
            if tail > 0 {
                tracing::warn!(
                    file = %path.display(),
                    offset = report.valid_end,
                    bytes = tail,
                    "store: truncating a torn journal tail"
                );
                rec.truncated_tail_bytes += tail;
                let cut = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(report.valid_end));
                if let Err(e) = cut {
                    tracing::warn!(file = %path.display(), error = %e, "store: cannot truncate");
                }
            }
            checkpoints.push(st.checkpoint);
        }
        let mut damage: Vec<String> = Vec::new();
        if rec.skipped_corrupt > 0 {
            damage.push(format!(
                "{} damaged journal records were skipped (what they said is lost)",
                rec.skipped_corrupt
            ));
        }

        // 2. Check the messages against the segment files (sizes only, never the bodies).
        let mut seg_files: IdMap<u32, u64> = IdMap::default();
        for entry in fs::read_dir(&seg_dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if let Some(n) = name.to_str().and_then(|s| file_number(s, ".seg")) {
                seg_files.insert(n, entry.metadata()?.len());
            }
        }
        let mut next_segment = st.next_segment;
        if let Some(&max) = seg_files.keys().max() {
            next_segment = next_segment.max(max.saturating_add(1));
        }
        // One id per name: if damage left two ids for a name, the later one wins.
        let mut by_name: HashMap<String, QueueId> = HashMap::new();
        for (&id, (name, _)) in &st.names {
            let e = by_name.entry(name.clone()).or_insert(id);
            *e = (*e).max(id);
        }
        let alias: IdMap<QueueId, QueueId> = st
            .names
            .iter()
            .filter_map(|(&id, (name, _))| {
                let canon = by_name.get(name).copied().unwrap_or(id);
                (canon != id).then_some((id, canon))
            })
            .collect();
        // Every generation of the journal starts with a checkpoint (a compacted file), and the
        // files from the last one on are numbered without gaps.
        match checkpoints.iter().rposition(|&c| c) {
            Some(k) => {
                for w in jnls[k..].windows(2) {
                    if w[1] != w[0] + 1 {
                        damage.push(format!(
                            "journal files {} to {} are missing",
                            w[0] + 1,
                            w[1] - 1
                        ));
                    }
                }
            }
            None if seg_files.values().any(|&size| size > 0) => damage.push(
                "the journal is missing (no compacted journal file), but segments hold data"
                    .to_owned(),
            ),
            None => {}
        }
        let end = |loc: Location| loc.offset + HEADER as u64 + u64::from(loc.len);
        let body = |loc: Location| match seg_files.get(&loc.segment) {
            None => Err(true),
            Some(&size) if end(loc) > size => Err(false),
            Some(_) => Ok(()),
        };
        let mut unknown_queue = 0usize;
        let mut damaged: IdSet<MsgId> = IdSet::default();
        let mut back: Vec<(MsgId, Location)> = Vec::new();
        let mut messages = std::mem::take(&mut st.messages);
        messages.retain(|id, loc, qs| {
            qs.retain(|&q| {
                let purged = st.purged_below.get(&q).is_some_and(|&below| id < below);
                let known = st.names.contains_key(&q);
                if !known && !purged {
                    unknown_queue += 1;
                }
                known && !purged
            });
            if !alias.is_empty() {
                for q in qs.iter_mut() {
                    *q = alias.get(q).copied().unwrap_or(*q);
                }
                qs.sort_unstable();
                qs.dedup();
            }
            if qs.is_empty() {
                return false;
            }
            let Err(missing) = body(loc) else {
                return true;
            };
            // A move that did not reach the disk: the record is still where it was.
            if let Some(&old) = st.moved_from.get(&id) {
                if body(old).is_ok() {
                    back.push((id, old));
                    return true;
                }
            }
            // A segment is deleted only after the sync covering its acks, and a `Synced` mark
            // is written only after the fsync it states: a body the marks say was on disk is
            // damage (a confirmed message), kept so that a restored segment brings it back.
            if st
                .marks
                .get(&loc.segment)
                .is_some_and(|&len| end(loc) <= len)
            {
                damaged.insert(id);
                if missing {
                    rec.missing_segment_records += 1;
                } else {
                    rec.truncated_bodies += 1;
                }
                return true;
            }
            rec.lost_bodies += 1;
            false
        });
        for (id, old) in back {
            messages.relocate(id, old);
        }
        if unknown_queue > 0 {
            tracing::warn!(
                references = unknown_queue,
                "store: messages referenced queue ids with no name record; dropped"
            );
        }
        if rec.missing_segment_records > 0 {
            let mut segs: Vec<u32> = messages
                .iter()
                .filter(|(id, loc, _, _)| {
                    damaged.contains(id) && !seg_files.contains_key(&loc.segment)
                })
                .map(|(_, loc, _, _)| loc.segment)
                .collect();
            segs.sort_unstable();
            segs.dedup();
            damage.push(format!(
                "{} confirmed messages are in missing segment files {}; they are kept in the \
                 index (not delivered) and come back if the files are restored",
                rec.missing_segment_records,
                segs.iter()
                    .map(|n| format!("{n:08}.seg"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if rec.truncated_bodies > 0 {
            damage.push(format!(
                "{} confirmed messages lie past the end of a truncated segment file; they are \
                 kept in the index (not delivered) and come back if the files are restored",
                rec.truncated_bodies
            ));
        }
        if rec.lost_bodies > 0 {
            tracing::info!(
                messages = rec.lost_bodies,
                "store: dropped messages whose bodies had not reached the disk at the crash \
                 (never confirmed)"
            );
        }

        // 3. Reference counts; delete segments nobody references, unless there is damage
        // (this open's or an earlier one's, until the report is removed): they may be all that
        // is left of the messages the damaged journal described.
        let report_path = dir.join(DAMAGE_REPORT);
        if !damage.is_empty() {
            for d in &damage {
                tracing::warn!(report = %report_path.display(), "store: damage: {d}");
            }
            if let Err(e) = append_damage_report(&report_path, &damage) {
                tracing::warn!(file = %report_path.display(), error = %e, "store: cannot write the damage report");
            }
        }
        let keep_orphans = report_path.exists();
        let mut seg_refs: IdMap<u32, u64> = IdMap::default();
        let mut seg_live: IdMap<u32, u64> = IdMap::default();
        for (_, loc, _, qs) in messages.iter() {
            *seg_refs.entry(loc.segment).or_insert(0) += qs.len() as u64;
            *seg_live.entry(loc.segment).or_insert(0) += HEADER as u64 + u64::from(loc.len);
        }
        let mut seg_sizes: IdMap<u32, u64> = IdMap::default();
        for (&n, &size) in &seg_files {
            if seg_refs.contains_key(&n) {
                seg_sizes.insert(n, size);
            } else if keep_orphans {
                rec.kept_segments.push(n);
            } else {
                let path = seg_path(&seg_dir, n);
                tracing::debug!(file = %path.display(), "store: deleting unreferenced segment");
                if let Err(e) = fs::remove_file(&path) {
                    tracing::warn!(file = %path.display(), error = %e, "store: cannot delete segment");
                }
            }
        }
        rec.kept_segments.sort_unstable();
        if keep_orphans && !rec.kept_segments.is_empty() {
            tracing::warn!(
                segments = rec.kept_segments.len(),
                report = %report_path.display(),
                "store: segments no message references are kept because damage was found; \
                 `warren recover-messages` reads them back; remove the report to let them go"
            );
        }
        rec.damage = damage;

        // 4. The recovered view, in publish (= id) order.
        for (id, loc, meta, qs) in messages.iter() {
            if damaged.contains(&id) {
                continue;
            }
            rec.messages += 1;
            rec.bytes += u64::from(loc.len);
            for q in qs {
                if let Some((name, _)) = st.names.get(q) {
                    rec.queues
                        .entry(name.clone())
                        .or_default()
                        .push(RecoveredMsg { id, loc, meta });
                }
            }
        }
        rec.segments = seg_sizes.len();
        let mut clock = std::mem::take(&mut st.clock);
        prune_clock(&mut clock, messages.first_id().unwrap_or(MsgId::MAX));
        rec.clock = clock.iter().copied().collect();

        // 5. Writer state: a fresh segment, a compacted journal.
        let used: std::collections::HashSet<QueueId> = messages
            .iter()
            .flat_map(|(_, _, _, qs)| qs.iter().copied())
            .collect();
        let mut names = HashMap::new();
        let mut queues: IdMap<QueueId, QueueInfo> = IdMap::default();
        for (id, (name, deleted)) in std::mem::take(&mut st.names) {
            if alias.contains_key(&id) || (deleted && !used.contains(&id)) {
                continue;
            }
            names.insert(name.clone(), id);
            queues.insert(
                id,
                QueueInfo {
                    name,
                    deleted: false,
                    in_journal: true,
                },
            );
        }
        let marks: IdMap<u32, u64> = std::mem::take(&mut st.marks)
            .into_iter()
            .filter(|(seg, _)| seg_refs.contains_key(seg))
            .collect();
        let closed_bytes = seg_sizes.values().sum();
        let live_bytes = seg_live.values().sum();
        let seg_no = next_segment;
        let seg_file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(seg_path(&seg_dir, seg_no))?;
        let jnl_no = jnls.last().map_or(0, |n| n.saturating_add(1));
        let jnl_file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(jnl_path(&jnl_dir, jnl_no))?;
        let jnl_old_bytes = jnls
            .iter()
            .filter_map(|&n| fs::metadata(jnl_path(&jnl_dir, n)).ok())
            .map(|m| m.len())
            .sum();
        let shared = Arc::new(Shared {
            seg_dir,
            cur_seg: AtomicU32::new(seg_no),
            flushed: AtomicU64::new(0),
            readers: RwLock::new(IdMap::default()),
        });
        let mut inner = Inner {
            shared: shared.clone(),
            jnl_dir,
            seg: LogFile::new(seg_file, 0, Vec::with_capacity(SEG_BUF)),
            seg_no,
            unsynced: Vec::new(),
            dir_dirty: true,
            jnl: LogFile::new(jnl_file, 0, Vec::with_capacity(JNL_BUF)),
            jnl_no,
            jnl_old_bytes,
            compact_at: opts.journal_compact_bytes,
            next_msg: st.next_msg.max(1),
            next_queue: st.next_queue,
            names,
            queues,
            messages,
            clock,
            seg_refs,
            seg_sizes,
            closed_bytes,
            seg_live,
            live_bytes,
            dead: Vec::new(),
            synced_len: marks,
            damaged,
            no_compact: IdSet::default(),
            work: VecDeque::new(),
            compact_skip_until: 0,
            poisoned: false,
            scratch: Vec::new(),
            opts,
        };
        // Start from a snapshot: bounded replay next time, damage reported only once.
        if let Err(e) = inner.compact() {
            tracing::warn!(error = %e, "store: journal compaction at open failed; continuing");
            inner.check()?;
        }
        if inner.opts.fsync {
            fsync_dir(&shared.seg_dir)?;
            fsync_dir(&inner.jnl_dir)?;
        }
        inner.dir_dirty = false;

        tracing::info!(
            messages = rec.messages,
            bytes = rec.bytes,
            queues = rec.queues.len(),
            segments = rec.segments,
            skipped_corrupt = rec.skipped_corrupt,
            truncated_tail_bytes = rec.truncated_tail_bytes,
            "store: recovered"
        );
        Ok((
            Store {
                inner: Mutex::new(inner),
                shared,
                compactor: Mutex::new(()),
            },
            rec,
        ))
    }

    /// The stable id of a queue name (opaque to the store, e.g. "vhost/queue"); the first use
    /// writes a `QueueName` journal record (buffered like every write).
    pub fn queue_id(&self, name: &str) -> QueueId {
        self.inner.lock().queue_id(name)
    }

    /// Writes one message (given as parts, stored as one record) for `queues`. Buffered: durable
    /// after the next [`Store::sync`]. On error nothing was stored.
    pub fn append(
        &self,
        payload: &[&[u8]],
        queues: &[QueueId],
    ) -> Result<(MsgId, Location), StoreError> {
        self.append_meta(payload, queues, Meta::NONE)
    }

    /// [`Store::append`] of a message with a priority or an expiry, which recovery gives back
    /// (see [`Recovered`]).
    pub fn append_meta(
        &self,
        payload: &[&[u8]],
        queues: &[QueueId],
        meta: Meta,
    ) -> Result<(MsgId, Location), StoreError> {
        self.append_at(payload, queues, meta, now_ms())
    }

    /// [`Store::append_meta`] at a given time (ms since the Unix epoch).
    pub(crate) fn append_at(
        &self,
        payload: &[&[u8]],
        queues: &[QueueId],
        meta: Meta,
        now: u64,
    ) -> Result<(MsgId, Location), StoreError> {
        let len: usize = payload.iter().map(|p| p.len()).sum();
        let len = u32::try_from(len)
            .ok()
            .filter(|&l| l <= u32::MAX - HEADER as u32)
            .ok_or(StoreError::TooLarge(len as u64))?;
        if queues.is_empty() {
            return Err(StoreError::NoQueues);
        }
        let mut g = self.inner.lock();
        g.check()?;
        g.append(payload, len, queues, meta, now)
    }

    /// Removes `queue`'s reference to each of `msgs` (unknown ones are ignored). A message with
    /// no queue left is gone; a segment with no message left is deleted.
    pub fn ack(&self, queue: QueueId, msgs: &[MsgId]) -> Result<(), StoreError> {
        let mut g = self.inner.lock();
        g.check()?;
        g.ack(queue, msgs)
    }

    /// Removes every message currently in `queue`. O(live messages in the store).
    pub fn purge(&self, queue: QueueId) -> Result<(), StoreError> {
        let mut g = self.inner.lock();
        g.check()?;
        g.drop_queue(queue, false)
    }

    /// Removes every message of `queue`; its name is forgotten at the next compaction unless
    /// the id is used again.
    pub fn delete_queue(&self, queue: QueueId) -> Result<(), StoreError> {
        let mut g = self.inner.lock();
        g.check()?;
        g.drop_queue(queue, true)
    }

    /// The group commit point: writes out and fsyncs everything so far (segments first, then
    /// the journal). When it returns `Ok`, every earlier operation is durable.
    pub fn sync(&self) -> Result<(), StoreError> {
        let plan = {
            let mut g = self.inner.lock();
            g.check()?;
            g.begin_sync()?
        };
        // Without the lock: segments first, then directories, then the journal, so a synced
        // Publish record never points at unsynced bytes.
        if let Err((what, e)) = plan.run() {
            return Err(self.inner.lock().poison(what, e));
        }
        self.inner.lock().finish_sync(plan);
        Ok(())
    }

    /// [`Store::compact_segments`] without its final sync (tests of a crash in between).
    #[cfg(test)]
    pub(crate) fn compact_without_sync(
        &self,
        budget: u64,
    ) -> Result<SegmentCompaction, StoreError> {
        let batch = self.inner.lock().next_moves(budget);
        let records = batch
            .into_iter()
            .map(|(id, loc)| self.read_raw(loc).map(|raw| (id, loc, raw)))
            .collect::<Result<Vec<_>, _>>()?;
        self.inner.lock().apply_moves(records)
    }

    /// Hands the journal's buffer (and not the segment's) to the OS (tests).
    #[cfg(test)]
    pub(crate) fn write_out_journal_only(&self) {
        self.inner.lock().jnl_write_out().unwrap();
    }

    /// Every intact record of segment file `n`, in file order, for recovery by scanning
    /// (`warren recover-messages`): after a lost or damaged journal the kept segments (see
    /// [`Recovered::kept_segments`]) are all that says which messages there were. A damaged
    /// record is skipped: the scan resumes at the next offset where a whole record checks.
    pub fn scan_segment(&self, n: u32) -> Result<SegmentScan, StoreError> {
        let data = fs::read(seg_path(&self.shared.seg_dir, n))?;
        let mut scan = SegmentScan::default();
        let whole = |at: usize| -> Option<usize> {
            let h = data.get(at..at + HEADER)?;
            let len = u32::from_le_bytes(h[0..4].try_into().ok()?) as usize;
            let payload = data.get(at + HEADER..at.checked_add(HEADER + len)?)?;
            codec::check(h, payload).ok().map(|()| len)
        };
        let mut at = 0usize;
        while at < data.len() {
            match whole(at) {
                Some(len) => {
                    scan.records.push((
                        Location {
                            segment: n,
                            offset: at as u64,
                            len: len as u32,
                        },
                        Bytes::copy_from_slice(&data[at + HEADER..at + HEADER + len]),
                    ));
                    at += HEADER + len;
                }
                None => {
                    let next = (at + 1..data.len()).find(|&p| whole(p).is_some());
                    let end = next.unwrap_or(data.len());
                    scan.damaged_bytes += (end - at) as u64;
                    at = end;
                }
            }
        }
        Ok(scan)
    }

    /// Deletes segment file `n` if no live message references it and it is not the one being
    /// written (a kept segment whose records were recovered); whether it was deleted.
    pub fn remove_unreferenced_segment(&self, n: u32) -> Result<bool, StoreError> {
        let mut g = self.inner.lock();
        if n == g.seg_no || g.seg_refs.contains_key(&n) {
            return Ok(false);
        }
        let _readers = self.shared.readers.write();
        match fs::remove_file(seg_path(&self.shared.seg_dir, n)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        g.dir_dirty = true;
        Ok(true)
    }

    /// Whether segment compaction has work: the segment files hold more garbage (records of
    /// acked messages) than live data plus one segment. Cheap (two counters).
    pub fn wants_compaction(&self) -> bool {
        self.inner.lock().wants_compaction()
    }

    /// One step of segment compaction (RabbitMQ combines message store files past half
    /// garbage; this moves instead): copies up to about `budget` bytes of live records out of
    /// the closed segments that are mostly garbage into the segment being written, notes each
    /// move in the journal, and syncs. A segment left with nothing live is deleted after that
    /// sync. So disk use stays under twice the live data plus two segments whatever the order
    /// messages are acked in (a few old messages no longer pin whole segments).
    ///
    /// Call it from the thread that calls [`Store::sync`] (it syncs itself); it reads records
    /// without the store's lock and takes the lock only to plan and to apply the moves.
    pub fn compact_segments(&self, budget: u64) -> Result<SegmentCompaction, StoreError> {
        let _one = self.compactor.lock();
        let batch = {
            let mut g = self.inner.lock();
            g.check()?;
            g.next_moves(budget)
        };
        if batch.is_empty() {
            return Ok(SegmentCompaction::default());
        }
        let mut records = Vec::with_capacity(batch.len());
        for (id, loc) in batch {
            match self.read_raw(loc) {
                Ok(raw) => records.push((id, loc, raw)),
                Err(e) => {
                    tracing::warn!(segment = loc.segment, offset = loc.offset, error = %e,
                        "store: a record cannot be read for compaction; its segment stays");
                    self.inner.lock().no_compact.insert(loc.segment);
                }
            }
        }
        let done = {
            let mut g = self.inner.lock();
            g.check()?;
            g.apply_moves(records)?
        };
        self.sync()?;
        Ok(done)
    }

    /// Reads a message back and checks its CRC. Works for records not yet synced too.
    pub fn read(&self, loc: Location) -> Result<Bytes, StoreError> {
        let end = loc.offset + (HEADER + loc.len as usize) as u64;
        if loc.segment == self.shared.cur_seg.load(Ordering::SeqCst)
            && end > self.shared.flushed.load(Ordering::SeqCst)
        {
            self.inner.lock().flush_for(loc)?;
        }
        self.read_flushed(loc)
    }

    /// Reads live message `id` back (like [`Store::read`] of its location): the index lookup
    /// (and, if the record is still in the write buffer, handing it to the OS) happens under the
    /// lock, the read itself without it. [`StoreError::UnknownMessage`] if `id` is not live
    /// (never stored, or acked/purged by every queue, possibly while this read was going on).
    pub fn read_msg(&self, id: MsgId) -> Result<Bytes, StoreError> {
        let loc = {
            let mut g = self.inner.lock();
            let loc = g
                .messages
                .location(id)
                .ok_or(StoreError::UnknownMessage(id))?;
            g.flush_for(loc)?;
            loc
        };
        let mut loc = loc;
        let mut tries = 0;
        loop {
            let e = match self.read_flushed(loc) {
                Ok(b) => return Ok(b),
                Err(e) => e,
            };
            // Since the lookup, the last reference may have gone (and its segment with it), or
            // compaction may have moved the record (and deleted the segment it was in).
            let mut g = self.inner.lock();
            match g.messages.location(id) {
                None => return Err(StoreError::UnknownMessage(id)),
                Some(now) if now != loc && tries < 3 => {
                    g.flush_for(now)?;
                    loc = now;
                    tries += 1;
                }
                Some(_) => return Err(e),
            }
        }
    }

    /// The queues still holding live message `id` (empty if it is not live).
    pub fn queues_of(&self, id: MsgId) -> Vec<QueueId> {
        self.inner
            .lock()
            .messages
            .entry(id)
            .map_or_else(Vec::new, |(_, _, qs)| qs.to_vec())
    }

    /// Where live message `id` is (`None` if it is not live).
    pub fn location(&self, id: MsgId) -> Option<Location> {
        self.inner.lock().messages.location(id)
    }

    /// The positional read of [`Store::read`], for a record already handed to the OS.
    fn read_flushed(&self, loc: Location) -> Result<Bytes, StoreError> {
        Ok(Bytes::from(self.read_raw(loc)?).slice(HEADER..))
    }

    /// The whole record at `loc` (header and payload), checked.
    fn read_raw(&self, loc: Location) -> Result<Vec<u8>, StoreError> {
        let total = HEADER + loc.len as usize;
        let file = self.shared.reader(loc.segment)?;
        let path = || seg_path(&self.shared.seg_dir, loc.segment);
        let mut buf = vec![0u8; total];
        file.read_exact_at(&mut buf, loc.offset).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                StoreError::Corrupt {
                    file: path(),
                    offset: loc.offset,
                    reason: "record extends past the end of the segment".into(),
                }
            } else {
                StoreError::Io(e)
            }
        })?;
        codec::check(&buf[..HEADER], &buf[HEADER..]).map_err(|reason| StoreError::Corrupt {
            file: path(),
            offset: loc.offset,
            reason: reason.into(),
        })?;
        Ok(buf)
    }

    /// Bytes in segment and journal files (including what is buffered for them).
    pub fn disk_usage(&self) -> u64 {
        self.inner.lock().disk_usage()
    }

    /// Number of live messages (each counted once however many queues hold it).
    pub fn live_messages(&self) -> usize {
        self.inner.lock().messages.len()
    }
}

impl Drop for Store {
    /// Best effort: whatever is buffered is synced (an orderly shutdown loses nothing).
    fn drop(&mut self) {
        let g = self.inner.get_mut();
        if !g.poisoned {
            if let Err(e) = g.sync() {
                tracing::warn!(error = %e, "store: sync at close failed");
            }
        }
    }
}
