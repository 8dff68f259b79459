//! Per-tuple constants rendered once: the runs of an event that depend only on a few
//! labels (action, state, direction, protocol, flow-log kind) are written by the same code
//! as before, once per combination, and copied for each tuple as one block. Fewer, longer
//! copies instead of a dozen short writes (each with its own capacity check) is most of
//! what makes the ECS and flat encoders faster (issue 15, `docs/src/performance.md`).
//!
//! ```
//! # use nsgflow::encode::prerender::{Prerendered, label_key};
//! # use nsgflow::labels::{Direction, Protocol};
//! let mut cache = Prerendered::new(64);
//! let mut out = Vec::new();
//! let key = label_key(Protocol::TCP, Direction::Inbound, 0, 1);
//! cache.write(key, &mut out, |o| o.extend_from_slice(b",\"direction\":\"inbound\""));
//! cache.write(key, &mut out, |_| unreachable!("rendered once"));
//! assert_eq!(out, b",\"direction\":\"inbound\",\"direction\":\"inbound\"");
//! ```

use crate::labels::{Action, Direction, FlowState, Protocol};

/// Rendered byte runs by key, each rendered on first use (so a run of tuples allocates
/// only for the first of each combination, never per tuple).
#[derive(Debug, Clone, Default)]
pub struct Prerendered {
    /// Each run zero-padded to whole blocks, and its length (0: not rendered yet).
    slots: Vec<(Vec<u8>, usize)>,
}

/// Runs are copied in blocks of this many bytes (copies of a known size, no `memcpy`
/// call), then the output is cut back to the run's length.
const BLOCK: usize = 32;

impl Prerendered {
    /// A cache for keys below `keys`.
    pub fn new(keys: usize) -> Self {
        Prerendered {
            slots: vec![(Vec::new(), 0); keys],
        }
    }

    /// Appends the run for `key` to `out`, rendering it with `render` the first time. A
    /// `None` key (a combination not worth keeping, such as a rare protocol) is rendered
    /// straight into `out` every time. `render` must write at least one byte and always
    /// the same bytes for a key.
    #[inline]
    pub fn write(
        &mut self,
        key: Option<usize>,
        out: &mut Vec<u8>,
        render: impl FnOnce(&mut Vec<u8>),
    ) {
        let Some((run, len)) = key.and_then(|k| self.slots.get_mut(k)) else {
            return render(out);
        };
        if *len == 0 {
            render(run);
            *len = run.len();
            run.resize(run.len().div_ceil(BLOCK) * BLOCK, 0);
        }
        let end = out.len() + *len;
        for block in run.chunks_exact(BLOCK) {
            let block: &[u8; BLOCK] = block.try_into().unwrap_or(&[0; BLOCK]);
            out.extend_from_slice(block);
        }
        out.truncate(end);
    }
}

/// The index of a flow state, `None` included: 0 to 4.
#[inline]
pub fn state_index(state: Option<FlowState>) -> usize {
    match state {
        None => 0,
        Some(FlowState::Begin) => 1,
        Some(FlowState::Continue) => 2,
        Some(FlowState::End) => 3,
        Some(FlowState::Deny) => 4,
    }
}

/// The index of an action: 0 or 1.
#[inline]
pub fn action_index(action: Action) -> usize {
    match action {
        Action::Allow => 0,
        Action::Deny => 1,
    }
}

/// A key for a combination of the protocols flow logs carry (TCP, UDP, ICMP, ICMPv6),
/// a direction, and two more small indexes `a < 2` and `b < 8`: below 128. `None` for
/// other protocols.
#[inline]
pub fn label_key(protocol: Protocol, direction: Direction, a: usize, b: usize) -> Option<usize> {
    debug_assert!(a < 2 && b < 8);
    let p = match protocol {
        Protocol::TCP => 0,
        Protocol::UDP => 1,
        Protocol::ICMP => 2,
        Protocol::ICMPV6 => 3,
        _ => return None,
    };
    let d = match direction {
        Direction::Inbound => 0,
        Direction::Outbound => 1,
    };
    Some(((p * 2 + d) * 2 + a) * 8 + b)
}
