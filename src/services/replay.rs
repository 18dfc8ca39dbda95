//! The replay cache's writer: every accepted assertion's `jti` must be recorded in
//! the store before its request is answered (so no instance accepts it twice), and
//! one insert per request is what that costs. Requests that arrive together share
//! one statement instead — group commit: each hands its id to a writer task and
//! waits for the outcome; a writer takes everything queued (up to `MAX_BATCH`),
//! drops repeats within the batch (the second is a replay of the first), inserts
//! the rest in one statement and answers each request with whether its id was new.
//! Nobody is answered before the statement that decides them has committed.
//!
//! One writer for SQLite (its writes are serial anyway), a few for PostgreSQL.

use crate::store::{self, Db, StoreError};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

/// The most ids one statement records.
const MAX_BATCH: usize = 256;
/// Requests waiting for a writer at most; beyond that they wait to queue.
const QUEUE: usize = 4096;

type Answer = Result<bool, StoreError>;

struct Pending {
    key: [u8; 32],
    keep_until: i64,
    answer: oneshot::Sender<Answer>,
}

pub struct ReplayCache {
    queue: mpsc::Sender<Pending>,
}

impl ReplayCache {
    /// Starts the writers on the current tokio runtime.
    pub fn start(db: Db) -> Self {
        let workers = match db {
            Db::Sqlite(_) => 1,
            Db::Postgres(_) => 4,
        };
        let (queue, receiver) = mpsc::channel(QUEUE);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..workers {
            tokio::spawn(write_batches(db.clone(), receiver.clone()));
        }
        Self { queue }
    }

    /// Records `key` as used until `keep_until`: `true` when it was new, `false`
    /// when it had been used (a replay).
    pub async fn remember(&self, key: [u8; 32], keep_until: i64) -> Answer {
        let (answer, outcome) = oneshot::channel();
        let pending = Pending {
            key,
            keep_until,
            answer,
        };
        if self.queue.send(pending).await.is_err() {
            return Err(StoreError::Pool(
                "the replay cache writer has stopped".into(),
            ));
        }
        outcome.await.unwrap_or_else(|_| {
            Err(StoreError::Pool(
                "the replay cache writer has stopped".into(),
            ))
        })
    }
}

async fn write_batches(db: Db, receiver: Arc<Mutex<mpsc::Receiver<Pending>>>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    loop {
        {
            // Only the taking is under the lock; the insert runs without it, so
            // another writer can gather the next batch meanwhile.
            let mut rx = receiver.lock().await;
            if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return;
            }
        }
        let mut seen = HashSet::with_capacity(batch.len());
        let mut rows = Vec::with_capacity(batch.len());
        let mut waiting = Vec::with_capacity(batch.len());
        for p in batch.drain(..) {
            if seen.insert(p.key) {
                rows.push((p.key, p.keep_until));
                waiting.push(p);
            } else {
                // The same id twice in one batch: the first is recorded, this one
                // is its replay.
                let _ = p.answer.send(Ok(false));
            }
        }
        match store::jtis::remember_all(&db, &rows).await {
            Ok(new) => {
                let new: HashSet<Vec<u8>> = new.into_iter().collect();
                for p in waiting {
                    let _ = p.answer.send(Ok(new.contains(p.key.as_slice())));
                }
            }
            Err(e) => {
                let (message, unavailable) = (e.to_string(), e.is_unavailable());
                for p in waiting {
                    let _ = p.answer.send(Err(StoreError::Batched {
                        message: message.clone(),
                        unavailable,
                    }));
                }
            }
        }
    }
}
