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
import os
import sys

import numpy as np

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def trim(y, sr, margin=0.05, hop=80):
    """The word: from the first to the last 10 ms frame above 20 % of the loudest, plus ``margin`` s."""
    energy = np.sqrt(np.mean(y[: len(y) // hop * hop].reshape(-1, hop) ** 2, axis=1))
    loud = np.flatnonzero(energy > 0.2 * energy.max())
    a = max(0, loud[0] * hop - int(margin * sr))
    b = min(len(y), (loud[-1] + 1) * hop + int(margin * sr))
    return y[a:b]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="new folder to write")
    p.add_argument("--speakers", type=int, default=6)
    p.add_argument("--per-speaker", type=int, default=50, help="recordings of each digit per speaker")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    from minikws.audio import save_wav
    from minikws.datasets import synthesize_commands

    sr = 8000
    if os.path.exists(args.out):
        sys.exit(f"{args.out}: exists; give a new folder")
    ds = synthesize_commands(words=list(DIGITS), per_word=args.speakers * args.per_speaker, seed=args.seed,
                             sr=sr, unknown_words=(), silence=False)
    os.makedirs(args.out)
    voices = sorted(set(ds.speakers.tolist()))
    counters = {}
    for y, label, voice in zip(ds.audio, ds.labels, ds.speakers):
        digit = DIGITS.index(ds.classes[int(label)])
        speaker = f"voice{voices.index(voice) % args.speakers}"
        index = counters[digit, speaker] = counters.get((digit, speaker), -1) + 1
        if index < args.per_speaker:
            save_wav(os.path.join(args.out, f"{digit}_{speaker}_{index}.wav"), trim(y, sr), sr)
    n = len(os.listdir(args.out))
    print(f"{args.out}: {n} recordings, {len(DIGITS)} digits, {args.speakers} speakers, {sr} Hz")


if __name__ == "__main__":
    main()
