"""A network's structure, read from what its forward pass does, not from its names.

:func:`skeleton` follows the tensors of one meta-device pass (its frozen :class:`~resnet_inspect.tracing.graph.CallGraph`) and
finds the residual blocks where two branches from one tensor are added; in each block the
branch with more convolutions is the main path and the other the shortcut (none: identity; no
convolution: zero padding, option A; else a projection). What comes before the first block is
the stem, what comes after the last the head. Blocks group into stages where the stride or the
width changes.

:func:`identify_module` compares that skeleton with the presets' and names the nearest and every
departure from it in words. (Aligning two traces' modules by structure, for ``diff``, is
``tracediff``'s: :func:`~resnet_inspect.tracediff.rename_to_match`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..spec import BLOCK_TYPES, PRESETS, AntiAlias, Attn, Block, ResNetSpec

if TYPE_CHECKING:
    from torch import nn

    from ..tracing.graph import CallGraph
    from ..tracing.recorder import Recorded


@dataclass(frozen=True)
class Conv:
    kernel: int
    stride: int
    in_ch: int
    out_ch: int
    groups: int = 1

    def text(self) -> str:
        return f"{self.kernel}x{self.kernel}"


@dataclass(frozen=True)
class BlockShape:
    main: tuple[Conv, ...]
    shortcut: str  # "identity", "projection", "pooled projection" (ResNet-D), "zero-pad"
    shortcut_conv: Conv | None
    in_ch: int
    out_ch: int
    stride: int  # the block's overall stride
    norms: tuple[str, ...] = ()  # the main path's normalisations, in order

    @property
    def stride_index(self) -> int | None:
        """Which main-path conv strides (None: none)."""
        return next((i for i, c in enumerate(self.main) if c.stride > 1), None)


@dataclass(frozen=True)
class Skeleton:
    stem: tuple[str, ...]  # "conv 7x7/2 64", "max-pool 3x3/2"
    stages: tuple[tuple[BlockShape, ...], ...]
    pool: str | None  # "adaptive", "avg 7", "max ..." or None
    pool_kernel: int | None
    last_spatial: int | None  # the last stage's output height
    head: tuple[str, ...]  # "Linear(512, 1)", "Sigmoid"

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(len(s) for s in self.stages)

    @property
    def convs_per_block(self) -> int:
        blocks = [b for s in self.stages for b in s]
        return max((len(b.main) for b in blocks), default=0)


# --- the skeleton, from the data flow ---------------------------------------------------------
@dataclass
class _Node:
    call: Recorded
    parents: list[int]


def _graph(graph: CallGraph) -> list[_Node]:
    latest: dict[int, int] = {graph.input_id: -1}
    nodes: list[_Node] = []
    for c in graph.calls:
        parents = [latest[t] for t in c.input_ids if t in latest]
        if not parents:
            continue
        latest[c.output_id] = len(nodes)
        nodes.append(_Node(c, parents))
    return nodes


def _ancestors(nodes: list[_Node]) -> list[frozenset[int]]:
    out: list[frozenset[int]] = []
    for i, n in enumerate(nodes):
        acc = {i}
        for p in n.parents:
            acc |= out[p] if p >= 0 else {-1}
        out.append(frozenset(acc))
    return out


def _is_add(c: Recorded) -> bool:
    """A residual sum; also a difference or a product of two maps of one shape: the layers
    are a ResNet's all the same, and how the two paths combine is the words reader's to say
    (``equivalence.words``). A product with a smaller gate (SE, attention) is no sum."""
    if c.name == "add" or "iadd" in c.name or c.name.endswith("add_"):
        return True
    short = c.name.rsplit(".", 1)[-1].strip("_").rstrip("_")
    shapes = c.call.input_shapes
    return (short in ("sub", "isub", "rsub", "mul", "imul") and len(shapes) == 2
            and shapes[0] == shapes[1] == c.call.output_shape)  # fmt: skip


def _conv(c: Recorded) -> Conv:
    g = c.operator.geometry(c.call) if c.operator is not None and c.operator.geometry else None
    return Conv(kernel=(g.kernel if g else None) or 1, stride=(g.stride if g else None) or 1,
                in_ch=c.call.input_shapes[0][1], out_ch=c.call.output_shape[1],
                groups=(g.groups if g else None) or 1)  # fmt: skip


def skeleton_of(graph: CallGraph) -> Skeleton:
    nodes = _graph(graph)
    anc = _ancestors(nodes)
    blocks: list[tuple[int, int, BlockShape]] = []  # (block input node, add node, shape)
    for k, n in enumerate(nodes):
        if not (_is_add(n.call) and len(set(n.parents)) == 2 and len(n.call.call.output_shape) == 4):
            continue
        p, q = n.parents
        seen_p = anc[p] if p >= 0 else frozenset({-1})
        seen_q = anc[q] if q >= 0 else frozenset({-1})
        common = (seen_p | {-1}) & (seen_q | {-1})
        start = max(common)
        before = anc[start] if start >= 0 else frozenset({-1})
        branch_p = sorted(i for i in seen_p - before if i >= 0)
        branch_q = sorted(i for i in seen_q - before if i >= 0)
        blocks.append((start, k, _block(nodes, branch_p, branch_q, n.call.call.output_shape)))
    if not blocks:  # no residual sum anywhere: everything is "stem" and head
        calls = [n.call for n in nodes]
        pool, kernel = _pool(calls)
        return Skeleton(tuple(d for c in calls if (d := _describe(c))), (), pool, kernel, None,
                        tuple(d for c in calls if (d := _head_part(c))))  # fmt: skip
    first_in, last_add = blocks[0][0], blocks[-1][1]
    stem = tuple(d for i in range(first_in + 1) if (d := _describe(nodes[i].call)))
    tail = [nodes[i].call for i in range(last_add + 1, len(nodes))]
    pool, kernel = _pool(tail)
    last_spatial = nodes[last_add].call.call.output_shape[-1]
    head = tuple(d for c in tail if (d := _head_part(c)))
    return Skeleton(stem, _stages([b for _, _, b in blocks]), pool, kernel, last_spatial, head)


def _block(nodes: list[_Node], x: list[int], y: list[int], out_shape: tuple[int, ...]) -> BlockShape:
    def convs(branch: list[int]) -> list[Recorded]:
        return [nodes[i].call for i in branch if nodes[i].call.name == "convolution"]

    main, short = (x, y) if (len(convs(x)), len(x)) >= (len(convs(y)), len(y)) else (y, x)
    main_convs = tuple(_conv(c) for c in convs(main))
    short_convs = [_conv(c) for c in convs(short)]
    pooled = any(nodes[i].call.name == "avg_pool" for i in short)
    kind = ("identity" if not short else "zero-pad" if not short_convs
            else "pooled projection" if pooled else "projection")  # fmt: skip
    in_ch = main_convs[0].in_ch if main_convs else out_shape[1]
    stride = 1
    for c in main_convs:
        stride *= c.stride
    norms = tuple(_NORMS[nodes[i].call.name] for i in main if nodes[i].call.name in _NORMS)
    return BlockShape(main_convs, kind, short_convs[0] if short_convs else None, in_ch,
                      out_shape[1], stride, norms)  # fmt: skip


_NORMS = {"batch_norm": "BatchNorm", "group_norm": "GroupNorm"}  # the cost table's operators


def _stages(blocks: list[BlockShape]) -> tuple[tuple[BlockShape, ...], ...]:
    stages: list[list[BlockShape]] = []
    for b in blocks:
        if not stages or b.stride > 1 or b.out_ch != stages[-1][-1].out_ch:
            stages.append([])
        stages[-1].append(b)
    return tuple(tuple(s) for s in stages)


def _describe(c: Recorded) -> str:
    if c.name == "convolution":
        v = _conv(c)
        return f"conv {v.text()}/{v.stride} ({v.out_ch} ch)"
    if c.name == "max_pool" and c.operator is not None and c.operator.geometry:
        g = c.operator.geometry(c.call)
        return f"max-pool {g.kernel}x{g.kernel}/{g.stride}"
    return ""


def _pool(tail: list[Recorded]) -> tuple[str | None, int | None]:
    for c in tail:
        if c.name == "avg_pool":
            if "output_size" in c.call.args:
                return "adaptive", None
            g = c.operator.geometry(c.call) if c.operator is not None and c.operator.geometry else None
            return "fixed", g.kernel if g else None
        if "mean" in c.name or "adaptive" in c.name:
            return "adaptive", None
    return None, None


_ACTIVATIONS = {"sigmoid": "Sigmoid", "softmax": "Softmax", "log_softmax": "LogSoftmax",
                "dropout": "Dropout", "tanh": "Tanh"}  # fmt: skip


def _head_part(c: Recorded) -> str:
    if c.name == "linear":
        return f"Linear({c.call.input_shapes[0][-1]}, {c.call.output_shape[-1]})"
    low = c.name.lower()
    return next((label for key, label in _ACTIVATIONS.items() if key in low.rsplit(".", 1)[-1]), "")


def skeleton(model: nn.Module, input_shape: tuple[int, ...]) -> Skeleton:
    return skeleton_of(_Fresh().graph(model, input_shape))


class Passes(Protocol):
    """Where :func:`identify_module` gets its passes and its presets' models: a caller that
    reads the same passes with another reader (identify's words reader, ``sources.py``) hands
    in one that makes each once. Either raises as :class:`_Fresh` does."""

    def graph(self, model: nn.Module, input_shape: tuple[int, ...]) -> CallGraph: ...

    def preset(self, spec: ResNetSpec) -> nn.Module: ...


class _Fresh:
    """A pass of its own for each model, on the device it is on (the trace's errors: the meta
    device cannot run it, the input does not fit), and a preset built on meta each time."""

    def graph(self, model: nn.Module, input_shape: tuple[int, ...]) -> CallGraph:
        from ..tracing.tracer import record_pass
        from ..usermodel import model_device

        return record_pass(model, input_shape, model_device(model))

    def preset(self, spec: ResNetSpec) -> nn.Module:
        from ..model import build_model

        return build_model(spec, "meta")


# --- identify ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StructureMatch:
    """The nearest preset to a model's structure and every way the model departs from it."""

    preset: str
    departures: tuple[str, ...]
    layers: tuple[int, ...]  # blocks per stage, as found
    convs_per_block: int
    input_shape: tuple[int, ...]

    @property
    def exact(self) -> bool:
        return not self.departures

    @property
    def verdict(self) -> str:
        if self.exact:
            return f"matches {self.preset} exactly"
        n = len(self.departures)
        return f"nearest preset: {self.preset}, with {n} departure{'s' if n > 1 else ''}"


def _preset_convs(spec: ResNetSpec) -> int:
    """Convs on the main path of a preset's widest block, as skeleton() counts them: the
    block's own, an SE gate's two 1x1s, a blur filter's depthwise conv where a block strides
    (ECA's 1-D conv is not a 2-D conv and is not counted)."""
    convs = BLOCK_TYPES[spec.block].branch_convs(spec.scale)
    return convs + 2 * (spec.attn is Attn.SE) + (spec.aa is AntiAlias.BLUR)


def _candidates(found: Skeleton) -> list[str]:
    """Presets with as many stages and the same block kind, nearest block counts first."""
    blocks = [b for s in found.stages for b in s]
    grouped = any(c.groups > 1 for b in blocks for c in b.main)
    stem_convs = sum(part.startswith("conv") for part in found.stem)
    first_width = found.stages[0][-1].out_ch if found.stages else 0

    def distance(name: str) -> tuple[int, int]:
        spec = PRESETS[name]
        kind = 0 if _preset_convs(spec) == found.convs_per_block else 100
        stages = 0 if len(spec.layers) == len(found.layers) else 50
        counts = sum(abs(a - b) for a, b in zip(spec.layers, found.layers, strict=False))
        # a ResNeSt block's split-attention conv is grouped by its radix too
        spec_grouped = spec.groups > 1 or (spec.block is Block.RESNEST and spec.radix > 1)
        groups = 0 if spec_grouped == grouped else 10
        stem = 0 if len(spec.stem_channels) == stem_convs or (stem_convs == 1 and spec.stem.value != "deep") else 5
        width = 0 if spec.stage_widths[0] * spec.expansion == first_width else 3
        return (kind + stages + counts + groups + stem + width, 0)

    ranked = sorted(PRESETS, key=distance)
    best = distance(ranked[0])
    return [n for n in ranked if distance(n) == best][:8]


def identify_module(
    model: nn.Module, input_shape: tuple[int, ...], reference: ResNetSpec | None = None,
    passes: Passes | None = None,
) -> StructureMatch:  # fmt: skip
    """The nearest preset to ``model`` by structure (or ``reference``, where given), and each
    departure from it in words; ``passes``: where the passes and presets come from (default:
    a pass of its own for each, see :class:`Passes`).

    >>> identify_module(my_model, (1, 3, 224, 224)).verdict   # doctest: +SKIP
    'matches resnet18 exactly'
    """
    from ..spec import spec_string

    passes = passes if passes is not None else _Fresh()
    found = skeleton_of(passes.graph(model, input_shape))
    shape = (input_shape[0], PRESETS["resnet50"].in_chans, *input_shape[2:])
    specs = {spec_string(reference): reference} if reference is not None else {n: PRESETS[n] for n in _candidates(found)}
    best: tuple[int, str, tuple[str, ...]] | None = None
    for name, spec in specs.items():
        ref_shape = (input_shape[0], spec.in_chans, *input_shape[2:]) if reference else shape
        ref = skeleton_of(passes.graph(passes.preset(spec), ref_shape))
        words = departures(found, ref, name, spec, input_shape)
        if best is None or len(words) < best[0]:
            best = (len(words), name, words)
        if not words:  # none can do better, and a tie keeps the first: the rest need no pass
            break
    assert best is not None
    return StructureMatch(best[1], best[2], found.layers, found.convs_per_block, tuple(input_shape))


def departures(
    found: Skeleton, ref: Skeleton, name: str, spec: ResNetSpec, input_shape: tuple[int, ...]
) -> tuple[str, ...]:
    """Every way ``found`` departs from the preset ``name`` (skeleton ``ref``), in words."""
    out: list[str] = []
    if not found.stages:
        out.append("no residual blocks: nowhere in its forward are two paths from one tensor added")
    if found.layers != ref.layers:
        out.append(f"blocks per stage {list(found.layers)} where {name} has {list(ref.layers)}")
    if found.stem != ref.stem:
        out.append(f"stem: {', '.join(found.stem) or 'none'} where {name} has {', '.join(ref.stem)}")
    widths = [s[-1].out_ch for s in found.stages]
    ref_widths = [s[-1].out_ch for s in ref.stages]
    if widths != ref_widths:
        out.append(f"stage output channels {widths} where {name} has {ref_widths}")
    out += _block_departures(found, ref, name, spec)
    out += _head_departures(found, ref, name, input_shape)
    return tuple(out)


def topic(departure: str) -> str:
    """What a departure from :func:`departures` is about, in the words reader's terms
    (``equivalence.words.Departure.topic``): "stem", "head", "pool", "stride", "shortcut",
    "norm"; "" for the layout (blocks, widths, kernels), which only the structure says."""
    prefixes = {"stem:": "stem", "head:": "head", "pooling:": "pool", "AvgPool2d(": "pool",
                "stride on ": "stride", "normalisation ": "norm"}  # fmt: skip
    found = next((t for p, t in prefixes.items() if departure.startswith(p)), "")
    if not found and " shortcut at " in departure:
        return "shortcut"
    return found


def _where(places: list[str], found: Skeleton | None = None) -> str:
    """``layer2.0 and layer3.0``; a whole stage as ``layer2``, every block as ``every block``."""
    if found is not None:
        everything = [f"layer{s}.{i}" for s, st in enumerate(found.stages, 1) for i in range(len(st))]
        if places == everything and len(places) > 1:
            return "every block"
        merged: list[str] = []
        for s, stage in enumerate(found.stages, 1):
            mine = [p for p in places if p.split(".")[0] == f"layer{s}"]
            merged += [f"layer{s}"] if len(mine) == len(stage) > 1 else mine
        places = merged
    return places[0] if len(places) == 1 else ", ".join(places[:-1]) + " and " + places[-1]


def _block_departures(found: Skeleton, ref: Skeleton, name: str, spec: ResNetSpec) -> list[str]:
    stride: dict[tuple[int | None, int | None], list[str]] = {}
    shortcut: dict[tuple[str, str], list[str]] = {}
    kernels: dict[tuple[str, str], list[str]] = {}
    widths: dict[tuple[str, str], list[str]] = {}
    norms: dict[tuple[str, str], list[str]] = {}
    for s, (mine, theirs) in enumerate(zip(found.stages, ref.stages, strict=False), start=1):
        for i, (a, b) in enumerate(zip(mine, theirs, strict=False)):
            where = f"layer{s}.{i}"
            if a.stride_index != b.stride_index and a.stride > 1:
                stride.setdefault((a.stride_index, b.stride_index), []).append(where)
            if a.shortcut != b.shortcut:
                shortcut.setdefault((a.shortcut, b.shortcut), []).append(where)
            ka, kb = "-".join(c.text() for c in a.main), "-".join(c.text() for c in b.main)
            if ka != kb:
                kernels.setdefault((ka, kb), []).append(where)
            elif _widths(a) != _widths(b):
                widths.setdefault((_widths(a), _widths(b)), []).append(where)
            if a.norms != b.norms:
                norms.setdefault((_norms(a), _norms(b)), []).append(where)
    out = []
    for (mine_i, ref_i), places in stride.items():
        out.append(_stride_words(found, ref, mine_i, ref_i) + f" at {_where(places, found)}")
    option = f"{name} (option {spec.shortcut.value})"
    for (mine_s, ref_s), places in shortcut.items():
        label = {"identity": "an identity", "projection": "a projection", "zero-pad": "a zero-padding (option A)",
                 "pooled projection": "an average-pooled projection (ResNet-D)"}  # fmt: skip
        has = "has none" if ref_s == "identity" else f"has {label[ref_s]} shortcut"
        out.append(f"{label[mine_s]} shortcut at {_where(places, found)} where {option} {has}")
    for (ka, kb), places in kernels.items():
        out.append(f"main path {ka} at {_where(places, found)} where {name} has {kb}")
    for (wa, wb), places in widths.items():
        out.append(f"main path widths {wa} at {_where(places, found)} where {name} has {wb}")
    for (na, nb), places in norms.items():
        out.append(f"normalisation {na} at {_where(places, found)} where {name} has {nb}")
    return out


def _norms(b: BlockShape) -> str:
    if not b.norms:
        return "none"
    kinds = list(dict.fromkeys(b.norms))
    return (f"{len(b.norms)} x {kinds[0]}" if len(kinds) == 1 else ", ".join(b.norms))


def _widths(b: BlockShape) -> str:
    """The main path's output channels, with groups: ``128-128(g32)-256``."""
    return "-".join(f"{c.out_ch}" + (f"(g{c.groups})" if c.groups > 1 else "") for c in b.main)


def _stride_words(found: Skeleton, ref: Skeleton, mine: int | None, theirs: int | None) -> str:
    block = next(b for s in found.stages for b in s if b.stride_index == mine)
    ref_block = next((b for s in ref.stages for b in s if b.stride_index == theirs), None)
    mine_conv = block.main[mine] if mine is not None else None
    if mine == 0 and theirs == 1 and len(block.main) == 3:
        return "stride on the first 1x1 (the paper's v1; torchvision strides on the 3x3)"
    own = f"conv {mine + 1} ({mine_conv.text()})" if mine is not None and mine_conv else "no conv"
    other = (f"conv {theirs + 1} ({ref_block.main[theirs].text()})"
             if theirs is not None and ref_block is not None else "no conv")  # fmt: skip
    return f"stride on {own} where the preset strides on {other}"


def _head_departures(found: Skeleton, ref: Skeleton, name: str, input_shape: tuple[int, ...]) -> list[str]:
    out = []
    if found.pool == "fixed" and ref.pool == "adaptive":
        k = found.pool_kernel or 0
        side = input_shape[-1] * k // found.last_spatial if found.last_spatial else None
        stage = f"layer{len(found.stages)}"
        fits = f" ({side}x{side})" if side else ""
        out.append(f"AvgPool2d({k}) instead of adaptive pooling: only inputs that reach {stage} "
                   f"at {k}x{k} work{fits}")  # fmt: skip
    elif found.pool != ref.pool:
        out.append(f"pooling: {found.pool or 'none'} where {name} has {ref.pool or 'none'}")
    if found.head != ref.head:
        out.append(f"head: {' + '.join(found.head) or 'none'} where {name} has {' + '.join(ref.head)}")
    return out
