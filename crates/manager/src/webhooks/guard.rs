//! Where a webhook may point. A tenant's webhook must not become a way into the manager's network:
//! some addresses are never a destination (link-local, cloud metadata, unspecified, multicast,
//! broadcast, reserved and documentation ranges), others only where the operator allows them with
//! `smartlic server --webhook-allow CIDR` (loopback and private ranges); IPv4 addresses written as
//! IPv6 (`::ffff:a.b.c.d`, NAT64, 6to4) are judged by the IPv4 address inside.
//!
//! Deliveries resolve names through [`GuardedResolver`]: every address a name resolves to is
//! checked, and the connection goes to the checked addresses only, so a name cannot resolve to a
//! public address when the webhook is added and to an internal one when it is called (DNS
//! rebinding).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, RwLock};

/// A range of addresses, `ADDRESS/PREFIX` (a bare address is a range of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// A range that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// Not `ADDRESS/PREFIX`.
    #[error("{0:?} is not an address range: expected ADDRESS/PREFIX such as 10.0.0.0/8 or fd00::/8")]
    Syntax(String),
    /// The prefix is longer than the address.
    #[error("{0:?}: the prefix length must be at most {1}")]
    Prefix(String, u8),
    /// Bits are set after the prefix (a typo, or an address where a network was meant).
    #[error("{0:?} has bits set after its prefix length (did you mean {1}?)")]
    HostBits(String, Cidr),
}

fn width(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The top `prefix` bits of an address of `width` bits, the others cleared.
fn masked(value: u128, width: u8, prefix: u8) -> u128 {
    let host = u32::from(width - prefix);
    value.checked_shr(host).unwrap_or(0).checked_shl(host).unwrap_or(0)
}

/// An IPv4 address written as an IPv4-mapped IPv6 address is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl Cidr {
    const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Cidr {
        Cidr {
            addr: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix,
        }
    }

    const fn v6(segments: [u16; 8], prefix: u8) -> Cidr {
        let [a, b, c, d, e, f, g, h] = segments;
        Cidr {
            addr: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
            prefix,
        }
    }

    /// Whether `ip` (an IPv4-mapped IPv6 address as its IPv4 address) is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        width(ip) == width(self.addr)
            && masked(bits(ip), width(ip), self.prefix) == masked(bits(self.addr), width(ip), self.prefix)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Cidr, CidrError> {
        let t = text.trim();
        let (addr, prefix) = match t.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (t, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| CidrError::Syntax(text.to_string()))?;
        let max = width(addr);
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 3 => {
                p.parse::<u8>().map_err(|_| CidrError::Prefix(text.to_string(), max))?
            }
            Some(_) => return Err(CidrError::Syntax(text.to_string())),
        };
        if prefix > max {
            return Err(CidrError::Prefix(text.to_string(), max));
        }
        let net = masked(bits(addr), max, prefix);
        if net != bits(addr) {
            let suggestion = Cidr {
                addr: match addr {
                    IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(net as u32)),
                    IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(net)),
                },
                prefix,
            };
            return Err(CidrError::HostBits(text.to_string(), suggestion));
        }
        // `::ffff:10.0.0.0/104` is the IPv4 range 10.0.0.0/8.
        if let IpAddr::V6(v6) = addr
            && prefix >= 96
            && let Some(v4) = v6.to_ipv4_mapped()
        {
            return Ok(Cidr {
                addr: IpAddr::V4(v4),
                prefix: prefix - 96,
            });
        }
        Ok(Cidr { addr, prefix })
    }
}

/// How an address may be used as a webhook's destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A public address: always.
    Public,
    /// Loopback or private: only within the operator's allow list. The text says what it is.
    Internal(&'static str),
    /// Never, whatever the allow list says. The text says what it is.
    Never(&'static str),
}

use Verdict::{Internal, Never};

const METADATA: &str = "a cloud metadata service address";

/// IPv4 ranges that are not public, most specific first.
const V4: &[(Cidr, Verdict)] = &[
    (Cidr::v4(169, 254, 169, 254, 32), Never(METADATA)),
    (Cidr::v4(100, 100, 100, 200, 32), Never(METADATA)), // Alibaba Cloud
    (Cidr::v4(168, 63, 129, 16, 32), Never(METADATA)),   // Azure WireServer
    (
        Cidr::v4(0, 0, 0, 0, 8),
        Never("an unspecified (\"this network\") address"),
    ),
    (Cidr::v4(169, 254, 0, 0, 16), Never("a link-local address")),
    (Cidr::v4(192, 0, 0, 0, 24), Never("an IETF protocol assignment")),
    (Cidr::v4(192, 0, 2, 0, 24), Never("a documentation address")),
    (Cidr::v4(198, 51, 100, 0, 24), Never("a documentation address")),
    (Cidr::v4(203, 0, 113, 0, 24), Never("a documentation address")),
    (Cidr::v4(198, 18, 0, 0, 15), Never("a benchmarking address")),
    (Cidr::v4(224, 0, 0, 0, 4), Never("a multicast address")),
    (Cidr::v4(255, 255, 255, 255, 32), Never("the broadcast address")),
    (Cidr::v4(240, 0, 0, 0, 4), Never("a reserved address")),
    (Cidr::v4(127, 0, 0, 0, 8), Internal("a loopback address")),
    (Cidr::v4(10, 0, 0, 0, 8), Internal("a private address")),
    (Cidr::v4(172, 16, 0, 0, 12), Internal("a private address")),
    (Cidr::v4(192, 168, 0, 0, 16), Internal("a private address")),
    (
        Cidr::v4(100, 64, 0, 0, 10),
        Internal("a shared (carrier-grade NAT) address"),
    ),
];

/// IPv6 ranges that are not public (apart from those holding an IPv4 address), most specific
/// first.
const V6: &[(Cidr, Verdict)] = &[
    (Cidr::v6([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128), Never(METADATA)), // AWS
    (Cidr::v6([0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254], 128), Never(METADATA)),  // Google Cloud
    (
        Cidr::v6([0, 0, 0, 0, 0, 0, 0, 0], 128),
        Never("the unspecified address"),
    ),
    (Cidr::v6([0, 0, 0, 0, 0, 0, 0, 1], 128), Internal("a loopback address")),
    (
        Cidr::v6([0, 0, 0, 0, 0, 0, 0, 0], 96),
        Never("an IPv4-compatible (deprecated) address"),
    ),
    (
        Cidr::v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        Never("a local-use NAT64 address"),
    ),
    (
        Cidr::v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
        Never("a discard-only address"),
    ),
    (
        Cidr::v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        Never("a documentation address"),
    ),
    (Cidr::v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32), Never("a Teredo address")),
    (
        Cidr::v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        Never("a link-local address"),
    ),
    (
        Cidr::v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        Never("a site-local (deprecated) address"),
    ),
    (Cidr::v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), Never("a multicast address")),
    (
        Cidr::v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        Internal("a unique local (private) address"),
    ),
];

/// What `ip` is, as a webhook's destination.
pub fn classify(ip: IpAddr) -> Verdict {
    let ip = canonical(ip);
    let rules = match ip {
        IpAddr::V4(_) => V4,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address inside. An internal
            // one is allowed only where the allow list names the IPv6 address itself.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let inner = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
                return classify(IpAddr::V4(inner));
            }
            if s[0] == 0x2002 {
                let inner = Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2]));
                return classify(IpAddr::V4(inner));
            }
            V6
        }
    };
    rules
        .iter()
        .find(|(range, _)| range.contains(ip))
        .map_or(Verdict::Public, |(_, v)| *v)
}

/// Whether `ip` may be called, given the operator's allow list; the reason if not.
pub fn check_addr(ip: IpAddr, allow: &[Cidr]) -> Result<(), String> {
    match classify(ip) {
        Verdict::Public => Ok(()),
        Verdict::Never(what) => Err(format!("{ip} is {what}, never a webhook's destination")),
        Verdict::Internal(_) if allow.iter().any(|c| c.contains(ip)) => Ok(()),
        Verdict::Internal(what) => Err(format!(
            "{ip} is {what}, allowed only within the ranges of `smartlic server --webhook-allow`"
        )),
    }
}

/// The operator's allow list, shared by a manager's checks and its delivery client.
#[derive(Debug, Clone, Default)]
pub struct AllowList(Arc<RwLock<Arc<[Cidr]>>>);

impl AllowList {
    /// The ranges now.
    pub fn get(&self) -> Arc<[Cidr]> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the ranges.
    pub fn set(&self, ranges: Vec<Cidr>) {
        let ranges: Arc<[Cidr]> = ranges.into();
        match self.0.write() {
            Ok(mut g) => *g = ranges,
            Err(poisoned) => *poisoned.into_inner() = ranges,
        }
    }
}

/// A name that may not be called.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    /// The name does not resolve.
    #[error("{host} does not resolve: {source}")]
    Resolve {
        /// The name.
        host: String,
        /// Why.
        source: std::io::Error,
    },
    /// The name resolves to no address.
    #[error("{0} resolves to no address")]
    NoAddress(String),
    /// The name resolves to an address that may not be called.
    #[error("{host} resolves to {reason}")]
    Refused {
        /// The name.
        host: String,
        /// Why.
        reason: String,
    },
}

/// Resolves `host` and checks every address it resolves to; the addresses (port 0) if all pass.
pub async fn resolve_checked(host: &str, allow: &[Cidr]) -> Result<Vec<SocketAddr>, AddressError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|source| AddressError::Resolve {
            host: host.to_string(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(AddressError::NoAddress(host.to_string()));
    }
    for a in &addrs {
        check_addr(a.ip(), allow).map_err(|reason| AddressError::Refused {
            host: host.to_string(),
            reason,
        })?;
    }
    Ok(addrs)
}

/// The delivery client's resolver: a name is called only at addresses that passed the check.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    allow: AllowList,
}

impl GuardedResolver {
    /// A resolver checking against `allow`.
    pub fn new(allow: AllowList) -> GuardedResolver {
        GuardedResolver { allow }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow.get();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = resolve_checked(&host, &allow).await?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_contain() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(ip("10.255.1.2")) && !c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped is the IPv4 address");
        assert_eq!(c.to_string(), "10.0.0.0/8");
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert_eq!(one.to_string(), "127.0.0.1/32");
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")) && !v6.contains(ip("10.0.0.1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("1.2.3.4")) && !all.contains(ip("::1")));
        let all6: Cidr = "::/0".parse().unwrap();
        assert!(all6.contains(ip("2001:db8::1")));
        let mapped: Cidr = "::ffff:10.0.0.0/104".parse().unwrap();
        assert_eq!(mapped.to_string(), "10.0.0.0/8");
        for bad in [
            "",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "x/8",
            "10.0.0.0/8/8",
            "10.0.0.0/+8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        let e = "192.168.1.5/24".parse::<Cidr>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"192.168.1.5/24\" has bits set after its prefix length (did you mean 192.168.1.0/24?)"
        );
    }

    #[test]
    fn addresses_are_judged() {
        let allow: Vec<Cidr> = vec!["127.0.0.0/8".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        for never in [
            "169.254.169.254",
            "169.254.1.1",
            "100.100.100.200",
            "168.63.129.16",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "::",
            "fe80::1",
            "ff02::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "::127.0.0.1",
            "2001:db8::1",
        ] {
            assert!(matches!(classify(ip(never)), Verdict::Never(_)), "{never}");
            assert!(check_addr(ip(never), &allow).is_err(), "{never}");
            let everything: Vec<Cidr> = vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()];
            assert!(check_addr(ip(never), &everything).is_err(), "{never} even if allowed");
        }
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "100.64.0.1",
            "::1",
            "fc00::1",
            "fd12::1",
            "::ffff:127.0.0.1",
            "::ffff:192.168.0.1",
        ] {
            assert!(matches!(classify(ip(internal)), Verdict::Internal(_)), "{internal}");
            assert!(
                check_addr(ip(internal), &[]).is_err(),
                "{internal} without an allow list"
            );
        }
        assert!(check_addr(ip("127.0.0.1"), &allow).is_ok());
        assert!(check_addr(ip("::ffff:10.9.9.9"), &allow).is_ok());
        assert!(check_addr(ip("192.168.0.1"), &allow).is_err());
        assert!(
            check_addr(ip("::1"), &allow).is_err(),
            "IPv6 loopback is not in 127.0.0.0/8"
        );
        for public in ["1.1.1.1", "8.8.8.8", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert_eq!(classify(ip(public)), Verdict::Public, "{public}");
            assert!(check_addr(ip(public), &[]).is_ok());
        }
        let e = check_addr(ip("10.0.0.1"), &[]).unwrap_err();
        assert!(e.contains("--webhook-allow"), "{e}");
    }
}
