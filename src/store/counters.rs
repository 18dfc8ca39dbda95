//! Change counters: one row per kind of change that every instance must notice
//! (`change_counters`). A write moves its counter in the same connection; each
//! instance reads all counters with one query every `client_cache::POLL` and reloads
//! what moved (`crate::services::client_cache`, `crate::services::revocations`).

use super::schema::change_counters as cc;
use super::{Db, StoreError};
use crate::with_conn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// Moves when any client is created, changed or deleted.
pub const CLIENTS: &str = "clients";
/// Moves when an access token is revoked.
pub const REVOKED_ACCESS_TOKENS: &str = "revoked_access_tokens";

/// Moves counter `$name` by one on `$conn`, inside the caller's write.
macro_rules! bump_counter {
    ($conn:expr, $name:expr) => {{
        use $crate::store::schema::change_counters as cc;
        diesel::update(cc::table.find($name))
            .set(cc::value.eq(cc::value + 1))
            .execute($conn)
            .await?;
    }};
}
pub(crate) use bump_counter;

/// Every counter at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub clients: i64,
    pub revoked_access_tokens: i64,
}

/// All counters, in one query.
pub async fn read(db: &Db) -> Result<Counters, StoreError> {
    let rows: Vec<(String, i64)> = with_conn!(db, |conn| {
        cc::table.select((cc::name, cc::value)).load(conn).await?
    });
    let value = |name: &str| {
        rows.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| StoreError::Corrupt(format!("change counter {name:?} is missing")))
    };
    Ok(Counters {
        clients: value(CLIENTS)?,
        revoked_access_tokens: value(REVOKED_ACCESS_TOKENS)?,
    })
}
