"""HDF5 files (Keras's ``.h5``) as data: every dataset of numbers under the weights, named
``{layer}/{variable}``, as a tensor. Read with h5py (an optional dependency: the ``keras``
extra), which reads data and runs nothing; anything that is not a plain dataset of numbers (an
object, string or compound dtype; a link to another file) is refused with one line.

Keras 2 and ``model.save('x.h5')`` write ``[model_weights/]{layer}/{layer}/{variable}[:0]``;
Keras 3's ``model.save_weights('x.weights.h5')`` writes ``layers/{class}_{n}/vars/{i}``: layers
named by their class and a counter in the model's layer order, variables by position, not by
the model's names. Both are read here as they are (``layers/conv2d_9/vars/0``); which Keras
layer each is, is the layout's to say (layouts/keras.py, by that order).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:
    import torch

MAGIC = b"\x89HDF\r\n\x1a\n"  # the HDF5 signature, at 0 or at 512, 1024, 2048... (a user block)
_MAX_DEPTH = 6  # model_weights/layer/layer/variable, with room; deeper is no Keras file
_MAX_DATASETS = 100_000  # above any checkpoint this tool reads (read.py's limits apply after)


class Hdf5Error(UsageError):
    """An HDF5 file this reader refuses (the caller adds which argument and file)."""


def is_hdf5(p: Path) -> bool:
    """The signature at offset 0, or at a power of two from 512 (HDF5's user-block rule)."""
    with p.open("rb") as f:
        offset, size = 0, p.stat().st_size
        while offset + len(MAGIC) <= size and offset <= 1 << 20:
            f.seek(offset)
            if f.read(len(MAGIC)) == MAGIC:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def read_hdf5(p: Path) -> dict[str, torch.Tensor]:
    """The file's weights as ``{"layer/variable": tensor}``; raises Hdf5Error."""
    try:
        import h5py
    except ImportError:
        raise Hdf5Error("reading a Keras .h5 file needs h5py: pip install 'resnet-inspect[keras]' "
                        "(or pip install h5py)") from None  # fmt: skip
    try:
        with h5py.File(p, "r") as f:
            root = f["model_weights"] if isinstance(f.get("model_weights"), h5py.Group) else f
            found: dict[str, Any] = {}
            _walk(root, (), found, h5py)
            _check_sizes(found, p.stat().st_size)
            return _tensors(found)
    except Hdf5Error:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as exc:  # h5py's errors on a bad file
        raise Hdf5Error(f"cannot be read as an HDF5 file; is it truncated or corrupt? "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''})") from None  # fmt: skip


def _walk(group: Any, path: tuple[str, ...], found: dict[str, Any], h5py: Any) -> None:
    if len(path) > _MAX_DEPTH:
        raise Hdf5Error(
            f"nests groups deeper than {_MAX_DEPTH} levels ({'/'.join(path)!r}); not a Keras file"
        )
    for name in group:
        link = group.get(name, getlink=True)
        where = "/".join((*path, name))
        if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
            kind = "another file" if isinstance(link, h5py.ExternalLink) else "another place in it"
            raise Hdf5Error(f"{where!r} is a link to {kind}; only plain datasets are read")
        item = group[name]
        if isinstance(item, h5py.Group):
            _walk(item, (*path, name), found, h5py)
            continue
        if not isinstance(item, h5py.Dataset):
            raise Hdf5Error(f"{where!r} is a {type(item).__name__}, not a dataset of numbers")
        if (
            item.dtype.kind not in "fiu"
            or item.dtype.fields is not None
            or item.dtype.subdtype is not None
        ):
            raise Hdf5Error(
                f"{where!r} holds {item.dtype} data, not numbers; only numeric arrays are read"
            )
        found[_name((*path, name))] = item
        if len(found) > _MAX_DATASETS:
            raise Hdf5Error(f"holds more than {_MAX_DATASETS:,} datasets; not read")


def _name(path: tuple[str, ...]) -> str:
    """``conv1_conv/conv1_conv/kernel:0`` -> ``conv1_conv/kernel``: Keras repeats the layer's
    name as a group inside its group, and Keras 2 ends a variable's name with ``:0``."""
    parts = list(path)
    parts[-1] = parts[-1].removesuffix(":0")
    if len(parts) == 3 and parts[0] == parts[1]:
        parts = parts[1:]
    return "/".join(parts)


def _check_sizes(found: dict[str, Any], file_bytes: int) -> None:
    """Arrays cannot hold more bytes than the file (Keras stores them uncompressed): a
    compressed dataset that would inflate past it is refused before it is read."""
    total = sum(int(ds.size) * ds.dtype.itemsize for ds in found.values())
    if total > file_bytes:
        raise Hdf5Error(f"its datasets hold {total:,} bytes, more than the file's {file_bytes:,} "
                        "(compressed?); Keras stores weights uncompressed: not read")  # fmt: skip


def _tensors(found: dict[str, Any]) -> dict[str, torch.Tensor]:
    import numpy as np
    import torch

    return {name: torch.from_numpy(np.ascontiguousarray(ds[()])) for name, ds in found.items()}
