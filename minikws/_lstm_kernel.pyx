# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled LSTM: a whole sequence, forward and back through time, in C without the GIL.

This is the fast twin of the NumPy reference in ``minikws.nn.lstm`` and computes the same thing; read
that one first. Users reach it through ``minikws.nn.lstm_forward(..., backend="cython")``, which
validates the arguments and passes C-contiguous arrays of one dtype (float32 or float64) here.

Per sequence, Python is entered once; inside, the work is

    forward   a = b + x W_x                 one GEMM over all T steps            [lstm-gates]
              for t:  a_t += h_{t-1} W_h    one small product per step (B x H by H x 4H),
                                            by csrc/lstm_gemm.c with W_h packed once
                      fused cell in C: gates, c_t, h_t                 [lstm-cell, lstm-hidden]
    backward  for t = T-1 .. 0:
                      dh_t += da_{t+1} W_h^T  one small product per step (W_h^T packed once)
                                                                                [lstm-bptt-h]
                      fused cell backward in C: da_t, dc_{t-1}         [lstm-bptt-c, -gates]
              dx = da W_x^T,  dW_x = x^T da,  dW_h = H_prev^T da             three GEMMs
                      (H_prev stacks the h_{t-1} each step multiplied W_h with: h0, h_1 .. h_{T-1})
              db = the sum of da over steps and batch

Shapes: x (T, B, D); h0, c0 (B, H); Wx (D, 4H); Wh (H, 4H); b (4H,); h, c (T, B, H);
gates (T, B, 4H) holding the ACTIVATED gates [i, f, g, o] (PyTorch's block order).

BLAS is Fortran, column-major; our arrays are row-major. A row-major (M, N) matrix is the same memory
as a column-major (N, M) one, its transpose, so C = A B (row-major) is computed as C^T = B^T A^T:
the same ``gemm`` call with the two operands swapped (``_gemm`` below does that once for all).
"""
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
                               ptrdiff_t ldx, const float *Wp, float *y, ptrdiff_t ldy)
    void minikws_packed_gemm_d(ptrdiff_t M, ptrdiff_t K, ptrdiff_t N, const double *x,
                               ptrdiff_t ldx, const double *Wp, double *y, ptrdiff_t ldy)
    int minikws_gemm_level()
    int minikws_gemm_set_level(int level)


# The per-step products h_{t-1} W_h and da_t W_h^T go through csrc/lstm_gemm.c, with W_h (or W_h^T)
# packed once per call, when the call has at least this many steps to share the packing (which costs
# about two steps' products). Shorter calls (streaming chunks of a few frames) use the plain C loop
# of lstm_cell.c for batches up to _small_batch rows and BLAS for larger ones (see
# benchmarks/README.md: for B = 1 a call into BLAS costs more than the arithmetic).
cdef int _packed_min_steps = 4
cdef int _small_batch = 1

_INT_MAX = 2**31 - 1  # BLAS (LP64) takes sizes as C int


def isa():
    """The instruction set the fused cell runs with on this CPU (for ``minikws info``)."""
    return minikws_lstm_cell_isa().decode()


def gemm_level():
    """The per-step product's micro-kernel: 2 = AVX-512, 1 = AVX2+FMA, 0 = portable C."""
    return minikws_gemm_level()


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
    """a (B, 4H) += h_prev (B, H) W_h (H, 4H): the per-step product of [lstm-gates].

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
        minikws_packed_gemm_f(M, K, N, x, ldx, Wp, y, ldy)
    else:
        minikws_packed_gemm_d(M, K, N, x, ldx, Wp, y, ldy)


cdef object _packed_buffer(int K, int N, object dtype):
    """An empty buffer for a packed (K, N) matrix of dtype."""
    if dtype == np.float32:
        return np.empty(minikws_packed_size_f(K, N), dtype=dtype)
    return np.empty(minikws_packed_size_d(K, N), dtype=dtype)


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
                            floating *a) noexcept nogil:
    """a (T*B, 4H) = b + x (T*B, D) W_x: the input half of [lstm-gates] for every step at once."""
    cdef Py_ssize_t r, G = 4 * H
    for r in range(<Py_ssize_t>T * B):
        memcpy(a + r * G, b, G * sizeof(floating))
    _gemm(c'N', c'N', T * B, G, D, 1, x, D, Wx, G, 1, a, G)


# ----------------------------------------------------------------------------------------------
# The three sequence loops, without the GIL.
# ----------------------------------------------------------------------------------------------
cdef void _forward(int T, int B, int D, int H, floating *x, floating *h0, floating *c0,
                   floating *Wx, floating *Wh, floating *b, floating *h, floating *c,
                   floating *gates, floating *Whp) noexcept:
    cdef Py_ssize_t t, BH = <Py_ssize_t>B * H, BG = <Py_ssize_t>B * 4 * H
    cdef floating *h_prev = h0
    cdef floating *c_prev = c0
    with nogil:
        if Whp != NULL:
            _pack(H, 4 * H, Wh, 4 * H, 1, Whp)                           # once for all steps
        _input_projection(T, B, D, H, x, Wx, b, gates)
        for t in range(T):
            _recurrent(B, H, h_prev, Wh, Whp, gates + t * BG)            # a_t += h_{t-1} W_h
            _cell_forward(B, H, gates + t * BG, c_prev, c + t * BH, h + t * BH)
            h_prev = h + t * BH
            c_prev = c + t * BH


cdef void _backward(int T, int B, int D, int H, floating *dh, floating *dhT, floating *dcT,
                    floating *x, floating *h0, floating *c0, floating *WxT, floating *WhT,
                    floating *h, floating *c, floating *gates, floating *dx, floating *dh0,
                    floating *dc0, floating *dWx, floating *dWh, floating *db,
                    floating *dgates, floating *dh_t, floating *h_prev_all,
                    floating *Wh, floating *WhTp) noexcept:
    cdef Py_ssize_t t, j, r, BH = <Py_ssize_t>B * H, G = 4 * H, BG = <Py_ssize_t>B * 4 * H
    cdef int TB = T * B
    cdef floating *dc = dc0            # dL/dc_t, carried from step to step; ends as dc0
    with nogil:
        if WhTp != NULL:
            _pack(G, H, Wh, 1, G, WhTp)                                  # W_h^T, packed once
        memcpy(dc, dcT, BH * sizeof(floating))
        for t in range(T - 1, -1, -1):
            # [lstm-bptt-h] the total dL/dh_t: the upstream dh[t] plus what h_t fed into step t+1
            memcpy(dh_t, dh + t * BH, BH * sizeof(floating))
            if t == T - 1:
                for j in range(BH):
                    dh_t[j] += dhT[j]
            elif WhTp != NULL:
                _packed_gemm(B, G, H, dgates + (t + 1) * BG, G, WhTp, dh_t, H)
            else:
                _gemm(c'N', c'N', B, H, G, 1, dgates + (t + 1) * BG, G, WhT, H, 1, dh_t, H)
            _cell_backward(B, H, gates + t * BG, c0 if t == 0 else c + (t - 1) * BH, c + t * BH,
                           dh_t, dc, dgates + t * BG)
        # dh0 = da_0 W_h^T
        if WhTp != NULL:
            memset(dh0, 0, BH * sizeof(floating))
            _packed_gemm(B, G, H, dgates, G, WhTp, dh0, H)
        else:
            _gemm(c'N', c'N', B, H, G, 1, dgates, G, WhT, H, 0, dh0, H)
        # dx = da W_x^T, one GEMM over all T*B rows
        _gemm(c'N', c'N', TB, D, G, 1, dgates, G, WxT, D, 0, dx, D)
        # dW_x = x^T da, one GEMM summing over all steps and the batch
        _gemm(c'T', c'N', D, G, TB, 1, x, D, dgates, G, 0, dWx, G)
        # dW_h = [h_0, h_1 .. h_{T-1}]^T da (the h each step multiplied W_h with), one GEMM
        memcpy(h_prev_all, h0, BH * sizeof(floating))
        memcpy(h_prev_all + BH, h, (T - 1) * BH * sizeof(floating))
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
        _input_projection(T, B, D, H, x, Wx, b, gates)
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
        Every hidden state h_t [lstm-hidden].
    c : ndarray (T, B, H)
        Every cell state c_t [lstm-cell].
    gates : ndarray (T, B, 4H)
        The activated gates [i, f, g, o] of every step [lstm-gates].
    """
    T, B, D, H, dt = _check_params(x, Wx, Wh, b)
    _check("h0", h0, (B, H), dt, "(B, H)")
    _check("c0", c0, (B, H), dt, "(B, H)")
    h = np.empty((T, B, H), dtype=dt)
    c = np.empty((T, B, H), dtype=dt)
    gates = np.empty((T, B, 4 * H), dtype=dt)
    Whp = _packed_buffer(H, 4 * H, dt) if T >= _packed_min_steps else None
    cdef int iT = T, iB = B, iD = D, iH = H
    if dt == np.float32:
        _forward(iT, iB, iD, iH, _f(x), _f(h0), _f(c0), _f(Wx), _f(Wh), _f(b),
                 _f(h), _f(c), _f(gates), _f_or_null(Whp))
    else:
        _forward(iT, iB, iD, iH, _d(x), _d(h0), _d(c0), _d(Wx), _d(Wh), _d(b),
                 _d(h), _d(c), _d(gates), _d_or_null(Whp))
    return h, c, gates


def lstm_backward(dh, dhT, dcT, x, h0, c0, Wx, Wh, h, c, gates):
    """Back-propagate through time over the whole sequence [lstm-bptt-h, -c, -gates].

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
    dgates = np.empty((T, B, 4 * H), dtype=dt)
    dh_t = np.empty((B, H), dtype=dt)
    # W^T as C-contiguous copies: OpenBLAS multiplies by them ~1.5x faster than by W with trans='T'
    WxT = np.ascontiguousarray(Wx.T)
    if T >= _packed_min_steps:  # W_h^T packed (from W_h, inside _backward) for the per-step product
        WhT, WhTp = None, _packed_buffer(4 * H, H, dt)
    else:
        WhT, WhTp = np.ascontiguousarray(Wh.T), None
    h_prev_all = np.empty((T, B, H), dtype=dt)
    cdef int iT = T, iB = B, iD = D, iH = H
    if dt == np.float32:
        _backward(iT, iB, iD, iH, _f(dh), _f(dhT), _f(dcT), _f(x), _f(h0), _f(c0), _f(WxT),
                  _f_or_null(WhT), _f(h), _f(c), _f(gates), _f(dx), _f(dh0), _f(dc0), _f(dWx),
                  _f(dWh), _f(db), _f(dgates), _f(dh_t), _f(h_prev_all), _f(Wh), _f_or_null(WhTp))
    else:
        _backward(iT, iB, iD, iH, _d(dh), _d(dhT), _d(dcT), _d(x), _d(h0), _d(c0), _d(WxT),
                  _d_or_null(WhT), _d(h), _d(c), _d(gates), _d(dx), _d(dh0), _d(dc0), _d(dWx),
                  _d(dWh), _d(db), _d(dgates), _d(dh_t), _d(h_prev_all), _d(Wh), _d_or_null(WhTp))
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
    gates = np.empty((T, B, 4 * H), dtype=dt)
    c_spare = np.empty((B, H), dtype=dt)
    Whp = _packed_buffer(H, 4 * H, dt) if T >= _packed_min_steps else None
    cdef int iT = T, iB = B, iD = D, iH = H
    if dt == np.float32:
        _infer(iT, iB, iD, iH, _f(x), _f(h), _f(c), _f(Wx), _f(Wh), _f(b), _f(h_out),
               _f(gates), _f(c_spare), _f_or_null(Whp))
    else:
        _infer(iT, iB, iD, iH, _d(x), _d(h), _d(c), _d(Wx), _d(Wh), _d(b), _d(h_out),
               _d(gates), _d(c_spare), _d_or_null(Whp))
    return h_out
