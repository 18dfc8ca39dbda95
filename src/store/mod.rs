//! Storage over PostgreSQL and SQLite with one body of query code.
//!
//! `Db` holds a pool for one backend; `with_conn!` checks a connection out and expands
//! the same query body once per backend, so each query is written once and compiled
//! twice. diesel-async has no async multi-backend connection, and generic functions
//! over its connection traits drown in bounds; the macro avoids both.

pub mod audit;
pub mod challenges;
pub mod clients;
pub mod codes;
pub mod counters;
mod database_url;
pub mod grants;
pub mod jtis;
pub mod migrate;
pub mod models;
pub mod pushed;
pub mod schema;
pub mod sessions;
pub mod tokens;
pub mod users;

pub use database_url::{DatabaseUrl, redact_url};
use diesel::SqliteConnection;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use std::time::Duration;

pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

/// Infrastructure failures. Logged once at the HTTP boundary; never shown to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database connection pool: {0}")]
    Pool(String),
    #[error("database query: {0}")]
    Query(diesel::result::Error),
    #[error("database migration: {0}")]
    Migration(String),
    #[error("cannot connect to the database {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// One failure reported to every request of a batched write (the replay
    /// cache's group commit), which cannot each own the original error.
    #[error("database write (batched): {message}")]
    Batched { message: String, unavailable: bool },
}

impl StoreError {
    /// No connection could be had (database down, pool exhausted for too long).
    pub fn pool(e: impl std::fmt::Display) -> Self {
        note_unavailable();
        Self::Pool(e.to_string())
    }

    /// Is this the database being unreachable or unwritable (answered 503), rather
    /// than a fault in a query (500)?
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Pool(_) | Self::Connect { .. } => true,
            Self::Query(e) => query_error_is_outage(e),
            Self::Batched { unavailable, .. } => *unavailable,
            Self::Migration(_) | Self::Corrupt(_) => false,
        }
    }
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        if query_error_is_outage(&e) {
            note_unavailable();
        }
        Self::Query(e)
    }
}

/// Errors that mean the database went away or cannot take writes: a closed or
/// terminated PostgreSQL connection, a server shutting down, a SQLite file that is
/// read-only, on a full disk, locked past the busy timeout or unreadable.
fn query_error_is_outage(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind as Kind, Error};
    match e {
        Error::BrokenTransactionManager => true,
        Error::DatabaseError(Kind::ClosedConnection | Kind::ReadOnlyTransaction, _) => true,
        Error::DatabaseError(Kind::Unknown, info) => {
            let message = info.message().to_ascii_lowercase();
            const SIGNS: [&str; 11] = [
                "connection",
                "terminating",
                "shutting down",
                "the database system is",
                "readonly database",
                "read-only",
                "disk is full",
                "disk i/o error",
                "unable to open database",
                "database is locked",
                "no space left",
            ];
            SIGNS.iter().any(|sign| message.contains(sign))
        }
        _ => false,
    }
}

tokio::task_local! {
    /// Set when a store call of the current request met an outage (see `watch_outage`).
    static OUTAGE: std::cell::Cell<bool>;
}

fn note_unavailable() {
    let _ = OUTAGE.try_with(|seen| seen.set(true));
}

/// Runs `fut` and tells whether any store call in it found the database unavailable,
/// however the error was reported afterwards: the HTTP layer turns such a request's
/// 500 into a 503 with `Retry-After` in one place (`http::outage`).
pub async fn watch_outage<F: std::future::Future>(fut: F) -> (F::Output, bool) {
    OUTAGE
        .scope(std::cell::Cell::new(false), async {
            let out = fut.await;
            (out, OUTAGE.with(std::cell::Cell::get))
        })
        .await
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
                let _timer = $crate::store::QueryTimer::start();
                let mut guard = pool.get().await.map_err($crate::store::StoreError::pool)?;
                let $conn = &mut *guard;
                $body
            }
            $crate::store::Db::Sqlite(pool) => {
                let _timer = $crate::store::QueryTimer::start();
                let mut guard = pool.get().await.map_err($crate::store::StoreError::pool)?;
                let $conn = &mut *guard;
                $body
            }
        }
    };
}

/// Time spent in each store call (checkout included), process-wide. The store
/// owns it (it has no handle on an instance's metrics); the metrics registry
/// publishes it as `db_query_duration_seconds`.
pub static QUERY_SECONDS: std::sync::LazyLock<Histogram> =
    std::sync::LazyLock::new(|| Histogram::new(exponential_buckets(0.000_1, 2.0, 16)));

/// Observes a store call's time (checkout included) when dropped, however the
/// call ends.
pub struct QueryTimer(std::time::Instant);

impl QueryTimer {
    pub fn start() -> Self {
        Self(std::time::Instant::now())
    }
}

impl Drop for QueryTimer {
    fn drop(&mut self) {
        QUERY_SECONDS.observe(self.0.elapsed().as_secs_f64());
    }
}

/// A pool's state: open connections, idle ones, callers waiting, the cap.
pub struct PoolStatus {
    pub size: usize,
    pub available: usize,
    pub waiting: usize,
    pub max_size: usize,
}

/// How long a request waits for a free connection before it is answered 503: long
/// enough to ride out a burst, short enough that an outage answers quickly.
const POOL_WAIT: Duration = Duration::from_secs(5);
/// How long opening (or checking) a connection may take before the attempt fails.
const CONNECT_WAIT: Duration = Duration::from_secs(3);
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
                    .create_timeout(Some(CONNECT_WAIT))
                    .recycle_timeout(Some(CONNECT_WAIT))
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
                    .create_timeout(Some(CONNECT_WAIT))
                    .recycle_timeout(Some(CONNECT_WAIT))
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

    pub fn pool_status(&self) -> PoolStatus {
        let s = match self {
            Db::Postgres(pool) => pool.status(),
            Db::Sqlite(pool) => pool.status(),
        };
        PoolStatus {
            size: s.size,
            available: s.available,
            waiting: s.waiting,
            max_size: s.max_size,
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Db::Postgres(_) => "postgres",
            Db::Sqlite(_) => "sqlite",
        }
    }
}
