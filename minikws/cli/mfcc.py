"""minikws mfcc: print a WAV file's MFCC shape, sample rate and duration; optionally plot them.

The features are the ones a model at that sample rate reads by default: the keywords of
:func:`minikws.models.default_feature_settings` (25 ms windows every 20 ms) passed to
:func:`minikws.features.mfcc`, whose own default hop is librosa's 10 ms: the same clip gives 51 frames
here and 101 from ``features.mfcc(y, sr=16000)``, as ``--help`` says.
"""


def add_parser(p):
    p.epilog = ("The features are the model's: 25 ms windows every 20 ms (minikws.models."
                "default_feature_settings). minikws.features.mfcc called with its own defaults uses "
                "librosa's 10 ms hop (160 samples at 16 kHz) and gives about twice as many frames.")
    p.add_argument("file", metavar="FILE.wav", help="the WAV file to analyse (/dev/stdin reads a pipe)")
    p.add_argument("--plot", metavar="OUT.png", default=None,
                   help="draw the waveform, mel spectrogram (dB) and MFCC to this PNG file")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--sr", type=int, default=None, metavar="SR",
                   help="resample to SR Hz first (default: the file's rate)")


def run(args):
    import json
    import os

    from minikws import audio, features
    from minikws._validate import check_positive_int
    from minikws.cli import _args
    from minikws.models import default_feature_settings

    sr = None if args.sr is None else check_positive_int("--sr", args.sr, minimum=1000)
    _args.output_file("--plot", args.plot)
    y, sr = audio.load_wav(args.file, sr=sr)
    settings = default_feature_settings(sr)
    C = features.mfcc(y, sr=sr, **settings)
    info = {
        "file": args.file,
        "sr": sr,
        "samples": int(y.size),
        "duration": y.size / sr,
        "shape": list(C.shape),
        "settings": settings,
    }
    if args.plot:
        _plot(args.plot, y, sr, C, settings, title=os.path.basename(args.file))
        info["plot"] = args.plot
    if args.json:
        print(json.dumps(info))
    else:
        F, K = C.shape
        print(f"{args.file}: {sr} Hz, {y.size / sr:.3f} s ({y.size} samples); MFCC shape ({F}, {K}): "
              f"{F} frames x {K} coefficients ({settings['win_length']}-sample windows every "
              f"{settings['hop_length']} samples = {1000 * settings['hop_length'] / sr:g} ms, the "
              f"model's hop; {settings['n_mels']} mel bands)")
        if args.plot:
            print(f"wrote {args.plot}")
    return 0


def _plot(path, y, sr, C, settings, title):
    """Three panels sharing a time axis in seconds: waveform, mel spectrogram in dB (Hz on a mel
    scale), MFCC. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from minikws import features
    from minikws._fileio import atomic_write

    mel_keys = ("n_fft", "hop_length", "win_length", "n_mels", "fmin", "fmax")
    E = features.melspectrogram(y, sr=sr, **{k: settings[k] for k in mel_keys})
    L = features.power_to_db(E)                                          # (F, M)
    F, K = C.shape
    hop = settings["hop_length"] / sr
    t_edges = (np.arange(F + 1) - 0.5) * hop                              # frame t is centred on t*hop
    m_lo = features.hz_to_mel(settings["fmin"])
    m_hi = features.hz_to_mel(settings["fmax"])
    centres = np.linspace(m_lo, m_hi, settings["n_mels"] + 2)[1:-1]
    step = centres[1] - centres[0]
    f_edges = features.mel_to_hz(np.append(centres - step / 2, centres[-1] + step / 2))

    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True, constrained_layout=True)
    ax = axes[0]
    ax.plot(np.arange(y.size) / sr, y, lw=0.5, color="tab:blue")
    ax.set_ylabel("amplitude")
    ax.set_title(f"{title}: waveform ({sr} Hz, {y.size / sr:.2f} s)")
    ax = axes[1]
    im = ax.pcolormesh(t_edges, f_edges, L.T, shading="flat", cmap="magma")
    ax.set_yscale("function", functions=(lambda f: features.hz_to_mel(np.maximum(f, 0)),
                                         features.mel_to_hz))
    ticks = [t for t in (100, 250, 500, 1000, 2000, 4000, 8000, 16000) if f_edges[0] <= t <= f_edges[-1]]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_ylabel("frequency (Hz, mel scale)")
    ax.set_title(f"mel spectrogram, {settings['n_mels']} bands")
    fig.colorbar(im, ax=ax, label="dB")
    ax = axes[2]
    scale = max(float(np.abs(C[:, 1:] if K > 1 else C).max()), 1e-6)  # c0 would swamp the others
    im = ax.pcolormesh(t_edges, np.arange(K + 1) - 0.5, C.T, shading="flat", cmap="coolwarm",
                       vmin=-scale, vmax=scale)
    ax.set_ylabel("coefficient k")
    ax.set_xlabel("time (s)")
    ax.set_title(f"MFCC ({F} frames x {K} coefficients; colour scale of c1..c{K - 1}, c0 clipped)")
    fig.colorbar(im, ax=ax, label="value")
    axes[0].set_xlim(t_edges[0], max(t_edges[-1], y.size / sr))

    try:
        with atomic_write(path, name=f"--plot {path}") as f:
            fig.savefig(f, format="png", dpi=110)
    finally:
        plt.close(fig)
