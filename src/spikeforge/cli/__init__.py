"""The ``spikeforge`` command line: ``train``, ``evaluate`` and ``demo``.

``spikeforge train`` alone trains snnTorch tutorial 5's network on MNIST for one epoch and
writes ``runs/fc-leaky-direct/``; ``spikeforge evaluate runs/NAME`` reloads a run's
checkpoint and tests it again; ``spikeforge demo`` (what ``make demo`` runs) is ``train``
with its defaults writing ``runs/demo``.

Every failure ends the same way (:func:`main`): one line on stderr saying what went wrong,
which file or option, and what to do, and an exit code from :mod:`.errors`. A traceback is
printed only for an unexpected exception (a bug), and only with ``--debug`` or
``SPIKEFORGE_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import traceback
import warnings

__all__ = ["DEBUG_ENV", "build_parser", "main"]

DEBUG_ENV = "SPIKEFORGE_DEBUG"


def build_parser() -> argparse.ArgumentParser:
    from .evaluate import add_evaluate_arguments
    from .options import add_train_arguments

    parser = argparse.ArgumentParser(
        prog="spikeforge",
        description="Train and evaluate spiking neural networks on MNIST.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,evaluate,demo}")
    train = sub.add_parser("train", help="train a spiking network and write runs/NAME/")
    add_train_arguments(train)
    evaluate = sub.add_parser("evaluate", help="reload runs/NAME/checkpoint.pt and test it")
    add_evaluate_arguments(evaluate)
    demo = sub.add_parser("demo", help="train with the defaults into runs/demo and report")
    add_train_arguments(demo)
    demo.set_defaults(out="runs/demo", replaces_run=True)  # `make demo` again replaces it
    for command in (train, evaluate, demo):
        command.add_argument(
            "--debug",
            action="store_true",
            help=f"show the traceback of an unexpected error (or set {DEBUG_ENV}=1)",
        )
    return parser


def _debug_wanted(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get(DEBUG_ENV, "") not in ("", "0")


@contextlib.contextmanager
def _sigterm_as_exception():
    """While a command runs, SIGTERM raises :class:`~.errors.Terminated` (as Ctrl-C raises
    ``KeyboardInterrupt``), so a terminated training says what it saved."""
    from .errors import Terminated

    def handler(signum, frame):
        raise Terminated

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"spikeforge: warning: {message}", file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning  # restored when the block ends
        return _dispatch(args)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in ("train", "demo"):
        from .train import run_train

        return run_train(args)
    from .evaluate import run_evaluate

    return run_evaluate(args)


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (see :mod:`spikeforge.cli.errors`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from .errors import (
        EXIT_BUG,
        EXIT_INTERRUPTED,
        EXIT_USAGE,
        CLIError,
        Interrupted,
        Reported,
        Terminated,
    )

    name = f"spikeforge {args.command}"
    debug = _debug_wanted(args)

    def say(text: str) -> None:
        print(f"{name}: {text}", file=sys.stderr, flush=True)

    try:
        with _sigterm_as_exception():
            return _run(args)
    except Reported as err:
        return err.code
    except Interrupted as err:
        say(str(err))
        return err.code
    except CLIError as err:
        say(f"error: {err}")
        return err.code
    except KeyboardInterrupt:
        say("interrupted")
        return EXIT_INTERRUPTED
    except Terminated:
        say("terminated")
        return 128 + signal.SIGTERM
    except (ValueError, OSError) as err:  # a value or file the command could not use
        if debug:
            traceback.print_exc()
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        say(f"error: {err.strerror if isinstance(err, OSError) and err.strerror else err}{where}")
        return EXIT_USAGE
    except Exception as err:  # a bug: one line, the traceback on request
        if debug:
            traceback.print_exc()
        lines = [line for line in str(err).splitlines() if line.strip()]
        text = lines[-1] if lines else ""  # a worker's error: its last line, not its traceback
        say(
            f"internal error: {type(err).__name__}: {text}. This is a bug in spikeforge; rerun "
            f"with --debug (or {DEBUG_ENV}=1) for the traceback and report it"
        )
        return EXIT_BUG
