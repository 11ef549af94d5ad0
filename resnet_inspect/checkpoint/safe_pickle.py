"""A pickle reader that rebuilds tensors and plain containers and imports nothing else.

torch's own safe loader (``torch.load(weights_only=True)``) reads the opcodes of pickle
protocols 2 and 3 only: a file saved with ``torch.save(..., pickle_protocol=4)`` (or 5) is
valid, but torch 2.13 refuses it ("Unsupported operand 149", protocol 4's FRAME). Such a file
is read here with Python's own unpickler, which knows every protocol, restricted the way
Python's documentation describes ("Restricting Globals"): ``find_class`` hands out only the
few globals a state dict is rebuilt from, and refuses everything else before it is imported.
Storages are supplied by torch's loader (its persistent ids), never by the file.

Plain pickles of NumPy arrays (detectron2's and Caffe2's ``.pkl``) are read by
:class:`ArrayUnpickler`, which hands out NumPy's array and dtype rebuilders instead of torch's,
counts the arrays as it rebuilds them, and reads Python 2's strings as latin-1 (as detectron2
does: ``pickle.load(f, encoding="latin1")``); :func:`load_arrays` then turns each array into a
tensor.
"""

from __future__ import annotations

import argparse
import collections
import pickle
from typing import IO, Any

# classes beyond tensors a checkpoint may hold, for both loaders: training scripts (timm's
# among them) save their arguments beside the weights; rebuilding one runs no code
EXTRA_GLOBALS: tuple[type, ...] = (argparse.Namespace,)


def _plain(module: str, name: str) -> Any:
    """The global ``module.name`` if it is a plain container, else None."""
    if module == "collections" and name == "OrderedDict":
        return collections.OrderedDict
    return next(
        (c for c in EXTRA_GLOBALS if (c.__module__, c.__qualname__) == (module, name)), None
    )


def _allowed(module: str, name: str) -> Any:
    """The global ``module.name`` if a state dict may be rebuilt from it, else None."""
    import torch
    import torch._utils

    plain = _plain(module, name)
    if plain is not None:
        return plain
    if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor_v3",
                                             "_rebuild_parameter"):  # fmt: skip
        return getattr(torch._utils, name)
    if module == "torch" and name == "Size":
        return torch.Size
    if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
        return getattr(torch, name)
    return None


class RestrictedUnpickler(pickle.Unpickler):
    """Python's unpickler, every protocol, with only :meth:`allowed`'s globals."""

    def allowed(self, module: str, name: str) -> Any:
        return _allowed(module, name)

    def find_class(self, module: str, name: str) -> Any:
        found = self.allowed(module, name)
        if found is None:  # worded as torch's refusal, which the reader turns into one line
            raise pickle.UnpicklingError(f"Unsupported global: GLOBAL {module}.{name} is not a "
                                         f"{self.what} or a plain container")  # fmt: skip
        return found

    what = "tensor"


def load(file: IO[bytes], **kwargs: Any) -> Any:
    """``pickle.load`` through :class:`RestrictedUnpickler` (torch's legacy format calls it)."""
    return RestrictedUnpickler(file, **kwargs).load()


Unpickler = RestrictedUnpickler  # torch.load(pickle_module=this module) subclasses it


# --- plain pickles of NumPy arrays ----------------------------------------------------------
# NumPy's own names for its rebuilders: numpy 1 pickles say numpy.core, numpy 2 numpy._core;
# protocol 5 rebuilds an array from its buffer (_frombuffer), older ones by _reconstruct
_NUMPY_GLOBALS = {
    **{(f"numpy.{core}.multiarray", "_reconstruct"): "_reconstruct" for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): "_frombuffer" for core in ("core", "_core")},
    ("numpy", "ndarray"): "ndarray",
    ("numpy", "dtype"): "dtype",
}


def _latin1_bytes(*args: Any) -> bytes:
    """Python 3's pickles of protocols 0-2 write bytes as ``_codecs.encode(text, "latin1")``
    and empty ones as ``bytes()``; nothing else is built (``bytes(10**12)`` would be)."""
    if not args:
        return b""
    if len(args) == 2 and isinstance(args[0], str) and args[1] == "latin1":
        return args[0].encode("latin1")
    raise pickle.UnpicklingError("Unsupported global: GLOBAL _codecs.encode called with other "
                                 "than (text, 'latin1')")  # fmt: skip


_BYTES_GLOBALS = {("_codecs", "encode"): _latin1_bytes, ("builtins", "bytes"): _latin1_bytes,
                  ("__builtin__", "bytes"): _latin1_bytes}  # fmt: skip


class TooManyArrays(pickle.UnpicklingError):
    """More arrays than the reader's limit: refused before the rest are rebuilt."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit:,} arrays")
        self.limit = limit


class ArrayUnpickler(RestrictedUnpickler):
    """Plain containers and NumPy arrays (of any protocol, from Python 2 too), nothing else;
    refuses the ``max_arrays + 1``-th array as it is rebuilt."""

    what = "NumPy array"

    def __init__(self, file: IO[bytes], max_arrays: int) -> None:
        super().__init__(file, encoding="latin1")  # Python 2's str: raw bytes (array data)
        self.max_arrays = max_arrays
        self.arrays = 0

    def allowed(self, module: str, name: str) -> Any:
        which = _NUMPY_GLOBALS.get((module, name))
        if which is None:
            return _BYTES_GLOBALS.get((module, name)) or _plain(module, name)
        np = _numpy()
        if which in ("ndarray", "dtype"):
            return getattr(np, which)
        core = getattr(np, "_core", None) or np.core  # numpy.core is numpy 2's deprecated alias
        rebuild = getattr(core.multiarray if which == "_reconstruct" else core.numeric, which)

        def counted(cls_or_buffer: Any, *args: Any) -> Any:
            if which == "_reconstruct" and cls_or_buffer is not np.ndarray:
                raise pickle.UnpicklingError(f"Unsupported global: GLOBAL {module}.{name} "
                                             "asked to build a subclass of ndarray")  # fmt: skip
            self.arrays += 1
            if self.arrays > self.max_arrays:
                raise TooManyArrays(self.max_arrays)
            return rebuild(cls_or_buffer, *args)

        return counted


class NotAWeight(pickle.UnpicklingError):
    """An array torch has no tensor for: of objects, strings, records."""


class NumpyMissing(ImportError):
    """A .pkl of NumPy arrays was read where numpy is not installed."""


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        raise NumpyMissing(
            "reading a .pkl file of NumPy arrays needs numpy: pip install numpy"
        ) from None
    return numpy


def load_arrays(file: IO[bytes], max_arrays: int) -> Any:
    """The pickled object, with every NumPy array in its containers (dicts, lists, tuples, to a
    depth of 8) a CPU tensor; an array of a dtype torch has no tensor for (object, strings,
    records) is refused with :class:`pickle.UnpicklingError`."""
    return _tensors(ArrayUnpickler(file, max_arrays).load(), 0)


def _tensors(obj: Any, depth: int) -> Any:
    if depth > 8:
        return obj
    if isinstance(obj, dict):
        return type(obj)((k, _tensors(v, depth + 1)) for k, v in obj.items()) if type(obj) in (
            dict, collections.OrderedDict) else obj  # fmt: skip
    if isinstance(obj, (list, tuple)) and type(obj) in (list, tuple):
        return type(obj)(_tensors(v, depth + 1) for v in obj)
    if type(obj).__module__ == "numpy" and type(obj).__name__ == "ndarray":
        return _tensor(obj)
    return obj


def _tensor(array: Any) -> Any:
    import torch

    np = _numpy()
    if array.dtype.kind not in "biufc" or array.dtype.fields is not None:
        raise NotAWeight(f"holds an array of dtype {array.dtype.str!r}, which is no number: "
                         "not a weight")  # fmt: skip
    native = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))
    try:
        return torch.from_numpy(native.copy() if not native.flags.writeable else native)
    except TypeError as exc:  # a NumPy dtype torch has no tensor for (uint32 before 2.3, ...)
        raise NotAWeight(f"holds an array of dtype {array.dtype.str!r}: {exc}") from None
