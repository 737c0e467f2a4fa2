"""minikws synth: write the built-in synthesized command set in Speech Commands layout."""


def add_parser(p):
    p.add_argument("--out", metavar="DIR", required=True,
                   help="new (or empty) folder to write, in an existing folder: a folder per label, "
                        "validation_list.txt, testing_list.txt and _background_noise_. It is written "
                        "under a temporary name and renamed at the end, so an interrupted run leaves "
                        "no partial set")
    p.add_argument("--words", nargs="+", metavar="WORD", default=None,
                   help="keywords (default: yes no up down left right on off stop go); "
                        "_unknown_ and _silence_ classes are added")
    p.add_argument("--per-word", type=int, default=None,
                   help="clips per class (default: 500; at least 6, so that validation and test get one "
                        "each)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default: 0)")


def run(args):
    import sys
    import time

    from minikws import datasets
    from minikws.cli import _args

    _args.output_folder("--out", args.out, empty=True)  # before the synthesis, not after it
    _args.seed("--seed", args.seed)
    _args.per_word("--per-word", args.per_word)
    kw = {} if args.per_word is None else {"per_word": args.per_word}
    t0 = time.perf_counter()
    print("synthesizing with espeak-ng ...", file=sys.stderr, flush=True)
    dataset = datasets.synthesize_commands(words=args.words, seed=args.seed, **kw)
    t_synth = time.perf_counter() - t0
    n = datasets.save_speech_commands(dataset, args.out)
    counts = dataset.counts()
    per_split = ", ".join(f"{s} {sum(counts[s].values())}" for s in datasets.SUBSETS)
    print(f"wrote {n} clips of {len(dataset.classes)} classes ({per_split}; split by voice) and "
          f"{len(dataset.noise)} noise recordings to {args.out} "
          f"(synthesis {t_synth:.1f}s, total {time.perf_counter() - t0:.1f}s)", file=sys.stderr)
    return 0
