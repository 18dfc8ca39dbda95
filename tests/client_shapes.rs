//! Requests as real clients send them, kept as fixtures: each test replays one
//! shape that a shipping client (Cursor, Claude's clients, the MCP SDKs) sends
//! and that Latchkey must accept, on both databases.

// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::flow::{PASSWORD, Party, public_flow_scoped};
use common::tls::{Answer, DocServer, TestCa};
use common::{
    Backend, Browser, TestApp, expect_oauth_error, jwt_claims, location, pkce_pair, query_of,
    unescape,
};
use serde_json::{Value, json};

both_backends!(
    cursor_registration_body,
    resource_with_a_trailing_slash,
    resource_spelled_another_way_through_code_and_refresh,
    scope_with_a_leading_space,
    document_with_portless_loopback_redirects,
    prompt_consent_with_offline_access,
    public_refresh_after_a_lost_response,
    step_up_consent_asks_only_what_is_new,
    registered_scope_then_a_step_up,
);

/// The configuration of an API at an origin (as Claude's clients see it) and an
/// MCP server at a path.
const RESOURCES: &str = r#"resources = ["{issuer}", "https://api.example.com", "https://mcp.example.com/mcp"]
[[scopes]]
name = "mcp:tools"
description = "Use the tools"
"#;

async fn app_with_resources(backend: &Backend) -> TestApp {
    TestApp::builder().config(RESOURCES).spawn(backend).await
}

/// Cursor's dynamic registration, as its issue trackers show it: three redirect
/// URIs in one request — its private-use scheme, its hosted callback and a
/// loopback one — and no `application_type`. Before: 400 `invalid_redirect_uri`
/// (the scheme has no dot). After: registered as a native public client, and the
/// person is sent to the app with its scheme shown.
async fn cursor_registration_body(backend: Backend) {
    let app = app_with_resources(&backend).await;
    let resp = app
        .http
        .post(app.url("/oauth/register"))
        .json(&json!({
            "client_name": "Cursor",
            "redirect_uris": [
                "cursor://anysphere.cursor-mcp/oauth/callback",
                "https://www.cursor.com/agents/mcp/oauth/callback",
                "http://localhost:8787/callback",
            ],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let info: Value = resp.json().await.unwrap();
    assert_eq!(info["application_type"], "native", "{info}");
    assert_eq!(info["token_endpoint_auth_method"], "none");
    assert_eq!(info["redirect_uris"].as_array().unwrap().len(), 3);
    let client_id = info["client_id"].as_str().unwrap();

    app.user("carol", PASSWORD).await;
    let browser = Browser::new(&app);
    browser.login("carol", PASSWORD).await;
    let party = Party {
        app: &app,
        browser: &browser,
        client_id,
        redirect_uri: "cursor://anysphere.cursor-mcp/oauth/callback",
    };
    let (verifier, challenge) = pkce_pair();
    let query = party.query(&challenge, "mcp:tools");
    let page = common::unescape(&browser.authorize(&query).await.text().await.unwrap());
    assert!(
        page.contains(
            "the app on this device that opens <strong>cursor://anysphere.cursor-mcp</strong> links"
        ),
        "{page}"
    );
    assert!(
        page.contains("Continue only if you trust <strong>cursor://anysphere.cursor-mcp</strong>"),
        "{page}"
    );
    let code = party.code(&challenge, "mcp:tools").await;
    let tokens = party.exchanged(&code, &verifier).await;
    assert!(tokens["refresh_token"].is_string());

    // The scheme is the app's, not a wildcard: another path of it is not registered.
    let other = Party {
        redirect_uri: "cursor://anysphere.cursor-mcp/elsewhere",
        ..party
    };
    let resp = browser
        .authorize(&other.query(&challenge, "mcp:tools"))
        .await;
    assert_eq!(
        resp.status(),
        400,
        "an unregistered redirect URI never redirects"
    );

    // What must stay refused, whatever the client says it is.
    for uri in [
        "javascript://anysphere.cursor-mcp/%0Aalert(1)",
        "data:text/html,hi",
        "file:///tmp/cb",
        "http://www.cursor.com/cb",
    ] {
        let resp = app
            .http
            .post(app.url("/oauth/register"))
            .json(&json!({
                "client_name": "Not Cursor",
                "application_type": "native",
                "redirect_uris": [uri],
                "token_endpoint_auth_method": "none",
            }))
            .send()
            .await
            .unwrap();
        expect_oauth_error(resp, 400, "invalid_redirect_uri").await;
    }
}

/// Claude's clients add `/` to an origin-only resource. Before: 400
/// `invalid_target`. After: a token whose `aud` is the configured spelling; a path
/// resource stays exact.
async fn resource_with_a_trailing_slash(backend: Backend) {
    let app = app_with_resources(&backend).await;
    let client = app.client(Some("mcp:tools")).await;
    for (sent, aud) in [
        ("https://api.example.com/", "https://api.example.com"),
        ("https://API.example.com", "https://api.example.com"),
        ("https://api.example.com:443", "https://api.example.com"),
        ("https://mcp.example.com/mcp", "https://mcp.example.com/mcp"),
        ("https://MCP.example.com/mcp", "https://mcp.example.com/mcp"),
    ] {
        let resp = app
            .token_basic(
                &client,
                &[("grant_type", "client_credentials"), ("resource", sent)],
            )
            .await;
        assert_eq!(resp.status(), 200, "{sent}");
        let body: Value = resp.json().await.unwrap();
        let claims = jwt_claims(body["access_token"].as_str().unwrap());
        assert_eq!(claims["aud"], aud, "{sent}");
    }
    for sent in ["https://mcp.example.com/mcp/", "https://api.example.com/v1"] {
        let resp = app
            .token_basic(
                &client,
                &[("grant_type", "client_credentials"), ("resource", sent)],
            )
            .await;
        let body = expect_oauth_error(resp, 400, "invalid_target").await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("not a resource this server issues tokens for"),
            "{body}"
        );
    }
}

/// The same resource spelled differently at each step of the code flow: the
/// authorization, the code exchange and a narrowing refresh all agree, and every
/// token names it as configured.
async fn resource_spelled_another_way_through_code_and_refresh(backend: Backend) {
    let app = app_with_resources(&backend).await;
    let f = public_flow_scoped(app, "mcp:tools").await;
    let party = f.party();
    let (verifier, challenge) = pkce_pair();
    let code = party
        .code_with(
            &challenge,
            "mcp:tools",
            &[
                ("resource", "https://api.example.com/"),
                ("resource", "https://MCP.example.com/mcp"),
            ],
        )
        .await;
    let resp = f
        .app
        .token_public(&[
            ("grant_type", "authorization_code"),
            ("client_id", &f.client_id),
            ("code", &code),
            ("redirect_uri", common::flow::CB),
            ("code_verifier", &verifier),
            ("resource", "https://api.example.com"),
            ("resource", "https://mcp.example.com:443/mcp"),
        ])
        .await;
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(
        jwt_claims(tokens["access_token"].as_str().unwrap())["aud"],
        json!(["https://api.example.com", "https://mcp.example.com/mcp"])
    );
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let resp = f
        .app
        .token_public(&[
            ("grant_type", "refresh_token"),
            ("client_id", &f.client_id),
            ("refresh_token", refresh),
            ("resource", "https://API.example.com/"),
        ])
        .await;
    assert_eq!(resp.status(), 200);
    let narrowed: Value = resp.json().await.unwrap();
    assert_eq!(
        jwt_claims(narrowed["access_token"].as_str().unwrap())["aud"],
        "https://api.example.com"
    );
    // Widening is still refused, however the resource is written.
    let resp = f
        .app
        .token_public(&[
            ("grant_type", "refresh_token"),
            ("client_id", &f.client_id),
            ("refresh_token", narrowed["refresh_token"].as_str().unwrap()),
            ("resource", &f.app.base),
        ])
        .await;
    expect_oauth_error(resp, 400, "invalid_target").await;
}

/// A client that joins an empty challenge scope with `offline_access` sends
/// `scope=" offline_access"`. Accepted as the one scope, with a refresh token.
async fn scope_with_a_leading_space(backend: Backend) {
    let f = public_flow_scoped(TestApp::spawn(&backend).await, "profile").await;
    let party = f.party();
    let (verifier, challenge) = pkce_pair();
    let query = party.query(&challenge, " offline_access");
    let consent = f.browser.authorize(&query).await;
    assert_eq!(consent.status(), 200, "the consent page");
    let code = party.code(&challenge, " offline_access").await;
    let tokens = party.exchanged(&code, &verifier).await;
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    let refreshed = party
        .refresh(tokens["refresh_token"].as_str().unwrap(), None)
        .await;
    assert_eq!(refreshed.status(), 200);
}

/// A metadata document whose loopback redirect URI has no port, used with the
/// port the client listens on (RFC 8252 §7.3), as the MCP SDKs publish them.
async fn document_with_portless_loopback_redirects(backend: Backend) {
    let ca = TestCa::new();
    let docs = DocServer::start(&ca).await;
    let document = docs.route(
        "/client.json",
        Answer::Json(
            json!({
                "client_id": "{url}",
                "client_name": "Portless agent",
                "redirect_uris": ["http://localhost/callback", "http://127.0.0.1/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            })
            .to_string(),
            vec![("cache-control", "max-age=600".into())],
        ),
    );
    let app = TestApp::builder()
        .args(|a| ca.trusted_by(a))
        .spawn(&backend)
        .await;
    app.user("dora", PASSWORD).await;
    let browser = Browser::new(&app);
    browser.login("dora", PASSWORD).await;
    for redirect_uri in [
        "http://localhost:53682/callback",
        "http://127.0.0.1:33418/callback",
    ] {
        let party = Party {
            app: &app,
            browser: &browser,
            client_id: &document,
            redirect_uri,
        };
        let tokens = party.tokens("profile").await;
        assert!(tokens["access_token"].is_string(), "{redirect_uri}");
    }
    // The port is free; the host and the path are not.
    let party = Party {
        app: &app,
        browser: &browser,
        client_id: &document,
        redirect_uri: "http://localhost:53682/other",
    };
    let (_, challenge) = pkce_pair();
    let resp = browser.authorize(&party.query(&challenge, "profile")).await;
    assert_eq!(resp.status(), 400);
}

/// The MCP TypeScript SDK v2 asks `offline_access` with `prompt=consent` (OpenID
/// Connect Core §11). The page is shown even though consent is remembered, and a
/// refresh token comes with an OpenID request.
async fn prompt_consent_with_offline_access(backend: Backend) {
    let f = public_flow_scoped(TestApp::spawn(&backend).await, "openid profile").await;
    let party = f.party();
    let scope = "openid profile offline_access";
    let first = f.tokens(scope).await;
    assert!(first["refresh_token"].is_string());
    // Remembered: without prompt the page is skipped...
    let (verifier, challenge) = pkce_pair();
    let query = party.query(&challenge, scope);
    assert_eq!(f.browser.authorize(&query).await.status(), 303);
    // ...with prompt=consent it is shown, and approving gives a refresh token.
    let mut query = party.query(&challenge, scope);
    query.extend([("prompt", "consent"), ("nonce", "n-1")]);
    let page = f.browser.authorize(&query).await;
    assert_eq!(page.status(), 200, "prompt=consent shows the page");
    let approved = f.browser.decide(&query, "approve").await;
    assert_eq!(approved.status(), 303);
    let code = query_of(&location(&approved))["code"].clone();
    let tokens = party.exchanged(&code, &verifier).await;
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    assert!(tokens["id_token"].is_string());
    assert!(
        tokens["scope"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == "offline_access"),
        "{tokens}"
    );
}

/// A public client (an MCP agent on a flaky network) refreshes, loses the
/// response, and retries with the same refresh token within the reuse interval:
/// it gets a fresh pair, and the lost one is dead.
async fn public_refresh_after_a_lost_response(backend: Backend) {
    let app = TestApp::builder()
        .args(|a| a.refresh_reuse_interval = Some(10))
        .spawn(&backend)
        .await;
    let f = public_flow_scoped(app, "profile").await;
    let first = f.tokens("profile").await;
    let rt = first["refresh_token"].as_str().unwrap();
    let lost: Value = f.refresh(rt, None).await.json().await.unwrap();
    f.app.clock.advance(3);
    let retried = f.refresh(rt, None).await;
    assert_eq!(retried.status(), 200);
    let retried: Value = retried.json().await.unwrap();
    assert_eq!(
        f.app
            .introspect(lost["refresh_token"].as_str().unwrap())
            .await["active"],
        false,
        "the successor it never received is revoked"
    );
    let next = f
        .refresh(retried["refresh_token"].as_str().unwrap(), None)
        .await;
    assert_eq!(next.status(), 200, "the retried pair carries on");
}

/// An MCP client allowed `profile` meets a tool that needs `email` and asks for
/// both (the SDKs' step-up asks the union). The page asks only for `email` and
/// names `profile` as already allowed; the JSON data says the same.
async fn step_up_consent_asks_only_what_is_new(backend: Backend) {
    let f = public_flow_scoped(TestApp::spawn(&backend).await, "profile email").await;
    f.tokens("profile").await;
    let (verifier, challenge) = pkce_pair();
    let query = f.query(&challenge, "profile email");
    let page = f.browser.authorize(&query).await;
    assert_eq!(page.status(), 200);
    let html = unescape(&page.text().await.unwrap());
    let (asked, rest) = html.split_once("Already allowed:").expect(&html);
    let asked = &asked[asked.find("will also be able to:").expect(asked)..];
    assert!(asked.contains("<code>email</code>"), "{asked}");
    assert!(!asked.contains("<code>profile</code>"), "{asked}");
    assert!(rest.contains("<code>profile</code>"), "{rest}");
    let data: Value = f
        .browser
        .http
        .get(f.browser.url("/oauth/authorize"))
        .query(&query)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(data["scopes"][0]["name"], "email", "{data}");
    assert_eq!(data["already_granted"], json!(["profile"]), "{data}");
    // Approving grants the union, and the next request for it is not asked.
    let approved = f.browser.decide(&query, "approve").await;
    let code = query_of(&location(&approved))["code"].clone();
    let tokens = f.party().exchanged(&code, &verifier).await;
    assert_eq!(tokens["scope"], "email profile", "{tokens}");
    assert_eq!(f.browser.authorize(&query).await.status(), 303);
}

/// The MCP TypeScript SDK v2 registers with the scope of the first challenge
/// (`scope: "profile"`), then steps up when a tool needs more. Before: 302 with
/// `invalid_scope` ("this application may not ask for the scope `email`") — the
/// client cannot update its registration, so it was stuck. After: a client's own
/// list is its default, not a limit; the person consents to the rest. An app whose
/// list its owner or the operator set is still held to it.
async fn registered_scope_then_a_step_up(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let redirect_uri = "http://127.0.0.1:9/callback";
    let resp = app
        .http
        .post(app.url("/oauth/register"))
        .json(&json!({
            "client_name": "Step-up agent",
            "redirect_uris": [redirect_uri],
            "token_endpoint_auth_method": "none",
            "scope": "profile",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let info: Value = resp.json().await.unwrap();
    assert_eq!(info["scope"], "profile", "{info}");
    app.user("carol", PASSWORD).await;
    let browser = Browser::new(&app);
    browser.login("carol", PASSWORD).await;
    let party = Party {
        app: &app,
        browser: &browser,
        client_id: info["client_id"].as_str().unwrap(),
        redirect_uri,
    };
    let (verifier, challenge) = pkce_pair();
    // Without scope: the registered list.
    let mut query = party.query(&challenge, "");
    query.retain(|(k, _)| *k != "scope");
    let code = query_of(&location(&browser.decide(&query, "approve").await))["code"].clone();
    assert_eq!(party.exchanged(&code, &verifier).await["scope"], "profile");
    // The step-up asks for the new scope only, and gets the union.
    let code = party.code(&challenge, "profile email").await;
    assert_eq!(
        party.exchanged(&code, &verifier).await["scope"],
        "email profile"
    );
    // Unknown scopes are still refused.
    let resp = browser.authorize(&party.query(&challenge, "nope")).await;
    assert_eq!(query_of(&location(&resp))["error"], "invalid_scope");

    // An operator's client with the same list is held to it.
    let listed = app.public_client(redirect_uri, "profile").await;
    let held = Party {
        client_id: &listed,
        ..party
    };
    let resp = browser
        .authorize(&held.query(&challenge, "profile email"))
        .await;
    let back = query_of(&location(&resp));
    assert_eq!(back["error"], "invalid_scope", "{back:?}");
}
