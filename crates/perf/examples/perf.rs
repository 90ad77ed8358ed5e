//! Standalone `warren perf`:
//! `cargo run --release -p warren-perf --example perf -- --uri amqp://guest:guest@127.0.0.1:5672/%2f -z 10`

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "warren-perf",
    about = "AMQP 0-9-1 load generator (PerfTest-like) on Warren's codec"
)]
struct Cli {
    #[command(flatten)]
    args: warren_perf::PerfArgs,
}

fn main() -> anyhow::Result<()> {
    warren_perf::main(Cli::parse().args)
}
