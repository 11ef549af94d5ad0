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
    pieces of the forward; ``stage_map`` says which stage each module belongs to."""

    spec: ResNetSpec

    @property
    def stages(self) -> list[nn.Module]:
        """The residual stages, in order (``layer1``..``layerN`` where the layout names them so)."""
        raise NotImplementedError

    def stage_map(self) -> dict[str, str]:
        """The stage of every module, by its state-dict path: "stem", "layer1".."layerN" (the N
        stages, whatever the layout names them) or "head"; "" for a container that holds several
        stages (resnetv2's ``stages``). Stage rows of every report read this.

        A module inside the i-th of ``stages`` is in layer{i}; one outside every stage is in
        the stem when its top-level child is registered before the first stage's (children
        are registered in forward order), else in the head."""
        where = {id(s): f"layer{i + 1}" for i, s in enumerate(self.stages)}
        stage_paths = {name: where[id(m)] for name, m in self.named_modules() if id(m) in where}
        tops = [name for name, _ in self.named_children()]
        first = min(tops.index(p.split(".", 1)[0]) for p in stage_paths)
        result: dict[str, str] = {}
        for path, _ in self.named_modules():
            if not path:
                continue
            inside = next((s for p, s in stage_paths.items() if path == p or path.startswith(p + ".")), None)
            if inside is not None:
                result[path] = inside
            elif any(p.startswith(path + ".") for p in stage_paths):
                result[path] = ""  # a container of several stages
            else:
                result[path] = "stem" if tops.index(path.split(".", 1)[0]) < first else "head"
        return result

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
