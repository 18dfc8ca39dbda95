//! The browser side of delegated sign-in and consent: sending the person to the
//! product's page with a challenge, and `GET /oauth/authorize/continue`, where the
//! product sends them back with the verifier of its answer (rules and lifecycle:
//! `oauth::challenge`; the product's side: `http::admin::requests`).
//!
//! Each challenge is bound to the browser that started it by the `lk_flow` cookie
//! (its digest is stored): a verifier followed in any other browser is refused, so
//! nobody can sign a victim in to the attacker's account by sending them a link
//! (login CSRF), and a leaked verifier is useless on its own.

use super::{Step, resume};
use crate::oauth::authorize::after_sign_in;
use crate::oauth::challenge::{self, Answer, ChallengeError, Kind};
use crate::oauth::form::FormParams;
use crate::oauth::scope::ScopeSet;
use crate::oauth::types::sha256;
use crate::pages::views::ErrorPage;
use crate::random::url_token;
use crate::services::state::AppState;
use crate::store::models::ChallengeRow;
use crate::store::{self, StoreError};
use crate::web::error_page;
use crate::web::login::{internal, see_other};
use crate::web::session;
use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{Request, Response, handler};

/// The browser binding cookie; sent on `/oauth/authorize` and `/continue` only.
pub const BROWSER_COOKIE: &str = "lk_flow";
const BROWSER_COOKIE_PATH: &str = "/oauth/authorize";

/// What a challenge is made from.
pub struct ChallengeFor<'a> {
    pub kind: Kind,
    /// `login_url` or `consent_url`.
    pub page: &'a str,
    pub params: &'a FormParams,
    pub client_id: &'a str,
    pub scope: &'a ScopeSet,
    /// Consent: the signed-in user; login: the user of a session already here.
    pub user_id: Option<&'a str>,
    /// Consent: the session's digest.
    pub session_hash: Option<&'a [u8]>,
}

/// Stores a new challenge and sends the browser (or, for JSON callers, points
/// them) to the product's page with it.
pub async fn send_to_product(
    state: &AppState,
    req: &Request,
    json: bool,
    c: ChallengeFor<'_>,
) -> Result<Response, StoreError> {
    // One binding value per browser, reused across tabs and challenges.
    let binding = session::cookie(req, BROWSER_COOKIE)
        .filter(|v| v.len() == 43)
        .map_or_else(url_token::<32>, str::to_owned);
    let challenge = url_token::<32>();
    let now = state.clock.now();
    let request = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(c.params.pairs())
        .finish();
    let row = ChallengeRow {
        challenge_hash: sha256(challenge.as_bytes()).to_vec(),
        kind: c.kind.as_str().to_owned(),
        browser_hash: sha256(binding.as_bytes()).to_vec(),
        client_id: c.client_id.to_owned(),
        request,
        scopes: c.scope.to_string(),
        user_id: c.user_id.map(str::to_owned),
        session_hash: c.session_hash.map(<[u8]>::to_vec),
        created_at: now,
        expires_at: now + challenge::CHALLENGE_TTL,
        answered_at: None,
        answer: None,
        verifier_hash: None,
        used_at: None,
    };
    store::challenges::insert_challenge(&state.db, &row).await?;
    let name = match c.kind {
        Kind::Login => "login_challenge",
        Kind::Consent => "consent_challenge",
    };
    // The setting was checked to be an absolute URL at start.
    let target = match url::Url::parse(c.page) {
        Ok(mut u) => {
            u.query_pairs_mut().append_pair(name, &challenge);
            u.to_string()
        }
        Err(_) => format!("{}?{name}={challenge}", c.page),
    };
    tracing::info!(client_id = %c.client_id, kind = c.kind.as_str(), "sent to the product's page with a challenge");
    let mut resp = if json {
        Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .content_type("application/json")
            .header(header::CACHE_CONTROL, "no-store")
            .body(
                serde_json::json!({
                    "error": if c.kind == Kind::Login { "login_required" } else { "consent_required" },
                    "error_description": "continue at the product's page",
                    "login_url": target,
                })
                .to_string(),
            )
    } else {
        see_other(&target)
    };
    let cookie = session::set_cookie(
        state,
        BROWSER_COOKIE,
        &binding,
        BROWSER_COOKIE_PATH,
        challenge::CHALLENGE_TTL,
    );
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// `GET /oauth/authorize/continue?verifier=…`
#[handler]
pub async fn continue_authorization(req: &Request, Data(state): Data<&AppState>) -> Response {
    match follow(state, req).await {
        Ok(resp) => resp,
        Err(e) => internal(state, e),
    }
}

fn refused(state: &AppState, e: &ChallengeError) -> Response {
    tracing::info!(request_id = %crate::request_id::request_id(), reason = e.message(), "challenge verifier refused");
    let (status, title, what) = match e {
        ChallengeError::Expired => (
            StatusCode::GONE,
            "This sign-in took too long",
            "Go back to the app and start again.",
        ),
        ChallengeError::AlreadyUsed => (
            StatusCode::CONFLICT,
            "This sign-in was already completed",
            "Go back to the app; if it did not let you in, start again from there.",
        ),
        ChallengeError::OtherBrowser => (
            StatusCode::FORBIDDEN,
            "This sign-in belongs to another browser",
            "Open the app in this browser and sign in from there. If someone sent you this link, do not use it.",
        ),
        ChallengeError::Unknown | ChallengeError::NotAnswered | ChallengeError::AlreadyAnswered => {
            (
                StatusCode::BAD_REQUEST,
                "This sign-in link is not valid",
                "Go back to the app and start again.",
            )
        }
    };
    error_page(
        state,
        None,
        ErrorPage::new(
            status,
            title,
            "The link that brought you here cannot finish signing you in to the app.",
            what,
        )
        .detail(e.message().to_owned()),
    )
}

async fn follow(state: &AppState, req: &Request) -> Result<Response, StoreError> {
    let query = FormParams::parse(req.uri().query().unwrap_or("").as_bytes()).unwrap_or_default();
    let verifier = query
        .single("verifier")
        .ok()
        .flatten()
        .filter(|v| v.len() <= 100);
    let Some(verifier) = verifier else {
        return Ok(refused(state, &ChallengeError::Unknown));
    };
    let verifier_hash = sha256(verifier.as_bytes());
    let Some(row) = store::challenges::find_by_verifier(&state.db, &verifier_hash).await? else {
        return Ok(refused(state, &ChallengeError::Unknown));
    };
    let same_browser = session::cookie(req, BROWSER_COOKIE).is_some_and(|v| {
        aws_lc_rs::constant_time::verify_slices_are_equal(&sha256(v.as_bytes()), &row.browser_hash)
            .is_ok()
    });
    let now = state.clock.now();
    let st = challenge::State {
        expires_at: row.expires_at,
        answered: row.answered_at.is_some(),
        used: row.used_at.is_some(),
    };
    if let Err(e) = challenge::check_followable(st, same_browser, now) {
        return Ok(refused(state, &e));
    }
    // Single use, in one conditional write: of two racing requests one proceeds.
    if !store::challenges::use_challenge(&state.db, &verifier_hash, now).await? {
        return Ok(refused(state, &ChallengeError::AlreadyUsed));
    }
    let answer: Answer = serde_json::from_str(row.answer.as_deref().unwrap_or(""))
        .map_err(|e| StoreError::Corrupt(format!("challenge answer: {e}")))?;
    let params = FormParams::parse(row.request.as_bytes())
        .map_err(|e| StoreError::Corrupt(format!("challenge request: {}", e.description)))?;
    match answer {
        Answer::Rejected { error, description } => {
            let err = challenge::rejection(&error, Some(&description))
                .map_err(|e| StoreError::Corrupt(format!("challenge rejection: {e}")))?;
            Ok(resume(state, req, &params, Step::Rejected(err)).await)
        }
        Answer::Accepted {
            user_id, remember, ..
        } if row.kind == Kind::Login.as_str() => {
            let user_id = user_id
                .ok_or_else(|| StoreError::Corrupt("accepted login without a user".into()))?;
            // A new sign-in replaces whatever session this browser had.
            session::end(state, req).await?;
            let cookies = session::start_with(state, &user_id, remember).await?;
            let back = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(after_sign_in(&params))
                .finish();
            let mut resp = see_other(&format!("/oauth/authorize?{back}"));
            for c in cookies {
                if let Ok(v) = c.parse() {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            Ok(resp)
        }
        Answer::Accepted {
            scopes, remember, ..
        } => {
            // The consent was asked for one session; it is answered for that one.
            let same_session = session::cookie(req, session::SESSION_COOKIE).is_some_and(|v| {
                row.session_hash.as_deref() == Some(sha256(v.as_bytes()).as_slice())
            });
            if !same_session {
                return Ok(error_page(
                    state,
                    None,
                    ErrorPage::new(
                        StatusCode::FORBIDDEN,
                        "Your session has changed",
                        "You signed out, or in as someone else, before the app was given access, so it has not been.",
                        "Go back to the app and start again.",
                    ),
                ));
            }
            let scope = ScopeSet::from_trusted(scopes.unwrap_or_default().split_whitespace());
            Ok(resume(state, req, &params, Step::Granted { scope, remember }).await)
        }
    }
}
