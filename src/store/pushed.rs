//! Pushed authorization requests (RFC 9126): stored at `/oauth/par` under the
//! SHA-256 of their `request_uri`, read at the authorization endpoint, spent when
//! the code is issued, swept once expired.

use super::models::PushedRow;
use super::schema::pushed_requests;
use super::{Db, StoreError};
use crate::with_conn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

pub async fn insert(db: &Db, row: &PushedRow) -> Result<(), StoreError> {
    with_conn!(db, |conn| {
        diesel::insert_into(pushed_requests::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn find(db: &Db, hash: &[u8]) -> Result<Option<PushedRow>, StoreError> {
    with_conn!(db, |conn| {
        Ok(pushed_requests::table
            .find(hash)
            .select(PushedRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
}

/// Spends the request: `true` for the one caller that does, `false` when it had
/// been spent already.
pub async fn spend(db: &Db, hash: &[u8], now: i64) -> Result<bool, StoreError> {
    with_conn!(db, |conn| {
        let n = diesel::update(
            pushed_requests::table
                .find(hash)
                .filter(pushed_requests::used_at.is_null()),
        )
        .set(pushed_requests::used_at.eq(now))
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
}

pub async fn purge_expired(db: &Db, now: i64) -> Result<usize, StoreError> {
    with_conn!(db, |conn| {
        Ok(
            diesel::delete(pushed_requests::table.filter(pushed_requests::expires_at.lt(now)))
                .execute(conn)
                .await?,
        )
    })
}
