//! Request and response payloads the stock poem-openapi types do not cover:
//! strict OAuth form bodies, pre-serialized JSON documents, and RFC 9457 problems.

use crate::oauth::OAuthError;
use crate::oauth::form::FormParams;
use poem::http::StatusCode;
use poem::{IntoResponse, Request, RequestBody, Response};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use std::marker::PhantomData;

/// The largest request body any endpoint reads. OAuth requests are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a request body could not be read; carried inside `poem::Error`.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the request body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("{0}")]
    Invalid(OAuthError),
}

/// An `application/x-www-form-urlencoded` body parsed strictly (duplicates kept, bad
/// UTF-8 refused), documented in OpenAPI with the schema `S`.
pub struct OAuthForm<S> {
    pub params: FormParams,
    _schema: PhantomData<fn() -> S>,
}

impl<S: Type> Payload for OAuthForm<S> {
    const CONTENT_TYPE: &'static str = "application/x-www-form-urlencoded";

    fn check_content_type(content_type: &str) -> bool {
        content_type
            .split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case(Self::CONTENT_TYPE))
    }

    fn schema_ref() -> MetaSchemaRef {
        S::schema_ref()
    }

    fn register(registry: &mut Registry) {
        S::register(registry);
    }
}

impl<S: Type> ParsePayload for OAuthForm<S> {
    const IS_REQUIRED: bool = true;

    async fn from_request(_request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let body = body.take()?;
        let bytes = body
            .into_bytes_limit(MAX_BODY_BYTES)
            .await
            .map_err(|e| match e {
                poem::error::ReadBodyError::PayloadTooLarge => {
                    poem::Error::new(BodyError::TooLarge, StatusCode::PAYLOAD_TOO_LARGE)
                }
                other => poem::Error::new(
                    BodyError::Invalid(OAuthError::invalid_request(format!(
                        "the request body could not be read: {other}"
                    ))),
                    StatusCode::BAD_REQUEST,
                ),
            })?;
        let params = FormParams::parse(&bytes)
            .map_err(|e| poem::Error::new(BodyError::Invalid(e), StatusCode::BAD_REQUEST))?;
        Ok(Self {
            params,
            _schema: PhantomData,
        })
    }
}

poem_openapi::impl_apirequest_for_payload!(OAuthForm<S>, S: Type);

/// Turns a body-extraction failure into the OAuth error the client should see.
pub fn body_error_to_oauth(err: &poem::Error) -> (StatusCode, OAuthError) {
    if let Some(body) = err.downcast_ref::<BodyError>() {
        return match body {
            BodyError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                OAuthError::invalid_request(body.to_string()),
            ),
            BodyError::Invalid(e) => (StatusCode::BAD_REQUEST, e.clone()),
        };
    }
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            OAuthError::invalid_request(BodyError::TooLarge.to_string()),
        );
    }
    // Content type missing or wrong, or anything else poem-openapi refused.
    (
        StatusCode::BAD_REQUEST,
        OAuthError::invalid_request(format!(
            "the request must be an application/x-www-form-urlencoded body ({err})"
        )),
    )
}

/// JSON bytes serialized once (at start or on key change), documented as `T`.
pub struct PreSerialized<T> {
    body: bytes::Bytes,
    _schema: PhantomData<fn() -> T>,
}

impl<T> PreSerialized<T> {
    pub fn new(body: bytes::Bytes) -> Self {
        Self {
            body,
            _schema: PhantomData,
        }
    }
}

impl<T: Type> Payload for PreSerialized<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Send> IntoResponse for PreSerialized<T> {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type("application/json")
            .body(self.body)
    }
}

/// An RFC 9457 problem document (`application/problem+json`).
pub struct ProblemJson<T>(pub T);

impl<T: Type> Payload for ProblemJson<T> {
    const CONTENT_TYPE: &'static str = "application/problem+json";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ToJSON + Send> IntoResponse for ProblemJson<T> {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(Self::CONTENT_TYPE)
            .body(self.0.to_json_string())
    }
}
