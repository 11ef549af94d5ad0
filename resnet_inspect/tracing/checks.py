"""What the trace can say about the input size: sizes a network handles badly.

Two warnings, each a rule of this project:

- a stage whose output is 1x1: from there on its 3x3 convolutions see one pixel surrounded by
  padding (a 32x32 image through the ImageNet stem reaches layer4 at 1x1);
- an input side that is not a multiple of the output stride: every stride-2 layer on an odd
  size rounds up, so the feature grid no longer divides the image evenly and the last row
  and column of those layers see the padding (100 -> 50 -> 25 -> 13 -> 7 -> 4).
"""

from __future__ import annotations

from ..spec import Stem
from .records import Trace, stage_members


def input_warnings(trace: Trace) -> tuple[str, ...]:
    warnings = []
    h, w = trace.input_shape[-2:]
    size = f"{h}x{w}"
    stages = [r for r in stage_members(trace.layers) if r.stage.startswith("layer")]
    collapsed = next((r for r in stages if len(r.output_shape) == 4 and r.output_shape[-2:] == (1, 1)), None)
    if collapsed is not None:
        ours = trace.spec is not None and trace.spec.stem is not Stem.CIFAR
        hint = " (for small images: --stem cifar)" if ours else ""
        warnings.append(
            f"input {size}: {collapsed.name} outputs 1x1, so its 3x3 convolutions see one pixel "
            f"and padding{hint}"
        )
    stride = trace.totals.jump
    if stride is not None and stride > 1 and (h % stride or w % stride):
        grid = [size] + [f"{r.output_shape[-2]}x{r.output_shape[-1]}" for r in trace.layers
                         if r.depth == 1 and r.stage != "head" and len(r.output_shape) == 4]  # fmt: skip
        sides = " -> ".join(dict.fromkeys(grid))
        warnings.append(
            f"input {size} is not a multiple of the output stride {stride}: stride-2 layers round "
            f"odd sizes up ({sides}), and their last row and column see padding"
        )
    return tuple(warnings)
