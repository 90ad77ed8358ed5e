//! Topic matcher throughput with many bindings (issue 2: "stays fast with 100k bindings").
//!
//! `cargo bench -p warren-core --bench topic`

use divan::Bencher;
use warren_core::topic::TopicTrie;

fn main() {
    divan::main();
}

/// 100k bindings: mostly literal three-word keys, plus wildcard patterns on every tenth.
fn trie(n: u32) -> TopicTrie<u32> {
    let mut t = TopicTrie::new();
    for i in 0..n {
        let p = match i % 10 {
            0 => format!("region{}.*.orders", i % 1000),
            1 => format!("region{}.#", i % 1000),
            _ => format!("region{}.store{}.orders", i % 1000, i),
        };
        t.insert(&p, i);
    }
    t
}

#[divan::bench(args = [1_000, 100_000])]
fn match_literal_key(bencher: Bencher, n: u32) {
    let t = trie(n);
    let keys: Vec<String> = (0..1024u32)
        .map(|i| format!("region{}.store{}.orders", i % 1000, (i * 7919) % n))
        .collect();
    let mut i = 0usize;
    bencher.bench_local(|| {
        let mut hits = 0u32;
        t.for_each_match(&keys[i % keys.len()], &mut |_| hits += 1);
        i += 1;
        hits
    });
}

#[divan::bench(args = [1_000, 100_000])]
fn match_missing_key(bencher: Bencher, n: u32) {
    let t = trie(n);
    bencher.bench_local(|| {
        let mut hits = 0u32;
        t.for_each_match("nowhere.at.all", &mut |_| hits += 1);
        hits
    });
}
