"""Time minikws' LSTM (NumPy and Cython backends) against torch.nn.LSTM, side by side in one run.

    python benchmarks/bench_lstm.py [--torch-python PATH] [--repeats N] [--rounds R] [--quick]

What is timed (float32, time-major, a 2-layer LSTM with D = 40 inputs, as in keyword spotting):
- a training step: forward and backward through both layers, B = 32, T = 100, H = 64, 128, 256
  (the loss is sum(h), so the upstream gradient is ones; torch's input needs no gradient);
- streaming inference: forward over T = 100 frames of one stream (B = 1), H = 128, without a cache
  (minikws: the kernel's stateful lstm_infer per layer, as minikws.streaming.Stream runs it; torch:
  under no_grad), once as one call
  over the 100 frames and once as a live stream gets them, one call per frame with the state carried
  (one lstm_infer call per layer and frame; torch: m(x[t:t+1], state)).
minikws runs in this interpreter. torch runs in a process of its own (by default /work/venv-ref's
python, or --torch-python): on 2 cores torch's OpenMP pool and OpenBLAS's threads slow each other down
when both live in one process. The rounds alternate torch and minikws, and every figure is the median
of all repeats. GFLOP/s counts the matrix products only (2 T B (D + H) 4H per layer forward, twice
that backward); the ceiling is this machine's rate on a large float32 matrix product. The script also
prints the rate a B = 1 forward 10x faster than the NumPy backend would need, as a share of that
ceiling (at B = 1 the per-step product is a matrix-vector product: each weight is read once per step
from cache and used once, so it cannot come near the ceiling of a large GEMM, which reuses each
weight it loads many times).

A second table times the Cython backend with OpenBLAS limited to 1 thread and with 2 threads (each in
a subprocess with OPENBLAS_NUM_THREADS set), to show whether the per-step products gain from threads.
A third compares, alternating in one process, the ways the kernel can do its matrix products: all by
OpenBLAS (the kernel before csrc/lstm_gemm.c); the per-step products h_{t-1} W_h and da_t W_h^T by
the packed-W_h micro-kernel and the products over all steps by OpenBLAS; everything by the
micro-kernel on 1 thread; the same with the batch rows and the large products split over 2 threads
(the default where 2 CPUs are available).

If OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE are set, the script restarts itself without them: they pin an
older, slower OpenBLAS kernel.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

CORETYPE_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(v in os.environ for v in CORETYPE_VARS) and "--worker" not in sys.argv:
    env = {k: v for k, v in os.environ.items() if k not in CORETYPE_VARS}
    print(f"bench_lstm: restarting without {', '.join(CORETYPE_VARS)}", file=sys.stderr)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import numpy as np  # noqa: E402  (after the restart above, so OpenBLAS starts without the pins)

T, B, D, LAYERS = 100, 32, 40, 2
HIDDEN = (64, 128, 256)
STREAM_H = 128

TORCH_SCRIPT = r"""
import json, statistics, sys, time
import torch
cfg = json.loads(sys.argv[1])
torch.manual_seed(0)
def median_time(f, repeats, warmup=2):
    for _ in range(warmup):
        f()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return ts
out = {"version": torch.__version__, "threads": torch.get_num_threads(), "train": {}, "stream": None,
       "frames": None}
for H in cfg["hidden"]:
    m = torch.nn.LSTM(cfg["D"], H, num_layers=cfg["layers"])
    x = torch.randn(cfg["T"], cfg["B"], cfg["D"])
    def step():
        m.zero_grad(set_to_none=True)
        h, _ = m(x)
        h.sum().backward()
    out["train"][str(H)] = median_time(step, cfg["repeats"])
m = torch.nn.LSTM(cfg["D"], cfg["stream_h"], num_layers=cfg["layers"])
x = torch.randn(cfg["T"], 1, cfg["D"])
with torch.no_grad():
    out["stream"] = median_time(lambda: m(x), cfg["repeats"] * 5, warmup=5)
    def by_frame():
        state = None
        for t in range(cfg["T"]):
            _, state = m(x[t:t + 1], state)
    out["frames"] = median_time(by_frame, cfg["repeats"], warmup=2)
print(json.dumps(out))
"""


def sample(f, repeats, warmup=2):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return times


def lstm_flops(H, batch, train):
    """Multiply-adds x 2 of the matrix products of the 2-layer LSTM (x3 for forward + backward)."""
    fwd = sum(2 * T * batch * (d_in + H) * 4 * H for d_in in [D] + [H] * (LAYERS - 1))
    return 3 * fwd if train else fwd


def make_params(H, rng):
    params = {}
    for k, d_in in enumerate([D] + [H] * (LAYERS - 1)):
        s = 1 / np.sqrt(H)
        params[f"l{k}.Wx"] = rng.uniform(-s, s, (d_in, 4 * H)).astype(np.float32)
        params[f"l{k}.Wh"] = rng.uniform(-s, s, (H, 4 * H)).astype(np.float32)
        params[f"l{k}.b"] = rng.uniform(-s, s, 4 * H).astype(np.float32)
    return params


def train_step_fn(params, x, backend):
    """One forward + backward through the stacked layers with minikws.nn's functional pair."""
    from minikws.nn.lstm import lstm_backward, lstm_forward

    def step():
        caches, h = [], x
        for k in range(LAYERS):
            h, _, cache = lstm_forward(h, None, None, params[f"l{k}.Wx"], params[f"l{k}.Wh"],
                                       params[f"l{k}.b"], backend=backend)
            caches.append(cache)
        dh = np.ones_like(h)
        for cache in reversed(caches):
            dh = lstm_backward(dh, cache)[0]

    return step


def _stateful(params, backend):
    """(layers, feed, reset): the LSTM stack carried across calls, as minikws.streaming.Stream runs it
    (the kernel's stateful lstm_infer per layer, or lstm_forward on the NumPy backend)."""
    from minikws import _backend
    from minikws.nn import lstm_forward

    layers = []
    while f"l{len(layers)}.Wx" in params:
        k = len(layers)
        layers.append(tuple(np.ascontiguousarray(params[f"l{k}.{n}"]) for n in ("Wx", "Wh", "b")))
    state = [None] * len(layers)

    def reset(B):
        for k, (_, Wh, _) in enumerate(layers):
            H = Wh.shape[0]
            state[k] = (np.zeros((B, H), Wh.dtype), np.zeros((B, H), Wh.dtype))

    def feed(x):
        for (Wx, Wh, b), (h, c) in zip(layers, state):
            if backend == "cython":
                x = _backend.kernel().lstm_infer(np.ascontiguousarray(x), h, c, Wx, Wh, b)
            else:
                x, (hT, cT), _ = lstm_forward(x, h, c, Wx, Wh, b, backend="numpy")
                h[...], c[...] = hT, cT
        return x

    return feed, reset


def stream_fn(params, x, backend):
    feed, reset = _stateful(params, backend)

    def run():
        reset(x.shape[1])
        feed(x)

    return run


def frames_fn(params, x, backend):
    """The live case: the frames arrive one at a time, one call each."""
    feed, reset = _stateful(params, backend)

    def run():
        reset(x.shape[1])
        for t in range(x.shape[0]):
            feed(x[t:t + 1])

    return run


def time_minikws(backends, repeats, hidden):
    """{backend: {"train": {H: [s]}, "stream": [s]}} for the given backends, in this process."""
    rng = np.random.default_rng(0)
    out = {}
    for backend in backends:
        res = {"train": {}, "stream": None, "frames": None}
        for H in hidden:
            params = make_params(H, rng)
            x = rng.standard_normal((T, B, D)).astype(np.float32)
            n = repeats if backend != "numpy" else max(3, repeats // 3)
            res["train"][H] = sample(train_step_fn(params, x, backend), n)
        params = make_params(STREAM_H, rng)
        x = rng.standard_normal((T, 1, D)).astype(np.float32)
        res["stream"] = sample(stream_fn(params, x, backend), repeats * 5, warmup=5)
        res["frames"] = sample(frames_fn(params, x, backend), repeats, warmup=2)
        out[backend] = res
    return out


def sgemm_ceiling(n=2048, repeats=5):
    a = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    return 2 * n**3 / statistics.median(sample(lambda: a @ a, repeats)) / 1e9


def find_torch_python(arg):
    candidates = [arg] if arg else ["/work/venv-ref/bin/python"]
    for path in candidates:
        if path and os.path.exists(path):
            probe = subprocess.run([path, "-c", "import torch"], capture_output=True)
            if probe.returncode == 0:
                return path
            print(f"bench_lstm: {path} cannot import torch; skipping torch", file=sys.stderr)
            return None
    print("bench_lstm: no python with torch found (pass --torch-python); skipping torch",
          file=sys.stderr)
    return None


def time_torch(python, repeats, hidden):
    cfg = dict(T=T, B=B, D=D, layers=LAYERS, hidden=list(hidden), stream_h=STREAM_H,
               repeats=repeats)
    proc = subprocess.run([python, "-c", TORCH_SCRIPT, json.dumps(cfg)], capture_output=True,
                          text=True, check=True)
    out = json.loads(proc.stdout)
    out["train"] = {int(k): v for k, v in out["train"].items()}
    return out


def merge(into, new):
    """Append the samples of one round to the samples of the previous ones."""
    for H, ts in new["train"].items():
        into.setdefault("train", {}).setdefault(H, []).extend(ts)
    into.setdefault("stream", []).extend(new["stream"])
    into.setdefault("frames", []).extend(new["frames"])
    for k in ("version", "threads"):
        if k in new:
            into[k] = new[k]


def worker(args):
    """--worker: time the Cython backend only and print JSON (for the thread-count table)."""
    res = time_minikws(["cython"], args.repeats, args.hidden)["cython"]
    print(json.dumps({"train": {str(k): v for k, v in res["train"].items()},
                      "stream": res["stream"], "frames": res["frames"]}))


def thread_study(args):
    rows = []
    for threads in (1, 2):
        env = dict(os.environ, MINIKWS_THREADS=str(threads))
        cmd = [sys.executable, __file__, "--worker", "--repeats", str(args.repeats), "--hidden",
               *map(str, args.hidden)]
        res = json.loads(subprocess.run(cmd, env=env, capture_output=True, text=True,
                                        check=True).stdout)
        rows.append((threads, {int(k): statistics.median(v) for k, v in res["train"].items()},
                     statistics.median(res["stream"])))
    return rows




def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--torch-python", help="a python that can import torch (default /work/venv-ref)")
    p.add_argument("--repeats", type=int, default=10, help="timed repeats per round (default 10)")
    p.add_argument("--rounds", type=int, default=2, help="alternating torch/minikws rounds")
    p.add_argument("--hidden", type=int, nargs="+", default=list(HIDDEN))
    p.add_argument("--quick", action="store_true", help="3 repeats, 1 round, no thread table")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.rounds = 3, 1
    if args.worker:
        return worker(args)

    from minikws import _backend

    backends = ["numpy"] + (["cython"] if _backend.kernel() is not None else [])
    if len(backends) == 1:
        print("bench_lstm: the compiled kernel is not built; timing the NumPy backend only",
              file=sys.stderr)
    torch_python = find_torch_python(args.torch_python)
    ours, theirs = {b: {} for b in backends}, {}
    for _ in range(args.rounds):
        if torch_python:
            merge(theirs, time_torch(torch_python, args.repeats, args.hidden))
        for b, res in time_minikws(backends, args.repeats, args.hidden).items():
            merge(ours[b], res)
    ceiling = sgemm_ceiling()

    med = statistics.median
    names = backends + (["torch"] if theirs else [])
    results = dict(ours, **({"torch": theirs} if theirs else {}))
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, numpy {np.__version__}"
          + (f", torch {theirs['version']} ({theirs['threads']} threads)" if theirs else ""))
    print(f"# float32 sgemm ceiling (2048^3 numpy matmul): {ceiling:.0f} GFLOP/s\n")
    print("| case | " + " | ".join(f"{n} ms | {n} GFLOP/s" for n in names)
          + (" | " + " | ".join(f"{n} / torch" for n in backends) if theirs else "") + " |")
    print("|---" * (1 + 2 * len(names) + (len(backends) if theirs else 0)) + "|")
    cases = [(f"train B={B} T={T} H={H}", lstm_flops(H, B, True), lambda r, H=H: r["train"][H])
             for H in args.hidden]
    cases.append((f"stream B=1 T={T} H={STREAM_H} fwd", lstm_flops(STREAM_H, 1, False),
                  lambda r: r["stream"]))
    cases.append((f"stream B=1 H={STREAM_H}, {T} frames fed one by one", lstm_flops(STREAM_H, 1, False),
                  lambda r: r["frames"]))
    for label, flops, get in cases:
        t = {n: med(get(results[n])) for n in names}
        cells = [f"{t[n] * 1e3:.2f} | {flops / t[n] / 1e9:.1f}" for n in names]
        if theirs:
            cells += [f"{t[n] / t['torch']:.2f}x" for n in backends]
        print(f"| {label} | " + " | ".join(cells) + " |")
    if "cython" in backends and "numpy" in backends:
        ratio = med(ours["numpy"]["stream"]) / med(ours["cython"]["stream"])
        print(f"\nstreaming B=1: Cython is {ratio:.1f}x faster than the NumPy backend")
        ratio = med(ours["numpy"]["frames"]) / med(ours["cython"]["frames"])
        print(f"streaming B=1, frames fed one by one: Cython is {ratio:.1f}x faster than the NumPy backend")
        need = lstm_flops(STREAM_H, 1, False) / (med(ours["numpy"]["stream"]) / 10) / 1e9
        print(f"a B=1 forward 10x faster than the NumPy backend's would run at {need:.0f} GFLOP/s, "
              f"{need / ceiling:.0%} of the large-GEMM ceiling")

    if "cython" in backends and not args.quick:
        # The kernel makes no BLAS call since its products became one path (the packed micro-kernel,
        # a C loop for short calls): what sets its parallelism is its own pool, MINIKWS_THREADS.
        print("\nCython backend with its thread pool limited by MINIKWS_THREADS (subprocesses):\n")
        print("| MINIKWS_THREADS | " + " | ".join(f"train H={H} ms" for H in args.hidden)
              + f" | stream H={STREAM_H} ms |")
        print("|---" * (2 + len(args.hidden)) + "|")
        for threads, train, stream in thread_study(args):
            print(f"| {threads} | " + " | ".join(f"{train[H] * 1e3:.2f}" for H in args.hidden)
                  + f" | {stream * 1e3:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
