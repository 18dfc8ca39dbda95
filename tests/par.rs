//! Pushed authorization requests (RFC 9126): a client pushes its request to
//! `/oauth/par`, authenticated as at the token endpoint, and sends the browser with
//! the `request_uri` alone; the pushed parameters are the only ones that count; a
//! `request_uri` is single use, short-lived and bound to its client; `request_uri`s
//! the server did not issue and request objects are refused by name; the server or
//! a client can require PAR; a DPoP proof at PAR binds the code.

// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::flow::{CB, PASSWORD};
use common::jose::TestKey;
use common::{
    Backend, Browser, START, TestApp, TestClient, expect_oauth_error, jwt_claims, location,
    pkce_pair, query_of,
};
use latchkey::oauth::registration::ClientMetadata;
use serde_json::{Value, json};

both_backends!(
    a_pushed_request_makes_one_code,
    what_cannot_be_pushed_or_used,
    par_can_be_required,
    a_proof_at_par_binds_the_code,
);

/// A confidential code-flow client, a person signed in to a browser.
async fn setup(app: &TestApp) -> (TestClient, Browser) {
    let web = app.web_client(CB, "profile email offline_access").await;
    app.user("alice", PASSWORD).await;
    let browser = Browser::new(app);
    browser.login("alice", PASSWORD).await;
    (web, browser)
}

async fn push(
    app: &TestApp,
    client: Option<&TestClient>,
    form: &[(&str, &str)],
    proof: Option<&str>,
) -> reqwest::Response {
    let mut req = app.http.post(app.url("/oauth/par")).form(form);
    if let Some(c) = client {
        req = req.basic_auth(&c.id, Some(&c.secret));
    }
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await.unwrap()
}

fn request<'a>(challenge: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("redirect_uri", CB),
        ("scope", scope),
        ("state", "st-9"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// A pushed request's `request_uri`.
async fn pushed(app: &TestApp, client: &TestClient, form: &[(&str, &str)]) -> String {
    let resp = push(app, Some(client), form, None).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["expires_in"], 60);
    let uri = body["request_uri"].as_str().unwrap().to_owned();
    assert!(
        uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{uri}"
    );
    uri
}

/// Approves the authorization the browser is sent to with `query`; the code.
async fn approve(browser: &Browser, query: &[(&str, &str)]) -> String {
    // Straight through when the consent is remembered, else on the consent page.
    let first = browser.authorize(query).await;
    let resp = if first.status() == 303 {
        first
    } else {
        browser.decide(query, "approve").await
    };
    assert_eq!(resp.status(), 303);
    let to = location(&resp);
    assert!(to.starts_with(CB), "{to}");
    let q = query_of(&to);
    assert_eq!(q["state"], "st-9");
    q["code"].clone()
}

async fn exchange(
    app: &TestApp,
    client: &TestClient,
    code: &str,
    verifier: &str,
    proof: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
            ("code_verifier", verifier),
        ]);
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await.unwrap()
}

/// The authorization endpoint refuses without redirecting: `invalid_request_uri`.
async fn refused_uri(browser: &Browser, query: &[(&str, &str)], needle: &str) {
    let resp = browser
        .http
        .get(browser.url("/oauth/authorize"))
        .query(query)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "{needle}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request_uri", "{body}");
    let d = body["error_description"].as_str().unwrap();
    assert!(d.contains(needle), "{needle:?} in {d:?}");
    // A person gets a page, not a redirect.
    let page = browser.authorize(query).await;
    assert_eq!(page.status(), 400);
    assert!(page.headers().get("location").is_none());
}

async fn a_pushed_request_makes_one_code(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let (web, browser) = setup(&app).await;
    let (verifier, challenge) = pkce_pair();
    let uri = pushed(&app, &web, &request(&challenge, "profile")).await;
    // Only client_id and request_uri in the front channel (no response_type, as
    // openid-client sends it); a scope added there is ignored.
    let query = [
        ("client_id", web.id.as_str()),
        ("request_uri", uri.as_str()),
        ("scope", "profile email"),
    ];
    // A reload before the person decides is tolerated.
    assert_eq!(browser.authorize(&query).await.status(), 200);
    let code = approve(&browser, &query).await;
    let resp = exchange(&app, &web, &code, &verifier, None).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["scope"], "profile",
        "the pushed scope, not the front channel's"
    );
    // Spent with the code.
    refused_uri(&browser, &query, "used already").await;
    // Metadata names the endpoint.
    let meta = common::get_json(
        &app.http,
        &app.url("/.well-known/oauth-authorization-server"),
    )
    .await;
    assert_eq!(
        meta["pushed_authorization_request_endpoint"],
        app.url("/oauth/par")
    );
    assert_eq!(meta["require_pushed_authorization_requests"], false);
    // A public client pushes with its client_id alone (integrity, not authentication).
    let public = app.public_client(CB, "profile").await;
    let mut form = request(&challenge, "profile");
    form.push(("client_id", &public));
    let resp = push(&app, None, &form, None).await;
    assert_eq!(resp.status(), 201);
}

async fn what_cannot_be_pushed_or_used(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let (web, browser) = setup(&app).await;
    let other = app.web_client(CB, "profile").await;
    let (_, challenge) = pkce_pair();
    let good = request(&challenge, "profile");
    let with = |extra: (&'static str, &'static str)| {
        let mut f = good.clone();
        f.push(extra);
        f
    };
    // Refused at /oauth/par with the rule's error, nothing stored.
    for (form, status, error) in [
        (
            with(("request_uri", "urn:ietf:params:oauth:request_uri:x")),
            400,
            "invalid_request",
        ),
        (
            with(("request", "eyJhbGciOiJub25lIn0.e30.")),
            400,
            "request_not_supported",
        ),
        (
            vec![
                ("response_type", "code"),
                ("redirect_uri", CB),
                ("code_challenge", "abc"),
                ("code_challenge_method", "plain"),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("response_type", "code"),
                ("redirect_uri", "https://evil.example/cb"),
            ],
            400,
            "invalid_request",
        ),
        (request(&challenge, "grants:read"), 400, "invalid_scope"),
    ] {
        expect_oauth_error(push(&app, Some(&web), &form, None).await, status, error).await;
    }
    let wrong = TestClient {
        id: web.id.clone(),
        secret: "lk_cs_wrong".into(),
    };
    expect_oauth_error(
        push(&app, Some(&wrong), &good, None).await,
        401,
        "invalid_client",
    )
    .await;
    // PAR is POST only.
    let resp = app.http.get(app.url("/oauth/par")).send().await.unwrap();
    assert_eq!(resp.status(), 405);

    // At the authorization endpoint.
    let uri = pushed(&app, &web, &good).await;
    refused_uri(
        &browser,
        &[("client_id", &other.id), ("request_uri", &uri)],
        "another client",
    )
    .await;
    refused_uri(&browser, &[("request_uri", &uri)], "another client").await;
    refused_uri(
        &browser,
        &[
            ("client_id", &web.id),
            ("request_uri", "https://attacker.example/req"),
        ],
        "not issued by this server",
    )
    .await;
    refused_uri(
        &browser,
        &[
            ("client_id", &web.id),
            ("request_uri", "urn:ietf:params:oauth:request_uri:made-up"),
        ],
        "unknown",
    )
    .await;
    app.clock.advance(61);
    refused_uri(
        &browser,
        &[("client_id", &web.id), ("request_uri", &uri)],
        "expired",
    )
    .await;
    // A request object at the authorization endpoint is refused by name.
    let mut query = good.clone();
    query.push(("client_id", &web.id));
    query.push(("request", "eyJhbGciOiJub25lIn0.e30."));
    let to = location(&browser.authorize(&query).await);
    assert_eq!(query_of(&to)["error"], "request_not_supported", "{to}");
}

async fn par_can_be_required(backend: Backend) {
    // Server-wide.
    let app = TestApp::builder()
        .args(|a| a.require_par = true)
        .spawn(&backend)
        .await;
    let (web, browser) = setup(&app).await;
    let (verifier, challenge) = pkce_pair();
    let mut direct = request(&challenge, "profile");
    direct.push(("client_id", &web.id));
    let to = location(&browser.authorize(&direct).await);
    let q = query_of(&to);
    assert_eq!(q["error"], "invalid_request", "{to}");
    assert!(q["error_description"].contains("/oauth/par"), "{to}");
    let uri = pushed(&app, &web, &request(&challenge, "profile")).await;
    let code = approve(&browser, &[("client_id", &web.id), ("request_uri", &uri)]).await;
    assert_eq!(
        exchange(&app, &web, &code, &verifier, None).await.status(),
        200
    );
    let meta = common::get_json(
        &app.http,
        &app.url("/.well-known/oauth-authorization-server"),
    )
    .await;
    assert_eq!(meta["require_pushed_authorization_requests"], true);

    // Per client: one that requires it, one that does not, on one server.
    let app = TestApp::spawn(&backend).await;
    let (web, browser) = setup(&app).await;
    let strict = app
        .client_from(ClientMetadata {
            name: "strict".into(),
            redirect_uris: vec![CB.into()],
            scope: Some("profile".into()),
            require_pushed_authorization_requests: true,
            ..Default::default()
        })
        .await;
    for (client, refused) in [(&strict, true), (&web, false)] {
        let mut direct = request(&challenge, "profile");
        direct.push(("client_id", &client.id));
        let resp = browser.authorize(&direct).await;
        if refused {
            assert_eq!(query_of(&location(&resp))["error"], "invalid_request");
        } else {
            assert_eq!(resp.status(), 200, "the consent page");
        }
    }
    // The apps API sets and shows the member.
    let row = latchkey::store::clients::find_client(&app.state.db, &strict.id)
        .await
        .unwrap()
        .unwrap();
    assert!(row.require_pushed_authorization_requests);
    let resp = app
        .http
        .post(app.url("/oauth/register"))
        .json(
            &json!({"client_name": "agent", "redirect_uris": ["http://127.0.0.1/cb"],
            "token_endpoint_auth_method": "none", "require_pushed_authorization_requests": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let registered: Value = resp.json().await.unwrap();
    assert_eq!(registered["require_pushed_authorization_requests"], true);
}

async fn a_proof_at_par_binds_the_code(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let (web, browser) = setup(&app).await;
    let key = TestKey::es256("holder");
    let thief = TestKey::es256("thief");
    let par_url = app.url("/oauth/par");
    let token_url = app.url("/oauth/token");
    for (exchanger, ok) in [(&thief, false), (&key, true)] {
        let (verifier, challenge) = pkce_pair();
        let proof = key.proof("POST", &par_url, START, json!({}));
        let resp = push(
            &app,
            Some(&web),
            &request(&challenge, "profile"),
            Some(&proof),
        )
        .await;
        assert_eq!(resp.status(), 201);
        let uri = resp.json::<Value>().await.unwrap()["request_uri"]
            .as_str()
            .unwrap()
            .to_owned();
        let code = approve(&browser, &[("client_id", &web.id), ("request_uri", &uri)]).await;
        let proof = exchanger.proof("POST", &token_url, START, json!({}));
        let resp = exchange(&app, &web, &code, &verifier, Some(&proof)).await;
        if ok {
            assert_eq!(resp.status(), 200);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(
                jwt_claims(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
                key.jkt()
            );
        } else {
            expect_oauth_error(resp, 400, "invalid_dpop_proof").await;
        }
    }
    // A dpop_jkt that names another key than the push's own proof.
    let (_, challenge) = pkce_pair();
    let mut form = request(&challenge, "profile");
    let other_jkt = thief.jkt();
    form.push(("dpop_jkt", &other_jkt));
    let proof = key.proof("POST", &par_url, START, json!({}));
    expect_oauth_error(
        push(&app, Some(&web), &form, Some(&proof)).await,
        400,
        "invalid_dpop_proof",
    )
    .await;
}
