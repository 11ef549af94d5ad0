"""Checkpoint files as data: read one into a :class:`Checkpoint` (names, shapes, tensors).

A checkpoint is data, not code. Pickles (``.pth``, ``.pt``, ``.bin``) are read with
``torch.load(weights_only=True)``: a file whose unpickling would import or call anything
beyond tensors and plain containers is refused, never executed. ``.safetensors`` files hold
no code at all. Plain pickles of NumPy arrays (``.pkl``: detectron2's model zoo, Caffe2's
ImageNet weights) are read by a restricted unpickler that rebuilds arrays and plain containers
only (``safe_pickle.ArrayUnpickler``). The two are memory-mapped where the format allows (torch's zip format and
safetensors), so reading a 500 MB checkpoint costs address space, not 500 MB of memory; only
the tensors a command touches are paged in.

Accepted layouts: a bare state_dict; a training checkpoint that nests it under one of
:data:`NESTING_KEYS`; keys prefixed by ``module.`` (DataParallel/DDP) or ``_orig_mod.``
(``torch.compile``). Keras's ``.h5`` (HDF5, sniffed by its signature) is read through h5py as
data (hdf5.py). Then other ecosystems' layouts (Hugging Face, MMPretrain, Keras, CLIP: see
layouts/) are detected by their keys and mapped to our names; the Checkpoint says which, and
what the layout assumes. A plain pickle of NumPy arrays (``.pkl``:
detectron2, Caffe2) is read by a restricted unpickler (safe_pickle.py).

For other commands: :func:`verify_weights` checks a file against a spec without touching a
model (the trace stays on the meta device); :func:`load_weights_into` loads it into a real
model, strictly.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import pickle
import re
import stat
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import InspectError, RuntimeFailure, UsageError
from ..spec import MAX_BLOCKS
from ..units import file_kind
from .hdf5 import Hdf5Error, is_hdf5, read_hdf5
from .layouts import LayoutError, Sidecar, detect, ecosystem_of

if TYPE_CHECKING:
    import torch

Shape = tuple[int, ...]

# Where training scripts nest the weights, in the order they are looked for: the model's own
# weights before an EMA copy (timm saves both, as state_dict and state_dict_ema).
NESTING_KEYS = ("state_dict", "model_state_dict", "model", "ema", "state_dict_ema", "model_ema")
PREFIXES = ("module.", "_orig_mod.")  # DataParallel/DDP, torch.compile
_TOLERATED_SUFFIX = ".num_batches_tracked"  # torch fills a missing one with 0 on a strict load
# The most tensors a state_dict may hold before it is refused unread: a bound on the work
# (a 20,000-key file once took minutes to identify), not the size of any one ResNet: 50,000,
# room for MAX_BLOCKS bottlenecks of 24 tensors (3 convs, 3 BatchNorms of 5, a projection and
# its norm) and a stem and head. Blocks with more tensors (ResNeSt's 27, Res2Net's 30 and up)
# make nets this tool builds but refuses at that depth; real nets are far below it
# (LARGEST_PRESET).
MAX_TENSORS = 25 * MAX_BLOCKS
# A training checkpoint holds more than the weights (an optimizer's moments, an EMA copy):
# the whole file may hold this many before it is refused unread.
MAX_FILE_TENSORS = 4 * MAX_TENSORS
# The preset whose state_dict holds the most tensors, and how many, for the refusal above
# (counting every preset's takes ~10 s; tests/test_hostile_files.py recounts the deepest).
LARGEST_PRESET = ("resnetrs420", 3_108)


class CheckpointError(UsageError):
    """The file cannot be read as a checkpoint: missing, unreadable, corrupt, unsafe (exit 2)."""


class WeightsMismatch(InspectError):
    """A readable checkpoint that does not load strictly into the variant (exit 1)."""


class FileFormat(str, Enum):
    TORCH = "torch"  # torch.save's zip format: memory-mapped
    TORCH_LEGACY = "torch legacy"  # torch.save before 1.6: read into memory
    SAFETENSORS = "safetensors"  # memory-mapped
    HDF5 = "hdf5"  # Keras's .h5, through h5py: read into memory
    PICKLE = "pickle"  # a plain pickle of NumPy arrays (.pkl): read into memory


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """A state_dict read from a file, and how it was found there."""

    path: Path
    format: FileFormat
    nested_key: str | None  # "state_dict" when the weights were nested under it
    stripped_prefix: str  # "module." when every key carried it
    tensors: Mapping[str, torch.Tensor]  # under our names, where a layout was mapped
    # where another ecosystem's layout was mapped (layouts/): which, and what it implies
    layout: str | None = None  # "hf", "mmpretrain", "keras", "clip", ...
    ecosystem: str | None = None  # "a Hugging Face transformers ResNetForImageClassification checkpoint"
    assumptions: tuple[str, ...] = ()  # what the layout cannot show, as assumed
    spec_hints: Mapping[str, Any] = field(default_factory=dict)  # spec fields the layout implies
    hint_sources: Mapping[str, str] = field(default_factory=dict)  # field -> what implied it
    notes: tuple[str, ...] = ()  # a sidecar's (config.json's) word: contradictions, one line each
    original_keys: tuple[str, ...] = ()  # the file's own names, before the mapping
    unused: tuple[str, ...] = ()  # the file's keys deliberately not mapped (a text tower)

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
        if self.layout:
            how.append(f"mapped from the {self.layout} layout")
        return f"{str(self.path)!r} ({', '.join(how)})"


# --- reading ---------------------------------------------------------------------------------
def read_checkpoint(path: str | Path, label: str = "FILE") -> Checkpoint:
    """Read ``path`` as a state_dict; ``label`` names the argument in error messages."""
    p = Path(path)
    where = f"{label} {str(path)!r}"
    _check_file(p, where)
    with _utf8_name(p, where) as p:
        return _read(p, Path(path), where)


def _read(p: Path, shown: Path, where: str) -> Checkpoint:
    fmt = _sniff(p)
    if fmt is FileFormat.HDF5:
        try:
            found = read_hdf5(p)
        except Hdf5Error as exc:
            raise CheckpointError(f"{where}: {exc}") from None
        _check_count(len(found), MAX_TENSORS, "in the file", where)
        return _mapped(Checkpoint(shown, fmt, None, "", found), where)
    _refuse_other_formats(p, fmt, where)
    # safetensors holds one flat state_dict; a torch file may hold an optimizer's state too
    limit = MAX_TENSORS if fmt is FileFormat.SAFETENSORS else MAX_FILE_TENSORS
    _check_count(_count_tensors(p, fmt), limit, "in the file", where)
    if fmt is FileFormat.PICKLE:
        obj = _load_pickle(p, where)
    else:
        obj = _load_safetensors(p, where) if fmt is FileFormat.SAFETENSORS else _load_torch(p, fmt, where)
    nesting = (*NESTING_KEYS, "blobs") if fmt is FileFormat.PICKLE else NESTING_KEYS
    nested_key, found = _find_state_dict(obj, where, nesting=nesting)
    _check_count(len(found), MAX_TENSORS, "in its state_dict", where)
    prefix, tensors = _strip_prefixes(found)
    return _mapped(Checkpoint(shown, fmt, nested_key, prefix, tensors), where)


def _mapped(c: Checkpoint, where: str) -> Checkpoint:
    """``c`` in our names where its keys carry another ecosystem's layout (layouts/), with what
    the layout (and a config.json beside an HF file) implies; as it is otherwise."""
    try:
        layout = detect(c.tensors.keys())
        if layout is None:
            return c
        mapped = layout.to_ours(c.tensors)
    except LayoutError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    shapes = {k: tuple(t.shape) for k, t in mapped.tensors.items()}
    side = layout.sidecar(c.path, shapes) if layout.sidecar else Sidecar()
    sources = {name: f"the {layout.name} layout" for name in mapped.spec_hints}
    sources |= {name: "config.json beside the file" for name in side.spec_hints}
    decided = set(side.spec_hints)  # an assumption the config decides is no longer one
    assumed = tuple(a for a in mapped.assumptions if a.partition(":")[0] not in decided)
    return replace(c, tensors=mapped.tensors, layout=layout.name,
                   ecosystem=ecosystem_of(layout, c.tensors.keys()), assumptions=assumed,
                   spec_hints={**mapped.spec_hints, **side.spec_hints}, hint_sources=sources,
                   notes=side.notes, original_keys=tuple(c.tensors), unused=mapped.unused)  # fmt: skip


@contextlib.contextmanager
def _utf8_name(p: Path, where: str) -> Iterator[Path]:
    """A name the loaders can take: torch's and safetensors' readers encode it as UTF-8, which
    a file name of other bytes (latin-1, from an old archive) is not. Such a file is opened
    and read through /proc/self/fd, where there is one."""
    try:
        str(p).encode("utf-8")
    except UnicodeEncodeError:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            alias = Path(f"/proc/self/fd/{fd}")
            if not alias.exists():
                raise CheckpointError(f"{where}: the file name is not UTF-8, which torch cannot "
                                      "open; rename the file") from None  # fmt: skip
            yield alias
        finally:
            os.close(fd)
        return
    yield p


def _check_file(p: Path, where: str) -> None:
    """A regular file, checked without blocking: ``stat`` never waits, where opening a FIFO
    for reading waits for a writer forever (and a device node reads without end)."""
    try:
        st = p.stat()
    except FileNotFoundError:
        raise CheckpointError(f"{where}: no such file") from None
    except OSError as exc:  # a name too long, a loop of links, a directory it may not enter
        raise CheckpointError(f"{where}: cannot read: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise CheckpointError(f"{where}: is a directory, not a checkpoint file")
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"{where}: is {file_kind(st.st_mode)}, not a regular file; a "
                              "checkpoint must be a file on disk")  # fmt: skip
    try:  # O_NONBLOCK: should the name have become a FIFO since the stat, do not wait on it
        os.close(os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)))
    except OSError as exc:
        raise CheckpointError(f"{where}: cannot read: {exc.strerror}") from None
    if st.st_size == 0:
        raise CheckpointError(f"{where}: is empty (0 bytes)")


def _check_count(count: int | None, limit: int, what: str, where: str) -> None:
    if count is not None and count > limit:
        name, tensors = LARGEST_PRESET
        raise CheckpointError(f"{where}: {count:,} tensors {what}, more than the {limit:,} this tool "
                              f"reads (the largest preset, {name}, holds {tensors:,}); not read")  # fmt: skip


def _count_tensors(p: Path, fmt: FileFormat) -> int | None:
    """How many tensors the file holds, from its index alone (None where it has none, or it
    is unreadable: then the loader says what is wrong). safetensors: the keys of the JSON
    header; torch's zip: the storages under data/ (every one belongs to a tensor)."""
    try:
        if fmt is FileFormat.SAFETENSORS:
            with p.open("rb") as f:
                size = int.from_bytes(f.read(8), "little")
                if size > min(p.stat().st_size, _MAX_HEADER_BYTES):
                    return None
                header = json.loads(f.read(size))
            return len(header) - ("__metadata__" in header) if isinstance(header, dict) else None
        if fmt is FileFormat.TORCH:
            with zipfile.ZipFile(p) as z:
                return sum(1 for name in z.namelist() if "/data/" in name)
    except (OSError, ValueError, RecursionError, zipfile.BadZipFile):
        return None
    return None


_MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit on its header


def _sniff(p: Path) -> FileFormat:
    """safetensors: an 8-byte little-endian header length, then a JSON header; HDF5: its
    signature (hdf5.py). A pickle that does not begin with torch's magic number is a plain one
    (``.pkl``), as is any ``.pkl`` without it."""
    if is_hdf5(p):
        return FileFormat.HDF5
    with p.open("rb") as f:
        head = f.read(32)
    header_len = int.from_bytes(head[:8], "little") if len(head) >= 9 else 0
    if p.suffix.lower() == ".safetensors" or (head[8:9] == b"{" and 8 + header_len <= p.stat().st_size):
        return FileFormat.SAFETENSORS
    if zipfile.is_zipfile(p):
        return FileFormat.TORCH
    if _TORCH_MAGIC not in head and (p.suffix.lower() in _PICKLE_SUFFIXES or head[:1] == b"\x80"):
        return FileFormat.PICKLE
    return FileFormat.TORCH_LEGACY


# torch.save's legacy format begins with a pickled long, 0x1950a86a20f9469cfc6c (LONG1, 10
# bytes, little-endian: torch/serialization.py's MAGIC_NUMBER), after the protocol and a frame
_TORCH_MAGIC = b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_PICKLE_SUFFIXES = (".pkl", ".pickle")


_NUMPY_MAGIC = b"\x93NUMPY"  # the start of every .npy file (numpy's format.py)


def _refuse_other_formats(p: Path, fmt: FileFormat, where: str) -> None:
    """Files that torch.load would call corrupt, named for what they are: a zip that holds no
    pickle of torch.save's (a NumPy .npz holds .npy arrays, nothing else), and a NumPy .npy.
    Not read: no library here saves its ResNets as .npy or .npz, and an .npz would be
    unpacked into memory, never mapped."""
    advice = ("not a format this tool reads; save the arrays with torch.save (as a dict of "
              "tensors) or as .safetensors")  # fmt: skip
    if fmt is FileFormat.TORCH:
        try:
            with zipfile.ZipFile(p) as z:
                names = z.namelist()
        except (OSError, ValueError, zipfile.BadZipFile):
            return  # torch's reader says what is wrong
        if any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names):
            raise CheckpointError(f"{where}: is a TorchScript archive (OpenAI CLIP's RN50.pt is one), "
                                  "which holds code; this tool reads weights as data only: where you "
                                  "trust the file, save its state_dict() with torch.save")  # fmt: skip
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return
        if names and all(n.endswith(".npy") for n in names):
            raise CheckpointError(f"{where}: is a NumPy .npz archive ({len(names):,} arrays): {advice}")
        raise CheckpointError(f"{where}: is a zip archive without the data.pkl that torch.save "
                              "writes: not a torch checkpoint")  # fmt: skip
    if fmt is FileFormat.TORCH_LEGACY:
        with p.open("rb") as f:
            if f.read(len(_NUMPY_MAGIC)) == _NUMPY_MAGIC:
                raise CheckpointError(f"{where}: is a NumPy .npy array: {advice}")


def _pickle_protocol(p: Path, fmt: FileFormat) -> int | None:
    """The protocol the file's pickle was written with (its PROTO opcode, 0x80), or None."""
    try:
        if fmt is FileFormat.TORCH:
            with zipfile.ZipFile(p) as z:
                name = next(n for n in z.namelist() if n == "data.pkl" or n.endswith("/data.pkl"))
                with z.open(name) as f:
                    head = f.read(2)
        else:
            with p.open("rb") as f:
                head = f.read(2)
    except (OSError, ValueError, StopIteration, zipfile.BadZipFile):
        return None
    return head[1] if len(head) == 2 and head[0] == 0x80 else None


def _load_torch(p: Path, fmt: FileFormat, where: str) -> Any:
    """torch.load(weights_only=True); a valid pickle of protocol 4 or 5, whose opcodes torch's
    safe loader cannot parse, is read again by the restricted unpickler (safe_pickle.py)."""
    try:
        return _torch_load(p, fmt, restricted=False)
    except pickle.UnpicklingError as exc:
        protocol = _pickle_protocol(p, fmt)
        if protocol is None or protocol <= _SAFE_PROTOCOL or "Unsupported operand" not in str(exc):
            raise CheckpointError(f"{where}: {_refusal(str(exc))}") from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, KeyError... on a bad file
        _unreadable(exc, p, where)
    try:
        return _torch_load(p, fmt, restricted=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{where}: {_refusal(str(exc), 'a restricted unpickler')}") from None
    except Exception as exc:
        _unreadable(exc, p, where)


def _torch_load(p: Path, fmt: FileFormat, restricted: bool) -> Any:
    """torch.load on the CPU, memory-mapped where the format allows: by torch's safe loader,
    or (``restricted``) by Python's unpickler limited to what a state dict is rebuilt from."""
    import torch

    from . import safe_pickle

    allow = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
    extra = list(safe_pickle.EXTRA_GLOBALS)
    allowed = allow(extra) if allow and not restricted else contextlib.nullcontext()
    how: dict[str, Any] = ({"weights_only": False, "pickle_module": safe_pickle} if restricted
                           else {"weights_only": True})  # fmt: skip
    with allowed, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.load(p, map_location="cpu", mmap=fmt is FileFormat.TORCH, **how)


def _load_pickle(p: Path, where: str) -> Any:
    """A plain pickle of NumPy arrays (safe_pickle.ArrayUnpickler), arrays as tensors. A
    Caffe2 detection file nests its weights under ``blobs`` (detectron2's
    detection_checkpoint.py lines 80-82), looked for after NESTING_KEYS."""
    from . import safe_pickle

    try:
        with p.open("rb") as f:
            obj = safe_pickle.load_arrays(f, MAX_FILE_TENSORS)
    except safe_pickle.NumpyMissing as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    except safe_pickle.NotAWeight as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    except safe_pickle.TooManyArrays as exc:
        name, tensors = LARGEST_PRESET
        raise CheckpointError(f"{where}: more than the {exc.limit:,} arrays this tool reads (the "
                              f"largest preset, {name}, holds {tensors:,}); not read") from None  # fmt: skip
    except pickle.UnpicklingError as exc:
        message = str(exc)
        if "GLOBAL" in message:
            raise CheckpointError(f"{where}: {_refusal(message, 'a restricted unpickler')}") from None
        raise CheckpointError(f"{where}: cannot be read as a pickle of NumPy arrays; is it "
                              f"truncated or corrupt? ({_first_line(message)})") from None  # fmt: skip
    except Exception as exc:  # EOFError, ValueError... on a truncated or corrupt file
        _unreadable(exc, p, where)
    return obj


def _unreadable(exc: Exception, p: Path, where: str) -> NoReturn:
    _raise_if_out_of_memory(exc, where, _size(p))
    raise CheckpointError(f"{where}: cannot be read as a checkpoint; is it truncated or "
                          f"corrupt? ({_first_line(exc)})") from None


# how an allocation failure reads: Python's MemoryError, torch's CPU allocator ("can't
# allocate memory", "not enough memory"), an mmap that the system refuses (ENOMEM)
_OUT_OF_MEMORY = re.compile(r"can't allocate memory|not enough memory|out of memory|"
                            r"cannot allocate memory|\[Errno 12\]", re.IGNORECASE)  # fmt: skip


def _raise_if_out_of_memory(exc: BaseException, where: str, file_bytes: int | None = None) -> None:
    """Lack of memory is this machine's failure, not the file's (exit 1, not "corrupt?");
    unless the file asked for more bytes than it holds (a tensor's data is in the file)."""
    asked = re.search(r"allocate (\d{1,30}) bytes", str(exc))
    if asked and file_bytes is not None and int(asked[1]) > file_bytes:
        raise CheckpointError(f"{where}: declares a tensor of {int(asked[1]):,} bytes in a file of "
                              f"{file_bytes:,}; truncated or corrupt") from None  # fmt: skip
    if isinstance(exc, MemoryError) or _OUT_OF_MEMORY.search(str(exc)):
        raise RuntimeFailure(f"{where}: out of memory while reading it ({_first_line(exc)}); the "
                             "file may be fine: free some memory, or save it in torch's zip "
                             "format or as safetensors, which are read memory-mapped") from None


def _size(p: Path) -> int | None:
    with contextlib.suppress(OSError):
        return p.stat().st_size
    return None


def _refusal(message: str, loader: str = "weights_only=True") -> str:
    """torch's multi-paragraph unpickling error, as one line that says what was refused."""
    found = re.search(r"GLOBAL ([\w.]+)", message)
    if found:
        return (f"refused: unpickling it would import {found[1]}; resnet-inspect reads checkpoints "
                f"as data only ({loader}) and never runs code from a file")
    operand = re.search(r"Unsupported operand \d+", message)
    detail = operand[0] if operand else _first_line(message)
    return (f"cannot be read as data by the safe loader ({loader}: {detail}); not a "
            "torch.save file, or truncated or corrupt")


# The newest pickle protocol torch's weights_only unpickler reads (checked with torch 2.13: it
# lacks protocol 4's FRAME and STACK_GLOBAL); a file of a newer one may be valid, not corrupt.
_SAFE_PROTOCOL = 3


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
        _raise_if_out_of_memory(exc, where)
        raise CheckpointError(f"{where}: cannot be read as a safetensors file; is it truncated "
                              f"or corrupt? ({_first_line(exc)})") from None


def _is_state_dict(obj: Any) -> bool:
    """Tensors by name; or any values under the keys of a known layout (a quantized model's
    state dict holds a packed tuple and a dtype, which its layout maps to tensors)."""
    import torch

    from .layouts import detect

    if not (isinstance(obj, Mapping) and len(obj) > 0 and all(isinstance(k, str) for k in obj)):
        return False
    return all(isinstance(v, torch.Tensor) for v in obj.values()) or detect(obj.keys()) is not None


def _find_state_dict(
    obj: Any, where: str, depth: int = 0, nesting: tuple[str, ...] = NESTING_KEYS
) -> tuple[str | None, dict[str, Any]]:
    if _is_state_dict(obj):
        return None, dict(obj)
    if isinstance(obj, Mapping) and depth < 3:
        for key in nesting:
            if key in obj and isinstance(obj[key], Mapping):
                inner, found = _find_state_dict(obj[key], where, depth + 1, nesting)
                return (key if inner is None else f"{key}.{inner}"), found
    if isinstance(obj, Mapping) and not obj:
        raise CheckpointError(f"{where}: holds an empty dict, no tensors" if depth == 0 else
                              f"{where}: the nested weights are an empty dict, no tensors")  # fmt: skip
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
    """Strip the wrapper prefixes (PREFIXES, repeated, in any order) that every key carries.
    Linear in the keys' length: no prefix starts another, so the first key's run of prefixes
    is the only candidate, and each key can only shorten it."""
    first = next(iter(sd), "")
    ends = [0]  # where each prefix of the first key's run ends
    while (p := next((p for p in PREFIXES if first.startswith(p, ends[-1])), None)) is not None:
        ends.append(ends[-1] + len(p))
    candidate = first[: ends[-1]]
    for key in sd:
        if not candidate:
            return "", sd
        if not key.startswith(candidate):
            shared = len(os.path.commonprefix([candidate, key]))  # noqa: RUF071 (characters, not paths)
            candidate = first[: ends[bisect.bisect_right(ends, shared) - 1]]
    n = len(candidate)
    return candidate, ({k[n:]: v for k, v in sd.items()} if n else sd)
