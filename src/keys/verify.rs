//! Signature verification with each public key parsed once.
//!
//! jsonwebtoken decodes and validates every access token we check (introspection,
//! userinfo, the bearer-token APIs), but its aws-lc-rs provider rebuilds the public
//! key from the JWK members on every call; for RSA that includes the Montgomery set-up
//! of the modulus, which cost about as much as the verification itself. This module
//! is a jsonwebtoken `CryptoProvider` that answers for our own keys with aws-lc-rs
//! `ParsedPublicKey`s made once, when a key is loaded, and hands everything else
//! (signing through jsonwebtoken, other keys, JWK utilities) to the stock provider.
//!
//! A parsed key is found by the exact bytes jsonwebtoken holds for the key and the
//! algorithm the token was validated for, so it can only ever stand in for the key it
//! was made from.

use crate::oauth::jwk::rsa_public_key_der;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
};
use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier, aws_lc};
use jsonwebtoken::signature::{Error as SignatureError, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};
use std::sync::{Arc, LazyLock, Once, RwLock};

/// Keys of every key set this process loaded. A process holds a handful (the
/// active key, the next, the retired ones still published); the cap only keeps a
/// process that loads key sets for ever (tests) from growing without bound.
const MAX_KEYS: usize = 64;

struct Entry {
    alg: Algorithm,
    key: DecodingKeyKind,
    parsed: Arc<ParsedPublicKey>,
}

static PARSED: RwLock<Vec<Entry>> = RwLock::new(Vec::new());

static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    signer_factory: aws_lc::DEFAULT_PROVIDER.signer_factory,
    verifier_factory: verifier_for,
    key_utils: aws_lc::DEFAULT_PROVIDER.key_utils.clone(),
});

/// Whether two decoding keys hold the same key material (compared without copying:
/// this runs on every verification).
fn same_key(a: &DecodingKeyKind, b: &DecodingKeyKind) -> bool {
    match (a, b) {
        (DecodingKeyKind::SecretOrDer(a), DecodingKeyKind::SecretOrDer(b)) => a == b,
        (
            DecodingKeyKind::RsaModulusExponent { n, e },
            DecodingKeyKind::RsaModulusExponent { n: n2, e: e2 },
        ) => n == n2 && e == e2,
        _ => false,
    }
}

/// Parses `key` once for `alg` and makes jsonwebtoken use the result whenever it
/// verifies a token of that algorithm with that key. Errors only when aws-lc-rs
/// refuses the key, which the caller reports as a bad key.
pub fn register(alg: Algorithm, key: &DecodingKey) -> Result<(), String> {
    static INSTALL: Once = Once::new();
    // Fails only if a provider was already chosen in this process; the stock one
    // then keeps verifying, correctly, just without the parsed keys.
    INSTALL.call_once(|| {
        let _ = PROVIDER.install_default();
    });
    let parsed = match (alg, key.kind()) {
        (Algorithm::RS256, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, rsa_public_key_der(n, e))
        }
        (Algorithm::ES256, DecodingKeyKind::SecretOrDer(point)) => {
            ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
        }
        (Algorithm::EdDSA, DecodingKeyKind::SecretOrDer(x)) => ParsedPublicKey::new(&ED25519, x),
        _ => return Err(format!("no parsed verifier for {alg:?}")),
    }
    .map_err(|e| e.to_string())?;
    let mut entries = PARSED.write().unwrap_or_else(|e| e.into_inner());
    if entries
        .iter()
        .any(|e| e.alg == alg && same_key(&e.key, key.kind()))
    {
        return Ok(());
    }
    if entries.len() >= MAX_KEYS {
        entries.remove(0);
    }
    entries.push(Entry {
        alg,
        key: key.kind().clone(),
        parsed: Arc::new(parsed),
    });
    Ok(())
}

fn verifier_for(
    alg: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    let found = PARSED
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|e| e.alg == *alg && same_key(&e.key, key.kind()))
        .map(|e| e.parsed.clone());
    match found {
        Some(parsed) => Ok(Box::new(Parsed { alg: *alg, parsed })),
        None => (aws_lc::DEFAULT_PROVIDER.verifier_factory)(alg, key),
    }
}

struct Parsed {
    alg: Algorithm,
    parsed: Arc<ParsedPublicKey>,
}

impl Verifier<Vec<u8>> for Parsed {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), SignatureError> {
        self.parsed
            .verify_sig(msg, signature)
            .map_err(SignatureError::from_source)
    }
}

impl JwtVerifier for Parsed {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}
