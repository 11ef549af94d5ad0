"""The Res2Net block (model/res2net.py) as the trace and the reports show it: one row per split
convolution, norm and ReLU, the split and the concatenation charged to the block, and the
containers that hold the splits (convs, bns, relus) shown as sums, without shapes of their own.

The numbers are derived by hand from timm 1.0.31's Bottle2neck (res2net.py): a block of stage
width w and width_per_group b has splits of int(w * b / 64) * groups channels; its first 1x1
has scale of them; scale - 1 splits are convolved by a 3x3 each.
"""

from __future__ import annotations

from resnet_inspect import trace
from resnet_inspect.report.summary import summary_report

# res2net50_26w_4s, layer1 (w 64): splits of int(64 * 26 / 64) = 26 channels, 4 of them (104)
ARCH = "res2net50_26w_4s:layers=2,1,1,1"
SHAPE = (1, 3, 64, 64)  # layer1 runs at 16x16


def test_each_split_is_its_own_row_with_its_shape_and_macs() -> None:
    """Catches the splits merged into one row (the branches invisible), a split conv of the
    wrong width (the whole 104 instead of 26), and a strided block's splits at the wrong size."""
    rows = trace(ARCH, input_shape=SHAPE).by_name()
    assert rows["layer1.0.conv1"].output_shape == (1, 104, 16, 16)
    for i in range(3):  # scale - 1 = 3 split convs, each 26 -> 26 channels, 3x3
        for part in ("convs", "bns", "relus"):
            assert rows[f"layer1.1.{part}.{i}"].output_shape == (1, 26, 16, 16)
        assert rows[f"layer1.1.convs.{i}"].macs == 16 * 16 * 26 * 26 * 9
        # layer2.0 strides: each split conv from 52 channels (w 128) to 8x8
        assert rows[f"layer2.0.convs.{i}"].output_shape == (1, 52, 8, 8)
    assert rows["layer2.0.pool"].output_shape == (1, 52, 8, 8)  # the last split, pooled
    assert "layer1.1.pool" not in rows  # a block that keeps the shape passes it on as it is
    assert rows["layer1.1.convs"].macs == 3 * 16 * 16 * 26 * 26 * 9


def test_the_split_stage_is_charged_to_the_block() -> None:
    """The hierarchical sums (split i + split i-1's output) and the concatenation are the
    block's own work: its FLOPs are its children's plus those sums and its residual sum.
    Catches the sums lost (charged to no row) or charged to a split's conv."""
    rows = trace(ARCH, input_shape=SHAPE).by_name()
    block = rows["layer1.1"]
    children = sum(r.flops for n, r in rows.items() if n.count(".") == 2 and n.startswith("layer1.1."))
    hierarchical = 2 * 26 * 16 * 16  # splits 2 and 3 each add the previous output: 26x16x16
    residual = 256 * 16 * 16
    assert block.flops == children + hierarchical + residual
    assert rows["layer1.1.convs.1"].flops == 2 * rows["layer1.1.convs.1"].macs  # the conv alone


def test_the_split_containers_show_sums_not_shapes() -> None:
    """convs, bns and relus are never called themselves (the block calls their members one by
    one): the summary shows their parameters and MACs, and '-' for a shape or receptive field
    they do not have (not 'scalar' and 'global')."""
    t = trace(ARCH, input_shape=SHAPE)
    convs = t.by_name()["layer1.1.convs"]
    assert not convs.ran and convs.params == 3 * 26 * 26 * 9
    table = summary_report(t, depth=3).tables[0]
    row = next(r for r in table.rows if r[0].name == "layer1.1.convs")
    assert row[2] is None and row[5] is None  # output shape, receptive field
