//! The listener: where the server listens (`bind`), how many connections it serves
//! and how long it waits for them (`max_connections`, `header_timeout`,
//! `shutdown_*`), and where `GET /metrics` is served (`metrics_bind`,
//! `metrics_public`).

use super::file::{FileConfig, seconds};
use super::{ConfigError, SettingsArgs};
use std::net::SocketAddr;
use std::time::Duration;

/// The longest request target (path and query) served; longer gets 414. Browsers
/// and proxies commonly stop at 8 KiB too.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The largest header block (names, values, separators) served; larger gets 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// The most header fields served; more gets 431.
pub const MAX_HEADERS: usize = 100;

/// What the listener allows (see README "Settings").
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Open connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// A request's head must arrive within this; a keep-alive connection idle this
    /// long is closed.
    pub header_timeout: Duration,
    /// Once shutdown starts, connections keep being accepted this long with
    /// `/readyz` already 503, so balancers take the instance out first.
    pub shutdown_delay: Duration,
    /// In-flight requests get this long to finish once accepting stops.
    pub shutdown_grace: Duration,
}

/// The listener's settings, as `Settings` holds them.
pub(super) struct Listener {
    pub bind: SocketAddr,
    pub connections: ConnectionLimits,
    pub metrics_bind: Option<SocketAddr>,
    pub metrics_public: bool,
}

pub(super) fn listener(
    args: &SettingsArgs,
    file: &mut FileConfig,
) -> Result<Listener, ConfigError> {
    let bind_raw = args
        .bind
        .clone()
        .or(file.bind.take())
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let bind: SocketAddr = bind_raw.parse().map_err(|_| {
        ConfigError(format!(
            "bind `{bind_raw}` is not a socket address such as 127.0.0.1:8080 or [::]:8080"
        ))
    })?;
    let shutdown_grace = seconds(
        "shutdown_grace",
        args.shutdown_grace,
        file.shutdown_grace,
        10,
        0..=3_600,
        "",
    )?;
    let shutdown_delay = seconds("shutdown_delay", None, file.shutdown_delay, 0, 0..=600, "")?;
    let header_timeout = seconds(
        "header_timeout",
        None,
        file.header_timeout,
        10,
        1..=300,
        " (slow clients holding connections open are cut off after it)",
    )?;
    let max_connections = args
        .max_connections
        .or(file.max_connections)
        .unwrap_or(1024);
    if !(1..=1_000_000).contains(&max_connections) {
        return Err(ConfigError(format!(
            "max_connections {max_connections} is out of range: use 1 to 1000000"
        )));
    }
    let connections = ConnectionLimits {
        max_connections: max_connections as usize,
        header_timeout: Duration::from_secs(header_timeout as u64),
        shutdown_delay: Duration::from_secs(shutdown_delay as u64),
        shutdown_grace: Duration::from_secs(shutdown_grace as u64),
    };
    let metrics_bind = match args.metrics_bind.clone().or(file.metrics_bind.take()) {
        None => None,
        Some(raw) if raw.is_empty() || raw == "off" => None,
        Some(raw) => Some(raw.parse::<SocketAddr>().map_err(|_| {
            ConfigError(format!(
                "metrics_bind `{raw}` is not a socket address such as 127.0.0.1:9090"
            ))
        })?),
    };
    if metrics_bind == Some(bind) {
        return Err(ConfigError(format!(
            "metrics_bind {bind} is the public address: choose another, or set metrics_public = true to serve /metrics there"
        )));
    }
    Ok(Listener {
        bind,
        connections,
        metrics_bind,
        metrics_public: file.metrics_public.unwrap_or(false),
    })
}
