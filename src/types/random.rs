//! A random pick from an ordered name space that has no rank index (sled
//! has none): RANDOMKEY on a big database, SRANDMEMBER/HRANDFIELD/
//! ZRANDMEMBER on a big collection, SPOP on a set in the older layout. The
//! walk goes down the names one branching byte at a time: at each level it
//! draws a byte between the smallest and the largest present there and
//! follows the first name at or after it (levels with one branch are
//! skipped at once). Not exactly uniform (a byte after a gap is
//! favoured), but every name can come out, in a few ordered lookups per
//! branching level, and common shapes (`user:1234`) spread evenly.

use bytes::Bytes;

/// An ordered set of names to walk.
pub(crate) trait Ordered {
    /// The first name at or after `probe`.
    fn first_from(&mut self, probe: &[u8]) -> Option<Bytes>;
    /// The first name after `name`.
    fn next_after(&mut self, name: &[u8]) -> Option<Bytes>;
    /// The last name starting with `prefix`.
    fn last_with(&mut self, prefix: &[u8]) -> Option<Bytes>;
}

pub(crate) fn walk(src: &mut impl Ordered, rng: &mut impl rand::Rng) -> Option<Bytes> {
    let mut prefix: Vec<u8> = Vec::new();
    // Always the first name starting with `prefix`.
    let mut first = src.first_from(&[])?;
    loop {
        let last = src.last_with(&prefix)?;
        if last == first {
            return Some(first);
        }
        let lcp = first
            .iter()
            .zip(last.iter())
            .take_while(|(a, b)| a == b)
            .count();
        if lcp > prefix.len() {
            prefix = first[..lcp].to_vec();
            continue;
        }
        // The name equal to the prefix, if any, is one more slot.
        let exact = first.len() == prefix.len();
        let lo = if exact {
            *src.next_after(&first)?.get(prefix.len())?
        } else {
            first[prefix.len()]
        };
        let hi = *last.get(prefix.len())?;
        let slots = u32::from(hi.saturating_sub(lo)) + 1 + u32::from(exact);
        let r = rng.gen_range(0..slots);
        if exact && r == slots - 1 {
            return Some(first);
        }
        let mut probe = prefix.clone();
        probe.push(lo + r as u8);
        let found = src.first_from(&probe).filter(|n| n.starts_with(&prefix))?;
        prefix.push(*found.get(prefix.len())?);
        first = found;
    }
}
