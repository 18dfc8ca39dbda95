//! Client ID Metadata Documents: a client whose `client_id` is an https URL is
//! fetched from a real HTTPS server on loopback (a test CA that Latchkey is told to
//! trust, loopback allowed explicitly), signs a person in end to end, and is cached
//! and coalesced; and every SSRF rule refuses what it must, with a clear error and,
//! where none should be made, no request at all.

// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::flow::{PASSWORD, Party};
use common::tls::{Answer, DocServer, TestCa, document_json};
use common::{Backend, Browser, TestApp, expect_oauth_error, pkce_pair};

both_backends!(
    document_client_end_to_end,
    documents_are_cached_and_coalesced,
    ssrf_refusals,
    refused_documents,
    operator_lists_and_switch,
);

const CB: &str = "http://127.0.0.1/callback";

/// An app trusting `ca` for fetches and allowed to reach loopback.
async fn app_trusting(
    backend: &Backend,
    ca: &TestCa,
    extra: impl FnOnce(&mut latchkey::config::SettingsArgs),
) -> TestApp {
    TestApp::builder()
        .args(|a| {
            ca.trusted_by(a);
            a.fetch.fetch_timeout = Some(1);
            extra(a);
        })
        .spawn(backend)
        .await
}

async fn metadata(app: &TestApp) -> serde_json::Value {
    let resp = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    resp.json().await.unwrap()
}

/// A first authorization request for `client_id` with a loopback redirect.
async fn authorize_as(browser: &Browser, client_id: &str, redirect_uri: &str) -> reqwest::Response {
    let (_, challenge) = pkce_pair();
    browser
        .authorize(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("state", "s"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await
}

async fn signed_in(app: &TestApp) -> Browser {
    app.user("alice", PASSWORD).await;
    let browser = Browser::new(app);
    browser.login("alice", PASSWORD).await;
    browser
}

/// The refusal page for `client_id`: a 400 page, never a redirect, naming `needle`.
async fn refused(browser: &Browser, client_id: &str, needle: &str) {
    let resp = authorize_as(browser, client_id, "http://127.0.0.1:5000/callback").await;
    assert_eq!(resp.status(), 400, "{client_id}");
    assert!(resp.headers().get("location").is_none(), "{client_id}");
    let html = common::unescape(&resp.text().await.unwrap());
    assert!(
        html.contains("This app could not be identified"),
        "{client_id}: {html}"
    );
    assert!(
        html.contains(needle),
        "{client_id}: wanted `{needle}` in {html}"
    );
}

async fn document_client_end_to_end(backend: Backend) {
    let ca = TestCa::new();
    let docs = DocServer::start(&ca).await;
    let client_id = docs.document("/agent.json", CB, 600);
    let app = app_trusting(&backend, &ca, |_| {}).await;
    let browser = signed_in(&app).await;

    // Discovery says so.
    assert_eq!(
        metadata(&app).await["client_id_metadata_document_supported"],
        true
    );

    // The consent page shows the document's host beside its self-asserted name.
    let party = Party {
        app: &app,
        browser: &browser,
        client_id: &client_id,
        redirect_uri: "http://127.0.0.1:5000/callback",
    };
    let (verifier, challenge) = pkce_pair();
    let query = party.query(&challenge, "profile offline_access");
    let resp = browser.authorize(&query).await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("describes itself at <strong class=\"origin\">localhost</strong>"),
        "{html}"
    );
    assert!(
        html.contains("Agent &lt;b&gt;Smith&lt;&#x2f;b&gt;"),
        "name is text: {html}"
    );
    assert!(!html.contains("<b>Smith"), "{html}");
    let code = party.code(&challenge, "profile offline_access").await;
    let tokens = party.exchanged(&code, &verifier).await;
    let access = tokens["access_token"].as_str().unwrap();
    let claims = common::jwt_claims(access);
    assert_eq!(claims["client_id"], client_id.as_str());
    // The token endpoint used the cached document: one fetch so far.
    assert_eq!(docs.hits("/agent.json"), 1);

    let refresh = tokens["refresh_token"].as_str().unwrap();
    let resp = party.refresh(refresh, None).await;
    assert_eq!(resp.status(), 200);
    let refreshed: serde_json::Value = resp.json().await.unwrap();
    let refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();

    // Listed among the person's authorized apps, and revocable there.
    let page = browser.page("/settings/authorized").await;
    assert!(page.contains("Agent &lt;b&gt;Smith"), "{page}");
    let path = format!(
        "/settings/authorized/{}/revoke",
        percent_encoding::utf8_percent_encode(&client_id, percent_encoding::NON_ALPHANUMERIC)
    );
    assert!(page.contains(&path.replace('/', "&#x2f;")), "{page}");
    let csrf = common::hidden_value(&page, "csrf_token").unwrap();
    let resp = browser
        .http
        .post(browser.url(&path))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "revoke");
    expect_oauth_error(party.refresh(&refresh, None).await, 400, "invalid_grant").await;
    assert!(!browser.page("/settings/authorized").await.contains("Agent"));

    // A document that changes is believed once its cache time has passed: the
    // client loses the redirect URI it no longer lists.
    docs.document("/agent.json", "https://agent.example/cb", 600);
    app.clock.advance(601);
    let resp = browser.authorize(&party.query(&challenge, "profile")).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(docs.hits("/agent.json"), 2);

    // The token endpoint refuses a client whose document is refused, saying why.
    docs.route(
        "/agent.json",
        Answer::Typed("text/html", "<p>gone</p>".into()),
    );
    app.clock.advance(601);
    let body = expect_oauth_error(
        party.refresh("lk_rt_whatever", None).await,
        401,
        "invalid_client",
    )
    .await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not application/json"),
        "{body}"
    );
}

async fn documents_are_cached_and_coalesced(backend: Backend) {
    let ca = TestCa::new();
    let docs = DocServer::start(&ca).await;
    let client_id = docs.route(
        "/slow.json",
        Answer::Slow(300, document_json("http://127.0.0.1/callback")),
    );
    let app = app_trusting(&backend, &ca, |_| {}).await;
    let browser = signed_in(&app).await;
    let (_, challenge) = pkce_pair();
    let query: Vec<(String, String)> = Party {
        app: &app,
        browser: &browser,
        client_id: &client_id,
        redirect_uri: "http://127.0.0.1:4000/callback",
    }
    .query(&challenge, "profile")
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();

    // 50 first authorizations at once: one fetch.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let http = browser.http.clone();
        let url = browser.url("/oauth/authorize");
        let query = query.clone();
        tasks.push(tokio::spawn(async move {
            http.get(url).query(&query).send().await.unwrap().status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200, "consent page");
    }
    assert_eq!(
        docs.hits("/slow.json"),
        1,
        "50 concurrent first requests, one fetch"
    );
    assert_eq!(app.state.client_documents.fetches(), 1);

    // A second authorization: from the cache (no Cache-Control: the 5 min minimum).
    assert_eq!(browser.authorize(&pairs(&query)).await.status(), 200);
    assert_eq!(docs.hits("/slow.json"), 1);
    app.clock.advance(299);
    assert_eq!(browser.authorize(&pairs(&query)).await.status(), 200);
    assert_eq!(docs.hits("/slow.json"), 1);
    app.clock.advance(2);
    assert_eq!(browser.authorize(&pairs(&query)).await.status(), 200);
    assert_eq!(
        docs.hits("/slow.json"),
        2,
        "fetched again after fetch_cache_min"
    );

    // Cache-Control within the bounds is obeyed; beyond them, clamped.
    let short = docs.route(
        "/short.json",
        Answer::Json(
            document_json(CB),
            vec![("cache-control", "max-age=10".into())],
        ),
    );
    let long = docs.document("/long.json", CB, 10_000_000);
    let loopback = "http://127.0.0.1:1/callback";
    for id in [&short, &long] {
        assert_eq!(authorize_as(&browser, id, loopback).await.status(), 200);
        app.clock.advance(301);
        assert_eq!(authorize_as(&browser, id, loopback).await.status(), 200);
    }
    assert_eq!(
        docs.hits("/short.json"),
        2,
        "max-age=10 is raised to the 300 s minimum"
    );
    assert_eq!(docs.hits("/long.json"), 1, "cached past 300 s");
    app.clock.advance(86_400);
    // A day on, the session has ended too.
    browser.login("alice", PASSWORD).await;
    assert_eq!(authorize_as(&browser, &long, loopback).await.status(), 200);
    assert_eq!(
        docs.hits("/long.json"),
        2,
        "never kept beyond fetch_cache_max"
    );
}

fn pairs(q: &[(String, String)]) -> Vec<(&str, &str)> {
    q.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

async fn ssrf_refusals(backend: Backend) {
    let ca = TestCa::new();
    let docs = DocServer::start(&ca).await;
    docs.document("/ok.json", CB, 600);
    // No private network allowed: the default.
    let ca_file = ca.ca_file();
    let app = TestApp::builder()
        .args(move |a| a.fetch.fetch_extra_ca = Some(ca_file))
        .spawn(&backend)
        .await;
    let browser = signed_in(&app).await;
    let port = docs.port;
    for (client_id, needle) in [
        (format!("http://localhost:{port}/ok.json"), "must use https"),
        (
            format!("https://localhost:{port}/ok.json"),
            "localhost resolved to an address that is not allowed",
        ),
        (
            format!("https://127.0.0.1:{port}/ok.json"),
            "127.0.0.1 is a loopback address",
        ),
        (
            format!("https://[::1]:{port}/ok.json"),
            "::1 is a loopback address",
        ),
        (
            format!("https://[::ffff:7f00:1]:{port}/ok.json"),
            "::ffff:127.0.0.1 is a loopback address",
        ),
        (
            "https://10.1.2.3/ok.json".to_owned(),
            "10.1.2.3 is a private (RFC 1918) address",
        ),
        (
            "https://169.254.169.254/latest/meta-data".to_owned(),
            "169.254.169.254 is a link-local",
        ),
        ("https://100.64.0.1/c".to_owned(), "shared address space"),
        ("https://[fd00::1]/c".to_owned(), "unique local"),
        (format!("https://localhost:{port}/"), "must have a path"),
        (
            format!("https://localhost:{port}/a/../ok.json"),
            "normal form",
        ),
        (format!("https://localhost:{port}/ok.json#x"), "fragment"),
    ] {
        refused(&browser, &client_id, needle).await;
    }
    assert_eq!(
        docs.total_hits(),
        0,
        "no request reached the loopback server"
    );
    assert_eq!(
        app.state.client_documents.fetches(),
        1,
        "only the localhost name was resolved"
    );
}

async fn refused_documents(backend: Backend) {
    let ca = TestCa::new();
    let docs = DocServer::start(&ca).await;
    let app = app_trusting(&backend, &ca, |_| {}).await;
    let browser = signed_in(&app).await;
    let good = document_json("http://127.0.0.1/callback");
    let with = |key: &str, value: serde_json::Value| {
        let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
        v[key] = value;
        v.to_string()
    };
    // A good document the redirect below points at: were redirects followed,
    // it would be fetched (loopback is allowed here) and the client accepted.
    docs.document("/target.json", "http://127.0.0.1/callback", 600);
    let cases = [
        (
            "/redirect.json",
            Answer::Redirect("https://10.0.0.1/agent.json".into()),
            "redirects are not followed",
        ),
        (
            "/redirect-here.json",
            Answer::Redirect(format!("{}/target.json", docs.base)),
            "redirects are not followed",
        ),
        (
            "/big.json",
            Answer::Json(with("client_name", "x".repeat(6 * 1024).into()), vec![]),
            "more than 5120 bytes",
        ),
        (
            "/slow.json",
            Answer::Slow(3000, good.clone()),
            "did not answer in time",
        ),
        (
            "/other.json",
            Answer::Json(
                with("client_id", "https://elsewhere.example/c.json".into()),
                vec![],
            ),
            "is not the URL it was fetched from",
        ),
        (
            "/secret.json",
            Answer::Json(with("client_secret", "s3cret".into()), vec![]),
            "contains `client_secret`",
        ),
        (
            "/basic.json",
            Answer::Json(
                with("token_endpoint_auth_method", "client_secret_basic".into()),
                vec![],
            ),
            "token_endpoint_auth_method",
        ),
        (
            "/noredirect.json",
            Answer::Json(with("redirect_uris", serde_json::json!([])), vec![]),
            "no redirect_uris",
        ),
        (
            "/html.json",
            Answer::Typed("text/html", good.clone()),
            "not application/json",
        ),
        (
            "/garbage.json",
            Answer::Json("{not json".into(), vec![]),
            "not JSON",
        ),
    ];
    for (path, answer, needle) in cases {
        let url = docs.route(path, answer);
        refused(&browser, &url, needle).await;
        assert_eq!(docs.hits(path), 1, "{path}");
    }
    // A refusal is remembered for a while: asking again makes no new fetch.
    refused(
        &browser,
        &format!("{}/secret.json", docs.base),
        "client_secret",
    )
    .await;
    assert_eq!(docs.hits("/secret.json"), 1);
    let missing = format!("{}/missing.json", docs.base);
    refused(&browser, &missing, "404").await;

    // Neither redirect was followed: the same-origin target saw no request, and
    // the server saw one request per document and nothing else.
    assert_eq!(docs.hits("/target.json"), 0, "a redirect was followed");
    assert_eq!(
        docs.total_hits(),
        11,
        "one request per document, nothing else"
    );
}

async fn operator_lists_and_switch(backend: Backend) {
    let ca = TestCa::new();
    let docs = DocServer::start(&ca).await;
    let id = docs.document("/ok.json", CB, 600);

    let denied = app_trusting(&backend, &ca, |a| {
        a.fetch.fetch_deny = Some("localhost".into())
    })
    .await;
    refused(&signed_in(&denied).await, &id, "deny-list").await;
    let allow_other = app_trusting(&backend, &ca, |a| {
        a.fetch.fetch_allow = Some("*.agents.example,https://tools.example/".into())
    })
    .await;
    refused(&signed_in(&allow_other).await, &id, "allow-list").await;
    assert_eq!(docs.total_hits(), 0);

    let allowed = app_trusting(&backend, &ca, |a| {
        a.fetch.fetch_allow = Some(format!("{}/", docs.base))
    })
    .await;
    let browser = signed_in(&allowed).await;
    let ok = authorize_as(&browser, &id, "http://127.0.0.1:9/callback").await;
    assert_eq!(ok.status(), 200);
    assert_eq!(docs.total_hits(), 1);

    // Switched off: not advertised, and a URL client_id is just an unknown client.
    let off = app_trusting(&backend, &ca, |a| {
        a.fetch.client_id_metadata_documents = Some(false)
    })
    .await;
    assert_eq!(
        metadata(&off).await["client_id_metadata_document_supported"],
        false
    );
    let browser = signed_in(&off).await;
    let resp = authorize_as(&browser, &id, "http://127.0.0.1:9/callback").await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("This app is not known here")
    );
    assert_eq!(docs.total_hits(), 1);
}
