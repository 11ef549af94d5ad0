"""The process a command runs in: its standard streams, its terminal width, its working folder.

Each is made safe or checked before a command runs, so that a closed or full stdout, a closed
stderr, ``COLUMNS=0`` or a deleted working folder ends in one ``error:`` line (or, for stderr,
in silence and the exit code) rather than a traceback, an empty "success", or torch's own
import dying. While a command runs, stdout is the tool's alone: what the user's code prints
goes to stderr (:func:`user_output_to_stderr`). Nothing here imports torch.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from collections.abc import Iterator
from typing import TextIO

from ..errors import RuntimeFailure

MAX_COLUMNS = 10_000  # wider than any terminal; a larger COLUMNS is a mistake, not a width


class _ClosedStdout(io.TextIOBase):
    """Stands in for a stdout the process was started without (``>&-``): Python sets
    ``sys.stdout`` to None, where ``print`` writes nothing and succeeds (exit 0, no output)."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "stdout is closed")

    def isatty(self) -> bool:
        return False


def guard_streams() -> None:
    """A closed fd 0, 1 or 2 is opened onto /dev/null, so that no file the command opens takes
    its number (a torch warning written to fd 2 would land in the output file). A closed stdout
    then fails the first write; a closed stderr swallows what is written to it (``print`` to
    a None stderr writes to stdout, which holds only the output asked for)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stdout is None:
        sys.stdout = _ClosedStdout()
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115  (open for the process's life)


def sane_columns() -> int | None:
    """COLUMNS where it is a width a terminal can have (1 to 10,000), else None."""
    text = os.environ.get("COLUMNS", "").strip()
    return int(text) if text.isdecimal() and 0 < int(text) <= MAX_COLUMNS else None


def drop_insane_columns() -> None:
    """rich (our tables, typer's help, the progress bar) takes any digits in COLUMNS as the
    width: COLUMNS=0 printed nothing at all and exited 0. Without it rich asks the terminal."""
    if "COLUMNS" in os.environ and sane_columns() is None:
        del os.environ["COLUMNS"]


def check_working_folder() -> None:
    """Before torch is imported: in a deleted folder torch's import dies with a oneMKL message,
    and a user's module cannot be found relative to it."""
    try:
        os.getcwd()
    except OSError as exc:
        why = ("no longer exists (it was deleted or moved)" if exc.errno == errno.ENOENT
               else f"cannot be read ({exc.strerror})")  # fmt: skip
        raise RuntimeFailure(f"the current folder {why}; cd into an existing folder and run again") from None


# --- the user's output goes to stderr ------------------------------------------------------------
# While a command runs, the real stdout (the Python stream, and a duplicate of fd 1) waits here;
# sys.stdout and fd 1 both point at stderr.
_PUT_ASIDE: list[tuple[TextIO, int]] = []


@contextlib.contextmanager
def user_output_to_stderr() -> Iterator[None]:
    """The command runs with ``sys.stdout`` and file descriptor 1 on stderr: what the user's
    file prints while it is imported, built or run (``print``, ``os.write(1, ...)``, C code, a
    subprocess) lands on stderr, and stdout holds only the tool's output, written through
    :func:`writing_stdout`. Everything is put back afterwards, on any exit (an error, Ctrl-C)."""
    real = sys.stdout
    _flush(real)
    _flush(sys.stderr)
    real_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _PUT_ASIDE.append((real, real_fd))
    try:
        yield
    finally:
        _PUT_ASIDE.pop()
        _flush_user_output(real)
        os.dup2(real_fd, 1)
        os.close(real_fd)
        sys.stdout = real


@contextlib.contextmanager
def _tool_stdout() -> Iterator[None]:
    """The real stdout back while the tool writes its output (no user code runs then)."""
    if not _PUT_ASIDE:
        yield
        return
    real, real_fd = _PUT_ASIDE[-1]
    aside = sys.stdout
    _flush_user_output(real)
    os.dup2(real_fd, 1)
    sys.stdout = real
    try:
        yield
    finally:
        _flush(real)  # what is left after a failed write is dropped (see discard_stdout)
        os.dup2(2, 1)
        sys.stdout = aside


def _flush_user_output(real: TextIO) -> None:
    """Before fd 1 goes back to stdout: the user's writes still in a buffer go out to stderr,
    where fd 1 points now (Python's sys.stdout, a ``sys.__stdout__`` written to directly, and C's
    stdio buffers, which libc would flush at exit, after our output)."""
    _flush(sys.stdout)
    _flush(real)
    with contextlib.suppress(Exception):  # no libc to ask (Windows): nothing buffered there
        import ctypes

        ctypes.CDLL(None).fflush(None)


def _flush(stream: TextIO | None) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):  # closed, full: the write says so
        if stream is not None:
            stream.flush()


@contextlib.contextmanager
def writing_stdout() -> Iterator[None]:
    """Writes to stdout (the real one, during a command), flushed: a full disk or a closed
    stdout is a RuntimeFailure (exit 1), found here rather than at exit, where Python reports
    it as "Exception ignored" and exit 120. A reader that left (BrokenPipeError) is typer's to
    handle: a quiet exit 1."""
    with _tool_stdout():
        try:
            yield
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            discard_stdout()
            raise RuntimeFailure(f"cannot write the output to stdout: {exc.strerror or exc}") from None


def discard_stdout() -> None:
    """After a failed write, whatever is left for fd 1 goes to /dev/null: Python would try it
    again at exit and print a traceback-like "Exception ignored" on stderr."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):
        return
    if fd == 1:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        for _, real_fd in _PUT_ASIDE:  # fd 1 as it will be put back after the command
            os.dup2(null, real_fd)
        os.close(null)


def notice(text: str) -> None:
    """A line on stderr that must not fail the command (``wrote x.json``, a warning, the error
    line itself): a full or closed stderr loses the line, the exit code still tells."""
    with contextlib.suppress(OSError):
        print(text, file=sys.stderr, flush=True)
