//! Rate limits: governor keyed limiters per endpoint, the caller's address as seen
//! through trusted proxies, and the sweeping that keeps limiter memory bounded.
//! Counters live in each instance's memory: with N instances behind a balancer, a
//! caller gets up to N times the configured rate (README, "Rate limits").

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

/// A limit as configured: `N/period` (period `30s`, `15m`, `1h`, a bare number of
/// seconds) or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub count: NonZeroU32,
    pub period: Duration,
}

impl Limit {
    /// `None` for `off`.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bad = || {
            format!(
                "`{}` is not `N/period` (e.g. 20/15m) or `off`",
                raw.escape_default()
            )
        };
        let (count, period) = raw.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let count =
            NonZeroU32::new(count).ok_or_else(|| "the count must be at least 1".to_owned())?;
        let period = period.trim();
        let (digits, unit) = match period.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => period.split_at(i),
            None => (period, "s"),
        };
        let n: u64 = if digits.is_empty() {
            1
        } else {
            digits.parse().map_err(|_| bad())?
        };
        let seconds = match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            "d" => n * 86_400,
            _ => return Err(bad()),
        };
        if seconds == 0 || seconds > 7 * 86_400 {
            return Err("the period must be between 1 second and 7 days".to_owned());
        }
        Ok(Some(Self {
            count,
            period: Duration::from_secs(seconds),
        }))
    }

    fn quota(self) -> Quota {
        // `count` requests at once, refilled evenly over `period`.
        let per_cell = self.period / self.count.get();
        Quota::with_period(per_cell.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(self.count))
            .allow_burst(self.count)
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}s", self.count, self.period.as_secs())
    }
}

/// The configured limit of each limited endpoint (`None`: off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub token: Option<Limit>,
    pub register: Option<Limit>,
    pub login: Option<Limit>,
    pub revoke: Option<Limit>,
}

/// Defaults: generous for machines, tight for registration and sign-in.
pub const DEFAULT_TOKEN: &str = "6000/1m";
pub const DEFAULT_REGISTER: &str = "20/15m";
pub const DEFAULT_LOGIN: &str = "10/1m";
pub const DEFAULT_REVOKE: &str = "600/1m";

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
                let quota = l.quota();
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
            crate::metrics::NameLabel,
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
                .get_or_create(&crate::metrics::NameLabel { name })
                .clone();
        }
    }

    pub fn sweep(&self) {
        for l in [&self.token, &self.register, &self.login, &self.revoke] {
            l.sweep();
        }
    }
}

/// A CIDR block, e.g. `10.0.0.0/8` or `::1/128`; a bare address is a single host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let bad = || {
            format!(
                "`{}` is not an IP address or CIDR block",
                raw.escape_default()
            )
        };
        let (addr, prefix) = match raw.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (raw, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), self.prefix, 32)
                    == masked(u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), self.prefix, 128)
                    == masked(u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        bits >> (width - prefix)
    }
}

/// IPv4-mapped IPv6 addresses as IPv4, so one rule covers both forms.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
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
    fn limits_parse() {
        let l = Limit::parse("20/15m").unwrap().unwrap();
        assert_eq!((l.count.get(), l.period.as_secs()), (20, 900));
        assert_eq!(Limit::parse("5/30").unwrap().unwrap().period.as_secs(), 30);
        assert_eq!(Limit::parse("5/h").unwrap().unwrap().period.as_secs(), 3600);
        assert_eq!(Limit::parse("OFF").unwrap(), None);
        for bad in ["", "20", "0/1m", "x/1m", "5/1y", "5/0s", "5/-1m", "5/30d"] {
            assert!(Limit::parse(bad).is_err(), "{bad}");
        }
    }

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
    fn cidr_matching() {
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "x", "10.0.0.0/", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
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
