//! Key rotation on a live server: a resource server that caches the JWKS exactly as
//! `Cache-Control` allows never meets a token it cannot verify.
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::{Backend, TestApp};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use latchkey::clock::Clock;
use latchkey::keys::Alg;
use serde_json::Value;
use std::time::Duration;

/// A resource server's JWKS cache: refetched only when `max-age` (by the test clock)
/// has passed — never on an unknown kid, so a miss is a real failure.
struct ResourceServer {
    jwks: JwkSet,
    fetched_at: i64,
    max_age: i64,
}

impl ResourceServer {
    async fn new(app: &TestApp) -> Self {
        let (jwks, max_age) = fetch(app).await;
        Self {
            jwks,
            fetched_at: app.clock.now(),
            max_age,
        }
    }

    async fn verify(&mut self, app: &TestApp, token: &str) -> Result<Value, String> {
        if app.clock.now() - self.fetched_at >= self.max_age {
            let (jwks, max_age) = fetch(app).await;
            self.jwks = jwks;
            self.max_age = max_age;
            self.fetched_at = app.clock.now();
        }
        let header = decode_header(token).map_err(|e| e.to_string())?;
        let kid = header.kid.ok_or("no kid")?;
        let jwk = self
            .jwks
            .find(&kid)
            .ok_or_else(|| format!("unknown kid {kid}"))?;
        let alg: Algorithm = jwk
            .common
            .key_algorithm
            .unwrap()
            .to_string()
            .parse()
            .unwrap();
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&app.state.settings.issuer]);
        validation.set_audience(&[&app.base]);
        validation.validate_exp = false;
        let data = decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .map_err(|e| e.to_string())?;
        Ok(data.claims)
    }
}

async fn fetch(app: &TestApp) -> (JwkSet, i64) {
    let resp = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    let cache = resp.headers()["cache-control"].to_str().unwrap().to_owned();
    let max_age: i64 = cache.split("max-age=").nth(1).unwrap().parse().unwrap();
    (resp.json().await.unwrap(), max_age)
}

async fn kids(app: &TestApp) -> Vec<String> {
    let (jwks, _) = fetch(app).await;
    jwks.keys
        .iter()
        .map(|k| k.common.key_id.clone().unwrap())
        .collect()
}

/// Lets the server's key watcher (polling every 50 ms in tests) catch up.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn rotation_and_retirement_never_fail_a_verification(backend: Backend) {
    let app = TestApp::builder()
        // Keys outlive the longest-lived token they sign: ID tokens as long as access tokens here.
        .args(|a| {
            a.access_token_ttl = Some(600);
            a.id_token_ttl = Some(600);
        })
        .spawn(&backend)
        .await;
    let client = app.client(None).await;
    let mut rs = ResourceServer::new(&app).await;
    let old_kid = app.state.keys.get().active().kid.clone();
    let mut issued: Vec<(String, String)> = Vec::new(); // (kid, token)

    let step =
        async |app: &TestApp, rs: &mut ResourceServer, issued: &mut Vec<(String, String)>| {
            let body: Value = app
                .token_basic(&client, &[("grant_type", "client_credentials")])
                .await
                .json()
                .await
                .unwrap();
            let token = body["access_token"].as_str().unwrap().to_owned();
            let kid = decode_header(&token).unwrap().kid.unwrap();
            // Every token ever issued and not yet expired must verify, at every moment.
            issued.push((kid, token));
            let now = app.clock.now();
            for (_, t) in issued.iter() {
                let claims = rs
                    .verify(app, t)
                    .await
                    .unwrap_or_else(|e| panic!("verification failed at {now}: {e}"));
                assert_eq!(claims["iss"], app.state.settings.issuer.as_str());
            }
            issued.retain(|(_, t)| {
                let exp = rs_exp(t);
                exp > now
            });
        };

    for _ in 0..3 {
        step(&app, &mut rs, &mut issued).await;
    }
    // Rotate with the propagation delay the CLI uses: published now, signing in 360 s.
    let new_kid = latchkey::keys::rotate(
        &app.state.settings.keys_dir,
        Alg::Es256,
        app.clock.now() + 360,
        None,
    )
    .unwrap();
    settle().await;
    assert_eq!(
        kids(&app).await.len(),
        2,
        "the next key is published before it signs"
    );
    assert_eq!(
        app.state.keys.get().active().kid,
        old_kid,
        "and does not sign yet"
    );
    for _ in 0..8 {
        app.clock.advance(60);
        settle().await;
        step(&app, &mut rs, &mut issued).await;
    }
    assert_eq!(
        app.state.keys.get().active().kid,
        new_kid,
        "the new key signs after the delay"
    );
    assert!(issued.iter().any(|(k, _)| k == &old_kid) && issued.iter().any(|(k, _)| k == &new_kid));

    // The old key stays published until its last token expires, then leaves.
    for _ in 0..12 {
        app.clock.advance(60);
        settle().await;
        step(&app, &mut rs, &mut issued).await;
    }
    assert_eq!(
        kids(&app).await,
        vec![new_kid.clone()],
        "the superseded key expired from JWKS"
    );

    // Retiring the only signing key is refused; retiring a key with a successor works.
    let err = latchkey::keys::retire(
        &app.state.settings.keys_dir,
        &new_kid,
        app.clock.now(),
        600,
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("keys rotate"), "{err}");
}

fn rs_exp(token: &str) -> i64 {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["exp"].as_i64().unwrap()
}

both_backends!(rotation_and_retirement_never_fail_a_verification);
