//! End-to-end tests of `grader run`: output, exit status and standard error format.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn write_program(name: &str, source: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("grader-run-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, source).unwrap();
    path
}

fn grader(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_grader"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The grader does not read standard input with --stdin: ignore a broken pipe.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

const TIMES10: &str = "\
        .data
prompt: .asciiz \"Please, type a number: \"
result: .asciiz \"The result is \"
        .text
main:   li   $v0, 4
        la   $a0, prompt
        syscall
        li   $v0, 5
        syscall
        mul  $t0, $v0, 10
        li   $v0, 4
        la   $a0, result
        syscall
        li   $v0, 1
        move $a0, $t0
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        li   $v0, 10
        syscall
";

#[test]
fn runs_times10_from_standard_input() {
    let p = write_program("times10.s", TIMES10);
    let out = grader(&["run", p.to_str().unwrap()], b"42\n");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Please, type a number: The result is 420\n"
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn reads_input_from_stdin_file() {
    let p = write_program("times10b.s", TIMES10);
    let input = write_program("times10b.in", "-7\n");
    let out = grader(
        &[
            "run",
            p.to_str().unwrap(),
            "--stdin",
            input.to_str().unwrap(),
        ],
        b"999\n",
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("The result is -70\n"));
}

#[test]
fn exit2_status_is_the_programs() {
    let p = write_program(
        "exit7.s",
        "main: li $v0, 11\n li $a0, 'k'\n syscall\n li $v0, 17\n li $a0, 7\n syscall\n",
    );
    let out = grader(&["run", p.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(out.stdout, b"k");
}

#[test]
fn returning_from_main_exits_zero() {
    let p = write_program("ret.s", "main: li $v0, 1\n li $a0, 5\n syscall\n jr $ra\n");
    let out = grader(&["run", p.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"5");
}

#[test]
fn assembly_errors_are_all_reported_and_nothing_runs() {
    let p = write_program(
        "bad.s",
        "main: li $v0, 1\n syscall\n frob $t0\n addi $t0, $t0, 70000\n j nowhere\nmain: nop\n",
    );
    let name = p.to_str().unwrap();
    let out = grader(&["run", name], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert!(lines[0].starts_with(&format!("{name}:3: error: unknown instruction 'frob'")));
    assert!(lines[1].starts_with(&format!(
        "{name}:4: error: immediate value (70000) out of range"
    )));
    assert!(lines[2].starts_with(&format!("{name}:5: error: undefined label 'nowhere'")));
    assert!(lines[3].starts_with(&format!("{name}:6: error: label 'main' is already defined")));
}

#[test]
fn runtime_error_names_the_line_and_address_and_keeps_output() {
    let p = write_program(
        "fault.s",
        "  .data\nm: .asciiz \"before\\n\"\n  .text\nmain: li $v0, 4\n la $a0, m\n syscall\n lw $t0, 0($zero)\n li $v0, 10\n syscall\n",
    );
    let name = p.to_str().unwrap();
    let out = grader(&["run", name], b"");
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stdout, b"before\n");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with(&format!(
            "{name}:7: runtime error: bad data address 0x00000000"
        )),
        "{err}"
    );
    assert!(err.contains("0x00400030"), "{err}");
}

#[test]
fn overflow_is_a_runtime_error() {
    let p = write_program(
        "ovf.s",
        "main: li $t0, 0x7fffffff\n addi $t0, $t0, 1\n li $v0, 10\n syscall\n",
    );
    let out = grader(&["run", p.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(":2: runtime error: arithmetic overflow"),
        "{err}"
    );
}

#[test]
fn step_limit_stops_infinite_loops() {
    let p = write_program(
        "loop.s",
        "main: li $v0, 1\n li $a0, 3\n syscall\nspin: addiu $t0, $t0, 1\n j spin\n",
    );
    let name = p.to_str().unwrap();
    let out = grader(&["run", name, "--max-steps", "1000"], b"");
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(out.stdout, b"3");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("runtime error: step limit of 1000 instructions reached"),
        "{err}"
    );
    assert!(
        err.starts_with(&format!("{name}:4:")) || err.starts_with(&format!("{name}:5:")),
        "{err}"
    );
}

#[test]
fn missing_file_is_a_grader_error() {
    let out = grader(&["run", "/nonexistent/prog.s"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn shared_times10_sample() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/mips");
    let (s, i) = (dir.join("times10.s"), dir.join("times10.in"));
    if !s.exists() {
        eprintln!("note: {} is missing; skipped", s.display());
        return;
    }
    let out = grader(
        &["run", s.to_str().unwrap(), "--stdin", i.to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("The result is 420\n"), "{text}");
}
