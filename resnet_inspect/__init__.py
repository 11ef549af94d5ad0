"""resnet-inspect: build any ResNet variant from flags, then inspect, count, compare and time it.

The public API mirrors the command line::

    from resnet_inspect import build, trace
    model = build("resnet50", groups=32, width_per_group=4)
    t = trace("resnext50_32x4d", input_shape=(1, 3, 224, 224))

Importing this package does not import torch; the functions below do, on first call.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

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
    "diff",
    "flops",
    "identify",
    "resolve",
    "summary",
    "trace",
]

_API = ("summary", "flops", "diff", "identify", "bench")
_BOTH = {"diff": "tracediff", "bench": "benchmark"}  # API functions, and the modules they proxied


class _Entry:
    """``resnet_inspect.diff`` / ``.bench``: callable as the API function
    (``resnet_inspect.diff("resnet18", model)``) and still the module for everything else
    (``from resnet_inspect import bench; bench.plan(...)``)."""

    def __init__(self, name: str, module: types.ModuleType) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "__doc__", getattr(_api(), name).__doc__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(_api(), self._name)(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._module, attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(self._module, attr, value)

    def __dir__(self) -> list[str]:
        return dir(self._module)

    def __repr__(self) -> str:
        return f"<resnet_inspect.{self._name}: the function, and the module {self._module.__name__}>"


def _api() -> types.ModuleType:
    return importlib.import_module(".api", __name__)


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _BOTH and isinstance(value, types.ModuleType):  # the import system binding it
            value = _Entry(name, value)
        super().__setattr__(name, value)


def __getattr__(name: str) -> Any:
    """summary, flops, diff, identify and bench (resnet_inspect.api) load on first use."""
    if name in _BOTH:
        return _Entry(name, importlib.import_module(f".{_BOTH[name]}", __name__))
    if name in _API:
        return getattr(_api(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


sys.modules[__name__].__class__ = _Package
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
