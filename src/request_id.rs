//! The id of the request being served: made by `http::access_log`, carried in a task
//! local so that every log line and error page the request causes can name it.

tokio::task_local! {
    /// The id of the request being served, also on every log line it causes
    /// (set by `http::access_log`).
    static REQUEST_ID: String;
}

/// A new request id: this process's random prefix and a counter, unique across
/// instances in practice and cheap enough for every request.
pub fn next_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(crate::random::url_token::<6>);
    format!("{prefix}-{:x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Runs `fut` as the request `id`.
pub async fn with_request_id<F: std::future::Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// The current request's id ("-" outside a request).
pub fn request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_owned())
}
