//! `GET/POST /login`, `POST /logout`, and the small signed-in home page at `/`.

use super::session::{self, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use super::{error_page, esc, is_local_path, page};
use crate::app::AppState;
use crate::http::payloads::MAX_BODY_BYTES;
use crate::oauth::form::FormParams;
use crate::random::url_token;
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
) -> Response {
    let csrf = url_token::<16>();
    let error_html = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, esc(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<h1>Sign in</h1>
<p class="lead">Use your account on this server.</p>
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="{username}" autocomplete="username" autocapitalize="none" required autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
{error_html}
<div class="actions"><button class="primary" type="submit">Sign in</button></div>
</form>"#,
        next = esc(next),
        username = esc(username),
    );
    let mut resp = page(status, "Sign in", &body);
    // Login CSRF: the form must come from a page this browser loaded from us
    // (double-submit: the hidden field must equal this cookie).
    if let Ok(v) = session::set_cookie(state, LOGIN_CSRF_COOKIE, &csrf, "/login", 3600).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `GET /login`
#[handler]
pub async fn login_page(req: &Request, Data(state): Data<&AppState>) -> Response {
    let params = query_params(req);
    let next = safe_next(params.single("next").ok().flatten());
    match session::current(state, req).await {
        Ok(Some(_)) => see_other(&next),
        Ok(None) => login_form(state, StatusCode::OK, &next, "", None),
        Err(e) => internal(e),
    }
}

/// `POST /login`
#[handler]
pub async fn login_submit(req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let Some(form) = read_form(body).await else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "The sign-in form could not be read.",
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
    match crate::users::authenticate(&state.db, &username, password).await {
        Ok(Some(user)) => match session::start(state, &user.id).await {
            Ok([cookie, csrf_cookie]) => {
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
            Err(e) => internal(e),
        },
        // One message for unknown user and wrong password.
        Ok(None) => {
            tracing::info!("failed sign-in");
            login_form(
                state,
                StatusCode::UNAUTHORIZED,
                &next,
                &username,
                Some("Incorrect username or password."),
            )
        }
        Err(e) => internal(e),
    }
}

/// `POST /logout` (needs the session's CSRF token).
#[handler]
pub async fn logout(req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let form = read_form(body).await.unwrap_or_default();
    match session::current(state, req).await {
        Ok(Some(signed_in)) => {
            let submitted = form.single("csrf_token").ok().flatten();
            if !session::csrf_matches(&signed_in.session.csrf_token, submitted) {
                return error_page(
                    StatusCode::FORBIDDEN,
                    "Sign-out refused",
                    "The request did not come from this server's page.",
                );
            }
            if let Err(e) = session::end(state, req).await {
                return internal(e);
            }
        }
        Ok(None) => {}
        Err(e) => return internal(e),
    }
    let mut resp = see_other("/login");
    for name in [SESSION_COOKIE, session::CSRF_COOKIE] {
        if let Ok(v) = session::clear_cookie(state, name, "/").parse() {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// `GET /account`: who is signed in, with a sign-out button.
#[handler]
pub async fn home(req: &Request, Data(state): Data<&AppState>) -> Response {
    match session::current(state, req).await {
        Ok(Some(s)) => page(
            StatusCode::OK,
            "Signed in",
            &format!(
                r#"<h1>Signed in as {}</h1>
<p class="lead">Applications you authorize will send you back here to approve them.</p>
<p><a href="/settings/apps">Your apps</a> · <a href="/settings/authorized">Authorized apps</a></p>
<form method="post" action="/logout">
<input type="hidden" name="csrf_token" value="{}">
<div class="actions"><button type="submit">Sign out</button></div>
</form>"#,
                esc(&s.user.username),
                esc(&s.session.csrf_token)
            ),
        ),
        Ok(None) => see_other("/login"),
        Err(e) => internal(e),
    }
}

/// Logs an infrastructure failure once and shows a page without details.
pub fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "page failed");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The server could not complete the request. Please try again.",
    )
}
