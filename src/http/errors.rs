//! Error bodies on the wire: RFC 6749 §5.2 for OAuth endpoints, RFC 9457 problem
//! details for everything else, and the catch-all that gives every failure a JSON body.

use super::payloads::{MAX_BODY_BYTES, ProblemJson};
use crate::oauth::{ErrorCode, OAuthError};
use poem::http::{StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::Object;
use poem_openapi::types::ToJSON;

/// An OAuth error response (RFC 6749 §5.2).
#[derive(Debug, Clone, Object)]
pub struct OAuthErrorBody {
    /// The error code, e.g. `invalid_request`, `invalid_client`, `invalid_scope`.
    pub error: String,
    /// What went wrong, for the developer reading it.
    pub error_description: String,
}

impl From<&OAuthError> for OAuthErrorBody {
    fn from(e: &OAuthError) -> Self {
        Self {
            error: e.code.as_str().to_owned(),
            error_description: e.description.to_string(),
        }
    }
}

/// A problem details document (RFC 9457).
#[derive(Debug, Clone, Object)]
pub struct Problem {
    /// A URI naming the problem type; stable, safe to compare.
    #[oai(rename = "type")]
    pub type_: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
}

/// Problem type URIs: stable names to compare, not pages to fetch.
pub fn problem_type(slug: &str) -> String {
    format!("urn:latchkey:problem:{slug}")
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: Option<String>) -> Self {
        Self {
            type_: problem_type(slug),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
        }
    }
}

/// The HTTP status for an OAuth error at the token, revocation or introspection
/// endpoint (RFC 6749 §5.2).
pub fn oauth_status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The response for an error nobody handled more specifically: unknown path, wrong
/// method, oversized body, or an error from a poem extractor. OAuth paths answer in
/// RFC 6749 shape so OAuth client libraries can read it; other paths with a problem.
pub fn fallback_error_response(path: &str, err: &poem::Error) -> Response {
    let status = err.status();
    let (slug, title, detail) = match status {
        StatusCode::NOT_FOUND => ("not-found", "Not Found", format!("no resource at {path}")),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "Method Not Allowed",
            format!("{path} does not support this HTTP method"),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload-too-large",
            "Payload Too Large",
            format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
        ),
        StatusCode::URI_TOO_LONG => (
            "uri-too-long",
            "URI Too Long",
            format!(
                "the path and query are limited to {} bytes; send long parameters in a POST body",
                crate::config::listener::MAX_URI_BYTES
            ),
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "header-fields-too-large",
            "Request Header Fields Too Large",
            format!(
                "request headers are limited to {} fields and {} bytes in all",
                crate::config::listener::MAX_HEADERS,
                crate::config::listener::MAX_HEADER_BYTES
            ),
        ),
        s if s.is_server_error() => (
            "internal",
            "Internal Server Error",
            "the server could not complete the request".to_owned(),
        ),
        _ => ("bad-request", "Bad Request", err.to_string()),
    };
    if path.starts_with("/oauth/") && status != StatusCode::NOT_FOUND {
        let code = if status.is_server_error() {
            ErrorCode::ServerError
        } else {
            ErrorCode::InvalidRequest
        };
        let body = OAuthErrorBody {
            error: code.as_str().to_owned(),
            error_description: detail,
        };
        return Response::builder()
            .status(status)
            .content_type("application/json")
            .header(header::CACHE_CONTROL, "no-store")
            .body(body.to_json_string());
    }
    let mut resp = ProblemJson(Problem::new(status, slug, title, Some(detail))).into_response();
    resp.set_status(status);
    resp
}

/// Gives every error a JSON body, refuses oversized bodies before reading them, and
/// logs server errors once.
pub async fn shape_errors<E: Endpoint>(ep: E, req: Request) -> poem::Result<Response> {
    let path = req.uri().path().to_owned();
    // Refuse early: a declared length over the limit is never read.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        let err = poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE);
        let mut resp = fallback_error_response(&path, &err);
        // The unread body stays on the connection: tell the client not to reuse it.
        resp.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        return Ok(resp);
    }
    match ep.call(req).await {
        Ok(resp) => Ok(resp.into_response()),
        // A handler's own error response (e.g. a problem document): keep it.
        Err(err) if err.is_from_response() => Ok(err.into_response()),
        Err(err) => {
            if err.status().is_server_error() {
                tracing::error!(path = %path, error = %err, "request failed");
            }
            Ok(fallback_error_response(&path, &err))
        }
    }
}

/// The response of an OAuth form endpoint (token, revocation, introspection):
/// success `T`, or an RFC 6749 §5.2 error. Every variant says `Cache-Control:
/// no-store` (RFC 6749 §5.1: token responses must not be cached).
#[derive(poem_openapi::ApiResponse)]
#[oai(bad_request_handler = "oauth_bad_request")]
pub enum OAuthResponse<T: poem_openapi::payload::Payload + IntoResponse + Send> {
    /// Success: see the operation's description.
    #[oai(status = 200)]
    Ok(
        T,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
        /// Always `no-cache`, for HTTP/1.0 caches.
        #[oai(header = "Pragma")]
        String,
        /// A new DPoP server nonce, when the one used is about to expire (RFC 9449 §8).
        #[oai(header = "DPoP-Nonce")]
        Option<String>,
    ),
    /// The request is malformed or refused: `invalid_request`, `invalid_grant`,
    /// `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`,
    /// `invalid_target`, `invalid_dpop_proof`, or `use_dpop_nonce` (then with a
    /// `DPoP-Nonce` to retry with).
    #[oai(status = 400)]
    BadRequest(
        poem_openapi::payload::Json<OAuthErrorBody>,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
        /// The DPoP server nonce to put in the next proof (RFC 9449 §8).
        #[oai(header = "DPoP-Nonce")]
        Option<String>,
    ),
    /// Client authentication failed (`invalid_client`).
    #[oai(status = 401)]
    Unauthorized(
        poem_openapi::payload::Json<OAuthErrorBody>,
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
        poem_openapi::payload::Json<OAuthErrorBody>,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// Too many requests from this address or client (`rate_limited`).
    #[oai(status = 429)]
    TooManyRequests(
        poem_openapi::payload::Json<OAuthErrorBody>,
        /// Seconds until a request may succeed.
        #[oai(header = "Retry-After")]
        String,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// The server failed (`server_error`); nothing was changed or issued.
    #[oai(status = 500)]
    ServerError(
        poem_openapi::payload::Json<OAuthErrorBody>,
        /// Always `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

/// What went wrong at an OAuth endpoint: the client's fault (an RFC 6749 error), or
/// ours (logged once, answered as `server_error` with no details).
#[derive(Debug)]
pub enum Failure {
    OAuth(OAuthError),
    /// Over a rate limit: retry after this many seconds.
    Limited(u64),
    Internal(String),
}

impl From<crate::services::limits::RetryAfter> for Failure {
    fn from(r: crate::services::limits::RetryAfter) -> Self {
        Self::Limited(r.seconds())
    }
}

/// The error code of a rate-limited OAuth request (not an RFC 6749 code: none fits).
pub const RATE_LIMITED: &str = "rate_limited";

/// What a rate-limited caller reads.
pub fn rate_limited_message(retry_after: u64) -> String {
    format!("too many requests; retry after {retry_after} seconds")
}

/// The 429 for a request refused by a rate limit before any handler ran: OAuth shape
/// under `/oauth/`, a problem document elsewhere; always with `Retry-After`.
pub fn rate_limited_response(path: &str, retry_after: u64) -> Response {
    let detail = rate_limited_message(retry_after);
    let resp = if path.starts_with("/oauth/") {
        let body = OAuthErrorBody {
            error: RATE_LIMITED.to_owned(),
            error_description: detail,
        };
        Response::builder()
            .content_type("application/json")
            .body(body.to_json_string())
    } else {
        ProblemJson(Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too Many Requests",
            Some(detail),
        ))
        .into_response()
    };
    retry_later(resp, StatusCode::TOO_MANY_REQUESTS, retry_after)
}

/// `resp` as a "try again in `seconds`" answer: `status`, `Retry-After` and
/// `no-store` (rate limits, database outages).
pub fn retry_later(mut resp: Response, status: StatusCode, seconds: u64) -> Response {
    resp.set_status(status);
    let h = resp.headers_mut();
    h.insert(header::RETRY_AFTER, seconds.into());
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}

impl From<OAuthError> for Failure {
    fn from(e: OAuthError) -> Self {
        Self::OAuth(e)
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<super::dpop::ProofFailure> for Failure {
    fn from(e: super::dpop::ProofFailure) -> Self {
        match e {
            super::dpop::ProofFailure::Refused(r) => Self::OAuth(dpop_error(r)),
            super::dpop::ProofFailure::Store(e) => Self::Internal(e.to_string()),
        }
    }
}

/// The OAuth error for a refused proof: `use_dpop_nonce` when only the nonce was
/// wrong, else `invalid_dpop_proof` (RFC 9449 §5, §8).
pub fn dpop_error(r: crate::oauth::dpop::Refused) -> OAuthError {
    let code = if r.reason == crate::oauth::dpop::Reason::Nonce {
        ErrorCode::UseDpopNonce
    } else {
        ErrorCode::InvalidDpopProof
    };
    OAuthError::new(code, r.message)
}

impl From<crate::keys::KeyError> for Failure {
    fn from(e: crate::keys::KeyError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl<T: poem_openapi::payload::Payload + IntoResponse + Send> OAuthResponse<T> {
    pub fn ok(body: T) -> Self {
        Self::Ok(body, "no-store".to_owned(), "no-cache".to_owned(), None)
    }

    /// The same answer carrying `DPoP-Nonce: nonce` (success and 400 only).
    pub fn with_dpop_nonce(mut self, nonce: Option<String>) -> Self {
        match &mut self {
            Self::Ok(_, _, _, n) | Self::BadRequest(_, _, n) => *n = nonce,
            _ => {}
        }
        self
    }

    /// The response for an endpoint's outcome; `what` names it in the log.
    pub fn from_outcome(what: &str, outcome: Result<T, Failure>) -> Self {
        match outcome {
            Ok(body) => Self::ok(body),
            Err(Failure::OAuth(e)) => e.into(),
            Err(Failure::Limited(retry_after)) => Self::TooManyRequests(
                poem_openapi::payload::Json(OAuthErrorBody {
                    error: RATE_LIMITED.to_owned(),
                    error_description: rate_limited_message(retry_after),
                }),
                retry_after.to_string(),
                "no-store".to_owned(),
            ),
            Err(Failure::Internal(detail)) => Self::internal(what, detail),
        }
    }

    /// The error response for `err`; `status` distinguishes 413 from 400.
    pub fn error(err: &OAuthError, status: StatusCode) -> Self {
        let body = poem_openapi::payload::Json(OAuthErrorBody::from(err));
        let no_store = "no-store".to_owned();
        match (err.code, status) {
            (_, StatusCode::PAYLOAD_TOO_LARGE) => Self::TooLarge(body, no_store),
            (ErrorCode::InvalidClient, _) => {
                Self::Unauthorized(body, r#"Basic realm="latchkey""#.to_owned(), no_store)
            }
            (ErrorCode::ServerError, _) => Self::ServerError(body, no_store),
            _ => Self::BadRequest(body, no_store, None),
        }
    }

    /// Logs an infrastructure failure once; the client sees only `server_error`.
    pub fn internal(what: &str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "{what} failed");
        OAuthError::server_error().into()
    }
}

impl<T: poem_openapi::payload::Payload + IntoResponse + Send> From<OAuthError>
    for OAuthResponse<T>
{
    fn from(err: OAuthError) -> Self {
        Self::error(&err, oauth_status(err.code))
    }
}

fn oauth_bad_request<T: poem_openapi::payload::Payload + IntoResponse + Send>(
    err: poem::Error,
) -> OAuthResponse<T> {
    let (status, oauth) = super::payloads::body_error_to_oauth(&err);
    OAuthResponse::error(&oauth, status)
}
