"""Files written whole or not at all: a temporary file beside the target, renamed into place.

Used by ``--output`` (the rendered report) and by ``convert`` (the weights, transformers'
config.json). Pure Python, at the bottom of the package: errors name the flag that chose the
path.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import RuntimeFailure, UsageError


def temporary_beside(path: Path, label: str, shown: str) -> tuple[int, str]:
    """A new temporary file in ``path``'s folder (its fd and name). Refused (exit 2) where the
    folder cannot take one: a read-only mount, no inodes left."""
    # the name is cut so that prefix + name + suffix stays within a file name's 255 bytes
    name = os.fsdecode(os.fsencode(path.name)[:200])  # bytes as on disk: any name, UTF-8 or not
    try:
        return tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # a read-only or special filesystem that os.access did not reveal
        raise UsageError(f"{label} {shown!r}: cannot write there: {exc.strerror}", subject=label) from None


def replace_atomically(path: Path, write: Callable[[int, Path], None], label: str,
                       mode: int | None = None) -> None:  # fmt: skip
    """``write(fd, temporary)`` fills a temporary file beside ``path`` (and closes ``fd``),
    which is then renamed into place: a failure or an interrupt leaves no partial file and the
    old ``path``, if any, as it was. ``mode``: the permissions to give it first."""
    fd, tmp = temporary_beside(path, label, str(path))
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        write(fd, Path(tmp))
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise RuntimeFailure(f"{label} {str(path)!r}: cannot write: {exc.strerror}") from None
        raise


def write_text_atomically(path: Path, text: str, label: str, mode: int | None = None) -> None:
    """``text`` (UTF-8) written to ``path`` whole or not at all (:func:`replace_atomically`)."""

    def write(fd: int, _tmp: Path) -> None:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)

    replace_atomically(path, write, label, mode)
