//! Tests of the store: behaviour, damage handling, and a model-based property test.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;

use crate::{Location, Meta, MsgId, Recovered, Store, StoreError, StoreOptions, CLOCK_TICK_MS};

fn opts() -> StoreOptions {
    StoreOptions {
        fsync: false,
        ..StoreOptions::default()
    }
}

fn small(segment_size: u64, journal_compact_bytes: u64) -> StoreOptions {
    StoreOptions {
        segment_size,
        journal_compact_bytes,
        fsync: false,
    }
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().ends_with(ext))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn journal(dir: &Path) -> PathBuf {
    let v = files(&dir.join("journal"), ".jnl");
    assert_eq!(v.len(), 1, "one journal file expected: {v:?}");
    v[0].clone()
}

fn msg(i: usize, size: usize) -> Vec<u8> {
    (0..size).map(|j| (i * 31 + j) as u8).collect()
}

/// `(offset, record type)` of every record of a journal file.
fn records(path: &Path) -> Vec<(u64, u8)> {
    let mut v = Vec::new();
    crate::codec::scan(&fs::read(path).unwrap(), |off, payload| {
        v.push((off, payload[0]))
    });
    v
}

fn ids(rec: &Recovered, q: &str) -> Vec<MsgId> {
    rec.queues
        .get(q)
        .map(|v| v.iter().map(|m| m.id).collect())
        .unwrap_or_default()
}

#[test]
fn store_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Store>();
    check::<Arc<Store>>();
}

#[test]
fn write_read_ack() {
    let dir = tempfile::tempdir().unwrap();
    let (s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(rec.messages, 0);
    let q = s.queue_id("/q");
    assert_eq!(s.queue_id("/q"), q);
    let (m, loc) = s.append(&[b"hello ", b"world"], &[q]).unwrap();
    assert_eq!(loc.len, 11);
    // Readable before sync (still in the write buffer).
    assert_eq!(&s.read(loc).unwrap()[..], b"hello world");
    s.sync().unwrap();
    assert_eq!(&s.read(loc).unwrap()[..], b"hello world");
    assert_eq!(s.live_messages(), 1);
    s.ack(q, &[m]).unwrap();
    s.ack(q, &[m]).unwrap(); // twice: ignored
    assert_eq!(s.live_messages(), 0);
    s.sync().unwrap();
    drop(s);
    let (_s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(rec.messages, 0);
    assert!(rec.queues.is_empty());
}

#[test]
fn bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = Store::open(dir.path(), opts()).unwrap();
    assert!(matches!(s.append(&[b"x"], &[]), Err(StoreError::NoQueues)));
    assert!(matches!(
        s.append(&[b"x"], &[42]),
        Err(StoreError::UnknownQueue(42))
    ));
    assert_eq!(s.live_messages(), 0);
}

#[test]
fn two_queues_written_once_reclaimed_after_both_acks() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = Store::open(dir.path(), small(100_000, 1 << 30)).unwrap();
    let a = s.queue_id("/a");
    let b = s.queue_id("/b");
    s.sync().unwrap();
    let before = s.disk_usage();
    let body = msg(1, 64 * 1024);
    let (m, loc) = s.append(&[&body], &[a, b, a]).unwrap();
    s.sync().unwrap();
    let grown = s.disk_usage() - before;
    assert!(
        grown >= body.len() as u64 && grown < body.len() as u64 + 200,
        "{grown}"
    );
    // Roll over: the next message does not fit in the first segment.
    let (m2, loc2) = s.append(&[&body], &[a]).unwrap();
    assert_ne!(loc2.segment, loc.segment);
    s.sync().unwrap();
    let seg = dir.path().join(format!("segments/{:08}.seg", loc.segment));
    assert!(seg.exists());
    s.ack(a, &[m]).unwrap();
    assert!(seg.exists(), "still referenced by /b");
    assert_eq!(&s.read(loc).unwrap()[..], &body[..]);
    s.ack(b, &[m]).unwrap();
    assert!(seg.exists(), "deleted only once the acks are synced");
    s.sync().unwrap();
    assert!(!seg.exists(), "fully acked segment deleted");
    drop(s);
    let (_s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(ids(&rec, "/a"), vec![m2]);
    assert!(!rec.queues.contains_key("/b"));
}

#[test]
fn segments_roll_over_and_are_deleted_when_acked() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = Store::open(dir.path(), small(16 * 1024, 1 << 30)).unwrap();
    let q = s.queue_id("/q");
    s.sync().unwrap();
    let base = s.disk_usage();
    let mut sent = Vec::new();
    for i in 0..200 {
        let body = msg(i, 1024);
        sent.push((s.append(&[&body], &[q]).unwrap(), body));
        if i % 50 == 0 {
            s.sync().unwrap();
        }
    }
    s.sync().unwrap();
    let segs = files(&dir.path().join("segments"), ".seg");
    assert!(segs.len() >= 12, "{}", segs.len());
    let full = s.disk_usage();
    assert!(full > base + 200 * 1024);
    for ((_, loc), body) in &sent {
        assert_eq!(&s.read(*loc).unwrap()[..], &body[..]);
    }
    let all: Vec<MsgId> = sent.iter().map(|((m, _), _)| *m).collect();
    s.ack(q, &all[..199]).unwrap();
    s.sync().unwrap();
    // Only the segment being written (holding the last message) is left.
    assert_eq!(files(&dir.path().join("segments"), ".seg").len(), 1);
    let seg_bytes: u64 = files(&dir.path().join("segments"), ".seg")
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum();
    assert!(seg_bytes < 16 * 1024);
    assert!(s.disk_usage() < full / 2, "{} vs {full}", s.disk_usage());
    drop(s);
    let (_s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(ids(&rec, "/q"), vec![all[199]]);
    assert_eq!(rec.segments, 1);
}

#[test]
fn journal_compaction_keeps_exactly_the_live_set() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = Store::open(dir.path(), small(1 << 20, 4096)).unwrap();
    let a = s.queue_id("/a");
    let b = s.queue_id("/b");
    let gone = s.queue_id("/gone");
    let mut live_a = Vec::new();
    let mut live_b = Vec::new();
    for i in 0..500 {
        let (m, _) = s.append(&[&msg(i, 10)], &[a, b]).unwrap();
        let (g, _) = s.append(&[b"g"], &[gone]).unwrap();
        if i % 3 == 0 {
            s.ack(a, &[m]).unwrap();
        } else {
            live_a.push(m);
        }
        if i % 5 == 0 {
            s.ack(b, &[m]).unwrap();
        } else {
            live_b.push(m);
        }
        let _ = g;
        if i % 10 == 0 {
            s.sync().unwrap();
        }
    }
    s.delete_queue(gone).unwrap();
    s.sync().unwrap();
    // Compaction has run: the journal is far smaller than everything written.
    let j = journal(dir.path());
    assert!(fs::metadata(&j).unwrap().len() < 64 * 1024);
    drop(s);
    let (_s, rec) = Store::open(dir.path(), small(1 << 20, 4096)).unwrap();
    assert_eq!(ids(&rec, "/a"), live_a);
    assert_eq!(ids(&rec, "/b"), live_b);
    assert!(!rec.queues.contains_key("/gone"));
    let distinct: BTreeSet<MsgId> = live_a.iter().chain(&live_b).copied().collect();
    assert_eq!(rec.messages, distinct.len());
    assert_eq!(rec.skipped_corrupt, 0);
}

#[test]
fn recovery_returns_unacked_messages_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut expect: BTreeMap<String, Vec<(MsgId, Vec<u8>)>> = BTreeMap::new();
    {
        let (s, _) = Store::open(dir.path(), small(8192, 1 << 30)).unwrap();
        let qs: Vec<(String, u32)> = (0..4)
            .map(|i| {
                let n = format!("vh/q{i}");
                let id = s.queue_id(&n);
                (n, id)
            })
            .collect();
        for i in 0..300 {
            let body = msg(i, 100 + i);
            let targets: Vec<u32> = qs
                .iter()
                .filter(|(_, id)| !(i as u32 + id).is_multiple_of(3))
                .map(|(_, id)| *id)
                .collect();
            let (m, _) = s.append(&[&body], &targets).unwrap();
            for (n, id) in &qs {
                if targets.contains(id) {
                    if i % 7 == (*id as usize) {
                        s.ack(*id, &[m]).unwrap();
                    } else {
                        expect.entry(n.clone()).or_default().push((m, body.clone()));
                    }
                }
            }
        }
        s.sync().unwrap();
    }
    let (s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(rec.queues.len(), expect.len());
    for (q, msgs) in &expect {
        let got = &rec.queues[q];
        assert_eq!(got.len(), msgs.len());
        for (m, (eid, body)) in got.iter().zip(msgs) {
            assert_eq!(m.id, *eid);
            assert_eq!(&s.read(m.loc).unwrap()[..], &body[..]);
        }
    }
    // New ids continue after the recovered ones.
    let q = s.queue_id("vh/q1");
    let (m, _) = s.append(&[b"new"], &[q]).unwrap();
    assert!(
        m > expect
            .values()
            .flatten()
            .map(|(id, _)| *id)
            .max()
            .unwrap_or(0)
    );
}

#[test]
fn purge_and_delete_queue() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (s, _) = Store::open(dir.path(), opts()).unwrap();
        let a = s.queue_id("/a");
        let b = s.queue_id("/b");
        let c = s.queue_id("/c");
        for i in 0..10 {
            s.append(&[&msg(i, 20)], &[a, b, c]).unwrap();
        }
        s.purge(a).unwrap();
        s.delete_queue(b).unwrap();
        let (m, _) = s.append(&[b"after"], &[a]).unwrap();
        assert_eq!(m, 11);
        s.sync().unwrap();
        assert_eq!(s.live_messages(), 11);
    }
    let (s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(ids(&rec, "/a"), vec![11]);
    assert!(!rec.queues.contains_key("/b"));
    assert_eq!(ids(&rec, "/c"), (1..=10).collect::<Vec<_>>());
    // Deleted then re-declared: works as a fresh queue.
    let b = s.queue_id("/b");
    let (m, _) = s.append(&[b"b again"], &[b]).unwrap();
    let c = s.queue_id("/c");
    s.delete_queue(c).unwrap();
    s.sync().unwrap();
    drop(s);
    let (_s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(ids(&rec, "/b"), vec![m]);
    assert_eq!(ids(&rec, "/a"), vec![11]);
    assert!(!rec.queues.contains_key("/c"));
    assert_eq!(rec.segments, 2);
}

/// Copies a store directory.
fn copy_dir(from: &Path, to: &Path) {
    for sub in ["segments", "journal"] {
        fs::create_dir_all(to.join(sub)).unwrap();
        for p in files(&from.join(sub), "") {
            if p.is_file() {
                fs::copy(&p, to.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
}

#[test]
fn torn_tail_truncated_at_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (before, after);
    {
        let (s, _) = Store::open(dir.path(), opts()).unwrap();
        let q = s.queue_id("/q");
        let r = s.queue_id("/r");
        for i in 0..3 {
            s.append(&[&msg(i, 50)], &[q]).unwrap();
        }
        s.sync().unwrap();
        before = fs::metadata(journal(dir.path())).unwrap().len();
        s.append(&[&msg(3, 50)], &[q, r]).unwrap();
        s.sync().unwrap();
        after = fs::metadata(journal(dir.path())).unwrap().len();
        // A crash: the `Synced` mark of the last sync stays unwritten.
        std::mem::forget(s);
    }
    assert!(after > before);
    let j = journal(dir.path());
    let starts: Vec<u64> = records(&j).iter().map(|&(off, _)| off).collect();
    for cut in before..after {
        // A cut inside a record loses it (a torn tail); a cut between two is no tail at all.
        let last_whole_end = starts.iter().copied().filter(|&o| o <= cut).max().unwrap();
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), copy.path());
        let jc = copy.path().join("journal").join(j.file_name().unwrap());
        fs::OpenOptions::new()
            .write(true)
            .open(&jc)
            .unwrap()
            .set_len(cut)
            .unwrap();
        let (s, rec) = Store::open(copy.path(), opts()).unwrap();
        assert_eq!(ids(&rec, "/q"), vec![1, 2, 3], "cut at {cut}");
        assert_eq!(
            rec.truncated_tail_bytes,
            cut - last_whole_end,
            "cut at {cut}"
        );
        assert_eq!(rec.skipped_corrupt, 0);
        // The store works normally afterwards.
        let q = s.queue_id("/q");
        let (m, loc) = s.append(&[b"next"], &[q]).unwrap();
        assert!(m >= 4);
        assert_eq!(&s.read(loc).unwrap()[..], b"next");
        drop(s);
        let (_s, rec) = Store::open(copy.path(), opts()).unwrap();
        assert_eq!(ids(&rec, "/q"), vec![1, 2, 3, m]);
        assert_eq!(rec.truncated_tail_bytes, 0);
    }
}

/// Builds a store with 6 messages, each sync'd on its own, and leaves it as a crash would
/// (the last record in the journal is the 6th `Publish`); returns the offsets of the six
/// `Publish` records and the journal's length.
fn six_records(dir: &Path) -> Vec<u64> {
    let (s, _) = Store::open(dir, opts()).unwrap();
    let q = s.queue_id("/q");
    s.sync().unwrap();
    for i in 0..6 {
        s.append(&[&msg(i, 40)], &[q]).unwrap();
        s.sync().unwrap();
    }
    std::mem::forget(s);
    let j = journal(dir);
    let mut offs: Vec<u64> = records(&j)
        .into_iter()
        .filter(|&(_, ty)| ty == crate::codec::T_PUBLISH)
        .map(|(off, _)| off)
        .collect();
    assert_eq!(offs.len(), 6);
    offs.push(fs::metadata(&j).unwrap().len());
    offs
}

#[test]
fn flipped_byte_in_journal_record_is_skipped_and_counted() {
    // Flip each byte of the third Publish record in turn (header and payload).
    let dir = tempfile::tempdir().unwrap();
    let offs = six_records(dir.path());
    let j = journal(dir.path());
    let ends: Vec<u64> = records(&j).iter().map(|&(off, _)| off).collect();
    let end3 = ends.iter().copied().find(|&o| o > offs[2]).unwrap();
    for at in offs[2]..end3 {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), copy.path());
        let jc = copy.path().join("journal").join(j.file_name().unwrap());
        let mut data = fs::read(&jc).unwrap();
        data[at as usize] ^= 0x5a;
        fs::write(&jc, &data).unwrap();
        let (_s, rec) = Store::open(copy.path(), opts()).unwrap();
        assert_eq!(rec.skipped_corrupt, 1, "flip at {at}");
        assert_eq!(ids(&rec, "/q"), vec![1, 2, 4, 5, 6], "flip at {at}");
        assert_eq!(rec.truncated_tail_bytes, 0);
        drop(_s);
        assert_eq!(rec.damage.len(), 1, "flip at {at}: {:?}", rec.damage);
        // Reported once: the compaction at open rewrote the journal. The report stays.
        let (_s, rec) = Store::open(copy.path(), opts()).unwrap();
        assert_eq!(rec.skipped_corrupt, 0);
        assert!(rec.damage.is_empty());
        assert!(copy.path().join("damage-report.txt").exists());
        assert_eq!(ids(&rec, "/q"), vec![1, 2, 4, 5, 6]);
    }
}

#[test]
fn flipped_byte_in_last_journal_record_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let offs = six_records(dir.path());
    let j = journal(dir.path());
    let mut data = fs::read(&j).unwrap();
    data[offs[5] as usize + 12] ^= 1;
    fs::write(&j, &data).unwrap();
    let (_s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(ids(&rec, "/q"), vec![1, 2, 3, 4, 5]);
    assert_eq!(rec.truncated_tail_bytes, offs[6] - offs[5]);
}

#[test]
fn flipped_byte_in_segment_fails_that_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = Store::open(dir.path(), opts()).unwrap();
    let q = s.queue_id("/q");
    let locs: Vec<Location> = (0..5)
        .map(|i| s.append(&[&msg(i, 100)], &[q]).unwrap().1)
        .collect();
    s.sync().unwrap();
    let seg = dir
        .path()
        .join(format!("segments/{:08}.seg", locs[2].segment));
    let mut data = fs::read(&seg).unwrap();
    data[locs[2].offset as usize + 8 + 37] ^= 0x10;
    fs::write(&seg, &data).unwrap();
    for (i, loc) in locs.iter().enumerate() {
        match s.read(*loc) {
            Ok(b) => {
                assert_ne!(i, 2);
                assert_eq!(&b[..], &msg(i, 100)[..]);
            }
            Err(StoreError::Corrupt { file, offset, .. }) => {
                assert_eq!(i, 2);
                assert_eq!(file, seg);
                assert_eq!(offset, locs[2].offset);
            }
            Err(e) => panic!("{e}"),
        }
    }
    drop(s);
    // Recovery reads only the index: the damaged message is still listed.
    let (_s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(rec.messages, 5);
}

#[test]
fn missing_or_cut_segment_of_confirmed_messages_is_damage_kept_until_restored() {
    let dir = tempfile::tempdir().unwrap();
    let (seg0, seg1);
    {
        let (s, _) = Store::open(dir.path(), small(300, 1 << 30)).unwrap();
        let q = s.queue_id("/q");
        seg0 = s.append(&[&msg(0, 200)], &[q]).unwrap().1.segment;
        seg1 = s.append(&[&msg(1, 200)], &[q]).unwrap().1.segment;
        s.append(&[&msg(2, 200)], &[q]).unwrap();
        s.sync().unwrap();
        // One more write-out, so that the marks of that sync reach the journal.
        s.append(&[&msg(3, 200)], &[q]).unwrap();
        s.sync().unwrap();
    }
    assert_ne!(seg0, seg1);
    let backup = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), backup.path());
    let p0 = dir.path().join(format!("segments/{seg0:08}.seg"));
    fs::remove_file(&p0).unwrap();
    // Cut the second message's body short: it was synced (and confirmed), so this is damage.
    let p1 = dir.path().join(format!("segments/{seg1:08}.seg"));
    let len = fs::metadata(&p1).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&p1)
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    let (s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(ids(&rec, "/q"), vec![3, 4]);
    assert_eq!(rec.missing_segment_records, 1);
    assert_eq!(rec.truncated_bodies, 1);
    assert_eq!(rec.lost_bodies, 0);
    assert_eq!(rec.damage.len(), 2, "{:?}", rec.damage);
    assert!(
        rec.damage[0].contains(&format!("{seg0:08}.seg")),
        "{:?}",
        rec.damage
    );
    let report = fs::read_to_string(dir.path().join("damage-report.txt")).unwrap();
    assert_eq!(report.lines().count(), 2, "{report}");
    assert!(p1.exists(), "a segment with damaged references stays");
    // The damaged references survive more work and a reopen (with its journal compaction).
    let q = s.queue_id("/q");
    s.ack(q, &[3]).unwrap();
    s.sync().unwrap();
    drop(s);
    let (s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(ids(&rec, "/q"), vec![4]);
    assert_eq!(rec.missing_segment_records, 1);
    assert_eq!(rec.truncated_bodies, 1);
    drop(s);
    // Restoring the files from the backup brings both messages back.
    fs::copy(backup.path().join(format!("segments/{seg0:08}.seg")), &p0).unwrap();
    fs::copy(backup.path().join(format!("segments/{seg1:08}.seg")), &p1).unwrap();
    let (s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(ids(&rec, "/q"), vec![1, 2, 4]);
    assert!(rec.damage.is_empty(), "{:?}", rec.damage);
    for m in rec.queues["/q"].iter() {
        assert_eq!(
            &s.read(m.loc).unwrap()[..],
            &msg(m.id as usize - 1, 200)[..]
        );
    }
    // A purge lets the damaged references go.
    drop(s);
    fs::remove_file(&p0).unwrap();
    let (s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(rec.missing_segment_records, 1);
    s.purge(s.queue_id("/q")).unwrap();
    s.sync().unwrap();
    drop(s);
    let (_s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert!(rec.queues.is_empty());
    assert!(rec.damage.is_empty(), "{:?}", rec.damage);
}

#[test]
fn unsynced_tail_is_dropped_as_unconfirmed() {
    let dir = tempfile::tempdir().unwrap();
    let seg;
    {
        let (s, _) = Store::open(dir.path(), opts()).unwrap();
        let q = s.queue_id("/q");
        s.append(&[&msg(0, 200)], &[q]).unwrap();
        s.sync().unwrap();
        s.append(&[&msg(1, 200)], &[q]).unwrap();
        // The journal reaches the disk, the body of message 2 does not (unsynced bytes may
        // reach it in any order), and the crash comes before any mark covers it.
        let (_, loc) = s.append(&[&msg(2, 200)], &[q]).unwrap();
        seg = loc.segment;
        s.sync().unwrap();
        std::mem::forget(s);
    }
    let p = dir.path().join(format!("segments/{seg:08}.seg"));
    let size = fs::metadata(&p).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(size - 1)
        .unwrap();
    let (_s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(ids(&rec, "/q"), vec![1, 2]);
    assert_eq!(rec.lost_bodies, 1);
    assert!(rec.damage.is_empty(), "{:?}", rec.damage);
    assert!(!dir.path().join("damage-report.txt").exists());
}

#[test]
fn a_lost_journal_keeps_the_segments() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (s, _) = Store::open(dir.path(), opts()).unwrap();
        let q = s.queue_id("/q");
        s.append(&[&msg(0, 200)], &[q]).unwrap();
        s.sync().unwrap();
    }
    for j in files(&dir.path().join("journal"), ".jnl") {
        fs::remove_file(j).unwrap();
    }
    let segs = files(&dir.path().join("segments"), ".seg");
    let (s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert!(rec.queues.is_empty());
    assert_eq!(rec.damage.len(), 1, "{:?}", rec.damage);
    assert!(!rec.kept_segments.is_empty());
    let scan = s.scan_segment(rec.kept_segments[0]).unwrap();
    assert_eq!(scan.records.len(), 1);
    assert_eq!(&scan.records[0].1[..], &msg(0, 200)[..]);
    assert_eq!(scan.damaged_bytes, 0);
    drop(s);
    // Kept at every open while the report is there; deleted once it is removed.
    let (s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert!(rec.damage.is_empty());
    for p in &segs {
        assert!(p.exists(), "{p:?}");
    }
    drop(s);
    fs::remove_file(dir.path().join("damage-report.txt")).unwrap();
    let (_s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert!(rec.kept_segments.is_empty());
    assert!(segs.iter().all(|p| !p.exists()));
}

fn segment_bytes(dir: &Path) -> u64 {
    files(&dir.join("segments"), ".seg")
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum()
}

/// A busy queue acked at once beside a slow one that keeps one message in 40 (a DLQ, a delay
/// queue): returns the slow queue's (id, body) and the largest segment bytes seen on disk,
/// compacting as the broker's syncer does when `compact`.
fn slow_beside_busy(dir: &Path, compact: bool) -> (Vec<(MsgId, Vec<u8>)>, u64, u64) {
    let (s, _) = Store::open(dir, small(64 * 1024, 1 << 30)).unwrap();
    let busy = s.queue_id("/busy");
    let slow = s.queue_id("/slow");
    let mut kept = Vec::new();
    let mut worst = 0u64;
    let mut worst_live = 0u64;
    for i in 0..8000usize {
        let body = msg(i, 1000);
        if i % 40 == 0 {
            let (m, _) = s.append(&[&body], &[slow]).unwrap();
            kept.push((m, body));
        } else {
            let (m, _) = s.append(&[&body], &[busy]).unwrap();
            s.ack(busy, &[m]).unwrap();
        }
        if i % 100 == 99 {
            s.sync().unwrap();
            if compact {
                while s.wants_compaction() {
                    let step = s.compact_segments(16 * 1024).unwrap();
                    assert!(step.moved > 0 || !s.wants_compaction());
                    if step.moved == 0 {
                        break;
                    }
                }
            }
            let live = kept.len() as u64 * 1008;
            let now = segment_bytes(dir);
            if now > worst {
                worst = now;
                worst_live = live;
            }
        }
    }
    drop(s);
    (kept, worst, worst_live)
}

#[test]
fn segment_compaction_keeps_disk_near_the_live_data() {
    let seg = 64 * 1024u64;
    // Without compaction every segment stays: the slow queue pins them all.
    let plain = tempfile::tempdir().unwrap();
    let (kept, worst, live) = slow_beside_busy(plain.path(), false);
    assert!(
        worst > 2 * live + 2 * seg,
        "the workload pins segments: {worst} bytes for {live} live"
    );
    assert_eq!(kept.len(), 200);
    eprintln!("without compaction: {worst} bytes on disk for {live} live");
    // With it, disk use stays under twice the live data plus two segments.
    let dir = tempfile::tempdir().unwrap();
    let (kept, worst, live) = slow_beside_busy(dir.path(), true);
    assert!(
        worst <= 2 * live + 2 * seg,
        "{worst} bytes on disk for {live} live bytes"
    );
    eprintln!("with compaction: {worst} bytes on disk for {live} live");
    // Every kept message reads back, in order, after a restart.
    let (s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert!(rec.damage.is_empty(), "{:?}", rec.damage);
    assert_eq!(rec.lost_bodies, 0);
    let got = &rec.queues["/slow"];
    assert_eq!(
        got.iter().map(|m| m.id).collect::<Vec<_>>(),
        kept.iter().map(|(m, _)| *m).collect::<Vec<_>>()
    );
    for (m, (id, body)) in got.iter().zip(&kept) {
        assert_eq!(&s.read(m.loc).unwrap()[..], &body[..], "message {id}");
        assert_eq!(&s.read_msg(*id).unwrap()[..], &body[..], "message {id}");
    }
    assert!(!rec.queues.contains_key("/busy"));
}

#[test]
fn a_compaction_cut_short_by_a_crash_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut kept = Vec::new();
    {
        let (s, _) = Store::open(dir.path(), small(8 * 1024, 1 << 30)).unwrap();
        let busy = s.queue_id("/busy");
        let slow = s.queue_id("/slow");
        for i in 0..400usize {
            let body = msg(i, 500);
            if i % 20 == 0 {
                kept.push((s.append(&[&body], &[slow, busy]).unwrap().0, body));
            } else {
                let (m, _) = s.append(&[&body], &[busy]).unwrap();
                s.ack(busy, &[m]).unwrap();
            }
        }
        s.sync().unwrap();
        for (m, _) in &kept {
            s.ack(busy, &[*m]).unwrap();
        }
        s.sync().unwrap();
        assert!(s.wants_compaction());
        // The moves reach the journal on disk, the moved records do not, and the crash comes.
        let step = s.compact_without_sync(1 << 20).unwrap();
        assert_eq!(step.moved, kept.len());
        s.write_out_journal_only();
        std::mem::forget(s);
    }
    let (s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert!(rec.damage.is_empty(), "{:?}", rec.damage);
    assert_eq!(rec.lost_bodies, 0);
    let got = &rec.queues["/slow"];
    assert_eq!(got.len(), kept.len());
    for (m, (id, body)) in got.iter().zip(&kept) {
        assert_eq!(m.id, *id);
        assert_eq!(&s.read(m.loc).unwrap()[..], &body[..], "message {id}");
    }
}

#[test]
fn reads_follow_a_record_that_compaction_moves() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = Store::open(dir.path(), small(8 * 1024, 1 << 30)).unwrap();
    let s = Arc::new(s);
    let busy = s.queue_id("/busy");
    let slow = s.queue_id("/slow");
    let mut kept = Vec::new();
    for i in 0..2000usize {
        let body = msg(i, 300);
        if i % 25 == 0 {
            kept.push((s.append(&[&body], &[slow]).unwrap().0, body));
        } else {
            let (m, _) = s.append(&[&body], &[busy]).unwrap();
            s.ack(busy, &[m]).unwrap();
        }
    }
    s.sync().unwrap();
    let reader = {
        let (s, kept) = (s.clone(), kept.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            for _ in 0..20 {
                for (id, body) in &kept {
                    assert_eq!(&s.read_msg(*id).unwrap()[..], &body[..], "message {id}");
                    reads += 1;
                }
            }
            reads
        })
    };
    let mut moved = 0;
    while s.wants_compaction() {
        let step = s.compact_segments(4 * 1024).unwrap();
        if step.moved == 0 {
            break;
        }
        moved += step.moved;
    }
    assert!(moved > 0);
    assert_eq!(reader.join().unwrap(), 20 * kept.len());
}

#[test]
fn concurrent_reads_while_appending() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = Store::open(dir.path(), small(64 * 1024, 1 << 20)).unwrap();
    let s = Arc::new(s);
    let q = s.queue_id("/q");
    let (tx, rx) = std::sync::mpsc::channel::<(Location, usize)>();
    let reader = {
        let s = s.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            for (loc, i) in rx {
                let b = s.read(loc).expect("read");
                assert_eq!(&b[..], &msg(i, 700)[..]);
                n += 1;
            }
            n
        })
    };
    for i in 0..2000 {
        let (_, loc) = s.append(&[&msg(i, 700)], &[q]).unwrap();
        tx.send((loc, i)).unwrap();
        if i % 100 == 0 {
            s.sync().unwrap();
        }
    }
    drop(tx);
    assert_eq!(reader.join().unwrap(), 2000);
}

#[test]
fn crash_without_sync_keeps_what_was_synced() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (s, _) = Store::open(dir.path(), opts()).unwrap();
        let q = s.queue_id("/q");
        s.append(&[b"one"], &[q]).unwrap();
        s.sync().unwrap();
        s.append(&[b"two"], &[q]).unwrap();
        // A crash: the write buffers are lost, nothing is synced.
        std::mem::forget(s);
    }
    let (s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(ids(&rec, "/q"), vec![1]);
    let q = s.queue_id("/q");
    let (m, _) = s.append(&[b"three"], &[q]).unwrap();
    assert_eq!(m, 2);
}

// ---------------------------------------------------------------------------------------------
// Model-based property test.

#[derive(Debug, Clone)]
enum Op {
    /// Append to the queues in the bit mask (of 4), with a body of `size` bytes.
    Append(u8, usize),
    /// Ack the `n`-th live message of queue `q` (modulo).
    Ack(u8, usize),
    Purge(u8),
    Delete(u8),
    Sync,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (1u8..16, 0usize..600).prop_map(|(m, s)| Op::Append(m, s)),
        6 => (0u8..4, 0usize..64).prop_map(|(q, n)| Op::Ack(q, n)),
        1 => (0u8..4).prop_map(Op::Purge),
        1 => (0u8..4).prop_map(Op::Delete),
        2 => Just(Op::Sync),
        1 => Just(Op::Reopen),
    ]
}

fn check_recovered(
    s: &Store,
    rec: &Recovered,
    model: &BTreeMap<String, BTreeMap<MsgId, Vec<u8>>>,
    bodies: &mut HashMap<MsgId, Location>,
    metas: &HashMap<MsgId, (Meta, u64)>,
) -> Result<(), TestCaseError> {
    let got: BTreeMap<String, Vec<MsgId>> = rec
        .queues
        .iter()
        .map(|(k, v)| (k.clone(), v.iter().map(|m| m.id).collect()))
        .collect();
    let want: BTreeMap<String, Vec<MsgId>> = model
        .iter()
        .filter(|(_, m)| !m.is_empty())
        .map(|(k, m)| (k.clone(), m.keys().copied().collect()))
        .collect();
    prop_assert_eq!(&got, &want);
    prop_assert_eq!(rec.skipped_corrupt, 0);
    prop_assert_eq!(rec.truncated_tail_bytes, 0);
    bodies.clear();
    for (q, v) in &rec.queues {
        for m in v {
            let body = s
                .read(m.loc)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&body[..], &model[q][&m.id][..]);
            bodies.insert(m.id, m.loc);
            let (meta, at) = metas[&m.id];
            prop_assert_eq!(m.meta, meta);
            // The publish time is known to a tick, never later than it was.
            let p = rec.published_at(m.id);
            prop_assert!(
                p.is_some_and(|p| p <= at && at - p < CLOCK_TICK_MS),
                "message {} published at {} recovered as {:?}",
                m.id,
                at,
                p
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn model_matches_after_reopen(ops in proptest::collection::vec(op(), 1..120)) {
        let dir = tempfile::tempdir().unwrap();
        let o = small(2048, 2048);
        let names = ["v/a", "v/b", "v/c", "v/d"];
        let (mut s, _) = Store::open(dir.path(), o.clone()).unwrap();
        let mut model: BTreeMap<String, BTreeMap<MsgId, Vec<u8>>> = BTreeMap::new();
        let mut bodies = HashMap::new();
        let mut metas = HashMap::new();
        let mut n = 0usize;
        for op in ops.into_iter().chain([Op::Reopen]) {
            match op {
                Op::Append(mask, size) => {
                    let qs: Vec<u32> = (0..4)
                        .filter(|i| mask & (1 << i) != 0)
                        .map(|i| s.queue_id(names[i]))
                        .collect();
                    n += 1;
                    let body = msg(n, size);
                    // Some messages with a priority and an expiry; time moves on by 30 ms a
                    // message, and now and then the wall clock steps back.
                    let meta = if n.is_multiple_of(3) { Meta::NONE } else { Meta::new(n as u8, 1 << 40 | n as u64) };
                    let at = 1_000_000 + 30 * n as u64 - if n.is_multiple_of(11) { 1000 } else { 0 };
                    let parts = [&body[..size / 2], &body[size / 2..]];
                    let (id, loc) = s.append_at(&parts, &qs, meta, at).unwrap();
                    metas.insert(id, (meta, at));
                    for (i, name) in names.iter().enumerate() {
                        if mask & (1 << i) != 0 {
                            model.entry(name.to_string()).or_default().insert(id, body.clone());
                        }
                    }
                    bodies.insert(id, loc);
                }
                Op::Ack(q, k) => {
                    let name = names[q as usize];
                    let live = model.entry(name.to_string()).or_default();
                    if let Some(&id) = live.keys().nth(k % live.len().max(1)) {
                        live.remove(&id);
                        s.ack(s.queue_id(name), &[id]).unwrap();
                    }
                }
                Op::Purge(q) => {
                    let name = names[q as usize];
                    model.remove(name);
                    s.purge(s.queue_id(name)).unwrap();
                }
                Op::Delete(q) => {
                    let name = names[q as usize];
                    model.remove(name);
                    s.delete_queue(s.queue_id(name)).unwrap();
                }
                Op::Sync => s.sync().unwrap(),
                Op::Reopen => {
                    drop(s);
                    let (s2, rec) = Store::open(dir.path(), o.clone()).unwrap();
                    s = s2;
                    check_recovered(&s, &rec, &model, &mut bodies, &metas)?;
                }
            }
            // Every live message can be read at any time.
            for m in model.values() {
                for (id, body) in m {
                    let got = s.read(bodies[id]).unwrap();
                    prop_assert_eq!(&got[..], &body[..]);
                }
            }
        }
        // Nothing live: only the current segment is left.
        let ids: Vec<(String, Vec<MsgId>)> = model
            .iter()
            .map(|(k, m)| (k.clone(), m.keys().copied().collect()))
            .collect();
        for (name, ms) in ids {
            s.ack(s.queue_id(&name), &ms).unwrap();
        }
        s.sync().unwrap();
        prop_assert_eq!(s.live_messages(), 0);
        prop_assert_eq!(files(&dir.path().join("segments"), ".seg").len(), 1);
    }
}

#[test]
fn meta_and_publish_times_survive_reopen_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    // A 1 KiB compaction threshold: the journal is compacted many times along the way.
    let o = small(1 << 20, 1024);
    let (s, _) = Store::open(dir.path(), o.clone()).unwrap();
    let q = s.queue_id("/q");
    let r = s.queue_id("/r");
    let t0 = 1_700_000_000_000u64;
    // (offset from t0, meta): one tick holds the first three; the clock steps back once.
    let plan = [
        (0, Meta::new(9, t0 + 5000)),
        (50, Meta::NONE),
        (CLOCK_TICK_MS - 1, Meta::new(3, 0)),
        (CLOCK_TICK_MS, Meta::new(0, t0 + 1)),
        (5000, Meta::new(255, u64::MAX)),
        (4000, Meta::NONE),
    ];
    let mut ids = Vec::new();
    for (i, (dt, meta)) in plan.iter().enumerate() {
        let queues: &[u32] = if i == 1 { &[q, r] } else { &[q] };
        ids.push(s.append_at(&[b"m"], queues, *meta, t0 + dt).unwrap().0);
        s.sync().unwrap();
    }
    // Plenty of traffic after them, acked, so that compactions drop it all again.
    for i in 0..200u64 {
        let (m, _) = s
            .append_at(&[b"x"], &[r], Meta::NONE, t0 + 10_000 + 7 * i)
            .unwrap();
        s.ack(r, &[m]).unwrap();
        s.sync().unwrap();
    }
    drop(s);
    let want_times = [t0, t0, t0, t0 + CLOCK_TICK_MS, t0 + 5000, t0 + 4000];
    for round in 0..2 {
        let (s, rec) = Store::open(dir.path(), o.clone()).unwrap();
        let got = &rec.queues["/q"];
        assert_eq!(got.len(), plan.len(), "round {round}");
        for (i, m) in got.iter().enumerate() {
            assert_eq!(m.id, ids[i]);
            assert_eq!(m.meta, plan[i].1, "round {round}, message {i}");
            assert_eq!(
                rec.published_at(m.id),
                Some(want_times[i]),
                "round {round}, message {i}"
            );
        }
        assert_eq!(rec.queues["/r"].len(), 1);
        assert_eq!(rec.queues["/r"][0].meta, Meta::NONE);
        // Only the entries live messages need are kept, and the latest (for what comes next):
        // not the ~14 ticks of acked traffic in between.
        assert_eq!(rec.clock.len(), 5, "{:?}", rec.clock);
        assert_eq!(plan[4].1.expires_at(), (1 << 56) - 1, "capped, not wrapped");
        drop(s);
    }
}

#[test]
fn a_journal_from_before_meta_and_clock_records_is_read() {
    // The files as a build from before `PublishMeta` and `Clock` wrote them: plain Publish records.
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("segments")).unwrap();
    fs::create_dir_all(dir.path().join("journal")).unwrap();
    let mut seg = Vec::new();
    let mut jnl = Vec::new();
    crate::codec::put_queue_name(&mut jnl, 0, "/old");
    let mut locs = Vec::new();
    for (i, body) in [b"first", b"other"].iter().enumerate() {
        let loc = Location {
            segment: 0,
            offset: seg.len() as u64,
            len: body.len() as u32,
        };
        crate::codec::put_gathered(&mut seg, &[&body[..]], body.len() as u32);
        crate::codec::put_publish(&mut jnl, i as u64 + 1, loc, Meta::NONE, &[0]);
        locs.push(loc);
    }
    assert_eq!(
        jnl[8 + 13 + 8],
        crate::codec::T_PUBLISH,
        "the old record type"
    );
    fs::write(dir.path().join("segments/00000000.seg"), &seg).unwrap();
    fs::write(dir.path().join("journal/00000000.jnl"), &jnl).unwrap();
    let (s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(rec.skipped_corrupt, 0);
    assert_eq!(ids(&rec, "/old"), vec![1, 2]);
    for m in &rec.queues["/old"] {
        assert_eq!(m.meta, Meta::NONE);
        assert_eq!(rec.published_at(m.id), None, "no publish time was kept");
    }
    assert_eq!(&s.read(locs[1]).unwrap()[..], b"other");
    // New messages get one, and the old ones still have none after the rewrite.
    let q = s.queue_id("/old");
    let (m, _) = s
        .append_at(&[b"new"], &[q], Meta::new(4, 99), 1_000)
        .unwrap();
    drop(s);
    let (_s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(ids(&rec, "/old"), vec![1, 2, m]);
    assert_eq!(rec.published_at(2), None);
    assert_eq!(rec.published_at(m), Some(1_000));
    assert_eq!(rec.queues["/old"][2].meta, Meta::new(4, 99));
}

#[test]
fn read_msg_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = Store::open(dir.path(), small(4096, 1 << 30)).unwrap();
    let a = s.queue_id("/a");
    let b = s.queue_id("/b");
    let (m1, l1) = s.append(&[b"one"], &[a]).unwrap();
    let (m2, l2) = s.append(&[b"two ", b"queues"], &[a, b]).unwrap();
    // Still in the write buffer.
    assert_eq!(&s.read_msg(m1).unwrap()[..], b"one");
    assert_eq!(s.location(m1), Some(l1));
    assert_eq!(s.location(m2), Some(l2));
    s.sync().unwrap();
    assert_eq!(&s.read_msg(m2).unwrap()[..], b"two queues");
    s.ack(a, &[m1, m2]).unwrap();
    assert!(matches!(s.read_msg(m1), Err(StoreError::UnknownMessage(id)) if id == m1));
    assert_eq!(s.location(m1), None);
    // Still held by /b.
    assert_eq!(&s.read_msg(m2).unwrap()[..], b"two queues");
    s.ack(b, &[m2]).unwrap();
    assert!(matches!(s.read_msg(m2), Err(StoreError::UnknownMessage(_))));
    assert!(matches!(
        s.read_msg(12345),
        Err(StoreError::UnknownMessage(12345))
    ));
    // Many messages across segments, some acked out of order, then after a reopen.
    let bodies: Vec<Vec<u8>> = (0..50).map(|i| msg(i, 300)).collect();
    let ids: Vec<MsgId> = bodies
        .iter()
        .map(|body| s.append(&[body], &[a]).unwrap().0)
        .collect();
    let acked: Vec<MsgId> = ids.iter().copied().filter(|id| id % 3 == 0).collect();
    s.ack(a, &acked).unwrap();
    s.sync().unwrap();
    let check = |s: &Store| {
        for (id, body) in ids.iter().zip(&bodies) {
            match s.read_msg(*id) {
                Ok(got) => {
                    assert!(id % 3 != 0);
                    assert_eq!(&got[..], &body[..]);
                }
                Err(StoreError::UnknownMessage(_)) => assert!(id % 3 == 0),
                Err(e) => panic!("{e}"),
            }
        }
    };
    check(&s);
    drop(s);
    let (s, rec) = Store::open(dir.path(), small(4096, 1 << 30)).unwrap();
    assert_eq!(rec.messages, ids.len() - acked.len());
    check(&s);
}

#[test]
fn out_of_order_acks_leave_holes_then_reclaim() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = Store::open(dir.path(), small(2000, 1 << 30)).unwrap();
    let q = s.queue_id("/q");
    let ids: Vec<MsgId> = (0..40)
        .map(|i| s.append(&[&msg(i, 100)], &[q]).unwrap().0)
        .collect();
    s.sync().unwrap();
    let segs = files(&dir.path().join("segments"), ".seg").len();
    assert!(segs >= 3, "{segs}");
    // Ack the odd ones (holes), then the even ones from the back.
    let odd: Vec<MsgId> = ids.iter().copied().skip(1).step_by(2).collect();
    s.ack(q, &odd).unwrap();
    assert_eq!(s.live_messages(), 20);
    for id in ids.iter().step_by(2).rev().skip(1) {
        s.ack(q, &[*id]).unwrap();
        assert_eq!(
            s.read_msg(*id).unwrap_err().to_string(),
            format!("unknown message id {id}")
        );
    }
    assert_eq!(s.live_messages(), 1);
    let last = ids[38];
    assert_eq!(&s.read_msg(last).unwrap()[..], &msg(38, 100)[..]);
    // Only the segments holding the last one (and the one being written) are left.
    s.sync().unwrap();
    assert!(files(&dir.path().join("segments"), ".seg").len() <= 2);
    s.ack(q, &[last]).unwrap();
    assert_eq!(s.live_messages(), 0);
    s.sync().unwrap();
    drop(s);
    let (s, rec) = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(rec.messages, 0);
    let (m, _) = s.append(&[b"after"], &[q]).unwrap();
    assert!(m > last);
    assert_eq!(&s.read_msg(m).unwrap()[..], b"after");
}

#[test]
fn scanning_a_segment_skips_a_damaged_record_only() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = Store::open(dir.path(), opts()).unwrap();
    let q = s.queue_id("/q");
    let locs: Vec<Location> = (0..3)
        .map(|i| s.append(&[&msg(i, 100)], &[q]).unwrap().1)
        .collect();
    s.sync().unwrap();
    let p = dir
        .path()
        .join(format!("segments/{:08}.seg", locs[1].segment));
    let mut data = fs::read(&p).unwrap();
    data[locs[1].offset as usize + 20] ^= 0xff;
    fs::write(&p, &data).unwrap();
    let scan = s.scan_segment(locs[1].segment).unwrap();
    let got: Vec<(Location, Vec<u8>)> =
        scan.records.iter().map(|(l, b)| (*l, b.to_vec())).collect();
    assert_eq!(got, vec![(locs[0], msg(0, 100)), (locs[2], msg(2, 100))]);
    assert_eq!(scan.damaged_bytes, 108);
    // Referenced (and current): never removed by remove_unreferenced_segment.
    assert!(!s.remove_unreferenced_segment(locs[0].segment).unwrap());
}
