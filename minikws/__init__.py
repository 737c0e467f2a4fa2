"""minikws: keyword spotting from scratch.

Data flows through the package the way it flows through a recognizer::

    minikws.audio       WAV files -> waveforms; resampling; WavStream for a WAV arriving on a pipe
    minikws.augment     waveform perturbations and SpecAugment masks for training
    minikws.features    waveforms -> MFCC (frames, coefficients), running CMN
    minikws.frontend    clips or streamed chunks -> the model's feature frames (FrontEnd)
    minikws.pipeline    every epoch's augmented training features, prepared ahead in worker processes
    minikws.nn          LSTM, Linear, softmax cross-entropy (forward/backward pairs)
    minikws.optim       SGD, Adam, AdamW, clipping, schedules
    minikws.models      KWSModel: front end + LSTM stack + Linear, with its settings
    minikws.compress    magnitude and whole-unit pruning, int8 quantization (Int8KWSModel)
    minikws.io          model and checkpoint files (safe .npz)
    minikws.export      the network as an ONNX graph, its feature settings as JSON
    minikws.streaming   Stream: audio chunks -> front end -> LSTM state -> per-frame outputs
    minikws.detection   per-frame posteriors -> smoothing -> keyword detections (Detector)
    minikws.train       the training loop (Trainer) and data-set helpers
    minikws.train_stream  training a frame tagger on continuous streams; scoring it as a detector
    minikws.metrics     accuracy, confusion matrices, reports, plots
    minikws.datasets    the synthesized command set, Speech Commands, FSDD, folders
    minikws.gradcheck   numerical gradients that prove each backward formula
    minikws.serve       the model as a web service, and a page that listens to the microphone
    minikws.exercises   the tutorials' exercises: checks that say what is wrong, and the grader
    minikws.cli         the ``minikws`` command

and beside the flow: minikws.defaults (every default setting, once), minikws.errors (MinikwsError),
minikws._validate (argument checks), minikws._fileio (every file written, atomically), minikws._backend
and minikws._lstm_kernel (the compiled LSTM).

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
SUBMODULES = ("audio", "augment", "features", "frontend", "pipeline", "nn", "optim", "models", "compress", "io", "export",
              "streaming", "detection", "train", "train_stream", "metrics", "datasets", "gradcheck", "serve",
              "exercises", "cli", "defaults", "errors")

__all__ = ["MinikwsError", "__version__", *SUBMODULES]


def __getattr__(name):
    if name in SUBMODULES:
        module = importlib.import_module(f"minikws.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'minikws' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(SUBMODULES))
