//! The admin API over HTTP, both databases: every operation with an admin token,
//! the refusals without one, paging and search, disabling a user.

// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::{Backend, Browser, TestApp, location, pkce_pair, query_of};
use reqwest::Method;
use serde_json::{Value, json};

struct Admin<'a> {
    app: &'a TestApp,
    token: String,
}

impl Admin<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self
            .app
            .http
            .request(method, self.app.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

async fn clients(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let admin = Admin {
        token: app.admin_token().await,
        app: &app,
    };
    let owner = app.user("olive", "correct horse").await;
    // Create: one owned app, and an operator client with the admin scope.
    let (st, owned) = admin
        .call(
            Method::POST,
            "/admin/clients",
            Some(json!({"name": "Olive's app", "redirect_uris": ["https://olive.example/cb"], "owner_id": owner})),
        )
        .await;
    assert_eq!(st, 201, "{owned}");
    assert_eq!(owned["owner_id"], owner.as_str());
    assert_eq!(owned["origin"], "user");
    assert!(
        owned["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("lk_cs_")
    );
    let (st, ops) = admin
        .call(
            Method::POST,
            "/admin/clients",
            Some(json!({"name": "Ops robot", "grant_types": ["client_credentials"], "scopes": ["latchkey:admin"]})),
        )
        .await;
    assert_eq!(st, 201, "{ops}");
    assert_eq!(ops["origin"], "operator");
    // The admin scope only on a confidential client-credentials client.
    let (st, p) = admin
        .call(
            Method::POST,
            "/admin/clients",
            Some(json!({"name": "x", "client_type": "public", "redirect_uris": ["http://127.0.0.1/cb"], "scopes": ["latchkey:admin"]})),
        )
        .await;
    assert_eq!(st, 400, "{p}");
    let (st, _) = admin
        .call(
            Method::POST,
            "/admin/clients",
            Some(json!({"name": "x", "owner_id": "nobody"})),
        )
        .await;
    assert_eq!(st, 400);

    // List: paging and the owner filter (the test made the admin client too).
    let (st, page1) = admin
        .call(Method::GET, "/admin/clients?limit=2", None)
        .await;
    assert_eq!(st, 200);
    assert_eq!(page1["clients"].as_array().unwrap().len(), 2);
    let cursor = page1["next_cursor"].as_str().unwrap().to_owned();
    let (_, page2) = admin
        .call(
            Method::GET,
            &format!("/admin/clients?limit=2&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(page2["clients"].as_array().unwrap().len(), 1);
    assert!(page2["next_cursor"].is_null());
    let mut ids: Vec<&str> = page1["clients"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["clients"].as_array().unwrap())
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    let (_, mine) = admin
        .call(Method::GET, &format!("/admin/clients?owner={owner}"), None)
        .await;
    assert_eq!(mine["clients"].as_array().unwrap().len(), 1);
    let (st, _) = admin
        .call(Method::GET, "/admin/clients?limit=0", None)
        .await;
    assert_eq!(st, 400);

    // Get, update, rotate, delete.
    let id = owned["client_id"].as_str().unwrap();
    let (st, got) = admin
        .call(Method::GET, &format!("/admin/clients/{id}"), None)
        .await;
    assert_eq!((st, got["name"].as_str()), (200, Some("Olive's app")));
    assert!(got.get("client_secret").is_none());
    let (st, upd) = admin
        .call(
            Method::PATCH,
            &format!("/admin/clients/{id}"),
            Some(json!({"name": "Renamed", "website": "https://olive.example"})),
        )
        .await;
    assert_eq!((st, upd["name"].as_str()), (200, Some("Renamed")));
    let (st, sec) = admin
        .call(Method::POST, &format!("/admin/clients/{id}/secret"), None)
        .await;
    assert_eq!(st, 200);
    assert_ne!(sec["client_secret"], owned["client_secret"]);
    let ops_id = ops["client_id"].as_str().unwrap();
    let ops_client = common::TestClient {
        id: ops_id.to_owned(),
        secret: ops["client_secret"].as_str().unwrap().to_owned(),
    };
    let tok: Value = app
        .token_basic(&ops_client, &[("grant_type", "client_credentials")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tok["scope"], "latchkey:admin");
    let robot = Admin {
        token: tok["access_token"].as_str().unwrap().to_owned(),
        app: &app,
    };
    let (st, _) = robot.call(Method::GET, "/admin/users", None).await;
    assert_eq!(st, 200, "the new operator client's token works");
    // Taking the scope away takes it from its live token.
    let (st, _) = admin
        .call(
            Method::PATCH,
            &format!("/admin/clients/{ops_id}"),
            Some(json!({"scopes": ["profile"]})),
        )
        .await;
    assert_eq!(st, 200);
    let (st, p) = robot.call(Method::GET, "/admin/users", None).await;
    assert_eq!(st, 403, "{p}");
    let (st, _) = admin
        .call(Method::DELETE, &format!("/admin/clients/{id}"), None)
        .await;
    assert_eq!(st, 204);
    let (st, p) = admin
        .call(Method::GET, &format!("/admin/clients/{id}"), None)
        .await;
    assert_eq!(st, 404);
    assert_eq!(p["type"], "urn:latchkey:problem:not-found");
}

async fn users(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let admin = Admin {
        token: app.admin_token().await,
        app: &app,
    };
    for (name, email) in [
        ("ann", "Ann@Example.com"),
        ("bob", "bob@example.com"),
        ("cy", "cy@other.org"),
    ] {
        let (st, u) = admin
            .call(
                Method::POST,
                "/admin/users",
                Some(json!({"username": name, "password": "correct horse", "email": email, "name": format!("{name} Person")})),
            )
            .await;
        assert_eq!(st, 201, "{u}");
        assert_eq!(u["source"], "local");
        assert!(u.get("password").is_none());
    }
    let (st, _) = admin
        .call(
            Method::POST,
            "/admin/users",
            Some(json!({"username": "ann", "password": "correct horse"})),
        )
        .await;
    assert_eq!(st, 409);
    let (st, _) = admin
        .call(
            Method::POST,
            "/admin/users",
            Some(json!({"username": "dee", "password": "short"})),
        )
        .await;
    assert_eq!(st, 400);

    // Search ignores case and matches email and name; `%` is literal.
    let (_, found) = admin
        .call(Method::GET, "/admin/users?search=EXAMPLE.COM", None)
        .await;
    let names: Vec<&str> = found["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{found}");
    let (_, none) = admin
        .call(Method::GET, "/admin/users?search=%25", None)
        .await;
    assert!(none["users"].as_array().unwrap().is_empty());
    let (_, p1) = admin.call(Method::GET, "/admin/users?limit=2", None).await;
    assert_eq!(p1["users"].as_array().unwrap().len(), 2);
    let c = p1["next_cursor"].as_str().unwrap().to_owned();
    let (_, p2) = admin
        .call(
            Method::GET,
            &format!("/admin/users?limit=2&cursor={c}"),
            None,
        )
        .await;
    assert_eq!(p2["users"].as_array().unwrap().len(), 1);

    // Ann authorizes an app; the admin API sees the grant and the session.
    let ann = app.state.db.clone();
    let ann_id = latchkey::store::users::find_user_by_username(&ann, "ann")
        .await
        .unwrap()
        .unwrap()
        .id;
    let client = app
        .public_client("http://127.0.0.1/cb", "profile offline_access")
        .await;
    let browser = Browser::new(&app);
    browser.login("ann", "correct horse").await;
    let (verifier, challenge) = pkce_pair();
    let q = [
        ("response_type", "code"),
        ("client_id", client.as_str()),
        ("redirect_uri", "http://127.0.0.1/cb"),
        ("scope", "profile offline_access"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let resp = browser.decide(&q, "approve").await;
    let code = query_of(&location(&resp))["code"].clone();
    let tokens: Value = app
        .token_public(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1/cb"),
            ("client_id", &client),
            ("code_verifier", &verifier),
        ])
        .await
        .json()
        .await
        .unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (_, grants) = admin
        .call(Method::GET, &format!("/admin/users/{ann_id}/grants"), None)
        .await;
    assert_eq!(grants["grants"][0]["client_id"], client.as_str());
    let (_, sessions) = admin
        .call(
            Method::GET,
            &format!("/admin/users/{ann_id}/sessions"),
            None,
        )
        .await;
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(sessions["sessions"][0]["persistent"], true);

    // A person's token with every management scope is still not an admin token.
    let user_token = tokens["access_token"].as_str().unwrap();
    let resp = app
        .http
        .get(app.url("/admin/users"))
        .bearer_auth(user_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // Update, then disable: sessions end, refresh fails, sign-in fails.
    let (st, u) = admin
        .call(
            Method::PATCH,
            &format!("/admin/users/{ann_id}"),
            Some(json!({"name": "Ann B.", "email": null})),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(u["name"], "Ann B.");
    assert!(u["email"].is_null());
    assert_eq!(u["email_verified"], false);
    let (st, u) = admin
        .call(
            Method::PATCH,
            &format!("/admin/users/{ann_id}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!((st, u["disabled"].as_bool()), (200, Some(true)));
    let resp = app
        .token_public(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client),
        ])
        .await;
    common::expect_oauth_error(resp, 400, "invalid_grant").await;
    assert_eq!(app.introspect(user_token).await["active"], false);
    assert_eq!(
        Browser::new(&app)
            .try_login("ann", "correct horse")
            .await
            .status(),
        401,
        "refused like a wrong password"
    );
    let resp = browser.authorize(&q).await;
    assert!(location(&resp).starts_with("/login"), "signed out");
    let (_, u) = admin
        .call(
            Method::PATCH,
            &format!("/admin/users/{ann_id}"),
            Some(json!({"disabled": false})),
        )
        .await;
    assert_eq!(u["disabled"], false);

    // Set a password: the old one stops working.
    let (st, _) = admin
        .call(
            Method::PUT,
            &format!("/admin/users/{ann_id}/password"),
            Some(json!({"password": "battery staple"})),
        )
        .await;
    assert_eq!(st, 204);
    assert_eq!(
        Browser::new(&app)
            .try_login("ann", "correct horse")
            .await
            .status(),
        401
    );
    assert_eq!(
        Browser::new(&app)
            .try_login("ann", "battery staple")
            .await
            .status(),
        303
    );

    // Revoke all grants, end all sessions, delete.
    let (st, _) = admin
        .call(
            Method::DELETE,
            &format!("/admin/users/{ann_id}/grants"),
            None,
        )
        .await;
    assert_eq!(st, 204);
    let (_, grants) = admin
        .call(Method::GET, &format!("/admin/users/{ann_id}/grants"), None)
        .await;
    assert!(grants["grants"].as_array().unwrap().is_empty());
    let (st, _) = admin
        .call(
            Method::DELETE,
            &format!("/admin/users/{ann_id}/sessions"),
            None,
        )
        .await;
    assert_eq!(st, 204);
    let (st, _) = admin
        .call(Method::DELETE, &format!("/admin/users/{ann_id}"), None)
        .await;
    assert_eq!(st, 204);
    let (st, _) = admin
        .call(Method::GET, &format!("/admin/users/{ann_id}"), None)
        .await;
    assert_eq!(st, 404);
}

async fn refusals(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    // No token, a junk token, a token without the scope.
    let resp = app
        .http
        .get(app.url("/admin/clients"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    assert_eq!(
        resp.headers()["www-authenticate"],
        r#"Bearer realm="latchkey", scope="latchkey:admin", DPoP realm="latchkey", scope="latchkey:admin", algs="RS256 PS256 ES256 EdDSA""#
    );
    let resp = app
        .http
        .get(app.url("/admin/clients"))
        .bearer_auth("junk")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let plain = app.client(None).await;
    let tok: Value = app
        .token_basic(&plain, &[("grant_type", "client_credentials")])
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !tok["scope"].as_str().unwrap().contains("latchkey:admin"),
        "never a default"
    );
    let resp = app
        .http
        .get(app.url("/admin/users"))
        .bearer_auth(tok["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["type"], "urn:latchkey:problem:insufficient-scope");
    let resp = app
        .token_basic(
            &plain,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "latchkey:admin"),
            ],
        )
        .await;
    common::expect_oauth_error(resp, 400, "invalid_scope").await;

    // Nobody but an operator gives a client the admin scope.
    let resp = app.http.post(app.url("/oauth/register"))
        .json(&json!({"client_name": "sneaky", "grant_types": ["client_credentials"], "scope": "latchkey:admin"}))
        .send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client_metadata");
    let resp = app.http.post(app.url("/oauth/register"))
        .json(&json!({"client_name": "default", "redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none"}))
        .send().await.unwrap();
    let body: Value = resp.json().await.unwrap();
    assert!(
        !body["scope"].as_str().unwrap().contains("latchkey:admin"),
        "{body}"
    );
}

both_backends!(clients, users, refusals);
