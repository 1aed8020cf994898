//! The set of byte ranges written so far into an incoming share.

use std::ops::Range;

/// Disjoint, sorted, non-adjacent half-open ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RangeSet(Vec<Range<u64>>);

impl RangeSet {
    /// Add `r`, merging with neighbours it overlaps or touches.
    pub(crate) fn insert(&mut self, r: Range<u64>) {
        if r.is_empty() {
            return;
        }
        let mut start = r.start;
        let mut end = r.end;
        // Keep ranges that end before `start` or begin after `end`; merge the rest.
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut placed = false;
        for x in self.0.drain(..) {
            if x.end < start {
                out.push(x);
            } else if x.start > end {
                if !placed {
                    out.push(start..end);
                    placed = true;
                }
                out.push(x);
            } else {
                start = start.min(x.start);
                end = end.max(x.end);
            }
        }
        if !placed {
            out.push(start..end);
        }
        self.0 = out;
    }

    /// The parts of `r` already in the set.
    pub(crate) fn intersections(&self, r: &Range<u64>) -> Vec<Range<u64>> {
        self.0
            .iter()
            .filter_map(|x| {
                let s = x.start.max(r.start);
                let e = x.end.min(r.end);
                (s < e).then_some(s..e)
            })
            .collect()
    }

    /// The parts of `[0, total)` not in the set.
    pub(crate) fn missing(&self, total: u64) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        let mut pos = 0;
        for x in &self.0 {
            if x.start >= total {
                break;
            }
            if x.start > pos {
                out.push(pos..x.start);
            }
            pos = pos.max(x.end);
        }
        if pos < total {
            out.push(pos..total);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_a_bitmap(ranges in prop::collection::vec((0u64..64, 0u64..16), 0..12)) {
            let mut set = RangeSet::default();
            let mut bits = [false; 80];
            for (s, l) in ranges {
                set.insert(s..s + l);
                for b in &mut bits[s as usize..(s + l) as usize] { *b = true; }
                let missing = set.missing(80);
                let mut expect = Vec::new();
                let mut i = 0;
                while i < 80 {
                    if !bits[i] {
                        let j = (i..80).find(|&j| bits[j]).unwrap_or(80);
                        expect.push(i as u64..j as u64);
                        i = j;
                    } else { i += 1; }
                }
                prop_assert_eq!(missing, expect);
                // Disjoint, sorted, non-adjacent.
                for w in set.0.windows(2) { prop_assert!(w[0].end < w[1].start); }
            }
        }
    }
}
