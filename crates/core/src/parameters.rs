//! Runtime parameters, as RabbitMQ keeps them: per-vhost parameters (`component`, `vhost`,
//! `name`, `value`: federation upstreams, shovels, the vhost limits...) and global ones (`name`,
//! `value`: `cluster_name`...). Values are opaque JSON: federation and shovels do not run in
//! Warren, but their definitions are kept, listed by the management API and exported and
//! imported as RabbitMQ's `parameters` and `global_parameters` sections (so they are durable
//! as the rest of the definitions file).
//!
//! One component is interpreted: `vhost-limits` (name `limits`, value
//! `{"max-connections": n, "max-queues": n}`), which the broker applies to its vhost
//! ([`VHost::max_queues`](crate::vhost::VHost)); the server checks `max-connections` at
//! `connection.open`.

use std::collections::BTreeMap;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::broker::Broker;

/// The component that holds a vhost's limits, under the name [`VHOST_LIMITS_NAME`].
pub const VHOST_LIMITS: &str = "vhost-limits";
pub const VHOST_LIMITS_NAME: &str = "limits";
/// The limits a vhost may have (RabbitMQ 3.10).
pub const VHOST_LIMIT_KEYS: [&str; 2] = ["max-connections", "max-queues"];
/// The limits a user may have (RabbitMQ 3.10).
pub const USER_LIMIT_KEYS: [&str; 2] = ["max-connections", "max-channels"];

/// Components whose parameters are accepted (stored as given): those of RabbitMQ's
/// federation and shovel plugins, and the vhost limits. RabbitMQ refuses any other with
/// "component ... not found" (as it does these when their plugin is off).
pub const KNOWN_COMPONENTS: [&str; 4] = [
    "federation-upstream",
    "federation-upstream-set",
    "shovel",
    VHOST_LIMITS,
];

/// The global parameter that names the cluster (`PUT /api/cluster-name`).
pub const CLUSTER_NAME: &str = "cluster_name";

/// A per-vhost parameter, in the order RabbitMQ's API and definitions show its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParameterInfo {
    pub value: Value,
    pub vhost: String,
    pub component: String,
    pub name: String,
}

/// A global parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalParameterInfo {
    pub name: String,
    pub value: Value,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParameterError {
    /// RabbitMQ's "Validation failed" reasons (the API adds its prefix).
    #[error("{0}")]
    Invalid(String),
    #[error("vhost_not_found")]
    NoSuchVhost,
}

#[derive(Debug, Default, Clone)]
struct State {
    /// (vhost, component, name) -> value.
    vhost: BTreeMap<(String, String, String), Value>,
    global: BTreeMap<String, Value>,
}

/// The parameter store (inside the [`Broker`]).
#[derive(Debug, Default)]
pub struct Parameters {
    state: RwLock<State>,
}

fn key(component: &str, vhost: &str, name: &str) -> (String, String, String) {
    (vhost.to_string(), component.to_string(), name.to_string())
}

/// A copy of every parameter, to put back with [`Parameters::restore`].
#[derive(Debug, Clone)]
pub struct ParametersSnapshot(State);

impl Parameters {
    /// A copy of the whole store (to undo a change that could not be saved).
    pub fn snapshot(&self) -> ParametersSnapshot {
        ParametersSnapshot(self.state.read().clone())
    }

    /// Puts back what [`Parameters::snapshot`] copied.
    pub fn restore(&self, snapshot: &ParametersSnapshot) {
        *self.state.write() = snapshot.0.clone();
    }

    /// The vhost parameters, by vhost, component and name; only those of `component` and/or
    /// `vhost` if given.
    pub fn list(&self, component: Option<&str>, vhost: Option<&str>) -> Vec<ParameterInfo> {
        self.state
            .read()
            .vhost
            .iter()
            .filter(|((v, c, _), _)| {
                component.is_none_or(|x| x == c) && vhost.is_none_or(|x| x == v)
            })
            .map(|((v, c, n), value)| ParameterInfo {
                value: value.clone(),
                vhost: v.clone(),
                component: c.clone(),
                name: n.clone(),
            })
            .collect()
    }

    pub fn get(&self, component: &str, vhost: &str, name: &str) -> Option<Value> {
        self.state
            .read()
            .vhost
            .get(&key(component, vhost, name))
            .cloned()
    }

    /// Sets a parameter; true if it is new.
    pub fn set(&self, component: &str, vhost: &str, name: &str, value: Value) -> bool {
        self.state
            .write()
            .vhost
            .insert(key(component, vhost, name), value)
            .is_none()
    }

    /// Removes a parameter; false if there was none.
    pub fn clear(&self, component: &str, vhost: &str, name: &str) -> bool {
        self.state
            .write()
            .vhost
            .remove(&key(component, vhost, name))
            .is_some()
    }

    /// Drops every parameter of a deleted vhost.
    pub fn clear_vhost(&self, vhost: &str) {
        self.state.write().vhost.retain(|(v, _, _), _| v != vhost);
    }

    /// The global parameters, by name.
    pub fn globals(&self) -> Vec<GlobalParameterInfo> {
        self.state
            .read()
            .global
            .iter()
            .map(|(n, v)| GlobalParameterInfo {
                name: n.clone(),
                value: v.clone(),
            })
            .collect()
    }

    pub fn global(&self, name: &str) -> Option<Value> {
        self.state.read().global.get(name).cloned()
    }

    /// Sets a global parameter; true if it is new.
    pub fn set_global(&self, name: &str, value: Value) -> bool {
        self.state
            .write()
            .global
            .insert(name.to_string(), value)
            .is_none()
    }

    /// Removes a global parameter; false if there was none.
    pub fn clear_global(&self, name: &str) -> bool {
        self.state.write().global.remove(name).is_some()
    }
}

/// A limit's value as RabbitMQ validates it: an integer (negative: no limit).
fn limit_value(name: &str, v: &Value) -> Result<i64, String> {
    v.as_i64()
        .ok_or_else(|| format!("{name} should be a number, actually was {}", erlang_term(v)))
}

/// A JSON value as RabbitMQ prints it in its validation errors (`<<"x">>` for strings).
fn erlang_term(v: &Value) -> String {
    match v {
        Value::String(s) => format!("<<\"{s}\">>"),
        other => other.to_string(),
    }
}

/// Checks a limits object: only `keys`, integer values. `what` names the object in the error
/// (`limits`, `user-limits`).
pub fn validate_limits(m: &Map<String, Value>, keys: &[&str], what: &str) -> Result<(), String> {
    let unknown: Vec<String> = m
        .iter()
        .filter(|(k, _)| !keys.contains(&k.as_str()))
        .map(|(k, v)| format!("{{<<\"{k}\">>,{}}}", erlang_term(v)))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "Unrecognised terms [{}] in {what}",
            unknown.join(",")
        ));
    }
    for (k, v) in m {
        limit_value(k, v)?;
    }
    Ok(())
}

/// A limit in a limits value: None when unset or negative (no limit).
pub fn limit_of(limits: &Value, name: &str) -> Option<u64> {
    limits
        .get(name)
        .and_then(Value::as_i64)
        .and_then(|n| u64::try_from(n).ok())
}

impl Broker {
    /// Sets a vhost parameter (`component` must be one of [`KNOWN_COMPONENTS`]; the vhost must
    /// exist). Returns true if it is new. The caller saves it
    /// ([`Broker::change_settings_durably`]).
    pub fn set_parameter(
        &self,
        component: &str,
        vhost: &str,
        name: &str,
        value: Value,
    ) -> Result<bool, ParameterError> {
        if !KNOWN_COMPONENTS.contains(&component) {
            return Err(ParameterError::Invalid(format!(
                "component {component} not found"
            )));
        }
        let v = self.vhost(vhost).ok_or(ParameterError::NoSuchVhost)?;
        if component == VHOST_LIMITS {
            match &value {
                Value::Object(m) => validate_limits(m, &VHOST_LIMIT_KEYS, "limits")
                    .map_err(ParameterError::Invalid)?,
                // What RabbitMQ leaves once the last limit is cleared.
                Value::Array(a) if a.is_empty() => {}
                other => {
                    return Err(ParameterError::Invalid(format!(
                        "limits not a list {}",
                        erlang_term(other)
                    )))
                }
            }
        }
        let new = self.parameters().set(component, vhost, name, value);
        if component == VHOST_LIMITS {
            self.apply_vhost_limits(&v);
        }
        Ok(new)
    }

    /// Removes a vhost parameter; false if there was none. The caller
    /// saves it ([`Broker::change_settings_durably`]).
    pub fn clear_parameter(&self, component: &str, vhost: &str, name: &str) -> bool {
        if !self.parameters().clear(component, vhost, name) {
            return false;
        }
        if let Some(v) = self.vhost(vhost).filter(|_| component == VHOST_LIMITS) {
            self.apply_vhost_limits(&v);
        }
        true
    }

    /// A vhost's limits (`{}` when none; RabbitMQ's `[]` once the last was cleared).
    pub fn vhost_limits(&self, vhost: &str) -> Option<Value> {
        self.parameters()
            .get(VHOST_LIMITS, vhost, VHOST_LIMITS_NAME)
    }

    /// Sets one limit of a vhost (`max-connections`, `max-queues`; negative: no limit).
    pub fn set_vhost_limit(
        &self,
        vhost: &str,
        name: &str,
        value: &Value,
    ) -> Result<(), ParameterError> {
        self.vhost(vhost).ok_or(ParameterError::NoSuchVhost)?;
        let mut m = match self.vhost_limits(vhost) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        m.insert(name.to_string(), value.clone());
        validate_limits(&m, &VHOST_LIMIT_KEYS, "limits").map_err(ParameterError::Invalid)?;
        self.set_parameter(VHOST_LIMITS, vhost, VHOST_LIMITS_NAME, Value::Object(m))
            .map(|_| ())
    }

    /// Clears one limit of a vhost. As RabbitMQ, the limits parameter stays (as `[]` when it
    /// was the last one, even when there was none).
    pub fn clear_vhost_limit(&self, vhost: &str, name: &str) -> Result<(), ParameterError> {
        self.vhost(vhost).ok_or(ParameterError::NoSuchVhost)?;
        let mut m = match self.vhost_limits(vhost) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        m.remove(name);
        let value = if m.is_empty() {
            Value::Array(Vec::new())
        } else {
            Value::Object(m)
        };
        self.set_parameter(VHOST_LIMITS, vhost, VHOST_LIMITS_NAME, value)
            .map(|_| ())
    }

    /// Copies the vhost's `max-queues` into the vhost, which checks it on every new queue.
    pub(crate) fn apply_vhost_limits(&self, v: &crate::vhost::VHost) {
        let limits = self.vhost_limits(&v.name).unwrap_or(Value::Null);
        v.set_max_queues(limit_of(&limits, "max-queues"));
    }

    /// The vhost's `max-connections`, if it has one.
    pub fn vhost_max_connections(&self, vhost: &str) -> Option<u64> {
        limit_of(&self.vhost_limits(vhost)?, "max-connections")
    }

    /// The cluster name set by `PUT /api/cluster-name` (a global parameter), if any.
    pub fn cluster_name(&self) -> Option<String> {
        match self.parameters().global(CLUSTER_NAME)? {
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        }
    }

    /// Sets the cluster name (the caller saves it: [`Broker::change_settings_durably`]).
    pub fn set_cluster_name(&self, name: &str) {
        self.parameters()
            .set_global(CLUSTER_NAME, Value::String(name.to_string()));
    }

    /// Imports definitions' `parameters` and `global_parameters` entries (overwriting those
    /// of the same names). Entries of components Warren does not know are kept as they are.
    pub(crate) fn import_parameters(
        &self,
        parameters: &[Value],
        globals: &[Value],
    ) -> Result<(), crate::definitions::DefinitionsError> {
        for p in parameters {
            let info: ParameterInfo = serde_json::from_value(p.clone())?;
            let v = self.add_vhost(&info.vhost);
            self.parameters()
                .set(&info.component, &info.vhost, &info.name, info.value);
            if info.component == VHOST_LIMITS {
                self.apply_vhost_limits(&v);
            }
        }
        for g in globals {
            let info: GlobalParameterInfo = serde_json::from_value(g.clone())?;
            self.parameters().set_global(&info.name, info.value);
        }
        Ok(())
    }

    /// The `parameters` and `global_parameters` sections of an export.
    pub(crate) fn export_parameters(&self) -> (Vec<Value>, Vec<Value>) {
        let p = self.parameters();
        (
            p.list(None, None)
                .into_iter()
                .filter_map(|x| serde_json::to_value(x).ok())
                .collect(),
            p.globals()
                .into_iter()
                .filter_map(|x| serde_json::to_value(x).ok())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limits_are_validated_as_rabbitmq() {
        let m = json!({"max-foo": 3}).as_object().cloned().unwrap();
        assert_eq!(
            validate_limits(&m, &VHOST_LIMIT_KEYS, "limits").unwrap_err(),
            "Unrecognised terms [{<<\"max-foo\">>,3}] in limits"
        );
        let m = json!({"max-queues": "x"}).as_object().cloned().unwrap();
        assert_eq!(
            validate_limits(&m, &VHOST_LIMIT_KEYS, "limits").unwrap_err(),
            "max-queues should be a number, actually was <<\"x\">>"
        );
        let m = json!({"max-queues": 1.5}).as_object().cloned().unwrap();
        assert!(validate_limits(&m, &VHOST_LIMIT_KEYS, "limits").is_err());
        assert_eq!(limit_of(&json!({"max-queues": -1}), "max-queues"), None);
        assert_eq!(limit_of(&json!({"max-queues": 0}), "max-queues"), Some(0));
    }
}
