"""``convert``: a checkpoint in any layout the reader knows, written in torchvision's, timm's or
Hugging Face's, then proved.

The walk: read FILE (its layout detected and mapped to our names, checkpoint/read.py);
identify it and prove the variant by a strict load (identification/proof.py); refuse what the
target cannot express (torchvision has no deep stem, transformers no SE, no layout a bias on
every conv); rename into the target's names (identity for torchvision and timm, whose names
are ours; ``from_ours`` for a layout); write atomically; then read the written file back as
any other file, load it strictly into the variant (names and shapes, on the meta device) and
compare every value with the source's, bit for bit. Nothing is claimed that was not checked.
For Hugging Face, transformers' ``config.json`` is written beside OUT (a different one there
already is never overwritten: refused, exit 2).

What the weights were trained on stays what it was: a Keras or Caffe2 net still expects BGR,
0-255 input after conversion. The source layout's input assumptions are carried to the
result (``expects``) wherever they differ from the target's usual preprocessing.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checkpoint.layouts import LAYOUTS, LayoutError, hf
from .checkpoint.layouts.base import require_only
from .errors import RuntimeFailure, UsageError
from .files import replace_atomically, write_text_atomically
from .units import printable

if TYPE_CHECKING:
    import torch

    from .checkpoint import Checkpoint
    from .spec import ResNetSpec


class Target(str, Enum):
    """The layouts ``convert`` writes."""

    TORCHVISION = "torchvision"
    TIMM = "timm"
    HF = "hf"


SUFFIXES = {".safetensors": "safetensors", ".pth": "torch"}  # OUT's suffix -> what is written
# Source layouts whose models are fed what torchvision's are (RGB, ImageNet's mean and std):
# their own words say so (layouts/hf.py, layouts/mmpretrain.py). Any other layout's input
# assumption is carried to the result as what the converted weights still expect.
SAME_INPUT_AS_TORCHVISION = frozenset({"hf", "mmpretrain"})
# What torchvision.models.ResNet can be given (block, layers, groups, width_per_group,
# replace_stride_with_dilation, zero_init_residual, num_classes): four stages of 64, 128, 256
# and 512 planes after a 64-channel 7x7 stem on 3 channels, all fixed in its code.
TORCHVISION_FIELDS = ("block", "layers", "groups", "width_per_group",
                      "replace_stride_with_dilation", "zero_init_residual", "num_classes")  # fmt: skip


class ConversionRefused(LayoutError):
    """FILE cannot be written in the target layout, or OUT is not a place to write it (exit 2)."""


@dataclass(frozen=True)
class Proof:
    """What was checked after writing: the written file read back (``reread``: from OUT; in
    memory where nothing was written) and mapped to our names by the reader, loaded strictly
    into the variant, and compared value by value with the source."""

    reread: str  # "'out.safetensors' read back" or "in memory (nothing written)"
    layout_seen: str | None  # the layout the reader detected in the result (None: ours)
    tensors: int  # how many tensors were loaded and compared
    loads_strictly: bool
    load_error: str | None
    values_equal: int  # tensors bit-identical to the source's
    differing: tuple[str, ...]  # names of the tensors that are not (empty on success)
    round_trip: bool | None  # hf: from_ours(to_ours(written)) gives the written keys and values

    @property
    def proved(self) -> bool:
        return (self.loads_strictly and not self.differing and self.values_equal == self.tensors
                and self.round_trip is not False)  # fmt: skip

    def line(self) -> str:
        if not self.loads_strictly:
            return f"NOT proved: the result does not load strictly ({self.load_error})"
        if self.differing:
            return f"NOT proved: {len(self.differing):,} tensors differ from the source's ({self.differing[0]}, ...)"
        trip = "; mapped back and forth, the same keys and values" if self.round_trip else ""
        return (f"Proved: {self.reread}, {self.tensors:,} tensors loaded strictly (names and shapes, "
                f"on the meta device), every value bit-identical to the source's{trip}")  # fmt: skip


@dataclass(frozen=True, eq=False)
class Conversion:
    source: Checkpoint
    spec: ResNetSpec
    target: Target
    output: Path | None  # where the result was written; None: kept in memory (``tensors``)
    file_format: str | None  # "safetensors" or "torch"
    tensors: dict[str, torch.Tensor]  # the converted state dict, in the target's names
    filled: tuple[str, ...]  # keys the source lacked and the target has (num_batches_tracked = 0)
    proof: Proof
    expects: tuple[str, ...]  # the input the converted weights expect, where not the target's usual
    notes: tuple[str, ...] = ()  # what the target reads from elsewhere than the weights
    config: Path | None = None  # hf: the config.json beside OUT (written, or kept: the same)
    config_kept: bool = False  # it was there already with the same content: left as it was

    @property
    def source_layout(self) -> str:
        return self.source.layout or "torchvision/timm"


# --- the checks before any work --------------------------------------------------------------
def check_output(output: str | Path, source: str | Path, label: str = "-o") -> tuple[Path, str]:
    """OUT's path (a link's target) and the format its suffix picks; refused (exit 2) where the
    suffix is neither, the folder is missing, or OUT is FILE itself (never overwritten)."""
    shown = f"{label} {str(output)!r}"
    path = Path(os.path.realpath(output))
    fmt = SUFFIXES.get(path.suffix.lower()) or SUFFIXES.get(Path(output).suffix.lower())
    if fmt is None:
        raise UsageError(f"{shown}: write .safetensors or .pth (the suffix picks the format), not "
                         f"{Path(output).suffix or 'no suffix'}", subject=label)  # fmt: skip
    if not path.parent.is_dir():
        raise UsageError(
            f"{shown}: the directory {str(path.parent)!r} does not exist", subject=label
        )
    if path.is_dir() or (path.exists() and not stat.S_ISREG(path.stat().st_mode)):
        raise UsageError(f"{shown}: not a regular file; convert writes to a file", subject=label)
    if path == Path(os.path.realpath(source)) or _same_file(path, Path(source)):
        raise UsageError(f"{shown}: is FILE itself; convert writes a new file and never "
                         "overwrites the one it reads", subject=label)  # fmt: skip
    return path, fmt


def _same_file(a: Path, b: Path) -> bool:
    with contextlib.suppress(OSError):
        return a.exists() and os.path.samefile(a, b)
    return False


def check_target(spec: ResNetSpec, target: Target, keys: Mapping[str, Any]) -> None:
    """Refuse, in one line, a variant the target layout cannot express."""
    if any(k.startswith("attnpool.") for k in keys):
        raise ConversionRefused(f"{target.value} has no attention pool (CLIP's ModifiedResNet head); "
                                "its ResNets end in a global average pool and a linear layer")  # fmt: skip
    if getattr(spec, "conv_bias", False):
        raise ConversionRefused(f"{target.value}'s ResNet convs have no bias; this variant has "
                                "one on every conv (conv_bias=true)")  # fmt: skip
    if target is Target.TORCHVISION:
        from .spec import Block, Layout

        if (
            spec.block not in (Block.BASIC, Block.BOTTLENECK)
            or spec.layout is not Layout.TORCHVISION
        ):
            raise ConversionRefused(f"torchvision has only basic and bottleneck ResNets; "
                                    f"block={spec.block.value}, layout={spec.layout.value} is timm's: "
                                    "use --to timm")  # fmt: skip
        if len(spec.layers) != 4:
            raise ConversionRefused(f"torchvision's ResNet has four stages, not {len(spec.layers)} "
                                    "(use --to timm)")  # fmt: skip
        try:
            require_only(spec, TORCHVISION_FIELDS, "torchvision's ResNet")
        except LayoutError as exc:
            raise ConversionRefused(f"{exc} (a variant only timm has: use --to timm)") from None
    if target is Target.HF:
        require_only(spec, ("block", "layers", "widths", "stem_width", "stride_in", "num_classes",
                            "in_chans", "zero_init_residual"), hf.NAME)  # fmt: skip


def refusal_of_source(checkpoint: Checkpoint) -> str | None:
    """Why the source's layout cannot be converted (the quantized one), or None."""
    for layout in LAYOUTS:
        if layout.name == checkpoint.layout:
            return layout.refuses_conversion
    return None


# --- the conversion ---------------------------------------------------------------------------
def convert(path: str | Path, to: Target, output: str | Path | None = None,
            label: str = "FILE", output_label: str = "-o") -> Conversion:  # fmt: skip
    """Read ``path``, identify and prove its variant, write it in ``to``'s layout to ``output``
    (atomically; None: kept in memory), and prove the result (module doc)."""
    from .checkpoint import read_checkpoint
    from .identification.proof import identify_checkpoint

    out = check_output(output, path, output_label) if output is not None else None
    checkpoint = read_checkpoint(path, label)
    why = refusal_of_source(checkpoint)
    if why is not None:
        raise ConversionRefused(
            f"{label} {str(path)!r}: {checkpoint.ecosystem} cannot be converted: {why}"
        )
    ident = identify_checkpoint(checkpoint)
    if not ident.proved:
        raise RuntimeFailure(f"{label} {str(path)!r}: identified as {ident.identified.spec_string}, "
                             f"but it does not load strictly into it ({ident.load_error or ident.comparison.counts()}); "
                             "nothing written")  # fmt: skip
    spec = ident.identified.spec
    ours, filled = _complete(checkpoint.tensors, spec)
    ours, spec, folded = fold_conv_bias(ours, spec)
    check_target(spec, to, checkpoint.tensors)
    tensors = hf.from_ours(ours, spec) if to is Target.HF else dict(ours)
    config = hf_config(spec, ours) if to is Target.HF else None
    config_at = kept = None
    if out is not None and config is not None:  # checked before anything is written
        config_at, kept = check_config_beside(out[0], config, output_label)
    if out is not None:
        write_weights(out[0], out[1], tensors, output_label)
    if config_at is not None and config is not None and not kept:
        write_config(config_at, config, output_label)
    proof = prove(ours, tensors, spec, to, out[0] if out else None)
    notes = folded + target_notes(spec, to, written=config_at is not None)
    if config_at is not None and out is not None and out[0].name != HF_WEIGHTS_NAMES[out[1]]:
        notes += (f"transformers' from_pretrained(folder) reads {HF_WEIGHTS_NAMES[out[1]]} beside config.json; "
                  f"rename {out[0].name!r} to it to load the folder",)  # fmt: skip
    return Conversion(checkpoint, spec, to, out[0] if out else None, out[1] if out else None,
                      tensors, filled, proof, expected_input(checkpoint), notes,
                      config_at, bool(kept))  # fmt: skip


# --- transformers' config.json ---------------------------------------------------------------
# The weights file transformers' from_pretrained(folder) looks for, by the format written.
HF_WEIGHTS_NAMES = {"safetensors": "model.safetensors", "torch": "pytorch_model.bin"}
HF_CONFIG = "config.json"
MAX_CONFIG_BYTES = hf.MAX_CONFIG_BYTES


def hf_config(spec: ResNetSpec, tensors: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """transformers' ``ResNetConfig`` for ``spec`` (field names from its
    ``configuration_resnet.py``): ``embedding_size`` the stem's width, ``hidden_sizes`` each
    stage's output channels (width x expansion), ``depths`` the blocks per stage,
    ``downsample_in_bottleneck`` where a bottleneck strides its first 1x1; ``id2label`` and
    ``label2id`` as transformers names labels it is not given (``LABEL_i``), one per class:
    transformers sizes the classifier by them. A headless spec (no classes) is a
    ``ResNetModel``. Checked against what the tensors show, as the reader checks a config
    (layouts/hf.py): a difference is a bug here, not the user's (exit 1)."""
    from .spec import Block, StrideIn

    widths = spec.widths or ()
    in_1x1 = spec.block is Block.BOTTLENECK and spec.stride_in is StrideIn.CONV1X1
    config: dict[str, Any] = {
        "architectures": ["ResNetForImageClassification" if spec.num_classes else "ResNetModel"],
        "model_type": "resnet",
        "num_channels": spec.in_chans,
        "embedding_size": spec.stem_width,
        "hidden_sizes": [w * spec.expansion for w in widths],
        "depths": list(spec.layers),
        "layer_type": "bottleneck" if spec.block is Block.BOTTLENECK else "basic",
        "hidden_act": "relu",
        "downsample_in_first_stage": False,
        "downsample_in_bottleneck": in_1x1,
    }
    if spec.num_classes:
        config["id2label"] = {str(i): f"LABEL_{i}" for i in range(spec.num_classes)}
        config["label2id"] = {f"LABEL_{i}": i for i in range(spec.num_classes)}
    seen = hf._facts({k: tuple(t.shape) for k, t in tensors.items()})
    differs = [f for f, v in seen.items() if config[f] != v]
    if differs:
        raise RuntimeFailure(f"config.json: {', '.join(differs)} from the variant differ from what the "
                             "weights show; nothing written (a bug in convert)")  # fmt: skip
    return config


def config_text(config: Mapping[str, Any]) -> str:
    return json.dumps(config, indent=2) + "\n"


def check_config_beside(out: Path, config: Mapping[str, Any], label: str) -> tuple[Path, bool]:
    """Where the config goes (``config.json`` in OUT's folder) and whether one is there with
    the same content already (left as it is). One that differs, or is not a regular file, is
    never overwritten: refused (exit 2) before anything is written, naming it and what
    differs, since it may be another model's (a folder with several checkpoints)."""
    path = out.parent / HF_CONFIG
    shown = f"{label} {str(out)!r}"
    if not os.path.lexists(path):
        return path, False
    if path.is_symlink() or not path.is_file():
        raise UsageError(f"{shown}: {str(path)!r} is there and is not a regular file; convert writes "
                         "transformers' config.json beside OUT: write OUT to another folder", subject=label)  # fmt: skip
    existing = _read_json(path)
    if existing == config:
        return path, True
    what = (", ".join(f for f in config if existing.get(f) != config[f]) if isinstance(existing, dict)
            else "not a JSON object this size")  # fmt: skip
    raise UsageError(f"{shown}: {str(path)!r} is there already and differs from this model's ({printable(what)}); "
                     "convert does not overwrite it (it may be another model's): remove it or write OUT to "
                     "another folder", subject=label)  # fmt: skip


def _read_json(path: Path) -> Any:
    """A config.json read as data, at most MAX_CONFIG_BYTES; None where it cannot be."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
        return None if len(raw) > MAX_CONFIG_BYTES else json.loads(raw)
    except (OSError, ValueError, RecursionError):
        return None


def write_config(path: Path, config: Mapping[str, Any], label: str = "-o") -> None:
    """``config.json`` written whole or not at all (files.py), readable by all as a JSON
    file beside a checkpoint usually is."""
    write_text_atomically(path, config_text(config), label, mode=0o644)


def _norm_after(conv: str) -> str:
    """The BatchNorm that reads a conv's output in a basic or bottleneck block: conv1 -> bn1,
    layer1.0.conv2 -> layer1.0.bn2, downsample.0 -> downsample.1."""
    head, _, last = conv.rpartition(".")
    if last == "0" and head.endswith("downsample"):
        return f"{head}.1"
    return f"{head}.{last.replace('conv', 'bn')}" if head else last.replace("conv", "bn")


def fold_conv_bias(tensors: dict[str, torch.Tensor], spec: ResNetSpec
                   ) -> tuple[dict[str, torch.Tensor], ResNetSpec, tuple[str, ...]]:  # fmt: skip
    """A net with biased convs, each followed by a BatchNorm (Keras's), as the same net without
    the biases, for a target whose ResNets have none. In eval mode BN(conv(x) + b) with running
    mean m equals BN(conv(x)) with running mean m - b; and a BN of eps e with running variance v
    equals one of torch's default eps 1e-5 with variance v + e - 1e-5. Both exact in real
    arithmetic (float32 rounds the sums); training from the result differs slightly (the batch
    statistics absorb the bias)."""
    if not getattr(spec, "conv_bias", False):
        return tensors, spec, ()
    out = dict(tensors)
    eps = float(spec.bn_eps)
    for key in [k for k, t in tensors.items() if k.endswith(".bias") and t.dim() == 1
                and tensors.get(k.removesuffix(".bias") + ".weight", t).dim() == 4]:  # fmt: skip
        norm = _norm_after(key.removesuffix(".bias"))
        if f"{norm}.running_mean" not in out:
            raise ConversionRefused(f"the bias of {key.removesuffix('.bias')} has no BatchNorm after it to "
                                    "fold into")  # fmt: skip
        out[f"{norm}.running_mean"] = out[f"{norm}.running_mean"] - out.pop(key)
    if eps != 1e-5:
        for key in [k for k in out if k.endswith(".running_var")]:
            out[key] = out[key] + (eps - 1e-5)
    plain = spec.replace(conv_bias=False, bn_eps=1e-5)
    return out, plain, (f"each conv's bias folded into the running mean of the BatchNorm after it, "
                        f"and BN eps {eps:g} into its running variance (eps 1e-5): the same function "
                        "in eval mode; the written variant has no conv biases",)  # fmt: skip


def target_notes(spec: ResNetSpec, to: Target, written: bool = False) -> tuple[str, ...]:
    """What the target reads from elsewhere than the weights: transformers takes the stride's
    place from config.json (layouts/hf.py), and its default is the 3x3; ``written``: the
    config was written beside OUT (it says so)."""
    from .spec import StrideIn

    notes = _headless_notes(spec, to)
    if to is Target.HF and spec.stride_in is StrideIn.CONV1X1 and not written:
        return (*notes, "stride_in=1x1: transformers reads it from config.json "
                "(downsample_in_bottleneck=true), which convert writes only beside OUT; without it "
                "the 3x3 strides and the model computes something else")  # fmt: skip
    return notes


# a headless net (num_classes=0) has no classifier keys: how each target's library loads that
HEADLESS_NOTES = {
    Target.TORCHVISION: "num_classes=0: no fc keys; torchvision's resnet(num_classes=0) builds a "
                        "0-output fc and expects its keys: set model.fc = nn.Identity() before loading",
    Target.TIMM: "num_classes=0: no classifier keys, as timm.create_model(..., num_classes=0) "
                 "builds it (fc an Identity; the pooled features out)",
    Target.HF: "num_classes=0: written in ResNetModel's names (no resnet. prefix, no classifier), "
               "which ResNetBackbone shares",
}  # fmt: skip


def _headless_notes(spec: ResNetSpec, to: Target) -> tuple[str, ...]:
    return (HEADLESS_NOTES[to],) if spec.num_classes == 0 else ()


def _complete(
    tensors: Mapping[str, torch.Tensor], spec: ResNetSpec
) -> tuple[dict[str, torch.Tensor], tuple[str, ...]]:
    """The source's tensors in the model's key order, with a BatchNorm's ``num_batches_tracked``
    the source lacks (Keras, Caffe2) written as 0, as torch fills it on a load."""
    import torch

    from .model import build_model

    expected = build_model(spec, "meta").state_dict()
    out: dict[str, torch.Tensor] = {}
    filled = []
    for key in expected:
        if key in tensors:
            out[key] = tensors[key]
        elif key.endswith(".num_batches_tracked"):
            out[key] = torch.zeros((), dtype=torch.int64)
            filled.append(key)
    return out, tuple(filled)


def expected_input(checkpoint: Checkpoint) -> tuple[str, ...]:
    """The source layout's input assumptions, where they differ from torchvision's."""
    if checkpoint.layout is None or checkpoint.layout in SAME_INPUT_AS_TORCHVISION:
        return ()
    return tuple(a for a in checkpoint.assumptions if a.startswith("input:"))


# --- writing, atomically ----------------------------------------------------------------------
def write_weights(
    path: Path, fmt: str, tensors: Mapping[str, torch.Tensor], label: str = "-o"
) -> None:
    """Write to a temporary file beside ``path`` and rename it into place: a failure leaves no
    partial file and the old ``path`` (if any) as it was."""

    def write(fd: int, tmp: Path) -> None:
        os.close(fd)  # torch and safetensors open the file by name
        _save(tmp, fmt, tensors)

    replace_atomically(path, write, label)


def _save(path: Path, fmt: str, tensors: Mapping[str, torch.Tensor]) -> None:
    import torch

    # a file of its own per tensor: no storage shared with the (memory-mapped) source
    plain = {k: t.detach().to("cpu").contiguous().clone() for k, t in tensors.items()}
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file(plain, str(path))
    else:
        torch.save(plain, path)


# --- the proof --------------------------------------------------------------------------------
def prove(ours: Mapping[str, torch.Tensor], written: Mapping[str, torch.Tensor], spec: ResNetSpec,
          to: Target, path: Path | None) -> Proof:  # fmt: skip
    """Read the result back as any file is read (or map it in memory), load it strictly into
    ``spec``, and compare every tensor with the source's (``ours``), bit for bit."""
    from .checkpoint import read_checkpoint
    from .checkpoint.compare import strict_load_error
    from .model import build_model

    if path is not None:
        back = read_checkpoint(path, "-o")
        reread = f"{str(path)!r} read back"
    else:
        back = _in_memory(written)
        reread = "mapped back in memory (nothing written)"
    load_error = strict_load_error(build_model(spec, "meta"), back)
    same = [k for k, t in ours.items() if k in back.tensors and _identical(t, back.tensors[k])]
    differing = tuple(k for k in ours if k not in set(same)) + tuple(
        k for k in back.tensors if k not in ours
    )
    trip = _round_trip(written, spec) if to is Target.HF else None
    return Proof(reread, back.layout, len(back.tensors), load_error is None, load_error, len(same),
                 differing, trip)  # fmt: skip


def _in_memory(tensors: Mapping[str, torch.Tensor]) -> Checkpoint:
    """``tensors`` as the reader would give them: the layout detected and mapped to our names."""
    from .checkpoint.layouts import detect
    from .checkpoint.read import Checkpoint, FileFormat

    layout = detect(tensors.keys())
    mapped = layout.to_ours(tensors).tensors if layout else dict(tensors)
    return Checkpoint(Path("<memory>"), FileFormat.SAFETENSORS, None, "", mapped,
                      layout=layout.name if layout else None)  # fmt: skip


def _identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    import torch

    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a.cpu(), b.cpu())


def _round_trip(written: Mapping[str, torch.Tensor], spec: ResNetSpec) -> bool:
    """hf: its ``to_ours`` then ``from_ours`` give the written keys, each the same tensor."""
    back = hf.from_ours(hf.to_ours(written).tensors, spec)
    return back.keys() == written.keys() and all(_identical(back[k], written[k]) for k in written)
