//! CORS for the endpoints that browser-based clients call with `fetch`: a
//! single-page app redeeming its code, a web MCP client reading metadata and
//! registering itself. Without it a browser hides those answers from the page.
//!
//! Only public protocol endpoints take part — discovery, JWKS, token, revocation,
//! UserInfo, registration, the scope list — and every origin may call them, with
//! `Access-Control-Allow-Origin: *` and never `Allow-Credentials`: a browser then
//! sends no cookies, and none of these endpoints looks at cookies; what they need
//! (a code and verifier, a token, a client's credentials) is in the request itself.
//! Pages (sign-in, consent, settings), introspection (for resource servers, not
//! browsers) and the management API get no CORS headers, so a foreign page cannot
//! read them.

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};

/// Whether browsers on other origins may call `path`.
pub fn is_public(path: &str) -> bool {
    path.starts_with("/.well-known/")
        || path.starts_with("/oauth/register/")
        || matches!(
            path,
            "/oauth/token"
                | "/oauth/par"
                | "/oauth/revoke"
                | "/oauth/userinfo"
                | "/oauth/register"
                | "/oauth/scopes"
        )
}

/// Request headers a preflight may ask for: credentials and form or JSON bodies,
/// the version header MCP clients send with their discovery requests, and DPoP
/// proofs (RFC 9449: browser apps are the public clients that need them most).
const ALLOWED_HEADERS: &str = "authorization, content-type, mcp-protocol-version, dpop";
/// Response headers the page may read beyond the safelisted ones: the bearer
/// challenge (RFC 6750 §3), a rate limit's wait, and the id of a failed request.
const EXPOSED_HEADERS: &str = "www-authenticate, retry-after, x-request-id, dpop-nonce";
/// How long a browser may reuse a preflight's answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "86400";

pub async fn public_cors<E: Endpoint>(ep: E, req: Request) -> poem::Result<Response> {
    if !req.headers().contains_key(header::ORIGIN) || !is_public(req.uri().path()) {
        return ep.call(req).await.map(IntoResponse::into_response);
    }
    if req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let mut resp = Response::builder()
            .status(StatusCode::NO_CONTENT)
            .header(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "GET, POST, PUT, DELETE",
            )
            .header(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS)
            .header(header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE)
            .finish();
        allow_any_origin(&mut resp);
        return Ok(resp);
    }
    // Errors too: a page must be able to read why its request failed.
    let mut resp = match ep.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(e) => e.into_response(),
    };
    allow_any_origin(&mut resp);
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
    Ok(resp)
}

fn allow_any_origin(resp: &mut Response) {
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}

#[cfg(test)]
mod tests {
    use super::is_public;

    #[test]
    fn public_paths() {
        for p in [
            "/.well-known/openid-configuration",
            "/.well-known/jwks.json",
            "/oauth/token",
            "/oauth/register/abc",
            "/oauth/userinfo",
        ] {
            assert!(is_public(p), "{p}");
        }
        for p in [
            "/oauth/authorize",
            "/oauth/introspect",
            "/oauth/logout",
            "/login",
            "/settings/apps",
            "/api/apps",
            "/oauth/tokens",
        ] {
            assert!(!is_public(p), "{p}");
        }
    }
}
