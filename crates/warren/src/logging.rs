//! The log: `tracing` events to stderr, filtered by `WARREN_LOG` (default `info`), as text
//! (coloured only when stderr is a terminal and `NO_COLOR` is unset) or as JSON, one object
//! per line with `timestamp`, `level`, `message`, the event's other fields and `target`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// `--log-format`, `WARREN_LOG_FORMAT`, `log_format` in the TOML file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Colour codes only for a person at a terminal (https://no-color.org: a set, non-empty
/// `NO_COLOR` turns them off there too), never in a file or a pipe.
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("WARREN_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => fmt.with_ansi(colour()).init(),
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}
