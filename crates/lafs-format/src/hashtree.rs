//! Merkle hash trees (spec §2.7), as Tahoe's `hashtree.py` lays them out.
//!
//! A tree over `n` leaves is padded to `P = roundup_pow2(n)` leaves with
//! `H("Merkle tree empty leaf", decimal(i))` and flattened breadth-first:
//! index 0 is the root, the children of `i` are `2i+1` and `2i+2`, and leaf
//! `j` sits at `P-1+j`. Shares store whole trees in this index order, and the
//! share-hash chains name nodes by these indexes.
//!
//! [`HashTree`] builds a complete tree (the writer's side).
//! [`PartialHashTree`] is the reader's side: it starts from a trusted root,
//! accepts hashes from an untrusted share, and only keeps those that chain
//! up to the root. A downloader uses it to check one block with just the
//! "uncle" hashes that block needs.

use crate::hash::{tagged_hash, tagged_pair_hash, tags, Hash};
use std::collections::BTreeMap;

/// Smallest power of two ≥ `n` (1 for 0 and 1).
pub fn roundup_pow2(n: usize) -> usize {
    n.max(1).next_power_of_two()
}

/// Number of nodes in a tree over `n` leaves: `2·roundup_pow2(n) − 1`.
pub fn tree_len(n: usize) -> usize {
    2 * roundup_pow2(n) - 1
}

/// Padding leaf for position `i`.
pub fn empty_leaf(i: usize) -> Hash {
    tagged_hash(tags::MERKLE_EMPTY_LEAF, i.to_string().as_bytes())
}

/// Parent of two nodes.
pub fn internal_node(left: &Hash, right: &Hash) -> Hash {
    tagged_pair_hash(tags::MERKLE_INTERNAL_NODE, left, right)
}

/// Parent index of node `i` (`i > 0`).
pub fn parent(i: usize) -> usize {
    (i - 1) / 2
}

/// Sibling index of node `i` (`i > 0`).
pub fn sibling(i: usize) -> usize {
    if i % 2 == 1 {
        i + 1
    } else {
        i - 1
    }
}

/// The uncle chain of node `i`: the sibling of every node on the path from
/// `i` up to, not including, the root, leaf first.
pub fn needed_for(mut i: usize) -> Vec<usize> {
    let mut need = Vec::new();
    while i != 0 {
        need.push(sibling(i));
        i = parent(i);
    }
    need
}

/// A complete hash tree.
#[derive(Clone, PartialEq, Eq)]
pub struct HashTree {
    nodes: Vec<Hash>,
    num_leaves: usize,
}

impl std::fmt::Debug for HashTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashTree")
            .field("num_leaves", &self.num_leaves)
            .field("nodes", &self.nodes.len())
            .finish()
    }
}

impl HashTree {
    /// Build the tree over `leaves`.
    pub fn new(leaves: &[Hash]) -> Self {
        let p = roundup_pow2(leaves.len());
        let mut nodes = vec![[0u8; 32]; 2 * p - 1];
        for j in 0..p {
            nodes[p - 1 + j] = match leaves.get(j) {
                Some(h) => *h,
                None => empty_leaf(j),
            };
        }
        for i in (0..p - 1).rev() {
            nodes[i] = internal_node(&nodes[2 * i + 1], &nodes[2 * i + 2]);
        }
        HashTree {
            nodes,
            num_leaves: leaves.len(),
        }
    }

    /// The root hash.
    pub fn root(&self) -> Hash {
        self.nodes[0]
    }

    /// All nodes in index order.
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Node `i`.
    pub fn get(&self, i: usize) -> Option<&Hash> {
        self.nodes.get(i)
    }

    /// Number of real (unpadded) leaves.
    pub fn num_leaves(&self) -> usize {
        self.num_leaves
    }

    /// Index of leaf `j`.
    pub fn leaf_index(&self, j: usize) -> usize {
        self.nodes.len() / 2 + j
    }

    /// The whole tree serialized as 32-byte nodes in index order.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.nodes.concat()
    }

    /// `(index, hash)` pairs needed to verify leaf `j` against the root.
    pub fn needed_hashes(&self, j: usize) -> Vec<(usize, Hash)> {
        needed_for(self.leaf_index(j))
            .into_iter()
            .map(|i| (i, self.nodes[i]))
            .collect()
    }
}

/// Why a hash did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashTreeError {
    /// A node index outside the tree.
    #[error("hash tree index {index} out of range (tree has {len} nodes)")]
    IndexOutOfRange {
        /// The index.
        index: usize,
        /// Nodes in the tree.
        len: usize,
    },
    /// A hash needed to reach the root was not supplied.
    #[error("hash tree node {0} is needed but was not supplied")]
    MissingHash(usize),
    /// The supplied hashes do not chain to the trusted root.
    #[error("hash mismatch at node {0}")]
    Mismatch(usize),
}

/// The reader's tree: a trusted root plus whatever nodes have been proven.
#[derive(Clone, Debug)]
pub struct PartialHashTree {
    len: usize,
    known: BTreeMap<usize, Hash>,
}

impl PartialHashTree {
    /// A tree over `num_leaves` leaves whose root is trusted.
    pub fn new(num_leaves: usize, root: Hash) -> Self {
        let mut known = BTreeMap::new();
        known.insert(0, root);
        PartialHashTree {
            len: tree_len(num_leaves),
            known,
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a tree has at least its root.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Index of leaf `j`.
    pub fn leaf_index(&self, j: usize) -> usize {
        self.len / 2 + j
    }

    /// The root.
    pub fn root(&self) -> Hash {
        self.known[&0]
    }

    /// A node already proven.
    pub fn get(&self, i: usize) -> Option<&Hash> {
        self.known.get(&i)
    }

    /// Indexes of the hashes still needed to verify leaf `j`.
    pub fn needed_for_leaf(&self, j: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut i = self.leaf_index(j);
        while i != 0 && !self.known.contains_key(&i) {
            let s = sibling(i);
            if !self.known.contains_key(&s) {
                out.push(s);
            }
            i = parent(i);
        }
        out
    }

    /// Verify that `leaf` is leaf `j`, using `extra` (untrusted) hashes for
    /// the uncles. On success the leaf and every node on its path become
    /// known; on failure nothing is added.
    pub fn verify_leaf(
        &mut self,
        j: usize,
        leaf: Hash,
        extra: &BTreeMap<usize, Hash>,
    ) -> Result<(), HashTreeError> {
        let mut i = self.leaf_index(j);
        if i >= self.len {
            return Err(HashTreeError::IndexOutOfRange {
                index: i,
                len: self.len,
            });
        }
        let mut cur = leaf;
        let mut proven = vec![(i, cur)];
        loop {
            if let Some(k) = self.known.get(&i) {
                if *k != cur {
                    return Err(HashTreeError::Mismatch(i));
                }
                break;
            }
            // i is not known, so it is not the root.
            let s = sibling(i);
            let sib = match self.known.get(&s).or_else(|| extra.get(&s)) {
                Some(h) => *h,
                None => return Err(HashTreeError::MissingHash(s)),
            };
            proven.push((s, sib));
            cur = if i % 2 == 1 {
                internal_node(&cur, &sib)
            } else {
                internal_node(&sib, &cur)
            };
            i = parent(i);
            proven.push((i, cur));
        }
        for (idx, h) in proven {
            self.known.entry(idx).or_insert(h);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| tagged_hash(b"leaf", &[i as u8])).collect()
    }

    #[test]
    fn shapes() {
        assert_eq!(tree_len(0), 1);
        assert_eq!(tree_len(1), 1);
        assert_eq!(tree_len(3), 7);
        assert_eq!(tree_len(10), 31);
        let t = HashTree::new(&[]);
        assert_eq!(t.root(), empty_leaf(0));
        let l = leaves(1);
        assert_eq!(HashTree::new(&l).root(), l[0]);
        assert_eq!(needed_for(15), vec![16, 8, 4, 2]);
    }

    #[test]
    fn partial_tree_detects_corruption() {
        let l = leaves(5);
        let t = HashTree::new(&l);
        let mut p = PartialHashTree::new(5, t.root());
        let mut extra: BTreeMap<usize, Hash> = t.needed_hashes(3).into_iter().collect();
        assert_eq!(p.needed_for_leaf(3).len(), 3);
        let mut bad = l[3];
        bad[0] ^= 1;
        assert!(p.verify_leaf(3, bad, &extra).is_err());
        p.verify_leaf(3, l[3], &extra).unwrap();
        // Siblings of leaf 3 are now known: leaf 2 needs nothing more.
        assert!(p.needed_for_leaf(2).is_empty());
        extra.clear();
        p.verify_leaf(2, l[2], &extra).unwrap();
        assert!(matches!(
            p.verify_leaf(0, l[0], &extra),
            Err(HashTreeError::MissingHash(_))
        ));
    }

    proptest! {
        #[test]
        fn every_leaf_verifies(n in 1usize..40, j in 0usize..40) {
            let j = j % n;
            let l = leaves(n);
            let t = HashTree::new(&l);
            let mut p = PartialHashTree::new(n, t.root());
            let extra = t.needed_hashes(j).into_iter().collect();
            prop_assert!(p.verify_leaf(j, l[j], &extra).is_ok());
        }
    }
}
