//! Registered clients held in memory, so the token endpoint's steady state needs no
//! database round trip to authenticate a client.
//!
//! Invalidation: every write to `clients` (create, update, rotate, delete — from any
//! instance or the CLI) moves the `clients` change counter. Each instance polls the
//! counter every `POLL` and drops its whole cache when it moved; the instance that
//! made a change drops the entry at once. So a deleted client or a rotated secret
//! stops working here immediately and on other instances within about a second. An
//! entry is also reloaded after `MAX_AGE` whatever the counter says, which bounds the
//! life of a change made behind Latchkey's back (hand-written SQL).

use crate::oauth::types::RegisteredClient;
use crate::store::{self, Db, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// How often each instance reads the change counter.
pub const POLL: Duration = Duration::from_millis(500);
/// The longest an entry is trusted without reloading it.
pub const MAX_AGE: Duration = Duration::from_secs(60);
/// Entries held at most; past it the cache starts over (only real clients are cached,
/// so this is reached only with very many of them).
const MAX_ENTRIES: usize = 50_000;

struct Entry {
    client: Arc<RegisteredClient>,
    loaded: Instant,
}

pub struct ClientCache {
    entries: RwLock<HashMap<String, Entry>>,
    /// The change counter last seen; `i64::MIN` before the first poll.
    version: AtomicI64,
    /// Lookups answered from memory, and from the database (see `metrics`).
    hits: prometheus_client::metrics::counter::Counter,
    misses: prometheus_client::metrics::counter::Counter,
}

impl Default for ClientCache {
    fn default() -> Self {
        Self::counted(Default::default(), Default::default())
    }
}

impl ClientCache {
    /// A cache that counts its hits and misses in the given counters.
    pub fn counted(
        hits: prometheus_client::metrics::counter::Counter,
        misses: prometheus_client::metrics::counter::Counter,
    ) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            version: AtomicI64::new(i64::MIN),
            hits,
            misses,
        }
    }

    /// The client `id`, from memory when fresh, else from the database (unknown ids
    /// are not cached: a flood of made-up ids cannot fill memory).
    pub async fn get(
        &self,
        db: &Db,
        id: &str,
    ) -> Result<Option<Arc<RegisteredClient>>, StoreError> {
        {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(e) = entries.get(id)
                && e.loaded.elapsed() < MAX_AGE
            {
                self.hits.inc();
                return Ok(Some(e.client.clone()));
            }
        }
        self.misses.inc();
        // Read the counter before the row: if a change lands in between, the next
        // poll sees a newer counter and drops this entry.
        let seen = self.version.load(Ordering::Acquire);
        let Some(row) = store::clients::find_client(db, id).await? else {
            self.invalidate(id);
            return Ok(None);
        };
        let client = Arc::new(row.to_registered()?);
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if self.version.load(Ordering::Acquire) == seen {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(
                id.to_owned(),
                Entry {
                    client: client.clone(),
                    loaded: Instant::now(),
                },
            );
        }
        Ok(Some(client))
    }

    /// Drops one client (after this instance changed it).
    pub fn invalidate(&self, id: &str) {
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    /// Takes the `clients` change counter as just read; drops everything when it
    /// moved. Returns whether it did.
    pub fn poll(&self, current: i64) -> bool {
        if self.version.swap(current, Ordering::AcqRel) == current {
            return false;
        }
        self.clear();
        true
    }

    /// Drops everything.
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Clients held.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
