"""minikws train --task stream: a frame tagger on continuous streams (synthesized, or --data DIR of
FILE.wav + FILE.txt recordings), scored as a keyword detector on the test streams."""
import os

# The built-in streams: many short training streams (each is one voice, so more streams hear more
# words of each voice) and minute-long test streams; 1080 x 12 s = 3.6 hours of training audio
# (360 streams, 1.2 h, overfit by epoch 9 with a fifth of the keywords' tagged frames still wrong on the
# training streams themselves: benchmarks/README.md).
STREAMS = (1080, 20, 20)
SECONDS = (12.0, 15.0, 60.0)
# Streams overfit the training voices sooner than clips do (fewer words per voice): more dropout.
DROPOUT = 0.3
# Where the keyword tags go and how segments start (minikws.train_stream.StreamTrainConfig): the word's
# last 0.1 s and 0.25 s past its end, where a causal tagger can know the word (its earlier frames are
# shared with fillers: go/goal, on/off), and 1 s of context run ahead of every 4 s segment, so a
# keyword cut by a segment's start is never tagged where the state has not heard it.
RECIPE = {"span": 0.1, "tail": 0.25, "context": 1.0}
# Options of the clip task that mean nothing for streams: refused rather than silently ignored.
_CLIP_ONLY = ("resume", "per_word", "patience")


def add_arguments(p):
    p.add_argument("--task", choices=("clip", "stream"), default="clip",
                   help="clip: one label per clip (default); stream: frame tags for continuous audio "
                        "(minikws detect)")
    p.add_argument("--tags", choices=("words", "article"), default=None,
                   help="stream task: O and one tag per keyword (default), or the article's "
                        "O / command / stop")
    p.add_argument("--head", choices=("softmax", "feedback"), default=None,
                   help="stream task: per-frame softmax (default) or the article's output-feedback head")
    p.add_argument("--streams", type=int, nargs=3, default=None, metavar=("TRAIN", "VAL", "TEST"),
                   help="stream task, built-in streams: how many streams per split, of %g, %g and "
                        "%g s (default: %s)" % (*SECONDS, " ".join(map(str, STREAMS))))


def check_clip_args(args):
    """A clip run given the stream task's options: one clear error."""
    from minikws.errors import MinikwsError

    given = [f"--{n}" for n in ("tags", "head", "streams") if getattr(args, n, None) is not None]
    if given:
        raise MinikwsError(f"{', '.join(given)}: only with --task stream")


def run_stream(args):
    import json
    import time

    from minikws import datasets, io
    from minikws._validate import check_positive_int
    from minikws.errors import MinikwsError
    from minikws.metrics import format_detection_report, frr_at, operating_point
    from minikws.train_stream import StreamTrainConfig, evaluate_streams, train_stream_model

    t0 = time.perf_counter()
    args.tags = args.tags or "words"
    args.head = args.head or "softmax"
    for name in _CLIP_ONLY:
        if getattr(args, name, None) is not None:
            raise MinikwsError(f"--{name.replace('_', '-')}: not an option of --task stream")
    out = os.fspath(args.out)
    if os.path.isdir(out) or not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise MinikwsError(f"--out {out}: expected a file name in an existing folder")
    check_positive_int("--hidden", args.hidden)
    check_positive_int("--layers", args.layers)
    check_positive_int("--cmn-window", args.cmn_window, minimum=0)
    if args.data is None:
        counts = tuple(args.streams) if args.streams else STREAMS
        streams = datasets.synthesize_streams(streams=counts, seconds=SECONDS, seed=args.seed)
    else:
        if args.streams is not None:
            raise MinikwsError("--streams: only for the built-in synthesized streams (without --data)")
        if not os.path.isdir(args.data):
            raise MinikwsError(f"--data {args.data}: no such folder")
        streams = datasets.load_stream_folder(args.data)
    if args.tags == "article" and "stop" not in streams.keywords:
        raise MinikwsError(f"--tags article: needs 'stop' among the keywords {list(streams.keywords)}")
    fields = dict(RECIPE, seed=args.seed)
    for name in ("epochs", "lr", "batch_size"):
        if getattr(args, name, None) is not None:
            fields[name] = getattr(args, name)
    model, history = train_stream_model(streams, tags=args.tags, head=args.head,
                                        config=StreamTrainConfig(**fields), hidden_size=args.hidden,
                                        num_layers=args.layers,
                                        dropout=DROPOUT if args.dropout is None else args.dropout,
                                        cmn_window=args.cmn_window, backend=args.backend)
    io.save_model(model, out)
    print(f"model written to {out} ({model.num_parameters()} parameters; task stream, tags "
          f"{args.tags}, head {args.head})")
    summary = {"model": out, "task": "stream", "tags": args.tags, "head": args.head,
               "epochs": len(history["epoch"]), "val_loss": min(
                   (v for v in history["val_loss"] if v is not None), default=None)}
    test = streams.split("test")
    if test.audio:
        ev = evaluate_streams(model, test)
        quiet = operating_point(ev.curve, 1.0)[0] is not None
        print(f"test streams: {test.duration() / 60:.1f} min, {test.keyword_count()} keywords; "
              f"threshold {ev.threshold:g} " + ("(the lowest with <= 1 false alarm per hour)" if quiet else
                                               "(the sweep's highest: none has <= 1 false alarm per hour)"))
        print(format_detection_report(ev.scores), end="")
        print(f"false-reject rate at 0.5 FA/h: {frr_at(ev.curve, 0.5):.3f}, at 1 FA/h: "
              f"{frr_at(ev.curve, 1.0):.3f}")
        summary.update({"threshold": ev.threshold, "recall": dict(zip(ev.scores.keywords,
                                                                     map(float, ev.scores.recall))),
                        "fa_per_hour": ev.scores.fa_per_hour,
                        "latency_p90": ev.scores.latency(90),
                        "frr_at_1_fa_per_hour": frr_at(ev.curve, 1.0)})
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    if args.json:
        print(json.dumps(summary))
    return 0
