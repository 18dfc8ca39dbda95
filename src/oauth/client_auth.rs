//! Client authentication at the token endpoint (RFC 6749 §2.3.1, OAuth 2.1 §2.4).
//!
//! Confidential clients use `client_secret_basic`, `client_secret_post` or
//! `private_key_jwt` (a signed assertion, RFC 7523 §2.2, checked by
//! `client_assertion` once the caller has the client's keys); public clients send
//! only `client_id` (`none`). Secrets are high-entropy random strings, so one
//! SHA-256 is enough to store them safely; the comparison is constant-time.

use super::OAuthError;
use super::form::FormParams;
use super::types::{ClientId, ClientSecret, ClientType, RegisteredClient, SecretHash};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;

/// How the client presented itself.
#[derive(Debug)]
pub enum ClientCredentials {
    /// `Authorization: Basic` (RFC 6749 §2.3.1).
    Basic { id: ClientId, secret: ClientSecret },
    /// `client_id` and `client_secret` in the form body.
    Post { id: ClientId, secret: ClientSecret },
    /// `client_id` alone: a public client (`token_endpoint_auth_method=none`).
    None { id: ClientId },
    /// `client_assertion` (`private_key_jwt`); the client is the assertion's
    /// `sub`, which `client_id`, when sent, must equal.
    Assertion {
        id: Option<ClientId>,
        assertion: ClientAssertion,
    },
}

/// A client assertion as presented. Never printed: `Debug` redacts it.
pub struct ClientAssertion(String);

impl ClientAssertion {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientAssertion(<redacted>)")
    }
}

impl ClientCredentials {
    /// The client named by the request; for an assertion, the `client_id`
    /// parameter if sent (the assertion's `sub` decides).
    pub fn client_id(&self) -> Option<&ClientId> {
        match self {
            Self::Basic { id, .. } | Self::Post { id, .. } | Self::None { id } => Some(id),
            Self::Assertion { id, .. } => id.as_ref(),
        }
    }

    /// The RFC 7591 name of the method used.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Basic { .. } => "client_secret_basic",
            Self::Post { .. } => "client_secret_post",
            Self::None { .. } => "none",
            Self::Assertion { .. } => super::types::PRIVATE_KEY_JWT,
        }
    }
}

/// SHA-256 of a secret: what is stored, and what a presented secret is compared by.
pub fn hash_secret(secret: &str) -> SecretHash {
    SecretHash(super::types::sha256(secret.as_bytes()))
}

/// Step 1: work out which credentials the request carries.
///
/// `authorization` is the raw `Authorization` header, if any.
/// Whether the request carries any client credentials at all (a header, or
/// `client_id`, `client_secret` or a client assertion in the form).
pub fn has_credentials(authorization: Option<&str>, form: &FormParams) -> bool {
    authorization.is_some()
        || [
            "client_id",
            "client_secret",
            "client_assertion",
            "client_assertion_type",
        ]
        .iter()
        .any(|name| form.all(name).next().is_some())
}

pub fn extract(
    authorization: Option<&str>,
    form: &FormParams,
) -> Result<ClientCredentials, OAuthError> {
    let form_id = form.single("client_id")?;
    let form_secret = form.single("client_secret")?;
    let assertion_type = form.single("client_assertion_type")?;
    let assertion = form.single("client_assertion")?;

    if assertion_type.is_some() || assertion.is_some() {
        // RFC 6749 §2.3: one method per request.
        if authorization.is_some() || form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "the client sent a client_assertion and a client secret; use one authentication method",
            ));
        }
        match assertion_type {
            Some(super::client_assertion::JWT_BEARER) => {}
            Some(other) => {
                return Err(OAuthError::invalid_request(format!(
                    "client_assertion_type `{}` is not supported: use {}",
                    other.escape_default(),
                    super::client_assertion::JWT_BEARER
                )));
            }
            None => {
                return Err(OAuthError::invalid_request(
                    "client_assertion was sent without client_assertion_type",
                ));
            }
        }
        let Some(assertion) = assertion else {
            return Err(OAuthError::invalid_request(
                "client_assertion_type was sent without client_assertion",
            ));
        };
        return Ok(ClientCredentials::Assertion {
            id: form_id.map(ClientId::new),
            assertion: ClientAssertion(assertion.to_owned()),
        });
    }

    if let Some(header) = authorization {
        let (id, secret) = parse_basic(header)?;
        // RFC 6749 §2.3: a client MUST NOT use more than one authentication method.
        if form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "the client used both client_secret_basic and client_secret_post; use one",
            ));
        }
        if form_id.is_some_and(|f| f != id) {
            return Err(OAuthError::invalid_request(
                "`client_id` in the body differs from the one in the Authorization header",
            ));
        }
        return Ok(ClientCredentials::Basic {
            id: ClientId::new(id),
            secret: ClientSecret::new(secret),
        });
    }

    match (form_id, form_secret) {
        (Some(id), Some(secret)) => Ok(ClientCredentials::Post {
            id: ClientId::new(id),
            secret: ClientSecret::new(secret),
        }),
        (Some(id), None) => Ok(ClientCredentials::None {
            id: ClientId::new(id),
        }),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "`client_secret` was sent without `client_id`",
        )),
        (None, None) => Err(OAuthError::invalid_client(
            "client authentication is required: use HTTP Basic or client_id and client_secret in the body",
        )),
    }
}

/// Parses `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    let malformed = || {
        OAuthError::invalid_client("the Authorization header is not valid HTTP Basic credentials")
    };
    let (scheme, rest) = header.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "unsupported Authorization scheme at the token endpoint: use Basic",
        ));
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = percent_decode_str(id)
        .decode_utf8()
        .map_err(|_| malformed())?;
    let secret = percent_decode_str(secret)
        .decode_utf8()
        .map_err(|_| malformed())?;
    if id.is_empty() {
        return Err(malformed());
    }
    Ok((id.into_owned(), secret.into_owned()))
}

/// Step 2: check the credentials against the registered client (`None` if unknown).
pub fn authenticate<'a>(
    client: Option<&'a RegisteredClient>,
    credentials: &ClientCredentials,
) -> Result<&'a RegisteredClient, OAuthError> {
    // One message for unknown client and wrong secret, so the answer does not reveal
    // which client ids exist.
    let failed = || OAuthError::invalid_client("client authentication failed");
    let Some(client) = client else {
        // Do the same hashing work as for a known client.
        if let ClientCredentials::Basic { secret, .. } | ClientCredentials::Post { secret, .. } =
            credentials
        {
            let _ = hash_secret(secret.secret());
        }
        return Err(failed());
    };
    match (credentials, client.client_type, &client.secret_hash) {
        // Assertions are checked against the client's keys (`client_assertion`),
        // never here.
        (ClientCredentials::Assertion { .. }, _, _) => Err(failed()),
        (
            ClientCredentials::Basic { .. } | ClientCredentials::Post { .. },
            ClientType::Confidential,
            _,
        ) if client.keys.is_some() => Err(OAuthError::invalid_client(
            "this client authenticates with private_key_jwt: send a client_assertion signed with its key",
        )),
        (
            ClientCredentials::Basic { secret, .. } | ClientCredentials::Post { secret, .. },
            ClientType::Confidential,
            Some(stored),
        ) => {
            let presented = hash_secret(secret.secret());
            // Constant-time (CRYPTO_memcmp): the time taken must not tell how many
            // bytes matched. ring deprecated its equivalent; aws-lc-rs keeps it.
            aws_lc_rs::constant_time::verify_slices_are_equal(&presented.0, &stored.0)
                .map(|()| client)
                .map_err(|_| failed())
        }
        (ClientCredentials::None { .. }, ClientType::Public, _) => Ok(client),
        (ClientCredentials::None { .. }, ClientType::Confidential, _) => {
            Err(OAuthError::invalid_client(
                "this client is confidential and must authenticate with its secret",
            ))
        }
        (_, ClientType::Public, _) => Err(OAuthError::invalid_client(
            "this client is public and has no secret: send only client_id",
        )),

        (_, ClientType::Confidential, None) => Err(failed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;
    use crate::oauth::scope::ScopeSet;
    use crate::oauth::types::GrantType;

    fn confidential(secret: &str) -> RegisteredClient {
        RegisteredClient {
            id: ClientId::new("c1"),
            client_type: ClientType::Confidential,
            secret_hash: Some(hash_secret(secret)),
            grant_types: vec![GrantType::ClientCredentials],
            scopes: ScopeSet::default(),
            redirect_uris: vec![],
            self_described: false,
            keys: None,
            dpop_bound: false,
            require_par: false,
            exchange: Default::default(),
        }
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_credentials_are_urldecoded() {
        let form = FormParams::default();
        let c = extract(Some(&basic("c%3A1", "s%2Bx")), &form).unwrap();
        match c {
            ClientCredentials::Basic { id, secret } => {
                assert_eq!(id.as_str(), "c:1");
                assert_eq!(secret.secret(), "s+x");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn two_methods_is_invalid_request() {
        let form = FormParams::parse(b"client_id=c1&client_secret=s").unwrap();
        let err = extract(Some(&basic("c1", "s")), &form).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn mismatched_ids_is_invalid_request() {
        let form = FormParams::parse(b"client_id=other").unwrap();
        let err = extract(Some(&basic("c1", "s")), &form).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn no_credentials_is_invalid_client() {
        let err = extract(None, &FormParams::default()).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidClient);
    }

    #[test]
    fn garbage_basic_is_invalid_client() {
        let form = FormParams::default();
        for h in ["Basic !!!", "Basic", "Bearer abc", "Basic Zm9v"] {
            assert_eq!(
                extract(Some(h), &form).unwrap_err().code,
                ErrorCode::InvalidClient,
                "{h}"
            );
        }
    }

    #[test]
    fn secret_checks() {
        let client = confidential("right");
        let ok = ClientCredentials::Post {
            id: ClientId::new("c1"),
            secret: ClientSecret::new("right"),
        };
        assert!(authenticate(Some(&client), &ok).is_ok());
        let wrong = ClientCredentials::Basic {
            id: ClientId::new("c1"),
            secret: ClientSecret::new("wrong"),
        };
        assert_eq!(
            authenticate(Some(&client), &wrong).unwrap_err().code,
            ErrorCode::InvalidClient
        );
        assert_eq!(
            authenticate(None, &ok).unwrap_err().code,
            ErrorCode::InvalidClient
        );
        let none = ClientCredentials::None {
            id: ClientId::new("c1"),
        };
        assert_eq!(
            authenticate(Some(&client), &none).unwrap_err().code,
            ErrorCode::InvalidClient
        );
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = ClientSecret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
