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
//! A DPoP-bound token (`token_type: DPoP`) is accepted only as `Authorization:
//! DPoP` with a proof by its key (`examples/shared/verify.rs` checks it).
//!
//! Settings (environment): `ISSUER` (default http://127.0.0.1:8080), `AUDIENCE`
//! (default: the issuer), `REQUIRED_SCOPE` (default `profile`), `BIND`
//! (default 127.0.0.1:9000), `PUBLIC_URL` (default `http://` + `BIND`).

#[path = "shared/verify.rs"]
mod verify;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{EndpointExt, Request, Response, Route, get, handler};
use serde_json::Value;
use std::sync::Arc;
use verify::{Verifier, has_scope};

struct Config {
    /// This server's own URL as clients call it (DPoP proofs name it in `htu`).
    public_url: String,
    required_scope: String,
    verifier: Verifier,
}

/// A 401 with both challenges, the error on the scheme that failed.
fn unauthorized(error: &str, description: &str, dpop: bool) -> Response {
    let description = description.replace(['"', '\\'], "'");
    let detail = format!(r#"error="{error}", error_description="{description}""#);
    let (bearer, dpop) = if dpop {
        (
            "Bearer".to_owned(),
            format!("DPoP {detail}, algs=\"ES256 PS256 RS256 EdDSA\""),
        )
    } else {
        (
            format!("Bearer {detail}"),
            r#"DPoP algs="ES256 PS256 RS256 EdDSA""#.to_owned(),
        )
    };
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header("WWW-Authenticate", format!("{bearer}, {dpop}"))
        .body(description)
}

async fn check(req: &Request, config: &Config) -> Result<Value, Response> {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let proofs: Vec<&str> = req
        .headers()
        .get_all("dpop")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    // The URL the client called, for the proof's `htu`.
    let url = format!("{}{}", config.public_url, req.uri().path());
    let claims = config
        .verifier
        .verify_request(header, &proofs, req.method().as_str(), &url)
        .await
        .map_err(|e| unauthorized(e.error, &e.description, e.dpop))?;
    if !has_scope(&claims, &config.required_scope) {
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
async fn hello(req: &Request, Data(config): Data<&Arc<Config>>) -> Response {
    match check(req, config).await {
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
    let bind = env("BIND", "127.0.0.1:9000");
    let config = Config {
        public_url: env("PUBLIC_URL", &format!("http://{bind}")),
        required_scope: env("REQUIRED_SCOPE", "profile"),
        verifier: Verifier::discover(&issuer, &env("AUDIENCE", &issuer)).await?,
    };
    println!("resource server on http://{bind}/hello, trusting {issuer}");
    let app = Route::new().at("/hello", get(hello)).data(Arc::new(config));
    poem::Server::new(poem::listener::TcpListener::bind(bind))
        .run(app)
        .await?;
    Ok(())
}
