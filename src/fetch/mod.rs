//! Outbound fetches of URLs that strangers choose (Client ID Metadata Documents,
//! clients' `jwks_uri`), made safe against server-side request forgery:
//!
//! - `https` only, to the operator's allowed hosts (if any) minus the denied ones;
//! - to public addresses only: an IP literal is checked before anything is sent,
//!   a host name after DNS, and the connection goes to exactly the addresses that
//!   were checked (the resolver hands them to the connector; nothing resolves the
//!   name again in between, so DNS rebinding cannot slip a private address in);
//! - no redirects, no proxy from the environment, a total time limit, a body limit,
//!   and `application/json` only.
//!
//! Nothing in `oauth/` imports this module; the rules for what a document says are
//! in `oauth::client_metadata`.

pub mod address;
pub mod cache;

use crate::cidr::Cidr;
use crate::oauth::client_metadata::{Refusal, Rule};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The operator's fetch settings (`--fetch-*`).
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// Client ID Metadata Documents are resolved (and advertised).
    pub documents_enabled: bool,
    /// Hosts (`app.example`, `*.example.com`) or URL prefixes (`https://…`) that may
    /// be fetched; empty: any.
    pub allow: Vec<String>,
    /// The same forms, never fetched; wins over `allow`.
    pub deny: Vec<String>,
    /// Certificates trusted besides the built-in web roots (PEM).
    pub extra_ca: Vec<reqwest::Certificate>,
    /// Networks that may be reached although they are not public.
    pub allow_private: Vec<Cidr>,
    /// The whole fetch, connection to last byte.
    pub timeout: Duration,
    /// The most a response body may hold.
    pub max_bytes: usize,
    /// Bounds on how long a fetched document is used, seconds.
    pub cache_min: i64,
    pub cache_max: i64,
}

/// The default body limit (5 KiB: a client's metadata is a few hundred bytes).
pub const MAX_BYTES: usize = 5 * 1024;

/// Whether `rule` (a host, `*.suffix`, or an `https://` URL prefix) covers `url`.
fn rule_matches(rule: &str, url: &Url) -> bool {
    if rule.starts_with("https://") {
        return url.as_str().starts_with(rule);
    }
    let host = url.host_str().unwrap_or_default();
    match rule.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len()
                && host.ends_with(suffix)
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
        }
        None => host.eq_ignore_ascii_case(rule),
    }
}

/// A fetched body and how long its server said it may be kept.
#[derive(Debug)]
pub struct Fetched {
    pub body: Vec<u8>,
    /// From `Cache-Control` (`max-age`; 0 for `no-store`/`no-cache`); `None` when absent.
    pub max_age: Option<i64>,
}

/// The reason a resolver refused a name, recognised again in reqwest's error chain.
#[derive(Debug)]
struct AddressRefused(String);

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AddressRefused {}

/// Resolves with the system resolver and lets through only permitted addresses;
/// reqwest connects to the addresses returned here and nowhere else.
struct GuardedResolver {
    allow_private: Arc<Vec<Cidr>>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allowed = self.allow_private.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(AddressRefused(format!("{host} has no address"))) as _);
            }
            // Every address must pass: a name that also resolves somewhere private is
            // refused whole rather than trusted to pick the public one.
            for a in &addrs {
                address::check(a.ip(), &allowed).map_err(|why| {
                    Box::new(AddressRefused(format!(
                        "{host} resolved to an address that is not allowed: {why}"
                    ))) as Box<dyn std::error::Error + Send + Sync>
                })?;
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The one HTTP client for outbound fetches.
pub struct Fetcher {
    client: reqwest::Client,
    settings: FetchSettings,
}

impl Fetcher {
    pub fn new(settings: FetchSettings) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // One connection per fetch: a pooled connection would outlive the
            // address check that allowed it.
            .pool_max_idle_per_host(0)
            .user_agent(concat!("Latchkey/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: Arc::new(settings.allow_private.clone()),
            }));
        for cert in &settings.extra_ca {
            builder = builder.add_root_certificate(cert.clone());
        }
        Ok(Self {
            client: builder.build()?,
            settings,
        })
    }

    pub fn settings(&self) -> &FetchSettings {
        &self.settings
    }

    /// The checks made before any packet is sent: scheme, the operator's lists, and
    /// a literal IP address.
    pub fn precheck(&self, url: &Url) -> Result<(), Refusal> {
        if url.scheme() != "https" {
            return Err(Refusal::new(Rule::Fetch, "only https URLs are fetched"));
        }
        if let Some(rule) = self.settings.deny.iter().find(|r| rule_matches(r, url)) {
            return Err(Refusal::new(
                Rule::Policy,
                format!("{url} is denied by the operator's fetch deny-list ({rule})"),
            ));
        }
        if !self.settings.allow.is_empty()
            && !self.settings.allow.iter().any(|r| rule_matches(r, url))
        {
            return Err(Refusal::new(
                Rule::Policy,
                format!("{url} is not on the operator's fetch allow-list"),
            ));
        }
        // reqwest does not ask the resolver about IP literals, so they are judged here.
        let literal = match url.host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            _ => None,
        };
        if let Some(ip) = literal {
            address::check(ip, &self.settings.allow_private)
                .map_err(|why| Refusal::new(Rule::Address, why))?;
        }
        Ok(())
    }

    /// GETs a JSON document from `url` under every rule above.
    pub async fn get_json(&self, url: &Url) -> Result<Fetched, Refusal> {
        self.get(url, &["application/json"]).await
    }

    /// GETs from `url` under every rule above, accepting only `media_types`.
    pub async fn get(&self, url: &Url, media_types: &[&str]) -> Result<Fetched, Refusal> {
        self.precheck(url)?;
        let fetch = |m: String| Refusal::new(Rule::Fetch, m);
        let mut resp = self
            .client
            .get(url.as_str())
            .header(reqwest::header::ACCEPT, media_types.join(", "))
            .send()
            .await
            .map_err(|e| describe(url, &e))?;
        let status = resp.status();
        if status.is_redirection() {
            let to = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("nowhere");
            return Err(fetch(format!(
                "{url} answered {status} redirecting to {to}; redirects are not followed"
            )));
        }
        if status != reqwest::StatusCode::OK {
            return Err(fetch(format!("{url} answered {status}, not 200 OK")));
        }
        let media_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = media_type.split(';').next().unwrap_or("").trim();
        if !media_types.iter().any(|m| essence.eq_ignore_ascii_case(m)) {
            return Err(Refusal::new(
                Rule::Response,
                format!(
                    "{url} answered with Content-Type `{}`, not {}",
                    media_type.escape_default(),
                    media_types.join(" or ")
                ),
            ));
        }
        let too_big = || {
            Refusal::new(
                Rule::Response,
                format!(
                    "{url} answered with more than {} bytes",
                    self.settings.max_bytes
                ),
            )
        };
        if resp
            .content_length()
            .is_some_and(|n| n > self.settings.max_bytes as u64)
        {
            return Err(too_big());
        }
        let max_age = cache_lifetime(resp.headers());
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| describe(url, &e))? {
            if body.len() + chunk.len() > self.settings.max_bytes {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { body, max_age })
    }
}

/// A fetch error in words, with the address refusal recognised as such.
fn describe(url: &Url, e: &reqwest::Error) -> Refusal {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<AddressRefused>() {
            return Refusal::new(Rule::Address, refused.0.clone());
        }
        source = err.source();
    }
    let what = if e.is_timeout() {
        "did not answer in time".to_owned()
    } else if e.is_connect() {
        // The innermost cause says most (refused, TLS, DNS), without the URL again.
        let mut inner: &dyn std::error::Error = e;
        while let Some(next) = inner.source() {
            inner = next;
        }
        format!("could not be reached ({inner})")
    } else {
        format!("could not be read ({e})")
    };
    Refusal::new(Rule::Fetch, format!("{url} {what}"))
}

/// `max-age` of `Cache-Control`; 0 when it forbids reuse.
fn cache_lifetime(headers: &reqwest::header::HeaderMap) -> Option<i64> {
    let value = headers.get(reqwest::header::CACHE_CONTROL)?.to_str().ok()?;
    let mut max_age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(0);
        }
        if let Some(n) = lower.strip_prefix("max-age=") {
            max_age = n.trim_matches('"').parse::<i64>().ok().map(|n| n.max(0));
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_and_deny_rules() {
        let u = Url::parse("https://agent.example.com/c.json").unwrap();
        assert!(rule_matches("agent.example.com", &u));
        assert!(rule_matches("*.example.com", &u));
        assert!(!rule_matches("*.agent.example.com", &u));
        assert!(!rule_matches("example.com", &u));
        assert!(rule_matches("https://agent.example.com/", &u));
        assert!(!rule_matches("https://agent.example.com/other", &u));
        let evil = Url::parse("https://notexample.com/c").unwrap();
        assert!(!rule_matches("*.example.com", &evil));
    }

    #[test]
    fn cache_control() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(cache_lifetime(&h), None);
        h.insert(
            reqwest::header::CACHE_CONTROL,
            "public, max-age=600".parse().unwrap(),
        );
        assert_eq!(cache_lifetime(&h), Some(600));
        h.insert(
            reqwest::header::CACHE_CONTROL,
            "max-age=600, no-store".parse().unwrap(),
        );
        assert_eq!(cache_lifetime(&h), Some(0));
    }
}
