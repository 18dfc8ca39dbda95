//! `/admin/login-requests/{challenge}` and `/admin/consent-requests/{challenge}`:
//! the product reads what an authorization asks, and accepts or rejects it. The
//! answer is a `redirect_to` on this server carrying a verifier, where the
//! product sends the browser; Latchkey then checks that browser and carries on
//! (rules and lifecycle: `oauth::challenge`).

use super::users::{User, user_of};
use super::{AdminCaller, AdminError, AdminResult, AdminScope, by};
use crate::http::ApiTags;
use crate::http::api::Done;
use crate::http::discovery::ScopeInfo;
use crate::oauth::challenge::{self, Answer, ChallengeError, Kind};
use crate::oauth::form::FormParams;
use crate::oauth::redirect_uri;
use crate::oauth::scope::ScopeSet;
use crate::oauth::types::sha256;
use crate::random::url_token;
use crate::services::state::AppState;
use crate::services::users::IdentityError;
use crate::store::models::{ChallengeRow, ClientRow};
use crate::store::{self, StoreError};
use poem::http::StatusCode;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

/// The app asking.
#[derive(Debug, Clone, Object)]
pub struct RequestClient {
    /// The app's `client_id`.
    pub client_id: String,
    /// Its name, to show to the person.
    pub name: String,
    /// What it says it does.
    pub description: String,
    /// Its home page.
    #[oai(skip_serializing_if_is_none)]
    pub website: Option<String>,
    /// An https URL of its icon.
    #[oai(skip_serializing_if_is_none)]
    pub icon_url: Option<String>,
    /// `false` for apps that registered themselves (dynamic registration, a
    /// metadata document, a user's app): say so to the person.
    pub verified: bool,
}

/// The user Latchkey already knows in this browser: set on a login request when
/// the browser has a session (the app asked for a fresh sign-in).
#[derive(Debug, Clone, Object)]
pub struct KnownSession {
    /// Their id (for a delegated identity, the subject you gave).
    pub subject: String,
    /// Their username.
    pub username: String,
}

/// A pending sign-in.
#[derive(Debug, Clone, Object)]
pub struct LoginRequest {
    /// The challenge, as given.
    pub challenge: String,
    pub client: RequestClient,
    /// The scopes the app asks for.
    pub requested_scope: Vec<String>,
    /// OpenID Connect `prompt` values (`login`: sign the person in afresh even if
    /// your own session knows them).
    pub prompt: Vec<String>,
    /// OpenID Connect `max_age`, seconds: sign the person in afresh if their last
    /// authentication is older.
    #[oai(skip_serializing_if_is_none)]
    pub max_age: Option<i64>,
    /// Who the app thinks is signing in (`login_hint`), to pre-fill your form.
    #[oai(skip_serializing_if_is_none)]
    pub login_hint: Option<String>,
    // Set when this browser already has a Latchkey session (the app asked for a
    // fresh sign-in); no doc comment (a described `$ref` becomes `allOf`).
    #[oai(skip_serializing_if_is_none)]
    pub session: Option<KnownSession>,
    /// Answer before this time, seconds since the epoch.
    pub expires_at: i64,
}

/// The person signed in.
#[derive(Debug, Clone, Object)]
pub struct AcceptLogin {
    /// Your stable id for this person (1 to 255 printable ASCII characters): it
    /// becomes `sub` in their tokens. Never reuse one for another person.
    pub subject: String,
    /// `true`: Latchkey keeps a session, so the next authorization in this
    /// browser skips your sign-in page. `false` (default): the session serves
    /// this authorization only.
    #[oai(skip_serializing_if_is_none)]
    pub remember: Option<bool>,
    /// Display name (`name` claim).
    #[oai(skip_serializing_if_is_none)]
    pub name: Option<String>,
    /// Email address (`email` claim).
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    /// Whether you verified the address. Default false.
    #[oai(skip_serializing_if_is_none)]
    pub email_verified: Option<bool>,
    /// Username (`preferred_username` claim).
    #[oai(skip_serializing_if_is_none)]
    pub preferred_username: Option<String>,
}

/// The authorization ends with an OAuth error at the app.
#[derive(Debug, Clone, Object)]
pub struct Reject {
    /// `access_denied`, `login_required`, `consent_required`,
    /// `temporarily_unavailable` or `server_error`.
    pub error: String,
    /// Shown to the app's developers (at most 500 bytes).
    #[oai(skip_serializing_if_is_none)]
    pub error_description: Option<String>,
}

/// Where to send the browser now.
#[derive(Debug, Clone, Object)]
pub struct RedirectTo {
    /// A URL on this server; send the browser there (e.g. 303 See Other). It works
    /// once, within two minutes, in the browser that started the authorization.
    pub redirect_to: String,
}

/// A pending consent decision.
#[derive(Debug, Clone, Object)]
pub struct ConsentRequest {
    /// The challenge, as given.
    pub challenge: String,
    pub client: RequestClient,
    /// The scopes the app asks for, with the catalogue's descriptions.
    pub requested_scope: Vec<ScopeInfo>,
    /// Scopes the person granted this app before.
    pub granted_scope: Vec<String>,
    // The signed-in person (`id` is their `sub`); no doc comment (a described
    // `$ref` becomes `allOf`).
    pub user: User,
    /// Where the person is sent back to: the redirect URI's host, or for an app's
    /// private-use scheme the scheme and authority (`cursor://anysphere.cursor-mcp`).
    pub redirect_host: String,
    /// Answer before this time, seconds since the epoch.
    pub expires_at: i64,
}

/// The person's consent.
#[derive(Debug, Clone, Object)]
pub struct AcceptConsent {
    /// The scopes granted: some or all of `requested_scope`, at least one.
    pub grant_scope: Vec<String>,
    /// `true`: remember the consent, so the app is not asked again for these
    /// scopes. Default false.
    #[oai(skip_serializing_if_is_none)]
    pub remember: Option<bool>,
}

fn challenge_error(e: &ChallengeError) -> AdminError {
    let status = match e {
        ChallengeError::Unknown | ChallengeError::NotAnswered => StatusCode::NOT_FOUND,
        ChallengeError::Expired => StatusCode::GONE,
        ChallengeError::AlreadyAnswered
        | ChallengeError::AlreadyUsed
        | ChallengeError::OtherBrowser => StatusCode::CONFLICT,
    };
    let (slug, title) = match status {
        StatusCode::NOT_FOUND => ("not-found", "Not Found"),
        StatusCode::GONE => ("expired", "Gone"),
        _ => ("conflict", "Conflict"),
    };
    AdminError::problem(status, slug, title, e.message())
}

/// The pending challenge `challenge` of `kind`, or why it cannot be answered.
async fn pending(state: &AppState, challenge: &str, kind: Kind) -> AdminResult<ChallengeRow> {
    let row = if challenge.len() > 100 {
        None
    } else {
        store::challenges::find_challenge(&state.db, &sha256(challenge.as_bytes())).await?
    };
    let Some(row) = row.filter(|r| r.kind == kind.as_str()) else {
        return Err(challenge_error(&ChallengeError::Unknown));
    };
    let st = challenge::State {
        expires_at: row.expires_at,
        answered: row.answered_at.is_some(),
        used: row.used_at.is_some(),
    };
    challenge::check_answerable(st, state.clock.now()).map_err(|e| challenge_error(&e))?;
    Ok(row)
}

/// Stores the answer with a fresh verifier; the URL the browser must follow.
async fn answer(state: &AppState, row: &ChallengeRow, answer: &Answer) -> AdminResult<RedirectTo> {
    let verifier = url_token::<32>();
    let now = state.clock.now();
    let json = serde_json::to_string(answer).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let stored = store::challenges::answer_challenge(
        &state.db,
        &row.challenge_hash,
        &json,
        &sha256(verifier.as_bytes()),
        now,
        now + challenge::VERIFIER_TTL,
    )
    .await?;
    if !stored {
        // Another answer won the race (or the deadline passed meanwhile).
        return Err(challenge_error(&ChallengeError::AlreadyAnswered));
    }
    Ok(RedirectTo {
        redirect_to: format!(
            "{}/oauth/authorize/continue?verifier={verifier}",
            state.settings.issuer
        ),
    })
}

/// The stored client a challenge names (a metadata document client from its
/// document).
async fn client_row(state: &AppState, id: &str) -> AdminResult<ClientRow> {
    if crate::oauth::client_metadata::is_document_url(id) && state.client_documents.enabled() {
        let now = state.clock.now();
        if let Ok(doc) = state
            .client_documents
            .resolve(id, &state.settings.scopes, now)
            .await
        {
            return Ok(doc.row.clone());
        }
    }
    store::clients::find_client(&state.db, id)
        .await?
        .ok_or_else(|| AdminError::conflict("the app of this request no longer exists"))
}

fn request_client(row: &ClientRow) -> RequestClient {
    RequestClient {
        client_id: row.id.clone(),
        name: row.name.clone(),
        description: row.description.clone(),
        website: row.website.clone(),
        icon_url: row.icon_url.clone(),
        verified: !row.self_registered(),
    }
}

fn scopes_of(row: &ChallengeRow) -> ScopeSet {
    ScopeSet::from_trusted(row.scopes.split_whitespace())
}

fn rejection(body: Reject) -> AdminResult<Answer> {
    let err = challenge::rejection(&body.error, body.error_description.as_deref())
        .map_err(AdminError::bad_request)?;
    Ok(Answer::Rejected {
        error: err.code.as_str().to_owned(),
        description: err.description.into_owned(),
    })
}

pub struct AdminRequestsApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminRequestsApi {
    /// Get a login request
    ///
    /// What the authorization that sent the person to your sign-in page
    /// (`login_url?login_challenge=…`) asks for.
    #[oai(
        path = "/admin/login-requests/:challenge",
        method = "get",
        operation_id = "adminGetLoginRequest"
    )]
    async fn get_login(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The `login_challenge` your page received.
        challenge: Path<String>,
    ) -> AdminResult<Done<LoginRequest>> {
        caller.check(&self.state).await?;
        let row = pending(&self.state, &challenge.0, Kind::Login).await?;
        let client = client_row(&self.state, &row.client_id).await?;
        let params = FormParams::parse(row.request.as_bytes()).unwrap_or_default();
        let field = |k: &str| params.single(k).ok().flatten().map(str::to_owned);
        let session = match &row.user_id {
            Some(id) => store::users::find_user(&self.state.db, id)
                .await?
                .map(|u| KnownSession {
                    subject: u.id.clone(),
                    username: u.display_username().to_owned(),
                }),
            None => None,
        };
        Ok(Done::Ok(Json(LoginRequest {
            challenge: challenge.0,
            client: request_client(&client),
            requested_scope: scopes_of(&row).iter().map(str::to_owned).collect(),
            prompt: field("prompt")
                .map(|p| {
                    p.split(' ')
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            max_age: field("max_age").and_then(|m| m.parse().ok()),
            login_hint: field("login_hint"),
            session,
            expires_at: row.expires_at,
        })))
    }

    /// Accept a login request
    ///
    /// The person is `subject` in your system. Latchkey makes (or refreshes) the
    /// identity's record from the claims you send, and answers where to send the
    /// browser. Answerable once, within ten minutes of the request.
    #[oai(
        path = "/admin/login-requests/:challenge/accept",
        method = "put",
        operation_id = "adminAcceptLoginRequest"
    )]
    async fn accept_login(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The `login_challenge`.
        challenge: Path<String>,
        body: Json<AcceptLogin>,
    ) -> AdminResult<Done<RedirectTo>> {
        let claims = caller.check(&self.state).await?;
        let row = pending(&self.state, &challenge.0, Kind::Login).await?;
        let body = body.0;
        challenge::validate_subject(&body.subject).map_err(AdminError::bad_request)?;
        let identity_claims = challenge::validate_claims(challenge::Claims {
            name: body.name,
            email: body.email,
            email_verified: body.email_verified.unwrap_or(false),
            preferred_username: body.preferred_username,
        })
        .map_err(AdminError::bad_request)?;
        let now = self.state.clock.now();
        let user = match crate::services::users::accept_identity(
            &self.state.db,
            &body.subject,
            identity_claims,
            now,
        )
        .await
        {
            Ok(u) => u,
            Err(IdentityError::LocalCollision) => {
                return Err(AdminError::conflict(
                    IdentityError::LocalCollision.to_string(),
                ));
            }
            Err(IdentityError::Disabled) => {
                return Err(AdminError::problem(
                    StatusCode::FORBIDDEN,
                    "disabled",
                    "Forbidden",
                    "this identity is disabled; enable it through the admin API first",
                ));
            }
            Err(IdentityError::Store(e)) => return Err(e.into()),
        };
        let to = answer(
            &self.state,
            &row,
            &Answer::Accepted {
                user_id: Some(user.id.clone()),
                scopes: None,
                remember: body.remember.unwrap_or(false),
            },
        )
        .await?;
        self.state
            .audit(
                by(&claims, "admin.login_accepted")
                    .subject(&user.id)
                    .detail("client", row.client_id.clone()),
            )
            .await;
        Ok(Done::Ok(Json(to)))
    }

    /// Reject a login request
    ///
    /// The app receives the OAuth error.
    #[oai(
        path = "/admin/login-requests/:challenge/reject",
        method = "put",
        operation_id = "adminRejectLoginRequest"
    )]
    async fn reject_login(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The `login_challenge`.
        challenge: Path<String>,
        body: Json<Reject>,
    ) -> AdminResult<Done<RedirectTo>> {
        let claims = caller.check(&self.state).await?;
        let row = pending(&self.state, &challenge.0, Kind::Login).await?;
        let error = body.0.error.clone();
        let to = answer(&self.state, &row, &rejection(body.0)?).await?;
        self.state
            .audit(
                by(&claims, "admin.login_rejected")
                    .subject(&row.client_id)
                    .detail("error", error),
            )
            .await;
        Ok(Done::Ok(Json(to)))
    }

    /// Get a consent request
    ///
    /// What the app asks the signed-in person to grant
    /// (`consent_url?consent_challenge=…`).
    #[oai(
        path = "/admin/consent-requests/:challenge",
        method = "get",
        operation_id = "adminGetConsentRequest"
    )]
    async fn get_consent(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The `consent_challenge` your page received.
        challenge: Path<String>,
    ) -> AdminResult<Done<ConsentRequest>> {
        caller.check(&self.state).await?;
        let row = pending(&self.state, &challenge.0, Kind::Consent).await?;
        let client = client_row(&self.state, &row.client_id).await?;
        let user = match &row.user_id {
            Some(id) => store::users::find_user(&self.state.db, id).await?,
            None => None,
        }
        .ok_or_else(|| AdminError::conflict("the person of this request no longer exists"))?;
        let granted = store::grants::find_consent(&self.state.db, &user.id, &row.client_id)
            .await?
            .map(|c| c.scopes.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let catalogue = self.state.settings.scopes.entries();
        let requested_scope = scopes_of(&row)
            .iter()
            .map(|name| ScopeInfo {
                name: name.to_owned(),
                description: catalogue
                    .iter()
                    .find(|e| e.name == name)
                    .map_or_else(String::new, |e| e.description.clone()),
            })
            .collect();
        let params = FormParams::parse(row.request.as_bytes()).unwrap_or_default();
        let redirect_host = params
            .single("redirect_uri")
            .ok()
            .flatten()
            .map(str::to_owned)
            .or_else(|| {
                client
                    .redirect_uri_list()
                    .ok()
                    .and_then(|l| l.into_iter().next())
            })
            .map(|u| redirect_uri::destination(&u))
            .unwrap_or_default();
        Ok(Done::Ok(Json(ConsentRequest {
            challenge: challenge.0,
            client: request_client(&client),
            requested_scope,
            granted_scope: granted,
            user: user_of(&user),
            redirect_host,
            expires_at: row.expires_at,
        })))
    }

    /// Accept a consent request
    ///
    /// The person granted `grant_scope` (a subset of what was asked). Latchkey
    /// issues the app its code when the browser follows `redirect_to`.
    #[oai(
        path = "/admin/consent-requests/:challenge/accept",
        method = "put",
        operation_id = "adminAcceptConsentRequest"
    )]
    async fn accept_consent(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The `consent_challenge`.
        challenge: Path<String>,
        body: Json<AcceptConsent>,
    ) -> AdminResult<Done<RedirectTo>> {
        let claims = caller.check(&self.state).await?;
        let row = pending(&self.state, &challenge.0, Kind::Consent).await?;
        let granted = challenge::granted_scopes(&scopes_of(&row), &body.0.grant_scope)
            .map_err(AdminError::bad_request)?;
        if granted.is_empty() {
            return Err(AdminError::bad_request(
                "grant_scope is empty: grant at least one scope, or reject the request",
            ));
        }
        let to = answer(
            &self.state,
            &row,
            &Answer::Accepted {
                user_id: row.user_id.clone(),
                scopes: Some(granted.to_string()),
                remember: body.0.remember.unwrap_or(false),
            },
        )
        .await?;
        self.state
            .audit(
                by(&claims, "consent.granted")
                    .subject(&row.client_id)
                    .detail("scope", granted.to_string())
                    .detail("user", row.user_id.clone().unwrap_or_default()),
            )
            .await;
        Ok(Done::Ok(Json(to)))
    }

    /// Reject a consent request
    ///
    /// The app receives the OAuth error (usually `access_denied`).
    #[oai(
        path = "/admin/consent-requests/:challenge/reject",
        method = "put",
        operation_id = "adminRejectConsentRequest"
    )]
    async fn reject_consent(
        &self,
        #[oai(scope = "AdminScope::Admin")] caller: AdminCaller,
        /// The `consent_challenge`.
        challenge: Path<String>,
        body: Json<Reject>,
    ) -> AdminResult<Done<RedirectTo>> {
        let claims = caller.check(&self.state).await?;
        let row = pending(&self.state, &challenge.0, Kind::Consent).await?;
        let error = body.0.error.clone();
        let to = answer(&self.state, &row, &rejection(body.0)?).await?;
        self.state
            .audit(
                by(&claims, "consent.rejected")
                    .subject(&row.client_id)
                    .detail("error", error),
            )
            .await;
        Ok(Done::Ok(Json(to)))
    }
}
