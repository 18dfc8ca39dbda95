//! The binary as an operator uses it: real processes, real ports.
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::process::{BIN, Server, free_port, latchkey, run_err, run_ok, wait_ready};
use common::{Backend, TestDb};
use serde_json::Value;
use std::process::{Command, Stdio};

/// The README walk-through: serve, create a client with the CLI, get a token.
async fn serve_then_client_credentials_with_the_cli(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    // Logs at the most verbose level, to show that even then no secret or token leaks.
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = Server(
        latchkey(dir.path(), &db.url)
            .env("LATCHKEY_LOG", "trace")
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    wait_ready(&base).await;

    // The first start generated one private key, owner-only.
    let keys: Vec<_> = std::fs::read_dir(dir.path().join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pem"))
        .collect();
    assert_eq!(keys.len(), 1);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&keys[0]).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let created = run_ok(latchkey(dir.path(), &db.url).args([
        "clients",
        "create",
        "--name",
        "billing",
        "--scope",
        "profile apps:read",
        "--grant-type",
        "client_credentials",
    ]));
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("lk_cs_") && secret.len() >= 6 + 43);
    assert_eq!(created["scope"], "apps:read profile");

    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let access_token = body["access_token"].as_str().unwrap().to_owned();
    assert!(access_token.split('.').count() == 3);

    // The list shows the client but never a secret or its hash.
    let listed = run_ok(latchkey(dir.path(), &db.url).args(["clients", "list"]));
    let text = listed.to_string();
    assert!(text.contains(&id));
    assert!(!text.contains(&secret));
    assert!(!text.contains("\"client_secret\"") && !text.contains("secret_hash"));
    assert!(text.contains("\"token_endpoint_auth_method\":\"client_secret_basic\""));

    // keys list names the active key.
    let keys = run_ok(latchkey(dir.path(), &db.url).args(["keys", "list"]));
    assert_eq!(keys[0]["active"], true);
    assert_eq!(keys[0]["alg"], "RS256");

    // Rotation from another process (the CLI): the running server's client cache sees
    // the change counter move within its poll interval (0.5 s); allow 3 s.
    let rotated = run_ok(latchkey(dir.path(), &db.url).args(["clients", "rotate-secret", &id]));
    let new_secret = rotated["client_secret"].as_str().unwrap();
    let status = |s: String| {
        let http = http.clone();
        let (id, base) = (id.clone(), base.clone());
        async move {
            http.post(format!("{base}/oauth/token"))
                .basic_auth(&id, Some(s))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let refused_within = |s: String| {
        let status = &status;
        async move {
            let started = std::time::Instant::now();
            while status(s.clone()).await != 401 {
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(3),
                    "a changed client was still accepted after 3 s"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            started.elapsed()
        }
    };
    refused_within(secret.clone()).await;
    assert_eq!(status(new_secret.to_owned()).await, 200);

    // Dynamic registration hands out a secret and a registration access token.
    let registered: Value = http
        .post(format!("{base}/oauth/register"))
        .json(&serde_json::json!({"client_name": "logged?", "redirect_uris": ["https://l.example/cb"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dcr_secret = registered["client_secret"].as_str().unwrap().to_owned();
    let dcr_token = registered["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // An error page a person sees carries the id of the log line about it.
    let resp = http
        .get(format!(
            "{base}/oauth/authorize?response_type=code&client_id=nobody"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let page = resp.text().await.unwrap();
    assert!(
        page.contains(&format!("<code>{request_id}</code>")),
        "{page}"
    );

    run_ok(latchkey(dir.path(), &db.url).args(["clients", "delete", &id]));
    refused_within(new_secret.to_owned()).await;
    let err = run_err(latchkey(dir.path(), &db.url).args(["clients", "delete", &id]));
    assert!(err.contains("no client"), "{err}");

    drop(server);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("issued access token"),
        "the log has content: {log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "a log written to a file has no colour codes"
    );
    assert!(log.contains("client registered"), "registration is logged");
    let refusal = log
        .lines()
        .find(|l| l.contains("authorization request refused"))
        .expect("the refusal is logged");
    assert!(
        refusal.contains(&request_id),
        "the log line carries the page's request id: {refusal}"
    );
    for secret_value in [
        secret.as_str(),
        new_secret,
        access_token.as_str(),
        &dcr_secret,
        &dcr_token,
    ] {
        // Any 20-character piece would identify the secret.
        assert!(
            !log.contains(&secret_value[secret_value.len() - 20..]),
            "a secret or token reached the log"
        );
    }
    assert!(!log.contains("BEGIN PRIVATE KEY"));
}

async fn bad_client_input_is_explained(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["clients", "create", "--name", "x", "--scope", "nope"],
            "nope",
        ),
        (
            &[
                "clients",
                "create",
                "--name",
                "x",
                "--redirect-uri",
                "http://evil.example/cb",
            ],
            "https",
        ),
        (
            &[
                "clients",
                "create",
                "--name",
                "x",
                "--public",
                "--grant-type",
                "client_credentials",
            ],
            "public",
        ),
        (
            &[
                "clients",
                "create",
                "--name",
                "x",
                "--grant-type",
                "password",
            ],
            "password",
        ),
    ];
    for (args, needle) in cases {
        let err = run_err(latchkey(dir.path(), &db.url).args(*args));
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

async fn users_with_the_cli(backend: Backend) {
    use std::io::Write;
    let db = TestDb::create(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let create = |username: &str, password: &str| {
        let mut child = latchkey(dir.path(), &db.url)
            .args([
                "users",
                "create",
                username,
                "--password-stdin",
                "--email",
                "a@example.com",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = create("alice", "correct horse battery");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let user: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(user["username"], "alice");
    assert!(user["id"].as_str().is_some_and(|id| !id.is_empty()));
    // Taken name, short password: clear errors.
    let out = create("alice", "another good one");
    assert!(String::from_utf8_lossy(&out.stderr).contains("taken"));
    let out = create("bob", "short");
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least"));
    // Passwords are never accepted in argv.
    let err = run_err(latchkey(dir.path(), &db.url).args(["users", "create", "carol"]));
    assert!(err.contains("--password-stdin"), "{err}");
    let listed = run_ok(latchkey(dir.path(), &db.url).args(["users", "list"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // Latchkey sends no mail: an address is unverified unless the creator says so.
    assert_eq!(listed[0]["email_verified"], false);
    let err = run_err(latchkey(dir.path(), &db.url).args([
        "users",
        "create",
        "dave",
        "--password-stdin",
        "--email-verified",
    ]));
    assert!(err.contains("--email"), "{err}");
    assert!(
        !listed.to_string().contains("argon2"),
        "no password hash in the listing"
    );
    run_ok(latchkey(dir.path(), &db.url).args(["users", "delete", "alice"]));
    let listed = run_ok(latchkey(dir.path(), &db.url).args(["users", "list"]));
    assert!(listed.as_array().unwrap().is_empty());
}

async fn keys_encrypted_at_rest(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = "a-long-random-key-encryption-secret-0123456789";
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    {
        let _server = Server(
            latchkey(dir.path(), &db.url)
                .env("LATCHKEY_KEY_ENCRYPTION_KEY", secret)
                .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_ready(&base).await;
    }
    let files: Vec<_> = std::fs::read_dir(dir.path().join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pem"))
        .collect();
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(text.starts_with("-----BEGIN LATCHKEY ENCRYPTED PRIVATE KEY-----"));
    assert!(!text.contains("BEGIN PRIVATE KEY"));
    // Rotation writes encrypted keys too; listing needs the secret.
    let rotated = run_ok(
        latchkey(dir.path(), &db.url)
            .env("LATCHKEY_KEY_ENCRYPTION_KEY", secret)
            .args(["keys", "rotate", "--alg", "EdDSA"]),
    );
    let listed = run_ok(
        latchkey(dir.path(), &db.url)
            .env("LATCHKEY_KEY_ENCRYPTION_KEY", secret)
            .args(["keys", "list"]),
    );
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(
        listed
            .to_string()
            .contains(rotated["kid"].as_str().unwrap())
    );
    // Without the secret, or with a wrong one: a clear refusal, not a panic.
    let err = run_err(latchkey(dir.path(), &db.url).args(["keys", "list"]));
    assert!(err.contains("LATCHKEY_KEY_ENCRYPTION_KEY"), "{err}");
    let err = run_err(
        latchkey(dir.path(), &db.url)
            .env(
                "LATCHKEY_KEY_ENCRYPTION_KEY",
                "another-long-secret-that-is-wrong-0123456789",
            )
            .args(["keys", "list"]),
    );
    assert!(err.contains("cannot decrypt"), "{err}");
    let err = run_err(
        latchkey(dir.path(), &db.url)
            .env("LATCHKEY_KEY_ENCRYPTION_KEY", "short")
            .args(["keys", "list"]),
    );
    assert!(err.contains("at least 32"), "{err}");
}

async fn keys_rotate_and_retire_with_the_cli(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    run_ok(latchkey(dir.path(), &db.url).args(["migrate"]));
    // serve would generate the first key; keys rotate on an empty directory makes one too.
    let first =
        run_ok(latchkey(dir.path(), &db.url).args(["keys", "rotate", "--activate-in", "0"]));
    let next = run_ok(latchkey(dir.path(), &db.url).args(["keys", "rotate", "--alg", "ES256"]));
    let listed = run_ok(latchkey(dir.path(), &db.url).args(["keys", "list"]));
    let state_of = |kid: &Value| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == *kid)
            .unwrap()["state"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(state_of(&first["kid"]), "active");
    assert_eq!(state_of(&next["kid"]), "next");
    let err = run_err(latchkey(dir.path(), &db.url).args([
        "keys",
        "retire",
        first["kid"].as_str().unwrap(),
    ]));
    assert!(err.contains("active signing key"), "{err}");
    run_ok(latchkey(dir.path(), &db.url).args(["keys", "retire", next["kid"].as_str().unwrap()]));
    let listed = run_ok(latchkey(dir.path(), &db.url).args(["keys", "list"]));
    assert!(listed.to_string().contains("retired"));
    let err = run_err(latchkey(dir.path(), &db.url).args(["keys", "rotate", "--alg", "HS256"]));
    assert!(err.contains("HS256"), "{err}");
}

#[test]
fn unreachable_database_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let err = run_err(
        latchkey(
            dir.path(),
            "postgres://latchkey:hunter2@127.0.0.1:1/latchkey",
        )
        .args(["serve"]),
    );
    assert!(err.contains("cannot connect to the database"), "{err}");
    assert!(!err.contains("hunter2"), "password leaked: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let err = run_err(latchkey(dir.path(), "sqlite:///no/such/dir/x.db").args(["serve"]));
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn bad_configuration_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("x.db").display());

    std::fs::write(dir.path().join("latchkey.toml"), "acess_token_ttl = 60\n").unwrap();
    let err = run_err(latchkey(dir.path(), &sqlite).args(["serve"]));
    assert!(
        err.contains("unknown field") && err.contains("acess_token_ttl"),
        "{err}"
    );
    std::fs::write(dir.path().join("latchkey.toml"), "key_poll_interval = 0\n").unwrap();
    let err = run_err(latchkey(dir.path(), &sqlite).args(["serve"]));
    assert!(err.contains("key_poll_interval 0 is out of range"), "{err}");
    std::fs::remove_file(dir.path().join("latchkey.toml")).unwrap();

    let err = run_err(latchkey(dir.path(), &sqlite).args(["serve", "--issuer", "ftp://x"]));
    assert!(err.contains("issuer"), "{err}");

    let err = run_err(latchkey(dir.path(), &sqlite).args(["serve", "--access-token-ttl", "abc"]));
    assert!(err.contains("access-token-ttl"), "{err}");

    let err = run_err(latchkey(dir.path(), "mysql://x").args(["serve"]));
    assert!(err.contains("sqlite://"), "{err}");

    // A broken template override stops the server, naming the file, before it
    // touches the database.
    let templates = dir.path().join("pages");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(
        templates.join("consent.html"),
        "{% extends \"layout.html\" %}{% block content %}{{ client.name }{% endblock %}",
    )
    .unwrap();
    let err = run_err(latchkey(dir.path(), &sqlite).args(["serve", "--templates-dir", "pages"]));
    assert!(err.contains("pages/consent.html"), "{err}");
    assert!(!dir.path().join("x.db").exists(), "no database was made");
    std::fs::write(templates.join("consent.html"), "{{ client.nmae }}").unwrap();
    let err = run_err(
        latchkey(dir.path(), &sqlite)
            .env("LATCHKEY_TEMPLATES_DIR", "pages")
            .args(["serve"]),
    );
    assert!(
        err.contains("pages/consent.html") && err.contains("nmae"),
        "{err}"
    );
    std::fs::write(dir.path().join("latchkey.toml"), "accent_color = \"red\"\n").unwrap();
    let err = run_err(latchkey(dir.path(), &sqlite).args(["serve"]));
    assert!(err.contains("accent_color"), "{err}");
    std::fs::remove_file(dir.path().join("latchkey.toml")).unwrap();

    // A keys "directory" that is a file.
    std::fs::write(dir.path().join("notadir"), "").unwrap();
    let err = run_err(latchkey(dir.path(), &sqlite).args([
        "serve",
        "--keys-dir",
        "notadir",
        "--bind",
        "127.0.0.1:0",
    ]));
    assert!(err.contains("not a directory"), "{err}");

    // Environment overrides the file; flags override the environment.
    std::fs::write(dir.path().join("latchkey.toml"), "access_token_ttl = 0\n").unwrap();
    let err = run_err(
        latchkey(dir.path(), &sqlite)
            .env("LATCHKEY_ACCESS_TOKEN_TTL", "99999999")
            .args(["serve"]),
    );
    assert!(err.contains("99999999"), "environment beats file: {err}");
    let err = run_err(
        latchkey(dir.path(), &sqlite)
            .env("LATCHKEY_ACCESS_TOKEN_TTL", "99999999")
            .args(["serve", "--access-token-ttl", "88888888"]),
    );
    assert!(err.contains("88888888"), "flag beats environment: {err}");
    std::fs::remove_file(dir.path().join("latchkey.toml")).unwrap();

    // The FAPI 2.0 profile will not sign with an RS256 key, nor make one.
    let err = run_err(latchkey(dir.path(), &sqlite).args([
        "serve",
        "--profile",
        "fapi2",
        "--signing-alg",
        "RS256",
    ]));
    assert!(err.contains("RS256") && err.contains("FAPI"), "{err}");
    run_ok(latchkey(dir.path(), &sqlite).args([
        "keys",
        "rotate",
        "--alg",
        "RS256",
        "--activate-in",
        "0",
    ]));
    let err = run_err(latchkey(dir.path(), &sqlite).args([
        "serve",
        "--profile",
        "fapi2",
        "--bind",
        "127.0.0.1:0",
    ]));
    assert!(err.contains("active signing key is RS256"), "{err}");
}

#[test]
fn openapi_command_prints_the_committed_spec() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .arg("openapi")
        .output()
        .unwrap();
    assert!(out.status.success());
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/openapi/latchkey.json"
    ))
    .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}

/// `migrate` applies everything once; `serve --no-migrate` then starts on the migrated
/// database; a public client is printed without a secret.
async fn migrate_then_serve_without_migrating(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let first = run_ok(latchkey(dir.path(), &db.url).arg("migrate"));
    let applied = first["applied"].as_array().unwrap();
    assert!(applied.len() >= 2, "{first}");
    let second = run_ok(latchkey(dir.path(), &db.url).arg("migrate"));
    assert_eq!(second["applied"], serde_json::json!([]), "{second}");

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Server(
        latchkey(dir.path(), &db.url)
            .args([
                "serve",
                "--no-migrate",
                "--bind",
                &format!("127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_ready(&base).await;

    let public = run_ok(latchkey(dir.path(), &db.url).args([
        "clients",
        "create",
        "--name",
        "cli tool",
        "--public",
        "--scope",
        "profile",
        "--redirect-uri",
        "http://127.0.0.1/callback",
        "--post-logout-redirect-uri",
        "http://127.0.0.1/signed-out",
    ]));
    assert!(public["client_id"].is_string());
    assert!(public.get("client_secret").is_none(), "{public}");
    assert_eq!(
        public["post_logout_redirect_uris"],
        serde_json::json!(["http://127.0.0.1/signed-out"])
    );
    // The server sees the client at once: its consent data names it.
    let resp = reqwest::Client::new()
        .get(format!("{base}/oauth/authorize"))
        .query(&[
            ("client_id", public["client_id"].as_str().unwrap()),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("response_type", "code"),
            ("scope", "profile"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ])
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    // Not signed in: the client and redirect are known, so the JSON caller is told to
    // sign in (an unknown client would be a 400).
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "login_required", "{body}");
}

/// `serve --no-migrate` on an empty database refuses to run half-set-up.
async fn no_migrate_on_an_empty_database_is_explained(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let err = run_err(latchkey(dir.path(), &db.url).args([
        "serve",
        "--no-migrate",
        "--bind",
        &format!("127.0.0.1:{port}"),
    ]));
    assert!(err.contains("migrat"), "{err}");
}

both_backends!(
    migrate_then_serve_without_migrating,
    no_migrate_on_an_empty_database_is_explained,
    serve_then_client_credentials_with_the_cli,
    bad_client_input_is_explained,
    users_with_the_cli,
    keys_encrypted_at_rest,
    keys_rotate_and_retire_with_the_cli,
    key_clients_with_the_cli,
);

/// `clients create --token-endpoint-auth-method private_key_jwt` with `--jwks FILE`
/// or `--jwks-uri URL`: no secret is printed, the keys are; bad keys are explained.
async fn key_clients_with_the_cli(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let key = common::jose::TestKey::es256("cli-1");
    let jwks = dir.path().join("keys.json");
    std::fs::write(&jwks, common::jose::TestKey::set(&[&key]).to_string()).unwrap();
    let made = run_ok(latchkey(dir.path(), &db.url).args([
        "clients",
        "create",
        "--name",
        "worker",
        "--token-endpoint-auth-method",
        "private_key_jwt",
        "--jwks",
        jwks.to_str().unwrap(),
    ]));
    assert!(made.get("client_secret").is_none(), "{made}");
    assert_eq!(made["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(made["jwks"]["keys"][0]["kid"], "cli-1");
    let by_uri = run_ok(latchkey(dir.path(), &db.url).args([
        "clients",
        "create",
        "--name",
        "published",
        "--token-endpoint-auth-method",
        "private_key_jwt",
        "--jwks-uri",
        "https://worker.example/jwks.json",
    ]));
    assert_eq!(by_uri["jwks_uri"], "https://worker.example/jwks.json");

    let mut private = key.jwk();
    private["d"] = serde_json::json!("AAAA");
    let leaked = dir.path().join("leaked.json");
    std::fs::write(&leaked, serde_json::json!({"keys": [private]}).to_string()).unwrap();
    for (args, needle) in [
        (
            vec![
                "--token-endpoint-auth-method",
                "private_key_jwt",
                "--jwks",
                leaked.to_str().unwrap(),
            ],
            "private member",
        ),
        (
            vec!["--token-endpoint-auth-method", "private_key_jwt"],
            "jwks",
        ),
        (
            vec!["--token-endpoint-auth-method", "client_secret_jwt"],
            "client_secret_jwt",
        ),
        (vec!["--jwks", jwks.to_str().unwrap()], "only for"),
    ] {
        let mut all = vec!["clients", "create", "--name", "x"];
        all.extend(args.iter().copied());
        let err = run_err(latchkey(dir.path(), &db.url).args(&all));
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
