//! Resource indicators (RFC 8707): the resources an operator lets tokens name, and
//! how a requested `resource` is matched against them.
//!
//! A requested URI matches a configured one when both are the same after the
//! syntax- and scheme-based normalisation of RFC 3986 §6.2.2–6.2.3: scheme and
//! host case, percent-encoding case and unreserved characters, dot segments, the
//! scheme's default port, and an empty path being `/`. So `https://API.example.com`,
//! `https://api.example.com:443` and `https://api.example.com/` (Claude's clients
//! add that slash to origin-only resources) all name `https://api.example.com`.
//! Everything else stays exact: `/mcp` and `/mcp/` are two resources, as they may
//! be two servers. Tokens always carry the configured spelling in `aud`, so a
//! resource server compares one string it knows.

use super::OAuthError;
use url::Url;

/// The normalised form of a resource URI, or what is wrong with it.
pub fn normalize(raw: &str) -> Result<String, String> {
    // The URL parser drops surrounding spaces and inner tabs and newlines; a
    // resource carrying them is malformed rather than silently repaired.
    if raw
        .chars()
        .any(|c| c.is_ascii_whitespace() || c.is_control())
    {
        return Err("must not contain spaces or control characters".into());
    }
    let url = Url::parse(raw).map_err(|_| "must be an absolute URI".to_owned())?;
    if url.fragment().is_some() || raw.contains('#') {
        return Err("must not contain a fragment (RFC 8707 §2)".into());
    }
    // `Url` already lower-cases the scheme and a special scheme's host, drops a
    // default port, resolves dot segments and gives an empty path as `/`; what is
    // left is percent-encoding (§6.2.2.1-2).
    Ok(normalize_percent_encoding(url.as_str()))
}

/// Upper-cases the hex digits of every `%XX` triplet and decodes those that
/// stand for an unreserved character (RFC 3986 §2.3).
fn normalize_percent_encoding(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        let triplet = bytes.get(i + 1..i + 3).filter(|_| bytes[i] == b'%');
        match triplet.and_then(|h| std::str::from_utf8(h).ok()) {
            Some(hex) if hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                let byte = u8::from_str_radix(hex, 16).unwrap_or_default();
                if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                    out.push(char::from(byte));
                } else {
                    out.push('%');
                    out.push_str(&hex.to_ascii_uppercase());
                }
                i += 3;
            }
            _ => {
                // `s` is a serialised URL: ASCII only.
                out.push(char::from(bytes[i]));
                i += 1;
            }
        }
    }
    out
}

/// The configured resources, each with its normalised form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSet {
    list: Vec<(String, String)>,
}

impl ResourceSet {
    /// Checks the operator's list: absolute URIs without fragments, no two naming
    /// the same resource, at least one.
    pub fn new(configured: Vec<String>) -> Result<Self, String> {
        if configured.is_empty() {
            return Err("resources must name at least one resource identifier".into());
        }
        let mut list: Vec<(String, String)> = Vec::with_capacity(configured.len());
        for r in configured {
            let key = normalize(&r).map_err(|e| format!("resource `{r}` {e}"))?;
            if let Some((other, _)) = list.iter().find(|(_, k)| *k == key) {
                return Err(format!(
                    "resources `{other}` and `{r}` name the same resource (RFC 3986 §6.2.2-3 normalisation): list it once"
                ));
            }
            list.push((r, key));
        }
        Ok(Self { list })
    }

    /// The configured spellings, in order.
    pub fn configured(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|(c, _)| c.as_str())
    }

    /// Whether `configured` is one of the configured spellings, exactly.
    pub fn contains(&self, configured: &str) -> bool {
        self.configured().any(|c| c == configured)
    }

    /// The configured spelling of the resource `requested` names.
    pub fn resolve(&self, requested: &str) -> Result<&str, OAuthError> {
        let key = normalize(requested).map_err(|e| {
            OAuthError::invalid_target(format!("resource `{}` {e}", requested.escape_default()))
        })?;
        self.list
            .iter()
            .find(|(_, k)| *k == key)
            .map(|(c, _)| c.as_str())
            .ok_or_else(|| {
                OAuthError::invalid_target(format!(
                    "resource `{}` is not a resource this server issues tokens for",
                    requested.escape_default()
                ))
            })
    }

    /// The configured spellings of every resource in `requested`, repeats dropped.
    pub fn resolve_all(&self, requested: &[String]) -> Result<Vec<String>, OAuthError> {
        let mut out: Vec<String> = Vec::with_capacity(requested.len());
        for r in requested {
            let configured = self.resolve(r)?;
            if !out.iter().any(|o| o == configured) {
                out.push(configured.to_owned());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;

    fn set() -> ResourceSet {
        ResourceSet::new(vec![
            "https://api.example.com".into(),
            "https://mcp.example.com/mcp".into(),
            "http://127.0.0.1:9001/mcp".into(),
        ])
        .unwrap()
    }

    #[test]
    fn equivalent_spellings_resolve_to_the_configured_one() {
        let s = set();
        for r in [
            "https://api.example.com",
            "https://api.example.com/",
            "https://API.example.com",
            "HTTPS://api.example.com:443/",
            "https://api.example.com/./",
        ] {
            assert_eq!(s.resolve(r).unwrap(), "https://api.example.com", "{r}");
        }
        for r in [
            "https://mcp.example.com/mcp",
            "https://MCP.example.com:443/mcp",
            "https://mcp.example.com/%6Dcp",
            "https://mcp.example.com/a/../mcp",
        ] {
            assert_eq!(s.resolve(r).unwrap(), "https://mcp.example.com/mcp", "{r}");
        }
        assert_eq!(
            s.resolve("http://localhost:9001/mcp").unwrap_err().code,
            ErrorCode::InvalidTarget,
            "another host is another resource"
        );
    }

    #[test]
    fn paths_ports_and_schemes_stay_exact() {
        let s = set();
        for r in [
            "https://mcp.example.com/mcp/",
            "https://mcp.example.com/MCP",
            "https://mcp.example.com",
            "https://api.example.com:8443",
            "http://api.example.com",
            "https://api.example.com/v1",
            "https://api.example.com?x=1",
        ] {
            let err = s.resolve(r).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidTarget, "{r}");
            assert!(err.description.contains("not a resource"), "{r}");
        }
    }

    #[test]
    fn malformed_resources_say_why() {
        let s = set();
        for (r, why) in [
            ("not a uri", "spaces"),
            ("/relative", "absolute"),
            ("https://api.example.com#f", "fragment"),
            ("https://api.example.com/#", "fragment"),
            (" https://api.example.com", "spaces"),
            ("https://api.exa\tmple.com", "control"),
        ] {
            let err = s.resolve(r).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidTarget, "{r}");
            assert!(err.description.contains(why), "{r}: {}", err.description);
        }
    }

    #[test]
    fn percent_encoding_is_normalised() {
        assert_eq!(
            normalize("https://a.example/x%2fy%7e%41").unwrap(),
            "https://a.example/x%2Fy~A"
        );
        assert_eq!(
            normalize("https://a.example/100%").unwrap(),
            "https://a.example/100%"
        );
    }

    #[test]
    fn resolve_all_keeps_the_configured_spelling_once() {
        let got = set()
            .resolve_all(&[
                "https://api.example.com/".into(),
                "https://API.example.com".into(),
                "https://mcp.example.com/mcp".into(),
            ])
            .unwrap();
        assert_eq!(
            got,
            vec!["https://api.example.com", "https://mcp.example.com/mcp"]
        );
    }

    #[test]
    fn the_operator_list_is_checked() {
        assert!(ResourceSet::new(vec![]).is_err());
        assert!(ResourceSet::new(vec!["https://a#b".into()]).is_err());
        let twice = ResourceSet::new(vec![
            "https://api.example.com".into(),
            "https://API.example.com/".into(),
        ])
        .unwrap_err();
        assert!(twice.contains("name the same resource"), "{twice}");
        assert!(
            ResourceSet::new(vec![
                "https://a.example/mcp".into(),
                "https://a.example/mcp/".into(),
            ])
            .is_ok()
        );
    }
}
