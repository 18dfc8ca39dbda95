//! Which IP addresses an outbound fetch may reach: public unicast only, unless the
//! operator allowed a private network (RFC 9700 §4.13's spirit: a server that
//! fetches URLs chosen by strangers must not become their way into its own network).

use crate::cidr::Cidr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The kind of non-public address `ip` is, or `None` for a public unicast address.
/// IPv4-mapped, IPv4-compatible and NAT64 forms are judged by the IPv4 address they
/// carry, so `::ffff:127.0.0.1` is loopback.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return non_public_v4(v4);
            }
            non_public_v6(v6)
        }
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() || a == 0 => "unspecified (0.0.0.0/8)",
        _ if ip.is_private() => "private (RFC 1918)",
        _ if ip.is_link_local() => "link-local (169.254.0.0/16, cloud metadata)",
        _ if a == 100 && (64..128).contains(&b) => "shared address space (CGNAT, 100.64.0.0/10)",
        _ if ip.is_multicast() => "multicast",
        _ if ip.is_broadcast() || a >= 240 => "reserved (240.0.0.0/4)",
        _ if a == 192 && b == 0 && c == 0 => "IETF protocol assignments (192.0.0.0/24)",
        _ if ip.is_documentation() => "documentation",
        _ if a == 198 && (b == 18 || b == 19) => "benchmarking (198.18.0.0/15)",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(match () {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_multicast() => "multicast",
        _ if first & 0xfe00 == 0xfc00 => "unique local (fc00::/7)",
        _ if first & 0xffc0 == 0xfe80 => "link-local (fe80::/10)",
        _ if first & 0xffc0 == 0xfec0 => "site-local (fec0::/10)",
        _ if first == 0x2001 && ip.segments()[1] == 0x0db8 => "documentation (2001:db8::/32)",
        _ if first == 0x0100 && ip.segments()[1..4] == [0, 0, 0] => "discard-only (100::/64)",
        _ => return None,
    })
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`) IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(tail);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(tail);
    }
    None
}

/// `Ok` when a fetch may connect to `ip`: it is public, or inside one of the
/// operator's `allowed` networks. The error names the kind of address.
pub fn check(ip: IpAddr, allowed: &[Cidr]) -> Result<(), String> {
    match non_public(ip) {
        None => Ok(()),
        Some(_) if allowed.iter().any(|c| c.contains(ip)) => Ok(()),
        Some(kind) => Err(format!(
            "{ip} is a {kind} address, which outbound fetches may not reach (an operator can allow a network with --fetch-allow-private)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn non_public_addresses_are_refused() {
        for s in [
            "127.0.0.1",
            "127.8.9.1",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(non_public(ip(s)).is_some(), "{s}");
            assert!(check(ip(s), &[]).is_err(), "{s}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert_eq!(non_public(ip(s)), None, "{s}");
        }
    }

    #[test]
    fn operators_may_allow_a_network() {
        let allowed = [Cidr::parse("127.0.0.0/8").unwrap()];
        assert!(check(ip("127.0.0.1"), &allowed).is_ok());
        // The mapped form of an allowed address is the same address.
        assert!(check(ip("::ffff:127.0.0.1"), &allowed).is_ok());
        assert!(check(ip("10.0.0.1"), &allowed).is_err());
        assert!(check(ip("::1"), &allowed).is_err());
    }
}
