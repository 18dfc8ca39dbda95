//! The refresh token grant (RFC 6749 §6) with rotation and reuse detection
//! (RFC 9700 §4.14.2, OAuth 2.1 §4.3.1).
//!
//! Each authorization is a *family*. The family row names its one live refresh token
//! (`current`) and the one before it (`previous`); rotating is a single conditional
//! write on that row (compare-and-set on `current`), so of N concurrent refreshes with
//! one token exactly one wins, on any database, without locks. Any other token of the
//! family presented again is reuse and revokes the family — except, when a reuse
//! interval is configured, the `previous` token presented once within it: the client
//! lost the response, so it gets a fresh pair and the successor it never saw dies.

use crate::oauth::OAuthError;
use crate::oauth::claims::{Audience, TokenPolicy};
use crate::oauth::form::FormParams;
use crate::oauth::scope::ScopeSet;
use crate::oauth::types::{GrantType, RefreshToken, RegisteredClient};

/// A validated refresh request.
#[derive(Debug)]
pub struct RefreshRequest {
    pub token: RefreshToken,
    pub scope: Option<ScopeSet>,
    pub resources: Vec<String>,
}

/// §6: reads `refresh_token`, `scope` and `resource`.
pub fn validate(form: &FormParams) -> Result<RefreshRequest, OAuthError> {
    let token = form
        .single("refresh_token")?
        .ok_or_else(|| OAuthError::invalid_request("the refresh_token parameter is required"))?;
    Ok(RefreshRequest {
        token: RefreshToken::new(token),
        scope: form.single("scope")?.map(ScopeSet::parse).transpose()?,
        resources: form.all("resource").map(str::to_owned).collect(),
    })
}

/// The state of a token family, as stored.
#[derive(Debug, Clone)]
pub struct Family {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    /// The scope originally granted; refreshes may ask for any subset.
    pub scope: ScopeSet,
    pub resources: Vec<String>,
    pub revoked: bool,
    pub current: Option<[u8; 32]>,
    pub previous: Option<[u8; 32]>,
    pub rotated_at: Option<i64>,
    pub retry_used: bool,
}

/// A presented refresh token found in the store.
#[derive(Debug, Clone)]
pub struct PresentedToken {
    pub hash: [u8; 32],
    pub expires_at: i64,
    pub family: Family,
}

/// What the refresh may issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshGrant {
    pub scope: ScopeSet,
    pub audience: Audience,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshDecision {
    /// The live token: rotate it (compare-and-set `current`).
    Rotate(RefreshGrant),
    /// The previous token, once, within the reuse interval: replace the successor.
    Retry {
        grant: RefreshGrant,
        successor: [u8; 32],
    },
    /// A rotated-out token: revoke the whole family, answer `invalid_grant`.
    Reuse,
}

/// The answer for a refresh token that is unknown, expired or revoked: one message
/// for all, so the answer does not tell which.
pub fn unknown_token() -> OAuthError {
    OAuthError::invalid_grant("the refresh token is invalid, expired or revoked")
}

/// Decides a refresh with a token found in the store.
pub fn decide(
    client: &RegisteredClient,
    request: &RefreshRequest,
    presented: &PresentedToken,
    policy: &TokenPolicy,
    reuse_interval: i64,
    now: i64,
) -> Result<RefreshDecision, OAuthError> {
    let unknown = unknown_token;
    let family = &presented.family;
    // §6: the token was issued to this client.
    if family.client_id != client.id.as_str() {
        return Err(OAuthError::invalid_grant(
            "the refresh token was not issued to this client",
        ));
    }
    if family.revoked {
        return Err(unknown());
    }
    if !client.allows_grant(GrantType::RefreshToken) {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the refresh_token grant",
        ));
    }

    let is_current = family.current == Some(presented.hash);
    let retry_allowed = reuse_interval > 0
        && family.previous == Some(presented.hash)
        && !family.retry_used
        && family.rotated_at.is_some_and(|t| now - t <= reuse_interval);
    if !is_current && !retry_allowed {
        return Ok(RefreshDecision::Reuse);
    }
    if now >= presented.expires_at {
        return Err(unknown());
    }

    // Scope may narrow to any subset of the original grant, never widen (§6).
    let scope = match &request.scope {
        None => family.scope.clone(),
        Some(asked) => {
            if let Some(extra) = asked.difference(&family.scope).next() {
                return Err(OAuthError::invalid_scope(format!(
                    "scope `{extra}` was not granted to this authorization"
                )));
            }
            asked.clone()
        }
    };
    let grant = RefreshGrant {
        scope,
        audience: policy.narrowed_audience(&request.resources, &family.resources)?,
    };
    match (is_current, family.current) {
        (true, _) => Ok(RefreshDecision::Rotate(grant)),
        (false, Some(successor)) => Ok(RefreshDecision::Retry { grant, successor }),
        (false, None) => Ok(RefreshDecision::Reuse),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;
    use crate::oauth::types::{ClientId, ClientType};

    const NOW: i64 = 10_000;
    const OLD: [u8; 32] = [1; 32];
    const CUR: [u8; 32] = [2; 32];
    const ANCIENT: [u8; 32] = [3; 32];

    fn client() -> RegisteredClient {
        RegisteredClient {
            id: ClientId::new("app"),
            client_type: ClientType::Public,
            secret_hash: None,
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: ScopeSet::parse("profile email").unwrap(),
            redirect_uris: vec![],
            self_described: false,
            keys: None,
            dpop_bound: false,
            require_par: false,
            exchange: Default::default(),
        }
    }

    fn policy() -> TokenPolicy {
        TokenPolicy {
            issuer: "i".into(),
            resources: crate::oauth::resource::ResourceSet::new(vec!["https://api.example".into()])
                .unwrap(),
            default_audience: "https://api.example".into(),
            access_token_ttl: 60,
        }
    }

    fn presented(hash: [u8; 32]) -> PresentedToken {
        PresentedToken {
            hash,
            expires_at: NOW + 100,
            family: Family {
                id: "f".into(),
                client_id: "app".into(),
                user_id: "u".into(),
                scope: ScopeSet::parse("profile email").unwrap(),
                resources: vec![],
                revoked: false,
                current: Some(CUR),
                previous: Some(OLD),
                rotated_at: Some(NOW - 5),
                retry_used: false,
            },
        }
    }

    fn run(body: &str, p: &PresentedToken, interval: i64) -> Result<RefreshDecision, OAuthError> {
        let req = validate(&FormParams::parse(body.as_bytes()).unwrap())?;
        decide(&client(), &req, p, &policy(), interval, NOW)
    }

    #[test]
    fn current_token_rotates_and_scope_narrows() {
        let d = run("refresh_token=lk_rt_x&scope=email", &presented(CUR), 0).unwrap();
        assert!(matches!(d, RefreshDecision::Rotate(g) if g.scope.to_string() == "email"));
        let err = run("refresh_token=lk_rt_x&scope=apps:read", &presented(CUR), 0).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidScope);
    }

    #[test]
    fn previous_token_is_reuse_without_interval() {
        assert_eq!(
            run("refresh_token=lk_rt_x", &presented(OLD), 0).unwrap(),
            RefreshDecision::Reuse
        );
        assert_eq!(
            run("refresh_token=lk_rt_x", &presented(ANCIENT), 60).unwrap(),
            RefreshDecision::Reuse
        );
    }

    #[test]
    fn previous_token_retries_once_within_interval() {
        let d = run("refresh_token=lk_rt_x", &presented(OLD), 10).unwrap();
        assert!(matches!(d, RefreshDecision::Retry { successor, .. } if successor == CUR));
        let mut used = presented(OLD);
        used.family.retry_used = true;
        assert_eq!(
            run("refresh_token=lk_rt_x", &used, 10).unwrap(),
            RefreshDecision::Reuse
        );
        // Outside the interval.
        assert_eq!(
            run("refresh_token=lk_rt_x", &presented(OLD), 4).unwrap(),
            RefreshDecision::Reuse
        );
    }

    #[test]
    fn revoked_expired_foreign_unknown() {
        let mut revoked = presented(CUR);
        revoked.family.revoked = true;
        assert_eq!(
            run("refresh_token=lk_rt_x", &revoked, 0).unwrap_err().code,
            ErrorCode::InvalidGrant
        );
        let mut expired = presented(CUR);
        expired.expires_at = NOW;
        assert_eq!(
            run("refresh_token=lk_rt_x", &expired, 0).unwrap_err().code,
            ErrorCode::InvalidGrant
        );
        let mut foreign = presented(CUR);
        foreign.family.client_id = "other".into();
        assert_eq!(
            run("refresh_token=lk_rt_x", &foreign, 0).unwrap_err().code,
            ErrorCode::InvalidGrant
        );
        assert_eq!(unknown_token().code, ErrorCode::InvalidGrant);
    }
}
