"""equivalence/words.py: each hand-written mistake named in words, at its place.

The models are in tests/user_models/mistakes.py: a correct hand-written resnet18 and one class
per mistake. Each is compared with the correct one (narrow, at 32x32) block by block, as the
localisation hands a module over (``describe_departure`` with the reference's own input to
that module), and as a whole (``operation_departures``, one meta pass each): the words must
name the kind of mistake, the module it is in, and whether it changes the eval-mode function;
the correct model, and the same network written another way, must give none. Parameter
counts are derived by hand in the comments.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import nn

from resnet_inspect.equivalence.words import (
    Departure,
    describe_departure,
    operation_departures,
)
from resnet_inspect.model import build_model
from resnet_inspect.spec import resolve

WIDTHS = (8, 16, 32, 64)
SHAPE = (2, 3, 32, 32)
BLOCKS = [f"layer{s}.{b}" for s in range(1, 5) for b in range(2)]
DOWNSAMPLING = ["layer2.0", "layer3.0", "layer4.0"]


def _load(name: str) -> ModuleType:
    path = Path(__file__).parent / "user_models" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_user_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


M = _load("mistakes")


def _small(cls: type, **kwargs: Any) -> nn.Module:
    torch.manual_seed(0)
    return cls(10, WIDTHS, **kwargs)  # type: ignore[no-any-return]


def _input_of(model: nn.Module, where: str, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """What ``where`` is given when ``model`` runs on ``x``: the reference's own input, as the
    shadow localisation feeds the user's module."""
    seen: list[tuple[torch.Tensor, ...]] = []
    handle = model.get_submodule(where).register_forward_pre_hook(
        lambda _m, args: seen.append(tuple(a.clone() for a in args))
    )
    with torch.no_grad():
        model.eval()(x)
    handle.remove()
    return seen[0]


def _described(mine: nn.Module, theirs: nn.Module, where: str) -> tuple[str, ...]:
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1))
    args = _input_of(theirs, where, x) if where else (x,)
    if where:
        return describe_departure(
            where, mine.get_submodule(where), theirs.get_submodule(where), args, "resnet18"
        )
    return describe_departure("", mine, theirs, args, "resnet18")


# (the mistake's class, where describe_departure is asked, the words, the places the whole
# model's departures must be at, whether the eval-mode function changes)
BLOCK_MISTAKES = [
    ("ReluBeforeSum", "a ReLU on the branch before the sum (resnet18 applies it after)", BLOCKS),
    ("NoReluAfterSum", "no ReLU after the sum (resnet18 applies one)", BLOCKS),
    ("SubtractShortcut", "the shortcut is subtracted from the branch where resnet18 adds it", BLOCKS),
    ("MultiplyShortcut", "the branch is multiplied by the shortcut where resnet18 adds it", BLOCKS),
    ("MissingBn", "no BatchNorm after conv2 (resnet18 normalises that conv's output)", BLOCKS),
    ("BnAfterSum", "a BatchNorm after the sum (resnet18 normalises the branch before it)", BLOCKS),
    ("StrideOnConv2", "the stride 2 is on conv2, the branch's 2nd conv, where resnet18 strides its 1st",
     DOWNSAMPLING),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "words", "places"), BLOCK_MISTAKES, ids=[c[0] for c in BLOCK_MISTAKES]
)
def test_a_block_mistake_is_named_at_its_block(name: str, words: str, places: list[str]) -> None:
    """Catches a rule that misreads the block's data flow (the ReLU before the sum taken for the
    one after, a subtraction for a sum, bn2 after the sum taken for a missing BN), or words
    put on the wrong block."""
    mine, theirs = _small(getattr(M, name)), _small(M.ResNet18)
    first = places[0]
    assert _described(mine, theirs, first) == (f"{first}: {words}",)
    found = operation_departures(mine, theirs, SHAPE, "resnet18")
    assert found == tuple(Departure(words, where, True) for where in places)


def test_the_stage_holding_the_block_names_each_block() -> None:
    """Handed a whole stage (layer1), the words still go to the block: catches unit names
    taken from the stage instead of the module that sums."""
    mine, theirs = _small(M.ReluBeforeSum), _small(M.ResNet18)
    words = "a ReLU on the branch before the sum (resnet18 applies it after)"
    assert _described(mine, theirs, "layer1") == (f"layer1.0: {words}", f"layer1.1: {words}")


@pytest.mark.parametrize(("name", "act"), [("Leaky", "LeakyReLU(0.1)"), ("Gelu", "GELU")])
def test_another_activation_is_named_with_its_parameters(name: str, act: str) -> None:
    """LeakyReLU's slope is read from torch's module (F.leaky_relu gets it by position, which
    the recorder does not keep). Catches a slope dropped, or the stem's activation missed."""
    mine, theirs = _small(getattr(M, name)), _small(M.ResNet18)
    words = f"{act} where resnet18 has ReLU"
    assert _described(mine, theirs, "layer1.0") == (f"layer1.0: {words}",)
    found = operation_departures(mine, theirs, SHAPE, "resnet18")
    assert found == tuple(Departure(words, where, True) for where in ["relu", *BLOCKS])


def test_conv_biases_are_named_with_the_parameters_they_add() -> None:
    """bias=True adds one parameter per output channel: the stem's conv1 8 (its width), each
    block's two 3x3 convs 2 x its width, so 8 + 2 x 2 x (8 + 16 + 32 + 64) = 488 in all, the
    difference in parameter counts. Catches a bias counted by its input channels, or the
    stem's conv missed."""
    mine, theirs = _small(M.ConvBias), _small(M.ResNet18)
    assert _described(mine, theirs, "layer2.0") == (
        "layer2.0: conv1 and conv2 have biases (+32 parameters) where resnet18's have none",
    )
    found = operation_departures(mine, theirs, SHAPE, "resnet18")
    assert found[0] == Departure(
        "conv1 has a bias (+8 parameters) where resnet18's has none", "conv1", True
    )
    assert [d.where for d in found[1:]] == BLOCKS
    added = sum(int(d.text.split("(+")[1].split(" ")[0].replace(",", "")) for d in found)
    params = sum(p.numel() for p in mine.parameters()) - sum(p.numel() for p in theirs.parameters())
    assert added == params == 488


def test_the_issue_s_conv1_bias_against_our_resnet18() -> None:
    """The issue's example, at full width against our own preset (a meta pass each): conv1 has
    64 output channels, so +64."""
    with torch.device("meta"):  # built without weights' values: a meta pass needs none
        mine = M.ConvBias()
    found = operation_departures(
        mine, build_model(resolve("resnet18"), "meta"), (1, 3, 224, 224), "resnet18"
    )
    assert found[0] == Departure(
        "conv1 has a bias (+64 parameters) where resnet18's has none", "conv1", True
    )


def test_an_in_place_relu_on_the_block_input_is_named_and_its_effect_judged() -> None:
    """On a signed input the in-place ReLU changes what the shortcut adds: it changes the
    function. In the whole network every block's input is a ReLU's output (the stem's through
    the max-pool, then each block's last ReLU), so there it changes nothing, and says so.
    Catches the non-negativity read after the pass (when the in-place call has made it so)."""
    mine, theirs = _small(M.InPlaceInput), _small(M.ResNet18)
    words = "an in-place ReLU on the block input changes the shortcut (the residual reads the modified tensor)"
    signed = (torch.randn(2, 8, 8, 8, generator=torch.Generator().manual_seed(2)),)
    block, ref_block = mine.get_submodule("layer1.0"), theirs.get_submodule("layer1.0")
    assert describe_departure("layer1.0", block, ref_block, signed, "resnet18") == (
        f"layer1.0: {words}",
    )
    found = operation_departures(mine, theirs, SHAPE, "resnet18")
    no_effect = "; no effect here: the block's input holds no negative value (a ReLU's output)"
    assert found == tuple(Departure(words + no_effect, where, False) for where in BLOCKS)
    with torch.no_grad():  # what the words claim: the same outputs on the same weights
        mine.load_state_dict(theirs.state_dict())
        x = torch.randn(SHAPE)
        assert torch.equal(mine.eval()(x), theirs.eval()(x))


POOL_MISTAKES = [
    ("AvgPoolStem", "maxpool", "an average pool in the stem where resnet18 has a max-pool",
     "an average pool where resnet18 has a max-pool", True),
    ("MaxPoolHead", "avgpool", "adaptive max-pooling in the head where resnet18 averages",
     "adaptive max-pooling where resnet18 averages", True),
    ("FixedPoolHead", "avgpool", "a fixed 1x1 average pool in the head where resnet18 pools adaptively to "
     "1x1: the same here, where the map is 1x1, but not at other input sizes",
     "a fixed 1x1 average pool where resnet18 pools adaptively to 1x1: the same here, where the map is "
     "1x1, but not at other input sizes", False),
]  # fmt: skip


@pytest.mark.parametrize(("name", "where", "words", "alone", "changes"), POOL_MISTAKES,
                         ids=[c[0] for c in POOL_MISTAKES])  # fmt: skip
def test_a_pooling_mistake_is_named_with_its_place(
    name: str, where: str, words: str, alone: str, changes: bool
) -> None:
    """The stem's and the head's pools: in the whole model the words say stem or head; asked
    about the pool alone, they do not guess. A fixed pool whose window covers the whole map
    (1x1 at 32x32 with these widths: 32 / 32) computes what the adaptive one does, here only.
    Catches an average pool described as the max-pool absent (what identify says today), and
    adaptive max-pooling as no pooling."""
    kwargs = {"pool": 1} if name == "FixedPoolHead" else {}
    mine, theirs = _small(getattr(M, name), **kwargs), _small(M.ResNet18)
    assert _described(mine, theirs, where) == (f"{where}: {alone}",)
    assert _described(mine, theirs, "") == (f"{where}: {words}",)
    assert operation_departures(mine, theirs, SHAPE, "resnet18") == (
        Departure(words, where, changes),
    )


def test_dropout_is_named_as_not_changing_the_eval_function() -> None:
    """nn.Dropout(0.2) after the stem's max-pool: nothing in eval mode, so marked so."""
    mine, theirs = _small(M.DropoutStem), _small(M.ResNet18)
    words = "dropout (p=0.2) after maxpool (no effect in eval; it changes training)"
    assert operation_departures(mine, theirs, SHAPE, "resnet18") == (
        Departure(words, "dropout", False),
    )
    assert _described(mine, theirs, "") == (f"dropout: {words}",)


def test_view_instead_of_flatten_is_named_as_the_same_function() -> None:
    """x.view(x.size(0), -1) in the model's own forward: the words go to the model ("")."""
    mine, theirs = _small(M.ViewHead), _small(M.ResNet18)
    (found,) = operation_departures(mine, theirs, SHAPE, "resnet18")
    assert found.where == "" and not found.changes_function
    assert found.text.startswith(
        "x.view (or reshape) where resnet18 calls torch.flatten: the same values"
    )


def test_a_shared_relu_is_named_with_what_it_affects() -> None:
    """One ReLU module registered in the stem and in all 8 blocks: 9 places. Stateless, so the
    same function; what it changes is named (hooks, statistics, quantisation). Catches sharing
    missed because named_modules() lists a module once."""
    mine, theirs = _small(M.SharedRelu), _small(M.ResNet18)
    (found,) = operation_departures(mine, theirs, SHAPE, "resnet18")
    assert found.where == "relu" and not found.changes_function
    assert found.text.startswith(
        "one ReLU module at 9 places (relu, layer1.0.relu, layer1.1.relu and 6 more)"
    )
    assert "hooks" in found.text and "quantisation" in found.text
    assert _described(mine, theirs, "layer1.0") == ()  # one block alone shares nothing


def test_a_shared_module_with_weights_is_named_as_tying_them() -> None:
    """A BatchNorm shared by two blocks ties its 2 x 16 = 32 parameters: a different function."""
    mine, theirs = _small(M.ResNet18), _small(M.ResNet18)
    mine.layer2[1].bn2 = mine.layer2[0].bn2
    (found,) = operation_departures(mine, theirs, SHAPE, "resnet18")
    assert found == Departure(
        "one BatchNorm2d module at 2 places (layer2.0.bn2 and layer2.1.bn2): its 32 parameters are tied, "
        "where resnet18 has a BatchNorm2d of its own at each place", "layer2.0.bn2", True)  # fmt: skip


@pytest.mark.parametrize("name", ["ResNet18", "FunctionalRelu", "ShortcutFirst"])
def test_the_correct_model_gives_no_departure(name: str) -> None:
    """The correct network, and the same one calling F.relu in its forward instead of ReLU
    modules or summing the shortcut first, against the correct one: nothing to say. Catches
    words from names or modules rather than the operations run, and the branch taken to be
    the sum's first operand."""
    mine, theirs = _small(getattr(M, name)), _small(M.ResNet18)
    assert operation_departures(mine, theirs, SHAPE, "resnet18") == ()
    assert _described(mine, theirs, "") == ()
    assert _described(mine, theirs, "layer2.0") == ()


def test_the_hand_written_resnet18_is_our_resnet18() -> None:
    """At full width against our preset (other module names in the blocks: relu1, relu2): the
    same operations, and 11,689,512 parameters, torchvision's resnet18 count (its docs'
    "Params" column)."""
    ours = build_model(resolve("resnet18"), "meta")
    with torch.device("meta"):
        mine = M.ResNet18()
    assert (
        sum(p.numel() for p in mine.parameters())
        == sum(p.numel() for p in ours.parameters())
        == 11_689_512
    )
    assert operation_departures(mine, ours, (1, 3, 224, 224), "resnet18") == ()


def test_renamed_and_re_nested_resnet18_gives_no_departure() -> None:
    """seed_style.Renamed18: resnet18 as entry, body.N.M, classifier. The units are found by
    their sums, not their names."""
    seeds = _load("seed_style")
    with torch.device("meta"):
        mine = seeds.Renamed18()
    assert (
        operation_departures(
            mine, build_model(resolve("resnet18"), "meta"), (1, 3, 64, 64), "resnet18"
        )
        == ()
    )


def test_seed_000_s_resnet50_names_the_v1_stride_and_the_fixed_pool() -> None:
    """The stride on the bottleneck's first 1x1 (the paper's v1) where resnet50 (v1.5) strides
    the 3x3, in the three downsampling blocks; AvgPool2d(7) the same as the adaptive pool at
    224x224 (a 7x7 map), so marked as not changing the function."""
    seeds = _load("seed_style")
    with torch.device("meta"):
        mine = seeds.ResNet50V1()
    found = operation_departures(
        mine, build_model(resolve("resnet50"), "meta"), (1, 3, 224, 224), "resnet50"
    )
    stride = "the stride 2 is on conv1, the branch's 1st conv, where resnet50 strides its 2nd"
    pool = ("a fixed 7x7 average pool in the head where resnet50 pools adaptively to 1x1: the same here, "
            "where the map is 7x7, but not at other input sizes")  # fmt: skip
    assert found == (
        *(Departure(stride, w, True) for w in DOWNSAMPLING),
        Departure(pool, "avgpool", False),
    )


def test_the_branch_subtracted_from_the_shortcut_is_told_from_the_reverse() -> None:
    """``identity - out``: the branch (the operand with the convs) is the one subtracted."""

    class Reversed(M.BasicBlock):  # type: ignore[misc, name-defined]
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(x - out)

    x = (torch.randn(2, 8, 8, 8),)
    assert describe_departure("layer1.0", Reversed(8, 8), M.BasicBlock(8, 8), x, "resnet18") == (
        "layer1.0: the branch is subtracted from the shortcut where resnet18 adds it",
    )


def test_a_forward_that_reads_values_is_compared_on_a_real_input() -> None:
    """The meta device cannot run ``if x.mean() > -1`` (no values): the pass falls back to a
    seeded CPU input instead of saying nothing. Catches the fallback dropped."""

    class Branchy(M.ReluBeforeSum):  # type: ignore[misc, name-defined]
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.mean() > -1:
                x = self.features(x)
            return self.fc(torch.flatten(self.avgpool(x), 1))

    found = operation_departures(_small(Branchy), _small(M.ResNet18), SHAPE, "resnet18")
    assert [d.where for d in found] == BLOCKS


def test_a_missing_shortcut_is_named() -> None:
    """A block that returns its branch alone has no residual sum to read: said so."""

    class Plain(M.BasicBlock):  # type: ignore[misc, name-defined]
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))

    mine, theirs = Plain(8, 8), M.BasicBlock(8, 8)
    x = (torch.randn(2, 8, 8, 8),)
    assert describe_departure("layer1.0", mine, theirs, x, "resnet18") == (
        "layer1.0: no residual sum: the output is the branch alone (resnet18 adds a shortcut)",
    )


def test_user_text_in_the_words_is_escaped() -> None:
    """Module names and class names come from user code: a name with an escape sequence (which
    would clear a terminal) or a bidi override is written as Python writes it in a repr,
    never raw. Catches a name put into the words as it is."""
    hostile = "re\x1b[2J\u202elu"
    act = type("Act\x1b]0;owned\x07", (nn.ReLU,), {})()
    mine, theirs = _small(M.ResNet18), _small(M.ResNet18)
    for block in (mine.get_submodule(b) for b in BLOCKS):
        del block.relu
        block.add_module(hostile, act)
        block.relu = act  # the forward's self.relu: one module under two names in each block
    found = operation_departures(mine, theirs, SHAPE, "resnet\x1b18")
    text = " ".join(d.text + d.where for d in found)
    assert found and text.isprintable()
    assert (
        "re\\x1b[2J\\u202elu" in text
        and "Act\\x1b]0;owned\\x07" in text
        and "resnet\\x1b18" in text
    )
    swapped = _small(M.AvgPoolStem)
    swapped.add_module("pool\x1b", swapped.maxpool)
    del swapped.maxpool
    swapped.maxpool = swapped.get_submodule("pool\x1b")
    words = _described(swapped, theirs, "")
    assert words and all(w.isprintable() for w in words) and "pool\\x1b" in words[0]


# --- where the alignment parts (parting_departure) --------------------------------------------
def _parting(reference: nn.Module, mine: nn.Module, name: str = "resnet18") -> Any:
    from resnet_inspect.equivalence.align import align
    from resnet_inspect.equivalence.parting import parting_departure

    return parting_departure(align(reference, mine, SHAPE), name)


def test_a_layer_on_one_side_only_is_named_where_the_sequences_part() -> None:
    """MissingBn: the user's sequence goes from layer1.0.conv2 to layer1.1.conv1 where the
    reference runs layer1.0.bn2. By hand: resnet18 has 5 BatchNorm2d of the first width (the
    stem's bn1, bn1 and bn2 of layer1.0 and layer1.1), MissingBn 3 (no bn2). The other way
    round, the same layer is one the user's side has. Catches the place taken from the
    reference's next call (layer1.1) or the counts swapped."""
    p = _parting(_small(M.ResNet18), _small(M.MissingBn))
    assert p.departure == Departure("no BatchNorm after conv2 (resnet18 has bn2)", "layer1.0", True, "norm")
    assert p.basis == ("a parametrised layer on one side only: resnet18's layer1.0.bn2 (BatchNorm2d, weight 8); "
                       "resnet18 makes 5 BatchNorm2d calls of weight 8, it 3")  # fmt: skip
    back = _parting(_small(M.MissingBn), _small(M.ResNet18), "A")
    assert back.departure == Departure("a BatchNorm (bn2) after conv2 where A has none", "layer1.0", True, "norm")
    assert back.basis.endswith("A makes 3 BatchNorm2d calls of weight 8, it 5")


def test_a_norm_folded_into_a_biased_conv_is_not_called_a_different_function() -> None:
    """FoldedBn: conv2 with a bias and no BN is how a deployed model folds bn2 (eval mode:
    a per-channel scale and shift, which the conv's weight and bias absorb). Catches a
    missing BN always claimed to change the function."""
    p = _parting(_small(M.ResNet18), _small(M.FoldedBn))
    assert p.departure.where == "layer1.0" and p.departure.changes_function is False
    assert p.departure.text.startswith("no BatchNorm after conv2 (resnet18 has bn2); conv2 has a bias")


def test_a_different_order_is_no_layer_on_one_side() -> None:
    """BnAfterSum runs the same layers (bn2 after the sum: as many norms of each shape), so
    the sequences part by order at layer2.0: no call is one side's only. Catches a parting
    read as a missing layer without counting."""
    assert _parting(_small(M.ResNet18), _small(M.BnAfterSum)) is None
    assert _parting(_small(M.BnAfterSum), _small(M.ResNet18)) is None


# --- an activation's parameters from the call itself ------------------------------------------
def test_a_functional_leaky_relu_s_slope_is_read_by_position_and_keyword() -> None:
    """FunctionalLeaky calls F.leaky_relu(x, 0.1) (the slope by position) and then
    F.leaky_relu(..., negative_slope=0.1): the recorder keeps neither for a function it has no
    cost rule for. Catches the slope dropped ("LeakyReLU where resnet18 has ReLU") or read as
    torch's default 0.01; the stem keeps its ReLU module, so no word there."""
    mine, theirs = _small(M.FunctionalLeaky), _small(M.ResNet18)
    words = "LeakyReLU(0.1) where resnet18 has ReLU"
    assert _described(mine, theirs, "layer1.0") == (f"layer1.0: {words}",)
    found = operation_departures(mine, theirs, SHAPE, "resnet18")
    assert found == tuple(Departure(words, where, True) for where in BLOCKS)


def test_elu_alpha_and_hardtanh_bounds_are_read_by_position() -> None:
    """F.elu(x, 0.5) and F.hardtanh(x, 0.0, 6.0): alpha and both bounds, in the order of the
    function's signature. Catches a parameter read from the wrong position (min for max)."""
    mine, theirs = _small(M.FunctionalElu), _small(M.ResNet18)
    assert _described(mine, theirs, "layer2.0") == (
        "layer2.0: ELU(0.5) where resnet18 has ReLU",
        "layer2.0: Hardtanh(0, 6) where resnet18 has ReLU",
    )
