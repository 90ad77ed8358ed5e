//! Login for the AMQP handshake: SASL PLAIN and AMQPLAIN.
//!
//! Until the security work adds users, vhosts and permissions, the one account is RabbitMQ's
//! default `guest`/`guest`, and, as in RabbitMQ, only from a loopback address.

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use warren_amqp::FieldTable;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("unsupported authentication mechanism '{0}'")]
    UnsupportedMechanism(String),
    #[error("malformed {0} response")]
    Malformed(&'static str),
    #[error("invalid credentials for user '{0}'")]
    InvalidCredentials(String),
    #[error("user '{0}' can only connect via localhost")]
    LoopbackOnly(String),
}

/// Extracts (username, password) from a SASL response.
pub fn parse_response(mechanism: &str, response: &[u8]) -> Result<(String, String), AuthError> {
    match mechanism {
        "PLAIN" => {
            // authzid \0 authcid \0 password
            let mut parts = response.splitn(3, |b| *b == 0);
            let _authzid = parts.next();
            let (Some(user), Some(pass)) = (parts.next(), parts.next()) else {
                return Err(AuthError::Malformed("PLAIN"));
            };
            Ok((
                String::from_utf8_lossy(user).into_owned(),
                String::from_utf8_lossy(pass).into_owned(),
            ))
        }
        "AMQPLAIN" => {
            // A field table without its length prefix.
            let mut buf = BytesMut::with_capacity(response.len() + 4);
            buf.put_u32(response.len() as u32);
            buf.put_slice(response);
            let mut bytes: Bytes = buf.freeze();
            let table =
                FieldTable::decode(&mut bytes).map_err(|_| AuthError::Malformed("AMQPLAIN"))?;
            let get = |k: &str| table.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            match (get("LOGIN"), get("PASSWORD")) {
                (Some(u), Some(p)) => Ok((u, p)),
                _ => Err(AuthError::Malformed("AMQPLAIN")),
            }
        }
        other => Err(AuthError::UnsupportedMechanism(other.to_string())),
    }
}

/// Checks credentials; returns the user name on success.
pub fn authenticate(
    mechanism: &str,
    response: &[u8],
    peer: SocketAddr,
) -> Result<String, AuthError> {
    let (user, pass) = parse_response(mechanism, response)?;
    if user != "guest" || !constant_time_eq(pass.as_bytes(), b"guest") {
        return Err(AuthError::InvalidCredentials(user));
    }
    if !peer.ip().is_loopback() {
        return Err(AuthError::LoopbackOnly(user));
    }
    Ok(user)
}

/// Compares secrets without leaking where they differ through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> SocketAddr {
        "127.0.0.1:1".parse().unwrap()
    }

    #[test]
    fn plain_guest_from_loopback_only() {
        assert_eq!(
            authenticate("PLAIN", b"\0guest\0guest", local()).unwrap(),
            "guest"
        );
        let remote: SocketAddr = "10.0.0.1:1".parse().unwrap();
        assert_eq!(
            authenticate("PLAIN", b"\0guest\0guest", remote),
            Err(AuthError::LoopbackOnly("guest".into()))
        );
        assert!(matches!(
            authenticate("PLAIN", b"\0guest\0nope", local()),
            Err(AuthError::InvalidCredentials(_))
        ));
        assert!(matches!(
            authenticate("PLAIN", b"guest", local()),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            authenticate("EXTERNAL", b"", local()),
            Err(AuthError::UnsupportedMechanism(_))
        ));
    }
}
