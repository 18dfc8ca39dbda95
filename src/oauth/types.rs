//! Newtypes for protocol values, and the registered-client view the core works on.

use super::scope::ScopeSet;
use std::fmt;
use std::str::FromStr;

/// A client identifier (RFC 6749 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client secret as presented by a client. Never printed: `Debug` redacts it.
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// Grant types a client may be allowed to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    /// RFC 7523 §2.1: a signed JWT from a trusted issuer (workloads, ID-JAG).
    JwtBearer,
    /// RFC 8693: a token exchanged for another.
    TokenExchange,
}

impl GrantType {
    pub const ALL: [GrantType; 5] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::JwtBearer,
        GrantType::TokenExchange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            Self::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
        }
    }
}

impl FromStr for GrantType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown grant type `{}` (expected authorization_code, refresh_token, client_credentials, urn:ietf:params:oauth:grant-type:jwt-bearer or urn:ietf:params:oauth:grant-type:token-exchange)",
                    s.escape_default()
                )
            })
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RFC 6749 §2.1 client types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Confidential,
    Public,
}

impl ClientType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confidential => "confidential",
            Self::Public => "public",
        }
    }
}

impl FromStr for ClientType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "confidential" => Ok(Self::Confidential),
            "public" => Ok(Self::Public),
            other => Err(format!("unknown client type `{}`", other.escape_default())),
        }
    }
}

/// OpenID Connect Registration 1.0 §2: what kind of software the client is, which
/// decides the redirect URIs it may register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationType {
    /// A web application: `https` redirect URIs (and loopback `http`, kept for
    /// clients registered before `application_type` existed).
    Web,
    /// A native (desktop, mobile, CLI) application: loopback `http`, private-use
    /// schemes (RFC 8252 §7.1) and claimed `https` URIs.
    Native,
}

impl ApplicationType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Native => "native",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, super::OAuthError> {
        match raw {
            "web" => Ok(Self::Web),
            "native" => Ok(Self::Native),
            other => Err(super::OAuthError::invalid_client_metadata(format!(
                "application_type `{}` is not supported (use web or native)",
                other.escape_default()
            ))),
        }
    }
}

/// A SHA-256 digest of a client secret, the only form in which secrets are stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash(pub [u8; 32]);

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

/// What the protocol core needs to know about a registered client.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub id: ClientId,
    pub client_type: ClientType,
    /// `None` for public clients.
    pub secret_hash: Option<SecretHash>,
    pub grant_types: Vec<GrantType>,
    pub scopes: ScopeSet,
    pub redirect_uris: Vec<String>,
    /// The client chose its own scope list (RFC 7591 registration, or a Client ID
    /// Metadata Document) and could have chosen any other: at the authorization
    /// endpoint the list is its default, not a limit, and the person's consent
    /// decides. A list set by the operator or an app's owner is a limit.
    pub self_described: bool,
    /// For a `private_key_jwt` client, where its public keys are; `None` for
    /// clients with a secret and public clients.
    pub keys: Option<ClientKeys>,
    /// RFC 9449 §5.2: refused a token without a DPoP proof.
    pub dpop_bound: bool,
    /// RFC 9126 §6: authorization requests only through `/oauth/par`.
    pub require_par: bool,
    /// What it may exchange tokens for (RFC 8693); nothing by default.
    pub exchange: ExchangePolicy,
}

/// A client's token exchange policy, set by the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExchangePolicy {
    /// Audiences (RFC 8707 resources) it may exchange a token for.
    pub audiences: Vec<String>,
    /// Other authorization servers it may get an ID-JAG for: their issuer, and this
    /// client's id there.
    pub id_jag: Vec<(String, String)>,
}

/// Where a `private_key_jwt` client's public keys come from.
#[derive(Debug, Clone)]
pub enum ClientKeys {
    /// Registered by value (`jwks`), parsed once.
    Set(std::sync::Arc<super::jwk::ClientKeySet>),
    /// Published by the client (`jwks_uri`), fetched and cached.
    Uri(String),
}

impl RegisteredClient {
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The RFC 7591 `token_endpoint_auth_method` it authenticates with.
    pub fn auth_method(&self) -> &'static str {
        match (self.client_type, &self.keys) {
            (ClientType::Public, _) => "none",
            (ClientType::Confidential, Some(_)) => PRIVATE_KEY_JWT,
            (ClientType::Confidential, None) => "client_secret_basic",
        }
    }
}

/// The `token_endpoint_auth_method` of clients that sign assertions.
pub const PRIVATE_KEY_JWT: &str = "private_key_jwt";

/// A refresh token as presented (`lk_rt_…`). Never printed: `Debug` redacts it.
pub struct RefreshToken(String);

impl RefreshToken {
    /// The prefix that marks Latchkey refresh tokens (and lets secret scanners find them).
    pub const PREFIX: &'static str = "lk_rt_";

    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn secret(&self) -> &str {
        &self.0
    }

    /// The SHA-256 digest under which it is stored.
    pub fn hash(&self) -> [u8; 32] {
        sha256(self.0.as_bytes())
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

/// SHA-256 of `data`: how codes, refresh tokens and session ids are stored.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}
