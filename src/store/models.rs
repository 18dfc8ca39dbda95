//! Row types, and their conversion into the protocol core's types.

use super::StoreError;
use super::schema::clients;
use crate::oauth::scope::ScopeSet;
use crate::oauth::types::{ClientId, ClientType, GrantType, RegisteredClient, SecretHash};
use diesel::prelude::*;

/// A row of `clients`.
#[derive(Debug, Clone, Queryable, Selectable)]
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
}

/// A new row of `clients`.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = clients)]
pub struct NewClient {
    pub id: String,
    pub secret_hash: Option<Vec<u8>>,
    pub client_type: String,
    pub name: String,
    pub description: String,
    pub website: Option<String>,
    pub icon_url: Option<String>,
    pub redirect_uris: String,
    pub grant_types: String,
    pub scopes: String,
    pub owner_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ClientRow {
    pub fn redirect_uri_list(&self) -> Result<Vec<String>, StoreError> {
        serde_json::from_str(&self.redirect_uris)
            .map_err(|e| StoreError::Corrupt(format!("client {}: redirect_uris: {e}", self.id)))
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
        Ok(RegisteredClient {
            id: ClientId::new(self.id.clone()),
            client_type,
            secret_hash,
            grant_types,
            scopes: ScopeSet::from_trusted(self.scopes.split_whitespace()),
            redirect_uris: self.redirect_uri_list()?,
        })
    }
}
