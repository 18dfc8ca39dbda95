//! Metadata documents, the JWK Set, the scope catalogue, probes and docs.
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Backend, TestApp};
use serde_json::{Value, json};

async fn get_json(app: &TestApp, path: &str) -> (reqwest::header::HeaderMap, Value) {
    let resp = app.http.get(app.url(path)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    let headers = resp.headers().clone();
    (headers, resp.json().await.unwrap())
}

async fn server_metadata_advertises_what_exists(backend: Backend) {
    let app = TestApp::builder()
        .config("[[scopes]]\nname = \"orders:read\"\ndescription = \"Read orders\"\n")
        .spawn(&backend)
        .await;
    let (_, oauth) = get_json(&app, "/.well-known/oauth-authorization-server").await;
    let (_, oidc) = get_json(&app, "/.well-known/openid-configuration").await;
    // The OpenID document holds every RFC 8414 member, unchanged, and its own.
    for (member, value) in oauth.as_object().unwrap() {
        assert_eq!(&oidc[member], value, "{member}");
    }
    let issuer = &app.base;
    assert_eq!(oidc["subject_types_supported"], json!(["public"]));
    assert_eq!(
        oidc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(
        oidc["end_session_endpoint"],
        format!("{issuer}/oauth/logout")
    );
    assert_eq!(
        oidc["prompt_values_supported"],
        json!(["none", "login", "consent", "select_account"])
    );
    assert_eq!(
        oauth,
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/oauth/authorize"),
            "token_endpoint": format!("{issuer}/oauth/token"),
            "revocation_endpoint": format!("{issuer}/oauth/revoke"),
            "introspection_endpoint": format!("{issuer}/oauth/introspect"),
            "userinfo_endpoint": format!("{issuer}/oauth/userinfo"),
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "pushed_authorization_request_endpoint": format!("{issuer}/oauth/par"),
            "require_pushed_authorization_requests": false,
            "registration_endpoint": format!("{issuer}/oauth/register"),
            "scopes_supported": ["apps:read", "apps:write", "email", "grants:read", "grants:write", "offline_access", "openid", "orders:read", "profile"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
            "revocation_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
            "introspection_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
            "dpop_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "client_id_metadata_document_supported": true,
            "service_documentation": format!("{issuer}/docs"),
        })
    );
    // Every advertised URL answers.
    for key in ["jwks_uri", "service_documentation"] {
        let resp = app
            .http
            .get(oauth[key].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{key}");
    }

    let (_, resource) = get_json(&app, "/.well-known/oauth-protected-resource").await;
    assert_eq!(resource["resource"], issuer.as_str());
    assert_eq!(resource["authorization_servers"], json!([issuer]));
    assert_eq!(
        resource["scopes_supported"],
        json!(["apps:read", "apps:write", "grants:read", "grants:write"])
    );

    // With registration disabled, discovery does not advertise it.
    let closed = TestApp::builder()
        .args(|a| a.registration = Some("disabled".into()))
        .spawn(&backend)
        .await;
    let (_, meta) = get_json(&closed, "/.well-known/oauth-authorization-server").await;
    assert!(meta.get("registration_endpoint").is_none(), "{meta}");
}

async fn jwks_is_public_cacheable_and_correct(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let resp = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cache = resp.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.contains("max-age="), "{cache}");
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    let jwks: Value = resp.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = keys[0].as_object().unwrap();
    let mut members: Vec<&str> = key.keys().map(String::as_str).collect();
    members.sort();
    // Public members only: no d, p, q, dp, dq, qi.
    assert_eq!(members, ["alg", "e", "kid", "kty", "n", "use"]);
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    // kid is the RFC 7638 thumbprint, recomputed here independently.
    let canonical = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        key["e"].as_str().unwrap(),
        key["n"].as_str().unwrap()
    );
    let digest = ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes());
    assert_eq!(key["kid"], URL_SAFE_NO_PAD.encode(digest));
    // 2048-bit modulus.
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(key["n"].as_str().unwrap())
            .unwrap()
            .len(),
        256
    );

    // Conditional request: 304, no body, same ETag.
    let resp = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    assert_eq!(resp.headers()["etag"].to_str().unwrap(), etag);
    assert!(resp.bytes().await.unwrap().is_empty());
    let resp = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .header("if-none-match", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn scope_catalogue(backend: Backend) {
    let app = TestApp::builder()
        .config("[[scopes]]\nname = \"orders:read\"\ndescription = \"Read your orders\"\n")
        .spawn(&backend)
        .await;
    let (_, body) = get_json(&app, "/oauth/scopes").await;
    let scopes = body["scopes"].as_array().unwrap();
    assert!(scopes.contains(&json!({"name": "orders:read", "description": "Read your orders"})));
    assert!(scopes.iter().any(|s| s["name"] == "profile"));
    assert!(
        scopes
            .iter()
            .all(|s| s["description"].as_str().is_some_and(|d| !d.is_empty()))
    );
}

async fn probes_report_the_database(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let (_, live) = get_json(&app, "/healthz").await;
    assert_eq!(live["status"], "ok");
    let (_, ready) = get_json(&app, "/readyz").await;
    assert_eq!(
        ready,
        json!({"status": "ok", "database": true, "signing_key": true, "draining": false})
    );
    // The pool closed: the database is unreachable from the application's view.
    match &app.state.db {
        latchkey::store::Db::Postgres(p) => p.close(),
        latchkey::store::Db::Sqlite(p) => p.close(),
    }
    let resp = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["database"], false);
    // Liveness does not depend on the database.
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // A token request now fails cleanly with a 503 to retry, not a hang or a panic.
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth("someone", Some("x"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["retry-after"], "5");
    common::expect_oauth_error(resp, 503, "temporarily_unavailable").await;
}

async fn openapi_and_docs_are_served(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let (_, spec) = get_json(&app, "/openapi.json").await;
    let generated: Value =
        serde_json::from_str(&latchkey::http::spec_document(&app.base).spec()).unwrap();
    assert_eq!(spec, generated);
    let resp = app.http.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

/// An issuer with a path: its metadata is also at the path-inserted well-known
/// locations (RFC 8414 §3.1), where MCP clients look first.
async fn issuer_with_a_path(backend: Backend) {
    let app = TestApp::builder()
        .args(|a| a.issuer = Some("https://auth.example/tenant/one".into()))
        .spawn(&backend)
        .await;
    for path in [
        "/.well-known/oauth-authorization-server/tenant/one",
        "/.well-known/openid-configuration/tenant/one",
    ] {
        let (headers, doc) = get_json(&app, path).await;
        assert_eq!(doc["issuer"], "https://auth.example/tenant/one", "{path}");
        assert_eq!(
            doc["token_endpoint"], "https://auth.example/tenant/one/oauth/token",
            "{path}"
        );
        let etag = headers["etag"].to_str().unwrap().to_owned();
        let again = app
            .http
            .get(app.url(path))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    let (_, plain) = get_json(&app, "/.well-known/oauth-authorization-server").await;
    let (_, inserted) = get_json(&app, "/.well-known/oauth-authorization-server/tenant/one").await;
    assert_eq!(plain, inserted);
    let (_, oidc) = get_json(&app, "/.well-known/openid-configuration/tenant/one").await;
    assert!(oidc["end_session_endpoint"].is_string());
    let other = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server/elsewhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

both_backends!(
    issuer_with_a_path,
    server_metadata_advertises_what_exists,
    jwks_is_public_cacheable_and_correct,
    scope_catalogue,
    probes_report_the_database,
    openapi_and_docs_are_served,
);
