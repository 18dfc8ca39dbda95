//! `POST /oauth/token` (RFC 6749 §3.2): client authentication, then the grant.

use super::errors::{OAuthErrorBody, oauth_status};
use super::payloads::{OAuthForm, body_error_to_oauth};
use super::{ApiTags, ClientAuthHeader};
use crate::app::AppState;
use crate::oauth::form::FormParams;
use crate::oauth::token::client_credentials;
use crate::oauth::types::GrantType;
use crate::oauth::{ErrorCode, OAuthError, client_auth, token};
use crate::store;
use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

/// The grant being exchanged. Grant types accepted at the token endpoint.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum TokenGrantType {
    /// RFC 6749 §4.4: a confidential client acting on its own behalf.
    ClientCredentials,
}

/// A token request (RFC 6749 §4.4.2), form-encoded.
#[derive(Debug, Clone, Object)]
pub struct TokenRequest {
    // No doc comment: the enum's own description travels with the `$ref`, and a
    // described `$ref` becomes an `allOf` that SDK generators choke on.
    pub grant_type: TokenGrantType,
    /// Space-separated scopes wanted; default: every scope the client is allowed.
    pub scope: Option<String>,
    /// RFC 8707 resource indicators: the APIs the token is for (becomes `aud`).
    /// Repeat the parameter for several.
    pub resource: Option<Vec<String>>,
    /// For `client_secret_post` (or public clients): the client identifier.
    pub client_id: Option<String>,
    /// For `client_secret_post`: the client secret. Prefer HTTP Basic.
    pub client_secret: Option<String>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Object)]
pub struct TokenSuccess {
    /// The access token: a JWT (RFC 9068) to send as `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The scopes granted, space-separated.
    pub scope: String,
}

const NO_STORE: &str = "no-store";

#[derive(ApiResponse)]
#[oai(bad_request_handler = "token_bad_request")]
pub enum TokenResponse {
    /// The token was issued.
    #[oai(status = 200)]
    Ok(
        Json<TokenSuccess>,
        /// Always `no-store`: tokens must not be cached.
        #[oai(header = "Cache-Control")]
        String,
        /// Always `no-cache`, for HTTP/1.0 caches.
        #[oai(header = "Pragma")]
        String,
    ),
    /// The request is malformed or the grant is refused (`invalid_request`,
    /// `invalid_grant`, `unauthorized_client`, `unsupported_grant_type`,
    /// `invalid_scope`, `invalid_target`).
    #[oai(status = 400)]
    BadRequest(
        Json<OAuthErrorBody>,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// Client authentication failed (`invalid_client`).
    #[oai(status = 401)]
    Unauthorized(
        Json<OAuthErrorBody>,
        /// The authentication scheme to use: `Basic`.
        #[oai(header = "WWW-Authenticate")]
        String,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// The request body is over the size limit (`invalid_request`).
    #[oai(status = 413)]
    TooLarge(
        Json<OAuthErrorBody>,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// The server failed (`server_error`); nothing was issued.
    #[oai(status = 500)]
    ServerError(
        Json<OAuthErrorBody>,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

impl TokenResponse {
    fn error(err: &OAuthError, status: StatusCode) -> Self {
        let body = Json(OAuthErrorBody::from(err));
        let no_store = NO_STORE.to_owned();
        match (err.code, status) {
            (_, StatusCode::PAYLOAD_TOO_LARGE) => Self::TooLarge(body, no_store),
            (ErrorCode::InvalidClient, _) => {
                Self::Unauthorized(body, r#"Basic realm="latchkey""#.to_owned(), no_store)
            }
            (ErrorCode::ServerError, _) => Self::ServerError(body, no_store),
            _ => Self::BadRequest(body, no_store),
        }
    }
}

impl From<OAuthError> for TokenResponse {
    fn from(err: OAuthError) -> Self {
        Self::error(&err, oauth_status(err.code))
    }
}

fn token_bad_request(err: poem::Error) -> TokenResponse {
    let (status, oauth) = body_error_to_oauth(&err);
    TokenResponse::error(&oauth, status)
}

/// What went wrong while issuing: the client's fault, or ours.
enum Failure {
    OAuth(OAuthError),
    Internal(String),
}

impl From<OAuthError> for Failure {
    fn from(e: OAuthError) -> Self {
        Self::OAuth(e)
    }
}

impl From<store::StoreError> for Failure {
    fn from(e: store::StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<crate::keys::KeyError> for Failure {
    fn from(e: crate::keys::KeyError) -> Self {
        Self::Internal(e.to_string())
    }
}

pub struct TokenApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::OAuth")]
impl TokenApi {
    /// Obtain an access token
    ///
    /// The OAuth 2.0 token endpoint. Confidential clients authenticate with HTTP
    /// Basic (`client_secret_basic`, preferred) or with `client_id` and
    /// `client_secret` in the body (`client_secret_post`). The access token is a JWT
    /// (RFC 9068) that resource servers verify with the keys at `jwks_uri`.
    #[oai(path = "/oauth/token", method = "post", operation_id = "issueToken")]
    async fn token(&self, auth: ClientAuthHeader, form: OAuthForm<TokenRequest>) -> TokenResponse {
        match self.issue(auth.0.as_deref(), &form.params).await {
            Ok(success) => {
                TokenResponse::Ok(Json(success), NO_STORE.to_owned(), "no-cache".to_owned())
            }
            Err(Failure::OAuth(e)) => e.into(),
            Err(Failure::Internal(detail)) => {
                tracing::error!(error = %detail, "token endpoint failed");
                OAuthError::server_error().into()
            }
        }
    }
}

impl TokenApi {
    async fn issue(
        &self,
        authorization: Option<&str>,
        form: &FormParams,
    ) -> Result<TokenSuccess, Failure> {
        let state = &self.state;
        let grant = token::grant_type(form)?;
        let credentials = client_auth::extract(authorization, form)?;
        let row = store::clients::find_client(&state.db, credentials.client_id().as_str()).await?;
        let registered = row.map(|r| r.to_registered()).transpose()?;
        let client = client_auth::authenticate(registered.as_ref(), &credentials)?;

        match grant {
            GrantType::ClientCredentials => {
                let request = client_credentials::validate(form)?;
                let now = state.clock.now();
                let claims = client_credentials::decide(
                    client,
                    &request,
                    &state.settings.scopes,
                    &state.policy,
                    now,
                    crate::random::url_token::<16>(),
                )?;
                let access_token = state.keys.active().sign_jwt(&claims)?;
                tracing::info!(client_id = %client.id, grant = "client_credentials", scope = %claims.scope, "issued access token");
                Ok(TokenSuccess {
                    access_token,
                    token_type: "Bearer".to_owned(),
                    expires_in: claims.exp - now,
                    scope: claims.scope,
                })
            }
            // `token::grant_type` only returns grants this build supports.
            other => Err(OAuthError::unsupported_grant_type(format!(
                "grant type `{other}` is not supported by this server"
            ))
            .into()),
        }
    }
}
