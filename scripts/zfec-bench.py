#!/usr/bin/env python3
"""Time Python zfec on the workload `lafs bench fec` runs, print one JSON object.

usage: zfec-bench.py K N BLOCK_SIZE SECONDS SHARE,SHARE,... [WORST,SHARE,...]

Encode computes the secondary blocks k..n (as lafs does: primary blocks are
the input); decode recovers the k primary blocks from the listed shares (and, if a second list
is given, from that one: "decode_worst_mbps").
Throughput is MB/s (1e6 bytes) of input, i.e. k * BLOCK_SIZE per call, per
second of this thread's CPU time.
Run by `lafs bench fec` through scripts/bench-venv (zfec==1.6.0.0).
"""
import json
import os
import sys
import time

import zfec


def rate(fn, nbytes, seconds):
    """MB/s per second of this thread's CPU time, as `lafs bench fec` does."""
    fn()  # warm up
    calls, start, cpu = 0, time.perf_counter(), time.thread_time()
    while True:
        fn()
        calls += 1
        if time.perf_counter() - start >= seconds and calls >= 3:
            return calls * nbytes / (time.thread_time() - cpu) / 1e6


def main():
    k, n, bs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    seconds = float(sys.argv[4])
    blocks = tuple(os.urandom(bs) for _ in range(k))
    enc = zfec.Encoder(k, n)
    secondary = tuple(range(k, n))
    every = enc.encode(blocks, tuple(range(n)))
    dec = zfec.Decoder(k, n)

    def decode_rate(arg):
        shares = tuple(int(s) for s in arg.split(","))
        chosen = tuple(bytes(every[s]) for s in shares)
        assert [bytes(b) for b in dec.decode(chosen, shares)] == list(blocks)
        return rate(lambda: dec.decode(chosen, shares), k * bs, seconds)

    out = {
        "zfec_version": zfec.__version__,
        "encode_mbps": rate(lambda: enc.encode(blocks, secondary), k * bs, seconds),
        "decode_mbps": decode_rate(sys.argv[5]),
    }
    if len(sys.argv) > 6:
        out["decode_worst_mbps"] = decode_rate(sys.argv[6])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
