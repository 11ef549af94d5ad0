"""Every consistency rule of the spec (spec._validate) and every parsing rule (spec.parse_field),
each with an invalid example that must raise SpecError naming the field, and a valid example
next to it (the same spec, one step over the line) that must be accepted, so a rule that
refuses too much fails as surely as one that refuses too little.

A case is a spec string (for ``resolve``), a dict (keywords for ``ResNetSpec``) or a pair
(arch, keywords for ``resolve``). Pure Python: nothing here builds a model.
"""

from __future__ import annotations

from typing import Any

import pytest

from resnet_inspect import ResNetSpec, SpecError, resolve

Case = str | dict[str, Any] | tuple[str | None, dict[str, Any]]
BIGGEST = 2**31 - 1  # the largest size torch can index: documented as the limit for any count


def make(case: Case) -> ResNetSpec:
    if isinstance(case, str):
        return resolve(case)
    if isinstance(case, dict):
        return ResNetSpec(**case)
    arch, keywords = case
    return resolve(arch, **keywords)


def check(invalid: Case, fragments: tuple[str, ...], valid: Case) -> None:
    with pytest.raises(SpecError) as info:
        make(invalid)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))
    make(valid)  # the neighbour over the line is accepted


# --- spec._validate, rule by rule, in its order ----------------------------------------------------
VALIDATE = [
    # n < 1 (an empty layers is caught while parsing, naming layers all the same)
    pytest.param({"layers": ()}, ("layers",), {"layers": (1,)}, id="layers-empty"),
    pytest.param("resnet50:layers=", ("layers",), "resnet50:layers=1", id="layers-empty-string"),
    # one width per stage
    pytest.param("resnet18:widths=64,128,256", ("widths", "64,128,256", "4 stages"),
                 "resnet18:widths=64,128,256,512", id="widths-fewer-than-stages"),
    pytest.param("resnet18:layers=2,2,2,widths=64,128,256,512", ("widths", "3 stages"),
                 "resnet18:layers=2,2,2,widths=64,128,256", id="widths-more-than-stages"),
    pytest.param({"block": "basic", "layers": (1, 1), "widths": (8, 16, 32)}, ("widths",),
                 {"block": "basic", "layers": (1, 1), "widths": (8, 16)}, id="widths-count-direct"),
    # one dilation flag per stage after the first
    pytest.param("resnet50:replace_stride_with_dilation=0,1", ("replace_stride_with_dilation",),
                 "resnet50:replace_stride_with_dilation=0,1,1", id="dilation-too-few"),
    pytest.param("resnet50:replace_stride_with_dilation=0,0,1,1", ("replace_stride_with_dilation",),
                 "resnet50:replace_stride_with_dilation=0,0,1", id="dilation-too-many"),
    pytest.param("resnet50:layers=3,replace_stride_with_dilation=0", ("replace_stride_with_dilation",),
                 "resnet50:layers=3,replace_stride_with_dilation=", id="dilation-one-stage"),
    # a basic block has no grouped conv
    pytest.param("resnet18:groups=2", ("groups=2", "basic"), "resnet50:groups=2", id="groups-on-basic"),
    pytest.param("resnet18:width_per_group=128", ("width_per_group=128",),
                 "resnet18:width_per_group=64,groups=1", id="width-per-group-on-basic"),
    # every stage keeps at least one channel inside its bottleneck: int(width * wpg / 64) * groups
    pytest.param("resnet50:width_per_group=1,widths=63,128,256,512", ("width_per_group=1", "stage 1"),
                 "resnet50:width_per_group=1,widths=64,128,256,512", id="no-channels-first-stage"),
    pytest.param("resnet50:width_per_group=1,widths=64,128,256,32", ("width_per_group=1", "stage 4"),
                 "resnet50:width_per_group=1,widths=64,128,256,64", id="no-channels-last-stage"),
    pytest.param("resnet50:width_per_group=2,groups=8,widths=31,64,64,64", ("width_per_group",),
                 "resnet50:width_per_group=2,groups=8,widths=32,64,64,64", id="no-channels-grouped"),
    # stride_in=1x1 moves the stride to a bottleneck's first 1x1 conv
    pytest.param("resnet18:stride_in=1x1", ("stride_in=1x1",), "resnet50:stride_in=1x1",
                 id="stride-in-1x1-on-basic"),
    pytest.param("resnet34:stride_in=1x1", ("stride_in",), "resnet34:stride_in=3x3",
                 id="stride-in-3x3-on-basic-is-fine"),
    # avg_down replaces a projection: shortcut A has none
    pytest.param("resnet20:avg_down=true", ("avg_down",), "resnet20:avg_down=true,shortcut=B",
                 id="avg-down-with-shortcut-a"),
    pytest.param("resnet18d:shortcut=A", ("avg_down", "shortcut"), "resnet18d:shortcut=C",
                 id="avg-down-with-shortcut-a-from-d"),
    # shortcut A zero-pads channels and cannot remove them: stem -> stage 1 -> stage 2 ...
    pytest.param("block=basic,layers=1,1,1,widths=16,32,64,stem=cifar,stem_width=64,shortcut=A",
                 ("shortcut A", "stage 1", "64 to 16"),
                 "block=basic,layers=1,1,1,widths=16,32,64,stem=cifar,stem_width=16,shortcut=A",
                 id="shortcut-a-stem-wider-than-stage-1"),
    pytest.param("resnet20:stem_width=17", ("shortcut A", "17 to 16"), "resnet20:stem_width=15",
                 id="shortcut-a-stem-one-wider"),
    pytest.param("resnet20:widths=16,8,64", ("shortcut A", "stage 2", "16 to 8"),
                 "resnet20:widths=16,16,64", id="shortcut-a-stage-narrower-than-the-last"),
    # the deep stem ends at 2 * stem_width channels: that is what stage 1 pads from
    pytest.param("resnet20:stem=deep,stem_width=16", ("shortcut A", "32 to 16"),
                 "resnet20:stem=deep,stem_width=8", id="shortcut-a-deep-stem-ends-wider"),
    # a bottleneck's output is 4 * width: 32 * 4 = 128 >= 64 is fine, 8 * 4 = 32 is not
    pytest.param("block=bottleneck,layers=1,1,widths=8,64,stem_width=64,shortcut=A",
                 ("shortcut A", "64 to 32"),
                 "block=bottleneck,layers=1,1,widths=32,64,stem_width=64,shortcut=A",
                 id="shortcut-a-bottleneck-expansion"),
    # group norm: 32 groups, so every normalised channel count is a multiple of 32
    pytest.param("resnet20:norm=group", ("norm=group", "16 channels"),
                 "resnet20:norm=group,widths=32,64,128,stem_width=32", id="group-norm-widths"),
    pytest.param("resnet50:norm=group,width_per_group=48", ("norm=group", "48 channels"),
                 "resnet50:norm=group,width_per_group=32", id="group-norm-bottleneck-inner-width"),
    pytest.param("resnet50:norm=group,stem=deep,stem_width=16", ("norm=group", "16 channels"),
                 "resnet50:norm=group,stem=deep,stem_width=32", id="group-norm-deep-stem-inner-convs"),
    pytest.param("resnet50:norm=group,stem_width=48", ("norm=group", "48 channels"),
                 "resnet50:norm=group,stem_width=96", id="group-norm-stem"),
    pytest.param("resnet18:norm=group,widths=64,128,256,80", ("norm=group", "80 channels"),
                 "resnet18:norm=group,widths=64,128,256,96", id="group-norm-last-stage"),
    # ResNeSt: its fields on its block only; avd_first places a pool that must exist; timm's block
    # has no anti-aliasing and a full-width first conv; groups x radix split the 3x3's channels
    # (64 in stage 1 of resnest50d), groups split the attention's (radix x 120 / 4 -> 64 for
    # 3 x 40); group norm reaches the radix branches and the attention (96 x 2 / 4 = 48)
    pytest.param("resnet50:radix=4", ("radix=4", "resnest"), "resnest50d:radix=4", id="radix-on-bottleneck"),
    pytest.param("resnet18:avd=true", ("avd=true", "resnest"), "resnest14d:avd=true", id="avd-on-basic"),
    pytest.param("resnet50:avd_first=true", ("avd_first=true", "resnest"), "resnest50d:avd_first=true",
                 id="avd-first-on-bottleneck"),
    pytest.param("resnest50d:avd=false,avd_first=true", ("avd_first=true", "avd is false"),
                 "resnest50d:avd=true,avd_first=true", id="avd-first-without-avd"),
    pytest.param("resnest50d:aa=avg", ("aa=avg", "resnest"), "resnest50d:aa=none", id="aa-on-resnest"),
    pytest.param("resnest50d:reduce_first=2", ("reduce_first=2", "resnest"), "resnest50d:reduce_first=1",
                 id="reduce-first-on-resnest"),
    pytest.param("resnest50d:radix=3", ("radix=3", "stage 1", "64 channels"), "resnest50d:radix=4",
                 id="radix-splits-the-channels"),
    pytest.param("resnest50d:groups=3,width_per_group=40", ("groups=3", "stage 1", "64 channels"),
                 "resnest50d:groups=3,width_per_group=48", id="groups-split-the-attention"),
    pytest.param("resnest50d:norm=group,width_per_group=96", ("norm=group", "48 channels"),
                 "resnest50d:norm=group,width_per_group=128", id="group-norm-resnest-attention"),
    # ... and normalises 1x1 channel means: 32 of them are one value per group (stage 1 of
    # resnest50d: 64 x 2 / 4), which group norm cannot normalise; 128 x 2 / 4 = 64 can
    pytest.param("resnest50d:norm=group", ("norm=group", "stage 1", "32 channel means"),
                 "resnest50d:norm=group,width_per_group=128", id="group-norm-resnest-one-value"),
    # res2net: scale splits the 3x3 stage of a res2net block only
    pytest.param("resnet50:scale=2", ("scale=2", "res2net"), "res2net50_26w_4s:scale=2",
                 id="scale-on-bottleneck"),
    pytest.param("resnet18:scale=8", ("scale=8", "res2net"), "resnet18:scale=4",
                 id="scale-on-basic"),
    pytest.param("res2net50_26w_4s:stride_in=1x1", ("stride_in=1x1", "bottleneck", "split 3x3s"),
                 "res2net50_26w_4s:stride_in=3x3", id="stride-in-on-res2net"),
    pytest.param("res2net50_26w_4s:scale=65", ("scale", "65", "at most 64"),
                 "res2net50_26w_4s:scale=64", id="scale-too-many-splits"),
    pytest.param("res2net50_26w_4s:reduce_first=2", ("reduce_first=2", "res2net"),
                 "resnet50:reduce_first=2", id="reduce-first-on-res2net"),
    pytest.param("res2net50d:aa=avg", ("aa=avg", "res2net"), "resnet50d:aa=avg", id="aa-on-res2net"),
    # the first conv has scale x split channels: int(2**31-1 * 26 / 64) = 872,415,231 per split;
    # 2 splits fit under 2**31 - 1, 3 do not
    pytest.param("res2net50_26w_4s:scale=3,widths=64,128,256,2147483647", ("scale", "3 splits"),
                 "res2net50_26w_4s:scale=2,widths=64,128,256,2147483647", id="scale-overflows"),
    # group norm: each split (26 channels) and the first conv (4 x 26) are normalised
    pytest.param("res2net50_26w_4s:norm=group", ("norm=group", "104 channels"),
                 "res2net50_26w_4s:norm=group,width_per_group=32", id="group-norm-res2net-splits"),
    pytest.param("res2net50_26w_4s:norm=group,width_per_group=16,scale=2",
                 ("norm=group", "16 channels"),
                 "res2net50_26w_4s:norm=group,width_per_group=32,scale=2", id="group-norm-res2net-split"),
    # the selective-kernel fields are read by sk_basic and sk_bottleneck blocks only
    pytest.param("resnet50:sk_split=false", ("sk_split=false", "sk_basic, sk_bottleneck"),
                 "skresnet50:sk_split=false", id="sk-split-on-bottleneck"),
    pytest.param("resnet18:sk_reduction=8", ("sk_reduction=8", "selective-kernel"),
                 "skresnet18:sk_reduction=8", id="sk-reduction-on-basic"),
    pytest.param("resnet50:sk_divisor=16", ("sk_divisor=16",), "skresnet50:sk_divisor=16",
                 id="sk-divisor-on-bottleneck"),
    # an sk_bottleneck strides in its selective-kernel conv; an sk_basic has no groups
    pytest.param("skresnet50:stride_in=1x1", ("stride_in=1x1", "selective-kernel conv takes the stride"),
                 "resnet50:stride_in=1x1", id="stride-in-on-sk-bottleneck"),
    pytest.param("skresnet18:groups=2", ("groups=2", "sk_basic"), "skresnet50:groups=2",
                 id="groups-on-sk-basic"),
    # sk_split halves the selective-kernel conv's input: stage 1's first block takes the stem's
    # 63 channels; stage 4's later blocks take its own 511
    pytest.param("skresnet18:stem_width=63", ("sk_split=true", "stage 1", "63 channels"),
                 "skresnet18:stem_width=63,sk_split=false", id="sk-split-odd-stem"),
    pytest.param("skresnet18:widths=64,128,256,511", ("sk_split=true", "stage 4", "511 channels"),
                 "skresnet18:widths=64,128,256,512", id="sk-split-odd-stage"),
    # ... which a stage of one block has no later block to take
    pytest.param("skresnet18:widths=64,128,255,512", ("sk_split=true", "stage 3", "255 channels"),
                 "skresnet18:widths=64,128,256,511,layers=2,2,2,1", id="sk-split-odd-single-block"),
    # an sk_bottleneck splits its first conv's width: 32 channels of 32 groups cannot be halved
    # into groups (int(64 * 1 / 64) * 32 = 32, so 16 per path)
    pytest.param("skresnext50_32x4d:width_per_group=1,sk_split=true", ("groups=32", "16 channels"),
                 "skresnext50_32x4d:width_per_group=1", id="sk-split-groups"),
    # legacy SENet's fields: the floor squeeze needs a gate and leaves at least one channel
    # (64 // 64 = 1, 64 // 128 = 0 in stage 1 of legacy_seresnet18)
    pytest.param("resnet50:se_rounding=floor", ("se_rounding=floor", "attn=se only"),
                 "seresnet50:se_rounding=floor", id="se-rounding-without-se"),
    pytest.param("legacy_seresnet18:se_reduction=128", ("se_rounding=floor", "64 channels"),
                 "legacy_seresnet18:se_reduction=64", id="se-floor-squeezes-to-nothing"),
    # the ReLU ending the branch is a basic block's; a bottleneck's branch ends in its norm
    pytest.param("resnet50:branch_relu=true", ("branch_relu=true", "basic"),
                 "resnet18:branch_relu=true", id="branch-relu-on-bottleneck"),
    # the ceil-mode pool is a max-pool: anti-aliasing brings its own, cifar has none
    pytest.param("legacy_seresnext50_32x4d:aa=avg", ("stem_pool=max_ceil", "aa=avg"),
                 "legacy_seresnext50_32x4d:aa=avg,stem_pool=max", id="max-ceil-with-aa"),
    pytest.param("resnet20:stem_pool=max_ceil", ("stem_pool=max_ceil", "cifar"),
                 "resnet20:stem_pool=max", id="max-ceil-on-cifar"),
    # pruned widths: one per conv of every block (3 per bottleneck, 2 per basic block), one
    # output width per stage (the residual sums), and nothing else that sets a conv's width
    pytest.param("resnet50:layers=1,1,block_widths=8,8,32,16,16", ("block_widths", "5 values", "6"),
                 "resnet50:layers=1,1,block_widths=8,8,32,16,16,64", id="block-widths-count"),
    pytest.param("resnet18:layers=1,1,block_widths=8,32,16", ("block_widths", "4 (2 per block)"),
                 "resnet18:layers=1,1,block_widths=8,32,16,64", id="block-widths-count-basic"),
    pytest.param("resnet50:layers=2,block_widths=8,8,32,16,16,30", ("block_widths", "30,32"),
                 "resnet50:layers=2,block_widths=8,8,32,16,16,32", id="block-widths-stage-output"),
    pytest.param("resnet50:layers=1,groups=2,block_widths=8,8,32", ("groups=2", "block_widths"),
                 "resnet50:layers=1,block_widths=8,8,32", id="block-widths-with-groups"),
    # pre-activation (timm's resnetv2.py): preact and the resnetv2 layout come together
    pytest.param("resnet50:preact=true", ("preact=true", "layout"),
                 "resnet50:preact=true,layout=resnetv2", id="preact-needs-resnetv2-layout"),
    pytest.param("resnetv2_50:preact=false", ("preact=false", "layout"),
                 "resnetv2_50:preact=false,layout=torchvision", id="resnetv2-layout-needs-preact"),
    pytest.param("resnet50:norm=evonorm", ("norm=evonorm", "preact"),
                 "resnetv2_50:norm=evonorm", id="evonorm-needs-preact"),
    pytest.param("resnet50:norm=frn", ("norm=frn", "preact"), "resnetv2_50:norm=frn",
                 id="frn-needs-preact"),
    pytest.param("resnet50:conv=std", ("conv=std", "layout=resnetv2"), "resnetv2_50:conv=std",
                 id="std-conv-needs-resnetv2"),
    pytest.param("resnet50:stem_pool=fixed", ("stem_pool=fixed", "layout=resnetv2"),
                 "resnetv2_50:stem_pool=fixed", id="fixed-pool-needs-resnetv2"),
    # what timm's resnetv2 has no option for, field by field
    pytest.param("resnetv2_50:shortcut=C", ("shortcut=C", "resnetv2"), "resnetv2_50:shortcut=B",
                 id="resnetv2-shortcut"),
    pytest.param("resnetv2_50:groups=32,width_per_group=4", ("groups=32", "resnetv2"),
                 "resnet50:groups=32,width_per_group=4", id="resnetv2-groups"),
    pytest.param("resnetv2_50:stride_in=1x1", ("stride_in=1x1", "resnetv2"),
                 "resnetv2_50:stride_in=3x3", id="resnetv2-stride-in"),
    pytest.param("resnetv2_50:attn=se", ("attn=se", "resnetv2"), "resnet50:attn=se",
                 id="resnetv2-attention"),
    pytest.param("resnetv2_50:aa=blur", ("aa=blur", "resnetv2"), "resnet50:aa=blur",
                 id="resnetv2-anti-aliasing"),
    pytest.param("resnetv2_50:reduce_first=2", ("reduce_first=2", "resnetv2"),
                 "resnet50:reduce_first=2", id="resnetv2-reduce-first"),
    pytest.param("resnetv2_50:down_kernel=3", ("down_kernel=3", "resnetv2"),
                 "resnet50:down_kernel=3", id="resnetv2-down-kernel"),
    pytest.param("resnetv2_18:stem=cifar", ("stem=cifar", "resnetv2"), "resnetv2_18:stem=deep",
                 id="resnetv2-cifar-stem"),
    pytest.param("resnetv2_50:stem_pool=conv", ("stem_pool=conv", "resnetv2"),
                 "resnetv2_50:stem_pool=max", id="resnetv2-conv-stem-pool"),
    pytest.param("resnetv2_50:norm=none", ("norm=none", "preact"), "resnetv2_50:norm=group",
                 id="preact-needs-a-norm"),
    # EvoNorm-S0 has 32 groups too
    pytest.param("resnetv2_18:norm=evonorm,stem_width=48", ("norm=evonorm", "48 channels"),
                 "resnetv2_18:norm=evonorm,stem_width=96", id="evonorm-widths"),
]  # fmt: skip


@pytest.mark.parametrize(("invalid", "fragments", "valid"), VALIDATE)
def test_consistency_rule(invalid: Case, fragments: tuple[str, ...], valid: Case) -> None:
    """Catches a rule dropped or loosened (the invalid spec builds a network that fails later,
    or silently differs from what was asked), and a rule too strict (the valid one refused):
    off-by-one at the boundary, stem_width used instead of the stem's last conv, widths instead
    of a bottleneck's output (4x) or inner width, only the first stage checked."""
    check(invalid, fragments, valid)


# --- spec.parse_field ------------------------------------------------------------------------------
INT_FIELDS = ["groups", "width_per_group", "stem_width", "num_classes", "in_chans"]
SK_INT_FIELDS = ["sk_reduction", "sk_divisor"]  # on a selective-kernel preset, which reads them


BAD_INTS = [("0", "at least 1"), ("-3", "at least 1"), (str(BIGGEST + 1), "too large"),
            ("1.5", "whole number"), ("ten", "whole number"), (True, "whole number"), (2.0, "whole number")]  # fmt: skip


# num_classes=0 is a headless net (tests/test_headless.py): its least is 0
@pytest.mark.parametrize(
    ("field", "bad", "fragment"),
    [(f, b, fr.replace("at least 1", "at least 0") if f == "num_classes" else fr)
     for b, fr in BAD_INTS for f in INT_FIELDS if not (f == "num_classes" and b == "0")],
)  # fmt: skip
def test_integer_fields_refuse_bad_numbers(field: str, bad: Any, fragment: str) -> None:
    """Catches 0 or negatives accepted (a zero-channel conv), a count torch cannot index,
    True taken as 1 (bool is an int in Python), a float truncated."""
    base = "resnet50"
    with pytest.raises(SpecError) as info:
        resolve(base, **{field: bad})
    assert info.value.args[0].startswith(f"{field}:") and fragment in str(info.value)


@pytest.mark.parametrize(("bad", "fragment"), [("0", "at least 1"), ("two", "whole number")])
def test_scale_refuses_bad_numbers(bad: str, fragment: str) -> None:
    """scale is read by res2net blocks only, so it is parsed on a res2net preset."""
    with pytest.raises(SpecError) as info:
        resolve("res2net50_26w_4s", scale=bad)
    assert info.value.args[0].startswith("scale:") and fragment in str(info.value)


@pytest.mark.parametrize("field", INT_FIELDS)
@pytest.mark.parametrize("good", ["1", " 7 ", 7, str(BIGGEST), BIGGEST])
def test_integer_fields_accept_the_boundaries(field: str, good: Any) -> None:
    """1 and 2**31 - 1 are allowed, spaces around a number too. Catches a limit off by one."""
    assert getattr(resolve("resnet50", **{field: good}), field) == int(str(good).strip())


@pytest.mark.parametrize("field", SK_INT_FIELDS)
@pytest.mark.parametrize(("bad", "fragment"), [("0", "at least 1"), ("1.5", "whole number"), (True, "whole number")])
def test_selective_kernel_integers_refuse_bad_numbers(field: str, bad: Any, fragment: str) -> None:
    """Catches a zero divisor or reduction reaching the attention's channel rule."""
    with pytest.raises(SpecError) as info:
        resolve("skresnet50", **{field: bad})
    assert info.value.args[0].startswith(f"{field}:") and fragment in str(info.value)


@pytest.mark.parametrize(
    ("invalid", "fragments", "valid"),
    [
        pytest.param("resnet50:layers=3,0,6,3", ("layers:", "at least 1"), "resnet50:layers=3,1,6,3",
                     id="layers-zero"),
        pytest.param("resnet50:layers=3,-4,6,3", ("layers:", "at least 1"), "resnet50:layers=3,4,6,3",
                     id="layers-negative"),
        pytest.param(f"resnet50:layers=3,{BIGGEST + 1}", ("layers:", "too large"),
                     "resnet50:layers=3,1997", id="layers-too-large"),
        # 2,000 blocks in all (spec.MAX_BLOCKS): a count that would build for minutes is refused
        pytest.param("resnet50:layers=3,1998", ("layers:", "2,001 blocks", "at most 2,000"),
                     "resnet50:layers=3,1997", id="layers-too-many-blocks"),
        pytest.param("resnet50:widths=64,0,256,512", ("widths:", "at least 1"),
                     "resnet50:widths=64,1,256,512", id="widths-zero"),
        pytest.param(f"resnet50:widths=64,128,256,{BIGGEST + 1}", ("widths:", "too large"),
                     f"resnet50:widths=64,128,256,{BIGGEST}", id="widths-too-large"),
        pytest.param(("resnet50", {"layers": "3,,6,3"}), ("layers:", "separated by commas or spaces", "'3,,6,3'"),
                     ("resnet50", {"layers": "3, 6, 3"}), id="layers-empty-item"),
        # in a spec string an empty item ends the list: the message quotes the whole string
        pytest.param("resnet50:layers=3,,6,3", ("'resnet50:layers=3,,6,3'",), "resnet50:layers=3,6,3",
                     id="layers-empty-item-in-string"),
        pytest.param(("resnet50", {"layers": 5}), ("layers:",), ("resnet50", {"layers": [5]}),
                     id="layers-not-a-list"),
        pytest.param(("resnet50", {"layers": []}), ("layers:",), ("resnet50", {"layers": "5"}),
                     id="layers-empty-list"),
        pytest.param(("resnet50", {"widths": (64, 128, True, 512)}), ("widths:",),
                     ("resnet50", {"widths": (64, 128, 1, 512)}), id="widths-bool-item"),
    ],
)  # fmt: skip
def test_integer_lists(invalid: Case, fragments: tuple[str, ...], valid: Case) -> None:
    """Catches per-item checks skipped for lists (a stage of 0 blocks, a 0-wide stage)."""
    check(invalid, fragments, valid)


@pytest.mark.parametrize(
    ("invalid", "fragments", "valid"),
    [
        pytest.param("resnet50:block=triangle", ("block 'triangle':", "basic, bottleneck, resnest, res2net, sk_basic"),
                     "resnet50:block=BASIC,layers=2,2,2,2", id="block"),
        pytest.param("resnet50:stem=fancy", ("stem 'fancy':", "classic, deep, tiered, cifar"),
                     "resnet50:stem=Cifar", id="stem"),
        pytest.param("resnet50:shortcut=D", ("shortcut 'D':", "A, B, C"), "resnet50:shortcut=c",
                     id="shortcut"),
        pytest.param("resnet50:stride_in=2x2", ("stride_in '2x2':", "3x3, 1x1"),
                     "resnet50:stride_in=1X1", id="stride-in"),
        pytest.param("resnet50:norm=layer", ("norm 'layer':", "batch, group, none"),
                     "resnet50:norm=NONE", id="norm"),
        pytest.param(("resnet50", {"norm": ""}), ("norm '':",), ("resnet50", {"norm": "batch"}),
                     id="norm-empty"),
    ],
)  # fmt: skip
def test_choices(invalid: Case, fragments: tuple[str, ...], valid: Case) -> None:
    """Catches a value outside the choices slipping through (or falling back to a default),
    and case-insensitive matching lost."""
    check(invalid, fragments, valid)


@pytest.mark.parametrize(
    ("invalid", "fragments", "valid"),
    [
        pytest.param("resnet50:avg_down=maybe", ("avg_down:", "'maybe'"), "resnet50:avg_down=yes",
                     id="avg-down"),
        pytest.param("resnet50:zero_init_residual=2", ("zero_init_residual:",),
                     "resnet50:zero_init_residual=1", id="zero-init-residual"),
        pytest.param(("resnet50", {"avg_down": 2}), ("avg_down:",), ("resnet50", {"avg_down": 0}),
                     id="avg-down-int-2"),
        pytest.param("resnet50:replace_stride_with_dilation=0,2,1",
                     ("replace_stride_with_dilation:", "'2'"),
                     "resnet50:replace_stride_with_dilation=off,TRUE,t", id="dilation-item"),
        pytest.param("resnet50:zero_init_residual=", ("zero_init_residual:",),
                     "resnet50:zero_init_residual=false", id="zero-init-empty"),
    ],
)  # fmt: skip
def test_booleans(invalid: Case, fragments: tuple[str, ...], valid: Case) -> None:
    """Catches any non-empty string read as true (Python's bool("false") is True)."""
    check(invalid, fragments, valid)


def test_boolean_words_mean_what_they_say() -> None:
    """Catches a word read the wrong way round."""
    for word in ("1", "true", "Yes", "on", "y", "T"):
        assert resolve("resnet50", avg_down=word).avg_down is True
    for word in ("0", "false", "No", "OFF", "n", "F"):
        assert resolve("resnet50d", avg_down=word).avg_down is False


@pytest.mark.parametrize(
    ("invalid", "fragments", "valid"),
    [
        pytest.param("resnet50:colour=red", ("unknown spec key", "'colour'"),
                     "resnet50:num-classes=10", id="unknown-in-string"),
        pytest.param(("resnet50", {"colour": "red"}), ("unknown spec key", "'colour'"),
                     ("resnet50", {"Num-Classes": 10}), id="unknown-keyword"),
        pytest.param("resnet50:group=32", ("'group'", "did you mean groups"),
                     "resnet50:groups=32", id="near-miss-suggests"),
        pytest.param("resnet50:groups=32,groups=16", ("groups", "twice"),
                     "resnet50:groups=32,width_per_group=4", id="given-twice"),
    ],
)  # fmt: skip
def test_keys(invalid: Case, fragments: tuple[str, ...], valid: Case) -> None:
    """Catches an unknown key ignored (the user's override silently has no effect), and the
    dash/underscore and case spellings of a real key refused."""
    check(invalid, fragments, valid)


def test_none_means_derive_it() -> None:
    """widths and replace_stride_with_dilation left as None are derived from the stage count:
    64 doubling per stage, no dilation. Catches None refused or kept as None."""
    spec = ResNetSpec(block="basic", layers=(1, 1, 1), widths=None, replace_stride_with_dilation=None)
    assert spec.widths == (64, 128, 256)
    assert spec.replace_stride_with_dilation == (False, False)


# --- issue #23's fields: conv_bias, bn_eps (Keras), head=attn, img_size, layout=clip (CLIP) ----------
FOREIGN = [
    pytest.param("resnet18:norm=none,conv_bias=true", ("conv_bias=true", "norm=none"),
                 "resnet18:conv_bias=true", id="conv-bias-without-norm"),
    pytest.param("resnet50:norm=group,bn_eps=1e-3", ("bn_eps=0.001", "norm=batch", "group"),
                 "resnet50:bn_eps=1e-3", id="bn-eps-needs-batch-norm"),
    pytest.param("resnest50d:conv_bias=true", ("conv_bias=true", "basic, bottleneck", "resnest"),
                 "resnet50d:conv_bias=true", id="conv-bias-on-resnest"),
    pytest.param("res2net50_26w_4s:bn_eps=1e-3", ("bn_eps=0.001", "res2net"),
                 "resnet50:bn_eps=1e-3", id="bn-eps-on-res2net"),
    pytest.param("resnetv2_50:conv_bias=true", ("conv_bias=true", "resnetv2"),
                 "legacy_seresnet50:conv_bias=true", id="conv-bias-on-resnetv2"),
    pytest.param("resnetv2_50:bn_eps=1e-3", ("bn_eps=0.001", "resnetv2"),
                 "legacy_seresnet50:bn_eps=1e-3", id="bn-eps-on-resnetv2"),
    pytest.param("resnet50:layout=clip", ("layout=clip", "stem=deep", "classic"),
                 "resnet50:layout=clip,stem=deep", id="clip-layout-needs-three-stem-convs"),
    pytest.param("legacy_seresnet50:head=attn", ("head=attn", "layout=senet"), "resnet50:head=attn",
                 id="attn-head-not-senet"),
    pytest.param("resnetv2_50:head=attn", ("head=attn", "layout=resnetv2"), "resnet50c:head=attn",
                 id="attn-head-not-resnetv2"),
    # 64 channels per head: a last stage of 520 channels has no whole number of heads
    pytest.param("resnet18:head=attn,widths=64,128,256,520", ("head=attn", "520 channels", "64"),
                 "resnet18:head=attn,widths=64,128,256,576", id="attn-heads-of-64"),
    # the grid: the input over the output stride (32; 16 with the last stage dilated; the
    # cifar stem's 1 x 2 x 2 = 4): whole, so that the positional embedding covers it
    pytest.param("resnet50_clip:img_size=100", ("img_size=100", "output stride 32"),
                 "resnet50_clip:img_size=96", id="attn-grid-whole"),
    pytest.param("resnet50:head=attn,replace_stride_with_dilation=0,0,1,img_size=40",
                 ("img_size=40", "output stride 16"),
                 "resnet50:head=attn,replace_stride_with_dilation=0,0,1,img_size=48", id="attn-grid-dilated"),
    pytest.param("resnet20:head=attn,img_size=30", ("img_size=30", "output stride 4"),
                 "resnet20:head=attn,img_size=28", id="attn-grid-cifar"),
    # (grid^2 + 1) x 2048 values: a 1024x1024 grid is 2,147,485,696, just over 2**31 - 1;
    # 1023x1023 is 2,143,293,440
    pytest.param("resnet50_clip:img_size=32768", ("img_size=32768", "2,147,485,696 values"),
                 "resnet50_clip:img_size=32736", id="attn-embedding-size"),
]  # fmt: skip


@pytest.mark.parametrize(("invalid", "fragments", "valid"), FOREIGN)
def test_foreign_architecture_rules(invalid: Case, fragments: tuple[str, ...], valid: Case) -> None:
    """Catches conv_bias or bn_eps silently ignored where nothing reads them (a resnest block's
    attention convs, resnetv2's blocks, no batch norm), the attention pool built for a grid
    the network does not produce (a positional embedding that cannot be added), and the CLIP
    layout asked to name a one-conv stem conv1..conv3."""
    check(invalid, fragments, valid)


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [("0", "above 0"), ("-1e-5", "above 0"), ("0.2", "at most 0.1"), ("nan", "above 0"),
     ("inf", "above 0"), ("tiny", "small positive number"), (True, "small positive number")],
)  # fmt: skip
def test_bn_eps_refuses_what_is_no_epsilon(bad: Any, fragment: str) -> None:
    """Catches an eps of 0 (a zero variance divides by zero), a negative one (the square root
    of a negative), nan and inf accepted."""
    check(("resnet50", {"bn_eps": bad}), ("bn_eps", fragment), ("resnet50", {"bn_eps": "0.1"}))


def test_img_size_sets_the_default_input() -> None:
    """The presets' default input is the size CLIP uses; a head=avg variant takes img_size as
    its default input only."""
    sides = {name: resolve(name).default_input_shape() for name in
             ("resnet50_clip", "resnet50x4_clip", "resnet50x16_clip", "resnet50x64_clip",
              "resnet50x4_clip_gap", "resnet50", "resnet20")}  # fmt: skip
    assert {k: v[-1] for k, v in sides.items()} == {
        "resnet50_clip": 224, "resnet50x4_clip": 288, "resnet50x16_clip": 384,
        "resnet50x64_clip": 448, "resnet50x4_clip_gap": 288, "resnet50": 224, "resnet20": 32,
    }  # fmt: skip
    assert resolve("resnet50:img_size=160").default_input_shape() == (1, 3, 160, 160)
