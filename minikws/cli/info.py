"""``minikws info``: what this installation runs on.

Prints the versions of minikws, NumPy, SciPy and Python, which LSTM backend ``backend="auto"`` picks
(and why, when the compiled kernel is missing), the instruction set of the kernel's fused cell, its
matrix-product micro-kernel and thread count, the BLAS libraries NumPy and SciPy were built with (the
kernel falls back on SciPy's for short calls), and the thread counts that decide how fast the matrix
products run. ``--json`` prints the same as one JSON object.
"""
import json
import os
import platform


def add_parser(p):
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--model", metavar="MODEL.npz",
                   help="also describe a model file: task, size, classes, and any pruning or int8")


def _blas_of(module):
    """{"name", "version", "config"} of the BLAS a NumPy-like module was built with."""
    try:
        config = module.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
    except Exception as exc:  # old or unusual builds: say so instead of failing the command
        return {"name": "unknown", "version": "unknown", "config": f"not reported ({exc})"}
    return {
        "name": blas.get("name", "unknown"),
        "version": blas.get("version", "unknown"),
        "config": " ".join(str(blas.get("openblas configuration", "")).split()),
    }


def _threads():
    """CPU count, the thread variables set, and the pools actually loaded (if threadpoolctl is)."""
    info = {"cpu_count": os.cpu_count()}
    for var in ("MINIKWS_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE"):
        if os.environ.get(var):
            info[var] = os.environ[var]
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info["blas_threads"] = (
            f"{info.get('OPENBLAS_NUM_THREADS') or info.get('OMP_NUM_THREADS') or os.cpu_count()}"
            " (OpenBLAS default: one per core unless OPENBLAS_NUM_THREADS is set)"
        )
    else:
        pools = threadpool_info()
        info["blas_threads"] = ", ".join(
            f"{p.get('internal_api')} {p.get('num_threads')} "
            f"({os.path.basename(p.get('filepath', ''))}, {p.get('architecture', '?')})"
            for p in pools
        ) or "no BLAS pool loaded"
    return info


def collect():
    """Everything ``minikws info`` reports, as a dict."""
    import warnings

    import numpy
    import scipy
    import scipy.linalg  # noqa: F401  (loads SciPy's BLAS, so its thread pool is visible)

    import minikws
    from minikws import _backend

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallback warning is reported in the table instead
        backend = _backend.resolve("auto")
    kernel = _backend.kernel()
    if kernel is not None:
        level = {2: "AVX-512", 1: "AVX2+FMA", 0: "portable C"}.get(kernel.gemm_level(), "unknown")
        lstm = {"backend": backend, "kernel": kernel.__file__, "cell_isa": kernel.isa(),
                "gemm": f"own packed micro-kernel ({level}); a plain C loop for calls of < 4 steps",
                "kernel_threads": kernel.threads()}
    else:
        lstm = {"backend": backend, "kernel": f"not built ({_backend._kernel_error})",
                "cell_isa": "-"}
    return {
        "versions": {
            "minikws": minikws.__version__,
            "numpy": numpy.__version__,
            "scipy": scipy.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "lstm": lstm,
        "blas": {"numpy": _blas_of(numpy), "scipy": _blas_of(scipy)},
        "threads": _threads(),
    }


def _model_info(path):
    from minikws import compress, io

    model = io.load_model(path)
    return {"file": path, "bytes": os.path.getsize(path), "what": compress.describe(model),
            "classes": " ".join(model.classes), "sample rate": model.sr, "parameters": model.num_parameters()}


def run(args):
    info = collect()
    if args.model:
        info["model"] = _model_info(args.model)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for section, values in info.items():
        print(f"{section}:")
        for key, value in values.items():
            if isinstance(value, dict):
                value = " ".join(str(v) for v in value.values() if v)
            print(f"  {key:<28} {value}")
    return 0
