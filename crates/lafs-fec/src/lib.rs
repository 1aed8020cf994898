//! An erasure code byte-identical to zfec 1.6 (spec §3), at memory speed.
//!
//! zfec is a systematic Reed–Solomon code over GF(2^8) with the primitive
//! polynomial x^8+x^4+x^3+x^2+1 (0x11D). For parameters (k, n) its encoding
//! matrix is `E = V · V_top⁻¹`, where `V` is the n×k Vandermonde matrix on the
//! points `0, 1, α, α², …`. The first k rows of `E` are the identity, so
//! shares `0..k` are the input blocks verbatim and only the `n−k` secondary
//! shares are computed. Tahoe's share number is zfec's block number.
//!
//! Decoding takes any k distinct `(share number, block)` pairs, inverts the
//! k×k submatrix of `E` made of their rows, and multiplies. Primary blocks
//! that are present are copied; only the missing ones are computed.
//!
//! # What this crate owns, and what it must never do
//!
//! It owns the matrices, their inversion (cached per erasure pattern), and
//! the row kernels ([`Kernel`]): scalar, SSSE3, AVX2, AVX-512BW, GFNI and
//! NEON, picked at run time by CPU feature detection or forced with
//! `LAFS_FEC_KERNEL`. It is pure: no I/O, no threads, and no allocation per
//! segment on the encode path — callers provide the output buffers (see
//! [`AlignedBuf`] for cache-line aligned ones) and a [`Codec`] is built once
//! per (k, n) ([`Codec::cached`]). No input can make it panic: bad shapes
//! are [`FecError`]s.
//!
//! # Data flow
//!
//! ```text
//! Codec::cached(k, n) ── E (n×k) ──> MulTable of rows k..n (nibble + GFNI tables)
//! encode(inputs[k], outputs[n−k]) ──> kernel::mul_matrix(rows k..n)
//! decode(shares[k], outputs[k]) ──> inverse of E[shares] (cached by share set)
//!                                ──> copy present primaries, kernel for the rest
//! ```
//!
//! All unsafe code is in `kernel::simd`, behind `#[allow(unsafe_code)]`.

mod buf;
mod gf;
mod kernel;
mod matrix;

pub use buf::AlignedBuf;
pub use gf::{gf_inv, gf_mul};
pub use kernel::Kernel;

use kernel::{mul_matrix, MulTable};
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

/// A (k, n) code: its encoding matrix prepared for the kernels, the kernel
/// it runs, and a cache of decode matrices.
pub struct Codec {
    k: usize,
    n: usize,
    kernel: Kernel,
    /// n×k encoding matrix, row-major.
    enc: Vec<u8>,
    /// Rows k..n of `enc`, prepared for the kernels.
    secondary: MulTable,
    /// Inverted decode matrices, keyed by the set of share numbers used (a
    /// 256-bit set; the matrix rows are in ascending share order).
    dec_cache: Mutex<HashMap<[u64; 4], Arc<MulTable>>>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("k", &self.k)
            .field("n", &self.n)
            .field("kernel", &self.kernel)
            .finish()
    }
}

/// How many erasure patterns a codec remembers. A download usually sees one
/// or two patterns per file; the cache is cleared when it fills.
const DEC_CACHE_LIMIT: usize = 256;

impl Codec {
    /// Build the code for (k, n) with the process-wide kernel
    /// ([`Kernel::active`]).
    pub fn new(k: usize, n: usize) -> Result<Self, FecError> {
        Codec::with_kernel(k, n, Kernel::active())
    }

    /// Build the code for (k, n) with a given kernel (for tests and
    /// benchmarks). A kernel this CPU cannot run computes with scalar code.
    pub fn with_kernel(k: usize, n: usize, kernel: Kernel) -> Result<Self, FecError> {
        if k == 0 || k > n || n > 256 {
            return Err(FecError::BadParams { k, n });
        }
        let enc = matrix::encoding_matrix(k, n);
        let secondary = MulTable::new(enc[k * k..].to_vec(), k);
        let kernel = if kernel.is_available() {
            kernel
        } else {
            Kernel::Scalar
        };
        Ok(Codec {
            k,
            n,
            kernel,
            enc,
            secondary,
            dec_cache: Mutex::new(HashMap::new()),
        })
    }

    /// A shared, cached codec for (k, n) with the process-wide kernel.
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

    /// The kernel this codec computes with.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Row `r` of the encoding matrix (empty if `r >= n`).
    pub fn matrix_row(&self, r: usize) -> &[u8] {
        self.enc.get(r * self.k..(r + 1) * self.k).unwrap_or(&[])
    }

    /// Compute the secondary shares `k..n` from the k input blocks.
    /// `outputs` must hold `n − k` buffers, each as long as the inputs.
    /// Allocates nothing.
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
        let mut rows = [0usize; 256];
        for (i, r) in rows.iter_mut().enumerate() {
            *r = i;
        }
        mul_matrix(
            self.kernel,
            &self.secondary,
            &rows[..self.n - self.k],
            inputs,
            outputs,
        );
        Ok(())
    }

    /// Compute the shares numbered `shnums` (any of `0..n`, in any order)
    /// into `outputs`, one buffer per share number. Primary shares are
    /// copied from the inputs. Useful for repair, which needs only some
    /// shares. Allocates nothing.
    pub fn encode_shares(
        &self,
        inputs: &[&[u8]],
        shnums: &[usize],
        outputs: &mut [&mut [u8]],
    ) -> Result<(), FecError> {
        let len = check_blocks(inputs, self.k)?;
        if outputs.len() != shnums.len() {
            return Err(FecError::WrongBlockCount {
                expected: shnums.len(),
                got: outputs.len(),
            });
        }
        if outputs.iter().any(|o| o.len() != len) {
            return Err(FecError::UnequalLengths);
        }
        if let Some(&bad) = shnums.iter().find(|&&s| s >= self.n) {
            return Err(FecError::BadShareNum(bad));
        }
        // Secondary shares go to the kernel in groups of up to 256 rows.
        let mut rows = [0usize; 256];
        let mut outs: [&mut [u8]; 256] = std::array::from_fn(|_| <&mut [u8]>::default());
        let mut count = 0;
        for (&s, out) in shnums.iter().zip(outputs.iter_mut()) {
            if s < self.k {
                out.copy_from_slice(inputs[s]);
                continue;
            }
            rows[count] = s - self.k;
            outs[count] = out;
            count += 1;
            if count == rows.len() {
                mul_matrix(self.kernel, &self.secondary, &rows, inputs, &mut outs);
                count = 0;
            }
        }
        mul_matrix(
            self.kernel,
            &self.secondary,
            &rows[..count],
            inputs,
            &mut outs[..count],
        );
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

    /// Recover the k input blocks from any k distinct shares, given in any
    /// order. `outputs` must hold k buffers, each as long as the shares.
    /// Present primary blocks are copied; the rest are computed.
    pub fn decode(
        &self,
        shares: &[(usize, &[u8])],
        outputs: &mut [&mut [u8]],
    ) -> Result<(), FecError> {
        let k = self.k;
        if shares.len() != k {
            return Err(FecError::WrongBlockCount {
                expected: k,
                got: shares.len(),
            });
        }
        if outputs.len() != k {
            return Err(FecError::WrongBlockCount {
                expected: k,
                got: outputs.len(),
            });
        }
        let len = shares[0].1.len();
        if shares.iter().any(|s| s.1.len() != len) || outputs.iter().any(|o| o.len() != len) {
            return Err(FecError::UnequalLengths);
        }
        // Index the shares by number; the decode matrix uses them in
        // ascending share order, so the cache key is just the set.
        let mut by_num: [Option<&[u8]>; 256] = [None; 256];
        let mut key = [0u64; 4];
        for &(s, block) in shares {
            if s >= self.n {
                return Err(FecError::BadShareNum(s));
            }
            if by_num[s].is_some() {
                return Err(FecError::DuplicateShare(s));
            }
            by_num[s] = Some(block);
            key[s / 64] |= 1 << (s % 64);
        }
        let mut ins: [&[u8]; 256] = [&[]; 256];
        for (slot, block) in ins.iter_mut().zip(by_num.iter().flatten()) {
            *slot = block;
        }
        let ins = &ins[..k];
        let mut rows = [0usize; 256];
        let mut outs: [&mut [u8]; 256] = std::array::from_fn(|_| <&mut [u8]>::default());
        let mut missing = 0;
        for (r, out) in outputs.iter_mut().enumerate() {
            match by_num[r] {
                Some(block) => out.copy_from_slice(block),
                None => {
                    rows[missing] = r;
                    outs[missing] = out;
                    missing += 1;
                }
            }
        }
        if missing == 0 {
            return Ok(());
        }
        let inv = self.decode_matrix(key, &by_num);
        mul_matrix(
            self.kernel,
            &inv,
            &rows[..missing],
            ins,
            &mut outs[..missing],
        );
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

    /// The inverse of the submatrix of E made of the present shares' rows
    /// in ascending share order, prepared for the kernels.
    fn decode_matrix(&self, key: [u64; 4], by_num: &[Option<&[u8]>; 256]) -> Arc<MulTable> {
        if let Some(m) = lock(&self.dec_cache).get(&key) {
            return m.clone();
        }
        let mut sub = Vec::with_capacity(self.k * self.k);
        for (s, b) in by_num.iter().enumerate().take(self.n) {
            if b.is_some() {
                sub.extend_from_slice(self.matrix_row(s));
            }
        }
        // Any k rows of E are linearly independent, so the submatrix is
        // always invertible.
        let inv = Arc::new(MulTable::new(matrix::invert(&sub, self.k), self.k));
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

#[cfg(test)]
mod tests;
