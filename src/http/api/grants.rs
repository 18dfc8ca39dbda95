//! `/api/grants`: the applications the signed-in user has authorized, and taking
//! that access back.

use super::*;

/// An application the user has authorized.
#[derive(Debug, Clone, Object)]
pub struct Grant {
    /// The application's `client_id`.
    pub client_id: String,
    /// The application's name.
    pub client_name: String,
    /// The application's home page.
    #[oai(skip_serializing_if_is_none)]
    pub client_website: Option<String>,
    /// Scopes the user granted.
    pub scopes: Vec<String>,
    /// When the user first authorized it, seconds since the epoch.
    pub first_authorized_at: i64,
    /// When it last obtained or refreshed a token, seconds since the epoch.
    #[oai(skip_serializing_if_is_none)]
    pub last_used_at: Option<i64>,
}

impl From<store::grants::Grant> for Grant {
    fn from(g: store::grants::Grant) -> Self {
        Self {
            client_id: g.consent.client_id,
            client_name: g.client_name,
            client_website: g.client_website,
            scopes: g
                .consent
                .scopes
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            first_authorized_at: g.consent.created_at,
            last_used_at: g.last_used_at,
        }
    }
}

/// The applications the user has authorized.
#[derive(Debug, Clone, Object)]
pub struct GrantList {
    /// Most recently authorized first.
    pub grants: Vec<Grant>,
}

pub struct GrantsApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Grants")]
impl GrantsApi {
    /// List the apps you have authorized
    #[oai(path = "/api/grants", method = "get", operation_id = "listGrants")]
    async fn list(
        &self,
        #[oai(scope = "ApiScope::GrantsRead")] caller: ApiCaller,
    ) -> ApiResult<Done<GrantList>> {
        let user = caller.user(&self.state, ApiScope::GrantsRead).await?;
        let grants = store::grants::list_grants(&self.state.db, &user.id)
            .await?
            .into_iter()
            .map(Grant::from)
            .collect();
        Ok(Done::Ok(Json(GrantList { grants })))
    }

    /// Revoke an app's access
    ///
    /// Withdraws your consent and revokes every refresh token the app holds for you;
    /// its access tokens turn inactive at introspection. The app must ask again.
    #[oai(
        path = "/api/grants/:client_id",
        method = "delete",
        operation_id = "revokeGrant"
    )]
    async fn revoke(
        &self,
        #[oai(scope = "ApiScope::GrantsWrite")] caller: ApiCaller,
        /// The app's `client_id`.
        client_id: Path<String>,
    ) -> ApiResult<Deleted> {
        let user = caller.user(&self.state, ApiScope::GrantsWrite).await?;
        let found = store::grants::revoke_grant(
            &self.state.db,
            &user.id,
            &client_id.0,
            self.state.clock.now(),
        )
        .await?;
        if !found {
            return Err(ApiError::not_found("grant"));
        }
        self.state
            .audit(
                Event::new("consent.revoked", Actor::User(&user.id))
                    .subject(&client_id.0)
                    .detail("via", "api"),
            )
            .await;
        tracing::info!(client_id = %client_id.0, user_id = %user.id, "grant revoked");
        Ok(Deleted::NoContent)
    }
}
