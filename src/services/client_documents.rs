//! Clients known by their Client ID Metadata Document: a `client_id` that is an
//! `https` URL is resolved by fetching the document (safely, see `fetch`),
//! validating it (`oauth::client_metadata`) and caching the outcome per
//! `Cache-Control` within the operator's bounds. Refusals are cached briefly too,
//! so a stranger cannot make this server fetch one URL over and over.
//!
//! Such a client is stored as a `clients` row (id = the URL) only once a person
//! authorizes it, so consents and token families can refer to it; the document,
//! not the row, is what the server believes.

use crate::fetch::cache::CoalescingCache;
use crate::fetch::{FetchSettings, Fetcher};
use crate::oauth::client_metadata::{self, DocumentClient, Refusal, Rule};
use crate::oauth::scope::ScopeCatalogue;
use crate::oauth::types::RegisteredClient;
use crate::store::models::ClientRow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How long a refused document stays refused before it is fetched again, seconds.
pub const REFUSAL_TTL: i64 = 30;
/// Documents (and refusals) held at most.
const MAX_ENTRIES: usize = 10_000;

/// A resolved document client: its row (as it would be stored) and the core's view.
#[derive(Debug)]
pub struct ResolvedDocument {
    pub row: ClientRow,
    pub client: Arc<RegisteredClient>,
    /// The URL's host, shown beside the self-asserted name.
    pub host: String,
}

pub type Outcome = Result<Arc<ResolvedDocument>, Refusal>;

pub struct ClientDocuments {
    fetcher: Fetcher,
    cache: CoalescingCache<Outcome>,
    fetches: AtomicU64,
}

impl ClientDocuments {
    pub fn new(settings: FetchSettings) -> Result<Self, reqwest::Error> {
        Ok(Self {
            fetcher: Fetcher::new(settings)?,
            cache: CoalescingCache::new(MAX_ENTRIES),
            fetches: AtomicU64::new(0),
        })
    }

    /// Whether this server resolves metadata document client ids.
    pub fn enabled(&self) -> bool {
        self.fetcher.settings().documents_enabled
    }

    /// Fetches started since start (the cache's misses).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The client whose id is the document URL `client_id`, at time `now`.
    pub async fn resolve(&self, client_id: &str, catalogue: &ScopeCatalogue, now: i64) -> Outcome {
        if !self.enabled() {
            return Err(Refusal::new(
                Rule::Policy,
                "this server does not accept Client ID Metadata Documents",
            ));
        }
        // The URL's shape and the operator's lists cost nothing to check, so they
        // are checked on every call and never cached.
        let url = client_metadata::validate_url(client_id)?;
        self.fetcher.precheck(&url)?;
        self.cache
            .get_or_fetch(client_id, now, || async {
                self.fetches.fetch_add(1, Ordering::Relaxed);
                let outcome = match self.fetcher.get_json(&url).await {
                    Ok(fetched) => client_metadata::validate_document(&url, &fetched.body, catalogue)
                        .map(|doc| (doc, fetched.max_age)),
                    Err(refusal) => Err(refusal),
                };
                match outcome {
                    Ok((doc, max_age)) => {
                        let s = self.fetcher.settings();
                        let ttl = max_age.unwrap_or(s.cache_min).clamp(s.cache_min, s.cache_max);
                        tracing::info!(client_id, ttl, "client metadata document fetched");
                        (resolved(client_id, doc, now), now + ttl)
                    }
                    Err(refusal) => {
                        tracing::info!(client_id, rule = refusal.rule.as_str(), reason = %refusal.message, "client metadata document refused");
                        (Err(refusal), now + REFUSAL_TTL)
                    }
                }
            })
            .await
    }
}

fn resolved(client_id: &str, doc: DocumentClient, now: i64) -> Outcome {
    // A document client is public (§4.1) unless it has keys (then `changes` makes
    // it private_key_jwt); its application_type is always stored:
    // the document is the whole registration, there is nothing to infer later.
    let application_type = Some(doc.client.application_type);
    let row = ClientRow {
        document_fetched_at: Some(now),
        ..crate::services::clients::new_row(
            client_id.to_owned(),
            &doc.client,
            Some("none".to_owned()),
            application_type,
            now,
        )
    };
    let client = row
        .to_registered()
        .map_err(|e| Refusal::new(Rule::Document, e.to_string()))?;
    Ok(Arc::new(ResolvedDocument {
        row,
        client: Arc::new(client),
        host: doc.host,
    }))
}
