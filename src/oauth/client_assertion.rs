//! Client authentication by signed assertion: `private_key_jwt` (RFC 7523 §2.2 and
//! §3, OpenID Connect Core §9, with the audience rule of RFC 7523bis).
//!
//! The rules, each refused with its own reason:
//! - a compact JWS of at most `MAX_ASSERTION_BYTES`, `alg` one of `jwk::ALGORITHMS`
//!   (never `none` or `HS*`), no `crit`, `typ` absent, `JWT` or
//!   `client-authentication+jwt`;
//! - signed by one of the client's keys, found by `kid` (or the only key that fits
//!   the `alg`), whose type fits the `alg`;
//! - `iss` and `sub` both the client's id;
//! - `aud` the issuer identifier as its only value (a string or a one-element
//!   array), or, when the operator allows it, the token endpoint URL;
//! - `exp` present and not past, `nbf` and `iat` not ahead, all within `CLOCK_SKEW`;
//!   `exp` at most `max_lifetime` after `iat` and after now;
//! - `jti` present. That it was never used before is checked by the caller against
//!   the shared store, until `Accepted::keep_until`.
//!
//! Pure: the caller brings the keys, the time and the replay check.

use super::jwk::{ALGORITHMS, Alg, ClientKeySet, KeyMiss};
use super::jws::TimeFault;
use serde_json::{Map, Value};

/// `client_assertion_type` for a JWT (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How far clocks may disagree, seconds, for `exp`, `nbf` and `iat`.
pub const CLOCK_SKEW: i64 = 60;
/// The longest assertion read (a few hundred bytes is usual).
pub const MAX_ASSERTION_BYTES: usize = 8 * 1024;
/// The longest `jti` accepted.
const MAX_JTI: usize = 256;

/// Which `aud` values identify this server (`--client-assertion-audience`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AudienceRule {
    /// The issuer identifier alone (RFC 7523bis).
    #[default]
    Issuer,
    /// The issuer, or the token endpoint URL as older clients send.
    IssuerOrTokenEndpoint,
}

impl AudienceRule {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "issuer" => Ok(Self::Issuer),
            "issuer-or-token-endpoint" => Ok(Self::IssuerOrTokenEndpoint),
            other => Err(format!(
                "client assertion audience `{}` is not one of issuer, issuer-or-token-endpoint",
                other.escape_default()
            )),
        }
    }
}

/// What an assertion is checked against, besides the keys.
#[derive(Debug, Clone)]
pub struct AssertionRules {
    pub issuer: String,
    pub token_endpoint: String,
    pub audience: AudienceRule,
    /// The longest `exp` may be after `iat`, and after now, seconds.
    pub max_lifetime: i64,
    /// The signing algorithms accepted, a subset of `jwk::ALGORITHMS`.
    pub algorithms: Vec<Alg>,
}

/// Which rule an assertion broke (a metrics label and part of the audit record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Malformed,
    Algorithm,
    Type,
    /// The `kid` is in none of the client's keys.
    UnknownKey,
    /// No key fits (type, `alg`), or the set cannot be had.
    Key,
    Signature,
    Issuer,
    Subject,
    Audience,
    Expired,
    NotYetValid,
    Lifetime,
    Jti,
    Replayed,
    /// The client is not registered for this method (or for another one).
    Method,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm",
            Self::Type => "type",
            Self::UnknownKey => "unknown_key",
            Self::Key => "key",
            Self::Signature => "signature",
            Self::Issuer => "issuer",
            Self::Subject => "subject",
            Self::Audience => "audience",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Lifetime => "lifetime",
            Self::Jti => "jti",
            Self::Replayed => "replayed",
            Self::Method => "method",
        }
    }
}

/// An assertion refused: the rule, and a description for `error_description`.
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

/// An assertion whose signature and claims passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub jti: String,
    /// Until when its `jti` must be remembered: past this, the assertion would be
    /// refused as expired anyway.
    pub keep_until: i64,
}

/// A compact JWS, split and decoded but not yet verified.
#[derive(Debug)]
pub struct Jws<'a> {
    alg: Alg,
    kid: Option<String>,
    claims: Map<String, Value>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

fn malformed(what: &str) -> Refused {
    Refused::new(
        Reason::Malformed,
        format!("the client assertion is not a valid JWT: {what}"),
    )
}

impl<'a> Jws<'a> {
    /// Splits and decodes `compact`, and checks the header.
    pub fn parse(compact: &'a str) -> Result<Self, Refused> {
        let jws = super::jws::split(compact, MAX_ASSERTION_BYTES).map_err(|why| malformed(&why))?;
        let header = &jws.header;
        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
        let alg = Alg::parse(alg_name).ok_or_else(|| {
            Refused::new(
                Reason::Algorithm,
                format!(
                    "the client assertion's alg `{}` is not accepted: use one of {} (none and HMAC algorithms are refused)",
                    alg_name.escape_default(),
                    ALGORITHMS.join(", ")
                ),
            )
        })?;
        if header.contains_key("crit") {
            return Err(malformed(
                "its header has `crit` extensions, none of which Latchkey understands",
            ));
        }
        if let Some(typ) = header.get("typ") {
            let typ = typ.as_str().unwrap_or("");
            let bare = typ
                .strip_prefix("application/")
                .unwrap_or(typ)
                .to_ascii_lowercase();
            if bare != "jwt" && bare != "client-authentication+jwt" {
                return Err(Refused::new(
                    Reason::Type,
                    format!(
                        "the client assertion's typ `{}` is not JWT or client-authentication+jwt",
                        typ.escape_default()
                    ),
                ));
            }
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => return Err(malformed("`kid` is not a string")),
        };
        Ok(Self {
            alg,
            kid,
            claims: jws.claims,
            signing_input: jws.signing_input,
            signature: jws.signature,
        })
    }

    /// The `sub` claim, unverified: which client the assertion says it is from, to
    /// find that client's keys.
    pub fn subject(&self) -> Result<&str, Refused> {
        match self.claims.get("sub") {
            Some(Value::String(s)) if !s.is_empty() => Ok(s),
            _ => Err(Refused::new(
                Reason::Subject,
                "the client assertion has no `sub`: it must be the client_id",
            )),
        }
    }

    /// The header's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Checks the signature with `keys` and every claim rule for client `client_id`.
    pub fn verify(
        &self,
        client_id: &str,
        keys: &ClientKeySet,
        rules: &AssertionRules,
        now: i64,
    ) -> Result<Accepted, Refused> {
        if !rules.algorithms.contains(&self.alg) {
            let names: Vec<&str> = rules.algorithms.iter().map(|a| a.as_str()).collect();
            return Err(Refused::new(
                Reason::Algorithm,
                format!(
                    "the client assertion's alg {} is not accepted by this server's profile: use one of {}",
                    self.alg.as_str(),
                    names.join(", ")
                ),
            ));
        }
        let key = keys.find(self.kid(), self.alg).map_err(|miss| match miss {
            KeyMiss::UnknownKid(kid) => Refused::new(
                Reason::UnknownKey,
                format!("no key of this client has kid `{}`", kid.escape_default()),
            ),
            KeyMiss::Unfit(m) | KeyMiss::Ambiguous(m) => Refused::new(Reason::Key, m),
        })?;
        if !key.verify(self.alg, self.signing_input.as_bytes(), &self.signature) {
            return Err(Refused::new(
                Reason::Signature,
                "the client assertion's signature does not verify with the client's key",
            ));
        }
        self.check_claims(client_id, rules, now)
    }

    fn check_claims(
        &self,
        client_id: &str,
        rules: &AssertionRules,
        now: i64,
    ) -> Result<Accepted, Refused> {
        let c = &self.claims;
        let string = |name: &str| c.get(name).and_then(Value::as_str);
        if string("iss") != Some(client_id) {
            return Err(Refused::new(
                Reason::Issuer,
                "the client assertion's `iss` must be the client_id",
            ));
        }
        if string("sub") != Some(client_id) {
            return Err(Refused::new(
                Reason::Subject,
                "the client assertion's `sub` must be the client_id",
            ));
        }
        let audience_ok = |aud: &str| {
            aud == rules.issuer
                || (rules.audience == AudienceRule::IssuerOrTokenEndpoint
                    && aud == rules.token_endpoint)
        };
        let aud_ok = match c.get("aud") {
            Some(Value::String(a)) => audience_ok(a),
            Some(Value::Array(list)) => {
                list.len() == 1 && list[0].as_str().is_some_and(audience_ok)
            }
            _ => false,
        };
        if !aud_ok {
            let also = match rules.audience {
                AudienceRule::Issuer => String::new(),
                AudienceRule::IssuerOrTokenEndpoint => {
                    format!(" (or the token endpoint `{}`)", rules.token_endpoint)
                }
            };
            return Err(Refused::new(
                Reason::Audience,
                format!(
                    "the client assertion's `aud` must be this server's issuer identifier `{}`{also} as its only value",
                    rules.issuer
                ),
            ));
        }
        let exp = super::jws::check_times(c, now, CLOCK_SKEW, rules.max_lifetime, false).map_err(
            |fault| {
                let message = fault.message("the client assertion", rules.max_lifetime);
                match fault {
                    TimeFault::NotNumber(_) | TimeFault::NoIat => malformed(&message),
                    TimeFault::NoExp | TimeFault::Expired => Refused::new(Reason::Expired, message),
                    TimeFault::NotYetValid | TimeFault::IssuedAhead => {
                        Refused::new(Reason::NotYetValid, message)
                    }
                    TimeFault::TooLong => Refused::new(Reason::Lifetime, message),
                }
            },
        )?;
        let jti = match c.get("jti") {
            Some(Value::String(j)) if !j.is_empty() && j.len() <= MAX_JTI => j.clone(),
            Some(Value::String(j)) if !j.is_empty() => {
                return Err(Refused::new(
                    Reason::Jti,
                    format!("the client assertion's `jti` is longer than {MAX_JTI} characters"),
                ));
            }
            _ => {
                return Err(Refused::new(
                    Reason::Jti,
                    "the client assertion has no `jti`: each assertion needs a unique one",
                ));
            }
        };
        Ok(Accepted {
            jti,
            keep_until: exp.saturating_add(CLOCK_SKEW),
        })
    }
}

/// The digest under which a client assertion's `jti` is remembered: separate per
/// client, and from other kinds of assertion that later share the store.
pub fn replay_key(client_id: &str, jti: &str) -> [u8; 32] {
    let mut input = Vec::with_capacity(24 + client_id.len() + jti.len());
    input.extend_from_slice(b"client-assertion\0");
    // Length-prefixed, so no (client, jti) pair can spell another.
    input.extend_from_slice(&(client_id.len() as u64).to_be_bytes());
    input.extend_from_slice(client_id.as_bytes());
    input.extend_from_slice(jti.as_bytes());
    super::types::sha256(&input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::jwk::Reading;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    struct Signer {
        pair: EcdsaKeyPair,
        set: ClientKeySet,
    }

    fn signer() -> Signer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let p = pair.public_key().as_ref();
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": "k1",
            "x": URL_SAFE_NO_PAD.encode(&p[1..33]), "y": URL_SAFE_NO_PAD.encode(&p[33..])});
        let set = ClientKeySet::parse(&json!({"keys": [jwk]}), Reading::Registration).unwrap();
        Signer { pair, set }
    }

    impl Signer {
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

    fn rules(audience: AudienceRule) -> AssertionRules {
        AssertionRules {
            issuer: "https://as.example".into(),
            token_endpoint: "https://as.example/oauth/token".into(),
            audience,
            max_lifetime: 600,
            algorithms: vec![Alg::RS256, Alg::PS256, Alg::ES256, Alg::EdDSA],
        }
    }

    fn claims() -> Value {
        json!({"iss": "c1", "sub": "c1", "aud": "https://as.example",
            "exp": NOW + 300, "iat": NOW, "jti": "j1"})
    }

    fn check(
        s: &Signer,
        header: Value,
        claims: Value,
        audience: AudienceRule,
    ) -> Result<Accepted, Refused> {
        let token = s.sign(header, claims);
        let jws = Jws::parse(&token)?;
        jws.verify("c1", &s.set, &rules(audience), NOW)
    }

    fn reason(r: Result<Accepted, Refused>) -> Reason {
        r.unwrap_err().reason
    }

    #[test]
    fn a_good_assertion_passes_and_is_kept_until_it_expires() {
        let s = signer();
        let h = json!({"alg": "ES256", "kid": "k1", "typ": "client-authentication+jwt"});
        let ok = check(&s, h, claims(), AudienceRule::Issuer).unwrap();
        assert_eq!(ok.jti, "j1");
        assert_eq!(ok.keep_until, NOW + 300 + CLOCK_SKEW);
        // A one-element array, and no kid (the only key fits).
        let mut c = claims();
        c["aud"] = json!(["https://as.example"]);
        assert!(
            check(
                &s,
                json!({"alg": "ES256", "typ": "JWT"}),
                c,
                AudienceRule::Issuer
            )
            .is_ok()
        );
    }

    #[test]
    fn every_claim_rule_is_enforced() {
        let s = signer();
        let h = || json!({"alg": "ES256", "kid": "k1"});
        let with = |k: &str, v: Value| {
            let mut c = claims();
            c[k] = v;
            c
        };
        let without = |k: &str| {
            let mut c = claims();
            c.as_object_mut().unwrap().remove(k);
            c
        };
        let cases = [
            (
                with("aud", json!("https://as.example/oauth/token")),
                Reason::Audience,
            ),
            (
                with("aud", json!("https://other.example")),
                Reason::Audience,
            ),
            (
                with("aud", json!(["https://as.example", "x"])),
                Reason::Audience,
            ),
            (with("aud", json!(["x"])), Reason::Audience),
            (without("aud"), Reason::Audience),
            (with("iss", json!("c2")), Reason::Issuer),
            (with("sub", json!("c2")), Reason::Subject),
            (with("exp", json!(NOW - 61)), Reason::Expired),
            (without("exp"), Reason::Expired),
            (with("exp", json!(NOW + 3600)), Reason::Lifetime),
            (with("iat", json!(NOW - 700)), Reason::Lifetime),
            (with("nbf", json!(NOW + 120)), Reason::NotYetValid),
            (with("iat", json!(NOW + 120)), Reason::NotYetValid),
            (without("jti"), Reason::Jti),
            (with("jti", json!("")), Reason::Jti),
            (with("jti", json!("x".repeat(300))), Reason::Jti),
        ];
        for (c, want) in cases {
            assert_eq!(
                reason(check(&s, h(), c.clone(), AudienceRule::Issuer)),
                want,
                "{c}"
            );
        }
        // Within the clock skew passes: 10 s expired, nbf 8 s ahead.
        assert!(check(&s, h(), with("exp", json!(NOW - 10)), AudienceRule::Issuer).is_ok());
        assert!(check(&s, h(), with("nbf", json!(NOW + 8)), AudienceRule::Issuer).is_ok());
        // The compatibility setting admits the token endpoint, still alone.
        let te = with("aud", json!("https://as.example/oauth/token"));
        assert!(check(&s, h(), te, AudienceRule::IssuerOrTokenEndpoint).is_ok());
    }

    #[test]
    fn header_rules() {
        let s = signer();
        for (h, want) in [
            (json!({"alg": "none"}), Reason::Algorithm),
            (json!({"alg": "HS256"}), Reason::Algorithm),
            (json!({}), Reason::Algorithm),
            (json!({"alg": "ES256", "typ": "dpop+jwt"}), Reason::Type),
            (json!({"alg": "ES256", "kid": "nope"}), Reason::UnknownKey),
            (json!({"alg": "RS256", "kid": "k1"}), Reason::Key),
            (json!({"alg": "ES256", "crit": ["exp"]}), Reason::Malformed),
        ] {
            assert_eq!(
                reason(check(&s, h.clone(), claims(), AudienceRule::Issuer)),
                want,
                "{h}"
            );
        }
    }

    #[test]
    fn signatures_must_come_from_the_registered_key() {
        let s = signer();
        let other = signer();
        let token = other.sign(json!({"alg": "ES256", "kid": "k1"}), claims());
        let jws = Jws::parse(&token).unwrap();
        assert_eq!(
            jws.verify("c1", &s.set, &rules(AudienceRule::Issuer), NOW)
                .unwrap_err()
                .reason,
            Reason::Signature
        );
        // A tampered payload breaks the signature too.
        let good = s.sign(json!({"alg": "ES256"}), claims());
        let mut parts: Vec<&str> = good.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            json!({"iss": "c1", "sub": "c1", "aud": "https://as.example", "exp": NOW + 300, "jti": "j2"})
                .to_string(),
        );
        parts[1] = &forged;
        let tampered = parts.join(".");
        let jws = Jws::parse(&tampered).unwrap();
        assert_eq!(
            jws.verify("c1", &s.set, &rules(AudienceRule::Issuer), NOW)
                .unwrap_err()
                .reason,
            Reason::Signature
        );
    }

    #[test]
    fn malformed_assertions() {
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.e30.",
            "e30.e30.!!",
            &"a".repeat(9000),
        ] {
            assert!(Jws::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn replay_keys_differ_by_client() {
        assert_ne!(replay_key("a", "j"), replay_key("b", "j"));
        assert_ne!(replay_key("a\0b", "j"), replay_key("a", "b\0j"));
    }
}
