//! The authorization code grant at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.5,
//! OAuth 2.1 §4.1.3).
//!
//! The code row has already been consumed atomically by the caller when `decide`
//! runs: a code is spent by its first presentation, valid or not, so a stolen code
//! raced against the legitimate client cannot be tried twice.

use crate::oauth::OAuthError;
use crate::oauth::claims::{Audience, TokenPolicy};
use crate::oauth::form::FormParams;
use crate::oauth::pkce::{CodeChallenge, CodeVerifier};
use crate::oauth::scope::ScopeSet;
use crate::oauth::types::RegisteredClient;

/// A validated code exchange request.
#[derive(Debug)]
pub struct CodeExchange {
    pub code: String,
    pub redirect_uri: Option<String>,
    pub verifier: Option<CodeVerifier>,
    pub resources: Vec<String>,
}

/// §4.1.3: reads `code`, `redirect_uri`, `code_verifier` and `resource`.
pub fn validate(form: &FormParams) -> Result<CodeExchange, OAuthError> {
    let code = form
        .single("code")?
        .ok_or_else(|| OAuthError::invalid_request("the code parameter is required"))?
        .to_owned();
    let verifier = form
        .single("code_verifier")?
        .map(CodeVerifier::parse)
        .transpose()?;
    Ok(CodeExchange {
        code,
        redirect_uri: form.single("redirect_uri")?.map(str::to_owned),
        verifier,
        resources: form.all("resource").map(str::to_owned).collect(),
    })
}

/// What a code was bound to when it was issued.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub redirect_uri_explicit: bool,
    pub scope: ScopeSet,
    pub resources: Vec<String>,
    pub code_challenge: Option<CodeChallenge>,
    pub expires_at: i64,
}

/// What to issue for a good code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeGrant {
    pub scope: ScopeSet,
    pub audience: Audience,
    pub refresh_token: bool,
}

/// Checks the exchange against the code's bindings. Every failure is `invalid_grant`
/// (§5.2) except a malformed resource (`invalid_target`).
pub fn decide(
    client: &RegisteredClient,
    request: &CodeExchange,
    code: &IssuedCode,
    policy: &TokenPolicy,
    now: i64,
) -> Result<CodeGrant, OAuthError> {
    // 1. §4.1.3: the code was issued to this client.
    if code.client_id != client.id.as_str() {
        return Err(OAuthError::invalid_grant(
            "the code was not issued to this client",
        ));
    }
    // 2. Codes are short-lived (RFC 9700 §4.1.2 recommends minutes at most).
    if now >= code.expires_at {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    // 3. §4.1.3: redirect_uri must repeat the one in the authorization request.
    match (&request.redirect_uri, code.redirect_uri_explicit) {
        (Some(given), _) if given != &code.redirect_uri => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        (None, true) => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri is required: the authorization request included it",
            ));
        }
        _ => {}
    }
    // 4. RFC 7636 §4.6, and RFC 9700 §2.1.1: a verifier without a challenge is a
    //    downgrade attempt, so it fails too.
    match (&code.code_challenge, &request.verifier) {
        (Some(challenge), Some(verifier)) if verifier.matches(challenge) => {}
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required")),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier was sent but the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    // 5. RFC 8707 §2.2: the token request may narrow the audience, never widen it.
    let audience = policy.narrowed_audience(&request.resources, &code.resources)?;
    Ok(CodeGrant {
        scope: code.scope.clone(),
        audience,
        refresh_token: crate::oauth::id_token::refresh_token_allowed(client, &code.scope),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;
    use crate::oauth::pkce::parse_challenge;
    use crate::oauth::types::{ClientId, ClientType, GrantType};

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const NOW: i64 = 1_000;

    fn client() -> RegisteredClient {
        RegisteredClient {
            id: ClientId::new("app"),
            client_type: ClientType::Public,
            secret_hash: None,
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: ScopeSet::parse("profile").unwrap(),
            redirect_uris: vec!["https://app.example/cb".into()],
            self_described: false,
            keys: None,
            dpop_bound: false,
            require_par: false,
            exchange: Default::default(),
        }
    }

    fn code() -> IssuedCode {
        IssuedCode {
            client_id: "app".into(),
            user_id: "u1".into(),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_explicit: true,
            scope: ScopeSet::parse("profile").unwrap(),
            resources: vec![],
            code_challenge: parse_challenge(Some(CHALLENGE), Some("S256")).unwrap(),
            expires_at: NOW + 60,
        }
    }

    fn policy() -> TokenPolicy {
        TokenPolicy {
            issuer: "https://auth.example".into(),
            resources: crate::oauth::resource::ResourceSet::new(vec!["https://api.example".into()])
                .unwrap(),
            default_audience: "https://api.example".into(),
            access_token_ttl: 60,
        }
    }

    fn run(body: &str, code: &IssuedCode, now: i64) -> Result<CodeGrant, OAuthError> {
        let req = validate(&FormParams::parse(body.as_bytes()).unwrap())?;
        decide(&client(), &req, code, &policy(), now)
    }

    const GOOD: &str = "code=c&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    #[test]
    fn good_exchange() {
        let g = run(GOOD, &code(), NOW).unwrap();
        assert_eq!(g.scope.to_string(), "profile");
        assert!(g.refresh_token);
        assert_eq!(g.audience, Audience::One("https://api.example".into()));
        // An OpenID request gets a refresh token only with offline_access (Core §11).
        let mut openid = code();
        openid.scope = ScopeSet::parse("openid profile").unwrap();
        assert!(!run(GOOD, &openid, NOW).unwrap().refresh_token);
        openid.scope = ScopeSet::parse("openid offline_access").unwrap();
        assert!(run(GOOD, &openid, NOW).unwrap().refresh_token);
    }

    #[test]
    fn each_binding_is_checked() {
        let grant = |r: Result<CodeGrant, OAuthError>| r.unwrap_err().code;
        assert_eq!(
            grant(run(GOOD, &code(), NOW + 60)),
            ErrorCode::InvalidGrant,
            "expired"
        );
        let mut other = code();
        other.client_id = "other".into();
        assert_eq!(
            grant(run(GOOD, &other, NOW)),
            ErrorCode::InvalidGrant,
            "client"
        );
        assert_eq!(
            grant(run(
                &GOOD.replace("app.example%2Fcb", "app.example%2Fother"),
                &code(),
                NOW
            )),
            ErrorCode::InvalidGrant,
            "redirect"
        );
        assert_eq!(
            grant(run(
                &format!("code=c&code_verifier={VERIFIER}"),
                &code(),
                NOW
            )),
            ErrorCode::InvalidGrant,
            "missing redirect"
        );
        assert_eq!(
            grant(run(
                "code=c&redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
                &code(),
                NOW
            )),
            ErrorCode::InvalidGrant,
            "missing verifier"
        );
        let wrong = format!(
            "code=c&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier={}",
            "a".repeat(43)
        );
        assert_eq!(
            grant(run(&wrong, &code(), NOW)),
            ErrorCode::InvalidGrant,
            "wrong verifier"
        );
        let mut plain = code();
        plain.code_challenge = None;
        assert_eq!(
            grant(run(GOOD, &plain, NOW)),
            ErrorCode::InvalidGrant,
            "downgrade"
        );
        assert_eq!(
            grant(run(
                &format!("{GOOD}&resource=https%3A%2F%2Fapi.example"),
                &code(),
                NOW
            )),
            ErrorCode::InvalidTarget
        );
    }
}
