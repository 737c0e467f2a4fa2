"""minikws.augment: known answers for noise at an SNR, shifts, gain, speed, SpecAugment masks and the
training perturbation augment_waveform."""
import numpy as np
import pytest

from minikws import augment
from minikws.errors import MinikwsError


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("target", [-5.0, 0.0, 10.0, 30.0])
def test_add_noise_achieves_the_snr(rng, dtype, target):
    t = np.arange(16000) / 16000
    y = (0.3 * np.sin(2 * np.pi * 440 * t) * np.hanning(16000)).astype(dtype)
    noise = rng.standard_normal(50000).astype(dtype)
    out = augment.add_noise(y, noise, target, rng)
    assert out.dtype == dtype and out.shape == y.shape
    achieved = augment.measure_snr_db(y, out.astype(np.float64) - y)
    assert abs(achieved - target) < 0.1


def test_add_noise_tiles_short_noise_and_uses_the_rng():
    y = np.ones(1000)
    noise = np.array([1.0, -1.0, 2.0])
    out = augment.add_noise(y, noise, 0.0, np.random.default_rng(5))
    added = out - y
    assert np.isclose(np.mean(added ** 2), 1.0)  # 0 dB: the noise has the clip's power
    # the added noise is a scaled window of the recording repeated end to end
    windows = [np.tile(noise, 400)[p:p + 1000] for p in range(3)]
    assert any(np.allclose(added / w, added[0] / w[0]) for w in windows)
    np.testing.assert_array_equal(out, augment.add_noise(y, noise, 0.0, np.random.default_rng(5)))


def test_add_noise_refuses_silence_and_bad_arguments(rng):
    with pytest.raises(MinikwsError, match="y: the clip is silent"):
        augment.add_noise(np.zeros(100), np.ones(100), 10.0, rng)
    with pytest.raises(MinikwsError, match="noise"):
        augment.add_noise(np.ones(100), np.zeros(100), 10.0, rng)
    with pytest.raises(MinikwsError, match="rng"):
        augment.add_noise(np.ones(100), np.ones(100), 10.0, 0)
    with pytest.raises(MinikwsError, match="snr_db"):
        augment.add_noise(np.ones(100), np.ones(100), np.nan, rng)
    with pytest.raises(MinikwsError, match="y"):
        augment.add_noise(np.ones((2, 100)), np.ones(100), 10.0, rng)


def test_shift_known_answers():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(augment.shift(y, 1), [0, 1, 2, 3])
    np.testing.assert_array_equal(augment.shift(y, -2), [3, 4, 0, 0])
    np.testing.assert_array_equal(augment.shift(y, 0), y)
    np.testing.assert_array_equal(augment.shift(y, 4), [0, 0, 0, 0])
    np.testing.assert_array_equal(augment.shift(y, -9), [0, 0, 0, 0])


def test_time_shift_moves_samples_by_the_drawn_amount():
    y = np.zeros(100)
    y[50] = 1.0
    seen = set()
    for seed in range(40):
        expected = int(np.random.default_rng(seed).integers(-10, 11))
        out = augment.time_shift(y, 10, np.random.default_rng(seed))
        assert np.flatnonzero(out).tolist() == [50 + expected]
        seen.add(expected)
    assert min(seen) < 0 < max(seen)
    np.testing.assert_array_equal(augment.time_shift(y, 0, np.random.default_rng(0)), y)
    with pytest.raises(MinikwsError, match="max_shift"):
        augment.time_shift(y, -1, np.random.default_rng(0))


def test_gain_in_decibels():
    y = np.array([0.5, -0.25], dtype=np.float32)
    np.testing.assert_allclose(augment.gain(y, 20 * np.log10(2)), [1.0, -0.5], rtol=1e-6)
    np.testing.assert_allclose(augment.gain(y, -20.0), [0.05, -0.025], rtol=1e-6)
    assert augment.gain(y, 3.0).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("factor", [0.9, 1.07, 1.1, 2.0])
def test_speed_perturb_is_resample_poly_with_its_default_filter(dtype, factor):
    """The cached filter must be exactly the one resample_poly designs itself."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    y = np.random.default_rng(4).standard_normal(3001).astype(dtype)
    r = Fraction(1 / factor).limit_denominator(20)
    expected = resample_poly(y, r.numerator, r.denominator).astype(dtype)
    for _ in range(2):  # designed, then from the cache
        out = augment.speed_perturb(y, factor, max_denominator=20)
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, expected)


def test_speed_perturb_changes_length_and_pitch():
    sr = 16000
    t = np.arange(sr) / sr
    y = np.sin(2 * np.pi * 500 * t)
    fast = augment.speed_perturb(y, 2.0)
    assert len(fast) == sr // 2
    spectrum = np.abs(np.fft.rfft(fast[1000:-1000] * np.hanning(len(fast) - 2000)))
    freqs = np.fft.rfftfreq(len(fast) - 2000, d=1 / sr)
    assert abs(freqs[np.argmax(spectrum)] - 1000) < 5
    slow = augment.speed_perturb(y.astype(np.float32), 0.9)
    assert slow.dtype == np.float32 and abs(len(slow) - sr / 0.9) <= 1
    np.testing.assert_array_equal(augment.speed_perturb(y, 1.0), y)
    with pytest.raises(MinikwsError, match="factor"):
        augment.speed_perturb(y, 0.0)


def test_spec_augment_masks_exactly_the_reported_bands(rng):
    x = rng.standard_normal((50, 13)).astype(np.float32) + 5.0  # no cell is 0 by chance
    original = x.copy()
    out, time_bands, freq_bands = augment.spec_augment(
        x, rng=np.random.default_rng(3), num_time_masks=3, max_time=8, num_freq_masks=2, max_freq=4,
        return_masks=True)
    np.testing.assert_array_equal(x, original)  # input untouched
    assert len(time_bands) == 3 and len(freq_bands) == 2
    masked = np.zeros(x.shape, dtype=bool)
    for t0, t1 in time_bands:
        assert 0 <= t0 <= t1 <= 50 and t1 - t0 <= 8
        masked[t0:t1, :] = True
    for k0, k1 in freq_bands:
        assert 0 <= k0 <= k1 <= 13 and k1 - k0 <= 4
        masked[:, k0:k1] = True
    np.testing.assert_array_equal(out == 0, masked)
    np.testing.assert_array_equal(out[~masked], original[~masked])
    assert out.dtype == np.float32
    # the same generator state gives the same masks; the array alone is returned by default
    again = augment.spec_augment(x, rng=np.random.default_rng(3), num_time_masks=3, max_time=8,
                                 num_freq_masks=2, max_freq=4)
    np.testing.assert_array_equal(again, out)


def test_spec_augment_batch_gets_masks_per_clip(rng):
    x = rng.standard_normal((4, 30, 10)) + 5.0
    out, time_bands, freq_bands = augment.spec_augment(x, rng=rng, num_time_masks=1, max_time=30,
                                                       num_freq_masks=1, max_freq=10, value=-1.0,
                                                       return_masks=True)
    assert len(time_bands) == len(freq_bands) == 4
    for b in range(4):
        masked = np.zeros((30, 10), dtype=bool)
        (t0, t1), = time_bands[b]
        (k0, k1), = freq_bands[b]
        masked[t0:t1] = True
        masked[:, k0:k1] = True
        np.testing.assert_array_equal(out[b] == -1.0, masked)
    assert len({tuple(tb[0]) for tb in time_bands}) > 1  # not one mask for the whole batch


def test_spec_augment_widths_are_capped_and_zero_masks_change_nothing(rng):
    x = rng.standard_normal((3, 2)) + 5.0
    out, tb, fb = augment.spec_augment(x, rng=rng, num_time_masks=5, max_time=100, num_freq_masks=5,
                                       max_freq=100, return_masks=True)
    assert all(t1 <= 3 for _, t1 in tb) and all(k1 <= 2 for _, k1 in fb)
    np.testing.assert_array_equal(augment.spec_augment(x, rng=rng, num_time_masks=0, num_freq_masks=0), x)


def test_spec_augment_bad_arguments(rng):
    with pytest.raises(MinikwsError, match="features"):
        augment.spec_augment(np.ones(5), rng=rng)
    with pytest.raises(MinikwsError, match="num_time_masks"):
        augment.spec_augment(np.ones((5, 3)), rng=rng, num_time_masks=-1)
    with pytest.raises(MinikwsError, match="rng"):
        augment.spec_augment(np.ones((5, 3)), rng=1)


def test_augment_waveform_keeps_length_is_seeded_and_changes_speed():
    sr = 8000
    t = np.arange(sr) / sr
    y = (0.5 * np.sin(2 * np.pi * 400 * t) * np.hanning(sr)).astype(np.float32)
    a = augment.augment_waveform(y, np.random.default_rng(3), sr=sr)
    b = augment.augment_waveform(y, np.random.default_rng(3), sr=sr)
    c = augment.augment_waveform(y, np.random.default_rng(4), sr=sr)
    assert a.shape == y.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # a forced speed of 1.15 moves the tone to 460 Hz
    fast = augment.augment_waveform(y, np.random.default_rng(0), sr=sr, speed=(1.15, 1.15), p_speed=1.0,
                                    max_shift_s=0.0, gain_db=0.0)
    peak = np.fft.rfftfreq(sr, 1 / sr)[np.argmax(np.abs(np.fft.rfft(fast)))]
    assert abs(peak - 460) <= 2
    # noise is mixed in only from the recordings given, at an SNR inside the range
    noise = np.random.default_rng(9).standard_normal(3 * sr).astype(np.float32)
    noisy = augment.augment_waveform(y, np.random.default_rng(1), sr=sr, noises=[noise], p_noise=1.0,
                                     p_speed=0.0, max_shift_s=0.0, gain_db=0.0, snr_db=(10.0, 10.0))
    residual = noisy.astype(np.float64) - y
    snr = 10 * np.log10(np.sum(y.astype(np.float64) ** 2) / np.sum(residual ** 2))
    assert abs(snr - 10.0) < 0.05
