//! The block-list planner: blocks read (a checkpoint) against a committed list, both
//! built from the input, then the batches of the read and the classification of block
//! texts. Plans must point inside the committed list; batches must tile it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsgflow::blob::blocks::{batches, piece, plan, BlockInfo, Plan, SeenBlock};

fn blocks(bytes: &[u8]) -> Vec<BlockInfo> {
    bytes
        .chunks(2)
        .map(|c| BlockInfo {
            id: format!("b{}", c[0] % 8),
            size: u64::from(*c.get(1).unwrap_or(&0)),
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let split = data[0] as usize % data.len();
    let (read_bytes, rest) = data[1..].split_at(split.min(data.len() - 1));
    let read: Vec<SeenBlock> = blocks(read_bytes)
        .iter()
        .map(|b| SeenBlock::new(b, b.id.as_bytes()))
        .collect();
    let committed = blocks(rest);
    match plan(&read, &committed) {
        Plan::Append { first, offset } => {
            assert!(first <= committed.len());
            let max = u64::from(data[0]).max(1);
            let bs = batches(&committed, first, offset, max);
            let mut next = first;
            for (a, b, _, _) in &bs {
                assert_eq!(*a, next);
                assert!(b > a);
                next = *b;
            }
            assert!(bs.is_empty() || next == committed.len());
        }
        Plan::Unchanged | Plan::Rewrite => {}
    }
    if let Ok(text) = std::str::from_utf8(rest) {
        let _ = piece(0, false, text);
        let _ = piece(1, false, text);
        let _ = piece(1, true, text);
    }
});
