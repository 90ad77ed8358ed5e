//! The headers exchange's match rule, as RabbitMQ implements it.
//!
//! A binding's arguments name the headers a message must carry. `x-match` picks the rule:
//! `all` (the default) or `any`; `all-with-x` / `any-with-x` also compare arguments whose
//! names start with `x-`, which the plain forms ignore. A binding value of type void matches
//! any value of that header. With no header to compare, `all` matches and `any` does not.

use warren_amqp::{FieldTable, FieldValue};

use crate::error::{AmqpError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XMatch {
    All,
    Any,
    AllWithX,
    AnyWithX,
}

impl XMatch {
    /// Reads `x-match` from binding arguments; refuses unknown values with 406 as RabbitMQ does.
    pub fn from_arguments(args: &FieldTable) -> Result<XMatch> {
        match args.get("x-match") {
            None => Ok(XMatch::All),
            Some(v) => match v.as_str() {
                Some("all") => Ok(XMatch::All),
                Some("any") => Ok(XMatch::Any),
                Some("all-with-x") => Ok(XMatch::AllWithX),
                Some("any-with-x") => Ok(XMatch::AnyWithX),
                _ => Err(AmqpError::precondition_failed(format!(
                    "Invalid x-match field value {}; expected all, any, all-with-x, or any-with-x",
                    describe(v)
                ))),
            },
        }
    }
}

fn describe(v: &FieldValue) -> String {
    match v.as_str() {
        Some(s) => format!("<<\"{s}\">>"),
        None => format!("{v:?}"),
    }
}

/// Loose equality as Erlang's `==`: numbers compare by value whatever their width.
fn values_equal(a: &FieldValue, b: &FieldValue) -> bool {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Does a message with `headers` match a binding with `args`?
pub fn headers_match(args: &FieldTable, headers: Option<&FieldTable>) -> bool {
    let mode = XMatch::from_arguments(args).unwrap_or(XMatch::All);
    let with_x = matches!(mode, XMatch::AllWithX | XMatch::AnyWithX);
    let all = matches!(mode, XMatch::All | XMatch::AllWithX);
    let empty = FieldTable::default();
    let headers = headers.unwrap_or(&empty);
    for (k, want) in args.iter() {
        if k.as_str() == "x-match" || (!with_x && k.as_str().starts_with("x-")) {
            continue;
        }
        let ok = match headers.get(k.as_str()) {
            None => false,
            Some(got) => matches!(want, FieldValue::Void) || values_equal(want, got),
        };
        if all && !ok {
            return false;
        }
        if !all && ok {
            return true;
        }
    }
    // all: every compared header matched (or there were none); any: none matched
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use warren_amqp::ShortStr;

    fn table(pairs: &[(&'static str, FieldValue)]) -> FieldTable {
        let mut t = FieldTable::new();
        for (k, v) in pairs {
            t.insert(ShortStr::from_static(k), v.clone());
        }
        t
    }
    fn s(v: &'static str) -> FieldValue {
        FieldValue::LongStr(Bytes::from_static(v.as_bytes()))
    }

    #[test]
    fn all_and_any() {
        let all = table(&[("a", s("1")), ("b", s("2"))]);
        let any = table(&[("x-match", s("any")), ("a", s("1")), ("b", s("2"))]);
        let h1 = table(&[("a", s("1")), ("b", s("2")), ("c", s("3"))]);
        let h2 = table(&[("a", s("1"))]);
        let h3 = table(&[("a", s("9"))]);
        assert!(headers_match(&all, Some(&h1)));
        assert!(!headers_match(&all, Some(&h2)));
        assert!(headers_match(&any, Some(&h2)));
        assert!(!headers_match(&any, Some(&h3)));
        assert!(!headers_match(&any, None));
    }

    #[test]
    fn empty_binding_all_matches_any_does_not() {
        assert!(headers_match(&FieldTable::new(), None));
        assert!(!headers_match(&table(&[("x-match", s("any"))]), None));
    }

    #[test]
    fn x_headers_only_compared_with_x_variants() {
        let h = table(&[("x-k", s("v"))]);
        let plain = table(&[("x-match", s("all")), ("x-k", s("other"))]);
        let with_x = table(&[("x-match", s("all-with-x")), ("x-k", s("other"))]);
        let any_with_x = table(&[("x-match", s("any-with-x")), ("x-k", s("v"))]);
        assert!(headers_match(&plain, Some(&h)));
        assert!(!headers_match(&with_x, Some(&h)));
        assert!(headers_match(&any_with_x, Some(&h)));
    }

    #[test]
    fn void_matches_presence_and_numbers_compare_by_value() {
        let b = table(&[("k", FieldValue::Void), ("n", FieldValue::I64(5))]);
        let h = table(&[("k", s("anything")), ("n", FieldValue::I32(5))]);
        assert!(headers_match(&b, Some(&h)));
        let h2 = table(&[("n", FieldValue::I32(5))]);
        assert!(!headers_match(&b, Some(&h2)));
    }

    #[test]
    fn bad_x_match_is_refused() {
        let e = XMatch::from_arguments(&table(&[("x-match", s("some"))])).unwrap_err();
        assert_eq!(e.code, 406);
    }
}
