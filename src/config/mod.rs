//! Settings: read once at start from flags, then `LATCHKEY_*` environment variables,
//! then an optional `latchkey.toml`, then defaults; validated, then passed explicitly.

pub mod brand;
pub mod limits;

use crate::cidr::Cidr;
use crate::fetch::FetchSettings;
use crate::keys::Alg;
use crate::oauth::resource::ResourceSet;
use crate::oauth::scope::{ScopeCatalogue, ScopeEntry};
pub use crate::store::DatabaseUrl;
use brand::{BrandArgs, BrandSettings};
use limits::{Limits, limit_setting};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use url::Url;

/// A configuration value that cannot be used; the message names the setting.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// Settings flags shared by every CLI command (each also readable from the environment).
#[derive(clap::Args, Debug, Default, Clone)]
pub struct SettingsArgs {
    /// Configuration file [default: ./latchkey.toml when it exists]
    #[arg(long, global = true, env = "LATCHKEY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, global = true, env = "LATCHKEY_BIND", value_name = "ADDR")]
    pub bind: Option<String>,
    /// Issuer URL put in tokens and metadata [default: http:// + bind address]
    #[arg(long, global = true, env = "LATCHKEY_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,
    /// sqlite://PATH or postgres://… (DATABASE_URL is read too) [default: sqlite://latchkey.db]
    #[arg(long, global = true, env = "LATCHKEY_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Directory holding the signing keys [default: ./keys]
    #[arg(long, global = true, env = "LATCHKEY_KEYS_DIR", value_name = "DIR")]
    pub keys_dir: Option<PathBuf>,
    /// Access token lifetime in seconds [default: 3600]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_ACCESS_TOKEN_TTL",
        value_name = "SECONDS"
    )]
    pub access_token_ttl: Option<u64>,
    /// OpenID Connect ID token lifetime in seconds [default: 3600]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_ID_TOKEN_TTL",
        value_name = "SECONDS"
    )]
    pub id_token_ttl: Option<u64>,
    /// Refresh token lifetime in seconds [default: 2592000]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_REFRESH_TOKEN_TTL",
        value_name = "SECONDS"
    )]
    pub refresh_token_ttl: Option<u64>,
    /// Authorization code lifetime in seconds [default: 60]
    #[arg(long, global = true, env = "LATCHKEY_CODE_TTL", value_name = "SECONDS")]
    pub code_ttl: Option<u64>,
    /// Seconds a rotated-out refresh token may be retried once [default: 0]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_REFRESH_REUSE_INTERVAL",
        value_name = "SECONDS"
    )]
    pub refresh_reuse_interval: Option<u64>,
    /// JWS algorithm for access tokens [default: RS256]
    #[arg(long, global = true, env = "LATCHKEY_SIGNING_ALG", value_name = "ALG")]
    pub signing_alg: Option<String>,
    /// Dynamic client registration: open, token (initial access token) or disabled [default: open]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_REGISTRATION",
        value_name = "POLICY"
    )]
    pub registration: Option<String>,
    /// Token endpoint limit per address and per client, N/period or off [default: 6000/1m]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_RATE_LIMIT_TOKEN",
        value_name = "LIMIT"
    )]
    pub rate_limit_token: Option<String>,
    /// Registration limit per address, N/period or off [default: 20/15m]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_RATE_LIMIT_REGISTER",
        value_name = "LIMIT"
    )]
    pub rate_limit_register: Option<String>,
    /// Sign-in limit per address and per username, N/period or off [default: 10/1m]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_RATE_LIMIT_LOGIN",
        value_name = "LIMIT"
    )]
    pub rate_limit_login: Option<String>,
    /// Revocation limit per address and per client, N/period or off [default: 600/1m]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_RATE_LIMIT_REVOKE",
        value_name = "LIMIT"
    )]
    pub rate_limit_revoke: Option<String>,
    /// Comma-separated CIDRs whose X-Forwarded-For is believed [default: none]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_TRUSTED_PROXIES",
        value_name = "CIDRS"
    )]
    pub trusted_proxies: Option<String>,
    /// The product's sign-in page: people who must sign in are sent there with a login_challenge [default: Latchkey's own page]
    #[arg(long, global = true, env = "LATCHKEY_LOGIN_URL", value_name = "URL")]
    pub login_url: Option<String>,
    /// The product's consent page, sent a consent_challenge [default: Latchkey's own page]
    #[arg(long, global = true, env = "LATCHKEY_CONSENT_URL", value_name = "URL")]
    pub consent_url: Option<String>,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT [default: 10]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_SHUTDOWN_GRACE",
        value_name = "SECONDS"
    )]
    pub shutdown_grace: Option<u64>,
    /// Open connections served at once; more wait until one closes [default: 1024]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_MAX_CONNECTIONS",
        value_name = "N"
    )]
    pub max_connections: Option<u64>,
    /// Serve Prometheus metrics at GET /metrics on this separate address [default: off]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_METRICS_BIND",
        value_name = "ADDR"
    )]
    pub metrics_bind: Option<String>,
    #[command(flatten)]
    pub brand: BrandArgs,
    #[command(flatten)]
    pub fetch: FetchArgs,
}

/// Outbound fetches of Client ID Metadata Documents (see `fetch`).
#[derive(clap::Args, Debug, Default, Clone)]
pub struct FetchArgs {
    /// Resolve client_ids that are https URLs by fetching their metadata document [default: true]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_CLIENT_ID_METADATA_DOCUMENTS",
        value_name = "BOOL"
    )]
    pub client_id_metadata_documents: Option<bool>,
    /// Comma-separated hosts (app.example, *.example.com) or https:// URL prefixes that may be fetched [default: any]
    #[arg(long, global = true, env = "LATCHKEY_FETCH_ALLOW", value_name = "LIST")]
    pub fetch_allow: Option<String>,
    /// Comma-separated hosts or https:// URL prefixes that are never fetched
    #[arg(long, global = true, env = "LATCHKEY_FETCH_DENY", value_name = "LIST")]
    pub fetch_deny: Option<String>,
    /// PEM file of CA certificates trusted for fetches besides the built-in web roots
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_FETCH_EXTRA_CA",
        value_name = "FILE"
    )]
    pub fetch_extra_ca: Option<PathBuf>,
    /// Comma-separated CIDRs fetches may reach although they are not public [default: none]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_FETCH_ALLOW_PRIVATE",
        value_name = "CIDRS"
    )]
    pub fetch_allow_private: Option<String>,
    /// Seconds a whole fetch may take [default: 5]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_FETCH_TIMEOUT",
        value_name = "SECONDS"
    )]
    pub fetch_timeout: Option<u64>,
    /// Shortest time a fetched document is used, whatever its Cache-Control [default: 300]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_FETCH_CACHE_MIN",
        value_name = "SECONDS"
    )]
    pub fetch_cache_min: Option<u64>,
    /// Longest time a fetched document is used [default: 86400]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_FETCH_CACHE_MAX",
        value_name = "SECONDS"
    )]
    pub fetch_cache_max: Option<u64>,
}

/// Who may use `POST /oauth/register`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationPolicy {
    /// Anyone (rate-limited).
    Open,
    /// Callers with an initial access token (`latchkey clients initial-token`).
    Token,
    /// Nobody: the endpoint answers 403 and discovery does not advertise it.
    Disabled,
}

impl RegistrationPolicy {
    fn parse(raw: &str) -> Result<Self, ConfigError> {
        match raw {
            "open" => Ok(Self::Open),
            "token" => Ok(Self::Token),
            "disabled" => Ok(Self::Disabled),
            other => Err(ConfigError(format!(
                "registration `{}` is not one of open, token, disabled",
                other.escape_default()
            ))),
        }
    }
}

/// The optional TOML file. Unknown keys are errors, so a typo never goes unnoticed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<String>,
    issuer: Option<String>,
    database_url: Option<String>,
    keys_dir: Option<PathBuf>,
    access_token_ttl: Option<u64>,
    id_token_ttl: Option<u64>,
    refresh_token_ttl: Option<u64>,
    code_ttl: Option<u64>,
    refresh_reuse_interval: Option<u64>,
    session_idle_timeout: Option<u64>,
    session_lifetime: Option<u64>,
    key_poll_interval: Option<u64>,
    signing_alg: Option<String>,
    registration: Option<String>,
    rate_limit_token: Option<String>,
    rate_limit_register: Option<String>,
    rate_limit_login: Option<String>,
    rate_limit_revoke: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    login_url: Option<String>,
    consent_url: Option<String>,
    #[serde(default)]
    scopes: Vec<ScopeEntry>,
    resources: Option<Vec<String>>,
    default_audience: Option<String>,
    product_name: Option<String>,
    logo_url: Option<String>,
    accent_color: Option<String>,
    support_url: Option<String>,
    terms_url: Option<String>,
    privacy_url: Option<String>,
    brand_dir: Option<PathBuf>,
    templates_dir: Option<PathBuf>,
    locale: Option<String>,
    client_id_metadata_documents: Option<bool>,
    fetch_allow: Option<Vec<String>>,
    fetch_deny: Option<Vec<String>>,
    fetch_extra_ca: Option<PathBuf>,
    fetch_allow_private: Option<Vec<String>>,
    fetch_timeout: Option<u64>,
    fetch_cache_min: Option<u64>,
    fetch_cache_max: Option<u64>,
    shutdown_grace: Option<u64>,
    shutdown_delay: Option<u64>,
    header_timeout: Option<u64>,
    max_connections: Option<u64>,
    metrics_bind: Option<String>,
    metrics_public: Option<bool>,
    audit_retention: Option<u64>,
}

/// Parses the `signing_alg` setting.
fn parse_signing_alg(raw: &str) -> Result<Alg, ConfigError> {
    Alg::parse(raw).ok_or_else(|| {
        ConfigError(format!(
            "signing_alg `{}` is not supported (supported: RS256, ES256, EdDSA)",
            raw.escape_default()
        ))
    })
}

impl Settings {
    /// The longest lifetime of anything signed with the keys: a retired key stays
    /// published this long, so every token it signed can still be verified.
    pub fn signed_token_ttl(&self) -> i64 {
        self.access_token_ttl.max(self.id_token_ttl)
    }
}

/// Validated settings, loaded once and passed to whoever needs them.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    /// Issuer URL without a trailing slash.
    pub issuer: String,
    pub database: DatabaseUrl,
    pub keys_dir: PathBuf,
    pub access_token_ttl: i64,
    /// OpenID Connect ID token lifetime, seconds.
    pub id_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub code_ttl: i64,
    /// 0 disables the retry: any rotated-out refresh token revokes its family.
    pub refresh_reuse_interval: i64,
    /// A session unused this long ends.
    pub session_idle_timeout: i64,
    /// A session ends this long after sign-in, however active.
    pub session_lifetime: i64,
    /// How often each instance looks at the keys directory for changes, seconds.
    pub key_poll_interval: u64,
    /// Encrypts key files at rest; from `LATCHKEY_KEY_ENCRYPTION_KEY` only (never a
    /// flag, which `ps` would show, nor the config file, which sits beside the keys).
    pub key_encryption: Option<crate::keys::Kek>,
    /// Algorithm for newly generated keys (first start, `keys rotate`).
    pub signing_alg: Alg,
    pub scopes: ScopeCatalogue,
    /// RFC 8707 resource identifiers tokens may be issued for.
    pub resources: ResourceSet,
    pub default_audience: String,
    pub registration: RegistrationPolicy,
    pub limits: Limits,
    /// Peers whose `X-Forwarded-For` names the caller.
    pub trusted_proxies: Vec<Cidr>,
    /// Product name, logo, colours and links on the pages.
    pub brand: BrandSettings,
    /// Outbound fetches (Client ID Metadata Documents).
    pub fetch: FetchSettings,
    /// Delegated sign-in: the product's page that answers login challenges.
    pub login_url: Option<String>,
    /// Delegated consent: the product's page that answers consent challenges.
    pub consent_url: Option<String>,
    /// Connection cap, header timeout and shutdown grace of the listener.
    pub connections: crate::server::ConnectionLimits,
    /// Where `GET /metrics` is served on its own listener, if anywhere.
    pub metrics_bind: Option<SocketAddr>,
    /// Serve `GET /metrics` on the public listener too (explicit opt-in).
    pub metrics_public: bool,
    /// Audit records older than this many seconds are deleted.
    pub audit_retention: i64,
}

/// A page of the product the browser is sent to (`login_url`, `consent_url`):
/// https, or http on a loopback host for development; no fragment, since the
/// challenge is added to its query.
fn product_page(name: &str, raw: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let ok = Url::parse(&raw).is_ok_and(|u| {
        let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        u.fragment().is_none()
            && u.host_str().is_some()
            && (u.scheme() == "https" || (u.scheme() == "http" && loopback))
    });
    if !ok {
        return Err(ConfigError(format!(
            "{name} `{}` must be an https URL (http only on a loopback host) without a fragment",
            raw.escape_default()
        )));
    }
    Ok(Some(raw))
}

/// A list setting: comma-separated from a flag or the environment, an array in the
/// file.
fn list_setting(arg: Option<&str>, file: Option<Vec<String>>) -> Vec<String> {
    match (arg, file) {
        (Some(list), _) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        (None, Some(list)) => list,
        (None, None) => Vec::new(),
    }
}

/// The hosts and URL prefixes of `fetch_allow` / `fetch_deny`.
fn fetch_rules(name: &str, rules: Vec<String>) -> Result<Vec<String>, ConfigError> {
    for r in &rules {
        let ok = if r.starts_with("https://") {
            Url::parse(r).is_ok()
        } else {
            let host = r.strip_prefix("*.").unwrap_or(r);
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        };
        if !ok {
            return Err(ConfigError(format!(
                "{name}: `{}` is neither a host name (app.example, *.example.com) nor an https:// URL prefix",
                r.escape_default()
            )));
        }
    }
    Ok(rules.into_iter().map(|r| r.to_ascii_lowercase()).collect())
}

fn fetch_settings(args: &FetchArgs, file: &mut FileConfig) -> Result<FetchSettings, ConfigError> {
    let extra_ca = match args.fetch_extra_ca.clone().or(file.fetch_extra_ca.take()) {
        None => Vec::new(),
        Some(path) => {
            let pem = std::fs::read(&path).map_err(|e| {
                ConfigError(format!(
                    "fetch_extra_ca: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                ConfigError(format!(
                    "fetch_extra_ca: {} is not a PEM certificate file: {e}",
                    path.display()
                ))
            })?;
            if certs.is_empty() {
                return Err(ConfigError(format!(
                    "fetch_extra_ca: {} holds no certificate",
                    path.display()
                )));
            }
            certs
        }
    };
    let allow_private = list_setting(
        args.fetch_allow_private.as_deref(),
        file.fetch_allow_private.take(),
    )
    .iter()
    .map(|c| Cidr::parse(c).map_err(|e| ConfigError(format!("fetch_allow_private: {e}"))))
    .collect::<Result<Vec<_>, _>>()?;
    let timeout = seconds(
        "fetch_timeout",
        args.fetch_timeout,
        file.fetch_timeout,
        5,
        1..=30,
        "",
    )?;
    let cache_min = seconds(
        "fetch_cache_min",
        args.fetch_cache_min,
        file.fetch_cache_min,
        300,
        0..=86_400,
        "",
    )?;
    let cache_max = seconds(
        "fetch_cache_max",
        args.fetch_cache_max,
        file.fetch_cache_max,
        86_400,
        1..=604_800,
        "",
    )?;
    if cache_min > cache_max {
        return Err(ConfigError(format!(
            "fetch_cache_min {cache_min} is above fetch_cache_max {cache_max}"
        )));
    }
    Ok(FetchSettings {
        documents_enabled: args
            .client_id_metadata_documents
            .or(file.client_id_metadata_documents)
            .unwrap_or(true),
        allow: fetch_rules(
            "fetch_allow",
            list_setting(args.fetch_allow.as_deref(), file.fetch_allow.take()),
        )?,
        deny: fetch_rules(
            "fetch_deny",
            list_setting(args.fetch_deny.as_deref(), file.fetch_deny.take()),
        )?,
        extra_ca,
        allow_private,
        timeout: std::time::Duration::from_secs(timeout as u64),
        max_bytes: crate::fetch::MAX_BYTES,
        cache_min,
        cache_max,
    })
}

const MAX_ACCESS_TOKEN_TTL: u64 = 86_400;

/// A duration setting: flag/environment, then file, then default, within `range`.
fn seconds(
    name: &str,
    arg: Option<u64>,
    file: Option<u64>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
    why: &str,
) -> Result<i64, ConfigError> {
    let value = arg.or(file).unwrap_or(default);
    if !range.contains(&value) {
        return Err(ConfigError(format!(
            "{name} {value} is out of range: use {} to {} seconds{why}",
            range.start(),
            range.end()
        )));
    }
    Ok(value as i64)
}

impl Settings {
    /// Merges flags/environment (`args`), the TOML file and defaults, and validates.
    pub fn load(args: &SettingsArgs) -> Result<Self, ConfigError> {
        let file = read_file_config(args.config.as_deref())?;
        // DATABASE_URL is the conventional fallback after LATCHKEY_DATABASE_URL.
        let env_database_url = std::env::var("DATABASE_URL").ok().filter(|v| !v.is_empty());
        let mut settings = Self::merge(args, file, env_database_url)?;
        if let Ok(secret) = std::env::var(crate::keys::sealed::ENV)
            && !secret.is_empty()
        {
            settings.key_encryption =
                Some(crate::keys::Kek::from_secret(&secret).map_err(ConfigError)?);
        }
        Ok(settings)
    }

    fn merge(
        args: &SettingsArgs,
        mut file: FileConfig,
        env_database_url: Option<String>,
    ) -> Result<Self, ConfigError> {
        let fetch = fetch_settings(&args.fetch, &mut file)?;
        let bind_raw = args
            .bind
            .clone()
            .or(file.bind)
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let bind: SocketAddr = bind_raw.parse().map_err(|_| {
            ConfigError(format!(
                "bind `{bind_raw}` is not a socket address such as 127.0.0.1:8080 or [::]:8080"
            ))
        })?;

        let issuer_raw = args
            .issuer
            .clone()
            .or(file.issuer)
            .unwrap_or_else(|| format!("http://{bind}"));
        let issuer = validate_issuer(&issuer_raw)?;

        let database_raw = args
            .database_url
            .clone()
            .or(env_database_url)
            .or(file.database_url)
            .unwrap_or_else(|| "sqlite://latchkey.db".to_owned());
        let database = DatabaseUrl::parse(&database_raw).map_err(ConfigError)?;

        let keys_dir = args
            .keys_dir
            .clone()
            .or(file.keys_dir)
            .unwrap_or_else(|| PathBuf::from("keys"));

        let ttl = seconds(
            "access_token_ttl",
            args.access_token_ttl,
            file.access_token_ttl,
            3600,
            1..=MAX_ACCESS_TOKEN_TTL,
            " (access tokens cannot be recalled from resource servers, so keep them short)",
        )?;
        let id_token_ttl = seconds(
            "id_token_ttl",
            args.id_token_ttl,
            file.id_token_ttl,
            3600,
            1..=86_400,
            " (an ID token proves a sign-in; relying parties keep their own session)",
        )?;
        let refresh_token_ttl = seconds(
            "refresh_token_ttl",
            args.refresh_token_ttl,
            file.refresh_token_ttl,
            2_592_000,
            60..=31_536_000,
            "",
        )?;
        let code_ttl = seconds(
            "code_ttl",
            args.code_ttl,
            file.code_ttl,
            60,
            1..=600,
            " (RFC 9700 §4.1: codes should live minutes at most)",
        )?;
        let refresh_reuse_interval = seconds(
            "refresh_reuse_interval",
            args.refresh_reuse_interval,
            file.refresh_reuse_interval,
            0,
            0..=300,
            "",
        )?;
        let session_idle_timeout = seconds(
            "session_idle_timeout",
            None,
            file.session_idle_timeout,
            7_200,
            60..=2_592_000,
            "",
        )?;
        let session_lifetime = seconds(
            "session_lifetime",
            None,
            file.session_lifetime,
            86_400,
            60..=31_536_000,
            "",
        )?;
        let key_poll_interval = seconds(
            "key_poll_interval",
            None,
            file.key_poll_interval,
            5,
            1..=300,
            "",
        )?;

        let shutdown_grace = seconds(
            "shutdown_grace",
            args.shutdown_grace,
            file.shutdown_grace,
            10,
            0..=3_600,
            "",
        )?;
        let shutdown_delay = seconds("shutdown_delay", None, file.shutdown_delay, 0, 0..=600, "")?;
        let header_timeout = seconds(
            "header_timeout",
            None,
            file.header_timeout,
            10,
            1..=300,
            " (slow clients holding connections open are cut off after it)",
        )?;
        let max_connections = args
            .max_connections
            .or(file.max_connections)
            .unwrap_or(1024);
        if !(1..=1_000_000).contains(&max_connections) {
            return Err(ConfigError(format!(
                "max_connections {max_connections} is out of range: use 1 to 1000000"
            )));
        }
        let connections = crate::server::ConnectionLimits {
            max_connections: max_connections as usize,
            header_timeout: std::time::Duration::from_secs(header_timeout as u64),
            shutdown_delay: std::time::Duration::from_secs(shutdown_delay as u64),
            shutdown_grace: std::time::Duration::from_secs(shutdown_grace as u64),
        };
        let metrics_bind = match args.metrics_bind.clone().or(file.metrics_bind) {
            None => None,
            Some(raw) if raw.is_empty() || raw == "off" => None,
            Some(raw) => Some(raw.parse::<SocketAddr>().map_err(|_| {
                ConfigError(format!(
                    "metrics_bind `{raw}` is not a socket address such as 127.0.0.1:9090"
                ))
            })?),
        };
        if metrics_bind == Some(bind) {
            return Err(ConfigError(format!(
                "metrics_bind {bind} is the public address: choose another, or set metrics_public = true to serve /metrics there"
            )));
        }
        let metrics_public = file.metrics_public.unwrap_or(false);
        let audit_retention = seconds(
            "audit_retention",
            None,
            file.audit_retention,
            7_776_000,
            86_400..=315_360_000,
            " (one day to ten years)",
        )?;

        let signing_alg = parse_signing_alg(
            args.signing_alg
                .as_deref()
                .or(file.signing_alg.as_deref())
                .unwrap_or("RS256"),
        )?;

        let scopes = ScopeCatalogue::new(file.scopes).map_err(ConfigError)?;

        let resources = ResourceSet::new(file.resources.unwrap_or_else(|| vec![issuer.clone()]))
            .map_err(|e| {
                ConfigError(format!("{e} (RFC 8707: absolute URIs without a fragment)"))
            })?;
        let default_audience = match file.default_audience {
            Some(a) => a,
            None => resources.configured().next().unwrap_or_default().to_owned(),
        };
        if !resources.contains(&default_audience) {
            return Err(ConfigError(format!(
                "default_audience `{default_audience}` must be one of the configured resources"
            )));
        }

        let registration = RegistrationPolicy::parse(
            args.registration
                .as_deref()
                .or(file.registration.as_deref())
                .unwrap_or("open"),
        )?;
        let limits = Limits {
            token: limit_setting(
                "token",
                args.rate_limit_token.as_deref(),
                file.rate_limit_token.as_deref(),
                limits::DEFAULT_TOKEN,
            )?,
            register: limit_setting(
                "register",
                args.rate_limit_register.as_deref(),
                file.rate_limit_register.as_deref(),
                limits::DEFAULT_REGISTER,
            )?,
            login: limit_setting(
                "login",
                args.rate_limit_login.as_deref(),
                file.rate_limit_login.as_deref(),
                limits::DEFAULT_LOGIN,
            )?,
            revoke: limit_setting(
                "revoke",
                args.rate_limit_revoke.as_deref(),
                file.rate_limit_revoke.as_deref(),
                limits::DEFAULT_REVOKE,
            )?,
        };
        let proxies = list_setting(args.trusted_proxies.as_deref(), file.trusted_proxies);
        let trusted_proxies = proxies
            .iter()
            .map(|p| Cidr::parse(p).map_err(|e| ConfigError(format!("trusted_proxies: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;

        let login_url = product_page("login_url", args.login_url.clone().or(file.login_url))?;
        let consent_url =
            product_page("consent_url", args.consent_url.clone().or(file.consent_url))?;

        let b = &args.brand;
        let brand = BrandSettings::validate(BrandArgs {
            product_name: b.product_name.clone().or(file.product_name),
            logo_url: b.logo_url.clone().or(file.logo_url),
            accent_color: b.accent_color.clone().or(file.accent_color),
            support_url: b.support_url.clone().or(file.support_url),
            terms_url: b.terms_url.clone().or(file.terms_url),
            privacy_url: b.privacy_url.clone().or(file.privacy_url),
            brand_dir: b.brand_dir.clone().or(file.brand_dir),
            templates_dir: b.templates_dir.clone().or(file.templates_dir),
            locale: b.locale.clone().or(file.locale),
        })?;

        Ok(Self {
            bind,
            issuer,
            database,
            keys_dir,
            access_token_ttl: ttl,
            id_token_ttl,
            refresh_token_ttl,
            code_ttl,
            refresh_reuse_interval,
            session_idle_timeout,
            session_lifetime,
            key_poll_interval: key_poll_interval as u64,
            key_encryption: None,
            signing_alg,
            scopes,
            resources,
            default_audience,
            registration,
            limits,
            trusted_proxies,
            brand,
            fetch,
            login_url,
            consent_url,
            connections,
            metrics_bind,
            metrics_public,
            audit_retention,
        })
    }
}

fn read_file_config(explicit: Option<&Path>) -> Result<FileConfig, ConfigError> {
    let (path, must_exist) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from("latchkey.toml"), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
            return Ok(FileConfig::default());
        }
        Err(e) => {
            return Err(ConfigError(format!(
                "cannot read config file {}: {e}",
                path.display()
            )));
        }
    };
    toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))
}

/// RFC 8414 §2: an http(s) URL with no query or fragment.
fn validate_issuer(raw: &str) -> Result<String, ConfigError> {
    let url = Url::parse(raw)
        .map_err(|e| ConfigError(format!("issuer `{raw}` is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError(format!(
            "issuer `{raw}` must be an http or https URL"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() || raw.contains('#') {
        return Err(ConfigError(format!(
            "issuer `{raw}` must not have a query or fragment (RFC 8414 §2)"
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError(format!("issuer `{raw}` needs a host")));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merge(args: SettingsArgs, toml_text: &str) -> Result<Settings, ConfigError> {
        let file: FileConfig = toml::from_str(toml_text).map_err(|e| ConfigError(e.to_string()))?;
        Settings::merge(&args, file, None)
    }

    #[test]
    fn defaults() {
        let s = merge(SettingsArgs::default(), "").unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.issuer, "http://127.0.0.1:8080");
        assert_eq!(s.database, DatabaseUrl::Sqlite("latchkey.db".into()));
        assert_eq!(s.keys_dir, PathBuf::from("keys"));
        assert_eq!(s.access_token_ttl, 3600);
        assert_eq!(s.refresh_token_ttl, 2_592_000);
        assert_eq!(s.code_ttl, 60);
        assert_eq!(s.refresh_reuse_interval, 0);
        assert_eq!(
            s.resources.configured().collect::<Vec<_>>(),
            vec!["http://127.0.0.1:8080"]
        );
        assert_eq!(s.default_audience, "http://127.0.0.1:8080");
    }

    #[test]
    fn flags_beat_file() {
        let args = SettingsArgs {
            access_token_ttl: Some(60),
            ..Default::default()
        };
        let s = merge(args, "access_token_ttl = 120\nbind = \"127.0.0.1:9000\"").unwrap();
        assert_eq!(s.access_token_ttl, 60);
        assert_eq!(s.bind.port(), 9000);
    }

    #[test]
    fn unknown_key_is_an_error() {
        let err = merge(SettingsArgs::default(), "acess_token_ttl = 5").unwrap_err();
        assert!(err.to_string().contains("acess_token_ttl"), "{err}");
    }

    #[test]
    fn bad_values_are_explained() {
        let bad = |args: SettingsArgs, file: &str, needle: &str| {
            let err = merge(args, file).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        };
        bad(
            SettingsArgs {
                issuer: Some("not a url".into()),
                ..Default::default()
            },
            "",
            "issuer",
        );
        bad(
            SettingsArgs {
                issuer: Some("https://a.example/?q".into()),
                ..Default::default()
            },
            "",
            "query",
        );
        bad(
            SettingsArgs {
                bind: Some("nowhere".into()),
                ..Default::default()
            },
            "",
            "bind",
        );
        bad(
            SettingsArgs {
                database_url: Some("mysql://x".into()),
                ..Default::default()
            },
            "",
            "sqlite://",
        );
        bad(
            SettingsArgs {
                access_token_ttl: Some(0),
                ..Default::default()
            },
            "",
            "access_token_ttl",
        );
        bad(
            SettingsArgs {
                signing_alg: Some("HS256".into()),
                ..Default::default()
            },
            "",
            "HS256",
        );
        bad(
            SettingsArgs::default(),
            "resources = [\"https://a#b\"]",
            "fragment",
        );
        bad(
            SettingsArgs::default(),
            "default_audience = \"https://x\"",
            "default_audience",
        );
        bad(
            SettingsArgs::default(),
            "[[scopes]]\nname = \"a b\"\ndescription = \"d\"",
            "scope token",
        );
    }

    #[test]
    fn postgres_password_is_redacted() {
        let err = DatabaseUrl::parse("mysql://u:hunter2@h/db")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"));
        let ok = DatabaseUrl::parse("postgres://u:hunter2@h/db").unwrap();
        assert!(!ok.redacted().contains("hunter2"));
    }

    #[test]
    fn issuer_trailing_slash_dropped() {
        let s = merge(
            SettingsArgs {
                issuer: Some("https://auth.example/".into()),
                ..Default::default()
            },
            "",
        )
        .unwrap();
        assert_eq!(s.issuer, "https://auth.example");
    }
}
