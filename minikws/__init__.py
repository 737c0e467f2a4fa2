"""minikws: keyword spotting from scratch.

Data flows through the package the way it flows through a recognizer::

    minikws.audio      WAV files -> waveforms (load_wav, save_wav, WavStream for pipes)
    minikws.features   waveforms -> MFCC (frames, coefficients)
    minikws.augment    noise, shift, gain, speed, SpecAugment
    minikws.nn         LSTM, Linear, softmax cross-entropy (forward/backward pairs)
    minikws.optim      SGD, Adam, AdamW, clipping, schedules
    minikws.gradcheck  numerical gradients that prove each backward formula
    minikws.models     KWSModel: MFCC -> running CMN -> LSTM x L -> Linear -> softmax
    minikws.streaming  frame-by-frame inference on a stream
    minikws.datasets   the synthesized speech commands; loaders for recordings on disk
    minikws.train      Trainer and train_on_dataset: AdamW, warm-up + cosine, early stopping, resume
    minikws.metrics    accuracy, classification report, confusion matrix, plots
    minikws.io         model and checkpoint files (.npz, never unpickled)
    minikws.errors     MinikwsError, the one-line error every user mistake raises
    minikws.cli        the ``minikws`` command

Each is imported on first use (``import minikws; minikws.nn.lstm_forward`` works, and ``import
minikws`` alone stays cheap).

Shape legend, used in every docstring of the package:

    T time steps, B batch, D input features, H hidden units, C classes,
    F feature frames, K cepstral coefficients (a feature matrix is (F, K)).
"""
import importlib

__version__ = "0.1.0"

from minikws.errors import MinikwsError  # noqa: E402,F401

# The public submodules, imported on first attribute access (PEP 562), so that `import minikws` costs
# nothing beyond this file while `minikws.nn.lstm_forward` works without a second import line.
SUBMODULES = ("audio", "features", "augment", "nn", "optim", "gradcheck", "models", "streaming",
              "datasets", "train", "metrics", "io", "errors", "cli")

__all__ = ["MinikwsError", "__version__", *SUBMODULES]


def __getattr__(name):
    if name in SUBMODULES:
        module = importlib.import_module(f"minikws.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'minikws' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(SUBMODULES))
