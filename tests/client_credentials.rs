//! The client credentials grant end to end, verified as a resource server would.
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::{Backend, START, TestApp, expect_oauth_error};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

/// Verifies `token` exactly as a resource server does: key from the server's JWKS by
/// `kid`, signature, `typ`, `iss`, `aud`, `exp`.
async fn verify_like_a_resource_server(app: &TestApp, token: &str, audience: &str) -> Value {
    let jwks: JwkSet = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let kid = header.kid.expect("kid");
    let jwk = jwks.find(&kid).expect("the token's kid is in the JWKS");
    // The algorithm comes from the key the resource server trusts, not the token.
    let alg: Algorithm = jwk
        .common
        .key_algorithm
        .unwrap()
        .to_string()
        .parse()
        .unwrap();
    assert_eq!(header.alg, alg);
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[&app.state.settings.issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // The test clock is fixed in the future; check exp against it, not the wall clock.
    validation.validate_exp = false;
    let data = decode::<Value>(token, &key, &validation).expect("the token verifies");
    let exp = data.claims["exp"].as_i64().unwrap();
    assert!(exp > app.clock_now(), "token not yet expired at issue time");
    data.claims
}

/// Requests a token with HTTP Basic, expects success, and returns the verified claims.
async fn issued_claims(
    app: &TestApp,
    client: &common::TestClient,
    form: &[(&str, &str)],
    audience: &str,
) -> Value {
    let resp = app.token_basic(client, form).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    verify_like_a_resource_server(app, body["access_token"].as_str().unwrap(), audience).await
}

trait Now {
    fn clock_now(&self) -> i64;
}

impl Now for TestApp {
    fn clock_now(&self) -> i64 {
        use latchkey::clock::Clock;
        self.clock.now()
    }
}

async fn basic_auth_issues_a_verifiable_jwt(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.client(Some("profile apps:read")).await;
    let resp = app
        .token_basic(&client, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "apps:read profile");
    let claims =
        verify_like_a_resource_server(&app, body["access_token"].as_str().unwrap(), &app.base)
            .await;
    assert_eq!(claims["sub"], client.id.as_str());
    assert_eq!(claims["client_id"], client.id.as_str());
    assert_eq!(claims["scope"], "apps:read profile");
    assert_eq!(claims["iat"], START);
    assert_eq!(claims["exp"], START + 3600);
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
}

async fn post_auth_and_narrower_scope(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.client(Some("profile apps:read")).await;
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client.id.as_str()),
            ("client_secret", client.secret.as_str()),
            ("scope", "profile"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "profile");
    let claims =
        verify_like_a_resource_server(&app, body["access_token"].as_str().unwrap(), &app.base)
            .await;
    assert_eq!(claims["scope"], "profile");
}

async fn each_token_has_a_fresh_jti(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.client(None).await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..5 {
        let body: Value = app
            .token_basic(&client, &[("grant_type", "client_credentials")])
            .await
            .json()
            .await
            .unwrap();
        let token = body["access_token"].as_str().unwrap().to_owned();
        let claims = verify_like_a_resource_server(&app, &token, &app.base).await;
        assert!(seen.insert(claims["jti"].as_str().unwrap().to_owned()));
    }
}

async fn resource_indicators_set_the_audience(backend: Backend) {
    let app = TestApp::builder()
        .config(
            r#"
resources = ["https://orders.example", "https://billing.example"]
default_audience = "https://orders.example"
[[scopes]]
name = "orders:read"
description = "Read orders"
"#,
        )
        .spawn(&backend)
        .await;
    let client = app.client(Some("orders:read")).await;
    let cc = ("grant_type", "client_credentials");

    let claims = issued_claims(&app, &client, &[cc], "https://orders.example").await;
    assert_eq!(claims["aud"], "https://orders.example");

    let billing = ("resource", "https://billing.example");
    let claims = issued_claims(&app, &client, &[cc, billing], "https://billing.example").await;
    assert_eq!(claims["aud"], "https://billing.example");

    let orders = ("resource", "https://orders.example");
    let claims = issued_claims(
        &app,
        &client,
        &[cc, billing, orders],
        "https://orders.example",
    )
    .await;
    assert_eq!(
        claims["aud"],
        serde_json::json!(["https://billing.example", "https://orders.example"])
    );

    let resp = app
        .token_basic(
            &client,
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://evil.example"),
            ],
        )
        .await;
    expect_oauth_error(resp, 400, "invalid_target").await;
}

async fn access_token_ttl_is_configurable(backend: Backend) {
    let app = TestApp::builder()
        .args(|a| a.access_token_ttl = Some(120))
        .spawn(&backend)
        .await;
    let client = app.client(None).await;
    let body: Value = app
        .token_basic(&client, &[("grant_type", "client_credentials")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["expires_in"], 120);
    let claims =
        verify_like_a_resource_server(&app, body["access_token"].as_str().unwrap(), &app.base)
            .await;
    assert_eq!(claims["exp"], START + 120);
}

async fn authentication_failures(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.client(None).await;
    let form = [("grant_type", "client_credentials")];

    // Wrong secret.
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&client.id, Some("lk_cs_wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Basic realm=\"latchkey\""
    );
    let wrong = expect_oauth_error(resp, 401, "invalid_client").await;

    // Unknown client: the same answer, so client ids cannot be probed.
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth("no-such-client", Some("x"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let unknown = expect_oauth_error(resp, 401, "invalid_client").await;
    assert_eq!(wrong, unknown);

    // No authentication at all.
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    expect_oauth_error(resp, 401, "invalid_client").await;

    // A confidential client presenting no secret.
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client.id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    expect_oauth_error(resp, 401, "invalid_client").await;

    // Malformed Basic header.
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .header("authorization", "Basic %%%")
        .form(&form)
        .send()
        .await
        .unwrap();
    expect_oauth_error(resp, 401, "invalid_client").await;

    // Two methods at once.
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client.id.as_str()),
            ("client_secret", client.secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    expect_oauth_error(resp, 400, "invalid_request").await;
}

async fn rotated_secret_replaces_the_old_one(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let mut client = app.client(None).await;
    let form = [("grant_type", "client_credentials")];
    assert_eq!(app.token_basic(&client, &form).await.status(), 200);
    let new_secret = latchkey::services::clients::rotate_secret(&app.state.db, &client.id, START)
        .await
        .unwrap()
        .unwrap();
    // Rotated out of band (as the CLI or another instance would): the cache drops the
    // client at its next poll of the change counter, done here without waiting (the
    // background poll may get there first; either way the entry is gone).
    let counters = latchkey::store::counters::read(&app.state.db)
        .await
        .unwrap();
    app.state.client_cache.poll(counters.clients);
    expect_oauth_error(app.token_basic(&client, &form).await, 401, "invalid_client").await;
    client.secret = new_secret;
    assert_eq!(app.token_basic(&client, &form).await.status(), 200);
}

async fn request_errors(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.client(Some("profile")).await;
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
    let cases: &[Case] = &[
        (&[], 400, "invalid_request"),
        (&[("grant_type", "password")], 400, "unsupported_grant_type"),
        (
            &[("grant_type", "urn:ietf:params:oauth:grant-type:device_code")],
            400,
            "unsupported_grant_type",
        ),
        (
            &[("grant_type", "authorization_code")],
            400,
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
            ],
            400,
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("scope", "profile"),
                ("scope", "profile"),
            ],
            400,
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("scope", "nonexistent"),
            ],
            400,
            "invalid_scope",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("scope", "apps:write"),
            ],
            400,
            "invalid_scope",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("scope", "bad\"scope"),
            ],
            400,
            "invalid_scope",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://unknown.example"),
            ],
            400,
            "invalid_target",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("resource", "relative/path"),
            ],
            400,
            "invalid_target",
        ),
    ];
    for (form, status, error) in cases {
        let resp = app.token_basic(&client, form).await;
        let body = expect_oauth_error(resp, *status, error).await;
        eprintln!("{form:?} -> {body}");
    }
}

async fn client_without_the_grant_is_unauthorized(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let meta = latchkey::oauth::registration::ClientMetadata {
        name: "web app".into(),
        redirect_uris: vec!["https://app.example/cb".into()],
        ..Default::default()
    };
    let client = app.client_from(meta).await;
    let resp = app
        .token_basic(&client, &[("grant_type", "client_credentials")])
        .await;
    expect_oauth_error(resp, 400, "unauthorized_client").await;
}

async fn deleted_client_cannot_get_tokens(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.client(None).await;
    assert!(
        latchkey::store::clients::delete_client(&app.state.db, &client.id)
            .await
            .unwrap()
    );
    let resp = app
        .token_basic(&client, &[("grant_type", "client_credentials")])
        .await;
    expect_oauth_error(resp, 401, "invalid_client").await;
}

async fn es256_and_eddsa_tokens_verify_through_jwks(backend: Backend) {
    use latchkey::keys::Alg;
    for (alg, kty, crv) in [(Alg::Es256, "EC", "P-256"), (Alg::EdDsa, "OKP", "Ed25519")] {
        let app = TestApp::builder().key_alg(alg).spawn(&backend).await;
        let jwks: Value = app
            .http
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(jwks["keys"][0]["kty"], kty);
        assert_eq!(jwks["keys"][0]["crv"], crv);
        assert_eq!(jwks["keys"][0]["alg"], alg.as_str());
        assert_eq!(jwks["keys"][0]["use"], "sig");
        let client = app.client(None).await;
        let claims = issued_claims(
            &app,
            &client,
            &[("grant_type", "client_credentials")],
            &app.base,
        )
        .await;
        assert_eq!(claims["sub"], client.id.as_str());
    }
}

both_backends!(
    es256_and_eddsa_tokens_verify_through_jwks,
    basic_auth_issues_a_verifiable_jwt,
    post_auth_and_narrower_scope,
    each_token_has_a_fresh_jti,
    resource_indicators_set_the_audience,
    access_token_ttl_is_configurable,
    authentication_failures,
    rotated_secret_replaces_the_old_one,
    request_errors,
    client_without_the_grant_is_unauthorized,
    deleted_client_cannot_get_tokens,
);
