//! Who is asking, and may they: the API's authentication (basic auth, bearer tokens) and
//! RabbitMQ's tag rules.
//!
//! Tags, as RabbitMQ defines them: `management` (own vhosts' objects), `policymaker` (also
//! policies), `monitoring` (also every connection and channel, node details) and
//! `administrator` (everything: users, permissions, vhosts, definitions). Each tag includes
//! `management`; `administrator` includes all.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::header;
use base64::Engine;

use crate::error::ApiError;
use crate::AppState;

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub username: String,
    pub tags: Vec<String>,
    /// Vhosts the user may use (None: all of them).
    pub vhosts: Option<Vec<String>>,
}

/// What a route needs of the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Management,
    Policymaker,
    Monitoring,
    Administrator,
}

impl Principal {
    pub fn has_tag(&self, t: &str) -> bool {
        self.tags.iter().any(|x| x == t)
    }

    /// Does the user hold `need` (or a tag that includes it)?
    pub fn satisfies(&self, need: Tag) -> bool {
        let admin = self.has_tag("administrator");
        match need {
            Tag::Administrator => admin,
            Tag::Monitoring => admin || self.has_tag("monitoring"),
            Tag::Policymaker => admin || self.has_tag("policymaker"),
            Tag::Management => {
                admin
                    || self.has_tag("monitoring")
                    || self.has_tag("policymaker")
                    || self.has_tag("management")
            }
        }
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

    /// May the user see objects of `vhost`?
    pub fn can_access_vhost(&self, vhost: &str) -> bool {
        self.satisfies(Tag::Administrator)
            || self
                .vhosts
                .as_ref()
                .is_none_or(|v| v.iter().any(|x| x == vhost))
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
}

/// Checks credentials. The broker's user database plugs in here.
pub trait Authenticator: Send + Sync {
    /// Username and password, from `peer`.
    fn login(&self, username: &str, password: &str, peer: IpAddr) -> Result<Principal, String>;
    /// A bearer token (JWT).
    fn verify_token(&self, token: &str) -> Result<Principal, String>;
    /// Issues a token for a user who logged in (POST /api/auth/token): (token, seconds valid).
    fn issue_token(&self, _who: &Principal) -> Option<(String, u64)> {
        None
    }
    /// The users, as /api/users lists them (name, tags).
    fn users(&self) -> Vec<(String, Vec<String>)>;
}

/// The account RabbitMQ starts with: `guest`/`guest`, administrator, from loopback only.
#[derive(Debug, Default, Clone, Copy)]
pub struct GuestOnly;

impl Authenticator for GuestOnly {
    fn login(&self, username: &str, password: &str, peer: IpAddr) -> Result<Principal, String> {
        if username != "guest" || !constant_time_eq(password.as_bytes(), b"guest") {
            return Err(format!("invalid credentials for user '{username}'"));
        }
        if !peer.is_loopback() {
            return Err("user 'guest' can only connect via localhost".to_string());
        }
        Ok(Principal {
            username: "guest".to_string(),
            tags: vec!["administrator".to_string()],
            vhosts: None,
        })
    }

    fn verify_token(&self, _token: &str) -> Result<Principal, String> {
        Err("bearer tokens are not configured".to_string())
    }

    fn users(&self) -> Vec<(String, Vec<String>)> {
        vec![("guest".to_string(), vec!["administrator".to_string()])]
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The user of a request: basic auth or `Authorization: Bearer`, checked by the
/// [`Authenticator`]. Rejects with 401 otherwise.
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
        let Some(h) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized("Not_Authorized"));
        };
        let h = h
            .to_str()
            .map_err(|_| ApiError::unauthorized("Not_Authorized"))?;
        let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
        let p = if scheme.eq_ignore_ascii_case("basic") {
            let (u, p) = decode_basic(rest.trim())
                .ok_or_else(|| ApiError::unauthorized("Not_Authorized"))?;
            state.auth.login(&u, &p, peer)
        } else if scheme.eq_ignore_ascii_case("bearer") {
            state.auth.verify_token(rest.trim())
        } else {
            return Err(ApiError::unauthorized("Not_Authorized"));
        };
        let p = p.map_err(|e| {
            tracing::debug!("HTTP API login refused: {e}");
            ApiError::unauthorized("Not_Authorized")
        })?;
        // A user without any management tag may not use the API at all (RabbitMQ).
        if !p.satisfies(Tag::Management) {
            return Err(ApiError::unauthorized("Not management user"));
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

    fn p(tags: &[&str]) -> Principal {
        Principal {
            username: "u".into(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            vhosts: Some(vec!["/".into()]),
        }
    }

    #[test]
    fn tags_include_as_in_rabbitmq() {
        assert!(p(&["administrator"]).satisfies(Tag::Monitoring));
        assert!(p(&["administrator"]).satisfies(Tag::Policymaker));
        assert!(p(&["monitoring"]).satisfies(Tag::Management));
        assert!(!p(&["monitoring"]).satisfies(Tag::Policymaker));
        assert!(!p(&["policymaker"]).satisfies(Tag::Monitoring));
        assert!(!p(&["management"]).satisfies(Tag::Monitoring));
        assert!(!p(&[]).satisfies(Tag::Management));
        assert!(p(&["management"]).can_access_vhost("/"));
        assert!(!p(&["management"]).can_access_vhost("other"));
        assert!(p(&["administrator"]).can_access_vhost("other"));
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
    fn guest_is_loopback_only() {
        let g = GuestOnly;
        assert!(g.login("guest", "guest", IpAddr::from([127, 0, 0, 1])).is_ok());
        assert!(g.login("guest", "guest", IpAddr::from([10, 0, 0, 1])).is_err());
        assert!(g.login("guest", "nope", IpAddr::from([127, 0, 0, 1])).is_err());
    }
}
