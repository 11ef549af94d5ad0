"""A pickle reader that rebuilds tensors and plain containers and imports nothing else.

torch's own safe loader (``torch.load(weights_only=True)``) reads the opcodes of pickle
protocols 2 and 3 only: a file saved with ``torch.save(..., pickle_protocol=4)`` (or 5) is
valid, but torch 2.13 refuses it ("Unsupported operand 149", protocol 4's FRAME). Such a file
is read here with Python's own unpickler, which knows every protocol, restricted the way
Python's documentation describes ("Restricting Globals"): ``find_class`` hands out only the
few globals a state dict is rebuilt from, and refuses everything else before it is imported.
Storages are supplied by torch's loader (its persistent ids), never by the file.
"""

from __future__ import annotations

import argparse
import collections
import pickle
from typing import IO, Any

# classes beyond tensors a checkpoint may hold, for both loaders: training scripts (timm's
# among them) save their arguments beside the weights; rebuilding one runs no code
EXTRA_GLOBALS: tuple[type, ...] = (argparse.Namespace,)


def _allowed(module: str, name: str) -> Any:
    """The global ``module.name`` if a state dict may be rebuilt from it, else None."""
    import torch
    import torch._utils

    if module == "collections" and name == "OrderedDict":
        return collections.OrderedDict
    extra = next((c for c in EXTRA_GLOBALS if (c.__module__, c.__qualname__) == (module, name)), None)
    if extra is not None:
        return extra
    if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor_v3",
                                             "_rebuild_parameter"):  # fmt: skip
        return getattr(torch._utils, name)
    if module == "torch" and name == "Size":
        return torch.Size
    if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
        return getattr(torch, name)
    return None


class RestrictedUnpickler(pickle.Unpickler):
    """Python's unpickler, every protocol, with only :func:`_allowed`'s globals."""

    def find_class(self, module: str, name: str) -> Any:
        found = _allowed(module, name)
        if found is None:  # worded as torch's refusal, which the reader turns into one line
            raise pickle.UnpicklingError(f"Unsupported global: GLOBAL {module}.{name} is not a "
                                         "tensor or a plain container")  # fmt: skip
        return found


def load(file: IO[bytes], **kwargs: Any) -> Any:
    """``pickle.load`` through :class:`RestrictedUnpickler` (torch's legacy format calls it)."""
    return RestrictedUnpickler(file, **kwargs).load()


Unpickler = RestrictedUnpickler  # torch.load(pickle_module=this module) subclasses it
