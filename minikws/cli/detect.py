"""minikws detect: keywords in a long recording or a live WAV stream, as they are spoken.

``minikws detect --model M.npz FILE.wav`` prints one line per detection (``time  label  score
start-end``, seconds); ``--json`` prints each detection as a JSON object and ends with one JSON line
holding ``detections``, ``duration`` and ``rtf`` (processing time over audio time). ``--labels
FILE.txt`` (lines ``label start end``) also scores the file: recall, false alarms per hour, latency,
and with ``--plot DET.png`` the DET curve.

``minikws detect --model M.npz -`` reads a WAV stream from standard input as it arrives (``arecord -f
S16_LE -r 16000 -c 1`` or ``sox -d -t wav -`` write one, with an unknown length) and prints every
detection the moment it fires.
"""
CHUNK_SECONDS = 0.1  # how much audio a live stream is read in: the detection delay it adds
FILE_CHUNK_SECONDS = 10  # a file is fed in pieces of this many seconds (memory stays bounded)


def add_parser(p):
    from minikws.detection import DEFAULTS

    p.add_argument("--model", metavar="MODEL.npz", required=True,
                   help="a stream model written by minikws train --task stream")
    p.add_argument("file", metavar="FILE.wav", help="the recording, or - for a WAV stream on stdin")
    p.add_argument("--threshold", type=float, default=DEFAULTS["threshold"],
                   help=f"smoothed posterior a keyword must reach (default: {DEFAULTS['threshold']})")
    p.add_argument("--min-count", type=int, default=DEFAULTS["min_count"],
                   help=f"frames in a row above the threshold (default: {DEFAULTS['min_count']})")
    p.add_argument("--refractory", type=float, default=DEFAULTS["refractory"], metavar="SECONDS",
                   help=f"quiet time after a detection (default: {DEFAULTS['refractory']})")
    p.add_argument("--smooth", type=float, default=DEFAULTS["smooth"], metavar="SECONDS",
                   help=f"posterior smoothing window (default: {DEFAULTS['smooth']})")
    p.add_argument("--json", action="store_true", help="JSON lines, ending with a summary line")
    p.add_argument("--labels", metavar="FILE.txt",
                   help="the words spoken (lines 'label start end'): score the detections")
    p.add_argument("--plot", metavar="DET.png", help="with --labels: write the DET curve here")
    p.add_argument("--backend", choices=("auto", "numpy", "cython"), default="auto",
                   help="LSTM implementation (default: the compiled kernel when built)")


def _emit(d, as_json):
    import json

    if as_json:
        print(json.dumps(d.as_dict()), flush=True)
    else:
        print(f"{d.time:.2f}\t{d.label}\t{d.score:.3f}\t{d.start:.2f}-{d.end:.2f}", flush=True)


def run(args):
    import json
    import os
    import sys
    import time

    from minikws import audio, io
    from minikws.compress import Int8KWSModel, describe, sparsity
    from minikws.detection import Detector
    from minikws.errors import MinikwsError

    if args.plot and not args.labels:
        raise MinikwsError("--plot: needs --labels (the DET curve compares detections with the truth)")
    if args.plot and not os.path.isdir(os.path.dirname(os.path.abspath(args.plot))):
        raise MinikwsError(f"--plot {args.plot}: its folder does not exist")
    model = io.load_model(args.model)
    if isinstance(model, Int8KWSModel) or sparsity(model.params) >= 0.01:  # say what a compressed model is
        print(f"minikws {args.command}: model {args.model}: {describe(model)}", file=sys.stderr, flush=True)
    if getattr(model, "task", "clip") != "stream":
        raise MinikwsError(f"--model {args.model}: a clip model (one label per clip) cannot detect "
                           "keywords in a stream; train one with minikws train --task stream")
    settings = dict(threshold=args.threshold, min_count=args.min_count, refractory=args.refractory,
                    smooth=args.smooth)
    detector = Detector(model, backend=args.backend, record=bool(args.labels), **settings)
    found = []
    t0 = time.perf_counter()
    if args.file == "-":
        if args.labels:
            raise MinikwsError("--labels: score a file, not a live stream")
        stream = audio.WavStream(sys.stdin.buffer, name="<stdin>")
        if stream.sr != model.sr:
            raise MinikwsError(f"<stdin>: {stream.sr} Hz, but the model listens at {model.sr} Hz; "
                               f"send {model.sr} Hz (arecord -r {model.sr}, sox ... -r {model.sr})")
        step = max(1, int(round(CHUNK_SECONDS * model.sr)))
        n = 0
        while True:
            y = stream.read(step)
            if y.size == 0:
                break
            n += y.size
            for d in detector.push(y):
                found.append(d)
                _emit(d, args.json)
        for d in detector.flush():
            found.append(d)
            _emit(d, args.json)
        duration = n / model.sr
    else:
        y, sr = audio.load_wav(args.file)
        if sr * 4 < model.sr:
            raise MinikwsError(f"{args.file}: {sr} Hz cannot be resampled to the model's {model.sr} Hz "
                               "(more than 4x upsampling: the audio lacks the frequencies it listens to)")
        y = audio.resample(y, orig_sr=sr, target_sr=model.sr, name=args.file)
        duration = len(y) / model.sr
        step = FILE_CHUNK_SECONDS * model.sr  # bounded memory; the same detections as one chunk
        for a in range(0, len(y), step):
            for d in detector.push(y[a:a + step]):
                found.append(d)
                _emit(d, args.json)
        for d in detector.flush():
            found.append(d)
            _emit(d, args.json)
    seconds = time.perf_counter() - t0
    rtf = seconds / duration if duration > 0 else float("nan")
    summary = {"detections": [d.as_dict() for d in found], "duration": round(duration, 4),
               "rtf": round(rtf, 5)}
    if args.labels:
        summary.update(_score(args, model, detector, found, duration, settings))
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        print(f"{len(found)} detections in {duration:.2f} s of audio (real-time factor {rtf:.4f})",
              file=sys.stderr, flush=True)
    return 0


def _score(args, model, detector, found, duration, settings):
    """Score the detections against --labels; print the report (stderr with --json); DET with --plot."""
    import sys

    import numpy as np

    from minikws.datasets import read_labels, word_tags
    from minikws.detection import detect_sweep
    from minikws.metrics import (det_curve, format_detection_report, frr_at, match_detections,
                                 plot_det_curve)

    truth = read_labels(args.labels, duration=duration)
    keywords = model.classes[1:]
    label_map = word_tags(model.keywords, model.tags)
    scores = match_detections(found, truth, keywords=keywords, duration=duration, label_map=label_map)
    out = sys.stderr if args.json else sys.stdout
    print(format_detection_report(scores), end="", file=out, flush=True)
    result = {"recall": {k: (None if np.isnan(r) else float(r)) for k, r in zip(keywords, scores.recall)},
              "false_alarms": scores.false_alarms, "fa_per_hour": scores.fa_per_hour,
              "fa_per_hour_negative": scores.fa_per_hour_negative,
              "latency_p50": scores.latency(50), "latency_p90": scores.latency(90)}
    if args.plot:
        from minikws.train_stream import THRESHOLDS as thresholds

        knobs = {k: v for k, v in settings.items() if k != "threshold"}
        runs = detect_sweep(detector.posteriors, thresholds, classes=model.classes,
                            frame_shift=detector.detector.frame_shift,
                            frame_delay=detector.detector.frame_delay, **knobs)
        curve = det_curve(lambda th: runs[th], truth, keywords=keywords, duration=duration,
                          thresholds=thresholds, label_map=label_map)
        plot_det_curve(curve, path=args.plot, title=f"DET: {args.file}")
        result["frr_at_0.5_fa_per_hour"] = frr_at(curve, 0.5)
        result["frr_at_1_fa_per_hour"] = frr_at(curve, 1.0)
        print(f"false-reject rate at 0.5 FA/h: {result['frr_at_0.5_fa_per_hour']:.3f}, at 1 FA/h: "
              f"{result['frr_at_1_fa_per_hour']:.3f}; DET curve: {args.plot}", file=out, flush=True)
    return result
