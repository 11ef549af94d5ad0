"""Typer's coercion of option values without pydantic where the answer is already known.

typer 0.29 coerces every parameter through a pydantic ``TypeAdapter``, built on the
parameter's first use, whether or not the user gave it: a cold ``summary`` imported pydantic
(about 50 ms) and built 50 adapters to turn ``None`` into ``None`` and ``"resnet50"`` into
``"resnet50"``. :func:`coerce_natively` gives each parameter a coercion that answers the cases
whose result is not in doubt, as the adapter would, and hands every other value to typer's own
(built, and pydantic imported, on first need):

- ``None``: ``()`` for a parameter that takes many values, else ``None`` (typer's own rule,
  before any adapter);
- a ``str`` value of a ``str`` parameter, and an ``int`` (``float``, ``bool``) value of an
  ``int`` (``float``, ``bool``) parameter: unchanged (a default, or what the parser made);
- a string of up to 18 ASCII digits, with an optional sign, for an ``int`` parameter: its
  value (pydantic's lax integer parsing accepts these and means the same number);
- the strings given to a ``list[str]`` argument: a list of them.

A parameter with a parser, bounds or a file type is left to typer. With a typer that coerces
without pydantic (before 0.25), parameters have no runtime coercion and nothing changes.
"""

from __future__ import annotations

import re
from typing import Any, get_args, get_origin

_PLAIN_INT = re.compile(r"[+-]?[0-9]{1,18}")
_EXACT = (str, int, float, bool)  # a value of exactly the parameter's type passes unchanged


class _NativeFirst:
    """One parameter's coercion: the plain cases here, the rest by typer's own, made lazily."""

    def __init__(self, param: Any) -> None:
        descriptor = param.type_descriptor
        self.descriptor = descriptor
        self.annotation = descriptor.annotation
        self.multi = bool(param.multiple or param.nargs == -1)
        self.str_list = get_origin(self.annotation) is list and get_args(self.annotation) == (str,)
        self._typers: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:
            return () if self.multi else None
        annotation = self.annotation
        if not self.multi:
            if annotation in _EXACT and type(value) is annotation:
                return value
            if annotation is int and type(value) is str and _PLAIN_INT.fullmatch(value):
                return int(value)
        elif self.str_list and type(value) in (tuple, list) and all(type(v) is str for v in value):
            return list(value)
        return self._typer().coerce(value, param=param, ctx=ctx)

    def _typer(self) -> Any:
        if self._typers is None:
            from typer._coercion import build_runtime_param

            self._typers = build_runtime_param(self.descriptor)
        return self._typers


def _plain(param: Any) -> bool:
    """Whether a parameter's coercion depends on its type alone (no parser, bounds, file)."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or not hasattr(param, "_runtime_param"):
        return False  # a typer without per-parameter runtime coercion
    info = descriptor.parameter_info
    plain_info = all(getattr(info, name, None) is None for name in ("parser", "min", "max"))
    return plain_info and not getattr(info, "clamp", False) and descriptor.file_annotation is None


def coerce_natively(params: list[Any]) -> None:
    """Give each plain parameter that typer has not yet given a coercion :class:`_NativeFirst`."""
    for param in params:
        if _plain(param) and param._runtime_param is None:
            param._runtime_param = _NativeFirst(param)
