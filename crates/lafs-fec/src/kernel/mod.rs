//! Row kernels: `out_r = Σ_j M[r][j] · in_j` over GF(2^8), for a prepared
//! matrix `M` and a selection of its rows.
//!
//! Every encode and decode reduces to this one operation. Encoding uses the
//! n−k secondary rows of zfec's matrix; decoding uses the rows of an inverted
//! k×k submatrix that belong to missing primary blocks.
//!
//! # Kernels
//!
//! A [`Kernel`] names one implementation. All compute identical bytes; they
//! differ only in speed:
//!
//! | kernel        | how one byte is multiplied by a constant `c`          |
//! |---------------|-------------------------------------------------------|
//! | `scalar`      | 256-entry product table per coefficient, safe Rust    |
//! | `ssse3`       | split nibbles: two 16-entry `PSHUFB` look-ups, 16 B   |
//! | `avx2`        | the same, 32 B at a time                              |
//! | `avx512bw`    | the same, 64 B at a time                              |
//! | `gfni-avx2`   | `GF2P8AFFINEQB` with an 8×8 bit matrix for `c`, 32 B  |
//! | `gfni-avx512` | the same, 64 B at a time                              |
//! | `neon`        | split nibbles with `TBL` (aarch64), 16 B              |
//!
//! (GFNI's own `GF2P8MULB` is useless here: it is hard-wired to the AES
//! polynomial 0x11B, while zfec uses 0x11D. Multiplication by a constant is
//! linear over GF(2), so the affine instruction does it for any polynomial.)
//!
//! The kernel is chosen at run time with `is_x86_feature_detected!` (never
//! `target-cpu=native`), best first; `LAFS_FEC_KERNEL=<name>` forces one for
//! tests and benchmarks (an unknown or unavailable name falls back to
//! detection, see [`Kernel::from_env`]).
//!
//! # Memory access pattern
//!
//! The SIMD kernels walk the blocks in column strips of [`STRIP`] bytes. In a
//! strip every output row group (up to 8 rows, accumulated in registers)
//! reads the k input strips once, so the inputs stay in L1/L2 while all rows
//! are produced, and each output byte is written exactly once. Loads and
//! stores are unaligned, so any alignment and length works; the last
//! `len mod width` bytes of each row go through the scalar code.
//!
//! Unsafe code lives only in the `simd` submodule.

use crate::gf::gf_mul;

#[allow(unsafe_code)]
mod simd;

/// Column strip width of the SIMD kernels, in bytes.
pub(crate) const STRIP: usize = 8 * 1024;

/// One implementation of the row kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kernel {
    /// Portable safe Rust.
    Scalar,
    /// x86 SSSE3 split-nibble `PSHUFB`, 16 bytes per step.
    Ssse3,
    /// x86 AVX2 split-nibble `VPSHUFB`, 32 bytes per step.
    Avx2,
    /// x86 AVX-512BW split-nibble `VPSHUFB`, 64 bytes per step.
    Avx512Bw,
    /// x86 GFNI affine transform on 256-bit vectors (needs AVX).
    GfniAvx2,
    /// x86 GFNI affine transform on 512-bit vectors (needs AVX-512BW).
    GfniAvx512,
    /// aarch64 NEON split-nibble `TBL`, 16 bytes per step.
    Neon,
}

/// Every kernel, fastest first (the detection order).
const ALL: [Kernel; 7] = [
    Kernel::GfniAvx512,
    Kernel::GfniAvx2,
    Kernel::Avx512Bw,
    Kernel::Avx2,
    Kernel::Ssse3,
    Kernel::Neon,
    Kernel::Scalar,
];

impl Kernel {
    /// The kernel's name, as accepted by `LAFS_FEC_KERNEL`.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Ssse3 => "ssse3",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512Bw => "avx512bw",
            Kernel::GfniAvx2 => "gfni-avx2",
            Kernel::GfniAvx512 => "gfni-avx512",
            Kernel::Neon => "neon",
        }
    }

    /// Parse a kernel name. `gfni` means the widest GFNI kernel this CPU
    /// runs, `avx512` means `avx512bw`, and `auto`/`best` mean [`Kernel::detect`].
    pub fn from_name(s: &str) -> Option<Kernel> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "auto" | "best" => return Some(Kernel::detect()),
            "gfni" => {
                return [Kernel::GfniAvx512, Kernel::GfniAvx2]
                    .into_iter()
                    .find(|k| k.is_available())
                    .or(Some(Kernel::GfniAvx512));
            }
            "avx512" => return Some(Kernel::Avx512Bw),
            _ => {}
        }
        ALL.into_iter().find(|k| k.name() == s)
    }

    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Scalar => true,
            _ => simd::is_available(self),
        }
    }

    /// Every kernel this CPU can run, fastest first (scalar last).
    pub fn available() -> Vec<Kernel> {
        ALL.into_iter().filter(|k| k.is_available()).collect()
    }

    /// The fastest kernel this CPU can run, ignoring the environment.
    pub fn detect() -> Kernel {
        ALL.into_iter()
            .find(|k| k.is_available())
            .unwrap_or(Kernel::Scalar)
    }

    /// The kernel forced by `LAFS_FEC_KERNEL`, if it names one this CPU can
    /// run; otherwise [`Kernel::detect`]. An unknown or unavailable name is
    /// ignored rather than failing: the result is the same bytes either way,
    /// and `lafs bench fec` reports which kernel actually ran.
    pub fn from_env() -> Kernel {
        std::env::var("LAFS_FEC_KERNEL")
            .ok()
            .and_then(|v| Kernel::from_name(&v))
            .filter(|k| k.is_available())
            .unwrap_or_else(Kernel::detect)
    }

    /// The process-wide default kernel ([`Kernel::from_env`], read once).
    pub fn active() -> Kernel {
        static ACTIVE: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
        *ACTIVE.get_or_init(Kernel::from_env)
    }
}

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A GF(2^8) matrix prepared for every kernel: the raw coefficients, the
/// split-nibble tables and the GFNI bit matrices, one entry per coefficient
/// in row-major order.
#[derive(Debug, Clone)]
pub(crate) struct MulTable {
    k: usize,
    m: usize,
    coeffs: Vec<u8>,
    /// `[c·0, c·1, …, c·15, c·0x00, c·0x10, …, c·0xf0]` per coefficient.
    nib: Vec<[u8; 32]>,
    /// The 8×8 GF(2) matrix of `x ↦ c·x` in `GF2P8AFFINEQB` layout.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    aff: Vec<u64>,
}

impl MulTable {
    /// Prepare the `m × k` row-major matrix `coeffs`.
    pub(crate) fn new(coeffs: Vec<u8>, k: usize) -> MulTable {
        let m = coeffs.len().checked_div(k).unwrap_or(0);
        let nib = coeffs.iter().map(|&c| nibble_table(c)).collect();
        let aff = coeffs.iter().map(|&c| affine_matrix(c)).collect();
        MulTable {
            k,
            m,
            coeffs,
            nib,
            aff,
        }
    }
}

fn nibble_table(c: u8) -> [u8; 32] {
    let mut t = [0u8; 32];
    for x in 0..16u8 {
        t[x as usize] = gf_mul(c, x);
        t[16 + x as usize] = gf_mul(c, x << 4);
    }
    t
}

/// `GF2P8AFFINEQB(x, A, 0)` sets result bit `i` to the parity of
/// `A.byte[7 − i] & x`. Multiplying by `c` is linear: bit `i` of `c·x` is
/// the XOR over input bits `j` of bit `i` of `c·2^j`. So byte `7 − i` of `A`
/// has bit `j` set when `c·2^j` has bit `i` set.
fn affine_matrix(c: u8) -> u64 {
    let mut a = 0u64;
    for i in 0..8 {
        let mut row = 0u8;
        for j in 0..8 {
            if gf_mul(c, 1 << j) >> i & 1 == 1 {
                row |= 1 << j;
            }
        }
        a |= u64::from(row) << (8 * (7 - i));
    }
    a
}

/// `outputs[i] = Σ_j t[rows[i]][j] · inputs[j]` with `kernel`.
///
/// Callers pass `inputs.len() == t.k`, `rows.len() == outputs.len()`, rows
/// below `t.m` and blocks of one common length; anything else is a bug in
/// this crate, so it is caught by `debug_assert!` and otherwise computes
/// over the shortest length only, never reading or writing out of bounds.
pub(crate) fn mul_matrix(
    kernel: Kernel,
    t: &MulTable,
    rows: &[usize],
    inputs: &[&[u8]],
    outputs: &mut [&mut [u8]],
) {
    let ok = inputs.len() == t.k
        && rows.len() == outputs.len()
        && rows.iter().all(|&r| r < t.m)
        && t.k <= 256;
    debug_assert!(ok, "mul_matrix called with inconsistent shapes");
    if !ok {
        return;
    }
    let len = inputs
        .iter()
        .map(|b| b.len())
        .chain(outputs.iter().map(|o| o.len()))
        .min()
        .unwrap_or(0);
    let done = match kernel {
        Kernel::Scalar => 0,
        _ => simd::mul_matrix_body(kernel, t, rows, inputs, outputs, len),
    };
    scalar_range(t, rows, inputs, outputs, done, len);
}

/// The scalar kernel over byte range `start..end` of every block: one
/// 256-entry product table per coefficient, built from its nibble table.
fn scalar_range(
    t: &MulTable,
    rows: &[usize],
    inputs: &[&[u8]],
    outputs: &mut [&mut [u8]],
    start: usize,
    end: usize,
) {
    if start >= end {
        return;
    }
    for (&r, out) in rows.iter().zip(outputs.iter_mut()) {
        let out = &mut out[start..end];
        out.fill(0);
        for (j, input) in inputs.iter().enumerate() {
            let c = t.coeffs[r * t.k + j];
            let input = &input[start..end];
            match c {
                0 => {}
                1 => out.iter_mut().zip(input).for_each(|(o, &i)| *o ^= i),
                _ => {
                    let nib = &t.nib[r * t.k + j];
                    let mut tab = [0u8; 256];
                    for (x, e) in tab.iter_mut().enumerate() {
                        *e = nib[x & 15] ^ nib[16 + (x >> 4)];
                    }
                    out.iter_mut()
                        .zip(input)
                        .for_each(|(o, &i)| *o ^= tab[i as usize]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_matrix_multiplies() {
        // Model GF2P8AFFINEQB in software and check it against gf_mul.
        fn affine(a: u64, x: u8) -> u8 {
            let mut out = 0u8;
            for i in 0..8 {
                let row = (a >> (8 * (7 - i))) as u8;
                out |= (((row & x).count_ones() & 1) as u8) << i;
            }
            out
        }
        for c in 0..=255u8 {
            let a = affine_matrix(c);
            for x in 0..=255u8 {
                assert_eq!(affine(a, x), gf_mul(c, x), "c={c} x={x}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for k in ALL {
            assert_eq!(Kernel::from_name(k.name()), Some(k));
        }
        assert_eq!(Kernel::from_name("nonsense"), None);
        assert!(Kernel::available().contains(&Kernel::Scalar));
    }
}
