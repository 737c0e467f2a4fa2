"""Make the book's measured figures (committed under book/figures/, with the numbers beside them).

    python scripts/make_book_figures.py            # all figures
    python scripts/make_book_figures.py lr         # one of them

``lr``: FAQ Q1. The same small model (four keywords of the synthesized set, two LSTM layers of 64
units, AdamW with warm-up and cosine decay, no waveform augmentation, 15 epochs) trained from scratch
at learning rates from the article's 2e-5 up to 3e-2; the validation accuracy per epoch is plotted and
written to book/figures/faq_learning_rate.json. Seeded: the same run gives the same numbers.
"""
import json
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "book" / "figures"


def learning_rate_sweep():

    from minikws.datasets import synthesize_commands
    from minikws.train import TrainConfig, train_on_dataset

    data = synthesize_commands(words=("yes", "no", "up", "down"), per_word=150, seed=0,
                               unknown_words=(), silence=False)
    rates = (2e-5, 2e-4, 2e-3, 1e-2, 3e-2)
    curves = {}
    for lr in rates:
        config = TrainConfig(epochs=15, lr=lr, wave_augment=False, patience=0, seed=0)
        model, trainer = train_on_dataset(data, config=config, progress=False)
        curves[f"{lr:g}"] = [float(a) for a in trainer.history["val_accuracy"]]
        print(f"lr {lr:g}: validation accuracy after 15 epochs {curves[f'{lr:g}'][-1]:.3f}", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "faq_learning_rate.json").write_text(json.dumps(
        {"what": "validation accuracy per epoch", "words": ["yes", "no", "up", "down"],
         "per_word": 150, "epochs": 15, "curves": curves}, indent=1) + "\n")
    plot_learning_rate_sweep()


def plot_learning_rate_sweep():
    """The figure of FAQ Q1 from book/figures/faq_learning_rate.json."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = json.loads((OUT / "faq_learning_rate.json").read_text())["curves"]
    fig, ax = plt.subplots(figsize=(8, 4), dpi=120)
    for lr, acc in curves.items():
        ax.plot(np.arange(1, len(acc) + 1), acc, marker="o", ms=3,
                label=f"lr = {float(lr):.0e}" + ("\n(the article's)" if lr == "2e-05" else ""))
    ax.axhline(0.25, color="grey", lw=0.8, ls=":", label="chance\n(4 classes)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title("AdamW learning rate, 2-layer LSTM trained from scratch")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "faq_learning_rate.png")
    plt.close(fig)


FIGURES = {"lr": learning_rate_sweep, "lr-plot": plot_learning_rate_sweep}

if __name__ == "__main__":
    for name in sys.argv[1:] or FIGURES:
        FIGURES[name]()
