//! `grader run PROGRAM.s [--max-steps N] [--stdin FILE]`.
//!
//! Exit status: the program's own status (syscall 10: 0, syscall 17: its argument,
//! return from `main`: 0), 2 for assembly errors, 3 for a runtime error, 4 when the
//! step limit is reached, 1 when the grader itself fails (e.g. unreadable file).

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

/// Arguments of `grader run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The MIPS assembly program.
    pub program: PathBuf,
    /// Maximum number of instructions to execute.
    #[arg(long, default_value_t = 10_000_000)]
    pub max_steps: u64,
    /// File to use as the program's standard input (default: standard input).
    #[arg(long)]
    pub stdin: Option<PathBuf>,
    /// Maximum simulated memory in MiB.
    #[arg(long, default_value_t = 64)]
    pub memory_mib: usize,
}

/// Runs the program; returns the process exit status.
pub fn run(args: &RunArgs) -> anyhow::Result<u8> {
    let bytes = std::fs::read(&args.program)
        .with_context(|| format!("cannot read {}", args.program.display()))?;
    let source = String::from_utf8_lossy(&bytes);
    let name = args.program.display().to_string();
    let program = match mips::assemble(&source, &name) {
        Ok(p) => p,
        Err(errors) => {
            let mut err = std::io::stderr().lock();
            for e in &errors {
                writeln!(err, "{e}")?;
            }
            return Ok(2);
        }
    };
    let input = match &args.stdin {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read standard input")?;
            buf
        }
    };
    let limits = mips::Limits {
        max_steps: args.max_steps,
        memory_bytes: args.memory_mib.saturating_mul(1 << 20),
        ..mips::Limits::default()
    };
    let outcome = program.run(&input, limits);
    {
        let mut out = std::io::stdout().lock();
        out.write_all(&outcome.stdout)?;
        out.flush()?;
    }
    if !outcome.stderr.is_empty() {
        let mut err = std::io::stderr().lock();
        err.write_all(outcome.stderr.as_bytes())?;
        err.flush()?;
    }
    Ok((outcome.process_exit_code() & 0xff) as u8)
}
