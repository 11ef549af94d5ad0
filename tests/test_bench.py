"""bench: the statistics and the peak table on plain data, the timing engine on the CPU with a
tiny model, the command's output and its errors. CUDA paths run only where CUDA is."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Any

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from resnet_inspect import benchmark as bench
from resnet_inspect.benchmark import (
    BenchConfig,
    BenchTask,
    Measurement,
    Precision,
    Status,
    engine,
    identify_peak,
    peak_basis,
    quantile,
    run_bench,
)
from resnet_inspect.cli import app
from resnet_inspect.errors import InspectError, SpecError, UsageError
from resnet_inspect.sources import open_source
from resnet_inspect.spec import resolve

TINY = "resnet18:layers=1,1,1,1,widths=8,16,32,64"
# one thread: a shared CI machine stalls OpenMP teams of two on every small operator
TINY_ARGS = (TINY, "--input", "3x32x32", "--min-time", "0.05", "--warmup", "0.01", "--threads", "1")
QUICK = BenchConfig(warmup_s=0.01, min_time_s=0.05, threads=1)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def tiny_task(batch: int = 1) -> BenchTask:
    return BenchTask(open_source(TINY), batch, (3, 32, 32))


# --- statistics and peaks, on plain data --------------------------------------------------------
def test_quantile_matches_the_standard_librarys_inclusive_method() -> None:
    data = [0.9, 0.3, 0.5, 0.7, 0.1, 1.3, 0.2]
    deciles = statistics.quantiles(data, n=10, method="inclusive")
    quartiles = statistics.quantiles(data, n=4, method="inclusive")
    assert quantile(data, 0.1) == pytest.approx(deciles[0])
    assert quantile(data, 0.9) == pytest.approx(deciles[-1])
    assert quantile(data, 0.25) == pytest.approx(quartiles[0])
    assert quantile(data, 0.5) == pytest.approx(statistics.median(data))
    assert quantile(data, 0.0) == min(data) and quantile(data, 1.0) == max(data)
    assert quantile([4.0], 0.9) == 4.0


def test_measurement_statistics_from_raw_times() -> None:
    times = tuple(t / 1000 for t in (10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20))
    m = Measurement(tiny_task(8), Status.OK, flops=2_000_000_000, times_s=times)
    assert m.samples == 11
    assert m.median_s == pytest.approx(0.015)
    assert m.p10_s == pytest.approx(0.011) and m.p90_s == pytest.approx(0.019)
    assert m.iqr_s == pytest.approx(0.005)
    assert m.noisy  # IQR is a third of the median
    assert m.images_per_s == pytest.approx(8 / 0.015)
    assert m.flops_per_s == pytest.approx(2e9 / 0.015)


def test_back_to_back_blocks_set_the_throughput_when_measured() -> None:
    m = Measurement(tiny_task(8), Status.OK, times_s=(0.010, 0.0101, 0.0102),
                    block_times_s=(0.008, 0.009, 0.0085))  # fmt: skip
    assert not m.noisy
    assert m.median_s == pytest.approx(0.0101)  # the latency stays the synchronised one
    assert m.images_per_s == pytest.approx(8 / 0.0085)


@pytest.mark.parametrize(
    ("name", "sms", "part", "bf16", "tf32"),
    [
        ("NVIDIA H100 80GB HBM3", 132, "H100 SXM", 989, 495),
        ("NVIDIA H100 PCIe", 114, "H100 PCIe", 756, 378),
        ("NVIDIA H200", 132, "H200", 989, 495),
        ("NVIDIA A100-SXM4-80GB", 108, "A100", 312, 156),
        ("NVIDIA A100-PCIE-40GB", 108, "A100", 312, 156),
    ],
)  # dense peaks from the issue, after NVIDIA's H100 and A100 datasheets (sparse figures / 2)
def test_known_parts_and_their_dense_peaks(name: str, sms: int, part: str, bf16: float, tf32: float) -> None:
    peak = identify_peak(name, sms)
    assert peak is not None and peak.part == part
    assert peak.tflops["bf16"] == bf16 == peak.tflops["fp16"]
    assert peak.tflops["tf32"] == tf32


@pytest.mark.parametrize(("name", "sms"), [("NVIDIA H100 NVL", 132), ("NVIDIA GeForce RTX 4090", 128),
                                           ("NVIDIA H100 80GB HBM3", 100), ("Tesla V100", 80)])  # fmt: skip
def test_unknown_parts_have_no_peak(name: str, sms: int) -> None:
    assert identify_peak(name, sms) is None


def test_fp32_is_held_to_the_tf32_peak_when_cudnn_may_use_tf32() -> None:
    assert peak_basis(Precision.FP32, tf32_convolutions=True) == "tf32"
    assert peak_basis(Precision.FP32, tf32_convolutions=False) == "fp32"
    assert peak_basis(Precision.BF16, tf32_convolutions=True) == "bf16"


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: bench.parse_batches("1,0"), "--batch '1,0'"),
        (lambda: bench.parse_batches("8,a"), "--batch '8,a'"),
        (lambda: bench.parse_chw("1x3x32x32"), "CxHxW"),
        (lambda: bench.parse_device("tpu"), "--device 'tpu'"),
    ],
)
def test_parsers_name_the_flag_and_value(call: Any, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        call()


def test_batch_sizes_keep_their_order_without_repeats() -> None:
    assert bench.parse_batches("32, 1,8,1") == (32, 1, 8)


# --- the library's entry point: plan (checks and traces), then run -----------------------------
def test_plan_makes_every_variant_at_every_batch_once_with_its_trace() -> None:
    from resnet_inspect.tracing import trace_spec

    planned = bench.plan([TINY, "resnet20", TINY], batches=[2, 1, 2])
    assert [(t.label, t.batch) for t in planned.tasks] == [(TINY, 2), (TINY, 1), ("resnet20", 2), ("resnet20", 1)]
    assert planned.tasks[0].input_chw == (3, 224, 224) and planned.tasks[2].input_chw == (3, 32, 32)
    for task in planned.tasks:  # each variant's own default input; FLOPs of the whole batch
        assert planned.flops(task) == trace_spec(task.spec, task.input_shape).totals.flops
    costs = planned.stage_costs(planned.tasks[0])
    assert list(costs) == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert sum(flops for flops, _ in costs.values()) == planned.flops(planned.tasks[0])


def test_run_measures_a_plan() -> None:
    result = bench.run(bench.plan([TINY], [1], (3, 32, 32), QUICK))
    (m,) = result.measurements
    assert m.ok and m.task.input_shape == (1, 3, 32, 32) and m.samples >= bench.MIN_SAMPLES


@pytest.mark.parametrize(
    ("kwargs", "subject", "start"),
    [
        ({"batches": [1, 0]}, "batches", "batches [1, 0]: "),
        ({"batches": []}, "batches", "batches []: "),
        ({"input_shape": (32, 32)}, "input_shape", "input_shape [32, 32]: "),
        ({"input_shape": (4, 32, 32)}, "input_shape", "input_shape 1x4x32x32: has 4 channels"),
        ({"config": BenchConfig(warmup_s=float("inf"))}, "warmup_s", "warmup_s inf: "),
        ({"config": BenchConfig(min_time_s=0)}, "min_time_s", "min_time_s 0: "),
        ({"config": BenchConfig(threads=0)}, "threads", "threads 0: "),
        ({"config": BenchConfig(amp=True)}, "amp", "amp: autocast needs precision bf16 or fp16"),
        ({"config": BenchConfig(precision=Precision.TF32)}, "precision", "precision tf32: "),
        ({"config": BenchConfig(weights="no-such.pth")}, "weights", "weights 'no-such.pth': no such file"),
    ],
)
def test_plan_errors_name_the_argument_not_a_flag(kwargs: dict[str, Any], subject: str, start: str) -> None:
    with pytest.raises(InspectError) as caught:
        bench.plan([TINY], **kwargs)
    assert caught.value.subject == subject
    assert str(caught.value).startswith(start) and "--" not in str(caught.value)


def test_plan_names_the_variant_when_there_are_several() -> None:
    with pytest.raises(SpecError, match=r"^variant 'resnet5': unknown architecture 'resnet5'"):
        bench.plan([TINY, "resnet5"])
    with pytest.raises(SpecError, match=r"^unknown architecture 'resnet5'"):
        bench.plan(["resnet5"])


def test_a_task_is_one_configuration_however_its_variant_was_written() -> None:
    # the engine keys its built models and the plan its traces by the task: a spec and the
    # same spec as text must be one key, or a sweep builds (and times) the variant twice
    written = [BenchTask(v, 1, (3, 32, 32)) for v in (TINY, resolve(TINY), open_source(TINY))]
    assert len(set(written)) == 1 and written[0].label == TINY
    assert written[0].spec == resolve(TINY)


def test_a_module_built_already_is_not_a_task() -> None:
    # the bench builds its own copy on the device; a caller's module (here on meta) cannot be timed
    from resnet_inspect.model import build_model

    with pytest.raises(UsageError) as caught:
        BenchTask(build_model(resolve(TINY), "meta"), 1, (3, 32, 32))
    assert caught.value.subject == "source" and "got an nn.Module" in str(caught.value)


def test_stage_breakdown_refuses_the_users_model_by_name() -> None:
    # the stages are ours (stem, layer1.., head); a user's forward has none to cut out
    from pathlib import Path

    seed = f"{Path(__file__).parent / 'user_models' / 'seed_style.py'}:CifarResNet20"
    tasks = [BenchTask(v, 2, (3, 32, 32)) for v in (TINY, seed)]
    assert tasks[1].spec is None and tasks[1].label == seed
    with pytest.raises(UsageError) as caught:
        bench.plan_tasks(tasks, BenchConfig(breakdown=True))
    assert caught.value.subject == "breakdown" and f"{seed} is your own model" in str(caught.value)
    bench.plan_tasks(tasks[:1], BenchConfig(breakdown=True), check_memory=False)  # ours is cut into stages


def test_the_command_line_renames_arguments_to_flags_but_not_quoted_text() -> None:
    from resnet_inspect.cli import in_flag_terms

    def renamed(message: str, subject: str | None) -> str:
        return in_flag_terms(UsageError(message, subject=subject))

    assert renamed("amp: autocast needs precision bf16 or fp16, not fp32", "amp") == (
        "--amp: autocast needs --dtype bf16 or fp16, not fp32")  # fmt: skip
    assert renamed("weights '/threads/device.pth': no such file", "weights") == (
        "--weights '/threads/device.pth': no such file")  # fmt: skip
    assert renamed("precision fp16: not supported (threads, device)", "precision") == (
        "--dtype fp16: not supported (threads, device)")  # fmt: skip
    assert renamed("threads 0: must be at least 1", None) == "threads 0: must be at least 1"


def test_bench_config_parses_without_torch() -> None:
    # the command line parses its flags before importing torch: bad values fail instantly
    code = (
        "import sys; from resnet_inspect.benchmark import BenchConfig, parse_batches, parse_device, "
        "resolve_variants; BenchConfig(device=parse_device('cuda:1')); parse_batches('1,8');"
        "resolve_variants(['resnet18']); assert 'torch' not in sys.modules, 'torch imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# --- the engine on the CPU ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_result() -> bench.BenchResult:
    config = BenchConfig(warmup_s=0.01, min_time_s=0.05, breakdown=True, threads=1)
    return run_bench([tiny_task(1), tiny_task(2)], config)


def test_cpu_run_measures_every_configuration(tiny_result: bench.BenchResult) -> None:
    # imported here: importing the submodule at collection time would shadow the package's
    # trace() function that tests/test_trace.py imports (see the report to the lead)
    from resnet_inspect.tracing import trace_spec

    assert not tiny_result.interrupted
    assert [m.task.batch for m in tiny_result.measurements] == [1, 2]
    for m in tiny_result.measurements:
        assert m.status is Status.OK
        assert m.samples >= bench.MIN_SAMPLES and sum(m.times_s) >= 0.05
        assert m.min_s <= m.median_s <= m.max_s
        assert m.p10_s <= m.median_s <= m.p90_s
        assert m.images_per_s == pytest.approx(m.task.batch / m.median_s)
        assert m.flops == trace_spec(m.task.spec, m.task.input_shape).totals.flops


def test_cpu_memory_is_the_resident_peak(tiny_result: bench.BenchResult) -> None:
    memory = tiny_result.measurements[0].memory
    assert memory is not None and memory.allocated_bytes is None
    if memory.resident_bytes is not None:  # Linux: the reset high-water mark
        assert 10 * 2**20 < memory.resident_bytes < 64 * 2**30


def test_breakdown_covers_every_stage_and_all_flops(tiny_result: bench.BenchResult) -> None:
    m = tiny_result.measurements[0]
    assert [s.name for s in m.stages] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert sum(s.flops for s in m.stages) == m.flops
    for s in m.stages:
        assert len(s.times_s) >= bench.MIN_SAMPLES and s.median_s > 0
        assert s.bytes_moved > 0 and s.intensity == pytest.approx(s.flops / s.bytes_moved)


def test_breakdown_reads_the_resnetv2_layout_stage_by_stage() -> None:
    """timm's resnetv2 tree (stem, stages.N, norm, head): the same stage rows, the stages'
    FLOPs adding up to the whole pass, and the pieces composing the model's forward."""
    from resnet_inspect.benchmark.engine import stage_pieces
    from resnet_inspect.model import build_model

    spec = resolve("resnetv2_18d:layers=1,1,widths=32,64,num_classes=5")
    config = BenchConfig(warmup_s=0.01, min_time_s=0.05, breakdown=True, threads=1)
    m = run_bench([BenchTask(open_source(spec), 1, (3, 32, 32))], config).measurements[0]
    assert [s.name for s in m.stages] == ["stem", "layer1", "layer2", "head"]
    assert sum(s.flops for s in m.stages) == m.flops
    model, x = build_model(spec).eval(), torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        out = x
        for _, piece in stage_pieces(model):
            out = piece(out)
        assert torch.equal(out, model(x))


def test_environment_names_versions_threads_and_no_peak_on_cpu(tiny_result: bench.BenchResult) -> None:
    env = tiny_result.environment
    assert env.torch_version == torch.__version__
    assert env.device == "cpu" and env.threads == 1
    assert env.peak is None and env.peak_tflops is None
    assert not env.cudnn_benchmark  # only switched on for CUDA runs


def test_configurations_are_interleaved() -> None:
    seen: list[str] = []
    run_bench([tiny_task(1), tiny_task(2)], QUICK, lambda _f, text: seen.append(text))
    timing = [t for t in seen if t.startswith("timing")]
    first_2 = timing.index(next(t for t in timing if t.endswith("batch 2")))
    assert any(t.endswith("batch 1") for t in timing[first_2:])  # batch 1 again after batch 2


def test_settings_are_restored_after_a_run() -> None:
    before = (torch.get_num_threads(), torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32)
    result = run_bench([tiny_task()], BenchConfig(warmup_s=0.0, min_time_s=0.02, threads=1))
    assert result.environment.threads == 1
    assert (torch.get_num_threads(), torch.backends.cudnn.benchmark,
            torch.backends.cudnn.allow_tf32) == before  # fmt: skip


class _OomAtBatch(nn.Module):
    """Runs the real model, but runs out of memory at one batch size."""

    def __init__(self, inner: nn.Module, batch: int) -> None:
        super().__init__()
        self.inner, self.batch = inner, batch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == self.batch:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        out: torch.Tensor = self.inner(x)
        return out


def test_oom_marks_its_row_and_the_sweep_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    make = engine._make_model
    monkeypatch.setattr(engine, "_make_model", lambda source, config: _OomAtBatch(make(source, config), 2))
    result = run_bench([tiny_task(1), tiny_task(2), tiny_task(4)], QUICK)
    assert [m.task.batch for m in result.measurements] == [1, 2, 4]  # never changed
    assert [m.status for m in result.measurements] == [Status.OK, Status.OOM, Status.OK]
    assert result.measurements[1].samples == 0 and result.measurements[2].samples >= bench.MIN_SAMPLES


def test_ctrl_c_while_timing_leaves_no_finished_row() -> None:
    def stop(_fraction: float, text: str) -> None:
        if text.startswith("timing"):
            raise KeyboardInterrupt

    result = run_bench([tiny_task(1), tiny_task(2)], QUICK, stop)
    assert result.interrupted
    assert [m.status for m in result.measurements] == [Status.INTERRUPTED] * 2


def test_ctrl_c_after_timing_keeps_the_finished_rows() -> None:
    def stop(_fraction: float, text: str) -> None:
        if text.startswith("stages"):
            raise KeyboardInterrupt

    config = BenchConfig(warmup_s=0.01, min_time_s=0.05, breakdown=True, threads=1)
    result = run_bench([tiny_task(1), tiny_task(2)], config, stop)
    assert result.interrupted
    assert all(m.ok and not m.stages for m in result.measurements)


def test_bf16_runs_on_cpu_in_bf16() -> None:
    result = run_bench([tiny_task()], BenchConfig(precision=Precision.BF16, warmup_s=0.0, min_time_s=0.02, threads=1))
    assert result.environment.precision is Precision.BF16 and result.measurements[0].ok


# --- the command --------------------------------------------------------------------------------
def test_bench_json_carries_every_number_and_the_environment(runner: CliRunner) -> None:
    result = runner.invoke(app, ["bench", *TINY_ARGS, "--batch", "1,2", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["command"] == "bench" and data["interrupted"] is False
    env = data["environment"]
    for key in ("torch", "cuda", "cudnn", "device", "threads", "dtype", "layout", "tf32_cudnn"):
        assert key in env
    assert [r["batch"] for r in data["results"]] == [1, 2]
    row = data["results"][0]
    assert row["status"] == "ok" and row["samples"] == len(row["times_ms"])
    assert min(row["times_ms"]) <= row["median_ms"] <= max(row["times_ms"])
    assert row["images_per_s"] == pytest.approx(1000 / row["median_ms"])
    assert row["flops_per_s"] == pytest.approx(row["flops"] / (row["median_ms"] / 1000))
    assert row["utilisation"] is None  # no known peak on a CPU


def test_bench_table_says_which_flops_and_why_no_utilisation(runner: CliRunner) -> None:
    result = runner.invoke(app, ["bench", *TINY_ARGS, "resnet20", "--breakdown", "stage"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    for text in ("Environment", "Median ms", "P10 ms", "IQR ms", "Images/s", "GFLOP/s",
                 "RSS MiB", "resnet20", "2 per multiply-accumulate", "no utilisation column",
                 "Stages of resnet20 @ batch 1", "FLOP/byte"):  # fmt: skip
        assert text in out, text


def test_bench_csv_is_the_timing_table(runner: CliRunner) -> None:
    result = runner.invoke(app, ["bench", *TINY_ARGS, "-f", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("variant,batch,median_ms")  # the environment is in JSON
    assert any(line.startswith(f'"{TINY}",1,') for line in result.stdout.splitlines())


def test_interrupted_bench_prints_finished_rows_and_exits_130(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(*_args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "_breakdowns", interrupt)
    result = runner.invoke(app, ["bench", *TINY_ARGS, "--breakdown", "stage", "-f", "json"])
    assert result.exit_code == 130
    data = json.loads(result.stdout)
    assert data["interrupted"] is True and data["results"][0]["status"] == "ok"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--device", "tpu"], "--device 'tpu'"),
        (["--dtype", "fp64"], "--dtype 'fp64'"),
        (["--dtype", "fp32", "--amp"], "--amp"),
        (["--batch", "0"], "--batch '0'"),
        (["--input", "1x3x32x32x2"], "--input '1x3x32x32x2'"),  # BxCxHxW is taken, as everywhere
        (["--input", "4x32x32"], "--input 1x4x32x32"),
        (["--compile-mode", "fastest"], "--compile-mode 'fastest'"),
        (["--min-time", "0"], "--min-time"),
        (["--min-time", "nan"], "--min-time"),
        (["--warmup", "inf"], "--warmup"),
        (["--threads", "0"], "--threads"),
        (["resnet5"], "variant 'resnet5'"),
        *([] if torch.cuda.is_available() else [(["--dtype", "tf32"], "--dtype tf32")]),
    ],
)
def test_bad_input_is_one_line_exit_2(runner: CliRunner, args: list[str], fragment: str) -> None:
    result = runner.invoke(app, ["bench", *TINY_ARGS, *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert result.stdout == ""


@pytest.mark.parametrize("device", ["cuda:7", *([] if torch.cuda.is_available() else ["cuda"])])
def test_a_missing_gpu_cannot_run_here_exit_1(runner: CliRunner, device: str) -> None:
    # the developer guide: a missing GPU is a failure at run time (exit 1), not bad input
    result = runner.invoke(app, ["bench", *TINY_ARGS, "--device", device])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: --device {device}: ") and result.stdout == ""


def test_unsupported_precision_is_one_line_exit_2(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kw: Any) -> None:
        raise RuntimeError('"slow_conv2d_cpu" not implemented for \'Half\'')

    monkeypatch.setattr(nn.Sequential, "forward", refuse)
    result = runner.invoke(app, ["bench", *TINY_ARGS, "--dtype", "fp16"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --dtype fp16: not supported on cpu")


# --- CUDA, where there is one -------------------------------------------------------------------
@needs_cuda
def test_cuda_run_times_blocks_and_memory() -> None:
    result = run_bench([tiny_task(1), tiny_task(8)], BenchConfig(device="cuda", warmup_s=0.05, min_time_s=0.1))
    env = result.environment
    assert env.device.startswith("cuda:") and env.cudnn_benchmark and env.sm_count
    for m in result.measurements:
        assert m.ok and m.block_times_s and m.p10_s <= m.median_s <= m.p90_s
        assert m.memory is not None and (m.memory.allocated_bytes or 0) > 0
        assert (m.memory.reserved_bytes or 0) >= (m.memory.allocated_bytes or 0)


@needs_cuda
def test_tf32_is_turned_on_explicitly_and_restored() -> None:
    before = torch.backends.cuda.matmul.allow_tf32
    result = run_bench([tiny_task()], BenchConfig(device="cuda", precision=Precision.TF32,
                                                  warmup_s=0.0, min_time_s=0.02))  # fmt: skip
    assert result.environment.tf32_matmul and result.environment.tf32_cudnn
    assert torch.backends.cuda.matmul.allow_tf32 == before


def test_bench_loads_weights_and_refuses_a_mismatch(runner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from resnet_inspect import build
    from resnet_inspect.cli import app

    arch = "resnet18:layers=1,1,1,1,widths=8,16,32,64"
    path = tmp_path / "tiny.pth"
    torch.save(build(arch).state_dict(), path)
    args = ["bench", arch, "--input", "3x32x32", "--min-time", "0.02", "--warmup", "0.01",
            "--threads", "1", "--weights", str(path), "-f", "json"]  # fmt: skip
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0, ok.output
    result = json.loads(ok.stdout)["results"][0]
    assert result["status"] == "ok" and result["samples"] >= 5
    wrong = runner.invoke(app, ["bench", "resnet20", "--weights", str(path), "--min-time", "0.02"])
    assert wrong.exit_code == 1 and wrong.stderr.startswith("error: ") and wrong.stdout == ""


def test_bench_input_limits_are_the_same_as_everywhere_else(runner) -> None:  # type: ignore[no-untyped-def]
    from resnet_inspect.cli import app

    result = runner.invoke(app, ["bench", "--input", "3x99999999999x2", "--min-time", "0.01"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: --input '3x99999999999x2'") and "larger than" in result.stderr
