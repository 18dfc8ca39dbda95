//! A resource server that accepts Latchkey access tokens, validating them locally
//! against the issuer's JWKS — the way the README's guide describes.
//!
//! Run Latchkey (`cargo run --release -- serve`), then:
//!
//! ```sh
//! cargo run --example resource_server
//! TOKEN=$(curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials \
//!   -d scope=profile http://127.0.0.1:8080/oauth/token | jq -r .access_token)
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:9000/hello
//! ```
//!
//! Settings (environment): `ISSUER` (default http://127.0.0.1:8080), `AUDIENCE`
//! (default: the issuer), `REQUIRED_SCOPE` (default `profile`), `BIND`
//! (default 127.0.0.1:9000).

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use poem::http::StatusCode;
use poem::web::Data;
use poem::{EndpointExt, Request, Response, Route, get, handler};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

struct Config {
    issuer: String,
    audience: String,
    required_scope: String,
}

/// The issuer's JWKS, cached as long as its `Cache-Control: max-age` allows, and
/// refetched early — at most once every 10 s — when a token names an unknown `kid`
/// (a key published after our last fetch).
struct JwksCache {
    http: reqwest::Client,
    url: String,
    state: RwLock<(JwkSet, Instant, Duration)>,
    last_forced: RwLock<Option<Instant>>,
}

impl JwksCache {
    async fn fetch(http: &reqwest::Client, url: &str) -> Result<(JwkSet, Duration), String> {
        let resp = http.get(url).send().await.map_err(|e| e.to_string())?;
        let max_age = resp
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split("max-age=").nth(1))
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(300);
        let set = resp.json().await.map_err(|e| e.to_string())?;
        Ok((set, Duration::from_secs(max_age)))
    }

    async fn key(&self, kid: &str) -> Result<jsonwebtoken::jwk::Jwk, String> {
        {
            let state = self.state.read().await;
            if state.1.elapsed() < state.2
                && let Some(jwk) = state.0.find(kid)
            {
                return Ok(jwk.clone());
            }
        }
        // Stale, or an unknown kid: refetch, but not more than once per 10 s for
        // unknown kids, so junk tokens cannot make us hammer the issuer.
        let stale = {
            let state = self.state.read().await;
            state.1.elapsed() >= state.2
        };
        if !stale {
            let mut last = self.last_forced.write().await;
            if last.is_some_and(|t| t.elapsed() < Duration::from_secs(10)) {
                return Err(format!("unknown key {kid}"));
            }
            *last = Some(Instant::now());
        }
        let (set, max_age) = Self::fetch(&self.http, &self.url).await?;
        let jwk = set.find(kid).cloned();
        *self.state.write().await = (set, Instant::now(), max_age);
        jwk.ok_or_else(|| format!("unknown key {kid}"))
    }
}

fn unauthorized(error: &str, description: &str) -> Response {
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(
            "WWW-Authenticate",
            format!(r#"Bearer error="{error}", error_description="{description}""#),
        )
        .body(description.to_owned())
}

async fn check(req: &Request, config: &Config, jwks: &JwksCache) -> Result<Value, Response> {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("invalid_request", "send a bearer token"))?;
    let invalid = |why: &str| unauthorized("invalid_token", why);
    let header = decode_header(token).map_err(|_| invalid("malformed token"))?;
    // RFC 9068 §4: only access tokens, never ID tokens or other JWTs.
    if header.typ.as_deref() != Some("at+jwt") {
        return Err(invalid("not an access token"));
    }
    let kid = header.kid.ok_or_else(|| invalid("no kid"))?;
    let jwk = jwks.key(&kid).await.map_err(|e| invalid(&e))?;
    // The algorithm comes from the key we trust, never from the token's header.
    let alg: Algorithm = jwk
        .common
        .key_algorithm
        .and_then(|a| a.to_string().parse().ok())
        .ok_or_else(|| invalid("key without an algorithm"))?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| invalid("unusable key"))?;
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[&config.issuer]);
    validation.set_audience(&[&config.audience]);
    validation.leeway = 5;
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = decode::<Value>(token, &key, &validation)
        .map_err(|e| invalid(&e.to_string()))?
        .claims;
    let scopes = claims["scope"].as_str().unwrap_or("");
    if !scopes.split(' ').any(|s| s == config.required_scope) {
        return Err(Response::builder()
            .status(StatusCode::FORBIDDEN)
            .header(
                "WWW-Authenticate",
                format!(
                    r#"Bearer error="insufficient_scope", scope="{}""#,
                    config.required_scope
                ),
            )
            .body("insufficient scope"));
    }
    Ok(claims)
}

#[handler]
async fn hello(req: &Request, Data(ctx): Data<&Arc<(Config, JwksCache)>>) -> Response {
    match check(req, &ctx.0, &ctx.1).await {
        Ok(claims) => Response::builder().body(format!(
            "hello, {} (client {})\n",
            claims["sub"].as_str().unwrap_or("?"),
            claims["client_id"].as_str().unwrap_or("?")
        )),
        Err(resp) => resp,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    let issuer = env("ISSUER", "http://127.0.0.1:8080");
    let config = Config {
        audience: env("AUDIENCE", &issuer),
        required_scope: env("REQUIRED_SCOPE", "profile"),
        issuer: issuer.clone(),
    };
    let http = reqwest::Client::new();
    // Discover the JWKS URL from the issuer's metadata rather than guessing it.
    let meta: Value = http
        .get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .send()
        .await?
        .json()
        .await?;
    let url = meta["jwks_uri"].as_str().ok_or("no jwks_uri")?.to_owned();
    let (set, max_age) = JwksCache::fetch(&http, &url).await?;
    let jwks = JwksCache {
        http,
        url,
        state: RwLock::new((set, Instant::now(), max_age)),
        last_forced: RwLock::new(None),
    };
    let bind = env("BIND", "127.0.0.1:9000");
    println!("resource server on http://{bind}/hello, trusting {issuer}");
    let app = Route::new()
        .at("/hello", get(hello))
        .data(Arc::new((config, jwks)));
    poem::Server::new(poem::listener::TcpListener::bind(bind))
        .run(app)
        .await?;
    Ok(())
}
