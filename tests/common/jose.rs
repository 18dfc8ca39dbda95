//! Key pairs and hand-built JWS for tests: an assertion can be made to break any
//! one rule (header, claims, signature) while everything else is right.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// A client's key pair.
pub enum TestKey {
    Es256 {
        kid: String,
        pair: EcdsaKeyPair,
        pkcs8: Vec<u8>,
    },
    Rs256 {
        kid: String,
        pair: RsaKeyPair,
        pkcs8: Vec<u8>,
    },
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl TestKey {
    pub fn es256(kid: &str) -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        Self::Es256 {
            kid: kid.to_owned(),
            pair,
            pkcs8: pkcs8.as_ref().to_vec(),
        }
    }

    pub fn rs256(kid: &str) -> Self {
        let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
            .unwrap()
            .as_ref()
            .to_vec();
        Self::Rs256 {
            kid: kid.to_owned(),
            pair,
            pkcs8,
        }
    }

    pub fn kid(&self) -> &str {
        match self {
            Self::Es256 { kid, .. } | Self::Rs256 { kid, .. } => kid,
        }
    }

    pub fn alg(&self) -> &'static str {
        match self {
            Self::Es256 { .. } => "ES256",
            Self::Rs256 { .. } => "RS256",
        }
    }

    /// The private key as base64 PKCS#8 DER.
    pub fn pkcs8_base64(&self) -> String {
        let der = match self {
            Self::Es256 { pkcs8, .. } | Self::Rs256 { pkcs8, .. } => pkcs8,
        };
        base64::engine::general_purpose::STANDARD.encode(der)
    }

    /// The private key as PKCS#8 PEM (for JOSE libraries in other languages).
    pub fn pkcs8_pem(&self) -> String {
        let body = self.pkcs8_base64();
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }

    /// The public JWK.
    pub fn jwk(&self) -> Value {
        match self {
            Self::Es256 { kid, pair, .. } => {
                let p = pair.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
                    "x": b64(&p[1..33]), "y": b64(&p[33..])})
            }
            Self::Rs256 { kid, pair, .. } => {
                let public = pair.public_key();
                let n = public.modulus().big_endian_without_leading_zero();
                let e = public.exponent().big_endian_without_leading_zero();
                json!({"kty": "RSA", "kid": kid, "alg": "RS256", "n": b64(n), "e": b64(e)})
            }
        }
    }

    /// A JWK Set of these keys.
    pub fn set(keys: &[&TestKey]) -> Value {
        json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
    }

    /// The public key bytes an HS256 forger would use as the "secret".
    pub fn public_bytes(&self) -> Vec<u8> {
        match self {
            Self::Es256 { pair, .. } => pair.public_key().as_ref().to_vec(),
            Self::Rs256 { pair, .. } => pair.public_key().as_ref().to_vec(),
        }
    }

    /// `header.claims` signed with this key (whatever `alg` the header says).
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let rng = SystemRandom::new();
        let sig = match self {
            Self::Es256 { pair, .. } => {
                pair.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec()
            }
            Self::Rs256 { pair, .. } => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
                    .unwrap();
                sig
            }
        };
        format!("{input}.{}", b64(&sig))
    }

    /// The usual header: this key's `alg` and `kid`.
    pub fn header(&self) -> Value {
        json!({"alg": self.alg(), "kid": self.kid(), "typ": "JWT"})
    }
}

/// A JWS with `header.claims` and an HMAC-SHA256 "signature" under `secret`.
pub fn hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

/// An unsigned JWS (`alg: none`).
pub fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64(json!({"alg": "none"}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// Claims of a good client assertion from `client_id` for `aud`, at `now`.
pub fn assertion_claims(client_id: &str, aud: &str, now: i64) -> Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + 60,
        "jti": latchkey::random::url_token::<16>(),
    })
}

impl TestKey {
    /// The public JWK as a DPoP proof carries it: the key members alone.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = self.jwk();
        for m in ["kid", "alg", "use"] {
            jwk.as_object_mut().unwrap().remove(m);
        }
        jwk
    }

    /// The RFC 7638 thumbprint of the public key, computed by jsonwebtoken (not by
    /// the server under test).
    pub fn jkt(&self) -> String {
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(self.public_jwk()).unwrap();
        jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
            .unwrap()
    }

    /// A DPoP proof header for this key.
    pub fn dpop_header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": self.alg(), "jwk": self.public_jwk()})
    }

    /// A good DPoP proof of `method` `url` at `now`, a fresh `jti`, and `extra`
    /// claims (`ath`, `nonce`) merged in.
    pub fn proof(&self, method: &str, url: &str, now: i64, extra: Value) -> String {
        let mut claims = dpop_claims(method, url, now);
        if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                c.insert(k.clone(), v.clone());
            }
        }
        self.sign(&self.dpop_header(), &claims)
    }
}

/// The claims of a good DPoP proof, with a fresh `jti`.
pub fn dpop_claims(method: &str, url: &str, now: i64) -> Value {
    json!({"htm": method, "htu": url, "iat": now, "jti": latchkey::random::url_token::<16>()})
}

/// `ath` for `token`: its SHA-256, base64url.
pub fn ath(token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    b64(digest.as_ref())
}
