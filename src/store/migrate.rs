//! Embedded migrations, one tree per backend, applied safely when several instances
//! start at once: PostgreSQL holds an advisory lock, SQLite an immediate transaction.

use super::DatabaseUrl;
use super::{StoreError, sqlite_pragmas};
use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use diesel_async::{AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Arbitrary but fixed: the advisory lock every instance takes to migrate.
const PG_MIGRATION_LOCK: i64 = 0x6c61_7463_686b_6579; // "latchkey"

/// Applies pending migrations; returns the versions applied.
pub async fn run(url: &DatabaseUrl) -> Result<Vec<String>, StoreError> {
    match url {
        DatabaseUrl::Postgres(raw) => run_postgres(url, raw).await,
        DatabaseUrl::Sqlite(path) => {
            let path = path.to_string_lossy().into_owned();
            let redacted = url.redacted();
            tokio::task::spawn_blocking(move || run_sqlite(&redacted, &path))
                .await
                .map_err(|e| StoreError::Migration(e.to_string()))?
        }
    }
}

/// Versions not yet applied, without applying them (for `serve --no-migrate`).
pub async fn pending(url: &DatabaseUrl) -> Result<Vec<String>, StoreError> {
    match url {
        DatabaseUrl::Postgres(raw) => {
            let conn = connect_postgres(url, raw).await?;
            let mut harness = AsyncMigrationHarness::new(conn);
            versions(harness.pending_migrations(POSTGRES))
        }
        DatabaseUrl::Sqlite(path) => {
            let path = path.to_string_lossy().into_owned();
            let redacted = url.redacted();
            tokio::task::spawn_blocking(move || {
                let mut conn = connect_sqlite(&redacted, &path)?;
                versions(conn.pending_migrations(SQLITE))
            })
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?
        }
    }
}

fn versions<DB: diesel::backend::Backend>(
    found: diesel::migration::Result<Vec<Box<dyn diesel::migration::Migration<DB>>>>,
) -> Result<Vec<String>, StoreError> {
    found
        .map(|list| {
            list.iter()
                .map(|m| m.name().version().to_string())
                .collect()
        })
        .map_err(|e| StoreError::Migration(e.to_string()))
}

async fn connect_postgres(url: &DatabaseUrl, raw: &str) -> Result<AsyncPgConnection, StoreError> {
    use diesel_async::AsyncConnection;
    AsyncPgConnection::establish(raw)
        .await
        .map_err(|e| StoreError::Connect {
            url: url.redacted(),
            reason: e.to_string(),
        })
}

fn connect_sqlite(redacted: &str, path: &str) -> Result<SqliteConnection, StoreError> {
    let mut conn = SqliteConnection::establish(path).map_err(|e| StoreError::Connect {
        url: redacted.to_owned(),
        reason: e.to_string(),
    })?;
    // Switching a new database to WAL needs an exclusive lock, and SQLite may answer
    // "database is locked" at once rather than wait when several instances create
    // the file together; the switch happens once per file, so retrying is enough.
    let mut attempts = 0;
    loop {
        match conn.batch_execute(&sqlite_pragmas()) {
            Ok(()) => return Ok(conn),
            Err(diesel::result::Error::DatabaseError(_, info))
                if info.message().contains("locked") && attempts < 100 =>
            {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn run_postgres(url: &DatabaseUrl, raw: &str) -> Result<Vec<String>, StoreError> {
    let mut conn = connect_postgres(url, raw).await?;
    // Session-level lock: a second instance waits here until the first is done, then
    // finds nothing pending.
    diesel::sql_query(format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK})"))
        .execute(&mut conn)
        .await?;
    let mut harness = AsyncMigrationHarness::new(conn);
    let result = harness
        .run_pending_migrations(POSTGRES)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(|e| StoreError::Migration(e.to_string()));
    let mut conn = harness.into_inner();
    diesel::sql_query(format!("SELECT pg_advisory_unlock({PG_MIGRATION_LOCK})"))
        .execute(&mut conn)
        .await?;
    result
}

#[derive(Debug)]
enum TxError {
    Diesel(diesel::result::Error),
    Migration(String),
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Diesel(e)
    }
}

fn run_sqlite(redacted: &str, path: &str) -> Result<Vec<String>, StoreError> {
    let mut conn = connect_sqlite(redacted, path)?;
    // BEGIN IMMEDIATE takes the write lock up front: a concurrent instance waits
    // (busy_timeout), then sees the migrations already recorded.
    conn.immediate_transaction(|conn| {
        conn.run_pending_migrations(SQLITE)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| TxError::Migration(e.to_string()))
    })
    .map_err(|e| match e {
        TxError::Diesel(e) => StoreError::Query(e),
        TxError::Migration(m) => StoreError::Migration(m),
    })
}
