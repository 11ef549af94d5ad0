"""Python's cycle collector paused for a short stretch of work that allocates a great deal.

Once torch is imported the interpreter tracks about a million objects, and building a model,
tracing it and rendering its table allocate hundreds of thousands more, none of them garbage
before the work ends; every full collection rescans them all. Pausing the collector (never
the freeing of objects by reference count) saves a fifth of a large trace and of a cold
``summary``. Imports no torch.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cycle collector off inside, and back as it was on the way out, whatever happened."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
