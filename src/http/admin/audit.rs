//! `/admin/audit`: the audit trail, for operators (the CLI reads the same table).

use super::{AdminCaller, AdminError, AdminResult, AdminScope, page_size};
use crate::http::ApiTags;
use crate::http::api::Done;
use crate::services::state::AppState;
use crate::store;
use crate::store::models::AuditRow;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

/// A security event.
#[derive(Debug, Clone, Object)]
pub struct AuditEvent {
    /// Unique, and sorts by time.
    pub id: String,
    /// When, seconds since the epoch.
    pub at: i64,
    /// What happened, e.g. `sign_in.failure`, `client.deleted`, `consent.revoked`.
    pub event: String,
    /// Who acted: `user`, `admin`, `cli`, `registration`, `client` or `anonymous`.
    pub actor_kind: String,
    /// The acting user's id, admin token's client id or client's id.
    #[oai(skip_serializing_if_is_none)]
    pub actor: Option<String>,
    /// What it happened to: a user, client or key id.
    #[oai(skip_serializing_if_is_none)]
    pub subject: Option<String>,
    /// The caller's address, where there was one.
    #[oai(skip_serializing_if_is_none)]
    pub address: Option<String>,
    /// More about the event; never a password, secret or token.
    pub detail: serde_json::Value,
}

impl From<&AuditRow> for AuditEvent {
    fn from(r: &AuditRow) -> Self {
        Self {
            id: r.id.clone(),
            at: r.at,
            event: r.event.clone(),
            actor_kind: r.actor_kind.clone(),
            actor: r.actor.clone(),
            subject: r.subject.clone(),
            address: r.address.clone(),
            detail: serde_json::from_str(&r.detail).unwrap_or_default(),
        }
    }
}

/// One page of events.
#[derive(Debug, Clone, Object)]
pub struct AuditList {
    /// Oldest first.
    pub events: Vec<AuditEvent>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

pub struct AdminAuditApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminAuditApi {
    /// List audit events
    ///
    /// Sign-ins, consents, token reuse and code replays, client and key changes
    /// and admin actions, oldest first, kept for `audit_retention`.
    #[oai(
        path = "/admin/audit",
        method = "get",
        operation_id = "adminListAuditEvents"
    )]
    async fn list(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// From this time, seconds since the epoch (default: a day ago).
        since: Query<Option<i64>>,
        /// Only events of this kind.
        event: Query<Option<String>>,
        /// Only events about this user, client or key id.
        subject: Query<Option<String>>,
        /// Page size, 1 to 200 (default 50).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> AdminResult<Done<AuditList>> {
        caller.check(&self.state).await?;
        let limit = page_size(limit.0)?;
        let after = match cursor.0.as_deref() {
            None => None,
            Some(raw) => Some(
                raw.split_once('.')
                    .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
                    .ok_or_else(|| AdminError::bad_request("cursor is not one this API gave"))?,
            ),
        };
        let filter = store::audit::Filter {
            since: since.0.unwrap_or_else(|| self.state.clock.now() - 86_400),
            event: event.0.filter(|e| !e.is_empty()),
            subject: subject.0.filter(|s| !s.is_empty()),
            after,
            limit: limit + 1,
        };
        let mut rows = store::audit::list_events(&self.state.db, &filter).await?;
        let next_cursor = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| format!("{}.{}", r.at, r.id))
        } else {
            None
        };
        let events = rows.iter().map(AuditEvent::from).collect();
        Ok(Done::Ok(Json(AuditList {
            events,
            next_cursor,
        })))
    }
}
