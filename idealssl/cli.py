"""The ``idealssl`` command line. Each subcommand lives in its own module with two functions,
``configure(parser)`` and ``run(args) -> int``; this file only dispatches.

Subcommand modules must not import torch at module level, so that ``idealssl check`` starts fast.
Exit status: 0 success (``check``: ideal), 1 negative verdict (``check``: not ideal), 2 bad input or cannot run
(output that cannot be written, not enough memory).
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import sys
import threading

from . import __version__
from .errors import InputError, OutputError

#: subcommand -> (module, one-line help)
COMMANDS = {
    "check": ("idealssl.checker.cli", "decide and certify whether a representation is ideal for a probe family"),
    "derive": (
        "idealssl.derive.cli",
        "the objective configuration the theory prescribes; exact finite-problem objectives",
    ),
    "train": ("idealssl.train.cli_train", "pretrain an encoder with an SSL objective"),
    "eval": ("idealssl.train.cli_eval", "evaluate a checkpoint: linear probe, k-NN, few-shot, anomaly detection"),
    "export": ("idealssl.train.cli_export", "write a checkpoint's backbone as a plain state_dict"),
    "bench": ("idealssl.synthetic.cli", "synthetic benchmarks on finite worlds where M(X) is known"),
    "select": ("idealssl.cli_select", "rank runs or checkpoints by a label-free score of their orbit sets"),
    "plot": ("idealssl.cli_plot", "draw a training run's figures (curves, embedding, check report) into RUN/plots"),
    "completion": ("idealssl.cli_completion", "print a shell completion script (bash, zsh)"),
}


#: top-level modules of the optional ``[train]`` extra (``pip install 'idealssl[train]'``)
TRAIN_EXTRA = ("torch", "torchvision", "sklearn", "yaml")


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr (``PROG: error: MESSAGE``) and exit 2; ``-h`` shows usage."""

    def error(self, message):  # noqa: D401
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")

    def _print_message(self, message, file=None):  # argparse drops a failed write of -h silently (exit 0)
        if message and (file is None or file is sys.stdout):
            try:
                emit(message)
            except OutputError as exc:
                _silence_stdout()
                self.exit(2, f"{self.prog}: error: {exc}\n")
        else:
            super()._print_message(message, file)


def emit(text: str) -> None:
    """Write ``text`` to standard output and flush it, so that a failure (a full device, an I/O error) is an
    :class:`OutputError` while the command runs, not an exception at interpreter exit."""
    if sys.stdout is None:  # started with file descriptor 1 closed (`>&-`)
        raise OutputError("the output could not be written: standard output is closed")
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"the output could not be written to standard output ({exc.strerror or exc})") from None


class _GuardedStdout:
    """Standard output whose failed writes (a full device, an I/O error) are an :class:`OutputError`, for every
    ``print`` of every subcommand; a closed pipe stays a ``BrokenPipeError`` (exit 141)."""

    def __init__(self, stream):
        self._stream = stream

    def _guard(self, method, *args):
        try:
            return method(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(f"the output could not be written to standard output ({exc.strerror or exc})") from None

    def write(self, text):
        return self._guard(self._stream.write, text)

    def flush(self):
        return self._guard(self._stream.flush)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that the flush at exit cannot fail again."""
    if sys.stdout is not None:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (all of them when None, e.g. for tests)."""
    parser = _Parser(
        prog="idealssl",
        description="Idealized self-supervised representations: check, derive, benchmark, train.",
    )
    parser.add_argument("--version", action="version", version=f"idealssl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_) in COMMANDS.items():
        if command is not None and name != command:
            sub.add_parser(name, help=help_)  # listed in --help, configured only when chosen
            continue
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a subcommand not built yet
            if not (exc.name and (module == exc.name or module.startswith(exc.name + "."))):
                raise
            continue
        p = sub.add_parser(name, help=help_, description=(mod.__doc__ or help_).strip().splitlines()[0])
        mod.configure(p)
        p.set_defaults(_run=mod.run)
    return parser


def _deepest(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost chosen subcommand's parser (``idealssl bench synthetic``'s for ``bench synthetic --x``)."""
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, subs[0].dest, None) if subs else None
        if not subs or name not in subs[0].choices:
            return parser
        parser = subs[0].choices[name]


#: the variables through which a user sets the BLAS's threads; when none is set, ``idealssl check`` asks for one
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _one_blas_thread() -> None:
    """Start NumPy's (and SciPy's) BLAS with one thread unless the environment chooses (:data:`BLAS_THREAD_VARIABLES`).

    For ``idealssl check``: its BLAS work is small (a d x d Gram matrix of the codes, QRs and SVDs of a few hundred
    rows), and on a machine whose cores other jobs share, two BLAS threads wait for each other whenever one is
    descheduled (benches/README.md: the Gram matrix of 10,000 codes in 512 dimensions took 0.3-0.5 s beside one busy
    process instead of 0.13 s). The streaming pass has its own threads (``--threads``). Effective only before NumPy
    is imported, hence here, before the subcommand's module."""
    if "numpy" not in sys.modules and not any(v in os.environ for v in BLAS_THREAD_VARIABLES):
        os.environ["OPENBLAS_NUM_THREADS"] = "1"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command == "check":
        _one_blas_thread()
    parser = build_parser(command if command in COMMANDS else None)
    args, extra = parser.parse_known_args(argv)
    if extra:  # an unknown flag: the error names the (sub)command's own help
        _deepest(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    stdout = sys.stdout
    if stdout is not None:
        sys.stdout = _GuardedStdout(stdout)
    try:
        return _run(args)
    finally:
        sys.stdout = stdout


def _run(args: argparse.Namespace) -> int:
    """Run the parsed subcommand; bad input, an unwritable output and no memory are one line and exit 2."""
    try:
        try:
            code = int(args._run(args) or 0)
            emit("")  # flushes: a verdict that never reached standard output is no verdict (exit 2 below)
            return code
        except ModuleNotFoundError as exc:  # subcommands import the [train] extra lazily, inside run()
            if exc.name not in TRAIN_EXTRA:
                raise
            raise InputError(
                f"this command needs the optional training dependencies ({exc.name} is not installed): "
                "pip install 'idealssl[train]', or from a checkout "
                "pip install -c constraints.txt -e '.[train]'"
            ) from exc
    except InputError as exc:
        message = str(exc).replace("\r", "\\r").replace("\n", "\\n")  # one line, even for odd file names
        print(f"idealssl {args.command}: error: {message}", file=sys.stderr)
        if isinstance(exc, OutputError):
            _silence_stdout()  # what stays buffered would fail again at exit
        return 2
    except MemoryError:  # Python's own exit status for it, 1, would read as check's "not ideal"
        print(f"idealssl {args.command}: error: not enough memory for this input", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"idealssl {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader left (`idealssl train --list-methods | head`): stop quietly, as Unix tools do
        _silence_stdout()  # so the exit's flush cannot raise again
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the closed pipe


def entry() -> None:
    """The ``idealssl`` console script (and ``python -m idealssl.cli``): :func:`main`, then :func:`exit_fast`."""
    exit_fast(main())


def exit_fast(code: int) -> None:
    """Exit with ``code`` as Python's exit does for everything a user sees, without the interpreter's teardown.

    A normal exit flushes the standard streams, waits for the threads that are not daemons, runs the ``atexit``
    handlers (logging's flush, multiprocessing's clean-up of child processes, temporary folders), and then frees
    every module, which writes nothing and after a training command (torch, its compiler, scikit-learn, SciPy)
    takes 0.6-1.5 s of CPU on this project's machines (benches/README.md, the ``--fast-dev-run`` section). This
    function does the first three and skips the last (``os._exit``); the run's files are already complete on the
    disk (written by :mod:`idealssl.atomic`, the metrics file closed by the trainer). It falls back to the normal exit
    (``sys.exit``) when a stream cannot be flushed (the error is then reported as Python reports it) or a
    non-daemon thread is still running."""
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(code)
    main_thread = threading.main_thread()
    busy = [t for t in threading.enumerate() if t is not main_thread and not t.daemon and t.is_alive()]
    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if busy or run_exitfuncs is None:
        sys.exit(code)
    run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
