"""The project's exception types.

Library code raises these with the bad value and, where the choice is closed, the allowed
values. Only ``cli.py`` turns them into a one-line ``error: ...`` and an exit code.
"""

from __future__ import annotations


class InspectError(Exception):
    """Base class: something resnet-inspect cannot do. Exit code 1 (a failure at run time).

    ``subject``: the argument the message begins with (``input_shape``, ``warmup_s``), where a
    caller names it differently (the command line: ``--input``, ``--warmup``); None where the
    message names no argument.
    """

    exit_code = 1

    def __init__(self, *args: object, subject: str | None = None) -> None:
        super().__init__(*args)
        self.subject = subject


class SpecError(InspectError, ValueError):
    """Bad input from the user: an unknown preset, an impossible spec, a malformed flag value."""

    exit_code = 2


class UsageError(SpecError):
    """Bad input that is not about the spec itself: a malformed --input, an unknown format."""


class RuntimeFailure(InspectError):
    """The input was fine but the run could not complete here (no GPU, out of memory, ...)."""

    exit_code = 1
