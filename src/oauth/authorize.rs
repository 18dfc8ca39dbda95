//! The authorization endpoint (RFC 6749 §4.1.1–4.1.2, OAuth 2.1 §4.1, RFC 9207,
//! OpenID Connect Core §3.1.2).
//!
//! Three steps: resolve the client and redirect URI (failures never redirect, since
//! the URI is not trusted yet); validate the rest of the request (failures redirect
//! back with `error`, `state` and `iss`); then decide, given who is signed in, when
//! they signed in, and what they already granted, whether to ask for sign-in, ask
//! for consent, or issue.
//!
//! One file at ~830 lines: under 470 are code, the rest its tests, which read best
//! beside the rules they pin.

use super::OAuthError;
use super::claims::TokenPolicy;
use super::form::FormParams;
use super::pkce::{self, CodeChallenge};
use super::redirect_uri;
use super::scope::{ADMIN_SCOPE, OFFLINE_ACCESS, OPENID, ScopeCatalogue, ScopeSet};
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
    /// OpenID Connect Core §3.1.2.1: echoed unchanged in the ID token.
    pub nonce: Option<String>,
    /// Core §3.1.2.1: the longest time since the person signed in, in seconds.
    pub max_age: Option<i64>,
    /// Core §3.1.2.1: who the client thinks is signing in (pre-fills the username).
    pub login_hint: Option<String>,
    /// Core §3.1.2.1: the `sub` of the `id_token_hint`, set by the caller once it
    /// has verified the hint's signature (the core does no cryptography).
    pub hint_subject: Option<String>,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is to be bound to.
    pub dpop_jkt: Option<String>,
}

/// The `prompt` parameter (OpenID Connect Core §3.1.2.1). No value set: ask only
/// when needed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// Never show a page: fail with `login_required` / `consent_required` instead.
    pub none: bool,
    /// Ask the person to sign in again even with a live session (`login`, and
    /// `select_account`, which is answered the same way: the sign-in page is
    /// where another account can be chosen).
    pub login: bool,
    /// Show the consent page even if consent was given before.
    pub consent: bool,
}

impl Prompt {
    /// The values this server understands, as published in discovery.
    pub const SUPPORTED: [&'static str; 4] = ["none", "login", "consent", "select_account"];

    pub fn parse(raw: &str) -> Result<Self, OAuthError> {
        let mut prompt = Self::default();
        let values: Vec<&str> = raw.split(' ').filter(|v| !v.is_empty()).collect();
        for v in &values {
            match *v {
                "none" => prompt.none = true,
                "login" | "select_account" => prompt.login = true,
                "consent" => prompt.consent = true,
                other => {
                    return Err(OAuthError::invalid_request(format!(
                        "prompt value `{}` is not supported; use none, login, consent or select_account",
                        other.escape_default()
                    )));
                }
            }
        }
        // Core §3.1.2.1: none with any other value is an error.
        if prompt.none && values.len() > 1 {
            return Err(OAuthError::invalid_request(
                "prompt=none cannot be combined with other values",
            ));
        }
        Ok(prompt)
    }
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
    /// The client's metadata document was refused (which rule, in the message).
    ClientDocument,
    /// A `request_uri` this server did not issue, or one expired, spent, or
    /// pushed by another client (`invalid_request_uri`, RFC 9126 §4).
    RequestUri,
}

const MAX_STATE: usize = 2048;
const MAX_NONCE: usize = 2048;
const MAX_LOGIN_HINT: usize = 256;

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

    // Core §6: request objects are not supported; say so with the codes Core names,
    // rather than ignoring parameters that may carry the real request.
    if params.single("request")?.is_some() {
        return Err(OAuthError::new(
            super::ErrorCode::RequestNotSupported,
            "request objects (the request parameter) are not supported",
        ));
    }
    // `request_uri` (a pushed request, RFC 9126) is resolved by the caller before
    // this runs; the parameters here are the pushed ones.
    if params.single("registration")?.is_some() {
        return Err(OAuthError::new(
            super::ErrorCode::RegistrationNotSupported,
            "the registration parameter is not supported; register at the registration endpoint",
        ));
    }
    match params.single("response_mode")? {
        None | Some("query") => {}
        Some(other) => {
            return Err(OAuthError::invalid_request(format!(
                "response_mode `{}` is not supported; use query",
                other.escape_default()
            )));
        }
    }

    // RFC 6749 §3.3: without `scope`, the client's registered scopes (as the
    // consent page then shows them).
    let scope = match params.single("scope")? {
        Some(raw) => ScopeSet::parse(raw)?,
        None => ScopeCatalogue::default_for(&client.scopes),
    };
    if scope.is_empty() {
        return Err(OAuthError::invalid_scope(
            "no scope was asked for and this application registered none that can be granted by default; send scope",
        ));
    }
    if scope.contains(ADMIN_SCOPE) {
        // The admin API acts for the operator, not for a person: no consent page
        // may hand it out.
        return Err(OAuthError::invalid_scope(format!(
            "`{ADMIN_SCOPE}` is never granted through a person's authorization; operator clients obtain it with client credentials"
        )));
    }
    catalogue.check_known(&scope)?;
    // `openid` and `offline_access` ask for a way of signing in, not for access to
    // anything: any app of the code flow may ask (and refresh-capable ones for
    // offline_access), whatever scope list it registered — clients registered
    // before OpenID Connect included. The person still consents to them.
    let protocol_scope = |s: &str| {
        (s == OPENID) || (s == OFFLINE_ACCESS && client.allows_grant(GrantType::RefreshToken))
    };
    // A client that described itself chose its list and could have chosen any
    // other: MCP clients register the scope of the first challenge and later step
    // up (a tool needs more). The list is its default; the person decides.
    let allowed = |s: &str| protocol_scope(s) || (client.self_described && s != OFFLINE_ACCESS);
    if let Some(denied) = scope.difference(&client.scopes).find(|s| !allowed(s)) {
        return Err(OAuthError::invalid_scope(format!(
            "this application may not ask for the scope `{denied}`"
        )));
    }

    // Kept in their configured spelling: the code, the consent and the refresh
    // family name the resources as the operator does.
    let requested: Vec<String> = params.all("resource").map(str::to_owned).collect();
    let resources = policy.resources.resolve_all(&requested)?;

    let state = params.single("state")?.map(str::to_owned);
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(OAuthError::invalid_request(format!(
            "state is longer than {MAX_STATE} bytes"
        )));
    }

    let prompt = match params.single("prompt")? {
        Some(raw) => Prompt::parse(raw)?,
        None => Prompt::default(),
    };
    let nonce = params.single("nonce")?.map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE) {
        return Err(OAuthError::invalid_request(format!(
            "nonce is longer than {MAX_NONCE} bytes"
        )));
    }
    let max_age = match params.single("max_age")? {
        None => None,
        Some(raw) => Some(raw.parse::<u32>().map(i64::from).map_err(|_| {
            OAuthError::invalid_request("max_age must be a whole number of seconds")
        })?),
    };
    let login_hint = params
        .single("login_hint")?
        .and_then(login_hint)
        .map(str::to_owned);
    let dpop_jkt = match params.single("dpop_jkt")? {
        None => None,
        // A SHA-256 thumbprint, base64url: 43 characters.
        Some(j)
            if j.len() == 43
                && j.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Some(j.to_owned())
        }
        Some(_) => {
            return Err(OAuthError::invalid_request(
                "dpop_jkt must be the base64url SHA-256 JWK thumbprint (RFC 7638) of the DPoP key",
            ));
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
        nonce,
        max_age,
        login_hint,
        hint_subject: None,
        dpop_jkt,
    })
}

/// FAPI 2.0 §5.3.2.2: PKCE with S256 for every client, confidential ones too.
pub fn require_pkce(request: &AuthorizeRequest) -> Result<(), OAuthError> {
    if request.code_challenge.is_none() {
        return Err(OAuthError::invalid_request(
            "this server runs the FAPI 2.0 profile: PKCE is required, send code_challenge with code_challenge_method=S256",
        ));
    }
    Ok(())
}

/// A `login_hint` fit to pre-fill a username field; any other is ignored (Core
/// §3.1.2.1 makes it a hint, not a requirement).
pub fn login_hint(raw: &str) -> Option<&str> {
    Some(raw).filter(|h| h.len() <= MAX_LOGIN_HINT && !h.chars().any(char::is_control))
}

/// The parameters to come back to the authorization endpoint with once the person
/// has signed in afresh: the request as sent, minus what asked for that sign-in
/// (`prompt=login`/`select_account`, `max_age`, `id_token_hint`), so that the
/// sign-in just made satisfies it instead of asking again (a clock tick would make
/// `max_age=0` ask for ever, and someone else than the hinted person could never
/// get through). Dropping them is safe: the ID token's `auth_time` and `sub` are
/// always the sign-in's, and a client that cares checks them.
pub fn after_sign_in(params: &FormParams) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(params.pairs().len());
    for (k, v) in params.pairs() {
        match k.as_str() {
            "max_age" | "id_token_hint" => {}
            "prompt" => {
                let kept: Vec<&str> = v
                    .split(' ')
                    .filter(|p| !p.is_empty() && *p != "login" && *p != "select_account")
                    .collect();
                if !kept.is_empty() {
                    out.push((k.clone(), kept.join(" ")));
                }
            }
            _ => out.push((k.clone(), v.clone())),
        }
    }
    out
}

/// What to do with a valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nobody is signed in, or the sign-in is too old or must be repeated: send the
    /// browser to the sign-in page.
    Login,
    /// Show the consent page.
    Consent,
    /// Consent already covers the request: issue a code without asking.
    Issue,
    /// `prompt=none` and a page would be needed.
    Fail(OAuthError),
}

/// Who is signed in, and since when.
#[derive(Debug, Clone, Copy)]
pub struct Session<'a> {
    pub user_id: &'a str,
    /// When they signed in.
    pub auth_time: i64,
}

/// Step 3, given the signed-in session (`None`: nobody is signed in), the scopes
/// the person already granted this client, and the time.
pub fn decide(
    request: &AuthorizeRequest,
    session: Option<Session<'_>>,
    granted: Option<&ScopeSet>,
    now: i64,
) -> Decision {
    let sign_in_needed = match session {
        None => Some("the user is not signed in"),
        Some(_) if request.prompt.login => Some("the user must sign in again (prompt=login)"),
        // Core §3.1.2.1: max_age is the allowable elapsed time since the person
        // last actively authenticated.
        Some(s) if request.max_age.is_some_and(|max| now - s.auth_time > max) => {
            Some("the user must sign in again (max_age)")
        }
        // The hint names someone else: they must sign in (or, with prompt=none,
        // the client learns that the person it expects is not the one here).
        Some(s)
            if request
                .hint_subject
                .as_deref()
                .is_some_and(|h| h != s.user_id) =>
        {
            Some("the signed-in user is not the one id_token_hint names")
        }
        Some(_) => None,
    };
    if let Some(why) = sign_in_needed {
        return if request.prompt.none {
            Decision::Fail(OAuthError::new(super::ErrorCode::LoginRequired, why))
        } else {
            Decision::Login
        };
    }
    let covered = granted.is_some_and(|g| request.scope.is_subset(g));
    if request.prompt.consent {
        Decision::Consent
    } else if covered {
        Decision::Issue
    } else if request.prompt.none {
        Decision::Fail(OAuthError::new(
            super::ErrorCode::ConsentRequired,
            "the user has not authorized these scopes for this application",
        ))
    } else {
        Decision::Consent
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
            self_described: false,
            keys: None,
            dpop_bound: false,
            require_par: false,
            exchange: Default::default(),
        }
    }

    fn policy() -> TokenPolicy {
        TokenPolicy {
            issuer: "https://auth.example".into(),
            resources: crate::oauth::resource::ResourceSet::new(vec!["https://api.example".into()])
                .unwrap(),
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
                format!("{base}&response_type=code&scope=profile&request=x&{pkce}"),
                ErrorCode::RequestNotSupported,
            ),
            (
                format!("{base}&response_type=code&scope=profile&response_mode=fragment&{pkce}"),
                ErrorCode::InvalidRequest,
            ),
            (
                format!("{base}&response_type=code&scope=profile&max_age=-1&{pkce}"),
                ErrorCode::InvalidRequest,
            ),
            (
                format!("{base}&response_type=code&scope=profile&prompt=none%20login&{pkce}"),
                ErrorCode::InvalidRequest,
            ),
            (
                format!("{base}&response_type=code&scope=profile&prompt=create&{pkce}"),
                ErrorCode::InvalidRequest,
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
    fn without_scope_the_registered_non_management_scopes() {
        let mut c = client(ClientType::Public);
        c.scopes = ScopeSet::parse("profile email apps:read").unwrap();
        let q = format!(
            "client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&code_challenge={CHALLENGE}&code_challenge_method=S256"
        );
        let f = form(&q);
        let redirect = resolve_redirect(&f, Some(&c)).unwrap();
        let catalogue = ScopeCatalogue::new(vec![]).unwrap();
        let r = validate(&f, &c, redirect.clone(), &catalogue, &policy()).unwrap();
        assert_eq!(r.scope.to_string(), "email profile");
        // Only management scopes registered: nothing to default to.
        c.scopes = ScopeSet::parse("apps:read").unwrap();
        let e = validate(&f, &c, redirect, &catalogue, &policy()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
    }

    #[test]
    fn openid_and_offline_access_need_no_registration() {
        let mut c = client(ClientType::Public);
        let catalogue = ScopeCatalogue::new(vec![]).unwrap();
        let q = |scope: &str| {
            format!(
                "client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope={scope}&code_challenge={CHALLENGE}&code_challenge_method=S256"
            )
        };
        let check = |c: &RegisteredClient, scope: &str| {
            let f = form(&q(scope));
            let redirect = resolve_redirect(&f, Some(c)).unwrap();
            validate(&f, c, redirect, &catalogue, &policy()).map(|r| r.scope.to_string())
        };
        assert_eq!(
            check(&c, "openid%20offline_access%20profile").unwrap(),
            "offline_access openid profile"
        );
        // Without the refresh grant, offline_access is not the app's to ask for.
        c.grant_types = vec![GrantType::AuthorizationCode];
        assert_eq!(
            check(&c, "openid%20offline_access").unwrap_err().code,
            ErrorCode::InvalidScope
        );
        assert!(check(&c, "openid").is_ok());
    }

    #[test]
    fn a_self_described_client_may_ask_beyond_its_list() {
        let catalogue = ScopeCatalogue::new(vec![]).unwrap();
        let q = |scope: &str| {
            format!(
                "client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope={scope}&code_challenge={CHALLENGE}&code_challenge_method=S256"
            )
        };
        let check = |c: &RegisteredClient, scope: &str| {
            let f = form(&q(scope));
            let redirect = resolve_redirect(&f, Some(c)).unwrap();
            validate(&f, c, redirect, &catalogue, &policy()).map(|r| r.scope.to_string())
        };
        let mut c = client(ClientType::Public);
        c.scopes = ScopeSet::parse("profile").unwrap();
        // Listed by an operator or owner: a limit.
        assert_eq!(
            check(&c, "profile%20email").unwrap_err().code,
            ErrorCode::InvalidScope
        );
        // Chosen by the client itself: a default.
        c.self_described = true;
        assert_eq!(check(&c, "profile%20email").unwrap(), "email profile");
        // Still only known scopes, and still no refresh without the refresh grant.
        assert_eq!(check(&c, "nope").unwrap_err().code, ErrorCode::InvalidScope);
        c.grant_types = vec![GrantType::AuthorizationCode];
        assert_eq!(
            check(&c, "offline_access").unwrap_err().code,
            ErrorCode::InvalidScope
        );
    }

    #[test]
    fn openid_parameters() {
        let r = run(
            &format!("client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope=profile&code_challenge={CHALLENGE}&code_challenge_method=S256&nonce=n%20%C3%A9&max_age=300&login_hint=alice&prompt=select_account%20consent"),
            ClientType::Public,
        )
        .unwrap();
        assert_eq!(r.nonce.as_deref(), Some("n é"));
        assert_eq!(r.max_age, Some(300));
        assert_eq!(r.login_hint.as_deref(), Some("alice"));
        assert_eq!(
            r.prompt,
            Prompt {
                none: false,
                login: true,
                consent: true
            }
        );
    }

    #[test]
    fn after_sign_in_drops_what_asked_for_it() {
        let f = form("client_id=app&prompt=login%20consent&max_age=0&nonce=n&state=s");
        let pairs = after_sign_in(&f);
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("prompt"), Some("consent"));
        assert_eq!(get("max_age"), None);
        assert_eq!(get("nonce"), Some("n"));
        let only_login = after_sign_in(&form("client_id=app&prompt=select_account"));
        assert!(only_login.iter().all(|(k, _)| k != "prompt"));
    }

    #[test]
    fn decisions() {
        let r = run(
            &format!("client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope=profile&code_challenge={CHALLENGE}&code_challenge_method=S256"),
            ClientType::Public,
        )
        .unwrap();
        let granted = ScopeSet::parse("profile email").unwrap();
        let now = 1_000;
        let at = |auth_time: i64| {
            Some(Session {
                user_id: "u1",
                auth_time,
            })
        };
        let signed = at(now - 10);
        assert_eq!(decide(&r, None, None, now), Decision::Login);
        assert_eq!(decide(&r, signed, None, now), Decision::Consent);
        assert_eq!(decide(&r, signed, Some(&granted), now), Decision::Issue);
        let mut forced = r.clone();
        forced.prompt.consent = true;
        assert_eq!(
            decide(&forced, signed, Some(&granted), now),
            Decision::Consent
        );
        let mut login = r.clone();
        login.prompt.login = true;
        assert_eq!(decide(&login, signed, Some(&granted), now), Decision::Login);
        let mut aged = r.clone();
        aged.max_age = Some(10);
        assert_eq!(decide(&aged, signed, Some(&granted), now), Decision::Issue);
        aged.max_age = Some(9);
        assert_eq!(decide(&aged, signed, Some(&granted), now), Decision::Login);
        aged.max_age = Some(0);
        assert_eq!(decide(&aged, at(now), Some(&granted), now), Decision::Issue);
        let mut hinted = r.clone();
        hinted.hint_subject = Some("u1".into());
        assert_eq!(
            decide(&hinted, signed, Some(&granted), now),
            Decision::Issue
        );
        hinted.hint_subject = Some("u2".into());
        assert_eq!(
            decide(&hinted, signed, Some(&granted), now),
            Decision::Login
        );
        hinted.prompt.none = true;
        assert!(
            matches!(decide(&hinted, signed, Some(&granted), now), Decision::Fail(e) if e.code == ErrorCode::LoginRequired)
        );
        let mut none = r.clone();
        none.prompt.none = true;
        assert!(
            matches!(decide(&none, None, None, now), Decision::Fail(e) if e.code == ErrorCode::LoginRequired)
        );
        assert!(
            matches!(decide(&none, signed, None, now), Decision::Fail(e) if e.code == ErrorCode::ConsentRequired)
        );
        assert_eq!(decide(&none, signed, Some(&granted), now), Decision::Issue);
        none.max_age = Some(1);
        assert!(
            matches!(decide(&none, signed, Some(&granted), now), Decision::Fail(e) if e.code == ErrorCode::LoginRequired)
        );
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
