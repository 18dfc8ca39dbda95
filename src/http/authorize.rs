//! `GET /oauth/authorize` and `POST /oauth/authorize`: the browser side of the
//! authorization code flow (the protocol rules live in `oauth::authorize`).
//!
//! A browser gets a redirect to sign in, then the consent page; a client asking with
//! `Accept: application/json` (an SPA's own consent screen) gets the same data as JSON
//! and posts the decision back as JSON.

use crate::app::AppState;
use crate::oauth::authorize::{self, AuthorizeRequest, Decision, NoRedirect};
use crate::oauth::form::FormParams;
use crate::oauth::types::sha256;
use crate::oauth::{ErrorCode, OAuthError};
use crate::random::url_token;
use crate::store::models::{ClientRow, CodeRow, ConsentRow, FamilyRow};
use crate::store::{self, StoreError};
use crate::web::login::{internal, read_form, see_other};
use crate::web::session::{self, SignedIn};
use crate::web::{error_page, esc, page};
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

/// The client or redirect URI is not trustworthy: answer here, never redirect.
fn no_redirect(json: bool, message: &str) -> Response {
    if json {
        json_response(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "invalid_request", "error_description": message }),
        )
    } else {
        error_page(StatusCode::BAD_REQUEST, "This link cannot be used", message)
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
        Ok(params) => flow(state, req, &params, json, None).await,
        Err(e) => no_redirect(json, &e.description),
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
            None => return no_redirect(true, "the body must be a JSON object of strings"),
        }
    } else {
        match read_form(body).await {
            Some(p) => p,
            None => return no_redirect(json, "the consent form could not be read"),
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
    flow(state, req, &params, json, Some((decision, csrf))).await
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
    decision: Option<(Option<String>, Option<String>)>,
) -> Response {
    match flow_inner(state, req, params, json, decision).await {
        Ok(resp) => resp,
        Err(e) => internal(e),
    }
}

async fn flow_inner(
    state: &AppState,
    req: &Request,
    params: &FormParams,
    json: bool,
    decision: Option<(Option<String>, Option<String>)>,
) -> Result<Response, StoreError> {
    let issuer = &state.settings.issuer;
    // Step 1: client and redirect URI (RFC 6749 §4.1.2.1: never redirect on failure).
    let row = match params.single("client_id").ok().flatten() {
        Some(id) => store::clients::find_client(&state.db, id).await?,
        None => None,
    };
    let registered = row.as_ref().map(ClientRow::to_registered).transpose()?;
    let redirect = match authorize::resolve_redirect(params, registered.as_ref()) {
        Ok(r) => r,
        Err(NoRedirect(message)) => return Ok(no_redirect(json, &message)),
    };
    let (Some(row), Some(client)) = (row, registered) else {
        return Ok(no_redirect(
            json,
            "there is no application with this client_id",
        ));
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

    // Step 2: the rest of the request.
    let request = match authorize::validate(
        params,
        &client,
        redirect,
        &state.settings.scopes,
        &state.policy,
    ) {
        Ok(r) => r,
        Err(e) => return Ok(fail(&e)),
    };

    let signed_in = session::current(state, req).await?;
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
            match (
                authorize::decide(&request, signed_in.is_some(), granted.as_ref()),
                signed_in,
            ) {
                (Decision::Login, _) => {
                    let next = format!("/oauth/authorize?{}", req.uri().query().unwrap_or(""));
                    let login = format!(
                        "/login?next={}",
                        percent_encoding::utf8_percent_encode(
                            &next,
                            percent_encoding::NON_ALPHANUMERIC
                        )
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
                (Decision::Consent, Some(s)) => {
                    Ok(consent(state, &row, &request, params, &s, json))
                }
                (Decision::Issue, Some(s)) => {
                    let uri = issue_code(state, &request, &s.user.id).await?;
                    Ok(to_client(json, &uri))
                }
                (Decision::Fail(e), _) => Ok(fail(&e)),
                (_, None) => Ok(no_redirect(json, "sign in first")),
            }
        }
        Some((decision, csrf)) => {
            let Some(s) = signed_in else {
                return Ok(if json {
                    json_response(
                        StatusCode::UNAUTHORIZED,
                        &json!({ "error": "login_required", "error_description": "the session has ended; sign in again" }),
                    )
                } else {
                    error_page(
                        StatusCode::UNAUTHORIZED,
                        "Your session has ended",
                        "Sign in again, then return to the application to start over.",
                    )
                });
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
                        StatusCode::FORBIDDEN,
                        "Request refused",
                        "This approval did not come from this server's consent page.",
                    )
                });
            }
            match decision.as_deref() {
                Some("approve") => {
                    remember_consent(state, &s.user.id, &request).await?;
                    let uri = issue_code(state, &request, &s.user.id).await?;
                    tracing::info!(client_id = %client.id, user_id = %s.user.id, scope = %request.scope, "authorization approved");
                    Ok(to_client(json, &uri))
                }
                Some("deny") => Ok(fail(&OAuthError::new(
                    ErrorCode::AccessDenied,
                    "the user denied the request",
                ))),
                _ => Ok(fail(&OAuthError::invalid_request(
                    "decision must be approve or deny",
                ))),
            }
        }
    }
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
    .await
}

/// Stores a new code (and its token family) and returns the redirect carrying it.
async fn issue_code(
    state: &AppState,
    request: &AuthorizeRequest,
    user_id: &str,
) -> Result<String, StoreError> {
    let code = url_token::<32>();
    let now = state.clock.now();
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
    };
    store::codes::insert_code(&state.db, &family, &row).await?;
    Ok(authorize::response_uri(
        &request.redirect_uri,
        &[("code", &code)],
        request.state.as_deref(),
        &state.settings.issuer,
    ))
}

fn host_of(uri: &str) -> String {
    url::Url::parse(uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| uri.to_owned())
}

/// The consent page, or its data as JSON.
fn consent(
    state: &AppState,
    client: &ClientRow,
    request: &AuthorizeRequest,
    params: &FormParams,
    signed_in: &SignedIn,
    json: bool,
) -> Response {
    let scopes: Vec<(String, String)> = request
        .scope
        .iter()
        .map(|name| {
            let description = state
                .settings
                .scopes
                .entries()
                .iter()
                .find(|e| e.name == name)
                .map_or_else(String::new, |e| e.description.clone());
            (name.to_owned(), description)
        })
        .collect();
    let redirect_host = host_of(&request.redirect_uri);
    if json {
        return json_response(
            StatusCode::OK,
            &json!({
                "client": {
                    "client_id": client.id,
                    "name": client.name,
                    "description": client.description,
                    "website": client.website,
                    "icon_url": client.icon_url,
                },
                "user": { "username": signed_in.user.username },
                "redirect_uri": request.redirect_uri,
                "redirect_host": redirect_host,
                "scopes": scopes.iter().map(|(n, d)| json!({"name": n, "description": d})).collect::<Vec<_>>(),
                "csrf_token": signed_in.session.csrf_token,
            }),
        );
    }
    let hidden: String = params
        .pairs()
        .iter()
        .filter(|(k, _)| k != "csrf_token" && k != "decision")
        .map(|(k, v)| {
            format!(
                r#"<input type="hidden" name="{}" value="{}">"#,
                esc(k),
                esc(v)
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let icon = client
        .icon_url
        .as_deref()
        .map(|u| format!(r#"<img src="{}" alt="">"#, esc(u)))
        .unwrap_or_default();
    let website = client
        .website
        .as_deref()
        .map(|w| {
            format!(
                r#"<div class="muted"><a href="{0}" rel="noopener noreferrer">{0}</a></div>"#,
                esc(w)
            )
        })
        .unwrap_or_default();
    let description = if client.description.is_empty() {
        String::new()
    } else {
        format!(r#"<p class="muted">{}</p>"#, esc(&client.description))
    };
    let scope_items: String = scopes
        .iter()
        .map(|(n, d)| format!("<li>{}<br><code>{}</code></li>", esc(d), esc(n)))
        .collect::<Vec<_>>()
        .join("\n");
    let body = format!(
        r#"<div class="app">{icon}<div><div class="name">{name}</div>{website}</div></div>
{description}
<h1>Allow {name} to access your account?</h1>
<p class="lead">Signed in as <strong>{user}</strong>. {name} will be able to:</p>
<ul class="scopes">
{scope_items}
</ul>
<p class="muted">You will be sent back to <strong>{host}</strong>.</p>
<form method="post" action="/oauth/authorize">
{hidden}
<input type="hidden" name="csrf_token" value="{csrf}">
<div class="actions">
<button type="submit" name="decision" value="deny">Deny</button>
<button class="primary" type="submit" name="decision" value="approve">Approve</button>
</div>
</form>"#,
        name = esc(&client.name),
        user = esc(&signed_in.user.username),
        host = esc(&redirect_host),
        csrf = esc(&signed_in.session.csrf_token),
    );
    page(StatusCode::OK, &format!("Authorize {}", client.name), &body)
}
