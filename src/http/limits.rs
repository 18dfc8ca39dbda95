//! Rate limits at the HTTP boundary: the per-address limit of each limited endpoint,
//! checked before the request is read. Per-client and per-username limits are
//! checked by the handlers, once they know who is asking.

use super::errors::rate_limited_response;
use crate::config::listener::{MAX_HEADER_BYTES, MAX_HEADERS, MAX_URI_BYTES};
use crate::services::limits::{Limiter, address_key, client_address};
use crate::services::state::AppState;
use poem::http::Method;
use poem::{Endpoint, IntoResponse, Request, Response};
use std::net::IpAddr;

/// Refuses requests whose target or headers are larger than any client of ours
/// sends (RFC 9110 §15.5.15, RFC 6585 §5) before any handler sees them: nothing
/// downstream has to be careful with a 100 KB cookie or query string.
pub async fn request_size_limits<E: Endpoint>(ep: E, req: Request) -> poem::Result<Response> {
    use poem::http::StatusCode;
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    let status = if uri_len > MAX_URI_BYTES {
        Some(StatusCode::URI_TOO_LONG)
    } else if req.headers().len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
    } else {
        None
    };
    match status {
        Some(status) => {
            tracing::info!(
                status = status.as_u16(),
                uri_len,
                header_bytes,
                headers = req.headers().len(),
                "request refused for its size"
            );
            let err = poem::Error::from_status(status);
            Ok(super::errors::fallback_error_response(
                req.uri().path(),
                &err,
            ))
        }
        None => ep.call(req).await.map(IntoResponse::into_response),
    }
}

/// The caller's address, through trusted proxies only.
pub fn caller_address(state: &AppState, req: &Request) -> Option<IpAddr> {
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    client_address(peer, &forwarded, &state.settings.trusted_proxies)
}

fn limiter_for<'a>(state: &'a AppState, method: &Method, path: &str) -> Option<&'a Limiter> {
    if method != Method::POST {
        return None;
    }
    let limits = &state.limits;
    match path {
        // A pushed request costs what a token request does, and shares its budget.
        "/oauth/token" | "/oauth/par" => Some(&limits.token),
        "/oauth/register" => Some(&limits.register),
        "/oauth/revoke" => Some(&limits.revoke),
        "/login" => Some(&limits.login),
        _ => None,
    }
}

/// Refuses a request to a limited endpoint when its address is over the limit.
pub async fn address_limits<E: Endpoint>(ep: E, req: Request) -> poem::Result<Response> {
    let refused = req.data::<AppState>().and_then(|state| {
        let limiter = limiter_for(state, req.method(), req.uri().path())?;
        if !limiter.is_on() {
            return None;
        }
        let key = address_key(caller_address(state, &req));
        limiter.check(&key).err()
    });
    if let Some(retry) = refused {
        return Ok(limited(&req, retry.seconds()));
    }
    ep.call(req).await.map(IntoResponse::into_response)
}

/// The 429 for `req`: a page for a person signing in with a browser, JSON otherwise.
pub fn limited(req: &Request, retry_after: u64) -> Response {
    let path = req.uri().path();
    let wants_html = req
        .headers()
        .get(poem::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if path == "/login"
        && wants_html
        && let Some(state) = req.data::<AppState>()
    {
        let page = crate::pages::views::ErrorPage::new(
            poem::http::StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "There were too many sign-in attempts from here or for this account.",
            &format!("Wait {retry_after} seconds, then try again."),
        );
        let mut resp = crate::web::error_page(state, None, page);
        resp.headers_mut()
            .insert(poem::http::header::RETRY_AFTER, retry_after.into());
        return resp;
    }
    rate_limited_response(path, retry_after)
}
