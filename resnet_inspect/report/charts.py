"""The charts of each report, as data: which numbers a reader would rather see than read.

Every number comes from the result records (Trace, TraceDiff, BenchResult); nothing here
measures or counts, it only picks and orders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .document import Chart, Series

if TYPE_CHECKING:
    from ..benchmark import BenchResult
    from ..tracediff import TraceDiff
    from ..tracing import Trace


def trace_charts(trace: Trace) -> tuple[Chart, ...]:
    """FLOPs and parameters per stage; receptive field and resolution through the network."""
    stages = trace.stages()
    names = tuple(r.name for r in stages)
    spatial = [r for r in trace.layers if r.depth <= 2 and len(r.output_shape) == 4
               and r.receptive_field is not None and (r.depth == 1 or r.is_block)]  # fmt: skip
    # not the stage containers (layerN; resnetv2's ``stages``, whose stage is ""): their blocks are
    spatial = [r for r in spatial if r.stage and not (r.depth == 1 and r.stage.startswith("layer"))]
    return (
        Chart("FLOPs per stage", "bar", "stage", "GFLOPs", names,
              (Series("FLOPs", tuple(r.flops / 1e9 for r in stages)),)),
        Chart("Parameters per stage", "bar", "stage", "millions", names,
              (Series("parameters", tuple(r.params / 1e6 for r in stages)),)),
        Chart(
            "Receptive field and resolution through the network", "line", "module", "pixels",
            tuple(r.name for r in spatial),
            (Series("receptive field", tuple(float(r.receptive_field or 0) for r in spatial)),
             Series("feature map side", tuple(float(r.output_shape[-1]) for r in spatial))),
            log_y=True, note="Each block's output: the receptive field grows as the map shrinks.",
        ),
    )  # fmt: skip


# Where a relative difference is drawn on a log scale: 0 (the same bits) has no place there,
# so anything below this floor is drawn on it; float32's rounding is 6e-8, well above.
ERROR_FLOOR = 1e-9


def diff_charts(d: TraceDiff) -> tuple[Chart, ...]:
    names = tuple(s.name for s in d.stages)

    def values(side: str, field: str, scale: float) -> tuple[float | None, ...]:
        rows = [getattr(s, side) for s in d.stages]
        return tuple(None if r is None else getattr(r, field) / scale for r in rows)

    return (
        Chart("MACs per stage, A and B", "bar", "stage", "GMACs", names,
              (Series("A", values("a", "macs", 1e9)), Series("B", values("b", "macs", 1e9)))),
        Chart("Parameters per stage, A and B", "bar", "stage", "millions", names,
              (Series("A", values("a", "params", 1e6)), Series("B", values("b", "params", 1e6)))),
        *function_charts(d),
    )  # fmt: skip


def function_charts(d: TraceDiff) -> tuple[Chart, ...]:
    """Where A and B part: each mapped module's relative L2 difference along the network, its
    own (B's module on A's input) and the propagated one (a normal run), against the
    tolerance; only where the outputs were compared and differ (else nothing was localised)."""
    proof = d.function.proof if d.function is not None else None
    loc = proof.localisation if proof is not None else None
    if loc is None or not loc.errors:
        return ()
    errors = loc.errors
    names = tuple(
        e.module + (f" #{e.call + 1}" if e.call else "") if e.module else "(output)" for e in errors
    )

    def floored(values: list[float | None]) -> tuple[float | None, ...]:
        return tuple(None if v is None else max(v, ERROR_FLOOR) for v in values)

    return (
        Chart("Relative difference of B from A, module by module", "line", "module (A's names, in the order they finish)",
              "relative L2 difference", names,
              (Series("own (B's module on A's input)", floored([e.own for e in errors])),
               Series("propagated (normal run)", floored([e.propagated for e in errors])),
               Series("tolerance", (loc.tolerance,) * len(errors))),
              log_y=True, note=f"Input #1 of the comparison. Log scale; below {ERROR_FLOOR:g} (equal bits "
              "included) drawn at that floor. The first own error above the tolerance is where they part."),
    )  # fmt: skip


def bench_charts(result: BenchResult) -> tuple[Chart, ...]:
    """Throughput against batch size, the latency distribution, and the per-stage roofline."""
    done = [m for m in result.measurements if m.ok]
    if not done:
        return ()
    variants = list(dict.fromkeys(m.task.label for m in done))
    batches = sorted({m.task.batch for m in done})
    by = {(m.task.label, m.task.batch): m for m in done}
    charts = [
        Chart(
            "Throughput against batch size", "line", "batch size", "images/s", (),
            tuple(Series(v, tuple(by[(v, b)].images_per_s if (v, b) in by else None for b in batches))
                  for v in variants),
            x=tuple(float(b) for b in batches), log_x=len(batches) > 2,
        ),
        Chart(
            "Latency per configuration", "box", "configuration", "ms",
            tuple(f"{m.task.label} @ {m.task.batch}" for m in done),
            samples=tuple(tuple(t * 1e3 for t in m.times_s) for m in done),
            note="Each sample: one forward pass of the batch. Box: quartiles; whiskers: 1.5 IQR.",
        ),
    ]  # fmt: skip
    staged = [m for m in done if m.stages]
    if staged:
        env = result.environment
        part, peak = env.peak, env.peak_tflops
        bandwidth = part.bandwidth_gb_s if part else None
        ceilings = (
            ((part.part, peak * 1e12, bandwidth * 1e9),) if part and peak and bandwidth else ()
        )
        charts.append(Chart(
            "Per-stage roofline", "scatter", "FLOPs per byte moved", "FLOP/s", (),
            points=tuple((s.intensity, s.flops_per_s, f"{s.name} ({m.task.label} @ {m.task.batch})")
                         for m in staged for s in m.stages if s.intensity > 0),
            ceilings=ceilings, log_x=True, log_y=True,
            note="Bytes moved: weights, input and output of every layer, each once.",
        ))  # fmt: skip
    return tuple(charts)
