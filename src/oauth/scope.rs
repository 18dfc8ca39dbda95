//! Scopes: the RFC 6749 §3.3 syntax, sets of scopes, and the configured catalogue.

use super::OAuthError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// Is `s` a valid scope-token: `1*( %x21 / %x23-5B / %x5D-7E )` (RFC 6749 §3.3)?
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// A set of scope tokens, kept sorted so that its string form is stable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// Parses a space-delimited `scope` value (RFC 6749 §3.3).
    pub fn parse(raw: &str) -> Result<Self, OAuthError> {
        let mut set = BTreeSet::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            if !is_scope_token(token) {
                return Err(OAuthError::invalid_scope(format!(
                    "`{}` is not a valid scope token",
                    token.escape_default()
                )));
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    /// Builds a set from tokens already known to be valid (stored rows, configuration).
    pub fn from_trusted<I: IntoIterator<Item = S>, S: Into<String>>(tokens: I) -> Self {
        Self(tokens.into_iter().map(Into::into).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The members of `self` that are not in `other`.
    pub fn difference<'a>(&'a self, other: &'a ScopeSet) -> impl Iterator<Item = &'a str> + 'a {
        self.0.difference(&other.0).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

/// OpenID Connect Core §3.1.2.1: a request with this scope is an OpenID request.
pub const OPENID: &str = "openid";
/// OpenID Connect Core §11: asks for a refresh token in an OpenID request.
pub const OFFLINE_ACCESS: &str = "offline_access";
/// The admin API's scope (`/admin/*`). It is not in the catalogue: only an operator
/// gives it to a client (the CLI, or the admin API itself), and only the client
/// credentials grant issues it — never a person's authorization, never open
/// registration, never a metadata document.
pub const ADMIN_SCOPE: &str = "latchkey:admin";
/// Scopes of Latchkey's own management API (`/api/*`).
pub const MANAGEMENT_SCOPES: [&str; 4] = ["apps:read", "apps:write", "grants:read", "grants:write"];

/// One entry of the public scope catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeEntry {
    pub name: String,
    pub description: String,
}

/// The scopes this server knows: built-in ones plus those configured by the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeCatalogue {
    entries: Vec<ScopeEntry>,
    names: ScopeSet,
}

impl ScopeCatalogue {
    /// Scopes every installation has: OpenID Connect's (Core §5.4, §11), user
    /// profile data, and Latchkey's own API.
    pub fn builtin() -> Vec<ScopeEntry> {
        [
            ("openid", "Sign you in with your account (your account id)"),
            (
                "offline_access",
                "Stay signed in to this app while you are away",
            ),
            ("profile", "Read your username and display name"),
            ("email", "Read your email address"),
            ("apps:read", "See the OAuth applications you own"),
            (
                "apps:write",
                "Create, change and delete your OAuth applications",
            ),
            ("grants:read", "See which applications you have authorized"),
            ("grants:write", "Withdraw access you gave to applications"),
        ]
        .into_iter()
        .map(|(name, description)| ScopeEntry {
            name: name.to_owned(),
            description: description.to_owned(),
        })
        .collect()
    }

    /// Builds the catalogue from the built-in scopes followed by `configured`, refusing
    /// invalid names, empty descriptions and duplicates.
    pub fn new(configured: Vec<ScopeEntry>) -> Result<Self, String> {
        let mut entries = Self::builtin();
        let mut seen: BTreeSet<String> = entries.iter().map(|e| e.name.clone()).collect();
        for entry in configured {
            if !is_scope_token(&entry.name) {
                return Err(format!(
                    "scope name `{}` is not a valid RFC 6749 scope token (printable ASCII, no spaces, quotes or backslashes)",
                    entry.name.escape_default()
                ));
            }
            if entry.description.trim().is_empty() {
                return Err(format!("scope `{}` needs a description", entry.name));
            }
            if !seen.insert(entry.name.clone()) {
                return Err(format!(
                    "scope `{}` is defined twice (or redefines a built-in scope)",
                    entry.name
                ));
            }
            entries.push(entry);
        }
        Ok(Self {
            names: ScopeSet(seen),
            entries,
        })
    }

    /// The scope an authorization request without `scope` gets (RFC 6749 §3.3):
    /// what the client registered, minus Latchkey's management scopes, which a
    /// client must ask for by name — managing someone's apps is never a default.
    pub fn default_for(client_scopes: &ScopeSet) -> ScopeSet {
        ScopeSet::from_trusted(
            client_scopes
                .iter()
                .filter(|s| !MANAGEMENT_SCOPES.contains(s)),
        )
    }

    pub fn entries(&self) -> &[ScopeEntry] {
        &self.entries
    }

    pub fn names(&self) -> &ScopeSet {
        &self.names
    }

    /// Checks that every scope in `set` is in the catalogue.
    pub fn check_known(&self, set: &ScopeSet) -> Result<(), OAuthError> {
        match set.difference(&self.names).next() {
            None => Ok(()),
            Some(unknown) => Err(OAuthError::invalid_scope(format!(
                "`{unknown}` is not a scope this server knows"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_token_syntax() {
        assert!(is_scope_token("read:orders"));
        assert!(!is_scope_token(""));
        assert!(!is_scope_token("a b"));
        assert!(!is_scope_token("a\"b"));
        assert!(!is_scope_token("a\\b"));
        assert!(!is_scope_token("é"));
    }

    #[test]
    fn parse_dedups_and_sorts() {
        let s = ScopeSet::parse("b a  b").unwrap();
        assert_eq!(s.to_string(), "a b");
    }

    #[test]
    fn parse_refuses_bad_token() {
        assert!(ScopeSet::parse("ok bad\"one").is_err());
    }

    #[test]
    fn catalogue_refuses_duplicates_and_builtins() {
        let e = |n: &str| ScopeEntry {
            name: n.into(),
            description: "d".into(),
        };
        assert!(ScopeCatalogue::new(vec![e("x"), e("x")]).is_err());
        assert!(ScopeCatalogue::new(vec![e("profile")]).is_err());
        let c = ScopeCatalogue::new(vec![e("x")]).unwrap();
        assert!(c.names().contains("x") && c.names().contains("apps:read"));
        assert!(c.check_known(&ScopeSet::parse("x email").unwrap()).is_ok());
        assert!(c.check_known(&ScopeSet::parse("x nope").unwrap()).is_err());
    }
}
