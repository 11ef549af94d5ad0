"""What a trace produces: frozen records, one per module, the totals and the operators."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from ..spec import ResNetSpec


@functools.cache
def block_type_names() -> frozenset[str]:
    """Class names of the registered block types (the trace's rows carry class names)."""
    from ..model.registry import BLOCKS, PREACT_BLOCKS

    return frozenset(cls.__name__ for cls in (*BLOCKS.values(), *PREACT_BLOCKS.values()))


@dataclass(frozen=True)
class LayerRecord:
    """One module of the traced model. Counts (params, macs, flops) include the submodules."""

    name: str  # state-dict style path: "layer1.0.conv1"
    type: str  # class name: "Conv2d", "Bottleneck", ...
    depth: int  # 1 for the model's direct children
    stage: str  # "stem", "layer1".."layerN" or "head"
    is_leaf: bool
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    trainable_params: int
    macs: int  # multiply-accumulates of convolution and linear layers
    flops: int  # every floating-point operation (see trace/costs.py)
    operator: str | None  # what this module itself computes: "convolution", "add", ...
    self_flops: int  # FLOPs of ``operator`` alone, without the submodules
    output_bytes: int
    receptive_field: int | None  # in input pixels; None once pooled globally
    jump: int | None  # effective stride: input pixels between adjacent outputs
    kernel: int | None = None
    stride: int | None = None
    dilation: int | None = None
    groups: int | None = None
    padding: int | None = None
    # forward calls in the pass: a module used several times (one ReLU for a whole block, as
    # hand-written blocks do) is one row; its costs are summed over the calls, its shapes and
    # receptive field are the last call's
    calls: int = 1

    @property
    def type_label(self) -> str:
        """The class name, with the number of calls where there were several: ``ReLU x3``."""
        return self.type if self.calls <= 1 else f"{self.type} x{self.calls}"

    @property
    def is_block(self) -> bool:
        return self.type in block_type_names()

    @property
    def ran(self) -> bool:
        """Whether the pass called this module itself. A container of branches (a Res2Net
        block's ``convs``, a ModuleList) is not: its parent calls its children one by one, so
        it has no shapes and no receptive field of its own, only their sums."""
        return self.calls > 0


@dataclass(frozen=True)
class OperatorTotal:
    operator: str
    count: int
    macs: int
    flops: int
    rule: str  # how its FLOPs were counted: the cost table's rule, or the fallback's name


@dataclass(frozen=True)
class Totals:
    params: int
    trainable_params: int
    macs: int
    flops: int
    param_bytes: int
    activation_bytes: int  # sum of every module's output (leaves only)
    peak_activation_bytes: int  # inference estimate, see peak_activations()
    training_activation_bytes: int  # what autograd keeps for backward, see saved_for_backward()
    receptive_field: int | None  # of the last stage (or spatial output), in input pixels;
    jump: int | None  # and its output stride; None where the pass could not follow them


@dataclass(frozen=True)
class OutputRecord:
    """One value the forward returns: the whole return value (``path`` "") or one leaf of the
    tuple, list or dict it returns (``[0]``, ``['p3']``, ``[1]['boxes']``)."""

    path: str
    shape: tuple[int, ...] | None  # None: not a tensor (``type`` says what it is)
    type: str  # "Tensor", or the class name of what is not one: "int", "NoneType", ...


@dataclass(frozen=True)
class Trace:
    spec: ResNetSpec | None  # None for a model that is not one of ours (see ``arch``)
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    dtype: str
    layers: tuple[LayerRecord, ...]
    totals: Totals
    operators: tuple[OperatorTotal, ...]
    uncounted: tuple[str, ...] = ()  # operators no rule or fallback could count: not in the totals
    # operators with no rule that change the spatial size: the receptive field after them is
    # assumed global (shown as such), because nothing says how they widen it
    field_assumed_global_after: tuple[str, ...] = ()
    arch: str = ""  # what the user named: "my_resnet.py:ResNet50" (empty for a spec)
    executed: tuple[str, ...] = ()  # the leaf modules, in the order the forward ran them
    # every value the forward returned (``output_shape`` is the first tensor's); empty for None
    outputs: tuple[OutputRecord, ...] = ()
    # why the pass ran on the CPU with real tensors instead of the meta device ("" where it
    # did not): the forward's control flow depends on values, or an operator has no meta kernel
    real_pass_reason: str = ""

    @property
    def label(self) -> str:
        """The spec string for one of ours, else what the user named the model."""
        if self.spec is not None:
            from ..spec import spec_string

            return spec_string(self.spec)
        return self.arch or "model"

    def at_depth(self, depth: int) -> list[LayerRecord]:
        return [r for r in self.layers if r.depth <= depth]

    def by_name(self) -> dict[str, LayerRecord]:
        return {r.name: r for r in self.layers}

    def stages(self) -> list[LayerRecord]:
        """One aggregate row per stage: stem, layer1..layerN, head."""
        return stage_rows(self)


def stage_of(name: str) -> str:
    top = name.split(".", 1)[0]
    if top.startswith("layer"):
        return top
    return "head" if top in ("avgpool", "fc") else "stem"


def stage_members(layers: tuple[LayerRecord, ...]) -> list[LayerRecord]:
    """The outermost modules of each stage: those whose parent is the model or a module of
    another stage (or of several: resnetv2's ``stages``, whose stage is "")."""
    stage_by_name = {r.name: r.stage for r in layers}
    return [r for r in layers if r.stage and stage_by_name.get(r.name.rpartition(".")[0]) != r.stage]


def stage_rows(trace: Trace) -> list[LayerRecord]:
    """stem, layer1..layerN and head as single rows, each summing its modules."""
    rows: list[LayerRecord] = []
    outermost = stage_members(trace.layers)
    for stage in dict.fromkeys(r.stage for r in outermost):
        members = [r for r in outermost if r.stage == stage]
        last = members[-1]
        rows.append(
            dataclasses.replace(
                last,
                name=stage,
                depth=1,
                type="stage" if stage.startswith("layer") else stage,
                input_shape=members[0].input_shape,
                params=sum(r.params for r in members),
                trainable_params=sum(r.trainable_params for r in members),
                macs=sum(r.macs for r in members),
                flops=sum(r.flops for r in members),
                operator=None,
                self_flops=0,
                is_leaf=False,
                calls=1,
            )
        )
    return rows
