"""Generate the reference data under tests/reference/data/ from torchvision and timm, by hand.

Run from the repository root, in the reference environment (torch 2.13.0 CPU, torchvision
0.28, timm 1.0.31); reference-env.sh builds it on first use (a few minutes; it takes the venv
directory as an optional argument, .venv-ref by default) and prints its python last::

    $(bash ../shared/tools/reference-env.sh) tests/reference/generate.py

For every entry in ENTRIES it records, from the *reference* model only: the parameter count,
every state-dict key with its dtype and shape, and the eval-mode output on
``deterministic_input(input_shape)`` with ``deterministic_state_dict`` weights (float32,
base64). tests/test_reference.py then checks our model for ``spec`` against those numbers
without torchvision or timm. Nothing of resnet_inspect is used here.

Entries come in groups, one data file each (``data/<group>.json.gz``): ``ENTRIES`` below is
the group ``resnet`` (torchvision and timm's resnet.py); every module in ``groups/`` that
defines ``ENTRIES`` (and, where it needs them, ``ARGUMENTS``) is the group of its name. A group
whose references need more than building and loading by the same names (other libraries, other
key names) defines ``record(entry)`` returning the same record, and ``versions()``, the
versions of those libraries (groups/clip.py, groups/keras.py: run them in the foreign
environment, which has torchvision and timm too). To add a model, add an Entry to its group
and rerun for that group only::

    python tests/reference/generate.py resnetv2

With no argument every group is regenerated. A group's file is rewritten whole. Every run also
rewrites ``timm_models.json``: the names timm registers in its ResNet modules.
"""

from __future__ import annotations

import ast
import datetime
import gzip
import importlib
import json
import platform
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/, for `reference`
from reference.entry import Entry
from reference.weights import (
    SCHEME,
    describe,
    deterministic_input,
    encode_float32,
    fingerprint,
    load_deterministic,
)

DATA_DIR = Path(__file__).with_name("data")
GROUPS_DIR = Path(__file__).with_name("groups")


# Keyword values that are not literals.
ARGUMENTS: dict[str, Any] = {
    "GroupNorm32": partial(nn.GroupNorm, 32),  # our norm=group: GroupNorm(32, channels)
}

ENTRIES: list[Entry] = [
    # torchvision's presets
    Entry("torchvision:resnet18", "resnet18"),
    Entry("torchvision:resnet34", "resnet34"),
    Entry("torchvision:resnet50", "resnet50"),
    Entry("torchvision:resnet101", "resnet101"),
    Entry("torchvision:resnet152", "resnet152"),
    Entry("torchvision:resnext50_32x4d", "resnext50_32x4d"),
    Entry("torchvision:resnext101_32x8d", "resnext101_32x8d"),
    Entry("torchvision:resnext101_64x4d", "resnext101_64x4d"),
    Entry("torchvision:wide_resnet50_2", "wide_resnet50_2"),
    Entry("torchvision:wide_resnet101_2", "wide_resnet101_2"),
    # torchvision's options. Its BasicBlock refuses dilation, groups and width_per_group, so
    # the 18/34 variants are the norm layer and the class count (dilated ones: timm, below).
    Entry(
        "torchvision:resnet50(replace_stride_with_dilation=[False, True, True])",
        "resnet50:replace_stride_with_dilation=0,1,1",
    ),
    Entry(
        "torchvision:resnet50(replace_stride_with_dilation=[False, False, True])",
        "resnet50:replace_stride_with_dilation=0,0,1",
    ),
    Entry(
        "torchvision:resnext50_32x4d(replace_stride_with_dilation=[False, True, True])",
        "resnext50_32x4d:replace_stride_with_dilation=0,1,1",
    ),
    Entry("torchvision:resnet50(norm_layer=GroupNorm32)", "resnet50:norm=group"),
    Entry("torchvision:resnet18(norm_layer=GroupNorm32)", "resnet18:norm=group"),
    Entry("torchvision:resnet34(num_classes=10)", "resnet34:num_classes=10"),
    Entry(
        "torchvision:resnet50(groups=4, width_per_group=32)", "resnet50:groups=4,width_per_group=32"
    ),
    # timm: the deep stem (C) and deep stem + avg_down (D)
    Entry("timm:resnet50c", "resnet50c"),
    Entry("timm:resnet18d", "resnet18d"),
    Entry("timm:resnet26d", "resnet26d"),
    Entry("timm:resnet34d", "resnet34d"),
    Entry("timm:resnet50d", "resnet50d"),
    Entry("timm:resnet101d", "resnet101d"),
    Entry("timm:resnet152d", "resnet152d"),
    # timm's dilation (output_stride) on basic blocks, which torchvision refuses
    Entry("timm:resnet18(output_stride=8)", "resnet18:replace_stride_with_dilation=0,1,1"),
    Entry("timm:resnet34(output_stride=16)", "resnet34:replace_stride_with_dilation=0,0,1"),
    Entry("timm:resnet50d(output_stride=8)", "resnet50d:replace_stride_with_dilation=0,1,1"),
    Entry("timm:resnet50c(output_stride=16)", "resnet50c:replace_stride_with_dilation=0,0,1"),
    # timm's in_chans
    Entry("timm:resnet26d(in_chans=1)", "resnet26d:in_chans=1", (2, 1, 64, 64)),
    # timm's options beyond C and D: at least one model per feature with its output checked
    # (attention SE/ECA on both block types, tiered and S stems, ResNet-RS, avg and blur
    # anti-aliasing, dilated anti-aliasing, SENet-154's halved first conv and 3x3 projection,
    # GroupNorm, drop path), the rest by parameters and state-dict layout only.
    Entry("timm:seresnet18", "seresnet18"),
    Entry("timm:seresnet50", "seresnet50"),
    Entry("timm:seresnext26t_32x4d", "seresnext26t_32x4d"),
    Entry("timm:ecaresnet26t", "ecaresnet26t"),
    Entry("timm:ecaresnetlight", "ecaresnetlight"),
    Entry("timm:resnet10t", "resnet10t"),
    Entry("timm:resnet14t", "resnet14t"),
    Entry("timm:resnet50s", "resnet50s"),
    Entry("timm:resnet50_gn", "resnet50_gn"),
    Entry("timm:resnetblur18", "resnetblur18"),
    Entry("timm:resnetblur50d", "resnetblur50d"),
    Entry("timm:resnetaa34d", "resnetaa34d"),
    Entry("timm:resnetaa50", "resnetaa50"),
    Entry("timm:seresnetaa50d", "seresnetaa50d"),
    Entry("timm:resnetrs50", "resnetrs50"),
    Entry("timm:senet154", "senet154"),
    Entry("timm:resnetblur18(output_stride=8)", "resnetblur18:replace_stride_with_dilation=0,1,1"),
    Entry("timm:resnetaa50d(output_stride=16)", "resnetaa50d:replace_stride_with_dilation=0,0,1"),
    Entry("timm:resnetrs50(output_stride=16, drop_path_rate=0.1)",
          "resnetrs50:replace_stride_with_dilation=0,0,1,drop_path=0.1"),
    Entry("timm:resnet26(block_reduce_first=2, down_kernel_size=3, output_stride=8)",
          "resnet26:reduce_first=2,down_kernel=3,replace_stride_with_dilation=0,1,1"),
    *(Entry(f"timm:{name}", name, output=False) for name in (
        "resnet26", "resnet200", "resnet101c", "resnet152c", "resnet200d", "resnet101s",
        "resnet152s", "resnet26t", "resnet50t", "resnext50d_32x4d", "resnext101_32x4d",
        "resnext101_32x8d", "resnext101_64x4d", "resnext101_32x16d", "resnext101_32x32d",
        "wide_resnet50_2", "wide_resnet101_2", "seresnet34", "seresnet101", "seresnet152",
        "seresnet50t", "seresnet152d", "seresnet200d", "seresnet269d", "seresnext26d_32x4d",
        "seresnext50_32x4d", "seresnext101_32x4d", "seresnext101_32x8d", "seresnext101d_32x8d",
        "seresnext101_64x4d", "ecaresnet50d", "ecaresnet50t", "ecaresnet101d", "ecaresnet200d",
        "ecaresnet269d", "ecaresnext26t_32x4d", "ecaresnext50t_32x4d", "resnetblur50",
        "resnetblur101d", "resnetaa50d", "resnetaa101d", "seresnextaa101d_32x8d",
        "seresnextaa201d_32x8d", "resnetrs101", "resnetrs152", "resnetrs200", "resnetrs270",
        "resnetrs350", "resnetrs420", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
        "resnext50_32x4d",
    )),
]


def parse_reference(text: str) -> tuple[str, str, dict[str, Any]]:
    """``"timm:resnet18(output_stride=8)"`` to ``("timm", "resnet18", {"output_stride": 8})``."""
    library, sep, call = text.partition(":")
    if not sep or library not in ("torchvision", "timm"):
        raise ValueError(f"{text!r}: expected torchvision:NAME or timm:NAME")
    node = ast.parse(call.strip(), mode="eval").body
    if isinstance(node, ast.Name):
        return library, node.id, {}
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.args:
        raise ValueError(f"{text!r}: expected NAME or NAME(key=value, ...)")
    kwargs: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise ValueError(f"{text!r}: no **kwargs")
        if isinstance(kw.value, ast.Name):
            kwargs[kw.arg] = ARGUMENTS[kw.value.id]
        else:
            kwargs[kw.arg] = ast.literal_eval(kw.value)
    return library, node.func.id, kwargs


def build_reference(text: str) -> nn.Module:
    library, name, kwargs = parse_reference(text)
    constructor: Callable[..., nn.Module]
    if library == "torchvision":
        import torchvision

        constructor = getattr(torchvision.models, name)
        return constructor(weights=None, **kwargs)
    import timm

    return timm.create_model(name, pretrained=False, **kwargs)


def record(entry: Entry) -> dict[str, Any]:
    model = build_reference(entry.reference)
    layout = {k: describe(t) for k, t in model.state_dict().items()}
    output = None
    if entry.output:
        load_deterministic(model)
        with torch.no_grad():
            output = encode_float32(model(deterministic_input(entry.input_shape)))
    return {
        "reference": entry.reference,
        "spec": entry.spec,
        "input_shape": list(entry.input_shape),
        "params": sum(p.numel() for p in model.parameters()),
        "state_dict": layout,
        "output": output,
    }


# a group's own recorder and the versions of the libraries it reads (see the module docstring)
RECORDERS: dict[str, Callable[[Entry], dict[str, Any]]] = {}
VERSIONS: dict[str, Callable[[], dict[str, str]]] = {}


def groups() -> dict[str, list[Entry]]:
    """Every group's entries: ``resnet`` here, the rest from ``groups/<name>.py``."""
    found = {"resnet": ENTRIES}
    for path in sorted(GROUPS_DIR.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        module = importlib.import_module(f"reference.groups.{path.stem}")
        ARGUMENTS.update(getattr(module, "ARGUMENTS", {}))
        found[path.stem] = module.ENTRIES
        if hasattr(module, "record"):
            RECORDERS[path.stem], VERSIONS[path.stem] = module.record, module.versions
    return found


def write_group(name: str, group: list[Entry]) -> None:
    import timm
    import torchvision

    ids = [e.reference for e in group]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise SystemExit(f"duplicate references in {name}: {sorted(duplicates)}")
    entries = []
    recorder = RECORDERS.get(name, record)
    for entry in group:
        start = time.perf_counter()
        entries.append(recorder(entry))
        print(f"{time.perf_counter() - start:6.2f}s  {entry.reference}", file=sys.stderr)
    data = {
        "generated_by": "tests/reference/generate.py",
        "group": name,
        "date": datetime.date.today().isoformat(),
        "versions": {
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "timm": timm.__version__,
            "python": platform.python_version(),
            **(VERSIONS[name]() if name in VERSIONS else {}),
        },
        "weights": {"scheme": SCHEME, "sha256": fingerprint()},
        "entries": entries,
    }
    text = json.dumps(data, indent=1) + "\n"
    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / f"{name}.json.gz"
    # no time stamp or path in the header: the same data gives the same bytes
    with open(path, "wb") as raw, gzip.GzipFile(f"{name}.json", "wb", fileobj=raw, mtime=0) as gz:
        gz.write(text.encode())
    print(f"wrote {path} ({path.stat().st_size:,} bytes, {len(entries)} entries)", file=sys.stderr)


TIMM_MODULES = ("resnet", "resnetv2", "senet", "res2net", "resnest", "sknet")
REGISTRY = Path(__file__).with_name("timm_models.json")


def write_registry() -> None:
    """Every architecture timm registers in the ResNet modules, by module: the list the
    suite checks the presets and the reference entries against."""
    import timm

    modules = {m: sorted(timm.list_models(module=m)) for m in TIMM_MODULES}
    data = {"generated_by": "tests/reference/generate.py", "timm": timm.__version__, "modules": modules}
    REGISTRY.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {REGISTRY} ({sum(map(len, modules.values()))} architectures)", file=sys.stderr)


def main(argv: list[str]) -> None:
    torch.set_num_threads(min(2, torch.get_num_threads()))
    found = groups()
    unknown = [name for name in argv if name not in found]
    if unknown:
        raise SystemExit(f"unknown group(s) {unknown}; groups: {', '.join(found)}")
    all_ids = [e.reference for group in found.values() for e in group]
    across = {i for i in all_ids if all_ids.count(i) > 1}
    if across:
        raise SystemExit(f"references in more than one group: {sorted(across)}")
    for name in argv or list(found):
        write_group(name, found[name])
    write_registry()


if __name__ == "__main__":
    main(sys.argv[1:])
