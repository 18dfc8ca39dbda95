//! The MCP authorization profile end to end: `examples/mcp_server` (the official
//! Rust SDK's streamable HTTP transport behind poem) protected by a live Latchkey;
//! the official TypeScript SDK reaching its tools with a Client ID Metadata
//! Document and with dynamic registration, nothing registered beforehand; and the
//! MCP conformance tool's authorization-server scenarios against Latchkey.

// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

#[path = "../examples/mcp_server/server.rs"]
mod mcp_server;

use common::flow::PASSWORD;
use common::tls::{Answer, DocServer, TestCa};
use common::{Backend, Browser, TestApp, get_json, npm_file, query_of, real_now, run_node_script};
use latchkey::config::SettingsArgs;
use serde_json::{Value, json};
use std::io::BufRead;

both_backends!(
    the_server_challenges_and_checks_tokens,
    sdk_with_a_client_metadata_document,
    sdk_with_dynamic_registration,
    client_v2_with_a_client_metadata_document,
    client_v2_with_dynamic_registration,
    python_sdk_with_a_client_metadata_document,
    python_sdk_with_dynamic_registration,
    conformance_authorization_scenarios,
    sdk_private_key_jwt_client_credentials,
    the_server_checks_dpop_bound_tokens,
);

/// The scope the example server asks for.
const SCOPE: &str = "mcp:tools";
/// The scope its `save_note` tool needs besides.
const WRITE: &str = "mcp:write";
/// Where the SDK's person is sent back to (never contacted: the person stops there).
const SDK_REDIRECT: &str = "http://127.0.0.1:7/callback";
/// How long the example server accepts a token after its `exp` (examples/shared/verify.rs).
const EXPIRY_LEEWAY: u64 = 5;
/// The access-token lifetime of the stacks whose clients wait for expiry.
const SHORT_TTL: u64 = 2;

/// Latchkey, and the example MCP server trusting it, on loopback.
struct Stack {
    app: TestApp,
    /// The MCP endpoint: the resource, and the audience of its tokens.
    mcp: String,
}

impl Stack {
    async fn start(backend: &Backend, args: impl FnOnce(&mut SettingsArgs)) -> Stack {
        // The MCP server's port first: Latchkey must list it as a resource.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mcp = format!("http://{}/mcp", listener.local_addr().unwrap());
        let app = TestApp::builder()
            // The MCP server checks `exp` against the real clock.
            .now(real_now())
            .config(&format!(
                r#"resources = ["{{issuer}}", "{mcp}"]
[[scopes]]
name = "{SCOPE}"
description = "Use the tools of the example MCP server"
[[scopes]]
name = "{WRITE}"
description = "Save notes with the example MCP server"
[[scopes]]
name = "notes:read"
description = "Read your notes"
"#
            ))
            .args(args)
            .spawn(backend)
            .await;
        let endpoint = mcp_server::endpoint(mcp_server::Settings {
            issuer: app.base.clone(),
            resource: mcp.clone(),
            scope: SCOPE.into(),
            write_scope: WRITE.into(),
        })
        .await
        .unwrap();
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
        // Latchkey's clock keeps up with the real one the MCP server checks `exp`
        // against, so tokens expire as they would in production.
        let clock = app.clock.clone();
        tokio::spawn(async move {
            loop {
                clock.set(real_now());
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        });
        Stack { app, mcp }
    }

    fn origin(&self) -> &str {
        self.mcp.trim_end_matches("/mcp")
    }

    /// A client-credentials access token for `scope`, for `resource` if given.
    async fn token(&self, scope: &str, resource: Option<&str>) -> String {
        let client = self
            .app
            .client(Some("mcp:tools mcp:write notes:read"))
            .await;
        let mut form = vec![("grant_type", "client_credentials"), ("scope", scope)];
        if let Some(r) = resource {
            form.push(("resource", r));
        }
        let resp = self.app.token_basic(&client, &form).await;
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A JSON-RPC call to the MCP endpoint with `token`.
    async fn call(&self, token: Option<&str>, body: Value) -> reqwest::Response {
        let mut req = self
            .app
            .http
            .post(&self.mcp)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "latchkey-test", "version": "1"},
    }})
}

fn challenge(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("www-authenticate")
        .expect("a WWW-Authenticate challenge")
        .to_str()
        .unwrap()
        .to_owned()
}

async fn the_server_challenges_and_checks_tokens(backend: Backend) {
    let stack = Stack::start(&backend, |_| {}).await;
    let metadata_url = format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        stack.origin()
    );

    // RFC 9728 metadata, at the path-inserted location and at the root.
    for url in [
        metadata_url.clone(),
        format!("{}/.well-known/oauth-protected-resource", stack.origin()),
    ] {
        let doc = get_json(&stack.app.http, &url).await;
        assert_eq!(doc["resource"], stack.mcp.as_str(), "{url}");
        assert_eq!(doc["authorization_servers"], json!([stack.app.base]));
        assert_eq!(doc["scopes_supported"], json!([SCOPE, WRITE]));
    }

    // No token: 401 naming the metadata and the scope, without an error code.
    let resp = stack.call(None, initialize()).await;
    assert_eq!(resp.status(), 401);
    let value = challenge(&resp);
    assert!(value.starts_with("Bearer "), "{value}");
    assert!(
        value.contains(&format!(r#"resource_metadata="{metadata_url}""#)),
        "{value}"
    );
    assert!(value.contains(r#"scope="mcp:tools""#), "{value}");
    assert!(!value.contains("error="), "{value}");

    // A browser-based client may call from its own origin and read the challenge.
    let preflight = stack
        .app
        .http
        .request(reqwest::Method::OPTIONS, &stack.mcp)
        .header("origin", "https://inspector.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, mcp-protocol-version",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert!(
        preflight
            .headers()
            .contains_key("access-control-allow-origin")
    );
    let from_page = stack
        .app
        .http
        .post(&stack.mcp)
        .header("origin", "https://inspector.example")
        .json(&initialize())
        .send()
        .await
        .unwrap();
    assert_eq!(from_page.status(), 401);
    let exposed = from_page.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(exposed.contains("www-authenticate"), "{exposed}");
    assert!(
        from_page
            .headers()
            .get("access-control-allow-credentials")
            .is_none_or(|v| v != "true")
    );

    // Junk, and a good token for another audience (Latchkey itself): invalid_token.
    let for_latchkey = stack.token(SCOPE, None).await;
    for token in ["not.a.jwt", for_latchkey.as_str()] {
        let resp = stack.call(Some(token), initialize()).await;
        assert_eq!(resp.status(), 401, "{token}");
        let value = challenge(&resp);
        assert!(value.contains(r#"error="invalid_token""#), "{value}");
        assert!(value.contains("resource_metadata="), "{value}");
    }
    let aud = common::jwt_claims(&for_latchkey)["aud"].clone();
    assert_eq!(
        aud,
        stack.app.base.as_str(),
        "the refused token was otherwise good"
    );

    // The right audience, the wrong scope: 403 naming the scope needed.
    let under_scoped = stack.token("notes:read", Some(&stack.mcp)).await;
    let resp = stack.call(Some(&under_scoped), initialize()).await;
    assert_eq!(resp.status(), 403);
    let value = challenge(&resp);
    assert!(value.contains(r#"error="insufficient_scope""#), "{value}");
    assert!(value.contains(r#"scope="mcp:tools""#), "{value}");

    // The right token: MCP works, and the tool sees who called.
    let good = stack.token(SCOPE, Some(&stack.mcp)).await;
    let resp = stack.call(Some(&good), initialize()).await;
    assert_eq!(resp.status(), 200);
    let init: Value = resp.json().await.unwrap();
    assert!(
        init["result"]["capabilities"]["tools"].is_object(),
        "{init}"
    );
    let resp = stack
        .call(
            Some(&good),
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                   "params": {"name": "whoami", "arguments": {}}}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let result: Value = resp.json().await.unwrap();
    let text = result["result"]["content"][0]["text"].as_str().unwrap();
    let client_id = common::jwt_claims(&good)["client_id"].clone();
    assert!(text.contains(client_id.as_str().unwrap()), "{text}");

    // The writing tool needs the write scope too: 403 naming both (a client asks
    // for the union); with both scopes it works.
    let save = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                      "params": {"name": "save_note", "arguments": {"text": "milk"}}});
    let resp = stack.call(Some(&good), save.clone()).await;
    assert_eq!(resp.status(), 403);
    let value = challenge(&resp);
    assert!(value.contains(r#"error="insufficient_scope""#), "{value}");
    assert!(value.contains(r#"scope="mcp:tools mcp:write""#), "{value}");
    let batch = json!([save.clone()]);
    assert_eq!(stack.call(Some(&good), batch).await.status(), 403);
    let writer = stack
        .token(&format!("{SCOPE} {WRITE}"), Some(&stack.mcp))
        .await;
    let resp = stack.call(Some(&writer), save).await;
    assert_eq!(resp.status(), 200);
    let result: Value = resp.json().await.unwrap();
    assert_eq!(
        result["result"]["content"][0]["text"], "Saved: you have 1 note(s).",
        "{result}"
    );
}

/// Where the MCP TypeScript SDK is (`.ci/run` installs it and sets
/// LATCHKEY_MCP_SDK to the package directory).
fn mcp_sdk() -> Option<String> {
    npm_file(
        "LATCHKEY_MCP_SDK",
        "LATCHKEY_REQUIRE_MCP_SDK",
        "npm install @modelcontextprotocol/sdk and set LATCHKEY_MCP_SDK to node_modules/@modelcontextprotocol/sdk",
    )
}

/// Runs tests/mcp/client.mjs against `stack`; returns what it printed.
async fn sdk_client(stack: &Stack, sdk: &str, document: Option<&str>, consent: &str) -> Value {
    let mut node = std::process::Command::new("node");
    node.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/client.mjs"))
        .env("MCP_SDK", sdk)
        .env("MCP_URL", &stack.mcp)
        .env("ISSUER", &stack.app.base)
        .env("USERNAME", "mona")
        .env("PASSWORD", PASSWORD)
        .env("REDIRECT_URI", SDK_REDIRECT)
        .env("CONSENT_MUST_SHOW", consent)
        .env("CLIENT_METADATA_URL", document.unwrap_or_default());
    run_node_script(node).await
}

/// What a tool call by the SDK must show: the person, and tokens for the server.
fn assert_reached_the_tools(seen: &Value, user_id: &str, client_id: &str) {
    assert_eq!(seen["tools"], json!(["add", "save_note", "whoami"]));
    assert_eq!(seen["sum"], "42");
    let whoami = seen["whoami"].as_str().unwrap();
    assert!(whoami.contains(user_id), "{whoami}");
    assert!(whoami.contains(client_id), "{whoami}");
    assert_eq!(
        seen["scope"], SCOPE,
        "the SDK asked for the scope of the challenge"
    );
    assert_eq!(seen["token_scope"], SCOPE);
}

async fn sdk_with_a_client_metadata_document(backend: Backend) {
    let Some(sdk) = mcp_sdk() else {
        return;
    };
    let ca = TestCa::new();
    let docs = DocServer::start(&ca).await;
    // A document as an MCP client publishes it: one for every server, so no scope.
    let document = docs.route(
        "/mcp-client.json",
        Answer::Json(
            json!({
                "client_id": "{url}",
                "client_name": "MCP SDK test client",
                "client_uri": "https://agent.example",
                "redirect_uris": ["http://127.0.0.1/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "application_type": "native",
            })
            .to_string(),
            vec![("cache-control", "max-age=600".into())],
        ),
    );
    let stack = Stack::start(&backend, |a| ca.trusted_by(a)).await;
    let user_id = stack.app.user("mona", PASSWORD).await;

    // The consent page names the host the document came from (the name is the
    // client's own claim).
    let shown = r#"This app describes itself at <strong class="origin">localhost</strong>"#;
    let seen = sdk_client(&stack, &sdk, Some(&document), shown).await;
    assert_eq!(
        seen["client_id"],
        document.as_str(),
        "the URL is the client_id"
    );
    assert_reached_the_tools(&seen, &user_id, &document);
    assert_eq!(
        docs.hits("/mcp-client.json"),
        1,
        "fetched once, then cached"
    );
    let row = latchkey::store::clients::find_client(&stack.app.state.db, &document)
        .await
        .unwrap()
        .expect("the document client is kept for its grants");
    assert_eq!(row.application_type.as_deref(), Some("native"));
}

async fn sdk_with_dynamic_registration(backend: Backend) {
    let Some(sdk) = mcp_sdk() else {
        return;
    };
    let stack = Stack::start(&backend, |_| {}).await;
    let user_id = stack.app.user("mona", PASSWORD).await;
    // A self-registered app is flagged as such on the consent page.
    let seen = sdk_client(&stack, &sdk, None, "this app registered itself").await;
    let client_id = seen["client_id"].as_str().unwrap();
    assert!(!client_id.contains(':'), "a registered id: {client_id}");
    assert_reached_the_tools(&seen, &user_id, client_id);
    let row = latchkey::store::clients::find_client(&stack.app.state.db, client_id)
        .await
        .unwrap()
        .expect("registered by the SDK");
    assert_eq!(row.name, "MCP SDK test client");
    assert_eq!(row.application_type.as_deref(), Some("native"));
}

/// Where the MCP TypeScript SDK's v2 client package is (`.ci/run` installs it and
/// sets LATCHKEY_MCP_CLIENT to the package directory).
fn mcp_client_v2() -> Option<String> {
    npm_file(
        "LATCHKEY_MCP_CLIENT",
        "LATCHKEY_REQUIRE_MCP_CLIENT",
        "npm install @modelcontextprotocol/client@2 and set LATCHKEY_MCP_CLIENT to node_modules/@modelcontextprotocol/client",
    )
}

/// Runs tests/mcp/client_v2.mjs against `stack`; returns what it printed.
async fn client_v2(stack: &Stack, package: &str, document: Option<&str>, consent: &str) -> Value {
    let mut node = std::process::Command::new("node");
    node.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/mcp/client_v2.mjs"
    ))
    .env("MCP_CLIENT", package);
    run_journey(node, stack, document, consent).await
}

/// Runs a journey client (client_v2.mjs, client.py) against `stack` with the
/// environment both read; returns what it printed.
async fn run_journey(
    mut command: std::process::Command,
    stack: &Stack,
    document: Option<&str>,
    consent: &str,
) -> Value {
    command
        .env("MCP_URL", &stack.mcp)
        .env("ISSUER", &stack.app.base)
        .env("USERNAME", "mona")
        .env("PASSWORD", PASSWORD)
        .env("REDIRECT_URI", SDK_REDIRECT)
        .env("CONSENT_MUST_SHOW", consent)
        .env("EXPIRY_LEEWAY", EXPIRY_LEEWAY.to_string())
        .env("CLIENT_METADATA_URL", document.unwrap_or_default());
    run_node_script(command).await
}

/// A space-separated scope as a set.
fn scope_set(v: &Value) -> std::collections::BTreeSet<&str> {
    v.as_str().unwrap_or_default().split(' ').collect()
}

/// What the v2 and Python clients must have done: reached the tools asking
/// `offline_access` with `prompt=consent`, stepped up to the write scope with
/// consent to that scope only, and refreshed once the access token expired —
/// without sending the person anywhere a third time.
fn assert_journey(seen: &Value, user_id: &str, client_id: &str) {
    assert_eq!(seen["tools"], json!(["add", "save_note", "whoami"]));
    assert_eq!(seen["sum"], "42");
    let whoami = seen["whoami"].as_str().unwrap();
    assert!(whoami.contains(user_id), "{whoami}");
    assert!(whoami.contains(client_id), "{whoami}");
    assert_eq!(
        scope_set(&seen["scope"]),
        [SCOPE, "offline_access"].into(),
        "{seen}"
    );
    assert_eq!(seen["prompt"], "consent", "{seen}");
    assert_eq!(seen["has_refresh_token"], true, "{seen}");
    // Step-up: the union asked, only the new scope shown as asked.
    assert_eq!(
        scope_set(&seen["step_up_scope"]),
        [SCOPE, "offline_access", WRITE].into(),
        "{seen}"
    );
    assert_eq!(seen["step_up_consent"]["asked"], json!([WRITE]), "{seen}");
    assert_eq!(
        seen["step_up_consent"]["already"],
        json!([SCOPE, "offline_access"]),
        "{seen}"
    );
    assert_eq!(
        scope_set(&seen["step_up_token_scope"]),
        [SCOPE, WRITE, "offline_access"].into(),
        "{seen}"
    );
    assert_eq!(seen["saved"], "Saved: you have 1 note(s).");
    // Expiry: the SDK waited past `exp` and refreshed.
    assert!(seen["waited_seconds"].as_u64().unwrap() >= 1, "{seen}");
    assert_eq!(seen["refreshed"], true, "{seen}");
    assert!(
        seen["after_expiry"].as_str().unwrap().contains(user_id),
        "{seen}"
    );
    assert_eq!(seen["authorization_requests"], 2, "{seen}");
}

async fn client_v2_with_a_client_metadata_document(backend: Backend) {
    let Some(package) = mcp_client_v2() else {
        return;
    };
    let ca = TestCa::new();
    let docs = DocServer::start(&ca).await;
    // As a v2 client publishes its document: no application_type (derived
    // from the loopback redirect), no port on the loopback redirect URI.
    let document = docs.route(
        "/mcp-client-v2.json",
        Answer::Json(
            json!({
                "client_id": "{url}",
                "client_name": "MCP SDK v2 test client",
                "redirect_uris": ["http://127.0.0.1/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            })
            .to_string(),
            vec![("cache-control", "max-age=600".into())],
        ),
    );
    let stack = Stack::start(&backend, |a| {
        ca.trusted_by(a);
        a.access_token_ttl = Some(SHORT_TTL);
    })
    .await;
    let user_id = stack.app.user("mona", PASSWORD).await;
    let shown = r#"This app describes itself at <strong class="origin">localhost</strong>"#;
    let seen = client_v2(&stack, &package, Some(&document), shown).await;
    assert_eq!(seen["client_id"], document.as_str());
    assert_journey(&seen, &user_id, &document);
    assert_eq!(
        docs.hits("/mcp-client-v2.json"),
        1,
        "fetched once, then cached"
    );
}

async fn client_v2_with_dynamic_registration(backend: Backend) {
    let Some(package) = mcp_client_v2() else {
        return;
    };
    let stack = Stack::start(&backend, |a| a.access_token_ttl = Some(SHORT_TTL)).await;
    let user_id = stack.app.user("mona", PASSWORD).await;
    let seen = client_v2(&stack, &package, None, "this app registered itself").await;
    let client_id = seen["client_id"].as_str().unwrap();
    assert!(!client_id.contains(':'), "a registered id: {client_id}");
    assert_journey(&seen, &user_id, client_id);
    let row = latchkey::store::clients::find_client(&stack.app.state.db, client_id)
        .await
        .unwrap()
        .expect("registered by the SDK");
    assert_eq!(row.name, "MCP SDK v2 test client");
    assert!(
        !row.scopes.contains(WRITE),
        "it registered the first challenge's scope, and stepped up beyond it: {}",
        row.scopes
    );
    assert_eq!(
        row.application_type.as_deref(),
        Some("native"),
        "the SDK derived it from the loopback redirect"
    );
}

/// The Python of a virtual environment with PyPI `mcp` 2.x (`.ci/run` makes it
/// and sets LATCHKEY_MCP_PYTHON).
fn mcp_python() -> Option<String> {
    npm_file(
        "LATCHKEY_MCP_PYTHON",
        "LATCHKEY_REQUIRE_MCP_PYTHON",
        "python3 -m venv DIR && DIR/bin/pip install mcp==2.3.0, and set LATCHKEY_MCP_PYTHON to DIR/bin/python",
    )
}

/// Runs tests/mcp/client.py against `stack`; returns what it printed.
async fn python_client(
    stack: &Stack,
    python: &str,
    document: Option<&str>,
    consent: &str,
) -> Value {
    let mut py = std::process::Command::new(python);
    py.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/client.py"));
    run_journey(py, stack, document, consent).await
}

async fn python_sdk_with_a_client_metadata_document(backend: Backend) {
    let Some(python) = mcp_python() else {
        return;
    };
    let ca = TestCa::new();
    let docs = DocServer::start(&ca).await;
    let document = docs.route(
        "/mcp-client-py.json",
        Answer::Json(
            json!({
                "client_id": "{url}",
                "client_name": "MCP Python SDK test client",
                "redirect_uris": ["http://127.0.0.1/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "application_type": "native",
            })
            .to_string(),
            vec![("cache-control", "max-age=600".into())],
        ),
    );
    let stack = Stack::start(&backend, |a| {
        ca.trusted_by(a);
        a.access_token_ttl = Some(SHORT_TTL);
    })
    .await;
    let user_id = stack.app.user("mona", PASSWORD).await;
    let shown = r#"This app describes itself at <strong class="origin">localhost</strong>"#;
    let seen = python_client(&stack, &python, Some(&document), shown).await;
    assert_eq!(seen["client_id"], document.as_str());
    assert_journey(&seen, &user_id, &document);
    assert_eq!(seen["step_up_seen"], json!(["consent"]), "{seen}");
    assert_eq!(
        docs.hits("/mcp-client-py.json"),
        1,
        "fetched once, then cached"
    );
}

async fn python_sdk_with_dynamic_registration(backend: Backend) {
    let Some(python) = mcp_python() else {
        return;
    };
    let stack = Stack::start(&backend, |a| a.access_token_ttl = Some(SHORT_TTL)).await;
    let user_id = stack.app.user("mona", PASSWORD).await;
    let seen = python_client(&stack, &python, None, "this app registered itself").await;
    let client_id = seen["client_id"].as_str().unwrap();
    assert!(!client_id.contains(':'), "a registered id: {client_id}");
    assert_journey(&seen, &user_id, client_id);
    let row = latchkey::store::clients::find_client(&stack.app.state.db, client_id)
        .await
        .unwrap()
        .expect("registered by the SDK");
    assert_eq!(row.name, "MCP Python SDK test client");
    assert_eq!(row.application_type.as_deref(), Some("native"));
}

/// Where the MCP conformance tool is installed, with the Node 22 it needs
/// (`.ci/run` installs both into one npm prefix and sets LATCHKEY_MCP_CONFORMANCE).
fn conformance_prefix() -> Option<String> {
    npm_file(
        "LATCHKEY_MCP_CONFORMANCE",
        "LATCHKEY_REQUIRE_MCP_CONFORMANCE",
        "npm install --prefix DIR @modelcontextprotocol/conformance@0.2.0-alpha.12 node@22 and set LATCHKEY_MCP_CONFORMANCE to DIR",
    )
}

/// Kills the child process when a test fails half-way.
struct Reaped(std::process::Child);

impl Reaped {
    /// Its exit status once its output has ended; if it is still running, it hangs.
    fn exit_status(&mut self, printed: &[String]) -> std::process::ExitStatus {
        for _ in 0..50 {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("conformance hangs; printed:\n{}", printed.join("\n"));
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `conformance authorization` against Latchkey for `client_id`: the tool prints
/// an authorization URL and waits on its loopback callback; the person signs in
/// and approves, and the browser is sent to the callback. Returns what it printed,
/// the checks it saved, and whether it exited successfully.
async fn conformance_run(
    prefix: &str,
    stack: &Stack,
    client: (&str, Option<&str>),
    port: u16,
) -> (String, Vec<Value>, bool) {
    let (client_id, secret) = client;
    let log = tempfile::NamedTempFile::new().unwrap();
    let results = tempfile::tempdir().unwrap();
    let mut child = Reaped(
        std::process::Command::new(format!("{prefix}/node_modules/.bin/node"))
            .arg(format!(
                "{prefix}/node_modules/@modelcontextprotocol/conformance/dist/index.js"
            ))
            .args([
                "authorization",
                "--url",
                &stack.app.base,
                "--client-id",
                client_id,
            ])
            .args(["--resource", &stack.mcp, "--port", &port.to_string()])
            .args(secret.map(|s| ["--client-secret", s]).into_iter().flatten())
            .arg("--output-dir")
            .arg(results.path())
            .stdout(std::process::Stdio::piped())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let authorize = format!("{}/oauth/authorize?", stack.app.base);
    let (url, mut printed, rx) = tokio::task::spawn_blocking(move || {
        let mut printed = Vec::new();
        loop {
            let line = rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| {
                    panic!("no authorization URL; printed:\n{}", printed.join("\n"))
                });
            printed.push(line.clone());
            if line.starts_with(&authorize) {
                return (line, printed, rx);
            }
        }
    })
    .await
    .unwrap();

    // The person: signs in, then approves on the consent page.
    let browser = Browser::new(&stack.app);
    browser.login("mona", PASSWORD).await;
    let query: Vec<(String, String)> = query_of(&url).into_iter().collect();
    let query: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let approved = browser.decide(&query, "approve").await;
    assert_eq!(approved.status(), 303, "consent approved");
    let callback = common::location(&approved);
    assert!(
        callback.starts_with(&format!("http://127.0.0.1:{port}/callback?")),
        "{callback}"
    );
    // The browser follows the redirect to the tool's callback server.
    let answer = reqwest::get(&callback).await.unwrap();
    assert_eq!(answer.status(), 200);

    let (printed, status) = tokio::task::spawn_blocking(move || {
        // Until its output ends; a minute of silence is a hang (the child is
        // killed when `child` drops).
        while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(60)) {
            printed.push(line);
        }
        let status = child.exit_status(&printed);
        (printed, status)
    })
    .await
    .unwrap();
    let printed = printed.join("\n");
    let stderr = std::fs::read_to_string(log.path()).unwrap();
    let checks = saved_checks(results.path());
    assert!(!checks.is_empty(), "checks saved:\n{printed}\n{stderr}");
    (format!("{printed}\n{stderr}"), checks, status.success())
}

/// Every check in the `checks.json` files under `dir`.
fn saved_checks(dir: &std::path::Path) -> Vec<Value> {
    let mut checks = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            checks.extend(saved_checks(&path));
        } else if path.file_name().is_some_and(|n| n == "checks.json") {
            let list: Vec<Value> =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            checks.extend(list);
        }
    }
    checks
}

async fn conformance_authorization_scenarios(backend: Backend) {
    let Some(prefix) = conformance_prefix() else {
        return;
    };
    let ca = TestCa::new();
    let docs = DocServer::start(&ca).await;
    let stack = Stack::start(&backend, |a| ca.trusted_by(a)).await;
    stack.app.user("mona", PASSWORD).await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let callback = format!("http://127.0.0.1:{port}/callback");

    // A pre-registered public client, as the tool's instructions say; a
    // confidential one (it authenticates at the token endpoint with its secret);
    // and a client that is only a metadata document.
    let registered = stack.app.public_client(&callback, SCOPE).await;
    let confidential = stack.app.web_client(&callback, SCOPE).await;
    let document = docs.document("/conformance.json", "http://127.0.0.1/callback", 600);

    for (client_id, secret) in [
        (registered.as_str(), None),
        (confidential.id.as_str(), Some(confidential.secret.as_str())),
        (document.as_str(), None),
    ] {
        let (printed, checks, passed) =
            conformance_run(&prefix, &stack, (client_id, secret), port).await;
        println!("conformance authorization, client {client_id}:\n{printed}");
        let check = |id: &str| checks.iter().find(|c| c["id"] == id);
        for id in [
            "authorization-server-metadata",
            "authorization-server-metadata-cimd",
        ] {
            assert_eq!(
                check(id).map(|c| &c["status"]),
                Some(&json!("SUCCESS")),
                "{id}: {checks:#?}"
            );
        }
        let grant = check("authorization-code-grant").expect("the code grant was checked");
        if secret.is_some() {
            // The tool (0.2.0-alpha.12, and its main branch) authenticates with
            // `none` whenever the metadata lists it, even when given a secret
            // (authorization-code-grant.ts, selectTokenAuthMethod). Latchkey lists
            // `none` for its public clients, so the tool redeems the confidential
            // client's code without the secret — and Latchkey refuses, as it must.
            // Everything before the token request passed. When the tool prefers a
            // secret method, this expectation turns into SUCCESS like the others.
            assert!(
                !passed,
                "the tool now authenticates; expect SUCCESS:\n{printed}"
            );
            assert_eq!(grant["status"], "FAILURE", "{grant:#}");
            assert_eq!(
                grant["errorMessage"], "Invalid status code: 401",
                "{grant:#}"
            );
            let metadata = check("authorization-server-metadata").unwrap();
            let listed = &metadata["details"]["body"]["token_endpoint_auth_methods_supported"];
            assert!(
                listed
                    .as_array()
                    .is_some_and(|m| m.contains(&json!("none"))),
                "{checks:#?}"
            );
            continue;
        }
        assert!(passed, "conformance failed:\n{printed}\n{checks:#?}");
        // Nothing failed, warned or was skipped.
        for check in &checks {
            assert_eq!(check["status"], "SUCCESS", "{check:#}");
        }
    }
    assert_eq!(docs.hits("/conformance.json"), 1);
}

/// The SDK's `PrivateKeyJwtProvider`: a service with a key pair and no secret
/// reaches the tools by client credentials, each token request authenticated by a
/// fresh assertion (the provider signs for 300 s, for the issuer).
async fn sdk_private_key_jwt_client_credentials(backend: Backend) {
    let Some(sdk) = mcp_sdk() else {
        return;
    };
    let stack = Stack::start(&backend, |_| {}).await;
    let key = common::jose::TestKey::es256("machine-1");
    let created = latchkey::services::clients::create_client(
        &stack.app.state.db,
        &stack.app.state.settings.scopes,
        latchkey::oauth::registration::ClientMetadata {
            name: "MCP machine".into(),
            grant_types: vec![latchkey::oauth::types::GrantType::ClientCredentials],
            scope: Some(format!("{SCOPE} {WRITE}")),
            keys: Some(latchkey::oauth::registration::KeysMetadata::Jwks(
                common::jose::TestKey::set(&[&key]),
            )),
            ..Default::default()
        },
        Default::default(),
        real_now(),
    )
    .await
    .unwrap();
    let id = created.row.id;
    let mut node = std::process::Command::new("node");
    node.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/mcp/machine.mjs"
    ))
    .env("MCP_SDK", &sdk)
    .env("MCP_URL", &stack.mcp)
    .env("ISSUER", &stack.app.base)
    .env("CLIENT_ID", &id)
    .env("KEY_PEM", key.pkcs8_pem())
    .env("KEY_ALG", key.alg());
    let seen = run_node_script(node).await;
    assert_eq!(seen["tools"], json!(["add", "save_note", "whoami"]));
    assert!(seen["whoami"].as_str().unwrap().contains(&id), "{seen}");
    assert_eq!(seen["token_scope"], SCOPE);
    let claims = common::jwt_claims(seen["access_token"].as_str().unwrap());
    assert_eq!(
        claims["aud"],
        stack.mcp.as_str(),
        "a token for the MCP server"
    );
    assert_eq!(claims["client_id"], id.as_str());
}

/// The example server verifies a DPoP-bound token locally (JWKS, proof, `ath`,
/// `cnf.jkt`, a `jti` cache) and refuses it without its key.
async fn the_server_checks_dpop_bound_tokens(backend: Backend) {
    use common::jose::{TestKey, ath};
    let stack = Stack::start(&backend, |_| {}).await;
    let app = &stack.app;
    let client = app.client(Some(SCOPE)).await;
    let key = TestKey::es256("agent");
    let now = real_now();
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&client.id, Some(&client.secret))
        .header(
            "DPoP",
            key.proof("POST", &app.url("/oauth/token"), now, json!({})),
        )
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", SCOPE),
            ("resource", &stack.mcp),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap();
    let call = |scheme: &'static str, proof: Option<String>| {
        let mut req = app
            .http
            .post(&stack.mcp)
            .header("accept", "application/json, text/event-stream")
            .header("authorization", format!("{scheme} {token}"))
            .json(&initialize());
        if let Some(p) = proof {
            req = req.header("DPoP", p);
        }
        async move { req.send().await.unwrap() }
    };
    let good = || key.proof("POST", &stack.mcp, real_now(), json!({"ath": ath(token)}));
    let once = good();
    assert_eq!(call("DPoP", Some(once.clone())).await.status(), 200);
    let other = TestKey::es256("thief");
    for (scheme, proof, error) in [
        ("Bearer", None, "DPoP-bound"),
        ("DPoP", None, "exactly one DPoP proof"),
        ("DPoP", Some(once), "used before"),
        (
            "DPoP",
            Some(other.proof("POST", &stack.mcp, real_now(), json!({"ath": ath(token)}))),
            "another key",
        ),
        (
            "DPoP",
            Some(key.proof("POST", &stack.mcp, real_now(), json!({"ath": ath("x")}))),
            "ath",
        ),
        (
            "DPoP",
            Some(key.proof("GET", &stack.mcp, real_now(), json!({"ath": ath(token)}))),
            "htm",
        ),
    ] {
        let resp = call(scheme, proof).await;
        assert_eq!(resp.status(), 401, "{error}");
        let value = challenge(&resp);
        assert!(value.contains(error), "{error}: {value}");
        assert!(value.contains("DPoP "), "{value}");
    }
    assert_eq!(call("DPoP", Some(good())).await.status(), 200);
}
