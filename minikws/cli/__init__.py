"""The ``minikws`` command line.

Each subcommand lives in a module of its own in this package, with two functions:
``add_parser(subparsers)`` declares its arguments and ``run(args) -> int`` does the work by calling the
library. A mistake of the user's (a missing file, a bad model, a wrong option value) is raised as
``MinikwsError`` (or ``FileNotFoundError``/``OSError`` for paths) and printed here as one line on stderr
with exit status 2; no traceback is shown for it.
"""
import argparse
import importlib
import os
import sys

from minikws import __version__
from minikws.errors import MinikwsError

# Subcommand name -> (module in minikws.cli, one-line help). Command modules import the library inside
# run(), not at the top, so that building the parser (and `minikws --help`) stays fast.
COMMANDS = {
    "info": ("minikws.cli.info", "Print versions, the active LSTM backend, BLAS and thread counts."),
    "gradcheck": ("minikws.cli.gradcheck", "Check every backward formula against numerical gradients."),
    "demo": ("minikws.cli.demo", "Synthesize commands, train, and score on voices never heard in training."),
    "train": ("minikws.cli.train", "Train a keyword spotter on a folder of recordings or the built-in set."),
    "evaluate": ("minikws.cli.evaluate", "Score a trained model on the test split of a folder of recordings."),
    "predict": ("minikws.cli.predict", "Print the most probable label of each WAV file."),
    "synth": ("minikws.cli.synth", "Write the built-in synthesized command set in Speech Commands layout."),
    "mfcc": ("minikws.cli.mfcc", "Print a WAV file's MFCC shape, rate and duration; plot them with --plot."),
    "detect": ("minikws.cli.detect", "Detect keywords in a long recording or a live WAV stream on stdin."),
    "exercises": ("minikws.cli.exercises", "List the tutorials' exercises, or grade submitted notebooks."),
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="minikws", description="Keyword spotting from scratch: MFCC, LSTM, training, tools."
    )
    parser.add_argument("--version", action="version", version=f"minikws {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_parser(p)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except MinikwsError as exc:
        print(f"minikws {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"minikws {args.command}: error: {exc.strerror}{where}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `minikws ... | head` closed our stdout: not an error of the user's. Point stdout at devnull so
        # that the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print(f"minikws {args.command}: interrupted", file=sys.stderr)
        return 130
