"""One way to write a file: atomically, with the mode a plain ``open`` gives, errors naming the file.

Every file minikws writes (models, checkpoints, plots, WAV files, list files, the synthesis cache) goes
through :func:`atomic_write`::

    with atomic_write("model.npz") as f:
        np.savez(f, **arrays)

The bytes go to a temporary file in the destination's folder, named ``.NAME.minikws-tmp-PID-XXXXXXXX``
so that it can be recognised; it is flushed and ``fsync``-ed, then renamed over the destination
(``os.replace`` is atomic on POSIX and Windows). A crash leaves the old file or the new one, never half
of one. The temporary is created like ``open(path, "w")`` creates a file -- mode 0666 less the user's
umask (``tempfile.mkstemp`` would give 0600) -- so the destination gets the mode a plain write would
give it. If anything fails the temporary is removed, and an ``OSError`` becomes a :class:`WriteError`:
one line naming the destination (never the temporary) and the system's reason.

A process killed mid-write (SIGKILL, power loss) cannot remove its temporary. The first write of a
process into a folder therefore removes the temporaries of dead minikws processes it finds there.

:func:`check_output_file` and :func:`check_output_folder` check an output path before any work starts,
by creating and removing a probe temporary there, so a mistake shows in a second rather than after
training.
"""
import contextlib
import os
import re
import secrets
import shutil

from minikws.errors import MinikwsError

__all__ = ["WriteError", "TMP_MARK", "atomic_write", "atomic_folder", "check_output_file",
           "check_output_folder",
           "remove_stale_temporaries", "describe_os_error"]

TMP_MARK = ".minikws-tmp-"
_TMP_NAME = re.compile(r"^\..*" + re.escape(TMP_MARK) + r"(\d+)-[0-9a-f]{8}$")
_MAX_NAME = 200  # the temporary's name stays below the usual 255-byte limit of a file name
_swept = set()   # folders whose stale temporaries this process has already removed


class WriteError(MinikwsError):
    """A file could not be written; the message names the destination and the system's reason.

    ``reason`` holds the reason alone ("No space left on device"), or None.
    """

    def __init__(self, message, reason=None):
        super().__init__(message)
        self.reason = reason


def _cannot_write(what, exc, where=""):
    reason = describe_os_error(exc)
    return WriteError(f"{what}: cannot write{where} ({reason})", reason)


def describe_os_error(exc):
    """The system's reason of an ``OSError`` in words ("No space left on device")."""
    return exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc) or type(exc).__name__)


def _temporary_name(folder, base):
    return os.path.join(folder, f".{base[:_MAX_NAME]}{TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def _pid_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process, or a platform without signals: leave it alone
    return True


def remove_stale_temporaries(folder):
    """Remove ``folder``'s minikws temporaries whose process is gone; return how many were removed."""
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        m = _TMP_NAME.match(name)
        if m and not _pid_alive(int(m.group(1))):
            full = os.path.join(folder, name)
            try:
                if os.path.isdir(full) and not os.path.islink(full):
                    shutil.rmtree(full)
                else:
                    os.unlink(full)
                removed += 1
            except OSError:
                pass
    return removed


def _folder_of(path, what):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.exists(folder):
        raise WriteError(f"{what}: folder {folder} does not exist")
    if not os.path.isdir(folder):
        raise WriteError(f"{what}: folder {folder} is not a folder")
    return folder


@contextlib.contextmanager
def atomic_write(path, mode="wb", *, encoding=None, name=None):
    """Open a temporary file for writing; on success it replaces ``path``, on failure it is removed.

    Parameters
    ----------
    path : str or os.PathLike
        The destination; its folder must exist.
    mode : {"wb", "w"}
        Binary or text.
    encoding : str, optional
        Text mode's encoding (default UTF-8).
    name : str, optional
        How to name the destination in an error message (e.g. ``"--out model.npz"``); default: the path.

    Yields
    ------
    file object

    Raises
    ------
    WriteError
        The folder is missing, ``path`` is a folder, or the system refused a step (permission, full
        disk, read-only file system, ...). The temporary file is gone.
    """
    if mode not in ("wb", "w"):
        raise MinikwsError(f"mode: expected 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    what = path if name is None else name
    folder = _folder_of(path, what)
    if os.path.isdir(path):
        raise WriteError(f"{what}: is a folder; give a file name")
    if folder not in _swept:
        remove_stale_temporaries(folder)
        _swept.add(folder)
    tmp = _temporary_name(folder, os.path.basename(path))
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise _cannot_write(what, exc) from None
    try:
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": encoding or "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the rename makes it visible
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _cannot_write(what, exc) from None
        raise


@contextlib.contextmanager
def atomic_folder(path, *, name=None):
    """Fill a temporary folder beside ``path``; on success it is renamed to ``path``, else removed.

    ``path`` must be new or an empty folder. A set of files written this way (a data set) appears whole
    or not at all: an interrupted run (Ctrl-C, a full disk) leaves no folder that looks complete.

    Yields
    ------
    str
        The temporary folder to write into.

    Raises
    ------
    WriteError
        As :func:`atomic_write`, naming ``path``.
    """
    path = os.fspath(path)
    what = path if name is None else name
    folder = _folder_of(path, what)
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise WriteError(f"{what}: exists and is not an empty folder; choose a new one")
    if folder not in _swept:
        remove_stale_temporaries(folder)
        _swept.add(folder)
    tmp = _temporary_name(folder, os.path.basename(os.path.normpath(path)))
    try:
        os.mkdir(tmp, 0o777)
    except OSError as exc:
        raise _cannot_write(what, exc) from None
    try:
        yield tmp
        os.replace(tmp, path)  # onto an empty folder, or a new name
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, WriteError) and exc.reason is not None:
            raise WriteError(f"{what}: cannot write ({exc.reason})", exc.reason) from None
        if isinstance(exc, OSError):
            raise _cannot_write(what, exc) from None
        raise


def _probe(folder, what):
    """Create and remove a temporary in ``folder``: the one sure test that files can be written there."""
    if folder not in _swept:
        remove_stale_temporaries(folder)
        _swept.add(folder)
    tmp = _temporary_name(folder, "probe")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise _cannot_write(what, exc, f" in {folder}") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def check_output_file(path, *, name=None):
    """Check, before any work, that ``path`` can be written: its folder exists and takes files, and
    ``path`` is not a folder. Returns ``path`` (a str). ``name`` names it in messages ("--out m.npz")."""
    path = os.fspath(path)
    what = path if name is None else name
    if os.path.isdir(path):
        raise WriteError(f"{what}: is a folder; give a file name")
    _probe(_folder_of(path, what), what)
    return path


def check_output_folder(path, *, name=None, create=True, empty=False):
    """Check, before any work, that files can be written in folder ``path``.

    With ``create`` a missing folder is allowed when its parent exists (it is not made here); with
    ``empty`` an existing folder must be empty. Returns ``path`` (a str).
    """
    path = os.fspath(path)
    what = path if name is None else name
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise WriteError(f"{what}: exists and is not a folder")
        if empty and os.listdir(path):
            raise WriteError(f"{what}: exists and is not an empty folder; choose a new one")
        _probe(os.path.abspath(path), what)
    elif create:
        parent = _folder_of(path, what)
        _probe(parent, what)
    else:
        raise WriteError(f"{what}: no such folder")
    return path

