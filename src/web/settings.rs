//! `/settings/apps` and `/settings/authorized`: the management API's two halves as
//! pages. Plain forms posting back here, each carrying the session's CSRF token; the
//! same client rules as the API and the CLI (`crate::services::clients`).
//!
//! One file at ~630 lines: the settings pages share one form shape, one CSRF check and
//! one error rendering; their tests are the last few lines.

use super::login::{internal, read_form, see_other};
use super::session::{self, SignedIn};
use super::{error_page, render};
use crate::oauth::form::FormParams;
use crate::oauth::registration::ClientMetadata;
use crate::oauth::types::{ClientType, GrantType};
use crate::pages::views::{
    AppForm, AppItem, AppPage, AppSummary, AppsPage, AuthorizedPage, Choice, ErrorPage, GrantItem,
    SecretPage,
};
use crate::services::audit::{Actor, Event};
use crate::services::clients::{self, ClientError, Origin};
use crate::services::state::AppState;
use crate::store::models::ClientRow;
use crate::store::{self, StoreError};
use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};

/// The signed-in user, or the response that sends them to sign in.
async fn signed_in(state: &AppState, req: &Request) -> Result<SignedIn, Response> {
    match session::current(state, req).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(see_other(&super::login_url(req.uri().path()))),
        Err(e) => Err(internal(state, e)),
    }
}

/// A posted form from the signed-in user, with their CSRF token checked.
async fn posted(
    state: &AppState,
    req: &Request,
    body: Body,
) -> Result<(SignedIn, FormParams), Response> {
    let who = signed_in(state, req).await?;
    let path = req.uri().path();
    let Some(form) = read_form(body).await else {
        return Err(error_page(
            state,
            Some(who.view(path)),
            ErrorPage::new(
                StatusCode::BAD_REQUEST,
                "The form could not be read",
                "What your browser sent was not a form this page understands.",
                "Go back, reload the page and try again.",
            ),
        ));
    };
    let submitted = form.single("csrf_token").ok().flatten();
    if !session::csrf_matches(&who.session.csrf_token, submitted) {
        return Err(error_page(
            state,
            Some(who.view(path)),
            ErrorPage::new(
                StatusCode::FORBIDDEN,
                "Request refused",
                "The form did not come from this server's page in your current session, so nothing was changed.",
                "Reload the page and try again.",
            ),
        ));
    }
    Ok((who, form))
}

/// `YYYY-MM-DD HH:MM UTC` for seconds since the epoch.
fn utc(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// The create and edit forms' fields, filled from `meta`.
fn app_form(state: &AppState, meta: &ClientMetadata, creating: bool) -> AppForm {
    let scopes = state
        .settings
        .scopes
        .entries()
        .iter()
        .map(|e| Choice {
            value: e.name.clone(),
            label: e.description.clone(),
            checked: meta
                .scope
                .as_deref()
                .is_some_and(|s| s.split_whitespace().any(|x| x == e.name)),
        })
        .collect();
    let grant_types = [
        (
            GrantType::AuthorizationCode,
            "Authorization code (people sign in)",
        ),
        (GrantType::RefreshToken, "Refresh tokens"),
        (
            GrantType::ClientCredentials,
            "Client credentials (server to server)",
        ),
    ]
    .iter()
    .map(|(g, label)| Choice {
        value: g.as_str().to_owned(),
        label: (*label).to_owned(),
        checked: meta.grant_types.contains(g),
    })
    .collect();
    AppForm {
        name: meta.name.clone(),
        description: meta.description.clone(),
        website: meta.website.clone().unwrap_or_default(),
        icon_url: meta.icon_url.clone().unwrap_or_default(),
        redirect_uris: meta.redirect_uris.join("\n"),
        post_logout_redirect_uris: meta.post_logout_redirect_uris.join("\n"),
        creating,
        public: meta.public,
        grant_types,
        scopes,
    }
}

/// Client metadata from a submitted app form.
fn metadata_from(form: &FormParams, public: bool) -> Result<ClientMetadata, String> {
    let text = |name: &str| {
        form.single(name)
            .ok()
            .flatten()
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    let optional = |name: &str| Some(text(name)).filter(|s| !s.is_empty());
    let lines = |name: &str| -> Vec<String> {
        text(name)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let grant_types = form
        .all("grant_type")
        .map(|g| g.parse::<GrantType>().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let scopes: Vec<&str> = form.all("scope").collect();
    Ok(ClientMetadata {
        name: text("name"),
        description: text("description"),
        website: optional("website"),
        icon_url: optional("icon_url"),
        redirect_uris: lines("redirect_uris"),
        post_logout_redirect_uris: lines("post_logout_redirect_uris"),
        grant_types,
        scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
        public,
        application_type: None,
        keys: None,
        dpop_bound_access_tokens: false,
        require_pushed_authorization_requests: false,
    })
}

async fn apps_page(
    state: &AppState,
    who: &SignedIn,
    status: StatusCode,
    draft: &ClientMetadata,
    error: Option<&str>,
) -> Response {
    let rows = match store::clients::list_owned(&state.db, &who.user.id).await {
        Ok(r) => r,
        Err(e) => return internal(state, e),
    };
    let page = AppsPage {
        apps: rows
            .into_iter()
            .map(|r| AppItem {
                id: r.id,
                name: r.name,
                kind: r.client_type,
            })
            .collect(),
        form: app_form(state, draft, true),
        error: error.map(str::to_owned),
    };
    render(
        state,
        status,
        "apps.html",
        Some(who.view("/settings/apps")),
        &page,
    )
}

/// A secret shown once, selectable without scripts, with a copy button for
/// browsers that run ours.
fn secret_page(
    state: &AppState,
    who: &SignedIn,
    title: &str,
    row: &ClientRow,
    secret: Option<&str>,
    note: &str,
) -> Response {
    let page = SecretPage {
        title: title.to_owned(),
        note: note.to_owned(),
        client_id: row.id.clone(),
        client_secret: secret.map(str::to_owned),
    };
    render(
        state,
        StatusCode::OK,
        "app_secret.html",
        Some(who.view("/settings/apps")),
        &page,
    )
}

fn invalid_message(e: &ClientError) -> Option<String> {
    match e {
        ClientError::Invalid(err) => Some(err.description.to_string()),
        ClientError::Store(_) => None,
    }
}

/// `GET /settings/apps`
#[handler]
pub async fn apps(req: &Request, Data(state): Data<&AppState>) -> Response {
    match signed_in(state, req).await {
        Ok(who) => {
            apps_page(
                state,
                &who,
                StatusCode::OK,
                &ClientMetadata::default(),
                None,
            )
            .await
        }
        Err(resp) => resp,
    }
}

/// `POST /settings/apps`: create.
#[handler]
pub async fn create_app(req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let (who, form) = match posted(state, req, body).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let public = form.single("client_type").ok().flatten() == Some("public");
    let meta = match metadata_from(&form, public) {
        Ok(m) => m,
        Err(e) => {
            return apps_page(
                state,
                &who,
                StatusCode::BAD_REQUEST,
                &ClientMetadata::default(),
                Some(&e),
            )
            .await;
        }
    };
    let origin = Origin {
        owner_id: Some(who.user.id.clone()),
        ..Origin::default()
    };
    match clients::create_client(
        &state.db,
        &state.settings.scopes,
        meta.clone(),
        origin,
        state.clock.now(),
    )
    .await
    {
        Ok(created) => {
            state
                .audit(
                    Event::new("client.created", Actor::User(&who.user.id))
                        .subject(&created.row.id),
                )
                .await;
            tracing::info!(client_id = %created.row.id, user_id = %who.user.id, "app created");
            secret_page(
                state,
                &who,
                "App created",
                &created.row,
                created.client_secret.as_deref(),
                &format!("{} is ready.", created.row.name),
            )
        }
        Err(e) => match invalid_message(&e) {
            Some(msg) => apps_page(state, &who, StatusCode::BAD_REQUEST, &meta, Some(&msg)).await,
            None => internal(state, e),
        },
    }
}

/// The user's app `id`, or a 404 page (other people's apps look absent too).
async fn owned(state: &AppState, who: &SignedIn, id: &str) -> Result<ClientRow, Response> {
    match store::clients::find_client(&state.db, id).await {
        Ok(Some(row)) if row.owner_id.as_deref() == Some(who.user.id.as_str()) => Ok(row),
        Ok(_) => Err(error_page(
            state,
            Some(who.view("/settings/apps")),
            ErrorPage::new(
                StatusCode::NOT_FOUND,
                "No such app",
                "You have no app with this client ID.",
                "Pick the app from the list of your apps.",
            ),
        )),
        Err(e) => Err(internal(state, e)),
    }
}

/// A posted form about the user's app `id`: signed in, CSRF checked, app owned.
async fn posted_for_app(
    state: &AppState,
    req: &Request,
    id: &str,
    body: Body,
) -> Result<(SignedIn, FormParams, ClientRow), Response> {
    let (who, form) = posted(state, req, body).await?;
    let row = owned(state, &who, id).await?;
    Ok((who, form, row))
}

fn edit_page(
    state: &AppState,
    who: &SignedIn,
    row: &ClientRow,
    meta: &ClientMetadata,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let page = AppPage {
        app: AppSummary {
            id: row.id.clone(),
            name: row.name.clone(),
            kind: row.client_type.clone(),
            confidential: row.client_type == ClientType::Confidential.as_str(),
            signs_with_key: row.uses_keys(),
        },
        form: app_form(state, meta, false),
        error: error.map(str::to_owned),
    };
    let path = format!("/settings/apps/{}", row.id);
    render(state, status, "app.html", Some(who.view(&path)), &page)
}

/// `GET /settings/apps/{id}`
#[handler]
pub async fn app(req: &Request, Path(id): Path<String>, Data(state): Data<&AppState>) -> Response {
    let who = match signed_in(state, req).await {
        Ok(w) => w,
        Err(resp) => return resp,
    };
    let row = match owned(state, &who, &id).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match clients::metadata_of(&row) {
        Ok(meta) => edit_page(state, &who, &row, &meta, StatusCode::OK, None),
        Err(e) => internal(state, e),
    }
}

/// `POST /settings/apps/{id}`: save changes.
#[handler]
pub async fn update_app(
    req: &Request,
    Path(id): Path<String>,
    body: Body,
    Data(state): Data<&AppState>,
) -> Response {
    let (who, form, row) = match posted_for_app(state, req, &id, body).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let public = row.client_type == ClientType::Public.as_str();
    // The page does not edit keys: a private_key_jwt app keeps the ones it has
    // (they are changed through the apps API).
    let submitted = metadata_from(&form, public).and_then(|meta| {
        Ok(ClientMetadata {
            keys: clients::keys_of(&row).map_err(|e| e.to_string())?,
            dpop_bound_access_tokens: row.dpop_bound_access_tokens,
            require_pushed_authorization_requests: row.require_pushed_authorization_requests,
            ..meta
        })
    });
    let refused = match &submitted {
        Ok(meta) => match clients::update_client(
            &state.db,
            &state.settings.scopes,
            &row,
            meta.clone(),
            row.token_endpoint_auth_method.clone(),
            false,
            state.clock.now(),
        )
        .await
        {
            Ok(_) => {
                state.client_cache.invalidate(&row.id);
                state
                    .audit(Event::new("client.updated", Actor::User(&who.user.id)).subject(&row.id))
                    .await;
                return see_other(&format!("/settings/apps/{id}"));
            }
            Err(e) => match invalid_message(&e) {
                Some(msg) => msg,
                None => return internal(state, e),
            },
        },
        Err(msg) => msg.clone(),
    };
    // Show the form again with what was submitted (or, if it could not be read, the
    // stored values) and why it was refused.
    let shown = match submitted {
        Ok(meta) => meta,
        Err(_) => match clients::metadata_of(&row) {
            Ok(current) => current,
            Err(e) => return internal(state, e),
        },
    };
    edit_page(
        state,
        &who,
        &row,
        &shown,
        StatusCode::BAD_REQUEST,
        Some(&refused),
    )
}

/// `POST /settings/apps/{id}/secret`: rotate, and show the new secret once.
#[handler]
pub async fn rotate_secret(
    req: &Request,
    Path(id): Path<String>,
    body: Body,
    Data(state): Data<&AppState>,
) -> Response {
    let (who, _, row) = match posted_for_app(state, req, &id, body).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    match clients::rotate_secret(&state.db, &row.id, state.clock.now()).await {
        Ok(Some(secret)) => {
            state.client_cache.invalidate(&row.id);
            state
                .audit(
                    Event::new("client.secret_rotated", Actor::User(&who.user.id)).subject(&row.id),
                )
                .await;
            tracing::info!(client_id = %row.id, user_id = %who.user.id, "app secret rotated");
            secret_page(
                state,
                &who,
                "New secret",
                &row,
                Some(&secret),
                "The previous secret no longer works.",
            )
        }
        Ok(None) => error_page(
            state,
            Some(who.view("/settings/apps")),
            ErrorPage::new(
                StatusCode::CONFLICT,
                "No secret",
                "Public apps, and apps that sign with their own key (private_key_jwt), have no secret to rotate.",
                "Go back to the app's page.",
            ),
        ),
        Err(e) => internal(state, e),
    }
}

/// `POST /settings/apps/{id}/delete`
#[handler]
pub async fn delete_app(
    req: &Request,
    Path(id): Path<String>,
    body: Body,
    Data(state): Data<&AppState>,
) -> Response {
    let (who, _, row) = match posted_for_app(state, req, &id, body).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    match store::clients::delete_client(&state.db, &row.id).await {
        Ok(_) => {
            state.client_cache.invalidate(&row.id);
            state
                .audit(Event::new("client.deleted", Actor::User(&who.user.id)).subject(&row.id))
                .await;
            tracing::info!(client_id = %row.id, user_id = %who.user.id, "app deleted");
            see_other("/settings/apps")
        }
        Err(e) => internal(state, e),
    }
}

async fn authorized_page(state: &AppState, who: &SignedIn) -> Result<Response, StoreError> {
    let grants = store::grants::list_grants(&state.db, &who.user.id).await?;
    let page = AuthorizedPage {
        grants: grants
            .into_iter()
            .map(|g| GrantItem {
                scopes: g
                    .consent
                    .scopes
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                first_authorized: utc(g.consent.created_at),
                last_used: g.last_used_at.map(utc),
                revoke_path: format!(
                    "/settings/authorized/{}/revoke",
                    percent_encoding::utf8_percent_encode(
                        &g.consent.client_id,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                ),
                client_id: g.consent.client_id,
                name: g.client_name,
            })
            .collect(),
    };
    Ok(render(
        state,
        StatusCode::OK,
        "authorized.html",
        Some(who.view("/settings/authorized")),
        &page,
    ))
}

/// `GET /settings/authorized`
#[handler]
pub async fn authorized(req: &Request, Data(state): Data<&AppState>) -> Response {
    let who = match signed_in(state, req).await {
        Ok(w) => w,
        Err(resp) => return resp,
    };
    authorized_page(state, &who)
        .await
        .unwrap_or_else(|e| internal(state, e))
}

/// `POST /settings/authorized/{client_id}/revoke`
#[handler]
pub async fn revoke(
    req: &Request,
    Path(client_id): Path<String>,
    body: Body,
    Data(state): Data<&AppState>,
) -> Response {
    let (who, _) = match posted(state, req, body).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    match store::grants::revoke_grant(&state.db, &who.user.id, &client_id, state.clock.now()).await
    {
        Ok(_) => {
            state
                .audit(
                    Event::new("consent.revoked", Actor::User(&who.user.id))
                        .subject(&client_id)
                        .address(crate::http::limits::caller_address(state, req)),
                )
                .await;
            tracing::info!(client_id = %client_id, user_id = %who.user.id, "grant revoked");
            see_other("/settings/authorized")
        }
        Err(e) => internal(state, e),
    }
}

/// `GET /assets/copy.js`: shows the copy buttons and copies on click. Without it the
/// values stay in read-only fields, selectable by hand.
pub const COPY_JS: &str = r#"document.querySelectorAll("button.copy").forEach(function (button) {
  var field = document.getElementById(button.dataset.copy);
  if (!field) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    field.select();
    var done = function () { button.textContent = "Copied"; };
    var fallback = function () { if (document.execCommand("copy")) { done(); } };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(field.value).then(done, fallback);
    } else {
      fallback();
    }
  });
});
"#;

#[handler]
pub fn copy_js() -> Response {
    Response::builder()
        .content_type("text/javascript; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=86400")
        .body(COPY_JS)
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_795_000_000), "2026-11-18 11:06 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
    }
}
