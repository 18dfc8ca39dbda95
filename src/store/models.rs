//! Row types, and their conversion into the protocol core's types.

use super::StoreError;
use super::schema::clients;
use crate::oauth::jwk::{ClientKeySet, Reading};
use crate::oauth::scope::ScopeSet;
use crate::oauth::types::{
    ApplicationType, ClientId, ClientKeys, ClientType, GrantType, RegisteredClient, SecretHash,
};
use diesel::prelude::*;
use std::sync::Arc;

/// A row of `clients`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = clients)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ClientRow {
    pub id: String,
    pub secret_hash: Option<Vec<u8>>,
    pub client_type: String,
    pub name: String,
    pub description: String,
    pub website: Option<String>,
    pub icon_url: Option<String>,
    /// JSON array of strings.
    pub redirect_uris: String,
    /// Space-separated grant type names.
    pub grant_types: String,
    /// Space-separated scope tokens.
    pub scopes: String,
    pub owner_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// As registered through RFC 7591; `None` for clients made otherwise.
    pub token_endpoint_auth_method: Option<String>,
    /// SHA-256 of the RFC 7592 registration access token.
    pub registration_token_hash: Option<Vec<u8>>,
    /// JSON array of strings (OpenID Connect RP-Initiated Logout §3.1).
    pub post_logout_redirect_uris: String,
    /// `web` or `native` when registered with one (OpenID Connect Registration §2).
    pub application_type: Option<String>,
    /// Set for a client known by its Client ID Metadata Document: when it was last
    /// fetched.
    pub document_fetched_at: Option<i64>,
    /// A `private_key_jwt` client's public keys by value: a JSON JWK Set.
    pub jwks: Option<String>,
    /// A `private_key_jwt` client's public keys by reference.
    pub jwks_uri: Option<String>,
    /// Tokens only with a DPoP proof (RFC 9449 §5.2).
    pub dpop_bound_access_tokens: bool,
    /// Authorization requests only through `/oauth/par` (RFC 9126 §6).
    pub require_pushed_authorization_requests: bool,
    /// Token exchange (RFC 8693): the audiences this client may exchange tokens
    /// for, a JSON array; `None` for none (the operator's, never the client's).
    pub token_exchange_audiences: Option<String>,
    /// The other authorization servers this client may get ID-JAGs for: a JSON
    /// object of their issuer to this client's id there.
    pub id_jag_audiences: Option<String>,
}

impl ClientRow {
    /// The token exchange policy the operator set, if any.
    pub fn exchange_policy(&self) -> Result<crate::oauth::types::ExchangePolicy, StoreError> {
        let corrupt = |what: &str, e: serde_json::Error| {
            StoreError::Corrupt(format!("client {}: {what}: {e}", self.id))
        };
        let audiences = match &self.token_exchange_audiences {
            None => Vec::new(),
            Some(text) => serde_json::from_str::<Vec<String>>(text)
                .map_err(|e| corrupt("token_exchange_audiences", e))?,
        };
        let id_jag = match &self.id_jag_audiences {
            None => Vec::new(),
            Some(text) => serde_json::from_str::<std::collections::BTreeMap<String, String>>(text)
                .map_err(|e| corrupt("id_jag_audiences", e))?
                .into_iter()
                .collect(),
        };
        Ok(crate::oauth::types::ExchangePolicy { audiences, id_jag })
    }

    /// Made by one of the users (settings pages, apps API) or by itself (RFC 7591),
    /// rather than by the operator on the CLI: its name and icon are its own claims,
    /// and the consent page says so.
    pub fn self_registered(&self) -> bool {
        self.owner_id.is_some()
            || self.registration_token_hash.is_some()
            || self.document_fetched_at.is_some()
    }

    /// It authenticates with `private_key_jwt` (its keys by value or by URL).
    pub fn uses_keys(&self) -> bool {
        self.jwks.is_some() || self.jwks_uri.is_some()
    }

    /// The RFC 7591 `token_endpoint_auth_method` it authenticates with, read from
    /// the row alone (without parsing its keys).
    pub fn auth_method(&self) -> &'static str {
        if self.client_type == ClientType::Public.as_str() {
            "none"
        } else if self.uses_keys() {
            crate::oauth::types::PRIVATE_KEY_JWT
        } else {
            "client_secret_basic"
        }
    }

    /// The `application_type` it registered, if it did.
    pub fn application_type(&self) -> Option<ApplicationType> {
        self.application_type
            .as_deref()
            .and_then(|t| ApplicationType::parse(t).ok())
    }

    pub fn redirect_uri_list(&self) -> Result<Vec<String>, StoreError> {
        serde_json::from_str(&self.redirect_uris)
            .map_err(|e| StoreError::Corrupt(format!("client {}: redirect_uris: {e}", self.id)))
    }

    pub fn post_logout_redirect_uri_list(&self) -> Result<Vec<String>, StoreError> {
        serde_json::from_str(&self.post_logout_redirect_uris).map_err(|e| {
            StoreError::Corrupt(format!(
                "client {}: post_logout_redirect_uris: {e}",
                self.id
            ))
        })
    }

    /// The protocol core's view of this client. A row that does not parse is
    /// reported as corrupt rather than guessed at.
    pub fn to_registered(&self) -> Result<RegisteredClient, StoreError> {
        let corrupt =
            |what: &str, e: String| StoreError::Corrupt(format!("client {}: {what}: {e}", self.id));
        let client_type: ClientType = self
            .client_type
            .parse()
            .map_err(|e| corrupt("client_type", e))?;
        let grant_types = self
            .grant_types
            .split_whitespace()
            .map(str::parse::<GrantType>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| corrupt("grant_types", e))?;
        let secret_hash = match &self.secret_hash {
            None => None,
            Some(bytes) => {
                Some(SecretHash(bytes.as_slice().try_into().map_err(|_| {
                    corrupt("secret_hash", "not 32 bytes".into())
                })?))
            }
        };
        let keys = match (&self.jwks, &self.jwks_uri) {
            (Some(set), _) => Some(ClientKeys::Set(Arc::new(
                ClientKeySet::parse_text(set, Reading::Registration)
                    .map_err(|e| corrupt("jwks", e))?,
            ))),
            (None, Some(uri)) => Some(ClientKeys::Uri(uri.clone())),
            (None, None) => None,
        };
        Ok(RegisteredClient {
            keys,
            dpop_bound: self.dpop_bound_access_tokens,
            require_par: self.require_pushed_authorization_requests,
            exchange: self.exchange_policy()?,
            id: ClientId::new(self.id.clone()),
            client_type,
            secret_hash,
            grant_types,
            scopes: ScopeSet::from_trusted(self.scopes.split_whitespace()),
            redirect_uris: self.redirect_uri_list()?,
            // RFC 7591 (a registration access token, no owner) or a document.
            self_described: self.owner_id.is_none()
                && (self.registration_token_hash.is_some() || self.document_fetched_at.is_some()),
        })
    }
}

use super::schema::{
    authorization_codes, challenges, consents, refresh_tokens, sessions, token_families, users,
};
use crate::oauth::pkce::CodeChallenge;
use crate::oauth::token::authorization_code::IssuedCode;
use crate::oauth::token::refresh_token::Family;

/// A row of `users`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// PHC string (Argon2id).
    pub password_hash: String,
    pub created_at: i64,
    /// Whoever created the account vouches for the address (`email_verified`).
    pub email_verified: bool,
    /// `local` (a password account) or `delegated` (vouched for by the product).
    pub source: String,
    /// The username the product gave a delegated identity.
    pub preferred_username: Option<String>,
    /// A disabled user cannot sign in; their sessions and tokens were ended.
    pub disabled: bool,
    pub updated_at: i64,
}

/// A row of `sessions`, keyed by the SHA-256 of the cookie value.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct SessionRow {
    pub id_hash: Vec<u8>,
    pub user_id: String,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    /// `false`: started by a delegated sign-in without `remember`; it serves one
    /// authorization and ends with it.
    pub persistent: bool,
}

/// A row of `challenges`: a login or consent decision handed to the product.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = challenges)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ChallengeRow {
    pub challenge_hash: Vec<u8>,
    /// `login` or `consent`.
    pub kind: String,
    /// SHA-256 of the binding cookie of the browser that started it.
    pub browser_hash: Vec<u8>,
    pub client_id: String,
    /// The authorization request's query string.
    pub request: String,
    /// The scopes asked for.
    pub scopes: String,
    /// Consent: the signed-in user. Login: the user of a session already known.
    pub user_id: Option<String>,
    /// Consent: the session it was made for.
    pub session_hash: Option<Vec<u8>>,
    pub created_at: i64,
    pub expires_at: i64,
    pub answered_at: Option<i64>,
    /// JSON of the product's answer (see `oauth::challenge::Answer`).
    pub answer: Option<String>,
    pub verifier_hash: Option<Vec<u8>>,
    pub used_at: Option<i64>,
}

/// A row of `consents`: the scopes a user granted a client.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = consents)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ConsentRow {
    pub user_id: String,
    pub client_id: String,
    pub scopes: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A row of `token_families`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = token_families)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct FamilyRow {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub scopes: String,
    pub resources: String,
    pub current_hash: Option<Vec<u8>>,
    pub previous_hash: Option<Vec<u8>>,
    pub rotated_at: Option<i64>,
    pub retry_used: bool,
    pub activated_at: Option<i64>,
    pub created_at: i64,
    pub last_used_at: i64,
    pub revoked_at: Option<i64>,
    /// When the person signed in for the authorization (OpenID Connect `auth_time`).
    pub auth_time: Option<i64>,
    /// The DPoP key thumbprint its refresh tokens are bound to (public clients).
    pub dpop_jkt: Option<String>,
}

/// A row of `authorization_codes`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = authorization_codes)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct CodeRow {
    pub code_hash: Vec<u8>,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub redirect_uri_explicit: bool,
    pub scopes: String,
    pub resources: String,
    pub code_challenge: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    /// The authorization request's `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    /// When the person signed in (OpenID Connect `auth_time`).
    pub auth_time: Option<i64>,
    /// OpenID requests: who signed in, as JSON (`oauth::id_token::Identity`), so
    /// the ID token is made without reading the user again.
    pub identity: Option<String>,
    /// The DPoP key thumbprint the code is bound to (`dpop_jkt`, RFC 9449 §10).
    pub dpop_jkt: Option<String>,
}

/// A row of `pushed_requests`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::pushed_requests)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct PushedRow {
    pub request_uri_hash: Vec<u8>,
    pub client_id: String,
    /// The pushed parameters, form-encoded as received.
    pub params: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// When the code of its authorization was issued.
    pub used_at: Option<i64>,
}

/// A row of `refresh_tokens`: lets any token ever issued be traced to its family.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct RefreshTokenRow {
    pub token_hash: Vec<u8>,
    pub family_id: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

fn hash32(bytes: &Option<Vec<u8>>, what: &str) -> Result<Option<[u8; 32]>, StoreError> {
    bytes
        .as_deref()
        .map(|b| {
            b.try_into()
                .map_err(|_| StoreError::Corrupt(format!("{what}: not 32 bytes")))
        })
        .transpose()
}

fn json_list(raw: &str, what: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

impl UserRow {
    /// The username shown to people and released as `preferred_username`: a
    /// delegated identity's is the one its product gave (else its subject).
    pub fn display_username(&self) -> &str {
        match (&self.preferred_username, self.source.as_str()) {
            (Some(p), _) => p,
            (None, "local") => &self.username,
            (None, _) => &self.id,
        }
    }

    /// The user as a source of OpenID Connect claims.
    pub fn identity(&self) -> crate::oauth::id_token::Identity {
        crate::oauth::id_token::Identity {
            id: self.id.clone(),
            username: self.display_username().to_owned(),
            name: self.name.clone(),
            email: self.email.clone(),
            email_verified: self.email_verified,
        }
    }
}

impl FamilyRow {
    pub fn to_family(&self) -> Result<Family, StoreError> {
        Ok(Family {
            id: self.id.clone(),
            client_id: self.client_id.clone(),
            user_id: self.user_id.clone(),
            scope: ScopeSet::from_trusted(self.scopes.split_whitespace()),
            resources: json_list(&self.resources, "family resources")?,
            revoked: self.revoked_at.is_some(),
            current: hash32(&self.current_hash, "current_hash")?,
            previous: hash32(&self.previous_hash, "previous_hash")?,
            rotated_at: self.rotated_at,
            retry_used: self.retry_used,
        })
    }
}

impl CodeRow {
    /// The identity snapshot taken when the code was issued, if any.
    pub fn identity(&self) -> Result<Option<crate::oauth::id_token::Identity>, StoreError> {
        self.identity
            .as_deref()
            .map(|raw| {
                serde_json::from_str(raw)
                    .map_err(|e| StoreError::Corrupt(format!("code identity: {e}")))
            })
            .transpose()
    }

    pub fn to_issued(&self) -> Result<IssuedCode, StoreError> {
        Ok(IssuedCode {
            client_id: self.client_id.clone(),
            user_id: self.user_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            redirect_uri_explicit: self.redirect_uri_explicit,
            scope: ScopeSet::from_trusted(self.scopes.split_whitespace()),
            resources: json_list(&self.resources, "code resources")?,
            code_challenge: self.code_challenge.clone().map(CodeChallenge::from_stored),
            expires_at: self.expires_at,
        })
    }
}

/// A row of `audit_events` (see `crate::services::audit`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::audit_events)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct AuditRow {
    pub id: String,
    pub at: i64,
    pub event: String,
    pub actor_kind: String,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub address: Option<String>,
    /// A JSON object.
    pub detail: String,
}
