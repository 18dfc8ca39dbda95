//! Queries on `users`.

use super::models::UserRow;
use super::schema::users;
use super::{Db, StoreError};
use crate::with_conn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// `source` of a password account.
pub const LOCAL: &str = "local";
/// `source` of an identity vouched for by the product through delegated sign-in.
pub const DELEGATED: &str = "delegated";

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

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);
diesel::define_sql_function!(
    #[sql_name = "lower"]
    fn lower_opt(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>
);

/// A `LIKE` pattern matching `q` anywhere, with `%`, `_` and `\` taken literally.
pub fn contains_pattern(q: &str) -> String {
    let mut p = String::with_capacity(q.len() + 2);
    p.push('%');
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// One page of users ordered by id, after the id `after`; `search` matches the
/// username, name, email or product username, case-insensitively.
pub async fn page_users(
    db: &Db,
    search: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<UserRow>, StoreError> {
    let pattern = search.map(contains_pattern);
    with_conn!(db, |conn| {
        let mut q = users::table
            .select(UserRow::as_select())
            .order(users::id.asc())
            .limit(limit)
            .into_boxed();
        if let Some(a) = after {
            q = q.filter(users::id.gt(a.to_owned()));
        }
        if let Some(p) = &pattern {
            q = q.filter(
                lower(users::username)
                    .like(p.clone())
                    .escape('\\')
                    .or(lower_opt(users::name).like(p.clone()).escape('\\'))
                    .or(lower_opt(users::email).like(p.clone()).escape('\\'))
                    .or(lower_opt(users::preferred_username)
                        .like(p.clone())
                        .escape('\\'))
                    .or(lower(users::id).like(p.clone()).escape('\\')),
            );
        }
        Ok(q.load(conn).await?)
    })
}

/// Profile fields an operator may change.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub email_verified: Option<bool>,
    pub disabled: Option<bool>,
    pub updated_at: i64,
}

/// Applies `changes`; `false` when there is no such user.
pub async fn update_user(db: &Db, id: &str, changes: &UserChanges) -> Result<bool, StoreError> {
    with_conn!(db, |conn| {
        let n = diesel::update(users::table.find(id))
            .set(changes)
            .execute(conn)
            .await?;
        Ok(n == 1)
    })
}

/// Replaces a local user's password hash; `false` when there is no such local user.
pub async fn set_password_hash(
    db: &Db,
    id: &str,
    hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    with_conn!(db, |conn| {
        let n = diesel::update(users::table.find(id).filter(users::source.eq(LOCAL)))
            .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
            .execute(conn)
            .await?;
        Ok(n == 1)
    })
}

/// Refreshes the claims of an existing identity from `row` (a delegated identity
/// of the same id); `false` when there is none of that source.
pub async fn refresh_identity(db: &Db, row: &UserRow) -> Result<bool, StoreError> {
    with_conn!(db, |conn| {
        let n = diesel::update(
            users::table
                .find(&row.id)
                .filter(users::source.eq(&row.source)),
        )
        .set((
            users::name.eq(&row.name),
            users::email.eq(&row.email),
            users::email_verified.eq(row.email_verified),
            users::preferred_username.eq(&row.preferred_username),
            users::updated_at.eq(row.updated_at),
        ))
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
}

/// Ends everything a user holds: their sessions, and every token family (refresh
/// tokens stop working, access tokens turn inactive at introspection). With
/// `consents`, their consents go too (the apps must ask again). Returns the number
/// of sessions and families ended.
pub async fn end_everything(
    db: &Db,
    user_id: &str,
    consents: bool,
    now: i64,
) -> Result<(usize, usize), StoreError> {
    use super::schema::{consents as consent_rows, refresh_tokens, sessions, token_families};
    use diesel_async::AsyncConnection;
    with_conn!(db, |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let ended_sessions =
                diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id)))
                    .execute(conn)
                    .await?;
            if consents {
                diesel::delete(consent_rows::table.filter(consent_rows::user_id.eq(user_id)))
                    .execute(conn)
                    .await?;
            }
            let live = token_families::table
                .filter(token_families::user_id.eq(user_id))
                .filter(token_families::revoked_at.is_null());
            let ids: Vec<String> = live.select(token_families::id).load(conn).await?;
            diesel::update(live)
                .set((
                    token_families::revoked_at.eq(now),
                    token_families::current_hash.eq(None::<Vec<u8>>),
                ))
                .execute(conn)
                .await?;
            diesel::delete(refresh_tokens::table.filter(refresh_tokens::family_id.eq_any(&ids)))
                .execute(conn)
                .await?;
            Ok((ended_sessions, ids.len()))
        })
        .await
    })
}

/// Deletes the user `id` (exactly; not by username), with everything that cascades.
pub async fn delete_user_by_id(db: &Db, id: &str) -> Result<bool, StoreError> {
    with_conn!(db, |conn| {
        let n = diesel::delete(users::table.find(id)).execute(conn).await?;
        Ok(n > 0)
    })
}
