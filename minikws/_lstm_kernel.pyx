# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled LSTM: a whole sequence, forward and back through time, in C without the GIL.

This is the fast twin of the NumPy reference in ``minikws.nn.lstm`` and computes the same thing; read
that one first. Users reach it through ``minikws.nn.lstm_forward(..., backend="cython")``, which
validates the arguments and passes C-contiguous arrays of one dtype (float32 or float64) here.

Per sequence, Python is entered once; inside, the work is

    forward   a = b + x W_x                 one GEMM over all T steps        :eq:`lstm-gates`
              for t:  a_t += h_{t-1} W_h    one small product per step (B x H by H x 4H),
                                            by csrc/lstm_gemm.c with W_h packed once
                      fused cell in C: gates, c_t, h_t     :eq:`lstm-cell`, :eq:`lstm-hidden`
    backward  for t = T-1 .. 0:
                      dh_t += da_{t+1} W_h^T  one small product per step (W_h^T packed once)
                                                                            :eq:`lstm-bptt-h`
                      fused cell backward in C: da_t, dc_{t-1}
                                                 :eq:`lstm-bptt-c`, :eq:`lstm-bptt-gates`
              dx = da W_x^T,  dW_x = x^T da,  dW_h = H_prev^T da             three GEMMs
                      (H_prev stacks the h_{t-1} each step multiplied W_h with: h0, h_1 .. h_{T-1})
              db = the sum of da over steps and batch

Where it runs: when the sequence has enough steps to pay for packing (T >= 4), the per-step products
use csrc/lstm_gemm.c's packed micro-kernel, the loops over t split the batch rows over up to 2
threads (rows are independent sequences), and the GEMMs over all steps use the same micro-kernel on
the same threads. Short calls (streaming chunks) use BLAS and, for B = 1, a plain C loop.

Shapes: x (T, B, D); h0, c0 (B, H); Wx (D, 4H); Wh (H, 4H); b (4H,); h, c (T, B, H);
gates (T, B, 4H) holding the ACTIVATED gates [i, f, g, o] (PyTorch's block order).

BLAS is Fortran, column-major; our arrays are row-major. A row-major (M, N) matrix is the same memory
as a column-major (N, M) one, its transpose, so C = A B (row-major) is computed as C^T = B^T A^T:
the same ``gemm`` call with the two operands swapped (``_gemm`` below does that once for all).
"""
import os
import threading

import numpy as np

cimport numpy as cnp
from cython cimport floating
from libc.stddef cimport ptrdiff_t
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport dgemm, sgemm

from minikws.errors import MinikwsError

cnp.import_array()


cdef extern from "lstm_cell.h" nogil:
    void minikws_lstm_cell_forward_f(ptrdiff_t B, ptrdiff_t H, float *gates, const float *c_prev,
                                     float *c, float *h)
    void minikws_lstm_cell_forward_d(ptrdiff_t B, ptrdiff_t H, double *gates, const double *c_prev,
                                     double *c, double *h)
    void minikws_lstm_cell_backward_f(ptrdiff_t B, ptrdiff_t H, const float *gates,
                                      const float *c_prev, const float *c, const float *dh,
                                      float *dc, float *dgates)
    void minikws_lstm_cell_backward_d(ptrdiff_t B, ptrdiff_t H, const double *gates,
                                      const double *c_prev, const double *c, const double *dh,
                                      double *dc, double *dgates)
    void minikws_small_gemm_f(ptrdiff_t B, ptrdiff_t K, ptrdiff_t N, const float *x, const float *W,
                              int accumulate, float *y)
    void minikws_small_gemm_d(ptrdiff_t B, ptrdiff_t K, ptrdiff_t N, const double *x,
                              const double *W, int accumulate, double *y)
    const char *minikws_lstm_cell_isa()


cdef extern from "lstm_gemm.h" nogil:
    ptrdiff_t minikws_packed_size_f(ptrdiff_t K, ptrdiff_t N)
    ptrdiff_t minikws_packed_size_d(ptrdiff_t K, ptrdiff_t N)
    void minikws_pack_f(ptrdiff_t K, ptrdiff_t N, const float *W, ptrdiff_t rs, ptrdiff_t cs,
                        float *Wp)
    void minikws_pack_d(ptrdiff_t K, ptrdiff_t N, const double *W, ptrdiff_t rs, ptrdiff_t cs,
                        double *Wp)
    void minikws_packed_gemm_f(ptrdiff_t M, ptrdiff_t K, ptrdiff_t N, const float *x,
                               ptrdiff_t rsx, ptrdiff_t csx, const float *Wp, float *y,
                               ptrdiff_t ldy)
    void minikws_packed_gemm_d(ptrdiff_t M, ptrdiff_t K, ptrdiff_t N, const double *x,
                               ptrdiff_t rsx, ptrdiff_t csx, const double *Wp, double *y,
                               ptrdiff_t ldy)
    void minikws_gemm_threads_f(ptrdiff_t M, ptrdiff_t K, ptrdiff_t N, const float *x,
                                ptrdiff_t rsx, ptrdiff_t csx, const float *W, ptrdiff_t rs,
                                ptrdiff_t cs, float *Wp, const float *y0, float *y, ptrdiff_t ldy,
                                int threads)
    void minikws_gemm_threads_d(ptrdiff_t M, ptrdiff_t K, ptrdiff_t N, const double *x,
                                ptrdiff_t rsx, ptrdiff_t csx, const double *W, ptrdiff_t rs,
                                ptrdiff_t cs, double *Wp, const double *y0, double *y,
                                ptrdiff_t ldy, int threads)
    int minikws_gemm_level()
    int minikws_gemm_set_level(int level)


cdef extern from "parallel.h" nogil:
    ctypedef void (*minikws_part_fn)(void *arg, int part, int parts) noexcept nogil
    int minikws_parallel(int parts, minikws_part_fn fn, void *arg)


# The per-step products h_{t-1} W_h and da_t W_h^T go through csrc/lstm_gemm.c, with W_h (or W_h^T)
# packed once per call, when the call has at least this many steps to share the packing (which costs
# about two steps' products). Shorter calls (streaming chunks of a few frames) use the plain C loop
# of lstm_cell.c for batches up to _small_batch rows and BLAS for larger ones (see
# benchmarks/README.md: for B = 1 a call into BLAS costs more than the arithmetic).
cdef int _packed_min_steps = 4
cdef int _small_batch = 1

# Training (lstm_forward / lstm_backward) with the packed product splits the batch over up to
# _threads threads, each with at least _min_rows rows (see _Steps below): the CPUs this process may
# use, at most 2 (the machine the kernel was tuned on has 2 cores; OpenBLAS's threads take the large
# products between the loops).
cdef int _threads = max(1, min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                               else (os.cpu_count() or 1)))
cdef int _min_rows = 8
# With the packed per-step product, the products over all steps (input projection, dx, dW_x, dW_h)
# use the same micro-kernel on _threads threads instead of BLAS: as fast as OpenBLAS on an idle
# machine, and far faster on a busy one, where OpenBLAS's spinning threads stall
# (benchmarks/README.md).
cdef bint _own_gemm = True

_INT_MAX = 2**31 - 1  # BLAS (LP64) takes sizes as C int


def isa():
    """The instruction set the fused cell runs with on this CPU (for ``minikws info``)."""
    return minikws_lstm_cell_isa().decode()


def gemm_level():
    """The per-step product's micro-kernel: 2 = AVX-512, 1 = AVX2+FMA, 0 = portable C."""
    return minikws_gemm_level()


def threads():
    """How many threads a call may split its batch over (the CPUs this process may use, at most 2)."""
    return _threads


def _set_gemm_level(int level):
    """Use micro-kernel ``level`` (lowered to what the CPU has; < 0: the best); return the old one.

    For tests and benchmarks only: it changes a process-wide setting.
    """
    old = minikws_gemm_level()
    minikws_gemm_set_level(level)
    return old


def _set_packed_min_steps(int n):
    """Set how many steps a call needs to use the packed per-step product (tests, benchmarks)."""
    global _packed_min_steps
    old = _packed_min_steps
    _packed_min_steps = n
    return old


def _set_threads(int threads, int min_rows=8):
    """Split training batches over up to ``threads`` threads of >= ``min_rows`` rows; return the old
    (threads, min_rows). For tests and benchmarks: it changes a process-wide setting."""
    global _threads, _min_rows
    old = (_threads, _min_rows)
    _threads = max(1, threads)
    _min_rows = max(1, min_rows)
    return old


cdef int _parts(int B, bint packed):
    """How many threads the recurrence of a batch of B rows runs on."""
    if not packed:  # the unpacked product calls BLAS, which has threads of its own
        return 1
    return max(1, min(_threads, B // _min_rows))


def _set_own_gemm(bint on):
    """Do the products over all steps with the kernel's own GEMM (True) or BLAS; return the old
    setting. For tests and benchmarks: it changes a process-wide setting."""
    global _own_gemm
    old = _own_gemm
    _own_gemm = on
    return old


def _set_small_batch(int n):
    """Set the largest B that uses the C loop instead of BLAS for h W_h (benchmarks only)."""
    global _small_batch
    old = _small_batch
    _small_batch = n
    return old


# ----------------------------------------------------------------------------------------------
# Argument checks: everything is verified here, with the GIL, before a pointer is taken.
# ----------------------------------------------------------------------------------------------
cdef object _check(str name, object a, tuple shape, object dtype, str legend, bint writeable=False):
    if not isinstance(a, np.ndarray):
        raise MinikwsError(f"{name}: expected a numpy array, got {type(a).__name__}")
    if a.dtype != dtype:
        raise MinikwsError(f"{name}: dtype {a.dtype} differs from x's {dtype}; pass one dtype")
    if a.shape != shape:
        raise MinikwsError(f"{name}: expected shape {legend} = {shape}, got {a.shape}")
    if not (a.flags.c_contiguous and a.flags.aligned):
        raise MinikwsError(f"{name}: must be C-contiguous and aligned (use np.ascontiguousarray)")
    if writeable and not a.flags.writeable:
        raise MinikwsError(f"{name}: must be writeable (it is updated in place)")
    return a


cdef tuple _check_params(object x, object Wx, object Wh, object b):
    """Check x, Wx, Wh and (unless None) b; return (T, B, D, H, dtype)."""
    if not isinstance(x, np.ndarray):
        raise MinikwsError(f"x: expected a numpy array, got {type(x).__name__}")
    if x.dtype != np.float32 and x.dtype != np.float64:
        raise MinikwsError(f"x: expected dtype float32 or float64, got {x.dtype}")
    if x.ndim != 3:
        raise MinikwsError(f"x: expected shape (T, B, D), got {x.shape}")
    T, B, D = x.shape
    if T < 1 or B < 1 or D < 1:
        raise MinikwsError(f"x: T, B and D must be >= 1, got shape (T, B, D) = {x.shape}")
    if not isinstance(Wh, np.ndarray) or Wh.ndim != 2:
        raise MinikwsError(f"Wh: expected a numpy array of shape (H, 4H), got "
                           f"{getattr(Wh, 'shape', type(Wh).__name__)}")
    H = Wh.shape[0]
    if H < 1:
        raise MinikwsError(f"Wh: H must be >= 1, got shape {Wh.shape}")
    if T * B > _INT_MAX or 4 * H > _INT_MAX or D > _INT_MAX:
        raise MinikwsError(f"x: sizes T*B = {T * B}, 4H = {4 * H}, D = {D} exceed BLAS's int range")
    dt = x.dtype
    _check("x", x, (T, B, D), dt, "(T, B, D)")
    _check("Wx", Wx, (D, 4 * H), dt, "(D, 4H)")
    _check("Wh", Wh, (H, 4 * H), dt, "(H, 4H)")
    if b is not None:
        _check("b", b, (4 * H,), dt, "(4H,)")
    return T, B, D, H, dt


# ----------------------------------------------------------------------------------------------
# BLAS and the cell, for either dtype (Cython's fused type `floating` = float or double).
# ----------------------------------------------------------------------------------------------
cdef inline void _gemm(char ta, char tb, int M, int N, int K, floating alpha, floating *A, int lda,
                       floating *B, int ldb, floating beta, floating *C, int ldc) noexcept nogil:
    """C (M, N) = alpha op(A) op(B) + beta C, every matrix row-major; ta/tb are c'N' or c'T'."""
    # Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
    if floating is float:
        sgemm(&tb, &ta, &N, &M, &K, &alpha, B, &ldb, A, &lda, &beta, C, &ldc)
    else:
        dgemm(&tb, &ta, &N, &M, &K, &alpha, B, &ldb, A, &lda, &beta, C, &ldc)


cdef inline void _recurrent(int B, int H, floating *h_prev, floating *Wh, floating *Whp,
                            floating *a) noexcept nogil:
    """a (B, 4H) += h_prev (B, H) W_h (H, 4H): the per-step product of :eq:`lstm-gates`.

    Whp is W_h packed by _pack (or NULL: then the C loop or BLAS multiply by W_h itself).
    """
    if Whp != NULL:
        _packed_gemm(B, H, 4 * H, h_prev, H, Whp, a, 4 * H)
    elif B <= _small_batch:
        if floating is float:
            minikws_small_gemm_f(B, H, 4 * H, h_prev, Wh, 1, a)
        else:
            minikws_small_gemm_d(B, H, 4 * H, h_prev, Wh, 1, a)
    else:
        _gemm(c'N', c'N', B, 4 * H, H, 1, h_prev, H, Wh, 4 * H, 1, a, 4 * H)


cdef inline void _pack(int K, int N, floating *W, Py_ssize_t rs, Py_ssize_t cs,
                       floating *Wp) noexcept nogil:
    """Wp = W (K, N) packed for _packed_gemm; element (k, j) of W is W[k * rs + j * cs]."""
    if floating is float:
        minikws_pack_f(K, N, W, rs, cs, Wp)
    else:
        minikws_pack_d(K, N, W, rs, cs, Wp)


cdef inline void _packed_gemm(int M, int K, int N, floating *x, Py_ssize_t ldx, floating *Wp,
                              floating *y, Py_ssize_t ldy) noexcept nogil:
    """y (M, N) += x (M, K) W (K, N), W packed by _pack."""
    if floating is float:
        minikws_packed_gemm_f(M, K, N, x, ldx, 1, Wp, y, ldy)
    else:
        minikws_packed_gemm_d(M, K, N, x, ldx, 1, Wp, y, ldy)


cdef inline void _big_gemm(int M, int K, int N, floating *x, Py_ssize_t rsx, Py_ssize_t csx,
                           floating *W, Py_ssize_t rs, Py_ssize_t cs, floating *Wp, floating *y0,
                           floating *y, int threads) noexcept nogil:
    """y (M, N) = y0 + x (M, K) W (K, N) on up to `threads` threads, W packed into the scratch Wp.

    y0 (N,) is added to every row. Element (i, k) of x is x[i * rsx + k * csx], element (k, j) of W
    is W[k * rs + j * cs], y is C-contiguous. For the products over all steps (see _own_gemm).
    """
    if floating is float:
        minikws_gemm_threads_f(M, K, N, x, rsx, csx, W, rs, cs, Wp, y0, y, N, threads)
    else:
        minikws_gemm_threads_d(M, K, N, x, rsx, csx, W, rs, cs, Wp, y0, y, N, threads)


# Scratch arrays are kept between calls, per thread (so that concurrent calls from several Python
# threads never share one): a fresh multi-megabyte array is fresh pages from the OS, and faulting
# them in cost ~10 % of the backward at B = 32, H = 128. Each name keeps the largest size asked for.
_scratch = threading.local()


cdef object _scratch_buffer(str name, Py_ssize_t n, object dtype):
    """A 1-D scratch array of n elements of dtype, reused by later calls in this thread."""
    bufs = getattr(_scratch, "bufs", None)
    if bufs is None:
        bufs = _scratch.bufs = {}
    key = (name, np.dtype(dtype).char)
    a = bufs.get(key)
    if a is None or a.shape[0] < n:
        a = bufs[key] = np.empty(max(n, 1), dtype=dtype)
    return a[:n]


cdef object _packed_buffer(str name, int K, int N, object dtype):
    """Scratch (see _scratch_buffer) for a packed (K, N) matrix of dtype."""
    if dtype == np.float32:
        return _scratch_buffer(name, minikws_packed_size_f(K, N), dtype)
    return _scratch_buffer(name, minikws_packed_size_d(K, N), dtype)


cdef inline void _cell_forward(int B, int H, floating *gates, floating *c_prev, floating *c,
                               floating *h) noexcept nogil:
    if floating is float:
        minikws_lstm_cell_forward_f(B, H, gates, c_prev, c, h)
    else:
        minikws_lstm_cell_forward_d(B, H, gates, c_prev, c, h)


cdef inline void _cell_backward(int B, int H, floating *gates, floating *c_prev, floating *c,
                                floating *dh, floating *dc, floating *dgates) noexcept nogil:
    if floating is float:
        minikws_lstm_cell_backward_f(B, H, gates, c_prev, c, dh, dc, dgates)
    else:
        minikws_lstm_cell_backward_d(B, H, gates, c_prev, c, dh, dc, dgates)


cdef void _input_projection(int T, int B, int D, int H, floating *x, floating *Wx, floating *b,
                            floating *a, floating *Wxp, int threads) noexcept nogil:
    """a (T*B, 4H) = b + x (T*B, D) W_x: the input half of :eq:`lstm-gates` for every step at once.

    By the kernel's own GEMM with W_x packed into Wxp, or (Wxp NULL) by BLAS.
    """
    cdef Py_ssize_t r, G = 4 * H
    if Wxp != NULL:
        _big_gemm(T * B, D, G, x, D, 1, Wx, G, 1, Wxp, b, a, threads)
        return
    for r in range(<Py_ssize_t>T * B):
        memcpy(a + r * G, b, G * sizeof(floating))
    _gemm(c'N', c'N', T * B, G, D, 1, x, D, Wx, G, 1, a, G)


# ----------------------------------------------------------------------------------------------
# The sequence loops, without the GIL. The rows of the batch are independent sequences through the
# whole recurrence, so the loops over t run on a range of rows [r0, r1); with `parts` > 1 the batch
# is split into that many ranges, each run by its own thread (csrc/parallel.c) from t = 0 to T - 1
# (or back), with no synchronisation until the end. A row range of a (B, H) or (B, 4H) block of one
# step is itself contiguous, so the cell and the products take it as a smaller batch.
# ----------------------------------------------------------------------------------------------
ctypedef struct _Steps:
    # what the loops over t read and write; pointers to float or double, (B, .) blocks per step
    int T, B, H
    void *h0             # (B, H)
    void *c0             # (B, H)      c_0 (forward and backward)
    void *Wh             # (H, 4H)     W_h, for the unpacked product (forward)
    void *Whp            # packed W_h, or NULL (forward)
    void *h              # (T, B, H)   h_t (forward)
    void *c              # (T, B, H)   c_t
    void *gates          # (T, B, 4H)  pre-activations in, activated gates out (forward)
    void *dh             # (T, B, H)   upstream dL/dh_t (backward)
    void *dhT            # (B, H)
    void *dcT            # (B, H)
    void *WhT            # (4H, H)     W_h^T, for the unpacked product (backward), or NULL
    void *WhTp           # packed W_h^T, or NULL (backward)
    void *dgates         # (T, B, 4H)  dL/da_t (backward)
    void *dh_t           # (B, H)      scratch: the total dL/dh_t of the current step
    void *dc             # (B, H)      dL/dc_t carried from step to step; ends as dc0
    void *dh0            # (B, H)
    int D
    void *x              # (T, B, D)   the input (backward, with xh)
    void *xh             # (T*B, D+H+1) rows [x_t, h_{t-1}, 1] for the weight gradients, or NULL


cdef inline int _row(int B, int part, int parts) noexcept nogil:
    """First row of part `part` of `parts` (part = parts gives B)."""
    return <int>((<long long>B * part) // parts)


cdef void _forward_steps(_Steps *s, int r0, int r1, floating *kind) noexcept nogil:
    """The forward recurrence for batch rows r0 <= n < r1 (`kind` only picks the dtype)."""
    cdef int H = s.H, nb = r1 - r0
    cdef Py_ssize_t t, BH = <Py_ssize_t>s.B * H, BG = 4 * BH
    cdef floating *h = <floating *>s.h + r0 * H
    cdef floating *c = <floating *>s.c + r0 * H
    cdef floating *gates = <floating *>s.gates + r0 * 4 * H
    cdef floating *h_prev = <floating *>s.h0 + r0 * H
    cdef floating *c_prev = <floating *>s.c0 + r0 * H
    if nb <= 0:
        return
    for t in range(s.T):
        _recurrent(nb, H, h_prev, <floating *>s.Wh, <floating *>s.Whp, gates + t * BG)  # a_t +=
        _cell_forward(nb, H, gates + t * BG, c_prev, c + t * BH, h + t * BH)        # h_{t-1} W_h
        h_prev = h + t * BH
        c_prev = c + t * BH


cdef void _backward_steps(_Steps *s, int r0, int r1, floating *kind) noexcept nogil:
    """Back through time for batch rows r0 <= n < r1: dgates, dc0 and dh0 of those rows."""
    cdef int H = s.H, G = 4 * s.H, nb = r1 - r0, T = s.T
    cdef Py_ssize_t t, j, BH = <Py_ssize_t>s.B * H, BG = 4 * BH, nH = <Py_ssize_t>nb * H
    cdef floating *dh = <floating *>s.dh + r0 * H
    cdef floating *dhT = <floating *>s.dhT + r0 * H
    cdef floating *c0 = <floating *>s.c0 + r0 * H
    cdef floating *c = <floating *>s.c + r0 * H
    cdef floating *gates = <floating *>s.gates + r0 * G
    cdef floating *dgates = <floating *>s.dgates + r0 * G
    cdef floating *dh_t = <floating *>s.dh_t + r0 * H
    cdef floating *dc = <floating *>s.dc + r0 * H
    cdef floating *dh0 = <floating *>s.dh0 + r0 * H
    cdef floating *WhT = <floating *>s.WhT
    cdef floating *WhTp = <floating *>s.WhTp
    cdef int D = s.D, E = s.D + s.H + 1
    cdef Py_ssize_t n, row
    cdef floating *xh = <floating *>s.xh
    if nb <= 0:
        return
    if xh != NULL:  # this part's rows [x_t, h_{t-1}, 1] of the weight gradients' left operand
        for t in range(T):
            for n in range(r0, r1):
                row = t * s.B + n
                memcpy(xh + row * E, <floating *>s.x + row * D, D * sizeof(floating))
                memcpy(xh + row * E + D, (<floating *>s.h0 + n * H) if t == 0
                       else (<floating *>s.h + (row - s.B) * H), H * sizeof(floating))
                xh[row * E + D + H] = 1
    memcpy(dc, <floating *>s.dcT + r0 * H, nH * sizeof(floating))
    for t in range(T - 1, -1, -1):
        # [lstm-bptt-h] the total dL/dh_t: the upstream dh[t] plus what h_t fed into step t+1
        memcpy(dh_t, dh + t * BH, nH * sizeof(floating))
        if t == T - 1:
            for j in range(nH):
                dh_t[j] += dhT[j]
        elif WhTp != NULL:
            _packed_gemm(nb, G, H, dgates + (t + 1) * BG, G, WhTp, dh_t, H)
        else:
            _gemm(c'N', c'N', nb, H, G, 1, dgates + (t + 1) * BG, G, WhT, H, 1, dh_t, H)
        _cell_backward(nb, H, gates + t * BG, c0 if t == 0 else c + (t - 1) * BH, c + t * BH,
                       dh_t, dc, dgates + t * BG)
    # dh0 = da_0 W_h^T
    if WhTp != NULL:
        memset(dh0, 0, nH * sizeof(floating))
        _packed_gemm(nb, G, H, dgates, G, WhTp, dh0, H)
    else:
        _gemm(c'N', c'N', nb, H, G, 1, dgates, G, WhT, H, 0, dh0, H)


cdef void _forward_part_f(void *s, int part, int parts) noexcept nogil:
    cdef int B = (<_Steps *>s).B
    _forward_steps(<_Steps *>s, _row(B, part, parts), _row(B, part + 1, parts), <float *>NULL)


cdef void _forward_part_d(void *s, int part, int parts) noexcept nogil:
    cdef int B = (<_Steps *>s).B
    _forward_steps(<_Steps *>s, _row(B, part, parts), _row(B, part + 1, parts), <double *>NULL)


cdef void _backward_part_f(void *s, int part, int parts) noexcept nogil:
    cdef int B = (<_Steps *>s).B
    _backward_steps(<_Steps *>s, _row(B, part, parts), _row(B, part + 1, parts), <float *>NULL)


cdef void _backward_part_d(void *s, int part, int parts) noexcept nogil:
    cdef int B = (<_Steps *>s).B
    _backward_steps(<_Steps *>s, _row(B, part, parts), _row(B, part + 1, parts), <double *>NULL)


cdef void _forward(int T, int B, int D, int H, floating *x, floating *h0, floating *c0,
                   floating *Wx, floating *Wh, floating *b, floating *h, floating *c,
                   floating *gates, floating *Whp, int parts, floating *Wxp,
                   int threads) noexcept:
    cdef _Steps s
    memset(&s, 0, sizeof(s))
    s.T, s.B, s.H = T, B, H
    s.h0, s.c0, s.Wh, s.Whp, s.h, s.c, s.gates = h0, c0, Wh, Whp, h, c, gates
    with nogil:
        if Whp != NULL:
            _pack(H, 4 * H, Wh, 4 * H, 1, Whp)                           # once for all steps
        _input_projection(T, B, D, H, x, Wx, b, gates, Wxp, threads)
        if parts <= 1:
            _forward_steps(&s, 0, B, h)
        elif floating is float:
            minikws_parallel(parts, _forward_part_f, &s)
        else:
            minikws_parallel(parts, _forward_part_d, &s)


cdef void _backward(int T, int B, int D, int H, floating *dh, floating *dhT, floating *dcT,
                    floating *x, floating *h0, floating *c0, floating *WxT, floating *WhT,
                    floating *h, floating *c, floating *gates, floating *dx, floating *dh0,
                    floating *dc0, floating *dWx, floating *dWh, floating *db,
                    floating *dgates, floating *dh_t, floating *h_prev_all,
                    floating *Wh, floating *WhTp, int parts, floating *Wx, floating *big,
                    floating *dW_all, floating *zeros, int threads) noexcept:
    cdef Py_ssize_t j, r, BH = <Py_ssize_t>B * H, G = 4 * H
    cdef int TB = T * B
    cdef _Steps s
    memset(&s, 0, sizeof(s))
    s.T, s.B, s.H = T, B, H
    s.c0, s.c, s.gates, s.dh, s.dhT, s.dcT = c0, c, gates, dh, dhT, dcT
    s.WhT, s.WhTp, s.dgates, s.dh_t, s.dc, s.dh0 = WhT, WhTp, dgates, dh_t, dc0, dh0
    s.D, s.x, s.h0, s.h = D, x, h0, h
    s.xh = h_prev_all if big != NULL else NULL
    with nogil:
        if WhTp != NULL:
            _pack(G, H, Wh, 1, G, WhTp)                                  # W_h^T, packed once
        if parts <= 1:
            _backward_steps(&s, 0, B, h)
        elif floating is float:
            minikws_parallel(parts, _backward_part_f, &s)
        else:
            minikws_parallel(parts, _backward_part_d, &s)
        if big != NULL:  # the kernel's own GEMM; `big` is scratch for the packed right operand
            # dx = da W_x^T, over all T*B rows
            _big_gemm(TB, G, D, dgates, G, 1, Wx, 1, G, big, zeros, dx, threads)
            # [dW_x; dW_h; db] = [x, H_prev, 1]^T da in one product: h_prev_all holds the T*B rows
            # [x_t, h_{t-1}, 1] (written by the loops above), read transposed in place
            _big_gemm(D + H + 1, TB, G, h_prev_all, 1, D + H + 1, dgates, G, 1, big, zeros, dW_all,
                      threads)
            memcpy(dWx, dW_all, <Py_ssize_t>D * G * sizeof(floating))
            memcpy(dWh, dW_all + <Py_ssize_t>D * G, <Py_ssize_t>H * G * sizeof(floating))
            memcpy(db, dW_all + <Py_ssize_t>(D + H) * G, G * sizeof(floating))
        else:  # BLAS
            memcpy(h_prev_all, h0, BH * sizeof(floating))
            memcpy(h_prev_all + BH, h, (T - 1) * BH * sizeof(floating))
            # dx = da W_x^T, one GEMM over all T*B rows
            _gemm(c'N', c'N', TB, D, G, 1, dgates, G, WxT, D, 0, dx, D)
            # dW_x = x^T da, one GEMM summing over all steps and the batch
            _gemm(c'T', c'N', D, G, TB, 1, x, D, dgates, G, 0, dWx, G)
            # dW_h = [h_0, h_1 .. h_{T-1}]^T da (the h each step multiplied W_h with), one GEMM
            _gemm(c'T', c'N', H, G, TB, 1, h_prev_all, H, dgates, G, 0, dWh, G)
            # db = sum over steps and batch of da
            memset(db, 0, G * sizeof(floating))
            for r in range(TB):
                for j in range(G):
                    db[j] += dgates[r * G + j]


cdef void _infer(int T, int B, int D, int H, floating *x, floating *h, floating *c,
                 floating *Wx, floating *Wh, floating *b, floating *h_out, floating *gates,
                 floating *c_spare, floating *Whp) noexcept:
    cdef Py_ssize_t t, BH = <Py_ssize_t>B * H, BG = <Py_ssize_t>B * 4 * H
    cdef floating *h_prev = h
    cdef floating *c_prev = c
    cdef floating *c_next = c_spare
    cdef floating *swap
    with nogil:
        if Whp != NULL:
            _pack(H, 4 * H, Wh, 4 * H, 1, Whp)
        _input_projection(T, B, D, H, x, Wx, b, gates, <floating *>NULL, 1)
        for t in range(T):
            _recurrent(B, H, h_prev, Wh, Whp, gates + t * BG)
            # c_t goes to the other buffer: the cell reads c_{t-1} while it writes c_t
            _cell_forward(B, H, gates + t * BG, c_prev, c_next, h_out + t * BH)
            h_prev = h_out + t * BH
            swap = c_prev
            c_prev = c_next
            c_next = swap
        if c_prev != c:
            memcpy(c, c_prev, BH * sizeof(floating))
        memcpy(h, h_out + (T - 1) * BH, BH * sizeof(floating))


cdef inline float *_f(object a):
    return <float *>cnp.PyArray_DATA(a)


cdef inline double *_d(object a):
    return <double *>cnp.PyArray_DATA(a)


cdef inline float *_f_or_null(object a):
    return NULL if a is None else <float *>cnp.PyArray_DATA(a)


cdef inline double *_d_or_null(object a):
    return NULL if a is None else <double *>cnp.PyArray_DATA(a)


# ----------------------------------------------------------------------------------------------
# The Python-visible functions (the contract in CONTRACTS.md, "Compiled kernel module").
# ----------------------------------------------------------------------------------------------
def lstm_forward(x, h0, c0, Wx, Wh, b):
    """Run the LSTM over a whole sequence, keeping what the backward pass needs.

    Parameters
    ----------
    x : ndarray (T, B, D);  h0, c0 : ndarray (B, H);  Wx : (D, 4H);  Wh : (H, 4H);  b : (4H,)
        C-contiguous, one dtype (float32 or float64); gate blocks [i, f, g, o].

    Returns
    -------
    h : ndarray (T, B, H)
        Every hidden state h_t :eq:`lstm-hidden`.
    c : ndarray (T, B, H)
        Every cell state c_t :eq:`lstm-cell`.
    gates : ndarray (T, B, 4H)
        The activated gates [i, f, g, o] of every step :eq:`lstm-gates`.
    """
    T, B, D, H, dt = _check_params(x, Wx, Wh, b)
    _check("h0", h0, (B, H), dt, "(B, H)")
    _check("c0", c0, (B, H), dt, "(B, H)")
    h = np.empty((T, B, H), dtype=dt)
    c = np.empty((T, B, H), dtype=dt)
    gates = np.empty((T, B, 4 * H), dtype=dt)
    Whp = _packed_buffer("Wh", H, 4 * H, dt) if T >= _packed_min_steps else None
    Wxp = _packed_buffer("Wx", D, 4 * H, dt) if Whp is not None and _own_gemm else None
    cdef int iT = T, iB = B, iD = D, iH = H, parts = _parts(B, Whp is not None)
    if dt == np.float32:
        _forward(iT, iB, iD, iH, _f(x), _f(h0), _f(c0), _f(Wx), _f(Wh), _f(b),
                 _f(h), _f(c), _f(gates), _f_or_null(Whp), parts, _f_or_null(Wxp), _threads)
    else:
        _forward(iT, iB, iD, iH, _d(x), _d(h0), _d(c0), _d(Wx), _d(Wh), _d(b),
                 _d(h), _d(c), _d(gates), _d_or_null(Whp), parts, _d_or_null(Wxp), _threads)
    return h, c, gates


def lstm_backward(dh, dhT, dcT, x, h0, c0, Wx, Wh, h, c, gates):
    """Back-propagate through time over the whole sequence (:eq:`lstm-bptt-h`, :eq:`lstm-bptt-c`,
    :eq:`lstm-bptt-gates`).

    Parameters
    ----------
    dh : ndarray (T, B, H)
        Upstream gradient of every h_t.
    dhT, dcT : ndarray (B, H)
        Gradients of the final state (zeros when it was not used).
    x, h0, c0, Wx, Wh : as given to ``lstm_forward``.
    h, c, gates : ndarray
        What ``lstm_forward`` returned.

    Returns
    -------
    dx (T, B, D), dh0 (B, H), dc0 (B, H), dWx (D, 4H), dWh (H, 4H), db (4H,)
    """
    T, B, D, H, dt = _check_params(x, Wx, Wh, None)
    _check("dh", dh, (T, B, H), dt, "(T, B, H)")
    _check("dhT", dhT, (B, H), dt, "(B, H)")
    _check("dcT", dcT, (B, H), dt, "(B, H)")
    _check("h0", h0, (B, H), dt, "(B, H)")
    _check("c0", c0, (B, H), dt, "(B, H)")
    _check("h", h, (T, B, H), dt, "(T, B, H)")
    _check("c", c, (T, B, H), dt, "(T, B, H)")
    _check("gates", gates, (T, B, 4 * H), dt, "(T, B, 4H)")
    dx = np.empty((T, B, D), dtype=dt)
    dh0 = np.empty((B, H), dtype=dt)
    dc0 = np.empty((B, H), dtype=dt)
    dWx = np.empty((D, 4 * H), dtype=dt)
    dWh = np.empty((H, 4 * H), dtype=dt)
    db = np.empty((4 * H,), dtype=dt)
    dgates = _scratch_buffer("dgates", T * B * 4 * H, dt)
    dh_t = _scratch_buffer("dh_t", B * H, dt)
    # W^T as C-contiguous copies: OpenBLAS multiplies by them ~1.5x faster than by W with trans='T'
    if T >= _packed_min_steps:  # W_h^T packed (from W_h, inside _backward) for the per-step product
        WhT, WhTp = None, _packed_buffer("WhT", 4 * H, H, dt)
    else:
        WhT, WhTp = np.ascontiguousarray(Wh.T), None
    if WhTp is not None and _own_gemm:  # room for packed W_x^T, then for packed da
        WxT, big = None, _packed_buffer("big", max(T * B, 4 * H), max(4 * H, D), dt)
        h_prev_all = _scratch_buffer("h_prev", T * B * (D + H + 1), dt)  # [x_t, h_{t-1}, 1] rows
        dW_all = _scratch_buffer("dW", (D + H + 1) * 4 * H, dt)
    else:
        WxT, big, dW_all = np.ascontiguousarray(Wx.T), None, None
        h_prev_all = _scratch_buffer("h_prev", T * B * H, dt)
    zeros = np.zeros(max(4 * H, D), dtype=dt)
    cdef int iT = T, iB = B, iD = D, iH = H, parts = _parts(B, WhTp is not None)
    if dt == np.float32:
        _backward(iT, iB, iD, iH, _f(dh), _f(dhT), _f(dcT), _f(x), _f(h0), _f(c0), _f_or_null(WxT),
                  _f_or_null(WhT), _f(h), _f(c), _f(gates), _f(dx), _f(dh0), _f(dc0), _f(dWx),
                  _f(dWh), _f(db), _f(dgates), _f(dh_t), _f(h_prev_all), _f(Wh), _f_or_null(WhTp),
                  parts, _f(Wx), _f_or_null(big), _f_or_null(dW_all), _f(zeros), _threads)
    else:
        _backward(iT, iB, iD, iH, _d(dh), _d(dhT), _d(dcT), _d(x), _d(h0), _d(c0), _d_or_null(WxT),
                  _d_or_null(WhT), _d(h), _d(c), _d(gates), _d(dx), _d(dh0), _d(dc0), _d(dWx),
                  _d(dWh), _d(db), _d(dgates), _d(dh_t), _d(h_prev_all), _d(Wh), _d_or_null(WhTp),
                  parts, _d(Wx), _d_or_null(big), _d_or_null(dW_all), _d(zeros), _threads)
    return dx, dh0, dc0, dWx, dWh, db


def lstm_infer(x, h, c, Wx, Wh, b):
    """Run the LSTM over a chunk for inference, carrying the state in place (streaming).

    Parameters
    ----------
    x : ndarray (T, B, D)
        The next T frames.
    h, c : ndarray (B, H)
        The state after the previous chunk; overwritten with the state after this one.
    Wx, Wh, b : ndarray (D, 4H), (H, 4H), (4H,)

    Returns
    -------
    h_out : ndarray (T, B, H)
        h_t of every step of the chunk. Nothing is cached: there is no backward.
    """
    T, B, D, H, dt = _check_params(x, Wx, Wh, b)
    _check("h", h, (B, H), dt, "(B, H)", writeable=True)
    _check("c", c, (B, H), dt, "(B, H)", writeable=True)
    if np.may_share_memory(h, c) or np.may_share_memory(x, h) or np.may_share_memory(x, c):
        raise MinikwsError("h, c: the state arrays must not overlap each other or x")
    h_out = np.empty((T, B, H), dtype=dt)
    gates = _scratch_buffer("gates", T * B * 4 * H, dt)
    c_spare = _scratch_buffer("c", B * H, dt)
    Whp = _packed_buffer("Wh", H, 4 * H, dt) if T >= _packed_min_steps else None
    cdef int iT = T, iB = B, iD = D, iH = H
    if dt == np.float32:
        _infer(iT, iB, iD, iH, _f(x), _f(h), _f(c), _f(Wx), _f(Wh), _f(b), _f(h_out),
               _f(gates), _f(c_spare), _f_or_null(Whp))
    else:
        _infer(iT, iB, iD, iH, _d(x), _d(h), _d(c), _d(Wx), _d(Wh), _d(b), _d(h_out),
               _d(gates), _d(c_spare), _d_or_null(Whp))
    return h_out
