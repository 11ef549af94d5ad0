"""Checkpoint files as data: read one into a :class:`Checkpoint` (names, shapes, tensors).

A checkpoint is data, not code. Pickles (``.pth``, ``.pt``, ``.bin``) are read with
``torch.load(weights_only=True)``: a file whose unpickling would import or call anything
beyond tensors and plain containers is refused, never executed. ``.safetensors`` files hold
no code at all. Both are memory-mapped where the format allows (torch's zip format and
safetensors), so reading a 500 MB checkpoint costs address space, not 500 MB of memory; only
the tensors a command touches are paged in.

Accepted layouts: a bare state_dict; a training checkpoint that nests it under one of
:data:`NESTING_KEYS`; keys prefixed by ``module.`` (DataParallel/DDP) or ``_orig_mod.``
(``torch.compile``).

For other commands: :func:`verify_weights` checks a file against a spec without touching a
model (the trace stays on the meta device); :func:`load_weights_into` loads it into a real
model, strictly.
"""

from __future__ import annotations

import argparse
import contextlib
import pickle
import re
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InspectError, UsageError

if TYPE_CHECKING:
    import torch

Shape = tuple[int, ...]

# Where training scripts nest the weights, in the order they are looked for: the model's own
# weights before an EMA copy (timm saves both, as state_dict and state_dict_ema).
NESTING_KEYS = ("state_dict", "model_state_dict", "model", "ema", "state_dict_ema", "model_ema")
PREFIXES = ("module.", "_orig_mod.")  # DataParallel/DDP, torch.compile
_TOLERATED_SUFFIX = ".num_batches_tracked"  # torch fills a missing one with 0 on a strict load


class CheckpointError(UsageError):
    """The file cannot be read as a checkpoint: missing, unreadable, corrupt, unsafe (exit 2)."""


class WeightsMismatch(InspectError):
    """A readable checkpoint that does not load strictly into the variant (exit 1)."""


class FileFormat(str, Enum):
    TORCH = "torch"  # torch.save's zip format: memory-mapped
    TORCH_LEGACY = "torch legacy"  # torch.save before 1.6: read into memory
    SAFETENSORS = "safetensors"  # memory-mapped


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """A state_dict read from a file, and how it was found there."""

    path: Path
    format: FileFormat
    nested_key: str | None  # "state_dict" when the weights were nested under it
    stripped_prefix: str  # "module." when every key carried it
    tensors: Mapping[str, torch.Tensor]

    @property
    def shapes(self) -> dict[str, Shape]:
        return {k: tuple(t.shape) for k, t in self.tensors.items()}

    @property
    def num_values(self) -> int:
        return sum(t.numel() for t in self.tensors.values())

    @property
    def dtypes(self) -> tuple[str, ...]:
        return tuple(sorted({str(t.dtype).removeprefix("torch.") for t in self.tensors.values()}))

    def describe(self) -> str:
        """``'r50.pth' (torch, under 'state_dict', 'module.' stripped)``."""
        how = [self.format.value]
        if self.nested_key:
            how.append(f"under {self.nested_key!r}")
        if self.stripped_prefix:
            how.append(f"{self.stripped_prefix!r} stripped")
        return f"{str(self.path)!r} ({', '.join(how)})"


# --- reading ---------------------------------------------------------------------------------
def read_checkpoint(path: str | Path, label: str = "FILE") -> Checkpoint:
    """Read ``path`` as a state_dict; ``label`` names the argument in error messages."""
    p = Path(path)
    where = f"{label} {str(path)!r}"
    _check_file(p, where)
    fmt = _sniff(p)
    obj = _load_safetensors(p, where) if fmt is FileFormat.SAFETENSORS else _load_torch(p, fmt, where)
    nested_key, found = _find_state_dict(obj, where)
    prefix, tensors = _strip_prefixes(found)
    return Checkpoint(p, fmt, nested_key, prefix, tensors)


def _check_file(p: Path, where: str) -> None:
    if not p.exists():
        raise CheckpointError(f"{where}: no such file")
    if p.is_dir():
        raise CheckpointError(f"{where}: is a directory, not a checkpoint file")
    try:
        size = p.stat().st_size
        with p.open("rb"):
            pass
    except OSError as exc:
        raise CheckpointError(f"{where}: cannot read: {exc.strerror}") from None
    if size == 0:
        raise CheckpointError(f"{where}: is empty (0 bytes)")


def _sniff(p: Path) -> FileFormat:
    """safetensors: an 8-byte little-endian header length, then a JSON header."""
    with p.open("rb") as f:
        head = f.read(9)
    header_len = int.from_bytes(head[:8], "little") if len(head) == 9 else 0
    if p.suffix.lower() == ".safetensors" or (head[8:9] == b"{" and 8 + header_len <= p.stat().st_size):
        return FileFormat.SAFETENSORS
    return FileFormat.TORCH if zipfile.is_zipfile(p) else FileFormat.TORCH_LEGACY


def _load_torch(p: Path, fmt: FileFormat, where: str) -> Any:
    import torch

    try:
        # argparse.Namespace: training scripts (timm's among them) save their arguments beside
        # the weights; rebuilding one sets attributes and runs no code.
        allow = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
        allowed = allow([argparse.Namespace]) if allow else contextlib.nullcontext()
        with allowed, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(p, map_location="cpu", weights_only=True,
                              mmap=fmt is FileFormat.TORCH)  # fmt: skip
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{where}: {_refusal(str(exc))}") from None
    except MemoryError:
        raise
    except Exception as exc:  # torch raises RuntimeError, EOFError, KeyError... on a bad file
        raise CheckpointError(f"{where}: cannot be read as a checkpoint; is it truncated or "
                              f"corrupt? ({_first_line(exc)})") from None


def _refusal(message: str) -> str:
    """torch's multi-paragraph weights_only error, as one line that says what was refused."""
    found = re.search(r"GLOBAL ([\w.]+)", message)
    if found:
        return (f"refused: unpickling it would import {found[1]}; resnet-inspect reads checkpoints "
                "as data only (weights_only=True) and never runs code from a file")
    operand = re.search(r"Unsupported operand \d+", message)
    detail = operand[0] if operand else _first_line(message)
    return (f"cannot be read as data by the safe loader (weights_only=True: {detail}); not a "
            "torch.save file, or truncated or corrupt")


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0].split(". ")[0] if text else ""
    name = type(exc).__name__ if isinstance(exc, BaseException) else ""
    line = line[:160] + ("..." if len(line) > 160 else "")
    return f"{name}: {line}" if name and line else name or line


def _load_safetensors(p: Path, where: str) -> dict[str, torch.Tensor]:
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise CheckpointError(
            f"{where}: reading .safetensors needs the safetensors package: pip install safetensors"
        ) from None
    try:
        return load_file(str(p), device="cpu")  # memory-mapped: tensors are paged in on use
    except Exception as exc:  # SafetensorError for a truncated or corrupt file
        raise CheckpointError(f"{where}: cannot be read as a safetensors file; is it truncated "
                              f"or corrupt? ({_first_line(exc)})") from None


def _is_state_dict(obj: Any) -> bool:
    import torch

    return (isinstance(obj, Mapping) and len(obj) > 0
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()))  # fmt: skip


def _find_state_dict(obj: Any, where: str, depth: int = 0) -> tuple[str | None, dict[str, Any]]:
    if _is_state_dict(obj):
        return None, dict(obj)
    if isinstance(obj, Mapping) and depth < 3:
        for key in NESTING_KEYS:
            if key in obj and isinstance(obj[key], Mapping):
                inner, found = _find_state_dict(obj[key], where, depth + 1)
                return (key if inner is None else f"{key}.{inner}"), found
    if isinstance(obj, Mapping) and not obj:
        raise CheckpointError(f"{where}: holds an empty dict, no tensors")
    if isinstance(obj, Mapping) and depth == 0:
        keys = ", ".join(map(str, list(obj)[:6])) or "none"
        raise CheckpointError(
            f"{where}: no state_dict in it: a dict with keys {keys}; expected tensors, or "
            f"weights under one of {', '.join(NESTING_KEYS)}"
        )
    if depth == 0:
        raise CheckpointError(f"{where}: holds a {type(obj).__name__}, not a state_dict of tensors")
    raise CheckpointError(f"{where}: the nested weights are not a state_dict of tensors")


def _strip_prefixes(sd: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    stripped = ""
    while True:
        prefix = next((p for p in PREFIXES if all(k.startswith(p) for k in sd)), None)
        if prefix is None:
            return stripped, sd
        stripped += prefix
        sd = {k[len(prefix):]: v for k, v in sd.items()}
