//! Settings: read once at start from flags, then `LATCHKEY_*` environment variables,
//! then an optional `latchkey.toml`, then defaults; validated, then passed explicitly.

pub mod brand;
pub mod client_auth;
pub mod dpop;
pub mod fetch;
mod file;
mod keys;
pub mod limits;
pub mod listener;
pub mod profile;
pub mod registration;
mod sign_in;
mod tokens;
mod trust;

use crate::cidr::Cidr;
use crate::fetch::FetchSettings;
use crate::keys::Alg;
use crate::oauth::resource::ResourceSet;
use crate::oauth::scope::ScopeCatalogue;
pub use crate::store::DatabaseUrl;
use brand::{BrandArgs, BrandSettings};
pub use fetch::FetchArgs;
use file::{FileConfig, read_file_config, seconds};
use limits::Limits;
pub use registration::RegistrationPolicy;
use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// Which `aud` a private_key_jwt client assertion may carry: issuer (the issuer
    /// identifier alone, RFC 7523bis) or issuer-or-token-endpoint (also the token
    /// endpoint URL, for older clients) [default: issuer]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_CLIENT_ASSERTION_AUDIENCE",
        value_name = "RULE"
    )]
    pub client_assertion_audience: Option<String>,
    /// The longest a client assertion may live: exp at most this many seconds after
    /// iat and after now [default: 600]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_CLIENT_ASSERTION_MAX_LIFETIME",
        value_name = "SECONDS"
    )]
    pub client_assertion_max_lifetime: Option<u64>,
    /// DPoP proofs must carry a server nonce (RFC 9449 §8): off or on [default: off]
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_DPOP_NONCE",
        value_name = "off|on"
    )]
    pub dpop_nonce: Option<String>,
    /// Refuse authorization requests not pushed to /oauth/par first (RFC 9126 §6)
    #[arg(long, global = true, env = "LATCHKEY_REQUIRE_PAR")]
    pub require_par: bool,
    /// Security profile: standard, or fapi2 (FAPI 2.0 Security Profile: PAR, PKCE,
    /// private_key_jwt, DPoP, no RS256) [default: standard]
    #[arg(long, global = true, env = "LATCHKEY_PROFILE", value_name = "PROFILE")]
    pub profile: Option<String>,
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
    pub connections: listener::ConnectionLimits,
    /// Where `GET /metrics` is served on its own listener, if anywhere.
    pub metrics_bind: Option<SocketAddr>,
    /// Serve `GET /metrics` on the public listener too (explicit opt-in).
    pub metrics_public: bool,
    /// Audit records older than this many seconds are deleted.
    pub audit_retention: i64,
    /// What `private_key_jwt` client assertions must satisfy.
    pub client_assertions: client_auth::ClientAssertions,
    /// DPoP proofs: nonces and algorithms.
    pub dpop: dpop::DpopSettings,
    /// How authorization requests must arrive (pushed or not).
    pub profile: profile::Profile,
    /// Issuers whose signed tokens the JWT-bearer grant and token exchange accept.
    pub trusted_issuers: Vec<std::sync::Arc<crate::oauth::assertion_grant::TrustedIssuer>>,
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
        let profile = profile::profile(args, &mut file)?;
        let fetch = fetch::fetch_settings(&args.fetch, &mut file)?;
        let listener = listener::listener(args, &mut file)?;
        let tokens = tokens::tokens(args, &mut file, listener.bind)?;
        let database_raw = args
            .database_url
            .clone()
            .or(env_database_url)
            .or(file.database_url.take())
            .unwrap_or_else(|| "sqlite://latchkey.db".to_owned());
        let database = DatabaseUrl::parse(&database_raw).map_err(ConfigError)?;
        let keys = keys::keys(args, &mut file, profile.fapi2)?;
        if profile.fapi2 && tokens.code_ttl > 60 {
            return Err(ConfigError(
                "code_ttl may be at most 60 seconds under the FAPI 2.0 profile".to_owned(),
            ));
        }
        let sign_in = sign_in::sign_in(args, &mut file)?;
        let audit_retention = seconds(
            "audit_retention",
            None,
            file.audit_retention,
            7_776_000,
            86_400..=315_360_000,
            " (one day to ten years)",
        )?;
        let registration = RegistrationPolicy::parse(
            args.registration
                .as_deref()
                .or(file.registration.as_deref())
                .unwrap_or("open"),
        )?;
        let client_assertions = client_auth::client_assertions(args, &mut file, profile.fapi2)?;
        let dpop = dpop::dpop(args, &mut file, profile.fapi2)?;
        let (limits, trusted_proxies) = limits::limits(args, &mut file)?;
        let trusted_issuers = trust::trusted_issuers(
            std::mem::take(&mut file.trusted_issuers),
            &tokens.issuer,
            &client_assertions.algorithms,
        )?;
        let brand = brand::brand(&args.brand, &mut file)?;
        Ok(Self {
            bind: listener.bind,
            issuer: tokens.issuer,
            database,
            keys_dir: keys.keys_dir,
            access_token_ttl: tokens.access_token_ttl,
            id_token_ttl: tokens.id_token_ttl,
            refresh_token_ttl: tokens.refresh_token_ttl,
            code_ttl: tokens.code_ttl,
            refresh_reuse_interval: tokens.refresh_reuse_interval,
            session_idle_timeout: sign_in.session_idle_timeout,
            session_lifetime: sign_in.session_lifetime,
            key_poll_interval: keys.key_poll_interval,
            key_encryption: None,
            signing_alg: keys.signing_alg,
            scopes: tokens.scopes,
            resources: tokens.resources,
            default_audience: tokens.default_audience,
            registration,
            client_assertions,
            dpop,
            profile,
            trusted_issuers,
            limits,
            trusted_proxies,
            brand,
            fetch,
            login_url: sign_in.login_url,
            consent_url: sign_in.consent_url,
            connections: listener.connections,
            metrics_bind: listener.metrics_bind,
            metrics_public: listener.metrics_public,
            audit_retention,
        })
    }
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
