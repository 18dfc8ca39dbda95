//! The MCP server of `examples/mcp_server`: tools behind Latchkey, served over the
//! streamable HTTP transport of the official Rust SDK (`rmcp`), mounted in poem.
//!
//! What makes it an OAuth-protected MCP server (MCP authorization, 2025-11-25+):
//! - RFC 9728 metadata at `/.well-known/oauth-protected-resource{path}` (and at the
//!   root form, for older clients), naming Latchkey as its authorization server;
//! - every request to the MCP endpoint needs a bearer access token, checked locally
//!   against Latchkey's JWKS: issuer, `typ: at+jwt`, expiry, and `aud` equal to
//!   this server's URL (RFC 8707: a token for another API does not work here);
//! - no token or a bad one → `401` with `WWW-Authenticate: Bearer
//!   resource_metadata="…", scope="…"`, which is how a client finds Latchkey;
//! - a good token without the needed scope → `403 insufficient_scope` naming it;
//!   one tool (`save_note`) needs a second scope, so a client steps up: the `403`
//!   names both scopes, and the client asks the person for the one it lacks;
//! - CORS for browser-based clients (any origin, no credentials).

#[path = "../shared/verify.rs"]
mod verify;

use poem::endpoint::{TowerCompatExt, make_sync};
use poem::http::request::Parts;
use poem::http::{Method, StatusCode};
use poem::middleware::Cors;
use poem::web::Json;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get};
use rmcp::handler::server::common::Extension;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use verify::{Verifier, has_scope};

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Latchkey's issuer URL.
    pub issuer: String,
    /// This MCP endpoint's URL, e.g. `https://mcp.example.com/mcp`: the `resource`
    /// of its metadata and the `aud` its tokens must carry. Latchkey must list it
    /// in `resources`.
    pub resource: String,
    /// The scope a token needs to use the tools (a scope configured in Latchkey).
    pub scope: String,
    /// The further scope `save_note` needs (also configured in Latchkey).
    pub write_scope: String,
}

/// The tool that changes something, and so needs `Settings::write_scope`.
pub const WRITING_TOOL: &str = "save_note";

/// The largest JSON-RPC message the server reads.
const MAX_BODY: usize = 1024 * 1024;

/// Who called a tool, from the access token the request carried.
#[derive(Debug, Clone)]
pub struct Caller {
    pub sub: String,
    pub client_id: String,
    pub scope: String,
}

struct Guard {
    settings: Settings,
    metadata_url: String,
    verifier: Verifier,
}

impl Guard {
    /// A `401`/`403` challenge that tells the client where to authorize.
    /// `scope` is what the request needs (MCP authorization, "Scope Challenge
    /// Handling": the scopes for this operation, which the client adds to its own).
    fn challenge(&self, status: StatusCode, scope: &str, error: Option<(&str, &str)>) -> Response {
        self.challenge_on(status, scope, error, false)
    }

    /// `challenge`, with the error on the `DPoP` challenge when `dpop` (RFC 9449
    /// §7.1: a refused proof), else on the `Bearer` one; both are always offered.
    fn challenge_on(
        &self,
        status: StatusCode,
        scope: &str,
        error: Option<(&str, &str)>,
        dpop: bool,
    ) -> Response {
        let mut value = format!(
            r#"Bearer resource_metadata="{}", scope="{scope}""#,
            self.metadata_url
        );
        let mut dpop_value = r#"DPoP algs="ES256 PS256 RS256 EdDSA""#.to_owned();
        if let Some((code, description)) = error {
            // RFC 6750 §3: the description is a quoted string; keep it one.
            let description = description.replace(['"', '\\'], "'");
            let on = if dpop { &mut dpop_value } else { &mut value };
            on.push_str(&format!(
                r#", error="{code}", error_description="{description}""#
            ));
        }
        let value = format!("{value}, {dpop_value}");
        Response::builder()
            .status(status)
            .header("WWW-Authenticate", value)
            .content_type("application/json")
            .body(
                match error {
                    Some((code, description)) => {
                        json!({"error": code, "error_description": description})
                    }
                    None => json!({"error_description": "send an access token"}),
                }
                .to_string(),
            )
    }

    /// The scopes a request needs: the base scope, and the write scope too for a
    /// call of the writing tool (alone or in a batch).
    fn needed(&self, message: &Value) -> Vec<&str> {
        let writes = |m: &Value| m["method"] == "tools/call" && m["params"]["name"] == WRITING_TOOL;
        let mut needed = vec![self.settings.scope.as_str()];
        let batch = message.as_array().is_some_and(|b| b.iter().any(writes));
        if writes(message) || batch {
            needed.push(&self.settings.write_scope);
        }
        needed
    }

    async fn check(&self, req: &Request, message: &Value) -> Result<Caller, Response> {
        let needed = self.needed(message);
        let scope = needed.join(" ");
        let header = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        // RFC 6750 §3.1: a request without credentials gets a challenge with no
        // error code.
        if header.is_none() {
            return Err(self.challenge(StatusCode::UNAUTHORIZED, &scope, None));
        }
        let proofs: Vec<&str> = req
            .headers()
            .get_all("dpop")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let claims = self
            .verifier
            .verify_request(
                header,
                &proofs,
                req.method().as_str(),
                &self.settings.resource,
            )
            .await
            .map_err(|e| {
                self.challenge_on(
                    StatusCode::UNAUTHORIZED,
                    &scope,
                    Some((e.error, &e.description)),
                    e.dpop,
                )
            })?;
        if !needed.iter().all(|s| has_scope(&claims, s)) {
            return Err(self.challenge(
                StatusCode::FORBIDDEN,
                &scope,
                Some((
                    "insufficient_scope",
                    &format!("this request needs the scopes {scope}"),
                )),
            ));
        }
        let text = |name: &str| claims[name].as_str().unwrap_or_default().to_owned();
        Ok(Caller {
            sub: text("sub"),
            client_id: text("client_id"),
            scope: text("scope"),
        })
    }
}

#[derive(Debug, serde::Deserialize, rmcp::schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct AddRequest {
    /// The first number.
    pub a: i64,
    /// The second number.
    pub b: i64,
}

#[derive(Debug, serde::Deserialize, rmcp::schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct NoteRequest {
    /// What to write down.
    pub text: String,
}

/// Everyone's notes, by `sub`: kept in memory, gone when the server stops.
type Notes = Arc<Mutex<HashMap<String, Vec<String>>>>;

/// The tools. One instance per request: the transport runs stateless, so every
/// request carries (and is checked with) its own token.
#[derive(Debug, Clone)]
pub struct Tools {
    tool_router: ToolRouter<Self>,
    notes: Notes,
    write_scope: String,
}

fn caller(parts: &Parts) -> Result<&Caller, ErrorData> {
    parts
        .extensions
        .get::<Caller>()
        .ok_or_else(|| ErrorData::internal_error("no caller on an authorized request", None))
}

#[tool_router]
impl Tools {
    fn new(notes: Notes, write_scope: String) -> Self {
        Tools {
            tool_router: Self::tool_router(),
            notes,
            write_scope,
        }
    }

    #[tool(
        description = "Says who is calling: the person and the app the access token was issued to"
    )]
    fn whoami(&self, Extension(parts): Extension<Parts>) -> Result<String, ErrorData> {
        let caller = caller(&parts)?;
        Ok(format!(
            "You are {} using the app {} with scope \"{}\".",
            caller.sub, caller.client_id, caller.scope
        ))
    }

    #[tool(description = "Adds two whole numbers")]
    fn add(&self, Parameters(AddRequest { a, b }): Parameters<AddRequest>) -> String {
        a.saturating_add(b).to_string()
    }

    #[tool(description = "Writes a note down for the person calling (needs the write scope)")]
    fn save_note(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(NoteRequest { text }): Parameters<NoteRequest>,
    ) -> Result<String, ErrorData> {
        let caller = caller(&parts)?;
        // The guard checked the scope already; a tool that writes checks again.
        if !caller.scope.split(' ').any(|s| s == self.write_scope) {
            return Err(ErrorData::invalid_request(
                "the write scope is needed",
                None,
            ));
        }
        let mut notes = self
            .notes
            .lock()
            .map_err(|_| ErrorData::internal_error("notes unavailable", None))?;
        let mine = notes.entry(caller.sub.clone()).or_default();
        mine.push(text);
        Ok(format!("Saved: you have {} note(s).", mine.len()))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions("An example MCP server protected by Latchkey.")
    }
}

/// The whole server: metadata, and the guarded MCP endpoint at the resource's path.
pub async fn endpoint(settings: Settings) -> Result<impl Endpoint, String> {
    let resource = url::Url::parse(&settings.resource).map_err(|e| format!("resource: {e}"))?;
    let path = resource.path().to_owned();
    let origin = resource.origin().ascii_serialization();
    let metadata_path = format!(
        "/.well-known/oauth-protected-resource{}",
        path.trim_end_matches('/')
    );
    let metadata = json!({
        "resource": settings.resource,
        "authorization_servers": [settings.issuer],
        "scopes_supported": [settings.scope, settings.write_scope],
        "bearer_methods_supported": ["header"],
        "dpop_signing_alg_values_supported": ["ES256", "PS256", "RS256", "EdDSA"],
        "resource_name": "Latchkey example MCP server",
    });
    let notes = Notes::default();
    let write_scope = settings.write_scope.clone();
    let guard = Arc::new(Guard {
        verifier: Verifier::discover(&settings.issuer, &settings.resource).await?,
        metadata_url: format!("{origin}{metadata_path}"),
        settings,
    });

    // Host validation (DNS rebinding) against the resource's own authority.
    let host = resource.host_str().unwrap_or_default().to_owned();
    let mut hosts = vec![host.clone()];
    if let Some(port) = resource.port() {
        hosts.push(format!("{host}:{port}"));
    }
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_legacy_session_mode(false)
        .with_json_response(true);
    let mcp = StreamableHttpService::new(
        move || Ok(Tools::new(notes.clone(), write_scope.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    )
    .compat()
    .around(move |mcp, mut req| {
        let guard = guard.clone();
        async move {
            // The message decides the scopes needed; it is read here and put back.
            let body = req.take_body().into_bytes_limit(MAX_BODY).await?;
            let message = serde_json::from_slice(&body).unwrap_or(Value::Null);
            req.set_body(body);
            match guard.check(&req, &message).await {
                Ok(caller) => {
                    req.extensions_mut().insert(caller);
                    Ok(mcp.call(req).await?.into_response())
                }
                Err(challenge) => Ok(challenge),
            }
        }
    });

    let document = || {
        let metadata: Value = metadata.clone();
        get(make_sync(move |_| Json(metadata.clone())))
    };
    let mut route = Route::new()
        .at(&metadata_path, document())
        .at(if path.is_empty() { "/" } else { &path }, mcp);
    if metadata_path != "/.well-known/oauth-protected-resource" {
        route = route.at("/.well-known/oauth-protected-resource", document());
    }
    // Browser-based MCP clients call from their own origin. Tokens travel in the
    // Authorization header, never in cookies, so any origin may call, without
    // credentials; the challenge and the session id must be readable.
    let cors = Cors::new()
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            "authorization",
            "content-type",
            "mcp-protocol-version",
            "mcp-session-id",
            "last-event-id",
        ])
        .expose_headers(["www-authenticate", "mcp-session-id"])
        .allow_credentials(false);
    Ok(route.with(cors))
}
