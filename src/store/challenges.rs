//! Queries on `challenges` (delegated sign-in and consent; rules in
//! `oauth::challenge`). Rows are keyed by the SHA-256 of the challenge; answering
//! and following are single conditional writes, so two racing callers cannot both
//! succeed on either database.

use super::models::ChallengeRow;
use super::schema::challenges;
use super::{Db, StoreError};
use crate::with_conn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

pub async fn insert_challenge(db: &Db, row: &ChallengeRow) -> Result<(), StoreError> {
    with_conn!(db, |conn| {
        diesel::insert_into(challenges::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn find_challenge(
    db: &Db,
    challenge_hash: &[u8],
) -> Result<Option<ChallengeRow>, StoreError> {
    with_conn!(db, |conn| {
        Ok(challenges::table
            .find(challenge_hash)
            .select(ChallengeRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
}

pub async fn find_by_verifier(
    db: &Db,
    verifier_hash: &[u8],
) -> Result<Option<ChallengeRow>, StoreError> {
    with_conn!(db, |conn| {
        Ok(challenges::table
            .filter(challenges::verifier_hash.eq(verifier_hash))
            .select(ChallengeRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
}

/// Records the product's answer, if the challenge is still unanswered and alive:
/// the verifier the browser will bring, and its new deadline. `false` otherwise.
pub async fn answer_challenge(
    db: &Db,
    challenge_hash: &[u8],
    answer: &str,
    verifier_hash: &[u8],
    now: i64,
    expires_at: i64,
) -> Result<bool, StoreError> {
    with_conn!(db, |conn| {
        let n = diesel::update(
            challenges::table
                .filter(challenges::challenge_hash.eq(challenge_hash))
                .filter(challenges::answered_at.is_null())
                .filter(challenges::expires_at.gt(now)),
        )
        .set((
            challenges::answered_at.eq(now),
            challenges::answer.eq(answer),
            challenges::verifier_hash.eq(verifier_hash),
            challenges::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
}

/// Marks the answered challenge of `verifier_hash` used, once, before its deadline.
/// `false` when another request did first or it expired.
pub async fn use_challenge(db: &Db, verifier_hash: &[u8], now: i64) -> Result<bool, StoreError> {
    with_conn!(db, |conn| {
        let n = diesel::update(
            challenges::table
                .filter(challenges::verifier_hash.eq(verifier_hash))
                .filter(challenges::answered_at.is_not_null())
                .filter(challenges::used_at.is_null())
                .filter(challenges::expires_at.gt(now)),
        )
        .set(challenges::used_at.eq(now))
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
}
