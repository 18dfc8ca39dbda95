//! The management API: `/api/apps` (the signed-in user's OAuth applications) and
//! `/api/grants` (the applications they have authorized). Callers authenticate with
//! a bearer access token from this server carrying the operation's scope, or with the
//! browser session cookie plus the `X-CSRF-Token` header on writes. Errors are RFC
//! 9457 problem documents with a stable `type`.

mod apps;
mod grants;

pub use apps::*;
pub use grants::*;

use super::ApiTags;
use super::bearer::{ResourceRequest, TokenRefusal, challenge, resource_access};
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
        /// A `Bearer` and a `DPoP` challenge, the error (`invalid_token`,
        /// `invalid_dpop_proof`, `use_dpop_nonce`) on the scheme that failed.
        #[oai(header = "WWW-Authenticate")]
        String,
        /// The DPoP server nonce to put in the next proof.
        #[oai(header = "DPoP-Nonce")]
        Option<String>,
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
            StatusCode::UNAUTHORIZED => Self::Unauthorized(p, "Bearer".to_owned(), None),
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
    request: ResourceRequest,
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
            request: ResourceRequest::of(request),
            session_cookie: session::cookie(request, session::SESSION_COOKIE).map(str::to_owned),
            csrf_header: header("x-csrf-token"),
        })
    }
}

impl ApiCaller {
    /// The user on whose behalf the request acts, if the credentials allow `scope`.
    pub async fn user(&self, state: &AppState, scope: ApiScope) -> ApiResult<UserRow> {
        let unauthorized = |detail: String, challenge: String, nonce: Option<String>| {
            ApiError::Unauthorized(
                ProblemJson(Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "Unauthorized",
                    Some(detail),
                )),
                challenge,
                nonce,
            )
        };
        let invalid = TokenRefusal::Invalid("");
        if self.request.headers.contains_key("authorization") {
            let access = resource_access(state, &self.request).await;
            let claims = match access.outcome {
                Ok(claims) => claims,
                Err(TokenRefusal::Internal(e)) => return Err(e.into()),
                Err(refusal) => {
                    return Err(unauthorized(
                        refusal.message(),
                        challenge(state, &refusal, Some(scope.name())),
                        access.nonce,
                    ));
                }
            };
            let invalid_challenge = challenge(state, &invalid, Some(scope.name()));
            if !claims.aud.contains(&state.settings.issuer) {
                return Err(unauthorized(
                    "the access token is not for this server's API (its audience lacks the issuer)"
                        .to_owned(),
                    invalid_challenge,
                    None,
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
                .ok_or_else(|| {
                    unauthorized(
                        "the token's user no longer exists".to_owned(),
                        invalid_challenge,
                        None,
                    )
                });
        }
        let signed_in = match &self.session_cookie {
            Some(value) => session::by_cookie(state, value).await?,
            None => None,
        };
        let Some(signed_in) = signed_in else {
            return Err(unauthorized(
                "send a bearer access token, or sign in".to_owned(),
                challenge(state, &TokenRefusal::Missing, Some(scope.name())),
                None,
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

#[derive(ApiResponse)]
pub enum Done<T: poem_openapi::types::ToJSON + Send + Sync> {
    /// Success.
    #[oai(status = 200)]
    Ok(Json<T>),
}

#[derive(ApiResponse)]
pub enum Deleted {
    /// Done.
    #[oai(status = 204)]
    NoContent,
}
