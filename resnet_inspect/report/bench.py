"""From a BenchResult to a Report: the environment block, the timing table, the stage tables.

Assembly only: every number comes from the result types in ``bench/`` (their fields and
properties). A measurement becomes one record (:func:`measurement_record`, a stage
:func:`stage_record`); the JSON is those records and a table's cells are read from them, so the
two cannot drift apart. Here numbers are only put in a table's unit (ms, MiB, GFLOP/s).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from ..bench import MIN_SAMPLES, NOISE_THRESHOLD, ROUNDS, Status
from ..spec import ResNetSpec
from .charts import bench_charts
from .document import Bar, Column, Report, Table

if TYPE_CHECKING:
    from ..bench import BenchConfig, BenchResult, Environment, Measurement, StageTiming

Record = dict[str, Any]
Cell = Callable[[Record], Any]  # a table cell, read from a record

FLOPS_NOTE = (
    "FLOPs: every floating-point operation of the forward pass as the trace counts them: 2 per "
    "multiply-accumulate of convolution and linear layers, plus normalisation, ReLU, pooling "
    "and the residual additions (not MACs)."
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
        "variant": m.task.label, "spec": m.task.spec.to_dict() if isinstance(m.task.spec, ResNetSpec) else None, "batch": m.task.batch,
        "input_shape": list(m.task.input_shape), "status": m.status.value, "flops": m.flops,
    }  # fmt: skip
    if not m.ok:
        return d
    mem = m.memory
    d.update({
        "samples": m.samples, "median_ms": _ms(m.median_s), "p10_ms": _ms(m.p10_s),
        "p90_ms": _ms(m.p90_s), "iqr_ms": _ms(m.iqr_s), "min_ms": _ms(m.min_s),
        "max_ms": _ms(m.max_s), "noisy": m.noisy, "time_per_batch_ms": _ms(m.time_per_batch_s),
        "images_per_s": m.images_per_s, "flops_per_s": m.flops_per_s,
        "tflops_per_s": m.flops_per_s / 1e12,
        "utilisation": env.utilisation(m.flops_per_s),
        "memory": None if mem is None else {"allocated_bytes": mem.allocated_bytes,
                                            "reserved_bytes": mem.reserved_bytes,
                                            "resident_bytes": mem.resident_bytes},
        "compile_s": m.compile_s,
        "times_ms": [_ms(t) for t in m.times_s],
        "block_times_ms": [_ms(t) for t in m.block_times_s],
        "stages": [stage_record(s) for s in m.stages],
    })  # fmt: skip
    return d


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
        "method": {"warmup_s": config.warmup_s, "min_time_s": config.min_time_s,
                   "min_samples": MIN_SAMPLES, "rounds": ROUNDS,
                   "noise_threshold": NOISE_THRESHOLD, "breakdown": config.breakdown},
        "flops_note": FLOPS_NOTE,
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
        ("method", f"eval + inference_mode; warm-up {config.warmup_s:g} s; per configuration "
                   f">= {config.min_time_s:g} s and >= {MIN_SAMPLES} samples, interleaved "
                   f"round-robin in >= {ROUNDS} turns; memory in a separate pass"),
    )  # fmt: skip
    return Table(title="Environment", columns=(Column("Setting", "left"), Column("Value", "left")),
                 rows=rows)  # fmt: skip


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
        (Column("Median ms"), itemgetter("median_ms")), (Column("P10 ms"), itemgetter("p10_ms")),
        (Column("P90 ms"), itemgetter("p90_ms")), (Column("IQR ms"), itemgetter("iqr_ms")),
        (Column("N"), itemgetter("samples")), (Column("Images/s"), itemgetter("images_per_s")),
        (Column(unit), lambda r: r["flops_per_s"] / scale),
    ]  # fmt: skip
    if env.peak_tflops is not None:
        cols.append((Column(f"% of {env.peak_basis} peak", "left"), lambda r: Bar(r["utilisation"])))
    if env.is_cuda:
        cols += [(Column("Alloc MiB"), _memory_mib("allocated_bytes")),
                 (Column("Reserved MiB"), _memory_mib("reserved_bytes"))]  # fmt: skip
    else:
        cols.append((Column("RSS MiB"), _memory_mib("resident_bytes")))
    if config.compile_mode is not None:
        cols.append((Column("Compile s"), itemgetter("compile_s")))
    return cols


def _memory_mib(key: str) -> Cell:
    def cell(record: Record) -> float | None:
        n = record["memory"][key] if record["memory"] else None
        return None if n is None else n / MIB

    return cell


def _row(m: Measurement, record: Record, cells: list[Cell]) -> tuple[Any, ...]:
    if not m.ok:  # its record has no timings
        text = "OOM" if m.status is Status.OOM else "interrupted"
        return (record["variant"], record["batch"], text, *([None] * (len(cells) - 3)))
    return tuple(cell(record) for cell in cells)


def _caption(env: Environment, config: BenchConfig) -> str:
    unit, _ = _flops_unit(env)
    throughput = ("back-to-back iterations between CUDA events" if env.is_cuda
                  else "batch / median (a CPU forward pass is synchronous)")  # fmt: skip
    memory = ("Alloc: this configuration's peak: its weights, input and forward working memory; "
              "Reserved: the caching allocator's peak reservation (whole process)"
              if env.is_cuda
              else "RSS: the process's peak resident memory during one forward pass")  # fmt: skip
    parts = [
        "Latency: one forward pass of the batch, timed iteration by iteration"
        + (" (synchronised)" if env.is_cuda else "")
        + ": median, 10th and 90th percentile, interquartile range, N samples (yellow: IQR over "
        f"{100 * NOISE_THRESHOLD:.0f}% of the median).",
        f"Images/s: {throughput}. {unit}: the trace's FLOPs / time per batch. {FLOPS_NOTE}",
        f"{memory}, measured in a separate pass.",
    ]
    if config.compile_mode is not None:
        parts.append("Compile s: the first call at this batch size (compilation), not in the latency.")
    return " ".join(parts)


def timing_table(result: BenchResult, records: list[Record], config: BenchConfig) -> Table:
    env = result.environment
    columns = _timing_columns(env, config)
    cells = [cell for _, cell in columns]
    return Table(title="Forward pass", columns=tuple(column for column, _ in columns),
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
        if m.status is Status.OOM:
            lines.append(f"out of memory: {m.task.label} @ batch {m.task.batch} (memory freed, "
                         "the other configurations went on; the batch size was not changed)")  # fmt: skip
    return tuple(lines)


# --- the per-stage roofline --------------------------------------------------------------------
def stage_table(m: Measurement, record: Record, env: Environment) -> Table:
    unit, scale = _flops_unit(env)
    ridge = env.ridge_flops_per_byte
    columns = [Column("Stage", "left"), Column("Median ms"), Column("Share", "left"),
               Column("GFLOPs"), Column("MiB moved"), Column("FLOP/byte"), Column(unit)]  # fmt: skip
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


# --- the report --------------------------------------------------------------------------------
def bench_report(result: BenchResult, config: BenchConfig) -> Report:
    env = result.environment
    payload = bench_json(result, config)
    records: list[Record] = payload["results"]
    tables = [environment_table(env, config), timing_table(result, records, config)]
    tables += [stage_table(m, r, env) for m, r in zip(result.measurements, records, strict=True)
               if m.ok and m.stages]  # fmt: skip
    notes: list[str] = []
    if result.interrupted:
        done = sum(m.ok for m in result.measurements)
        notes.append(f"interrupted: {done} of {len(result.measurements)} configurations finished")
    return Report(payload=payload, tables=tuple(tables), notes=tuple(notes), charts=bench_charts(result),
                  primary=1)  # fmt: skip  (the timings; the environment is in JSON)
