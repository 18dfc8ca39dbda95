//! Is an access token active right now? Shared by introspection, userinfo and (later)
//! the management API.

use crate::oauth::claims::{AccessTokenClaims, family_of_jti};
use crate::services::state::AppState;
use crate::store::{self, StoreError};
use poem::http::HeaderMap;

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

/// The access token a request presents, and under which scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub token: String,
    /// `Authorization: DPoP` (RFC 9449 §7.1) rather than `Bearer`.
    pub dpop: bool,
}

/// An `Authorization` header that is neither `Bearer <token>` nor `DPoP <token>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotATokenHeader;

/// The token of an `Authorization: Bearer` or `Authorization: DPoP` header
/// (schemes case-insensitive). `Err` when the header is there but is neither.
pub fn presented_token(headers: &HeaderMap) -> Result<Option<Presented>, NotATokenHeader> {
    let Some(value) = headers.get(poem::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let (scheme, token) = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .ok_or(NotATokenHeader)?;
    let token = token.trim();
    if token.is_empty() {
        return Err(NotATokenHeader);
    }
    let dpop = if scheme.eq_ignore_ascii_case("bearer") {
        false
    } else if scheme.eq_ignore_ascii_case("dpop") {
        true
    } else {
        return Err(NotATokenHeader);
    };
    Ok(Some(Presented {
        token: token.to_owned(),
        dpop,
    }))
}

/// What a resource check reads of a request: its headers, method and path.
#[derive(Debug, Clone)]
pub struct ResourceRequest {
    pub headers: HeaderMap,
    pub method: poem::http::Method,
    pub path: String,
}

impl ResourceRequest {
    pub fn of(req: &poem::Request) -> Self {
        Self {
            headers: req.headers().clone(),
            method: req.method().clone(),
            path: req.uri().path().to_owned(),
        }
    }
}

/// Why a resource request's token was not accepted.
#[derive(Debug)]
pub enum TokenRefusal {
    /// No `Authorization` header.
    Missing,
    /// A header that is neither `Bearer <token>` nor `DPoP <token>`.
    Malformed,
    /// Not an active token of this server, or presented under the wrong scheme:
    /// `invalid_token`.
    Invalid(&'static str),
    /// The DPoP proof is missing, invalid, or made with another key than the
    /// token's: `invalid_dpop_proof`, or `use_dpop_nonce`.
    Proof(crate::oauth::dpop::Refused),
    Internal(StoreError),
}

impl From<StoreError> for TokenRefusal {
    fn from(e: StoreError) -> Self {
        Self::Internal(e)
    }
}

/// A resource request's verdict, and the `DPoP-Nonce` its answer should carry.
pub struct ResourceAccess {
    pub outcome: Result<AccessTokenClaims, TokenRefusal>,
    pub nonce: Option<String>,
}

/// Checks the access token of a request to Latchkey's own resource at `path`
/// (UserInfo, `/api/*`, `/admin/*`): active, and sent as it must be — a
/// DPoP-bound token as `Authorization: DPoP` with a proof by its key whose `ath`
/// is the token's hash (a bound token sent as `Bearer` is refused: that is the
/// downgrade of RFC 9449 §7.1); a bearer token as `Bearer`.
pub async fn resource_access(state: &AppState, req: &ResourceRequest) -> ResourceAccess {
    let presented = match presented_token(&req.headers) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return ResourceAccess {
                outcome: Err(TokenRefusal::Missing),
                nonce: None,
            };
        }
        Err(NotATokenHeader) => {
            return ResourceAccess {
                outcome: Err(TokenRefusal::Malformed),
                nonce: None,
            };
        }
    };
    let claims = match active_access_token(state, &presented.token).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return ResourceAccess {
                outcome: Err(TokenRefusal::Invalid(
                    "the access token is invalid, expired or revoked",
                )),
                nonce: None,
            };
        }
        Err(e) => {
            return ResourceAccess {
                outcome: Err(e.into()),
                nonce: None,
            };
        }
    };
    match (presented.dpop, claims.jkt()) {
        (false, None) => ResourceAccess {
            outcome: Ok(claims),
            nonce: None,
        },
        (false, Some(_)) => ResourceAccess {
            outcome: Err(TokenRefusal::Invalid(
                "this access token is DPoP-bound: send it as `Authorization: DPoP` with a proof",
            )),
            nonce: None,
        },
        (true, None) => ResourceAccess {
            outcome: Err(TokenRefusal::Invalid(
                "this access token is not DPoP-bound: send it as `Authorization: Bearer`",
            )),
            nonce: None,
        },
        (true, Some(jkt)) => {
            use super::dpop::ProofFailure;
            use crate::oauth::dpop::{Reason, Refused};
            let proof = super::dpop::proof(
                state,
                &req.headers,
                req.method.as_str(),
                &req.path,
                Some(&presented.token),
            )
            .await;
            let nonce = super::dpop::nonce_header(state, &proof);
            let outcome = match proof {
                Ok(Some(p)) if p.jkt == jkt => Ok(claims),
                Ok(Some(_)) => Err(TokenRefusal::Proof(Refused::new(
                    Reason::Binding,
                    "the DPoP proof is made with another key than the one the token is bound to",
                ))),
                Ok(None) => Err(TokenRefusal::Proof(Refused::new(
                    Reason::Missing,
                    "a DPoP-bound token needs a DPoP header: a proof with `ath`, made with the token's key",
                ))),
                Err(ProofFailure::Refused(r)) => Err(TokenRefusal::Proof(r)),
                Err(ProofFailure::Store(e)) => Err(e.into()),
            };
            ResourceAccess { outcome, nonce }
        }
    }
}

/// The `WWW-Authenticate` value for a refused resource request: a `DPoP`
/// challenge (with `algs`) beside the `Bearer` one, the error on the scheme the
/// request used; `scope`, if any, names what the resource needs.
pub fn challenge(state: &AppState, refusal: &TokenRefusal, scope: Option<&str>) -> String {
    let algs: Vec<&str> = state
        .settings
        .dpop
        .algorithms
        .iter()
        .map(|a| a.as_str())
        .collect();
    let scope = scope
        .map(|s| format!(r#", scope="{s}""#))
        .unwrap_or_default();
    let error = match refusal {
        TokenRefusal::Missing | TokenRefusal::Internal(_) => None,
        TokenRefusal::Malformed => Some("invalid_request"),
        TokenRefusal::Invalid(_) => Some("invalid_token"),
        TokenRefusal::Proof(r) if r.reason == crate::oauth::dpop::Reason::Nonce => {
            Some("use_dpop_nonce")
        }
        TokenRefusal::Proof(_) => Some("invalid_dpop_proof"),
    };
    let with_error = |scheme: &str, error: Option<&str>| {
        let mut c = format!(r#"{scheme} realm="latchkey""#);
        if let Some(e) = error {
            c.push_str(&format!(r#", error="{e}""#));
        }
        c.push_str(&scope);
        c
    };
    let (bearer, dpop) = if matches!(refusal, TokenRefusal::Proof(_)) {
        (None, error)
    } else {
        (error, None)
    };
    format!(
        r#"{}, {}, algs="{}""#,
        with_error("Bearer", bearer),
        with_error("DPoP", dpop),
        algs.join(" ")
    )
}

impl TokenRefusal {
    /// What the caller reads.
    pub fn message(&self) -> String {
        match self {
            Self::Missing => "send an access token: Authorization: Bearer <token>, or DPoP <token> with a DPoP proof".to_owned(),
            Self::Malformed => "the Authorization header must be `Bearer <access token>` or `DPoP <access token>`".to_owned(),
            Self::Invalid(m) => (*m).to_owned(),
            Self::Proof(r) => r.message.clone(),
            Self::Internal(_) => "the server could not complete the request".to_owned(),
        }
    }
}
