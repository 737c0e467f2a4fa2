"""Checks of command-line values, run before any work starts, with the flag named as the user typed it.

Every command checks all of its arguments and output paths first (a missing folder is reported in a
second, not after three minutes of training); each check raises ``MinikwsError`` whose message starts
with the flag and the value, e.g. ``--batch-size 0: expected an integer >= 1``.
"""
import os

from minikws.errors import MinikwsError

# The built-in set holds 10 % of each class's clips out for validation and 10 % for test, rounded.
HELD_OUT = 0.1


def _flag(flag, value):
    return f"{flag} {value}"


def positive_int(flag, value, minimum=1, maximum=None):
    """``value`` as int if it is an integer in [minimum, maximum]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (
            maximum is not None and value > maximum):
        want = f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum}]"
        raise MinikwsError(f"{_flag(flag, value)}: expected {want}")
    return value


def real(flag, value, *, low=None, high=None, low_open=False, high_open=False):
    """``value`` as float if it is finite and within the bounds (open where asked)."""
    if value is None:
        return None
    v = float(value)
    ok = v == v and abs(v) != float("inf")
    ok = ok and (low is None or (v > low if low_open else v >= low))
    ok = ok and (high is None or (v < high if high_open else v <= high))
    if not ok:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
        want = " and ".join(p for p in (lo, hi) if p) or "finite"
        raise MinikwsError(f"{_flag(flag, value)}: expected a finite number {want}")
    return v


def seed(flag, value):
    """A seed numpy accepts: an integer in [0, 2**63)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise MinikwsError(f"{_flag(flag, value)}: expected an integer seed in [0, 2**63)")
    return value


def per_word(flag, value):
    """Clips per class of the built-in set, enough that validation and test get at least one each."""
    if value is None:
        return None
    positive_int(flag, value)
    held = int(round(HELD_OUT * value))
    if held < 1:
        raise MinikwsError(f"{_flag(flag, value)}: leaves the validation and test splits empty "
                           f"({HELD_OUT:.0%} of the clips each, rounded to {held}); use at least 6")
    return value


def output_file(flag, path):
    """An output file whose folder exists and takes files (checked by writing a probe there)."""
    from minikws._fileio import check_output_file

    return None if path is None else check_output_file(path, name=_flag(flag, path))


def output_folder(flag, path, *, empty=False):
    """An output folder: existing, or new with an existing parent; files can be written there."""
    from minikws._fileio import check_output_folder

    return None if path is None else check_output_folder(path, name=_flag(flag, path), empty=empty)


def input_file(flag, path):
    if not os.path.exists(path):
        raise MinikwsError(f"{_flag(flag, path)}: no such file")
    if os.path.isdir(path):
        raise MinikwsError(f"{_flag(flag, path)}: is a folder, not a file")
    return path


def _available_memory():
    """Bytes of memory this process could use: MemAvailable on Linux, else physical memory, or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _size(n):
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000


def training_memory(*, hidden, layers, inputs=13, classes=12, batch=32, frames=51, itemsize=4):
    r"""Bytes a training run of this model needs, roughly: the weights four times over (weights,
    gradients, AdamW's two moments) and, per layer, time step and clip, the cached activations of
    BPTT (the four gates, the cell and its tanh, the hidden state and the layer's input: about
    :math:`8H + D`)."""
    weights = sum(((inputs if l == 0 else hidden) + hidden + 1) * 4 * hidden for l in range(layers))
    weights += (hidden + 1) * classes
    activations = layers * frames * batch * (8 * hidden + max(inputs, hidden))
    return (4 * weights + 2 * activations) * itemsize  # x2: a backward pass holds as much again


def model_size(flag_hidden, hidden, flag_layers, layers, *, batch=32, classes=12):
    """Refuse a model that could never be stored or trained on this machine, with what it would need."""
    from minikws.io import MODEL_LIMITS

    positive_int(flag_hidden, hidden)
    positive_int(flag_layers, layers)
    need = training_memory(hidden=hidden, layers=layers, batch=batch, classes=classes)
    have = _available_memory()
    if have is not None and need > have:
        raise MinikwsError(f"{_flag(flag_hidden, hidden)}: a model of {layers} layer(s) x {hidden} units "
                           f"needs about {_size(need)} of memory to train (weights, gradients, AdamW "
                           f"moments, activations of a batch of {batch}); {_size(have)} is available")
    positive_int(flag_hidden, hidden, maximum=MODEL_LIMITS["hidden_size"])  # what a model file may hold
    positive_int(flag_layers, layers, maximum=MODEL_LIMITS["num_layers"])
