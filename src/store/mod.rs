//! Storage over PostgreSQL and SQLite with one body of query code.
//!
//! `Db` holds a pool for one backend; `with_conn!` checks a connection out and expands
//! the same query body once per backend, so each query is written once and compiled
//! twice. diesel-async has no async multi-backend connection, and generic functions
//! over its connection traits drown in bounds; the macro avoids both.

pub mod challenges;
pub mod clients;
pub mod codes;
pub mod counters;
pub mod grants;
pub mod migrate;
pub mod models;
pub mod schema;
pub mod sessions;
pub mod tokens;
pub mod users;

use crate::config::DatabaseUrl;
use diesel::SqliteConnection;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use std::time::Duration;

pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

/// Infrastructure failures. Logged once at the HTTP boundary; never shown to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database connection pool: {0}")]
    Pool(String),
    #[error("database query: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database migration: {0}")]
    Migration(String),
    #[error("cannot connect to the database {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn pool(e: impl std::fmt::Display) -> Self {
        Self::Pool(e.to_string())
    }
}

/// A connection pool for one of the two backends.
#[derive(Clone)]
pub enum Db {
    Postgres(Pool<AsyncPgConnection>),
    Sqlite(Pool<SqliteConn>),
}

/// Checks out a connection from `$db` and runs `$body` with `$conn: &mut Connection`,
/// for whichever backend `$db` holds. The body is expanded once per backend.
#[macro_export]
macro_rules! with_conn {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Postgres(pool) => {
                let mut guard = pool.get().await.map_err($crate::store::StoreError::pool)?;
                let $conn = &mut *guard;
                $body
            }
            $crate::store::Db::Sqlite(pool) => {
                let mut guard = pool.get().await.map_err($crate::store::StoreError::pool)?;
                let $conn = &mut *guard;
                $body
            }
        }
    };
}

/// How long a request waits for a free connection before failing.
const POOL_WAIT: Duration = Duration::from_secs(10);
/// How long SQLite waits on a locked database before reporting it busy.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5000;

/// PRAGMAs for every new SQLite connection: referential integrity, WAL so readers do
/// not block the writer, and a busy timeout instead of immediate "database is locked".
pub(crate) fn sqlite_pragmas() -> String {
    format!(
        // busy_timeout first: switching to WAL itself waits for other connections.
        "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
    )
}

impl Db {
    /// Opens a pool and proves it works with one query, so an unreachable database
    /// fails start-up with one clear message instead of failing the first request.
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, StoreError> {
        let connect_error = |reason: String| StoreError::Connect {
            url: url.redacted(),
            reason,
        };
        let db = match url {
            DatabaseUrl::Postgres(raw) => {
                // One direct connection first: its error names the cause ("connection
                // refused", "password authentication failed"); the pool's hides it.
                AsyncPgConnection::establish(raw)
                    .await
                    .map_err(|e| connect_error(e.to_string()))?;
                let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(raw.as_str());
                let pool = Pool::builder(manager)
                    .max_size(16)
                    .wait_timeout(Some(POOL_WAIT))
                    .create_timeout(Some(POOL_WAIT))
                    .runtime(deadpool::Runtime::Tokio1)
                    .build()
                    .map_err(|e| connect_error(e.to_string()))?;
                Db::Postgres(pool)
            }
            DatabaseUrl::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
                    && !parent.is_dir()
                {
                    return Err(connect_error(format!(
                        "directory {} does not exist",
                        parent.display()
                    )));
                }
                let mut config = ManagerConfig::<SqliteConn>::default();
                config.custom_setup = Box::new(|url| {
                    Box::pin(async move {
                        let mut conn = SqliteConn::establish(url).await?;
                        conn.batch_execute(&sqlite_pragmas())
                            .await
                            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                        Ok(conn)
                    })
                });
                let manager = AsyncDieselConnectionManager::<SqliteConn>::new_with_config(
                    path.to_string_lossy(),
                    config,
                );
                let pool = Pool::builder(manager)
                    .max_size(4)
                    .wait_timeout(Some(POOL_WAIT))
                    .create_timeout(Some(POOL_WAIT))
                    .runtime(deadpool::Runtime::Tokio1)
                    .build()
                    .map_err(|e| connect_error(e.to_string()))?;
                Db::Sqlite(pool)
            }
        };
        db.ping().await.map_err(|e| match e {
            StoreError::Pool(reason) => connect_error(reason),
            other => connect_error(other.to_string()),
        })?;
        Ok(db)
    }

    /// One trivial query: is the database there?
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_conn!(self, |conn| {
            conn.batch_execute("SELECT 1").await?;
            Ok(())
        })
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Db::Postgres(_) => "postgres",
            Db::Sqlite(_) => "sqlite",
        }
    }
}
