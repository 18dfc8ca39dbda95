//! Two `latchkey serve` processes on one database and one keys directory, as behind
//! a load balancer: tokens, refresh tokens, sessions, codes and key rotations are
//! shared; nothing lives only in one process.
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::process::{Server, free_port, latchkey, run_ok, wait_ready};
use common::{Backend, TestDb, hidden_inputs, hidden_value, location, pkce_pair, query_of};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn serve(dir: &Path, db_url: &str, port: u16) -> Server {
    Server(
        latchkey(dir, db_url)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

async fn jwks_kids(http: &reqwest::Client, base: &str) -> Vec<String> {
    let jwks: JwkSet = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks.keys
        .iter()
        .map(|k| k.common.key_id.clone().unwrap())
        .collect()
}

/// A client-credentials access token from the instance at `base`.
async fn client_token(http: &reqwest::Client, base: &str, id: &str, secret: &str) -> String {
    let body: Value = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// The `kid` that signs at `base` right now.
async fn token_kid(http: &reqwest::Client, base: &str, id: &str, secret: &str) -> String {
    let token = client_token(http, base, id, secret).await;
    decode_header(&token).unwrap().kid.unwrap()
}

async fn two_instances_share_everything(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    // Both watch the keys directory every second.
    std::fs::write(dir.path().join("latchkey.toml"), "key_poll_interval = 1\n").unwrap();
    let (pa, pb) = (free_port(), free_port());
    let (a, b) = (
        format!("http://127.0.0.1:{pa}"),
        format!("http://127.0.0.1:{pb}"),
    );
    let _sa = serve(dir.path(), &db.url, pa);
    wait_ready(&a).await;
    let _sb = serve(dir.path(), &db.url, pb);
    wait_ready(&b).await;
    let http = reqwest::Client::new();

    // A token from A verifies with B's JWKS.
    let svc = run_ok(latchkey(dir.path(), &db.url).args(["clients", "create", "--name", "svc"]));
    let (id, secret) = (
        svc["client_id"].as_str().unwrap(),
        svc["client_secret"].as_str().unwrap(),
    );
    let token = &client_token(&http, &a, id, secret).await;
    let jwks_b: JwkSet = http
        .get(format!("{b}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks_b
        .find(&decode_header(token).unwrap().kid.unwrap())
        .expect("A's key is in B's JWKS");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[&a]);
    validation.set_audience(&[&a]);
    decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap();

    // A session made on A is valid on B (cookies do not depend on the port).
    let mut child = latchkey(dir.path(), &db.url)
        .args(["users", "create", "alice", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser
        .get(format!("{a}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_value(&page, "csrf_token").unwrap();
    let resp = browser
        .post(format!("{a}/login"))
        .form(&[
            ("username", "alice"),
            ("password", "correct horse battery"),
            ("csrf_token", &csrf),
            ("next", "/account"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let on_b = browser.get(format!("{b}/account")).send().await.unwrap();
    assert_eq!(on_b.status(), 200, "the session from A is valid on B");
    assert!(on_b.text().await.unwrap().contains("alice"));

    // A code issued on A: concurrent redemptions on A and B, exactly one wins.
    let app = run_ok(latchkey(dir.path(), &db.url).args([
        "clients",
        "create",
        "--name",
        "cli",
        "--public",
        "--redirect-uri",
        "http://127.0.0.1/cb",
        "--scope",
        "profile",
    ]));
    let client_id = app["client_id"].as_str().unwrap().to_owned();
    let get_code = async |verifier_challenge: &(String, String)| {
        let query = [
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("scope", "profile"),
            ("code_challenge", verifier_challenge.1.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let resp = browser
            .get(format!("{a}/oauth/authorize"))
            .query(&query)
            .send()
            .await
            .unwrap();
        let resp = if resp.status() == 200 {
            let mut form = hidden_inputs(&resp.text().await.unwrap());
            form.push(("decision".into(), "approve".into()));
            browser
                .post(format!("{a}/oauth/authorize"))
                .form(&form)
                .send()
                .await
                .unwrap()
        } else {
            resp
        };
        query_of(&location(&resp))["code"].clone()
    };
    let pkce = pkce_pair();
    let code = get_code(&pkce).await;
    let exchange = |base: String, code: String, verifier: String, client_id: String| {
        let http = http.clone();
        async move {
            http.post(format!("{base}/oauth/token"))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("client_id", client_id.as_str()),
                    ("code", code.as_str()),
                    ("redirect_uri", "http://127.0.0.1:9/cb"),
                    ("code_verifier", verifier.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let (ra, rb) = tokio::join!(
        exchange(a.clone(), code.clone(), pkce.0.clone(), client_id.clone()),
        exchange(b.clone(), code.clone(), pkce.0.clone(), client_id.clone())
    );
    // Two redemptions of one code: at most one gets tokens, and the other is a replay,
    // which revokes everything issued from the code (RFC 6749 §4.1.2) — possibly
    // before the first finished, in which case neither gets tokens. Whatever was
    // issued is dead afterwards.
    let statuses = [ra.status().as_u16(), rb.status().as_u16()];
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 400),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| **s == 200).count() <= 1,
        "one redemption at most: {statuses:?}"
    );
    for resp in [ra, rb] {
        if resp.status() == 200 {
            let issued: Value = resp.json().await.unwrap();
            let refresh = http
                .post(format!("{b}/oauth/token"))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", client_id.as_str()),
                    ("refresh_token", issued["refresh_token"].as_str().unwrap()),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(
                refresh.status(),
                400,
                "the replay revoked the winner's tokens"
            );
        }
    }

    // A refresh token from A refreshes at B.
    let pkce = pkce_pair();
    let code = get_code(&pkce).await;
    let tokens: Value = exchange(a.clone(), code, pkce.0.clone(), client_id.clone())
        .await
        .json()
        .await
        .unwrap();
    let resp = http
        .post(format!("{b}/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", client_id.as_str()),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "A's refresh token works at B");

    // A rotation made while both run is served by both, then signs on both.
    let old_kid = token_kid(&http, &a, id, secret).await;
    let rotated = run_ok(latchkey(dir.path(), &db.url).args([
        "keys",
        "rotate",
        "--alg",
        "ES256",
        "--activate-in",
        "3",
    ]));
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let both = jwks_kids(&http, &a).await.contains(&new_kid)
            && jwks_kids(&http, &b).await.contains(&new_kid);
        if both {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "both instances publish the new key"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Published, but not signing before its activation time.
    assert_eq!(token_kid(&http, &b, id, secret).await, old_kid);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ka = token_kid(&http, &a, id, secret).await;
        let kb = token_kid(&http, &b, id, secret).await;
        if ka == new_kid && kb == new_kid {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "both instances sign with the new key ({ka}, {kb})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The old key is still published for the tokens it signed.
    assert!(jwks_kids(&http, &b).await.contains(&old_kid));
}

/// An access token revoked at A: inactive at A's introspection at once (its own
/// in-memory set), at B's within the change-counter poll.
async fn revocation_reaches_the_other_instance(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (free_port(), free_port());
    let start = |port: u16| {
        Server(
            latchkey(dir.path(), &db.url)
                .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
                .args(["--issuer", "http://auth.test"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let (a, b) = (
        format!("http://127.0.0.1:{pa}"),
        format!("http://127.0.0.1:{pb}"),
    );
    let _sa = start(pa);
    wait_ready(&a).await;
    let _sb = start(pb);
    wait_ready(&b).await;
    let http = reqwest::Client::new();
    let client = |name: &str| {
        let v = run_ok(latchkey(dir.path(), &db.url).args(["clients", "create", "--name", name]));
        (
            v["client_id"].as_str().unwrap().to_owned(),
            v["client_secret"].as_str().unwrap().to_owned(),
        )
    };
    let (svc, svc_secret) = client("svc");
    let (rs, rs_secret) = client("resource server");
    let token = client_token(&http, &a, &svc, &svc_secret).await;
    let active_at = |base: String| {
        let (http, rs, rs_secret, token) =
            (http.clone(), rs.clone(), rs_secret.clone(), token.clone());
        async move {
            let v: Value = http
                .post(format!("{base}/oauth/introspect"))
                .basic_auth(&rs, Some(&rs_secret))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["active"].as_bool().unwrap()
        }
    };
    assert!(active_at(a.clone()).await && active_at(b.clone()).await);
    // Let both instances load their revocation sets (polled every 0.5 s).
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let resp = http
        .post(format!("{a}/oauth/revoke"))
        .basic_auth(&svc, Some(&svc_secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        !active_at(a.clone()).await,
        "inactive at once where it was revoked"
    );
    let started = Instant::now();
    while active_at(b.clone()).await {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "B still reports the revoked token active after 3 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

both_backends!(
    two_instances_share_everything,
    revocation_reaches_the_other_instance
);
