//! The listener: accepts connections up to a cap, serves HTTP/1.1 and HTTP/2 with
//! limits on what a client may send, and shuts down gracefully.
//!
//! poem's own `Server` cannot set hyper's header timeout or head size, nor cap
//! connections, so this loop drives hyper directly and hands each request to the
//! poem application.

use crate::config::listener::{ConnectionLimits, MAX_HEADER_BYTES, MAX_HEADERS, MAX_URI_BYTES};
use crate::services::state::Lifecycle;
use http_body_util::combinators::BoxBody;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use poem::{Endpoint, EndpointExt, IntoEndpoint};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// How the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Connections still open when the grace period ended (cut off).
    pub cut_off: usize,
}

/// The largest request head hyper reads: the longest URI and header block we serve,
/// plus room for the request line, so the finer 414/431 answers of
/// `http::limits::request_size_limits` are reached; anything larger is 431 here.
const MAX_HEAD_BYTES: usize = MAX_URI_BYTES + MAX_HEADER_BYTES + 1024;

/// During shutdown, how long a connection accepted but not yet heard from may
/// still deliver its first request.
const FIRST_REQUEST_LINGER: Duration = Duration::from_secs(1);

/// During shutdown, how long handshakes already under way get to complete once
/// new ones are refused (a round trip, with room).
const HANDSHAKE_SETTLE: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` completes, then drains: `lifecycle`
/// reports draining at once (so `/readyz` is 503), no new connection is accepted,
/// idle connections close, and requests in flight get `limits.shutdown_grace`.
pub async fn serve<E>(
    listener: TcpListener,
    app: E,
    limits: ConnectionLimits,
    lifecycle: Arc<Lifecycle>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<Stopped>
where
    E: IntoEndpoint,
    E::Endpoint: 'static,
{
    let app: Arc<dyn poem::endpoint::DynEndpoint<Output = poem::Response>> = Arc::new(
        poem::endpoint::ToDynEndpoint(app.into_endpoint().map_to_response()),
    );
    let local = listener.local_addr()?;
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let at_cap = AtomicBool::new(false);
    tokio::pin!(shutdown);
    let serve_socket = |socket, peer, permit| {
        spawn_connection(
            socket,
            local,
            peer,
            app.clone(),
            limits,
            stop_rx.clone(),
            permit,
        );
    };
    let accept_one = async |permit| match listener.accept().await {
        Ok((socket, peer)) => serve_socket(socket, peer, permit),
        Err(e) => {
            // Out of file descriptors and the like: say so, back off, go on.
            tracing::warn!(error = %e, "accepting a connection failed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };

    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = acquire(&permits, &at_cap, limits.max_connections) => {
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = accept_one(permit) => {}
                }
            }
        }
    }

    lifecycle.start_draining();
    if !limits.shutdown_delay.is_zero() {
        tracing::info!(
            delay_seconds = limits.shutdown_delay.as_secs_f32(),
            "shutting down: /readyz answers 503, still serving until the delay ends"
        );
        let _ = tokio::time::timeout(limits.shutdown_delay, async {
            loop {
                let permit = acquire(&permits, &at_cap, limits.max_connections).await;
                accept_one(permit).await;
            }
        })
        .await;
    }
    tracing::info!(
        grace_seconds = limits.shutdown_grace.as_secs_f32(),
        "shutting down: no new connections, finishing requests in flight"
    );
    // A client whose connect() succeeded must not be reset when the listener
    // closes: stop the kernel taking new handshakes, let those under way complete,
    // then serve everything in the accept queue. The queue is read with accept(2)
    // itself, not through the runtime's readiness, which may lag behind it.
    if refuse_new_handshakes(&listener) {
        tokio::time::sleep(HANDSHAKE_SETTLE).await;
    }
    let raw = socket2::SockRef::from(&listener);
    while let Ok(permit) = permits.clone().try_acquire_owned() {
        let Ok((socket, peer)) = raw.accept() else {
            break; // the queue is empty
        };
        let Some(peer) = peer.as_socket() else {
            continue;
        };
        let socket = std::net::TcpStream::from(socket);
        match socket
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpStream::from_std(socket))
        {
            Ok(socket) => serve_socket(socket, peer, permit),
            Err(e) => tracing::warn!(error = %e, "taking over a queued connection failed"),
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);

    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout(limits.shutdown_grace, permits.acquire_many(all)).await;
    let cut_off = match drained {
        Ok(_) => 0,
        Err(_) => limits.max_connections - permits.available_permits(),
    };
    if cut_off > 0 {
        tracing::warn!(
            connections = cut_off,
            "shutdown grace period over: closing connections still busy"
        );
    }
    Ok(Stopped { cut_off })
}

/// Makes the kernel drop new connection attempts (SYNs without ACK) on
/// `listener`, while handshakes already under way still complete and queue. Those
/// clients retransmit their SYN after about a second and are refused by then, as
/// the listener is closed: their request never started. Linux only (a classic BPF
/// socket filter); elsewhere, or if the kernel refuses, returns false and the
/// listener simply closes after the queue is drained.
fn refuse_new_handshakes(listener: &TcpListener) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use socket2::SockFilter;
        // The filter sees the TCP header at offset 0; byte 13 holds the flags.
        let program = [
            SockFilter::new(0x30, 0, 0, 13),       // ldb [13]
            SockFilter::new(0x54, 0, 0, 0x12),     // and #(SYN|ACK)
            SockFilter::new(0x15, 0, 1, 0x02),     // jeq #SYN -> drop, else keep
            SockFilter::new(0x06, 0, 0, 0),        // ret #0: drop
            SockFilter::new(0x06, 0, 0, u32::MAX), // ret #-1: keep all of it
        ];
        match socket2::SockRef::from(listener).attach_filter(&program) {
            Ok(()) => return true,
            Err(e) => tracing::debug!(error = %e, "cannot filter new handshakes"),
        }
    }
    let _ = listener;
    false
}

/// A connection slot; logs once each time the cap is reached.
async fn acquire(
    permits: &Arc<Semaphore>,
    at_cap: &AtomicBool,
    max: usize,
) -> tokio::sync::OwnedSemaphorePermit {
    if let Ok(permit) = permits.clone().try_acquire_owned() {
        at_cap.store(false, Ordering::Relaxed);
        return permit;
    }
    if !at_cap.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            max_connections = max,
            "connection limit reached: new connections wait until one closes (max_connections)"
        );
    }
    #[allow(clippy::expect_used)] // the semaphore is never closed
    permits
        .clone()
        .acquire_owned()
        .await
        .expect("connection semaphore closed")
}

fn spawn_connection(
    socket: tokio::net::TcpStream,
    local: SocketAddr,
    peer: SocketAddr,
    app: Arc<dyn poem::endpoint::DynEndpoint<Output = poem::Response>>,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let _ = socket.set_nodelay(true);
    let heard = Arc::new(AtomicBool::new(false));
    let heard_in_service = heard.clone();
    tokio::spawn(async move {
        let service =
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let app = app.clone();
                heard_in_service.store(true, Ordering::Relaxed);
                async move {
                    let req = poem::Request::from((
                        req,
                        poem::web::LocalAddr(poem::Addr::SocketAddr(local)),
                        poem::web::RemoteAddr(poem::Addr::SocketAddr(peer)),
                        poem::http::uri::Scheme::HTTP,
                    ));
                    let resp: hyper::Response<BoxBody<bytes::Bytes, std::io::Error>> =
                        app.get_response(req).await.into();
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_headers(MAX_HEADERS)
            .max_buf_size(MAX_HEAD_BYTES);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(limits.header_timeout))
            .keep_alive_timeout(limits.header_timeout)
            .max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX));
        let conn = builder.serve_connection(TokioIo::new(socket), service);
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => {}
            _ = async { stop.wait_for(|stopping| *stopping).await.map(|_| ()) } => {
                // A connection accepted but not yet heard from gets a moment for the
                // request its client has most likely already sent.
                if !heard.load(Ordering::Relaxed) {
                    tokio::select! {
                        _ = conn.as_mut() => { drop(permit); return; }
                        () = tokio::time::sleep(FIRST_REQUEST_LINGER) => {}
                    }
                }
                // Idle connections close now; one with a request in flight finishes
                // it (HTTP/1 answers with `Connection: close`) and then closes.
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
        drop(permit);
    });
}
