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

/// The longest TTL RabbitMQ accepts (ten years in ms, its `?MAX_EXPIRY_TIMER`), for
/// `x-message-ttl`, `x-expires` and a message's `expiration`.
pub const MAX_EXPIRY: i64 = 315_360_000_000;

/// The highest `x-max-priority` (RabbitMQ's `?MAX_SUPPORTED_PRIORITY`).
const MAX_PRIORITY: i64 = 255;

/// An Erlang term `{Tag,Value}` as `io_lib:format("~p")` prints it at column `col` (the
/// characters of the message before it): on one line if it ends by column 78, else broken
/// after the comma with the value indented under the first element.
fn erl_pair(col: usize, tag: &str, value: &str) -> String {
    if col + tag.len() + value.len() + 3 > 78 {
        format!("{{{tag},\n{}{value}}}", " ".repeat(col + 1))
    } else {
        format!("{{{tag},{value}}}")
    }
}

/// An Erlang string (list of byte values) as `~p` prints it: "..." when printable, else the
/// list of integers.
fn erl_string(s: &[u8]) -> String {
    let printable = s
        .iter()
        .all(|&b| (32..127).contains(&b) || b"\n\r\t".contains(&b));
    if printable {
        let mut out = String::from("\"");
        for &b in s {
            match b {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                _ => out.push(b as char),
            }
        }
        out.push('"');
        out
    } else {
        let items: Vec<String> = s.iter().map(u8::to_string).collect();
        format!("[{}]", items.join(","))
    }
}

impl QueueArgs {
    /// Parses and checks a queue's arguments; `what` names the queue ("queue 'q' in vhost '/'").
    /// The checks, their order and their 406 texts are RabbitMQ 3.10's (`rabbit_channel`'s
    /// dead-letter exchange type check, then `rabbit_amqqueue:declare_args/0`).
    pub fn parse(args: &FieldTable, what: &str) -> Result<QueueArgs> {
        let invalid = |key: &str, detail: String| {
            AmqpError::precondition_failed(format!("invalid arg '{key}' for {what}: {detail}"))
        };
        let unacceptable = |key: &str, v: &FieldValue| {
            invalid(key, format!("{{unacceptable_type,{}}}", type_name(v)))
        };
        // check_int_arg: any integer type, else "expected integer, got <type>" (quoted: an
        // Erlang string printed with ~p).
        let int = |key: &str| -> Result<Option<i64>> {
            let Some(v) = args.get(key) else {
                return Ok(None);
            };
            // RabbitMQ's ?INTEGER_ARG_TYPES: the signed and unsigned integers, not bool.
            match v.as_i64() {
                Some(n) => Ok(Some(n)),
                None => Err(invalid(
                    key,
                    format!("\"expected integer, got {}\"", type_name(v)),
                )),
            }
        };
        let non_negative = |key: &str| -> Result<Option<u64>> {
            match int(key)? {
                Some(n) if n < 0 => Err(invalid(key, format!("{{value_negative,{n}}}"))),
                n => Ok(n.map(|n| n as u64)),
            }
        };
        // rabbit_misc:check_expiry
        let expiry = |key: &str, n: i64| -> Result<u64> {
            if n > MAX_EXPIRY {
                Err(invalid(key, format!("{{value_too_large,{n}}}")))
            } else if n < 0 {
                Err(invalid(key, format!("{{value_negative,{n}}}")))
            } else {
                Ok(n as u64)
            }
        };
        let string = |key: &str| -> Result<Option<&str>> {
            match args.get(key) {
                None => Ok(None),
                Some(v) => v.as_str().map(Some).ok_or_else(|| unacceptable(key, v)),
            }
        };
        let short = |key: &str, s: &str| {
            ShortStr::try_from(s).map_err(|_| invalid(key, "{value_too_long}".to_string()))
        };
        let mut a = QueueArgs::default();
        // rabbit_channel checks the dead-letter exchange's type before anything else.
        if let Some(v) = args.get("x-dead-letter-exchange") {
            let Some(x) = v.as_str() else {
                return Err(AmqpError::precondition_failed(format!(
                    "invalid type '{}' for arg 'x-dead-letter-exchange' in {what}",
                    type_name(v)
                )));
            };
            a.dead_letter_exchange = Some(short("x-dead-letter-exchange", x)?);
        }
        if let Some(n) = int("x-expires")? {
            if n == 0 {
                return Err(invalid("x-expires", "{value_zero,0}".to_string()));
            }
            a.expires = Some(expiry("x-expires", n)?);
        }
        if let Some(n) = int("x-message-ttl")? {
            a.message_ttl = Some(expiry("x-message-ttl", n)?);
        }
        if let Some(k) = string("x-dead-letter-routing-key")? {
            if a.dead_letter_exchange.is_none() {
                return Err(invalid(
                    "x-dead-letter-routing-key",
                    "routing_key_but_no_dlx_defined".to_string(),
                ));
            }
            a.dead_letter_routing_key = Some(short("x-dead-letter-routing-key", k)?);
        }
        a.max_length = non_negative("x-max-length")?;
        a.max_length_bytes = non_negative("x-max-length-bytes")?;
        if let Some(p) = non_negative("x-max-priority")? {
            if p > MAX_PRIORITY as u64 {
                return Err(invalid(
                    "x-max-priority",
                    format!("{{max_value_exceeded,{p}}}"),
                ));
            }
            a.max_priority = Some(p as u8);
        }
        a.overflow_set = args.get("x-overflow").is_some();
        a.overflow = match string("x-overflow")? {
            None | Some("drop-head") => Overflow::DropHead,
            Some("reject-publish") => Overflow::RejectPublish,
            Some("reject-publish-dlx") => Overflow::RejectPublishDlx,
            Some(_) => return Err(invalid("x-overflow", "invalid_overflow".to_string())),
        };
        match string("x-queue-mode")? {
            None | Some("default") | Some("lazy") => {}
            Some(other) => {
                return Err(invalid(
                    "x-queue-mode",
                    format!("\"unsupported queue mode '{other}'\""),
                ))
            }
        }
        if let Some(v) = args.get("x-single-active-consumer") {
            a.single_active_consumer = v
                .as_bool()
                .ok_or_else(|| unacceptable("x-single-active-consumer", v))?;
        }
        match string("x-queue-type")? {
            None | Some("classic") => {}
            // Types RabbitMQ knows but Warren does not have.
            Some(other @ ("quorum" | "stream")) => {
                return Err(invalid(
                    "x-queue-type",
                    format!(
                        "{{unacceptable_value,<<\"{other}\">>}} (only classic queues are supported)"
                    ),
                ))
            }
            Some(other) => {
                return Err(invalid(
                    "x-queue-type",
                    format!("\"unsupported queue type '{other}'\""),
                ))
            }
        }
        // Warren's own (RabbitMQ 3.10 has only the global consumer_timeout): ms, >= 0.
        a.consumer_timeout = non_negative("x-consumer-timeout")?;
        Ok(a)
    }
}

/// A message's own TTL from its `expiration` property (milliseconds, as a decimal string),
/// read as RabbitMQ does (`string:to_integer`, then `rabbit_misc:check_expiry`), with its 406
/// texts: `no_integer`, `{leftover_string,"..."}`, `{value_negative,N}`,
/// `{value_too_large,N}`.
pub fn parse_expiration(s: &str) -> Result<u64> {
    let fail = |detail: String| {
        AmqpError::precondition_failed(format!("invalid expiration '{s}': {detail}"))
    };
    // The column the error term starts at, for ~p's line breaking.
    let col = "invalid expiration '".len() + s.len() + "': ".len();
    let b = s.as_bytes();
    let sign = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = b[sign..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return Err(fail("no_integer".to_string()));
    }
    let end = sign + digits;
    if end < b.len() {
        return Err(fail(erl_pair(
            col,
            "leftover_string",
            &erl_string(&b[end..]),
        )));
    }
    let negative = b[0] == b'-';
    // Arbitrary precision, as Erlang's integers: only the digits matter past the limit.
    let value = s[sign..].trim_start_matches('0');
    let value = if value.is_empty() { "0" } else { value };
    let n: Option<i64> = value.parse().ok();
    match (negative, n) {
        (false, Some(n)) if n <= MAX_EXPIRY => Ok(n as u64),
        (false, _) => Err(fail(erl_pair(col, "value_too_large", value))),
        (true, Some(0)) => Ok(0),
        (true, _) => Err(fail(erl_pair(col, "value_negative", &format!("-{value}")))),
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
        let text = |pairs: &[(&'static str, FieldValue)]| {
            let e = QueueArgs::parse(&t(pairs), Q).unwrap_err();
            assert_eq!(e.code, 406);
            e.text
                .strip_prefix("PRECONDITION_FAILED - ")
                .unwrap()
                .to_string()
        };
        let i = |n: i32| FieldValue::I32(n);
        assert_eq!(
            text(&[("x-message-ttl", i(-1))]),
            "invalid arg 'x-message-ttl' for queue 'q' in vhost '/': {value_negative,-1}"
        );
        assert_eq!(
            text(&[("x-message-ttl", FieldValue::I64(1 << 40))]),
            "invalid arg 'x-message-ttl' for queue 'q' in vhost '/': {value_too_large,1099511627776}"
        );
        assert_eq!(
            text(&[("x-max-length", s("ten"))]),
            "invalid arg 'x-max-length' for queue 'q' in vhost '/': \"expected integer, got longstr\""
        );
        assert_eq!(
            text(&[("x-max-length", FieldValue::Bool(true))]),
            "invalid arg 'x-max-length' for queue 'q' in vhost '/': \"expected integer, got bool\""
        );
        assert_eq!(
            text(&[("x-overflow", s("explode"))]),
            "invalid arg 'x-overflow' for queue 'q' in vhost '/': invalid_overflow"
        );
        assert_eq!(
            text(&[("x-max-priority", i(300))]),
            "invalid arg 'x-max-priority' for queue 'q' in vhost '/': {max_value_exceeded,300}"
        );
        assert_eq!(
            text(&[("x-expires", i(0))]),
            "invalid arg 'x-expires' for queue 'q' in vhost '/': {value_zero,0}"
        );
        assert_eq!(
            text(&[("x-dead-letter-routing-key", s("k"))]),
            "invalid arg 'x-dead-letter-routing-key' for queue 'q' in vhost '/': routing_key_but_no_dlx_defined"
        );
        assert_eq!(
            text(&[("x-dead-letter-exchange", i(5)), ("x-message-ttl", i(-1))]),
            "invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue 'q' in vhost '/'"
        );
        assert_eq!(
            text(&[("x-queue-mode", s("bogus"))]),
            "invalid arg 'x-queue-mode' for queue 'q' in vhost '/': \"unsupported queue mode 'bogus'\""
        );
        // RabbitMQ's order: x-expires before x-message-ttl, x-max-length before x-max-priority
        assert!(text(&[("x-message-ttl", i(-1)), ("x-expires", i(0))]).contains("x-expires"));
        assert!(
            text(&[("x-max-priority", i(300)), ("x-max-length", i(-1))]).contains("x-max-length")
        );
        assert!(QueueArgs::parse(&t(&[("x-max-priority", i(255))]), Q).is_ok());
        assert!(QueueArgs::parse(&t(&[("x-message-ttl", FieldValue::I64(MAX_EXPIRY))]), Q).is_ok());
    }

    #[test]
    fn expiration_strings() {
        assert_eq!(parse_expiration("2000").unwrap(), 2000);
        assert_eq!(parse_expiration("+5").unwrap(), 5);
        assert_eq!(parse_expiration("-0").unwrap(), 0);
        assert_eq!(parse_expiration("315360000000").unwrap(), 315_360_000_000);
        let text = |e: &str| {
            parse_expiration(e)
                .unwrap_err()
                .text
                .strip_prefix("PRECONDITION_FAILED - ")
                .unwrap()
                .to_string()
        };
        assert_eq!(text("soon"), "invalid expiration 'soon': no_integer");
        assert_eq!(text(""), "invalid expiration '': no_integer");
        assert_eq!(text("-"), "invalid expiration '-': no_integer");
        assert_eq!(
            text("1.5"),
            "invalid expiration '1.5': {leftover_string,\".5\"}"
        );
        assert_eq!(
            text("5 "),
            "invalid expiration '5 ': {leftover_string,\" \"}"
        );
        assert_eq!(text("-5"), "invalid expiration '-5': {value_negative,-5}");
        assert_eq!(
            text("315360000001"),
            "invalid expiration '315360000001': {value_too_large,315360000001}"
        );
        // ~p breaks a term that would end past column 78, as RabbitMQ's texts show
        assert_eq!(
            text("9999999999999999999"),
            format!(
                "invalid expiration '9999999999999999999': {{value_too_large,\n{}9999999999999999999}}",
                " ".repeat(43)
            )
        );
        assert_eq!(
            text("0000000000000315360000001"),
            "invalid expiration '0000000000000315360000001': {value_too_large,315360000001}"
        );
        assert_eq!(
            text("00000000000000315360000001"),
            format!(
                "invalid expiration '00000000000000315360000001': {{value_too_large,\n{}315360000001}}",
                " ".repeat(50)
            )
        );
    }
}
