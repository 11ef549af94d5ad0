"""Selective-kernel networks: timm 1.0.31's sknet.py, its five models and the options our
blocks share with the others (dilation, anti-aliasing, channel attention, group norm)."""

from __future__ import annotations

from torch import nn

from reference.entry import Entry

# timm's skresnet18/34 sk_kwargs, repeated where an entry overrides block_args
_SK18 = "'sk_kwargs': {'rd_ratio': 0.125, 'rd_divisor': 16, 'split_input': True}"

ARGUMENTS = {"AvgPool2d": nn.AvgPool2d}

ENTRIES: list[Entry] = [
    Entry("timm:skresnet18", "skresnet18"),
    Entry("timm:skresnet34", "skresnet34", output=False),
    Entry("timm:skresnet50", "skresnet50", output=False),
    Entry("timm:skresnet50d", "skresnet50d", output=False),
    Entry("timm:skresnext50_32x4d", "skresnext50_32x4d"),
    # the dilated path's dilation doubles with the stage's (output_stride)
    Entry("timm:skresnet18(output_stride=8)", "skresnet18:replace_stride_with_dilation=0,1,1"),
    # each path filters its own strided output
    Entry("timm:skresnet18(aa_layer=AvgPool2d)", "skresnet18:aa=avg"),
    Entry("timm:skresnet18(block_args={" + _SK18 + ", 'attn_layer': 'se'})", "skresnet18:attn=se"),
    # timm's 'groupnorm' (32 groups, as resnet50_gn); the attention keeps its BatchNorm
    Entry("timm:skresnet50(norm_layer='groupnorm')", "skresnet50:norm=group", output=False),
]
