//! Rate limiter memory stays bounded under a flood of distinct keys (spoofed
//! addresses, random client ids): keys are forgotten once they are back to a full
//! allowance, and a limiter at its cap starts over rather than grow.
// Test helpers unwrap freely: an unexpected error should fail the test loudly.
#![allow(clippy::unwrap_used)]

use latchkey::config::limits::Limit;
use latchkey::services::limits::{Limiter, address_key};
use std::time::Duration;

fn flood(limiter: &Limiter, n: u32) -> usize {
    let mut peak = 0;
    for i in 0..n {
        let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
        assert!(limiter.check(&address_key(Some(ip.into()))).is_ok());
        peak = peak.max(limiter.len());
    }
    peak
}

#[test]
fn a_flood_of_distinct_keys_shrinks_back() {
    // Short period, so the test can wait for every key to refill.
    let limiter = Limiter::new(Limit::parse("5/1s").unwrap());
    flood(&limiter, 100_000);
    assert_eq!(
        limiter.len(),
        100_000,
        "every caller is tracked while it matters"
    );
    std::thread::sleep(Duration::from_millis(400));
    limiter.sweep();
    assert_eq!(limiter.len(), 0, "refilled keys are forgotten");
    // A caller still over its limit is remembered through a sweep.
    for _ in 0..5 {
        limiter.check("ip:192.0.2.1").unwrap();
    }
    assert!(limiter.check("ip:192.0.2.1").is_err());
    limiter.sweep();
    assert_eq!(limiter.len(), 1);
    assert!(limiter.check("ip:192.0.2.1").is_err(), "still refused");
}

#[test]
fn a_limiter_at_its_cap_does_not_grow() {
    // A long period: nothing refills during the flood, so only the cap can help.
    let limiter = Limiter::with_max_keys(Limit::parse("20/15m").unwrap(), 1_000);
    let peak = flood(&limiter, 100_000);
    assert!(peak <= 1_000, "peak {peak} keys");
}
