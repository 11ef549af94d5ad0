"""summary, list, flops, diff, check and identify: each parse -> call -> render."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from ..choices import parse_choice
from ..counters import Counter
from ..spec import PRESET_FAMILIES, parse_input_shape
from ..tracing import costs
from ..units import DType
from .app import app, examples
from .options import (
    ArchArg,
    DepthOpt,
    DtypeOpt,
    ExactOpt,
    FormatOpt,
    InputOpt,
    OutputOpt,
    TracebackOpt,
    WeightsOpt,
    check_depth,
    emit,
    input_shape_for,
    open_arch,
    spec_options,
    verify_weights_option,
    weights_report,
)
from .output import choose_format


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
    source = open_arch(arch, overrides)
    shape = input_shape_for(source, input)
    check_depth(depth)
    element = parse_choice(DType, dtype, "--dtype")
    choose_format(format, output)
    from ..report.summary import DEFAULT_COLUMNS, check_columns, summary_report

    chosen = tuple(c.strip().lower() for c in columns.split(",")) if columns is not None else None
    shown = check_columns(chosen) if chosen is not None else DEFAULT_COLUMNS

    checkpoint = verify_weights_option(source, weights)
    trace = source.trace(shape, element.value)
    emit(weights_report(summary_report(trace, depth, shown), checkpoint), format, output, exact)


@app.command("list", epilog=examples("list"))
def list_presets(
    format: FormatOpt = None,
    output: OutputOpt = None,
    exact: ExactOpt = False,
    family: Annotated[
        Optional[str],
        typer.Option("--family", metavar="NAME", help="only this family: " + ", ".join(PRESET_FAMILIES)),
    ] = None,
) -> None:  # fmt: skip
    """The presets: block, layers, groups x width, stem, shortcut and parameters."""
    choose_format(format, output)
    from ..model import build_model
    from ..report.listing import list_report
    from ..spec import PRESETS, presets_of_family

    names = presets_of_family(family)
    params = {n: sum(p.numel() for p in build_model(PRESETS[n], "meta").parameters()) for n in names}
    emit(list_report(params), format, output, exact)


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
    source = open_arch(arch, overrides)
    shape = input_shape_for(source, input)
    from ..report.flops import By, flops_report, fvcore_report

    how, grouping = parse_choice(Counter, counter, "--counter"), parse_choice(By, by, "--by")
    element = parse_choice(DType, dtype, "--dtype")
    check_depth(depth)
    choose_format(format, output)

    checkpoint = verify_weights_option(source, weights)
    model = source.build("meta")
    trace = source.trace(shape, element.value, model=model)
    if how is Counter.TORCH:
        report = flops_report(trace, grouping, depth)
    else:
        from ..counters.fvcore import check_fvcore_fits, fvcore_counts

        check_fvcore_fits(trace)
        report = fvcore_report(trace, fvcore_counts(model, shape), grouping, depth)
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
        help="Exit 0 only when A and B are the same architecture and compute the same function; "
        "else 1 (like git diff --exit-code).",
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
    """Two variants side by side: spec fields, stages, layers, totals, and whether they compute the same function.

    Both run on the same --input (default: A's). MACs: multiply-accumulates of conv and linear layers.
    Two of our variants are aligned by name; your own model by computation (its parametrised
    layers in the order its forward runs them), whatever its names. The function: the same spec
    is the same function by construction; else both run on the CPU on 3 random inputs with B's
    weights copied into A (or the --weights files).
    """
    side_a, side_b = open_arch(a, {}, named="A"), open_arch(b, {}, named="B")
    shape = parse_input_shape(input) if input is not None else None
    verify_weights_option(side_a, weights_a, "--weights-a")
    verify_weights_option(side_b, weights_b, "--weights-b")
    check_depth(depth)
    choose_format(format, output)
    from ..report.diff import diff_report
    from ..tracediff import diff_sources

    result = diff_sources(side_a, side_b, shape, weights=(weights_a, weights_b))
    emit(diff_report(result, depth, only_changed, names=(a, b)), format, output, exact)
    if exit_code and not result.same:
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
    source = open_arch(arch, overrides)
    choose_format(format, output)
    from ..checkpoint import read_checkpoint
    from ..identification import looks_like
    from ..report.checkpoint import check_report

    expected = None if source.spec is not None else source.expected_shapes()  # user code runs first
    checkpoint = read_checkpoint(file)
    result = source.compare(checkpoint, expected)
    hint = None if result.loads_strictly else looks_like(checkpoint)
    emit(check_report(source.spec or source.label, checkpoint, result, hint, all), format, output)
    if not result.loads_strictly:
        raise typer.Exit(1)


IdentifyArg = Annotated[
    str,
    typer.Argument(metavar="FILE|MODEL", help="A checkpoint (.pth, .pt, .bin, .safetensors; read "
                   "as data), or your own model, FILE.py:NAME (this runs that file), or a preset "
                   "or spec string (the model it builds).", show_default=False),
]


ReferenceOpt = Annotated[
    Optional[str],
    typer.Option("--reference", metavar="NAME", help="For a model: compare with this preset or spec "
                 "string instead of the nearest preset by structure.", show_default=False),
]


@app.command(epilog=examples("identify"))
def identify(
    file: IdentifyArg,
    input: InputOpt = None,
    reference: ReferenceOpt = None,
    weights: WeightsOpt = None,
    format: FormatOpt = None,
    output: OutputOpt = None,
    traceback: TracebackOpt = False,
) -> None:
    """Which variant FILE holds, from its keys and shapes alone: the preset if one matches and
    the spec string, proved by building it and loading FILE strictly. Exit 1 if that fails.

    For your own model (FILE.py:NAME), or a preset or spec string: the nearest preset by
    structure (strides, kernels, pools, shortcuts, head), every departure from it, and the
    proof: both models run on the CPU on the same random inputs with the same weights (drawn,
    seeded; or --weights loaded into your model first); "exactly" only where the outputs agree."""
    choose_format(format, output)
    from ..report.identify import identified_report
    from ..sources import EVERYTHING, Kind

    source = open_arch(file, {}, subject="FILE", accept=EVERYTHING)
    spec = None if reference is None else open_arch(reference, {}, subject="--reference", accept={Kind.SPEC}, named="--reference").spec
    found = source.identify(input_shape_for(source, input) if input is not None else None, spec, weights)
    emit(identified_report(found), format, output)
    if not found.proved:
        raise typer.Exit(1)
