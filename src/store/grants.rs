//! Queries on `consents`: what each user has authorized each client to do.

use super::models::ConsentRow;
use super::schema::consents;
use super::{Db, StoreError};
use crate::with_conn;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;

pub async fn find_consent(
    db: &Db,
    user_id: &str,
    client_id: &str,
) -> Result<Option<ConsentRow>, StoreError> {
    with_conn!(db, |conn| {
        Ok(consents::table
            .find((user_id, client_id))
            .select(ConsentRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
}

/// Records consent; the stored scopes become `row.scopes` (the caller merges).
pub async fn upsert_consent(db: &Db, row: &ConsentRow) -> Result<(), StoreError> {
    with_conn!(db, |conn| {
        diesel::insert_into(consents::table)
            .values(row)
            .on_conflict((consents::user_id, consents::client_id))
            .do_update()
            .set((
                consents::scopes.eq(excluded(consents::scopes)),
                consents::updated_at.eq(excluded(consents::updated_at)),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// One application a user has authorized.
#[derive(Debug, Clone)]
pub struct Grant {
    pub consent: ConsentRow,
    pub client_name: String,
    pub client_website: Option<String>,
    /// The latest token issue or refresh for this user and client, if any.
    pub last_used_at: Option<i64>,
}

/// The applications `user_id` has authorized, most recently authorized first.
pub async fn list_grants(db: &Db, user_id: &str) -> Result<Vec<Grant>, StoreError> {
    use super::schema::{clients, token_families};
    use diesel::dsl::max;
    with_conn!(db, |conn| {
        let rows: Vec<(ConsentRow, String, Option<String>)> = consents::table
            .inner_join(clients::table)
            .filter(consents::user_id.eq(user_id))
            .order((consents::created_at.desc(), consents::client_id.asc()))
            .select((ConsentRow::as_select(), clients::name, clients::website))
            .load(conn)
            .await?;
        let used: Vec<(String, Option<i64>)> = token_families::table
            .filter(token_families::user_id.eq(user_id))
            .group_by(token_families::client_id)
            .select((token_families::client_id, max(token_families::last_used_at)))
            .load(conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(consent, client_name, client_website)| {
                let last_used_at = used
                    .iter()
                    .find(|(c, _)| *c == consent.client_id)
                    .and_then(|(_, t)| *t);
                Grant {
                    consent,
                    client_name,
                    client_website,
                    last_used_at,
                }
            })
            .collect())
    })
}

/// Withdraws a user's consent for a client and revokes every token family of it, in
/// one transaction. `false` when there was neither consent nor a live family.
pub async fn revoke_grant(
    db: &Db,
    user_id: &str,
    client_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    use super::schema::{refresh_tokens, token_families};
    use diesel_async::AsyncConnection;
    with_conn!(db, |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let consents_deleted = diesel::delete(consents::table.find((user_id, client_id)))
                .execute(conn)
                .await?;
            let families = token_families::table
                .filter(token_families::user_id.eq(user_id))
                .filter(token_families::client_id.eq(client_id))
                .filter(token_families::revoked_at.is_null());
            let ids: Vec<String> = families.select(token_families::id).load(conn).await?;
            diesel::update(families)
                .set((
                    token_families::revoked_at.eq(now),
                    token_families::current_hash.eq(None::<Vec<u8>>),
                ))
                .execute(conn)
                .await?;
            diesel::delete(refresh_tokens::table.filter(refresh_tokens::family_id.eq_any(&ids)))
                .execute(conn)
                .await?;
            Ok(consents_deleted > 0 || !ids.is_empty())
        })
        .await
    })
}
