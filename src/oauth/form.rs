//! Strict `application/x-www-form-urlencoded` parsing for OAuth endpoints.
//!
//! RFC 6749 §3.1 and §3.2: parameters sent without a value are treated as omitted,
//! and request parameters MUST NOT be included more than once. Generic form parsers
//! silently keep the first or last copy of a duplicate and replace bad UTF-8; this one
//! keeps every copy so the caller can refuse duplicates, and refuses bad UTF-8.

use super::OAuthError;
use percent_encoding::percent_decode;

/// The parameters of one form body, in order, duplicates kept.
#[derive(Debug, Default, Clone)]
pub struct FormParams {
    pairs: Vec<(String, String)>,
}

impl FormParams {
    /// Parses a form body. Fails on bytes that are not UTF-8 after percent-decoding.
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut pairs = Vec::new();
        for part in body.split(|b| *b == b'&') {
            if part.is_empty() {
                continue;
            }
            let (name, value) = match part.iter().position(|b| *b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &[][..]),
            };
            let name = decode(name)?;
            let value = decode(value)?;
            if name.is_empty() {
                return Err(OAuthError::invalid_request(
                    "the request body contains a parameter with an empty name",
                ));
            }
            pairs.push((name, value));
        }
        Ok(Self { pairs })
    }

    /// The single value of `name`; `None` when absent or empty (RFC 6749 §3.1).
    /// A parameter given twice is an `invalid_request`.
    pub fn single(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut found: Option<&str> = None;
        for (n, v) in &self.pairs {
            if n == name {
                if found.is_some() {
                    return Err(OAuthError::invalid_request(format!(
                        "the `{name}` parameter is included more than once"
                    )));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found.filter(|v| !v.is_empty()))
    }

    /// Every non-empty value of a parameter that may repeat (such as RFC 8707 `resource`).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Parameters from already-decoded pairs (a JSON body, for instance).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// Every pair, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// True when no parameter at all was sent.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

fn decode(raw: &[u8]) -> Result<String, OAuthError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_decode(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| OAuthError::invalid_request("the request body is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;

    #[test]
    fn decodes_plus_and_percent() {
        let f = FormParams::parse(b"scope=a+b%20c&x=%C3%A9").unwrap();
        assert_eq!(f.single("scope").unwrap(), Some("a b c"));
        assert_eq!(f.single("x").unwrap(), Some("é"));
    }

    #[test]
    fn duplicate_parameter_is_invalid_request() {
        let f = FormParams::parse(b"grant_type=a&grant_type=b").unwrap();
        let err = f.single("grant_type").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn empty_value_counts_as_absent() {
        let f = FormParams::parse(b"scope=&resource=&resource=https%3A%2F%2Fa").unwrap();
        assert_eq!(f.single("scope").unwrap(), None);
        assert_eq!(f.all("resource").collect::<Vec<_>>(), vec!["https://a"]);
    }

    #[test]
    fn bad_utf8_is_refused() {
        assert!(FormParams::parse(b"a=%FF%FE").is_err());
        assert!(FormParams::parse(b"a=\xff").is_err());
    }

    #[test]
    fn empty_name_is_refused() {
        assert!(FormParams::parse(b"=x").is_err());
    }
}
