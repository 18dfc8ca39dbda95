//! The management API (`/api/apps`, `/api/grants`) over real HTTP, with bearer tokens
//! from the real code flow and with the browser session.
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::flow::{CB, Flow, PASSWORD, Party, public_flow_scoped};
use common::{Backend, Browser, TestApp, expect_oauth_error};
use serde_json::{Value, json};

const API_SCOPES: &str = "profile apps:read apps:write grants:read grants:write";

/// A signed-in user with a bearer token carrying `scope`.
async fn user_with_token(backend: &Backend, scope: &str) -> (Flow, String) {
    let flow = public_flow_scoped(TestApp::spawn(backend).await, API_SCOPES).await;
    let tokens = flow.tokens(scope).await;
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    (flow, token)
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

/// Asserts a problem document with `status` and type `urn:latchkey:problem:{slug}`.
async fn expect_problem(resp: reqwest::Response, status: u16, slug: &str) -> Value {
    assert_eq!(resp.status(), status);
    assert_eq!(
        resp.headers()["content-type"],
        "application/problem+json",
        "problem+json"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["type"],
        format!("urn:latchkey:problem:{slug}"),
        "{body}"
    );
    assert_eq!(body["status"], status);
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

async fn client_credentials(app: &TestApp, id: &str, secret: &str) -> u16 {
    app.http
        .post(app.url("/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn apps_lifecycle_with_a_bearer_token(backend: Backend) {
    use reqwest::Method;
    let (flow, token) = user_with_token(&backend, "apps:read apps:write").await;
    let app = &flow.app;

    let resp = call(app, Method::GET, "/api/apps", &token, None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"apps": []}));

    // A server-to-server app: its secret is shown once and works at once.
    let resp = call(
        app,
        Method::POST,
        "/api/apps",
        &token,
        Some(json!({
            "name": "Nightly export",
            "description": "Exports orders",
            "website": "https://export.example",
            "grant_types": ["client_credentials"],
            "scopes": ["profile"],
        })),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("lk_cs_"));
    assert_eq!(created["client_type"], "confidential");
    assert_eq!(created["grant_types"], json!(["client_credentials"]));
    assert_eq!(created["scopes"], json!(["profile"]));
    assert_eq!(client_credentials(app, &id, &secret).await, 200);

    // Reads never show the secret.
    let resp = call(app, Method::GET, &format!("/api/apps/{id}"), &token, None).await;
    assert_eq!(resp.status(), 200);
    let got: Value = resp.json().await.unwrap();
    assert!(got.get("client_secret").is_none(), "{got}");
    assert_eq!(got["name"], "Nightly export");
    assert_eq!(got["post_logout_redirect_uris"], json!([]));
    // Post-logout redirect URIs: set by PATCH, under the redirect URI rules.
    let resp = call(
        app,
        Method::PATCH,
        &format!("/api/apps/{id}"),
        &token,
        Some(json!({"post_logout_redirect_uris": ["http://export.example/bye"]})),
    )
    .await;
    expect_problem(resp, 400, "invalid-redirect-uri").await;
    let resp = call(
        app,
        Method::PATCH,
        &format!("/api/apps/{id}"),
        &token,
        Some(json!({"post_logout_redirect_uris": ["https://export.example/bye"]})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let got: Value = resp.json().await.unwrap();
    assert_eq!(
        got["post_logout_redirect_uris"],
        json!(["https://export.example/bye"])
    );
    let listed: Value = call(app, Method::GET, "/api/apps", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["apps"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&secret));

    // Update: absent fields stay, null clears.
    let resp = call(
        app,
        Method::PATCH,
        &format!("/api/apps/{id}"),
        &token,
        Some(json!({"name": "Nightly export v2", "website": null})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let updated: Value = resp.json().await.unwrap();
    assert_eq!(updated["name"], "Nightly export v2");
    assert_eq!(updated["description"], "Exports orders");
    assert!(updated["website"].is_null(), "{updated}");

    // Rotation: the old secret stops working at once.
    let resp = call(
        app,
        Method::POST,
        &format!("/api/apps/{id}/secret"),
        &token,
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let rotated: Value = resp.json().await.unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(client_credentials(app, &id, &secret).await, 401);
    assert_eq!(client_credentials(app, &id, new_secret).await, 200);

    // Bad input: clear problems with stable types, nothing created.
    for (body, slug) in [
        (json!({"name": ""}), "invalid-client-metadata"),
        (
            json!({"name": "x", "redirect_uris": ["http://evil.example/cb"]}),
            "invalid-redirect-uri",
        ),
        (
            json!({"name": "x", "redirect_uris": ["https://a.example/cb#frag"]}),
            "invalid-redirect-uri",
        ),
        (
            json!({"name": "x", "website": "javascript:alert(1)"}),
            "invalid-client-metadata",
        ),
        (
            json!({"name": "x", "scopes": ["no-such-scope"]}),
            "invalid-client-metadata",
        ),
        (
            json!({"name": "x", "client_type": "public", "grant_types": ["client_credentials"]}),
            "invalid-client-metadata",
        ),
        (
            json!({"name": "x", "grant_types": ["password"]}),
            "bad-request",
        ),
        (json!({"name": ["x"]}), "bad-request"),
        (json!({"redirect_uris": []}), "bad-request"),
    ] {
        let resp = call(app, Method::POST, "/api/apps", &token, Some(body.clone())).await;
        assert_eq!(resp.status(), 400, "{body}");
        expect_problem(resp, 400, slug).await;
    }
    let resp = app
        .http
        .post(app.url("/api/apps"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_problem(resp, 400, "bad-request").await;
    let resp = call(
        app,
        Method::PATCH,
        &format!("/api/apps/{id}"),
        &token,
        Some(json!({"redirect_uris": ["ftp://x.example/cb"]})),
    )
    .await;
    expect_problem(resp, 400, "invalid-redirect-uri").await;
    let listed: Value = call(app, Method::GET, "/api/apps", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["apps"].as_array().unwrap().len(), 1);

    // Delete: the app's tokens stop working.
    let resp = call(
        app,
        Method::DELETE,
        &format!("/api/apps/{id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(client_credentials(app, &id, new_secret).await, 401);
    let resp = call(app, Method::GET, &format!("/api/apps/{id}"), &token, None).await;
    expect_problem(resp, 404, "not-found").await;
}

async fn credentials_are_checked(backend: Backend) {
    use reqwest::Method;
    let (flow, read_only) = user_with_token(&backend, "apps:read").await;
    let app = &flow.app;

    // No credentials.
    let resp = app.http.get(app.url("/api/apps")).send().await.unwrap();
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    expect_problem(resp, 401, "unauthorized").await;
    // A token that is not ours, and a malformed header.
    let resp = call(app, Method::GET, "/api/apps", "not-a-jwt", None).await;
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    expect_problem(resp, 401, "unauthorized").await;
    let resp = app
        .http
        .get(app.url("/api/apps"))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    expect_problem(resp, 401, "unauthorized").await;

    // Reading is allowed, writing needs apps:write; grants need their own scopes.
    assert_eq!(
        call(app, Method::GET, "/api/apps", &read_only, None)
            .await
            .status(),
        200
    );
    let resp = call(
        app,
        Method::POST,
        "/api/apps",
        &read_only,
        Some(json!({"name": "x"})),
    )
    .await;
    expect_problem(resp, 403, "insufficient-scope").await;
    let resp = call(app, Method::GET, "/api/grants", &read_only, None).await;
    expect_problem(resp, 403, "insufficient-scope").await;

    // A client-credentials token acts for no person.
    let machine = app.client(Some("apps:read")).await;
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&machine.id, Some(&machine.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let machine_token: Value = resp.json().await.unwrap();
    let resp = call(
        app,
        Method::GET,
        "/api/apps",
        machine_token["access_token"].as_str().unwrap(),
        None,
    )
    .await;
    expect_problem(resp, 403, "not-a-user").await;

    // Another person's app is invisible to them.
    let write = flow.tokens("apps:write").await;
    let theirs: Value = call(
        app,
        Method::POST,
        "/api/apps",
        write["access_token"].as_str().unwrap(),
        Some(json!({"name": "Alice's"})),
    )
    .await
    .json()
    .await
    .unwrap();
    let alice_app = theirs["client_id"].as_str().unwrap();
    app.user("bob", PASSWORD).await;
    let bob = Browser::new(app);
    bob.login("bob", PASSWORD).await;
    let bob_party = Party {
        browser: &bob,
        ..flow.party()
    };
    let bob_token = bob_party.tokens("apps:read apps:write").await;
    let bob_token = bob_token["access_token"].as_str().unwrap();
    for (method, path) in [
        (Method::GET, format!("/api/apps/{alice_app}")),
        (Method::DELETE, format!("/api/apps/{alice_app}")),
        (Method::POST, format!("/api/apps/{alice_app}/secret")),
    ] {
        let resp = call(app, method, &path, bob_token, None).await;
        expect_problem(resp, 404, "not-found").await;
    }
    let resp = call(
        app,
        Method::PATCH,
        &format!("/api/apps/{alice_app}"),
        bob_token,
        Some(json!({"name": "mine now"})),
    )
    .await;
    expect_problem(resp, 404, "not-found").await;
    let listed: Value = call(app, Method::GET, "/api/apps", bob_token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!({"apps": []}));
}

async fn apps_with_the_session_cookie(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.user("carol", PASSWORD).await;
    let browser = Browser::new(&app);
    let login = browser.try_login("carol", PASSWORD).await;
    assert_eq!(login.status(), 303);
    let csrf = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("lk_csrf="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .expect("sign-in sets the lk_csrf cookie");
    let cookie_line = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("lk_csrf="))
        .unwrap();
    assert!(!cookie_line.contains("HttpOnly"), "scripts must read it");

    let resp = browser
        .http
        .get(browser.url("/api/apps"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "reads need only the session");

    let new_app = json!({"name": "From the browser", "redirect_uris": ["https://b.example/cb"]});
    let resp = browser
        .http
        .post(browser.url("/api/apps"))
        .json(&new_app)
        .send()
        .await
        .unwrap();
    expect_problem(resp, 403, "csrf").await;
    let resp = browser
        .http
        .post(browser.url("/api/apps"))
        .header("x-csrf-token", "wrong")
        .json(&new_app)
        .send()
        .await
        .unwrap();
    expect_problem(resp, 403, "csrf").await;
    let resp = browser
        .http
        .post(browser.url("/api/apps"))
        .header("x-csrf-token", &csrf)
        .json(&new_app)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    assert_eq!(
        created["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    let id = created["client_id"].as_str().unwrap();
    let resp = browser
        .http
        .delete(browser.url(&format!("/api/apps/{id}")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);

    // The settings forms need the session's CSRF token too.
    for token in [None, Some("forged")] {
        let mut form = vec![("name", "Forged app")];
        if let Some(t) = token {
            form.push(("csrf_token", t));
        }
        let resp = browser
            .http
            .post(browser.url("/settings/apps"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
    }
    let listed: Value = browser
        .http
        .get(browser.url("/api/apps"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!({"apps": []}), "nothing was created");
    // Signed out, the pages send people to sign in.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for page in ["/settings/apps", "/settings/authorized"] {
        let resp = anonymous.get(app.url(page)).send().await.unwrap();
        assert_eq!(resp.status(), 303);
        assert!(common::location(&resp).starts_with("/login?next="));
    }

    // After sign-out the cookie is worthless.
    let form = [("csrf_token", csrf.as_str())];
    browser
        .http
        .post(browser.url("/logout"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let resp = browser
        .http
        .get(browser.url("/api/apps"))
        .send()
        .await
        .unwrap();
    expect_problem(resp, 401, "unauthorized").await;
}

/// Deleting an app and withdrawing a grant both kill the tokens people gave it.
async fn deleting_apps_and_revoking_grants_kill_tokens(backend: Backend) {
    use reqwest::Method;
    let (flow, token) =
        user_with_token(&backend, "apps:read apps:write grants:read grants:write").await;
    let app = &flow.app;

    // Two public apps Alice makes through the API, each authorized by her.
    let mut apps = Vec::new();
    for name in ["Doomed app", "Distrusted app"] {
        let created: Value = call(
            app,
            Method::POST,
            "/api/apps",
            &token,
            Some(json!({"name": name, "client_type": "public", "redirect_uris": [CB], "scopes": ["profile"]})),
        )
        .await
        .json()
        .await
        .unwrap();
        assert!(created.get("client_secret").is_none(), "{created}");
        apps.push(created["client_id"].as_str().unwrap().to_owned());
    }
    let mut issued = Vec::new();
    for id in &apps {
        let party = Party {
            client_id: id,
            ..flow.party()
        };
        let tokens = party.tokens("profile").await;
        assert_eq!(
            app.introspect(tokens["access_token"].as_str().unwrap())
                .await["active"],
            true
        );
        issued.push(tokens);
    }

    let grants: Value = call(app, Method::GET, "/api/grants", &token, None)
        .await
        .json()
        .await
        .unwrap();
    let list = grants["grants"].as_array().unwrap();
    assert_eq!(
        list.len(),
        3,
        "the flow's own client and the two apps: {grants}"
    );
    let distrusted = list
        .iter()
        .find(|g| g["client_id"] == apps[1].as_str())
        .unwrap();
    assert_eq!(distrusted["client_name"], "Distrusted app");
    assert_eq!(distrusted["scopes"], json!(["profile"]));
    assert!(distrusted["first_authorized_at"].as_i64().unwrap() > 0);
    assert!(distrusted["last_used_at"].as_i64().unwrap() > 0);

    // Delete the first app: its refresh token and access token are dead.
    let resp = call(
        app,
        Method::DELETE,
        &format!("/api/apps/{}", apps[0]),
        &token,
        None,
    )
    .await;
    assert_eq!(resp.status(), 204);
    tokens_are_dead(app, &flow, &apps[0], &issued[0], (401, "invalid_client")).await;

    // Revoke the grant of the second: the app keeps existing, its tokens for Alice die.
    let resp = call(
        app,
        Method::DELETE,
        &format!("/api/grants/{}", apps[1]),
        &token,
        None,
    )
    .await;
    assert_eq!(resp.status(), 204);
    tokens_are_dead(app, &flow, &apps[1], &issued[1], (400, "invalid_grant")).await;
    let grants: Value = call(app, Method::GET, "/api/grants", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(grants["grants"].as_array().unwrap().len(), 1);
    let resp = call(
        app,
        Method::DELETE,
        &format!("/api/grants/{}", apps[1]),
        &token,
        None,
    )
    .await;
    expect_problem(resp, 404, "not-found").await;
    // Consent is gone too: the next authorization asks again.
    let (_, challenge) = common::pkce_pair();
    let distrusted_party = Party {
        client_id: &apps[1],
        ..flow.party()
    };
    let query = distrusted_party.query(&challenge, "profile");
    assert_eq!(flow.browser.authorize(&query).await.status(), 200);
}

/// The settings forms without a browser engine: edit with a refusal shown in the
/// form, rotate, delete.
async fn settings_forms_edit_rotate_delete(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.user("gina", PASSWORD).await;
    let browser = Browser::new(&app);
    browser.login("gina", PASSWORD).await;
    let csrf = common::hidden_value(&browser.page("/settings/apps").await, "csrf_token").unwrap();
    let resp = browser
        .http
        .post(browser.url("/settings/apps"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("name", "Form app"),
            ("client_type", "confidential"),
            (
                "redirect_uris",
                "https://form.example/cb\nhttps://form.example/cb2",
            ),
            ("post_logout_redirect_uris", " https://form.example/bye \n"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("App created") && html.contains("lk_cs_"));
    let created: Value = browser
        .http
        .get(browser.url("/api/apps"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = &created["apps"][0];
    assert_eq!(
        created["redirect_uris"],
        json!(["https://form.example/cb", "https://form.example/cb2"])
    );
    assert_eq!(
        created["post_logout_redirect_uris"],
        json!(["https://form.example/bye"])
    );
    let id = created["client_id"].as_str().unwrap().to_owned();
    let edit_url = browser.url(&format!("/settings/apps/{id}"));

    // A refused edit shows the form again with the reason and what was typed.
    let resp = browser
        .http
        .post(&edit_url)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("name", "Renamed"),
            ("redirect_uris", "http://plain.example/cb"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("must use https") && html.contains("Renamed"),
        "{html}"
    );
    // An accepted one sticks.
    let resp = browser
        .http
        .post(&edit_url)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("name", "Renamed"),
            ("icon_url", "https://form.example/icon.png"),
            ("redirect_uris", "https://form.example/new"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let html = browser
        .http
        .get(&edit_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // As the browser reads it: the template escapes `/` in attribute values.
    let html = common::unescape(&html);
    assert!(html.contains("Renamed") && html.contains("https://form.example/new"));
    assert!(html.contains("https://form.example/icon.png"));

    // Rotate shows a new secret once; delete removes the app.
    let resp = browser
        .http
        .post(format!("{edit_url}/secret"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let html = resp.text().await.unwrap();
    assert!(html.contains("New secret") && html.contains("lk_cs_"));
    let resp = browser
        .http
        .post(format!("{edit_url}/delete"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let resp = browser.http.get(&edit_url).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

both_backends!(
    settings_forms_edit_rotate_delete,
    apps_lifecycle_with_a_bearer_token,
    credentials_are_checked,
    apps_with_the_session_cookie,
    deleting_apps_and_revoking_grants_kill_tokens,
    an_app_with_its_own_key,
);

/// The refresh token in `issued` (tokens client `client_id` got) is refused with
/// `refused` (status, OAuth error), and its access token is inactive at introspection.
async fn tokens_are_dead(
    app: &TestApp,
    flow: &Flow,
    client_id: &str,
    issued: &Value,
    refused: (u16, &str),
) {
    let party = Party {
        client_id,
        ..flow.party()
    };
    let resp = party
        .refresh(issued["refresh_token"].as_str().unwrap(), None)
        .await;
    expect_oauth_error(resp, refused.0, refused.1).await;
    assert_eq!(
        app.introspect(issued["access_token"].as_str().unwrap())
            .await,
        json!({"active": false})
    );
}

/// `/api/apps` makes a `private_key_jwt` app (no secret), rotates its keys, and
/// refuses to rotate a secret it does not have; its settings page says so.
async fn an_app_with_its_own_key(backend: Backend) {
    use common::jose::{TestKey, assertion_claims};
    let (flow, token) = user_with_token(&backend, API_SCOPES).await;
    let app = &flow.app;
    let old = TestKey::es256("app-1");
    let resp = call(
        app,
        reqwest::Method::POST,
        "/api/apps",
        &token,
        Some(
            json!({"name": "keyed", "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "private_key_jwt", "jwks": TestKey::set(&[&old])}),
        ),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let made: Value = resp.json().await.unwrap();
    assert!(made.get("client_secret").is_none(), "{made}");
    assert_eq!(made["token_endpoint_auth_method"], "private_key_jwt");
    let id = made["client_id"].as_str().unwrap().to_owned();
    let assertion = |k: &TestKey| {
        let a = k.sign(
            &k.header(),
            &assertion_claims(&id, &app.base, common::START),
        );
        app.http
            .post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials".to_owned()),
                (
                    "client_assertion_type",
                    latchkey::oauth::client_assertion::JWT_BEARER.to_owned(),
                ),
                ("client_assertion", a),
            ])
            .send()
    };
    assert_eq!(assertion(&old).await.unwrap().status(), 200);

    // Rotation: the new set replaces the old one.
    let new = TestKey::es256("app-2");
    let resp = call(
        app,
        reqwest::Method::PATCH,
        &format!("/api/apps/{id}"),
        &token,
        Some(json!({"jwks": TestKey::set(&[&new])})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(assertion(&new).await.unwrap().status(), 200);
    expect_oauth_error(assertion(&old).await.unwrap(), 401, "invalid_client").await;

    let resp = call(
        app,
        reqwest::Method::POST,
        &format!("/api/apps/{id}/secret"),
        &token,
        None,
    )
    .await;
    expect_problem(resp, 409, "no-secret").await;
    let resp = call(
        app,
        reqwest::Method::POST,
        "/api/apps",
        &token,
        Some(json!({"name": "x", "token_endpoint_auth_method": "client_secret_jwt"})),
    )
    .await;
    let body = expect_problem(resp, 400, "invalid-client-metadata").await;
    assert!(body["detail"].as_str().unwrap().contains("hash"), "{body}");

    let page = flow.browser.page(&format!("/settings/apps/{id}")).await;
    assert!(page.contains("private_key_jwt"), "{page}");
    assert!(!page.contains("Rotate secret"), "{page}");
}
