//! IPv4 addresses written from their four octets, without a `memcpy` call: each octet's
//! digits come from a table, are gathered into one 16-byte word, and the word is copied
//! whole, then the output is cut back to the address's length. The text is the standard
//! dotted quad, which is the only form the tuple parsers accept, so it is byte for byte
//! the tuple's own text.
//!
//! ```
//! # use nsgflow::encode::ip_text::write_ipv4;
//! let mut out = b"x".to_vec();
//! write_ipv4(&mut out, "10.0.255.7".parse().unwrap());
//! assert_eq!(out, b"x10.0.255.7");
//! ```

use std::net::Ipv4Addr;

/// For each octet: its decimal digits in the low bytes, then a dot, and the number of
/// bytes (digits and dot) in the top byte.
const OCTETS: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut v = 0;
    while v < 256 {
        let (text, len) = if v >= 100 {
            (
                (b'0' as u32 + v / 100)
                    | (b'0' as u32 + v / 10 % 10) << 8
                    | (b'0' as u32 + v % 10) << 16,
                3,
            )
        } else if v >= 10 {
            ((b'0' as u32 + v / 10) | (b'0' as u32 + v % 10) << 8, 2)
        } else {
            (b'0' as u32 + v, 1)
        };
        table[v as usize] = text | (b'.' as u32) << (8 * len) | (len + 1) << 24;
        v += 1;
    }
    table
};

/// Appends `ip` as a dotted quad.
#[inline]
pub fn write_ipv4(out: &mut Vec<u8>, ip: Ipv4Addr) {
    let mut word: u128 = 0;
    let mut len = 0;
    for octet in ip.octets() {
        let entry = OCTETS[octet as usize];
        word |= ((entry & 0x00ff_ffff) as u128) << (8 * len);
        len += (entry >> 24) as usize;
    }
    // The last octet's dot is not part of the address.
    let end = out.len() + len - 1;
    out.extend_from_slice(&word.to_le_bytes());
    out.truncate(end);
}

#[cfg(test)]
mod tests {
    use super::write_ipv4;
    use std::net::Ipv4Addr;

    #[test]
    fn agrees_with_display() {
        let mut out = Vec::new();
        for a in (0..=255u8)
            .step_by(3)
            .chain([1, 9, 10, 99, 100, 199, 254, 255])
        {
            for b in [0, 7, 10, 99, 100, 255] {
                let ip = Ipv4Addr::new(a, b, 255 - b, a.wrapping_mul(7));
                out.clear();
                write_ipv4(&mut out, ip);
                assert_eq!(out, ip.to_string().as_bytes(), "{ip}");
            }
        }
        out.clear();
        write_ipv4(&mut out, Ipv4Addr::new(255, 255, 255, 255));
        assert_eq!(out, b"255.255.255.255");
    }
}
