//! The body of a successful token response (RFC 6749 §5.1), shared by every grant
//! of the token endpoint, and the refusal every grant gives about DPoP.

use super::errors::Failure;
use crate::oauth::claims::AccessTokenClaims;
use crate::oauth::{ErrorCode, OAuthError};
use poem_openapi::Object;

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Object)]
pub struct TokenSuccess {
    /// The access token: a JWT (RFC 9068) to send as `Authorization: Bearer`, or
    /// as `Authorization: DPoP` with a proof when it is DPoP-bound.
    pub access_token: String,
    /// `Bearer`, or `DPoP` when the request carried a DPoP proof: the token then
    /// has `cnf.jkt`, the thumbprint of the proof's key, and is useless without it.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The scopes granted, space-separated.
    pub scope: String,
    /// A refresh token (`lk_rt_…`), for authorization_code and refresh_token grants
    /// when the client may refresh. Each use returns a new one; the old one dies.
    #[oai(skip_serializing_if_is_none)]
    pub refresh_token: Option<String>,
    /// An OpenID Connect ID token (a JWT with `typ: JWT`), when the granted scope
    /// includes `openid`: on the code exchange and on every refresh of it.
    #[oai(skip_serializing_if_is_none)]
    pub id_token: Option<String>,
}

/// A refused token request about DPoP (`invalid_dpop_proof`).
pub fn dpop_refused(message: &'static str) -> Failure {
    OAuthError::new(ErrorCode::InvalidDpopProof, message).into()
}

pub fn success(
    access_token: String,
    claims: &AccessTokenClaims,
    now: i64,
    refresh_token: Option<String>,
    id_token: Option<String>,
) -> TokenSuccess {
    TokenSuccess {
        access_token,
        token_type: claims.token_type().to_owned(),
        expires_in: claims.exp - now,
        scope: claims.scope.clone(),
        refresh_token,
        id_token,
    }
}
