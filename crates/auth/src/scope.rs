//! Token scopes in the grammar of RabbitMQ's OAuth 2 backend (rabbitmq-auth-backend-oauth2):
//!
//! - `<prefix>configure:<vhost>/<name>`, `<prefix>write:...`, `<prefix>read:...`, with an
//!   optional third part `/<routing key>` for topic exchanges;
//! - `<prefix>tag:<tag>`.
//!
//! The prefix defaults to `<resource_server_id>.`; scopes without it are ignored. Patterns are
//! wildcards: `*` matches any run of characters, the rest is literal after percent-decoding
//! each piece (so `%2F` is the vhost `/` and `%2A` a literal `*`). As in RabbitMQ, a topic
//! check needs a scope with a routing-key part.

use crate::identity::Access;

/// A `*` pattern, split at its stars, each piece percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildcard {
    parts: Vec<String>,
}

impl Wildcard {
    /// `None` if a piece is not valid percent-encoding (the scope is then ignored, as in
    /// RabbitMQ).
    pub fn parse(pattern: &str) -> Option<Wildcard> {
        let parts = pattern
            .split('*')
            .map(percent_decode)
            .collect::<Option<Vec<_>>>()?;
        Some(Wildcard { parts })
    }

    /// Does the whole of `subject` match?
    pub fn matches(&self, subject: &str) -> bool {
        let (first, rest) = match self.parts.split_first() {
            Some(x) => x,
            None => return subject.is_empty(),
        };
        let Some(mut tail) = subject.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            // No star at all: an exact match.
            return tail.is_empty();
        };
        for part in middle {
            match tail.find(part.as_str()) {
                Some(i) => tail = &tail[i + part.len()..],
                None => return false,
            }
        }
        tail.ends_with(last.as_str())
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes what a scope pattern cannot hold literally (`%`, `*`, `/`, spaces).
pub fn escape_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '*' => out.push_str("%2A"),
            '/' => out.push_str("%2F"),
            ' ' => out.push_str("%20"),
            c => out.push(c),
        }
    }
    out
}

/// One permission scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeGrant {
    pub access: Access,
    pub vhost: Wildcard,
    pub name: Wildcard,
    pub routing_key: Option<Wildcard>,
}

impl ScopeGrant {
    pub fn matches_vhost(&self, vhost: &str) -> bool {
        self.vhost.matches(vhost)
    }

    pub fn permits(&self, vhost: &str, access: Access, name: &str) -> bool {
        self.access == access && self.vhost.matches(vhost) && self.name.matches(name)
    }

    pub fn permits_topic(
        &self,
        vhost: &str,
        access: Access,
        exchange: &str,
        routing_key: &str,
    ) -> bool {
        self.routing_key
            .as_ref()
            .is_some_and(|rk| rk.matches(routing_key))
            && self.permits(vhost, access, exchange)
    }
}

/// What a token's scopes grant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes {
    pub grants: Vec<ScopeGrant>,
    pub tags: Vec<String>,
}

/// Reads scopes (already split at spaces); those without `prefix` or not in the grammar are
/// ignored.
pub fn parse_scopes<'a>(scopes: impl IntoIterator<Item = &'a str>, prefix: &str) -> Scopes {
    let mut out = Scopes::default();
    for scope in scopes {
        let Some(s) = scope.strip_prefix(prefix) else {
            continue;
        };
        if let Some(tag) = s.strip_prefix("tag:") {
            if !tag.is_empty() && !out.tags.iter().any(|t| t == tag) {
                out.tags.push(tag.to_string());
            }
            continue;
        }
        let (access, pattern) = if let Some(p) = s.strip_prefix("configure:") {
            (Access::Configure, p)
        } else if let Some(p) = s.strip_prefix("write:") {
            (Access::Write, p)
        } else if let Some(p) = s.strip_prefix("read:") {
            (Access::Read, p)
        } else {
            continue;
        };
        let pieces: Vec<&str> = pattern.split('/').collect();
        let grant = match pieces.as_slice() {
            [v, n] => Wildcard::parse(v)
                .zip(Wildcard::parse(n))
                .map(|(vhost, name)| ScopeGrant {
                    access,
                    vhost,
                    name,
                    routing_key: None,
                }),
            [v, n, rk] => match (Wildcard::parse(v), Wildcard::parse(n), Wildcard::parse(rk)) {
                (Some(vhost), Some(name), Some(rk)) => Some(ScopeGrant {
                    access,
                    vhost,
                    name,
                    routing_key: Some(rk),
                }),
                _ => None,
            },
            _ => None,
        };
        if let Some(g) = grant {
            out.grants.push(g);
        }
    }
    out
}

/// Turns a RabbitMQ permission regex into an equivalent wildcard pattern when there is one:
/// literals, `.*` runs and the anchors `^`/`$` (an unanchored regex matches anywhere, so it
/// becomes `*literal*`). `""` (nothing) and anything else (classes, alternations...) give
/// `None`: the issuer then leaves the permission out rather than grant more than the regex.
pub fn regex_to_wildcard(re: &str) -> Option<String> {
    if re.is_empty() || re == "^$" {
        return None;
    }
    let mut s = re;
    let anchored_start = s.starts_with('^');
    if anchored_start {
        s = &s[1..];
    }
    let anchored_end = s.ends_with('$') && !s.ends_with("\\$");
    if anchored_end {
        s = &s[..s.len() - 1];
    }
    let mut out = String::new();
    if !anchored_start {
        out.push('*');
    }
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' if chars.peek() == Some(&'*') => {
                chars.next();
                if !out.ends_with('*') {
                    out.push('*');
                }
            }
            '\\' => {
                let e = chars.next()?;
                if e.is_ascii_alphanumeric() {
                    // \d, \w, \b...: a class, not a literal.
                    return None;
                }
                out.push_str(&escape_pattern(&e.to_string()));
            }
            '.' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '^' | '$' | '*' => {
                return None
            }
            c => out.push_str(&escape_pattern(&c.to_string())),
        }
    }
    if !anchored_end && !out.ends_with('*') {
        out.push('*');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(p: &str) -> Wildcard {
        Wildcard::parse(p).unwrap()
    }

    #[test]
    fn wildcards() {
        assert!(w("*").matches(""));
        assert!(w("*").matches("anything/at all"));
        assert!(w("q1").matches("q1"));
        assert!(!w("q1").matches("q10"));
        assert!(w("q*").matches("q10"));
        assert!(!w("q*").matches("xq10"));
        assert!(w("*a").matches("aba"));
        assert!(w("a*b*c").matches("a-b-b-c"));
        assert!(!w("a*b*c").matches("a-c-b"));
        assert!(w("%2F").matches("/"));
        assert!(!w("%2F").matches("%2F"));
        assert!(w("%2A").matches("*"));
        assert!(!w("%2A").matches("x"));
        assert!(Wildcard::parse("%zz").is_none());
    }

    #[test]
    fn scope_grammar() {
        let s = parse_scopes(
            [
                "rabbitmq.read:*/*",
                "rabbitmq.write:%2F/x*",
                "rabbitmq.configure:v1/q/extra/bits",
                "rabbitmq.write:v2/amq.topic/orders.*",
                "rabbitmq.tag:administrator",
                "other.read:*/*",
                "rabbitmq.delete:*/*",
                "openid",
            ],
            "rabbitmq.",
        );
        assert_eq!(s.tags, vec!["administrator".to_string()]);
        assert_eq!(s.grants.len(), 3);
        let g = &s.grants;
        assert!(g[0].permits("any", Access::Read, "q"));
        assert!(!g[0].permits("any", Access::Write, "q"));
        assert!(g[1].permits("/", Access::Write, "xyz"));
        assert!(!g[1].permits("v1", Access::Write, "xyz"));
        assert!(g[2].permits_topic("v2", Access::Write, "amq.topic", "orders.new"));
        assert!(!g[2].permits_topic("v2", Access::Write, "amq.topic", "users.new"));
        // Without a routing-key part a scope grants no topic access.
        assert!(!g[0].permits_topic("v", Access::Read, "x", "k"));
    }

    #[test]
    fn regexes_that_have_a_wildcard_twin() {
        assert_eq!(regex_to_wildcard(".*").as_deref(), Some("*"));
        assert_eq!(regex_to_wildcard("^q1$").as_deref(), Some("q1"));
        assert_eq!(
            regex_to_wildcard("^amq\\.gen.*").as_deref(),
            Some("amq.gen*")
        );
        assert_eq!(regex_to_wildcard("foo").as_deref(), Some("*foo*"));
        assert_eq!(regex_to_wildcard("^a/b$").as_deref(), Some("a%2Fb"));
        assert_eq!(regex_to_wildcard(""), None);
        assert_eq!(regex_to_wildcard("^(a|b)$"), None);
        assert_eq!(regex_to_wildcard("^q.$"), None);
        assert_eq!(regex_to_wildcard("\\d+"), None);
    }
}
