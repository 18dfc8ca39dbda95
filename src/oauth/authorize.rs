//! The authorization endpoint (RFC 6749 §4.1.1–4.1.2, OAuth 2.1 §4.1, RFC 9207).
//!
//! Three steps: resolve the client and redirect URI (failures never redirect, since
//! the URI is not trusted yet); validate the rest of the request (failures redirect
//! back with `error`, `state` and `iss`); then decide, given who is signed in and
//! what they already granted, whether to ask for login, ask for consent, or issue.

use super::OAuthError;
use super::claims::TokenPolicy;
use super::form::FormParams;
use super::pkce::{self, CodeChallenge};
use super::redirect_uri;
use super::scope::{ScopeCatalogue, ScopeSet};
use super::types::{ClientId, ClientType, GrantType, RegisteredClient};
use url::Url;

/// An authorization request that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub client_id: ClientId,
    /// The redirect URI responses go to (the requested one, or the only registered one).
    pub redirect_uri: String,
    /// Whether `redirect_uri` was in the request; then the token request must repeat it.
    pub redirect_uri_explicit: bool,
    pub scope: ScopeSet,
    pub resources: Vec<String>,
    pub state: Option<String>,
    pub code_challenge: Option<CodeChallenge>,
    pub prompt: Prompt,
}

/// The `prompt` parameter (OpenID Connect Core §3.1.2.1), as far as it applies here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// Ask only when needed.
    Default,
    /// Never show a page: fail with `login_required` / `consent_required` instead.
    None,
    /// Show the consent page even if consent was given before.
    Consent,
}

/// A failure about the client or redirect URI: shown on an error page, never sent to
/// the redirect URI (RFC 6749 §4.1.2.1), which would make this an open redirector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoRedirect(pub NoRedirectKind, pub String);

/// Why there is no redirect URI to answer on: each asks the person for something
/// different.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRedirectKind {
    /// The request itself is malformed (a parameter missing or repeated).
    Malformed,
    /// `client_id` names no registered client.
    UnknownClient,
    /// The redirect URI is not one the client registered (or none can be chosen).
    RedirectUri,
}

const MAX_STATE: usize = 2048;

/// Step 1: the redirect URI to answer on, given the registered client (`None` when
/// `client_id` names no client).
pub fn resolve_redirect(
    params: &FormParams,
    client: Option<&RegisteredClient>,
) -> Result<(String, bool), NoRedirect> {
    let single = |name: &str| {
        params
            .single(name)
            .map_err(|e| NoRedirect(NoRedirectKind::Malformed, e.description.into_owned()))
    };
    if single("client_id")?.is_none() {
        return Err(NoRedirect(
            NoRedirectKind::Malformed,
            "the client_id parameter is missing".to_owned(),
        ));
    }
    let client = client.ok_or_else(|| {
        NoRedirect(
            NoRedirectKind::UnknownClient,
            "there is no application with this client_id".to_owned(),
        )
    })?;
    match single("redirect_uri")? {
        Some(requested) => {
            if client
                .redirect_uris
                .iter()
                .any(|r| redirect_uri::matches(r, requested))
            {
                Ok((requested.to_owned(), true))
            } else {
                Err(NoRedirect(
                    NoRedirectKind::RedirectUri,
                    "the redirect_uri is not registered for this application".to_owned(),
                ))
            }
        }
        // OAuth 2.1 §4.1.1: optional only when exactly one URI is registered.
        None => match client.redirect_uris.as_slice() {
            [only] => Ok((only.clone(), false)),
            [] => Err(NoRedirect(
                NoRedirectKind::RedirectUri,
                "this application has no redirect URI registered".to_owned(),
            )),
            _ => Err(NoRedirect(
                NoRedirectKind::RedirectUri,
                "redirect_uri is required: this application registered several".to_owned(),
            )),
        },
    }
}

/// Step 2: everything else. Errors here are sent to the redirect URI.
pub fn validate(
    params: &FormParams,
    client: &RegisteredClient,
    redirect: (String, bool),
    catalogue: &ScopeCatalogue,
    policy: &TokenPolicy,
) -> Result<AuthorizeRequest, OAuthError> {
    match params.single("response_type")? {
        Some("code") => {}
        Some(other) => {
            return Err(OAuthError::new(
                super::ErrorCode::UnsupportedResponseType,
                format!(
                    "response_type `{}` is not supported; use code",
                    other.escape_default()
                ),
            ));
        }
        None => return Err(OAuthError::invalid_request("response_type is required")),
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client(
            "this application may not use the authorization code flow",
        ));
    }

    let code_challenge = pkce::parse_challenge(
        params.single("code_challenge")?,
        params.single("code_challenge_method")?,
    )?;
    // OAuth 2.1 §7.5.1: a public client cannot authenticate at the token endpoint,
    // so PKCE is what binds the code to the party that asked for it.
    if client.client_type == ClientType::Public && code_challenge.is_none() {
        return Err(OAuthError::invalid_request(
            "PKCE is required for public clients: send code_challenge and code_challenge_method=S256",
        ));
    }

    let scope = match params.single("scope")? {
        Some(raw) => ScopeSet::parse(raw)?,
        None => ScopeSet::default(),
    };
    if scope.is_empty() {
        return Err(OAuthError::invalid_scope("the scope parameter is required"));
    }
    catalogue.check_known(&scope)?;
    if let Some(denied) = scope.difference(&client.scopes).next() {
        return Err(OAuthError::invalid_scope(format!(
            "this application may not ask for the scope `{denied}`"
        )));
    }

    let resources: Vec<String> = params.all("resource").map(str::to_owned).collect();
    policy.audience(&resources)?;

    let state = params.single("state")?.map(str::to_owned);
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(OAuthError::invalid_request(format!(
            "state is longer than {MAX_STATE} bytes"
        )));
    }

    let prompt = match params.single("prompt")? {
        None => Prompt::Default,
        Some(p) => {
            let values: Vec<&str> = p.split(' ').filter(|v| !v.is_empty()).collect();
            if values.contains(&"none") {
                if values.len() > 1 {
                    return Err(OAuthError::invalid_request(
                        "prompt=none cannot be combined with other values",
                    ));
                }
                Prompt::None
            } else if values.contains(&"consent") {
                Prompt::Consent
            } else {
                Prompt::Default
            }
        }
    };

    Ok(AuthorizeRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect.0,
        redirect_uri_explicit: redirect.1,
        scope,
        resources,
        state,
        code_challenge,
        prompt,
    })
}

/// What to do with a valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nobody is signed in: send the browser to the login page.
    Login,
    /// Show the consent page.
    Consent,
    /// Consent already covers the request: issue a code without asking.
    Issue,
    /// `prompt=none` and a page would be needed.
    Fail(OAuthError),
}

/// Step 3, given whether someone is signed in and the scopes they already granted
/// this client.
pub fn decide(request: &AuthorizeRequest, signed_in: bool, granted: Option<&ScopeSet>) -> Decision {
    let covered = granted.is_some_and(|g| request.scope.is_subset(g));
    match (signed_in, request.prompt) {
        (false, Prompt::None) => Decision::Fail(OAuthError::new(
            super::ErrorCode::LoginRequired,
            "the user is not signed in",
        )),
        (false, _) => Decision::Login,
        (true, Prompt::Consent) => Decision::Consent,
        (true, _) if covered => Decision::Issue,
        (true, Prompt::None) => Decision::Fail(OAuthError::new(
            super::ErrorCode::ConsentRequired,
            "the user has not authorized these scopes for this application",
        )),
        (true, Prompt::Default) => Decision::Consent,
    }
}

/// The redirect to the client: `redirect_uri` with `params` added to its query, plus
/// `state` if the request had one and `iss` (RFC 9207, against mix-up attacks).
pub fn response_uri(
    redirect_uri: &str,
    params: &[(&str, &str)],
    state: Option<&str>,
    issuer: &str,
) -> String {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
                if let Some(s) = state {
                    q.append_pair("state", s);
                }
                q.append_pair("iss", issuer);
            }
            url.to_string()
        }
        // Registered URIs are validated as absolute URLs; this is unreachable in practice.
        Err(_) => redirect_uri.to_owned(),
    }
}

/// The error redirect for `err`.
pub fn error_uri(
    redirect_uri: &str,
    err: &OAuthError,
    state: Option<&str>,
    issuer: &str,
) -> String {
    response_uri(
        redirect_uri,
        &[
            ("error", err.code.as_str()),
            ("error_description", &err.description),
        ],
        state,
        issuer,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;
    use crate::oauth::scope::ScopeEntry;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client(kind: ClientType) -> RegisteredClient {
        RegisteredClient {
            id: ClientId::new("app"),
            client_type: kind,
            secret_hash: None,
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: ScopeSet::parse("profile email").unwrap(),
            redirect_uris: vec![
                "https://app.example/cb".into(),
                "http://127.0.0.1/cb".into(),
            ],
        }
    }

    fn policy() -> TokenPolicy {
        TokenPolicy {
            issuer: "https://auth.example".into(),
            resources: vec!["https://api.example".into()],
            default_audience: "https://api.example".into(),
            access_token_ttl: 60,
        }
    }

    fn catalogue() -> ScopeCatalogue {
        ScopeCatalogue::new(vec![ScopeEntry {
            name: "x".into(),
            description: "d".into(),
        }])
        .unwrap()
    }

    fn form(q: &str) -> FormParams {
        FormParams::parse(q.as_bytes()).unwrap()
    }

    fn run(q: &str, kind: ClientType) -> Result<AuthorizeRequest, OAuthError> {
        let c = client(kind);
        let f = form(q);
        let redirect = resolve_redirect(&f, Some(&c)).unwrap();
        validate(&f, &c, redirect, &catalogue(), &policy())
    }

    #[test]
    fn unknown_client_and_unregistered_redirect_never_redirect() {
        let c = client(ClientType::Public);
        assert!(resolve_redirect(&form("client_id=app"), None).is_err());
        assert!(
            resolve_redirect(
                &form("redirect_uri=https%3A%2F%2Fapp.example%2Fcb"),
                Some(&c)
            )
            .is_err()
        );
        assert!(
            resolve_redirect(
                &form("client_id=app&redirect_uri=https%3A%2F%2Fevil.example%2Fcb"),
                Some(&c)
            )
            .is_err()
        );
        // Several registered: the parameter is required.
        assert!(resolve_redirect(&form("client_id=app"), Some(&c)).is_err());
        // Loopback: any port.
        let (uri, explicit) = resolve_redirect(
            &form("client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcb"),
            Some(&c),
        )
        .unwrap();
        assert_eq!(uri, "http://127.0.0.1:5555/cb");
        assert!(explicit);
    }

    #[test]
    fn valid_public_request() {
        let r = run(
            &format!("client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope=profile&state=s1&code_challenge={CHALLENGE}&code_challenge_method=S256"),
            ClientType::Public,
        )
        .unwrap();
        assert_eq!(r.scope.to_string(), "profile");
        assert_eq!(r.state.as_deref(), Some("s1"));
        assert!(r.code_challenge.is_some());
    }

    #[test]
    fn redirectable_errors() {
        let base = "client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb";
        let pkce = format!("code_challenge={CHALLENGE}&code_challenge_method=S256");
        let cases = [
            (
                format!("{base}&scope=profile&{pkce}"),
                ErrorCode::InvalidRequest,
            ),
            (
                format!("{base}&response_type=token&scope=profile&{pkce}"),
                ErrorCode::UnsupportedResponseType,
            ),
            (
                format!("{base}&response_type=code&scope=profile"),
                ErrorCode::InvalidRequest,
            ),
            (
                format!(
                    "{base}&response_type=code&scope=profile&code_challenge={CHALLENGE}&code_challenge_method=plain"
                ),
                ErrorCode::InvalidRequest,
            ),
            (
                format!("{base}&response_type=code&{pkce}"),
                ErrorCode::InvalidScope,
            ),
            (
                format!("{base}&response_type=code&scope=x&{pkce}"),
                ErrorCode::InvalidScope,
            ),
            (
                format!("{base}&response_type=code&scope=nope&{pkce}"),
                ErrorCode::InvalidScope,
            ),
            (
                format!(
                    "{base}&response_type=code&scope=profile&resource=https%3A%2F%2Fother&{pkce}"
                ),
                ErrorCode::InvalidTarget,
            ),
            (
                format!("{base}&response_type=code&scope=profile&state=a&state=b&{pkce}"),
                ErrorCode::InvalidRequest,
            ),
        ];
        for (q, code) in cases {
            assert_eq!(run(&q, ClientType::Public).unwrap_err().code, code, "{q}");
        }
        // A confidential client may skip PKCE.
        assert!(
            run(
                &format!("{base}&response_type=code&scope=profile"),
                ClientType::Confidential
            )
            .is_ok()
        );
    }

    #[test]
    fn decisions() {
        let r = run(
            &format!("client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope=profile&code_challenge={CHALLENGE}&code_challenge_method=S256"),
            ClientType::Public,
        )
        .unwrap();
        let granted = ScopeSet::parse("profile email").unwrap();
        assert_eq!(decide(&r, false, None), Decision::Login);
        assert_eq!(decide(&r, true, None), Decision::Consent);
        assert_eq!(decide(&r, true, Some(&granted)), Decision::Issue);
        let mut forced = r.clone();
        forced.prompt = Prompt::Consent;
        assert_eq!(decide(&forced, true, Some(&granted)), Decision::Consent);
        let mut none = r.clone();
        none.prompt = Prompt::None;
        assert!(
            matches!(decide(&none, false, None), Decision::Fail(e) if e.code == ErrorCode::LoginRequired)
        );
        assert!(
            matches!(decide(&none, true, None), Decision::Fail(e) if e.code == ErrorCode::ConsentRequired)
        );
        assert_eq!(decide(&none, true, Some(&granted)), Decision::Issue);
    }

    #[test]
    fn response_uri_keeps_existing_query_and_adds_iss() {
        let u = response_uri(
            "https://app.example/cb?x=1",
            &[("code", "c")],
            Some("s t"),
            "https://auth.example",
        );
        assert_eq!(
            u,
            "https://app.example/cb?x=1&code=c&state=s+t&iss=https%3A%2F%2Fauth.example"
        );
    }
}
