//! Queries on `clients`.

use super::models::{ClientRow, NewClient};
use super::schema::clients;
use super::{Db, StoreError};
use crate::with_conn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

pub async fn insert_client(db: &Db, row: &NewClient) -> Result<(), StoreError> {
    with_conn!(db, |conn| {
        diesel::insert_into(clients::table)
            .values(row)
            .execute(conn)
            .await?;
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
                .filter(clients::client_type.eq("confidential")),
        )
        .set((
            clients::secret_hash.eq(secret_hash),
            clients::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
        Ok(n > 0)
    })
}
