//! The internal user database: users, tags, salted password hashes, permissions and topic
//! permissions, in the shapes of RabbitMQ's definitions export.
//!
//! [`AuthDb`] is a cheap handle (clone it freely) on state behind one `RwLock`. Every change
//! bumps a generation counter so that callers may cache "allowed" answers (see
//! [`crate::Identity::generation`]).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize};

use crate::identity::{Access, Identity};
use crate::password::{HashingAlgorithm, PasswordHash};
use crate::AuthError;

/// Errors of user-database changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthDbError {
    #[error("user '{0}' already exists")]
    UserExists(String),
    #[error("no such user '{0}'")]
    NoSuchUser(String),
    #[error("invalid user name '{0}'")]
    InvalidName(String),
    #[error("invalid regular expression '{pattern}': {error}")]
    InvalidRegex { pattern: String, error: String },
    #[error("user '{user}': {error}")]
    InvalidHash { user: String, error: String },
    #[error("user '{user}': unknown hashing_algorithm '{algorithm}'")]
    UnknownAlgorithm { user: String, algorithm: String },
}

/// A user as in RabbitMQ's definitions (`users` section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub name: String,
    /// base64(salt ++ hash); empty for a user who cannot log in with a password.
    #[serde(default)]
    pub password_hash: String,
    #[serde(default = "default_algorithm")]
    pub hashing_algorithm: String,
    /// A list, or (older exports) a comma-separated string.
    #[serde(default, deserialize_with = "tags_list_or_string")]
    pub tags: Vec<String>,
    #[serde(default)]
    pub limits: serde_json::Map<String, serde_json::Value>,
}

fn default_algorithm() -> String {
    HashingAlgorithm::Sha256.as_str().to_string()
}

fn tags_list_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Tags {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Option::<Tags>::deserialize(d)? {
        None => Vec::new(),
        Some(Tags::List(l)) => l,
        Some(Tags::Text(s)) => split_tags(&s),
    })
}

/// "administrator, management" -> ["administrator", "management"].
pub fn split_tags(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// A user's permissions in one vhost (`permissions` section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionInfo {
    pub user: String,
    pub vhost: String,
    pub configure: String,
    pub write: String,
    pub read: String,
}

/// A user's topic permissions on one exchange of a vhost (`topic_permissions` section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicPermissionInfo {
    pub user: String,
    pub vhost: String,
    pub exchange: String,
    pub write: String,
    pub read: String,
}

#[derive(Debug, Clone)]
struct User {
    hash: Option<PasswordHash>,
    tags: Vec<String>,
    limits: serde_json::Map<String, serde_json::Value>,
}

/// A compiled permission regex. RabbitMQ reads `""` as "nothing" (`^$`) and otherwise
/// searches the name for a match anywhere (anchors are the user's business).
#[derive(Debug, Clone)]
struct Pattern {
    source: String,
    regex: Regex,
}

impl Pattern {
    fn new(source: &str) -> Result<Pattern, AuthDbError> {
        let effective = if source.is_empty() { "^$" } else { source };
        let regex = Regex::new(effective).map_err(|e| AuthDbError::InvalidRegex {
            pattern: source.to_string(),
            error: e.to_string(),
        })?;
        Ok(Pattern {
            source: source.to_string(),
            regex,
        })
    }

    /// A topic-permission pattern: may hold the variables `{username}` and `{vhost}`,
    /// expanded at each check (the compiled form here has them as plain words).
    fn topic(source: &str) -> Result<Pattern, AuthDbError> {
        let probe = source.replace("{username}", "u").replace("{vhost}", "v");
        let mut p = Pattern::new(&probe).map_err(|_| {
            let e = Regex::new(&probe)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            AuthDbError::InvalidRegex {
                pattern: source.to_string(),
                error: e,
            }
        })?;
        p.source = source.to_string();
        Ok(p)
    }

    fn has_variables(&self) -> bool {
        self.source.contains("{username}") || self.source.contains("{vhost}")
    }
}

#[derive(Debug, Clone)]
struct Perm {
    configure: Pattern,
    write: Pattern,
    read: Pattern,
}

#[derive(Debug, Clone)]
struct TopicPerm {
    write: Pattern,
    read: Pattern,
}

#[derive(Debug, Default, Clone)]
struct State {
    users: BTreeMap<String, User>,
    /// (user, vhost) -> permissions.
    permissions: BTreeMap<(String, String), Perm>,
    /// (user, vhost, exchange) -> topic permissions.
    topic_permissions: BTreeMap<(String, String, String), TopicPerm>,
    /// Users who may log in from loopback addresses only (RabbitMQ's `loopback_users`).
    loopback_users: Vec<String>,
}

#[derive(Debug, Default)]
struct Shared {
    state: RwLock<State>,
    generation: AtomicU64,
}

/// A copy of every user and permission, to put back with [`AuthDb::restore`].
#[derive(Debug, Clone)]
pub struct AuthSnapshot(State);

/// The user database. Clone = another handle on the same database.
#[derive(Debug, Clone, Default)]
pub struct AuthDb {
    shared: Arc<Shared>,
}

impl AuthDb {
    /// An empty database; `guest` is loopback-only (RabbitMQ's default `loopback_users`).
    pub fn new() -> AuthDb {
        let db = AuthDb::default();
        db.shared.state.write().loopback_users = vec!["guest".to_string()];
        db
    }

    /// RabbitMQ's fresh node: user `guest`/`guest`, tag administrator, all permissions on `/`.
    pub fn with_default_user() -> AuthDb {
        let db = AuthDb::new();
        let tags = vec!["administrator".to_string()];
        // Neither can fail on a fresh database with valid regexes.
        let _ = db.add_user("guest", "guest", &tags);
        let _ = db.set_permissions("guest", "/", ".*", ".*", ".*");
        db
    }

    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Users who may connect from a loopback address only (default `["guest"]`; empty to
    /// allow `guest` from anywhere).
    pub fn set_loopback_users(&self, users: Vec<String>) {
        self.shared.state.write().loopback_users = users;
        self.changed();
    }

    pub fn loopback_users(&self) -> Vec<String> {
        self.shared.state.read().loopback_users.clone()
    }

    fn check_name(name: &str) -> Result<(), AuthDbError> {
        if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
            return Err(AuthDbError::InvalidName(name.to_string()));
        }
        Ok(())
    }

    /// Creates a user with a SHA-256 salted hash of `password`. Fails if it exists.
    pub fn add_user(&self, name: &str, password: &str, tags: &[String]) -> Result<(), AuthDbError> {
        Self::check_name(name)?;
        let mut st = self.shared.state.write();
        if st.users.contains_key(name) {
            return Err(AuthDbError::UserExists(name.to_string()));
        }
        st.users.insert(
            name.to_string(),
            User {
                hash: Some(PasswordHash::new(password)),
                tags: tags.to_vec(),
                limits: Default::default(),
            },
        );
        drop(st);
        self.changed();
        Ok(())
    }

    /// Creates or replaces a user from its definitions form (hash kept as given).
    pub fn put_user(&self, user: &UserInfo) -> Result<(), AuthDbError> {
        Self::check_name(&user.name)?;
        let algorithm = HashingAlgorithm::parse(&user.hashing_algorithm).ok_or_else(|| {
            AuthDbError::UnknownAlgorithm {
                user: user.name.clone(),
                algorithm: user.hashing_algorithm.clone(),
            }
        })?;
        let hash = PasswordHash::from_base64(algorithm, &user.password_hash).map_err(|error| {
            AuthDbError::InvalidHash {
                user: user.name.clone(),
                error,
            }
        })?;
        self.shared.state.write().users.insert(
            user.name.clone(),
            User {
                hash,
                tags: user.tags.clone(),
                limits: user.limits.clone(),
            },
        );
        self.changed();
        Ok(())
    }

    /// Deletes a user and all their permissions.
    pub fn delete_user(&self, name: &str) -> Result<(), AuthDbError> {
        let mut st = self.shared.state.write();
        if st.users.remove(name).is_none() {
            return Err(AuthDbError::NoSuchUser(name.to_string()));
        }
        st.permissions.retain(|(u, _), _| u != name);
        st.topic_permissions.retain(|(u, _, _), _| u != name);
        drop(st);
        self.changed();
        Ok(())
    }

    /// Sets a new password (a new salt, SHA-256). `None` removes the password.
    pub fn set_password(&self, name: &str, password: Option<&str>) -> Result<(), AuthDbError> {
        let mut st = self.shared.state.write();
        let u = st
            .users
            .get_mut(name)
            .ok_or_else(|| AuthDbError::NoSuchUser(name.to_string()))?;
        u.hash = password.map(PasswordHash::new);
        drop(st);
        self.changed();
        Ok(())
    }

    pub fn set_tags(&self, name: &str, tags: &[String]) -> Result<(), AuthDbError> {
        let mut st = self.shared.state.write();
        let u = st
            .users
            .get_mut(name)
            .ok_or_else(|| AuthDbError::NoSuchUser(name.to_string()))?;
        u.tags = tags.to_vec();
        drop(st);
        self.changed();
        Ok(())
    }

    /// Replaces a user's limits (`max-connections`, `max-channels`: RabbitMQ's user limits,
    /// checked by the server at `connection.open` and `channel.open`).
    pub fn set_limits(
        &self,
        name: &str,
        limits: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), AuthDbError> {
        let mut st = self.shared.state.write();
        let u = st
            .users
            .get_mut(name)
            .ok_or_else(|| AuthDbError::NoSuchUser(name.to_string()))?;
        u.limits = limits;
        Ok(())
    }

    /// One of a user's limits, if set and not negative (negative: no limit).
    pub fn user_limit(&self, name: &str, limit: &str) -> Option<u64> {
        let st = self.shared.state.read();
        let n = st.users.get(name)?.limits.get(limit)?.as_i64()?;
        u64::try_from(n).ok()
    }

    fn user_info(name: &str, u: &User) -> UserInfo {
        UserInfo {
            name: name.to_string(),
            password_hash: u.hash.as_ref().map(|h| h.to_base64()).unwrap_or_default(),
            hashing_algorithm: u
                .hash
                .as_ref()
                .map_or(HashingAlgorithm::Sha256, |h| h.algorithm)
                .as_str()
                .to_string(),
            tags: u.tags.clone(),
            limits: u.limits.clone(),
        }
    }

    pub fn user(&self, name: &str) -> Option<UserInfo> {
        let st = self.shared.state.read();
        st.users.get(name).map(|u| Self::user_info(name, u))
    }

    /// All users, by name.
    pub fn users(&self) -> Vec<UserInfo> {
        let st = self.shared.state.read();
        st.users
            .iter()
            .map(|(n, u)| Self::user_info(n, u))
            .collect()
    }

    /// Sets `user`'s configure/write/read regexes in `vhost`. The user must exist; the vhost's
    /// existence is the broker's business.
    pub fn set_permissions(
        &self,
        user: &str,
        vhost: &str,
        configure: &str,
        write: &str,
        read: &str,
    ) -> Result<(), AuthDbError> {
        let perm = Perm {
            configure: Pattern::new(configure)?,
            write: Pattern::new(write)?,
            read: Pattern::new(read)?,
        };
        let mut st = self.shared.state.write();
        if !st.users.contains_key(user) {
            return Err(AuthDbError::NoSuchUser(user.to_string()));
        }
        st.permissions
            .insert((user.to_string(), vhost.to_string()), perm);
        drop(st);
        self.changed();
        Ok(())
    }

    /// Removes `user`'s permissions in `vhost`; true if there were some.
    pub fn clear_permissions(&self, user: &str, vhost: &str) -> bool {
        let removed = self
            .shared
            .state
            .write()
            .permissions
            .remove(&(user.to_string(), vhost.to_string()))
            .is_some();
        self.changed();
        removed
    }

    /// All permissions, by user then vhost.
    pub fn permissions(&self) -> Vec<PermissionInfo> {
        let st = self.shared.state.read();
        st.permissions
            .iter()
            .map(|((user, vhost), p)| PermissionInfo {
                user: user.clone(),
                vhost: vhost.clone(),
                configure: p.configure.source.clone(),
                write: p.write.source.clone(),
                read: p.read.source.clone(),
            })
            .collect()
    }

    /// Sets `user`'s topic permissions (routing-key regexes) on `exchange` in `vhost`.
    pub fn set_topic_permissions(
        &self,
        user: &str,
        vhost: &str,
        exchange: &str,
        write: &str,
        read: &str,
    ) -> Result<(), AuthDbError> {
        let perm = TopicPerm {
            write: Pattern::topic(write)?,
            read: Pattern::topic(read)?,
        };
        let mut st = self.shared.state.write();
        if !st.users.contains_key(user) {
            return Err(AuthDbError::NoSuchUser(user.to_string()));
        }
        st.topic_permissions.insert(
            (user.to_string(), vhost.to_string(), exchange.to_string()),
            perm,
        );
        drop(st);
        self.changed();
        Ok(())
    }

    /// Removes `user`'s topic permissions in `vhost` (on one exchange, or all of them).
    pub fn clear_topic_permissions(&self, user: &str, vhost: &str, exchange: Option<&str>) -> bool {
        let mut st = self.shared.state.write();
        let before = st.topic_permissions.len();
        st.topic_permissions
            .retain(|(u, v, x), _| !(u == user && v == vhost && exchange.is_none_or(|e| e == x)));
        let removed = st.topic_permissions.len() != before;
        drop(st);
        self.changed();
        removed
    }

    pub fn topic_permissions(&self) -> Vec<TopicPermissionInfo> {
        let st = self.shared.state.read();
        st.topic_permissions
            .iter()
            .map(|((user, vhost, exchange), p)| TopicPermissionInfo {
                user: user.clone(),
                vhost: vhost.clone(),
                exchange: exchange.clone(),
                write: p.write.source.clone(),
                read: p.read.source.clone(),
            })
            .collect()
    }

    /// A vhost was deleted: so are the permissions in it.
    pub fn delete_vhost(&self, vhost: &str) {
        let mut st = self.shared.state.write();
        st.permissions.retain(|(_, v), _| v != vhost);
        st.topic_permissions.retain(|(_, v, _), _| v != vhost);
        drop(st);
        self.changed();
    }

    /// Password login. `guest` (any of the loopback users) only from a loopback address.
    /// The error never says whether the user exists.
    pub fn authenticate(
        &self,
        username: &str,
        password: &str,
        peer: IpAddr,
    ) -> Result<Identity, AuthError> {
        let st = self.shared.state.read();
        let ok = st
            .users
            .get(username)
            .and_then(|u| u.hash.as_ref())
            .is_some_and(|h| h.verify(password));
        if !ok {
            return Err(AuthError::InvalidCredentials(username.to_string()));
        }
        if !is_loopback(peer) && st.loopback_users.iter().any(|u| u == username) {
            return Err(AuthError::LoopbackOnly(username.to_string()));
        }
        let tags = st
            .users
            .get(username)
            .map(|u| u.tags.clone())
            .unwrap_or_default();
        drop(st);
        Ok(Identity::internal(self.clone(), username.to_string(), tags))
    }

    /// The loopback rule for a user authenticated another way (a token): RabbitMQ applies
    /// `loopback_users` whatever the auth backend, so a token for `guest` is refused from a
    /// non-loopback address like guest's password.
    pub fn check_loopback(&self, username: &str, peer: IpAddr) -> Result<(), AuthError> {
        let st = self.shared.state.read();
        if !is_loopback(peer) && st.loopback_users.iter().any(|u| u == username) {
            return Err(AuthError::LoopbackOnly(username.to_string()));
        }
        Ok(())
    }

    /// The identity of an existing user without a password check (for a caller that
    /// authenticated them another way).
    pub fn identity(&self, username: &str) -> Option<Identity> {
        let tags = self.shared.state.read().users.get(username)?.tags.clone();
        Some(Identity::internal(self.clone(), username.to_string(), tags))
    }

    /// Adds or replaces what definitions describe (users, permissions, topic permissions);
    /// everything is checked before anything changes.
    pub fn import(
        &self,
        users: &[UserInfo],
        permissions: &[PermissionInfo],
        topic_permissions: &[TopicPermissionInfo],
    ) -> Result<(), AuthDbError> {
        // Validate first, so a bad entry changes nothing.
        let staging = AuthDb::new();
        for u in users {
            staging.put_user(u)?;
        }
        for p in permissions {
            Pattern::new(&p.configure)?;
            Pattern::new(&p.write)?;
            Pattern::new(&p.read)?;
        }
        for p in topic_permissions {
            Pattern::topic(&p.write)?;
            Pattern::topic(&p.read)?;
        }
        for u in users {
            self.put_user(u)?;
        }
        for p in permissions {
            // A permission for a user the file does not define (nor we know) is skipped, as
            // RabbitMQ's import does.
            match self.set_permissions(&p.user, &p.vhost, &p.configure, &p.write, &p.read) {
                Ok(()) | Err(AuthDbError::NoSuchUser(_)) => {}
                Err(e) => return Err(e),
            }
        }
        for p in topic_permissions {
            match self.set_topic_permissions(&p.user, &p.vhost, &p.exchange, &p.write, &p.read) {
                Ok(()) | Err(AuthDbError::NoSuchUser(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// A copy of the whole database (to undo a change that could not be saved).
    pub fn snapshot(&self) -> AuthSnapshot {
        AuthSnapshot(self.shared.state.read().clone())
    }

    /// Puts back what [`AuthDb::snapshot`] copied, in one step.
    pub fn restore(&self, snapshot: &AuthSnapshot) {
        *self.shared.state.write() = snapshot.0.clone();
        self.changed();
    }

    /// Removes every user and permission (before loading a node's own definitions).
    pub fn clear(&self) {
        let mut st = self.shared.state.write();
        st.users.clear();
        st.permissions.clear();
        st.topic_permissions.clear();
        drop(st);
        self.changed();
    }

    // --- checks used by Identity ---

    pub(crate) fn has_permissions(&self, user: &str, vhost: &str) -> bool {
        let st = self.shared.state.read();
        st.users.contains_key(user)
            && st
                .permissions
                .contains_key(&(user.to_string(), vhost.to_string()))
    }

    pub(crate) fn permits(&self, user: &str, vhost: &str, access: Access, name: &str) -> bool {
        let st = self.shared.state.read();
        let Some(p) = lookup2(&st.permissions, user, vhost) else {
            return false;
        };
        let pat = match access {
            Access::Configure => &p.configure,
            Access::Write => &p.write,
            Access::Read => &p.read,
        };
        pat.regex.is_match(name)
    }

    pub(crate) fn permits_topic(
        &self,
        user: &str,
        vhost: &str,
        access: Access,
        exchange: &str,
        routing_key: &str,
    ) -> bool {
        let st = self.shared.state.read();
        let Some(p) = st
            .topic_permissions
            .iter()
            .find_map(|((u, v, x), p)| (u == user && v == vhost && x == exchange).then_some(p))
        else {
            // No topic permissions for this exchange: allowed (RabbitMQ's rule).
            return true;
        };
        let pat = match access {
            Access::Write => &p.write,
            _ => &p.read,
        };
        if pat.has_variables() {
            // Variables: {username} and {vhost}, escaped as regex literals.
            let expanded = pat
                .source
                .replace("{username}", &regex::escape(user))
                .replace("{vhost}", &regex::escape(vhost));
            return Pattern::new(&expanded).is_ok_and(|p| p.regex.is_match(routing_key));
        }
        pat.regex.is_match(routing_key)
    }
}

/// Looks a (user, vhost) key up without allocating.
fn lookup2<'a, V>(map: &'a BTreeMap<(String, String), V>, a: &str, b: &str) -> Option<&'a V> {
    map.range((a.to_string(), b.to_string())..)
        .next()
        .filter(|((x, y), _)| x == a && y == b)
        .map(|(_, v)| v)
}

/// Loopback, including IPv4-mapped IPv6 loopback (::ffff:127.0.0.1).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ResourceKind;

    fn local() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }
    fn remote() -> IpAddr {
        "10.1.2.3".parse().unwrap()
    }

    #[test]
    fn guest_only_from_loopback_unless_configured() {
        let db = AuthDb::with_default_user();
        assert!(db.authenticate("guest", "guest", local()).is_ok());
        assert!(db
            .authenticate("guest", "guest", "::ffff:127.0.0.1".parse().unwrap())
            .is_ok());
        assert_eq!(
            db.authenticate("guest", "guest", remote()).unwrap_err(),
            AuthError::LoopbackOnly("guest".into())
        );
        assert!(matches!(
            db.authenticate("guest", "nope", local()),
            Err(AuthError::InvalidCredentials(_))
        ));
        db.set_loopback_users(vec![]);
        assert!(db.authenticate("guest", "guest", remote()).is_ok());
    }

    #[test]
    fn loopback_rule_for_users_authenticated_otherwise() {
        let db = AuthDb::new();
        assert!(db.check_loopback("guest", local()).is_ok());
        assert_eq!(
            db.check_loopback("guest", remote()).unwrap_err(),
            AuthError::LoopbackOnly("guest".into())
        );
        // Whether or not the user exists in the database (a token's subject need not).
        assert!(db.check_loopback("app", remote()).is_ok());
        db.set_loopback_users(vec!["app".into()]);
        assert!(db.check_loopback("app", remote()).is_err());
        assert!(db.check_loopback("guest", remote()).is_ok());
    }

    #[test]
    fn users_tags_and_passwords() {
        let db = AuthDb::new();
        db.add_user("u", "p1", &["management".into()]).unwrap();
        assert_eq!(
            db.add_user("u", "x", &[]),
            Err(AuthDbError::UserExists("u".into()))
        );
        let id = db.authenticate("u", "p1", remote()).unwrap();
        assert!(id.has_tag("management"));
        assert!(!id.has_tag("administrator"));
        db.set_password("u", Some("p2")).unwrap();
        assert!(db.authenticate("u", "p1", local()).is_err());
        assert!(db.authenticate("u", "p2", local()).is_ok());
        db.set_password("u", None).unwrap();
        assert!(db.authenticate("u", "", local()).is_err());
        assert!(db.authenticate("nobody", "", local()).is_err());
        db.delete_user("u").unwrap();
        assert!(db.users().is_empty());
        assert!(db.delete_user("u").is_err());
        assert!(db.add_user("", "x", &[]).is_err());
    }

    #[test]
    fn permission_regexes_as_rabbitmq_reads_them() {
        let db = AuthDb::new();
        db.add_user("u", "p", &[]).unwrap();
        db.set_permissions("u", "/", "^cfg-", "", "q").unwrap();
        let id = db.identity("u").unwrap();
        assert!(id.can_access_vhost("/"));
        assert!(!id.can_access_vhost("other"));
        assert!(id
            .check("/", Access::Configure, ResourceKind::Queue, "cfg-1")
            .is_ok());
        let e = id
            .check("/", Access::Configure, ResourceKind::Queue, "x-cfg")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "configure access to queue 'x-cfg' in vhost '/' refused for user 'u'"
        );
        // "" matches nothing, not even the empty name; the default exchange is amq.default.
        let e = id
            .check("/", Access::Write, ResourceKind::Exchange, "")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "write access to exchange 'amq.default' in vhost '/' refused for user 'u'"
        );
        // Unanchored: matches anywhere.
        assert!(id
            .check("/", Access::Read, ResourceKind::Queue, "myq")
            .is_ok());
        assert!(db.set_permissions("u", "/", "(", "", "").is_err());
        assert!(db.set_permissions("ghost", "/", ".*", "", "").is_err());
        let g = id.generation();
        assert!(db.clear_permissions("u", "/"));
        assert_ne!(g, id.generation());
        assert!(!id.can_access_vhost("/"));
    }

    #[test]
    fn topic_permissions_restrict_only_where_set() {
        let db = AuthDb::new();
        db.add_user("u", "p", &[]).unwrap();
        db.set_permissions("u", "/", ".*", ".*", ".*").unwrap();
        let id = db.identity("u").unwrap();
        assert!(id
            .check_topic("/", Access::Write, "amq.topic", "any")
            .is_ok());
        db.set_topic_permissions("u", "/", "amq.topic", "^orders\\.", "^{username}\\.")
            .unwrap();
        assert!(id
            .check_topic("/", Access::Write, "amq.topic", "orders.new")
            .is_ok());
        let e = id
            .check_topic("/", Access::Write, "amq.topic", "users.new")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "write access to topic 'users.new' in exchange 'amq.topic' in vhost '/' refused for user 'u'"
        );
        assert!(id
            .check_topic("/", Access::Read, "amq.topic", "u.x")
            .is_ok());
        assert!(id
            .check_topic("/", Access::Read, "amq.topic", "v.x")
            .is_err());
        assert!(id
            .check_topic("/", Access::Write, "other", "users.new")
            .is_ok());
        db.delete_vhost("/");
        assert!(db.topic_permissions().is_empty());
        assert!(db.permissions().is_empty());
    }

    #[test]
    fn definitions_round_trip() {
        let db = AuthDb::with_default_user();
        db.add_user("a", "pw", &["monitoring".into()]).unwrap();
        db.set_topic_permissions("a", "/", "t", ".*", "").unwrap();
        let users = db.users();
        let json = serde_json::to_value(&users).unwrap();
        assert_eq!(json[0]["name"], "a");
        assert_eq!(
            json[0]["hashing_algorithm"],
            "rabbit_password_hashing_sha256"
        );
        assert_eq!(json[0]["tags"], serde_json::json!(["monitoring"]));
        let back: Vec<UserInfo> = serde_json::from_value(json).unwrap();
        let db2 = AuthDb::new();
        db2.import(&back, &db.permissions(), &db.topic_permissions())
            .unwrap();
        assert!(db2.authenticate("a", "pw", local()).is_ok());
        assert_eq!(db2.permissions(), db.permissions());
        assert_eq!(db2.topic_permissions(), db.topic_permissions());
        // Older exports: tags as a comma-separated string.
        let old: UserInfo = serde_json::from_str(
            r#"{"name":"x","password_hash":"","tags":"administrator,management"}"#,
        )
        .unwrap();
        assert_eq!(old.tags, vec!["administrator", "management"]);
        // A bad entry changes nothing.
        let bad = UserInfo {
            hashing_algorithm: "rot13".into(),
            ..old.clone()
        };
        assert!(db2.import(&[old, bad], &[], &[]).is_err());
        assert!(db2.user("x").is_none());
    }
}
