//! JWT access tokens: verification ([`JwtVerifier`]) and a built-in issuer ([`TokenIssuer`]).
//!
//! Verification rules (none of them can be turned off by a token):
//! - the header's `alg` must be one the configuration allows, and equal to the algorithm of
//!   the key the `kid` selects (a key without `kid` serves tokens without one). So `alg: none`
//!   is never accepted, and a token can never make an RSA/EC public key act as an HMAC secret;
//! - `exp` is required; `nbf` and `iat` must not be in the future (`leeway` seconds allowed);
//! - `aud` is required and must contain the resource server id (default `rabbitmq`);
//! - the signature must verify.
//!
//! Scopes come from `scope` (a space-separated string or a list) and, if configured, an extra
//! claim (`extra_scopes_source`, a dotted path such as `realm_access.roles`); see
//! [`crate::scope`] for the grammar.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::AuthDb;
use crate::identity::{Access, Identity};
use crate::scope::{escape_pattern, parse_scopes, regex_to_wildcard};
use crate::AuthError;

/// Algorithms Warren verifies. HMAC ones take a shared secret, the others a public key.
const SUPPORTED: [Algorithm; 8] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// `[jwt]` in the configuration file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// The audience tokens must carry, and the scope prefix `<id>.` unless `scope_prefix` says
    /// otherwise. Default `rabbitmq` (RabbitMQ's).
    pub resource_server_id: String,
    pub scope_prefix: Option<String>,
    /// Another claim holding scopes (string or list), e.g. `roles` or `realm_access.roles`.
    pub extra_scopes_source: Option<String>,
    /// Claims tried in order for the user name. Default `["sub", "client_id"]`.
    pub preferred_username_claims: Vec<String>,
    /// Algorithms accepted; empty = those of the configured keys.
    pub algorithms: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds. Default 0.
    pub leeway: u64,
    pub keys: Vec<JwtKeyConfig>,
    /// A JSON Web Key Set file (`{"keys": [...]}`); its keys are chosen by `kid`. Keys Warren
    /// cannot verify with (encryption keys, other algorithms or key types) are skipped.
    pub jwks_file: Option<PathBuf>,
    /// The built-in issuer (`warren token issue`, `POST /api/auth/token`).
    pub issuer: IssuerConfig,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            resource_server_id: "rabbitmq".to_string(),
            scope_prefix: None,
            extra_scopes_source: None,
            preferred_username_claims: vec!["sub".to_string(), "client_id".to_string()],
            algorithms: Vec::new(),
            leeway: 0,
            keys: Vec::new(),
            jwks_file: None,
            issuer: IssuerConfig::default(),
        }
    }
}

impl JwtConfig {
    /// The scope prefix in force.
    pub fn prefix(&self) -> String {
        self.scope_prefix
            .clone()
            .unwrap_or_else(|| format!("{}.", self.resource_server_id))
    }

    /// Is anything configured to verify tokens with?
    pub fn is_enabled(&self) -> bool {
        !self.keys.is_empty() || self.jwks_file.is_some()
    }
}

/// `[[jwt.keys]]`: one verification (and possibly signing) key.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct JwtKeyConfig {
    /// Tokens whose header has this `kid` use this key; a key without `kid` serves tokens
    /// without one.
    pub kid: Option<String>,
    /// HS256, HS384, HS512, RS256, RS384, RS512, ES256 or ES384.
    pub algorithm: String,
    /// The shared secret (HS*).
    pub secret: Option<String>,
    /// PEM public key file (RS*/ES*).
    pub public_key_file: Option<PathBuf>,
    /// PEM public key inline (RS*/ES*).
    pub public_key: Option<String>,
    /// PEM private key file: lets the built-in issuer sign with an RS*/ES* key.
    pub private_key_file: Option<PathBuf>,
}

/// `[jwt.issuer]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IssuerConfig {
    /// The key (by `kid`) that signs; default: the first key able to sign.
    pub kid: Option<String>,
    /// Token lifetime in seconds. Default 3600.
    pub lifetime: u64,
    /// `iss` claim of issued tokens. Default `warren`.
    pub issuer: String,
}

impl Default for IssuerConfig {
    fn default() -> Self {
        IssuerConfig {
            kid: None,
            lifetime: 3600,
            issuer: "warren".to_string(),
        }
    }
}

/// Configuration errors (at start-up, never per token).
#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    #[error(
        "jwt key {kid}: unsupported algorithm '{alg}' (HS256/384/512, RS256/384/512, ES256/384)"
    )]
    Algorithm { kid: String, alg: String },
    #[error("jwt key {kid}: {what}")]
    Key { kid: String, what: String },
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("jwks file {path}: {what}")]
    Jwks { path: String, what: String },
    #[error("no key can sign tokens: configure a [[jwt.keys]] entry with a secret (HS*) or private_key_file (RS*/ES*)")]
    NoSigningKey,
}

fn kid_name(kid: &Option<String>) -> String {
    kid.as_deref()
        .map_or("(no kid)".to_string(), |k| format!("'{k}'"))
}

fn parse_alg(kid: &Option<String>, s: &str) -> Result<Algorithm, JwtConfigError> {
    Algorithm::from_str(s)
        .ok()
        .filter(|a| SUPPORTED.contains(a))
        .ok_or_else(|| JwtConfigError::Algorithm {
            kid: kid_name(kid),
            alg: s.to_string(),
        })
}

fn is_hmac(a: Algorithm) -> bool {
    matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

fn read(path: &PathBuf) -> Result<Vec<u8>, JwtConfigError> {
    std::fs::read(path).map_err(|source| JwtConfigError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The signature keys of a JWKS file. An identity provider's set usually holds more than
/// signature keys (Keycloak publishes an `RSA-OAEP` encryption key beside its `RS256` one):
/// keys for encryption (`use: enc`), with an algorithm or key type Warren does not verify, or
/// that do not parse are skipped with a warning, never an error. Only a file that is not a
/// JWK set at all is an error.
fn load_jwks(path: &PathBuf) -> Result<Vec<VerifyKey>, JwtConfigError> {
    let file = path.display().to_string();
    let set: RawJwkSet =
        serde_json::from_slice(&read(path)?).map_err(|e| JwtConfigError::Jwks {
            path: file.clone(),
            what: format!("not a JWK set: {e}"),
        })?;
    let mut keys = Vec::new();
    for (i, raw) in set.keys.into_iter().enumerate() {
        let kid = raw.get("kid").and_then(Value::as_str).map(str::to_string);
        let name = match &kid {
            Some(k) => format!("'{k}'"),
            None => format!("#{i} (no kid)"),
        };
        match jwk_key(raw) {
            Ok(key) => keys.push(key),
            Err(why) => tracing::warn!("jwks file {file}: key {name} skipped: {why}"),
        }
    }
    if keys.is_empty() {
        tracing::warn!("jwks file {file}: no signature key Warren can verify with");
    }
    Ok(keys)
}

#[derive(Deserialize)]
struct RawJwkSet {
    keys: Vec<Value>,
}

/// One JWK as a verification key, or why it is not one.
fn jwk_key(raw: Value) -> Result<VerifyKey, String> {
    if raw.get("use").and_then(Value::as_str) == Some("enc") {
        return Err("an encryption key (use: enc)".to_string());
    }
    let jwk: Jwk =
        serde_json::from_value(raw).map_err(|e| format!("unsupported or invalid: {e}"))?;
    if let Some(ops) = &jwk.common.key_operations {
        if !ops.iter().any(|o| matches!(o, KeyOperations::Verify)) {
            return Err("its key_ops do not include verify".to_string());
        }
    }
    let kid = jwk.common.key_id.clone();
    let alg = match (&jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(a), _) => {
            let s = format!("{a:?}");
            Algorithm::from_str(&s)
                .ok()
                .filter(|a| SUPPORTED.contains(a))
                .ok_or_else(|| format!("unsupported algorithm '{s}'"))?
        }
        (None, AlgorithmParameters::RSA(_)) => Algorithm::RS256,
        (None, AlgorithmParameters::EllipticCurve(ec)) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            ref c => return Err(format!("unsupported curve {c:?}")),
        },
        (None, AlgorithmParameters::OctetKey(_)) => Algorithm::HS256,
        (None, AlgorithmParameters::OctetKeyPair(_)) => {
            return Err("unsupported key type OKP".to_string())
        }
    };
    // The key type must fit the algorithm: an RSA key never verifies HS256.
    let fits = matches!(
        (&jwk.algorithm, is_hmac(alg)),
        (AlgorithmParameters::OctetKey(_), true)
            | (AlgorithmParameters::RSA(_), false)
            | (AlgorithmParameters::EllipticCurve(_), false)
    );
    if !fits {
        return Err(format!("algorithm {alg:?} does not fit its key type"));
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
    Ok(VerifyKey { kid, alg, key })
}

struct VerifyKey {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

/// Verifies access tokens and turns them into identities.
pub struct JwtVerifier {
    keys: Vec<VerifyKey>,
    allowed: Vec<Algorithm>,
    audience: String,
    prefix: String,
    extra_scopes_source: Option<String>,
    username_claims: Vec<String>,
    leeway: u64,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("keys", &self.keys.len())
            .field("allowed", &self.allowed)
            .field("audience", &self.audience)
            .finish()
    }
}

impl JwtVerifier {
    /// Loads keys (secrets, PEM files, the JWKS file). Errors name the faulty key.
    pub fn from_config(cfg: &JwtConfig) -> Result<JwtVerifier, JwtConfigError> {
        let mut keys = Vec::new();
        for k in &cfg.keys {
            let alg = parse_alg(&k.kid, &k.algorithm)?;
            let bad = |what: String| JwtConfigError::Key {
                kid: kid_name(&k.kid),
                what,
            };
            let key = if is_hmac(alg) {
                let secret = k
                    .secret
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| bad(format!("{alg:?} needs a secret")))?;
                if k.public_key.is_some() || k.public_key_file.is_some() {
                    return Err(bad(format!("{alg:?} takes a secret, not a public key")));
                }
                DecodingKey::from_secret(secret.as_bytes())
            } else {
                if k.secret.is_some() {
                    return Err(bad(format!("{alg:?} takes a public key, not a secret")));
                }
                let pem = match (&k.public_key, &k.public_key_file) {
                    (Some(p), _) => p.as_bytes().to_vec(),
                    (None, Some(path)) => read(path)?,
                    (None, None) => {
                        return Err(bad(format!(
                            "{alg:?} needs public_key_file (or public_key)"
                        )))
                    }
                };
                let r = match alg {
                    Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(&pem),
                    _ => DecodingKey::from_rsa_pem(&pem),
                };
                r.map_err(|e| bad(format!("invalid PEM public key: {e}")))?
            };
            keys.push(VerifyKey {
                kid: k.kid.clone(),
                alg,
                key,
            });
        }
        if let Some(path) = &cfg.jwks_file {
            keys.extend(load_jwks(path)?);
        }
        let allowed = if cfg.algorithms.is_empty() {
            let set: BTreeSet<String> = keys.iter().map(|k| format!("{:?}", k.alg)).collect();
            set.iter()
                .filter_map(|s| Algorithm::from_str(s).ok())
                .collect()
        } else {
            cfg.algorithms
                .iter()
                .map(|a| parse_alg(&None, a))
                .collect::<Result<Vec<_>, _>>()?
        };
        Ok(JwtVerifier {
            keys,
            allowed,
            audience: cfg.resource_server_id.clone(),
            prefix: cfg.prefix(),
            extra_scopes_source: cfg.extra_scopes_source.clone(),
            username_claims: cfg.preferred_username_claims.clone(),
            leeway: cfg.leeway,
        })
    }

    /// Verifies `token` and returns who it is and what it may do.
    pub fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let invalid = |why: &str| AuthError::InvalidToken(why.to_string());
        // `alg: none` and unknown algorithms fail here: jsonwebtoken has no such variant.
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed token"))?;
        if !self.allowed.contains(&header.alg) {
            return Err(invalid("algorithm not allowed"));
        }
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == header.kid)
            .ok_or_else(|| invalid("unknown signing key (kid)"))?;
        if key.alg != header.alg {
            return Err(invalid("algorithm does not match the key"));
        }
        let mut v = Validation::new(key.alg);
        v.leeway = self.leeway;
        v.validate_nbf = true;
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "aud"]);
        let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key.key, &v)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                match e.kind() {
                    K::ExpiredSignature => AuthError::TokenExpired,
                    K::ImmatureSignature => invalid("token not valid yet (nbf)"),
                    K::InvalidAudience => invalid("wrong audience"),
                    K::MissingRequiredClaim(c) => {
                        AuthError::InvalidToken(format!("missing claim '{c}'"))
                    }
                    K::InvalidSignature => invalid("invalid signature"),
                    _ => AuthError::InvalidToken(format!("invalid token: {e}")),
                }
            })?;
        let claims = data.claims;
        let now = now_secs();
        if let Some(iat) = claims.get("iat") {
            let iat = iat.as_u64().ok_or_else(|| invalid("iat is not a number"))?;
            if iat > now + self.leeway {
                return Err(invalid("token issued in the future (iat)"));
            }
        }
        let exp = claims.get("exp").and_then(Value::as_u64);
        let username = self
            .username_claims
            .iter()
            .find_map(|c| claims.get(c).and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("no user name claim (sub)"))?
            .to_string();
        let mut raw: Vec<String> = Vec::new();
        collect_strings(claims.get("scope"), &mut raw);
        if let Some(path) = &self.extra_scopes_source {
            let mut v = Some(&Value::Object(claims.clone()));
            for part in path.split('.') {
                v = v.and_then(|x| x.get(part));
            }
            collect_strings(v, &mut raw);
            // Some identity providers put scopes under the audience: {"rabbitmq": [...]}.
        }
        let scopes = parse_scopes(raw.iter().map(String::as_str), &self.prefix);
        Ok(Identity::from_scopes(
            username,
            scopes.tags,
            exp,
            scopes.grants,
        ))
    }
}

/// Scope claims: a space-separated string or a list of strings.
fn collect_strings(v: Option<&Value>, out: &mut Vec<String>) {
    match v {
        Some(Value::String(s)) => out.extend(s.split_whitespace().map(str::to_string)),
        Some(Value::Array(a)) => {
            for x in a {
                if let Value::String(s) = x {
                    out.extend(s.split_whitespace().map(str::to_string));
                }
            }
        }
        _ => {}
    }
}

/// A token from the built-in issuer, in the OAuth 2 token response shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    pub access_token: String,
    /// Always "bearer".
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    aud: &'a str,
    iss: &'a str,
    iat: u64,
    nbf: u64,
    exp: u64,
    scope: String,
}

/// Signs tokens carrying a user's permissions and tags as scopes.
pub struct TokenIssuer {
    alg: Algorithm,
    kid: Option<String>,
    key: EncodingKey,
    audience: String,
    prefix: String,
    lifetime: u64,
    iss: String,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl TokenIssuer {
    /// The signing key is `[jwt.issuer] kid`'s, or the first key that can sign (an HMAC
    /// secret, or an RS*/ES* key with `private_key_file`).
    pub fn from_config(cfg: &JwtConfig) -> Result<TokenIssuer, JwtConfigError> {
        let candidates = cfg.keys.iter().filter(|k| match &cfg.issuer.kid {
            Some(kid) => k.kid.as_deref() == Some(kid.as_str()),
            None => true,
        });
        for k in candidates {
            let alg = parse_alg(&k.kid, &k.algorithm)?;
            let bad = |what: String| JwtConfigError::Key {
                kid: kid_name(&k.kid),
                what,
            };
            let key = if is_hmac(alg) {
                match k.secret.as_deref().filter(|s| !s.is_empty()) {
                    Some(s) => EncodingKey::from_secret(s.as_bytes()),
                    None => continue,
                }
            } else {
                let Some(path) = &k.private_key_file else {
                    continue;
                };
                let pem = read(path)?;
                let r = match alg {
                    Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem),
                    _ => EncodingKey::from_rsa_pem(&pem),
                };
                r.map_err(|e| bad(format!("invalid PEM private key: {e}")))?
            };
            return Ok(TokenIssuer {
                alg,
                kid: k.kid.clone(),
                key,
                audience: cfg.resource_server_id.clone(),
                prefix: cfg.prefix(),
                lifetime: cfg.issuer.lifetime.max(1),
                iss: cfg.issuer.issuer.clone(),
            });
        }
        Err(JwtConfigError::NoSigningKey)
    }

    /// A token for `username` with its current permissions and tags as scopes. The caller
    /// has authenticated the user (password, loopback rule).
    pub fn issue(&self, db: &AuthDb, username: &str) -> Result<IssuedToken, AuthError> {
        let user = db
            .user(username)
            .ok_or_else(|| AuthError::InvalidCredentials(username.to_string()))?;
        let mut scopes = Vec::new();
        let p = &self.prefix;
        for tag in &user.tags {
            scopes.push(format!("{p}tag:{tag}"));
        }
        let topic: Vec<_> = db
            .topic_permissions()
            .into_iter()
            .filter(|t| t.user == username)
            .collect();
        for perm in db.permissions().into_iter().filter(|x| x.user == username) {
            let vh = escape_pattern(&perm.vhost);
            for (access, re) in [
                (Access::Configure, &perm.configure),
                (Access::Write, &perm.write),
                (Access::Read, &perm.read),
            ] {
                if let Some(w) = regex_to_wildcard(re) {
                    scopes.push(format!("{p}{access}:{vh}/{w}"));
                }
            }
            // Topic exchanges: RabbitMQ's token scopes need a routing-key part. Without topic
            // permissions in this vhost the user may use any routing key.
            let here: Vec<_> = topic.iter().filter(|t| t.vhost == perm.vhost).collect();
            if here.is_empty() {
                for (access, re) in [(Access::Write, &perm.write), (Access::Read, &perm.read)] {
                    if let Some(w) = regex_to_wildcard(re) {
                        scopes.push(format!("{p}{access}:{vh}/{w}/*"));
                    }
                }
            } else {
                for t in here {
                    let x = escape_pattern(&t.exchange);
                    for (access, re) in [(Access::Write, &t.write), (Access::Read, &t.read)] {
                        let re = re
                            .replace("{username}", &regex::escape(username))
                            .replace("{vhost}", &regex::escape(&perm.vhost));
                        if let Some(w) = regex_to_wildcard(&re) {
                            scopes.push(format!("{p}{access}:{vh}/{x}/{w}"));
                        }
                    }
                }
            }
        }
        self.issue_scopes(username, &scopes)
    }

    /// A token for `username` with exactly these scopes (full names, prefix included).
    pub fn issue_scopes(
        &self,
        username: &str,
        scopes: &[String],
    ) -> Result<IssuedToken, AuthError> {
        let now = now_secs();
        let claims = Claims {
            sub: username,
            aud: &self.audience,
            iss: &self.iss,
            iat: now,
            nbf: now,
            exp: now + self.lifetime,
            scope: scopes.join(" "),
        };
        let mut header = Header::new(self.alg);
        header.kid = self.kid.clone();
        let access_token = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| AuthError::InvalidToken(format!("could not sign: {e}")))?;
        Ok(IssuedToken {
            access_token,
            token_type: "bearer".to_string(),
            expires_in: self.lifetime,
        })
    }
}
