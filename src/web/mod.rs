//! The pages a person sees: sign-in, consent, settings, errors. Server-rendered
//! from the templates in `templates/` (see `pages`), with the operator's brand.

pub mod end_session;
pub mod login;
pub mod session;
pub mod settings;

use crate::pages::SignedInView;
use crate::pages::views::ErrorPage;
use crate::services::state::AppState;
use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Response, handler};
use serde::Serialize;

/// A page from `template` for `page`, as the person `who` (if signed in) sees it.
pub fn render<P: Serialize>(
    state: &AppState,
    status: StatusCode,
    template: &str,
    who: Option<SignedInView<'_>>,
    page: &P,
) -> Response {
    state.pages.respond(status, template, who.as_ref(), page)
}

impl ErrorPage {
    pub fn new(status: StatusCode, title: &str, message: &str, advice: &str) -> Self {
        Self {
            status: status.as_u16(),
            title: title.to_owned(),
            message: message.to_owned(),
            advice: advice.to_owned(),
            detail: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// An error page, with the request id the log line carries.
pub fn error_page(state: &AppState, who: Option<SignedInView<'_>>, page: ErrorPage) -> Response {
    let status = StatusCode::from_u16(page.status).unwrap_or(StatusCode::BAD_REQUEST);
    render(state, status, "error.html", who, &page)
}

/// `GET /assets/latchkey.css`: built at start from the brand's accent colour. Its
/// URL carries a digest of its content, so it can be cached for long.
#[handler]
pub fn stylesheet(Data(state): Data<&AppState>) -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=86400")
        .body(state.pages.stylesheet.clone())
}

/// `GET /brand/{name}`: a file of `brand_dir`, from memory.
#[handler]
pub fn brand_asset(Path(name): Path<String>, Data(state): Data<&AppState>) -> Response {
    match state.pages.asset(&name) {
        Some(asset) => Response::builder()
            .content_type(asset.content_type)
            .header(header::CACHE_CONTROL, "public, max-age=3600")
            // An SVG opened directly must not run scripts on this origin.
            .header(
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            )
            .body(asset.bytes.clone()),
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .content_type("text/plain; charset=utf-8")
            .body("no such file"),
    }
}

/// The sign-in page, leading on to `next` (a path on this server) afterwards.
pub fn login_url(next: &str) -> String {
    login_url_for(next, false, None)
}

/// The sign-in page for an authorization request: `again` asks a signed-in person
/// to sign in afresh (`prompt=login`, `max_age`); `hint` pre-fills the username
/// (`login_hint`).
pub fn login_url_for(next: &str, again: bool, hint: Option<&str>) -> String {
    let enc = |v: &str| {
        percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let mut url = format!("/login?next={}", enc(next));
    if again {
        url.push_str("&prompt=login");
    }
    if let Some(h) = hint {
        url.push_str("&login_hint=");
        url.push_str(&enc(h));
    }
    url
}

/// Is `next` a path on this server? Only those are followed after sign-in, so the
/// login page cannot be used to send people elsewhere (an open redirect).
pub fn is_local_path(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 4096
        && !next.chars().any(|c| c.is_control() || c == '\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_only() {
        assert!(is_local_path("/oauth/authorize?client_id=x"));
        assert!(!is_local_path("//evil.example/"));
        assert!(!is_local_path("/\\evil.example"));
        assert!(!is_local_path("https://evil.example/"));
        assert!(!is_local_path("/a\nb"));
        assert!(!is_local_path(""));
    }
}
