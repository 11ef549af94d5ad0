"""The functional proof: alignment by computation, transfer, comparison, localisation.

A hand-written resnet18 under torchvision's names (``Hand18``) carries one mistake at a time;
each must be told apart from resnet18 and the first module whose own output differs named.
``tests/user_models/renamed.py`` is resnet18 under other names and nesting: the same function.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect.cli import app
from resnet_inspect.equivalence import align, prove
from resnet_inspect.equivalence.compare import TOLERANCE, compare_outputs, relative_l2
from resnet_inspect.equivalence.transfer import randomise
from resnet_inspect.spec import PRESETS

sys.path.insert(0, str(Path(__file__).parent / "user_models"))
from hand18 import Hand18, ZeroLast
from mistakes import StrideOnConv2
from renamed import Renamed

SHAPE = (1, 3, 32, 32)


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """One intra-op thread while these run: on a shared 2-core machine two threads spin
    against the other processes' (a resnet18 pass at 32x32 took 7x longer); restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _meta(factory: type[nn.Module], *args: object) -> nn.Module:
    with torch.device("meta"):
        return factory(*args)


def _prove(factory: type[nn.Module], *args: object, reference: str = "resnet18", **kw: object):  # type: ignore[no-untyped-def]
    return prove(_meta(factory, *args), lambda: factory(*args), PRESETS[reference], SHAPE, **kw)  # type: ignore[arg-type]


# --- alignment -------------------------------------------------------------------------------------
def test_a_renamed_renested_copy_aligns_module_by_module_and_container_by_container() -> None:
    result = align(resnet_inspect.build("resnet18", device="meta"), _meta(Renamed), SHAPE)
    assert result.aligned and len(result.pairs) == 41  # 20 convs + 20 BNs + fc (torchvision resnet18)
    m = result.modules
    assert m["entry.conv"] == "conv1" and m["classifier"] == "fc" and m["body.0.0.a"] == "layer1.0.conv1"
    # containers: a block, a stage, a projection shortcut (computed first in Renamed: still aligned)
    assert m["body.0.0"] == "layer1.0" and m["body.1"] == "layer2" and m["body.1.0.skip"] == "layer2.0.downsample"
    assert "entry" not in m  # {conv1, bn1} is no one module of resnet18


def test_an_extra_conv_is_unaligned_and_says_where() -> None:
    result = align(resnet_inspect.build("resnet18", device="meta"), _meta(Hand18, None, True), SHAPE)
    assert not result.aligned and result.unaligned is not None
    assert result.unaligned.index == 2  # conv1, bn1, then the extra 1x1 where layer1.0.conv1 comes
    assert result.unaligned.b is not None and result.unaligned.b.name == "extra"
    assert result.unaligned.a is not None and result.unaligned.a.name == "layer1.0.conv1"
    assert "extra (Conv2d, weight 64x64x1x1)" in result.unaligned.reason
    assert not _prove(Hand18, None, True).equal  # and the proof says it was not compared
    assert "do not align with resnet18's" in (_prove(Hand18, None, True).not_compared or "")


# --- transfer --------------------------------------------------------------------------------------
def test_randomise_leaves_no_zeroed_norm_and_is_seeded() -> None:
    model = Hand18()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.zeros_(m.weight)  # zero-init last BN (timm, zero_init_residual), everywhere
    randomise(model, 0)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(float(m.weight.detach().abs().min()) >= 0.5 for m in bns)
    assert all(float(m.running_var.min()) >= 0.5 and float(m.running_var.max()) <= 2.0 for m in bns)
    again = Hand18()
    randomise(again, 0)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True))


def test_a_broken_branch_behind_a_zeroed_last_bn_is_caught() -> None:
    """With the constructor's zeroed last BNs, every branch adds nothing and ReLU before or
    after the sum is the same; randomised, they are not."""
    proof = _prove(ZeroLast, inputs=1)
    assert proof.comparison is not None and not proof.equal
    assert proof.divergence == "layer2.1"


def test_with_the_users_weights_nothing_is_drawn_again(tmp_path: Path) -> None:
    """The same mutant, with its zeroed weights saved as a checkpoint: for those weights the
    function is resnet18's (the branch adds nothing), and the proof says so."""
    from resnet_inspect.checkpoint import load_weights_into

    path = tmp_path / "zero.pth"
    torch.save(ZeroLast().state_dict(), path)

    def build() -> nn.Module:
        model = ZeroLast()
        load_weights_into(model, path)
        return model

    proof = prove(_meta(ZeroLast), build, PRESETS["resnet18"], SHAPE, weights=str(path))
    assert proof.equal and proof.weights == str(path)


# --- comparison ----------------------------------------------------------------------------------
def test_the_tolerance_by_hand() -> None:
    """||(3, 4) - (3, 4.0004)|| / ||(3, 4.0004)|| = 0.0004 / 5.00032 = 8.0e-5: equal at the
    float32 tolerance 1e-4; (3, 4.001): 0.001 / 5.0008 = 2.0e-4: not equal. Scale-free: the
    same numbers times 1e6 give the same difference."""
    ref = torch.tensor([3.0, 4.0004], dtype=torch.float64)
    assert relative_l2(torch.tensor([3.0, 4.0], dtype=torch.float64), ref) == pytest.approx(0.0004 / 5.00032)
    assert relative_l2(torch.tensor([3e6, 4e6], dtype=torch.float64), ref * 1e6) == pytest.approx(0.0004 / 5.00032)
    x = [torch.zeros(1)]
    close = compare_outputs(lambda _: torch.tensor([3.0, 4.0]), lambda _: torch.tensor([3.0, 4.0004]), x)
    far = compare_outputs(lambda _: torch.tensor([3.0, 4.0]), lambda _: torch.tensor([3.0, 4.001]), x)
    assert close.tolerance == TOLERANCE["float32"] == 1e-4
    assert close.equal and not far.equal
    assert far.largest_difference == pytest.approx(0.001 / 5.0008, rel=1e-3)  # 4.001 in float32


def test_the_relative_difference_of_huge_values_by_hand() -> None:
    """mine (3, 4) x 10^k, ref (0, 4) x 10^k: ||mine - ref|| / ||ref|| = 3 / 4 = 0.75 at any k;
    cosine = (3 x 0 + 4 x 4) / (5 x 4) = 0.8. At k = 20 in float32 a square overflows float32
    (10^40), at k = 200 in float64 float64 (10^400): catches norms taken without scaling
    (inf / inf = NaN, then "inf")."""
    from resnet_inspect.equivalence.compare import cosine

    for k, dtype in ((20, torch.float32), (200, torch.float64)):
        mine = torch.tensor([3.0, 4.0], dtype=torch.float64).mul(10.0**k).to(dtype)
        ref = torch.tensor([0.0, 4.0], dtype=torch.float64).mul(10.0**k).to(dtype)
        assert relative_l2(mine, ref) == pytest.approx(0.75, rel=1e-6)
        assert cosine(mine, ref) == pytest.approx(0.8, rel=1e-6)
    inf = torch.tensor([float("inf"), 1.0])
    assert relative_l2(inf, inf.clone()) == 0.0 and relative_l2(inf, torch.ones(2)) == float("inf")


def test_measuring_leaves_both_outputs_as_they_were() -> None:
    """The measures scale float64 copies in place; a float64 output's ``double()`` is the
    output itself, so a scaling done on it would change the model's own result (a later
    comparison of the same tensor then measures something else). Also a NaN anywhere is not
    finite (read from the largest magnitude, which NaN propagates): cosine NaN, and a
    difference only where the two are not the same."""
    from resnet_inspect.equivalence.compare import measures

    mine, ref = torch.tensor([3.0, 4.0], dtype=torch.float64), torch.tensor([0.0, 4.0], dtype=torch.float64)
    before = (mine.clone(), ref.clone())
    assert measures(mine, ref) == pytest.approx((0.75, 0.8))
    assert torch.equal(mine, before[0]) and torch.equal(ref, before[1])
    nan = torch.tensor([1.0, float("nan"), 5.0])
    rel, cos = measures(nan, nan.clone())
    assert rel == 0.0 and math.isnan(cos)
    assert measures(nan, torch.tensor([1.0, 2.0, 5.0]))[0] == float("inf")


class _Scaled(nn.Module):
    """x times c, twice: with c = 1e30 the output (1e60 x) overflows float32, not float64."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.c * self.c


def test_an_output_that_overflows_float32_is_compared_in_float64() -> None:
    """mine = x c^2 with c = 1e30 (as float32: 1.0000000150e30), ref = x: in float32 mine's
    output is inf; the function's relative difference is ||x c^2 - x|| / ||x|| = c^2 - 1 =
    1.00000003e60, computed by running both again in float64. Catches "inf" reported for a
    finite difference, and the rerun left unsaid."""
    xs = [torch.randn(4, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    c = float(torch.tensor(1e30))
    got = compare_outputs(_Scaled(1e30), _Scaled(1.0), xs)
    assert got.largest_difference == pytest.approx(c * c - 1, rel=1e-9) and not got.equal
    assert got.in_float64 == 2 and got.dtype == "float32"
    assert got.dtype_text == "float32 (2 of 2 inputs in float64: float32 overflowed)"
    same = compare_outputs(_Scaled(1.0), _Scaled(1.0), xs)
    assert same.in_float64 == 0 and same.dtype_text == "float32" and same.equal


def test_the_renamed_copy_computes_the_same_function() -> None:
    proof = _prove(Renamed)
    assert proof.comparison is not None and proof.equal
    assert (proof.comparison.inputs, proof.comparison.dtype, proof.comparison.input_shape) == (3, "float32", SHAPE)
    assert proof.comparison.largest_difference <= 1e-6  # measured: 0 or a few float32 roundings


# --- localisation --------------------------------------------------------------------------------
@pytest.mark.parametrize(("mistakes", "where", "words"), [
    ({"layer2.1": "relu before sum"}, "layer2.1",
     "layer2.1: a ReLU on the branch before the sum (resnet18 applies it after), and none after it"),
    ({"conv1": "bias"}, "conv1", "conv1: conv1 has a bias (+64 parameters) where resnet18's has none"),
    ({"layer3.0": "subtracted"}, "layer3.0",
     "layer3.0: the shortcut is subtracted from the branch where resnet18 adds it"),
])  # fmt: skip
def test_localisation_names_the_module_with_the_mistake(mistakes: dict[str, str], where: str, words: str) -> None:
    proof = _prove(Hand18, mistakes, inputs=1)
    assert proof.comparison is not None and not proof.equal
    assert proof.divergence == where
    found = proof.localisation.errors  # type: ignore[union-attr]
    first = next(i for i, e in enumerate(found) if e.module == where)
    # before the mistake nothing differs; after it, errors propagate but each module is right on its own
    assert all(e.own == e.propagated == 0.0 for e in found[:first])
    errors = {e.module: e for e in found}
    assert errors["layer4.1"].own is not None and errors["layer4.1"].own <= TOLERANCE["float32"]
    assert errors["layer4.1"].propagated is not None and errors["layer4.1"].propagated > TOLERANCE["float32"]
    assert proof.departure == (words,)  # the words reader's, at the module where they part


def test_a_departure_words_cannot_name_is_said_by_its_output() -> None:
    """The stride on conv2: the outputs part at layer2.0.conv1, a lone conv whose operations
    are the reference's; the words reader has nothing to say there, the engine says what it
    measured (16 / 2 / 2 = 4 at 32x32 where resnet18 strides, 8 where it does not)."""
    proof = _prove(StrideOnConv2, inputs=1)
    assert proof.divergence == "layer2.0.conv1"
    assert proof.departure == ("layer2.0.conv1: its output is 1x128x8x8 where resnet18's layer2.0.conv1 "
                               "gives 1x128x4x4 on the same input",)  # fmt: skip


def test_an_extra_bias_is_recorded_in_the_alignment() -> None:
    result = align(resnet_inspect.build("resnet18", device="meta"), _meta(Hand18, {"conv1": "bias"}), SHAPE)
    assert result.aligned and result.pairs[0].extra_b == ("bias",) and result.pairs[0].extra_a == ()


# --- limits ------------------------------------------------------------------------------------
def test_a_model_too_large_for_the_budget_is_not_compared_and_says_why() -> None:
    proof = _prove(Renamed, budget_bytes=1000)
    assert proof.comparison is None and not proof.equal
    assert "more than the 1000 B allowed" in (proof.not_compared or "")


# --- every preset against itself, renamed ----------------------------------------------------------
class Wrapped(nn.Module):
    """A preset under other names: every module one level deeper, under ``net``."""

    def __init__(self, name: str, device: str = "cpu") -> None:
        super().__init__()
        self.net = resnet_inspect.build(name, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", ["resnet20", "resnet26d", "seresnet18", "resnetv2_18", "skresnet18",
                                  "resnest14d", "resnetblur18", "legacy_seresnet18"])  # fmt: skip
def test_a_preset_under_a_renaming_computes_its_own_function(name: str) -> None:
    proof = prove(Wrapped(name, "meta"), lambda: Wrapped(name), PRESETS[name], SHAPE, inputs=1)
    assert proof.alignment is not None and proof.alignment.aligned, proof.not_compared
    assert proof.equal, proof.to_dict()


# --- identify, from the command line and the API ----------------------------------------------------
USER_MODELS = Path(__file__).parent / "user_models"


def _identify_json(runner: CliRunner, *args: str, code: int = 0) -> dict[str, object]:
    result = runner.invoke(app, ["identify", *args, "-i", "1x3x32x32", "-f", "json"])
    assert result.exit_code == code, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_identify_proves_the_renamed_copy_and_says_on_what(runner: CliRunner) -> None:
    payload = _identify_json(runner, f"{USER_MODELS / 'renamed.py'}:Renamed")
    assert payload["exact"] is True and payload["preset"] == "resnet18"
    verdict = str(payload["verdict"])
    assert verdict.startswith("computes the same function as resnet18: outputs equal on 3 random inputs "
                              "(largest relative difference ")  # fmt: skip
    assert verdict.endswith(", float32); matches resnet18 exactly, no departure")
    function = payload["function"]
    assert isinstance(function, dict)
    assert (function["compared"], function["equal"], function["inputs"], function["dtype"]) == (True, True, 3, "float32")
    assert function["metric"] == "relative L2" and function["first_divergence"] is None


def test_identify_of_a_mutant_is_no_longer_exactly(runner: CliRunner) -> None:
    """A ReLU before the sum in layer2.1: by structure alone this was "matches resnet18
    exactly"; now the verdict, the departures and the per-module errors say where it parts."""
    payload = _identify_json(runner, f"{USER_MODELS / 'hand18.py'}:Hand18({{'layer2.1': 'relu before sum'}})")
    assert payload["exact"] is False
    assert str(payload["verdict"]).startswith("same layers as resnet18 but a different function from layer2.1 on: "
                                              "outputs differ on 3 random inputs")  # fmt: skip
    # one fact, once: the words at the divergence are the one departure, not a second line
    assert payload["departures_marked"] == [{
        "text": "layer2.1: a ReLU on the branch before the sum (resnet18 applies it after), and none after it",
        "effect": "changes the function", "where": "layer2.1", "places": ["layer2.1"], "divergence": True}]  # fmt: skip
    function = payload["function"]
    assert isinstance(function, dict) and function["first_divergence"] == "layer2.1"
    modules = {m["module"]: m for m in function["modules"]}
    assert modules["layer2.1"]["own"] > 1e-4 and modules["layer1.1"]["own"] == 0.0


def test_identify_against_a_reference_that_does_not_align_says_why(runner: CliRunner) -> None:
    payload = _identify_json(runner, f"{USER_MODELS / 'renamed.py'}:Renamed", "--reference", "resnet34")
    assert payload["preset"] == "resnet34" and payload["exact"] is False
    verdict = str(payload["verdict"])
    assert "function not compared: its parametrised layers do not align with resnet34's: parametrised call #" in verdict


def test_identify_with_weights_loads_them_first(runner: CliRunner, tmp_path: Path) -> None:
    """ZeroLast's own weights zero every branch's last BN: for those weights a ReLU before the
    sum changes nothing, and the proof, made with them, says so."""
    path = tmp_path / "zero.pth"
    torch.save(ZeroLast().state_dict(), path)
    target = f"{USER_MODELS / 'hand18.py'}:ZeroLast"
    payload = _identify_json(runner, target, "--weights", str(path))
    function = payload["function"]
    assert isinstance(function, dict) and function["weights"] == str(path) and function["equal"] is True
    drawn = _identify_json(runner, target)  # without them: weights drawn, the mistake shows
    assert isinstance(drawn["function"], dict) and drawn["function"]["equal"] is False
    torch.save(Renamed().state_dict(), tmp_path / "other.pth")
    wrong = runner.invoke(app, ["identify", target, "-i", "1x3x32x32", "--weights", str(tmp_path / "other.pth")])
    assert wrong.exit_code == 1 and "does not load" in wrong.stderr


def test_a_bad_reference_is_one_line_naming_the_flag(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["identify", f"{USER_MODELS / 'renamed.py'}:Renamed", "--reference", "resnt50"])
    assert result.exit_code == 2 and result.stderr.startswith("error: --reference 'resnt50'")
    path = tmp_path / "w.pth"
    torch.save(Renamed().state_dict(), path)
    on_file = runner.invoke(app, ["identify", str(path), "--reference", "resnet18"])
    assert on_file.exit_code == 2 and "error: --reference: applies to a model" in on_file.stderr


def test_the_api_takes_a_module_a_reference_and_never_changes_the_module() -> None:
    model = Renamed()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = resnet_inspect.identify(model, input_size=SHAPE, reference="resnet18")
    assert result.data.exact and result.data.proof.comparison.inputs == 3
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


class ChannelsLast(Hand18):
    """Hand18 with its convolutions run in channels_last: the same arithmetic, summed in
    another order by oneDNN."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.contiguous(memory_format=torch.channels_last))


def test_the_same_arithmetic_in_another_order_is_equal_though_not_bitwise() -> None:
    """Catches a tolerance of 0 (or one float32 rounding): 3.7e-7 measured for resnet50 at
    224x224; here at 64x64 some 1e-7."""
    proof = prove(_meta(ChannelsLast), ChannelsLast, PRESETS["resnet18"], (1, 3, 64, 64), inputs=1)
    assert proof.comparison is not None and proof.equal
    assert 0.0 < proof.comparison.largest_difference < 1e-5


def test_a_head_for_ten_classes_is_compared_with_the_preset_built_for_ten() -> None:
    """Only the last Linear differs (10 outputs): the reference is built with num_classes=10,
    a note says so, the function is proved, and the head stays a departure (not "exactly")."""
    result = resnet_inspect.identify(Renamed(num_classes=10), input_size=SHAPE).data
    assert result.proof.reference == "resnet18:num_classes=10" and result.proof.equal
    assert result.proof.notes == ("reference built with num_classes=10, as the model's last Linear",)
    assert not result.exact
    assert result.verdict.startswith("computes the same function as resnet18:num_classes=10: outputs equal")


def test_alignment_pass_output_is_the_plain_pass_and_is_compared() -> None:
    # The proof compares the user's output from the alignment pass (recorded by a
    # TorchFunctionMode) instead of running the model again on input #1: that output must be
    # bit-for-bit a plain pass's, the calls the same as on zeros, and compare_outputs must use
    # it (a known output that is wrong makes the comparison differ; one that is ignored not).
    from resnet_inspect.equivalence.align import calls_and_output, calls_of

    model = Hand18().eval()
    randomise(model, 0)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1))
    calls, out = calls_and_output(model, x.clone())
    with torch.no_grad():
        plain = model(x.clone())
    assert torch.equal(out, plain)
    assert calls == calls_of(model, SHAPE)
    same = compare_outputs(model, model, [x], known=[out])
    assert same.equal and same.largest_difference == 0.0
    wrong = compare_outputs(model, model, [x, x], known=[out + 1.0])
    assert not wrong.equal and wrong.inputs == 2
