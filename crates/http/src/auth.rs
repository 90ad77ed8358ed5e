//! Who is asking, and may they: the API's authentication against the broker's user database
//! (`warren_auth`: basic auth, a JWT as the password, or `Authorization: Bearer <JWT>`) and
//! RabbitMQ's tag rules.
//!
//! Tags, as RabbitMQ defines them: `management` (the vhosts the user has permissions in),
//! `policymaker` (also policies), `monitoring` (also every vhost, connection and channel,
//! node details) and `administrator` (everything: users, permissions, vhosts, definitions).
//! Each includes `management`; `administrator` includes all. A user with none of them cannot
//! use the API (401). Operations on queues and exchanges also need the user's permissions
//! (configure, write, read) as over AMQP.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use warren_auth::{Access, Identity, ResourceKind};

use crate::error::ApiError;
use crate::AppState;

/// An authenticated API user.
#[derive(Debug, Clone)]
pub struct Principal {
    pub username: String,
    pub tags: Vec<String>,
    pub identity: Identity,
}

/// What a route needs of the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Management,
    Policymaker,
    Monitoring,
    Administrator,
}

/// Does a user with `tags` hold `need` (or a tag that includes it)?
pub fn tags_satisfy(tags: &[String], need: Tag) -> bool {
    let has = |t: &str| tags.iter().any(|x| x == t);
    let admin = has("administrator");
    match need {
        Tag::Administrator => admin,
        Tag::Monitoring => admin || has("monitoring"),
        Tag::Policymaker => admin || has("policymaker"),
        Tag::Management => admin || has("monitoring") || has("policymaker") || has("management"),
    }
}

impl Principal {
    pub fn from_identity(identity: Identity) -> Principal {
        Principal {
            username: identity.username.clone(),
            tags: identity.tags.clone(),
            identity,
        }
    }

    pub fn satisfies(&self, need: Tag) -> bool {
        tags_satisfy(&self.tags, need)
    }

    pub fn require(&self, need: Tag) -> Result<(), ApiError> {
        if self.satisfies(need) {
            return Ok(());
        }
        let what = match need {
            Tag::Administrator => "Not administrator user",
            Tag::Monitoring => "Not monitor user",
            Tag::Policymaker => "Not policymaker user",
            Tag::Management => "Not management user",
        };
        Err(ApiError::forbidden(what))
    }

    /// May the user see objects of `vhost`? Monitoring users see every vhost; others the
    /// vhosts they have permissions in.
    pub fn can_access_vhost(&self, vhost: &str) -> bool {
        self.satisfies(Tag::Monitoring) || self.identity.can_access_vhost(vhost)
    }

    pub fn require_vhost(&self, vhost: &str) -> Result<(), ApiError> {
        if self.can_access_vhost(vhost) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "access to vhost '{vhost}' refused for user '{}'",
                self.username
            )))
        }
    }

    /// The user's permission for `access` to a queue or exchange (RabbitMQ's 403 text).
    pub fn check(
        &self,
        vhost: &str,
        access: Access,
        kind: ResourceKind,
        name: &str,
    ) -> Result<(), ApiError> {
        self.identity.check(vhost, access, kind, name).map_err(|d| {
            ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "access_refused",
                d.message,
            )
        })
    }

    /// The user's topic permission for `access` to `routing_key` on the topic exchange
    /// `exchange` (RabbitMQ's 403 text).
    pub fn check_topic(
        &self,
        vhost: &str,
        access: Access,
        exchange: &str,
        routing_key: &str,
    ) -> Result<(), ApiError> {
        self.identity
            .check_topic(vhost, access, exchange, routing_key)
            .map_err(|d| {
                ApiError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "access_refused",
                    d.message,
                )
            })
    }
}

/// Three dot-separated pieces, the first a base64url JSON object (`eyJ` = `{"`).
fn looks_like_jwt(s: &str) -> bool {
    s.starts_with("eyJ") && s.split('.').count() == 3
}

/// Checks a user name and password (or a JWT given as the password) from `peer`.
pub fn login(state: &AppState, user: &str, secret: &str, peer: IpAddr) -> Result<Identity, String> {
    if looks_like_jwt(secret) && state.broker.jwt_verifier().is_some() {
        return verify_token(state, secret, peer);
    }
    state
        .broker
        .auth()
        .authenticate(user, secret, peer)
        .map_err(|e| e.to_string())
}

/// A token's identity. The loopback rule applies to tokens too (as in RabbitMQ, whatever the
/// auth backend): a token for `guest` is refused from a non-loopback address.
pub fn verify_token(state: &AppState, token: &str, peer: IpAddr) -> Result<Identity, String> {
    let v = state
        .broker
        .jwt_verifier()
        .ok_or_else(|| "bearer tokens are not configured ([jwt])".to_string())?;
    let identity = v.verify(token).map_err(|e| e.to_string())?;
    state
        .broker
        .auth()
        .check_loopback(&identity.username, peer)
        .map_err(|e| e.to_string())?;
    Ok(identity)
}

/// A refused API login, logged as RabbitMQ does ("HTTP access denied: user 'u' - why") at
/// warn, with the peer address; never the password or the token.
pub fn log_refusal(peer: IpAddr, user: &str, why: &str) {
    tracing::warn!(%peer, user, "HTTP access denied: user '{user}' - {why}");
}

/// The user of a request: basic auth or `Authorization: Bearer`. Rejects with 401 otherwise.
pub struct User(pub Principal);

impl FromRequestParts<Arc<AppState>> for User {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let challenge = !parts.headers.contains_key("x-requested-with");
        let refused = || ApiError {
            challenge,
            ..ApiError::unauthorized("Not_Authorized")
        };
        let h = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(refused)?
            .to_str()
            .map_err(|_| refused())?;
        let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
        let (user, identity) = if scheme.eq_ignore_ascii_case("basic") {
            let (u, p) = decode_basic(rest.trim()).ok_or_else(refused)?;
            let identity = login(state, &u, &p, peer);
            (u, identity)
        } else if scheme.eq_ignore_ascii_case("bearer") {
            // Who the token claims to be is unknown until it verifies.
            let identity = verify_token(state, rest.trim(), peer);
            ("(bearer token)".to_string(), identity)
        } else {
            return Err(refused());
        };
        let identity = identity.map_err(|e| {
            log_refusal(peer, &user, &e);
            refused()
        })?;
        let p = Principal::from_identity(identity);
        // A user without any management tag may not use the API at all (RabbitMQ).
        if !p.satisfies(Tag::Management) {
            log_refusal(peer, &p.username, "Not management user");
            return Err(ApiError {
                challenge,
                ..ApiError::unauthorized("Not management user")
            });
        }
        Ok(User(p))
    }
}

/// `base64(user:password)` -> (user, password).
pub fn decode_basic(b64: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(tags: &[&str]) -> Vec<String> {
        tags.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tags_include_as_in_rabbitmq() {
        assert!(tags_satisfy(&t(&["administrator"]), Tag::Monitoring));
        assert!(tags_satisfy(&t(&["administrator"]), Tag::Policymaker));
        assert!(tags_satisfy(&t(&["monitoring"]), Tag::Management));
        assert!(!tags_satisfy(&t(&["monitoring"]), Tag::Policymaker));
        assert!(!tags_satisfy(&t(&["policymaker"]), Tag::Monitoring));
        assert!(!tags_satisfy(&t(&["management"]), Tag::Monitoring));
        assert!(!tags_satisfy(&t(&["impersonator"]), Tag::Management));
        assert!(!tags_satisfy(&[], Tag::Management));
    }

    #[test]
    fn basic_header_decodes() {
        assert_eq!(
            decode_basic("Z3Vlc3Q6Z3Vlc3Q="),
            Some(("guest".into(), "guest".into()))
        );
        assert_eq!(decode_basic("!!"), None);
        assert_eq!(decode_basic("Z3Vlc3Q="), None);
    }

    #[test]
    fn jwt_shape() {
        assert!(looks_like_jwt("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig"));
        assert!(!looks_like_jwt("guest"));
        assert!(!looks_like_jwt("eyJ.only-two"));
    }
}
