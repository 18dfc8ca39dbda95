//! Queries on `clients`.

use super::counters::{self, bump_counter};
use super::models::ClientRow;
use super::schema::clients;
use super::{Db, StoreError};
use crate::with_conn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

pub async fn insert_client(db: &Db, row: &ClientRow) -> Result<(), StoreError> {
    with_conn!(db, |conn| {
        diesel::insert_into(clients::table)
            .values(row)
            .execute(conn)
            .await?;
        bump_counter!(conn, counters::CLIENTS);
        Ok(())
    })
}

pub async fn find_client(db: &Db, id: &str) -> Result<Option<ClientRow>, StoreError> {
    with_conn!(db, |conn| {
        Ok(clients::table
            .find(id)
            .select(ClientRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
}

/// Stores the client a Client ID Metadata Document describes (its id is the URL),
/// or brings a stored one up to date with the document; its creation time stays.
/// The change counter does not move: instances resolve such clients from the
/// document, not from this row, so there is no cached copy to drop.
pub async fn upsert_document_client(db: &Db, row: &ClientRow) -> Result<(), StoreError> {
    with_conn!(db, |conn| {
        diesel::insert_into(clients::table)
            .values(row)
            .on_conflict(clients::id)
            .do_update()
            .set((
                clients::name.eq(&row.name),
                clients::website.eq(&row.website),
                clients::icon_url.eq(&row.icon_url),
                clients::redirect_uris.eq(&row.redirect_uris),
                clients::grant_types.eq(&row.grant_types),
                clients::scopes.eq(&row.scopes),
                clients::post_logout_redirect_uris.eq(&row.post_logout_redirect_uris),
                clients::application_type.eq(&row.application_type),
                clients::token_endpoint_auth_method.eq(&row.token_endpoint_auth_method),
                clients::jwks.eq(&row.jwks),
                clients::jwks_uri.eq(&row.jwks_uri),
                clients::updated_at.eq(row.updated_at),
                clients::document_fetched_at.eq(row.document_fetched_at),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Every client, oldest first.
pub async fn list_clients(db: &Db) -> Result<Vec<ClientRow>, StoreError> {
    with_conn!(db, |conn| {
        Ok(clients::table
            .select(ClientRow::as_select())
            .order((clients::created_at.asc(), clients::id.asc()))
            .load(conn)
            .await?)
    })
}

/// Deletes a client; `false` when there was none.
pub async fn delete_client(db: &Db, id: &str) -> Result<bool, StoreError> {
    with_conn!(db, |conn| {
        let n = diesel::delete(clients::table.find(id))
            .execute(conn)
            .await?;
        bump_counter!(conn, counters::CLIENTS);
        Ok(n > 0)
    })
}

/// Replaces the secret digest of a confidential client; `false` when there is no
/// such confidential client.
pub async fn update_client_secret(
    db: &Db,
    id: &str,
    secret_hash: &[u8],
    now: i64,
) -> Result<bool, StoreError> {
    with_conn!(db, |conn| {
        let n = diesel::update(
            clients::table
                .find(id)
                .filter(clients::client_type.eq("confidential"))
                .filter(clients::jwks.is_null())
                .filter(clients::jwks_uri.is_null()),
        )
        .set((
            clients::secret_hash.eq(secret_hash),
            clients::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
        bump_counter!(conn, counters::CLIENTS);
        Ok(n > 0)
    })
}

/// Removes a client's secret (it moved to `private_key_jwt`).
pub async fn clear_client_secret(db: &Db, id: &str, now: i64) -> Result<(), StoreError> {
    with_conn!(db, |conn| {
        diesel::update(clients::table.find(id))
            .set((
                clients::secret_hash.eq(None::<Vec<u8>>),
                clients::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        bump_counter!(conn, counters::CLIENTS);
        Ok(())
    })
}

/// The apps `owner_id` owns, oldest first.
pub async fn list_owned(db: &Db, owner_id: &str) -> Result<Vec<ClientRow>, StoreError> {
    with_conn!(db, |conn| {
        Ok(clients::table
            .filter(clients::owner_id.eq(owner_id))
            .select(ClientRow::as_select())
            .order((clients::created_at.asc(), clients::id.asc()))
            .load(conn)
            .await?)
    })
}

/// The editable metadata of a client, as validated.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = clients)]
#[diesel(treat_none_as_null = true)]
pub struct ClientChanges {
    pub name: String,
    pub description: String,
    pub website: Option<String>,
    pub icon_url: Option<String>,
    pub redirect_uris: String,
    pub grant_types: String,
    pub scopes: String,
    pub token_endpoint_auth_method: Option<String>,
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub updated_at: i64,
    pub post_logout_redirect_uris: String,
    pub application_type: Option<String>,
    pub dpop_bound_access_tokens: bool,
    pub require_pushed_authorization_requests: bool,
}

/// Replaces a client's metadata; `false` when there is no such client.
pub async fn update_client(db: &Db, id: &str, changes: &ClientChanges) -> Result<bool, StoreError> {
    with_conn!(db, |conn| {
        let n = diesel::update(clients::table.find(id))
            .set(changes)
            .execute(conn)
            .await?;
        bump_counter!(conn, counters::CLIENTS);
        Ok(n > 0)
    })
}

/// Stores an initial access token's digest (token-protected registration).
pub async fn insert_initial_token(
    db: &Db,
    token_hash: &[u8],
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    use super::schema::initial_access_tokens as t;
    with_conn!(db, |conn| {
        diesel::insert_into(t::table)
            .values((
                t::token_hash.eq(token_hash),
                t::created_at.eq(now),
                t::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Whether an unexpired initial access token has this digest. The digest is of a
/// 256-bit random value, so looking it up by equality leaks nothing usable.
pub async fn initial_token_valid(db: &Db, token_hash: &[u8], now: i64) -> Result<bool, StoreError> {
    use super::schema::initial_access_tokens as t;
    with_conn!(db, |conn| {
        let n: i64 = t::table
            .filter(t::token_hash.eq(token_hash))
            .filter(t::expires_at.gt(now))
            .count()
            .get_result(conn)
            .await?;
        Ok(n > 0)
    })
}

/// Replaces a client's RFC 7592 registration access token digest.
pub async fn set_registration_token(
    db: &Db,
    id: &str,
    token_hash: &[u8],
) -> Result<bool, StoreError> {
    with_conn!(db, |conn| {
        let n = diesel::update(clients::table.find(id))
            .set(clients::registration_token_hash.eq(token_hash))
            .execute(conn)
            .await?;
        Ok(n > 0)
    })
}

/// One page of clients ordered by id, after the id `after`, of `owner_id` if given.
pub async fn page_clients(
    db: &Db,
    owner_id: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<ClientRow>, StoreError> {
    with_conn!(db, |conn| {
        let mut q = clients::table
            .select(ClientRow::as_select())
            .order(clients::id.asc())
            .limit(limit)
            .into_boxed();
        if let Some(o) = owner_id {
            q = q.filter(clients::owner_id.eq(o.to_owned()));
        }
        if let Some(a) = after {
            q = q.filter(clients::id.gt(a.to_owned()));
        }
        Ok(q.load(conn).await?)
    })
}
