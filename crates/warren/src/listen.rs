//! Listener addresses, as every listener flag, `WARREN_*_LISTEN` variable and TOML key takes
//! them, and binding them the way RabbitMQ binds its `listeners.tcp.*` values:
//!
//! - a bare port (`5672`, or the TOML integer `5672`): every interface, as RabbitMQ's
//!   `listeners.tcp.default = 5672`: `[::]` (which takes IPv4 too on a dual-stack host) and
//!   `0.0.0.0` as well where `[::]` does not cover it; `0.0.0.0` alone without IPv6;
//! - an address and port (`127.0.0.1:5672`, `[::1]:5672`): that address;
//! - a host name and port (`localhost:5672`): the host's first IPv4 and first IPv6 address
//!   (RabbitMQ looks the name up once per family and listens on each), so `localhost` gives
//!   `127.0.0.1` and `[::1]`.
//!
//! Port 0 picks a free port; a name with two addresses gets the same port on both.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use anyhow::Context;
use tokio::net::TcpListener;

/// Where a listener listens (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// Every interface.
    Port(u16),
    /// One IP address.
    Addr(SocketAddr),
    /// A host name, resolved when the listener is bound.
    Host { host: String, port: u16 },
}

/// A value that is no listener address, with what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddrError(String);

impl fmt::Display for ListenAddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (expected PORT, HOST:PORT, IPV4:PORT or [IPV6]:PORT, e.g. 5672, localhost:5672, [::1]:5672)",
            self.0
        )
    }
}

impl std::error::Error for ListenAddrError {}

fn parse_port(s: &str, whole: &str) -> Result<u16, ListenAddrError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ListenAddrError(format!("'{whole}': bad port '{s}'")));
    }
    s.parse()
        .map_err(|_| ListenAddrError(format!("'{whole}': port {s} is above 65535")))
}

/// A DNS name: dot-separated labels of letters, digits, '-' and '_'.
fn is_host_name(h: &str) -> bool {
    h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl FromStr for ListenAddr {
    type Err = ListenAddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ListenAddrError("empty listener address".into()));
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return parse_port(s, s).map(ListenAddr::Port);
        }
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(ListenAddr::Addr(a));
        }
        if let Some(rest) = s.strip_prefix('[') {
            let (ip, port) = rest
                .split_once("]:")
                .ok_or_else(|| ListenAddrError(format!("'{s}': no port after the IPv6 address")))?;
            let ip: Ipv6Addr = ip
                .parse()
                .map_err(|_| ListenAddrError(format!("'{s}': '{ip}' is no IPv6 address")))?;
            return Ok(ListenAddr::Addr(SocketAddr::from((
                ip,
                parse_port(port, s)?,
            ))));
        }
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(ListenAddrError(format!("'{s}': no port")));
        };
        if host.contains(':') {
            return Err(ListenAddrError(format!(
                "'{s}': an IPv6 address goes in brackets, as [{host}]:{port}"
            )));
        }
        let port = parse_port(port, s)?;
        if host.is_empty() {
            return Err(ListenAddrError(format!(
                "'{s}': no host name before the port"
            )));
        }
        if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(ListenAddrError(format!(
                "'{s}': '{host}' is no IPv4 address"
            )));
        }
        if !is_host_name(host) {
            return Err(ListenAddrError(format!("'{s}': '{host}' is no host name")));
        }
        Ok(ListenAddr::Host {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Port(p) => write!(f, "{p}"),
            ListenAddr::Addr(a) => write!(f, "{a}"),
            ListenAddr::Host { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// In TOML, a string as on the command line, or an integer for a bare port.
impl<'de> serde::Deserialize<'de> for ListenAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ListenAddr;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a port number or a \"HOST:PORT\" string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<ListenAddr, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<ListenAddr, E> {
                u16::try_from(n)
                    .map(ListenAddr::Port)
                    .map_err(|_| E::custom(format!("port {n} is not in 0-65535")))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<ListenAddr, E> {
                u16::try_from(n)
                    .map(ListenAddr::Port)
                    .map_err(|_| E::custom(format!("port {n} is not in 0-65535")))
            }
        }
        d.deserialize_any(V)
    }
}

/// The socket can never exist here (no such address on this host, no IPv6): a name's other
/// address may still do.
fn unavailable(e: &std::io::Error) -> bool {
    const EAFNOSUPPORT: i32 = 97;
    e.kind() == std::io::ErrorKind::AddrNotAvailable || e.raw_os_error() == Some(EAFNOSUPPORT)
}

impl ListenAddr {
    /// Binds every socket this address stands for (at least one, or an error naming the
    /// address). `what` names the listener in errors and warnings ("AMQP").
    pub async fn bind(&self, what: &str) -> anyhow::Result<Vec<TcpListener>> {
        match self {
            ListenAddr::Addr(a) => {
                let l = TcpListener::bind(a)
                    .await
                    .with_context(|| format!("binding {what} listener {a}"))?;
                Ok(vec![l])
            }
            ListenAddr::Port(port) => {
                let any6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, *port));
                let any4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, *port));
                match TcpListener::bind(any6).await {
                    Ok(l6) => {
                        // Where [::] takes IPv4 too (Linux's default), 0.0.0.0 on the same
                        // port is refused: [::] covers it.
                        let port = l6.local_addr()?.port();
                        let mut all = vec![l6];
                        if let Ok(l4) = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).await {
                            all.push(l4);
                        }
                        Ok(all)
                    }
                    // No IPv6 here: IPv4 alone.
                    Err(e6) => match TcpListener::bind(any4).await {
                        Ok(l4) => Ok(vec![l4]),
                        Err(e4) => Err(e4).with_context(|| {
                            format!("binding {what} listener {any4} ({any6}: {e6})")
                        }),
                    },
                }
            }
            ListenAddr::Host { host, port } => {
                let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), *port))
                    .await
                    .with_context(|| format!("resolving {what} listener host '{host}'"))?
                    .collect();
                // The first address of each family, IPv4 first (RabbitMQ's order).
                let addrs: Vec<SocketAddr> = [
                    found.iter().find(|a| a.is_ipv4()),
                    found.iter().find(|a| a.is_ipv6()),
                ]
                .into_iter()
                .flatten()
                .copied()
                .collect();
                anyhow::ensure!(
                    !addrs.is_empty(),
                    "resolving {what} listener host '{host}': no address"
                );
                let mut all: Vec<TcpListener> = Vec::new();
                let mut skipped = Vec::new();
                for mut a in addrs {
                    if let Some(first) = all.first() {
                        a.set_port(first.local_addr()?.port());
                    }
                    match TcpListener::bind(a).await {
                        Ok(l) => all.push(l),
                        Err(e) if unavailable(&e) => skipped.push((a, e)),
                        Err(e) => {
                            return Err(e)
                                .with_context(|| format!("binding {what} listener {a} ({self})"))
                        }
                    }
                }
                if all.is_empty() {
                    let (a, e) = skipped.remove(0);
                    return Err(e).with_context(|| format!("binding {what} listener {a} ({self})"));
                }
                for (a, e) in skipped {
                    tracing::warn!("{what} listener {self}: not listening on {a}: {e}");
                }
                Ok(all)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<ListenAddr, ListenAddrError> {
        s.parse()
    }

    #[test]
    fn forms_rabbitmq_takes_parse() {
        assert_eq!(p("5672"), Ok(ListenAddr::Port(5672)));
        assert_eq!(p(" 0 "), Ok(ListenAddr::Port(0)));
        assert_eq!(
            p("127.0.0.1:5672"),
            Ok(ListenAddr::Addr("127.0.0.1:5672".parse().unwrap()))
        );
        assert_eq!(
            p("[::1]:5672"),
            Ok(ListenAddr::Addr("[::1]:5672".parse().unwrap()))
        );
        assert_eq!(
            p("[fe80::1%eth0]:5672").is_err(),
            "[fe80::1%eth0]:5672".parse::<SocketAddr>().is_err()
        );
        assert_eq!(
            p("localhost:5672"),
            Ok(ListenAddr::Host {
                host: "localhost".into(),
                port: 5672
            })
        );
        assert_eq!(
            p("broker-1.example.com:0").unwrap().to_string(),
            "broker-1.example.com:0"
        );
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        for (bad, says) in [
            ("", "empty"),
            ("65536", "above 65535"),
            ("localhost", "no port"),
            ("localhost:", "bad port"),
            ("localhost:http", "bad port"),
            ("localhost:99999", "above 65535"),
            ("::1:5672", "in brackets"),
            ("[::1]", "no port"),
            ("[::1]5672", "no port"),
            ("[nope]:5672", "no IPv6 address"),
            ("999.1.1.1:5672", "no IPv4 address"),
            ("1.2.3:5672", "no IPv4 address"),
            ("bad host:5672", "no host name"),
            ("a..b:5672", "no host name"),
            (":5672", "no host name"),
        ] {
            let e = p(bad).expect_err(bad).to_string();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(e.contains("expected PORT, HOST:PORT"), "{bad}: {e}");
        }
    }

    #[test]
    fn toml_takes_an_integer_or_a_string() {
        #[derive(serde::Deserialize)]
        struct T {
            a: ListenAddr,
            b: ListenAddr,
        }
        let t: T = toml::from_str("a = 5672\nb = \"localhost:5672\"\n").unwrap();
        assert_eq!(t.a, ListenAddr::Port(5672));
        assert_eq!(t.b.to_string(), "localhost:5672");
        let e = toml::from_str::<T>("a = 70000\nb = \"x\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not in 0-65535"), "{e}");
        assert!(toml::from_str::<T>("a = 1\nb = \"x:y\"\n").is_err());
    }

    #[tokio::test]
    async fn a_name_binds_one_address_per_family_on_one_port() {
        let ls = p("localhost:0").unwrap().bind("test").await.unwrap();
        let addrs: Vec<SocketAddr> = ls.iter().map(|l| l.local_addr().unwrap()).collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
        assert!(
            addrs.iter().all(|a| a.port() == addrs[0].port()),
            "{addrs:?}"
        );
        assert!(addrs[0].is_ipv4(), "{addrs:?}");
        assert!(addrs.len() <= 2);
    }

    #[tokio::test]
    async fn a_bare_port_binds_every_interface() {
        let ls = p("0").unwrap().bind("test").await.unwrap();
        let addrs: Vec<SocketAddr> = ls.iter().map(|l| l.local_addr().unwrap()).collect();
        assert!(addrs.iter().all(|a| a.ip().is_unspecified()), "{addrs:?}");
        // Reached over IPv4 loopback whichever socket took it.
        std::net::TcpStream::connect(("127.0.0.1", addrs[0].port())).unwrap();
    }
}
