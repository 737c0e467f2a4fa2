/*
 * The fused LSTM cell: the element-wise part of one time step, forward and backward.
 * See lstm_cell.h for the layout of the arguments. The equations, with the book's labels:
 *
 *   [lstm-gates]   a_t = x_t W_x + h_{t-1} W_h + b            (the products: in the caller)
 *                  i_t = sigma(a_i),  f_t = sigma(a_f),  g_t = tanh(a_g),  o_t = sigma(a_o)
 *   [lstm-cell]    c_t = f_t * c_{t-1} + i_t * g_t
 *   [lstm-hidden]  h_t = o_t * tanh(c_t)
 *
 *   [lstm-bptt-gates] dL/do_t = dh_t * tanh(c_t)
 *   [lstm-bptt-c]     dc_t   += dh_t * o_t * (1 - tanh^2(c_t))      (dc_t arrives from step t+1)
 *                     dL/di_t = dc_t * g_t,  dL/df_t = dc_t * c_{t-1},  dL/dg_t = dc_t * i_t
 *                     dc_{t-1} = dc_t * f_t
 *   [lstm-bptt-gates] da_i = di * i(1-i),  da_f = df * f(1-f),  da_g = dg * (1-g^2),
 *                     da_o = do * o(1-o)
 *
 * Why the code looks the way it does:
 * - sigma and tanh are written here, from one expm1 with range reduction and a polynomial, without
 *   branches, so that the loops vectorise (libm's expf/tanh are scalar calls). Their arguments are
 *   clamped first, so no intermediate overflows whatever the input: sigma(x) = 1 / (2 + expm1(-x))
 *   and tanh(x) = sign(x) * -e / (2 + e) with e = expm1(-2|x|), both exact to a few ulp.
 * - Every function exists in several machine-code versions (GCC's target_clones: AVX-512, AVX2+FMA,
 *   and the x86-64 baseline); the loader picks the best one for the CPU it runs on, so a wheel built
 *   here runs on any x86-64 and still uses the wide vectors where they exist. Elsewhere (other
 *   compilers or CPUs) the same source is compiled once, for the baseline.
 * - Each gate block gets its own restrict pointer: the four blocks of a row never overlap, and
 *   saying so lets the compiler vectorise without run-time alias checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lstm_cell.h"

/* -DMINIKWS_MULTIVERSION= (empty) compiles a single version, e.g. to test the baseline one. */
#ifndef MINIKWS_MULTIVERSION
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && \
    defined(__GLIBC__)
#define MINIKWS_MULTIVERSION \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MINIKWS_MULTIVERSION
#endif
#endif

#define RESTRICT __restrict

/* Columns per register block of minikws_small_gemm: 512 bytes = 8 AVX-512 or 16 AVX2 registers. */
#define SMALL_GEMM_BLOCK_BYTES 512

/* ---------------------------------------------------------------------------------------------
 * expm1(x) = 2^n (expm1(r) + 1) - 1 with x = n ln2 + r, |r| <= ln2/2.
 * n is rounded with the 1.5 * 2^52 (float: 1.5 * 2^23) trick: adding it leaves n in the low bits
 * of the sum, from which 2^n is built directly in the exponent field. ln2 is split in a high part
 * with trailing zero bits (so n * ln2_hi is exact) and a low part (Cody & Waite). expm1(r) is its
 * Taylor polynomial, accurate to ~1e-17 (double, degree 13) / ~2e-8 (float, degree 7) relative.
 * The result s * p + (s - 1) keeps full relative precision near 0, where s = 1.
 * ------------------------------------------------------------------------------------------- */
static inline double expm1_d(double x)
{
    const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
    x = x < -708.0 ? -708.0 : x;             /* keep 2^n a normal, finite double */
    x = x > 709.0 ? 709.0 : x;
    double t = x * 1.4426950408889634 + magic;
    double n = t - magic;
    double r = x - n * 6.93147180369123816490e-01; /* ln2_hi */
    r = r - n * 1.90821492927058770002e-10;         /* ln2_lo */
    uint64_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits + 1023u) << 52;
    double s;
    memcpy(&s, &bits, sizeof s);
    double p = 1.0 / 6227020800.0;                  /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r;
    return s * p + (s - 1.0);
}

static inline float expm1_f(float x)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    x = x < -87.0f ? -87.0f : x;     /* keep 2^n a normal, finite float */
    x = x > 88.0f ? 88.0f : x;
    float t = x * 1.44269504f + magic;
    float n = t - magic;
    float r = x - n * 0.693359375f; /* ln2_hi */
    r = r - n * -2.12194440e-4f;    /* ln2_lo */
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits + 127u) << 23;
    float s;
    memcpy(&s, &bits, sizeof s);
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r;
    return s * p + (s - 1.0f);
}

/* sigma(x) = 1 / (1 + e^-x) = 1 / (2 + expm1(-x)); never overflows, since expm1 clamps. */
static inline double sigmoid_d(double x) { return 1.0 / (2.0 + expm1_d(-x)); }
static inline float sigmoid_f(float x) { return 1.0f / (2.0f + expm1_f(-x)); }

/* tanh(x) = sign(x) (1 - e^{-2|x|}) / (1 + e^{-2|x|}); expm1 keeps small |x| accurate. */
static inline double tanh_d(double x)
{
    double e = expm1_d(-2.0 * __builtin_fabs(x));
    return __builtin_copysign(-e / (2.0 + e), x);
}
static inline float tanh_f(float x)
{
    float e = expm1_f(-2.0f * __builtin_fabsf(x));
    return __builtin_copysignf(-e / (2.0f + e), x);
}

/* The cell, written once as a macro over the element type (float/double) and the suffix of its
 * helper functions; expanded below into the _f and _d versions the header declares. One row of the
 * batch is an always-inlined function whose arguments are restrict pointers (one per gate block):
 * GCC trusts restrict on parameters, and then vectorises the loop over j. */
#define DEFINE_CELL(REAL, SFX)                                                                     \
    static inline __attribute__((always_inline)) void cell_forward_row_##SFX(                      \
        ptrdiff_t H, REAL *RESTRICT i_t, REAL *RESTRICT f_t, REAL *RESTRICT g_t,                   \
        REAL *RESTRICT o_t, const REAL *RESTRICT c_prev, REAL *RESTRICT c_t, REAL *RESTRICT h_t)   \
    {                                                                                              \
        for (ptrdiff_t j = 0; j < H; ++j) {                                                        \
            /* [lstm-gates] i, f, o = sigma(a), g = tanh(a); overwrite a with the gates */         \
            REAL i = sigmoid_##SFX(i_t[j]);                                                        \
            REAL f = sigmoid_##SFX(f_t[j]);                                                        \
            REAL g = tanh_##SFX(g_t[j]);                                                           \
            REAL o = sigmoid_##SFX(o_t[j]);                                                        \
            i_t[j] = i;                                                                            \
            f_t[j] = f;                                                                            \
            g_t[j] = g;                                                                            \
            o_t[j] = o;                                                                            \
            /* [lstm-cell] c_t = f_t * c_{t-1} + i_t * g_t */                                      \
            REAL c = f * c_prev[j] + i * g;                                                        \
            c_t[j] = c;                                                                            \
            /* [lstm-hidden] h_t = o_t * tanh(c_t) */                                              \
            h_t[j] = o * tanh_##SFX(c);                                                            \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    MINIKWS_MULTIVERSION                                                                           \
    void minikws_lstm_cell_forward_##SFX(ptrdiff_t B, ptrdiff_t H, REAL *gates,                    \
                                         const REAL *c_prev, REAL *c, REAL *h)                     \
    {                                                                                              \
        for (ptrdiff_t n = 0; n < B; ++n) {                                                        \
            REAL *a = gates + n * 4 * H;                                                           \
            cell_forward_row_##SFX(H, a, a + H, a + 2 * H, a + 3 * H, c_prev + n * H, c + n * H,   \
                                   h + n * H);                                                     \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    static inline __attribute__((always_inline)) void cell_backward_row_##SFX(                     \
        ptrdiff_t H, const REAL *RESTRICT i_t, const REAL *RESTRICT f_t,                           \
        const REAL *RESTRICT g_t, const REAL *RESTRICT o_t, const REAL *RESTRICT c_prev,           \
        const REAL *RESTRICT c_t, const REAL *RESTRICT dh_t, REAL *RESTRICT dc_t,                  \
        REAL *RESTRICT da_i, REAL *RESTRICT da_f, REAL *RESTRICT da_g, REAL *RESTRICT da_o)        \
    {                                                                                              \
        for (ptrdiff_t j = 0; j < H; ++j) {                                                        \
            REAL i = i_t[j], f = f_t[j], g = g_t[j], o = o_t[j];                                   \
            REAL tc = tanh_##SFX(c_t[j]); /* recomputed: the cache keeps c_t, not tanh(c_t) */     \
            /* [lstm-bptt-gates] dL/do_t = dh_t * tanh(c_t) */                                     \
            REAL d_o = dh_t[j] * tc;                                                               \
            /* [lstm-bptt-c] dc_t += dh_t * o_t * (1 - tanh^2(c_t)) */                             \
            REAL dc = dc_t[j] + dh_t[j] * o * ((REAL)1 - tc * tc);                                 \
            REAL d_i = dc * g, d_f = dc * c_prev[j], d_g = dc * i;                                 \
            /* [lstm-bptt-c] dc_{t-1} = dc_t * f_t */                                              \
            dc_t[j] = dc * f;                                                                      \
            /* [lstm-bptt-gates] through sigma' = s (1 - s) and tanh' = 1 - tanh^2 */              \
            da_i[j] = d_i * i * ((REAL)1 - i);                                                     \
            da_f[j] = d_f * f * ((REAL)1 - f);                                                     \
            da_g[j] = d_g * ((REAL)1 - g * g);                                                     \
            da_o[j] = d_o * o * ((REAL)1 - o);                                                     \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    MINIKWS_MULTIVERSION                                                                           \
    void minikws_lstm_cell_backward_##SFX(ptrdiff_t B, ptrdiff_t H, const REAL *gates,             \
                                          const REAL *c_prev, const REAL *c, const REAL *dh,       \
                                          REAL *dc, REAL *dgates)                                  \
    {                                                                                              \
        for (ptrdiff_t n = 0; n < B; ++n) {                                                        \
            const REAL *a = gates + n * 4 * H;                                                     \
            REAL *da = dgates + n * 4 * H;                                                         \
            cell_backward_row_##SFX(H, a, a + H, a + 2 * H, a + 3 * H, c_prev + n * H, c + n * H,  \
                                    dh + n * H, dc + n * H, da, da + H, da + 2 * H, da + 3 * H);   \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    /* y[0:JB] += x (K,) W[:, 0:JB] for one block of JB columns, accumulated in registers: each   \
     * W element is loaded once, and the NACC accumulators are independent chains of FMAs. The       \
     * accumulators are GCC vectors of 64 bytes (one AVX-512 register, two AVX2, four SSE), which    \
     * GCC keeps in registers where a plain array of JB numbers would live on the stack. */          \
    static inline __attribute__((always_inline)) void gemv_block_##SFX(                            \
        ptrdiff_t K, ptrdiff_t N, const REAL *RESTRICT x, const REAL *RESTRICT W,                  \
        REAL *RESTRICT y)                                                                          \
    {                                                                                              \
        typedef REAL vec __attribute__((vector_size(64)));                                         \
        enum { NACC = SMALL_GEMM_BLOCK_BYTES / 64, L = 64 / sizeof(REAL) };                        \
        vec acc[NACC];                                                                             \
        for (int v = 0; v < NACC; ++v)                                                             \
            memcpy(&acc[v], y + v * L, 64);                                                        \
        for (ptrdiff_t k = 0; k < K; ++k) {                                                        \
            const REAL *RESTRICT w = W + k * N;                                                    \
            for (int v = 0; v < NACC; ++v) {                                                       \
                vec w_v;                                                                           \
                memcpy(&w_v, w + v * L, 64);                                                       \
                acc[v] += x[k] * w_v;                                                              \
            }                                                                                      \
        }                                                                                          \
        for (int v = 0; v < NACC; ++v)                                                             \
            memcpy(y + v * L, &acc[v], 64);                                                        \
    }                                                                                              \
                                                                                                   \
    MINIKWS_MULTIVERSION                                                                           \
    void minikws_small_gemm_##SFX(ptrdiff_t B, ptrdiff_t K, ptrdiff_t N, const REAL *x,            \
                                  const REAL *W, int accumulate, REAL *y)                          \
    {                                                                                              \
        const ptrdiff_t JB = SMALL_GEMM_BLOCK_BYTES / sizeof(REAL);                                \
        for (ptrdiff_t n = 0; n < B; ++n) {                                                        \
            const REAL *x_n = x + n * K;                                                           \
            REAL *y_n = y + n * N;                                                                 \
            if (!accumulate)                                                                       \
                memset(y_n, 0, (size_t)N * sizeof(REAL));                                          \
            ptrdiff_t j0 = 0;                                                                      \
            for (; j0 + JB <= N; j0 += JB)                                                         \
                gemv_block_##SFX(K, N, x_n, W + j0, y_n + j0);                                     \
            for (ptrdiff_t k = 0; k < K; ++k) /* the last N % JB columns */                        \
                for (ptrdiff_t j = j0; j < N; ++j)                                                 \
                    y_n[j] += x_n[k] * W[k * N + j];                                               \
        }                                                                                          \
    }

DEFINE_CELL(float, f)
DEFINE_CELL(double, d)

const char *minikws_lstm_cell_isa(void)
{
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && \
    defined(__GLIBC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4"))
        return "x86-64-v4 (AVX-512)";
    if (__builtin_cpu_supports("x86-64-v3"))
        return "x86-64-v3 (AVX2+FMA)";
    return "x86-64 baseline (SSE2)";
#else
    return "portable C (single version)";
#endif
}
