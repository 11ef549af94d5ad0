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


def test_receptive_field_is_the_widest_branch_derived_by_hand() -> None:
    """The field follows every split, through the split (a tuple of views), the hierarchical
    sums and the concatenation, and the block's is the largest. By hand, in input pixels
    (field, jump), a kxk window at jump j widens the field by (k - 1) * j:

    stem:      conv 7x7/2 -> (7, 2); max-pool 3x3/2 -> 7 + 2 * 2 = (11, 4)
    layer1.0   (projects, so no hierarchy): each split conv 3x3 on its own split of conv1's
               output: 11 + 2 * 4 = 19; the last split's 3x3 pool also 19; the block: 19
    layer1.1   (the hierarchy): convs.0 on split 1: 19 + 8 = 27; convs.1 on convs.0's output
               + split 2: max(27, 19) + 8 = 35; convs.2: 35 + 8 = 43; split 4 passes 19; the
               concatenation and the block: max(27, 35, 43, 19) = 43

    A plain bottleneck's single 3x3 would give layer1.1 19 + 8 = 27: three chained 3x3s see
    further. Catches the field lost at the split (the splits after the first unfollowed, or
    taken as global), the sums not widening it, or the cat taking the first branch's."""
    rows = trace(ARCH, input_shape=SHAPE).by_name()
    assert (rows["maxpool"].receptive_field, rows["maxpool"].jump) == (11, 4)
    assert [rows[f"layer1.0.convs.{i}"].receptive_field for i in range(3)] == [19, 19, 19]
    assert rows["layer1.0.pool"].receptive_field == 19
    assert rows["layer1.0"].receptive_field == 19
    assert [rows[f"layer1.1.convs.{i}"].receptive_field for i in range(3)] == [27, 35, 43]
    assert (rows["layer1.1"].receptive_field, rows["layer1.1"].jump) == (43, 4)
    plain = trace("resnet50:layers=2,1,1,1", input_shape=SHAPE).by_name()
    assert plain["layer1.1"].receptive_field == 27


def test_more_splits_see_further() -> None:
    """scale 8: seven chained 3x3s in layer1.1, 19 + 7 * 8 = 75 (scale 4: 43, above)."""
    rows = trace("res2net50_14w_8s:layers=2,1,1,1", input_shape=SHAPE).by_name()
    assert rows["layer1.1"].receptive_field == 19 + 7 * 8


def test_diff_from_a_plain_resnet_shows_the_branches_stage_by_stage() -> None:
    """resnet50 -> res2net50_26w_4s (timm: its Bottle2neck in the same ResNet): every block
    changes type, the single 3x3 (conv2/bn2/relu2) is removed and the split stage (convs, bns,
    relus, and the pool of each stage's first block) added; each stage's receptive field
    widens (chained 3x3s) while its output shape stays. Catches the diff aligning conv2 with a
    split conv (hiding the branches) or showing the containers as scalars."""
    from resnet_inspect.report.diff import diff_report
    from resnet_inspect.spec import resolve
    from resnet_inspect.tracediff import Change, diff_specs

    d = diff_specs(resolve("resnet50:layers=2,1,1,1"), resolve("res2net50_26w_4s:layers=2,1,1,1"), SHAPE)
    layers = {r.name: r for r in d.layers}
    assert layers["layer1.1"].changed[0] == "type"
    assert layers["layer1.1.conv2"].status is Change.REMOVED
    for part in ("convs", "bns", "relus", "convs.2"):
        assert layers[f"layer1.1.{part}"].status is Change.ADDED
    assert layers["layer2.0.pool"].status is Change.ADDED and "layer1.1.pool" not in layers
    for s in d.stages:
        if s.name.startswith("layer"):
            assert s.a is not None and s.b is not None
            assert s.b.output_shape == s.a.output_shape
            assert (s.b.receptive_field or 0) > (s.a.receptive_field or 0), s.name
    table = next(t for t in diff_report(d, depth=3).tables if t.title.startswith("Layers"))
    row = next(r for r in table.rows if r[0].name == "layer1.1.convs")
    assert row[2] is None  # no shape of its own


def test_every_res2net_preset_is_fully_counted() -> None:
    """No operator of a Res2Net (the split, the hierarchical sums, the cat, the last split's
    pool) is left uncounted or to torch's fallback counter: ``flops`` warns of neither."""
    from resnet_inspect.spec import PRESET_FAMILIES, PRESETS
    from resnet_inspect.tracing.costs import FALLBACK_RULE

    for name in PRESET_FAMILIES["res2net"]:
        t = trace(PRESETS[name].replace(layers=(2, 1, 1, 1)), input_shape=(1, 3, 32, 32))
        assert t.uncounted == (), name
        assert all(o.rule != FALLBACK_RULE for o in t.operators), name
