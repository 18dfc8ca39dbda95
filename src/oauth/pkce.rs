//! PKCE (RFC 7636), S256 only: OAuth 2.1 §4.1.1 and RFC 9700 §2.1.1 retire `plain`.

use super::OAuthError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;

/// A `code_challenge` for method S256: base64url(SHA-256(verifier)), 43 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A stored challenge, already validated when it was accepted.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
}

/// RFC 7636 §4.3: reads `code_challenge` and `code_challenge_method`.
/// `Ok(None)` when the client sent neither.
pub fn parse_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<Option<CodeChallenge>, OAuthError> {
    match (challenge, method) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "code_challenge_method was sent without code_challenge",
        )),
        // §4.3: an absent method means `plain`, which this server refuses.
        (Some(_), None) => Err(OAuthError::invalid_request(
            "code_challenge_method=S256 is required (plain is not supported)",
        )),
        (Some(_), Some("plain")) => Err(OAuthError::invalid_request(
            "code_challenge_method plain is not supported; use S256",
        )),
        (Some(c), Some("S256")) => {
            // The base64url encoding of a 32-byte digest is exactly 43 characters.
            let valid = c.len() == 43
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if valid {
                Ok(Some(CodeChallenge(c.to_owned())))
            } else {
                Err(OAuthError::invalid_request(
                    "code_challenge must be the 43-character base64url SHA-256 of the verifier",
                ))
            }
        }
        (Some(_), Some(other)) => Err(OAuthError::invalid_request(format!(
            "code_challenge_method `{}` is not supported; use S256",
            other.escape_default()
        ))),
    }
}

/// A `code_verifier` (RFC 7636 §4.1). Not `Clone`, and redacted in `Debug`.
pub struct CodeVerifier(String);

impl fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeVerifier(<redacted>)")
    }
}

impl CodeVerifier {
    /// §4.1: 43 to 128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
    pub fn parse(raw: &str) -> Result<Self, OAuthError> {
        let valid = (43..=128).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(OAuthError::invalid_grant(
                "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
            ))
        }
    }

    pub fn secret(&self) -> &str {
        &self.0
    }

    /// §4.6: does SHA-256 of this verifier match `challenge`? Constant-time.
    pub fn matches(&self, challenge: &CodeChallenge) -> bool {
        let digest = ring::digest::digest(&ring::digest::SHA256, self.0.as_bytes());
        let computed = URL_SAFE_NO_PAD.encode(digest);
        aws_lc_rs::constant_time::verify_slices_are_equal(
            computed.as_bytes(),
            challenge.0.as_bytes(),
        )
        .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_example_verifies() {
        let c = parse_challenge(Some(CHALLENGE), Some("S256"))
            .unwrap()
            .unwrap();
        assert!(CodeVerifier::parse(VERIFIER).unwrap().matches(&c));
        let wrong = CodeVerifier::parse(&"a".repeat(43)).unwrap();
        assert!(!wrong.matches(&c));
    }

    #[test]
    fn plain_and_missing_method_are_refused() {
        assert!(parse_challenge(Some(CHALLENGE), Some("plain")).is_err());
        assert!(parse_challenge(Some(CHALLENGE), None).is_err());
        assert!(parse_challenge(None, Some("S256")).is_err());
        assert!(parse_challenge(Some("short"), Some("S256")).is_err());
        assert_eq!(parse_challenge(None, None).unwrap(), None);
    }

    #[test]
    fn verifier_syntax() {
        assert!(CodeVerifier::parse(&"a".repeat(42)).is_err());
        assert!(CodeVerifier::parse(&"a".repeat(129)).is_err());
        assert!(CodeVerifier::parse(&format!("{}!", "a".repeat(43))).is_err());
        assert!(format!("{:?}", CodeVerifier::parse(VERIFIER).unwrap()).contains("redacted"));
    }
}
