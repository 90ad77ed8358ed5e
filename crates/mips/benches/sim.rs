//! Simulator throughput. Run with `cargo bench -p mips --bench sim`.
//!
//! `tight_loop` executes a counted loop of simple instructions (addiu/addu/xor/bne);
//! divan reports the time per run, and with `ITEMS` the instructions per second.

use divan::counter::ItemsCount;
use divan::Bencher;
use mips::{assemble, Limits};

fn main() {
    divan::main();
}

/// Steps executed by `tight_loop_program(n)` (n > 0xffff): 6 startup words up to
/// `jal main`, 3 setup (`li` of a large value is 2 words), 4 per iteration, 2 to exit.
fn steps(n: u64) -> u64 {
    6 + 3 + 4 * n + 2
}

fn tight_loop_program(n: u64) -> String {
    format!(
        "main:   li    $t0, {n}\n\
                 li    $t1, 0\n\
         loop:   addiu $t1, $t1, 3\n\
                 xor   $t2, $t1, $t0\n\
                 addiu $t0, $t0, -1\n\
                 bne   $t0, $zero, loop\n\
                 li    $v0, 10\n\
                 syscall\n"
    )
}

#[divan::bench]
fn tight_loop(bencher: Bencher) {
    const N: u64 = 5_000_000;
    let program = assemble(&tight_loop_program(N), "bench.s").unwrap();
    let limits = Limits {
        max_steps: u64::MAX,
        ..Limits::default()
    };
    bencher.counter(ItemsCount::new(steps(N))).bench(|| {
        let out = program.run(b"", limits);
        assert_eq!(out.steps, steps(N));
        out
    });
}

#[divan::bench]
fn memory_loop(bencher: Bencher) {
    // Sum an array with lw/sw traffic: 7 instructions per element.
    const N: u64 = 1_000_000;
    let src = format!(
        ".data\narr: .space 4096\n.text\n\
         main:  li   $t0, {N}\n\
                la   $t3, arr\n\
         loop:  andi $t1, $t0, 1020\n\
                addu $t1, $t1, $t3\n\
                lw   $t2, 0($t1)\n\
                addu $t2, $t2, $t0\n\
                sw   $t2, 0($t1)\n\
                addiu $t0, $t0, -1\n\
                bne  $t0, $zero, loop\n\
                li   $v0, 10\n\
                syscall\n"
    );
    let program = assemble(&src, "bench.s").unwrap();
    let limits = Limits {
        max_steps: u64::MAX,
        ..Limits::default()
    };
    bencher
        .counter(ItemsCount::new(6 + 3 + 7 * N + 2))
        .bench(|| program.run(b"", limits));
}

#[divan::bench]
fn assemble_times10(bencher: Bencher) {
    let src = include_str!("../tests/cases/times10_positive.s");
    bencher.bench(|| assemble(divan::black_box(src), "times10.s").unwrap());
}
