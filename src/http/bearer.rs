//! Is an access token active right now? Shared by introspection, userinfo and (later)
//! the management API.

use crate::oauth::claims::{AccessTokenClaims, family_of_jti};
use crate::services::state::AppState;
use crate::store::{self, StoreError};

/// The claims of `token` if it is active: issued and signed by this server, not
/// expired, not revoked by `jti`, its family (if any) alive, its client still there.
pub async fn active_access_token(
    state: &AppState,
    token: &str,
) -> Result<Option<AccessTokenClaims>, StoreError> {
    let Some(claims) = state
        .keys
        .get()
        .verify_access_token(token, &state.settings.issuer)
    else {
        return Ok(None);
    };
    if claims.exp <= state.clock.now() {
        return Ok(None);
    }
    if state.revoked.contains(&state.db, &claims.jti).await? {
        return Ok(None);
    }
    if let Some(family_id) = family_of_jti(&claims.jti) {
        match store::tokens::find_family(&state.db, family_id).await? {
            Some(f) if f.revoked_at.is_none() => {}
            _ => return Ok(None),
        }
    }
    // A deleted client's tokens die with it (a refused metadata document likewise).
    if !matches!(
        super::find_client(state, &claims.client_id).await?,
        Ok(Some(_))
    ) {
        return Ok(None);
    }
    Ok(Some(claims))
}

/// The token of an `Authorization: Bearer` header (scheme case-insensitive), if any.
pub fn bearer_token(request: &poem::Request) -> Option<String> {
    request
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}
