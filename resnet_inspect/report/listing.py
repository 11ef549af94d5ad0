"""list: the presets, one row each."""

from __future__ import annotations

from ..spec import PRESETS, format_value
from .document import Column, Report, Table


def list_report(params: dict[str, int]) -> Report:
    columns = (
        Column("Preset", "left"), Column("Block", "left"), Column("Layers", "left"),
        Column("Groups x width", "left", priority=2), Column("Stem", "left", priority=1),
        Column("Shortcut", "left", priority=3), Column("Params", human=True),
    )  # fmt: skip
    rows = []
    for name, spec in PRESETS.items():
        gw = f"{spec.groups}x{spec.width_per_group}" if spec.block.value == "bottleneck" else "-"
        stem = f"{spec.stem.value}/{spec.stem_width}" + (" +avg_down" if spec.avg_down else "")
        rows.append((name, spec.block.value, format_value(spec.layers), gw, stem,
                     spec.shortcut.value, params[name]))  # fmt: skip
    payload = {
        "command": "list",
        "presets": [
            {"name": n, "spec": PRESETS[n].to_dict(), "params": params[n]} for n in PRESETS
        ],
    }
    table = Table(title="Presets", columns=columns, rows=tuple(rows),
                  caption="Any preset takes overrides: resnet50:groups=32,width_per_group=4")  # fmt: skip
    return Report(payload=payload, tables=(table,))
