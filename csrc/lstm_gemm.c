/*
 * y (M, N) += x (M, K) W (K, N) with W packed once: the per-step product of the LSTM
 * ([lstm-gates]: a_t += h_{t-1} W_h; [lstm-bptt-h]: dh_{t-1} += da_t W_h^T). See lstm_gemm.h.
 *
 * How it is fast, in plain C:
 * - W is packed into panels of NR columns, each K x NR and contiguous, so the micro-kernel reads W
 *   as one sequential stream. (Unpacked, the rows of a (128, 512) float matrix lie 2 KB apart, and
 *   the 128 rows of a column block all fall into 2 of the 64 sets of a 32 KB, 8-way L1 cache.)
 * - The micro-kernel keeps an MR x NR block of y in vector registers (GCC vector types, so the code
 *   stays C) for the whole loop over k: per k it loads one row of the panel (NR numbers), broadcasts
 *   MR numbers of x, and does MR * NR multiply-adds, in MR * NR / lanes independent FMA chains.
 * - The panel (K * NR numbers: 16 KB for K = 128 floats) is reused by all row blocks of x before the
 *   next panel is read, so it is read from L2 once per call and then hits L1.
 * - The block shape depends on the instruction set, so there is one version per level, each compiled
 *   with GCC's target attribute and picked at run time from what the CPU supports (like the
 *   target_clones of lstm_cell.c, but with a different MR per level, which clones cannot do):
 *     AVX-512 (32 registers of 64 bytes): MR = 8 rows x 2 registers = 16 accumulators
 *     AVX2    (16 registers of 32 bytes): MR = 3 rows x 4 registers = 12 accumulators
 *     portable C (16-byte SSE2 vectors):  MR = 1 row  x 8 registers =  8 accumulators
 *   The build needs no -march flag; the same binary runs on any x86-64 (and, with one portable
 *   version, on other CPUs and compilers).
 * Rows of x beyond a multiple of MR use the same kernel with fewer rows (mr is a compile-time
 * constant in each case of a switch, so the accumulators stay in registers); columns beyond a
 * multiple of NR go through a zero-padded NR-wide buffer.
 */
#include <string.h>

#include "lstm_gemm.h"
#include "parallel.h"

#define RESTRICT __restrict

/* Bytes of one panel row: NR = 32 floats or 16 doubles. The same layout serves every level. */
#define PANEL_BYTES 128

/* Rows of x (and y) taken through all panels before the next ones: with the products over all steps
 * (M = T*B rows) the MC rows of x stay in L1 while the panels pass. A multiple of every MR. */
#define MC 48

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && \
    defined(__GLIBC__)
#define MINIKWS_GEMM_DISPATCH 1
#define TARGET_V4 __attribute__((target("arch=x86-64-v4")))
#define TARGET_V3 __attribute__((target("arch=x86-64-v3")))
#else
#define MINIKWS_GEMM_DISPATCH 0
#endif
#define TARGET_V0

/* ---------------------------------------------------------------------------------------------
 * Packing: panel p = columns p*NR .. p*NR + NR - 1 of W, row after row; missing columns are 0.
 * ------------------------------------------------------------------------------------------- */
#define DEFINE_PACK(REAL, SFX)                                                                     \
    ptrdiff_t minikws_packed_size_##SFX(ptrdiff_t K, ptrdiff_t N)                                  \
    {                                                                                              \
        const ptrdiff_t NR = PANEL_BYTES / sizeof(REAL);                                           \
        return K * ((N + NR - 1) / NR) * NR;                                                       \
    }                                                                                              \
                                                                                                   \
    /* panels p0 .. p1 - 1 only */                                                                 \
    static void pack_panels_##SFX(ptrdiff_t K, ptrdiff_t N, const REAL *W, ptrdiff_t rs,           \
                                  ptrdiff_t cs, REAL *Wp, ptrdiff_t p0, ptrdiff_t p1)              \
    {                                                                                              \
        const ptrdiff_t NR = PANEL_BYTES / sizeof(REAL);                                           \
        Wp += p0 * K * NR;                                                                         \
        for (ptrdiff_t j0 = p0 * NR; j0 < N && j0 < p1 * NR; j0 += NR) {                           \
            const ptrdiff_t nc = N - j0 < NR ? N - j0 : NR;                                        \
            memset(Wp, 0, (size_t)(K * NR) * sizeof(REAL));                                       \
            if (cs == 1) { /* rows of W are contiguous: read along them */                         \
                for (ptrdiff_t k = 0; k < K; ++k)                                                  \
                    for (ptrdiff_t jj = 0; jj < nc; ++jj)                                          \
                        Wp[k * NR + jj] = W[k * rs + j0 + jj];                                     \
            } else { /* e.g. W_h^T from W_h: read along columns of W, 64 rows of Wp at a time */  \
                for (ptrdiff_t k0 = 0; k0 < K; k0 += 64)                                           \
                    for (ptrdiff_t jj = 0; jj < nc; ++jj)                                          \
                        for (ptrdiff_t k = k0; k < K && k < k0 + 64; ++k)                          \
                            Wp[k * NR + jj] = W[k * rs + (j0 + jj) * cs];                          \
            }                                                                                      \
            Wp += K * NR;                                                                          \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    void minikws_pack_##SFX(ptrdiff_t K, ptrdiff_t N, const REAL *W, ptrdiff_t rs, ptrdiff_t cs,   \
                            REAL *Wp)                                                              \
    {                                                                                              \
        const ptrdiff_t NR = PANEL_BYTES / sizeof(REAL);                                           \
        pack_panels_##SFX(K, N, W, rs, cs, Wp, 0, (N + NR - 1) / NR);                              \
    }

DEFINE_PACK(float, f)
DEFINE_PACK(double, d)

/* ---------------------------------------------------------------------------------------------
 * One level: the micro-kernel (VB-byte vectors, at most MR rows) and the loop over blocks.
 * ------------------------------------------------------------------------------------------- */
#define DEFINE_GEMM(REAL, SFX, LEVEL, TARGET, VB, MR)                                              \
    /* y[0:mr, 0:NR] += x[0:mr, 0:K] w (K, NR): one row block of x times one panel */              \
    static inline __attribute__((always_inline)) TARGET void tile_##SFX##LEVEL(                    \
        const int mr, ptrdiff_t K, const REAL *RESTRICT x, ptrdiff_t rsx, ptrdiff_t csx,           \
        const REAL *RESTRICT w, REAL *RESTRICT y, ptrdiff_t ldy)                                   \
    {                                                                                              \
        typedef REAL vec __attribute__((vector_size(VB)));                                         \
        /* the same vector, for loads from any address of a REAL (no alignment assumed) */         \
        typedef REAL uvec __attribute__((vector_size(VB), aligned(sizeof(REAL)), may_alias));      \
        enum { L = VB / sizeof(REAL), NR = PANEL_BYTES / sizeof(REAL), NV = PANEL_BYTES / VB };    \
        vec acc[MR][NV];                                                                           \
        for (int r = 0; r < mr; ++r)                                                               \
            for (int v = 0; v < NV; ++v)                                                           \
                memcpy(&acc[r][v], y + r * ldy + v * L, VB);                                       \
        for (ptrdiff_t k = 0; k < K; ++k) {                                                        \
            for (int r = 0; r < mr; ++r) {                                                         \
                const REAL x_rk = x[r * rsx + k * csx];                                            \
                for (int v = 0; v < NV; ++v)                                                       \
                    acc[r][v] += x_rk * ((const uvec *)(w + k * NR))[v];                           \
            }                                                                                      \
        }                                                                                          \
        for (int r = 0; r < mr; ++r)                                                               \
            for (int v = 0; v < NV; ++v)                                                           \
                memcpy(y + r * ldy + v * L, &acc[r][v], VB);                                       \
    }                                                                                              \
                                                                                                   \
    /* The same with mr a constant in every branch, so each gets its own register allocation. */   \
    static inline __attribute__((always_inline)) TARGET void tile_rows_##SFX##LEVEL(               \
        int mr, ptrdiff_t K, const REAL *x, ptrdiff_t rsx, ptrdiff_t csx, const REAL *w, REAL *y,  \
        ptrdiff_t ldy)                                                                             \
    {                                                                                              \
        switch (mr) {                                                                              \
        TILE_CASE(SFX##LEVEL, MR, 12) TILE_CASE(SFX##LEVEL, MR, 11) TILE_CASE(SFX##LEVEL, MR, 10)  \
        TILE_CASE(SFX##LEVEL, MR, 9) TILE_CASE(SFX##LEVEL, MR, 8) TILE_CASE(SFX##LEVEL, MR, 7)     \
        TILE_CASE(SFX##LEVEL, MR, 6) TILE_CASE(SFX##LEVEL, MR, 5) TILE_CASE(SFX##LEVEL, MR, 4)     \
        TILE_CASE(SFX##LEVEL, MR, 3) TILE_CASE(SFX##LEVEL, MR, 2)                                  \
        default:                                                                                   \
            tile_##SFX##LEVEL(1, K, x, rsx, csx, w, y, ldy);                                       \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    static TARGET void gemm_##SFX##LEVEL(ptrdiff_t M, ptrdiff_t K, ptrdiff_t N, const REAL *x,     \
                                         ptrdiff_t rsx, ptrdiff_t csx, const REAL *Wp, REAL *y,    \
                                         ptrdiff_t ldy)                                            \
    {                                                                                              \
        enum { NR = PANEL_BYTES / sizeof(REAL) };                                                  \
        REAL edge[MR * NR]; /* the last, partial panel of y, zero-padded to NR columns */          \
        for (ptrdiff_t m0 = 0; m0 < M; m0 += MC) { /* MC rows of x and y at a time */              \
            const ptrdiff_t m1 = M - m0 < MC ? M : m0 + MC;                                        \
            for (ptrdiff_t j0 = 0; j0 < N; j0 += NR) {                                             \
                const REAL *w = Wp + j0 * K; /* panel j0 / NR starts at (j0 / NR) * K * NR */      \
                const ptrdiff_t nc = N - j0 < NR ? N - j0 : NR;                                    \
                for (ptrdiff_t i0 = m0; i0 < m1; i0 += MR) {                                       \
                    const int mr = m1 - i0 < MR ? (int)(m1 - i0) : MR;                             \
                    const REAL *x_i = x + i0 * rsx;                                                \
                    REAL *y_ij = y + i0 * ldy + j0;                                                \
                    if (nc == NR) {                                                                \
                        tile_rows_##SFX##LEVEL(mr, K, x_i, rsx, csx, w, y_ij, ldy);                \
                        continue;                                                                  \
                    }                                                                              \
                    memset(edge, 0, sizeof edge);                                                  \
                    for (int r = 0; r < mr; ++r)                                                   \
                        memcpy(edge + r * NR, y_ij + r * ldy, nc * sizeof(REAL));                  \
                    tile_rows_##SFX##LEVEL(mr, K, x_i, rsx, csx, w, edge, NR);                     \
                    for (int r = 0; r < mr; ++r)                                                   \
                        memcpy(y_ij + r * ldy, edge + r * NR, nc * sizeof(REAL));                  \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

/* case ROWS of the switch above, compiled only where ROWS <= MR */
#define TILE_CASE(NAME, MR, ROWS)                                                                  \
    case ROWS:                                                                                     \
        if (ROWS <= MR) {                                                                          \
            tile_##NAME(ROWS <= MR ? ROWS : 1, K, x, rsx, csx, w, y, ldy);                         \
            break;                                                                                 \
        } /* fall through: never reached, mr <= MR */

DEFINE_GEMM(float, f, 0, TARGET_V0, 16, 1)
DEFINE_GEMM(double, d, 0, TARGET_V0, 16, 1)
#if MINIKWS_GEMM_DISPATCH
DEFINE_GEMM(float, f, 1, TARGET_V3, 32, 3)
DEFINE_GEMM(double, d, 1, TARGET_V3, 32, 3)
DEFINE_GEMM(float, f, 2, TARGET_V4, 64, 8)
DEFINE_GEMM(double, d, 2, TARGET_V4, 64, 8)
#endif

/* ---------------------------------------------------------------------------------------------
 * Picking the level.
 * ------------------------------------------------------------------------------------------- */
static int cpu_level(void)
{
#if MINIKWS_GEMM_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4"))
        return 2;
    if (__builtin_cpu_supports("x86-64-v3"))
        return 1;
#endif
    return 0;
}

static int gemm_level = -1; /* -1: not chosen yet */

int minikws_gemm_set_level(int level)
{
    const int best = cpu_level();
    gemm_level = level < 0 || level > best ? best : level;
    return gemm_level;
}

int minikws_gemm_level(void)
{
    return gemm_level < 0 ? minikws_gemm_set_level(-1) : gemm_level;
}

#define DEFINE_DISPATCH(REAL, SFX)                                                                 \
    void minikws_packed_gemm_##SFX(ptrdiff_t M, ptrdiff_t K, ptrdiff_t N, const REAL *x,           \
                                   ptrdiff_t rsx, ptrdiff_t csx, const REAL *Wp, REAL *y,          \
                                   ptrdiff_t ldy)                                                  \
    {                                                                                              \
        switch (MINIKWS_GEMM_DISPATCH ? minikws_gemm_level() : 0) {                                \
        DISPATCH_CASES(SFX)                                                                        \
        default:                                                                                   \
            gemm_##SFX##0(M, K, N, x, rsx, csx, Wp, y, ldy);                                       \
        }                                                                                          \
    }

#if MINIKWS_GEMM_DISPATCH
#define DISPATCH_CASES(SFX)                                                                        \
    case 2:                                                                                        \
        gemm_##SFX##2(M, K, N, x, rsx, csx, Wp, y, ldy);                                           \
        break;                                                                                     \
    case 1:                                                                                        \
        gemm_##SFX##1(M, K, N, x, rsx, csx, Wp, y, ldy);                                           \
        break;
#else
#define DISPATCH_CASES(SFX)
#endif

DEFINE_DISPATCH(float, f)
DEFINE_DISPATCH(double, d)

/* ---------------------------------------------------------------------------------------------
 * Pack and multiply on several threads (csrc/parallel.c), for the large products over all steps.
 * Where W has at least two panels per thread, each thread packs its own panels and multiplies all
 * rows of x by them: the threads share nothing and meet only at the end. Otherwise (W has few
 * columns, like W_x^T with D = 40) W is packed by the calling thread and the rows of y are split,
 * in multiples of 8 rows (the largest MR) so that every thread's row blocks are full. Products of
 * under 2^18 multiply-adds run on one thread, where waking the pool would cost more than it saves.
 * Each thread also sets its part of y to its first value (y0 in every row), so that the first
 * writes to fresh memory (page faults included) are shared too.
 * ------------------------------------------------------------------------------------------- */
#define DEFINE_THREADED(REAL, SFX)                                                                 \
    struct job_##SFX {                                                                             \
        ptrdiff_t M, K, N, rsx, csx, rs, cs, ldy;                                                  \
        const REAL *x, *W, *y0;                                                                    \
        REAL *Wp, *y;                                                                              \
    };                                                                                             \
                                                                                                   \
    /* y[r0:r1, j0:j1] = y0[j0:j1] in every row (y0 NULL: leave y, the product is added to it) */  \
    static void init_rows_##SFX(const struct job_##SFX *j, ptrdiff_t r0, ptrdiff_t r1,             \
                                ptrdiff_t j0, ptrdiff_t j1)                                        \
    {                                                                                              \
        if (j->y0 != NULL)                                                                         \
            for (ptrdiff_t r = r0; r < r1; ++r)                                                    \
                memcpy(j->y + r * j->ldy + j0, j->y0 + j0, (size_t)(j1 - j0) * sizeof(REAL));     \
    }                                                                                              \
                                                                                                   \
    /* panels [np * part / parts, np * (part + 1) / parts): pack them, multiply all x by them */  \
    static void column_part_##SFX(void *arg, int part, int parts)                                  \
    {                                                                                              \
        const struct job_##SFX *j = (const struct job_##SFX *)arg;                                 \
        const ptrdiff_t NR = PANEL_BYTES / sizeof(REAL), np = (j->N + NR - 1) / NR;                \
        const ptrdiff_t p0 = np * part / parts, p1 = np * (part + 1) / parts;                      \
        const ptrdiff_t j0 = p0 * NR, j1 = p1 * NR < j->N ? p1 * NR : j->N;                        \
        if (j1 <= j0)                                                                              \
            return;                                                                                \
        init_rows_##SFX(j, 0, j->M, j0, j1);                                                       \
        pack_panels_##SFX(j->K, j->N, j->W, j->rs, j->cs, j->Wp, p0, p1);                          \
        minikws_packed_gemm_##SFX(j->M, j->K, j1 - j0, j->x, j->rsx, j->csx,                       \
                                  j->Wp + p0 * j->K * NR, j->y + j0, j->ldy);                      \
    }                                                                                              \
                                                                                                   \
    /* rows [r0, r1) of y, W already packed */                                                     \
    static void row_part_##SFX(void *arg, int part, int parts)                                     \
    {                                                                                              \
        const struct job_##SFX *j = (const struct job_##SFX *)arg;                                 \
        const ptrdiff_t r0 = split_rows(j->M, part, parts);                                        \
        const ptrdiff_t r1 = split_rows(j->M, part + 1, parts);                                    \
        if (r1 <= r0)                                                                              \
            return;                                                                                \
        init_rows_##SFX(j, r0, r1, 0, j->N);                                                       \
        minikws_packed_gemm_##SFX(r1 - r0, j->K, j->N, j->x + r0 * j->rsx, j->rsx, j->csx, j->Wp,  \
                                  j->y + r0 * j->ldy, j->ldy);                                     \
    }                                                                                              \
                                                                                                   \
    void minikws_gemm_threads_##SFX(ptrdiff_t M, ptrdiff_t K, ptrdiff_t N, const REAL *x,          \
                                    ptrdiff_t rsx, ptrdiff_t csx, const REAL *W, ptrdiff_t rs,     \
                                    ptrdiff_t cs, REAL *Wp, const REAL *y0, REAL *y, ptrdiff_t ldy, \
                                    int threads)                                                   \
    {                                                                                              \
        const ptrdiff_t NR = PANEL_BYTES / sizeof(REAL), np = (N + NR - 1) / NR;                   \
        struct job_##SFX j;                                                                        \
        j.M = M, j.K = K, j.N = N, j.rsx = rsx, j.csx = csx, j.rs = rs, j.cs = cs, j.ldy = ldy;    \
        j.x = x, j.W = W, j.y0 = y0, j.Wp = Wp, j.y = y;                                           \
        if ((double)M * K * N < (double)(1 << 18))                                                 \
            threads = 1;                                                                           \
        if (threads > 1 && np >= 2 * threads) {                                                    \
            minikws_parallel(threads, column_part_##SFX, &j);                                      \
            return;                                                                                \
        }                                                                                          \
        pack_panels_##SFX(K, N, W, rs, cs, Wp, 0, np);                                             \
        if (threads > 1)                                                                           \
            minikws_parallel(threads, row_part_##SFX, &j);                                         \
        else                                                                                       \
            row_part_##SFX(&j, 0, 1);                                                              \
    }

/* First row of part `part` of `parts`, rounded down to a multiple of 8 (part = parts gives M). */
static ptrdiff_t split_rows(ptrdiff_t M, int part, int parts)
{
    return part >= parts ? M : (M * part / parts) / 8 * 8;
}

DEFINE_THREADED(float, f)
DEFINE_THREADED(double, d)
