"""Keyword detection on an hour and more of held-out voices and filler words: recall per keyword at
<= 1 false alarm per hour, latency, the DET curves of both heads, drift over the hour, and the real-time
factor of ``minikws detect``.

    python benchmarks/bench_detect.py [--heads softmax feedback] [--test-streams 60] [--out DIR]

Each head is trained by ``minikws train --task stream --head HEAD`` with every other setting at its
default (what the issue's bars are about). The test streams are synthesized apart: 60 s streams of the
test voices (the clip set's test split for seed 0) speaking the held-out fillers (TEST_FILLERS).
Figures go to stdout as a Markdown table; the DET PNG to ``--out`` (default benchmarks/).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def train(head, out, seed):
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "minikws", "train", "--task", "stream", "--head", head, "--out", out,
           "--seed", str(seed), "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    if r.returncode:
        sys.exit(f"training failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1]), time.perf_counter() - t0


def drift(model, test, threshold):
    """Recall and false alarms per 10 min block of the test streams played as one long recording
    through one Detector (no reset): does the LSTM state drift over an hour?"""
    from minikws.datasets import word_tags
    from minikws.detection import Detector
    from minikws.metrics import match_detections

    y = np.concatenate(test.audio)
    offsets = np.concatenate([[0.0], np.cumsum([len(a) / test.sr for a in test.audio])[:-1]])
    truth = [w._replace(start=w.start + o, end=w.end + o) for ws, o in zip(test.words, offsets) for w in ws]
    det = Detector(model, threshold=threshold)
    step = 600 * test.sr
    found = []
    for a in range(0, len(y), test.sr * 10):  # 10 s chunks
        found += det.push(y[a:a + test.sr * 10])
    found += det.flush()
    rows = []
    label_map = word_tags(test.keywords, model.tags)
    for a in range(0, len(y), step):
        t0, t1 = a / test.sr, min(len(y), a + step) / test.sr
        ds = [d for d in found if t0 <= d.time < t1]
        ws = [w for w in truth if t0 <= w.end < t1]
        s = match_detections(ds, ws, keywords=model.classes[1:], duration=t1 - t0, label_map=label_map)
        rows.append((t0 / 60, t1 / 60, s.total_recall, s.false_alarms))
    return rows, y


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heads", nargs="+", default=["softmax", "feedback"])
    ap.add_argument("--test-streams", type=int, default=60, help="60 s test streams (default 60: 1 h)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks"))
    ap.add_argument("--models", default=None,
                    help="folder of trained models M_HEAD.npz to reuse (default: a folder in /tmp)")
    args = ap.parse_args()

    from minikws.audio import save_wav
    from minikws.datasets import synthesize_streams
    from minikws.io import load_model
    from minikws.metrics import format_detection_report, frr_at, operating_point, plot_det_curve
    from minikws.train_stream import evaluate_streams

    work = args.models or os.path.join(tempfile.gettempdir(), "minikws_bench_detect")
    os.makedirs(work, exist_ok=True)
    t0 = time.perf_counter()
    test = synthesize_streams(streams=(0, 0, args.test_streams), seconds=60.0, seed=args.seed).split("test")
    print(f"test: {test.duration() / 3600:.2f} h, {test.keyword_count()} keywords, "
          f"{len(set(test.speakers))} held-out voices ({time.perf_counter() - t0:.0f} s to synthesize)")
    curves, rows = {}, []
    for head in args.heads:
        path = os.path.join(work, f"M_{head}.npz")
        if not os.path.exists(path):
            summary, seconds = train(head, path, args.seed)
            print(f"{head}: trained in {seconds:.0f} s ({summary['epochs']} epochs)")
        model = load_model(path)
        ev = evaluate_streams(model, test)
        curves[head] = ev.curve
        i, _, _ = operating_point(ev.curve, 1.0)
        print(f"\n## head {head}: threshold {ev.threshold:g} " + ("(lowest with <= 1 FA/h)" if i is not None
              else "(the highest of the sweep: none has <= 1 FA/h)"))
        print(format_detection_report(ev.scores))
        print("DET: threshold FRR FA/h(all) FA/h(non-keyword): " + "; ".join(
            f"{t:g} {f:.3f} {a:.0f} {n:.0f}" for t, f, a, n in zip(
                ev.curve.thresholds, ev.curve.frr, ev.curve.fa_per_hour, ev.curve.fa_per_hour_negative)))
        blocks, y = drift(model, test, ev.threshold)
        print("drift (one recording, one Detector):", "; ".join(
            f"{a:.0f}-{b:.0f} min recall {r:.3f} FA {n}" for a, b, r, n in blocks))
        wav = os.path.join(work, "test_hour.wav")
        if not os.path.exists(wav):
            save_wav(wav, y, test.sr)
        t1 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "minikws", "detect", "--model", path, wav,
                            "--threshold", str(ev.threshold), "--json"], capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=ROOT))
        wall = time.perf_counter() - t1
        summary = json.loads(r.stdout.strip().splitlines()[-1])
        rows.append((head, ev, frr_at(ev.curve, 0.5), frr_at(ev.curve, 1.0), summary["rtf"],
                     wall / summary["duration"]))
    png = os.path.join(args.out, "det_stream.png")
    plot_det_curve(curves, path=png, title=f"DET on {test.duration() / 3600:.2f} h of held-out voices")
    print(f"\nDET curves: {png}\n")
    kws = rows[0][1].scores.keywords
    print("| head | " + " | ".join(kws) + " | FA/h (all) | FA/h (non-kw) | p50 | p90 | FRR@0.5 | FRR@1 "
          "| RTF (in detect) | RTF (process) |")
    print("|" + "---|" * (len(kws) + 9))
    for head, ev, f05, f1, rtf, rtf_wall in rows:
        s = ev.scores
        print(f"| {head} | " + " | ".join(f"{r:.3f}" for r in s.recall)
              + f" | {s.fa_per_hour:.2f} | {s.fa_per_hour_negative:.2f} | {s.latency(50):.3f} | "
              f"{s.latency(90):.3f} | {f05:.3f} | {f1:.3f} | {rtf:.4f} | {rtf_wall:.4f} |")


if __name__ == "__main__":
    main()
