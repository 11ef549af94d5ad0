"""What every network this tool builds offers, whatever its layout (module names).

The trace, bench's per-stage breakdown and the reports read a network through this class
only: its spec, its stages in order, and its forward cut at the stage boundaries.
"""

from __future__ import annotations

import torch
from torch import nn

from ..spec import ResNetSpec


class Network(nn.Module):
    """A network built from a spec. Subclasses build their children and define the three
    pieces of the forward; ``stage_names`` says which stage each top-level child belongs to
    (children registered in forward order)."""

    spec: ResNetSpec

    @property
    def stages(self) -> list[nn.Module]:
        """The residual stages, in order (``layer1``..``layerN`` where the layout names them so)."""
        raise NotImplementedError

    def stage_names(self) -> dict[str, str]:
        """Each top-level child's stage: those before the first residual stage are the stem,
        the stages are layer1..layerN, those after the last stage the head."""
        stages = {id(s): f"layer{i + 1}" for i, s in enumerate(self.stages)}
        names, seen_stage = {}, False
        for name, child in self.named_children():
            seen_stage = seen_stage or id(child) in stages
            names[name] = stages.get(id(child), "head" if seen_stage else "stem")
        return names

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.forward_stem(x)
        for stage in self.stages:
            x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
