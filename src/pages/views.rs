//! What each page's template receives, besides the variables every page gets (see
//! `templates/layout.html`). Field names here are the names template overrides use,
//! so they are part of what the README documents.

use serde::Serialize;

/// `login.html`
#[derive(Debug, Serialize)]
pub struct LoginPage {
    pub next: String,
    pub username: String,
    pub error: Option<String>,
    pub csrf_token: String,
    /// An app asked the person to confirm who they are (`prompt=login`, `max_age`)
    /// although they are signed in.
    pub again: bool,
}

/// `consent.html`
#[derive(Debug, Serialize)]
pub struct ConsentPage {
    pub client: ConsentClient,
    /// The scopes asked for that the person has not granted this app yet.
    pub scopes: Vec<ScopeView>,
    /// The scopes asked for that the person granted this app before.
    pub already: Vec<ScopeView>,
    /// The authorization request, posted back with the decision.
    pub params: Vec<(String, String)>,
    pub csrf_token: String,
}

/// The app asking, as the consent page shows it.
#[derive(Debug, Serialize)]
pub struct ConsentClient {
    pub client_id: String,
    pub name: String,
    pub description: String,
    pub website: Option<String>,
    pub logo_url: Option<String>,
    /// Where the person will be sent: the redirect URI's host, or for an app's
    /// private-use scheme the scheme and authority (`cursor://anysphere.cursor-mcp`).
    pub redirect_host: String,
    /// The redirect URI opens an app on the person's device, not a web site.
    pub redirect_to_app: bool,
    /// Registered by the operator (CLI), rather than by itself or one of the users.
    pub verified: bool,
    /// For a client known by its metadata document: the host of its URL, the one
    /// thing about it that is not its own claim.
    pub document_host: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ScopeView {
    pub name: String,
    pub description: String,
}

/// `error.html`
#[derive(Debug, Serialize)]
pub struct ErrorPage {
    pub status: u16,
    pub title: String,
    /// What happened.
    pub message: String,
    /// What to do about it.
    pub advice: String,
    /// The technical reason, when there is one worth showing.
    pub detail: Option<String>,
}

/// `apps.html`
#[derive(Debug, Serialize)]
pub struct AppsPage {
    pub apps: Vec<AppItem>,
    pub form: AppForm,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AppItem {
    pub id: String,
    pub name: String,
    /// `confidential` or `public`.
    pub kind: String,
}

/// `app.html`
#[derive(Debug, Serialize)]
pub struct AppPage {
    pub app: AppSummary,
    pub form: AppForm,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AppSummary {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub confidential: bool,
    /// It authenticates with `private_key_jwt`: its own key, no secret.
    pub signs_with_key: bool,
}

/// The fields of the app create and edit forms (`app_fields.html`).
#[derive(Debug, Serialize)]
pub struct AppForm {
    pub name: String,
    pub description: String,
    pub website: String,
    pub icon_url: String,
    /// One per line.
    pub redirect_uris: String,
    /// One per line.
    pub post_logout_redirect_uris: String,
    pub creating: bool,
    pub public: bool,
    pub grant_types: Vec<Choice>,
    pub scopes: Vec<Choice>,
}

/// A checkbox: its value, its label, whether it is ticked.
#[derive(Debug, Serialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

/// `app_secret.html`
#[derive(Debug, Serialize)]
pub struct SecretPage {
    pub title: String,
    pub note: String,
    pub client_id: String,
    pub client_secret: Option<String>,
}

/// `authorized.html`
#[derive(Debug, Serialize)]
pub struct AuthorizedPage {
    pub grants: Vec<GrantItem>,
}

#[derive(Debug, Serialize)]
pub struct GrantItem {
    pub client_id: String,
    /// Where its revoke form posts: the client id percent-encoded as one path
    /// segment (a metadata document client's id is a URL).
    pub revoke_path: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub first_authorized: String,
    pub last_used: Option<String>,
}

/// `logout.html`: a relying party asked to sign the person out without proving
/// the session; they confirm.
#[derive(Debug, Serialize)]
pub struct LogoutPage {
    /// The app that asked, when it named itself.
    pub client_name: Option<String>,
    /// The sign-out request, as name/value pairs to post back.
    pub params: Vec<(String, String)>,
    pub csrf_token: String,
}

/// `signed_out.html`: signed out, and no app to go back to.
#[derive(Debug, Serialize)]
pub struct SignedOutPage {
    /// The app that asked, when it named itself.
    pub client_name: Option<String>,
}
