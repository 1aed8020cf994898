//! An erasure code byte-identical to zfec 1.6 (spec §3).
//!
//! zfec is a systematic Reed–Solomon code over GF(2^8) with the primitive
//! polynomial x^8+x^4+x^3+x^2+1 (0x11D). For parameters (k, n) its encoding
//! matrix is `E = V · V_top⁻¹`, where `V` is the n×k Vandermonde matrix on the
//! points `0, 1, α, α², …`. The first k rows of `E` are the identity, so
//! shares `0..k` are the input blocks verbatim and only the `n−k` secondary
//! shares are computed. Tahoe's share number is zfec's block number.
//!
//! Decoding takes any k distinct `(share number, block)` pairs, inverts the
//! k×k submatrix of `E` made of their rows, and multiplies.
//!
//! This crate is pure: it never allocates per block on the hot path (callers
//! provide output buffers) and does no I/O.

mod gf;
mod matrix;

pub use gf::{gf_inv, gf_mul};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Errors from the codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FecError {
    /// k and n must satisfy 1 ≤ k ≤ n ≤ 256.
    #[error("invalid code parameters k={k}, n={n} (need 1 <= k <= n <= 256)")]
    BadParams {
        /// Requested k.
        k: usize,
        /// Requested n.
        n: usize,
    },
    /// The wrong number of input or output blocks was supplied.
    #[error("expected {expected} blocks, got {got}")]
    WrongBlockCount {
        /// Expected count.
        expected: usize,
        /// Supplied count.
        got: usize,
    },
    /// Blocks of unequal length were supplied.
    #[error("blocks have unequal lengths")]
    UnequalLengths,
    /// A share number was ≥ n.
    #[error("share number {0} out of range")]
    BadShareNum(usize),
    /// The same share number was supplied twice.
    #[error("share number {0} supplied twice")]
    DuplicateShare(usize),
}

/// A (k, n) code with its encoding matrix and a cache of decode matrices.
pub struct Codec {
    k: usize,
    n: usize,
    /// n×k encoding matrix, row-major.
    enc: Vec<u8>,
    /// Inverted decode matrices keyed by the sorted share numbers used.
    dec_cache: Mutex<HashMap<Vec<u8>, Arc<Vec<u8>>>>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("k", &self.k)
            .field("n", &self.n)
            .finish()
    }
}

const DEC_CACHE_LIMIT: usize = 64;

impl Codec {
    /// Build the code for (k, n).
    pub fn new(k: usize, n: usize) -> Result<Self, FecError> {
        if k == 0 || k > n || n > 256 {
            return Err(FecError::BadParams { k, n });
        }
        Ok(Codec {
            k,
            n,
            enc: matrix::encoding_matrix(k, n),
            dec_cache: Mutex::new(HashMap::new()),
        })
    }

    /// A shared, cached codec for (k, n).
    pub fn cached(k: usize, n: usize) -> Result<Arc<Codec>, FecError> {
        type CodecCache = Mutex<HashMap<(usize, usize), Arc<Codec>>>;
        static CACHE: OnceLock<CodecCache> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(c) = lock(cache).get(&(k, n)) {
            return Ok(c.clone());
        }
        let c = Arc::new(Codec::new(k, n)?);
        lock(cache).insert((k, n), c.clone());
        Ok(c)
    }

    /// Number of input blocks.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of shares.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Row `r` of the encoding matrix.
    pub fn matrix_row(&self, r: usize) -> &[u8] {
        &self.enc[r * self.k..(r + 1) * self.k]
    }

    /// Compute the secondary shares `k..n` from the k input blocks.
    /// `outputs` must hold `n − k` buffers, each as long as the inputs.
    pub fn encode(&self, inputs: &[&[u8]], outputs: &mut [&mut [u8]]) -> Result<(), FecError> {
        let len = check_blocks(inputs, self.k)?;
        if outputs.len() != self.n - self.k {
            return Err(FecError::WrongBlockCount {
                expected: self.n - self.k,
                got: outputs.len(),
            });
        }
        if outputs.iter().any(|o| o.len() != len) {
            return Err(FecError::UnequalLengths);
        }
        for (i, out) in outputs.iter_mut().enumerate() {
            gf::mul_rows(self.matrix_row(self.k + i), inputs, out);
        }
        Ok(())
    }

    /// Convenience: all n shares as new vectors.
    pub fn encode_all(&self, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>, FecError> {
        let len = check_blocks(inputs, self.k)?;
        let mut secondary = vec![vec![0u8; len]; self.n - self.k];
        {
            let mut outs: Vec<&mut [u8]> = secondary.iter_mut().map(|v| v.as_mut_slice()).collect();
            self.encode(inputs, &mut outs)?;
        }
        let mut all: Vec<Vec<u8>> = inputs.iter().map(|b| b.to_vec()).collect();
        all.extend(secondary);
        Ok(all)
    }

    /// Recover the k input blocks from any k distinct shares.
    /// `outputs` must hold k buffers, each as long as the shares.
    pub fn decode(
        &self,
        shares: &[(usize, &[u8])],
        outputs: &mut [&mut [u8]],
    ) -> Result<(), FecError> {
        if shares.len() != self.k {
            return Err(FecError::WrongBlockCount {
                expected: self.k,
                got: shares.len(),
            });
        }
        if outputs.len() != self.k {
            return Err(FecError::WrongBlockCount {
                expected: self.k,
                got: outputs.len(),
            });
        }
        let blocks: Vec<&[u8]> = shares.iter().map(|(_, b)| *b).collect();
        let len = check_blocks(&blocks, self.k)?;
        if outputs.iter().any(|o| o.len() != len) {
            return Err(FecError::UnequalLengths);
        }
        let mut seen = [false; 256];
        for &(s, _) in shares {
            if s >= self.n {
                return Err(FecError::BadShareNum(s));
            }
            if seen[s] {
                return Err(FecError::DuplicateShare(s));
            }
            seen[s] = true;
        }
        let inv = self.decode_matrix(shares);
        for (r, out) in outputs.iter_mut().enumerate() {
            let row = &inv[r * self.k..(r + 1) * self.k];
            gf::mul_rows(row, &blocks, out);
        }
        Ok(())
    }

    /// Convenience: decode into new vectors.
    pub fn decode_all(&self, shares: &[(usize, &[u8])]) -> Result<Vec<Vec<u8>>, FecError> {
        let len = shares.first().map(|s| s.1.len()).unwrap_or(0);
        let mut out = vec![vec![0u8; len]; self.k];
        {
            let mut outs: Vec<&mut [u8]> = out.iter_mut().map(|v| v.as_mut_slice()).collect();
            self.decode(shares, &mut outs)?;
        }
        Ok(out)
    }

    /// The inverse of the submatrix of rows `shares`, in the order given.
    fn decode_matrix(&self, shares: &[(usize, &[u8])]) -> Arc<Vec<u8>> {
        let key: Vec<u8> = shares.iter().map(|&(s, _)| s as u8).collect();
        if let Some(m) = lock(&self.dec_cache).get(&key) {
            return m.clone();
        }
        let mut sub = Vec::with_capacity(self.k * self.k);
        for &(s, _) in shares {
            sub.extend_from_slice(self.matrix_row(s));
        }
        // Rows of E are linearly independent (any k of them), so the
        // submatrix is always invertible.
        let inv = Arc::new(matrix::invert(&sub, self.k));
        let mut cache = lock(&self.dec_cache);
        if cache.len() >= DEC_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, inv.clone());
        inv
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn check_blocks(blocks: &[&[u8]], k: usize) -> Result<usize, FecError> {
    if blocks.len() != k {
        return Err(FecError::WrongBlockCount {
            expected: k,
            got: blocks.len(),
        });
    }
    let len = blocks.first().map(|b| b.len()).unwrap_or(0);
    if blocks.iter().any(|b| b.len() != len) {
        return Err(FecError::UnequalLengths);
    }
    Ok(len)
}
