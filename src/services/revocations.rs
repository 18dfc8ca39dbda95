//! Revoked access-token ids held in memory, so checking a token (introspection,
//! userinfo, the management API) needs no query for it. Revocations are few — only
//! explicit RFC 7009 revocations of access tokens, kept until the token expires — so
//! each instance holds the whole set. Every revocation moves a change counter; each
//! instance polls it every `client_cache::POLL` and reloads the set when it moved; the
//! instance that revoked adds the id at once. Until the first load, checks ask the
//! database.

use crate::store::{self, Db, StoreError};
use std::collections::HashSet;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct RevokedSet {
    /// `None` until loaded: the counter value the set matches, and the set.
    state: RwLock<Option<(i64, HashSet<String>)>>,
    /// This instance's own recent revocations, kept through reloads for a few seconds
    /// so a reload that read the database just before one of them cannot drop it.
    recent: RwLock<Vec<(Instant, String)>>,
}

/// How long a local revocation survives reloads on its own.
const RECENT: Duration = Duration::from_secs(5);

impl RevokedSet {
    /// Whether access token `jti` was revoked.
    pub async fn contains(&self, db: &Db, jti: &str) -> Result<bool, StoreError> {
        {
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, set)) = state.as_ref() {
                return Ok(set.contains(jti));
            }
        }
        store::tokens::is_access_token_revoked(db, jti).await
    }

    /// Records a revocation made by this instance (after it is stored).
    pub fn insert(&self, jti: &str) {
        {
            let mut recent = self.recent.write().unwrap_or_else(PoisonError::into_inner);
            recent.retain(|(at, _)| at.elapsed() < RECENT);
            recent.push((Instant::now(), jti.to_owned()));
        }
        if let Some((_, set)) = self
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            set.insert(jti.to_owned());
        }
    }

    /// Reloads the set when the revocation counter, as just read, moved (or the set
    /// was never loaded).
    pub async fn poll(&self, db: &Db, current: i64, now: i64) -> Result<(), StoreError> {
        let loaded = self
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(v, _)| *v);
        if loaded == Some(current) {
            return Ok(());
        }
        let (version, jtis) = store::tokens::revoked_access_tokens(db, now).await?;
        let mut set: HashSet<String> = jtis.into_iter().collect();
        set.extend(
            self.recent
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .filter(|(at, _)| at.elapsed() < RECENT)
                .map(|(_, jti)| jti.clone()),
        );
        *self.state.write().unwrap_or_else(PoisonError::into_inner) = Some((version, set));
        Ok(())
    }

    /// Forgets the set: checks ask the database until the next load.
    pub fn clear(&self) {
        *self.state.write().unwrap_or_else(PoisonError::into_inner) = None;
    }
}
