//! Pages over HTTP: template overrides, the brand's files, the stylesheet, headers.
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::{Backend, Browser, TestApp, pkce_pair};

/// An operator's consent page replaces the built-in one and gets the same data;
/// the other pages stay built-in.
async fn an_override_replaces_the_consent_page(backend: Backend) {
    let templates = tempfile::tempdir().unwrap();
    std::fs::write(
        templates.path().join("consent.html"),
        r#"{% extends "layout.html" %}{% block title %}Allow {{ client.name }}{% endblock %}
{% block content %}<h1>Shadow wants in: {{ client.name }}</h1>
<form method="post" action="/oauth/authorize">{% for name, value in params %}<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}{{ forms.csrf(csrf_token) }}
<button name="decision" value="approve">Yes</button></form>{% endblock %}"#,
    )
    .unwrap();
    let dir = templates.path().to_owned();
    let app = TestApp::builder()
        .args(move |a| a.brand.templates_dir = Some(dir))
        .spawn(&backend)
        .await;
    app.user("mo", "correct horse battery").await;
    let client = app.public_client("http://127.0.0.1/cb", "profile").await;
    let browser = Browser::new(&app);
    let login = browser.page("/login").await;
    assert!(login.contains("Use your Latchkey account"), "{login}");
    browser.login("mo", "correct horse battery").await;
    let (_, challenge) = pkce_pair();
    let query = [
        ("response_type", "code"),
        ("client_id", client.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/cb"),
        ("scope", "profile"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let page = browser.authorize(&query).await.text().await.unwrap();
    assert!(
        page.contains("<h1>Shadow wants in: Public App</h1>"),
        "{page}"
    );
    assert!(
        !page.contains("will be able to"),
        "the built-in page is gone"
    );
    // Its form works like the built-in one.
    let resp = browser.decide(&query, "approve").await;
    assert_eq!(resp.status(), 303);
    assert!(common::location(&resp).starts_with("http://127.0.0.1:9/cb?code="));
}

/// Files of brand_dir are served from memory, nothing outside it; the stylesheet
/// carries the accent; pages keep a strict CSP with the logo's origin allowed.
async fn brand_files_and_stylesheet(backend: Backend) {
    let brand = tempfile::tempdir().unwrap();
    std::fs::write(brand.path().join("logo.png"), b"\x89PNG\r\n\x1a\nfake").unwrap();
    let dir = brand.path().to_owned();
    let app = TestApp::builder()
        .args(move |a| {
            a.brand.brand_dir = Some(dir);
            a.brand.logo_url = Some("/brand/logo.png".into());
            a.brand.accent_color = Some("#003366".into());
            a.brand.product_name = Some("Jobway".into());
            a.brand.locale = Some("de".into());
        })
        .spawn(&backend)
        .await;
    let http = &app.http;
    let resp = http.get(app.url("/brand/logo.png")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert!(
        resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(&resp.bytes().await.unwrap()[..4], b"\x89PNG");
    for path in ["/brand/..%2Flatchkey.toml", "/brand/missing.png", "/brand/"] {
        let resp = http.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }

    let resp = http.get(app.url("/login")).send().await.unwrap();
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("script-src"), "sign-in runs no script: {csp}");
    let page = resp.text().await.unwrap();
    assert!(page.contains(r#"<html lang="de">"#), "{page}");
    assert!(page.contains("<title>Sign in · Jobway</title>"), "{page}");
    assert!(
        page.contains(r#"<img class="logo" src="&#x2f;brand&#x2f;logo.png" alt="">"#),
        "{page}"
    );
    let href = page
        .split(r#"<link rel="stylesheet" href=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#x2f;", "/")
        .replace("&#x3f;", "?")
        .replace("&#x3d;", "=");
    assert!(href.starts_with("/assets/latchkey.css?v="), "{href}");
    let css = http
        .get(app.url(&href))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Dark enough for AA on light backgrounds as it is; lightened for the dark scheme.
    assert!(css.starts_with(":root { --accent: #003366;"), "{css}");
    assert!(css.contains("prefers-color-scheme: dark"), "{css}");
}

both_backends!(
    an_override_replaces_the_consent_page,
    brand_files_and_stylesheet
);
