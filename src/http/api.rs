//! The management API: `/api/apps` (the signed-in user's OAuth applications) and
//! `/api/grants` (the applications they have authorized). Callers authenticate with
//! a bearer access token from this server carrying the operation's scope, or with the
//! browser session cookie plus the `X-CSRF-Token` header on writes. Errors are RFC
//! 9457 problem documents with a stable `type`.

use super::ApiTags;
use super::bearer::active_access_token;
use super::errors::Problem;
use super::payloads::ProblemJson;
use super::token::TokenGrantType;
use crate::oauth::ErrorCode;
use crate::oauth::claims::family_of_jti;
use crate::oauth::registration::ClientMetadata;
use crate::oauth::types::{ClientType, GrantType};
use crate::services::audit::{Actor, Event};
use crate::services::clients::{self, ClientError, Origin};
use crate::services::state::AppState;
use crate::store::models::{ClientRow, UserRow};
use crate::store::{self, StoreError};
use crate::web::session;
use poem::Request;
use poem::http::StatusCode;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaOAuthFlow, MetaOAuthFlows, MetaSecurityScheme, Registry};
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ApiResponse, Enum, ExtractParamOptions, OAuthScopes, Object,
    OpenApi,
};

/// Scopes of the management API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, OAuthScopes)]
pub enum ApiScope {
    /// See the OAuth applications you own
    #[oai(rename = "apps:read")]
    AppsRead,
    /// Create, change and delete your OAuth applications
    #[oai(rename = "apps:write")]
    AppsWrite,
    /// See which applications you have authorized
    #[oai(rename = "grants:read")]
    GrantsRead,
    /// Withdraw access you gave to applications
    #[oai(rename = "grants:write")]
    GrantsWrite,
}

impl ApiScope {
    pub const ALL: [Self; 4] = [
        Self::AppsRead,
        Self::AppsWrite,
        Self::GrantsRead,
        Self::GrantsWrite,
    ];

    fn is_write(self) -> bool {
        matches!(self, Self::AppsWrite | Self::GrantsWrite)
    }
}

/// An API failure, answered as a problem document.
#[derive(ApiResponse)]
pub enum ApiError {
    /// The request is invalid: `urn:latchkey:problem:bad-request`,
    /// `…:invalid-client-metadata` or `…:invalid-redirect-uri`.
    #[oai(status = 400)]
    BadRequest(ProblemJson<Problem>),
    /// No valid credentials (`…:unauthorized`).
    #[oai(status = 401)]
    Unauthorized(
        ProblemJson<Problem>,
        /// `Bearer`, with `error="invalid_token"` when a token was sent.
        #[oai(header = "WWW-Authenticate")]
        String,
    ),
    /// The credentials do not allow this (`…:insufficient-scope`, `…:csrf`,
    /// `…:not-a-user`).
    #[oai(status = 403)]
    Forbidden(ProblemJson<Problem>),
    /// No such app or grant among the caller's (`…:not-found`).
    #[oai(status = 404)]
    NotFound(ProblemJson<Problem>),
    /// The operation does not apply to this app (`…:no-secret`).
    #[oai(status = 409)]
    Conflict(ProblemJson<Problem>),
    /// The server failed (`…:internal`); nothing was changed.
    #[oai(status = 500)]
    ServerError(ProblemJson<Problem>),
}

impl ApiError {
    fn problem(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        let p = ProblemJson(Problem::new(status, slug, title, Some(detail.into())));
        match status {
            StatusCode::BAD_REQUEST => Self::BadRequest(p),
            StatusCode::UNAUTHORIZED => Self::Unauthorized(p, "Bearer".to_owned()),
            StatusCode::FORBIDDEN => Self::Forbidden(p),
            StatusCode::NOT_FOUND => Self::NotFound(p),
            StatusCode::CONFLICT => Self::Conflict(p),
            _ => Self::ServerError(p),
        }
    }

    fn not_found(what: &str) -> Self {
        Self::problem(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not Found",
            format!("you have no {what} with this id"),
        )
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "management API request failed");
        Self::problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal Server Error",
            "the server could not complete the request",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::internal(e)
    }
}

/// The problem type and title of a refused client metadata error (shared with the
/// admin API).
pub fn metadata_problem(code: ErrorCode) -> (&'static str, &'static str) {
    if code == ErrorCode::InvalidRedirectUri {
        ("invalid-redirect-uri", "Invalid Redirect URI")
    } else {
        ("invalid-client-metadata", "Invalid Client Metadata")
    }
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Invalid(err) => {
                let (slug, title) = metadata_problem(err.code);
                Self::problem(
                    StatusCode::BAD_REQUEST,
                    slug,
                    title,
                    err.description.to_string(),
                )
            }
            ClientError::Store(e) => Self::internal(e),
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The credentials of a management API request, documented as the `LatchkeyOAuth`
/// scheme (bearer access tokens from this server; the session cookie with
/// `X-CSRF-Token` is accepted as well, see the tag description).
pub struct ApiCaller {
    authorization: Option<String>,
    session_cookie: Option<String>,
    csrf_header: Option<String>,
}

impl<'a> ApiExtractor<'a> for ApiCaller {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            "LatchkeyOAuth",
            MetaSecurityScheme {
                ty: "oauth2",
                description: Some(
                    "An access token issued by this server to a user (authorization code flow) with the operation's scope, sent as `Authorization: Bearer`.",
                ),
                name: None,
                key_in: None,
                scheme: None,
                bearer_format: None,
                flows: Some(MetaOAuthFlows {
                    implicit: None,
                    password: None,
                    client_credentials: None,
                    authorization_code: Some(MetaOAuthFlow {
                        authorization_url: Some("/oauth/authorize"),
                        token_url: Some("/oauth/token"),
                        refresh_url: Some("/oauth/token"),
                        scopes: <ApiScope as OAuthScopes>::meta(),
                    }),
                }),
                openid_connect_url: None,
            },
        );
        registry.create_security_scheme(
            "SessionCookie",
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some(
                    "The browser session cookie set at sign-in. Writes also need the `X-CSRF-Token` header, whose value is in the `lk_csrf` cookie.",
                ),
                name: Some(session::SESSION_COOKIE),
                key_in: Some("cookie"),
                scheme: None,
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec!["LatchkeyOAuth"]
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut poem::RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        Ok(Self {
            authorization: header("authorization"),
            session_cookie: session::cookie(request, session::SESSION_COOKIE).map(str::to_owned),
            csrf_header: header("x-csrf-token"),
        })
    }
}

impl ApiCaller {
    /// The user on whose behalf the request acts, if the credentials allow `scope`.
    pub async fn user(&self, state: &AppState, scope: ApiScope) -> ApiResult<UserRow> {
        let unauthorized = |detail: &str, challenge: String| {
            ApiError::Unauthorized(
                ProblemJson(Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "Unauthorized",
                    Some(detail.to_owned()),
                )),
                challenge,
            )
        };
        if let Some(header) = &self.authorization {
            let invalid = format!(r#"Bearer error="invalid_token", scope="{}""#, scope.name());
            let token = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty());
            let Some(token) = token else {
                return Err(unauthorized(
                    "the Authorization header must be `Bearer <access token>`",
                    invalid,
                ));
            };
            let Some(claims) = active_access_token(state, token).await? else {
                return Err(unauthorized(
                    "the access token is invalid, expired or revoked",
                    invalid,
                ));
            };
            if !claims.aud.contains(&state.settings.issuer) {
                return Err(unauthorized(
                    "the access token is not for this server's API (its audience lacks the issuer)",
                    invalid,
                ));
            }
            if family_of_jti(&claims.jti).is_none() {
                return Err(ApiError::problem(
                    StatusCode::FORBIDDEN,
                    "not-a-user",
                    "Forbidden",
                    "this API acts for a person: use a token from the authorization code flow, not client credentials",
                ));
            }
            if !claims.scope.split(' ').any(|s| s == scope.name()) {
                return Err(ApiError::problem(
                    StatusCode::FORBIDDEN,
                    "insufficient-scope",
                    "Forbidden",
                    format!("the access token lacks the scope `{}`", scope.name()),
                ));
            }
            return store::users::find_user(&state.db, &claims.sub)
                .await?
                .ok_or_else(|| unauthorized("the token's user no longer exists", invalid));
        }
        let signed_in = match &self.session_cookie {
            Some(value) => session::by_cookie(state, value).await?,
            None => None,
        };
        let Some(signed_in) = signed_in else {
            return Err(unauthorized(
                "send a bearer access token, or sign in",
                "Bearer".to_owned(),
            ));
        };
        if scope.is_write()
            && !session::csrf_matches(&signed_in.session.csrf_token, self.csrf_header.as_deref())
        {
            return Err(ApiError::problem(
                StatusCode::FORBIDDEN,
                "csrf",
                "Forbidden",
                "with the session cookie, writes need the X-CSRF-Token header (the value of the lk_csrf cookie)",
            ));
        }
        Ok(signed_in.user)
    }
}

/// Whether an app keeps a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum AppType {
    /// Runs on a server and authenticates with its secret.
    Confidential,
    /// Runs where a secret cannot be kept (browser, desktop, CLI); must use PKCE.
    Public,
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

#[derive(ApiResponse)]
pub enum Done<T: poem_openapi::types::ToJSON + Send + Sync> {
    /// Success.
    #[oai(status = 200)]
    Ok(Json<T>),
}

#[derive(ApiResponse)]
pub enum Created {
    /// The app, with its `client_secret` if it is confidential.
    #[oai(status = 201)]
    Created(Json<App>),
}

#[derive(ApiResponse)]
pub enum Deleted {
    /// Done.
    #[oai(status = 204)]
    NoContent,
}

fn grant_type_of(g: GrantType) -> TokenGrantType {
    match g {
        GrantType::AuthorizationCode => TokenGrantType::AuthorizationCode,
        GrantType::RefreshToken => TokenGrantType::RefreshToken,
        GrantType::ClientCredentials => TokenGrantType::ClientCredentials,
    }
}

fn grant_type_from(g: TokenGrantType) -> GrantType {
    match g {
        TokenGrantType::AuthorizationCode => GrantType::AuthorizationCode,
        TokenGrantType::RefreshToken => GrantType::RefreshToken,
        TokenGrantType::ClientCredentials => GrantType::ClientCredentials,
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
        created_at: row.created_at,
        updated_at: row.updated_at,
        client_secret,
    })
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
    Ok(ClientMetadata {
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
        public: body.client_type == Some(AppType::Public),
        application_type: None,
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
