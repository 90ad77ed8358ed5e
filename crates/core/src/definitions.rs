//! Definitions (vhosts, durable exchanges, durable queues, bindings) in the JSON shape of
//! RabbitMQ's definitions export, so files move between RabbitMQ and Warren both ways.
//!
//! Users, permissions and topic permissions live in the broker's user database
//! (`warren_auth::AuthDb`); `parameters` and `global_parameters` in the parameter store
//! (`crate::parameters`), whose values are kept as they were read and written back unchanged,
//! so an import followed by an export loses nothing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use warren_amqp::{ExchangeDeclare, FieldTable, FieldValue, QueueDeclare, ShortStr};

use crate::broker::Broker;
use crate::error::AmqpError;
use crate::exchange::{Destination, ExchangeKind};
use crate::policy::Policy;
use crate::vhost_meta::VHostMetadata;

#[derive(Debug, thiserror::Error)]
pub enum DefinitionsError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid definitions JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{what}: {error}")]
    Refused { what: String, error: AmqpError },
    #[error("name too long (over 255 bytes): {0}")]
    NameTooLong(String),
    #[error("users and permissions: {0}")]
    Auth(#[from] warren_auth::AuthDbError),
    #[error("{what}: {reason}")]
    Policy { what: String, reason: String },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Definitions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rabbit_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rabbitmq_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_version: Option<String>,
    #[serde(default)]
    pub users: Vec<warren_auth::UserInfo>,
    #[serde(default)]
    pub vhosts: Vec<VHostDef>,
    #[serde(default)]
    pub permissions: Vec<warren_auth::PermissionInfo>,
    #[serde(default)]
    pub topic_permissions: Vec<warren_auth::TopicPermissionInfo>,
    #[serde(default)]
    pub parameters: Vec<Value>,
    #[serde(default)]
    pub global_parameters: Vec<Value>,
    #[serde(default)]
    pub policies: Vec<Value>,
    #[serde(default)]
    pub queues: Vec<QueueDef>,
    #[serde(default)]
    pub exchanges: Vec<ExchangeDef>,
    #[serde(default)]
    pub bindings: Vec<BindingDef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VHostDef {
    pub name: String,
    /// Other fields (limits, metadata, tracing...) kept as read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueueDef {
    pub name: String,
    pub vhost: String,
    #[serde(default = "yes")]
    pub durable: bool,
    #[serde(default)]
    pub auto_delete: bool,
    #[serde(default)]
    pub arguments: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExchangeDef {
    pub name: String,
    pub vhost: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default = "yes")]
    pub durable: bool,
    #[serde(default)]
    pub auto_delete: bool,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub arguments: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BindingDef {
    pub source: String,
    pub vhost: String,
    pub destination: String,
    pub destination_type: String,
    #[serde(default)]
    pub routing_key: String,
    #[serde(default)]
    pub arguments: serde_json::Map<String, Value>,
}

fn yes() -> bool {
    true
}

fn short(s: &str) -> Result<ShortStr, DefinitionsError> {
    ShortStr::try_from(s).map_err(|_| DefinitionsError::NameTooLong(s.to_string()))
}

/// JSON value -> AMQP field value (numbers become long/double, objects tables).
pub fn json_to_field(v: &Value) -> FieldValue {
    match v {
        Value::Null => FieldValue::Void,
        Value::Bool(b) => FieldValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => FieldValue::I64(i),
            None => FieldValue::F64(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => FieldValue::LongStr(Bytes::copy_from_slice(s.as_bytes())),
        Value::Array(a) => FieldValue::Array(a.iter().map(json_to_field).collect()),
        Value::Object(o) => FieldValue::Table(json_to_table(o)),
    }
}

pub fn json_to_table(o: &serde_json::Map<String, Value>) -> FieldTable {
    let mut t = FieldTable::new();
    for (k, v) in o {
        if let Ok(key) = ShortStr::try_from(k.as_str()) {
            t.insert(key, json_to_field(v));
        }
    }
    t
}

/// AMQP field value -> JSON, as RabbitMQ's export writes arguments.
pub fn field_to_json(v: &FieldValue) -> Value {
    match v {
        FieldValue::Bool(b) => Value::Bool(*b),
        FieldValue::F32(f) => serde_json::json!(f),
        FieldValue::F64(f) => serde_json::json!(f),
        FieldValue::Decimal { scale, value } => {
            serde_json::json!(f64::from(*value) / 10f64.powi(i32::from(*scale)))
        }
        FieldValue::LongStr(b) | FieldValue::ByteArray(b) => {
            Value::String(String::from_utf8_lossy(b).into_owned())
        }
        FieldValue::Array(a) => Value::Array(a.iter().map(field_to_json).collect()),
        FieldValue::Timestamp(t) => serde_json::json!(t),
        FieldValue::Table(t) => Value::Object(table_to_json(t)),
        FieldValue::Void => Value::Null,
        other => other.as_i64().map(Value::from).unwrap_or(Value::Null),
    }
}

pub fn table_to_json(t: &FieldTable) -> serde_json::Map<String, Value> {
    t.iter()
        .map(|(k, v)| (k.to_string(), field_to_json(v)))
        .collect()
}

impl Definitions {
    pub fn from_json(text: &str) -> Result<Definitions, DefinitionsError> {
        Ok(serde_json::from_str(text)?)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_string())
    }

    /// Reads a definitions file; a missing file is an empty set.
    pub fn load(path: &Path) -> Result<Definitions, DefinitionsError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Definitions::from_json(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Definitions::default()),
            Err(source) => Err(DefinitionsError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Writes atomically: a temp file, fsync, rename over the target, fsync the directory. A
    /// crash at any point leaves either the old file or the new one, never a mix.
    pub fn save(&self, path: &Path) -> Result<(), DefinitionsError> {
        let io = |source| DefinitionsError::Io {
            path: path.display().to_string(),
            source,
        };
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let tmp = path.with_extension("json.tmp");
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(self.to_json().as_bytes())?;
            f.sync_all()
        });
        if let Err(e) = written {
            // A full disk: what was written of the new file goes, the old file stays.
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        std::fs::rename(&tmp, path).map_err(io)?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        Ok(())
    }
}

/// The RabbitMQ version whose management API and definitions Warren follows: what it reports
/// as `rabbitmq_version` (tools gate features on it); Warren's own is `product_version`.
pub const RABBITMQ_VERSION: &str = "3.10.8";

impl Broker {
    /// The broker's durable definitions, with the sections Warren keeps verbatim: what the
    /// definitions file holds.
    pub fn export_definitions(&self) -> Definitions {
        self.definitions(false)
    }

    /// What `GET /api/definitions` exports: as RabbitMQ 3.10.8, the transient (non-durable,
    /// auto-delete) exchanges and queues and their bindings too, but no exclusive queue nor
    /// a binding to one.
    pub fn export_all_definitions(&self) -> Definitions {
        self.definitions(true)
    }

    fn definitions(&self, transient: bool) -> Definitions {
        let mut d = self.retained_definitions();
        d.rabbit_version = Some(RABBITMQ_VERSION.to_string());
        d.rabbitmq_version = Some(RABBITMQ_VERSION.to_string());
        d.product_name = Some("Warren".to_string());
        d.product_version = Some(env!("CARGO_PKG_VERSION").to_string());
        let mut vhosts = self.vhosts();
        vhosts.sort_by(|a, b| a.name.cmp(&b.name));
        d.vhosts = vhosts
            .iter()
            .map(|v| VHostDef {
                name: v.name.to_string(),
                extra: v.metadata.read().definitions_fields().into_iter().collect(),
            })
            .collect();
        d.policies = vhosts
            .iter()
            .flat_map(|v| v.policies())
            .map(|p| p.to_json())
            .collect();
        for v in &vhosts {
            let vname = v.name.to_string();
            let mut exchanges = v.exchanges();
            exchanges.sort_by(|a, b| a.name.cmp(&b.name));
            for x in &exchanges {
                let builtin = x.is_default() || x.name.starts_with("amq.");
                let kept = |durable: bool| durable || transient;
                if kept(x.durable) && !builtin {
                    d.exchanges.push(ExchangeDef {
                        name: x.name.to_string(),
                        vhost: vname.clone(),
                        kind: x.kind.as_str().to_string(),
                        durable: x.durable,
                        auto_delete: x.auto_delete,
                        internal: x.internal,
                        arguments: table_to_json(&x.arguments),
                    });
                }
                if !kept(x.durable) || x.is_default() {
                    continue;
                }
                for b in x.bindings() {
                    let (dest_type, durable) = match &b.destination {
                        Destination::Queue(q) => {
                            ("queue", kept(q.durable) && q.exclusive_owner.is_none())
                        }
                        Destination::Exchange(n) => {
                            ("exchange", v.exchange(n).is_ok_and(|e| kept(e.durable)))
                        }
                    };
                    if durable {
                        d.bindings.push(BindingDef {
                            source: x.name.to_string(),
                            vhost: vname.clone(),
                            destination: b.destination.name().to_string(),
                            destination_type: dest_type.to_string(),
                            routing_key: b.routing_key.to_string(),
                            arguments: table_to_json(&b.arguments),
                        });
                    }
                }
            }
            let mut queues = v.queues();
            queues.sort_by(|a, b| a.name.cmp(&b.name));
            for q in queues {
                if (q.durable || transient) && q.exclusive_owner.is_none() {
                    d.queues.push(QueueDef {
                        name: q.name.to_string(),
                        vhost: vname.clone(),
                        durable: q.durable,
                        auto_delete: q.auto_delete,
                        arguments: table_to_json(&q.arguments),
                    });
                }
            }
        }
        d
    }

    /// Creates what `d` describes (vhosts, exchanges, queues, bindings); existing equivalent
    /// objects are left alone, conflicting ones are an error naming the object. Sections Warren
    /// does not interpret are kept for the next export.
    pub fn import_definitions(&self, d: &Definitions) -> Result<(), DefinitionsError> {
        {
            self.auth()
                .import(&d.users, &d.permissions, &d.topic_permissions)?;
            self.import_parameters(&d.parameters, &d.global_parameters)?;
        }
        for p in &d.policies {
            let policy = policy_from_json(p)?;
            self.add_vhost(&policy.vhost).set_policy(policy);
        }
        for v in &d.vhosts {
            let fields: serde_json::Map<String, Value> = v.extra.clone().into_iter().collect();
            *self.add_vhost(&v.name).metadata.write() = VHostMetadata::from_json(&fields);
        }
        let refused =
            |what: String| move |error: AmqpError| DefinitionsError::Refused { what, error };
        for x in &d.exchanges {
            let vhost = self.add_vhost(&x.vhost);
            if x.name.is_empty() || x.name.starts_with("amq.") {
                continue;
            }
            if ExchangeKind::parse(&x.kind).is_none() {
                // Plugin exchange types (x-delayed-message, x-consistent-hash...) are not built in.
                return Err(DefinitionsError::Refused {
                    what: format!("exchange '{}' in vhost '{}'", x.name, x.vhost),
                    error: AmqpError::command_invalid(format!(
                        "unknown exchange type '{}'",
                        x.kind
                    )),
                });
            }
            vhost
                .declare_exchange(&ExchangeDeclare {
                    exchange: short(&x.name)?,
                    kind: short(&x.kind)?,
                    passive: false,
                    durable: x.durable,
                    auto_delete: x.auto_delete,
                    internal: x.internal,
                    no_wait: false,
                    arguments: json_to_table(&x.arguments),
                })
                .map_err(refused(format!(
                    "exchange '{}' in vhost '{}'",
                    x.name, x.vhost
                )))?;
        }
        for q in &d.queues {
            let vhost = self.add_vhost(&q.vhost);
            vhost
                .declare_queue(
                    0,
                    &QueueDeclare {
                        queue: short(&q.name)?,
                        passive: false,
                        durable: q.durable,
                        exclusive: false,
                        auto_delete: q.auto_delete,
                        no_wait: false,
                        arguments: json_to_table(&q.arguments),
                    },
                )
                .map_err(refused(format!(
                    "queue '{}' in vhost '{}'",
                    q.name, q.vhost
                )))?;
        }
        for b in &d.bindings {
            let vhost = self.add_vhost(&b.vhost);
            let what = format!(
                "binding from '{}' to {} '{}' in vhost '{}'",
                b.source, b.destination_type, b.destination, b.vhost
            );
            let key = short(&b.routing_key)?;
            let args = json_to_table(&b.arguments);
            let r = if b.destination_type == "exchange" {
                vhost.bind_exchange(&short(&b.destination)?, &short(&b.source)?, &key, &args)
            } else {
                vhost
                    .queue(&b.destination, 0)
                    .and_then(|q| vhost.bind_queue(&q, &b.source, &key, &args))
            };
            r.map_err(refused(what))?;
        }
        Ok(())
    }
}

/// A policy in RabbitMQ's definitions shape: `vhost`, `name`, `pattern`, `apply-to`
/// (default `all`), `definition`, `priority` (default 0).
pub fn policy_from_json(v: &Value) -> Result<Policy, DefinitionsError> {
    let field = |k: &str| v.get(k).and_then(Value::as_str);
    let name = field("name").unwrap_or_default();
    let vhost = field("vhost").unwrap_or("/");
    let what = format!("policy '{name}' in vhost '{vhost}'");
    let bad = |reason: String| DefinitionsError::Policy {
        what: what.clone(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("a policy needs a name".into()));
    }
    let pattern = field("pattern").ok_or_else(|| bad("a policy needs a pattern".into()))?;
    let definition = v
        .get("definition")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| bad("a policy needs a definition object".into()))?;
    let priority = match v.get("priority") {
        None | Some(Value::Null) => 0,
        Some(p) => p
            .as_i64()
            .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| bad(format!("{p} is not a valid priority")))?,
    };
    Policy::new(
        short(vhost)?,
        short(name)?,
        pattern,
        field("apply-to").unwrap_or("all"),
        priority,
        definition,
    )
    .map_err(|e| bad(e.to_string()))
}
