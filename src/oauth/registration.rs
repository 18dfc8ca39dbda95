//! Client metadata validation (RFC 7591 §2), shared by every way a client is made:
//! the CLI, the apps API, dynamic registration and Client ID Metadata Documents.

use super::OAuthError;
use super::redirect_uri;
use super::scope::{ADMIN_SCOPE, ScopeCatalogue, ScopeSet};
pub use super::types::ApplicationType;
use super::types::{ClientType, GrantType};
use url::Url;

/// Client metadata as submitted.
#[derive(Debug, Clone, Default)]
pub struct ClientMetadata {
    pub name: String,
    pub description: String,
    pub website: Option<String>,
    pub icon_url: Option<String>,
    pub redirect_uris: Vec<String>,
    /// Where the client may send people after signing them out (OpenID Connect
    /// RP-Initiated Logout §3.1).
    pub post_logout_redirect_uris: Vec<String>,
    /// Empty: the default for the client type.
    pub grant_types: Vec<GrantType>,
    /// `None`: every scope in the catalogue.
    pub scope: Option<String>,
    pub public: bool,
    /// OpenID Connect Registration 1.0 §2 `application_type`; `None`: inferred from
    /// the redirect URIs (native when one uses a private-use scheme).
    pub application_type: Option<ApplicationType>,
    /// For `token_endpoint_auth_method: private_key_jwt`: the client's public keys.
    pub keys: Option<KeysMetadata>,
    /// RFC 9449 §5.2: tokens only with a DPoP proof.
    pub dpop_bound_access_tokens: bool,
    /// RFC 9126 §6: authorization requests only through `/oauth/par`.
    pub require_pushed_authorization_requests: bool,
}

/// A `private_key_jwt` client's public keys as submitted.
#[derive(Debug, Clone, PartialEq)]
pub enum KeysMetadata {
    /// `jwks`: a JWK Set by value.
    Jwks(serde_json::Value),
    /// `jwks_uri`: where the client publishes its JWK Set.
    Uri(String),
}

/// Why `client_secret_jwt` is refused, in every door that is asked for it.
pub const CLIENT_SECRET_JWT_REFUSED: &str = "token_endpoint_auth_method `client_secret_jwt` is not supported: Latchkey keeps only a hash of each client secret, so it cannot check an HMAC made with one. Use private_key_jwt (a key pair) or client_secret_basic";

/// The stored JWK Set may be at most this long (a few keys).
const MAX_JWKS_BYTES: usize = 16 * 1024;
const MAX_URL: usize = 2048;

/// Reads the authentication members every door accepts alike:
/// `token_endpoint_auth_method` with `jwks` or `jwks_uri`. `private_key_jwt`
/// needs exactly one of the two, and no other method takes either; the secret
/// methods and `none` are left to the door (they decide public or confidential).
pub fn keys_metadata(
    method: Option<&str>,
    jwks: Option<serde_json::Value>,
    jwks_uri: Option<String>,
) -> Result<Option<KeysMetadata>, OAuthError> {
    let jwks = jwks.filter(|v| !v.is_null());
    match method {
        Some(super::types::PRIVATE_KEY_JWT) => match (jwks, jwks_uri) {
            (Some(set), None) => Ok(Some(KeysMetadata::Jwks(set))),
            (None, Some(uri)) => Ok(Some(KeysMetadata::Uri(uri))),
            (None, None) => Err(OAuthError::invalid_client_metadata(
                "token_endpoint_auth_method private_key_jwt needs the client's public keys: jwks (a JWK Set) or jwks_uri",
            )),
            (Some(_), Some(_)) => Err(OAuthError::invalid_client_metadata(
                "send jwks or jwks_uri, not both",
            )),
        },
        Some("client_secret_jwt") => Err(OAuthError::invalid_client_metadata(
            CLIENT_SECRET_JWT_REFUSED,
        )),
        Some("none" | "client_secret_basic" | "client_secret_post") | None => {
            if jwks.is_some() || jwks_uri.is_some() {
                return Err(OAuthError::invalid_client_metadata(
                    "jwks and jwks_uri are only for token_endpoint_auth_method private_key_jwt",
                ));
            }
            Ok(None)
        }
        Some(other) => Err(OAuthError::invalid_client_metadata(format!(
            "token_endpoint_auth_method `{}` is not supported (use none, client_secret_basic, client_secret_post or private_key_jwt)",
            other.escape_default()
        ))),
    }
}

/// Checks a client's keys; returns what is stored (`jwks` text, `jwks_uri`).
fn validate_keys(keys: KeysMetadata) -> Result<(Option<String>, Option<String>), OAuthError> {
    match keys {
        KeysMetadata::Jwks(set) => {
            super::jwk::ClientKeySet::parse(&set, super::jwk::Reading::Registration)
                .map_err(|e| OAuthError::invalid_client_metadata(format!("jwks: {e}")))?;
            let text = set.to_string();
            if text.len() > MAX_JWKS_BYTES {
                return Err(OAuthError::invalid_client_metadata(format!(
                    "jwks is longer than {MAX_JWKS_BYTES} bytes: publish the keys at a jwks_uri instead"
                )));
            }
            Ok((Some(text), None))
        }
        KeysMetadata::Uri(uri) => {
            let ok = uri.len() <= MAX_URL
                && Url::parse(&uri).is_ok_and(|u| {
                    u.scheme() == "https"
                        && u.host_str().is_some()
                        && u.fragment().is_none()
                        && u.username().is_empty()
                        && u.password().is_none()
                });
            if !ok {
                return Err(OAuthError::invalid_client_metadata(
                    "jwks_uri must be an https URL with a host, no fragment and no user info",
                ));
            }
            Ok((None, Some(uri)))
        }
    }
}

/// The `application_type` of a client that registered none: native when a redirect
/// URI uses a private-use scheme, else web.
pub fn inferred_application_type(redirect_uris: &[String]) -> ApplicationType {
    if redirect_uris
        .iter()
        .any(|u| redirect_uri::is_private_use(u))
    {
        ApplicationType::Native
    } else {
        ApplicationType::Web
    }
}

/// Client metadata that passed validation, with defaults filled in.
#[derive(Debug, Clone)]
pub struct ValidClient {
    pub name: String,
    pub description: String,
    pub website: Option<String>,
    pub icon_url: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub scopes: ScopeSet,
    pub client_type: ClientType,
    pub application_type: ApplicationType,
    /// A `private_key_jwt` client's JWK Set (JSON text), or its `jwks_uri`.
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub dpop_bound_access_tokens: bool,
    pub require_pushed_authorization_requests: bool,
}

impl ValidClient {
    /// Whether it authenticates with a signed assertion.
    pub fn uses_keys(&self) -> bool {
        self.jwks.is_some() || self.jwks_uri.is_some()
    }
}

const MAX_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 1000;
const MAX_REDIRECT_URIS: usize = 20;

fn web_url(field: &str, raw: &str) -> Result<String, OAuthError> {
    match Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => {
            Ok(raw.to_owned())
        }
        _ => Err(OAuthError::invalid_client_metadata(format!(
            "{field} must be an http or https URL"
        ))),
    }
}

/// Validates `meta` against the catalogue; errors are `invalid_client_metadata` or
/// `invalid_redirect_uri` (RFC 7591 §3.2.2).
///
/// `operator`: the metadata comes from an operator (CLI, admin API), who alone may
/// give a client the admin scope.
pub fn validate(
    meta: ClientMetadata,
    catalogue: &ScopeCatalogue,
    operator: bool,
) -> Result<ValidClient, OAuthError> {
    let name = meta.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(OAuthError::invalid_client_metadata(format!(
            "the client name must be 1 to {MAX_NAME} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(OAuthError::invalid_client_metadata(
            "the client name must not contain control characters",
        ));
    }
    if meta.description.chars().count() > MAX_DESCRIPTION {
        return Err(OAuthError::invalid_client_metadata(format!(
            "the description must be at most {MAX_DESCRIPTION} characters"
        )));
    }
    let website = meta
        .website
        .as_deref()
        .map(|w| web_url("website", w))
        .transpose()?;
    let icon_url = meta
        .icon_url
        .as_deref()
        .map(|w| web_url("icon URL", w))
        .transpose()?;

    let redirect_uris = uri_list(meta.redirect_uris, "redirect URIs")?;
    let application_type = meta
        .application_type
        .unwrap_or_else(|| inferred_application_type(&redirect_uris));
    if application_type == ApplicationType::Web
        && let Some(custom) = redirect_uris
            .iter()
            .find(|u| redirect_uri::is_private_use(u))
    {
        // A private-use scheme is claimed by whichever app on the device asks for
        // it; only a native app's registration may rely on one (RFC 8252 §8.4).
        return Err(OAuthError::invalid_redirect_uri(format!(
            "redirect URI `{custom}` uses a private-use scheme, which only application_type `native` may register"
        )));
    }
    // The same rules as redirect URIs: a browser is sent there, so `https` (or
    // loopback), no fragment, no wildcard.
    let post_logout_redirect_uris =
        uri_list(meta.post_logout_redirect_uris, "post-logout redirect URIs")?;

    let (jwks, jwks_uri) = match meta.keys {
        None => (None, None),
        Some(_) if meta.public => {
            return Err(OAuthError::invalid_client_metadata(
                "a public client has no credential: private_key_jwt is for confidential clients",
            ));
        }
        Some(keys) => validate_keys(keys)?,
    };
    let client_type = if meta.public {
        ClientType::Public
    } else {
        ClientType::Confidential
    };
    let mut grant_types = meta.grant_types;
    if grant_types.is_empty() {
        grant_types = if meta.public || !redirect_uris.is_empty() {
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        } else {
            vec![GrantType::ClientCredentials]
        };
    }
    grant_types.sort();
    grant_types.dedup();
    if client_type == ClientType::Public && grant_types.contains(&GrantType::ClientCredentials) {
        // A public client cannot keep a secret, so it cannot act on its own behalf.
        return Err(OAuthError::invalid_client_metadata(
            "public clients cannot use the client_credentials grant",
        ));
    }
    if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        return Err(OAuthError::invalid_redirect_uri(
            "the authorization_code grant needs at least one redirect URI",
        ));
    }
    if grant_types.contains(&GrantType::RefreshToken)
        && !grant_types.contains(&GrantType::AuthorizationCode)
    {
        return Err(OAuthError::invalid_client_metadata(
            "refresh_token is only issued with authorization_code; add that grant too",
        ));
    }

    let scopes = match meta.scope.as_deref() {
        Some(raw) => {
            let set = ScopeSet::parse(raw)
                .map_err(|e| OAuthError::invalid_client_metadata(e.description))?;
            let admin = set.contains(ADMIN_SCOPE);
            if admin && !operator {
                return Err(OAuthError::invalid_client_metadata(format!(
                    "`{ADMIN_SCOPE}` can only be given to a client by an operator (latchkey clients create, or the admin API)"
                )));
            }
            // The admin scope is issued by client credentials alone, so only a
            // client that can keep a secret and use that grant may hold it.
            if admin
                && (client_type != ClientType::Confidential
                    || !grant_types.contains(&GrantType::ClientCredentials))
            {
                return Err(OAuthError::invalid_client_metadata(format!(
                    "`{ADMIN_SCOPE}` is only issued through client credentials: the client must be confidential with the client_credentials grant"
                )));
            }
            let rest = ScopeSet::from_trusted(set.iter().filter(|s| *s != ADMIN_SCOPE));
            catalogue
                .check_known(&rest)
                .map_err(|e| OAuthError::invalid_client_metadata(e.description))?;
            set
        }
        None => catalogue.names().clone(),
    };

    Ok(ValidClient {
        name,
        description: meta.description.trim().to_owned(),
        website,
        icon_url,
        redirect_uris,
        post_logout_redirect_uris,
        grant_types,
        scopes,
        client_type,
        application_type,
        jwks,
        jwks_uri,
        dpop_bound_access_tokens: meta.dpop_bound_access_tokens,
        require_pushed_authorization_requests: meta.require_pushed_authorization_requests,
    })
}

/// Validates a list of redirect URIs and drops repeats.
fn uri_list(uris: Vec<String>, what: &str) -> Result<Vec<String>, OAuthError> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::invalid_redirect_uri(format!(
            "at most {MAX_REDIRECT_URIS} {what} may be registered"
        )));
    }
    let mut list: Vec<String> = Vec::with_capacity(uris.len());
    for uri in uris {
        redirect_uri::validate_for_registration(&uri).map_err(OAuthError::invalid_redirect_uri)?;
        if !list.contains(&uri) {
            list.push(uri);
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;

    fn cat() -> ScopeCatalogue {
        ScopeCatalogue::new(vec![]).unwrap()
    }

    fn meta(name: &str) -> ClientMetadata {
        ClientMetadata {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn only_an_operator_gives_the_admin_scope_to_a_machine_client() {
        let admin = ClientMetadata {
            scope: Some("latchkey:admin profile".into()),
            ..meta("ops")
        };
        let err = validate(admin.clone(), &cat(), false).unwrap_err();
        assert!(err.description.contains("operator"), "{}", err.description);
        let v = validate(admin.clone(), &cat(), true).unwrap();
        assert!(v.scopes.contains("latchkey:admin"));
        let public = ClientMetadata {
            public: true,
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            ..admin
        };
        assert!(validate(public, &cat(), true).is_err());
        assert!(
            !validate(meta("svc"), &cat(), true)
                .unwrap()
                .scopes
                .contains("latchkey:admin")
        );
    }

    #[test]
    fn confidential_defaults_to_client_credentials_and_all_scopes() {
        let v = validate(meta("svc"), &cat(), false).unwrap();
        assert_eq!(v.grant_types, vec![GrantType::ClientCredentials]);
        assert_eq!(v.client_type, ClientType::Confidential);
        assert_eq!(&v.scopes, cat().names());
    }

    #[test]
    fn public_client_rules() {
        let mut m = meta("spa");
        m.public = true;
        assert_eq!(
            validate(m.clone(), &cat(), false).unwrap_err().code,
            ErrorCode::InvalidRedirectUri
        );
        m.redirect_uris = vec!["http://127.0.0.1/cb".into()];
        let v = validate(m.clone(), &cat(), false).unwrap();
        assert_eq!(
            v.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        m.grant_types = vec![GrantType::ClientCredentials];
        assert_eq!(
            validate(m, &cat(), false).unwrap_err().code,
            ErrorCode::InvalidClientMetadata
        );
    }

    #[test]
    fn application_type_decides_private_use_schemes() {
        let mut m = meta("cli");
        m.public = true;
        m.redirect_uris = vec!["com.example.app:/cb".into()];
        assert_eq!(
            validate(m.clone(), &cat(), false).unwrap().application_type,
            ApplicationType::Native
        );
        m.application_type = Some(ApplicationType::Web);
        assert_eq!(
            validate(m.clone(), &cat(), false).unwrap_err().code,
            ErrorCode::InvalidRedirectUri
        );
        m.application_type = Some(ApplicationType::Native);
        assert!(validate(m.clone(), &cat(), false).is_ok());
        m.redirect_uris = vec!["http://127.0.0.1/cb".into(), "https://a.example/cb".into()];
        for t in [ApplicationType::Web, ApplicationType::Native] {
            m.application_type = Some(t);
            assert_eq!(
                validate(m.clone(), &cat(), false).unwrap().application_type,
                t
            );
        }
        assert!(ApplicationType::parse("browser").is_err());
    }

    #[test]
    fn bad_metadata_is_refused() {
        assert!(validate(meta(" "), &cat(), false).is_err());
        assert!(validate(meta(&"x".repeat(101)), &cat(), false).is_err());
        let mut m = meta("a");
        m.scope = Some("nope".into());
        assert_eq!(
            validate(m, &cat(), false).unwrap_err().code,
            ErrorCode::InvalidClientMetadata
        );
        let mut m = meta("a");
        m.website = Some("javascript:alert(1)".into());
        assert!(validate(m, &cat(), false).is_err());
        let mut m = meta("a");
        m.redirect_uris = vec!["http://evil.example/cb".into()];
        assert_eq!(
            validate(m, &cat(), false).unwrap_err().code,
            ErrorCode::InvalidRedirectUri
        );
        let mut m = meta("a");
        m.grant_types = vec![GrantType::RefreshToken];
        assert!(validate(m, &cat(), false).is_err());
    }
}
