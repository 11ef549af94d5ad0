"""MACs and FLOPs per operator, derived by hand from the architecture, operator by operator.

Nothing here is copied from the tool's output: each network is written out the way the ResNet
paper walks it (the output size of every convolution, stage by stage), and the FLOPs rules of
docs/counting.md are applied to those numbers in plain arithmetic:

    convolution  MACs = out_h * out_w * out_c * in_c * k * k (per image); FLOPs = 2 * MACs,
                 plus 1 per output element when the conv has a bias (norm=none)
    linear       MACs = in * out; FLOPs = 2 * MACs + out (the bias)
    batch_norm   2 per element          group_norm  8 per element
    relu         1 per element          max_pool    k*k - 1 per output element
    avg_pool     k*k per output element; global pooling 1 per input element
    add          1 per output element of every residual addition; pad (shortcut A) 0
    cat          0 (Res2Net's splits joined again; the split itself is a view)
"""

from __future__ import annotations

from resnet_inspect import trace

# A convolution as the paper lists it: (out_h, out_w, out_channels, in_channels, kernel).
Conv = tuple[int, int, int, int, int]


def conv_macs(convs: list[Conv], batch: int = 1) -> int:
    return batch * sum(h * w * c_out * c_in * k * k for h, w, c_out, c_in, k in convs)


def conv_outputs(convs: list[Conv], batch: int = 1) -> int:
    """Output elements of all the convolutions (= elements through the norm after each)."""
    return batch * sum(h * w * c_out for h, w, c_out, _, _ in convs)


def elements(shapes: list[tuple[int, int, int]], batch: int = 1) -> int:
    return batch * sum(h * w * c for h, w, c in shapes)


def operators(arch: str, input_shape: tuple[int, int, int, int]) -> dict[str, tuple[int, int, int]]:
    """{operator: (calls, MACs, FLOPs)} as the tool reports it."""
    t = trace(arch, input_shape=input_shape)
    return {o.operator: (o.count, o.macs, o.flops) for o in t.operators}


# --- resnet18 at 1x3x224x224 ---------------------------------------------------------------------
# Stem: conv1 7x7/2 from 3 channels, 224 -> 112; max-pool 3x3/2, 112 -> 56.
R18_STEM = [(112, 112, 64, 3, 7)]
# Stage 1, 56x56x64: two basic blocks of two 3x3 convs; identity shortcuts (no projection).
R18_LAYER1 = [(56, 56, 64, 64, 3)] * 4
# Stages 2-4: the first block strides (3x3/2 from the previous width) and has a 1x1/2
# projection from the previous width (shortcut B: the shape changes); then 3 more 3x3 convs.
R18_LAYER2 = [(28, 28, 128, 64, 3), (28, 28, 128, 128, 3), (28, 28, 128, 64, 1)] + [(28, 28, 128, 128, 3)] * 2
R18_LAYER3 = [(14, 14, 256, 128, 3), (14, 14, 256, 256, 3), (14, 14, 256, 128, 1)] + [(14, 14, 256, 256, 3)] * 2
R18_LAYER4 = [(7, 7, 512, 256, 3), (7, 7, 512, 512, 3), (7, 7, 512, 256, 1)] + [(7, 7, 512, 512, 3)] * 2
R18_CONVS = R18_STEM + R18_LAYER1 + R18_LAYER2 + R18_LAYER3 + R18_LAYER4
# The output of each of the 8 basic blocks (what its addition and its last ReLU see).
R18_BLOCK_OUTPUTS = [(56, 56, 64)] * 2 + [(28, 28, 128)] * 2 + [(14, 14, 256)] * 2 + [(7, 7, 512)] * 2
R18_STEM_RELU = [(112, 112, 64)]  # after bn1, before the max-pool
R18_MAXPOOL_OUT = 56 * 56 * 64
R18_GLOBAL_POOL_IN = 7 * 7 * 512
R18_FC = (512, 1000)


def test_resnet18_convolution_shapes_add_up_to_torchvision_macs() -> None:
    """Sanity of the hand table itself: 20 convolutions, and their MACs plus fc's are the
    published 1.814 GMACs (so the tables below start from the right architecture)."""
    assert len(R18_CONVS) == 20
    assert conv_macs(R18_CONVS) + 512 * 1000 == 1_814_073_344


def test_resnet18_operator_table_by_hand() -> None:
    """Catches: a rule changed for one operator (bn 1/element, max-pool k*k instead of k*k-1,
    global pool k*k of the 7x7 output, a bias FLOP on bias-free convs, fc without its bias),
    ReLU call sites miscounted (the stem's one, or one per block instead of two), an addition
    counted for the stem or the projection, and a call count that is not one per module."""
    ops = operators("resnet18", (1, 3, 224, 224))
    macs = conv_macs(R18_CONVS)
    fc_in, fc_out = R18_FC
    relu_elements = elements(R18_STEM_RELU) + 2 * elements(R18_BLOCK_OUTPUTS)  # 2 per basic block
    expected = {
        "convolution": (20, macs, 2 * macs),  # bias-free: the norm follows
        "linear": (1, fc_in * fc_out, 2 * fc_in * fc_out + fc_out),
        "batch_norm": (20, 0, 2 * conv_outputs(R18_CONVS)),  # one after every conv
        "relu": (1 + 2 * 8, 0, relu_elements),
        "max_pool": (1, 0, (3 * 3 - 1) * R18_MAXPOOL_OUT),
        "avg_pool": (1, 0, R18_GLOBAL_POOL_IN),  # global: 1 per input element
        "add": (8, 0, elements(R18_BLOCK_OUTPUTS)),  # one per block, none in stem or head
    }
    assert ops == expected
    t = trace("resnet18")
    assert t.totals.macs == macs + fc_in * fc_out
    assert t.totals.flops == sum(f for _, _, f in expected.values())


def test_resnet18_stage_rows_by_hand() -> None:
    """Catches an operator's FLOPs landing in the wrong stage (the max-pool in layer1, the
    addition of a block outside it, the projection outside its block) or added twice when the
    per-module numbers are summed into their parents."""
    def stage_flops(convs: list[Conv], blocks: list[tuple[int, int, int]]) -> int:
        # convs (2/MAC) + a batch norm after each (2/element) + 2 ReLUs and 1 add per block
        return 2 * conv_macs(convs) + 2 * conv_outputs(convs) + 2 * elements(blocks) + elements(blocks)

    stem = 2 * conv_macs(R18_STEM) + 2 * conv_outputs(R18_STEM) + elements(R18_STEM_RELU) \
        + 8 * R18_MAXPOOL_OUT
    head = R18_GLOBAL_POOL_IN + 2 * 512 * 1000 + 1000
    expected = {
        "stem": stem,
        "layer1": stage_flops(R18_LAYER1, R18_BLOCK_OUTPUTS[0:2]),
        "layer2": stage_flops(R18_LAYER2, R18_BLOCK_OUTPUTS[2:4]),
        "layer3": stage_flops(R18_LAYER3, R18_BLOCK_OUTPUTS[4:6]),
        "layer4": stage_flops(R18_LAYER4, R18_BLOCK_OUTPUTS[6:8]),
        "head": head,
    }
    rows = {r.name: r.flops for r in trace("resnet18").stages()}
    assert rows == expected


def test_resnet18_without_norm_has_conv_biases_and_no_norm_operator() -> None:
    """norm=none: every conv gets a bias, +1 FLOP per output element; no batch_norm row.
    Catches a bias FLOP forgotten, counted per MAC, or an Identity counted as a norm."""
    ops = operators("resnet18:norm=none", (1, 3, 224, 224))
    macs = conv_macs(R18_CONVS)
    assert "batch_norm" not in ops and "group_norm" not in ops
    assert ops["convolution"] == (20, macs, 2 * macs + conv_outputs(R18_CONVS))
    assert ops["relu"] == (17, 0, elements(R18_STEM_RELU) + 2 * elements(R18_BLOCK_OUTPUTS))
    assert ops["add"] == (8, 0, elements(R18_BLOCK_OUTPUTS))
    assert ops["linear"] == (1, 512 * 1000, 2 * 512 * 1000 + 1000)
    t = trace("resnet18:norm=none")
    assert t.totals.flops == sum(f for _, _, f in ops.values())
    assert t.totals.flops == trace("resnet18").totals.flops - 2 * conv_outputs(R18_CONVS) \
        + conv_outputs(R18_CONVS)  # the norms' 2/element go, the biases' 1/element come


# --- resnet20 (CIFAR, shortcut A) at 1x3x32x32 ---------------------------------------------------
# Stem: one 3x3/1 conv, 3 -> 16, no max-pool. Three stages of 3 basic blocks, 16/32/64 wide at
# 32/16/8 px. Option A: where the shape changes (layer2.0, layer3.0) the shortcut subsamples
# and zero-pads the channels: no conv, no norm, and no FLOPs, but the addition still happens.
R20_CONVS = (
    [(32, 32, 16, 3, 3)]
    + [(32, 32, 16, 16, 3)] * 6
    + [(16, 16, 32, 16, 3)] + [(16, 16, 32, 32, 3)] * 5
    + [(8, 8, 64, 32, 3)] + [(8, 8, 64, 64, 3)] * 5
)
R20_BLOCK_OUTPUTS = [(32, 32, 16)] * 3 + [(16, 16, 32)] * 3 + [(8, 8, 64)] * 3


def test_resnet20_shortcut_a_operator_table_by_hand() -> None:
    """Catches: zero-padding counted as work (a copy per element), the additions of the
    padded blocks dropped (they have no projection, but they still add), a max-pool assumed
    in the CIFAR stem, and the global pool counted on the wrong side."""
    ops = operators("resnet20", (1, 3, 32, 32))
    macs = conv_macs(R20_CONVS)
    expected = {
        "convolution": (19, macs, 2 * macs),
        "linear": (1, 64 * 10, 2 * 64 * 10 + 10),
        "batch_norm": (19, 0, 2 * conv_outputs(R20_CONVS)),
        "relu": (1 + 2 * 9, 0, 32 * 32 * 16 + 2 * elements(R20_BLOCK_OUTPUTS)),
        "avg_pool": (1, 0, 8 * 8 * 64),
        "add": (9, 0, elements(R20_BLOCK_OUTPUTS)),
        "pad": (2, 0, 0),  # layer2.0 and layer3.0 only
    }
    assert ops == expected
    t = trace("resnet20")
    assert t.totals.macs == macs + 64 * 10
    assert t.totals.flops == sum(f for _, _, f in expected.values())


# --- group norm, at batch 2 on a non-square input ------------------------------------------------
GN_ARCH = "block=basic,layers=1,1,widths=32,64,stem=cifar,stem_width=32,norm=group,num_classes=10"
# Input 2x3x8x12. Stem: 3x3/1 conv, 3 -> 32, 8x12. layer1.0: two 3x3 convs 32 -> 32 at 8x12,
# identity shortcut. layer2.0: 3x3/2 32 -> 64 at 4x6, 3x3 64 -> 64, and a 1x1/2 projection.
GN_CONVS = [
    (8, 12, 32, 3, 3),
    (8, 12, 32, 32, 3), (8, 12, 32, 32, 3),
    (4, 6, 64, 32, 3), (4, 6, 64, 64, 3), (4, 6, 64, 32, 1),
]  # fmt: skip
GN_BLOCK_OUTPUTS = [(8, 12, 32), (4, 6, 64)]


def test_group_norm_costs_8_per_element_batch_and_rectangles_included() -> None:
    """Catches: group norm at batch norm's 2/element, a square assumed (h*h instead of h*w),
    and a count that ignores the batch (per image instead of per pass)."""
    batch = 2
    ops = operators(GN_ARCH, (batch, 3, 8, 12))
    macs = conv_macs(GN_CONVS, batch)
    expected = {
        "convolution": (6, macs, 2 * macs),  # a norm follows every conv: no bias
        "linear": (1, batch * 64 * 10, batch * (2 * 64 * 10 + 10)),
        "group_norm": (6, 0, 8 * conv_outputs(GN_CONVS, batch)),
        "relu": (1 + 2 * 2, 0, batch * 8 * 12 * 32 + 2 * elements(GN_BLOCK_OUTPUTS, batch)),
        "avg_pool": (1, 0, batch * 4 * 6 * 64),
        "add": (2, 0, elements(GN_BLOCK_OUTPUTS, batch)),
    }
    assert ops == expected


# --- ResNet-D: deep stem, bottlenecks, avg-pool downsampling, at 1x3x32x32 -------------------------
D_ARCH = "block=bottleneck,layers=1,1,widths=8,16,stem=deep,stem_width=8,avg_down=true,num_classes=10"
# Deep stem: 3x3/2 3 -> 8 (16x16), 3x3 8 -> 8, 3x3 8 -> 16; bn1, ReLU, max-pool 3x3/2 -> 8x8x16.
D_STEM = [(16, 16, 8, 3, 3), (16, 16, 8, 8, 3), (16, 16, 16, 8, 3)]
# layer1.0 (8x8, stride 1): 1x1 16 -> 8, 3x3 8 -> 8, 1x1 8 -> 32; the shape changes (16 -> 32
# channels), so a projection: at stride 1 avg_down's pool is an Identity, then a 1x1 16 -> 32.
D_LAYER1 = [(8, 8, 8, 16, 1), (8, 8, 8, 8, 3), (8, 8, 32, 8, 1), (8, 8, 32, 16, 1)]
# layer2.0 (stride 2, torchvision's v1.5: on the 3x3): 1x1 32 -> 16 at 8x8, 3x3/2 16 -> 16 at
# 4x4, 1x1 16 -> 64; shortcut: 2x2/2 avg-pool 8x8x32 -> 4x4x32, then a 1x1 32 -> 64.
D_LAYER2 = [(8, 8, 16, 32, 1), (4, 4, 16, 16, 3), (4, 4, 64, 16, 1), (4, 4, 64, 32, 1)]
D_CONVS = D_STEM + D_LAYER1 + D_LAYER2


def test_resnet_d_avg_pool_shortcut_and_deep_stem_by_hand() -> None:
    """Catches: the avg_down pool counted like the global pool (1/input) or like the max-pool
    (k*k-1), the Identity pool of a stride-1 projection counted, the deep stem's two inner
    ReLUs missed, and three ReLUs per bottleneck miscounted."""
    ops = operators(D_ARCH, (1, 3, 32, 32))
    macs = conv_macs(D_CONVS)
    relu = (
        16 * 16 * 8 * 2 + 16 * 16 * 16  # deep stem: after its first two convs, then after bn1
        + 8 * 8 * 8 * 2 + 8 * 8 * 32  # layer1.0: relu1, relu2 (inner width), relu3 (output)
        + 8 * 8 * 16 + 4 * 4 * 16 + 4 * 4 * 64  # layer2.0
    )
    expected = {
        "convolution": (11, macs, 2 * macs),
        "linear": (1, 64 * 10, 2 * 64 * 10 + 10),
        "batch_norm": (11, 0, 2 * conv_outputs(D_CONVS)),
        "relu": (3 + 3 + 3, 0, relu),
        "max_pool": (1, 0, (3 * 3 - 1) * 8 * 8 * 16),
        # the 2x2 shortcut pool: kernel area per output element; the global pool: 1 per input
        "avg_pool": (2, 0, 2 * 2 * (4 * 4 * 32) + 4 * 4 * 64),
        "add": (2, 0, 8 * 8 * 32 + 4 * 4 * 64),
    }
    assert ops == expected


# --- a Res2Net stage at 1x3x32x32 -----------------------------------------------------------------
# One stage of two res2net blocks of width 8 (splits of int(8 * 64 / 64) = 8 channels, scale 4, so
# the first 1x1 has 4 x 8 = 32 outputs); 10 classes. Stem: 7x7/2 to 16x16x64, max-pool to 8x8.
R2_ARCH = "block=res2net,layers=2,widths=8,num_classes=10"
R2_CONVS = (
    [(16, 16, 64, 3, 7)]
    # layer1.0 projects (64 -> 32 channels): no hierarchy, each of the 3 split convs on its own split
    + [(8, 8, 32, 64, 1)] + [(8, 8, 8, 8, 3)] * 3 + [(8, 8, 32, 32, 1), (8, 8, 32, 64, 1)]
    # layer1.1: conv1, 3 split convs, conv3; identity shortcut
    + [(8, 8, 32, 32, 1)] + [(8, 8, 8, 8, 3)] * 3 + [(8, 8, 32, 32, 1)]
)


def test_res2net_splits_and_their_merge_by_hand() -> None:
    """Catches: the split or the concatenation counted as arithmetic or left uncounted, the
    hierarchical sums of layer1.1 (split 2 + split 1's output, split 3 + split 2's) missed or
    counted in the projecting block, the last split's 3x3 average pool (layer1.0 only, 9 per
    output) counted like the global pool, and one ReLU per split convolution miscounted."""
    t = trace(R2_ARCH, input_shape=(1, 3, 32, 32))
    ops = {o.operator: (o.count, o.macs, o.flops) for o in t.operators}
    macs = conv_macs(R2_CONVS)
    split = 8 * 8 * 8  # elements of one split
    expected = {
        "convolution": (12, macs, 2 * macs),  # stem; 6 in layer1.0 (its projection); 5
        "linear": (1, 32 * 10, 2 * 32 * 10 + 10),
        "batch_norm": (12, 0, 2 * conv_outputs(R2_CONVS)),
        # stem; per block relu1 (32 channels), one per split conv (8), relu3 (32)
        "relu": (1 + 2 * 5, 0, 16 * 16 * 64 + 2 * (8 * 8 * 32 + 3 * split + 8 * 8 * 32)),
        "max_pool": (1, 0, (3 * 3 - 1) * 8 * 8 * 64),
        "avg_pool": (2, 0, 3 * 3 * split + 8 * 8 * 32),  # layer1.0's last split; the global pool
        "add": (2 + 2, 0, 2 * 8 * 8 * 32 + 2 * split),  # residual sums; layer1.1's 2 hierarchical
        "cat": (2, 0, 0),  # the splits concatenated again: moves data
    }
    assert ops == expected
    assert not t.uncounted
    assert t.totals.flops == sum(f for _, _, f in expected.values())


# --- CLIP's attention pool (head=attn), resnet50_clip at 1x3x224x224 -----------------------------
# The trunk ends at 7x7x2048; resnet50_clip_gap has the same trunk and a global average pool and
# fc instead, so the difference of the two tables is the two heads. The attention pool: tokens
# L = 49 + 1 (the mean token first) of C = 2048, plus the positional embedding (an add of L x C);
# q from the mean token only (1 x C x C), k and v from all tokens (L x C x C each), c_proj C x E
# (E = 1024); 32 heads of d = 64: scores q @ k^T (heads x 1 x L outputs, d MACs each), softmax
# over them (5/element), weighted sum weights @ v (heads x d outputs, L MACs each); q scaled by
# 1/sqrt(d) (a mul of C).
CLIP_L, CLIP_C, CLIP_E, CLIP_HEADS, CLIP_D = 50, 2048, 1024, 32, 64


def test_clip_attention_pool_by_hand() -> None:
    """Catches a matmul left to torch's fallback counter (or uncounted), q projected for every
    token (L x C x C more MACs), the heads' products counted once instead of per head, the
    positional add or the mean token forgotten."""
    attn, gap = operators("resnet50_clip", (1, 3, 224, 224)), operators("resnet50_clip_gap", (1, 3, 224, 224))
    L, C, E, H, d = CLIP_L, CLIP_C, CLIP_E, CLIP_HEADS, CLIP_D
    linear_macs = C * C + 2 * L * C * C + C * E
    assert attn["linear"] == (4, linear_macs, 2 * linear_macs + C + 2 * L * C + E)
    assert attn["matmul"] == (2, 2 * H * L * d, 4 * H * L * d)
    assert attn["softmax"] == (1, 0, 5 * H * L)
    assert attn["mean"] == (1, 0, (L - 1) * C)
    assert attn["mul"] == (1, 0, C) and attn["cat"] == (1, 0, 0)
    assert attn["add"][0] == gap["add"][0] + 1 and attn["add"][2] == gap["add"][2] + L * C
    assert gap["avg_pool"][0] == attn["avg_pool"][0] + 1  # the gap head's global pool
    assert gap["linear"] == (1, C * 1000, 2 * C * 1000 + 1000)
    for op in ("convolution", "batch_norm", "relu"):  # the same trunk
        assert attn[op] == gap[op], op
    t = trace("resnet50_clip")
    assert not t.uncounted and t.totals.flops == sum(f for _, _, f in attn.values())
