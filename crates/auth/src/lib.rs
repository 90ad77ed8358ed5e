//! Warren's security: users, RabbitMQ-compatible password hashes, permissions, topic
//! permissions, JWT access tokens (verification and a built-in issuer).
//!
//! No sockets here: the server crate asks these types "who is this?" at login and "may they?"
//! at each operation; the HTTP crate does the same for its requests.
//!
//! # Public API (stable; other crates build on it)
//!
//! - [`AuthDb`]: the user database, a cheap-to-clone handle (`Arc` inside, one `RwLock`).
//!   - users: [`AuthDb::add_user`], [`AuthDb::put_user`] (from a definitions entry, hash
//!     kept), [`AuthDb::delete_user`], [`AuthDb::set_password`], [`AuthDb::set_tags`],
//!     [`AuthDb::user`], [`AuthDb::users`] -> [`UserInfo`] (`name`, `password_hash`
//!     base64, `hashing_algorithm`, `tags`, `limits`: RabbitMQ's definitions shape);
//!   - permissions: [`AuthDb::set_permissions`] (user, vhost, configure, write, read
//!     regexes), [`AuthDb::clear_permissions`], [`AuthDb::permissions`] -> [`PermissionInfo`];
//!   - topic permissions: [`AuthDb::set_topic_permissions`],
//!     [`AuthDb::clear_topic_permissions`], [`AuthDb::topic_permissions`] ->
//!     [`TopicPermissionInfo`];
//!   - [`AuthDb::authenticate`] (user, password, peer IP) -> [`Identity`] or [`AuthError`]
//!     (`guest` only from loopback, see [`AuthDb::set_loopback_users`]);
//!     [`AuthDb::identity`] for a user authenticated otherwise; [`AuthDb::check_loopback`]
//!     applies the loopback rule to one authenticated another way (a token);
//!   - [`AuthDb::import`] / the `*Info` types (serde) for definitions import and export;
//!     [`AuthDb::delete_vhost`] drops a deleted vhost's permissions.
//! - [`Identity`] { `username`, `tags`, `expires_at` }: [`Identity::has_tag`],
//!   [`Identity::can_access_vhost`], [`Identity::check`] (vhost, [`Access`],
//!   [`ResourceKind`], name) and [`Identity::check_topic`] (vhost, access, exchange,
//!   routing key) -> `Result<(), Denied>`; [`Denied`] displays RabbitMQ's 403 text;
//!   [`Identity::check_user_id`] is the validated user-ID rule for a message's `user_id`.
//! - [`JwtConfig`] (`[jwt]` in the TOML config, serde), [`JwtVerifier::from_config`],
//!   [`JwtVerifier::verify`] (token -> [`Identity`] from its scopes).
//! - [`TokenIssuer::from_config`], [`TokenIssuer::issue`] (db, username) -> [`IssuedToken`]
//!   { `access_token`, `token_type`: "bearer", `expires_in` }.
//!
//! Invariants worth naming:
//! - No password or token is ever logged or kept in clear; hashes compare in constant time.
//! - A token never chooses its key type: the key is picked by `kid` and must have been
//!   configured for exactly the token's `alg`.
//! - A permission check never allocates on success for password identities (regex search
//!   under a read lock); callers may cache successes while [`Identity::generation`] holds.

pub mod db;
pub mod identity;
pub mod jwt;
pub mod password;
pub mod scope;

pub use db::{
    split_tags, AuthDb, AuthDbError, AuthSnapshot, PermissionInfo, TopicPermissionInfo, UserInfo,
};
pub use identity::{Access, Denied, Identity, ResourceKind};
pub use jwt::{
    IssuedToken, IssuerConfig, JwtConfig, JwtConfigError, JwtKeyConfig, JwtVerifier, TokenIssuer,
};
pub use password::{HashingAlgorithm, PasswordHash};

/// Why a login or token was refused. The text never contains the password or token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("invalid credentials for user '{0}'")]
    InvalidCredentials(String),
    #[error("user '{0}' can only connect via localhost")]
    LoopbackOnly(String),
    #[error("invalid token: {0}")]
    InvalidToken(String),
    #[error("token expired")]
    TokenExpired,
}
