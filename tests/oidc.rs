//! OpenID Connect: a certified relying party library (openid-client) signs a person
//! in, reads UserInfo, refreshes and signs out; and the provider's rules one by
//! one — prompt, max_age, nonce, offline_access, the default scope, ID tokens kept
//! apart from access tokens, UserInfo, discovery and RP-initiated logout.

// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::flow::{CB, PASSWORD, Party, public_flow_scoped};
use common::{Backend, Browser, TestApp, get_json, location, pkce_pair, query_of};
use latchkey::keys::Alg;
use latchkey::oauth::registration::ClientMetadata;
use serde_json::Value;

both_backends!(
    openid_client_rs256,
    openid_client_es256,
    openid_client_eddsa,
    discovery_document,
    id_token_claims_and_nonce,
    offline_access_both_ways,
    refresh_keeps_issuing_id_tokens,
    prompt_login_and_max_age,
    prompt_none_without_session,
    id_token_hint_names_who_is_expected,
    scope_defaults_to_the_registered_scopes,
    id_tokens_and_access_tokens_stay_apart,
    code_replay_still_revokes,
    userinfo_rules,
    end_session_rules,
    post_logout_redirect_uris_are_registered,
);

/// Where openid-client's module is (`.ci/run` installs it and sets
/// LATCHKEY_OPENID_CLIENT).
fn openid_client_module() -> Option<String> {
    common::npm_file(
        "LATCHKEY_OPENID_CLIENT",
        "LATCHKEY_REQUIRE_OPENID_CLIENT",
        "npm install openid-client@6 and set LATCHKEY_OPENID_CLIENT to its build/index.js",
    )
}

const RP_REDIRECT: &str = "http://127.0.0.1:9/cb";
const RP_SIGNED_OUT: &str = "http://127.0.0.1:9/signed-out";

/// Runs tests/oidc/rp.mjs against a server whose key is of `alg`.
async fn openid_client(backend: Backend, alg: Alg) {
    let Some(module) = openid_client_module() else {
        return;
    };
    let app = TestApp::builder()
        .key_alg(alg)
        // openid-client checks token times against the real clock.
        .now(common::real_now())
        .spawn(&backend)
        .await;
    let user_id = app.user("rita", PASSWORD).await;
    let client = app
        .client_from(ClientMetadata {
            name: "Relying Party".into(),
            redirect_uris: vec![RP_REDIRECT.into()],
            post_logout_redirect_uris: vec![RP_SIGNED_OUT.into()],
            ..Default::default()
        })
        .await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc/rp.mjs");
    let mut node = std::process::Command::new("node");
    node.arg(script)
        .env("OPENID_CLIENT", &module)
        .env("ISSUER", &app.base)
        .env("CLIENT_ID", &client.id)
        .env("CLIENT_SECRET", &client.secret)
        .env("REDIRECT_URI", RP_REDIRECT)
        .env("POST_LOGOUT_URI", RP_SIGNED_OUT)
        .env("USERNAME", "rita")
        .env("PASSWORD", PASSWORD)
        .env("EXPECTED_ALG", alg.as_str());
    let seen = common::run_node_script(node).await;
    assert_eq!(seen["sub"], user_id.as_str(), "sub is the user's id");
    assert_eq!(seen["alg"], alg.as_str());
}

async fn openid_client_rs256(backend: Backend) {
    openid_client(backend, Alg::Rs256).await
}

async fn openid_client_es256(backend: Backend) {
    openid_client(backend, Alg::Es256).await
}

async fn openid_client_eddsa(backend: Backend) {
    openid_client(backend, Alg::EdDsa).await
}

/// The JWT's header and claims, unverified (the tests check what was issued).
fn parts(jwt: &str) -> (Value, Value) {
    let mut it = jwt.split('.');
    let mut decode =
        || serde_json::from_slice(&URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap()).unwrap();
    let header = decode();
    let claims = decode();
    (header, claims)
}

async fn discovery_document(backend: Backend) {
    let app = TestApp::builder().key_alg(Alg::Es256).spawn(&backend).await;
    let doc = get_json(&app.http, &app.url("/.well-known/openid-configuration")).await;
    // Discovery §3: every REQUIRED member.
    for member in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ] {
        assert!(doc.get(member).is_some(), "{member}");
    }
    assert_eq!(doc["issuer"], app.base.as_str());
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(doc["end_session_endpoint"], app.url("/oauth/logout"));
    assert_eq!(doc["userinfo_endpoint"], app.url("/oauth/userinfo"));
    assert_eq!(doc["request_uri_parameter_supported"], false);
    let scopes = doc["scopes_supported"].as_array().unwrap();
    assert!(scopes.contains(&"openid".into()) && scopes.contains(&"offline_access".into()));
    let prompts = doc["prompt_values_supported"].as_array().unwrap();
    assert!(prompts.contains(&"login".into()) && prompts.contains(&"none".into()));
    assert!(
        doc["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&"email_verified".into())
    );
    // The RFC 8414 document keeps its own members and says nothing OpenID-only.
    let oauth = get_json(
        &app.http,
        &app.url("/.well-known/oauth-authorization-server"),
    )
    .await;
    assert_eq!(oauth["issuer"], doc["issuer"]);
    assert!(oauth.get("subject_types_supported").is_none());
    // After a rotation to another algorithm, both algorithms are published.
    latchkey::keys::rotate(app.keys_dir.path(), Alg::Rs256, common::START, None).unwrap();
    let mut algs = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        algs = get_json(&app.http, &app.url("/.well-known/openid-configuration")).await
            ["id_token_signing_alg_values_supported"]
            .clone();
        if algs.as_array().unwrap().len() == 2 {
            break;
        }
    }
    assert_eq!(algs, serde_json::json!(["ES256", "RS256"]));
}

/// A public client allowed the OpenID scopes, `alice` signed in.
async fn openid_flow(backend: &Backend) -> common::flow::Flow {
    public_flow_scoped(
        TestApp::spawn(backend).await,
        "openid offline_access profile email",
    )
    .await
}

async fn id_token_claims_and_nonce(backend: Backend) {
    let flow = openid_flow(&backend).await;
    let p = flow.party();
    let (verifier, challenge) = pkce_pair();
    // A nonce with characters that need encoding comes back byte for byte.
    let nonce = "n-0S6 WzA2Mj/é+ä=";
    let code = p
        .code_with(&challenge, "openid profile email", &[("nonce", nonce)])
        .await;
    let body = p.exchanged(&code, &verifier).await;
    assert!(body.get("refresh_token").is_none(), "no offline_access");
    let (header, claims) = parts(body["id_token"].as_str().unwrap());
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].is_string());
    assert_eq!(claims["nonce"], nonce);
    assert_eq!(claims["iss"], flow.app.base.as_str());
    assert_eq!(claims["sub"], flow.user_id.as_str());
    assert_eq!(claims["aud"], flow.client_id.as_str());
    assert_eq!(claims["iat"], common::START);
    assert_eq!(claims["exp"], common::START + 3600);
    assert_eq!(claims["auth_time"], common::START, "signed in at START");
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["name"], "alice example");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        body["access_token"].as_str().unwrap().as_bytes(),
    );
    assert_eq!(
        claims["at_hash"],
        URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
    );
    // Only what the scope releases: no email claims without `email`.
    let (verifier, challenge) = pkce_pair();
    let code = p.code(&challenge, "openid").await;
    let body: Value = p.exchanged(&code, &verifier).await;
    let (_, claims) = parts(body["id_token"].as_str().unwrap());
    assert!(claims.get("nonce").is_none(), "no nonce sent, none echoed");
    for absent in ["email", "email_verified", "name", "preferred_username"] {
        assert!(claims.get(absent).is_none(), "{absent}");
    }
    // A plain OAuth request (no openid) gets no ID token.
    let body = p.tokens("profile").await;
    assert!(body.get("id_token").is_none());
    assert!(
        body["refresh_token"].is_string(),
        "plain OAuth keeps refresh"
    );
}

async fn offline_access_both_ways(backend: Backend) {
    let flow = openid_flow(&backend).await;
    let p = flow.party();
    let without = p.tokens("openid profile").await;
    assert!(without["id_token"].is_string());
    assert!(without.get("refresh_token").is_none(), "{without}");
    let with = p.tokens("openid offline_access").await;
    assert!(with["refresh_token"].is_string(), "{with}");
    // The consent page says what offline_access means.
    let (_, challenge) = pkce_pair();
    let mut query = p.query(&challenge, "openid offline_access profile");
    query.push(("prompt", "consent"));
    let page = p.browser.authorize(&query).await.text().await.unwrap();
    assert!(page.contains("Stay signed in to this app while you are away"));
}

async fn refresh_keeps_issuing_id_tokens(backend: Backend) {
    let flow = openid_flow(&backend).await;
    let p = flow.party();
    let first = p.tokens("openid offline_access email").await;
    let (_, original) = parts(first["id_token"].as_str().unwrap());
    flow.app.clock.advance(120);
    let resp = p
        .refresh(first["refresh_token"].as_str().unwrap(), None)
        .await;
    assert_eq!(resp.status(), 200);
    let second: Value = resp.json().await.unwrap();
    let (_, renewed) = parts(second["id_token"].as_str().unwrap());
    // Core §12.2: same iss, sub, aud, auth_time; a new iat; no nonce.
    for same in ["iss", "sub", "aud", "auth_time"] {
        assert_eq!(renewed[same], original[same], "{same}");
    }
    assert_eq!(renewed["iat"], common::START + 120);
    assert!(renewed.get("nonce").is_none());
    // Narrowed without openid: no ID token.
    let resp = p
        .refresh(second["refresh_token"].as_str().unwrap(), Some("email"))
        .await;
    let third: Value = resp.json().await.unwrap();
    assert!(third.get("id_token").is_none(), "{third}");
}

async fn prompt_login_and_max_age(backend: Backend) {
    let flow = openid_flow(&backend).await;
    let p = flow.party();
    // Consent given once, so only the sign-in is asked for below.
    p.tokens("openid").await;
    let (verifier, challenge) = pkce_pair();
    let mut query = p.query(&challenge, "openid");
    query.push(("prompt", "login"));
    query.push(("login_hint", "alice"));
    let resp = p.browser.authorize(&query).await;
    assert_eq!(resp.status(), 303, "sign-in page despite the session");
    let login = location(&resp);
    assert!(login.starts_with("/login?"), "{login}");
    let page = p.browser.page(&login).await;
    assert!(page.contains("confirm who you are"), "the page says why");
    assert!(page.contains(r#"value="alice""#), "login_hint pre-fills");
    // Sign in again, an hour later; auth_time moves.
    flow.app.clock.advance(3600);
    let csrf = common::hidden_value(&page, "csrf_token").unwrap();
    let next = common::hidden_value(&page, "next").unwrap();
    assert!(
        !next.contains("prompt=login"),
        "the way back drops prompt=login: {next}"
    );
    let resp = p
        .browser
        .http
        .post(p.browser.url("/login"))
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
            ("next", &next),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let back = p
        .browser
        .http
        .get(p.browser.url(&location(&resp)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        back.status(),
        303,
        "consent remembered: straight to the app"
    );
    let q = query_of(&location(&back));
    let body = p.exchanged(&q["code"], &verifier).await;
    let (_, claims) = parts(body["id_token"].as_str().unwrap());
    assert_eq!(claims["auth_time"], common::START + 3600);

    // max_age: a session 100 s old satisfies max_age=100, not max_age=99; 0 always
    // asks (and the fresh sign-in then satisfies it).
    flow.app.clock.advance(100);
    let (_, challenge) = pkce_pair();
    let mut query = p.query(&challenge, "openid");
    query.push(("max_age", "100"));
    assert!(location(&p.browser.authorize(&query).await).starts_with(CB));
    query.pop();
    query.push(("max_age", "99"));
    assert!(location(&p.browser.authorize(&query).await).starts_with("/login?"));
    query.pop();
    query.push(("max_age", "0"));
    let to = location(&p.browser.authorize(&query).await);
    assert!(
        to.starts_with("/login?") && to.contains("prompt=login"),
        "{to}"
    );
    // With prompt=none, an old sign-in is login_required, not a page.
    query.push(("prompt", "none"));
    let q = query_of(&location(&p.browser.authorize(&query).await));
    assert_eq!(q["error"], "login_required");
}

async fn prompt_none_without_session(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client_id = app.public_client(CB, "openid profile").await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce_pair();
    let p = Party {
        app: &app,
        browser: &browser,
        client_id: &client_id,
        redirect_uri: CB,
    };
    let mut query = p.query(&challenge, "openid");
    query.push(("prompt", "none"));
    let resp = browser.authorize(&query).await;
    assert_eq!(resp.status(), 303);
    let q = query_of(&location(&resp));
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], app.base);
    // Request objects are refused with Core's code; a request_uri this server did
    // not issue (only /oauth/par's are taken) with RFC 9126's, never redirected.
    let mut query = p.query(&challenge, "openid");
    query.push(("request", "x"));
    let q = query_of(&location(&browser.authorize(&query).await));
    assert_eq!(q["error"], "request_not_supported");
    let mut query = p.query(&challenge, "openid");
    query.push(("request_uri", "x"));
    let resp = browser.authorize(&query).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
}

async fn id_token_hint_names_who_is_expected(backend: Backend) {
    let flow = openid_flow(&backend).await;
    let p = flow.party();
    let alice_token = p.tokens("openid").await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Bob, in another browser, gets an ID token from the same app.
    flow.app.user("bob", PASSWORD).await;
    let bob_browser = Browser::new(&flow.app);
    bob_browser.login("bob", PASSWORD).await;
    let bob = Party {
        browser: &bob_browser,
        ..flow.party()
    };
    let bob_token = bob.tokens("openid").await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Where Alice's browser is sent for an authorization request with `hint`.
    async fn ask(p: &Party<'_>, hint: &str, prompt: Option<&str>) -> String {
        let (_, challenge) = pkce_pair();
        let mut query = vec![
            ("response_type", "code"),
            ("client_id", p.client_id),
            ("redirect_uri", p.redirect_uri),
            ("scope", "openid"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("id_token_hint", hint),
        ];
        if let Some(v) = prompt {
            query.push(("prompt", v));
        }
        location(&p.browser.authorize(&query).await)
    }
    // Alice's own hint: silently a code.
    let to = ask(&p, &alice_token, Some("none")).await;
    assert!(query_of(&to).contains_key("code"), "{to}");
    // Bob's hint in Alice's browser: login_required, or the sign-in page.
    let to = ask(&p, &bob_token, Some("none")).await;
    assert_eq!(query_of(&to)["error"], "login_required", "{to}");
    let to = ask(&p, &bob_token, None).await;
    assert!(
        to.starts_with("/login?") && to.contains("prompt=login"),
        "{to}"
    );
    assert!(
        !to.contains("id_token_hint"),
        "the way back drops the hint: {to}"
    );
    // Not an ID token of this server: invalid_request, sent back to the app.
    let access_token = p.tokens("openid").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let to = ask(&p, &access_token, None).await;
    assert_eq!(query_of(&to)["error"], "invalid_request", "{to}");
}

async fn scope_defaults_to_the_registered_scopes(backend: Backend) {
    let flow = public_flow_scoped(TestApp::spawn(&backend).await, "profile email apps:read").await;
    let p = flow.party();
    let (verifier, challenge) = pkce_pair();
    let query: Vec<(&str, &str)> = p
        .query(&challenge, "")
        .into_iter()
        .filter(|(k, _)| *k != "scope")
        .collect();
    let page = p.browser.authorize(&query).await.text().await.unwrap();
    assert!(page.contains("<code>profile</code>") && page.contains("<code>email</code>"));
    assert!(
        !page.contains("apps:read"),
        "management scopes are never a default"
    );
    let resp = p.browser.decide(&query, "approve").await;
    let q = query_of(&location(&resp));
    let body = p.exchanged(&q["code"], &verifier).await;
    assert_eq!(body["scope"], "email profile");
}

async fn id_tokens_and_access_tokens_stay_apart(backend: Backend) {
    let flow = openid_flow(&backend).await;
    let p = flow.party();
    let body = p.tokens("openid profile").await;
    let id_token = body["id_token"].as_str().unwrap();
    let access_token = body["access_token"].as_str().unwrap();
    // An ID token is not an access token: UserInfo, the API and introspection refuse it.
    let (status, _, _) = userinfo(&flow.app, reqwest::Method::GET, id_token).await;
    assert_eq!(status, 401);
    let resp = flow
        .app
        .http
        .get(flow.app.url("/api/grants"))
        .bearer_auth(id_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(flow.app.introspect(id_token).await["active"], false);
    // An access token is not an id_token_hint.
    let resp = logout_get(p.browser, &[("id_token_hint", access_token)]).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("not an ID token"));
    // Still signed in.
    assert_eq!(
        p.browser
            .http
            .get(p.browser.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn code_replay_still_revokes(backend: Backend) {
    let flow = openid_flow(&backend).await;
    let p = flow.party();
    let (verifier, challenge) = pkce_pair();
    let code = p
        .code_with(&challenge, "openid offline_access", &[("nonce", "n")])
        .await;
    let first: Value = p.exchanged(&code, &verifier).await;
    assert!(first["id_token"].is_string());
    let again = p.exchange(&code, &verifier).await;
    common::expect_oauth_error(again, 400, "invalid_grant").await;
    let resp = p
        .refresh(first["refresh_token"].as_str().unwrap(), None)
        .await;
    common::expect_oauth_error(resp, 400, "invalid_grant").await;
    assert_eq!(
        flow.app
            .introspect(first["access_token"].as_str().unwrap())
            .await["active"],
        false
    );
}

/// Calls UserInfo with `token`: the status, the `WWW-Authenticate` header (or "")
/// and the body.
async fn userinfo(app: &TestApp, method: reqwest::Method, token: &str) -> (u16, String, Value) {
    let resp = app
        .http
        .request(method, app.url("/oauth/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, challenge, resp.json().await.unwrap_or(Value::Null))
}

async fn userinfo_rules(backend: Backend) {
    let flow = openid_flow(&backend).await;
    let p = flow.party();
    let body = p.tokens("openid email").await;
    let token = body["access_token"].as_str().unwrap();
    let (_, id_claims) = parts(body["id_token"].as_str().unwrap());
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let (status, _, info) = userinfo(&flow.app, method.clone(), token).await;
        assert_eq!(status, 200, "{method}");
        assert_eq!(info["sub"], id_claims["sub"]);
        assert_eq!(info["email"], "alice@example.com");
        assert_eq!(info["email_verified"], true);
        assert!(info.get("preferred_username").is_none(), "no profile scope");
    }
    // A token with none of openid, profile, email: 403 insufficient_scope.
    let plain = public_flow_scoped(TestApp::spawn(&backend).await, "grants:read").await;
    let body = plain.party().tokens("grants:read").await;
    let token = body["access_token"].as_str().unwrap();
    let (status, challenge, _) = userinfo(&plain.app, reqwest::Method::GET, token).await;
    assert_eq!(status, 403);
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    // A bad token: 401 with a Bearer challenge.
    let (status, challenge, _) = userinfo(&flow.app, reqwest::Method::GET, "nope").await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
}

/// A confidential client with a post-logout URI, `alice` signed in through it.
async fn logout_setup(backend: &Backend) -> (TestApp, Browser, common::TestClient) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", PASSWORD).await;
    let client = app
        .client_from(ClientMetadata {
            name: "Notes".into(),
            redirect_uris: vec![CB.into()],
            post_logout_redirect_uris: vec!["https://app.example/bye".into()],
            ..Default::default()
        })
        .await;
    let browser = Browser::new(&app);
    browser.login("alice", PASSWORD).await;
    (app, browser, client)
}

async fn logout_get(browser: &Browser, query: &[(&str, &str)]) -> reqwest::Response {
    browser
        .http
        .get(browser.url("/oauth/logout"))
        .query(query)
        .send()
        .await
        .unwrap()
}

async fn logout_post(browser: &Browser, form: &[(String, String)]) -> reqwest::Response {
    browser
        .http
        .post(browser.url("/oauth/logout"))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn end_session_rules(backend: Backend) {
    let (_app, browser, client) = logout_setup(&backend).await;
    let signed_in = |b: &Browser| {
        let http = b.http.clone();
        let url = b.url("/account");
        async move { http.get(url).send().await.unwrap().status() == 200 }
    };
    // An unregistered destination: refused on a page, no redirect, still signed in.
    for uri in ["https://evil.example/bye", "https://app.example/bye/"] {
        let resp = logout_get(
            &browser,
            &[
                ("client_id", client.id.as_str()),
                ("post_logout_redirect_uri", uri),
            ],
        )
        .await;
        assert_eq!(resp.status(), 400, "{uri}");
        assert!(signed_in(&browser).await);
    }
    // A destination without saying whose: refused.
    let resp = logout_get(
        &browser,
        &[("post_logout_redirect_uri", "https://app.example/bye")],
    )
    .await;
    assert_eq!(resp.status(), 400);
    // No hint: a confirmation page; nothing changes until the person confirms.
    let query = [
        ("client_id", client.id.as_str()),
        ("post_logout_redirect_uri", "https://app.example/bye"),
        ("state", "s 1"),
    ];
    let resp = logout_get(&browser, &query).await;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    assert!(page.contains("Notes asks to sign you out"), "{page}");
    assert!(signed_in(&browser).await);
    let mut form: Vec<(String, String)> = Vec::new();
    for (name, value) in query {
        form.push((name.into(), value.into()));
    }
    // The app may POST the request (§2): it comes back as the same GET, which the
    // browser sends with its SameSite=Lax session cookie.
    let resp = logout_post(&browser, &form).await;
    assert_eq!(resp.status(), 303);
    let to = location(&resp);
    assert!(to.starts_with("/oauth/logout?client_id="), "{to}");
    assert!(to.contains("state=s+1"), "{to}");
    assert!(signed_in(&browser).await);
    // Without the CSRF token the confirmation is only shown again.
    let mut forged = form.clone();
    forged.push(("confirm".into(), "yes".into()));
    let resp = logout_post(&browser, &forged).await;
    assert_eq!(resp.status(), 200);
    assert!(signed_in(&browser).await);
    form.push((
        "csrf_token".into(),
        common::hidden_value(&page, "csrf_token").unwrap(),
    ));
    form.push(("confirm".into(), "yes".into()));
    let resp = logout_post(&browser, &form).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "https://app.example/bye?state=s+1");
    assert!(!signed_in(&browser).await);
    // Signed out already: straight to the destination; no destination: a page.
    let resp = logout_get(&browser, &query).await;
    assert_eq!(resp.status(), 303);
    let resp = logout_get(&browser, &[]).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("You are signed out"));
}

async fn post_logout_redirect_uris_are_registered(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    // RFC 7591 registration echoes them and applies the redirect URI rules.
    let resp = app
        .http
        .post(app.url("/oauth/register"))
        .json(&serde_json::json!({
            "client_name": "RP",
            "redirect_uris": ["https://rp.example/cb"],
            "post_logout_redirect_uris": ["https://rp.example/bye"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["post_logout_redirect_uris"],
        serde_json::json!(["https://rp.example/bye"])
    );
    let resp = app
        .http
        .post(app.url("/oauth/register"))
        .json(&serde_json::json!({
            "redirect_uris": ["https://rp.example/cb"],
            "post_logout_redirect_uris": ["http://rp.example/bye"],
        }))
        .send()
        .await
        .unwrap();
    common::expect_oauth_error(resp, 400, "invalid_redirect_uri").await;
}
