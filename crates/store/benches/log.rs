//! Store throughput: append 1 KiB records with a group commit (sync) every 1000, and read back.
//!
//! `cargo bench -p warren-store --bench log`. The store lives in a temporary directory (set
//! `TMPDIR` to measure a particular disk); `fsync = true` is what the broker runs with.

use divan::counter::{BytesCount, ItemsCount};
use divan::{black_box, Bencher};
use warren_store::{Location, Store, StoreOptions};

fn main() {
    divan::main();
}

const BATCH: usize = 1000;
const SIZE: usize = 1024;

fn open(fsync: bool) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, _) = Store::open(
        dir.path(),
        StoreOptions {
            fsync,
            ..StoreOptions::default()
        },
    )
    .expect("open");
    (dir, s)
}

/// 1000 appends of 1 KiB then one sync; the messages are acked (untimed) so the disk use stays
/// flat and segment deletion is part of the steady state.
#[divan::bench(args = [false, true], sample_count = 40, sample_size = 1)]
fn append_1k_sync_every_1000(bencher: Bencher, fsync: bool) {
    let (_dir, s) = open(fsync);
    let q = s.queue_id("/bench");
    let body = vec![7u8; SIZE];
    let mut ids = Vec::with_capacity(BATCH);
    bencher
        .counter(ItemsCount::new(BATCH))
        .counter(BytesCount::new(BATCH * SIZE))
        .with_inputs(|| {
            s.ack(q, &ids).expect("ack");
            ids.clear();
        })
        .bench_local_refs(|()| {
            let mut last = 0;
            for _ in 0..BATCH {
                last = s
                    .append(&[&body[..64], &body[64..]], &[q])
                    .expect("append")
                    .0;
            }
            s.sync().expect("sync");
            black_box(last)
        });
    drop(ids);
}

/// Reads of 1 KiB records already written (and synced), in publish order.
#[divan::bench(args = [false, true], sample_count = 100, sample_size = 1000)]
fn read_1k(bencher: Bencher, fsync: bool) {
    let (_dir, s) = open(fsync);
    let q = s.queue_id("/bench");
    let body = vec![7u8; SIZE];
    let locs: Vec<Location> = (0..10_000)
        .map(|_| s.append(&[&body], &[q]).expect("append").1)
        .collect();
    s.sync().expect("sync");
    let mut i = 0usize;
    bencher
        .counter(ItemsCount::new(1usize))
        .counter(BytesCount::new(SIZE))
        .bench_local(|| {
            i = (i + 1) % locs.len();
            black_box(s.read(locs[i]).expect("read"))
        });
}

/// The broker's steady state without the disk: 1000 appends of 1 KiB, each acked 100 messages
/// later, then one (fsync-free) sync: index, reference counts and segment roll-over and
/// deletion, per message.
#[divan::bench(sample_count = 60, sample_size = 1)]
fn append_ack_1k_sync_every_1000(bencher: Bencher) {
    let (_dir, s) = open(false);
    let q = s.queue_id("/bench");
    let body = vec![7u8; SIZE];
    let mut window = std::collections::VecDeque::with_capacity(128);
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        for _ in 0..BATCH {
            let id = s
                .append(&[&body[..64], &body[64..]], &[q])
                .expect("append")
                .0;
            window.push_back(id);
            if window.len() > 100 {
                let old = window.pop_front().expect("non-empty");
                s.ack(q, &[old]).expect("ack");
            }
        }
        s.sync().expect("sync");
    });
}
