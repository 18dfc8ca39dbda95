//! The replay cache for signed assertions: a JWT id is accepted once, by whichever
//! instance sees it first, and refused everywhere after that until it has expired.
//! One indexed insert per assertion is the whole cost; a conflict is a replay.

use super::schema::used_jtis;
use super::{Db, StoreError};
use crate::with_conn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// Records `jti_hash` as used until `expires_at`. `true` when it was new; `false`
/// when it had been used already (a replay).
pub async fn remember(db: &Db, jti_hash: &[u8], expires_at: i64) -> Result<bool, StoreError> {
    with_conn!(db, |conn| {
        let n = diesel::insert_into(used_jtis::table)
            .values((
                used_jtis::jti_hash.eq(jti_hash),
                used_jtis::expires_at.eq(expires_at),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        Ok(n == 1)
    })
}

/// Deletes the ids whose assertions expired before `now`.
pub async fn purge_expired(db: &Db, now: i64) -> Result<usize, StoreError> {
    with_conn!(db, |conn| {
        Ok(
            diesel::delete(used_jtis::table.filter(used_jtis::expires_at.lt(now)))
                .execute(conn)
                .await?,
        )
    })
}
