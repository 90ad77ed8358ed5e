//! Who is connected and what they may do: [`Identity`], [`Access`], [`Denied`].
//!
//! An identity comes from a password login (its permissions are read live from the
//! [`AuthDb`], so a `set_permissions` applies to open connections) or from a JWT (its
//! permissions are the token's scopes, fixed until the token is replaced).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::db::AuthDb;
use crate::scope::ScopeGrant;

/// The three kinds of permission RabbitMQ knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Configure,
    Write,
    Read,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Configure => "configure",
            Access::Write => "write",
            Access::Read => "read",
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a permission applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Queue,
    Exchange,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Queue => "queue",
            ResourceKind::Exchange => "exchange",
        }
    }
}

/// A refused operation. `Display` is RabbitMQ's text, e.g.
/// "configure access to queue 'q' in vhost '/' refused for user 'u'" (the server prefixes
/// "ACCESS_REFUSED - " and sends it with reply code 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Denied {
    pub message: String,
}

/// An authenticated user.
#[derive(Clone)]
pub struct Identity {
    pub username: String,
    pub tags: Vec<String>,
    /// When the credential stops being valid (seconds since the Unix epoch); `None` for
    /// password logins.
    pub expires_at: Option<u64>,
    grants: Grants,
}

#[derive(Clone)]
enum Grants {
    /// Permissions looked up in the user database at each check.
    Internal(AuthDb),
    /// Permissions from a token's scopes, with the token's own [`Identity::generation`].
    Scopes(Arc<[ScopeGrant]>, u64),
}

/// Generations of token identities: each token gets its own, in a range the user database's
/// counter never reaches, so an answer cached for one token never holds for the next (after
/// `connection.update-secret` with narrower scopes, say).
static TOKEN_GENERATION: AtomicU64 = AtomicU64::new(1 << 63);

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("username", &self.username)
            .field("tags", &self.tags)
            .field("expires_at", &self.expires_at)
            .field(
                "source",
                &match self.grants {
                    Grants::Internal(_) => "internal",
                    Grants::Scopes(..) => "token",
                },
            )
            .finish()
    }
}

/// RabbitMQ checks the default exchange under the name `amq.default`.
fn resource_name(kind: ResourceKind, name: &str) -> &str {
    if kind == ResourceKind::Exchange && name.is_empty() {
        "amq.default"
    } else {
        name
    }
}

impl Identity {
    pub(crate) fn internal(db: AuthDb, username: String, tags: Vec<String>) -> Identity {
        Identity {
            username,
            tags,
            expires_at: None,
            grants: Grants::Internal(db),
        }
    }

    pub(crate) fn from_scopes(
        username: String,
        tags: Vec<String>,
        expires_at: Option<u64>,
        grants: Vec<ScopeGrant>,
    ) -> Identity {
        Identity {
            username,
            tags,
            expires_at,
            grants: Grants::Scopes(
                grants.into(),
                TOKEN_GENERATION.fetch_add(1, Ordering::Relaxed),
            ),
        }
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// Did this identity come from a token (JWT)?
    pub fn is_token(&self) -> bool {
        matches!(self.grants, Grants::Scopes(..))
    }

    /// Has the credential expired at `now` (seconds since the Unix epoch)?
    pub fn is_expired_at(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|exp| now >= exp)
    }

    /// A number that changes whenever a permission this identity depends on may have
    /// changed: callers may cache "allowed" answers while it stays the same. A password
    /// identity has the database's counter; each token identity a number of its own (never
    /// one of the database's), so a cache outlives neither a permission change nor a token.
    pub fn generation(&self) -> u64 {
        match &self.grants {
            Grants::Internal(db) => db.generation(),
            Grants::Scopes(_, generation) => *generation,
        }
    }

    /// RabbitMQ's validated user-ID: a message's `user_id` property must name the
    /// authenticated user, unless the user has the `impersonator` tag. The refusal is
    /// RabbitMQ's text (sent with 406 PRECONDITION_FAILED over AMQP).
    pub fn check_user_id(&self, claimed: &str) -> Result<(), Denied> {
        if claimed == self.username || self.has_tag("impersonator") {
            return Ok(());
        }
        Err(Denied {
            message: format!(
                "user_id property set to '{claimed}' but authenticated user was '{}'",
                self.username
            ),
        })
    }

    /// May this identity open a connection to `vhost`? (Some permission there.)
    pub fn can_access_vhost(&self, vhost: &str) -> bool {
        match &self.grants {
            Grants::Internal(db) => db.has_permissions(&self.username, vhost),
            Grants::Scopes(g, _) => g.iter().any(|s| s.matches_vhost(vhost)),
        }
    }

    /// Checks `access` to the queue or exchange `name` in `vhost`.
    pub fn check(
        &self,
        vhost: &str,
        access: Access,
        kind: ResourceKind,
        name: &str,
    ) -> Result<(), Denied> {
        let name = resource_name(kind, name);
        let allowed = match &self.grants {
            Grants::Internal(db) => db.permits(&self.username, vhost, access, name),
            Grants::Scopes(g, _) => g.iter().any(|s| s.permits(vhost, access, name)),
        };
        if allowed {
            Ok(())
        } else {
            Err(Denied {
                message: format!(
                    "{access} access to {} '{name}' in vhost '{vhost}' refused for user '{}'",
                    kind.as_str(),
                    self.username
                ),
            })
        }
    }

    /// Checks `access` (write for publish, read for bind) to `routing_key` on the topic
    /// exchange `exchange`.
    pub fn check_topic(
        &self,
        vhost: &str,
        access: Access,
        exchange: &str,
        routing_key: &str,
    ) -> Result<(), Denied> {
        let allowed = match &self.grants {
            Grants::Internal(db) => {
                db.permits_topic(&self.username, vhost, access, exchange, routing_key)
            }
            Grants::Scopes(g, _) => g
                .iter()
                .any(|s| s.permits_topic(vhost, access, exchange, routing_key)),
        };
        if allowed {
            Ok(())
        } else {
            Err(Denied {
                message: format!(
                    "{access} access to topic '{routing_key}' in exchange '{exchange}' in vhost '{vhost}' refused for user '{}'",
                    self.username
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_identity_has_its_own_generation() {
        let a = Identity::from_scopes("u".into(), vec![], None, vec![]);
        let b = Identity::from_scopes("u".into(), vec![], None, vec![]);
        assert_ne!(a.generation(), b.generation());
        assert_eq!(a.generation(), a.clone().generation());
        let db = AuthDb::new();
        db.add_user("u", "p", &[]).unwrap();
        let pw = db.identity("u").unwrap();
        for t in [&a, &b] {
            assert_ne!(t.generation(), pw.generation());
        }
    }
}
