//! Local validation of Latchkey access tokens (RFC 9068) against the issuer's JWKS,
//! as a resource server does it. Shared by the examples; not part of Latchkey.

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// Checks access tokens for one audience (this resource server) from one issuer.
pub struct Verifier {
    issuer: String,
    audience: String,
    jwks: JwksCache,
}

/// Why a token was not accepted; shown to the caller in `error_description`.
#[derive(Debug)]
pub struct Rejected(pub String);

impl Verifier {
    /// Finds the issuer's JWKS through its RFC 8414 metadata (path-inserted for an
    /// issuer with a path) and fetches it once.
    pub async fn discover(issuer: &str, audience: &str) -> Result<Self, String> {
        let http = reqwest::Client::new();
        let parsed = url::Url::parse(issuer).map_err(|e| format!("issuer: {e}"))?;
        let path = parsed.path().trim_end_matches('/');
        let metadata_url = format!(
            "{}/.well-known/oauth-authorization-server{path}",
            parsed.origin().ascii_serialization()
        );
        let meta: Value = http
            .get(&metadata_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("{metadata_url}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("{metadata_url}: {e}"))?;
        if meta["issuer"] != issuer {
            return Err(format!("{metadata_url} names another issuer"));
        }
        let url = meta["jwks_uri"]
            .as_str()
            .ok_or("the issuer's metadata has no jwks_uri")?
            .to_owned();
        let (set, max_age) = JwksCache::fetch(&http, &url).await?;
        Ok(Verifier {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            jwks: JwksCache {
                http,
                url,
                state: RwLock::new((set, Instant::now(), max_age)),
                last_forced: RwLock::new(None),
            },
        })
    }

    /// The claims of `token` if it is an access token from our issuer, for our
    /// audience, unexpired, and signed by one of the issuer's published keys.
    pub async fn verify(&self, token: &str) -> Result<Value, Rejected> {
        let no = |why: &str| Rejected(why.to_owned());
        let header = decode_header(token).map_err(|_| no("malformed token"))?;
        // RFC 9068 §4: only access tokens, never ID tokens or other JWTs.
        if header.typ.as_deref() != Some("at+jwt") {
            return Err(no("not an access token"));
        }
        let kid = header.kid.ok_or_else(|| no("no kid"))?;
        let jwk = self.jwks.key(&kid).await.map_err(Rejected)?;
        // The algorithm comes from the key we trust, never from the token's header.
        let alg: Algorithm = jwk
            .common
            .key_algorithm
            .and_then(|a| a.to_string().parse().ok())
            .ok_or_else(|| no("key without an algorithm"))?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| no("unusable key"))?;
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.issuer]);
        // RFC 8707: a token minted for another resource must not work here.
        validation.set_audience(&[&self.audience]);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        decode::<Value>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| Rejected(e.to_string()))
    }
}

/// The bearer token of an `Authorization` header value, if it carries one.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Whether the token's `scope` claim includes `scope`.
pub fn has_scope(claims: &Value, scope: &str) -> bool {
    claims["scope"]
        .as_str()
        .is_some_and(|s| s.split(' ').any(|s| s == scope))
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

    async fn key(&self, kid: &str) -> Result<Jwk, String> {
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
