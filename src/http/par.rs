//! `POST /oauth/par` (RFC 9126): a client pushes its authorization request
//! straight to the server, authenticated as at the token endpoint, and gets a
//! short-lived, single-use `request_uri` to send the browser with instead — so the
//! request's parameters never travel, and cannot be changed, in the front channel.

use super::errors::{Failure, OAuthErrorBody, OAuthResponse};
use super::payloads::OAuthForm;
use super::{ApiTags, ClientAuthHeader};
use crate::oauth::form::FormParams;
use crate::oauth::{ErrorCode, OAuthError, authorize, par};
use crate::random::url_token;
use crate::services::state::AppState;
use crate::store;
use crate::store::models::PushedRow;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

/// A pushed authorization request (RFC 9126 §2.1): the parameters of an
/// authorization request (see `GET /oauth/authorize`), form-encoded, with the
/// client's authentication as at the token endpoint.
#[derive(Debug, Clone, Object)]
pub struct PushedAuthorizationRequest {
    /// `code`.
    pub response_type: String,
    /// The client; for HTTP Basic it may be left out.
    #[oai(skip_serializing_if_is_none)]
    pub client_id: Option<String>,
    /// One of the client's registered redirect URIs.
    #[oai(skip_serializing_if_is_none)]
    pub redirect_uri: Option<String>,
    /// Space-separated scopes.
    #[oai(skip_serializing_if_is_none)]
    pub scope: Option<String>,
    /// Returned unchanged with the code.
    #[oai(skip_serializing_if_is_none)]
    pub state: Option<String>,
    /// PKCE (RFC 7636): the S256 challenge.
    #[oai(skip_serializing_if_is_none)]
    pub code_challenge: Option<String>,
    /// `S256` (plain is refused).
    #[oai(skip_serializing_if_is_none)]
    pub code_challenge_method: Option<String>,
    /// RFC 8707 resource indicators; repeat for several.
    #[oai(skip_serializing_if_is_none)]
    pub resource: Option<Vec<String>>,
    /// OpenID Connect: echoed in the ID token.
    #[oai(skip_serializing_if_is_none)]
    pub nonce: Option<String>,
    /// OpenID Connect: `none`, `login`, `consent`, `select_account`.
    #[oai(skip_serializing_if_is_none)]
    pub prompt: Option<String>,
    /// OpenID Connect: the longest time since sign-in, seconds.
    #[oai(skip_serializing_if_is_none)]
    pub max_age: Option<String>,
    /// Pre-fills the username on the sign-in page.
    #[oai(skip_serializing_if_is_none)]
    pub login_hint: Option<String>,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is bound to. A DPoP
    /// proof sent with this request binds the code to its key when this is absent.
    #[oai(skip_serializing_if_is_none)]
    pub dpop_jkt: Option<String>,
    /// For `client_secret_post`: the client secret.
    #[oai(skip_serializing_if_is_none)]
    pub client_secret: Option<String>,
    /// For `private_key_jwt`:
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    #[oai(skip_serializing_if_is_none)]
    pub client_assertion_type: Option<String>,
    /// For `private_key_jwt`: a client assertion (see the token endpoint).
    #[oai(skip_serializing_if_is_none)]
    pub client_assertion: Option<String>,
}

/// The pushed request's handle (RFC 9126 §2.2).
#[derive(Debug, Clone, Object)]
pub struct PushedRequestUri {
    /// Send the browser to `/oauth/authorize?client_id=…&request_uri=…` with it.
    /// Single use: spent when the code is issued.
    pub request_uri: String,
    /// Seconds it can be used.
    pub expires_in: i64,
}

/// The answer of `/oauth/par`: 201 with the `request_uri`, or an RFC 6749 §5.2
/// error as at the token endpoint.
#[derive(ApiResponse)]
pub enum PushResponse {
    /// The request is stored.
    #[oai(status = 201)]
    Created(
        Json<PushedRequestUri>,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// The request is malformed or refused (`invalid_request`, `invalid_scope`,
    /// `invalid_redirect_uri`, `unauthorized_client`, `request_not_supported`,
    /// `invalid_dpop_proof`, `use_dpop_nonce`).
    #[oai(status = 400)]
    BadRequest(
        Json<OAuthErrorBody>,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
        /// The DPoP server nonce to put in the next proof.
        #[oai(header = "DPoP-Nonce")]
        Option<String>,
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
    /// Too many requests from this address or client.
    #[oai(status = 429)]
    TooManyRequests(
        Json<OAuthErrorBody>,
        /// Seconds until a request may succeed.
        #[oai(header = "Retry-After")]
        String,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// The server failed; nothing was stored.
    #[oai(status = 500)]
    ServerError(
        Json<OAuthErrorBody>,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

impl PushResponse {
    fn from_outcome(outcome: Result<PushedRequestUri, Failure>, nonce: Option<String>) -> Self {
        let failed = match outcome {
            Ok(body) => return Self::Created(Json(body), "no-store".to_owned()),
            Err(e) => {
                OAuthResponse::<Json<PushedRequestUri>>::from_outcome("pushed request", Err(e))
            }
        };
        // The same errors as the token endpoint, re-shaped for this one's statuses.
        match failed {
            OAuthResponse::Unauthorized(body, challenge, no_store) => {
                Self::Unauthorized(body, challenge, no_store)
            }
            OAuthResponse::TooManyRequests(body, retry, no_store) => {
                Self::TooManyRequests(body, retry, no_store)
            }
            OAuthResponse::ServerError(body, no_store) => Self::ServerError(body, no_store),
            OAuthResponse::BadRequest(body, no_store, _)
            | OAuthResponse::TooLarge(body, no_store) => Self::BadRequest(body, no_store, nonce),
            OAuthResponse::Ok(..) => Self::ServerError(
                Json(OAuthErrorBody::from(&OAuthError::server_error())),
                "no-store".to_owned(),
            ),
        }
    }
}

pub struct ParApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::OAuth")]
impl ParApi {
    /// Push an authorization request
    ///
    /// RFC 9126. The parameters of an authorization request, checked exactly as
    /// `/oauth/authorize` checks them, with the client authenticated as at the
    /// token endpoint (public clients send `client_id`; they gain integrity, not
    /// authentication). Answers `201` with a `request_uri` valid for 60 seconds and
    /// for one authorization; the browser then goes to `/oauth/authorize` with
    /// `client_id` and `request_uri` only.
    #[oai(
        path = "/oauth/par",
        method = "post",
        operation_id = "pushAuthorizationRequest"
    )]
    async fn push(
        &self,
        req: &poem::Request,
        auth: ClientAuthHeader,
        form: OAuthForm<PushedAuthorizationRequest>,
    ) -> PushResponse {
        let state = &self.state;
        let address = super::limits::caller_address(state, req);
        let proof = super::dpop::proof(state, req.headers(), "POST", "/oauth/par", None).await;
        let nonce = super::dpop::nonce_header(state, &proof);
        let outcome = match proof {
            Ok(proof) => {
                let jkt = proof.as_ref().map(|p| p.jkt.as_str());
                self.store(auth.0.as_deref(), address, &form.params, jkt)
                    .await
            }
            Err(e) => Err(e.into()),
        };
        PushResponse::from_outcome(outcome, nonce)
    }
}

impl ParApi {
    async fn store(
        &self,
        authorization: Option<&str>,
        address: Option<std::net::IpAddr>,
        form: &FormParams,
        jkt: Option<&str>,
    ) -> Result<PushedRequestUri, Failure> {
        let state = &self.state;
        par::check_pushed(form)?;
        let client = super::authenticate_client(state, authorization, address, form).await?;
        state
            .limits
            .token
            .check(&crate::services::limits::client_key(client.id.as_str()))?;
        if let Some(id) = form.single("client_id")?
            && id != client.id.as_str()
        {
            return Err(
                OAuthError::invalid_request("client_id is not the authenticated client").into(),
            );
        }
        // What is kept, checked by every rule of the authorization endpoint now
        // rather than in the browser.
        let stored = par::stored_form(form, client.id.as_str(), jkt);
        let pushed = FormParams::parse(stored.as_bytes())?;
        let redirect = authorize::resolve_redirect(&pushed, Some(&client))
            .map_err(|authorize::NoRedirect(_, message)| OAuthError::invalid_request(message))?;
        let request = authorize::validate(
            &pushed,
            &client,
            redirect,
            &state.settings.scopes,
            &state.policy,
        )?;
        if state.settings.profile.fapi2 {
            authorize::require_pkce(&request)?;
        }
        if let (Some(bound), Some(proof)) = (request.dpop_jkt.as_deref(), jkt)
            && bound != proof
        {
            return Err(OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "dpop_jkt names another key than this request's DPoP proof",
            )
            .into());
        }
        let request_uri = format!("{}{}", par::REQUEST_URI_PREFIX, url_token::<32>());
        let now = state.clock.now();
        store::pushed::insert(
            &state.db,
            &PushedRow {
                request_uri_hash: par::request_uri_hash(&request_uri).to_vec(),
                client_id: client.id.to_string(),
                params: stored,
                created_at: now,
                expires_at: now + par::LIFETIME,
                used_at: None,
            },
        )
        .await?;
        tracing::info!(client_id = %client.id, "authorization request pushed");
        Ok(PushedRequestUri {
            request_uri,
            expires_in: par::LIFETIME,
        })
    }
}
