//! Dynamic client registration (RFC 7591/7592) as an MCP client does it, and the
//! rate limits in front of the endpoints.
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::flow::{PASSWORD, Party};
use common::{Backend, Browser, TestApp, expect_oauth_error, location, pkce_pair, query_of};
use serde_json::{Value, json};

async fn register(app: &TestApp, body: Value) -> reqwest::Response {
    app.http
        .post(app.url("/oauth/register"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn registered(app: &TestApp, body: Value) -> Value {
    let resp = register(app, body).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    resp.json().await.unwrap()
}

/// A confidential client registers, uses its secret, reads, updates and deletes
/// its registration with the registration access token.
async fn confidential_registration_and_management(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let info = registered(
        &app,
        json!({
            "client_name": "Team dashboard",
            "redirect_uris": ["https://dash.example/oauth/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_post",
            "scope": "profile email",
            "client_uri": "https://dash.example",
            "logo_uri": "https://dash.example/logo.png",
            "software_id": "ignored-unknown-field",
        }),
    )
    .await;
    let id = info["client_id"].as_str().unwrap().to_owned();
    assert!(
        info["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("lk_cs_")
    );
    assert_eq!(info["client_secret_expires_at"], 0);
    assert!(info["client_id_issued_at"].as_i64().unwrap() > 0);
    assert_eq!(info["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(
        info["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(info["response_types"], json!(["code"]));
    assert_eq!(info["scope"], "email profile");
    assert_eq!(info["client_uri"], "https://dash.example");
    assert_eq!(info["logo_uri"], "https://dash.example/logo.png");
    let rat = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = info["registration_client_uri"].as_str().unwrap().to_owned();
    assert_eq!(uri, app.url(&format!("/oauth/register/{id}")));

    // Read.
    let resp = app.http.get(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let read: Value = resp.json().await.unwrap();
    assert_eq!(read["client_name"], "Team dashboard");
    assert!(read.get("client_secret").is_none());
    for bad in ["lk_rat_wrong", ""] {
        let resp = app.http.get(&uri).bearer_auth(bad).send().await.unwrap();
        expect_oauth_error(resp, 401, "invalid_token").await;
    }
    let resp = app.http.get(&uri).send().await.unwrap();
    expect_oauth_error(resp, 401, "invalid_token").await;
    // Another client's token does not open this registration.
    let other = registered(
        &app,
        json!({"client_name": "Other", "redirect_uris": ["https://o.example/cb"]}),
    )
    .await;
    let resp = app
        .http
        .get(&uri)
        .bearer_auth(other["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    expect_oauth_error(resp, 401, "invalid_token").await;

    // Update replaces the metadata and the registration access token.
    let resp = app
        .http
        .put(&uri)
        .bearer_auth(&rat)
        .json(&json!({
            "client_id": id,
            "client_name": "Team dashboard 2",
            "redirect_uris": ["https://dash.example/cb2"],
            "token_endpoint_auth_method": "client_secret_basic",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let updated: Value = resp.json().await.unwrap();
    assert_eq!(updated["client_name"], "Team dashboard 2");
    assert_eq!(
        updated["redirect_uris"],
        json!(["https://dash.example/cb2"])
    );
    let rat2 = updated["registration_access_token"].as_str().unwrap();
    assert_ne!(rat2, rat);
    let resp = app.http.get(&uri).bearer_auth(&rat).send().await.unwrap();
    expect_oauth_error(resp, 401, "invalid_token").await;
    // The type cannot change, and the body's client_id must match.
    let resp = app
        .http
        .put(&uri)
        .bearer_auth(rat2)
        .json(&json!({"client_name": "x", "redirect_uris": ["https://d.example/cb"], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap();
    expect_oauth_error(resp, 400, "invalid_client_metadata").await;
    let resp = app
        .http
        .put(&uri)
        .bearer_auth(rat2)
        .json(&json!({"client_id": "someone-else", "client_name": "x", "redirect_uris": ["https://d.example/cb"]}))
        .send()
        .await
        .unwrap();
    expect_oauth_error(resp, 400, "invalid_client_metadata").await;

    // The secret works at the token endpoint (a client_credentials request is
    // refused as a grant the client lacks, after authentication succeeded).
    let secret = info["client_secret"].as_str().unwrap();
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    expect_oauth_error(resp, 400, "unauthorized_client").await;

    // Delete.
    let resp = app
        .http
        .delete(&uri)
        .bearer_auth(rat2)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = app.http.get(&uri).bearer_auth(rat2).send().await.unwrap();
    expect_oauth_error(resp, 401, "invalid_token").await;
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    expect_oauth_error(resp, 401, "invalid_client").await;
}

/// The MCP desktop/CLI case: a public client registers `http://127.0.0.1/callback`,
/// then completes the code flow with PKCE on a port it never registered.
async fn public_client_registers_then_signs_a_user_in(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let info = registered(
        &app,
        json!({
            "client_name": "Claude Desktop",
            "redirect_uris": ["http://127.0.0.1/callback", "http://localhost/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
            "scope": "profile",
        }),
    )
    .await;
    assert!(info.get("client_secret").is_none(), "{info}");
    assert!(info.get("client_secret_expires_at").is_none(), "{info}");
    assert_eq!(info["token_endpoint_auth_method"], "none");
    let client_id = info["client_id"].as_str().unwrap();

    app.user("dana", PASSWORD).await;
    let browser = Browser::new(&app);
    browser.login("dana", PASSWORD).await;
    for redirect in [
        "http://127.0.0.1:53682/callback",
        "http://localhost:8976/callback",
    ] {
        let party = Party {
            app: &app,
            browser: &browser,
            client_id,
            redirect_uri: redirect,
        };
        let tokens = party.tokens("profile").await;
        assert!(
            tokens["refresh_token"]
                .as_str()
                .unwrap()
                .starts_with("lk_rt_")
        );
        let userinfo: Value = app
            .http
            .get(app.url("/oauth/userinfo"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(userinfo["username"], "dana");
    }

    // PKCE is required of it, and other paths or hosts are not its redirect URIs.
    let resp = browser
        .authorize(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", "http://127.0.0.1:53682/callback"),
            ("scope", "profile"),
            ("state", "s"),
        ])
        .await;
    assert_eq!(resp.status(), 303);
    let q = query_of(&location(&resp));
    assert_eq!(q["error"], "invalid_request", "{q:?}");
    for wrong in [
        "http://127.0.0.1:53682/other",
        "http://192.168.1.5:53682/callback",
    ] {
        let (_, challenge) = pkce_pair();
        let resp = browser
            .authorize(&[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", wrong),
                ("scope", "profile"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
            .await;
        assert_eq!(
            resp.status(),
            400,
            "{wrong}: an error page, never a redirect"
        );
    }
}

async fn bad_metadata_is_refused(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    for (body, error) in [
        (
            json!({"client_name": "x", "redirect_uris": ["http://evil.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["https://a.example/*"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["https://a.example/cb#x"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"client_name": "x", "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["https://a.example/cb"], "grant_types": ["password"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["https://a.example/cb"], "scope": "root"}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["https://a.example/cb"], "logo_uri": "data:x"}),
            "invalid_client_metadata",
        ),
        // Anonymous callers cannot mint machine credentials.
        (
            json!({"client_name": "x", "grant_types": ["client_credentials"], "response_types": []}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "redirect_uris": "https://a.example/cb"}),
            "invalid_client_metadata",
        ),
        (json!([1, 2]), "invalid_client_metadata"),
    ] {
        let resp = register(&app, body.clone()).await;
        assert_eq!(resp.status(), 400, "{body}");
        let got: Value = resp.json().await.unwrap();
        assert_eq!(got["error"], error, "{body}: {got}");
        assert!(
            got["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
    let resp = app
        .http
        .post(app.url("/oauth/register"))
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    expect_oauth_error(resp, 400, "invalid_client_metadata").await;
}

async fn registration_policies(backend: Backend) {
    let closed = TestApp::builder()
        .args(|a| a.registration = Some("disabled".into()))
        .spawn(&backend)
        .await;
    let body = json!({"client_name": "x", "redirect_uris": ["https://a.example/cb"]});
    expect_oauth_error(register(&closed, body.clone()).await, 403, "access_denied").await;

    let gated = TestApp::builder()
        .args(|a| a.registration = Some("token".into()))
        .spawn(&backend)
        .await;
    let resp = register(&gated, body.clone()).await;
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    expect_oauth_error(resp, 401, "invalid_token").await;
    let now = latchkey::clock::Clock::now(&gated.clock);
    let token = latchkey::services::clients::create_initial_token(&gated.state.db, now, 60)
        .await
        .unwrap();
    let with = |t: &str, b: &Value| {
        gated
            .http
            .post(gated.url("/oauth/register"))
            .bearer_auth(t)
            .json(b)
            .send()
    };
    expect_oauth_error(
        with("lk_iat_forged", &body).await.unwrap(),
        401,
        "invalid_token",
    )
    .await;
    assert_eq!(with(&token, &body).await.unwrap().status(), 201);
    // With a token, machine clients may register, and their secret works.
    let machine = json!({"client_name": "worker", "grant_types": ["client_credentials"], "response_types": [], "scope": "profile"});
    let resp = with(&token, &machine).await.unwrap();
    assert_eq!(resp.status(), 201);
    let info: Value = resp.json().await.unwrap();
    let resp = gated
        .http
        .post(gated.url("/oauth/token"))
        .basic_auth(
            info["client_id"].as_str().unwrap(),
            info["client_secret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The token expires.
    gated.clock.advance(61);
    expect_oauth_error(with(&token, &body).await.unwrap(), 401, "invalid_token").await;
}

/// 429 with Retry-After: registration per address (through a trusted proxy), the
/// token endpoint and revocation per client and per address, sign-in per username.
async fn rate_limits_answer_429(backend: Backend) {
    let app = TestApp::builder()
        .args(|a| {
            a.rate_limit_register = Some("2/15m".into());
            a.rate_limit_token = Some("3/1m".into());
            a.rate_limit_login = Some("3/1m".into());
            a.rate_limit_revoke = Some("2/1m".into());
            a.trusted_proxies = Some("127.0.0.1/32".into());
        })
        .spawn(&backend)
        .await;
    let body = json!({"client_name": "x", "redirect_uris": ["https://a.example/cb"]});
    let from = |ip: &'static str| {
        app.http
            .post(app.url("/oauth/register"))
            .header("x-forwarded-for", format!("203.0.113.50, {ip}"))
            .json(&body)
            .send()
    };
    for _ in 0..2 {
        assert_eq!(from("198.51.100.1").await.unwrap().status(), 201);
    }
    let resp = from("198.51.100.1").await.unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=450).contains(&retry),
        "one of 2 per 15 minutes refills in 7.5: {retry}"
    );
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"], "rate_limited");
    assert!(
        err["error_description"]
            .as_str()
            .unwrap()
            .contains("retry after")
    );
    // Another address (the rightmost untrusted hop counts, not the spoofable first).
    assert_eq!(from("198.51.100.2").await.unwrap().status(), 201);

    // Token endpoint: per client, counted after authentication.
    let client = app.client(None).await;
    let token = |secret: String| {
        app.http
            .post(app.url("/oauth/token"))
            .basic_auth(&client.id, Some(secret))
            .header("x-forwarded-for", "198.51.100.9")
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    // Wrong secrets do not spend the client's budget.
    for _ in 0..3 {
        assert_eq!(token("lk_cs_wrong".into()).await.unwrap().status(), 401);
    }
    let mut statuses = Vec::new();
    for i in 0..4 {
        // Each from its own address, so only the per-client limit can refuse.
        let resp = app
            .http
            .post(app.url("/oauth/token"))
            .basic_auth(&client.id, Some(&client.secret))
            .header("x-forwarded-for", format!("198.51.100.{}", 20 + i))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            assert!(resp.headers().contains_key("retry-after"));
            assert_eq!(resp.headers()["cache-control"], "no-store");
            let err: Value = resp.json().await.unwrap();
            assert_eq!(err["error"], "rate_limited");
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    // And per address: new clients, one address.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let other = app.client(None).await;
        let resp = app
            .http
            .post(app.url("/oauth/token"))
            .basic_auth(&other.id, Some(&other.secret))
            .header("x-forwarded-for", "198.51.100.30")
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429]);

    // Revocation: per client (each call from its own address), then per address (a
    // new client each call, one address); a 429 is the JSON error with Retry-After.
    let revoke = |id: String, secret: String, ip: String| {
        app.http
            .post(app.url("/oauth/revoke"))
            .basic_auth(id, Some(secret))
            .header("x-forwarded-for", ip)
            .form(&[("token", "lk_rt_not-a-token")])
            .send()
    };
    let revoker = app.client(None).await;
    let mut statuses = Vec::new();
    for i in 0..3 {
        let resp = revoke(
            revoker.id.clone(),
            revoker.secret.clone(),
            format!("198.51.100.{}", 40 + i),
        )
        .await
        .unwrap();
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            assert!(resp.headers().contains_key("retry-after"));
            let err: Value = resp.json().await.unwrap();
            assert_eq!(err["error"], "rate_limited");
        }
    }
    assert_eq!(statuses, [200, 200, 429]);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let other = app.client(None).await;
        let resp = revoke(other.id, other.secret, "198.51.100.60".into())
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429]);

    // Sign-in: per username across addresses; a browser gets a page.
    app.user("erin", PASSWORD).await;
    let browser = Browser::new(&app);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(browser.try_login("erin", "wrong").await.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
}

/// OpenID Connect Registration `application_type`: `native` may register a
/// private-use scheme and a code flow runs through it; `web` (the default) may not.
async fn application_types(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let native = registered(
        &app,
        json!({
            "client_name": "Mobile notes",
            "application_type": "native",
            "redirect_uris": ["com.example.notes:/oauth/callback", "http://127.0.0.1/callback"],
            "token_endpoint_auth_method": "none",
            "scope": "profile",
        }),
    )
    .await;
    assert_eq!(native["application_type"], "native");
    let read: Value = app
        .http
        .get(native["registration_client_uri"].as_str().unwrap())
        .bearer_auth(native["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        read["application_type"], "native",
        "RFC 7592 read echoes it"
    );

    app.user("erin", PASSWORD).await;
    let browser = Browser::new(&app);
    browser.login("erin", PASSWORD).await;
    let party = Party {
        app: &app,
        browser: &browser,
        client_id: native["client_id"].as_str().unwrap(),
        redirect_uri: "com.example.notes:/oauth/callback",
    };
    let tokens = party.tokens("profile").await;
    assert!(tokens["access_token"].is_string());

    // A client that says no type and registers a private-use scheme is native
    // (MCP clients omit the member); one that says `web` may not use the scheme.
    let untyped = registered(
        &app,
        json!({
            "client_name": "Untyped app with a custom scheme",
            "redirect_uris": ["com.example.notes:/oauth/callback"],
            "token_endpoint_auth_method": "none",
        }),
    )
    .await;
    assert_eq!(untyped["application_type"], "native");
    let body = expect_oauth_error(
        register(
            &app,
            json!({
                "client_name": "Explicit web",
                "application_type": "web",
                "redirect_uris": ["com.example.notes:/cb"],
                "token_endpoint_auth_method": "none",
            }),
        )
        .await,
        400,
        "invalid_redirect_uri",
    )
    .await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("native"),
        "{body}"
    );
    let web = registered(
        &app,
        json!({
            "client_name": "Web",
            "redirect_uris": ["https://web.example/cb", "http://localhost/cb"],
        }),
    )
    .await;
    assert_eq!(web["application_type"], "web");
    expect_oauth_error(
        register(
            &app,
            json!({"client_name": "x", "application_type": "browser", "redirect_uris": ["https://a.example/cb"]}),
        )
        .await,
        400,
        "invalid_client_metadata",
    )
    .await;
}

both_backends!(
    application_types,
    confidential_registration_and_management,
    public_client_registers_then_signs_a_user_in,
    bad_metadata_is_refused,
    registration_policies,
    rate_limits_answer_429,
);
