"""Write the golden MFCC fixtures: librosa's and python_speech_features' numbers for tests/.

Run by hand where the reference libraries are installed (minikws is not needed)::

    /work/venv-ref/bin/python scripts/make_fixtures_audio.py

It writes, into tests/fixtures/:

- ``librosa_mfcc.npz``: ``librosa.feature.mfcc`` over a grid of keywords (sample rates 8000, 16000
  and 22050 Hz; n_fft, hop, win_length < n_fft, centre on/off, pad mode, htk on/off, n_mels,
  fmin/fmax, n_mfcc, lifter, DCT norm, mel_norm, window, power), float32 input;
- ``librosa_stages.npz``: mel filterbanks, mel scales, one power spectrogram and mel spectrogram;
- ``psf_mfcc.npz``: ``python_speech_features.mfcc`` over a grid of its keywords, float64 computation (signals stored as float32, read as float64);
- ``psf_stages.npz``: its filterbanks, ``delta`` and ``lifter``.

Case ``i`` of a ``*_mfcc.npz`` file is stored as ``case{i}_signal`` (the name of a ``signal_*``
array), ``case{i}_kwargs`` (JSON) and ``case{i}_out`` (frames first, as minikws returns it). Only
numbers and strings are stored, so the files load with ``allow_pickle=False``. Signals are made
here from a fixed seed: noise, a chirp, a harmonic tone with a syllable-like envelope, near-silence,
and a tone with a run of exact zeros (to exercise the log floors).
"""
import json
import os
import warnings

import librosa
import numpy as np
import python_speech_features as psf

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
SEED = 20240611
DURATION = 0.3


def make_signals(sr, rng):
    t = np.arange(int(DURATION * sr)) / sr
    envelope = np.sin(np.pi * t / DURATION) ** 2
    harmonic = sum(np.sin(2 * np.pi * 140 * h * t) / h for h in range(1, 8))
    gapped = 0.4 * np.sin(2 * np.pi * 440 * t)
    gapped[len(t) // 3: 2 * len(t) // 3] = 0.0
    return {
        "noise": 0.3 * rng.standard_normal(t.size),
        "chirp": 0.5 * np.sin(2 * np.pi * (60 * t + 0.5 * (0.45 * sr - 60) / DURATION * t ** 2)),
        "voiced": 0.2 * envelope * harmonic + 0.003 * rng.standard_normal(t.size),
        "quiet": 3e-5 * rng.standard_normal(t.size),
        "gapped": gapped,
    }


def librosa_grid(sr):
    base = dict(sr=sr, n_mfcc=13, n_fft=512, hop_length=160, win_length=400, n_mels=40)
    nyq = sr / 2
    return [
        dict(base),
        dict(base, center=False),
        dict(base, htk=True),
        dict(base, htk=True, center=False, fmin=20.0, fmax=0.9 * nyq),
        dict(base, n_fft=1024, hop_length=256, win_length=1024, n_mels=64, n_mfcc=20),
        dict(base, n_fft=256, hop_length=100, win_length=200, n_mels=26, fmin=50.0),
        dict(base, lifter=22),
        dict(base, norm=None, n_mfcc=40),
        dict(base, mel_norm=None, fmin=100.0, fmax=0.75 * nyq),
        dict(base, pad_mode="reflect", window="hamming"),
        dict(base, power=1.0, n_fft=400, win_length=None),
        dict(base, n_fft=2048, hop_length=512, win_length=1500, n_mels=128, n_mfcc=30, htk=True,
             lifter=10, center=False),
    ]


def psf_grid(sr):
    return [
        dict(),
        dict(winlen=0.032, winstep=0.016, numcep=20, nfilt=40, nfft=1024 if sr > 16000 else 512),
        dict(appendEnergy=False, ceplifter=0, preemph=0.0),
        dict(lowfreq=100, highfreq=0.8 * sr / 2, nfilt=30, ceplifter=15, preemph=0.9),
        dict(nfft=256, winlen=0.016, winstep=0.008, numcep=12, nfilt=20),
        dict(nfft=1024, winlen=0.05, winstep=0.0125, nfilt=64, numcep=26),
    ]


def main():
    rng = np.random.default_rng(SEED)
    lib, lib_stages, ps, ps_stages = {}, {}, {}, {}
    i = j = 0
    for sr in (8000, 16000, 22050):
        signals = make_signals(sr, rng)
        names = sorted(signals)
        for name, y in signals.items():
            lib[f"signal_{name}_{sr}"] = y.astype(np.float32)
            ps[f"signal_{name}_{sr}"] = y.astype(np.float32)  # exactly representable in float64
        for c, kw in enumerate(librosa_grid(sr)):
            pair = (names[c % len(names)], names[(c + 2) % len(names)])
            if kw.get("power") == 1.0:
                # 80 dB of *magnitude* reaches 1e-8 of the peak, float32's FFT rounding level: on a
                # pure chirp the quietest bands are rounding noise in both libraries. Use broadband
                # signals, whose spectra stay far above it.
                pair = ("noise", "voiced")
            for name in pair:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # empty mel filters at 8 kHz with 128 bands
                    out = librosa.feature.mfcc(y=lib[f"signal_{name}_{sr}"], **kw)
                lib[f"case{i}_signal"] = np.array(f"signal_{name}_{sr}")
                lib[f"case{i}_kwargs"] = np.array(json.dumps(kw))
                lib[f"case{i}_out"] = out.T
                i += 1
        for c, kw in enumerate(psf_grid(sr)):
            for name in (names[c % len(names)], names[(c + 3) % len(names)]):
                kw_sr = dict(kw, samplerate=sr)
                out = psf.mfcc(ps[f"signal_{name}_{sr}"].astype(np.float64), **kw_sr)
                ps[f"case{j}_signal"] = np.array(f"signal_{name}_{sr}")
                ps[f"case{j}_kwargs"] = np.array(json.dumps(kw_sr))
                ps[f"case{j}_out"] = out
                j += 1

    # librosa stages
    f = np.concatenate([np.linspace(0, 11025, 200), [999.999, 1000.0, 1000.001]])
    lib_stages["hz"] = f
    lib_stages["mel_slaney"] = librosa.hz_to_mel(f, htk=False)
    lib_stages["mel_htk"] = librosa.hz_to_mel(f, htk=True)
    m = np.linspace(0, 40, 100)
    lib_stages["mel"] = m
    lib_stages["hz_slaney"] = librosa.mel_to_hz(m, htk=False)
    lib_stages["hz_htk"] = librosa.mel_to_hz(m * 100, htk=True)
    banks = [dict(sr=16000, n_fft=512, n_mels=40), dict(sr=16000, n_fft=512, n_mels=40, htk=True),
             dict(sr=8000, n_fft=256, n_mels=26, fmin=20.0, fmax=3800.0, norm=None),
             dict(sr=22050, n_fft=2048, n_mels=128, htk=True, norm="slaney")]
    for b, kw in enumerate(banks):
        lib_stages[f"bank{b}_kwargs"] = np.array(json.dumps(kw))
        lib_stages[f"bank{b}"] = librosa.filters.mel(**kw, dtype=np.float64)
    y = lib["signal_voiced_16000"]
    lib_stages["spec_signal"] = y
    lib_stages["spec_power"] = (np.abs(librosa.stft(y, n_fft=512, hop_length=160, win_length=400)) ** 2).T
    lib_stages["spec_mel"] = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=160,
                                                            win_length=400, n_mels=40).T
    lib_stages["spec_db"] = librosa.power_to_db(lib_stages["spec_mel"].T).T

    # python_speech_features stages
    pbanks = [dict(nfilt=26, nfft=512, samplerate=16000), dict(nfilt=40, nfft=256, samplerate=8000,
              lowfreq=100, highfreq=3500), dict(nfilt=80, nfft=512, samplerate=16000)]
    for b, kw in enumerate(pbanks):
        ps_stages[f"bank{b}_kwargs"] = np.array(json.dumps(kw))
        ps_stages[f"bank{b}"] = psf.get_filterbanks(**kw)
    feat = ps["case0_out"]
    ps_stages["feat"] = feat
    ps_stages["delta1"] = psf.delta(feat, 1)
    ps_stages["delta2"] = psf.delta(feat, 2)
    ps_stages["delta_delta2"] = psf.delta(psf.delta(feat, 2), 2)
    ps_stages["lifter22"] = psf.base.lifter(feat, 22)

    os.makedirs(OUT, exist_ok=True)
    for fname, arrays in (("librosa_mfcc", lib), ("librosa_stages", lib_stages), ("psf_mfcc", ps),
                          ("psf_stages", ps_stages)):
        path = os.path.join(OUT, f"{fname}.npz")
        np.savez_compressed(path, **arrays)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    print(f"librosa {librosa.__version__}: {i} mfcc cases; python_speech_features: {j} cases")


if __name__ == "__main__":
    main()
