"""timm's resnetv2.py: pre-activation ResNets and BiT (layout=resnetv2, preact=true).

Outputs are checked on one model per feature: a basic and a bottleneck pre-activation
network, the deep and tiered stems with avg_down, BiT's weight-standardised convs with
GroupNorm and the zero-padded stem pool, GroupNorm alone, EvoNorm-S0, FRN with its TLU,
dilation (timm's output_stride, both block types, with avg_down's size-keeping pool) and
drop path; the rest by parameters and state-dict layout only.
"""

from __future__ import annotations

from reference.entry import Entry

ENTRIES: list[Entry] = [
    Entry("timm:resnetv2_18", "resnetv2_18"),
    Entry("timm:resnetv2_18d", "resnetv2_18d"),
    Entry("timm:resnetv2_50", "resnetv2_50"),
    Entry("timm:resnetv2_50t", "resnetv2_50t"),
    Entry("timm:resnetv2_50d_gn", "resnetv2_50d_gn"),
    Entry("timm:resnetv2_50d_evos", "resnetv2_50d_evos"),
    Entry("timm:resnetv2_50d_frn", "resnetv2_50d_frn"),
    Entry("timm:resnetv2_50x1_bit", "resnetv2_50x1_bit"),
    Entry("timm:resnetv2_50d(output_stride=8)", "resnetv2_50d:replace_stride_with_dilation=0,1,1"),
    Entry("timm:resnetv2_34(output_stride=16, drop_path_rate=0.1)",
          "resnetv2_34:replace_stride_with_dilation=0,0,1,drop_path=0.1"),
    Entry("timm:resnetv2_18d(in_chans=1, num_classes=10)", "resnetv2_18d:in_chans=1,num_classes=10",
          (2, 1, 64, 64)),
    *(Entry(f"timm:{name}", name, output=False) for name in (
        "resnetv2_34", "resnetv2_34d", "resnetv2_50d", "resnetv2_101", "resnetv2_101d",
        "resnetv2_152", "resnetv2_152d", "resnetv2_50x3_bit", "resnetv2_101x1_bit",
        "resnetv2_101x3_bit", "resnetv2_152x2_bit", "resnetv2_152x4_bit",
    )),
]
