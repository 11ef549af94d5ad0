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
from .errors import InspectError, SpecError, UsageError
from .render import check_output_path, choose_format, render, write_atomic
from .report.document import Report
from .spec import DEFAULT_ARCH, ResNetSpec, parse_field, parse_input_shape, resolve
from .spec import FIELDS as SPEC_FIELDS
from .tracing import costs

ARCH_PANEL = "Architecture (override any preset field)"



def _click_exception_type() -> type[Exception]:
    # typer vendors click in recent releases and uses the real click in older ones; find its
    # ClickException through a class typer exports either way.
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class _Group(TyperGroup):
    """Turns every error into ``error: ...`` on stderr with exit code 2 (bad input) or 1."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        click_error = _click_exception_type()
        try:
            code = super().main(*args, **kwargs)
        except InspectError as exc:
            _fail(in_flag_terms(exc), exc.exit_code)
        except click_error as exc:
            _fail(exc.format_message(), getattr(exc, "exit_code", 2))  # type: ignore[attr-defined]
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except BrokenPipeError:
            sys.exit(1)
        if isinstance(code, int) and code:
            sys.exit(code)
        if "Abort" in type(code).__name__:
            sys.exit(1)
        sys.exit(0)


# the library's arguments, and the flags that set them
ARGUMENT_FLAGS = {
    "input_shape": "--input", "dtype": "--dtype", "batches": "--batch", "device": "--device",
    "precision": "--dtype", "amp": "--amp", "warmup_s": "--warmup", "min_time_s": "--min-time",
    "threads": "--threads", "weights": "--weights", "family": "--family",
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
    first = " ".join(message.strip().split())
    print(f"error: {first}", file=sys.stderr)
    sys.exit(code)


app = typer.Typer(
    cls=_Group,
    name="resnet-inspect",
    help="Build any ResNet variant from flags, then inspect, count, compare and time it.",
    no_args_is_help=True,
    add_completion=False,
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
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
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
        option = typer.Option(meta["flag"], help=meta["help"], metavar=meta["metavar"] or None,
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
ArchArg = Annotated[
    Optional[str],
    typer.Argument(
        help=f"A preset (resnet50, resnext50_32x4d, ...; see `list`) or a spec string like "
        f"resnet50:groups=32,width_per_group=4. Default: {DEFAULT_ARCH}.",
        show_default=False,
    ),
]
InputOpt = Annotated[
    Optional[str],
    typer.Option("--input", "-i", help="Input shape BxCxHxW. Default 1 x in_chans x 224 x 224 "
                 "(32 x 32 for the CIFAR stem).", show_default=False),
]
DepthOpt = Annotated[
    int, typer.Option("--depth", "-d", help="Rows down to this depth: 1 stem/stages, 2 blocks, 3 layers.")
]
DtypeOpt = Annotated[
    str, typer.Option("--dtype", help="Element type for memory figures: float32, float16, bfloat16.")
]
FormatOpt = Annotated[
    Optional[str],
    typer.Option("--format", "-f", help="table, json, csv, markdown, svg or html. Default: from "
                 "the --output extension, else table.", show_default=False),
]
OutputOpt = Annotated[
    Optional[str],
    typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout.",
                 show_default=False),
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


def input_shape_for(spec: ResNetSpec, text: str | None) -> tuple[int, int, int, int]:
    return parse_input_shape(text) if text else spec.default_input_shape()


def check_depth(depth: int) -> int:
    if depth < 1:
        raise UsageError(f"--depth {depth}: must be at least 1")
    return depth


def emit(report: Report, fmt: str | None, output: str | None) -> None:
    """Render ``report`` to stdout, or atomically to ``output``."""
    chosen = choose_format(fmt, output)
    if output is not None:
        path = check_output_path(output)
        write_atomic(path, render(report, chosen))
        print(f"wrote {path}", file=sys.stderr)
        return
    if chosen.value == "table" and sys.stdout.isatty():
        from rich.console import Console

        from .render import rich_renderables

        console = Console()
        for item in rich_renderables(report):
            console.print(item)
        return
    columns = os.environ.get("COLUMNS", "").strip()  # ignored unless a positive number
    width = int(columns) if columns.isdecimal() and int(columns) > 0 else 140
    sys.stdout.write(render(report, chosen, width=width))


# --- commands ------------------------------------------------------------------------------------
@app.command()
@spec_options
def summary(
    arch: ArchArg = None,
    input: InputOpt = None,
    depth: DepthOpt = 2,
    dtype: DtypeOpt = "float32",
    format: FormatOpt = None,
    output: OutputOpt = None,
    weights: WeightsOpt = None,
    *,
    overrides: dict[str, Any],
) -> None:
    """Per-module output shapes, parameters, MACs and receptive field, as a table."""
    spec = spec_from(arch, overrides)
    shape = input_shape_for(spec, input)
    choose_format(format, output)
    from .report.summary import summary_report
    from .tracing import trace_spec
    from .units import normalize_dtype

    checkpoint = verify_weights_option(spec, weights)
    trace = trace_spec(spec, shape, normalize_dtype(dtype))
    emit(weights_report(summary_report(trace, check_depth(depth)), checkpoint), format, output)


@app.command("list")
def list_presets(
    format: FormatOpt = None,
    output: OutputOpt = None,
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
    emit(list_report(params), format, output)


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


@app.command(epilog=costs.rules_text())
@spec_options
def flops(
    arch: ArchArg = None,
    input: InputOpt = None,
    depth: DepthOpt = 2,
    counter: Annotated[str, typer.Option("--counter", "-c", help="torch: our accounting on the "
                       "meta device (any input size, instant); fvcore: fvcore's FlopCountAnalysis "
                       "on real tensors.")] = "torch",
    by: Annotated[str, typer.Option("--by", help="layer, stage or operator.")] = "layer",
    dtype: DtypeOpt = "float32",
    format: FormatOpt = None,
    output: OutputOpt = None,
    weights: WeightsOpt = None,
    *,
    overrides: dict[str, Any],
) -> None:
    """MACs and FLOPs per layer, stage and operator, with the share of each."""
    spec = spec_from(arch, overrides)
    shape = input_shape_for(spec, input)
    how, grouping = choice("--counter", counter, Counter), choice("--by", by, By)
    check_depth(depth)
    choose_format(format, output)
    from .model import build_model
    from .report.flops import flops_report, fvcore_report
    from .tracing import trace_model
    from .units import normalize_dtype

    checkpoint = verify_weights_option(spec, weights)
    model = build_model(spec, "meta")
    trace = trace_model(model, shape, normalize_dtype(dtype))
    if how is Counter.TORCH:
        report = flops_report(trace, grouping.value, depth)
    else:
        from .counters.fvcore import check_fvcore_fits, fvcore_counts

        check_fvcore_fits(trace)
        report = fvcore_report(trace, fvcore_counts(model, shape), grouping.value, depth)
    emit(weights_report(report, checkpoint), format, output)


_SIDE_HELP = "A preset or spec string, e.g. resnet50 or resnet50:stride_in=1x1."
SideA = Annotated[str, typer.Argument(metavar="A", help=_SIDE_HELP, show_default=False)]
SideB = Annotated[str, typer.Argument(metavar="B", help=_SIDE_HELP, show_default=False)]
OnlyChangedOpt = Annotated[
    bool, typer.Option("--only-changed", help="Hide the layer rows that are the same in A and B.")
]
ExitCodeOpt = Annotated[
    bool,
    typer.Option(
        "--exit-code",
        help="Exit 1 when A and B differ, 0 when they are the same (like git diff --exit-code).",
    ),
]


@app.command()
def diff(
    a: SideA,
    b: SideB,
    input: InputOpt = None,
    depth: DepthOpt = 2,
    only_changed: OnlyChangedOpt = False,
    exit_code: ExitCodeOpt = False,
    format: FormatOpt = None,
    output: OutputOpt = None,
    weights_a: Annotated[Optional[str], typer.Option("--weights-a", metavar="FILE",
                         help="A checkpoint that must load strictly into A.")] = None,
    weights_b: Annotated[Optional[str], typer.Option("--weights-b", metavar="FILE",
                         help="A checkpoint that must load strictly into B.")] = None,
) -> None:
    """Two variants side by side: spec fields, stages, layers aligned by name, totals.

    Both run on the same --input (default: A's). MACs: multiply-accumulates of conv and linear layers.
    """
    from .diff import Side, resolve_side

    spec_a, spec_b = resolve_side(Side.A, a), resolve_side(Side.B, b)
    shape = parse_input_shape(input) if input else None
    verify_weights_option(spec_a, weights_a, "--weights-a")
    verify_weights_option(spec_b, weights_b, "--weights-b")
    check_depth(depth)
    choose_format(format, output)
    from .diff import diff_specs
    from .report.diff import diff_report

    result = diff_specs(spec_a, spec_b, shape)
    emit(diff_report(result, depth, only_changed, names=(a, b)), format, output)
    if exit_code and not result.identical:
        raise typer.Exit(1)


# --- checkpoints: check, identify, and --weights for any command -------------------------------
CheckArchArg = Annotated[
    str,
    typer.Argument(help="A preset or spec string (see `summary`), plus any architecture flags.",
                   show_default=False),
]
FileArg = Annotated[
    str,
    typer.Argument(metavar="FILE", help="A checkpoint: .pth, .pt, .bin (torch.save, read with "
                   "weights_only=True) or .safetensors.", show_default=False),
]


def verify_weights_option(spec: ResNetSpec, weights: str | None, flag: str = "--weights") -> Any:
    """For a command traced on the meta device: check that ``flag``'s file loads strictly into
    ``spec`` (the weights change no shape or count, so the trace stays on meta)."""
    if weights is None:
        return None
    from .checkpoint import verify_weights

    return verify_weights(spec, weights, flag)


def weights_report(report: Report, checkpoint: Any) -> Report:
    """``report`` with a line saying the --weights file loads strictly; as is without one."""
    if checkpoint is None:
        return report
    from .report.checkpoint import with_weights

    return with_weights(report, checkpoint)


@app.command()
@spec_options
def check(
    arch: CheckArchArg,
    file: FileArg,
    all: Annotated[bool, typer.Option("--all", help="List matching tensors too.")] = False,
    format: FormatOpt = None,
    output: OutputOpt = None,
    *,
    overrides: dict[str, Any],
) -> None:
    """Does FILE load into ARCH with strict=True? Matching, missing, unexpected and differently
    shaped tensors, and a verdict. Exit 0 when it loads strictly, 1 when it does not."""
    spec = spec_from(arch, overrides)
    choose_format(format, output)
    from .checkpoint import compare, looks_like, read_checkpoint
    from .report.checkpoint import check_report

    checkpoint = read_checkpoint(file)
    result = compare(spec, checkpoint)
    hint = None if result.loads_strictly else looks_like(checkpoint)
    emit(check_report(spec, checkpoint, result, hint, all), format, output)
    if not result.loads_strictly:
        raise typer.Exit(1)


@app.command()
def identify(file: FileArg, format: FormatOpt = None, output: OutputOpt = None) -> None:
    """Which variant FILE holds, from its keys and shapes alone: the preset if one matches and
    the spec string, proved by building it and loading FILE strictly. Exit 1 if that fails."""
    choose_format(format, output)
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
        f"(resnet18 resnet50 resnet50:stem=deep). The flags below apply to each. "
        f"Default: {DEFAULT_ARCH}.",
        show_default=False,
    ),
]
BENCH_PANEL = "Measurement"


def _bench_option(*names: str, help: str, **kw: Any) -> Any:
    return typer.Option(*names, help=help, rich_help_panel=BENCH_PANEL, **kw)


@app.command()
@spec_options
def bench(
    arch: BenchArchArg = None,
    device: Annotated[str, _bench_option("--device", help="cpu, cuda or cuda:N.")] = "cpu",
    batch: Annotated[str, _bench_option("--batch", "-b", help="Batch sizes to sweep: 1,8,32.")] = "1",
    input: Annotated[Optional[str], _bench_option(
        "--input", "-i", help="One image, CxHxW. Default in_chans x 224 x 224 (32 x 32 for the "
        "CIFAR stem).", show_default=False)] = None,
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
    breakdown: Annotated[bool, _bench_option("--breakdown", help="Per stage: time, share, "
                                             "FLOP/s and FLOPs per byte (a roofline).")] = False,
    format: FormatOpt = None,
    output: OutputOpt = None,
    weights: WeightsOpt = None,
    *,
    overrides: dict[str, Any],
) -> None:
    """Time the forward pass: latency percentiles, images/s, FLOP/s, memory; variants and batch
    sizes interleaved."""
    from .bench import (
        BenchConfig,
        parse_batches,
        parse_chw,
        parse_device,
        parse_precision,
        resolve_variants,
    )

    config = BenchConfig(device=parse_device(device), precision=parse_precision(dtype), amp=amp,
                         channels_last=channels_last, compile_mode=_compile_mode(compile, compile_mode),
                         warmup_s=warmup, min_time_s=min_time, threads=threads,
                         breakdown=breakdown, weights=weights)  # fmt: skip
    batches, chw = parse_batches(batch), parse_chw(input) if input else None
    choose_format(format, output)
    if output is not None:  # a long run must not end on an --output it cannot write
        check_output_path(output)
    specs = resolve_variants(arch or [None], functools.partial(spec_from, overrides=overrides))
    from .bench import plan, run  # torch from here on
    from .report.bench import bench_report

    planned = plan(specs, batches, chw, config)
    with _progress_bar() as progress:
        result = run(planned, progress)
    emit(bench_report(result, config), format, output)
    if result.interrupted:
        raise typer.Exit(130)


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
