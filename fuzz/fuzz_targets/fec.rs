//! lafs-fec's decoder never panics, whatever the parameters, share numbers,
//! share lengths and output buffers; when it accepts k distinct shares of
//! the original encoding it returns the original blocks.
#![no_main]

use lafs_fec::Codec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    // Parameters may be invalid on purpose (k = 0, k > n, n > 256).
    let k = usize::from(data[0]) + usize::from(data[1] & 1);
    let n = usize::from(data[2]) + usize::from(data[3] & 1);
    let len = usize::from(data[4] % 64);
    let rest = &data[5..];
    let Ok(codec) = Codec::cached(k, n) else {
        return;
    };
    // Shares: a share number byte, then `len` bytes of block (shorter if the
    // input runs out, so lengths may disagree).
    let mut shares: Vec<(usize, &[u8])> = Vec::new();
    let mut at = 0;
    while at < rest.len() && shares.len() < k + 1 {
        let shnum = usize::from(rest[at]);
        let end = (at + 1 + len).min(rest.len());
        shares.push((shnum, &rest[at + 1..end]));
        at = end;
    }
    let _ = codec.decode_all(&shares);
    // Caller-provided outputs of the wrong count or length.
    let mut bufs = vec![vec![0u8; len]; k.min(shares.len())];
    let mut outs: Vec<&mut [u8]> = bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
    let _ = codec.decode(&shares, &mut outs);

    // Round trip: encode blocks derived from the input, decode from the
    // share numbers the fuzzer chose (when they are k distinct valid ones).
    let blocks: Vec<Vec<u8>> = (0..k)
        .map(|j| (0..len).map(|i| rest.get(i + j).copied().unwrap_or(j as u8)).collect())
        .collect();
    let refs: Vec<&[u8]> = blocks.iter().map(|b| b.as_slice()).collect();
    let Ok(all) = codec.encode_all(&refs) else {
        return;
    };
    let chosen: Vec<(usize, &[u8])> = shares
        .iter()
        .take(k)
        .filter(|(s, _)| *s < n)
        .map(|&(s, _)| (s, all[s].as_slice()))
        .collect();
    if let Ok(out) = codec.decode_all(&chosen) {
        assert_eq!(out, blocks);
    }
});
