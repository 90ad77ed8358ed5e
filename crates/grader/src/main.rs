//! `grader`: runs students' MIPS assembly programs (SPIM-compatible).
//!
//! Subcommands live in their own modules; `main` only parses the command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod run;

#[derive(Parser)]
#[command(
    name = "grader",
    version,
    about = "Grading service for MIPS assembly programs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assemble and run a program, printing its output like SPIM.
    Run(run::RunArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("grader: {e:#}");
            ExitCode::from(1)
        }
    }
}
