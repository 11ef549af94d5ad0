"""The bench command: timing on a real device, the run's signals and progress bar."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Optional

import typer

from ..choices import parse_choice
from ..errors import RuntimeFailure
from ..spec import DEFAULT_ARCH
from .app import app, examples
from .options import (
    FormatOpt,
    OutputOpt,
    TracebackOpt,
    WeightsOpt,
    emit,
    open_arch,
    spec_options,
)
from .output import check_output_path, choose_format
from .process import notice

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


# what each option takes, as its help shows it ("" for a flag): typer's <str> says nothing
BENCH_METAVARS = {
    "--device": "cpu|cuda|cuda:N", "--dtype": "fp32|tf32|bf16|fp16", "--warmup": "SECONDS",
    "--min-time": "SECONDS", "--threads": "N", "--mode": "infer|train", "--optimizer": "sgd|adamw",
    "--amp": "", "--channels-last": "", "--compile": "", "--max-batch": "",
}  # fmt: skip


def _bench_option(*names: str, help: str, **kw: Any) -> Any:
    kw.setdefault("metavar", BENCH_METAVARS.get(names[0]))
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
    from ..benchmark import (
        BenchConfig,
        Breakdown,
        Mode,
        Optimizer,
        Precision,
        parse_bench_input,
        parse_device,
        resolve_variants,
    )

    config = BenchConfig(device=parse_device(device), precision=parse_choice(Precision, dtype, "--dtype"),
                         amp=amp, channels_last=channels_last, compile_mode=_compile_mode(compile, compile_mode),
                         warmup_s=warmup, min_time_s=min_time, threads=threads,
                         breakdown=parse_choice(Breakdown, breakdown, "--breakdown") if breakdown
                         else Breakdown.OFF, weights=weights, mode=parse_choice(Mode, mode, "--mode"),
                         optimizer=parse_choice(Optimizer, optimizer, "--optimizer"), top=top)  # fmt: skip
    batches, chw = parse_bench_input(input, batch)
    choose_format(format, output)
    if output is not None:  # a long run must not end on an --output it cannot write
        check_output_path(output)  # the whole pre-flight, the temporary file included
    sources = resolve_variants(arch or [None], functools.partial(open_arch, overrides=overrides))
    from ..benchmark import plan, run  # torch from here on
    from ..report.bench import bench_report, max_batch_report

    if max_batch:
        from ..benchmark import check_config, find_max_batch

        check_config(config)
        fits = [find_max_batch(source, chw, config) for source in sources]
        emit(max_batch_report(fits, config), format, output)
        return
    planned = plan(sources, batches, chw, config)
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
    from ..benchmark import Status

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
        notice(f"warning: {oom} of {len(statuses)} configurations ran out of memory (marked OOM)")
    if eager:
        notice(f"warning: {eager} of {len(statuses)} configurations fell back to eager under "
               "torch.compile (marked, not timed)")


def _compile_mode(compile: bool, mode: str | None) -> Any:
    from ..benchmark import CompileMode

    if mode is None:
        return CompileMode.DEFAULT if compile else None
    return parse_choice(CompileMode, mode, "--compile-mode")


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
