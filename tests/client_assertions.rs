//! `private_key_jwt` client authentication (RFC 7523 §2.2): a client with a key
//! pair and no secret gets, introspects and revokes tokens; every rule of the
//! assertion refuses what it must with `invalid_client` and issues nothing; a `jti`
//! is accepted once across instances; keys published at a `jwks_uri` are fetched
//! under the fetch rules, rotate, and cannot be made to fetch over and over.

// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::jose::{TestKey, assertion_claims, hs256, unsigned};
use common::tls::{Answer, DocServer, TestCa};
use common::{Backend, START, TestApp, expect_oauth_error};
use latchkey::oauth::client_assertion::JWT_BEARER;
use latchkey::oauth::registration::{ClientMetadata, KeysMetadata};
use latchkey::oauth::types::GrantType;
use serde_json::{Value, json};

both_backends!(
    a_key_pair_gets_introspects_and_revokes,
    every_broken_rule_is_refused,
    the_compatibility_audience,
    a_jti_is_accepted_once_across_instances,
    jwks_uri_keys_rotate_and_refetches_are_bounded,
    jwks_uri_under_the_fetch_rules,
    every_door_registers_keys,
    openid_client_es256_jwks,
    openid_client_rs256_jwks_uri,
    authlib_private_key_jwt,
    a_metadata_document_client_with_keys,
);

/// A client-credentials client that signs with `keys`.
async fn key_client(app: &TestApp, keys: KeysMetadata) -> String {
    let created = latchkey::services::clients::create_client(
        &app.state.db,
        &app.state.settings.scopes,
        ClientMetadata {
            name: "keyed service".into(),
            grant_types: vec![GrantType::ClientCredentials],
            keys: Some(keys),
            ..Default::default()
        },
        Default::default(),
        START,
    )
    .await
    .unwrap();
    assert!(created.client_secret.is_none(), "no secret is made");
    assert_eq!(
        created.row.token_endpoint_auth_method.as_deref(),
        Some("private_key_jwt")
    );
    created.row.id
}

async fn post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// A client-credentials request authenticated by `assertion`.
async fn token_with(app: &TestApp, assertion: &str) -> reqwest::Response {
    post(
        app,
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
        ],
    )
    .await
}

/// Refused with 401 `invalid_client`, `WWW-Authenticate`, a description that says
/// `needle`, and no token.
async fn refused(resp: reqwest::Response, needle: &str) {
    assert!(
        resp.headers().get("www-authenticate").is_some(),
        "WWW-Authenticate on a 401"
    );
    let body = expect_oauth_error(resp, 401, "invalid_client").await;
    assert!(body.get("access_token").is_none());
    let d = body["error_description"].as_str().unwrap();
    assert!(d.contains(needle), "wanted `{needle}` in `{d}`");
}

async fn metrics(app: &TestApp) -> String {
    app.state.metrics.render(&app.state.db, &app.state.keys)
}

async fn a_key_pair_gets_introspects_and_revokes(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    for key in [TestKey::es256("e1"), TestKey::rs256("r1")] {
        let id = key_client(&app, KeysMetadata::Jwks(TestKey::set(&[&key]))).await;
        let sign = || key.sign(&key.header(), &assertion_claims(&id, &app.base, START));
        let resp = token_with(&app, &sign()).await;
        assert_eq!(resp.status(), 200, "{}", key.alg());
        let body: Value = resp.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(common::jwt_claims(&token)["client_id"], id.as_str());

        // client_id may be sent too, when it is the assertion's sub.
        let with_id = post(
            &app,
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &sign()),
            ],
        )
        .await;
        assert_eq!(with_id.status(), 200);

        // Introspection and revocation take the same authentication.
        let auth = |a: String| {
            vec![
                ("client_assertion_type".to_owned(), JWT_BEARER.to_owned()),
                ("client_assertion".to_owned(), a),
            ]
        };
        let mut form = auth(sign());
        form.push(("token".into(), token.clone()));
        let resp = app
            .http
            .post(app.url("/oauth/introspect"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let info: Value = resp.json().await.unwrap();
        assert_eq!(info["active"], true, "{info}");
        let mut form = auth(sign());
        form.push(("token".into(), token.clone()));
        let resp = app
            .http
            .post(app.url("/oauth/revoke"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let mut form = auth(sign());
        form.push(("token".into(), token.clone()));
        let info: Value = app
            .http
            .post(app.url("/oauth/introspect"))
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["active"], false, "revoked");
    }
    let m = metrics(&app).await;
    assert!(
        m.contains("latchkey_client_assertions_total{outcome=\"accepted\",reason=\"none\"} 10"),
        "{m}"
    );

    // Discovery says what is accepted.
    let meta = common::get_json(
        &app.http,
        &app.url("/.well-known/oauth-authorization-server"),
    )
    .await;
    for endpoint in ["token", "revocation", "introspection"] {
        let methods = &meta[format!("{endpoint}_endpoint_auth_methods_supported")];
        assert!(
            methods
                .as_array()
                .unwrap()
                .contains(&json!("private_key_jwt")),
            "{endpoint}: {methods}"
        );
        assert_eq!(
            meta[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")],
            json!(["RS256", "PS256", "ES256", "EdDSA"])
        );
    }
}

async fn every_broken_rule_is_refused(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let key = TestKey::es256("k1");
    let id = key_client(&app, KeysMetadata::Jwks(TestKey::set(&[&key]))).await;
    let other = key_client(
        &app,
        KeysMetadata::Jwks(TestKey::set(&[&TestKey::es256("o")])),
    )
    .await;
    let good = || assertion_claims(&id, &app.base, START);
    let with = |k: &str, v: Value| {
        let mut c = good();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = good();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    let h = key.header();
    let stranger = TestKey::es256("k1");
    let rsa = TestKey::rs256("r");
    let cases: Vec<(String, &str)> = vec![
        (
            key.sign(&h, &with("aud", json!(app.url("/oauth/token")))),
            "issuer identifier",
        ),
        (
            key.sign(&h, &with("aud", json!("https://other.example"))),
            "`aud`",
        ),
        (
            key.sign(&h, &with("aud", json!(["https://other.example", app.base]))),
            "only value",
        ),
        (
            key.sign(&h, &with("aud", json!(["https://other.example"]))),
            "`aud`",
        ),
        (key.sign(&h, &with("exp", json!(START - 120))), "expired"),
        (
            key.sign(&h, &with("exp", json!(START + 3600))),
            "lives too long",
        ),
        (
            key.sign(&h, &with("nbf", json!(START + 600))),
            "not valid yet",
        ),
        (key.sign(&h, &without("jti")), "`jti`"),
        (key.sign(&h, &with("iss", json!(other))), "`iss`"),
        (
            // Claiming to be another client, without a kid: its only key is
            // tried, and the signature is not its.
            key.sign(
                &json!({"alg": "ES256"}),
                &json!({"iss": other, "sub": other, "aud": app.base,
                "exp": START + 60, "jti": "x"}),
            ),
            "signature",
        ),
        (unsigned(&good()), "alg `none`"),
        (
            hs256(
                &json!({"alg": "HS256", "kid": "k1"}),
                &good(),
                &key.public_bytes(),
            ),
            "alg `HS256`",
        ),
        (
            rsa.sign(&json!({"alg": "RS256", "kid": "k1"}), &good()),
            "cannot sign RS256",
        ),
        (stranger.sign(&h, &good()), "signature"),
        (
            key.sign(&json!({"alg": "ES256", "kid": "nope"}), &good()),
            "kid `nope`",
        ),
        (
            key.sign(&json!({"alg": "ES256", "typ": "dpop+jwt"}), &good()),
            "typ",
        ),
        ("not.a.jwt".to_owned(), "not a valid JWT"),
    ];
    for (assertion, needle) in &cases {
        refused(token_with(&app, assertion).await, needle).await;
    }
    // The same jti twice: the second is a replay.
    let once = key.sign(&h, &good());
    assert_eq!(token_with(&app, &once).await.status(), 200);
    refused(token_with(&app, &once).await, "used before").await;
    // client_id that is not the assertion's sub.
    let resp = post(
        &app,
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &other),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &key.sign(&h, &good())),
        ],
    )
    .await;
    refused(resp, "differs from").await;

    // Two methods at once, or a malformed request: invalid_request.
    let two = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&id, Some("whatever"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &key.sign(&h, &good())),
        ])
        .send()
        .await
        .unwrap();
    expect_oauth_error(two, 400, "invalid_request").await;
    let unknown_type = post(
        &app,
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:example:saml"),
            ("client_assertion", &key.sign(&h, &good())),
        ],
    )
    .await;
    expect_oauth_error(unknown_type, 400, "invalid_request").await;

    // A secret is refused for a key client, and an assertion for a secret client.
    let secret_client = app.client(None).await;
    let resp = app
        .token_basic(&secret_client, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(resp.status(), 200);
    let claims = assertion_claims(&secret_client.id, &app.base, START);
    refused(
        token_with(&app, &key.sign(&h, &claims)).await,
        "not private_key_jwt",
    )
    .await;
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&id, Some("guess"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    refused(resp, "private_key_jwt").await;

    // Every refusal is counted by reason and audited.
    let m = metrics(&app).await;
    for reason in [
        "audience",
        "expired",
        "lifetime",
        "algorithm",
        "signature",
        "replayed",
        "unknown_key",
    ] {
        assert!(
            m.contains(&format!("outcome=\"refused\",reason=\"{reason}\"")),
            "{reason}: {m}"
        );
    }
    let filter = latchkey::store::audit::Filter {
        since: 0,
        event: Some("client.assertion_refused".into()),
        subject: None,
        after: None,
        limit: 1000,
    };
    let events = latchkey::store::audit::list_events(&app.state.db, &filter)
        .await
        .unwrap();
    assert!(events.len() >= cases.len(), "{}", events.len());
    assert!(
        events
            .iter()
            .any(|e| e.subject.as_deref() == Some(id.as_str()))
    );
    assert!(
        events
            .iter()
            .all(|e| e.address.as_deref() == Some("127.0.0.1")),
        "the caller's address is recorded"
    );
}

async fn the_compatibility_audience(backend: Backend) {
    let app = TestApp::builder()
        .args(|a| a.client_assertion_audience = Some("issuer-or-token-endpoint".into()))
        .spawn(&backend)
        .await;
    let key = TestKey::es256("k1");
    let id = key_client(&app, KeysMetadata::Jwks(TestKey::set(&[&key]))).await;
    for aud in [
        json!(app.url("/oauth/token")),
        json!(app.base),
        json!([app.base]),
    ] {
        let mut c = assertion_claims(&id, &app.base, START);
        c["aud"] = aud.clone();
        assert_eq!(
            token_with(&app, &key.sign(&key.header(), &c))
                .await
                .status(),
            200,
            "{aud}"
        );
    }
    let mut c = assertion_claims(&id, &app.base, START);
    c["aud"] = json!([app.base, app.url("/oauth/token")]);
    refused(
        token_with(&app, &key.sign(&key.header(), &c)).await,
        "only value",
    )
    .await;
}

async fn a_jti_is_accepted_once_across_instances(backend: Backend) {
    let a = TestApp::spawn(&backend).await;
    let b = TestApp::builder()
        .same_database_as(&a)
        .spawn(&backend)
        .await;
    assert_eq!(a.base.len(), b.base.len());
    let key = TestKey::es256("k1");
    let id = key_client(&a, KeysMetadata::Jwks(TestKey::set(&[&key]))).await;
    // Each instance has its own issuer URL here, so the assertion names each.
    let mut claims = assertion_claims(&id, &a.base, START);
    let at_a = key.sign(&key.header(), &claims);
    assert_eq!(token_with(&a, &at_a).await.status(), 200);
    claims["aud"] = json!(b.base);
    let at_b = key.sign(&key.header(), &claims);
    refused(token_with(&b, &at_b).await, "used before").await;
    // Sent many times at once (to both instances), one copy wins; many different
    // assertions at once all pass (they share the replay cache's statements).
    let same = key.sign(&key.header(), &assertion_claims(&id, &a.base, START));
    let statuses = all_at_once(&a, &vec![same; 24]).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    let distinct: Vec<String> = (0..48)
        .map(|_| key.sign(&key.header(), &assertion_claims(&id, &a.base, START)))
        .collect();
    let statuses = all_at_once(&a, &distinct).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // Expired ids are swept; a fresh one passes.
    let fresh = key.sign(&key.header(), &assertion_claims(&id, &b.base, START));
    assert_eq!(token_with(&b, &fresh).await.status(), 200);
    let swept = latchkey::store::jtis::purge_expired(&a.state.db, START + 3600)
        .await
        .unwrap();
    assert_eq!(swept, 2 + 1 + 48);
}

/// An app that trusts `ca` and may reach loopback, where the key server runs.
async fn app_trusting(backend: &Backend, ca: &TestCa) -> TestApp {
    TestApp::builder()
        .args(|a| {
            ca.trusted_by(a);
            a.fetch.fetch_timeout = Some(2);
        })
        .spawn(backend)
        .await
}

fn jwks_answer(keys: &[&TestKey], max_age: u32) -> Answer {
    Answer::Json(
        TestKey::set(keys).to_string(),
        vec![("cache-control", format!("max-age={max_age}"))],
    )
}

async fn jwks_uri_keys_rotate_and_refetches_are_bounded(backend: Backend) {
    let ca = TestCa::new();
    let server = DocServer::start(&ca).await;
    let old = TestKey::es256("old");
    let new = TestKey::rs256("new");
    server.route("/jwks.json", jwks_answer(&[&old], 3600));
    let uri = format!("{}/jwks.json", server.base);
    let app = app_trusting(&backend, &ca).await;
    let id = key_client(&app, KeysMetadata::Uri(uri)).await;
    let sign = |k: &TestKey| {
        k.sign(
            &k.header(),
            &assertion_claims(&id, &app.base, app.clock_now()),
        )
    };

    assert_eq!(token_with(&app, &sign(&old)).await.status(), 200);
    assert_eq!(token_with(&app, &sign(&old)).await.status(), 200);
    assert_eq!(server.hits("/jwks.json"), 1, "cached");

    // The client publishes a new key beside the old one. Right after the last
    // fetch the unknown kid is refused without a fetch; once the interval has
    // passed it causes exactly one.
    server.route("/jwks.json", jwks_answer(&[&old, &new], 3600));
    refused(token_with(&app, &sign(&new)).await, "kid `new`").await;
    assert_eq!(server.hits("/jwks.json"), 1);
    app.clock.advance(31);
    assert_eq!(token_with(&app, &sign(&new)).await.status(), 200);
    assert_eq!(server.hits("/jwks.json"), 2);
    // Both keys work until the client drops the old one.
    assert_eq!(token_with(&app, &sign(&old)).await.status(), 200);

    // A flood of made-up kids: at most one fetch per interval.
    app.clock.advance(31);
    let before = server.hits("/jwks.json");
    for _ in 0..100 {
        let kid = latchkey::random::url_token::<8>();
        let forged = old.sign(
            &json!({"alg": "ES256", "kid": kid}),
            &assertion_claims(&id, &app.base, app.clock_now()),
        );
        refused(token_with(&app, &forged).await, "no key of this client").await;
    }
    assert!(
        server.hits("/jwks.json") - before <= 1,
        "{}",
        server.hits("/jwks.json")
    );

    // The old key dropped: after the cache lifetime it stops working.
    server.route("/jwks.json", jwks_answer(&[&new], 60));
    app.clock.advance(3601);
    refused(token_with(&app, &sign(&old)).await, "kid `old`").await;
    assert_eq!(token_with(&app, &sign(&new)).await.status(), 200);
}

async fn jwks_uri_under_the_fetch_rules(backend: Backend) {
    let ca = TestCa::new();
    let server = DocServer::start(&ca).await;
    let key = TestKey::es256("k");
    // Loopback is reachable only when the operator allows it: an app that does not
    // refuses the address and sends nothing.
    server.route("/jwks.json", jwks_answer(&[&key], 60));
    let strict = TestApp::builder()
        .args(|a| a.fetch.fetch_extra_ca = Some(ca.ca_file()))
        .spawn(&backend)
        .await;
    let id = key_client(
        &strict,
        KeysMetadata::Uri(format!("{}/jwks.json", server.base)),
    )
    .await;
    let a = key.sign(&key.header(), &assertion_claims(&id, &strict.base, START));
    refused(token_with(&strict, &a).await, "not allowed").await;
    let literal = key_client(
        &strict,
        KeysMetadata::Uri(format!("https://127.0.0.1:{}/jwks.json", server.port)),
    )
    .await;
    let a = key.sign(
        &key.header(),
        &assertion_claims(&literal, &strict.base, START),
    );
    refused(token_with(&strict, &a).await, "jwks_uri could not be used").await;
    assert_eq!(server.hits("/jwks.json"), 0);

    // A published set with a private key, or the wrong media type, is refused.
    let app = app_trusting(&backend, &ca).await;
    let mut leaked = key.jwk();
    leaked["d"] = json!("AAAA");
    server.route(
        "/leaked.json",
        Answer::Json(json!({"keys": [leaked]}).to_string(), vec![]),
    );
    server.route("/html", Answer::Typed("text/html", "<p>hi</p>".into()));
    for (path, needle) in [
        ("/leaked.json", "private member"),
        ("/html", "Content-Type"),
    ] {
        let id = key_client(&app, KeysMetadata::Uri(format!("{}{path}", server.base))).await;
        let a = key.sign(&key.header(), &assertion_claims(&id, &app.base, START));
        refused(token_with(&app, &a).await, needle).await;
    }
    // application/jwk-set+json is accepted.
    server.route(
        "/typed",
        Answer::Typed(
            "application/jwk-set+json",
            TestKey::set(&[&key]).to_string(),
        ),
    );
    let id = key_client(&app, KeysMetadata::Uri(format!("{}/typed", server.base))).await;
    let a = key.sign(&key.header(), &assertion_claims(&id, &app.base, START));
    assert_eq!(token_with(&app, &a).await.status(), 200);
}

async fn every_door_registers_keys(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let key = TestKey::es256("k1");
    let set = TestKey::set(&[&key]);
    let admin = app.admin_token().await;

    // The admin API, by value; the response shows the keys and no secret.
    let resp = app
        .http
        .post(app.url("/admin/clients"))
        .bearer_auth(&admin)
        .json(
            &json!({"name": "svc", "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "private_key_jwt", "jwks": set}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let made: Value = resp.json().await.unwrap();
    assert!(made.get("client_secret").is_none(), "{made}");
    assert_eq!(made["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(made["jwks"]["keys"][0]["kid"], "k1");
    let id = made["client_id"].as_str().unwrap().to_owned();
    let a = key.sign(&key.header(), &assertion_claims(&id, &app.base, START));
    assert_eq!(token_with(&app, &a).await.status(), 200);

    // Rotation through the admin API: the new set replaces the old.
    let next = TestKey::es256("k2");
    let resp = app
        .http
        .patch(app.url(&format!("/admin/clients/{id}")))
        .bearer_auth(&admin)
        .json(&json!({"jwks": TestKey::set(&[&key, &next])}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let a = next.sign(&next.header(), &assertion_claims(&id, &app.base, START));
    assert_eq!(token_with(&app, &a).await.status(), 200);
    // Such a client has no secret to rotate.
    let resp = app
        .http
        .post(app.url(&format!("/admin/clients/{id}/secret")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);

    // A secret client moves to a key: its secret stops working.
    let moving = app.client(None).await;
    let resp = app
        .http
        .patch(app.url(&format!("/admin/clients/{}", moving.id)))
        .bearer_auth(&admin)
        .json(&json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": set}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app
        .token_basic(&moving, &[("grant_type", "client_credentials")])
        .await;
    refused(resp, "private_key_jwt").await;
    let a = key.sign(
        &key.header(),
        &assertion_claims(&moving.id, &app.base, START),
    );
    assert_eq!(token_with(&app, &a).await.status(), 200);

    // Refusals at registration name the rule.
    let mut private = key.jwk();
    private["d"] = json!("AAAA");
    for (body, needle) in [
        (
            json!({"name": "x", "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [private]}}),
            "private member",
        ),
        (
            json!({"name": "x", "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
            "symmetric",
        ),
        (
            json!({"name": "x", "token_endpoint_auth_method": "private_key_jwt"}),
            "jwks",
        ),
        (
            json!({"name": "x", "token_endpoint_auth_method": "client_secret_jwt"}),
            "client_secret_jwt",
        ),
        (json!({"name": "x", "jwks": set}), "only for"),
        (
            json!({"name": "x", "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://keys.example/jwks"}),
            "https",
        ),
        (
            json!({"name": "x", "client_type": "public", "token_endpoint_auth_method": "private_key_jwt", "jwks": set}),
            "public",
        ),
    ] {
        let resp = app
            .http
            .post(app.url("/admin/clients"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        let text = resp.text().await.unwrap();
        assert!(text.contains(needle), "{needle}: {text}");
    }

    // RFC 7591 registration with a JWK Set (under an initial access token, as a
    // client_credentials client must be).
    let initial = latchkey::services::clients::create_initial_token(&app.state.db, START, 600)
        .await
        .unwrap();
    let token_app = TestApp::builder()
        .same_database_as(&app)
        .args(|a| a.registration = Some("token".into()))
        .spawn(&backend)
        .await;
    let resp = token_app
        .http
        .post(token_app.url("/oauth/register"))
        .bearer_auth(&initial)
        .json(
            &json!({"client_name": "dcr svc", "grant_types": ["client_credentials"],
            "response_types": [], "token_endpoint_auth_method": "private_key_jwt", "jwks": set}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let info: Value = resp.json().await.unwrap();
    assert!(info.get("client_secret").is_none(), "{info}");
    assert_eq!(info["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(info["jwks"]["keys"][0]["kid"], "k1");
    let dcr = info["client_id"].as_str().unwrap();
    let a = key.sign(
        &key.header(),
        &assertion_claims(dcr, &token_app.base, START),
    );
    assert_eq!(token_with(&token_app, &a).await.status(), 200);
    let resp = token_app
        .http
        .post(token_app.url("/oauth/register"))
        .bearer_auth(&initial)
        .json(
            &json!({"client_name": "x", "grant_types": ["client_credentials"], "response_types": [],
            "token_endpoint_auth_method": "client_secret_jwt"}),
        )
        .send()
        .await
        .unwrap();
    let body = expect_oauth_error(resp, 400, "invalid_client_metadata").await;
    assert!(
        body["error_description"].as_str().unwrap().contains("hash"),
        "{body}"
    );
}

trait ClockNow {
    fn clock_now(&self) -> i64;
}

impl ClockNow for TestApp {
    fn clock_now(&self) -> i64 {
        use latchkey::clock::Clock;
        self.clock.now()
    }
}

const RP_REDIRECT: &str = "http://127.0.0.1:9/cb";

/// Runs tests/assertions/openid_client.mjs for a web app that signs with `key`,
/// its keys registered as `keys`; with a person signing in when `code_flow`.
async fn openid_client(
    backend: Backend,
    key: TestKey,
    keys: impl FnOnce(&TestKey) -> (KeysMetadata, Option<TestCa>, Option<DocServer>),
) {
    let Some(module) = common::npm_file(
        "LATCHKEY_OPENID_CLIENT",
        "LATCHKEY_REQUIRE_OPENID_CLIENT",
        "npm install openid-client@6 and set LATCHKEY_OPENID_CLIENT to its build/index.js",
    ) else {
        return;
    };
    let (keys, ca, _server) = keys(&key);
    let app = TestApp::builder()
        // The library signs assertions with the real time.
        .now(common::real_now())
        .args(|a| {
            if let Some(ca) = &ca {
                ca.trusted_by(a);
            }
        })
        .spawn(&backend)
        .await;
    app.user("rita", common::flow::PASSWORD).await;
    let created = latchkey::services::clients::create_client(
        &app.state.db,
        &app.state.settings.scopes,
        ClientMetadata {
            name: "Keyed web app".into(),
            redirect_uris: vec![RP_REDIRECT.into()],
            grant_types: vec![
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::ClientCredentials,
            ],
            keys: Some(keys),
            ..Default::default()
        },
        Default::default(),
        START,
    )
    .await
    .unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/assertions/openid_client.mjs"
    );
    let mut node = std::process::Command::new("node");
    node.arg(script)
        .env("OPENID_CLIENT", &module)
        .env("ISSUER", &app.base)
        .env("CLIENT_ID", &created.row.id)
        .env("KEY_PKCS8", key.pkcs8_base64())
        .env("KEY_ALG", key.alg())
        .env("KEY_ID", key.kid())
        .env("REDIRECT_URI", RP_REDIRECT)
        .env("USERNAME", "rita")
        .env("PASSWORD", common::flow::PASSWORD);
    let seen = common::run_node_script(node).await;
    for token in ["client_credentials", "code_flow"] {
        let jwt = seen[token].as_str().unwrap();
        assert_eq!(
            common::jwt_claims(jwt)["client_id"],
            created.row.id.as_str()
        );
    }
    let m = metrics(&app).await;
    assert!(
        !m.contains("outcome=\"refused\""),
        "every assertion of the library passed: {m}"
    );
}

async fn openid_client_es256_jwks(backend: Backend) {
    openid_client(backend, TestKey::es256("web-1"), |k| {
        (KeysMetadata::Jwks(TestKey::set(&[k])), None, None)
    })
    .await
}

async fn openid_client_rs256_jwks_uri(backend: Backend) {
    let ca = TestCa::new();
    let server = DocServer::start(&ca).await;
    openid_client(backend, TestKey::rs256("web-rsa"), move |k| {
        let uri = server.route("/keys", jwks_answer(&[k], 300));
        (KeysMetadata::Uri(uri), Some(ca), Some(server))
    })
    .await
}

async fn authlib_private_key_jwt(backend: Backend) {
    let python = match std::env::var("LATCHKEY_AUTHLIB_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            assert!(
                std::env::var_os("LATCHKEY_REQUIRE_AUTHLIB").is_none(),
                "LATCHKEY_REQUIRE_AUTHLIB is set but LATCHKEY_AUTHLIB_PYTHON is not"
            );
            eprintln!("SKIPPED: set LATCHKEY_AUTHLIB_PYTHON to a Python with authlib and httpx");
            return;
        }
    };
    let app = TestApp::builder()
        .now(common::real_now())
        .spawn(&backend)
        .await;
    let key = TestKey::es256("svc-1");
    let id = key_client(&app, KeysMetadata::Jwks(TestKey::set(&[&key]))).await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/assertions/authlib_client.py"
    );
    let mut cmd = std::process::Command::new(python);
    cmd.arg(script)
        .env("ISSUER", &app.base)
        .env("CLIENT_ID", &id)
        .env("KEY_PEM", key.pkcs8_pem())
        .env("KEY_ID", key.kid());
    let seen = common::run_node_script(cmd).await;
    let stock = seen["stock"].as_str().unwrap();
    assert!(stock.contains("invalid_client"), "{stock}");
    assert!(stock.contains("issuer identifier"), "{stock}");
    for token in seen["tokens"].as_array().unwrap() {
        let claims = common::jwt_claims(token.as_str().unwrap());
        assert_eq!(claims["client_id"], id.as_str());
    }
}

/// A Client ID Metadata Document client (MCP 2026-07-28) whose document says
/// `private_key_jwt` and carries a `jwks_uri`: the person signs in, and the code is
/// redeemed only with an assertion signed by the key the document points to.
async fn a_metadata_document_client_with_keys(backend: Backend) {
    let ca = TestCa::new();
    let server = DocServer::start(&ca).await;
    let key = TestKey::es256("doc-1");
    let jwks_uri = server.route("/jwks.json", jwks_answer(&[&key], 600));
    let redirect = "http://127.0.0.1:5000/callback";
    let doc = json!({
        "client_id": "{url}",
        "client_name": "Keyed agent",
        "redirect_uris": [redirect],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": jwks_uri,
    });
    let client_id = server.route("/agent.json", Answer::Json(doc.to_string(), vec![]));
    let app = app_trusting(&backend, &ca).await;
    app.user("alice", common::flow::PASSWORD).await;
    let browser = common::Browser::new(&app);
    browser.login("alice", common::flow::PASSWORD).await;
    let party = common::flow::Party {
        app: &app,
        browser: &browser,
        client_id: &client_id,
        redirect_uri: redirect,
    };
    let (verifier, challenge) = common::pkce_pair();
    let code = party.code(&challenge, "profile").await;

    // Without an assertion the confidential document client is refused.
    let exchange = |auth: Vec<(&'static str, String)>| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", redirect.to_owned()),
            ("code_verifier", verifier.clone()),
        ];
        form.extend(auth);
        app.http.post(app.url("/oauth/token")).form(&form).send()
    };
    let resp = exchange(vec![("client_id", client_id.clone())])
        .await
        .unwrap();
    refused(resp, "confidential").await;
    let stranger = TestKey::es256("doc-1");
    let forged = stranger.sign(
        &stranger.header(),
        &assertion_claims(&client_id, &app.base, START),
    );
    let resp = exchange(vec![
        ("client_assertion_type", JWT_BEARER.to_owned()),
        ("client_assertion", forged),
    ])
    .await
    .unwrap();
    refused(resp, "signature").await;
    let good = key.sign(
        &key.header(),
        &assertion_claims(&client_id, &app.base, START),
    );
    let resp = exchange(vec![
        ("client_assertion_type", JWT_BEARER.to_owned()),
        ("client_assertion", good),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(
        common::jwt_claims(tokens["access_token"].as_str().unwrap())["client_id"],
        client_id.as_str()
    );
    assert_eq!(server.hits("/jwks.json"), 1);

    // A document may not point at keys without saying private_key_jwt, nor hold a
    // private key.
    let mut leaky = doc.clone();
    leaky["token_endpoint_auth_method"] = json!("none");
    let leaky_id = server.route("/leaky.json", Answer::Json(leaky.to_string(), vec![]));
    let (_, challenge) = common::pkce_pair();
    let resp = browser
        .authorize(&[
            ("response_type", "code"),
            ("client_id", &leaky_id),
            ("redirect_uri", redirect),
            ("state", "s"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert_eq!(resp.status(), 400);
    let html = common::unescape(&resp.text().await.unwrap());
    assert!(html.contains("jwks"), "{html}");
}

/// Sends each assertion to `app`'s token endpoint at once; the statuses.
async fn all_at_once(app: &TestApp, assertions: &[String]) -> Vec<u16> {
    let mut set = tokio::task::JoinSet::new();
    for a in assertions {
        let (http, url, a) = (app.http.clone(), app.url("/oauth/token"), a.clone());
        set.spawn(async move {
            let form = [
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", a.as_str()),
            ];
            http.post(url)
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    set.join_all().await
}
