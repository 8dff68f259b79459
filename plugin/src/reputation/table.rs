//! The reputation table: every feed's prefixes in one [`PrefixTable`], each address range
//! mapped to a *listing*: which feeds list it (each feed's most specific entry), the
//! category and the score. Listings are interned, so a lookup gives an index and events
//! borrow names from the table instead of copying them.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use crate::classify::{builtin_class, AddressClass};
use crate::prefix_table::PrefixTable;

use super::feed::ParsedFeed;

/// One feed's parsed entries with the name and category it was configured with.
#[derive(Debug, Clone)]
pub struct LoadedFeed {
    pub name: String,
    pub category: String,
    pub parsed: ParsedFeed,
}

/// The attributes of an address range: which feeds, category, score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Combo {
    /// Feed indexes, in config order.
    feeds: Box<[u16]>,
    /// The category of the first feed (in config order) that lists the address.
    category: u16,
    /// The highest score any listing feed gives (IPsum counts, CSV scores).
    score: Option<u32>,
}

/// Every feed in one longest-prefix table.
#[derive(Default)]
pub struct ReputationTable {
    prefixes: PrefixTable,
    feeds: Vec<String>,
    categories: Vec<String>,
    combos: Vec<Combo>,
    /// Entries across all feeds.
    pub entries: usize,
}

impl fmt::Debug for ReputationTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReputationTable")
            .field("feeds", &self.feeds)
            .field("entries", &self.entries)
            .field("ranges", &self.prefixes.len())
            .finish()
    }
}

/// An entry's attributes, interned while building.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Attr {
    feed: u16,
    category: u16,
    score: Option<u32>,
}

impl ReputationTable {
    /// Builds the table; feeds keep their order (it decides which category is shown).
    pub fn build(feeds: &[LoadedFeed]) -> ReputationTable {
        let mut categories: Vec<String> = Vec::new();
        let mut category_ids: HashMap<String, u16> = HashMap::new();
        let mut intern_category = |c: &str| -> u16 {
            if let Some(&id) = category_ids.get(c) {
                return id;
            }
            let id = categories.len() as u16;
            categories.push(c.to_string());
            category_ids.insert(c.to_string(), id);
            id
        };
        let mut attrs: Vec<Attr> = Vec::new();
        let mut attr_ids: HashMap<Attr, u32> = HashMap::new();
        let mut entries = Vec::new();
        for (fi, feed) in feeds.iter().enumerate() {
            for e in &feed.parsed.entries {
                let attr = Attr {
                    feed: fi as u16,
                    category: intern_category(e.category.as_deref().unwrap_or(&feed.category)),
                    score: e.score,
                };
                let id = *attr_ids.entry(attr).or_insert_with(|| {
                    attrs.push(attr);
                    attrs.len() as u32 - 1
                });
                entries.push((e.net, id));
            }
        }
        let mut combos: Vec<Combo> = Vec::new();
        let mut combo_ids: HashMap<Vec<u32>, u32> = HashMap::new();
        let mut key: Vec<u32> = Vec::new();
        let prefixes = PrefixTable::build(&entries, |stack| {
            // Per feed, its innermost (most specific) entry: the last on the stack.
            key.clear();
            for &a in stack.iter().rev() {
                let feed = attrs[a as usize].feed;
                if !key.iter().any(|&k| attrs[k as usize].feed == feed) {
                    key.push(a);
                }
            }
            key.sort_by_key(|&a| attrs[a as usize].feed);
            if let Some(&id) = combo_ids.get(&key) {
                return Some(id);
            }
            let first = attrs[key[0] as usize];
            let combo = Combo {
                feeds: key.iter().map(|&a| attrs[a as usize].feed).collect(),
                category: first.category,
                score: key.iter().filter_map(|&a| attrs[a as usize].score).max(),
            };
            let id = combos.len() as u32;
            combos.push(combo);
            combo_ids.insert(key.clone(), id);
            Some(id)
        });
        ReputationTable {
            prefixes,
            feeds: feeds.iter().map(|f| f.name.clone()).collect(),
            categories,
            combos,
            entries: entries.len(),
        }
    }

    /// The listing of `ip`, by index; private and reserved space is never listed.
    #[inline]
    pub fn lookup(&self, ip: IpAddr) -> Option<u32> {
        if builtin_class(ip) != AddressClass::Public {
            return None;
        }
        self.prefixes.get(ip)
    }

    /// The listing behind an index from [`ReputationTable::lookup`].
    pub fn listing(&self, id: u32) -> Option<Listing<'_>> {
        self.combos
            .get(id as usize)
            .map(|combo| Listing { table: self, combo })
    }

    pub fn ranges(&self) -> usize {
        self.prefixes.len()
    }

    pub fn heap_bytes(&self) -> usize {
        self.prefixes.heap_bytes()
    }
}

/// Why an address is listed, borrowed from the table.
#[derive(Clone, Copy)]
pub struct Listing<'t> {
    table: &'t ReputationTable,
    combo: &'t Combo,
}

impl<'t> Listing<'t> {
    /// The names of the feeds that list the address, in config order.
    pub fn feeds(&self) -> impl Iterator<Item = &'t str> + 't {
        let t = self.table;
        self.combo
            .feeds
            .iter()
            .map(move |&f| t.feeds[f as usize].as_str())
    }

    /// The first listing feed's name.
    pub fn first_feed(&self) -> &'t str {
        self.feeds().next().unwrap_or("")
    }

    pub fn category(&self) -> &'t str {
        &self.table.categories[self.combo.category as usize]
    }

    pub fn score(&self) -> Option<u32> {
        self.combo.score
    }
}

impl PartialEq for Listing<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.combo, other.combo)
    }
}

impl Eq for Listing<'_> {}

impl fmt::Debug for Listing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listing")
            .field("feeds", &self.feeds().collect::<Vec<_>>())
            .field("category", &self.category())
            .field("score", &self.score())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::feed::{parse_feed, FeedFormat};
    use super::*;

    fn feed(name: &str, category: &str, format: FeedFormat, text: &str) -> LoadedFeed {
        LoadedFeed {
            name: name.into(),
            category: category.into(),
            parsed: parse_feed(format, text),
        }
    }

    #[test]
    fn feeds_combine_and_private_space_is_never_listed() {
        let t = ReputationTable::build(&[
            feed(
                "firehol_level1",
                "blocklist",
                FeedFormat::List,
                "10.0.0.0/8\n45.148.10.0/24\n0.0.0.0/8\n",
            ),
            feed("ipsum", "attacker", FeedFormat::Ipsum, "45.148.10.62\t7\n"),
            feed(
                "own",
                "scanner",
                FeedFormat::Csv,
                "45.148.10.62,bruteforce,90,ssh\n",
            ),
        ]);
        let l = |s: &str| t.lookup(s.parse().unwrap()).and_then(|id| t.listing(id));
        let hit = l("45.148.10.62").unwrap();
        assert_eq!(
            hit.feeds().collect::<Vec<_>>(),
            ["firehol_level1", "ipsum", "own"]
        );
        assert_eq!(hit.category(), "blocklist");
        assert_eq!(hit.score(), Some(90));
        let wide = l("45.148.10.1").unwrap();
        assert_eq!(wide.feeds().collect::<Vec<_>>(), ["firehol_level1"]);
        assert_eq!(wide.score(), None);
        // FireHOL level1 lists 10.0.0.0/8 and 0.0.0.0/8: never reported.
        assert!(l("10.20.2.5").is_none());
        assert!(l("0.1.2.3").is_none());
        assert!(l("8.8.8.8").is_none());
    }
}
