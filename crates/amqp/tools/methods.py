"""AMQP 0-9-1 method table (RabbitMQ dialect) and Rust code generator.

Run `python3 crates/amqp/tools/methods.py` from the workspace root to regenerate
`crates/amqp/src/method.rs` and `crates/amqp/tests/common/methods.rs`.
Field types: octet short long longlong shortstr longstr table bit; a leading
`r` (rshort, rshortstr, rlongstr, rbit) marks a reserved field that is skipped
on decode, written as zero/empty on encode and not part of the struct.
"""
import os
import sys

CLASSES = [
    ("connection", 10, [
        ("start", 10, [("version_major", "octet"), ("version_minor", "octet"),
                       ("server_properties", "table"), ("mechanisms", "longstr"),
                       ("locales", "longstr")]),
        ("start-ok", 11, [("client_properties", "table"), ("mechanism", "shortstr"),
                          ("response", "longstr"), ("locale", "shortstr")]),
        ("secure", 20, [("challenge", "longstr")]),
        ("secure-ok", 21, [("response", "longstr")]),
        ("tune", 30, [("channel_max", "short"), ("frame_max", "long"), ("heartbeat", "short")]),
        ("tune-ok", 31, [("channel_max", "short"), ("frame_max", "long"), ("heartbeat", "short")]),
        ("open", 40, [("virtual_host", "shortstr"), ("capabilities", "rshortstr"), ("insist", "rbit")]),
        ("open-ok", 41, [("known_hosts", "rshortstr")]),
        ("close", 50, [("reply_code", "short"), ("reply_text", "shortstr"),
                       ("class_id", "short"), ("method_id", "short")]),
        ("close-ok", 51, []),
        ("blocked", 60, [("reason", "shortstr")]),
        ("unblocked", 61, []),
        ("update-secret", 70, [("new_secret", "longstr"), ("reason", "shortstr")]),
        ("update-secret-ok", 71, []),
    ]),
    ("channel", 20, [
        ("open", 10, [("out_of_band", "rshortstr")]),
        ("open-ok", 11, [("channel_id", "rlongstr")]),
        ("flow", 20, [("active", "bit")]),
        ("flow-ok", 21, [("active", "bit")]),
        ("close", 40, [("reply_code", "short"), ("reply_text", "shortstr"),
                       ("class_id", "short"), ("method_id", "short")]),
        ("close-ok", 41, []),
    ]),
    ("exchange", 40, [
        ("declare", 10, [("ticket", "rshort"), ("exchange", "shortstr"), ("kind", "shortstr"),
                         ("passive", "bit"), ("durable", "bit"), ("auto_delete", "bit"),
                         ("internal", "bit"), ("no_wait", "bit"), ("arguments", "table")]),
        ("declare-ok", 11, []),
        ("delete", 20, [("ticket", "rshort"), ("exchange", "shortstr"), ("if_unused", "bit"),
                        ("no_wait", "bit")]),
        ("delete-ok", 21, []),
        ("bind", 30, [("ticket", "rshort"), ("destination", "shortstr"), ("source", "shortstr"),
                      ("routing_key", "shortstr"), ("no_wait", "bit"), ("arguments", "table")]),
        ("bind-ok", 31, []),
        ("unbind", 40, [("ticket", "rshort"), ("destination", "shortstr"), ("source", "shortstr"),
                        ("routing_key", "shortstr"), ("no_wait", "bit"), ("arguments", "table")]),
        ("unbind-ok", 51, []),
    ]),
    ("queue", 50, [
        ("declare", 10, [("ticket", "rshort"), ("queue", "shortstr"), ("passive", "bit"),
                         ("durable", "bit"), ("exclusive", "bit"), ("auto_delete", "bit"),
                         ("no_wait", "bit"), ("arguments", "table")]),
        ("declare-ok", 11, [("queue", "shortstr"), ("message_count", "long"),
                            ("consumer_count", "long")]),
        ("bind", 20, [("ticket", "rshort"), ("queue", "shortstr"), ("exchange", "shortstr"),
                      ("routing_key", "shortstr"), ("no_wait", "bit"), ("arguments", "table")]),
        ("bind-ok", 21, []),
        ("purge", 30, [("ticket", "rshort"), ("queue", "shortstr"), ("no_wait", "bit")]),
        ("purge-ok", 31, [("message_count", "long")]),
        ("delete", 40, [("ticket", "rshort"), ("queue", "shortstr"), ("if_unused", "bit"),
                        ("if_empty", "bit"), ("no_wait", "bit")]),
        ("delete-ok", 41, [("message_count", "long")]),
        ("unbind", 50, [("ticket", "rshort"), ("queue", "shortstr"), ("exchange", "shortstr"),
                        ("routing_key", "shortstr"), ("arguments", "table")]),
        ("unbind-ok", 51, []),
    ]),
    ("basic", 60, [
        ("qos", 10, [("prefetch_size", "long"), ("prefetch_count", "short"), ("global", "bit")]),
        ("qos-ok", 11, []),
        ("consume", 20, [("ticket", "rshort"), ("queue", "shortstr"), ("consumer_tag", "shortstr"),
                         ("no_local", "bit"), ("no_ack", "bit"), ("exclusive", "bit"),
                         ("no_wait", "bit"), ("arguments", "table")]),
        ("consume-ok", 21, [("consumer_tag", "shortstr")]),
        ("cancel", 30, [("consumer_tag", "shortstr"), ("no_wait", "bit")]),
        ("cancel-ok", 31, [("consumer_tag", "shortstr")]),
        ("publish", 40, [("ticket", "rshort"), ("exchange", "shortstr"), ("routing_key", "shortstr"),
                         ("mandatory", "bit"), ("immediate", "bit")], True),
        ("return", 50, [("reply_code", "short"), ("reply_text", "shortstr"),
                        ("exchange", "shortstr"), ("routing_key", "shortstr")], True),
        ("deliver", 60, [("consumer_tag", "shortstr"), ("delivery_tag", "longlong"),
                         ("redelivered", "bit"), ("exchange", "shortstr"),
                         ("routing_key", "shortstr")], True),
        ("get", 70, [("ticket", "rshort"), ("queue", "shortstr"), ("no_ack", "bit")]),
        ("get-ok", 71, [("delivery_tag", "longlong"), ("redelivered", "bit"),
                        ("exchange", "shortstr"), ("routing_key", "shortstr"),
                        ("message_count", "long")], True),
        ("get-empty", 72, [("cluster_id", "rshortstr")]),
        ("ack", 80, [("delivery_tag", "longlong"), ("multiple", "bit")]),
        ("reject", 90, [("delivery_tag", "longlong"), ("requeue", "bit")]),
        ("recover-async", 100, [("requeue", "bit")]),
        ("recover", 110, [("requeue", "bit")]),
        ("recover-ok", 111, []),
        ("nack", 120, [("delivery_tag", "longlong"), ("multiple", "bit"), ("requeue", "bit")]),
    ]),
    ("confirm", 85, [
        ("select", 10, [("no_wait", "bit")]),
        ("select-ok", 11, []),
    ]),
    ("tx", 90, [
        ("select", 10, []),
        ("select-ok", 11, []),
        ("commit", 20, []),
        ("commit-ok", 21, []),
        ("rollback", 30, []),
        ("rollback-ok", 31, []),
    ]),
]

RUST_TYPE = {"octet": "u8", "short": "u16", "long": "u32", "longlong": "u64",
             "shortstr": "ShortStr", "longstr": "Bytes", "table": "FieldTable", "bit": "bool"}


def camel(s):
    return "".join(p.capitalize() for p in s.replace("-", " ").split())


def methods():
    for cname, cid, ms in CLASSES:
        for m in ms:
            name, mid, fields = m[0], m[1], m[2]
            content = len(m) > 3 and m[3]
            variant = camel(cname) + camel(name)
            real = [(f, t) for f, t in fields if not t.startswith("r")]
            yield dict(cname=cname, cid=cid, name=name, mid=mid, fields=fields, real=real,
                       content=content, variant=variant,
                       wire=cname + "." + name.replace("-", "_"),
                       spec=cname + "." + name)


def groups(fields):
    """Group consecutive bit fields (reserved or not) into octets."""
    out = []
    for f, t in fields:
        if t in ("bit", "rbit"):
            if out and out[-1][0] == "bits" and len(out[-1][1]) < 8:
                out[-1][1].append((f, t))
                continue
            out.append(("bits", [(f, t)]))
        else:
            out.append(("field", (f, t)))
    return out


TAIL = """impl Method {
    /// The class id (10 connection, 20 channel, 40 exchange, 50 queue, 60 basic,
    /// 85 confirm, 90 tx).
    pub fn class_id(&self) -> u16 {
        self.ids().0
    }

    /// The method id within the class.
    pub fn method_id(&self) -> u16 {
        self.ids().1
    }

    /// Decodes a method frame payload (class id, method id, arguments).
    /// Short strings, long strings and table keys are zero-copy slices of
    /// `payload`. Bytes after the last argument are an error.
    pub fn decode(mut payload: Bytes) -> Result<Method, DecodeError> {
        let class_id = wire::get_short(&mut payload)?;
        let method_id = wire::get_short(&mut payload)?;
        let method = Self::decode_args(class_id, method_id, &mut payload)?;
        if !payload.is_empty() {
            return Err(DecodeError::TrailingBytes);
        }
        Ok(method)
    }

    /// Writes the method frame payload (class id, method id, arguments).
    /// Reserved fields are written as zero / empty.
    pub fn encode(&self, buf: &mut BytesMut) {
        let (class_id, method_id) = self.ids();
        buf.put_u16(class_id);
        buf.put_u16(method_id);
        self.encode_args(buf);
    }
}
"""


def gen_lib():
    o = []
    w = o.append
    w("// @generated by tools/methods.py -- edit the table there, not this file.")
    w("//! AMQP 0-9-1 methods (with RabbitMQ's extensions): one struct per method with")
    w("//! arguments, the [`Method`] enum, and their codec.")
    w("")
    w("use bytes::{BufMut, Bytes, BytesMut};")
    w("")
    w("use crate::error::DecodeError;")
    w("use crate::types::{FieldTable, ShortStr};")
    w("use crate::wire;")
    w("")
    for m in methods():
        if not m["real"]:
            continue
        w(f"/// Arguments of `{m['spec']}` ({m['cid']}, {m['mid']}).")
        w("#[derive(Clone, Debug, Default, PartialEq)]")
        w(f"pub struct {m['variant']} {{")
        for f, t in m["real"]:
            w(f"    pub {f}: {RUST_TYPE[t]},")
        w("}")
        w("")
        w(f"impl {m['variant']} {{")
        w("    fn decode_args(buf: &mut Bytes) -> Result<Self, DecodeError> {")
        for kind, g in groups(m["fields"]):
            if kind == "bits":
                if all(t == "rbit" for _, t in g):
                    w("        wire::get_u8(buf)?;")
                    continue
                w("        let bits = wire::get_u8(buf)?;")
                for i, (f, t) in enumerate(g):
                    if t == "bit":
                        w(f"        let {f} = bits & {1 << i:#04x} != 0;")
            else:
                f, t = g
                if t.startswith("r"):
                    w(f"        wire::skip_{t[1:]}(buf)?;")
                else:
                    w(f"        let {f} = wire::get_{t}(buf)?;")
        w("        Ok(Self {")
        for f, _ in m["real"]:
            w(f"            {f},")
        w("        })")
        w("    }")
        w("")
        w("    fn encode_args(&self, buf: &mut BytesMut) {")
        for kind, g in groups(m["fields"]):
            if kind == "bits":
                parts = [(f"u8::from(self.{f})" if i == 0 else f"(u8::from(self.{f}) << {i})")
                         for i, (f, t) in enumerate(g) if t == "bit"]
                w(f"        buf.put_u8({' | '.join(parts) if parts else '0'});")
            else:
                f, t = g
                if t.startswith("r"):
                    w(f"        wire::put_empty_{t[1:]}(buf);")
                else:
                    ref = "" if t in ("octet", "short", "long", "longlong") else "&"
                    w(f"        wire::put_{t}(buf, {ref}self.{f});")
        w("    }")
        w("}")
        w("")
    w("/// One AMQP 0-9-1 method. Methods without (non-reserved) arguments are unit variants.")
    w("#[derive(Clone, Debug, PartialEq)]")
    w("pub enum Method {")
    for m in methods():
        w(f"    /// `{m['spec']}`")
        if m["real"]:
            w(f"    {m['variant']}({m['variant']}),")
        else:
            w(f"    {m['variant']},")
    w("}")
    w("")

    def pat(m):
        return f"Method::{m['variant']}(_)" if m["real"] else f"Method::{m['variant']}"

    w("/// Name of a method as RabbitMQ spells it (its Erlang record name, e.g.")
    w("/// `basic.get_ok`), or `None` for an id pair that is not an AMQP 0-9-1 method.")
    w("pub fn method_name(class_id: u16, method_id: u16) -> Option<&'static str> {")
    w("    Some(match (class_id, method_id) {")
    for m in methods():
        w(f"        ({m['cid']}, {m['mid']}) => \"{m['wire']}\",")
    w("        _ => return None,")
    w("    })")
    w("}")
    w("")
    w("impl Method {")
    w("    /// `(class id, method id)` of this method.")
    w("    pub fn ids(&self) -> (u16, u16) {")
    w("        match self {")
    for m in methods():
        w(f"            {pat(m)} => ({m['cid']}, {m['mid']}),")
    w("        }")
    w("    }")
    w("")
    w("    /// Name as RabbitMQ spells it (`queue.declare`, `basic.get_ok`, ...).")
    w("    pub fn name(&self) -> &'static str {")
    w("        match self {")
    for m in methods():
        w(f"            {pat(m)} => \"{m['wire']}\",")
    w("        }")
    w("    }")
    w("")
    w("    /// True for the methods followed by a content header and body frames:")
    w("    /// basic.publish, basic.return, basic.deliver and basic.get-ok.")
    w("    pub fn has_content(&self) -> bool {")
    w("        matches!(")
    w("            self,")
    w("            " + "\n                | ".join(pat(m) for m in methods() if m["content"]))
    w("        )")
    w("    }")
    w("")
    w("    /// Decodes the arguments of method `(class_id, method_id)` from `buf`,")
    w("    /// leaving whatever follows them in `buf`.")
    w("    pub(crate) fn decode_args(")
    w("        class_id: u16,")
    w("        method_id: u16,")
    w("        buf: &mut Bytes,")
    w("    ) -> Result<Method, DecodeError> {")
    w("        Ok(match (class_id, method_id) {")
    for m in methods():
        if m["real"]:
            w(f"            ({m['cid']}, {m['mid']}) => Method::{m['variant']}({m['variant']}::decode_args(buf)?),")
        else:
            skips = []
            for kind, g in groups(m["fields"]):
                if kind == "bits":
                    skips.append("wire::get_u8(buf)?;")
                else:
                    skips.append(f"wire::skip_{g[1][1:]}(buf)?;")
            if skips:
                w(f"            ({m['cid']}, {m['mid']}) => {{")
                for s in skips:
                    w(f"                {s}")
                w(f"                Method::{m['variant']}")
                w("            }")
            else:
                w(f"            ({m['cid']}, {m['mid']}) => Method::{m['variant']},")
    w("            _ => {")
    w("                return Err(DecodeError::UnknownMethod {")
    w("                    class_id,")
    w("                    method_id,")
    w("                })")
    w("            }")
    w("        })")
    w("    }")
    w("")
    w("    /// Writes the arguments (not the class and method ids).")
    w("    pub(crate) fn encode_args(&self, buf: &mut BytesMut) {")
    w("        match self {")
    for m in methods():
        if m["real"]:
            w(f"            Method::{m['variant']}(m) => m.encode_args(buf),")
        else:
            puts = []
            for kind, g in groups(m["fields"]):
                if kind == "bits":
                    puts.append("buf.put_u8(0)")
                else:
                    puts.append(f"wire::put_empty_{g[1][1:]}(buf)")
            if puts:
                w(f"            Method::{m['variant']} => {puts[0]},")
            else:
                w(f"            Method::{m['variant']} => {{}}")
    w("        }")
    w("    }")
    w("}")
    w("")
    for m in methods():
        if m["real"]:
            w(f"impl From<{m['variant']}> for Method {{")
            w(f"    fn from(m: {m['variant']}) -> Method {{")
            w(f"        Method::{m['variant']}(m)")
            w("    }")
            w("}")
            w("")
    w(TAIL)
    return "\n".join(o)


STRATEGY = {"octet": "any::<u8>()", "short": "any::<u16>()", "long": "any::<u32>()",
            "longlong": "any::<u64>()", "shortstr": "arb_shortstr()", "longstr": "arb_longstr()",
            "table": "arb_table()", "bit": "any::<bool>()"}


def to_amq_expr(f, t):
    if t == "shortstr":
        return f"m.{f}.as_str().into()"
    if t == "longstr":
        return f"m.{f}.to_vec().into()"
    if t == "table":
        return f"table_to_amq(&m.{f})"
    return f"m.{f}"


def gen_tests():
    o = []
    w = o.append
    w("// @generated by tools/methods.py -- edit the table there, not this file.")
    w("//! Strategies for every method, and conversion to amq-protocol's types.")
    w("")
    w("use amq_protocol::protocol as amq;")
    w("use proptest::prelude::*;")
    w("use proptest::strategy::Union;")
    w("use warren_amqp::*;")
    w("")
    w("use super::{arb_longstr, arb_shortstr, arb_table, table_to_amq};")
    w("")
    w("/// Any method, with arbitrary argument values.")
    w("pub fn arb_method() -> BoxedStrategy<Method> {")
    w("    Union::new(vec![")
    for m in methods():
        if not m["real"]:
            w(f"        Just(Method::{m['variant']}).boxed(),")
            continue
        fs = m["real"]
        strat = ", ".join(STRATEGY[t] for _, t in fs)
        names = ", ".join(f for f, _ in fs)
        w(f"        ({strat},)")
        w(f"            .prop_map(|({names},)| Method::{m['variant']}({m['variant']} {{ {names} }}))")
        w("            .boxed(),")
    w("    ])")
    w("    .boxed()")
    w("}")
    w("")
    w("/// The same method as amq-protocol's type (basic.qos's prefetch_size is not")
    w("/// modelled there and is dropped).")
    w("pub fn method_to_amq(method: &Method) -> amq::AMQPClass {")
    w("    match method {")
    for m in methods():
        mod = m["cname"]
        var = camel(m["name"])
        cls = camel(m["cname"])
        if m["real"]:
            w(f"        Method::{m['variant']}(m) => amq::AMQPClass::{cls}(amq::{mod}::AMQPMethod::{var}(amq::{mod}::{var} {{")
            for f, t in m["real"]:
                if (m["variant"], f) == ("BasicQos", "prefetch_size"):
                    w("            // prefetch_size is not modelled by amq-protocol")
                    continue
                af = "nowait" if f == "no_wait" else f
                w(f"            {af}: {to_amq_expr(f, t)},")
            w("        })),")
        else:
            w(f"        Method::{m['variant']} => amq::AMQPClass::{cls}(amq::{mod}::AMQPMethod::{var}(amq::{mod}::{var} {{}})),")
    w("    }")
    w("}")
    w("")
    w("/// All (class id, method id, name) triples.")
    w("pub const ALL_IDS: &[(u16, u16, &str)] = &[")
    for m in methods():
        w(f"    ({m['cid']}, {m['mid']}, \"{m['wire']}\"),")
    w("];")
    w("")
    return "\n".join(o)


if __name__ == "__main__":
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    with open(os.path.join(root, "src", "method.rs"), "w") as f:
        f.write(gen_lib())
    os.makedirs(os.path.join(root, "tests", "common"), exist_ok=True)
    with open(os.path.join(root, "tests", "common", "methods.rs"), "w") as f:
        f.write(gen_tests())
    if len(sys.argv) > 1 and sys.argv[1] == "--print-count":
        print(sum(1 for _ in methods()))
