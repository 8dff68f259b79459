//! One flow tuple: the comma-separated string inside `flowTuples`.
//!
//! | layout | fields |
//! |---|---|
//! | NSG v1 (8) | `ts_s,src_ip,dst_ip,src_port,dst_port,proto(T/U),dir,decision` |
//! | NSG v2 (13) | v1 + `state,pkts_s2d,bytes_s2d,pkts_d2s,bytes_d2s` |
//! | VNet v4 (13) | `ts_ms,src_ip,dst_ip,src_port,dst_port,proto_num,dir,state,encryption,pkts_s2d,bytes_s2d,pkts_d2s,bytes_d2s` |
//!
//! A well-formed tuple is read in one pass, each field parsed as the scan for its comma
//! goes (`tuple/fast.rs`); anything else is split and parsed field by field, which names
//! the bad field. Parsing borrows from the input and allocates nothing but an error's
//! text. Empty counters (`B` tuples write `,,,,`) stay `None`; an explicit `0` stays
//! `Some(0)`.
//!
//! ```
//! use nsgflow::tuple::{FlowTuple, TupleLayout};
//! let t = FlowTuple::parse("1542110379,10.5.16.4,13.67.143.117,59932,443,T,O,A,E,1,66,1,66",
//!                          TupleLayout::NsgV2).unwrap();
//! assert_eq!(t.timestamp_ms, 1_542_110_379_000);
//! assert_eq!(t.dst_port, 443);
//! assert_eq!(t.action.as_str(), "allow");
//! assert_eq!(t.bytes_src_to_dst, Some(66));
//!
//! let b = FlowTuple::parse("1542110377,10.5.16.4,13.67.143.118,59831,443,T,O,A,B,,,,",
//!                          TupleLayout::NsgV2).unwrap();
//! assert_eq!(b.packets_src_to_dst, None);
//! ```

use std::fmt;
use std::net::IpAddr;

use crate::labels::{Action, Direction, Encryption, FlowState, Protocol};

mod fast;

/// Which tuple layout a record uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TupleLayout {
    NsgV1,
    NsgV2,
    Vnet,
}

impl TupleLayout {
    pub fn field_count(self) -> usize {
        match self {
            TupleLayout::NsgV1 => 8,
            TupleLayout::NsgV2 | TupleLayout::Vnet => 13,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TupleLayout::NsgV1 => "NSG v1",
            TupleLayout::NsgV2 => "NSG v2",
            TupleLayout::Vnet => "VNet",
        }
    }

    fn field_name(self, index: usize) -> &'static str {
        const NSG: [&str; 13] = [
            "timestamp",
            "src_ip",
            "dst_ip",
            "src_port",
            "dst_port",
            "protocol",
            "direction",
            "decision",
            "state",
            "packets_src_to_dst",
            "bytes_src_to_dst",
            "packets_dst_to_src",
            "bytes_dst_to_src",
        ];
        const VNET: [&str; 13] = [
            "timestamp",
            "src_ip",
            "dst_ip",
            "src_port",
            "dst_port",
            "protocol",
            "direction",
            "state",
            "encryption",
            "packets_src_to_dst",
            "bytes_src_to_dst",
            "packets_dst_to_src",
            "bytes_dst_to_src",
        ];
        match self {
            TupleLayout::Vnet => VNET[index],
            _ => NSG[index],
        }
    }
}

/// A parsed flow tuple, borrowing its address text from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowTuple<'a> {
    /// Milliseconds since the Unix epoch (NSG tuples carry seconds; they are scaled).
    pub timestamp_ms: u64,
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    /// The addresses exactly as written in the tuple.
    pub src_ip_text: &'a str,
    pub dst_ip_text: &'a str,
    pub src_port: u16,
    pub dst_port: u16,
    pub protocol: Protocol,
    pub direction: Direction,
    pub action: Action,
    /// `None` for NSG v1, which has no state.
    pub state: Option<FlowState>,
    /// VNet only.
    pub encryption: Option<Encryption<'a>>,
    pub packets_src_to_dst: Option<u64>,
    pub bytes_src_to_dst: Option<u64>,
    pub packets_dst_to_src: Option<u64>,
    pub bytes_dst_to_src: Option<u64>,
}

/// Why a tuple was rejected: the field, its text, and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TupleError {
    pub reason: TupleErrorReason,
    /// Which field (0-based) was bad, when one was.
    pub field: Option<usize>,
    pub detail: String,
}

/// The stable, countable reason codes of [`TupleError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TupleErrorReason {
    FieldCount,
    Timestamp,
    Address,
    Port,
    Protocol,
    Direction,
    Decision,
    State,
    Encryption,
    Counter,
}

impl TupleErrorReason {
    pub fn code(self) -> &'static str {
        match self {
            TupleErrorReason::FieldCount => "tuple_field_count",
            TupleErrorReason::Timestamp => "tuple_timestamp",
            TupleErrorReason::Address => "tuple_address",
            TupleErrorReason::Port => "tuple_port",
            TupleErrorReason::Protocol => "tuple_protocol",
            TupleErrorReason::Direction => "tuple_direction",
            TupleErrorReason::Decision => "tuple_decision",
            TupleErrorReason::State => "tuple_state",
            TupleErrorReason::Encryption => "tuple_encryption",
            TupleErrorReason::Counter => "tuple_counter",
        }
    }
}

impl fmt::Display for TupleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for TupleError {}

/// VNet timestamps are milliseconds, but one documented example uses seconds. Any value
/// below this (in 2001 as milliseconds, in 5138 as seconds) is read as seconds.
const SECONDS_BELOW: u64 = 100_000_000_000;

impl<'a> FlowTuple<'a> {
    /// Parses one tuple string in the given layout.
    #[inline]
    pub fn parse(text: &'a str, layout: TupleLayout) -> Result<Self, TupleError> {
        match fast::parse(text, layout) {
            Some(t) => Ok(t),
            None => Self::parse_fields(text, layout),
        }
    }

    /// A tuple written as a JSON string (its opening quote at `quote` in `json`), read in
    /// place when it is well formed and holds no escape; with the offset past its closing
    /// quote. `None` leaves the string to be decoded and given to [`FlowTuple::parse`].
    #[inline]
    pub fn parse_quoted(json: &'a str, quote: usize, layout: TupleLayout) -> Option<(Self, usize)> {
        fast::parse_quoted(json, quote, layout)
    }

    /// The two-pass parser: split, then parse each field; it names what is wrong.
    fn parse_fields(text: &'a str, layout: TupleLayout) -> Result<Self, TupleError> {
        let mut fields = [""; 13];
        let count = split_fields(text, &mut fields);
        let expected = layout.field_count();
        if count != expected {
            return Err(TupleError {
                reason: TupleErrorReason::FieldCount,
                field: None,
                detail: format!(
                    "{} tuple has {count} comma-separated fields, expected {expected}",
                    layout.name()
                ),
            });
        }
        let bad = |index: usize, reason: TupleErrorReason, what: &str| TupleError {
            reason,
            field: Some(index),
            detail: format!(
                "field {} ({}) is `{}`: {what}",
                index + 1,
                layout.field_name(index),
                fields[index]
            ),
        };

        let ts = parse_u64(fields[0])
            .ok_or_else(|| bad(0, TupleErrorReason::Timestamp, "expected Unix time digits"))?;
        let timestamp_ms = match layout {
            TupleLayout::Vnet if ts >= SECONDS_BELOW => ts,
            _ => ts
                .checked_mul(1000)
                .ok_or_else(|| bad(0, TupleErrorReason::Timestamp, "timestamp out of range"))?,
        };
        let src_ip = parse_ip(fields[1])
            .ok_or_else(|| bad(1, TupleErrorReason::Address, "not an IPv4 or IPv6 address"))?;
        let dst_ip = parse_ip(fields[2])
            .ok_or_else(|| bad(2, TupleErrorReason::Address, "not an IPv4 or IPv6 address"))?;
        let src_port = parse_port(fields[3])
            .ok_or_else(|| bad(3, TupleErrorReason::Port, "expected a port 0-65535"))?;
        let dst_port = parse_port(fields[4])
            .ok_or_else(|| bad(4, TupleErrorReason::Port, "expected a port 0-65535"))?;
        let protocol = match layout {
            TupleLayout::Vnet => parse_u64(fields[5])
                .filter(|&n| n <= 255)
                .map(|n| Protocol(n as u8))
                .ok_or_else(|| {
                    bad(
                        5,
                        TupleErrorReason::Protocol,
                        "expected an IANA protocol number 0-255",
                    )
                })?,
            _ => Protocol::from_letter(fields[5])
                .ok_or_else(|| bad(5, TupleErrorReason::Protocol, "expected T (TCP) or U (UDP)"))?,
        };
        let direction = Direction::from_code(fields[6]).ok_or_else(|| {
            bad(
                6,
                TupleErrorReason::Direction,
                "expected I (inbound) or O (outbound)",
            )
        })?;

        let (action, state, encryption) = match layout {
            TupleLayout::NsgV1 | TupleLayout::NsgV2 => {
                let action = Action::from_code(fields[7]).ok_or_else(|| {
                    bad(
                        7,
                        TupleErrorReason::Decision,
                        "expected A (allow) or D (deny)",
                    )
                })?;
                let state = if layout == TupleLayout::NsgV2 {
                    Some(
                        FlowState::from_code(fields[8], false)
                            .ok_or_else(|| bad(8, TupleErrorReason::State, "expected B, C or E"))?,
                    )
                } else {
                    None
                };
                (action, state, None)
            }
            TupleLayout::Vnet => {
                let state = FlowState::from_code(fields[7], true)
                    .ok_or_else(|| bad(7, TupleErrorReason::State, "expected B, C, E or D"))?;
                let encryption = Encryption::parse(fields[8]).ok_or_else(|| {
                    bad(
                        8,
                        TupleErrorReason::Encryption,
                        "expected X or an NX_* code",
                    )
                })?;
                (vnet_action(state), Some(state), Some(encryption))
            }
        };

        let mut counters = [None; 4];
        if layout != TupleLayout::NsgV1 {
            for (k, slot) in counters.iter_mut().enumerate() {
                let field = fields[9 + k];
                if !field.is_empty() {
                    *slot = Some(parse_u64(field).ok_or_else(|| {
                        bad(
                            9 + k,
                            TupleErrorReason::Counter,
                            "expected digits or nothing",
                        )
                    })?);
                }
            }
        }

        Ok(FlowTuple::assemble(
            timestamp_ms,
            [(src_ip, fields[1], src_port), (dst_ip, fields[2], dst_port)],
            protocol,
            direction,
            (action, state, encryption),
            counters,
        ))
    }

    /// The tuple from its parsed parts: each side's address, its text and port; the
    /// decision, state and encryption; the four counters.
    #[inline(always)]
    fn assemble(
        timestamp_ms: u64,
        [(src_ip, src_ip_text, src_port), (dst_ip, dst_ip_text, dst_port)]: [(IpAddr, &'a str, u16);
            2],
        protocol: Protocol,
        direction: Direction,
        (action, state, encryption): (Action, Option<FlowState>, Option<Encryption<'a>>),
        counters: [Option<u64>; 4],
    ) -> Self {
        FlowTuple {
            timestamp_ms,
            src_ip,
            dst_ip,
            src_ip_text,
            dst_ip_text,
            src_port,
            dst_port,
            protocol,
            direction,
            action,
            state,
            encryption,
            packets_src_to_dst: counters[0],
            bytes_src_to_dst: counters[1],
            packets_dst_to_src: counters[2],
            bytes_dst_to_src: counters[3],
        }
    }
}

/// VNet tuples have no decision field: a denied flow is logged with state `D`.
#[inline(always)]
fn vnet_action(state: FlowState) -> Action {
    if state == FlowState::Deny {
        Action::Deny
    } else {
        Action::Allow
    }
}

/// Splits `text` on commas into `fields` (up to 13; later fields are counted, not kept) and
/// returns the number of fields. Eight bytes at a time: a tuple is ~60 bytes with 7 or 12
/// commas. (Well-formed tuples take the one-pass parser in `fast` and never get here.)
fn split_fields<'a>(text: &'a str, fields: &mut [&'a str; 13]) -> usize {
    const COMMAS: u64 = u64::from_ne_bytes([b','; 8]);
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let b = text.as_bytes();
    let mut count = 0usize;
    let mut start = 0usize;
    let mut field = |pos: usize, count: &mut usize, start: &mut usize| {
        if *count < 13 {
            fields[*count] = &text[*start..pos];
        }
        *count += 1;
        *start = pos + 1;
    };
    let mut i = 0;
    while i + 8 <= b.len() {
        let word = u64::from_le_bytes([
            b[i],
            b[i + 1],
            b[i + 2],
            b[i + 3],
            b[i + 4],
            b[i + 5],
            b[i + 6],
            b[i + 7],
        ]);
        let x = word ^ COMMAS;
        // High bit set exactly in the bytes of `x` that are zero (the commas).
        let mut hits = !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7);
        while hits != 0 {
            field(
                i + (hits.trailing_zeros() / 8) as usize,
                &mut count,
                &mut start,
            );
            hits &= hits - 1;
        }
        i += 8;
    }
    for (k, &c) in b[i..].iter().enumerate() {
        if c == b',' {
            field(i + k, &mut count, &mut start);
        }
    }
    if count < 13 {
        fields[count] = &text[start..];
    }
    count + 1
}

/// Decimal digits only (no sign, no spaces), without overflow.
fn parse_u64(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    if b.len() <= 19 {
        // Nineteen digits cannot overflow a u64.
        let mut v: u64 = 0;
        for &c in b {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + d as u64;
        }
        return Some(v);
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

fn parse_port(s: &str) -> Option<u16> {
    if s.len() > 5 {
        return None;
    }
    parse_u64(s).and_then(|v| u16::try_from(v).ok())
}

/// IPv4 dotted quads take a fast path; anything else goes to the standard parser.
fn parse_ip(s: &str) -> Option<IpAddr> {
    parse_ipv4(s)
        .map(IpAddr::V4)
        .or_else(|| s.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6))
}

fn parse_ipv4(s: &str) -> Option<std::net::Ipv4Addr> {
    let b = s.as_bytes();
    if b.len() < 7 || b.len() > 15 {
        return None;
    }
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, octet) in octets.iter_mut().enumerate() {
        let start = i;
        let mut v: u32 = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            // Four digits already make the octet invalid: stop accumulating (a run of
            // ten or more digits would overflow).
            if i - start < 4 {
                v = v * 10 + (b[i] - b'0') as u32;
            }
            i += 1;
        }
        let len = i - start;
        // No empty octets, no leading zeros (as the standard parser), no values over 255.
        if len == 0 || len > 3 || v > 255 || (len > 1 && b[start] == b'0') {
            return None;
        }
        *octet = v as u8;
        if k < 3 {
            if i >= b.len() || b[i] != b'.' {
                return None;
            }
            i += 1;
        }
    }
    (i == b.len()).then(|| std::net::Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nsg_v1_tuple() {
        let t = FlowTuple::parse(
            "1487282421,192.0.2.95,10.1.0.4,51529,5358,T,I,D",
            TupleLayout::NsgV1,
        )
        .unwrap();
        assert_eq!(t.timestamp_ms, 1_487_282_421_000);
        assert_eq!(t.src_ip_text, "192.0.2.95");
        assert_eq!(t.direction, Direction::Inbound);
        assert_eq!(t.action, Action::Deny);
        assert_eq!(t.state, None);
        assert_eq!(t.bytes_dst_to_src, None);
    }

    #[test]
    fn vnet_tuple_with_ms_and_seconds() {
        let ms = FlowTuple::parse(
            "1663146003606,10.0.0.6,52.239.184.180,23956,443,6,O,E,NX,3,767,2,1580",
            TupleLayout::Vnet,
        )
        .unwrap();
        assert_eq!(ms.timestamp_ms, 1_663_146_003_606);
        assert_eq!(ms.encryption.unwrap().code(), "NX");
        assert_eq!(ms.bytes_dst_to_src, Some(1580));
        let s = FlowTuple::parse(
            "1493763938,185.170.185.105,10.2.0.4,35370,23,6,I,B,NX,,,,",
            TupleLayout::Vnet,
        )
        .unwrap();
        assert_eq!(s.timestamp_ms, 1_493_763_938_000);
        assert_eq!(s.packets_src_to_dst, None);
        let d = FlowTuple::parse(
            "1663146003599,10.0.0.6,10.0.0.7,1,22,6,I,D,NX,0,0,0,0",
            TupleLayout::Vnet,
        )
        .unwrap();
        assert_eq!(d.action, Action::Deny);
        assert_eq!(d.state, Some(FlowState::Deny));
        assert_eq!(d.packets_src_to_dst, Some(0), "explicit zero stays zero");
    }

    #[test]
    fn ipv6_tuple() {
        let t = FlowTuple::parse(
            "1663146003599,2001:db8::1,fd00::5,443,51000,17,O,C,X,1,2,3,4",
            TupleLayout::Vnet,
        )
        .unwrap();
        assert!(t.src_ip.is_ipv6());
        assert_eq!(t.protocol, Protocol::UDP);
    }

    #[test]
    fn errors_name_the_field_and_text() {
        let cases = [
            (
                "1,1.1.1.1,2.2.2.2,1,2,T,I",
                TupleErrorReason::FieldCount,
                "has 7",
            ),
            (
                "x,1.1.1.1,2.2.2.2,1,2,T,I,A",
                TupleErrorReason::Timestamp,
                "field 1 (timestamp) is `x`",
            ),
            (
                "1,10.0.0.300,2.2.2.2,1,2,T,I,A",
                TupleErrorReason::Address,
                "field 2 (src_ip) is `10.0.0.300`",
            ),
            (
                "1,1.1.1.1,2.2.2.2,1,70000,T,I,A",
                TupleErrorReason::Port,
                "field 5 (dst_port)",
            ),
            (
                "1,1.1.1.1,2.2.2.2,1,2,X,I,A",
                TupleErrorReason::Protocol,
                "T (TCP) or U (UDP)",
            ),
            (
                "1,1.1.1.1,2.2.2.2,1,2,T,Z,A",
                TupleErrorReason::Direction,
                "`Z`",
            ),
            (
                "1,1.1.1.1,2.2.2.2,1,2,T,I,Q",
                TupleErrorReason::Decision,
                "`Q`",
            ),
        ];
        for (text, reason, needle) in cases {
            let err = FlowTuple::parse(text, TupleLayout::NsgV1).unwrap_err();
            assert_eq!(err.reason, reason, "{text}");
            assert!(err.detail.contains(needle), "{text}: {}", err.detail);
        }
        let err =
            FlowTuple::parse("1,1.1.1.1,2.2.2.2,1,2,T,I,A,K,,,,", TupleLayout::NsgV2).unwrap_err();
        assert_eq!(err.reason, TupleErrorReason::State);
        let err = FlowTuple::parse(
            "1,1.1.1.1,2.2.2.2,1,2,T,I,A,C,1,12a,1,1",
            TupleLayout::NsgV2,
        )
        .unwrap_err();
        assert_eq!(err.reason, TupleErrorReason::Counter);
        assert!(err.detail.contains("field 11 (bytes_src_to_dst) is `12a`"));
        let err = FlowTuple::parse(
            "1,1.1.1.1,2.2.2.2,1,2,6,I,B,maybe,0,0,0,0",
            TupleLayout::Vnet,
        )
        .unwrap_err();
        assert_eq!(err.reason, TupleErrorReason::Encryption);
    }

    #[test]
    fn split_agrees_with_str_split() {
        for text in [
            "",
            ",",
            "a,b",
            "1542110379,10.5.16.4,13.67.143.117,59932,443,T,O,A,E,1,66,1,66",
            "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16",
            ",,,,,,,,,,,,,,,,,,,,",
            "12345678,",
            "1234567,8",
            "2001:db8::1,fd00::5,é,ü",
        ] {
            let mut fields = [""; 13];
            let n = split_fields(text, &mut fields);
            let want: Vec<&str> = text.split(',').collect();
            assert_eq!(n, want.len(), "{text}");
            assert_eq!(&fields[..n.min(13)], &want[..n.min(13)], "{text}");
        }
    }

    #[test]
    fn one_pass_parser_agrees_with_the_two_pass_one() {
        let good = [
            (
                "1542110379,10.5.16.4,13.67.143.117,59932,443,T,O,A,E,1,66,1,66",
                TupleLayout::NsgV2,
            ),
            (
                "1542110377,10.5.16.4,13.67.143.118,59831,443,T,O,A,B,,,,",
                TupleLayout::NsgV2,
            ),
            (
                "1487282421,192.0.2.95,10.1.0.4,51529,5358,T,I,D",
                TupleLayout::NsgV1,
            ),
            (
                "1663146003606,10.0.0.6,52.239.184.180,23956,443,6,O,E,NX,3,767,2,1580",
                TupleLayout::Vnet,
            ),
            (
                "1493763938,185.170.185.105,10.2.0.4,35370,23,6,I,B,NX,,,,",
                TupleLayout::Vnet,
            ),
            (
                "1663146003599,10.0.0.6,10.0.0.7,1,22,6,I,D,NX_HW_NOT_SUPPORTED,0,0,0,0",
                TupleLayout::Vnet,
            ),
            (
                "1663146003599,2001:db8::1,fd00::5,443,51000,17,O,C,X,1,2,3,4",
                TupleLayout::Vnet,
            ),
            (
                "1663146003599,::ffff:10.0.0.1,10.0.0.7,0,65535,1,I,C,X,9999999999999999999,0,0,9",
                TupleLayout::Vnet,
            ),
        ];
        // Every tuple above, and each with one byte replaced, removed or doubled: where
        // the one-pass parser gives a tuple, the two-pass parser gives the same one.
        let swaps = b"0 19,.:-aAxTUIODBCEXN_\"\xc3";
        let mut checked = 0;
        let mut fast_hits = 0;
        for (text, layout) in good {
            assert!(
                fast::parse(text, layout).is_some(),
                "fast path not taken: {text}"
            );
            let b = text.as_bytes();
            let mut variants = vec![b.to_vec()];
            for i in 0..b.len() {
                for &c in swaps {
                    let mut v = b.to_vec();
                    v[i] = c;
                    variants.push(v);
                }
                let mut v = b.to_vec();
                v.remove(i);
                variants.push(v);
                let mut v = b.to_vec();
                v.insert(i, b[i]);
                variants.push(v);
            }
            for v in variants {
                let Ok(t) = std::str::from_utf8(&v) else {
                    continue;
                };
                for layout in [TupleLayout::NsgV1, TupleLayout::NsgV2, TupleLayout::Vnet] {
                    checked += 1;
                    // An IPv4 address is accepted only as its standard dotted quad (no
                    // leading zero, no space): its text is the address's own rendering.
                    if let Ok(p) = FlowTuple::parse(t, layout) {
                        for (ip, text) in [(p.src_ip, p.src_ip_text), (p.dst_ip, p.dst_ip_text)] {
                            if ip.is_ipv4() {
                                assert_eq!(ip.to_string(), text, "{t} as {layout:?}");
                            }
                        }
                    }
                    if let Some(f) = fast::parse(t, layout) {
                        fast_hits += 1;
                        assert_eq!(
                            Ok(f),
                            FlowTuple::parse_fields(t, layout),
                            "{t} as {layout:?}"
                        );
                    }
                    // In place in the JSON text: the tuple of the JSON string's text,
                    // which has no escape.
                    let json = format!("[\"{t}\",1]");
                    if let Some((f, end)) = FlowTuple::parse_quoted(&json, 1, layout) {
                        let string = &json[2..end - 1];
                        assert!(!string.contains(['"', '\\']), "{t}");
                        assert_eq!(&json[end - 1..end], "\"", "{t}");
                        assert_eq!(Some(f), fast::parse(string, layout), "{t} as {layout:?}");
                    } else if !t.contains(['"', '\\']) {
                        assert_eq!(fast::parse(t, layout), None, "{t} as {layout:?}");
                    }
                }
            }
        }
        assert!(
            checked > 10_000 && fast_hits > 1_000,
            "{checked} {fast_hits}"
        );
    }

    #[test]
    fn u64_digits() {
        assert_eq!(parse_u64("0"), Some(0));
        assert_eq!(
            parse_u64("9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64("18446744073709551616"), None);
        assert_eq!(parse_u64("12a"), None);
        assert_eq!(parse_u64("-1"), None);
        assert_eq!(parse_u64(""), None);
    }

    #[test]
    fn a_long_digit_run_in_an_address_is_an_error_not_an_overflow() {
        // The fuzzer's input (tuple_parser): the destination is `13.1077244941`.
        let t = "1772449441,172.16.2.4,13.1077244941,172.16.2.4,13.107.42.1,,,";
        for layout in [TupleLayout::NsgV1, TupleLayout::NsgV2, TupleLayout::Vnet] {
            assert!(FlowTuple::parse(t, layout).is_err(), "{layout:?}");
        }
    }

    #[test]
    fn ipv4_fast_path_agrees_with_std() {
        for s in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.0.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "1..2.3",
            "1.2.3.4 ",
            "a.b.c.d",
            "1.2.3.04",
            "100.64.0.1",
            // Found by fuzzing (tuple_parser): a run of digits longer than u32 holds.
            "13.1077244941",
            "999999999999999",
            "1.2.34294967296",
        ] {
            assert_eq!(parse_ipv4(s), s.parse::<std::net::Ipv4Addr>().ok(), "{s}");
        }
    }
}
