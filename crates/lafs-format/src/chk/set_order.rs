//! CPython 3.11 `set` iteration order for small non-negative ints (spec §4.4).
//!
//! Tahoe builds each share's hash chain as a Python `set` (the uncle
//! indices from the leaf upwards, then the leaf) and writes it in the
//! set's iteration order. Readers must not care, but a writer that wants
//! byte-identical shares has to reproduce the hash table: `hash(v) == v`,
//! 8 initial slots, linear probing of up to 9 following slots while they
//! fit, then the perturbed probe `i = (5i + 1 + perturb) & mask`, and a
//! resize to the smallest power of two above `4·used` once
//! `5·fill ≥ 3·mask`. Iteration walks the slots in index order.

const LINEAR_PROBES: usize = 9;
const PERTURB_SHIFT: u32 = 5;

/// Insert into a table known not to contain `v` (used when resizing).
fn insert_clean(table: &mut [Option<usize>], v: usize) {
    let mask = table.len() - 1;
    let mut perturb = v;
    let mut i = v & mask;
    // The table is at most 60% full, and once `perturb` reaches zero the
    // recurrence `5i + 1 mod 2^k` visits every slot: this terminates.
    loop {
        if table[i].is_none() {
            table[i] = Some(v);
            return;
        }
        if i + LINEAR_PROBES <= mask {
            for j in 1..=LINEAR_PROBES {
                if table[i + j].is_none() {
                    table[i + j] = Some(v);
                    return;
                }
            }
        }
        perturb >>= PERTURB_SHIFT;
        i = (i.wrapping_mul(5).wrapping_add(1).wrapping_add(perturb)) & mask;
    }
}

/// The iteration order of `set()` after inserting `values` in order.
pub fn cpython_set_order(values: &[usize]) -> Vec<usize> {
    let mut table: Vec<Option<usize>> = vec![None; 8];
    let mut fill = 0usize;
    let mut used = 0usize;
    for &v in values {
        let mask = table.len() - 1;
        let mut perturb = v;
        let mut i = v & mask;
        'probe: loop {
            let probes = if i + LINEAR_PROBES <= mask {
                LINEAR_PROBES
            } else {
                0
            };
            for k in 0..=probes {
                match table[i + k] {
                    Some(e) if e == v => break 'probe,
                    Some(_) => {}
                    None => {
                        table[i + k] = Some(v);
                        fill += 1;
                        used += 1;
                        if fill * 5 >= mask * 3 {
                            let minused = if used <= 50000 { used * 4 } else { used * 2 };
                            let mut size = 8;
                            while size <= minused {
                                size <<= 1;
                            }
                            let old = std::mem::replace(&mut table, vec![None; size]);
                            fill = used;
                            for x in old.into_iter().flatten() {
                                insert_clean(&mut table, x);
                            }
                        }
                        break 'probe;
                    }
                }
            }
            perturb >>= PERTURB_SHIFT;
            i = (i.wrapping_mul(5).wrapping_add(1).wrapping_add(perturb)) & mask;
        }
    }
    table.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashtree::{needed_for, roundup_pow2};

    fn chain(n: usize, shnum: usize) -> Vec<usize> {
        let leaf = roundup_pow2(n) - 1 + shnum;
        let mut v = needed_for(leaf);
        v.push(leaf);
        cpython_set_order(&v)
    }

    #[test]
    fn spec_examples() {
        // spec §4.4: N=6 share 0 → 8,2,4,7; N=255 share 0 → 256,32,64,128,4,2,8,16,255.
        assert_eq!(chain(6, 0), vec![8, 2, 4, 7]);
        assert_eq!(chain(255, 0), vec![256, 32, 64, 128, 4, 2, 8, 16, 255]);
        // Ascending for N=10.
        assert_eq!(chain(10, 0), vec![2, 4, 8, 15, 16]);
        assert_eq!(chain(1, 0), vec![0]);
        assert_eq!(cpython_set_order(&[3, 3, 1]), vec![1, 3]);
    }
}
