//! People who sign in: creation, and password checks with Argon2id.
//!
//! Parameters follow OWASP's Argon2id baseline (19 MiB, 2 passes, 1 lane): about
//! 20–30 ms per check on one core of a 2-core server, so a login burst cannot starve
//! the token endpoint, while an offline guess costs the attacker the same. Hashing
//! runs on the blocking pool, never on the async workers.

use crate::random::url_token;
use crate::store::models::UserRow;
use crate::store::{self, Db, StoreError};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The `source` of an account (its column belongs to the store).
pub use crate::store::users::{DELEGATED, LOCAL};
/// Stands where a delegated identity's password hash would be: not a PHC string,
/// so no password ever matches it.
const NO_PASSWORD: &str = "!";
const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Invalid(String),
    #[error("the username is already taken")]
    Taken,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

fn argon2() -> Argon2<'static> {
    #[expect(
        clippy::unwrap_used,
        reason = "constant parameters, valid by construction"
    )]
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_password_blocking(password: &str) -> Result<String, UserError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

/// A hash of a random password, checked when the username is unknown, so that an
/// unknown user costs the same time as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password_blocking(&url_token::<16>()).unwrap_or_else(|_| String::new())
    })
}

fn verify_blocking(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

fn validate_username(username: &str) -> Result<(), UserError> {
    let ok = (1..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(UserError::Invalid(
            "usernames are 1 to 64 characters of letters, digits, . _ - @".to_owned(),
        ))
    }
}

fn validate_password(password: &str) -> Result<(), UserError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(UserError::Invalid(format!(
            "passwords need at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(UserError::Invalid(format!(
            "passwords are limited to {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The profile of a new user.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub email: Option<String>,
    /// Whoever creates the account vouches for the address: Latchkey sends no mail,
    /// so it says `email_verified: false` unless told otherwise.
    pub email_verified: bool,
    pub name: Option<String>,
}

/// Creates a user with an Argon2id password hash.
pub async fn create_user(
    db: &Db,
    username: &str,
    password: String,
    profile: Profile,
    now: i64,
) -> Result<UserRow, UserError> {
    let Profile {
        email,
        email_verified,
        name,
    } = profile;
    let email_verified = email_verified && email.is_some();
    validate_username(username)?;
    validate_password(&password)?;
    if let Some(e) = &email {
        validate_email(e)?;
    }
    let password_hash = tokio::task::spawn_blocking(move || hash_password_blocking(&password))
        .await
        .map_err(|e| UserError::Hash(e.to_string()))??;
    let row = UserRow {
        id: url_token::<16>(),
        username: username.to_owned(),
        email,
        name,
        password_hash,
        created_at: now,
        email_verified,
        source: LOCAL.to_owned(),
        preferred_username: None,
        disabled: false,
        updated_at: now,
    };
    if !store::users::insert_user(db, &row).await? {
        return Err(UserError::Taken);
    }
    Ok(row)
}

/// Checks a username and password; the same Argon2 work is done whether or not the
/// user exists. `None` for any failure.
pub async fn authenticate(
    db: &Db,
    username: &str,
    password: String,
) -> Result<Option<UserRow>, StoreError> {
    let user = if password.len() > MAX_PASSWORD_BYTES {
        None
    } else {
        store::users::find_user_by_username(db, username).await?
    };
    let stored = user
        .as_ref()
        .map_or_else(|| dummy_hash().to_owned(), |u| u.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || verify_blocking(&password, &stored))
        .await
        .unwrap_or(false);
    // A disabled account fails like a wrong password, after the same work.
    Ok(user.filter(|u| ok && !u.disabled))
}

/// Replaces a local user's password. `Ok(false)` when there is no such local user.
pub async fn set_password(
    db: &Db,
    id: &str,
    password: String,
    now: i64,
) -> Result<bool, UserError> {
    validate_password(&password)?;
    let hash = tokio::task::spawn_blocking(move || hash_password_blocking(&password))
        .await
        .map_err(|e| UserError::Hash(e.to_string()))??;
    Ok(store::users::set_password_hash(db, id, &hash, now).await?)
}

/// Checks an email address an operator or product sends.
pub fn validate_email(email: &str) -> Result<(), UserError> {
    if !email.contains('@') || email.len() > 254 || email.chars().any(char::is_whitespace) {
        return Err(UserError::Invalid(format!(
            "`{email}` is not an email address"
        )));
    }
    Ok(())
}

/// Why a delegated identity cannot be signed in.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "the subject is the id of a local account; delegated subjects must not reuse local user ids"
    )]
    LocalCollision,
    #[error("this identity is disabled")]
    Disabled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The user record of the product's `subject`: made on its first sign-in, its
/// claims refreshed on every later one. Its id — and so `sub` in tokens — is the
/// subject itself, stable for as long as the product keeps it.
pub async fn accept_identity(
    db: &Db,
    subject: &str,
    claims: crate::oauth::challenge::Claims,
    now: i64,
) -> Result<UserRow, IdentityError> {
    let row = UserRow {
        id: subject.to_owned(),
        username: format!("{DELEGATED}:{subject}"),
        email: claims.email,
        name: claims.name,
        password_hash: NO_PASSWORD.to_owned(),
        created_at: now,
        email_verified: claims.email_verified,
        source: DELEGATED.to_owned(),
        preferred_username: claims.preferred_username,
        disabled: false,
        updated_at: now,
    };
    // Refresh first (the common case), insert on a first sign-in; if two sign-ins
    // race, the loser's insert finds the row and refreshes it.
    for _ in 0..2 {
        if store::users::refresh_identity(db, &row).await? {
            break;
        }
        if store::users::insert_user(db, &row).await? {
            break;
        }
    }
    match store::users::find_user(db, subject).await? {
        Some(u) if u.source != DELEGATED => Err(IdentityError::LocalCollision),
        Some(u) if u.disabled => Err(IdentityError::Disabled),
        Some(u) => Ok(u),
        None => {
            Err(StoreError::Corrupt(format!("identity {subject} vanished after upsert")).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash_password_blocking("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_blocking("correct horse", &h));
        assert!(!verify_blocking("wrong horse", &h));
        assert!(!verify_blocking("x", "not a hash"));
    }

    #[test]
    fn input_rules() {
        assert!(validate_username("alice").is_ok());
        assert!(validate_username("a b").is_err());
        assert!(validate_username("").is_err());
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough").is_ok());
    }
}
