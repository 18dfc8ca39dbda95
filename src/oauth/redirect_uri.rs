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
        // Private-use schemes for native apps (RFC 8252 §7.1) must contain a period.
        s if s.contains('.') => {}
        s => {
            return Err(format!(
                "redirect URI scheme `{s}` is not allowed: use https, loopback http, or a reverse-domain private-use scheme"
            ));
        }
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
