//! Where users come from: `grader user add` (straight into the database) or a TOML file
//! read by `grader serve --users FILE`, whose entries hold password hashes, never passwords:
//!
//! ```toml
//! [[users]]
//! name = "ann"
//! role = "teacher"
//! password_hash = "$argon2id$v=19$..."   # from `grader user hash --password ...`
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::auth;
use crate::db::{Db, DbError, Role, User};

/// Errors managing users.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot read {path}: {message}")]
    File { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    users: Vec<UserEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    name: String,
    role: Role,
    password_hash: String,
}

fn check_name(name: &str) -> Result<(), UserError> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        return Err(UserError::Invalid(format!(
            "invalid user name '{name}' (1-64 characters: letters, digits, . _ - @)"
        )));
    }
    Ok(())
}

/// Creates or updates a user in the service's database (`DATA_DIR/grader.sqlite3`).
pub fn add_user(data_dir: &Path, name: &str, role: Role, password: &str) -> Result<(), UserError> {
    check_name(name)?;
    if password.is_empty() {
        return Err(UserError::Invalid("the password must not be empty".into()));
    }
    std::fs::create_dir_all(data_dir).map_err(|e| UserError::File {
        path: data_dir.display().to_string(),
        message: e.to_string(),
    })?;
    let db = Db::open(data_dir)?;
    let password_hash = auth::hash_password(password).map_err(UserError::Invalid)?;
    db.upsert_user(&User {
        name: name.to_owned(),
        role,
        password_hash,
    })?;
    Ok(())
}

/// Loads a users file into the database; returns how many users it held.
pub fn load_users_file(db: &Db, path: &Path) -> Result<usize, UserError> {
    let file_err = |message: String| UserError::File {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
    let file: UsersFile = toml::from_str(&text).map_err(|e| file_err(e.to_string()))?;
    for entry in &file.users {
        check_name(&entry.name)?;
        if argon2::password_hash::PasswordHash::new(&entry.password_hash).is_err() {
            return Err(file_err(format!(
                "user '{}': password_hash is not a PHC string (use `grader user hash`)",
                entry.name
            )));
        }
        db.upsert_user(&User {
            name: entry.name.clone(),
            role: entry.role,
            password_hash: entry.password_hash.clone(),
        })?;
    }
    Ok(file.users.len())
}
