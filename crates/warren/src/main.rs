//! The `warren` binary: command line, configuration and wiring.

mod config;

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
    }
}

async fn run_server(settings: Settings) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    let broker = Arc::new(warren_core::Broker::new(settings.limits.clone()));
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
    let (tx, rx) = watch::channel(false);
    let server = tokio::spawn(warren_server::serve(listener, broker, rx));
    shutdown_signal().await;
    info!("shutting down");
    let _ = tx.send(true);
    let _ = server.await;
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
