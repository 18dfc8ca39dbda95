//! JWT access token claims (RFC 9068 §2.2) and the policy that fills them in.

use super::OAuthError;
use super::resource::ResourceSet;
use serde::{Deserialize, Serialize};

/// `aud`: one string for one audience, an array for several (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn from_list(mut list: Vec<String>) -> Self {
        if list.len() == 1 {
            Self::One(list.remove(0))
        } else {
            Self::Many(list)
        }
    }

    /// Whether `resource` is among the audiences.
    pub fn contains(&self, resource: &str) -> bool {
        match self {
            Self::One(a) => a == resource,
            Self::Many(list) => list.iter().any(|a| a == resource),
        }
    }
}

/// The claims of an RFC 9068 access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// RFC 9449 §6.1: the DPoP key the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// A token's confirmation claim (RFC 7800): the thumbprint of its DPoP key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

impl AccessTokenClaims {
    /// Binds the token to the DPoP key `jkt`, if any.
    pub fn bound_to(mut self, jkt: Option<&str>) -> Self {
        self.cnf = jkt.map(|j| Confirmation { jkt: j.to_owned() });
        self
    }

    /// `DPoP` for a DPoP-bound token (RFC 9449 §5), else `Bearer`.
    pub fn token_type(&self) -> &'static str {
        if self.cnf.is_some() { "DPoP" } else { "Bearer" }
    }

    /// The thumbprint of the key the token is bound to, if any.
    pub fn jkt(&self) -> Option<&str> {
        self.cnf.as_ref().map(|c| c.jkt.as_str())
    }
}

/// The `jti` of an access token issued from token family `family_id`: the family id,
/// a dot, and fresh randomness. `jti` is opaque to everyone else; to this server it
/// says which family to check at introspection. (base64url has no dot.)
pub fn family_jti(family_id: &str, random: &str) -> String {
    format!("{family_id}.{random}")
}

/// The token family an access token came from, if any (client credentials: none).
pub fn family_of_jti(jti: &str) -> Option<&str> {
    jti.split_once('.').map(|(family, _)| family)
}

/// Server-wide settings that shape every access token.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    pub issuer: String,
    /// RFC 8707 resource identifiers clients may ask for.
    pub resources: ResourceSet,
    /// `aud` when the client names no resource.
    pub default_audience: String,
    /// Access token lifetime in seconds.
    pub access_token_ttl: i64,
}

impl TokenPolicy {
    /// The claims of a token for `sub`, issued to `client_id` at `now`.
    pub fn claims(
        &self,
        sub: String,
        client_id: &str,
        scope: &super::scope::ScopeSet,
        aud: Audience,
        now: i64,
        jti: String,
    ) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: self.issuer.clone(),
            sub,
            aud,
            exp: now + self.access_token_ttl,
            iat: now,
            jti,
            client_id: client_id.to_owned(),
            scope: scope.to_string(),
            cnf: None,
        }
    }

    /// The audience for a token derived from an earlier authorization that named
    /// `granted` resources: the request may narrow them, never widen them
    /// (RFC 8707 §2.2). No `resource` in the request: all of `granted`.
    pub fn narrowed_audience(
        &self,
        requested: &[String],
        granted: &[String],
    ) -> Result<Audience, OAuthError> {
        // Both through the configured set: a request may spell a granted resource
        // differently, and a resource the operator has since removed is refused.
        let granted = self.resources.resolve_all(granted)?;
        let requested = self.resources.resolve_all(requested)?;
        if let Some(extra) = requested.iter().find(|r| !granted.contains(r)) {
            return Err(OAuthError::invalid_target(format!(
                "resource `{}` was not part of the authorization",
                extra.escape_default()
            )));
        }
        let chosen = if requested.is_empty() {
            granted
        } else {
            requested
        };
        if chosen.is_empty() {
            // The authorization named no resource: the default audience.
            return Ok(Audience::One(self.default_audience.clone()));
        }
        Ok(Audience::from_list(chosen))
    }

    /// Resolves the requested `resource` values into the token's audience, in
    /// their configured spelling (RFC 8707 §2; `resource::ResourceSet`). None
    /// requested: the default audience.
    pub fn audience(&self, requested: &[String]) -> Result<Audience, OAuthError> {
        if requested.is_empty() {
            return Ok(Audience::One(self.default_audience.clone()));
        }
        Ok(Audience::from_list(self.resources.resolve_all(requested)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;

    fn policy() -> TokenPolicy {
        TokenPolicy {
            issuer: "https://auth.example".into(),
            resources: ResourceSet::new(vec![
                "https://api.example".into(),
                "https://b.example/".into(),
            ])
            .unwrap(),
            default_audience: "https://api.example".into(),
            access_token_ttl: 3600,
        }
    }

    #[test]
    fn default_audience_when_none_requested() {
        assert_eq!(
            policy().audience(&[]).unwrap(),
            Audience::One("https://api.example".into())
        );
    }

    #[test]
    fn several_resources_become_an_array() {
        let aud = policy()
            .audience(&["https://api.example".into(), "https://b.example/".into()])
            .unwrap();
        assert_eq!(
            aud,
            Audience::Many(vec![
                "https://api.example".into(),
                "https://b.example/".into()
            ])
        );
    }

    #[test]
    fn unknown_or_malformed_resource_is_invalid_target() {
        for r in ["https://evil.example", "not a uri", "https://api.example#f"] {
            let err = policy().audience(&[r.into()]).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidTarget, "{r}");
        }
    }

    #[test]
    fn the_audience_is_the_configured_spelling() {
        let aud = policy()
            .audience(&["https://API.example/".into(), "https://b.example".into()])
            .unwrap();
        assert_eq!(
            aud,
            Audience::Many(vec![
                "https://api.example".into(),
                "https://b.example/".into()
            ])
        );
    }

    #[test]
    fn narrowing_compares_normalised_resources() {
        let granted = vec![
            "https://api.example".to_owned(),
            "https://b.example/".to_owned(),
        ];
        let p = policy();
        assert_eq!(
            p.narrowed_audience(&["https://api.example/".into()], &granted)
                .unwrap(),
            Audience::One("https://api.example".into())
        );
        assert_eq!(
            p.narrowed_audience(&[], &granted).unwrap(),
            Audience::Many(granted.clone())
        );
        let wider = p
            .narrowed_audience(&["https://b.example".into()], &granted[..1])
            .unwrap_err();
        assert_eq!(wider.code, ErrorCode::InvalidTarget);
        assert!(
            wider.description.contains("not part of"),
            "{}",
            wider.description
        );
    }

    #[test]
    fn single_audience_serializes_as_string() {
        let c = AccessTokenClaims {
            iss: "i".into(),
            sub: "s".into(),
            aud: Audience::One("a".into()),
            exp: 2,
            iat: 1,
            jti: "j".into(),
            client_id: "c".into(),
            scope: String::new(),
            cnf: None,
        };
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["aud"], "a");
        assert!(json.get("scope").is_none());
        assert!(json.get("cnf").is_none());
        let bound = serde_json::to_value(c.bound_to(Some("th"))).unwrap();
        assert_eq!(bound["cnf"], serde_json::json!({"jkt": "th"}));
    }
}
