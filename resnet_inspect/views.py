"""From results (Trace, presets) to Reports: which columns each command shows, in what units.

Pure arrangement of numbers already computed; torch is not imported here.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .render import Bar, Column, Report, Table, human, human_bytes, shape_text
from .spec import PRESETS, ResNetSpec, format_value, spec_string

if TYPE_CHECKING:
    from .tracing import LayerRecord, Trace

MACS_NOTE = "MACs: multiply-accumulates of convolution and linear layers (1 MAC = 2 FLOPs)."


def spec_line(spec: ResNetSpec) -> str:
    return spec_string(spec)


def layer_json(r: LayerRecord) -> dict[str, Any]:
    d = asdict(r)
    d["input_shape"] = list(r.input_shape)
    d["output_shape"] = list(r.output_shape)
    return d


def trace_json(trace: Trace, layers: list[LayerRecord]) -> dict[str, Any]:
    return {
        "spec": trace.spec.to_dict(),
        "spec_string": spec_string(trace.spec),
        "input_shape": list(trace.input_shape),
        "output_shape": list(trace.output_shape),
        "dtype": trace.dtype,
        "layers": [layer_json(r) for r in layers],
        "totals": asdict(trace.totals),
        "operators": [asdict(o) for o in trace.operators],
    }


def _name_cell(r: LayerRecord) -> str:
    return "  " * (r.depth - 1) + r.name


def rf_cell(r: LayerRecord | None) -> Any:
    """The receptive field for a table: 'global' once pooled; None where there is no layer."""
    if r is None:
        return None
    return "global" if r.receptive_field is None else r.receptive_field


def totals_lines(trace: Trace) -> tuple[str, ...]:
    t = trace.totals
    return (
        f"Params: {t.params:,} ({human(t.params)}), trainable {t.trainable_params:,}; "
        f"parameter memory {human_bytes(t.param_bytes)} ({trace.dtype})",
        f"MACs: {t.macs:,} ({human(t.macs)}MACs)   FLOPs: {t.flops:,} ({human(t.flops)}FLOPs)",
        f"Activations ({trace.dtype}): inference peak ~{human_bytes(t.peak_activation_bytes)}, "
        f"kept for backward ~{human_bytes(t.training_activation_bytes)}; "
        f"receptive field {t.receptive_field} px, output stride {t.jump}",
        f"Input: {shape_text(trace.input_shape)}   Output: {shape_text(trace.output_shape)}   "
        f"Spec: {spec_string(trace.spec)}",
    )


def summary_report(trace: Trace, depth: int) -> Report:
    layers = trace.at_depth(depth)
    columns = (
        Column("Layer", "left"), Column("Type", "left"), Column("Output shape"), Column("Params"),
        Column("MACs"), Column("RF"), Column("Stride"),
    )  # fmt: skip
    rows = tuple(
        (_name_cell(r), r.type, r.output_shape, r.params, r.macs, rf_cell(r), r.jump)
        for r in layers
    )
    styles = tuple("bold" if r.depth == 1 and not r.is_leaf else "" for r in layers)
    table = Table(
        title=f"{spec_string(trace.spec)} @ {shape_text(trace.input_shape)}",
        columns=columns,
        rows=rows,
        styles=styles,
        caption=f"{MACS_NOTE} RF: receptive field in input pixels; Stride: its effective stride.",
        footer=totals_lines(trace),
    )
    return Report(payload={"command": "summary", **trace_json(trace, layers)}, tables=(table,))


def list_report(params: dict[str, int]) -> Report:
    columns = (
        Column("Preset", "left"), Column("Block", "left"), Column("Layers", "left"),
        Column("Groups x width", "left"), Column("Stem", "left"), Column("Shortcut", "left"),
        Column("Params"),
    )  # fmt: skip
    rows = []
    for name, spec in PRESETS.items():
        gw = f"{spec.groups}x{spec.width_per_group}" if spec.block.value == "bottleneck" else "-"
        stem = f"{spec.stem.value}/{spec.stem_width}" + (" +avg_down" if spec.avg_down else "")
        rows.append((name, spec.block.value, format_value(spec.layers), gw, stem,
                     spec.shortcut.value, params[name]))  # fmt: skip
    payload = {
        "command": "list",
        "presets": [
            {"name": n, "spec": PRESETS[n].to_dict(), "params": params[n]} for n in PRESETS
        ],
    }
    table = Table(title="Presets", columns=columns, rows=tuple(rows),
                  caption="Any preset takes overrides: resnet50:groups=32,width_per_group=4")  # fmt: skip
    return Report(payload=payload, tables=(table,))


def share(part: int, total: int) -> Bar:
    return Bar(part / total if total else 0.0)


# --- flops -------------------------------------------------------------------------------------
FLOPS_NOTE = (
    "MACs: multiply-accumulates of convolution and linear layers. FLOPs: every floating-point "
    "operation: 2 per MAC plus normalisation, ReLU, pooling and residual additions."
)
FVCORE_NOTE = (
    "--counter fvcore: fvcore's FlopCountAnalysis on real tensors. Its 'flops' are MACs "
    "(conv, linear) plus its own rules for batch norm and adaptive "
    "pooling; it does not count ReLU, max-pool or the residual additions."
)


def _flops_rows(layers: list[LayerRecord], total_flops: int, by_stage: bool) -> tuple[tuple[Any, ...], ...]:
    return tuple(
        (r.name if by_stage else _name_cell(r), r.type, r.output_shape, r.params, r.macs, r.flops,
         share(r.flops, total_flops))
        for r in layers
    )  # fmt: skip


def _operator_table(trace: Trace, footer: tuple[str, ...]) -> Table:
    from .counting import OPERATOR_RULES

    total = trace.totals.flops
    rows = tuple(
        (o.operator, o.count, o.macs, o.flops, share(o.flops, total), OPERATOR_RULES[o.operator])
        for o in trace.operators
    )
    columns = (Column("Operator", "left"), Column("Calls"), Column("MACs"), Column("FLOPs"),
               Column("Share of FLOPs", "left"), Column("FLOPs rule", "left"))  # fmt: skip
    return Table(title="By operator", columns=columns, rows=rows, footer=footer)


def flops_report(trace: Trace, by: str, depth: int) -> Report:
    """The torch counter: our own accounting on the meta device."""
    title = f"{spec_string(trace.spec)} @ {shape_text(trace.input_shape)}: MACs and FLOPs"
    layers = trace.stages() if by == "stage" else trace.at_depth(depth)
    columns = (Column("Stage" if by == "stage" else "Layer", "left"), Column("Type", "left"),
               Column("Output shape"), Column("Params"), Column("MACs"), Column("FLOPs"),
               Column("Share of FLOPs", "left"))  # fmt: skip
    tables = []
    if by != "operator":
        tables.append(Table(title=title, columns=columns,
                            rows=_flops_rows(layers, trace.totals.flops, by == "stage")))  # fmt: skip
    tables.append(_operator_table(trace, footer=(FLOPS_NOTE, *totals_lines(trace))))
    payload = {"command": "flops", "counter": "torch", "by": by, **trace_json(trace, layers)}
    return Report(payload=payload, tables=tuple(tables))


def fvcore_report(trace: Trace, counts: dict[str, Any], by: str, depth: int) -> Report:
    """The fvcore counter, in the same table shape; MACs are compared with ours."""
    layers = trace.stages() if by == "stage" else trace.at_depth(depth)
    root = counts[""]
    total = root.fvcore_flops

    def of(name: str) -> Any:
        if by == "stage" and name in ("stem", "head"):
            parts = [counts[r.name] for r in trace.layers if r.depth == 1 and r.stage == name]
            return (sum(p.macs for p in parts), sum(p.fvcore_flops for p in parts))
        c = counts.get(name)
        return (c.macs, c.fvcore_flops) if c else (0, 0)

    rows = tuple(
        (r.name if by == "stage" else _name_cell(r), r.type, r.output_shape, r.params, *of(r.name),
         share(of(r.name)[1], total))
        for r in layers
    )  # fmt: skip
    columns = (Column("Stage" if by == "stage" else "Layer", "left"), Column("Type", "left"),
               Column("Output shape"), Column("Params"), Column("MACs"),
               Column("fvcore flops"), Column("Share", "left"))  # fmt: skip
    op_rows = tuple((op, n, share(n, total)) for op, n in root.by_operator)
    agree = "yes" if root.macs == trace.totals.macs else f"NO (torch counter: {trace.totals.macs:,})"
    footer = (
        FVCORE_NOTE,
        f"fvcore total: {total:,} ({human(total)}); its conv+linear MACs {root.macs:,} "
        f"agree with the torch counter: {agree}",
        f"Params: {trace.totals.params:,}   Input: {shape_text(trace.input_shape)}   "
        f"Spec: {spec_string(trace.spec)}",
    )
    tables = []
    title = f"{spec_string(trace.spec)} @ {shape_text(trace.input_shape)}: fvcore"
    if by != "operator":
        tables.append(Table(title=title, columns=columns, rows=rows))
    tables.append(Table(title="By operator (fvcore's names)",
                        columns=(Column("Operator", "left"), Column("fvcore flops"), Column("Share", "left")),
                        rows=op_rows, footer=footer))  # fmt: skip
    payload = {
        "command": "flops", "counter": "fvcore", "by": by,
        **trace_json(trace, layers),
        "fvcore": {
            "total": total, "macs": root.macs,
            "by_operator": dict(root.by_operator),
            "layers": {r.name: dict(zip(("macs", "fvcore_flops"), of(r.name), strict=True)) for r in layers},
        },
    }  # fmt: skip
    return Report(payload=payload, tables=tuple(tables))
