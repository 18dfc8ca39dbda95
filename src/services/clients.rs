//! Client lifecycle carried out against the store: create, update, rotate a secret.
//! Shared by the CLI, the apps API and dynamic registration (RFC 7591/7592), so every
//! way of making a client applies the same rules.

use crate::oauth::OAuthError;
use crate::oauth::client_auth::hash_secret;
use crate::oauth::registration::{self, ClientMetadata, KeysMetadata, ValidClient};
use crate::oauth::scope::ScopeCatalogue;
use crate::oauth::types::{ApplicationType, ClientType, GrantType, PRIVATE_KEY_JWT};
use crate::random::url_token;
use crate::store::clients::ClientChanges;
use crate::store::models::ClientRow;
use crate::store::{self, Db, StoreError};

/// Secrets carry a prefix so secret scanners can recognise a leaked one.
const SECRET_PREFIX: &str = "lk_cs_";
/// RFC 7592 registration access tokens.
pub const REGISTRATION_TOKEN_PREFIX: &str = "lk_rat_";
/// Initial access tokens for token-protected registration.
pub const INITIAL_TOKEN_PREFIX: &str = "lk_iat_";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Invalid(OAuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A client just made: its row, and its secrets, shown this once and never again.
pub struct CreatedClient {
    pub row: ClientRow,
    pub client_secret: Option<String>,
    pub registration_access_token: Option<String>,
}

/// How a client comes to be, beyond its metadata.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The user who owns it (apps API); `None` for CLI and RFC 7591 clients.
    pub owner_id: Option<String>,
    /// RFC 7591 `token_endpoint_auth_method`, when registered through it.
    pub token_endpoint_auth_method: Option<String>,
    /// Issue an RFC 7592 registration access token.
    pub registration_token: bool,
    /// Made by an operator (CLI, admin API): may hold the admin scope.
    pub operator: bool,
}

/// A random token with `prefix`, and the SHA-256 digest that is stored.
pub fn new_token(prefix: &str) -> (String, Vec<u8>) {
    let token = format!("{prefix}{}", url_token::<32>());
    let hash = hash_secret(&token).0.to_vec();
    (token, hash)
}

/// `explicit`: the `application_type` the client registered, kept as sent (a
/// client that sent none keeps having it inferred from its redirect URIs).
fn changes(
    valid: &ValidClient,
    auth_method: Option<String>,
    explicit: Option<ApplicationType>,
    now: i64,
) -> ClientChanges {
    ClientChanges {
        name: valid.name.clone(),
        description: valid.description.clone(),
        website: valid.website.clone(),
        icon_url: valid.icon_url.clone(),
        redirect_uris: serde_json::Value::from(valid.redirect_uris.clone()).to_string(),
        grant_types: valid
            .grant_types
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        scopes: valid.scopes.to_string(),
        // The keys decide: a client with keys signs assertions, whatever the door
        // said before, and one without cannot.
        token_endpoint_auth_method: if valid.uses_keys() {
            Some(PRIVATE_KEY_JWT.to_owned())
        } else {
            auth_method.filter(|m| m != PRIVATE_KEY_JWT)
        },
        jwks: valid.jwks.clone(),
        jwks_uri: valid.jwks_uri.clone(),
        updated_at: now,
        post_logout_redirect_uris: serde_json::Value::from(valid.post_logout_redirect_uris.clone())
            .to_string(),
        application_type: explicit.map(|t| t.as_str().to_owned()),
        dpop_bound_access_tokens: valid.dpop_bound_access_tokens,
        require_pushed_authorization_requests: valid.require_pushed_authorization_requests,
    }
}

/// The row of a new client `id` described by `valid`: no secret, owner or
/// registration token (callers that have one set it), not fetched from a document.
pub fn new_row(
    id: String,
    valid: &ValidClient,
    auth_method: Option<String>,
    explicit: Option<ApplicationType>,
    now: i64,
) -> ClientRow {
    let c = changes(valid, auth_method, explicit, now);
    ClientRow {
        id,
        secret_hash: None,
        client_type: valid.client_type.as_str().to_owned(),
        name: c.name,
        description: c.description,
        website: c.website,
        icon_url: c.icon_url,
        redirect_uris: c.redirect_uris,
        grant_types: c.grant_types,
        scopes: c.scopes,
        owner_id: None,
        created_at: now,
        updated_at: now,
        token_endpoint_auth_method: c.token_endpoint_auth_method,
        registration_token_hash: None,
        post_logout_redirect_uris: c.post_logout_redirect_uris,
        application_type: c.application_type,
        document_fetched_at: None,
        jwks: c.jwks,
        jwks_uri: c.jwks_uri,
        dpop_bound_access_tokens: c.dpop_bound_access_tokens,
        require_pushed_authorization_requests: c.require_pushed_authorization_requests,
        token_exchange_audiences: None,
        id_jag_audiences: None,
    }
}

pub async fn create_client(
    db: &Db,
    catalogue: &ScopeCatalogue,
    meta: ClientMetadata,
    origin: Origin,
    now: i64,
) -> Result<CreatedClient, ClientError> {
    let explicit = meta.application_type;
    let valid =
        registration::validate(meta, catalogue, origin.operator).map_err(ClientError::Invalid)?;
    let (client_secret, secret_hash) = match valid.client_type {
        // A client that signs with its key has no secret to leak.
        ClientType::Confidential if valid.uses_keys() => (None, None),
        ClientType::Confidential => {
            let (secret, hash) = new_token(SECRET_PREFIX);
            (Some(secret), Some(hash))
        }
        ClientType::Public => (None, None),
    };
    let (registration_access_token, registration_token_hash) = if origin.registration_token {
        let (token, hash) = new_token(REGISTRATION_TOKEN_PREFIX);
        (Some(token), Some(hash))
    } else {
        (None, None)
    };
    let row = ClientRow {
        secret_hash,
        owner_id: origin.owner_id,
        registration_token_hash,
        ..new_row(
            url_token::<16>(),
            &valid,
            origin.token_endpoint_auth_method,
            explicit,
            now,
        )
    };
    store::clients::insert_client(db, &row).await?;
    let row = store::clients::find_client(db, &row.id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("client vanished after insert".to_owned()))?;
    Ok(CreatedClient {
        row,
        client_secret,
        registration_access_token,
    })
}

/// Replaces the metadata of client `row` with `meta`, validated like a new client.
/// The client type cannot change: a secret cannot be taken back from a public
/// client's users, nor given to one. Returns the updated row. `operator`: the
/// change comes from an operator, who alone may give the admin scope.
pub async fn update_client(
    db: &Db,
    catalogue: &ScopeCatalogue,
    row: &ClientRow,
    meta: ClientMetadata,
    token_endpoint_auth_method: Option<String>,
    operator: bool,
    now: i64,
) -> Result<ClientRow, ClientError> {
    let was_public = row.client_type == ClientType::Public.as_str();
    if meta.public != was_public {
        return Err(ClientError::Invalid(OAuthError::invalid_client_metadata(
            "the client type (public or confidential) cannot change; create a new client instead",
        )));
    }
    let explicit = meta.application_type;
    let valid = registration::validate(meta, catalogue, operator).map_err(ClientError::Invalid)?;
    let had_keys = row.uses_keys();
    if had_keys && !valid.uses_keys() {
        return Err(ClientError::Invalid(OAuthError::invalid_client_metadata(
            "a private_key_jwt client cannot switch to a client secret; register its new keys instead, or create a new client",
        )));
    }
    let c = changes(&valid, token_endpoint_auth_method, explicit, now);
    if !store::clients::update_client(db, &row.id, &c).await? {
        return Err(
            StoreError::Corrupt(format!("client {} vanished during update", row.id)).into(),
        );
    }
    if valid.uses_keys() && row.secret_hash.is_some() {
        // Moving from a secret to a key pair: the secret stops working now.
        store::clients::clear_client_secret(db, &row.id, now).await?;
    }
    store::clients::find_client(db, &row.id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("client vanished after update".to_owned()).into())
}

/// The stored metadata of a client, in the form it was submitted.
pub fn metadata_of(row: &ClientRow) -> Result<ClientMetadata, StoreError> {
    let grant_types = row
        .grant_types
        .split_whitespace()
        .map(str::parse::<GrantType>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Corrupt(format!("client {}: grant_types: {e}", row.id)))?;
    Ok(ClientMetadata {
        name: row.name.clone(),
        description: row.description.clone(),
        website: row.website.clone(),
        icon_url: row.icon_url.clone(),
        redirect_uris: row.redirect_uri_list()?,
        post_logout_redirect_uris: row.post_logout_redirect_uri_list()?,
        grant_types,
        scope: Some(row.scopes.clone()),
        public: row.client_type == ClientType::Public.as_str(),
        application_type: row.application_type(),
        keys: keys_of(row)?,
        dpop_bound_access_tokens: row.dpop_bound_access_tokens,
        require_pushed_authorization_requests: row.require_pushed_authorization_requests,
    })
}

/// A `private_key_jwt` client's keys as registered.
pub fn keys_of(row: &ClientRow) -> Result<Option<KeysMetadata>, StoreError> {
    Ok(match (&row.jwks, &row.jwks_uri) {
        (Some(set), _) => Some(KeysMetadata::Jwks(
            serde_json::from_str(set)
                .map_err(|e| StoreError::Corrupt(format!("client {}: jwks: {e}", row.id)))?,
        )),
        (None, Some(uri)) => Some(KeysMetadata::Uri(uri.clone())),
        (None, None) => None,
    })
}

/// Replaces a confidential client's secret; the old one stops working at once.
/// `None` when there is no such confidential client.
///
/// A `private_key_jwt` client has no secret to rotate (`None` too): its keys are
/// rotated by registering new ones.
pub async fn rotate_secret(db: &Db, id: &str, now: i64) -> Result<Option<String>, StoreError> {
    let (secret, hash) = new_token(SECRET_PREFIX);
    let updated = store::clients::update_client_secret(db, id, &hash, now).await?;
    Ok(updated.then_some(secret))
}

/// Makes an initial access token for token-protected registration, valid for
/// `ttl` seconds; only its digest is stored.
pub async fn create_initial_token(db: &Db, now: i64, ttl: i64) -> Result<String, StoreError> {
    let (token, hash) = new_token(INITIAL_TOKEN_PREFIX);
    store::clients::insert_initial_token(db, &hash, now, now + ttl).await?;
    Ok(token)
}
