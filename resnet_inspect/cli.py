"""The command line: parse -> call -> render. Errors become one line on stderr and an exit code.

No top-level torch import: ``--help`` and bad-input errors stay instant. Every command takes
the architecture flags (``--groups``, ``--stem``, ...) through :func:`spec_options`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Annotated, Any, Optional, TypeVar, get_type_hints

import typer
from typer.core import TyperGroup

from . import __version__
from .errors import InspectError, RuntimeFailure, SpecError, UsageError
from .render import (
    STDOUT,
    can_encode,
    check_output_path,
    choose_format,
    render,
    to_ascii,
    write_atomic,
)
from .report.document import Report
from .spec import DEFAULT_ARCH, ResNetSpec, parse_field, parse_input_shape, resolve
from .spec import FIELDS as SPEC_FIELDS
from .tracing import costs
from .units import printable

ARCH_PANEL = "Architecture (override any preset field)"



def _click_exception_type() -> type[Exception]:
    # typer vendors click in recent releases and uses the real click in older ones; find its
    # ClickException through a class typer exports either way.
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class _Group(TyperGroup):
    """Turns every error into ``error: ...`` on stderr with exit code 2 (bad input) or 1."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        _SHOW_TRACEBACK[0] = False  # per invocation (tests run many in one process)
        click_error = _click_exception_type()
        try:
            code = super().main(*args, **kwargs)
        except InspectError as exc:
            user_tb = getattr(exc, "user_traceback", "")
            if _SHOW_TRACEBACK[0] and user_tb:
                sys.stderr.write(user_tb)
            _fail(in_flag_terms(exc), exc.exit_code)
        except click_error as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # a bare command: the help was the answer
                sys.exit(0)
            _fail(exc.format_message(), getattr(exc, "exit_code", 2))  # type: ignore[attr-defined]
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except MemoryError:  # anywhere: this machine's failure, said in one line
            _fail("out of memory", 1)
        except BrokenPipeError:
            sys.exit(1)
        if isinstance(code, int) and code:
            sys.exit(code)
        if "Abort" in type(code).__name__:
            sys.exit(1)
        sys.exit(0)


_SHOW_TRACEBACK = [False]  # set by --traceback: a user's code failing shows its own traceback


# the library's arguments, and the flags that set them
ARGUMENT_FLAGS = {
    "input_shape": "--input", "dtype": "--dtype", "batches": "--batch", "device": "--device",
    "precision": "--dtype", "amp": "--amp", "warmup_s": "--warmup", "min_time_s": "--min-time",
    "threads": "--threads", "weights": "--weights", "columns": "--columns", "mode": "--mode",
    "top": "--top", "breakdown": "--breakdown", "family": "--family",
}  # fmt: skip


def in_flag_terms(exc: InspectError) -> str:
    """A library error names the arguments (``warmup_s``, ``input_shape``); a user typed
    flags (``--warmup``, ``--input``). Renamed where the error's own words name them: up to
    its first quoted value or parenthesis, after which it quotes a file name or torch."""
    text = str(exc)
    if exc.subject not in ARGUMENT_FLAGS:
        return text
    cut = min((i for i in (text.find("'"), text.find("(")) if i >= 0), default=len(text))
    own = re.sub(r"\w+", lambda word: ARGUMENT_FLAGS.get(word[0], word[0]), text[:cut])
    return own + text[cut:]


def _fail(message: str, code: int) -> None:
    # one line; control characters that came from a file (a key, a name) escaped, not obeyed
    first = " ".join(printable(word) for word in message.strip().split())
    if not can_encode(sys.stderr, first):
        first = to_ascii(first)
    print(f"error: {first}", file=sys.stderr)
    sys.exit(code)


app = typer.Typer(
    cls=_Group,
    name="resnet-inspect",
    help="Build any ResNet variant from flags, then inspect, count, compare and time it.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"resnet-inspect {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version, is_eager=True, metavar="",
                     help="Show the version."),
    ] = None,
) -> None:
    """Build any ResNet variant from flags, then inspect, count, compare and time it."""


# --- the architecture flags, shared by every command: generated from the spec's fields ----------
FLAG_OF = {f.name: f.metadata["flag"].split("/")[0] for f in SPEC_FIELDS}


def _spec_parameters() -> list[inspect.Parameter]:
    params = []
    for f in SPEC_FIELDS:
        meta = f.metadata
        is_bool = f.type in ("bool", bool)
        option = typer.Option(meta["flag"], help=meta["help"], metavar=meta["metavar"],
                              rich_help_panel=ARCH_PANEL, show_default=False)  # fmt: skip
        kind = Optional[bool] if is_bool else Optional[str]
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation=Annotated[kind, option]))  # fmt: skip
    return params


def spec_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add every architecture flag to a command; it receives them as ``overrides``."""
    names = [p.name for p in _spec_parameters()]
    hints = get_type_hints(func, include_extras=True)
    sig = inspect.signature(func)
    own = [p.replace(annotation=hints.get(p.name, p.annotation))
           for p in sig.parameters.values() if p.name != "overrides"]  # fmt: skip
    params = own + _spec_parameters()

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
    "returning one, with optional literal arguments: my_resnet.py:ResNet50(num_classes=10). "
    "This imports and so RUNS that file, as python would."
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


def spec_from(arch: str | None, overrides: dict[str, Any]) -> ResNetSpec:
    """ARCH plus flag overrides; a malformed flag value is reported under its flag's name."""
    for name, value in overrides.items():
        try:
            parse_field(name, value)
        except SpecError as exc:
            reason = str(exc).removeprefix(f"{name}: ")
            raise SpecError(f"{FLAG_OF[name]} {value!r}: {reason}") from None
    return resolve(arch, **overrides)


def source_from(arch: str | None, overrides: dict[str, Any]) -> Any:
    """ARCH plus flag overrides as a spec, or ARCH as the user's code (which takes no flags)."""
    from .usermodel import is_user_code

    if not is_user_code(arch):
        return spec_from(arch, overrides)
    if overrides:
        flags = ", ".join(FLAG_OF[n] for n in overrides)
        raise UsageError(f"{flags}: architecture flags apply to presets and spec strings, not to "
                         f"your own model {arch!r}; give its arguments in parentheses: "
                         "file.py:Name(key=value)")  # fmt: skip
    from .usermodel import parse_user_code

    return parse_user_code(arch or "")


def input_shape_for(spec: Any, text: str | None) -> tuple[int, int, int, int]:
    # "" is a malformed shape, not "the default": only a missing --input means that
    return parse_input_shape(text) if text is not None else spec.default_input_shape()


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
        print(f"wrote {printable(output)}", file=sys.stderr)
        return
    ascii_only = not can_encode(sys.stdout)  # LC_ALL=C, PYTHONIOENCODING=ascii: ASCII tables
    if chosen.value == "table" and sys.stdout.isatty() and not ascii_only:
        from rich.console import Console

        from .render import rich_renderables

        console = Console()
        for item in rich_renderables(report, console.width, exact):
            console.print(item)
        return
    columns = os.environ.get("COLUMNS", "").strip()  # ignored unless a sane positive number
    width = int(columns) if columns.isdecimal() and 0 < int(columns) <= 10_000 else 140
    sys.stdout.write(render(report, chosen, width=width, exact=exact, ascii_only=ascii_only))


# --- commands ------------------------------------------------------------------------------------
EXAMPLES = {
    "summary": ("resnet-inspect summary resnet50",
                "resnet-inspect summary resnet18 --depth 3 --input 1x3x64x64",
                "resnet-inspect summary resnet50:groups=32,width_per_group=4 -o r50.json"),
    "list": ("resnet-inspect list", "resnet-inspect list -f csv -o presets.csv"),
    "flops": ("resnet-inspect flops resnet18 --by stage",
              "resnet-inspect flops resnet152 --input 256x3x1024x1024 --by operator",
              "resnet-inspect flops resnet20 --counter fvcore"),
    "diff": ("resnet-inspect diff resnet50 resnet50:stride_in=1x1 --only-changed",
             "resnet-inspect diff resnet18 resnet34 --depth 3",
             "resnet-inspect diff resnet50 resnext50_32x4d --exit-code"),
    "check": ("resnet-inspect check resnet50 weights.pth",
              "resnet-inspect check resnet50d model.safetensors --num-classes 10 --all"),
    "identify": ("resnet-inspect identify weights.pth", "resnet-inspect identify ckpt.pth -f json"),
    "bench": ("resnet-inspect bench resnet18 resnet50 --batch 1,8 --min-time 1",
              "resnet-inspect bench resnet50 --device cuda --dtype bf16 --channels-last --batch 64,256",
              "resnet-inspect bench resnet50 --breakdown -o bench.json"),
}


def examples(command: str, before: str = "") -> str:
    """A command's help epilog: what it states (``before``), then two or three real uses."""
    lines = "\n\n".join(f"  {e}" for e in EXAMPLES[command])
    return (before + "\n\n" if before else "") + f"[bold]Examples[/bold]\n\n{lines}"

@app.command(epilog=examples("summary"))
@spec_options
def summary(
    arch: ArchArg = None,
    input: InputOpt = None,
    depth: DepthOpt = 2,
    dtype: DtypeOpt = "float32",
    format: FormatOpt = None,
    output: OutputOpt = None,
    exact: ExactOpt = False,
    columns: Annotated[Optional[str], typer.Option(
        "--columns", metavar="NAME,..", show_default=False,
        help="Columns after Layer, as torchinfo's col_names: type, input, output, params, macs, "
        "flops, kernel, stride, padding, dilation, groups, rf, out_stride. Default: "
        "type,output,params,macs,rf,out_stride.")] = None,
    weights: WeightsOpt = None,
    traceback: TracebackOpt = False,
    *,
    overrides: dict[str, Any],
) -> None:
    """Per-module output shapes, parameters, MACs and receptive field, as a table."""
    spec = source_from(arch, overrides)
    shape = input_shape_for(spec, input)
    check_depth(depth)
    choose_format(format, output)
    from .report.summary import DEFAULT_COLUMNS, check_columns, summary_report
    from .sources import trace_source
    from .units import normalize_dtype

    chosen = tuple(c.strip().lower() for c in columns.split(",")) if columns is not None else None
    shown = check_columns(chosen) if chosen is not None else DEFAULT_COLUMNS

    checkpoint = verify_weights_option(spec, weights)
    trace = trace_source(spec, shape, normalize_dtype(dtype))
    emit(weights_report(summary_report(trace, depth, shown), checkpoint), format, output, exact)


@app.command("list", epilog=examples("list"))
def list_presets(
    format: FormatOpt = None,
    output: OutputOpt = None,
    exact: ExactOpt = False,
    family: Annotated[
        Optional[str],
        typer.Option("--family", metavar="NAME", help="only this family: resnet, resnext, "
                     "wide_resnet, seresnet, ecaresnet, resnet_aa, resnet_rs, cifar"),
    ] = None,
) -> None:  # fmt: skip
    """The presets: block, layers, groups x width, stem, shortcut and parameters."""
    choose_format(format, output)
    from .model import build_model
    from .report.listing import list_report
    from .spec import PRESETS, presets_of_family

    names = presets_of_family(family)
    params = {n: sum(p.numel() for p in build_model(PRESETS[n], "meta").parameters()) for n in names}
    emit(list_report(params), format, output, exact)


class Counter(str, Enum):
    TORCH = "torch"
    FVCORE = "fvcore"


class By(str, Enum):
    LAYER = "layer"
    STAGE = "stage"
    OPERATOR = "operator"


E = TypeVar("E", bound=Enum)


def choice(flag: str, value: str, enum: type[E]) -> E:
    """A closed choice from a flag, with the allowed values in the error."""
    for member in enum:
        if value.strip().lower() == member.value:
            return member
    allowed = ", ".join(m.value for m in enum)
    raise UsageError(f"{flag} {value!r}: not one of {allowed}")


@app.command(epilog=examples("flops", costs.rules_text()))
@spec_options
def flops(
    arch: ArchArg = None,
    input: InputOpt = None,
    depth: DepthOpt = 2,
    counter: Annotated[str, typer.Option("--counter", "-c", metavar="torch|fvcore", help="torch: our accounting on the "
                       "meta device (any input size, instant); fvcore: fvcore's FlopCountAnalysis "
                       "on real tensors.")] = "torch",
    by: Annotated[str, typer.Option("--by", metavar="layer|stage|operator", help="Rows per layer, stage or operator.")] = "layer",
    dtype: DtypeOpt = "float32",
    format: FormatOpt = None,
    output: OutputOpt = None,
    exact: ExactOpt = False,
    weights: WeightsOpt = None,
    traceback: TracebackOpt = False,
    *,
    overrides: dict[str, Any],
) -> None:
    """MACs and FLOPs per layer, stage and operator, with the share of each. Operators without
    a rule of ours (in your own model) are counted by torch's FLOP counter and marked."""
    spec = source_from(arch, overrides)
    shape = input_shape_for(spec, input)
    how, grouping = choice("--counter", counter, Counter), choice("--by", by, By)
    check_depth(depth)
    choose_format(format, output)
    from .report.flops import flops_report, fvcore_report
    from .sources import build_source, trace_source
    from .units import normalize_dtype

    checkpoint = verify_weights_option(spec, weights)
    model = build_source(spec, "meta")
    trace = trace_source(spec, shape, normalize_dtype(dtype), model=model)
    if how is Counter.TORCH:
        report = flops_report(trace, grouping.value, depth)
    else:
        from .counters.fvcore import check_fvcore_fits, fvcore_counts

        check_fvcore_fits(trace)
        report = fvcore_report(trace, fvcore_counts(model, shape), grouping.value, depth)
    emit(weights_report(report, checkpoint), format, output, exact)


_SIDE_HELP = ("A preset or spec string, e.g. resnet50 or resnet50:stride_in=1x1; or your own "
              "model, FILE.py:NAME (this runs that file).")
SideA = Annotated[str, typer.Argument(metavar="A", help=_SIDE_HELP, show_default=False)]
SideB = Annotated[str, typer.Argument(metavar="B", help=_SIDE_HELP, show_default=False)]
OnlyChangedOpt = Annotated[
    bool, typer.Option("--only-changed", metavar="", help="Hide the layer rows that are the same in A and B.")
]
ExitCodeOpt = Annotated[
    bool,
    typer.Option(
        "--exit-code", metavar="",
        help="Exit 1 when A and B differ, 0 when they are the same (like git diff --exit-code).",
    ),
]


@app.command(epilog=examples("diff"))
def diff(
    a: SideA,
    b: SideB,
    input: InputOpt = None,
    depth: DepthOpt = 2,
    only_changed: OnlyChangedOpt = False,
    exit_code: ExitCodeOpt = False,
    format: FormatOpt = None,
    output: OutputOpt = None,
    exact: ExactOpt = False,
    weights_a: Annotated[Optional[str], typer.Option("--weights-a", metavar="FILE",
                         help="A checkpoint that must load strictly into A.")] = None,
    weights_b: Annotated[Optional[str], typer.Option("--weights-b", metavar="FILE",
                         help="A checkpoint that must load strictly into B.")] = None,
    traceback: TracebackOpt = False,
) -> None:
    """Two variants side by side: spec fields, stages, layers aligned by name, totals.

    Both run on the same --input (default: A's). MACs: multiply-accumulates of conv and linear layers.
    Your own model's layers are aligned by structure where its names differ (order, kind and
    size of the leaf operations).
    """
    from .diff import Side, resolve_side
    from .usermodel import is_user_code

    side_a = source_from(a, {}) if is_user_code(a) else resolve_side(Side.A, a)
    side_b = source_from(b, {}) if is_user_code(b) else resolve_side(Side.B, b)
    shape = parse_input_shape(input) if input is not None else None
    verify_weights_option(side_a, weights_a, "--weights-a")
    verify_weights_option(side_b, weights_b, "--weights-b")
    check_depth(depth)
    choose_format(format, output)
    from .diff import diff_sources
    from .report.diff import diff_report

    result = diff_sources(side_a, side_b, shape)
    emit(diff_report(result, depth, only_changed, names=(a, b)), format, output, exact)
    if exit_code and not result.identical:
        raise typer.Exit(1)


# --- checkpoints: check, identify, and --weights for any command -------------------------------
CheckArchArg = Annotated[
    str,
    typer.Argument(help="A preset or spec string (see `summary`), plus any architecture flags; "
                   "or your own model, FILE.py:NAME (this runs that file).", show_default=False),
]
FileArg = Annotated[
    str,
    typer.Argument(metavar="FILE", help="A checkpoint: .pth, .pt, .bin (torch.save, read with "
                   "weights_only=True) or .safetensors.", show_default=False),
]


def verify_weights_option(spec: Any, weights: str | None, flag: str = "--weights") -> Any:
    """For a command traced on the meta device: check that ``flag``'s file loads strictly into
    ``spec`` or the user's model (the weights change no shape or count, so the trace stays on
    meta)."""
    if weights is None:
        return None
    from .sources import verify_weights_for

    return verify_weights_for(spec, weights, flag)


def weights_report(report: Report, checkpoint: Any) -> Report:
    """``report`` with a line saying the --weights file loads strictly; as is without one."""
    if checkpoint is None:
        return report
    from .report.checkpoint import with_weights

    return with_weights(report, checkpoint)


@app.command(epilog=examples("check"))
@spec_options
def check(
    arch: CheckArchArg,
    file: FileArg,
    all: Annotated[bool, typer.Option("--all", metavar="", help="List matching tensors too.")] = False,
    format: FormatOpt = None,
    output: OutputOpt = None,
    traceback: TracebackOpt = False,
    *,
    overrides: dict[str, Any],
) -> None:
    """Does FILE load into ARCH (a variant, or your own model) with strict=True? Matching,
    missing, unexpected and differently shaped tensors, and a verdict. Exit 0 when it loads
    strictly, 1 when it does not."""
    spec = source_from(arch, overrides)
    choose_format(format, output)
    from .checkpoint import looks_like, read_checkpoint
    from .report.checkpoint import check_report
    from .sources import compare_source, expected_shapes_of

    expected = None if isinstance(spec, ResNetSpec) else expected_shapes_of(spec)  # ARCH first
    checkpoint = read_checkpoint(file)
    result = compare_source(spec, checkpoint, expected)
    hint = None if result.loads_strictly else looks_like(checkpoint)
    named = spec if isinstance(spec, ResNetSpec) else spec.label
    emit(check_report(named, checkpoint, result, hint, all), format, output)
    if not result.loads_strictly:
        raise typer.Exit(1)


IdentifyArg = Annotated[
    str,
    typer.Argument(metavar="FILE|MODEL", help="A checkpoint (.pth, .pt, .bin, .safetensors; read "
                   "as data), or your own model, FILE.py:NAME (this runs that file).",
                   show_default=False),
]


@app.command(epilog=examples("identify"))
def identify(
    file: IdentifyArg,
    input: InputOpt = None,
    format: FormatOpt = None,
    output: OutputOpt = None,
    traceback: TracebackOpt = False,
) -> None:
    """Which variant FILE holds, from its keys and shapes alone: the preset if one matches and
    the spec string, proved by building it and loading FILE strictly. Exit 1 if that fails.

    For your own model (FILE.py:NAME): the nearest preset by structure (strides, kernels, pools,
    shortcuts, head) and every departure from it, or that it matches one exactly."""
    choose_format(format, output)
    from .usermodel import is_user_code

    if is_user_code(file):
        user = source_from(file, {})
        shape = input_shape_for(user, input)
        from .report.structure import structure_report
        from .sources import build_source
        from .structure import identify_module

        emit(structure_report(user.label, identify_module(build_source(user), shape)), format, output)
        return
    from .checkpoint import identify_checkpoint, read_checkpoint
    from .report.checkpoint import identify_report

    identification = identify_checkpoint(read_checkpoint(file))
    emit(identify_report(identification), format, output)
    if not identification.proved:
        raise typer.Exit(1)


# --- bench ---------------------------------------------------------------------------------------
BenchArchArg = Annotated[
    Optional[list[str]],
    typer.Argument(
        help=f"One or more variants to time side by side: presets or spec strings "
        f"(resnet18 resnet50 resnet50:stem=deep), or your own model, FILE.py:NAME (this runs "
        f"that file). The flags below apply to each. Default: {DEFAULT_ARCH}.",
        show_default=False,
    ),
]
BENCH_PANEL = "Measurement"


def _bench_option(*names: str, help: str, **kw: Any) -> Any:
    return typer.Option(*names, help=help, rich_help_panel=BENCH_PANEL, **kw)


@app.command(epilog=examples("bench"))
@spec_options
def bench(
    arch: BenchArchArg = None,
    device: Annotated[str, _bench_option("--device", help="cpu, cuda or cuda:N.")] = "cpu",
    batch: Annotated[Optional[str], _bench_option("--batch", "-b", metavar="N,N,..", show_default=False,
                                                  help="Batch sizes to sweep: 1,8,32. Default: "
                                                  "--input's B, else 1.")] = None,
    input: Annotated[Optional[str], _bench_option(
        "--input", "-i", metavar="BxCxHxW", help="As for every command; B is the batch unless "
        "--batch sweeps (then give CxHxW, or a B that --batch agrees with). Default: 1 x in_chans "
        "x 224 x 224 (32 x 32 for the CIFAR stem).", show_default=False)] = None,
    dtype: Annotated[str, _bench_option("--dtype", help="fp32, tf32 (CUDA: TF32 turned on, and "
                                        "said so), bf16 or fp16.")] = "fp32",
    amp: Annotated[bool, _bench_option("--amp", help="bf16/fp16 by autocast, float32 weights, "
                                       "instead of casting the model.")] = False,
    channels_last: Annotated[bool, _bench_option("--channels-last", help="NHWC memory layout "
                                                 "for the model and the input.")] = False,
    compile: Annotated[bool, _bench_option("--compile", help="torch.compile the model; the "
                                           "compile time is shown apart.")] = False,
    compile_mode: Annotated[Optional[str], _bench_option(
        "--compile-mode", metavar="MODE", show_default=False,
        help="default, reduce-overhead (CUDA graphs) or max-autotune; implies --compile.")] = None,
    warmup: Annotated[float, _bench_option("--warmup", help="Seconds of warm-up per "
                                           "configuration.")] = 1.0,
    min_time: Annotated[float, _bench_option("--min-time", help="Seconds of measurement per "
                                             "configuration (and at least 5 samples).")] = 2.0,
    threads: Annotated[Optional[int], _bench_option(
        "--threads", help="CPU threads for torch. Default: torch's (one per core).",
        show_default=False)] = None,
    breakdown: Annotated[Optional[str], _bench_option(
        "--breakdown", metavar="stage|layer", show_default=False,
        help="stage: each stage's time, share, FLOP/s and FLOPs per byte (a roofline); layer: "
        "the same for every layer, slowest first (the forward pass, eagerly).")] = None,
    top: Annotated[Optional[int], _bench_option(
        "--top", metavar="N", show_default=False,
        help="With --breakdown layer: only the N slowest layers.")] = None,
    mode: Annotated[str, _bench_option("--mode", help="infer: a forward pass; train: a training "
                                       "step (forward, loss, backward, optimizer step).")] = "infer",
    optimizer: Annotated[str, _bench_option("--optimizer", help="With --mode train: sgd (momentum "
                                            "0.9) or adamw.")] = "sgd",
    max_batch: Annotated[bool, _bench_option("--max-batch", help="Find the largest batch that fits "
                                             "(bisection) instead of timing.")] = False,
    format: FormatOpt = None,
    output: OutputOpt = None,
    weights: WeightsOpt = None,
    traceback: TracebackOpt = False,
    *,
    overrides: dict[str, Any],
) -> None:
    """Time the forward pass or a training step: latency percentiles, images/s, FLOP/s,
    memory; variants and batch sizes interleaved."""
    from .bench import (
        BenchConfig,
        Breakdown,
        Mode,
        Optimizer,
        parse_bench_input,
        parse_choice,
        parse_device,
        parse_precision,
        resolve_variants,
    )

    config = BenchConfig(device=parse_device(device), precision=parse_precision(dtype), amp=amp,
                         channels_last=channels_last, compile_mode=_compile_mode(compile, compile_mode),
                         warmup_s=warmup, min_time_s=min_time, threads=threads,
                         breakdown=parse_choice("--breakdown", breakdown, Breakdown) if breakdown
                         else Breakdown.OFF, weights=weights, mode=parse_choice("--mode", mode, Mode),
                         optimizer=parse_choice("--optimizer", optimizer, Optimizer), top=top)  # fmt: skip
    batches, chw = parse_bench_input(input, batch)
    choose_format(format, output)
    if output is not None:  # a long run must not end on an --output it cannot write
        check_output_path(output)  # the whole pre-flight, the temporary file included
    specs = resolve_variants(arch or [None], functools.partial(source_from, overrides=overrides))
    from .bench import plan, run  # torch from here on
    from .report.bench import bench_report, max_batch_report

    if max_batch:
        from .bench import check_config, find_max_batch

        check_config(config)
        fits = [find_max_batch(spec, chw, config) for spec in specs]
        emit(max_batch_report(fits, config), format, output)
        return
    planned = plan(specs, batches, chw, config)
    with _progress_bar() as progress, _sigterm_as_interrupt() as signalled:
        result = run(planned, progress)
    _check_some_ran(result)
    emit(bench_report(result, config), format, output)
    if result.interrupted:
        raise typer.Exit(143 if signalled else 130)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[list[int]]:
    """SIGTERM (a container stopping, ``kill``) is taken like Ctrl-C: the rows measured so far
    are printed, and the command exits 143 (128 + SIGTERM) instead of 130. Yields a list that
    holds the signal once one came."""
    import signal

    received: list[int] = []

    def handler(signum: int, _frame: Any) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave SIGTERM alone
        yield received
        return
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_some_ran(result: Any) -> None:
    """Out of memory everywhere is a failure (exit 1); in some rows, a warning on stderr."""
    from .bench import Status

    statuses = [m.status for m in result.measurements]
    oom = sum(s is Status.OOM for s in statuses)
    eager = sum(s is Status.NOT_COMPILED for s in statuses)
    if not result.interrupted and oom + eager == len(statuses):
        why = "ran out of memory" if oom else "fell back to eager (not compiled)"
        if oom and eager:
            why = f"ran out of memory ({oom}) or fell back to eager ({eager})"
        raise RuntimeFailure(f"nothing was measured: every configuration ({len(statuses)}) {why}; "
                             "use smaller batches, a lower precision or fewer variants")  # fmt: skip
    if oom:
        print(f"warning: {oom} of {len(statuses)} configurations ran out of memory (marked OOM)",
              file=sys.stderr)
    if eager:
        print(f"warning: {eager} of {len(statuses)} configurations fell back to eager under "
              "torch.compile (marked, not timed)", file=sys.stderr)


def _compile_mode(compile: bool, mode: str | None) -> Any:
    from .bench import parse_compile_mode

    return parse_compile_mode(mode if mode is not None else ("default" if compile else None))


@contextlib.contextmanager
def _progress_bar() -> Iterator[Callable[[float, str], None]]:
    """A progress bar on stderr while it runs (only on a terminal; it vanishes when done)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("preparing", total=1.0)
        yield lambda fraction, text: bar.update(task, completed=fraction, description=text)


def main() -> None:
    app()
