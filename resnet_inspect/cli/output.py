"""Where a command's output goes: --format or the --output extension picks the format, and
--output is checked before a (possibly long) run and written atomically after it. Files and
flag names are the command line's; the renderers only return text."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from ..choices import parse_choice
from ..errors import UsageError
from ..files import temporary_beside, write_text_atomically
from ..render import Format
from ..units import file_kind

EXTENSIONS = {
    ".txt": Format.TABLE, ".json": Format.JSON, ".csv": Format.CSV, ".md": Format.MARKDOWN,
    ".markdown": Format.MARKDOWN, ".svg": Format.SVG, ".html": Format.HTML, ".htm": Format.HTML,
}  # fmt: skip


# --- choosing a format and writing ------------------------------------------------------------
def choose_format(fmt: str | None, output: str | None) -> Format:
    """--format, else the --output extension, else a table; the two must not contradict."""
    chosen = parse_choice(Format, fmt, "--format") if fmt is not None else None
    if output is None or output == STDOUT:
        return chosen or Format.TABLE
    suffix = Path(output).suffix.lower()
    implied = EXTENSIONS.get(suffix)
    if chosen is not None and implied is not None and implied is not chosen:
        raise UsageError(
            f"--output {output!r}: the extension {suffix} means {implied.value}, "
            f"but --format is {chosen.value}"
        )
    if chosen is None and implied is None:
        known = ", ".join(EXTENSIONS)
        raise UsageError(
            f"--output {output!r}: cannot tell the format from {suffix or 'no extension'}; "
            f"use one of {known} or give --format"
        )
    return chosen or implied or Format.TABLE


STDOUT = "-"  # --output - : standard output, as for most command-line tools


def check_output_path(output: str) -> Path:
    """Everything about ``--output`` that can be checked before a (possibly long) run, without
    blocking and without touching the target: a regular file or a new name (never a device
    node, a FIFO, a socket or a directory; a link counts as what it points to, and is kept) in
    a writable directory, where a temporary file can be created beside it. The path to write
    (a link's target); ``Path("-")`` for stdout."""
    if output == STDOUT:
        return Path(STDOUT)
    if not output:
        raise UsageError("--output '': give a file name, or - for stdout")
    try:
        path = Path(os.path.realpath(output))  # write through a link, as a shell redirect does
        st = _stat_or_none(path)  # stat does not open it: a FIFO cannot block it
        parent_is_dir = path.parent.is_dir()
    except (OSError, ValueError) as exc:  # a name too long, a loop of links, a NUL byte ...
        raise UsageError(f"--output {output!r}: {getattr(exc, 'strerror', None) or exc}") from None
    if path.parts[1:2] == ("proc",) or (st is not None and _is_standard_stream(st)):
        raise UsageError(f"--output {output!r}: is this process's own stdin, stdout or stderr "
                         "(replacing it would cut off whoever reads it); use - for stdout")  # fmt: skip
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise UsageError(f"--output {output!r}: is a directory")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise UsageError(f"--output {output!r}: is {file_kind(st.st_mode)}, not a regular file; "
                         "output goes to regular files only (use - for stdout)")  # fmt: skip
    if not parent_is_dir:
        raise UsageError(f"--output {output!r}: the directory {str(path.parent)!r} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise UsageError(f"--output {output!r}: the directory {str(path.parent)!r} is not writable")
    fd, tmp = temporary_beside(path, "--output", output)  # a read-only mount, no inodes left, a long name
    os.close(fd)
    os.unlink(tmp)
    return path


def _is_standard_stream(st: os.stat_result) -> bool:
    """Whether ``st`` is the file behind fd 0, 1 or 2 (/dev/stdout resolves to it)."""
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            own = os.fstat(fd)
            if (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino):
                return True
    return False


def _stat_or_none(path: Path) -> os.stat_result | None:
    """None for a name that does not exist yet; a name too long or a loop raises."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _new_file_mode(path: Path) -> int:
    """The mode a shell redirect would give: an existing file keeps its own, a new one gets
    0o666 less the umask (mkstemp makes 0o600)."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(os.stat(path).st_mode)
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path`` and rename it into place: an interrupted
    run never leaves a half-written file nor clobbers an existing one. ``path`` comes from
    :func:`check_output_path`, which is checked again here (the name may have changed since)."""
    path = check_output_path(str(path))
    write_text_atomically(path, text, "--output", _new_file_mode(path))
