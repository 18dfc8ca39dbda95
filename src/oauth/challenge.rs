//! Delegated sign-in and consent: the rules of the login and consent challenges a
//! product answers through the admin API (the pattern of Ory Hydra's login and
//! consent flow, kept smaller).
//!
//! A challenge's life, for both kinds:
//!
//! | state     | how it is reached                                   | what may follow                 |
//! |-----------|-----------------------------------------------------|---------------------------------|
//! | pending   | `/oauth/authorize` needs a sign-in (or consent)     | accept, reject, expiry (10 min) |
//! | answered  | the product accepted or rejected it (once)          | the browser follows `redirect_to` within 2 minutes |
//! | used      | that browser (binding cookie) arrived with the verifier | nothing: single use          |
//! | expired   | the deadline passed in either earlier state         | nothing                         |
//!
//! Only digests of the challenge, of the verifier and of the browser's binding
//! cookie are stored, so a copy of the database cannot answer or follow one.

use super::scope::ScopeSet;
use super::{ErrorCode, OAuthError};
use serde::{Deserialize, Serialize};

/// How long a product has to answer a challenge (and a person to sign in).
pub const CHALLENGE_TTL: i64 = 600;
/// How long the browser has to follow `redirect_to` once the product answered.
pub const VERIFIER_TTL: i64 = 120;
/// A subject (the product's user id) is at most this long, as for OpenID's `sub`.
pub const MAX_SUBJECT: usize = 255;
const MAX_CLAIM: usize = 254;

/// What a challenge asks the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Login,
    Consent,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Consent => "consent",
        }
    }
}

/// The product's answer, stored with the challenge until the browser follows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Answer {
    /// Login: the person is the user `user_id`. Consent: they granted `scopes`.
    Accepted {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scopes: Option<String>,
        remember: bool,
    },
    /// The authorization ends with this OAuth error at the client.
    Rejected { error: String, description: String },
}

/// Why a challenge cannot be answered or followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeError {
    /// No such challenge (never issued, or already purged).
    Unknown,
    /// Its deadline passed.
    Expired,
    /// It was accepted or rejected before.
    AlreadyAnswered,
    /// The browser already followed it.
    AlreadyUsed,
    /// A different browser than the one that started the authorization.
    OtherBrowser,
    /// The verifier names a challenge nobody answered (cannot happen through the
    /// API; kept for a forged verifier that matches nothing).
    NotAnswered,
}

impl ChallengeError {
    pub fn message(&self) -> &'static str {
        match self {
            Self::Unknown => "no such challenge: it was never issued, or it was purged",
            Self::Expired => "the challenge has expired; the person must start again from the app",
            Self::AlreadyAnswered => "the challenge was already accepted or rejected",
            Self::AlreadyUsed => "this sign-in was already completed; it cannot be used twice",
            Self::OtherBrowser => {
                "this sign-in was started in another browser, so it cannot be completed in this one"
            }
            Self::NotAnswered => "the challenge has not been answered",
        }
    }
}

/// The stored state of one challenge, as the rules need it.
#[derive(Debug, Clone, Copy)]
pub struct State {
    pub expires_at: i64,
    pub answered: bool,
    pub used: bool,
}

/// May the product still answer it at `now`?
pub fn check_answerable(state: State, now: i64) -> Result<(), ChallengeError> {
    if state.answered {
        return Err(ChallengeError::AlreadyAnswered);
    }
    if now >= state.expires_at {
        return Err(ChallengeError::Expired);
    }
    Ok(())
}

/// May this browser follow the answered challenge at `now`? `same_browser`: the
/// binding cookie's digest equals the stored one (compared in constant time by
/// the caller).
pub fn check_followable(state: State, same_browser: bool, now: i64) -> Result<(), ChallengeError> {
    if state.used {
        return Err(ChallengeError::AlreadyUsed);
    }
    if !state.answered {
        return Err(ChallengeError::NotAnswered);
    }
    if now >= state.expires_at {
        return Err(ChallengeError::Expired);
    }
    // Checked last but always: a verifier alone must never sign a browser in, or a
    // person could be signed in to someone else's account by following a link.
    if !same_browser {
        return Err(ChallengeError::OtherBrowser);
    }
    Ok(())
}

/// The product's stable user id: 1 to 255 printable ASCII characters, no spaces.
pub fn validate_subject(subject: &str) -> Result<(), String> {
    let ok = (1..=MAX_SUBJECT).contains(&subject.len())
        && subject.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "subject must be 1 to {MAX_SUBJECT} printable ASCII characters without spaces (the product's stable user id)"
        ))
    }
}

/// Claims the product may send with an accepted login.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub preferred_username: Option<String>,
}

/// Checks claim values: bounded, no control characters, an email that looks like
/// one. `email_verified` only stands with an email.
pub fn validate_claims(mut claims: Claims) -> Result<Claims, String> {
    for (field, value) in [
        ("name", &claims.name),
        ("email", &claims.email),
        ("preferred_username", &claims.preferred_username),
    ] {
        if let Some(v) = value
            && (v.is_empty() || v.chars().count() > MAX_CLAIM || v.chars().any(char::is_control))
        {
            return Err(format!(
                "{field} must be 1 to {MAX_CLAIM} characters without control characters"
            ));
        }
    }
    if let Some(e) = &claims.email
        && (!e.contains('@') || e.chars().any(char::is_whitespace))
    {
        return Err(format!("`{e}` is not an email address"));
    }
    claims.email_verified &= claims.email.is_some();
    Ok(claims)
}

/// The scopes a consent accept grants: a subset of those asked for. Granting
/// nothing is allowed (the app then gets a token for no scope beyond `openid`
/// semantics); granting more is refused, since the person was never asked.
pub fn granted_scopes(asked: &ScopeSet, granted: &[String]) -> Result<ScopeSet, String> {
    let set = ScopeSet::from_trusted(granted.iter().cloned());
    if let Some(extra) = set.difference(asked).next() {
        return Err(format!(
            "grant_scope may only hold scopes the app asked for; `{extra}` was not"
        ));
    }
    Ok(set)
}

/// The OAuth errors a product may end an authorization with (RFC 6749 §4.1.2.1,
/// OpenID Connect Core §3.1.2.6).
pub fn rejection(error: &str, description: Option<&str>) -> Result<OAuthError, String> {
    let code = match error {
        "access_denied" => ErrorCode::AccessDenied,
        "login_required" => ErrorCode::LoginRequired,
        "consent_required" => ErrorCode::ConsentRequired,
        "temporarily_unavailable" => ErrorCode::TemporarilyUnavailable,
        "server_error" => ErrorCode::ServerError,
        other => {
            return Err(format!(
                "error `{}` is not one of access_denied, login_required, consent_required, temporarily_unavailable, server_error",
                other.escape_default()
            ));
        }
    };
    let description = description.unwrap_or(match code {
        ErrorCode::AccessDenied => "the request was refused",
        _ => "the sign-in could not be completed",
    });
    if description.len() > 500 || description.chars().any(char::is_control) {
        return Err(
            "error_description must be at most 500 bytes without control characters".into(),
        );
    }
    Ok(OAuthError::new(code, description.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(expires_at: i64, answered: bool, used: bool) -> State {
        State {
            expires_at,
            answered,
            used,
        }
    }

    #[test]
    fn answering() {
        assert_eq!(check_answerable(st(100, false, false), 99), Ok(()));
        assert_eq!(
            check_answerable(st(100, false, false), 100),
            Err(ChallengeError::Expired)
        );
        assert_eq!(
            check_answerable(st(100, true, false), 1),
            Err(ChallengeError::AlreadyAnswered)
        );
    }

    #[test]
    fn following() {
        assert_eq!(check_followable(st(100, true, false), true, 99), Ok(()));
        assert_eq!(
            check_followable(st(100, true, true), true, 1),
            Err(ChallengeError::AlreadyUsed)
        );
        assert_eq!(
            check_followable(st(100, true, false), false, 1),
            Err(ChallengeError::OtherBrowser)
        );
        assert_eq!(
            check_followable(st(100, true, false), true, 100),
            Err(ChallengeError::Expired)
        );
        assert_eq!(
            check_followable(st(100, false, false), true, 1),
            Err(ChallengeError::NotAnswered)
        );
    }

    #[test]
    fn subjects_and_claims() {
        assert!(validate_subject("user-42").is_ok());
        assert!(validate_subject("").is_err());
        assert!(validate_subject("a b").is_err());
        assert!(validate_subject(&"x".repeat(256)).is_err());
        assert!(validate_subject("é").is_err());
        let c = validate_claims(Claims {
            email_verified: true,
            ..Claims::default()
        })
        .unwrap();
        assert!(!c.email_verified, "no email, nothing verified");
        assert!(
            validate_claims(Claims {
                email: Some("nope".into()),
                ..Claims::default()
            })
            .is_err()
        );
        assert!(
            validate_claims(Claims {
                name: Some("a\nb".into()),
                ..Claims::default()
            })
            .is_err()
        );
    }

    #[test]
    fn grants_only_what_was_asked() {
        let asked = ScopeSet::parse("openid profile email").unwrap();
        let g = granted_scopes(&asked, &["profile".into(), "openid".into()]).unwrap();
        assert_eq!(g.to_string(), "openid profile");
        let err = granted_scopes(&asked, &["apps:write".into()]).unwrap_err();
        assert!(err.contains("apps:write"));
    }

    #[test]
    fn rejections() {
        let e = rejection("access_denied", None).unwrap();
        assert_eq!(e.code, ErrorCode::AccessDenied);
        assert!(rejection("invalid_grant", None).is_err());
        assert!(rejection("access_denied", Some("a\u{7}")).is_err());
    }
}
