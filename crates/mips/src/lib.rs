//! A MIPS32 assembler and simulator compatible with SPIM 8.0, for running students'
//! assembly programs in a grading service.
//!
//! ```
//! let src = ".data\nmsg: .asciiz \"x10 = \"\n.text\nmain: li $v0, 5\n syscall\n\
//!            mul $t0, $v0, 10\n li $v0, 4\n la $a0, msg\n syscall\n\
//!            li $v0, 1\n move $a0, $t0\n syscall\n li $v0, 10\n syscall\n";
//! let program = mips::assemble(src, "times10.s").unwrap();
//! let outcome = program.run(b"42\n", mips::Limits::default());
//! assert_eq!(outcome.stdout, b"x10 = 420");
//! assert_eq!(outcome.status, mips::ExitStatus::Exited(0));
//! ```
//!
//! # Invariants
//!
//! * **Output.** [`RunOutcome::stdout`] holds exactly the bytes SPIM 8.0 prints on standard
//!   output for the same program and input (without SPIM's banner), including when the run
//!   ends with a runtime error or the step limit: it then holds what was printed before.
//! * **Layout.** Memory is laid out as in SPIM: SPIM's 9-word startup code at `0x00400000`
//!   calls `main` (so user code starts at `0x00400024`, and returning from `main` with
//!   `jr $ra` exits with status 0), `.data` starts at `0x10010000`, `$gp` is `0x10008000`,
//!   the heap given by `sbrk` starts at `0x10020000` (or after the data if larger) and the
//!   stack grows down from `$sp = 0x7fffeffc`. Pseudo-instructions expand to the same number
//!   of machine instructions as in SPIM, so text addresses (`$ra`, `la` of text labels) agree.
//!   Memory is little-endian, as SPIM on x86.
//! * **No delay slots.** Branches and jumps take effect immediately (SPIM's default).
//! * **Assembly is all-or-nothing.** [`assemble`] either returns a complete [`Program`] or
//!   every error found (each naming its source line), sorted by line; nothing runs then.
//! * **Sandboxed by construction.** A run touches nothing outside its own memory: there are
//!   no file, network or process syscalls; input comes only from the `stdin` slice; memory
//!   is capped by [`Limits::memory_bytes`], output by [`Limits::max_output_bytes`] and the
//!   number of executed instructions by [`Limits::max_steps`].
//! * **Never panics.** Any source text and any program behaviour produce either
//!   assembly errors or a [`RunOutcome`]; bad addresses, unaligned accesses, overflow traps,
//!   bad jumps and unknown syscalls become [`ExitStatus::RuntimeError`].
//! * **Deterministic and reusable.** [`Program::run`] takes `&self`: a program can be run
//!   many times (concurrently from several threads) and each run starts from the same state.
//!
//! # Syscalls
//!
//! SPIM's 1 print_int, 4 print_string, 5 read_int (reads a line, `atol`), 8 read_string
//! (`fgets` semantics), 9 sbrk, 10 exit, 11 print_char, 12 read_char, 17 exit2; plus MARS's
//! 34 print_int_hex, 35 print_int_binary and 36 print_int_unsigned. Any other number is a
//! runtime error (SPIM: "Unknown system call").

mod asm;
mod instr;
mod lexer;
mod sim;

use instr::Instr;

/// Start of the text segment (SPIM's startup code).
pub const TEXT_BASE: u32 = 0x0040_0000;
/// Address of the first user instruction (after the 9-word startup code).
pub const USER_TEXT_BASE: u32 = 0x0040_0024;
/// Start of the data segment (`$gp` area included).
pub const DATA_BASE: u32 = 0x1000_0000;
/// Address where `.data` starts.
pub const USER_DATA_BASE: u32 = 0x1001_0000;
/// Initial `$gp`.
pub const GP_INIT: u32 = 0x1000_8000;
/// First address returned by `sbrk` when the data is smaller (SPIM's initial data top).
pub const HEAP_BASE: u32 = 0x1002_0000;
/// Initial `$sp`.
pub const SP_INIT: u32 = 0x7fff_effc;
/// The stack occupies addresses below this one.
pub const STACK_TOP: u32 = 0x8000_0000;

/// One assembly error, displayed as `FILE:LINE: error: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: error: {message}")]
pub struct AsmError {
    /// File name given to [`assemble`].
    pub file: String,
    /// 1-based source line.
    pub line: u32,
    /// What is wrong, e.g. `undefined label 'loop'`.
    pub message: String,
}

/// An assembled program, ready to [`run`](Program::run) any number of times.
#[derive(Debug, Clone)]
pub struct Program {
    file_name: String,
    /// Decoded instructions from `TEXT_BASE`.
    text: Vec<Instr>,
    /// Source line of each instruction (0 for the startup code).
    lines: Vec<u32>,
    /// Initial data image from `DATA_BASE`.
    data: Vec<u8>,
    /// End of the assembled data (first free address).
    data_end: u32,
}

/// Assembles SPIM-syntax source. `file_name` is only used in messages.
///
/// Returns every error found (not just the first), sorted by line.
pub fn assemble(source: &str, file_name: &str) -> Result<Program, Vec<AsmError>> {
    asm::assemble(source, file_name)
}

/// Resource limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum number of executed instructions (startup code included).
    pub max_steps: u64,
    /// Maximum bytes of simulated memory (data + heap + stack).
    pub memory_bytes: usize,
    /// Maximum bytes of output; printing more is a runtime error.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    /// 10,000,000 steps, 64 MiB of memory, 16 MiB of output.
    fn default() -> Self {
        Limits {
            max_steps: 10_000_000,
            memory_bytes: 64 << 20,
            max_output_bytes: 16 << 20,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// syscall 10 (code 0), syscall 17 (its argument) or return from `main` (0).
    Exited(i32),
    /// A runtime exception stopped the program at `line` (0: startup code).
    RuntimeError {
        /// Source line of the faulting instruction.
        line: u32,
        /// Address of the faulting instruction.
        pc: u32,
        /// Description, e.g. `bad data address 0x00000000 in load`.
        message: String,
    },
    /// The step limit was reached while executing `line`.
    StepLimit {
        /// Source line of the next instruction that would have run.
        line: u32,
        /// Its address.
        pc: u32,
    },
}

/// The result of [`Program::run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// Everything the program printed (byte for byte as SPIM).
    pub stdout: Vec<u8>,
    /// How the run ended.
    pub status: ExitStatus,
    /// Number of instructions executed.
    pub steps: u64,
    /// The message for standard error (`FILE:LINE: runtime error: ...`), empty on a normal exit.
    pub stderr: String,
}

impl RunOutcome {
    /// Process exit status for a command-line front end: the program's code (low 8 bits)
    /// on exit, 3 on a runtime error, 4 when the step limit was reached.
    pub fn process_exit_code(&self) -> i32 {
        match self.status {
            ExitStatus::Exited(c) => c & 0xff,
            ExitStatus::RuntimeError { .. } => 3,
            ExitStatus::StepLimit { .. } => 4,
        }
    }
}

impl Program {
    /// Runs the program with `stdin` as its whole standard input.
    pub fn run(&self, stdin: &[u8], limits: Limits) -> RunOutcome {
        sim::run(self, stdin, limits)
    }

    /// The file name given to [`assemble`].
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Number of machine instructions, startup code included.
    pub fn text_words(&self) -> usize {
        self.text.len()
    }

    /// Source line of the instruction at `pc`, if any (0 for the startup code).
    pub fn line_of(&self, pc: u32) -> Option<u32> {
        let idx = pc.wrapping_sub(TEXT_BASE) as usize / 4;
        if pc & 3 != 0 {
            return None;
        }
        self.lines.get(idx).copied()
    }
}
