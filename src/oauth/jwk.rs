//! Clients' public keys: a JWK Set (RFC 7517 §5) registered by value or fetched
//! from a client's `jwks_uri`, each key parsed once into a verifier for the
//! algorithms it may sign with.
//!
//! Only asymmetric signing keys are accepted: RSA (at least 2048 bits) for RS256
//! and PS256, P-256 for ES256, Ed25519 for EdDSA. A key with a private member is
//! refused outright (it means the private key has been published), as is a
//! symmetric `oct` key (a shared secret has no place in a public key set).

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
    RSA_PSS_2048_8192_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// The signing algorithms a client may use, in the order metadata lists them.
pub const ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];
/// Keys a registered set may hold.
pub const MAX_KEYS: usize = 20;
/// JWK members that belong to private or symmetric keys (RFC 7518 §6.2.2, §6.3.2,
/// §6.4.1; RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A JWS algorithm Latchkey verifies for clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    RS256,
    PS256,
    ES256,
    EdDSA,
}

impl Alg {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "RS256" => Some(Self::RS256),
            "PS256" => Some(Self::PS256),
            "ES256" => Some(Self::ES256),
            "EdDSA" => Some(Self::EdDSA),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    fn kind(self) -> KeyKind {
        match self {
            Self::RS256 | Self::PS256 => KeyKind::Rsa,
            Self::ES256 => KeyKind::P256,
            Self::EdDSA => KeyKind::Ed25519,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    Ed25519,
}

impl KeyKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Rsa => "an RSA key",
            Self::P256 => "a P-256 key",
            Self::Ed25519 => "an Ed25519 key",
        }
    }
}

/// One public key, ready to verify.
pub struct ClientKey {
    pub kid: Option<String>,
    /// The `alg` the key was published for, if it says.
    pub alg: Option<Alg>,
    kind: KeyKind,
    /// One verifier per algorithm the key fits.
    verifiers: Vec<(Alg, ParsedPublicKey)>,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("kind", &self.kind)
            .finish()
    }
}

impl ClientKey {
    /// Checks `signature` over `message` made with `alg`.
    pub fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> bool {
        self.verifiers
            .iter()
            .find(|(a, _)| *a == alg)
            .is_some_and(|(_, key)| key.verify_sig(message, signature).is_ok())
    }
}

/// Why no key was found for an assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMiss {
    /// No key has this `kid` (perhaps the set changed since it was fetched).
    UnknownKid(String),
    /// The key found cannot sign with the algorithm asked for.
    Unfit(String),
    /// No `kid`, and not exactly one key fits the algorithm.
    Ambiguous(String),
}

/// A client's public keys.
#[derive(Debug, Default)]
pub struct ClientKeySet {
    pub keys: Vec<ClientKey>,
}

/// How strictly a set is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Registered by value: every key must be one Latchkey can use.
    Registration,
    /// Fetched from a `jwks_uri`: keys for other uses (encryption) or of types
    /// Latchkey does not verify are skipped; a private member still refuses the set.
    Fetched,
}

impl ClientKeySet {
    /// Parses a JWK Set (JSON text).
    pub fn parse_text(text: &str, reading: Reading) -> Result<Self, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("the JWK Set is not JSON: {e}"))?;
        Self::parse(&value, reading)
    }

    /// Parses a JWK Set; the message says which key broke which rule.
    pub fn parse(set: &Value, reading: Reading) -> Result<Self, String> {
        let keys = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("a JWK Set is an object with a `keys` array")?;
        if keys.is_empty() {
            return Err("the JWK Set holds no key".to_owned());
        }
        if reading == Reading::Registration && keys.len() > MAX_KEYS {
            return Err(format!("a JWK Set may hold at most {MAX_KEYS} keys"));
        }
        let mut parsed: Vec<ClientKey> = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            let name = match key.get("kid").and_then(Value::as_str) {
                Some(kid) => format!("key `{}`", kid.escape_default()),
                None => format!("key {}", i + 1),
            };
            match parse_key(key) {
                Ok(k) => {
                    if let Some(kid) = &k.kid
                        && parsed.iter().any(|p| p.kid.as_ref() == Some(kid))
                    {
                        return Err(format!("{name}: two keys have this kid"));
                    }
                    parsed.push(k);
                }
                Err(KeyError::Private(why)) => return Err(format!("{name}: {why}")),
                Err(KeyError::Unusable(why)) => {
                    if reading == Reading::Registration {
                        return Err(format!("{name}: {why}"));
                    }
                }
            }
        }
        if parsed.is_empty() {
            return Err("the JWK Set holds no signing key Latchkey can use (RSA, P-256 or Ed25519 with `use` absent or `sig`)".to_owned());
        }
        Ok(Self { keys: parsed })
    }

    /// The key to verify an assertion signed with `alg` under header `kid`.
    pub fn find(&self, kid: Option<&str>, alg: Alg) -> Result<&ClientKey, KeyMiss> {
        let fits = |k: &ClientKey| k.fits(alg);
        match kid {
            Some(kid) => {
                let key = self
                    .keys
                    .iter()
                    .find(|k| k.kid.as_deref() == Some(kid))
                    .ok_or_else(|| KeyMiss::UnknownKid(kid.to_owned()))?;
                if fits(key) {
                    Ok(key)
                } else if key.kind != alg.kind() {
                    Err(KeyMiss::Unfit(format!(
                        "key `{}` is {}, which cannot sign {}",
                        kid.escape_default(),
                        key.kind.as_str(),
                        alg.as_str()
                    )))
                } else {
                    Err(KeyMiss::Unfit(format!(
                        "key `{}` is published for {}, not {}",
                        kid.escape_default(),
                        key.alg.map_or("", Alg::as_str),
                        alg.as_str()
                    )))
                }
            }
            None => {
                let mut candidates = self.keys.iter().filter(|k| fits(k));
                match (candidates.next(), candidates.next()) {
                    (Some(key), None) => Ok(key),
                    (None, _) => Err(KeyMiss::Unfit(format!(
                        "no registered key can verify {} (the header has no kid)",
                        alg.as_str()
                    ))),
                    (Some(_), Some(_)) => Err(KeyMiss::Ambiguous(format!(
                        "several registered keys fit {}: the header must name one with `kid`",
                        alg.as_str()
                    ))),
                }
            }
        }
    }
}

enum KeyError {
    /// Private or symmetric material: the whole set is refused.
    Private(String),
    /// A key Latchkey cannot use for signatures.
    Unusable(String),
}

fn member<'a>(key: &'a Value, name: &str) -> Result<&'a str, KeyError> {
    key.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| KeyError::Unusable(format!("the `{name}` member is missing")))
}

fn bytes(key: &Value, name: &str) -> Result<Vec<u8>, KeyError> {
    URL_SAFE_NO_PAD
        .decode(member(key, name)?)
        .map_err(|_| KeyError::Unusable(format!("`{name}` is not unpadded base64url")))
}

fn parse_key(key: &Value) -> Result<ClientKey, KeyError> {
    if !key.is_object() {
        return Err(KeyError::Unusable("a key must be a JSON object".to_owned()));
    }
    let kty = member(key, "kty")?;
    if kty == "oct" {
        return Err(KeyError::Private(
            "symmetric (`oct`) keys are refused: register public keys only".to_owned(),
        ));
    }
    if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| key.get(**m).is_some()) {
        return Err(KeyError::Private(format!(
            "it has the private member `{m}`: register the public key only (and, since it was shared, make a new key pair)"
        )));
    }
    if let Some(u) = key.get("use")
        && u.as_str() != Some("sig")
    {
        return Err(KeyError::Unusable(format!("its `use` is {u}, not \"sig\"")));
    }
    if let Some(ops) = key.get("key_ops").and_then(Value::as_array)
        && !ops.iter().any(|o| o.as_str() == Some("verify"))
    {
        return Err(KeyError::Unusable(
            "its `key_ops` does not include \"verify\"".to_owned(),
        ));
    }
    let kid = match key.get("kid") {
        None => None,
        Some(Value::String(k)) if !k.is_empty() && k.len() <= 256 => Some(k.clone()),
        Some(_) => {
            return Err(KeyError::Unusable(
                "`kid` must be a string of 1 to 256 characters".to_owned(),
            ));
        }
    };
    let alg = match key.get("alg") {
        None => None,
        Some(a) => Some(a.as_str().and_then(Alg::parse).ok_or_else(|| {
            KeyError::Unusable(format!(
                "its `alg` {a} is not one of {}",
                ALGORITHMS.join(", ")
            ))
        })?),
    };
    let unparsable = |what: &str| KeyError::Unusable(format!("it is not a valid {what}"));
    let (kind, verifiers) = match kty {
        "RSA" => {
            let n = bytes(key, "n")?;
            let e = bytes(key, "e")?;
            let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
            if bits < 2048 {
                return Err(KeyError::Unusable(format!(
                    "RSA keys must be at least 2048 bits (this one has about {bits})"
                )));
            }
            let der = rsa_public_key_der(&n, &e);
            let rs = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &der)
                .map_err(|_| unparsable("RSA public key"))?;
            let ps = ParsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, &der)
                .map_err(|_| unparsable("RSA public key"))?;
            (KeyKind::Rsa, vec![(Alg::RS256, rs), (Alg::PS256, ps)])
        }
        "EC" => {
            let crv = member(key, "crv")?;
            if crv != "P-256" {
                return Err(KeyError::Unusable(format!(
                    "curve `{}` is not supported (use P-256 with ES256)",
                    crv.escape_default()
                )));
            }
            let (x, y) = (bytes(key, "x")?, bytes(key, "y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err(unparsable("P-256 public key (x and y are 32 bytes each)"));
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let es = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
                .map_err(|_| unparsable("P-256 public key"))?;
            (KeyKind::P256, vec![(Alg::ES256, es)])
        }
        "OKP" => {
            let crv = member(key, "crv")?;
            if crv != "Ed25519" {
                return Err(KeyError::Unusable(format!(
                    "curve `{}` is not supported (use Ed25519 with EdDSA)",
                    crv.escape_default()
                )));
            }
            let x = bytes(key, "x")?;
            if x.len() != 32 {
                return Err(unparsable("Ed25519 public key (x is 32 bytes)"));
            }
            let ed = ParsedPublicKey::new(&ED25519, &x).map_err(|_| unparsable("Ed25519 key"))?;
            (KeyKind::Ed25519, vec![(Alg::EdDSA, ed)])
        }
        other => {
            return Err(KeyError::Unusable(format!(
                "key type `{}` is not supported (use RSA, EC or OKP)",
                other.escape_default()
            )));
        }
    };
    if let Some(a) = alg
        && a.kind() != kind
    {
        return Err(KeyError::Unusable(format!(
            "its `alg` {} does not fit {}",
            a.as_str(),
            kind.as_str()
        )));
    }
    Ok(ClientKey {
        kid,
        alg,
        kind,
        verifiers,
    })
}

/// One public JWK on its own (a DPoP proof's `jwk` header), read as strictly as a
/// registered key: no private member, a type and size Latchkey verifies.
pub fn public_key(key: &Value) -> Result<ClientKey, String> {
    parse_key(key).map_err(|e| match e {
        KeyError::Private(why) | KeyError::Unusable(why) => why,
    })
}

impl ClientKey {
    /// Whether the key can verify `alg` (its type fits, and its own `alg`, if any).
    pub fn fits(&self, alg: Alg) -> bool {
        self.kind == alg.kind() && self.alg.is_none_or(|a| a == alg)
    }
}

/// The RFC 7638 thumbprint of a public JWK: SHA-256 over its required members in
/// lexicographic order with no whitespace, base64url. `key` must already have
/// passed `public_key`.
pub fn thumbprint(key: &Value) -> Result<String, String> {
    let required: &[&str] = match key.get("kty").and_then(Value::as_str) {
        Some("RSA") => &["e", "kty", "n"],
        Some("EC") => &["crv", "kty", "x", "y"],
        Some("OKP") => &["crv", "kty", "x"],
        _ => return Err("the key has no thumbprint: its `kty` is not RSA, EC or OKP".to_owned()),
    };
    let mut canonical = String::from("{");
    for (i, name) in required.iter().enumerate() {
        let value = key
            .get(*name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the `{name}` member is missing"))?;
        if i > 0 {
            canonical.push(',');
        }
        // serde_json writes a string with exactly the escapes RFC 7638 §3.3 wants.
        canonical.push_str(&Value::String((*name).to_owned()).to_string());
        canonical.push(':');
        canonical.push_str(&Value::String(value.to_owned()).to_string());
    }
    canonical.push('}');
    // Digested here rather than through `types::sha256`: `types` holds key sets.
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    Ok(URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

/// RFC 8017 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
pub fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn length(out: &mut Vec<u8>, len: usize) {
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend_from_slice(&bytes);
        }
    }
    fn integer(out: &mut Vec<u8>, magnitude: &[u8]) {
        let trimmed = match magnitude.iter().position(|b| *b != 0) {
            Some(i) => &magnitude[i..],
            None => &[0u8][..],
        };
        let pad = trimmed[0] & 0x80 != 0;
        out.push(0x02);
        length(out, trimmed.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(trimmed);
    }
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    integer(&mut body, n);
    integer(&mut body, e);
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(0x30);
    length(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ec_key(kid: &str) -> Value {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .unwrap();
        let pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
        )
        .unwrap();
        use aws_lc_rs::signature::KeyPair;
        let point = pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..])})
    }

    #[test]
    fn der_of_small_rsa_public_key() {
        // n = 0x80 01 needs a leading zero; e = 65537.
        assert_eq!(
            rsa_public_key_der(&[0x80, 0x01], &[0x01, 0x00, 0x01]),
            [
                0x30, 0x0a, 0x02, 0x03, 0x00, 0x80, 0x01, 0x02, 0x03, 0x01, 0x00, 0x01
            ]
        );
        // Leading zero bytes of the magnitude are dropped.
        assert_eq!(
            rsa_public_key_der(&[0x00, 0x7f], &[0x03]),
            [0x30, 0x06, 0x02, 0x01, 0x7f, 0x02, 0x01, 0x03]
        );
    }

    #[test]
    fn long_lengths_use_the_long_form() {
        let n = vec![0x7f; 256];
        let der = rsa_public_key_der(&n, &[0x01, 0x00, 0x01]);
        assert_eq!(&der[..4], &[0x30, 0x82, 0x01, 0x09]);
        assert_eq!(&der[4..8], &[0x02, 0x82, 0x01, 0x00]);
        assert_eq!(der.len(), 4 + 0x109);
    }

    #[test]
    fn private_and_symmetric_keys_are_refused_even_when_fetched() {
        let mut private = ec_key("a");
        private["d"] = json!("AAAA");
        for reading in [Reading::Registration, Reading::Fetched] {
            let err =
                ClientKeySet::parse(&json!({"keys": [private.clone()]}), reading).unwrap_err();
            assert!(err.contains("private member `d`"), "{err}");
            let err =
                ClientKeySet::parse(&json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}), reading)
                    .unwrap_err();
            assert!(err.contains("symmetric"), "{err}");
        }
    }

    #[test]
    fn fetched_sets_skip_keys_for_other_uses() {
        let mut enc = ec_key("enc");
        enc["use"] = json!("enc");
        let set = json!({"keys": [enc.clone(), ec_key("sig")]});
        assert!(ClientKeySet::parse(&set, Reading::Registration).is_err());
        let parsed = ClientKeySet::parse(&set, Reading::Fetched).unwrap();
        assert_eq!(parsed.keys.len(), 1);
        assert!(ClientKeySet::parse(&json!({"keys": [enc]}), Reading::Fetched).is_err());
    }

    #[test]
    fn keys_are_found_by_kid_or_by_fit() {
        let set = ClientKeySet::parse(
            &json!({"keys": [ec_key("a"), ec_key("b")]}),
            Reading::Registration,
        )
        .unwrap();
        assert_eq!(
            set.find(Some("b"), Alg::ES256).unwrap().kid.as_deref(),
            Some("b")
        );
        assert!(matches!(
            set.find(Some("zz"), Alg::ES256),
            Err(KeyMiss::UnknownKid(_))
        ));
        assert!(matches!(
            set.find(Some("a"), Alg::RS256),
            Err(KeyMiss::Unfit(_))
        ));
        assert!(matches!(
            set.find(None, Alg::ES256),
            Err(KeyMiss::Ambiguous(_))
        ));
        let one =
            ClientKeySet::parse(&json!({"keys": [ec_key("a")]}), Reading::Registration).unwrap();
        assert!(one.find(None, Alg::ES256).is_ok());
        assert!(matches!(one.find(None, Alg::EdDSA), Err(KeyMiss::Unfit(_))));
    }

    #[test]
    fn bad_sets_say_why() {
        for (set, says) in [
            (json!({}), "`keys` array"),
            (json!({"keys": []}), "no key"),
            (
                json!({"keys": [{"kty": "EC", "crv": "P-384", "x": "", "y": ""}]}),
                "P-384",
            ),
            (
                json!({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}),
                "2048 bits",
            ),
            (json!({"keys": [ec_key("a"), ec_key("a")]}), "two keys"),
        ] {
            let err = ClientKeySet::parse(&set, Reading::Registration).unwrap_err();
            assert!(err.contains(says), "{set}: {err}");
        }
        let mut wrong_alg = ec_key("a");
        wrong_alg["alg"] = json!("RS256");
        let err =
            ClientKeySet::parse(&json!({"keys": [wrong_alg]}), Reading::Registration).unwrap_err();
        assert!(err.contains("does not fit"), "{err}");
    }
}
