//! GF(2^8) arithmetic with zfec's polynomial 0x11D (spec §3), by log/exp
//! tables. Used to build matrices and kernel tables, never per data byte on
//! a SIMD path.

use std::sync::OnceLock;

struct Tables {
    /// `exp[i] = α^i`, doubled so `exp[log a + log b]` needs no reduction.
    exp: [u8; 510],
    log: [u8; 256],
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut exp = [0u8; 510];
        let mut log = [0u8; 256];
        let mut x: u16 = 1;
        for (i, e) in exp.iter_mut().take(255).enumerate() {
            *e = x as u8;
            log[x as usize] = i as u8;
            x <<= 1;
            if x & 0x100 != 0 {
                x ^= 0x11d;
            }
        }
        let (low, high) = exp.split_at_mut(255);
        high.copy_from_slice(low);
        Tables { exp, log }
    })
}

/// The log table (`log[0]` is unused) and the doubled exp table, for
/// loops that multiply many bytes by one value.
pub(crate) fn log_exp_tables() -> (&'static [u8; 256], &'static [u8; 510]) {
    let t = tables();
    (&t.log, &t.exp)
}

/// α^i.
pub(crate) fn gf_exp(i: usize) -> u8 {
    tables().exp[i % 255]
}

/// Multiply in GF(2^8).
pub fn gf_mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        return 0;
    }
    let t = tables();
    t.exp[t.log[a as usize] as usize + t.log[b as usize] as usize]
}

/// Multiplicative inverse (0 maps to 0).
pub fn gf_inv(a: u8) -> u8 {
    if a == 0 {
        return 0;
    }
    let t = tables();
    t.exp[255 - t.log[a as usize] as usize]
}
