"""From a BenchResult to a Report: the environment block, the timing table, the stage tables.

Assembly only: every number comes from the result types in ``benchmark/`` (their fields and
properties). A measurement becomes one record (:func:`measurement_record`, a stage
:func:`stage_record`); the JSON is those records and a table's cells are read from them, so the
two cannot drift apart. Here numbers are only put in a table's unit (ms, MiB, GFLOP/s).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from ..benchmark import MIN_SAMPLES, NOISE_THRESHOLD, ROUNDS, Breakdown, Status, quantile
from .charts import bench_charts
from .document import Bar, Column, Report, Table

if TYPE_CHECKING:
    from ..benchmark import (
        BatchFit,
        BenchConfig,
        BenchResult,
        Environment,
        LayerTiming,
        Measurement,
        StageTiming,
    )

Record = dict[str, Any]
Cell = Callable[[Record], Any]  # a table cell, read from a record

FLOPS_NOTE = (
    "FLOPs: every floating-point operation of the forward pass as the trace counts them: 2 per "
    "multiply-accumulate of convolution and linear layers, plus normalisation, ReLU, pooling "
    "and the residual additions (not MACs)."
)
TRAIN_FLOPS_NOTE = (  # the rule of benchmark/planning.py's BACKWARD_FACTOR
    "Training step FLOPs: the forward's, plus the backward at twice the forward for "
    "convolution and linear (input and weight gradients) and once the forward for every other "
    "operator; the optimizer's step (a few FLOPs per parameter) is not counted."
)
KNOWN_PEAKS = "H100 SXM, H100 PCIe, H200, A100"
MIB = 2**20


def _ms(seconds: float) -> float:
    return seconds * 1e3


def _flops_unit(env: Environment) -> tuple[str, float]:
    """TFLOP/s on a GPU; GFLOP/s on a CPU, where TFLOP/s would round to zero."""
    return ("TFLOP/s", 1e12) if env.is_cuda else ("GFLOP/s", 1e9)


# --- the records: the JSON, and what the tables read -------------------------------------------
def measurement_record(m: Measurement, env: Environment) -> Record:
    d: Record = {
        "variant": m.task.label, "spec": m.task.spec.to_dict() if m.task.spec is not None else None, "batch": m.task.batch,
        "input_shape": list(m.task.input_shape), "status": m.status.value, "flops": m.flops,
        "forward_flops": m.forward_flops,
    }  # fmt: skip
    if not m.ok:
        return d
    mem = m.memory
    over = m.layer_overhead
    d.update({
        "samples": m.samples, "median_ms": _ms(m.median_s), "p10_ms": _ms(m.p10_s),
        "p90_ms": _ms(m.p90_s), "iqr_ms": _ms(m.iqr_s), "min_ms": _ms(m.min_s),
        "max_ms": _ms(m.max_s), "noisy": m.noisy, "time_per_batch_ms": _ms(m.time_per_batch_s),
        "images_per_s": m.images_per_s, "flops_per_s": m.flops_per_s,
        "tflops_per_s": m.flops_per_s / 1e12,
        "utilisation": env.utilisation(m.flops_per_s),
        "memory": None if mem is None else {
            "allocated_bytes": mem.allocated_bytes, "reserved_bytes": mem.reserved_bytes,
            "resident_bytes": mem.resident_bytes, "weight_bytes": mem.weight_bytes,
            "gradient_bytes": mem.gradient_bytes, "optimizer_bytes": mem.optimizer_bytes,
            "saved_bytes": mem.saved_bytes, "saved_estimate_bytes": mem.saved_estimate_bytes,
        },
        "compile_s": m.compile_s,
        "compiled": None if m.compiled is None else {
            "graphs": m.compiled.graphs, "graph_breaks": m.compiled.graph_breaks,
            "recompiles": m.compiled.recompiles,
        },
        "times_ms": [_ms(t) for t in m.times_s],
        "block_times_ms": [_ms(t) for t in m.block_times_s],
        "stages": [stage_record(s) for s in m.stages],
        "layers": [layer_record(layer) for layer in _by_time(m.layers)],
        "outside_layers_ms": _ms(quantile(m.outside_layers_s, 0.5)) if m.outside_layers_s else None,
        "layer_overhead": None if over is None else {
            "plain_median_ms": _ms(over.plain_median_s), "hooked_median_ms": _ms(over.hooked_median_s),
            "share": over.share,
        },
    })  # fmt: skip
    return d


def _by_time(layers: tuple[LayerTiming, ...]) -> list[LayerTiming]:
    return sorted(layers, key=lambda layer: layer.median_s, reverse=True)


def layer_record(s: LayerTiming) -> Record:
    return {"layer": s.name, "type": s.type, **{k: v for k, v in stage_record(s).items() if k != "stage"}}


def stage_record(s: StageTiming) -> Record:
    return {"stage": s.name, "median_ms": _ms(s.median_s), "flops": s.flops,
            "bytes_moved": s.bytes_moved, "flops_per_byte": s.intensity,
            "flops_per_s": s.flops_per_s, "times_ms": [_ms(t) for t in s.times_s]}  # fmt: skip


def environment_record(env: Environment) -> Record:
    return {
        "torch": env.torch_version, "cuda": env.cuda_version, "cudnn": env.cudnn_version,
        "python": env.python_version, "device": env.device, "device_name": env.device_name,
        "sm_count": env.sm_count, "threads": env.threads, "dtype": env.precision.value,
        "amp": env.amp, "layout": env.layout,
        "compile": env.compile_mode.value if env.compile_mode else None,
        "tf32_matmul": env.tf32_matmul, "tf32_cudnn": env.tf32_cudnn,
        "cudnn_benchmark": env.cudnn_benchmark,
        "peak": None if env.peak is None else {
            "part": env.peak.part, "dense_tflops": dict(env.peak.tflops),
            "bandwidth_gb_s": env.peak.bandwidth_gb_s, "basis": env.peak_basis,
        },
    }  # fmt: skip


def bench_json(result: BenchResult, config: BenchConfig) -> Record:
    env = result.environment
    return {
        "command": "bench",
        "environment": environment_record(env),
        "method": {"mode": config.mode.value,
                   "optimizer": config.optimizer.value if config.training else None,
                   "warmup_s": config.warmup_s, "min_time_s": config.min_time_s,
                   "min_samples": MIN_SAMPLES, "rounds": ROUNDS,
                   "noise_threshold": NOISE_THRESHOLD, "breakdown": config.breakdown.value,
                   "top": config.top},
        "flops_note": FLOPS_NOTE + (" " + TRAIN_FLOPS_NOTE if config.training else ""),
        "interrupted": result.interrupted,
        "results": [measurement_record(m, env) for m in result.measurements],
    }


# --- the environment block ---------------------------------------------------------------------
def environment_table(env: Environment, config: BenchConfig) -> Table:
    """A table rather than header lines, so that CSV carries it too."""
    device = f"{env.device}: {env.device_name}" + (f", {env.sm_count} SMs" if env.sm_count else "")
    rows = (
        ("torch", env.torch_version),
        ("CUDA", env.cuda_version or "none (CPU build)"),
        ("cuDNN", str(env.cudnn_version) if env.cudnn_version else "none"),
        ("Python", env.python_version),
        ("device", device),
        ("threads", str(env.threads)),
        ("dtype", _precision_text(env)),
        ("layout", env.layout),
        ("compile", env.compile_mode.value if env.compile_mode else "off (eager)"),
        ("TF32", _tf32_text(env)),
        ("cudnn.benchmark", _cudnn_benchmark_text(env)),
        ("peak", _peak_text(env)),
        ("method", f"{_what(config)}; warm-up {config.warmup_s:g} s; per configuration "
                   f">= {config.min_time_s:g} s and >= {MIN_SAMPLES} samples, interleaved "
                   f"round-robin in >= {ROUNDS} turns; memory in a separate pass"),
    )  # fmt: skip
    return Table(title="Environment", columns=(Column("Setting", "left"), Column("Value", "left")),
                 rows=rows)  # fmt: skip


def _what(config: BenchConfig) -> str:
    if not config.training:
        return "eval + inference_mode"
    optimizer = "SGD, momentum 0.9" if config.optimizer.value == "sgd" else "AdamW"
    scaler = ", gradient scaler" if config.amp and config.precision.value == "fp16" else ""
    return f"train mode: forward, cross-entropy, backward, {optimizer}{scaler}"


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _precision_text(env: Environment) -> str:
    if env.amp:
        return f"{env.precision.value} autocast (float32 weights)"
    return env.precision.value


def _tf32_text(env: Environment) -> str:
    if not env.is_cuda:
        return "not applicable on the CPU"
    how = "turned on by --dtype tf32" if env.precision.value == "tf32" else "PyTorch's settings, unchanged"
    return f"matmul {_on(env.tf32_matmul)}, cuDNN convolutions {_on(env.tf32_cudnn)} ({how})"


def _cudnn_benchmark_text(env: Environment) -> str:
    if not env.is_cuda:
        return "not applicable on the CPU"
    return f"{_on(env.cudnn_benchmark)} (autotuned convolution algorithms, for this run)"


def _peak_text(env: Environment) -> str:
    if env.peak is None or env.peak_tflops is None:
        where = "on the CPU" if not env.is_cuda else f"for {env.device_name}"
        return f"no known dense peak {where} (known: {KNOWN_PEAKS}): no utilisation column"
    memory = f", memory {env.peak.bandwidth_gb_s:g} GB/s" if env.peak.bandwidth_gb_s else ""
    return f"{env.peak.part}, dense {env.peak_basis} {env.peak_tflops:g} TFLOP/s{memory}"


# --- the timing table --------------------------------------------------------------------------
def _timing_columns(env: Environment, config: BenchConfig) -> list[tuple[Column, Cell]]:
    """Each column with the record field its cells show."""
    unit, scale = _flops_unit(env)
    cols: list[tuple[Column, Cell]] = [
        (Column("Variant", "left"), itemgetter("variant")), (Column("Batch"), itemgetter("batch")),
        (Column("Median ms"), itemgetter("median_ms")), (Column("P10 ms", priority=3), itemgetter("p10_ms")),
        (Column("P90 ms", priority=3), itemgetter("p90_ms")), (Column("IQR ms", priority=4), itemgetter("iqr_ms")),
        (Column("N", priority=5), itemgetter("samples")), (Column("Images/s"), itemgetter("images_per_s")),
        (Column(unit, priority=2), lambda r: r["flops_per_s"] / scale),
    ]  # fmt: skip
    if env.peak_tflops is not None:
        cols.append((Column(f"% of {env.peak_basis} peak", "left"), lambda r: Bar(r["utilisation"])))
    if env.is_cuda:
        cols += [(Column("Alloc MiB", priority=1), _memory_mib("allocated_bytes")),
                 (Column("Reserved MiB", priority=6), _memory_mib("reserved_bytes"))]  # fmt: skip
    else:
        cols.append((Column("RSS MiB", priority=1), _memory_mib("resident_bytes")))
    if config.training:
        cols += [(Column("Weights MiB", priority=7), _memory_mib("weight_bytes")),
                 (Column("Grads MiB", priority=7), _memory_mib("gradient_bytes")),
                 (Column("Optim MiB", priority=7), _memory_mib("optimizer_bytes")),
                 (Column("Saved MiB", priority=6), _memory_mib("saved_bytes")),
                 (Column("Est. saved MiB", priority=6), _memory_mib("saved_estimate_bytes"))]  # fmt: skip
    if config.compile_mode is not None:
        cols += [(Column("Compile s", priority=5), itemgetter("compile_s")),
                 (Column("Graphs", priority=2), _compiled("graphs")), (Column("Breaks", priority=2), _compiled("graph_breaks")),
                 (Column("Recompiles", priority=2), _compiled("recompiles"))]  # fmt: skip
    return cols


def _compiled(key: str) -> Cell:
    def cell(record: Record) -> int | None:
        return record["compiled"][key] if record.get("compiled") else None

    return cell


def _memory_mib(key: str) -> Cell:
    def cell(record: Record) -> float | None:
        n = record["memory"][key] if record["memory"] else None
        return None if n is None else n / MIB

    return cell


def _row(m: Measurement, record: Record, cells: list[Cell]) -> tuple[Any, ...]:
    if not m.ok:  # its record has no timings
        text = {Status.OOM: "OOM", Status.NOT_COMPILED: "not compiled"}.get(m.status, "interrupted")
        return (record["variant"], record["batch"], text, *([None] * (len(cells) - 3)))
    return tuple(cell(record) for cell in cells)


def _caption(env: Environment, config: BenchConfig) -> str:
    unit, _ = _flops_unit(env)
    throughput = ("back-to-back iterations between CUDA events" if env.is_cuda
                  else "batch / median (a CPU forward pass is synchronous)")  # fmt: skip
    one = "training step" if config.training else "forward pass"
    memory = (f"Alloc: this configuration's peak: its weights, input and {one}'s working memory; "
              "Reserved: the caching allocator's peak reservation (whole process)"
              if env.is_cuda
              else f"RSS: the process's peak resident memory during one {one}")  # fmt: skip
    flops_note = FLOPS_NOTE
    if config.training:
        flops_note += (" " + TRAIN_FLOPS_NOTE + " Weights, Grads, Optim: tensor sizes of the "
                       "parameters and buffers, of one backward's gradients and of the optimizer's "
                       "state. Saved: the activations autograd keeps for backward, measured with "
                       "saved-tensor hooks on the eager model; Est. saved: the trace's estimate.")
    parts = [
        f"Latency: one {one} of the batch, timed iteration by iteration"
        + (" (synchronised)" if env.is_cuda else "")
        + ": median, 10th and 90th percentile, interquartile range, N samples (yellow: IQR over "
        f"{100 * NOISE_THRESHOLD:.0f}% of the median).",
        f"Images/s: {throughput}. {unit}: the trace's FLOPs / time per batch. {flops_note}",
        f"{memory}, measured in a separate pass.",
    ]
    if config.compile_mode is not None:
        parts.append("Compile s: the first call at this batch size (compilation), not in the latency. "
                     "Graphs, Breaks: graphs compiled and graph breaks found at that call; "
                     "Recompiles: frames compiled again while timed (0: it stayed compiled). A "
                     "configuration torch.compile would have run eagerly is marked 'not "
                     "compiled' and not timed.")
    return " ".join(parts)


def timing_table(result: BenchResult, records: list[Record], config: BenchConfig) -> Table:
    env = result.environment
    columns = _timing_columns(env, config)
    cells = [cell for _, cell in columns]
    title = f"Training step ({config.optimizer.value})" if config.training else "Forward pass"
    return Table(title=title, columns=tuple(column for column, _ in columns),
                 rows=tuple(_row(m, r, cells) for m, r in zip(result.measurements, records, strict=True)),
                 styles=tuple(_style(m) for m in result.measurements),
                 caption=_caption(env, config), footer=_warnings(result))  # fmt: skip


def _style(m: Measurement) -> str:
    if not m.ok:
        return "red"
    return "yellow" if m.noisy else ""


def _warnings(result: BenchResult) -> tuple[str, ...]:
    lines = []
    for m in result.measurements:
        if m.ok and m.noisy:
            lines.append(
                f"warning: {m.task.label} @ batch {m.task.batch} is noisy: IQR is "
                f"{100 * m.iqr_share:.0f}% of the median (over {100 * NOISE_THRESHOLD:.0f}%); "
                "close other work or raise --min-time"
            )
        if m.compiled is not None and m.compiled.recompiles:
            lines.append(f"warning: {m.task.label} @ batch {m.task.batch} recompiled "
                         f"{m.compiled.recompiles} times while timed")  # fmt: skip
        if m.status is Status.NOT_COMPILED:
            lines.append(f"not compiled: {m.task.label} @ batch {m.task.batch}: torch.compile would "
                         "have run it eagerly (its recompile limit); not timed")  # fmt: skip
        if m.status is Status.OOM:
            lines.append(f"out of memory: {m.task.label} @ batch {m.task.batch} (memory freed, "
                         "the other configurations went on; the batch size was not changed)")  # fmt: skip
    return tuple(lines)


# --- the per-stage roofline --------------------------------------------------------------------
def stage_table(m: Measurement, record: Record, env: Environment) -> Table:
    unit, scale = _flops_unit(env)
    ridge = env.ridge_flops_per_byte
    columns = [Column("Stage", "left"), Column("Median ms"), Column("Share", "left"),
               Column("GFLOPs", priority=2), Column("MiB moved", priority=3), Column("FLOP/byte", priority=1),
               Column(unit, priority=1)]  # fmt: skip
    if ridge is not None:
        columns.append(Column("Bound", "left"))
    rows = []
    for s, r in zip(m.stages, record["stages"], strict=True):
        row: list[Any] = [r["stage"], r["median_ms"], Bar(m.stage_share(s)), r["flops"] / 1e9,
                          r["bytes_moved"] / MIB, r["flops_per_byte"], r["flops_per_s"] / scale]  # fmt: skip
        bound = env.bound(s.intensity)
        if bound is not None:
            row.append(bound.value)
        rows.append(tuple(row))
    return Table(
        title=f"Stages of {m.task.label} @ batch {m.task.batch}",
        columns=tuple(columns),
        rows=tuple(rows),
        caption=_stage_caption(ridge),
        footer=(f"Sum of stage medians {_ms(m.stages_median_s):.3f} ms; whole forward pass median "
                f"{record['median_ms']:.3f} ms.",),
    )


def _stage_caption(ridge: float | None) -> str:
    text = (
        "Each stage timed on its own, eagerly (not compiled), the output of one feeding the next. "
        "MiB moved: every layer's weights, input and output, each once (no fusion, no cache reuse); "
        "FLOP/byte: arithmetic intensity. " + FLOPS_NOTE
    )
    if ridge is not None:
        text += f" Ridge point {ridge:.0f} FLOP/byte: below it a stage is memory-bound."
    return text


# --- the per-layer breakdown ------------------------------------------------------------------
def layer_table(m: Measurement, record: Record, env: Environment, config: BenchConfig) -> Table:
    unit, scale = _flops_unit(env)
    ridge = env.ridge_flops_per_byte
    columns = [Column("Layer", "left"), Column("Type", "left", priority=3), Column("Median ms"),
               Column("Share", "left"), Column("MFLOPs", priority=2), Column("FLOP/byte", priority=1),
               Column(unit, priority=1)]  # fmt: skip
    if ridge is not None:
        columns.append(Column("Bound", "left"))
    ordered = _by_time(m.layers)
    shown = ordered[: config.top] if config.top else ordered
    rows = []
    for s, r in zip(shown, record["layers"], strict=False):
        row: list[Any] = [r["layer"], r["type"], r["median_ms"], Bar(m.layer_share(s)),
                          r["flops"] / 1e6, r["flops_per_byte"], r["flops_per_s"] / scale]  # fmt: skip
        bound = env.bound(s.intensity)
        if bound is not None:
            row.append(bound.value)
        rows.append(tuple(row))
    over = record["layer_overhead"]
    footer = [
        f"Layers {_ms(sum(s.median_s for s in m.layers)):.3f} ms + outside the layers (additions, "
        f"glue) {record['outside_layers_ms']:.3f} ms = {_ms(m.layers_median_s):.3f} ms; the hooked "
        f"pass {over['hooked_median_ms']:.3f} ms.",
        f"Overhead of timing every layer: a pass takes {over['hooked_median_ms']:.3f} ms with the "
        f"hooks and {over['plain_median_ms']:.3f} ms without ({100 * over['share']:+.0f}%).",
    ]
    if len(shown) < len(ordered):
        footer.append(f"The {len(shown)} slowest of {len(ordered)} layers (--top {config.top}).")
    return Table(title=f"Layers of {m.task.label} @ batch {m.task.batch}", columns=tuple(columns),
                 rows=tuple(rows), caption=_layer_caption(ridge, config), footer=tuple(footer))  # fmt: skip


def _layer_caption(ridge: float | None, config: BenchConfig) -> str:
    text = (
        "Every leaf layer's forward, timed between hooks around it (the marks read after the "
        "pass), slowest first; the eager model"
        + (" (a compiled model fuses layers: these are eager times)" if config.compile_mode else "")
        + (", in train mode with autograd recording" if config.training else "")
        + ". Share: of the layers and the time outside them. FLOP/byte: the layer's FLOPs over "
        "its weights, input and output, each once. " + FLOPS_NOTE
    )
    if ridge is not None:
        text += f" Ridge point {ridge:.0f} FLOP/byte: below it a layer is memory-bound."
    return text


# --- the largest batch ---------------------------------------------------------------------------
def max_batch_report(fits: list[BatchFit], config: BenchConfig) -> Report:
    records: list[Record] = [{
        "variant": f.task.label, "input_shape": list(f.task.input_chw), "max_batch": f.task.batch,
        "measured": f.measured, "available_bytes": f.available_bytes, "basis": f.basis,
        "probes": [{"batch": b, "fits": ok} for b, ok in f.probes],
    } for f in fits]  # fmt: skip
    how = ("probed on the device: a real step at each size, out-of-memory caught and the memory "
           "freed" if config.is_cuda else
           "estimated (weights, inputs, activations from the trace) against the memory the "
           "process may use; nothing run, as an out-of-memory on the CPU kills the process")  # fmt: skip
    table = Table(
        title=f"Largest batch ({config.mode.value}, {config.precision.value}"
        + (" autocast" if config.amp else "") + f", {config.device})",
        columns=(Column("Variant", "left"), Column("Input", "left"), Column("Max batch"),
                 Column("Probes"), Column("Available MiB")),
        rows=tuple((r["variant"], "x".join(map(str, r["input_shape"])), r["max_batch"],
                    len(r["probes"]), None if r["available_bytes"] is None
                    else r["available_bytes"] / MIB) for r in records),
        caption=f"Bisection: the batch doubles from {2 if config.training else 1} until one does not "
        "fit, then the gap is "
        f"halved. Each size {how}. Available: {fits[0].basis if fits else 'unknown'}.",
    )  # fmt: skip
    payload = {"command": "bench", "max_batch": records, "mode": config.mode.value,
               "dtype": config.precision.value, "amp": config.amp, "device": config.device}  # fmt: skip
    return Report(payload=payload, tables=(table,))


# --- the report --------------------------------------------------------------------------------
def bench_report(result: BenchResult, config: BenchConfig) -> Report:
    env = result.environment
    payload = bench_json(result, config)
    records: list[Record] = payload["results"]
    tables = [environment_table(env, config), timing_table(result, records, config)]
    tables += [stage_table(m, r, env) for m, r in zip(result.measurements, records, strict=True)
               if m.ok and m.stages]  # fmt: skip
    if config.breakdown is Breakdown.LAYER:
        tables += [layer_table(m, r, env, config)
                   for m, r in zip(result.measurements, records, strict=True)
                   if m.ok and m.layers and m.layer_overhead]  # fmt: skip
    notes: list[str] = []
    if result.weights_ecosystem:
        notes.append(f"Weights: mapped from {result.weights_ecosystem} to this tool's names "
                     "(identify says what that layout assumes)")  # fmt: skip
    if result.interrupted:
        done = sum(m.ok for m in result.measurements)
        notes.append(f"interrupted: {done} of {len(result.measurements)} configurations finished")
    return Report(payload=payload, tables=tuple(tables), notes=tuple(notes), charts=bench_charts(result),
                  primary=1)  # fmt: skip  (the timings; the environment is in JSON)
