"""resnet-inspect: build any ResNet variant from flags, then inspect, count, compare and time it.

The public API mirrors the command line::

    from resnet_inspect import build, trace
    model = build("resnet50", groups=32, width_per_group=4)
    t = trace("resnext50_32x4d", input_shape=(1, 3, 224, 224))

Importing this package does not import torch; the functions below do, on first call. The
machinery behind them lives in modules named apart from the functions (``tracediff``,
``benchmark``), so importing a submodule never rebinds a public name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# api imports no torch at module level (its functions do, on first call), so the package can
# hand out the real functions: help() and inspect.signature() see their parameters.
from .api import bench, convert, diff, flops, identify, summary
from .errors import InspectError, RuntimeFailure, SpecError
from .spec import PRESETS, ResNetSpec, resolve

if TYPE_CHECKING:
    from torch import nn

    from .tracing import Trace

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "InspectError",
    "ResNetSpec",
    "RuntimeFailure",
    "SpecError",
    "__version__",
    "bench",
    "build",
    "convert",
    "diff",
    "flops",
    "identify",
    "resolve",
    "summary",
    "trace",
]


def build(arch: str | ResNetSpec | None = None, device: Any = None, **overrides: Any) -> nn.Module:
    """Build a variant: ``build("resnet50", groups=32)``, ``build(spec)`` or ``build(block="basic")``."""
    from .model import build_model

    return build_model(resolve(arch, **overrides), device=device)


def trace(
    arch: str | ResNetSpec | None = None,
    input_shape: tuple[int, int, int, int] | None = None,
    **overrides: Any,
) -> Trace:
    """Trace a variant on the meta device: shapes, parameters, MACs/FLOPs per module."""
    from .tracing import trace_spec

    return trace_spec(resolve(arch, **overrides), input_shape)
