//! Rate limits: governor keyed limiters per endpoint, the caller's address as seen
//! through trusted proxies, and the sweeping that keeps limiter memory bounded.
//! Counters live in each instance's memory: with N instances behind a balancer, a
//! caller gets up to N times the configured rate (README, "Rate limits").

use crate::cidr::{Cidr, canonical};
use crate::config::limits::{Limit, Limits};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::IpAddr;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

/// The governor quota of a limit: `count` requests at once, refilled evenly over
/// `period`.
fn quota(limit: Limit) -> Quota {
    // `count` requests at once, refilled evenly over `period`.
    let per_cell = limit.period / limit.count.get();
    Quota::with_period(per_cell.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(limit.count))
        .allow_burst(limit.count)
}

/// Keys a limiter may hold. Reaching it forgets keys that are back to a full
/// allowance; if that is not enough the limiter starts over, so a flood of distinct
/// keys (spoofed addresses, random client ids) cannot grow memory without bound.
pub const MAX_KEYS: usize = 100_000;

/// One endpoint's keyed limiter.
pub struct Limiter {
    inner: Option<(Quota, RwLock<DefaultKeyedRateLimiter<String>>)>,
    max_keys: usize,
    /// Refusals, for metrics.
    refused: prometheus_client::metrics::counter::Counter,
}

/// Refused: retry after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for the `Retry-After` header, at least 1.
    pub fn seconds(self) -> u64 {
        (self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0)).max(1)
    }
}

impl Limiter {
    pub fn new(limit: Option<Limit>) -> Self {
        Self::with_max_keys(limit, MAX_KEYS)
    }

    pub fn with_max_keys(limit: Option<Limit>, max_keys: usize) -> Self {
        Self {
            inner: limit.map(|l| {
                let quota = quota(l);
                (quota, RwLock::new(DefaultKeyedRateLimiter::keyed(quota)))
            }),
            max_keys: max_keys.max(1),
            refused: Default::default(),
        }
    }

    /// Counts one request for `key`.
    pub fn check(&self, key: &str) -> Result<(), RetryAfter> {
        let Some((_, lock)) = &self.inner else {
            return Ok(());
        };
        let full = {
            let limiter = lock.read().unwrap_or_else(PoisonError::into_inner);
            limiter.len() >= self.max_keys
        };
        if full {
            self.sweep();
        }
        let limiter = lock.read().unwrap_or_else(PoisonError::into_inner);
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            self.refused.inc();
            RetryAfter(not_until.wait_time_from(DefaultClock::default().now()))
        })
    }

    /// Forgets keys that are back to a full allowance; if the limiter is still at its
    /// cap, starts it over (every caller gets a full allowance again).
    pub fn sweep(&self) {
        let Some((quota, lock)) = &self.inner else {
            return;
        };
        let mut limiter = lock.write().unwrap_or_else(PoisonError::into_inner);
        limiter.retain_recent();
        if limiter.len() >= self.max_keys {
            tracing::warn!(
                keys = limiter.len(),
                "rate limiter flooded with distinct keys; starting it over"
            );
            *limiter = DefaultKeyedRateLimiter::keyed(*quota);
        }
        limiter.shrink_to_fit();
    }

    /// Keys currently held.
    pub fn len(&self) -> usize {
        self.inner.as_ref().map_or(0, |(_, lock)| {
            lock.read().unwrap_or_else(PoisonError::into_inner).len()
        })
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }
}

/// The limiters of one instance.
pub struct RateLimits {
    pub token: Limiter,
    pub register: Limiter,
    pub login: Limiter,
    pub revoke: Limiter,
}

impl RateLimits {
    pub fn new(limits: &Limits) -> Self {
        Self {
            token: Limiter::new(limits.token),
            register: Limiter::new(limits.register),
            login: Limiter::new(limits.login),
            revoke: Limiter::new(limits.revoke),
        }
    }

    /// Counts each limiter's refusals in `family`, labelled with its name.
    pub fn count_refusals(
        &mut self,
        family: &prometheus_client::metrics::family::Family<
            crate::services::metrics::NameLabel,
            prometheus_client::metrics::counter::Counter,
        >,
    ) {
        for (name, limiter) in [
            ("token", &mut self.token),
            ("register", &mut self.register),
            ("login", &mut self.login),
            ("revoke", &mut self.revoke),
        ] {
            limiter.refused = family
                .get_or_create(&crate::services::metrics::NameLabel { name })
                .clone();
        }
    }

    pub fn sweep(&self) {
        for l in [&self.token, &self.register, &self.login, &self.revoke] {
            l.sweep();
        }
    }
}

/// The caller's address: the peer, or, when the peer is a trusted proxy, the last
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_address(
    peer: Option<IpAddr>,
    forwarded_for: &[&str],
    trusted: &[Cidr],
) -> Option<IpAddr> {
    let peer = canonical(peer?);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let hops: Vec<IpAddr> = forwarded_for
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .filter_map(|h| h.parse::<IpAddr>().ok())
        .map(canonical)
        .collect();
    Some(
        hops.into_iter()
            .rev()
            .find(|ip| !is_trusted(*ip))
            .unwrap_or(peer),
    )
}

/// The limiter key of an address. IPv6 callers usually own a whole /64, so that is
/// the unit; otherwise one machine could step through 2^64 keys.
pub fn address_key(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V4(v4)) => format!("ip:{v4}"),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "ip:unknown".to_owned(),
    }
}

/// The limiter key of an authenticated client.
pub fn client_key(client_id: &str) -> String {
    format!("client:{client_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refused_with_a_retry_time() {
        let l = Limiter::new(Limit::parse("3/1h").unwrap());
        for _ in 0..3 {
            assert!(l.check("a").is_ok());
        }
        let retry = l.check("a").unwrap_err();
        assert!(
            retry.seconds() > 1000 && retry.seconds() <= 1200,
            "{retry:?}"
        );
        assert!(l.check("b").is_ok(), "keys are independent");
        assert!(Limiter::new(None).check("a").is_ok());
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
        let proxy = Some("10.0.0.5".parse().unwrap());
        let outsider = Some("203.0.113.9".parse().unwrap());
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // From an untrusted peer the header is ignored.
        assert_eq!(client_address(outsider, &["1.2.3.4"], &trusted), outsider);
        // Through a proxy: the rightmost untrusted hop; earlier (client-written) hops
        // cannot override it.
        assert_eq!(
            client_address(proxy, &["6.6.6.6, 198.51.100.7, 10.0.0.9"], &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(client_address(proxy, &[], &trusted), proxy);
        assert_eq!(client_address(proxy, &["garbage"], &trusted), proxy);
    }

    #[test]
    fn ipv6_callers_are_keyed_by_their_64() {
        let a = address_key("2001:db8:1:2:aaaa::1".parse().ok());
        let b = address_key("2001:db8:1:2:bbbb::2".parse().ok());
        assert_eq!(a, b);
        assert_ne!(a, address_key("2001:db8:1:3::1".parse().ok()));
    }
}
