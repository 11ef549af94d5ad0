"""timm's resnet.py models beyond one width per stage: the pruned ECA-ResNets (per-block conv
widths, timm's models/_pruned/*.txt)."""

from __future__ import annotations

from reference.entry import Entry

ENTRIES: list[Entry] = [
    Entry("timm:ecaresnet50d_pruned", "ecaresnet50d_pruned"),
    Entry("timm:ecaresnet101d_pruned", "ecaresnet101d_pruned", output=False),
]
