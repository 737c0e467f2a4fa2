"""Time batched minikws.features.mfcc_batch against librosa.feature.mfcc, side by side in one run.

    pip install librosa   # for this script only; the tests read librosa's numbers from fixtures
    PYTHONPATH=. python benchmarks/bench_mfcc.py [--clips N] [--repeats R]

minikws has two MFCCs with the same arguments and numbers: ``mfcc_batch`` (minikws/features/fast.py,
cache-blocked, what the model computes) and the readable ``mfcc`` (minikws/features/cepstrum.py, the
stage functions composed line by line, what the book shows). The comparison with librosa is
``mfcc_batch``'s; the readable ``mfcc`` is timed on the same batch for comparison.

All three get the same float32 batch (N one-second clips at 16 kHz, shape (N, 16000); default N = 1000) and
the same keywords (sr=16000, n_mfcc=13, n_fft=512, hop_length=160, win_length=400, n_mels=40; librosa's
other defaults: centre zero padding, periodic Hann, Slaney mel, dB with top_db=80, orthonormal DCT).
The clips are synthetic speech-like signals from a fixed seed: harmonic "syllables" of random pitch and
loudness over a noise floor. The calls alternate (mfcc_batch, librosa, mfcc, mfcc_batch, ...) after one
warm-up each; the figures are medians of R repeats (default 7), and the ratios are librosa's and the
readable mfcc's medians over mfcc_batch's, in wall time and in CPU time (all threads of the process:
on a machine shared with other jobs the CPU time moves less than the wall time).

It also checks that the outputs agree, clip by clip: mfcc_batch's (N, F, K) batch against librosa called
on one clip at a time, transposed, as the largest difference relative to the clip's largest magnitude
(must be <= 1e-4), and against the readable mfcc (must be <= 1e-5). The difference from librosa's *batched* output is printed too, for information:
librosa floors every clip at 80 dB below the loudest clip of the whole batch, minikws at 80 dB below
each clip's own maximum, so quiet passages of quiet clips differ by design.

If OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE are set, the script restarts itself without them (they pin an
older, slower OpenBLAS kernel), as benchmarks/bench_lstm.py does.
"""
import argparse
import os
import platform
import statistics
import sys
import time

CORETYPE_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(v in os.environ for v in CORETYPE_VARS):
    env = {k: v for k, v in os.environ.items() if k not in CORETYPE_VARS}
    print(f"bench_mfcc: restarting without {', '.join(CORETYPE_VARS)}", file=sys.stderr)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import numpy as np  # noqa: E402

SR = 16000
KEYWORDS = dict(sr=SR, n_mfcc=13, n_fft=512, hop_length=160, win_length=400, n_mels=40)


def speech_like(n_clips, seed=0):
    """(n_clips, SR) float32: 1-3 harmonic syllables per clip over a noise floor, random loudness."""
    rng = np.random.default_rng(seed)
    t = np.arange(SR) / SR
    Y = 0.002 * rng.standard_normal((n_clips, SR))
    for b in range(n_clips):
        for _ in range(rng.integers(1, 4)):
            start, length = rng.uniform(0, 0.7), rng.uniform(0.1, 0.3)
            env = np.clip(np.sin(np.pi * (t - start) / length), 0, None) * ((t > start) & (t < start + length))
            f0 = rng.uniform(90, 250) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(1, 4) * t))
            phase = 2 * np.pi * np.cumsum(f0) / SR
            voiced = sum(np.sin(h * phase) / h for h in range(1, 12))
            Y[b] += rng.uniform(0.05, 0.5) * env * voiced
    return Y.astype(np.float32)


def timed(fn):
    """(wall seconds, CPU seconds of this process's threads, fn())."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    import librosa
    import scipy

    from minikws.features import mfcc, mfcc_batch

    Y = speech_like(args.clips)
    ours = lambda: mfcc_batch(Y, **KEYWORDS)  # noqa: E731
    theirs = lambda: librosa.feature.mfcc(y=Y, **KEYWORDS)  # noqa: E731
    readable = lambda: mfcc(Y, **KEYWORDS)  # noqa: E731
    ours(), theirs(), readable()  # warm-up: caches, FFT plans, thread pools
    t_ours, t_theirs, t_readable = [], [], []  # (wall, cpu) per repeat
    for _ in range(args.repeats):
        *t, A = timed(ours)
        t_ours.append(t)
        *t, B = timed(theirs)
        t_theirs.append(t)
        *t, R = timed(readable)
        t_readable.append(t)
    wall = lambda ts: statistics.median(w for w, _ in ts)  # noqa: E731
    cpu = lambda ts: statistics.median(c for _, c in ts)  # noqa: E731
    m_ours, m_theirs, m_readable = wall(t_ours), wall(t_theirs), wall(t_readable)

    Bt = B.swapaxes(-1, -2)
    batch_err = float(np.abs(A - Bt).max() / np.abs(Bt).max())
    readable_err = float(np.abs(A - R).max() / np.abs(R).max())
    per_clip = max(float(np.abs(A[b] - librosa.feature.mfcc(y=Y[b], **KEYWORDS).T).max()
                         / np.abs(A[b]).max()) for b in range(args.clips))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {platform.machine()}, {os.cpu_count()} cores, load "
          f"{load:.1f}; numpy {np.__version__}, scipy {scipy.__version__}, librosa {librosa.__version__}")
    print(f"# batch {Y.shape} float32, keywords {KEYWORDS}, {args.repeats} repeats")
    for name, ts in (("minikws mfcc_batch", t_ours), ("librosa.feature.mfcc", t_theirs),
                     ("minikws mfcc (readable)", t_readable)):
        print(f"{name:24} median {wall(ts) * 1e3:8.1f} ms   ({args.clips / wall(ts):7.0f} clips/s)  "
              f"min {min(w for w, _ in ts) * 1e3:.1f} ms;  CPU time median {cpu(ts) * 1e3:.1f} ms")
    print(f"throughput ratio (librosa / mfcc_batch): {m_theirs / m_ours:.2f}x wall, "
          f"{cpu(t_theirs) / cpu(t_ours):.2f}x CPU;  (readable mfcc / mfcc_batch): {m_readable / m_ours:.2f}x wall, "
          f"{cpu(t_readable) / cpu(t_ours):.2f}x CPU")
    print(f"agreement, clip by clip (librosa on one clip at a time): max |diff| / max |librosa| = "
          f"{per_clip:.2e} over {args.clips} clips; output {A.shape} {A.dtype}")
    print(f"(vs librosa's batched output, whose top_db floor is shared by the batch: {batch_err:.2e})")
    print(f"agreement with the readable mfcc on the batch: max |diff| / max |mfcc| = {readable_err:.2e}")
    if per_clip > 1e-4 or readable_err > 1e-5:
        print("OUTPUTS DISAGREE (librosa > 1e-4 or readable > 1e-5)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
