"""timm's senet.py (legacy SENet, Cadene's layout): its nine models.

Outputs are checked on one model per block type (basic with its branch ReLU, the 1x1-strided
SE-ResNet bottleneck, the SE-ResNeXt bottleneck, SENet-154's block, deep stem and 3x3
projections); the deeper ones by parameters and state-dict layout only.
"""

from __future__ import annotations

from reference.entry import Entry

ENTRIES: list[Entry] = [
    Entry("timm:legacy_seresnet18", "legacy_seresnet18"),
    Entry("timm:legacy_seresnet50", "legacy_seresnet50"),
    Entry("timm:legacy_seresnext26_32x4d", "legacy_seresnext26_32x4d"),
    Entry("timm:legacy_senet154", "legacy_senet154", (1, 3, 64, 64)),
    *(Entry(f"timm:{name}", name, output=False) for name in (
        "legacy_seresnet34", "legacy_seresnet101", "legacy_seresnet152",
        "legacy_seresnext50_32x4d", "legacy_seresnext101_32x4d",
    )),
]
