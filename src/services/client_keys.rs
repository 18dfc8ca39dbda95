//! The public keys of `private_key_jwt` clients that publish them at a `jwks_uri`:
//! fetched under the same rules as metadata documents (`fetch`: https only, public
//! addresses, the operator's lists, size and time limits), cached per
//! `Cache-Control` within the operator's bounds, and fetched again early only when
//! an assertion names a `kid` the cached set lacks — at most once per
//! `REFETCH_INTERVAL` per URL, so a flood of made-up `kid`s cannot turn this
//! server into a fetch amplifier. A failed fetch is remembered for
//! `REFUSAL_TTL` seconds.

use crate::fetch::cache::CoalescingCache;
use crate::fetch::{FetchSettings, Fetcher};
use crate::oauth::client_metadata::{Refusal, Rule};
use crate::oauth::jwk::{ClientKeySet, Reading};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use url::Url;

/// The shortest time between two fetches of one `jwks_uri` caused by unknown
/// `kid`s, seconds.
pub const REFETCH_INTERVAL: i64 = 30;
/// How long a failed fetch stays failed, seconds.
pub const REFUSAL_TTL: i64 = 30;
/// The largest JWK Set read (a handful of RSA keys is a few KiB).
pub const MAX_BYTES: usize = 64 * 1024;
/// URLs held at most.
const MAX_ENTRIES: usize = 10_000;

/// One fetch's outcome and when it was made.
#[derive(Debug, Clone)]
pub struct FetchedKeys {
    pub keys: Result<Arc<ClientKeySet>, Refusal>,
    pub fetched_at: i64,
}

pub struct ClientKeyFetcher {
    fetcher: Fetcher,
    cache: CoalescingCache<FetchedKeys>,
    fetches: AtomicU64,
}

impl ClientKeyFetcher {
    pub fn new(mut settings: FetchSettings) -> Result<Self, reqwest::Error> {
        settings.max_bytes = settings.max_bytes.max(MAX_BYTES);
        Ok(Self {
            fetcher: Fetcher::new(settings)?,
            cache: CoalescingCache::new(MAX_ENTRIES),
            fetches: AtomicU64::new(0),
        })
    }

    /// Fetches made since start.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The key set at `uri`, cached or fetched.
    pub async fn keys(&self, uri: &str, now: i64) -> FetchedKeys {
        self.cache
            .get_or_fetch(uri, now, || async { self.fetch(uri, now).await })
            .await
    }

    /// The key set at `uri` fetched anew because `seen` lacked a key, if the last
    /// fetch is at least `REFETCH_INTERVAL` old; `None` when it is too recent.
    pub async fn refetch(&self, uri: &str, seen: &FetchedKeys, now: i64) -> Option<FetchedKeys> {
        if now - seen.fetched_at < REFETCH_INTERVAL {
            return None;
        }
        // Only the outcome the caller saw is dropped: if another request has
        // refreshed it meanwhile, that newer one is used, not fetched again.
        self.cache
            .drop_if(uri, |held| held.fetched_at == seen.fetched_at);
        let fresh = self.keys(uri, now).await;
        Some(fresh)
    }

    /// Runs `check` on the key set at `uri`; when it fails for a key the set lacks
    /// (`missing_key`), once more on a set fetched anew (within `REFETCH_INTERVAL`'s
    /// bound). A set that cannot be had becomes `unusable`'s error.
    pub async fn check_with<T, E>(
        &self,
        uri: &str,
        now: i64,
        check: impl Fn(&ClientKeySet) -> Result<T, E>,
        missing_key: impl Fn(&E) -> bool,
        unusable: impl Fn(&Refusal) -> E,
    ) -> Result<T, E> {
        let run = |fetched: &FetchedKeys| match &fetched.keys {
            Ok(set) => check(set),
            Err(refusal) => Err(unusable(refusal)),
        };
        let fetched = self.keys(uri, now).await;
        match run(&fetched) {
            // The set may have gained a key since it was fetched.
            Err(e) if missing_key(&e) => match self.refetch(uri, &fetched, now).await {
                Some(again) => run(&again),
                None => Err(e),
            },
            other => other,
        }
    }

    async fn fetch(&self, uri: &str, now: i64) -> (FetchedKeys, i64) {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let outcome = match Url::parse(uri) {
            Err(e) => Err(Refusal::new(
                Rule::Fetch,
                format!("`{uri}` is not a URL: {e}"),
            )),
            Ok(url) => match self
                .fetcher
                .get(&url, &["application/json", "application/jwk-set+json"])
                .await
            {
                Err(refusal) => Err(refusal),
                Ok(fetched) => std::str::from_utf8(&fetched.body)
                    .map_err(|_| "the body is not UTF-8".to_owned())
                    .and_then(|text| ClientKeySet::parse_text(text, Reading::Fetched))
                    .map(|set| (Arc::new(set), fetched.max_age))
                    .map_err(|why| Refusal::new(Rule::Response, format!("{uri}: {why}"))),
            },
        };
        match outcome {
            Ok((set, max_age)) => {
                let s = self.fetcher.settings();
                let ttl = max_age
                    .unwrap_or(s.cache_min)
                    .clamp(s.cache_min, s.cache_max);
                tracing::info!(
                    jwks_uri = uri,
                    ttl,
                    keys = set.keys.len(),
                    "client keys fetched"
                );
                (
                    FetchedKeys {
                        keys: Ok(set),
                        fetched_at: now,
                    },
                    now + ttl,
                )
            }
            Err(refusal) => {
                tracing::info!(jwks_uri = uri, rule = refusal.rule.as_str(), reason = %refusal.message, "client keys refused");
                (
                    FetchedKeys {
                        keys: Err(refusal),
                        fetched_at: now,
                    },
                    now + REFUSAL_TTL,
                )
            }
        }
    }
}
