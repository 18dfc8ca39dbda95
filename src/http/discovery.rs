//! Metadata documents (RFC 8414, RFC 9728), the JWK Set, and the scope catalogue,
//! served from bytes serialized once at start with strong ETags.

use super::ApiTags;
use super::payloads::PreSerialized;
use crate::config::Settings;
use crate::keys::etag_for;
use crate::keys::jwks::JwkSet;
use crate::oauth::token::SUPPORTED_GRANTS;
use crate::services::state::AppState;
use bytes::Bytes;
use poem_openapi::param::Header;
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Object, OpenApi};

/// Authorization server metadata (RFC 8414 §2). Lists only what this server does.
#[derive(Debug, Clone, Object)]
pub struct AuthorizationServerMetadata {
    /// The issuer identifier; equals `iss` in every token.
    pub issuer: String,
    /// URL of the authorization endpoint (browser).
    pub authorization_endpoint: String,
    /// URL of the token endpoint.
    pub token_endpoint: String,
    /// URL of the revocation endpoint (RFC 7009).
    pub revocation_endpoint: String,
    /// URL of the introspection endpoint (RFC 7662).
    pub introspection_endpoint: String,
    /// URL of the userinfo endpoint.
    pub userinfo_endpoint: String,
    /// URL of the JWK Set with the token signing keys.
    pub jwks_uri: String,
    /// URL of the pushed authorization request endpoint (RFC 9126).
    pub pushed_authorization_request_endpoint: String,
    /// RFC 9126 §5: every authorization request must be pushed first.
    pub require_pushed_authorization_requests: bool,
    /// URL of dynamic client registration (RFC 7591); absent when it is disabled.
    #[oai(skip_serializing_if_is_none)]
    pub registration_endpoint: Option<String>,
    /// Scopes clients may request.
    pub scopes_supported: Vec<String>,
    /// Response types for the authorization endpoint: `code`.
    pub response_types_supported: Vec<String>,
    /// How authorization responses are returned: `query`.
    pub response_modes_supported: Vec<String>,
    /// Grant types the token endpoint accepts.
    pub grant_types_supported: Vec<String>,
    /// Client authentication methods the token endpoint accepts (`none`: public
    /// clients, which must use PKCE).
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Client authentication methods the revocation endpoint accepts.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// Client authentication methods the introspection endpoint accepts.
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// JWS algorithms of `private_key_jwt` client assertions at the token endpoint.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// JWS algorithms of client assertions at the revocation endpoint.
    pub revocation_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// JWS algorithms of client assertions at the introspection endpoint.
    pub introspection_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// RFC 9449 §5.1: JWS algorithms of DPoP proofs.
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// PKCE methods: `S256` only (`plain` is refused).
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9207: authorization responses carry `iss`.
    pub authorization_response_iss_parameter_supported: bool,
    /// A `client_id` may be the `https` URL of the client's metadata document
    /// (draft-ietf-oauth-client-id-metadata-document), which this server fetches.
    pub client_id_metadata_document_supported: bool,
    /// Human-readable API documentation.
    pub service_documentation: String,
}

/// OpenID Provider metadata (OpenID Connect Discovery 1.0 §3): the RFC 8414
/// members plus those OpenID Connect adds. Lists only what this server does.
#[derive(Debug, Clone, Object)]
pub struct OpenIdProviderMetadata {
    #[oai(flatten)]
    pub oauth: AuthorizationServerMetadata,
    /// Subject identifier types: `public` (one `sub` per person for every client).
    pub subject_types_supported: Vec<String>,
    /// JWS algorithms of ID tokens: those of the published signing keys.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// Claims that may appear in ID tokens and UserInfo responses.
    pub claims_supported: Vec<String>,
    /// Claim types: `normal` only.
    pub claim_types_supported: Vec<String>,
    /// `prompt` values the authorization endpoint honours.
    pub prompt_values_supported: Vec<String>,
    /// RP-Initiated Logout: where a relying party sends people to sign out.
    pub end_session_endpoint: String,
    /// The `claims` request parameter is not supported.
    pub claims_parameter_supported: bool,
    /// Request objects (`request`) are not supported.
    pub request_parameter_supported: bool,
    /// `request_uri` is not supported (Discovery's default would say it is).
    pub request_uri_parameter_supported: bool,
}

/// Protected resource metadata (RFC 9728 §2) for this server's own API.
#[derive(Debug, Clone, Object)]
pub struct ProtectedResourceMetadata {
    /// The resource identifier.
    pub resource: String,
    /// Authorization servers that issue tokens for it.
    pub authorization_servers: Vec<String>,
    /// How bearer tokens are sent: in the `Authorization` header.
    pub bearer_methods_supported: Vec<String>,
    /// Human-readable name.
    pub resource_name: String,
    /// Scopes the management API (`/api/*`) accepts.
    pub scopes_supported: Vec<String>,
    /// RFC 9728: every token must be DPoP-bound (under the FAPI 2.0 profile).
    pub dpop_bound_access_tokens_required: bool,
}

/// One scope of the public catalogue.
#[derive(Debug, Clone, Object)]
pub struct ScopeInfo {
    /// The scope token, as used in `scope` parameters.
    pub name: String,
    /// What it allows, as shown to people on consent pages.
    pub description: String,
}

/// The public scope catalogue.
#[derive(Debug, Clone, Object)]
pub struct ScopeList {
    /// Every scope this server knows.
    pub scopes: Vec<ScopeInfo>,
}

/// A document serialized once, with its strong ETag.
#[derive(Debug, Clone)]
pub struct Document {
    pub body: Bytes,
    pub etag: String,
}

impl Document {
    fn new<T: ToJSON>(value: &T) -> Self {
        let body = value.to_json_string().into_bytes();
        Self {
            etag: etag_for(&body),
            body: body.into(),
        }
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The discovery documents, built from settings at start.
#[derive(Debug)]
pub struct Documents {
    pub server_metadata: Document,
    pub resource_metadata: Document,
    pub scopes: Document,
    /// The RFC 8414 members, for the OpenID document.
    server: AuthorizationServerMetadata,
    /// The OpenID document names the algorithms of the published keys, which change
    /// without a restart (`keys rotate`): built for the algorithms seen last.
    openid: std::sync::RwLock<(Vec<&'static str>, Document)>,
}

impl Documents {
    pub fn build(settings: &Settings) -> Self {
        let issuer = &settings.issuer;
        // FAPI 2.0 §5.3.2.1: private_key_jwt only.
        let methods = |all: &[&str]| {
            if settings.profile.fapi2 {
                strings(&[crate::oauth::types::PRIVATE_KEY_JWT])
            } else {
                strings(all)
            }
        };
        let server = AuthorizationServerMetadata {
            issuer: issuer.clone(),
            authorization_endpoint: format!("{issuer}/oauth/authorize"),
            token_endpoint: format!("{issuer}/oauth/token"),
            revocation_endpoint: format!("{issuer}/oauth/revoke"),
            introspection_endpoint: format!("{issuer}/oauth/introspect"),
            userinfo_endpoint: format!("{issuer}/oauth/userinfo"),
            jwks_uri: format!("{issuer}/.well-known/jwks.json"),
            pushed_authorization_request_endpoint: format!("{issuer}/oauth/par"),
            require_pushed_authorization_requests: settings.profile.require_par,
            registration_endpoint: (settings.registration
                != crate::config::RegistrationPolicy::Disabled)
                .then(|| format!("{issuer}/oauth/register")),
            scopes_supported: settings.scopes.names().iter().map(str::to_owned).collect(),
            response_types_supported: vec!["code".to_owned()],
            response_modes_supported: vec!["query".to_owned()],
            // The JWT-bearer grant only where some issuer's assertions are trusted.
            grant_types_supported: SUPPORTED_GRANTS
                .iter()
                .filter(|g| {
                    **g != crate::oauth::types::GrantType::JwtBearer
                        || settings
                            .trusted_issuers
                            .iter()
                            .any(|t| t.trusted_for(crate::oauth::assertion_grant::Use::Workload))
                })
                .map(|g| g.as_str().to_owned())
                .collect(),
            token_endpoint_auth_methods_supported: methods(&[
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none",
            ]),
            revocation_endpoint_auth_methods_supported: methods(&[
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none",
            ]),
            introspection_endpoint_auth_methods_supported: methods(&[
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
            ]),
            token_endpoint_auth_signing_alg_values_supported: alg_names(
                &settings.client_assertions.algorithms,
            ),
            revocation_endpoint_auth_signing_alg_values_supported: alg_names(
                &settings.client_assertions.algorithms,
            ),
            introspection_endpoint_auth_signing_alg_values_supported: alg_names(
                &settings.client_assertions.algorithms,
            ),
            dpop_signing_alg_values_supported: alg_names(&settings.dpop.algorithms),
            code_challenge_methods_supported: strings(&["S256"]),
            authorization_response_iss_parameter_supported: true,
            client_id_metadata_document_supported: settings.fetch.documents_enabled,
            service_documentation: format!("{issuer}/docs"),
        };
        let resource = ProtectedResourceMetadata {
            dpop_bound_access_tokens_required: settings.profile.fapi2,
            resource: issuer.clone(),
            authorization_servers: vec![issuer.clone()],
            bearer_methods_supported: vec!["header".to_owned()],
            resource_name: "Latchkey".to_owned(),
            scopes_supported: crate::http::api::ApiScope::ALL
                .iter()
                .map(|s| poem_openapi::OAuthScopes::name(s).to_owned())
                .collect(),
        };
        let scopes = ScopeList {
            scopes: settings
                .scopes
                .entries()
                .iter()
                .map(|e| ScopeInfo {
                    name: e.name.clone(),
                    description: e.description.clone(),
                })
                .collect(),
        };
        let openid = openid_document(&server, &[]);
        Self {
            server_metadata: Document::new(&server),
            resource_metadata: Document::new(&resource),
            scopes: Document::new(&scopes),
            server,
            openid: std::sync::RwLock::new((Vec::new(), openid)),
        }
    }

    /// The OpenID Provider document for keys of `algs`.
    pub fn openid(&self, algs: Vec<&'static str>) -> Document {
        {
            let cached = self.openid.read().unwrap_or_else(|e| e.into_inner());
            if cached.0 == algs {
                return cached.1.clone();
            }
        }
        let doc = openid_document(&self.server, &algs);
        *self.openid.write().unwrap_or_else(|e| e.into_inner()) = (algs, doc.clone());
        doc
    }
}

fn openid_document(server: &AuthorizationServerMetadata, algs: &[&str]) -> Document {
    let issuer = &server.issuer;
    Document::new(&OpenIdProviderMetadata {
        oauth: server.clone(),
        subject_types_supported: strings(&["public"]),
        id_token_signing_alg_values_supported: strings(algs),
        claims_supported: strings(&crate::oauth::id_token::CLAIMS_SUPPORTED),
        claim_types_supported: strings(&["normal"]),
        prompt_values_supported: strings(&crate::oauth::authorize::Prompt::SUPPORTED),
        end_session_endpoint: format!("{issuer}/oauth/logout"),
        claims_parameter_supported: false,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
    })
}

/// Metadata and key sets change rarely; five minutes bounds how long a cache may
/// hold a stale copy.
const CACHE_PUBLIC: &str = "public, max-age=300";

/// Does an `If-None-Match` value match `etag` (RFC 9110 §13.1.2, weak comparison)?
fn etag_matches(if_none_match: Option<&str>, etag: &str) -> bool {
    let Some(value) = if_none_match else {
        return false;
    };
    value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

#[derive(ApiResponse)]
pub enum CachedResponse<T: poem_openapi::types::Type + Send> {
    /// The document.
    #[oai(status = 200)]
    Ok(
        PreSerialized<T>,
        /// How long the document may be cached.
        #[oai(header = "Cache-Control")]
        String,
        /// Entity tag; send it back in `If-None-Match`.
        #[oai(header = "ETag")]
        String,
    ),
    /// The copy the client holds (`If-None-Match`) is current.
    #[oai(status = 304)]
    NotModified(
        /// How long the document may be cached.
        #[oai(header = "Cache-Control")]
        String,
        /// Entity tag of the current document.
        #[oai(header = "ETag")]
        String,
    ),
}

fn cached<T: poem_openapi::types::Type + Send>(
    body: &Bytes,
    etag: &str,
    if_none_match: Option<&str>,
) -> CachedResponse<T> {
    if etag_matches(if_none_match, etag) {
        CachedResponse::NotModified(CACHE_PUBLIC.to_owned(), etag.to_owned())
    } else {
        CachedResponse::Ok(
            PreSerialized::new(body.clone()),
            CACHE_PUBLIC.to_owned(),
            etag.to_owned(),
        )
    }
}

/// The path of the issuer (`/auth` of `https://example.com/auth`), when it has one:
/// its metadata is then also served at the path-inserted locations RFC 8414 §3.1
/// defines (`/.well-known/oauth-authorization-server/auth`), which MCP clients
/// look up first, and OpenID Connect's equivalent.
pub fn issuer_path(issuer: &str) -> Option<String> {
    let path = url::Url::parse(issuer)
        .ok()?
        .path()
        .trim_end_matches('/')
        .to_owned();
    (!path.is_empty()).then_some(path)
}

/// `GET /.well-known/oauth-authorization-server{issuer path}` (RFC 8414 §3.1).
#[poem::handler]
pub fn server_metadata_at_path(
    req: &poem::Request,
    documents: poem::web::Data<&std::sync::Arc<Documents>>,
) -> poem::Response {
    let doc = &documents.0.server_metadata;
    document_response(req, &doc.body, &doc.etag)
}

/// `GET /.well-known/openid-configuration{issuer path}`.
#[poem::handler]
pub fn openid_configuration_at_path(
    req: &poem::Request,
    state: poem::web::Data<&AppState>,
    documents: poem::web::Data<&std::sync::Arc<Documents>>,
) -> poem::Response {
    let doc = documents.0.openid(state.0.keys.get().published_algs());
    document_response(req, &doc.body, &doc.etag)
}

/// A discovery document as the API operations answer it, outside the API.
fn document_response(req: &poem::Request, body: &Bytes, etag: &str) -> poem::Response {
    let if_none_match = req
        .headers()
        .get(poem::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let builder = poem::Response::builder()
        .header(poem::http::header::CACHE_CONTROL, CACHE_PUBLIC)
        .header(poem::http::header::ETAG, etag);
    if etag_matches(if_none_match, etag) {
        builder
            .status(poem::http::StatusCode::NOT_MODIFIED)
            .finish()
    } else {
        builder
            .content_type("application/json; charset=utf-8")
            .body(body.clone())
    }
}

pub struct DiscoveryApi {
    pub state: AppState,
    /// Built once by the composition root, shared with the path-inserted routes.
    pub documents: std::sync::Arc<Documents>,
}

#[OpenApi(tag = "ApiTags::Discovery")]
impl DiscoveryApi {
    /// Authorization server metadata
    ///
    /// RFC 8414 metadata: endpoints, supported grants, scopes and authentication methods.
    #[oai(
        path = "/.well-known/oauth-authorization-server",
        method = "get",
        operation_id = "getAuthorizationServerMetadata"
    )]
    async fn server_metadata(
        &self,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> CachedResponse<AuthorizationServerMetadata> {
        let doc = &self.documents.server_metadata;
        cached(&doc.body, &doc.etag, if_none_match.0.as_deref())
    }

    /// OpenID Provider metadata
    ///
    /// OpenID Connect Discovery 1.0: the RFC 8414 members plus those OpenID
    /// Connect adds (subject types, ID token algorithms, claims, `prompt` values,
    /// the end-session endpoint).
    #[oai(
        path = "/.well-known/openid-configuration",
        method = "get",
        operation_id = "getOpenidConfiguration"
    )]
    async fn openid_configuration(
        &self,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> CachedResponse<OpenIdProviderMetadata> {
        let algs = self.state.keys.get().published_algs();
        let doc = self.documents.openid(algs);
        cached(&doc.body, &doc.etag, if_none_match.0.as_deref())
    }

    /// Protected resource metadata
    ///
    /// RFC 9728 metadata for this server's own API.
    #[oai(
        path = "/.well-known/oauth-protected-resource",
        method = "get",
        operation_id = "getProtectedResourceMetadata"
    )]
    async fn resource_metadata(
        &self,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> CachedResponse<ProtectedResourceMetadata> {
        let doc = &self.documents.resource_metadata;
        cached(&doc.body, &doc.etag, if_none_match.0.as_deref())
    }

    /// Token signing keys
    ///
    /// The JWK Set (RFC 7517) resource servers verify access tokens with. Cache it
    /// as `Cache-Control` says, and fetch it again when a token names an unknown `kid`.
    #[oai(
        path = "/.well-known/jwks.json",
        method = "get",
        operation_id = "getJwks"
    )]
    async fn jwks(
        &self,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> CachedResponse<JwkSet> {
        let keys = self.state.keys.get();
        let jwks = keys.jwks();
        cached(&jwks.body, &jwks.etag, if_none_match.0.as_deref())
    }

    /// Scope catalogue
    ///
    /// Every scope this server knows, with the description people see when asked
    /// for consent.
    #[oai(path = "/oauth/scopes", method = "get", operation_id = "listScopes")]
    async fn scopes(
        &self,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> CachedResponse<ScopeList> {
        let doc = &self.documents.scopes;
        cached(&doc.body, &doc.etag, if_none_match.0.as_deref())
    }
}

/// JWS algorithm names, in the order given.
fn alg_names(algs: &[crate::oauth::jwk::Alg]) -> Vec<String> {
    algs.iter().map(|a| a.as_str().to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::etag_matches;

    #[test]
    fn if_none_match_forms() {
        let tag = "\"abc\"";
        assert!(etag_matches(Some("\"abc\""), tag));
        assert!(etag_matches(Some("W/\"abc\""), tag));
        assert!(etag_matches(Some("\"x\", \"abc\""), tag));
        assert!(etag_matches(Some("*"), tag));
        assert!(!etag_matches(Some("\"abd\""), tag));
        assert!(!etag_matches(None, tag));
    }
}
