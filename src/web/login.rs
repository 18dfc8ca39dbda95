//! `GET/POST /login`, `POST /logout`, and the small signed-in home page at `/`.

use super::session::{self, LOGIN_CSRF_COOKIE};
use super::{error_page, is_local_path, render};
use crate::http::payloads::MAX_BODY_BYTES;
use crate::oauth::form::FormParams;
use crate::pages::views::{ErrorPage, LoginPage};
use crate::random::url_token;
use crate::services::audit::{Actor, Event};
use crate::services::state::AppState;
use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{Body, Request, Response, handler};

/// Reads a form body (bounded); `None` when it is too large or not a valid form.
pub async fn read_form(body: Body) -> Option<FormParams> {
    let bytes = body.into_bytes_limit(MAX_BODY_BYTES).await.ok()?;
    FormParams::parse(&bytes).ok()
}

fn query_params(req: &Request) -> FormParams {
    FormParams::parse(req.uri().query().unwrap_or("").as_bytes()).unwrap_or_default()
}

fn safe_next(raw: Option<&str>) -> String {
    raw.filter(|n| is_local_path(n))
        .unwrap_or("/account")
        .to_owned()
}

pub fn see_other(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .header(header::CACHE_CONTROL, "no-store")
        .finish()
}

fn login_form(
    state: &AppState,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<&str>,
    again: bool,
) -> Response {
    let csrf = url_token::<16>();
    let page = LoginPage {
        next: next.to_owned(),
        username: username.to_owned(),
        error: error.map(str::to_owned),
        csrf_token: csrf.clone(),
        again,
    };
    let mut resp = render(state, status, "login.html", None, &page);
    // Login CSRF: the form must come from a page this browser loaded from us
    // (double-submit: the hidden field must equal this cookie).
    if let Ok(v) = session::set_cookie(state, LOGIN_CSRF_COOKIE, &csrf, "/login", 3600).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `GET /login`. A signed-in person goes straight on to `next`, unless an app
/// asked them to sign in afresh (`prompt=login`); `login_hint` pre-fills the
/// username.
#[handler]
pub async fn login_page(req: &Request, Data(state): Data<&AppState>) -> Response {
    let params = query_params(req);
    let field = |name: &str| params.single(name).ok().flatten();
    let next = safe_next(field("next"));
    let again = field("prompt") == Some("login");
    let hint = field("login_hint")
        .and_then(crate::oauth::authorize::login_hint)
        .unwrap_or("");
    match session::current(state, req).await {
        Ok(Some(s)) if again => {
            let username = if hint.is_empty() {
                &s.user.username
            } else {
                hint
            };
            login_form(state, StatusCode::OK, &next, username, None, true)
        }
        Ok(Some(_)) => see_other(&next),
        Ok(None) => login_form(state, StatusCode::OK, &next, hint, None, false),
        Err(e) => internal(state, e),
    }
}

/// `POST /login`
#[handler]
pub async fn login_submit(req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let Some(form) = read_form(body).await else {
        return error_page(
            state,
            None,
            ErrorPage::new(
                StatusCode::BAD_REQUEST,
                "The sign-in form could not be read",
                "What your browser sent was not a sign-in form this server understands.",
                "Go back, reload the sign-in page and try again.",
            ),
        );
    };
    let field = |name: &str| form.single(name).ok().flatten();
    let next = safe_next(field("next"));
    let username = field("username").unwrap_or("").to_owned();
    let expected = session::cookie(req, LOGIN_CSRF_COOKIE).unwrap_or("");
    if expected.is_empty() || !session::csrf_matches(expected, field("csrf_token")) {
        return login_form(
            state,
            StatusCode::FORBIDDEN,
            &next,
            &username,
            Some("This sign-in form expired. Please try again."),
            false,
        );
    }
    // Per username, so guessing one account's password from many addresses is slow
    // too (the per-address limit ran before this handler).
    if let Err(retry) = state
        .limits
        .login
        .check(&format!("user:{}", username.to_lowercase()))
    {
        return crate::http::limits::limited(req, retry.seconds());
    }
    let password = field("password").unwrap_or("").to_owned();
    match crate::services::users::authenticate(&state.db, &username, password).await {
        // A sign-in replaces any session this browser had (signing in again for
        // `prompt=login`, or as someone else): the old one ends, and the new one
        // has a fresh id, so a session id planted before sign-in is worth nothing.
        Ok(Some(user)) => match async {
            session::end(state, req).await?;
            session::start(state, &user.id).await
        }
        .await
        {
            Ok([cookie, csrf_cookie]) => {
                state.metrics.sign_in(true);
                state
                    .audit(
                        Event::new("sign_in.success", Actor::User(&user.id))
                            .subject(&user.id)
                            .address(crate::http::limits::caller_address(state, req)),
                    )
                    .await;
                tracing::info!(user_id = %user.id, "signed in");
                let mut resp = see_other(&next);
                for value in [
                    cookie,
                    csrf_cookie,
                    session::clear_cookie(state, LOGIN_CSRF_COOKIE, "/login"),
                ] {
                    if let Ok(v) = value.parse() {
                        resp.headers_mut().append(header::SET_COOKIE, v);
                    }
                }
                resp
            }
            Err(e) => internal(state, e),
        },
        // One message for unknown user and wrong password.
        Ok(None) => {
            state.metrics.sign_in(false);
            state
                .audit(
                    Event::new("sign_in.failure", Actor::Anonymous)
                        .address(crate::http::limits::caller_address(state, req))
                        .detail("username", username.as_str()),
                )
                .await;
            tracing::info!("failed sign-in");
            login_form(
                state,
                StatusCode::UNAUTHORIZED,
                &next,
                &username,
                Some("Incorrect username or password."),
                false,
            )
        }
        Err(e) => internal(state, e),
    }
}

/// `POST /logout` (needs the session's CSRF token). Leads to sign-in, and after
/// it to the form's `next` when that is a page here: signing out of a consent page
/// keeps the authorization request for the next person to sign in.
#[handler]
pub async fn logout(req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let form = read_form(body).await.unwrap_or_default();
    match session::current(state, req).await {
        Ok(Some(signed_in)) => {
            let submitted = form.single("csrf_token").ok().flatten();
            if !session::csrf_matches(&signed_in.session.csrf_token, submitted) {
                return error_page(
                    state,
                    Some(signed_in.view("/account")),
                    ErrorPage::new(
                        StatusCode::FORBIDDEN,
                        "Sign-out refused",
                        "The sign-out request did not come from a page of this server, so you are still signed in.",
                        "Use the Sign out button on this page.",
                    ),
                );
            }
            if let Err(e) = session::end(state, req).await {
                return internal(state, e);
            }
            tracing::info!(user_id = %signed_in.user.id, "signed out");
        }
        Ok(None) => {}
        Err(e) => return internal(state, e),
    }
    let login = match form.single("next").ok().flatten() {
        Some(next) if is_local_path(next) => super::login_url(next),
        _ => "/login".to_owned(),
    };
    let mut resp = see_other(&login);
    session::clear_session_cookies(state, &mut resp);
    resp
}

/// `GET /account`: who is signed in, with links to the settings pages.
#[handler]
pub async fn home(req: &Request, Data(state): Data<&AppState>) -> Response {
    match session::current(state, req).await {
        Ok(Some(s)) => render(
            state,
            StatusCode::OK,
            "account.html",
            Some(s.view("/account")),
            &serde_json::json!({}),
        ),
        Ok(None) => see_other("/login"),
        Err(e) => internal(state, e),
    }
}

/// Logs an infrastructure failure once and shows a page without details.
pub fn internal(state: &AppState, e: impl std::fmt::Display) -> Response {
    tracing::error!(request_id = %crate::request_id::request_id(), error = %e, "page failed");
    error_page(
        state,
        None,
        ErrorPage::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The server could not complete the request.",
            "Please try again in a moment. If it keeps happening, contact support with the request id below.",
        ),
    )
}
