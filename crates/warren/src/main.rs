//! The `warren` binary: command line, configuration and wiring.

mod config;

/// jemalloc rather than the system allocator: it hands freed memory back to the OS after a
/// burst (a background thread purges unused pages), so an idle broker stays small, and it counts
/// the bytes allocated, which is the memory figure the resource alarm uses (see resources.rs).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
mod policy_cmd;
mod resources;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;

use config::{FileConfig, Settings};

#[derive(Parser)]
#[command(
    name = "warren",
    version,
    about = "Warren: an AMQP 0-9-1 message broker"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker.
    Server {
        /// AMQP listener address (port 0 picks a free port) [default: 127.0.0.1:5672]
        #[arg(long, env = "WARREN_AMQP_LISTEN", value_name = "ADDR:PORT")]
        amqp_listen: Option<String>,
        /// HTTP management listener address [default: 127.0.0.1:15672]
        #[arg(long, env = "WARREN_HTTP_LISTEN", value_name = "ADDR:PORT")]
        http_listen: Option<String>,
        /// Data directory [default: ./warren-data]
        #[arg(long, env = "WARREN_DATA_DIR", value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// TOML configuration file
        #[arg(long, env = "WARREN_CONFIG", value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Load generator for any AMQP 0-9-1 broker (PerfTest-like): rates and latency percentiles.
    Perf(warren_perf::PerfArgs),
    /// Export or import definitions (vhosts, durable exchanges, queues, bindings) in RabbitMQ's
    /// JSON format. Works on the data directory: run it while the broker is stopped.
    Definitions {
        #[command(subcommand)]
        action: DefinitionsAction,
        /// Data directory [default: ./warren-data]
        #[arg(long, env = "WARREN_DATA_DIR", value_name = "DIR", global = true)]
        data_dir: Option<PathBuf>,
    },
    /// Set, clear or list policies (queue and exchange settings applied by name pattern).
    /// Works on the data directory: run it while the broker is stopped.
    Policy {
        #[command(subcommand)]
        action: policy_cmd::PolicyAction,
        /// Data directory [default: ./warren-data]
        #[arg(long, env = "WARREN_DATA_DIR", value_name = "DIR", global = true)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DefinitionsAction {
    /// Write the broker's definitions to FILE.
    Export { file: PathBuf },
    /// Merge the definitions in FILE (a Warren or RabbitMQ export) into the broker's.
    Import { file: PathBuf },
}

/// The definitions file inside a data directory.
fn definitions_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("definitions.json")
}

/// A broker holding the definitions saved in `data_dir` (with its message store, if given:
/// it must be attached before durable queues are created).
fn load_broker(
    data_dir: &std::path::Path,
    limits: warren_core::Limits,
    durability: Option<Arc<warren_core::Durability>>,
) -> anyhow::Result<warren_core::Broker> {
    let path = definitions_path(data_dir);
    let defs = warren_core::Definitions::load(&path)?;
    let broker = warren_core::Broker::new(limits);
    if let Some(d) = durability {
        broker.enable_durability(d);
    }
    broker
        .import_definitions(&defs)
        .with_context(|| format!("loading {}", path.display()))?;
    Ok(broker)
}

fn definitions_command(action: DefinitionsAction, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let data_dir = data_dir.unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR));
    let broker = load_broker(&data_dir, warren_core::Limits::default(), None)?;
    match action {
        DefinitionsAction::Export { file } => {
            broker.export_definitions().save(&file)?;
            println!("exported definitions to {}", file.display());
        }
        DefinitionsAction::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let defs = warren_core::Definitions::from_json(&text)
                .with_context(|| format!("parsing {}", file.display()))?;
            broker.import_definitions(&defs)?;
            std::fs::create_dir_all(&data_dir)?;
            broker
                .export_definitions()
                .save(&definitions_path(&data_dir))?;
            println!(
                "imported {} exchanges, {} queues, {} bindings from {} into {}",
                defs.exchanges.len(),
                defs.queues.len(),
                defs.bindings.len(),
                file.display(),
                data_dir.display()
            );
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WARREN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Server {
            amqp_listen,
            http_listen,
            data_dir,
            config,
        } => {
            let file = match &config {
                Some(p) => FileConfig::load(p)?,
                None => FileConfig::default(),
            };
            let settings = Settings::resolve(amqp_listen, http_listen, data_dir, file)?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(run_server(settings))
        }
        Command::Definitions { action, data_dir } => definitions_command(action, data_dir),
        Command::Policy { action, data_dir } => policy_cmd::run(
            action,
            data_dir.unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR)),
        ),
        Command::Perf(args) => warren_perf::main(args),
    }
}

async fn run_server(settings: Settings) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    let messages_dir = settings.data_dir.join("messages");
    let (store, recovered) =
        warren_store::Store::open(&messages_dir, warren_store::StoreOptions::default())
            .with_context(|| format!("opening the message store in {}", messages_dir.display()))?;
    let durability = warren_core::Durability::start(store);
    let broker = Arc::new(load_broker(
        &settings.data_dir,
        settings.limits.clone(),
        Some(durability.clone()),
    )?);
    broker.persist_definitions_to(definitions_path(&settings.data_dir));
    let vhosts = broker.vhosts();
    let queues: usize = vhosts.iter().map(|v| v.queues().len()).sum();
    info!(
        "recovered definitions: {} vhosts, {} queues",
        vhosts.len(),
        queues
    );
    let (rq, rm) = broker.recover_messages(&recovered);
    info!(
        "recovered {rm} queued persistent messages in {rq} queues ({} distinct messages, {} bytes in {} segments; {} corrupt records skipped, {} torn bytes truncated)",
        recovered.messages,
        recovered.bytes,
        recovered.segments,
        recovered.skipped_corrupt,
        recovered.truncated_tail_bytes
    );
    let listener = TcpListener::bind(settings.amqp_listen)
        .await
        .with_context(|| format!("binding AMQP listener {}", settings.amqp_listen))?;
    info!(
        "Warren {} AMQP listening on {} (data dir {}; HTTP {} is reserved for the management API, not served yet)",
        env!("CARGO_PKG_VERSION"),
        listener.local_addr()?,
        settings.data_dir.display(),
        settings.http_listen
    );
    info!(
        "publishers are blocked above {} MiB of memory or under {} MB of free disk",
        settings.resources.memory >> 20,
        settings.resources.disk_free / 1_000_000
    );
    tokio::spawn(resources::monitor(
        broker.clone(),
        settings.resources.clone(),
        settings.data_dir.clone(),
    ));
    let (tx, rx) = watch::channel(false);
    let server = tokio::spawn(warren_server::serve(listener, broker, rx));
    shutdown_signal().await;
    info!("shutting down");
    let _ = tx.send(true);
    let _ = server.await;
    // Acks and publishes still queued for the store are written before we exit.
    let _ = tokio::task::spawn_blocking(move || durability.flush()).await;
    info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
