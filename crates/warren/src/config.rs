//! Settings, from (lowest to highest precedence) defaults, a TOML file, `WARREN_*` environment
//! variables and command-line flags.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::listen::ListenAddr;

pub const DEFAULT_AMQP_LISTEN: &str = "127.0.0.1:5672";
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:15672";
pub const DEFAULT_DATA_DIR: &str = "./warren-data";

/// The TOML file's shape. Every key is optional.
///
/// ```toml
/// amqp_listen = "127.0.0.1:5672"   # or a bare port (5672: every interface), "localhost:5672", "[::1]:5672"
/// http_listen = "127.0.0.1:15672"
/// prometheus_listen = "127.0.0.1:15692"  # Prometheus metrics alone (default: none; the
///                                        # management listener serves /metrics too)
/// data_dir = "./warren-data"
/// log_format = "text"            # or "json"; colour only on a terminal
/// [limits]
/// max_message_size = 16777216   # bytes; 406 above it
/// frame_max = 131072
/// channel_max = 2047
/// heartbeat = 60                # seconds, 0 = off
/// consumer_timeout = 1800000    # ms an unacked delivery may wait (406 after), 0 = off
/// [resources]
/// memory_high_watermark = 0.4   # fraction of RAM, or a size: "128MiB"
/// memory_high_watermark_paging_ratio = 0.5  # page bodies to disk past this share of it
/// disk_free_limit = "50MB"
/// [store]
/// segment_size = "64MiB"        # message store segment files (RabbitMQ's msg_store_file_size_limit)
/// [auth]
/// loopback_users = ["guest"]    # users allowed from loopback only ([] = none)
/// [jwt]                         # see docs/security.md for every key
/// resource_server_id = "warren"
/// [[jwt.keys]]
/// kid = "k1"
/// algorithm = "HS256"
/// secret = "..."
/// [tls]
/// cert_file = "server.pem"
/// key_file = "server-key.pem"
/// amqps_listen = "127.0.0.1:5671"
/// amqp_plain = true             # false: AMQPS only
/// https_listen = "127.0.0.1:15671"  # management API over HTTPS (default: none)
/// http_plain = true             # false: no plain-HTTP management listener
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub amqp_listen: Option<ListenAddr>,
    pub http_listen: Option<ListenAddr>,
    pub prometheus_listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// `text` (default) or `json`; `--log-format` wins.
    pub log_format: Option<crate::logging::LogFormat>,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub resources: ResourcesConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    /// JWT access tokens (verification keys, scopes, the built-in issuer).
    pub jwt: Option<warren_auth::JwtConfig>,
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// `[auth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Users who may connect from loopback addresses only. Default `["guest"]`.
    pub loopback_users: Option<Vec<String>>,
}

/// `[tls]`: AMQPS (and HTTPS for the management API), from PEM files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// The certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// CA of client certificates; when set, clients may present one.
    pub ca_file: Option<PathBuf>,
    /// With `ca_file`: refuse clients without a certificate. Default false.
    #[serde(default)]
    pub verify_peer: bool,
    /// AMQPS listener. Default 127.0.0.1:5671.
    pub amqps_listen: Option<ListenAddr>,
    /// Keep the plain AMQP listener. Default true.
    #[serde(default = "yes")]
    pub amqp_plain: bool,
    /// HTTPS listener for the management API (RabbitMQ uses 15671). Default: none.
    pub https_listen: Option<ListenAddr>,
    /// Keep the plain HTTP management listener (`http_listen`). Default true.
    #[serde(default = "yes")]
    pub http_plain: bool,
}

fn yes() -> bool {
    true
}

pub const DEFAULT_AMQPS_LISTEN: &str = "127.0.0.1:5671";

/// One of the `DEFAULT_*_LISTEN` addresses.
pub fn default_listen(addr: &str) -> ListenAddr {
    addr.parse().expect("the default listener addresses parse")
}

/// `[resources]`: when publishers are blocked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesConfig {
    /// A fraction of RAM (0.4) or a size ("128MiB"); default 0.4.
    pub memory_high_watermark: Option<crate::resources::Watermark>,
    /// The share of the watermark past which message bodies are paged out to disk (default
    /// 0.5; above 1, never), RabbitMQ's `vm_memory_high_watermark_paging_ratio`.
    pub memory_high_watermark_paging_ratio: Option<f64>,
    /// Free disk space under which publishers are blocked ("50MB" default).
    pub disk_free_limit: Option<String>,
}

/// `[store]`: the message store's tuning.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Size at which a segment file rolls over ("64MiB" default; at least 64KiB). Segment
    /// compaction keeps disk use under twice the live data plus two of these.
    pub segment_size: Option<String>,
}

/// Smallest `[store] segment_size`.
const MIN_SEGMENT_SIZE: u64 = 64 * 1024;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_message_size: Option<u64>,
    pub frame_max: Option<u32>,
    pub channel_max: Option<u16>,
    pub heartbeat: Option<u16>,
    /// Consumer (delivery acknowledgement) timeout in ms; 0 = none. Default 1800000.
    pub consumer_timeout: Option<u64>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
    }
}

/// The settings the server runs with.
#[derive(Debug)]
pub struct Settings {
    pub amqp_listen: ListenAddr,
    pub http_listen: ListenAddr,
    /// A listener serving only `/metrics...` (RabbitMQ's `rabbitmq_prometheus` port, 15692).
    pub prometheus_listen: Option<ListenAddr>,
    pub data_dir: PathBuf,
    pub limits: warren_core::Limits,
    pub resources: crate::resources::ResourceLimits,
    pub loopback_users: Option<Vec<String>>,
    pub jwt: Option<warren_auth::JwtConfig>,
    pub tls: Option<TlsConfig>,
    pub store: warren_store::StoreOptions,
}

/// A `--prometheus-listen` / `prometheus_listen` address.
pub fn parse_prometheus_listen(addr: &str) -> anyhow::Result<ListenAddr> {
    addr.parse::<ListenAddr>()
        .with_context(|| format!("invalid Prometheus listen address '{addr}'"))
}

/// Largest message size a user may configure (RabbitMQ's ceiling).
const MAX_MESSAGE_SIZE_CEILING: u64 = 512 * 1024 * 1024;

impl Settings {
    /// Merges flags/env (`cli_*`, already combined by clap) over the file over defaults.
    pub fn resolve(
        cli_amqp: Option<ListenAddr>,
        cli_http: Option<ListenAddr>,
        cli_data: Option<PathBuf>,
        file: FileConfig,
    ) -> anyhow::Result<Settings> {
        let amqp = cli_amqp
            .or(file.amqp_listen)
            .unwrap_or_else(|| default_listen(DEFAULT_AMQP_LISTEN));
        let http = cli_http
            .or(file.http_listen)
            .unwrap_or_else(|| default_listen(DEFAULT_HTTP_LISTEN));
        let mut limits = warren_core::Limits::default();
        if let Some(v) = file.limits.max_message_size {
            anyhow::ensure!(
                v <= MAX_MESSAGE_SIZE_CEILING,
                "max_message_size {v} is above the ceiling of {MAX_MESSAGE_SIZE_CEILING} bytes"
            );
            limits.max_message_size = v;
        }
        if let Some(v) = file.limits.frame_max {
            anyhow::ensure!(v >= 8192, "frame_max {v} is below the minimum of 8192");
            limits.frame_max = v;
        }
        if let Some(v) = file.limits.channel_max {
            limits.channel_max = v;
        }
        if let Some(v) = file.limits.heartbeat {
            limits.heartbeat = v;
        }
        if let Some(v) = file.limits.consumer_timeout {
            limits.consumer_timeout_ms = v;
        }
        let mut store = warren_store::StoreOptions::default();
        if let Some(v) = file.store.segment_size.as_deref() {
            let size = crate::resources::parse_size(v)
                .with_context(|| format!("invalid [store] segment_size '{v}'"))?;
            anyhow::ensure!(
                size >= MIN_SEGMENT_SIZE,
                "[store] segment_size {size} is below the minimum of {MIN_SEGMENT_SIZE} bytes"
            );
            store.segment_size = size;
        }
        Ok(Settings {
            amqp_listen: amqp,
            http_listen: http,
            prometheus_listen: file
                .prometheus_listen
                .as_deref()
                .map(parse_prometheus_listen)
                .transpose()?,
            data_dir: cli_data
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            limits,
            resources: crate::resources::ResourceLimits::resolve(
                file.resources.memory_high_watermark.as_ref(),
                file.resources.memory_high_watermark_paging_ratio,
                file.resources.disk_free_limit.as_deref(),
            )?,
            loopback_users: file.auth.loopback_users,
            jwt: file.jwt,
            tls: file.tls,
            store,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_listen_is_off_unless_configured() {
        let s = Settings::resolve(None, None, None, FileConfig::default()).unwrap();
        assert_eq!(s.prometheus_listen, None);
        let file: FileConfig = toml::from_str("prometheus_listen = \"127.0.0.1:15692\"\n").unwrap();
        let s = Settings::resolve(None, None, None, file).unwrap();
        assert_eq!(
            s.prometheus_listen,
            Some("127.0.0.1:15692".parse().unwrap())
        );
        let file: FileConfig = toml::from_str("prometheus_listen = \"nope\"\n").unwrap();
        assert!(Settings::resolve(None, None, None, file).is_err());
    }

    #[test]
    fn flags_win_over_file_and_file_over_defaults() {
        let file: FileConfig = toml::from_str(
            "amqp_listen = \"127.0.0.1:7000\"\nhttp_listen = \"127.0.0.1:7001\"\n[limits]\nmax_message_size = 1024\n",
        )
        .unwrap();
        let s = Settings::resolve(Some("127.0.0.1:0".parse().unwrap()), None, None, file).unwrap();
        assert_eq!(s.amqp_listen.to_string(), "127.0.0.1:0");
        assert_eq!(s.http_listen.to_string(), "127.0.0.1:7001");
        assert_eq!(s.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(s.limits.max_message_size, 1024);
    }

    #[test]
    fn security_sections_parse() {
        let file: FileConfig = toml::from_str(
            r#"
[auth]
loopback_users = []
[jwt]
resource_server_id = "warren"
extra_scopes_source = "roles"
[[jwt.keys]]
kid = "k1"
algorithm = "HS256"
secret = "s"
[[jwt.keys]]
algorithm = "RS256"
public_key_file = "pub.pem"
[jwt.issuer]
lifetime = 600
[tls]
cert_file = "c.pem"
key_file = "k.pem"
amqp_plain = false
https_listen = "127.0.0.1:15671"
http_plain = false
"#,
        )
        .unwrap();
        let s = Settings::resolve(None, None, None, file).unwrap();
        let jwt = s.jwt.unwrap();
        assert_eq!(jwt.prefix(), "warren.");
        assert_eq!(jwt.keys.len(), 2);
        assert_eq!(jwt.keys[1].kid, None);
        assert_eq!(jwt.issuer.lifetime, 600);
        assert_eq!(s.loopback_users, Some(vec![]));
        let tls = s.tls.unwrap();
        assert!(!tls.amqp_plain);
        assert!(tls.amqps_listen.is_none());
        assert_eq!(
            tls.https_listen.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:15671")
        );
        assert!(!tls.http_plain);
        assert!(toml::from_str::<FileConfig>(
            "[jwt]
bogus = 1
"
        )
        .is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        let file: FileConfig = toml::from_str("[limits]\nframe_max = 100\n").unwrap();
        assert!(Settings::resolve(None, None, None, file).is_err());
        assert!(toml::from_str::<FileConfig>("bogus = 1\n").is_err());
        let e = toml::from_str::<FileConfig>("amqp_listen = \"nope\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'nope': no port"), "{e}");
        let e = toml::from_str::<FileConfig>(
            "[tls]\ncert_file = \"c\"\nkey_file = \"k\"\namqps_listen = \"::1:5671\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("in brackets"), "{e}");
    }
}
