//! `/api/apps`: the signed-in user's OAuth applications, and the rules that turn the
//! API's shapes into client metadata (shared with the settings pages).

use super::*;
use crate::oauth::registration::{KeysMetadata, keys_metadata};

/// Whether an app keeps a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum AppType {
    /// Runs on a server and authenticates with its secret.
    Confidential,
    /// Runs where a secret cannot be kept (browser, desktop, CLI); must use PKCE.
    Public,
}

/// A JWK Set (RFC 7517 §5) of a client's public keys.
#[derive(Debug, Clone, Object)]
pub struct PublicJwks {
    /// Public signing keys: RSA (2048 bits or more) for RS256/PS256, EC P-256 for
    /// ES256, OKP Ed25519 for EdDSA. A key with a private member (`d`, `p`, …) or a
    /// symmetric (`oct`) key is refused; `kid`s must differ.
    pub keys: Vec<serde_json::Value>,
}

/// An OAuth application.
#[derive(Debug, Clone, Object)]
pub struct App {
    /// The OAuth `client_id`.
    pub client_id: String,
    /// Shown to people on the consent page.
    pub name: String,
    /// What the app does.
    pub description: String,
    /// The app's home page.
    #[oai(skip_serializing_if_is_none)]
    pub website: Option<String>,
    /// An https URL of the app's icon.
    #[oai(skip_serializing_if_is_none)]
    pub icon_url: Option<String>,
    /// Registered redirect URIs (exact match; loopback URIs match any port).
    pub redirect_uris: Vec<String>,
    /// Where the app may send people after signing them out (OpenID Connect
    /// RP-Initiated Logout; exact match).
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes the app may ask for.
    pub scopes: Vec<String>,
    /// Grants the app may use.
    pub grant_types: Vec<TokenGrantType>,
    pub client_type: AppType,
    /// How it authenticates at the token endpoint: `none` (public),
    /// `client_secret_basic` (or `client_secret_post`; a secret), or
    /// `private_key_jwt` (an assertion signed with its own key).
    pub token_endpoint_auth_method: String,
    // `private_key_jwt`: its public keys, when registered by value.
    // (No doc comment: a described `$ref` becomes `allOf`.)
    #[oai(skip_serializing_if_is_none)]
    pub jwks: Option<PublicJwks>,
    /// `private_key_jwt`: where it publishes its public keys.
    #[oai(skip_serializing_if_is_none)]
    pub jwks_uri: Option<String>,
    /// Every token request must carry a DPoP proof (RFC 9449 §5.2).
    pub dpop_bound_access_tokens: bool,
    /// Every authorization request must be pushed to `/oauth/par` first (RFC 9126).
    pub require_pushed_authorization_requests: bool,
    /// Creation time, seconds since the epoch.
    pub created_at: i64,
    /// Last change, seconds since the epoch.
    pub updated_at: i64,
    /// The client secret: only in the responses that create or rotate it. Store it
    /// now; it cannot be shown again.
    #[oai(skip_serializing_if_is_none)]
    pub client_secret: Option<String>,
}

/// A new application.
#[derive(Debug, Clone, Object)]
pub struct NewApp {
    /// 1 to 100 characters.
    pub name: String,
    /// Up to 1000 characters.
    #[oai(skip_serializing_if_is_none)]
    pub description: Option<String>,
    /// An http(s) URL.
    #[oai(skip_serializing_if_is_none)]
    pub website: Option<String>,
    /// An http(s) URL.
    #[oai(skip_serializing_if_is_none)]
    pub icon_url: Option<String>,
    /// https, or http on a loopback host; no fragments or wildcards. Needed for
    /// `authorization_code`.
    #[oai(skip_serializing_if_is_none)]
    pub redirect_uris: Option<Vec<String>>,
    /// Where the app may send people after signing them out (OpenID Connect
    /// RP-Initiated Logout); the same rules as redirect URIs.
    #[oai(skip_serializing_if_is_none)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Default: every scope in the catalogue.
    #[oai(skip_serializing_if_is_none)]
    pub scopes: Option<Vec<String>>,
    /// Default: `authorization_code` + `refresh_token` with redirect URIs (or for a
    /// public app), otherwise `client_credentials`.
    #[oai(skip_serializing_if_is_none)]
    pub grant_types: Option<Vec<TokenGrantType>>,
    // Default `confidential`; no doc comment (a described `$ref` becomes `allOf`).
    #[oai(skip_serializing_if_is_none)]
    pub client_type: Option<AppType>,
    /// `private_key_jwt` for a confidential app that signs assertions with its own
    /// key instead of holding a secret (then `jwks` or `jwks_uri` is required);
    /// default: a secret (`client_secret_basic`) for confidential apps, `none` for
    /// public ones. `client_secret_jwt` is not supported.
    #[oai(skip_serializing_if_is_none)]
    pub token_endpoint_auth_method: Option<String>,
    // `private_key_jwt`: the app's public keys by value.
    // (No doc comment: a described `$ref` becomes `allOf`.)
    #[oai(skip_serializing_if_is_none)]
    pub jwks: Option<PublicJwks>,
    /// `private_key_jwt`: an https URL where the app publishes its JWK Set (fetched
    /// under the server's outbound-fetch rules, cached per `Cache-Control`).
    #[oai(skip_serializing_if_is_none)]
    pub jwks_uri: Option<String>,
    /// `true`: every token request must carry a DPoP proof (RFC 9449 §5.2), so
    /// the app's tokens are useless without its key. Default `false`.
    #[oai(skip_serializing_if_is_none)]
    pub dpop_bound_access_tokens: Option<bool>,
    /// `true`: authorization requests are refused unless pushed to `/oauth/par`
    /// first (RFC 9126 §6), so none travels through the browser. Default `false`.
    #[oai(skip_serializing_if_is_none)]
    pub require_pushed_authorization_requests: Option<bool>,
}

/// Changes to an application: absent fields stay as they are; `null` clears
/// `website` and `icon_url`. The client type cannot change.
#[derive(Debug, Clone, Object)]
pub struct AppChanges {
    /// 1 to 100 characters.
    #[oai(skip_serializing_if_is_none)]
    pub name: Option<String>,
    /// Up to 1000 characters.
    #[oai(skip_serializing_if_is_none)]
    pub description: Option<String>,
    /// An http(s) URL, or `null` to remove it.
    pub website: MaybeUndefined<String>,
    /// An http(s) URL, or `null` to remove it.
    pub icon_url: MaybeUndefined<String>,
    /// Replaces the redirect URIs.
    #[oai(skip_serializing_if_is_none)]
    pub redirect_uris: Option<Vec<String>>,
    /// Replaces the post-logout redirect URIs.
    #[oai(skip_serializing_if_is_none)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Replaces the allowed scopes.
    #[oai(skip_serializing_if_is_none)]
    pub scopes: Option<Vec<String>>,
    /// Replaces the allowed grants.
    #[oai(skip_serializing_if_is_none)]
    pub grant_types: Option<Vec<TokenGrantType>>,
    /// `private_key_jwt` moves a confidential app from its secret (which stops
    /// working) to its own keys; send `jwks` or `jwks_uri` with it.
    #[oai(skip_serializing_if_is_none)]
    pub token_endpoint_auth_method: Option<String>,
    // Replaces a `private_key_jwt` app's keys (to rotate: publish the new key
    // beside the old one, move the app to it, then drop the old one).
    // (No doc comment: a described `$ref` becomes `allOf`.)
    #[oai(skip_serializing_if_is_none)]
    pub jwks: Option<PublicJwks>,
    /// Replaces where a `private_key_jwt` app publishes its keys.
    #[oai(skip_serializing_if_is_none)]
    pub jwks_uri: Option<String>,
    /// Turns the DPoP requirement on or off (RFC 9449 §5.2).
    #[oai(skip_serializing_if_is_none)]
    pub dpop_bound_access_tokens: Option<bool>,
    /// Turns the pushed-request requirement on or off (RFC 9126 §6).
    #[oai(skip_serializing_if_is_none)]
    pub require_pushed_authorization_requests: Option<bool>,
}

/// The caller's applications.
#[derive(Debug, Clone, Object)]
pub struct AppList {
    /// Oldest first.
    pub apps: Vec<App>,
}

/// A new client secret.
#[derive(Debug, Clone, Object)]
pub struct AppSecret {
    /// The app's `client_id`.
    pub client_id: String,
    /// The new secret; the previous one no longer works. Shown only here.
    pub client_secret: String,
}

#[derive(ApiResponse)]
pub enum Created {
    /// The app, with its `client_secret` if it is confidential.
    #[oai(status = 201)]
    Created(Json<App>),
}

fn grant_type_of(g: GrantType) -> TokenGrantType {
    match g {
        GrantType::AuthorizationCode => TokenGrantType::AuthorizationCode,
        GrantType::RefreshToken => TokenGrantType::RefreshToken,
        GrantType::ClientCredentials => TokenGrantType::ClientCredentials,
        GrantType::JwtBearer => TokenGrantType::JwtBearer,
        GrantType::TokenExchange => TokenGrantType::TokenExchange,
    }
}

fn grant_type_from(g: TokenGrantType) -> GrantType {
    match g {
        TokenGrantType::AuthorizationCode => GrantType::AuthorizationCode,
        TokenGrantType::RefreshToken => GrantType::RefreshToken,
        TokenGrantType::ClientCredentials => GrantType::ClientCredentials,
        TokenGrantType::JwtBearer => GrantType::JwtBearer,
        TokenGrantType::TokenExchange => GrantType::TokenExchange,
    }
}

/// The API view of a client row.
pub fn app_of(row: &ClientRow, client_secret: Option<String>) -> Result<App, StoreError> {
    let meta = clients::metadata_of(row)?;
    Ok(App {
        client_id: row.id.clone(),
        name: meta.name,
        description: meta.description,
        website: meta.website,
        icon_url: meta.icon_url,
        redirect_uris: meta.redirect_uris,
        post_logout_redirect_uris: meta.post_logout_redirect_uris,
        scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
        grant_types: meta.grant_types.into_iter().map(grant_type_of).collect(),
        client_type: if meta.public {
            AppType::Public
        } else {
            AppType::Confidential
        },
        token_endpoint_auth_method: row.auth_method().to_owned(),
        jwks: PublicJwks::registered(meta.keys),
        jwks_uri: row.jwks_uri.clone(),
        dpop_bound_access_tokens: row.dpop_bound_access_tokens,
        require_pushed_authorization_requests: row.require_pushed_authorization_requests,
        created_at: row.created_at,
        updated_at: row.updated_at,
        client_secret,
    })
}

impl PublicJwks {
    /// The JWK Set a client registered by value, as the API shows it.
    pub fn registered(keys: Option<KeysMetadata>) -> Option<Self> {
        match keys {
            Some(KeysMetadata::Jwks(set)) => Some(Self {
                keys: set["keys"].as_array().cloned().unwrap_or_default(),
            }),
            _ => None,
        }
    }
}

/// The key members of a request, checked alike in every door.
fn keys_from(
    method: Option<&str>,
    jwks: Option<PublicJwks>,
    jwks_uri: Option<String>,
) -> Result<Option<KeysMetadata>, String> {
    let jwks = jwks.map(|set| serde_json::json!({ "keys": set.keys }));
    keys_metadata(method, jwks, jwks_uri).map_err(|e| e.description.into_owned())
}

/// A scope list as the space-separated string of client metadata; the error is
/// an `invalid_client_metadata` description.
fn scope_string(scopes: Option<Vec<String>>) -> Result<Option<String>, String> {
    match scopes {
        None => Ok(None),
        Some(list) => {
            if list.iter().any(|s| s.is_empty() || s.contains(' ')) {
                return Err("each scope must be one non-empty token without spaces".to_owned());
            }
            Ok(Some(list.join(" ")))
        }
    }
}

fn bad_metadata(detail: String) -> ApiError {
    ApiError::problem(
        StatusCode::BAD_REQUEST,
        "invalid-client-metadata",
        "Invalid Client Metadata",
        detail,
    )
}

/// Applies `changes` to stored metadata (absent fields stay; `null` clears the
/// website and icon). Shared by the apps API and the admin API.
pub fn apply_changes(meta: &mut ClientMetadata, changes: AppChanges) -> Result<(), String> {
    if let Some(name) = changes.name {
        meta.name = name;
    }
    if let Some(d) = changes.description {
        meta.description = d;
    }
    match changes.website {
        MaybeUndefined::Value(w) => meta.website = Some(w),
        MaybeUndefined::Null => meta.website = None,
        MaybeUndefined::Undefined => {}
    }
    match changes.icon_url {
        MaybeUndefined::Value(w) => meta.icon_url = Some(w),
        MaybeUndefined::Null => meta.icon_url = None,
        MaybeUndefined::Undefined => {}
    }
    if let Some(uris) = changes.redirect_uris {
        meta.redirect_uris = uris;
    }
    if let Some(uris) = changes.post_logout_redirect_uris {
        meta.post_logout_redirect_uris = uris;
    }
    if let Some(scopes) = scope_string(changes.scopes)? {
        meta.scope = Some(scopes);
    }
    if let Some(grants) = changes.grant_types {
        meta.grant_types = grants.into_iter().map(grant_type_from).collect();
    }
    if let Some(bound) = changes.dpop_bound_access_tokens {
        meta.dpop_bound_access_tokens = bound;
    }
    if let Some(required) = changes.require_pushed_authorization_requests {
        meta.require_pushed_authorization_requests = required;
    }
    if changes.token_endpoint_auth_method.is_some()
        || changes.jwks.is_some()
        || changes.jwks_uri.is_some()
    {
        // New keys replace the old; without a method, a client that has keys keeps
        // private_key_jwt.
        let method = changes.token_endpoint_auth_method.or_else(|| {
            meta.keys
                .is_some()
                .then(|| crate::oauth::types::PRIVATE_KEY_JWT.to_owned())
        });
        meta.keys = keys_from(method.as_deref(), changes.jwks, changes.jwks_uri)?;
    }
    Ok(())
}

/// The caller's app `id`, or 404 (also for other people's apps: their existence is
/// not revealed).
async fn owned_app(state: &AppState, user: &UserRow, id: &str) -> ApiResult<ClientRow> {
    match store::clients::find_client(&state.db, id).await? {
        Some(row) if row.owner_id.as_deref() == Some(user.id.as_str()) => Ok(row),
        _ => Err(ApiError::not_found("app")),
    }
}

/// Metadata for a new app from the API's shape; the error is an
/// `invalid_client_metadata` description.
pub fn new_app_metadata(body: NewApp) -> Result<ClientMetadata, String> {
    let public = body.client_type == Some(AppType::Public);
    let method = body.token_endpoint_auth_method.as_deref();
    if public && method.is_some_and(|m| m != "none") {
        return Err("a public app authenticates with `none`: it has no secret or key".to_owned());
    }
    if !public && method == Some("none") {
        return Err(
            "token_endpoint_auth_method `none` is for public apps: set client_type public"
                .to_owned(),
        );
    }
    let keys = keys_from(method, body.jwks, body.jwks_uri)?;
    Ok(ClientMetadata {
        keys,
        name: body.name,
        description: body.description.unwrap_or_default(),
        website: body.website,
        icon_url: body.icon_url,
        redirect_uris: body.redirect_uris.unwrap_or_default(),
        post_logout_redirect_uris: body.post_logout_redirect_uris.unwrap_or_default(),
        grant_types: body
            .grant_types
            .unwrap_or_default()
            .into_iter()
            .map(grant_type_from)
            .collect(),
        scope: scope_string(body.scopes)?,
        public,
        application_type: None,
        dpop_bound_access_tokens: body.dpop_bound_access_tokens.unwrap_or(false),
        require_pushed_authorization_requests: body
            .require_pushed_authorization_requests
            .unwrap_or(false),
    })
}

pub struct AppsApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Apps")]
impl AppsApi {
    /// List your apps
    #[oai(path = "/api/apps", method = "get", operation_id = "listApps")]
    async fn list(
        &self,
        #[oai(scope = "ApiScope::AppsRead")] caller: ApiCaller,
    ) -> ApiResult<Done<AppList>> {
        let user = caller.user(&self.state, ApiScope::AppsRead).await?;
        let rows = store::clients::list_owned(&self.state.db, &user.id).await?;
        let apps = rows
            .iter()
            .map(|r| app_of(r, None))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Done::Ok(Json(AppList { apps })))
    }

    /// Create an app
    ///
    /// The response is the only time a confidential app's `client_secret` is shown.
    #[oai(path = "/api/apps", method = "post", operation_id = "createApp")]
    async fn create(
        &self,
        #[oai(scope = "ApiScope::AppsWrite")] caller: ApiCaller,
        body: Json<NewApp>,
    ) -> ApiResult<Created> {
        let user = caller.user(&self.state, ApiScope::AppsWrite).await?;
        let meta = new_app_metadata(body.0).map_err(bad_metadata)?;
        let origin = Origin {
            owner_id: Some(user.id.clone()),
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
            .audit(Event::new("client.created", Actor::User(&user.id)).subject(&created.row.id))
            .await;
        tracing::info!(client_id = %created.row.id, user_id = %user.id, "app created");
        Ok(Created::Created(Json(app_of(
            &created.row,
            created.client_secret,
        )?)))
    }

    /// Get an app
    #[oai(path = "/api/apps/:id", method = "get", operation_id = "getApp")]
    async fn get(
        &self,
        #[oai(scope = "ApiScope::AppsRead")] caller: ApiCaller,
        /// The app's `client_id`.
        id: Path<String>,
    ) -> ApiResult<Done<App>> {
        let user = caller.user(&self.state, ApiScope::AppsRead).await?;
        let row = owned_app(&self.state, &user, &id.0).await?;
        Ok(Done::Ok(Json(app_of(&row, None)?)))
    }

    /// Change an app
    ///
    /// Fields left out keep their values. The result is validated like a new app.
    #[oai(path = "/api/apps/:id", method = "patch", operation_id = "updateApp")]
    async fn update(
        &self,
        #[oai(scope = "ApiScope::AppsWrite")] caller: ApiCaller,
        /// The app's `client_id`.
        id: Path<String>,
        body: Json<AppChanges>,
    ) -> ApiResult<Done<App>> {
        let user = caller.user(&self.state, ApiScope::AppsWrite).await?;
        let row = owned_app(&self.state, &user, &id.0).await?;
        let mut meta = clients::metadata_of(&row)?;
        apply_changes(&mut meta, body.0).map_err(bad_metadata)?;
        let updated = clients::update_client(
            &self.state.db,
            &self.state.settings.scopes,
            &row,
            meta,
            row.token_endpoint_auth_method.clone(),
            false,
            self.state.clock.now(),
        )
        .await?;
        self.state.client_cache.invalidate(&row.id);
        self.state
            .audit(Event::new("client.updated", Actor::User(&user.id)).subject(&row.id))
            .await;
        tracing::info!(client_id = %row.id, user_id = %user.id, "app updated");
        Ok(Done::Ok(Json(app_of(&updated, None)?)))
    }

    /// Delete an app
    ///
    /// Its refresh tokens die at once, and introspection reports its access tokens
    /// inactive.
    #[oai(path = "/api/apps/:id", method = "delete", operation_id = "deleteApp")]
    async fn delete(
        &self,
        #[oai(scope = "ApiScope::AppsWrite")] caller: ApiCaller,
        /// The app's `client_id`.
        id: Path<String>,
    ) -> ApiResult<Deleted> {
        let user = caller.user(&self.state, ApiScope::AppsWrite).await?;
        let row = owned_app(&self.state, &user, &id.0).await?;
        store::clients::delete_client(&self.state.db, &row.id).await?;
        self.state.client_cache.invalidate(&row.id);
        self.state
            .audit(Event::new("client.deleted", Actor::User(&user.id)).subject(&row.id))
            .await;
        tracing::info!(client_id = %row.id, user_id = %user.id, "app deleted");
        Ok(Deleted::NoContent)
    }

    /// Rotate an app's secret
    ///
    /// The old secret stops working at once. Public apps have no secret (409).
    #[oai(
        path = "/api/apps/:id/secret",
        method = "post",
        operation_id = "rotateAppSecret"
    )]
    async fn rotate_secret(
        &self,
        #[oai(scope = "ApiScope::AppsWrite")] caller: ApiCaller,
        /// The app's `client_id`.
        id: Path<String>,
    ) -> ApiResult<Done<AppSecret>> {
        let user = caller.user(&self.state, ApiScope::AppsWrite).await?;
        let row = owned_app(&self.state, &user, &id.0).await?;
        if row.client_type != ClientType::Confidential.as_str() {
            return Err(ApiError::problem(
                StatusCode::CONFLICT,
                "no-secret",
                "Conflict",
                "public apps have no secret to rotate",
            ));
        }
        if row.uses_keys() {
            return Err(ApiError::problem(
                StatusCode::CONFLICT,
                "no-secret",
                "Conflict",
                "this app authenticates with private_key_jwt and has no secret: rotate its keys instead",
            ));
        }
        let secret = clients::rotate_secret(&self.state.db, &row.id, self.state.clock.now())
            .await?
            .ok_or_else(|| ApiError::not_found("app"))?;
        self.state.client_cache.invalidate(&row.id);
        self.state
            .audit(Event::new("client.secret_rotated", Actor::User(&user.id)).subject(&row.id))
            .await;
        tracing::info!(client_id = %row.id, user_id = %user.id, "app secret rotated");
        Ok(Done::Ok(Json(AppSecret {
            client_id: row.id,
            client_secret: secret,
        })))
    }
}
