//! Servers of happiness (Tahoe `docs/specifications/servers-of-happiness.rst`):
//! the happiness of a placement is the size of a maximum matching between
//! servers and the shares they hold — the number of servers that each hold
//! a *distinct* share. An upload succeeds only if it reaches `shares.happy`.
//!
//! [`plan`] decides which shares each server should be asked for:
//! 1. match already-present shares to servers (maximum matching);
//! 2. give each unmatched share to a server not in the matching, in
//!    permuted order (one per server, which is what raises happiness);
//! 3. spread what is left (shares present nowhere) round-robin over the
//!    writeable servers, again in permuted order.
//!
//! Pure functions over indexes (server `i` = position in the permuted list).

use std::collections::{BTreeMap, BTreeSet};

/// Maximum matching size for `holds[server] = shares held`.
pub fn happiness(holds: &[BTreeSet<u16>]) -> usize {
    matching(holds).len()
}

/// A maximum matching as `share → server` (Kuhn's augmenting paths; at
/// most 256 shares × a few hundred servers, so this is cheap).
pub fn matching(holds: &[BTreeSet<u16>]) -> BTreeMap<u16, usize> {
    let mut owner: BTreeMap<u16, usize> = BTreeMap::new();
    for s in 0..holds.len() {
        let mut seen = BTreeSet::new();
        augment(s, holds, &mut owner, &mut seen);
    }
    owner
}

fn augment(
    s: usize,
    holds: &[BTreeSet<u16>],
    owner: &mut BTreeMap<u16, usize>,
    seen: &mut BTreeSet<u16>,
) -> bool {
    for &sh in &holds[s] {
        if !seen.insert(sh) {
            continue;
        }
        let free = match owner.get(&sh) {
            None => true,
            Some(&o) => augment(o, holds, owner, seen),
        };
        if free {
            owner.insert(sh, s);
            return true;
        }
    }
    false
}

/// Which shares to ask each server for. `present[i]` = shares server `i`
/// already has; `writeable[i]` = whether it may receive new shares.
pub fn plan(total: u16, present: &[BTreeSet<u16>], writeable: &[bool]) -> Vec<BTreeSet<u16>> {
    let n = present.len();
    let mut ask = vec![BTreeSet::new(); n];
    let m = matching(present);
    let used: BTreeSet<usize> = m.values().copied().collect();
    let anywhere: BTreeSet<u16> = present.iter().flatten().copied().collect();
    let mut unmatched: Vec<u16> = (0..total).filter(|s| !m.contains_key(s)).collect();
    // 2. One unmatched share per fresh server.
    let fresh: Vec<usize> = (0..n)
        .filter(|i| writeable[*i] && !used.contains(i))
        .collect();
    let mut fresh_iter = fresh.iter();
    let mut left = Vec::new();
    // Shares present nowhere go first: they must be uploaded anyway.
    unmatched.sort_by_key(|s| anywhere.contains(s));
    for sh in unmatched {
        match fresh_iter.next() {
            Some(&i) => {
                ask[i].insert(sh);
            }
            None => left.push(sh),
        }
    }
    // 3. Shares present nowhere still need a home.
    let targets: Vec<usize> = (0..n).filter(|i| writeable[*i]).collect();
    if !targets.is_empty() {
        for (j, sh) in left
            .into_iter()
            .filter(|s| !anywhere.contains(s))
            .enumerate()
        {
            ask[targets[j % targets.len()]].insert(sh);
        }
    }
    ask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[u16]) -> BTreeSet<u16> {
        v.iter().copied().collect()
    }

    #[test]
    fn happiness_is_a_matching() {
        assert_eq!(happiness(&[set(&[0, 1, 2]), set(&[]), set(&[])]), 1);
        assert_eq!(happiness(&[set(&[0, 1]), set(&[0]), set(&[1])]), 2);
        assert_eq!(happiness(&[set(&[0]), set(&[0, 1]), set(&[1, 2])]), 3);
    }

    #[test]
    fn plan_spreads_over_servers() {
        let present = vec![BTreeSet::new(); 10];
        let ask = plan(10, &present, &[true; 10]);
        assert!(ask.iter().all(|a| a.len() == 1));
        let present = vec![BTreeSet::new(); 4];
        let ask = plan(10, &present, &[true; 4]);
        assert_eq!(ask.iter().map(BTreeSet::len).sum::<usize>(), 10);
        assert_eq!(happiness(&ask), 4);
        let ask = plan(10, &vec![BTreeSet::new(); 12], &[true; 12]);
        assert_eq!(happiness(&ask), 10);
    }

    #[test]
    fn plan_reuses_present_shares() {
        // All shares on server 0: the plan must spread copies elsewhere.
        let mut present = vec![BTreeSet::new(); 10];
        present[0] = (0..10).collect();
        let ask = plan(10, &present, &[true; 10]);
        let mut holds = present.clone();
        for (h, a) in holds.iter_mut().zip(&ask) {
            h.extend(a);
        }
        assert_eq!(happiness(&holds), 10);
        assert!(ask[0].is_empty());
        // Everything already perfectly spread: nothing to upload.
        let present: Vec<_> = (0..10).map(|i| set(&[i])).collect();
        assert!(plan(10, &present, &[true; 10])
            .iter()
            .all(BTreeSet::is_empty));
    }
}
