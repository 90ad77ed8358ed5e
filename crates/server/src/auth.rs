//! Login for the AMQP handshake: SASL PLAIN and AMQPLAIN, against the broker's user database
//! (`warren_auth::AuthDb`) or, when the password is a JWT and `[jwt]` is configured, the
//! token verifier (the user name is then ignored: the token says who it is).

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use warren_amqp::FieldTable;
use warren_auth::Identity;
use warren_core::Broker;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("unsupported authentication mechanism '{0}'")]
    UnsupportedMechanism(String),
    #[error("malformed {0} response")]
    Malformed(&'static str),
    #[error(transparent)]
    Refused(#[from] warren_auth::AuthError),
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

/// Checks credentials; returns who logged in.
pub fn authenticate(
    broker: &Broker,
    mechanism: &str,
    response: &[u8],
    peer: SocketAddr,
) -> Result<Identity, AuthError> {
    let (user, pass) = parse_response(mechanism, response)?;
    Ok(check_secret(broker, &user, &pass, peer)?)
}

/// A password, or a token when it looks like one and tokens are accepted. Either way the
/// loopback rule applies (RabbitMQ checks `loopback_users` whatever the auth backend): a
/// token for `guest` is refused from a non-loopback address.
pub fn check_secret(
    broker: &Broker,
    user: &str,
    secret: &str,
    peer: SocketAddr,
) -> Result<Identity, warren_auth::AuthError> {
    if let Some(v) = broker.jwt_verifier().filter(|_| looks_like_jwt(secret)) {
        let identity = v.verify(secret)?;
        broker
            .auth()
            .check_loopback(&identity.username, peer.ip())?;
        return Ok(identity);
    }
    broker.auth().authenticate(user, secret, peer.ip())
}

/// Three dot-separated base64url pieces, the first a JSON object (`eyJ` = `{"`).
pub fn looks_like_jwt(s: &str) -> bool {
    let mut n = 0;
    for part in s.split('.') {
        n += 1;
        if !part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        {
            return false;
        }
    }
    n == 3 && s.starts_with("eyJ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use warren_auth::AuthError as Refused;

    fn local() -> SocketAddr {
        "127.0.0.1:1".parse().unwrap()
    }

    #[test]
    fn plain_guest_from_loopback_only() {
        let b = Broker::new(Default::default());
        let id = authenticate(&b, "PLAIN", b"\0guest\0guest", local()).unwrap();
        assert_eq!(id.username, "guest");
        let remote: SocketAddr = "10.0.0.1:1".parse().unwrap();
        assert_eq!(
            authenticate(&b, "PLAIN", b"\0guest\0guest", remote).unwrap_err(),
            AuthError::Refused(Refused::LoopbackOnly("guest".into()))
        );
        assert!(matches!(
            authenticate(&b, "PLAIN", b"\0guest\0nope", local()),
            Err(AuthError::Refused(Refused::InvalidCredentials(_)))
        ));
        assert!(matches!(
            authenticate(&b, "PLAIN", b"guest", local()),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            authenticate(&b, "EXTERNAL", b"", local()),
            Err(AuthError::UnsupportedMechanism(_))
        ));
    }

    #[test]
    fn jwt_shape() {
        assert!(looks_like_jwt("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"));
        assert!(!looks_like_jwt("guest"));
        assert!(!looks_like_jwt("eyJ.a.b.c"));
        assert!(!looks_like_jwt("eyJa.b c.d"));
    }
}
