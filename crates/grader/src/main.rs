//! `grader`: the command line. Each subcommand's work lives in the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use grader::db::Role;
use grader::run;
use grader::serve::{ServeConfig, Service};
use grader::worker::{self, WorkerConfig};

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
    /// The HTTP service: login, assignments, uploads, results.
    Serve(ServeArgs),
    /// A worker: grades jobs from the queue.
    Worker(WorkerArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
}

const DEFAULT_AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

#[derive(Args)]
struct ServeArgs {
    /// Broker URL.
    #[arg(long, env = "GRADER_AMQP_URL", default_value = DEFAULT_AMQP)]
    amqp: String,
    /// Address of the HTTP API and web page.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http_listen: String,
    /// Directory of the database and the token secret.
    #[arg(long, default_value = "grader-data")]
    data_dir: PathBuf,
    /// Users file (TOML, password hashes); loaded into the database at start.
    #[arg(long)]
    users: Option<PathBuf>,
    /// Token signing secret (default: DATA_DIR/jwt-secret, created when missing).
    #[arg(long, env = "GRADER_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl: u64,
    /// Largest upload in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    max_upload_bytes: usize,
    /// How long an upload waits for the broker to confirm its job, in milliseconds, before it
    /// is answered 503 (a broker under a resource alarm blocks publishers).
    #[arg(long, default_value_t = ServeConfig::DEFAULT_PUBLISH_TIMEOUT.as_millis() as u64)]
    publish_timeout_ms: u64,
}

#[derive(Args)]
struct WorkerArgs {
    /// Broker URL.
    #[arg(long, env = "GRADER_AMQP_URL", default_value = DEFAULT_AMQP)]
    amqp: String,
    /// Jobs graded at once (also the prefetch window).
    #[arg(long, default_value_t = 2)]
    concurrency: u16,
    /// Step limit of each run.
    #[arg(long, default_value_t = 10_000_000)]
    max_steps: u64,
    /// Simulated memory of each run, in MiB.
    #[arg(long, default_value_t = 64)]
    memory_mib: usize,
    /// Wall-clock limit of one job (all its cases), in milliseconds; a job over it is graded
    /// with the error "time limit exceeded".
    #[arg(long, default_value_t = WorkerConfig::DEFAULT_JOB_TIMEOUT.as_millis() as u64)]
    job_timeout_ms: u64,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create or update a user in the service's database.
    Add {
        name: String,
        #[arg(long)]
        role: Role,
        #[arg(long)]
        password: String,
        #[arg(long, default_value = "grader-data")]
        data_dir: PathBuf,
    },
    /// Print the hash of a password, for a users file.
    Hash {
        #[arg(long)]
        password: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Serve(args) => runtime().and_then(|rt| rt.block_on(serve(args))),
        Command::Worker(args) => runtime().and_then(|rt| rt.block_on(work(args))),
        Command::User(cmd) => user(cmd),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("grader: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

async fn serve(args: ServeArgs) -> anyhow::Result<u8> {
    let config = ServeConfig {
        amqp_url: args.amqp,
        http_listen: args.http_listen,
        data_dir: args.data_dir,
        users_file: args.users,
        jwt_secret: args.jwt_secret,
        token_ttl: Duration::from_secs(args.token_ttl),
        max_upload_bytes: args.max_upload_bytes,
        publish_timeout: Duration::from_millis(args.publish_timeout_ms.max(1)),
    };
    let service = Service::start(config).await?;
    println!("grader service on http://{}", service.addr);
    tokio::signal::ctrl_c().await?;
    service.stop().await;
    Ok(0)
}

async fn work(args: WorkerArgs) -> anyhow::Result<u8> {
    let config = WorkerConfig {
        amqp_url: args.amqp,
        concurrency: args.concurrency.max(1),
        limits: mips::Limits {
            max_steps: args.max_steps,
            memory_bytes: args.memory_mib.saturating_mul(1 << 20),
            ..mips::Limits::default()
        },
        job_timeout: Duration::from_millis(args.job_timeout_ms.max(1)),
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(worker::run(config, rx));
    tokio::signal::ctrl_c().await?;
    let _ = tx.send(true);
    worker.await?;
    Ok(0)
}

fn user(cmd: UserCommand) -> anyhow::Result<u8> {
    match cmd {
        UserCommand::Add {
            name,
            role,
            password,
            data_dir,
        } => {
            grader::users::add_user(&data_dir, &name, role, &password)?;
            println!(
                "user {name} ({}) saved in {}",
                role.as_str(),
                data_dir.display()
            );
        }
        UserCommand::Hash { password } => {
            println!(
                "{}",
                grader::auth::hash_password(&password).map_err(anyhow::Error::msg)?
            );
        }
    }
    Ok(0)
}
