//! The addresses of one event as the detectors key them, hashed once.
//!
//! Each address is a 128-bit word (IPv4 mapped into IPv6). [`Subject`] hashes the source and
//! the destination once per event with `foldhash` (a per-process random seed, so a source
//! that chooses its addresses cannot aim collisions at a known function); every detector's
//! key hash then combines those two hashes with its small word (a port, a protocol) and its
//! window by one folded multiply, instead of hashing a 48-byte key again per detector.
//!
//! ```
//! use nsgflow::detect::subject::{Hashes, Key};
//! let h = Hashes::default();
//! let k = Key::new(0xffff_0a00_0004, 0, 22);
//! // The per-event route (hash each address once, combine) and the per-key route agree.
//! assert_eq!(h.combine(h.word(k.a()), h.none(), 22), h.key(&k));
//! assert_ne!(h.key(&k), h.key(&Key::new(0xffff_0a00_0005, 0, 22)));
//! ```

use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// An address as one 128-bit word (IPv4 mapped into IPv6).
#[inline]
pub fn ip_word(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The address of a word from [`ip_word`].
pub fn word_ip(w: u128) -> IpAddr {
    let v6 = Ipv6Addr::from(w);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

#[inline(always)]
fn split(w: u128) -> [u64; 2] {
    [w as u64, (w >> 64) as u64]
}

#[inline(always)]
fn join(w: [u64; 2]) -> u128 {
    u128::from(w[0]) | u128::from(w[1]) << 64
}

/// A subject: up to two addresses and a small word (a port, a protocol, a direction), plus
/// the window it is counted in (`w`, the window's index; 0 outside windowed tables).
///
/// 40 bytes: the addresses are kept as `[u64; 2]` so the key aligns on 8 bytes, not 16
/// (a `u128` field would pad the key to 48). In a state file it is `{"a":..,"b":..,"c":..}`
/// as before (the window is saved beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Key {
    a: [u64; 2],
    b: [u64; 2],
    pub c: u32,
    pub w: u32,
}

impl Key {
    #[inline]
    pub fn new(a: u128, b: u128, c: u32) -> Key {
        Key {
            a: split(a),
            b: split(b),
            c,
            w: 0,
        }
    }

    #[inline]
    pub fn a(&self) -> u128 {
        join(self.a)
    }

    #[inline]
    pub fn b(&self) -> u128 {
        join(self.b)
    }

    /// The key in window `w`.
    #[inline]
    pub fn in_window(self, w: u32) -> Key {
        Key { w, ..self }
    }

    /// The key without its window (what cooldowns are kept by).
    #[inline]
    pub fn subject(&self) -> Key {
        Key { w: 0, ..*self }
    }

    /// The order of a saved state: by addresses, then the small word.
    pub fn order(&self) -> (u128, u128, u32) {
        (self.a(), self.b(), self.c)
    }
}

/// [`Key`] as a state file writes it.
#[derive(Serialize, Deserialize)]
struct KeyState {
    a: u128,
    b: u128,
    c: u32,
}

impl Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        KeyState {
            a: self.a(),
            b: self.b(),
            c: self.c,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        let k = KeyState::deserialize(d)?;
        Ok(Key::new(k.a, k.b, k.c))
    }
}

const MULT: u64 = 0x5851_f42d_4c95_7f2d;

#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let r = u128::from(a).wrapping_mul(u128::from(b));
    (r as u64) ^ ((r >> 64) as u64)
}

/// The detection tables' hash: `foldhash` for each address, a folded multiply to combine.
#[derive(Debug, Clone, Copy)]
pub struct Hashes {
    seed: u64,
    none: u64,
}

impl Default for Hashes {
    /// A per-process random seed (std's `RandomState`), the same for every table so that a
    /// subject's address hashes are computed once per event.
    fn default() -> Self {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let seed = *SEED.get_or_init(|| {
            std::collections::hash_map::RandomState::new().hash_one(0x006e_7367_666c_6f77_u64)
        });
        let mut h = Hashes { seed, none: 0 };
        h.none = h.word(0);
        h
    }
}

impl Hashes {
    /// One address's hash.
    #[inline]
    pub fn word(&self, w: u128) -> u64 {
        foldhash::fast::FixedState::with_seed(self.seed).hash_one(w)
    }

    /// The hash of the absent address (a key with one address).
    #[inline]
    pub fn none(&self) -> u64 {
        self.none
    }

    /// A key's hash from its addresses' hashes and its small word.
    #[inline]
    pub fn combine(&self, ha: u64, hb: u64, c: u32) -> u64 {
        fold(ha ^ hb.rotate_left(29), u64::from(c) ^ MULT)
    }

    /// A key's hash in window `w` (0: no window, the hash unchanged).
    #[inline]
    pub fn windowed(h: u64, w: u32) -> u64 {
        if w == 0 {
            h
        } else {
            fold(h ^ u64::from(w), MULT.rotate_left(17))
        }
    }

    /// A key's hash, from scratch (tables growing, states loaded).
    pub fn key(&self, k: &Key) -> u64 {
        Self::windowed(self.combine(self.word(k.a()), self.word(k.b()), k.c), k.w)
    }
}

/// One event's source and destination, as words and hashed.
#[derive(Debug, Clone, Copy)]
pub struct Subject {
    pub src: u128,
    pub dst: u128,
    pub src_hash: u64,
    pub dst_hash: u64,
}

impl Subject {
    #[inline]
    pub fn new(h: &Hashes, src: IpAddr, dst: IpAddr) -> Subject {
        let (src, dst) = (ip_word(src), ip_word(dst));
        Subject {
            src,
            dst,
            src_hash: h.word(src),
            dst_hash: h.word(dst),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for ip in ["10.1.2.3", "2001:db8::1", "::ffff:0:1"] {
            let ip: IpAddr = ip.parse().unwrap();
            let back = word_ip(ip_word(ip));
            assert!(back == ip || ip.to_canonical() == back, "{ip} {back}");
        }
    }

    #[test]
    fn key_is_40_bytes_and_saves_as_before() {
        assert_eq!(std::mem::size_of::<Key>(), 40);
        let k = Key::new(u128::MAX - 1, 7, 3);
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, format!(r#"{{"a":{},"b":7,"c":3}}"#, u128::MAX - 1));
        assert_eq!(serde_json::from_str::<Key>(&json).unwrap(), k);
    }
}
