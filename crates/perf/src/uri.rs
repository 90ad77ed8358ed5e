//! `amqp://user:pass@host:port/vhost` URIs (RabbitMQ's URI spec, plain TCP only).

use anyhow::{anyhow, bail, Context, Result};

/// A parsed `amqp://` URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AmqpUri {
    pub user: String,
    pub password: String,
    pub host: String,
    pub port: u16,
    pub vhost: String,
}

impl Default for AmqpUri {
    fn default() -> Self {
        AmqpUri {
            user: "guest".into(),
            password: "guest".into(),
            host: "localhost".into(),
            port: 5672,
            vhost: "/".into(),
        }
    }
}

impl AmqpUri {
    /// `host:port` for `TcpStream::connect` (IPv6 literals keep their brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Percent-decodes `s` (`%2f` -> `/`); a `%` not followed by two hex digits is an error.
pub fn percent_decode(s: &str) -> Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| anyhow!("bad percent-encoding in {s:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).with_context(|| format!("{s:?} does not decode to UTF-8"))
}

/// Parses `amqp://[user[:pass]@][host][:port][/vhost][?query]`.
///
/// As in RabbitMQ's URI spec: no path means vhost `/`; a path is the vhost,
/// percent-decoded (`/%2f` = `/`, `/` alone = the empty vhost); missing user
/// and password are `guest`; the query is ignored.
pub fn parse_uri(uri: &str) -> Result<AmqpUri> {
    let rest = match uri.split_once("://") {
        Some(("amqp", rest)) => rest,
        Some(("amqps", _)) => bail!("amqps:// (TLS) is not supported by warren perf"),
        _ => bail!("not an amqp:// URI: {uri:?}"),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mut out = AmqpUri::default();
    let hostport = match authority.rfind('@') {
        Some(i) => {
            let userinfo = &authority[..i];
            match userinfo.split_once(':') {
                Some((u, p)) => {
                    out.user = percent_decode(u)?;
                    out.password = percent_decode(p)?;
                }
                None => out.user = percent_decode(userinfo)?,
            }
            &authority[i + 1..]
        }
        None => authority,
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| anyhow!("unterminated IPv6 address in {uri:?}"))?;
        match after {
            "" => (h, None),
            p => (
                h,
                Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| anyhow!("bad authority in {uri:?}"))?,
                ),
            ),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if !host.is_empty() {
        out.host = percent_decode(host)?;
    }
    if let Some(p) = port.filter(|p| !p.is_empty()) {
        out.port = p
            .parse()
            .with_context(|| format!("bad port {p:?} in {uri:?}"))?;
    }
    if let Some(path) = path {
        out.vhost = percent_decode(path)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_uri() {
        let u = parse_uri("amqp://alice:s3cret@10.0.0.1:5673/%2f").unwrap();
        assert_eq!(
            u,
            AmqpUri {
                user: "alice".into(),
                password: "s3cret".into(),
                host: "10.0.0.1".into(),
                port: 5673,
                vhost: "/".into(),
            }
        );
        assert_eq!(u.authority(), "10.0.0.1:5673");
    }

    #[test]
    fn defaults() {
        assert_eq!(parse_uri("amqp://").unwrap(), AmqpUri::default());
        let u = parse_uri("amqp://rabbit").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.vhost.as_str()),
            ("rabbit", 5672, "/")
        );
        assert_eq!((u.user.as_str(), u.password.as_str()), ("guest", "guest"));
        // A path of "/" alone names the empty vhost (RabbitMQ's URI spec).
        assert_eq!(parse_uri("amqp://h/").unwrap().vhost, "");
        // User without password.
        let u = parse_uri("amqp://bob@h").unwrap();
        assert_eq!((u.user.as_str(), u.password.as_str()), ("bob", "guest"));
    }

    #[test]
    fn percent_decoding() {
        let u = parse_uri("amqp://us%40er:p%3Ass%2F@h:1/my%2Fvhost%20x?heartbeat=10").unwrap();
        assert_eq!(u.user, "us@er");
        assert_eq!(u.password, "p:ss/");
        assert_eq!(u.vhost, "my/vhost x");
        assert_eq!(parse_uri("amqp://h/plain").unwrap().vhost, "plain");
        assert!(parse_uri("amqp://h/%zz").is_err());
        assert!(parse_uri("amqp://h/%2").is_err());
        assert!(parse_uri("amqp://h/%ff").is_err(), "not UTF-8");
    }

    #[test]
    fn ipv6_and_errors() {
        let u = parse_uri("amqp://[::1]:5700/%2f").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 5700));
        assert_eq!(u.authority(), "[::1]:5700");
        assert_eq!(parse_uri("amqp://[::1]").unwrap().port, 5672);
        assert!(parse_uri("amqp://[::1").is_err());
        assert!(parse_uri("amqp://h:notaport/").is_err());
        assert!(parse_uri("amqp://h:70000/").is_err());
        assert!(parse_uri("amqps://h/").is_err());
        assert!(parse_uri("http://h/").is_err());
        assert!(parse_uri("h:5672").is_err());
    }
}
