//! Policies: queue and exchange settings applied by name pattern, as in RabbitMQ.
//!
//! A policy has a name, a regular expression matched against queue and/or exchange names, a
//! priority, and a definition (`message-ttl`, `expires`, `max-length`, `max-length-bytes`,
//! `overflow`, `dead-letter-exchange`, `dead-letter-routing-key`, `consumer-timeout` for
//! queues; `alternate-exchange` for exchanges). At most one policy applies to an object: the
//! matching one with the highest priority. Policies change running queues at once.
//!
//! When a queue has both an argument and a policy value for a key, RabbitMQ's rules decide:
//! for the limits (`message-ttl`, `expires`, `max-length`, `max-length-bytes`) the smaller value
//! wins; for the rest the queue's own argument wins.

use regex::Regex;
use serde_json::{Map, Value};
use warren_amqp::ShortStr;

use crate::arguments::{Overflow, QueueArgs};

/// What a policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyTo {
    Queues,
    Exchanges,
    All,
}

impl ApplyTo {
    /// RabbitMQ's names; `classic_queues` (what Warren's queues are) counts as `queues`.
    pub fn parse(s: &str) -> Option<ApplyTo> {
        match s {
            "queues" | "classic_queues" => Some(ApplyTo::Queues),
            "exchanges" => Some(ApplyTo::Exchanges),
            "all" => Some(ApplyTo::All),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApplyTo::Queues => "queues",
            ApplyTo::Exchanges => "exchanges",
            ApplyTo::All => "all",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("invalid pattern '{pattern}': {reason}")]
    Pattern { pattern: String, reason: String },
    #[error("'{0}' is not a valid apply-to value (queues, exchanges, all)")]
    ApplyTo(String),
    #[error("{0}")]
    Definition(String),
    #[error("the policy definition is empty")]
    Empty,
}

/// The settings a policy gives queues.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyQueueArgs {
    pub message_ttl: Option<u64>,
    pub expires: Option<u64>,
    pub max_length: Option<u64>,
    pub max_length_bytes: Option<u64>,
    pub overflow: Option<Overflow>,
    pub dead_letter_exchange: Option<ShortStr>,
    pub dead_letter_routing_key: Option<ShortStr>,
    pub consumer_timeout: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub vhost: ShortStr,
    pub name: ShortStr,
    pub pattern: String,
    regex: Regex,
    pub apply_to: ApplyTo,
    pub priority: i64,
    /// The definition as given (exported back verbatim).
    pub definition: Map<String, Value>,
    pub queue: PolicyQueueArgs,
    pub alternate_exchange: Option<ShortStr>,
}

/// Keys RabbitMQ accepts that mean nothing for Warren's queues (mirroring, queue modes,
/// quorum/stream settings, federation...): accepted so RabbitMQ definitions import, and ignored.
const IGNORED_KEYS: &[&str] = &[
    "ha-mode",
    "ha-params",
    "ha-sync-mode",
    "ha-sync-batch-size",
    "ha-promote-on-shutdown",
    "ha-promote-on-failure",
    "queue-mode",
    "queue-version",
    "queue-master-locator",
    "queue-leader-locator",
    "max-in-memory-length",
    "max-in-memory-bytes",
    "delivery-limit",
    "max-age",
    "max-segment-size",
    "stream-max-segment-size-bytes",
    "initial-cluster-size",
    "federation-upstream",
    "federation-upstream-set",
];

impl Policy {
    /// Checks a policy as RabbitMQ's validators do (same messages) and compiles its pattern.
    pub fn new(
        vhost: ShortStr,
        name: ShortStr,
        pattern: &str,
        apply_to: &str,
        priority: i64,
        definition: Map<String, Value>,
    ) -> Result<Policy, PolicyError> {
        let regex = Regex::new(pattern).map_err(|e| PolicyError::Pattern {
            pattern: pattern.to_string(),
            reason: e.to_string(),
        })?;
        let apply_to =
            ApplyTo::parse(apply_to).ok_or_else(|| PolicyError::ApplyTo(apply_to.to_string()))?;
        if definition.is_empty() {
            return Err(PolicyError::Empty);
        }
        let mut queue = PolicyQueueArgs::default();
        let mut alternate_exchange = None;
        for (key, value) in &definition {
            let bad =
                |what: &str| PolicyError::Definition(format!("{value} is not a valid {what}"));
            let int = |min: i64, what: &str| {
                value
                    .as_i64()
                    .filter(|n| *n >= min)
                    .map(|n| n as u64)
                    .ok_or_else(|| bad(what))
            };
            let shortstr = |what: &str| {
                value
                    .as_str()
                    .and_then(|s| ShortStr::try_from(s).ok())
                    .ok_or_else(|| bad(what))
            };
            match key.as_str() {
                "message-ttl" => queue.message_ttl = Some(int(0, "message TTL")?),
                "expires" => queue.expires = Some(int(1, "queue expiry")?),
                "max-length" => queue.max_length = Some(int(0, "maximum length")?),
                "max-length-bytes" => {
                    queue.max_length_bytes = Some(int(0, "maximum length in bytes")?)
                }
                "consumer-timeout" => queue.consumer_timeout = Some(int(0, "consumer timeout")?),
                "overflow" => {
                    queue.overflow = Some(match value.as_str() {
                        Some("drop-head") => Overflow::DropHead,
                        Some("reject-publish") => Overflow::RejectPublish,
                        Some("reject-publish-dlx") => Overflow::RejectPublishDlx,
                        _ => return Err(bad("overflow value")),
                    })
                }
                "dead-letter-exchange" => {
                    queue.dead_letter_exchange = Some(shortstr("dead letter exchange name")?)
                }
                "dead-letter-routing-key" => {
                    queue.dead_letter_routing_key = Some(shortstr("dead letter routing key")?)
                }
                "alternate-exchange" => {
                    alternate_exchange = Some(shortstr("alternate exchange name")?)
                }
                k if IGNORED_KEYS.contains(&k) => {
                    tracing::warn!("policy '{name}': key '{k}' has no effect in Warren")
                }
                k => {
                    return Err(PolicyError::Definition(format!(
                        "Validation failed\n\n[{{<<\"{k}\">>,{value}}}] are not recognised policy settings"
                    )))
                }
            }
        }
        Ok(Policy {
            vhost,
            name,
            pattern: pattern.to_string(),
            regex,
            apply_to,
            priority,
            definition,
            queue,
            alternate_exchange,
        })
    }

    pub fn applies_to_queue(&self, name: &str) -> bool {
        self.apply_to != ApplyTo::Exchanges && self.regex.is_match(name)
    }

    pub fn applies_to_exchange(&self, name: &str) -> bool {
        self.apply_to != ApplyTo::Queues && self.regex.is_match(name)
    }

    /// The policy in RabbitMQ's definitions/HTTP shape.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "vhost": self.vhost.as_str(),
            "name": self.name.as_str(),
            "pattern": self.pattern,
            "apply-to": self.apply_to.as_str(),
            "definition": self.definition,
            "priority": self.priority,
        })
    }
}

/// The policy that applies: the highest priority among those that match (the first of equals).
pub fn select(policies: &[Policy], matches: impl Fn(&Policy) -> bool) -> Option<&Policy> {
    policies
        .iter()
        .filter(|p| matches(p))
        .fold(None, |best: Option<&Policy>, p| match best {
            Some(b) if b.priority >= p.priority => Some(b),
            _ => Some(p),
        })
}

/// A queue's effective settings: its arguments, with the policy's values merged in by
/// RabbitMQ's rules (the smaller limit wins; otherwise the argument wins).
pub fn effective_queue_args(args: &QueueArgs, policy: Option<&Policy>) -> QueueArgs {
    let Some(p) = policy.map(|p| &p.queue) else {
        return args.clone();
    };
    let min = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    QueueArgs {
        message_ttl: min(args.message_ttl, p.message_ttl),
        expires: min(args.expires, p.expires),
        max_length: min(args.max_length, p.max_length),
        max_length_bytes: min(args.max_length_bytes, p.max_length_bytes),
        overflow: if args.overflow_set {
            args.overflow
        } else {
            p.overflow.unwrap_or(args.overflow)
        },
        dead_letter_exchange: args
            .dead_letter_exchange
            .clone()
            .or_else(|| p.dead_letter_exchange.clone()),
        dead_letter_routing_key: args
            .dead_letter_routing_key
            .clone()
            .or_else(|| p.dead_letter_routing_key.clone()),
        consumer_timeout: args.consumer_timeout.or(p.consumer_timeout),
        ..args.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(pattern: &str, priority: i64, def: Value) -> Result<Policy, PolicyError> {
        Policy::new(
            ShortStr::from_static("/"),
            ShortStr::from_static("p"),
            pattern,
            "all",
            priority,
            def.as_object().unwrap().clone(),
        )
    }

    #[test]
    fn definitions_are_checked_with_rabbitmqs_wording() {
        assert_eq!(
            policy("^q", 0, json!({"message-ttl": -1})).unwrap_err(),
            PolicyError::Definition("-1 is not a valid message TTL".into())
        );
        assert_eq!(
            policy("^q", 0, json!({"expires": 0})).unwrap_err(),
            PolicyError::Definition("0 is not a valid queue expiry".into())
        );
        assert_eq!(
            policy("^q", 0, json!({"overflow": "drop-tail"})).unwrap_err(),
            PolicyError::Definition("\"drop-tail\" is not a valid overflow value".into())
        );
        assert!(matches!(
            policy("^q", 0, json!({"max-lenght": 1})).unwrap_err(),
            PolicyError::Definition(m) if m.contains("are not recognised policy settings")
        ));
        assert!(matches!(
            policy("(", 0, json!({"max-length": 1})).unwrap_err(),
            PolicyError::Pattern { .. }
        ));
        assert_eq!(policy("^q", 0, json!({})).unwrap_err(), PolicyError::Empty);
        // Mirroring keys from RabbitMQ definitions are accepted and ignored.
        assert!(policy("^q", 0, json!({"ha-mode": "all", "max-length": 3})).is_ok());
    }

    #[test]
    fn the_highest_priority_match_applies() {
        let ps = vec![
            policy("^a", 1, json!({"max-length": 1})).unwrap(),
            policy("^ab", 5, json!({"max-length": 5})).unwrap(),
            policy("^abc", 3, json!({"max-length": 3})).unwrap(),
        ];
        let pick = |name: &str| select(&ps, |p| p.applies_to_queue(name)).map(|p| p.priority);
        assert_eq!(pick("abcd"), Some(5));
        assert_eq!(pick("ax"), Some(1));
        assert_eq!(pick("x"), None);
    }

    #[test]
    fn limits_take_the_minimum_and_arguments_win_otherwise() {
        let p = policy(
            ".*",
            0,
            json!({"max-length": 10, "message-ttl": 500, "overflow": "reject-publish",
                   "dead-letter-exchange": "pol-dlx"}),
        )
        .unwrap();
        let args = QueueArgs {
            max_length: Some(3),
            message_ttl: Some(60_000),
            dead_letter_exchange: Some(ShortStr::from_static("arg-dlx")),
            ..QueueArgs::default()
        };
        let e = effective_queue_args(&args, Some(&p));
        assert_eq!(e.max_length, Some(3));
        assert_eq!(e.message_ttl, Some(500));
        assert_eq!(e.overflow, Overflow::RejectPublish);
        assert_eq!(e.dead_letter_exchange.as_deref(), Some("arg-dlx"));
        let declared_overflow = QueueArgs {
            overflow: Overflow::DropHead,
            overflow_set: true,
            ..QueueArgs::default()
        };
        let e = effective_queue_args(&declared_overflow, Some(&p));
        assert_eq!(e.overflow, Overflow::DropHead);
        assert_eq!(e.dead_letter_exchange.as_deref(), Some("pol-dlx"));
        assert_eq!(effective_queue_args(&args, None), args);
    }
}
