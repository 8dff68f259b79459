//! Community ID v1 flow hashing (<https://github.com/corelight/community-id-spec>).
//!
//! The same flow seen by Zeek, Suricata, Elastic or Vector's `community_id()` gets the
//! same ID, so a flow-log event can be joined with those tools' records.
//!
//! `1:` + base64(SHA-1(seed:u16be, ip_a, ip_b, proto:u8, 0:u8, port_a:u16be, port_b:u16be)),
//! where `a` is the smaller (ip, port) endpoint. ICMP uses type and code in place of ports,
//! with the spec's request/reply pairing.
//!
//! ```
//! use nsgflow::community_id::CommunityId;
//! use nsgflow::labels::Protocol;
//! let id = CommunityId::new(0, "128.232.110.120".parse().unwrap(), "66.35.250.204".parse().unwrap(),
//!                           Protocol::TCP, 34855, 80);
//! assert_eq!(id.as_str(), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
//! ```

use std::net::IpAddr;

use crate::labels::Protocol;

/// A Community ID held inline (`1:` + 28 base64 characters): no heap allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CommunityId {
    text: [u8; 30],
}

impl std::fmt::Debug for CommunityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CommunityId {
    pub fn new(
        seed: u16,
        src_ip: IpAddr,
        dst_ip: IpAddr,
        protocol: Protocol,
        src_port: u16,
        dst_port: u16,
    ) -> Self {
        let (mut sp, mut dp, one_way) = match protocol {
            Protocol::ICMP => icmp_ports(src_port, dst_port, false),
            Protocol::ICMPV6 => icmp_ports(src_port, dst_port, true),
            _ => (src_port, dst_port, false),
        };
        let with_ports =
            protocol.has_ports() || matches!(protocol, Protocol::ICMP | Protocol::ICMPV6);

        // The message is at most 40 bytes, so it and its padding fit one 64-byte SHA-1
        // block: build it on the stack and compress once (no hasher state, no buffering).
        // The smaller (address, port) side comes first; both IPv4, the common case, is
        // compared and written as 32-bit numbers.
        let mut block = [0u8; 64];
        block[..2].copy_from_slice(&seed.to_be_bytes());
        let mut n = match (src_ip, dst_ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let (a, b) = (u32::from(a), u32::from(b));
                let (a, b) = if !one_way && (a, sp) > (b, dp) {
                    std::mem::swap(&mut sp, &mut dp);
                    (b, a)
                } else {
                    (a, b)
                };
                block[2..6].copy_from_slice(&a.to_be_bytes());
                block[6..10].copy_from_slice(&b.to_be_bytes());
                10
            }
            (a, b) => {
                let (a, b) = if !one_way && (ip_key(&a), sp) > (ip_key(&b), dp) {
                    std::mem::swap(&mut sp, &mut dp);
                    (b, a)
                } else {
                    (a, b)
                };
                block[2..18].copy_from_slice(&v6_bytes(a));
                block[18..34].copy_from_slice(&v6_bytes(b));
                34
            }
        };
        block[n] = protocol.iana_number();
        n += 2;
        if with_ports {
            block[n..n + 2].copy_from_slice(&sp.to_be_bytes());
            block[n + 2..n + 4].copy_from_slice(&dp.to_be_bytes());
            n += 4;
        }
        block[n] = 0x80;
        block[56..].copy_from_slice(&((n as u64) * 8).to_be_bytes());
        let mut state = [
            0x6745_2301u32,
            0xEFCD_AB89,
            0x98BA_DCFE,
            0x1032_5476,
            0xC3D2_E1F0,
        ];
        sha1::compress(&mut state, std::slice::from_ref(&block.into()));
        let mut digest = [0u8; 20];
        for (chunk, word) in digest.chunks_exact_mut(4).zip(state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }

        let mut text = [0u8; 30];
        text[0] = b'1';
        text[1] = b':';
        base64_20(&digest, (&mut text[2..]).try_into().expect("28 bytes"));
        CommunityId { text }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written into `text`.
        std::str::from_utf8(&self.text).unwrap_or("")
    }

    /// The ID's ASCII bytes (what encoders copy, without a UTF-8 check).
    pub fn as_bytes(&self) -> &[u8; 30] {
        &self.text
    }
}

/// An address as a number that orders as the spec's byte comparison does.
#[inline]
fn ip_key(ip: &IpAddr) -> u128 {
    match ip {
        // The value of the IPv4-mapped address `::ffff:a.b.c.d`.
        IpAddr::V4(v4) => (0xffff_u128 << 32) | u32::from(*v4) as u128,
        IpAddr::V6(v6) => u128::from(*v6),
    }
}

fn v6_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Maps ICMP type/code to the spec's port pair; returns whether the message is one-way.
fn icmp_ports(icmp_type: u16, code: u16, v6: bool) -> (u16, u16, bool) {
    let pair: &[(u16, u16)] = if v6 {
        &[
            (128, 129),
            (129, 128),
            (133, 134),
            (134, 133),
            (135, 136),
            (136, 135),
            (130, 131),
            (131, 130),
            (139, 140),
            (140, 139),
            (144, 145),
            (145, 144),
        ]
    } else {
        &[
            (8, 0),
            (0, 8),
            (13, 14),
            (14, 13),
            (15, 16),
            (16, 15),
            (10, 9),
            (9, 10),
            (17, 18),
            (18, 17),
        ]
    };
    match pair.iter().find(|&&(t, _)| t == icmp_type) {
        Some(&(t, counterpart)) => (t, counterpart, false),
        None => (icmp_type, code, true),
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (with padding) of 20 bytes into 28 characters: six whole 3-byte groups,
/// then the last two bytes and one `=`.
#[inline]
fn base64_20(input: &[u8; 20], out: &mut [u8; 28]) {
    let sextet = |n: u32, shift: u32| B64[(n >> shift) as usize & 63];
    for g in 0..6 {
        let n =
            (input[3 * g] as u32) << 16 | (input[3 * g + 1] as u32) << 8 | input[3 * g + 2] as u32;
        out[4 * g] = sextet(n, 18);
        out[4 * g + 1] = sextet(n, 12);
        out[4 * g + 2] = sextet(n, 6);
        out[4 * g + 3] = sextet(n, 0);
    }
    let n = (input[18] as u32) << 16 | (input[19] as u32) << 8;
    out[24] = sextet(n, 18);
    out[25] = sextet(n, 12);
    out[26] = sextet(n, 6);
    out[27] = b'=';
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(src: &str, dst: &str, proto: Protocol, sp: u16, dp: u16) -> String {
        CommunityId::new(0, src.parse().unwrap(), dst.parse().unwrap(), proto, sp, dp)
            .as_str()
            .to_string()
    }

    // Baseline vectors from the community-id-spec repository (baseline/baseline.py output).
    #[test]
    fn spec_vectors() {
        assert_eq!(
            id("128.232.110.120", "66.35.250.204", Protocol::TCP, 34855, 80),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
        // Direction does not matter.
        assert_eq!(
            id("66.35.250.204", "128.232.110.120", Protocol::TCP, 80, 34855),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
        assert_eq!(
            id("192.168.1.52", "8.8.8.8", Protocol::UDP, 54585, 53),
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ="
        );
        assert_eq!(
            id("192.168.0.89", "192.168.0.1", Protocol::ICMP, 8, 0),
            "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="
        );
        // A one-way ICMP message (type 20) keeps its direction.
        assert_eq!(
            id("192.168.0.89", "192.168.0.1", Protocol::ICMP, 20, 1),
            "1:tz/fHIDUHs19NkixVVoOZywde+I="
        );
        assert_eq!(
            id(
                "fe80::200:86ff:fe05:80da",
                "fe80::260:97ff:fe07:69ea",
                Protocol::ICMPV6,
                135,
                0
            ),
            "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="
        );
    }
}
