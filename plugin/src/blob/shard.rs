//! Which replica reads which flow-log resource: `--shard K/N` (or `NSGFLOW_SHARD`, or
//! `azure_blob.shard`) makes this reader replica K of N (0-based), and a resource folder
//! belongs to the replica with the highest rendezvous (highest-random-weight) weight of its
//! resource ID. Going from N to N+1 replicas moves only the resources the new replica wins,
//! about 1/(N+1) of them; none moves between the old replicas.
//!
//! The weight is fixed and documented, the same on every machine, version and run (not
//! std's randomly keyed SipHash): `w(id, k) = fmix64(fnv1a64(ID) ^ fmix64(k + 1))`, where
//! `ID` is the resource ID upper-cased without the `resourceId=` / `flowLogResourceID=` key
//! and trailing `/`, `fnv1a64` is 64-bit FNV-1a and `fmix64` the MurmurHash3 finaliser.
//! Ties (never seen in practice) go to the lower K.
//!
//! ```
//! use nsgflow::blob::shard::{resource_id, Shard};
//! let folder = "resourceId=/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG-A/";
//! assert_eq!(resource_id(folder), "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG-A");
//! let shard = Shard::parse("nsgflow-tail-1/3").unwrap(); // a StatefulSet pod name works as K
//! assert_eq!(shard, Shard { index: 1, count: 3 });
//! // Exactly one of the three replicas owns the folder.
//! let owners = (0..3).filter(|&k| Shard { index: k, count: 3 }.owns(folder)).count();
//! assert_eq!(owners, 1);
//! ```

/// Replica `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// The environment variable that sets the shard when `--shard` is not given.
pub const SHARD_ENV: &str = "NSGFLOW_SHARD";

/// The most replicas (a guard against a typo such as `1/30000`).
pub const MAX_REPLICAS: u32 = 1024;

impl Default for Shard {
    /// One reader for everything.
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// `K/N`: K a number, or a name ending in `-K` (a StatefulSet pod name such as
    /// `nsgflow-tail-2`); 0 <= K < N <= 1024. The error names the value and the syntax.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = |why: &str| {
            format!("shard {s:?} {why}: write K/N, replica K (0-based, or a StatefulSet pod name ending in -K) of N, e.g. 0/3 or nsgflow-tail-0/3")
        };
        let (k, n) = s.trim().rsplit_once('/').ok_or_else(|| bad("has no /"))?;
        let k = k.trim();
        let k = k.rsplit_once('-').map_or(k, |(_, ordinal)| ordinal);
        let index: u32 = k
            .parse()
            .map_err(|_| bad("does not end its K in a number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| bad("has no number of replicas N after the /"))?;
        if count == 0 || count > MAX_REPLICAS {
            return Err(bad(&format!("has N = {count}: use 1 to {MAX_REPLICAS}")));
        }
        if index >= count {
            return Err(bad(&format!(
                "has K = {index}, not below N = {count} (K counts from 0)"
            )));
        }
        Ok(Shard { index, count })
    }

    /// The replica, of `count`, that reads the resource folder (or resource ID).
    pub fn owner(folder: &str, count: u32) -> u32 {
        let h = fnv1a64(resource_id(folder).as_bytes());
        let mut best = (0u32, 0u64);
        for k in 0..count {
            let w = weight(h, k);
            if k == 0 || w > best.1 {
                best = (k, w);
            }
        }
        best.0
    }

    /// True when this replica reads the resource folder.
    pub fn owns(&self, folder: &str) -> bool {
        self.count <= 1 || Shard::owner(folder, self.count) == self.index
    }
}

/// The resource ID of a resource folder: upper case, without the `resourceId=` or
/// `flowLogResourceID=` key (any `key=` before the first `/`) and the trailing `/`.
pub fn resource_id(folder: &str) -> String {
    let f = folder.trim_end_matches('/');
    let id = match f.find('=') {
        Some(i) if !f[..i].contains('/') => &f[i + 1..],
        _ => f,
    };
    id.to_ascii_uppercase()
}

/// 64-bit FNV-1a.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The MurmurHash3 64-bit finaliser: every input bit affects every output bit.
pub fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// The rendezvous weight of a resource (its FNV-1a hash `h`) for replica `k`.
pub fn weight(h: u64, k: u32) -> u64 {
    fmix64(h ^ fmix64(u64::from(k) + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folders(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("resourceId=/SUBSCRIPTIONS/{:08X}-0000-4000-8000-000000000000/RESOURCEGROUPS/RG-{}/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG-{i}/", i % 7, i % 13))
            .collect()
    }

    #[test]
    fn parse_accepts_numbers_and_pod_names_and_names_the_bad_value() {
        assert_eq!(Shard::parse("0/1"), Ok(Shard::default()));
        assert_eq!(Shard::parse(" 2 / 4 "), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(
            Shard::parse("nsgflow-tail-3/4"),
            Ok(Shard { index: 3, count: 4 })
        );
        for (bad, says) in [
            ("3", "has no /"),
            ("4/4", "K = 4"),
            ("1/0", "N = 0"),
            ("a/3", "number"),
            ("1/x", "number of replicas"),
            ("0/5000", "1 to 1024"),
        ] {
            let e = Shard::parse(bad).unwrap_err();
            assert!(e.contains(says) && e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn the_hash_is_the_documented_one_and_stable() {
        // FNV-1a 64 test vectors (from the FNV reference) and fixed owners: a change here
        // moves resources between replicas of a running deployment.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fmix64(0), 0);
        let f = "resourceId=/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG-A/";
        let owners: Vec<u32> = (1..=8).map(|n| Shard::owner(f, n)).collect();
        assert_eq!(owners, OWNERS_NSG_A);
        // The key, case and trailing slash do not matter; the container is not part of it.
        assert_eq!(
            Shard::owner(
                "flowlogresourceid=/subscriptions/s/resourcegroups/rg/providers/microsoft.network/networksecuritygroups/nsg-a",
                5
            ),
            Shard::owner(f, 5)
        );
    }

    const OWNERS_NSG_A: [u32; 8] = [0, 1, 1, 1, 4, 4, 4, 4];

    #[test]
    fn each_resource_has_exactly_one_owner_and_the_load_is_even() {
        let all = folders(6000);
        for n in [1u32, 2, 3, 4, 7] {
            let mut per = vec![0usize; n as usize];
            for f in &all {
                let owners: Vec<u32> = (0..n)
                    .filter(|&k| Shard { index: k, count: n }.owns(f))
                    .collect();
                assert_eq!(owners.len(), 1, "{f} under N={n}: {owners:?}");
                per[owners[0] as usize] += 1;
            }
            let fair = all.len() / n as usize;
            for (k, c) in per.iter().enumerate() {
                // Within 10 % of a fair share (binomial sd is under 1.5 % here).
                assert!(
                    c.abs_diff(fair) * 10 <= fair,
                    "N={n}: replica {k} has {c} of {}",
                    all.len()
                );
            }
        }
    }

    #[test]
    fn going_from_n_to_n_plus_1_moves_about_one_in_n_plus_1_and_only_to_the_new_replica() {
        let all = folders(6000);
        for n in 1u32..=8 {
            let mut moved = 0usize;
            for f in &all {
                let (old, new) = (Shard::owner(f, n), Shard::owner(f, n + 1));
                if old != new {
                    assert_eq!(
                        new, n,
                        "{f} moved from {old} to {new}, not to the new replica"
                    );
                    moved += 1;
                }
            }
            let expect = all.len() as f64 / f64::from(n + 1);
            let ratio = moved as f64 / expect;
            assert!(
                (0.9..=1.1).contains(&ratio),
                "N={n}->{}: {moved} moved, expected about {expect:.0}",
                n + 1
            );
        }
    }
}
