//! The JWT-bearer authorization grant (RFC 7523 §2.1 and §3, RFC 7521 §4.1) for
//! assertions signed by an issuer the operator trusts: a workload's identity token
//! (Kubernetes, CI), or an Identity Assertion JWT Authorization Grant (ID-JAG,
//! draft-ietf-oauth-identity-assertion-authz-grant) from a company's identity
//! provider.
//!
//! The rules, each refused with its own reason:
//! - a compact JWS of at most `MAX_BYTES`, `alg` one of the issuer's algorithms
//!   (never `none` or `HS*`), no `crit`;
//! - `typ` decides what it is: `oauth-id-jag+jwt` is an ID-JAG, absent or `JWT` a
//!   workload token; anything else (`at+jwt`, `dpop+jwt`, …) is refused. The issuer
//!   must be trusted for that use, so an ID token is never an ID-JAG (draft §3);
//! - signed by one of the issuer's keys (by `kid`, or the only one that fits);
//! - `aud` holds one of the issuer's audiences (ID-JAG: this server's issuer);
//! - `exp` present and not past, `nbf` and `iat` not ahead (within `CLOCK_SKEW`),
//!   `exp` at most the issuer's `max_lifetime` after `iat` and after now;
//! - `sub` present; `jti` required for an ID-JAG, checked when a workload token has
//!   one (by the caller, against the shared replay store);
//! - ID-JAG: `iat` and `client_id` required (draft §3.1).
//!
//! Pure: the caller brings the trusted issuers, the keys, the time and the replay
//! check.

use super::client_assertion::CLOCK_SKEW;
use super::jwk::{ALGORITHMS, Alg, ClientKeySet, KeyMiss};
use super::jws::TimeFault;
use super::scope::ScopeSet;
use serde_json::{Map, Value};
use std::sync::Arc;

/// `grant_type` of the JWT-bearer grant (RFC 7523 §2.1).
pub const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The JOSE `typ` of an ID-JAG (draft §3.1).
pub const ID_JAG_TYP: &str = "oauth-id-jag+jwt";
/// `authorization_grant_profiles_supported` value for ID-JAG (draft §6).
pub const ID_JAG_PROFILE: &str = "urn:ietf:params:oauth:grant-profile:id-jag";
/// The longest assertion read (a Kubernetes token is 1–2 KiB).
pub const MAX_BYTES: usize = 16 * 1024;
/// The longest `jti` or `sub` accepted.
const MAX_ID: usize = 512;

/// What a trusted issuer's tokens may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Workload identity tokens, mapped to a client by their subject.
    Workload,
    /// ID-JAGs for people, mapped to a user by a linked identity.
    IdJag,
    /// Subject tokens of a token exchange (RFC 8693).
    SubjectToken,
}

impl Use {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "workload" => Some(Self::Workload),
            "id-jag" => Some(Self::IdJag),
            "subject_token" => Some(Self::SubjectToken),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Workload => "workload",
            Self::IdJag => "id-jag",
            Self::SubjectToken => "subject_token",
        }
    }
}

/// A subject pattern: exact, or with `*` standing for any run of characters
/// (`system:serviceaccount:payments:*`, `repo:acme/*:ref:refs/heads/main`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectPattern(String);

impl SubjectPattern {
    pub fn new(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.chars().all(|c| c == '*') {
            return Err(format!(
                "subject pattern `{}` would match every subject: name the subjects (a `*` stands for part of one)",
                raw.escape_default()
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `subject` matches: literal characters exactly, `*` any run.
    pub fn matches(&self, subject: &str) -> bool {
        let (p, s) = (self.0.as_bytes(), subject.as_bytes());
        let (mut i, mut j) = (0, 0);
        // The last `*` seen and where in the subject its run ends so far.
        let mut star: Option<(usize, usize)> = None;
        while j < s.len() {
            if i < p.len() && p[i] == b'*' {
                star = Some((i, j));
                i += 1;
            } else if i < p.len() && p[i] == s[j] {
                i += 1;
                j += 1;
            } else if let Some((si, sj)) = star {
                // Let the last `*` take one more character and try again.
                i = si + 1;
                j = sj + 1;
                star = Some((si, sj + 1));
            } else {
                return false;
            }
        }
        p[i..].iter().all(|&c| c == b'*')
    }
}

/// Which client a workload subject becomes, and what it may receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadRule {
    pub subject: SubjectPattern,
    pub client_id: String,
    pub scope: ScopeSet,
}

/// Where an issuer's keys are.
#[derive(Debug, Clone)]
pub enum IssuerKeys {
    /// Fetched (and cached) from this URL under the fetch rules.
    Uri(String),
    /// Read from a file at start.
    Set(Arc<ClientKeySet>),
}

/// An issuer whose signed tokens this server accepts.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    pub issuer: String,
    pub keys: IssuerKeys,
    pub algorithms: Vec<Alg>,
    /// `aud` values that name this server for this issuer.
    pub audiences: Vec<String>,
    pub uses: Vec<Use>,
    /// The longest `exp` may be after `iat` and after now, seconds.
    pub max_lifetime: i64,
    pub workloads: Vec<WorkloadRule>,
    /// ID-JAG: a subject with no linked identity maps to the user with this verified
    /// email address.
    pub link_by_email: bool,
    /// ID-JAG: a subject that maps to nobody becomes a new user.
    pub provision: bool,
}

impl TrustedIssuer {
    pub fn trusted_for(&self, u: Use) -> bool {
        self.uses.contains(&u)
    }

    /// The first workload rule whose pattern matches `subject`.
    pub fn workload_rule(&self, subject: &str) -> Option<&WorkloadRule> {
        self.workloads.iter().find(|r| r.subject.matches(subject))
    }
}

/// Which rule an assertion broke (a metrics label and part of the audit record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Malformed,
    Algorithm,
    Type,
    /// The `iss` is not a trusted issuer.
    Issuer,
    /// The issuer is not trusted for this kind of token.
    Use,
    UnknownKey,
    Key,
    Signature,
    Audience,
    Expired,
    NotYetValid,
    Lifetime,
    Subject,
    Jti,
    Replayed,
    /// ID-JAG: `client_id` missing or another client's.
    Client,
    /// No workload rule or user for the subject.
    Unmapped,
    Scope,
    /// ID-JAG bound to a DPoP key (`cnf.jkt`) without a proof by it.
    Proof,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm",
            Self::Type => "type",
            Self::Issuer => "issuer",
            Self::Use => "use",
            Self::UnknownKey => "unknown_key",
            Self::Key => "key",
            Self::Signature => "signature",
            Self::Audience => "audience",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Lifetime => "lifetime",
            Self::Subject => "subject",
            Self::Jti => "jti",
            Self::Replayed => "replayed",
            Self::Client => "client",
            Self::Unmapped => "unmapped",
            Self::Scope => "scope",
            Self::Proof => "proof",
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

fn malformed(what: &str) -> Refused {
    Refused::new(
        Reason::Malformed,
        format!("the assertion is not a valid JWT: {what}"),
    )
}

/// What kind of assertion its `typ` says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Workload,
    IdJag,
}

/// An assertion split and decoded, not yet verified.
#[derive(Debug)]
pub struct Assertion<'a> {
    alg: Alg,
    kid: Option<String>,
    pub kind: Kind,
    claims: Map<String, Value>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

/// An assertion whose signature and claims passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub kind: Kind,
    pub issuer: String,
    pub subject: String,
    /// To be remembered until `keep_until` (a workload token may have none).
    pub jti: Option<String>,
    pub keep_until: i64,
    /// ID-JAG: the client at this server it was issued for.
    pub client_id: Option<String>,
    /// ID-JAG: the scopes it grants (`None`: it says nothing).
    pub scope: Option<ScopeSet>,
    /// ID-JAG: the resources (RFC 8707) it is for.
    pub resources: Vec<String>,
    /// ID-JAG: the DPoP key thumbprint it is bound to (`cnf.jkt`).
    pub jkt: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

impl<'a> Assertion<'a> {
    /// Splits and decodes `compact`, and checks the header.
    pub fn parse(compact: &'a str) -> Result<Self, Refused> {
        let jws = super::jws::split(compact, MAX_BYTES).map_err(|why| malformed(&why))?;
        let header = &jws.header;
        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
        let alg = Alg::parse(alg_name).ok_or_else(|| {
            Refused::new(
                Reason::Algorithm,
                format!(
                    "the assertion's alg `{}` is not accepted: use one of {} (none and HMAC algorithms are refused)",
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
        let kind = match header.get("typ") {
            None => Kind::Workload,
            Some(Value::String(typ)) => {
                let bare = typ
                    .strip_prefix("application/")
                    .unwrap_or(typ)
                    .to_ascii_lowercase();
                match bare.as_str() {
                    "jwt" => Kind::Workload,
                    ID_JAG_TYP => Kind::IdJag,
                    _ => {
                        return Err(Refused::new(
                            Reason::Type,
                            format!(
                                "an assertion of typ `{}` is not an authorization grant: send an ID-JAG (typ {ID_JAG_TYP}) or a workload identity token (typ JWT)",
                                typ.escape_default()
                            ),
                        ));
                    }
                }
            }
            Some(_) => return Err(malformed("`typ` is not a string")),
        };
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => return Err(malformed("`kid` is not a string")),
        };
        Ok(Self {
            alg,
            kid,
            kind,
            claims: jws.claims,
            signing_input: jws.signing_input,
            signature: jws.signature,
        })
    }

    /// The `iss` claim, unverified: whose keys to verify with.
    pub fn issuer(&self) -> Result<&str, Refused> {
        match self.claims.get("iss") {
            Some(Value::String(s)) if !s.is_empty() => Ok(s),
            _ => Err(Refused::new(Reason::Issuer, "the assertion has no `iss`")),
        }
    }

    /// The use this assertion is put to, for the issuer's trust.
    pub fn purpose(&self) -> Use {
        match self.kind {
            Kind::Workload => Use::Workload,
            Kind::IdJag => Use::IdJag,
        }
    }

    /// Checks that `trusted` may issue this kind of assertion: before any key is
    /// fetched for it.
    pub fn check_use(&self, trusted: &TrustedIssuer) -> Result<(), Refused> {
        if trusted.trusted_for(self.purpose()) {
            return Ok(());
        }
        let message = match self.kind {
            Kind::IdJag => format!(
                "issuer `{}` is not trusted for ID-JAGs",
                trusted.issuer.escape_default()
            ),
            Kind::Workload if trusted.trusted_for(Use::IdJag) => format!(
                "issuer `{}` is trusted for ID-JAGs only, and this is not one (an ID-JAG has typ {ID_JAG_TYP}; an ID token is not an authorization grant)",
                trusted.issuer.escape_default()
            ),
            Kind::Workload => format!(
                "issuer `{}` is not trusted for workload tokens",
                trusted.issuer.escape_default()
            ),
        };
        Err(Refused::new(Reason::Use, message))
    }

    /// The header's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Checks the signature with `keys` and every claim rule; `issuer` is this
    /// server's issuer identifier (an ID-JAG's only audience).
    pub fn verify(
        &self,
        trusted: &TrustedIssuer,
        keys: &ClientKeySet,
        issuer: &str,
        now: i64,
    ) -> Result<Verified, Refused> {
        self.check_use(trusted)?;
        if !trusted.algorithms.contains(&self.alg) {
            let names: Vec<&str> = trusted.algorithms.iter().map(|a| a.as_str()).collect();
            return Err(Refused::new(
                Reason::Algorithm,
                format!(
                    "the assertion's alg {} is not accepted from this issuer: use one of {}",
                    self.alg.as_str(),
                    names.join(", ")
                ),
            ));
        }
        let key = keys.find(self.kid(), self.alg).map_err(|miss| match miss {
            KeyMiss::UnknownKid(kid) => Refused::new(
                Reason::UnknownKey,
                format!("no key of the issuer has kid `{}`", kid.escape_default()),
            ),
            KeyMiss::Unfit(m) | KeyMiss::Ambiguous(m) => Refused::new(Reason::Key, m),
        })?;
        if !key.verify(self.alg, self.signing_input.as_bytes(), &self.signature) {
            return Err(Refused::new(
                Reason::Signature,
                "the assertion's signature does not verify with the issuer's keys",
            ));
        }
        self.check_claims(trusted, issuer, now)
    }

    fn check_claims(
        &self,
        trusted: &TrustedIssuer,
        issuer: &str,
        now: i64,
    ) -> Result<Verified, Refused> {
        let c = &self.claims;
        let id_jag = self.kind == Kind::IdJag;
        if c.get("iss").and_then(Value::as_str) != Some(trusted.issuer.as_str()) {
            return Err(Refused::new(
                Reason::Issuer,
                "the assertion's `iss` is not the trusted issuer",
            ));
        }
        // RFC 7523 §3: the audience names this server. An ID-JAG names it by its
        // issuer identifier alone (draft §3.1), never the token endpoint.
        let wanted: Vec<&str> = if id_jag {
            vec![issuer]
        } else {
            trusted.audiences.iter().map(String::as_str).collect()
        };
        let aud_ok = match c.get("aud") {
            Some(Value::String(a)) => wanted.contains(&a.as_str()),
            Some(Value::Array(list)) => list
                .iter()
                .any(|a| a.as_str().is_some_and(|a| wanted.contains(&a))),
            _ => false,
        };
        if !aud_ok {
            return Err(Refused::new(
                Reason::Audience,
                format!(
                    "the assertion's `aud` must name this server: {}",
                    wanted.join(" or ")
                ),
            ));
        }
        let exp = super::jws::check_times(c, now, CLOCK_SKEW, trusted.max_lifetime, id_jag)
            .map_err(|fault| {
                let message = fault.message("the assertion", trusted.max_lifetime);
                match fault {
                    TimeFault::NotNumber(_) | TimeFault::NoIat => malformed(&message),
                    TimeFault::NoExp | TimeFault::Expired => Refused::new(Reason::Expired, message),
                    TimeFault::NotYetValid | TimeFault::IssuedAhead => {
                        Refused::new(Reason::NotYetValid, message)
                    }
                    TimeFault::TooLong => Refused::new(Reason::Lifetime, message),
                }
            })?;
        let text = |name: &str, reason: Reason| -> Result<Option<String>, Refused> {
            match c.get(name) {
                None => Ok(None),
                Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_ID => Ok(Some(s.clone())),
                Some(_) => Err(Refused::new(
                    reason,
                    format!("the assertion's `{name}` is not a string of 1 to {MAX_ID} characters"),
                )),
            }
        };
        let subject = text("sub", Reason::Subject)?
            .ok_or_else(|| Refused::new(Reason::Subject, "the assertion has no `sub`"))?;
        let jti = text("jti", Reason::Jti)?;
        if id_jag && jti.is_none() {
            return Err(Refused::new(
                Reason::Jti,
                "an ID-JAG needs a `jti`: each one is redeemed once",
            ));
        }
        let client_id = text("client_id", Reason::Client)?;
        if id_jag && client_id.is_none() {
            return Err(Refused::new(
                Reason::Client,
                "an ID-JAG needs `client_id`: the client it was issued for",
            ));
        }
        let scope = match c.get("scope") {
            None => None,
            Some(Value::String(s)) => Some(
                ScopeSet::parse(s)
                    .map_err(|e| Refused::new(Reason::Scope, e.description.into_owned()))?,
            ),
            Some(_) => return Err(malformed("`scope` is not a string")),
        };
        let resources = match c.get("resource") {
            None => Vec::new(),
            Some(Value::String(r)) => vec![r.clone()],
            Some(Value::Array(list)) => list
                .iter()
                .map(|r| r.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| malformed("`resource` is not a string or array of strings"))?,
            Some(_) => return Err(malformed("`resource` is not a string or array of strings")),
        };
        let jkt = match c.get("cnf") {
            None => None,
            Some(cnf) => match cnf.get("jkt") {
                Some(Value::String(j)) => Some(j.clone()),
                None => None,
                Some(_) => return Err(malformed("`cnf.jkt` is not a string")),
            },
        };
        let email = c.get("email").and_then(Value::as_str).map(str::to_owned);
        let email_verified = c.get("email_verified").and_then(Value::as_bool) == Some(true);
        let name = c.get("name").and_then(Value::as_str).map(str::to_owned);
        Ok(Verified {
            kind: self.kind,
            issuer: trusted.issuer.clone(),
            subject,
            jti,
            keep_until: exp.saturating_add(CLOCK_SKEW),
            client_id,
            scope,
            resources,
            jkt,
            email,
            email_verified,
            name,
        })
    }
}

/// The digest under which an authorization grant's `jti` is remembered: per
/// issuer, apart from client assertions and DPoP proofs in the same store.
pub fn replay_key(issuer: &str, jti: &str) -> [u8; 32] {
    let mut input = Vec::with_capacity(24 + issuer.len() + jti.len());
    input.extend_from_slice(b"jwt-bearer-grant\0");
    input.extend_from_slice(&(issuer.len() as u64).to_be_bytes());
    input.extend_from_slice(issuer.as_bytes());
    input.extend_from_slice(jti.as_bytes());
    super::types::sha256(&input)
}

/// The scopes a grant yields: `asked` (all of `offered` when absent) must lie
/// within `offered` — what the rule, the ID-JAG and the client all allow.
pub fn granted_scope(asked: Option<&ScopeSet>, offered: &ScopeSet) -> Result<ScopeSet, Refused> {
    match asked {
        None => Ok(offered.clone()),
        Some(asked) => match asked.difference(offered).next() {
            None => Ok(asked.clone()),
            Some(denied) => Err(Refused::new(
                Reason::Scope,
                format!("the scope `{denied}` is not available through this grant"),
            )),
        },
    }
}

/// The intersection of two scope sets.
pub fn intersection(a: &ScopeSet, b: &ScopeSet) -> ScopeSet {
    ScopeSet::from_trusted(a.iter().filter(|s| b.contains(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_patterns() {
        let p = |s| SubjectPattern::new(s).unwrap();
        assert!(
            p("system:serviceaccount:payments:*").matches("system:serviceaccount:payments:api")
        );
        assert!(
            !p("system:serviceaccount:payments:*").matches("system:serviceaccount:billing:api")
        );
        let gh = p("repo:acme/*:ref:refs/heads/main");
        assert!(gh.matches("repo:acme/web:ref:refs/heads/main"));
        assert!(!gh.matches("repo:acme/web:ref:refs/heads/feature"));
        assert!(!gh.matches("repo:evil/web:ref:refs/heads/main"));
        // A `*` may span separators, and be empty.
        assert!(gh.matches("repo:acme/a:b:ref:refs/heads/main"));
        assert!(p("a*b*c").matches("abc"));
        assert!(p("a*b*c").matches("aXbYbZc"));
        assert!(!p("a*b*c").matches("aXbYbZ"));
        assert!(p("exact").matches("exact"));
        assert!(!p("exact").matches("exactly"));
        assert!(!p("exact").matches("exac"));
        assert!(SubjectPattern::new("*").is_err());
        assert!(SubjectPattern::new("").is_err());
    }

    #[test]
    fn typ_decides_the_kind() {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as B;
        let jwt = |h: &str| format!("{}.{}.c2ln", B.encode(h), B.encode(r#"{"iss":"x"}"#));
        let kind = |h: &str| Assertion::parse(&jwt(h)).map(|a| a.kind);
        assert_eq!(kind(r#"{"alg":"ES256"}"#), Ok(Kind::Workload));
        assert_eq!(kind(r#"{"alg":"ES256","typ":"JWT"}"#), Ok(Kind::Workload));
        assert_eq!(
            kind(r#"{"alg":"ES256","typ":"oauth-id-jag+jwt"}"#),
            Ok(Kind::IdJag)
        );
        let refused = |h: &str| Assertion::parse(&jwt(h)).unwrap_err().reason;
        assert_eq!(refused(r#"{"alg":"ES256","typ":"at+jwt"}"#), Reason::Type);
        assert_eq!(refused(r#"{"alg":"none"}"#), Reason::Algorithm);
        assert_eq!(refused(r#"{"alg":"HS256"}"#), Reason::Algorithm);
        assert_eq!(
            refused(r#"{"alg":"ES256","crit":["x"]}"#),
            Reason::Malformed
        );
    }

    #[test]
    fn scopes_stay_within_the_offer() {
        let s = |x| ScopeSet::parse(x).unwrap();
        assert_eq!(granted_scope(None, &s("a b")).unwrap(), s("a b"));
        assert_eq!(granted_scope(Some(&s("a")), &s("a b")).unwrap(), s("a"));
        assert_eq!(
            granted_scope(Some(&s("a c")), &s("a b"))
                .unwrap_err()
                .reason,
            Reason::Scope
        );
        assert_eq!(intersection(&s("a b c"), &s("b c d")), s("b c"));
    }
}
