//! Library API behaviour: limits, reuse, and robustness (never panics).

use mips::{assemble, ExitStatus, Limits};

fn run(src: &str, input: &[u8], limits: Limits) -> mips::RunOutcome {
    assemble(src, "t.s")
        .unwrap_or_else(|e| panic!("{e:?}"))
        .run(input, limits)
}

#[test]
fn a_program_can_be_run_many_times_from_the_same_state() {
    let p = assemble(
        ".data\nx: .word 0\n.text\nmain: lw $t0, x\n addi $t0, $t0, 1\n sw $t0, x\n li $v0, 5\n syscall\n add $a0, $v0, $t0\n li $v0, 1\n syscall\n li $v0, 10\n syscall\n",
        "t.s",
    )
    .unwrap();
    let a = p.run(b"10\n", Limits::default());
    let b = p.run(b"10\n", Limits::default());
    assert_eq!(a, b);
    assert_eq!(a.stdout, b"11");
    assert_eq!(p.run(b"20", Limits::default()).stdout, b"21");
}

#[test]
fn sbrk_beyond_the_memory_limit_is_a_runtime_error() {
    let src = "main: li $a0, 0x100000\nloop: li $v0, 9\n syscall\n j loop\n";
    let limits = Limits {
        memory_bytes: 4 << 20,
        ..Limits::default()
    };
    let out = run(src, b"", limits);
    match out.status {
        ExitStatus::RuntimeError { line, message, .. } => {
            assert_eq!(line, 3);
            assert!(message.contains("memory limit"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(out.stderr.starts_with("t.s:3: runtime error: memory limit"));
}

#[test]
fn runaway_recursion_hits_the_memory_limit_not_a_panic() {
    let src =
        "main: jal f\n li $v0, 10\n syscall\nf: addi $sp, $sp, -64\n sw $ra, 0($sp)\n jal f\n";
    let limits = Limits {
        memory_bytes: 2 << 20,
        max_steps: 100_000_000,
        ..Limits::default()
    };
    let out = run(src, b"", limits);
    match out.status {
        ExitStatus::RuntimeError { line, message, .. } => {
            assert_eq!(line, 5);
            assert!(message.contains("memory limit"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stack_grows_on_demand_like_spim() {
    let src = "main: li $t0, 77\n sw $t0, -1000000($sp)\n lw $a0, -1000000($sp)\n li $v0, 1\n syscall\n li $v0, 10\n syscall\n";
    let out = run(src, b"", Limits::default());
    assert_eq!(out.status, ExitStatus::Exited(0));
    assert_eq!(out.stdout, b"77");
}

#[test]
fn output_is_capped() {
    let src = "main: li $v0, 11\n li $a0, 'x'\nloop: syscall\n j loop\n";
    let limits = Limits {
        max_output_bytes: 1000,
        ..Limits::default()
    };
    let out = run(src, b"", limits);
    assert!(matches!(
        out.status,
        ExitStatus::RuntimeError { line: 3, .. }
    ));
    assert!(out.stdout.len() <= 1001);
    assert!(out.stderr.contains("output limit"));
}

#[test]
fn step_limit_counts_instructions() {
    // 9 startup words run before main, then main loops forever.
    let src = "main: addiu $t0, $t0, 1\n j main\n";
    let limits = Limits {
        max_steps: 1009,
        ..Limits::default()
    };
    let out = run(src, b"", limits);
    assert_eq!(out.steps, 1009);
    assert!(matches!(out.status, ExitStatus::StepLimit { .. }));
    assert_eq!(out.process_exit_code(), 4);
}

#[test]
fn exit_codes() {
    let out = run(
        "main: li $v0, 17\n li $a0, 300\n syscall\n",
        b"",
        Limits::default(),
    );
    assert_eq!(out.status, ExitStatus::Exited(300));
    assert_eq!(out.process_exit_code(), 300 & 0xff);
    let out = run("main: li $v0, 10\n syscall\n", b"", Limits::default());
    assert_eq!(out.process_exit_code(), 0);
    assert!(out.stderr.is_empty());
}

#[test]
fn unsupported_features_are_assembly_errors() {
    for src in [
        "main: add.s $f0, $f1, $f2\n",
        "  .ktext\nmain: nop\n",
        "  .data\nx: .float 1.5\n  .text\nmain: nop\n",
        "  .text\nfoo: nop\n",
        "main: andi $t0, $t0, -1\n",
        "main: sll $t0, $t0, 32\n",
        "main: li $t0, 0x100000000\n",
        "main: div $t0, $t1, 0\n",
        "main: lw $t0, 0($t9\n",
        "b: nop\nmain: nop\n",
    ] {
        let errs = assemble(src, "u.s").expect_err(src);
        assert!(!errs.is_empty());
        assert!(errs[0].to_string().starts_with("u.s:"), "{}", errs[0]);
    }
}

/// A tiny deterministic PRNG for the robustness test.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

#[test]
fn random_programs_never_panic() {
    let mnemonics = [
        "add", "addu", "addi", "sub", "and", "or", "xori", "sll", "srav", "mult", "div", "divu",
        "rem", "mfhi", "mflo", "lw", "sw", "lb", "sh", "lhu", "ulw", "usw", "lwl", "swr", "beq",
        "bne", "blt", "bgeu", "j", "jal", "jr", "jalr", "li", "la", "move", "mul", "mulo", "neg",
        "abs", "seq", "sle", "rol", "ror", "syscall", "break", "nop", "teq", "sbrk", "b", ".word",
        ".byte", ".space", ".asciiz", ".align", ".data", ".text", "clz", "movn",
    ];
    let operands = [
        "$t0",
        "$t1",
        "$zero",
        "$sp",
        "$ra",
        "$v0",
        "$a0",
        "$a1",
        "0",
        "1",
        "-1",
        "4",
        "7",
        "0x7fffffff",
        "-32768",
        "65535",
        "100000",
        "L1",
        "L2",
        "main",
        "4($sp)",
        "-3($t0)",
        "L1($t1)",
        "\"s\\n\"",
        "'c'",
        "($a0)",
        "0x10010000",
        "L1+4",
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let limits = Limits {
        max_steps: 2_000,
        memory_bytes: 1 << 20,
        max_output_bytes: 4096,
    };
    let mut ran = 0;
    for _ in 0..3000 {
        let mut src = String::from("main:\n");
        let n = 1 + rng.next() % 12;
        for i in 0..n {
            if i == 3 {
                src.push_str("L1: ");
            }
            if i == 7 {
                src.push_str("L2: ");
            }
            src.push_str(rng.pick(&mnemonics));
            let k = rng.next() % 4;
            for j in 0..k {
                src.push_str(if j == 0 { " " } else { ", " });
                src.push_str(rng.pick(&operands));
            }
            src.push('\n');
        }
        if let Ok(p) = assemble(&src, "r.s") {
            let input: Vec<u8> = (0..(rng.next() % 20)).map(|_| rng.next() as u8).collect();
            let out = p.run(&input, limits);
            assert!(out.steps <= limits.max_steps);
            ran += 1;
        }
    }
    assert!(ran > 5, "only {ran} random programs assembled");
    // Well-formed random programs: they assemble, and run into every kind of fault.
    let templates = [
        "addu R, R, R",
        "add R, R, R",
        "add R, R, I",
        "addi R, R, 32767",
        "sub R, R, R",
        "mult R, R",
        "div R, R",
        "div R, R, R",
        "rem R, R, R",
        "mfhi R",
        "mflo R",
        "sll R, R, 3",
        "srav R, R, R",
        "lw R, I(R)",
        "sw R, I(R)",
        "lb R, I(R)",
        "sb R, I(R)",
        "lh R, I(R)",
        "sh R, I(R)",
        "ulw R, I(R)",
        "usw R, I(R)",
        "li R, I",
        "li $v0, S",
        "syscall",
        "beq R, R, L1",
        "bne R, R, L2",
        "blt R, I, L1",
        "jr R",
        "jalr R",
        "j L2",
        "la R, L1",
        "move R, R",
        "mulo R, R, R",
        "abs R, R",
        "rol R, R, R",
        "sltu R, R, R",
        "teq R, R",
        "lwl R, I(R)",
    ];
    let regs = ["$t0", "$t1", "$a0", "$a1", "$v0", "$sp", "$zero", "$ra"];
    let imms = [
        "0",
        "1",
        "-1",
        "4",
        "8",
        "-4",
        "100",
        "32767",
        "-32768",
        "2147483647",
    ];
    let syscalls = [
        "1", "4", "5", "8", "9", "11", "12", "17", "34", "35", "36", "99", "13",
    ];
    let mut kinds = std::collections::HashSet::new();
    for _ in 0..3000 {
        let mut src = String::from("main:\n");
        let n = 2 + rng.next() % 20;
        for i in 0..n {
            if i == n / 3 {
                src.push_str("L1: ");
            }
            if i == 2 * n / 3 {
                src.push_str("L2: ");
            }
            let mut line = String::new();
            for c in rng.pick(&templates).chars() {
                match c {
                    'R' => line.push_str(rng.pick(&regs)),
                    'I' => line.push_str(rng.pick(&imms)),
                    'S' => line.push_str(rng.pick(&syscalls)),
                    c => line.push(c),
                }
            }
            src.push_str(&line);
            src.push('\n');
        }
        let p = assemble(&src, "w.s").unwrap_or_else(|e| panic!("{src}\n{e:?}"));
        let input: Vec<u8> = (0..(rng.next() % 40)).map(|_| rng.next() as u8).collect();
        let out = p.run(&input, limits);
        assert!(out.steps <= limits.max_steps);
        kinds.insert(match out.status {
            ExitStatus::Exited(_) => "exited".to_string(),
            ExitStatus::StepLimit { .. } => "steps".to_string(),
            ExitStatus::RuntimeError { message, .. } => message
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" "),
        });
    }
    assert!(kinds.len() >= 6, "{kinds:?}");
    // Arbitrary bytes as source.
    for _ in 0..500 {
        let bytes: Vec<u8> = (0..(rng.next() % 200)).map(|_| rng.next() as u8).collect();
        let _ = assemble(&String::from_utf8_lossy(&bytes), "b.s");
    }
}
