//! The FAPI 2.0 Security Profile (`--profile fapi2`): a whole code flow as FAPI has
//! it (PAR, PKCE, `private_key_jwt`, DPoP, `iss`), and every rule refusing what it
//! must with a message that names it: a secret, a public client, RS256 assertions
//! and proofs, no PAR, no PKCE, no DPoP; RS256 signing and long codes refused at
//! start.

// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::flow::{CB, PASSWORD};
use common::jose::{TestKey, assertion_claims};
use common::{
    Backend, Browser, START, TestApp, expect_oauth_error, jwt_claims, location, pkce_pair, query_of,
};
use latchkey::oauth::client_assertion::JWT_BEARER;
use latchkey::oauth::registration::{ClientMetadata, KeysMetadata};
use latchkey::oauth::types::GrantType;
use serde_json::{Value, json};

both_backends!(a_fapi_code_flow, what_the_profile_refuses);

async fn fapi_app(backend: &Backend) -> TestApp {
    TestApp::builder()
        .key_alg(latchkey::keys::Alg::Es256)
        .args(|a| a.profile = Some("fapi2".into()))
        .spawn(backend)
        .await
}

/// A confidential client with `key`, for the code flow and client credentials.
async fn key_client(app: &TestApp, key: &TestKey) -> String {
    latchkey::services::clients::create_client(
        &app.state.db,
        &app.state.settings.scopes,
        ClientMetadata {
            name: "bank app".into(),
            redirect_uris: vec![CB.into()],
            scope: Some("profile".into()),
            grant_types: vec![
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::ClientCredentials,
            ],
            keys: Some(KeysMetadata::Jwks(TestKey::set(&[key]))),
            ..Default::default()
        },
        Default::default(),
        START,
    )
    .await
    .unwrap()
    .row
    .id
}

/// `form` at `path`, authenticated by a fresh assertion of `key` for `client_id`,
/// with a DPoP proof by `holder` if given.
async fn signed(
    app: &TestApp,
    path: &str,
    client_id: &str,
    key: &TestKey,
    form: &[(&str, &str)],
    holder: Option<&TestKey>,
) -> reqwest::Response {
    let assertion = key.sign(
        &key.header(),
        &assertion_claims(client_id, &app.base, START),
    );
    let mut body: Vec<(&str, &str)> = form.to_vec();
    body.push(("client_assertion_type", JWT_BEARER));
    body.push(("client_assertion", &assertion));
    let mut req = app.http.post(app.url(path)).form(&body);
    if let Some(h) = holder {
        req = req.header("DPoP", h.proof("POST", &app.url(path), START, json!({})));
    }
    req.send().await.unwrap()
}

fn authorization(challenge: &str) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "code"),
        ("redirect_uri", CB),
        ("scope", "profile"),
        ("state", "st-f"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

async fn a_fapi_code_flow(backend: Backend) {
    let app = fapi_app(&backend).await;
    let key = TestKey::es256("bank");
    let holder = TestKey::es256("holder");
    let id = key_client(&app, &key).await;
    app.user("alice", PASSWORD).await;
    let browser = Browser::new(&app);
    browser.login("alice", PASSWORD).await;
    let (verifier, challenge) = pkce_pair();
    let resp = signed(
        &app,
        "/oauth/par",
        &id,
        &key,
        &authorization(&challenge),
        Some(&holder),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let uri = resp.json::<Value>().await.unwrap()["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let query = [("client_id", id.as_str()), ("request_uri", uri.as_str())];
    let resp = browser.decide(&query, "approve").await;
    let q = query_of(&location(&resp));
    assert_eq!(q["iss"], app.base, "RFC 9207 iss in the response");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", q["code"].as_str()),
        ("redirect_uri", CB),
        ("code_verifier", verifier.as_str()),
    ];
    let resp = signed(&app, "/oauth/token", &id, &key, &form, Some(&holder)).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(at)["cnf"]["jkt"], holder.jkt());
    let header = jsonwebtoken::decode_header(at).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    // Metadata says what the profile allows.
    let meta = common::get_json(
        &app.http,
        &app.url("/.well-known/oauth-authorization-server"),
    )
    .await;
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["private_key_jwt"])
    );
    assert_eq!(
        meta["token_endpoint_auth_signing_alg_values_supported"],
        json!(["PS256", "ES256", "EdDSA"])
    );
    assert_eq!(
        meta["dpop_signing_alg_values_supported"],
        json!(["PS256", "ES256", "EdDSA"])
    );
    assert_eq!(meta["require_pushed_authorization_requests"], true);
    let prm = common::get_json(&app.http, &app.url("/.well-known/oauth-protected-resource")).await;
    assert_eq!(prm["dpop_bound_access_tokens_required"], true);
}

/// The refusal's description names the rule.
async fn names(resp: reqwest::Response, status: u16, error: &str, needle: &str) {
    let body = expect_oauth_error(resp, status, error).await;
    let d = body["error_description"].as_str().unwrap();
    assert!(d.contains(needle), "{needle:?} in {d:?}");
    assert!(body.get("access_token").is_none() && body.get("request_uri").is_none());
}

async fn what_the_profile_refuses(backend: Backend) {
    let app = fapi_app(&backend).await;
    let key = TestKey::es256("bank");
    let holder = TestKey::es256("holder");
    let id = key_client(&app, &key).await;
    let cc = [("grant_type", "client_credentials")];
    // A client secret, and a public client.
    let secret = app.client(None).await;
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&secret.id, Some(&secret.secret))
        .header(
            "DPoP",
            holder.proof("POST", &app.url("/oauth/token"), START, json!({})),
        )
        .form(&cc)
        .send()
        .await
        .unwrap();
    names(resp, 401, "invalid_client", "private_key_jwt only").await;
    let public = app.public_client(CB, "profile").await;
    let (_, challenge) = pkce_pair();
    let mut form = authorization(&challenge);
    form.push(("client_id", &public));
    let resp = app
        .http
        .post(app.url("/oauth/par"))
        .form(&form)
        .send()
        .await
        .unwrap();
    names(resp, 401, "invalid_client", "FAPI 2.0").await;
    // No DPoP.
    names(
        signed(&app, "/oauth/token", &id, &key, &cc, None).await,
        400,
        "invalid_dpop_proof",
        "FAPI 2.0",
    )
    .await;
    // RS256, for an assertion and for a proof.
    let rsa = TestKey::rs256("rsa");
    let rsa_id = key_client(&app, &rsa).await;
    names(
        signed(&app, "/oauth/token", &rsa_id, &rsa, &cc, Some(&holder)).await,
        401,
        "invalid_client",
        "RS256",
    )
    .await;
    names(
        signed(&app, "/oauth/token", &id, &key, &cc, Some(&rsa)).await,
        400,
        "invalid_dpop_proof",
        "RS256",
    )
    .await;
    // PAR without PKCE.
    let no_pkce: Vec<(&str, &str)> = authorization(&challenge)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .collect();
    names(
        signed(&app, "/oauth/par", &id, &key, &no_pkce, Some(&holder)).await,
        400,
        "invalid_request",
        "PKCE",
    )
    .await;
    // An authorization request that was not pushed.
    app.user("alice", PASSWORD).await;
    let browser = Browser::new(&app);
    browser.login("alice", PASSWORD).await;
    let mut direct = authorization(&challenge);
    direct.push(("client_id", &id));
    let q = query_of(&location(&browser.authorize(&direct).await));
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("/oauth/par"), "{q:?}");
    // What the profile refuses at start.
    let settings = |f: &dyn Fn(&mut latchkey::config::SettingsArgs)| {
        let mut args = latchkey::config::SettingsArgs {
            profile: Some("fapi2".into()),
            ..Default::default()
        };
        f(&mut args);
        latchkey::config::Settings::load(&args)
    };
    let err = settings(&|a| a.signing_alg = Some("RS256".into())).unwrap_err();
    assert!(err.to_string().contains("RS256"), "{err}");
    let err = settings(&|a| a.code_ttl = Some(120)).unwrap_err();
    assert!(err.to_string().contains("code_ttl"), "{err}");
    let ok = settings(&|_| {}).unwrap();
    assert!(ok.profile.fapi2 && ok.profile.require_par);
    assert_eq!(ok.signing_alg, latchkey::keys::Alg::Es256);
    let err = settings(&|a| a.profile = Some("fapi3".into())).unwrap_err();
    assert!(err.to_string().contains("fapi3"), "{err}");
}
