"""The project's exception types.

Library code raises these with the bad value and, where the choice is closed, the allowed
values. Only ``cli.py`` turns them into a one-line ``error: ...`` and an exit code.
"""

from __future__ import annotations


class InspectError(Exception):
    """Base class: something resnet-inspect cannot do. Exit code 1 (a failure at run time).

    ``subject`` names the argument the message is about (``input_shape``, ``dtype``) when the
    message starts with it; the CLI shows the flag that sets it instead (``--input``).
    """

    exit_code = 1

    def __init__(self, message: str, subject: str | None = None) -> None:
        super().__init__(message)
        self.subject = subject


class SpecError(InspectError, ValueError):
    """Bad input from the user: an unknown preset, an impossible spec, a malformed flag value."""

    exit_code = 2


class UsageError(SpecError):
    """Bad input that is not about the spec itself: a malformed --input, an unknown format."""


class RuntimeFailure(InspectError):
    """The input was fine but the run could not complete here (no GPU, out of memory, ...)."""

    exit_code = 1
