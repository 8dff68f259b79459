//! Longest-prefix match over millions of CIDRs, as sorted, merged, non-overlapping ranges.
//!
//! CIDRs either nest or are disjoint, so a sweep over them sorted by (start, widest first)
//! with a stack of the prefixes still open cuts the address space into segments, each
//! covered by the same stack of prefixes. The caller turns each stack (outermost first,
//! most specific last) into one value, or none; adjacent segments with the same value are
//! merged. A lookup is then one binary search over `starts` (for IPv4, only over the
//! ranges that start in the address's /16, found through a 64K-entry index).
//!
//! Memory is 12 bytes per IPv4 range and 36 per IPv6 range (start, end, value), with no
//! pointers: 1M prefixes build in well under a second and take about 12 MB
//! (`cargo bench -p nsgflow --bench reputation` measures both).
//!
//! ```
//! use nsgflow::prefix_table::PrefixTable;
//! let nets = [("10.0.0.0/8", 1), ("10.1.0.0/16", 2), ("2001:db8::/32", 3)];
//! let entries: Vec<_> = nets.iter().map(|(n, v)| (n.parse().unwrap(), *v)).collect();
//! // Most specific wins: the value of the innermost prefix on the stack.
//! let t = PrefixTable::build(&entries, |stack| stack.last().copied());
//! assert_eq!(t.get("10.1.2.3".parse().unwrap()), Some(2));
//! assert_eq!(t.get("10.2.0.1".parse().unwrap()), Some(1));
//! assert_eq!(t.get("11.0.0.1".parse().unwrap()), None);
//! assert_eq!(t.get("2001:db8::1".parse().unwrap()), Some(3));
//! ```

use std::net::IpAddr;

use ipnet::IpNet;

/// Ranges of one address family: `starts[i]..=ends[i]` maps to `values[i]`.
#[derive(Debug, Clone, Default)]
struct Ranges<A> {
    starts: Vec<A>,
    ends: Vec<A>,
    values: Vec<u32>,
}

impl<A: Copy + Ord> Ranges<A> {
    fn get(&self, a: A) -> Option<u32> {
        let i = self.starts.partition_point(|&s| s <= a);
        if i == 0 || self.ends[i - 1] < a {
            return None;
        }
        Some(self.values[i - 1])
    }

    fn push(&mut self, start: A, end: A, value: u32, adjacent: bool) {
        if adjacent && self.values.last() == Some(&value) {
            if let Some(e) = self.ends.last_mut() {
                *e = end;
                return;
            }
        }
        self.starts.push(start);
        self.ends.push(end);
        self.values.push(value);
    }

    fn heap_bytes(&self) -> usize {
        (self.starts.capacity() + self.ends.capacity()) * std::mem::size_of::<A>()
            + self.values.capacity() * 4
    }
}

/// A longest-prefix-match table for IPv4 and IPv6 (IPv4-mapped IPv6 looks up as IPv4).
///
/// IPv4 has a first-level index by the top 16 bits (256 KiB): `v4_index[h]` is the first
/// range starting at or after `h << 16`, so a lookup binary-searches only the few ranges
/// that start inside its /16 (one or two cache lines) instead of all of them.
#[derive(Debug, Clone, Default)]
pub struct PrefixTable {
    v4: Ranges<u32>,
    v4_index: Vec<u32>,
    v6: Ranges<u128>,
}

impl PrefixTable {
    /// Builds the table from `(prefix, payload)` entries. For each segment of address space,
    /// `resolve` gets the payloads of the prefixes covering it, outermost first (for equal
    /// prefixes, in entry order) and returns the segment's value, or `None` for no match.
    pub fn build(
        entries: &[(IpNet, u32)],
        mut resolve: impl FnMut(&[u32]) -> Option<u32>,
    ) -> PrefixTable {
        let mut v4: Vec<(u128, u128, u32)> = Vec::new();
        let mut v6: Vec<(u128, u128, u32)> = Vec::new();
        for (net, payload) in entries {
            match net.trunc() {
                IpNet::V4(n) => v4.push((
                    u32::from(n.network()) as u128,
                    u32::from(n.broadcast()) as u128,
                    *payload,
                )),
                IpNet::V6(n) => {
                    v6.push((u128::from(n.network()), u128::from(n.broadcast()), *payload))
                }
            }
        }
        let mut table = PrefixTable::default();
        sweep(&mut v4, &mut resolve, |s, e, v, adj| {
            table.v4.push(s as u32, e as u32, v, adj)
        });
        sweep(&mut v6, &mut resolve, |s, e, v, adj| {
            table.v6.push(s, e, v, adj)
        });
        table.finish();
        table
    }

    /// Builds the table from address ranges `(first, last, value)` rather than CIDRs (ASN
    /// databases come as ranges). Ranges may come in any order; where two overlap, the one
    /// starting first keeps the overlap and the other is clipped (or dropped when nothing
    /// is left). Returns the table and how many ranges were clipped or dropped. A range
    /// whose ends are of different families, or whose end is before its start, is dropped
    /// and counted too.
    pub fn from_ranges(ranges: &[(IpAddr, IpAddr, u32)]) -> (PrefixTable, usize) {
        let mut v4: Vec<(u32, u32, u32)> = Vec::new();
        let mut v6: Vec<(u128, u128, u32)> = Vec::new();
        let mut bad = 0;
        for &(first, last, value) in ranges {
            match (first, last) {
                (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => v4.push((a.into(), b.into(), value)),
                (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => v6.push((a.into(), b.into(), value)),
                _ => bad += 1,
            }
        }
        let mut table = PrefixTable::default();
        bad += disjoint(&mut v4, |s, e, v, adj| table.v4.push(s, e, v, adj));
        bad += disjoint(&mut v6, |s, e, v, adj| table.v6.push(s, e, v, adj));
        table.finish();
        (table, bad)
    }

    /// Trims the vectors and builds the IPv4 /16 index.
    fn finish(&mut self) {
        self.v4.starts.shrink_to_fit();
        self.v4.ends.shrink_to_fit();
        self.v4.values.shrink_to_fit();
        self.v6.starts.shrink_to_fit();
        self.v6.ends.shrink_to_fit();
        self.v6.values.shrink_to_fit();
        if !self.v4.starts.is_empty() {
            let starts = &self.v4.starts;
            self.v4_index = (0..=1u64 << 16)
                .map(|h| starts.partition_point(|&s| (s as u64) < h << 16) as u32)
                .collect();
        }
    }

    #[inline]
    fn get_v4(&self, a: u32) -> Option<u32> {
        if self.v4_index.is_empty() {
            return None;
        }
        let h = (a >> 16) as usize;
        let (lo, hi) = (self.v4_index[h] as usize, self.v4_index[h + 1] as usize);
        let i = lo + self.v4.starts[lo..hi].partition_point(|&s| s <= a);
        // `i` is one past the last range starting at or before `a` (maybe one in an
        // earlier /16 that reaches into this one).
        if i == 0 || self.v4.ends[i - 1] < a {
            return None;
        }
        Some(self.v4.values[i - 1])
    }

    /// The value of the segment `ip` falls in.
    #[inline]
    pub fn get(&self, ip: IpAddr) -> Option<u32> {
        match ip {
            IpAddr::V4(a) => self.get_v4(u32::from(a)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => self.get_v4(u32::from(v4)),
                None => self.v6.get(u128::from(a)),
            },
        }
    }

    /// Ranges held (after merging).
    pub fn len(&self) -> usize {
        self.v4.starts.len() + self.v6.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.v4.heap_bytes() + self.v4_index.capacity() * 4 + self.v6.heap_bytes()
    }
}

/// Sorts ranges by start and emits them without overlap (`emit(start, end, value,
/// adjacent_to_previous)`); returns how many were clipped or dropped.
fn disjoint<A>(ranges: &mut [(A, A, u32)], mut emit: impl FnMut(A, A, u32, bool)) -> usize
where
    A: Copy + Ord + num_step::Step,
{
    ranges.sort_unstable_by_key(|r| (r.0, r.1));
    let mut last_end: Option<A> = None;
    let mut clipped = 0;
    for &(start, end, value) in ranges.iter() {
        let start = match last_end {
            Some(e) if start <= e => {
                clipped += 1;
                if end <= e {
                    continue;
                }
                e.next()
            }
            _ => start,
        };
        let adjacent = last_end.is_some_and(|e| e < start && e.next() == start);
        emit(start, end, value, adjacent);
        last_end = Some(end);
    }
    clipped
}

/// `+ 1` for the two address widths (callers never step past the maximum: a range that
/// ends at the maximum covers everything after it).
mod num_step {
    pub trait Step {
        fn next(self) -> Self;
    }
    impl Step for u32 {
        fn next(self) -> u32 {
            self.wrapping_add(1)
        }
    }
    impl Step for u128 {
        fn next(self) -> u128 {
            self.wrapping_add(1)
        }
    }
}

/// The sweep: `emit(start, end, value, adjacent_to_previous)` for each covered segment.
fn sweep(
    entries: &mut [(u128, u128, u32)],
    resolve: &mut impl FnMut(&[u32]) -> Option<u32>,
    mut emit: impl FnMut(u128, u128, u32, bool),
) {
    // Start ascending, widest first; equal prefixes keep entry order (stable sort).
    entries.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut stack: Vec<(u128, u32)> = Vec::new(); // (end, payload)
    let mut payloads: Vec<u32> = Vec::new();
    let mut pos: u128 = 0; // first address not yet emitted
    let mut last_end: Option<u128> = None; // end of the last emitted segment
    let mut segment = |from: u128, to: u128, stack: &[(u128, u32)], last_end: &mut Option<u128>| {
        if stack.is_empty() || from > to {
            return;
        }
        payloads.clear();
        payloads.extend(stack.iter().map(|&(_, p)| p));
        if let Some(v) = resolve(&payloads) {
            let adjacent = last_end.is_some_and(|e| e.wrapping_add(1) == from);
            emit(from, to, v, adjacent);
            *last_end = Some(to);
        }
    };
    for &(start, end, payload) in entries.iter() {
        // Close the prefixes that end before this one starts.
        while let Some(&(top_end, _)) = stack.last() {
            if top_end >= start {
                break;
            }
            segment(pos, top_end, &stack, &mut last_end);
            pos = top_end + 1; // top_end < start <= MAX, so no overflow
            stack.pop();
        }
        if stack.is_empty() {
            pos = start;
        } else if pos < start {
            segment(pos, start - 1, &stack, &mut last_end);
            pos = start;
        }
        stack.push((end, payload));
    }
    while let Some(&(top_end, _)) = stack.last() {
        segment(pos, top_end, &stack, &mut last_end);
        stack.pop();
        if top_end == u128::MAX {
            break;
        }
        pos = top_end + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(nets: &[(&str, u32)]) -> PrefixTable {
        let entries: Vec<_> = nets.iter().map(|(n, v)| (n.parse().unwrap(), *v)).collect();
        PrefixTable::build(&entries, |s| s.last().copied())
    }

    #[test]
    fn nested_and_adjacent_prefixes() {
        let t = table(&[
            ("0.0.0.0/0", 9),
            ("10.0.0.0/8", 1),
            ("10.0.0.0/16", 2),
            ("10.0.1.0/24", 3),
            ("10.255.255.255/32", 4),
            ("255.255.255.255/32", 5),
            ("::/0", 6),
        ]);
        let get = |s: &str| t.get(s.parse().unwrap());
        assert_eq!(get("1.1.1.1"), Some(9));
        assert_eq!(get("10.0.0.1"), Some(2));
        assert_eq!(get("10.0.1.200"), Some(3));
        assert_eq!(get("10.0.2.0"), Some(2));
        assert_eq!(get("10.1.0.0"), Some(1));
        assert_eq!(get("10.255.255.254"), Some(1));
        assert_eq!(get("10.255.255.255"), Some(4));
        assert_eq!(get("11.0.0.0"), Some(9));
        assert_eq!(get("255.255.255.255"), Some(5));
        assert_eq!(get("ffff::1"), Some(6));
        assert_eq!(get("::ffff:10.0.1.1"), Some(3));
    }

    #[test]
    fn equal_prefixes_later_wins_and_merging() {
        let t = table(&[
            ("192.0.2.0/25", 1),
            ("192.0.2.128/25", 1),
            ("192.0.2.0/24", 7),
        ]);
        // The /24 sorts first (widest), the /25s nest in it and win.
        assert_eq!(t.get("192.0.2.1".parse().unwrap()), Some(1));
        assert_eq!(t.len(), 1, "two adjacent /25 with one value merge");
        let t = table(&[("198.51.100.0/24", 1), ("198.51.100.0/24", 2)]);
        assert_eq!(t.get("198.51.100.9".parse().unwrap()), Some(2));
    }

    #[test]
    fn resolve_sees_the_whole_stack() {
        let entries = vec![
            ("203.0.113.0/24".parse().unwrap(), 1),
            ("203.0.113.7/32".parse().unwrap(), 2),
        ];
        let mut seen = Vec::new();
        let t = PrefixTable::build(&entries, |s| {
            seen.push(s.to_vec());
            Some(s.iter().fold(0, |a, b| a * 10 + b))
        });
        assert_eq!(t.get("203.0.113.7".parse().unwrap()), Some(12));
        assert_eq!(t.get("203.0.113.8".parse().unwrap()), Some(1));
        assert!(seen.contains(&vec![1, 2]));
    }

    #[test]
    fn ranges_any_order_overlaps_clipped() {
        let r = |a: &str, b: &str, v| (a.parse().unwrap(), b.parse().unwrap(), v);
        let (t, bad) = PrefixTable::from_ranges(&[
            r("1.0.4.0", "1.0.7.255", 2),
            r("1.0.0.0", "1.0.0.255", 1),
            r("1.0.7.0", "1.0.8.255", 3), // overlaps the previous one: clipped to 1.0.8.0
            r("1.0.4.5", "1.0.4.9", 4),   // inside another: dropped
            r("2001:db8::", "2001:db8::ffff", 5),
            r("10.0.0.1", "2001:db8::1", 6), // mixed families: dropped
            r("9.9.9.9", "9.9.9.1", 7),      // end before start: dropped
        ]);
        assert_eq!(bad, 4);
        let get = |s: &str| t.get(s.parse().unwrap());
        assert_eq!(get("1.0.0.7"), Some(1));
        assert_eq!(get("1.0.1.0"), None);
        assert_eq!(get("1.0.4.6"), Some(2));
        assert_eq!(get("1.0.7.255"), Some(2));
        assert_eq!(get("1.0.8.0"), Some(3));
        assert_eq!(get("1.0.9.0"), None);
        assert_eq!(get("2001:db8::10"), Some(5));
        assert_eq!(get("::ffff:1.0.0.1"), Some(1));
        assert_eq!(get("9.9.9.5"), None);
    }

    proptest! {
        /// The table agrees with a brute-force longest-prefix match.
        #[test]
        fn agrees_with_brute_force(
            nets in proptest::collection::vec((any::<u32>(), 0u8..=32, 0u32..5), 0..40),
            probes in proptest::collection::vec(any::<u32>(), 50),
        ) {
            let entries: Vec<(IpNet, u32)> = nets.iter().map(|&(a, len, v)| {
                (IpNet::V4(ipnet::Ipv4Net::new(a.into(), len).unwrap().trunc()), v)
            }).collect();
            let t = PrefixTable::build(&entries, |s| s.last().copied());
            let mut probes = probes;
            probes.extend(nets.iter().map(|&(a, _, _)| a));
            for p in probes {
                let ip = IpAddr::V4(p.into());
                // Longest prefix; for equal prefixes the last entry.
                let want = entries.iter().enumerate()
                    .filter(|(_, (n, _))| n.contains(&ip))
                    .max_by_key(|(i, (n, _))| (n.prefix_len(), *i))
                    .map(|(_, (_, v))| *v);
                prop_assert_eq!(t.get(ip), want, "{}", ip);
            }
        }
    }
}
