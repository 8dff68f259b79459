//! The one-pass tuple parser: reads each field as it scans for the comma that ends it,
//! instead of splitting the tuple first and parsing each field after. It accepts only a
//! well-formed tuple and gives up (`None`) at the first thing it does not expect; the
//! caller then runs the two-pass parser, which says exactly what is wrong. So for every
//! tuple this returns, the two-pass parser returns the same value (the tests and the
//! `tuple_parser` fuzz target hold it to that).

use std::net::{IpAddr, Ipv4Addr};

use super::{vnet_action, FlowTuple, TupleLayout, SECONDS_BELOW};
use crate::labels::{Action, Direction, Encryption, FlowState, Protocol};

/// A cursor over one tuple's bytes.
struct Fields<'a> {
    text: &'a str,
    pos: usize,
    /// What ends the last field: the end of `text`, or this byte (the closing quote of a
    /// tuple read in place in the JSON text).
    close: Option<u8>,
}

impl<'a> Fields<'a> {
    #[inline(always)]
    fn byte(&self, at: usize) -> Option<u8> {
        self.text.as_bytes().get(at).copied()
    }

    /// Consumes the field's terminator: a comma, or the end of the tuple for the last
    /// field.
    #[inline(always)]
    fn end(&mut self, at: usize, last: bool) -> Option<()> {
        if last {
            match self.close {
                None => (at == self.text.len()).then_some(())?,
                Some(q) => (self.byte(at)? == q).then_some(())?,
            }
        } else {
            (self.byte(at)? == b',').then_some(())?;
        }
        self.pos = at + 1;
        Some(())
    }

    /// Up to `max` decimal digits (at most 19, which cannot overflow), then the terminator.
    /// `None` for no digits (the caller decides whether an empty field is allowed).
    /// Eight bytes at a time where eight are left in the text (see [`digit_run`]).
    #[inline(always)]
    fn digits(&mut self, max: usize, last: bool) -> Option<u64> {
        let b = self.text.as_bytes();
        let start = self.pos;
        let mut i = start;
        let mut v: u64 = 0;
        while let Some(word) = b.get(i..i + 8) {
            let (n, run) = digit_run(word);
            if i - start + n > max {
                return None;
            }
            v = v * POW10[n] + run;
            i += n;
            if n < 8 {
                if i == start {
                    return None;
                }
                self.end(i, last)?;
                return Some(v);
            }
        }
        while let Some(&c) = b.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if i - start == max {
                return None;
            }
            v = v * 10 + d as u64;
            i += 1;
        }
        if i == start {
            return None;
        }
        self.end(i, last)?;
        Some(v)
    }

    /// A counter: digits, or nothing (`B` tuples write `,,,,`).
    #[inline(always)]
    fn counter(&mut self, last: bool) -> Option<Option<u64>> {
        let at = self.pos;
        let next = self.byte(at);
        if next == Some(b',') || next == self.close {
            self.end(at, last)?;
            return Some(None);
        }
        self.digits(19, last).map(Some)
    }

    /// A one-letter code, then the terminator.
    #[inline(always)]
    fn letter(&mut self, last: bool) -> Option<u8> {
        let c = self.byte(self.pos)?;
        self.end(self.pos + 1, last)?;
        Some(c)
    }

    /// The field up to the next comma, and the comma (never the last field).
    #[inline(always)]
    fn rest(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let end = start + memchr::memchr(b',', &self.text.as_bytes()[start..])?;
        self.pos = end + 1;
        Some(&self.text[start..end])
    }

    /// An address and its text: a dotted quad read in the same pass, else the field handed
    /// to the standard IPv6 parser.
    #[inline(always)]
    fn ip(&mut self) -> Option<(IpAddr, &'a str)> {
        let start = self.pos;
        if let Some((v4, end)) = self.ipv4() {
            if self.byte(end) == Some(b',') {
                self.pos = end + 1;
                return Some((IpAddr::V4(v4), &self.text[start..end]));
            }
        }
        self.pos = start;
        let text = self.rest()?;
        let v6 = text.parse::<std::net::Ipv6Addr>().ok()?;
        Some((IpAddr::V6(v6), text))
    }

    /// A dotted quad starting at the cursor, as the standard parser accepts it (1-3 digits
    /// an octet, no leading zeros, at most 255), and where it ends.
    #[inline(always)]
    fn ipv4(&self) -> Option<(Ipv4Addr, usize)> {
        let b = self.text.as_bytes();
        let mut i = self.pos;
        let mut octets = [0u8; 4];
        for (k, octet) in octets.iter_mut().enumerate() {
            let (v, end) = ipv4_octet(b, i)?;
            *octet = v;
            i = end;
            if k < 3 {
                if b.get(i) != Some(&b'.') {
                    return None;
                }
                i += 1;
            }
        }
        Some((Ipv4Addr::from(octets), i))
    }
}

/// `10^n` for the digit counts of one eight-byte word.
const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// The decimal digits that open an eight-byte word: how many (0 to 8) and their value,
/// found and summed without a branch a byte (SWAR: each byte a lane of a `u64`).
#[inline(always)]
fn digit_run(word: &[u8]) -> (usize, u64) {
    const LANES: u64 = 0x0101_0101_0101_0101;
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(word);
    // Digits become 0-9; any other byte becomes something above 9.
    let lanes = u64::from_le_bytes(bytes) ^ (0x30 * LANES);
    // The high bit of each lane that is not a digit: above 9 after the low 7 bits are
    // raised by 0x76, or above 0x7f to begin with (no lane carries into the next).
    let not_digit = (((lanes & (0x7f * LANES)) + 0x76 * LANES) | lanes) & (0x80 * LANES);
    let n = (not_digit.trailing_zeros() / 8) as usize;
    if n == 0 {
        return (0, 0);
    }
    // The first digit is the lowest lane: shift the run to the top, so that the lanes
    // below it are leading zeros, then add neighbouring lanes pairwise, three times.
    let v = lanes << (8 * (8 - n));
    let v = (v * 10 + (v >> 8)) & 0x00ff_00ff_00ff_00ff;
    let v = (v * 100 + (v >> 16)) & 0x0000_ffff_0000_ffff;
    let v = (v * 10_000 + (v >> 32)) & 0xffff_ffff;
    (n, v)
}

/// One octet of a dotted quad at `i`, as the standard parser accepts it (1-3 digits, no
/// leading zero, at most 255), and where it ends.
#[inline(always)]
fn ipv4_octet(b: &[u8], i: usize) -> Option<(u8, usize)> {
    let digit = |at: usize| b.get(at).map_or(10, |c| c.wrapping_sub(b'0'));
    let d0 = digit(i);
    if d0 > 9 {
        return None;
    }
    let d1 = digit(i + 1);
    if d1 > 9 {
        return Some((d0, i + 1));
    }
    if d0 == 0 {
        return None;
    }
    let d2 = digit(i + 2);
    if d2 > 9 {
        return Some((d0 * 10 + d1, i + 2));
    }
    let v = d0 as u32 * 100 + d1 as u32 * 10 + d2 as u32;
    (v <= 255).then_some((v as u8, i + 3))
}

/// Parses a well-formed tuple in one pass; `None` for anything else (see the module doc).
#[inline]
pub(super) fn parse(text: &str, layout: TupleLayout) -> Option<FlowTuple<'_>> {
    let mut f = Fields {
        text,
        pos: 0,
        close: None,
    };
    fields(&mut f, layout)
}

/// Parses a well-formed tuple written as a JSON string whose opening quote is at `quote`
/// in `json`, in place: no escape can be among the bytes a well-formed tuple accepts, so
/// where this succeeds the string needs no decoding. Returns the offset past the closing
/// quote too.
#[inline]
pub(super) fn parse_quoted(
    json: &str,
    quote: usize,
    layout: TupleLayout,
) -> Option<(FlowTuple<'_>, usize)> {
    let mut f = Fields {
        text: json,
        pos: quote + 1,
        close: Some(b'"'),
    };
    let tuple = fields(&mut f, layout)?;
    Some((tuple, f.pos))
}

#[inline(always)]
fn fields<'a>(f: &mut Fields<'a>, layout: TupleLayout) -> Option<FlowTuple<'a>> {
    let ts = f.digits(19, false)?;
    let timestamp_ms = match layout {
        TupleLayout::Vnet if ts >= SECONDS_BELOW => ts,
        _ => ts.checked_mul(1000)?,
    };
    let (src_ip, src_ip_text) = f.ip()?;
    let (dst_ip, dst_ip_text) = f.ip()?;
    let src_port = u16::try_from(f.digits(5, false)?).ok()?;
    let dst_port = u16::try_from(f.digits(5, false)?).ok()?;
    let protocol = match layout {
        TupleLayout::Vnet => Protocol(u8::try_from(f.digits(19, false)?).ok()?),
        _ => match f.letter(false)? {
            b'T' => Protocol::TCP,
            b'U' => Protocol::UDP,
            _ => return None,
        },
    };
    let direction = match f.letter(false)? {
        b'I' => Direction::Inbound,
        b'O' => Direction::Outbound,
        _ => return None,
    };
    let (action, state, encryption) = match layout {
        TupleLayout::NsgV1 | TupleLayout::NsgV2 => {
            let v1 = layout == TupleLayout::NsgV1;
            let action = match f.letter(v1)? {
                b'A' => Action::Allow,
                b'D' => Action::Deny,
                _ => return None,
            };
            let state = if v1 {
                None
            } else {
                Some(nsg_state(f.letter(false)?)?)
            };
            (action, state, None)
        }
        TupleLayout::Vnet => {
            let state = match f.letter(false)? {
                b'D' => FlowState::Deny,
                c => nsg_state(c)?,
            };
            let encryption = Encryption::parse(f.rest()?)?;
            (vnet_action(state), Some(state), Some(encryption))
        }
    };
    let mut counters = [None; 4];
    if layout != TupleLayout::NsgV1 {
        for (k, slot) in counters.iter_mut().enumerate() {
            *slot = f.counter(k == 3)?;
        }
    }
    Some(FlowTuple::assemble(
        timestamp_ms,
        [
            (src_ip, src_ip_text, src_port),
            (dst_ip, dst_ip_text, dst_port),
        ],
        protocol,
        direction,
        (action, state, encryption),
        counters,
    ))
}

#[inline(always)]
fn nsg_state(c: u8) -> Option<FlowState> {
    match c {
        b'B' => Some(FlowState::Begin),
        b'C' => Some(FlowState::Continue),
        b'E' => Some(FlowState::End),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::digit_run;

    #[test]
    fn digit_run_counts_and_sums_the_leading_digits() {
        for (word, n, v) in [
            (b"12345678", 8, 12_345_678),
            (b"00000000", 8, 0),
            (b"1542110,", 7, 1_542_110),
            (b"443,T,O,", 3, 443),
            (b"9,,,,\"]}", 1, 9),
            (b",1,66\"]}", 0, 0),
            (b"10.5.16.", 2, 10),
            (b"0123/:9a", 4, 123),
            (b"99\xc3\xa9    ", 2, 99),
            (b"7\x7f\x80\xff0000", 1, 7),
        ] {
            assert_eq!(
                digit_run(word),
                (n, v),
                "{:?}",
                String::from_utf8_lossy(word)
            );
        }
    }
}
