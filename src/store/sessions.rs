//! Queries on `sessions`. Rows are keyed by the SHA-256 of the cookie value, so a
//! copy of the database does not let anyone sign in.

use super::models::{SessionRow, UserRow};
use super::schema::{sessions, users};
use super::{Db, StoreError};
use crate::with_conn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

pub async fn insert_session(db: &Db, row: &SessionRow) -> Result<(), StoreError> {
    with_conn!(db, |conn| {
        diesel::insert_into(sessions::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// The session and its user, if the session exists.
pub async fn find_session(
    db: &Db,
    id_hash: &[u8],
) -> Result<Option<(SessionRow, UserRow)>, StoreError> {
    with_conn!(db, |conn| {
        Ok(sessions::table
            .inner_join(users::table)
            .filter(sessions::id_hash.eq(id_hash))
            .select((SessionRow::as_select(), UserRow::as_select()))
            .first(conn)
            .await
            .optional()?)
    })
}

pub async fn touch_session(db: &Db, id_hash: &[u8], now: i64) -> Result<(), StoreError> {
    with_conn!(db, |conn| {
        diesel::update(sessions::table.find(id_hash))
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn delete_session(db: &Db, id_hash: &[u8]) -> Result<(), StoreError> {
    with_conn!(db, |conn| {
        diesel::delete(sessions::table.find(id_hash))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// A user's sessions, newest first.
pub async fn list_for_user(db: &Db, user_id: &str) -> Result<Vec<SessionRow>, StoreError> {
    with_conn!(db, |conn| {
        Ok(sessions::table
            .filter(sessions::user_id.eq(user_id))
            .select(SessionRow::as_select())
            .order(sessions::created_at.desc())
            .load(conn)
            .await?)
    })
}

/// Ends every session of a user; returns how many there were.
pub async fn delete_for_user(db: &Db, user_id: &str) -> Result<usize, StoreError> {
    with_conn!(db, |conn| {
        Ok(
            diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id)))
                .execute(conn)
                .await?,
        )
    })
}
