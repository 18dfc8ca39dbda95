//! Database outages: a request whose store calls found the database unreachable or
//! unwritable is answered 503 with `Retry-After`, whatever handler it reached.
//!
//! Handlers report store failures as 500 (`Failure::Internal`, error pages); the
//! store notes an outage on the request's task (`store::watch_outage`), and this
//! middleware turns exactly those 500s into 503s, so clients and balancers retry
//! instead of giving up, and nothing else has to tell outages from bugs.

use super::errors::{OAuthErrorBody, Problem};
use super::payloads::ProblemJson;
use crate::services::state::AppState;
use poem::http::{StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::types::ToJSON;

/// Seconds a client is asked to wait before retrying during an outage.
pub const RETRY_AFTER_SECONDS: u64 = 5;

/// The middleware (see the module comment).
pub async fn answer_outages<E: Endpoint>(ep: E, req: Request) -> poem::Result<Response> {
    let path = req.uri().path().to_owned();
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let state = req.data::<AppState>().cloned();
    let (result, outage) = crate::store::watch_outage(ep.call(req)).await;
    let result = result.map(IntoResponse::into_response);
    if !outage {
        return result;
    }
    let status = match &result {
        Ok(resp) => resp.status(),
        Err(e) => e.status(),
    };
    if status != StatusCode::INTERNAL_SERVER_ERROR {
        return result;
    }
    tracing::warn!(
        %path,
        "database unavailable (PostgreSQL unreachable, or the SQLite file read-only or its disk full): answered 503"
    );
    Ok(unavailable(&path, wants_html, state.as_ref()))
}

/// The 503: a page for browsers, the OAuth error shape under `/oauth/`, a problem
/// document elsewhere; always `Retry-After` and `no-store`.
pub fn unavailable(path: &str, wants_html: bool, state: Option<&AppState>) -> Response {
    let detail = format!(
        "the service is temporarily unavailable; retry after {RETRY_AFTER_SECONDS} seconds"
    );
    let resp = match state {
        Some(state) if wants_html => crate::web::error_page(
            state,
            None,
            crate::pages::views::ErrorPage::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "This service cannot reach its data right now.",
                &format!("Wait {RETRY_AFTER_SECONDS} seconds, then try again."),
            ),
        ),
        _ if path.starts_with("/oauth/") => {
            Response::builder().content_type("application/json").body(
                OAuthErrorBody {
                    error: "temporarily_unavailable".to_owned(),
                    error_description: detail,
                }
                .to_json_string(),
            )
        }
        _ => ProblemJson(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service Unavailable",
            Some(detail),
        ))
        .into_response(),
    };
    super::errors::retry_later(resp, StatusCode::SERVICE_UNAVAILABLE, RETRY_AFTER_SECONDS)
}
