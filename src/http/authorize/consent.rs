//! The consent page of `/oauth/authorize`, or its data as JSON for an SPA that
//! draws its own: the app, where the person will be sent, the scopes asked for
//! (on a step-up only the new ones) and those allowed before.

use super::json_response;
use crate::oauth::authorize::AuthorizeRequest;
use crate::oauth::form::FormParams;
use crate::oauth::redirect_uri;
use crate::oauth::scope::ScopeSet;
use crate::pages::views::{ConsentClient, ConsentPage, ScopeView};
use crate::services::state::AppState;
use crate::store::models::ClientRow;
use crate::web::render;
use crate::web::session::SignedIn;
use poem::Response;
use poem::http::StatusCode;
use serde_json::json;

/// What the consent page is about.
pub(super) struct ConsentFor<'a> {
    pub(super) client: &'a ClientRow,
    /// The host of a metadata document client's URL.
    pub(super) document_host: Option<&'a str>,
    pub(super) request: &'a AuthorizeRequest,
    /// What the person already granted this client, if anything.
    pub(super) granted: Option<&'a ScopeSet>,
    pub(super) params: &'a FormParams,
    pub(super) signed_in: &'a SignedIn,
}

/// The consent page, or its data as JSON.
pub(super) fn consent(state: &AppState, page: &ConsentFor<'_>, next: &str, json: bool) -> Response {
    let ConsentFor {
        client,
        document_host,
        request,
        granted,
        params,
        signed_in,
    } = *page;
    let view = |name: &str| ScopeView {
        name: name.to_owned(),
        description: state
            .settings
            .scopes
            .entries()
            .iter()
            .find(|e| e.name == name)
            .map_or_else(String::new, |e| e.description.clone()),
    };
    // A step-up (a wider scope for an app already allowed some) asks only for
    // what is new; what was granted before is named, not asked again.
    let (already, scopes): (Vec<&str>, Vec<&str>) = request
        .scope
        .iter()
        .partition(|name| granted.is_some_and(|g| g.contains(name)));
    let already: Vec<ScopeView> = already.into_iter().map(view).collect();
    let scopes: Vec<ScopeView> = scopes.into_iter().map(view).collect();
    let redirect_host = redirect_uri::destination(&request.redirect_uri);
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
                    "verified": !client.self_registered(),
                    "document_host": document_host,
                },
                "user": { "username": signed_in.user.username },
                "redirect_uri": request.redirect_uri,
                "redirect_host": redirect_host,
                "scopes": scopes.iter().chain(&already).map(|s| json!({"name": s.name, "description": s.description})).collect::<Vec<_>>(),
                "already_granted": already.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
                "csrf_token": signed_in.session.csrf_token,
            }),
        );
    }
    let page = ConsentPage {
        client: ConsentClient {
            client_id: client.id.clone(),
            name: client.name.clone(),
            description: client.description.clone(),
            website: client.website.clone(),
            logo_url: client.icon_url.clone(),
            redirect_host,
            redirect_to_app: redirect_uri::is_private_use(&request.redirect_uri),
            verified: !client.self_registered(),
            document_host: document_host.map(str::to_owned),
        },
        scopes,
        already,
        params: params
            .pairs()
            .iter()
            .filter(|(k, _)| k != "csrf_token" && k != "decision")
            .cloned()
            .collect(),
        csrf_token: signed_in.session.csrf_token.clone(),
    };
    render(
        state,
        StatusCode::OK,
        "consent.html",
        Some(signed_in.view(next)),
        &page,
    )
}
