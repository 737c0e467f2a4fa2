"""Which LSTM implementation runs: the readable NumPy reference or the compiled kernel.

``backend="numpy"`` always works. ``backend="cython"`` needs the extension ``minikws._lstm_kernel``
(built by ``pip install`` when a C compiler is present). ``backend="auto"`` takes the kernel when it is
built and NumPy otherwise, saying so once.
"""
import contextlib
import warnings

from minikws.errors import MinikwsError

BACKENDS = ("auto", "numpy", "cython")
_kernel = None
_kernel_error = None
_warned = False


def kernel():
    """Return the compiled kernel module, or ``None`` if it is not built."""
    global _kernel, _kernel_error
    if _kernel is None and _kernel_error is None:
        try:
            from minikws import _lstm_kernel
        except ImportError as exc:  # not built: no compiler, or a source checkout
            _kernel_error = exc
        else:
            _kernel = _lstm_kernel
    return _kernel


def resolve(backend):
    """Map ``"auto"``/``"numpy"``/``"cython"`` to the implementation that will run."""
    global _warned
    if backend not in BACKENDS:
        raise MinikwsError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    if backend == "numpy":
        return "numpy"
    if kernel() is not None:
        return "cython"
    if backend == "cython":
        raise MinikwsError(
            f"backend='cython': the compiled LSTM kernel is not built ({_kernel_error}); "
            "reinstall minikws with a C compiler available, or use backend='numpy'"
        )
    if not _warned:
        warnings.warn(
            "minikws: compiled LSTM kernel not available, using the NumPy backend", stacklevel=3
        )
        _warned = True
    return "numpy"


@contextlib.contextmanager
def kernel_threads(n):
    """Within the block, let the kernel's training calls use at most ``n`` threads (no-op without the
    kernel). The thread count changes no number (README's "Threads and data workers"), only who does
    the work: the trainer gives the kernel one thread while data workers keep the other cores busy,
    since a split batch waits for its slowest part and a part whose core a worker holds waits long."""
    k = kernel()
    if k is None:
        yield
        return
    old_threads, old_rows = k._set_threads(max(1, int(n)))
    try:
        yield
    finally:
        k._set_threads(old_threads, old_rows)
