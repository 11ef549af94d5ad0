"""What every command shares: the architecture flags generated from the spec's fields, the
common options, ARCH as a spec or the user's code, and emitting a report."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Optional, get_type_hints

import typer

from ..errors import SpecError, UsageError
from ..render import (
    can_encode,
    render,
)
from ..report.document import Report
from ..spec import DEFAULT_ARCH, parse_field, parse_input_shape
from ..spec import FIELDS as SPEC_FIELDS
from ..units import printable
from .app import _SHOW_TRACEBACK, ARCH_PANEL
from .output import STDOUT, check_output_path, choose_format, write_atomic
from .process import notice, sane_columns, writing_stdout

if TYPE_CHECKING:
    from ..sources import Source

# --- the architecture flags, shared by every command: generated from the spec's fields ----------
FLAG_OF = {f.name: f.metadata["flag"].split("/")[0] for f in SPEC_FIELDS}


@functools.cache
def _spec_parameters() -> tuple[inspect.Parameter, ...]:
    """One keyword parameter per spec field. Made once and shared by the commands (typer
    copies an option's settings before it changes them): each call cost about 1 ms."""
    params = []
    for f in SPEC_FIELDS:
        meta = f.metadata
        is_bool = f.type in ("bool", bool)
        option = typer.Option(meta["flag"], help=meta["help"], metavar=meta["metavar"],
                              rich_help_panel=ARCH_PANEL, show_default=False)  # fmt: skip
        kind = Optional[bool] if is_bool else Optional[str]
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation=Annotated[kind, option]))  # fmt: skip
    return tuple(params)


def spec_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add every architecture flag to a command; it receives them as ``overrides``."""
    names = [p.name for p in _spec_parameters()]
    hints = get_type_hints(func, include_extras=True)
    sig = inspect.signature(func)
    own = [p.replace(annotation=hints.get(p.name, p.annotation))
           for p in sig.parameters.values() if p.name != "overrides"]  # fmt: skip
    params = own + list(_spec_parameters())

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        given = {n: kwargs.pop(n, None) for n in names}
        overrides = {n: v for n, v in given.items() if v is not None}
        return func(overrides=overrides, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    del wrapper.__wrapped__  # typer must see the new signature, not the original
    return wrapper


# --- shared options ------------------------------------------------------------------------------
USER_CODE_HELP = (
    "Or your own model: FILE.py:NAME or module.path:NAME, an nn.Module subclass or a function "
    "returning one, with optional arguments (literals, and names the file defines): "
    "my_resnet.py:ResNet50(num_classes=10), my_resnet.py:ResNet(Bottleneck, [3, 4, 6, 3]); or an "
    "nn.Module instance the file makes (my_resnet.py:resnet). This imports and so RUNS that file, "
    "as python would; what it prints goes to stderr."
)
ArchArg = Annotated[
    Optional[str],
    typer.Argument(
        metavar="[ARCH]",
        help=f"A preset (resnet50, resnext50_32x4d, ...; see `list`) or a spec string like "
        f"resnet50:groups=32,width_per_group=4. {USER_CODE_HELP} Default: {DEFAULT_ARCH}.",
        show_default=False,
    ),
]


def _traceback_flag(value: bool) -> bool:
    _SHOW_TRACEBACK[0] = _SHOW_TRACEBACK[0] or value
    return value


TracebackOpt = Annotated[
    bool,
    typer.Option("--traceback", callback=_traceback_flag, is_eager=True, metavar="",
                 help="When your own model's code fails, show its traceback too."),
]
InputOpt = Annotated[
    Optional[str],
    typer.Option("--input", "-i", metavar="BxCxHxW", help="Input shape BxCxHxW. Default 1 x in_chans x 224 x 224 "
                 "(32 x 32 for the CIFAR stem).", show_default=False),
]
DepthOpt = Annotated[
    int, typer.Option("--depth", "-d", metavar="N", help="Rows down to this depth: 1 stem/stages, 2 blocks, 3 layers.")
]
DtypeOpt = Annotated[
    str, typer.Option("--dtype", metavar="DTYPE", help="Element type for memory figures: float32, float16, bfloat16.")
]
FormatOpt = Annotated[
    Optional[str],
    typer.Option("--format", "-f", metavar="FORMAT", help="table, json, csv, markdown, svg or html. Default: from "
                 "the --output extension, else table.", show_default=False),
]
OutputOpt = Annotated[
    Optional[str],
    typer.Option("--output", "-o", metavar="FILE", help="Write to this file (atomically) instead of stdout.",
                 show_default=False),
]

ExactOpt = Annotated[
    bool, typer.Option("--exact", metavar="", help="Whole numbers in tables (25,557,032) instead "
                       "of 25.6 M. JSON and CSV are always exact.")
]
WeightsOpt = Annotated[
    Optional[str],
    typer.Option("--weights", "-w", metavar="FILE", help="A checkpoint (.pth, .pt, .bin, "
                 ".safetensors) that must load strictly into the variant; read as data, never "
                 "as code.", show_default=False),
]


def open_arch(arch: str | None, overrides: dict[str, Any], **how: Any) -> Source:
    """ARCH plus flag overrides as a Source (see :func:`~resnet_inspect.sources.open_source`,
    which ``how`` goes to); the flags' own mistakes are reported under the flags' names."""
    from ..sources import open_source
    from ..usermodel import is_user_code

    for name, value in overrides.items():
        try:
            parse_field(name, value)
        except SpecError as exc:
            reason = str(exc).removeprefix(f"{name}: ")
            raise SpecError(f"{FLAG_OF[name]} {value!r}: {reason}") from None
    if overrides and is_user_code(arch):
        flags = ", ".join(FLAG_OF[n] for n in overrides)
        raise UsageError(f"{flags}: architecture flags apply to presets and spec strings, not to "
                         f"your own model {arch!r}; give its arguments in parentheses: "
                         "file.py:Name(key=value)")  # fmt: skip
    return open_source(arch, overrides, **how)


def input_shape_for(source: Source, text: str | None) -> tuple[int, int, int, int]:
    # "" is a malformed shape, not "the default": only a missing --input means that
    return parse_input_shape(text) if text is not None else source.default_input_shape()


MAX_DEPTH = 10  # no module of a ResNet is nested deeper than 4 (layer1.0.downsample.1)


def check_depth(depth: int) -> int:
    if not 1 <= depth <= MAX_DEPTH:
        raise UsageError(f"--depth {depth}: must be 1 to {MAX_DEPTH} (1 stem and stages, 2 blocks, "
                         "3 layers, 4 and up what they hold)")  # fmt: skip
    return depth


def emit(report: Report, fmt: str | None, output: str | None, exact: bool = False) -> None:
    """Render ``report`` to stdout (no --output, or ``-o -``), or atomically to ``output``;
    counts in human units on a terminal table (11.7 M) unless ``exact``."""
    chosen = choose_format(fmt, output)
    if output is not None and output != STDOUT:
        path = check_output_path(output)
        write_atomic(path, render(report, chosen))
        notice(f"wrote {printable(output)}")
        return
    with writing_stdout():  # the real stdout: the user's prints went to stderr (see process.py)
        ascii_only = not can_encode(sys.stdout)  # LC_ALL=C, PYTHONIOENCODING=ascii: ASCII tables
        if chosen.value == "table" and sys.stdout.isatty() and not ascii_only:
            from rich.console import Console

            from ..render import rich_renderables

            console = Console()  # its width: a sane COLUMNS, else the terminal's (see process.py)
            for item in rich_renderables(report, console.width, exact):
                console.print(item)
            return
        width = sane_columns() or 140  # a pipe or a file: COLUMNS where it is sane
        sys.stdout.write(render(report, chosen, width=width, exact=exact, ascii_only=ascii_only))


def verify_weights_option(source: Source, weights: str | None, flag: str = "--weights") -> Any:
    """For a command traced on the meta device: check that ``flag``'s file loads strictly into
    the source's model (the weights change no shape or count, so the trace stays on meta)."""
    return None if weights is None else source.verify_weights(weights, flag)


def weights_report(report: Report, checkpoint: Any) -> Report:
    """``report`` with a line saying the --weights file loads strictly; as is without one."""
    if checkpoint is None:
        return report
    from ..report.checkpoint import with_weights

    return with_weights(report, checkpoint)
