//! The token endpoint's grant dispatch (RFC 6749 §3.2) and the success body (§5.1).

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;

use super::OAuthError;
use super::form::FormParams;
use super::types::GrantType;

/// Grants this build of the token endpoint carries out.
pub const SUPPORTED_GRANTS: [GrantType; 4] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::ClientCredentials,
    GrantType::JwtBearer,
];

/// Reads `grant_type` and checks that this server supports it.
pub fn grant_type(form: &FormParams) -> Result<GrantType, OAuthError> {
    let raw = form
        .single("grant_type")?
        .ok_or_else(|| OAuthError::invalid_request("the `grant_type` parameter is required"))?;
    match raw.parse::<GrantType>() {
        Ok(grant) if SUPPORTED_GRANTS.contains(&grant) => Ok(grant),
        Ok(grant) => Err(OAuthError::unsupported_grant_type(format!(
            "grant type `{grant}` is not supported by this server"
        ))),
        Err(_) => Err(OAuthError::unsupported_grant_type(format!(
            "grant type `{}` is not supported by this server",
            raw.escape_default()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;

    #[test]
    fn grant_type_rules() {
        let f = |b: &[u8]| grant_type(&FormParams::parse(b).unwrap());
        assert_eq!(
            f(b"grant_type=client_credentials").unwrap(),
            GrantType::ClientCredentials
        );
        assert_eq!(f(b"").unwrap_err().code, ErrorCode::InvalidRequest);
        assert_eq!(
            f(b"grant_type=password").unwrap_err().code,
            ErrorCode::UnsupportedGrantType
        );
        assert_eq!(
            f(b"grant_type=client_credentials&grant_type=client_credentials")
                .unwrap_err()
                .code,
            ErrorCode::InvalidRequest
        );
    }
}
