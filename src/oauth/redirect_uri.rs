//! Redirect URI rules: what may be registered (RFC 9700 §2.1, OAuth 2.1 §2.3.1) and
//! how a requested URI is matched against the registered ones (exact string match,
//! except any port on a loopback `http` URI, RFC 8252 §7.3).

use url::Url;

/// Loopback hosts that may use plain `http` and any port.
fn is_loopback_host(url: &Url) -> bool {
    matches!(
        url.host_str(),
        Some("127.0.0.1") | Some("[::1]") | Some("localhost")
    )
}

/// Schemes that are never a place to send an authorization response: they run
/// code in the page (`javascript`, `vbscript`), make a document of the URI itself
/// (`data`, `blob`, `filesystem`, `view-source`, `about`), read the device (`file`)
/// or are not something a browser navigates to with a response (`ws`, `wss`, `ftp`).
const REFUSED_SCHEMES: &[&str] = &[
    "javascript",
    "vbscript",
    "data",
    "blob",
    "filesystem",
    "view-source",
    "about",
    "file",
    "ws",
    "wss",
    "ftp",
];

/// A private-use scheme for native apps (RFC 8252 §7.1). The RFC asks for
/// reverse-domain names but does not require them, and widely used MCP clients
/// register single-word schemes (Cursor's `cursor://…`), so any scheme of RFC 3986
/// §3.1 syntax is taken, save the dangerous ones. That such a scheme goes to the
/// right app is not something a server can check: PKCE binds the code to the app
/// that started the flow (RFC 8252 §8.1), and the consent page names the scheme.
fn private_use_scheme(raw: &str, scheme: &str) -> Result<(), String> {
    // `Url` lower-cases the scheme; the registered string keeps its own spelling.
    let written = &raw[..scheme.len()];
    let syntax = written.starts_with(|c: char| c.is_ascii_alphabetic())
        && written
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !syntax {
        return Err(format!(
            "redirect URI scheme `{}` is not a URI scheme (RFC 3986 §3.1: a letter, then letters, digits, `+`, `-` or `.`)",
            written.escape_default()
        ));
    }
    if REFUSED_SCHEMES.contains(&scheme) {
        return Err(format!(
            "redirect URI scheme `{scheme}` is not allowed: use https, loopback http, or an app's private-use scheme"
        ));
    }
    if raw[scheme.len() + 1..].trim_start_matches('/').is_empty() {
        return Err(format!(
            "redirect URI `{raw}` names only a scheme: add the path the app listens on (e.g. `{scheme}:/oauth/callback`)"
        ));
    }
    Ok(())
}

/// Where a person approving a request will be sent, as the consent page names it:
/// the host of an `https` or `http` URI; for an app's private-use scheme, the
/// scheme with the authority if any (`cursor://anysphere.cursor-mcp`,
/// `com.example.app:`), so that nobody takes an app for a web site.
pub fn destination(uri: &str) -> String {
    let Ok(url) = Url::parse(uri) else {
        return uri.to_owned();
    };
    match (url.scheme(), url.host_str()) {
        ("http" | "https", Some(host)) => host.to_owned(),
        (scheme, Some(host)) if !host.is_empty() => format!("{scheme}://{host}"),
        (scheme, _) => format!("{scheme}:"),
    }
}

/// Whether `uri` sends the person to an app on their device rather than a web site.
pub fn is_private_use(uri: &str) -> bool {
    Url::parse(uri).is_ok_and(|u| !matches!(u.scheme(), "http" | "https"))
}

/// Validates a redirect URI offered for registration. The error says what is wrong.
pub fn validate_for_registration(raw: &str) -> Result<(), String> {
    let url =
        Url::parse(raw).map_err(|e| format!("redirect URI `{raw}` is not an absolute URL: {e}"))?;
    if raw.contains('#') {
        // A fragment would be dropped by the browser or leak into the client's page.
        return Err(format!("redirect URI `{raw}` must not contain a fragment"));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&url) => {}
        "http" => {
            // Plain http elsewhere exposes codes to the network (RFC 9700 §4.1).
            return Err(format!(
                "redirect URI `{raw}` must use https (plain http is allowed only for 127.0.0.1, [::1] and localhost)"
            ));
        }
        s => private_use_scheme(raw, s)?,
    }
    if raw.contains('*') {
        // Matching is exact, so `*` would never act as a wildcard; refusing it keeps
        // anyone from believing it does.
        return Err(format!("redirect URI `{raw}` must not contain a wildcard"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("redirect URI `{raw}` must not contain credentials"));
    }
    Ok(())
}

/// Does `requested` match the registered URI `registered`?
pub fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    // RFC 8252 §7.3: the port of a loopback redirect URI is chosen at request time.
    let (Ok(reg), Ok(req)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    reg.scheme() == "http"
        && req.scheme() == "http"
        && is_loopback_host(&reg)
        && reg.host_str() == req.host_str()
        && reg.path() == req.path()
        && reg.query() == req.query()
        && reg.fragment().is_none()
        && req.fragment().is_none()
        && req.username().is_empty()
        && req.password().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_rules() {
        assert!(validate_for_registration("https://app.example/cb").is_ok());
        assert!(validate_for_registration("http://127.0.0.1/cb").is_ok());
        assert!(validate_for_registration("http://localhost:3000/cb").is_ok());
        assert!(validate_for_registration("http://[::1]/cb").is_ok());
        assert!(validate_for_registration("com.example.app:/cb").is_ok());
        assert!(validate_for_registration("http://app.example/cb").is_err());
        assert!(validate_for_registration("https://app.example/cb#x").is_err());
        assert!(validate_for_registration("/relative").is_err());
        assert!(validate_for_registration("javascript:alert(1)").is_err());
    }

    #[test]
    fn private_use_schemes() {
        for ok in [
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "com.example.app:/cb",
            "vscode://vscode.github-authentication/did-authenticate",
            "My-App+x.1:/cb",
        ] {
            assert!(validate_for_registration(ok).is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "vbscript:msgbox(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "blob:https://a.example/x",
            "about:blank",
            "wss://a.example/cb",
            "ftp://a.example/cb",
            "cursor:",
            "cursor://",
            "cursor://anysphere.cursor-mcp/cb#frag",
            "cursor://*.cursor-mcp/cb",
            "1app:/cb",
            "my_app:/cb",
            "http://app.example/cb",
        ] {
            assert!(validate_for_registration(bad).is_err(), "{bad}");
        }
        assert!(
            validate_for_registration("cursor:")
                .unwrap_err()
                .contains("only a scheme")
        );
    }

    #[test]
    fn destination_names_the_scheme_of_an_app() {
        assert_eq!(destination("https://app.example:8443/cb"), "app.example");
        assert_eq!(destination("http://127.0.0.1:9/cb"), "127.0.0.1");
        assert_eq!(
            destination("cursor://anysphere.cursor-mcp/oauth/callback"),
            "cursor://anysphere.cursor-mcp"
        );
        assert_eq!(destination("com.example.app:/cb"), "com.example.app:");
        assert!(is_private_use("cursor://x/cb"));
        assert!(!is_private_use("https://x/cb"));
        assert!(validate_for_registration("https://user:pw@app.example/cb").is_err());
    }

    #[test]
    fn exact_match_outside_loopback() {
        assert!(matches("https://a.example/cb", "https://a.example/cb"));
        assert!(!matches("https://a.example/cb", "https://a.example/cb/"));
        assert!(!matches("https://a.example/cb", "https://a.example:444/cb"));
        assert!(!matches("https://a.example/cb", "https://A.example/cb"));
    }

    #[test]
    fn loopback_any_port() {
        assert!(matches("http://127.0.0.1/cb", "http://127.0.0.1:53211/cb"));
        assert!(matches("http://localhost:80/cb", "http://localhost:9/cb"));
        assert!(matches("http://[::1]/cb", "http://[::1]:8000/cb"));
        assert!(!matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5321/other"
        ));
        assert!(!matches("http://127.0.0.1/cb", "http://localhost:5321/cb"));
        assert!(!matches(
            "http://127.0.0.1/cb?a=1",
            "http://127.0.0.1:1/cb?a=2"
        ));
    }
}
