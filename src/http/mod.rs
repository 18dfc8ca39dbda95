//! The HTTP surface: one poem-openapi API struct per tag, combined into one service
//! whose generated spec is served at `/openapi.json` and checked in under `openapi/`.

pub mod admin;
pub mod api;
pub mod assertion_grant;
pub mod authorize;
pub mod bearer;
pub mod client_auth;
pub mod cors;
pub mod discovery;
pub mod dpop;
pub mod errors;
pub mod health;
pub mod limits;
pub mod oauth;
pub mod outage;
pub mod par;
pub mod payloads;
pub mod register;
pub mod token;
pub mod token_response;

use crate::services::state::AppState;
use poem::http::header;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, OpenApiService, Tags};

/// Operation groups in the generated spec.
#[derive(Tags)]
pub enum ApiTags {
    /// OAuth 2.1 protocol endpoints.
    #[oai(rename = "OAuth")]
    OAuth,
    /// Metadata and signing keys for clients and resource servers.
    Discovery,
    /// Probes for orchestrators and load balancers.
    Health,
    /// The signed-in user's OAuth applications. Authenticate with a bearer access
    /// token from this server carrying the scope each operation lists, or with the
    /// browser session cookie (`lk_session`) plus, on writes, an `X-CSRF-Token` header
    /// holding the `lk_csrf` cookie's value.
    Apps,
    /// Applications the signed-in user has authorized, and revoking them.
    /// Authentication as for Apps.
    Grants,
    /// For the operator and the product in front of Latchkey: every client, the
    /// users, their grants and sessions, and the answers to delegated login and
    /// consent challenges. Authenticate with an access token from client
    /// credentials carrying `latchkey:admin`.
    Admin,
}

/// The raw `Authorization` header of a token endpoint request, documented as the
/// optional `ClientBasic` security scheme (clients may authenticate in the body
/// instead). Parsing is left to the protocol core, which needs to see malformed
/// credentials to answer `invalid_client` rather than ignore them.
pub struct ClientAuthHeader(pub Option<String>);

impl<'a> ApiExtractor<'a> for ClientAuthHeader {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            "ClientBasic",
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "client_secret_basic: HTTP Basic with the form-urlencoded client_id as user name and client_secret as password (RFC 6749 §2.3.1).",
                ),
                name: None,
                key_in: None,
                scheme: Some("basic"),
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec!["ClientBasic"]
    }

    fn has_security_fallback() -> bool {
        true
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut poem::RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(Self(request.headers().get(header::AUTHORIZATION).map(
            |v| String::from_utf8_lossy(v.as_bytes()).into_owned(),
        )))
    }
}

/// The client `id`: a registered one from the client cache, or, for an `https`
/// URL, the client its metadata document describes (fetched or cached). The inner
/// error is a refused document.
pub async fn find_client(
    state: &AppState,
    id: &str,
) -> Result<
    Result<
        Option<std::sync::Arc<crate::oauth::types::RegisteredClient>>,
        crate::oauth::client_metadata::Refusal,
    >,
    crate::store::StoreError,
> {
    if crate::oauth::client_metadata::is_document_url(id) && state.client_documents.enabled() {
        let now = state.clock.now();
        return Ok(state
            .client_documents
            .resolve(id, &state.settings.scopes, now)
            .await
            .map(|doc| Some(doc.client.clone())));
    }
    Ok(Ok(state.client_cache.get(&state.db, id).await?))
}

pub use client_auth::authenticate_client;

pub type Apis = (
    api::AppsApi,
    api::GrantsApi,
    admin::clients::AdminClientsApi,
    admin::users::AdminUsersApi,
    admin::requests::AdminRequestsApi,
    admin::audit::AdminAuditApi,
    token::TokenApi,
    par::ParApi,
    oauth::OAuthApi,
    register::RegistrationApi,
    discovery::DiscoveryApi,
    health::HealthApi,
);

/// Every route template: the API's, from its generated spec, and the pages'.
pub fn route_templates(api: &OpenApiService<Apis, ()>) -> Vec<String> {
    let spec: serde_json::Value = serde_json::from_str(&api.spec()).unwrap_or_default();
    let mut routes: Vec<String> = spec["paths"]
        .as_object()
        .map(|paths| paths.keys().cloned().collect())
        .unwrap_or_default();
    routes.extend(
        [
            "/oauth/authorize",
            "/oauth/authorize/continue",
            "/oauth/logout",
            "/login",
            "/logout",
            "/account",
            "/settings/apps",
            "/settings/apps/{id}",
            "/settings/apps/{id}/delete",
            "/settings/apps/{id}/secret",
            "/settings/authorized",
            "/settings/authorized/{client_id}/revoke",
            "/assets/latchkey.css",
            "/assets/copy.js",
            "/brand/{name}",
            "/openapi.json",
            "/docs",
            "/metrics",
        ]
        .map(String::from),
    );
    routes
}

/// The combined API, with `issuer` as its server URL.
pub fn api_service(
    state: &AppState,
    documents: std::sync::Arc<discovery::Documents>,
) -> OpenApiService<Apis, ()> {
    let apis = (
        api::AppsApi {
            state: state.clone(),
        },
        api::GrantsApi {
            state: state.clone(),
        },
        admin::clients::AdminClientsApi {
            state: state.clone(),
        },
        admin::users::AdminUsersApi {
            state: state.clone(),
        },
        admin::requests::AdminRequestsApi {
            state: state.clone(),
        },
        admin::audit::AdminAuditApi {
            state: state.clone(),
        },
        token::TokenApi {
            state: state.clone(),
        },
        par::ParApi {
            state: state.clone(),
        },
        oauth::OAuthApi {
            state: state.clone(),
        },
        register::RegistrationApi {
            state: state.clone(),
        },
        discovery::DiscoveryApi {
            state: state.clone(),
            documents,
        },
        health::HealthApi {
            state: state.clone(),
        },
    );
    spec_service(apis, &state.settings.issuer)
}

/// Title, version and description of the spec; shared with `latchkey openapi`.
pub fn spec_service<T: poem_openapi::OpenApi>(apis: T, issuer: &str) -> OpenApiService<T, ()> {
    OpenApiService::new(apis, "Latchkey", env!("CARGO_PKG_VERSION"))
        .description(
            "A self-hostable OAuth 2.1 authorization server. Latchkey issues JWT access tokens (RFC 9068) that resource servers verify with the JWK Set at `/.well-known/jwks.json`. OAuth endpoints answer errors in RFC 6749 §5.2 form; other endpoints with RFC 9457 problem details.",
        )
        .license("Apache-2.0")
        .server(issuer)
}

/// Security headers on every response. The pages are plain HTML with no third-party
/// content, so framing and sniffing are refused outright.
pub async fn security_headers<E: Endpoint>(ep: E, req: Request) -> poem::Result<Response> {
    // The API viewer runs inline scripts; everything else runs none.
    let path_is_docs = req.uri().path().starts_with("/docs");
    let mut resp = ep.call(req).await?.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    if !path_is_docs && !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    Ok(resp)
}

/// Gives each request an id: on the `X-Request-Id` response header, on error pages
/// and the log lines about them, and at `debug` on every log line the request causes
/// (a `request` span), so a person's report can be matched with the log. Then one
/// log line per request: method, path (never the query string, which can carry
/// codes), status and latency. Bodies and headers are never logged.
pub async fn access_log<E: Endpoint>(
    ep: E,
    req: Request,
    metrics: std::sync::Arc<crate::services::metrics::Metrics>,
) -> poem::Result<Response> {
    use tracing::Instrument;
    let id = crate::request_id::next_request_id();
    // A debug-level span: at the default level, creating and formatting a span per
    // request cost 10-20% of the token endpoint's rate (measured side by side), so
    // there the log lines a person's report leads to name `request_id` themselves.
    let span = tracing::debug_span!("request", id = %id);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = std::time::Instant::now();
    let header_value = header::HeaderValue::from_str(&id).ok();
    let call = async { ep.call(req).await.map(IntoResponse::into_response) };
    let result = crate::request_id::with_request_id(id, call)
        .instrument(span.clone())
        .await;
    let elapsed = started.elapsed();
    let elapsed_us = elapsed.as_micros() as u64;
    let status = match &result {
        Ok(resp) => resp.status().as_u16(),
        Err(err) => err.status().as_u16(),
    };
    metrics.observe_request(&path, &method, status, elapsed.as_secs_f64());
    span.in_scope(|| tracing::debug!(%method, %path, status, elapsed_us, "request"));
    result.map(|mut resp| {
        if let Some(v) = header_value {
            resp.headers_mut().insert("x-request-id", v);
        }
        resp
    })
}

/// An `OpenApi` that describes `T` without serving it: the spec needs only types,
/// so `latchkey openapi` and the drift test need no database or keys.
pub struct SpecOnly<T>(std::marker::PhantomData<T>);

impl<T: poem_openapi::OpenApi> poem_openapi::OpenApi for SpecOnly<T> {
    fn meta() -> Vec<poem_openapi::registry::MetaApi> {
        T::meta()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn add_routes(
        self,
        _route_table: &mut std::collections::HashMap<
            String,
            std::collections::HashMap<poem::http::Method, poem::endpoint::BoxEndpoint<'static>>,
        >,
    ) {
    }
}

/// The spec document for an issuer, without a running server.
pub fn spec_document(issuer: &str) -> OpenApiService<SpecOnly<Apis>, ()> {
    spec_service(SpecOnly(std::marker::PhantomData), issuer)
}
