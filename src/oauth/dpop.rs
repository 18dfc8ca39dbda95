//! DPoP (RFC 9449): the proof a client sends to show it holds the key a token is
//! bound to, and the server nonces that limit how long a proof may be made ahead.
//!
//! A proof is accepted when (§4.3), each refused with its own reason:
//! - it is one compact JWS of at most `MAX_PROOF_BYTES`, with `typ: dpop+jwt`, an
//!   `alg` from the server's list (asymmetric only), no `crit`, and a `jwk` header
//!   holding a public key (a private member refuses it) that fits the `alg`;
//! - its signature verifies with that key;
//! - `htm` is the request's method and `htu` the endpoint's URL, compared without
//!   query and fragment after RFC 3986 normalisation (scheme and host case, default
//!   port), the URL built from the issuer rather than from the `Host` header;
//! - `iat` is within `PROOF_WINDOW` seconds of now, either way;
//! - `jti` is present (that it is new is the caller's check against the shared
//!   store, until `Accepted::keep_until`);
//! - `ath`, when an access token comes with it, is the token's SHA-256, base64url;
//! - `nonce`, when the server requires nonces, is one it issued recently.
//!
//! Nonces are stateless: a time step and an HMAC over it with a key every instance
//! shares, so any instance accepts any instance's nonce without a table.
//!
//! Pure: the caller brings the time, the nonce key and the replay check.

use super::jwk::{self, Alg, ClientKey};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// The `DPoP` request header.
pub const HEADER: &str = "dpop";
/// The `DPoP-Nonce` response header.
pub const NONCE_HEADER: &str = "dpop-nonce";
/// How far a proof's `iat` may be from now, either way, seconds.
pub const PROOF_WINDOW: i64 = 60;
/// The longest proof read (an RSA key makes the largest, about 1.5 KB).
pub const MAX_PROOF_BYTES: usize = 8 * 1024;
/// The longest `jti` accepted.
const MAX_JTI: usize = 256;
/// How long one nonce is the current one, seconds; it is accepted for one more.
pub const NONCE_PERIOD: i64 = 60;

/// Which rule a proof broke (a metrics label and part of the error description).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Malformed,
    Type,
    Algorithm,
    Key,
    Signature,
    Method,
    Url,
    Time,
    Jti,
    Replayed,
    AccessTokenHash,
    /// No nonce, or one that is not current: answered with `use_dpop_nonce`.
    Nonce,
    /// The proof's key is not the one the token, code or family is bound to.
    Binding,
    /// The client or token needs a proof and none was sent.
    Missing,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Type => "type",
            Self::Algorithm => "algorithm",
            Self::Key => "key",
            Self::Signature => "signature",
            Self::Method => "method",
            Self::Url => "url",
            Self::Time => "time",
            Self::Jti => "jti",
            Self::Replayed => "replayed",
            Self::AccessTokenHash => "ath",
            Self::Nonce => "nonce",
            Self::Binding => "binding",
            Self::Missing => "missing",
        }
    }
}

/// A proof refused: the rule and a description for `error_description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub reason: Reason,
    pub message: String,
}

impl Refused {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

fn malformed(what: &str) -> Refused {
    Refused::new(
        Reason::Malformed,
        format!("the DPoP proof is not a valid JWT: {what}"),
    )
}

/// A parsed proof whose header passed; its signature and claims are not checked yet.
pub struct Proof {
    alg: Alg,
    key: ClientKey,
    jkt: String,
    claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

impl std::fmt::Debug for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proof")
            .field("alg", &self.alg)
            .field("jkt", &self.jkt)
            .finish()
    }
}

/// What a proof is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The request's method, upper case.
    pub method: &'a str,
    /// The endpoint's URL: the issuer and the path.
    pub url: &'a str,
    /// The access token the proof comes with (resource requests), whose hash `ath` must be.
    pub access_token: Option<&'a str>,
    /// Server nonces, when they are required.
    pub nonces: Option<&'a Nonces>,
}

/// A proof that passed every check but the replay check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The JWK thumbprint of the proof's key (RFC 7638): what tokens are bound to.
    pub jkt: String,
    pub jti: String,
    /// Until when the `jti` must be remembered: past it the proof is too old anyway.
    pub keep_until: i64,
    /// The proof's nonce is still accepted but no longer current: send a new one.
    pub nonce_stale: bool,
}

impl Proof {
    /// Splits and decodes `compact` and checks its header; `algs` are the accepted
    /// signing algorithms.
    pub fn parse(compact: &str, algs: &[Alg]) -> Result<Self, Refused> {
        let jws = super::jws::split(compact, MAX_PROOF_BYTES).map_err(|why| malformed(&why))?;
        let header = &jws.header;
        if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
            return Err(Refused::new(
                Reason::Type,
                "the DPoP proof's header must have `typ: dpop+jwt`",
            ));
        }
        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
        let alg = Alg::parse(alg_name)
            .filter(|a| algs.contains(a))
            .ok_or_else(|| {
                let names: Vec<&str> = algs.iter().map(|a| a.as_str()).collect();
                Refused::new(
                    Reason::Algorithm,
                    format!(
                        "the DPoP proof's alg `{}` is not accepted: use one of {}",
                        alg_name.escape_default(),
                        names.join(", ")
                    ),
                )
            })?;
        if header.contains_key("crit") {
            return Err(malformed(
                "its header has `crit` extensions, none of which Latchkey understands",
            ));
        }
        let Some(jwk) = header.get("jwk") else {
            return Err(Refused::new(
                Reason::Key,
                "the DPoP proof's header has no `jwk`: it must carry the public key",
            ));
        };
        let key = jwk::public_key(jwk)
            .map_err(|why| Refused::new(Reason::Key, format!("the DPoP proof's `jwk`: {why}")))?;
        if !key.fits(alg) {
            return Err(Refused::new(
                Reason::Key,
                format!(
                    "the DPoP proof's `jwk` cannot verify {} signatures",
                    alg.as_str()
                ),
            ));
        }
        let jkt = jwk::thumbprint(jwk)
            .map_err(|why| Refused::new(Reason::Key, format!("the DPoP proof's `jwk`: {why}")))?;
        Ok(Self {
            alg,
            key,
            jkt,
            signing_input: jws.signing_input.to_owned(),
            claims: jws.claims,
            signature: jws.signature,
        })
    }

    /// The thumbprint of the proof's key.
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// Checks the signature and every claim against `expected` at `now`.
    pub fn verify(&self, expected: &Expected<'_>, now: i64) -> Result<Accepted, Refused> {
        if !self
            .key
            .verify(self.alg, self.signing_input.as_bytes(), &self.signature)
        {
            return Err(Refused::new(
                Reason::Signature,
                "the DPoP proof's signature does not verify with its `jwk`",
            ));
        }
        let c = &self.claims;
        let string = |name: &str| c.get(name).and_then(Value::as_str);
        if string("htm") != Some(expected.method) {
            return Err(Refused::new(
                Reason::Method,
                format!(
                    "the DPoP proof's `htm` must be the request's method, {}",
                    expected.method
                ),
            ));
        }
        let same_url = string("htu")
            .and_then(normalized_url)
            .is_some_and(|u| Some(u) == normalized_url(expected.url));
        if !same_url {
            return Err(Refused::new(
                Reason::Url,
                format!(
                    "the DPoP proof's `htu` must be this endpoint's URL, {}",
                    expected.url
                ),
            ));
        }
        let iat = match c.get("iat") {
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
                .ok_or_else(|| malformed("`iat` is not a number of seconds"))?,
            None => {
                return Err(Refused::new(Reason::Time, "the DPoP proof has no `iat`"));
            }
        };
        if iat.saturating_sub(now).abs() > PROOF_WINDOW {
            return Err(Refused::new(
                Reason::Time,
                format!(
                    "the DPoP proof's `iat` is more than {PROOF_WINDOW} seconds from the server's time: make a new proof for each request"
                ),
            ));
        }
        let jti = match c.get("jti") {
            Some(Value::String(j)) if !j.is_empty() && j.len() <= MAX_JTI => j.clone(),
            _ => {
                return Err(Refused::new(
                    Reason::Jti,
                    format!(
                        "the DPoP proof needs a `jti` of 1 to {MAX_JTI} characters, new for each proof"
                    ),
                ));
            }
        };
        if let Some(token) = expected.access_token {
            let want = access_token_hash(token);
            if string("ath") != Some(want.as_str()) {
                return Err(Refused::new(
                    Reason::AccessTokenHash,
                    "the DPoP proof's `ath` must be the base64url SHA-256 of the access token",
                ));
            }
        }
        let nonce_stale = match expected.nonces {
            None => false,
            Some(nonces) => match string("nonce").map(|n| nonces.check(n, now)) {
                Some(NonceCheck::Current) => false,
                Some(NonceCheck::Previous) => true,
                Some(NonceCheck::Unknown) => {
                    return Err(Refused::new(
                        Reason::Nonce,
                        "the DPoP proof's nonce is not current: use the one in the DPoP-Nonce header",
                    ));
                }
                None => {
                    return Err(Refused::new(
                        Reason::Nonce,
                        "this server requires a nonce in DPoP proofs: use the one in the DPoP-Nonce header",
                    ));
                }
            },
        };
        Ok(Accepted {
            jkt: self.jkt.clone(),
            jti,
            keep_until: iat.saturating_add(PROOF_WINDOW).max(now),
            nonce_stale,
        })
    }
}

/// `url` without query and fragment, normalised (RFC 3986 §6.2.2, §6.2.3).
fn normalized_url(url: &str) -> Option<String> {
    let mut parsed = url::Url::parse(url).ok()?;
    parsed.set_query(None);
    parsed.set_fragment(None);
    Some(parsed.into())
}

/// `ath`: the base64url SHA-256 of an access token (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(super::types::sha256(token.as_bytes()))
}

/// The digest under which a proof's `jti` is remembered, apart from other kinds of
/// JWT id in the same store.
pub fn replay_key(jkt: &str, jti: &str) -> [u8; 32] {
    let mut input = Vec::with_capacity(24 + jkt.len() + jti.len());
    input.extend_from_slice(b"dpop-proof\0");
    input.extend_from_slice(&(jkt.len() as u64).to_be_bytes());
    input.extend_from_slice(jkt.as_bytes());
    input.extend_from_slice(jti.as_bytes());
    super::types::sha256(&input)
}

/// Whether a nonce is one this server issued, and how recently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    Current,
    /// From the period before: accepted, and a new one is sent.
    Previous,
    Unknown,
}

/// Server nonces: `step ‖ HMAC-SHA-256(key, "dpop-nonce" ‖ step)`, base64url,
/// `step` the number of the current `NONCE_PERIOD`.
pub struct Nonces {
    key: hmac::Key,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonces")
    }
}

impl Nonces {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// What is signed for `step`: a label, then the step.
    fn input(step: i64) -> [u8; 18] {
        let mut input = *b"dpop-nonce\0\0\0\0\0\0\0\0";
        input[10..].copy_from_slice(&step.to_be_bytes());
        input
    }

    /// The nonce to hand out at `now`.
    pub fn current(&self, now: i64) -> String {
        let step = now.div_euclid(NONCE_PERIOD);
        let mut raw = step.to_be_bytes().to_vec();
        raw.extend_from_slice(hmac::sign(&self.key, &Self::input(step)).as_ref());
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn check(&self, nonce: &str, now: i64) -> NonceCheck {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(nonce) else {
            return NonceCheck::Unknown;
        };
        if raw.len() != 40 {
            return NonceCheck::Unknown;
        }
        let mut step = [0u8; 8];
        step.copy_from_slice(&raw[..8]);
        let step = i64::from_be_bytes(step);
        let current = now.div_euclid(NONCE_PERIOD);
        let age = if step == current {
            NonceCheck::Current
        } else if step == current - 1 {
            NonceCheck::Previous
        } else {
            return NonceCheck::Unknown;
        };
        // Constant time: a nonce is not secret, but forging one should not be timed.
        match hmac::verify(&self.key, &Self::input(step), &raw[8..]) {
            Ok(()) => age,
            Err(_) => NonceCheck::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const URL: &str = "https://as.example/oauth/token";
    const ALGS: [Alg; 3] = [Alg::PS256, Alg::ES256, Alg::EdDSA];

    struct Holder {
        pair: EcdsaKeyPair,
        jwk: Value,
    }

    fn holder() -> Holder {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let p = pair.public_key().as_ref();
        let jwk = json!({"kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&p[1..33]), "y": URL_SAFE_NO_PAD.encode(&p[33..])});
        Holder { pair, jwk }
    }

    impl Holder {
        fn header(&self) -> Value {
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk})
        }

        fn sign(&self, header: Value, claims: Value) -> String {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let sig = self
                .pair
                .sign(&SystemRandom::new(), input.as_bytes())
                .unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
        }
    }

    fn claims() -> Value {
        json!({"htm": "POST", "htu": URL, "iat": NOW, "jti": "j1"})
    }

    fn expected<'a>(token: Option<&'a str>, nonces: Option<&'a Nonces>) -> Expected<'a> {
        Expected {
            method: "POST",
            url: URL,
            access_token: token,
            nonces,
        }
    }

    fn check(h: &Holder, header: Value, claims: Value) -> Result<Accepted, Refused> {
        Proof::parse(&h.sign(header, claims), &ALGS)?.verify(&expected(None, None), NOW)
    }

    fn reason(r: Result<Accepted, Refused>) -> Reason {
        r.unwrap_err().reason
    }

    fn with(mut v: Value, name: &str, value: Value) -> Value {
        v[name] = value;
        v
    }

    fn without(mut v: Value, name: &str) -> Value {
        v.as_object_mut().unwrap().remove(name);
        v
    }

    #[test]
    fn a_good_proof_passes_with_the_thumbprint_of_its_key() {
        let h = holder();
        let ok = check(&h, h.header(), claims()).unwrap();
        let independent: jsonwebtoken::jwk::Jwk = serde_json::from_value(h.jwk.clone()).unwrap();
        let expected_jkt = independent
            .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
            .unwrap();
        assert_eq!(ok.jkt, expected_jkt);
        assert_eq!(ok.jti, "j1");
        assert_eq!(ok.keep_until, NOW + PROOF_WINDOW);
        assert!(!ok.nonce_stale);
    }

    #[test]
    fn the_header_rules() {
        let h = holder();
        assert_eq!(
            reason(check(&h, without(h.header(), "typ"), claims())),
            Reason::Type
        );
        assert_eq!(
            reason(check(&h, with(h.header(), "typ", json!("JWT")), claims())),
            Reason::Type
        );
        assert_eq!(
            reason(check(&h, with(h.header(), "alg", json!("none")), claims())),
            Reason::Algorithm
        );
        assert_eq!(
            reason(check(&h, with(h.header(), "alg", json!("HS256")), claims())),
            Reason::Algorithm
        );
        // RS256 is a known algorithm, but not in this server's list.
        assert_eq!(
            reason(check(&h, with(h.header(), "alg", json!("RS256")), claims())),
            Reason::Algorithm
        );
        assert_eq!(
            reason(check(&h, without(h.header(), "jwk"), claims())),
            Reason::Key
        );
        let mut private = h.jwk.clone();
        private["d"] = json!("AAAA");
        assert_eq!(
            reason(check(&h, with(h.header(), "jwk", private), claims())),
            Reason::Key
        );
        assert_eq!(
            reason(check(&h, with(h.header(), "alg", json!("EdDSA")), claims())),
            Reason::Key
        );
        assert_eq!(
            reason(check(&h, with(h.header(), "crit", json!(["x"])), claims())),
            Reason::Malformed
        );
        assert_eq!(
            Proof::parse("a.b", &ALGS).unwrap_err().reason,
            Reason::Malformed
        );
    }

    #[test]
    fn a_signature_by_another_key_fails() {
        let (h, other) = (holder(), holder());
        let forged = other.sign(h.header(), claims());
        let proof = Proof::parse(&forged, &ALGS).unwrap();
        assert_eq!(
            proof.verify(&expected(None, None), NOW).unwrap_err().reason,
            Reason::Signature
        );
    }

    #[test]
    fn the_claim_rules() {
        let h = holder();
        let c = claims();
        for (claims, want) in [
            (without(c.clone(), "htm"), Reason::Method),
            (with(c.clone(), "htm", json!("PUT")), Reason::Method),
            (with(c.clone(), "htm", json!("post")), Reason::Method),
            (without(c.clone(), "htu"), Reason::Url),
            (
                with(c.clone(), "htu", json!("https://as.example/oauth/par")),
                Reason::Url,
            ),
            (
                with(c.clone(), "htu", json!("https://other.example/oauth/token")),
                Reason::Url,
            ),
            (without(c.clone(), "iat"), Reason::Time),
            (with(c.clone(), "iat", json!(NOW - 3600)), Reason::Time),
            (with(c.clone(), "iat", json!(NOW + 3600)), Reason::Time),
            (with(c.clone(), "iat", json!(NOW - 61)), Reason::Time),
            (without(c.clone(), "jti"), Reason::Jti),
            (with(c.clone(), "jti", json!("")), Reason::Jti),
            (with(c.clone(), "jti", json!("j".repeat(257))), Reason::Jti),
        ] {
            assert_eq!(
                reason(check(&h, h.header(), claims.clone())),
                want,
                "{claims}"
            );
        }
        for passes in [
            with(c.clone(), "iat", json!(NOW - 10)),
            with(c.clone(), "iat", json!(NOW + 8)),
            with(
                c.clone(),
                "htu",
                json!("https://AS.example:443/oauth/token?x=1#f"),
            ),
        ] {
            check(&h, h.header(), passes.clone()).unwrap_or_else(|e| panic!("{passes}: {e:?}"));
        }
    }

    #[test]
    fn ath_binds_the_proof_to_its_access_token() {
        let h = holder();
        let token = "eyJ.the.token";
        let good = with(claims(), "ath", json!(access_token_hash(token)));
        let proof = Proof::parse(&h.sign(h.header(), good), &ALGS).unwrap();
        proof.verify(&expected(Some(token), None), NOW).unwrap();
        assert_eq!(
            proof
                .verify(&expected(Some("another"), None), NOW)
                .unwrap_err()
                .reason,
            Reason::AccessTokenHash
        );
        let bare = Proof::parse(&h.sign(h.header(), claims()), &ALGS).unwrap();
        assert_eq!(
            bare.verify(&expected(Some(token), None), NOW)
                .unwrap_err()
                .reason,
            Reason::AccessTokenHash
        );
    }

    #[test]
    fn nonces_are_checked_when_required() {
        let h = holder();
        let nonces = Nonces::new(b"0123456789abcdef0123456789abcdef");
        let with_nonce = |nonce: &str| {
            Proof::parse(
                &h.sign(h.header(), with(claims(), "nonce", json!(nonce))),
                &ALGS,
            )
            .unwrap()
        };
        let e = expected(None, Some(&nonces));
        let bare = Proof::parse(&h.sign(h.header(), claims()), &ALGS).unwrap();
        assert_eq!(bare.verify(&e, NOW).unwrap_err().reason, Reason::Nonce);
        let current = nonces.current(NOW);
        assert!(!with_nonce(&current).verify(&e, NOW).unwrap().nonce_stale);
        // A period later it still passes, but a new one is due; two later it fails.
        let old = nonces.current(NOW - NONCE_PERIOD);
        assert!(with_nonce(&old).verify(&e, NOW).unwrap().nonce_stale);
        let older = nonces.current(NOW - 2 * NONCE_PERIOD);
        assert_eq!(
            with_nonce(&older).verify(&e, NOW).unwrap_err().reason,
            Reason::Nonce
        );
        // Another server's nonce, and garbage, are unknown.
        let theirs = Nonces::new(b"another key entirely, 32 bytes..").current(NOW);
        assert_eq!(nonces.check(&theirs, NOW), NonceCheck::Unknown);
        assert_eq!(nonces.check("garbage", NOW), NonceCheck::Unknown);
        assert_eq!(nonces.check(&current, NOW), NonceCheck::Current);
    }

    #[test]
    fn replay_keys_differ_by_key_and_by_jti() {
        assert_ne!(replay_key("a", "bc"), replay_key("ab", "c"));
        assert_ne!(replay_key("a", "b"), replay_key("a", "c"));
        assert_ne!(
            replay_key("c1", "j1"),
            super::super::client_assertion::replay_key("c1", "j1")
        );
    }
}
