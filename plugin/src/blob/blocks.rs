//! A `PT1H.json` block blob as Azure writes it: a 12-byte head block `{"records":[`, one
//! block per record (each after the first starting with `,`), and a 2-byte tail block
//! `]}`; every minute a new record block is committed before the tail. This module decides
//! which committed blocks are new, which byte ranges hold them, and what text of each block
//! is records (head, tail and the leading comma dropped).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One committed block: its ID (base64, as the service gives it) and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    pub id: String,
    pub size: u64,
}

/// A block already read: its ID, size and a hash of its bytes (to recognise it when the
/// blob is rewritten).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenBlock {
    pub id: String,
    pub size: u64,
    /// The first 8 bytes of the SHA-256 of the block, hex.
    pub hash: String,
}

impl SeenBlock {
    pub fn new(info: &BlockInfo, data: &[u8]) -> SeenBlock {
        SeenBlock {
            id: info.id.clone(),
            size: info.size,
            hash: content_hash(data),
        }
    }

    /// Same bytes (by size and hash), whatever the ID.
    pub fn same_content(&self, other: &SeenBlock) -> bool {
        self.size == other.size && self.hash == other.hash
    }
}

pub fn content_hash(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// What to read of a blob, given the blocks already read and its committed list now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing new (the tail may have been re-committed).
    Unchanged,
    /// The committed list extends the one read: read from block `first`, at byte `offset`.
    Append { first: usize, offset: u64 },
    /// The committed list does not extend the one read (blocks removed, replaced or
    /// reordered): read it all again, skipping blocks whose bytes were read before.
    Rewrite,
}

/// Compares the blocks read with the committed list. Blocks match by ID and size.
pub fn plan(read: &[SeenBlock], committed: &[BlockInfo]) -> Plan {
    let extends = read.len() <= committed.len()
        && read
            .iter()
            .zip(committed)
            .all(|(r, c)| r.id == c.id && r.size == c.size);
    if !extends {
        return Plan::Rewrite;
    }
    let offset = read.iter().map(|b| b.size).sum();
    let rest = &committed[read.len()..];
    // Only the tail (or nothing) is left: nothing new. The tail is never marked read, since
    // Azure commits the next record block before it.
    if rest.is_empty() || (rest.len() == 1 && rest[0].size == TAIL.len() as u64 && !read.is_empty())
    {
        return Plan::Unchanged;
    }
    Plan::Append {
        first: read.len(),
        offset,
    }
}

/// Splits blocks `first..` of `committed` into batches of at most `max_bytes` (at least one
/// block each): `(first block, end block, start byte, end byte)` per batch. Each batch is
/// one ranged read, and one checkpoint once its events are out.
pub fn batches(
    committed: &[BlockInfo],
    first: usize,
    offset: u64,
    max_bytes: u64,
) -> Vec<(usize, usize, u64, u64)> {
    let mut out = Vec::new();
    let mut i = first;
    let mut pos = offset;
    while i < committed.len() {
        let (start_i, start_pos) = (i, pos);
        while i < committed.len()
            && (i == start_i || pos + committed[i].size - start_pos <= max_bytes)
        {
            pos += committed[i].size;
            i += 1;
        }
        out.push((start_i, i, start_pos, pos));
    }
    out
}

/// The tail block's text.
pub const TAIL: &str = "]}";

/// What a block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// `{"records":[` (block 0).
    Head,
    /// `]}` (the last block): not marked read, the next commit puts records before it.
    Tail,
    /// Record text, with the head, the leading comma and surrounding blanks removed.
    Records(&'a str),
    /// Blanks or a lone comma.
    Empty,
}

/// Classifies block `index` (`last`: the last committed block) from its text.
pub fn piece(index: usize, last: bool, text: &str) -> Piece<'_> {
    let mut t = text.trim();
    if index == 0 {
        if let Some(rest) = strip_head(t) {
            if rest.is_empty() {
                return Piece::Head;
            }
            // A writer that put the first record into the head block.
            t = rest;
        }
    }
    if last && t == TAIL {
        return Piece::Tail;
    }
    let t = t.strip_prefix(',').unwrap_or(t).trim_start();
    if t.is_empty() {
        Piece::Empty
    } else {
        Piece::Records(t)
    }
}

/// `{"records":[`, blanks allowed between the tokens: the rest after it.
fn strip_head(t: &str) -> Option<&str> {
    let t = t.strip_prefix('{')?.trim_start();
    let t = t.strip_prefix("\"records\"")?.trim_start();
    let t = t.strip_prefix(':')?.trim_start();
    Some(t.strip_prefix('[')?.trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(id: &str, size: u64) -> BlockInfo {
        BlockInfo {
            id: id.into(),
            size,
        }
    }
    fn seen(id: &str, size: u64) -> SeenBlock {
        SeenBlock {
            id: id.into(),
            size,
            hash: String::new(),
        }
    }

    #[test]
    fn plans_appends_rewrites_and_tail_only_changes() {
        let now = [b("h", 12), b("r1", 100), b("r2", 90), b("t", 2)];
        assert_eq!(
            plan(&[], &now),
            Plan::Append {
                first: 0,
                offset: 0
            }
        );
        assert_eq!(
            plan(&[seen("h", 12), seen("r1", 100)], &now),
            Plan::Append {
                first: 2,
                offset: 112
            }
        );
        assert_eq!(
            plan(&[seen("h", 12), seen("r1", 100), seen("r2", 90)], &now),
            Plan::Unchanged
        );
        // r1 replaced by another block: a rewrite.
        assert_eq!(plan(&[seen("h", 12), seen("rX", 100)], &now), Plan::Rewrite);
        // Same ID, other size: a rewrite.
        assert_eq!(plan(&[seen("h", 12), seen("r1", 99)], &now), Plan::Rewrite);
        // More read than there is now: a rewrite.
        let five: Vec<SeenBlock> = ["h", "r1", "r2", "r3", "r4"]
            .iter()
            .map(|i| seen(i, 1))
            .collect();
        assert_eq!(plan(&five, &now), Plan::Rewrite);
    }

    #[test]
    fn batches_respect_the_byte_limit_but_take_at_least_one_block() {
        let now = [
            b("h", 12),
            b("r1", 100),
            b("r2", 90),
            b("r3", 300),
            b("t", 2),
        ];
        assert_eq!(
            batches(&now, 1, 12, 200),
            vec![(1, 3, 12, 202), (3, 4, 202, 502), (4, 5, 502, 504)]
        );
        assert_eq!(batches(&now, 0, 0, u64::MAX), vec![(0, 5, 0, 504)]);
        assert!(batches(&now, 5, 504, 10).is_empty());
    }

    #[test]
    fn pieces_drop_head_tail_and_comma() {
        assert_eq!(piece(0, false, "{\"records\":["), Piece::Head);
        assert_eq!(
            piece(0, false, "{ \"records\" : [ {\"time\":1}"),
            Piece::Records("{\"time\":1}")
        );
        assert_eq!(
            piece(1, false, "{\"time\":1}"),
            Piece::Records("{\"time\":1}")
        );
        assert_eq!(
            piece(2, false, ",{\"time\":2}"),
            Piece::Records("{\"time\":2}")
        );
        assert_eq!(piece(3, true, "]}"), Piece::Tail);
        // A `]}` that is not last is not a tail: it goes to the engine, which rejects it.
        assert_eq!(piece(3, false, "]}"), Piece::Records("]}"));
        assert_eq!(piece(4, false, " , "), Piece::Empty);
    }
}
