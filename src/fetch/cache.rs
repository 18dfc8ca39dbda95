//! A bounded cache of fetch outcomes that coalesces concurrent misses: however many
//! requests want one URL at once, one fetch runs and all of them get its outcome.
//! Outcomes expire at a time given with each (unix seconds, from the app's clock, so
//! tests move time instead of sleeping).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::OnceCell;

type Slot<V> = Arc<OnceCell<(V, i64)>>;

struct Inner<V> {
    /// Finished outcomes and when each stops being used.
    ready: HashMap<String, (V, i64)>,
    /// Fetches under way; every caller for the key waits on the same cell.
    pending: HashMap<String, Slot<V>>,
}

pub struct CoalescingCache<V> {
    inner: Mutex<Inner<V>>,
    max_entries: usize,
}

impl<V: Clone> CoalescingCache<V> {
    pub fn new(max_entries: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                ready: HashMap::new(),
                pending: HashMap::new(),
            }),
            max_entries,
        }
    }

    /// The outcome for `key`: from the cache while it is fresh at `now`, else from
    /// `fetch` (which returns the outcome and when it expires), shared with every
    /// concurrent caller for the same key.
    pub async fn get_or_fetch<F, Fut>(&self, key: &str, now: i64, fetch: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = (V, i64)>,
    {
        let slot = {
            let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((value, expires)) = inner.ready.get(key)
                && *expires > now
            {
                return value.clone();
            }
            inner
                .pending
                .entry(key.to_owned())
                .or_insert_with(|| Arc::new(OnceCell::new()))
                .clone()
        };
        // If the caller running `fetch` goes away, another waiter runs its own.
        let (value, expires) = slot.get_or_init(fetch).await.clone();
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner
            .pending
            .get(key)
            .is_some_and(|pending| Arc::ptr_eq(pending, &slot))
        {
            inner.pending.remove(key);
            if inner.ready.len() >= self.max_entries {
                inner.ready.retain(|_, (_, e)| *e > now);
                if inner.ready.len() >= self.max_entries {
                    // Bounded whatever strangers send: start over rather than grow.
                    inner.ready.clear();
                }
            }
            inner.ready.insert(key.to_owned(), (value.clone(), expires));
        }
        value
    }

    /// Entries held (fresh or not).
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ready
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the finished outcome for `key` if `stale` says so of it, so that the
    /// next `get_or_fetch` fetches again. Judged under the lock: of many callers
    /// who saw the same old outcome, one drops it, and the rest find the new one.
    pub fn drop_if(&self, key: &str, stale: impl FnOnce(&V) -> bool) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.ready.get(key).is_some_and(|(value, _)| stale(value)) {
            inner.ready.remove(key);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_misses_make_one_fetch() {
        let cache = Arc::new(CoalescingCache::<u32>::new(10));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (cache, calls) = (cache.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_fetch("k", 100, || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        (7, 200)
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 7);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Fresh: no fetch. Expired: a new one.
        assert_eq!(cache.get_or_fetch("k", 199, || async { (8, 300) }).await, 7);
        assert_eq!(cache.get_or_fetch("k", 200, || async { (8, 300) }).await, 8);
    }

    #[tokio::test]
    async fn stays_bounded() {
        let cache = CoalescingCache::<u32>::new(3);
        for i in 0..10 {
            cache
                .get_or_fetch(&i.to_string(), 0, || async move { (i, 100) })
                .await;
            assert!(cache.len() <= 3);
        }
    }
}
