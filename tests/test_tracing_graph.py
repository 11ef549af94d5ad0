"""The trace over the block graph: what it does with operators it has no rule for, and how the
receptive field goes through several branches and a channel gate.

These are rules this project sets itself (no outside tool reports them), so the expected
numbers are derived here by hand.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from resnet_inspect import resolve
from resnet_inspect.model import build_model
from resnet_inspect.render import Format, render
from resnet_inspect.report.summary import summary_report
from resnet_inspect.tracing import trace_model
from resnet_inspect.tracing.costs import FALLBACK_RULE, LISTED, OPERATORS, RULES, rules_text

SHAPE = (1, 3, 64, 64)


class ChannelMix(nn.Module):
    """A 1x1 channel mix written with einsum: the cost table has no rule for einsum."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.empty(c, c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nchw,dc->ndhw", x, self.w)


class Swish(nn.Module):
    """tanh(softplus(x)): neither has a rule, nor a formula in torch's FLOP counter (it counts
    matrix products and convolutions only). Not x * sigmoid(x) any more: sigmoid and the
    multiply have rules since squeeze-excitation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(torch.nn.functional.softplus(x))


class Gate(nn.Module):
    """Squeeze-excitation's shape: a per-channel gate from the global mean multiplies x."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.fc = nn.Conv2d(c, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.fc(x.mean((2, 3), keepdim=True)))


class TwoBranch(nn.Module):
    """A 3x3 branch and a dilated 3x3 branch, summed (a selective-kernel-like block part)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.plain = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.dilated = nn.Conv2d(c, c, 3, padding=2, dilation=2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.plain(x) + self.dilated(x)


def resnet18() -> nn.Module:
    return build_model(resolve("resnet18"), "meta")


def test_an_operator_without_a_rule_is_counted_by_the_fallback_and_marked() -> None:
    """Catches an unknown operator counted as 0 (the old isinstance ladder's default)."""
    model = resnet18()
    model.layer1[0].relu1 = nn.Sequential(ChannelMix(64), nn.ReLU())
    t = trace_model(model, SHAPE)
    plain = trace_model(resnet18(), SHAPE)
    mix_macs = 1 * 16 * 16 * 64 * 64  # every output element: 64 multiply-adds, at 16x16 in layer1
    ops = {o.operator: o for o in t.operators}
    fallback = [o for o in t.operators if o.rule == FALLBACK_RULE]
    assert [o.macs for o in fallback] == [mix_macs] and fallback[0].count == 1
    assert t.totals.macs == plain.totals.macs + mix_macs
    assert ops["relu"].count == {o.operator: o for o in plain.operators}["relu"].count
    assert t.by_name()["layer1.0.relu1.0"].macs == mix_macs
    assert not t.uncounted
    text = render(summary_report(t, 1), Format.TABLE, width=200)
    assert "counted by torch's FLOP counter" in text and "einsum" in text


def test_an_operator_nothing_can_count_is_listed_and_warned_about() -> None:
    """Catches an uncounted operator that silently adds 0 to the totals without a word."""
    model = resnet18()
    model.layer2[0].relu1 = Swish()
    t = trace_model(model, SHAPE)
    plain = trace_model(resnet18(), SHAPE)
    assert any("tanh" in name for name in t.uncounted)
    assert any("softplus" in name for name in t.uncounted)
    assert t.totals.flops == plain.totals.flops - plain.by_name()["layer2.0.relu1"].flops
    text = render(summary_report(t, 1), Format.TABLE, width=200)
    assert "warning: no cost rule" in text and "tanh" in text
    assert '"uncounted": [' in render(summary_report(t, 1), Format.JSON)


def test_a_channel_gate_does_not_wipe_out_the_receptive_field() -> None:
    """A global mean feeds a per-channel gate; the gated output is still a 3x3 conv's output
    spatially. Catches a walk that lets the global pool make the whole block 'global'."""
    plain = trace_model(resnet18(), SHAPE).by_name()
    model = resnet18()
    model.layer1[0].bn2 = nn.Sequential(model.layer1[0].bn2, Gate(64))
    gated = trace_model(model, SHAPE).by_name()
    for name in ("layer1.0", "layer1", "layer4"):
        assert gated[name].receptive_field == plain[name].receptive_field is not None
        assert gated[name].jump == plain[name].jump


def test_the_receptive_field_is_the_largest_over_parallel_branches() -> None:
    """resnet18 at layer1: the stem sees 11 px at jump 4 (7x7/2, then 3x3/2 max-pool), conv1
    3x3 adds 2 jumps: 19. A plain 3x3 conv2 adds 2 jumps (27); a dilated 3x3 branch spans 5
    pixels, 4 jumps: 35, and the sum of the two branches sees as far as the farther one.
    Catches a merge that takes the first branch, or the smaller."""
    model = resnet18()
    model.layer1[0].conv2 = TwoBranch(64)
    rows = trace_model(model, SHAPE).by_name()
    assert trace_model(resnet18(), SHAPE).by_name()["layer1.0.conv2"].receptive_field == 19 + 2 * 4
    assert rows["layer1.0.conv2.plain"].receptive_field == 19 + 2 * 4
    assert rows["layer1.0.conv2.dilated"].receptive_field == 19 + 4 * 4
    assert rows["layer1.0.conv2"].receptive_field == 35
    assert rows["layer1.0.conv2"].jump == 4


def test_the_shortcut_branch_counts_where_it_sees_further() -> None:
    """Option A's shortcut subsamples (jump x2) without widening; the projection's strided 1x1
    likewise. A block's field is the max of its two branches: here the residual branch.
    resnet20 (CIFAR, no stem pooling): 3 + 2*(1*2) per block in stage 1 (3 blocks of two 3x3):
    3 + 12 = 15; layer2.0 conv1 strides: 15 + 2 = 17 at jump 2, conv2: 21."""
    rows = trace_model(build_model(resolve("resnet20"), "meta"), (1, 3, 32, 32)).by_name()
    assert rows["layer1"].receptive_field == 15
    assert rows["layer2.0.conv1"].receptive_field == 17 and rows["layer2.0.conv1"].jump == 2
    assert rows["layer2.0.downsample"].receptive_field == 15 and rows["layer2.0.downsample"].jump == 2
    assert rows["layer2.0"].receptive_field == 21


def test_flops_help_and_the_operator_table_read_the_cost_table() -> None:
    """One table: every listed operator's rule appears in the --help paragraph, and each
    operator's rule in the trace is the table's. Catches a rule edited in one place only."""
    text = rules_text()
    for name in LISTED:
        assert f"{name} {RULES[name]}" in text
    t = trace_model(resnet18(), SHAPE)
    assert all(o.rule == RULES[o.operator] for o in t.operators)
    assert {op.name for op in OPERATORS if op.listed} == set(LISTED)


def test_functional_calls_in_a_forward_are_the_modules_own_work() -> None:
    """A module that calls F.relu in its forward (no nn.ReLU child) has that ReLU as its own
    operator. Catches costs that only look at leaf modules."""

    class Inline(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(64, 64, 3, padding=1, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.relu(self.conv(x))

    model = resnet18()
    model.layer1[0].conv2 = Inline()
    rows = trace_model(model, SHAPE).by_name()
    assert rows["layer1.0.conv2"].operator == "relu"
    assert rows["layer1.0.conv2"].flops == rows["layer1.0.conv2.conv"].flops + 64 * 16 * 16


def test_the_readme_states_the_cost_tables_rules() -> None:
    """docs/counting.md's FLOPs table is the cost table's, row for row. Catches a rule changed in
    the code while the documentation still promises the old one."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "docs" / "counting.md").read_text(encoding="utf-8")
    rows = [line.strip() for line in readme.splitlines() if line.strip().startswith("| ")]
    for name in LISTED:
        assert f"| {name} | {RULES[name]} |" in rows


def test_an_input_that_collapses_a_stage_to_1x1_is_warned_about() -> None:
    """resnet50 downsamples by 32: a 32x32 image reaches layer4 at 1x1 (32/32). Catches a
    warning that never fires, or fires for the 224x224 the network is made for."""
    from resnet_inspect import trace
    from resnet_inspect.tracing.checks import input_warnings

    assert input_warnings(trace("resnet50")) == ()
    small = input_warnings(trace("resnet50", input_shape=(1, 3, 32, 32)))
    assert len(small) == 1 and "layer4 outputs 1x1" in small[0] and "--stem cifar" in small[0]
    # layer3 of resnet50 is at 1/16: 16x16 in reaches it at 1x1 first
    assert "layer3 outputs 1x1" in input_warnings(trace("resnet50", input_shape=(1, 3, 16, 16)))[0]


def test_an_input_not_a_multiple_of_the_output_stride_is_warned_about() -> None:
    """100 is not a multiple of 32: 100 -> 50 -> 25 -> 13 -> 7 -> 4 (each stride 2 rounds up).
    resnet20 (output stride 4) at 32x32 is fine; at 30x30 it is not (30 -> 15 -> 8)."""
    from resnet_inspect import trace
    from resnet_inspect.tracing.checks import input_warnings

    (text,) = input_warnings(trace("resnet50", input_shape=(1, 3, 100, 100)))
    assert "output stride 32" in text and "100x100 -> 50x50 -> 25x25 -> 13x13 -> 7x7 -> 4x4)" in text
    assert input_warnings(trace("resnet20")) == ()
    assert "output stride 4" in input_warnings(trace("resnet20", input_shape=(1, 3, 30, 30)))[0]


def test_a_receptive_field_the_trace_cannot_follow_is_said_to_be_assumed() -> None:
    """An operator with no rule that changes the size (an upsampling here): the field after it
    is shown as global, and every output says that is an assumption. Catches a guess
    presented as a measurement."""
    model = resnet18()
    model.layer4[0].relu1 = nn.Sequential(nn.ReLU(), Upsample())
    model.layer4[0].conv2 = nn.Conv2d(512, 512, 3, stride=2, padding=1, bias=False)
    t = trace_model(model, SHAPE)
    assert t.field_assumed_global_after == ("interpolate",)
    assert t.by_name()["layer4.0.conv2"].receptive_field is None
    assert trace_model(resnet18(), SHAPE).field_assumed_global_after == ()
    text = render(summary_report(t, 1), Format.TABLE, width=200)
    assert "receptive field assumed global after" in text


class Upsample(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="nearest")


class Hierarchical(nn.Module):
    """Res2Net's shape: split the channels in 4, each later split adds the previous one's
    output before its own 3x3, the first split passes through, then concatenate."""

    def __init__(self, c: int, scale: int = 4) -> None:
        super().__init__()
        self.scale = scale
        self.convs = nn.ModuleList(
            nn.Conv2d(c // scale, c // scale, 3, padding=1, bias=False) for _ in range(scale - 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(x, x.shape[1] // self.scale, 1)
        outs, previous = [parts[0]], None
        for conv, part in zip(self.convs, parts[1:], strict=True):
            previous = conv(part if previous is None else part + previous)
            outs.append(previous)
        return torch.cat(outs, 1)


class SelectBranch(nn.Module):
    """A selective kernel's shape: two branches stacked (N x 2 x C x H x W), a gate from their
    sum's global mean, a softmax across the two, a weighted sum over them."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.plain = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.dilated = nn.Conv2d(c, c, 3, padding=2, dilation=2, bias=False)
        self.select = nn.Conv2d(c, 2 * c, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        paths = torch.stack([self.plain(x), self.dilated(x)], dim=1)
        n, _, c, _, _ = paths.shape
        gate = self.select(paths.sum(1).mean((2, 3), keepdim=True)).view(n, 2, c, 1, 1)
        return (paths * torch.softmax(gate, dim=1)).sum(1)


def test_the_receptive_field_follows_every_branch_of_a_split() -> None:
    """resnet18's layer1.0.conv2 input sees 19 px at jump 4 (see above). Split in 4: the
    second split passes one 3x3 (27), the third two (35), the fourth three (43); the
    concatenation sees as far as the farthest. Catches a split whose later branches lose their
    field (only its first output followed) and a cat that keeps the first input's field."""
    model = resnet18()
    model.layer1[0].conv2 = Hierarchical(64)
    t = trace_model(model, SHAPE)
    rows = t.by_name()
    assert [rows[f"layer1.0.conv2.convs.{i}"].receptive_field for i in range(3)] == [27, 35, 43]
    assert rows["layer1.0.conv2"].receptive_field == 43 and rows["layer1.0.conv2"].jump == 4
    assert t.field_assumed_global_after == ()
    # the split is a view, the concatenation moves data: neither has arithmetic
    ops = {o.operator: o for o in t.operators}
    assert ops["cat"].flops == 0 and "split" not in ops


def test_a_softmax_over_stacked_branches_keeps_the_farthest_branchs_field() -> None:
    """Stacking keeps H x W (the rank grows to 5), the sum over the branches too, and the
    softmax gate is global (a spatial mean): the block sees as far as the dilated branch,
    19 + 4 * 4 = 35, with no field assumed. Catches a 5-D tensor taken as a size change (then
    'global'), and a gate or a sum over branches that widens the field."""
    model = resnet18()
    model.layer1[0].conv2 = SelectBranch(64)
    t = trace_model(model, SHAPE)
    assert t.by_name()["layer1.0.conv2"].receptive_field == 35
    assert t.field_assumed_global_after == ()
    assert t.uncounted == ()


def test_softmax_sum_and_stack_costs_by_hand() -> None:
    """SelectBranch at layer1 (64 channels, 16 x 16, batch 1). The sum over 2 branches: one
    addition per output, 64*16*16; the spatial mean: 1 per input element, 64*16*16; the
    softmax: 5 per element (max, subtract, exp, sum, divide) of the 2 x 64 gate; the final
    weighted sum over 2 branches: 64*16*16 again; the stack: no arithmetic."""
    model = resnet18()
    model.layer1[0].conv2 = SelectBranch(64)
    ops = {o.operator: o for o in trace_model(model, SHAPE).operators}
    plain = {o.operator: o for o in trace_model(resnet18(), SHAPE).operators}
    hw = 16 * 16
    assert ops["sum"].flops == 2 * 64 * hw and ops["sum"].count == 2
    assert ops["softmax"].flops == 5 * 2 * 64
    assert ops["cat"].flops == 0 and ops["cat"].count == 1
    assert ops["mean"].flops == 64 * hw
    assert ops["mul"].flops == 2 * 64 * hw
    assert "sum" not in plain and "softmax" not in plain


def test_a_module_called_several_times_says_so() -> None:
    """A hand-written block that reuses one ReLU three times (after bn1, bn2 and the sum) is
    one row: 'ReLU x3', its FLOPs the three calls' (1 per element each: 64*16*16 twice and
    64*16*16 after the sum, at layer1 of a 64x64 input), and a note says what the row shows.
    Catches a row that silently shows the last call only."""

    class SharedRelu(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
            self.conv2 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
            self.relu = nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.relu(self.conv2(self.relu(self.conv1(x))) + self.relu(x))

    model = resnet18()
    model.layer1[0] = SharedRelu()
    t = trace_model(model, SHAPE)
    row = t.by_name()["layer1.0.relu"]
    assert row.calls == 3 and row.type_label == "ReLU x3"
    assert row.flops == 3 * 64 * 16 * 16
    assert t.by_name()["layer1.0.conv1"].calls == 1 and t.by_name()["layer1.0.conv1"].type_label == "Conv2d"
    text = render(summary_report(t, 3), Format.TABLE, width=200)
    assert "ReLU x3" in text and "xN: a module that ran N times" in text
    assert "xN:" not in render(summary_report(trace_model(resnet18(), SHAPE), 3), Format.TABLE, width=200)
