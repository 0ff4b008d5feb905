"""Slow, obviously correct Python versions of the generators in csrc/common/rng.h.

Philox4x32-10 follows Salmon et al. (SC 2011) and Random123's philox.h; SplitMix64 follows
Steele, Lea and Flood (OOPSLA 2014). The stream convention is the one documented in rng.h.
"""

from __future__ import annotations

MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF
M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85


def philox4x32_10(counter: tuple[int, int, int, int], key: tuple[int, int]) -> tuple[int, int, int, int]:
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for r in range(10):
        if r > 0:
            k0, k1 = (k0 + W0) & MASK32, (k1 + W1) & MASK32
        p0, p1 = M0 * c0, M1 * c2
        hi0, lo0, hi1, lo1 = p0 >> 32, p0 & MASK32, p1 >> 32, p1 & MASK32
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


def philox_stream(seed: int, subsequence: int, offset: int, n: int) -> list[int]:
    out = []
    for i in range(offset, offset + n):
        c = i // 4
        counter = (c & MASK32, c >> 32, subsequence & MASK32, subsequence >> 32)
        out.append(philox4x32_10(counter, (seed & MASK32, seed >> 32))[i % 4])
    return out


def to_uniform(bits: int) -> float:
    return (bits >> 8) / 16777216.0


def splitmix64(seed: int, n: int) -> list[int]:
    out, state = [], seed
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        out.append(z ^ (z >> 31))
    return out
