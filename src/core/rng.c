/* rng.c — random numbers: xoshiro256** (Blackman & Vigna) seeded by
 * splitmix64. The whole state is the four words of cnn_rng, so saving and
 * restoring them replays a stream exactly; no value is cached between calls.
 *
 *   uniform  (next >> 40) * 2^-24, 24 random bits in [0, 1)
 *   normal   Box-Muller in double: sqrt(-2 ln u1) cos(2 pi u2), u1 in (0, 1]
 *   below    rejection of the 2^64 mod n lowest values, then r mod n
 *   perm     Fisher-Yates from the end
 *
 * A NULL rng gives 0 (and the identity permutation); nothing here fails.
 */
#include "cnn_internal.h"

#include <math.h>

uint64_t cnn__splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void cnn_rng_seed(cnn_rng *rng, uint64_t seed) {
    if (!rng) return;
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = cnn__splitmix64(&x);
}

uint64_t cnn_rng_next(cnn_rng *rng) {
    if (!rng) return 0;
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float cnn_rng_uniform(cnn_rng *rng) {
    return (float)(cnn_rng_next(rng) >> 40) * 0x1.0p-24f;
}

float cnn_rng_normal(cnn_rng *rng) {
    if (!rng) return 0.0f;
    /* u1 in (0, 1] so the log is finite; u2 in [0, 1); 53 bits each. */
    double u1 = (double)((cnn_rng_next(rng) >> 11) + 1) * 0x1.0p-53;
    double u2 = (double)(cnn_rng_next(rng) >> 11) * 0x1.0p-53;
    const double two_pi = 6.283185307179586476925286766559;
    return (float)(sqrt(-2.0 * log(u1)) * cos(two_pi * u2));
}

uint64_t cnn_rng_below(cnn_rng *rng, uint64_t n) {
    if (!rng || n == 0) return 0;
    /* threshold = 2^64 mod n; values below it would favour small results. */
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t r = cnn_rng_next(rng);
        if (r >= threshold) return r % n;
    }
}

void cnn_rng_permutation(cnn_rng *rng, uint32_t *perm, uint32_t n) {
    if (!perm) return;
    for (uint32_t i = 0; i < n; i++) perm[i] = i;
    if (!rng) return;
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)cnn_rng_below(rng, i); /* j in [0, i) */
        uint32_t tmp = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = tmp;
    }
}
