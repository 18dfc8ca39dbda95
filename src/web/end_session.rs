//! `GET`/`POST /oauth/logout`: OpenID Connect RP-Initiated Logout 1.0.
//!
//! A relying party sends the browser here to end the person's session with
//! Latchkey, naming itself (`id_token_hint`, `client_id`) and where to come back to
//! (`post_logout_redirect_uri`, registered by the client, matched exactly). The
//! session ends at once when the hint proves it (an ID token issued for this very
//! sign-in: same `sub`, same `auth_time`); otherwise the person is asked, because a
//! link anyone can make must not sign people out behind their backs (§2, §6).

use super::login::{internal, read_form, see_other};
use super::session;
use super::{error_page, render};
use crate::oauth::form::FormParams;
use crate::oauth::id_token::IdTokenClaims;
use crate::pages::views::{ErrorPage, LogoutPage, SignedOutPage};
use crate::services::state::AppState;
use crate::store::{self, StoreError};
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, Request, Response, handler};

/// `GET /oauth/logout`
#[handler]
pub async fn end_session_get(req: &Request, Data(state): Data<&AppState>) -> Response {
    match FormParams::parse(req.uri().query().unwrap_or("").as_bytes()) {
        Ok(params) => end_session(state, req, &params, false).await,
        Err(e) => refused(state, &e.description),
    }
}

/// `POST /oauth/logout`: the same request as a form (§2 allows both), or the
/// person's answer on the confirmation page (`confirm=yes` with the CSRF token).
#[handler]
pub async fn end_session_post(req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    match read_form(body).await {
        // An app's own POST comes from another site, so the browser leaves out the
        // SameSite=Lax session cookie: answer with the same request as a GET,
        // which the browser follows as a top-level navigation, cookie included.
        Some(params) if params.single("confirm").ok().flatten().is_none() => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.pairs().iter().filter(|(k, _)| k != "csrf_token"))
                .finish();
            see_other(&format!("/oauth/logout?{query}"))
        }
        Some(params) => end_session(state, req, &params, true).await,
        None => refused(state, "the sign-out form could not be read"),
    }
}

/// The sign-out request cannot be followed: a page, never a redirect (the
/// destination is not trusted).
fn refused(state: &AppState, reason: &str) -> Response {
    tracing::info!(request_id = %crate::request_id::request_id(), reason, "sign-out request refused");
    error_page(
        state,
        None,
        ErrorPage::new(
            StatusCode::BAD_REQUEST,
            "This sign-out link is not valid",
            "The app that sent you here asked to sign you out in a way this server cannot follow, so nothing was changed.",
            "Go back to the app. To sign out here, use Sign out on your account page.",
        )
        .detail(reason.to_owned()),
    )
}

/// A validated sign-out request.
struct SignOut {
    hint: Option<IdTokenClaims>,
    client_name: Option<String>,
    /// The registered URI to send the browser to afterwards, with `state`.
    back_to: Option<String>,
}

/// Why a sign-out request is not followed: the request's fault (shown to the
/// person), or the server's.
enum Invalid {
    Request(String),
    Store(StoreError),
}

impl From<StoreError> for Invalid {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

fn refuse<T>(reason: &str) -> Result<T, Invalid> {
    Err(Invalid::Request(reason.to_owned()))
}

async fn validate(state: &AppState, params: &FormParams) -> Result<SignOut, Invalid> {
    let single = |name: &str| {
        params
            .single(name)
            .map_err(|e| Invalid::Request(e.description.into_owned()))
    };
    let hint_raw = single("id_token_hint")?;
    let client_param = single("client_id")?;
    let uri = single("post_logout_redirect_uri")?;
    let logout_state = single("state")?;
    // §2: the hint must be an ID token this server issued. An access token, or
    // anything else, is refused rather than ignored.
    let hint = match hint_raw {
        None => None,
        Some(raw) => match state
            .keys
            .get()
            .verify_id_token(raw, &state.settings.issuer)
        {
            Some(claims) => Some(claims),
            None => return refuse("id_token_hint is not an ID token issued by this server"),
        },
    };
    let client_id = match (client_param, &hint) {
        (Some(c), Some(h)) if c != h.aud => {
            return refuse("client_id does not match the audience of id_token_hint");
        }
        (Some(c), _) => Some(c),
        (None, Some(h)) => Some(h.aud.as_str()),
        (None, None) => None,
    };
    let client = match client_id {
        Some(id) => match store::clients::find_client(&state.db, id).await? {
            Some(row) => Some(row),
            None => return refuse("there is no application with this client_id"),
        },
        None => None,
    };
    let back_to = match (uri, &client) {
        (None, _) => None,
        (Some(_), None) => {
            return refuse(
                "post_logout_redirect_uri needs id_token_hint or client_id to say whose it is",
            );
        }
        (Some(uri), Some(client)) => {
            // §3.1: the URI must have been registered; exact string match.
            if !client
                .post_logout_redirect_uri_list()?
                .iter()
                .any(|r| r == uri)
            {
                return refuse("post_logout_redirect_uri is not registered for this application");
            }
            let mut url = url::Url::parse(uri)
                .map_err(|e| StoreError::Corrupt(format!("post_logout_redirect_uri: {e}")))?;
            if let Some(s) = logout_state {
                url.query_pairs_mut().append_pair("state", s);
            }
            Some(url.to_string())
        }
    };
    Ok(SignOut {
        hint,
        client_name: client.map(|c| c.name),
        back_to,
    })
}

async fn end_session(
    state: &AppState,
    req: &Request,
    params: &FormParams,
    posted: bool,
) -> Response {
    let request = match validate(state, params).await {
        Ok(r) => r,
        Err(Invalid::Request(reason)) => return refused(state, &reason),
        Err(Invalid::Store(e)) => return internal(state, e),
    };
    let signed_in = match session::current(state, req).await {
        Ok(s) => s,
        Err(e) => return internal(state, e),
    };
    if let Some(s) = &signed_in {
        let proven = request
            .hint
            .as_ref()
            .is_some_and(|h| h.sub == s.user.id && h.auth_time == Some(s.session.created_at));
        let confirmed = posted
            && params.single("confirm").ok().flatten() == Some("yes")
            && session::csrf_matches(
                &s.session.csrf_token,
                params.single("csrf_token").ok().flatten(),
            );
        if !proven && !confirmed {
            let page = LogoutPage {
                client_name: request.client_name,
                params: params
                    .pairs()
                    .iter()
                    .filter(|(k, _)| k != "csrf_token" && k != "confirm")
                    .cloned()
                    .collect(),
                csrf_token: s.session.csrf_token.clone(),
            };
            return render(
                state,
                StatusCode::OK,
                "logout.html",
                Some(s.view("/account")),
                &page,
            );
        }
        if let Err(e) = session::end(state, req).await {
            return internal(state, e);
        }
        tracing::info!(user_id = %s.user.id, "signed out at the relying party's request");
    }
    let mut resp = match request.back_to {
        Some(uri) => see_other(&uri),
        None => render(
            state,
            StatusCode::OK,
            "signed_out.html",
            None,
            &SignedOutPage {
                client_name: request.client_name,
            },
        ),
    };
    session::clear_session_cookies(state, &mut resp);
    resp
}
