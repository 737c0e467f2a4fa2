"""minikws: keyword spotting from scratch.

Data flows through the package the way it flows through a recognizer::

    minikws.audio       WAV files -> waveforms; resampling
    minikws.augment     waveform perturbations and SpecAugment masks for training
    minikws.features    waveforms -> MFCC (frames, coefficients), running CMN
    minikws.frontend    clips or streamed chunks -> the model's feature frames (FrontEnd)
    minikws.nn          LSTM, Linear, softmax cross-entropy (forward/backward pairs)
    minikws.optim       SGD, Adam, AdamW, clipping, schedules
    minikws.models      KWSModel: front end + LSTM stack + Linear, with its settings
    minikws.io          model and checkpoint files (safe .npz)
    minikws.streaming   Stream: audio chunks -> front end -> LSTM state -> per-frame outputs
    minikws.detection   per-frame posteriors -> smoothing -> keyword detections (Detector)
    minikws.train       the training loop (Trainer) and data-set helpers
    minikws.train_stream  training a frame tagger on continuous streams; scoring it as a detector
    minikws.metrics     accuracy, confusion matrices, reports, plots
    minikws.datasets    the synthesized command set, Speech Commands, FSDD, folders
    minikws.gradcheck   numerical gradients that prove each backward formula
    minikws.exercises   the tutorials' exercises: checks that say what is wrong, and the grader
    minikws.cli         the ``minikws`` command

and beside the flow: minikws.defaults (every default setting, once), minikws.errors (MinikwsError),
minikws._validate (argument checks), minikws._backend and minikws._lstm_kernel (the compiled LSTM).

Shape legend, used in every docstring of the package:

    T time steps, B batch, D input features, H hidden units, C classes,
    F feature frames, K cepstral coefficients (a feature matrix is (F, K)).
"""

__version__ = "0.1.0"

from minikws.errors import MinikwsError  # noqa: E402,F401
