//! Passwords (argon2id, PHC strings) and JWTs (HS256 with an expiry).
//!
//! Tokens carry the user name (`sub`), the role and `exp`/`iat`. Only HS256 with the
//! service's secret is accepted: the algorithm is fixed here, never taken from the token's
//! header, so `alg: none` or a public-key confusion cannot get through.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::db::Role;

/// Hashes a password for storage (argon2id with a random salt).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash password: {e}"))
}

/// Checks a password against a stored PHC string; a malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks a login: `password` against the user's stored hash, or, when there is no such
/// user, against a dummy hash of the same cost whose answer is ignored. Both paths run one
/// argon2 verification, so the response time does not tell which user names exist.
pub fn verify_login(stored_hash: Option<&str>, password: &str) -> bool {
    verify_login_with(stored_hash, password, verify_password)
}

/// [`verify_login`] with the verifier as a parameter (the unit tests count its calls).
fn verify_login_with(
    stored_hash: Option<&str>,
    password: &str,
    verify: impl FnOnce(&str, &str) -> bool,
) -> bool {
    match stored_hash {
        Some(hash) => verify(password, hash),
        None => {
            // Same work as for a known user; the result cannot let anyone in.
            let _ = std::hint::black_box(verify(password, dummy_hash()));
            false
        }
    }
}

/// An argon2 hash made with the same parameters as [`hash_password`]'s (of a random
/// password nobody knows), computed once. [`warm_up`] computes it at start-up, so that the
/// first unknown-user login is not the slow one.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let secret = SaltString::generate(&mut OsRng);
        hash_password(secret.as_str()).unwrap_or_else(|_| {
            // Hashing with the default parameters does not fail; if it ever did, a fixed
            // hash of the default cost still keeps the timing.
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
             XlNMlK5KeaCSoFQkSSmV0kpFbVfTjCgUMYlu6Pfq7XQ"
                .to_owned()
        })
    })
}

/// Prepares what logins need (the dummy hash), so the first one costs what the others do.
pub fn warm_up() {
    let _ = dummy_hash();
}

/// The claims of a grader token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User name.
    pub sub: String,
    pub role: Role,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token expired")]
    Expired,
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Issues and verifies tokens with one HS256 secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    /// A token for `user`, valid for the configured lifetime.
    pub fn issue(&self, user: &str, role: Role) -> Result<String, TokenError> {
        let iat = now_secs();
        let claims = Claims {
            sub: user.to_owned(),
            role,
            iat,
            exp: iat + self.ttl.as_secs().max(1),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError::Invalid(e.to_string()))
    }

    /// Verifies signature, algorithm and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid(e.to_string()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_round_trip() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("s3creT", &h));
        assert!(!verify_password("s3cret", "not a hash"));
    }

    #[test]
    fn unknown_users_cost_one_verification_too() {
        // An unknown user: the verifier runs once, on a real argon2 hash with the cost of
        // a stored one, and the login fails even if the verifier said yes.
        let mut seen = Vec::new();
        let ok = verify_login_with(None, "guess", |pw, hash| {
            seen.push((pw.to_owned(), hash.to_owned()));
            true
        });
        assert!(!ok, "no user, no login");
        assert_eq!(seen.len(), 1, "the verifier ran for the unknown user");
        assert_eq!(seen[0].0, "guess");
        let dummy = PasswordHash::new(&seen[0].1).expect("the dummy is a PHC string");
        let stored_hash = hash_password("s3cret").unwrap();
        let stored = PasswordHash::new(&stored_hash).unwrap();
        assert_eq!(dummy.algorithm, stored.algorithm);
        assert_eq!(dummy.version, stored.version);
        assert_eq!(
            dummy.params, stored.params,
            "same memory, time and lanes cost"
        );
        assert!(!verify_password("guess", &seen[0].1));

        // A known user: one call, on that user's hash, whose answer is the answer.
        let mut calls = 0;
        assert!(verify_login_with(
            Some(&stored_hash),
            "s3cret",
            |pw, hash| {
                calls += 1;
                verify_password(pw, hash)
            }
        ));
        assert_eq!(calls, 1);
        assert!(verify_login(Some(&stored_hash), "s3cret"));
        assert!(!verify_login(Some(&stored_hash), "wrong"));
        assert!(!verify_login(None, "s3cret"));
    }

    #[test]
    fn tokens_verify_and_reject() {
        let keys = TokenKeys::new(b"k1", Duration::from_secs(60));
        let t = keys.issue("ann", Role::Teacher).unwrap();
        let c = keys.verify(&t).unwrap();
        assert_eq!((c.sub.as_str(), c.role), ("ann", Role::Teacher));
        let other = TokenKeys::new(b"k2", Duration::from_secs(60));
        assert!(matches!(other.verify(&t), Err(TokenError::Invalid(_))));
        assert!(matches!(
            keys.verify("garbage"),
            Err(TokenError::Invalid(_))
        ));
        // A token whose expiry has passed.
        let expired = Claims {
            sub: "ann".into(),
            role: Role::Student,
            iat: 1,
            exp: now_secs() - 10,
        };
        let t = jsonwebtoken::encode(
            &Header::default(),
            &expired,
            &EncodingKey::from_secret(b"k1"),
        )
        .unwrap();
        assert!(matches!(keys.verify(&t), Err(TokenError::Expired)));
    }
}
