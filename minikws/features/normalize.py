r"""Normalising cepstral frames (..., F, K) over time: deltas, per-utterance CMVN, a causal running CMN.

The last stage of the feature pipeline (:mod:`minikws.features`), after :func:`~minikws.features.mfcc`.
"""
import numpy as np
import scipy.signal

from minikws._validate import check_positive_int
from minikws.errors import MinikwsError
from minikws.features._checks import check_frames

__all__ = ["delta", "cmvn", "running_cmn"]


def delta(C, *, N=2, order=1):
    r"""Regression (delta) coefficients over :math:`\pm N` frames, repeating the edge frames.

    .. math::
        :label: mfcc-delta

        d_t = \frac{\sum_{n=1}^{N} n\, (C_{t+n} - C_{t-n})}{2 \sum_{n=1}^{N} n^2}

    The HTK formula python_speech_features' ``delta(feat, N)`` implements (librosa's
    ``feature.delta`` uses a Savitzky-Golay filter instead and gives other numbers at the edges).

    Parameters
    ----------
    C : ndarray (..., F, K)
    N : int
        Half-width of the regression window.
    order : int
        1 for deltas, 2 for delta-deltas (the formula applied twice), ...

    Returns
    -------
    ndarray (..., F, K)
    """
    C = check_frames(C)
    N = check_positive_int("N", N)
    order = check_positive_int("order", order)
    F = C.shape[-2]
    denominator = 2 * sum(n * n for n in range(1, N + 1))
    for _ in range(order):
        pad = [(0, 0)] * (C.ndim - 2) + [(N, N), (0, 0)]
        Cp = np.pad(C, pad, mode="edge")
        d = np.zeros_like(C)
        for n in range(1, N + 1):
            d += n * (Cp[..., N + n:N + n + F, :] - Cp[..., N - n:N - n + F, :])
        C = d / C.dtype.type(denominator)
    return C


def cmvn(C, *, lengths=None, variance=True, eps=1e-8):
    r"""Per-utterance cepstral mean (and variance) normalisation over frames.

    .. math::
        :label: mfcc-cmvn

        \hat C_{t,k} = \frac{C_{t,k} - \mu_k}{\max(\sigma_k, \epsilon)}, \qquad
        \mu_k = \frac1F \sum_t C_{t,k}, \quad \sigma_k^2 = \frac1F \sum_t (C_{t,k} - \mu_k)^2

    Parameters
    ----------
    C : ndarray (..., F, K)
    lengths : ndarray of int (...,), optional
        Valid frames per clip of a zero-padded batch (see :func:`num_frames`); the statistics use
        only those frames and the padding frames come out as 0.
    variance : bool
        Divide by :math:`\sigma_k` too (else only subtract the mean).
    eps : float
        Floor on :math:`\sigma_k`, so constant coefficients do not divide by zero.

    Returns
    -------
    ndarray (..., F, K)
    """
    C = check_frames(C)
    F = C.shape[-2]
    if lengths is None:
        mask = np.ones(C.shape[:-1] + (1,), dtype=C.dtype)
    else:
        lengths = np.asarray(lengths)
        if lengths.shape != C.shape[:-2] or lengths.dtype.kind not in "iu" \
                or (lengths < 1).any() or (lengths > F).any():
            raise MinikwsError(f"lengths: expected integers in [1, {F}] of shape {C.shape[:-2]}, "
                               f"got {lengths!r}")
        mask = (np.arange(F) < lengths[..., None]).astype(C.dtype)[..., None]
    count = mask.sum(axis=-2, keepdims=True)
    mu = (C * mask).sum(axis=-2, keepdims=True) / count
    out = (C - mu) * mask
    if variance:
        sigma = np.sqrt((out * out).sum(axis=-2, keepdims=True) / count)
        out /= np.maximum(sigma, C.dtype.type(eps))
    return out


def running_cmn(C, *, window=100, state=None):
    r"""Causal cepstral mean normalisation: subtract a running mean of the frames seen so far.

    Per-utterance :func:`cmvn` needs the whole utterance before its first frame can be normalised; a
    keyword spotter listening to a stream cannot wait. The running mean uses only frames up to
    :math:`t`: their plain average for the first ``window`` frames, then an exponential moving average
    that forgets with time constant ``window`` frames,

    .. math::
        :label: mfcc-cmn-running

        m_t = m_{t-1} + \frac{C_t - m_{t-1}}{\min(t, W)}, \quad m_0 = 0, \qquad
        \hat C_t = C_t - m_t, \qquad t = 1, 2, \ldots

    so a clip shorter than :math:`W` frames is normalised by its cumulative mean, and the same formula
    keeps adapting to the speaker and channel of an endless stream. A channel (microphone, room, voice
    timbre) multiplies the spectrum by a slowly varying gain, which adds a constant to the cepstrum;
    subtracting :math:`m_t` removes it. Because :math:`m_t` depends only on frames :math:`\le t`,
    zero padding after a clip's end does not change its frames, and feeding a sequence in chunks with
    ``state`` gives exactly the result of one call on the whole of it.

    Parameters
    ----------
    C : ndarray (..., F, K)
        Cepstral frames (e.g. :func:`mfcc`), float32 or float64.
    window : int
        :math:`W`, frames: the running average's memory. A time in seconds depends on the hop: 100
        frames are 1 s at :func:`~minikws.features.mfcc`'s default 10 ms hop and 2 s at the 20 ms hop
        of the model and ``minikws mfcc`` (:func:`minikws.models.default_feature_settings`).
    state : (m, t), optional
        What the previous call on the same stream returned: the mean :math:`m` (..., K) and the
        number of frames :math:`t` seen. ``None`` starts a new stream.

    Returns
    -------
    out : ndarray (..., F, K)
        :math:`\hat C`, in the dtype of ``C``.
    state : (ndarray (..., K), int)
        The mean and frame count after the last frame, for the next call.

    Examples
    --------
    >>> import numpy as np
    >>> C = np.array([[1.0, 4.0], [3.0, 4.0], [5.0, 4.0]])
    >>> running_cmn(C)[0]
    array([[0., 0.],
           [1., 0.],
           [2., 0.]])
    """
    C = check_frames(C)
    W = check_positive_int("window", window)
    lead, F = C.shape[:-2], C.shape[-2]
    if state is None:
        m, t0 = np.zeros(lead + C.shape[-1:], dtype=np.float64), 0
    else:
        try:
            m, t0 = state
        except (TypeError, ValueError):
            raise MinikwsError("state: expected (mean, frames) from the previous call") from None
        m = np.asarray(m, dtype=np.float64)
        if m.shape != lead + C.shape[-1:]:
            raise MinikwsError(f"state: the mean has shape {m.shape}, expected {lead + C.shape[-1:]} "
                               f"for C of shape {C.shape}")
        t0 = check_positive_int("state frames", t0, minimum=0)
    x = C.astype(np.float64, copy=False)
    out = np.empty(C.shape, dtype=np.float64)
    # Frames t0+1 .. W: the running average, m_t = (t0 m_{t0} + C_{t0+1} + ... + C_t) / t.
    n = max(0, min(F, W - t0))
    if n:
        t = np.arange(t0 + 1, t0 + n + 1, dtype=np.float64)[:, None]
        sums = t0 * m[..., None, :] + np.cumsum(x[..., :n, :], axis=-2)
        means = sums / t
        out[..., :n, :] = x[..., :n, :] - means
        m = means[..., -1, :]
    # Frames past W: the moving average m_t = (1 - a) m_{t-1} + a C_t with a = 1/W, a first-order
    # recursive filter along time (scipy.signal.lfilter runs it in C).
    if n < F:
        a = 1.0 / W
        rest = x[..., n:, :]
        zi = ((1.0 - a) * m)[..., None, :]
        means, _ = scipy.signal.lfilter([a], [1.0, -(1.0 - a)], rest, axis=-2, zi=zi)
        out[..., n:, :] = rest - means
        m = means[..., -1, :]
    return out.astype(C.dtype, copy=False), (m, t0 + F)

