//! The SIMD row kernels: the only unsafe code in lafs-fec.
//!
//! Each kernel is stamped out by [`simd_kernel!`] from five primitives
//! (load, store, xor, split, multiply-by-table) so that the loop structure,
//! and therefore the safety argument, is written once:
//!
//! * `group::<R>` computes R output rows over bytes `start..end` (a whole
//!   number of vectors), keeping the R accumulators in registers while it
//!   reads every input once per vector column;
//! * `body` walks the blocks in [`STRIP`]-byte column strips and hands each
//!   group of at most `RMAX` rows to `group`.
//!
//! The safe entry point, [`mul_matrix_body`], turns slices into raw pointers
//! after checking that the kernel's CPU features are present; its caller
//! (`kernel::mul_matrix`) has already checked the shapes. Every pointer a
//! kernel touches is `base + pos` with `pos + WIDTH <= len`, where `len` is
//! at most the length of every input and output slice.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

use super::{Kernel, MulTable};

/// Run `$body` with `const $R: usize` bound to the runtime value `$n`
/// (1..=8), so that the accumulators of `group::<R>` are a fixed-size array
/// the compiler keeps in registers.
macro_rules! with_r {
    ($n:expr, $R:ident => $body:block) => {
        match $n {
            1 => {
                const $R: usize = 1;
                $body
            }
            2 => {
                const $R: usize = 2;
                $body
            }
            3 => {
                const $R: usize = 3;
                $body
            }
            4 => {
                const $R: usize = 4;
                $body
            }
            5 => {
                const $R: usize = 5;
                $body
            }
            6 => {
                const $R: usize = 6;
                $body
            }
            7 => {
                const $R: usize = 7;
                $body
            }
            8 => {
                const $R: usize = 8;
                $body
            }
            _ => {}
        }
    };
}

/// Stamp out one kernel module. The closures name the primitive operations
/// on one vector `$V` of `WIDTH` bytes; `table` names the `MulTable` field
/// (and its element type) the multiply step reads.
macro_rules! simd_kernel {
    (
        mod $name:ident;
        feature = $feat:literal;
        width = $w:expr;
        rmax = $rmax:expr;
        table = $tab:ident: $T:ty;
        vector = $V:ty;
        zero = $zero:expr;
        load = |$lp:ident| $load:expr;
        store = |$sp:ident, $sv:ident| $store:expr;
        xor = |$xa:ident, $xb:ident| $xor:expr;
        split = |$px:ident| $split:expr;
        mul = |$mp:ident, $mt:ident| $mul:expr;
    ) => {
        mod $name {
            use super::super::{MulTable, STRIP};
            #[cfg(target_arch = "aarch64")]
            use std::arch::aarch64::*;
            #[cfg(target_arch = "x86_64")]
            use std::arch::x86_64::*;

            /// Bytes per vector.
            pub(super) const WIDTH: usize = $w;
            /// Most output rows accumulated in registers at once.
            const RMAX: usize = $rmax;

            /// Output rows `outs[r] = Σ_j tabs[r][j] · ins[j]` over bytes
            /// `start..end`.
            ///
            /// # Safety
            /// The CPU supports this kernel's features; `end - start` is a
            /// multiple of `WIDTH`; every `ins[j]` is readable and every
            /// `outs[r]` writable for `end` bytes, outputs overlap nothing;
            /// every `tabs[r]` points at `ins.len()` table entries.
            #[target_feature(enable = $feat)]
            unsafe fn group<const R: usize>(
                ins: &[*const u8],
                tabs: [*const $T; R],
                outs: [*mut u8; R],
                start: usize,
                end: usize,
            ) {
                let mut pos = start;
                while pos + WIDTH <= end {
                    // SAFETY: `pos + WIDTH <= end`, so every load reads
                    // `ins[j][pos..pos + WIDTH]` and every store writes
                    // `outs[r][pos..pos + WIDTH]`, in bounds by this
                    // function's contract; `tabs[r].add(j)` with
                    // `j < ins.len()` stays inside the row's table entries.
                    // Loads and stores are unaligned, so any address works.
                    unsafe {
                        let mut acc: [$V; R] = [$zero; R];
                        for (j, &p) in ins.iter().enumerate() {
                            let $lp = p.add(pos);
                            let $px: $V = $load;
                            let pre = $split;
                            for r in 0..R {
                                let $mp = pre;
                                let $mt: *const $T = tabs[r].add(j);
                                let $xa = acc[r];
                                let $xb: $V = $mul;
                                acc[r] = $xor;
                            }
                        }
                        for r in 0..R {
                            let $sp = outs[r].add(pos);
                            let $sv = acc[r];
                            $store;
                        }
                    }
                    pos += WIDTH;
                }
            }

            /// Compute the whole vectors of every row (bytes
            /// `0..len - len % WIDTH`) and return how many bytes that is.
            ///
            /// # Safety
            /// As for `group`, for `len` bytes and all of `rows`, with
            /// `rows[i] < t.m` and `ins.len() == t.k`.
            pub(super) unsafe fn body(
                t: &MulTable,
                rows: &[usize],
                ins: &[*const u8],
                outs: &[*mut u8],
                len: usize,
            ) -> usize {
                let body = len - len % WIDTH;
                let base = t.$tab.as_ptr();
                let mut strip = 0;
                while strip < body {
                    let end = body.min(strip + STRIP);
                    for (rs, os) in rows.chunks(RMAX).zip(outs.chunks(RMAX)) {
                        with_r!(rs.len(), R => {
                            let tabs: [*const $T; R] =
                                std::array::from_fn(|i| base.wrapping_add(rs[i] * t.k));
                            let o: [*mut u8; R] = std::array::from_fn(|i| os[i]);
                            // SAFETY: the caller guarantees features, pointer
                            // ranges for `len >= end` bytes and `rows < t.m`,
                            // so each `tabs[i]` starts a row of `t.k`
                            // entries; `end - strip` is a multiple of WIDTH.
                            unsafe { group::<R>(ins, tabs, o, strip, end) }
                        });
                    }
                    strip = end;
                }
                body
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
simd_kernel! {
    mod ssse3;
    feature = "ssse3";
    width = 16;
    rmax = 4;
    table = nib: [u8; 32];
    vector = __m128i;
    zero = _mm_setzero_si128();
    load = |p| _mm_loadu_si128(p as *const __m128i);
    store = |p, v| _mm_storeu_si128(p as *mut __m128i, v);
    xor = |a, b| _mm_xor_si128(a, b);
    split = |x| {
        let mask = _mm_set1_epi8(0x0f);
        (_mm_and_si128(x, mask), _mm_and_si128(_mm_srli_epi64::<4>(x), mask))
    };
    mul = |lh, t| {
        let tl = _mm_loadu_si128(t as *const __m128i);
        let th = _mm_loadu_si128((t as *const u8).add(16) as *const __m128i);
        _mm_xor_si128(_mm_shuffle_epi8(tl, lh.0), _mm_shuffle_epi8(th, lh.1))
    };
}

#[cfg(target_arch = "x86_64")]
simd_kernel! {
    mod avx2;
    feature = "avx2";
    width = 32;
    rmax = 4;
    table = nib: [u8; 32];
    vector = __m256i;
    zero = _mm256_setzero_si256();
    load = |p| _mm256_loadu_si256(p as *const __m256i);
    store = |p, v| _mm256_storeu_si256(p as *mut __m256i, v);
    xor = |a, b| _mm256_xor_si256(a, b);
    split = |x| {
        let mask = _mm256_set1_epi8(0x0f);
        (_mm256_and_si256(x, mask), _mm256_and_si256(_mm256_srli_epi64::<4>(x), mask))
    };
    mul = |lh, t| {
        let tl = _mm256_broadcastsi128_si256(_mm_loadu_si128(t as *const __m128i));
        let th = _mm256_broadcastsi128_si256(_mm_loadu_si128(
            (t as *const u8).add(16) as *const __m128i,
        ));
        _mm256_xor_si256(_mm256_shuffle_epi8(tl, lh.0), _mm256_shuffle_epi8(th, lh.1))
    };
}

#[cfg(target_arch = "x86_64")]
simd_kernel! {
    mod avx512bw;
    feature = "avx512f,avx512bw";
    width = 64;
    rmax = 8;
    table = nib: [u8; 32];
    vector = __m512i;
    zero = _mm512_setzero_si512();
    load = |p| _mm512_loadu_si512(p as *const __m512i);
    store = |p, v| _mm512_storeu_si512(p as *mut __m512i, v);
    xor = |a, b| _mm512_xor_si512(a, b);
    split = |x| {
        let mask = _mm512_set1_epi8(0x0f);
        (_mm512_and_si512(x, mask), _mm512_and_si512(_mm512_srli_epi64::<4>(x), mask))
    };
    mul = |lh, t| {
        let tl = _mm512_broadcast_i32x4(_mm_loadu_si128(t as *const __m128i));
        let th = _mm512_broadcast_i32x4(_mm_loadu_si128(
            (t as *const u8).add(16) as *const __m128i,
        ));
        _mm512_xor_si512(_mm512_shuffle_epi8(tl, lh.0), _mm512_shuffle_epi8(th, lh.1))
    };
}

#[cfg(target_arch = "x86_64")]
simd_kernel! {
    mod gfni_avx2;
    feature = "gfni,avx2";
    width = 32;
    rmax = 8;
    table = aff: u64;
    vector = __m256i;
    zero = _mm256_setzero_si256();
    load = |p| _mm256_loadu_si256(p as *const __m256i);
    store = |p, v| _mm256_storeu_si256(p as *mut __m256i, v);
    xor = |a, b| _mm256_xor_si256(a, b);
    split = |x| x;
    mul = |x, t| _mm256_gf2p8affine_epi64_epi8::<0>(x, _mm256_set1_epi64x(t.read() as i64));
}

#[cfg(target_arch = "x86_64")]
simd_kernel! {
    mod gfni_avx512;
    feature = "gfni,avx512f,avx512bw";
    width = 64;
    rmax = 8;
    table = aff: u64;
    vector = __m512i;
    zero = _mm512_setzero_si512();
    load = |p| _mm512_loadu_si512(p as *const __m512i);
    store = |p, v| _mm512_storeu_si512(p as *mut __m512i, v);
    xor = |a, b| _mm512_xor_si512(a, b);
    split = |x| x;
    mul = |x, t| _mm512_gf2p8affine_epi64_epi8::<0>(x, _mm512_set1_epi64(t.read() as i64));
}

// Compile-checked with `cargo check --target aarch64-unknown-linux-gnu`;
// not run on this project's x86 CI machine.
#[cfg(target_arch = "aarch64")]
simd_kernel! {
    mod neon;
    feature = "neon";
    width = 16;
    rmax = 4;
    table = nib: [u8; 32];
    vector = uint8x16_t;
    zero = vdupq_n_u8(0);
    load = |p| vld1q_u8(p);
    store = |p, v| vst1q_u8(p, v);
    xor = |a, b| veorq_u8(a, b);
    split = |x| (vandq_u8(x, vdupq_n_u8(0x0f)), vshrq_n_u8::<4>(x));
    mul = |lh, t| {
        let tl = vld1q_u8(t as *const u8);
        let th = vld1q_u8((t as *const u8).add(16));
        veorq_u8(vqtbl1q_u8(tl, lh.0), vqtbl1q_u8(th, lh.1))
    };
}

/// Whether the CPU has the features of a SIMD kernel.
pub(super) fn is_available(kernel: Kernel) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        match kernel {
            Kernel::Ssse3 => has!("ssse3"),
            Kernel::Avx2 => has!("avx2"),
            Kernel::Avx512Bw => has!("avx512f") && has!("avx512bw"),
            Kernel::GfniAvx2 => has!("gfni") && has!("avx2"),
            Kernel::GfniAvx512 => has!("gfni") && has!("avx512f") && has!("avx512bw"),
            _ => false,
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        kernel == Kernel::Neon && std::arch::is_aarch64_feature_detected!("neon")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = kernel;
        false
    }
}

/// Compute the leading whole vectors of every output row with `kernel` and
/// return how many bytes per row were done (the caller finishes the rest
/// with scalar code). Returns 0 if the kernel cannot run here.
///
/// The caller guarantees `inputs.len() == t.k`, `rows.len() ==
/// outputs.len()`, every row below `t.m`, and that every input and output
/// is at least `len` bytes long.
pub(super) fn mul_matrix_body(
    kernel: Kernel,
    t: &MulTable,
    rows: &[usize],
    inputs: &[&[u8]],
    outputs: &mut [&mut [u8]],
    len: usize,
) -> usize {
    let shapes_ok = inputs.len() == t.k
        && inputs.len() <= 256
        && rows.len() == outputs.len()
        && rows.len() <= 256
        && rows.iter().all(|&r| r < t.m)
        && inputs.iter().all(|b| b.len() >= len)
        && outputs.iter().all(|o| o.len() >= len);
    if !shapes_ok || !is_available(kernel) {
        return 0;
    }
    let mut ins = [std::ptr::null::<u8>(); 256];
    for (p, b) in ins.iter_mut().zip(inputs) {
        *p = b.as_ptr();
    }
    let mut outs = [std::ptr::null_mut::<u8>(); 256];
    for (p, o) in outs.iter_mut().zip(outputs.iter_mut()) {
        *p = o.as_mut_ptr();
    }
    let ins = &ins[..inputs.len()];
    let outs = &outs[..rows.len()];
    // SAFETY: the features were just checked; the pointers come from live
    // slices of at least `len` bytes (outputs are distinct `&mut` slices, so
    // they overlap neither each other nor the inputs) and are not otherwise
    // used until the kernel returns; rows and the input count match `t`.
    unsafe {
        match kernel {
            #[cfg(target_arch = "x86_64")]
            Kernel::Ssse3 => ssse3::body(t, rows, ins, outs, len),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => avx2::body(t, rows, ins, outs, len),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Bw => avx512bw::body(t, rows, ins, outs, len),
            #[cfg(target_arch = "x86_64")]
            Kernel::GfniAvx2 => gfni_avx2::body(t, rows, ins, outs, len),
            #[cfg(target_arch = "x86_64")]
            Kernel::GfniAvx512 => gfni_avx512::body(t, rows, ins, outs, len),
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => neon::body(t, rows, ins, outs, len),
            _ => 0,
        }
    }
}
