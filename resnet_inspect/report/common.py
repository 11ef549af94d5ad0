"""What several reports share: a trace as JSON, the totals lines, a name cell, a share bar."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..spec import ResNetSpec, spec_string
from ..tracing.checks import input_warnings
from ..tracing.costs import FALLBACK_RULE
from ..units import human, human_bytes, shape_text
from .document import Bar, Label, TreeName, tree_names

if TYPE_CHECKING:
    from ..tracing import LayerRecord, Trace

MACS_NOTE = "MACs: multiply-accumulates of convolution and linear layers (1 MAC = 2 FLOPs)."


def calls_note(layers: list[LayerRecord]) -> tuple[str, ...]:
    """Said under a table where a row stands for several calls of one module."""
    if not any(r.calls > 1 for r in layers):
        return ()
    return ("xN: a module that ran N times in the pass; its row sums the costs of all N calls "
            "and shows the last call's shapes and receptive field.",)  # fmt: skip


def spec_line(spec: ResNetSpec) -> str:
    return spec_string(spec)


def layer_json(r: LayerRecord) -> dict[str, Any]:
    d = asdict(r)
    d["input_shape"] = list(r.input_shape)
    d["output_shape"] = list(r.output_shape)
    return d


def trace_json(trace: Trace, layers: list[LayerRecord]) -> dict[str, Any]:
    source: dict[str, Any] = (
        {"spec": trace.spec.to_dict(), "spec_string": spec_string(trace.spec)}
        if trace.spec is not None else {"arch": trace.arch, "spec": None}
    )  # fmt: skip
    return {
        **source,
        "input_shape": list(trace.input_shape),
        "output_shape": list(trace.output_shape),
        "dtype": trace.dtype,
        "layers": [layer_json(r) for r in layers],
        "totals": asdict(trace.totals),
        "operators": [asdict(o) for o in trace.operators],
        "uncounted": list(trace.uncounted),
        "field_assumed_global_after": list(trace.field_assumed_global_after),
        "warnings": list(input_warnings(trace)),
    }


def name_cells(records: list[LayerRecord]) -> list[TreeName]:
    """Each row's name as a tree cell: the local name under its parent on screen."""
    return tree_names([r.name for r in records])


def rf_cell(r: LayerRecord | None) -> Any:
    """The receptive field for a table: 'global' once pooled; None where there is no layer,
    or where the module never ran itself (a container of branches)."""
    if r is None or not r.ran:
        return None
    return Label("global") if r.receptive_field is None else r.receptive_field


def totals_lines(trace: Trace) -> tuple[str, ...]:
    t = trace.totals
    return (
        f"Params: {t.params:,} ({human(t.params)}), trainable {t.trainable_params:,}; "
        f"parameter memory {human_bytes(t.param_bytes)} ({trace.dtype})",
        f"MACs: {t.macs:,} ({human(t.macs)}MACs)   FLOPs: {t.flops:,} ({human(t.flops)}FLOPs)",
        f"Activations ({trace.dtype}): inference peak "
        + ("~" if trace.spec is not None else "at least ~")  # a forward's own variables can hold more
        + f"{human_bytes(t.peak_activation_bytes)}, "
        f"kept for backward ~{human_bytes(t.training_activation_bytes)}; {field_text(trace)}",
        f"Input: {shape_text(trace.input_shape)}   Output: {shape_text(trace.output_shape)}   "
        + (f"Spec: {spec_string(trace.spec)}" if trace.spec is not None else f"Model: {trace.label}"),
        *counting_warnings(trace),
    )


def field_text(trace: Trace) -> str:
    t = trace.totals
    if t.receptive_field is None:
        return ("receptive field: not computed (no spatial output could be followed from the "
                "input through this model's operations)")  # fmt: skip
    where = "" if trace.spec is not None else " (of its last spatial output)"
    return f"receptive field {t.receptive_field} px, output stride {t.jump}{where}"


def counting_warnings(trace: Trace) -> tuple[str, ...]:
    """An input size the network handles badly; what the totals could not count, or counted
    without a rule of ours: never hidden."""
    lines = [f"warning: {text}" for text in input_warnings(trace)]
    if trace.uncounted:
        lines.append(f"warning: no cost rule and no fallback for {', '.join(trace.uncounted)}: "
                     "not counted in MACs or FLOPs")  # fmt: skip
    if trace.field_assumed_global_after:
        lines.append(f"note: receptive field assumed global after {', '.join(trace.field_assumed_global_after)}: "
                     "no rule says how it changes the field")  # fmt: skip
    fallback = [o.operator for o in trace.operators if o.rule == FALLBACK_RULE]
    if fallback:
        lines.append(f"note: {', '.join(fallback)} counted by torch's FLOP counter (no rule here)")
    return tuple(lines)


def share(part: int, total: int) -> Bar:
    return Bar(part / total if total else 0.0)
