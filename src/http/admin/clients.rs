//! `/admin/clients`: every client, whoever owns it — the same rules as the apps API
//! and the CLI (one implementation in `crate::services::clients`), plus the admin scope,
//! which only an operator may give.

use super::{AdminCaller, AdminError, AdminResult, AdminScope, by, page_size, paged};
use crate::http::ApiTags;
use crate::http::api::{App, AppChanges, Deleted, Done, NewApp, app_of};
use crate::oauth::types::ClientType;
use crate::services::clients::{self, Origin};
use crate::services::state::AppState;
use crate::store::models::ClientRow;
use crate::store::{self, StoreError};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

/// A client as the operator sees it.
#[derive(Debug, Clone, Object)]
pub struct AdminClient {
    #[oai(flatten)]
    pub app: App,
    /// The user who owns it (apps API), if any.
    #[oai(skip_serializing_if_is_none)]
    pub owner_id: Option<String>,
    /// How it came to be: `operator` (CLI, admin API), `user` (apps API),
    /// `registration` (RFC 7591) or `document` (Client ID Metadata Document).
    pub origin: String,
}

/// A new client, made by the operator.
#[derive(Debug, Clone, Object)]
pub struct NewAdminClient {
    #[oai(flatten)]
    pub app: NewApp,
    /// The user who owns it (it then appears in their apps); none by default.
    #[oai(skip_serializing_if_is_none)]
    pub owner_id: Option<String>,
}

/// One page of clients.
#[derive(Debug, Clone, Object)]
pub struct AdminClientList {
    /// Ordered by `client_id`.
    pub clients: Vec<AdminClient>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

/// A new client and its secret (confidential clients only).
#[derive(ApiResponse)]
pub enum AdminCreated {
    /// The client, with its `client_secret` if it is confidential. The secret is
    /// shown only here.
    #[oai(status = 201)]
    Created(Json<AdminClient>),
}

fn origin_of(row: &ClientRow) -> &'static str {
    if row.document_fetched_at.is_some() {
        "document"
    } else if row.registration_token_hash.is_some() {
        "registration"
    } else if row.owner_id.is_some() {
        "user"
    } else {
        "operator"
    }
}

fn admin_client(row: &ClientRow, secret: Option<String>) -> Result<AdminClient, StoreError> {
    Ok(AdminClient {
        app: app_of(row, secret)?,
        owner_id: row.owner_id.clone(),
        origin: origin_of(row).to_owned(),
    })
}

fn bad_metadata(detail: String) -> AdminError {
    AdminError::problem(
        poem::http::StatusCode::BAD_REQUEST,
        "invalid-client-metadata",
        "Invalid Client Metadata",
        detail,
    )
}

async fn find(state: &AppState, id: &str) -> AdminResult<ClientRow> {
    store::clients::find_client(&state.db, id)
        .await?
        .ok_or_else(|| AdminError::not_found("client"))
}

pub struct AdminClientsApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminClientsApi {
    /// List clients
    ///
    /// Every client, whoever made it, a page at a time; `owner` narrows the list to
    /// one user's apps.
    #[oai(
        path = "/admin/clients",
        method = "get",
        operation_id = "adminListClients"
    )]
    async fn list(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// Only the apps of this user id.
        owner: Query<Option<String>>,
        /// Page size, 1 to 200 (default 50).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> AdminResult<Done<AdminClientList>> {
        caller.check(&self.state).await?;
        let limit = page_size(limit.0)?;
        let rows = store::clients::page_clients(
            &self.state.db,
            owner.0.as_deref(),
            cursor.0.as_deref(),
            limit + 1,
        )
        .await?;
        let (rows, next_cursor) = paged(rows, limit, |r| r.id.clone());
        let clients = rows
            .iter()
            .map(|r| admin_client(r, None))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Done::Ok(Json(AdminClientList {
            clients,
            next_cursor,
        })))
    }

    /// Create a client
    ///
    /// Validated like any client; only here (and in the CLI) may `scopes` hold
    /// `latchkey:admin`, for a confidential client with the `client_credentials`
    /// grant.
    #[oai(
        path = "/admin/clients",
        method = "post",
        operation_id = "adminCreateClient"
    )]
    async fn create(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        body: Json<NewAdminClient>,
    ) -> AdminResult<AdminCreated> {
        let claims = caller.check(&self.state).await?;
        let NewAdminClient { app, owner_id } = body.0;
        if let Some(owner) = &owner_id
            && store::users::find_user(&self.state.db, owner)
                .await?
                .is_none()
        {
            return Err(AdminError::bad_request(format!(
                "owner_id `{owner}` is not a user"
            )));
        }
        let meta = crate::http::api::new_app_metadata(app).map_err(bad_metadata)?;
        let origin = Origin {
            owner_id,
            operator: true,
            ..Origin::default()
        };
        let created = clients::create_client(
            &self.state.db,
            &self.state.settings.scopes,
            meta,
            origin,
            self.state.clock.now(),
        )
        .await?;
        self.state
            .audit(by(&claims, "client.created").subject(&created.row.id))
            .await;
        Ok(AdminCreated::Created(Json(admin_client(
            &created.row,
            created.client_secret,
        )?)))
    }

    /// Get a client
    #[oai(
        path = "/admin/clients/:id",
        method = "get",
        operation_id = "adminGetClient"
    )]
    async fn get(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The `client_id`.
        id: Path<String>,
    ) -> AdminResult<Done<AdminClient>> {
        caller.check(&self.state).await?;
        let row = find(&self.state, &id.0).await?;
        Ok(Done::Ok(Json(admin_client(&row, None)?)))
    }

    /// Change a client
    ///
    /// Fields left out keep their values; the result is validated like a new
    /// client. A client described by a metadata document cannot be changed here
    /// (its document is the source of truth).
    #[oai(
        path = "/admin/clients/:id",
        method = "patch",
        operation_id = "adminUpdateClient"
    )]
    async fn update(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The `client_id`.
        id: Path<String>,
        body: Json<AppChanges>,
    ) -> AdminResult<Done<AdminClient>> {
        let claims = caller.check(&self.state).await?;
        let row = find(&self.state, &id.0).await?;
        if row.document_fetched_at.is_some() {
            return Err(AdminError::conflict(
                "this client is described by its metadata document; change the document instead",
            ));
        }
        let mut meta = clients::metadata_of(&row)?;
        crate::http::api::apply_changes(&mut meta, body.0).map_err(bad_metadata)?;
        let updated = clients::update_client(
            &self.state.db,
            &self.state.settings.scopes,
            &row,
            meta,
            row.token_endpoint_auth_method.clone(),
            true,
            self.state.clock.now(),
        )
        .await?;
        self.state.client_cache.invalidate(&row.id);
        self.state
            .audit(by(&claims, "client.updated").subject(&row.id))
            .await;
        Ok(Done::Ok(Json(admin_client(&updated, None)?)))
    }

    /// Delete a client
    ///
    /// Its refresh tokens die at once, and introspection reports its access tokens
    /// inactive.
    #[oai(
        path = "/admin/clients/:id",
        method = "delete",
        operation_id = "adminDeleteClient"
    )]
    async fn delete(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The `client_id`.
        id: Path<String>,
    ) -> AdminResult<Deleted> {
        let claims = caller.check(&self.state).await?;
        if !store::clients::delete_client(&self.state.db, &id.0).await? {
            return Err(AdminError::not_found("client"));
        }
        self.state.client_cache.invalidate(&id.0);
        self.state
            .audit(by(&claims, "client.deleted").subject(&id.0))
            .await;
        Ok(Deleted::NoContent)
    }

    /// Rotate a client's secret
    ///
    /// The old secret stops working at once. Public clients have none (409).
    #[oai(
        path = "/admin/clients/:id/secret",
        method = "post",
        operation_id = "adminRotateClientSecret"
    )]
    async fn rotate_secret(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The `client_id`.
        id: Path<String>,
    ) -> AdminResult<Done<crate::http::api::AppSecret>> {
        let claims = caller.check(&self.state).await?;
        let row = find(&self.state, &id.0).await?;
        if row.client_type != ClientType::Confidential.as_str() {
            return Err(AdminError::conflict(
                "public clients have no secret to rotate",
            ));
        }
        if row.uses_keys() {
            return Err(AdminError::conflict(
                "this client authenticates with private_key_jwt and has no secret: rotate its keys instead",
            ));
        }
        let secret = clients::rotate_secret(&self.state.db, &row.id, self.state.clock.now())
            .await?
            .ok_or_else(|| AdminError::not_found("client"))?;
        self.state.client_cache.invalidate(&row.id);
        self.state
            .audit(by(&claims, "client.secret_rotated").subject(&row.id))
            .await;
        Ok(Done::Ok(Json(crate::http::api::AppSecret {
            client_id: row.id,
            client_secret: secret,
        })))
    }
}
