"""bench's training step, per-layer breakdown, compiled runs, the largest batch, and the checks
made before a run (memory, numbers, --output, SIGTERM). CPU, on a tiny model; CUDA-only paths
skip where there is no GPU."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from resnet_inspect import benchmark as bench
from resnet_inspect.benchmark import (
    BenchConfig,
    BenchTask,
    Breakdown,
    Mode,
    Optimizer,
    Precision,
    Status,
    compiled,
    engine,
    fit,
    memory,
    run_bench,
    training,
)
from resnet_inspect.cli import app
from resnet_inspect.errors import RuntimeFailure, UsageError
from resnet_inspect.sources import open_source

TINY = "resnet18:layers=1,1,1,1,widths=8,16,32,64"
TINY_ARGS = (TINY, "--input", "3x32x32", "--min-time", "0.05", "--warmup", "0.01", "--threads", "1")
TRAIN = BenchConfig(warmup_s=0.01, min_time_s=0.05, threads=1, mode=Mode.TRAIN)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def tiny_task(batch: int = 2) -> BenchTask:
    return BenchTask(open_source(TINY), batch, (3, 32, 32))


def train_parts(config: BenchConfig, batch: int = 2) -> training.TrainParts:
    task = tiny_task(batch)
    model = engine._make_model(task.source, config)
    x = engine.make_input(task, config)
    return training.TrainParts(model, training.make_optimizer(model, config), training.make_scaler(config),
                               x, training.make_target(task, task.spec.num_classes, "cpu"))  # fmt: skip


# --- the training step ---------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", list(Optimizer))
def test_a_train_step_changes_the_weights_and_keeps_optimizer_state(optimizer: Optimizer) -> None:
    config = BenchConfig(mode=Mode.TRAIN, optimizer=optimizer)
    parts = train_parts(config)
    before = {n: p.detach().clone() for n, p in parts.model.named_parameters()}
    running = parts.model.get_submodule("bn1").running_mean.clone()  # type: ignore[operator]
    assert parts.model.training
    training.train_step(parts, parts.model, config)()
    assert all(not torch.equal(before[n], p) for n, p in parts.model.named_parameters() if n.endswith("weight"))
    assert not torch.equal(running, parts.model.get_submodule("bn1").running_mean)  # type: ignore[operator]
    assert all(p.grad is None for p in parts.model.parameters())  # set to None after the step
    params = sum(p.numel() * 4 for p in parts.model.parameters())
    state = training.optimizer_state_bytes(parts.optimizer)
    if optimizer is Optimizer.SGD:  # one momentum buffer per parameter
        assert state == params
    else:  # AdamW: two moments per parameter, and a float32 step count per tensor
        assert state == 2 * params + 4 * len(list(parts.model.parameters()))


def test_train_run_reports_the_step_flops_and_memory_parts() -> None:
    planned = bench.plan([TINY], [2], (3, 32, 32), TRAIN)
    (task,) = planned.tasks
    trace = planned.traces[task]
    # by the stated rule: backward = 2x forward for convolution and linear, 1x for the rest
    conv_linear = sum(r.self_flops for r in trace.layers if r.operator in ("convolution", "linear"))
    other = sum(r.self_flops for r in trace.layers) - conv_linear
    assert conv_linear + other == trace.totals.flops
    assert planned.step_flops(task) == trace.totals.flops + 2 * conv_linear + other
    (m,) = bench.run(planned).measurements
    assert m.ok and m.flops == planned.step_flops(task) and m.forward_flops == trace.totals.flops
    mem = m.memory
    assert mem is not None and mem.weight_bytes and mem.gradient_bytes and mem.optimizer_bytes
    params = trace.totals.params * 4
    assert mem.gradient_bytes == params == mem.optimizer_bytes  # SGD: one momentum buffer
    assert mem.saved_bytes and mem.saved_estimate_bytes == trace.totals.training_activation_bytes
    assert abs(mem.saved_bytes - mem.saved_estimate_bytes) < 0.25 * mem.saved_estimate_bytes


@needs_cuda
def test_fp16_amp_training_uses_a_gradient_scaler_on_cuda() -> None:
    config = BenchConfig(device="cuda", precision=Precision.FP16, amp=True, mode=Mode.TRAIN,
                         warmup_s=0.0, min_time_s=0.05)  # fmt: skip
    assert training.make_scaler(config) is not None
    result = run_bench([tiny_task(4)], config)
    m = result.measurements[0]
    assert m.ok and m.memory is not None and (m.memory.allocated_bytes or 0) > 0


def test_training_refuses_what_cannot_train() -> None:
    with pytest.raises(UsageError, match=r"^mode train: fp16") as caught:
        bench.plan([TINY], [2], (3, 32, 32), BenchConfig(mode=Mode.TRAIN, precision=Precision.FP16))
    assert caught.value.subject == "mode"
    with pytest.raises(UsageError, match=r"^batches 1: training .* one value per channel") as caught:
        bench.plan([TINY], [1], (3, 32, 32), TRAIN)
    assert caught.value.subject == "batches"


def test_train_mode_on_the_command_line(runner: CliRunner) -> None:
    result = runner.invoke(app, ["bench", *TINY_ARGS, "--batch", "2", "--mode", "train",
                                 "--optimizer", "adamw", "-f", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["method"]["mode"] == "train" and data["method"]["optimizer"] == "adamw"
    assert "backward at twice the forward" in data["flops_note"]
    row = data["results"][0]
    assert row["flops"] > 2 * row["forward_flops"]
    assert row["memory"]["optimizer_bytes"] > row["memory"]["gradient_bytes"]  # two moments
    table = runner.invoke(app, ["bench", *TINY_ARGS, "--batch", "2", "--mode", "train"])
    out = " ".join(table.stdout.split())
    assert "Training step (sgd)" in out and "twice the forward for convolution and linear" in out
    csv = runner.invoke(app, ["bench", *TINY_ARGS, "--batch", "2", "--mode", "train", "-f", "csv"]).stdout
    header = csv.splitlines()[0]  # one tidy table: the timings
    assert header.endswith("rss_mib,weights_mib,grads_mib,optim_mib,saved_mib,est_saved_mib")


# --- the per-layer breakdown ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def layered() -> bench.Measurement:
    config = BenchConfig(warmup_s=0.01, min_time_s=0.1, threads=1, breakdown=Breakdown.LAYER)
    planned = bench.plan([TINY], [2], (3, 32, 32), config)
    (m,) = bench.run(planned).measurements
    return m


def test_layer_breakdown_times_every_leaf_with_its_costs(layered: bench.Measurement) -> None:
    from resnet_inspect.tracing import trace_spec

    trace = trace_spec(layered.task.spec, layered.task.input_shape)
    leaves = {r.name: r for r in trace.layers if r.is_leaf}
    assert {layer.name for layer in layered.layers} == set(leaves)
    for layer in layered.layers:
        assert layer.samples >= bench.MIN_SAMPLES and layer.flops == leaves[layer.name].flops
        assert layer.type == leaves[layer.name].type
    assert sum(layer.flops for layer in layered.layers) <= trace.totals.flops  # additions outside


def test_layer_breakdown_adds_up_to_the_whole_pass(layered: bench.Measurement) -> None:
    over = layered.layer_overhead
    assert over is not None and over.plain_median_s > 0 and over.hooked_median_s > 0
    # pass by pass, the layers and the time between them make up the whole hooked pass, and
    # the layers never overlap (no time counted twice); no timing bound: a shared CI machine
    # stalls single passes by tens of milliseconds
    passes = len(over.hooked_times_s)
    assert len(layered.outside_layers_s) == passes and all(len(la.times_s) == passes for la in layered.layers)
    for i, total in enumerate(over.hooked_times_s):
        layers = sum(layer.times_s[i] for layer in layered.layers)
        assert layers + layered.outside_layers_s[i] == pytest.approx(total, rel=1e-9)
        assert 0 < layers <= total
    assert over.share == pytest.approx(over.hooked_median_s / over.plain_median_s - 1)


def test_layer_table_shows_the_top_n_slowest(runner: CliRunner) -> None:
    result = runner.invoke(app, ["bench", *TINY_ARGS, "--breakdown", "layer", "--top", "3", "-f", "json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["results"][0]
    times = [layer["median_ms"] for layer in row["layers"]]
    assert times == sorted(times, reverse=True) and len(times) > 3  # JSON keeps every layer
    assert row["layer_overhead"]["hooked_median_ms"] > 0
    table = runner.invoke(app, ["bench", *TINY_ARGS, "--breakdown", "layer", "--top", "3", "-f", "markdown"])
    section = table.stdout.split("### Layers of")[1].strip().splitlines()
    assert sum(line.startswith("| ") for line in section[:8]) == 1 + 3  # header, three rows
    assert "Overhead of timing every layer" in runner.invoke(
        app, ["bench", *TINY_ARGS, "--breakdown", "layer", "--top", "3"]).stdout  # fmt: skip


# --- compiled means compiled ---------------------------------------------------------------------
def _eager_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch._dynamo for real, without inductor's C++ compilation (minutes on a CPU)."""
    monkeypatch.setattr(compiled, "compile_model",
                        lambda model, config: torch.compile(model, backend="eager", dynamic=False))  # fmt: skip


def test_a_sweep_longer_than_the_recompile_limit_stays_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    _eager_backend(monkeypatch)
    torch._dynamo.reset()
    sizes = range(1, 10)  # nine batch sizes: one more than torch's default limit of 8 graphs
    config = BenchConfig(warmup_s=0.0, min_time_s=0.02, threads=1, compile_mode=bench.CompileMode.DEFAULT)
    result = run_bench([tiny_task(b) for b in sizes], config)
    for m in result.measurements:
        assert m.status is Status.OK and m.compiled is not None, m.status
        assert m.compiled.graphs >= 1 and m.compiled.graph_breaks == 0 and m.compiled.recompiles == 0
    assert torch._dynamo.config.recompile_limit == 8  # restored


def test_an_eager_fallback_is_marked_never_timed_as_compiled(monkeypatch: pytest.MonkeyPatch,
                                                             runner: CliRunner) -> None:  # fmt: skip
    monkeypatch.setattr(compiled, "compile_model", lambda model, config: model)  # no graph at all
    result = runner.invoke(app, ["bench", *TINY_ARGS, "--compile", "-f", "json"])
    assert result.exit_code == 1, result.output
    assert "fell back to eager" in result.stderr and result.stdout == ""
    _eager_backend(monkeypatch)
    torch._dynamo.reset()

    class _Limit:  # torch's limit as if the run had not raised it: one graph
        def __init__(self, _n: int) -> None:
            self.saved = torch._dynamo.config.recompile_limit

        def __enter__(self) -> None:
            torch._dynamo.config.recompile_limit = 1
            torch._dynamo.config.fail_on_recompile_limit_hit = True

        def __exit__(self, *_: Any) -> None:
            torch._dynamo.config.recompile_limit = self.saved
            torch._dynamo.config.fail_on_recompile_limit_hit = False

    monkeypatch.setattr(compiled, "compile_limits", _Limit)
    config = BenchConfig(warmup_s=0.0, min_time_s=0.02, threads=1, compile_mode=bench.CompileMode.DEFAULT)
    statuses = [m.status for m in run_bench([tiny_task(1), tiny_task(2)], config).measurements]
    assert statuses == [Status.OK, Status.NOT_COMPILED]


# --- the largest batch ---------------------------------------------------------------------------
@pytest.mark.parametrize("largest", [0, 1, 2, 3, 5, 37, 64, 99, 100])
def test_bisection_finds_the_largest_batch_that_fits(largest: int) -> None:
    found, probes = fit.bisect_largest(lambda n: n <= largest, upper=100)
    assert found == largest
    assert len(probes) <= 2 * 7 + 1  # doubling then halving: about 2 log2(100)
    assert all(ok == (n <= largest) for n, ok in probes)


def test_probes_survive_out_of_memory_and_find_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    make = engine._make_model

    class _OomAbove(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[0] > 5:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            out: torch.Tensor = self.inner(x)
            return out

    monkeypatch.setattr(engine, "_make_model", lambda source, config: _OomAbove(make(source, config)))
    config = BenchConfig(threads=1, mode=Mode.TRAIN)
    found, probes = fit.bisect_largest(lambda n: fit.run_probe(tiny_task(n), config), upper=64, start=2)
    assert found == 5 and (6, False) in probes


@needs_cuda
def test_cuda_max_batch_probes_for_real_and_leaves_the_device_clean() -> None:
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    config = BenchConfig(device="cuda", mode=Mode.TRAIN)
    found = fit.find_max_batch(open_source(TINY), (3, 256, 256), config)
    assert found.measured and found.task.batch >= 2 and any(not ok for _, ok in found.probes)
    assert torch.cuda.memory_allocated() == before  # every probe's tensors gone after the OOMs
    assert fit.run_probe(BenchTask(open_source(TINY), 2, (3, 256, 256)), config)  # still usable


def test_cpu_max_batch_is_the_estimate_within_the_memory_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fit, "available_bytes", lambda config: (50 * 2**20, "test"))
    found = fit.find_max_batch(open_source(TINY), (3, 32, 32), TRAIN)
    assert not found.measured and found.available_bytes == 50 * 2**20

    def need(n: int) -> int:
        return bench.plan_tasks([tiny_task(n)], TRAIN, check_memory=False).required_bytes()[0]

    assert need(found.task.batch) <= 50 * 2**20 < need(found.task.batch + 1)


def test_max_batch_on_the_command_line(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fit, "available_bytes", lambda config: (50 * 2**20, "test"))
    result = runner.invoke(app, ["bench", *TINY_ARGS, "--max-batch", "-f", "json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["max_batch"]
    assert row["max_batch"] > 1 and row["measured"] is False and row["probes"]


# --- before a run: memory, numbers, --output ----------------------------------------------------
def test_a_run_that_cannot_fit_is_refused_before_anything_is_built(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory, "available_bytes", lambda config: (1_000_000, "the container's limit"))
    monkeypatch.setattr(engine, "_make_model", lambda *a: pytest.fail("built a model"))
    result = runner.invoke(app, ["bench", *TINY_ARGS, "--batch", "64"])
    assert result.exit_code == 1 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: memory: this run needs about ") and "container's limit" in line
    with pytest.raises(RuntimeFailure):
        bench.plan([TINY], [64], (3, 32, 32))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--batch", "99999999999999999999"], "--batch '99999999999999999999': every batch size must be from 1"),
        (["--threads", "2147483648"], "--threads 2147483648: must be from 1 to"),
        (["--threads", "1000"], "--threads 1000: must be from 1 to"),
        (["--warmup", "1e9"], "--warmup 1000000000.0: must be from 0 to 3600"),
        (["--min-time", "86400"], "--min-time 86400.0: must be more than 0 and at most 3600"),
        (["--breakdown", "layer", "--top", "0"], "--top 0: must be from 1"),
        (["--top", "3"], "--top: needs --breakdown layer"),
        (["--breakdown", "blocks"], "--breakdown 'blocks': not one of off, stage, layer"),
        (["--mode", "fit"], "--mode 'fit': not one of infer, train"),
        (["--optimizer", "lamb"], "--optimizer 'lamb': not one of sgd, adamw"),
        (["--mode", "train", "--dtype", "fp16"], "--mode train: fp16"),
    ],
)
def test_every_number_and_choice_is_checked_before_work(runner: CliRunner, args: list[str], fragment: str) -> None:
    result = runner.invoke(app, ["bench", *TINY_ARGS, *args])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and fragment in line, line
    assert result.stdout == ""


def test_an_output_that_cannot_be_written_fails_before_the_run(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(engine, "run", lambda *a: pytest.fail("ran before checking --output"))
    name = "r" * 300 + ".json"  # longer than a file name may be
    result = runner.invoke(app, ["bench", *TINY_ARGS, "-o", str(tmp_path / name)])
    assert result.exit_code == 2 and "--output" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing left behind


# --- out of memory and signals -------------------------------------------------------------------
class _OomAtBatches(nn.Module):
    def __init__(self, inner: nn.Module, batches: set[int]) -> None:
        super().__init__()
        self.inner, self.batches = inner, batches

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] in self.batches:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        out: torch.Tensor = self.inner(x)
        return out


@pytest.mark.parametrize(("oom", "code"), [({1, 2}, 1), ({2}, 0)])
def test_out_of_memory_everywhere_fails_and_somewhere_warns(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, oom: set[int], code: int
) -> None:
    make = engine._make_model
    monkeypatch.setattr(engine, "_make_model", lambda source, config: _OomAtBatches(make(source, config), oom))
    result = runner.invoke(app, ["bench", *TINY_ARGS, "--batch", "1,2", "-f", "json"])
    assert result.exit_code == code, result.output
    if code:
        assert result.stderr.startswith("error: nothing was measured: every configuration (2) ran out of memory")
        assert result.stdout == ""
    else:
        assert "warning: 1 of 2 configurations ran out of memory" in result.stderr
        assert [r["status"] for r in json.loads(result.stdout)["results"]] == ["ok", "oom"]


def test_ctrl_c_before_the_sweep_says_interrupted_and_exits_130(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # typer itself turns a KeyboardInterrupt into a silent exit 130; a user must see why
    def interrupt(*_args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sys.modules["resnet_inspect.benchmark"], "plan", interrupt)
    result = runner.invoke(app, ["bench", *TINY_ARGS, "-f", "json"])
    assert result.exit_code == 130, result.output
    assert result.stderr == "error: interrupted\n" and result.stdout == ""


def test_sigterm_prints_the_finished_rows_and_exits_143(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    def terminate(*_args: Any) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(engine, "_breakdowns", terminate)
    before = signal.getsignal(signal.SIGTERM)
    result = runner.invoke(app, ["bench", *TINY_ARGS, "--breakdown", "stage", "-f", "json"])
    assert result.exit_code == 143, result.output
    data = json.loads(result.stdout)
    assert data["interrupted"] is True and data["results"][0]["status"] == "ok"
    assert signal.getsignal(signal.SIGTERM) == before  # restored
