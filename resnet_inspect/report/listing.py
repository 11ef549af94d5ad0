"""list: the presets, one row each."""

from __future__ import annotations

from ..presets import PRESET_FAMILY
from ..spec import PRESETS, ResNetSpec, format_value
from .document import Column, Report, Table

_OTHER = ("attn", "se_reduction", "aa", "stem_pool", "reduce_first", "down_kernel", "norm",
          "stride_in", "drop_path", "avd", "avd_first")  # fmt: skip
_DEFAULT = ResNetSpec()


def _other(spec: ResNetSpec) -> str:
    """The fields beyond the other columns that differ from the defaults: ``attn=se``."""
    changed = [f"{f}={format_value(getattr(spec, f))}" for f in _OTHER
               if getattr(spec, f) != getattr(_DEFAULT, f)]  # fmt: skip
    if spec.uses("radix"):  # the block's own shape: shown at its default too
        changed.insert(0, f"radix={spec.radix}")
    if spec.uses("scale"):  # the block's own shape: shown at its default too
        changed.insert(0, f"scale={spec.scale}")
    return " ".join(changed) or "-"


def list_report(params: dict[str, int]) -> Report:
    columns = (
        Column("Preset", "left"), Column("Block", "left"), Column("Layers", "left"),
        Column("Groups x width", "left", priority=2), Column("Stem", "left", priority=1),
        Column("Shortcut", "left", priority=3), Column("Other", "left", priority=4),
        Column("Params", human=True),
    )  # fmt: skip
    rows = []
    for name in params:
        spec = PRESETS[name]
        gw = f"{spec.groups}x{spec.width_per_group}" if spec.uses("groups") else "-"
        stem = f"{spec.stem.value}/{spec.stem_width}" + (" +avg_down" if spec.avg_down else "")
        rows.append((name, spec.block.value, format_value(spec.layers), gw, stem,
                     spec.shortcut.value, _other(spec), params[name]))  # fmt: skip
    payload = {
        "command": "list",
        "presets": [
            {"name": n, "family": PRESET_FAMILY[n], "spec": PRESETS[n].to_dict(), "params": params[n]}
            for n in params
        ],
    }
    table = Table(title="Presets", columns=columns, rows=tuple(rows),
                  caption="Any preset takes overrides: resnet50:groups=32,width_per_group=4")  # fmt: skip
    return Report(payload=payload, tables=(table,))
