"""timm 1.0.31's res2net.py: the nine Res2Net / Res2NeXt models (its Bottle2neck in timm's
ResNet), and the block's options timm's constructor takes (scale in block_args, output_stride).
Outputs are checked on one model per feature (the plain 26w_4s, the grouped Res2NeXt, the
deep stem with avg_down, one split, dilation); the others by parameters and state-dict layout.
"""

from __future__ import annotations

from reference.entry import Entry

ENTRIES: list[Entry] = [
    Entry("timm:res2net50_26w_4s", "res2net50_26w_4s"),
    Entry("timm:res2next50", "res2next50"),
    Entry("timm:res2net50d", "res2net50d"),
    Entry("timm:res2net50_14w_8s", "res2net50_14w_8s", output=False),
    Entry("timm:res2net50_26w_6s", "res2net50_26w_6s", output=False),
    Entry("timm:res2net50_26w_8s", "res2net50_26w_8s", output=False),
    Entry("timm:res2net50_48w_2s", "res2net50_48w_2s", output=False),
    Entry("timm:res2net101_26w_4s", "res2net101_26w_4s", output=False),
    Entry("timm:res2net101d", "res2net101d", output=False),
    # scale 1: one split, convolved whole, nothing passed on unconvolved and no pool
    Entry("timm:res2net50_26w_4s(block_args={'scale': 1})", "res2net50_26w_4s:scale=1"),
    # a dilated stage: its first block pools the last split at stride 1, its 3x3s dilate
    Entry("timm:res2net50_26w_4s(output_stride=16)",
          "res2net50_26w_4s:replace_stride_with_dilation=0,0,1"),
]
