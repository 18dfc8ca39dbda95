//! The public JWK Set (RFC 7517 §5), serialized once per key change.

use poem_openapi::Object;
use poem_openapi::types::ToJSON;

/// A public signing key (RFC 7517 §4; RSA per RFC 7518 §6.3, EC §6.2, OKP RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct Jwk {
    /// Key type: `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// Intended use: always `sig`.
    #[oai(rename = "use")]
    pub use_: String,
    /// The JWS algorithm this key signs with: `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// Key id: the RFC 7638 SHA-256 thumbprint of the key, base64url.
    pub kid: String,
    /// RSA modulus, base64url.
    #[oai(skip_serializing_if_is_none)]
    pub n: Option<String>,
    /// RSA public exponent, base64url.
    #[oai(skip_serializing_if_is_none)]
    pub e: Option<String>,
    /// Curve: `P-256` (EC) or `Ed25519` (OKP).
    #[oai(skip_serializing_if_is_none)]
    pub crv: Option<String>,
    /// EC x coordinate or Ed25519 public key, base64url.
    #[oai(skip_serializing_if_is_none)]
    pub x: Option<String>,
    /// EC y coordinate, base64url.
    #[oai(skip_serializing_if_is_none)]
    pub y: Option<String>,
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
