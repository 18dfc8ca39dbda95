//! Queries on `users`.

use super::models::UserRow;
use super::schema::users;
use super::{Db, StoreError};
use crate::with_conn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// Inserts a user; `false` when the username is taken.
pub async fn insert_user(db: &Db, row: &UserRow) -> Result<bool, StoreError> {
    with_conn!(db, |conn| {
        let n = diesel::insert_into(users::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        Ok(n == 1)
    })
}

pub async fn find_user(db: &Db, id: &str) -> Result<Option<UserRow>, StoreError> {
    with_conn!(db, |conn| {
        Ok(users::table
            .find(id)
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
}

pub async fn find_user_by_username(db: &Db, username: &str) -> Result<Option<UserRow>, StoreError> {
    with_conn!(db, |conn| {
        Ok(users::table
            .filter(users::username.eq(username))
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
}

pub async fn list_users(db: &Db) -> Result<Vec<UserRow>, StoreError> {
    with_conn!(db, |conn| {
        Ok(users::table
            .select(UserRow::as_select())
            .order((users::created_at.asc(), users::username.asc()))
            .load(conn)
            .await?)
    })
}

/// Deletes a user by id or username; their sessions, consents and tokens go too
/// (foreign keys cascade). `false` when there was none.
pub async fn delete_user(db: &Db, id_or_username: &str) -> Result<bool, StoreError> {
    with_conn!(db, |conn| {
        let n = diesel::delete(
            users::table.filter(
                users::id
                    .eq(id_or_username)
                    .or(users::username.eq(id_or_username)),
            ),
        )
        .execute(conn)
        .await?;
        Ok(n > 0)
    })
}
