"""Data augmentation: waveform perturbations and SpecAugment-style masks on features.

Every random choice comes from the ``rng`` (a ``numpy.random.Generator``) passed in, so the same
generator state gives the same output. No function writes into its input.

Shapes: S samples; F feature frames, K coefficients, B batch (the package's legend).

The signal-to-noise ratio of a mixture ``y + a n`` is

.. math::

    \\mathrm{SNR_{dB}} = 10 \\log_{10} \\frac{\\sum_s y_s^2}{\\sum_s (a n_s)^2},

so the noise scale that achieves a target SNR is :math:`a = \\sqrt{P_y / (P_n 10^{SNR/10})}`.
"""
from fractions import Fraction

import numpy as np

from minikws._validate import check_float_array, check_positive_int, check_real, check_rng
from minikws.audio import resample_ratio
from minikws.errors import MinikwsError


def measure_snr_db(y, noise):
    """The SNR in dB of signal ``y`` (S,) over ``noise`` (S,): ``10 log10(sum y^2 / sum noise^2)``."""
    p_y = float(np.sum(np.square(y, dtype=np.float64)))
    p_n = float(np.sum(np.square(noise, dtype=np.float64)))
    return 10.0 * np.log10(p_y / p_n)


def add_noise(y, noise, snr_db, rng):
    """Mix a random stretch of ``noise`` into ``y`` at a given signal-to-noise ratio.

    Parameters
    ----------
    y : ndarray of float (S,)
        The clean clip; must not be all zeros (its power defines the SNR).
    noise : ndarray of float (S_noise,)
        A noise recording. A random window of S samples is taken from it (the recording is tiled
        first when it is shorter than the clip).
    snr_db : float
        Target ratio of the power of ``y`` to that of the added noise, dB (over the whole clip).
    rng : numpy.random.Generator
        Picks the window's start.

    Returns
    -------
    ndarray (S,)
        ``y + a * window`` in ``y``'s dtype, with ``a`` from the module's SNR equation.
    """
    check_float_array("y", y, ndim=1)
    check_float_array("noise", noise, ndim=1)
    check_rng(rng)
    snr_db = check_real("snr_db", snr_db)
    if len(y) == 0:
        raise MinikwsError("y: the clip is empty")
    if len(noise) == 0:
        raise MinikwsError("noise: the recording is empty")
    S = len(y)
    if len(noise) < S:
        noise = np.tile(noise, -(-S // len(noise)))
    start = int(rng.integers(0, len(noise) - S + 1))
    window = noise[start:start + S].astype(np.float64)
    p_y = np.mean(np.square(y, dtype=np.float64))
    p_n = np.mean(np.square(window))
    if p_y == 0.0:
        raise MinikwsError("y: the clip is silent, so no SNR can be set")
    if p_n == 0.0:
        raise MinikwsError("noise: the chosen stretch is silent")
    a = np.sqrt(p_y / (p_n * 10.0 ** (snr_db / 10.0)))
    return (y + a * window).astype(y.dtype)


def shift(y, samples):
    """Delay ``y`` by ``samples`` (advance it when negative), filling with zeros; same length (S,).

    ``out[s] = y[s - samples]`` where ``0 <= s - samples < S``, else 0.
    """
    y = np.asarray(y)
    samples = int(samples)
    out = np.zeros_like(y)
    S = len(y)
    if abs(samples) >= S:
        return out
    if samples >= 0:
        out[samples:] = y[:S - samples]
    else:
        out[:S + samples] = y[-samples:]
    return out


def time_shift(y, max_shift, rng):
    """Shift ``y`` (S,) by a uniformly random number of samples in ``[-max_shift, max_shift]``.

    Returns
    -------
    ndarray (S,)
        :func:`shift` of ``y``: samples move right for a positive draw; zeros fill the gap.
    """
    check_float_array("y", y, ndim=1)
    max_shift = check_positive_int("max_shift", max_shift, minimum=0)
    check_rng(rng)
    return shift(y, int(rng.integers(-max_shift, max_shift + 1)))


def gain(y, db):
    """Scale ``y`` (any shape) by ``db`` decibels: ``y * 10^(db/20)``, in ``y``'s dtype."""
    check_float_array("y", y)
    db = check_real("db", db)
    return (y * 10.0 ** (db / 20.0)).astype(y.dtype)


def speed_perturb(y, factor, *, max_denominator=100):
    """Play ``y`` ``factor`` times faster (pitch and tempo together, as a tape run faster).

    The clip is resampled by the rational ``1 / factor ≈ up / down`` (``scipy.signal.resample_poly``,
    a polyphase FIR low-pass: :func:`minikws.audio.resample_ratio`), so ``factor = 1.1`` gives
    ``ceil(S * up / down) ≈ S / 1.1`` samples.

    Parameters
    ----------
    y : ndarray of float (S,)
    factor : float
        > 0; values above 1 shorten the clip and raise its pitch.
    max_denominator : int
        Bound on ``up`` and ``down`` (the factor is rounded to the nearest such fraction).

    Returns
    -------
    ndarray (S',)
        In ``y``'s dtype, ``S' = ceil(S * up / down)``.
    """
    check_float_array("y", y, ndim=1)
    factor = check_real("factor", factor, low=0.0)
    if factor == 0:
        raise MinikwsError("factor: expected a positive number, got 0")
    max_denominator = check_positive_int("max_denominator", max_denominator)
    ratio = Fraction(1.0 / factor).limit_denominator(max_denominator)
    if ratio == 1:
        return y.copy()
    return resample_ratio(y, ratio.numerator, ratio.denominator).astype(y.dtype, copy=False)


def spec_augment(features, *, rng, num_time_masks=2, max_time=10, num_freq_masks=1, max_freq=2,
                 value=0.0, return_masks=False):
    """SpecAugment's time and frequency masks (Park et al., 2019) on MFCC or filterbank features.

    Each time mask sets frames ``[t0, t0 + w)`` to ``value``, with width ``w`` uniform in
    ``0..max_time`` and start ``t0`` uniform in ``0..F - w``; each frequency mask does the same to
    coefficients ``[k0, k0 + w)`` with ``w`` in ``0..max_freq``. Widths are capped at F and K.
    Masks may overlap. Apply them to normalised features, where ``value = 0`` is the mean.

    Parameters
    ----------
    features : ndarray of float (F, K) or (B, F, K)
        In a batch every clip gets masks of its own.
    rng : numpy.random.Generator
    num_time_masks, max_time, num_freq_masks, max_freq : int
        How many masks of each kind, and their largest width (frames, coefficients).
    value : float
        What masked cells are set to.
    return_masks : bool
        Also return the bands that were masked.

    Returns
    -------
    out : ndarray, the shape and dtype of ``features``
        A masked copy.
    time_bands, freq_bands : list of (start, stop) pairs, or for a batch a list of such lists
        Only with ``return_masks``: the half-open ranges of frames / coefficients set to ``value``
        (zero-width masks included as ``(t0, t0)``).
    """
    check_float_array("features", features, ndim=(2, 3))
    check_rng(rng)
    counts = {name: check_positive_int(name, v, minimum=0) for name, v in (
        ("num_time_masks", num_time_masks), ("max_time", max_time),
        ("num_freq_masks", num_freq_masks), ("max_freq", max_freq))}
    out = features.copy()
    items = out[None] if out.ndim == 2 else out
    F, K = items.shape[1:]
    all_time, all_freq = [], []
    for x in items:  # x is a view (F, K) into out
        time_bands = _draw_bands(rng, counts["num_time_masks"], counts["max_time"], F)
        freq_bands = _draw_bands(rng, counts["num_freq_masks"], counts["max_freq"], K)
        for t0, t1 in time_bands:
            x[t0:t1, :] = value
        for k0, k1 in freq_bands:
            x[:, k0:k1] = value
        all_time.append(time_bands)
        all_freq.append(freq_bands)
    if not return_masks:
        return out
    if features.ndim == 2:
        return out, all_time[0], all_freq[0]
    return out, all_time, all_freq


def _draw_bands(rng, count, max_width, size):
    """``count`` half-open bands ``(start, start + w)`` inside ``0..size``, ``w`` uniform in 0..max."""
    bands = []
    for _ in range(count):
        w = int(rng.integers(0, min(max_width, size) + 1))
        start = int(rng.integers(0, size - w + 1))
        bands.append((start, start + w))
    return bands


def augment_waveform(y, rng, *, sr, noises=(), speed=(0.85, 1.15), p_speed=0.5, max_shift_s=0.1,
                     gain_db=6.0, snr_db=(5.0, 30.0), p_noise=0.5):
    """One random perturbation of a training clip (:attr:`minikws.train.TrainConfig.wave_augment`).

    In this order: with probability ``p_speed`` a speed change by a factor uniform in ``speed`` (tempo
    and pitch together, :func:`speed_perturb`: a slightly different voice, since +-15 % moves formants
    about as far as one adult's vocal tract differs from another's), cropped or zero-padded around the
    centre back to the clip's length; a :func:`time_shift` of up to ``max_shift_s`` seconds; a
    :func:`gain` uniform in +-``gain_db``; and, with probability ``p_noise`` when ``noises`` are given,
    one of them mixed in by :func:`add_noise` at an SNR uniform in ``snr_db``. The result is clipped to
    [-1, 1].

    Parameters
    ----------
    y : ndarray (S,)
    rng : numpy.random.Generator
        Every random choice; the same generator state gives the same clip.
    sr : int
        The clip's sample rate, Hz (converts ``max_shift_s`` to samples).
    noises : sequence of ndarray (S_noise,)
    speed : (float, float)
    p_speed, p_noise : float
        Probabilities in [0, 1].
    max_shift_s, gain_db : float
    snr_db : (float, float)

    Returns
    -------
    ndarray float32 (S,)
    """
    check_rng(rng)
    sr = check_positive_int("sr", sr)
    y = np.asarray(y, dtype=np.float32)
    factor = float(rng.uniform(*speed))
    # A speed ratio with a small denominator keeps the polyphase filter short (10x faster than 1/100).
    out = speed_perturb(y, factor, max_denominator=20) if rng.random() < p_speed else y
    if len(out) > len(y):  # back to the clip's length, keeping its centre: Speech Commands clips are 1 s
        start = (len(out) - len(y)) // 2
        out = out[start:start + len(y)]
    elif len(out) < len(y):
        before = (len(y) - len(out)) // 2
        out = np.pad(out, (before, len(y) - len(out) - before))
    out = time_shift(out, int(max_shift_s * sr), rng)
    out = gain(out, float(rng.uniform(-gain_db, gain_db)))
    if len(noises) and rng.random() < p_noise and np.any(out):
        noise = noises[int(rng.integers(len(noises)))]
        out = add_noise(out, noise, float(rng.uniform(*snr_db)), rng)
    return np.clip(out, -1.0, 1.0).astype(np.float32)
