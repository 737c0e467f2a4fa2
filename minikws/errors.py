"""The exception every user-facing mistake in minikws is reported with.

``MinikwsError`` is a ``ValueError``; its message is one line that names the argument or the file and
says what is wrong with it. The command line prints that line and exits with status 2, without a
traceback. Subclasses (``minikws.audio.AudioError``, ...) only narrow the kind of mistake.
"""


class MinikwsError(ValueError):
    """A bad argument, file or setting, described in one line."""
