//! `GET /oauth/authorize` and `POST /oauth/authorize`: the browser side of the
//! authorization code flow (the protocol rules live in `oauth::authorize`).
//!
//! A browser gets a redirect to sign in, then the consent page; a client asking with
//! `Accept: application/json` (an SPA's own consent screen) gets the same data as JSON
//! and posts the decision back as JSON.
//!
//! One file at ~620 lines: the GET and POST halves of the authorization endpoint share
//! their parsing and redirect decisions (consent and delegated sign-in are children).

mod consent;
pub mod delegated;

use crate::oauth::authorize::{self, AuthorizeRequest, Decision, NoRedirect, NoRedirectKind};
use crate::oauth::challenge::Kind;
use crate::oauth::client_metadata;
use crate::oauth::form::FormParams;
use crate::oauth::scope::ScopeSet;
use crate::oauth::types::sha256;
use crate::oauth::{ErrorCode, OAuthError};
use crate::pages::views::ErrorPage;
use crate::random::url_token;
use crate::services::audit::{Actor, Event};
use crate::services::state::AppState;
use crate::store::models::{ClientRow, CodeRow, ConsentRow, FamilyRow};
use crate::store::{self, StoreError};
use crate::web::error_page;
use crate::web::login::{internal, read_form, see_other};
use crate::web::session::{self, SignedIn};
use consent::{ConsentFor, consent};
use delegated::{ChallengeFor, send_to_product};
use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{Body, Request, Response, handler};
use serde_json::json;

fn wants_json(req: &Request) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(value.to_string())
}

/// The client or redirect URI is not trustworthy: answer here, never redirect. A
/// person gets a page saying what happened and what to do; the log line carries the
/// same request id as the page.
async fn no_redirect(
    state: &AppState,
    req: &Request,
    json: bool,
    NoRedirect(kind, message): NoRedirect,
) -> Response {
    tracing::info!(request_id = %crate::request_id::request_id(), reason = %message, "authorization request refused without redirect");
    if json {
        let error = match kind {
            NoRedirectKind::RequestUri => "invalid_request_uri",
            _ => "invalid_request",
        };
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({ "error": error, "error_description": message }),
        );
    }
    let product = &state.pages.brand().product_name;
    let page = match kind {
        NoRedirectKind::UnknownClient => ErrorPage::new(
            StatusCode::BAD_REQUEST,
            "This app is not known here",
            &format!("The link you followed names an app that is not registered with {product}, so you cannot sign in to it."),
            "Go back to the app and try again. If it keeps happening, tell the app's developers: it may need to be registered again.",
        ),
        NoRedirectKind::RedirectUri => ErrorPage::new(
            StatusCode::BAD_REQUEST,
            "This sign-in link is not safe to use",
            &format!("The app asked {product} to send you back to an address it never registered. You were stopped here so that your account is not handed to someone else."),
            "Go back to the app and start again. If it keeps happening, tell the app's developers.",
        ),
        NoRedirectKind::ClientDocument => ErrorPage::new(
            StatusCode::BAD_REQUEST,
            "This app could not be identified",
            &format!("The app names itself by a web address where its details are published, and {product} could not use what it found there, so you cannot sign in to it."),
            "Go back to the app and try again later. If it keeps happening, tell the app's developers what the details below say.",
        ),
        NoRedirectKind::RequestUri => ErrorPage::new(
            StatusCode::BAD_REQUEST,
            "This sign-in link has expired",
            "The app prepared this sign-in with us beforehand, and what it prepared has expired or has been used already.",
            "Go back to the app and start again.",
        ),
        NoRedirectKind::Malformed => ErrorPage::new(
            StatusCode::BAD_REQUEST,
            "This sign-in link is broken",
            "The link that brought you here is missing something an app must send.",
            "Go back to the app and start again. If it keeps happening, tell the app's developers.",
        ),
    }
    .detail(message);
    let signed_in = session::current(state, req).await.ok().flatten();
    let next = current_path(req);
    error_page(state, signed_in.as_ref().map(|s| s.view(&next)), page)
}

/// This request's path and query, for signing out and back in to the same page.
fn current_path(req: &Request) -> String {
    match req.uri().query() {
        Some(q) => format!("{}?{q}", req.uri().path()),
        None => req.uri().path().to_owned(),
    }
}

/// Sends the browser (or tells the SPA to send it) to `uri` on the client.
fn to_client(json: bool, uri: &str) -> Response {
    if json {
        json_response(StatusCode::OK, &json!({ "redirect_to": uri }))
    } else {
        see_other(uri)
    }
}

/// `GET /oauth/authorize`
#[handler]
pub async fn authorize_get(req: &Request, Data(state): Data<&AppState>) -> Response {
    let json = wants_json(req);
    let query = req.uri().query().unwrap_or("");
    match FormParams::parse(query.as_bytes()) {
        Ok(params) => flow(state, req, &params, json, Step::Show).await,
        Err(e) => {
            let why = NoRedirect(NoRedirectKind::Malformed, e.description.into_owned());
            no_redirect(state, req, json, why).await
        }
    }
}

/// `POST /oauth/authorize`: the consent decision, as a form or as JSON.
#[handler]
pub async fn authorize_post(req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let is_json_body = req
        .content_type()
        .is_some_and(|c| c.starts_with("application/json"));
    let json = is_json_body || wants_json(req);
    let params = if is_json_body {
        match read_json_params(body).await {
            Some(p) => p,
            None => {
                let why = NoRedirect(
                    NoRedirectKind::Malformed,
                    "the body must be a JSON object of strings".to_owned(),
                );
                return no_redirect(state, req, true, why).await;
            }
        }
    } else {
        match read_form(body).await {
            Some(p) => p,
            None => {
                let why = NoRedirect(
                    NoRedirectKind::Malformed,
                    "the consent form could not be read".to_owned(),
                );
                return no_redirect(state, req, json, why).await;
            }
        }
    };
    let header_csrf = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let decision = params.single("decision").ok().flatten().map(str::to_owned);
    let csrf = params
        .single("csrf_token")
        .ok()
        .flatten()
        .map(str::to_owned)
        .or(header_csrf);
    flow(state, req, &params, json, Step::Decide { decision, csrf }).await
}

/// What the request carries besides the authorization request itself.
pub enum Step {
    /// `GET`: find out what the request needs (sign-in, consent, or a code).
    Show,
    /// The answer from Latchkey's consent page.
    Decide {
        decision: Option<String>,
        csrf: Option<String>,
    },
    /// The product accepted a consent challenge for the signed-in person.
    Granted { scope: ScopeSet, remember: bool },
    /// The product rejected a login or consent challenge.
    Rejected(OAuthError),
}

/// Carries on the authorization request `params` after the product answered a
/// challenge (see `delegated`).
pub async fn resume(state: &AppState, req: &Request, params: &FormParams, step: Step) -> Response {
    flow(state, req, params, false, step).await
}

/// A JSON object whose values are strings or arrays of strings, as parameters.
async fn read_json_params(body: Body) -> Option<FormParams> {
    let bytes = body
        .into_bytes_limit(crate::http::payloads::MAX_BODY_BYTES)
        .await
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let mut pairs = Vec::new();
    for (k, v) in value.as_object()? {
        match v {
            serde_json::Value::String(s) => pairs.push((k.clone(), s.clone())),
            serde_json::Value::Array(items) => {
                for item in items {
                    pairs.push((k.clone(), item.as_str()?.to_owned()));
                }
            }
            _ => return None,
        }
    }
    Some(FormParams::from_pairs(pairs))
}

async fn flow(
    state: &AppState,
    req: &Request,
    params: &FormParams,
    json: bool,
    step: Step,
) -> Response {
    match flow_inner(state, req, params, json, step).await {
        Ok(resp) => resp,
        Err(e) => internal(state, e),
    }
}

async fn flow_inner(
    state: &AppState,
    req: &Request,
    params: &FormParams,
    json: bool,
    step: Step,
) -> Result<Response, StoreError> {
    let issuer = &state.settings.issuer;
    let signed_in = session::current(state, req).await?;
    // Step 0: a pushed request (RFC 9126 §4): its parameters, and only those.
    let expanded;
    let (params, pushed) = match params.single("request_uri") {
        Ok(Some(uri)) => match pushed_request(state, params, uri, signed_in.as_ref()).await? {
            Ok(p) => {
                expanded = p;
                (&expanded, Some(crate::oauth::par::request_uri_hash(uri)))
            }
            Err(message) => {
                let why = NoRedirect(NoRedirectKind::RequestUri, message);
                return Ok(no_redirect(state, req, json, why).await);
            }
        },
        _ => (params, None),
    };
    // Step 1: client and redirect URI (RFC 6749 §4.1.2.1: never redirect on failure).
    // A client_id that is an https URL names its metadata document, which is
    // fetched; a refused document is shown to the person, never redirected to.
    let mut document_host = None;
    let row = match params.single("client_id").ok().flatten() {
        Some(id) if client_metadata::is_document_url(id) && state.client_documents.enabled() => {
            let now = state.clock.now();
            match state
                .client_documents
                .resolve(id, &state.settings.scopes, now)
                .await
            {
                Ok(doc) => {
                    document_host = Some(doc.host.clone());
                    Some(doc.row.clone())
                }
                Err(refusal) => {
                    let why = NoRedirect(NoRedirectKind::ClientDocument, refusal.to_string());
                    return Ok(no_redirect(state, req, json, why).await);
                }
            }
        }
        Some(id) => store::clients::find_client(&state.db, id).await?,
        None => None,
    };
    let registered = row.as_ref().map(ClientRow::to_registered).transpose()?;
    let redirect = match authorize::resolve_redirect(params, registered.as_ref()) {
        Ok(r) => r,
        Err(why) => return Ok(no_redirect(state, req, json, why).await),
    };
    let (Some(row), Some(client)) = (row, registered) else {
        let why = NoRedirect(
            NoRedirectKind::UnknownClient,
            "there is no application with this client_id".to_owned(),
        );
        return Ok(no_redirect(state, req, json, why).await);
    };
    let redirect_uri = redirect.0.clone();
    // For error redirects: the state as sent (unless it was sent twice).
    let raw_state = params.single("state").ok().flatten().map(str::to_owned);
    let fail = |err: &OAuthError| {
        to_client(
            json,
            &authorize::error_uri(&redirect_uri, err, raw_state.as_deref(), issuer),
        )
    };

    // RFC 9126 §6: this server, or this client, takes pushed requests only.
    if pushed.is_none() && (state.settings.profile.require_par || client.require_par) {
        return Ok(fail(&OAuthError::invalid_request(
            "authorization requests must be pushed to /oauth/par first (RFC 9126); send client_id and the request_uri it returns",
        )));
    }
    // Step 2: the rest of the request.
    let mut request = match authorize::validate(
        params,
        &client,
        redirect,
        &state.settings.scopes,
        &state.policy,
    ) {
        Ok(r) => r,
        Err(e) => return Ok(fail(&e)),
    };
    if state.settings.profile.fapi2
        && let Err(e) = authorize::require_pkce(&request)
    {
        return Ok(fail(&e));
    }
    // Core §3.1.2.1: an ID token this server issued, naming who the client expects.
    if let Some(hint) = params.single("id_token_hint").ok().flatten() {
        match state.keys.get().verify_id_token(hint, issuer) {
            Some(claims) => request.hint_subject = Some(claims.sub),
            None => {
                return Ok(fail(&OAuthError::invalid_request(
                    "id_token_hint is not an ID token issued by this server",
                )));
            }
        }
    }

    let (decision, csrf) = match step {
        Step::Show => (None, None),
        Step::Decide { decision, csrf } => (Some(decision), csrf),
        Step::Rejected(e) => {
            let resp = fail(&e);
            return match &signed_in {
                Some(s) => finish(state, s, resp).await,
                None => Ok(resp),
            };
        }
        Step::Granted { scope, remember } => {
            let Some(s) = signed_in else {
                return Ok(session_ended(state, json));
            };
            // Granted at the product from what this very request asked.
            if scope.is_empty() || !scope.is_subset(&request.scope) {
                return Ok(fail(&OAuthError::invalid_scope(
                    "the consent granted scopes the request did not ask for",
                )));
            }
            request.scope = scope;
            store_document_client(state, &row).await?;
            if remember {
                remember_consent(state, &s.user.id, &request).await?;
            }
            let uri = issue_code(state, &request, &s, pushed.as_ref()).await?;
            tracing::info!(client_id = %client.id, user_id = %s.user.id, scope = %request.scope, "authorization approved at the product");
            return finish(state, &s, to_client(json, &uri)).await;
        }
    };
    match decision {
        None => {
            let granted = match &signed_in {
                Some(s) => store::grants::find_consent(&state.db, &s.user.id, client.id.as_str())
                    .await?
                    .map(|c| {
                        crate::oauth::scope::ScopeSet::from_trusted(c.scopes.split_whitespace())
                    }),
                None => None,
            };
            let session = signed_in.as_ref().map(|s| authorize::Session {
                user_id: &s.user.id,
                auth_time: s.session.created_at,
            });
            let now = state.clock.now();
            match (
                authorize::decide(&request, session, granted.as_ref(), now),
                signed_in.as_ref(),
            ) {
                (Decision::Login, _) if state.settings.login_url.is_some() => {
                    let page = state.settings.login_url.as_deref().unwrap_or_default();
                    let c = ChallengeFor {
                        kind: Kind::Login,
                        page,
                        params,
                        client_id: client.id.as_str(),
                        scope: &request.scope,
                        user_id: signed_in.as_ref().map(|s| s.user.id.as_str()),
                        session_hash: None,
                    };
                    send_to_product(state, req, json, c).await
                }
                (Decision::Login, _) => {
                    // Back here after signing in, without what asked for it (a
                    // pushed request: its uri, whose sign-in prompts a sign-in
                    // made after the push satisfies).
                    let back_pairs = match pushed {
                        Some(_) => params
                            .pairs()
                            .iter()
                            .filter(|(k, _)| k == "client_id" || k == "request_uri")
                            .cloned()
                            .collect(),
                        None => authorize::after_sign_in(params),
                    };
                    let back = url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(back_pairs)
                        .finish();
                    let login = crate::web::login_url_for(
                        &format!("{}?{back}", req.uri().path()),
                        session.is_some(),
                        request.login_hint.as_deref(),
                    );
                    if json {
                        Ok(json_response(
                            StatusCode::UNAUTHORIZED,
                            &json!({
                                "error": "login_required",
                                "error_description": "sign in first, then load this request again",
                                "login_url": login,
                            }),
                        ))
                    } else {
                        Ok(see_other(&login))
                    }
                }
                (Decision::Consent, Some(s)) if !json && state.settings.consent_url.is_some() => {
                    store_document_client(state, &row).await?;
                    let page = state.settings.consent_url.as_deref().unwrap_or_default();
                    let c = ChallengeFor {
                        kind: Kind::Consent,
                        page,
                        params,
                        client_id: client.id.as_str(),
                        scope: &request.scope,
                        user_id: Some(&s.user.id),
                        session_hash: Some(&s.session.id_hash),
                    };
                    send_to_product(state, req, json, c).await
                }
                (Decision::Consent, Some(s)) => {
                    let next = current_path(req);
                    let page = ConsentFor {
                        client: &row,
                        document_host: document_host.as_deref(),
                        request: &request,
                        granted: granted.as_ref(),
                        params,
                        signed_in: s,
                    };
                    Ok(consent(state, &page, &next, json))
                }
                (Decision::Issue, Some(s)) => {
                    store_document_client(state, &row).await?;
                    let uri = issue_code(state, &request, s, pushed.as_ref()).await?;
                    finish(state, s, to_client(json, &uri)).await
                }
                (Decision::Fail(e), _) => Ok(fail(&e)),
                (_, None) => {
                    let why = NoRedirect(NoRedirectKind::Malformed, "sign in first".to_owned());
                    Ok(no_redirect(state, req, json, why).await)
                }
            }
        }
        Some(decision) => {
            let Some(s) = signed_in else {
                return Ok(session_ended(state, json));
            };
            // The decision must come from our consent page in this session (CSRF).
            if !session::csrf_matches(&s.session.csrf_token, csrf.as_deref()) {
                tracing::warn!(client_id = %client.id, "consent decision with a bad CSRF token");
                return Ok(if json {
                    json_response(
                        StatusCode::FORBIDDEN,
                        &json!({ "error": "access_denied", "error_description": "missing or wrong CSRF token" }),
                    )
                } else {
                    error_page(
                        state,
                        Some(s.view("/account")),
                        ErrorPage::new(
                            StatusCode::FORBIDDEN,
                            "This approval has expired",
                            "The answer did not come from the consent page of your current session, so the app has not been given access.",
                            "Go back to the app and start again.",
                        ),
                    )
                });
            }
            match decision.as_deref() {
                Some("approve") => {
                    store_document_client(state, &row).await?;
                    remember_consent(state, &s.user.id, &request).await?;
                    let uri = issue_code(state, &request, &s, pushed.as_ref()).await?;
                    tracing::info!(client_id = %client.id, user_id = %s.user.id, scope = %request.scope, "authorization approved");
                    finish(state, &s, to_client(json, &uri)).await
                }
                Some("deny") => {
                    let resp = fail(&OAuthError::new(
                        ErrorCode::AccessDenied,
                        "the user denied the request",
                    ));
                    finish(state, &s, resp).await
                }
                _ => Ok(fail(&OAuthError::invalid_request(
                    "decision must be approve or deny",
                ))),
            }
        }
    }
}

/// The answer when the session ended before the decision.
fn session_ended(state: &AppState, json: bool) -> Response {
    if json {
        json_response(
            StatusCode::UNAUTHORIZED,
            &json!({ "error": "login_required", "error_description": "the session has ended; sign in again" }),
        )
    } else {
        error_page(
            state,
            None,
            ErrorPage::new(
                StatusCode::UNAUTHORIZED,
                "Your session has ended",
                "You were signed out before you answered, so the app has not been given access.",
                "Go back to the app and start again; you will be asked to sign in.",
            ),
        )
    }
}

/// The authorization is over: a session made for it alone (a delegated sign-in
/// without `remember`) ends with it, so the next authorization asks the product
/// again.
async fn finish(
    state: &AppState,
    s: &SignedIn,
    mut resp: Response,
) -> Result<Response, StoreError> {
    if !s.session.persistent {
        store::sessions::delete_session(&state.db, &s.session.id_hash).await?;
        session::clear_session_cookies(state, &mut resp);
    }
    Ok(resp)
}

/// A metadata document client gets (or refreshes) its row before a consent or a
/// code refers to it.
async fn store_document_client(state: &AppState, row: &ClientRow) -> Result<(), StoreError> {
    if row.document_fetched_at.is_some() {
        store::clients::upsert_document_client(&state.db, row).await?;
    }
    Ok(())
}

/// Adds the requested scopes to what the user already granted this client.
async fn remember_consent(
    state: &AppState,
    user_id: &str,
    request: &AuthorizeRequest,
) -> Result<(), StoreError> {
    let now = state.clock.now();
    let previous =
        store::grants::find_consent(&state.db, user_id, request.client_id.as_str()).await?;
    let mut scopes: Vec<String> = request.scope.iter().map(str::to_owned).collect();
    if let Some(p) = &previous {
        scopes.extend(p.scopes.split_whitespace().map(str::to_owned));
    }
    let merged = crate::oauth::scope::ScopeSet::from_trusted(scopes);
    store::grants::upsert_consent(
        &state.db,
        &ConsentRow {
            user_id: user_id.to_owned(),
            client_id: request.client_id.to_string(),
            scopes: merged.to_string(),
            created_at: previous.map_or(now, |p| p.created_at),
            updated_at: now,
        },
    )
    .await?;
    state
        .audit(
            Event::new("consent.granted", Actor::User(user_id))
                .subject(request.client_id.as_str())
                .detail("scope", merged.to_string()),
        )
        .await;
    Ok(())
}

/// The authorization request a `request_uri` stands for, or why it stands for
/// none (`invalid_request_uri`): issued here, unexpired, unspent, and pushed by
/// the client the request names.
async fn pushed_request(
    state: &AppState,
    params: &FormParams,
    uri: &str,
    signed_in: Option<&SignedIn>,
) -> Result<Result<FormParams, String>, StoreError> {
    use crate::oauth::par;
    if !uri.starts_with(par::REQUEST_URI_PREFIX) {
        return Ok(Err(
            "this request_uri was not issued by this server: push the request to /oauth/par first"
                .to_owned(),
        ));
    }
    let Some(row) = store::pushed::find(&state.db, &par::request_uri_hash(uri)).await? else {
        return Ok(Err(
            "this request_uri is unknown or has expired; push the request again".to_owned(),
        ));
    };
    let now = state.clock.now();
    if params.single("client_id").ok().flatten() != Some(row.client_id.as_str()) {
        return Ok(Err(
            "this request_uri was pushed by another client than client_id names".to_owned(),
        ));
    }
    if row.expires_at <= now {
        return Ok(Err(
            "this request_uri has expired; push the request again".to_owned()
        ));
    }
    if row.used_at.is_some() {
        return Ok(Err(
            "this request_uri has been used already; push the request again".to_owned(),
        ));
    }
    let signed_in_since = signed_in.is_some_and(|s| s.session.created_at >= row.created_at);
    Ok(par::expand(&row.params, uri, signed_in_since).map_err(|e| e.description.into_owned()))
}

/// Stores a new code (and its token family) and returns the redirect carrying it.
async fn issue_code(
    state: &AppState,
    request: &AuthorizeRequest,
    signed_in: &SignedIn,
    pushed: Option<&[u8; 32]>,
) -> Result<String, StoreError> {
    let user_id = &signed_in.user.id;
    let code = url_token::<32>();
    let now = state.clock.now();
    // A pushed request makes one code: spent now, by whichever answer comes first.
    if let Some(hash) = pushed
        && !store::pushed::spend(&state.db, hash, now).await?
    {
        let err = OAuthError::new(
            ErrorCode::InvalidRequestUri,
            "this request_uri has been used already; push the request again",
        );
        return Ok(authorize::error_uri(
            &request.redirect_uri,
            &err,
            request.state.as_deref(),
            &state.settings.issuer,
        ));
    }
    let resources = serde_json::to_string(&request.resources)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let family = FamilyRow {
        id: url_token::<16>(),
        client_id: request.client_id.to_string(),
        user_id: user_id.to_owned(),
        scopes: request.scope.to_string(),
        resources: resources.clone(),
        current_hash: None,
        previous_hash: None,
        rotated_at: None,
        retry_used: false,
        activated_at: None,
        created_at: now,
        last_used_at: now,
        revoked_at: None,
        // The session began with the sign-in, so its start is the sign-in's time.
        auth_time: Some(signed_in.session.created_at),
        dpop_jkt: None,
    };
    let row = CodeRow {
        code_hash: sha256(code.as_bytes()).to_vec(),
        family_id: family.id.clone(),
        client_id: request.client_id.to_string(),
        user_id: user_id.to_owned(),
        redirect_uri: request.redirect_uri.clone(),
        redirect_uri_explicit: request.redirect_uri_explicit,
        scopes: request.scope.to_string(),
        resources,
        code_challenge: request
            .code_challenge
            .as_ref()
            .map(|c| c.as_str().to_owned()),
        created_at: now,
        expires_at: now + state.settings.code_ttl,
        consumed_at: None,
        nonce: request.nonce.clone(),
        auth_time: family.auth_time,
        identity: crate::oauth::id_token::is_openid(&request.scope)
            .then(|| serde_json::to_string(&signed_in.user.identity()))
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        dpop_jkt: request.dpop_jkt.clone(),
    };
    store::codes::insert_code(&state.db, &family, &row).await?;
    Ok(authorize::response_uri(
        &request.redirect_uri,
        &[("code", &code)],
        request.state.as_deref(),
        &state.settings.issuer,
    ))
}
