//! A person in a real browser: Debian's chromium, driven over WebDriver by
//! chromedriver, signs in, approves, and lands on the app's loopback callback.
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

#[path = "../examples/delegated_login/product.rs"]
mod product;

use common::{Backend, TestApp, pkce_pair, query_of};
use latchkey::oauth::registration::ClientMetadata;
use latchkey::services::clients::Origin;
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

    async fn exec(&self, script: &str, args: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// A Chrome DevTools command through chromedriver.
    async fn cdp(&self, cmd: &str, params: Value) {
        self.cmd(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({ "cmd": cmd, "params": params })),
        )
        .await;
    }

    /// A viewport `width` px wide, in the light or the dark colour scheme.
    async fn view(&self, width: u32, dark: bool) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600 }),
        )
        .await;
        let scheme = if dark { "dark" } else { "light" };
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] }),
        )
        .await;
    }

    /// Is a JavaScript dialog (`alert`) open? (An injected script would open one.)
    async fn dialog_open(&self) -> bool {
        let url = format!("{}/session/{}/alert/text", self.base, self.session);
        let v: Value = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["value"].get("error").is_none()
    }

    /// axe-core's serious and critical violations on the current page, one line each.
    async fn axe(&self, axe_source: &str) -> Vec<String> {
        self.exec(&format!("{axe_source}\n;return true;"), json!([]))
            .await;
        let script = r#"const done = arguments[arguments.length - 1];
window.axe.run(document).then(
  (r) => done({ passes: r.passes.length, violations: r.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => v.id + " (" + v.impact + "): " + v.help + " at " + v.nodes.map((n) => n.target.join(" ")).join(", ")) }),
  (e) => done({ passes: 0, violations: ["axe failed: " + e] }));"#;
        let found = self
            .cmd(
                reqwest::Method::POST,
                "/execute/async",
                Some(json!({ "script": script, "args": [] })),
            )
            .await;
        // A run that checked nothing would pass anything.
        assert!(
            found["passes"].as_u64().unwrap() > 10,
            "axe checked nothing: {found}"
        );
        found["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
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
    let AppRequest {
        redirect,
        authorize,
        verifier,
    } = app_request(&app, &client_id, "profile email").await;

    let b = Driver::start(&driver, &chromium).await;
    b.goto(&authorize).await;
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
    assert_eq!(q["state"], "st");
    assert_eq!(q["iss"], app.base);
    assert!(
        b.source()
            .await
            .contains("signed in, you can close this window")
    );

    // The app exchanges the code.
    let body = exchange(&app, &client_id, &q["code"], &redirect, &verifier).await;
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

/// axe-core's source, from npm (`.ci/run` installs it and sets LATCHKEY_AXE_JS), or
/// `None` with a loud note.
fn axe_source() -> Option<String> {
    let path = std::env::var("LATCHKEY_AXE_JS")
        .ok()
        .filter(|p| !p.is_empty())
        .or_else(|| {
            let home = std::env::var("HOME").ok()?;
            Some(format!(
                "{home}/.cache/latchkey-ci/axe/node_modules/axe-core/axe.min.js"
            ))
        });
    match path.and_then(|p| std::fs::read_to_string(p).ok()) {
        Some(source) => Some(source),
        None => {
            if std::env::var_os("LATCHKEY_REQUIRE_BROWSER").is_some() {
                panic!(
                    "LATCHKEY_REQUIRE_BROWSER is set but axe-core is not installed (LATCHKEY_AXE_JS)"
                );
            }
            eprintln!(
                "SKIPPED (axe-core): npm install axe-core and set LATCHKEY_AXE_JS to its axe.min.js"
            );
            None
        }
    }
}

/// Looks at the current page as people will: 1280 and 375 px wide, light and dark,
/// a screenshot and axe-core's serious and critical findings for each; and no
/// sideways scrolling at 375 or 320 px. Returns what is wrong.
async fn inspect(b: &Driver, axe: &str, name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (width, dark) in [(1280, false), (1280, true), (375, false), (375, true)] {
        b.view(width, dark).await;
        let scheme = if dark { "dark" } else { "light" };
        b.screenshot(&format!("{name}-{width}-{scheme}.png")).await;
        for v in b.axe(axe).await {
            problems.push(format!("{name} at {width}px, {scheme}: {v}"));
        }
    }
    for width in [375, 320] {
        b.view(width, false).await;
        let overflow = b
            .exec(
                "return document.documentElement.scrollWidth - window.innerWidth",
                json!([]),
            )
            .await;
        if overflow.as_i64().unwrap() > 0 {
            problems.push(format!(
                "{name} scrolls sideways at {width}px by {overflow}px"
            ));
        }
    }
    b.view(1280, false).await;
    let h1 = b
        .exec("return document.querySelectorAll('h1').length", json!([]))
        .await;
    if h1 != 1 {
        problems.push(format!("{name} has {h1} h1 elements"));
    }
    problems
}

/// An app's authorization request: its callback (a loopback server on a port the
/// client never registered), the URL to send the browser to, and the PKCE verifier.
struct AppRequest {
    redirect: String,
    authorize: String,
    verifier: String,
}

async fn app_request(app: &TestApp, client_id: &str, scope: &str) -> AppRequest {
    let port = callback_server().await;
    let redirect = format!("http://127.0.0.1:{port}/cb");
    let (verifier, challenge) = pkce_pair();
    let mut authorize = url::Url::parse(&app.url("/oauth/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", scope)
        .append_pair("state", "st")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    AppRequest {
        redirect,
        authorize: authorize.to_string(),
        verifier,
    }
}

/// The app's side: redeems `code` with PKCE; returns the token response.
async fn exchange(
    app: &TestApp,
    client_id: &str,
    code: &str,
    redirect: &str,
    verifier: &str,
) -> Value {
    let resp = app
        .token_public(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ])
        .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn sign_in(b: &Driver, username: &str) {
    b.type_into("#username", username).await;
    b.type_into("#password", "correct horse battery").await;
    b.click("button[type=submit]").await;
}

/// Opens `authorize`, signs in as `username` on the page it leads to, and waits
/// for the consent page.
async fn sign_in_to_consent(b: &Driver, app: &TestApp, authorize: &str, username: &str) {
    b.goto(authorize).await;
    b.wait_for_url(&app.url("/login")).await;
    sign_in(b, username).await;
    b.wait_for_url(&app.url("/oauth/authorize")).await;
}

/// A public client registered by `origin` (a user's, or self-registered).
async fn client_by(app: &TestApp, meta: ClientMetadata, origin: Origin) -> String {
    latchkey::services::clients::create_client(
        &app.state.db,
        &app.state.settings.scopes,
        meta,
        origin,
        common::START,
    )
    .await
    .unwrap()
    .row
    .id
}

/// Sign-in, consent, an error page and the settings pages pass axe-core (no serious
/// or critical violations) at 1280 and 375 px, light and dark, and fit 320 px.
async fn pages_pass_axe_in_chromium(backend: Backend) {
    let Some((driver, chromium)) = browser_binaries() else {
        return;
    };
    let Some(axe) = axe_source() else {
        return;
    };
    let name = backend_name(&backend);
    let app = TestApp::spawn(&backend).await;
    app.user("hana", "correct horse battery").await;
    // Registered through RFC 7591: the consent page says it is not verified.
    let client_id = client_by(
        &app,
        ClientMetadata {
            name: "Receipt Helper".into(),
            description: "Files your receipts every month".into(),
            website: Some("https://helper.example".into()),
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            scope: Some("profile email".into()),
            public: true,
            ..Default::default()
        },
        Origin {
            registration_token: true,
            token_endpoint_auth_method: Some("none".into()),
            ..Default::default()
        },
    )
    .await;
    let AppRequest {
        redirect,
        authorize,
        ..
    } = app_request(&app, &client_id, "profile email").await;

    let b = Driver::start(&driver, &chromium).await;
    let mut problems = Vec::new();
    b.goto(&authorize).await;
    b.wait_for_url(&app.url("/login")).await;
    problems.extend(inspect(&b, &axe, &format!("{name}-login")).await);
    sign_in(&b, "hana").await;
    b.wait_for_url(&app.url("/oauth/authorize")).await;
    let consent = b.wait_for_text("Not verified by Latchkey").await;
    assert!(consent.contains("helper.example"), "the website is shown");
    problems.extend(inspect(&b, &axe, &format!("{name}-consent")).await);
    b.click("button[name=decision][value=approve]").await;
    b.wait_for_url(&redirect).await;

    b.goto(&app.url("/oauth/authorize?response_type=code&client_id=nobody"))
        .await;
    let error = b.wait_for_text("This app is not known here").await;
    assert!(
        error.contains("Signed in as"),
        "error pages show who is signed in"
    );
    problems.extend(inspect(&b, &axe, &format!("{name}-error")).await);
    b.goto(&app.url("/settings/apps")).await;
    b.wait_for_text("Create an app").await;
    problems.extend(inspect(&b, &axe, &format!("{name}-settings-apps")).await);
    b.goto(&app.url("/settings/authorized")).await;
    b.wait_for_text("Receipt Helper").await;
    problems.extend(inspect(&b, &axe, &format!("{name}-settings-authorized")).await);
    b.goto(&app.url("/account")).await;
    b.wait_for_text("Your account").await;
    problems.extend(inspect(&b, &axe, &format!("{name}-account")).await);
    // OpenID Connect's pages: signing in again (prompt=login), the sign-out
    // confirmation an app's request leads to, and the signed-out page.
    b.goto(&app.url("/login?next=%2Faccount&prompt=login"))
        .await;
    b.wait_for_text("confirm who you are").await;
    problems.extend(inspect(&b, &axe, &format!("{name}-login-again")).await);
    b.goto(&app.url(&format!("/oauth/logout?client_id={client_id}")))
        .await;
    b.wait_for_text("Receipt Helper asks to sign you out").await;
    problems.extend(inspect(&b, &axe, &format!("{name}-logout")).await);
    b.click("button[name=confirm][value=yes]").await;
    b.wait_for_text("You are signed out").await;
    problems.extend(inspect(&b, &axe, &format!("{name}-signed-out")).await);
    assert!(problems.is_empty(), "{problems:#?}");
    // The harness finds a real violation: an unlabelled field added to the page.
    b.exec(
        "document.querySelector('main').insertAdjacentHTML('beforeend', '<input type=text>'); return true",
        json!([]),
    )
    .await;
    let found = b.axe(&axe).await;
    assert!(found.iter().any(|v| v.starts_with("label ")), "{found:?}");
}

/// What an app, a person and a scope say about themselves is shown as text: no
/// element is made from it and no script runs, on consent and settings pages.
async fn names_are_text_in_chromium(backend: Backend) {
    let Some((driver, chromium)) = browser_binaries() else {
        return;
    };
    let app = TestApp::builder()
        .config("[[scopes]]\nname = \"notes\"\ndescription = \"<img src=x onerror=alert(3)>\"\n")
        .spawn(&backend)
        .await;
    let user_id = latchkey::services::users::create_user(
        &app.state.db,
        "ivan",
        "correct horse battery".into(),
        latchkey::services::users::Profile {
            name: Some("<img src=x onerror=alert(2)>".into()),
            ..Default::default()
        },
        common::START,
    )
    .await
    .unwrap()
    .id;
    const NAME: &str = "<img src=x onerror=alert(1)>";
    let client_id = client_by(
        &app,
        ClientMetadata {
            name: NAME.into(),
            description: "<script>alert(5)</script>".into(),
            website: Some(r#"https://evil.example/"><img src=x onerror=alert(4)>"#.into()),
            icon_url: Some(r#"https://evil.example/i.png" onerror="alert(6)"#.into()),
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            scope: Some("profile notes".into()),
            public: true,
            ..Default::default()
        },
        Origin {
            owner_id: Some(user_id),
            ..Default::default()
        },
    )
    .await;
    let AppRequest {
        redirect,
        authorize,
        ..
    } = app_request(&app, &client_id, "profile notes").await;

    let b = Driver::start(&driver, &chromium).await;
    // No element came from the values, they read as text, and no dialog opened.
    let check = |page: &'static str, texts: &'static [&'static str]| {
        let b = &b;
        async move {
            let made = b
                .exec(
                    "return document.querySelectorAll('img[src=\"x\"], script:not([src]), [onerror]').length",
                    json!([]),
                )
                .await;
            assert_eq!(made, 0, "{page}: an element was made from a value");
            let text = b
                .exec("return document.body.innerText", json!([]))
                .await
                .as_str()
                .unwrap()
                .to_owned();
            for t in texts {
                assert!(text.contains(t), "{page} shows {t:?} as text: {text}");
            }
            assert!(!b.dialog_open().await, "{page}: a script ran");
        }
    };
    sign_in_to_consent(&b, &app, &authorize, "ivan").await;
    b.wait_for_text("Approve").await;
    check(
        "consent",
        &[
            NAME,
            "<script>alert(5)</script>",
            "<img src=x onerror=alert(3)>",
            r#"https://evil.example/"><img src=x onerror=alert(4)>"#,
        ],
    )
    .await;
    b.click("button[name=decision][value=approve]").await;
    b.wait_for_url(&redirect).await;
    b.goto(&app.url("/account")).await;
    b.wait_for_text("Your account").await;
    check("account", &["<img src=x onerror=alert(2)>"]).await;
    b.goto(&app.url("/settings/apps")).await;
    b.wait_for_text("Create an app").await;
    check("apps", &[NAME, "<img src=x onerror=alert(3)>"]).await;
    b.goto(&app.url(&format!("/settings/apps/{client_id}")))
        .await;
    b.wait_for_text("Save changes").await;
    check("app", &[NAME]).await;
    let website = b
        .exec("return document.getElementById('website').value", json!([]))
        .await;
    assert_eq!(
        website,
        r#"https://evil.example/"><img src=x onerror=alert(4)>"#
    );
    b.goto(&app.url("/settings/authorized")).await;
    b.wait_for_text("Revoke").await;
    check("authorized", &[NAME, "notes"]).await;
}

/// A product's name, logo and accent colour on the sign-in and consent pages.
async fn brand_in_chromium(backend: Backend) {
    let Some((driver, chromium)) = browser_binaries() else {
        return;
    };
    let name = backend_name(&backend);
    let brand_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        brand_dir.path().join("logo.svg"),
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32"><rect width="64" height="32" rx="6" fill="#e11d48"/></svg>"##,
    )
    .unwrap();
    let dir = brand_dir.path().to_owned();
    let app = TestApp::builder()
        .args(move |a| {
            a.brand.product_name = Some("Shocking Energy".into());
            a.brand.logo_url = Some("/brand/logo.svg".into());
            a.brand.brand_dir = Some(dir);
            a.brand.accent_color = Some("#e11d48".into());
            a.brand.terms_url = Some("https://shocking.example/terms".into());
            a.brand.privacy_url = Some("https://shocking.example/privacy".into());
            a.brand.support_url = Some("mailto:help@shocking.example".into());
        })
        .spawn(&backend)
        .await;
    app.user("jo", "correct horse battery").await;
    let client_id = app.public_client("http://127.0.0.1/cb", "profile").await;
    let AppRequest { authorize, .. } = app_request(&app, &client_id, "profile").await;
    let accent = latchkey::config::brand::Palette::from_accent(
        latchkey::config::brand::Rgb::parse("#e11d48").unwrap(),
    )
    .light_accent;
    let expected_bg = format!("rgb({}, {}, {})", accent.0, accent.1, accent.2);

    let b = Driver::start(&driver, &chromium).await;
    let branded = |page: &'static str| {
        let b = &b;
        let expected_bg = expected_bg.clone();
        async move {
            let html = b.source().await;
            assert!(html.contains("Shocking Energy"), "{page}: {html}");
            assert!(!html.contains("Latchkey"), "{page} still says Latchkey");
            let logo = b
                .exec(
                    "const i = document.querySelector('img.logo'); return i !== null && i.complete && i.naturalWidth > 0 && i.getAttribute('src')",
                    json!([]),
                )
                .await;
            assert_eq!(logo, "/brand/logo.svg", "{page}: the logo loaded");
            let bg = b
                .exec(
                    "return getComputedStyle(document.querySelector('button.primary')).backgroundColor",
                    json!([]),
                )
                .await;
            assert_eq!(bg, expected_bg.as_str(), "{page}: the accent colour");
        }
    };
    b.goto(&authorize).await;
    b.wait_for_url(&app.url("/login")).await;
    branded("sign-in").await;
    b.screenshot(&format!("{name}-brand-login.png")).await;
    sign_in(&b, "jo").await;
    b.wait_for_url(&app.url("/oauth/authorize")).await;
    b.wait_for_text("Approve").await;
    branded("consent").await;
    let consent = b.source().await;
    assert!(
        consent.contains("https://shocking.example/terms"),
        "terms link"
    );
    assert!(
        consent.contains("https://shocking.example/privacy"),
        "privacy link"
    );
    assert!(
        consent.contains("mailto:help@shocking.example"),
        "support link"
    );
    b.screenshot(&format!("{name}-brand-consent.png")).await;
}

/// On a shared computer: the wrong person is signed in at the consent page, signs
/// out there, and the right one signs in and approves the same request.
async fn sign_out_from_consent_in_chromium(backend: Backend) {
    let Some((driver, chromium)) = browser_binaries() else {
        return;
    };
    let app = TestApp::spawn(&backend).await;
    app.user("kim", "correct horse battery").await;
    let lee = app.user("lee", "correct horse battery").await;
    let client_id = app.public_client("http://127.0.0.1/cb", "profile").await;
    let AppRequest {
        redirect,
        authorize,
        verifier,
    } = app_request(&app, &client_id, "profile").await;

    let b = Driver::start(&driver, &chromium).await;
    sign_in_to_consent(&b, &app, &authorize, "kim").await;
    b.wait_for_text("Signed in as <strong>kim</strong>").await;
    let cookies = b.cmd(reqwest::Method::GET, "/cookie", None).await;
    let kim_session = cookies
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "lk_session")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();

    b.click("form[action='/logout'] button").await;
    let login = b.wait_for_url(&app.url("/login")).await;
    let next = query_of(&login)["next"].clone();
    assert_eq!(
        app.url(&next),
        authorize,
        "sign-in leads back to the same authorization request"
    );
    // Kim's session is over, not just forgotten by this browser.
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/account"))
        .header("cookie", format!("lk_session={kim_session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "the signed-out session is dead");

    sign_in(&b, "lee").await;
    b.wait_for_url(&app.url("/oauth/authorize")).await;
    b.wait_for_text("Signed in as <strong>lee</strong>").await;
    b.click("button[name=decision][value=approve]").await;
    let landed = b.wait_for_url(&redirect).await;
    let q = query_of(&landed);
    assert_eq!(q["state"], "st");
    let body = exchange(&app, &client_id, &q["code"], &redirect, &verifier).await;
    let claims = app.introspect(body["access_token"].as_str().unwrap()).await;
    assert_eq!(
        claims["sub"],
        lee.as_str(),
        "the token is the second person's"
    );
}

/// A single-page app on another origin (the callback's port) does what such apps
/// do with `fetch` in the browser: redeems its code, reads UserInfo and the bearer
/// challenge of a bad token — and cannot read Latchkey's pages.
async fn a_single_page_app_in_chromium(backend: Backend) {
    let Some((driver, chromium)) = browser_binaries() else {
        return;
    };
    let app = TestApp::spawn(&backend).await;
    let client_id = app.public_client("http://127.0.0.1/cb", "profile").await;
    app.user("erin", "correct horse battery").await;
    let AppRequest {
        redirect,
        authorize,
        verifier,
    } = app_request(&app, &client_id, "profile").await;

    let b = Driver::start(&driver, &chromium).await;
    sign_in_to_consent(&b, &app, &authorize, "erin").await;
    b.click("button[name=decision][value=approve]").await;
    let landed = b.wait_for_url(&redirect).await;
    let code = query_of(&landed)["code"].clone();

    // Now on the app's own origin, in its page.
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("client_id", &client_id)
        .append_pair("code", &code)
        .append_pair("redirect_uri", &redirect)
        .append_pair("code_verifier", &verifier)
        .finish();
    let script = r#"const [base, form] = arguments;
const done = arguments[arguments.length - 1];
(async () => {
  const token = await fetch(base + "/oauth/token", { method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" }, body: form });
  const tokens = await token.json();
  const info = await fetch(base + "/oauth/userinfo",
    { headers: { authorization: "Bearer " + tokens.access_token } });
  const bad = await fetch(base + "/oauth/userinfo", { headers: { authorization: "Bearer junk" } });
  let login;
  try { await fetch(base + "/login"); login = "readable"; } catch (e) { login = "blocked"; }
  done({ token: token.status, refresh: typeof tokens.refresh_token, info: info.status,
         who: (await info.json()).preferred_username, bad: bad.status,
         challenge: bad.headers.get("www-authenticate"), login });
})().catch((e) => done({ error: String(e) }));"#;
    let seen = b
        .cmd(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": [app.base, form] })),
        )
        .await;
    assert_eq!(seen["token"], 200, "{seen}");
    assert_eq!(seen["refresh"], "string", "{seen}");
    assert_eq!(seen["info"], 200, "{seen}");
    assert_eq!(seen["who"], "erin", "{seen}");
    assert_eq!(seen["bad"], 401, "{seen}");
    assert!(
        seen["challenge"]
            .as_str()
            .is_some_and(|c| c.contains("invalid_token")),
        "the page reads the challenge: {seen}"
    );
    assert_eq!(seen["login"], "blocked", "{seen}");
}

fn backend_name(b: &Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres(_) => "postgres",
    }
}

/// Latchkey in front of `examples/delegated_login` (the product, on another site:
/// `localhost` beside Latchkey's `127.0.0.1`), with the product's consent page or
/// Latchkey's own.
async fn with_product(backend: &Backend, product_consent: bool) -> (TestApp, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let product_base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let login = format!("{product_base}/sign-in");
    let consent = format!("{product_base}/consent");
    let app = TestApp::builder()
        .args(|a| {
            a.login_url = Some(login);
            if product_consent {
                a.consent_url = Some(consent);
            }
        })
        .spawn(backend)
        .await;
    let ops = app.admin_client().await;
    let endpoint = product::endpoint(product::Settings {
        latchkey: app.base.clone(),
        client_id: ops.id,
        client_secret: ops.secret,
    });
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
    (app, product_base)
}

/// A person signs in on the product's own page; the product accepts the challenge;
/// Latchkey's consent page (then, with consent_url, the product's) appears; the app
/// gets tokens whose `sub` is the product's user id; with `remember` the next
/// authorization skips the product's page.
async fn product_sign_in_in_chromium(backend: Backend) {
    let Some((driver, chromium)) = browser_binaries() else {
        return;
    };
    let (app, product_base) = with_product(&backend, false).await;
    let client_id = app
        .public_client("http://127.0.0.1/cb", "openid profile")
        .await;
    let b = Driver::start(&driver, &chromium).await;

    let AppRequest {
        redirect,
        authorize,
        verifier,
    } = app_request(&app, &client_id, "openid profile").await;
    b.goto(&authorize).await;
    b.wait_for_url(&format!("{product_base}/sign-in?login_challenge="))
        .await;
    b.wait_for_text("Sign in to Shop").await;
    b.type_into("#username", "ada").await;
    b.type_into("#password", "correct horse battery").await;
    b.click("input[name=remember]").await;
    b.click("button[type=submit]").await;
    b.wait_for_url(&app.url("/oauth/authorize")).await;
    b.wait_for_text("Public App").await;
    b.click("button[name=decision][value=approve]").await;
    let landed = b.wait_for_url(&redirect).await;
    let code = query_of(&landed)["code"].clone();
    let tokens = exchange(&app, &client_id, &code, &redirect, &verifier).await;
    let id_token = common::jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["sub"], "shop-1001", "sub is the product's user id");
    assert_eq!(id_token["preferred_username"], "ada");

    // Remembered: straight to the app, no product page, no consent page.
    let again = app_request(&app, &client_id, "openid profile").await;
    b.goto(&again.authorize).await;
    let landed = b.wait_for_url(&again.redirect).await;
    assert!(query_of(&landed).contains_key("code"), "{landed}");
    drop(b);

    // With the product's consent page: it is drawn by the product, and what the
    // person unticks is not granted.
    let (app, product_base) = with_product(&backend, true).await;
    let client_id = app
        .public_client("http://127.0.0.1/cb", "openid profile email")
        .await;
    let b = Driver::start(&driver, &chromium).await;
    let req = app_request(&app, &client_id, "openid profile email").await;
    b.goto(&req.authorize).await;
    b.wait_for_url(&format!("{product_base}/sign-in")).await;
    b.type_into("#username", "grace").await;
    b.type_into("#password", "staple battery horse").await;
    b.click("button[type=submit]").await;
    b.wait_for_url(&format!("{product_base}/consent?consent_challenge="))
        .await;
    b.wait_for_text("Allow access?").await;
    b.click("input[value=email]").await;
    b.click("button[value=allow]").await;
    let landed = b.wait_for_url(&req.redirect).await;
    let code = query_of(&landed)["code"].clone();
    let tokens = exchange(&app, &client_id, &code, &req.redirect, &req.verifier).await;
    assert_eq!(tokens["scope"], "openid profile");
    let at = common::jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(at["sub"], "shop-1002");
}

both_backends!(
    product_sign_in_in_chromium,
    sign_in_and_approve_in_chromium,
    settings_pages_in_chromium,
    pages_pass_axe_in_chromium,
    names_are_text_in_chromium,
    brand_in_chromium,
    sign_out_from_consent_in_chromium,
    a_single_page_app_in_chromium,
);
