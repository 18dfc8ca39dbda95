//! Pushed authorization requests (RFC 9126): the rules of what may be pushed, the
//! `request_uri` handed back, and the authorization request a `request_uri` makes.
//!
//! A pushed request is validated exactly as one sent to the authorization endpoint
//! (the caller runs `authorize::validate` on it); beyond that it may not carry a
//! `request_uri` (§2.1) or a request object, and the client's credentials are not
//! kept with it. At the authorization endpoint its parameters are the only ones
//! that count: whatever else the front channel carries is ignored.

use super::OAuthError;
use super::form::FormParams;

/// Every `request_uri` this server issues starts so (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// How long a pushed request may be used, seconds (`expires_in`).
pub const LIFETIME: i64 = 60;

/// Parameters that authenticate the client at `/oauth/par`: checked, never stored.
const CREDENTIALS: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

/// The pushed-only rules; the authorization request rules are checked besides.
pub fn check_pushed(params: &FormParams) -> Result<(), OAuthError> {
    if params.single("request_uri")?.is_some() {
        return Err(OAuthError::invalid_request(
            "request_uri cannot be pushed: push the authorization request's own parameters",
        ));
    }
    if params.single("request")?.is_some() {
        return Err(OAuthError::new(
            super::ErrorCode::RequestNotSupported,
            "request objects (the request parameter) are not supported; push the parameters themselves",
        ));
    }
    Ok(())
}

/// What is kept of a pushed request: its parameters without the client's
/// credentials, with `client_id` (the authenticated one) and, when the push
/// carried a DPoP proof and no `dpop_jkt`, the proof's key as `dpop_jkt`
/// (RFC 9449 §10.1), form-encoded.
pub fn stored_form(params: &FormParams, client_id: &str, proof_jkt: Option<&str>) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params.pairs() {
        if k != "client_id" && !CREDENTIALS.contains(&k.as_str()) {
            out.append_pair(k, v);
        }
    }
    out.append_pair("client_id", client_id);
    if let Some(jkt) = proof_jkt
        && !params.pairs().iter().any(|(k, _)| k == "dpop_jkt")
    {
        out.append_pair("dpop_jkt", jkt);
    }
    out.finish()
}

/// The digest a `request_uri` is stored under.
pub fn request_uri_hash(request_uri: &str) -> [u8; 32] {
    super::types::sha256(request_uri.as_bytes())
}

/// The authorization request a `request_uri` stands for: the pushed parameters,
/// and the `request_uri` beside them so that sign-in and consent carry it along.
/// `signed_in_since` (the person signed in after the push): what asked for that
/// sign-in is satisfied, as `authorize::after_sign_in` has it.
pub fn expand(
    stored: &str,
    request_uri: &str,
    signed_in_since: bool,
) -> Result<FormParams, OAuthError> {
    let pushed = FormParams::parse(stored.as_bytes())?;
    let mut pairs = if signed_in_since {
        super::authorize::after_sign_in(&pushed)
    } else {
        pushed.pairs().to_vec()
    };
    pairs.push(("request_uri".to_owned(), request_uri.to_owned()));
    Ok(FormParams::from_pairs(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(s: &str) -> FormParams {
        FormParams::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn pushed_rules() {
        check_pushed(&form("response_type=code&client_id=c")).unwrap();
        assert!(check_pushed(&form("request_uri=urn:x")).is_err());
        assert_eq!(
            check_pushed(&form("request=eyJ")).unwrap_err().code,
            super::super::ErrorCode::RequestNotSupported
        );
    }

    #[test]
    fn credentials_are_not_kept_and_the_proof_key_binds_the_code() {
        let kept = stored_form(
            &form("response_type=code&client_secret=s3cret&client_id=other&scope=a+b"),
            "c1",
            Some("jkt1"),
        );
        assert!(!kept.contains("s3cret"), "{kept}");
        let back = form(&kept);
        assert_eq!(back.single("client_id").unwrap(), Some("c1"));
        assert_eq!(back.single("scope").unwrap(), Some("a b"));
        assert_eq!(back.single("dpop_jkt").unwrap(), Some("jkt1"));
        // A dpop_jkt the client pushed stays its own.
        let own = stored_form(&form("dpop_jkt=mine"), "c1", Some("jkt1"));
        assert_eq!(form(&own).all("dpop_jkt").collect::<Vec<_>>(), ["mine"]);
    }

    #[test]
    fn expanded_requests_carry_the_request_uri_and_drop_satisfied_prompts() {
        let stored = "response_type=code&client_id=c1&prompt=login+consent&max_age=0";
        let fresh = expand(stored, "urn:r", false).unwrap();
        assert_eq!(fresh.single("prompt").unwrap(), Some("login consent"));
        assert_eq!(fresh.single("request_uri").unwrap(), Some("urn:r"));
        let after = expand(stored, "urn:r", true).unwrap();
        assert_eq!(after.single("prompt").unwrap(), Some("consent"));
        assert_eq!(after.single("max_age").unwrap(), None);
    }
}
