# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled LSTM: a whole sequence, forward and back through time, in C without the GIL.

This is the fast twin of the NumPy reference in ``minikws.nn.lstm`` and computes the same thing; read
that one first. Users reach it through ``minikws.nn.lstm_forward(..., backend="cython")``, which
validates the arguments and passes C-contiguous arrays of one dtype (float32 or float64) here.

Per sequence, Python is entered once; inside, the work is

    forward   a = b + x W_x                 one product over all T steps         :eq:`lstm-gates`
              for t:  a_t += h_{t-1} W_h    one small product per step (B x H by H x 4H)
                      fused cell in C: gates, c_t, h_t           :eq:`lstm-cell`, :eq:`lstm-hidden`
    backward  for t = T-1 .. 0:
                      dh_t += da_{t+1} W_h^T  one small product per step      :eq:`lstm-bptt-h`
                      fused cell backward in C: da_t, dc_{t-1}  :eq:`lstm-bptt-c`, :eq:`lstm-bptt-gates`
              dx = da W_x^T,  [dW_x; dW_h; db] = [x, H_prev, 1]^T da      two products over all steps
                      (H_prev stacks the h_{t-1} each step multiplied W_h with: h0, h_1 .. h_{T-1})

Every matrix product is one of csrc's two: the packed micro-kernel of csrc/lstm_gemm.c (W packed once
into column panels, then register-blocked), or, for calls too short to pay for packing (fewer than
_packed_min_steps steps: streaming chunks of a frame or two), the plain C loop of csrc/lstm_cell.c.
No BLAS: on this machine the micro-kernel is as fast as OpenBLAS on one thread and does not stall on a
busy one (benchmarks/README.md, "LSTM").

Threads: the loops over t split the batch rows over up to threads() threads (rows are independent
sequences), and the products over all steps split their column panels or rows; the threads come from
a persistent pool (csrc/parallel.c). No sum is split between threads, so the results are bitwise the
same whatever the number of threads.

Shapes: x (T, B, D); h0, c0 (B, H); Wx (D, 4H); Wh (H, 4H); b (4H,); h, c (T, B, H);
gates (T, B, 4H) holding the ACTIVATED gates [i, f, g, o] (PyTorch's block order).
"""
import os
import threading

import numpy as np

cimport numpy as cnp
from cython cimport floating
from libc.stddef cimport ptrdiff_t
from libc.string cimport memcpy, memset

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
    enum: MINIKWS_MAX_PARTS
    ctypedef void (*minikws_part_fn)(void *arg, int part, int parts) noexcept nogil
    int minikws_parallel(int parts, minikws_part_fn fn, void *arg)


# The per-step products h_{t-1} W_h and da_t W_h^T, and the products over all steps, go through
# csrc/lstm_gemm.c with the right operand packed once per call, when the call has at least this many
# steps to share the packing (which costs about two steps' products). Shorter calls (streaming chunks
# of a frame or two) use the plain C loop of lstm_cell.c, which needs no packing.
cdef int _packed_min_steps = 4


def _machine_threads():
    """The CPUs this process may use, or MINIKWS_THREADS when it is set (at most MINIKWS_MAX_PARTS)."""
    value = os.environ.get("MINIKWS_THREADS", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise MinikwsError(f"MINIKWS_THREADS: expected a positive integer, got {value!r}")
        n = int(value)
    elif hasattr(os, "sched_getaffinity"):
        n = len(os.sched_getaffinity(0))
    else:
        n = os.cpu_count() or 1
    return max(1, min(n, MINIKWS_MAX_PARTS))


# Training calls split the batch over up to _threads threads, each with at least _min_rows rows (see
# _parts), and the products over all steps over up to _threads threads.
cdef int _threads = _machine_threads()
cdef int _min_rows = 8


def isa():
    """The instruction set the fused cell runs with on this CPU (for ``minikws info``)."""
    return minikws_lstm_cell_isa().decode()


def gemm_level():
    """The per-step product's micro-kernel: 2 = AVX-512, 1 = AVX2+FMA, 0 = portable C."""
    return minikws_gemm_level()


def threads():
    """How many threads a call may use: MINIKWS_THREADS when set, else the CPUs this process may use."""
    return _threads


def _set_gemm_level(int level):
    """Use micro-kernel ``level`` (lowered to what the CPU has; < 0: the best); return the old one.

    For tests and benchmarks only: it changes a process-wide setting.
    """
    old = minikws_gemm_level()
    minikws_gemm_set_level(level)
    return old


def _set_packed_min_steps(int n):
    """Set how many steps a call needs to use the packed products (tests, benchmarks)."""
    global _packed_min_steps
    old = _packed_min_steps
    _packed_min_steps = n
    return old


def _set_threads(int threads, int min_rows=8):
    """Split training batches over up to ``threads`` threads of >= ``min_rows`` rows; return the old
    (threads, min_rows). For tests and benchmarks: it changes a process-wide setting."""
    global _threads, _min_rows
    old = (_threads, _min_rows)
    _threads = max(1, min(threads, MINIKWS_MAX_PARTS))
    _min_rows = max(1, min_rows)
    return old


cdef int _parts(int B, bint packed):
    """How many threads the recurrence of a batch of B rows runs on."""
    if not packed:  # a short call: not worth waking the pool
        return 1
    return max(1, min(_threads, B // _min_rows))


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


_INT_MAX = 2**31 - 1  # sizes are passed to C as int


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
    if T * B > _INT_MAX or 4 * H > _INT_MAX or D + H + 1 > _INT_MAX:
        raise MinikwsError(f"x: sizes T*B = {T * B}, 4H = {4 * H}, D = {D} exceed C's int range")
    dt = x.dtype
    _check("x", x, (T, B, D), dt, "(T, B, D)")
    _check("Wx", Wx, (D, 4 * H), dt, "(D, 4H)")
    _check("Wh", Wh, (H, 4 * H), dt, "(H, 4H)")
    if b is not None:
        _check("b", b, (4 * H,), dt, "(4H,)")
    return T, B, D, H, dt


# ----------------------------------------------------------------------------------------------
# The products and the cell, for either dtype (Cython's fused type `floating` = float or double).
# ----------------------------------------------------------------------------------------------
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


cdef inline void _small_gemm(int M, int K, int N, floating *x, floating *W,
                             floating *y) noexcept nogil:
    """y (M, N) += x (M, K) W (K, N), W C-contiguous: the plain C loop for short calls."""
    if floating is float:
        minikws_small_gemm_f(M, K, N, x, W, 1, y)
    else:
        minikws_small_gemm_d(M, K, N, x, W, 1, y)


cdef inline void _step_product(int M, int K, int N, floating *x, floating *W, floating *Wp,
                               floating *y) noexcept nogil:
    """y (M, N) += x (M, K) W (K, N) for one step: packed W (Wp) when there is one, else the C loop.

    x and y are C-contiguous (M, K) and (M, N) blocks; W is (K, N) C-contiguous.
    """
    if Wp != NULL:
        _packed_gemm(M, K, N, x, K, Wp, y, N)
    else:
        _small_gemm(M, K, N, x, W, y)


cdef inline void _big_gemm(int M, int K, int N, floating *x, Py_ssize_t rsx, Py_ssize_t csx,
                           floating *W, Py_ssize_t rs, Py_ssize_t cs, floating *Wp, floating *y0,
                           floating *y, int threads) noexcept nogil:
    """y (M, N) = y0 + x (M, K) W (K, N) on up to `threads` threads, W packed into the scratch Wp.

    y0 (N,) is added to every row. Element (i, k) of x is x[i * rsx + k * csx], element (k, j) of W
    is W[k * rs + j * cs], y is C-contiguous. For the products over all steps.
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

    By the packed micro-kernel with W_x packed into Wxp, or (Wxp NULL, short calls) the C loop.
    """
    cdef Py_ssize_t r, G = 4 * H
    if Wxp != NULL:
        _big_gemm(T * B, D, G, x, D, 1, Wx, G, 1, Wxp, b, a, threads)
        return
    for r in range(<Py_ssize_t>T * B):
        memcpy(a + r * G, b, G * sizeof(floating))
    _small_gemm(T * B, D, G, x, Wx, a)


# ----------------------------------------------------------------------------------------------
# The sequence loops, without the GIL. The rows of the batch are independent sequences through the
# whole recurrence, so the loops over t run on a range of rows [r0, r1); with `parts` > 1 the batch
# is split into that many ranges, each run by its own thread (csrc/parallel.c) from t = 0 to T - 1
# (or back), with no synchronisation until the end. A row range of a (B, H) or (B, 4H) block of one
# step is itself contiguous, so the cell and the products take it as a smaller batch.
# ----------------------------------------------------------------------------------------------
ctypedef struct _Seq:
    # One call of lstm_forward / lstm_backward: its sizes and arrays (pointers to float or double;
    # C-contiguous, (B, .) blocks per step). Fields a direction does not use stay NULL.
    int T, B, D, H
    int parts            # threads the loops over t run on (_parts)
    int threads          # threads the products over all steps may use
    void *x              # (T, B, D)
    void *h0             # (B, H)
    void *c0             # (B, H)
    void *Wx             # (D, 4H)
    void *Wh             # (H, 4H)     for the unpacked per-step product, and packed into Whp/WhTp
    void *b              # (4H,)       forward
    void *h              # (T, B, H)   h_t: written forward, read backward
    void *c              # (T, B, H)   c_t
    void *gates          # (T, B, 4H)  forward: pre-activations in, activated gates out
    void *Whp            # packed W_h (forward), or NULL: unpacked product
    void *Wxp            # packed W_x (forward), or NULL: short call, C loop
    void *dh             # (T, B, H)   upstream dL/dh_t (backward)
    void *dhT            # (B, H)
    void *dcT            # (B, H)
    void *WhT            # (4H, H)     W_h^T, C-contiguous, for the unpacked product (backward)
    void *WhTp           # packed W_h^T (backward), or NULL: unpacked product
    void *dgates         # (T, B, 4H)  dL/da_t
    void *dh_t           # (B, H)      scratch: the total dL/dh_t of the current step
    void *dc             # (B, H)      dL/dc_t carried from step to step; ends as dc0
    void *dh0            # (B, H)
    void *xh             # (T*B, D+H+1) rows [x_t, h_{t-1}, 1]: the weight gradients' left operand
    void *big            # scratch for the packed right operand of dx and of the weight gradients
    void *dW_all         # (D+H+1, 4H) [dW_x; dW_h; db]
    void *zeros          # (max(4H, D),) the y0 of products that start from 0
    void *dx             # (T, B, D)
    void *dWx            # (D, 4H)
    void *dWh            # (H, 4H)
    void *db             # (4H,)


cdef inline int _row(int B, int part, int parts) noexcept nogil:
    """First row of part `part` of `parts` (part = parts gives B)."""
    return <int>((<long long>B * part) // parts)


cdef void _forward_steps(_Seq *s, int r0, int r1, floating *kind) noexcept nogil:
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
        # a_t += h_{t-1} W_h  [lstm-gates], then the cell
        _step_product(nb, H, 4 * H, h_prev, <floating *>s.Wh, <floating *>s.Whp, gates + t * BG)
        _cell_forward(nb, H, gates + t * BG, c_prev, c + t * BH, h + t * BH)
        h_prev = h + t * BH
        c_prev = c + t * BH


cdef void _backward_steps(_Seq *s, int r0, int r1, floating *kind) noexcept nogil:
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
    for t in range(T):  # this part's rows [x_t, h_{t-1}, 1] of the weight gradients' left operand
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
        else:
            _step_product(nb, G, H, dgates + (t + 1) * BG, WhT, WhTp, dh_t)
        _cell_backward(nb, H, gates + t * BG, c0 if t == 0 else c + (t - 1) * BH, c + t * BH,
                       dh_t, dc, dgates + t * BG)
    # dh0 = da_0 W_h^T
    memset(dh0, 0, nH * sizeof(floating))
    _step_product(nb, G, H, dgates, WhT, WhTp, dh0)


cdef void _forward_part_f(void *s, int part, int parts) noexcept nogil:
    cdef int B = (<_Seq *>s).B
    _forward_steps(<_Seq *>s, _row(B, part, parts), _row(B, part + 1, parts), <float *>NULL)


cdef void _forward_part_d(void *s, int part, int parts) noexcept nogil:
    cdef int B = (<_Seq *>s).B
    _forward_steps(<_Seq *>s, _row(B, part, parts), _row(B, part + 1, parts), <double *>NULL)


cdef void _backward_part_f(void *s, int part, int parts) noexcept nogil:
    cdef int B = (<_Seq *>s).B
    _backward_steps(<_Seq *>s, _row(B, part, parts), _row(B, part + 1, parts), <float *>NULL)


cdef void _backward_part_d(void *s, int part, int parts) noexcept nogil:
    cdef int B = (<_Seq *>s).B
    _backward_steps(<_Seq *>s, _row(B, part, parts), _row(B, part + 1, parts), <double *>NULL)


cdef void _forward(_Seq *s, floating *kind) noexcept nogil:
    """The forward pass over the sequence s (`kind` only picks the dtype)."""
    cdef int H = s.H
    if s.Whp != NULL:
        _pack(H, 4 * H, <floating *>s.Wh, 4 * H, 1, <floating *>s.Whp)      # once for all steps
    _input_projection(s.T, s.B, s.D, H, <floating *>s.x, <floating *>s.Wx, <floating *>s.b,
                      <floating *>s.gates, <floating *>s.Wxp, s.threads)
    if s.parts <= 1:
        _forward_steps(s, 0, s.B, kind)
    elif floating is float:
        minikws_parallel(s.parts, _forward_part_f, s)
    else:
        minikws_parallel(s.parts, _forward_part_d, s)


cdef void _backward(_Seq *s, floating *kind) noexcept nogil:
    """The backward pass over the sequence s: dgates, then dx and [dW_x; dW_h; db]."""
    cdef int T = s.T, B = s.B, D = s.D, H = s.H, G = 4 * s.H, TB = s.T * s.B
    cdef floating *dW_all = <floating *>s.dW_all
    cdef floating *big = <floating *>s.big
    cdef floating *zeros = <floating *>s.zeros
    if s.WhTp != NULL:
        _pack(G, H, <floating *>s.Wh, 1, G, <floating *>s.WhTp)          # W_h^T, packed once
    if s.parts <= 1:
        _backward_steps(s, 0, B, kind)
    elif floating is float:
        minikws_parallel(s.parts, _backward_part_f, s)
    else:
        minikws_parallel(s.parts, _backward_part_d, s)
    # dx = da W_x^T over all T*B rows (W_x^T packed from W_x into `big`)
    _big_gemm(TB, G, D, <floating *>s.dgates, G, 1, <floating *>s.Wx, 1, G, big, zeros,
              <floating *>s.dx, s.threads)
    # [dW_x; dW_h; db] = [x, H_prev, 1]^T da in one product: xh holds the T*B rows [x_t, h_{t-1}, 1]
    # (written by the loops above), read transposed in place; da is packed into `big`
    _big_gemm(D + H + 1, TB, G, <floating *>s.xh, 1, D + H + 1, <floating *>s.dgates, G, 1, big,
              zeros, dW_all, s.threads)
    memcpy(s.dWx, dW_all, <Py_ssize_t>D * G * sizeof(floating))
    memcpy(s.dWh, dW_all + <Py_ssize_t>D * G, <Py_ssize_t>H * G * sizeof(floating))
    memcpy(s.db, dW_all + <Py_ssize_t>(D + H) * G, G * sizeof(floating))


cdef void _infer(int T, int B, int D, int H, floating *x, floating *h, floating *c,
                 floating *Wx, floating *Wh, floating *b, floating *h_out, floating *gates,
                 floating *c_spare, floating *Whp, floating *Wxp) noexcept:
    cdef Py_ssize_t t, BH = <Py_ssize_t>B * H, BG = <Py_ssize_t>B * 4 * H
    cdef floating *h_prev = h
    cdef floating *c_prev = c
    cdef floating *c_next = c_spare
    cdef floating *swap
    with nogil:
        if Whp != NULL:
            _pack(H, 4 * H, Wh, 4 * H, 1, Whp)
        _input_projection(T, B, D, H, x, Wx, b, gates, Wxp, 1)
        for t in range(T):
            _step_product(B, H, 4 * H, h_prev, Wh, Whp, gates + t * BG)
            # c_t goes to the other buffer: the cell reads c_{t-1} while it writes c_t
            _cell_forward(B, H, gates + t * BG, c_prev, c_next, h_out + t * BH)
            h_prev = h_out + t * BH
            swap = c_prev
            c_prev = c_next
            c_next = swap
        if c_prev != c:
            memcpy(c, c_prev, BH * sizeof(floating))
        memcpy(h, h_out + (T - 1) * BH, BH * sizeof(floating))


cdef inline void *_ptr(object a):
    return NULL if a is None else cnp.PyArray_DATA(a)


# ----------------------------------------------------------------------------------------------
# The Python-visible functions, called by minikws.nn.lstm (lstm_forward, lstm_backward) and
# minikws.streaming (lstm_infer) with arguments checked again here.
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
    packed = T >= _packed_min_steps
    Whp = _packed_buffer("Wh", H, 4 * H, dt) if packed else None
    Wxp = _packed_buffer("Wx", D, 4 * H, dt) if packed else None
    cdef _Seq s
    memset(&s, 0, sizeof(s))
    s.T, s.B, s.D, s.H = T, B, D, H
    s.parts, s.threads = _parts(B, packed), _threads
    s.x, s.h0, s.c0, s.Wx, s.Wh, s.b = _ptr(x), _ptr(h0), _ptr(c0), _ptr(Wx), _ptr(Wh), _ptr(b)
    s.h, s.c, s.gates, s.Whp, s.Wxp = _ptr(h), _ptr(c), _ptr(gates), _ptr(Whp), _ptr(Wxp)
    if dt == np.float32:
        with nogil:
            _forward(&s, <float *>NULL)
    else:
        with nogil:
            _forward(&s, <double *>NULL)
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
    packed = T >= _packed_min_steps
    # the per-step product da_t W_h^T: W_h^T packed (from W_h, inside _backward), or a C-contiguous
    # copy for the C loop of short calls
    WhTp = _packed_buffer("WhT", 4 * H, H, dt) if packed else None
    WhT = None if packed else np.ascontiguousarray(Wh.T)
    cdef _Seq s
    memset(&s, 0, sizeof(s))
    s.T, s.B, s.D, s.H = T, B, D, H
    s.parts, s.threads = _parts(B, packed), _threads
    s.x, s.h0, s.c0, s.Wx, s.Wh = _ptr(x), _ptr(h0), _ptr(c0), _ptr(Wx), _ptr(Wh)
    s.h, s.c, s.gates, s.dh, s.dhT, s.dcT = _ptr(h), _ptr(c), _ptr(gates), _ptr(dh), _ptr(dhT), _ptr(dcT)
    s.WhT, s.WhTp = _ptr(WhT), _ptr(WhTp)
    s.dgates = _ptr(_scratch_buffer("dgates", T * B * 4 * H, dt))
    s.dh_t = _ptr(_scratch_buffer("dh_t", B * H, dt))
    s.dc, s.dh0, s.dx, s.dWx, s.dWh, s.db = _ptr(dc0), _ptr(dh0), _ptr(dx), _ptr(dWx), _ptr(dWh), _ptr(db)
    s.xh = _ptr(_scratch_buffer("xh", T * B * (D + H + 1), dt))   # rows [x_t, h_{t-1}, 1]
    s.big = _ptr(_packed_buffer("big", max(T * B, 4 * H), max(4 * H, D), dt))
    s.dW_all = _ptr(_scratch_buffer("dW", (D + H + 1) * 4 * H, dt))
    zeros = np.zeros(max(4 * H, D), dtype=dt)
    s.zeros = _ptr(zeros)
    if dt == np.float32:
        with nogil:
            _backward(&s, <float *>NULL)
    else:
        with nogil:
            _backward(&s, <double *>NULL)
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
    packed = T >= _packed_min_steps
    Whp = _packed_buffer("Wh", H, 4 * H, dt) if packed else None
    Wxp = _packed_buffer("Wx", D, 4 * H, dt) if packed else None
    cdef int iT = T, iB = B, iD = D, iH = H
    if dt == np.float32:
        _infer(iT, iB, iD, iH, <float *>_ptr(x), <float *>_ptr(h), <float *>_ptr(c),
               <float *>_ptr(Wx), <float *>_ptr(Wh), <float *>_ptr(b), <float *>_ptr(h_out),
               <float *>_ptr(gates), <float *>_ptr(c_spare), <float *>_ptr(Whp),
               <float *>_ptr(Wxp))
    else:
        _infer(iT, iB, iD, iH, <double *>_ptr(x), <double *>_ptr(h), <double *>_ptr(c),
               <double *>_ptr(Wx), <double *>_ptr(Wh), <double *>_ptr(b), <double *>_ptr(h_out),
               <double *>_ptr(gates), <double *>_ptr(c_spare), <double *>_ptr(Whp),
               <double *>_ptr(Wxp))
    return h_out
