"""minikws: keyword spotting from scratch.

Data flows through the package the way it flows through a recognizer::

    minikws.audio      WAV files -> waveforms
    minikws.features   waveforms -> MFCC (frames, coefficients)
    minikws.nn         LSTM, Linear, softmax cross-entropy (forward/backward pairs)
    minikws.optim      SGD, Adam, AdamW, clipping, schedules
    minikws.gradcheck  numerical gradients that prove each backward formula
    minikws.cli        the ``minikws`` command

Shape legend, used in every docstring of the package:

    T time steps, B batch, D input features, H hidden units, C classes,
    F feature frames, K cepstral coefficients (a feature matrix is (F, K)).
"""

__version__ = "0.1.0"

from minikws.errors import MinikwsError  # noqa: E402,F401
