/*
 * The fused LSTM cell of minikws, in plain C, for float (suffix _f) and double (suffix _d).
 *
 * One call does the element-wise part of one time step for a whole batch; the matrix products
 * around it (x_t W_x, h_{t-1} W_h on the way forward, dgates W_h^T, W_x^T on the way back) are made
 * by minikws/_lstm_kernel.pyx with csrc/lstm_gemm.c's packed micro-kernel, or, in calls too short
 * to pay for packing, with minikws_small_gemm_* below. The gate blocks follow PyTorch's order
 * [i, f, g, o], so a gate row of width 4H reads  i = row[0:H], f = row[H:2H], g = row[2H:3H],
 * o = row[3H:4H]. All arrays are C-contiguous, row-major, batch-major within a step:
 *
 *   gates   (B, 4H)   forward: pre-activations a_t on entry, ACTIVATED gates [i,f,g,o] on exit
 *   c_prev  (B, H)    c_{t-1}
 *   c       (B, H)    c_t      (output of forward, input of backward)
 *   h       (B, H)    h_t      (output of forward)
 *   dh      (B, H)    dL/dh_t, the total: upstream gradient plus the one from step t+1
 *   dc      (B, H)    on entry dL/dc_t from step t+1, on exit dL/dc_{t-1}
 *   dgates  (B, 4H)   dL/da_t, the gradient of the pre-activations
 *
 * Pointers marked restrict must not overlap (in particular c_prev and c are different buffers).
 * The book's equations (labels in brackets) are repeated next to the code that implements them.
 */
#ifndef MINIKWS_LSTM_CELL_H
#define MINIKWS_LSTM_CELL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Forward: activate the gates in place and compute c_t, h_t  [lstm-gates] [lstm-cell] [lstm-hidden]. */
void minikws_lstm_cell_forward_f(ptrdiff_t B, ptrdiff_t H, float *gates, const float *c_prev,
                                 float *c, float *h);
void minikws_lstm_cell_forward_d(ptrdiff_t B, ptrdiff_t H, double *gates, const double *c_prev,
                                 double *c, double *h);

/* Backward: gradients of the pre-activations, and dc_t -> dc_{t-1} in place
 * [lstm-bptt-c] [lstm-bptt-gates]. */
void minikws_lstm_cell_backward_f(ptrdiff_t B, ptrdiff_t H, const float *gates, const float *c_prev,
                                  const float *c, const float *dh, float *dc, float *dgates);
void minikws_lstm_cell_backward_d(ptrdiff_t B, ptrdiff_t H, const double *gates,
                                  const double *c_prev, const double *c, const double *dh,
                                  double *dc, double *dgates);

/* y (B, N) = x (B, K) @ W (K, N), or y += x @ W when accumulate is non-zero, W C-contiguous: a plain
 * register-blocked loop for the products of short calls (streaming chunks of a frame or two), where
 * packing W for the micro-kernel of lstm_gemm.c would cost more than the arithmetic. */
void minikws_small_gemm_f(ptrdiff_t B, ptrdiff_t K, ptrdiff_t N, const float *x, const float *W,
                          int accumulate, float *y);
void minikws_small_gemm_d(ptrdiff_t B, ptrdiff_t K, ptrdiff_t N, const double *x, const double *W,
                          int accumulate, double *y);

/* Which instruction set the multiversioned cell dispatches to on this machine (for `minikws info`). */
const char *minikws_lstm_cell_isa(void);

#ifdef __cplusplus
}
#endif

#endif /* MINIKWS_LSTM_CELL_H */
