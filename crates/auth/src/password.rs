//! Password hashes in RabbitMQ's format, so user databases move between RabbitMQ and Warren.
//!
//! RabbitMQ stores `base64(salt ++ H(salt ++ utf8(password)))` with a 4-byte random salt, where
//! H is SHA-256 (`rabbit_password_hashing_sha256`, the default since 3.6), SHA-512
//! (`rabbit_password_hashing_sha512`) or MD5 (`rabbit_password_hashing_md5`, legacy, read
//! only: new hashes are always SHA-256). Comparison is constant-time.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use md5::Md5;
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// Length of the random salt RabbitMQ puts in front of the hash.
pub const SALT_LEN: usize = 4;

/// The hashing algorithms of RabbitMQ's internal user database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashingAlgorithm {
    #[default]
    Sha256,
    Sha512,
    Md5,
}

impl HashingAlgorithm {
    /// The module name RabbitMQ writes in definitions (`hashing_algorithm`).
    pub fn as_str(self) -> &'static str {
        match self {
            HashingAlgorithm::Sha256 => "rabbit_password_hashing_sha256",
            HashingAlgorithm::Sha512 => "rabbit_password_hashing_sha512",
            HashingAlgorithm::Md5 => "rabbit_password_hashing_md5",
        }
    }

    /// Parses a definitions `hashing_algorithm` value.
    pub fn parse(s: &str) -> Option<HashingAlgorithm> {
        match s {
            "rabbit_password_hashing_sha256" => Some(HashingAlgorithm::Sha256),
            "rabbit_password_hashing_sha512" => Some(HashingAlgorithm::Sha512),
            "rabbit_password_hashing_md5" => Some(HashingAlgorithm::Md5),
            _ => None,
        }
    }

    fn digest(self, salt: &[u8], password: &[u8]) -> Vec<u8> {
        match self {
            HashingAlgorithm::Sha256 => {
                let mut h = Sha256::new();
                h.update(salt);
                h.update(password);
                h.finalize().to_vec()
            }
            HashingAlgorithm::Sha512 => {
                let mut h = Sha512::new();
                h.update(salt);
                h.update(password);
                h.finalize().to_vec()
            }
            HashingAlgorithm::Md5 => {
                let mut h = Md5::new();
                h.update(salt);
                h.update(password);
                h.finalize().to_vec()
            }
        }
    }

    fn digest_len(self) -> usize {
        match self {
            HashingAlgorithm::Sha256 => 32,
            HashingAlgorithm::Sha512 => 64,
            HashingAlgorithm::Md5 => 16,
        }
    }
}

/// A salted password hash (the raw bytes: salt then digest).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    pub algorithm: HashingAlgorithm,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print hash material in logs.
        write!(f, "PasswordHash({})", self.algorithm.as_str())
    }
}

impl PasswordHash {
    /// Hashes `password` with a fresh random salt (SHA-256, RabbitMQ's default).
    pub fn new(password: &str) -> PasswordHash {
        let mut salt = [0u8; SALT_LEN];
        rand::thread_rng().fill_bytes(&mut salt);
        PasswordHash::with_salt(HashingAlgorithm::Sha256, salt, password)
    }

    pub fn with_salt(
        algorithm: HashingAlgorithm,
        salt: [u8; SALT_LEN],
        password: &str,
    ) -> PasswordHash {
        let mut bytes = salt.to_vec();
        bytes.extend_from_slice(&algorithm.digest(&salt, password.as_bytes()));
        PasswordHash { algorithm, bytes }
    }

    /// Reads a definitions `password_hash` (base64). An empty string is a user without a
    /// password (`Ok(None)`): it cannot log in with one.
    pub fn from_base64(
        algorithm: HashingAlgorithm,
        text: &str,
    ) -> Result<Option<PasswordHash>, String> {
        if text.is_empty() {
            return Ok(None);
        }
        let bytes = B64
            .decode(text)
            .map_err(|e| format!("password_hash is not base64: {e}"))?;
        if bytes.len() != SALT_LEN + algorithm.digest_len() {
            return Err(format!(
                "password_hash has {} bytes, {} expects {}",
                bytes.len(),
                algorithm.as_str(),
                SALT_LEN + algorithm.digest_len()
            ));
        }
        Ok(Some(PasswordHash { algorithm, bytes }))
    }

    pub fn to_base64(&self) -> String {
        B64.encode(&self.bytes)
    }

    /// Does `password` match? Constant-time in the digest comparison.
    pub fn verify(&self, password: &str) -> bool {
        let (salt, expected) = self.bytes.split_at(SALT_LEN);
        let actual = self.algorithm.digest(salt, password.as_bytes());
        actual.ct_eq(expected).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_verify() {
        let h = PasswordHash::new("s3cret");
        assert!(h.verify("s3cret"));
        assert!(!h.verify("s3cret "));
        assert!(!h.verify(""));
        let back = PasswordHash::from_base64(HashingAlgorithm::Sha256, &h.to_base64())
            .unwrap()
            .unwrap();
        assert!(back.verify("s3cret"));
        assert_eq!(back, h);
    }

    #[test]
    fn known_layout_salt_then_sha256_of_salt_and_password() {
        let salt = [1u8, 2, 3, 4];
        let h = PasswordHash::with_salt(HashingAlgorithm::Sha256, salt, "pw");
        let mut d = Sha256::new();
        d.update(salt);
        d.update(b"pw");
        let mut expected = salt.to_vec();
        expected.extend_from_slice(&d.finalize());
        assert_eq!(h.to_base64(), B64.encode(expected));
    }

    #[test]
    fn sha512_and_md5_are_read() {
        for alg in [HashingAlgorithm::Sha512, HashingAlgorithm::Md5] {
            let h = PasswordHash::with_salt(alg, [9, 8, 7, 6], "pw");
            let back = PasswordHash::from_base64(alg, &h.to_base64())
                .unwrap()
                .unwrap();
            assert!(back.verify("pw"));
            assert!(!back.verify("pW"));
        }
    }

    #[test]
    fn bad_hashes_are_errors_not_panics() {
        assert!(PasswordHash::from_base64(HashingAlgorithm::Sha256, "!!!").is_err());
        assert!(PasswordHash::from_base64(HashingAlgorithm::Sha256, "AAAA").is_err());
        assert_eq!(
            PasswordHash::from_base64(HashingAlgorithm::Sha256, "").unwrap(),
            None
        );
    }
}
