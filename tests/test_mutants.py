"""Plausible one-line mistakes that no other test caught (issue 25), each caught here.

Each test names the mistake it catches; each was applied by hand to the library and seen to fail
this test, then reverted. The pattern of what had slipped through: paths only user code reaches
(in-place sums, functional pools with default arguments), settings that change values but no
shape, parameter count or key (dtype bytes, initialisation), and output outside the golden files
(CSV at depth 3, utilisation, row order). Expected values are derived by hand (the arithmetic in a
comment) or from a named reference.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from typer.testing import CliRunner

from resnet_inspect import build, resolve
from resnet_inspect.benchmark import BenchTask, Measurement, Precision, Status
from resnet_inspect.benchmark.environment import Environment
from resnet_inspect.benchmark.peaks import H100_SXM, Bound
from resnet_inspect.cli import app
from resnet_inspect.report.bench import measurement_record
from resnet_inspect.sources import open_source
from resnet_inspect.tracediff import Change, diff_specs, merge_names
from resnet_inspect.tracing import trace_model, trace_spec


def _on_meta(cls: type[nn.Module]) -> nn.Module:
    with torch.device("meta"):
        return cls()


# --- in-place residual sum ------------------------------------------------------------------------
class _InPlaceSum(nn.Module):
    """A hand-written block's tail: ``out += identity``, as user code (torchvision's own blocks
    write ``out += identity`` too) sums."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(64, 64, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        out += x
        return out


def test_in_place_residual_sum_costs_one_flop_per_element() -> None:
    """The add rule (tracing/costs.py: 1/element, residual sum) on two 1x64x56x56 tensors:
    64 * 56 * 56 = 200,704 FLOPs. The conv: 64 * 56 * 56 outputs * 64 * 3 * 3 MACs each =
    115,605,504 MACs, 231,211,008 FLOPs. Catches ``__iadd__``/``add_`` priced at 0 (their
    entry's ``flops`` left at the default) or dropped from the table."""
    t = trace_model(_on_meta(_InPlaceSum), (1, 64, 56, 56))
    add = next(op for op in t.operators if op.operator == "add")
    assert (add.count, add.flops) == (1, 200_704)
    assert t.totals.macs == 115_605_504
    assert t.totals.flops == 2 * 115_605_504 + 200_704


# --- a functional pool with torch's default stride --------------------------------------------------
class _FunctionalPool(nn.Module):
    """``F.max_pool2d(x, 2)``: no stride given; torch documents stride defaults to kernel_size."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.max_pool2d(x, 2))


def test_functional_pool_without_stride_strides_by_its_kernel() -> None:
    """torch.nn.functional.max_pool2d: "stride: default kernel_size". The pool 2x2/2: field
    1 + (2 - 1) * 1 = 2, jump 1 * 2 = 2; the 3x3/1 conv after it: 2 + (3 - 1) * 2 = 6, jump 2.
    Catches the missing stride read as 1 (field 4, jump 1). The shape, 16 -> 8, comes from torch
    itself, so only the receptive field and output stride show the mistake."""
    t = trace_model(_on_meta(_FunctionalPool), (1, 3, 16, 16))
    conv = t.by_name()["conv"]
    assert conv.output_shape == (1, 8, 8, 8)
    assert (conv.receptive_field, conv.jump) == (6, 2)
    assert (t.totals.receptive_field, t.totals.jump) == (6, 2)


# --- bfloat16 sizes ----------------------------------------------------------------------------------
BASIC = "block=basic,layers=1,widths=8,stem=cifar,stem_width=8,num_classes=10"


def test_bfloat16_takes_two_bytes_per_element() -> None:
    """torch.bfloat16.itemsize is 2 (16 bits: 8 exponent, 7 mantissa, 1 sign). The network of
    test_memory_by_hand's basic block on 1x3x8x8 has its inference peak at X + 3A elements
    (X = 3 * 8 * 8 = 192, A = 8 * 8 * 8 = 512): 1728 elements, 3456 bytes in bfloat16 (6912 in
    float32). Catches bfloat16 sized as float32 (4 bytes), which no float16 test sees."""
    assert torch.bfloat16.itemsize == 2  # the reference
    t = trace_spec(resolve(BASIC), (1, 3, 8, 8), dtype="bf16")
    assert t.dtype == "bfloat16"
    assert t.totals.param_bytes == 2 * t.totals.params
    assert t.totals.peak_activation_bytes == (192 + 3 * 512) * 2 == 3456


def test_bfloat16_param_memory_in_the_summary_json(runner: CliRunner) -> None:
    """resnet20 (He et al. 2016, CIFAR; option-A shortcuts, no parameters), by hand:
        stem conv 3*16*9 = 432, its norm 32
        layer1: 3 blocks * (2 * 16*16*9 + 2 * 32) = 14,016
        layer2: (16*32*9 + 32*32*9 + 2 * 64) + 2 * (2 * 32*32*9 + 2 * 64) = 13,952 + 37,120 = 51,072
        layer3: (32*64*9 + 64*64*9 + 2 * 128) + 2 * (2 * 64*64*9 + 2 * 128) = 55,552 + 147,968 = 203,520
        fc 64*10 + 10 = 650
    = 269,722 parameters (the paper's "0.27M"), 539,444 bytes at 2 bytes each."""
    out = runner.invoke(app, ["summary", "resnet20", "--dtype", "bfloat16", "--format", "json"])
    assert out.exit_code == 0, out.output
    totals = json.loads(out.stdout)["totals"]
    assert totals["params"] == 269_722
    assert totals["param_bytes"] == 539_444


# --- zero_init_residual in the pre-activation layout ----------------------------------------------
PREACT = "layout=resnetv2,preact=true,layers=1,1,stem_width=8,zero_init_residual=true"


@pytest.mark.parametrize(("block", "widths", "last_conv"), [
    ("basic", "8,16", "conv2"), ("bottleneck", "4,8", "conv3"),
])  # fmt: skip
def test_preact_zero_init_zeroes_each_branchs_last_conv_not_a_norm(
    block: str, widths: str, last_conv: str
) -> None:
    """timm's resnetv2 (zero_init_last): a pre-activation branch ends in a conv, not a norm, so
    that conv's weight is zeroed and every norm keeps its unit scale. Catches the ResNet v1
    rule (zero the last norm) applied to this layout: the branch would still output zeros at
    initialisation (a zero scale, a zero shift), so only the weights show it."""
    torch.manual_seed(0)
    model = build(f"{PREACT},block={block},widths={widths}")
    blocks = [m for name, m in model.named_modules() if name.endswith("blocks.0")]
    assert len(blocks) == 2
    for b in blocks:
        for name, p in b.named_parameters():
            if name == f"{last_conv}.weight":
                assert torch.count_nonzero(p) == 0, name
            elif name.startswith("norm") and name.endswith(".weight"):
                assert torch.all(p == 1), name
            elif name.startswith("conv"):
                assert torch.count_nonzero(p) > 0, name  # the other convs keep He-normal values


# --- diff: where A and B differ in place, A's rows first ------------------------------------------
def test_merge_lists_a_s_names_before_b_s_where_they_differ_in_place() -> None:
    """A parent with A's children a, b and B's child c at the same place, both ending in d:
    a, b (removed) before c (added), as a unified diff lists "-" lines before "+". Catches the
    two sides' replacements swapped."""
    a = ["x", "x.a", "x.b", "x.d"]
    b = ["x", "x.c", "x.d"]
    assert merge_names(a, b) == ["x", "x.a", "x.b", "x.c", "x.d"]


def test_diff_of_two_attentions_lists_a_s_modules_before_b_s() -> None:
    """se (fc1, act, fc2) against eca (one conv1d) in layer1.0.se: the three removed rows, then
    the added one, then the block's convs."""
    tiny = "resnet18:layers=1,1,1,1,widths=8,8,8,8,stem_width=8"
    d = diff_specs(resolve(f"{tiny},attn=se"), resolve(f"{tiny},attn=eca"), (1, 3, 32, 32))
    rows = [(r.name, r.status) for r in d.layers if r.name.startswith("layer1.0.se")]
    assert rows == [
        ("layer1.0.se", Change.CHANGED),
        ("layer1.0.se.fc1", Change.REMOVED),
        ("layer1.0.se.act", Change.REMOVED),
        ("layer1.0.se.fc2", Change.REMOVED),
        ("layer1.0.se.conv", Change.ADDED),
    ]


# --- utilisation of a known peak -----------------------------------------------------------------
def _h100_bf16() -> Environment:
    return Environment(
        torch_version="2", cuda_version="12", cudnn_version=90000, python_version="3.12",
        device="cuda:0", device_name="NVIDIA H100 80GB HBM3", sm_count=132, threads=1,
        precision=Precision.BF16, amp=False, layout="channels_last", compile_mode=None,
        tf32_matmul=False, tf32_cudnn=True, cudnn_benchmark=True, peak=H100_SXM, peak_basis="bf16",
    )  # fmt: skip


def test_utilisation_of_the_h100_bf16_peak_by_hand() -> None:
    """H100 SXM dense bf16: 989 TFLOP/s (NVIDIA's datasheet: 1979 with 2:4 sparsity, halved).
    A batch of 4.945 TFLOPs in 10 ms: 494.5 TFLOP/s, half the peak. Catches the rate divided by
    1e9 (GFLOP/s against a TFLOP/s peak: 500.0), never seen on a CPU, which has no peak."""
    task = BenchTask(open_source("resnet50"), 256, (3, 224, 224))
    m = Measurement(task, Status.OK, flops=4_945_000_000_000, times_s=(0.010, 0.010, 0.010))
    record = measurement_record(m, _h100_bf16())
    assert record["tflops_per_s"] == pytest.approx(494.5)
    assert record["utilisation"] == pytest.approx(0.5)


# --- CSV: the parent column at depth 3 ----------------------------------------------------------
def test_csv_parent_is_the_direct_parent_at_depth_three(runner: CliRunner) -> None:
    """resnet20's layer1.0.conv1 belongs to the block layer1.0, which belongs to layer1.
    Catches the parent column holding the top-level module (layer1 for every depth-3 row): a
    parent must be a row one level up."""
    out = runner.invoke(app, ["summary", "resnet20", "--depth", "3", "--format", "csv"])
    assert out.exit_code == 0, out.output
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(out.stdout))}
    assert rows["layer1.0.conv1"]["parent"] == "layer1.0"
    assert rows["layer3.2.bn2"]["parent"] == "layer3.2"
    assert rows["layer1.0"]["parent"] == "layer1"
    assert rows["conv1"]["parent"] == ""
    for r in rows.values():
        if r["parent"]:
            assert int(rows[r["parent"]]["depth"]) == int(r["depth"]) - 1, r["name"]


# --- round 2: mistakes of the same kind in code no test reached ----------------------------------
class _CeilPool(nn.Module):
    """A Caffe-style pool: ceil_mode with padding, where torch drops a last window that would
    start in the right padding."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, 2, 2, padding=1, ceil_mode=True)


def test_ceil_mode_pool_drops_a_window_that_starts_in_the_padding() -> None:
    """5 px, kernel 2, stride 2, padding 1, ceil_mode: (5 + 2 - 1 - 1) / 2 = 2.5, ceil 3, + 1 =
    4 windows; the 4th starts at (4 - 1) * 2 = 6 >= 5 + 1, inside the right padding, so torch
    (pooling_output_shape in ATen's Pool.h) drops it: 3. torch itself on a real tensor is the
    reference. Catches the meta shape rule without that correction (4x4 on the meta device,
    where no real kernel checks it)."""
    assert _CeilPool()(torch.zeros(1, 1, 5, 5)).shape == (1, 1, 3, 3)  # the reference
    t = trace_model(_CeilPool(), (1, 1, 5, 5))  # the meta device: our shape rule
    assert t.output_shape == (1, 1, 3, 3)


def test_half_is_float16_not_bfloat16() -> None:
    """torch.half is torch.float16 (torch's dtype aliases). Both take 2 bytes, so no byte count
    shows the alias pointing at bfloat16; the dtype the reports name does."""
    from resnet_inspect.choices import parse_choice
    from resnet_inspect.units import DType

    assert torch.half is torch.float16  # the reference
    assert [parse_choice(DType, d, "dtype").value for d in ("half", "fp16", "bf16", "float")] == [
        "float16", "float16", "bfloat16", "float32"]  # fmt: skip


@pytest.mark.parametrize(("precision", "dtype"), [
    (Precision.FP32, torch.float32), (Precision.TF32, torch.float32),
    (Precision.BF16, torch.bfloat16), (Precision.FP16, torch.float16),
])  # fmt: skip
def test_bench_precision_bytes_are_torchs_itemsize(precision: Precision, dtype: torch.dtype) -> None:
    """bench's memory plan sizes weights and activations by the precision's bytes; torch's
    dtype.itemsize is the reference (TF32 stores float32). Catches bfloat16 planned at 4 bytes
    (the plan would refuse batches that fit, or call them twice their size)."""
    assert precision.itemsize == dtype.itemsize


def _cpu_env() -> Environment:
    return dataclasses.replace(_h100_bf16(), device="cpu", device_name="CPU", sm_count=None,
                               precision=Precision.FP32, peak=None, peak_basis=None)  # fmt: skip


def test_rss_column_is_in_mebibytes() -> None:
    """A resident peak of 3 * 2**20 bytes is 3.00 MiB (the column says MiB: 2**20 bytes, IEC
    80000-13), not 3.15 (MB, 10**6 bytes)."""
    from resnet_inspect.benchmark import BenchConfig, BenchResult
    from resnet_inspect.benchmark.results import MemoryPeak
    from resnet_inspect.report.bench import timing_table

    env = _cpu_env()
    m = Measurement(BenchTask(open_source("resnet20"), 1, (3, 32, 32)), Status.OK, flops=1,
                    times_s=(0.01,), memory=MemoryPeak(resident_bytes=3 * 2**20))  # fmt: skip
    table = timing_table(BenchResult(env, (m,)), [measurement_record(m, env)], BenchConfig())
    column = [c.header for c in table.columns].index("RSS MiB")
    assert table.rows[0][column] == pytest.approx(3.0)


def test_h100_ridge_point_and_which_roof_bounds() -> None:
    """The roofline (Williams, Waterman and Patterson 2009): the ridge is peak compute over peak
    bandwidth. H100 SXM at bf16: 989e12 FLOP/s / 3350e9 B/s = 295.2 FLOP/byte. A 1x1 conv's
    low intensity (50 FLOP/byte) is memory-bound, a 3x3 conv's (1000) compute-bound. Catches the
    units dropped (989 / 3350 = 0.295: everything compute-bound) and the two roofs swapped."""
    env = _h100_bf16()
    assert env.ridge_flops_per_byte == pytest.approx(295.22, abs=0.01)
    assert env.bound(50.0) is Bound.MEMORY
    assert env.bound(1000.0) is Bound.COMPUTE


def test_cpu_throughput_column_is_in_gflops() -> None:
    """2 GFLOPs per batch in 10 ms on a CPU: 200 GFLOP/s in the column headed GFLOP/s. Catches
    the CPU's rate scaled by 1e12 under a GFLOP/s header (0.2)."""
    from resnet_inspect.benchmark import BenchConfig, BenchResult
    from resnet_inspect.report.bench import timing_table

    env = _cpu_env()
    m = Measurement(BenchTask(open_source("resnet20"), 1, (3, 32, 32)), Status.OK,
                    flops=2_000_000_000, times_s=(0.01,))  # fmt: skip
    table = timing_table(BenchResult(env, (m,)), [measurement_record(m, env)], BenchConfig())
    column = [c.header for c in table.columns].index("GFLOP/s")
    assert table.rows[0][column] == pytest.approx(200.0)


def test_fvcore_memory_need_counts_activation_elements_in_float32() -> None:
    """fvcore runs the model for real in float32, keeping every activation: 4 bytes times
    (parameters + leaf outputs + input), whatever --dtype the trace was sized in. BASIC on
    1x3x8x8, by hand:
        params: stem conv 3*8*9 = 216, norm 16; block 2 * 8*8*9 + 2 * 16 = 1184; fc 8*10 + 10 = 90
                = 1506
        leaf outputs: stem conv, norm, relu 3 * 512; block conv1, bn1, relu1, conv2, bn2, relu2
                6 * 512; avgpool 8; fc 10 = 4626
        input 3*8*8 = 192
    4 * (1506 + 4626 + 192) = 25,296 bytes. Catches the float16 trace's activation bytes taken
    as elements (the refusal of too large an input would come at half the size it should)."""
    from resnet_inspect.counters.fvcore import fvcore_memory_bytes

    for dtype in ("float32", "float16"):
        t = trace_spec(resolve(BASIC), (1, 3, 8, 8), dtype=dtype)
        assert fvcore_memory_bytes(t) == 4 * (1506 + 4626 + 192) == 25_296, dtype
