//! The public JWK Set (RFC 7517 §5), serialized once per key change.

use poem_openapi::Object;
use poem_openapi::types::ToJSON;

/// A public signing key (RFC 7517 §4, RFC 7518 §6.3.1 for RSA).
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct Jwk {
    /// Key type: `RSA`.
    pub kty: String,
    /// Intended use: always `sig`.
    #[oai(rename = "use")]
    pub use_: String,
    /// The JWS algorithm this key signs with.
    pub alg: String,
    /// Key id: the RFC 7638 SHA-256 thumbprint of the key, base64url.
    pub kid: String,
    /// RSA modulus, base64url.
    pub n: String,
    /// RSA public exponent, base64url.
    pub e: String,
}

/// The document served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct JwkSet {
    /// Every key a token from this server may currently be signed with.
    pub keys: Vec<Jwk>,
}

/// A JWK Set serialized once, with its entity tag.
#[derive(Debug, Clone)]
pub struct PublishedJwks {
    pub body: bytes::Bytes,
    pub etag: String,
}

impl PublishedJwks {
    pub fn new(set: &JwkSet) -> Self {
        let body = set.to_json_string().into_bytes();
        Self {
            etag: super::etag_for(&body),
            body: body.into(),
        }
    }
}
