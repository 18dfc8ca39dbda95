//! A person in a real browser: Debian's chromium, driven over WebDriver by
//! chromedriver, signs in, approves, and lands on the app's loopback callback.
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::{Backend, TestApp, pkce_pair, query_of};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver and chromium, or `None` (with a loud note) when not installed.
fn browser_binaries() -> Option<(String, String)> {
    let find = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("/usr/bin/{n}"))
            .find(|p| std::path::Path::new(p).exists())
    };
    match (
        find(&["chromedriver"]),
        find(&["chromium", "chromium-browser"]),
    ) {
        (Some(d), Some(c)) => Some((d, c)),
        _ => {
            if std::env::var_os("LATCHKEY_REQUIRE_BROWSER").is_some() {
                panic!(
                    "LATCHKEY_REQUIRE_BROWSER is set but chromium/chromedriver are not installed"
                );
            }
            eprintln!(
                "SKIPPED (browser): apt-get install chromium chromium-driver to run this test"
            );
            None
        }
    }
}

struct Driver {
    process: Child,
    http: reqwest::Client,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Driver {
    async fn start(driver: &str, chromium: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status() == 200
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--window-size=900,1000",
                        format!("--user-data-dir={}", profile.path().display()),
                    ]
                }
            }}
        });
        let resp: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = resp["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {resp}"))
            .to_owned();
        Self {
            process,
            http,
            base,
            session,
            _profile: profile,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(v["value"].get("error").is_none(), "webdriver {path}: {v}");
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
        self.wait_loaded().await;
    }

    /// Until the current document has loaded. Under load chromedriver has been
    /// seen answering a navigation (or reporting the new URL) while the page
    /// source was still empty; reading it then made a test fail by chance.
    async fn wait_loaded(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let state = self
                .cmd(
                    reqwest::Method::POST,
                    "/execute/sync",
                    Some(json!({ "script": "return document.readyState", "args": [] })),
                )
                .await;
            if state == "complete" && !self.source().await.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "page never loaded: {state}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn screenshot(&self, name: &str) {
        use base64::Engine;
        let png = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    /// The page source once it contains `text` (a form post may still be loading).
    async fn wait_for_text(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let html = self.source().await;
            if html.contains(text) {
                return html;
            }
            assert!(Instant::now() < deadline, "never showed {text:?}: {html}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_for_url(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let url = self.url().await;
            if url.starts_with(prefix) {
                self.wait_loaded().await;
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "still at {url}, waiting for {prefix}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The app's side: a loopback callback that just says thanks.
async fn callback_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = poem::Route::new().at(
        "/cb",
        poem::get(poem::endpoint::make_sync(
            |_| "signed in, you can close this window",
        )),
    );
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    port
}

async fn sign_in_and_approve_in_chromium(backend: Backend) {
    let Some((driver, chromium)) = browser_binaries() else {
        return;
    };
    let app = TestApp::spawn(&backend).await;
    // Registered without a port: RFC 8252 loopback, any port at request time.
    let client_id = app
        .public_client("http://127.0.0.1/cb", "profile email")
        .await;
    app.user("erin", "correct horse battery").await;
    let port = callback_server().await;
    let redirect = format!("http://127.0.0.1:{port}/cb");
    let (verifier, challenge) = pkce_pair();
    let mut authorize = url::Url::parse(&app.url("/oauth/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", "profile email")
        .append_pair("state", "browser-state")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");

    let b = Driver::start(&driver, &chromium).await;
    b.goto(authorize.as_str()).await;
    b.wait_for_url(&app.url("/login")).await;
    b.screenshot(&format!("{}-login.png", backend_name(&backend)))
        .await;
    b.type_into("#username", "erin").await;
    b.type_into("#password", "correct horse battery").await;
    b.click("button[type=submit]").await;
    b.wait_for_url(&app.url("/oauth/authorize")).await;
    let consent = b.source().await;
    assert!(consent.contains("Public App"), "consent names the app");
    assert!(
        consent.contains("Read your email address"),
        "consent describes scopes"
    );
    assert!(
        consent.contains("127.0.0.1"),
        "consent shows where you will be sent"
    );
    b.screenshot(&format!("{}-consent.png", backend_name(&backend)))
        .await;
    b.click("button[name=decision][value=approve]").await;
    let landed = b.wait_for_url(&redirect).await;
    let q = query_of(&landed);
    assert_eq!(q["state"], "browser-state");
    assert_eq!(q["iss"], app.base);
    assert!(
        b.source()
            .await
            .contains("signed in, you can close this window")
    );

    // The app exchanges the code.
    let resp = app
        .token_public(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client_id),
            ("code", &q["code"]),
            ("redirect_uri", &redirect),
            ("code_verifier", &verifier),
        ])
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("lk_rt_")
    );
}

/// An app developer creates an app on the settings page, sees its secret once, and
/// revokes an app they authorized.
async fn settings_pages_in_chromium(backend: Backend) {
    let Some((driver, chromium)) = browser_binaries() else {
        return;
    };
    let name = backend_name(&backend);
    let app = TestApp::spawn(&backend).await;
    app.user("frank", "correct horse battery").await;
    // Frank has authorized a public app (in another browser session).
    let flow_client = app.public_client(common::flow::CB, "profile").await;
    let other_session = common::Browser::new(&app);
    other_session.login("frank", "correct horse battery").await;
    let party = common::flow::Party {
        app: &app,
        browser: &other_session,
        client_id: &flow_client,
        redirect_uri: common::flow::CB,
    };
    let tokens = party.tokens("profile").await;

    let b = Driver::start(&driver, &chromium).await;
    b.goto(&app.url("/settings/apps")).await;
    b.wait_for_url(&app.url("/login")).await;
    b.type_into("#username", "frank").await;
    b.type_into("#password", "correct horse battery").await;
    b.click("button[type=submit]").await;
    b.wait_for_url(&app.url("/settings/apps")).await;
    assert!(b.source().await.contains("You have no apps yet"));

    // Create a server-to-server app.
    b.type_into("#name", "Invoice sync").await;
    b.type_into("#description", "Pulls invoices nightly").await;
    b.click("input[name=grant_type][value=client_credentials]")
        .await;
    b.click("input[name=scope][value=profile]").await;
    b.screenshot(&format!("{name}-settings-apps.png")).await;
    b.click("button.primary").await;
    b.wait_for_text("App created").await;
    // Our script ran (once the page finished loading): the copy buttons are visible.
    let created = b
        .wait_for_text(r#"data-copy="client_secret">Copy</button>"#)
        .await;
    let field = |html: &str, id: &str| {
        let start = html.find(&format!(r#"id="{id}""#)).unwrap();
        let rest = &html[start..];
        let v = rest.find("value=\"").unwrap() + 7;
        rest[v..v + rest[v..].find('"').unwrap()].to_owned()
    };
    let client_id = field(&created, "client_id");
    let secret = field(&created, "client_secret");
    assert!(secret.starts_with("lk_cs_"), "{secret}");
    b.screenshot(&format!("{name}-settings-secret.png")).await;
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the secret shown works");

    // Shown once: the app's page does not show it again, nor does the list.
    b.click("a.button").await;
    b.wait_for_url(&app.url(&format!("/settings/apps/{client_id}")))
        .await;
    let edit = b.wait_for_text("Save changes").await;
    assert!(edit.contains("Invoice sync") && !edit.contains(&secret));
    b.goto(&app.url("/settings/apps")).await;
    let list = b.wait_for_text(&client_id).await;
    assert!(list.contains("Invoice sync"), "{list}");
    assert!(!list.contains(&secret));

    // Revoke the authorized app.
    b.goto(&app.url("/settings/authorized")).await;
    b.wait_for_text("Public App").await;
    b.screenshot(&format!("{name}-settings-authorized.png"))
        .await;
    b.click("button.danger").await;
    b.wait_for_text("You have not authorized any apps").await;
    let resp = party
        .refresh(tokens["refresh_token"].as_str().unwrap(), None)
        .await;
    assert_eq!(
        resp.status(),
        400,
        "the revoked app's refresh token is dead"
    );
}

fn backend_name(b: &Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres(_) => "postgres",
    }
}

both_backends!(sign_in_and_approve_in_chromium, settings_pages_in_chromium);
