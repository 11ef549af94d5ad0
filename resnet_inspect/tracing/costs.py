"""The cost table: one entry per operator, everything the trace knows about it.

Each :class:`Operator` says which torch functions compute it, its closed-form output shape
on the meta device, its MACs and FLOPs, its kernel geometry, its effect on the receptive
field and what autograd keeps of it for backward. The trace, ``flops --help``, the
operator table's "FLOPs rule" column and docs/counting.md's table all read this table.

Two quantities, never mixed up:

* **MACs**: multiply-accumulates of convolution and linear layers only (the convention of
  the ResNet paper, torchvision's published ``_ops`` and fvcore's "flops").
* **FLOPs**: every floating-point operation of an inference forward pass.

An operator without an entry is never silently 0: the trace counts it with torch's own FLOP
counter and marks it as counted that way, or, where that counter has no formula either,
lists it as uncounted (see :mod:`.recorder`). Importing this module does not import torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from . import shapes

Shape = tuple[int, ...]
RF = tuple[int | None, int | None]  # receptive field in input pixels, jump; None once global
GLOBAL: RF = (None, None)


class Saves(str, Enum):
    """What autograd keeps of one call for backward (the training-memory estimate)."""

    NOTHING = "nothing"
    INPUT = "input"
    INPUTS = "inputs"  # both operands: a product of two activations (matmul)
    OUTPUT = "output"
    INPUT_AND_INDICES = "input and int64 indices"  # max-pool


@dataclass(frozen=True)
class Call:
    """One call of an operator as the trace saw it: shapes and arguments, no tensors."""

    operator: str
    input_shapes: tuple[Shape, ...]  # the tensor arguments, in order
    output_shape: Shape
    args: Mapping[str, Any] = field(default_factory=dict)  # other arguments, by name

    @property
    def output_numel(self) -> int:
        return math.prod(self.output_shape) if self.output_shape else 0

    @property
    def input_numel(self) -> int:
        return math.prod(self.input_shapes[0]) if self.input_shapes else 0


@dataclass(frozen=True)
class Geometry:
    kernel: int | None = None
    stride: int | None = None
    dilation: int | None = None
    groups: int | None = None
    padding: int | None = None


def _zero(_call: Call) -> int:
    return 0


def _first(v: Any) -> int:
    # every kernel, stride and dilation in a ResNet is square
    return int(v) if isinstance(v, int) else int(v[0])


@dataclass(frozen=True)
class Operator:
    name: str  # "convolution": the name tables and JSON use
    functions: tuple[str, ...]  # torch functions that compute it, by qualified name
    signature: tuple[str, ...]  # their argument names, to read positional arguments
    rule: str  # the FLOPs rule, as tables and --help state it
    macs: Callable[[Call], int] = _zero
    flops: Callable[[Call], int] = _zero
    shape: Callable[..., Any] | None = None  # closed-form output shape on the meta device
    geometry: Callable[[Call], Geometry] | None = None  # a window's kernel, stride, dilation
    global_receptive_field: bool = False  # its output sees the whole input (global pooling)
    reduction: bool = False  # a reduction over ``dim``: global only where ``dim`` is spatial
    saves: Saves = Saves.NOTHING
    listed: bool = True  # False: moves or views data, no arithmetic; not a row of the table

    def receptive(self, call: Call, rf: RF) -> RF:
        """The receptive field and jump of the output, from those of the (merged) input."""
        size, jump = rf
        if self.global_receptive_field or size is None or jump is None:
            return GLOBAL
        if self.reduction and _reduces_spatial(call):
            return GLOBAL
        if self.geometry is None:
            return rf
        g = self.geometry(call)
        if g.kernel is None:  # strided indexing: subsamples without widening
            return (size, jump * (g.stride or 1))
        span = (g.dilation or 1) * (g.kernel - 1) + 1
        return (size + (span - 1) * jump, jump * (g.stride or 1))


# --- the rules -------------------------------------------------------------------------------
def _conv_macs(c: Call) -> int:
    # each output element: in_channels/groups x kernel area multiply-adds (torch.utils.flop_counter's
    # conv formula, halved to MACs); the weight's shape is out x in/groups x kh x kw
    weight = c.input_shapes[1]
    return c.output_numel * math.prod(weight[1:])


def _bias(c: Call) -> int:
    return c.output_numel if c.args.get("bias") is not None else 0


def _conv_geometry(c: Call) -> Geometry:
    return Geometry(kernel=c.input_shapes[1][-1], stride=_first(c.args.get("stride", 1)),
                    dilation=_first(c.args.get("dilation", 1)), groups=int(c.args.get("groups", 1)),
                    padding=_padding(c))  # fmt: skip


def _pool_geometry(c: Call) -> Geometry:
    k = _first(c.args["kernel_size"])
    stride = c.args.get("stride") or k  # torch: stride defaults to the kernel
    return Geometry(kernel=k, stride=_first(stride), dilation=_first(c.args.get("dilation", 1)),
                    padding=_padding(c))


def _padding(c: Call) -> int | None:
    """Zeros added on each side; None for a string mode ('same') torch resolves itself."""
    pad = c.args.get("padding", 0)
    return None if isinstance(pad, str) else _first(pad)


def _linear_macs(c: Call) -> int:
    weight = c.input_shapes[1]  # out_features x in_features
    rows = math.prod(c.input_shapes[0][:-1])
    return rows * weight[0] * weight[1]


def _matmul_macs(c: Call) -> int:
    """a @ b: each output element sums the shared dimension, a's last (the attention pool's
    scores q @ k^T and its weighted sum of the values)."""
    return c.output_numel * c.input_shapes[0][-1]


def _slice_geometry(c: Call) -> Geometry:
    """x[:, :, ::s, ::s]: a subsampling by the step of the last index (option-A shortcuts)."""
    index = c.args.get("index")
    steps = [s.step for s in (index if isinstance(index, tuple) else (index,))
             if isinstance(s, slice) and s.step]  # fmt: skip
    return Geometry(stride=int(steps[-1]) if steps else 1)


def _reduces_spatial(c: Call) -> bool:
    """Whether a reduction (mean, sum) takes in the spatial dimensions, the last two of a
    tensor of rank 4 or more (N, C, H, W; N, paths, C, H, W): all of them where ``dim`` is None."""
    rank = len(c.input_shapes[0]) if c.input_shapes else 0
    dim = c.args.get("dim")
    if rank < 4:
        return False  # no spatial dimensions left to reduce (a gate's N x C or N x 1 x C)
    if dim is None:
        return True
    dims = {int(d) % rank for d in ((dim,) if isinstance(dim, int) else dim)}
    return bool(dims & {rank - 1, rank - 2})


def _summed_away(c: Call) -> int:
    """n - 1 additions for each output of n inputs: the input's elements less the output's."""
    return max(c.input_numel - c.output_numel, 0)


def _per_output(n: int) -> Callable[[Call], int]:
    return lambda c: n * c.output_numel


_F, _T, _TEN = "torch.nn.functional.", "torch.", "torch.Tensor."
CONV_ARGS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
POOL_ARGS = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
AVG_ARGS = ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
UNARY = ("input",)
BINARY = ("input", "other")

OPERATORS: tuple[Operator, ...] = (
    Operator(
        "convolution", (f"{_F}conv2d", f"{_T}conv2d"), CONV_ARGS, "2/MAC, +1/output if bias",
        macs=_conv_macs, flops=lambda c: 2 * _conv_macs(c) + _bias(c), shape=shapes.conv2d,
        geometry=_conv_geometry, saves=Saves.INPUT,
    ),
    Operator(
        "linear", (f"{_F}linear",), ("input", "weight", "bias"), "2/MAC, +1/output (bias)",
        macs=_linear_macs, flops=lambda c: 2 * _linear_macs(c) + _bias(c), shape=shapes.linear,
        global_receptive_field=True, saves=Saves.INPUT,
    ),
    Operator(
        "batch_norm", (f"{_F}batch_norm",), UNARY, "2/element (scale, shift)",
        flops=_per_output(2), shape=shapes.same, saves=Saves.INPUT,
    ),
    Operator(  # BiT's convs standardise their filters through torch.batch_norm (model/layers.py)
        "weight_standardization", (f"{_T}batch_norm",), UNARY,
        "6/weight element (mean, variance, normalise)", flops=_per_output(6), shape=shapes.same,
        saves=Saves.OUTPUT,  # the standardised filters, which the conv keeps (its input: the weight)
    ),
    Operator(
        "group_norm", (f"{_F}group_norm",), ("input", "num_groups"), "8/element",
        flops=_per_output(8), shape=shapes.group_norm, saves=Saves.INPUT,
    ),
    Operator(
        "relu", (f"{_F}relu", f"{_T}relu", f"{_TEN}relu"), ("input", "inplace"), "1/element",
        flops=_per_output(1), shape=shapes.relu, saves=Saves.OUTPUT,
    ),
    Operator(
        "relu", (f"{_T}relu_", f"{_TEN}relu_"), UNARY, "1/element",
        flops=_per_output(1), shape=shapes.in_place, saves=Saves.OUTPUT,
    ),
    Operator(
        "max_pool", (f"{_F}max_pool2d", f"{_T}max_pool2d"), POOL_ARGS, "k*k-1 per output",
        flops=lambda c: c.output_numel * (_pool_geometry(c).kernel ** 2 - 1),  # type: ignore[operator]
        shape=shapes.max_pool2d, geometry=_pool_geometry, saves=Saves.INPUT_AND_INDICES,
    ),
    Operator(
        "avg_pool", (f"{_F}avg_pool2d",), AVG_ARGS, "k*k per output; global: 1/input",
        flops=lambda c: c.output_numel * _first(c.args["kernel_size"]) ** 2,
        shape=shapes.avg_pool2d, geometry=_pool_geometry,
    ),
    Operator(
        "avg_pool", (f"{_F}adaptive_avg_pool2d",), ("input", "output_size"),
        "k*k per output; global: 1/input", flops=lambda c: c.input_numel,
        shape=shapes.adaptive_avg_pool2d, global_receptive_field=True,
    ),
    Operator(
        "add", (f"{_TEN}__add__", f"{_TEN}add", f"{_T}add"), BINARY, "1/element (residual sum)",
        flops=_per_output(1), shape=shapes.add,
    ),
    Operator(  # out += identity, as hand-written blocks often sum
        "add", (f"{_TEN}__iadd__", f"{_TEN}add_"), BINARY, "1/element (residual sum)",
        flops=_per_output(1), shape=shapes.in_place,
    ),
    Operator(
        "pad", (f"{_F}pad", f"{_T}_C._nn.pad"), ("input", "pad"), "0 (moves data)", shape=shapes.pad,
    ),
    Operator(
        "slice", (f"{_TEN}__getitem__",), ("input", "index"), "0 (a view)", shape=shapes.getitem,
        geometry=_slice_geometry, listed=False,
    ),
    Operator(
        "reshape", (f"{_T}flatten", f"{_TEN}flatten"),
        ("input", "start_dim", "end_dim"), "0 (a view)", shape=shapes.flatten, listed=False,
    ),
    Operator(  # x.view(n, -1), as hand-written heads flatten: its own rule, not flatten's
        "reshape", (f"{_TEN}view", f"{_TEN}reshape", f"{_T}reshape"), ("input", "shape"),
        "0 (a view)", shape=shapes.view, listed=False,
    ),
    Operator(
        "reshape", (f"{_TEN}contiguous",), ("input",), "0 (a view)", shape=shapes.same, listed=False,
    ),
    Operator(
        "reshape", (f"{_TEN}expand_as", f"{_TEN}expand"), UNARY, "0 (a view)", listed=False,
    ),
    # channel attention (squeeze-excitation, ECA): a global mean, a gate, a per-channel product
    Operator(
        "mean", (f"{_TEN}mean", f"{_T}mean"), ("input", "dim", "keepdim"),
        "1/input element (global average)", flops=lambda c: c.input_numel, shape=shapes.mean,
        reduction=True,  # over H and W: global; over channels or branches: the field is kept
    ),
    Operator(
        "conv1d", (f"{_F}conv1d", f"{_T}conv1d"), CONV_ARGS, "2/MAC, +1/output if bias",
        macs=_conv_macs, flops=lambda c: 2 * _conv_macs(c) + _bias(c), shape=shapes.conv1d,
        saves=Saves.INPUT,  # across channels (ECA): no spatial window, the field is unchanged
    ),
    Operator(
        "sigmoid", (f"{_T}sigmoid", f"{_TEN}sigmoid", f"{_F}sigmoid"), UNARY,
        "4/element (negate, exp, add, divide)", flops=_per_output(4), shape=shapes.same,
        saves=Saves.OUTPUT,
    ),
    Operator(
        "mul", (f"{_TEN}__mul__", f"{_TEN}mul", f"{_T}mul"), BINARY, "1/element (gate x channels)",
        flops=_per_output(1), shape=shapes.add, saves=Saves.INPUT,
    ),
    # multi-branch blocks (Res2Net, ResNeSt, selective kernels): a tensor split into branches,
    # the branches stacked or concatenated again, summed, and weighted by a softmax across them
    Operator(
        "split", (f"{_T}split", f"{_TEN}split", f"{_T}chunk", f"{_TEN}chunk", f"{_T}unbind",
                  f"{_TEN}unbind"),
        ("input", "split_size_or_sections", "dim"), "0 (views)", listed=False,
    ),
    Operator(
        "reshape", (f"{_TEN}transpose", f"{_T}transpose", f"{_TEN}permute", f"{_T}permute"),
        UNARY, "0 (a view)", listed=False,
    ),
    Operator(
        "cat", (f"{_T}cat", f"{_T}concat", f"{_T}concatenate", f"{_T}stack"), ("tensors", "dim"),
        "0 (moves data)",
    ),
    Operator(
        "sum", (f"{_TEN}sum", f"{_T}sum"), ("input", "dim", "keepdim"),
        "n-1 per output of n summed (branches, or a global sum)", flops=_summed_away,
        shape=shapes.mean, reduction=True,
    ),
    # CLIP's attention pool (head=attn): scores and the weighted sum are matrix products,
    # multiply-accumulates as a linear layer's (fvcore counts them too)
    Operator(
        "matmul", (f"{_T}matmul", f"{_TEN}__matmul__", f"{_TEN}matmul"), BINARY,
        "2/MAC", macs=_matmul_macs, flops=lambda c: 2 * _matmul_macs(c), shape=shapes.matmul,
        global_receptive_field=True, saves=Saves.INPUTS,
    ),
    Operator(
        "softmax", (f"{_T}softmax", f"{_TEN}softmax", f"{_F}softmax"), ("input", "dim"),
        "5/element (max, subtract, exp, sum, divide)", flops=_per_output(5), shape=shapes.same,
        saves=Saves.OUTPUT,
    ),
    # the norms of pre-activation ResNets: EvoNorm-S0's group variance, FRN's mean square
    # and TLU (statistics over the plane: the field follows the normalised tensor, as for a norm)
    Operator(
        "var", (f"{_TEN}var", f"{_T}var"), ("input", "dim"),
        "3/input element (mean, squared deviation, sum)", flops=lambda c: 3 * c.input_numel,
        global_receptive_field=True, saves=Saves.INPUT,
    ),
    Operator(
        "sqrt", (f"{_T}sqrt", f"{_TEN}sqrt", f"{_T}rsqrt", f"{_TEN}rsqrt"), UNARY, "1/element",
        flops=_per_output(1), shape=shapes.same, saves=Saves.OUTPUT,
    ),
    Operator(
        "div", (f"{_TEN}__truediv__", f"{_TEN}div", f"{_T}div"), BINARY, "1/element",
        flops=_per_output(1), shape=shapes.add, saves=Saves.INPUT,
    ),
    Operator(
        "maximum", (f"{_T}maximum", f"{_TEN}maximum"), BINARY, "1/element (FRN's TLU)",
        flops=_per_output(1), shape=shapes.add, saves=Saves.INPUT,
    ),
)  # fmt: skip
# an operator may have several entries (window and adaptive pooling, in-place ReLU): one name
RULES: dict[str, str] = {op.name: op.rule for op in reversed(OPERATORS)}
LISTED = tuple(dict.fromkeys(op.name for op in OPERATORS if op.listed))
FALLBACK_RULE = "torch's FLOP counter (no rule here)"


def rules_text() -> str:
    """The FLOPs rules as one paragraph, for ``flops --help``."""
    parts = "; ".join(f"{name} {RULES[name]}" for name in LISTED)
    return (
        "MACs: multiply-accumulates of convolution and linear layers (the paper's and "
        "torchvision's convention; fvcore calls them flops). FLOPs: every floating-point "
        f"operation, by operator: {parts}. An operator without a rule is counted by torch's "
        "FLOP counter and marked, or listed as uncounted."
    )


def bind(op: Operator, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Positional and keyword arguments of a call, by name."""
    named = dict(zip(op.signature, args, strict=False))
    named.update(kwargs)
    return named
