//! The `warren` binary: command line, configuration and wiring.

mod config;
mod datalock;
mod listen;
mod logging;

/// jemalloc rather than the system allocator: it hands freed memory back to the OS after a
/// burst (a background thread purges unused pages), so an idle broker stays small, and it counts
/// the bytes allocated, which is the memory figure the resource alarm uses (see resources.rs).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
mod policy_cmd;
mod recover_cmd;
mod resources;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
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
    /// Log format on stderr: text (coloured only on a terminal) or json (one object a line)
    /// [default: text, or `log_format` in the server's --config file]
    #[arg(long, env = "WARREN_LOG_FORMAT", value_name = "FORMAT", global = true)]
    log_format: Option<logging::LogFormat>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker.
    Server {
        /// AMQP listener: PORT (every interface), HOST:PORT, IPV4:PORT or [IPV6]:PORT; port 0
        /// picks a free port [default: 127.0.0.1:5672]
        #[arg(long, env = "WARREN_AMQP_LISTEN", value_name = "[HOST:]PORT")]
        amqp_listen: Option<listen::ListenAddr>,
        /// HTTP management listener, in the same forms [default: 127.0.0.1:15672]
        #[arg(long, env = "WARREN_HTTP_LISTEN", value_name = "[HOST:]PORT")]
        http_listen: Option<listen::ListenAddr>,
        /// A listener serving only the Prometheus metrics (/metrics, /metrics/per-object,
        /// /metrics/detailed), as RabbitMQ's port 15692, in the same forms [default: none; the
        /// management listener serves them too]
        #[arg(long, env = "WARREN_PROMETHEUS_LISTEN", value_name = "[HOST:]PORT")]
        prometheus_listen: Option<String>,
        /// Data directory [default: ./warren-data]
        #[arg(long, env = "WARREN_DATA_DIR", value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// TOML configuration file
        #[arg(long, env = "WARREN_CONFIG", value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Load generator for any AMQP 0-9-1 broker (PerfTest-like): rates and latency percentiles.
    Perf(warren_perf::PerfArgs),
    /// Manage users (works on the data directory: changes are refused while a broker runs on
    /// it; use the management API then).
    User {
        #[command(subcommand)]
        action: UserAction,
        #[arg(long, env = "WARREN_DATA_DIR", value_name = "DIR", global = true)]
        data_dir: Option<PathBuf>,
    },
    /// Manage permissions (works on the data directory, broker stopped; see `user`).
    Permissions {
        #[command(subcommand)]
        action: PermissionsAction,
        #[arg(long, env = "WARREN_DATA_DIR", value_name = "DIR", global = true)]
        data_dir: Option<PathBuf>,
    },
    /// Manage virtual hosts (works on the data directory, broker stopped; see `user`).
    Vhost {
        #[command(subcommand)]
        action: VhostAction,
        #[arg(long, env = "WARREN_DATA_DIR", value_name = "DIR", global = true)]
        data_dir: Option<PathBuf>,
    },
    /// JWT access tokens from the built-in issuer.
    Token {
        #[command(subcommand)]
        action: TokenAction,
        #[arg(long, env = "WARREN_DATA_DIR", value_name = "DIR", global = true)]
        data_dir: Option<PathBuf>,
        /// TOML configuration file (its [jwt] section holds the signing key)
        #[arg(long, env = "WARREN_CONFIG", value_name = "FILE", global = true)]
        config: Option<PathBuf>,
    },
    /// Export or import definitions (vhosts, durable exchanges, queues, bindings) in RabbitMQ's
    /// JSON format. Works on the data directory: import is refused while a broker runs on it.
    Definitions {
        #[command(subcommand)]
        action: DefinitionsAction,
        /// Data directory [default: ./warren-data]
        #[arg(long, env = "WARREN_DATA_DIR", value_name = "DIR", global = true)]
        data_dir: Option<PathBuf>,
    },
    /// Set, clear or list policies (queue and exchange settings applied by name pattern).
    /// Works on the data directory: set and clear are refused while a broker runs on it.
    Policy {
        #[command(subcommand)]
        action: policy_cmd::PolicyAction,
        /// Data directory [default: ./warren-data]
        #[arg(long, env = "WARREN_DATA_DIR", value_name = "DIR", global = true)]
        data_dir: Option<PathBuf>,
    },
    /// After a lost or damaged journal (see messages/damage-report.txt): read the messages of
    /// the segment files kept for recovery back by scanning them and publish them again
    /// (broker stopped; at least once: acked messages in those files come back too).
    RecoverMessages {
        /// Data directory [default: ./warren-data]
        #[arg(long, env = "WARREN_DATA_DIR", value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// TOML configuration file (for [store] settings)
        #[arg(long, env = "WARREN_CONFIG", value_name = "FILE")]
        config: Option<PathBuf>,
        /// The vhost whose exchanges route the messages
        #[arg(long, default_value = "/")]
        vhost: String,
        /// Put every message into this durable queue instead of routing it by its exchange
        /// and routing key
        #[arg(long)]
        queue: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Create a user (password hashed with salted SHA-256, as RabbitMQ).
    Add {
        name: String,
        password: String,
        /// Comma-separated tags: administrator, management, monitoring, policymaker...
        #[arg(long, default_value = "")]
        tags: String,
    },
    /// Delete a user and their permissions.
    Delete { name: String },
    /// List users and their tags.
    List,
    /// Change a user's password.
    Passwd { name: String, password: String },
    /// Replace a user's tags (comma-separated; "" for none).
    Tags { name: String, tags: String },
}

#[derive(Subcommand)]
enum PermissionsAction {
    /// Set USER's configure, write and read regexes in VHOST.
    Set {
        user: String,
        vhost: String,
        configure: String,
        write: String,
        read: String,
    },
    /// Remove USER's permissions in VHOST.
    Clear { user: String, vhost: String },
    /// List all permissions.
    List,
}

#[derive(Subcommand)]
enum VhostAction {
    Add {
        name: String,
    },
    /// Delete a vhost with everything in it.
    Delete {
        name: String,
    },
    List,
}

#[derive(Subcommand)]
enum TokenAction {
    /// Sign a JWT carrying USER's permissions and tags as scopes (needs [jwt] keys in --config).
    Issue {
        #[arg(long)]
        user: String,
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
    let saved = saved_sections(&path)?;
    if saved.users || !defs.users.is_empty() {
        // The node's own saved users replace the default guest: a deleted guest stays
        // deleted, even when it was the last user (an empty `users` list means no users).
        broker.auth().clear();
    }
    if saved.vhosts && !defs.vhosts.iter().any(|v| v.name == "/") {
        // Likewise a deleted default vhost stays deleted (unless something in the file
        // still lives in it: the import below creates it again).
        broker.delete_vhost_unsaved("/");
    }
    if let Some(d) = durability {
        broker.enable_durability(d);
    }
    broker
        .import_definitions(&defs)
        .with_context(|| format!("loading {}", path.display()))?;
    Ok(broker)
}

/// Which sections a saved definitions file has (a file written by Warren has all of them;
/// one from before users and vhosts were saved has neither, and keeps the defaults).
struct SavedSections {
    users: bool,
    vhosts: bool,
}

/// The definitions say which queues exist, and recovery drops the stored messages of queues
/// they do not have: with the file gone (deleted by hand, a botched restore) but messages in
/// the store, starting would delete every one of them. Refuse, and say what to do.
fn refuse_without_definitions(
    data_dir: &std::path::Path,
    recovered: &warren_store::Recovered,
) -> anyhow::Result<()> {
    let path = definitions_path(data_dir);
    if path.exists() {
        return Ok(());
    }
    let queues = recovered.queues.values().filter(|e| !e.is_empty()).count();
    if queues == 0 {
        return Ok(());
    }
    let messages: usize = recovered.queues.values().map(Vec::len).sum();
    anyhow::bail!(
        "{} is missing, but the message store in {} holds {messages} messages of {queues} \
         queues: starting without the definitions would delete them. Put the definitions \
         file back (a backup, or `warren definitions import FILE --data-dir {}` with an \
         export), or move {} away to start empty",
        path.display(),
        data_dir.join("messages").display(),
        data_dir.display(),
        data_dir.join("messages").display(),
    )
}

fn saved_sections(path: &std::path::Path) -> anyhow::Result<SavedSections> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(SavedSections {
                users: false,
                vhosts: false,
            })
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(SavedSections {
        users: v.get("users").is_some(),
        vhosts: v.get("vhosts").is_some(),
    })
}

fn definitions_command(action: DefinitionsAction, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let data_dir = data_dir.unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR));
    // An import is refused while a broker runs on the data directory (see datalock.rs).
    let _lock = match &action {
        DefinitionsAction::Import { .. } => datalock::for_edit(
            &data_dir,
            "warren definitions import",
            "POST /api/definitions",
        )?,
        DefinitionsAction::Export { .. } => None,
    };
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

/// A change a command makes to the definitions: the command's name and the management API
/// call that makes it on a running broker (for the refusal, see [`datalock::for_edit`]).
struct Change {
    command: &'static str,
    api: &'static str,
}

/// Loads the data directory's definitions and applies `f`; with a `change`, under the data
/// directory's lock (refused while a broker runs there), saving them back afterwards.
/// Without one (a listing) nothing is written: rewriting the file next to a running broker
/// could undo what the broker saved meanwhile.
fn edit_definitions(
    data_dir: Option<PathBuf>,
    change: Option<Change>,
    f: impl FnOnce(&warren_core::Broker) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let data_dir = data_dir.unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR));
    let _lock = match &change {
        Some(c) => datalock::for_edit(&data_dir, c.command, c.api)?,
        None => None,
    };
    let broker = load_broker(&data_dir, warren_core::Limits::default(), None)?;
    f(&broker)?;
    if change.is_some() {
        std::fs::create_dir_all(&data_dir)?;
        broker
            .export_definitions()
            .save(&definitions_path(&data_dir))?;
    }
    Ok(())
}

fn user_command(action: UserAction, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let change = |command, api| Some(Change { command, api });
    let change = match &action {
        UserAction::Add { .. } => change("warren user add", "PUT /api/users/{user}"),
        UserAction::Delete { .. } => change("warren user delete", "DELETE /api/users/{user}"),
        UserAction::Passwd { .. } => change("warren user passwd", "PUT /api/users/{user}"),
        UserAction::Tags { .. } => change("warren user tags", "PUT /api/users/{user}"),
        UserAction::List => None,
    };
    edit_definitions(data_dir, change, |b| {
        let db = b.auth();
        match action {
            UserAction::Add {
                name,
                password,
                tags,
            } => {
                db.add_user(&name, &password, &warren_auth::split_tags(&tags))?;
                println!("added user '{name}'");
            }
            UserAction::Delete { name } => {
                db.delete_user(&name)?;
                println!("deleted user '{name}'");
            }
            UserAction::List => {
                for u in db.users() {
                    println!("{}\t[{}]", u.name, u.tags.join(", "));
                }
            }
            UserAction::Passwd { name, password } => {
                db.set_password(&name, Some(&password))?;
                println!("changed the password of '{name}'");
            }
            UserAction::Tags { name, tags } => {
                db.set_tags(&name, &warren_auth::split_tags(&tags))?;
                println!("set the tags of '{name}'");
            }
        }
        Ok(())
    })
}

fn permissions_command(action: PermissionsAction, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let change = match &action {
        PermissionsAction::Set { .. } => Some(Change {
            command: "warren permissions set",
            api: "PUT /api/permissions/{vhost}/{user}",
        }),
        PermissionsAction::Clear { .. } => Some(Change {
            command: "warren permissions clear",
            api: "DELETE /api/permissions/{vhost}/{user}",
        }),
        PermissionsAction::List => None,
    };
    edit_definitions(data_dir, change, |b| {
        let db = b.auth();
        match action {
            PermissionsAction::Set {
                user,
                vhost,
                configure,
                write,
                read,
            } => {
                anyhow::ensure!(b.vhost(&vhost).is_some(), "no vhost '{vhost}'");
                db.set_permissions(&user, &vhost, &configure, &write, &read)?;
                println!("set permissions of '{user}' in vhost '{vhost}'");
            }
            PermissionsAction::Clear { user, vhost } => {
                // As rabbitmqctl clear_permissions: an unknown user or vhost is an error.
                anyhow::ensure!(db.user(&user).is_some(), "no such user '{user}'");
                anyhow::ensure!(b.vhost(&vhost).is_some(), "no vhost '{vhost}'");
                db.clear_permissions(&user, &vhost);
                println!("cleared permissions of '{user}' in vhost '{vhost}'");
            }
            PermissionsAction::List => {
                println!("user\tvhost\tconfigure\twrite\tread");
                for p in db.permissions() {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        p.user, p.vhost, p.configure, p.write, p.read
                    );
                }
            }
        }
        Ok(())
    })
}

fn vhost_command(action: VhostAction, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let change = match &action {
        VhostAction::Add { .. } => Some(Change {
            command: "warren vhost add",
            api: "PUT /api/vhosts/{vhost}",
        }),
        VhostAction::Delete { .. } => Some(Change {
            command: "warren vhost delete",
            api: "DELETE /api/vhosts/{vhost}",
        }),
        VhostAction::List => None,
    };
    edit_definitions(data_dir, change, |b| {
        match action {
            VhostAction::Add { name } => {
                anyhow::ensure!(
                    !name.is_empty() && name.len() <= 255,
                    "invalid vhost name '{name}'"
                );
                b.add_vhost(&name);
                println!("added vhost '{name}'");
            }
            VhostAction::Delete { name } => {
                anyhow::ensure!(b.delete_vhost_unsaved(&name), "no vhost '{name}'");
                println!("deleted vhost '{name}' and everything in it");
            }
            VhostAction::List => {
                let mut names: Vec<String> =
                    b.vhosts().iter().map(|v| v.name.to_string()).collect();
                names.sort();
                for n in names {
                    println!("{n}");
                }
            }
        }
        Ok(())
    })
}

fn token_command(
    action: TokenAction,
    data_dir: Option<PathBuf>,
    config: Option<PathBuf>,
) -> anyhow::Result<()> {
    let file = match &config {
        Some(p) => FileConfig::load(p)?,
        None => FileConfig::default(),
    };
    let jwt = file
        .jwt
        .context("no [jwt] section: pass --config with a [jwt] signing key")?;
    let issuer = warren_auth::TokenIssuer::from_config(&jwt)?;
    let data_dir = data_dir.unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR));
    let broker = load_broker(&data_dir, warren_core::Limits::default(), None)?;
    match action {
        TokenAction::Issue { user } => {
            let t = issuer
                .issue(broker.auth(), &user)
                .with_context(|| format!("issuing a token for '{user}'"))?;
            println!("{}", serde_json::to_string_pretty(&t)?);
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Server { .. }) {
        logging::init(cli.log_format.unwrap_or_default());
    }
    match cli.command {
        Command::Server {
            amqp_listen,
            http_listen,
            prometheus_listen,
            data_dir,
            config,
        } => {
            let file = match &config {
                Some(p) => FileConfig::load(p)?,
                None => FileConfig::default(),
            };
            logging::init(cli.log_format.or(file.log_format).unwrap_or_default());
            let mut settings = Settings::resolve(amqp_listen, http_listen, data_dir, file)?;
            if let Some(p) = prometheus_listen {
                settings.prometheus_listen = Some(config::parse_prometheus_listen(&p)?);
            }
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(run_server(settings))
        }
        Command::Definitions { action, data_dir } => definitions_command(action, data_dir),
        Command::RecoverMessages {
            data_dir,
            config,
            vhost,
            queue,
        } => recover_cmd::run(data_dir, config, vhost, queue),
        Command::Policy { action, data_dir } => policy_cmd::run(
            action,
            data_dir.unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR)),
        ),
        Command::Perf(args) => warren_perf::main(args),
        Command::User { action, data_dir } => user_command(action, data_dir),
        Command::Permissions { action, data_dir } => permissions_command(action, data_dir),
        Command::Vhost { action, data_dir } => vhost_command(action, data_dir),
        Command::Token {
            action,
            data_dir,
            config,
        } => token_command(action, data_dir, config),
    }
}

async fn run_server(settings: Settings) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    // Held until the process exits: offline edits of the definitions and a second broker are
    // refused meanwhile.
    let _lock = datalock::for_server(&settings.data_dir)?;
    let messages_dir = settings.data_dir.join("messages");
    let (store, recovered) = warren_store::Store::open(&messages_dir, settings.store.clone())
        .with_context(|| format!("opening the message store in {}", messages_dir.display()))?;
    refuse_without_definitions(&settings.data_dir, &recovered)?;
    let durability = warren_core::Durability::start(store);
    // Where bodies are paged out under memory pressure; what a previous run left there is
    // wiped (transient messages do not survive a restart).
    let transient_dir = messages_dir.join("transient");
    let pager = warren_core::Pager::open(&transient_dir).with_context(|| {
        format!(
            "opening the transient message store in {}",
            transient_dir.display()
        )
    })?;
    durability.enable_paging(pager);
    let broker = Arc::new(load_broker(
        &settings.data_dir,
        settings.limits.clone(),
        Some(durability.clone()),
    )?);
    broker.persist_definitions_to(definitions_path(&settings.data_dir));
    if let Some(users) = &settings.loopback_users {
        broker.auth().set_loopback_users(users.clone());
    }
    if let Some(jwt) = settings.jwt.as_ref().filter(|j| j.is_enabled()) {
        let v = warren_auth::JwtVerifier::from_config(jwt).context("loading [jwt] keys")?;
        broker.set_jwt_verifier(Some(Arc::new(v)));
        info!(
            "JWT access tokens accepted (audience '{}')",
            jwt.resource_server_id
        );
    }
    let tls = match &settings.tls {
        Some(t) => Some((
            t.clone(),
            warren_server::tls::load_server_config(
                &t.cert_file,
                &t.key_file,
                t.ca_file.as_deref(),
                t.verify_peer,
            )
            .context("loading [tls] certificate and key")?,
        )),
        None => None,
    };
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
    let plain = tls.as_ref().is_none_or(|(t, _)| t.amqp_plain);
    let listeners = if plain {
        let ls = settings.amqp_listen.bind("AMQP").await?;
        for (i, l) in ls.iter().enumerate() {
            if i == 0 {
                info!(
                    "Warren {} AMQP listening on {} (data dir {})",
                    env!("CARGO_PKG_VERSION"),
                    l.local_addr()?,
                    settings.data_dir.display(),
                );
            } else {
                info!("AMQP listening on {}", l.local_addr()?);
            }
        }
        ls
    } else {
        Vec::new()
    };
    let tls_listeners = match &tls {
        Some((t, cfg)) => {
            let addr = t
                .amqps_listen
                .clone()
                .unwrap_or_else(|| config::default_listen(config::DEFAULT_AMQPS_LISTEN));
            let ls = addr.bind("AMQPS").await?;
            for l in &ls {
                info!("AMQPS listening on {}", l.local_addr()?);
            }
            let acceptor = warren_server::tls::TlsAcceptor::from(cfg.clone());
            ls.into_iter().map(|l| (l, acceptor.clone())).collect()
        }
        None => Vec::new(),
    };
    let amqp_addr = listeners.first().map(|l| l.local_addr()).transpose()?;
    let http_config = || {
        let mut c = warren_http::HttpConfig::new(amqp_addr);
        let dir = settings.data_dir.clone();
        c.node = warren_http::NodeResources {
            mem_limit: settings.resources.memory,
            disk_free_limit: settings.resources.disk_free,
            disk_free: Some(Arc::new(move || fs4::available_space(&dir).ok())),
        };
        // POST /api/auth/token signs with the [jwt] key that can sign, if there is one.
        c.token_issuer = settings
            .jwt
            .as_ref()
            .filter(|j| j.is_enabled())
            .and_then(|j| warren_auth::TokenIssuer::from_config(j).ok())
            .map(Arc::new);
        c
    };
    let mut http_servers = Vec::new();
    if tls.as_ref().is_none_or(|(t, _)| t.http_plain) {
        let ls = settings.http_listen.bind("HTTP").await?;
        for l in &ls {
            info!(
                "management HTTP listening on http://{} (API, dashboard, /metrics)",
                l.local_addr()?
            );
        }
        http_servers.push(warren_http::HttpServer::start_many(
            ls,
            broker.clone(),
            http_config(),
        ));
    }
    if let Some((t, cfg)) = &tls {
        if let Some(addr) = &t.https_listen {
            let ls = addr.bind("HTTPS").await?;
            for l in &ls {
                info!(
                    "management HTTPS listening on https://{} (API, dashboard, /metrics)",
                    l.local_addr()?
                );
            }
            http_servers.push(warren_http::HttpServer::start_tls_many(
                ls,
                warren_server::tls::TlsAcceptor::from(cfg.clone()),
                broker.clone(),
                http_config(),
            ));
        }
    }
    if let Some(addr) = &settings.prometheus_listen {
        let l = addr
            .bind("Prometheus")
            .await?
            .into_iter()
            .next()
            .context("no Prometheus listener")?;
        let p = warren_http::HttpServer::start_metrics(l, broker.clone(), http_config());
        info!(
            "Prometheus metrics listening on http://{} (/metrics, /metrics/per-object, /metrics/detailed)",
            p.addr
        );
        http_servers.push(p);
    }
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
    let mut servers = Vec::new();
    // serve() runs the housekeeping; without a plain listener it runs on its own.
    let housekeeping = listeners
        .is_empty()
        .then(|| warren_server::spawn_housekeeping(broker.clone()));
    for (i, l) in listeners.into_iter().enumerate() {
        let serve = if i == 0 {
            tokio::spawn(warren_server::serve(l, broker.clone(), rx.clone()))
        } else {
            tokio::spawn(warren_server::serve_more(l, broker.clone(), rx.clone()))
        };
        servers.push(serve);
    }
    for (l, acceptor) in tls_listeners {
        servers.push(tokio::spawn(warren_server::serve_tls(
            l,
            acceptor,
            broker.clone(),
            rx.clone(),
        )));
    }
    drop(broker);
    shutdown_signal().await;
    info!("shutting down");
    let _ = tx.send(true);
    for s in servers {
        let _ = s.await;
    }
    if let Some(h) = housekeeping {
        h.abort();
    }
    for h in http_servers {
        h.stop();
    }
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
