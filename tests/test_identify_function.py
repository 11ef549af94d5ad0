"""identify on the hand-written mistakes (tests/user_models/mistakes.py), from the command line:
the verdict and the departures a user reads (identification/function.py: the structure's
departures, the words reader's and the divergence combined, one fact once, each marked).

A mistake that changes the function is never "exactly" nor "the same function", and is named
at its place, where the outputs part; one that keeps it (dropout, a shared ReLU, x.view, an
in-place ReLU on a ReLU's output) is "the same function" with the departure listed, never
"exactly"; the correct model and the same network under other names are "exactly". Full
widths (the reference's: the layers must align), 32x32 (64x64 where a head needs a 2x2 map).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app

USER_MODELS = Path(__file__).parent / "user_models"
MISTAKES = USER_MODELS / "mistakes.py"
SAME = "computes the same function as resnet18: outputs equal on 3 random inputs (largest relative difference "


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def _identify(runner: CliRunner, target: str, shape: str = "1x3x32x32", fmt: str = "json") -> Any:
    result = runner.invoke(app, ["identify", target, "-i", shape, "-f", fmt])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout) if fmt == "json" else result.stdout


# class -> (a place it names, the words), each changing the function
CHANGES = {
    "ReluBeforeSum": ("layer1.0", "a ReLU on the branch before the sum (resnet18 applies it after)"),
    "NoReluAfterSum": ("layer1.0", "no ReLU after the sum (resnet18 applies one)"),
    "SubtractShortcut": ("layer1.0", "the shortcut is subtracted from the branch where resnet18 adds it"),
    "MultiplyShortcut": ("layer1.0", "the branch is multiplied by the shortcut where resnet18 adds it"),
    "Leaky": ("layer1.0", "LeakyReLU(0.1) where resnet18 has ReLU"),
    "Gelu": ("layer1.0", "GELU where resnet18 has ReLU"),
    "FunctionalLeaky": ("layer1.0", "LeakyReLU(0.1) where resnet18 has ReLU"),  # F.leaky_relu(x, 0.1)
    "ConvBias": ("conv1", "conv1 has a bias (+64 parameters) where resnet18's has none"),  # 64 output channels
    "MissingBn": ("layer1.0", "no BatchNorm after conv2 (resnet18 normalises that conv's output)"),
    "BnAfterSum": ("layer1.0", "a BatchNorm after the sum (resnet18 normalises the branch before it)"),
    "StrideOnConv2": ("layer2.0", "the stride 2 is on conv2, the branch's 2nd conv, where resnet18 strides its 1st"),
    "AvgPoolStem": ("maxpool", "an average pool in the stem where resnet18 has a max-pool"),
    "MaxPoolHead": ("avgpool", "adaptive max-pooling in the head where resnet18 averages"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CHANGES))
def test_a_mistake_that_changes_the_function_is_named_at_its_place(runner: CliRunner, name: str) -> None:
    # the max-pooled head at 64x64: at 32x32 layer4's map is 1x1, where max and mean agree
    payload = _identify(runner, f"{MISTAKES}:{name}", "1x3x64x64" if name == "MaxPoolHead" else "1x3x32x32")
    verdict = payload["verdict"]
    assert payload["exact"] is False and "exactly" not in verdict and "same function" not in verdict
    place, words = CHANGES[name]
    named = [m for m in payload["departures_marked"] if m["text"].endswith(words)]
    assert len(named) == 1, payload["departures_marked"]  # said once
    assert place in named[0]["places"] and named[0]["effect"] == "changes the function"
    if payload["function"]["compared"]:  # where the layers align: the outputs part at that entry
        assert named[0]["divergence"] is True
        assert sum(m["divergence"] for m in payload["departures_marked"]) == 1


# class -> the words, each keeping the function
KEEPS = {
    "DropoutStem": "dropout: dropout (p=0.2) after maxpool (no effect in eval; it changes training)",
    "SharedRelu": "relu: one ReLU module at 9 places (relu, layer1.0.relu, layer1.1.relu and 6 more): the same "
                  "function, but forward hooks",
    "ViewHead": "x.view (or reshape) where resnet18 calls torch.flatten: the same values",
    "InPlaceInput": "every block (layer1.0 ... layer4.1): an in-place ReLU on the block input changes the shortcut",
    "FixedPoolHead(pool=2)": "avgpool: a fixed 2x2 average pool in the head where resnet18 pools adaptively to "
                             "1x1: the same here, where the map is 2x2, but not at other input sizes",
}  # fmt: skip


@pytest.mark.parametrize("name", list(KEEPS))
def test_a_departure_that_keeps_the_function_is_listed_and_not_exactly(runner: CliRunner, name: str) -> None:
    payload = _identify(runner, f"{MISTAKES}:{name}", "1x3x64x64" if "Pool" in name else "1x3x32x32")
    verdict = payload["verdict"]
    assert verdict.startswith(SAME) and verdict.endswith("; 1 departure that keeps it")
    assert payload["exact"] is False and "exactly" not in verdict
    [marked] = payload["departures_marked"]
    assert marked["text"].startswith(KEEPS[name]) and marked["effect"] == "keeps the function"


@pytest.mark.parametrize("target", [f"{MISTAKES}:ResNet18", f"{MISTAKES}:FunctionalRelu",
                                    f"{USER_MODELS / 'renamed.py'}:Renamed", f"{USER_MODELS / 'hand18.py'}:Hand18"])  # fmt: skip
def test_the_correct_model_under_any_names_is_exactly(runner: CliRunner, target: str) -> None:
    """Hand18 pools with x.mean((2, 3)); FunctionalRelu calls F.relu: no departure either."""
    payload = _identify(runner, target)
    assert payload["verdict"].startswith(SAME) and payload["verdict"].endswith("; matches resnet18 exactly, no departure")
    assert payload["exact"] is True and payload["departures"] == [] and payload["function"]["equal"] is True


def test_the_table_gives_the_verdict_then_each_departure_marked(runner: CliRunner) -> None:
    out = _identify(runner, f"{MISTAKES}:StrideOnConv2", fmt="table")
    words = " ".join(out.replace("│", " ").split())  # the table wraps long cells and the header line
    assert words.startswith(f"{MISTAKES}:StrideOnConv2: nearest preset: resnet18, with 1 departure; a different "
                            "function from layer2.0.conv1 on: outputs differ on 3 random inputs")  # fmt: skip
    table = words[words.index("Departures") :]
    assert "1 layer2.0, layer3.0 and layer4.0: the stride 2 is on conv2" in table
    assert "changes the function; the outputs part here" in table
    assert "its output is" not in out  # the localiser's shape text: the same fact, not said again


# class -> the verdict's place and what it rests on: the layers do not align, so no outputs
# are compared; the claim rests on a structural fact, which the verdict names
UNALIGNED = {
    "MissingBn": ("layer1.0", "a parametrised layer on one side only: resnet18's layer1.0.bn2 (BatchNorm2d, "
                  "weight 64); resnet18 makes 5 BatchNorm2d calls of weight 64, it 3"),
    "BnAfterSum": ("layer1.0", "the operations its forward runs, read from the data flow (the departure marked)"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(UNALIGNED))
def test_layers_that_do_not_align_still_say_where_the_function_differs(runner: CliRunner, name: str) -> None:
    """Catches "function not compared" with no place (what identify said before), and a
    verdict of difference that does not say it rests on no output comparison."""
    payload = _identify(runner, f"{MISTAKES}:{name}")
    place, basis = UNALIGNED[name]
    assert payload["function"]["compared"] is False and payload["function"]["unaligned"]
    assert payload["verdict"] == (f"nearest preset: resnet18, with 1 departure; a different function from {place} on "
                                  f"(no functional comparison: the layers do not align; this rests on {basis})")  # fmt: skip
    [marked] = payload["departures_marked"]
    assert marked["divergence"] is True and marked["effect"] == "changes the function" and place in marked["places"]


def test_a_folded_norm_is_not_called_a_different_function(runner: CliRunner) -> None:
    """FoldedBn (bn2 folded into a biased conv2): the layers do not align, and nothing proves
    the function differs. Catches the missing-norm claim made where a bias can absorb it."""
    payload = _identify(runner, f"{MISTAKES}:FoldedBn")
    assert "function not compared" in payload["verdict"] and "a different function" not in payload["verdict"]
    assert not any(m["divergence"] for m in payload["departures_marked"])


def test_a_multiplied_shortcut_s_difference_is_a_number(runner: CliRunner) -> None:
    """The product grows through the blocks until float32 overflows (inf, NaN at the output):
    the difference is computed again in float64 and said so. Catches "inf"."""
    verdict = _identify(runner, f"{MISTAKES}:MultiplyShortcut")["verdict"]
    assert "inf" not in verdict and "nan" not in verdict
    assert verdict.endswith("of 3 inputs in float64: float32 overflowed))")
