//! Queries on `audit_events` (see `crate::services::audit`).

use super::models::AuditRow;
use super::schema::audit_events;
use super::{Db, StoreError};
use crate::with_conn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

pub async fn insert_event(db: &Db, row: &AuditRow) -> Result<(), StoreError> {
    with_conn!(db, |conn| {
        diesel::insert_into(audit_events::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// What to list: events at or after `since`, optionally of one kind or about one
/// subject, oldest first, after the cursor `(at, id)`.
#[derive(Debug, Clone)]
pub struct Filter {
    pub since: i64,
    pub event: Option<String>,
    pub subject: Option<String>,
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

pub async fn list_events(db: &Db, filter: &Filter) -> Result<Vec<AuditRow>, StoreError> {
    with_conn!(db, |conn| {
        let mut query = audit_events::table
            .filter(audit_events::at.ge(filter.since))
            .select(AuditRow::as_select())
            .order((audit_events::at.asc(), audit_events::id.asc()))
            .limit(filter.limit)
            .into_boxed();
        if let Some(event) = &filter.event {
            query = query.filter(audit_events::event.eq(event.clone()));
        }
        if let Some(subject) = &filter.subject {
            query = query.filter(audit_events::subject.eq(subject.clone()));
        }
        if let Some((at, id)) = &filter.after {
            query = query.filter(
                audit_events::at.gt(*at).or(audit_events::at
                    .eq(*at)
                    .and(audit_events::id.gt(id.clone()))),
            );
        }
        Ok(query.load(conn).await?)
    })
}

/// Deletes events older than `before`; how many went.
pub async fn purge_before(db: &Db, before: i64) -> Result<usize, StoreError> {
    with_conn!(db, |conn| {
        Ok(
            diesel::delete(audit_events::table.filter(audit_events::at.lt(before)))
                .execute(conn)
                .await?,
        )
    })
}
