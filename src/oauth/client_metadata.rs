//! OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
//! the MCP authorization profile's preferred client identification): a `client_id`
//! that is an `https` URL names a JSON document of client metadata, which the
//! server fetches. This module holds the rules for the URL and the document; the
//! fetching is I/O and lives in `crate::fetch`.

use super::registration::{self, ApplicationType, ClientMetadata, ValidClient};
use super::scope::{ScopeCatalogue, ScopeSet};
use super::types::GrantType;
use std::fmt;
use url::Url;

/// Which rule refused a client ID metadata document, for the person's error page,
/// the client's error description and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The `client_id` URL's own shape (§3).
    ClientIdUrl,
    /// The operator's allow- or deny-list.
    Policy,
    /// The host resolved to, or is, an address outbound fetches may not reach.
    Address,
    /// The fetch itself: connection, TLS, timeout, status, redirect.
    Fetch,
    /// What came back: size, media type, JSON.
    Response,
    /// The document's members (§4).
    Document,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientIdUrl => "client_id URL",
            Self::Policy => "fetch policy",
            Self::Address => "address",
            Self::Fetch => "fetch",
            Self::Response => "response",
            Self::Document => "document",
        }
    }
}

/// A refused document: the rule, and what exactly was wrong. The message names
/// only the URL and the rule's terms, never anything secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub rule: Rule,
    pub message: String,
}

impl Refusal {
    pub fn new(rule: Rule, message: impl Into<String>) -> Self {
        Self {
            rule,
            message: message.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rule: {}", self.rule.as_str(), self.message)
    }
}

/// Whether `client_id` claims to be a metadata document URL (and so is resolved by
/// fetching rather than looked up; a plain `http` one is then refused saying why).
/// Registered ids are base64url and never contain a colon, so the two kinds cannot
/// collide.
pub fn is_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// The longest `client_id` URL taken; longer ones are refused before any fetch.
pub const MAX_URL_LEN: usize = 2048;

/// §3: the `client_id` URL MUST use `https`, MUST have a path, MUST NOT have
/// dot segments, a fragment or credentials. A query is refused too (the draft
/// says SHOULD NOT; refusing keeps one document per URL).
pub fn validate_url(client_id: &str) -> Result<Url, Refusal> {
    let bad = |why: &str| Refusal::new(Rule::ClientIdUrl, format!("`{client_id}` {why}"));
    if client_id.len() > MAX_URL_LEN {
        return Err(Refusal::new(
            Rule::ClientIdUrl,
            format!("the client_id URL is longer than {MAX_URL_LEN} bytes"),
        ));
    }
    let url = Url::parse(client_id).map_err(|e| bad(&format!("is not a valid URL ({e})")))?;
    if url.scheme() != "https" {
        return Err(bad("must use https"));
    }
    // The parser normalises, removing dot segments (`%2e` ones too, as the URL
    // Standard says), so a URL with any is not in normal form and is refused here.
    if url.as_str() != client_id {
        return Err(bad(
            "is not in normal form (write it as it would be fetched: lower-case host, no default port, no dot segments, percent-encoding where needed)",
        ));
    }
    if url.fragment().is_some() {
        return Err(bad("must not contain a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain a username or password"));
    }
    if url.query().is_some() {
        return Err(bad("must not contain a query"));
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(bad("must have a path naming the document"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("needs a host"));
    }
    Ok(url)
}

/// A document that passed validation: the client it describes.
#[derive(Debug, Clone)]
pub struct DocumentClient {
    pub client: ValidClient,
    /// The host of the URL, shown beside the self-asserted name.
    pub host: String,
}

/// Members that would give a public document a secret (§4.1: a document is
/// public, so a shared secret in it is no secret).
const SECRET_MEMBERS: [&str; 2] = ["client_secret", "client_secret_expires_at"];

/// Validates the fetched `body` of the document at `url` (already checked by
/// `validate_url`), against this server's scope catalogue.
pub fn validate_document(
    url: &Url,
    body: &[u8],
    catalogue: &ScopeCatalogue,
) -> Result<DocumentClient, Refusal> {
    let doc = |m: String| Refusal::new(Rule::Document, m);
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Refusal::new(Rule::Response, format!("the body is not JSON: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| Refusal::new(Rule::Response, "the body is not a JSON object"))?;

    let string = |name: &str| -> Result<Option<String>, Refusal> {
        match obj.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(doc(format!("`{name}` must be a string"))),
        }
    };
    let strings = |name: &str| -> Result<Option<Vec<String>>, Refusal> {
        match obj.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| doc(format!("`{name}` must be an array of strings")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(doc(format!("`{name}` must be an array of strings"))),
        }
    };

    let flag = |name: &str| -> Result<bool, Refusal> {
        match obj.get(name) {
            None | Some(serde_json::Value::Null) => Ok(false),
            Some(serde_json::Value::Bool(b)) => Ok(*b),
            Some(_) => Err(doc(format!("`{name}` must be a boolean"))),
        }
    };

    // §4.1: client_id MUST equal the URL it was fetched from, by simple string
    // comparison; otherwise one document could speak for another URL.
    match string("client_id")? {
        Some(id) if id == url.as_str() => {}
        Some(id) => {
            return Err(doc(format!(
                "its client_id `{}` is not the URL it was fetched from",
                id.escape_default()
            )));
        }
        None => return Err(doc("it has no client_id".to_owned())),
    }
    if let Some(m) = SECRET_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
        return Err(doc(format!(
            "it contains `{m}`: a published document cannot hold a secret"
        )));
    }
    // A document cannot hold a secret, so a document client is public (`none`) or
    // proves itself with its own key (`private_key_jwt`, with the public keys in
    // `jwks` or at `jwks_uri`: MCP 2026-07-28).
    let method = string("token_endpoint_auth_method")?;
    let keys = match method.as_deref() {
        None | Some("none") => {
            if obj.contains_key("jwks") || obj.contains_key("jwks_uri") {
                return Err(doc(
                    "it has jwks or jwks_uri but token_endpoint_auth_method is not private_key_jwt"
                        .to_owned(),
                ));
            }
            None
        }
        Some(super::types::PRIVATE_KEY_JWT) => registration::keys_metadata(
            method.as_deref(),
            obj.get("jwks").cloned(),
            string("jwks_uri")?,
        )
        .map_err(|e| doc(e.description.into_owned()))?,
        Some(other) => {
            return Err(doc(format!(
                "token_endpoint_auth_method `{}` is not supported for metadata document clients (use none or private_key_jwt)",
                other.escape_default()
            )));
        }
    };
    let redirect_uris = strings("redirect_uris")?
        .filter(|r| !r.is_empty())
        .ok_or_else(|| doc("it has no redirect_uris".to_owned()))?;
    if let Some(types) = strings("response_types")?
        && types.iter().any(|t| t != "code")
    {
        return Err(doc("response_types may only contain `code`".to_owned()));
    }
    let grant_types = match strings("grant_types")? {
        None => Vec::new(),
        Some(list) => {
            let mut out = Vec::new();
            for g in list {
                match g.parse::<GrantType>() {
                    Ok(GrantType::ClientCredentials) | Err(_) => {
                        return Err(doc(format!(
                            "grant type `{}` is not available to metadata document clients (use authorization_code and refresh_token)",
                            g.escape_default()
                        )));
                    }
                    Ok(g) => out.push(g),
                }
            }
            out
        }
    };
    // As for dynamic registration: an omitted type is inferred from the redirect
    // URIs (native when one uses a private-use scheme).
    let application_type = string("application_type")?
        .map(|t| ApplicationType::parse(&t).map_err(|e| doc(e.description.into_owned())))
        .transpose()?;
    // Scopes this server does not know are ignored rather than refused: one
    // document serves every authorization server the client talks to.
    let scope = string("scope")?.map(|raw| {
        let known = raw
            .split(' ')
            .filter(|s| catalogue.names().contains(s))
            .collect::<Vec<_>>();
        ScopeSet::from_trusted(known).to_string()
    });
    let host = url.host_str().unwrap_or_default().to_owned();
    let meta = ClientMetadata {
        name: string("client_name")?.unwrap_or_else(|| host.clone()),
        description: String::new(),
        website: string("client_uri")?,
        icon_url: string("logo_uri")?,
        redirect_uris,
        post_logout_redirect_uris: strings("post_logout_redirect_uris")?.unwrap_or_default(),
        grant_types,
        scope,
        public: keys.is_none(),
        application_type,
        keys,
        dpop_bound_access_tokens: flag("dpop_bound_access_tokens")?,
        require_pushed_authorization_requests: flag("require_pushed_authorization_requests")?,
    };
    let client = registration::validate(meta, catalogue, false)
        .map_err(|e| doc(e.description.into_owned()))?;
    Ok(DocumentClient { client, host })
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://app.example/oauth/client.json";

    fn cat() -> ScopeCatalogue {
        ScopeCatalogue::new(vec![]).unwrap()
    }

    fn check(body: serde_json::Value) -> Result<DocumentClient, Refusal> {
        let url = validate_url(URL).unwrap();
        validate_document(&url, body.to_string().as_bytes(), &cat())
    }

    #[test]
    fn url_rules() {
        assert!(validate_url(URL).is_ok());
        assert!(validate_url("https://app.example:8443/c").is_ok());
        for bad in [
            "http://app.example/c",
            "https://app.example",
            "https://app.example/",
            "https://app.example/c#x",
            "https://app.example/c?x=1",
            "https://u:p@app.example/c",
            "https://app.example/a/../c",
            "https://app.example/a/./c",
            "https://app.example/a/%2e%2e/c",
            "https://app.example/a/.%2E/c",
            "https://app.example/a/%2E/c",
            "https://APP.example/c",
            "https://app.example:443/c",
            "not a url",
        ] {
            let r = validate_url(bad).unwrap_err();
            assert_eq!(r.rule, Rule::ClientIdUrl, "{bad}");
        }
        assert!(validate_url(&format!("https://a.example/{}", "x".repeat(3000))).is_err());
        assert!(is_document_url(URL));
        assert!(is_document_url("http://app.example/c"));
        assert!(!is_document_url("Jx3abc"));
    }

    #[test]
    fn a_good_document() {
        let c = check(serde_json::json!({
            "client_id": URL,
            "client_name": "Example Agent",
            "client_uri": "https://app.example",
            "logo_uri": "https://app.example/logo.png",
            "redirect_uris": ["http://127.0.0.1/callback", "https://app.example/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": "profile unknown:scope email",
            "application_type": "native",
        }))
        .unwrap();
        assert_eq!(c.host, "app.example");
        assert_eq!(c.client.name, "Example Agent");
        assert_eq!(c.client.scopes.to_string(), "email profile");
        assert_eq!(c.client.application_type, ApplicationType::Native);
        assert_eq!(
            c.client.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
    }

    #[test]
    fn an_untyped_document_with_an_app_scheme_is_native() {
        let c = check(serde_json::json!({
            "client_id": URL,
            "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback", "http://localhost/callback"],
        }))
        .unwrap();
        assert_eq!(c.client.application_type, ApplicationType::Native);
    }

    #[test]
    fn name_defaults_to_the_host() {
        let c = check(serde_json::json!({
            "client_id": URL, "redirect_uris": ["https://app.example/cb"],
        }))
        .unwrap();
        assert_eq!(c.client.name, "app.example");
    }

    #[test]
    fn refused_documents() {
        let base =
            || serde_json::json!({ "client_id": URL, "redirect_uris": ["https://app.example/cb"] });
        let with = |k: &str, v: serde_json::Value| {
            let mut d = base();
            d[k] = v;
            d
        };
        for (doc, needle) in [
            (
                with("client_id", "https://other.example/c".into()),
                "not the URL",
            ),
            (with("client_secret", "s".into()), "client_secret"),
            (
                with("client_secret_expires_at", 0.into()),
                "client_secret_expires_at",
            ),
            (
                with("token_endpoint_auth_method", "client_secret_basic".into()),
                "token_endpoint_auth_method",
            ),
            (
                with("redirect_uris", serde_json::json!([])),
                "redirect_uris",
            ),
            (
                with("redirect_uris", "https://a/cb".into()),
                "redirect_uris",
            ),
            (
                with("grant_types", serde_json::json!(["client_credentials"])),
                "client_credentials",
            ),
            (
                with("response_types", serde_json::json!(["token"])),
                "response_types",
            ),
            (
                with(
                    "redirect_uris",
                    serde_json::json!(["http://evil.example/cb"]),
                ),
                "https",
            ),
            (
                {
                    let mut web = with("redirect_uris", serde_json::json!(["com.example.app:/cb"]));
                    web["application_type"] = "web".into();
                    web
                },
                "native",
            ),
            (with("client_name", 5.into()), "client_name"),
        ] {
            let r = check(doc.clone()).unwrap_err();
            assert_eq!(r.rule, Rule::Document, "{doc}");
            assert!(r.message.contains(needle), "{needle}: {}", r.message);
        }
        let mut no_id = base();
        no_id.as_object_mut().unwrap().remove("client_id");
        assert!(check(no_id).unwrap_err().message.contains("no client_id"));
        let url = validate_url(URL).unwrap();
        assert_eq!(
            validate_document(&url, b"<html>", &cat()).unwrap_err().rule,
            Rule::Response
        );
        assert_eq!(
            validate_document(&url, b"[1]", &cat()).unwrap_err().rule,
            Rule::Response
        );
    }
}
