//! Network prefixes as the config files and feeds write them: `10.0.0.0/16`,
//! `2001:db8::/32` or a bare address. The bottom of the module graph: anything may use it,
//! it uses nothing of the crate.

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

/// A CIDR, or a bare address (a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(pub IpNet);

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_cidr(&s).map(Cidr).map_err(serde::de::Error::custom)
    }
}

/// Parses `10.0.0.0/16`, `2001:db8::/32` or a bare address.
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<std::net::IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("`{s}` is not a CIDR (like 10.0.0.0/16) or an IP address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_bare_addresses() {
        assert_eq!(
            parse_cidr(" 10.1.2.3/16 ").unwrap().to_string(),
            "10.1.0.0/16"
        );
        assert_eq!(parse_cidr("10.1.0.5").unwrap().to_string(), "10.1.0.5/32");
        assert_eq!(
            parse_cidr("2001:db8::1/32").unwrap().to_string(),
            "2001:db8::/32"
        );
        let err = parse_cidr("10.0.0.0/33").unwrap_err();
        assert!(
            err.contains("`10.0.0.0/33`") && err.contains("CIDR"),
            "{err}"
        );
    }
}
