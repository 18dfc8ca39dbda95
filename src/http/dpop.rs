//! DPoP at Latchkey's own endpoints (RFC 9449): the `DPoP` header of a request
//! checked against the endpoint it was sent to, its `jti` then recorded in the
//! shared store so that no instance accepts the proof twice, and the nonce the
//! answer should carry.

use crate::oauth::dpop::{self, Accepted, Expected, Proof, Reason, Refused};
use crate::services::state::AppState;
use crate::store::StoreError;
use poem::http::HeaderMap;

/// Why a request's proof was not accepted.
#[derive(Debug)]
pub enum ProofFailure {
    Refused(Refused),
    Store(StoreError),
}

impl From<Refused> for ProofFailure {
    fn from(r: Refused) -> Self {
        Self::Refused(r)
    }
}

/// The request (`headers`, `method`) DPoP proof for the endpoint at `path` (and,
/// at a resource, bound to `access_token`): `Ok(None)` when the request has none.
pub async fn proof(
    state: &AppState,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    access_token: Option<&str>,
) -> Result<Option<Accepted>, ProofFailure> {
    let outcome = check(state, headers, method, path, access_token).await;
    match &outcome {
        Ok(Some(_)) => state.metrics.dpop_proof(None),
        Ok(None) | Err(ProofFailure::Store(_)) => {}
        Err(ProofFailure::Refused(r)) => {
            state.metrics.dpop_proof(Some(r.reason.as_str()));
            tracing::info!(path, reason = r.reason.as_str(), detail = %r.message, "DPoP proof refused");
        }
    }
    outcome
}

async fn check(
    state: &AppState,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    access_token: Option<&str>,
) -> Result<Option<Accepted>, ProofFailure> {
    let mut headers = headers.get_all(dpop::HEADER).iter();
    let Some(value) = headers.next() else {
        return Ok(None);
    };
    if headers.next().is_some() {
        return Err(Refused::new(
            Reason::Malformed,
            "send exactly one DPoP header: this request has several",
        )
        .into());
    }
    let value = value
        .to_str()
        .map_err(|_| Refused::new(Reason::Malformed, "the DPoP header is not a compact JWS"))?;
    let proof = Proof::parse(value.trim(), &state.settings.dpop.algorithms)?;
    let url = format!("{}{path}", state.settings.issuer);
    let now = state.clock.now();
    let accepted = proof.verify(
        &Expected {
            method,
            url: &url,
            access_token,
            nonces: state.dpop_nonces.as_deref(),
        },
        now,
    )?;
    let fresh = state
        .replay
        .remember(
            dpop::replay_key(&accepted.jkt, &accepted.jti),
            accepted.keep_until,
        )
        .await
        .map_err(ProofFailure::Store)?;
    if !fresh {
        return Err(Refused::new(
            Reason::Replayed,
            "this DPoP proof has been used before: make a new one (with a new jti) for each request",
        )
        .into());
    }
    Ok(Some(accepted))
}

/// The `DPoP-Nonce` an answer carries: a new nonce when nonces are on and the
/// caller's proof lacked one, had a refused one, or had one about to age out.
pub fn nonce_header(
    state: &AppState,
    outcome: &Result<Option<Accepted>, ProofFailure>,
) -> Option<String> {
    let nonces = state.dpop_nonces.as_deref()?;
    let due = match outcome {
        Ok(Some(a)) => a.nonce_stale,
        Err(ProofFailure::Refused(r)) => r.reason == Reason::Nonce,
        _ => false,
    };
    due.then(|| nonces.current(state.clock.now()))
}
