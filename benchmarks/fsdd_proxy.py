"""Write a stand-in for the Free Spoken Digit Dataset (FSDD), which cannot be downloaded here.

The real set: 3000 recordings of the digits 0-9, 6 speakers x 50 each, 8 kHz mono, trimmed to the
word (0.2-0.9 s), named ``{digit}_{speaker}_{index}.wav`` (official test split: index 0-4). The proxy
has the same layout, rate, counts and split, from the built-in synthesizer: espeak-ng voices dealt out
to 6 "speakers", each clip trimmed to its word plus 50 ms. Its voices are synthetic, so its accuracy
says nothing about real recordings; its sizes and lengths make the time of a training run comparable.

    python benchmarks/fsdd_proxy.py --out /tmp/fsdd
    python benchmarks/bench_train.py --data /tmp/fsdd --dataset fsdd
"""
import argparse


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="new folder to write")
    p.add_argument("--speakers", type=int, default=6)
    p.add_argument("--per-speaker", type=int, default=50, help="recordings of each digit per speaker")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    from minikws.datasets import synthesize_fsdd

    n = synthesize_fsdd(args.out, per_word=args.speakers * args.per_speaker, speakers=args.speakers,
                        per_speaker=args.per_speaker, seed=args.seed)
    print(f"{args.out}: {n} recordings, 10 digits, {args.speakers} speakers, 8000 Hz")


if __name__ == "__main__":
    main()
