//! `/settings/apps` and `/settings/authorized`: the management API's two halves as
//! pages. Plain forms posting back here, each carrying the session's CSRF token; the
//! same client rules as the API and the CLI (`crate::clients`).

use super::esc;
use super::login::{internal, read_form, see_other};
use super::session::{self, SignedIn};
use crate::app::AppState;
use crate::clients::{self, ClientError, Origin};
use crate::oauth::form::FormParams;
use crate::oauth::registration::ClientMetadata;
use crate::oauth::types::{ClientType, GrantType};
use crate::store::models::ClientRow;
use crate::store::{self, StoreError};
use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};

/// Settings pages run one script of ours (the copy button); nothing else.
const SETTINGS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn settings_page(status: StatusCode, title: &str, body: &str) -> Response {
    let mut resp = super::page_in(status, title, body, "card wide");
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(SETTINGS_CSP),
    );
    resp
}

fn nav(current: &str) -> String {
    let link = |href: &str, label: &str| {
        if href == current {
            format!(r#"<a href="{href}" aria-current="page">{label}</a>"#)
        } else {
            format!(r#"<a href="{href}">{label}</a>"#)
        }
    };
    format!(
        r#"<nav class="tabs">{} {} <a href="/account">Account</a></nav>"#,
        link("/settings/apps", "Your apps"),
        link("/settings/authorized", "Authorized apps")
    )
}

/// The signed-in user, or the response that sends them to sign in.
async fn signed_in(state: &AppState, req: &Request) -> Result<SignedIn, Response> {
    match session::current(state, req).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => {
            let next = percent_encoding::utf8_percent_encode(
                req.uri().path(),
                percent_encoding::NON_ALPHANUMERIC,
            );
            Err(see_other(&format!("/login?next={next}")))
        }
        Err(e) => Err(internal(e)),
    }
}

/// A posted form from the signed-in user, with their CSRF token checked.
async fn posted(
    state: &AppState,
    req: &Request,
    body: Body,
) -> Result<(SignedIn, FormParams), Response> {
    let who = signed_in(state, req).await?;
    let Some(form) = read_form(body).await else {
        return Err(super::error_page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "The form could not be read.",
        ));
    };
    let submitted = form.single("csrf_token").ok().flatten();
    if !session::csrf_matches(&who.session.csrf_token, submitted) {
        return Err(super::error_page(
            StatusCode::FORBIDDEN,
            "Request refused",
            "The form did not come from this server's page. Reload the page and try again.",
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

/// The app fields of the create and edit forms.
fn app_fields(state: &AppState, meta: &ClientMetadata, creating: bool) -> String {
    let scopes: String = state
        .settings
        .scopes
        .entries()
        .iter()
        .map(|e| {
            let checked = match &meta.scope {
                Some(s) => s.split_whitespace().any(|x| x == e.name),
                None => false,
            };
            format!(
                r#"<label class="check"><input type="checkbox" name="scope" value="{n}"{c}> <code>{n}</code> <span class="muted">{d}</span></label>"#,
                n = esc(&e.name),
                d = esc(&e.description),
                c = if checked { " checked" } else { "" }
            )
        })
        .collect();
    let grants: String = [
        (GrantType::AuthorizationCode, "Authorization code (people sign in)"),
        (GrantType::RefreshToken, "Refresh tokens"),
        (GrantType::ClientCredentials, "Client credentials (server to server)"),
    ]
    .iter()
    .map(|(g, label)| {
        format!(
            r#"<label class="check"><input type="checkbox" name="grant_type" value="{v}"{c}> {label}</label>"#,
            v = g.as_str(),
            c = if meta.grant_types.contains(g) { " checked" } else { "" }
        )
    })
    .collect();
    let client_type = if creating {
        format!(
            r#"<fieldset><legend>Type</legend>
<label class="check"><input type="radio" name="client_type" value="confidential"{}> Confidential: runs on a server and keeps a secret</label>
<label class="check"><input type="radio" name="client_type" value="public"{}> Public: browser, desktop or CLI app; no secret, PKCE required</label>
</fieldset>"#,
            if meta.public { "" } else { " checked" },
            if meta.public { " checked" } else { "" }
        )
    } else {
        String::new()
    };
    format!(
        r#"<label for="name">Name</label>
<input type="text" id="name" name="name" value="{name}" maxlength="100" required>
<label for="description">Description</label>
<input type="text" id="description" name="description" value="{description}" maxlength="1000">
<label for="website">Website</label>
<input type="text" id="website" name="website" value="{website}" placeholder="https://">
<label for="icon_url">Icon URL</label>
<input type="text" id="icon_url" name="icon_url" value="{icon_url}" placeholder="https://">
<label for="redirect_uris">Redirect URIs, one per line</label>
<textarea id="redirect_uris" name="redirect_uris" rows="3" placeholder="https://app.example/callback">{redirects}</textarea>
{client_type}
<fieldset><legend>Grant types</legend>{grants}<p class="muted">None ticked: the usual ones for the app's type.</p></fieldset>
<fieldset><legend>Scopes</legend>{scopes}<p class="muted">None ticked: every scope.</p></fieldset>"#,
        name = esc(&meta.name),
        description = esc(&meta.description),
        website = esc(meta.website.as_deref().unwrap_or("")),
        icon_url = esc(meta.icon_url.as_deref().unwrap_or("")),
        redirects = esc(&meta.redirect_uris.join("\n")),
    )
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
        redirect_uris: text("redirect_uris")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        grant_types,
        scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
        public,
    })
}

fn error_html(error: Option<&str>) -> String {
    error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, esc(e)))
        .unwrap_or_default()
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
        Err(e) => return internal(e),
    };
    let list = if rows.is_empty() {
        r#"<p class="muted">You have no apps yet.</p>"#.to_owned()
    } else {
        let items: String = rows
            .iter()
            .map(|r| {
                format!(
                    r#"<li><div><a class="name" href="/settings/apps/{id}">{name}</a> <span class="badge">{kind}</span><br><code>{id}</code></div></li>"#,
                    id = esc(&r.id),
                    name = esc(&r.name),
                    kind = esc(&r.client_type),
                )
            })
            .collect();
        format!(r#"<ul class="items">{items}</ul>"#)
    };
    let body = format!(
        r#"{nav}
<h1>Your apps</h1>
<p class="lead">OAuth applications you own, signed in as {user}.</p>
{list}
<h2>Create an app</h2>
<form method="post" action="/settings/apps">
<input type="hidden" name="csrf_token" value="{csrf}">
{fields}
{error}
<div class="actions"><button class="primary" type="submit">Create app</button></div>
</form>"#,
        nav = nav("/settings/apps"),
        user = esc(&who.user.username),
        csrf = esc(&who.session.csrf_token),
        fields = app_fields(state, draft, true),
        error = error_html(error),
    );
    settings_page(status, "Your apps", &body)
}

/// A secret shown once, selectable without scripts, with a copy button for
/// browsers that run ours.
fn secret_page(title: &str, row: &ClientRow, secret: Option<&str>, note: &str) -> Response {
    let secret_html = secret
        .map(|s| {
            format!(
                r#"<label for="client_secret">Client secret</label>
<div class="copyable"><input type="text" id="client_secret" class="secret" value="{s}" readonly spellcheck="false"><button type="button" class="copy" data-copy="client_secret" hidden>Copy</button></div>
<p class="warning">Copy the secret now: it is shown only once and cannot be recovered.</p>"#,
                s = esc(s)
            )
        })
        .unwrap_or_default();
    let body = format!(
        r#"{nav}
<h1>{title}</h1>
<p class="lead">{note}</p>
<label for="client_id">Client ID</label>
<div class="copyable"><input type="text" id="client_id" class="secret" value="{id}" readonly spellcheck="false"><button type="button" class="copy" data-copy="client_id" hidden>Copy</button></div>
{secret_html}
<div class="actions"><a class="button" href="/settings/apps/{id}">Done</a></div>
<script src="/assets/copy.js"></script>"#,
        nav = nav("/settings/apps"),
        title = esc(title),
        note = esc(note),
        id = esc(&row.id),
    );
    settings_page(StatusCode::OK, title, &body)
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
            tracing::info!(client_id = %created.row.id, user_id = %who.user.id, "app created");
            secret_page(
                "App created",
                &created.row,
                created.client_secret.as_deref(),
                &format!("{} is ready.", created.row.name),
            )
        }
        Err(e) => match invalid_message(&e) {
            Some(msg) => apps_page(state, &who, StatusCode::BAD_REQUEST, &meta, Some(&msg)).await,
            None => internal(e),
        },
    }
}

/// The user's app `id`, or a 404 page (other people's apps look absent too).
async fn owned(state: &AppState, who: &SignedIn, id: &str) -> Result<ClientRow, Response> {
    match store::clients::find_client(&state.db, id).await {
        Ok(Some(row)) if row.owner_id.as_deref() == Some(who.user.id.as_str()) => Ok(row),
        Ok(_) => Err(super::error_page(
            StatusCode::NOT_FOUND,
            "No such app",
            "You have no app with this client ID.",
        )),
        Err(e) => Err(internal(e)),
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
    let csrf = esc(&who.session.csrf_token);
    let id = esc(&row.id);
    let rotate = if row.client_type == ClientType::Confidential.as_str() {
        format!(
            r#"<form method="post" action="/settings/apps/{id}/secret">
<input type="hidden" name="csrf_token" value="{csrf}">
<h2>Client secret</h2>
<p class="muted">Rotating makes a new secret; the current one stops working at once.</p>
<div class="actions"><button type="submit">Rotate secret</button></div>
</form>"#
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"{nav}
<h1>{name}</h1>
<p class="lead"><span class="badge">{kind}</span> <code>{id}</code></p>
<form method="post" action="/settings/apps/{id}">
<input type="hidden" name="csrf_token" value="{csrf}">
{fields}
{error}
<div class="actions"><button class="primary" type="submit">Save changes</button></div>
</form>
{rotate}
<form method="post" action="/settings/apps/{id}/delete">
<input type="hidden" name="csrf_token" value="{csrf}">
<h2>Delete</h2>
<p class="muted">Deleting the app signs it out everywhere: its tokens stop working.</p>
<div class="actions"><button class="danger" type="submit">Delete app</button></div>
</form>"#,
        nav = nav("/settings/apps"),
        name = esc(&row.name),
        kind = esc(&row.client_type),
        fields = app_fields(state, meta, false),
        error = error_html(error),
    );
    settings_page(status, &row.name, &body)
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
        Err(e) => internal(e),
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
    let submitted = metadata_from(&form, public);
    let refused = match &submitted {
        Ok(meta) => match clients::update_client(
            &state.db,
            &state.settings.scopes,
            &row,
            meta.clone(),
            row.token_endpoint_auth_method.clone(),
            state.clock.now(),
        )
        .await
        {
            Ok(_) => {
                state.client_cache.invalidate(&row.id);
                return see_other(&format!("/settings/apps/{id}"));
            }
            Err(e) => match invalid_message(&e) {
                Some(msg) => msg,
                None => return internal(e),
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
            Err(e) => return internal(e),
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
            tracing::info!(client_id = %row.id, user_id = %who.user.id, "app secret rotated");
            secret_page(
                "New secret",
                &row,
                Some(&secret),
                "The previous secret no longer works.",
            )
        }
        Ok(None) => super::error_page(
            StatusCode::CONFLICT,
            "No secret",
            "Public apps have no secret to rotate.",
        ),
        Err(e) => internal(e),
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
            tracing::info!(client_id = %row.id, user_id = %who.user.id, "app deleted");
            see_other("/settings/apps")
        }
        Err(e) => internal(e),
    }
}

async fn authorized_page(state: &AppState, who: &SignedIn) -> Result<Response, StoreError> {
    let grants = store::grants::list_grants(&state.db, &who.user.id).await?;
    let csrf = esc(&who.session.csrf_token);
    let list = if grants.is_empty() {
        r#"<p class="muted">You have not authorized any apps.</p>"#.to_owned()
    } else {
        let items: String = grants
            .iter()
            .map(|g| {
                let scopes: String = g
                    .consent
                    .scopes
                    .split_whitespace()
                    .map(|s| format!("<code>{}</code> ", esc(s)))
                    .collect();
                let last = g
                    .last_used_at
                    .map(|t| format!("last used {}", utc(t)))
                    .unwrap_or_else(|| "never used".to_owned());
                format!(
                    r#"<li><div><span class="name">{name}</span><br>{scopes}<br><span class="muted">Authorized {first}, {last}</span></div>
<form method="post" action="/settings/authorized/{id}/revoke"><input type="hidden" name="csrf_token" value="{csrf}"><button class="danger" type="submit" aria-label="Revoke {name}">Revoke</button></form></li>"#,
                    name = esc(&g.client_name),
                    id = esc(&g.consent.client_id),
                    first = utc(g.consent.created_at),
                )
            })
            .collect();
        format!(r#"<ul class="items">{items}</ul>"#)
    };
    let body = format!(
        r#"{nav}
<h1>Authorized apps</h1>
<p class="lead">Apps that can act for you. Revoking one signs it out: it must ask again.</p>
{list}"#,
        nav = nav("/settings/authorized"),
    );
    Ok(settings_page(StatusCode::OK, "Authorized apps", &body))
}

/// `GET /settings/authorized`
#[handler]
pub async fn authorized(req: &Request, Data(state): Data<&AppState>) -> Response {
    let who = match signed_in(state, req).await {
        Ok(w) => w,
        Err(resp) => return resp,
    };
    authorized_page(state, &who).await.unwrap_or_else(internal)
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
            tracing::info!(client_id = %client_id, user_id = %who.user.id, "grant revoked");
            see_other("/settings/authorized")
        }
        Err(e) => internal(e),
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
