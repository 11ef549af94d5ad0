"""From results (Trace, presets) to Reports: which columns each command shows, in what units.

Pure arrangement of numbers already computed; torch is not imported here.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .render import Bar, Column, Report, Table, human, human_bytes, shape_text
from .spec import PRESETS, ResNetSpec, format_value, spec_string

if TYPE_CHECKING:
    from .trace import LayerRecord, Trace

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


def _rf_cell(r: LayerRecord) -> Any:
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
        (_name_cell(r), r.type, r.output_shape, r.params, r.macs, _rf_cell(r), r.jump)
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
