"""The command line: parse -> call -> render. Errors become one line on stderr and an exit code.

No top-level torch import: ``--help`` and bad-input errors stay instant. Every command takes
the architecture flags (``--groups``, ``--stem``, ...) through ``options.spec_options``.
``app`` holds the Typer app; ``commands``, ``bench`` and ``convert`` register the commands on it.
"""

from __future__ import annotations

from . import bench, commands, convert  # noqa: F401  (registers the commands on the app)
from .app import ARGUMENT_FLAGS, EXAMPLES, app, in_flag_terms, main

__all__ = ["ARGUMENT_FLAGS", "EXAMPLES", "app", "in_flag_terms", "main"]
