"""A small ctypes binding of libespeak-ng, the speech synthesizer behind the built-in data set.

The ``espeakng-loader`` wheel ships ``libespeak-ng`` and its ``espeak-ng-data`` folder, so nothing has
to be installed system-wide. Only the handful of calls of espeak-ng's C API (``speak_lib.h``) that
synthesis into memory needs are bound:

* ``espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, path, 0)`` returns the output sample rate
  (22050 Hz); in synchronous mode ``espeak_Synth`` returns only once all audio has been handed to
* the synth callback ``int cb(short *wav, int numsamples, espeak_EVENT *events)``, which we use to
  collect the int16 samples (returning 0 means "continue");
* ``espeak_SetVoiceByName("en-us+f3")``: a language voice, optionally ``+variant`` (a file in
  ``espeak-ng-data/voices/!v`` that changes formants, pitch and breathiness);
* ``espeak_SetParameter(param, value, 0)`` for rate (words per minute, 80-450), volume (0-200),
  pitch (0-100, 50 normal) and pitch range (0-100).

espeak-ng keeps one global synthesizer per process, so :class:`ESpeak` is used through
:func:`get_espeak`, which initialises the library once and serialises calls with a lock.

Determinism: espeak-ng's wave generator keeps state from one utterance to the next (static variables
such as the phase of its pitch "flutter"), so the samples of a word depend, by a few samples, on what
was spoken before it in the same process. :func:`synthesize_batch` therefore speaks a list of
utterances in fresh worker processes (``python -m minikws.datasets.espeak``), in a fixed order and
partition, which makes its output a function of the list alone.
"""
import ctypes
import json
import os
import subprocess
import sys
import threading

import numpy as np

from minikws.errors import MinikwsError

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EE_OK = 0
PARAMETERS = {"rate": 1, "volume": 2, "pitch": 3, "range": 4}
RANGES = {"rate": (80, 450), "volume": (0, 200), "pitch": (0, 100), "range": (0, 100)}

_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                   ctypes.c_void_p)


class ESpeakError(MinikwsError):
    """libespeak-ng could not be loaded, or refused a voice or a setting."""


class ESpeak:
    """libespeak-ng in synchronous retrieval mode: text in, int16 samples out.

    Parameters
    ----------
    library : str, optional
        Path of ``libespeak-ng``; default: the one in the ``espeakng-loader`` wheel.
    data : str, optional
        Path of the ``espeak-ng-data`` folder; default: the wheel's.
    """

    def __init__(self, library=None, data=None):
        if library is None or data is None:
            try:
                import espeakng_loader
            except ImportError as exc:
                raise ESpeakError("espeak-ng: the espeakng-loader package is not installed "
                                  "(pip install espeakng-loader)") from exc
            library = espeakng_loader.get_library_path() if library is None else library
            data = espeakng_loader.get_data_path() if data is None else data
        if not os.path.isdir(data):
            raise ESpeakError(f"espeak-ng: data folder {data} does not exist")
        try:
            lib = ctypes.CDLL(library)
        except OSError as exc:
            raise ESpeakError(f"espeak-ng: cannot load {library}: {exc}") from exc
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        # espeak-ng draws random numbers (voicing jitter, noise sources); seeding its generator before
        # each utterance makes the output a function of the arguments alone.
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = None
        # path is the folder that *contains* espeak-ng-data
        self.sr = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                        os.path.dirname(os.path.abspath(data)).encode(), 0)
        if self.sr <= 0:
            raise ESpeakError(f"espeak-ng: espeak_Initialize failed with data folder {data}")
        self.version = lib.espeak_Info(None).decode()
        self.data = data
        self._variants = frozenset(os.listdir(os.path.join(data, "voices", "!v")))
        self._lib = lib
        self._chunks = []
        self._callback = _SYNTH_CALLBACK(self._collect)  # kept referenced: C holds the pointer
        lib.espeak_SetSynthCallback(self._callback)
        self._lock = threading.Lock()

    def _collect(self, wav, numsamples, events):
        if wav and numsamples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(numsamples,)).copy())
        return 0

    def variants(self):
        """Sorted names of the voice variants in ``espeak-ng-data/voices/!v``."""
        return sorted(self._variants)

    def synth(self, text, *, voice="en", rate=175, pitch=50, pitch_range=50, volume=100, seed=0):
        """Speak ``text``; return its samples.

        Parameters
        ----------
        text : str
        voice : str
            ``language[+variant]``, e.g. ``"en-gb-x-rp+m3"``.
        rate, pitch, pitch_range, volume : int
            espeak-ng's parameters (``pitch_range`` is its "range"), within ``RANGES``.
        seed : int
            Seed of espeak-ng's own random generator (``espeak_ng_SetRandSeed``); the same arguments
            give the same samples.

        Returns
        -------
        y : ndarray of int16 (S,)
            Mono samples at ``self.sr`` (22050 Hz) without the end-of-sentence pause.
        """
        language, _, variant = voice.partition("+")
        if variant and variant not in self._variants:
            # espeak-ng silently ignores an unknown variant; refuse it instead
            raise ESpeakError(f"voice {voice!r}: unknown variant {variant!r}")
        settings = {"rate": rate, "pitch": pitch, "range": pitch_range, "volume": volume}
        for name, value in settings.items():
            lo, hi = RANGES[name]
            if not lo <= int(value) <= hi:
                raise ESpeakError(f"{name}: expected {lo}..{hi}, got {value}")
        data = text.encode("utf-8")
        with self._lock:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise ESpeakError(f"voice {voice!r}: espeak-ng does not know it")
            for name, value in settings.items():
                if self._lib.espeak_SetParameter(PARAMETERS[name], int(value), 0) != _EE_OK:
                    raise ESpeakError(f"{name}: espeak-ng refused {value}")
            self._chunks = []
            self._lib.espeak_ng_SetRandSeed(int(seed))
            err = self._lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8,
                                         None, None)
            chunks, self._chunks = self._chunks, []
        if err != _EE_OK:
            raise ESpeakError(f"espeak-ng: synthesis of {text!r} failed (error {err})")
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


_ENGINE = None
_ENGINE_LOCK = threading.Lock()


def get_espeak():
    """The process-wide :class:`ESpeak` (espeak-ng has one global state), created on first use."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = ESpeak()
        return _ENGINE


def synthesize_batch(utterances, *, workers=2):
    """Speak many utterances deterministically, in ``workers`` fresh processes.

    Parameters
    ----------
    utterances : list of (text, voice, rate, pitch, pitch_range)
        Spoken in this order; worker ``w`` gets the ``w``-th contiguous slice of the list.
    workers : int
        Part of the result's definition (the partition fixes each worker's history), not only of
        its speed: keep it constant for reproducible output.

    Returns
    -------
    sr : int
        espeak-ng's sample rate (22050 Hz).
    samples : list of ndarray of int16 (S_u,)
        One per utterance.
    """
    utterances = [[str(t), str(v), int(r), int(p), int(g)] for t, v, r, p, g in utterances]
    if not utterances:
        return get_espeak().sr, []
    bounds = np.linspace(0, len(utterances), min(workers, len(utterances)) + 1).round().astype(int)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    procs = []
    for w in range(len(bounds) - 1):
        proc = subprocess.Popen([sys.executable, "-m", "minikws.datasets.espeak"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        procs.append(proc)
    # Feed every worker before reading any, so they synthesize in parallel.
    for w, proc in enumerate(procs):
        proc.stdin.write(json.dumps(utterances[bounds[w]:bounds[w + 1]]).encode())
        proc.stdin.close()
    srs, out = set(), []
    for proc in procs:
        data = proc.stdout.read()
        err = proc.stderr.read().decode(errors="replace").strip()
        proc.wait()
        if proc.returncode != 0:
            last = err.splitlines()[-1] if err else f"exit status {proc.returncode}"
            raise ESpeakError(f"espeak-ng worker failed: {last}")
        header = np.frombuffer(data, dtype="<i8", count=2)
        sr, n = int(header[0]), int(header[1])
        lengths = np.frombuffer(data, dtype="<i8", count=n, offset=16)
        samples = np.frombuffer(data, dtype="<i2", offset=16 + 8 * n)
        if lengths.sum() != len(samples):
            raise ESpeakError("espeak-ng worker: truncated output")
        srs.add(sr)
        out.extend(np.split(samples.astype(np.int16), np.cumsum(lengths)[:-1]))
    return srs.pop(), out


def _worker_main():
    """Read a JSON list of utterances on stdin; write sr, count, lengths (int64) and int16 samples."""
    utterances = json.loads(sys.stdin.buffer.read())
    try:
        engine = ESpeak()
        ys = [engine.synth(t, voice=v, rate=r, pitch=p, pitch_range=g) for t, v, r, p, g in utterances]
    except ESpeakError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    lengths = np.array([len(y) for y in ys], dtype="<i8")
    head = np.array([engine.sr, len(ys)], dtype="<i8")
    body = np.concatenate(ys).astype("<i2") if ys else np.zeros(0, "<i2")
    sys.stdout.buffer.write(head.tobytes() + lengths.tobytes() + body.tobytes())
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main())
