//! Queries on token families, refresh tokens and revoked access tokens.
//!
//! Every state change of a family is one conditional UPDATE of its row (a
//! compare-and-set), which is atomic on PostgreSQL and SQLite alike.

use super::counters::{self, bump_counter};
use super::models::{FamilyRow, RefreshTokenRow, UserRow};
use super::schema::{refresh_tokens, revoked_access_tokens, token_families, users};
use super::{Db, StoreError};
use crate::with_conn;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

/// First use of a family, at code redemption: marks it active and installs its first
/// refresh token, unless it was revoked in between (a replayed code). `false` then.
pub async fn activate_family(
    db: &Db,
    family_id: &str,
    refresh: Option<&RefreshTokenRow>,
    dpop_jkt: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let current = refresh.map(|r| r.token_hash.clone());
    with_conn!(db, |conn| {
        let current = current.clone();
        conn.transaction::<_, StoreError, _>(async |conn| {
            let n = diesel::update(
                token_families::table
                    .filter(token_families::id.eq(family_id))
                    .filter(token_families::activated_at.is_null())
                    .filter(token_families::revoked_at.is_null()),
            )
            .set((
                token_families::activated_at.eq(now),
                token_families::last_used_at.eq(now),
                token_families::current_hash.eq(current),
                token_families::dpop_jkt.eq(dpop_jkt),
            ))
            .execute(conn)
            .await?;
            if n == 1
                && let Some(row) = refresh
            {
                diesel::insert_into(refresh_tokens::table)
                    .values(row)
                    .execute(conn)
                    .await?;
            }
            Ok(n == 1)
        })
        .await
    })
}

/// Binds an unbound family's refresh tokens to the DPoP key `jkt`.
pub async fn bind_family_key(db: &Db, family_id: &str, jkt: &str) -> Result<(), StoreError> {
    with_conn!(db, |conn| {
        diesel::update(
            token_families::table
                .filter(token_families::id.eq(family_id))
                .filter(token_families::dpop_jkt.is_null()),
        )
        .set(token_families::dpop_jkt.eq(jkt))
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// A refresh token by hash, with its family and the family's user (one query:
/// a refresh that issues an ID token needs the user's claims).
pub async fn find_refresh(
    db: &Db,
    token_hash: &[u8],
) -> Result<Option<(RefreshTokenRow, FamilyRow, UserRow)>, StoreError> {
    with_conn!(db, |conn| {
        Ok(refresh_tokens::table
            .inner_join(token_families::table.inner_join(users::table))
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .select((
                RefreshTokenRow::as_select(),
                FamilyRow::as_select(),
                UserRow::as_select(),
            ))
            .first(conn)
            .await
            .optional()?)
    })
}

pub async fn find_family(db: &Db, id: &str) -> Result<Option<FamilyRow>, StoreError> {
    with_conn!(db, |conn| {
        Ok(token_families::table
            .find(id)
            .select(FamilyRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
}

/// How a family row changes when its live refresh token is replaced.
#[derive(Debug, Clone, Copy)]
pub struct Replacement<'a> {
    /// The live token the caller saw; the write happens only if it still is.
    pub expected_current: &'a [u8],
    /// What `previous_hash` becomes: the rotated-out token (rotation), or unchanged
    /// (a reuse-interval retry).
    pub previous: &'a [u8],
    pub rotated_at: i64,
    pub retry_used: bool,
}

/// Replaces the family's live refresh token with `new`, in one conditional write:
/// it succeeds only if `expected_current` is still the live token and the family is
/// not revoked. Every change to a family row replaces `current_hash` (revocation
/// clears it), so comparing that one column is enough to see that nothing moved
/// since the caller read the row. Of concurrent replacements of one token, one wins.
pub async fn replace_refresh(
    db: &Db,
    family_id: &str,
    change: Replacement<'_>,
    new: &RefreshTokenRow,
    now: i64,
) -> Result<bool, StoreError> {
    if let Db::Postgres(pool) = db {
        // One statement, so one round trip and the family row locked only while it
        // runs (a transaction of UPDATE + INSERT costs BEGIN, two statements and
        // COMMIT). The INSERT sees the UPDATE's row only if the compare-and-set won.
        use diesel::sql_types::{BigInt, Binary, Bool, Text};
        debug_assert_eq!(new.family_id, family_id);
        let mut conn = pool.get().await.map_err(StoreError::pool)?;
        let n = diesel::sql_query(
            "WITH moved AS (
               UPDATE token_families
                  SET current_hash = $1, previous_hash = $2, rotated_at = $3,
                      retry_used = $4, last_used_at = $5
                WHERE id = $6 AND current_hash = $7 AND revoked_at IS NULL
            RETURNING id)
             INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at)
             SELECT $1, id, $8, $9 FROM moved",
        )
        .bind::<Binary, _>(&new.token_hash)
        .bind::<Binary, _>(change.previous)
        .bind::<BigInt, _>(change.rotated_at)
        .bind::<Bool, _>(change.retry_used)
        .bind::<BigInt, _>(now)
        .bind::<Text, _>(family_id)
        .bind::<Binary, _>(change.expected_current)
        .bind::<BigInt, _>(new.issued_at)
        .bind::<BigInt, _>(new.expires_at)
        .execute(&mut *conn)
        .await?;
        return Ok(n == 1);
    }
    with_conn!(db, |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let n = diesel::update(
                token_families::table
                    .filter(token_families::id.eq(family_id))
                    .filter(token_families::current_hash.eq(change.expected_current))
                    .filter(token_families::revoked_at.is_null()),
            )
            .set((
                token_families::current_hash.eq(&new.token_hash),
                token_families::previous_hash.eq(change.previous),
                token_families::rotated_at.eq(change.rotated_at),
                token_families::retry_used.eq(change.retry_used),
                token_families::last_used_at.eq(now),
            ))
            .execute(conn)
            .await?;
            if n == 1 {
                diesel::insert_into(refresh_tokens::table)
                    .values(new)
                    .execute(conn)
                    .await?;
            }
            Ok(n == 1)
        })
        .await
    })
}

/// Revokes a family: its refresh tokens stop working and its access tokens turn
/// inactive at introspection. `false` if it was already revoked or does not exist.
pub async fn revoke_family(db: &Db, family_id: &str, now: i64) -> Result<bool, StoreError> {
    with_conn!(db, |conn| {
        let n = diesel::update(
            token_families::table
                .filter(token_families::id.eq(family_id))
                .filter(token_families::revoked_at.is_null()),
        )
        .set((
            token_families::revoked_at.eq(now),
            token_families::current_hash.eq(None::<Vec<u8>>),
        ))
        .execute(conn)
        .await?;
        Ok(n > 0)
    })
}

/// Denies one access token by `jti` until its expiry.
pub async fn revoke_access_token(db: &Db, jti: &str, expires_at: i64) -> Result<(), StoreError> {
    with_conn!(db, |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            diesel::insert_into(revoked_access_tokens::table)
                .values((
                    revoked_access_tokens::jti.eq(jti),
                    revoked_access_tokens::expires_at.eq(expires_at),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            bump_counter!(conn, counters::REVOKED_ACCESS_TOKENS);
            Ok(())
        })
        .await
    })
}

/// The revocation change counter and every access-token id revoked and not yet
/// expired, read in one transaction so the two agree.
pub async fn revoked_access_tokens(db: &Db, now: i64) -> Result<(i64, Vec<String>), StoreError> {
    use super::schema::change_counters as cc;
    with_conn!(db, |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let version: i64 = cc::table
                .find(counters::REVOKED_ACCESS_TOKENS)
                .select(cc::value)
                .first(conn)
                .await?;
            let jtis = revoked_access_tokens::table
                .filter(revoked_access_tokens::expires_at.gt(now))
                .select(revoked_access_tokens::jti)
                .load(conn)
                .await?;
            Ok((version, jtis))
        })
        .await
    })
}

pub async fn is_access_token_revoked(db: &Db, jti: &str) -> Result<bool, StoreError> {
    with_conn!(db, |conn| {
        let n: i64 = revoked_access_tokens::table
            .filter(revoked_access_tokens::jti.eq(jti))
            .count()
            .get_result(conn)
            .await?;
        Ok(n > 0)
    })
}

/// What a purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub codes: usize,
    pub refresh_tokens: usize,
    pub families: usize,
    pub revoked_access_tokens: usize,
    pub sessions: usize,
    pub challenges: usize,
}

/// Deletes rows that can no longer matter: codes a day past expiry (kept that long so
/// a late replay still finds and revokes its family), expired refresh tokens, revoked
/// access-token ids past their `exp`, expired sessions, and families with no live
/// token left (`keep` seconds after their last use, so introspection of their access
/// tokens stays correct until those expire).
/// Login and consent challenges go an hour past their deadline.
pub async fn purge_expired(db: &Db, now: i64, keep: i64) -> Result<Purged, StoreError> {
    use super::schema::{authorization_codes, challenges, sessions};
    with_conn!(db, |conn| {
        let codes = diesel::delete(
            authorization_codes::table.filter(authorization_codes::expires_at.lt(now - 86_400)),
        )
        .execute(conn)
        .await?;
        let refresh =
            diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.lt(now)))
                .execute(conn)
                .await?;
        let revoked = diesel::delete(
            revoked_access_tokens::table.filter(revoked_access_tokens::expires_at.lt(now)),
        )
        .execute(conn)
        .await?;
        let sessions = diesel::delete(sessions::table.filter(sessions::expires_at.lt(now)))
            .execute(conn)
            .await?;
        let challenges =
            diesel::delete(challenges::table.filter(challenges::expires_at.lt(now - 3600)))
                .execute(conn)
                .await?;
        let families = diesel::delete(
            token_families::table
                .filter(token_families::last_used_at.lt(now - keep))
                .filter(
                    token_families::revoked_at
                        .is_not_null()
                        .or(token_families::activated_at.is_null())
                        .or(diesel::dsl::not(diesel::dsl::exists(
                            refresh_tokens::table
                                .filter(refresh_tokens::family_id.eq(token_families::id)),
                        ))),
                ),
        )
        .execute(conn)
        .await?;
        Ok(Purged {
            codes,
            refresh_tokens: refresh,
            families,
            revoked_access_tokens: revoked,
            sessions,
            challenges,
        })
    })
}
