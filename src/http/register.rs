//! Dynamic client registration: `POST /oauth/register` (RFC 7591) and the client
//! configuration endpoint `/oauth/register/{client_id}` (RFC 7592), as MCP clients
//! use them. Policy `open` lets anyone register (rate-limited per address, and
//! never for `client_credentials`), `token` needs an initial access token, and
//! `disabled` turns the endpoint off.
//!
//! One file at ~650 lines: RFC 7591 and RFC 7592 share one request shape, one set of
//! checks and one error mapping; read apart they would have to be read together.

use super::ApiTags;
use super::api::PublicJwks;
use super::errors::OAuthErrorBody;
use crate::config::RegistrationPolicy;
use crate::oauth::client_auth::hash_secret;
use crate::oauth::registration::{self, ApplicationType, ClientMetadata};
use crate::oauth::types::{ClientType, GrantType};
use crate::oauth::{ErrorCode, OAuthError};
use crate::services::audit::{Actor, Event};
use crate::services::clients::{self, ClientError, Origin};
use crate::services::state::AppState;
use crate::store::models::ClientRow;
use crate::store::{self, StoreError};
use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions, Object, OpenApi,
};

/// Client metadata (RFC 7591 §2). Unknown fields are ignored.
#[derive(Debug, Clone, Object)]
pub struct ClientRegistration {
    /// Redirect URIs: https, or http on a loopback host (then any port matches).
    #[oai(skip_serializing_if_is_none)]
    pub redirect_uris: Option<Vec<String>>,
    /// Where the client may send people after signing them out (OpenID Connect
    /// RP-Initiated Logout §3.1); the same rules as redirect URIs, exact match.
    #[oai(skip_serializing_if_is_none)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// `none` (public client, PKCE), `client_secret_basic` (default),
    /// `client_secret_post`, or `private_key_jwt` (assertions signed with the
    /// client's own key; needs `jwks` or `jwks_uri`). `client_secret_jwt` is not
    /// supported.
    #[oai(skip_serializing_if_is_none)]
    pub token_endpoint_auth_method: Option<String>,
    // `private_key_jwt`: the client's public keys by value.
    // (No doc comment: a described `$ref` becomes `allOf`.)
    #[oai(skip_serializing_if_is_none)]
    pub jwks: Option<PublicJwks>,
    /// `private_key_jwt`: an https URL where the client publishes its JWK Set.
    #[oai(skip_serializing_if_is_none)]
    pub jwks_uri: Option<String>,
    /// `authorization_code`, `refresh_token`, `client_credentials` (the last only
    /// under the `token` policy). Default: `authorization_code` and `refresh_token`.
    #[oai(skip_serializing_if_is_none)]
    pub grant_types: Option<Vec<String>>,
    /// `code`, or empty for client_credentials-only clients.
    #[oai(skip_serializing_if_is_none)]
    pub response_types: Option<Vec<String>>,
    /// Shown to people on the consent page.
    #[oai(skip_serializing_if_is_none)]
    pub client_name: Option<String>,
    /// The client's home page.
    #[oai(skip_serializing_if_is_none)]
    pub client_uri: Option<String>,
    /// An image shown on the consent page.
    #[oai(skip_serializing_if_is_none)]
    pub logo_uri: Option<String>,
    /// Space-separated scopes the client may request. Default: every scope.
    #[oai(skip_serializing_if_is_none)]
    pub scope: Option<String>,
    /// RFC 7592 update: must equal the client's id when sent.
    #[oai(skip_serializing_if_is_none)]
    pub client_id: Option<String>,
    /// OpenID Connect Registration §2: `web` (default: `https` redirect URIs, and
    /// loopback `http`) or `native` (loopback `http`, private-use schemes such as
    /// `com.example.app:/callback`, and `https`).
    #[oai(skip_serializing_if_is_none)]
    pub application_type: Option<String>,
    /// RFC 9449 §5.2: `true` to be refused any token without a DPoP proof.
    /// Default `false`.
    #[oai(skip_serializing_if_is_none)]
    pub dpop_bound_access_tokens: Option<bool>,
    /// RFC 9126 §6: `true` to have every authorization request refused unless
    /// pushed to `/oauth/par` first. Default `false`.
    #[oai(skip_serializing_if_is_none)]
    pub require_pushed_authorization_requests: Option<bool>,
}

/// The registered client (RFC 7591 §3.2.1, RFC 7592 §3).
#[derive(Debug, Clone, Object)]
pub struct ClientInformation {
    /// The new client's identifier.
    pub client_id: String,
    /// The client secret (confidential clients), in the registration response only.
    #[oai(skip_serializing_if_is_none)]
    pub client_secret: Option<String>,
    /// Registration time, seconds since the epoch.
    pub client_id_issued_at: i64,
    /// 0: the secret does not expire (confidential clients only).
    #[oai(skip_serializing_if_is_none)]
    pub client_secret_expires_at: Option<i64>,
    /// Bearer token for `registration_client_uri`; in the registration and update
    /// responses only (only its hash is kept). An update issues a new one.
    #[oai(skip_serializing_if_is_none)]
    pub registration_access_token: Option<String>,
    /// Where to read, update or delete this registration (RFC 7592).
    pub registration_client_uri: String,
    /// Shown to people on the consent page.
    pub client_name: String,
    /// The registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The registered post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// The grants the client may use.
    pub grant_types: Vec<String>,
    /// `["code"]` for the code flow, else empty.
    pub response_types: Vec<String>,
    /// How the client authenticates at the token endpoint.
    pub token_endpoint_auth_method: String,
    // `private_key_jwt`: its public keys, when registered by value.
    // (No doc comment: a described `$ref` becomes `allOf`.)
    #[oai(skip_serializing_if_is_none)]
    pub jwks: Option<PublicJwks>,
    /// `private_key_jwt`: where it publishes its public keys.
    #[oai(skip_serializing_if_is_none)]
    pub jwks_uri: Option<String>,
    /// Space-separated scopes the client may request.
    pub scope: String,
    /// The client's home page.
    #[oai(skip_serializing_if_is_none)]
    pub client_uri: Option<String>,
    /// The client's logo.
    #[oai(skip_serializing_if_is_none)]
    pub logo_uri: Option<String>,
    /// `web` or `native`.
    pub application_type: String,
    /// Whether every token request must carry a DPoP proof (RFC 9449 §5.2).
    pub dpop_bound_access_tokens: bool,
    /// Whether authorization requests must be pushed first (RFC 9126 §6).
    pub require_pushed_authorization_requests: bool,
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "unreadable_metadata")]
pub enum RegisterResponse {
    /// Registered.
    #[oai(status = 201)]
    Created(
        Json<ClientInformation>,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// The current registration.
    #[oai(status = 200)]
    Ok(
        Json<ClientInformation>,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// Deleted.
    #[oai(status = 204)]
    Deleted,
    /// `invalid_redirect_uri` or `invalid_client_metadata`.
    #[oai(status = 400)]
    BadRequest(
        Json<OAuthErrorBody>,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// A required token is missing or wrong (`invalid_token`).
    #[oai(status = 401)]
    Unauthorized(
        Json<OAuthErrorBody>,
        /// `Bearer error="invalid_token"`.
        #[oai(header = "WWW-Authenticate")]
        String,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// Registration is disabled on this server (`access_denied`).
    #[oai(status = 403)]
    Forbidden(
        Json<OAuthErrorBody>,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// Too many registrations from this address (`rate_limited`).
    #[oai(status = 429)]
    TooManyRequests(
        Json<OAuthErrorBody>,
        /// Seconds until a request may succeed.
        #[oai(header = "Retry-After")]
        String,
    ),
    /// The server failed (`server_error`).
    #[oai(status = 500)]
    ServerError(
        Json<OAuthErrorBody>,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

fn unreadable_metadata(err: poem::Error) -> RegisterResponse {
    RegisterResponse::error(OAuthError::invalid_client_metadata(format!(
        "the request body is not valid client metadata JSON: {err}"
    )))
}

impl RegisterResponse {
    fn error(err: OAuthError) -> Self {
        let body = Json(OAuthErrorBody::from(&err));
        let no_store = "no-store".to_owned();
        match err.code {
            ErrorCode::InvalidToken => Self::Unauthorized(
                body,
                format!(
                    r#"Bearer error="invalid_token", error_description="{}""#,
                    err.description
                ),
                no_store,
            ),
            ErrorCode::AccessDenied => Self::Forbidden(body, no_store),
            ErrorCode::ServerError => Self::ServerError(body, no_store),
            _ => Self::BadRequest(body, no_store),
        }
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "client registration failed");
        Self::error(OAuthError::server_error())
    }
}

impl From<OAuthError> for RegisterResponse {
    fn from(e: OAuthError) -> Self {
        Self::error(e)
    }
}

impl From<StoreError> for RegisterResponse {
    fn from(e: StoreError) -> Self {
        Self::internal(e)
    }
}

impl From<ClientError> for RegisterResponse {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Invalid(err) => Self::error(err),
            ClientError::Store(e) => Self::internal(e),
        }
    }
}

/// A bearer token for registration: an initial access token (policy `token`) or a
/// registration access token (RFC 7592).
pub struct RegistrationBearer(Option<String>);

impl<'a> ApiExtractor<'a> for RegistrationBearer {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            "RegistrationToken",
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "POST /oauth/register: an initial access token (`lk_iat_…`, from `latchkey clients initial-token`) when the registration policy is `token`. /oauth/register/{client_id}: the registration access token (`lk_rat_…`) returned at registration.",
                ),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec!["RegistrationToken"]
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut poem::RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(Self(super::bearer::bearer_token(request)))
    }
}

/// The same extractor, optional: open registration needs no token.
pub struct OptionalRegistrationBearer(Option<String>);

impl<'a> ApiExtractor<'a> for OptionalRegistrationBearer {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        RegistrationBearer::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        RegistrationBearer::security_schemes()
    }

    fn has_security_fallback() -> bool {
        true
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut poem::RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(Self(super::bearer::bearer_token(request)))
    }
}

/// RFC 7591 metadata as the core's client metadata, plus the auth method.
fn to_metadata(
    body: ClientRegistration,
    policy: RegistrationPolicy,
) -> Result<(ClientMetadata, String), OAuthError> {
    let method = body
        .token_endpoint_auth_method
        .unwrap_or_else(|| "client_secret_basic".to_owned());
    let jwks = body.jwks.map(|set| serde_json::json!({ "keys": set.keys }));
    let keys = registration::keys_metadata(Some(&method), jwks, body.jwks_uri)?;
    let grant_types = match body.grant_types {
        None => Vec::new(),
        Some(list) => list
            .iter()
            .map(|g| {
                g.parse::<GrantType>().map_err(|_| {
                    OAuthError::invalid_client_metadata(format!(
                        "grant type `{}` is not supported (use authorization_code, refresh_token, client_credentials)",
                        g.escape_default()
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    if policy == RegistrationPolicy::Open && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(OAuthError::invalid_client_metadata(
            "client_credentials cannot be registered anonymously: ask the operator for an initial access token or an app",
        ));
    }
    let response_types = body
        .response_types
        .unwrap_or_else(|| vec!["code".to_owned()]);
    if let Some(bad) = response_types.iter().find(|r| *r != "code") {
        return Err(OAuthError::invalid_client_metadata(format!(
            "response type `{}` is not supported (only `code`)",
            bad.escape_default()
        )));
    }
    let code_flow = grant_types.is_empty() || grant_types.contains(&GrantType::AuthorizationCode);
    if response_types.is_empty() == code_flow {
        return Err(OAuthError::invalid_client_metadata(
            "response_types must be [\"code\"] exactly when grant_types includes authorization_code",
        ));
    }
    let name = body
        .client_name
        .or_else(|| {
            body.client_uri
                .as_deref()
                .and_then(|u| url::Url::parse(u).ok())
                .and_then(|u| u.host_str().map(str::to_owned))
        })
        .unwrap_or_else(|| "Unnamed application".to_owned());
    // OpenID Connect Registration §2 defaults to `web`, but MCP clients that omit
    // the member (Cursor among them) register private-use schemes: an omitted type
    // is inferred from the redirect URIs (`registration::validate`), as the MCP
    // SDKs infer it on their side.
    let application_type = body
        .application_type
        .as_deref()
        .map(ApplicationType::parse)
        .transpose()?;
    let meta = ClientMetadata {
        name,
        description: String::new(),
        website: body.client_uri,
        icon_url: body.logo_uri,
        redirect_uris: body.redirect_uris.unwrap_or_default(),
        post_logout_redirect_uris: body.post_logout_redirect_uris.unwrap_or_default(),
        grant_types,
        scope: body.scope,
        public: method == "none",
        application_type,
        keys,
        dpop_bound_access_tokens: body.dpop_bound_access_tokens.unwrap_or(false),
        require_pushed_authorization_requests: body
            .require_pushed_authorization_requests
            .unwrap_or(false),
    };
    Ok((meta, method))
}

fn information(
    state: &AppState,
    row: &ClientRow,
    client_secret: Option<String>,
    registration_access_token: Option<String>,
) -> Result<ClientInformation, StoreError> {
    let meta = clients::metadata_of(row)?;
    let confidential = row.client_type == ClientType::Confidential.as_str();
    let grant_types: Vec<String> = meta
        .grant_types
        .iter()
        .map(|g| g.as_str().to_owned())
        .collect();
    let response_types = if meta.grant_types.contains(&GrantType::AuthorizationCode) {
        vec!["code".to_owned()]
    } else {
        Vec::new()
    };
    let method = row.token_endpoint_auth_method.clone().unwrap_or_else(|| {
        if confidential {
            "client_secret_basic"
        } else {
            "none"
        }
        .to_owned()
    });
    let application_type = meta
        .application_type
        .unwrap_or_else(|| registration::inferred_application_type(&meta.redirect_uris))
        .as_str()
        .to_owned();
    Ok(ClientInformation {
        jwks: PublicJwks::registered(meta.keys),
        jwks_uri: row.jwks_uri.clone(),
        application_type,
        registration_client_uri: format!("{}/oauth/register/{}", state.settings.issuer, row.id),
        client_id: row.id.clone(),
        client_secret,
        client_id_issued_at: row.created_at,
        client_secret_expires_at: confidential.then_some(0),
        registration_access_token,
        client_name: meta.name,
        redirect_uris: meta.redirect_uris,
        post_logout_redirect_uris: meta.post_logout_redirect_uris,
        grant_types,
        response_types,
        token_endpoint_auth_method: method,
        scope: row.scopes.clone(),
        client_uri: meta.website,
        logo_uri: meta.icon_url,
        dpop_bound_access_tokens: row.dpop_bound_access_tokens,
        require_pushed_authorization_requests: row.require_pushed_authorization_requests,
    })
}

fn invalid_token(detail: &'static str) -> RegisterResponse {
    RegisterResponse::error(OAuthError::new(ErrorCode::InvalidToken, detail))
}

pub struct RegistrationApi {
    pub state: AppState,
}

/// A handler's outcome: the error side is a finished response too, so `?` works on
/// store errors, client errors and protocol errors alike.
type Outcome = Result<RegisterResponse, RegisterResponse>;

fn settle(outcome: Outcome) -> RegisterResponse {
    outcome.unwrap_or_else(|resp| resp)
}

#[OpenApi(tag = "ApiTags::OAuth")]
impl RegistrationApi {
    /// Register a client
    ///
    /// RFC 7591 dynamic client registration. `token_endpoint_auth_method: none`
    /// registers a public client (PKCE required); loopback redirect URIs such as
    /// `http://127.0.0.1/callback` match any port (RFC 8252). Keep the
    /// `registration_access_token`: it is the only way to read, change or delete the
    /// registration later.
    #[oai(
        path = "/oauth/register",
        method = "post",
        operation_id = "registerClient"
    )]
    async fn register(
        &self,
        token: OptionalRegistrationBearer,
        body: Json<ClientRegistration>,
    ) -> RegisterResponse {
        settle(self.do_register(token.0, body.0).await)
    }

    /// Read a client registration
    ///
    /// RFC 7592 §2.1, with the registration access token.
    #[oai(
        path = "/oauth/register/:client_id",
        method = "get",
        operation_id = "getClientRegistration"
    )]
    async fn read(&self, token: RegistrationBearer, client_id: Path<String>) -> RegisterResponse {
        settle(self.do_read(&token, &client_id.0).await)
    }

    /// Update a client registration
    ///
    /// RFC 7592 §2.2: the body replaces the metadata (fields left out take their
    /// defaults). The client type cannot change. A new registration access token is
    /// returned; the old one stops working.
    #[oai(
        path = "/oauth/register/:client_id",
        method = "put",
        operation_id = "updateClientRegistration"
    )]
    async fn update(
        &self,
        token: RegistrationBearer,
        client_id: Path<String>,
        body: Json<ClientRegistration>,
    ) -> RegisterResponse {
        settle(self.do_update(&token, &client_id.0, body.0).await)
    }

    /// Delete a client registration
    ///
    /// RFC 7592 §2.3. The client's tokens die with it.
    #[oai(
        path = "/oauth/register/:client_id",
        method = "delete",
        operation_id = "deleteClientRegistration"
    )]
    async fn delete(&self, token: RegistrationBearer, client_id: Path<String>) -> RegisterResponse {
        settle(self.do_delete(&token, &client_id.0).await)
    }
}

impl RegistrationApi {
    async fn do_register(&self, token: Option<String>, body: ClientRegistration) -> Outcome {
        let state = &self.state;
        let policy = state.settings.registration;
        match policy {
            RegistrationPolicy::Disabled => {
                return Err(OAuthError::new(
                    ErrorCode::AccessDenied,
                    "dynamic client registration is disabled on this server",
                )
                .into());
            }
            RegistrationPolicy::Token => {
                let Some(presented) = token else {
                    return Err(invalid_token(
                        "registration on this server needs an initial access token",
                    ));
                };
                let hash = hash_secret(&presented).0;
                if !store::clients::initial_token_valid(&state.db, &hash, state.clock.now()).await?
                {
                    return Err(invalid_token(
                        "the initial access token is invalid or expired",
                    ));
                }
            }
            RegistrationPolicy::Open => {}
        }
        let (meta, method) = to_metadata(body, policy)?;
        let origin = Origin {
            owner_id: None,
            token_endpoint_auth_method: Some(method),
            registration_token: true,
            operator: false,
        };
        let created = clients::create_client(
            &state.db,
            &state.settings.scopes,
            meta,
            origin,
            state.clock.now(),
        )
        .await?;
        self.state
            .audit(Event::new("client.created", Actor::Registration).subject(&created.row.id))
            .await;
        tracing::info!(client_id = %created.row.id, "client registered (RFC 7591)");
        let info = information(
            state,
            &created.row,
            created.client_secret,
            created.registration_access_token,
        )?;
        Ok(RegisterResponse::Created(Json(info), "no-store".to_owned()))
    }

    async fn do_read(&self, token: &RegistrationBearer, client_id: &str) -> Outcome {
        let row = self.authorized(token, client_id).await?;
        let info = information(&self.state, &row, None, None)?;
        Ok(RegisterResponse::Ok(Json(info), "no-store".to_owned()))
    }

    async fn do_update(
        &self,
        token: &RegistrationBearer,
        client_id: &str,
        body: ClientRegistration,
    ) -> Outcome {
        let state = &self.state;
        let row = self.authorized(token, client_id).await?;
        if body.client_id.as_deref().is_some_and(|id| id != row.id) {
            return Err(OAuthError::invalid_client_metadata(
                "client_id in the body does not match the registration",
            )
            .into());
        }
        let (meta, method) = to_metadata(body, state.settings.registration)?;
        let updated = clients::update_client(
            &state.db,
            &state.settings.scopes,
            &row,
            meta,
            Some(method),
            false,
            state.clock.now(),
        )
        .await?;
        let (new_token, hash) = clients::new_token(clients::REGISTRATION_TOKEN_PREFIX);
        store::clients::set_registration_token(&state.db, &row.id, &hash).await?;
        state.client_cache.invalidate(&row.id);
        self.state
            .audit(Event::new("client.updated", Actor::Registration).subject(&row.id))
            .await;
        tracing::info!(client_id = %row.id, "client registration updated (RFC 7592)");
        let info = information(state, &updated, None, Some(new_token))?;
        Ok(RegisterResponse::Ok(Json(info), "no-store".to_owned()))
    }

    async fn do_delete(&self, token: &RegistrationBearer, client_id: &str) -> Outcome {
        let row = self.authorized(token, client_id).await?;
        store::clients::delete_client(&self.state.db, &row.id).await?;
        self.state.client_cache.invalidate(&row.id);
        self.state
            .audit(Event::new("client.deleted", Actor::Registration).subject(&row.id))
            .await;
        tracing::info!(client_id = %row.id, "client registration deleted (RFC 7592)");
        Ok(RegisterResponse::Deleted)
    }

    /// The client whose registration access token was presented. Unknown client and
    /// wrong token answer alike.
    async fn authorized(
        &self,
        token: &RegistrationBearer,
        client_id: &str,
    ) -> Result<ClientRow, RegisterResponse> {
        let refused = || invalid_token("the registration access token is invalid for this client");
        let presented = token.0.as_deref().ok_or_else(refused)?;
        let row = store::clients::find_client(&self.state.db, client_id)
            .await?
            .ok_or_else(refused)?;
        let stored = row.registration_token_hash.as_deref().ok_or_else(refused)?;
        let presented = hash_secret(presented).0;
        if aws_lc_rs::constant_time::verify_slices_are_equal(stored, &presented).is_err() {
            return Err(refused());
        }
        Ok(row)
    }
}
