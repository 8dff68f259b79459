//! The plain labels a flow tuple's one-letter codes stand for.
//!
//! | tuple code | label type | values |
//! |---|---|---|
//! | `I` / `O` | [`Direction`] | `inbound`, `outbound` |
//! | `A` / `D` (NSG decision) | [`Action`] | `allow`, `deny` |
//! | `B` / `C` / `E` / `D` | [`FlowState`] | `begin`, `continue`, `end`, `deny` |
//! | `T` / `U` or an IANA number | [`Protocol`] | `tcp`, `udp`, `icmp`, ... |
//! | `X` / `NX...` (VNet) | [`Encryption`] | the code itself, plus `encrypted: bool` |

/// Which way the flow crossed the NIC or subnet the rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn from_code(code: &str) -> Option<Self> {
        match code.as_bytes() {
            b"I" => Some(Direction::Inbound),
            b"O" => Some(Direction::Outbound),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// What the security rule did with the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Allow,
    Deny,
}

impl Action {
    /// The NSG decision field: `A` allowed, `D` denied.
    pub fn from_code(code: &str) -> Option<Self> {
        match code.as_bytes() {
            b"A" => Some(Action::Allow),
            b"D" => Some(Action::Deny),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
        }
    }
}

/// Where in its life the flow was when the tuple was written.
///
/// NSG v2 and VNet logs write `B` when a flow begins, `C` about every five minutes while it
/// lasts (with counters since the last tuple), and `E` when it ends. VNet logs have no
/// decision field: a denied flow is logged with state `D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowState {
    Begin,
    Continue,
    End,
    Deny,
}

impl FlowState {
    pub fn from_code(code: &str, vnet: bool) -> Option<Self> {
        match code.as_bytes() {
            b"B" => Some(FlowState::Begin),
            b"C" => Some(FlowState::Continue),
            b"E" => Some(FlowState::End),
            b"D" if vnet => Some(FlowState::Deny),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::Begin => "begin",
            FlowState::Continue => "continue",
            FlowState::End => "end",
            FlowState::Deny => "deny",
        }
    }
}

/// An IP protocol, by its IANA number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Protocol(pub u8);

impl Protocol {
    pub const ICMP: Protocol = Protocol(1);
    pub const TCP: Protocol = Protocol(6);
    pub const UDP: Protocol = Protocol(17);
    pub const ICMPV6: Protocol = Protocol(58);
    pub const SCTP: Protocol = Protocol(132);

    /// NSG flow logs name the protocol with one letter: `T` or `U`.
    pub fn from_letter(code: &str) -> Option<Self> {
        match code.as_bytes() {
            b"T" => Some(Protocol::TCP),
            b"U" => Some(Protocol::UDP),
            _ => None,
        }
    }

    pub fn iana_number(self) -> u8 {
        self.0
    }

    /// The lower-case IANA keyword, for the protocols flow logs carry; `None` for others.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "icmp",
            2 => "igmp",
            4 => "ipv4",
            6 => "tcp",
            17 => "udp",
            41 => "ipv6",
            47 => "gre",
            50 => "esp",
            51 => "ah",
            58 => "ipv6-icmp",
            89 => "ospf",
            103 => "pim",
            112 => "vrrp",
            132 => "sctp",
            _ => return None,
        })
    }

    /// Whether the tuple's ports are real transport ports.
    pub fn has_ports(self) -> bool {
        matches!(self.0, 6 | 17 | 132)
    }
}

/// The VNet flow log's encryption field: `X` encrypted, or an `NX*` reason it was not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Encryption<'a>(pub &'a str);

impl<'a> Encryption<'a> {
    /// The codes Azure documents. Other codes of the same shape are kept as they are, so a
    /// reason Microsoft adds later is not lost; anything else is rejected.
    pub const KNOWN: [&'static str; 8] = [
        "X",
        "NX",
        "NX_HW_NOT_SUPPORTED",
        "NX_SW_NOT_READY",
        "NX_NOT_ACCEPTED",
        "NX_NOT_SUPPORTED",
        "NX_LOCAL_DST",
        "NX_FALLBACK",
    ];

    pub fn parse(code: &'a str) -> Option<Self> {
        let well_formed = code.as_bytes() == b"X"
            || (code.as_bytes().starts_with(b"NX")
                && code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit()));
        well_formed.then_some(Encryption(code))
    }

    pub fn code(self) -> &'a str {
        self.0
    }

    pub fn is_encrypted(self) -> bool {
        self.0.as_bytes() == b"X"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_labels() {
        assert_eq!(Direction::from_code("I").unwrap().as_str(), "inbound");
        assert_eq!(Direction::from_code("O").unwrap().as_str(), "outbound");
        assert_eq!(Direction::from_code("i"), None);
        assert_eq!(Action::from_code("D").unwrap().as_str(), "deny");
        assert_eq!(FlowState::from_code("D", true), Some(FlowState::Deny));
        assert_eq!(FlowState::from_code("D", false), None, "NSG has no D state");
        assert_eq!(Protocol::from_letter("U").unwrap().name(), Some("udp"));
        assert_eq!(Protocol(200).name(), None);
    }

    #[test]
    fn encryption_codes() {
        for code in Encryption::KNOWN {
            assert!(Encryption::parse(code).is_some(), "{code}");
        }
        assert!(Encryption::parse("X").unwrap().is_encrypted());
        assert!(!Encryption::parse("NX_FALLBACK").unwrap().is_encrypted());
        assert!(Encryption::parse("NX_NEW_REASON").is_some());
        assert!(Encryption::parse("nx").is_none());
        assert!(Encryption::parse("").is_none());
    }
}
