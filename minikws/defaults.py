"""The default settings of a model and of its training, stated once.

:class:`minikws.frontend.FrontEnd`, :class:`minikws.models.KWSModel`,
:class:`minikws.train.TrainConfig`, :func:`minikws.train.train_on_dataset` and the ``minikws train`` and
``minikws demo`` commands all read their defaults from :data:`DEFAULTS`, so that a default changed here
changes everywhere, and a ``--help`` text cannot disagree with the code.
"""
import dataclasses

__all__ = ["Defaults", "DEFAULTS"]


@dataclasses.dataclass(frozen=True)
class Defaults:
    """Default settings (frozen: read them, never assign them).

    Attributes
    ----------
    sr : int
        Sample rate of a new model, Hz.
    cmn_window : int
        W of the running cepstral mean normalisation, frames (:eq:`mfcc-cmn-running`; 100 frames = 2 s
        at the 20 ms hop of :func:`minikws.frontend.default_feature_settings`).
    log_floor_db : float
        The front end's absolute floor of the mel energies, dB (:eq:`frontend-log-floor`): -80 dB, where
        the older per-clip floor (80 dB below the loudest mel energy) lies for the median clip of the
        synthesized set, whose loudest mel energies are near 0 dB.
    hidden_size, num_layers, dropout : int, int, float
        H per LSTM layer, stacked layers (the article's 2), dropout probability in training.
    epochs, batch_size, lr, weight_decay, warmup_epochs, min_lr_ratio, clip_norm, patience
        :class:`minikws.train.TrainConfig`'s optimisation settings.
    spec_augment, spec_time_masks, spec_max_time, spec_freq_masks, spec_max_freq, wave_augment
        :class:`minikws.train.TrainConfig`'s augmentation settings.
    seed : int
        Seed of the weights and of every random choice of training.
    """

    # the front end
    sr: int = 16000
    cmn_window: int = 100
    log_floor_db: float = -80.0
    # the network
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.1
    # training
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-2
    weight_decay: float = 1e-2
    warmup_epochs: float = 1.0
    min_lr_ratio: float = 0.02
    clip_norm: float = 5.0
    patience: int = 10
    spec_augment: bool = True
    spec_time_masks: int = 2
    spec_max_time: int = 5
    spec_freq_masks: int = 1
    spec_max_freq: int = 2
    wave_augment: bool = True
    seed: int = 0


DEFAULTS = Defaults()
