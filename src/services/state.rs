//! `AppState`: everything a request handler may need — settings, the database, the
//! signing keys, the clock, the pages, and the in-memory services below — built once
//! at start and cheap to clone. Handlers (`http`, `web`) and the CLI receive it; the
//! services it holds never import it back.

use super::{client_cache, client_documents, client_keys, limits, metrics, replay, revocations};
use crate::clock::Clock;
use crate::config::{ConfigError, Settings};
use crate::keys::{KeyRing, KeySet};
use crate::oauth::claims::TokenPolicy;
use crate::oauth::client_assertion::AssertionRules;
use crate::pages::Pages;
use crate::store::Db;
use std::sync::Arc;

/// Everything a request handler may need, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    /// Reloaded when the keys directory or the time changes what signs.
    pub keys: Arc<KeyRing>,
    pub clock: Arc<dyn Clock>,
    /// Derived from settings once, not per request.
    pub policy: Arc<TokenPolicy>,
    /// Registered clients in memory (see `client_cache` for invalidation).
    pub client_cache: Arc<client_cache::ClientCache>,
    /// Revoked access-token ids in memory (see `revocations`).
    pub revoked: Arc<revocations::RevokedSet>,
    /// This instance's rate limiters.
    pub limits: Arc<limits::RateLimits>,
    /// Page templates, the brand and its files.
    pub pages: Arc<Pages>,
    /// Clients known by their Client ID Metadata Document (see `fetch`).
    pub client_documents: Arc<client_documents::ClientDocuments>,
    /// `private_key_jwt` clients' keys published at a `jwks_uri`.
    pub client_keys: Arc<client_keys::ClientKeyFetcher>,
    /// Records assertion ids (shared by every instance on the database).
    pub replay: Arc<replay::ReplayCache>,
    /// DPoP server nonces (`--dpop-nonce on`), keyed by a secret of the keys
    /// directory so every instance accepts every other's.
    pub dpop_nonces: Option<Arc<crate::oauth::dpop::Nonces>>,
    /// What client assertions are checked against, derived from settings once.
    pub assertion_rules: Arc<AssertionRules>,
    /// Serving or shutting down (`/readyz` turns 503 while draining).
    pub lifecycle: Arc<Lifecycle>,
    /// This instance's Prometheus metrics.
    pub metrics: Arc<metrics::Metrics>,
}

/// Whether this instance is shutting down.
#[derive(Debug, Default)]
pub struct Lifecycle {
    draining: std::sync::atomic::AtomicBool,
}

impl Lifecycle {
    /// From now on readiness fails, so balancers send traffic elsewhere.
    pub fn start_draining(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl AppState {
    pub fn new(
        settings: Settings,
        pages: Pages,
        db: Db,
        keys: KeySet,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        let client_documents = client_documents::ClientDocuments::new(settings.fetch.clone())
            .map_err(|e| ConfigError(format!("the outbound HTTP client cannot start: {e}")))?;
        let client_keys = client_keys::ClientKeyFetcher::new(settings.fetch.clone())
            .map_err(|e| ConfigError(format!("the outbound HTTP client cannot start: {e}")))?;
        let assertion_rules = AssertionRules {
            issuer: settings.issuer.clone(),
            token_endpoint: format!("{}/oauth/token", settings.issuer),
            audience: settings.client_assertions.audience,
            max_lifetime: settings.client_assertions.max_lifetime,
            algorithms: settings.client_assertions.algorithms.clone(),
        };
        // FAPI 2.0 §5.4: tokens are not signed with RSASSA-PKCS1-v1_5 either.
        if settings.profile.fapi2 && keys.active().alg() == crate::keys::Alg::Rs256 {
            return Err(ConfigError(
                "the active signing key is RS256, which the FAPI 2.0 profile does not allow: run `latchkey keys rotate --alg ES256` (or EdDSA) and wait for it to become active".to_owned(),
            ));
        }
        let policy = TokenPolicy {
            issuer: settings.issuer.clone(),
            resources: settings.resources.clone(),
            default_audience: settings.default_audience.clone(),
            access_token_ttl: settings.access_token_ttl,
        };
        let dpop_nonces = if settings.dpop.nonce {
            let secret = crate::keys::secret::shared_secret(
                &settings.keys_dir,
                "dpop-nonce",
                settings.key_encryption.as_ref(),
            )
            .map_err(|e| ConfigError(format!("the DPoP nonce key cannot be had: {e}")))?;
            Some(Arc::new(crate::oauth::dpop::Nonces::new(&secret)))
        } else {
            None
        };
        let metrics = metrics::Metrics::new();
        let mut limits = limits::RateLimits::new(&settings.limits);
        limits.count_refusals(&metrics.rate_limited);
        let limits = Arc::new(limits);
        let lookups = |outcome| {
            metrics
                .client_cache
                .get_or_create(&metrics::OutcomeLabel { outcome })
                .clone()
        };
        let client_cache = client_cache::ClientCache::counted(lookups("hit"), lookups("miss"));
        Ok(Self {
            client_documents: Arc::new(client_documents),
            client_keys: Arc::new(client_keys),
            replay: Arc::new(replay::ReplayCache::start(db.clone())),
            assertion_rules: Arc::new(assertion_rules),
            dpop_nonces,
            settings: Arc::new(settings),
            db,
            keys: Arc::new(KeyRing::new(keys)),
            clock,
            policy: Arc::new(policy),
            limits,
            pages: Arc::new(pages),
            client_cache: Arc::new(client_cache),
            revoked: Arc::default(),
            lifecycle: Arc::default(),
            metrics: Arc::new(metrics),
        })
    }
}
