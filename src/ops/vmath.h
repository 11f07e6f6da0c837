/* vmath.h — branch-free float math that compilers vectorize (AVX2 on x86-64).
 *
 * cnn__expf(x): e^x as Cephes' expf does it: x = n ln2 + r with |r| <= ln2/2,
 * e^r by a degree-7 polynomial, 2^n by building the exponent bits. Relative
 * error about 2 ulp for x in [-87, 88]; below -87 the result is 0 and above
 * 88 it stays at e^88, so it is never inf and never a denormal. Written
 * without branches or calls so that a loop over it becomes SIMD code.
 */
#ifndef CNN_VMATH_H
#define CNN_VMATH_H

#include <stdint.h>
#include <string.h>

/* a*b + c, fused (one rounding) where the CPU has FMA; the vectorizer turns
 * it into vfmadd. Without FMA, the plain expression. */
#ifdef __FMA__
#define CNN__FMA(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define CNN__FMA(a, b, c) ((a) * (b) + (c))
#endif

static inline float cnn__expf(float x0) {
    float x = x0 < -87.0f ? -87.0f : x0;
    x = x > 88.0f ? 88.0f : x;
    float n = __builtin_floorf(CNN__FMA(x, 1.44269504088896341f, 0.5f));
    float r = CNN__FMA(n, -0.693359375f, x); /* ln2 split in a short high part... */
    r = CNN__FMA(n, 2.12194440e-4f, r);     /* ...and the low part: ln2 = 0.693359375 - 2.12194440e-4 */
    float p = 1.9875691500e-4f;
    p = CNN__FMA(p, r, 1.3981999507e-3f);
    p = CNN__FMA(p, r, 8.3334519073e-3f);
    p = CNN__FMA(p, r, 4.1665795894e-2f);
    p = CNN__FMA(p, r, 1.6666665459e-1f);
    p = CNN__FMA(p, r, 5.0000001201e-1f);
    p = CNN__FMA(p, r * r, r + 1.0f);
    /* 2^n from its exponent bits; n in [-126, 127] after the clamps above,
     * and for a NaN x (where p is NaN and any scale will do) 0 */
    n = n == n ? n : 0.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x0 < -87.0f ? 0.0f : p * scale;
}

/* sigma(x) = 1/(1+e^-x) without overflow: e = e^-|x|, then 1/(1+e) or e/(1+e). */
static inline float cnn__sigmoidf(float x) {
    float ax = x < 0.0f ? -x : x;
    float e = cnn__expf(-ax);
    float r = 1.0f / (1.0f + e);
    return x >= 0.0f ? r : e * r;
}

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define CNN_HAVE_SIGMOID8 1

/* sigma(x) on 8 lanes: e = e^-|x| as e^t = 2^n (1 + t p(t)), n = round(t/ln2)
 * read off the bits of t*log2(e) + 1.5*2^23 + 127, t = -|x| - n ln2 (ln2
 * rounded to float), p a degree-4 minimax fit (|relative error of e^t| < 1e-7
 * on [-ln2/2, ln2/2]) in Estrin's form; then one division, 1/(1+e) for
 * x >= 0 and e/(1+e) below (exactly 1 once e is 0). Relative error below
 * 4e-7 against double for x >= -87 (2.4e-7 on [-20, 20]); e = 0 below -87
 * (so sigma(-inf) = 0, sigma(inf) = 1); NaN stays NaN. The division runs
 * beside the FMAs: a reciprocal estimate, its Newton step and a blend took
 * longer. */
static inline __m256 cnn__sigmoid8(__m256 x) {
    const __m256 magic = _mm256_set1_ps(0x1.8000FEp23f), lo = _mm256_set1_ps(-87.0f);
    const __m256 one = _mm256_set1_ps(1.0f);
    /* z = -|x|; below -87 (-inf included) what follows is garbage and e is set to 0 */
    __m256 z = _mm256_or_ps(x, _mm256_set1_ps(-0.0f));
    __m256 n = _mm256_fmadd_ps(z, _mm256_set1_ps(1.44269504088896341f), magic);
    __m256 s = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(n), 23)); /* 2^n */
    n = _mm256_sub_ps(n, magic);
    __m256 t = _mm256_fmadd_ps(n, _mm256_set1_ps(-0x1.62E430p-1f), z);
    /* p = (c0 + c1 t) + t^2 ((c2 + c3 t) + c4 t^2) */
    __m256 t2 = _mm256_mul_ps(t, t);
    __m256 p01 = _mm256_fmadd_ps(_mm256_set1_ps(4.9999149525e-1f), t, _mm256_set1_ps(9.9999970719e-1f));
    __m256 p23 = _mm256_fmadd_ps(_mm256_set1_ps(4.1897930093e-2f), t, _mm256_set1_ps(1.6667636199e-1f));
    __m256 p = _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.2903148013e-3f), t2, p23), t2, p01);
    __m256 e = _mm256_fmadd_ps(_mm256_mul_ps(t, s), p, s);
    e = _mm256_andnot_ps(_mm256_cmp_ps(z, lo, _CMP_LT_OQ), e); /* e^z = 0 below -87; NaN stays */
    /* x's sign bit picks the numerator: e/(1+e) = sigma(-|x|), 1/(1+e) = sigma(|x|) */
    return _mm256_div_ps(_mm256_blendv_ps(one, e, x), _mm256_add_ps(one, e));
}
#endif

#if defined(__AVX2__)
#include <immintrin.h>
/* Max pooling's step on 8 lanes, PyTorch's CPU rule: v is taken where v > m
 * or v is NaN (so the first maximum wins, and the last NaN); returns the new
 * maximum, and with k given sets it to kv where v was taken. */
static inline __m256 cnn__max_step8(__m256 m, __m256 v, __m256 *k, float kv) {
    __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    if (k) *k = _mm256_blendv_ps(*k, _mm256_set1_ps(kv), take);
    return _mm256_blendv_ps(m, v, take);
}
#endif

#endif /* CNN_VMATH_H */
