/* conv2d_direct.c — Conv2d without im2col (AVX2 + FMA, AVX-512): stride 1,
 * and stride 2 in the lanes layout (the input split into phases, below).
 *
 * One sample's input is copied into a zero-padded stack of planes
 * xp (C, Hp, Wp), Hp = OH + (kh-1)*dh, Wp = OW + (kw-1)*dw. Read flat, the
 * output on the padded-width grid, pixel n = i*Wp + j, is
 *
 *   yp[o, n] = sum_k A[o, k] * xp[n + off[k]],   k = (c, a, e),
 *   A[o, k] = w[o, c, a, e],   off[k] = c*Hp*Wp + a*dh*Wp + e*dw,
 *
 * which is y[o, i, j] for j < OW; the columns j >= OW are computed and
 * dropped. So the convolution is a GEMM whose right operand is xp itself,
 * read at K row offsets: no im2col, and a 6 x 16 register tile of
 * accumulators (kern_rows). The gradients use dyp, dy on the same
 * padded-width grid (zero in the dropped columns). The input gradient
 * scatters the same product back:
 *
 *   dxp[c, n + off[k]] += T[k, n],   T[k, n] = sum_o w[o, k] * dyp[o, n],
 *
 * kern_rows again, adding each row of its tile at its offset, one row after
 * the other; rows are taken in (a, e, c) order so that the rows of a tile
 * seldom overlap (C >= 6: never). dx is the interior of dxp. The weight
 * gradient is a product with the pixels as the reduction (kern_dots), one
 * sample at a time (its rows stay in L1):
 *
 *   dw[o, k] += sum_n dyp[o, n] * xp[n + off[k]].
 *
 * With OC a multiple of 8 the forward and the weight gradient vectorize over
 * the output channels instead (kern_cols), reading only the OH*OW real pixels:
 * a tile is 6 pixels (or 6 rows k) x 16 channels, the input broadcast from
 * xp[pix[p] + off[k]], pix[p] = i*Wp + j; the output is pixel-major and is
 * transposed to NCHW (y), or the weight gradient is kept as (K, OC).
 *
 * The lanes layout (batches of 8 or more, no dilation, when its scratch
 * fits) puts 8 samples side by side, a pixel being one vector of 8 lanes:
 * X8 (C, Hp, Wp, 8). The forward is kern_rows again with 2 pixels x 8 lanes
 * per tile row and no padded-width grid; bias, activation and 2 x 2 average or max
 * pooling run on whole vectors. The weight gradient sums over lanes and
 * pixels (kern_dots over rows); the input gradient is a gather over the taps that
 * reach each input pixel (kern_segs):
 *
 *   dx[c, h, q] = sum_{a, e, o} w[o, c, a, e] * dy[o, h + pt - a, q + pl - e],
 *
 * rows a exactly, columns e over a pixel pair's range, dy with kw - 1 zero
 * columns on each side (dY8). With a fused activation and 2 x 2 pooling the
 * tail runs in bands of rows while they are in cache: forward, the pooling
 * of the band just computed; backward, the band's output gradient is made,
 * summed for db and used for dw, while the next band's activation is
 * prefetched. Between a fused layer's forward and backward, and between two
 * fused layers, the tensors can stay in blocks of 8 samples (CNN__BLK_* in
 * ops.h), which are X8's and Y8's own layout: copied, not transposed. So can
 * a Conv2d's alone (cnn__conv2d_direct_blocks): x, y, dy and dx, the rows of
 * a stride-2 input's phases gathered from blocks as from lanes.
 *
 * Parallelism: the batch is cut into at most CONV_DIRECT_CHUNKS chunks whose
 * bounds depend only on the batch size (samples, or blocks of 8 with lanes);
 * a chunk is processed by one thread, in that thread's scratch slot of the
 * workspace (one per thread, so the scratch a call touches stays in cache),
 * and sums its weight gradient into the chunk's own partial; the partials
 * are added in chunk order. The results therefore do not depend on the
 * thread count.
 */
#include "kernel.h"
#include "ops/vmath.h"

#include <stdatomic.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define CONV_DIRECT 1
#else
#define CONV_DIRECT 0
#endif

#define CONV_DIRECT_CHUNKS 32  /* most chunks a batch is cut into */
#define CONV_DIRECT_TEAM 16    /* most threads (scratch slots) a call uses, at most the processors */
/* LANES_PIX: pixels of 8 lanes a tile row of the lanes forward takes.
 * Rows of a register tile: 12 with AVX-512's 32 vector registers, 6 with
 * AVX2's 16. TILE_ROWS(X) is X(0) X(1) ... for each row, MR_SWITCH(F) runs
 * F(mr) for the row count mr, a constant inside F (F ends with break). */
#if defined(__AVX512F__)
#define LANES_PIX 4
#define WIDE_PIX 8 /* pixels of a tile of at most 6 rows (a last, partial one) */
#define CONV_DIRECT_MR 12
#define TILE_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define MR_SWITCH(F)                                                                      \
    switch (mr) {                                                                         \
    case 12: F(12) case 11: F(11) case 10: F(10) case 9: F(9) case 8: F(8) case 7: F(7)   \
    case 6: F(6) case 5: F(5) case 4: F(4) case 3: F(3) case 2: F(2) default: F(1)        \
    }
#else
#define LANES_PIX 2
#define WIDE_PIX LANES_PIX
#define CONV_DIRECT_MR 6
#define TILE_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define MR_SWITCH(F)                                                                      \
    switch (mr) {                                                                         \
    case 6: F(6) case 5: F(5) case 4: F(4) case 3: F(3) case 2: F(2) default: F(1)        \
    }
#endif
#define CONV_DIRECT_NR 16      /* pixels of a register tile (two 8-float vectors) */
/* Largest slot (floats) and K the direct path takes; beyond, im2col + GEMM. */
#define CONV_DIRECT_MAX_SLOT ((int64_t)1 << 22)
#define CONV_DIRECT_MAX_K 4096

typedef struct {
    int64_t hp, wp, np, xp;  /* padded planes, grid pixels (rounded up), floats of xp */
    int64_t k;               /* C*kh*kw */
    int cols;                /* OC % 8 == 0: kern_cols for the forward and dw */
    int lanes;               /* the lanes layout (below) instead of the grid */
    int64_t owp, wy, wx;     /* lanes: row lengths of Y8, dY8, dX8 */
    int64_t ly;              /* lanes: zero columns on each side of a dY8 row */
    int64_t x8, y8, dx8;     /* lanes: floats of X8, of Y8 or dY8, of dX8 */
    int64_t shared, slot;    /* floats: packed weights + offsets; one thread's scratch */
    int64_t pslot;           /* floats: one chunk's partials (dw, then db in doubles) */
    int64_t nslots;          /* scratch slots (below) */
    int64_t parts;           /* grid forward: most parts a sample's output channels are cut into */
} direct_plan;

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* Work items the batch is cut into: samples, or blocks of 8 samples (lanes). */
static int64_t n_items(const direct_plan *p, const cnn__conv_geom *g) {
    return p->lanes ? (g->n + 7) / 8 : g->n;
}

static int64_t n_chunks(const direct_plan *p, const cnn__conv_geom *g) {
    int64_t items = n_items(p, g);
    return items < CONV_DIRECT_CHUNKS ? items : CONV_DIRECT_CHUNKS;
}

/* The processors, asked once (a system call): the workspace planned for a
 * batch size must stay the same size for the rest of the process. */
static int64_t direct_procs(void) {
    static _Atomic int procs;
    int n = atomic_load_explicit(&procs, memory_order_relaxed);
    if (n == 0) {
        n = cnn__num_procs();
        n = n > 0 ? n : 1;
        atomic_store_explicit(&procs, n, memory_order_relaxed);
    }
    return n;
}

/* The forward's chunks: of blocks of 8 (lanes), or of work items (sample,
 * part of its output channels) with the plan's most parts (grid) */
static int64_t fwd_chunks(const direct_plan *p, const cnn__conv_geom *g) {
    int64_t items = p->lanes ? n_items(p, g) : g->n * p->parts;
    return items < CONV_DIRECT_CHUNKS ? items : CONV_DIRECT_CHUNKS;
}

/* Scratch slots: one per thread of a call's team, as many as there are
 * processors (a count that does not depend on the thread count, so the
 * workspace does not either; a call runs at most that many threads). */
static int64_t slots_for(const direct_plan *p, const cnn__conv_geom *g) {
    int64_t chunks = n_chunks(p, g), procs = direct_procs();
    if (fwd_chunks(p, g) > chunks) chunks = fwd_chunks(p, g);
    int64_t team = procs < CONV_DIRECT_TEAM ? procs : CONV_DIRECT_TEAM;
    return chunks < team ? chunks : team;
}

/* A chunk's partials: dw, then db as OC doubles. */
static int64_t partials(const direct_plan *p, const cnn__conv_geom *g) {
    return round_up(round_up(g->oc * p->k, 2) + 2 * g->oc, CONV_DIRECT_NR);
}

static void plan_lanes(direct_plan *p, const cnn__conv_geom *g);

/* Output channels a part of the grid forward holds a multiple of: kern_cols'
 * 8, or the packed weights' tiles of CONV_DIRECT_MR rows */
static int64_t part_rows(const direct_plan *p) { return p->cols ? 8 : CONV_DIRECT_MR; }

/* A batch smaller than the threads: each sample's output channels are cut
 * into parts (of whole register tiles) that the threads take apart, when a
 * sample's convolution is large enough (2M mult-adds) to pay for the
 * parts' own padded copies of the input. Each output is made the same way
 * in any part: the bits do not depend on the parts. */
#define GRID_PART_MACS ((int64_t)1 << 21)
static int64_t grid_parts(const direct_plan *p, const cnn__conv_geom *g, int64_t threads) {
    int64_t groups = (g->oc + part_rows(p) - 1) / part_rows(p), parts;
    if (g->n >= threads || g->oc * p->k * g->oh * g->ow < GRID_PART_MACS) return 1;
    parts = (threads + g->n - 1) / g->n;
    return parts < groups ? parts : groups;
}

static void plan_make(direct_plan *p, const cnn__conv_geom *g) {
    memset(p, 0, sizeof *p);
    /* the lanes layout for batches of 8 or more without dilation, when a
     * chunk's scratch fits */
    if (g->n >= 8 && g->dh == 1 && g->dw == 1 && g->kh <= 64) {
        plan_lanes(p, g);
        p->nslots = slots_for(p, g);
        if (p->slot <= CONV_DIRECT_MAX_SLOT && p->shared <= CONV_DIRECT_MAX_SLOT) return;
    }
    p->lanes = 0;
    if (g->sh != 1) return; /* stride 2: the lanes layout only (cnn__conv2d_direct_ok says no) */
    int64_t ekh = (int64_t)(g->kh - 1) * g->dh, ekw = (int64_t)(g->kw - 1) * g->dw;
    p->hp = g->oh + ekh, p->wp = g->ow + ekw;
    p->np = round_up(g->oh * p->wp, CONV_DIRECT_NR);
    /* the kernels touch up to xp[np - 1 + max off]: one plane stack plus NR + ekw */
    p->xp = round_up(g->c * p->hp * p->wp + CONV_DIRECT_NR + ekw, CONV_DIRECT_NR);
    p->k = g->c * g->kh * g->kw;
    int64_t mf = round_up(g->oc, CONV_DIRECT_MR), mt = round_up(p->k, CONV_DIRECT_MR);
    p->cols = g->oc % 8 == 0;
    /* packed w for the forward and for T, w as (K, OC); offsets: forward, by
     * (a, e, c), of dyp rows, of the real pixels */
    p->shared = round_up(mf * p->k + mt * g->oc + p->k * g->oc + 2 * p->k + g->oc + g->oh * g->ow,
                         CONV_DIRECT_NR);
    /* xp, dyp, dy pixel-major (dyt), dxp, a sample's dy when the backward
     * makes it (dz) */
    p->slot = round_up(2 * p->xp + g->oc * p->np + 2 * g->oc * g->oh * g->ow, CONV_DIRECT_NR);
    p->pslot = partials(p, g);
    p->parts = grid_parts(p, g, direct_procs());
    p->nslots = slots_for(p, g);
}

/* floats of the lanes layout's stage: 8 samples' outputs, room for their
 * pooled gradient (a quarter as many), and db's per-lane sums (8 per channel);
 * at least a row of the input in lanes */
static int64_t lanes_stage(const cnn__conv_geom *g) {
    int64_t st = 10 * g->oc * g->oh * g->ow + 8 * g->oc + 8;
    return st > g->w * 8 ? st : g->w * 8; /* with phases, also a row of dx in lanes */
}

/* Stride s = 2 in the lanes layout: X8 holds the padded input split into
 * s x s phases, plane (ph, pw, c) = xpad[c, s*u + ph, s*v + pw], so that
 * output pixel (i, j) reads tap (c, a, e) at (i + a/s, j + e/s) of plane
 * (a%s, e%s, c): consecutive output pixels read consecutive X8 pixels, as
 * with stride 1, and the forward and the weight gradient run unchanged with
 * these offsets (the same K = C*kh*kw taps, no zero ones). Seen so, the
 * convolution is a stride-1 one over s*s*C phase planes of ceil(kh/s) x
 * ceil(kw/s) taps (some of zero weight), the phase geometry below; the input
 * gradient is that one's (lanes_dx, which skips the taps of zero weight: a
 * tile's rows are planes of one phase), its planes put back in place after.
 * With s = 1 the phase geometry is g itself. */
static cnn__conv_geom phase_geom(const cnn__conv_geom *g) {
    cnn__conv_geom q = *g;
    int s = g->sh;
    if (s == 1) return q;
    q.c = (int64_t)s * s * g->c;
    q.kh = (g->kh + s - 1) / s, q.kw = (g->kw + s - 1) / s;
    q.sh = q.sw = 1, q.pad_top = q.pad_left = 0;
    q.h = g->oh + q.kh - 1, q.w = g->ow + q.kw - 1;
    return q;
}

/* Rows of the input gradient's packed weights: tiles of CONV_DIRECT_MR rows
 * within each phase (the last one of a phase may have fewer), MR each */
static int64_t dx_rows(const cnn__conv_geom *g) {
    return (int64_t)g->sh * g->sh * round_up(g->c, CONV_DIRECT_MR);
}

/* The lanes layout: 8 samples side by side, a pixel is one vector of 8
 * lanes. X8 (C, Hp, Wp, 8) holds the padded input; Y8 (OC, OH, OWp, 8) the
 * output, dY8 (OC, OH, Wy, 8) the output gradient with ly zero columns on
 * each side (kw - 1, and at least WIDE_PIX - 1: a tile of the input
 * gradient reads that far past the taps of its first pixel), dX8 (C, H, Wx,
 * 8) the input gradient, LANES_PIX pixels a tile (WIDE_PIX for a tile of at
 * most 6 rows). With stride 2 the sizes are those of the phase geometry. */
static void plan_lanes(direct_plan *p, const cnn__conv_geom *g) {
    const cnn__conv_geom q = phase_geom(g);
    int64_t ekw = q.kw - 1, taps = (int64_t)q.kh * q.kw * g->oc;
    p->lanes = 1, p->cols = 0, p->np = 0, p->xp = 0;
    p->hp = g->oh + q.kh - 1, p->wp = g->ow + ekw;
    p->k = g->c * g->kh * g->kw;
    p->ly = ekw > WIDE_PIX - 1 ? ekw : WIDE_PIX - 1;
    p->owp = round_up(g->ow, LANES_PIX), p->wy = g->ow + 2 * p->ly, p->wx = round_up(q.w, LANES_PIX);
    /* a tile reads up to LANES_PIX pixels past a row's end: twice that of room */
    p->x8 = round_up((q.c * p->hp * p->wp + 2 * LANES_PIX) * 8, CONV_DIRECT_NR);
    int64_t y8 = g->oc * g->oh * p->owp * 8, dy8 = (g->oc * g->oh * p->wy + 2 * WIDE_PIX) * 8;
    p->y8 = round_up(y8 > dy8 ? y8 : dy8, CONV_DIRECT_NR);
    /* dX8; with phases it also holds a row of the input on its way into X8 */
    int64_t dx8 = q.c * q.h * p->wx * 8;
    p->dx8 = round_up(dx8 > g->w * 8 ? dx8 : g->w * 8, CONV_DIRECT_NR);
    /* packed w for the forward (rows o, taps (c, a, e)) and for the input
     * gradient (rows c, taps (a, e, o), of the phase geometry); their offsets */
    p->shared = round_up(round_up(g->oc, CONV_DIRECT_MR) * p->k + dx_rows(g) * taps +
                             p->k + taps,
                         CONV_DIRECT_NR);
    /* X8, Y8 or dY8, dX8, the stage (8 samples' outputs or output gradients,
     * or the activation's output and the pooling's gradient in lanes, and
     * db's per-lane sums) */
    p->slot = round_up(p->x8 + p->y8 + p->dx8 + lanes_stage(g), CONV_DIRECT_NR);
    p->pslot = partials(p, g);
}

int cnn__conv2d_direct_ok(const cnn__conv_geom *g) {
    if (!CONV_DIRECT) return 0;
    if (g->groups != 1 || g->n <= 0) return 0;
    /* stride 2 (both ways, no dilation): in the lanes layout only */
    int s2 = g->sh == 2 && g->sw == 2 && g->dh == 1 && g->dw == 1 && g->kh * g->kw > 1; /* 1x1: GEMM measured faster */
    if (!s2 && (g->sh != 1 || g->sw != 1)) return 0;
    if (!s2 && g->kh == 1 && g->kw == 1) return 0; /* 1x1 stride 1: the GEMM path has no im2col either */
    if (g->c * g->kh * g->kw > CONV_DIRECT_MAX_K || g->oc * g->kh * g->kw > CONV_DIRECT_MAX_K)
        return 0;
    /* padded planes of at most 2^20 x 2^20, so that plan_make cannot overflow */
    if (g->oh + (int64_t)(g->kh - 1) * g->dh > ((int64_t)1 << 20) ||
        g->ow + (int64_t)(g->kw - 1) * g->dw > ((int64_t)1 << 20))
        return 0;
    direct_plan p;
    plan_make(&p, g);
    if (s2 && !p.lanes) return 0;
    return p.slot <= CONV_DIRECT_MAX_SLOT && p.shared <= CONV_DIRECT_MAX_SLOT;
}

size_t cnn__conv2d_direct_workspace(const cnn__conv_geom *g) {
    direct_plan p;
    plan_make(&p, g);
    /* + room to align */
    return (size_t)(p.shared + p.nslots * p.slot + n_chunks(&p, g) * p.pslot + CONV_DIRECT_NR);
}

#if CONV_DIRECT

/* Threads a call asks for: the library's, at most one per scratch slot.
 * OpenMP may give fewer (OMP_DYNAMIC, OMP_THREAD_LIMIT, a caller's region
 * around this one), never more: nothing counts on the team being whole.
 * The chunks are shared out as threads come (schedule(dynamic, 1)), each
 * thread prepares its own slot before taking any, and the sums go by chunk. */
static int team_size(const direct_plan *p) {
    int64_t t = cnn_get_threads();
    return (int)(t < p->nslots ? t : p->nslots);
}

/* Rows of output per band, about 128 pixels: the weight gradient's output
 * gradient (6 channels, 24 KiB) stays in L1, and the 2 x 2 pooling's rows
 * stay whole (even). */
static int64_t lanes_band(const cnn__conv_geom *g) {
    int64_t band = 128 / g->ow / 2 * 2;
    return band > 2 ? band : 2;
}

/* ws moved up to the next 64-byte boundary (the workspace has room for it):
 * every slot and row then starts on a cache line. */
static float *align64(float *ws) {
    uintptr_t a = ((uintptr_t)ws + 63) & ~(uintptr_t)63;
    return ws + (a - (uintptr_t)ws) / sizeof(float);
}

/* The calling thread's scratch slot; chunk q's dw and db partials (both layouts). */
static float *slot_of(float *ws, const direct_plan *p) {
    CNN_ASSERT(cnn__thread_num() < p->nslots); /* num_threads(team), team <= nslots */
    return ws + p->shared + cnn__thread_num() * p->slot;
}
static float *part_of(float *ws, const direct_plan *p, int64_t q) {
    return ws + p->shared + p->nslots * p->slot + q * p->pslot;
}
static double *db_of(float *ws, const direct_plan *p, const cnn__conv_geom *g, int64_t q) {
    return (double *)(part_of(ws, p, q) + round_up(g->oc * p->k, 2));
}

/* Where the shared part of the workspace keeps what plan_make counts. */
typedef struct {
    float *apack, *tpack, *wt;
    int *off, *toff, *yoff, *pix;
} direct_shared;

static direct_shared shared_at(float *ws, const direct_plan *p, const cnn__conv_geom *g) {
    direct_shared d;
    d.apack = ws;
    d.tpack = d.apack + round_up(g->oc, CONV_DIRECT_MR) * p->k;
    d.wt = d.tpack + round_up(p->k, CONV_DIRECT_MR) * g->oc;
    d.off = (int *)(d.wt + p->k * g->oc);
    d.toff = d.off + p->k;
    d.yoff = d.toff + p->k;
    d.pix = d.yoff + g->oc;
    return d;
}

/* ---- micro-kernels ------------------------------------------------------- */

/* Row i < mr of the tile: r_i = sum_k a[k*6 + i] * x[off[k] + 0:16] (a packed
 * as K groups of 6), stored at c + i*ldc, or added at c + coff[i] when add.
 * mr and add are constants after inlining; the accumulators are named one by
 * one so that all stay in registers: with 16 lanes (AVX-512) a row is one
 * vector, with 8 lanes two. Each lane sums over k in the same order either
 * way, so both give the same bits. */
#if defined(__AVX512F__)
/* nv = 2 (kern_rows_wide): 32 floats a row, two vectors; nv = 4 (the _x4
 * kernels, at most 6 rows): 64 floats, four */
#define ROW_ZERO(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = c##i##0, c##i##2 = c##i##0, c##i##3 = c##i##0;
#define ROW_LOAD(xk)                                                      \
    __m512 b0 = _mm512_loadu_ps(xk);                                      \
    __m512 b1 = nv > 1 ? _mm512_loadu_ps((xk) + 16) : b0;                 \
    __m512 b2 = nv > 2 ? _mm512_loadu_ps((xk) + 32) : b0;                 \
    __m512 b3 = nv > 2 ? _mm512_loadu_ps((xk) + 48) : b0;
#define ROW_FMA(i)                                                        \
    if (mr > i) {                                                         \
        __m512 ai = _mm512_set1_ps(ak[i]);                                \
        c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);                       \
        if (nv > 1) c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);           \
        if (nv > 2) c##i##2 = _mm512_fmadd_ps(ai, b2, c##i##2);           \
        if (nv > 2) c##i##3 = _mm512_fmadd_ps(ai, b3, c##i##3);           \
    }
#define ROW_ADD_AT(ci, v) _mm512_storeu_ps(ci, _mm512_add_ps(_mm512_loadu_ps(ci), v))
#define ROW_STORE(i)                                                      \
    if (mr > i) {                                                         \
        if (add) {                                                        \
            float *ci = c + coff[i];                                      \
            ROW_ADD_AT(ci, c##i##0);                                      \
            if (nv > 1) ROW_ADD_AT(ci + 16, c##i##1);                     \
            if (nv > 2) ROW_ADD_AT(ci + 32, c##i##2), ROW_ADD_AT(ci + 48, c##i##3); \
        } else {                                                          \
            _mm512_storeu_ps(c + i * ldc, c##i##0);                       \
            if (nv > 1) _mm512_storeu_ps(c + i * ldc + 16, c##i##1);      \
            if (nv > 2) _mm512_storeu_ps(c + i * ldc + 32, c##i##2);      \
            if (nv > 2) _mm512_storeu_ps(c + i * ldc + 48, c##i##3);      \
        }                                                                 \
    }
#else
#define ROW_ZERO(i) __m256 c##i##0 = _mm256_setzero_ps(), c##i##1 = c##i##0;
#define ROW_LOAD(xk) __m256 b0 = _mm256_loadu_ps(xk), b1 = _mm256_loadu_ps((xk) + 8);
#define ROW_FMA(i)                                                        \
    if (mr > i) {                                                         \
        __m256 ai = _mm256_broadcast_ss(ak + i);                          \
        c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);                       \
        c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);                       \
    }
#define ROW_STORE(i)                                                      \
    if (mr > i) {                                                         \
        if (add) {                                                        \
            float *ci = c + coff[i];                                      \
            _mm256_storeu_ps(ci, _mm256_add_ps(_mm256_loadu_ps(ci), c##i##0));          \
            _mm256_storeu_ps(ci + 8, _mm256_add_ps(_mm256_loadu_ps(ci + 8), c##i##1));  \
        } else {                                                          \
            _mm256_storeu_ps(c + i * ldc, c##i##0);                       \
            _mm256_storeu_ps(c + i * ldc + 8, c##i##1);                   \
        }                                                                 \
    }
#endif
static inline __attribute__((always_inline)) void
kern_rows_mr(int mr, int nv, int add, const float *a, const float *x, const int *off, int64_t K,
             float *c, int64_t ldc, const int *coff) {
    (void)nv;
    TILE_ROWS(ROW_ZERO)
    for (int64_t k = 0; k < K; k++) {
        const float *xk = x + off[k], *ak = a + k * CONV_DIRECT_MR;
        ROW_LOAD(xk)
        TILE_ROWS(ROW_FMA)
    }
    TILE_ROWS(ROW_STORE)
}
/* The same over the rows k of nseg segments [lo[s], hi[s]), stored. */
static inline __attribute__((always_inline)) void
kern_segs_mr(int mr, int nv, const float *a, const float *x, const int *off, const int *lo,
             const int *hi, int nseg, float *c, int64_t ldc) {
    const int add = 0;
    const int *coff = NULL;
    (void)coff, (void)nv;
    TILE_ROWS(ROW_ZERO)
    for (int sg = 0; sg < nseg; sg++)
        for (int64_t k = lo[sg]; k < hi[sg]; k++) {
            const float *xk = x + off[k], *ak = a + k * CONV_DIRECT_MR;
            ROW_LOAD(xk)
            TILE_ROWS(ROW_FMA)
        }
    TILE_ROWS(ROW_STORE)
}
#undef ROW_ZERO
#undef ROW_LOAD
#undef ROW_FMA
#undef ROW_STORE
#undef ROW_ADD_AT

static void kern_segs(int mr, const float *a, const float *x, const int *off, const int *lo,
                      const int *hi, int nseg, float *c, int64_t ldc) {
#define SEGS(m) kern_segs_mr(m, LANES_PIX / 2, a, x, off, lo, hi, nseg, c, ldc); break;
    MR_SWITCH(SEGS)
#undef SEGS
}

static void kern_rows(int mr, const float *a, const float *x, const int *off, int64_t K, float *c,
                      int64_t ldc) {
#define ROWS(m) kern_rows_mr(m, 1, 0, a, x, off, K, c, ldc, NULL); break;
    MR_SWITCH(ROWS)
#undef ROWS
}

static void kern_rows_add(int mr, const float *a, const float *x, const int *off, int64_t K,
                          float *c, const int *coff) {
#define ROWS(m) kern_rows_mr(m, 1, 1, a, x, off, K, c, 0, coff); break;
    MR_SWITCH(ROWS)
#undef ROWS
}

#if defined(__AVX512F__)
/* kern_rows with 32 floats a row (4 pixels x 8 lanes): 24 accumulators */
static void kern_rows_wide(int mr, const float *a, const float *x, const int *off, int64_t K, float *c,
                           int64_t ldc) {
#define ROWS(m) kern_rows_mr(m, 2, 0, a, x, off, K, c, ldc, NULL); break;
    MR_SWITCH(ROWS)
#undef ROWS
}
/* A tile of at most 6 rows (a last, partial one) takes twice the pixels,
 * 64 floats a row (8 pixels x 8 lanes): 24 accumulators again. The same
 * sums in the same order: the same bits. */
#define MR6_SWITCH(F)                                                                     \
    switch (mr) {                                                                         \
    case 6: F(6) case 5: F(5) case 4: F(4) case 3: F(3) case 2: F(2) default: F(1)        \
    }
static void kern_rows_x4(int mr, const float *a, const float *x, const int *off, int64_t K, float *c,
                         int64_t ldc) {
#define ROWS(m) kern_rows_mr(m, 4, 0, a, x, off, K, c, ldc, NULL); break;
    MR6_SWITCH(ROWS)
#undef ROWS
}
static void kern_segs_x4(int mr, const float *a, const float *x, const int *off, const int *lo,
                         const int *hi, int nseg, float *c, int64_t ldc) {
#define SEGS(m) kern_segs_mr(m, 4, a, x, off, lo, hi, nseg, c, ldc); break;
    MR6_SWITCH(SEGS)
#undef SEGS
}
#else
#define kern_rows_wide kern_rows
#endif

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* v stays in a register: without it GCC folds the load of ai into both FMAs
 * that use it, two loads where one will do (kern_dots: 14 loads per 12 FMAs
 * instead of 8, and 1.25x slower). */
#define IN_REGISTER(v) __asm__("" : "+x"(v))

/* d[i*ldd + j] += sum over r < rows, n < np of a[i*lda + r*ars + n] *
 * x[off_j + r*xrs + n] for rows i < mr and the kr (1 or 2) offsets off0,
 * off1; np is a multiple of 8. The grid layout reduces over one run of
 * pixels (rows = 1), the lanes layout over `rows` rows of pixels x 8 lanes. */
#if defined(__AVX512F__)
/* 16 lanes: the pixels in steps of 16, a last 8 (np = 8 mod 16) under a
 * mask; the lanes are summed at the end (so the bits differ from 8 lanes). */
#define DOT_ZERO(i) __m512 d##i##0 = _mm512_setzero_ps(), d##i##1 = d##i##0;
#define DOT_FMA(i)                                                        \
    if (mr > i) {                                                         \
        __m512 ai = _mm512_maskz_loadu_ps(m, ar + i * lda + n);           \
        IN_REGISTER(ai);                                                  \
        d##i##0 = _mm512_mask3_fmadd_ps(ai, x0, d##i##0, m);              \
        if (kr > 1) d##i##1 = _mm512_mask3_fmadd_ps(ai, x1, d##i##1, m);  \
    }
#define DOT_STORE(i)                                                      \
    if (mr > i) {                                                         \
        d[i * ldd] += _mm512_reduce_add_ps(d##i##0);                      \
        if (kr > 1) d[i * ldd + 1] += _mm512_reduce_add_ps(d##i##1);      \
    }
static inline __attribute__((always_inline)) void
kern_dots_mr(int mr, int kr, const float *a, int64_t lda, const float *x, int64_t off0,
             int64_t off1, int64_t rows, int64_t ars, int64_t xrs, int64_t np, float *d,
             int64_t ldd) {
    TILE_ROWS(DOT_ZERO)
    for (int64_t r = 0; r < rows; r++) {
        const float *ar = a + r * ars, *x0p = x + off0 + r * xrs, *x1p = x + off1 + r * xrs;
        /* whole vectors, then a last 8 under a mask (as kern_dots4_mr) */
        const int64_t nfull = np & ~(int64_t)15;
        for (int64_t n = 0; n < nfull; n += 16) {
            const __mmask16 m = 0xFFFF;
            __m512 x0 = _mm512_loadu_ps(x0p + n);
            __m512 x1 = kr > 1 ? _mm512_loadu_ps(x1p + n) : x0;
            IN_REGISTER(x0);
            IN_REGISTER(x1);
            TILE_ROWS(DOT_FMA)
        }
        if (nfull < np) {
            const int64_t n = nfull;
            const __mmask16 m = 0x00FF;
            __m512 x0 = _mm512_maskz_loadu_ps(m, x0p + n);
            __m512 x1 = kr > 1 ? _mm512_maskz_loadu_ps(m, x1p + n) : x0;
            IN_REGISTER(x0);
            IN_REGISTER(x1);
            TILE_ROWS(DOT_FMA)
        }
    }
    TILE_ROWS(DOT_STORE)
}
#else
#define DOT_ZERO(i) __m256 d##i##0 = _mm256_setzero_ps(), d##i##1 = d##i##0;
#define DOT_FMA(i)                                                        \
    if (mr > i) {                                                         \
        __m256 ai = _mm256_loadu_ps(ar + i * lda + n);                    \
        IN_REGISTER(ai);                                                  \
        d##i##0 = _mm256_fmadd_ps(ai, x0, d##i##0);                       \
        if (kr > 1) d##i##1 = _mm256_fmadd_ps(ai, x1, d##i##1);           \
    }
#define DOT_STORE(i)                                                      \
    if (mr > i) {                                                         \
        d[i * ldd] += hsum(d##i##0);                                      \
        if (kr > 1) d[i * ldd + 1] += hsum(d##i##1);                      \
    }
static inline __attribute__((always_inline)) void
kern_dots_mr(int mr, int kr, const float *a, int64_t lda, const float *x, int64_t off0,
             int64_t off1, int64_t rows, int64_t ars, int64_t xrs, int64_t np, float *d,
             int64_t ldd) {
    TILE_ROWS(DOT_ZERO)
    for (int64_t r = 0; r < rows; r++) {
        const float *ar = a + r * ars, *x0p = x + off0 + r * xrs, *x1p = x + off1 + r * xrs;
        for (int64_t n = 0; n < np; n += 8) {
            __m256 x0 = _mm256_loadu_ps(x0p + n);
            __m256 x1 = kr > 1 ? _mm256_loadu_ps(x1p + n) : x0;
            IN_REGISTER(x0);
            IN_REGISTER(x1);
            TILE_ROWS(DOT_FMA)
        }
    }
    TILE_ROWS(DOT_STORE)
}
#endif
#undef DOT_ZERO
#undef DOT_FMA
#undef DOT_STORE

static void kern_dots(int mr, int kr, const float *a, int64_t lda, const float *x, int64_t off0,
                      int64_t off1, int64_t rows, int64_t ars, int64_t xrs, int64_t np, float *d,
                      int64_t ldd) {
#define DOTS(m)                                                                          \
    if (kr > 1) kern_dots_mr(m, 2, a, lda, x, off0, off1, rows, ars, xrs, np, d, ldd);   \
    else kern_dots_mr(m, 1, a, lda, x, off0, off1, rows, ars, xrs, np, d, ldd);          \
    break;
    MR_SWITCH(DOTS)
#undef DOTS
}

#if defined(__AVX512F__)
/* The lanes layout's weight gradient with AVX-512: d[i*ldd + j] += the same
 * sums as kern_dots for rows i < mr (<= 6) and kr (<= 4) taps at offsets
 * off[j]: 6 x 4 accumulators, so that each dy vector loaded serves four
 * taps and a tile's rows of dY8 stay in L1. Same sums in the same order as
 * kern_dots: the same bits. */
#define DOT4_FMA(i)                                                                              \
    if (mr > i) {                                                                                \
        __m512 ai = _mm512_maskz_loadu_ps(m, ar + i * lda + n);                                   \
        IN_REGISTER(ai);                                                                         \
        e##i##0 = _mm512_mask3_fmadd_ps(ai, x0, e##i##0, m);                                     \
        if (kr > 1) e##i##1 = _mm512_mask3_fmadd_ps(ai, x1, e##i##1, m);                         \
        if (kr > 2) e##i##2 = _mm512_mask3_fmadd_ps(ai, x2, e##i##2, m);                         \
        if (kr > 3) e##i##3 = _mm512_mask3_fmadd_ps(ai, x3, e##i##3, m);                         \
    }
#define DOT4_ZERO(i) __m512 e##i##0 = _mm512_setzero_ps(), e##i##1 = e##i##0, e##i##2 = e##i##0, e##i##3 = e##i##0;
#define DOT4_STORE(i)                                                                            \
    if (mr > i) {                                                                                \
        d[i * ldd] += _mm512_reduce_add_ps(e##i##0);                                             \
        if (kr > 1) d[i * ldd + 1] += _mm512_reduce_add_ps(e##i##1);                             \
        if (kr > 2) d[i * ldd + 2] += _mm512_reduce_add_ps(e##i##2);                             \
        if (kr > 3) d[i * ldd + 3] += _mm512_reduce_add_ps(e##i##3);                             \
    }
#define DOT4_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
static inline __attribute__((always_inline)) void
kern_dots4_mr(int mr, int kr, const float *a, int64_t lda, const float *x, const int *off, int64_t rows,
              int64_t ars, int64_t xrs, int64_t np, float *d, int64_t ldd) {
    DOT4_ROWS(DOT4_ZERO)
    for (int64_t r = 0; r < rows; r++) {
        const float *ar = a + r * ars, *xr = x + r * xrs;
        const float *x0p = xr + off[0], *x1p = xr + off[kr > 1], *x2p = xr + off[kr > 2 ? 2 : 0],
                    *x3p = xr + off[kr > 3 ? 3 : 0];
        /* whole vectors, then a last 8 under a mask: each lane adds the same
         * products in the same order */
        const int64_t nfull = np & ~(int64_t)15;
        for (int64_t n = 0; n < nfull; n += 16) {
            const __mmask16 m = 0xFFFF;
            __m512 x0 = _mm512_loadu_ps(x0p + n);
            __m512 x1 = kr > 1 ? _mm512_loadu_ps(x1p + n) : x0;
            __m512 x2 = kr > 2 ? _mm512_loadu_ps(x2p + n) : x0;
            __m512 x3 = kr > 3 ? _mm512_loadu_ps(x3p + n) : x0;
            DOT4_ROWS(DOT4_FMA)
        }
        if (nfull < np) {
            const int64_t n = nfull;
            const __mmask16 m = 0x00FF;
            __m512 x0 = _mm512_maskz_loadu_ps(m, x0p + n);
            __m512 x1 = kr > 1 ? _mm512_maskz_loadu_ps(m, x1p + n) : x0;
            __m512 x2 = kr > 2 ? _mm512_maskz_loadu_ps(m, x2p + n) : x0;
            __m512 x3 = kr > 3 ? _mm512_maskz_loadu_ps(m, x3p + n) : x0;
            DOT4_ROWS(DOT4_FMA)
        }
    }
    DOT4_ROWS(DOT4_STORE)
}
#undef DOT4_FMA
#undef DOT4_ZERO
#undef DOT4_STORE
#undef DOT4_ROWS

static void kern_dots4(int mr, int kr, const float *a, int64_t lda, const float *x, const int *off, int64_t rows,
                       int64_t ars, int64_t xrs, int64_t np, float *d, int64_t ldd) {
#define K4(m, k) kern_dots4_mr(m, k, a, lda, x, off, rows, ars, xrs, np, d, ldd)
#define M4(m) switch (kr) { case 4: K4(m, 4); break; case 3: K4(m, 3); break; case 2: K4(m, 2); break; default: K4(m, 1); } break;
    switch (mr) {
    case 6: M4(6) case 5: M4(5) case 4: M4(4) case 3: M4(3) case 2: M4(2) default: M4(1)
    }
#undef M4
#undef K4
}
#endif

#if defined(__AVX512F__)
/* Row i < mr of the tile, for nc (8 to 32, a multiple of 8) channels in two
 * 16-lane vectors under masks m0, m1 (lanes past nc are not read nor written):
 *   r_i = sum_t base_i[idx[t]] * v[t*ldv + 0:nc],
 * stored at out + i*ldo, or added there when add. Each lane sums over t in
 * the same order as with 8 lanes: the same bits. */
#define COL_FMA(i)                                                        \
    if (mr > i) {                                                         \
        __m512 bi = _mm512_set1_ps(b##i[it]);                             \
        v##i##0 = _mm512_fmadd_ps(bi, w0, v##i##0);                       \
        if (nv > 1) v##i##1 = _mm512_fmadd_ps(bi, w1, v##i##1);           \
    }
#define COL_STORE(i)                                                      \
    if (mr > i) {                                                         \
        float *oi = out + i * ldo;                                        \
        if (add) v##i##0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, oi), v##i##0); \
        _mm512_mask_storeu_ps(oi, m0, v##i##0);                           \
        if (nv > 1) {                                                     \
            if (add) v##i##1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, oi + 16), v##i##1); \
            _mm512_mask_storeu_ps(oi + 16, m1, v##i##1);                  \
        }                                                                 \
    }
static inline __attribute__((always_inline)) void
kern_cols_mr(int mr, int nv, int add, __mmask16 m0, __mmask16 m1, const float *const *base, const int *idx,
             int64_t T, const float *v, int64_t ldv, float *out, int64_t ldo) {
#define COL_ZERO(i)                                                       \
    const float *b##i = base[mr > i ? i : 0];                             \
    __m512 v##i##0 = _mm512_setzero_ps(), v##i##1 = v##i##0;
    TILE_ROWS(COL_ZERO)
#undef COL_ZERO
    for (int64_t t = 0; t < T; t++) {
        int64_t it = idx[t];
        __m512 w0 = _mm512_maskz_loadu_ps(m0, v + t * ldv);
        __m512 w1 = nv > 1 ? _mm512_maskz_loadu_ps(m1, v + t * ldv + 16) : w0;
        TILE_ROWS(COL_FMA)
    }
    TILE_ROWS(COL_STORE)
}
#undef COL_FMA
#undef COL_STORE

#define COL_CHANNELS 32 /* channels a kern_cols call takes at most */
static void kern_cols(int mr, int nc, int add, const float *const *base, const int *idx,
                      int64_t T, const float *v, int64_t ldv, float *out, int64_t ldo) {
    const __mmask16 m0 = nc >= 16 ? 0xFFFF : 0x00FF, m1 = nc >= 32 ? 0xFFFF : nc > 16 ? 0x00FF : 0;
#define COLS(m)                                                                       \
    if (nc > 16 && add) kern_cols_mr(m, 2, 1, m0, m1, base, idx, T, v, ldv, out, ldo); \
    else if (nc > 16) kern_cols_mr(m, 2, 0, m0, m1, base, idx, T, v, ldv, out, ldo);   \
    else if (add) kern_cols_mr(m, 1, 1, m0, m1, base, idx, T, v, ldv, out, ldo);       \
    else kern_cols_mr(m, 1, 0, m0, m1, base, idx, T, v, ldv, out, ldo);                \
    break;
    MR_SWITCH(COLS)
#undef COLS
}
#else
/* Row i < mr of the tile, for nv (1 or 2) vectors of 8 channels:
 *   r_i = sum_t base_i[idx[t]] * v[t*ldv + 0:8*nv],
 * stored at out + i*ldo, or added there when add. */
#define COL_FMA(i)                                                        \
    if (mr > i) {                                                         \
        __m256 bi = _mm256_broadcast_ss(b##i + it);                       \
        v##i##0 = _mm256_fmadd_ps(bi, w0, v##i##0);                       \
        if (nv > 1) v##i##1 = _mm256_fmadd_ps(bi, w1, v##i##1);           \
    }
#define COL_STORE(i)                                                      \
    if (mr > i) {                                                         \
        float *oi = out + i * ldo;                                        \
        if (add) v##i##0 = _mm256_add_ps(_mm256_loadu_ps(oi), v##i##0);   \
        _mm256_storeu_ps(oi, v##i##0);                                    \
        if (nv > 1) {                                                     \
            if (add) v##i##1 = _mm256_add_ps(_mm256_loadu_ps(oi + 8), v##i##1); \
            _mm256_storeu_ps(oi + 8, v##i##1);                            \
        }                                                                 \
    }
static inline __attribute__((always_inline)) void
kern_cols_mr(int mr, int nv, int add, const float *const *base, const int *idx, int64_t T,
             const float *v, int64_t ldv, float *out, int64_t ldo) {
#define COL_ZERO(i)                                                       \
    const float *b##i = base[mr > i ? i : 0];                             \
    __m256 v##i##0 = _mm256_setzero_ps(), v##i##1 = v##i##0;
    TILE_ROWS(COL_ZERO)
#undef COL_ZERO
    for (int64_t t = 0; t < T; t++) {
        int64_t it = idx[t];
        __m256 w0 = _mm256_loadu_ps(v + t * ldv);
        __m256 w1 = nv > 1 ? _mm256_loadu_ps(v + t * ldv + 8) : w0;
        TILE_ROWS(COL_FMA)
    }
    TILE_ROWS(COL_STORE)
}
#undef COL_FMA
#undef COL_STORE

#define COL_CHANNELS 16 /* channels a kern_cols call takes at most */
static void kern_cols(int mr, int nc, int add, const float *const *base, const int *idx,
                      int64_t T, const float *v, int64_t ldv, float *out, int64_t ldo) {
    const int nv = nc > 8 ? 2 : 1; /* vectors of 8 channels */
#define COLS(m)                                                                       \
    if (nv > 1 && add) kern_cols_mr(m, 2, 1, base, idx, T, v, ldv, out, ldo);         \
    else if (nv > 1) kern_cols_mr(m, 2, 0, base, idx, T, v, ldv, out, ldo);           \
    else if (add) kern_cols_mr(m, 1, 1, base, idx, T, v, ldv, out, ldo);              \
    else kern_cols_mr(m, 1, 0, base, idx, T, v, ldv, out, ldo);                       \
    break;
    MR_SWITCH(COLS)
#undef COLS
}
#endif

/* ---- planes -------------------------------------------------------------- */

/* dst (c, hp, wp) and `tail` more floats <- src (c, h, w) placed at row top,
 * column left, zeros elsewhere; rows and columns that fall outside are cut. */
static void pad_planes(float *dst, int64_t total, const float *src, int64_t c, int64_t h,
                       int64_t w, int64_t hp, int64_t wp, int64_t top, int64_t left) {
    int64_t wc = w < wp - left ? w : wp - left; /* columns of src that fit */
    float *p = dst;
    for (int64_t ci = 0; ci < c; ci++)
        for (int64_t r = 0; r < hp; r++, p += wp) {
            int64_t sr = r - top;
            if (sr < 0 || sr >= h || wc <= 0) {
                memset(p, 0, sizeof(float) * (size_t)wp);
                continue;
            }
            const float *s = src + (ci * h + sr) * w;
            for (int64_t j = 0; j < left; j++) p[j] = 0.0f;
            for (int64_t j = 0; j < wc; j++) p[left + j] = s[j];
            for (int64_t j = left + wc; j < wp; j++) p[j] = 0.0f;
        }
    memset(p, 0, sizeof(float) * (size_t)(total - (p - dst)));
}

/* off[k] = c*hp*wp + a*dh*wp + e*dw for k = (c, a, e): where row k of the
 * flat product reads planes (c, hp, wp); with by_tap, k = (a, e, c). */
static void make_offsets(int *off, int64_t c, const cnn__conv_geom *g, int64_t hp, int64_t wp,
                         int by_tap) {
    int64_t k = 0;
    if (by_tap) {
        for (int a = 0; a < g->kh; a++)
            for (int e = 0; e < g->kw; e++)
                for (int64_t ci = 0; ci < c; ci++)
                    off[k++] = (int)(ci * hp * wp + (int64_t)a * g->dh * wp + (int64_t)e * g->dw);
        return;
    }
    for (int64_t ci = 0; ci < c; ci++)
        for (int a = 0; a < g->kh; a++)
            for (int e = 0; e < g->kw; e++)
                off[k++] = (int)(ci * hp * wp + (int64_t)a * g->dh * wp + (int64_t)e * g->dw);
}

/* pack[(m0/6)*6*K + k*6 + i] = A[m0 + i, k], 0 past the last row; the
 * forward's A[o, k] = w[o, k] (k = (c, a, e)). */
static void pack_rows(float *pack, const float *w, int64_t m, int64_t K) {
    for (int64_t m0 = 0; m0 < m; m0 += CONV_DIRECT_MR)
        for (int64_t k = 0; k < K; k++)
            for (int i = 0; i < CONV_DIRECT_MR; i++)
                pack[m0 * K + k * CONV_DIRECT_MR + i] = m0 + i < m ? w[(m0 + i) * K + k] : 0.0f;
}

/* The same packing of T's A[(a, e, c), o] = w[o, c, a, e] (K = OC). */
static void pack_taps(float *pack, const float *w, const cnn__conv_geom *g) {
    int64_t khw = (int64_t)g->kh * g->kw, m = g->c * khw, ck = g->c * khw;
    for (int64_t m0 = 0; m0 < m; m0 += CONV_DIRECT_MR)
        for (int64_t o = 0; o < g->oc; o++)
            for (int i = 0; i < CONV_DIRECT_MR; i++) {
                int64_t r = m0 + i; /* r = tap * C + c */
                pack[m0 * g->oc + o * CONV_DIRECT_MR + i] =
                    r < m ? w[o * ck + (r % g->c) * khw + r / g->c] : 0.0f;
            }
}

/* ---- forward and backward -------------------------------------------------- */

/* pix[p] = i*wp + j for the p-th real output pixel (i, j) */
static void make_pixels(int *pix, const cnn__conv_geom *g, int64_t wp) {
    for (int64_t i = 0, p = 0; i < g->oh; i++)
        for (int64_t j = 0; j < g->ow; j++) pix[p++] = (int)(i * wp + j);
}

/* d[c*ldd + r] = s[r*lds + c] for r < 8, c < 8 */
static inline void transpose8(float *d, int64_t ldd, const float *s, int64_t lds) {
    __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + lds), r2 = _mm256_loadu_ps(s + 2 * lds),
           r3 = _mm256_loadu_ps(s + 3 * lds), r4 = _mm256_loadu_ps(s + 4 * lds),
           r5 = _mm256_loadu_ps(s + 5 * lds), r6 = _mm256_loadu_ps(s + 6 * lds),
           r7 = _mm256_loadu_ps(s + 7 * lds);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
           t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
           t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(d + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(d + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(d + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(d + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(d + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(d + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(d + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}

/* d[c*ldd + r] = s[r*lds + c] for r < rows, c < cols: 8 x 8 blocks, then the edges */
static void transpose(float *d, int64_t ldd, const float *s, int64_t lds, int64_t rows,
                      int64_t cols) {
    int64_t r8 = rows / 8 * 8, c8 = cols / 8 * 8;
    for (int64_t r = 0; r < r8; r += 8)
        for (int64_t c = 0; c < c8; c += 8) transpose8(d + c * ldd + r, ldd, s + r * lds + c, lds);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = r < r8 ? c8 : 0; c < cols; c++) d[c * ldd + r] = s[r * lds + c];
}

/* sum of p[0:len] in 8 float lanes (the tail in lane 0), the lanes added in double */
static double plane_sum(const float *p, int64_t len) {
    __m256 acc = _mm256_setzero_ps();
    int64_t q = 0;
    for (; q + 8 <= len; q += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(p + q));
    float lane[8];
    _mm256_storeu_ps(lane, acc);
    for (; q < len; q++) lane[0] += p[q];
    double sum = 0.0;
    for (int l = 0; l < 8; l++) sum += lane[l];
    return sum;
}

/* wt[k, o] = w[o, k] */
static void transpose_weights(float *wt, const float *w, int64_t oc, int64_t K) {
    for (int64_t k = 0; k < K; k++)
        for (int64_t o = 0; o < oc; o++) wt[k * oc + o] = w[o * K + k];
}

/* kern_cols over the tiles of a (rows, OC) product: row r's input at
 * base(r) = rbase + rofs[r], out (rows, OC) pixel-major. */
static void cols_product_part(float *out, int64_t rows, const float *rbase, const int *rofs, const int *idx,
                              int64_t T, const float *v, int64_t oc, int add, int64_t c0, int64_t c1) {
    for (int64_t r0 = 0; r0 < rows; r0 += CONV_DIRECT_MR) {
        int mr = (int)(rows - r0 < CONV_DIRECT_MR ? rows - r0 : CONV_DIRECT_MR);
        const float *base[CONV_DIRECT_MR];
        for (int i = 0; i < CONV_DIRECT_MR; i++) base[i] = rbase + rofs[r0 + (i < mr ? i : 0)];
        for (int64_t o0 = c0; o0 < c1; o0 += COL_CHANNELS)
            kern_cols(mr, (int)(c1 - o0 < COL_CHANNELS ? c1 - o0 : COL_CHANNELS), add, base, idx, T, v + o0, oc,
                      out + r0 * oc + o0, oc);
    }
}
/* channels [c0, c1) of the product (c0, c1 multiples of 8, or c1 = oc) */
static void cols_product(float *out, int64_t rows, const float *rbase, const int *rofs,
                         const int *idx, int64_t T, const float *v, int64_t oc, int add) {
    cols_product_part(out, rows, rbase, rofs, idx, T, v, oc, add, 0, oc);
}

/* Sample n's activation a = act(yn) (len floats) and pooling of it, when
 * fused; without a, the activation goes over yn in place (pool is given). */
static void fuse_tail(float *a, cnn_activation act, float *pool, const cnn__pool_geom *pg1,
                      int64_t pooled, float *yn, int64_t n, int64_t len) {
    if (!a && !pool) return;
    float *an = a ? a + n * len : yn;
    cnn__act_forward_serial(an, yn, (size_t)len, act);
    if (pool) cnn__pool2d_forward_serial(pool + n * pooled, an, pg1);
}

/* The same for output channels [o0, o1) of planes of ohw floats */
static void fuse_tail_part(float *a, cnn_activation act, float *pool, const cnn__pool_geom *pg1, int64_t pooled,
                           float *yn, int64_t n, int64_t len, int64_t ohw, int64_t o0, int64_t o1) {
    if (!a && !pool) return;
    float *an = (a ? a + n * len : yn) + o0 * ohw;
    cnn__act_forward_serial(an, yn + o0 * ohw, (size_t)((o1 - o0) * ohw), act);
    if (!pool) return;
    cnn__pool_geom part = *pg1;
    part.c = o1 - o0;
    cnn__pool2d_forward_serial(pool + n * pooled + o0 * pg1->oh * pg1->ow, an, &part);
}

/* An eval-mode batch norm's scale and shift for channel o (cnn__bn_eval) */
static inline void bn_coef(const cnn__bn_eval *bn, int64_t o, float *sc, float *sh) {
    *sc = bn->invstd[o] * (bn->gamma ? bn->gamma[o] : 1.0f);
    *sh = (bn->beta ? bn->beta[o] : 0.0f) - bn->mean[o] * *sc;
}

/* y (planes of len) <- y * scale + shift for channels [o0, o1), when bn is given */
static void bn_planes_part(float *y, const cnn__bn_eval *bn, int64_t o0, int64_t o1, int64_t len) {
    for (int64_t o = o0; bn && o < o1; o++) {
        float sc, sh;
        bn_coef(bn, o, &sc, &sh);
        for (int64_t q = 0; q < len; q++) y[o * len + q] = y[o * len + q] * sc + sh;
    }
}

/* y (oc planes of len) <- y * scale + shift per channel, when bn is given */
static void bn_planes(float *y, const cnn__bn_eval *bn, int64_t oc, int64_t len) {
    bn_planes_part(y, bn, 0, oc, len);
}

/* ---- the lanes layout ------------------------------------------------------ */

/* dst8[(p*8 + l] = src[l*ls + p] for p < count, lanes l < nb (others untouched) */
static void to_lanes(float *dst8, const float *src, int64_t ls, int64_t count, int nb) {
    int64_t p = 0;
    if (nb == 8)
        for (; p + 8 <= count; p += 8) transpose8(dst8 + p * 8, 8, src + p, ls);
    for (; p < count; p++)
        for (int l = 0; l < nb; l++) dst8[p * 8 + l] = src[l * ls + p];
}

/* dst[l*ls + p] = src8[p*8 + l] for p < count, l < nb */
static void from_lanes(float *dst, int64_t ls, const float *src8, int64_t count, int nb) {
    int64_t p = 0;
    if (nb == 8)
        for (; p + 8 <= count; p += 8) transpose8(dst + p, ls, src8 + p * 8, 8);
    for (; p < count; p++)
        for (int l = 0; l < nb; l++) dst[l * ls + p] = src8[p * 8 + l];
}

/* Zero the pixels of rows (rows, len, 8 lanes) outside columns [lo, hi),
 * then `tail` floats after the last row. */
static void zero_borders(float *v8, int64_t rows, int64_t len, int64_t lo, int64_t hi, int64_t tail) {
    const __m256 z = _mm256_setzero_ps();
    for (int64_t r = 0; r < rows; r++) {
        float *row = v8 + r * len * 8;
        for (int64_t j = 0; j < lo; j++) _mm256_storeu_ps(row + j * 8, z); /* a pixel: 8 lanes */
        for (int64_t j = hi; j < len; j++) _mm256_storeu_ps(row + j * 8, z);
    }
    memset(v8 + rows * len * 8, 0, sizeof(float) * (size_t)tail);
}

/* X8's zero padding: rows above and below the input, columns beside it */
static void zero_x8(float *x8, const direct_plan *p, const cnn__conv_geom *g) {
    if (g->sh != 1) { /* phases: every pixel fill_x8 does not write stays 0 */
        memset(x8, 0, sizeof(float) * (size_t)p->x8);
        return;
    }
    int64_t top = g->pad_top, bottom = p->hp - top - g->h;
    if (bottom < 0) bottom = 0;
    for (int64_t c = 0; c < g->c; c++) {
        float *pl = x8 + c * p->hp * p->wp * 8;
        memset(pl, 0, sizeof(float) * (size_t)(top * p->wp * 8));
        memset(pl + (p->hp - bottom) * p->wp * 8, 0, sizeof(float) * (size_t)(bottom * p->wp * 8));
        zero_borders(pl + top * p->wp * 8, p->hp - top - bottom, p->wp, g->pad_left,
                     g->pad_left + g->w < p->wp ? g->pad_left + g->w : p->wp, 0);
    }
    memset(x8 + g->c * p->hp * p->wp * 8, 0, sizeof(float) * (size_t)(p->x8 - g->c * p->hp * p->wp * 8));
}

/* X8 <- the padded input of samples n0 .. n0+nb-1 (the zero border is
 * already there; lanes past nb are zero); with xblk, x is in blocks of 8 and
 * a full block's rows are copied as they are. Returns where the kernels read
 * X8: a full block in blocks of 8 without padding, whose tiles stay inside
 * it (OW even), is X8 already and is read where it is. */
static const float *fill_x8(float *x8, const float *x, int xblk, int64_t n0, int nb, const direct_plan *p,
                            const cnn__conv_geom *g) {
    int64_t chw = g->c * g->h * g->w;
    if (g->sh != 1) {
        /* phases: a row of 8 samples in lanes (in dX8's room, lanes past nb
         * 0; a full block in blocks of 8 has it already), then each pixel
         * to its plane; pixels past the last window (u >= hp, v >= wp) are
         * read by no tap */
        const int s = g->sh;
        float *stage = x8 + p->x8 + p->y8;
        const float *row = stage;
        if (nb < 8) memset(stage, 0, sizeof(float) * (size_t)(g->w * 8));
        for (int64_t c = 0; c < g->c; c++)
            for (int64_t i = 0; i < g->h; i++) {
                int64_t r = i + g->pad_top, u = r / s;
                if (u >= p->hp) continue;
                if (xblk && nb == 8) row = x + n0 * chw + (c * g->h + i) * g->w * 8;
                else to_lanes(stage, x + n0 * chw + (c * g->h + i) * g->w, chw, g->w, nb);
                for (int64_t j = 0; j < g->w; j++) {
                    int64_t col = j + g->pad_left, v = col / s;
                    if (v >= p->wp) continue;
                    float *dst = x8 + ((((r % s) * s + col % s) * g->c + c) * p->hp * p->wp + u * p->wp + v) * 8;
                    memcpy(dst, row + j * 8, 8 * sizeof(float));
                }
            }
        return x8;
    }
    if (xblk && nb == 8 && p->hp == g->h && p->wp == g->w && g->ow % LANES_PIX == 0) return x + n0 * chw;
    for (int64_t c = 0; c < g->c; c++)
        for (int64_t i = 0; i < g->h; i++) {
            float *row = x8 + ((c * p->hp + i + g->pad_top) * p->wp + g->pad_left) * 8;
            if (xblk && nb == 8)
                memcpy(row, x + n0 * chw + (c * g->h + i) * g->w * 8, sizeof(float) * (size_t)(g->w * 8));
            else
                to_lanes(row, x + n0 * chw + (c * g->h + i) * g->w, chw, g->w, nb);
        }
    return x8;
}

/* The shared part of the lanes workspace. */
typedef struct {
    float *wf, *wb; /* packed weights: forward (rows o), input gradient (rows c) */
    int *xoff, *doff;
} lanes_shared;

static lanes_shared lanes_shared_at(float *ws, const direct_plan *p, const cnn__conv_geom *g) {
    lanes_shared d;
    const cnn__conv_geom q = phase_geom(g);
    int64_t taps = (int64_t)q.kh * q.kw * g->oc;
    d.wf = ws;
    d.wb = d.wf + round_up(g->oc, CONV_DIRECT_MR) * p->k;
    d.xoff = (int *)(d.wb + dx_rows(g) * taps);
    d.doff = d.xoff + p->k;
    return d;
}

/* xoff[k] = where tap k = (c, a, e) reads X8, from a pixel's position */
static void lanes_xoff(int *xoff, const direct_plan *p, const cnn__conv_geom *g) {
    const int s = g->sh;
    int64_t k = 0;
    for (int64_t c = 0; c < g->c; c++)
        for (int a = 0; a < g->kh; a++)
            for (int e = 0; e < g->kw; e++)
                xoff[k++] = (int)(((((a % s) * s + e % s) * g->c + c) * p->hp * p->wp + a / s * p->wp + e / s) * 8);
}

/* Sigmoid or ReLU followed by 2 x 2, stride-2 average or max pooling that
 * tiles the output exactly (LeNet's pattern, and its modern form): the lanes
 * layout applies the bias, the activation and the pooling to whole vectors
 * of 8 samples. */
static int lanes_tail_ok(cnn_activation act, const float *pool, const cnn__pool_geom *pg,
                         const cnn__conv_geom *g) {
    return pool && (act == CNN_ACT_SIGMOID || act == CNN_ACT_RELU) && cnn__pool_2x2_tiles(pg) &&
           pg->h == g->oh && pg->w == g->ow;
}

/* act(v): Sigmoid, or ReLU (v <= 0 ? 0 : v, NaN stays) */
static inline __m256 lanes_act(__m256 v, cnn_activation act) {
    const __m256 zero = _mm256_setzero_ps();
    return act == CNN_ACT_SIGMOID ? cnn__sigmoid8(v) : _mm256_blendv_ps(v, zero, _mm256_cmp_ps(v, zero, _CMP_LE_OQ));
}

/* Rows [i0, i1) (even) of Y8 -> act(Y8 + b), kept in a (if kept) and
 * pooled 2 x 2 into pool: per element the same operations as the layers one
 * after another (y + b, the activation, then (0 + y00 + y01 + y10 + y11) / 4,
 * or the max over y00, y01, y10, y11 in that order, each taken when greater
 * or NaN, as cnn__pool2d_forward), four pixels (one pooling window) at a
 * time, from registers. A full block of a or pool in blocks of 8 (blk) is
 * written as it is; else pool goes to the stage p8 (moved out by
 * lanes_tail_out) and a row by row through a transpose of Y8, which then
 * keeps act(Y8 + b). */
static void lanes_tail(float *y8, const float *b, const cnn__bn_eval *bn, cnn_activation act, float *a, float *pool,
                       float *p8, int blk, int64_t n0, int nb, int64_t i0, int64_t i1,
                       const direct_plan *p, const cnn__conv_geom *g, const cnn__pool_geom *pg) {
    const int64_t oh = g->oh, ow = g->ow, owp = p->owp, poh = pg->oh, pw = pg->ow;
    const int64_t out = g->oc * oh * ow, pooled = g->oc * poh * pw;
    const __m256 zero = _mm256_setzero_ps(), quarter = _mm256_set1_ps(0.25f);
    float *ab = a && (blk & CNN__BLK_A) && nb == 8 ? a + n0 * out : NULL;
    const int keep = a && !ab, max = pg->kind == CNN_POOL_MAX; /* keep: a goes through Y8 */
    if ((blk & CNN__BLK_P) && nb == 8) p8 = pool + n0 * pooled;
    for (int64_t o = 0; o < g->oc; o++) {
        const __m256 bo = _mm256_set1_ps(b ? b[o] : 0.0f);
        float sc = 1.0f, sh = 0.0f;
        if (bn) bn_coef(bn, o, &sc, &sh);
        const __m256 bsc = _mm256_set1_ps(sc), bsh = _mm256_set1_ps(sh);
/* (y + b), then y * scale + shift with a batch norm: as the layers round them */
#define TAIL_IN(v) (bn ? _mm256_add_ps(_mm256_mul_ps(_mm256_add_ps(v, bo), bsc), bsh) : _mm256_add_ps(v, bo))
        for (int64_t i = i0 / 2; i < i1 / 2; i++) {
            float *r0 = y8 + (o * oh + 2 * i) * owp * 8, *r1 = r0 + owp * 8;
            float *a0 = ab ? ab + (o * oh + 2 * i) * ow * 8 : NULL, *a1 = a0 ? a0 + ow * 8 : NULL;
            float *pr = p8 + (o * poh + i) * pw * 8;
            for (int64_t j = 0; j < pw; j++) {
                __m256 v00 = lanes_act(TAIL_IN(_mm256_loadu_ps(r0 + 2 * j * 8)), act);
                __m256 v01 = lanes_act(TAIL_IN(_mm256_loadu_ps(r0 + (2 * j + 1) * 8)), act);
                __m256 v10 = lanes_act(TAIL_IN(_mm256_loadu_ps(r1 + 2 * j * 8)), act);
                __m256 v11 = lanes_act(TAIL_IN(_mm256_loadu_ps(r1 + (2 * j + 1) * 8)), act);
                if (a0) {
                    _mm256_storeu_ps(a0 + 2 * j * 8, v00), _mm256_storeu_ps(a0 + (2 * j + 1) * 8, v01);
                    _mm256_storeu_ps(a1 + 2 * j * 8, v10), _mm256_storeu_ps(a1 + (2 * j + 1) * 8, v11);
                } else if (keep) {
                    _mm256_storeu_ps(r0 + 2 * j * 8, v00), _mm256_storeu_ps(r0 + (2 * j + 1) * 8, v01);
                    _mm256_storeu_ps(r1 + 2 * j * 8, v10), _mm256_storeu_ps(r1 + (2 * j + 1) * 8, v11);
                }
                if (max) {
                    __m256 m = cnn__max_step8(v00, v01, NULL, 0);
                    m = cnn__max_step8(m, v10, NULL, 0);
                    _mm256_storeu_ps(pr + j * 8, cnn__max_step8(m, v11, NULL, 0));
                    continue;
                }
                /* x / 4 and x * 0.25 are the same float */
                __m256 t = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(zero, v00), v01), v10), v11);
                _mm256_storeu_ps(pr + j * 8, _mm256_mul_ps(t, quarter));
            }
            if (keep)
                for (int64_t r = 0; r < 2; r++)
                    from_lanes(a + n0 * out + (o * oh + 2 * i + r) * ow, out, r0 + r * owp * 8, ow, nb);
        }
#undef TAIL_IN
    }
}

/* pool <- the stage p8 unless lanes_tail wrote pool's block as it is */
static void lanes_tail_out(float *pool, const float *p8, int blk, int64_t n0, int nb,
                           const cnn__conv_geom *g, const cnn__pool_geom *pg) {
    int64_t pooled = g->oc * pg->oh * pg->ow;
    if (!((blk & CNN__BLK_P) && nb == 8)) from_lanes(pool + n0 * pooled, pooled, p8, pooled, nb);
}

/* The forward in the lanes layout: Y8 = the product of the packed weights
 * and X8 read at the taps' offsets (kern_rows: 6 channels x 2 pixels x 8
 * lanes), then each sample's y (+ b) and the fused tail as in the grid
 * layout. */
static void lanes_forward(float *y, float *a, cnn_activation act, float *pool,
                          const cnn__pool_geom *pg, const float *x, const float *w, const float *b,
                          const cnn__bn_eval *bn, const cnn__conv_geom *g, int blk, const direct_plan *p,
                          float *ws) {
    cnn__pool_geom pg1;
    if (pool) pg1 = *pg, pg1.n = 1;
    int64_t pooled = pool ? pg1.c * pg1.oh * pg1.ow : 0, ohw = g->oh * g->ow, out = g->oc * ohw;
    lanes_shared d = lanes_shared_at(ws, p, g);
    pack_rows(d.wf, w, g->oc, p->k);
    lanes_xoff(d.xoff, p, g);
    int64_t items = n_items(p, g), chunks = n_chunks(p, g), ldc = g->oh * p->owp * 8;
    int team = team_size(p);
    #pragma omp parallel num_threads(team)
    {
        float *x8 = slot_of(ws, p), *y8 = x8 + p->x8, *stage = y8 + p->y8 + p->dx8;
        zero_x8(x8, p, g);
        #pragma omp for schedule(dynamic, 1)
        for (int64_t q = 0; q < chunks; q++) {
            for (int64_t bk = q * items / chunks; bk < (q + 1) * items / chunks; bk++) {
                int64_t n0 = bk * 8;
                int nb = (int)(g->n - n0 < 8 ? g->n - n0 : 8);
                /* lanes past nb: stale, never read back */
                const float *xr = fill_x8(x8, x, blk & CNN__BLK_X, n0, nb, p, g);
                /* with the tail, in bands of rows that it takes while they are in cache */
                int tail = !y && lanes_tail_ok(act, pool, &pg1, g);
                int64_t band = tail ? lanes_band(g) : g->oh;
                for (int64_t i0 = 0; i0 < g->oh; i0 += band) {
                    int64_t i1 = i0 + band < g->oh ? i0 + band : g->oh;
                    for (int64_t o0 = 0; o0 < g->oc; o0 += CONV_DIRECT_MR) {
                        int mr = (int)(g->oc - o0 < CONV_DIRECT_MR ? g->oc - o0 : CONV_DIRECT_MR);
                        for (int64_t i = i0; i < i1; i++)
                            for (int64_t j = 0; j < g->ow; j += LANES_PIX) {
                                const float *xt = xr + (i * p->wp + j) * 8;
                                float *yt = y8 + ((o0 * g->oh + i) * p->owp + j) * 8;
#if defined(__AVX512F__)
                                if (mr <= 6 && j + WIDE_PIX <= p->owp) { /* 8 pixels */
                                    kern_rows_x4(mr, d.wf + o0 * p->k, xt, d.xoff, p->k, yt, ldc);
                                    j += WIDE_PIX - LANES_PIX;
                                    continue;
                                }
#endif
                                kern_rows_wide(mr, d.wf + o0 * p->k, xt, d.xoff, p->k, yt, ldc);
                            }
                    }
                    if (tail) lanes_tail(y8, b, bn, act, a, pool, stage, blk, n0, nb, i0, i1, p, g, &pg1);
                }
                if (tail) {
                    lanes_tail_out(pool, stage, blk, n0, nb, g, &pg1);
                    continue;
                }
                if ((blk & CNN__BLK_Y) && nb == 8) { /* y in blocks: Y8's rows without their padding (+ b) */
                    for (int64_t o = 0; o < g->oc; o++)
                        for (int64_t i = 0; i < g->oh; i++) {
                            const float *src = y8 + (o * g->oh + i) * p->owp * 8;
                            float *dst = y + n0 * out + (o * g->oh + i) * g->ow * 8;
                            if (b)
                                for (int64_t q2 = 0; q2 < g->ow * 8; q2++) dst[q2] = src[q2] + b[o];
                            else
                                memcpy(dst, src, sizeof(float) * (size_t)(g->ow * 8));
                        }
                    continue;
                }
                /* y[n, o, i, j] = Y8[o, i, j, n - n0] + b[o]; then the tail, sample by sample */
                float *yb = y ? y + n0 * out : stage;
                for (int64_t o = 0; o < g->oc; o++)
                    for (int64_t i = 0; i < g->oh; i++)
                        from_lanes(yb + (o * g->oh + i) * g->ow, out, y8 + (o * g->oh + i) * p->owp * 8,
                                   g->ow, nb);
                for (int l = 0; l < nb; l++) {
                    float *yn = yb + l * out;
                    for (int64_t o = 0; b && o < g->oc; o++)
                        for (int64_t q2 = 0; q2 < ohw; q2++) yn[o * ohw + q2] += b[o];
                    bn_planes(yn, bn, g->oc, ohw);
                    fuse_tail(a, act, pool, &pg1, pooled, yn, n0 + l, out);
                }
            }
        }
    }
}

/* wb[(c0/6)*6*T + t*6 + i] = w[o, c0 + i, a, e] for t = (a*kw + e)*OC + o, and
 * doff[t]: where tap t reads dY8 from the input-gradient pixel (h, q):
 * row h + pad_top - a, column q + pad_left - e + ly. */
static void lanes_pack_dx(const lanes_shared *d, const float *w, const direct_plan *p,
                          const cnn__conv_geom *g) {
    /* with phases, w[o, (c, ph, pw), a', e'] = w[o, c, s*a' + ph, s*e' + pw], 0 past the kernel */
    /* tile j of rows c0 .. c0+MR-1 (within a phase) at wb + j*MR*T, as lanes_dx takes them */
    const cnn__conv_geom q = phase_geom(g);
    const int s = g->sh;
    int64_t T = (int64_t)q.kh * q.kw * g->oc;
    for (int64_t c0 = 0, j = 0; c0 < q.c; j++) {
        const int64_t end = (c0 / g->c + 1) * g->c, mr = end - c0 < CONV_DIRECT_MR ? end - c0 : CONV_DIRECT_MR;
        for (int64_t t = 0; t < T; t++) {
            int64_t o = t % g->oc, a = t / g->oc / q.kw * s, e = t / g->oc % q.kw * s;
            for (int i = 0; i < CONV_DIRECT_MR; i++) {
                int64_t cq = c0 + i, c = cq % g->c, ai = a + cq / g->c / s, ei = e + cq / g->c % s;
                d->wb[j * CONV_DIRECT_MR * T + t * CONV_DIRECT_MR + i] =
                    i < mr && ai < g->kh && ei < g->kw ? w[((o * g->c + c) * g->kh + ai) * g->kw + ei] : 0.0f;
            }
        }
        c0 += mr;
    }
    for (int64_t t = 0; t < T; t++) {
        int64_t o = t % g->oc, a = t / g->oc / q.kw, e = t / g->oc % q.kw;
        d->doff[t] = (int)(((o * q.oh + q.pad_top - a) * p->wy + q.pad_left - e + p->ly) * 8);
    }
}

/* dX8[c, h, q .. q+np-1] = sum over the taps (a, e, o) that reach dy of
 * w[o, c, a, e] * dY8[o, h + pt - a, q + pl - e + ly]: rows a exactly,
 * columns e for any pixel of the tile (the others read the zero border). */
static void lanes_dx(float *dx8, const float *dy8, const lanes_shared *d, const direct_plan *p,
                     const cnn__conv_geom *g, const cnn__conv_geom *orig) {
    int64_t T = (int64_t)g->kh * g->kw * g->oc, ldc = g->h * p->wx * 8;
    /* tiles of rows within one phase, whose taps past the kernel (a' with
     * s*a' + ph >= kh, e' with s*e' + pw >= kw) have zero weight: skipped */
    const int s = orig->sh;
    const int64_t per = orig->c; /* planes a phase */
    int lo[64], hi[64];
    for (int64_t h = 0; h < g->h; h++) {
        int64_t alo = h + g->pad_top - g->oh + 1, ahi = h + g->pad_top; /* inclusive */
        if (alo < 0) alo = 0;
        if (ahi > g->kh - 1) ahi = g->kh - 1;
        for (int64_t c0 = 0, j = 0; c0 < g->c; j++) {
            const int64_t ph = c0 / per / s, pw = c0 / per % s, end = (c0 / per + 1) * per;
            const float *wt = d->wb + j * CONV_DIRECT_MR * T; /* tile j, packed by lanes_pack_dx */
            const int64_t amax = (orig->kh - 1 - ph) / s, emax = (orig->kw - 1 - pw) / s;
            int mr = (int)(end - c0 < CONV_DIRECT_MR ? end - c0 : CONV_DIRECT_MR);
            for (int64_t q = 0, np; q < g->w; q += np) {
                /* a tile of at most 6 rows takes WIDE_PIX pixels where they fit */
                np = mr <= 6 && q + WIDE_PIX <= p->wx ? WIDE_PIX : LANES_PIX;
                int64_t last = q + np - 1 < g->w ? q + np - 1 : g->w - 1;
                int64_t elo = q + g->pad_left - g->ow + 1, ehi = last + g->pad_left;
                if (elo < 0) elo = 0;
                if (ehi > emax) ehi = emax;
                int nseg = 0;
                for (int64_t a = alo; a <= ahi && a <= amax && elo <= ehi; a++, nseg++) {
                    lo[nseg] = (int)((a * g->kw + elo) * g->oc);
                    hi[nseg] = (int)((a * g->kw + ehi + 1) * g->oc);
                }
                const float *yt = dy8 + (h * p->wy + q) * 8;
                float *xt = dx8 + ((c0 * g->h + h) * p->wx + q) * 8;
#if defined(__AVX512F__)
                if (np == WIDE_PIX) {
                    kern_segs_x4(mr, wt, yt, d->doff, lo, hi, nseg, xt, ldc);
                    continue;
                }
#endif
                kern_segs(mr, wt, yt, d->doff, lo, hi, nseg, xt, ldc);
            }
            c0 += mr;
        }
    }
}

/* dx (samples l < nb at l*ls) <- dX8 of the phase geometry, each phase
 * plane's pixels put back at (s*u + ph - pad_top, s*v + pw - pad_left);
 * input pixels past the last window get 0. blk: dx is a full block in
 * blocks of 8, whose rows are gathered in place. */
static void from_phases(float *dx, int64_t ls, const float *dx8, float *stage, int nb, int blk,
                        const direct_plan *p, const cnn__conv_geom *g) {
    const int s = g->sh;
    const int64_t hq = p->hp, wq = p->wp;
    for (int64_t c = 0; c < g->c; c++)
        for (int64_t i = 0; i < g->h; i++) {
            /* the row's pixels gathered in lanes (row: W x 8), then out of lanes */
            float *row = blk ? dx + (c * g->h + i) * g->w * 8 : stage;
            int64_t r = i + g->pad_top, u = r / s;
            for (int64_t j = 0; j < g->w; j++) {
                int64_t col = j + g->pad_left, v = col / s;
                if (u >= hq || v >= wq)
                    memset(row + j * 8, 0, 8 * sizeof(float));
                else
                    memcpy(row + j * 8, dx8 + ((((r % s) * s + col % s) * g->c + c) * hq * p->wx + u * p->wx + v) * 8,
                           8 * sizeof(float));
            }
            if (!blk) from_lanes(dx + (c * g->h + i) * g->w, ls, row, g->w, nb);
        }
}

/* dw, db += the chunks' partials, in chunk order; (K, OC) partials are transposed */
static void sum_partials(float *dw, float *db, float *ws, const direct_plan *p,
                         const cnn__conv_geom *g, int64_t chunks) {
    for (int64_t o = 0; db && o < g->oc; o++) {
        double sum = 0.0;
        for (int64_t q = 0; q < chunks; q++) sum += db_of(ws, p, g, q)[o];
        db[o] += (float)sum;
    }
    if (!dw) return;
    int64_t nw = g->oc * p->k;
    #pragma omp parallel for schedule(static)
    for (int64_t j0 = 0; j0 < nw; j0 += 64) {
        int64_t j1 = j0 + 64 < nw ? j0 + 64 : nw;
        for (int64_t q = 0; q < chunks; q++) {
            const float *part = part_of(ws, p, q);
            if (p->cols)
                for (int64_t j = j0; j < j1; j++) dw[j] += part[(j % p->k) * g->oc + j / p->k];
            else
                for (int64_t j = j0; j < j1; j++) dw[j] += part[j];
        }
    }
}

/* The activation's backward from its output y: dy (1 - y) y, or y <= 0 ? 0 : dy */
static inline __m256 lanes_act_backward(__m256 v, __m256 y, cnn_activation act) {
    const __m256 zero = _mm256_setzero_ps();
    return act == CNN_ACT_SIGMOID ? _mm256_mul_ps(_mm256_mul_ps(v, _mm256_sub_ps(_mm256_set1_ps(1.0f), y)), y)
                                  : _mm256_blendv_ps(v, zero, _mm256_cmp_ps(y, zero, _CMP_LE_OQ));
}

/* Rows [i0, i1) (even) of dY8 <- act'(z) * the 2 x 2 pooling's backward of
 * P8, from A8 = act(z) (OC, OH, OW, 8) and P8 (OC, OH/2, OW/2, 8): per
 * element the same operations as cnn__pool_act_backward_serial. Average: each
 * pixel's gradient is 0 + p/4 (x / 4 and x * 0.25 are the same float); max:
 * 0 + p at the window's routed pixel (found again from A8 as the forward
 * found it) and 0 at the others. With acc8, each channel's values are also
 * added to acc8[o] in the order lanes_db_rows adds them (the same sums), so
 * max pooling takes each row of a window row in turn, finding the routed
 * pixels again for the second. */
static void lanes_tail_backward(float *dy8, float *acc8, const float *a8, const float *p8,
                                cnn_activation act, int64_t i0, int64_t i1, const direct_plan *p,
                                const cnn__conv_geom *g, const cnn__pool_geom *pg) {
    const int64_t oh = g->oh, ow = g->ow, wy = p->wy, left = p->ly, poh = pg->oh, pw = pg->ow;
    const __m256 zero = _mm256_setzero_ps(), quarter = _mm256_set1_ps(0.25f);
    for (int64_t o = 0; o < g->oc; o++) {
        __m256 acc = acc8 ? _mm256_loadu_ps(acc8 + o * 8) : zero;
        for (int64_t i = i0; i < i1; i++) {
            const float *arow = a8 + (o * oh + i) * ow * 8, *prow = p8 + (o * poh + i / 2) * pw * 8;
            float *drow = dy8 + ((o * oh + i) * wy + left) * 8;
            if (pg->kind == CNN_POOL_MAX) {
                /* the window row's two rows of A8; r: this row's place in it */
                const float *w0 = a8 + (o * oh + i / 2 * 2) * ow * 8, *w1 = w0 + ow * 8;
                const float r = (float)(i % 2 * 2);
                for (int64_t j = 0; j < pw; j++) {
                    __m256 k = zero;
                    __m256 m = _mm256_loadu_ps(w0 + 2 * j * 8);
                    m = cnn__max_step8(m, _mm256_loadu_ps(w0 + (2 * j + 1) * 8), &k, 1.0f);
                    m = cnn__max_step8(m, _mm256_loadu_ps(w1 + 2 * j * 8), &k, 2.0f);
                    cnn__max_step8(m, _mm256_loadu_ps(w1 + (2 * j + 1) * 8), &k, 3.0f);
                    __m256 v = _mm256_add_ps(zero, _mm256_loadu_ps(prow + j * 8));
                    __m256 v0 = _mm256_and_ps(_mm256_cmp_ps(k, _mm256_set1_ps(r), _CMP_EQ_OQ), v);
                    __m256 v1 = _mm256_and_ps(_mm256_cmp_ps(k, _mm256_set1_ps(r + 1.0f), _CMP_EQ_OQ), v);
                    __m256 z0 = lanes_act_backward(v0, _mm256_loadu_ps(arow + 2 * j * 8), act);
                    __m256 z1 = lanes_act_backward(v1, _mm256_loadu_ps(arow + (2 * j + 1) * 8), act);
                    _mm256_storeu_ps(drow + 2 * j * 8, z0);
                    _mm256_storeu_ps(drow + (2 * j + 1) * 8, z1);
                    acc = _mm256_add_ps(_mm256_add_ps(acc, z0), z1);
                }
                continue;
            }
            for (int64_t j = 0; j < ow; j++) {
                __m256 v = _mm256_add_ps(zero, _mm256_mul_ps(_mm256_loadu_ps(prow + j / 2 * 8), quarter));
                __m256 z = lanes_act_backward(v, _mm256_loadu_ps(arow + j * 8), act);
                _mm256_storeu_ps(drow + j * 8, z);
                acc = _mm256_add_ps(acc, z);
            }
        }
        if (acc8) _mm256_storeu_ps(acc8 + o * 8, acc);
    }
}

/* Bring rows [i0, i1) of A8 (OC, OH, OW, 8) towards the cache while other work runs. */
static void lanes_prefetch_rows(const float *a8, int64_t i0, int64_t i1, const cnn__conv_geom *g) {
    for (int64_t o = 0; o < g->oc; o++) {
        const char *r = (const char *)(a8 + (o * g->oh + i0) * g->ow * 8);
        for (int64_t k = 0; k < (i1 - i0) * g->ow * 32; k += 64) _mm_prefetch(r + k, _MM_HINT_T0);
    }
}

/* acc8[o] += the pixels of rows [i0, i1) of dY8's channel o, per lane in
 * order; lanes_db_out adds the lanes in order (in double) to dbp */
static void lanes_db_rows(float *acc8, const float *dy8, int64_t i0, int64_t i1, const direct_plan *p,
                          const cnn__conv_geom *g) {
    for (int64_t o = 0; o < g->oc; o++) {
        __m256 acc = _mm256_loadu_ps(acc8 + o * 8);
        for (int64_t i = i0; i < i1; i++) {
            const float *row = dy8 + ((o * g->oh + i) * p->wy + p->ly) * 8;
            for (int64_t j = 0; j < g->ow; j++) acc = _mm256_add_ps(acc, _mm256_loadu_ps(row + j * 8));
        }
        _mm256_storeu_ps(acc8 + o * 8, acc);
    }
}
static void lanes_db_out(double *dbp, const float *acc8, int64_t oc) {
    for (int64_t o = 0; o < oc; o++)
        for (int l = 0; l < 8; l++) dbp[o] += acc8[o * 8 + l];
}

/* The backward in the lanes layout, 8 samples at a time: each sample's dy
 * (given, or made from the pooling's gradient as in the grid layout) goes
 * into dY8; the weight gradient is a product over the lanes and pixels
 * (kern_dots over rows of pixels), the input gradient a gather (lanes_dx). */
static void lanes_backward(float *dx, float *dw, float *db, const float *dy, const float *dp,
                           const float *a, cnn_activation act, const cnn__pool_geom *pg,
                           const float *x, const float *w, const cnn__conv_geom *g, int blk,
                           const direct_plan *p, float *ws) {
    lanes_shared d = lanes_shared_at(ws, p, g);
    const cnn__conv_geom pq = phase_geom(g); /* the input gradient's geometry */
    if (dw) lanes_xoff(d.xoff, p, g);
    if (dx) lanes_pack_dx(&d, w, p, g);
    cnn__pool_geom pg1;
    if (dp) pg1 = *pg, pg1.n = 1;
    int64_t pooled = dp ? pg1.c * pg1.oh * pg1.ow : 0, ohw = g->oh * g->ow, out = g->oc * ohw;
    int64_t items = n_items(p, g), chunks = n_chunks(p, g), chw = g->c * g->h * g->w;
    const int64_t ostride = g->oh * p->wy * 8;
    int team = team_size(p);
    #pragma omp parallel num_threads(team)
    {
        float *x8 = slot_of(ws, p), *dy8 = x8 + p->x8, *dx8 = dy8 + p->y8, *stage = dx8 + p->dx8;
        /* the zero borders; a last block of fewer than 8 samples zeroes all */
        int64_t ny = g->oc * g->oh * p->wy * 8;
        zero_borders(dy8, g->oc * g->oh, p->wy, p->ly, p->ly + g->ow, p->y8 - ny);
        if (dw) zero_x8(x8, p, g);
        #pragma omp for schedule(dynamic, 1)
        for (int64_t q = 0; q < chunks; q++) {
            float *part = part_of(ws, p, q);
            double *dbp = db_of(ws, p, g, q);
            if (dw) memset(part, 0, sizeof(float) * (size_t)(g->oc * p->k));
            for (int64_t o = 0; o < g->oc; o++) dbp[o] = 0.0;
            for (int64_t bk = q * items / chunks; bk < (q + 1) * items / chunks; bk++) {
                int64_t n0 = bk * 8;
                int nb = (int)(g->n - n0 < 8 ? g->n - n0 : 8);
                if (nb < 8) {
                    memset(dy8, 0, sizeof(float) * (size_t)p->y8);
                    if (dw) memset(x8, 0, sizeof(float) * (size_t)p->x8);
                }
                /* the pooling's and the activation's backward on whole vectors,
                 * band by band (below); a full block in blocks of 8 is read as it is */
                int tail = dp && lanes_tail_ok(act, dp, &pg1, g);
                const float *a8 = stage, *p8 = stage + 8 * out;
                float *acc8 = stage + 10 * out; /* db's per-lane sums */
                if (tail) {
                    if (nb < 8) memset(stage, 0, sizeof(float) * (size_t)(8 * out + 8 * pooled));
                    if ((blk & CNN__BLK_A) && nb == 8) a8 = a + n0 * out;
                    else to_lanes(stage, a + n0 * out, out, out, nb);
                    if ((blk & CNN__BLK_P) && nb == 8) p8 = dp + n0 * pooled;
                    else to_lanes(stage + 8 * out, dp + n0 * pooled, pooled, pooled, nb);
                } else {
                    const float *dyb = dy ? dy + n0 * out : stage; /* sample l's dy at dyb + l*out */
                    for (int l = 0; dp && l < nb; l++)
                        cnn__pool_act_backward_serial(stage + l * out, dp + (n0 + l) * pooled,
                                                      a + (n0 + l) * out, &pg1, act);
                    const int dyblk = dy && (blk & CNN__BLK_DY) && nb == 8; /* dy's rows copied as they are */
                    for (int64_t o = 0; o < g->oc; o++)
                        for (int64_t i = 0; i < g->oh; i++) {
                            float *row = dy8 + ((o * g->oh + i) * p->wy + p->ly) * 8;
                            if (dyblk)
                                memcpy(row, dyb + (o * g->oh + i) * g->ow * 8, sizeof(float) * (size_t)(g->ow * 8));
                            else
                                to_lanes(row, dyb + (o * g->oh + i) * g->ow, out, g->ow, nb);
                        }
                }
                const float *xr = dw ? fill_x8(x8, x, blk & CNN__BLK_X, n0, nb, p, g) : x8;
                if (db) memset(acc8, 0, sizeof(float) * (size_t)(8 * g->oc));
                /* bands of rows whose output gradient (6 channels) stays in L1:
                 * made (tail), summed (db) and used (dw) one after the other,
                 * while the next band's activation comes from memory */
                int64_t band = lanes_band(g);
                for (int64_t i0 = 0; i0 < g->oh; i0 += band) {
                    int64_t i1 = i0 + band < g->oh ? i0 + band : g->oh;
                    if (tail) {
                        if (i1 < g->oh) lanes_prefetch_rows(a8, i1, i1 + band < g->oh ? i1 + band : g->oh, g);
                        lanes_tail_backward(dy8, db ? acc8 : NULL, a8, p8, act, i0, i1, p, g, &pg1);
                    } else if (db) {
                        lanes_db_rows(acc8, dy8, i0, i1, p, g);
                    }
#if defined(__AVX512F__)
                    /* tiles of 6 channels x 4 taps over rows i0..i1 of OW pixels x 8 lanes */
                    for (int64_t o0 = 0; dw && o0 < g->oc; o0 += 6) {
                        int mr = (int)(g->oc - o0 < 6 ? g->oc - o0 : 6);
                        for (int64_t k0 = 0; k0 < p->k; k0 += 4)
                            kern_dots4(mr, (int)(p->k - k0 < 4 ? p->k - k0 : 4),
                                       dy8 + o0 * ostride + (i0 * p->wy + p->ly) * 8, ostride,
                                       xr + i0 * p->wp * 8, d.xoff + k0, i1 - i0, p->wy * 8, p->wp * 8, g->ow * 8,
                                       part + o0 * p->k + k0, p->k);
                    }
#else
                    for (int64_t o0 = 0; dw && o0 < g->oc; o0 += CONV_DIRECT_MR) {
                        int mr = (int)(g->oc - o0 < CONV_DIRECT_MR ? g->oc - o0 : CONV_DIRECT_MR);
                        for (int64_t k0 = 0; k0 < p->k; k0 += 2) {
                            int kr = p->k - k0 < 2 ? 1 : 2;
                            /* over rows i0..i1 of OW pixels x 8 lanes */
                            kern_dots(mr, kr, dy8 + o0 * ostride + (i0 * p->wy + p->ly) * 8, ostride,
                                      xr + i0 * p->wp * 8, d.xoff[k0], d.xoff[kr > 1 ? k0 + 1 : k0], i1 - i0,
                                      p->wy * 8, p->wp * 8, g->ow * 8, part + o0 * p->k + k0, p->k);
                        }
                    }
#endif
                }
                if (db) lanes_db_out(dbp, acc8, g->oc);
                if (dx && g->sh != 1) {
                    lanes_dx(dx8, dy8, &d, p, &pq, g);
                    /* the stage is free by now */
                    from_phases(dx + n0 * chw, chw, dx8, stage, nb, (blk & CNN__BLK_DX) && nb == 8, p, g);
                } else if (dx) {
                    /* a full block in blocks of 8 with even rows is dX8's own layout: written in place */
                    int dxblk = (blk & CNN__BLK_DX) && nb == 8;
                    if (dxblk && p->wx == g->w) {
                        lanes_dx(dx + n0 * chw, dy8, &d, p, g, g);
                        continue;
                    }
                    lanes_dx(dx8, dy8, &d, p, g, g);
                    for (int64_t c = 0; c < g->c; c++)
                        for (int64_t h = 0; h < g->h; h++) {
                            const float *row = dx8 + (c * g->h + h) * p->wx * 8;
                            if (dxblk)
                                memcpy(dx + n0 * chw + (c * g->h + h) * g->w * 8, row,
                                       sizeof(float) * (size_t)(g->w * 8));
                            else
                                from_lanes(dx + n0 * chw + (c * g->h + h) * g->w, chw, row, g->w, nb);
                        }
                }
            }
        }
    }
    sum_partials(dw, db, ws, p, g, chunks);
}

static void direct_forward(float *y, float *a, cnn_activation act, float *pool,
                           const cnn__pool_geom *pg, const float *x, const float *w, const float *b,
                           const cnn__bn_eval *bn, const cnn__conv_geom *g, int blk, float *ws) {
    direct_plan p;
    cnn__pool_geom pg1; /* the pooling of one sample */
    if (pool) pg1 = *pg, pg1.n = 1;
    int64_t pooled = pool ? pg1.c * pg1.oh * pg1.ow : 0;
    plan_make(&p, g);
    ws = align64(ws);
    if (p.lanes) {
        lanes_forward(y, a, act, pool, pg, x, w, b, bn, g, blk, &p, ws);
        return;
    }
    direct_shared d = shared_at(ws, &p, g);
    if (p.cols) {
        transpose_weights(d.wt, w, g->oc, p.k);
        make_pixels(d.pix, g, p.wp);
    } else {
        pack_rows(d.apack, w, g->oc, p.k);
    }
    make_offsets(d.off, g->c, g, p.hp, p.wp, 0);
    /* work items: (sample, part of its output channels), as many parts as
     * the threads in use ask (at most the plan's); the same bits whatever */
    int team = team_size(&p);
    const int64_t parts = grid_parts(&p, g, team), items = g->n * parts, pr = part_rows(&p);
    const int64_t chunks = items < CONV_DIRECT_CHUNKS ? items : CONV_DIRECT_CHUNKS, groups = (g->oc + pr - 1) / pr;
    int64_t hw = g->h * g->w, ohw = g->oh * g->ow;
    #pragma omp parallel num_threads(team)
    {
        /* ys: a sample's output when y is not kept (inside the slot's room for dyt) */
        float *xp = slot_of(ws, &p), *yp = xp + p.xp, *ys = yp + g->oc * p.np;
        #pragma omp for schedule(dynamic, 1)
        for (int64_t q = 0; q < chunks; q++) {
            for (int64_t it = q * items / chunks; it < (q + 1) * items / chunks; it++) {
                const int64_t n = it / parts, part = it % parts;
                int64_t o0 = groups * part / parts * pr, o1 = groups * (part + 1) / parts * pr;
                if (o1 > g->oc) o1 = g->oc;
                float *yn = y ? y + n * g->oc * ohw : ys;
                pad_planes(xp, p.xp, x + n * g->c * hw, g->c, g->h, g->w, p.hp, p.wp, g->pad_top,
                           g->pad_left);
                if (p.cols) {
                    /* yp (OH*OW, OC) = the pixels' patches @ wt; y[n, o, p] = yp[p, o] + b[o] */
                    cols_product_part(yp, ohw, xp, d.pix, d.off, p.k, d.wt, g->oc, 0, o0, o1);
                    transpose(yn + o0 * ohw, ohw, yp + o0, g->oc, ohw, o1 - o0);
                    for (int64_t o = o0; b && o < o1; o++)
                        for (int64_t q2 = 0; q2 < ohw; q2++) yn[o * ohw + q2] += b[o];
                    bn_planes_part(yn, bn, o0, o1, ohw);
                    fuse_tail_part(a, act, pool, &pg1, pooled, yn, n, g->oc * ohw, ohw, o0, o1);
                    continue;
                }
                /* yp (OC, np) = A @ the flat product of xp, tile by tile */
                for (int64_t n0 = 0; n0 < p.np; n0 += CONV_DIRECT_NR)
                    for (int64_t m0 = o0; m0 < o1; m0 += CONV_DIRECT_MR) {
                        int mr = (int)(o1 - m0 < CONV_DIRECT_MR ? o1 - m0 : CONV_DIRECT_MR);
                        kern_rows(mr, d.apack + m0 * p.k, xp + n0, d.off, p.k, yp + m0 * p.np + n0,
                                  p.np);
                    }
                /* y[n, o, i, j] = yp[o, i*Wp + j] + b[o] */
                for (int64_t o = o0; o < o1; o++) {
                    float bo = b ? b[o] : 0.0f;
                    for (int64_t i = 0; i < g->oh; i++) {
                        const float *src = yp + o * p.np + i * p.wp;
                        float *dst = yn + (o * g->oh + i) * g->ow;
                        for (int64_t j = 0; j < g->ow; j++) dst[j] = src[j] + bo;
                    }
                }
                bn_planes_part(yn, bn, o0, o1, ohw);
                fuse_tail_part(a, act, pool, &pg1, pooled, yn, n, g->oc * ohw, ohw, o0, o1);
            }
        }
    }
}

void cnn__conv2d_direct_forward(float *y, const float *x, const float *w, const float *b,
                                const cnn__conv_geom *g, int blk, float *ws) {
    CNN_ASSERT(!blk || (blk & cnn__conv2d_direct_blocks(g)) == blk); /* no plan to make for blk 0 */
    direct_forward(y, NULL, CNN_ACT_SIGMOID, NULL, NULL, x, w, b, NULL, g, blk, ws);
}

int cnn__conv2d_direct_blocks(const cnn__conv_geom *g) {
    if (g->n < 8 || !cnn__conv2d_direct_ok(g)) return 0;
    direct_plan p;
    plan_make(&p, g);
    if (!p.lanes) return 0;
    return CNN__BLK_X | CNN__BLK_Y | CNN__BLK_DX | CNN__BLK_DY;
}

int cnn__conv2d_direct_blocks_ok(const cnn__conv_geom *g, cnn_activation act,
                                 const cnn__pool_geom *pg) {
    if (!pg || g->sh != 1 || !cnn__conv2d_direct_ok(g)) return 0;
    direct_plan p;
    plan_make(&p, g);
    float pool; /* lanes_tail_ok only asks whether there is one */
    return p.lanes && lanes_tail_ok(act, &pool, pg, g);
}

void cnn__conv2d_direct_forward_fused(float *y, float *a, cnn_activation act, float *p,
                                      const cnn__pool_geom *pg, const float *x, const float *w,
                                      const float *b, const cnn__bn_eval *bn, const cnn__conv_geom *g, int blk,
                                      float *ws) {
    CNN_ASSERT(!blk || (!y && cnn__conv2d_direct_blocks_ok(g, act, pg)));
    CNN_ASSERT(!bn || !y || (!a && !p)); /* with a batch norm, y gets bn(conv(x)) and nothing follows */
    direct_forward(y, a, act, p, pg, x, w, b, bn, g, blk, ws);
}

/* The backward of one chunk of samples after another. dy is given, or made
 * per sample from the gradient dp of a pooling that follows activation act
 * (a = the activation's output, the pooling's input): then dy never leaves
 * the slot. */
static void direct_backward(float *dx, float *dw, float *db, const float *dy, const float *dp,
                            const float *a, cnn_activation act, const cnn__pool_geom *pg,
                            const float *x, const float *w, const cnn__conv_geom *g, int blk,
                            float *ws) {
    if (!dx && !dw && !db) return;
    direct_plan p;
    plan_make(&p, g);
    ws = align64(ws);
    if (p.lanes) {
        lanes_backward(dx, dw, db, dy, dp, a, act, pg, x, w, g, blk, &p, ws);
        return;
    }
    direct_shared d = shared_at(ws, &p, g);
    if (dx) {
        pack_taps(d.tpack, w, g);
        make_offsets(d.toff, g->c, g, p.hp, p.wp, 1);
        for (int64_t o = 0; o < g->oc; o++) d.yoff[o] = (int)(o * p.np);
    }
    if (dw) make_offsets(d.off, g->c, g, p.hp, p.wp, 0);
    if (dw && p.cols) make_pixels(d.pix, g, p.wp);
    cnn__pool_geom pg1; /* the pooling of one sample */
    if (dp) pg1 = *pg, pg1.n = 1;
    int64_t chunks = n_chunks(&p, g), hw = g->h * g->w, ohw = g->oh * g->ow, ydp = g->oc * p.np;
    int64_t pooled = dp ? pg1.c * pg1.oh * pg1.ow : 0;
    int need_dyp = dx || (dw && !p.cols), need_dyt = dw && p.cols;
    /* where a slot keeps each part (plan_make) */
    const int64_t s_dyp = p.xp, s_dyt = s_dyp + ydp, s_dxp = s_dyt + g->oc * ohw, s_dz = s_dxp + p.xp;
    int team = team_size(&p);
    #pragma omp parallel num_threads(team)
    {
        float *slot = slot_of(ws, &p);
        float *xp = slot, *dyp = slot + s_dyp, *dyt = slot + s_dyt, *dxp = slot + s_dxp, *dz = slot + s_dz;
        #pragma omp for schedule(dynamic, 1)
        for (int64_t q = 0; q < chunks; q++) {
            float *part = part_of(ws, &p, q);
            double *dbp = db_of(ws, &p, g, q);
            if (dw) memset(part, 0, sizeof(float) * (size_t)(g->oc * p.k));
            for (int64_t o = 0; o < g->oc; o++) dbp[o] = 0.0;
            for (int64_t n = q * g->n / chunks; n < (q + 1) * g->n / chunks; n++) {
                const float *dyn = dy ? dy + n * g->oc * ohw : dz;
                if (dp) {
                    /* dz = act'(z) * pool_backward(dp), as cnn__pool_act_backward */
                    cnn__pool_act_backward_serial(dz, dp + n * pooled, a + n * g->oc * ohw, &pg1, act);
                }
                for (int64_t o = 0; db && o < g->oc; o++) dbp[o] += plane_sum(dyn + o * ohw, ohw);
                /* dyp[o, i*Wp + j] = dy[n, o, i, j]; zero for j >= OW and past OH*Wp */
                for (int64_t o = 0; need_dyp && o < g->oc; o++)
                    pad_planes(dyp + o * p.np, p.np, dyn + o * ohw, 1, g->oh, g->ow, g->oh, p.wp, 0, 0);
                /* dyt[p, o] = dy[n, o, p] */
                if (need_dyt) transpose(dyt, g->oc, dyn, ohw, g->oc, ohw);
                if (dw)
                    pad_planes(xp, p.xp, x + n * g->c * hw, g->c, g->h, g->w, p.hp, p.wp, g->pad_top,
                               g->pad_left);
                if (dw && p.cols) {
                    /* part (K, OC) += the patches of the real pixels^T @ dyt */
                    cols_product(part, p.k, xp, d.off, d.pix, ohw, dyt, g->oc, 1);
                } else if (dw) {
                    /* part[o, k] += sum_n dyp[o, n] * xp[n + off[k]] */
                    for (int64_t k0 = 0; k0 < p.k; k0 += 2) {
                        int kr = p.k - k0 < 2 ? 1 : 2;
                        for (int64_t m0 = 0; m0 < g->oc; m0 += CONV_DIRECT_MR) {
                            int mr = (int)(g->oc - m0 < CONV_DIRECT_MR ? g->oc - m0 : CONV_DIRECT_MR);
                            kern_dots(mr, kr, dyp + m0 * p.np, p.np, xp, d.off[k0],
                                      kr > 1 ? d.off[k0 + 1] : 0, 1, 0, 0, p.np, part + m0 * p.k + k0,
                                      p.k);
                        }
                    }
                }
                if (dx) {
                    /* dxp[c, n + toff[r]] += T[r, n], T = A_taps (C*kh*kw, OC) @ dyp; dx = interior */
                    memset(dxp, 0, sizeof(float) * (size_t)p.xp);
                    for (int64_t n1 = 0; n1 < p.np; n1 += CONV_DIRECT_NR)
                        for (int64_t m0 = 0; m0 < p.k; m0 += CONV_DIRECT_MR) {
                            int mr = (int)(p.k - m0 < CONV_DIRECT_MR ? p.k - m0 : CONV_DIRECT_MR);
                            kern_rows_add(mr, d.tpack + m0 * g->oc, dyp + n1, d.yoff, g->oc,
                                          dxp + n1, d.toff + m0);
                        }
                    float *dxn = dx + n * g->c * hw;
                    for (int64_t c = 0; c < g->c; c++)
                        for (int64_t i = 0; i < g->h; i++)
                            memcpy(dxn + (c * g->h + i) * g->w,
                                   dxp + (c * p.hp + i + g->pad_top) * p.wp + g->pad_left,
                                   sizeof(float) * (size_t)g->w);
                }
            }
        }
    }
    sum_partials(dw, db, ws, &p, g, chunks);
}

void cnn__conv2d_direct_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                 const float *w, const cnn__conv_geom *g, int blk, float *ws) {
    CNN_ASSERT(!blk || (blk & cnn__conv2d_direct_blocks(g)) == blk); /* no plan to make for blk 0 */
    direct_backward(dx, dw, db, dy, NULL, NULL, CNN_ACT_SIGMOID, NULL, x, w, g, blk, ws);
}

void cnn__conv2d_direct_backward_fused(float *dx, float *dw, float *db, const float *dp,
                                       const float *a, cnn_activation act,
                                       const cnn__pool_geom *pg, const float *x, const float *w,
                                       const cnn__conv_geom *g, int blk, float *ws) {
    CNN_ASSERT(!blk || cnn__conv2d_direct_blocks_ok(g, act, pg));
    direct_backward(dx, dw, db, NULL, dp, a, act, pg, x, w, g, blk, ws);
}

#else /* no AVX2 + FMA: cnn__conv2d_direct_ok() is false and these are never called */

int cnn__conv2d_direct_blocks_ok(const cnn__conv_geom *g, cnn_activation act,
                                 const cnn__pool_geom *pg) {
    (void)g, (void)act, (void)pg;
    return 0;
}

void cnn__conv2d_direct_forward_fused(float *y, float *a, cnn_activation act, float *p,
                                      const cnn__pool_geom *pg, const float *x, const float *w,
                                      const float *b, const cnn__bn_eval *bn, const cnn__conv_geom *g, int blk,
                                      float *ws) {
    (void)y, (void)a, (void)act, (void)p, (void)pg, (void)x, (void)w, (void)b, (void)bn, (void)g, (void)blk,
        (void)ws;
}

void cnn__conv2d_direct_forward(float *y, const float *x, const float *w, const float *b,
                                const cnn__conv_geom *g, int blk, float *ws) {
    (void)y, (void)x, (void)w, (void)b, (void)g, (void)blk, (void)ws;
}

int cnn__conv2d_direct_blocks(const cnn__conv_geom *g) {
    (void)g;
    return 0;
}

void cnn__conv2d_direct_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                 const float *w, const cnn__conv_geom *g, int blk, float *ws) {
    (void)dx, (void)dw, (void)db, (void)dy, (void)x, (void)w, (void)g, (void)blk, (void)ws;
}

void cnn__conv2d_direct_backward_fused(float *dx, float *dw, float *db, const float *dp,
                                       const float *a, cnn_activation act,
                                       const cnn__pool_geom *pg, const float *x, const float *w,
                                       const cnn__conv_geom *g, int blk, float *ws) {
    (void)dx, (void)dw, (void)db, (void)dp, (void)a, (void)act, (void)pg, (void)x, (void)w, (void)g,
        (void)blk, (void)ws;
}

#endif
