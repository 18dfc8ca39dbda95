//! The replay cache for signed assertions: a JWT id is accepted once, by whichever
//! instance sees it first, and refused everywhere after that until it has expired.
//! One indexed insert per assertion is the whole cost (several at once when they
//! arrive together, see `services::replay`); a conflict is a replay.

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

/// Records many ids at once (`(jti_hash, expires_at)`, hashes distinct), in one
/// statement; returns the hashes that were new — the others had been used already.
pub async fn remember_all(db: &Db, rows: &[([u8; 32], i64)]) -> Result<Vec<Vec<u8>>, StoreError> {
    use diesel::sql_types::{BigInt, Binary};
    #[derive(QueryableByName)]
    struct Inserted {
        #[diesel(sql_type = Binary)]
        jti_hash: Vec<u8>,
    }
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // `$n` parameters: positional in PostgreSQL, and numbered by first appearance
    // in SQLite, so the one text serves both.
    let values: Vec<String> = (0..rows.len())
        .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
        .collect();
    let sql = format!(
        "INSERT INTO used_jtis (jti_hash, expires_at) VALUES {} ON CONFLICT DO NOTHING RETURNING jti_hash",
        values.join(", ")
    );
    with_conn!(db, |conn| {
        let mut query = diesel::sql_query(sql.as_str()).into_boxed();
        for (hash, expires_at) in rows {
            query = query
                .bind::<Binary, _>(hash.to_vec())
                .bind::<BigInt, _>(*expires_at);
        }
        let inserted: Vec<Inserted> = query.load(conn).await?;
        Ok(inserted.into_iter().map(|r| r.jti_hash).collect())
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
