//! Local validation of Latchkey access tokens (RFC 9068) against the issuer's JWKS,
//! as a resource server does it — DPoP-bound ones (RFC 9449) with their proof.
//! Shared by the examples; not part of Latchkey.

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// Checks access tokens for one audience (this resource server) from one issuer.
pub struct Verifier {
    issuer: String,
    audience: String,
    jwks: JwksCache,
    /// DPoP proof ids seen, until their `iat` window closes.
    proofs_seen: Mutex<HashMap<String, i64>>,
}

/// A request refused: the RFC 6750 / RFC 9449 error code, a description, and
/// the scheme whose challenge should carry it.
#[derive(Debug)]
pub struct Refusal {
    pub error: &'static str,
    pub description: String,
    pub dpop: bool,
}

/// How far a proof's `iat` may be from our clock, seconds.
const PROOF_WINDOW: i64 = 60;

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
            proofs_seen: Mutex::new(HashMap::new()),
        })
    }

    /// The claims of the token a request presents, checked as it must be sent: a
    /// bearer token as `Authorization: Bearer`; a DPoP-bound one (`cnf.jkt`) as
    /// `Authorization: DPoP` with one `DPoP` proof of `method` and `url` by the
    /// token's key, carrying its hash in `ath`.
    pub async fn verify_request(
        &self,
        authorization: Option<&str>,
        proofs: &[&str],
        method: &str,
        url: &str,
    ) -> Result<Value, Refusal> {
        let refuse = |error, description: &str, dpop| Refusal {
            error,
            description: description.to_owned(),
            dpop,
        };
        let (scheme, token) = authorization
            .and_then(|h| h.split_once(' '))
            .map(|(s, t)| (s.to_ascii_lowercase(), t.trim()))
            .ok_or_else(|| refuse("invalid_request", "send an access token", false))?;
        let claims = self
            .verify(token)
            .await
            .map_err(|e| refuse("invalid_token", &e.0, false))?;
        let jkt = claims["cnf"]["jkt"].as_str();
        match (scheme.as_str(), jkt) {
            ("bearer", None) => Ok(claims),
            ("bearer", Some(_)) => Err(refuse(
                "invalid_token",
                "this token is DPoP-bound: send it as Authorization: DPoP with a proof",
                false,
            )),
            ("dpop", Some(jkt)) => {
                let [proof] = proofs else {
                    return Err(refuse(
                        "invalid_dpop_proof",
                        "send exactly one DPoP proof",
                        true,
                    ));
                };
                self.check_proof(proof, method, url, token, jkt)
                    .map_err(|why| refuse("invalid_dpop_proof", &why, true))?;
                Ok(claims)
            }
            ("dpop", None) => Err(refuse(
                "invalid_token",
                "this token is not DPoP-bound: send it as Authorization: Bearer",
                false,
            )),
            _ => Err(refuse(
                "invalid_request",
                "use the Bearer or DPoP scheme",
                false,
            )),
        }
    }

    /// RFC 9449 §4.3 and §7.1: the proof's header and signature, `htm`, `htu`,
    /// `iat`, `ath`, its key being the token's, and a `jti` not seen before.
    fn check_proof(
        &self,
        proof: &str,
        method: &str,
        url: &str,
        token: &str,
        jkt: &str,
    ) -> Result<(), String> {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = decode_header(proof).map_err(|e| format!("malformed proof: {e}"))?;
        if header.typ.as_deref() != Some("dpop+jwt") {
            return Err("the proof's typ must be dpop+jwt".into());
        }
        if !matches!(
            header.alg,
            Algorithm::ES256 | Algorithm::PS256 | Algorithm::RS256 | Algorithm::EdDSA
        ) {
            return Err("the proof must be signed with an asymmetric algorithm".into());
        }
        let jwk = header.jwk.ok_or("the proof has no jwk")?;
        // jsonwebtoken's Jwk keeps public members only; look at the raw header for
        // private ones, which mean the private key was published.
        let raw: Value = proof
            .split('.')
            .next()
            .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("malformed proof header")?;
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|m| raw["jwk"].get(m).is_some())
        {
            return Err("the proof's jwk holds a private key".into());
        }
        let thumbprint = jwk
            .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
            .map_err(|e| e.to_string())?;
        if thumbprint != jkt {
            return Err("the proof is made with another key than the token's".into());
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("unusable jwk: {e}"))?;
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims::<&str>(&[]);
        let claims = decode::<Value>(proof, &key, &validation)
            .map_err(|e| format!("the proof's signature: {e}"))?
            .claims;
        if claims["htm"] != method {
            return Err(format!("the proof's htm must be {method}"));
        }
        let strip = |u: &str| u.split(['?', '#']).next().unwrap_or_default().to_owned();
        if claims["htu"].as_str().map(strip) != Some(strip(url)) {
            return Err(format!("the proof's htu must be {url}"));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs() as i64;
        let iat = claims["iat"].as_i64().ok_or("the proof has no iat")?;
        if (iat - now).abs() > PROOF_WINDOW {
            return Err("the proof's iat is too far from now".into());
        }
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        if claims["ath"].as_str() != Some(URL_SAFE_NO_PAD.encode(digest.as_ref()).as_str()) {
            return Err("the proof's ath is not the token's hash".into());
        }
        let jti = claims["jti"].as_str().ok_or("the proof has no jti")?;
        let mut seen = self
            .proofs_seen
            .lock()
            .map_err(|_| "proof cache poisoned".to_owned())?;
        seen.retain(|_, until| *until >= now);
        if seen
            .insert(format!("{jkt}:{jti}"), iat + PROOF_WINDOW)
            .is_some()
        {
            return Err("this proof was used before".into());
        }
        Ok(())
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
