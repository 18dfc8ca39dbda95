//! The admin API (`/admin/*`): what an operator — or the product in front of
//! Latchkey — automates over HTTP: every client, the users, their grants and
//! sessions, and the answers to delegated login and consent challenges.
//!
//! Callers authenticate with an access token from this server issued by client
//! credentials to a client allowed `latchkey:admin` (only an operator gives a
//! client that scope). Errors are RFC 9457 problem documents as on `/api/*`.

// An `AdminError` is a finished response (a problem document and its headers);
// boxing it would only move the allocation, and handlers return it once.
#![allow(clippy::result_large_err)]

pub mod audit;
pub mod clients;
pub mod requests;
pub mod users;

use super::bearer::{ResourceRequest, TokenRefusal, challenge, resource_access};
use super::errors::Problem;
use super::payloads::ProblemJson;
use crate::oauth::claims::{AccessTokenClaims, family_of_jti};
use crate::oauth::scope::ADMIN_SCOPE;
use crate::services::audit::{Actor, Event};
use crate::services::clients::ClientError;
use crate::services::state::AppState;
use crate::store::StoreError;
use poem::Request;
use poem::http::StatusCode;
use poem_openapi::registry::{MetaOAuthFlow, MetaOAuthFlows, MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions, OAuthScopes};

/// The admin API's one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, OAuthScopes)]
pub enum AdminScope {
    /// Manage every client and user, and answer login and consent challenges
    #[oai(rename = "latchkey:admin")]
    Admin,
}

/// An admin API failure, answered as a problem document.
#[derive(ApiResponse)]
pub enum AdminError {
    /// The request is invalid (`urn:latchkey:problem:bad-request`,
    /// `…:invalid-client-metadata`, `…:invalid-redirect-uri`).
    #[oai(status = 400)]
    BadRequest(ProblemJson<Problem>),
    /// No valid admin token (`…:unauthorized`).
    #[oai(status = 401)]
    Unauthorized(
        ProblemJson<Problem>,
        /// A `Bearer` and a `DPoP` challenge with `scope="latchkey:admin"`, the
        /// error (`invalid_token`, `invalid_dpop_proof`, `use_dpop_nonce`) on the
        /// scheme that failed.
        #[oai(header = "WWW-Authenticate")]
        String,
        /// The DPoP server nonce to put in the next proof.
        #[oai(header = "DPoP-Nonce")]
        Option<String>,
    ),
    /// The token is not an admin token (`…:insufficient-scope`, `…:not-an-operator`),
    /// or the identity is disabled (`…:disabled`).
    #[oai(status = 403)]
    Forbidden(ProblemJson<Problem>),
    /// No such client, user or challenge (`…:not-found`).
    #[oai(status = 404)]
    NotFound(ProblemJson<Problem>),
    /// The operation conflicts with the current state: a challenge already
    /// answered, a username taken, a subject that is a local account, a public
    /// client's secret (`…:conflict`).
    #[oai(status = 409)]
    Conflict(ProblemJson<Problem>),
    /// The challenge has expired (`…:expired`).
    #[oai(status = 410)]
    Gone(ProblemJson<Problem>),
    /// The server failed (`…:internal`); nothing was changed.
    #[oai(status = 500)]
    ServerError(ProblemJson<Problem>),
}

impl AdminError {
    pub fn problem(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        let p = ProblemJson(Problem::new(status, slug, title, Some(detail.into())));
        match status {
            StatusCode::BAD_REQUEST => Self::BadRequest(p),
            StatusCode::UNAUTHORIZED => {
                Self::Unauthorized(p, format!(r#"Bearer scope="{ADMIN_SCOPE}""#), None)
            }
            StatusCode::FORBIDDEN => Self::Forbidden(p),
            StatusCode::NOT_FOUND => Self::NotFound(p),
            StatusCode::CONFLICT => Self::Conflict(p),
            StatusCode::GONE => Self::Gone(p),
            _ => Self::ServerError(p),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::problem(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad Request",
            detail,
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::problem(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not Found",
            format!("there is no {what} with this id"),
        )
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::problem(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "admin API request failed");
        Self::problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal Server Error",
            "the server could not complete the request",
        )
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        Self::internal(e)
    }
}

impl From<ClientError> for AdminError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Invalid(err) => {
                let (slug, title) = crate::http::api::metadata_problem(err.code);
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

impl From<crate::services::users::UserError> for AdminError {
    fn from(e: crate::services::users::UserError) -> Self {
        use crate::services::users::UserError;
        match e {
            UserError::Invalid(m) => Self::bad_request(m),
            UserError::Taken => Self::conflict("the username is already taken"),
            UserError::Store(e) => Self::internal(e),
            UserError::Hash(m) => Self::internal(m),
        }
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

/// The credentials of an admin API request, documented as the `LatchkeyAdmin`
/// scheme (OAuth client credentials with `latchkey:admin`).
pub struct AdminCaller {
    request: ResourceRequest,
}

impl<'a> ApiExtractor<'a> for AdminCaller {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            "LatchkeyAdmin",
            MetaSecurityScheme {
                ty: "oauth2",
                description: Some(
                    "An access token issued by this server through client credentials to a client an operator allowed `latchkey:admin` (`latchkey clients create --scope latchkey:admin --grant-type client_credentials`), sent as `Authorization: Bearer`. Tokens of people are refused, whatever their scope.",
                ),
                name: None,
                key_in: None,
                scheme: None,
                bearer_format: None,
                flows: Some(MetaOAuthFlows {
                    implicit: None,
                    password: None,
                    client_credentials: Some(MetaOAuthFlow {
                        authorization_url: None,
                        token_url: Some("/oauth/token"),
                        refresh_url: None,
                        scopes: <AdminScope as OAuthScopes>::meta(),
                    }),
                    authorization_code: None,
                }),
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec!["LatchkeyAdmin"]
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut poem::RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(Self {
            request: ResourceRequest::of(request),
        })
    }
}

/// An audit event `kind`, done with the admin token whose claims these are.
pub(super) fn by<'a>(claims: &'a AccessTokenClaims, kind: &'static str) -> Event<'a> {
    Event::new(kind, Actor::Admin(&claims.client_id))
}

impl AdminCaller {
    /// The admin token's claims, or why the request is refused.
    pub async fn check(&self, state: &AppState) -> AdminResult<AccessTokenClaims> {
        let access = resource_access(state, &self.request).await;
        let claims = match access.outcome {
            Ok(claims) => claims,
            Err(TokenRefusal::Internal(e)) => return Err(e.into()),
            Err(refusal) => {
                let detail = match &refusal {
                    TokenRefusal::Missing => "send an admin access token: Authorization: Bearer <token from client credentials with scope latchkey:admin>".to_owned(),
                    other => other.message(),
                };
                return Err(AdminError::Unauthorized(
                    ProblemJson(Problem::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized",
                        "Unauthorized",
                        Some(detail),
                    )),
                    challenge(state, &refusal, Some(ADMIN_SCOPE)),
                    access.nonce,
                ));
            }
        };
        if !claims.aud.contains(&state.settings.issuer) {
            return Err(AdminError::Unauthorized(
                ProblemJson(Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "Unauthorized",
                    Some(
                        "the access token is not for this server (its audience lacks the issuer)"
                            .to_owned(),
                    ),
                )),
                challenge(state, &TokenRefusal::Invalid(""), Some(ADMIN_SCOPE)),
                None,
            ));
        }
        // The admin API acts for the operator: a person's token never reaches it,
        // whatever scope it carries.
        if family_of_jti(&claims.jti).is_some() {
            return Err(AdminError::problem(
                StatusCode::FORBIDDEN,
                "not-an-operator",
                "Forbidden",
                "the admin API takes tokens from client credentials only, not a person's token",
            ));
        }
        if !claims.scope.split(' ').any(|s| s == ADMIN_SCOPE) {
            return Err(AdminError::problem(
                StatusCode::FORBIDDEN,
                "insufficient-scope",
                "Forbidden",
                format!("the access token lacks the scope `{ADMIN_SCOPE}`"),
            ));
        }
        // Taking the scope away from the client takes it from its live tokens too.
        let allowed = matches!(
            super::find_client(state, &claims.client_id).await?,
            Ok(Some(c)) if c.scopes.contains(ADMIN_SCOPE)
        );
        if !allowed {
            return Err(AdminError::problem(
                StatusCode::FORBIDDEN,
                "insufficient-scope",
                "Forbidden",
                format!("the token's client is no longer allowed `{ADMIN_SCOPE}`"),
            ));
        }
        Ok(claims)
    }
}

/// Page size bounds of the list operations.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

/// The page size asked for, checked.
pub fn page_size(limit: Option<u32>) -> AdminResult<i64> {
    match limit {
        None => Ok(i64::from(DEFAULT_PAGE)),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(i64::from(n)),
        Some(_) => Err(AdminError::bad_request(format!(
            "limit must be 1 to {MAX_PAGE}"
        ))),
    }
}

/// Splits one row more than a page into the page and the cursor of the next one.
pub fn paged<T>(
    mut rows: Vec<T>,
    limit: i64,
    id: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(id);
        (rows, next)
    } else {
        (rows, None)
    }
}
