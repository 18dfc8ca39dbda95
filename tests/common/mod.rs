//! Test harness: the real application (`app::build`, as `serve` uses) on a loopback
//! port, over a fresh SQLite file or a fresh PostgreSQL database per test.
#![allow(dead_code)]

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use latchkey::app;
use latchkey::clock::ManualClock;
use latchkey::config::{Settings, SettingsArgs};
use latchkey::keys::KeySet;
use latchkey::oauth::registration::ClientMetadata;
use latchkey::oauth::types::GrantType;
use latchkey::services::state::AppState;
use latchkey::store::Db;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tempfile::TempDir;

pub mod flow;
pub mod jose;
pub mod process;
pub mod tls;

/// Runs each named `async fn name(backend: Backend)` once per backend.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(backend) = crate::common::Backend::postgres() {
                        super::$name(backend).await
                    }
                }
            )*
        }
    };
}

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// The admin URL new per-test databases are created through.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL from `LATCHKEY_TEST_DATABASE_URL`. When it is unset the test says so
    /// loudly and skips, unless `LATCHKEY_REQUIRE_POSTGRES` is set (as in CI), where
    /// skipping would hide that half the suite did not run.
    pub fn postgres() -> Option<Self> {
        match std::env::var("LATCHKEY_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(Self::Postgres(url)),
            _ => {
                if std::env::var_os("LATCHKEY_REQUIRE_POSTGRES").is_some() {
                    panic!(
                        "LATCHKEY_REQUIRE_POSTGRES is set but LATCHKEY_TEST_DATABASE_URL is not"
                    );
                }
                eprintln!(
                    "SKIPPED (PostgreSQL): set LATCHKEY_TEST_DATABASE_URL=postgres://… to run this test on PostgreSQL"
                );
                None
            }
        }
    }
}

/// A database made for one test, dropped when the test ends.
pub struct TestDb {
    pub url: String,
    _dir: Option<TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn create(backend: &Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                    pg: None,
                }
            }
            Backend::Postgres(admin) => {
                let name = format!(
                    "lk_test_{}",
                    latchkey::random::url_token::<9>()
                        .to_lowercase()
                        .replace(['-', '_'], "x")
                );
                let mut conn = AsyncPgConnection::establish(admin)
                    .await
                    .expect("connect to LATCHKEY_TEST_DATABASE_URL");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let mut url = url::Url::parse(admin).unwrap();
                url.set_path(&format!("/{name}"));
                Self {
                    url: url.to_string(),
                    _dir: None,
                    pg: Some((admin.clone(), name)),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            // Best effort, on a thread of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) = AsyncPgConnection::establish(&admin).await {
                        let _ = diesel::sql_query(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        ))
                        .execute(&mut conn)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// One RSA key per test binary: generating RSA keys is slow, and tests that need a
/// fresh key make their own directory.
fn shared_key_pem() -> &'static (String, String) {
    static KEY: OnceLock<(String, String)> = OnceLock::new();
    KEY.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let set =
            KeySet::load_or_generate(dir.path(), latchkey::keys::Alg::Rs256, START, 3600, None)
                .unwrap();
        let path = set.active().path.clone();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        (name, std::fs::read_to_string(path).unwrap())
    })
}

/// Writes the shared test key into a new directory with owner-only permissions.
pub fn keys_dir_with_shared_key() -> TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (name, pem) = shared_key_pem();
    let path = dir.path().join(name);
    std::fs::write(&path, pem).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    dir
}

pub const START: i64 = 1_800_000_000;

/// The application on a loopback port.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub state: AppState,
    pub clock: ManualClock,
    pub db: TestDb,
    pub keys_dir: TempDir,
    _config_dir: TempDir,
}

/// Options for a test application.
#[derive(Default)]
pub struct TestAppBuilder {
    config_toml: String,
    args: SettingsArgs,
    key_alg: Option<latchkey::keys::Alg>,
    now: Option<i64>,
    database_url: Option<String>,
    keys_path: Option<PathBuf>,
}

impl TestAppBuilder {
    /// Contents of a `latchkey.toml` to load; `{issuer}` is replaced by the
    /// server's URL.
    pub fn config(mut self, toml: &str) -> Self {
        self.config_toml = toml.to_owned();
        self
    }

    /// A freshly generated signing key of `alg` instead of the shared RSA key.
    pub fn key_alg(mut self, alg: latchkey::keys::Alg) -> Self {
        self.key_alg = Some(alg);
        self
    }

    /// Start the clock at `now` instead of `START` (for clients that check token
    /// times against the real clock).
    pub fn now(mut self, now: i64) -> Self {
        self.now = Some(now);
        self
    }

    /// Use another test app's database (a second instance), not a fresh one.
    pub fn same_database_as(mut self, other: &TestApp) -> Self {
        self.database_url = Some(other.db.url.clone());
        self
    }

    /// Use another test app's keys directory (signing keys and shared secrets), as
    /// instances behind one balancer do.
    pub fn same_keys_as(mut self, other: &TestApp) -> Self {
        self.keys_path = Some(other.keys_dir.path().to_owned());
        self
    }

    pub fn args(mut self, f: impl FnOnce(&mut SettingsArgs)) -> Self {
        f(&mut self.args);
        self
    }

    pub async fn spawn(mut self, backend: &Backend) -> TestApp {
        let db = match self.database_url.take() {
            // Owned (and dropped) by the app that made it.
            Some(url) => TestDb {
                url,
                _dir: None,
                pg: None,
            },
            None => TestDb::create(backend).await,
        };
        let start = self.now.unwrap_or(START);
        let keys_dir = match self.key_alg {
            Some(alg) => {
                let dir = tempfile::tempdir().unwrap();
                KeySet::load_or_generate(dir.path(), alg, start, 3600, None).unwrap();
                dir
            }
            None => keys_dir_with_shared_key(),
        };
        let config_dir = tempfile::tempdir().unwrap();
        let config_path: PathBuf = config_dir.path().join("latchkey.toml");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // `{issuer}` in the config stands for this server's URL, known only now.
        let toml = self
            .config_toml
            .replace("{issuer}", &format!("http://{addr}"));
        std::fs::write(&config_path, toml).unwrap();
        let mut args = self.args;
        args.config = Some(config_path);
        args.bind = Some(addr.to_string());
        args.database_url = Some(db.url.clone());
        let keys_path = self
            .keys_path
            .clone()
            .unwrap_or_else(|| keys_dir.path().to_owned());
        args.keys_dir = Some(keys_path.clone());
        let settings = Settings::load(&args).unwrap();

        latchkey::store::migrate::run(&settings.database)
            .await
            .unwrap();
        let database = Db::connect(&settings.database).await.unwrap();
        let keys = KeySet::load(&keys_path, start, settings.access_token_ttl, None).unwrap();
        let clock = ManualClock::new(start);
        let pages = latchkey::pages::Pages::load(&settings.brand).unwrap();
        let state =
            AppState::new(settings, pages, database, keys, Arc::new(clock.clone())).unwrap();
        app::spawn_background(&state, std::time::Duration::from_millis(50));
        let endpoint = app::build(&state);
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
        TestApp {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            state,
            clock,
            db,
            keys_dir,
            _config_dir: config_dir,
        }
    }
}

/// A confidential client made for a test.
pub struct TestClient {
    pub id: String,
    pub secret: String,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    pub async fn spawn(backend: &Backend) -> TestApp {
        Self::builder().spawn(backend).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A confidential client-credentials client with `scope` allowed (default: all).
    pub async fn client(&self, scope: Option<&str>) -> TestClient {
        self.client_from(ClientMetadata {
            name: "test service".into(),
            grant_types: vec![GrantType::ClientCredentials],
            scope: scope.map(str::to_owned),
            ..Default::default()
        })
        .await
    }

    /// A confidential client registered with `meta`, as the CLI would register it.
    pub async fn client_from(&self, meta: ClientMetadata) -> TestClient {
        let created = latchkey::services::clients::create_client(
            &self.state.db,
            &self.state.settings.scopes,
            meta,
            Default::default(),
            START,
        )
        .await
        .unwrap();
        TestClient {
            id: created.row.id,
            secret: created.client_secret.unwrap(),
        }
    }

    /// POSTs a form body to the token endpoint with HTTP Basic credentials.
    pub async fn token_basic(
        &self,
        client: &TestClient,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.http
            .post(self.url("/oauth/token"))
            .basic_auth(&client.id, Some(&client.secret))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// POSTs a raw body with a content type to a path.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }
}

/// Checks an OAuth error response: status, `error`, no-store.
pub async fn expect_oauth_error(
    resp: reqwest::Response,
    status: u16,
    error: &str,
) -> serde_json::Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body: serde_json::Value = resp.json().await.expect("a JSON error body");
    assert_eq!(body["error"], error, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "error_description: {body}"
    );
    body
}

/// A person's browser: keeps cookies, does not follow redirects (tests look at them).
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce_pair() -> (String, String) {
    use base64::Engine;
    let verifier = format!("v{}", latchkey::random::url_token::<40>());
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    (verifier, challenge)
}

/// The `value` of the hidden input `name` in an HTML page.
pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

/// HTML text as a browser reads it (the entities our templates write).
/// The claims of a JWT, unverified (the tests that need verification do it).
pub fn jwt_claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Every hidden input of a page's first form posting to `/oauth/authorize` (the
/// consent form; the page's sign-out form is not part of it), or of the whole page
/// when it has no such form, in order.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let form = match html.find(r#"action="/oauth/authorize""#) {
        Some(start) => {
            let rest = &html[start..];
            &rest[..rest.find("</form>").unwrap_or(rest.len())]
        }
        None => html,
    };
    form.split(r#"<input type="hidden" name=""#)
        .skip(1)
        .map(|chunk| {
            let (name, rest) = chunk.split_once('"').unwrap();
            let rest = rest.strip_prefix(r#" value=""#).unwrap();
            let (value, _) = rest.split_once('"').unwrap();
            (unescape(name), unescape(value))
        })
        .collect()
}

/// The query parameters of a URL.
pub fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The body of the page at `path`, as this browser sees it.
    pub async fn page(&self, path: &str) -> String {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Signs in through the real form; returns the login response.
    pub async fn try_login(&self, username: &str, password: &str) -> reqwest::Response {
        let page = self.page("/login").await;
        let csrf = hidden_value(&page, "csrf_token").expect("login form has a csrf_token");
        self.http
            .post(self.url("/login"))
            .form(&[
                ("username", username),
                ("password", password),
                ("csrf_token", &csrf),
                ("next", "/"),
            ])
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, username: &str, password: &str) {
        let resp = self.try_login(username, password).await;
        assert_eq!(resp.status(), 303, "sign-in succeeds");
    }

    /// GET /oauth/authorize with `query`.
    pub async fn authorize(&self, query: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(self.url("/oauth/authorize"))
            .query(query)
            .send()
            .await
            .unwrap()
    }

    /// Loads the consent page for `query` and clicks `decision`; returns the response
    /// to the form submission.
    pub async fn decide(&self, query: &[(&str, &str)], decision: &str) -> reqwest::Response {
        let resp = self.authorize(query).await;
        assert_eq!(resp.status(), 200, "consent page");
        let html = resp.text().await.unwrap();
        let mut form = hidden_inputs(&html);
        form.push(("decision".into(), decision.into()));
        self.http
            .post(self.url("/oauth/authorize"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

/// The `Location` of a redirect.
pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .unwrap_or_else(|| panic!("a redirect, got {}", resp.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

impl TestApp {
    pub async fn user(&self, username: &str, password: &str) -> String {
        latchkey::services::users::create_user(
            &self.state.db,
            username,
            password.to_owned(),
            latchkey::services::users::Profile {
                email: Some(format!("{username}@example.com")),
                email_verified: true,
                name: Some(format!("{username} example")),
            },
            START,
        )
        .await
        .unwrap()
        .id
    }

    /// A public client using the code flow with `redirect`.
    pub async fn public_client(&self, redirect: &str, scope: &str) -> String {
        let created = latchkey::services::clients::create_client(
            &self.state.db,
            &self.state.settings.scopes,
            ClientMetadata {
                name: "Public App".into(),
                redirect_uris: vec![redirect.to_owned()],
                scope: Some(scope.to_owned()),
                public: true,
                ..Default::default()
            },
            Default::default(),
            START,
        )
        .await
        .unwrap();
        created.row.id
    }

    /// A confidential client using the code flow with `redirect`.
    pub async fn web_client(&self, redirect: &str, scope: &str) -> TestClient {
        self.client_from(ClientMetadata {
            name: "Web App".into(),
            description: "Does useful things".into(),
            website: Some("https://app.example".into()),
            redirect_uris: vec![redirect.to_owned()],
            scope: Some(scope.to_owned()),
            ..Default::default()
        })
        .await
    }

    /// Introspects `token` as a fresh confidential client (a resource server).
    pub async fn introspect(&self, token: &str) -> serde_json::Value {
        let rs = self.client(None).await;
        let resp = self
            .http
            .post(self.url("/oauth/introspect"))
            .basic_auth(&rs.id, Some(&rs.secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// POSTs a token request with the client's id only (public clients).
    pub async fn token_public(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/oauth/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

/// The JSON body of a `200` answer to `GET url`.
pub async fn get_json(http: &reqwest::Client, url: &str) -> serde_json::Value {
    let resp = http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    resp.json().await.unwrap()
}

/// The current Unix time, for servers whose tokens a third-party client or a
/// resource server checks against the real clock.
pub fn real_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A file of an npm package `.ci/run` installs, from the variable `path_var`; or
/// `None` with a loud note. With `require_var` set (as in CI) a missing install
/// fails the test instead of skipping it.
pub fn npm_file(path_var: &str, require_var: &str, install_hint: &str) -> Option<String> {
    let path = std::env::var(path_var).ok().filter(|p| !p.is_empty());
    match path.filter(|p| std::path::Path::new(p).exists()) {
        Some(p) => Some(p),
        None => {
            if std::env::var_os(require_var).is_some() {
                panic!("{require_var} is set but {path_var} names nothing installed");
            }
            eprintln!("SKIPPED ({path_var}): {install_hint}");
            None
        }
    }
}

/// Runs a Node script that prints one JSON line, on a blocking thread (the server
/// under test runs on the test's runtime); fails the test with its output if it
/// fails.
pub async fn run_node_script(mut command: std::process::Command) -> serde_json::Value {
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.trim().lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("one JSON line ({e}): {stdout}"))
}

impl TestApp {
    /// An operator client allowed `latchkey:admin`, as `latchkey clients create
    /// --scope latchkey:admin` makes one.
    pub async fn admin_client(&self) -> TestClient {
        let created = latchkey::services::clients::create_client(
            &self.state.db,
            &self.state.settings.scopes,
            ClientMetadata {
                name: "operator".into(),
                grant_types: vec![GrantType::ClientCredentials],
                scope: Some("latchkey:admin".into()),
                ..Default::default()
            },
            latchkey::services::clients::Origin {
                operator: true,
                ..Default::default()
            },
            START,
        )
        .await
        .unwrap();
        TestClient {
            id: created.row.id,
            secret: created.client_secret.unwrap(),
        }
    }

    /// An admin access token from client credentials.
    pub async fn admin_token(&self) -> String {
        let client = self.admin_client().await;
        let resp = self
            .token_basic(&client, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(resp.status(), 200);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["scope"], "latchkey:admin");
        body["access_token"].as_str().unwrap().to_owned()
    }
}
