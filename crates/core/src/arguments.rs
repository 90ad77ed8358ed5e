//! Queue arguments (`x-message-ttl`, `x-max-length`, `x-overflow`, `x-max-priority`...), checked
//! when a queue is declared and refused with 406 and RabbitMQ's wording when invalid: never
//! ignored silently.

use warren_amqp::{FieldTable, FieldValue, ShortStr};

use crate::error::{AmqpError, Result};

/// What a full queue does with the next message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Drop (or dead-letter) the oldest message to make room.
    #[default]
    DropHead,
    /// Refuse the new message (publisher gets a nack in confirm mode).
    RejectPublish,
    /// As reject-publish, and dead-letter the refused message.
    RejectPublishDlx,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueArgs {
    pub message_ttl: Option<u64>,
    pub expires: Option<u64>,
    pub max_length: Option<u64>,
    pub max_length_bytes: Option<u64>,
    pub overflow: Overflow,
    /// Whether `x-overflow` was given (then it wins over a policy's `overflow`).
    pub overflow_set: bool,
    pub max_priority: Option<u8>,
    pub dead_letter_exchange: Option<ShortStr>,
    pub dead_letter_routing_key: Option<ShortStr>,
    pub single_active_consumer: bool,
    pub consumer_timeout: Option<u64>,
}

/// RabbitMQ's name for a field value's type, as its error messages print it.
pub fn type_name(v: &FieldValue) -> &'static str {
    match v {
        FieldValue::Bool(_) => "bool",
        FieldValue::I8(_) => "byte",
        FieldValue::U8(_) => "unsignedbyte",
        FieldValue::I16(_) => "short",
        FieldValue::U16(_) => "unsignedshort",
        FieldValue::I32(_) => "signedint",
        FieldValue::U32(_) => "unsignedint",
        FieldValue::I64(_) => "long",
        FieldValue::F32(_) => "float",
        FieldValue::F64(_) => "double",
        FieldValue::Decimal { .. } => "decimal",
        FieldValue::LongStr(_) => "longstr",
        FieldValue::Array(_) => "array",
        FieldValue::Timestamp(_) => "timestamp",
        FieldValue::Table(_) => "table",
        FieldValue::Void => "void",
        FieldValue::ByteArray(_) => "binary",
    }
}

impl QueueArgs {
    /// Parses and checks a queue's arguments; `what` names the queue ("queue 'q' in vhost '/'").
    pub fn parse(args: &FieldTable, what: &str) -> Result<QueueArgs> {
        let invalid = |key: &str, detail: String| {
            AmqpError::precondition_failed(format!("invalid arg '{key}' for {what}: {detail}"))
        };
        let int = |key: &str, allow_zero: bool| -> Result<Option<u64>> {
            let Some(v) = args.get(key) else {
                return Ok(None);
            };
            let Some(n) = v.as_i64().filter(|_| !matches!(v, FieldValue::Bool(_))) else {
                return Err(invalid(
                    key,
                    format!("{{unacceptable_type,{}}}", type_name(v)),
                ));
            };
            if n < 0 {
                return Err(invalid(key, format!("{{value_negative,{n}}}")));
            }
            if n == 0 && !allow_zero {
                return Err(invalid(key, "{value_zero,0}".to_string()));
            }
            Ok(Some(n as u64))
        };
        let string = |key: &str| -> Result<Option<&str>> {
            match args.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_str()
                    .map(Some)
                    .ok_or_else(|| invalid(key, format!("{{unacceptable_type,{}}}", type_name(v)))),
            }
        };
        let mut a = QueueArgs {
            message_ttl: int("x-message-ttl", true)?,
            expires: int("x-expires", false)?,
            max_length: int("x-max-length", true)?,
            max_length_bytes: int("x-max-length-bytes", true)?,
            consumer_timeout: int("x-consumer-timeout", true)?,
            ..QueueArgs::default()
        };
        if let Some(p) = int("x-max-priority", true)? {
            if p > 255 {
                return Err(invalid(
                    "x-max-priority",
                    format!("{{value_too_large,{p},255}}"),
                ));
            }
            a.max_priority = Some(p as u8);
        }
        a.overflow_set = args.get("x-overflow").is_some();
        a.overflow = match string("x-overflow")? {
            None | Some("drop-head") => Overflow::DropHead,
            Some("reject-publish") => Overflow::RejectPublish,
            Some("reject-publish-dlx") => Overflow::RejectPublishDlx,
            Some(other) => {
                return Err(invalid(
                    "x-overflow",
                    format!("{{unacceptable_value,<<\"{other}\">>}}"),
                ))
            }
        };
        let short = |key: &str, s: &str| {
            ShortStr::try_from(s).map_err(|_| invalid(key, "{value_too_long}".to_string()))
        };
        if let Some(x) = string("x-dead-letter-exchange")? {
            a.dead_letter_exchange = Some(short("x-dead-letter-exchange", x)?);
        }
        if let Some(k) = string("x-dead-letter-routing-key")? {
            if a.dead_letter_exchange.is_none() {
                return Err(invalid(
                    "x-dead-letter-routing-key",
                    "{routing_key_but_no_dlx_defined}".to_string(),
                ));
            }
            a.dead_letter_routing_key = Some(short("x-dead-letter-routing-key", k)?);
        }
        if let Some(v) = args.get("x-single-active-consumer") {
            a.single_active_consumer = v.as_bool().ok_or_else(|| {
                invalid(
                    "x-single-active-consumer",
                    format!("{{unacceptable_type,{}}}", type_name(v)),
                )
            })?;
        }
        match string("x-queue-type")? {
            None | Some("classic") => {}
            Some(other) => {
                return Err(invalid(
                    "x-queue-type",
                    format!(
                    "{{unacceptable_value,<<\"{other}\">>}} (only classic queues are supported)"
                ),
                ))
            }
        }
        match string("x-queue-mode")? {
            None | Some("default") | Some("lazy") => {}
            Some(other) => {
                return Err(invalid(
                    "x-queue-mode",
                    format!("{{unacceptable_value,<<\"{other}\">>}}"),
                ))
            }
        }
        Ok(a)
    }
}

/// A message's own TTL from its `expiration` property (milliseconds, as a decimal string).
pub fn parse_expiration(s: &str) -> Result<u64> {
    match s.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n as u64),
        Ok(n) => Err(AmqpError::precondition_failed(format!(
            "invalid expiration '{s}': {{value_negative,{n}}}"
        ))),
        Err(_) => Err(AmqpError::precondition_failed(format!(
            "invalid expiration '{s}': {{invalid_format}}"
        ))),
    }
}

/// The arguments of `basic.consume`: `x-priority` (any integer type, as RabbitMQ; 0 when
/// absent) and `x-cancel-on-ha-failover` (a bool, accepted and ignored: there are no mirrors).
/// `what` names the queue for the 406 message.
pub fn consumer_priority(args: &FieldTable, what: &str) -> Result<i32> {
    if let Some(v) = args.get("x-cancel-on-ha-failover") {
        v.as_bool().ok_or_else(|| {
            AmqpError::precondition_failed(format!(
                "invalid arg 'x-cancel-on-ha-failover' for {what}: {{unacceptable_type,{}}}",
                type_name(v)
            ))
        })?;
    }
    match args.get("x-priority") {
        None => Ok(0),
        Some(v) => v
            .as_i64()
            .map(|n| n.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
            // RabbitMQ 3.10's wording for this one argument.
            .ok_or_else(|| {
                AmqpError::precondition_failed(format!(
                    "invalid arg 'x-priority' for {what}: \"expected integer, got {}\"",
                    type_name(v)
                ))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn t(pairs: &[(&'static str, FieldValue)]) -> FieldTable {
        let mut t = FieldTable::new();
        for (k, v) in pairs {
            t.insert(ShortStr::from_static(k), v.clone());
        }
        t
    }
    fn s(v: &'static str) -> FieldValue {
        FieldValue::LongStr(Bytes::from_static(v.as_bytes()))
    }
    const Q: &str = "queue 'q' in vhost '/'";

    #[test]
    fn valid_arguments_parse() {
        let a = QueueArgs::parse(
            &t(&[
                ("x-message-ttl", FieldValue::I32(1000)),
                ("x-max-length", FieldValue::I64(5)),
                ("x-overflow", s("reject-publish")),
                ("x-max-priority", FieldValue::U8(10)),
                ("x-dead-letter-exchange", s("dlx")),
            ]),
            Q,
        )
        .unwrap();
        assert_eq!(a.message_ttl, Some(1000));
        assert_eq!(a.max_length, Some(5));
        assert_eq!(a.overflow, Overflow::RejectPublish);
        assert_eq!(a.max_priority, Some(10));
        assert_eq!(a.dead_letter_exchange.as_deref(), Some("dlx"));
    }

    #[test]
    fn invalid_arguments_are_refused_with_rabbitmq_wording() {
        let e = QueueArgs::parse(&t(&[("x-message-ttl", FieldValue::I32(-1))]), Q).unwrap_err();
        assert_eq!(e.code, 406);
        assert_eq!(
            e.text,
            "PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue 'q' in vhost '/': {value_negative,-1}"
        );
        let e = QueueArgs::parse(&t(&[("x-max-length", s("ten"))]), Q).unwrap_err();
        assert!(
            e.text.ends_with("{unacceptable_type,longstr}"),
            "{}",
            e.text
        );
        assert!(QueueArgs::parse(&t(&[("x-overflow", s("explode"))]), Q).is_err());
        assert!(QueueArgs::parse(&t(&[("x-max-priority", FieldValue::I32(300))]), Q).is_err());
        assert!(QueueArgs::parse(&t(&[("x-expires", FieldValue::I32(0))]), Q).is_err());
        assert!(QueueArgs::parse(&t(&[("x-dead-letter-routing-key", s("k"))]), Q).is_err());
    }

    #[test]
    fn expiration_strings() {
        assert_eq!(parse_expiration("2000").unwrap(), 2000);
        assert!(parse_expiration("-5").is_err());
        assert!(parse_expiration("soon").is_err());
    }
}
