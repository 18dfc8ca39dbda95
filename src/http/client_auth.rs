//! Who is calling an OAuth endpoint (RFC 6749 §2.3): the credentials of the request
//! checked against the registered client — a secret, nothing (public clients), or
//! a `private_key_jwt` assertion checked against the client's keys (by value, or
//! fetched from its `jwks_uri`) and whose `jti` is then remembered in the store so
//! that no instance accepts it again.

use super::errors::Failure;
use super::find_client;
use crate::oauth::OAuthError;
use crate::oauth::client_assertion::{Jws, Reason, Refused, replay_key};
use crate::oauth::client_auth::{self, ClientAssertion, ClientCredentials};
use crate::oauth::form::FormParams;
use crate::oauth::types::{ClientId, ClientKeys, RegisteredClient};
use crate::services::audit::{Actor, Event};
use crate::services::state::AppState;
use std::sync::Arc;

/// Authenticates the client calling an OAuth endpoint: credentials from the
/// `Authorization` header or the form, checked against the stored client
/// (`address`, the caller's, goes into the audit record of a refused assertion). Public
/// clients pass with their `client_id` alone; callers decide whether that is
/// enough for them.
pub async fn authenticate_client(
    state: &AppState,
    authorization: Option<&str>,
    address: Option<std::net::IpAddr>,
    form: &FormParams,
) -> Result<Arc<RegisteredClient>, Failure> {
    let credentials = client_auth::extract(authorization, form)?;
    // FAPI 2.0 §5.3.2.1: confidential clients, authenticated by private_key_jwt (or
    // mTLS, which Latchkey does not offer).
    if state.settings.profile.fapi2 && !matches!(credentials, ClientCredentials::Assertion { .. }) {
        return Err(OAuthError::invalid_client(
            "this server runs the FAPI 2.0 profile: clients authenticate with private_key_jwt only (no client secrets, no public clients)",
        )
        .into());
    }
    if let ClientCredentials::Assertion { id, assertion } = &credentials {
        return match by_assertion(state, id.as_ref(), assertion).await? {
            Ok(client) => {
                state.metrics.client_assertion(None);
                Ok(client)
            }
            Err((client_id, refused)) => {
                state
                    .metrics
                    .client_assertion(Some(refused.reason.as_str()));
                tracing::info!(
                    client_id = client_id.as_deref(),
                    reason = refused.reason.as_str(),
                    detail = %refused.message,
                    "client assertion refused"
                );
                let mut event = Event::new("client.assertion_refused", Actor::Anonymous)
                    .detail("reason", refused.reason.as_str())
                    .detail("description", refused.message.clone())
                    .address(address);
                if let Some(id) = &client_id {
                    event = event.subject(id);
                }
                state.audit(event).await;
                Err(OAuthError::invalid_client(refused.message).into())
            }
        };
    }
    let id = credentials.client_id().map(ClientId::as_str).unwrap_or("");
    let client = match find_client(state, id).await? {
        Ok(client) => client,
        Err(refusal) => {
            return Err(OAuthError::invalid_client(format!(
                "the client's metadata document was refused ({refusal})"
            ))
            .into());
        }
    };
    client_auth::authenticate(client.as_deref(), &credentials)?;
    // Authentication fails for an unknown client, so there is one here.
    client.ok_or_else(|| OAuthError::invalid_client("client authentication failed").into())
}

/// A refusal, with the client it claimed to be when that is known.
type Refusal = (Option<String>, Refused);

/// Checks a `private_key_jwt` assertion. The outer error is infrastructure (the
/// database); the inner one an assertion refused, with its reason.
async fn by_assertion(
    state: &AppState,
    form_id: Option<&ClientId>,
    assertion: &ClientAssertion,
) -> Result<Result<Arc<RegisteredClient>, Refusal>, Failure> {
    let jws = match Jws::parse(assertion.as_str()) {
        Ok(jws) => jws,
        Err(refused) => return Ok(Err((form_id.map(|i| i.as_str().to_owned()), refused))),
    };
    let sub = match jws.subject() {
        Ok(sub) => sub.to_owned(),
        Err(refused) => return Ok(Err((form_id.map(|i| i.as_str().to_owned()), refused))),
    };
    let refuse = |refused: Refused| Ok(Err((Some(sub.clone()), refused)));
    if form_id.is_some_and(|id| id.as_str() != sub) {
        return refuse(Refused::new(
            Reason::Subject,
            "client_id differs from the client assertion's `sub`",
        ));
    }
    let client = match find_client(state, &sub).await? {
        Ok(Some(client)) => client,
        // One message for every client that cannot be had, so the answer does not
        // reveal which client ids exist.
        Ok(None) => {
            return refuse(Refused::new(
                Reason::Subject,
                "client authentication failed",
            ));
        }
        Err(refusal) => {
            return refuse(Refused::new(
                Reason::Key,
                format!("the client's metadata document was refused ({refusal})"),
            ));
        }
    };
    let now = state.clock.now();
    let rules = &state.assertion_rules;
    let accepted = match &client.keys {
        None => {
            return refuse(Refused::new(
                Reason::Method,
                format!(
                    "this client is registered for {}, not private_key_jwt",
                    client.auth_method()
                ),
            ));
        }
        Some(ClientKeys::Set(set)) => jws.verify(&sub, set, rules, now),
        Some(ClientKeys::Uri(uri)) => {
            state
                .client_keys
                .check_with(
                    uri,
                    now,
                    |set| jws.verify(&sub, set, rules, now),
                    |r| r.reason == Reason::UnknownKey,
                    |refusal| {
                        Refused::new(
                            Reason::Key,
                            format!("the client's jwks_uri could not be used ({refusal})"),
                        )
                    },
                )
                .await
        }
    };
    let accepted = match accepted {
        Ok(a) => a,
        Err(refused) => return refuse(refused),
    };
    let key = replay_key(&sub, &accepted.jti);
    if !state.replay.remember(key, accepted.keep_until).await? {
        return refuse(Refused::new(
            Reason::Replayed,
            "this client assertion was used before: every assertion needs a new jti",
        ));
    }
    Ok(Ok(client))
}
