//! OpenID Connect ID tokens (Core §2, §3.1.3.6–3.1.3.8, §12.2) and the standard
//! claims shared with the UserInfo endpoint (Core §5.1, §5.4).
//!
//! Pure: the caller supplies the person, the time and the access token the ID token
//! travels with; signing happens in `keys` with header `typ: JWT`, so that an ID
//! token is never mistaken for an RFC 9068 access token (`typ: at+jwt`) or the
//! other way round.

use super::scope::{OFFLINE_ACCESS, OPENID, ScopeSet};
use super::types::{GrantType, RegisteredClient};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// What Latchkey knows about a person, as claims sources. Stored with an
/// authorization code at sign-in (JSON), so the ID token describes the person as
/// they were when they signed in; made from the user row elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub id: String,
    pub username: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
}

/// Standard claims (Core §5.1) a scope releases (Core §5.4): `profile` gives
/// `name` and `preferred_username`, `email` gives `email` and `email_verified`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl ProfileClaims {
    pub fn for_scope(person: &Identity, scope: &ScopeSet) -> Self {
        let profile = scope.contains("profile");
        let email = scope.contains("email") && person.email.is_some();
        Self {
            name: person.name.clone().filter(|_| profile),
            preferred_username: profile.then(|| person.username.clone()),
            email: person.email.clone().filter(|_| email),
            email_verified: email.then_some(person.email_verified),
        }
    }
}

/// Every claim Latchkey may put in an ID token or a UserInfo response, for the
/// discovery document's `claims_supported`.
pub const CLAIMS_SUPPORTED: [&str; 12] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "name",
    "preferred_username",
    "email",
    "email_verified",
];

/// The claims of an ID token (Core §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    /// The person's stable id, never the username (which can change).
    pub sub: String,
    /// The client id: Latchkey's ID tokens have exactly one audience, so `azp`
    /// (needed only beside several audiences, Core §2) is left out.
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    /// When the person signed in; also on ID tokens issued on refresh, where it is
    /// the original sign-in's time (Core §12.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The authorization request's `nonce`, byte for byte (Core §3.1.3.6). Never on
    /// refresh (Core §12.2: SHOULD NOT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Left half of the hash of the access token issued with it (Core §3.1.3.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    #[serde(flatten)]
    pub profile: ProfileClaims,
}

/// The inputs of one ID token.
#[derive(Debug, Clone)]
pub struct IdTokenInput<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub person: &'a Identity,
    pub scope: &'a ScopeSet,
    pub auth_time: Option<i64>,
    pub nonce: Option<&'a str>,
    /// The access token issued beside it, and the JWS `alg` the ID token is signed
    /// with (it picks the hash for `at_hash`).
    pub access_token: &'a str,
    pub alg: &'a str,
    pub ttl: i64,
    pub now: i64,
}

/// The ID token's claims for `input`.
pub fn claims(input: &IdTokenInput<'_>) -> IdTokenClaims {
    IdTokenClaims {
        iss: input.issuer.to_owned(),
        sub: input.person.id.clone(),
        aud: input.client_id.to_owned(),
        exp: input.now + input.ttl,
        iat: input.now,
        auth_time: input.auth_time,
        nonce: input.nonce.map(str::to_owned),
        at_hash: Some(at_hash(input.alg, input.access_token)),
        profile: ProfileClaims::for_scope(input.person, input.scope),
    }
}

/// Core §3.1.3.6: base64url of the left-most half of the hash of the access
/// token's ASCII, the hash being the one of the JWS `alg` — SHA-256 for RS256 and
/// ES256; SHA-512 for EdDSA over Ed25519 (as the OpenID Foundation settled it and
/// certified libraries compute it).
pub fn at_hash(alg: &str, access_token: &str) -> String {
    let algorithm = match alg {
        "EdDSA" | "Ed25519" => &ring::digest::SHA512,
        _ => &ring::digest::SHA256,
    };
    let digest = ring::digest::digest(algorithm, access_token.as_bytes());
    let bytes = digest.as_ref();
    URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}

/// Whether a request for `scope` is an OpenID Connect request.
pub fn is_openid(scope: &ScopeSet) -> bool {
    scope.contains(OPENID)
}

/// Core §11: a refresh token goes with an authorization code only when the client
/// may refresh and — for OpenID requests — `offline_access` was granted. Clients
/// that never ask for `openid` keep plain OAuth's rule (any client allowed the
/// refresh_token grant gets one).
pub fn refresh_token_allowed(client: &RegisteredClient, scope: &ScopeSet) -> bool {
    client.allows_grant(GrantType::RefreshToken)
        && (!is_openid(scope) || scope.contains(OFFLINE_ACCESS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::types::{ClientId, ClientType};

    fn person() -> Identity {
        Identity {
            id: "u1".into(),
            username: "alice".into(),
            name: Some("Alice A.".into()),
            email: Some("alice@example.com".into()),
            email_verified: true,
        }
    }

    #[test]
    fn at_hash_known_answer() {
        // Core §A.3's example access token and its at_hash (RS256).
        assert_eq!(
            at_hash("RS256", "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        // ES256 uses the same hash; EdDSA uses SHA-512 (32 of its 64 bytes).
        assert_eq!(at_hash("ES256", "x"), at_hash("RS256", "x"));
        assert_eq!(at_hash("EdDSA", "x").len(), 43);
    }

    #[test]
    fn claims_by_scope() {
        let p = person();
        let none = ProfileClaims::for_scope(&p, &ScopeSet::parse("openid").unwrap());
        assert_eq!(none, ProfileClaims::default());
        let all = ProfileClaims::for_scope(&p, &ScopeSet::parse("openid profile email").unwrap());
        assert_eq!(all.name.as_deref(), Some("Alice A."));
        assert_eq!(all.preferred_username.as_deref(), Some("alice"));
        assert_eq!(all.email.as_deref(), Some("alice@example.com"));
        assert_eq!(all.email_verified, Some(true));
        // No address: neither email nor email_verified.
        let mut no_email = person();
        no_email.email = None;
        let c = ProfileClaims::for_scope(&no_email, &ScopeSet::parse("email").unwrap());
        assert_eq!(c, ProfileClaims::default());
    }

    #[test]
    fn id_token_claims() {
        let scope = ScopeSet::parse("openid email").unwrap();
        let c = claims(&IdTokenInput {
            issuer: "https://auth.example",
            client_id: "app",
            person: &person(),
            scope: &scope,
            auth_time: Some(90),
            nonce: Some("n-0S6_WzA2Mj"),
            access_token: "at",
            alg: "RS256",
            ttl: 600,
            now: 100,
        });
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["sub"], "u1");
        assert_eq!(json["aud"], "app");
        assert_eq!(json["exp"], 700);
        assert_eq!(json["auth_time"], 90);
        assert_eq!(json["nonce"], "n-0S6_WzA2Mj");
        assert_eq!(json["email_verified"], true);
        assert!(json.get("name").is_none());
        assert_eq!(json["at_hash"], at_hash("RS256", "at"));
    }

    #[test]
    fn offline_access_rule() {
        let client = |grants: Vec<GrantType>| RegisteredClient {
            id: ClientId::new("app"),
            client_type: ClientType::Public,
            secret_hash: None,
            grant_types: grants,
            scopes: ScopeSet::default(),
            redirect_uris: vec![],
            self_described: false,
            keys: None,
            dpop_bound: false,
            require_par: false,
            exchange: Default::default(),
        };
        let both = client(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]);
        let code_only = client(vec![GrantType::AuthorizationCode]);
        let s = |raw: &str| ScopeSet::parse(raw).unwrap();
        assert!(refresh_token_allowed(&both, &s("profile")));
        assert!(!refresh_token_allowed(&both, &s("openid profile")));
        assert!(refresh_token_allowed(&both, &s("openid offline_access")));
        assert!(!refresh_token_allowed(
            &code_only,
            &s("openid offline_access")
        ));
    }
}
