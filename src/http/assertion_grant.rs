//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` at the token endpoint:
//! the assertion checked (`oauth::assertion_grant`) against a trusted issuer's keys
//! (from a file, or fetched and cached like clients' `jwks_uri`), its `jti` spent
//! in the shared replay store, then mapped — a workload's subject to a client by
//! the issuer's rules.
//!
//! A workload needs no client authentication (RFC 7521 §4.1: the assertion is the
//! credential); when the request does authenticate a client, it must be the one
//! the rule names.

use super::errors::Failure;
use super::find_client;
use super::token_response::{TokenSuccess, dpop_refused, success};
use crate::oauth::assertion_grant::{
    Assertion, IssuerKeys, Kind, Reason, Refused, TrustedIssuer, Verified, granted_scope,
    intersection, replay_key,
};
use crate::oauth::form::FormParams;
use crate::oauth::jwk::ClientKeySet;
use crate::oauth::scope::ScopeSet;
use crate::oauth::types::RegisteredClient;
use crate::oauth::{ErrorCode, OAuthError};
use crate::random::url_token;
use crate::services::audit::{Actor, Event};
use crate::services::state::AppState;
use std::sync::Arc;

/// Redeems the `assertion` of `form`; `client` is the authenticated client, if the
/// request authenticated one.
pub async fn redeem(
    state: &AppState,
    client: Option<&RegisteredClient>,
    address: Option<std::net::IpAddr>,
    form: &FormParams,
    jkt: Option<&str>,
) -> Result<TokenSuccess, Failure> {
    let Some(assertion) = form.single("assertion")? else {
        return Err(OAuthError::invalid_request(
            "the `assertion` parameter is required: one signed JWT",
        )
        .into());
    };
    let scope = form.single("scope")?.map(ScopeSet::parse).transpose()?;
    let resources: Vec<String> = form.all("resource").map(str::to_owned).collect();
    let now = state.clock.now();
    let outcome = verified(state, assertion, now).await?;
    let (verified, trusted) = match outcome {
        Ok(v) => v,
        Err((issuer, refused)) => {
            return Err(refuse(state, issuer.as_deref(), None, address, refused).await);
        }
    };
    let issuer = Some(verified.issuer.as_str());
    match verified.kind {
        Kind::Workload => {
            let mapped = workload(state, &trusted, &verified, client, scope.as_ref()).await?;
            let (mapped, granted) = match mapped {
                Ok(m) => m,
                Err(refused) => {
                    return Err(refuse(state, issuer, Some(&verified), address, refused).await);
                }
            };
            if (mapped.dpop_bound || state.settings.profile.fapi2) && jkt.is_none() {
                return Err(dpop_refused(
                    "this client's tokens are DPoP-bound: send a DPoP proof",
                ));
            }
            state
                .limits
                .token
                .check(&crate::services::limits::client_key(mapped.id.as_str()))?;
            if let Err(refused) = spend(state, &verified).await? {
                return Err(refuse(state, issuer, Some(&verified), address, refused).await);
            }
            let aud = state.policy.audience(&resources)?;
            let claims = state
                .policy
                .claims(
                    mapped.id.to_string(),
                    mapped.id.as_str(),
                    &granted,
                    aud,
                    now,
                    url_token::<16>(),
                )
                .bound_to(jkt);
            let keys = state.keys.get();
            let access_token = keys.active().sign_jwt(&claims)?;
            state.metrics.assertion_grant("workload", None);
            state
                .metrics
                .token_issued("jwt_bearer", keys.active().alg().as_str());
            state
                .audit(
                    Event::new("token.workload", Actor::Client(mapped.id.as_str()))
                        .detail("issuer", verified.issuer.clone())
                        .detail("subject", verified.subject.clone())
                        .detail("scope", claims.scope.clone())
                        .address(address),
                )
                .await;
            tracing::info!(client_id = %mapped.id, issuer = %verified.issuer, subject = %verified.subject, scope = %claims.scope, "issued access token for a workload");
            Ok(success(access_token, &claims, now, None, None))
        }
        Kind::IdJag => Err(refuse(
            state,
            issuer,
            Some(&verified),
            address,
            Refused::new(Reason::Use, "ID-JAGs are not redeemed by this server yet"),
        )
        .await),
    }
}

/// A refusal, with the issuer the assertion claimed when that is known.
type Refusal = (Option<String>, Refused);

/// Parses and verifies `assertion` against its trusted issuer. The outer error is
/// infrastructure; the inner one the assertion refused.
async fn verified(
    state: &AppState,
    assertion: &str,
    now: i64,
) -> Result<Result<(Verified, Arc<TrustedIssuer>), Refusal>, Failure> {
    let parsed = match Assertion::parse(assertion) {
        Ok(p) => p,
        Err(r) => return Ok(Err((None, r))),
    };
    let iss = match parsed.issuer() {
        Ok(i) => i.to_owned(),
        Err(r) => return Ok(Err((None, r))),
    };
    let refuse = |r: Refused| Ok(Err((Some(iss.clone()), r)));
    let Some(trusted) = state
        .settings
        .trusted_issuers
        .iter()
        .find(|t| t.issuer == iss)
        .cloned()
    else {
        return refuse(Refused::new(
            Reason::Issuer,
            format!(
                "issuer `{}` is not trusted by this server",
                iss.escape_default()
            ),
        ));
    };
    // Before any key is fetched: a token for the wrong purpose costs nothing.
    if let Err(r) = parsed.check_use(&trusted) {
        return refuse(r);
    }
    let issuer = state.settings.issuer.as_str();
    let check = |set: &ClientKeySet| parsed.verify(&trusted, set, issuer, now);
    let outcome = match &trusted.keys {
        IssuerKeys::Set(set) => check(set),
        IssuerKeys::Uri(uri) => {
            state
                .client_keys
                .check_with(
                    uri,
                    now,
                    check,
                    |r| r.reason == Reason::UnknownKey,
                    |refusal| {
                        Refused::new(
                            Reason::Key,
                            format!("the issuer's jwks_uri could not be used ({refusal})"),
                        )
                    },
                )
                .await
        }
    };
    Ok(match outcome {
        Ok(v) => Ok((v, trusted)),
        Err(r) => Err((Some(iss), r)),
    })
}

/// The client a workload's subject maps to, and the scopes it receives.
async fn workload(
    state: &AppState,
    trusted: &TrustedIssuer,
    verified: &Verified,
    authenticated: Option<&RegisteredClient>,
    asked: Option<&ScopeSet>,
) -> Result<Result<(Arc<RegisteredClient>, ScopeSet), Refused>, Failure> {
    let Some(rule) = trusted.workload_rule(&verified.subject) else {
        return Ok(Err(Refused::new(
            Reason::Unmapped,
            format!(
                "no workload rule of issuer `{}` matches the subject `{}`",
                trusted.issuer,
                verified.subject.escape_default()
            ),
        )));
    };
    let client = match find_client(state, &rule.client_id).await? {
        Ok(Some(c)) => c,
        _ => {
            return Ok(Err(Refused::new(
                Reason::Unmapped,
                format!(
                    "the workload rule for this subject names client `{}`, which does not exist",
                    rule.client_id.escape_default()
                ),
            )));
        }
    };
    if let Some(a) = authenticated
        && a.id != client.id
    {
        return Ok(Err(Refused::new(
            Reason::Client,
            "the authenticated client is not the one this workload maps to",
        )));
    }
    let offered = intersection(&rule.scope, &client.scopes);
    Ok(granted_scope(asked, &offered).map(|granted| (client, granted)))
}

/// Spends the assertion's `jti`, if it has one: `Err` when it was seen before.
async fn spend(state: &AppState, verified: &Verified) -> Result<Result<(), Refused>, Failure> {
    let Some(jti) = &verified.jti else {
        return Ok(Ok(()));
    };
    let key = replay_key(&verified.issuer, jti);
    if state.replay.remember(key, verified.keep_until).await? {
        Ok(Ok(()))
    } else {
        Ok(Err(Refused::new(
            Reason::Replayed,
            "this assertion was redeemed before: each one is good for one token",
        )))
    }
}

/// Records a refused assertion (metrics, audit, log) and makes its error.
async fn refuse(
    state: &AppState,
    issuer: Option<&str>,
    verified: Option<&Verified>,
    address: Option<std::net::IpAddr>,
    refused: Refused,
) -> Failure {
    let kind = match verified.map(|v| v.kind) {
        Some(Kind::IdJag) => "id_jag",
        _ => "workload",
    };
    state
        .metrics
        .assertion_grant(kind, Some(refused.reason.as_str()));
    tracing::info!(
        issuer,
        reason = refused.reason.as_str(),
        detail = %refused.message,
        "authorization grant assertion refused"
    );
    let mut event = Event::new("token.assertion_refused", Actor::Anonymous)
        .detail("reason", refused.reason.as_str())
        .detail("description", refused.message.clone())
        .address(address);
    if let Some(i) = issuer {
        event = event.detail("issuer", i.to_owned());
    }
    if let Some(v) = verified {
        event = event.subject(&v.subject);
    }
    state.audit(event).await;
    let code = if refused.reason == Reason::Scope {
        ErrorCode::InvalidScope
    } else {
        ErrorCode::InvalidGrant
    };
    OAuthError::new(code, refused.message).into()
}
