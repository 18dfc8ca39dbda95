//! Browser sessions: a random cookie whose SHA-256 keys a database row, so any
//! instance serves any session and a database copy holds no usable cookie.
//! Sessions end after an idle timeout and an absolute lifetime.

use crate::oauth::types::sha256;
use crate::random::url_token;
use crate::services::state::AppState;
use crate::store::models::{SessionRow, UserRow};
use crate::store::{self, StoreError};
use poem::Request;

pub const SESSION_COOKIE: &str = "lk_session";
pub const LOGIN_CSRF_COOKIE: &str = "lk_login_csrf";
/// The session's CSRF token, readable by scripts on this origin (not HttpOnly) so a
/// browser front-end can send it back as `X-CSRF-Token` with `/api/*` writes. It is
/// useless without the HttpOnly session cookie, and other origins cannot read it.
pub const CSRF_COOKIE: &str = "lk_csrf";

/// Writes to `last_seen_at` at most this often, not on every request.
const TOUCH_EVERY: i64 = 60;

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(poem::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax (so the cookie rides along when the
/// client redirects the browser here, but not on cross-site POSTs), Secure when the
/// issuer is https.
pub fn set_cookie(state: &AppState, name: &str, value: &str, path: &str, max_age: i64) -> String {
    cookie_header(&state.settings.issuer, name, value, path, max_age)
}

fn cookie_header(issuer: &str, name: &str, value: &str, path: &str, max_age: i64) -> String {
    let secure = if issuer.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear_cookie(state: &AppState, name: &str, path: &str) -> String {
    set_cookie(state, name, "", path, 0)
}

/// Adds to `resp` the `Set-Cookie` headers that delete the session and its CSRF
/// cookie (every way of signing out).
pub fn clear_session_cookies(state: &AppState, resp: &mut poem::Response) {
    for name in [SESSION_COOKIE, CSRF_COOKIE] {
        if let Ok(v) = clear_cookie(state, name, "/").parse() {
            resp.headers_mut().append(poem::http::header::SET_COOKIE, v);
        }
    }
}

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: UserRow,
    pub session: SessionRow,
}

impl SignedIn {
    /// How the pages show this person; signing out leads to sign-in, then `next`.
    pub fn view<'a>(&'a self, next: &'a str) -> crate::pages::SignedInView<'a> {
        crate::pages::SignedInView {
            username: &self.user.username,
            name: self.user.name.as_deref(),
            csrf_token: &self.session.csrf_token,
            next,
        }
    }
}

/// The request's live session, if it has one.
pub async fn current(state: &AppState, req: &Request) -> Result<Option<SignedIn>, StoreError> {
    match cookie(req, SESSION_COOKIE) {
        Some(value) => by_cookie(state, value).await,
        None => Ok(None),
    }
}

/// The live session a session cookie value names, if any.
pub async fn by_cookie(state: &AppState, value: &str) -> Result<Option<SignedIn>, StoreError> {
    let id_hash = sha256(value.as_bytes());
    let Some((session, user)) = store::sessions::find_session(&state.db, &id_hash).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    let idle_expired = now >= session.last_seen_at + state.settings.session_idle_timeout;
    // A disabled user's sessions were ended when they were disabled; this covers
    // a session that raced that.
    if now >= session.expires_at || idle_expired || user.disabled {
        store::sessions::delete_session(&state.db, &id_hash).await?;
        return Ok(None);
    }
    if now - session.last_seen_at >= TOUCH_EVERY {
        store::sessions::touch_session(&state.db, &id_hash, now).await?;
    }
    Ok(Some(SignedIn { user, session }))
}

/// Starts a session for `user_id`; returns the `Set-Cookie` values (session, CSRF).
pub async fn start(state: &AppState, user_id: &str) -> Result<[String; 2], StoreError> {
    start_with(state, user_id, true).await
}

/// Starts a session; a non-`persistent` one (a delegated sign-in without
/// `remember`) lasts only as long as a challenge and ends with the authorization
/// it serves.
pub async fn start_with(
    state: &AppState,
    user_id: &str,
    persistent: bool,
) -> Result<[String; 2], StoreError> {
    let value = url_token::<32>();
    let now = state.clock.now();
    let lifetime = if persistent {
        state.settings.session_lifetime
    } else {
        crate::oauth::challenge::CHALLENGE_TTL
    };
    let row = SessionRow {
        id_hash: sha256(value.as_bytes()).to_vec(),
        user_id: user_id.to_owned(),
        csrf_token: url_token::<32>(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + lifetime,
        persistent,
    };
    store::sessions::insert_session(&state.db, &row).await?;
    let csrf =
        set_cookie(state, CSRF_COOKIE, &row.csrf_token, "/", lifetime).replace("; HttpOnly", "");
    Ok([
        set_cookie(state, SESSION_COOKIE, &value, "/", lifetime),
        csrf,
    ])
}

/// Ends the request's session, if any.
pub async fn end(state: &AppState, req: &Request) -> Result<(), StoreError> {
    if let Some(value) = cookie(req, SESSION_COOKIE) {
        store::sessions::delete_session(&state.db, &sha256(value.as_bytes())).await?;
    }
    Ok(())
}

/// Constant-time comparison of a submitted CSRF token with the expected one.
pub fn csrf_matches(expected: &str, submitted: Option<&str>) -> bool {
    submitted.is_some_and(|s| {
        aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), s.as_bytes()).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::cookie_header;

    #[test]
    fn secure_exactly_when_the_issuer_is_https() {
        let https = cookie_header("https://auth.example", "lk_session", "v", "/", 60);
        assert_eq!(
            https,
            "lk_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        let http = cookie_header("http://127.0.0.1:8080", "lk_session", "v", "/", 60);
        assert!(!http.contains("Secure"));
    }
}
