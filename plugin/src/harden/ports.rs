//! Destination ports of one (destination, protocol, source set) need, turned into the
//! fewest port ranges that open nothing unobserved, except where a range was visibly used
//! as a range.
//!
//! How ports collapse ([`collapse`]):
//!
//! 1. Adjacent observed ports merge (`80,81,82` -> `80-82`): this opens nothing new.
//! 2. Ports below 1024 never merge across a gap: each well-known service keeps its own
//!    entry.
//! 3. Ports from 1024 up form **clusters**: sorted, each within `max_gap` (default 32) of
//!    the previous one. A cluster of at least `min_ports` (default 8) distinct ports is
//!    used as a range (passive FTP data ports, RPC dynamic ports, a media server's
//!    RTP ports) and becomes one range from its lowest to its highest port. Smaller
//!    clusters stay as single ports.
//!
//! So 40 passive-FTP ports seen between 50000 and 50100 give `50000-50100` (one entry,
//! opening the unseen ports in between, which is what the FTP server's configured range
//! will use), while three unrelated high ports (8080, 8443, 9000) stay three entries.
//!
//! ```
//! use nsgflow::harden::ports::{collapse, PortCollapse};
//! let c = PortCollapse::default();
//! let ftp: Vec<u16> = (50000..50100).step_by(3).collect();
//! let mut ports = vec![21, 22, 80, 81, 8080, 8443];
//! ports.extend(&ftp);
//! let r = collapse(&ports, &c);
//! assert_eq!(r.to_strings(), ["21-22", "80-81", "8080", "8443", "50000-50099"]);
//! ```

use serde::Deserialize;

use crate::harden::rules::{PortRange, Ports};

/// When high ports count as used as a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortCollapse {
    /// Distinct ports a cluster needs to become a range (default 8).
    pub min_ports: usize,
    /// Largest gap between neighbouring ports of one cluster (default 32).
    pub max_gap: u16,
    /// Ports below this never join a cluster (default 1024).
    pub high_from: u16,
}

impl Default for PortCollapse {
    fn default() -> Self {
        PortCollapse {
            min_ports: 8,
            max_gap: 32,
            high_from: 1024,
        }
    }
}

/// The ranges for a set of observed ports (any order, duplicates allowed).
pub fn collapse(ports: &[u16], c: &PortCollapse) -> Ports {
    let mut sorted = ports.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut ranges: Vec<PortRange> = Vec::new();
    let (low, high): (Vec<u16>, Vec<u16>) = sorted.iter().partition(|&&p| p < c.high_from);
    ranges.extend(low.into_iter().map(PortRange::single));
    let mut i = 0;
    while i < high.len() {
        let mut j = i + 1;
        while j < high.len() && high[j] - high[j - 1] <= c.max_gap {
            j += 1;
        }
        if j - i >= c.min_ports.max(2) {
            ranges.push(PortRange {
                lo: high[i],
                hi: high[j - 1],
            });
        } else {
            ranges.extend(high[i..j].iter().copied().map(PortRange::single));
        }
        i = j;
    }
    Ports::new(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_clusters_stay_single() {
        let c = PortCollapse::default();
        let r = collapse(&[5000, 5010, 5020, 443], &c);
        assert_eq!(r.to_strings(), ["443", "5000", "5010", "5020"]);
    }

    #[test]
    fn gap_splits_clusters() {
        let c = PortCollapse {
            min_ports: 3,
            max_gap: 10,
            high_from: 1024,
        };
        let r = collapse(&[2000, 2005, 2010, 2100, 2105, 2110, 3000], &c);
        assert_eq!(r.to_strings(), ["2000-2010", "2100-2110", "3000"]);
    }

    #[test]
    fn low_ports_never_bridge() {
        let c = PortCollapse {
            min_ports: 2,
            max_gap: 1000,
            high_from: 1024,
        };
        assert_eq!(
            collapse(&[22, 80, 443], &c).to_strings(),
            ["22", "80", "443"]
        );
    }
}
