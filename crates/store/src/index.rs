//! The in-memory index of live messages: id -> (location, queues still holding it).
//!
//! Message ids are handed out in increasing order and mostly die in about that order, so the
//! index is a deque of 16-byte [`Slot`]s addressed by `id - base` (no hashing, no per-entry
//! allocation), stored in fixed-size chunks so that it carries no doubling slack and frees memory
//! as its front advances. Dead slots at the front are popped as they die; holes in the middle stay
//! as dead slots until the front reaches them.
//!
//! The rare cases live in side maps:
//! - `many`: messages held by several queues (the slot says [`MANY`]);
//! - `far`: offsets that do not fit a `u32` (only from journals written with segments > 4 GiB;
//!   new records never start past `u32::MAX - 1`, the writer rolls the segment first);
//! - `sparse`: live messages below `base`, i.e. old stragglers that would otherwise pin the front
//!   of the deque (a message nobody acks while millions pass after it), and ids inserted below
//!   `base` by recovery. They are moved there once the front of the deque is mostly dead.
//!
//! A message's [`Meta`] word (priority, own expiry) is not in its slot: most messages have none.
//! A chunk gets a parallel array of meta words the first time one of its slots needs one (8
//! bytes per slot then); a straggler's meta goes to `sparse_meta` with it.

use std::collections::{BTreeMap, VecDeque};

use crate::store::IdMap;
use crate::{Location, Meta, MsgId, QueueId};

/// `Slot::queue` of a dead slot.
const DEAD: u32 = u32::MAX;
/// `Slot::queue` of a message held by several queues (or by a queue id >= `MANY`): see `many`.
const MANY: u32 = u32::MAX - 1;
/// `Slot::offset` of a record whose offset does not fit: see `far`.
pub(crate) const FAR: u32 = u32::MAX;
/// Slots per chunk (16 KiB chunks).
const CHUNK: usize = 1024;
/// The front of the deque is examined for stragglers only once this many slots are dead.
const SHRINK_MIN_DEAD: usize = 4 * CHUNK;

/// What removing one queue's reference to a message released: the message's segment and
/// record length, and whether the message is gone (no queue holds it any more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unref {
    pub(crate) segment: u32,
    pub(crate) len: u32,
    pub(crate) gone: bool,
}

/// One message: its location and its single owning queue (or a sentinel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) segment: u32,
    pub(crate) offset: u32,
    pub(crate) len: u32,
    pub(crate) queue: u32,
}

const EMPTY: Slot = Slot {
    segment: 0,
    offset: 0,
    len: 0,
    queue: DEAD,
};

impl Slot {
    fn is_live(&self) -> bool {
        self.queue != DEAD
    }
}

/// `CHUNK` slots, and their meta words once one of them has one.
#[derive(Debug)]
struct Chunk {
    slots: Box<[Slot]>,
    meta: Option<Box<[u64]>>,
}

impl Chunk {
    fn new() -> Chunk {
        Chunk {
            slots: vec![EMPTY; CHUNK].into_boxed_slice(),
            meta: None,
        }
    }
}

/// A deque of slots in fixed-size chunks.
#[derive(Debug, Default)]
struct Chunked {
    chunks: VecDeque<Chunk>,
    /// Index of the first slot in `chunks[0]`.
    head: usize,
    len: usize,
}

impl Chunked {
    fn get(&self, i: usize) -> &Slot {
        let j = self.head + i;
        &self.chunks[j / CHUNK].slots[j % CHUNK]
    }

    fn get_mut(&mut self, i: usize) -> &mut Slot {
        let j = self.head + i;
        &mut self.chunks[j / CHUNK].slots[j % CHUNK]
    }

    fn meta(&self, i: usize) -> u64 {
        let j = self.head + i;
        self.chunks[j / CHUNK]
            .meta
            .as_ref()
            .map_or(0, |m| m[j % CHUNK])
    }

    /// Sets slot `i`'s meta word (allocating its chunk's array only for a non-zero word).
    fn set_meta(&mut self, i: usize, meta: u64) {
        let j = self.head + i;
        let chunk = &mut self.chunks[j / CHUNK];
        match &mut chunk.meta {
            Some(m) => m[j % CHUNK] = meta,
            None if meta == 0 => {}
            None => {
                let mut m = vec![0u64; CHUNK].into_boxed_slice();
                m[j % CHUNK] = meta;
                chunk.meta = Some(m);
            }
        }
    }

    fn push(&mut self, s: Slot, meta: u64) {
        let j = self.head + self.len;
        if j / CHUNK == self.chunks.len() {
            self.chunks.push_back(Chunk::new());
        }
        self.chunks[j / CHUNK].slots[j % CHUNK] = s;
        self.len += 1;
        self.set_meta(self.len - 1, meta);
    }

    fn pop_front(&mut self) {
        debug_assert!(self.len > 0);
        self.head += 1;
        self.len -= 1;
        if self.len == 0 {
            // Keep one chunk: a queue that drains and refills should not reallocate.
            self.chunks.truncate(1);
            if let Some(c) = self.chunks.front_mut() {
                c.meta = None;
            }
            self.head = 0;
        } else if self.head == CHUNK {
            self.chunks.pop_front();
            self.head = 0;
        }
    }

    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Chunk>()
            + self.chunks.len() * CHUNK * std::mem::size_of::<Slot>()
            + self.chunks.iter().filter(|c| c.meta.is_some()).count() * CHUNK * 8
    }
}

/// The index. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct MsgIndex {
    /// Id of the deque's first slot (whose slot is live unless the deque is empty).
    base: MsgId,
    slots: Chunked,
    /// Live messages (deque and `sparse`).
    live: usize,
    /// Live messages below `base`.
    sparse: BTreeMap<MsgId, Slot>,
    /// The non-zero meta words of the messages in `sparse`.
    sparse_meta: BTreeMap<MsgId, u64>,
    many: IdMap<MsgId, Vec<QueueId>>,
    far: IdMap<MsgId, u64>,
    /// Examine the front for stragglers once this many slots are dead (amortizes the scan).
    next_shrink: usize,
    scratch: Vec<QueueId>,
}

impl MsgIndex {
    /// Live messages.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    pub(crate) fn clear(&mut self) {
        *self = MsgIndex::default();
    }

    fn dense_live(&self) -> usize {
        self.live - self.sparse.len()
    }

    fn end(&self) -> MsgId {
        self.base + self.slots.len as u64
    }

    /// Inserts (or replaces) message `id`, held by `queues` (deduplicated by the caller; empty
    /// means the message is not live). Ids normally come in increasing order; any order works.
    pub(crate) fn insert(&mut self, id: MsgId, loc: Location, meta: Meta, queues: &[QueueId]) {
        let meta = meta.bits();
        self.remove(id);
        if queues.is_empty() {
            return;
        }
        let offset = match u32::try_from(loc.offset) {
            Ok(o) if o != FAR => o,
            _ => {
                self.far.insert(id, loc.offset);
                FAR
            }
        };
        let queue = match queues {
            [q] if *q < MANY => *q,
            _ => {
                self.many.insert(id, queues.to_vec());
                MANY
            }
        };
        let slot = Slot {
            segment: loc.segment,
            offset,
            len: loc.len,
            queue,
        };
        self.live += 1;
        if id < self.base {
            self.sparse.insert(id, slot);
            if meta != 0 {
                self.sparse_meta.insert(id, meta);
            }
            return;
        }
        let end = self.end();
        if self.slots.len == 0 || id >= end {
            let gap = if self.slots.len == 0 { 0 } else { id - end };
            if gap > (self.dense_live() + CHUNK) as u64 {
                // Cheaper to keep the few live ones aside than to fill the gap with dead slots.
                self.spill(self.slots.len);
            }
            if self.slots.len == 0 {
                self.base = id;
            } else {
                for _ in 0..gap {
                    self.slots.push(EMPTY, 0);
                }
            }
            self.slots.push(slot, meta);
            if gap > 0 {
                self.maybe_shrink();
            }
        } else {
            let i = (id - self.base) as usize;
            *self.slots.get_mut(i) = slot;
            self.slots.set_meta(i, meta);
        }
    }

    /// The meta word of a live message (found at `id`).
    fn meta_of(&self, id: MsgId) -> Meta {
        let bits = if id < self.base {
            self.sparse_meta.get(&id).copied().unwrap_or(0)
        } else {
            self.slots.meta((id - self.base) as usize)
        };
        Meta::from_bits(bits)
    }

    /// The smallest live id (`None` when nothing is live).
    pub(crate) fn first_id(&self) -> Option<MsgId> {
        match self.sparse.keys().next() {
            Some(&id) => Some(id),
            None => (self.slots.len > 0).then_some(self.base),
        }
    }

    fn find(&self, id: MsgId) -> Option<&Slot> {
        if id < self.base {
            return self.sparse.get(&id);
        }
        let i = usize::try_from(id - self.base).ok()?;
        (i < self.slots.len)
            .then(|| self.slots.get(i))
            .filter(|s| s.is_live())
    }

    fn find_mut(&mut self, id: MsgId) -> Option<&mut Slot> {
        if id < self.base {
            return self.sparse.get_mut(&id);
        }
        let i = usize::try_from(id - self.base).ok()?;
        if i >= self.slots.len {
            return None;
        }
        Some(self.slots.get_mut(i)).filter(|s| s.is_live())
    }

    fn loc_of(&self, id: MsgId, s: &Slot) -> Location {
        let offset = if s.offset == FAR {
            self.far.get(&id).copied().unwrap_or(u64::from(FAR))
        } else {
            u64::from(s.offset)
        };
        Location {
            segment: s.segment,
            offset,
            len: s.len,
        }
    }

    fn queues_of<'a>(&'a self, id: MsgId, s: &'a Slot) -> &'a [QueueId] {
        if s.queue == MANY {
            self.many.get(&id).map_or(&[], |v| v.as_slice())
        } else {
            std::slice::from_ref(&s.queue)
        }
    }

    pub(crate) fn location(&self, id: MsgId) -> Option<Location> {
        self.find(id).map(|s| self.loc_of(id, s))
    }

    #[cfg(test)]
    pub(crate) fn get(&self, id: MsgId) -> Option<(Location, &[QueueId])> {
        self.find(id)
            .map(|s| (self.loc_of(id, s), self.queues_of(id, s)))
    }

    #[cfg(test)]
    pub(crate) fn meta(&self, id: MsgId) -> Option<Meta> {
        self.find(id).map(|_| self.meta_of(id))
    }

    /// Marks `id` (live) dead without popping the front.
    fn kill(&mut self, id: MsgId) {
        self.many.remove(&id);
        self.far.remove(&id);
        if id < self.base {
            self.sparse.remove(&id);
            self.sparse_meta.remove(&id);
        } else if let Some(s) = self.find_mut(id) {
            s.queue = DEAD;
        }
        self.live -= 1;
    }

    fn pop_dead_front(&mut self) {
        while self.slots.len > 0 && !self.slots.get(0).is_live() {
            self.slots.pop_front();
            self.base += 1;
        }
    }

    /// Removes message `id` altogether; true if it was live.
    pub(crate) fn remove(&mut self, id: MsgId) -> bool {
        if self.find(id).is_none() {
            return false;
        }
        self.kill(id);
        self.pop_dead_front();
        true
    }

    /// Removes `queue`'s reference to `id` (`None` if there was none).
    pub(crate) fn remove_ref(&mut self, id: MsgId, queue: QueueId) -> Option<Unref> {
        let s = *self.find(id)?;
        let mut gone = false;
        if s.queue == MANY {
            let v = self.many.get_mut(&id)?;
            let i = v.iter().position(|&q| q == queue)?;
            v.swap_remove(i);
            match v[..] {
                [] => {
                    self.kill(id);
                    gone = true;
                }
                [one] if one < MANY => {
                    self.many.remove(&id);
                    if let Some(s) = self.find_mut(id) {
                        s.queue = one;
                    }
                }
                _ => {}
            }
        } else if s.queue == queue {
            self.kill(id);
            gone = true;
        } else {
            return None;
        }
        self.pop_dead_front();
        self.maybe_shrink();
        Some(Unref {
            segment: s.segment,
            len: s.len,
            gone,
        })
    }

    /// A live message's location, meta and queues.
    pub(crate) fn entry(&self, id: MsgId) -> Option<(Location, Meta, &[QueueId])> {
        self.find(id)
            .map(|s| (self.loc_of(id, s), self.meta_of(id), self.queues_of(id, s)))
    }

    /// Points live message `id` at `loc` (its queues and meta stay); false if it is not live.
    pub(crate) fn relocate(&mut self, id: MsgId, loc: Location) -> bool {
        let offset = match u32::try_from(loc.offset) {
            Ok(o) if o != FAR => o,
            _ => FAR,
        };
        let Some(s) = self.find_mut(id) else {
            return false;
        };
        s.segment = loc.segment;
        s.offset = offset;
        s.len = loc.len;
        if offset == FAR {
            self.far.insert(id, loc.offset);
        } else {
            self.far.remove(&id);
        }
        true
    }

    /// Calls `f` with every live message's id, location and queues (in no particular order);
    /// `f` may change the queues. A message whose queues end up empty, or for which `f` returns
    /// false, is removed. O(live messages).
    pub(crate) fn retain(&mut self, mut f: impl FnMut(MsgId, Location, &mut Vec<QueueId>) -> bool) {
        let mut qs = std::mem::take(&mut self.scratch);
        // Stragglers first (few), then the deque by index: `kill` does not pop, so `base` and
        // the indices stay put until the loop is over.
        let sparse: Vec<MsgId> = self.sparse.keys().copied().collect();
        let n = sparse.len() + self.slots.len;
        for k in 0..n {
            let id = match sparse.get(k) {
                Some(&id) => id,
                None => self.base + (k - sparse.len()) as u64,
            };
            let Some(&s) = self.find(id) else { continue };
            qs.clear();
            if s.queue == MANY {
                if let Some(v) = self.many.remove(&id) {
                    qs = v;
                }
            } else {
                qs.push(s.queue);
            }
            let keep = f(id, self.loc_of(id, &s), &mut qs) && !qs.is_empty();
            let queue = match qs[..] {
                _ if !keep => {
                    self.kill(id);
                    continue;
                }
                [one] if one < MANY => one,
                _ => {
                    self.many.insert(id, std::mem::take(&mut qs));
                    MANY
                }
            };
            if let Some(s) = self.find_mut(id) {
                s.queue = queue;
            }
        }
        self.scratch = qs;
        self.pop_dead_front();
        self.maybe_shrink();
    }

    /// Every live message in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (MsgId, Location, Meta, &[QueueId])> + '_ {
        let sparse = self.sparse.iter().map(|(&id, s)| {
            (
                id,
                self.loc_of(id, s),
                self.meta_of(id),
                self.queues_of(id, s),
            )
        });
        let dense = (0..self.slots.len).filter_map(move |i| {
            let s = self.slots.get(i);
            let id = self.base + i as u64;
            s.is_live().then(|| {
                (
                    id,
                    self.loc_of(id, s),
                    Meta::from_bits(self.slots.meta(i)),
                    self.queues_of(id, s),
                )
            })
        });
        sparse.chain(dense)
    }

    /// Moves the live slots among the first `k` of the deque to `sparse` and drops those `k`.
    fn spill(&mut self, k: usize) {
        for i in 0..k {
            let s = *self.slots.get(i);
            if s.is_live() {
                self.sparse.insert(self.base + i as u64, s);
                let meta = self.slots.meta(i);
                if meta != 0 {
                    self.sparse_meta.insert(self.base + i as u64, meta);
                }
            }
        }
        for _ in 0..k {
            self.slots.pop_front();
        }
        self.base += k as u64;
        self.pop_dead_front();
    }

    /// When the deque is mostly dead, moves a mostly dead front (live stragglers pinning it,
    /// at most one live slot in 8) to `sparse`. Amortized O(1) per dead slot.
    fn maybe_shrink(&mut self) {
        let dead = self.slots.len - self.dense_live();
        if dead < SHRINK_MIN_DEAD || dead <= self.dense_live() || dead < self.next_shrink {
            return;
        }
        let mut live = 0usize;
        let mut cut = 0usize;
        for i in 0..self.slots.len {
            if self.slots.get(i).is_live() {
                live += 1;
            }
            if live * 8 <= i + 1 {
                cut = i + 1;
            }
        }
        self.spill(cut);
        self.next_shrink = 2 * (self.slots.len - self.dense_live());
    }

    /// Approximate heap bytes of the index (for tests and diagnostics).
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.heap_bytes()
            + self.sparse.len() * (std::mem::size_of::<(MsgId, Slot)>() + 16)
            + self.sparse_meta.len() * (std::mem::size_of::<(MsgId, u64)>() + 16)
            + self.many.capacity() * (std::mem::size_of::<(MsgId, Vec<QueueId>)>() + 1)
            + self.many.values().map(|v| v.capacity() * 4).sum::<usize>()
            + self.far.capacity() * (std::mem::size_of::<(MsgId, u64)>() + 1)
    }

    /// Slots in the deque (live or dead), for tests.
    #[cfg(test)]
    pub(crate) fn dense_slots(&self) -> usize {
        self.slots.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(i: u64) -> Location {
        Location {
            segment: (i / 100) as u32,
            offset: i * 10,
            len: 7,
        }
    }

    /// Checks the index against a model (id -> sorted queues).
    fn check(ix: &MsgIndex, model: &BTreeMap<MsgId, Vec<QueueId>>) {
        assert_eq!(ix.len(), model.len());
        let got: Vec<(MsgId, Vec<QueueId>)> = ix
            .iter()
            .map(|(id, l, _, qs)| {
                assert_eq!(l, loc(id));
                let mut qs = qs.to_vec();
                qs.sort_unstable();
                (id, qs)
            })
            .collect();
        let want: Vec<(MsgId, Vec<QueueId>)> = model.iter().map(|(&k, v)| (k, v.clone())).collect();
        assert_eq!(got, want);
        for &id in model.keys() {
            assert_eq!(ix.location(id), Some(loc(id)));
        }
    }

    #[test]
    fn slot_is_16_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 16);
    }

    #[test]
    fn out_of_order_acks_leave_holes_then_reclaim() {
        let mut ix = MsgIndex::default();
        let mut model = BTreeMap::new();
        for i in 1..=10u64 {
            ix.insert(i, loc(i), Meta::NONE, &[1]);
            model.insert(i, vec![1]);
        }
        // Holes in the middle: the deque keeps its 10 slots.
        for i in [3u64, 5, 7, 8] {
            assert_eq!(
                ix.remove_ref(i, 1).map(|u| (u.segment, u.len, u.gone)),
                Some((loc(i).segment, 7, true))
            );
            model.remove(&i);
        }
        assert_eq!(ix.remove_ref(3, 1), None, "acked twice");
        assert_eq!(ix.remove_ref(4, 2), None, "not in that queue");
        assert_eq!(ix.dense_slots(), 10);
        assert_eq!(ix.location(5), None);
        check(&ix, &model);
        // The front dies: the front slots and the holes behind it go.
        for i in [1u64, 2, 4] {
            ix.remove_ref(i, 1);
            model.remove(&i);
        }
        assert_eq!(ix.dense_slots(), 5, "6, (7), (8), 9, 10 remain");
        check(&ix, &model);
        for i in [6u64, 9, 10] {
            ix.remove_ref(i, 1);
            model.remove(&i);
        }
        assert_eq!(ix.dense_slots(), 0);
        check(&ix, &model);
        // Ids keep growing after the deque emptied.
        ix.insert(20, loc(20), Meta::NONE, &[1]);
        model.insert(20, vec![1]);
        check(&ix, &model);
    }

    #[test]
    fn multi_queue_and_odd_ids() {
        let mut ix = MsgIndex::default();
        let mut model = BTreeMap::new();
        ix.insert(1, loc(1), Meta::NONE, &[1, 2]);
        model.insert(1, vec![1, 2]);
        // Queue ids colliding with the sentinels go to the side map.
        ix.insert(2, loc(2), Meta::NONE, &[u32::MAX]);
        model.insert(2, vec![u32::MAX]);
        ix.insert(3, loc(3), Meta::NONE, &[u32::MAX - 1]);
        model.insert(3, vec![u32::MAX - 1]);
        check(&ix, &model);
        assert_eq!(
            ix.remove_ref(1, 1).map(|u| (u.segment, u.gone)),
            Some((0, false)),
            "queue 2 still holds it"
        );
        model.insert(1, vec![2]);
        check(&ix, &model);
        assert!(ix.many.len() == 2, "collapsed back to a single slot");
        assert_eq!(ix.remove_ref(2, u32::MAX).map(|u| u.gone), Some(true));
        model.remove(&2);
        check(&ix, &model);
        // A far offset (journals of segments > 4 GiB).
        let far = Location {
            segment: 9,
            offset: 5 << 30,
            len: 1,
        };
        ix.insert(4, far, Meta::NONE, &[1]);
        assert_eq!(ix.location(4), Some(far));
        assert_eq!(ix.get(4).map(|(_, q)| q.to_vec()), Some(vec![1]));
        ix.remove_ref(4, 1);
        assert!(ix.far.is_empty());
        // Replay may insert below the front or replace.
        ix.insert(0, loc(0), Meta::NONE, &[5]);
        model.insert(0, vec![5]);
        ix.insert(3, loc(3), Meta::NONE, &[6, 7]);
        model.insert(3, vec![6, 7]);
        check(&ix, &model);
        // retain: change, keep, drop.
        ix.retain(|id, _, qs| {
            qs.retain(|&q| q != 2 && q != 6);
            id != 0
        });
        model.remove(&0);
        model.remove(&1);
        model.insert(3, vec![7]);
        check(&ix, &model);
        assert!(ix.many.is_empty());
    }

    #[test]
    fn stragglers_do_not_pin_the_front() {
        let mut ix = MsgIndex::default();
        ix.insert(1, loc(1), Meta::NONE, &[1]); // never acked
        for i in 2..200_000u64 {
            ix.insert(i, loc(i), Meta::NONE, &[2]);
            if i > 10 {
                ix.remove_ref(i - 10, 2);
            }
        }
        assert_eq!(ix.len(), 11);
        assert!(
            ix.dense_slots() < 2 * SHRINK_MIN_DEAD,
            "{}",
            ix.dense_slots()
        );
        assert_eq!(ix.location(1), Some(loc(1)));
        assert_eq!(ix.iter().next().map(|(id, _, _, _)| id), Some(1));
        assert_eq!(ix.remove_ref(1, 1).map(|u| u.segment), Some(0));
        assert_eq!(ix.len(), 10);
        // A huge gap (replay of a snapshot with an old straggler) is not filled.
        let mut ix = MsgIndex::default();
        ix.insert(1, loc(1), Meta::NONE, &[1]);
        ix.insert(1 << 40, loc(7), Meta::NONE, &[1]);
        assert_eq!(ix.dense_slots(), 1);
        assert_eq!(ix.len(), 2);
        assert_eq!(ix.location(1), Some(loc(1)));
    }

    #[test]
    fn meta_follows_its_message_and_costs_only_where_present() {
        let mut ix = MsgIndex::default();
        let m = |i: u64| Meta::new((i % 7) as u8, i * 1000);
        for i in 1..=5000u64 {
            let meta = if i % 2 == 0 { m(i) } else { Meta::NONE };
            ix.insert(i, loc(i), meta, &[1]);
        }
        for i in 1..=5000u64 {
            let want = if i % 2 == 0 { m(i) } else { Meta::NONE };
            assert_eq!(ix.meta(i), Some(want), "{i}");
        }
        // Replacing a message replaces its meta (also back to none).
        ix.insert(2, loc(2), Meta::NONE, &[1]);
        ix.insert(3, loc(3), m(3), &[1]);
        assert_eq!(ix.meta(2), Some(Meta::NONE));
        assert_eq!(ix.meta(3), Some(m(3)));
        // Stragglers keep theirs when the front moves to `sparse`.
        for i in 1..=5000u64 {
            if i != 3 && i != 10 {
                ix.remove_ref(i, 1);
            }
        }
        for i in 5001..=20_000u64 {
            ix.insert(i, loc(i), Meta::NONE, &[1]);
            ix.remove_ref(i, 1);
        }
        assert!(!ix.sparse.is_empty(), "the stragglers were spilled");
        assert_eq!(ix.meta(3), Some(m(3)));
        assert_eq!(ix.meta(10), Some(m(10)));
        let all: Vec<(MsgId, Meta)> = ix.iter().map(|(id, _, meta, _)| (id, meta)).collect();
        assert_eq!(all, [(3, m(3)), (10, m(10))]);
        assert_eq!(ix.first_id(), Some(3));
        ix.remove_ref(3, 1);
        ix.remove_ref(10, 1);
        assert!(ix.sparse_meta.is_empty());
        assert_eq!(ix.first_id(), None);
        // Plain messages allocate no meta arrays; one message with meta costs its chunk's.
        let mut ix = MsgIndex::default();
        for i in 1..=10 * CHUNK as u64 {
            ix.insert(i, loc(i), Meta::NONE, &[1]);
        }
        let plain = ix.heap_bytes();
        ix.insert(5, loc(5), m(5), &[1]);
        assert_eq!(ix.heap_bytes(), plain + CHUNK * 8);
    }

    #[test]
    fn about_16_bytes_per_live_message() {
        let mut ix = MsgIndex::default();
        let n = 1_000_000u64;
        for i in 1..=n {
            ix.insert(i, loc(i), Meta::NONE, &[1]);
        }
        let per = ix.heap_bytes() as f64 / n as f64;
        assert!(per < 16.5, "{per} bytes per message");
        // Acked in order: the memory goes with them.
        for i in 1..=n / 2 {
            ix.remove_ref(i, 1);
        }
        let per = ix.heap_bytes() as f64 / (n / 2) as f64;
        assert!(per < 16.5, "{per} bytes per message");
    }
}
