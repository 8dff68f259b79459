//! Address classes: what kind of address each side of a flow is.
//!
//! The user's own networks (CIDR to name, from the config) are checked first and take
//! precedence; then the Azure platform addresses; then the IANA special-purpose ranges.
//!
//! | class | ranges |
//! |---|---|
//! | `internal` | a network from the config (the event also carries its name) |
//! | `azure_platform` | 168.63.129.16 (Azure DNS, health probes, wire server), 169.254.169.254 (instance metadata) |
//! | `private` | 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 |
//! | `shared` | 100.64.0.0/10 (carrier-grade NAT) |
//! | `loopback` | 127.0.0.0/8, ::1 |
//! | `link_local` | 169.254.0.0/16, fe80::/10 |
//! | `unique_local` | fc00::/7 (IPv6 ULA) |
//! | `multicast` | 224.0.0.0/4, ff00::/8 |
//! | `broadcast` | 255.255.255.255 |
//! | `unspecified` | 0.0.0.0, :: |
//! | `reserved` | 0.0.0.0/8, 192.0.0.0/24, 192.0.2.0/24, 198.18.0.0/15, 198.51.100.0/24, 203.0.113.0/24, 240.0.0.0/4, 2001:db8::/32 |
//! | `public` | everything else |
//!
//! IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are classed as their IPv4 address.
//!
//! ```
//! use nsgflow::classify::{AddressClass, Classifier};
//! let c = Classifier::default();
//! assert_eq!(c.classify("10.1.2.3".parse().unwrap()).0, AddressClass::Private);
//! assert_eq!(c.classify("168.63.129.16".parse().unwrap()).0, AddressClass::AzurePlatform);
//! assert_eq!(c.classify("13.67.143.118".parse().unwrap()).0, AddressClass::Public);
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    Internal,
    AzurePlatform,
    Private,
    Shared,
    Loopback,
    LinkLocal,
    UniqueLocal,
    Multicast,
    Broadcast,
    Unspecified,
    Reserved,
    Public,
}

impl AddressClass {
    pub const ALL: [AddressClass; 12] = [
        AddressClass::Internal,
        AddressClass::AzurePlatform,
        AddressClass::Private,
        AddressClass::Shared,
        AddressClass::Loopback,
        AddressClass::LinkLocal,
        AddressClass::UniqueLocal,
        AddressClass::Multicast,
        AddressClass::Broadcast,
        AddressClass::Unspecified,
        AddressClass::Reserved,
        AddressClass::Public,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AddressClass::Internal => "internal",
            AddressClass::AzurePlatform => "azure_platform",
            AddressClass::Private => "private",
            AddressClass::Shared => "shared",
            AddressClass::Loopback => "loopback",
            AddressClass::LinkLocal => "link_local",
            AddressClass::UniqueLocal => "unique_local",
            AddressClass::Multicast => "multicast",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Reserved => "reserved",
            AddressClass::Public => "public",
        }
    }
}

/// A user network: a CIDR and the name it goes by (`hub-vnet`, `onprem-dc1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedNetwork {
    pub net: IpNet,
    pub name: String,
}

/// Classifies addresses, with the user's networks first (longest prefix wins).
#[derive(Debug, Clone, Default)]
pub struct Classifier {
    /// Sorted by prefix length, longest first, so the first match is the most specific.
    networks: Vec<NamedNetwork>,
}

impl Classifier {
    pub fn new(mut networks: Vec<NamedNetwork>) -> Self {
        networks.sort_by_key(|n| std::cmp::Reverse(n.net.prefix_len()));
        Classifier { networks }
    }

    pub fn networks(&self) -> &[NamedNetwork] {
        &self.networks
    }

    /// The class of `ip`, and the name of the user network it falls in.
    pub fn classify(&self, ip: IpAddr) -> (AddressClass, Option<&str>) {
        for n in &self.networks {
            if n.net.contains(&ip) {
                return (AddressClass::Internal, Some(n.name.as_str()));
            }
        }
        (builtin_class(ip), None)
    }
}

/// The class of an address from the special-purpose registries alone.
pub fn builtin_class(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    }
}

fn v4_class(ip: Ipv4Addr) -> AddressClass {
    let o = ip.octets();
    let n = u32::from(ip);
    let within = |base: u32, len: u32| (n ^ base) >> (32 - len) == 0;
    match o {
        [168, 63, 129, 16] | [169, 254, 169, 254] => AddressClass::AzurePlatform,
        [10, ..] => AddressClass::Private,
        [172, b, ..] if (16..32).contains(&b) => AddressClass::Private,
        [192, 168, ..] => AddressClass::Private,
        [100, b, ..] if (64..128).contains(&b) => AddressClass::Shared,
        [127, ..] => AddressClass::Loopback,
        [169, 254, ..] => AddressClass::LinkLocal,
        [255, 255, 255, 255] => AddressClass::Broadcast,
        [0, 0, 0, 0] => AddressClass::Unspecified,
        [224..=239, ..] => AddressClass::Multicast,
        [0, ..] | [240..=255, ..] => AddressClass::Reserved,
        _ if within(0xC000_0000, 24)        // 192.0.0.0/24
            || within(0xC000_0200, 24)      // 192.0.2.0/24
            || within(0xC612_0000, 15)      // 198.18.0.0/15
            || within(0xC633_6400, 24)      // 198.51.100.0/24
            || within(0xCB00_7100, 24) =>
        // 203.0.113.0/24
        {
            AddressClass::Reserved
        }
        _ => AddressClass::Public,
    }
}

fn v6_class(ip: Ipv6Addr) -> AddressClass {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_class(v4);
    }
    let s = ip.segments();
    if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if s[0] & 0xffc0 == 0xfe80 {
        AddressClass::LinkLocal
    } else if s[0] & 0xfe00 == 0xfc00 {
        AddressClass::UniqueLocal
    } else if s[0] & 0xff00 == 0xff00 {
        AddressClass::Multicast
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> &'static str {
        builtin_class(s.parse().unwrap()).as_str()
    }

    #[test]
    fn builtin_table() {
        let table = [
            ("10.0.0.1", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("172.32.0.1", "public"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "shared"),
            ("100.127.255.255", "shared"),
            ("100.128.0.1", "public"),
            ("127.0.0.1", "loopback"),
            ("169.254.1.1", "link_local"),
            ("169.254.169.254", "azure_platform"),
            ("168.63.129.16", "azure_platform"),
            ("168.63.129.17", "public"),
            ("224.0.0.5", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "reserved"),
            ("192.0.2.10", "reserved"),
            ("198.51.100.7", "reserved"),
            ("203.0.113.9", "reserved"),
            ("198.19.0.1", "reserved"),
            ("240.0.0.1", "reserved"),
            ("13.67.143.118", "public"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fe80::1", "link_local"),
            ("fd00::5", "unique_local"),
            ("fc00::1", "unique_local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "reserved"),
            ("2603:1030::1", "public"),
            ("::ffff:10.1.2.3", "private"),
            ("::ffff:168.63.129.16", "azure_platform"),
        ];
        for (ip, want) in table {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn user_networks_take_precedence_longest_first() {
        let c = Classifier::new(vec![
            NamedNetwork {
                net: "10.0.0.0/8".parse().unwrap(),
                name: "corp".into(),
            },
            NamedNetwork {
                net: "10.1.0.0/16".parse().unwrap(),
                name: "hub-vnet".into(),
            },
            NamedNetwork {
                net: "168.63.129.16/32".parse().unwrap(),
                name: "wireserver".into(),
            },
        ]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            c.classify(ip("10.1.2.3")),
            (AddressClass::Internal, Some("hub-vnet"))
        );
        assert_eq!(
            c.classify(ip("10.2.0.1")),
            (AddressClass::Internal, Some("corp"))
        );
        assert_eq!(
            c.classify(ip("168.63.129.16")),
            (AddressClass::Internal, Some("wireserver"))
        );
        assert_eq!(c.classify(ip("192.168.0.1")), (AddressClass::Private, None));
    }
}
