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
