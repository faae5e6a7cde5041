"""The ``dsnbench`` command line: parse, call one function, exit code.

Each subcommand lives in ``dsnbench/commands/<name>.py`` with ``add_parser(subparsers)``
(which sets ``func``) and is listed in :data:`COMMANDS`. Exit codes: 0 success, 1 a finding
(e.g. a regression, a failed validation), 2 usage or input error, 3 not comparable.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import warnings

#: subcommand modules, in the order ``dsnbench --help`` lists them
COMMANDS = ["run", "ls", "validate", "data", "compare", "history", "train", "stats", "plot", "table", "report", "macs", "latency"]


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="dsnbench",
        description="Evaluate dynamic slimmable separation networks against static baselines.",
        epilog="Example: dsnbench run   (the bundled default experiment)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dsnbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"dsnbench.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(fvcore|iopath|portalocker).*")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from .errors import Terminated, UserError
    _raise_on_sigterm()
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"dsnbench {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into head/less that closed early
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"dsnbench {args.command}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"dsnbench {args.command}: terminated (SIGTERM); finished rows are kept", file=sys.stderr)
        return Terminated.exit_code


def _raise_on_sigterm() -> None:
    """SIGTERM raises :class:`~dsnbench.errors.Terminated` in the main thread, so the command
    unwinds as for Ctrl-C (a run commits its finished rows, its workers are shut down)."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        return
    from .errors import Terminated

    def handler(signum, frame):  # noqa: ARG001
        raise Terminated()
    signal.signal(signal.SIGTERM, handler)


if __name__ == "__main__":
    sys.exit(main())
