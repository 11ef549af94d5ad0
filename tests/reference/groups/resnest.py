"""timm 1.0.31's resnest.py: the eight ResNeSt presets, and the block's options on small nets.

Outputs are compared on the small ones (radix 2 with avd after the 3x3, radix 4 and radix 1
with avd before it, a dilated stage); the deep presets check parameters and state-dict layout.
"""

from __future__ import annotations

from reference.entry import Entry

ENTRIES: list[Entry] = [
    Entry("timm:resnest14d", "resnest14d"),
    Entry("timm:resnest26d", "resnest26d", output=False),
    Entry("timm:resnest50d", "resnest50d", output=False),
    Entry("timm:resnest50d_1s4x24d", "resnest50d_1s4x24d", output=False),
    Entry("timm:resnest50d_4s2x40d", "resnest50d_4s2x40d", output=False),
    Entry("timm:resnest101e", "resnest101e", output=False),
    Entry("timm:resnest200e", "resnest200e", output=False),
    Entry("timm:resnest269e", "resnest269e", output=False),
    # radix 4 in 2 groups and radix 1 (a sigmoid gate), both with the avd pool before the 3x3
    Entry("timm:resnest50d_4s2x40d(layers=[1, 1, 1, 1])", "resnest50d_4s2x40d:layers=1,1,1,1"),
    Entry("timm:resnest50d_1s4x24d(layers=[1, 1, 1, 1])", "resnest50d_1s4x24d:layers=1,1,1,1"),
    # dilated stages: no stride there, so no avd pool either
    Entry("timm:resnest14d(output_stride=8)", "resnest14d:replace_stride_with_dilation=0,1,1"),
]
