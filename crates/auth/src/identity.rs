//! Who is connected and what they may do: [`Identity`], [`Access`], [`Denied`].
//!
//! An identity comes from a password login (its permissions are read live from the
//! [`AuthDb`], so a `set_permissions` applies to open connections) or from a JWT (its
//! permissions are the token's scopes, fixed until the token is replaced).

use std::fmt;
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
    /// Permissions from a token's scopes.
    Scopes(Arc<[ScopeGrant]>),
}

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
                    Grants::Scopes(_) => "token",
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
            grants: Grants::Scopes(grants.into()),
        }
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// Did this identity come from a token (JWT)?
    pub fn is_token(&self) -> bool {
        matches!(self.grants, Grants::Scopes(_))
    }

    /// Has the credential expired at `now` (seconds since the Unix epoch)?
    pub fn is_expired_at(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|exp| now >= exp)
    }

    /// A number that changes whenever a permission this identity depends on may have
    /// changed: callers may cache "allowed" answers while it stays the same.
    pub fn generation(&self) -> u64 {
        match &self.grants {
            Grants::Internal(db) => db.generation(),
            Grants::Scopes(_) => 0,
        }
    }

    /// May this identity open a connection to `vhost`? (Some permission there.)
    pub fn can_access_vhost(&self, vhost: &str) -> bool {
        match &self.grants {
            Grants::Internal(db) => db.has_permissions(&self.username, vhost),
            Grants::Scopes(g) => g.iter().any(|s| s.matches_vhost(vhost)),
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
            Grants::Scopes(g) => g.iter().any(|s| s.permits(vhost, access, name)),
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
            Grants::Scopes(g) => g
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
