"""Models that are valid, or nearly: forwards that return several maps, nested structures,
None or a number; forwards whose control flow reads values, which the meta device cannot run
(traced on the CPU with real tensors when small, one error line when not).

The models are in tests/user_models/hostile_outputs.py; every expected number is derived by
hand in the comments (a 3x3 convolution with padding 1 and stride s keeps ceil(side / s)).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.errors import RuntimeFailure, SpecError
from resnet_inspect.sources import UserSource
from resnet_inspect.tracing.realpass import REAL_PASS_BUDGET_BYTES
from resnet_inspect.usermodel import parse_user_code

MODELS = Path(__file__).parent / "user_models" / "hostile_outputs.py"


def user(name: str) -> str:
    return f"{MODELS}:{name}"


def run_json(runner: CliRunner, *args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, [*args, "-f", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


# --- what a forward returns ------------------------------------------------------------------
# FPNDict on 1x3x32x32: three stride-2 convs: 8 channels at 16x16, 16 at 8x8, 32 at 4x4
FPN_SHAPES = [[1, 8, 16, 16], [1, 16, 8, 8], [1, 32, 4, 4]]


def test_every_map_of_a_dict_is_shown_and_listed_in_json(runner: CliRunner) -> None:
    result = runner.invoke(app, ["summary", user("FPNDict"), "--input", "1x3x32x32"])
    assert result.exit_code == 0, result.stderr
    assert "Outputs: ['p1'] 1x8x16x16, ['p2'] 1x16x8x8, ['p3'] 1x32x4x4" in result.stdout
    data = run_json(runner, "summary", user("FPNDict"), "--input", "1x3x32x32")
    assert [(o["path"], o["shape"]) for o in data["outputs"]] == list(zip(["['p1']", "['p2']", "['p3']"], FPN_SHAPES, strict=True))
    assert data["output_shape"] == FPN_SHAPES[0]  # backward compatible: the first tensor's


def test_a_nested_list_is_walked_with_paths(runner: CliRunner) -> None:
    data = run_json(runner, "flops", user("FPNList"), "--input", "1x3x32x32")
    assert [(o["path"], o["shape"]) for o in data["outputs"]] == list(zip(["[0]", "[1][0]", "[1][1]"], FPN_SHAPES, strict=True))


def test_the_peak_holds_every_returned_map_to_the_end() -> None:
    # LastFirst on 1x3x8x8 returns (small, big). Elements: input 3*8*8 = 192; big 16*8*8 = 1024;
    # mid 4*4*4 = 64; small 4*2*2 = 16. While `small` is computed, the input (held by the
    # caller), big (returned), mid (its argument) and small are alive: 1296 floats = 5184 bytes.
    # Counting only the first output frees big after mid: the peak would be 1280 floats.
    trace = UserSource(parse_user_code(user("LastFirst"))).trace((1, 3, 8, 8))
    assert trace.totals.peak_activation_bytes == 1296 * 4


def test_a_forward_returning_none_says_so(runner: CliRunner) -> None:
    result = runner.invoke(app, ["summary", user("ReturnsNone"), "--input", "1x3x32x32"])
    assert result.exit_code == 0, result.stderr
    assert "Output: None (the forward returns no tensor)" in result.stdout
    assert "scalar" not in result.stdout
    assert run_json(runner, "summary", user("ReturnsNone"), "--input", "1x3x32x32")["outputs"] == []


def test_a_forward_returning_a_number_says_it_is_not_a_tensor(runner: CliRunner) -> None:
    result = runner.invoke(app, ["summary", user("ReturnsInt"), "--input", "1x3x32x32"])
    assert result.exit_code == 0, result.stderr
    assert "Output: int (not a tensor)" in result.stdout


def test_a_scalar_tensor_and_a_none_inside_a_tuple_are_told_apart(runner: CliRunner) -> None:
    result = runner.invoke(app, ["summary", user("ScalarAndNone"), "--input", "1x3x32x32"])
    assert result.exit_code == 0, result.stderr
    assert "Outputs: [0] scalar, [1] None" in result.stdout
    data = run_json(runner, "summary", user("ScalarAndNone"), "--input", "1x3x32x32")
    assert data["outputs"] == [{"path": "[0]", "shape": [], "type": "Tensor"},
                               {"path": "[1]", "shape": None, "type": "NoneType"}]  # fmt: skip


# --- control flow that reads values ------------------------------------------------------------
# Plain on 1x3x16x16 (by hand): stem 3->8, 3x3, stride 2: 8x8x8 outputs x 27 = 13,824 MACs; four
# 8->8 3x3 convs at 8x8: 4 x 512 x 72 = 147,456; fc 8->10: 80. Params: 216 + 4 x 576 + 90.
PLAIN_MACS = 13_824 + 147_456 + 80
PLAIN_PARAMS = 216 + 4 * 576 + 90


@pytest.mark.parametrize(("name", "why"), [
    ("gated", "the forward's control flow depends on values (layer1.0 calls bool() on a tensor)"),
    ("item_read", "the forward reads a tensor's values (layer1.0 calls .item())"),
])  # fmt: skip
def test_a_value_dependent_forward_is_traced_on_the_cpu_and_says_so(runner: CliRunner, name: str, why: str) -> None:
    """An `if` on a tensor is control flow; an .item() may be only a read (logging), and the
    warning claims no more than that."""
    result = runner.invoke(app, ["summary", user(name), "--input", "1x3x16x16"])
    assert result.exit_code == 0, result.stderr
    warning = f"traced on the CPU with real tensors: {why}"
    assert warning in " ".join(result.stdout.split())  # the table wraps long lines
    data = run_json(runner, "summary", user(name), "--input", "1x3x16x16")
    assert any(w.startswith(warning) and w.endswith("results are for one random input") for w in data["warnings"])
    assert (data["totals"]["params"], data["totals"]["macs"]) == (PLAIN_PARAMS, PLAIN_MACS)
    plain = run_json(runner, "summary", user("Plain"), "--input", "1x3x16x16")  # meta, no branch
    assert not plain["warnings"]
    shapes = {r["name"]: r["output_shape"] for r in plain["layers"]}
    assert {r["name"]: r["output_shape"] for r in data["layers"]} == shapes
    assert data["output_shape"] == [1, 10]


def test_a_shape_error_is_still_the_inputs_fault() -> None:
    # 4 channels into a 3-channel stem fails on every device: bad input, not a meta limit
    with pytest.raises(SpecError, match="cannot run on it") as caught:
        UserSource(parse_user_code(user("gated"))).trace((1, 4, 16, 16))
    assert not isinstance(caught.value, RuntimeFailure)


def test_too_big_for_a_real_pass_is_one_error_line_exit_1(runner: CliRunner) -> None:
    # a real pass's activations are estimated as 256x the input (realpass.py): 3 x 1024 x 1024
    # floats x 4 bytes x 256 = 3 GiB per image: refused before anything runs
    assert REAL_PASS_BUDGET_BYTES < 2 * 3 * 1024 * 1024 * 4 * 256
    result = runner.invoke(app, ["summary", user("gated"), "--input", "2x3x1024x1024"])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "try a smaller --input" in lines[0] and "layer1.0 calls bool() on a tensor" in lines[0]
    assert "Traceback" not in result.stderr


def test_diff_says_what_each_side_returns_and_which_side_ran_for_real(runner: CliRunner) -> None:
    result = runner.invoke(app, ["diff", user("FPNDict"), user("gated"), "--input", "1x3x16x16"])
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())
    # FPNDict on 16x16: 8x8x8, 16x4x4, 32x2x2; gated ends in fc: 1x10
    assert "Output A: ['p1'] 1x8x8x8, ['p2'] 1x16x4x4, ['p3'] 1x32x2x2" in text
    assert "Output B: 1x10" in text
    assert "warning: B: traced on the CPU with real tensors" in text
    assert "warning: A:" not in text


def test_flops_shows_every_output_and_the_real_pass_warning(runner: CliRunner) -> None:
    result = runner.invoke(app, ["flops", user("gated"), "--input", "1x3x16x16"])
    assert result.exit_code == 0, result.stderr
    assert "warning: traced on the CPU with real tensors" in result.stdout
    assert f"{PLAIN_MACS:,}" in result.stdout


# torch's own failures on meta tensors, each told apart from a shape error by its words
@pytest.mark.parametrize(("code", "words"), [
    ("bool(x.sum() > 0)", "calls bool() on a tensor"),
    ("x.sum().item()", "calls .item()"),
    ("x.tolist()", "calls .tolist()"),
    ("x.numpy()", "calls .numpy()"),
    ("range(x.sum().long())", "used as an index or a count"),
    ("x[x > 0]", "an output's shape depends on values"),
    ("torch.unique(x)", "no meta kernel"),
])  # fmt: skip
def test_each_way_of_reading_values_on_meta_is_recognised(code: str, words: str) -> None:
    import torch

    from resnet_inspect.tracing.realpass import meta_failure_reason
    from resnet_inspect.tracing.recorder import Recorder

    recorder = Recorder(shape_rules=True)
    x = torch.empty(2, 3, device="meta")
    with pytest.raises(Exception) as caught, recorder:
        eval(code, {"torch": torch, "x": x})  # the test's own literal code
    reason = meta_failure_reason(caught.value, recorder.failure)
    assert reason is not None and words in reason


def test_a_meta_shape_error_is_not_taken_for_reading_values() -> None:
    import torch

    from resnet_inspect.tracing.realpass import meta_failure_reason

    x = torch.empty(2, 3, device="meta")
    with pytest.raises(RuntimeError) as caught:
        x @ x  # 2x3 @ 2x3: a shape error on every device
    assert meta_failure_reason(caught.value, None) is None


def test_identify_reads_a_value_dependent_forward_on_the_cpu_and_says_so(runner: CliRunner) -> None:
    result = runner.invoke(app, ["identify", user("gated"), "--input", "1x3x16x16"])
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "Blocks per stage: [2], 2 convolutions per block" in text  # layer1: two blocks of two convs
    assert "warning: traced on the CPU with real tensors" in text


def test_the_receptive_field_of_several_maps_is_the_deepest_ones() -> None:
    # FPNDict: three 3x3 convs of stride 2: 1 + 2x1 + 2x2 + 2x4 = 15 px, output stride 8 (p3,
    # the last map computed), not p1's 3 px, stride 2
    trace = UserSource(parse_user_code(user("FPNDict"))).trace((1, 3, 32, 32))
    assert (trace.totals.receptive_field, trace.totals.jump) == (15, 8)
