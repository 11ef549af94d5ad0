"""ResNeSt's block (model/resnest.py) as the trace shows it: the split-attention conv's rows with
their shapes and MACs, the avd pool in its place, and the receptive field, all derived by hand.

resnest14d at 1x3x64x64: the deep stem (3x3/2, 3x3, 3x3) and the 3x3/2 max-pool leave 16x16
maps of 64 channels, with a receptive field of 15 px and a jump of 4 (3, 7, 11 at jump 2, then
the pool's 3x3/2: 11 + 2 * 2 = 15 at jump 4). Stage 1's block has width 64 and radix 2:
conv2.conv is one 3x3 conv of 64 -> 128 channels in 2 groups (both branches at once), the
attention squeezes 64 channel means to max(32, 64 * 2 / 4) = 32 and expands them to 128, one
weight per branch and channel.
"""

from __future__ import annotations

import pytest

from resnet_inspect import trace
from resnet_inspect.checkpoint.compare import expected_shapes
from resnet_inspect.identification import identify_shapes
from resnet_inspect.report.listing import list_report
from resnet_inspect.spec import PRESETS
from resnet_inspect.tracing import Trace

SHAPE = (1, 3, 64, 64)


def rows(t: Trace, prefix: str) -> dict[str, tuple[tuple[int, ...], int, int | None, int | None]]:
    """{name below prefix: (output shape, MACs, receptive field, jump)}"""
    return {r.name[len(prefix) + 1:]: (r.output_shape, r.macs, r.receptive_field, r.jump)
            for r in t.layers if r.name.startswith(prefix + ".")}  # fmt: skip


def test_the_split_attention_conv_shows_its_branches_and_its_attention() -> None:
    t = trace("resnest14d", input_shape=SHAPE)
    block = rows(t, "layer1.0")
    # every radix branch in one grouped conv: 16 * 16 outputs of 128 channels, 64 / 2 inputs each
    assert block["conv2.conv"] == ((1, 128, 16, 16), 16 * 16 * 128 * 32 * 9, 15 + 2 * 4, 4)
    assert block["conv2.bn0"][0] == (1, 128, 16, 16)
    # the attention sees the channel means: global, and 1x1 convs of 64 -> 32 -> 128
    assert block["conv2.fc1"] == ((1, 32, 1, 1), 64 * 32, None, None)
    assert block["conv2.fc2"] == ((1, 128, 1, 1), 32 * 128, None, None)
    assert block["conv2.rsoftmax"][0] == (1, 128, 1, 1)  # one weight per branch and channel
    softmax = next(r for r in t.layers if r.name == "layer1.0.conv2.rsoftmax")
    assert softmax.flops == 5 * 128  # the cost table's softmax: 5 per element
    # the weighted sum of the branches has the block's width; the gate does not widen the field
    assert block["conv2"] == ((1, 64, 16, 16), 16 * 16 * 128 * 32 * 9 + 64 * 32 + 32 * 128, 23, 4)


def test_the_split_attention_operators_outside_its_children() -> None:
    """conv2's own calls: the channel means of the branches' sum (1 per input element), the sum
    of the 2 branches (1 add), and the weighted sum (2 products and 1 add): 5 x 64 x 16 x 16."""
    t = trace("resnest14d", input_shape=SHAPE)
    conv2 = next(r for r in t.layers if r.name == "layer1.0.conv2")
    assert conv2.self_flops == 5 * 64 * 16 * 16


def test_four_branches_are_summed_and_weighted_in_conv2_itself() -> None:
    """resnest50d_4s2x40d, stage 1: 4 branches of 2 x 40 = 80 channels at 16x16. conv2's own
    calls: the mean (1 per element of one branch), the sum of the branches (3 adds) and the
    weighted sum (4 products, 3 adds): 11 x 80 x 16 x 16; the split itself is free (views)."""
    t = trace("resnest50d_4s2x40d:layers=1,1,1,1", input_shape=SHAPE)
    conv2 = next(r for r in t.layers if r.name == "layer1.0.conv2")
    assert conv2.self_flops == 11 * 80 * 16 * 16
    assert rows(t, "layer1.0")["conv2.conv"][:2] == ((1, 320, 16, 16), 16 * 16 * 320 * (80 // 8) * 9)


def test_radix_one_is_a_sigmoid_gate_on_one_branch() -> None:
    """resnest50d_1s4x24d: radix 1 in 4 groups of 24: the conv has the block's 96 channels, and
    its own calls are the mean and one product (2 x 96 x 16 x 16)."""
    t = trace("resnest50d_1s4x24d:layers=1,1,1,1", input_shape=SHAPE)
    block = rows(t, "layer1.0")
    assert block["conv2.conv"][:2] == ((1, 96, 16, 16), 16 * 16 * 96 * (96 // 4) * 9)
    conv2 = next(r for r in t.layers if r.name == "layer1.0.conv2")
    assert conv2.self_flops == 2 * 96 * 16 * 16


# Stage 2's first block strides. Its input: 23 px at jump 4 (stage 1's one block). Its
# projection: 2x2/2 average, 1x1 conv: 23 + 1 * 4 = 27 at jump 8.
STAGE2 = [
    # avd after the 3x3: the conv at stride 1 (23 + 2 * 4 = 31, jump 4), then the 3x3/2 pool
    # (31 + 2 * 4 = 39, jump 8)
    pytest.param("resnest14d", "avd_last", (31, 4), (39, 8), id="avd-after-the-3x3"),
    # avd before the 3x3: the pool first (23 + 2 * 4 = 31, jump 8), then the conv at stride 1
    # (31 + 2 * 8 = 47)
    pytest.param("resnest14d:avd_first=true", "avd_first", (47, 8), (31, 8), id="avd-before-the-3x3"),
    # no avd: the 3x3 conv strides (23 + 2 * 4 = 31, jump 8)
    pytest.param("resnest14d:avd=false", None, (31, 8), None, id="no-avd"),
]  # fmt: skip


@pytest.mark.parametrize(("arch", "pool", "conv", "pooled"), STAGE2)
def test_the_avd_pool_takes_the_stride_and_widens_the_field(
    arch: str, pool: str | None, conv: tuple[int, int], pooled: tuple[int, int] | None
) -> None:
    t = trace(arch, input_shape=SHAPE)
    block = rows(t, "layer2.0")
    assert block["conv2.conv"][2:] == conv
    if pool is None:
        assert "avd_first" not in block and "avd_last" not in block
    else:
        assert block[pool][0][-2:] == (8, 8) and block[pool][2:] == pooled
    assert block["downsample"][2:] == (27, 8)
    assert block["relu3"][2:] == max(block["conv3"][2:], (27, 8))
    assert block["relu3"][0] == (1, 512, 8, 8)


def test_every_operator_of_the_block_is_counted() -> None:
    for arch in ("resnest50d_4s2x40d:layers=1,1,1,1", "resnest14d", "resnest50d_1s4x24d:layers=1,1,1,1"):
        t = trace(arch, input_shape=SHAPE)
        assert t.uncounted == () and t.field_assumed_global_after == ()


def test_list_tells_the_resnest_presets_apart() -> None:
    """Same layers, stem and shortcut: the radix and the avd pool's place are what differ."""
    names = ("resnest50d", "resnest50d_1s4x24d", "resnest50d_4s2x40d")
    rows = list_report(dict.fromkeys(names, 0)).tables[0].rows
    assert [(r[3], r[6]) for r in rows] == [
        ("1x64", "radix=2 avd=true"),
        ("4x24", "radix=1 avd=true avd_first=true"),
        ("2x40", "radix=4 avd=true avd_first=true"),
    ]


def test_identify_does_not_assume_what_a_resnest_block_has_not() -> None:
    """Its avd pool takes the stride (no stride_in) and it has no anti-aliasing: identify lists
    the avd pool as unseen instead."""
    found = identify_shapes(expected_shapes(PRESETS["resnest14d"]))
    unseen = [a.split(":")[0] for a in found.assumptions]
    assert "stride_in" not in unseen and "aa" not in unseen
    assert unseen[-2:] == ["avd", "avd_first"] and found.preset == "resnest14d"
