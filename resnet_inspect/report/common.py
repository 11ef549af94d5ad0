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
    from ..tracing.records import OutputRecord

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
        "outputs": [outputs_json(o) for o in trace.outputs],
        "dtype": trace.dtype,
        "layers": [layer_json(r) for r in layers],
        "totals": asdict(trace.totals),
        "operators": [asdict(o) for o in trace.operators],
        "uncounted": list(trace.uncounted),
        "field_assumed_global_after": list(trace.field_assumed_global_after),
        "warnings": list(trace_warnings(trace)),
    }


def outputs_json(o: OutputRecord) -> dict[str, Any]:
    return {"path": o.path, "shape": None if o.shape is None else list(o.shape), "type": o.type}


def trace_warnings(trace: Trace) -> tuple[str, ...]:
    """What a reader of the numbers must know: an input size the network handles badly, and
    a pass that ran on real tensors because the meta device could not run the forward."""
    real = (real_pass_warning(trace),) if trace.real_pass_reason else ()
    return (*real, *input_warnings(trace))


def real_pass_warning(trace: Trace) -> str:
    from ..tracing.realpass import real_pass_note

    return real_pass_note(trace.real_pass_reason)


_OUTPUTS_SHOWN = 8  # more are counted, not listed: the JSON has them all


def output_text(trace: Trace) -> str:
    """What the forward returns: one shape, every leaf of a tuple, list or dict with its
    path, or None."""
    if not trace.outputs:
        return "None (the forward returns no tensor)"
    texts = [_leaf_text(o) for o in trace.outputs[:_OUTPUTS_SHOWN]]
    more = len(trace.outputs) - _OUTPUTS_SHOWN
    if more > 0:
        texts.append(f"and {more} more (all in -f json)")
    return ", ".join(texts)


def _leaf_text(o: OutputRecord) -> str:
    if o.shape is not None:
        what = shape_text(o.shape)
    else:
        what = "None" if o.type == "NoneType" else f"{o.type} (not a tensor)"
    return f"{o.path} {what}" if o.path else what


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
        f"Input: {shape_text(trace.input_shape)}   Output{'s' if len(trace.outputs) > 1 else ''}: "
        f"{output_text(trace)}   "
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
    lines = [f"warning: {text}" for text in trace_warnings(trace)]
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
