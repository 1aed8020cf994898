//! zfec's encoding matrix and GF(2^8) matrix inversion.

use crate::gf::{gf_exp, gf_inv, gf_mul, log_exp_tables};

/// Invert the k×k row-major matrix `m` by Gauss–Jordan elimination.
/// Callers only pass invertible matrices (any k rows of a zfec matrix).
pub(crate) fn invert(m: &[u8], k: usize) -> Vec<u8> {
    let w = 2 * k;
    let mut a = vec![0u8; k * w];
    for r in 0..k {
        a[r * w..r * w + k].copy_from_slice(&m[r * k..(r + 1) * k]);
        a[r * w + k + r] = 1;
    }
    for c in 0..k {
        let p = match (c..k).find(|&r| a[r * w + c] != 0) {
            Some(p) => p,
            None => continue, // singular; cannot happen for zfec rows
        };
        if p != c {
            for j in 0..w {
                a.swap(c * w + j, p * w + j);
            }
        }
        let iv = gf_inv(a[c * w + c]);
        for j in 0..w {
            a[c * w + j] = gf_mul(iv, a[c * w + j]);
        }
        // Eliminate column c from the other rows: a[r] ^= f · a[c]. The
        // pivot row is zero left of column c, and its logs are taken once,
        // so each product is one table look-up (this is O(k³): 256³).
        let (log, exp) = log_exp_tables();
        let pivot: Vec<Option<usize>> = a[c * w + c..(c + 1) * w]
            .iter()
            .map(|&x| (x != 0).then(|| usize::from(log[usize::from(x)])))
            .collect();
        for r in 0..k {
            let f = a[r * w + c];
            if r != c && f != 0 {
                let lf = usize::from(log[usize::from(f)]);
                for (x, p) in a[r * w + c..(r + 1) * w].iter_mut().zip(&pivot) {
                    if let Some(lp) = p {
                        *x ^= exp[lf + lp];
                    }
                }
            }
        }
    }
    let mut out = vec![0u8; k * k];
    for r in 0..k {
        out[r * k..(r + 1) * k].copy_from_slice(&a[r * w + k..(r + 1) * w]);
    }
    out
}

/// The n×k systematic encoding matrix `E = V · V_top⁻¹` (spec §3).
pub(crate) fn encoding_matrix(k: usize, n: usize) -> Vec<u8> {
    let v_row = |r: usize, c: usize| -> u8 {
        if r == 0 {
            u8::from(c == 0)
        } else {
            gf_exp(((r - 1) * c) % 255)
        }
    };
    let mut top = vec![0u8; k * k];
    for r in 0..k {
        for c in 0..k {
            top[r * k + c] = v_row(r, c);
        }
    }
    let inv = invert(&top, k);
    let mut e = vec![0u8; n * k];
    for r in 0..k {
        e[r * k + r] = 1;
    }
    for r in k..n {
        for c in 0..k {
            let mut acc = 0u8;
            for j in 0..k {
                acc ^= gf_mul(v_row(r, j), inv[j * k + c]);
            }
            e[r * k + c] = acc;
        }
    }
    e
}
