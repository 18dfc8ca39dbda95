//! CORS: the protocol endpoints browser apps call answer any origin without
//! credentials, preflights included; pages, introspection and the management API
//! answer none. (tests/browser.rs has a single-page app doing it in chromium.)

// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::{Backend, TestApp};
use reqwest::Method;

both_backends!(
    public_endpoints_allow_any_origin,
    pages_and_private_apis_do_not
);

const ORIGIN: &str = "https://spa.example";

/// A request to `path` as a script on another origin makes it.
fn from_page(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.http
        .request(method, app.url(path))
        .header("origin", ORIGIN)
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn public_endpoints_allow_any_origin(backend: Backend) {
    let app = TestApp::spawn(&backend).await;

    // The preflight a page makes before POSTing a form with a header of its own.
    for path in [
        "/oauth/token",
        "/oauth/register",
        "/.well-known/openid-configuration",
    ] {
        let resp = from_page(&app, Method::OPTIONS, path)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204, "{path}");
        assert_eq!(
            header(&resp, "access-control-allow-origin").as_deref(),
            Some("*")
        );
        let methods = header(&resp, "access-control-allow-methods").unwrap();
        assert!(methods.contains("POST"), "{methods}");
        let headers = header(&resp, "access-control-allow-headers").unwrap();
        assert!(headers.contains("authorization") && headers.contains("content-type"));
        assert_eq!(header(&resp, "access-control-allow-credentials"), None);
    }

    // Answers, errors included, are readable by the page.
    let metadata = from_page(&app, Method::GET, "/.well-known/oauth-authorization-server")
        .send()
        .await
        .unwrap();
    assert_eq!(metadata.status(), 200);
    assert_eq!(
        header(&metadata, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let refused = from_page(&app, Method::POST, "/oauth/token")
        .form(&[("grant_type", "authorization_code"), ("code", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401, "no client authentication");
    assert_eq!(
        header(&refused, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    let challenged = from_page(&app, Method::GET, "/oauth/userinfo")
        .bearer_auth("junk")
        .send()
        .await
        .unwrap();
    assert_eq!(challenged.status(), 401);
    assert_eq!(
        header(&challenged, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let exposed = header(&challenged, "access-control-expose-headers").unwrap();
    assert!(exposed.contains("www-authenticate"), "{exposed}");

    // Without an Origin (not a browser), nothing changes.
    let plain = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&plain, "access-control-allow-origin"), None);
}

async fn pages_and_private_apis_do_not(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    for (method, path) in [
        (Method::GET, "/login"),
        (Method::GET, "/oauth/authorize?client_id=x"),
        (Method::GET, "/settings/apps"),
        (Method::GET, "/api/apps"),
        (Method::POST, "/oauth/introspect"),
        (Method::OPTIONS, "/login"),
        (Method::OPTIONS, "/api/apps"),
        (Method::OPTIONS, "/oauth/introspect"),
    ] {
        let resp = from_page(&app, method.clone(), path)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert!(resp.status() != 204, "{method} {path}: no preflight answer");
        assert_eq!(
            header(&resp, "access-control-allow-origin"),
            None,
            "{method} {path}"
        );
    }
}
