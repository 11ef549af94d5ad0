"""diff by function (issue #22): A and B aligned by what they compute, whatever their names;
do they compute the same function, and where do they part? Small models at 32x32.

tests/user_models/renamed.py is resnet18 under other names and nesting (``entry``,
``body.0.0``, ``classifier``, F.relu, torch.flatten); down.py names ``downsample`` ``down``;
hand18.py has one mistake at a time.
"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from torch import nn
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect.cli import app
from resnet_inspect.equivalence import align
from resnet_inspect.model import build_model
from resnet_inspect.spec import PRESETS, resolve
from resnet_inspect.tracediff import Change, TraceDiff

MODELS = Path(__file__).parent / "user_models"
sys.path.insert(0, str(MODELS))
from hand18 import Hand18  # noqa: E402

SMALL = (1, 3, 32, 32)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def diff(a: object, b: object, shape: tuple[int, ...] = SMALL) -> TraceDiff:
    data: TraceDiff = resnet_inspect.diff(a, b, input_size=shape).data
    return data


def no_change(d: TraceDiff) -> bool:
    return (all(r.status is Change.SAME for r in d.layers) and all(s.status is Change.SAME for s in d.stages)
            and all(t.delta == 0 for t in d.totals))  # fmt: skip


# --- the same network under other names --------------------------------------------------------
@pytest.mark.parametrize("model", ["renamed.py:Renamed", "down.py:Down18"])
def test_a_renamed_or_renested_copy_shows_no_change_and_exits_0(runner: CliRunner, model: str) -> None:
    """Before: 28 added and 14 removed modules for Renamed, `down` "different"; exit 1.
    Catches rows aligned by name, a grouping container (``entry``, ``body``) or a functional
    ReLU's missing module counted as added/removed, and --exit-code on structure alone."""
    result = runner.invoke(app, ["diff", "resnet18", f"{MODELS / model}", "--input", "1x3x32x32",
                                 "--exit-code", "-f", "json", "-d", "4"])  # fmt: skip
    assert result.exit_code == 0, result.stdout[-2000:]
    data = json.loads(result.stdout)
    assert data["aligned_by"] == "computation" and data["identical"] and data["same"]
    assert {r["status"] for r in data["layers"]} == {"same"}
    assert {s["status"] for s in data["stages"]} == {"same"} and all(t["delta"] == 0 for t in data["totals"])
    f = data["function"]
    assert f["same"] is True and f["basis"] == "comparison"
    assert f["comparison"]["largest_difference"] <= f["comparison"]["tolerance"]


def test_rows_use_a_s_names_for_b_s_renamed_modules() -> None:
    """The presentation: B's ``body.1.0.skip.0`` is shown as A's ``layer2.0.downsample.0``."""
    d = diff("resnet18", f"{MODELS / 'renamed.py'}:Renamed")
    names = {r.name for r in d.layers}
    assert "layer2.0.downsample.0" in names and not any(n.startswith(("body", "entry")) for n in names)
    assert dict(d.left_out)["B"][:2] == ("entry", "body")  # said, not hidden


# --- a mutant ----------------------------------------------------------------------------------
def test_a_mutant_is_a_different_function_named_where_it_parts(runner: CliRunner) -> None:
    """The shortcut subtracted in layer3.0: same layers, different function, exit 1, and the
    divergence at layer3.0 (not layer3.1, where the error propagates to)."""
    d = diff("resnet18", Hand18({"layer3.0": "subtracted"}))
    assert all(r.status is Change.SAME for r in d.layers)  # the same layers...
    assert d.function is not None and d.function.same is False and not d.same  # ...another function
    assert d.function.proof is not None and d.function.proof.divergence == "layer3.0"
    assert "Different function" in d.function.text and "layer3.0" in d.function.text
    result = runner.invoke(app, ["diff", "resnet18", f"{MODELS / 'hand18.py'}:ZeroLast", "--input", "1x3x32x32",
                                 "--exit-code", "-f", "json"])  # fmt: skip
    assert result.exit_code == 1
    comparison = json.loads(result.stdout)["function"]["comparison"]
    assert comparison["first_divergence"] == "layer2.1"  # zero-init last BN redrawn: still caught
    assert {"metric", "inputs", "dtype", "largest_difference", "first_divergence", "modules"} <= set(comparison)
    assert comparison["metric"] == "relative L2" and comparison["inputs"] == 3 and comparison["dtype"] == "float32"
    by_module = {m["module"]: m for m in comparison["modules"]}
    assert by_module["layer2.0"]["own"] == 0.0 and by_module["layer2.1"]["own"] > 1e-2
    assert by_module["layer3.0"]["own"] < 1e-4 < by_module["layer3.0"]["propagated"]  # own vs propagated


# --- presets against themselves under a renaming -----------------------------------------------
class Wrapped(nn.Module):
    """A model nested one level deeper: every name changes (``inner.net.layer1.0.conv1``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.inner = nn.ModuleDict({"net": model})

    def forward(self, x: object) -> object:
        return self.inner["net"](x)


@pytest.mark.parametrize("preset", ["resnet18", "resnet20", "resnet10t", "resnet26d", "seresnet18", "resnetaa34d"])
def test_every_cheap_preset_against_itself_renamed_is_the_same_function(preset: str) -> None:
    spec = PRESETS[preset] if preset in PRESETS else resolve(preset)
    d = diff(preset, Wrapped(build_model(spec, "meta")))
    # rows and stages, not totals: seresnet18's spec trace gives receptive field 0 at 32x32
    # where the same modules traced as a module give 211 (a tracing matter, not the alignment's)
    assert d.aligned_by == "computation" and not d.changed_layers(), [r.name for r in d.changed_layers()]
    assert all(s.status is Change.SAME for s in d.stages)
    assert d.function is not None and d.function.same is True, d.function.text if d.function else None


# --- two of our variants -------------------------------------------------------------------------
def test_the_same_spec_is_the_same_function_by_construction() -> None:
    d = diff("resnet18", "resnet18")
    assert d.function is not None and d.function.basis == "construction" and d.function.proof is None
    assert d.same and "by construction" in d.function.text


def test_specs_that_differ_but_align_are_compared_by_running() -> None:
    """zero_init_residual changes initial values only: the same function once every tensor is
    drawn again; stride_in moves the stride: a different function from layer2.0.conv1 on (the 1x1 that now strides)."""
    zero = diff("resnet18", "resnet18:zero_init_residual=true")
    assert zero.function is not None and zero.function.basis == "comparison" and zero.function.same is True
    assert not zero.same  # the specs differ: not the same architecture
    moved = diff("resnet50:layers=1,1,1,1", "resnet50:layers=1,1,1,1,stride_in=1x1")
    assert moved.function is not None and moved.function.same is False
    assert moved.function.proof is not None and moved.function.proof.divergence == "layer2.0.conv1"


def test_our_names_are_the_alignment_s_names() -> None:
    """Name alignment for two specs is right by construction: check that the computation
    aligns every module with the module of the same name."""
    a, b = build_model(PRESETS["resnet18"], "meta"), build_model(resolve("resnet18:zero_init_residual=true"), "meta")
    modules = align(a, b, SMALL).modules
    assert len(modules) > 40 and all(k == v for k, v in modules.items())


def test_unaligned_says_why_and_where_and_claims_nothing() -> None:
    d = diff("resnet18", "resnet34")
    assert d.function is not None and d.function.same is None and d.function.basis == "not compared"
    assert "do not align" in d.function.text and "#" in d.function.text  # the call where they part


def test_a_layer_on_one_side_only_is_a_different_function_resting_on_structure() -> None:
    """A resnet18 whose blocks lack bn2: the layers do not align, but a BatchNorm the other
    side has no counterpart for is a structural fact; said at its place, and what it rests on.
    Catches "not compared" with no place, and --exit-code's same=True."""
    mistakes = MODELS / "mistakes.py"
    d = diff(f"{mistakes}:ResNet18", f"{mistakes}:MissingBn", (1, 3, 32, 32))
    assert d.function is not None and d.function.same is False and d.function.basis == "structure"
    assert d.function.text.startswith("Different function from layer1.0 on: layer1.0: no BatchNorm after conv2 "
                                      "(A has bn2). No functional comparison (their parametrised layers do not align")  # fmt: skip
    assert d.function.text.endswith("this rests on a parametrised layer on one side only: A's layer1.0.bn2 "
                                    "(BatchNorm2d, weight 64); A makes 5 BatchNorm2d calls of weight 64, it 3.")  # fmt: skip
    assert not d.same


def test_too_large_for_the_cpu_says_why_and_claims_nothing() -> None:
    d = diff("resnet18", f"{MODELS / 'renamed.py'}:Renamed", (1, 3, 2048, 2048))
    assert no_change(d) and d.function is not None and d.function.same is None and not d.same
    assert "would need about" in d.function.text


# --- html -----------------------------------------------------------------------------------------
def test_html_charts_the_relative_difference_module_by_module(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "d.html"
    result = runner.invoke(app, ["diff", "resnet18", f"{MODELS / 'hand18.py'}:ZeroLast", "--input", "1x3x32x32",
                                 "-f", "html", "-o", str(target)])  # fmt: skip
    assert result.exit_code == 0, result.stdout
    page = target.read_text()
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    chart = next(s for s in svgs if "Relative difference of B from A" in s)
    ET.fromstring(chart)  # well-formed
    assert "<script" not in chart.lower()
    assert "layer2.1" in chart and "propagated" in chart and "tolerance" in chart
