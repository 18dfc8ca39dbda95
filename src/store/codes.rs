//! Queries on `authorization_codes` (stored by SHA-256 only).

use super::models::{CodeRow, FamilyRow};
use super::schema::{authorization_codes, token_families};
use super::{Db, StoreError};
use crate::with_conn;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

/// Stores a new code and the (not yet active) family its tokens will belong to.
pub async fn insert_code(db: &Db, family: &FamilyRow, code: &CodeRow) -> Result<(), StoreError> {
    with_conn!(db, |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            diesel::insert_into(token_families::table)
                .values(family)
                .execute(conn)
                .await?;
            diesel::insert_into(authorization_codes::table)
                .values(code)
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
    })
}

/// Spends a code: one conditional write, so exactly one presentation ever gets the
/// row back. `None` when the code is unknown or already spent.
pub async fn redeem_code(
    db: &Db,
    code_hash: &[u8],
    now: i64,
) -> Result<Option<CodeRow>, StoreError> {
    with_conn!(db, |conn| {
        Ok(diesel::update(
            authorization_codes::table
                .filter(authorization_codes::code_hash.eq(code_hash))
                .filter(authorization_codes::consumed_at.is_null()),
        )
        .set(authorization_codes::consumed_at.eq(now))
        .returning(CodeRow::as_returning())
        .get_result(conn)
        .await
        .optional()?)
    })
}

pub async fn find_code(db: &Db, code_hash: &[u8]) -> Result<Option<CodeRow>, StoreError> {
    with_conn!(db, |conn| {
        Ok(authorization_codes::table
            .find(code_hash)
            .select(CodeRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
}
