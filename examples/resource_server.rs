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

#[path = "shared/verify.rs"]
mod verify;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{EndpointExt, Request, Response, Route, get, handler};
use serde_json::Value;
use std::sync::Arc;
use verify::{Verifier, bearer, has_scope};

struct Config {
    required_scope: String,
    verifier: Verifier,
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

async fn check(req: &Request, config: &Config) -> Result<Value, Response> {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let token =
        bearer(header).ok_or_else(|| unauthorized("invalid_request", "send a bearer token"))?;
    let claims = config
        .verifier
        .verify(token)
        .await
        .map_err(|e| unauthorized("invalid_token", &e.0))?;
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
    let config = Config {
        required_scope: env("REQUIRED_SCOPE", "profile"),
        verifier: Verifier::discover(&issuer, &env("AUDIENCE", &issuer)).await?,
    };
    let bind = env("BIND", "127.0.0.1:9000");
    println!("resource server on http://{bind}/hello, trusting {issuer}");
    let app = Route::new().at("/hello", get(hello)).data(Arc::new(config));
    poem::Server::new(poem::listener::TcpListener::bind(bind))
        .run(app)
        .await?;
    Ok(())
}
