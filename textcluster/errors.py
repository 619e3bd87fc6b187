"""Errors that reach the user as one clear line instead of a traceback."""

import sys
from collections.abc import Callable, Sequence


class UserError(Exception):
    """Bad input or configuration: the message names the problem and the fix.

    The commands print it as a single line and exit with status 2; everything
    else is a bug and keeps its traceback.
    """


def run_command(
    program: str, usage: str, doc: str, argv: Sequence[str] | None, body: Callable[[list[str]], object]
) -> None:
    """The frame of a small command (textcluster-predict, -topics, -update): ``-h`` prints ``usage`` and the
    module docstring after its first two paragraphs, warnings print one line each, and a UserError is one
    line and exit status 2."""
    import logging

    argv = list(sys.argv[1:] if argv is None else argv)
    if any(argument in ("-h", "--help") for argument in argv):
        print(usage)
        print(doc.split("\n\n", 2)[2].rstrip())
        return
    logging.basicConfig(level=logging.WARNING, format="[%(levelname)s] %(name)s: %(message)s")
    exit_on_user_error(program, lambda: body(argv))


def exit_on_user_error(program: str, command: Callable[[], object]) -> None:
    """Run a command's body; a UserError becomes one line on stderr (``<program>: error: ...``) and exit 2."""
    try:
        command()
    except UserError as error:
        print(f"{program}: error: {error}", file=sys.stderr)
        sys.exit(2)


class UnknownPluginError(UserError, KeyError):
    """A configuration names a plugin key that no registry knows."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class StorageError(UserError):
    """A file could not be written: a full disk or a folder without write permission (the message names the
    path, the cause and the fix)."""


class NoClustersError(UserError):
    """A clusterer labelled every point noise: a run with nothing to describe (the message names the setting
    to change). A search may score such a trial as its worst value instead of stopping on it."""


class StateError(UserError):
    """A fitted stage whose state cannot be written or read safely (the message says which and why)."""


class RunInterrupted(BaseException):
    """Ctrl-C or SIGTERM during a run (a BaseException, like KeyboardInterrupt, so no ``except Exception``
    swallows it; unlike KeyboardInterrupt, Lightning lets it through instead of exiting the process)."""


class WorkerFinished(BaseException):
    """A process Lightning's ``ddp`` launched for another device has written its share of the embeddings;
    rank 0 goes on with the run, this process ends quietly (and must not touch the run folder)."""
