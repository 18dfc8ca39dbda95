//! DPoP (RFC 9449): tokens bound to a key the client holds. Every grant issues a
//! bound token when the request carries a proof; every rule of the proof refuses
//! what it must with `invalid_dpop_proof` and issues nothing; a proof is accepted
//! once across instances; a public client's refresh tokens, a `dpop_jkt` code and a
//! `dpop_bound_access_tokens` client are bound; UserInfo, `/api` and `/admin` take
//! `Authorization: DPoP` and refuse the downgrade to `Bearer`; server nonces work
//! across instances; openid-client does it all by itself.

// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::flow::{CB, Flow, PASSWORD, public_flow_scoped};
use common::jose::{TestKey, ath, dpop_claims};
use common::{Backend, START, TestApp, TestClient, expect_oauth_error, jwt_claims, pkce_pair};
use latchkey::oauth::registration::ClientMetadata;
use latchkey::oauth::types::GrantType;
use serde_json::{Value, json};

both_backends!(
    client_credentials_tokens_are_bound_to_the_proof_key,
    every_broken_proof_is_refused,
    a_proof_is_accepted_once_across_instances,
    a_public_clients_refresh_tokens_are_bound,
    a_confidential_clients_refresh_tokens_are_not,
    dpop_jkt_binds_the_code,
    a_dpop_bound_client_needs_a_proof,
    own_resources_take_dpop_and_refuse_the_downgrade,
    server_nonces_across_instances,
    openid_client_dpop,
);

const TOKEN: &str = "/oauth/token";

/// A token request with `proofs` as DPoP headers (none, one, or several).
async fn token(
    app: &TestApp,
    client: Option<&TestClient>,
    form: &[(&str, &str)],
    proofs: &[&str],
) -> reqwest::Response {
    let mut req = app.http.post(app.url(TOKEN)).form(form);
    if let Some(c) = client {
        req = req.basic_auth(&c.id, Some(&c.secret));
    }
    for p in proofs {
        req = req.header("DPoP", *p);
    }
    req.send().await.unwrap()
}

async fn cc(app: &TestApp, client: &TestClient, proofs: &[&str]) -> reqwest::Response {
    token(
        app,
        Some(client),
        &[("grant_type", "client_credentials")],
        proofs,
    )
    .await
}

/// A successful token response's body, which must be `DPoP`-typed and bound to `key`.
async fn bound(resp: reqwest::Response, key: &TestKey) -> Value {
    assert_eq!(resp.status(), 200, "a token");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"], json!({"jkt": key.jkt()}));
    body
}

/// Refused with 400 `invalid_dpop_proof`, a description that says `needle`, and
/// no token.
async fn refused(resp: reqwest::Response, needle: &str) {
    let body = expect_oauth_error(resp, 400, "invalid_dpop_proof").await;
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.contains(needle),
        "{needle:?} in {description:?}"
    );
    assert!(body.get("access_token").is_none());
}

async fn client_credentials_tokens_are_bound_to_the_proof_key(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.client(None).await;
    let key = TestKey::es256("holder");
    let url = app.url(TOKEN);
    let body = bound(
        cc(&app, &client, &[&key.proof("POST", &url, START, json!({}))]).await,
        &key,
    )
    .await;
    let at = body["access_token"].as_str().unwrap();
    // Introspection says what the token is bound to.
    let seen = app.introspect(at).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["token_type"], "DPoP");
    assert_eq!(seen["cnf"]["jkt"], key.jkt());
    // An RSA proof key works the same; the query and fragment of htu are ignored,
    // and the clock may be 10 s behind or 8 s ahead.
    let rsa = TestKey::rs256("rsa-holder");
    for (k, htu, iat) in [
        (&rsa, url.clone(), START),
        (&key, format!("{url}?x=1#frag"), START - 10),
        (&key, url.clone(), START + 8),
    ] {
        let proof = k.sign(&k.dpop_header(), &dpop_claims("POST", &htu, iat));
        bound(cc(&app, &client, &[&proof]).await, k).await;
    }
    // No proof: a bearer token, as before.
    let resp = cc(&app, &client, &[]).await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        jwt_claims(body["access_token"].as_str().unwrap())
            .get("cnf")
            .is_none()
    );
    // Metadata lists the proof algorithms.
    let meta = common::get_json(
        &app.http,
        &app.url("/.well-known/oauth-authorization-server"),
    )
    .await;
    assert_eq!(
        meta["dpop_signing_alg_values_supported"],
        json!(["RS256", "PS256", "ES256", "EdDSA"])
    );
}

async fn every_broken_proof_is_refused(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.client(None).await;
    let key = TestKey::es256("holder");
    let other = TestKey::es256("other");
    let url = app.url(TOKEN);
    let good = || dpop_claims("POST", &url, START);
    let without = |mut v: Value, name: &str| {
        v.as_object_mut().unwrap().remove(name);
        v
    };
    let with = |mut v: Value, name: &str, value: Value| {
        v[name] = value;
        v
    };
    let header = key.dpop_header();
    let mut private = key.public_jwk();
    private["d"] = json!("c2VjcmV0");
    let cases: Vec<(String, &str)> = vec![
        (key.sign(&without(header.clone(), "typ"), &good()), "typ"),
        (
            key.sign(&with(header.clone(), "typ", json!("JWT")), &good()),
            "typ",
        ),
        (key.sign(&without(header.clone(), "jwk"), &good()), "jwk"),
        (
            key.sign(&with(header.clone(), "jwk", private), &good()),
            "private member",
        ),
        (
            key.sign(&with(header.clone(), "alg", json!("none")), &good()),
            "alg",
        ),
        (
            common::jose::hs256(&with(header.clone(), "alg", json!("HS256")), &good(), b"k"),
            "alg",
        ),
        // Signed by another key than the one in the header.
        (other.sign(&header, &good()), "signature"),
        (key.sign(&header, &without(good(), "jti")), "jti"),
        (key.sign(&header, &without(good(), "htm")), "htm"),
        (key.sign(&header, &with(good(), "htm", json!("PUT"))), "htm"),
        (key.sign(&header, &without(good(), "htu")), "htu"),
        (
            key.sign(&header, &with(good(), "htu", json!(app.url("/oauth/par")))),
            "htu",
        ),
        (
            key.sign(
                &header,
                &with(
                    good(),
                    "htu",
                    json!("https://elsewhere.example/oauth/token"),
                ),
            ),
            "htu",
        ),
        (key.sign(&header, &without(good(), "iat")), "iat"),
        (
            key.sign(&header, &with(good(), "iat", json!(START - 3600))),
            "iat",
        ),
        (
            key.sign(&header, &with(good(), "iat", json!(START + 3600))),
            "iat",
        ),
        ("not.a-proof".to_owned(), "not a valid JWT"),
    ];
    for (proof, needle) in &cases {
        refused(cc(&app, &client, &[proof]).await, needle).await;
    }
    // Two DPoP headers, each good on its own.
    let (a, b) = (
        key.proof("POST", &url, START, json!({})),
        key.proof("POST", &url, START, json!({})),
    );
    refused(cc(&app, &client, &[&a, &b]).await, "exactly one").await;
    // The same proof twice; and another proof with a used jti.
    bound(cc(&app, &client, &[&a]).await, &key).await;
    refused(cc(&app, &client, &[&a]).await, "used before").await;
    let reused_jti = jwt_claims(&a)["jti"].clone();
    let b2 = key.sign(
        &header,
        &with(dpop_claims("POST", &url, START + 1), "jti", reused_jti),
    );
    refused(cc(&app, &client, &[&b2]).await, "used before").await;
    let m = app.state.metrics.render(&app.state.db, &app.state.keys);
    assert!(
        m.contains("dpop_proofs_total{outcome=\"refused\",reason=\"replayed\"} 2"),
        "{m}"
    );
}

async fn a_proof_is_accepted_once_across_instances(backend: Backend) {
    let one = TestApp::spawn(&backend).await;
    let two = TestApp::builder()
        .same_database_as(&one)
        .spawn(&backend)
        .await;
    let client = one.client(None).await;
    let key = TestKey::es256("holder");
    // Both instances share the issuer only in production; here each proof names
    // the instance it is sent to, and the jti is what they share.
    let claims = dpop_claims("POST", &one.url(TOKEN), START);
    let jti = claims["jti"].clone();
    bound(
        cc(&one, &client, &[&key.sign(&key.dpop_header(), &claims)]).await,
        &key,
    )
    .await;
    let mut again = dpop_claims("POST", &two.url(TOKEN), START);
    again["jti"] = jti;
    refused(
        cc(&two, &client, &[&key.sign(&key.dpop_header(), &again)]).await,
        "used before",
    )
    .await;
}

/// A public code-flow client, a person, and tokens for `scope` from an exchange
/// with a proof by `key`.
async fn bound_code_tokens(flow: &Flow, key: &TestKey, scope: &str) -> Value {
    let app = &flow.app;
    let (verifier, challenge) = pkce_pair();
    let code = flow.code(&challenge, scope).await;
    let resp = token(
        app,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &flow.client_id),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
        &[&key.proof("POST", &app.url(TOKEN), START, json!({}))],
    )
    .await;
    bound(resp, key).await
}

async fn refresh(flow: &Flow, refresh_token: &str, proof: Option<&str>) -> reqwest::Response {
    let proofs: Vec<&str> = proof.into_iter().collect();
    token(
        &flow.app,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &flow.client_id),
            ("refresh_token", refresh_token),
        ],
        &proofs,
    )
    .await
}

async fn a_public_clients_refresh_tokens_are_bound(backend: Backend) {
    let flow = public_flow_scoped(TestApp::spawn(&backend).await, "profile offline_access").await;
    let app = &flow.app;
    let key = TestKey::es256("holder");
    let other = TestKey::es256("thief");
    let body = bound_code_tokens(&flow, &key, "profile offline_access").await;
    let rt = body["refresh_token"].as_str().unwrap();
    let url = app.url(TOKEN);
    // A thief with the refresh token and no key, or another key, gets nothing.
    refused(refresh(&flow, rt, None).await, "DPoP-bound").await;
    refused(
        refresh(
            &flow,
            rt,
            Some(&other.proof("POST", &url, START, json!({}))),
        )
        .await,
        "another DPoP key",
    )
    .await;
    // The holder refreshes (the family survived the attempts), and the new pair is
    // bound to the same key.
    let next = bound(
        refresh(&flow, rt, Some(&key.proof("POST", &url, START, json!({})))).await,
        &key,
    )
    .await;
    let rt2 = next["refresh_token"].as_str().unwrap();
    refused(refresh(&flow, rt2, None).await, "DPoP-bound").await;
    bound(
        refresh(&flow, rt2, Some(&key.proof("POST", &url, START, json!({})))).await,
        &key,
    )
    .await;
}

async fn a_confidential_clients_refresh_tokens_are_not(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let web = app.web_client(CB, "profile offline_access").await;
    app.user("alice", PASSWORD).await;
    let browser = common::Browser::new(&app);
    browser.login("alice", PASSWORD).await;
    let party = common::flow::Party {
        app: &app,
        browser: &browser,
        client_id: &web.id,
        redirect_uri: CB,
    };
    let key = TestKey::es256("holder");
    let (verifier, challenge) = pkce_pair();
    let code = party.code(&challenge, "profile offline_access").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", verifier.as_str()),
    ];
    let proof = key.proof("POST", &app.url(TOKEN), START, json!({}));
    let body = bound(token(&app, Some(&web), &form, &[&proof]).await, &key).await;
    // RFC 9449 §5: the client's authentication binds its refresh token; a refresh
    // without a proof gets a bearer token.
    let resp = token(
        &app,
        Some(&web),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ],
        &[],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
}

async fn dpop_jkt_binds_the_code(backend: Backend) {
    let flow = public_flow_scoped(TestApp::spawn(&backend).await, "profile").await;
    let app = &flow.app;
    let key = TestKey::es256("holder");
    let other = TestKey::es256("thief");
    let client_id = flow.client_id.as_str();
    let exchange = |code: String, verifier: String, proof: Option<String>| async move {
        let proofs: Vec<&str> = proof.iter().map(String::as_str).collect();
        token(
            app,
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", client_id),
                ("code", &code),
                ("redirect_uri", CB),
                ("code_verifier", &verifier),
            ],
            &proofs,
        )
        .await
    };
    let jkt = key.jkt();
    for thief in [
        Some(other.proof("POST", &app.url(TOKEN), START, json!({}))),
        None,
    ] {
        let (verifier, challenge) = pkce_pair();
        let code = flow
            .party()
            .code_with(&challenge, "profile", &[("dpop_jkt", &jkt)])
            .await;
        refused(exchange(code, verifier, thief).await, "dpop_jkt").await;
    }
    let (verifier, challenge) = pkce_pair();
    let code = flow
        .party()
        .code_with(&challenge, "profile", &[("dpop_jkt", &jkt)])
        .await;
    let proof = key.proof("POST", &app.url(TOKEN), START, json!({}));
    bound(exchange(code, verifier, Some(proof)).await, &key).await;
    // A malformed dpop_jkt is refused at the authorization endpoint.
    let (_, challenge) = pkce_pair();
    let mut query = flow.query(&challenge, "profile");
    query.push(("dpop_jkt", "short"));
    let resp = flow.browser.authorize(&query).await;
    let to = common::location(&resp);
    assert_eq!(common::query_of(&to)["error"], "invalid_request", "{to}");
}

async fn a_dpop_bound_client_needs_a_proof(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app
        .client_from(ClientMetadata {
            name: "bound service".into(),
            grant_types: vec![GrantType::ClientCredentials],
            dpop_bound_access_tokens: true,
            ..Default::default()
        })
        .await;
    refused(cc(&app, &client, &[]).await, "dpop_bound_access_tokens").await;
    let key = TestKey::es256("holder");
    bound(
        cc(
            &app,
            &client,
            &[&key.proof("POST", &app.url(TOKEN), START, json!({}))],
        )
        .await,
        &key,
    )
    .await;
    // RFC 7591 registers the member and echoes it.
    let resp = app
        .http
        .post(app.url("/oauth/register"))
        .json(
            &json!({"client_name": "agent", "redirect_uris": ["http://127.0.0.1/cb"],
            "token_endpoint_auth_method": "none", "dpop_bound_access_tokens": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let registered: Value = resp.json().await.unwrap();
    assert_eq!(registered["dpop_bound_access_tokens"], true);
    let row = latchkey::store::clients::find_client(
        &app.state.db,
        registered["client_id"].as_str().unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(row.dpop_bound_access_tokens);
}

/// A resource request with `Authorization: <scheme> <token>` and `proof`.
async fn resource(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    authorization: &str,
    proof: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http
        .request(method, app.url(path))
        .header("authorization", authorization);
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await.unwrap()
}

fn challenge(resp: &reqwest::Response) -> String {
    resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn own_resources_take_dpop_and_refuse_the_downgrade(backend: Backend) {
    let flow = public_flow_scoped(TestApp::spawn(&backend).await, "profile apps:read").await;
    let app = &flow.app;
    let key = TestKey::es256("holder");
    let other = TestKey::es256("thief");
    let body = bound_code_tokens(&flow, &key, "profile apps:read").await;
    let at = body["access_token"].as_str().unwrap();
    let dpop = format!("DPoP {at}");
    let get = reqwest::Method::GET;
    let userinfo = app.url("/oauth/userinfo");
    let proof = |k: &TestKey, url: &str, token: &str| {
        k.proof("GET", url, START, json!({"ath": ath(token)}))
    };
    // The holder reads UserInfo.
    let resp = resource(
        app,
        get.clone(),
        "/oauth/userinfo",
        &dpop,
        Some(&proof(&key, &userinfo, at)),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["sub"], flow.user_id.as_str());
    // The downgrade: the bound token as a bearer token.
    let resp = resource(
        app,
        get.clone(),
        "/oauth/userinfo",
        &format!("Bearer {at}"),
        None,
    )
    .await;
    assert_eq!(resp.status(), 401);
    let c = challenge(&resp);
    assert!(
        c.contains(r#"Bearer realm="latchkey", error="invalid_token""#),
        "{c}"
    );
    assert!(
        c.contains("DPoP realm=\"latchkey\"") && c.contains("algs=\"RS256 PS256 ES256 EdDSA\""),
        "{c}"
    );
    // No proof, another key's proof, a wrong ath, a proof for another URL.
    for (p, needle) in [
        (None, "needs a DPoP header"),
        (Some(proof(&other, &userinfo, at)), "another key"),
        (Some(proof(&key, &userinfo, "another token")), "ath"),
        (Some(proof(&key, &app.url("/api/apps"), at)), "htu"),
    ] {
        let resp = resource(app, get.clone(), "/oauth/userinfo", &dpop, p.as_deref()).await;
        assert_eq!(resp.status(), 401);
        let c = challenge(&resp);
        assert!(
            c.contains(r#"DPoP realm="latchkey", error="invalid_dpop_proof""#),
            "{c}"
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_dpop_proof");
        assert!(
            body["error_description"].as_str().unwrap().contains(needle),
            "{needle}: {body}"
        );
    }
    // A replayed resource proof.
    let once = proof(&key, &userinfo, at);
    assert_eq!(
        resource(app, get.clone(), "/oauth/userinfo", &dpop, Some(&once))
            .await
            .status(),
        200
    );
    assert_eq!(
        resource(app, get.clone(), "/oauth/userinfo", &dpop, Some(&once))
            .await
            .status(),
        401
    );
    // A bearer token sent under the DPoP scheme.
    let bearer = flow.tokens("profile").await;
    let bt = bearer["access_token"].as_str().unwrap();
    let resp = resource(
        app,
        get.clone(),
        "/oauth/userinfo",
        &format!("DPoP {bt}"),
        Some(&proof(&key, &userinfo, bt)),
    )
    .await;
    assert_eq!(resp.status(), 401);
    // The management API.
    let apps = app.url("/api/apps");
    let resp = resource(
        app,
        get.clone(),
        "/api/apps",
        &dpop,
        Some(&proof(&key, &apps, at)),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = resource(app, get.clone(), "/api/apps", &format!("Bearer {at}"), None).await;
    assert_eq!(resp.status(), 401);
    assert!(challenge(&resp).contains("invalid_token"));
    // The admin API, with a bound operator token.
    let admin = app.admin_client().await;
    let operator = TestKey::es256("operator");
    let body = bound(
        cc(
            app,
            &admin,
            &[&operator.proof("POST", &app.url(TOKEN), START, json!({}))],
        )
        .await,
        &operator,
    )
    .await;
    let admin_at = body["access_token"].as_str().unwrap();
    let clients = app.url("/admin/clients");
    let resp = resource(
        app,
        get.clone(),
        "/admin/clients",
        &format!("DPoP {admin_at}"),
        Some(&proof(&operator, &clients, admin_at)),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = resource(
        app,
        get,
        "/admin/clients",
        &format!("Bearer {admin_at}"),
        None,
    )
    .await;
    assert_eq!(resp.status(), 401);
    let c = challenge(&resp);
    assert!(
        c.contains("invalid_token") && c.contains("scope=\"latchkey:admin\""),
        "{c}"
    );
}

async fn server_nonces_across_instances(backend: Backend) {
    let nonces_on = |a: &mut latchkey::config::SettingsArgs| a.dpop_nonce = Some("on".into());
    let one = TestApp::builder().args(nonces_on).spawn(&backend).await;
    let two = TestApp::builder()
        .args(nonces_on)
        .same_database_as(&one)
        .same_keys_as(&one)
        .spawn(&backend)
        .await;
    let client = one.client(None).await;
    let key = TestKey::es256("holder");
    // No nonce: refused with one to use.
    let resp = cc(
        &one,
        &client,
        &[&key.proof("POST", &one.url(TOKEN), START, json!({}))],
    )
    .await;
    let nonce = resp.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let body = expect_oauth_error(resp, 400, "use_dpop_nonce").await;
    assert!(body.get("access_token").is_none());
    // The nonce of instance one works at both.
    for app in [&one, &two] {
        let proof = key.proof("POST", &app.url(TOKEN), START, json!({"nonce": nonce}));
        let resp = cc(app, &client, &[&proof]).await;
        assert!(
            resp.headers().get("dpop-nonce").is_none(),
            "the nonce is current"
        );
        bound(resp, &key).await;
    }
    // A period later it still works, and a new one comes with the answer.
    let period = latchkey::oauth::dpop::NONCE_PERIOD;
    one.clock.advance(period);
    let now = START + period;
    let proof = key.proof("POST", &one.url(TOKEN), now, json!({"nonce": nonce}));
    let resp = cc(&one, &client, &[&proof]).await;
    let fresh = resp.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_ne!(fresh, nonce);
    bound(resp, &key).await;
    // Two periods later it is refused; a made-up one too.
    one.clock.advance(period);
    let now = now + period;
    for n in [nonce.as_str(), "made-up"] {
        let proof = key.proof("POST", &one.url(TOKEN), now, json!({"nonce": n}));
        expect_oauth_error(cc(&one, &client, &[&proof]).await, 400, "use_dpop_nonce").await;
    }
}

async fn openid_client_dpop(backend: Backend) {
    let Some(module) = common::npm_file(
        "LATCHKEY_OPENID_CLIENT",
        "LATCHKEY_REQUIRE_OPENID_CLIENT",
        "npm install openid-client@6 and set LATCHKEY_OPENID_CLIENT to its build/index.js",
    ) else {
        return;
    };
    for nonces in [false, true] {
        let app = TestApp::builder()
            // The library signs proofs with the real time.
            .now(common::real_now())
            .args(|a| {
                if nonces {
                    a.dpop_nonce = Some("on".into());
                }
            })
            .spawn(&backend)
            .await;
        app.user("rita", PASSWORD).await;
        let public = app.public_client(CB, "openid profile offline_access").await;
        let machine = app.client(None).await;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dpop/openid_client.mjs");
        let mut node = std::process::Command::new("node");
        node.arg(script)
            .env("OPENID_CLIENT", &module)
            .env("ISSUER", &app.base)
            .env("PUBLIC_CLIENT_ID", &public)
            .env("REDIRECT_URI", CB)
            .env("USERNAME", "rita")
            .env("PASSWORD", PASSWORD)
            .env("MACHINE_ID", &machine.id)
            .env("MACHINE_SECRET", &machine.secret);
        let seen = common::run_node_script(node).await;
        for name in ["code", "refreshed", "machine"] {
            let at = seen[name]["access_token"].as_str().unwrap();
            assert_eq!(jwt_claims(at)["cnf"]["jkt"], seen[name]["jkt"], "{name}");
            assert_eq!(seen[name]["token_type"], "dpop", "{name}");
        }
        let m = app.state.metrics.render(&app.state.db, &app.state.keys);
        let refused_nonce = m.contains("reason=\"nonce\"");
        assert_eq!(
            refused_nonce, nonces,
            "the library met the nonce requirement by retrying: {m}"
        );
    }
}
