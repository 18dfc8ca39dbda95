//! Client lifecycle carried out against the store: create, rotate a secret. Shared
//! by the CLI and, later, the apps API and dynamic registration.

use crate::oauth::OAuthError;
use crate::oauth::client_auth::hash_secret;
use crate::oauth::registration::{self, ClientMetadata};
use crate::oauth::scope::ScopeCatalogue;
use crate::oauth::types::ClientType;
use crate::random::url_token;
use crate::store::models::{ClientRow, NewClient};
use crate::store::{self, Db, StoreError};

/// Secrets carry a prefix so secret scanners can recognise a leaked one.
const SECRET_PREFIX: &str = "lk_cs_";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Invalid(OAuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A client just made: its id, and its secret, shown this once and never again.
pub struct CreatedClient {
    pub row: ClientRow,
    pub client_secret: Option<String>,
}

/// A new 256-bit secret and the digest that is stored.
fn new_secret() -> (String, Vec<u8>) {
    let secret = format!("{SECRET_PREFIX}{}", url_token::<32>());
    let hash = hash_secret(&secret).0.to_vec();
    (secret, hash)
}

pub async fn create_client(
    db: &Db,
    catalogue: &ScopeCatalogue,
    meta: ClientMetadata,
    owner_id: Option<String>,
    now: i64,
) -> Result<CreatedClient, ClientError> {
    let valid = registration::validate(meta, catalogue).map_err(ClientError::Invalid)?;
    let (client_secret, secret_hash) = match valid.client_type {
        ClientType::Confidential => {
            let (secret, hash) = new_secret();
            (Some(secret), Some(hash))
        }
        ClientType::Public => (None, None),
    };
    let row = NewClient {
        id: url_token::<16>(),
        secret_hash,
        client_type: valid.client_type.as_str().to_owned(),
        name: valid.name,
        description: valid.description,
        website: valid.website,
        icon_url: valid.icon_url,
        redirect_uris: serde_json::to_string(&valid.redirect_uris)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        grant_types: valid
            .grant_types
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        scopes: valid.scopes.to_string(),
        owner_id,
        created_at: now,
        updated_at: now,
    };
    store::clients::insert_client(db, &row).await?;
    let row = store::clients::find_client(db, &row.id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("client vanished after insert".to_owned()))?;
    Ok(CreatedClient { row, client_secret })
}

/// Replaces a confidential client's secret; the old one stops working at once.
/// `None` when there is no such confidential client.
pub async fn rotate_secret(db: &Db, id: &str, now: i64) -> Result<Option<String>, StoreError> {
    let (secret, hash) = new_secret();
    let updated = store::clients::update_client_secret(db, id, &hash, now).await?;
    Ok(updated.then_some(secret))
}
