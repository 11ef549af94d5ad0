"""The Python API, in the habits of torchinfo and friends: one call, a result that prints.

Each function takes a model (any ``nn.Module``, one of ours included), a :class:`ResNetSpec`, or
what the command line takes (a preset, a spec string, ``my_resnet.py:Net``), and returns a
:class:`Result`: it prints as the command's rich table in a terminal, renders as an HTML table
in Jupyter, and gives plain records for pandas (``pd.DataFrame(result.records())``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .choices import parse_choice
from .errors import UsageError
from .units import DType

if TYPE_CHECKING:  # what the functions import when called: the package's import stays light
    from .report.document import Report
    from .report.flops import By
    from .tracediff import Align


@dataclass(frozen=True, eq=False)
class Result:
    """A command's result: ``data`` (the computed record: a Trace, a TraceDiff, a
    StructureMatch, a BenchResult) and its ``report`` (tables and the JSON payload)."""

    data: Any
    report: Report
    rows_key: str = "layers"

    def to_dict(self) -> dict[str, Any]:
        """The JSON document the command line writes with ``--format json``, schema version included."""
        return self.report.document()

    def records(self) -> list[dict[str, Any]]:
        """One plain dict per row (per layer, per departure, per configuration): for pandas."""
        rows = self.report.payload.get(self.rows_key, [])
        return [dict(r) if isinstance(r, dict) else {"value": r} for r in rows]

    def __str__(self) -> str:
        from .render import Format, render

        return render(self.report, Format.TABLE, width=120)

    def __rich__(self) -> Any:
        from rich.console import Group

        from .render import rich_renderables

        return Group(*rich_renderables(self.report))

    def _repr_html_(self) -> str:
        from .render.html_format import html_fragment

        return html_fragment(self.report)


def _input(input_size: Sequence[int] | None) -> tuple[int, int, int, int] | None:
    """The caller's input size, checked; None: each model's own default."""
    if input_size is None:
        return None
    shape = tuple(input_size)
    if len(shape) != 4 or not all(isinstance(v, int) and v > 0 for v in shape):
        raise UsageError(f"input_size {input_size!r}: expected four positive ints (batch, channels, "
                         "height, width), e.g. (1, 3, 224, 224)", subject="input_size")  # fmt: skip
    b, c, h, w = shape
    return b, c, h, w


def _trace(model_or_spec: Any, input_size: Sequence[int] | None, dtype: str = "float32") -> Any:
    """Trace what the caller gave: an nn.Module as it is, else a spec or ARCH text."""
    from .sources import open_source

    source = open_source(model_or_spec, subject="model_or_spec")
    return source.trace(_input(input_size), dtype)


def summary(model_or_spec: Any, input_size: Sequence[int] | None = None, depth: int = 2,
            dtype: DType | str = "float32") -> Result:  # fmt: skip
    """Per-module output shapes, parameters, MACs and receptive field.

    >>> import resnet_inspect
    >>> s = resnet_inspect.summary("resnet18", input_size=(1, 3, 224, 224))
    >>> s.data.totals.params
    11689512
    """
    from .report.summary import summary_report

    _check_depth(depth)
    trace = _trace(model_or_spec, input_size, parse_choice(DType, dtype, "dtype").value)
    return Result(trace, summary_report(trace, depth))


def _check_depth(depth: int) -> None:
    if depth < 1:
        raise UsageError(f"depth {depth}: must be at least 1", subject="depth")


def flops(model_or_spec: Any, input_size: Sequence[int] | None = None, by: By | str = "layer",
          depth: int = 2) -> Result:  # fmt: skip
    """MACs and FLOPs per layer (``by="layer"``), stage or operator.

    >>> r = resnet_inspect.flops("resnet50", by="stage")   # doctest: +SKIP
    >>> r.data.totals.macs
    4089184256
    """
    from .report.flops import By, flops_report

    rows = parse_choice(By, by, "by")
    _check_depth(depth)
    trace = _trace(model_or_spec, input_size)
    return Result(trace, flops_report(trace, rows, depth))


def diff(a: Any, b: Any, input_size: Sequence[int] | None = None, depth: int = 2,
         align: Align | str = "auto", weights: tuple[str | None, str | None] = (None, None)) -> Result:  # fmt: skip
    """Two models side by side, and whether they compute the same function; layers aligned
    by name (two of our variants), else by computation (``align``); ``weights``: checkpoints
    for A and B, loaded strictly before the comparison. The comparison is in
    ``.data.function`` (``.same``, ``.text``, ``.proof``).

    >>> d = resnet_inspect.diff("resnet18", my_model)   # doctest: +SKIP
    >>> d.data.identical, d.data.function.same
    (True, True)
    """
    from .report.diff import diff_report
    from .sources import open_source
    from .tracediff import Align, diff_sources

    how = parse_choice(Align, align, "align")
    side_a, side_b = open_source(a, subject="a", named="A"), open_source(b, subject="b", named="B")
    for source, path, flag in (
        (side_a, weights[0], "weights[0]"),
        (side_b, weights[1], "weights[1]"),
    ):
        if path is not None:
            source.verify_weights(path, flag)
    result = diff_sources(
        side_a, side_b, _input(input_size), align=how, weights=weights
    )  # None: each its own
    return Result(result, diff_report(result, depth))


def identify(target: Any, input_size: Sequence[int] | None = None, reference: Any = None,
             weights: str | None = None) -> Result:  # fmt: skip
    """Which variant ``target`` is: a checkpoint file (read as data: the preset or spec
    string it holds, proved by loading it strictly), or a model (an nn.Module, file.py:Name,
    a preset or spec string): the nearest preset by structure (or ``reference``, a preset or
    spec string), every departure from it, and the proof: both run on the same random inputs
    with the same weights (``weights``, a checkpoint loaded into the model first; else drawn,
    seeded). The comparison is in ``.data.proof``.

    >>> r = resnet_inspect.identify(my_resnet, reference="resnet50")   # doctest: +SKIP
    >>> r.data.verdict                                                   # doctest: +SKIP
    'matches resnet50 exactly: computes the same function as resnet50, outputs equal on 3 random inputs (...)'
    >>> resnet_inspect.identify("weights.pth").data.proved   # doctest: +SKIP
    True
    """
    from .report.identify import identified_report
    from .sources import EVERYTHING, Kind, open_source

    source = open_source(target, subject="target", accept=EVERYTHING)
    spec = (
        None
        if reference is None
        else open_source(reference, subject="reference", accept={Kind.SPEC}, named="reference").spec
    )
    found = source.identify(_input(input_size), spec, weights)
    if found.checkpoint is not None:
        return Result(found.checkpoint, identified_report(found), rows_key="evidence")
    return Result(found.match, identified_report(found), rows_key="departures")


def convert(path: Any, to: str = "hf", output: Any = None) -> Result:
    """Write the checkpoint at ``path`` in another layout (``to``: "torchvision", "timm" or
    "hf"), to ``output`` (.safetensors or .pth; None: nothing written), and prove it: read
    back, loaded strictly into the identified variant, every value bit-identical. ``.data``:
    what was written where, the proof, the input the weights expect, and the converted state
    dict (``.data.tensors``).

    >>> r = resnet_inspect.convert("resnet50.pth", to="hf")   # doctest: +SKIP
    >>> r.data.proof.proved, sorted(r.data.tensors)[0]
    (True, 'classifier.1.bias')
    """
    from .conversion import Target
    from .conversion import convert as run_convert
    from .report.convert import convert_report

    target = parse_choice(Target, to, "to")
    done = run_convert(path, target, output, label="path", output_label="output")
    return Result(done, convert_report(done), rows_key="none")


def bench(variants: Any, batches: Sequence[int] = (1,), **config: Any) -> Result:
    """Time the forward pass of one or more of our variants (presets, spec strings, specs);
    ``config``: :class:`~resnet_inspect.benchmark.BenchConfig`'s fields (``device="cuda"``,
    ``min_time_s=1.0``, ...).

    >>> r = resnet_inspect.bench(["resnet18", "resnet50"], batches=[1, 8], min_time_s=0.5)  # doctest: +SKIP
    """
    from . import benchmark as bench_pkg
    from .report.bench import bench_report

    chosen = (
        list(variants) if isinstance(variants, (list, tuple)) else [variants]
    )  # one, or several
    cfg = bench_pkg.BenchConfig(**config)
    result = bench_pkg.run(bench_pkg.plan(chosen, batches, config=cfg))
    return Result(result, bench_report(result, cfg), rows_key="results")
