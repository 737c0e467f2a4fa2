/*
 * The per-step matrix product of the LSTM, y (M, N) += x (M, K) W (K, N), with W packed once.
 *
 * Every step of the recurrence multiplies by the same W_h (forward) or W_h^T (backward). A general
 * BLAS call re-arranges ("packs") W on every call, and for the small products of one step (32 x 128
 * times 128 x 512 in the benchmark) that re-packing costs about as much as the arithmetic. Here W is
 * packed once per sequence, by minikws_pack_*, into column panels: panel p holds the NR columns
 * p*NR .. p*NR + NR - 1 of W, row after row, contiguous (K * NR numbers), the last panel padded with
 * zeros. NR is PANEL_BYTES / sizeof(element): 32 floats or 16 doubles. minikws_packed_gemm_* then
 * walks the panels with a register-blocked micro-kernel (MR rows of x times one panel, MR x NR
 * accumulators held in vector registers).
 *
 * x and y are row-major with leading dimensions (row strides, in elements) ldx and ldy; W is read by
 * the packer through a row stride rs and a column stride cs, so W_h^T is packed straight from W_h
 * (rs = 1, cs = 4H) without a transposed copy.
 */
#ifndef MINIKWS_LSTM_GEMM_H
#define MINIKWS_LSTM_GEMM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of elements of the packed form of a (K, N) matrix (K * N rounded up to whole panels). */
ptrdiff_t minikws_packed_size_f(ptrdiff_t K, ptrdiff_t N);
ptrdiff_t minikws_packed_size_d(ptrdiff_t K, ptrdiff_t N);

/* Wp (packed) = W (K, N), where element (k, j) of W is W[k * rs + j * cs]. */
void minikws_pack_f(ptrdiff_t K, ptrdiff_t N, const float *W, ptrdiff_t rs, ptrdiff_t cs,
                    float *Wp);
void minikws_pack_d(ptrdiff_t K, ptrdiff_t N, const double *W, ptrdiff_t rs, ptrdiff_t cs,
                    double *Wp);

/* y (M, N) += x (M, K) W (K, N), W given packed; element (i, k) of x is x[i * rsx + k * csx] (so
 * x^T is passed as rsx = 1, csx = its row length). x and y must not overlap. */
void minikws_packed_gemm_f(ptrdiff_t M, ptrdiff_t K, ptrdiff_t N, const float *x, ptrdiff_t rsx,
                           ptrdiff_t csx, const float *Wp, float *y, ptrdiff_t ldy);
void minikws_packed_gemm_d(ptrdiff_t M, ptrdiff_t K, ptrdiff_t N, const double *x, ptrdiff_t rsx,
                           ptrdiff_t csx, const double *Wp, double *y, ptrdiff_t ldy);

/* y (M, N) = y0 + x (M, K) W (K, N), y0 (N,) added to every row (y0 NULL: y += x W), on up to
 * `threads` threads, packing W (element (k, j) at W[k * rs + j * cs]) into the scratch Wp
 * (minikws_packed_size_* elements) first: for the large products over all steps. x as in
 * minikws_packed_gemm_*. */
void minikws_gemm_threads_f(ptrdiff_t M, ptrdiff_t K, ptrdiff_t N, const float *x, ptrdiff_t rsx,
                            ptrdiff_t csx, const float *W, ptrdiff_t rs, ptrdiff_t cs, float *Wp,
                            const float *y0, float *y, ptrdiff_t ldy, int threads);
void minikws_gemm_threads_d(ptrdiff_t M, ptrdiff_t K, ptrdiff_t N, const double *x,
                            ptrdiff_t rsx, ptrdiff_t csx, const double *W, ptrdiff_t rs,
                            ptrdiff_t cs, double *Wp, const double *y0, double *y, ptrdiff_t ldy,
                            int threads);

/* The micro-kernel in use: 2 = AVX-512 (x86-64-v4), 1 = AVX2+FMA (x86-64-v3), 0 = portable C.
 * minikws_gemm_set_level asks for a level (for tests and benchmarks; levels the CPU lacks are
 * lowered to the best it has) and returns the level now in use; a negative level picks the best. */
int minikws_gemm_level(void);
int minikws_gemm_set_level(int level);

#ifdef __cplusplus
}
#endif

#endif /* MINIKWS_LSTM_GEMM_H */
