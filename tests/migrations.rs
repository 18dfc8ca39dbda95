//! Migrations applied by several instances at once: all succeed, applied once.
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::{Backend, TestDb};
use latchkey::config::DatabaseUrl;

async fn concurrent_migrations_apply_once(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { latchkey::store::migrate::run(&url).await })
        })
        .collect();
    let mut applied = Vec::new();
    for run in runs {
        applied.extend(
            run.await
                .unwrap()
                .expect("every instance's migration run succeeds"),
        );
    }
    // Each migration was applied by exactly one of the four.
    let mut unique = applied.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(applied.len(), unique.len(), "{applied:?}");
    assert!(!applied.is_empty());
    // And a later run finds nothing to do.
    assert!(
        latchkey::store::migrate::run(&url)
            .await
            .unwrap()
            .is_empty()
    );
    // The schema works.
    let pool = latchkey::store::Db::connect(&url).await.unwrap();
    assert!(
        latchkey::store::clients::list_clients(&pool)
            .await
            .unwrap()
            .is_empty()
    );
}

both_backends!(concurrent_migrations_apply_once);
